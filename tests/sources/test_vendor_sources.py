"""Known-answer tests of the accelerators' generators (fxsim.vendor_sources) from their published
references, statistical checks (periods, Tenstorrent's lane correlation), and every operation
fed by a preset equal to the same operation fed the preset's draws as an array.

The stream battery (draws, splits, state, pickle, spawn, copy, threads, jump-ahead copies) runs
on every preset in test_source_battery.py against tests/oracles/vendor_ref.py.
"""
import numpy as np
import pytest

from vendor_ref import VendorRef, amd_prng_b32, philox4x32_10, tt_advance, xoroshiro128

import fxsim
from fxsim import vendor_sources as vs
from fxsim.gf2 import is_primitive, poly_order

PRESETS = list(vs.PRESETS)


# -- published known answers ---------------------------------------------------------------------

# Random123 tests/kat_vectors (https://github.com/DEShawResearch/random123/blob/main/tests/kat_vectors):
# "philox4x32 10 <counter x4> <key x2>   <output x4>"
PHILOX_KAT = [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
]


@pytest.mark.parametrize("ctr, key, want", PHILOX_KAT)
def test_philox_reference_matches_random123(ctr, key, want):
    assert philox4x32_10(ctr, key) == want


def test_curand_philox_first_block_is_the_kat():
    """curand_init(seed, 0, 0): key = (seed low, seed high), counter 0; curand() hands out the
    block's four words in order."""
    got = fxsim.make_source("curand:philox4x32_10", seed=0).draws(4, 32).tolist()
    assert got == PHILOX_KAT[0][2]
    seed = 0xFFFFFFFFFFFFFFFF
    src = fxsim.make_source("curand:philox4x32_10", seed=seed)
    words = src.draws(12, 32).tolist()
    assert words[:4] == philox4x32_10([0] * 4, [0xFFFFFFFF] * 2)
    assert words[8:] == philox4x32_10([2, 0, 0, 0], [0xFFFFFFFF] * 2)


def test_amd_prng_b32_is_the_isa_formula():
    """CDNA4 ISA guide, V_PRNG_B32: D = (S0 << 1) ^ (S0[31] ? 197 : 0)."""
    src = vs.VendorSource("amd:prng_b32", seed=0x80000001)
    # 0x80000001: bit 31 set -> (2 ^ 197) = 199; then plain shifts while bit 31 stays clear
    assert src.words(3).tolist() == [199, 398, 796]
    assert amd_prng_b32(0x80000000) == 197 and amd_prng_b32(1) == 2


def test_tenstorrent_is_the_isa_model():
    """tt-isa-documentation AdvancePRNG: the result is the old state; taps 0x80200003, XNOR."""
    assert tt_advance(0) == (0, 0x80000000)            # parity 0 -> new top bit 1
    assert tt_advance(0xFFFFFFFF) == (0xFFFFFFFF, 0xFFFFFFFF)   # the all-ones lock state
    src = vs.VendorSource("tenstorrent:sfpu", seed=5)
    lanes = src.lane_states
    assert src.draws(32, 32).tolist() == [s[0] for s in lanes]     # draw l: lane l's old state
    assert src.lane_states == [[tt_advance(s[0])[1]] for s in lanes]
    now = src.lane_states
    assert src.draws(2, 23).tolist() == [s[0] & 0x7FFFFF for s in now[:2]]


def test_xoroshiro128plus_is_vignas_reference():
    """xoroshiro128plus.c (2018, a = 24, b = 16, c = 37): the + of the two state words."""
    src = fxsim.make_source("xoroshiro128plus", seed=3)
    s0, s1 = (int(x) for x in np.random.SeedSequence(3).generate_state(2, np.uint64))
    want = []
    for _ in range(5):
        w, s0, s1 = xoroshiro128(s0, s1, "+")
        want.append(w)
    assert src.draws(5, 64).tolist() == want


def test_xorwow_seed_zero_is_the_published_start():
    """curand_kernel.h: seed 0 salts to the state of Marsaglia's published xorwow."""
    st = vs.VendorSource("curand:xorwow", seed=0).lane_states[0]
    ref = VendorRef("curand:xorwow", 0)
    assert ref.words(1)[0] == vs.VendorSource("curand:xorwow", seed=0).draws(1, 32)[0]
    assert len(st) == 6


# -- periods and lane structure -----------------------------------------------------------------

