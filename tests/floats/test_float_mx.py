"""MX block formats (issue 16, point 4): the E8M0 scale and the elements against the Fraction
reference (OCP MX v1.0 §6.3 in Fractions), against gfloat's quantize_block for nearest-even,
and stochastic elements with one draw per element in C order."""
import math
from fractions import Fraction

import numpy as np
import pytest

from fxsim import FloatFormat
from fxsim.mx import MX_FORMATS, mx_quantize
from float_reference import exponent, fmt_of, ref_decode, ref_float_cast


def ref_fmt(f):
    return fmt_of(f.exp_bits, f.man_bits, f.nonfinite, f.bias, f.subnormals)


def ref_mx_block(vals, name, rounding="nearest_even", R=None, r=None):
    """(scale exponent, element codes) of one block of 32 exact values."""
    f = FloatFormat.parse(MX_FORMATS[name])
    rf = ref_fmt(f)
    amax = max(abs(Fraction(v)) for v in vals)
    emax = max(exponent(abs(ref_decode(c, rf))) for c in range(1, 1 << (f.nbits - 1))
               if not isinstance(ref_decode(c, rf), str))
    k = -127 if amax == 0 else min(max(exponent(amax) - emax, -127), 127)
    codes = [ref_float_cast(Fraction(v) / Fraction(2) ** k, rf, rounding, "saturate",
                            R=None if R is None else int(R[i]), r=r) for i, v in enumerate(vals)]
    return k, codes


def blocks(n_blocks, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_blocks, 32)) * 2.0 ** rng.integers(-60, 60, (n_blocks, 1))
    x[0] = 0.0
    x[1, :] = 0.0
    x[1, 5] = -3e-40
    x[2] *= 1e35                        # the scale clips at 2**127 ...
    x[2, 3] = 1e-300                    # ... and this element leaves float64's normal range
    return x


@pytest.mark.parametrize("name", sorted(MX_FORMATS))
@pytest.mark.parametrize("rounding", ["nearest_even", "toward_zero", "away_from_zero"])
def test_against_reference(name, rounding):
    x = blocks(12, 1)
    a = mx_quantize(x.reshape(3, 128), name, rounding)
    sc = a.scales.reshape(-1)
    el = a.elements.raw.reshape(-1, 32)
    for b in range(x.shape[0]):
        k, codes = ref_mx_block(x[b].tolist(), name, rounding)
        assert int(sc[b]) - 127 == k and el[b].tolist() == codes, (name, b)
    f = FloatFormat.parse(MX_FORMATS[name])
    want = [float(ref_decode(c, ref_fmt(f)) * Fraction(2) ** (int(sc[i // 32]) - 127))
            for i, c in enumerate(el.reshape(-1).tolist())]
    assert a.to_float().reshape(-1).tolist() == want


def test_stochastic_elements():
    x = blocks(4, 2)
    R = np.random.default_rng(3).integers(0, 2**8, x.size, dtype=np.uint64)
    a = mx_quantize(x, "mxfp6_e2m3", "stochastic", r=8, draws=R.reshape(x.shape))
    for b in range(4):
        k, codes = ref_mx_block(x[b].tolist(), "mxfp6_e2m3", "stochastic", R=R[32 * b:32 * b + 32], r=8)
        assert int(a.scales.reshape(-1)[b]) - 127 == k and a.elements.raw[b].tolist() == codes


gfloat = pytest.importorskip("gfloat")
import gfloat.formats  # noqa: E402

GF = {"mxfp8_e4m3": "format_info_mxfp8_e4m3", "mxfp8_e5m2": "format_info_mxfp8_e5m2",
      "mxfp6_e3m2": "format_info_mxfp6_e3m2", "mxfp6_e2m3": "format_info_mxfp6_e2m3",
      "mxfp4_e2m1": "format_info_mxfp4_e2m1"}


@pytest.mark.parametrize("name", sorted(GF))
def test_gfloat_quantize_block(name):
    """gfloat.quantize_block with compute_scale_amax (nearest-even), block by block."""
    fi = getattr(gfloat.formats, GF[name])
    x = blocks(40, 4)[3:]                          # values gfloat's float scaling keeps exact
    ours = mx_quantize(x, name).to_float()
    for b in range(x.shape[0]):
        theirs = gfloat.quantize_block(fi, x[b], gfloat.compute_scale_amax)
        assert np.array_equal(ours[b], theirs), (name, b)


def test_refusals():
    with pytest.raises(ValueError, match="fmt must be one of"):
        mx_quantize(np.zeros(32), "mxint9")
    with pytest.raises(ValueError, match="multiple of 32"):
        mx_quantize(np.zeros(31))
    with pytest.raises(ValueError, match="finite"):
        mx_quantize(np.full(32, math.inf))


# -- MXINT8 (OCP MX v1.0: 8-bit two's complement elements with an implicit scale 2**-6) --------

def ref_mxint8_block(vals, rounding="nearest_even", R=None, r=None):
    """(scale exponent, element words): emax_elem = 0, elements rounded (spec §2) to multiples of
    2**-6 and clamped to ±127 (the spec's range ±(1 + 63/64))."""
    from reference import ref_round
    amax = max(abs(Fraction(v)) for v in vals)
    k = -127 if amax == 0 else min(max(exponent(amax), -127), 127)
    words = []
    for i, v in enumerate(vals):
        t = Fraction(v) / Fraction(2) ** k * 64
        q = ref_round(t, rounding, R=None if R is None else int(R[i]), r=r)
        words.append(min(max(q, -127), 127))
    return k, words


@pytest.mark.parametrize("rounding", ["nearest_even", "toward_zero", "floor", "nearest_away"])
def test_mxint8_against_reference(rounding):
    x = blocks(12, 3)
    a = mx_quantize(x.reshape(3, 128), "mxint8", rounding)
    assert str(a.elements.fmt) in ("Q2.6", "Q(8,6)") or a.elements.fmt.wl == 8
    el = a.elements.raw.reshape(-1, 32)
    for b in range(x.shape[0]):
        k, words = ref_mxint8_block(x[b].tolist(), rounding)
        assert int(a.scales.reshape(-1)[b]) - 127 == k
        assert el[b].tolist() == words, b
    assert (a.elements.raw != -128).all()
    got = a.to_float().reshape(-1, 32)
    for b in range(x.shape[0]):
        k, words = ref_mxint8_block(x[b].tolist(), rounding)
        assert got[b].tolist() == [float(Fraction(w, 64) * Fraction(2) ** k) for w in words]


def test_mxint8_stochastic_draws():
    """SR elements take one draw per element in C order: the same words as explicit draws."""
    import fxsim
    x = blocks(4, 5)
    src = fxsim.make_source("pcg64", seed=9)
    twin = src.copy()
    a = mx_quantize(x, "mxint8", "stochastic", r=12, source=src)
    R = twin.draws(x.size, 12)
    for b in range(x.shape[0]):
        k, words = ref_mxint8_block(x[b].tolist(), "stochastic", R=R[32 * b:32 * b + 32], r=12)
        assert a.elements.raw[b].tolist() == words
    assert src.state == twin.state
    with pytest.raises(ValueError, match="mxint8"):
        mx_quantize(x, "mxint4")
