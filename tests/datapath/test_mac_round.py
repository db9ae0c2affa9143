"""The rounding MAC array (``fxsim._mac.mac_round``): an accumulator cast that rounds, exact
products, saturate or wrap, in int32 or int64 lanes, tiles of up to 64 columns, draws filled per
tile from the source.  Checked against the Fraction reference (tests/oracles/reference.py), its
counters included, with draws from independent streams (the plain LFSR of reference.py, numpy's
own bit generators), across tile and part boundaries, thread counts and kernel-call sizes."""
import numpy as np
import pytest

import fxsim
from fxsim import _mac, ops
from reference import RefCounters, ref_dot, ref_lfsr_draws

DET = ("floor", "ceil", "toward_zero", "away_from_zero", "nearest_up", "nearest_down",
       "nearest_zero", "nearest_away", "nearest_even", "nearest_odd", "jam")
FIELDS = ("cast", "inexact", "rounded_up", "overflowed", "draws")
TAPS16 = (16, 15, 13, 4)


@pytest.fixture
def spy(monkeypatch):
    calls = []
    real = _mac.mac_round

    def wrapper(*args):
        calls.append(args)
        return real(*args)
    monkeypatch.setattr(_mac, "mac_round", wrapper)
    return calls


def reference(ra, fa, rb, fb, acc, rounding, overflow, draws=None, r=None, eps=0.0, v=None,
              sr_rule="trunc"):
    """Words and counters of A @ B from ref_dot, element by element in C order."""
    M, K = ra.shape
    N = rb.shape[1]
    ref = RefCounters()
    it = iter(draws) if draws is not None else None
    out = np.zeros((M, N), dtype=np.int64)
    for i in range(M):
        for j in range(N):
            d = [next(it) for _ in range(K)] if it is not None else None
            out[i, j] = ref_dot(ra[i].tolist(), fa, rb[:, j].tolist(), fb, acc=acc,
                                rounding=rounding, overflow=overflow, r=r, eps=eps,
                                v=0 if v is None else float(v[i, j]), sr_rule=sr_rule, draws=d,
                                counters=ref).raw
    return out, ref


def assert_counters(c, ref):
    for f in FIELDS:
        assert int(getattr(c, f)) == ref.total(f), (f, int(getattr(c, f)), ref.total(f))


def words(fmt, shape, rng):
    w = rng.integers(fxsim.QFormat(*fmt).min_raw, fxsim.QFormat(*fmt).max_raw, size=shape,
                     endpoint=True)
    w.reshape(-1)[:2] = fxsim.QFormat(*fmt).min_raw, fxsim.QFormat(*fmt).max_raw
    return w


# acc fl < fl_a + fl_b: every step rounds; (8, 4) x (8, 4) products at fl 8
CONFIGS = [((8, 4, True), (8, 4, True), (10, 5, True)),      # int32 lanes, saturates often
           ((12, 6, True), (8, 4, True), (14, 3, False)),    # unsigned accumulator
           ((16, 8, True), (12, 6, True), (40, 9, True))]    # int64 lanes


@pytest.mark.parametrize("fa, fb, acc", CONFIGS)
@pytest.mark.parametrize("overflow", ["saturate", "saturate_symmetric", "wrap"])
def test_deterministic_modes_match_reference(spy, fa, fb, acc, overflow):
    rng = np.random.default_rng(11)
    ra, rb = words(fa, (2, 5), rng), words(fb, (5, 67), rng)    # a full tile and 3 columns
    A, B = fxsim.FixedArray(ra, fxsim.QFormat(*fa)), fxsim.FixedArray(rb, fxsim.QFormat(*fb))
    for rounding in DET:
        want, ref = reference(ra, fa, rb, fb, acc, rounding, overflow)
        with fxsim.Counters() as c:
            y = fxsim.matmul(A, B, acc=fxsim.QFormat(*acc), rounding=rounding, overflow=overflow)
        assert np.array_equal(y.raw.astype(np.int64), want), rounding
        assert_counters(c, ref)
    assert len(spy) >= len(DET)


