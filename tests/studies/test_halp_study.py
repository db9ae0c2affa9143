"""The HALP study's verdicts and options (fxsim/studies/halp.py, issue 15 points 5, 6, 9).

The README's claims about the study, checked on a short fixed-seed run of linear regression
(14 epochs, a few seconds): LP-SVRG stalls at ≥ ½ LSB RMS per weight, HALP keeps SVRG's rate, ends
≥ 10⁴ below LP-SVRG's plateau, never saturates z, and the integer inner loop converges too.
The rates are recomputed here from the per-epoch errors with numpy's polyfit.
"""
import numpy as np
import pytest

from fxsim import cli
from fxsim.studies import halp


@pytest.fixture(scope="module")
def linreg_run(tmp_path_factory):
    return halp.run(str(tmp_path_factory.mktemp("halp")), progress=False, problems=["linreg"],
                    epochs={"linreg": 14})


def test_every_readme_claim_holds_on_linear_regression(linreg_run):
    vs = linreg_run.verdicts
    assert len(vs) == 2 * 5
    assert all(v["held"] is True for v in vs), [v for v in vs if v["held"] is not True]


def test_halp_rate_recomputed_from_the_trace(linreg_run):
    import csv
    rows = list(csv.DictReader(open(linreg_run.files["runs_csv"])))
    err = {}
    for r in rows:
        err.setdefault((r["method"], r["b"]), []).append(float(r["err"]))
    for b in ("8", "16"):
        e = np.array(err["HALP-pow2", b])
        k = np.arange(1, 9)                       # the linear phase, far above float64's floor
        slope = np.polyfit(k, np.log10(e[k]), 1)[0]
        sv = np.array(err["SVRG", ""])
        slope_sv = np.polyfit(k, np.log10(sv[k]), 1)[0]
        assert slope < 0 and slope <= slope_sv / 1.5, (b, slope, slope_sv)


def test_quick_leaves_the_epoch_bound_claim_undecided(linreg_run):
    vs = halp.verdicts(linreg_run.rows, quick=True)
    assert [v["held"] for v in vs if "10⁴" in v["claim"]] == [None, None]


def test_cli_passes_source_and_problems(monkeypatch, tmp_path):
    seen = {}

    def fake_run(out, **kw):
        seen.update(kw)
        return {"markdown": "t", "seconds": 0.0, "files": {"md": "a.md", "csv": "a.csv"}}
    monkeypatch.setattr(halp, "run", fake_run)
    assert cli.main(["halp-study", "--out", str(tmp_path), "--source", "lfsr:16",
                     "--problems", "digits", "--no-progress"]) == 0
    assert seen["source"] == "lfsr:16" and seen["problems"] == ["digits"]


@pytest.mark.parametrize("opt, bad", [("--source", "nonsense"), ("--problems", "mnist")])
def test_cli_refuses_bad_options(opt, bad, capsys, tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["halp-study", "--out", str(tmp_path), opt, bad])
    assert opt in capsys.readouterr().err
