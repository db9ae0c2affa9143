"""``fxsim unfolded-study`` (fxsim/studies/unfolded.py) on a tiny preset: its files, tables and
figure, results independent of the worker count, the sub-command's registration; the rate
fit against a closed form."""
import csv
import os

import numpy as np
import pytest

U = pytest.importorskip("fxsim.studies.unfolded")
from fxsim.cli import main  # noqa: E402

TINY = dict(widths=(8,), Ts=(2, 4), seeds=1, epochs=40, fx_width=8, fx_T=2, fx_seeds=1,
            fx_epochs=6, fx_Ts=(2, 4), fx_T_epochs=6)


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    out = tmp_path_factory.mktemp("unf")
    return U.run(str(out), progress=False, workers=1, preset=TINY), out


def test_files_tables_and_figure(res):
    r, out = res
    for name in ("unfolded_study.csv", "unfolded_study_runs.csv", "unfolded_study.md",
                 "unfolded_study.png"):
        assert os.path.getsize(out / name) > 0
    with open(out / "unfolded_study_runs.csv") as fh:
        rows = list(csv.DictReader(fh))
    # (a): 3 networks x 1 width x 2 T; (b): 4 strategies x 2 sources at T = 2, RN and SR at T = 4
    assert len(rows) == 6 + 8 + 2
    md = open(out / "unfolded_study.md").read()
    for part in ("## (a) float64", "## Empirical sample threshold", "## (b, c) LISTA on the datapath"):
        assert part in md
    assert {s["network"] for s in r.summary} == {"lista", "admm", "ffnn"}
    for row in r.rows:
        assert row["final_loss"] < row["loss0"]          # every run trains
        assert 0 < row["test_err"] < 10
    # the parameter counts of the networks (K = 3, m = 8, n = 8)
    params = {row["network"]: row["params"] for row in r.rows if row["part"] == "a"}
    assert params == {"lista": 3 * 64 + 2 * 64, "admm": 3 * 64 + 2 * 64, "ffnn": 64 + 2 * 64}


def test_rows_do_not_depend_on_workers(res):
    from fxsim.studies._report import run_jobs
    r, _ = res
    jobs = U.jobs_for(TINY, 0)
    pick = [0, 3, 7, len(jobs) - 1]            # float and datapath jobs
    rows = [out[0] for out in run_jobs(U._job, [jobs[i] for i in pick], workers=2)]
    assert [row["final_loss"] for row in rows] == [r.rows[i]["final_loss"] for i in pick]


def test_rate_fit_closed_form():
    loss = 2.0 * 0.9 ** np.arange(300)
    assert U._rate(loss, tol=1e-9) == pytest.approx(0.9, rel=1e-9)
    assert U._rate(np.ones(50)) is None           # never falls to 1 % of the start


def test_subcommand_registered(capsys):
    with pytest.raises(SystemExit) as e:
        main(["unfolded-study", "--help"])
    assert e.value.code == 0
    assert "--quick" in capsys.readouterr().out
