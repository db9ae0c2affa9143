"""LFSR vs ideal bits for float SR (issue 17 point 3, ``compare_rng.floats``): the bias against
an exhaustive count over all draws, the binade-split accumulation against the per-step
recurrence and against ml_dtypes / a Fraction model of §9.2, and the qualitative findings on
small fixed-seed runs."""
import math
from fractions import Fraction

import numpy as np
import pytest

import fxsim
from fxsim.studies.compare_rng import floats as fl
from fxsim.studies.compare_rng.measure import IDEAL, SourceSpec

BF16 = fxsim.FloatFormat.parse("bf16")


@pytest.mark.parametrize("rule", fl.RULES)
@pytest.mark.parametrize("r", [1, 3, 5])
def test_predicted_bias_is_the_mean_over_every_draw(rule, r):
    """Every r-bit draw once per input: the mean error is exactly the closed form."""
    x, k = fl._bias_inputs(BF16, 6, seed=4)
    n = 1 << r
    X = np.repeat(x, n)
    D = np.tile(np.arange(n, dtype=np.uint64), len(x))
    y = fxsim.cast(X, BF16, "stochastic", r=r, sr_rule=rule, draws=D).to_float()
    u = 2.0**-BF16.man_bits
    got = sum(Fraction(float(v)) - Fraction(float(w)) for v, w in zip(y, X)) / (len(X) * Fraction(u))
    assert got == fl.predicted_float_bias(k, r, rule)


def test_bias_rows_are_near_the_closed_form():
    rows = fl.float_bias([IDEAL, SourceSpec("lfsr", 16, "galois", "serial")], ("bf16", "e4m3"),
                         rs=(2, 8), n_inputs=16, reps=512)
    assert len(rows) == 2 * 2 * 3 * 2
    assert all(abs(r["z"]) < 5 for r in rows)


def _ml_bf16_rn(inc, steps):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    s, out = 0.0, []
    for j in range(steps):
        s = float(ml_dtypes.bfloat16(s + inc[j]))
        out.append(s)
    return np.array(out)


def test_round_to_nearest_accumulation_matches_ml_dtypes():
    inc = fl.float_increments("iid", 2000, seed=1)       # RN stalls after ~300 steps
    a = fl.accumulate_float(inc, BF16, "nearest_even")
    assert np.array_equal(a[:, 0], _ml_bf16_rn(inc, 2000))


def _fraction_sr_bf16(s, inc, R, r):
    """§9.2, trunc rule, one value: s + inc rounded into bf16 with draw R (Fractions)."""
    v = Fraction(s) + Fraction(inc)
    e = math.floor(math.log2(v))
    u = Fraction(2) ** (e - BF16.man_bits)
    q = v // u
    phi = v / u - q
    up = math.floor(phi * 2**r) + R >= 2**r
    return float((q + up) * u)


def test_sr_accumulation_matches_a_fraction_model_and_the_recurrence():
    inc = fl.float_increments("period15", 1500, seed=2)
    d = fxsim.make_source("lfsr:16:galois:serial", seed=3).draws(2 * 1500, 16)
    a = fl.accumulate_float(inc, BF16, "stochastic", 16, "trunc", d, replicas=2)
    b = fl.accumulate_float_steps(inc, BF16, "stochastic", 16, "trunc", d, replicas=2)
    assert np.array_equal(a, b)
    s = 0.0
    for j in range(1500):
        s = _fraction_sr_bf16(s, inc[j], int(d[2 * j + 1]), 16)
        assert s == a[j, 1]


@pytest.mark.parametrize("rule", ["half", "rne"])
def test_split_accumulation_other_rules_and_fp16(rule):
    fp16 = fxsim.FloatFormat.parse("fp16")
    inc = fl.float_increments("iid", 3000, seed=5)
    d = fxsim.make_source("pcg64", seed=6).draws(3000, 8)
    for F in (BF16, fp16):
        a = fl.accumulate_float(inc, F, "stochastic", 8, rule, d)
        b = fl.accumulate_float_steps(inc, F, "stochastic", 8, rule, d, steps=600)
        assert np.array_equal(a[:600], b)


def test_accumulation_findings_small_run():
    cfgs = [("nearest_even", None, None), ("stochastic", 16, IDEAL),
            ("stochastic", 16, SourceSpec("lfsr", 16, "galois", "serial"))]
    rows = fl.float_accumulation(steps=20000, replicas=2, check_steps=50, streams=("iid",),
                                 configs=cfgs)
    ratio = {r["source"]: r["value"] for r in rows if r["metric"] == "final_over_exact"}
    assert ratio["round-to-nearest"] < 0.05
    assert abs(ratio["SR r=16, ideal PCG64"] - 1) < 0.1
    assert abs(ratio["SR r=16, LFSR16 gal serial x1"] - 1) < 0.1
    assert all(r["value"] == 1.0 for r in rows if r["metric"] == "recurrence_match")


def test_eight_bit_sr_stalls_at_the_predicted_point():
    """Start above the stall point: 8-bit SR (trunc) never moves, 16-bit SR does."""
    inc = fl.float_increments("iid", 400, seed=7)
    p = fl.stall_point(BF16, float(inc.max()), 8)
    d = fxsim.make_source("pcg64", seed=8).draws(400, 16)
    s8 = s16 = p
    for j in range(400):
        s8 = fxsim.cast([s8 + inc[j]], BF16, "stochastic", r=8, draws=d[j:j + 1] >> np.uint64(8)).to_float()[0]
        s16 = fxsim.cast([s16 + inc[j]], BF16, "stochastic", r=16, draws=d[j:j + 1]).to_float()[0]
    assert s8 == p and s16 > p
    # and one binade lower it still moves (the stall point is the first such binade)
    assert fl.stall_point(BF16, float(inc.max()), 8) / 2 * 2.0**-BF16.man_bits * 2.0**-8 <= inc.max()


def test_dot_products_sr_beats_rn_on_positive_inputs():
    cfgs = [("nearest_even", None, None), ("stochastic", 16, IDEAL)]
    rows = fl.float_dot(ks=(512,), reps=16, accs=("bf16",), dists=("positive",), configs=cfgs)
    err = {r["source"]: r["value"] for r in rows}
    assert err["SR r=16, ideal PCG64"] < 0.5 * err["round-to-nearest"]


def test_run_floats_writes_files_and_verdicts(tmp_path, monkeypatch):
    monkeypatch.setitem(fl.FLOAT_PRESETS, "quick", dict(
        bias_inputs=4, bias_reps=64, rs=(2,), acc_steps=2000, replicas=2, check_steps=20,
        dot_k=(32,), dot_reps=4))
    lfsr8 = SourceSpec("lfsr", 8, "galois", "serial")
    monkeypatch.setattr(fl, "float_sources", lambda: [IDEAL, lfsr8])
    monkeypatch.setattr(fl, "acc_configs", lambda: [("nearest_even", None, None),
                                                    ("stochastic", 16, IDEAL), ("stochastic", 8, lfsr8)])
    monkeypatch.setattr(fl, "dot_configs", lambda: [("nearest_even", None, None), ("stochastic", 16, IDEAL)])
    res = fl.run_floats(tmp_path, quick=True, progress=False)
    assert sorted(res.files) == ["csv", "floats_png", "md"]
    assert res.verdicts and "## Verdicts" in open(res.files["md"]).read()
