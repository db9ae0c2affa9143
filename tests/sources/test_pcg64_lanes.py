"""The inline PCG64 of private streams (``PCG64Core``) fills in four interleaved lanes of the
one stream; its words, in any split of the stream into calls, equal numpy's own PCG64."""
import numpy as np
import pytest

from fxsim import _sources


@pytest.mark.parametrize("seed", [0, 1, 12345])
@pytest.mark.parametrize("r", [64, 33, 16, 1])
def test_pcg64_core_words_equal_numpy(seed, r):
    st = np.random.PCG64(seed).state["state"]
    core = _sources.PCG64Core(int(st["state"]), int(st["inc"]))
    ref = np.random.PCG64(seed)
    for n in [0, 1, 3, 4, 7, 8, 9, 11, 12, 13, 1024, 1023, 5, 4099]:
        want = ref.random_raw(n) >> np.uint64(64 - r)
        assert np.array_equal(core.draws(n, r), want), n
