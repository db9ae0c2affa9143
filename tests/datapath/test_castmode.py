"""The ``mode=`` keyword of the ops: a CastMode call gives the same words as the keyword call and
as the independent Fraction reference (tests/reference.py); mode= with a separate mode keyword
is refused, naming both."""
from fractions import Fraction

import numpy as np
import pytest

import fxsim as fx
from fxsim import CastMode, QFormat
from reference import ref_cast, ref_dot, ref_mul, ref_add

RNG = np.random.default_rng(12)
X = np.concatenate([RNG.standard_normal(200) * 6, np.arange(-40, 41) / 8 + 1 / 16, [1e3, -1e3]])

MODES = [
    CastMode("nearest_even", "saturate"),
    CastMode("floor", "wrap"),
    CastMode("nearest_away", "saturate_symmetric"),
    CastMode("jam", "wrap"),
    CastMode("stochastic", "saturate", r=5),
    CastMode("stochastic", "wrap", r=7, sr_rule="rne"),
    CastMode("stochastic_eps", "saturate", r=6, eps=Fraction(1, 4), sr_rule="half"),
]


def _draws(mode, n):
    if not mode.stochastic:
        return None
    return np.random.default_rng(mode.r).integers(0, 2**mode.r, n, dtype=np.uint64)


@pytest.mark.parametrize("mode", MODES, ids=repr)
def test_cast_mode_matches_keywords_and_reference(mode):
    fmt = QFormat(8, 3)
    d = _draws(mode, X.size)
    got = fx.cast(X, fmt, mode=mode, draws=d).raw
    kw = fx.cast(X, fmt, draws=d, **mode.cast_kwargs()).raw
    assert np.array_equal(got, kw)
    sr = {} if d is None else {"r": mode.r, "eps": mode.eps, "sr_rule": mode.sr_rule}
    ref = [ref_cast(float(x), 8, 3, True, mode.rounding, mode.overflow,
                    R=None if d is None else int(d[i]), **sr) for i, x in enumerate(X)]
    assert got.tolist() == ref


@pytest.mark.parametrize("mode", MODES, ids=repr)
def test_requantize_mode_matches_reference(mode):
    a = fx.cast(X, "Q(16,9)")
    d = _draws(mode, X.size)
    got = fx.cast(a, "Q(8,2)", mode=mode, draws=d).raw
    assert np.array_equal(got, fx.cast(a, "Q(8,2)", draws=d, **mode.cast_kwargs()).raw)
    sr = {} if d is None else {"r": mode.r, "eps": mode.eps, "sr_rule": mode.sr_rule}
    ref = [ref_cast(Fraction(int(w), 2**9), 8, 2, True, mode.rounding, mode.overflow,
                    R=None if d is None else int(d[i]), **sr) for i, w in enumerate(a.raw)]
    assert got.tolist() == ref


@pytest.mark.parametrize("op, ref", [("mul", ref_mul), ("add", ref_add), ("sub", None)])
@pytest.mark.parametrize("mode", MODES[:2] + MODES[4:6], ids=repr)
def test_binary_mode_matches_reference(op, ref, mode):
    a, b = fx.cast(X, "Q(8,4)"), fx.cast(X[::-1], "Q(10,5)", "floor")
    d = _draws(mode, X.size)
    got = getattr(fx, op)(a, b, "Q(8,3)", mode=mode, draws=d).raw
    assert np.array_equal(got, getattr(fx, op)(a, b, "Q(8,3)", draws=d, **mode.cast_kwargs()).raw)
    sr = {} if d is None else {"r": mode.r, "eps": mode.eps, "sr_rule": mode.sr_rule}
    for i, (wa, wb) in enumerate(zip(a.raw.tolist(), b.raw.tolist())):
        R = None if d is None else int(d[i])
        if ref is None:
            want = ref_cast(Fraction(wa, 16) - Fraction(wb, 32), 8, 3, True, mode.rounding,
                            mode.overflow, R=R, **sr)
        else:
            want = ref(wa, (8, 4, True), wb, (10, 5, True), (8, 3, True), mode.rounding,
                       mode.overflow, R=R, **sr)
        assert int(got[i]) == want


