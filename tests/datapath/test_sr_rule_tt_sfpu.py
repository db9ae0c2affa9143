"""sr_rule="tt_sfpu": Tenstorrent SFPSTOCHRND bit for bit in the kernels (issue 18).  Every path
against the Fraction oracle (tests/oracles/reference.py ``tt_sfpu_round``, written from the
vendor's sign-magnitude model), exhaustively over small formats; against plain-Python
transliterations of tt-isa-documentation's functional models (tests/oracles/vendor_ref.py:
``SFPSTOCHRND_IntInt.md`` and ``SFPSTOCHRND_FloatFloat.md``) at the hardware's 23 random bits,
fed by explicit words and by the ``tenstorrent:sfpu`` source; and big, threaded casts against a
numpy sign-magnitude model."""
import itertools
from fractions import Fraction

import numpy as np
import pytest

import reference as ref
import float_reference as fref
from tests.oracles.vendor_ref import VendorRef, sfpstochrnd_fp32, sfpstochrnd_int

import fxsim
from fxsim import CastMode, FixedArray, QFormat

RULE = "tt_sfpu"
EPS = Fraction(1, 4)


def _kw(rounding, r, R, v=None):
    kw = dict(r=r, sr_rule=RULE, draws=R)
    if rounding != "stochastic":
        kw["eps"] = EPS
    if rounding == "signed_stochastic_eps":
        kw["v"] = v
    return kw


def _want(values, fmt, rounding, overflow, r, R, v):
    """Oracle words and counters (cast, inexact, rounded up, overflowed) of each value."""
    infos = [ref.ref_cast_info(t, fmt.wl, fmt.fl, fmt.signed, rounding, overflow, R=int(Ri), r=r,
                               eps=EPS if rounding != "stochastic" else 0, v=int(vi), sr_rule=RULE)
             for t, Ri, vi in zip(values, R, v)]
    return ([i.raw for i in infos], sum(i.inexact for i in infos), sum(i.rounded_up for i in infos),
            sum(i.overflowed for i in infos))


@pytest.mark.parametrize("rounding", ["stochastic", "stochastic_eps", "signed_stochastic_eps"])
@pytest.mark.parametrize("overflow", ["saturate", "saturate_symmetric", "wrap"])
def test_every_word_and_draw_of_a_small_format(rounding, overflow):
    """Q(8,5) -> Q(5,1) (4 discarded bits, r = 3: exact values, ties, negatives, saturation),
    every input word against every R, from raw words (integer path) and from float64."""
    r, fin, fo = 3, QFormat(8, 5), QFormat(5, 1)
    raws = np.arange(fin.min_raw, fin.max_raw + 1)
    vals = [Fraction(int(w), 1 << fin.fl) for w in raws]
    v = np.array([(-1, 1, 0)[int(w) % 3] for w in raws], dtype=np.int64)
    x = FixedArray(raws.astype(fin.dtype), fin)
    for R0 in range(1 << r):
        R = np.full(raws.size, R0, dtype=np.uint64)
        words, inexact, up, ovf = _want(vals, fo, rounding, overflow, r, R, v)
        for inp in (x, raws / 2.0**fin.fl):
            with fxsim.Counters() as c:
                got = fxsim.cast(inp, fo, rounding, overflow, **_kw(rounding, r, R, v))
            assert got.raw.tolist() == words, (R0, type(inp))
            assert (c.inexact, c.rounded_up, c.overflowed, c.draws) == (inexact, up, ovf, raws.size)


