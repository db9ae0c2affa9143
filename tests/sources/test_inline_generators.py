"""Generators stepped inline instead of through numpy's ``next_uint64`` per word: the private
PCG64 streams (``PCG64Core``, four interleaved lanes of the one stream) and SFC64's
super-block fills (``Ideal._fill``); their words, in any split of the stream into calls and
mixed with the capsule's path, equal numpy's own generators."""
import numpy as np
import pytest

import fxsim
from fxsim import _sources
from reference import ref_cast_info, sr_trunc_sat_model

SPLITS = [0, 1, 3, 4, 7, 8, 9, 11, 12, 13, 1024, 1023, 5, 4099]


@pytest.mark.parametrize("seed", [0, 1, 12345])
@pytest.mark.parametrize("r", [64, 33, 16, 1])
def test_pcg64_core_words_equal_numpy(seed, r):
    st = np.random.PCG64(seed).state["state"]
    core = _sources.PCG64Core(int(st["state"]), int(st["inc"]))
    ref = np.random.PCG64(seed)
    for n in SPLITS:
        want = ref.random_raw(n) >> np.uint64(64 - r)
        assert np.array_equal(core.draws(n, r), want), n


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("r", [64, 16, 1])
def test_sfc64_fill_words_equal_numpy(seed, r):
    src, ref = fxsim.Ideal("sfc64", seed), np.random.SFC64(seed)
    x = np.array([0.3, -0.7, 1.05])
    for n in SPLITS:
        assert np.array_equal(src.draws(n, r), ref.random_raw(n) >> np.uint64(64 - r)), n
        # the capsule's path (one-thread kernels) continues the same stream
        got = fxsim.cast(x, "Q(8,4)", "stochastic", "saturate", r=r, source=src).raw
        assert np.array_equal(got, sr_trunc_sat_model(x, (8, 4, True), r, ref.random_raw(3))), n
    assert np.array_equal(src.bit_generator.state["state"]["state"], ref.state["state"]["state"])


def test_sfc64_two_thread_cast_equals_the_draws_path():
    """A long SR cast on two threads fills super-blocks of SFC64 draws inline: the words equal
    the cast fed by numpy's own SFC64 words (draws=)."""
    x = np.random.default_rng(3).normal(size=(1 << 18) + 123)
    threads = fxsim.get_num_threads()
    fxsim.set_num_threads(2)
    try:
        got = fxsim.cast(x, "Q(16,8)", "stochastic", r=16, source=fxsim.Ideal("sfc64", 5))
    finally:
        fxsim.set_num_threads(threads)
    want = sr_trunc_sat_model(x, (16, 8, True), 16, np.random.SFC64(5).random_raw(x.size))
    assert np.array_equal(got.raw, want)


@pytest.mark.parametrize("fmt", [(16, 8, True), (8, 4, False), (12, 0, True)])
@pytest.mark.parametrize("r", [1, 16, 52])
def test_numpy_sr_model_equals_the_fraction_reference(fmt, r):
    """The vectorised SR model the long-cast tests use (``sr_trunc_sat_model``) against the
    Fraction reference, value by value, on edge values, saturating ones and ±inf."""
    rng = np.random.default_rng(r)
    x = np.concatenate([rng.standard_normal(300) * 40, [0.0, -0.0, 1e300, -1e300, 1e-310,
                        -1e-310, np.inf, -np.inf, 2.0**-fmt[1], -(2.0**-fmt[1]) / 3]])
    words = rng.integers(0, 2**64, x.size, dtype=np.uint64)
    got = sr_trunc_sat_model(x, fmt, r, words)
    for xi, wi, g in zip(x, words, got):
        want = ref_cast_info(float(xi), *fmt, "stochastic", "saturate", R=int(wi) >> (64 - r), r=r)
        assert g == want.raw, (xi, wi)


# -- MT19937 and Philox stepped inline in numpy's own state ----------------------------------

MT_SPLITS = SPLITS + [311, 312, 313, 624, 625, 2000]     # across the 624-word twist, odd starts


