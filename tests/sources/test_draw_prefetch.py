"""``fxsim.draw_prefetch.DrawPrefetch`` on its own: the draws taken in any split equal the
source's own ``draws`` (a fresh source of the same seed), a failing fill reaches the taker, and
``close()`` before the end stops the helper thread."""
import numpy as np
import pytest

import fxsim
from fxsim.draw_prefetch import DrawPrefetch


@pytest.mark.parametrize("block", [1, 7, 64, 1000])
def test_takes_in_any_split_equal_the_sources_draws(block):
    src = fxsim.Ideal("mt19937", seed=3)
    want = fxsim.Ideal("mt19937", seed=3).draws(300, 11)
    got = []
    with src.lock:
        pre = DrawPrefetch(src, 11, 300, block)
        for k in (1, 5, 13, 81, 200):
            got.append(pre.take(k))
        pre.close()
    assert np.array_equal(np.concatenate(got), want)
    assert np.array_equal(src.draws(5, 11), fxsim.Ideal("mt19937", seed=3).draws(305, 11)[300:])


def test_a_failing_fill_is_raised_to_the_taker():
    class Broken:
        def _fill(self, out, r):
            raise RuntimeError("no bits")
    pre = DrawPrefetch(Broken(), 8, 10, 4)
    with pytest.raises(RuntimeError, match="no bits"):
        pre.take(3)
    pre.close()


def test_close_before_the_end_stops_the_helper():
    src = fxsim.Ideal("mt19937", seed=1)
    with src.lock:
        pre = DrawPrefetch(src, 8, 1 << 20, 16, depth=1)
        first = pre.take(3)
        pre.close()
    assert not pre._thread.is_alive()
    assert np.array_equal(first, fxsim.Ideal("mt19937", seed=1).draws(3, 8))