def _lfsr(seed=1):
    return fxsim.LFSR(16, seed=seed)


SOURCES = {
    # (make the source, the first n r-bit draws of the same stream from an independent model)
    "lfsr": (_lfsr, lambda n, r: ref_lfsr_draws(16, TAPS16, "galois", "serial", r, 1, n)),
    "pcg64": (lambda: fxsim.Ideal("pcg64", seed=3),
              lambda n, r: (np.random.PCG64(3).random_raw(n) >> np.uint64(64 - r)).tolist()),
    # no jump-ahead: drawn in order from the source itself
    "philox": (lambda: fxsim.Ideal("philox", seed=3),
               lambda n, r: (np.random.Philox(3).random_raw(n) >> np.uint64(64 - r)).tolist()),
}


@pytest.mark.parametrize("name", ["lfsr", "pcg64", "philox"])
@pytest.mark.parametrize("rounding, sr_rule, eps", [("stochastic", "trunc", 0.0),
                                                    ("stochastic", "half", 0.0),
                                                    ("stochastic", "rne", 0.0),
                                                    ("stochastic_eps", "trunc", 0.2),
                                                    ("signed_stochastic_eps", "rne", 0.3)])
@pytest.mark.parametrize("threads", [1, 2])
def test_stochastic_from_sources_matches_reference(spy, monkeypatch, name, rounding, sr_rule,
                                                   eps, threads):
    monkeypatch.setattr(ops, "_threads", threads)
    monkeypatch.setattr(ops, "_BLOCK_LANE_MACS", 64)          # many parts and kernel calls
    make, model = SOURCES[name]
    fa, fb, acc = (8, 4, True), (8, 4, True), (10, 3, True)
    rng = np.random.default_rng(7)
    ra, rb = words(fa, (3, 6), rng), words(fb, (6, 70), rng)
    v = rng.standard_normal((3, 70)).round(1)
    r = 5
    total = ra.shape[0] * rb.shape[1] * ra.shape[1]
    draws = model(total, r)
    want, ref = reference(ra, fa, rb, fb, acc, rounding, "saturate", draws=draws, r=r, eps=eps,
                          v=v, sr_rule=sr_rule)
    src = make()
    with fxsim.Counters() as c:
        y = fxsim.matmul(fxsim.FixedArray(ra, fxsim.QFormat(*fa)),
                         fxsim.FixedArray(rb, fxsim.QFormat(*fb)), acc=fxsim.QFormat(*acc),
                         rounding=rounding, overflow="saturate", r=r, eps=eps, sr_rule=sr_rule,
                         v=v, source=src)
    assert np.array_equal(y.raw.astype(np.int64), want)
    assert_counters(c, ref)
    after = make()
    after.draws(total, r)
    assert src.state == after.state                           # moved exactly `total` draws
    assert spy and all(len(call[6]) == len(call[5]) - 1 for call in spy)   # a stream per part


def test_source_without_jump_ahead_gives_the_sequential_stream(monkeypatch):
    """An LFSR with 2 lanes cannot jump: the array draws from it in order, on one thread."""
    monkeypatch.setattr(ops, "_BLOCK_LANE_MACS", 32)
    rng = np.random.default_rng(2)
    ra, rb = words((8, 4, True), (4, 9), rng), words((8, 4, True), (9, 3), rng)
    A, B = fxsim.FixedArray(ra, "Q(8,4)"), fxsim.FixedArray(rb, "Q(8,4)")
    src, twin = fxsim.LFSR(16, seed=1, lanes=2), fxsim.LFSR(16, seed=1, lanes=2)
    d = twin.draws(ra.shape[0] * rb.shape[1] * ra.shape[1], 6)
    want, _ = reference(ra, (8, 4, True), rb, (8, 4, True), (12, 5, True), "stochastic",
                        "wrap", draws=d.tolist(), r=6)
    y = fxsim.matmul(A, B, acc="Q(12,5)", rounding="stochastic", overflow="wrap", r=6, source=src)
    assert np.array_equal(y.raw.astype(np.int64), want)
    assert src.state == twin.state


