"""The RTL engineer's flow (issue 21): export -> iverilog (no -P) -> vvp ->
check-vectors; a bench compiled for other parameters is named; rtl-gen tops co-simulate word
for word against fxsim over a grid of configurations; untrusted bench sections are refused.

The expected words come from fxsim's export, which tests/rtl/test_vectors.py holds against the
Fraction reference; here the RTL (Icarus) is the other side, and the echo check is held against
the parameters read back from the header text itself."""
import json
import os
import re
import shutil
import subprocess
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (_HERE, os.path.dirname(_HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import pytest

import rtl_ref
from rtl_sim import RTL, SOURCES, requires_iverilog, sim_folder as sim
from rtl_vectors import read_vector_set

from fxsim import CastMode
from fxsim.cli import main
from fxsim.vectors import check_outputs, export_vectors, read_vectors
from fxsim import rtlgen

def header_defines(path):
    """The `define lines of params.vh, read as text (independent of fxsim's writer)."""
    out = {}
    for line in open(path):
        m = re.match(r"`define FXSIM_(\w+) (.*)$", line.strip())
        if m:
            v = m.group(2)
            out[m.group(1)] = (v.strip('"') if v.startswith('"') else
                               int(v.split("'h")[1], 16) if "'h" in v else int(v))
    return out


def test_bench_export_writes_header_and_mode(tmp_path):
    d = str(tmp_path / "vec")
    m = export_vectors(d, "cast", in_fmt="Q(12,6)", fmt="Q(5,2)", rounding="stochastic", r=5,
                       source="lfsr:20:fibonacci:state", source_seed=99, count=50, bench=True)
    assert sorted(os.listdir(d)) == ["manifest.json", "mode.mem", "params.vh", "rnd.mem",
                                     "seed.mem", "x.mem", "y.mem"]
    h = header_defines(os.path.join(d, "params.vh"))
    man, data = read_vector_set(d)
    assert h == man["bench"]["params"]
    assert (h["X_WL"], h["X_FL"], h["Y_WL"], h["Y_FL"], h["R"], h["COUNT"]) == (12, 6, 5, 2, 5, 50)
    assert (h["LFSR_N"], h["LFSR_FORM"], h["LFSR_RULE"], h["LFSR_SEED"]) == (20, "fibonacci", "state", 99)
    assert h["LFSR_MASK"] == sum(1 << (t - 1) for t in man["source"]["taps"])
    assert data["mode"] == [0] * 50 and h["MODE"] == 0
    # a cast sr_unit.v cannot do: no mode.mem, no MODE; a dot: K and the ports a, b
    m = export_vectors(str(tmp_path / "c"), "cast", in_fmt="Q(8,4)", fmt="Q(4,1)", rounding="ceil",
                       count=5, bench=True)
    assert "mode" not in m["ports"] and "MODE" not in m["bench"]["params"]
    m = export_vectors(str(tmp_path / "d"), "dot", in_fmt="Q(8,4)", acc="Q(16,8)", K=3, count=5, bench=True)
    assert {k: m["bench"]["params"][k] for k in ("A_WL", "B_FL", "Y_WL", "K")} == \
        {"A_WL": 8, "B_FL": 4, "Y_WL": 16, "K": 3}
    # --force replaces a bench export and removes its header when the new one has none
    export_vectors(d, "cast", in_fmt="Q(8,4)", fmt="Q(4,1)", count=5, overwrite=True, bench=False)
    assert sorted(os.listdir(d)) == ["manifest.json", "x.mem", "y.mem"]



def test_bench_files_are_the_default(tmp_path, capsys):
    """export-vectors writes params.vh and mode.mem without being asked; --bench is accepted
    and changes nothing; --no-bench leaves the manifest and the ports' files only."""
    args = ["--op", "cast", "--in-fmt", "Q(12,6)", "--fmt", "Q(6,2)", "--count", "40"]
    folders = {}
    for flag in ([], ["--bench"], ["--no-bench"]):
        d = tmp_path / ("x" + "".join(flag)) / "vec"
        assert main(["export-vectors", str(d), *args, *flag]) == 0
        folders[tuple(flag)] = {n: (d / n).read_bytes() for n in sorted(os.listdir(d))}
    capsys.readouterr()
    assert sorted(folders[()]) == ["manifest.json", "mode.mem", "params.vh", "x.mem", "y.mem"]
    assert folders[("--bench",)] == folders[()]
    assert sorted(folders[("--no-bench",)]) == ["manifest.json", "x.mem", "y.mem"]
    assert folders[("--no-bench",)]["y.mem"] == folders[()]["y.mem"]
    assert folders[()]["mode.mem"] == b"1\n" * 40          # nearest_even: sr_unit.v's code 1

@requires_iverilog
@pytest.mark.rtl
@pytest.mark.parametrize("rounding", ["stochastic", "nearest_even", "floor"])
def test_flow_without_p_flags(rounding, tmp_path):
    """export --bench -> iverilog -I rtl -I vec (no -P, no hand-made mode.mem) -> vvp -> check,
    for the three modes of sr_unit.v, and for tb_sr_lfsr.v from the folder's own LFSR."""
    vec = str(tmp_path / "vec")
    sto = rounding == "stochastic"
    main(["export-vectors", vec, "--op", "cast", "--in-fmt", "Q(16,12)", "--fmt", "Q(8,4)",
          "--rounding", rounding, "--count", "2000", "--bench"]
         + (["--r", "16", "--source", "lfsr:24:galois:serial", "--source-seed", "77"] if sto else []))
    y = sim("tb_sr_unit", vec, str(tmp_path / "out"))
    rep = check_outputs(vec, y)
    assert rep.ok and not rep.params and rep.echo, str(rep)
    # the words against the Fraction reference, from the files alone
    man, data = read_vector_set(vec)
    draws = data.get("rnd", [0] * 2000)
    want = [rtl_ref.sr_cast(x, 12, 8, 4, rounding, 16, R)[0] for x, R in zip(data["x"], draws)]
    assert data["y"] == want
    if sto:
        y = sim("tb_sr_lfsr", vec, str(tmp_path / "out2"))
        assert check_outputs(vec, y).ok


@requires_iverilog
@pytest.mark.rtl
def test_bench_compiled_for_other_parameters_is_named(tmp_path, capsys):
    """The issue's case: export with --r 16, compile with the old -P r = 8: check-vectors names R
    (and fails) instead of only counting differing words."""
    vec = str(tmp_path / "vec")
    main(["export-vectors", vec, "--op", "cast", "--in-fmt", "Q(16,12)", "--fmt", "Q(8,4)",
          "--rounding", "stochastic", "--r", "16", "--source", "lfsr:16", "--count", "1000", "--bench"])
    capsys.readouterr()
    y = sim("tb_sr_unit", vec, str(tmp_path / "out"), params=[("R", 8)])
    assert main(["check-vectors", vec, y]) == 1
    out = capsys.readouterr().out
    assert "the bench was compiled for R = 8, the folder's params.vh says R = 16" in out
    # compiled for another folder: the names of every differing parameter
    other = str(tmp_path / "other")
    export_vectors(other, "cast", in_fmt="Q(12,6)", fmt="Q(8,4)", count=1000, bench=True)
    y = sim("tb_sr_unit", vec, str(tmp_path / "out3"), includes=(RTL, other))
    rep = check_outputs(vec, y)
    assert not rep.ok and {p[0] for p in rep.params} == {"X_WL", "X_FL", "R", "DRAWS"}
    # a folder without --bench: the parameters its ports and draws fix are still compared
    plain = str(tmp_path / "plain")
    export_vectors(plain, "cast", in_fmt="Q(16,12)", fmt="Q(8,4)", rounding="stochastic", r=16,
                   source="lfsr:16", count=1000, bench=False)
    rep = check_outputs(plain, y)
    assert [p[0] for p in rep.params] == ["X_WL", "X_FL", "R"]   # built for `other`
    assert "the folder's manifest.json (its ports) says X_WL = 16" in str(rep)
    # a sat_mac bench built for the folder passes; one with a narrower accumulator is named
    mac = str(tmp_path / "mac")
    export_vectors(mac, "dot", in_fmt="Q(8,4)", acc="Q(18,8)", K=16, count=300, bench=True)
    assert check_outputs(mac, sim("tb_sat_mac", mac, str(tmp_path / "o4"))).ok
    rep = check_outputs(mac, sim("tb_sat_mac", mac, str(tmp_path / "o5"), params=[("WA", 16)]))
    assert [p[:3] for p in rep.params] == [("Y_WL", 16, 18)]


def test_untrusted_bench_section(tmp_path):
    d = tmp_path / "vec"
    export_vectors(str(d), "cast", in_fmt="Q(8,4)", fmt="Q(4,1)", count=5, bench=True)
    good = json.loads((d / "manifest.json").read_text())
    cases = [({"header": "../params.vh"}, "bench.header"),
             ({"header": "/etc/passwd"}, "bench.header"),
             ({"params": {"R": "8; $finish"}}, "bench.params.R"),
             ({"params": {"r": 8}}, "keys are upper-case"),
             ({"params": [1]}, "'bench.params' must be an object"),
             ({"header": "nothere.vh"}, "not in")]
    for change, msg in cases:
        m = json.loads(json.dumps(good))
        m["bench"].update(change)
        (d / "manifest.json").write_text(json.dumps(m))
        with pytest.raises(ValueError, match=re.escape(msg)):
            read_vectors(str(d))
    os.remove(d / "params.vh")
    os.symlink("/etc/hostname", d / "params.vh")
    (d / "manifest.json").write_text(json.dumps(good))
    with pytest.raises(ValueError, match="symlink"):
        read_vectors(str(d))
    # an echo that is not one
    os.remove(d / "params.vh")
    (d / "params.vh").write_text("")
    out = tmp_path / "out"
    out.mkdir()
    (out / "y.mem").write_text((d / "y.mem").read_text())
    (out / "tb_params.txt").write_text("R 8 9\n")
    with pytest.raises(ValueError, match=r"tb_params.txt:1: expected 'NAME VALUE'"):
        check_outputs(str(d), str(out / "y.mem"))
    (out / "tb_params.txt").write_bytes(b"R \xff\n")
    with pytest.raises(ValueError, match="not ASCII"):
        check_outputs(str(d), str(out / "y.mem"))
    assert check_outputs(str(d), str(out / "y.mem"), echo=False).ok


# rtl-gen: (in, out, mode, source spec, seed); every rounding, rule, form, draw rule, lanes > 1
GRID = [
    ("Q(16,12)", "Q(8,4)", dict(rounding="stochastic", r=8), "lfsr:16", 1),
    ("Q(12,6)", "Q(5,2)", dict(rounding="stochastic", overflow="wrap", r=3, sr_rule="rne"),
     "lfsr:20:fibonacci:state:lanes=3", 77),
    ("Q(10,5)", "Q(6,3)", dict(rounding="stochastic", r=6, sr_rule="half"), "lfsr:9:serial:lanes=2", 5),
    ("Q(32,20)", "Q(16,2)", dict(rounding="stochastic", r=64, sr_rule="rne"), "lfsr:64:galois:serial", 99),
    ("Q(9,8)", "Q(3,0)", dict(rounding="stochastic", r=12, sr_rule="trunc"), "lfsr:13:fibonacci:serial:lanes=4", 3),
    ("Q(16,8)", "Q(6,0)", dict(rounding="toward_zero"), None, 1),
    ("Q(16,8)", "Q(6,2)", dict(rounding="nearest_up", overflow="wrap"), None, 1),
    ("Q(8,6)", "Q(4,0)", dict(rounding="ceil"), None, 1),
    ("Q(8,6)", "Q(4,-1)", dict(rounding="nearest_even"), None, 1),
    ("Q(24,4)", "Q(20,3)", dict(rounding="floor"), None, 1),
    # the vendor rules (issue 18): Tenstorrent SFPSTOCHRND on the magnitude, exact values moving
    # when R = 0 (fewer discarded bits than r, as many, more), and 'ge'
    ("Q(12,6)", "Q(6,2)", dict(rounding="stochastic", r=3, sr_rule="tt_sfpu"), "lfsr:16:lanes=2", 7),
    ("Q(10,4)", "Q(5,0)", dict(rounding="stochastic", r=4, sr_rule="tt_sfpu"), "lfsr:12:fibonacci:serial", 7),
    ("Q(9,3)", "Q(5,1)", dict(rounding="stochastic", r=5, sr_rule="tt_sfpu"), "lfsr:20:galois:state", 7),
    ("Q(12,6)", "Q(6,2)", dict(rounding="stochastic", r=3, sr_rule="ge"), "lfsr:16", 7),
]


@requires_iverilog
@pytest.mark.rtl
@pytest.mark.parametrize("cfg", GRID, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]['rounding']}-{c[3]}")
def test_rtl_gen_grid_cosimulates(cfg, tmp_path):
    fi, fo, mode, source, seed = cfg
    d = str(tmp_path / "gen")
    kw = {"source": source} if source else {}
    m = rtlgen.generate(d, "u", fi, fo, CastMode(**mode), seed=seed, count=1500, **kw)
    y = sim("tb_u", os.path.join(d, "vec"), os.path.join(d, "out"),
            sources=[os.path.join(d, "tb_u.v"), os.path.join(d, "u.v")], includes=())
    rep = check_outputs(os.path.join(d, "vec"), y)
    assert rep.ok and rep.echo and not rep.params, str(rep)
    assert m["count"] == 1500


def test_rtl_gen_refusals(tmp_path):
    for kw, msg in [(dict(mode="nearest_odd"), "rounding must be one of"),
                    (dict(out_fmt="Q(8,12)"), "fraction length must be below"),
                    (dict(in_fmt="UQ(8,4)"), "signed units"),
                    (dict(mode={"rounding": "stochastic", "r": 8}, source="ideal:pcg64"), "lfsr spec"),
                    (dict(name="1bad"), "Verilog identifier"),
                    (dict(mode={"rounding": "floor", "overflow": "error"}), "overflow must be")]:
        with pytest.raises(ValueError, match=msg):
            rtlgen.generate(str(tmp_path / "g"), **{"in_fmt": "Q(16,12)", "out_fmt": "Q(8,4)", **kw})
        assert not os.path.exists(tmp_path / "g")
    rtlgen.generate(str(tmp_path / "g"), count=8)
    with pytest.raises(FileExistsError, match="overwrite"):
        rtlgen.generate(str(tmp_path / "g"), count=8)
    rtlgen.generate(str(tmp_path / "g"), count=8, overwrite=True)


requires_verilator = pytest.mark.skipif(shutil.which("verilator") is None,
                                        reason="verilator not installed (.ci/install_rtl_tools.sh)")


def verilate(top, srcs, includes, obj):
    """verilator --binary --timing of a bench; returns the executable."""
    res = subprocess.run(["verilator", "--binary", "--timing", "-Wno-fatal", "-Wno-WIDTH",
                          *[f"-I{i}" for i in includes], "--top-module", top, "--Mdir", obj, *srcs],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    return os.path.join(obj, "V" + top)


@pytest.mark.rtl
@requires_verilator
def test_verilator_small_build_in_the_default_run(tmp_path):
    """The one Verilator build of the default run (~10 s of CPU): tb_sr_unit on a 2000-case
    SR folder, no -P; its words and its parameter echo match the folder."""
    vec, out = str(tmp_path / "vec"), str(tmp_path / "out")
    export_vectors(vec, "cast", in_fmt="Q(16,12)", fmt="Q(8,4)", rounding="stochastic", r=8,
                   source="lfsr:16:galois:serial", count=2000)
    exe = verilate("tb_sr_unit", [os.path.join(RTL, f) for f in SOURCES["tb_sr_unit"]], (RTL, vec),
                   str(tmp_path / "obj"))
    os.makedirs(out)
    res = subprocess.run([exe, f"+vectors={vec}", f"+out={out}"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0 and "DONE" in res.stdout, res.stdout + res.stderr
    rep = check_outputs(vec, os.path.join(out, "y.mem"))
    assert rep.ok and rep.echo and not rep.params, str(rep)


@pytest.mark.rtl
@requires_verilator
def test_verilator_lints_every_bench(tmp_path):
    """verilator --lint-only (well under a second each) of every bench of rtl/ with its units,
    on folders from export-vectors: each parses and elaborates under the second simulator."""
    vec, mac, flt = str(tmp_path / "vec"), str(tmp_path / "mac"), str(tmp_path / "flt")
    export_vectors(vec, "cast", in_fmt="Q(16,12)", fmt="Q(8,4)", rounding="stochastic", r=8,
                   source="lfsr:16", count=10)
    export_vectors(mac, "dot", in_fmt="Q(8,4)", acc="Q(18,8)", K=4, count=10)
    export_vectors(flt, "cast", in_fmt="fp32", fmt="e5m2", rounding="stochastic", r=8,
                   source="lfsr:16", count=10)
    benches = {f[:-2]: f for f in os.listdir(RTL) if f.startswith("tb_") and f.endswith(".v")}
    units = [f for f in os.listdir(RTL) if f.endswith(".v") and not f.startswith("tb_")]
    assert {"tb_sr_unit", "tb_sr_lfsr", "tb_sat_mac", "tb_lfsr", "tb_f32_unit", "tb_f32_lfsr"} <= set(benches)
    for top in sorted(benches):
        folder = mac if top == "tb_sat_mac" else flt if top.startswith("tb_f32") else vec
        defaults = [] if top in ("tb_sr_unit", "tb_sr_lfsr", "tb_sat_mac", "tb_f32_unit", "tb_f32_lfsr") \
            else ["-DTB_DEFAULTS"]
        res = subprocess.run(["verilator", "--lint-only", "--timing", "-Wno-fatal", "-Wno-WIDTH",
                              *defaults, f"-I{RTL}", f"-I{folder}", "--top-module", top,
                              os.path.join(RTL, benches[top]), *[os.path.join(RTL, u) for u in units]],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0 and "%Error" not in res.stderr, (top, res.stderr[-2000:])


@requires_iverilog
@pytest.mark.rtl
@pytest.mark.slow
@requires_verilator
@pytest.mark.parametrize("top", ["tb_sr_unit", "tb_sr_lfsr", "tb_sat_mac", "rtl-gen", "tb_f32_unit",
                                 "tb_f32_lfsr"])
def test_verilator_runs_the_same_benches(top, tmp_path):
    """Verilator (--binary --timing) builds every bench of rtl/ and an rtl-gen bench; the words
    match the folder's (a build takes ~10 s of CPU, hence slow)."""
    vec = str(tmp_path / "vec")
    if top.startswith("tb_f32"):
        export_vectors(vec, "cast", in_fmt="fp32", fmt="e5m2", rounding="stochastic", r=12,
                       overflow="saturate", source="lfsr:16:fibonacci:serial", count=20000)
        srcs = [os.path.join(RTL, f) for f in SOURCES[top]]
    elif top == "tb_sat_mac":
        export_vectors(vec, "dot", in_fmt="Q(8,4)", acc="Q(18,8)", K=16, count=2000, bench=True)
        srcs = [os.path.join(RTL, f) for f in SOURCES[top]]
    elif top == "rtl-gen":
        rtlgen.generate(str(tmp_path), "u", "Q(16,12)", "Q(8,4)", CastMode("stochastic", r=8, sr_rule="half"),
                        source="lfsr:16:fibonacci:state:lanes=2", seed=9, count=20000)
        srcs, top = [str(tmp_path / "tb_u.v"), str(tmp_path / "u.v")], "tb_u"
    else:
        export_vectors(vec, "cast", in_fmt="Q(16,12)", fmt="Q(8,4)", rounding="stochastic", r=8,
                       source="lfsr:16:galois:serial", count=20000, bench=True)
        srcs = [os.path.join(RTL, f) for f in SOURCES[top]]
    out = str(tmp_path / "out")
    os.makedirs(out)
    exe = verilate(top, srcs, (RTL, vec), str(tmp_path / "obj"))
    res = subprocess.run([exe, f"+vectors={vec}", f"+out={out}"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "DONE" in res.stdout, res.stdout + res.stderr
    rep = check_outputs(vec, os.path.join(out, "y.mem"))
    assert rep.ok and rep.echo and not rep.params, str(rep)


@pytest.mark.parametrize("argv,msg", [
    (["--in-fmt", "UQ(8,4)", "--fmt", "Q(4,1)"], "signed units"),
    (["--in-fmt", "Q(8,4)", "--fmt", "Q(4,1)", "--r", "8"], "--r is needed with --rounding stochastic"),
    (["--in-fmt", "Q(8,4)", "--fmt", "Q(4,1)", "--rounding", "stochastic"], "--r is needed"),
    (["--in-fmt", "Q(8,4)", "--fmt", "Q(4,1)", "--rounding", "stochastic", "--r", "4",
      "--source", "ideal:pcg64"], "lfsr spec"),
    (["--in-fmt", "Q(8,4)", "--fmt", "Q(4,1)", "--rounding", "stochastic", "--r", "4",
      "--source", "lfsr:8", "--seed", "0"], "seed must be an integer in [1, 2**8 - 1]"),
    (["--in-fmt", "Q(8,4)", "--fmt", "Q(4,1)", "--name", "a-b"], "Verilog identifier"),
    (["--in-fmt", "Q(8,4)", "--fmt", "Q(4,1)", "--rounding", "nearest_odd"], "invalid choice"),
])
def test_rtl_gen_cli_errors(argv, msg, tmp_path, capsys):
    from conftest import cli_user_error
    err = cli_user_error(["rtl-gen", str(tmp_path / "g")] + argv, capsys, "rtl-gen")
    assert msg in err
    assert not os.path.exists(tmp_path / "g")


def test_rtl_gen_cli_force(tmp_path, capsys):
    from conftest import cli_user_error
    argv = ["rtl-gen", str(tmp_path / "g"), "--in-fmt", "Q(8,4)", "--fmt", "Q(4,1)", "--count", "8"]
    assert main(argv) == 0
    assert "--force" in cli_user_error(argv, capsys, "rtl-gen")
    assert main(argv + ["--force"]) == 0
