"""Property tests (hypothesis) up to wl = 64 against the reference, invariants that can fail,
and fxsim.Counters against counts from the reference (spec 6)."""
import math
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from conftest import fixed, qf, raws_of
from reference import (DETERMINISTIC, OVERFLOWS, STOCHASTIC, RefCounters, exact_add,
                       exact_mul, exact_sub, fmt_range, pow2, ref_cast, ref_cast_info, ref_dot,
                       value)

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.function_scoped_fixture])
N_EX = 400

NEAREST = ("nearest_up", "nearest_down", "nearest_zero", "nearest_away", "nearest_even",
           "nearest_odd")


# ---------------------------------------------------------------------------- strategies
def wls(max_wl=64):
    return st.one_of(st.integers(1, max_wl),
                     st.sampled_from([w for w in (1, 2, 7, 8, 9, 16, 31, 32, 33, 53, 54, 63, 64)
                                      if w <= max_wl]))


def fls(lo=-256, hi=256):
    return st.one_of(st.integers(lo, hi),
                     st.sampled_from([f for f in (lo, hi, 0, 1, -1, 63, 64, 65) if lo <= f <= hi]))


def fmts(max_wl=64, fl_lo=-256, fl_hi=256):
    return st.tuples(wls(max_wl), fls(fl_lo, fl_hi), st.booleans())


