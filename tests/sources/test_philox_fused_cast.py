"""The SR float cast that steps numpy's Philox inside its rounding loop (one counter block per
4 elements, no draw buffer; ``BITSRC_PHILOX`` sources: ``Ideal("philox")`` in numpy's own
state, and the private ``PhiloxCore`` copies of a two-thread cast).  Its words and counts are
checked against the Fraction reference (tests/oracles/reference.py) or an exact integer model,
fed with numpy's own Philox words, and the generator's state after the call (counter, buffer,
buffer_pos, has_uint32, uinteger) against numpy's after the same number of words."""
import numpy as np
import pytest

import fxsim
from reference import ref_cast_info, sr_trunc_sat_model

# (wl, fl, signed): int8, uint8, int16, uint16 and int32 words; the last one (uint32, beyond
# int32) takes the other SR kernels
FORMATS = [(8, 4, True), (8, 4, False), (16, 8, True), (16, 8, False), (24, 10, True),
           (32, 16, False)]
# call lengths that leave the buffered block partly used, split one stream across calls
LENGTHS = [1, 3, 4, 5, 1023, 1025, 2, 1030]


def edge_values(n, fl, seed):
    """Normal values, exact ones, ones just below 0 (-1/2 < t < 0), zeros, saturating ones,
    and now and then one the fused blocks refuse (|t| >= 2**51 or a subnormal product), which
    sends its whole block to the other path."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * 40.0
    k = rng.integers(0, 8, n)
    x[k == 1] = np.round(x[k == 1] * 2.0**fl) / 2.0**fl
    x[k == 2] = -rng.uniform(0, 0.5, (k == 2).sum()) / 2.0**fl
    x[k == 3] = rng.choice([0.0, -0.0], (k == 3).sum())
    x[k == 4] *= 1e4
    rare = rng.random(n) < 2e-4
    x[rare] = rng.choice([1e300, -1e300, 1e-310], rare.sum())
    return x


def reference(x, fmt, r, words):
    """Raw words and (inexact, up, overflow) counts by the Fraction reference."""
    wl, fl, signed = fmt
    infos = [ref_cast_info(float(v), wl, fl, signed, "stochastic", "saturate", R=int(w) >> (64 - r),
                           r=r) for v, w in zip(x, words)]
    raws = np.array([i.raw for i in infos], dtype=np.int64)
    return raws, (sum(i.inexact for i in infos), sum(i.rounded_up for i in infos),
                  sum(i.overflowed for i in infos))


def same_state(bg, ref):
    a, b = bg.state, ref.state
    return (np.array_equal(a["state"]["counter"], b["state"]["counter"])
            and np.array_equal(a["state"]["key"], b["state"]["key"])
            and np.array_equal(a["buffer"], b["buffer"]) and a["buffer_pos"] == b["buffer_pos"]
            and a["has_uint32"] == b["has_uint32"] and a["uinteger"] == b["uinteger"])


@pytest.fixture
def threads():
    old = fxsim.get_num_threads()
    yield fxsim.set_num_threads
    fxsim.set_num_threads(old)


@pytest.mark.parametrize("r", [1, 16, 51, 52])
@pytest.mark.parametrize("fmt", FORMATS)
def test_split_calls_equal_reference(fmt, r):
    """One stream cut into calls of odd lengths, after 0-3 words already taken: every word,
    count and the generator's state as numpy's Philox and the Fraction reference give."""
    wl, fl, signed = fmt
    for pre in (0, 3):
        src = fxsim.Ideal("philox", 20261206 + pre)
        ref = np.random.Philox(20261206 + pre)
        src.draws(pre, 64)
        ref.random_raw(pre)
        x = edge_values(sum(LENGTHS), fl, pre)
        at = 0
        for n in LENGTHS:
            xs = x[at:at + n]
            with fxsim.Counters() as c:
                got = fxsim.cast(xs, fxsim.QFormat(wl, fl, signed), "stochastic", "saturate", r=r,
                                 source=src)
            want, (n_in, n_up, n_ov) = reference(xs, fmt, r, ref.random_raw(n))
            assert np.array_equal(got.raw.astype(np.int64), want), (pre, at, n)
            assert (c.cast, c.inexact, c.rounded_up, c.overflowed, c.draws) == \
                (n, n_in, n_up, n_ov, n), (pre, at, n)
            assert same_state(src.bit_generator, ref), (pre, at, n)
            at += n


def int_model(T, e, fmt, r, words):
    """Exact SR of t = T / 2**e (int64 T, e >= r) into fmt with saturation: raw words and
    counts (the bench's SR unit model, in integers)."""
    wl, _, signed = fmt
    lo, hi = (-(1 << (wl - 1)), (1 << (wl - 1)) - 1) if signed else (0, (1 << wl) - 1)
    q = T >> e
    frac = T - (q << e)
    R = (words >> np.uint64(64 - r)).astype(np.int64)
    up = (frac != 0) & (((frac << r) >> e) + R >= (1 << r))
    y = q + up
    raw = np.clip(y, lo, hi)
    return raw, ((frac != 0).sum(), up.sum(), (raw != y).sum())


@pytest.mark.parametrize("fmt", [(16, 8, True), (8, 4, False)])
def test_two_thread_streams_equal_integer_model(fmt, threads):
    """A long cast on two threads (private PhiloxCore copies, one per part, each started at its
    cut inside a counter block) after 3 words already taken: words, counts and the state after
    as numpy's Philox through an exact integer model of the SR unit."""
    threads(2)
    wl, fl, signed = fmt
    n = (1 << 18) + 4099
    T = np.random.default_rng(4).integers(-(1 << 36), 1 << 36, n)
    T[::7] = np.random.default_rng(5).integers(-(1 << 19), 0, T[::7].size)   # -1/2 < t < 0
    x = T / 2.0**(fl + 20)                                 # exact: t = x * 2**fl = T / 2**20
    src, ref = fxsim.Ideal("philox", 99), np.random.Philox(99)
    src.draws(3, 64)
    ref.random_raw(3)
    with fxsim.Counters() as c:
        got = fxsim.cast(x, fxsim.QFormat(wl, fl, signed), "stochastic", "saturate", r=16,
                         source=src)
    want, (n_in, n_up, n_ov) = int_model(T, 20, fmt, 16, ref.random_raw(n))
    assert np.array_equal(got.raw.astype(np.int64), want)
    assert (c.cast, c.inexact, c.rounded_up, c.overflowed, c.draws) == (n, n_in, n_up, n_ov, n)
    assert same_state(src.bit_generator, ref)


@pytest.mark.parametrize("nthreads", [1, 2])
def test_long_cast_split_equals_one_call(nthreads, threads):
    """A long cast in one call and the same cast in three calls of odd lengths give the same
    words and leave the generator where numpy's is after as many words."""
    threads(nthreads)
    x = edge_values((1 << 18) + 77, 8, 6)
    fmt = fxsim.QFormat(16, 8)
    whole = fxsim.cast(x, fmt, "stochastic", "saturate", r=16, source=fxsim.Ideal("philox", 3))
    src = fxsim.Ideal("philox", 3)
    parts = [fxsim.cast(x[a:b], fmt, "stochastic", "saturate", r=16, source=src).raw
             for a, b in ((0, 4097), (4097, 4097 + (1 << 17) + 3), (4097 + (1 << 17) + 3, x.size))]
    assert np.array_equal(np.concatenate(parts), whole.raw)
    ref = np.random.Philox(3)
    assert np.array_equal(whole.raw, sr_trunc_sat_model(x, (16, 8, True), 16,
                                                        ref.random_raw(x.size)))
    assert same_state(src.bit_generator, ref)
    i = np.random.default_rng(0).choice(x.size, 300, replace=False)
    want, _ = reference(x[i], (16, 8, True), 16, np.random.Philox(3).random_raw(x.size)[i])
    assert np.array_equal(whole.raw[i].astype(np.int64), want)


def test_spawned_jumped_copied_and_cached_generators():
    """Children from spawn, a jumped generator, a copy, a generator holding a 32-bit
    half-word (has_uint32) and one whose counter carries across its words: each draws numpy's
    own words and keeps numpy's cache."""
    x = edge_values(1029, 8, 7)
    fmt = (16, 8, True)
    cached = np.random.Philox(13)
    np.random.Generator(cached).integers(0, 1 << 32, size=3, dtype=np.uint32)
    cached_ref = np.random.Philox(13)
    np.random.Generator(cached_ref).integers(0, 1 << 32, size=3, dtype=np.uint32)
    assert cached.state["has_uint32"] == 1
    wraps = []
    for _ in range(2):      # the counter's low words about to wrap: the carry reaches word 3
        bg = np.random.Philox(14)
        st = bg.state
        st["state"]["counter"] = np.array([2**64 - 3, 2**64 - 1, 2**64 - 1, 7], dtype=np.uint64)
        bg.state = st
        wraps.append(bg)
    base = fxsim.Ideal("philox", 8)
    base.draws(2, 64)
    base_ref = np.random.Philox(8)
    base_ref.random_raw(2)
    cases = [(fxsim.Ideal("philox", 12).spawn(2)[1], np.random.Philox(12).spawn(2)[1]),
             (fxsim.Ideal(np.random.Philox(5).jumped(3)), np.random.Philox(5).jumped(3)),
             (base.copy(), base_ref),
             (fxsim.Ideal(cached), cached_ref),
             (fxsim.Ideal(wraps[0]), wraps[1])]
    for k, (src, ref) in enumerate(cases):
        got = fxsim.cast(x, fxsim.QFormat(16, 8), "stochastic", "saturate", r=16, source=src)
        want, _ = reference(x, fmt, 16, ref.random_raw(x.size))
        assert np.array_equal(got.raw.astype(np.int64), want), k
        assert same_state(src.bit_generator, ref), k
    assert base.bit_generator.state["buffer_pos"] == 2       # the copy took its own words


def test_float32_input_and_refused_call_take_no_draws():
    """float32 inputs keep the buffered path (same words); a refused call draws nothing."""
    x = edge_values(1001, 8, 9)
    x = x[np.abs(x) < 1e30].astype(np.float32)
    src, ref = fxsim.Ideal("philox", 21), np.random.Philox(21)
    got = fxsim.cast(x, fxsim.QFormat(16, 8), "stochastic", "saturate", r=16, source=src)
    want, _ = reference(x.astype(np.float64), (16, 8, True), 16, ref.random_raw(x.size))
    assert np.array_equal(got.raw.astype(np.int64), want)
    before = src.bit_generator.state
    with pytest.raises(ValueError):
        fxsim.cast(np.array([1.0, np.nan]), fxsim.QFormat(16, 8), "stochastic", "saturate", r=16,
                   source=src)
    assert same_state(src.bit_generator, ref) and src.bit_generator.state["buffer_pos"] == before["buffer_pos"]
