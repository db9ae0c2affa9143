"""FixedArray operators under the operator context (issue 19), each against the independent
Fraction reference (tests/oracles/reference.py): full-precision growth, the context's result
format and modes, scalars, comparisons, shifts, division, reductions, indexing assignment,
and the context itself (thread-local, nestable, ignored by the explicit functions)."""
import math
import operator
import threading
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fxsim
from fxsim.context import DEFAULT
from conftest import fixed, qf, raws_of
from reference import (DETERMINISTIC, STOCHASTIC, exact_add, exact_mul, exact_sub, fmt_range,
                       min_wl, ref_cast, ref_dot, ref_full_precision, value)

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.function_scoped_fixture])
N_EX = 20           # per property in the default run; the slow run (-m slow) takes 10x more


def prop(n, *strategies):
    """A hypothesis property run twice: ``n`` examples in the default run, ``10 n`` as
    ``<name>_slow`` (marked slow)."""
    def deco(f):
        globals()[f.__name__ + "_slow"] = pytest.mark.slow(
            settings(max_examples=10 * n, **SETTINGS)(given(*strategies)(f)))
        return settings(max_examples=n, **SETTINGS)(given(*strategies)(f))
    return deco
OVERFLOWS = ("saturate", "saturate_symmetric", "wrap")
EXACT = {"add": exact_add, "sub": exact_sub, "mul": exact_mul}
SYMBOL = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}


def fmts(max_wl=20):
    return st.tuples(st.integers(1, max_wl), st.integers(-6, 14), st.booleans())


@st.composite
def operand(draw, fmt, n):
    lo, hi = fmt_range(fmt[0], fmt[2])
    return [draw(st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi, 0]))) for _ in range(n)]


@st.composite
def pair(draw, max_wl=20):
    fa, fb = draw(fmts(max_wl)), draw(fmts(max_wl))
    n = draw(st.integers(1, 6))
    return fa, draw(operand(fa, n)), fb, draw(operand(fb, n))


def vals(x):
    """Exact values of a FixedArray (reference side: raw * 2^-fl in Fractions)."""
    return [value(m, x.fmt.fl) for m in raws_of(x)]


def fmt_t(q):
    return (q.wl, q.fl, q.signed)


class Replay:
    """A user-defined bit source handing out given draws (the reference reads the same)."""

    def __init__(self, draws):
        self.d = list(draws)

    def draws(self, n, r):
        out, self.d = self.d[:n], self.d[n:]
        return np.array(out, dtype=np.uint64)


# -- + - * with full-precision growth -------------------------------------------------------

@prop(N_EX, pair(), st.sampled_from(["add", "sub", "mul"]))
def test_full_precision_growth(p, op):
    fa, ra, fb, rb = p
    try:
        want_fmt = ref_full_precision(op, fa, fb)
    except ValueError:
        with pytest.raises(ValueError, match="fxsim.context"):
            SYMBOL[op](fixed(fxsim, ra, fa), fixed(fxsim, rb, fb))
        return
    got = SYMBOL[op](fixed(fxsim, ra, fa), fixed(fxsim, rb, fb))
    assert fmt_t(got.fmt) == want_fmt
    assert vals(got) == [EXACT[op](x, fa, y, fb) for x, y in zip(ra, rb)]


@prop(N_EX, pair(), st.sampled_from(["add", "sub", "mul"]), fmts(16),
       st.sampled_from(DETERMINISTIC), st.sampled_from(OVERFLOWS))
def test_result_format_and_modes(p, op, out, rounding, overflow):
    """Under context(result=fmt, rounding, overflow): the reference's cast of the exact value,
    bit for bit (and the explicit function with the same modes agrees)."""
    fa, ra, fb, rb = p
    a, b = fixed(fxsim, ra, fa), fixed(fxsim, rb, fb)
    with fxsim.context(rounding=rounding, overflow=overflow, result=qf(fxsim, out)):
        got = SYMBOL[op](a, b)
    want = [ref_cast(EXACT[op](x, fa, y, fb), *out, rounding, overflow) for x, y in zip(ra, rb)]
    assert fmt_t(got.fmt) == out and raws_of(got) == want
    explicit = getattr(fxsim, op)(a, b, qf(fxsim, out), rounding, overflow)
    assert explicit.identical(got)


@prop(N_EX // 2, pair(12), st.sampled_from(["add", "sub", "mul"]), fmts(12),
      st.sampled_from(STOCHASTIC), st.integers(1, 12), st.data())
