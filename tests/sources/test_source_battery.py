"""One battery of checks run against every kind of bit source (issue 12 point 7), in the style of
numpy's ``random/tests/test_direct.py``: each kind (LFSR galois/fibonacci, serial/state rule,
1 and 4 lanes; ``Ideal`` on every numpy bit generator) goes through the same tests.

Expected streams come from outside fxsim: the plain oracle ``tests/oracles/lfsr_ref.py`` for
registers, numpy's own ``random_raw`` (and ``SeedSequence`` spawn keys) for the ideal sources.
"""
import json
import pickle
import sys
import threading

import numpy as np
import pytest


from lfsr_ref import LFSRSource  # noqa: E402
from vendor_ref import VendorRef  # noqa: E402

import fxsim  # noqa: E402
from fxsim.sources import BitSource, from_state  # noqa: E402

N_LFSR = 16
SEED = 0x1D2C


class LFSRKind:
    def __init__(self, form, rule, lanes):
        self.form, self.rule, self.lanes = form, rule, lanes
        self.id = f"lfsr{N_LFSR}-{form}-{rule}-L{lanes}"
        self.rs = (1, 5, 16) if rule == "state" else (1, 7, 16, 33, 64)
        self.max_r = N_LFSR if rule == "state" else 64
        self.steps_per_draw = {"serial": None, "state": 1}[rule]

    def make(self):
        return fxsim.LFSR(N_LFSR, form=self.form, seed=SEED, rule=self.rule, lanes=self.lanes)

    def ref(self, r, count, skip=0):
        src = LFSRSource(N_LFSR, form=self.form, seed=SEED, rule=self.rule, r=r, lanes=self.lanes)
        return np.array(src.draws(skip + count)[skip:], dtype=np.uint64)

    def child_ref(self, key, r, count):
        """The stream of the spawned child with spawn key ``key`` (LFSR.spawn's documented rule):
        at each level, every lane of the parent steps d times, d = 1 + v mod (period - 1) with v
        the 128-bit word of SeedSequence(root entropy, spawn_key=key[:level])."""
        entropy = self.make().state["spawn"]["entropy"]
        regs = LFSRSource(N_LFSR, form=self.form, seed=SEED, lanes=self.lanes).lanes
        for level in range(1, len(key) + 1):
            w = np.random.SeedSequence(entropy, spawn_key=key[:level]).generate_state(2, np.uint64)
            d = 1 + ((int(w[0]) << 64) | int(w[1])) % ((1 << N_LFSR) - 2)
            for reg in regs:
                for _ in range(d):
                    reg.step()
        src = LFSRSource(N_LFSR, form=self.form, rule=self.rule, r=r, lanes=self.lanes,
                         lane_seeds=[reg.state for reg in regs])
        return np.array(src.draws(count), dtype=np.uint64)


class IdealKind:
    def __init__(self, name, cls):
        self.name, self.cls, self.id = name, cls, f"ideal-{name}"
        self.rs = (1, 13, 32, 64)
        self.max_r = 64

    def make(self):
        return fxsim.Ideal(self.name, seed=SEED)

    def words(self, count, bg=None):
        bg = self.cls(SEED) if bg is None else bg
        if self.name != "mt19937":
            return bg.random_raw(count)
        w = bg.random_raw(2 * count).astype(np.uint64)    # two 32-bit outputs, first one high
        return (w[0::2] << np.uint64(32)) | w[1::2]

    def ref(self, r, count, skip=0):
        return self.words(skip + count)[skip:] >> np.uint64(64 - r)

    def child_ref(self, key, r, count):
        """numpy's own child: the bit generator seeded by SeedSequence(SEED, spawn_key=key)."""
        bg = self.cls(np.random.SeedSequence(SEED, spawn_key=key))
        return self.words(count, bg) >> np.uint64(64 - r)


class VendorKind:
    """An accelerator's generator (fxsim.vendor_sources), against tests/oracles/vendor_ref.py."""

    def __init__(self, preset, lanes=None):
        self.preset, self.lanes = preset, lanes
        self.id = preset.replace(":", "-") + (f"-L{lanes}" if lanes else "")
        self.max_r = 64 if preset in ("graphcore:xoroshiro128aox", "xoroshiro128plus") else 32
        self.rs = (1, 7, 23, self.max_r)
        self.repeats = preset == "tenstorrent:sfpu"

    def make(self):
        spec = self.preset + (f":lanes={self.lanes}" if self.lanes else "")
        return fxsim.make_source(spec, seed=SEED)

    def ref(self, r, count, skip=0):
        return np.array(VendorRef(self.preset, SEED, self.lanes).draws(skip + count, r)[skip:],
                        dtype=np.uint64)

    def child_ref(self, key, r, count):
        """The child seeded with SeedSequence(SEED, spawn_key=key) (the presets' spawn rule)."""
        ss = np.random.SeedSequence(SEED, spawn_key=key)
        return np.array(VendorRef(self.preset, ss, self.lanes).draws(count, r), dtype=np.uint64)


