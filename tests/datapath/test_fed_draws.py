"""Issues 12.3 / 13.3: element-wise stochastic ops draw from an fxsim source block by block
inside the kernels (one thread), or through bounded super-blocks (several threads), never
through an O(n) draws array.

Every result is checked against an independent computation: the source's words come from
numpy's own bit generator (spec 5.2: R = w >> (64 - r)) or from the pure-Python LFSR oracle,
and the rounding from a numpy integer/float model of the SR unit (spec §2, few-bit rule
'trunc': round up when floor(phi * 2**r) + R >= 2**r for an inexact value), cross-checked
against tests/oracles/reference.py in Fractions on a sample."""
import tracemalloc

import numpy as np
import pytest

import fxsim
from fxsim import ops as fxops
from reference import ref_add, ref_cast, ref_ideal_draws, ref_lfsr_lane_draws, ref_mul

IDEALS = ["PCG64", "Philox", "SFC64", "MT19937"]
TAPS16 = (16, 15, 13, 4)


def numpy_words(name, seed, n):
    bg = getattr(np.random, name)(seed)
    if name == "MT19937":
        raw = bg.random_raw(2 * n)
        return (raw[0::2] << np.uint64(32)) | raw[1::2], bg
    return bg.random_raw(n), bg


def assert_same_position(src, name, bg):
    """The source stands where numpy's generator does: their next words agree."""
    nxt = bg.random_raw(8)
    if name == "MT19937":
        nxt = (nxt[0::2] << np.uint64(32)) | nxt[1::2]
    assert np.array_equal(src.draws(nxt.size, 64), nxt)


def sr_float(x, fl, R, r, lo, hi):
    """floor(t) + carry, saturated: t = x * 2**fl (exact), carry = the trunc SR unit's."""
    t = x * 2.0**fl
    q = np.floor(t)
    A = np.floor((t - q) * 2.0**r).astype(np.int64)
    up = (t != q) & (A + R.astype(np.int64) >= (1 << r))
    return np.clip(q.astype(np.int64) + up, lo, hi)


def sr_int(v, s, R, r, lo, hi):
    """The same for exact integers v with s >= 1 fraction bits to drop (s + r < 62)."""
    q = v >> s
    frac = v - (q << s)
    A = (frac << r) >> s
    up = (frac != 0) & (A + R.astype(np.int64) >= (1 << r))
    return np.clip(q + up, lo, hi)


@pytest.fixture(params=[1, 2], ids=["t1", "t2"])
def threads(request, monkeypatch):
    old = fxsim.ops.get_num_threads()
    fxsim.ops.set_num_threads(request.param)
    monkeypatch.setattr(fxops, "_FEED_BLOCK", 1 << 16)     # several super-blocks
    monkeypatch.setattr(fxops, "_BLOCK", 1 << 17)          # several kernel calls
    yield request.param
    fxsim.ops.set_num_threads(old)


@pytest.mark.parametrize("name", IDEALS)
def test_cast_from_ideal_equals_numpy_words(name, threads):
    r, seed, n = 13, 2024, 300_001
    x = np.random.default_rng(7).normal(0, 40, n)
    x[::97] = np.round(x[::97])                     # exact values draw too
    src = fxsim.Ideal(name.lower(), seed)
    got = fxsim.cast(x, "Q8.8", "stochastic", "saturate", r=r, source=src)
    w, bg = numpy_words(name, seed, n)
    R = w >> np.uint64(64 - r)
    assert np.array_equal(got.raw, sr_float(x, 8, R, r, -32768, 32767))
    assert_same_position(src, name, bg)             # the source moved exactly n draws
    sample = range(0, n, 4999)
    Rs = ref_ideal_draws([w[i] for i in sample], r)
    want = [ref_cast(float(x[i]), 16, 8, True, "stochastic", "saturate", R=Rk, r=r)
            for i, Rk in zip(sample, Rs)]
    assert [int(got.raw[i]) for i in sample] == want


