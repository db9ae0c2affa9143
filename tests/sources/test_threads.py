"""Sources shared between Python threads (issue 11, point 2).

The kernels release the GIL, so users call fxsim from thread pools with one shared source.
A large stochastic cast (>= 2**18 elements, >= 2 kernel threads) takes jump-ahead sub-streams
from its source; every consumer must get its own block of the one stream.

Expected values come from a fresh, identical source read sequentially: the union of the blocks
the concurrent consumers used must be exactly that stream (each block once, none skipped) and
the shared source must end exactly ``total`` draws in.

A cast of x = 0.5 LSB with r = 8 bits rounds up iff the draw R >= 128 (spec §2: D + R >= 2**r
with D = 128), so its output raw word is the top bit of each draw it used.
"""
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

fxsim = pytest.importorskip("fxsim")

N_ELEM = 1 << 18            # the size from which ops.cast takes sub-streams
R = 8
FMT = fxsim.QFormat(16, 8)
X = np.full(N_ELEM, 2.0 ** -9)      # 0.5 LSB of Q(16,8)
ROUNDS = 4
N_TASKS = 12
WORKERS = 8


@pytest.fixture
def two_kernel_threads():
    old = fxsim.get_num_threads()
    fxsim.set_num_threads(2)
    yield
    fxsim.set_num_threads(old)


def _top_bits(draws):
    return (np.asarray(draws, dtype=np.uint64) >> np.uint64(R - 1)).astype(np.int64)


def _cast_bits(src):
    y = fxsim.cast(X, FMT, "stochastic", r=R, source=src)
    return np.asarray(y.raw, dtype=np.int64)


def _draw_bits(src):
    return _top_bits(src.draws(N_ELEM, R))


def _run_shared(make, kinds):
    """Run one task per entry of ``kinds`` ("cast" or "draws") on ONE shared source from
    ``make()`` in a thread pool; return (offsets used, shared source, fresh reference)."""
    shared, ref = make(), make()
    total = len(kinds) * N_ELEM
    blocks = _top_bits(ref.draws(total, R)).reshape(len(kinds), N_ELEM)
    index = {blocks[k].tobytes(): k for k in range(len(kinds))}
    assert len(index) == len(kinds)               # the reference blocks are distinguishable
    barrier = threading.Barrier(min(WORKERS, len(kinds)))

    def task(i):
        if i < barrier.parties:                   # the first wave starts together
            barrier.wait(timeout=10)
        kind = kinds[i]
        bits = _cast_bits(shared) if kind == "cast" else _draw_bits(shared)
        return index.get(bits.tobytes(), -1)      # -1: not any block of the stream

    with ThreadPoolExecutor(WORKERS) as ex:
        offsets = list(ex.map(task, range(len(kinds))))
    return offsets, shared, ref


def _check(offsets, shared, ref, kinds):
    total = len(kinds) * N_ELEM
    assert -1 not in offsets, f"a consumer used draws that are no block of the stream: {offsets}"
    assert sorted(offsets) == list(range(len(kinds))), \
        f"blocks used twice / skipped: {sorted(offsets)}"
    if isinstance(shared, fxsim.LFSR):
        assert shared.count == total
    # the shared source continues exactly where the sequential stream of `total` draws ends
    assert shared.draws(64, 32).tolist() == ref.draws(64, 32).tolist()


SOURCES = {
    "lfsr32": lambda: fxsim.LFSR(32, seed=0x1234567),
    "lfsr32_state": lambda: fxsim.LFSR(32, seed=0xBEEF, rule="state", form="fibonacci"),
    "pcg64": lambda: fxsim.Ideal("pcg64", seed=11),
}


@pytest.mark.parametrize("name", SOURCES)
def test_concurrent_large_casts_share_one_stream(name, two_kernel_threads):
    kinds = ["cast"] * N_TASKS
    for _ in range(ROUNDS):
        _check(*_run_shared(SOURCES[name], kinds), kinds)


@pytest.mark.parametrize("name", SOURCES)
def test_concurrent_casts_and_draws_share_one_stream(name, two_kernel_threads):
    """Sub-stream casts interleaved with plain ``draws`` calls on the same source."""
    kinds = ["cast", "draws"] * (N_TASKS // 2)
    for _ in range(ROUNDS):
        _check(*_run_shared(SOURCES[name], kinds), kinds)


def test_single_thread_substream_cast_is_the_sequential_stream(two_kernel_threads):
    """The property the concurrent tests rely on: one large cast = the next N_ELEM draws."""
    src, ref = SOURCES["lfsr32"](), SOURCES["lfsr32"]()
    assert _cast_bits(src).tolist() == _top_bits(ref.draws(N_ELEM, R)).tolist()
    assert src.count == N_ELEM


def test_concurrent_spawn_gives_distinct_children():
    """spawn(k) from many threads on one LFSR: the children are those of one sequential
    spawn (each child once) and the child counter ends at the total."""
    k, tasks = 3, 16
    shared, ref = fxsim.LFSR(32, seed=5), fxsim.LFSR(32, seed=5)
    want = sorted(c.seed for c in ref.spawn(k * tasks))
    assert len(set(want)) == k * tasks
    for _ in range(ROUNDS):
        shared, ref = fxsim.LFSR(32, seed=5), fxsim.LFSR(32, seed=5)
        barrier = threading.Barrier(WORKERS)

        def task(i):
            if i < WORKERS:
                barrier.wait(timeout=10)
            return [c.seed for c in shared.spawn(k)]

        with ThreadPoolExecutor(WORKERS) as ex:
            got = sorted(s for seeds in ex.map(task, range(tasks)) for s in seeds)
        assert got == want
        assert [c.seed for c in shared.spawn(1)] == [c.seed for c in
                                                      fxsim.LFSR(32, seed=5).spawn(k * tasks + 1)[-1:]]
