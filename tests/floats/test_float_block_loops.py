"""The vectorized block loops of the float casts (nearest-even and stochastic with the trunc
rule, 1024 finite elements at a time): words and counters against the Fraction reference,
with and without a Counters context, on one and two threads, for blocks that mix zeros,
float64 subnormals, subnormal and normal results, the overflow boundary, and for blocks that
hold a NaN or an inf (which the element-by-element path redoes)."""
import numpy as np
import pytest

import fxsim
from fxsim import FloatFormat
from float_reference import fmt_of, ref_float_cast_info

FORMATS = ["bf16", "fp16", "e4m3", "e5m2", "e2m1", "e3m2", "tf32", "e8m23"]


def ref_fmt(f):
    return fmt_of(f.exp_bits, f.man_bits, f.nonfinite, f.bias, f.subnormals)


def block_inputs(f: FloatFormat, n: int, seed: int) -> np.ndarray:
    """Finite values around every binade of f, the subnormal range, exact ties, zeros of both
    signs, float64 subnormals, and values just beyond the largest finite one."""
    rng = np.random.default_rng(seed)
    e = rng.integers(f.emin - f.man_bits - 3, f.emax + 2, n)
    x = rng.uniform(1.0, 2.0, n) * np.ldexp(1.0, e)
    tie = rng.random(n) < 0.2             # halfway between two codes of the binade
    q = np.ldexp(1.0, np.maximum(e, f.emin) - f.man_bits)
    x = np.where(tie, (np.floor(x / q) + 0.5) * q, x)
    x[rng.random(n) < 0.02] = 0.0
    x[rng.random(n) < 0.01] = 5e-324 * rng.integers(1, 1000)
    x[rng.random(n) < 0.02] = float(f.max) * rng.uniform(0.99, 1.02)
    x = np.where(x > 1e300, 1e300, x)
    return np.where(rng.random(n) < 0.5, -x, x)


def expected(x, f, rounding, overflow, R=None, r=None):
    rf = ref_fmt(f)
    infos = [ref_float_cast_info(xi, rf, rounding, overflow,
                                 **({} if R is None else {"R": int(R[i]), "r": r}))
             for i, xi in enumerate(x.tolist())]
    codes = np.array([i[0] for i in infos], dtype=np.uint64)
    counts = tuple(sum(bool(i[k]) for i in infos) for k in (1, 2, 3))
    return codes, counts


@pytest.mark.parametrize("name", FORMATS)
def test_nearest_even_words_and_counters(name):
    f = FloatFormat.parse(name)
    x = block_inputs(f, 4096, seed=len(name))
    overflow = "ieee" if f.has_nan else "saturate"
    codes, (inexact, up, ovf) = expected(x, f, "nearest_even", overflow)
    n = fxsim.get_num_threads()
    try:
        for threads in (1, 2):
            fxsim.set_num_threads(threads)
            plain = fxsim.cast(x, f, "nearest_even", overflow).raw     # no Counters context
            with fxsim.Counters() as c:
                got = fxsim.cast(x, f, "nearest_even", overflow).raw
            assert np.array_equal(plain.astype(np.uint64), codes)
            assert np.array_equal(got.astype(np.uint64), codes)
            assert (c.cast, c.inexact, c.rounded_up, c.overflowed) == (x.size, inexact, up, ovf)
    finally:
        fxsim.set_num_threads(n)


@pytest.mark.parametrize("name", ["bf16", "fp16", "e4m3", "e5m2"])
def test_stochastic_trunc_words_and_counters(name):
    f = FloatFormat.parse(name)
    x = block_inputs(f, 2048, seed=7 + len(name))
    overflow = "ieee" if f.has_nan else "saturate"
    rng = np.random.default_rng(11)
    for r in (1, 8, 52 - f.man_bits):
        R = rng.integers(0, 2**r, x.size, dtype=np.uint64)
        codes, (inexact, up, ovf) = expected(x, f, "stochastic", overflow, R=R, r=r)
        plain = fxsim.cast(x, f, "stochastic", overflow, r=r, draws=R).raw
        with fxsim.Counters() as c:
            got = fxsim.cast(x, f, "stochastic", overflow, r=r, draws=R).raw
        assert np.array_equal(plain.astype(np.uint64), codes), r
        assert np.array_equal(got.astype(np.uint64), codes), r
        assert (c.cast, c.inexact, c.rounded_up, c.overflowed, c.draws) == \
            (x.size, inexact, up, ovf, x.size), r


def test_blocks_with_nan_inf_and_overflow_error():
    """A block holding NaN or inf, or an overflow under 'error', is redone element by element:
    the same words as the reference, and the first error where the reference raises."""
    f = FloatFormat.parse("bf16")
    x = block_inputs(f, 3000, seed=5)
    x[100], x[1500], x[2900] = np.nan, np.inf, -np.inf
    codes, _ = expected(np.nan_to_num(x, nan=0.0), f, "nearest_even", "ieee")
    got = fxsim.cast(x, f, "nearest_even", "ieee").raw.astype(np.uint64)
    keep = np.isfinite(x)
    assert np.array_equal(got[keep], codes[keep])
    assert got[1500] == 0x7F80 and got[2900] == 0xFF80 and (got[100] & 0x7FFF) > 0x7F80
    big = np.full(2048, 1.0)
    big[1300] = 1e39
    with pytest.raises(OverflowError, match=r"index \(1300,\)"):
        fxsim.cast(big, f, "nearest_even", "error")