def test_matmul_role_modes_match_keywords_and_reference():
    A = fx.cast(RNG.standard_normal((3, 5)), "Q(8,5)")
    B = fx.cast(RNG.standard_normal((5, 4)), "Q(8,5)")
    prod_mode = CastMode("stochastic", "saturate", r=6)
    n_draws = 3 * 4 * 5
    d = np.random.default_rng(3).integers(0, 64, n_draws, dtype=np.uint64)
    got = fx.matmul(A, B, acc="Q(12,6)", prod="Q(10,6)", fmt="Q(8,3)",
                    mode=CastMode("floor", "wrap"), prod_mode=prod_mode,
                    out_mode=CastMode("nearest_even", "saturate"), draws=d).raw
    kw = fx.matmul(A, B, acc="Q(12,6)", prod="Q(10,6)", fmt="Q(8,3)", rounding="floor",
                   overflow="wrap", prod_rounding="stochastic", prod_overflow="saturate", r=6,
                   out_rounding="nearest_even", out_overflow="saturate", draws=d).raw
    assert np.array_equal(got, kw)
    it = iter(d.tolist())
    for i in range(3):
        for j in range(4):
            res = ref_dot(A.raw[i].tolist(), (8, 5, True), B.raw[:, j].tolist(), (8, 5, True),
                          acc=(12, 6, True), prod=(10, 6, True), out=(8, 3, True),
                          rounding="floor", overflow="wrap", prod_rounding="stochastic",
                          prod_overflow="saturate", out_rounding="nearest_even",
                          out_overflow="saturate", r=6, draws=it)
            assert int(got[i, j]) == res.raw


@pytest.mark.parametrize("kw", [{"rounding": "nearest_even"}, {"overflow": "saturate"},
                                {"r": 4}, {"eps": 0.0}, {"sr_rule": "trunc"}])
def test_mode_with_a_mode_keyword_is_refused(kw):
    # refused even when the keyword names the default value
    (name,) = kw
    with pytest.raises(ValueError, match=rf"mode=.*{name}="):
        fx.cast([0.5], "Q4.2", mode=CastMode("floor"), **kw)
    a = fx.cast([0.5], "Q4.2")
    with pytest.raises(ValueError, match=rf"mode=.*{name}="):
        fx.mul(a, a, mode="floor", **kw)
    with pytest.raises(ValueError, match=rf"mode=.*{name}="):
        fx.dot(a, a, mode="floor", **kw)


def test_role_mode_with_role_keyword_is_refused():
    a = fx.cast([0.5, 0.25], "Q4.2")
    with pytest.raises(ValueError, match="acc_mode=.*acc_overflow="):
        fx.dot(a, a, acc="Q8.4", acc_mode="floor", acc_overflow="wrap")
    with pytest.raises(ValueError, match="prod_mode"):
        fx.dot(a, a, prod_mode="round")


def test_refused_mode_call_takes_no_draw():
    src = fx.LFSR(16, seed=5)
    before = src.draws(4, 8)
    src = fx.LFSR(16, seed=5)
    with pytest.raises(ValueError):
        fx.cast([0.3] * 4, "Q4.2", mode=CastMode("stochastic", r=8), r=8, source=src)
    assert np.array_equal(src.draws(4, 8), before)


def test_positional_and_keyword_api_unchanged():
    x = [0.3, -1.7, 2.5]
    assert fx.cast(x, "Q4.2", "floor", "wrap").raw.tolist() == [1, -7, 10]
    assert fx.cast(x, "Q4.2").raw.tolist() == fx.cast(x, "Q4.2", mode=CastMode()).raw.tolist()


@pytest.mark.parametrize("kw", [{"prod_rounding": ""}, {"acc_overflow": ""}, {"out_overflow": ""}])
def test_empty_role_keyword_is_refused(kw):
    a = fx.cast([0.5, 0.25], "Q4.2")
    with pytest.raises(ValueError, match=next(iter(kw))):
        fx.dot(a, a, acc="Q8.4", prod="Q8.4", fmt="Q4.2", **kw)
