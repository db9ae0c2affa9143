"""The README's RTL section runs as written (issue 21 point 5): every ```sh block of
"## Test vectors for your RTL" runs with bash -e in a fresh folder holding the repository's
rtl/ (fxsim as `python -m fxsim`), the ```py cocotb test it shows is the test_sr.py the runner
block runs, and the outputs the text quotes are checked.  The Verilator block runs only with
-m slow (a build takes ~10 s of CPU) and where verilator is installed."""
import importlib.util
import os
import re
import shutil
import subprocess
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(_HERE))
sys.path.insert(0, _HERE)
from rtl_sim import requires_iverilog  # noqa: E402


def section():
    text = open(os.path.join(ROOT, "README.md")).read()
    start = text.index("## Test vectors for your RTL")
    return text[start:text.index("\n## ", start + 10)]


def blocks(kind):
    return re.findall(rf"```{kind}\n(.*?)```", section(), flags=re.S)


def run(block, cwd):
    fx = f'fxsim() {{ "{sys.executable}" -m fxsim "$@"; }}\npython() {{ "{sys.executable}" "$@"; }}\n'
    res = subprocess.run(["bash", "-e", "-c", fx + block], cwd=cwd, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, f"{block}\n--- stdout\n{res.stdout}\n--- stderr\n{res.stderr}"
    return res.stdout


def test_section_has_the_flow():
    sh = blocks("sh")
    assert len(sh) == 7 and len(blocks("py")) == 1
    assert not any("-P" in b for b in sh[:1]) and "--bench" not in sh[0]     # bench files by default


@requires_iverilog
@pytest.mark.rtl
def test_readme_rtl_commands_run(tmp_path):
    os.symlink(os.path.join(ROOT, "rtl"), tmp_path / "rtl")
    sh = blocks("sh")
    out = run(sh[0], tmp_path)                                   # export -> iverilog -> vvp -> check
    assert "y: all 10000 words match" in out
    out = run(sh[1], tmp_path)                                   # compiled for R = 16
    assert "the bench was compiled for R = 16, the folder's params.vh says R = 8" in out
    assert "exit 1" in out and "of 10000 words differ, first at index 3" in out
    out = run(sh[2], tmp_path)                                   # own LFSR, and the MAC
    assert out.count("all 10000 words match") == 2
    (tmp_path / "test_sr.py").write_text(blocks("py")[0])
    if importlib.util.find_spec("cocotb_tools") is not None:      # cocotb: the test extra
        run(sh[4], tmp_path)                                     # the cocotb test, under Icarus
        assert list((tmp_path / "sim_build").glob("*.xml"))          # cocotb's results file
    out = run(sh[5], tmp_path)                                   # rtl-gen
    assert "y: all 10000 words match" in out
    out = run(sh[6], tmp_path)                                   # float folder, both float benches
    assert out.count("y: all 10000 words match") == 2


@requires_iverilog
@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed")
def test_readme_verilator_block_runs(tmp_path):
    os.symlink(os.path.join(ROOT, "rtl"), tmp_path / "rtl")
    run(blocks("sh")[0], tmp_path)
    assert "y: all 10000 words match" in run(blocks("sh")[3], tmp_path)