@pytest.mark.parametrize("spec", ["pcg64", "philox", "lfsr:32", "lfsr:16:fibonacci"])
def test_stochastic_two_threads_from_substreams(spec):
    """On two threads a large SR cast draws from private copies jumped to each part's first
    draw: the words, the draw count and the source's final position are those of one
    sequential stream (its draws taken as an array from a copy)."""
    f = FloatFormat.parse("bf16")
    n = (1 << 18) + 4097
    x = np.random.default_rng(3).standard_normal(n)
    x[::1000] *= 1e-40                     # some subnormal results
    src = fxsim.make_source(spec, seed=9)
    twin = src.copy()
    R = twin.draws(n, 16)
    want = fxsim.cast(x, f, "stochastic", r=16, draws=R).raw
    threads = fxsim.get_num_threads()
    try:
        fxsim.set_num_threads(2)
        with fxsim.Counters() as c:
            got = fxsim.cast(x, f, "stochastic", r=16, source=src).raw
    finally:
        fxsim.set_num_threads(threads)
    assert np.array_equal(got, want)
    assert c.draws == n and c.cast == n
    assert src.draws(5, 16).tolist() == twin.draws(5, 16).tolist()


@pytest.mark.parametrize("spec", ["pcg64", "lfsr:32"])
def test_stochastic_matmul_two_threads(spec):
    """An SR float matmul from a source that jumps runs its row parts on two threads, each
    from a copy moved to its first row's draws: the words, counters and the source's final
    position equal the one-thread run (which draws in order under the lock) and the run fed
    the same draws as an array."""
    f = FloatFormat.parse("bf16")
    rng = np.random.default_rng(2)
    A = fxsim.cast(rng.standard_normal((37, 64)), f)
    B = fxsim.cast(rng.standard_normal((64, 29)), f)
    kw = dict(acc="bf16", prod="bf16", rounding="stochastic", r=12)
    per = 2 * 64
    runs = []
    threads = fxsim.get_num_threads()
    try:
        for t in (1, 2):
            fxsim.set_num_threads(t)
            src = fxsim.make_source(spec, seed=4)
            with fxsim.Counters() as c:
                got = fxsim.matmul(A, B, source=src, **kw).raw
            runs.append((got, (c.inexact, c.rounded_up, c.draws), src.draws(3, 12).tolist()))
    finally:
        fxsim.set_num_threads(threads)
    twin = fxsim.make_source(spec, seed=4)
    R = twin.draws(37 * 29 * per, 12)
    want = fxsim.matmul(A, B, draws=R, **kw).raw
    assert np.array_equal(runs[0][0], want) and np.array_equal(runs[1][0], want)
    assert runs[0][1] == runs[1][1] and runs[1][1][2] == R.size
    assert runs[0][2] == runs[1][2] == twin.draws(3, 12).tolist()


def test_counters_on_two_threads():
    """Each thread keeps its own counts (a shared one raced): the totals of a two-thread cast
    equal those ml_dtypes' decoded results give."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    f = FloatFormat.parse("bf16")
    x = np.random.default_rng(8).standard_normal(5 << 16)
    dec = x.astype(ml_dtypes.bfloat16).astype(np.float64)
    threads = fxsim.get_num_threads()
    try:
        fxsim.set_num_threads(2)
        for _ in range(3):
            with fxsim.Counters() as c:
                fxsim.cast(x, f, "nearest_even")
            assert (c.cast, c.inexact, c.rounded_up) == \
                (x.size, int((dec != x).sum()), int((np.abs(dec) > np.abs(x)).sum()))
    finally:
        fxsim.set_num_threads(threads)


@pytest.mark.parametrize("op", ["add", "mul", "fma"])
def test_elementwise_sr_draws_in_blocks(op):
    """Element-wise SR float arithmetic from a source fills its draws block by block (no
    array of n draws): over several blocks the words, the draw count and the source's final
    position equal the call fed the same draws as an array."""
    f = FloatFormat.parse("bf16")
    n = (1 << 18) * 2 + 777
    rng = np.random.default_rng(6)
    a, b, c = (fxsim.cast(rng.standard_normal(n), f) for _ in range(3))
    args = (a, b, c) if op == "fma" else (a, b)
    fn = getattr(fxsim, op)
    src = fxsim.make_source("lfsr:32", seed=5)
    twin = src.copy()
    with fxsim.Counters() as cnt:
        got = fn(*args, rounding="stochastic", r=9, source=src).raw
    want = fn(*args, rounding="stochastic", r=9, draws=twin.draws(n, 9)).raw
    assert np.array_equal(got, want)
    assert cnt.draws == n
    assert src.draws(4, 9).tolist() == twin.draws(4, 9).tolist()