VENDOR_KINDS = [VendorKind(p) for p in ("amd:prng_b32", "tenstorrent:sfpu", "curand:xorwow",
                                        "curand:philox4x32_10", "graphcore:xoroshiro128aox",
                                        "xoroshiro128plus")] + [VendorKind("amd:prng_b32", 4)]

KINDS = ([LFSRKind(f, rule, L) for f in ("galois", "fibonacci") for rule in ("serial", "state")
          for L in (1, 4)]
         + [IdealKind(name, cls) for name, cls in (
             ("pcg64", np.random.PCG64), ("pcg64dxsm", np.random.PCG64DXSM),
             ("philox", np.random.Philox), ("sfc64", np.random.SFC64),
             ("mt19937", np.random.MT19937))]
         + VENDOR_KINDS)


@pytest.fixture(params=KINDS, ids=[k.id for k in KINDS])
def kind(request):
    return request.param


def test_is_a_bit_source(kind):
    src = kind.make()
    assert isinstance(src, BitSource)
    assert fxsim.make_source(src) is src


def test_draws_equal_the_reference(kind):
    for r in kind.rs:
        got = kind.make().draws(300, r)
        assert got.dtype == np.uint64 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, kind.ref(r, 300), err_msg=f"r={r}")
        assert int(got.max()) < 1 << r


def test_split_calls_equal_one_call(kind):
    r = kind.rs[1]
    src, pieces = kind.make(), []
    for size in (1, 2, 3, 0, 7, 64, 65, 130, 28):
        pieces.append(src.draws(size, r))
    pieces.append(np.array([src.next(r) for _ in range(5)], dtype=np.uint64))
    np.testing.assert_array_equal(np.concatenate(pieces), kind.ref(r, 305))


def test_state_round_trip(kind):
    r = kind.rs[-1]
    src = kind.make()
    src.draws(11, r)
    saved = src.state
    first = src.draws(50, r)
    src.state = json.loads(json.dumps(saved))            # JSON-able, and restores the position
    np.testing.assert_array_equal(src.draws(50, r), first)
    np.testing.assert_array_equal(first, kind.ref(r, 50, skip=11))


def test_from_state_and_pickle_continue_the_stream(kind):
    r = kind.rs[-1]
    src = kind.make()
    src.draws(9, r)
    rebuilt = from_state(json.loads(json.dumps(src.state)))
    pickled = pickle.loads(pickle.dumps(src))
    want = kind.ref(r, 40, skip=9)
    for other in (rebuilt, pickled, src.copy()):
        assert type(other) is type(src)
        np.testing.assert_array_equal(other.draws(40, r), want)
    np.testing.assert_array_equal(src.draws(40, r), want)   # the copies did not move it


def test_advance_equals_stepping(kind):
    if not isinstance(kind, LFSRKind):
        pytest.skip("Ideal and vendor sources jump through _substreams (next test)")
    for r in kind.rs:
        m = 3
        spd = r if kind.rule == "serial" else 1
        src = kind.make().advance(spd * m)      # every lane m draws on
        np.testing.assert_array_equal(src.draws(40, r), kind.ref(r, 40, skip=m * kind.lanes))
        back = kind.make().advance(spd * m).advance(-spd * m)
        np.testing.assert_array_equal(back.draws(8, r), kind.ref(r, 8))


def test_substreams_tile_the_stream(kind):
    """The jump-ahead copies a large cast takes: copy k draws the slice [cuts[k], cuts[k+1]) and
    the source continues at cuts[-1]."""
    r = kind.rs[-1]
    src = kind.make()
    src.draws(5, r)
    cuts = [0, 17, 40, 41, 100]
    subs = src._substreams(cuts, r)
    if subs is None:
        pytest.skip("this source has no cheap jump-ahead")
    got = [s.draws(hi - lo, r) for s, lo, hi in zip(subs, cuts, cuts[1:])]
    got.append(src.draws(20, r))
    np.testing.assert_array_equal(np.concatenate(got), kind.ref(r, 120, skip=5))


def test_spawn_children_follow_the_reference(kind):
    r = kind.rs[-1]
    src = kind.make()
    before = src.state
    kids = src.spawn(3)
    assert src.state != before or isinstance(kind, IdealKind)   # the spawn counter moved
    np.testing.assert_array_equal(src.draws(30, r), kind.ref(r, 30))   # its stream did not
    streams = [tuple(k.draws(30, r).tolist()) for k in kids] + [tuple(kind.ref(r, 30).tolist())]
    assert len(set(streams)) == len(streams)
    for c, k in enumerate(kids):
        assert type(k) is type(src)
        np.testing.assert_array_equal(np.array(streams[c], dtype=np.uint64),
                                      kind.child_ref((c,), r, 30), err_msg=f"child {c}")
        np.testing.assert_array_equal(k.draws(30, r), kind.child_ref((c,), r, 60)[30:])
    more = kind.make()
    more.spawn(3)
    np.testing.assert_array_equal(more.spawn(1)[0].draws(30, r), kind.child_ref((3,), r, 30))
    grand = kids[0].spawn(2)
    np.testing.assert_array_equal(grand[1].draws(30, r), kind.child_ref((0, 1), r, 30))
    assert tuple(grand[0].draws(30, r).tolist()) not in streams