@pytest.mark.parametrize("op", ["add", "mul"])
@pytest.mark.parametrize("name", ["PCG64", "SFC64"])
def test_add_mul_from_ideal(op, name, threads):
    r, seed, n = 16, 99, 300_007      # >= 2**18: per-part jumped streams on 2 threads
    rng = np.random.default_rng(3)
    fa, out = fxsim.QFormat(16, 12), fxsim.QFormat(16, 8)
    a = fxsim.FixedArray(rng.integers(-2**15, 2**15, n), fa)
    b = fxsim.FixedArray(rng.integers(-2**15, 2**15, n), fxsim.QFormat(16, 10))
    src = fxsim.Ideal(name.lower(), seed)
    got = getattr(fxsim, op)(a, b, out, "stochastic", "saturate", r=r, source=src)
    w, bg = numpy_words(name, seed, n)
    R = w >> np.uint64(64 - r)
    ra, rb = a.raw.astype(np.int64), b.raw.astype(np.int64)
    v, s = ((ra + (rb << 2)), 4) if op == "add" else (ra * rb, 14)
    assert np.array_equal(got.raw, sr_int(v, s, R, r, -32768, 32767))
    assert_same_position(src, name, bg)


def test_multilane_lfsr_cast_and_raw_cast(threads):
    r, n = 8, 70_001
    src = fxsim.LFSR(16, lanes=4, seed=0xACE1)
    lanes0 = src.lane_states
    x = np.random.default_rng(11).normal(0, 5, n)
    got = fxsim.cast(x, "Q8.8", "stochastic", r=r, source=src)
    R, lanes = ref_lfsr_lane_draws(16, TAPS16, "galois", "serial", r, lanes0, 0, n)
    assert np.array_equal(got.raw, sr_float(x, 8, np.array(R, np.uint64), r, -32768, 32767))
    assert src.count == n and src.lane_states == tuple(lanes)
    # re-quantization of fixed-point words (cast_raw) continues the stream
    fx = fxsim.FixedArray(np.random.default_rng(12).integers(-2**15, 2**15, n), fxsim.QFormat(16, 12))
    got = fxsim.cast(fx, fxsim.QFormat(8, 4), "stochastic", r=r, source=src)
    R2, lanes = ref_lfsr_lane_draws(16, TAPS16, "galois", "serial", r, lanes, n, n)
    assert np.array_equal(got.raw, sr_int(fx.raw.astype(np.int64), 8, np.array(R2, np.uint64), r, -128, 127))
    assert src.count == 2 * n and src.lane_states == tuple(lanes)


@pytest.mark.parametrize("rule,r", [("serial", 8), ("state", 12)])
@pytest.mark.parametrize("lanes", [3, 4])
def test_multilane_lfsr_substreams_on_two_threads(lanes, rule, r):
    """A long cast on 2 threads from a multi-lane LFSR draws from jumped private copies, each
    lane jumped by its own share of the draws before the copy's first: the words equal the
    SR unit fed with the LFSR oracle's draws (a prefix in pure Python) and with the source's
    own sequential draws (all of it), and the source ends where those draws leave it."""
    old = fxsim.ops.get_num_threads()
    n = (1 << 18) + 4099
    x = np.random.default_rng(13).normal(0, 5, n)
    src = fxsim.LFSR(16, lanes=lanes, seed=0xACE1, rule=rule)
    seq = fxsim.LFSR(16, lanes=lanes, seed=0xACE1, rule=rule)
    src.draws(5, r), seq.draws(5, r)                # a counter that is not a multiple of L
    lanes0 = seq.lane_states
    try:
        fxsim.ops.set_num_threads(2)
        got = fxsim.cast(x, "Q8.8", "stochastic", "saturate", r=r, source=src).raw
    finally:
        fxsim.ops.set_num_threads(old)
    R = seq.draws(n, r)
    assert np.array_equal(got, sr_float(x, 8, R, r, -32768, 32767))
    k = 4096
    Rk, _ = ref_lfsr_lane_draws(16, TAPS16, "galois", rule, r, lanes0, 5, k)
    assert np.array_equal(R[:k], np.array(Rk, np.uint64))
    assert src.state == seq.state