@pytest.mark.parametrize("op", ["matvec", "dot"])
def test_matvec_and_dot_match_reference(spy, op):
    rng = np.random.default_rng(4)
    M = 70 if op == "matvec" else 1
    ra, rb = words((8, 4, True), (M, 9), rng), words((8, 4, True), (9, 1), rng)
    total = M * 9
    draws = np.random.default_rng(5).integers(0, 1 << 7, total)
    want, ref = reference(ra, (8, 4, True), rb, (8, 4, True), (10, 2, True), "stochastic",
                          "saturate", draws=draws.tolist(), r=7)
    A = fxsim.FixedArray(ra if op == "matvec" else ra[0], "Q(8,4)")
    x = fxsim.FixedArray(rb[:, 0], "Q(8,4)")
    with fxsim.Counters() as c:
        y = getattr(fxsim, op)(A, x, acc="Q(10,2)", rounding="stochastic", r=7, draws=draws)
    assert np.array_equal(np.asarray(y.raw).reshape(-1).astype(np.int64), want.reshape(-1))
    assert_counters(c, ref)
    assert spy


def test_long_dot_draws_in_chunks():
    """One element with K beyond a tile's draw buffer: k is walked in chunks of the stream."""
    K = 40000
    rng = np.random.default_rng(8)
    a, b = rng.integers(-128, 128, K), rng.integers(-128, 128, K)
    r = 12
    src = fxsim.Ideal("pcg64", seed=9)
    y = fxsim.dot(fxsim.FixedArray(a, "Q(8,4)"), fxsim.FixedArray(b, "Q(8,4)"), acc="Q(20,6)",
                  rounding="stochastic", r=r, source=src)
    R = (np.random.PCG64(9).random_raw(K) >> np.uint64(64 - r)).astype(np.int64)
    acc, lo, hi = 0, -(1 << 19), (1 << 19) - 1                 # spec §4 with Python ints
    for k in range(K):
        v = (acc << 2) + int(a[k]) * int(b[k])
        q, rem = v >> 2, v & 3
        acc = min(hi, max(lo, q + (rem != 0 and (rem << (r - 2)) + int(R[k]) >= 1 << r)))
    assert int(y.raw) == acc


def test_streamed_draws_take_no_draw_array(monkeypatch):
    """A BitSource feeds the array tile by tile: the memory check sees no draws, and the
    draws helper is never called."""
    seen = []
    monkeypatch.setattr(ops, "_check_memory", lambda op, shape, work: seen.append(work))
    monkeypatch.setattr(ops, "_draws", lambda *a: pytest.fail("draws array taken"))
    A = fxsim.FixedArray(np.ones((40, 50), dtype=np.int64), "Q(8,4)")
    B = fxsim.FixedArray(np.ones((50, 30), dtype=np.int64), "Q(8,4)")
    fxsim.matmul(A, B, acc="Q(16,6)", rounding="stochastic", r=16, source=_lfsr())
    assert seen == [40 * 30 * 8 + 8 * (A.size + B.size)]


def test_refused_r_takes_no_draw():
    src = fxsim.LFSR(16, seed=1, rule="state")
    before = src.state
    A = fxsim.FixedArray(np.ones((2, 3), dtype=np.int64), "Q(8,4)")
    B = fxsim.FixedArray(np.ones((3, 2), dtype=np.int64), "Q(8,4)")
    with pytest.raises(ValueError, match="r"):
        fxsim.matmul(A, B, acc="Q(16,6)", rounding="stochastic", r=20, source=src)
    assert src.state == before
