"""Checks of the plain LFSR oracle tests/lfsr_ref.py (docs/datapath.md section 5.1).

The oracle is held against (1) the known-answer file tests/data/lfsr_draws.csv (a copy of the
shared KAT), (2) the independent `galois` package, (3) period and shift-equivalence facts that
follow from primitive feedback polynomials, and (4) a few values worked out by hand.

Mapping of our registers onto the `galois` package (v0.4; worked out from galois/_lfsr.py and
checked bit for bit below, outputs and states):

* Polynomial. For XAPP052 taps T (exponents, first = n) both of our forms implement the
  recurrence y[t] = XOR_{i in T} y[t-i]. In galois's terms that is the *feedback* (connection)
  polynomial  f(x) = 1 + sum_{t in T} x^t  (degree n, f(0) = 1), which is what both
  `galois.GLFSR(feedback_poly, state)` and `galois.FLFSR(feedback_poly, state)` take; the
  characteristic polynomial is its reciprocal  c(x) = x^n f(1/x) = x^n + sum_{t in T} x^(n-t)
  (`lfsr.characteristic_poly`). E.g. n = 8, T = 8 6 5 4: f = x^8+x^6+x^5+x^4+1,
  c = x^8+x^4+x^3+x^2+1 (passing c, the usual "primitive polynomial" x^8+x^4+x^3+x^2+1, as
  the feedback polynomial gives the time-reversed sequence). Our M = sum 2^(t-1) has bit k set
  iff the coefficient of x^(k+1) in f is 1.
* Tap vectors. `GLFSR(f).taps` is M's bits MSB first ([M_{n-1}, ..., M_0]); `FLFSR(f).taps`
  is M's bits LSB first ([M_0, ..., M_{n-1}]); i.e. each in the same order as the state below.
  Build from the feedback polynomial: in galois 0.4.11 `GLFSR.Taps(GLFSR(f).taps)` does not
  round-trip (it yields feedback x^5+x^4+x^3+x+1 for the n = 8 example), `FLFSR.Taps` does.
* State ordering. galois stores S = [S_0, ..., S_{n-1}] and always outputs S_{n-1}.
  - galois form (ours shifts right, outputs bit 0): S_j = bit (n-1-j) of s, i.e. S is our
    state written MSB first (S_0 = bit n-1, S_{n-1} = bit 0).
  - fibonacci form (ours shifts left, outputs bit n-1): S_j = bit j of s, i.e. S is our state
    written LSB first (S_0 = bit 0, S_{n-1} = bit n-1).
  With those states, galois's step() returns our output bits one for one, and its state after
  k steps maps back to our state after k steps.
"""

import csv
import os
from collections import OrderedDict

import numpy as np
import galois
import pytest


import lfsr_ref  # noqa: E402
from lfsr_ref import (LFSRSource, Register, bits, load_taps_table, mask_from_taps,  # noqa: E402
                      parse_taps)

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KAT = os.path.join(HERE, "data", "lfsr_draws.csv")
TABLE = load_taps_table()


def _kat_groups():
    groups = OrderedDict()
    with open(KAT, newline="") as fh:
        for row in csv.DictReader(line for line in fh if not line.startswith("#")):
            key = (int(row["n"]), row["taps"], row["form"], row["draw"], int(row["r"]),
                   int(row["seed"], 16))
            groups.setdefault(key, []).append((int(row["i"]), int(row["R"], 16)))
    return groups


KAT_GROUPS = _kat_groups()


def test_kat_file_shape():
    assert sum(len(v) for v in KAT_GROUPS.values()) == 1800
    assert len(KAT_GROUPS) == 6
    forms = {k[2] for k in KAT_GROUPS}
    rules = {k[3] for k in KAT_GROUPS}
    assert forms == {"galois", "fibonacci"} and rules == {"serial", "state"}


@pytest.mark.parametrize("key", list(KAT_GROUPS), ids=lambda k: "n%d-%s-%s-r%d" % (k[0], k[2], k[3], k[4]))
def test_kat(key):
    n, taps, form, rule, r, seed = key
    rows = KAT_GROUPS[key]
    src = LFSRSource(n, parse_taps(taps), form, seed, rule, r)
    for i, expected in rows:
        assert src.count == i, "KAT rows must be consecutive draw indices"
        got = src.draw()
        assert got == expected, f"draw {i}: got {got:#x}, KAT {expected:#x}"


# --- hand-worked values ----------------------------------------------------------------------

def test_hand_galois_n4():
    # taps 4 3 -> M = 0b1100. s = 0b0001: b = 1, s = 0 ^ 0b1100 = 0b1100.
    # s = 0b1100: b = 0, s = 0b0110.  s = 0b0110: b = 0, s = 0b0011.
    # s = 0b0011: b = 1, s = 0b0001 ^ 0b1100 = 0b1101.
    reg = Register(4, 0b1100, "galois", 0b0001)
    out = [reg.step() for _ in range(4)]
    assert out == [1, 0, 0, 1]
    assert reg.state == 0b1101


