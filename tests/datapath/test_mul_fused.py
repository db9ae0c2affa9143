"""The one-pass product kernels of fxsim.mul: products of int32 words rounded and saturated in
the same loop (no int64 buffer), and the stochastic product of 8/16-bit words fed straight from
a source (int8 words in 16-bit lanes).  Words and counters against independent models: the
Fraction reference (deterministic modes), and for SR a numpy model of the SR unit (spec 2,
trunc rule: floor + carry of floor(phi * 2**r) + R) fed with numpy's own PCG64 words
(spec 5.2: w >> (64 - r)) or the pure-Python LFSR oracle's draws."""
import numpy as np
import pytest

from reference import exact_mul, ref_cast_info, ref_lfsr_lane_draws
from lfsr_ref import load_taps_table

import fxsim as fx
from fxsim import DETERMINISTIC, QFormat


@pytest.mark.parametrize("fa,fb,out", [((32, 16, True), (32, 16, True), (32, 16, True)),   # s = 16
                                       ((32, 20, True), (31, 12, True), (24, 10, True)),   # s = 22
                                       ((20, 3, True), (25, 1, True), (32, 0, True))])     # s = 4
@pytest.mark.parametrize("overflow", ["saturate", "saturate_symmetric"])
def test_int32_word_products_one_pass_vs_reference(fa, fb, out, overflow):
    rng = np.random.default_rng(sum(fa) + sum(out))
    n = 2 * 1024 + 101
    fa_, fb_, fo = QFormat(*fa), QFormat(*fb), QFormat(*out)
    ra = rng.integers(fa_.min_raw, fa_.max_raw, n, endpoint=True)
    rb = rng.integers(fb_.min_raw, fb_.max_raw, n, endpoint=True)
    ra[:5] = [fa_.min_raw, fa_.min_raw, fa_.max_raw, 0, 3]
    rb[:5] = [fb_.min_raw, fb_.max_raw, fb_.max_raw, fb_.min_raw, 1 << (fb[1] - 1)]
    rb[40:60] = 1 << fb[1]                          # exact products (a * 1)
    a = fx.FixedArray(ra.astype(fa_.dtype), fa_)
    b = fx.FixedArray(rb.astype(fb_.dtype), fb_)
    assert a.raw.dtype == b.raw.dtype == np.int32
    for rounding in DETERMINISTIC:
        infos = [ref_cast_info(exact_mul(int(x), fa, int(y), fb), *out, rounding, overflow)
                 for x, y in zip(ra, rb)]
        with fx.Counters() as c:
            got = fx.mul(a, b, fo, rounding, overflow)
        assert got.raw.tolist() == [i.raw for i in infos], rounding
        assert (c.inexact, c.rounded_up, c.overflowed) == (
            sum(i.inexact for i in infos), sum(i.rounded_up for i in infos),
            sum(i.overflowed for i in infos)), rounding


def sr_model(ra, rb, s, R, r, lo, hi):
    """The SR unit (trunc rule) on exact products v * 2**-s, in numpy int64: words and the
    (inexact, rounded up, overflowed) counts."""
    v = ra.astype(np.int64) * rb.astype(np.int64)
    q = v >> s
    frac = v & ((1 << s) - 1)
    I = (frac << r) >> s                             # floor(phi * 2**r), phi = frac / 2**s
    up = (I + R.astype(np.int64)) >= (1 << r)
    y = q + up
    yc = np.clip(y, lo, hi)
    return yc, (int((frac != 0).sum()), int(up.sum()), int((yc != y).sum()))


def _words(fmt, n, rng):
    w = rng.integers(fmt.min_raw, fmt.max_raw, n, endpoint=True)
    w[:4] = [fmt.min_raw, fmt.max_raw, 0, fmt.min_raw]
    return w


