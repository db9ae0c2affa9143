"""FloatFormat and FloatArray (issue 16, point 1): names, derived constants, validation, and the
decode of every code of every format of at most 8 bits against the Fraction reference
(tests/oracles/float_reference.py) and against ml_dtypes' own decode."""
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

import fxsim
from fxsim import FloatArray, FloatFormat
from float_reference import NAMED, fmt_of, max_finite, ref_decode

ml_dtypes = pytest.importorskip("ml_dtypes")


def small_formats():
    """Every FloatFormat of at most 8 bits with the default bias: each nonfinite kind it
    allows, with and without subnormals."""
    out = []
    for e in range(1, 8):
        for m in range(0, 8 - e):
            for nf in ("ieee", "fn", "none"):
                if nf == "ieee" and (e < 2 or m < 1) or nf == "fn" and e + m < 2:
                    continue
                for sub in (True, False):
                    out.append(FloatFormat(e, m, nonfinite=nf, subnormals=sub))
    return out


SMALL = small_formats()


def ref_fmt(f: FloatFormat):
    return fmt_of(f.exp_bits, f.man_bits, f.nonfinite, f.bias, f.subnormals)


def test_small_formats_count():
    assert len(SMALL) == 2 * (28 + 27 + 21 - 6)   # fn: e+m >= 2; ieee: e >= 2, m >= 1


@pytest.mark.parametrize("f", SMALL, ids=repr)
def test_decode_every_code(f):
    """to_float of every code equals the reference's exact value (NaN, ±inf, −0 included)."""
    rf = ref_fmt(f)
    codes = np.arange(1 << f.nbits)
    got = FloatArray(codes, f).to_float()
    for c in codes.tolist():
        want = ref_decode(c, rf)
        g = got[c]
        if want == "nan":
            assert math.isnan(g), (f, c)
        elif want in ("inf", "-inf"):
            assert g == (math.inf if want == "inf" else -math.inf), (f, c)
        else:
            assert Fraction(float(g)) == want, (f, c, g, want)
            if want == 0:
                assert math.copysign(1.0, g) == (-1.0 if c >> (f.nbits - 1) else 1.0)


ML = {"bf16": ml_dtypes.bfloat16, "fp16": np.float16, "e4m3": ml_dtypes.float8_e4m3fn,
      "e5m2": ml_dtypes.float8_e5m2, "e2m3": ml_dtypes.float6_e2m3fn,
      "e3m2": ml_dtypes.float6_e3m2fn, "e2m1": ml_dtypes.float4_e2m1fn,
      "float8_e4m3": ml_dtypes.float8_e4m3, "float8_e3m4": ml_dtypes.float8_e3m4}


@pytest.mark.parametrize("name", sorted(ML))
def test_decode_matches_ml_dtypes(name):
    """Every code of the format decodes as ml_dtypes decodes it (16-bit formats: all 65536)."""
    f = FloatFormat.parse(name)
    dt = ML[name]
    codes = np.arange(1 << f.nbits, dtype=np.uint64)
    if f.nbits in (8, 16):
        theirs = codes.astype(f.dtype).view(dt).astype(np.float64)
    else:       # fp6 and fp4 live in the low bits of a byte in ml_dtypes
        theirs = codes.astype(np.uint8).view(dt).astype(np.float64)
    ours = FloatArray(codes, f).to_float()
    same = (ours == theirs) | (np.isnan(ours) & np.isnan(theirs))
    assert same.all(), codes[~same][:5]
    assert (np.signbit(ours) == np.signbit(theirs))[~np.isnan(ours)].all()


def test_fp32_decode_random_codes():
    codes = np.random.default_rng(1).integers(0, 2**32, 200000, dtype=np.uint64).astype(np.uint32)
    ours = FloatArray(codes, "fp32").to_float()
    theirs = codes.view(np.float32).astype(np.float64)
    assert ((ours == theirs) | (np.isnan(ours) & np.isnan(theirs))).all()


