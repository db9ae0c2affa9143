"""Casts into float formats (issue 16, points 2 and 5): every deterministic mode and overflow
mode against the Fraction reference (tests/oracles/float_reference.py) on many exact values
around every code of the <= 8-bit formats (the codes, the midpoints between neighbours, one
float64 ulp either side of both, the subnormal and overflow boundaries), hypothesis for
bf16/fp16/fp32, and bit for bit against ml_dtypes' astype and APyTypes' APyFloat casts."""
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fxsim
from fxsim import FloatArray, FloatFormat
from float_reference import fmt_of, max_finite, ref_decode, ref_float_cast_info
from test_float_formats import SMALL

DET = ("nearest_even", "nearest_away", "toward_zero", "away_from_zero", "floor", "ceil",
       "round_to_odd")
OVF = ("saturate", "ieee", "error")


def ref_fmt(f: FloatFormat):
    return fmt_of(f.exp_bits, f.man_bits, f.nonfinite, f.bias, f.subnormals)


def probe_values(f: FloatFormat) -> np.ndarray:
    """Exact float64 inputs around every non-negative finite value of f, and their negatives:
    the values, the midpoints between neighbours, one float64 ulp either side of both, beyond
    the largest value (its midpoint with the next binade step, 2x, 1e300), below the smallest,
    zeros, ±inf and NaN (where the format has NaN)."""
    rf = ref_fmt(f)
    vals = sorted({ref_decode(c, rf) for c in range(1 << (f.nbits - 1))} - {"nan", "inf"})
    vals = [float(v) for v in vals]
    top = float(max_finite(rf))
    step = float(Fraction(2) ** (f.emax - f.man_bits))
    pts = list(vals)
    pts += [(a + b) / 2 for a, b in zip(vals, vals[1:])]
    pts += [top + step / 2, top + step, 2 * top, 1e300, 5e-324, vals[1] / 2, vals[1] / 4,
            vals[1] * 0.75]
    pts = np.array(pts, dtype=np.float64)
    pts = np.concatenate([pts, np.nextafter(pts, np.inf), np.nextafter(pts, -np.inf)])
    pts = np.unique(pts[pts >= 0])
    out = np.concatenate([pts, -pts, [-0.0, np.inf, -np.inf]])
    if f.has_nan:
        out = np.concatenate([out, [np.nan, -np.nan]])
    return out


def check_format(f: FloatFormat, roundings=DET, overflows=OVF, thin=1):
    """Every probe value (every ``thin``-th) through every mode: codes and counters against
    the reference."""
    rf = ref_fmt(f)
    xs = probe_values(f)[::thin]
    for rounding in roundings:
        for overflow in overflows:
            want, infos, raises = [], [], []
            # 'error' differs from 'saturate' only where it raises: every fourth probe suffices
            for x in (xs[::4] if overflow == "error" else xs).tolist():
                try:
                    info = ref_float_cast_info(x, rf, rounding, overflow)
                    want.append(info[0])
                    infos.append(info)
                    raises.append(False)
                except (ValueError, OverflowError):
                    want.append(0)
                    raises.append(True)
            raises = np.array(raises)
            ok = (xs[::4] if overflow == "error" else xs)[~raises]
            with fxsim.Counters() as cnt:
                got = fxsim.cast(ok, f, rounding, overflow).raw
            exp = np.array(want)[~raises]
            bad = np.nonzero(got != exp)[0]
            assert bad.size == 0, (f, rounding, overflow, [(ok[i], hex(got[i]), hex(exp[i])) for i in bad[:5]])
            assert cnt.cast == ok.size
            assert cnt.inexact == sum(bool(i[1]) for i in infos)
            assert cnt.rounded_up == sum(bool(i[2]) for i in infos)
            assert cnt.overflowed == sum(bool(i[3]) for i in infos)
            for x in (xs[::4] if overflow == "error" else xs)[raises][:8]:   # refused alone too
                with pytest.raises((ValueError, OverflowError)):
                    fxsim.cast(np.array([x]), f, rounding, overflow)
    return xs.size


OCP = [FloatFormat.parse(n) for n in ("e4m3", "e5m2", "e2m3", "e3m2", "e2m1")]
CUSTOM = [FloatFormat(4, 3, nonfinite="fn", subnormals=False), FloatFormat(3, 4, bias=5),
          FloatFormat(5, 2, subnormals=False), FloatFormat(2, 0, nonfinite="none"),
          FloatFormat(1, 6, nonfinite="fn")]


@pytest.mark.parametrize("f", OCP, ids=repr)
def test_every_code_every_mode(f):
    """The fast version for the OCP formats: every other probe value (all of them in the slow
    test over every <= 8-bit format)."""
    check_format(f, thin=2)


