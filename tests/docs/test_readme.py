"""Every ```python block of README.md and of the study write-ups (docs/studies/*.md) runs, in
order, sharing one namespace per file, so the tour and the examples the docs show cannot rot.
The numbers in the blocks' comments are checked by the doctests they are copied from
(fxsim/__init__.py) and by the studies' own tests."""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs" / "studies").glob("*.md"))]


def blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_readme_has_python_blocks():
    assert len(blocks(ROOT / "README.md")) >= 4


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_python_blocks_run(path, tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "docs"}
    for i, code in enumerate(blocks(path)):
        try:
            exec(compile(code, f"{path.name} python block {i}", "exec"), ns)
        except Exception as e:
            pytest.fail(f"{path.name} python block {i} failed: {type(e).__name__}: {e}\n{code}")
