"""The vectorized float -> word block loops (all in doubles, converted to int32 or int64 lanes at
the end) against the Fraction reference: every deterministic mode, the saturating overflows,
word widths 8..64 (signed and unsigned), negative and large fraction lengths, float64 and
float32 inputs, words and counters.  The inputs mix ordinary values with exact ties, values
that saturate, huge values, tiny products and the (-1/2, 0) band, so every block takes the
fast loop and some take the scalar fallback."""
from fractions import Fraction

import numpy as np
import pytest

from reference import exact_mul, ref_cast_info

import fxsim as fx
from fxsim import DETERMINISTIC, QFormat

FORMATS = [(8, 4, True), (8, 0, False), (16, 8, True), (16, 8, False), (12, -3, True),
           (8, 12, True), (32, 16, True), (32, 0, False), (31, 0, True), (40, 20, True),
           (51, 10, False), (52, 10, True), (64, 20, True)]


def _inputs(fl, dtype):
    rng = np.random.default_rng(fl + 100)
    n = 2500
    x = rng.normal(0, 2.0 ** (10 - fl), n)
    x[::4] = np.round(x[::4] * 2.0 ** fl) / 2.0 ** fl + 2.0 ** (-fl - 1)   # exact ties
    x[1::9] = rng.normal(0, 2.0 ** (60 - fl), x[1::9].size)                  # saturate
    x[2::97] = np.ldexp(1.0, -fl) * rng.uniform(-0.5, 0, x[2::97].size)      # (-1/2, 0)
    x = x.astype(dtype)
    # one block of plain values (the fast loop) and a tail with huge and tiny values
    big = 1e300 if dtype == np.float64 else 3e38
    with np.errstate(under="ignore"):                     # float32: tiny values become zeros
        tail = np.array([big, -big, 2.0 ** 62, -2.0 ** 62, 5e-324, -5e-324, 0.0, -0.0,
                         2.0 ** -1000, 3.5, -3.5], dtype=np.float64).astype(dtype)
    return np.concatenate([x, tail])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("overflow", ["saturate", "saturate_symmetric"])
@pytest.mark.parametrize("wl,fl,signed", FORMATS)
def test_block_cast_vs_reference(wl, fl, signed, overflow, dtype):
    x = _inputs(fl, dtype)
    fmt = QFormat(wl, fl, signed)
    for rounding in DETERMINISTIC:
        with fx.Counters() as c:
            got = fx.cast(x, fmt, rounding, overflow)
        infos = [ref_cast_info(float(v), wl, fl, signed, rounding, overflow) for v in x]
        want = [i.raw for i in infos]
        assert got.raw.tolist() == want, (rounding, fmt, overflow)
        assert (c.cast, c.inexact, c.rounded_up, c.overflowed) == (
            len(x), sum(i.inexact for i in infos), sum(i.rounded_up for i in infos),
            sum(i.overflowed for i in infos)), (rounding, fmt, overflow)


OVERFLOWS = ["saturate", "saturate_symmetric", "wrap", "error"]


@pytest.mark.parametrize("overflow", OVERFLOWS)
@pytest.mark.parametrize("fa,out", [((32, 16, True), (32, 16, True)), ((32, 31, True), (16, 8, True)),
                                    ((32, 0, False), (64, 3, True)), ((24, 30, True), (40, 61, True))])
def test_products_of_32_bit_words_vs_reference(fa, out, overflow):
    """Products of words up to 32 bits, (-2**31)**2 = 2**62 included, take the 64-bit path
    (ops._small's bound is |v| <= 2**62) and round exactly in every deterministic mode."""
    wl, fl, signed = fa
    f = QFormat(*fa)
    rng = np.random.default_rng(wl + fl)
    raw = rng.integers(f.min_raw, f.max_raw + 1, 3000, dtype=np.int64)
    raw[:6] = [f.min_raw, f.min_raw, f.max_raw, f.max_raw, 0, 1]
    rb = rng.integers(f.min_raw, f.max_raw + 1, 3000, dtype=np.int64)
    rb[:6] = [f.min_raw, f.max_raw, f.min_raw, f.max_raw, f.min_raw, -1 if signed else 1]
    a = fx.FixedArray(raw.astype(f.dtype), f)
    b = fx.FixedArray(rb.astype(f.dtype), f)
    of = QFormat(*out)
    for rounding in DETERMINISTIC:
        ovf = "saturate" if overflow == "error" else overflow
        infos = [ref_cast_info(exact_mul(int(x), fa, int(y), fa), *out, rounding, ovf)
                 for x, y in zip(raw, rb)]
        if overflow == "error" and any(i.overflowed for i in infos):
            with pytest.raises(OverflowError):
                fx.mul(a, b, of, rounding, overflow)
            continue
        with fx.Counters() as c:
            got = fx.mul(a, b, of, rounding, overflow)
        assert got.raw.tolist() == [i.raw for i in infos], (rounding, overflow)
        assert (c.inexact, c.rounded_up, c.overflowed) == (
            sum(i.inexact for i in infos), sum(i.rounded_up for i in infos),
            sum(i.overflowed for i in infos)), (rounding, overflow)