def test_stochastic_context_takes_its_source(p, op, out, rounding, r, data):
    fa, ra, fb, rb = p
    draws = data.draw(st.lists(st.integers(0, 2**r - 1), min_size=len(ra), max_size=len(ra)))
    a, b = fixed(fxsim, ra, fa), fixed(fxsim, rb, fb)
    eps = Fraction(1, 8)
    with fxsim.context(rounding=rounding, overflow="saturate", r=r, eps=eps,
                       result=qf(fxsim, out), source=Replay(draws)):
        if rounding == "signed_stochastic_eps":
            with pytest.raises(ValueError, match="needs v"):
                SYMBOL[op](a, b)
            return
        got = SYMBOL[op](a, b)
    want = [ref_cast(EXACT[op](x, fa, y, fb), *out, rounding, "saturate", R=R, r=r, eps=eps)
            for x, y, R in zip(ra, rb, draws)]
    assert raws_of(got) == want


def test_left_rule_keeps_the_register_width():
    a = fxsim.cast([7.5, -8.0, 1.25], "Q4.4")
    b = fxsim.cast([1.0, -1.0, 0.5], "Q4.4")
    with fxsim.context(result="left", rounding="floor", overflow="saturate"):
        s, p = a + b, a * b
        t = 2 + a                 # a number on the left: the FixedArray's format
    assert s.fmt == a.fmt == p.fmt == t.fmt
    assert raws_of(s) == [ref_cast(exact_add(x, (8, 4, True), y, (8, 4, True)), 8, 4, True,
                                   "floor", "saturate") for x, y in zip(raws_of(a), raws_of(b))]
    assert raws_of(t) == [ref_cast(value(x, 4) + 2, 8, 4, True, "floor", "saturate")
                          for x in raws_of(a)]


def test_exact_context_refuses_what_would_round():
    a = fxsim.cast([0.5, 0.75], "Q4.4")
    with fxsim.context(result="Q4.1"):
        with pytest.raises(ValueError, match="not exact in Q\\(5,1\\).*index \\(1,\\)"):
            a + fxsim.cast([0.5, 0.5], "Q4.4")
        assert raws_of(a * fxsim.cast(2.0, "Q4.4")) == [2, 3]      # exact: allowed
    with fxsim.context(result="Q2.4"):
        with pytest.raises(OverflowError):                        # overflow: 'error' default
            a + fxsim.cast([1.75, 1.75], "Q4.4")
    with fxsim.context(result="Q2.4", overflow="saturate"):
        assert raws_of(a + fxsim.cast([1.75, 1.75], "Q4.4")) == [31, 31]


# -- scalars ---------------------------------------------------------------------------------

def smallest_exact(v: Fraction):
    """(wl, fl, signed) of the smallest format holding v exactly (reference side)."""
    if v == 0:
        return (1, 0, False)
    fl = v.denominator.bit_length() - 1
    num = v.numerator
    while fl <= 0 and num % 2 == 0:
        num //= 2
        fl -= 1
    return (min_wl(num, num, num < 0), fl, num < 0)


@prop(N_EX, fmts(16), st.data(),
       st.one_of(st.integers(-2**40, 2**40), st.floats(-1e6, 1e6, allow_nan=False, width=32),
                 st.builds(lambda n, k: Fraction(n, 2**k), st.integers(-999, 999),
                           st.integers(0, 12))),
       st.sampled_from(["add", "sub", "mul"]), st.booleans())
def test_scalars_are_exact(fa, data, x, op, reflected):
    ra = data.draw(operand(fa, 3))
    a = fixed(fxsim, ra, fa)
    xv = Fraction(x)
    fx_s = smallest_exact(xv)
    lhs, rhs = ((x, a) if reflected else (a, x))
    pair_fmts = (fx_s, fa) if reflected else (fa, fx_s)
    try:
        want_fmt = ref_full_precision(op, *pair_fmts)
    except ValueError:
        with pytest.raises(ValueError):
            SYMBOL[op](lhs, rhs)
        return
    got = SYMBOL[op](lhs, rhs)
    exact = {"add": lambda p, q: p + q, "sub": lambda p, q: p - q, "mul": lambda p, q: p * q}[op]
    want = [exact(xv, value(m, fa[1])) if reflected else exact(value(m, fa[1]), xv) for m in ra]
    assert fmt_t(got.fmt) == want_fmt and vals(got) == want


@pytest.mark.parametrize("x", [Fraction(1, 3), float("nan"), float("inf"), 2.0**300, 2.0**-300])
def test_inexact_scalars_are_refused(x):
    a = fxsim.cast([0.5], "Q4.4")
    with pytest.raises(ValueError, match="fxsim.cast|no fixed-point value|64"):
        a + x


