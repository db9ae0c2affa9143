"""The parallel stochastic cast (one private sub-stream per thread, jump-ahead to each slice)
must give exactly the single sequential stream: checked against the independent LFSR oracle
(tests/lfsr_ref.py) and numpy's own PCG64 stream, with the Fraction reference on a sample."""
from fractions import Fraction

import numpy as np
import pytest

from lfsr_ref import LFSRSource
from reference import ref_cast

import fxsim
from fxsim import QFormat, cast

N = (1 << 18) + 13          # above the size where cast switches to per-thread sub-streams


@pytest.fixture(autouse=True)
def two_threads():
    old = fxsim.get_num_threads()
    fxsim.set_num_threads(2)
    yield
    fxsim.set_num_threads(old)


def _x():
    return np.random.default_rng(3).standard_normal(N) * 20.0


def _check_sample(x, got, draws, rounding, r, eps, rule, fmt=(16, 8, True)):
    idx = np.random.default_rng(4).choice(N, 2000, replace=False)
    idx = np.concatenate([idx, [0, N // 2 - 1, N // 2, N - 1]])   # slice boundaries
    for i in idx:
        want = ref_cast(Fraction(float(x[i])), *fmt, rounding, "saturate", R=int(draws[i]), r=r,
                        eps=eps, sr_rule=rule)
        assert int(got[i]) == want, (i, x[i], draws[i])


@pytest.mark.parametrize("rule,r", [("trunc", 16), ("half", 8), ("rne", 12), ("trunc", 60)])
@pytest.mark.parametrize("form,draw_rule", [("galois", "serial"), ("fibonacci", "state")])
def test_lfsr_substreams_equal_the_sequential_stream(form, draw_rule, rule, r):
    if draw_rule == "state" and r > 16:
        r = 16
    x = _x()
    src = fxsim.LFSR(32, form=form, seed=0x1234567, rule=draw_rule)
    with fxsim.Counters() as c:
        got = cast(x, QFormat(16, 8), "stochastic_eps", "saturate", r=r, eps=0.1, sr_rule=rule,
                   source=src).raw
    oracle = LFSRSource(32, src.taps, form, 0x1234567, draw_rule, r=r)
    draws = np.array(oracle.draws(N + 3), dtype=np.uint64)
    # every element equals the draws-path cast with the oracle's draws ...
    ref_path = cast(x, QFormat(16, 8), "stochastic_eps", "saturate", r=r, eps=0.1, sr_rule=rule,
                    draws=draws[:N]).raw
    assert np.array_equal(got, ref_path)
    # ... a sample equals the Fraction reference, and the source ends where N draws leave it
    _check_sample(x, got, draws, "stochastic_eps", r, 0.1, rule)
    assert src.draws(3, r).tolist() == draws[N:].tolist()
    assert c.draws == N and c.cast == N


def test_pcg64_substreams_equal_numpy_stream():
    x = _x()
    src = fxsim.Ideal("pcg64", seed=11)
    got = cast(x, QFormat(16, 8), "stochastic", "saturate", r=16, source=src).raw
    words = np.random.PCG64(11).random_raw(N + 2)
    draws = words >> np.uint64(48)
    _check_sample(x, got, draws, "stochastic", 16, 0, "trunc")
    assert src.draws(2, 16).tolist() == draws[N:].tolist()
