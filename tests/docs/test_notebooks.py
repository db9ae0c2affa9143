"""The teaching notebooks (notebooks/*.py, jupytext percent format) run top to bottom.

Each is converted with jupytext and executed with nbclient on the python3 kernel (a time
limit per cell), in a temporary working directory. A failing cell raises
``CellExecutionError`` with the traceback; besides that the test checks that no cell produced
an error output, that the first code cell is the tagged ``parameters`` cell students edit, and
that the last code cell displayed a figure (an image/png output).
"""
import os
import time
from pathlib import Path

import ipykernel  # noqa: F401  (the python3 kernel the notebooks run on; a test extra)
import jupytext
import nbclient
import pytest

NB_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(p for p in NB_DIR.glob("[0-9][0-9]_*.py"))
CELL_TIMEOUT = 60          # seconds per cell; the notebooks take a few seconds in all


def test_notebooks_present():
    names = [p.name for p in NOTEBOOKS]
    for want in ("01_formats_and_rounding.py", "02_stochastic_rounding_and_random_bits.py",
                 "03_integer_datapath.py", "04_gradient_descent_fixed_point.py"):
        assert want in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_ends_in_a_figure(path, tmp_path, monkeypatch):
    nb = jupytext.read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "no code cells"
    assert "parameters" in code[0].metadata.get("tags", []), \
        "the first code cell should be the tagged 'parameters' cell"
    assert any(c.cell_type == "markdown" for c in nb.cells)
    monkeypatch.delenv("MPLBACKEND", raising=False)         # the notebooks use the inline backend
    t0 = time.perf_counter()
    nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    seconds = time.perf_counter() - t0
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    last = code[-1].get("outputs", [])
    assert any("image/png" in o.get("data", {}) for o in last), \
        f"the last code cell of {path.name} shows no figure"
    print(f"{path.name}: {seconds:.1f} s")
