"""fxsim's random bit sources (spec §5): ``fxsim.LFSR`` and ``fxsim.Ideal``.

Every expected value comes from outside fxsim: the shared known-answer files
(tests/data/lfsr_draws.csv, tests/data/lfsr_kat_ref.csv), the plain oracle tests/lfsr_ref.py,
the `galois` package, numpy's own bit generators, hand-worked values, or mathematical facts
(period 2**n - 1, every non-zero state visited once, shift equivalence of the two forms).
"""

import csv
import json
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest


from lfsr_ref import LFSRSource, Register, load_taps_table, mask_from_taps  # noqa: E402

fxsim = pytest.importorskip("fxsim")
from fxsim import sources as S  # noqa: E402
from fxsim import _sources as C  # noqa: E402

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = load_taps_table()                      # the tests' own copy of the taps table
FORMS = ("galois", "fibonacci")
CHUNKS = (1, 2, 3, 7, 64, 65, 130, 1000)      # draws are taken in these uneven pieces


def draws_in_chunks(src, total, r, chunks=CHUNKS):
    """``total`` draws taken through calls of uneven sizes (the stream must not depend on it)."""
    out, k = [], 0
    while len(out) < total:
        c = min(chunks[k % len(chunks)], total - len(out))
        a = src.draws(c, r)
        assert a.dtype == np.uint64 and a.flags.c_contiguous and a.shape == (c,)
        out += [int(v) for v in a]
        k += 1
    return out


def seed_for(n, salt=0):
    return (0x9E3779B97F4A7C15F39CC0605CEDC834 * (n + 7 + salt)) % ((1 << n) - 1) + 1


# --- known-answer files ---------------------------------------------------------------------

def _groups(path, lanes_col):
    groups = OrderedDict()
    with open(path, newline="") as fh:
        for row in csv.DictReader(line for line in fh if not line.startswith("#")):
            key = (int(row["n"]), row["taps"], row["form"], row["draw"], int(row["r"]),
                   int(row["seed"], 16), int(row["lanes"]) if lanes_col else 1)
            groups.setdefault(key, []).append((int(row["i"]), int(row["R"], 16)))
    return groups


KAT = _groups(os.path.join(HERE, "data", "lfsr_draws.csv"), False)
KAT_REF = _groups(os.path.join(HERE, "data", "lfsr_kat_ref.csv"), True)


def _kid(k):
    return "n%d-%s-%s-r%d-L%d" % (k[0], k[2], k[3], k[4], k[6])


def test_kat_files_present():
    assert sum(len(v) for v in KAT.values()) == 1800 and len(KAT) == 6
    assert len(KAT_REF) == 34 and {k[6] for k in KAT_REF} >= {1, 2, 3, 4, 5}


@pytest.mark.parametrize("key", list(KAT) + list(KAT_REF), ids=_kid)
def test_kat(key):
    n, taps, form, rule, r, seed, lanes = key
    rows = KAT[key] if key in KAT else KAT_REF[key]
    assert [i for i, _ in rows] == list(range(len(rows)))
    src = fxsim.LFSR(n, taps, form, seed, rule, lanes=lanes)
    got = draws_in_chunks(src, len(rows), r)
    for (i, want), g in zip(rows, got):
        assert g == want, f"draw {i}: got {g:#x}, KAT {want:#x}"
    assert src.count == len(rows)


# --- the register against the oracle, step by step -------------------------------------------

def test_textbook_galois_0xB400():
    """The 16-bit Galois register of the textbook example (taps 16 14 13 11, M = 0xB400) from
    0xACE1: first state by hand, then 1000 states and output bits against the oracle."""
    src_state = fxsim.LFSR(16, (16, 14, 13, 11), "galois", 0xACE1, rule="state")
    src_bits = fxsim.LFSR(16, "16 14 13 11", "galois", 0xACE1, rule="serial")
    assert src_state.mask == 0xB400
    # 0xACE1 = ...0001: b = 1, s = 0xACE1 >> 1 = 0x5670, s ^= 0xB400 -> 0xE270
    states = [int(v) for v in src_state.draws(1000, 16)]
    bits = [int(v) for v in src_bits.draws(1000, 1)]
    assert states[0] == 0xE270 and bits[0] == 1
    reg = Register(16, 0xB400, "galois", 0xACE1)
    for k in range(1000):
        b = reg.step()
        assert (states[k], bits[k]) == (reg.state, b), k
    # and on: the stream continues the oracle's
    assert int(src_bits.draws(1, 16)[0]) == int("".join(str(reg.step()) for _ in range(16)), 2)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("n", list(range(2, 65)))
def test_states_and_bits_vs_oracle(n, form):
    """First 1000 register states (rule 'state', r = n) and output bits (rule 'serial', r = 1)
    of every table row n <= 64, against the oracle."""
    taps, mask = TABLE[n]
    seed = seed_for(n)
    st = fxsim.LFSR(n, form=form, seed=seed, rule="state")       # default taps: package table
    bt = fxsim.LFSR(n, taps, form, seed, "serial")
    assert st.taps == taps and st.mask == mask
    states = draws_in_chunks(st, 1000, n)
    bits = draws_in_chunks(bt, 1000, 1)
    reg = Register(n, mask, form, seed)
    want_b = []
    want_s = []
    for _ in range(1000):
        want_b.append(reg.step())
        want_s.append(reg.state)
    assert states == want_s
    assert bits == want_b
    assert st.lane_states == (reg.state,) == bt.lane_states


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("rule,r", [("serial", 1), ("serial", 5), ("serial", 8), ("serial", 13),
                                    ("serial", 16), ("serial", 21), ("serial", 32), ("serial", 33),
                                    ("serial", 63), ("serial", 64), ("state", 1), ("state", 7)])
@pytest.mark.parametrize("n", [3, 7, 8, 9, 16, 24, 31, 40, 57, 64])
def test_draws_vs_oracle(n, form, rule, r):
    """Every draw rule and r (r > n too for 'serial'), uneven call sizes."""
    if rule == "state" and r > n:
        pytest.skip("the state rule needs r <= n")
    taps = TABLE[n][0]
    seed = seed_for(n, r)
    src = fxsim.LFSR(n, taps, form, seed, rule)
    ref = LFSRSource(n, taps, form, seed, rule, r)
    total = 700 if r <= 16 else 300
    assert draws_in_chunks(src, total, r) == ref.draws(total)
    assert src.lane_states == tuple(reg.state for reg in ref.lanes)


@pytest.mark.parametrize("form", FORMS)
def test_r_switches_between_calls(form):
    """One source, r changing from call to call: the stream is r-bit groups of the same bits."""
    n, taps = 20, TABLE[20][0]
    src = fxsim.LFSR(n, taps, form, 0x5EED5)
    reg = Register(n, mask_from_taps(taps), form, 0x5EED5)
    for r in (3, 64, 1, 17, 3, 40, 16, 16, 2):
        got = [int(v) for v in src.draws(5, r)]
        want = [reg.draw(r, "serial") for _ in range(5)]
        assert got == want, r
        assert src.next(r) == reg.draw(r, "serial")


