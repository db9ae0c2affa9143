"""The operators' compiled paths (issue 19's speed point): ``-a``, ``a op scalar`` and ``a op b``
through ``fxsim._small.SmallBinop`` (a 0-d operand broadcast in C), ``abs(a)`` in one numpy
call and ``a.sum()`` summed in int64 -- each checked against the Fraction reference
(tests/oracles/reference.py) or Python integers, with the formats the explicit functions
give, and counters only where the explicit calls record them."""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fxsim
from conftest import fixed, raws_of
from reference import (DETERMINISTIC, exact_add, exact_mul, exact_sub, fmt_range, ref_cast,
                       ref_dot_default_fmt, ref_full_precision)

SETTINGS = dict(deadline=None, max_examples=40,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
EXACT = {"add": exact_add, "sub": exact_sub, "mul": exact_mul}
SYMBOL = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}


@st.composite
def array_and_scalar(draw):
    fa = (draw(st.integers(1, 24)), draw(st.integers(-4, 12)), draw(st.booleans()))
    fb = (draw(st.integers(1, 24)), draw(st.integers(-4, 12)), draw(st.booleans()))
    lo, hi = fmt_range(fa[0], fa[2])
    n = draw(st.integers(0, 9))
    ra = [draw(st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi, 0]))) for _ in range(n)]
    blo, bhi = fmt_range(fb[0], fb[2])
    rb = draw(st.one_of(st.integers(blo, bhi), st.sampled_from([blo, bhi, 0])))
    return fa, ra, fb, rb


@settings(**SETTINGS)
@given(array_and_scalar(), st.sampled_from(sorted(EXACT)), st.booleans())
def test_zero_d_operand_exact(case, op, scalar_left):
    """a op s and s op a with a 0-d FixedArray s: the words of the exact full-precision result."""
    fa, ra, fb, rb = case
    a, s = fixed(fxsim, ra, fa), fixed(fxsim, rb, fb)
    x, fx_, y, fy = (s, fb, a, fa) if scalar_left else (a, fa, s, fb)
    try:
        want_fmt = ref_full_precision(op, fx_, fy)
    except ValueError:
        return
    res = SYMBOL[op](x, y)
    assert (res.fmt.wl, res.fmt.fl, res.fmt.signed) == want_fmt
    assert res.shape == (len(ra),)
    wl, fl, signed = want_fmt
    for i, m in enumerate(raws_of(res)):
        pair = (rb, ra[i]) if scalar_left else (ra[i], rb)
        assert m * Fraction(2) ** -fl == EXACT[op](pair[0], fx_, pair[1], fy)


@settings(**SETTINGS)
@given(array_and_scalar(), st.sampled_from(sorted(EXACT)), st.sampled_from(DETERMINISTIC),
       st.sampled_from(["saturate", "wrap"]), st.integers(2, 16), st.integers(-2, 10))
def test_zero_d_operand_cast(case, op, rounding, overflow, wl, fl):
    """The explicit call with a 0-d operand and a cast: every word equals the reference."""
    fa, ra, fb, rb = case
    a, s = fixed(fxsim, ra, fa), fixed(fxsim, rb, fb)
    fn = getattr(fxsim, op)
    out = (wl, fl, True)
    res = fn(a, s, fxsim.QFormat(*out), rounding, overflow)
    want = [ref_cast(EXACT[op](m, fa, rb, fb), *out, rounding, overflow) for m in ra]
    assert raws_of(res) == want


def test_negation_words_format_and_counters():
    a = fxsim.FixedArray(np.array([-128, -1, 0, 1, 127], np.int8), "Q(8,8)")
    n = -a
    assert n.fmt == fxsim.QFormat(9, 8, True)
    assert raws_of(n) == [128, 1, 0, -1, -127]
    with fxsim.Counters() as c:
        -a
    assert c.records and all(r.op == "sub" for r in c.records)


@pytest.mark.parametrize("fmt", ["Q(1,0)", "Q(8,8)", "Q(9,-3)", "Q(16,20)", "Q(31,4)",
                                 "Q(32,1)", "Q(63,0)"])
def test_abs_words_and_format(fmt):
    f = fxsim.qformat(fmt)
    rng = np.random.default_rng(f.wl)
    raws = rng.integers(f.min_raw, f.max_raw, 50, endpoint=True).tolist() + [f.min_raw, f.max_raw, 0]
    a = fixed(fxsim, raws, (f.wl, f.fl, True))
    res = abs(a)
    assert res.fmt == fxsim.QFormat(f.wl + 1, f.fl, True)
    assert res.raw.dtype == res.fmt.dtype
    assert raws_of(res) == [abs(m) for m in raws]


