"""The 1-LSB error-amplification study (fxsim/studies/amplification.py, issue 7 point 3).

Fixed seeds throughout (accelerator seed 0, the He init of seed 0, the first 256 digits).
References independent of the code under test: the start words are recomputed with numpy's
round-half-even of x0·2^16; the decay and 1/k casts are recomputed in exact Fraction
arithmetic; λ_max is checked against the closed-form eigenvalues of a quadratic.
"""
import math
from fractions import Fraction

import numpy as np
import pytest

import fxsim
from fxsim.studies import amplification as amp

STRATEGIES = list(amp.STRATEGIES)
UNSTABLE = (1.25, 0.0)      # beyond the edge of stability: t·λ_max(x0) ≈ 4.5 > 2
STABLE = (0.25, 0.1)        # t·(λ_max(x0) + wd) ≈ 0.92 < 2, strong decay


@pytest.fixture(scope="module")
def model():
    return amp.make_model(256)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = fxsim.get_num_threads()
    fxsim.set_num_threads(1)          # see amplification._job: faster on a shared machine
    yield
    fxsim.set_num_threads(n)


def test_start_differs_by_exactly_one_lsb_in_one_word(model):
    r = amp.pair_run(model, "round-to-nearest", *STABLE, perturb="lsb", n_iters=0)
    a = r["x0_a"].astype(np.int64)
    b = r["x0_b"].astype(np.int64)
    # run A starts at x0 rounded half-to-even to Q(24,16): numpy's rounding, not fxsim's
    assert np.array_equal(a, np.round(model.x0() * 2.0**16).astype(np.int64))
    diff = b - a
    (idx,) = np.nonzero(diff)
    assert idx.tolist() == [r["word"]] and diff[r["word"]] == 1
    assert r["word"] == int(np.argmax(np.abs(model.grad(a * 2.0**-16))))
    assert r["l2"].tolist() == [1.0] and r["linf"].tolist() == [1]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_unstable_setting_amplifies_one_lsb_by_orders_of_magnitude(model, strategy):
    r = amp.pair_run(model, strategy, *UNSTABLE, perturb="lsb", n_iters=60, record_loss=False)
    assert r["l2"][0] == 1.0
    assert r["l2"].max() >= 1e3, r["l2"].max()          # ≥ 10^3× the 1-LSB start
    assert r["linf"].max() >= 100


def test_stable_setting_keeps_round_to_nearest_runs_within_a_few_lsb(model):
    r = amp.pair_run(model, "round-to-nearest", *STABLE, perturb="lsb", n_iters=100,
                     record_loss=False)
    assert r["l2"].max() <= 16 and r["linf"].max() <= 16, (r["l2"].max(), r["linf"].max())


@pytest.mark.parametrize("strategy", STRATEGIES[1:])
def test_stable_setting_keeps_sr_runs_far_below_the_unstable_separation(model, strategy):
    # SR with one shared stream does not merge the runs as round-to-nearest does (measured
    # ~50-250 LSB), but stays three orders of magnitude below the unstable setting (~10^5)
    r = amp.pair_run(model, strategy, *STABLE, perturb="lsb", n_iters=100, record_loss=False)
    assert r["l2"].max() <= 1024 and r["rel"][-1] <= 2e-3


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_identical_starts_give_identical_trajectories(model, strategy):
    # the most sensitive setting: any randomness leaking between A and B would be amplified
    r = amp.pair_run(model, strategy, *UNSTABLE, perturb="none", n_iters=40, record_loss=False)
    assert not r["l2"].any() and np.array_equal(r["x_a"], r["x_b"])


def test_runs_are_deterministic(model):
    r1 = amp.pair_run(model, "SR, LFSR n=16", *UNSTABLE, perturb="lsb", n_iters=40,
                      record_loss=False)
    r2 = amp.pair_run(amp.make_model(256), "SR, LFSR n=16", *UNSTABLE, perturb="lsb",
                      n_iters=40, record_loss=False)
    assert np.array_equal(r1["l2"], r2["l2"]) and np.array_equal(r1["x_b"], r2["x_b"])
    s1 = amp.sweep([0.5], [0.01], ["SR, ideal bits (PCG64)"], n_iters=5, n_samples=64, workers=1)
    s2 = amp.sweep([0.5], [0.01], ["SR, ideal bits (PCG64)"], n_iters=5, n_samples=64, workers=2)
    assert np.array_equal(s1[0]["l2"], s2[0]["l2"])          # independent of the worker count