@pytest.mark.parametrize("name", sorted(NAMED))
def test_named_constants(name):
    """max, min normal, min subnormal, eps, container and bit count of the named formats, from
    the reference's decode."""
    f = FloatFormat.parse(name)
    rf = NAMED[name]
    assert (f.exp_bits, f.man_bits, f.bias, f.subnormals, f.nonfinite) == rf
    assert Fraction(f.max) == max_finite(rf)
    assert Fraction(f.min_normal) == ref_decode(1 << f.man_bits, rf)
    assert Fraction(f.min_subnormal) == ref_decode(1, rf)
    assert Fraction(f.eps) == ref_decode((f.bias << f.man_bits) + 1, rf) - 1
    assert f.dtype == np.dtype({8: np.uint8, 16: np.uint16, 32: np.uint32}[
        8 if f.nbits <= 8 else 16 if f.nbits <= 16 else 32])


def test_known_values():
    assert FloatFormat.parse("e4m3").max == 448 and FloatFormat.parse("e5m2").max == 57344
    assert FloatFormat.parse("e2m1").max == 6 and FloatFormat.parse("e2m3").max == 7.5
    assert FloatFormat.parse("e3m2").max == 28 and FloatFormat.parse("bf16").nbits == 16
    assert FloatFormat.parse("tf32").nbits == 19 and FloatFormat.parse("tf32").dtype == np.uint32
    assert FloatFormat.parse("fp16").max == 65504


@pytest.mark.parametrize("text,want", [
    ("BF16", FloatFormat(8, 7)), ("E5M10", FloatFormat(5, 10)), ("e4m3", FloatFormat(4, 3, nonfinite="fn")),
    ("float8_e4m3fn", FloatFormat(4, 3, nonfinite="fn")), ("e3m4", FloatFormat(3, 4)),
    ("E2M1", FloatFormat(2, 1, nonfinite="none")), ("e4m3fn", FloatFormat(4, 3, nonfinite="fn")),
    ("e6m1none", FloatFormat(6, 1, nonfinite="none")),
])
def test_parse(text, want):
    assert FloatFormat.parse(text) == want
    assert FloatFormat.parse(str(want)) == want
    assert eval(repr(want), {"FloatFormat": FloatFormat}) == want


@pytest.mark.parametrize("kw,msg", [
    (dict(exp_bits=0, man_bits=3), "exp_bits must be an integer in"),
    (dict(exp_bits=12, man_bits=3), "exp_bits must be an integer in"),
    (dict(exp_bits=4, man_bits=53), "man_bits must be an integer in"),
    (dict(exp_bits=4, man_bits=3, nonfinite="inf"), "nonfinite must be one of"),
    (dict(exp_bits=1, man_bits=3), "nonfinite='ieee' needs exp_bits >= 2"),
    (dict(exp_bits=4, man_bits=0), "nonfinite='ieee' needs exp_bits >= 2 and man_bits >= 1"),
    (dict(exp_bits=8, man_bits=7, bias=-1000), "outside float64"),
    (dict(exp_bits=4, man_bits=3, subnormals=1), "subnormals must be True or False"),
])
def test_validation(kw, msg):
    with pytest.raises(ValueError, match=msg):
        FloatFormat(**kw)


def test_parse_errors():
    with pytest.raises(ValueError, match="unknown float format 'q8.8'"):
        FloatFormat.parse("q8.8")
    with pytest.raises(ValueError, match="float format must be"):
        FloatFormat.parse(3)


def test_floatarray_checks_and_views():
    with pytest.raises(ValueError, match="outside e4m3's codes"):
        FloatArray([256], "e4m3")
    with pytest.raises(ValueError, match="integer codes"):
        FloatArray([1.5], "e4m3")
    raw = np.array([0x3C, 0xBC], dtype=np.int64)
    a = FloatArray(raw, "e4m3")
    raw[0] = 0                                   # the FloatArray holds its own copy
    assert a.raw.dtype == np.uint8 and a.raw.tolist() == [0x3C, 0xBC]
    assert a.to_float().tolist() == [1.5, -1.5]
    assert a.to_hex().tolist() == ["3c", "bc"] and a.to_bin().tolist() == ["00111100", "10111100"]
    assert a.sign.tolist() == [0, 1] and a.exponent.tolist() == [7, 7] and a.mantissa.tolist() == [4, 4]
    assert FloatArray([0x3C], FloatFormat(4, 3, nonfinite="fn")).identical(a[:1])
    e2m1 = FloatArray(np.arange(16), "e2m1")
    assert e2m1.to_hex().tolist()[:3] == ["0", "1", "2"]


def test_exports():
    assert fxsim.FloatFormat is FloatFormat and fxsim.FloatArray is FloatArray
    assert list(itertools.islice(SMALL, 1))