@pytest.mark.parametrize("r", [1, 13, 23, 40, 64])
def test_widening_and_wide_words_move_exact_values(r):
    """No discarded bits (s <= 0, the shift paths) and 64-bit words (the 128-bit path): an
    exact value still moves one LSB away from zero when R = 0, and only then."""
    rng = np.random.default_rng(r)
    raws = rng.integers(-2**20, 2**20, 400)
    raws[:4] = [0, 1, -1, -2**20]
    R = rng.integers(0, 2**min(r, 63), raws.size, dtype=np.uint64)
    R[::3] = 0
    for fin, fo in [(QFormat(24, 4), QFormat(32, 6)), (QFormat(24, 4), QFormat(24, 4)),
                    (QFormat(64, 30), QFormat(64, 20)), (QFormat(24, 4), QFormat(40, -2))]:
        x = FixedArray(raws.astype(fin.dtype), fin)
        got = fxsim.cast(x, fo, "stochastic", "saturate", r=r, sr_rule=RULE, draws=R).raw
        want = [ref.ref_cast(Fraction(int(w), 1 << fin.fl), fo.wl, fo.fl, True, "stochastic",
                             "saturate", R=int(Ri), r=r, sr_rule=RULE) for w, Ri in zip(raws, R)]
        assert got.tolist() == want, (fin, fo)


def _sm_to_int(w):
    return -(w & 0x7FFFFFFF) if w & 0x80000000 else w


@pytest.mark.parametrize("to_uint8", [False, True])
@pytest.mark.parametrize("shift", [0, 1, 8, 13, 23, 24, 31])
def test_integer_flavour_is_the_functional_model(shift, to_uint8):
    """SFPSTOCHRND_IntInt.md: a 32-bit sign-magnitude word shifted right by ``shift`` and
    rounded on 23 random bits, clamped to +-127 (INT8: ``saturate_symmetric``) or, sign dropped,
    to 255 (UINT8: the cast of |x|)."""
    rng = np.random.default_rng(shift + 100 * to_uint8)
    mag = np.concatenate([rng.integers(0, 1 << 12, 200), rng.integers(0, 256, 200) << 8,
                          rng.integers(0, 1 << 31, 200)])
    sign = rng.integers(0, 2, mag.size)
    prng = rng.integers(0, 1 << 32, mag.size, dtype=np.uint64)
    prng[::7] = 0
    prng[1::7] = 0x7FFFFF
    x = np.where(sign == 1, -1.0, 1.0) * mag / 2.0**shift
    if to_uint8:
        got = fxsim.cast(np.abs(x), "UQ(8,0)", "stochastic", "saturate", r=23, sr_rule=RULE,
                         draws=prng & np.uint64(0x7FFFFF))
    else:
        got = fxsim.cast(x, "Q(8,0)", mode=CastMode("stochastic", "saturate_symmetric", 23, 0, RULE),
                         draws=prng & np.uint64(0x7FFFFF))
    want = [_sm_to_int(sfpstochrnd_int((int(s) << 31) | int(m), shift, int(p), to_uint8))
            for m, s, p in zip(mag, sign, prng)]
    assert got.raw.astype(np.int64).tolist() == want


def test_fed_by_the_sfpu_source_as_the_hardware_pairs_them():
    x = np.linspace(-3.0, 3.0, 257)
    src = fxsim.make_source("tenstorrent:sfpu", 11)
    got = fxsim.cast(x, "Q(8,4)", "stochastic", "saturate_symmetric", r=23, sr_rule=RULE,
                     source=src).raw.astype(np.int64)
    prng = VendorRef("tenstorrent:sfpu", 11).draws(x.size, 23)
    mag = np.round(np.abs(x) * 2**20).astype(np.int64)
    want = [_sm_to_int(sfpstochrnd_int((int(v < 0) << 31) | int(m), 16, int(p)))
            for v, m, p in zip(x, mag, prng)]
    assert got.tolist() == want


