"""Long operations run as several kernel calls (so Ctrl-C is seen between them): the split
must not change a word, a counter or an error position.  Checked against exact numpy
arithmetic with tiny block sizes, and the MAC lanes path must leave the caller's A alone."""
import numpy as np
import pytest

import fxsim
from fxsim import ops


@pytest.fixture
def tiny_blocks(monkeypatch):
    monkeypatch.setattr(ops, "_BLOCK", 7)
    monkeypatch.setattr(ops, "_BLOCK_MACS", 5)
    monkeypatch.setattr(ops, "_BLOCK_LANE_MACS", 5)


def test_broadcast_add_in_blocks_is_exact(tiny_blocks):
    rng = np.random.default_rng(3)
    ra = rng.integers(-128, 128, size=(5, 1, 6))
    rb = rng.integers(-32, 32, size=(4, 1))
    a, b = fxsim.FixedArray(ra, "Q(8,4)"), fxsim.FixedArray(rb, "Q(6,2)")
    with fxsim.Counters() as c:
        y = fxsim.add(a, b, fmt="Q(8,3)", rounding="floor", overflow="wrap")
    exact = ra * 1 + rb * 4                     # at fl = 4
    want = ((exact >> 1) + 128) % 256 - 128     # floor to fl = 3, wrap to 8 bits
    assert y.shape == (5, 4, 6) and np.array_equal(y.raw, want)
    assert c.cast == want.size and c.inexact == int(np.count_nonzero(exact & 1))


def test_cast_in_blocks_counts_and_first_error(tiny_blocks):
    x = np.arange(40) / 16.0
    x[23] = 100.0
    x[31] = 200.0
    with pytest.raises(OverflowError, match=r"2 element\(s\).*index \(23,\)"):
        fxsim.cast(x, "Q(8,4)", overflow="error")
    y = fxsim.cast(x, "Q(8,4)", "stochastic", r=4, draws=np.arange(40) % 16)
    assert np.array_equal(y.raw[:23], np.arange(23))      # exact values: draws do not matter


def test_generic_matmul_in_row_blocks_is_exact(tiny_blocks):
    rng = np.random.default_rng(5)
    ra, rb = rng.integers(-100, 100, (9, 4)), rng.integers(-100, 100, (4, 3))
    A, B = fxsim.FixedArray(ra, "Q(8,4)"), fxsim.FixedArray(rb, "Q(8,4)")
    y = fxsim.matmul(A, B, acc="Q(40,7)", rounding="floor", overflow="saturate")
    # acc at fl 7 < 8: every step floors (acc + p) >> 1 exactly; replayed with Python ints
    want = np.zeros((9, 3), dtype=np.int64)
    for i in range(9):
        for j in range(3):
            s = 0
            for k in range(4):
                s = ((s << 1) + int(ra[i, k]) * int(rb[k, j])) >> 1
            want[i, j] = s
    assert np.array_equal(y.raw, want)


@pytest.mark.parametrize("afmt, acc", [("Q(20,2)", "Q(28,6)"),    # int32 words, int32 lanes
                                       ("Q(40,2)", "Q(60,6)")])   # int64 words, int64 lanes
def test_mac_lanes_leave_a_unchanged(afmt, acc):
    A = fxsim.FixedArray(np.arange(-6, 6).reshape(3, 4), afmt)
    A.raw.flags.writeable = False               # a read-only A must be accepted too
    before = A.raw.copy()
    B = fxsim.FixedArray(np.ones((4, 2), dtype=np.int8), "Q(8,2)")
    y1 = fxsim.matmul(A, B, acc=acc, overflow="saturate")   # acc fl 6 > 2 + 2: products shifted
    y2 = fxsim.matmul(A, B, acc=acc, overflow="saturate")
    assert np.array_equal(A.raw, before)
    want = (before.astype(np.int64) @ np.ones((4, 2), dtype=np.int64)) << 2
    assert np.array_equal(y1.raw, want) and np.array_equal(y2.raw, want)
