"""The rounding MAC array's plain-SR tiles in int32 lanes (``_mac.mac_round`` -> ``sr_tile``:
4 columns a register, the accumulators and counts in registers): with PCG64 draws stepped
inside the rounding loop (an inline PCG64 part: one lane per column, jumped to the column's
first draw, no draw buffer), or with the draws of a tile filled from an LFSR or read from
``draws=``.  Checked against the Fraction reference (tests/oracles/reference.py) and an int64
numpy recurrence, with draws from independent streams (numpy's own PCG64, the reference LFSR):
words, counters and the source's final position, across 4-column strips, leftover columns,
tile and part boundaries, threads."""
import numpy as np
import pytest

import fxsim
from fxsim import _mac, ops
from reference import RefCounters, ref_dot, ref_lfsr_draws

FIELDS = ("cast", "inexact", "rounded_up", "overflowed", "draws")
TAPS16 = (16, 15, 13, 4)


@pytest.fixture
def lanes(monkeypatch):
    """(lane dtype, drew from source parts) of every ``_mac.mac_round`` call."""
    seen, real = [], _mac.mac_round
    monkeypatch.setattr(_mac, "mac_round",
                        lambda *a: (seen.append((a[2].dtype, len(a[6]) > 0)), real(*a))[1])
    return seen


def numpy_draws(seed, n, r):
    return np.random.PCG64(seed).random_raw(n) >> np.uint64(64 - r)


def after_draws(seed, n):
    bg = np.random.PCG64(seed)
    bg.advance(n)
    return bg.state


def words(fmt, shape, rng):
    q = fxsim.QFormat(*fmt)
    w = rng.integers(q.min_raw, q.max_raw, size=shape, endpoint=True)
    w.reshape(-1)[:2] = q.min_raw, q.max_raw
    return w


def reference(ra, fa, rb, fb, acc, overflow, draws, r):
    """Words and counters of A @ B from ref_dot, element by element in C order, K draws each."""
    M, K = ra.shape
    N = rb.shape[1]
    ref = RefCounters()
    out = np.zeros((M, N), dtype=np.int64)
    for i in range(M):
        for j in range(N):
            e = i * N + j
            out[i, j] = ref_dot(ra[i].tolist(), fa, rb[:, j].tolist(), fb, acc=acc,
                                rounding="stochastic", overflow=overflow, r=r,
                                draws=draws[e * K:(e + 1) * K], counters=ref).raw
    return out, ref


# (a, b, accumulator, r): the SR unit's addend is the discarded bits shifted left (sa < r),
# shifted right (sa > r) or as they are (sa = r); products at fl_a + fl_b, sa = that - fl_acc
CONFIGS = [((8, 4, True), (8, 4, True), (12, 5, True), 6),
           ((8, 6, True), (8, 6, True), (10, 2, True), 4),
           ((8, 4, True), (8, 4, True), (14, 3, False), 5)]


@pytest.mark.parametrize("fa, fb, acc, r", CONFIGS)
@pytest.mark.parametrize("overflow", ["saturate", "saturate_symmetric", "wrap"])
@pytest.mark.parametrize("threads, block", [(1, None), (2, None), (2, 200), (1, 64)])
@pytest.mark.parametrize("feed", ["pcg64", "lfsr", "draws"])
def test_sr_tiles_match_reference(monkeypatch, lanes, fa, fb, acc, r, overflow, threads, block,
                                  feed):
    monkeypatch.setattr(ops, "_threads", threads)
    if block is not None:                  # many parts, cut inside rows: short tiles
        monkeypatch.setattr(ops, "_BLOCK_LANE_MACS", block)
    rng = np.random.default_rng(5)
    ra, rb = words(fa, (3, 9), rng), words(fb, (9, 70), rng)     # a 64-column tile and 6 more
    A, B = fxsim.FixedArray(ra, fxsim.QFormat(*fa)), fxsim.FixedArray(rb, fxsim.QFormat(*fb))
    total = ra.shape[0] * ra.shape[1] * rb.shape[1]
    if feed == "pcg64":
        draws = numpy_draws(11, total, r).tolist()
        src, kw = fxsim.Ideal("pcg64", seed=11), {}
    elif feed == "lfsr":
        draws = ref_lfsr_draws(16, TAPS16, "galois", "serial", r, 1, total)
        src, kw = fxsim.LFSR(16, seed=1), {}
    else:
        draws = np.random.default_rng(12).integers(0, 1 << r, total).tolist()
        src, kw = None, {"draws": np.array(draws)}
    want, ref = reference(ra, fa, rb, fb, acc, overflow, draws, r)
    with fxsim.Counters() as c:
        y = fxsim.matmul(A, B, acc=fxsim.QFormat(*acc), rounding="stochastic",
                         overflow=overflow, r=r, source=src, **kw)
    assert lanes and all(s == (np.int32, src is not None) for s in lanes)   # int32 lanes
    assert np.array_equal(np.asarray(y.raw).astype(np.int64), want)
    for f in FIELDS:
        assert int(getattr(c, f)) == ref.total(f), f
    if feed == "pcg64":
        assert src.bit_generator.state == after_draws(11, total)
    elif feed == "lfsr":
        twin = fxsim.LFSR(16, seed=1)
        twin.draws(total, r)
        assert src.state == twin.state


