"""The studies' kit (``fxsim.studies._report``, issue 12 point 6): figures leave the process's
matplotlib backend alone, one job runner (results in job order whatever the worker count),
the finish step and the result type."""
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("matplotlib")
from fxsim.studies import _report  # noqa: E402

FIGURES = textwrap.dedent("""
    import os, sys, tempfile
    import matplotlib
    matplotlib.use("svg")                      # what a notebook or a GUI would have chosen
    import numpy as np
    from fxsim import QFormat
    from fxsim.studies import amplification, gd_rounding, samplers
    d = tempfile.mkdtemp()
    rows, curves = gd_rounding.run_job("quadratic_grid", QFormat(16, 8), "pcg64", 0, 1, 10)
    cv = {("quadratic_grid", "Q8.8", "pcg64", s): c for s, c in curves.items()}
    gd_rounding.plot_model(["quadratic_grid"], cv, gd_rounding.summarize(rows),
                           os.path.join(d, "gd.png"), "title")
    traj = [{"strategy": "round-to-nearest", "perturb": pert, "lr": 0.25, "wd": 0.1,
             "l2": np.array([1.0, 0.0])} for pert in ("lsb", "k3")]
    p = {"unstable": (1.25, 0.0), "stable": (0.25, 0.1)}
    amplification._plot_trajectories(traj, p, os.path.join(d, "amp.png"))
    grid = [{"strategy": "round-to-nearest", "lr": 0.25, "wd": 0.0, "max_l2": 3.0,
             "loss_a": 0.1, "loss_b": 0.1}]
    amplification._plot_heatmap(grid, [0.25], [0.0], 2.0, os.path.join(d, "sweep.png"))
    rows = [{"sampler": a, "variant": v, "fmt": f, "source": "ideal", "err": 0.1, "nll": 0.3}
            for a in ("SGLD", "SGHMC") for v in ("fp", "lpf", "lpl", "vc") for f in ("Q(6,4)", "Q(4,2)")]
    samplers._plot_c(rows, os.path.join(d, "c.png"))
    assert all(os.path.getsize(os.path.join(d, f)) > 1000 for f in os.listdir(d)), os.listdir(d)
    print(matplotlib.get_backend(), len(os.listdir(d)))
""")


def test_figures_leave_the_backend_alone():
    """A fresh process picks the svg backend, then draws the studies' figures: still svg
    (the figure functions used to call ``matplotlib.use("Agg")``)."""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    out = subprocess.run([sys.executable, "-c", FIGURES], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["svg", "4"]


def test_figure_has_its_own_canvas():
    import matplotlib
    before = matplotlib.get_backend()
    fig = _report.figure(3, 2)
    fig.subplots().plot([0, 1], [1, 0])
    assert type(fig.canvas).__name__ == "FigureCanvasAgg"
    assert matplotlib.get_backend() == before


def _square_or_fail(x):
    if x < 0:
        raise ValueError(f"x: must be >= 0, got {x}")
    return x * x


@pytest.mark.parametrize("workers", [1, 2])
def test_run_jobs_keeps_job_order(workers):
    bar = _report.make_progress(5, "t", enabled=False)
    labels = []
    out = _report.run_jobs(_square_or_fail, [3, 1, 4, 1, 5], workers=workers, bar=bar,
                           label=lambda j: labels.append(j) or str(j))
    assert out == [9, 1, 16, 1, 25]
    assert bar.done == 5 and sorted(labels) == [1, 1, 3, 4, 5]


@pytest.mark.parametrize("workers", [1, 2])
def test_run_jobs_passes_a_worker_error_on(workers):
    with pytest.raises(ValueError, match="x: must be >= 0"):
        _report.run_jobs(_square_or_fail, [1, -2, 3], workers=workers)


def test_finish_writes_the_markdown_and_copies_figures(tmp_path):
    png = _report.save_figure(_report.figure(4, 2), str(tmp_path / "a.png"))
    files = {"md": str(tmp_path / "s.md"), "csv": str(tmp_path / "s.csv"), "a_png": png}
    res = _report.finish("# title\n", files, 1.25, [{"x": 1}], str(tmp_path / "web"), extra=7)
    assert (tmp_path / "s.md").read_text() == "# title\n"
    assert os.path.exists(tmp_path / "web" / "a.png") and res.files["a_small_png"].endswith("a.png")
    assert res["rows"] == [{"x": 1}] and res.seconds == 1.25 and res.extra == 7
    assert isinstance(res, dict)