@pytest.mark.parametrize("f", CUSTOM, ids=repr)
def test_every_code_custom_formats(f):
    """The fast version for formats beyond OCP (no subnormals, another bias, no mantissa,
    one exponent bit): every fifth probe value, every mode."""
    check_format(f, thin=5)


@pytest.mark.slow
@pytest.mark.parametrize("f", SMALL, ids=repr)
def test_every_code_every_mode_all_small_formats(f):
    check_format(f)


WIDE = [FloatFormat.parse(n) for n in ("bf16", "fp16", "fp32", "tf32")] + [
    FloatFormat(8, 7, subnormals=False)]
finite = st.floats(allow_nan=False, allow_infinity=False)
tiny = st.floats(min_value=-1e-36, max_value=1e-36)


@pytest.mark.parametrize("f", WIDE, ids=repr)
@settings(max_examples=150, deadline=None)
@given(x=st.one_of(finite, tiny, st.floats(min_value=-1e5, max_value=1e5)),
       rounding=st.sampled_from(DET), overflow=st.sampled_from(("saturate", "ieee")))
def test_hypothesis_wide(f, x, rounding, overflow):
    code, inexact, up, ovf = ref_float_cast_info(x, ref_fmt(f), rounding, overflow)
    with fxsim.Counters() as c:
        got = fxsim.cast(np.array([x]), f, rounding, overflow)
    assert int(got.raw[0]) == code
    assert (c.inexact, c.rounded_up, c.overflowed) == (int(inexact), int(up), int(ovf))