def test_state_rule_full_period_visits_every_state():
    """m-sequence fact: over one period the 'state' rule (r = n) visits every non-zero state once."""
    for n in range(2, 17):
        for form in FORMS:
            src = fxsim.LFSR(n, form=form, seed=1, rule="state")
            p = (1 << n) - 1
            s = src.draws(p, n)
            assert np.array_equal(np.sort(s), np.arange(1, p + 1, dtype=np.uint64)), (n, form)
            assert src.lane_states == (1,)


# --- period, primitivity, jump-ahead ---------------------------------------------------------

@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("n", list(range(2, 21)))
def test_period_by_stepping(n, form):
    """Single steps until the seed comes back: exactly 2**n - 1, every non-zero state once."""
    taps, mask = TABLE[n]
    for seed in (1, seed_for(n)):
        assert count_period(n, mask, form, seed, 1 << (n + 1)) == (1 << n) - 1


def count_period(n, mask, form, seed, limit):
    """Steps from ``seed`` until the state comes back, 0 if not within ``limit`` steps.  The
    register's successive states are the draws of the ``state`` rule with r = n (one step per
    draw, nogil); for n <= 10 the plain oracle steps them too."""
    src = fxsim.LFSR(n, form=form, seed=seed, rule="state")
    assert src.mask == mask
    states = src.draws(limit, n)
    if n <= 10:
        reg, ref = Register(n, mask, form, seed), []
        for _ in range(limit):
            reg.step()
            ref.append(reg.state)
        assert states.tolist() == ref
    back = np.flatnonzero(states == seed)
    if back.size == 0:
        return 0
    k = int(back[0]) + 1
    assert np.unique(states[:k]).size == k        # no state repeats within the period
    return k


