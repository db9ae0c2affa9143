"""Compile and run the test benches in rtl/ with Icarus Verilog (iverilog + vvp).

This subprocess harness stays next to the cocotb tests (test_cocotb.py) for what they do not
do: it runs the file benches themselves (the $readmemh flow an exported folder feeds), bulk
vector sets (3 x 10^4 cases per configuration at vvp speed, where cocotb pays a GPI call per
signal access), and its results are held against the Fraction reference rtl_ref.py.  Benches
are compiled with -DTB_DEFAULTS (parameters from -P, not from a folder's params.vh)."""

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RTL = os.path.join(ROOT, "rtl")
F32_UNITS = ["f32_cvt.v", "f32_to_bf16.v", "f32_to_e4m3.v", "f32_to_e5m2.v", "f32_to_fp8.v"]
SOURCES = {
    "tb_lfsr": ["tb_lfsr.v", "lfsr.v"],
    "tb_sr_unit": ["tb_sr_unit.v", "sr_unit.v"],
    "tb_sat_mac": ["tb_sat_mac.v", "sat_mac.v"],
    "tb_sr_lfsr": ["tb_sr_lfsr.v", "lfsr.v", "sr_unit.v"],
    "tb_vendor_prng": ["tb_vendor_prng.v", "vendor_prng.v"],
    "tb_f32_unit": ["tb_f32_unit.v", *F32_UNITS],
    "tb_f32_lfsr": ["tb_f32_lfsr.v", "f32_sr_lfsr.v", "lfsr.v", *F32_UNITS],
}

HAVE_IVERILOG = shutil.which("iverilog") is not None and shutil.which("vvp") is not None
requires_iverilog = pytest.mark.skipif(
    not HAVE_IVERILOG,
    reason="Icarus Verilog (iverilog and vvp) not found on PATH; install it with "
           ".ci/install_rtl_tools.sh (apt-get install -y iverilog)")


def vparam(value, width=None):
    """A Python value as a Verilog parameter override for iverilog -P."""
    if isinstance(value, str):
        return '"%s"' % value
    if isinstance(value, bool):
        return "1" if value else "0"
    if width is not None:
        return "%d'h%x" % (width, value)
    return str(int(value))


def run_tb(top, params, vectors, out, timeout=120):
    """Compile `top` with parameter overrides {name: verilog text}, run it on the vector
    folder `vectors`, writing outputs to `out`. Returns vvp's stdout."""
    os.makedirs(out, exist_ok=True)
    exe = os.path.join(out, top + ".vvp")
    cmd = ["iverilog", "-g2005", "-Wall", "-DTB_DEFAULTS", "-I", RTL, "-s", top, "-o", exe]
    cmd += ["-P%s.%s=%s" % (top, k, v) for k, v in params.items()]
    cmd += [os.path.join(RTL, f) for f in SOURCES[top]]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise AssertionError("iverilog failed:\n%s\n%s" % (" ".join(cmd), res.stderr))
    res = subprocess.run(["vvp", "-n", exe, "+vectors=" + vectors, "+out=" + out],
                         capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0 or "ERROR" in res.stdout or "DONE" not in res.stdout:
        raise AssertionError("vvp failed (rc %d):\n%s\n%s" % (res.returncode, res.stdout,
                                                              res.stderr))
    return res.stdout


def sim_folder(top, vec, out, params=(), sources=None, includes=(RTL,)):
    """A bench of an exported folder: iverilog with -I <includes> -I <vec> (no -DTB_DEFAULTS:
    the parameters come from the folder's params.vh; -P params only if given), then vvp.
    Returns the path of the y.mem it wrote."""
    exe = os.path.join(out, "tb.vvp")
    os.makedirs(out, exist_ok=True)
    srcs = sources or [os.path.join(RTL, f) for f in SOURCES[top]]
    cmd = ["iverilog", "-g2005", *[f"-I{i}" for i in includes], f"-I{vec}", "-s", top, "-o", exe,
           *[f"-P{top}.{k}={v}" for k, v in params], *srcs]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    res = subprocess.run(["vvp", "-n", exe, f"+vectors={vec}", f"+out={out}"], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0 and "DONE" in res.stdout and "ERROR" not in res.stdout, res.stdout
    return os.path.join(out, "y.mem")


def assert_same_words(got, want, what, wl=None, signed=True, show=5):
    """Compare two word lists (ints or hex strings) position by position; report mismatches."""
    got = list(got)
    want = list(want)
    assert len(got) == len(want), "%s: %d words, expected %d" % (what, len(got), len(want))
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    if bad:
        lines = []
        for i in bad[:show]:
            g, w = got[i], want[i]
            if isinstance(g, str) and wl is not None:
                from rtl_vectors import hex_to_word
                try:
                    g = "%s (%d)" % (g, hex_to_word(g, wl, signed))
                except ValueError:
                    pass
                w = "%s (%d)" % (w, hex_to_word(w, wl, signed))
            lines.append("  [%d] got %s, expected %s" % (i, g, w))
        raise AssertionError("%s: %d of %d words differ, first at %d:\n%s"
                             % (what, len(bad), len(want), bad[0], "\n".join(lines)))


def seed_for(*key):
    """A stable numpy seed from a configuration tuple."""
    import zlib
    return zlib.crc32(repr(key).encode())