def random_inputs(n=200000, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * 10.0 ** rng.integers(-45, 40, n)
    bits = rng.integers(0, 2**63, n // 4, dtype=np.int64).view(np.float64)   # any pattern
    return np.concatenate([x, bits, -bits, [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324]])


ml_dtypes = pytest.importorskip("ml_dtypes")
ML = {"bf16": ml_dtypes.bfloat16, "fp16": np.float16, "fp32": np.float32,
      "e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2,
      "e2m3": ml_dtypes.float6_e2m3fn, "e3m2": ml_dtypes.float6_e3m2fn,
      "e2m1": ml_dtypes.float4_e2m1fn, "float8_e4m3": ml_dtypes.float8_e4m3,
      "float8_e3m4": ml_dtypes.float8_e3m4}
TALLY = {}


@pytest.mark.parametrize("name", sorted(ML))
def test_ml_dtypes_astype(name):
    """nearest_even casts bit for bit as ml_dtypes' astype: random float64 (any bit pattern)
    and every probe value of the 8-bit formats.  ml_dtypes saturates fp6/fp4 (no NaN there)."""
    f = FloatFormat.parse(name)
    x = random_inputs()
    if f.nbits <= 8:
        x = np.concatenate([x, probe_values(f)])
    if not f.has_nan:
        x = x[np.isfinite(x)]
    ovf = "ieee" if f.has_nan else "saturate"
    got = fxsim.cast(x, f, "nearest_even", ovf).raw
    with np.errstate(all="ignore"):
        theirs = x.astype(ML[name])
    theirs = theirs.view(f.dtype) if f.nbits in (8, 16, 32) else theirs.view(np.uint8)
    # NaN payloads differ only in the mantissa: compare NaN-ness where the input is NaN
    nan_in = np.isnan(x)
    bad = np.nonzero((got != theirs) & ~nan_in)[0]
    TALLY[name] = (x.size, bad.size)
    assert bad.size == 0, [(x[i], hex(got[i]), hex(theirs[i])) for i in bad[:5]]
    assert np.isnan(FloatArray(got[nan_in], f).to_float()).all()


apy = pytest.importorskip("apytypes")
APY_MODES = {"nearest_even": "TIES_EVEN", "nearest_away": "TIES_AWAY", "toward_zero": "TO_ZERO",
             "away_from_zero": "TO_AWAY", "floor": "TO_NEG", "ceil": "TO_POS",
             "round_to_odd": "JAM_UNBIASED"}


@pytest.mark.parametrize("name", ["bf16", "fp16", "e5m2", "e4m3ieee", "E3M4", "E2M5", "E6M9"])
@pytest.mark.parametrize("rounding", sorted(APY_MODES))
def test_apytypes_apyfloat_cast(name, rounding):
    """IEEE-like formats (inf and NaN at the top exponent), overflow='ieee': bit for bit as
    APyTypes' APyFloatArray.cast from an exact float64 array, in every mode both have."""
    f = FloatFormat.parse(name)
    x = random_inputs(20000, seed=5)
    x = x[np.isfinite(x)]
    if f.nbits <= 8:
        x = np.concatenate([x, probe_values(f)])
        x = x[np.isfinite(x)]
    a = apy.APyFloatArray.from_float(x, 11, 52)
    b = a.cast(f.exp_bits, f.man_bits, quantization=getattr(apy.QuantizationMode, APY_MODES[rounding]))
    theirs = np.asarray(b.to_bits()).astype(np.uint64).ravel()
    got = fxsim.cast(x, f, rounding, "ieee").raw.astype(np.uint64)
    bad = np.nonzero(got != theirs)[0]
    TALLY[f"apy {name} {rounding}"] = (x.size, bad.size)
    assert bad.size == 0, [(x[i], hex(got[i]), hex(theirs[i])) for i in bad[:5]]


def test_inputs_fixed_float_int():
    """FixedArray inputs are exact (64-bit words), FloatArray inputs re-round exactly, Python
    ints beyond 2**53 are exact, float32 arrays convert exactly."""
    q = fxsim.cast(np.array([0.1, -2.5, 127.99609375]), "Q8.8")
    got = fxsim.cast(q, FloatFormat.parse("e4m3"), "round_to_odd").raw
    want = [ref_float_cast_info(Fraction(int(w), 256), ref_fmt(FloatFormat.parse("e4m3")),
                                "round_to_odd", "ieee")[0] for w in q.raw]
    assert got.tolist() == want
    w64 = fxsim.FixedArray(np.array([2**63 - 1, -2**63], dtype=np.int64), "Q(64,0)")
    f = FloatFormat.parse("fp32")
    assert fxsim.cast(w64, f, "toward_zero").raw.tolist() == [
        ref_float_cast_info(v, ref_fmt(f), "toward_zero", "ieee")[0] for v in (2**63 - 1, -2**63)]
    assert int(fxsim.cast(2**60 + 1, f, "ceil").raw) == \
        ref_float_cast_info(2**60 + 1, ref_fmt(f), "ceil", "ieee")[0]
    h = fxsim.cast(np.array([1.0 + 2**-10, 3.0]), FloatFormat.parse("fp16"))
    assert fxsim.cast(h, FloatFormat.parse("e4m3"), "ceil").to_float().tolist() == [1.125, 3.0]
    x32 = np.array([1.1, -3.3e-8], dtype=np.float32)
    assert fxsim.cast(x32, f).raw.tolist() == x32.view(np.uint32).tolist()


def test_refusals():
    e2m1 = FloatFormat.parse("e2m1")
    with pytest.raises(ValueError, match=r"contains NaN \(first at index \(1,\)\); e2m1 has no NaN"):
        fxsim.cast(np.array([1.0, np.nan]), e2m1)
    with pytest.raises(ValueError, match="no infinity"):
        fxsim.cast(np.array([np.inf]), FloatFormat.parse("e4m3"), overflow="error")
    with pytest.raises(OverflowError, match=r"2 element\(s\) overflowed e4m3.*first at index \(1,\)"):
        fxsim.cast(np.array([1.0, 500.0, -600.0]), FloatFormat.parse("e4m3"), overflow="error")
    with pytest.raises(ValueError, match="rounding must be one of nearest_even"):
        fxsim.cast(1.0, e2m1, "nearest_odd")
    with pytest.raises(ValueError, match="overflow must be one of saturate, ieee, error"):
        fxsim.cast(1.0, e2m1, overflow="wrap")
    with pytest.raises(ValueError, match="needs r"):
        fxsim.cast(1.0, e2m1, "stochastic")
    with pytest.raises(ValueError, match="needs a random bit source"):
        fxsim.cast(1.0, e2m1, "stochastic", r=4)
    # jam is the fixed-point name of the same rule
    x = probe_values(FloatFormat.parse("e4m3"))
    assert fxsim.cast(x, FloatFormat.parse("e4m3"), "jam").identical(
        fxsim.cast(x, FloatFormat.parse("e4m3"), "round_to_odd"))


def test_inputs_unchanged_and_threads():
    x = random_inputs(300000, seed=9)
    keep = x.copy()
    f = FloatFormat.parse("bf16")
    n = fxsim.get_num_threads()
    try:
        fxsim.set_num_threads(1)
        one = fxsim.cast(x, f, "nearest_away")
        fxsim.set_num_threads(2)
        two = fxsim.cast(x, f, "nearest_away")
    finally:
        fxsim.set_num_threads(n)
    assert one.identical(two)
    assert np.array_equal(x.view(np.uint64), keep.view(np.uint64))


def test_mode_keyword_and_default_overflow():
    f = FloatFormat.parse("e4m3")
    assert math.isnan(float(fxsim.cast(1000.0, f)))                 # default overflow: ieee
    assert float(fxsim.cast(1000.0, f, mode=fxsim.CastMode("nearest_even", "saturate"))) == 448.0
