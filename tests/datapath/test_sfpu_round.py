"""Tenstorrent SFPSTOCHRND bit for bit (issue 18): ``fxsim.vendor_rounding.sfpu_round`` against
a plain-Python transliteration of the vendor's functional model (tests/oracles/vendor_ref.py:
sign-magnitude words, ``(Mag & 0x7fffff) >= PRNGBits``), fed by the same random words or by the
``tenstorrent:sfpu`` source and the oracle's own re-implementation of its PRNG."""
import numpy as np
import pytest

import fxsim
from fxsim.vendor_rounding import sfpu_round
from tests.oracles.vendor_ref import VendorRef, sfpstochrnd_int

Q8, UQ8 = fxsim.QFormat(8, 0), fxsim.QFormat(8, 0, signed=False)


def _words(n, rng):
    """Sign-magnitude words: small magnitudes, exact multiples of the shift, and large ones."""
    mag = np.concatenate([rng.integers(0, 1 << 12, n // 3), rng.integers(0, 256, n // 3) << 8,
                          rng.integers(0, 1 << 31, n - 2 * (n // 3))])
    sign = rng.integers(0, 2, n)
    return mag, sign


def _value(mag, sign, shift):
    return np.where(sign == 1, -1.0, 1.0) * mag.astype(np.float64) / 2.0 ** shift


def _sm_to_int(w):
    return -(w & 0x7FFFFFFF) if w & 0x80000000 else w


@pytest.mark.parametrize("to_uint8", [False, True])
@pytest.mark.parametrize("shift", [0, 1, 8, 13, 23, 24, 31])
def test_words_match_the_functional_model(shift, to_uint8):
    rng = np.random.default_rng(shift + 100 * to_uint8)
    mag, sign = _words(600, rng)
    prng = rng.integers(0, 1 << 32, mag.size, dtype=np.uint64)
    prng[::7] = 0                      # R = 0: an exact value goes up too
    prng[1::7] = 0x7FFFFF              # the largest R
    got = sfpu_round(_value(mag, sign, shift), UQ8 if to_uint8 else Q8,
                     draws=prng & np.uint64(0x7FFFFF)).raw.astype(np.int64)
    want = [_sm_to_int(sfpstochrnd_int((int(s) << 31) | int(m), shift, int(p), to_uint8))
            for m, s, p in zip(mag, sign, prng)]
    assert got.tolist() == want


def test_round_half_away_without_random_bits():
    rng = np.random.default_rng(7)
    mag, sign = _words(300, rng)
    got = sfpu_round(_value(mag, sign, 4), Q8, stochastic=False).raw.astype(np.int64)
    want = [_sm_to_int(sfpstochrnd_int((int(s) << 31) | int(m), 4, 0, stochastic=False))
            for m, s in zip(mag, sign)]
    assert got.tolist() == want


def test_fed_by_the_sfpu_source_as_the_hardware_pairs_them():
    x = np.linspace(-3.0, 3.0, 257)
    src = fxsim.make_source("tenstorrent:sfpu", 11)
    got = sfpu_round(x, "Q(8,4)", source=src).raw.astype(np.int64)
    prng = VendorRef("tenstorrent:sfpu", 11).draws(x.size, 23)
    mag = np.round(np.abs(x) * 2**20).astype(np.int64)          # x on a 2^-20 grid, shift 16
    want = [_sm_to_int(sfpstochrnd_int((int(v < 0) << 31) | int(m), 16, int(p)))
            for v, m, p in zip(x, mag, prng)]
    assert got.tolist() == want
    assert src.draws(1, 23)[0] == VendorRef("tenstorrent:sfpu", 11).draws(x.size + 1, 23)[-1]


def test_exact_values_go_up_only_when_r_is_zero_and_negatives_round_by_magnitude():
    x = np.array([2.0, -2.0, 2.0, -2.25, -2.25])
    r = np.array([0, 0, 1, 0x200000, 0x200001], dtype=np.uint64)  # D(0.25) = 0x200000
    assert sfpu_round(x, Q8, draws=r).raw.tolist() == [3, -3, 2, -3, -2]


def test_refusals_take_no_draw():
    src = fxsim.make_source("tenstorrent:sfpu", 3)
    before = src.draws(4, 23).tolist()
    src = fxsim.make_source("tenstorrent:sfpu", 3)
    for kw, word in [(dict(x=[np.nan]), "x"), (dict(x=[1.0], fmt="Q(40,0)"), "fmt"),
                     (dict(x=[1.0], draws=np.array([1 << 23])), "draws")]:
        args = dict(dict(fmt=Q8), **kw)
        with pytest.raises(ValueError, match=word):
            sfpu_round(args.pop("x"), args.pop("fmt"), source=None if "draws" in args else src, **args)
    assert src.draws(4, 23).tolist() == before