@pytest.mark.parametrize("x", [np.array([1.0, 2.0]), [1.0, 2.0], np.arange(2)])
def test_arrays_need_an_explicit_cast(x):
    a = fxsim.cast([0.5, 1.0], "Q4.4")
    for f in (lambda: a + x, lambda: x + a, lambda: a * x, lambda: a @ x, lambda: a < x):
        with pytest.raises(TypeError, match="fxsim.cast"):
            f()
    assert (a == "text") is False and (a != None) is True      # noqa: E711 other types


# -- comparisons, abs, negation, shifts --------------------------------------------------------

@prop(N_EX, pair(64))
def test_comparisons_are_exact(p):
    fa, ra, fb, rb = p
    a, b = fixed(fxsim, ra, fa), fixed(fxsim, rb, fb)
    va, vb = [value(m, fa[1]) for m in ra], [value(m, fb[1]) for m in rb]
    for f in (operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne):
        got = f(a, b)
        assert isinstance(got, np.ndarray) and got.dtype == bool
        assert got.tolist() == [f(x, y) for x, y in zip(va, vb)], f
    assert (a < 0.5).tolist() == [x < Fraction(1, 2) for x in va]


@prop(N_EX, fmts(63), st.data())
def test_abs_and_negation(fa, data):
    ra = data.draw(operand(fa, 4))
    a = fixed(fxsim, ra, fa)
    neg, ab = -a, abs(a)
    assert vals(neg) == [-value(m, fa[1]) for m in ra]
    assert fmt_t(neg.fmt) == ref_full_precision("sub", (1, fa[1], True), fa)
    assert vals(ab) == [abs(value(m, fa[1])) for m in ra]
    assert fmt_t(ab.fmt) == (fmt_t(neg.fmt) if fa[2] else fa)
    assert fxsim.FixedArray(np.array(ra, dtype=a.raw.dtype), a.fmt).identical(a)   # unchanged


@prop(N_EX, fmts(64), st.data(), st.integers(0, 70))
def test_shifts(fa, data, n):
    ra = data.draw(operand(fa, 4))
    a = fixed(fxsim, ra, fa)
    wl, fl, signed = fa
    if -256 <= fl - n <= 256:
        left = a << n
        assert raws_of(left) == ra and fmt_t(left.fmt) == (wl, fl - n, signed)
        assert vals(left) == [value(m, fl) * 2**n for m in ra]
    if -256 <= fl + n <= 256:
        assert vals(a >> n) == [value(m, fl) / 2**n for m in ra]
    # the raw bits inside the format: a register's shifter (wrap left, floor right)
    assert raws_of(a.shift_bits(n)) == [ref_cast(m * 2**n, wl, 0, signed, "floor", "wrap")
                                        for m in ra]
    assert raws_of(a.shift_bits(-n)) == [math.floor(Fraction(m, 2**n)) for m in ra]
    with fxsim.context(result="left", rounding="nearest_even", overflow="saturate"):
        got = a >> n if -256 <= fl + n <= 256 else None
    if got is not None:
        assert raws_of(got) == [ref_cast(value(m, fl) / 2**n, wl, fl, signed, "nearest_even",
                                         "saturate") for m in ra]


# -- division --------------------------------------------------------------------------------

@prop(N_EX, pair(24), fmts(20), st.sampled_from(DETERMINISTIC), st.sampled_from(OVERFLOWS))
def test_division_with_a_rule(p, out, rounding, overflow):
    fa, ra, fb, rb = p
    a, b = fixed(fxsim, ra, fa), fixed(fxsim, rb, fb)
    with fxsim.context(rounding=rounding, overflow=overflow, result=qf(fxsim, out)):
        if 0 in rb:
            with pytest.raises(ValueError, match="division by zero"):
                a / b
            return
        if overflow == "wrap" and out[0] > 60:
            return
        got = a / b
    assert raws_of(got) == [ref_cast(value(x, fa[1]) / value(y, fb[1]), *out, rounding, overflow)
                            for x, y in zip(ra, rb)]


def test_division_without_a_rule_says_how():
    a = fxsim.cast([1.5, -3.0], "Q4.4")
    for k, v in ((4, Fraction(1, 4)), (-2, Fraction(-1, 2)), (0.5, Fraction(2))):
        assert vals(a / k) == [x * v for x in vals(a)]        # powers of two: exact
    for b in (3, fxsim.cast([3.0, 3.0], "Q4.4")):
        with pytest.raises(ValueError, match="power of two.*reciprocal.*context"):
            a / b
    with fxsim.context(result="Q4.4", rounding="stochastic", r=8, source=fxsim.LFSR(16, seed=1)):
        with pytest.raises(ValueError, match="deterministic"):
            a / fxsim.cast([3.0, 3.0], "Q4.4")


