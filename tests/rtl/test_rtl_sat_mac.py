"""rtl/sat_mac.v against the reference (rtl_ref.sat_dot) and against fxsim.dot.

Each configuration runs 10^4 dot products of length K through Icarus Verilog: the final
accumulator is compared with fxsim.dot(a, b, acc=QFormat(WA, fa + fb), overflow="saturate")
(spec section 4: exact products, saturate at every step, k ascending), and the accumulator after
every step with the reference.
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
from rtl_vectors import qformat, read_mem, read_mem_lines, write_vector_set

pytestmark = [requires_iverilog, pytest.mark.rtl]

COUNT = 10_000

# (WX, fa, WY, fb, WA, K): the fractions only matter to fxsim (the accumulator takes fa + fb)
CONFIGS = [
    (8, 4, 8, 4, 16, 8),       # acc as wide as the product: saturates often
    (8, 7, 8, 0, 20, 16),      # headroom of 4 bits over 16 terms
    (12, 3, 10, 9, 18, 4),     # acc narrower than the product
    (4, 0, 4, 2, 6, 3),
    (2, 1, 3, 0, 4, 5),
    (16, 8, 16, 12, 40, 12),
    (32, 16, 32, 30, 64, 4),   # 64-bit products and accumulator: the sum needs 65 bits
    (1, 0, 8, 3, 8, 2),        # 1-bit signed operand (values -1, 0)
]


def ids(c):
    return "a%d.%d-b%d.%d-acc%d-K%d" % c


def make_dots(rng, wx, wy, wa, k, count):
    """count dot products of length k: a mix of uniform operands, extreme operands, and runs
    that saturate one way and then come back (so the order of saturation matters)."""
    def rint(w, size):
        lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
        return rng.integers(lo, hi, size=size, endpoint=True, dtype=np.int64)

    a = rint(wx, (count, k))
    b = rint(wy, (count, k))
    xlo, xhi = -(1 << (wx - 1)), (1 << (wx - 1)) - 1
    ylo, yhi = -(1 << (wy - 1)), (1 << (wy - 1)) - 1
    n4 = count // 4
    # extremes only
    a[n4:2 * n4] = rng.choice([xlo, xhi, 0, -1 if wx > 1 else 0], size=(n4, k))
    b[n4:2 * n4] = rng.choice([ylo, yhi, 0, 1 if wy > 1 else -1], size=(n4, k))
    # saturate one way on the first half of the terms, come back on the rest
    h = max(1, k // 2)
    for j in range(2 * n4, 3 * n4):
        sgn = 1 if j % 2 else -1
        a[j, :] = xhi if xhi > 0 else xlo
        b[j, :h] = yhi if sgn > 0 else ylo
        if sgn > 0:   # products of the second half have the opposite sign
            b[j, h:] = rng.integers(ylo, 0, size=k - h, endpoint=True)
        else:
            b[j, h:] = rng.integers(0, yhi, size=k - h, endpoint=True)
    return [[int(v) for v in row] for row in a], [[int(v) for v in row] for row in b]


_RUNS = {}


def mac_run(cfg, tmp_path_factory):
    if cfg in _RUNS:
        return _RUNS[cfg]
    wx, fa, wy, fb, wa, k = cfg
    rng = np.random.default_rng(seed_for("sat_mac", cfg))
    a, b = make_dots(rng, wx, wy, wa, k, COUNT)
    ref = [rtl_ref.sat_dot(x, y, wa) for x, y in zip(a, b)]
    folder = str(tmp_path_factory.mktemp("mac_" + ids(cfg)))
    vec = os.path.join(folder, "vec")
    flat_a = [v for row in a for v in row]
    flat_b = [v for row in b for v in row]
    write_vector_set(
        vec, operation="dot", count=COUNT,
        formats={"a": qformat(wx, fa), "b": qformat(wy, fb), "prod": None,
                 "acc": qformat(wa, fa + fb), "out": qformat(wa, fa + fb)},
        modes={"rounding": "nearest_even", "overflow": "saturate"},
        source={"kind": "none"},
        inputs={"a": (flat_a, wx, True), "b": (flat_b, wy, True)},
        outputs={"y": ([t[0] for t in ref], wa, True),
                 "acc_steps": ([s for t in ref for s in t[1]], wa, True)},
        extra={"length": k, "testbench": "rtl/tb_sat_mac.v"})
    out = os.path.join(folder, "out")
    params = {"WX": vparam(wx), "WY": vparam(wy), "WA": vparam(wa), "K": vparam(k),
              "COUNT": vparam(COUNT)}
    run_tb("tb_sat_mac", params, vec, out)
    res = {"a": a, "b": b, "ref": ref, "vec": vec, "out": out}
    _RUNS[cfg] = res
    return res


@pytest.mark.parametrize("cfg", CONFIGS, ids=ids)
def test_rtl_sat_mac_vs_ref(cfg, tmp_path_factory):
    run = mac_run(cfg, tmp_path_factory)
    wa = cfg[4]
    for port in ("y", "acc_steps"):
        assert_same_words(read_mem_lines(os.path.join(run["out"], port + ".mem")),
                          read_mem_lines(os.path.join(run["vec"], port + ".mem")),
                          "%s %s" % (ids(cfg), port), wa, True)
    # saturation happened, and so did results that differ from an unsaturated sum
    amax, amin = (1 << (wa - 1)) - 1, -(1 << (wa - 1))
    steps = [s for t in run["ref"] for s in t[1]]
    exact = [sum(x * y for x, y in zip(p, q)) for p, q in zip(run["a"], run["b"])]
    wx, wy, k = cfg[0], cfg[2], cfg[5]
    if k * (1 << (wx + wy - 2)) > amax:      # saturation is possible
        assert amax in steps and amin in steps
        assert any(e != t[0] and amin < e < amax for e, t in zip(exact, run["ref"])), \
            "no dot whose in-range result depends on saturating along the way"
    else:
        assert [t[0] for t in run["ref"]] == exact


@pytest.mark.parametrize("cfg", CONFIGS, ids=ids)
def test_rtl_sat_mac_vs_fxsim(cfg, tmp_path_factory):
    fxsim = pytest.importorskip("fxsim", reason="fxsim is not importable yet "
                                "(cd /work/main && pip install -e . --no-build-isolation)")
    run = mac_run(cfg, tmp_path_factory)
    wx, fa, wy, fb, wa, k = cfg
    fmt_a, fmt_b = fxsim.QFormat(wx, fa), fxsim.QFormat(wy, fb)
    acc = fxsim.QFormat(wa, fa + fb)
    A = np.array(run["a"], dtype=fmt_a.dtype)
    B = np.array(run["b"], dtype=fmt_b.dtype)
    got = []
    # 10^4 tiny calls: one thread (with 2 threads fxsim's int32/int64 MAC-lanes path spent
    # ~24 ms per call on a K = 8 dot when this was written, against ~15 us with one)
    threads = fxsim.get_num_threads() if hasattr(fxsim, "get_num_threads") else None
    if threads is not None:
        fxsim.set_num_threads(1)
    try:
        for j in range(COUNT):
            y = fxsim.dot(fxsim.FixedArray(A[j], fmt_a), fxsim.FixedArray(B[j], fmt_b),
                          acc=acc, overflow="saturate")
            if j == 0:
                assert y.fmt == acc and y.shape == ()
            got.append(int(np.asarray(y.raw)))
    finally:
        if threads is not None:
            fxsim.set_num_threads(threads)
    y_rtl = read_mem(os.path.join(run["out"], "y.mem"), wa, True)
    assert_same_words(got, y_rtl, "%s: fxsim.dot vs RTL (dot index)" % ids(cfg))