def test_hand_fibonacci_n4():
    # taps 4 3 -> M = 0b1100. s = 0b1000: b = 1, f = parity(0b1000) = 1, s = 0b0001.
    # s = 0b0001: b = 0, f = 0, s = 0b0010.  s = 0b0010: b = 0, f = 0, s = 0b0100.
    # s = 0b0100: b = 0, f = 1, s = 0b1001.
    reg = Register(4, 0b1100, "fibonacci", 0b1000)
    out = [reg.step() for _ in range(4)]
    assert out == [1, 0, 0, 0]
    assert reg.state == 0b1001


def test_hand_draw_rules():
    # serial: the first output bit is the most significant: bits 1,0,0,1 -> 0b1001
    src = LFSRSource(4, (4, 3), "galois", 0b0001, "serial", 4)
    assert src.draw() == 0b1001
    # state: step once, low r bits of the new state: 0b1100 -> low 3 bits 0b100
    src = LFSRSource(4, (4, 3), "galois", 0b0001, "state", 3)
    assert src.draw() == 0b100
    assert src.draw() == 0b110


def test_mask_matches_table():
    for n, (taps, mask) in TABLE.items():
        assert mask_from_taps(taps) == mask, n
        assert taps[0] == n


# --- period and shift equivalence ---------------------------------------------------------------

SMALL = [n for n in sorted(TABLE) if n <= 16]


@pytest.mark.parametrize("form", lfsr_ref.FORMS)
@pytest.mark.parametrize("n", SMALL)
def test_period(n, form):
    taps, mask = TABLE[n]
    seed = 1
    reg = Register(n, mask, form, seed)
    period = 0
    while True:
        reg.step()
        period += 1
        if reg.state == seed:
            break
        assert period < (1 << n), "state did not come back: not maximal"
    assert period == (1 << n) - 1


@pytest.mark.parametrize("n", SMALL)
def test_galois_fibonacci_same_sequence_up_to_shift(n):
    taps, mask = TABLE[n]
    p = (1 << n) - 1
    g = "".join(map(str, bits(n, mask, "galois", 1, p)))
    f = "".join(map(str, bits(n, mask, "fibonacci", 1, p)))
    assert g.count("1") == 1 << (n - 1)  # balance of an m-sequence
    shift = (g + g).find(f)
    assert shift >= 0, "fibonacci output is not a rotation of the galois output"
    # and the two are not equal to a *different* sequence by accident: the reverse is not
    # a rotation unless the polynomial is self-reciprocal
    rev = g[::-1]
    self_reciprocal = set(taps[1:]) == {n - t for t in taps[1:]}
    if not self_reciprocal and n > 2:
        assert (g + g).find(rev) < 0


# --- cross-check with the galois package -------------------------------------------------------

def _galois_lfsr(form, n, taps, seed):
    GF = galois.GF(2)
    coeffs = [0] * (n + 1)  # degree-descending coefficients of f(x) = 1 + sum x^t
    for t in taps:
        coeffs[n - t] = 1
    coeffs[n] = 1
    f = galois.Poly(coeffs, field=GF)
    if form == "galois":
        state = [(seed >> (n - 1 - j)) & 1 for j in range(n)]  # MSB first
        return galois.GLFSR(f, state=state), f
    state = [(seed >> j) & 1 for j in range(n)]  # LSB first
    return galois.FLFSR(f, state=state), f


def _steps(glfsr, k):
    """k output bits of a galois-package LFSR as ints (step(1) returns a 0-d array)."""
    return [int(b) for b in np.atleast_1d(glfsr.step(k))]


def _state_from_galois(form, n, S):
    S = [int(v) for v in S]
    if form == "galois":
        return sum(S[j] << (n - 1 - j) for j in range(n))
    return sum(S[j] << j for j in range(n))


GALOIS_NS = [2, 3, 4, 5, 7, 8, 12, 13, 16, 19, 24, 32, 33, 37, 48, 63, 64, 100, 168]


@pytest.mark.parametrize("form", lfsr_ref.FORMS)
@pytest.mark.parametrize("n", GALOIS_NS)
def test_matches_galois_package(n, form):
    taps, mask = TABLE[n]
    seed = (0x9E3779B97F4A7C15F39CC0605CEDC834 * (n + 7)) % ((1 << n) - 1) + 1
    glfsr, f = _galois_lfsr(form, n, taps, seed)
    # characteristic polynomial is the reciprocal of f
    rev = [0] * (n + 1)
    rev[0] = 1
    for t in taps:
        rev[t] = 1
    assert [int(c) for c in glfsr.characteristic_poly.coeffs] == rev
    # tap vectors: our mask in the state's bit order (MSB first for galois, LSB first for fib.)
    order = range(n - 1, -1, -1) if form == "galois" else range(n)
    assert [int(t) for t in glfsr.taps] == [(mask >> k) & 1 for k in order]
    reg = Register(n, mask, form, seed)
    for chunk in (1, 5, 64, 3 * n + 1):
        theirs = _steps(glfsr, chunk)
        ours = [reg.step() for _ in range(chunk)]
        assert ours == theirs
        assert _state_from_galois(form, n, glfsr.state) == reg.state