def numpy_words(bg, n):
    """numpy's own 64-bit words: MT19937's random_raw gives its 32-bit outputs (two a word,
    the first high), Philox's its 64-bit words."""
    if isinstance(bg, np.random.MT19937):
        raw = bg.random_raw(2 * n).astype(np.uint64)
        return (raw[0::2] << np.uint64(32)) | raw[1::2]
    return bg.random_raw(n)


@pytest.mark.parametrize("name", ["MT19937", "Philox"])
def test_numpy_layout_recognised(name):
    # otherwise the capsule silently falls back to numpy's next_uint64 per word
    assert _sources.inline_kind(getattr(np.random, name)(1)) == name
    assert _sources.inline_kind(np.random.PCG64(1)) is None


@pytest.mark.parametrize("name", ["MT19937", "Philox"])
@pytest.mark.parametrize("seed", [0, 12345])
@pytest.mark.parametrize("r", [64, 33, 16, 1])
def test_inline_words_equal_numpy(name, seed, r):
    """Every split of the stream into calls, interleaved with numpy's own calls on the shared
    generator, gives numpy's words; the state afterwards (Philox's buffer too) is numpy's."""
    bg = getattr(np.random, name)(seed)
    src, ref = fxsim.Ideal(bg), getattr(np.random, name)(seed)
    for k, n in enumerate(MT_SPLITS if name == "MT19937" else SPLITS):
        assert np.array_equal(src.draws(n, r), numpy_words(ref, n) >> np.uint64(64 - r)), n
        if k % 3 == 0:              # numpy's own path moves the same state
            assert np.array_equal(bg.random_raw(3), ref.random_raw(3))
    assert str(bg.state) == str(ref.state)


def test_philox_counter_carry():
    """The 256-bit counter carries across words, as numpy's philox_next does."""
    st = np.random.Philox(3).state
    st["state"]["counter"] = np.array([2**64 - 3, 2**64 - 1, 2**64 - 1, 5], dtype=np.uint64)
    bg, ref = np.random.Philox(), np.random.Philox()
    bg.state, ref.state = st, st
    assert np.array_equal(fxsim.Ideal(bg).draws(41, 64), ref.random_raw(41))
    assert str(bg.state) == str(ref.state)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", ["mt19937", "philox"])
def test_inline_sr_cast_equals_numpy_model(name, threads):
    """A long SR cast (trunc rule, saturate) on one and two threads: numpy's words through the
    SR unit written in numpy, floor(t) + [floor(frac(t) * 2**16) + R >= 2**16], t = x * 2**8."""
    n = (1 << 18) + 77
    x = np.random.default_rng(4).normal(size=n) * 20.0
    old = fxsim.get_num_threads()
    fxsim.set_num_threads(threads)
    try:
        got = fxsim.cast(x, "Q(16,8)", "stochastic", "saturate", r=16,
                         source=fxsim.Ideal(name, 9)).raw
    finally:
        fxsim.set_num_threads(old)
    bg = getattr(np.random, {"mt19937": "MT19937", "philox": "Philox"}[name])(9)
    R = (numpy_words(bg, n) >> np.uint64(48)).astype(np.int64)
    t = x * 256.0
    q = np.floor(t)
    frac = np.floor((t - q) * 65536.0).astype(np.int64)
    want = np.clip(q.astype(np.int64) + ((t != q) & (frac + R >= 65536)), -32768, 32767)
    assert np.array_equal(got, want)


def test_draw_prefetch_takes_in_stream_order_and_stops():
    """DrawPrefetch (the helper thread that fills super-blocks of a source without jump-ahead
    one block ahead of the kernels): takes of any size across its blocks give numpy's own
    words in order, the source ends after all n; closed early, its thread is gone."""
    import threading
    from fxsim.draw_prefetch import DrawPrefetch
    src, ref = fxsim.Ideal("mt19937", 4), np.random.MT19937(4)
    n, got = 10_007, []
    with src.lock:
        pre = DrawPrefetch(src, 16, n, 1000)
        for k in (1, 999, 1, 1500, 3, 4000, 3503):
            got.append(pre.take(k))
        pre.close()
    assert np.array_equal(np.concatenate(got), numpy_words(ref, n) >> np.uint64(48))
    assert str(src.bit_generator.state) == str(ref.state)
    with src.lock:
        pre = DrawPrefetch(src, 16, 10**6, 1000)
        pre.take(10)
        pre.close()
    assert not any(t.name == "fxsim-draw-prefetch" for t in threading.enumerate())