def test_lfsr_preset_periods():
    """AMD: D = S * x mod x^32 + x^7 + x^6 + x^2 + 1 (197 = 0b11000101), primitive: period
    2^32 - 1.  Tenstorrent, as the ISA documentation models it: the new top bit is the XNOR of
    bits 31, 21, 1, 0 and the register shifts right, so a_n = 1 + a_(n-1) + a_(n-11) + a_(n-31)
    + a_(n-32): characteristic polynomial x^32 + x^31 + x^21 + x + 1, which is NOT primitive
    (0x80200003 is the Galois mask of the primitive x^32 + x^22 + x^2 + x + 1, read here in the
    other direction); its order is 3,758,096,377, so the longest cycle is that long, not 2^32 - 1."""
    assert is_primitive(32, (32, 7, 6, 2))
    s = 0x1234567
    assert vs.jump_word(vs.G.GEN_AMD_PRNG_B32, s, (1 << 32) - 1) == s
    assert vs.jump_word(vs.G.GEN_AMD_PRNG_B32, s, ((1 << 32) - 1) // 3) != s
    tt_poly = (1 << 32) | (1 << 31) | (1 << 21) | (1 << 1) | 1
    assert not is_primitive(32, (32, 31, 21, 1))
    order = poly_order(tt_poly)
    assert order == 3758096377
    assert vs.jump_word(vs.G.GEN_TT_SFPU, s, order) == s
    # the plain re-implementation agrees with the matrix over a few steps past the order
    t = s
    for _ in range(3):
        t = tt_advance(t)[1]
    assert vs.jump_word(vs.G.GEN_TT_SFPU, s, order + 3) == t


def test_jump_equals_stepping():
    for gen, step in ((vs.G.GEN_AMD_PRNG_B32, amd_prng_b32),
                      (vs.G.GEN_TT_SFPU, lambda s: tt_advance(s)[1])):
        s = t = 0xDEADBEEF
        for k in range(1, 40):
            t = step(t)
            assert vs.jump_word(gen, s, k) == t


def test_tenstorrent_lanes_are_shifted_copies():
    """The field report (tt-metal #13904): lanes give the same sequence offset by short delays.
    Lane l's k-th draw is lane 0's (k + l)-th: the draws of one 32-lane instruction repeat those
    of the next one, shifted by one lane."""
    src = fxsim.make_source("tenstorrent:sfpu", seed=12345)
    d = src.draws(32 * 64, 32).reshape(64, 32)
    np.testing.assert_array_equal(d[1:, :-1], d[:-1, 1:])
    distinct = np.unique(d).size
    assert distinct == 32 + 63                      # 2048 draws, 95 distinct values


def test_tenstorrent_lane_correlation_and_tile_mean_bias():
    """The lane correlation of the field report, measured as ttnn.rand does: U = 23-bit slices of
    the draws; neighbouring lanes correlate (r ~ 0.5: a right shift halves the value) and the
    means of 1024-value tiles spread far beyond i.i.d. noise (tt-metal #50487: up to ~3.2 %)."""
    src = fxsim.make_source("tenstorrent:sfpu", seed=0xACE1)
    u = src.draws(32 * 2048, 23).astype(np.float64) / 2**23
    lanes = u.reshape(-1, 32)
    rho = np.corrcoef(lanes[:, 0], lanes[:, 1])[0, 1]
    assert 0.4 < rho < 0.6
    tiles = u.reshape(-1, 1024).mean(axis=1)
    iid = 1 / np.sqrt(12 * 1024)
    assert tiles.std() > 3 * iid
    ideal = fxsim.make_source("pcg64", seed=1).draws(32 * 2048, 23).astype(np.float64) / 2**23
    assert ideal.reshape(-1, 1024).mean(axis=1).std() < 1.5 * iid


# -- every operation takes a preset as its source -----------------------------------------------

@pytest.mark.parametrize("preset", PRESETS)
def test_cast_with_preset_equals_cast_with_its_draws(preset):
    x = np.random.default_rng(0).uniform(-3, 3, 5000)
    r = 13
    a = fxsim.cast(x, "Q4.6", "stochastic", r=r, source=fxsim.make_source(preset, seed=9))
    draws = fxsim.make_source(preset, seed=9).draws(x.size, r)
    b = fxsim.cast(x, "Q4.6", "stochastic", r=r, draws=draws)
    np.testing.assert_array_equal(a.raw, b.raw)


@pytest.mark.parametrize("preset", ["amd:prng_b32", "tenstorrent:sfpu", "curand:philox4x32_10"])
def test_large_parallel_cast_equals_sequential(preset):
    """2^19 elements on 2 threads: the jump-ahead copies give the words of one sequential run,
    and the source ends where the sequential run leaves it."""
    x = np.random.default_rng(1).uniform(-2, 2, 1 << 19)
    threads = fxsim.get_num_threads()
    fxsim.set_num_threads(2)
    src = fxsim.make_source(preset, seed=21)
    calls = []
    jump = src._substreams
    src._substreams = lambda cuts, r: calls.append(len(cuts)) or jump(cuts, r)
    try:
        a = fxsim.cast(x, "Q3.8", "stochastic", r=16, source=src)
    finally:
        fxsim.set_num_threads(threads)
    assert calls                                     # the parallel path took jumped copies
    ref = fxsim.make_source(preset, seed=21)
    b = fxsim.cast(x, "Q3.8", "stochastic", r=16, draws=ref.draws(x.size, 16))
    np.testing.assert_array_equal(a.raw, b.raw)
    assert src.draws(3, 16).tolist() == ref.draws(3, 16).tolist()


@pytest.mark.parametrize("preset", ["amd:prng_b32", "curand:xorwow"])
def test_matmul_and_binops_take_presets(preset):
    rng = np.random.default_rng(2)
    A, B = rng.uniform(-1, 1, (6, 9)), rng.uniform(-1, 1, (9, 5))
    a = fxsim.cast(A, "Q2.10")
    b = fxsim.cast(B, "Q2.10")
    kw = dict(acc="Q(12,6)", rounding="stochastic", r=12)
    got = fxsim.matmul(a, b, source=fxsim.make_source(preset, seed=4), **kw)
    n = fxsim.make_source(preset, seed=4)
    want = fxsim.matmul(a, b, draws=n.draws(6 * 5 * 9, 12), **kw)
    np.testing.assert_array_equal(got.raw, want.raw)
    m1 = fxsim.mul(a, a, "Q2.6", "stochastic", r=12, source=fxsim.make_source(preset, seed=8))
    m2 = fxsim.mul(a, a, "Q2.6", "stochastic", r=12,
                   draws=fxsim.make_source(preset, seed=8).draws(a.raw.size, 12))
    np.testing.assert_array_equal(m1.raw, m2.raw)


def test_r_above_word_width_refused_without_side_effect():
    src = fxsim.make_source("amd:prng_b32", seed=3)
    before = src.state
    with pytest.raises(ValueError, match=r"r must be an integer in \[1, n\] = \[1, 32\]"):
        fxsim.cast(np.ones(4) / 3, "Q2.4", "stochastic", r=40, source=src)
    assert src.state == before


def test_spec_errors_name_the_spec():
    with pytest.raises(ValueError, match="lanes must be a positive integer"):
        fxsim.make_source("amd:prng_b32:lanes=0")
    with pytest.raises(ValueError, match="tenstorrent:sfpu has 32 lane"):
        vs.VendorSource("tenstorrent:sfpu", seed=1, lanes=4)


# -- cuRAND subsequences (curand:xorwow:lanes=L) ------------------------------------------------

@pytest.mark.slow
def test_xorwow_lanes_are_curand_subsequences():
    """Lane l = curand_init(seed, l, 0): the xorshift state 2^67 l steps on, d unchanged.  The
    2^67-th power is checked against galois' GF(2) matrix power (an independent implementation)
    built from the plain-Python xorwow step of the oracle."""
    galois = pytest.importorskip("galois")
    from vendor_ref import xorwow_init, xorwow_next
    GF = galois.GF(2)

    def step_cols(i):
        v = [((1 << i) >> (32 * j)) & 0xFFFFFFFF for j in range(5)]
        _, v2, _ = xorwow_next(v, 0)
        x = sum(w << (32 * j) for j, w in enumerate(v2))
        return [(x >> k) & 1 for k in range(160)]

    A = GF(np.array([step_cols(i) for i in range(160)], dtype=np.uint8).T)   # column i: image of bit i
    P = np.linalg.matrix_power(A, 2**67)
    v0, d0 = xorwow_init(99)
    vec = GF(np.array([(sum(w << (32 * j) for j, w in enumerate(v0)) >> k) & 1 for k in range(160)],
                      dtype=np.uint8))
    lane1 = P @ vec
    want = sum(int(b) << k for k, b in enumerate(lane1))
    src = fxsim.make_source("curand:xorwow:lanes=2", seed=99)
    st = src.lane_states
    assert st[0] == v0 + [d0]
    assert st[1][5] == d0 and sum(w << (32 * j) for j, w in enumerate(st[1][:5])) == want
    # draws alternate lanes, each lane a curand() stream of its own state
    d = src.draws(6, 32).tolist()
    v, dd = st[0][:5], st[0][5]
    for k in range(3):
        w, v, dd = xorwow_next(v, dd)
        assert d[2 * k] == w


def test_xorwow_subsequence_matrix_steps():
    """Fast form of the slow test above: the step matrix is the oracle's xorwow step, and lane
    l + 1 is lane l times the 2^67-th power (cached), d unchanged."""
    from vendor_ref import xorwow_next
    M = [vs._xorwow_step(1 << i) for i in range(160)]
    st = fxsim.make_source("curand:xorwow:lanes=3", seed=5).lane_states
    P = vs.xorwow_subsequence_matrix()
    for a, b in zip(st, st[1:]):
        assert b[5] == a[5]
        assert sum(w << (32 * j) for j, w in enumerate(b[:5])) == vs._apply(
            P, sum(w << (32 * j) for j, w in enumerate(a[:5])))
    v = [0x12345678, 0x9ABCDEF0, 0x0F0F0F0F, 0xDEADBEEF, 0x31415926]
    x = sum(w << (32 * j) for j, w in enumerate(v))
    for _ in range(20):
        _, v, _ = xorwow_next(v, 0)
        x = vs._apply(M, x)
        assert x == sum(w << (32 * j) for j, w in enumerate(v))