def test_abs_in_a_counters_block_records_as_before():
    """Inside a Counters block abs(a) still makes its explicit calls (sub, then cast)."""
    a = fxsim.FixedArray(np.array([-3, 4], np.int8), "Q(8,2)")
    with fxsim.Counters() as c:
        res = abs(a)
    assert raws_of(res) == [3, 4]
    assert [r.op for r in c.records] == ["sub", "cast"]


def test_abs_of_64_bit_words_still_refused():
    a = fxsim.FixedArray(np.array([-3, 4], np.int64), "Q(64,0)")
    with pytest.raises(ValueError, match="64"):
        abs(a)


@pytest.mark.parametrize("fmt", ["Q(8,8)", "UQ(8,3)", "Q(1,0)", "Q(16,-3)", "Q(32,40)",
                                 "UQ(40,0)", "Q(50,2)"])
@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 4), (2, 0, 3), (2, 3, 5)])
def test_sum_words_and_format(fmt, shape):
    """a.sum(axis, keepdims): Python-int sums, in the exact dot format of K words times ones."""
    f = fxsim.qformat(fmt)
    rng = np.random.default_rng(len(shape) + f.wl)
    raw = np.asarray(rng.integers(f.min_raw, f.max_raw, shape, endpoint=True)).astype(f.dtype)
    a = fxsim.FixedArray(raw, f)
    for axis in [None] + list(range(-len(shape), len(shape))):
        for keepdims in (False, True):
            res = a.sum(axis, keepdims)
            K = raw.size if axis is None else raw.shape[axis]
            want_fmt = ref_dot_default_fmt((f.wl, f.fl, f.signed), (1, 0, False), K)
            assert (res.fmt.wl, res.fmt.fl, res.fmt.signed) == want_fmt
            want = np.sum(raw.astype(object), axis=axis, keepdims=keepdims)
            assert res.raw.shape == np.shape(want)
            assert res.raw.dtype == res.fmt.dtype
            assert [int(m) for m in np.ravel(res.raw)] == [int(m) for m in np.ravel(want)]


def test_sum_beyond_int64_takes_the_dot_product():
    """Words whose sum may leave int64 (and uint64 words) keep the exact 128-bit path."""
    f = fxsim.qformat("UQ(64,0)")
    a = fxsim.FixedArray(np.array([2**64 - 1, 2**64 - 1], np.uint64), f)
    with pytest.raises(ValueError, match="pass fmt="):
        a.sum()
    for words in ([2**62 - 1, 2**62 - 1], [-2**62, -2**62]):
        b = fxsim.FixedArray(np.array(words, np.int64), "Q(63,0)")
        s = b.sum()
        assert s.fmt == fxsim.QFormat(64, 0, True) and int(s.raw) == sum(words)


@pytest.mark.parametrize("op", sorted(EXACT))
def test_operators_in_contexts_switching(op):
    """Two contexts used in turn (the operators keep a compiled call per context) and
    result='left' on both sides: every word equals the reference."""
    ra, rb = [-9, 3, 7, 0], [5, -6, 2, 1]
    fa, fb = (8, 3, True), (6, 1, True)
    a, b = fixed(fxsim, ra, fa), fixed(fxsim, rb, fb)
    def c1():
        return fxsim.context(result="Q(6,1)", rounding="floor", overflow="saturate")

    def c2():
        return fxsim.context(result="left", rounding="nearest_even", overflow="wrap")
    for _ in range(2):
        with c1():
            r1 = SYMBOL[op](a, b)
        with c2():
            r2 = SYMBOL[op](a, b)
            r3 = SYMBOL[op](b, a)
            r4 = SYMBOL[op](a, 2)
        assert raws_of(r1) == [ref_cast(EXACT[op](x, fa, y, fb), 6, 1, True, "floor", "saturate")
                               for x, y in zip(ra, rb)]
        assert raws_of(r2) == [ref_cast(EXACT[op](x, fa, y, fb), *fa, "nearest_even", "wrap")
                               for x, y in zip(ra, rb)]
        assert r3.fmt == fxsim.QFormat(*fb)
        assert raws_of(r3) == [ref_cast(EXACT[op](y, fb, x, fa), *fb, "nearest_even", "wrap")
                               for x, y in zip(ra, rb)]
        assert raws_of(r4) == [ref_cast(EXACT[op](x, fa, 1, (1, -1, False)), *fa, "nearest_even",
                                        "wrap") for x in ra]
