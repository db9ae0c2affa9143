"""Vector folders of float casts (issue 16 point 6, issue 21): export-vectors --in-fmt fp32
--fmt bf16|e4m3|e5m2 writes params.vh and mode.mem; tb_f32_unit.v and the LFSR-fed tb_f32_lfsr.v
read them with no -P under Icarus and match word for word (>= 10^4 cases per configuration); a
bench compiled for another format is named; the folders' words are held against ml_dtypes and
the Fraction reference (tests/oracles/float_reference.py), which never import fxsim."""
import json
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (_HERE, os.path.dirname(_HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import numpy as np
import pytest

from oracles.float_reference import NAMED, ref_float_cast
from rtl_sim import RTL, requires_iverilog, sim_folder

from fxsim import FixedArray, FloatArray, FloatFormat
from fxsim.cli import main
from fxsim.vectors import check_outputs, export_vectors, read_vectors

N = 10_000


def sim(top, vec, out, includes=None):
    return sim_folder(top, vec, out, includes=(RTL,) if includes is None else (RTL, includes))


def lines(path):
    with open(path) as fh:
        return fh.read().split()


# (output format, nearest_even's overflow, SR's r, SR's overflow, SR's LFSR)
CONFIGS = [("bf16", "ieee", 16, "saturate", "lfsr:24:galois:serial"),
           ("e4m3", "saturate", 7, "ieee", "lfsr:16:fibonacci:state"),
           ("e5m2", "ieee", 21, "saturate", "lfsr:32:galois:state")]


@requires_iverilog
@pytest.mark.rtl
@pytest.mark.parametrize("fmt,ovf_ne,r,ovf_sr,source", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_float_flow_without_p_flags(fmt, ovf_ne, r, ovf_sr, source, tmp_path, capsys):
    """export (CLI) -> iverilog -I rtl -I vec -> vvp -> check, nearest_even and SR from rnd.mem,
    and the SR folder again through the unit's own LFSR (its draws are rnd.mem's)."""
    ne, sr = str(tmp_path / "ne"), str(tmp_path / "sr")
    assert main(["export-vectors", ne, "--op", "cast", "--in-fmt", "fp32", "--fmt", fmt,
                 "--overflow", ovf_ne, "--count", str(N)]) == 0
    assert main(["export-vectors", sr, "--op", "cast", "--in-fmt", "fp32", "--fmt", fmt,
                 "--rounding", "stochastic", "--r", str(r), "--overflow", ovf_sr, "--source", source,
                 "--source-seed", "77", "--count", str(N)]) == 0
    assert "params.vh" in capsys.readouterr().out
    for folder, top in ((ne, "tb_f32_unit"), (sr, "tb_f32_unit"), (sr, "tb_f32_lfsr")):
        out = str(tmp_path / f"out_{os.path.basename(folder)}_{top}")
        rep = check_outputs(folder, sim(top, folder, out))
        assert rep.ok and rep.echo and not rep.params, str(rep)
    assert lines(os.path.join(str(tmp_path / "out_sr_tb_f32_lfsr"), "draw.mem")) == \
        lines(os.path.join(sr, "rnd.mem"))
    m, data = read_vectors(sr)
    assert isinstance(data["y"], FloatArray) and data["y"].fmt == FloatFormat.parse(fmt)
    assert m["bench"]["params"]["MODE"] == 1 and set(data["mode"].raw.tolist()) == {1}


@pytest.mark.parametrize("fmt", ["bf16", "e4m3", "e5m2", "fp16"])
def test_float_folder_against_ml_dtypes(fmt, tmp_path):
    """A nearest_even folder (overflow ieee, as ml_dtypes converts) read from its files alone:
    y is ml_dtypes' float32 -> fmt astype, code for code (NaN: any NaN code)."""
    ml = pytest.importorskip("ml_dtypes")
    d = str(tmp_path / "v")
    export_vectors(d, "cast", in_fmt="fp32", fmt=fmt, overflow="ieee", count=4000, seed=5)
    x = np.array([int(w, 16) for w in lines(os.path.join(d, "x.mem"))], dtype=np.uint32).view(np.float32)
    y = np.array([int(w, 16) for w in lines(os.path.join(d, "y.mem"))], dtype=np.uint64)
    dt = {"bf16": ml.bfloat16, "e4m3": ml.float8_e4m3fn, "e5m2": ml.float8_e5m2, "fp16": np.float16}[fmt]
    with np.errstate(invalid="ignore", over="ignore"):      # NaN, inf and overflow: the point
        want = x.astype(dt)
    codes = want.view(np.uint16 if want.itemsize == 2 else np.uint8).astype(np.uint64)
    nan = np.isnan(x)
    assert nan.any() and np.isinf(x).any()
    assert np.array_equal(y[~nan], codes[~nan])
    assert np.isnan(FloatArray(y[nan].astype(FloatFormat.parse(fmt).dtype), fmt).to_float()).all()
    assert "MODE" in json.load(open(os.path.join(d, "manifest.json")))["bench"]["params"] or fmt == "fp16"


@pytest.mark.parametrize("fmt,rule", [("e5m2", "trunc"), ("e4m3", "half"), ("bf16", "rne")])
def test_float_sr_folder_against_the_fraction_reference(fmt, rule, tmp_path):
    """A stochastic folder from its files alone: y[i] is the Fraction reference's cast of x[i]
    with draw i of rnd.mem (every sr_rule; 'half' and 'rne' have no RTL unit: no mode.mem)."""
    d = str(tmp_path / "v")
    m = export_vectors(d, "cast", in_fmt="fp32", fmt=fmt, rounding="stochastic", r=5, sr_rule=rule,
                       overflow="saturate", source="ideal:pcg64", count=1500, seed=9)
    x = np.array([int(w, 16) for w in lines(os.path.join(d, "x.mem"))], dtype=np.uint32).view(np.float32)
    rnd = [int(w, 16) for w in lines(os.path.join(d, "rnd.mem"))]
    y = [int(w, 16) for w in lines(os.path.join(d, "y.mem"))]
    want = [ref_float_cast(float(v), NAMED[fmt], "stochastic", "saturate", R=R, r=5, sr_rule=rule)
            for v, R in zip(x, rnd)]
    assert y == want
    assert ("mode" in m["ports"]) == (rule == "trunc") == ("MODE" in m["bench"]["params"])


@requires_iverilog
@pytest.mark.rtl
def test_float_bench_compiled_for_another_format_is_named(tmp_path):
    """tb_f32_unit compiled with an e4m3 folder's params.vh, run on an e5m2 folder: check-vectors
    names the exponent and mantissa widths (and the overflow rule) before counting words."""
    e5, e4 = str(tmp_path / "e5"), str(tmp_path / "e4")
    export_vectors(e5, "cast", in_fmt="fp32", fmt="e5m2", overflow="ieee", count=500)
    export_vectors(e4, "cast", in_fmt="fp32", fmt="e4m3", overflow="saturate", count=500)
    rep = check_outputs(e5, sim("tb_f32_unit", e5, str(tmp_path / "o"), includes=e4))
    assert not rep.ok
    assert [p[0] for p in rep.params] == ["Y_EXP_BITS", "Y_MAN_BITS", "OVERFLOW"], str(rep)
    assert "the bench was compiled for Y_EXP_BITS = 4, the folder's params.vh says Y_EXP_BITS = 5" in str(rep)


def test_float_folders_validated(tmp_path, capsys):
    """A float port's entry from outside is checked like the rest of the manifest (ValueError
    naming the key); casts the RTL units cannot do get no mode.mem; a QFormat input works, a
    float input into a QFormat is refused; check-vectors reads float folders."""
    d = tmp_path / "v"
    export_vectors(str(d), "cast", in_fmt="fp32", fmt="e5m2", count=50)
    m = json.loads((d / "manifest.json").read_text())
    good = json.dumps(m)
    for path, value, msg in [(("y", "float", "exp_bits"), 12, r"'ports\.y\.float\.exp_bits' must be an integer in \[1, 11\]"),
                             (("y", "float", "nonfinite"), "ocp", r"'ports\.y\.float\.nonfinite' must be"),
                             (("y", "wl"), 9, r"'ports\.y' holds codes of a float format of 8 bits"),
                             (("y", "signed"), True, r"'signed' false"),
                             (("x", "float", "bias"), 2000, r"'ports\.x\.float\.bias' must be an integer"),
                             (("y", "float", "man_bits"), 0, r"'ports\.y\.float': nonfinite='ieee' needs")]:
        bad = json.loads(good)
        entry = bad["ports"]
        for k in path[:-1]:
            entry = entry[k]
        entry[path[-1]] = value
        (d / "manifest.json").write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=msg):
            read_vectors(str(d))
    (d / "manifest.json").write_text(good)
    assert main(["check-vectors", str(d), str(d / "y.mem")]) == 0
    assert "all 50 words match" in capsys.readouterr().out
    # no RTL unit: fp16 out, round_to_odd, a QFormat input
    for kw in (dict(in_fmt="fp32", fmt="fp16"), dict(in_fmt="fp32", fmt="e5m2", rounding="round_to_odd"),
               dict(in_fmt="Q(12,4)", fmt="e4m3")):
        m = export_vectors(str(tmp_path / "n"), "cast", count=20, overwrite=True, **kw)
        assert "mode" not in m["ports"] and "MODE" not in m["bench"]["params"]
    x = FixedArray(np.array([-2048, 2047, 8, 24], dtype=np.int16), "Q(12,4)")
    m, data = (export_vectors(str(tmp_path / "q"), "cast", inputs=x, fmt="e4m3"),
               read_vectors(str(tmp_path / "q"))[1])
    assert data["y"].to_float().tolist() == [-128.0, 128.0, 0.5, 1.5]
    with pytest.raises(ValueError, match="fmt must be a float format"):
        export_vectors(str(tmp_path / "r"), "cast", in_fmt="bf16", fmt="Q(8,4)")
    with pytest.raises(ValueError, match="rounding must be one of nearest_even, nearest_away"):
        export_vectors(str(tmp_path / "r"), "cast", in_fmt="fp32", fmt="bf16", rounding="nearest_up")
    assert not (tmp_path / "r").exists()