@pytest.mark.parametrize("form", FORMS)
def test_period_by_jump(form):
    """Every table row n <= 64: A**(2**n - 1) is the identity (jump-ahead, no stepping) and
    A**((2**n - 1)/q) is not, for every prime q | 2**n - 1 (primes from the galois package)."""
    galois = pytest.importorskip("galois")
    for n in range(2, 65):
        taps, mask = TABLE[n]
        seed = seed_for(n)
        p = (1 << n) - 1
        assert int(C.jump_states(n, mask, FORMS.index(form), [seed], p)[0]) == seed, n
        primes = [int(q) for q in galois.factors(p)[0]] if p > 1 else []
        assert list(S.mersenne_factors(n)) == primes
        for q in primes:
            assert int(C.jump_states(n, mask, FORMS.index(form), [seed], p // q)[0]) != seed, (n, q)
        assert fxsim.LFSR(n, form=form, seed=seed).period == p


def test_primitive_check_vs_galois():
    """is_primitive against the galois package on the table and on 400 random tap sets."""
    galois = pytest.importorskip("galois")
    GF = galois.GF(2)

    def feedback(n, taps):
        c = [0] * (n + 1)
        for t in taps:
            c[n - t] = 1
        c[n] = 1
        return galois.Poly(c, field=GF)

    for n in range(2, 65):
        assert S.is_primitive(n, TABLE[n][0])
    rng = np.random.default_rng(2024)
    seen = {True: 0, False: 0}
    for _ in range(400):
        n = int(rng.integers(2, 33))
        k = int(rng.integers(1, min(n, 5) + 1))
        taps = (n,) + tuple(sorted({int(t) for t in rng.integers(1, n, size=k - 1)}, reverse=True))
        want = feedback(n, taps).is_primitive()
        assert S.is_primitive(n, taps) == want, taps
        seen[bool(want)] += 1
    assert min(seen.values()) > 20
    for n in (37, 48, 61, 64):      # big degrees, a few cases
        for taps in ((n, n - 1), (n, 5, 4, 3, 2, 1), (n, n - 1, 2, 1), TABLE[n][0]):
            assert S.is_primitive(n, taps) == feedback(n, taps).is_primitive(), taps


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("n", [4, 9, 16, 33, 64])
def test_jump_ahead_equals_stepping(n, form):
    taps, mask = TABLE[n]
    seed = seed_for(n)
    for k in (0, 1, 2, 7, 63, 64, 65, 1000, 4321):
        src = fxsim.LFSR(n, taps, form, seed)
        src.advance(k)
        reg = Register(n, mask, form, seed)
        for _ in range(k):
            reg.step()
        assert src.lane_states == (reg.state,), k
        assert src.count == 0
        assert [int(v) for v in src.draws(20, 9)] == [reg.draw(9, "serial") for _ in range(20)]
    # a huge jump back-to-front: jump 2**n - 1 - k, then k oracle steps come back to the seed
    p = (1 << n) - 1
    for k in (1, 5, 777):
        src = fxsim.LFSR(n, taps, form, seed).advance(p - k)
        reg = Register(n, mask, form, src.lane_states[0])
        for _ in range(k):
            reg.step()
        assert reg.state == seed
        src = fxsim.LFSR(n, taps, form, seed).advance(-k)         # negative: backwards
        reg = Register(n, mask, form, src.lane_states[0])
        for _ in range(k):
            reg.step()
        assert reg.state == seed


@pytest.mark.parametrize("n", [5, 8, 12, 16])
def test_galois_fibonacci_same_sequence_up_to_shift(n):
    """Both forms with the same taps emit the same m-sequence, shifted."""
    p = (1 << n) - 1
    words = -(-(p + 64) // 64)

    def bitstring(form):
        w = fxsim.LFSR(n, form=form, seed=1).draws(words, 64)
        return np.unpackbits(w.astype(">u8").view(np.uint8)).tobytes()[:p]

    g, f = bitstring("galois"), bitstring("fibonacci")
    assert g.count(1) == 1 << (n - 1)
    assert (g + g).find(f) >= 0
    # and the sequence is periodic with period p (bits p.. repeat bits 0..)
    w = fxsim.LFSR(n, form="galois", seed=1).draws(words, 64)
    allbits = np.unpackbits(w.astype(">u8").view(np.uint8))
    assert np.array_equal(allbits[p:p + 64], allbits[:64])


def test_nonprimitive_taps():
    # x^8 + x^4 + 1 = (x^2 + x + 1)^4: reducible; period from seed 1 by plain oracle stepping
    with pytest.raises(ValueError, match="allow_nonprimitive"):
        fxsim.LFSR(8, (8, 4))
    for n, taps, seed in [(8, (8, 4), 1), (8, (8, 4), 0x5A), (12, (12, 6), 0x123),
                          (10, (10, 3, 2, 1), 7), (16, (16, 15, 14, 13), 0xACE1), (6, (6, 3), 0x3F)]:
        reg = Register(n, mask_from_taps(taps), "galois", seed)
        k = 0
        while True:
            reg.step()
            k += 1
            if reg.state == seed:
                break
        with pytest.warns(RuntimeWarning, match=rf"period from seed {seed:#x} is {k}\b"):
            src = fxsim.LFSR(n, taps, "galois", seed, allow_nonprimitive=True)
        assert src.period == k and not src.primitive
        ref = LFSRSource(n, taps, "galois", seed, "serial", 11)
        assert [int(v) for v in src.draws(50, 11)] == ref.draws(50)
        # jumps use the polynomial's order: a period's jump comes back
        src.reset().advance(k)
        assert src.lane_states == (seed,)


# --- lanes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("rule,r", [("serial", 5), ("serial", 64), ("state", 9)])
@pytest.mark.parametrize("lanes", [1, 2, 3, 5, 7, 64])
def test_lanes_vs_oracle(lanes, form, rule, r):
    n, taps = 12, TABLE[12][0]
    src = fxsim.LFSR(n, taps, form, 0x5A5, rule, lanes=lanes)
    ref = LFSRSource(n, taps, form, 0x5A5, rule, r, lanes=lanes)
    assert src.lane_seeds == tuple(reg.state for reg in ref.lanes)
    assert draws_in_chunks(src, 500, r) == ref.draws(500)
    assert src.lane_states == tuple(reg.state for reg in ref.lanes)
    assert src.count == 500


def test_lane_starts_n16():
    """Lane starts by jump-ahead against plain stepping of the oracle, n = 16, 2..9 lanes."""
    taps, mask = TABLE[16]
    for form in FORMS:
        for lanes in (2, 3, 9):
            ref = LFSRSource(16, taps, form, 0xBEEF, lanes=lanes)
            assert fxsim.LFSR(16, taps, form, 0xBEEF, lanes=lanes).lane_seeds == \
                tuple(reg.state for reg in ref.lanes)


def test_explicit_lane_seeds():
    n, taps = 10, TABLE[10][0]
    src = fxsim.LFSR(n, taps, "fibonacci", lanes=3, lane_seeds=[3, 9, 1000], rule="state")
    ref = LFSRSource(n, taps, "fibonacci", 1, "state", 10, lanes=3, lane_seeds=[3, 9, 1000])
    assert draws_in_chunks(src, 100, 10) == ref.draws(100)
    assert src.lane_seeds == (3, 9, 1000)


# --- state, reset, spawn ----------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: fxsim.LFSR(16, "16 14 13 11", "galois", 0xACE1),
    lambda: fxsim.LFSR(33, form="fibonacci", seed=0x1F00F, rule="state", lanes=3),
    lambda: fxsim.LFSR(64, seed=0x0123456789ABCDEF, lanes=5),
], ids=["n16", "n33-lanes3-state", "n64-lanes5"])
def test_lfsr_state_roundtrip(make):
    src = make()
    r = 13
    src.draws(101, r)
    saved = src.state
    text = json.dumps(saved)
    after = [int(v) for v in src.draws(250, r)]
    # restore into the same object
    src.state = json.loads(text)
    assert [int(v) for v in src.draws(250, r)] == after
    # a new source from the JSON, and a pickled copy
    again = S.from_state(json.loads(text))
    assert [int(v) for v in again.draws(250, r)] == after
    src.state = saved
    twin = pickle.loads(pickle.dumps(src))
    assert [int(v) for v in twin.draws(250, r)] == after
    # against the oracle: draw 101 onwards of a fresh oracle source
    ref = LFSRSource(src.n, src.taps, src.form, src.seed, src.rule, r, lanes=src.lanes,
                     lane_seeds=list(src.lane_seeds))
    ref.draws(101)
    assert ref.draws(250) == after
    # reset goes back to draw 0
    first = [int(v) for v in make().draws(5, r)]
    assert [int(v) for v in src.reset().draws(5, r)] == first


def test_state_setter_rejects_other_configurations():
    a = fxsim.LFSR(16, seed=5)
    b = fxsim.LFSR(17, seed=5)
    with pytest.raises(ValueError, match=r"state\['n'\]"):
        a.state = b.state
    st = a.state
    st["lane_states"] = [0]
    with pytest.raises(ValueError, match=r"lane_states.*\[1, 2\*\*16 - 1\]"):
        a.state = st
    with pytest.raises(ValueError, match="kind"):
        fxsim.Ideal("pcg64", 1).state = a.state
    with pytest.raises(ValueError, match="bitgen"):
        fxsim.Ideal("pcg64", 1).state = fxsim.Ideal("sfc64", 1).state


@pytest.mark.parametrize("n", [16, 32, 64])
def test_spawn(n):
    taps, mask = TABLE[n]
    parent = fxsim.LFSR(n, taps, "galois", seed_for(n), lanes=2)
    kids = parent.spawn(4)
    more = parent.spawn(2)
    streams = [tuple(int(v) for v in s.draws(16, 64)) for s in [parent] + kids + more]
    assert len(set(streams)) == len(streams), "spawned streams must differ"
    # deterministic: the same parent spawns the same children, in order across calls
    again = fxsim.LFSR(n, taps, "galois", seed_for(n), lanes=2).spawn(6)
    assert [k.lane_seeds for k in again] == [k.lane_seeds for k in kids + more]
    for kid in kids:
        assert kid.n == n and kid.taps == taps and kid.lanes == 2 and kid.form == "galois"
        # each child is a register of the same polynomial from its own seeds (oracle)
        ref = LFSRSource(n, taps, "galois", 1, "serial", 64, lanes=2, lane_seeds=list(kid.lane_seeds))
        assert [int(v) for v in kid.reset().draws(16, 64)] == ref.draws(16)
    # grandchildren differ from the children
    grand = kids[0].spawn(2)
    assert len({k.lane_seeds for k in kids + more + grand}) == 8
    # both lanes of a child are shifted by the same amount (its lanes stay one stride apart)
    if n == 16:
        p = (1 << n) - 1
        kid = kids[1]
        reg = Register(n, mask, "galois", kid.lane_seeds[0])
        for _ in range(p // 2):
            reg.step()
        assert reg.state == kid.lane_seeds[1]


def test_ideal_spawn():
    kids = fxsim.Ideal("pcg64", 7).spawn(3)
    want = [np.random.PCG64(s).random_raw(8) for s in np.random.SeedSequence(7).spawn(3)]
    for k, w in zip(kids, want):
        assert np.array_equal(k.draws(8, 64), w)


# --- the galois package -----------------------------------------------------------------------

def _galois_lfsr(form, n, taps, seed):
    """Mapping documented in tests/test_lfsr_ref.py: feedback polynomial 1 + sum x^t; GLFSR state
    = our state MSB first, FLFSR state = our state LSB first."""
    galois = pytest.importorskip("galois")
    GF = galois.GF(2)
    coeffs = [0] * (n + 1)
    for t in taps:
        coeffs[n - t] = 1
    coeffs[n] = 1
    f = galois.Poly(coeffs, field=GF)
    if form == "galois":
        return galois.GLFSR(f, state=[(seed >> (n - 1 - j)) & 1 for j in range(n)])
    return galois.FLFSR(f, state=[(seed >> j) & 1 for j in range(n)])


def _galois_state(form, n, S_):
    S_ = [int(v) for v in S_]
    if form == "galois":
        return sum(S_[j] << (n - 1 - j) for j in range(n))
    return sum(S_[j] << j for j in range(n))


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("n", [2, 5, 8, 13, 16, 23, 32, 41, 48, 63, 64])
def test_vs_galois_package(n, form):
    taps = TABLE[n][0]
    seed = seed_for(n, 3)
    g = _galois_lfsr(form, n, taps, seed)
    bits = [int(b) for b in np.atleast_1d(g.step(300))]
    assert [int(v) for v in fxsim.LFSR(n, taps, form, seed).draws(300, 1)] == bits
    # serial draws of r bits: r consecutive galois output bits, first most significant
    for r in (7, 64):
        src = fxsim.LFSR(n, taps, form, seed)
        want = [int("".join(map(str, bits[i * r:(i + 1) * r])), 2) for i in range(300 // r)]
        assert [int(v) for v in src.draws(300 // r, r)] == want
    # states after each step: the 'state' rule with r = n
    g = _galois_lfsr(form, n, taps, seed)
    src = fxsim.LFSR(n, taps, form, seed, rule="state")
    for _ in range(50):
        g.step(1)
        assert int(src.draws(1, n)[0]) == _galois_state(form, n, g.state)


# --- ideal sources: numpy's streams -----------------------------------------------------------

def _numpy_words(name, seed, count):
    bg = getattr(np.random, name)(seed)
    if name == "MT19937":       # numpy's 64-bit word: two 32-bit outputs, the first one high
        raw = bg.random_raw(2 * count)
        return (raw[0::2] << np.uint64(32)) | raw[1::2]
    return bg.random_raw(count)


@pytest.mark.parametrize("name", ["PCG64", "Philox", "SFC64", "MT19937", "PCG64DXSM"])
@pytest.mark.parametrize("r", [1, 2, 7, 16, 31, 32, 53, 63, 64])
def test_ideal_matches_numpy(name, r):
    seed = 12345 + r
    src = fxsim.Ideal(name.lower(), seed)
    total = 3000
    w = _numpy_words(name, seed, total)
    got = draws_in_chunks(src, total, r)
    assert got == [int(v) for v in (w >> np.uint64(64 - r))]


def test_ideal_mt19937_word_order_by_generator():
    """numpy's Generator.integers over the full uint64 range returns next_uint64 itself."""
    want = np.random.Generator(np.random.MT19937(3)).integers(0, 2**64, size=100, dtype=np.uint64)
    assert np.array_equal(fxsim.Ideal("mt19937", 3).draws(100, 64), want)


def test_ideal_shares_a_bit_generator():
    bg = np.random.PCG64(99)
    src = fxsim.Ideal(bg)
    a = src.draws(10, 64)
    b = bg.random_raw(10)                       # the generator moved on by 10 words
    ref = np.random.PCG64(99).random_raw(20)
    assert np.array_equal(a, ref[:10]) and np.array_equal(b, ref[10:])
    gen = np.random.Generator(np.random.SFC64(5))
    assert np.array_equal(fxsim.Ideal(gen).draws(4, 64), np.random.SFC64(5).random_raw(4))


@pytest.mark.parametrize("name", ["pcg64", "philox", "sfc64", "mt19937"])
def test_ideal_state_roundtrip(name):
    src = fxsim.Ideal(name, 2024)
    src.draws(77, 64)
    text = json.dumps(src.state)
    after = src.draws(500, 64)
    src.state = json.loads(text)
    assert np.array_equal(src.draws(500, 64), after)
    assert np.array_equal(S.from_state(json.loads(text)).draws(500, 64), after)
    src.state = json.loads(text)
    assert np.array_equal(pickle.loads(pickle.dumps(src)).draws(500, 64), after)
    w = _numpy_words(src.name, 2024, 577)
    assert np.array_equal(after, w[77:])


# --- the C interface --------------------------------------------------------------------------

def _capsule_name(cap):
    import ctypes
    get = ctypes.pythonapi.PyCapsule_GetName
    get.restype, get.argtypes = ctypes.c_char_p, [ctypes.py_object]
    return get(cap).decode()


@pytest.mark.parametrize("make", [lambda: fxsim.LFSR(16, seed=0xACE1), lambda: fxsim.Ideal("pcg64", 1)],
                         ids=["lfsr", "ideal"])
def test_capsule_interface(make):
    src = make()
    cap = src.capsule
    assert type(cap).__name__ == "PyCapsule" and _capsule_name(cap) == "fxsim.bitsrc"
    ref = make().draws(40, 16)
    out = np.empty(30, dtype=np.uint64)
    with src.lock:
        C.fill_from_capsule(cap, out, 16)
        nxt = [C.next_from_capsule(cap, 16) for _ in range(10)]
    assert np.array_equal(out, ref[:30]) and nxt == [int(v) for v in ref[30:]]
    with pytest.raises(ValueError):
        C.fill_from_capsule(np.random.PCG64(1).capsule, out, 16)      # not an fxsim.bitsrc


def test_capsule_keeps_its_source_alive():
    import gc
    cap = fxsim.LFSR(16, "16 14 13 11", seed=0xACE1).capsule
    gc.collect()
    out = np.empty(1, dtype=np.uint64)
    C.fill_from_capsule(cap, out, 16)
    assert int(out[0]) == 0x8723            # first row of lfsr_draws.csv


def test_zero_draws_do_not_move():
    src = fxsim.LFSR(16, seed=9)
    assert src.draws(0, 16).shape == (0,)
    assert src.count == 0 and src.lane_states == (9,)


# --- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,pattern", [
    (dict(n=1), r"n must be an integer in \[2, 64\]"),
    (dict(n=65), r"n must be an integer in \[2, 64\]"),
    (dict(n="16"), r"n must be an integer in \[2, 64\]"),
    (dict(n=True), r"n must be an integer in \[2, 64\]"),
    (dict(taps=(70, 1)), r"n must be an integer in \[2, 64\]"),
    (dict(n=16, seed=0), r"seed must be an integer in \[1, 2\*\*16 - 1\]"),
    (dict(n=16, seed=1 << 16), r"seed must be an integer in \[1, 2\*\*16 - 1\]"),
    (dict(n=16, seed=-3), r"seed must be an integer in \[1, 2\*\*16 - 1\]"),
    (dict(n=16, seed=2.0), r"seed must be an integer"),
    (dict(n=8, lanes=2, lane_seeds=[1]), r"lane_seeds must hold exactly lanes = 2"),
    (dict(n=8, lanes=2, lane_seeds=[1, 0]), r"lane_seeds\[1\] must be an integer in \[1, 2\*\*8 - 1\]"),
    (dict(n=8, lanes=0), r"lanes must be an integer in \[1, 255\]"),
    (dict(n=4, lanes=16), r"lanes must be an integer in \[1, 15\]"),
    (dict(form="gal"), r"form must be one of 'galois', 'fibonacci'"),
    (dict(rule="parallel"), r"rule must be one of 'serial', 'state'"),
    (dict(n=16, taps=(8, 6, 5, 4)), r"taps must be exponents in \[1, n\] = \[1, 16\] including n = 16"),
    (dict(n=8, taps=(8, 6, 6, 4)), r"taps must be distinct"),
    (dict(n=8, taps=(8, 0)), r"taps must be exponents in \[1, n\]"),
    (dict(n=8, taps="8 x"), r"taps must be integers"),
    (dict(n=8, taps=(8, 7, 6, 5, 4, 3, 2, 1)), r"non-primitive.*allow_nonprimitive=True"),
])
def test_lfsr_errors(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        fxsim.LFSR(**kwargs)


def test_draw_errors():
    src = fxsim.LFSR(16)
    for r in (0, 65, -1, 1.5, None):
        with pytest.raises(ValueError, match=r"r must be an integer in \[1, 64\]"):
            src.draws(3, r)
    st = fxsim.LFSR(16, rule="state")
    for r in (17, 64, 0):
        with pytest.raises(ValueError, match=r"r must be an integer in \[1, n\] = \[1, 16\] for rule='state'"):
            st.draws(3, r)
    for n in (-1, 2.5, "3"):
        with pytest.raises(ValueError, match=r"n \(the number of draws\) must be a non-negative integer"):
            src.draws(n, 8)
    with pytest.raises(ValueError, match=r"r must be an integer in \[1, 64\]"):
        fxsim.Ideal("sfc64", 1).draws(1, 65)
    with pytest.raises(ValueError, match="bitgen must be one of"):
        fxsim.Ideal("xorshift")
    with pytest.raises(ValueError, match="seed must be None"):
        fxsim.Ideal(np.random.PCG64(1), seed=3)
    with pytest.raises(ValueError, match="steps must be an integer"):
        src.advance(1.5)
    # an error leaves the stream where it was
    a = fxsim.LFSR(16, seed=0xACE1)
    with pytest.raises(ValueError):
        a.draws(10, 99)
    assert a.count == 0 and int(a.draws(1, 16)[0]) == LFSRSource(16, TABLE[16][0], seed=0xACE1, r=16).draw()


def test_n_from_taps_and_defaults():
    src = fxsim.LFSR(taps=(8, 6, 5, 4))
    assert (src.n, src.form, src.rule, src.lanes, src.seed) == (8, "galois", "serial", 1, 1)
    d = fxsim.LFSR()
    assert d.n == 16 and d.taps == TABLE[16][0] and d.period == 65535
    assert "LFSR(n=16" in repr(d) and repr(fxsim.Ideal("philox", 1)) == "Ideal(Philox)"


@pytest.mark.parametrize("make", [lambda: fxsim.LFSR(64, seed=0xC0FFEE, lanes=3),
                                  lambda: fxsim.Ideal("pcg64", 11)], ids=["lfsr", "ideal"])
def test_threads_share_one_stream(make):
    """Calls from several threads each take a contiguous piece of the one stream (the lock)."""
    import threading
    src, ref = make(), make().draws(8 * 50 * 37, 64)
    pieces = []

    def work():
        for _ in range(50):
            pieces.append(src.draws(37, 64))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pos = {int(v): i for i, v in enumerate(ref)}
    assert len(pos) == ref.size
    starts = sorted(pos[int(p[0])] for p in pieces)
    assert starts == list(range(0, ref.size, 37))
    for p in pieces:
        i = pos[int(p[0])]
        assert np.array_equal(p, ref[i:i + 37])


# --- bad state dicts (issue 11, point 7) -----------------------------------------------------
# Every refused state is one ValueError naming the key (never KeyError/TypeError/IndexError/
# OverflowError) and leaves the source as it was.

def _lfsr_state():
    src = fxsim.LFSR(16, seed=3)
    src.draws(5, 16)
    return src, src.state


def _ideal_state(bitgen):
    src = fxsim.Ideal(bitgen, seed=3)
    src.draws(5, 16)
    return src, src.state


def _put(d, path, value):
    for k in path[:-1]:
        d = d[k]
    if value is _DEL:
        del d[path[-1]]
    else:
        d[path[-1]] = value


_DEL = object()
BAD_LFSR = [
    (("n",), _DEL, r"missing 'n'"), (("taps",), _DEL, r"missing 'taps'"),
    (("lane_seeds",), _DEL, r"missing 'lane_seeds'"), (("count",), _DEL, r"missing 'count'"),
    (("lane_states",), None, r"state\['lane_states'\] must be a list"),
    (("lane_states",), 1.5, r"state\['lane_states'\] must be a list"),
    (("lane_seeds",), 7, r"state\['lane_seeds'\] must be a list"),
    (("lane_states",), [1, 2], r"state\['lane_states'\] must hold 1"),
    (("lane_states", 0), "5", r"state\['lane_states'\]\[0\] must be an integer in \[1, 2\*\*16 - 1\]"),
    (("lane_states", 0), 5.0, r"state\['lane_states'\]\[0\]"),
    (("lane_states", 0), [[1]], r"state\['lane_states'\]\[0\]"),
    (("count",), -1, r"state\['count'\] must be an integer in \[0, 2\*\*64\)"),
    (("count",), 2.0, r"state\['count'\]"),
    (("taps",), 1.5, r"state\['taps'\] must be a list of integers"),
    (("taps", 0), None, r"state\['taps'\]"),
    (("taps", 0), [1, 2], r"state\['taps'\]"),
    (("lanes",), True, r"state\['lanes'\]"),
    (("form",), ["galois"], r"state\['form'\]"),
    (("extra",), 1, r"unknown key 'extra'"),
    (("spawn",), "x", r"state\['spawn'\] must be a dict"),
    (("spawn",), None, r"state\['spawn'\] must be a dict"),
    (("spawn",), {"a": 1}, r"state\['spawn'\] must be a dict with the keys"),
    (("spawn", "entropy"), _DEL, r"state\['spawn'\]"),
    (("spawn", "entropy"), [], r"state\['spawn'\]\['entropy'\] must be a non-empty list"),
    (("spawn", "entropy"), 1.5, r"state\['spawn'\]\['entropy'\]"),
    (("spawn", "entropy", 0), 1.5, r"state\['spawn'\]\['entropy'\]"),
    (("spawn", "entropy", 0), -1, r"state\['spawn'\]\['entropy'\]"),
    (("spawn", "key"), None, r"state\['spawn'\]\['key'\]"),
    (("spawn", "key"), [[1]], r"state\['spawn'\]\['key'\]"),
    (("spawn", "children"), -1, r"state\['spawn'\]\['children'\] must be an integer in \[0, 2\*\*63\)"),
    (("spawn", "children"), 1.5, r"state\['spawn'\]\['children'\]"),
    (("spawn", "children"), True, r"state\['spawn'\]\['children'\]"),
]


@pytest.mark.parametrize("path,value,match", BAD_LFSR,
                         ids=[f"{'.'.join(map(str, p))}={'del' if v is _DEL else repr(v)}" for p, v, _ in BAD_LFSR])
def test_bad_lfsr_state(path, value, match):
    src, good = _lfsr_state()
    bad = json.loads(json.dumps(good))
    _put(bad, path, value)
    with pytest.raises(ValueError, match=match):
        src.state = bad
    assert src.state == good                                   # refused: nothing changed
    with pytest.raises(ValueError, match=match):
        S.from_state(bad)


BAD_IDEAL = [
    ("pcg64", ("state",), _DEL, r"missing 'state'"),
    ("pcg64", ("bitgen",), _DEL, r"missing 'bitgen'"),
    ("pcg64", ("extra",), 0, r"unknown key 'extra'"),
    ("pcg64", ("state",), {"a": 1}, r"state\['state'\] is missing 'bit_generator'"),
    ("pcg64", ("state", "state"), _DEL, r"state\['state'\] is missing 'state'"),
    ("pcg64", ("state", "state", "inc"), _DEL, r"state\['state'\]\['state'\] is missing 'inc'"),
    ("pcg64", ("state", "bit_generator"), "SFC64", r"state\['state'\]\['bit_generator'\] must be 'PCG64'"),
    ("pcg64", ("state", "state", "state"), "x", r"state\['state'\]\['state'\]\['state'\] must be an integer"),
    ("pcg64", ("state", "state", "state"), 1.5, r"\['state'\]\['state'\] must be an integer"),
    ("pcg64", ("state", "state", "state"), -1, r"must be an integer in \[0, 2\*\*128|in \[0, 340282"),
    ("pcg64", ("state", "state", "state"), 1 << 130, r"\['state'\]\['state'\]"),
    ("pcg64", ("state", "state", "inc"), 2, r"\['inc'\] must be odd"),
    ("pcg64", ("state", "has_uint32"), -1, r"\['has_uint32'\] must be an integer in \[0, 1\]"),
    ("pcg64", ("state", "has_uint32"), True, r"\['has_uint32'\]"),
    ("pcg64", ("state", "uinteger"), 1 << 40, r"\['uinteger'\] must be an integer in \[0, 4294967295\]"),
    ("philox", ("state", "buffer_pos"), -1, r"\['buffer_pos'\] must be an integer in \[0, 4\]"),
    ("philox", ("state", "buffer"), [1, 2, 3], r"\['buffer'\] must be a list of 4 integers, got 3"),
    ("philox", ("state", "buffer", 0), 1.5, r"\['buffer'\]\[0\] must be an integer"),
    ("philox", ("state", "state", "key"), None, r"\['key'\] must be a list of 2 integers"),
    ("philox", ("state", "state", "counter", 1), -1, r"\['counter'\]\[1\]"),
    ("sfc64", ("state", "state", "state", 3), 1 << 64, r"\['state'\]\[3\] must be an integer in \[0, 18446744073709551615\]"),
    ("mt19937", ("state", "state", "pos"), 625, r"\['pos'\] must be an integer in \[0, 624\]"),
    ("mt19937", ("state", "state", "key"), [1] * 623, r"\['key'\] must be a list of 624 integers"),
    ("mt19937", ("state", "state", "key", 0), 1 << 32, r"\['key'\]\[0\] must be an integer in \[0, 4294967295\]"),
]


@pytest.mark.parametrize("bitgen,path,value,match", BAD_IDEAL,
                         ids=[f"{b}:{'.'.join(map(str, p))}={'del' if v is _DEL else repr(v)[:12]}"
                              for b, p, v, _ in BAD_IDEAL])
def test_bad_ideal_state(bitgen, path, value, match):
    src, good = _ideal_state(bitgen)
    bad = json.loads(json.dumps(good))
    _put(bad, path, value)
    with pytest.raises(ValueError, match=match):
        src.state = bad
    assert json.dumps(src.state) == json.dumps(good)           # refused: nothing changed
    with pytest.raises(ValueError, match=match):
        S.from_state(bad)


@pytest.mark.parametrize("bad,match", [
    ({"kind": "ideal", "bitgen": "BitGenerator", "state": {}}, r"state\['bitgen'\] must be one of"),
    ({"kind": "ideal", "bitgen": ["PCG64"], "state": {}}, r"state\['bitgen'\]"),
    ({"kind": ["lfsr"]}, r"state\['kind'\] must be 'lfsr' or 'ideal'"),
    ({"kind": "lfsr"}, r"state is missing 'n'"),
    ("lfsr", r"state must be a dict"),
])
def test_from_state_garbage(bad, match):
    with pytest.raises(ValueError, match=match):
        S.from_state(bad)


def test_good_states_still_round_trip_through_json():
    for src in (fxsim.LFSR(16, seed=3, lanes=2), fxsim.Ideal("pcg64", 1), fxsim.Ideal("philox", 1),
                fxsim.Ideal("sfc64", 1), fxsim.Ideal("mt19937", 1), fxsim.Ideal("pcg64dxsm", 1)):
        src.draws(7, 16)
        st = json.loads(json.dumps(src.state))
        want = src.draws(9, 16).tolist()
        assert S.from_state(st).draws(9, 16).tolist() == want
        src.state = st
        assert src.draws(9, 16).tolist() == want


# -- fxsim.make_source: the one spec grammar and seeding rule (issue 12.3) ----------------------

from fxsim.accelerator import ROLES, Accelerator  # noqa: E402

BITGEN_CLASSES = {"pcg64": np.random.PCG64, "pcg64dxsm": np.random.PCG64DXSM,
                  "philox": np.random.Philox, "sfc64": np.random.SFC64}


def _lfsr_ref(n, seed, form="galois", rule="serial", r=16, lanes=1, lane_seeds=None):
    return LFSRSource(n, TABLE[n][0], form, seed=seed, rule=rule, r=r, lanes=lanes,
                      lane_seeds=lane_seeds)


@pytest.mark.parametrize("spec,n,form,rule,lanes", [
    ("lfsr", 16, "galois", "serial", 1), ("lfsr16", 16, "galois", "serial", 1),
    ("lfsr:16", 16, "galois", "serial", 1), ("LFSR:32:Fibonacci:state:lanes=4", 32, "fibonacci", "state", 4),
    ("lfsr8:fibonacci", 8, "fibonacci", "serial", 1), ("lfsr:12:state", 12, "galois", "state", 1),
    ("lfsr:20:lanes=3", 20, "galois", "serial", 3), (" lfsr:64 ", 64, "galois", "serial", 1),
])
@pytest.mark.parametrize("seed", [None, 0, 1, 5, (1 << 16) + 3])
def test_make_source_lfsr_specs(spec, n, form, rule, lanes, seed):
    src = fxsim.make_source(spec, seed=seed)
    full = (1 << n) - 1
    start = 1 if seed is None else 1 + (seed - 1) % full          # the documented rule
    assert (src.n, src.form, src.rule, src.lanes, src.seed) == (n, form, rule, lanes, start)
    r = min(n, 12)
    # lane starts (jumps of (2**n - 1) // L steps) are checked in test_lanes_vs_oracle; stepping
    # the oracle 2**30 times here would take hours
    seeds = None if lanes == 1 or n <= 20 else list(src.lane_seeds)
    ref = _lfsr_ref(n, start, form, rule, r, lanes, seeds)
    assert src.draws(40, r).tolist() == ref.draws(40)


def test_make_source_lfsr_seed_sequence():
    for n in (8, 16, 32):
        ss = np.random.SeedSequence(2024)
        w = int(np.random.SeedSequence(2024).generate_state(1, np.uint64)[0])
        src = fxsim.make_source(f"lfsr{n}", seed=ss)
        assert src.seed == 1 + w % ((1 << n) - 1)
        assert src.draws(10, 8).tolist() == _lfsr_ref(n, src.seed, r=8).draws(10)


@pytest.mark.parametrize("spec,cls", [("ideal", np.random.PCG64), ("pcg64", np.random.PCG64),
                                      ("ideal:pcg64", np.random.PCG64)]
                         + [(k, c) for k, c in BITGEN_CLASSES.items()]
                         + [(f"ideal:{k}", c) for k, c in BITGEN_CLASSES.items()])
def test_make_source_ideal_specs(spec, cls):
    for seed in (0, 7, np.random.SeedSequence(11)):
        ref_seed = np.random.SeedSequence(11) if isinstance(seed, np.random.SeedSequence) else seed
        got = fxsim.make_source(spec, seed=seed).draws(6, 64)
        np.testing.assert_array_equal(got, cls(ref_seed).random_raw(6))


def test_make_source_mt19937():
    # numpy's 64-bit word of MT19937 is two 32-bit outputs, the first one high
    got = fxsim.make_source("mt19937", seed=3).draws(4, 64)
    w = np.random.MT19937(3).random_raw(8).astype(np.uint64)
    np.testing.assert_array_equal(got, (w[0::2] << np.uint64(32)) | w[1::2])


def test_make_source_passes_objects_through():
    src = fxsim.LFSR(16, seed=3)
    assert fxsim.make_source(src) is src


@pytest.mark.parametrize("spec,seed,match", [
    ("lfsr:70", None, r"source 'lfsr:70': n must be an integer in \[2, 64\]"),
    ("lfsr1", None, r"n must be an integer in \[2, 64\]"),
    ("lfsr:16:sideways", None, r"source .*cannot read 'sideways'"),
    ("lfsr:16:galois:galois", None, r"cannot read 'galois'"),
    ("lfsr16:32", None, r"cannot read '32'"),
    ("lfsrx", None, r"cannot read 'lfsrx'"),
    ("lfsr:16:lanes=0", None, r"lanes must be a positive integer"),
    ("lfsr:2:lanes=4", None, r"lanes must be an integer in \[1, 3\]"),
    ("ideal:xorshift", None, r"source 'ideal:xorshift': cannot read 'xorshift'"),
    ("pcg64:philox", None, r"source .*kind must be"),
    ("mt", None, r"source 'mt': the kind must be"),
    ("", None, r"the kind must be"),
    ("lfsr16", -1, r"seed must be None, a non-negative integer"),
    ("lfsr16", True, r"seed must be"),
    ("pcg64", 1.5, r"seed must be"),
    (None, None, r"source must be a spec string .* or a bit source object"),
    (42, None, r"source must be a spec string"),
])
def test_make_source_refusals_name_the_parameter(spec, seed, match):
    with pytest.raises(ValueError, match=match):
        fxsim.make_source(spec, seed=seed)


def test_make_source_object_with_seed_refused():
    with pytest.raises(ValueError, match="seed must be None when source is already a source"):
        fxsim.make_source(fxsim.LFSR(8), seed=3)


def test_vectors_make_source_keeps_its_seed_meaning():
    from fxsim.vectors import make_source as vmake
    assert vmake("lfsr:8:fibonacci:state", seed=5).draws(6, 8).tolist() == \
        _lfsr_ref(8, 5, "fibonacci", "state", 8).draws(6)
    assert vmake("lfsr:12:lanes=2", seed=7).draws(6, 8).tolist() == \
        _lfsr_ref(12, 7, r=8, lanes=2).draws(6)
    np.testing.assert_array_equal(vmake("ideal:sfc64", seed=9).draws(3, 64),
                                  np.random.SFC64(9).random_raw(3))
    for bad in (0, 256, -1):                           # the seed is the starting state
        with pytest.raises(ValueError, match=r"seed must be an integer in \[1, 2\*\*8 - 1\]"):
            vmake("lfsr:8", seed=bad)


@pytest.mark.parametrize("spec,seed,why", [
    ("lfsr:99", 1, "n must be an integer in [2, 64]"),
    ("lfsr:8", 0, "seed must be an integer in [1, 2**8 - 1]"),
    ("ideal:foo", 1, "cannot read 'foo'"),
    ("ideal", -1, "seed must be None, a non-negative integer"),
])
def test_export_vectors_source_error_names_the_source_once(tmp_path, spec, seed, why):
    from fxsim.vectors import export_vectors
    with pytest.raises(ValueError) as info:
        export_vectors(tmp_path / "v", "cast", fmt="Q4.4", rounding="stochastic", r=4,
                       source=spec, source_seed=seed, count=2)
    msg = str(info.value)
    assert msg.startswith(f"source {spec!r}: {why}"), msg
    assert msg.count(f"'{spec}'") == 1, msg


# -- the accelerator's per-role streams ---------------------------------------------------------

def _jump_ref(n, start, k):
    reg = Register(n, TABLE[n][1], "galois", start)
    for _ in range(k):
        reg.step()
    return reg.state


def test_accelerator_lfsr16_streams_unchanged():
    """lfsr16 with seed s: root state 1 + s mod (2**16 - 1); role c's stream starts d_c steps on,
    d_c = 1 + v mod (2**16 - 2), v from SeedSequence(entropy, spawn_key=(c,)) (LFSR.spawn)."""
    n, full = 16, (1 << 16) - 1
    for seed in (0, 3, full + 4):
        acc = Accelerator("Q8.8", "Q8.8", source="lfsr16", seed=seed)
        start = 1 + seed % full
        for c, role in enumerate(ROLES):
            ss = np.random.SeedSequence([start, TABLE[n][1], n, 0, 1], spawn_key=(c,))
            w = ss.generate_state(2, np.uint64)
            d = 1 + ((int(w[0]) << 64) | int(w[1])) % (full - 1)
            ref = _lfsr_ref(n, _jump_ref(n, start, d), r=16)
            assert acc.source_for(role).draws(5, 16).tolist() == ref.draws(5), (seed, role)


@pytest.mark.parametrize("name", ["ideal", "pcg64"])
def test_accelerator_ideal_streams_are_seed_sequence_children(name):
    acc = Accelerator("Q8.8", "Q8.8", source=name, seed=12)
    kids = np.random.SeedSequence(12).spawn(len(ROLES))
    for role, ss in zip(ROLES, kids):
        np.testing.assert_array_equal(acc.source_for(role).draws(4, 64),
                                      np.random.PCG64(ss).random_raw(4))


def test_accelerator_lfsr32_streams_unchanged():
    acc = Accelerator("Q8.8", "Q8.8", source="lfsr32", seed=9)
    kids = fxsim.LFSR(32, seed=10).spawn(len(ROLES))        # today's definition
    for role, kid in zip(ROLES, kids):
        assert acc.source_for(role).draws(6, 32).tolist() == kid.draws(6, 32).tolist()


@pytest.mark.parametrize("spec", ["lfsr:32:fibonacci:state:lanes=4", "lfsr8", "ideal:philox",
                                  "sfc64", "lfsr:20:lanes=3"])
def test_accelerator_takes_every_spec(spec, tmp_path):
    acc = Accelerator("Q8.8", "Q8.8", casts={"grad": "stochastic"}, source=spec, seed=2, r=8)
    firsts = {tuple(acc.source_for(role).draws(4, 8)) for role in ROLES}
    assert len(firsts) == len(ROLES)
    again = Accelerator.from_dict(acc.to_dict())
    assert again == acc
    assert tuple(again.source_for("acts").draws(4, 8)) in firsts
    p = tmp_path / "acc.json"
    p.write_text(json.dumps(acc.to_dict()))
    assert Accelerator.from_file(p) == acc


def test_accelerator_file_validates_the_spec(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('weights = "Q8.8"\ngrads = "Q8.8"\nsource = "lfsr:16:sideways"\n')
    with pytest.raises(ValueError, match=r"bad.toml: source: .*cannot read 'sideways'.*make_source"):
        Accelerator.from_file(p)


@pytest.mark.parametrize("bad", [42, object(), ["lfsr16"]])
def test_accelerator_refuses_other_sources(bad):
    with pytest.raises(ValueError, match=r"source: must be None, a spec string of fxsim.make_source"):
        Accelerator("Q8.8", "Q8.8", source=bad)


def test_accelerator_fresh_leaves_the_caller_alone():
    acc = Accelerator("Q8.8", "Q8.8", source="lfsr16", seed=5)
    ref = Accelerator("Q8.8", "Q8.8", source="lfsr16", seed=5)
    acc.source_for("grad").draws(3, 16)
    before = acc.source_for("grad").state
    twin = acc.fresh()
    np.testing.assert_array_equal(twin.source_for("grad").draws(5, 16),
                                  ref.source_for("grad").draws(5, 16))
    assert acc.source_for("grad").state == before and twin.source_for("grad") is not acc.source_for("grad")


@pytest.mark.parametrize("make", [lambda: fxsim.LFSR(16, seed=77), lambda: fxsim.Ideal("philox", seed=4)])
def test_accelerator_source_object_is_copied(make):
    src = make()
    before = src.state
    acc = Accelerator("Q8.8", "Q8.8", casts={"grad": "stochastic"}, source=src)
    kids = make().spawn(len(ROLES))
    for role, kid in zip(ROLES, kids):
        np.testing.assert_array_equal(acc.source_for(role).draws(4, 16), kid.draws(4, 16))
    np.testing.assert_array_equal(acc.fresh().source_for("grad").draws(4, 16),
                                  make().spawn(1)[0].draws(4, 16))
    assert src.state == before                       # neither drawn from nor spawned from
    with pytest.raises(ValueError, match="source: .*spec string"):
        acc.to_dict()


def test_accelerator_cast_modes_per_role():
    from fxsim import CastMode
    acc = Accelerator("Q8.8", "Q8.8", casts={"grad": CastMode("stochastic", r=8),
                                             "update": ("stochastic_eps", "wrap"),
                                             "acts": {"rounding": "stochastic", "sr_rule": "half"}},
                      source="lfsr16", seed=1, r=12, eps=0.25)
    assert acc.mode("grad") == CastMode("stochastic", r=8)
    assert acc.mode("update") == CastMode("stochastic_eps", "wrap", r=12, eps=0.25)
    assert acc.mode("acts") == CastMode("stochastic", r=12, eps=0.25, sr_rule="half")
    assert acc.mode("step") == CastMode()
    kw = acc.cast_kwargs("grad")
    assert (kw["r"], kw["source"]) == (8, acc.source_for("grad"))
    assert acc.cast_kwargs("update")["eps"] == 0.25 and acc.casts["grad"] == ("stochastic", "saturate")
    again = Accelerator.from_dict(json.loads(json.dumps(acc.to_dict())))
    assert again == acc and all(again.mode(r) == acc.mode(r) for r in ROLES)
    with pytest.raises(ValueError, match=r"casts.grad: r must be an integer in \[1, 64\]"):
        Accelerator("Q8.8", "Q8.8", casts={"grad": {"rounding": "stochastic", "r": 99}}, source="lfsr16")
    with pytest.raises(ValueError, match=r"casts.grad: unknown keys \['bits'\]"):
        Accelerator("Q8.8", "Q8.8", casts={"grad": {"rounding": "stochastic", "bits": 9}}, source="lfsr16")


@pytest.mark.parametrize("n", [5, 12, 20, 32, 41, 64])
@pytest.mark.parametrize("form", ["galois", "fibonacci"])
def test_serial_leaps_per_state_size_vs_oracle(n, form):
    """The serial rule's long leaps run in a loop of their own per state size (1..8 bytes)
    and for m = 4 draws per leap: every size, r with m = 64, 12, 4, 3 and 2, and a fill split
    at a point inside a leap, against the pure-Python oracle (reference.ref_lfsr_lane_draws)."""
    from reference import ref_lfsr_lane_draws
    from lfsr_ref import load_taps_table
    taps = load_taps_table()[n][0]                  # the shared taps table, not the source's
    for r in (1, 5, 16, 21, min(n, 32)):
        seed = 0x5A5A5 % (1 << n) or 1
        src = S.LFSR(n, form=form, seed=seed)
        want, _ = ref_lfsr_lane_draws(n, taps, form, "serial", r, [seed], 0, 333)
        got = np.concatenate([src.draws(101, r), src.draws(232, r)])
        assert got.tolist() == want, (n, form, r)


@pytest.mark.parametrize("n,form,r", [(32, "galois", 16), (20, "fibonacci", 13), (64, "galois", 8),
                                      (12, "galois", 5)])
def test_serial_leaps_two_chains_vs_oracle(n, form, r):
    """Fills of 2 * 128 leaps and more run as two chains of look-ups, the second from the state
    128 leaps on (the jump table); fills that start mid-leap and end in a partial run, against
    the oracle, and a copy for a second thread (the tables copied with it) goes on the same."""
    from reference import ref_lfsr_lane_draws
    from lfsr_ref import load_taps_table
    seed = 0x5A5 % (1 << n) or 1
    src = S.LFSR(n, form=form, seed=seed)
    want, _ = ref_lfsr_lane_draws(n, load_taps_table()[n][0], form, "serial", r, [seed], 0, 9000)
    got = [src.draws(7, r), src.draws(2500, r), src.draws(3493, r)]
    subs = src._substreams([0, 1000, 3000], r)          # src moves on to draw 6000 + 3000
    got += [subs[0].draws(1000, r), subs[1].draws(2000, r)]
    assert np.concatenate(got).tolist() == want
