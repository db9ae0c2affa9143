"""The one-element MAC (``_mac.one_round``, a dot product with a rounding accumulator): the
steps are prepared in chunks of 256 apart from the accumulator and the chain keeps an addition
and predicted branches.  Checked against the Fraction reference (tests/oracles/reference.py),
counters included, over chunk boundaries, ties, saturation runs and wrap, in int32 and int64
lanes, for every deterministic mode and every SR rule (draws from numpy's own PCG64 and from
the plain LFSR of reference.py)."""
import numpy as np
import pytest

import fxsim
from fxsim import ops
from reference import RefCounters, ref_dot, ref_lfsr_draws

DET = ("floor", "ceil", "toward_zero", "away_from_zero", "nearest_up", "nearest_down",
       "nearest_zero", "nearest_away", "nearest_even", "nearest_odd", "jam")
FIELDS = ("cast", "inexact", "rounded_up", "overflowed", "draws")
K = 700          # three chunks of the chain, the last one partial

# (a format, b format, accumulator): the first is in int32 lanes, the second in int64 lanes
CONFIGS = [((8, 4, True), (8, 4, True), (10, 3, True)),
           ((16, 8, True), (12, 6, True), (20, 1, True))]


def operands(fa, fb, seed):
    """Words with runs of equal-signed large products (saturation, then recovery), ties of the
    accumulator cast, and plain random steps."""
    rng = np.random.default_rng(seed)
    qa, qb = fxsim.QFormat(*fa), fxsim.QFormat(*fb)
    a = rng.integers(qa.min_raw, qa.max_raw, K, endpoint=True)
    b = rng.integers(qb.min_raw, qb.max_raw, K, endpoint=True)
    a[40:160], b[40:160] = qa.max_raw, qb.max_raw          # up to the top rail
    a[300:420], b[300:420] = qa.min_raw, qb.max_raw        # down to the bottom rail
    b[500:600] = 1 << (fb[1] - 1)                          # many exact halves
    return a, b


def reference(a, fa, b, fb, acc, rounding, overflow, **kw):
    ref = RefCounters()
    raw = ref_dot(a.tolist(), fa, b.tolist(), fb, acc=acc, rounding=rounding,
                  overflow=overflow, counters=ref, **kw).raw
    return raw, ref


def check(y, c, raw, ref):
    assert int(y.raw) == raw
    for f in FIELDS:
        assert int(getattr(c, f)) == ref.total(f), (f, int(getattr(c, f)), ref.total(f))


@pytest.fixture
def lanes(monkeypatch):
    """The lane type each call takes (int32 or int64), to show both are exercised."""
    seen = []
    real = ops._round_lane

    def spy(*args):
        lane = real(*args)
        seen.append(lane)
        return lane
    monkeypatch.setattr(ops, "_round_lane", spy)
    return seen


@pytest.mark.parametrize("cfg", range(len(CONFIGS)))
@pytest.mark.parametrize("overflow", ["saturate", "saturate_symmetric", "wrap"])
def test_deterministic_dot_matches_reference(lanes, cfg, overflow):
    fa, fb, acc = CONFIGS[cfg]
    a, b = operands(fa, fb, 10 + cfg)
    A, B = fxsim.FixedArray(a, fxsim.QFormat(*fa)), fxsim.FixedArray(b, fxsim.QFormat(*fb))
    for rounding in DET:
        raw, ref = reference(a, fa, b, fb, acc, rounding, overflow)
        with fxsim.Counters() as c:
            y = fxsim.dot(A, B, acc=fxsim.QFormat(*acc), rounding=rounding, overflow=overflow)
        check(y, c, raw, ref)
        assert ref.total("overflowed") > 0 and ref.total("inexact") > 0
    assert set(lanes) == {(np.int32, np.int64)[cfg]}


RULES = [("stochastic", "trunc", 0.0), ("stochastic", "half", 0.0), ("stochastic", "rne", 0.0),
         ("stochastic", "ge", 0.0), ("stochastic_eps", "trunc", 0.2),
         ("signed_stochastic_eps", "rne", 0.3)]


@pytest.mark.parametrize("cfg", range(len(CONFIGS)))
@pytest.mark.parametrize("rounding, sr_rule, eps", RULES)
@pytest.mark.parametrize("v", [-1.5, 2.0])
def test_stochastic_dot_from_pcg64_matches_reference(lanes, cfg, rounding, sr_rule, eps, v):
    fa, fb, acc = CONFIGS[cfg]
    a, b = operands(fa, fb, 20 + cfg)
    r = 9
    draws = (np.random.PCG64(5).random_raw(K) >> np.uint64(64 - r)).tolist()
    raw, ref = reference(a, fa, b, fb, acc, rounding, "saturate", r=r, eps=eps, v=v,
                         sr_rule=sr_rule, draws=draws)
    src = fxsim.Ideal("pcg64", seed=5)
    with fxsim.Counters() as c:
        y = fxsim.dot(fxsim.FixedArray(a, fxsim.QFormat(*fa)), fxsim.FixedArray(b, fxsim.QFormat(*fb)),
                      acc=fxsim.QFormat(*acc), rounding=rounding, overflow="saturate", r=r,
                      eps=eps, sr_rule=sr_rule, v=np.float64(v), source=src)
    check(y, c, raw, ref)
    twin = np.random.PCG64(5)
    twin.random_raw(K)
    assert src.bit_generator.state == twin.state
    assert set(lanes) == {(np.int32, np.int64)[cfg]}


