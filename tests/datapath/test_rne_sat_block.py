"""The explicit-AVX2 block of nearest_even + saturate float casts into 8-, 16-, 32- and 64-bit words
(`fx_rne_sat` in cysrc/_kernels.pyx: float64 lanes, float32 inputs in float32 lanes, int32
clamps) against an independent numpy computation of the spec: t = x * 2**fl exactly in float64,
rint (ties to even), clip to the word's range, and the counts (inexact: t not an integer; up:
rint(t) > t; overflow: rint(t) outside the range).  Sizes hit the 8-element vector body, the
scalar tail and several 1024-element blocks; inputs hold exact ties, saturating and huge values
(beyond int32), tiny and subnormal values, signed zeros, and +-inf or NaN in one block (the
scalar fallback)."""
import numpy as np
import pytest

import fxsim as fx
from fxsim import QFormat

# (wl, fl, signed): signed and unsigned words of each width (the signed and unsigned packs),
# a narrow range, scale < 1, scale > 2**100 (not the vector block), 32-bit words and 64-bit
# words of at most 51 bits (52 bits: not the vector block)
FORMATS = [(8, 4, True), (8, 3, False), (6, 2, True), (16, 8, True), (16, 8, False),
           (12, -3, True), (16, 0, True), (16, 110, True), (32, 8, True), (31, 4, False),
           (32, 16, True), (40, 20, True), (51, 10, False), (52, 10, True)]
SIZES = [1, 7, 8, 9, 15, 16, 17, 1023, 1024, 1025, 3000, 70001]


def spec_cast(x, fmt, overflow="saturate"):
    """words and (n, inexact, up, overflowed) of the nearest_even cast, in numpy float64."""
    t = x.astype(np.float64) * 2.0 ** fmt.fl          # exact for these inputs (no tiny products)
    y = np.rint(t)
    lo = fmt.min_raw + (1 if overflow == "saturate_symmetric" and fmt.signed else 0)
    hi = fmt.max_raw
    fin = np.isfinite(t)
    counts = (x.size, int((fin & (t != y)).sum()), int((y > t).sum()), int(((y < lo) | (y > hi)).sum()))
    return np.clip(y, lo, hi).astype(fmt.dtype), counts


def inputs(n, fmt, dtype, seed):
    rng = np.random.default_rng(seed)
    span = 2.0 ** (fmt.wl - fmt.fl - (1 if fmt.signed else 0))
    x = rng.normal(0.0 if fmt.signed else span / 2, span / 2, n)
    q = 2.0 ** -fmt.fl
    x[::4] = (np.round(x[::4] / q) + 0.5) * q                 # exact ties, odd and even
    x[1::7] *= 3.0                                            # a few % saturate
    x[2::53] = rng.choice([2.0 ** 40, -2.0 ** 40, 2.0 ** 31 * q, -2.0 ** 31 * q - q,
                           1e30, -1e30, 0.0, -0.0], x[2::53].size)
    x[3::61] = q * rng.uniform(-0.5, 0.5, x[3::61].size)      # rounds to 0 (or -0 band)
    if fmt.fl >= 0:
        x[5::89] = rng.choice([5e-324, -5e-324, 2.0 ** -1030, -2.0 ** -1030], x[5::89].size)
    with np.errstate(over="ignore", under="ignore"):
        return x.astype(dtype)


def cast_counts(x, fmt, overflow="saturate"):
    """The words and counts inside a Counters block; outside one the kernels skip the counts
    (fx_rne_sat_nocount): the words must be the same."""
    with fx.Counters() as c:
        got = fx.cast(x, fmt, "nearest_even", overflow)
    uncounted = fx.cast(x, fmt, "nearest_even", overflow).raw
    assert np.array_equal(uncounted, got.raw), (fmt, x.dtype, x.size)
    return got.raw, (c.cast, c.inexact, c.rounded_up, c.overflowed)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("wl,fl,signed", FORMATS)
def test_rne_saturate_vs_numpy(wl, fl, signed, dtype):
    fmt = QFormat(wl, fl, signed)
    for k, n in enumerate(SIZES):
        x = inputs(n, fmt, dtype, seed=wl * 1000 + fl * 10 + k)
        words, counts = cast_counts(x, fmt)
        want, want_counts = spec_cast(x, fmt)
        assert words.dtype == fmt.dtype
        assert np.array_equal(words, want), (fmt, dtype, n)
        assert counts == want_counts, (fmt, dtype, n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("wl,fl,signed", [(8, 4, True), (16, 8, True), (16, 8, False), (32, 8, True)])
def test_rne_saturate_symmetric_vs_numpy(wl, fl, signed, dtype):
    fmt = QFormat(wl, fl, signed)
    x = inputs(5000, fmt, dtype, seed=7)
    words, counts = cast_counts(x, fmt, "saturate_symmetric")
    want, want_counts = spec_cast(x, fmt, "saturate_symmetric")
    assert np.array_equal(words, want) and counts == want_counts


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("special", [np.inf, -np.inf])
@pytest.mark.parametrize("wl,fl,signed", [(8, 4, True), (16, 8, True), (16, 8, False), (32, 16, True),
                                          (40, 20, True)])
def test_infinite_block_takes_the_scalar_path(wl, fl, signed, special, dtype):
    """An infinity anywhere in a block (vector body or tail) sends the block to the scalar path:
    it saturates, exact and not rounded up; the other words of that block are unchanged."""
    fmt = QFormat(wl, fl, signed)
    for pos in (0, 5, 1023, 1500, 2047, 2999):
        x = inputs(3000, fmt, dtype, seed=pos)
        x[pos] = special
        words, counts = cast_counts(x, fmt)
        want, want_counts = spec_cast(x, fmt)
        assert np.array_equal(words, want) and counts == want_counts, (fmt, pos)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_block_raises_with_its_index(dtype):
    fmt = QFormat(16, 8, True)
    for pos in (3, 1030, 2999):
        x = inputs(3000, fmt, dtype, seed=pos)
        x[pos] = np.nan
        with pytest.raises(ValueError, match=rf"NaN .*\({pos},\)"):
            fx.cast(x, fmt, "nearest_even", "saturate")


def test_float32_is_the_float64_cast_of_its_values():
    """float32 inputs (computed in float32 lanes) give the words and counts of the same values
    given as float64, at the sizes of the threaded path too."""
    fmt = QFormat(16, 8, True)
    x = inputs(300_001, fmt, np.float32, seed=3)
    words, counts = cast_counts(x, fmt)
    words64, counts64 = cast_counts(x.astype(np.float64), fmt)
    assert np.array_equal(words, words64) and counts == counts64
    want, want_counts = spec_cast(x, fmt)
    assert np.array_equal(words, want) and counts == want_counts