@pytest.mark.parametrize("n", [8, 16, 24, 32])
def test_table_polys_primitive(n):
    taps, _ = TABLE[n]
    _, f = _galois_lfsr("galois", n, taps, 1)
    assert f.is_primitive() and f.reverse().is_primitive()


@pytest.mark.parametrize("form", lfsr_ref.FORMS)
@pytest.mark.parametrize("rule,r", [("serial", 1), ("serial", 7), ("serial", 16), ("serial", 40),
                                    ("state", 1), ("state", 5), ("state", 16)])
def test_draws_match_galois_package(form, rule, r):
    n = 16
    taps, mask = TABLE[n]
    seed = 0xACE1
    glfsr, _ = _galois_lfsr(form, n, taps, seed)
    src = LFSRSource(n, taps, form, seed, rule, r)
    for i in range(200):
        if rule == "serial":
            want = 0
            for b in _steps(glfsr, r):
                want = (want << 1) | int(b)
        else:
            glfsr.step(1)
            want = _state_from_galois(form, n, glfsr.state) & ((1 << r) - 1)
        assert src.draw() == want, i


@pytest.mark.parametrize("form", lfsr_ref.FORMS)
@pytest.mark.parametrize("lanes", [1, 2, 3, 5])
def test_lanes(form, lanes):
    # lane l starts at the seed advanced by l * ((2^n - 1) // L) steps; galois advances them here
    n, r, seed, rule = 12, 5, 0x5A5, "serial"
    taps, mask = TABLE[n]
    stride = ((1 << n) - 1) // lanes
    lane_seeds = []
    for lane in range(lanes):
        g, _ = _galois_lfsr(form, n, taps, seed)
        if lane:
            g.step(lane * stride)
        lane_seeds.append(_state_from_galois(form, n, g.state))
    src = LFSRSource(n, taps, form, seed, rule, r, lanes=lanes)
    assert [reg.state for reg in src.lanes] == lane_seeds
    # draw e comes from lane e mod L: compare with one galois register per lane
    gl = [_galois_lfsr(form, n, taps, s)[0] for s in lane_seeds]
    for e in range(100):
        want = 0
        for b in _steps(gl[e % lanes], r):
            want = (want << 1) | int(b)
        assert src.draw() == want, e
    # explicit lane seeds are used as given
    src2 = LFSRSource(n, taps, form, seed, rule, r, lanes=2, lane_seeds=[3, 9])
    assert [reg.state for reg in src2.lanes] == [3, 9]


# --- tests/data/lfsr_kat_ref.csv (made by the oracle, with lanes) against galois ------------

def _kat_ref_groups():
    groups = OrderedDict()
    with open(os.path.join(HERE, "data", "lfsr_kat_ref.csv"), newline="") as fh:
        for row in csv.DictReader(line for line in fh if not line.startswith("#")):
            key = (int(row["n"]), row["taps"], row["form"], row["draw"], int(row["r"]),
                   int(row["seed"], 16), int(row["lanes"]))
            groups.setdefault(key, []).append((int(row["i"]), int(row["R"], 16)))
    return groups


KAT_REF = _kat_ref_groups()


@pytest.mark.parametrize("key", list(KAT_REF),
                         ids=["n%d-%s-%s-r%d-L%d" % (k[0], k[2], k[3], k[4], k[6]) for k in KAT_REF])
def test_kat_ref_vs_galois(key):
    """Every row of lfsr_kat_ref.csv, recomputed with the galois package (lanes advanced by
    galois's own stepping), and by the oracle."""
    n, taps, form, rule, r, seed, lanes = key
    taps = parse_taps(taps)
    rows = KAT_REF[key]
    assert [i for i, _ in rows] == list(range(len(rows)))
    stride = ((1 << n) - 1) // lanes
    regs = []
    for lane in range(lanes):
        g, _ = _galois_lfsr(form, n, taps, seed)
        if lane:
            g.step(lane * stride)
        regs.append(g)
    src = LFSRSource(n, taps, form, seed, rule, r, lanes=lanes)
    for i, want in rows:
        g = regs[i % lanes]
        if rule == "serial":
            got = 0
            for b in _steps(g, r):
                got = (got << 1) | b
        else:
            g.step(1)
            got = _state_from_galois(form, n, g.state) & ((1 << r) - 1)
        assert got == want, f"galois, draw {i}"
        assert src.draw() == want, f"oracle, draw {i}"
