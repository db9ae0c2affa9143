"""rtl/vendor_prng.v (AMD V_PRNG_B32, Tenstorrent's 32-lane SFPU PRNG) under Icarus Verilog
against fxsim's sources word for word: the lanes are loaded with the source's lane states and
every draw of 2000 clocks is compared (the Tenstorrent unit: 32 lanes, 64,000 draws)."""
import os
import sys

for _p in (os.path.dirname(os.path.abspath(__file__)),
           os.path.dirname(os.path.dirname(os.path.abspath(__file__)))):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import pytest  # noqa: E402

from rtl_sim import assert_same_words, requires_iverilog, run_tb, vparam  # noqa: E402

import fxsim  # noqa: E402
from fxsim.vendor_sources import VendorSource  # noqa: E402

pytestmark = [requires_iverilog, pytest.mark.rtl]
CLOCKS = 2000


@pytest.mark.parametrize("preset, lanes, r", [("amd:prng_b32", 1, 32), ("amd:prng_b32", 4, 16),
                                              ("tenstorrent:sfpu", 32, 23)])
def test_rtl_equals_fxsim(tmp_path, preset, lanes, r):
    src = VendorSource(preset, seed=0xC0FFEE, lanes=lanes if preset.startswith("amd") else None)
    vec = tmp_path / "vec"
    vec.mkdir()
    (vec / "seeds.mem").write_text("".join(f"{s[0]:08x}\n" for s in src.lane_states))
    want = src.draws(CLOCKS * lanes, r).tolist()
    run_tb("tb_vendor_prng", {"PRESET": vparam("amd" if preset.startswith("amd") else "tenstorrent"),
                              "R": vparam(r), "LANES": vparam(lanes), "COUNT": vparam(CLOCKS)},
           str(vec), str(tmp_path / "out"))
    got = [int(w, 16) for w in (tmp_path / "out" / "draws.mem").read_text().split()]
    assert_same_words(got, want, f"{preset} draws")


def test_rtl_seeded_from_make_source(tmp_path):
    """make_source's seeding (lane states) is what the RTL is loaded with: the first draws of a
    spec-built source equal the RTL's."""
    src = fxsim.make_source("amd:prng_b32", seed=12345)
    vec = tmp_path / "vec"
    vec.mkdir()
    (vec / "seeds.mem").write_text(f"{src.lane_states[0][0]:08x}\n")
    run_tb("tb_vendor_prng", {"PRESET": vparam("amd"), "R": vparam(8), "LANES": vparam(1),
                              "COUNT": vparam(100)}, str(vec), str(tmp_path / "out"))
    got = [int(w, 16) for w in (tmp_path / "out" / "draws.mem").read_text().split()]
    assert got == src.draws(100, 8).tolist()
