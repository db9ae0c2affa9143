"""GD in low-precision floats (issue 17 point 1, ``fxsim.studies.gd_float``): the arithmetic
against ml_dtypes, the round-to-nearest run against a plain numpy + ml_dtypes re-implementation,
the gradients against finite differences, and the study's qualitative findings on small
fixed-seed runs."""
import argparse

import numpy as np
import pytest

from fxsim.studies import gd_float as g
from fxsim.studies.chop import FloatUnit, IdentityUnit

ml_dtypes = pytest.importorskip("ml_dtypes")


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Small matrix products: BLAS threads only cost on a shared machine."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        yield
DT = {"e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2}


def _ml_round(x, fmt):
    """Round-to-nearest-even into ``fmt`` by ml_dtypes, saturating (the study's overflow)."""
    d = DT[fmt]
    top = float(ml_dtypes.finfo(d).max)
    return np.clip(np.asarray(x, np.float64), -top, top).astype(d).astype(np.float64)


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2"])
def test_unit_rounds_like_ml_dtypes(fmt):
    rng = np.random.default_rng(3)
    x = rng.normal(size=20000) * np.exp2(rng.integers(-20, 18, 20000))
    assert np.array_equal(FloatUnit(fmt).round(x), _ml_round(x, fmt))


def test_eight_bit_products_sums_and_fused_update_are_exact_in_float64():
    """So each of them is one correct rounding (the docs' claim): checked with Fractions."""
    from fractions import Fraction
    vals = np.unique(np.abs(FloatUnit("e4m3").round(np.linspace(-448, 448, 20001))))
    vals = np.concatenate([vals, -vals])
    rng = np.random.default_rng(0)
    a, b, c = (rng.choice(vals, 3000) for _ in range(3))
    t = 0.125
    for u, v, w in zip(a, b, c):
        assert Fraction(u) * Fraction(v) == Fraction(u * v)
        assert Fraction(u) + Fraction(v) == Fraction(u + v)
        assert Fraction(w) - Fraction(t) * Fraction(u) * Fraction(v) == Fraction(w - t * (u * v))


def _reference_rn_logistic(X, y, fmt, t, lam, n_iters):
    """Plain numpy + ml_dtypes: the study's RN datapath for the multinomial logistic regression
    (each operation in float64, rounded once to nearest-even; fused update)."""
    r = lambda v: _ml_round(v, fmt)                       # noqa: E731
    X = r(X)
    Y = np.eye(10)[y]
    W = np.zeros((X.shape[1], 10))
    out = []
    for _ in range(n_iters):
        Z = r(X @ W)
        E = r(np.exp(r(Z - Z.max(axis=1, keepdims=True))))
        P = r(E / r(E.sum(axis=1, keepdims=True)))
        G = r(r(X.T @ r(P - Y) / len(y)) + r(lam * W))
        W = r(W - t * G)
        out.append(W.copy())
    return out


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2"])
def test_round_to_nearest_run_matches_numpy_ml_dtypes(fmt):
    m = g.MultinomialLogistic(fmt, n=200)
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X = np.hstack([X[:200] / 16.0, np.ones((200, 1))])
    ref = _reference_rn_logistic(X, y[:200], fmt, m.t, g.L2, 25)
    _, x, _, _ = g.run_one(m, fmt, "round-to-nearest", m.x0(), 25)
    assert np.array_equal(x, ref[-1].reshape(-1))


@pytest.mark.parametrize("model", ["logistic10", "net"])
def test_float64_gradients_match_finite_differences(model):
    m = g.build_model(model, None, n=80)
    x = m.x0(np.random.default_rng(1)) + np.random.default_rng(2).normal(0, 0.1, m.dim)
    gr = m.grad(x, IdentityUnit())
    idx = np.random.default_rng(3).choice(m.dim, 12, replace=False)
    h = 1e-6
    for i in idx:
        e = np.zeros(m.dim)
        e[i] = h
        fd = (m.loss(x + e) - m.loss(x - e)) / (2 * h)
        assert gr[i] == pytest.approx(fd, rel=1e-4, abs=1e-8)


def test_f_star_is_the_float64_minimum():
    m = g.MultinomialLogistic(None, n=150)
    x = m.x0()
    for _ in range(3000):
        x = x - m.t * m.grad64(x)
    assert m.f_star <= m.loss(x) + 1e-9
    assert m.loss(x) - m.f_star < 5e-3          # GD is slow here (cond ~ 1e3); L-BFGS is below it


@pytest.fixture(scope="module")
def small():
    """A small fixed-seed run: logistic regression on 300 digits, e4m3, 60 iterations, c = 0
    and c = 8, ideal bits and the 16-bit LFSR."""
    jobs = [("logistic10", "e4m3", c, src, 0, 0, 60, 300, tuple(g.STRATEGIES) if c == 0 else
             ("round-to-nearest", "SR")) for c, src in ((0.0, "lfsr16"), (0.0, "pcg64"), (8.0, "pcg64"))]
    rows = []
    for j in jobs:
        rows += g.run_job(j)[0]
    return g.summarize(rows)


def test_round_to_nearest_stagnates_in_floats(small):
    rn = g._get(small, offset=0.0, source="pcg64", strategy="round-to-nearest")
    sr = g._get(small, offset=0.0, source="pcg64", strategy="SR")
    assert rn["stall_iter"] is not None and rn["moved_last"] == 0.0
    assert rn["final_excess"] > 1.5 * sr["final_excess"]


def test_stagnation_depends_on_weight_magnitude(small):
    """The same problem with weights 8 larger: RN never moves, SR still descends."""
    rn0 = g.progress(small, "logistic10", "e4m3", 0.0, "pcg64", "round-to-nearest")
    rn8 = g.progress(small, "logistic10", "e4m3", 8.0, "pcg64", "round-to-nearest")
    sr8 = g.progress(small, "logistic10", "e4m3", 8.0, "pcg64", "SR")
    assert rn0 > 0.1 and rn8 == 0.0 and sr8 > 0.1


def test_biased_schemes_beat_sr_on_logistic(small):
    sr = g._get(small, offset=0.0, source="pcg64", strategy="SR")["final_excess"]
    for b in ("SR_ε", "signed-SR_ε"):
        assert g._get(small, offset=0.0, source="pcg64", strategy=b)["final_excess"] < 0.7 * sr


def test_lfsr_bits_agree_with_ideal_bits_on_logistic(small):
    for strat in ("SR", "SR_ε", "signed-SR_ε"):
        a = g._get(small, offset=0.0, source="lfsr16", strategy=strat)["final_excess"]
        b = g._get(small, offset=0.0, source="pcg64", strategy=strat)["final_excess"]
        assert 0.8 < a / b < 1.25


def test_verdicts_of_the_small_run(small):
    v = {x["claim"]: x["held"] for x in g.decide(small)}
    assert v["RN stagnates above SR (logistic10, e4m3)"] is True
    assert v["signed-SR_ε beats SR (logistic10, e4m3)"] is True
    assert v["RN's stagnation grows with the weights' magnitude, SR's does not (logistic10, e4m3, c = 0, 8)"] is True


def test_gd_study_formats_dispatches_float_names(tmp_path, monkeypatch):
    from fxsim.studies import gd_rounding
    seen = {}
    monkeypatch.setattr(g, "run", lambda out, **kw: seen.update(kw, out=out) or
                        {"markdown": "", "seconds": 0.0, "files": {"md": "m", "csv": "c"}})
    p = gd_rounding.add_cli(argparse.ArgumentParser().add_subparsers())
    args = p.parse_args(["--formats", "e4m3,bf16", "--quick", "--out", str(tmp_path)])
    assert args.run(args) == 0
    assert seen["formats"] == ["e4m3", "bf16"] and seen["quick"] is True
    args = p.parse_args(["--formats", "e4m3,Q8.8"])
    with pytest.raises(ValueError, match="--formats"):
        args.run(args)


def test_float_formats_and_names():
    assert g.float_formats("Q8.8,e4m3,E5M2") == ["e4m3", "E5M2"]
    assert not g.is_float_format("Q(16,8)")


def test_run_writes_tables_figure_and_verdicts(tmp_path):
    jobs = [("logistic10", "e4m3", c, "pcg64", 0, 0, 8, 100,
             tuple(g.STRATEGIES) if c == 0 else ("round-to-nearest", "SR")) for c in (0.0, 8.0)]
    jobs.append(("net", "e4m3", 0.0, "pcg64", 0, 0, 4, 100, tuple(g.STRATEGIES)))
    res = g.run(tmp_path, quick=True, progress=False, workers=1, jobs=jobs)
    assert sorted(res.files) == ["csv", "gd_float_png", "md", "runs_csv"]
    assert len(res.rows) == 10 and res.verdicts
    assert "## Verdicts" in open(res.files["md"]).read()
