"""A saturating (or wrapping) accumulator that provably never leaves its range is the exact sum:
such matmuls go to float64 BLAS (``ops._unsaturated_sums``), the others to the MAC lanes.
Words and counters against the per-step saturating sum in Python integers; the kernel that ran
is recorded, so a proof that wrongly passes (or never passes) fails here."""
import numpy as np
import pytest

import fxsim
from fxsim import ops


def stepwise(a, b, lo, hi, overflow):
    """Spec §4 order with Python integers: acc = cast(acc + a_k b_k) every step; the overflow
    events counted."""
    M, K = a.shape
    N = b.shape[1]
    out = np.zeros((M, N), dtype=object)
    events = 0
    for i in range(M):
        row = [int(t) for t in a[i]]
        for j in range(N):
            col = [int(t) for t in b[:, j]]
            s = 0
            for k in range(K):
                v = s + row[k] * col[k]
                events += not lo <= v <= hi
                if overflow == "wrap":
                    s = (v - lo) % (hi - lo + 1) + lo
                else:
                    s = min(hi, max(lo, v))
            out[i, j] = s
    return out, events


@pytest.fixture
def lanes_calls(monkeypatch):
    seen = []
    real = fxsim._mac.matmul_acc_lanes
    monkeypatch.setattr(fxsim._mac, "matmul_acc_lanes", lambda *a: seen.append(1) or real(*a))
    return seen


def run(a, b, fa, fb, acc, overflow):
    with fxsim.Counters() as c:
        y = fxsim.matmul(fxsim.FixedArray(a, fa), fxsim.FixedArray(b, fb), acc=acc,
                         overflow=overflow)
    return y, c


def bounds(acc, overflow):
    q = fxsim.qformat(acc)
    lo = -q.max_raw if overflow == "saturate_symmetric" else q.min_raw
    return lo, q.max_raw


@pytest.mark.parametrize("overflow", ["saturate", "saturate_symmetric", "wrap"])
def test_small_words_take_blas_with_the_stepwise_words(overflow, lanes_calls):
    """The MLP's case: Q(16,8) words, a Q(32,16) accumulator, sums far from the rails (the
    cheap row-sum bound proves it)."""
    rng = np.random.default_rng(50)
    a = rng.integers(-300, 301, (40, 90))
    b = rng.integers(-300, 301, (90, 12))
    y, c = run(a, b, "Q(16,8)", "Q(16,8)", "Q(32,16)", overflow)
    want, events = stepwise(a, b, *bounds("Q(32,16)", overflow), overflow)
    assert events == 0
    assert y.raw.dtype == np.int32 and y.fmt == fxsim.QFormat(32, 16)
    assert y.raw.tolist() == want.tolist()
    assert (int(c.cast), int(c.inexact), int(c.overflowed)) == (40 * 12 * 90, 0, 0)
    assert not lanes_calls


def test_row_sums_prove_what_the_largest_words_cannot(lanes_calls):
    """One large word per row of A: K * max|a| * max|b| is above the rail, the row sums of |A|
    times max|b| are not."""
    rng = np.random.default_rng(55)
    M, K, N = 20, 64, 16
    a = rng.integers(-3, 4, (M, K))
    a[np.arange(M), rng.integers(0, K, M)] = -2**15
    b = rng.integers(-2**14, 2**14, (K, N))
    assert K * 2**15 * int(np.abs(b).max()) > 2**31 - 1
    qa = fxsim.QFormat(16, 8)
    y, c = run(a, b, qa, qa, "Q(32,16)", "saturate_symmetric")
    want, events = stepwise(a, b, -2**31 + 1, 2**31 - 1, "saturate")
    assert events == 0
    assert y.raw.tolist() == want.tolist()
    assert int(c.overflowed) == 0 and int(c.cast) == M * N * K
    assert not lanes_calls