CASES = [((8, 8, True), (8, 8, True), (8, 8, True), 16, "saturate"),        # the benchmark's case
         ((8, 5, True), (8, 6, True), (8, 4, True), 12, "saturate_symmetric"),  # s = 7, r = 12
         ((8, 7, True), (8, 7, True), (8, 0, True), 9, "saturate"),         # s = 14 > r
         ((16, 8, True), (16, 8, True), (16, 8, True), 16, "saturate")]     # int16 words


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("fa,fb,out,r,overflow", CASES)
def test_sr_mul_from_pcg64_vs_numpy_model(fa, fb, out, r, overflow, threads):
    """Long enough for the fed paths (one private copy on one thread, jumped copies on two)."""
    rng = np.random.default_rng(r + fa[1])
    n = 3 * 10**5 + 13
    fa_, fb_, fo = QFormat(*fa), QFormat(*fb), QFormat(*out)
    ra, rb = _words(fa_, n, rng), _words(fb_, n, rng)
    rb[100:300] = 0                                  # exact products
    a = fx.FixedArray(ra.astype(fa_.dtype), fa_)
    b = fx.FixedArray(rb.astype(fb_.dtype), fb_)
    R = np.random.PCG64(7).random_raw(n) >> np.uint64(64 - r)
    s = fa[1] + fb[1] - out[1]
    lo = -fo.max_raw if overflow == "saturate_symmetric" else fo.min_raw
    want, counts = sr_model(ra, rb, s, R, r, lo, fo.max_raw)
    before = fx.get_num_threads()
    fx.set_num_threads(threads)
    try:
        src = fx.Ideal("pcg64", seed=7)
        with fx.Counters() as c:
            got = fx.mul(a, b, fo, "stochastic", overflow, r=r, source=src)
    finally:
        fx.set_num_threads(before)
    assert np.array_equal(got.raw.astype(np.int64), want)
    assert (c.inexact, c.rounded_up, c.overflowed) == counts
    assert src.draws(1, r)[0] == np.random.PCG64(7).random_raw(n + 1)[-1] >> np.uint64(64 - r)


@pytest.mark.parametrize("r", [1, 16])
def test_sr_mul_int8_pcg64_stepped_in_the_loop_keeps_the_stream(r):
    """The int8 SR product steps PCG64 inside its loop (no draw buffer): a call that starts
    mid-stream, r = 1 (the top bit of each word) and r = 16, a length that is no multiple of
    the 16-element vector, and the source's next draw after it, all against numpy's PCG64."""
    f = QFormat(8, 8)
    n = (1 << 16) + 7
    rng = np.random.default_rng(r)
    ra, rb = _words(f, n, rng), _words(f, n, rng)
    a, b = fx.FixedArray(ra.astype(np.int8), f), fx.FixedArray(rb.astype(np.int8), f)
    words = np.random.PCG64(11).random_raw(3 + n + 1) >> np.uint64(64 - r)
    want, counts = sr_model(ra, rb, 8, words[3:3 + n], r, f.min_raw, f.max_raw)
    before = fx.get_num_threads()
    fx.set_num_threads(1)
    try:
        src = fx.Ideal("pcg64", seed=11)
        assert np.array_equal(src.draws(3, r), words[:3])
        with fx.Counters() as c:
            got = fx.mul(a, b, f, "stochastic", "saturate", r=r, source=src)
    finally:
        fx.set_num_threads(before)
    assert np.array_equal(got.raw.astype(np.int64), want)
    assert (c.inexact, c.rounded_up, c.overflowed, c.draws) == counts + (n,)
    assert src.draws(1, r)[0] == words[-1]


def test_sr_mul_from_lfsr_vs_oracle():
    """The LFSR-32 of the benchmark (serial rule, r = 16) on one thread, its draws from the
    pure-Python oracle."""
    fa = (8, 8, True)
    f = QFormat(*fa)
    n = (1 << 16) + 45
    rng = np.random.default_rng(5)
    ra, rb = _words(f, n, rng), _words(f, n, rng)
    a, b = fx.FixedArray(ra.astype(np.int8), f), fx.FixedArray(rb.astype(np.int8), f)
    src = fx.LFSR(32, rule="serial", seed=0xACE1)
    taps = load_taps_table()[32][0]                 # the shared taps table, not src's own
    R, _ = ref_lfsr_lane_draws(32, taps, "galois", "serial", 16, [0xACE1], 0, n)
    want, counts = sr_model(ra, rb, 8, np.array(R, dtype=np.uint64), 16, f.min_raw, f.max_raw)
    before = fx.get_num_threads()
    fx.set_num_threads(1)
    try:
        with fx.Counters() as c:
            got = fx.mul(a, b, f, "stochastic", "saturate", r=16, source=src)
    finally:
        fx.set_num_threads(before)
    assert np.array_equal(got.raw.astype(np.int64), want)
    assert (c.inexact, c.rounded_up, c.overflowed) == counts