def _rne(q):
    """Round a Fraction half to even (independent of fxsim)."""
    f = math.floor(q)
    d = q - f
    return f + (1 if d > Fraction(1, 2) or (d == Fraction(1, 2) and f % 2) else 0)


def test_decay_and_one_over_k_casts_match_exact_arithmetic(model):
    acc = amp.make_accelerator("round-to-nearest")
    dm = amp.DecayedModel(model, wd=0.03, k=3)
    xq = fxsim.cast(model.x0(), amp.FMT)
    got = dm.fx_grad(xq, acc).raw.astype(np.int64)
    g = model.fx_grad(xq, acc).raw.astype(np.int64)       # the MLP's own gradient (tested elsewhere)
    wd_raw = round(0.03 * 2**16)                          # 1966: wd with 16 fraction bits
    ik_raw = round(2**16 / 3)                             # 21845: 1/3 with 16 fraction bits
    assert (int(dm.wd_q.raw), int(dm.inv_k.raw)) == (wd_raw, ik_raw)
    lo, hi = -(1 << 23), (1 << 23) - 1
    for i in range(0, model.dim, 7):
        gd = _rne(Fraction(int(g[i])) + Fraction(wd_raw * int(xq.raw[i]), 2**16))
        gd = min(max(gd, lo), hi)
        want = min(max(_rne(Fraction(gd * ik_raw, 2**16)), lo), hi)
        assert got[i] == want, i


def test_k3_update_differs_only_by_rounding(model):
    r = amp.pair_run(model, "round-to-nearest", *STABLE, perturb="k3", n_iters=1,
                     record_loss=False)
    assert r["l2"][0] == 0 and 0 < r["linf"][1] <= 2       # one step: at most 2 LSB per word


def test_lambda_max_matches_closed_form():
    from fxsim.models import Quadratic
    q = Quadratic(d=6, cond=7.0, seed=3)                   # eigenvalues log-spaced in [1, 7]
    assert abs(amp.lambda_max(q.grad, q.c + 0.3, iters=200) - 7.0) < 1e-5
    dm = amp.DecayedModel(q, wd=0.5)
    assert abs(amp.lambda_max(dm.grad, q.c, iters=200) - 7.5) < 1e-5


@pytest.mark.parametrize("kw, word", [
    (dict(lr=0.0), "lr"), (dict(lr=float("nan")), "lr"), (dict(perturb="ulp"), "perturb"),
    (dict(n_iters=-1), "n_iters"), (dict(wd=1.5), "wd"), (dict(strategy="RN"), "strategy")])
def test_bad_input_names_the_parameter(model, kw, word):
    args = dict(strategy="round-to-nearest", lr=0.5, wd=0.0, perturb="lsb", n_iters=0)
    args.update(kw)
    with pytest.raises(ValueError, match=word):
        amp.pair_run(model, **args)


def test_bad_constructor_input():
    with pytest.raises(ValueError, match="k"):
        amp.DecayedModel(amp.make_model(64), k=0)
    with pytest.raises(ValueError, match="n_samples"):
        amp.make_model(5)
    with pytest.raises(ValueError, match="seed"):
        amp.run("/tmp/unused", seed=-1)


def test_cli_registers_the_study(monkeypatch, tmp_path):
    from fxsim import cli
    assert "fxsim.studies.amplification" in cli.STUDY_MODULES
    seen, extra = {}, {}

    def fake_run(out, quick, seed, progress, copy_figures_to, workers, **kw):
        seen.update(out=out, quick=quick, seed=seed, workers=workers)
        extra.update(kw)
        return {"markdown": "table", "seconds": 0.0,
                "files": {"md": "a.md", "csv": "a.csv", "sweep_png": "a.png"}}

    monkeypatch.setattr(amp, "run", fake_run)
    assert cli.main(["amplification-study", "--quick", "--seed", "3", "--out",
                     str(tmp_path), "--workers", "1", "--no-progress"]) == 0
    assert seen == {"out": str(tmp_path), "quick": True, "seed": 3, "workers": 1}
    assert extra["formats"] == list(amp.FORMATS) or tuple(extra["formats"]) == amp.FORMATS


@pytest.mark.slow
def test_quick_study_writes_its_files(tmp_path):
    res = amp.run(str(tmp_path), quick=True, progress=False)
    for k in ("csv", "md", "trajectories_png", "sweep_png"):
        assert (tmp_path / res["files"][k].split("/")[-1]).exists()
    unstable = [r for r in res["rows"] if r["perturb"] == "lsb" and (r["lr"], r["wd"]) == UNSTABLE]
    assert min(r["max_l2"] for r in unstable) >= 1e3