def raws(fmt):
    lo, hi = fmt_range(fmt[0], fmt[2])
    edges = sorted({lo, hi, 0, min(lo + 1, hi), max(hi - 1, lo), -hi if fmt[2] else 1,
                    -1 if fmt[2] else hi // 2})
    return st.one_of(st.integers(lo, hi), st.sampled_from(edges))


TINY_PHI = [Fraction(0), Fraction(1, 2), Fraction(1, 4), Fraction(3, 4)]
SPECIAL_FLOATS = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, -2.225073858507201e-308,
                  1.7976931348623157e308, -1.7976931348623157e308, 1e-300, 2.0 ** -1074 * 3,
                  2.0 ** 63, -2.0 ** 63, 2.0 ** 64, 0.5, -0.5, 1.5, -2.5]


@st.composite
def x_for(draw, fmt):
    """A float aimed at fmt: ties, grid points, boundaries, huge/tiny values, subnormals."""
    wl, fl, signed = fmt
    lo, hi = fmt_range(wl, signed)
    kind = draw(st.sampled_from(["any", "grid", "edge", "edge", "special"]))
    if kind == "any":
        return draw(st.floats(allow_nan=False, allow_infinity=False))
    if kind == "special":
        return draw(st.sampled_from(SPECIAL_FLOATS))
    if kind == "grid":
        m = draw(st.integers(lo - 4, hi + 4))
    else:
        m = draw(st.sampled_from([lo, hi, lo - 1, hi + 1, lo + 1, hi - 1, 0, -1, 1, -hi,
                                  -hi - 1, 2 * hi + 1, 2 * lo - 1, -2 * hi]))
    phi = draw(st.one_of(st.sampled_from(TINY_PHI),
                         st.integers(1, 80).map(lambda k: Fraction(1, 1 << k)),
                         st.integers(1, 80).map(lambda k: 1 - Fraction(1, 1 << k))))
    exact = (m + phi) * pow2(-fl)
    try:
        return float(exact)        # correctly rounded; exact when representable
    except OverflowError:
        return math.copysign(1.7976931348623157e308, exact)


def r_strategy():
    return st.one_of(st.integers(1, 64), st.sampled_from([1, 2, 8, 32, 53, 63, 64]))


def R_for(r):
    return st.one_of(st.integers(0, (1 << r) - 1),
                     st.sampled_from([0, (1 << r) - 1, 1 << (r - 1), max(0, (1 << (r - 1)) - 1)]))


EPS = st.one_of(st.sampled_from([0.0, 0.5, 0.25, 0.3, 0.125, 0.999, 2.0 ** -64, 2.0 ** -30]),
                st.floats(0.0, 1.0, exclude_max=True))
V = st.sampled_from([-1.0, 0.0, -0.0, 2.5, -1e-300, 1e300])


@st.composite
def sr_params(draw, rounding, n):
    """Stochastic parameters for n casts: (kwargs for fxsim, per-element list for the ref)."""
    if rounding not in STOCHASTIC:
        return {}, [{}] * n
    r = draw(r_strategy())
    Rs = draw(st.lists(R_for(r), min_size=n, max_size=n))
    eps = draw(EPS) if rounding != "stochastic" else 0.0
    vs = draw(st.lists(V, min_size=n, max_size=n))
    rule = draw(st.sampled_from(["trunc", "half", "rne"]))
    kw = dict(r=r, sr_rule=rule, draws=np.array(Rs, dtype=np.uint64))
    if rounding != "stochastic":
        kw["eps"] = eps
    if rounding == "signed_stochastic_eps":
        kw["v"] = np.array(vs)
    per = [dict(R=R, r=r, eps=eps, v=v, sr_rule=rule) for R, v in zip(Rs, vs)]
    return kw, per


def ref_or_exc(x, fmt, rounding, overflow, **kw):
    try:
        return ref_cast(x, *fmt, rounding, overflow, **kw)
    except OverflowError:
        return OverflowError


def check_vector(call, wants, label):
    """call() -> FixedArray; wants: per-element raw ints or OverflowError."""
    if any(w is OverflowError for w in wants):
        with pytest.raises(OverflowError):
            call()
        return
    got = raws_of(call())
    assert got == wants, label


# ---------------------------------------------------------------------------- cast vs reference
@st.composite
def cast_cases(draw):
    fmt = draw(fmts())
    rounding = draw(st.sampled_from(DETERMINISTIC + STOCHASTIC))
    overflow = draw(st.sampled_from(OVERFLOWS))
    xs = draw(st.lists(x_for(fmt), min_size=1, max_size=6))
    kw, per = draw(sr_params(rounding, len(xs)))
    return fmt, rounding, overflow, xs, kw, per


@settings(max_examples=2 * N_EX, **SETTINGS)
@given(case=cast_cases())
@example(case=((64, 0, True), "nearest_even", "saturate", [2.0 ** 63, -2.0 ** 63], {},
               [{}, {}]))
@example(case=((64, 0, False), "floor", "wrap", [2.0 ** 64 + 2 ** 12, -1.0], {}, [{}, {}]))
@example(case=((1, 0, True), "nearest_up", "saturate_symmetric", [-0.5, -1.0], {}, [{}, {}]))
@example(case=((8, 256, True), "ceil", "saturate", [5e-324, -5e-324], {}, [{}, {}]))
@example(case=((8, -256, False), "floor", "wrap", [1.7976931348623157e308, 2.0 ** 300], {},
               [{}, {}]))
def test_cast_float_vs_reference(fx, case):
    fmt, rounding, overflow, xs, kw, per = case
    wants = [ref_or_exc(x, fmt, rounding, overflow, **p) for x, p in zip(xs, per)]
    check_vector(lambda: fx.cast(np.array(xs, dtype=np.float64), qf(fx, fmt), rounding,
                                 overflow, **kw),
                 wants, (fmt, rounding, overflow, xs, per))


@settings(max_examples=N_EX // 2, **SETTINGS)
@given(fmt=fmts(), rounding=st.sampled_from(DETERMINISTIC), overflow=st.sampled_from(OVERFLOWS),
       ints=st.lists(st.integers(-(1 << 53), 1 << 53), min_size=1, max_size=6))
def test_cast_int_input_vs_reference(fx, fmt, rounding, overflow, ints):
    """Integer inputs (|x| <= 2^53, exact as float64) cast like their values."""
    wants = [ref_or_exc(x, fmt, rounding, overflow) for x in ints]
    check_vector(lambda: fx.cast(np.array(ints, dtype=np.int64), qf(fx, fmt), rounding, overflow),
                 wants, (fmt, rounding, overflow, ints))
    if len(ints) == 1:
        check_vector(lambda: fx.cast(ints[0], qf(fx, fmt), rounding, overflow), wants, ints)


@st.composite
def requant_cases(draw):
    src = draw(fmts())
    dst = draw(fmts())
    rounding = draw(st.sampled_from(DETERMINISTIC + STOCHASTIC))
    overflow = draw(st.sampled_from(OVERFLOWS))
    ms = draw(st.lists(raws(src), min_size=1, max_size=6))
    kw, per = draw(sr_params(rounding, len(ms)))
    return src, dst, rounding, overflow, ms, kw, per


@settings(max_examples=2 * N_EX, **SETTINGS)
@given(case=requant_cases())
@example(case=((64, 256, True), (64, -256, True), "nearest_even", "saturate",
               [-(1 << 63), (1 << 63) - 1], {}, [{}, {}]))
@example(case=((64, -256, False), (64, 256, False), "floor", "wrap", [(1 << 64) - 1, 1], {},
               [{}, {}]))
@example(case=((64, 0, True), (1, 0, False), "ceil", "saturate", [-(1 << 63), 1], {}, [{}, {}]))
def test_cast_fixed_vs_reference(fx, case):
    """Exact re-quantization of a FixedArray (any shift, any widths)."""
    src, dst, rounding, overflow, ms, kw, per = case
    wants = [ref_or_exc(value(m, src[1]), dst, rounding, overflow, **p) for m, p in zip(ms, per)]
    check_vector(lambda: fx.cast(fixed(fx, ms, src), qf(fx, dst), rounding, overflow, **kw),
                 wants, (src, dst, rounding, overflow, ms, per))


# ---------------------------------------------------------------------------- add, sub, mul, dot
def twos_width(lo, hi):
    """Bits of the narrowest two's-complement word holding every integer in [lo, hi]."""
    return max(hi.bit_length(), (-lo - 1).bit_length() if lo < 0 else 0) + 1


def _needed_bits(op, fa, fb):
    """Width (two's complement, sign included) of the widest exact intermediate of op: the
    aligned operands and the exact result (spec 4)."""
    la, ha = fmt_range(fa[0], fa[2])
    lb, hb = fmt_range(fb[0], fb[2])
    if op == "mul":
        ext = [x * y for x in (la, ha) for y in (lb, hb)]
        return twos_width(min(ext), max(ext))
    F = max(fa[1], fb[1])
    la, ha = la << (F - fa[1]), ha << (F - fa[1])
    lb, hb = lb << (F - fb[1]), hb << (F - fb[1])
    ext = [x + y for x in (la, ha) for y in (lb, hb)] if op == "add" else \
        [x - y for x in (la, ha) for y in (lb, hb)]
    return max(twos_width(la, ha), twos_width(lb, hb), twos_width(min(ext), max(ext)))


@st.composite
def binop_cases(draw):
    op = draw(st.sampled_from(["add", "sub", "mul"]))
    fa = draw(fmts(fl_lo=-64, fl_hi=64))
    fb = draw(fmts(fl_lo=-64, fl_hi=64))
    out = draw(fmts())
    rounding = draw(st.sampled_from(DETERMINISTIC + STOCHASTIC))
    overflow = draw(st.sampled_from(OVERFLOWS))
    n = draw(st.integers(1, 5))
    a = draw(st.lists(raws(fa), min_size=n, max_size=n))
    b = draw(st.lists(raws(fb), min_size=n, max_size=n))
    kw, per = draw(sr_params(rounding, n))
    return op, fa, fb, out, rounding, overflow, a, b, kw, per


EXACT = {"add": exact_add, "sub": exact_sub, "mul": exact_mul}


@settings(max_examples=N_EX, **SETTINGS)
@given(case=binop_cases())
@example(case=("mul", (64, 0, True), (64, 0, True), (64, 0, True), "nearest_even", "saturate",
               [-(1 << 63)], [-(1 << 63)], {}, [{}]))
@example(case=("sub", (64, 0, False), (64, 0, False), (64, 0, True), "floor", "wrap",
               [0], [(1 << 64) - 1], {}, [{}]))
@example(case=("add", (64, 64, True), (64, -64, True), (64, 0, True), "nearest_even",
               "saturate", [(1 << 63) - 1], [-(1 << 63)], {}, [{}]))
def test_binop_vs_reference(fx, case):
    op, fa, fb, out, rounding, overflow, a, b, kw, per = case
    wants = [ref_or_exc(EXACT[op](x, fa, y, fb), out, rounding, overflow, **p)
             for x, y, p in zip(a, b, per)]

    def call():
        return getattr(fx, op)(fixed(fx, a, fa), fixed(fx, b, fb), fmt=qf(fx, out),
                               rounding=rounding, overflow=overflow, **kw)

    needed = _needed_bits(op, fa, fb)
    check_lenient(call, needed, wants, case)


@st.composite
def dot_cases(draw):
    K = draw(st.integers(1, 6))
    fa = draw(fmts(max_wl=40, fl_lo=-20, fl_hi=40))
    fb = draw(fmts(max_wl=40, fl_lo=-20, fl_hi=40))
    prod = draw(st.one_of(st.none(), fmts(fl_lo=-20, fl_hi=60)))
    acc = draw(st.one_of(st.none(), fmts(fl_lo=-20, fl_hi=60)))
    out = draw(st.one_of(st.none(), fmts(fl_lo=-20, fl_hi=60))) if acc is not None else \
        draw(fmts(fl_lo=-20, fl_hi=60))
    rounding = draw(st.sampled_from(DETERMINISTIC + STOCHASTIC))
    overflow = draw(st.sampled_from(OVERFLOWS))
    a = draw(st.lists(raws(fa), min_size=K, max_size=K))
    b = draw(st.lists(raws(fb), min_size=K, max_size=K))
    n_casts = K * ((prod is not None) + (acc is not None)) + (out is not None and out != acc)
    sr = {}
    draws = []
    if rounding in STOCHASTIC:
        r = draw(r_strategy())
        draws = draw(st.lists(R_for(r), min_size=n_casts, max_size=n_casts))
        sr = dict(r=r, sr_rule=draw(st.sampled_from(["trunc", "half", "rne"])))
        if rounding != "stochastic":
            sr["eps"] = draw(EPS)
        if rounding == "signed_stochastic_eps":
            sr["v"] = draw(V)
    return fa, fb, prod, acc, out, rounding, overflow, a, b, sr, draws


def _dot_needed_bits(fa, fb, prod, acc, K):
    """Generous estimate of the widest exact intermediate of a dot (bits incl. sign)."""
    p = prod if prod is not None else (fa[0] + fb[0] + 1, fa[1] + fb[1], True)
    if acc is None:
        return p[0] + K.bit_length() + 2
    F = max(acc[1], p[1])
    return max(acc[0] + F - acc[1], p[0] + F - p[1]) + 2


REFUSED = object()


def call_lenient(call, needed):
    """Run call(); a ValueError about the intermediate width is allowed when needed > 126
    (docs/api.md), and then REFUSED is returned. Other exceptions propagate."""
    if needed <= 126:
        return call()
    try:
        return call()
    except ValueError as e:
        assert any(s in str(e) for s in ("127", "128", "bit")), str(e)
        return REFUSED


def check_lenient(call, needed, wants, label):
    if any(w is OverflowError for w in wants):
        try:
            res = call_lenient(call, needed)
        except OverflowError:
            return
        assert res is REFUSED, f"expected OverflowError: {label}"
        return
    res = call_lenient(call, needed)
    if res is not REFUSED:
        assert raws_of(res) == wants, label


@settings(max_examples=N_EX, **SETTINGS)
@given(case=dot_cases())
@example(case=((2, 0, True), (2, 0, False), None, (4, 0, False), None, "floor", "wrap",
               [-1], [1], {}, []))
@example(case=((2, 0, True), (2, 0, False), None, (40, 0, False), (6, 0, False), "floor", "wrap",
               [-1, 1], [1, 0], {}, []))
def test_dot_vs_reference(fx, case):
    fa, fb, prod, acc, out, rounding, overflow, a, b, sr, draws = case
    try:
        want = ref_dot(a, fa, b, fb, acc=acc, prod=prod, out=out, rounding=rounding,
                       overflow=overflow, draws=draws, **sr)
    except OverflowError:
        want = OverflowError
    kw = {k: v for k, v in dict(acc=acc, prod=prod, fmt=out).items() if v is not None}
    kw = {k: qf(fx, v) for k, v in kw.items()}
    fsr = dict(sr)
    if "v" in fsr:
        fsr["v"] = np.array(fsr["v"])
    if rounding in STOCHASTIC:
        fsr["draws"] = np.array(draws, dtype=np.uint64)

    def call():
        return fx.dot(fixed(fx, a, fa), fixed(fx, b, fb), rounding=rounding, overflow=overflow,
                      **kw, **fsr)

    needed = _dot_needed_bits(fa, fb, prod, acc, len(a))
    if want is OverflowError:
        try:
            res = call_lenient(call, needed)
        except OverflowError:
            return
        assert res is REFUSED, f"expected OverflowError: {case}"
        return
    res = call_lenient(call, needed)
    if res is REFUSED:
        return
    got = Fraction(int(res.raw)) * pow2(-res.fmt.fl)
    assert got == want.value, (got, want)
    if want.fmt is not None:
        assert (res.fmt.wl, res.fmt.fl, res.fmt.signed) == want.fmt
        assert int(res.raw) == want.raw


# ---------------------------------------------------------------------------- invariants
@st.composite
def sorted_floats_for(draw, fmt):
    xs = draw(st.lists(x_for(fmt), min_size=2, max_size=12))
    return sorted(xs)


@settings(max_examples=N_EX, **SETTINGS)
@given(fmt=fmts(), rounding=st.sampled_from(DETERMINISTIC),
       overflow=st.sampled_from(["saturate", "saturate_symmetric"]), data=st.data())
def test_cast_monotone(fx, fmt, rounding, overflow, data):
    xs = data.draw(sorted_floats_for(fmt))
    got = raws_of(fx.cast(np.array(xs), qf(fx, fmt), rounding, overflow))
    assert all(g1 <= g2 for g1, g2 in zip(got, got[1:])), (xs, got)


def _in_range(x, fmt):
    lo, hi = fmt_range(fmt[0], fmt[2])
    t = Fraction(x) * pow2(fmt[1])
    return lo <= t <= hi


@settings(max_examples=N_EX, **SETTINGS)
@given(fmt=fmts(), data=st.data())
def test_cast_brackets_and_half_lsb(fx, fmt, data):
    """floor <= x <= ceil with ceil - floor in {0, lsb}; nearest modes within lsb/2;
    toward_zero shrinks |x|, away_from_zero grows it; jam has its lowest bit set when inexact.
    Checked on values well inside the range (no overflow)."""
    xs = data.draw(st.lists(x_for(fmt), min_size=1, max_size=8))
    lo, hi = fmt_range(fmt[0], fmt[2])
    xs = [x for x in xs if lo + 1 <= Fraction(x) * pow2(fmt[1]) <= hi - 1]
    assume(xs)
    arr = np.array(xs)
    q = qf(fx, fmt)
    lsb = pow2(-fmt[1])

    def vals(rounding):
        return [value(m, fmt[1]) for m in raws_of(fx.cast(arr, q, rounding, "error"))]

    fl_, ce = vals("floor"), vals("ceil")
    for x, a, b in zip(xs, fl_, ce):
        x = Fraction(x)
        assert a <= x <= b
        assert b - a in (0, lsb)
        assert (a == b) == (a == x)
    for rounding in NEAREST:
        for x, y in zip(xs, vals(rounding)):
            assert abs(y - Fraction(x)) <= lsb / 2, (rounding, x, y)
    for x, y in zip(xs, vals("toward_zero")):
        assert abs(y) <= abs(Fraction(x))
    for x, y in zip(xs, vals("away_from_zero")):
        assert abs(y) >= abs(Fraction(x))
    for x, m in zip(xs, raws_of(fx.cast(arr, q, "jam", "error"))):
        if Fraction(x) * pow2(fmt[1]) != int(Fraction(x) * pow2(fmt[1])):
            assert m & 1 == 1


@settings(max_examples=N_EX // 2, **SETTINGS)
@given(fmt=fmts(max_wl=48, fl_lo=-20, fl_hi=40), data=st.data())
def test_stochastic_bracket(fx, fmt, data):
    """A stochastic cast returns floor or ceil whatever R, and floor when R = 0 (trunc,
    eps = 0, phi < 1) and ceil when R = 2^r - 1 and D > 0."""
    xs = data.draw(st.lists(x_for(fmt), min_size=1, max_size=8))
    lo, hi = fmt_range(fmt[0], fmt[2])
    xs = [x for x in xs if lo + 1 <= Fraction(x) * pow2(fmt[1]) <= hi - 1]
    assume(xs)
    r = data.draw(r_strategy())
    arr = np.array(xs)
    q = qf(fx, fmt)
    f = raws_of(fx.cast(arr, q, "floor", "error"))
    c = raws_of(fx.cast(arr, q, "ceil", "error"))
    zero = raws_of(fx.cast(arr, q, "stochastic", "error", r=r,
                           draws=np.zeros(len(xs), dtype=np.uint64)))
    top = raws_of(fx.cast(arr, q, "stochastic", "error", r=r,
                          draws=np.full(len(xs), (1 << r) - 1, dtype=np.uint64)))
    assert zero == f
    for x, a, b, m in zip(xs, f, c, top):
        D = math.floor((Fraction(x) * pow2(fmt[1]) - a) * (1 << r))
        assert m == (b if D > 0 else a)


# ---------------------------------------------------------------------------- counters (spec 6)
FIELDS = ("cast", "inexact", "rounded_up", "overflowed", "draws")


def _role_sums(c):
    sums = {}
    for rec in c.records:
        d = sums.setdefault(rec.role, dict.fromkeys(FIELDS, 0))
        for f in FIELDS:
            d[f] += int(getattr(rec, f))
    return sums


def _assert_counters(c, ref):
    for f in FIELDS:
        assert int(getattr(c, f)) == ref.total(f), (f, int(getattr(c, f)), ref.total(f))
    sums = _role_sums(c)
    for role in set(sums) | set(ref.by_role):
        for f in FIELDS:
            got = sums.get(role, {}).get(f, 0)
            assert got == ref.role(role, f), (role, f, got, ref.role(role, f))


COUNTER_OVF = st.sampled_from(["saturate", "saturate_symmetric", "wrap"])


@settings(max_examples=N_EX // 2, **SETTINGS)
@given(fmt=fmts(), rounding=st.sampled_from(DETERMINISTIC + STOCHASTIC), overflow=COUNTER_OVF,
       data=st.data())
def test_counters_cast(fx, fmt, rounding, overflow, data):
    xs = data.draw(st.lists(x_for(fmt), min_size=1, max_size=8))
    kw, per = data.draw(sr_params(rounding, len(xs)))
    ref = RefCounters()
    for x, p in zip(xs, per):
        ref.add("out", ref_cast_info(x, *fmt, rounding, overflow, **p))
    with fx.Counters() as c:
        fx.cast(np.array(xs), qf(fx, fmt), rounding, overflow, **kw)
    _assert_counters(c, ref)


@settings(max_examples=N_EX // 2, **SETTINGS)
@given(fa=fmts(max_wl=32, fl_lo=-16, fl_hi=32), fb=fmts(max_wl=32, fl_lo=-16, fl_hi=32),
       out=fmts(fl_lo=-16, fl_hi=64), op=st.sampled_from(["add", "sub", "mul"]),
       rounding=st.sampled_from(DETERMINISTIC + STOCHASTIC), overflow=COUNTER_OVF,
       data=st.data())
def test_counters_binop(fx, fa, fb, out, op, rounding, overflow, data):
    n = data.draw(st.integers(1, 6))
    a = data.draw(st.lists(raws(fa), min_size=n, max_size=n))
    b = data.draw(st.lists(raws(fb), min_size=n, max_size=n))
    kw, per = data.draw(sr_params(rounding, n))
    ref = RefCounters()
    for x, y, p in zip(a, b, per):
        ref.add("out", ref_cast_info(EXACT[op](x, fa, y, fb), *out, rounding, overflow, **p))
    with fx.Counters() as c:
        getattr(fx, op)(fixed(fx, a, fa), fixed(fx, b, fb), fmt=qf(fx, out), rounding=rounding,
                        overflow=overflow, **kw)
    _assert_counters(c, ref)


@settings(max_examples=N_EX // 2, **SETTINGS)
@given(case=dot_cases())
def test_counters_dot(fx, case):
    fa, fb, prod, acc, out, rounding, overflow, a, b, sr, draws = case
    assume(overflow in ("saturate", "wrap"))
    assume(acc is not None or out is not None)
    ref = RefCounters()
    ref_dot(a, fa, b, fb, acc=acc, prod=prod, out=out, rounding=rounding, overflow=overflow,
            draws=draws, counters=ref, **sr)
    kw = {k: qf(fx, v) for k, v in dict(acc=acc, prod=prod, fmt=out).items() if v is not None}
    fsr = dict(sr)
    if "v" in fsr:
        fsr["v"] = np.array(fsr["v"])
    if rounding in STOCHASTIC:
        fsr["draws"] = np.array(draws, dtype=np.uint64)
    assume(_dot_needed_bits(fa, fb, prod, acc, len(a)) <= 126)
    with fx.Counters() as c:
        fx.dot(fixed(fx, a, fa), fixed(fx, b, fb), rounding=rounding, overflow=overflow,
               **kw, **fsr)
    _assert_counters(c, ref)


def _matmul_case():
    fa, fb, prod, acc, out = (4, 2, True), (4, 1, True), (4, 2, True), (5, 2, True), (3, 0, True)
    rng = np.random.default_rng(5)
    A = rng.integers(-8, 8, size=(3, 4))
    B = rng.integers(-8, 8, size=(4, 2))
    ref = RefCounters()
    for i in range(3):
        for j in range(2):
            ref_dot(A[i].tolist(), fa, B[:, j].tolist(), fb, acc=acc, prod=prod, out=out,
                    rounding="nearest_even", overflow="saturate", counters=ref)
    assert ref.role("prod", "cast") == 24 and ref.role("out", "cast") == 6

    def run(fx):
        fx.matmul(fixed(fx, A, fa), fixed(fx, B, fb), acc=qf(fx, acc), prod=qf(fx, prod),
                  fmt=qf(fx, out), rounding="nearest_even", overflow="saturate")
    return ref, run


def test_counters_matmul(fx):
    """A 3x4 . 4x2 matmul with prod/acc/out casts: 24 products, 24 accumulations, 6 outputs."""
    ref, run = _matmul_case()
    with fx.Counters() as c:
        run(fx)
    _assert_counters(c, ref)
    assert isinstance(c.summary(), str)


def test_counters_nesting(fx):
    """Nested contexts both count (docs/api.md); the outer one also sees a cast done outside
    the inner one; after the blocks nothing more is recorded."""
    ref, run = _matmul_case()
    xs = [0.3, -7.9, 100.0]
    ref_outer = RefCounters()
    ref_outer.by_role = {k: dict(v) for k, v in ref.by_role.items()}
    for x in xs:
        ref_outer.add("out", ref_cast_info(x, 4, 1, True, "floor", "wrap"))
    with fx.Counters() as outer:
        with fx.Counters() as inner:
            run(fx)
        fx.cast(np.array(xs), qf(fx, (4, 1, True)), "floor", "wrap")
    run(fx)
    _assert_counters(inner, ref)
    _assert_counters(outer, ref_outer)


def test_counters_stochastic_draws_even_when_exact(fx):
    """Spec 2/4: a stochastic cast draws even when phi = 0; absent casts draw nothing."""
    with fx.Counters() as c:
        fx.cast(np.array([1.0, 2.0, 0.5]), qf(fx, (8, 2, True)), "stochastic", "saturate", r=4,
                draws=np.array([15, 15, 15], dtype=np.uint64))
    assert (c.cast, c.inexact, c.rounded_up, c.overflowed, c.draws) == (3, 0, 0, 0, 3)
    a = fixed(fx, [1, 2, 3], (4, 0, True))
    with fx.Counters() as c:
        fx.dot(a, a, acc=qf(fx, (8, 0, True)), rounding="stochastic", overflow="saturate",
               r=3, draws=np.array([7, 7, 7], dtype=np.uint64))
    assert c.draws == 3 and c.inexact == 0 and c.rounded_up == 0


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("kind", ["fixed", "float"])
def test_counters_threaded_large(fx, kind, threads):
    """Counts over many kernel chunks on several threads must be exact (spec 6) -- and so must
    the count in the OverflowError message (spec 3)."""
    rng = np.random.default_rng(1)
    src, dst = (10, 6, True), (5, 2, True)
    raws_ = rng.integers(-512, 512, size=300_007)
    u, mult = np.unique(raws_, return_counts=True)
    x = fixed(fx, raws_, src) if kind == "fixed" else raws_ / 64.0
    old = fx.get_num_threads()
    fx.set_num_threads(threads)
    try:
        for rounding, overflow in [("floor", "saturate"), ("nearest_even", "wrap"),
                                   ("stochastic", "saturate")]:
            kw = {}
            if rounding == "stochastic":
                kw = dict(r=5, draws=np.full(raws_.size, 17, dtype=np.uint64))
            ref = {f: 0 for f in FIELDS}
            for m, k in zip(u, mult):
                info = ref_cast_info(value(int(m), 6), *dst, rounding, overflow,
                                     **(dict(R=17, r=5) if kw else {}))
                ref["cast"] += int(k)
                ref["inexact"] += int(k) * info.inexact
                ref["rounded_up"] += int(k) * info.rounded_up
                ref["overflowed"] += int(k) * info.overflowed
                ref["draws"] += int(k) * info.drew
            for _ in range(3):
                with fx.Counters() as c:
                    fx.cast(x, qf(fx, dst), rounding, overflow, **kw)
                assert {f: int(getattr(c, f)) for f in FIELDS} == ref
        n_ovf = sum(int(k) for m, k in zip(u, mult)
                    if ref_cast_info(value(int(m), 6), *dst, "floor", "saturate").overflowed)
        for _ in range(3):
            with pytest.raises(OverflowError) as ei:
                fx.cast(x, qf(fx, dst), "floor", "error")
            assert re.search(rf"(?<![\d.]){n_ovf}(?![\d.])", str(ei.value)), str(ei.value)
    finally:
        fx.set_num_threads(old)