# -- Philox's private cores (PhiloxCore): the copies a long cast draws from --------------------

def philox_fields(bg):
    st = bg.state
    return (st["state"]["counter"].tolist(), st["state"]["key"].tolist(), st["buffer"].tolist(),
            int(st["buffer_pos"]))


@pytest.mark.parametrize("before", range(9))          # buffer_pos 4, 1, 2, 3, 4, 1, ...
@pytest.mark.parametrize("skip", [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 1001])
def test_philox_core_skips_as_numpy_steps(before, skip):
    """A core ``skip`` words past a numpy state (any buffer_pos) draws numpy's next words, and
    its counter, buffer and buffer_pos are numpy's after the same words."""
    bg = np.random.Philox(21)
    bg.random_raw(before)
    core = _sources.PhiloxCore(*philox_fields(bg), skip)
    bg.random_raw(skip)
    for n in (0, 1, 3, 8, 5, 13):
        assert np.array_equal(core.draws(n, 64), bg.random_raw(n)), n
        ctr, key, buf, pos = philox_fields(bg)
        assert (core.counter, core.buffer, core.buffer_pos) == (ctr, buf, pos), n


def test_philox_core_counter_carry_and_wrap():
    """The 256-bit counter carries across its words, and wraps at 2**256, as numpy's."""
    for ctr in ([2**64 - 3, 2**64 - 1, 2**64 - 1, 5], [2**64 - 2] + [2**64 - 1] * 3):
        st = np.random.Philox(3).state
        st["state"]["counter"] = np.array(ctr, dtype=np.uint64)
        bg = np.random.Philox()
        bg.state = st
        core = _sources.PhiloxCore(*philox_fields(bg), 6)
        bg.random_raw(6)
        assert np.array_equal(core.draws(23, 64), bg.random_raw(23))
        assert core.counter == philox_fields(bg)[0]


def test_philox_core_refuses_bad_fields():
    good = philox_fields(np.random.Philox(1))
    for bad in [(good[0][:3], *good[1:]), (good[0], good[1], good[2], 5),
                (*good[:3], -1), (*good, -1)]:
        with pytest.raises(ValueError, match="PhiloxCore"):
            _sources.PhiloxCore(*bad)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("before", [0, 3, 4, 6])
def test_philox_substreams_leave_numpy_state(threads, before):
    """A long SR cast of odd length from a Philox source with a partly used buffer, on one and
    two threads (private cores at the cuts): numpy's words through the numpy SR model, and the
    source afterwards exactly where numpy is after those words (counter, buffer, buffer_pos,
    the uint32 cache untouched); a second cast continues the stream."""
    n = (1 << 18) + 77
    x = np.random.default_rng(5).normal(size=n) * 20.0
    bg, ref = np.random.Philox(12), np.random.Philox(12)
    bg.random_raw(before)
    ref.random_raw(before)
    src = fxsim.Ideal(bg)
    old = fxsim.get_num_threads()
    fxsim.set_num_threads(threads)
    try:
        got = [fxsim.cast(x, "Q(16,8)", "stochastic", "saturate", r=16, source=src).raw
               for _ in range(2)]
    finally:
        fxsim.set_num_threads(old)
    for g in got:
        R = (ref.random_raw(n) >> np.uint64(48)).astype(np.int64)
        t = x * 256.0
        q = np.floor(t)
        frac = np.floor((t - q) * 65536.0).astype(np.int64)
        want = np.clip(q.astype(np.int64) + ((t != q) & (frac + R >= 65536)), -32768, 32767)
        assert np.array_equal(g, want)
    assert str(bg.state) == str(ref.state)