@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
def test_stochastic_dot_from_lfsr_and_draws_matches_reference(overflow):
    fa, fb, acc = CONFIGS[0]
    a, b = operands(fa, fb, 30)
    r = 7
    draws = ref_lfsr_draws(16, (16, 15, 13, 4), "galois", "serial", r, 1, K)
    raw, ref = reference(a, fa, b, fb, acc, "stochastic", overflow, r=r, draws=draws)
    A, B = fxsim.FixedArray(a, fxsim.QFormat(*fa)), fxsim.FixedArray(b, fxsim.QFormat(*fb))
    for kw in ({"source": fxsim.LFSR(16, seed=1)}, {"draws": np.array(draws)}):
        with fxsim.Counters() as c:
            y = fxsim.dot(A, B, acc=fxsim.QFormat(*acc), rounding="stochastic", r=r,
                          overflow=overflow, **kw)
        check(y, c, raw, ref)


def test_saturating_matmul_in_int64_lanes_with_32_bit_products(monkeypatch):
    """matmul_acc_lanes in int64 lanes multiplies words of at most 32 bits with AVX2's
    32 x 32 -> 64-bit product: the MLP's Q(16,8) x Q(16,8) into a Q(32,16) accumulator, words
    at both ends of their range, against the per-step saturating sum in Python integers."""
    seen = []
    real = fxsim._mac.matmul_acc_lanes
    monkeypatch.setattr(fxsim._mac, "matmul_acc_lanes",
                        lambda *a: seen.append((a[0].dtype, a[-1])) or real(*a))
    rng = np.random.default_rng(40)
    a = rng.integers(-2**15, 2**15, (5, 300))
    b = rng.integers(-2**15, 2**15, (300, 7))
    a[0], b[:, 0] = -2**15, -2**15                       # (-2^15)^2 every step: saturates
    a[1], b[:, 1] = 2**15 - 1, -2**15                    # the bottom rail
    y = fxsim.matmul(fxsim.FixedArray(a, "Q(16,8)"), fxsim.FixedArray(b, "Q(16,8)"),
                     acc="Q(32,16)", overflow="saturate")
    lo, hi = -2**31, 2**31 - 1
    want = np.zeros((5, 7), dtype=np.int64)
    for i in range(5):
        for j in range(7):
            s = 0
            for k in range(300):
                s = min(hi, max(lo, s + int(a[i, k]) * int(b[k, j])))
            want[i, j] = s
    assert np.array_equal(y.raw.astype(np.int64), want)
    assert want[0, 0] == hi and want[1, 1] == lo
    assert seen and all(dt == np.int64 and narrow for dt, narrow in seen)


@pytest.mark.parametrize("acc", [(24, 16, True), (40, 16, True)])       # int32, int64 lanes
@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
def test_saturating_matmul_chunks_without_overflow_check(acc, overflow):
    """Chunks of steps that cannot leave the range skip the per-step check; the others (runs
    toward a rail) keep it: words and the overflow count against Python integers."""
    rng = np.random.default_rng(41)
    a = rng.integers(-3, 4, (4, 400))
    b = rng.integers(-128, 128, (400, 70))
    a[:2, 100:300] = 127                                  # rows 0-1 run into the rails
    b[:, :5] = 127
    qa = fxsim.QFormat(*acc)
    a[:, :] = a << (acc[0] - 16)                          # large enough to reach the rails
    lo, hi = qa.min_raw, qa.max_raw
    want = np.zeros((4, 70), dtype=np.int64)
    novf = 0
    for i in range(4):
        for j in range(70):
            s = 0
            for k in range(400):
                v = s + int(a[i, k]) * int(b[k, j])
                novf += not lo <= v <= hi
                s = min(hi, max(lo, v)) if overflow == "saturate" else ((v - lo) % 2**acc[0]) + lo
            want[i, j] = s
    fa = fxsim.QFormat(acc[0] - 8, 16, True)
    with fxsim.Counters() as c:
        y = fxsim.matmul(fxsim.FixedArray(a, fa), fxsim.FixedArray(b, "Q(8,0)"), acc=qa,
                         overflow=overflow)
    assert np.array_equal(y.raw.astype(np.int64), want)
    assert int(c.overflowed) == novf > 0
