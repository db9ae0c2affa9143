"""The vectorized float -> word block loops (all in doubles, converted to int32 or int64 lanes at
the end) against the Fraction reference: every deterministic mode, the saturating overflows,
word widths 8..64 (signed and unsigned), negative and large fraction lengths, float64 and
float32 inputs, words and counters.  The inputs mix ordinary values with exact ties, values
that saturate, huge values, tiny products and the (-1/2, 0) band, so every block takes the
fast loop and some take the scalar fallback."""
import numpy as np
import pytest

from reference import ref_cast_info

import fxsim as fx
from fxsim import DETERMINISTIC, QFormat

FORMATS = [(8, 4, True), (8, 0, False), (16, 8, True), (16, 8, False), (12, -3, True),
           (8, 12, True), (32, 16, True), (32, 0, False), (31, 0, True), (40, 20, True),
           (51, 10, False), (52, 10, True), (64, 20, True)]


def _inputs(fl, dtype):
    rng = np.random.default_rng(fl + 100)
    n = 2500
    x = rng.normal(0, 2.0 ** (10 - fl), n)
    x[::4] = np.round(x[::4] * 2.0 ** fl) / 2.0 ** fl + 2.0 ** (-fl - 1)   # exact ties
    x[1::9] = rng.normal(0, 2.0 ** (60 - fl), x[1::9].size)                  # saturate
    x[2::97] = np.ldexp(1.0, -fl) * rng.uniform(-0.5, 0, x[2::97].size)      # (-1/2, 0)
    x = x.astype(dtype)
    # one block of plain values (the fast loop) and a tail with huge and tiny values
    big = 1e300 if dtype == np.float64 else 3e38
    with np.errstate(under="ignore"):                     # float32: tiny values become zeros
        tail = np.array([big, -big, 2.0 ** 62, -2.0 ** 62, 5e-324, -5e-324, 0.0, -0.0,
                         2.0 ** -1000, 3.5, -3.5], dtype=np.float64).astype(dtype)
    return np.concatenate([x, tail])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("overflow", ["saturate", "saturate_symmetric"])
@pytest.mark.parametrize("wl,fl,signed", FORMATS)
def test_block_cast_vs_reference(wl, fl, signed, overflow, dtype):
    x = _inputs(fl, dtype)
    fmt = QFormat(wl, fl, signed)
    for rounding in DETERMINISTIC:
        with fx.Counters() as c:
            got = fx.cast(x, fmt, rounding, overflow)
        infos = [ref_cast_info(float(v), wl, fl, signed, rounding, overflow) for v in x]
        want = [i.raw for i in infos]
        assert got.raw.tolist() == want, (rounding, fmt, overflow)
        assert (c.cast, c.inexact, c.rounded_up, c.overflowed) == (
            len(x), sum(i.inexact for i in infos), sum(i.rounded_up for i in infos),
            sum(i.overflowed for i in infos)), (rounding, fmt, overflow)