# -- reductions and @ ------------------------------------------------------------------------

@prop(N_EX // 2, fmts(16), st.integers(1, 9), st.data())
def test_sum_and_cumsum_exact(fa, n, data):
    ra = data.draw(operand(fa, n))
    a = fixed(fxsim, ra, fa)
    ref = ref_dot(ra, fa, [1] * n, (1, 0, False))
    s = a.sum()
    assert s.shape == () and vals(s) == [ref.value]
    assert vals(a.cumsum()) == [sum((value(m, fa[1]) for m in ra[:k + 1]), Fraction(0))
                                for k in range(n)]
    assert np.sum(a).identical(s)


@prop(N_EX // 2, fmts(12), st.integers(1, 7), fmts(12), st.sampled_from(DETERMINISTIC),
       st.sampled_from(OVERFLOWS), st.data())
def test_sum_with_an_accumulator(fa, n, acc, rounding, overflow, data):
    """context(acc=...): a cast after every addition, in index order (spec §4)."""
    ra = data.draw(operand(fa, n))
    a = fixed(fxsim, ra, fa)
    with fxsim.context(acc=qf(fxsim, acc), rounding=rounding, overflow=overflow):
        s, c = a.sum(), a.cumsum()
    ref = ref_dot(ra, fa, [1] * n, (1, 0, False), acc=acc, rounding=rounding, overflow=overflow)
    assert raws_of(s) == [ref.raw] and fmt_t(s.fmt) == acc
    assert raws_of(c) == [ref_dot(ra[:k + 1], fa, [1] * (k + 1), (1, 0, False), acc=acc,
                                  rounding=rounding, overflow=overflow).raw for k in range(n)]


def test_sum_axes_and_keepdims():
    a = fxsim.FixedArray(np.arange(24).reshape(2, 3, 4) - 12, "Q(8,2)")
    v = np.array([[[value(int(m), 2) for m in row] for row in mat] for mat in raws_grid(a)],
                 dtype=object)
    for axis in (0, 1, 2, -1):
        got = a.sum(axis=axis)
        assert got.shape == v.sum(axis=axis).shape
        assert vals(got) == list(v.sum(axis=axis).reshape(-1))
        assert a.sum(axis=axis, keepdims=True).shape == v.sum(axis=axis, keepdims=True).shape
        c = a.cumsum(axis=axis)
        assert vals(c) == list(np.cumsum(v, axis=axis).reshape(-1))
    with pytest.raises(ValueError, match="axis"):
        a.sum(axis=3)
    with pytest.raises(ValueError, match="rounding"):
        with fxsim.context(acc="Q8.8"):
            a.sum()


def raws_grid(a):
    return a.raw.tolist()


@prop(N_EX // 2, fmts(12), fmts(12), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.data())
def test_matmul_operator(fa, fb, M, K, N, data):
    A = [data.draw(operand(fa, K)) for _ in range(M)]
    B = [data.draw(operand(fb, N)) for _ in range(K)]
    fA, fB = fixed(fxsim, A, fa), fixed(fxsim, B, fb)
    got = fA @ fB
    want = [[ref_dot(A[i], fa, [B[k][j] for k in range(K)], fb).value for j in range(N)]
            for i in range(M)]
    assert vals(got) == [w for row in want for w in row]
    x = fB[:, 0]
    assert vals(fA @ x) == [row[0] for row in want]                    # matvec
    assert vals(fA[0] @ fB) == want[0]                                  # vector @ matrix
    acc = (16, max(fa[1], 0), True)
    with fxsim.context(acc=qf(fxsim, acc), rounding="nearest_even", overflow="saturate"):
        got = fA @ fB
    assert raws_of(got) == [ref_dot(A[i], fa, [B[k][j] for k in range(K)], fb, acc=acc).raw
                            for i in range(M) for j in range(N)]
    assert got.identical(fxsim.matmul(fA, fB, acc=qf(fxsim, acc), rounding="nearest_even",
                                      overflow="saturate"))


# -- indexing assignment -------------------------------------------------------------------------

def test_setitem_casts_as_the_context_says():
    a = fxsim.cast([0.5, 1.0, 1.5, 2.0], "Q4.4")
    a[0] = 0.25                                   # a number: exact
    a[1:3] = fxsim.cast([0.125, -3.0], "Q(12,8)")  # another format: exact
    assert vals(a) == [Fraction(1, 4), Fraction(1, 8), -3, 2]
    before = a.raw.copy()
    with pytest.raises(ValueError, match="not exact"):
        a[0] = fxsim.cast(0.03125, "Q4.8")
    with pytest.raises(OverflowError):
        a[:] = 100
    assert np.array_equal(a.raw, before)          # a refused assignment writes nothing
    with pytest.raises(ValueError, match="cast arrays first"):
        a[0] = np.array(0.5)
    with fxsim.context(rounding="nearest_even", overflow="saturate"):
        a[0] = fxsim.cast(0.03125, "Q4.8")       # 0.5 LSB: ties to even, 0
        a[1] = 100
    assert raws_of(a)[:2] == [ref_cast(Fraction(1, 32), 8, 4, True, "nearest_even", "saturate"),
                              ref_cast(100, 8, 4, True, "nearest_even", "saturate")]


# -- the context itself --------------------------------------------------------------------------

def test_context_nests_and_restores():
    default = fxsim.get_context()
    with fxsim.context(rounding="floor", overflow="wrap"):
        with fxsim.context(result="Q4.4", overflow="saturate"):
            c = fxsim.get_context()
            assert (c.rounding, c.overflow, str(c.result)) == ("floor", "saturate", "Q(8,4)")
        assert fxsim.get_context().result == "full"
        with pytest.raises(RuntimeError):
            with fxsim.context(mode=fxsim.CastMode("ceil")):
                assert fxsim.get_context().rounding == "ceil"
                raise RuntimeError
        assert fxsim.get_context().rounding == "floor"
    assert fxsim.get_context() is default


def test_a_kept_context_block_enters_again_nested_and_in_threads():
    """A block kept in a variable (MATLAB's fimath in a variable) works in every ``with``:
    again after it ended, nested in itself, and entered by two threads at once, each restoring
    the context that was current where it was entered."""
    floor = fxsim.context(rounding="floor", overflow="wrap")
    q44 = fxsim.context(result="Q4.4")
    for _ in range(2):
        with floor:
            assert fxsim.get_context().rounding == "floor"
        assert fxsim.get_context() is DEFAULT
    with q44:
        with fxsim.context(rounding="ceil"):
            with q44:          # inherits ceil from where it is entered, restores it on leaving
                c = fxsim.get_context()
                assert (c.rounding, str(c.result)) == ("ceil", "Q(8,4)")
            assert fxsim.get_context().rounding == "ceil"
        assert fxsim.get_context().rounding is None
    assert fxsim.get_context() is DEFAULT
    barrier, seen = threading.Barrier(2), []

    def worker(rounding):
        with fxsim.context(rounding=rounding):
            with q44:
                barrier.wait()
                seen.append((rounding, fxsim.get_context().rounding))
                barrier.wait()
            seen.append((rounding, fxsim.get_context().rounding))
    ts = [threading.Thread(target=worker, args=(m,)) for m in ("floor", "ceil")]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(seen) == [("ceil", "ceil"), ("ceil", "ceil"), ("floor", "floor"), ("floor", "floor")]
    assert fxsim.get_context() is DEFAULT


def test_context_is_per_thread():
    seen = []
    with fxsim.context(rounding="floor", result="Q4.4"):
        t = threading.Thread(target=lambda: seen.append(fxsim.get_context().rounding))
        t.start()
        t.join()
    assert seen == [None]


@pytest.mark.parametrize("kw, name", [
    (dict(rounding="round"), "rounding"), (dict(overflow="clip"), "overflow"),
    (dict(r=0), "r"), (dict(result="Q99.1"), "result|wl"), (dict(acc="bad"), "format"),
    (dict(source="lfsr16"), "source"), (dict(rounding="stochastic"), "needs r"),
    (dict(mode="floor", rounding="ceil"), "either mode"),
])
def test_context_arguments_are_checked(kw, name):
    with pytest.raises(ValueError, match=name):
        with fxsim.context(**kw):
            pass
    assert fxsim.get_context() is DEFAULT


def test_explicit_functions_ignore_the_context():
    a, b = fxsim.cast([0.75], "Q4.4"), fxsim.cast([0.5], "Q4.4")
    with fxsim.context(rounding="floor", overflow="saturate", result="Q4.0"):
        assert fxsim.add(a, b).identical(fxsim.FixedArray([20], "Q(9,4)"))
        assert fxsim.mul(a, b).fmt == fxsim.QFormat(16, 8)
        assert (a + b).fmt == fxsim.QFormat(4, 0)
