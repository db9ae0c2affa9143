"""cocotb tests of every unit in rtl/ and of an rtl-gen top, under Icarus through cocotb's
runner (cocotb_tools.runner); the tests themselves are in cocotb_units.py.  Plus the parts of
fxsim.cocotb that need no simulator, held against the Fraction reference of tests/rtl."""
import json
import os
from fractions import Fraction
from math import floor
import subprocess
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (_HERE, os.path.dirname(_HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import pytest

import rtl_ref
from rtl_sim import RTL, requires_iverilog, vparam

from fxsim import CastMode, QFormat
from fxsim.cocotb import CastCoverage, CastModel, Scoreboard, cast_stimulus
from fxsim import rtlgen

cocotb_runner = pytest.importorskip("cocotb_tools.runner")


def run_cocotb(tmp, top, sources, testcase, cfg, parameters=None):
    """Build ``top`` from ``sources`` with Icarus and run cocotb test ``testcase`` of
    cocotb_units.py with FXSIM_COCOTB = cfg; a failing cocotb test fails the pytest test."""
    runner = cocotb_runner.get_runner("icarus")
    runner.build(sources=sources, hdl_toplevel=top, parameters=parameters or {},
                 build_dir=str(tmp / "build"), timescale=("1ns", "1ps"), always=True)
    runner.test(test_module="cocotb_units", hdl_toplevel=top, testcase=testcase,
                build_dir=str(tmp / "build"), test_dir=str(tmp / "run"),
                extra_env={"FXSIM_COCOTB": json.dumps(cfg)})


def sr_cfg(wi, fi, wo, fo, r, source, count):
    return ({"WI": wi, "FI": fi, "WO": wo, "FO": fo, "R": r, "source": source, "seed": 7,
             "count": count}, {"WI": wi, "FI": fi, "WO": wo, "FO": fo, "R": r})


def lfsr_cfg(n, form, rule, r, count):
    from fxsim import LFSR
    mask = LFSR(n=n, form=form, rule=rule, seed=1).mask
    return ({"N": n, "FORM": form, "RULE": rule, "seed": 0x1234, "count": count},
            {"N": n, "MASK": vparam(mask, n), "FORM": vparam(form), "R": r, "RULE": vparam(rule)})


def mac_cfg(wx, fa, wy, fb, wa, k, count):
    return ({"WX": wx, "FA": fa, "WY": wy, "FB": fb, "K": k, "seed": 3, "count": count},
            {"WX": wx, "WY": wy, "WA": wa})


def top_cfg(tmp, fi, fo, mode, source, count, name="sr_top"):
    """(cocotb config, the generated top's file) of an rtl-gen unit seeded from the DUT."""
    from fxsim.vectors import make_source
    mode = CastMode.of(mode)
    src = make_source(source, 5) if source else None
    top = tmp / f"{name}.v"
    top.write_text(rtlgen.top_text(name, fi, fo, mode, src))
    f, g = QFormat.parse(fi), QFormat.parse(fo)
    return ({"WI": f.wl, "FI": f.fl, "WO": g.wl, "FO": g.fl, "mode": dict(vars(mode)),
             "source": source, "seed": 5, "count": count, "lanes": src.lanes if src else 1}, str(top))


def wrapper(units) -> str:
    """A module holding every unit side by side, ports renamed <prefix>_<port> (regs for inputs)."""
    body = []
    for prefix, module, params, ports in units:
        inst = []
        for port, width, kind in ports:
            w = f"[{width - 1}:0] " if width > 1 else ""
            body.append(f"    {'reg ' if kind == 'in' else 'wire'} {w}{prefix}_{port};")
            inst.append(f".{port}({prefix}_{port})")
        ps = ", ".join(f".{k}({v})" for k, v in params.items())
        body.append(f"    {module} {'#(' + ps + ') ' if ps else ''}u_{prefix} ({', '.join(inst)});")
    return "`timescale 1ns/1ps\nmodule cocotb_all;\n" + "\n".join(body) + "\nendmodule\n"


def f32_cfg(fmt, r, overflow, count, source=None):
    """(cocotb config, f32_cvt.v's or f32_sr_lfsr.v's parameters) of a float32 unit."""
    eb, m = {"bf16": (8, 7), "e4m3": (4, 3), "e5m2": (5, 2)}[fmt]
    c = {"fmt": fmt, "R": r, "overflow": overflow, "count": count, "seed": 11}
    p = {"EB": eb, "M": m, "R": r, "SAT": int(overflow == "saturate")}
    if source:
        from fxsim.vectors import make_source
        src = make_source(source, 11)
        c["source"] = source
        p.update({"N": src.n, "MASK": vparam(src.mask, src.n), "FORM": vparam(src.form),
                  "RULE": vparam(src.rule)})
    return c, p


def f32_ports(prefix, fmt, r, lfsr=False):
    w = {"bf16": 16, "e4m3": 8, "e5m2": 8}[fmt]
    if lfsr:
        return [("clk", 1, "in"), ("load", 1, "in"), ("seed", 16, "in"), ("en", 1, "in"),
                ("x", 32, "in"), ("y", w, "out")]
    return [("x", 32, "in"), ("rnd", r, "in"), ("mode", 1, "in"), ("y", w, "out")]


F32_SOURCES = [os.path.join(RTL, f) for f in ("f32_cvt.v", "f32_to_bf16.v", "f32_to_e4m3.v",
                                              "f32_to_e5m2.v", "f32_to_fp8.v", "f32_sr_lfsr.v")]


@requires_iverilog
@pytest.mark.rtl
def test_cocotb_every_unit_in_one_simulation(tmp_path):
    """sr_unit.v (three modes, LFSR draws), lfsr.v, sat_mac.v and an rtl-gen top (SR with the
    rne rule, 3 LFSR lanes, fxsim's source started from the DUT's seeds) in one Icarus run."""
    sr, sr_p = sr_cfg(16, 12, 8, 4, 8, "lfsr:16", 600)
    lf, lf_p = lfsr_cfg(16, "galois", "serial", 8, 600)
    mac, mac_p = mac_cfg(8, 4, 8, 4, 14, 8, 100)
    top, top_v = top_cfg(tmp_path, "Q(16,12)", "Q(8,4)",
                         {"rounding": "stochastic", "r": 8, "sr_rule": "rne"},
                         "lfsr:16:galois:serial:lanes=3", 600)
    units = [("sr", "sr_unit", sr_p, [("x", 16, "in"), ("rnd", 8, "in"), ("mode", 2, "in"),
                                      ("y", 8, "out")]),
             ("lf", "lfsr", lf_p, [("clk", 1, "in"), ("load", 1, "in"), ("seed", 16, "in"),
                                   ("en", 1, "in"), ("draw", 8, "out")]),
             ("mac", "sat_mac", mac_p, [("clk", 1, "in"), ("clr", 1, "in"), ("en", 1, "in"),
                                        ("a", 8, "in"), ("b", 8, "in"), ("acc", 14, "out")]),
             ("top", "sr_top", {}, [("clk", 1, "in"), ("load", 1, "in"), ("en", 1, "in"),
                                    ("x", 3 * 16, "in"), ("y", 3 * 8, "out")])]
    floats = {"fb": f32_cfg("bf16", 16, "ieee", 300), "f4": f32_cfg("e4m3", 8, "saturate", 300),
              "f5": f32_cfg("e5m2", 23, "ieee", 300),
              "fl": f32_cfg("e4m3", 9, "saturate", 300, "lfsr:16:fibonacci:state")}
    for prefix, (c, p) in floats.items():
        units.append((prefix, "f32_sr_lfsr" if prefix == "fl" else "f32_cvt", p,
                      f32_ports(prefix, c["fmt"], c["R"], lfsr=prefix == "fl")))
    (tmp_path / "cocotb_all.v").write_text(wrapper(units))
    run_cocotb(tmp_path, "cocotb_all", [str(tmp_path / "cocotb_all.v"), os.path.join(RTL, "sr_unit.v"),
                                        os.path.join(RTL, "lfsr.v"), os.path.join(RTL, "sat_mac.v"), top_v,
                                        *F32_SOURCES],
               "all_units", {"sr_unit": sr, "lfsr": lf, "sat_mac": mac, "sr_top": top,
                             **{k: c for k, (c, _) in floats.items()}})


# bigger vector counts, one Icarus run each (slow): (unit, its configuration)
BIG = [("sr_unit", (12, 6, 5, 2, 3, "ideal:pcg64", 10_000)),
       ("sr_unit", (32, 20, 16, 4, 13, "lfsr:31:fibonacci:state", 10_000)),
       ("lfsr", (24, "fibonacci", "state", 12, 20_000)),
       ("lfsr", (31, "fibonacci", "serial", 20, 20_000)),
       ("sat_mac", (12, 3, 10, 9, 18, 16, 2000)),
       ("sr_top", ("Q(12,4)", "Q(6,1)", {"rounding": "toward_zero", "overflow": "wrap"}, None, 5000)),
       ("sr_top", ("Q(20,10)", "Q(9,3)", {"rounding": "stochastic", "r": 5, "sr_rule": "half"},
                   "lfsr:24:fibonacci:state:lanes=2", 10_000))]


BIG += [("f32_cvt", ("bf16", 11, "saturate", 3000)), ("f32_cvt", ("e4m3", 32, "ieee", 3000)),
        ("f32_cvt", ("e5m2", 4, "saturate", 3000)),
        ("f32_sr_lfsr", ("bf16", 16, "ieee", 3000, "lfsr:24:galois:serial")),
        ("f32_sr_lfsr", ("e5m2", 20, "ieee", 3000, "lfsr:32:fibonacci:state"))]


@requires_iverilog
@pytest.mark.rtl
@pytest.mark.slow
@pytest.mark.parametrize("unit,cfg", BIG, ids=lambda v: str(v))
def test_cocotb_unit_big(unit, cfg, tmp_path):
    if unit.startswith("f32"):
        c, p = f32_cfg(*cfg)
        run_cocotb(tmp_path, unit, F32_SOURCES + [os.path.join(RTL, "lfsr.v")], unit, c, p)
        return
    if unit == "sr_top":
        c, top = top_cfg(tmp_path, *cfg)
        run_cocotb(tmp_path, unit, [top], unit, c)
        return
    c, p = {"sr_unit": sr_cfg, "lfsr": lfsr_cfg, "sat_mac": mac_cfg}[unit](*cfg)
    run_cocotb(tmp_path, unit, [os.path.join(RTL, unit + ".v")], unit, c, p)


# ---------------------------------------------------------------- without a simulator
def test_cast_model_and_coverage_against_the_fraction_reference():
    """CastModel's words are the Fraction reference's (rtl_ref.sr_cast), the coverage bins are
    counted from the definitions, every bin is reached by cast_stimulus."""
    from fxsim import Ideal
    fi, fo, r = QFormat(12, 6), QFormat(5, 2), 4
    x = cast_stimulus(fi, fo, 3000, seed=2)
    for rounding in ("stochastic", "nearest_even", "floor"):
        sto = rounding == "stochastic"
        m = CastModel(fi, fo, CastMode(rounding, r=r if sto else None),
                      Ideal("pcg64", seed=4) if sto else None)
        y = m.expected(x)
        want = [rtl_ref.sr_cast(v, fi.fl, fo.wl, fo.fl, rounding, r, int(m.draws[i]) if sto else 0)
                for i, v in enumerate(x)]
        assert y == [w[0] for w in want]
        cov = CastCoverage(fi, fo)
        for v, yy in zip(x, y):
            cov.sample(v, yy)
        exact = [Fraction(v, 1 << (fi.fl - fo.fl)) for v in x]     # x in output LSBs
        assert cov.bins["rounded_up"] == sum(t.denominator > 1 and fo.min_raw <= floor(t) < fo.max_raw
                                             and yy == floor(t) + 1 for t, yy in zip(exact, y))
        assert cov.bins["sat_max"] == sum(t > fo.max_raw and yy == fo.max_raw for t, yy in zip(exact, y))
        assert cov.bins["sat_min"] == sum(t < fo.min_raw and yy == fo.min_raw for t, yy in zip(exact, y))
        if rounding != "floor":
            assert not cov.missing(), cov.report()
        else:
            assert cov.missing() == ["rounded_up"]
    s = 4
    assert cov.bins["tie"] == sum(1 for v in x if v % (1 << s) == 1 << (s - 1))
    assert cov.bins["phi0"] == sum(1 for v in x if v % (1 << s) == 0)


def test_scoreboard_names_the_first_mismatch():
    sb = Scoreboard("y", QFormat(6, 2))
    assert sb.compare(0, 0b111111, -1, {"x": 3})            # unsigned bits of -1
    assert sb.compare(1, "000101", 5)
    assert not sb.compare(2, "0001x1", 5, {"x": 9})
    assert not sb.compare(3, 4, 5, {"x": 10, "rnd": 2})
    rep = sb.report()
    assert rep.startswith("y: 2 of 4 words differ; first at index 2 (x=9): expected 5 (000101), "
                          "got undefined (0001x1)")
    assert "index 3 (x=10, rnd=2): expected 5 (000101), got 4 (000100)" in rep
    with pytest.raises(AssertionError, match="first at index 2"):
        sb.check()


def test_fxsim_cocotb_imports_without_cocotb():
    code = ("import sys; sys.modules['cocotb'] = None; sys.modules['cocotb_tools'] = None\n"
            "import fxsim.cocotb as c; print(c.CastModel.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "CastModel", out.stderr