@pytest.mark.parametrize("kind", ["cast", "mul"])
def test_overflow_error_puts_the_source_back(kind, threads):
    n, r = 100_000, 12
    src = fxsim.Ideal("sfc64", 5)
    before = src.state
    out = np.zeros(n, np.int8)
    x = np.full(n, 0.3)
    x[77_777] = 1e4                                 # overflows Q4.4
    with pytest.raises(OverflowError):
        if kind == "cast":
            fxsim.cast(x, "Q4.4", "stochastic", "error", r=r, source=src, out=out)
        else:
            a = fxsim.cast(x, "Q16.4", "nearest_even", "saturate")
            fxsim.mul(a, fxsim.cast(np.ones(n), "Q4.4"), "Q4.4", "stochastic", "error", r=r,
                      source=src, out=out)
    assert src.state == before and not out.any()


def test_draw_memory_is_a_block(monkeypatch):
    """A one-thread 2**21 SR cast from a source allocates no n-sized draws array (16 MiB)."""
    old = fxsim.ops.get_num_threads()
    x = np.random.default_rng(0).normal(0, 1, 1 << 21)
    src = fxsim.Ideal("philox", 1)
    try:
        for t in (1, 2):
            fxsim.ops.set_num_threads(t)
            tracemalloc.start()
            fxsim.cast(x, "Q8.8", "stochastic", r=16, source=src)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert peak < x.size * 2 + (3 << 20), (t, peak)     # the int16 words + 3 MiB
    finally:
        fxsim.ops.set_num_threads(old)


@pytest.mark.parametrize("op", ["add", "mul"])
@pytest.mark.parametrize("r", [3, 20])
@pytest.mark.parametrize("rule", ["trunc", "half", "rne"])
@pytest.mark.parametrize("rounding", ["stochastic", "stochastic_eps", "signed_stochastic_eps"])
def test_sr_words_of_every_rule_equal_the_fraction_oracle(op, r, rule, rounding):
    """The vectorized SR block of exact words (block_int_sr) against reference.py in Fractions:
    add drops s = 8 bits (r = 3 < s, r = 20 > s), mul 18."""
    n = 600
    rng = np.random.default_rng(r + len(rule) + len(rounding))
    fa, fb, out = (16, 12, True), (16, 10, True), (16, 4, True)
    ra, rb = rng.integers(-2**15, 2**15, n), rng.integers(-2**15, 2**15, n)
    ra[:8] = [1, -1, 2**14, -2**14, 3, -3, 0, 2**15 - 1]       # near-ties and exact values
    v = rng.normal(size=n)
    src = fxsim.Ideal("pcg64", 4)
    kw = dict(r=r, sr_rule=rule, eps=0.1 if rounding != "stochastic" else 0.0)
    if rounding == "signed_stochastic_eps":
        kw["v"] = v
    A, B = fxsim.FixedArray(ra, fxsim.QFormat(*fa)), fxsim.FixedArray(rb, fxsim.QFormat(*fb))
    got = getattr(fxsim, op)(A, B, fxsim.QFormat(*out), rounding, "saturate", source=src, **kw)
    R = ref_ideal_draws(np.random.PCG64(4).random_raw(n), r)
    ref = ref_add if op == "add" else ref_mul
    want = [ref(int(ra[i]), fa, int(rb[i]), fb, out, rounding, "saturate", R=R[i], r=r,
                eps=kw["eps"], v=float(v[i]), sr_rule=rule) for i in range(n)]
    assert got.raw.tolist() == want


@pytest.mark.parametrize("taken", [0, 1, 3, 4, 6])
def test_philox_substreams_start_at_their_words(taken):
    """Philox jumps (whole counter blocks of 4 words plus the words before the cut) land
    exactly where numpy's generator stands after the same number of words."""
    g = np.random.Philox(9)
    g.random_raw(taken)
    src = fxsim.Ideal(g)
    cuts = [0, 1, 2, 3, 5, 1001, 1003]
    subs = src._substreams(cuts, 64)
    stream = np.random.Philox(9).random_raw(taken + cuts[-1] + 4)[taken:]
    for sub, off in zip(subs, cuts):
        seq = np.random.Philox(9)
        seq.random_raw(taken + off)
        assert sub.state["state"] == fxsim.Ideal(seq).state["state"], off     # the buffer too
        assert np.array_equal(sub.draws(4, 64), stream[off:off + 4]), off
    assert np.array_equal(src.draws(4, 64), stream[cuts[-1]:])