def _fp32_values(rng, n):
    """FP32 bit patterns: random normals of both signs, exact ones (low bits zero), the largest
    finite values (a carry to inf); no subnormals, NaN or inf (the instruction flushes those)."""
    u = rng.integers(0, 1 << 32, n, dtype=np.uint64)
    u[: n // 4] &= ~np.uint64(0xFFFF)
    u[n // 4: n // 4 + 8] = [0x7F7FFFFF, 0xFF7FFFFF, 0x3F800000, 0xBF800000, 0x7F7F0000,
                             0x00800000, 0x80800001, 0x4B7FFFFF]
    e = (u >> np.uint64(23)) & np.uint64(0xFF)
    return u[(e != 0) & (e != 255)].astype(np.uint32)


@pytest.mark.parametrize("fmt, to_fp16a", [("bf16", False), ("tf32", True)])
def test_float_flavour_is_the_functional_model(fmt, to_fp16a):
    """SFPSTOCHRND_FloatFloat.md: FP32 -> 7 (FP16B, bf16) or 10 (FP16A, tf32) mantissa bits,
    ``DiscardedBits >= PRNGBits >> (23 - k)``: fxsim's float SR at r = k with R = those bits."""
    rng = np.random.default_rng(5 + to_fp16a)
    u = _fp32_values(rng, 3000)
    prng = rng.integers(0, 1 << 32, u.size, dtype=np.uint64)
    prng[::5] = 0
    k = 13 if to_fp16a else 16
    R = (prng & np.uint64(0x7FFFFF)) >> np.uint64(23 - k)
    got = fxsim.cast(u.view(np.float32).astype(np.float64), fxsim.FloatFormat.parse(fmt),
                     "stochastic", "ieee", r=k,
                     sr_rule=RULE, draws=R).to_float()
    want = np.array([sfpstochrnd_fp32(int(b), int(p), to_fp16a) for b, p in zip(u, prng)],
                    dtype=np.uint32).view(np.float32).astype(np.float64)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("rounding", ["stochastic", "stochastic_eps", "signed_stochastic_eps"])
def test_float_casts_against_the_float_oracle(rounding):
    """Every e2m1-style small float: exact values move, magnitudes round, eps biases."""
    f = fxsim.FloatFormat.parse("e4m3")
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-300, 300, 300), np.array([1.0, -1.0, 0.0, 448.0, -2.0])])
    r = 4
    R = rng.integers(0, 1 << r, x.size, dtype=np.uint64)
    R[::4] = 0
    v = rng.integers(-1, 2, x.size)
    got = fxsim.cast(x, f, rounding, "saturate", **_kw(rounding, r, R, v)).raw
    fr = fref.NAMED["e4m3"]
    want = [fref.ref_float_cast(float(xi), fr, rounding, "saturate", R=int(Ri), r=r,
                                eps=EPS if rounding != "stochastic" else 0, v=int(vi), sr_rule=RULE)
            for xi, Ri, vi in zip(x, R, v)]
    assert got.astype(np.int64).tolist() == want


@pytest.mark.parametrize("op", ["add", "mul"])
def test_operations_round_by_the_rule(op):
    fa, fb, fo = QFormat(6, 3), QFormat(5, 2), QFormat(6, 1)
    ra = np.repeat(np.arange(fa.min_raw, fa.max_raw + 1), 32)
    rb = np.tile(np.arange(fb.min_raw, fb.max_raw + 1), 64)
    r = 3
    R = np.random.default_rng(1).integers(0, 1 << r, ra.size, dtype=np.uint64)
    got = getattr(fxsim, op)(FixedArray(ra.astype(np.int8), fa), FixedArray(rb.astype(np.int8), fb),
                             fo, "stochastic", "saturate", r=r, sr_rule=RULE, draws=R).raw
    refop = ref.ref_add if op == "add" else ref.ref_mul
    want = [refop(int(a), (6, 3, True), int(b), (5, 2, True), (6, 1, True), "stochastic",
                  "saturate", R=int(Ri), r=r, sr_rule=RULE) for a, b, Ri in zip(ra, rb, R)]
    assert got.tolist() == want


