"""The studies' grids on the sweeps' runner (issue 20 point 3): ``_report.run_jobs`` runs on
``fxsim.sweep.jobs.map_jobs``, so a study's table is the same in this process, on a 1-worker
and on a 2-worker Dask cluster, and ``--scheduler ADDRESS`` (one option of every study) sends
its jobs to an existing cluster.

The study is the amplification sweep (a small grid: two step sizes, round-to-nearest and SR,
seeds in the jobs); its CSV table is compared byte for byte, and the per-iteration curves
element for element."""
import numpy as np
import pytest

pytest.importorskip("distributed")

import fxsim  # noqa: E402
from fxsim.studies import _report, amplification as amp, jobs_on  # noqa: E402
from fxsim.sweep.jobs import dask_client  # noqa: E402

GRID = dict(lrs=[0.25, 1.25], wds=[0.0], strategies=["round-to-nearest", "SR, LFSR n=16"], n_iters=12,
            n_samples=64, seed=5)


@pytest.fixture(scope="module")
def serial_rows():
    n = fxsim.get_num_threads()
    try:
        return amp.sweep(workers=1, **GRID)
    finally:
        fxsim.set_num_threads(n)


def _table(rows, path):
    _report.write_csv(rows, path, amp.COLUMNS, float_format="{!r}")
    return path.read_bytes()


def _same(a, b, tmp_path):
    assert _table(a, tmp_path / "a.csv") == _table(b, tmp_path / "b.csv")
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x["l2"], y["l2"])


def test_the_serial_table_has_one_row_per_cell_in_job_order(serial_rows):
    cells = [(r["strategy"], r["lr"]) for r in serial_rows]
    assert cells == [(s, lr) for s in GRID["strategies"] for lr in GRID["lrs"]]
    assert all(len(r["l2"]) == GRID["n_iters"] + 1 for r in serial_rows)


def test_a_study_table_is_identical_on_a_one_worker_dask_cluster(serial_rows, tmp_path):
    with dask_client(workers=1) as client:
        assert len(client.nthreads()) == 1
        with jobs_on(client.scheduler.address):
            rows = amp.sweep(workers=2, **GRID)     # the scheduler wins over workers=2
    _same(serial_rows, rows, tmp_path)


def test_a_local_two_worker_run_is_identical(serial_rows, tmp_path):
    _same(serial_rows, amp.sweep(workers=2, **GRID), tmp_path)


def test_a_job_error_reaches_the_caller_from_a_cluster():
    with pytest.raises(ValueError, match="x: must be >= 0"):
        _report.run_jobs(_square_or_fail, [1, -2, 3], workers=2)


def _square_or_fail(x):
    if x < 0:
        raise ValueError(f"x: must be >= 0, got {x}")
    return x * x


def test_every_study_takes_scheduler_and_runs_inside_it(monkeypatch, tmp_path):
    """``fxsim <study> --scheduler ADDRESS`` runs the study inside ``jobs_on(ADDRESS)``."""
    import argparse
    import importlib
    from fxsim import cli
    sub = argparse.ArgumentParser(prog="fxsim").add_subparsers(dest="cmd")
    for name in cli.STUDY_MODULES:
        p = importlib.import_module(name).add_cli(sub)
        assert p.parse_args(["--scheduler", "tcp://h:1"]).scheduler == "tcp://h:1", name
    seen = {}

    def fake_run(out, quick, seed, progress, copy_figures_to, workers, **options):
        seen["scheduler"] = _report.study_scheduler()
        return {"markdown": "t", "seconds": 0.0, "files": {"md": "a.md", "csv": "a.csv"}}

    monkeypatch.setattr(amp, "run", fake_run)
    assert cli.main(["amplification-study", "--out", str(tmp_path), "--no-progress",
                     "--scheduler", "tcp://10.0.0.1:8786"]) == 0
    assert seen == {"scheduler": "tcp://10.0.0.1:8786"}
    assert _report.study_scheduler() is None