def test_exact_bound_proves_what_the_row_sums_cannot(lanes_calls):
    """Large words whose large products never meet: max_i sum_k |a_ik| * max|b| is above the
    rail, the exact max of |A| @ |B| is not (the second proof, row by row in int64)."""
    rng = np.random.default_rng(51)
    M, K, N = 24, 64, 16
    a = np.full((M, K), 2**15 - 1)
    a[:, 1::2] = -2**15
    b = rng.integers(-2, 3, (K, N))
    b[rng.integers(0, K, N), np.arange(N)] = -2**15          # one large word per column
    qa = fxsim.QFormat(16, 8)
    assert int(np.abs(a).sum(axis=1).max()) * 2**15 > 2**31 - 1
    y, c = run(a, b, qa, qa, "Q(32,16)", "saturate")
    want, events = stepwise(a, b, -2**31, 2**31 - 1, "saturate")
    assert events == 0
    assert y.raw.tolist() == want.tolist()
    assert int(c.overflowed) == 0 and int(c.cast) == M * N * K
    assert not lanes_calls


@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
def test_sums_that_touch_the_rail_and_come_back_stay_on_the_lanes(overflow, lanes_calls):
    """Partial sums beyond the rail whose final sum is back in range: saturated, the exact sum
    (what BLAS would give) is wrong; wrapped, it is right but the overflow events must be
    counted: the proof fails and the lanes run."""
    rng = np.random.default_rng(52)
    M, K, N = 8, 400, 8
    a = rng.integers(-50, 51, (M, K))
    b = rng.integers(-50, 51, (K, N))
    a[:, :100], a[:, 100:200] = 2**15 - 1, -2**15              # up past the top, then back
    b[:200] = 2**15 - 1
    qa = fxsim.QFormat(16, 8)
    y, c = run(a, b, qa, qa, "Q(32,16)", overflow)
    want, events = stepwise(a, b, -2**31, 2**31 - 1, overflow)
    exact = (a.astype(object) @ b.astype(object))
    assert events > 0 and (want != exact).any() == (overflow == "saturate")
    assert y.raw.astype(np.int64).tolist() == want.tolist()
    assert int(c.overflowed) == events
    assert lanes_calls


def test_shifted_products_and_int64_lanes(lanes_calls):
    """Products aligned by a left shift (acc fl above fl_a + fl_b) into a 48-bit accumulator:
    int64 lanes, BLAS after the exact scaling by 2**sp."""
    rng = np.random.default_rng(53)
    a = rng.integers(-2**11, 2**11, (30, 70))
    b = rng.integers(-2**11, 2**11, (70, 9))
    fa, fb, acc = fxsim.QFormat(12, 4), fxsim.QFormat(12, 4), fxsim.QFormat(48, 11)
    y, c = run(a, b, fa, fb, acc, "saturate")
    want, events = stepwise(a << 3, b, acc.min_raw, acc.max_raw, "saturate")
    assert events == 0
    assert y.raw.dtype == np.int64 and y.raw.tolist() == want.tolist()
    assert int(c.overflowed) == 0 and int(c.cast) == 30 * 9 * 70
    assert not lanes_calls


def test_small_calls_stay_on_the_lanes(lanes_calls):
    """Below _BLAS_MIN_MACS multiply-accumulates the lanes are cheaper than the float copies."""
    a = np.arange(-20, 20).reshape(5, 8)
    b = np.arange(-12, 12).reshape(8, 3)
    assert 5 * 8 * 3 < ops._BLAS_MIN_MACS
    y, _ = run(a, b, "Q(16,8)", "Q(16,8)", "Q(32,16)", "saturate")
    assert y.raw.tolist() == (a @ b).tolist()
    assert lanes_calls


def test_inputs_are_not_written(lanes_calls):
    rng = np.random.default_rng(54)
    a = rng.integers(-300, 301, (40, 90)).astype(np.int16)
    b = rng.integers(-300, 301, (90, 12)).astype(np.int16)
    a0, b0 = a.copy(), b.copy()
    a.flags.writeable = b.flags.writeable = False
    y, _ = run(a, b, "Q(16,8)", "Q(16,8)", "Q(32,16)", "saturate")
    assert np.array_equal(a, a0) and np.array_equal(b, b0)
    assert not np.shares_memory(y.raw, a) and not np.shares_memory(y.raw, b)
    assert not lanes_calls