@pytest.mark.parametrize("rounding", ["stochastic", "stochastic_eps"])
@pytest.mark.parametrize("r", [4, 30, 60])
def test_float32_stochastic_vs_reference(rounding, r):
    """float32 inputs reach the stochastic block loops as they are (no float64 copy)."""
    x = _inputs(6, np.float32)
    draws = np.random.default_rng(r).integers(0, 2**r, x.size, dtype=np.uint64)
    eps = 0.25 if rounding == "stochastic_eps" else 0
    got = fx.cast(x, QFormat(16, 6), rounding, "saturate", r=r, eps=eps, draws=draws)
    want = [ref_cast_info(float(v), 16, 6, True, rounding, "saturate", R=int(d), r=r, eps=eps).raw
            for v, d in zip(x, draws)]
    assert got.raw.tolist() == want


@pytest.mark.parametrize("r", [1, 16, 51, 52])
@pytest.mark.parametrize("rule", ["trunc", "half", "rne", "ge"])
@pytest.mark.parametrize("rounding", ["stochastic", "stochastic_eps", "signed_stochastic_eps"])
@pytest.mark.parametrize("wl,fl", [(16, 6), (64, 0)])
def test_float_stochastic_blocks_vs_reference(wl, fl, rounding, rule, r):
    """The stochastic float blocks against the Fraction reference, draws given: the first block
    of 1024 lies within |x * 2**fl| < 2**51 (the loop in doubles, for r <= 51), the second (64
    elements) holds one value at 2**51 (the int64 loop); both hold the (-1/2, 0) band, exact values, ties and the
    extreme draws 0 and 2**r - 1."""
    rng = np.random.default_rng(r * 7 + len(rule) + wl)
    lim = 2.0 ** 51 - 1 if wl == 64 else 2.0 ** 12
    t = rng.uniform(-lim, lim, 1024 + 64)
    t[::5] = rng.uniform(-0.5, 0, t[::5].size)          # -1/2 < t < 0
    t[1::7] = np.round(t[1::7])                          # exact
    t[2::11] = np.floor(t[2::11]) + 0.5                  # ties
    t[3:8] = [-0.5, -2.0 ** -40, lim, -lim, 0.5]
    t[1024 + 9] = 2.0 ** 51 if wl == 64 else 1e9         # the second block takes the int64 loop
    x = np.ldexp(t, -fl)
    draws = rng.integers(0, 2 ** r, x.size, dtype=np.uint64)
    draws[:4] = [0, 2 ** r - 1, 0, 2 ** r - 1]
    v = rng.normal(size=x.size)
    kw = dict(r=r, sr_rule=rule, eps=0.3 if rounding != "stochastic" else 0.0)
    if rounding == "signed_stochastic_eps":
        kw["v"] = v
    with fx.Counters() as c:
        got = fx.cast(x, QFormat(wl, fl), rounding, "saturate", draws=draws, **kw)
    infos = [ref_cast_info(float(x[i]), wl, fl, True, rounding, "saturate", R=int(draws[i]),
                           r=r, eps=kw["eps"], v=float(v[i]), sr_rule=rule) for i in range(x.size)]
    assert got.raw.tolist() == [i.raw for i in infos]
    assert (c.inexact, c.rounded_up, c.overflowed) == (
        sum(i.inexact for i in infos), sum(i.rounded_up for i in infos),
        sum(i.overflowed for i in infos))


_SR_MODES = [(m, rule) for m in ("stochastic", "stochastic_eps", "signed_stochastic_eps")
             for rule in ("trunc", "half", "rne", "ge")]
_SR_FAST = {("stochastic", "trunc"), ("stochastic", "half"), ("stochastic", "rne"),
            ("stochastic", "ge"), ("stochastic_eps", "rne"), ("signed_stochastic_eps", "trunc")}


@pytest.mark.parametrize("rounding,rule", [m if m in _SR_FAST else pytest.param(*m, marks=pytest.mark.slow)
                                           for m in _SR_MODES])
