"""An SR cast unit fed by its own LFSR (rtl/tb_sr_lfsr.v: lfsr.v -> sr_unit.v).

Case i consumes LFSR draw i, as a stochastic fxsim.cast consumes one draw per element in C
order. The RTL's draws are held against tests/lfsr_ref.py, its results against the
exact-rational reference and against fxsim.cast(..., rounding="stochastic", draws=<the
oracle's draws>). 10^4 cases per configuration.
"""

import os
import sys

for _p in (os.path.dirname(os.path.abspath(__file__)),
           os.path.dirname(os.path.dirname(os.path.abspath(__file__)))):
    if _p not in sys.path:   # this folder's helpers and tests/lfsr_ref.py, any import mode
        sys.path.insert(0, _p)

import numpy as np
import pytest

import rtl_ref
from lfsr_ref import LFSRSource, load_taps_table, mask_from_taps
from rtl_sim import assert_same_words, requires_iverilog, run_tb, seed_for, vparam
from rtl_vectors import qformat, read_mem, read_mem_lines, write_vector_set
from rtl_gen import make_inputs

pytestmark = [requires_iverilog, pytest.mark.rtl]

TABLE = load_taps_table()
COUNT = 10_000

# (n, form, rule, r, WI, FI, WO, FO)
CONFIGS = [
    (16, "galois", "serial", 8, 16, 12, 7, 4),
    (8, "fibonacci", "serial", 11, 16, 10, 8, 4),
    (32, "fibonacci", "state", 12, 24, 16, 10, 2),
    (24, "galois", "state", 5, 12, 6, 5, 2),
    (64, "galois", "serial", 64, 64, 48, 30, 16),
    (64, "fibonacci", "state", 40, 48, 40, 12, 8),
]


def ids(c):
    return "n%d-%s-%s-r%d-WI%d-FI%d-WO%d-FO%d" % c


_RUNS = {}


def run(cfg, tmp_path_factory):
    if cfg in _RUNS:
        return _RUNS[cfg]
    n, form, rule, r, wi, fi, wo, fo = cfg
    taps = TABLE[n][0]
    rng = np.random.default_rng(seed_for("sr_lfsr", cfg))
    seed = int(rng.integers(1, (1 << n) - 1, dtype=np.uint64, endpoint=True))
    xs = make_inputs(rng, wi, fi, wo, fo, r, COUNT)
    xs = [xs[i] for i in rng.permutation(COUNT)]
    draws = LFSRSource(n, taps, form, seed, rule, r).draws(COUNT)
    ref = [rtl_ref.sr_cast(x, fi, wo, fo, "stochastic", r, d) for x, d in zip(xs, draws)]
    folder = str(tmp_path_factory.mktemp("srl_" + ids(cfg)))
    vec = os.path.join(folder, "vec")
    write_vector_set(
        vec, operation="cast", count=COUNT,
        formats={"x": qformat(wi, fi), "y": qformat(wo, fo)},
        modes={"rounding": "stochastic", "overflow": "saturate", "sr_rule": "trunc", "r": r},
        source={"kind": "lfsr", "n": n, "taps": list(taps), "mask": hex(mask_from_taps(taps)),
                "form": form, "rule": rule, "r": r, "lanes": 1, "seed": hex(seed)},
        inputs={"x": (xs, wi, True), "seed": ([seed], n, False)},
        outputs={"y": ([t[0] for t in ref], wo, True)},
        draws={"draw": (draws, r)}, extra={"testbench": "rtl/tb_sr_lfsr.v"})
    out = os.path.join(folder, "out")
    params = {"N": vparam(n), "MASK": vparam(mask_from_taps(taps), n), "FORM": vparam(form),
              "RULE": vparam(rule), "WI": vparam(wi), "FI": vparam(fi), "WO": vparam(wo),
              "FO": vparam(fo), "R": vparam(r), "COUNT": vparam(COUNT)}
    run_tb("tb_sr_lfsr", params, vec, out)
    res = {"xs": xs, "draws": draws, "vec": vec, "out": out}
    _RUNS[cfg] = res
    return res


@pytest.mark.parametrize("cfg", CONFIGS, ids=ids)
def test_rtl_sr_lfsr_vs_ref(cfg, tmp_path_factory):
    res = run(cfg, tmp_path_factory)
    r, wo = cfg[3], cfg[6]
    assert_same_words(read_mem_lines(os.path.join(res["out"], "draw.mem")),
                      read_mem_lines(os.path.join(res["vec"], "draw.mem")),
                      "%s draws" % ids(cfg), r, False)
    assert_same_words(read_mem_lines(os.path.join(res["out"], "y.mem")),
                      read_mem_lines(os.path.join(res["vec"], "y.mem")),
                      "%s y" % ids(cfg), wo, True)


@pytest.mark.parametrize("cfg", CONFIGS, ids=ids)
def test_rtl_sr_lfsr_vs_fxsim(cfg, tmp_path_factory):
    fxsim = pytest.importorskip("fxsim", reason="fxsim is not importable yet "
                                "(cd /work/main && pip install -e . --no-build-isolation)")
    res = run(cfg, tmp_path_factory)
    n, form, rule, r, wi, fi, wo, fo = cfg
    fin, fout = fxsim.QFormat(wi, fi), fxsim.QFormat(wo, fo)
    x = fxsim.FixedArray(np.array(res["xs"], dtype=fin.dtype), fin)
    y = fxsim.cast(x, fout, rounding="stochastic", overflow="saturate", r=r,
                   draws=np.array(res["draws"], dtype=np.uint64))
    y_rtl = read_mem(os.path.join(res["out"], "y.mem"), wo, True)
    assert_same_words([int(v) for v in np.asarray(y.raw).ravel()], y_rtl,
                      "%s: fxsim vs RTL" % ids(cfg))
