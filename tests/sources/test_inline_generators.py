"""Generators stepped inline instead of through numpy's ``next_uint64`` per word: the private
PCG64 streams (``PCG64Core``, four interleaved lanes of the one stream) and SFC64's
super-block fills (``Ideal._fill``); their words, in any split of the stream into calls and
mixed with the capsule's path, equal numpy's own generators."""
import numpy as np
import pytest

import fxsim
from fxsim import _sources

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
    for n in SPLITS:
        assert np.array_equal(src.draws(n, r), ref.random_raw(n) >> np.uint64(64 - r)), n
        # the capsule's path (one-thread kernels) continues the same stream
        assert fxsim.cast(np.array([0.3]), "Q(8,4)", "stochastic", r=r, source=src).raw.size == 1
        ref.random_raw(1)
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
    draws = np.random.SFC64(5).random_raw(x.size) >> np.uint64(48)
    want = fxsim.cast(x, "Q(16,8)", "stochastic", r=16, draws=draws)
    assert np.array_equal(got.raw, want.raw)
