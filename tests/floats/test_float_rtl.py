"""rtl/f32_to_bf16.v, f32_to_e4m3.v and f32_to_e5m2.v co-simulated with Icarus Verilog against
fxsim.cast word for word (issue 16, point 6): 3 x 10^4 float32 codes per configuration (random bit patterns, so NaN,
±inf, subnormals and the overflow boundary all occur, plus those codes by name), half
nearest_even, half stochastic with r-bit draws."""
import os
import shutil
import subprocess

import numpy as np
import pytest

import fxsim
from fxsim import FloatFormat

RTL = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "rtl")
pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None or shutil.which("vvp") is None,
                                reason="Icarus Verilog (iverilog, vvp) not on PATH")
N = 30000
UNITS = ("f32_cvt", "f32_to_bf16", "f32_to_fp8", "f32_to_e4m3", "f32_to_e5m2")


def run(tmp, R, x, rnd, mode, unit="f32_to_bf16", params=()):
    """rtl/tb_f32_unit.v compiled with -DTB_DEFAULTS for ``unit`` (bf16, e4m3, e5m2 through
    f32_cvt.v), fed x.mem, rnd.mem and mode.mem; the codes it wrote."""
    for name, words, digits in (("x", x, 8), ("rnd", rnd, 8), ("mode", mode, 1)):
        with open(os.path.join(tmp, name + ".mem"), "w") as fh:
            fh.write("".join(f"{int(w):0{digits}x}\n" for w in words))
    exe = os.path.join(tmp, "tb.vvp")
    tb = "tb_f32_unit"
    eb, m = {"f32_to_bf16": (8, 7), "f32_to_e4m3": (4, 3), "f32_to_e5m2": (5, 2)}[unit]
    params = (("EB", eb), ("M", m), ("R", R), ("COUNT", len(x)), *params)
    subprocess.run(["iverilog", "-g2005", "-Wall", "-DTB_DEFAULTS", "-I", RTL, "-s", tb, "-o", exe,
                    *(f"-P{tb}.{k}={v}" for k, v in params), os.path.join(RTL, tb + ".v"),
                    *(os.path.join(RTL, u + ".v") for u in UNITS)],
                   check=True, capture_output=True, timeout=120)
    res = subprocess.run(["vvp", "-n", exe, f"+vectors={tmp}", f"+out={tmp}"],
                         capture_output=True, text=True, timeout=300)
    assert "DONE" in res.stdout and "ERROR" not in res.stdout, res.stdout + res.stderr
    with open(os.path.join(tmp, "y.mem")) as fh:
        return np.array([int(line, 16) for line in fh.read().split()], dtype=np.uint64)


@pytest.mark.parametrize("R", [16, 7, 1])
def test_f32_to_bf16_unit(tmp_path, R):
    rng = np.random.default_rng(R)
    special = np.array([0x7F7F7FFF, 0x7F7F8000, 0x7F7F8001, 0x7F800000, 0xFF800000, 0x7FC00000,
                        0x7F800001, 0x00008000, 0x00018000, 0x807FFFFF, 0x0, 0x80000000],
                       dtype=np.uint32)
    x = np.concatenate([special, rng.integers(0, 2**32, N - special.size, dtype=np.uint64)
                        .astype(np.uint32)])
    rnd = rng.integers(0, 2**R, N, dtype=np.uint64)
    mode = np.arange(N) % 2
    got = run(str(tmp_path), R, x, rnd, mode)
    f = FloatFormat.parse("bf16")
    xf = x.view(np.float32)
    want = np.empty(N, np.uint16)
    want[mode == 0] = fxsim.cast(xf[mode == 0], f, "nearest_even", "ieee").raw
    want[mode == 1] = fxsim.cast(xf[mode == 1], f, "stochastic", "ieee", r=R,
                                 draws=rnd[mode == 1]).raw
    bad = np.nonzero(got != want)[0]
    assert bad.size == 0, [(hex(x[i]), int(mode[i]), hex(got[i]), hex(want[i])) for i in bad[:5]]


def fp8_words(tmp, unit, fmt, R, sat, seed, exps, special, n=N):
    """The codes the RTL unit wrote (checked against fxsim's) for n float32 codes: ``special``,
    n/2 values of random exponents in ``exps`` (near the format's range: subnormals, ties,
    the overflow boundary) and random bit patterns; even cases nearest_even, odd stochastic
    with R-bit draws; overflow 'ieee' or 'saturate' (sat)."""
    rng = np.random.default_rng(seed)
    near = (rng.standard_normal(n // 2) * 2.0 ** rng.integers(*exps, n // 2)).astype(np.float32)
    special = np.array(special, dtype=np.float32)
    x = np.concatenate([special.view(np.uint32), near.view(np.uint32),
                        rng.integers(0, 2**32, n - n // 2 - special.size, dtype=np.uint64)
                        .astype(np.uint32)])
    rnd = rng.integers(0, 2**R, n, dtype=np.uint64)
    mode = np.arange(n) % 2
    got = run(tmp, R, x, rnd, mode, unit, (("SAT", sat),))
    f = FloatFormat.parse(fmt)
    ovf = "saturate" if sat else "ieee"
    xf = x.view(np.float32)
    want = np.empty(n, np.uint64)
    want[mode == 0] = fxsim.cast(xf[mode == 0], f, "nearest_even", ovf).raw
    want[mode == 1] = fxsim.cast(xf[mode == 1], f, "stochastic", ovf, r=R, draws=rnd[mode == 1]).raw
    bad = np.nonzero(got != want)[0]
    assert bad.size == 0, [(hex(x[i]), int(mode[i]), hex(got[i]), hex(want[i])) for i in bad[:5]]
    return got


@pytest.mark.parametrize("R,sat", [(8, 0), (3, 1), (16, 0)])
def test_f32_to_e4m3_unit(tmp_path, R, sat):
    """rtl/f32_to_e4m3.v: random float32 codes (half of them near e4m3's range, so that its
    subnormals, ties and overflow boundary are hit), overflow 'ieee' (NaN) or 'saturate'."""
    fp8_words(str(tmp_path), "f32_to_e4m3", "e4m3", R, sat, 100 + R, (-12, 10),
              [448, 464, 464.00003, 480, 1e6, 2**-10, 3 * 2**-11, 2**-9, 1e-45, 0.0, np.inf,
               -np.inf, np.nan])


@pytest.mark.parametrize("R,sat", [(8, 0), (2, 1), (16, 1), (23, 0), (32, 0)])
def test_f32_to_e5m2_unit(tmp_path, R, sat):
    """rtl/f32_to_e5m2.v: 12,000 float32 codes per configuration (its subnormals down to 2^-16, ties, the
    overflow boundary at 57344 and 61440, inf, NaN); overflow 'ieee' (inf) or 'saturate'."""
    got = fp8_words(str(tmp_path), "f32_to_e5m2", "e5m2", R, sat, 500 + R, (-20, 17),
                    [57344, 61440, 61439.996, 61440.004, 65504, 1e9, 2**-16, 2**-17, 3 * 2**-18,
                     2**-17 * 1.0000001, 2**-14, 1.125, 1.375, 1e-45, 0.0, -0.0, np.inf, -np.inf,
                     np.nan, -np.nan], n=12_000)
    codes = set((got & 0x7F).tolist())           # every rail and the smallest codes occur
    assert {0x7B, 0x7E, 0, 1, 2, 3} <= codes
    assert (0x7C in codes) == (not sat)          # inf only under 'ieee'