def test_copy_keeps_the_spawn_tree(kind):
    r = kind.rs[-1]
    src = kind.make()
    src.spawn(2)
    twin = src.copy()
    want = kind.child_ref((2,), r, 20)                 # both go on with child 2
    np.testing.assert_array_equal(twin.spawn(1)[0].draws(20, r), want)
    np.testing.assert_array_equal(src.spawn(1)[0].draws(20, r), want)


def test_concurrent_draws_partition_one_stream(kind):
    """Threads drawing from one shared source get contiguous, disjoint pieces of its stream."""
    r = 16                                # 4 draws of 16 bits: a unique window of the stream
    sizes = (5, 9, 16, 33)
    per_thread, n_threads = 24, 4
    total = sum(sizes[(i + t) % len(sizes)] for t in range(n_threads) for i in range(per_thread))
    src = kind.make()
    got = [[] for _ in range(n_threads)]
    barrier = threading.Barrier(n_threads)

    def work(t):
        barrier.wait()
        for i in range(per_thread):
            got[t].append(src.draws(sizes[(i + t) % len(sizes)], r))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    chunks = [c for g in got for c in g]
    n = sum(c.size for c in chunks)
    assert n == total
    ref = kind.ref(r, n)
    if getattr(kind, "repeats", False):
        # the 32 SFPU lanes are one register sequence at shifted positions: the stream repeats
        # its own windows (tt-metal #13904), so chunks cannot be located; the draws taken must
        # still be exactly the stream's first n, and the source must stand after them
        assert sorted(np.concatenate(chunks).tolist()) == sorted(ref.tolist())
        np.testing.assert_array_equal(src.draws(5, r), kind.ref(r, n + 5)[n:])
        return
    # disjoint and covering: laid end to end, each thread's chunks in the order it drew them,
    # they are the stream's first n draws (searched depth-first: a stream whose lanes are
    # shifted copies of one sequence, e.g. amd:prng_b32's lanes from seeds s, 2s, 3s, 4s,
    # repeats short windows, so a chunk may also match somewhere it was not drawn from)
    assert _tiles(got, ref), "the threads' chunks are not contiguous, disjoint pieces of the stream"
    np.testing.assert_array_equal(src.draws(5, r), kind.ref(r, n + 5)[n:])


def _tiles(got, ref) -> bool:
    """Whether ``ref`` is the chunks of ``got`` (one list per thread) laid end to end, every
    chunk once and each thread's in its own order."""
    nxt = [0] * len(got)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * sum(map(len, got)) + 100))

    def place(p):
        if p == ref.size:
            return all(k == len(g) for k, g in zip(nxt, got))
        for t, g in enumerate(got):
            k = nxt[t]
            if k < len(g) and p + g[k].size <= ref.size and np.array_equal(ref[p:p + g[k].size], g[k]):
                nxt[t] += 1
                if place(p + g[k].size):
                    return True
                nxt[t] -= 1
        return False

    try:
        return place(0)
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize("bad", [0, -1, 65, 1.5, True, "8", None])
def test_r_refusals(kind, bad):
    src = kind.make()
    saved = src.state
    with pytest.raises(ValueError, match=r"r must be an integer in \[1, (64|n)\]"):
        src.draws(3, bad)
    with pytest.raises(ValueError, match=r"r must be an integer in \[1, (64|n)\]"):
        src.next(bad)
    assert src.state == saved                      # a refused call has no side effect
    np.testing.assert_array_equal(src.draws(3, 8), kind.ref(8, 3))


def test_r_above_max_refused(kind):
    if kind.max_r == 64:
        pytest.skip("every r in [1, 64] is allowed")
    src = kind.make()
    with pytest.raises(ValueError, match=rf"r must be an integer in \[1, n\] = \[1, {kind.max_r}\]"):
        src.draws(2, kind.max_r + 1)
    np.testing.assert_array_equal(src.draws(3, kind.max_r), kind.ref(kind.max_r, 3))


@pytest.mark.parametrize("bad", [-1, 1.5, "3", None])
def test_count_refusals(kind, bad):
    src = kind.make()
    with pytest.raises(ValueError, match=r"n \(the number of draws\) must be a non-negative integer"):
        src.draws(bad, 8)
    np.testing.assert_array_equal(src.draws(3, 8), kind.ref(8, 3))
