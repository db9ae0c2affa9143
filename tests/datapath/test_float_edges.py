"""Floats whose scaled value t = x * 2**fl lies in (-1/2, 0): there the discarded fraction
1 + t needs more than 53 bits, so a kernel that computes it in double rounds it (it once turned
-2**-54 into phi = 1.0, and -1/2 + 2**-54 into a false tie).  Every element of these arrays is
checked against the Fraction reference, in block (vectorized) and scalar positions alike."""
from fractions import Fraction

import numpy as np
import pytest

from reference import ref_cast

from fxsim import DETERMINISTIC, QFormat, cast

EDGE = [-2.0**-54, -2.0**-80, -0.5 + 2.0**-54, -0.5 + 2.0**-60, -0.25 - 2.0**-60,
        -0.1, -2.0**-1000, -0.49999999999999994, -0.5, -1e-300, -5e-324]


def _inputs():
    rng = np.random.default_rng(7)
    # mixed with ordinary values so the edges land inside vectorized blocks too
    ordinary = rng.uniform(-3, 3, 3000)
    x = np.concatenate([ordinary[:1500], EDGE, ordinary[1500:], EDGE])
    return x


@pytest.mark.parametrize("rounding", DETERMINISTIC)
def test_small_negative_t_deterministic(rounding):
    x = _inputs()
    fmt = QFormat(8, 0)
    got = cast(x, fmt, rounding, "saturate").raw.tolist()
    want = [ref_cast(Fraction(v), 8, 0, True, rounding, "saturate") for v in x]
    assert got == want


@pytest.mark.parametrize("rule", ["trunc", "half", "rne"])
@pytest.mark.parametrize("rounding", ["stochastic", "stochastic_eps", "signed_stochastic_eps"])
@pytest.mark.parametrize("r", [1, 8, 52, 53, 64])
def test_small_negative_t_stochastic(rounding, rule, r):
    x = _inputs()
    rng = np.random.default_rng(r)
    draws = rng.integers(0, 2**r, x.size, dtype=np.uint64, endpoint=False) if r < 64 else \
        rng.integers(0, 2**63, x.size, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    v = rng.choice([-1.0, 0.0, 1.0], x.size)
    kw = dict(r=r, draws=draws, eps=0.3, sr_rule=rule)
    if rounding == "signed_stochastic_eps":
        kw["v"] = v
    got = cast(x, QFormat(8, 0), rounding, "saturate", **kw).raw.tolist()
    want = [ref_cast(Fraction(xi), 8, 0, True, rounding, "saturate", R=int(R), r=r, eps=0.3,
                     v=float(vi), sr_rule=rule) for xi, R, vi in zip(x, draws, v)]
    assert got == want
