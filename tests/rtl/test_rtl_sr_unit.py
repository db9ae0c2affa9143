"""rtl/sr_unit.v against the exact-rational reference (rtl_ref.sr_cast) and against fxsim.cast.

Each configuration runs 3 x 10^4 cases (10^4 per mode: stochastic with sr_rule trunc,
nearest_even, floor; the modes interleaved in a random order), once through Icarus Verilog;
the results are then held against the reference and, when fxsim is importable, against
fxsim.cast(FixedArray, fmt, rounding=..., overflow="saturate", r=..., draws=...).
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
from rtl_sim import assert_same_words, requires_iverilog, run_tb, seed_for, vparam
from rtl_gen import make_draws, make_inputs
from rtl_vectors import qformat, read_mem, read_mem_lines, write_vector_set

pytestmark = [requires_iverilog, pytest.mark.rtl]

PER_MODE = 10_000
MODE_NAMES = ["stochastic", "nearest_even", "floor"]

# (WI, FI, WO, FO, r); S = FI - FO discarded bits
CONFIGS = [
    (16, 12, 7, 4, 8),      # S = r
    (16, 12, 6, 4, 3),      # S > r: D is the top 3 of 8 discarded bits
    (16, 10, 8, 4, 11),     # S < r: D = d << (r - S)
    (12, 6, 5, 2, 4),       # narrow output: saturates often
    (8, 10, 4, 1, 5),       # FI > WI and S > WI: every integer bit discarded (q is 0 or -1)
    (16, 4, 8, -2, 6),      # negative output fraction
    (24, 8, 14, 0, 1),      # r = 1
    (20, 19, 19, 18, 2),    # S = 1; q always fits, only rounding up at the top overflows
    (32, 20, 16, 4, 16),    # q always fits, only rounding up at the top overflows
    (48, 40, 12, 8, 32),
    (64, 48, 30, 16, 64),   # 64-bit input, 64-bit draws
]


def ids(c):
    return "WI%d-FI%d-WO%d-FO%d-r%d" % c


def sat_possible(cfg, mode):
    """Can some input of the configuration overflow the output in this mode?"""
    wi, fi, wo, fo, r = cfg
    s = fi - fo
    lo, hi = -(1 << (wi - 1)), (1 << (wi - 1)) - 1
    omin, omax = -(1 << (wo - 1)), (1 << (wo - 1)) - 1
    if (lo >> s) < omin or (hi >> s) > omax:
        return True
    return mode != "floor" and (hi >> s) == omax and hi % (1 << s) != 0


_RUNS = {}


def sr_run(cfg, tmp_path_factory):
    """Vectors, reference results and RTL results for one configuration (run once)."""
    if cfg in _RUNS:
        return _RUNS[cfg]
    wi, fi, wo, fo, r = cfg
    rng = np.random.default_rng(seed_for("sr_unit", cfg))
    count = 3 * PER_MODE
    modes = np.repeat(np.arange(3), PER_MODE)
    rng.shuffle(modes)
    modes = [int(m) for m in modes]
    xs = make_inputs(rng, wi, fi, wo, fo, r, count)
    perm = rng.permutation(count)
    xs = [xs[i] for i in perm]
    R = make_draws(rng, r, count)
    ref = [rtl_ref.sr_cast(x, fi, wo, fo, MODE_NAMES[m], r, d) for x, m, d in zip(xs, modes, R)]
    folder = str(tmp_path_factory.mktemp("sr_" + ids(cfg)))
    vec = os.path.join(folder, "vec")
    write_vector_set(
        vec, operation="cast", count=count,
        formats={"x": qformat(wi, fi), "y": qformat(wo, fo)},
        modes={"rounding": "per case, port mode: 0 stochastic, 1 nearest_even, 2 floor",
               "overflow": "saturate", "sr_rule": "trunc", "r": r},
        source={"kind": "draws"},
        inputs={"x": (xs, wi, True), "mode": (modes, 2, False)},
        outputs={"y": ([t[0] for t in ref], wo, True), "up": ([int(t[1]) for t in ref], 1, False),
                 "sat": ([int(t[2]) for t in ref], 1, False)},
        draws={"rnd": (R, r)}, extra={"testbench": "rtl/tb_sr_unit.v"})
    out = os.path.join(folder, "out")
    params = {"WI": vparam(wi), "FI": vparam(fi), "WO": vparam(wo), "FO": vparam(fo),
              "R": vparam(r), "COUNT": vparam(count)}
    run_tb("tb_sr_unit", params, vec, out)
    res = {"xs": xs, "modes": modes, "R": R, "ref": ref, "vec": vec, "out": out}
    _RUNS[cfg] = res
    return res


@pytest.mark.parametrize("cfg", CONFIGS, ids=ids)
def test_rtl_sr_unit_vs_ref(cfg, tmp_path_factory):
    run = sr_run(cfg, tmp_path_factory)
    wi, fi, wo, fo, r = cfg
    for port, wl, signed in (("y", wo, True), ("up", 1, False), ("sat", 1, False)):
        assert_same_words(read_mem_lines(os.path.join(run["out"], port + ".mem")),
                          read_mem_lines(os.path.join(run["vec"], port + ".mem")),
                          "%s %s" % (ids(cfg), port), wl, signed)
    # the vectors must exercise what they claim to
    ref = run["ref"]
    for m in range(3):
        sub = [t for t, mm in zip(ref, run["modes"]) if mm == m]
        assert len(sub) == PER_MODE
        if sat_possible(cfg, MODE_NAMES[m]):
            assert any(t[2] for t in sub), "no saturation exercised"
        else:
            assert not any(t[2] for t in sub)
        if m < 2:
            assert any(t[1] for t in sub) and not all(t[1] for t in sub)


@pytest.mark.parametrize("cfg", CONFIGS, ids=ids)
def test_rtl_sr_unit_vs_fxsim(cfg, tmp_path_factory):
    fxsim = pytest.importorskip("fxsim", reason="fxsim is not importable yet "
                                "(cd /work/main && pip install -e . --no-build-isolation)")
    run = sr_run(cfg, tmp_path_factory)
    wi, fi, wo, fo, r = cfg
    fin, fout = fxsim.QFormat(wi, fi), fxsim.QFormat(wo, fo)
    y_rtl = read_mem(os.path.join(run["out"], "y.mem"), wo, True)
    modes = np.array(run["modes"])
    xs = np.array(run["xs"], dtype=fin.dtype)
    R = np.array(run["R"], dtype=np.uint64)
    for m, name in enumerate(MODE_NAMES):
        idx = np.flatnonzero(modes == m)
        x = fxsim.FixedArray(xs[idx], fin)
        kw = {"r": r, "draws": R[idx]} if name == "stochastic" else {}
        y = fxsim.cast(x, fout, rounding=name, overflow="saturate", **kw)
        assert y.fmt == fout
        assert_same_words([int(v) for v in np.asarray(y.raw).ravel()],
                          [y_rtl[i] for i in idx],
                          "%s %s: fxsim vs RTL (index within the mode's cases)"
                          % (ids(cfg), name))


@pytest.mark.parametrize("cfg", CONFIGS[:4], ids=ids)
def test_rtl_sr_unit_counters_vs_fxsim(cfg, tmp_path_factory):
    """fxsim.Counters' rounded_up / overflowed totals equal the RTL's up / sat flags."""
    fxsim = pytest.importorskip("fxsim", reason="fxsim is not importable yet")
    run = sr_run(cfg, tmp_path_factory)
    wi, fi, wo, fo, r = cfg
    fin, fout = fxsim.QFormat(wi, fi), fxsim.QFormat(wo, fo)
    up = read_mem(os.path.join(run["out"], "up.mem"), 1, False)
    sat = read_mem(os.path.join(run["out"], "sat.mem"), 1, False)
    modes = np.array(run["modes"])
    xs = np.array(run["xs"], dtype=fin.dtype)
    R = np.array(run["R"], dtype=np.uint64)
    for m, name in enumerate(MODE_NAMES):
        idx = np.flatnonzero(modes == m)
        kw = {"r": r, "draws": R[idx]} if name == "stochastic" else {}
        with fxsim.Counters() as c:
            fxsim.cast(fxsim.FixedArray(xs[idx], fin), fout, rounding=name,
                       overflow="saturate", **kw)
        assert c.cast == len(idx)
        assert c.rounded_up == sum(up[i] for i in idx), name
        assert c.overflowed == sum(sat[i] for i in idx), name
        assert c.draws == (len(idx) if name == "stochastic" else 0), name