@pytest.mark.parametrize("op,fa,fb,out,r,overflow", [
    ("mul", (8, 8, True), (8, 8, True), (8, 8, True), 16, "saturate"),          # s = 8
    ("add", (8, 8, True), (8, 12, True), (8, 8, True), 25, "saturate"),         # s = 4, r + s = 29
    ("sub", (12, 3, False), (10, 9, True), (7, 2, True), 3, "saturate_symmetric"),  # s = 7 > r
    ("mul", (9, 4, True), (7, 5, False), (16, 2, False), 1, "saturate"),        # unsigned words
    ("mul", (15, 7, True), (15, 7, True), (31, 6, True), 21, "saturate"),       # int32 words
    ("add", (8, 8, True), (8, 12, True), (8, 8, True), 26, "saturate"),         # r + s = 30: int64
])
def test_elementwise_stochastic_int32_lanes_vs_reference(op, fa, fb, out, r, overflow,
                                                         rounding, rule):
    """SR add/sub/mul whose exact values fit 31 bits run in int32 lanes (r + s <= 29) and the
    rest in the int64 loop: words and counters against the Fraction reference over two blocks
    of 1024, with exact values, ties, saturating values and the extreme draws."""
    rng = np.random.default_rng(r * 31 + len(rule) + len(rounding))
    n = 1024 + 77

    def words(f):
        lo, hi = (-(1 << (f[0] - 1)), (1 << (f[0] - 1)) - 1) if f[2] else (0, (1 << f[0]) - 1)
        w = rng.integers(lo, hi, n, endpoint=True)
        w[:6] = [lo, hi, 0, lo, hi, 1]
        return w, fx.FixedArray(w.astype(QFormat(*f).dtype), QFormat(*f))
    wa, a = words(fa)
    wb, b = words(fb)
    wb[20:40] = 0                          # exact results
    b = fx.FixedArray(wb.astype(b.raw.dtype), b.fmt)
    draws = rng.integers(0, 2 ** r, n, dtype=np.uint64)
    draws[:4] = [0, 2 ** r - 1, 0, 2 ** r - 1]
    v = rng.normal(size=n)
    kw = dict(r=r, sr_rule=rule, eps=0.3 if rounding != "stochastic" else 0.0)
    if rounding == "signed_stochastic_eps":
        kw["v"] = v
    with fx.Counters() as c:
        got = getattr(fx, op)(a, b, QFormat(*out), rounding, overflow, draws=draws, **kw)
    exact = {"add": lambda x, y: Fraction(int(x), 2 ** fa[1]) + Fraction(int(y), 2 ** fb[1]),
             "sub": lambda x, y: Fraction(int(x), 2 ** fa[1]) - Fraction(int(y), 2 ** fb[1]),
             "mul": lambda x, y: Fraction(int(x) * int(y), 2 ** (fa[1] + fb[1]))}[op]
    infos = [ref_cast_info(exact(wa[i], wb[i]), *out, rounding, overflow, R=int(draws[i]), r=r,
                           eps=kw["eps"], v=float(v[i]), sr_rule=rule) for i in range(n)]
    assert got.raw.tolist() == [i.raw for i in infos]
    assert (c.inexact, c.rounded_up, c.overflowed) == (
        sum(i.inexact for i in infos), sum(i.rounded_up for i in infos),
        sum(i.overflowed for i in infos))


@pytest.mark.parametrize("overflow", ["saturate", "saturate_symmetric"])
@pytest.mark.parametrize("wl,fl,signed", [(8, 3, True), (31, 10, True), (12, 4, False), (32, 2, False)])
def test_float_sr_trunc_fused_store_vs_reference(wl, fl, signed, overflow):
    """Plain SR with the 'trunc' rule rounds and stores in one pass for words of at most 31
    bits (int8/int32 here, unsigned too; uint32 words beyond 2**31 take the two-pass path):
    words and counters against the Fraction reference, with the (-1/2, 0) band, exact values,
    values beyond the range and the extreme draws."""
    if not signed and overflow == "saturate_symmetric":
        pytest.skip("saturate_symmetric is for signed formats")
    r = 16
    rng = np.random.default_rng(wl * 3 + fl)
    top = 2.0 ** (wl - 1 if signed else wl)
    t = rng.uniform(-1.2 * top, 1.2 * top, 1024 + 300)
    t[::5] = rng.uniform(-0.5, 0, t[::5].size)
    t[1::7] = np.round(t[1::7])
    x = np.ldexp(t, -fl)
    draws = rng.integers(0, 2 ** r, x.size, dtype=np.uint64)
    draws[:4] = [0, 2 ** r - 1, 0, 2 ** r - 1]
    with fx.Counters() as c:
        got = fx.cast(x, QFormat(wl, fl, signed), "stochastic", overflow, r=r, draws=draws)
    infos = [ref_cast_info(float(x[i]), wl, fl, signed, "stochastic", overflow, R=int(draws[i]), r=r)
             for i in range(x.size)]
    assert got.raw.tolist() == [i.raw for i in infos]
    assert (c.inexact, c.rounded_up, c.overflowed) == (
        sum(i.inexact for i in infos), sum(i.rounded_up for i in infos),
        sum(i.overflowed for i in infos))