def test_matmul_accumulator_rounds_by_the_rule():
    """The accumulator cast of a MAC (spec §4 order, draws k ascending per output element)."""
    rng = np.random.default_rng(2)
    fa, fb, acc = QFormat(6, 3), QFormat(6, 3), QFormat(10, 4)
    A = rng.integers(-32, 32, (5, 7))
    B = rng.integers(-32, 32, (7, 3))
    r = 4
    R = rng.integers(0, 1 << r, 5 * 3 * 7, dtype=np.uint64)
    R[::3] = 0
    got = fxsim.matmul(FixedArray(A.astype(np.int8), fa), FixedArray(B.astype(np.int8), fb),
                       acc=acc, rounding="stochastic", r=r, sr_rule=RULE, draws=R).raw
    d = 0
    for i, j in itertools.product(range(5), range(3)):
        s = Fraction(0)
        for k in range(7):
            t = s + Fraction(int(A[i, k]) * int(B[k, j]), 1 << 6)
            s = Fraction(ref.ref_cast(t, 10, 4, True, "stochastic", "saturate", R=int(R[d]), r=r,
                                      sr_rule=RULE), 16)
            d += 1
        assert got[i, j] == int(s * 16), (i, j)


def _numpy_model(raw, s, R, r, lo, hi):
    """Sign-magnitude rounding of raw * 2**-s (s >= 1) in numpy: the magnitude's top r discarded
    bits against R, the sign put back, then clamped."""
    mag = np.abs(raw)
    q = mag >> s
    D = ((mag & ((1 << s) - 1)) << r) >> s
    y = np.where(raw < 0, -1, 1) * (q + (D >= R.astype(np.int64)))
    return np.clip(y, lo, hi)


def test_big_threaded_casts_from_the_source_equal_the_stream():
    """2^19 elements (several threads, private jumped copies of the source) equal the numpy
    model fed by the same stream drawn in order; the source ends where the stream does."""
    n, r = 1 << 19, 23
    rng = np.random.default_rng(9)
    raw = rng.integers(-2**20, 2**20, n)
    raw[::11] &= ~0xFFF               # exact values
    x = raw / 2.0**12
    src = fxsim.make_source("tenstorrent:sfpu", 4)
    twin = fxsim.make_source("tenstorrent:sfpu", 4)
    got = fxsim.cast(x, "Q(16,0)", "stochastic", "saturate", r=r, sr_rule=RULE, source=src).raw
    R = twin.draws(n, r)
    assert np.array_equal(got, _numpy_model(raw, 12, R, r, -2**15, 2**15 - 1))
    assert src.draws(4, r).tolist() == twin.draws(4, r).tolist()
    got = fxsim.cast(FixedArray(raw.astype(np.int32), "Q(24,12)"), "Q(16,0)", "stochastic",
                     "saturate", r=r, sr_rule=RULE, draws=R).raw
    assert np.array_equal(got, _numpy_model(raw, 12, R, r, -2**15, 2**15 - 1))


def test_the_rule_is_a_public_name_everywhere():
    assert RULE in fxsim.SR_RULES
    m = CastMode("stochastic", r=23, sr_rule=RULE)
    assert m.cast_kwargs()["sr_rule"] == RULE and "sr_rule='tt_sfpu'" in repr(m)
    with pytest.raises(ValueError, match="sr_rule must be one of .*tt_sfpu"):
        CastMode("stochastic", r=23, sr_rule="tt")
    from fxsim.accelerator import Accelerator
    acc = Accelerator("Q(8,4)", "Q(8,4)", casts={"grad": "stochastic"}, r=23, sr_rule=RULE,
                      source="tenstorrent:sfpu")
    assert acc.mode("grad").sr_rule == RULE


def test_sweep_files_take_the_rule_and_name_it_when_refused():
    from fxsim.sweep import SweepConfig
    from fxsim.sweep.config import ConfigError
    cfg = {"sweep": {"seed": 1}, "run": {"model": "quadratic", "model_params": {"d": 3, "cond": 10.0},
           "algorithm_params": {"t": 0.05}, "format": "Q8.8",
           "accelerator": {"r": 23, "sr_rule": RULE}, "source": "tenstorrent:sfpu",
           "iterations": 3, "strategy": "SR"}}
    assert SweepConfig(cfg).runs[0]["params"]["accelerator"]["sr_rule"] == RULE
    cfg["run"]["accelerator"]["sr_rule"] = "tt"
    with pytest.raises(ConfigError, match="sr_rule: must be one of .*tt_sfpu"):
        SweepConfig(cfg)
