"""rtl/lfsr.v against the plain oracle tests/lfsr_ref.py and the known-answer file.

Each configuration runs 10^4 draws through Icarus Verilog and compares every draw and every
register state word for word (text of the .mem files: this checks the section 7 format too).
"""

import os
import sys

for _p in (os.path.dirname(os.path.abspath(__file__)),
           os.path.dirname(os.path.dirname(os.path.abspath(__file__)))):
    if _p not in sys.path:   # this folder's helpers and tests/lfsr_ref.py, any import mode
        sys.path.insert(0, _p)

import csv  # noqa: E402
from collections import OrderedDict  # noqa: E402

import numpy as np
import pytest

from lfsr_ref import LFSRSource, load_taps_table, mask_from_taps, parse_taps
from rtl_sim import assert_same_words, requires_iverilog, run_tb, seed_for, vparam
from rtl_vectors import read_mem_lines, word_to_hex, write_vector_set

pytestmark = [requires_iverilog, pytest.mark.rtl]

TABLE = load_taps_table()
COUNT = 10_000

# (n, rule, r): n = 8, 16, 32, 64; several r each, r > n included for the serial rule
CASES = [
    (8, "serial", 1), (8, "serial", 3), (8, "serial", 8), (8, "serial", 13),
    (8, "state", 1), (8, "state", 5), (8, "state", 8),
    (16, "serial", 4), (16, "serial", 16), (16, "serial", 24),
    (16, "state", 7), (16, "state", 16),
    (32, "serial", 5), (32, "serial", 32),
    (32, "state", 12), (32, "state", 32),
    (64, "serial", 17), (64, "serial", 64),
    (64, "state", 9), (64, "state", 64),
]


def lfsr_source_manifest(n, taps, form, rule, r, seed):
    return {"kind": "lfsr", "n": n, "taps": list(taps), "mask": hex(mask_from_taps(taps)),
            "form": form, "rule": rule, "r": r, "lanes": 1, "seed": hex(seed)}


def run_lfsr(tmp, n, taps, form, rule, r, seed, count, draws, states=None):
    """Write the vector set (seed in, expected draws/states out), run tb_lfsr, return the
    RTL's draw and state lines together with the expected lines."""
    vec = os.path.join(tmp, "vec")
    outputs = {"draw": (draws, r, False)}
    if states is not None:
        outputs["state"] = (states, n, False)
    write_vector_set(vec, operation="lfsr", count=count,
                     source=lfsr_source_manifest(n, taps, form, rule, r, seed),
                     inputs={"seed": ([seed], n, False)}, outputs=outputs,
                     extra={"testbench": "rtl/tb_lfsr.v"})
    out = os.path.join(tmp, "out")
    params = {"N": vparam(n), "MASK": vparam(mask_from_taps(taps), n), "FORM": vparam(form),
              "R": vparam(r), "RULE": vparam(rule), "COUNT": vparam(count)}
    run_tb("tb_lfsr", params, vec, out)
    return out, vec


@pytest.mark.parametrize("form", ["galois", "fibonacci"])
@pytest.mark.parametrize("n,rule,r", CASES, ids=["n%d-%s-r%d" % c for c in CASES])
def test_rtl_lfsr_vs_ref(tmp_path, n, rule, r, form):
    taps = TABLE[n][0]
    rng = np.random.default_rng(seed_for("lfsr", n, rule, r, form))
    seed = int(rng.integers(1, (1 << n) - 1, dtype=np.uint64, endpoint=True))
    src = LFSRSource(n, taps, form, seed, rule, r)
    reg = src.lanes[0]
    draws, states = [], []
    for _ in range(COUNT):
        draws.append(src.draw())
        states.append(reg.state)
    assert len(set(draws)) > 1
    out, vec = run_lfsr(str(tmp_path), n, taps, form, rule, r, seed, COUNT, draws, states)
    assert_same_words(read_mem_lines(os.path.join(out, "draw.mem")),
                      read_mem_lines(os.path.join(vec, "draw.mem")),
                      "draws n=%d %s %s r=%d" % (n, form, rule, r), r, False)
    assert_same_words(read_mem_lines(os.path.join(out, "state.mem")),
                      read_mem_lines(os.path.join(vec, "state.mem")),
                      "states n=%d %s %s r=%d" % (n, form, rule, r), n, False)


def _kat_groups():
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "data", "lfsr_draws.csv")
    groups = OrderedDict()
    with open(path, newline="") as fh:
        for row in csv.DictReader(line for line in fh if not line.startswith("#")):
            key = (int(row["n"]), row["taps"], row["form"], row["draw"], int(row["r"]),
                   int(row["seed"], 16))
            groups.setdefault(key, []).append((int(row["i"]), int(row["R"], 16)))
    return groups


KAT = _kat_groups()


@pytest.mark.parametrize("key", list(KAT), ids=["n%d-%s-%s-r%d" % (k[0], k[2], k[3], k[4])
                                                 for k in KAT])
def test_rtl_lfsr_kat(tmp_path, key):
    """The RTL reproduces the shared known answers directly (no Python LFSR involved)."""
    n, taps, form, rule, r, seed = key
    rows = KAT[key]
    assert [i for i, _ in rows] == list(range(len(rows)))
    want = [R for _, R in rows]
    out, vec = run_lfsr(str(tmp_path), n, parse_taps(taps), form, rule, r, seed, len(want),
                        want)
    got = read_mem_lines(os.path.join(out, "draw.mem"))
    assert_same_words(got, [word_to_hex(R, r, False) for R in want], "KAT %r" % (key,), r,
                      False)