def numpy_mac(a, b, sa, lo, hi, R, r, wrap_bits=None):
    """The spec §4 recurrence in int64 numpy, k ascending, plain SR ('trunc') by sa bits with
    the r-bit draws R[k][i, j], then saturation to [lo, hi] (or wrapping to wrap_bits); also
    the inexact, rounded-up and overflowed step counts."""
    a64, b64 = a.astype(np.int64), b.astype(np.int64)
    acc = np.zeros((a.shape[0], b.shape[1]), np.int64)
    n_in = n_up = n_ov = 0
    for k in range(a.shape[1]):
        v = (acc << sa) + a64[:, k, None] * b64[None, k, :]
        q, rem = v >> sa, v & ((1 << sa) - 1)
        top = rem >> (sa - r) if sa >= r else rem << (r - sa)      # the top r discarded bits
        up = (top + R[k]) >> r
        y = q + up
        n_in += int((rem != 0).sum())
        n_up += int(up.sum())
        n_ov += int(((y < lo) | (y > hi)).sum())
        if wrap_bits is None:
            acc = np.clip(y, lo, hi)
        else:
            acc = ((y - lo) & ((1 << wrap_bits) - 1)) + lo
    return acc, (n_in, n_up, n_ov)


@pytest.mark.parametrize("op, shape", [("matmul", (37, 300, 90)), ("matvec", (130, 257, 1)),
                                       ("matmul", (5, 1, 13))])
@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
def test_long_inline_pcg_matmul_matches_numpy(lanes, op, shape, overflow):
    """Q(8,8) words, a Q(16,8) accumulator, r = 16 (the benchmark's case), long K, PCG64."""
    m, K, n = shape
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, (m, K), dtype=np.int8)
    b = rng.integers(-128, 128, (K, n), dtype=np.int8)
    acc = fxsim.QFormat(16, 8, True)
    R = numpy_draws(7, m * n * K, 16).astype(np.int64).reshape(m, n, K).transpose(2, 0, 1)
    want, (n_in, n_up, n_ov) = numpy_mac(a, b, 8, acc.min_raw, acc.max_raw, R, 16,
                                         16 if overflow == "wrap" else None)
    src = fxsim.Ideal("pcg64", seed=7)
    A = fxsim.FixedArray(a, "Q(8,8)")
    Bx = fxsim.FixedArray(b if op == "matmul" else b[:, 0], "Q(8,8)")
    with fxsim.Counters() as c:
        y = getattr(fxsim, op)(A, Bx, acc=acc, rounding="stochastic", r=16, overflow=overflow,
                               source=src)
    assert np.array_equal(np.asarray(y.raw).reshape(-1).astype(np.int64), want.reshape(-1))
    assert (int(c.inexact), int(c.rounded_up), int(c.overflowed)) == (n_in, n_up, n_ov)
    assert int(c.draws) == m * n * K
    assert src.bit_generator.state == after_draws(7, m * n * K)
    assert lanes and all(s == (np.int32, True) for s in lanes)
