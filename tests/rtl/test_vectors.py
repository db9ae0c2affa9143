"""Test-vector export (fxsim.vectors, spec section 7).

Nothing here holds fxsim against itself: the exported folders are read back with the
standard-library helpers of tests/rtl/rtl_vectors.py, the expected outputs are recomputed with
the Fraction reference tests/reference.py (stochastic ones from the draws file), the draws
are recomputed from the manifest's source (tests/reference.py's LFSR, numpy's own bit
generators), and Icarus Verilog runs the benches of rtl/ on exported folders.
"""
import json
import os
import re
import sys

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in (_HERE, os.path.join(_HERE, "rtl")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import numpy as np
import pytest

import reference as ref
from rtl_sim import assert_same_words, requires_iverilog, run_tb, vparam
from rtl_vectors import read_mem_lines, read_vector_set

fx = pytest.importorskip("fxsim")
from fxsim import FixedArray, QFormat  # noqa: E402
from fxsim.cli import main  # noqa: E402
from fxsim.vectors import check_outputs, export_vectors, read_vectors  # noqa: E402

TOP_KEYS = {"fxsim_vectors", "operation", "count", "formats", "modes", "source", "ports", "draws",
            "K", "shape", "fxsim_version", "generator", "stats", "bench"}
PORT_KEYS = {"file", "dir", "wl", "fl", "signed", "words", "shape"}
DRAW_KEYS = {"file", "r", "words", "per_case", "order"}
MODE_KEYS = {"rounding", "overflow", "sr_rule", "r", "eps", "E"}


def digits(bits):
    return -(-bits // 4)


def fmt_t(m, name):
    f = m["formats"][name]
    return None if f is None else (f["wl"], f["fl"], f["signed"])


def fx_raw(words, f):
    """Words of a FixedArray given as Python ints (for building known inputs)."""
    return FixedArray(np.array(words, dtype=object).astype(f.dtype), f)


# ------------------------------------------------------------------------ reference of a folder
def reference_outputs(folder):
    """The output words of an exported folder, recomputed from its manifest, input files and
    draws file by tests/reference.py. Also checks that exactly all draws are consumed."""
    m, data = read_vector_set(folder)
    op, md = m["operation"], m["modes"]
    rounding, overflow = md["rounding"], md["overflow"]
    sto = rounding in ref.STOCHASTIC
    draws = iter(data.get("rnd", []))
    vs = data.get("v")
    sr = dict(r=md["r"], eps=md["eps"], sr_rule=md["sr_rule"])
    y_fmt = fmt_t(m, "y")
    out = []
    if op == "cast":
        x_fl = m["formats"]["x"]["fl"]
        for i, x in enumerate(data["x"]):
            kw = dict(sr, R=next(draws), v=vs[i] if vs else 0) if sto else {}
            out.append(ref.ref_cast(ref.value(x, x_fl), *y_fmt, rounding, overflow, **kw))
    elif op in ("add", "sub", "mul"):
        f = {"add": ref.ref_add, "sub": ref.ref_sub, "mul": ref.ref_mul}[op]
        fa, fb = fmt_t(m, "a"), fmt_t(m, "b")
        for i, (a, b) in enumerate(zip(data["a"], data["b"])):
            kw = dict(sr, R=next(draws), v=vs[i] if vs else 0) if sto else {}
            out.append(f(a, fa, b, fb, y_fmt, rounding, overflow, **kw))
    else:
        fa, fb = fmt_t(m, "a"), fmt_t(m, "b")
        acc, prod, ocast = fmt_t(m, "acc"), fmt_t(m, "prod"), fmt_t(m, "out")
        K = m["K"]
        if op == "dot":
            rows = [(data["a"][j * K:(j + 1) * K], data["b"][j * K:(j + 1) * K])
                    for j in range(m["count"])]
        else:
            M, _, N = m["shape"]
            A = [data["a"][i * K:(i + 1) * K] for i in range(M)]
            B = [data["b"][k * N:(k + 1) * N] for k in range(K)]
            rows = [(A[i], [B[k][j] for k in range(K)]) for i in range(M) for j in range(N)]
        for j, (a, b) in enumerate(rows):
            res = ref.ref_dot(a, fa, b, fb, acc=acc, prod=prod, out=ocast, rounding=rounding,
                              overflow=overflow, v=vs[j] if vs else 0, draws=draws,
                              **(sr if sto else {}))
            if res.raw is None:                        # exact sum: y holds it exactly
                t = res.value * ref.pow2(y_fmt[1])
                assert t.denominator == 1
                out.append(int(t))
            else:
                assert res.fmt == y_fmt
                out.append(res.raw)
    assert next(draws, None) is None, "the draws file holds more draws than the operation takes"
    return m, data, out


# ------------------------------------------------------------------------ (a) format
def _export_mix(tmp_path):
    """A mix of exports: formats of 1..64 bits, signed and unsigned, draws of several widths."""
    lfsr = fx.LFSR(n=20, form="fibonacci", rule="serial", seed=12345)
    cases = {
        "cast13": dict(op="cast", in_fmt=QFormat(13, 7), fmt=QFormat(5, 2), rounding="stochastic",
                       r=5, source=lfsr, count=500),
        "cast64": dict(op="cast", in_fmt=QFormat(64, 40), fmt=QFormat(64, 20), rounding="stochastic",
                       r=64, source="ideal:pcg64", count=300),
        "castu": dict(op="cast", in_fmt=QFormat(12, 6, False), fmt=QFormat(3, 1, False),
                      rounding="nearest_odd", count=300),
        "cast1": dict(op="cast", in_fmt=QFormat(9, 3), fmt=QFormat(1, 0), rounding="floor",
                      overflow="wrap", count=300),
        "mul": dict(op="mul", a_fmt=QFormat(7, 3), b_fmt=QFormat(6, 5, False), rounding="ceil",
                    count=300),
        "sub": dict(op="sub", in_fmt=QFormat(33, 10), fmt=QFormat(17, 2), count=300,
                    rounding="signed_stochastic_eps", eps=0.3, r=3, source="lfsr:7:state"),
        "dot": dict(op="dot", in_fmt=QFormat(10, 5), prod=QFormat(12, 6), acc=QFormat(15, 6),
                    fmt=QFormat(6, 2), K=5, count=200, rounding="stochastic", r=10,
                    source="lfsr:24:galois:state"),
        "matmul": dict(op="matmul", a_fmt=QFormat(6, 3), b_fmt=QFormat(5, 1), acc=QFormat(9, 2),
                       shape=(4, 7, 3), overflow="saturate_symmetric", rounding="nearest_up"),
    }
    return {k: (str(tmp_path / k), export_vectors(str(tmp_path / k), **kw)) for k, kw in cases.items()}


def test_mem_files_format_and_manifest(tmp_path):
    for name, (folder, m) in _export_mix(tmp_path).items():
        with open(os.path.join(folder, "manifest.json")) as fh:
            assert json.load(fh) == m
        assert set(m) == TOP_KEYS, name
        assert m["fxsim_vectors"] == 1 and set(m["modes"]) == MODE_KEYS
        assert set(os.listdir(folder)) == {"manifest.json", m["bench"]["header"]} | {
            i["file"] for i in list(m["ports"].values()) + list(m["draws"].values())}
        for port, info in m["ports"].items():
            assert set(info) == PORT_KEYS, (name, port)
            assert info["dir"] == ("out" if port == "y" else "in")
            assert info["words"] == int(np.prod(info["shape"]))
            if port not in ("seed", "v", "mode"):
                assert m["formats"][port] == {k: info[k] for k in ("wl", "fl", "signed")}
        for info in m["draws"].values():
            assert set(info) == DRAW_KEYS
        files = [(i["file"], i["wl"], i["words"]) for i in m["ports"].values()]
        files += [(i["file"], i["r"], i["words"]) for i in m["draws"].values()]
        for fname, bits, words in files:
            with open(os.path.join(folder, fname), "rb") as fh:
                text = fh.read().decode("ascii")
            assert text.endswith("\n") and "\r" not in text
            lines = text[:-1].split("\n")
            assert len(lines) == words, (name, fname)
            pat = re.compile("^[0-9a-f]{%d}$" % digits(bits))
            bad = [l for l in lines if not pat.match(l)]
            assert not bad, (name, fname, bad[:3])
            assert all(int(l, 16) < (1 << bits) for l in lines)
        # what the manifest says about the operation
        assert m["ports"]["y"]["words"] == m["count"]
        if m["modes"]["rounding"] in ref.STOCHASTIC:
            assert m["draws"]["rnd"]["words"] == m["count"] * m["draws"]["rnd"]["per_case"]
        else:
            assert m["draws"] == {} and m["source"] == {"kind": "none"}


def test_twos_complement_words(tmp_path):
    cases = [
        (QFormat(8, 4), [-1, -128, 127, 0, 5, -16], ["ff", "80", "7f", "00", "05", "f0"]),
        (QFormat(13, 0), [-5, -4096, 4095, 1], ["1ffb", "1000", "0fff", "0001"]),
        (QFormat(12, 3, False), [0xabc, 0, 4095], ["abc", "000", "fff"]),
        (QFormat(1, 0), [-1, 0], ["1", "0"]),
        (QFormat(1, 0, False), [1, 0], ["1", "0"]),
        (QFormat(64, 10), [-(1 << 63), (1 << 63) - 1, -2],
         ["8000000000000000", "7fffffffffffffff", "fffffffffffffffe"]),
        (QFormat(64, 0, False), [(1 << 64) - 1, 1 << 63], ["ffffffffffffffff", "8000000000000000"]),
        (QFormat(5, -3), [-16, 15, -1], ["10", "0f", "1f"]),
    ]
    for i, (f, words, text) in enumerate(cases):
        folder = str(tmp_path / str(i))
        x = fx_raw(words, f)
        m = export_vectors(folder, "cast", inputs=x, fmt=QFormat(f.wl, f.fl, f.signed))
        assert read_mem_lines(os.path.join(folder, "x.mem")) == text
        assert read_mem_lines(os.path.join(folder, "y.mem")) == text      # identity cast
        assert m["count"] == len(words)
        _, data = read_vectors(folder)
        assert data["x"].identical(x) and data["y"].identical(x)
    # an output that is negative in a narrower word
    folder = str(tmp_path / "neg")
    export_vectors(folder, "cast", inputs=fx_raw([-100, -3, 2, 300], QFormat(10, 2)),
                   fmt=QFormat(6, 1), rounding="floor")
    assert read_mem_lines(os.path.join(folder, "y.mem")) == ["20", "3e", "01", "1f"]


def test_read_vectors_roundtrip(tmp_path):
    a = fx_raw([[1, -2, 3], [-4, 5, -6]], QFormat(7, 3))
    b = fx_raw([[7, 0, 1], [2, 2, 2]], QFormat(4, 1, False))
    folder = str(tmp_path / "d")
    m = export_vectors(folder, "dot", inputs=(a, b), acc=QFormat(12, 4), rounding="stochastic",
                       r=7, source=fx.Ideal("philox", seed=3))
    mm, data = read_vectors(folder)
    assert mm == m and m["count"] == 2 and m["K"] == 3 and m["shape"] == [2, 3]
    assert data["a"].identical(a) and data["b"].identical(b)
    assert data["y"].shape == (2,) and data["y"].fmt == QFormat(12, 4)
    assert data["rnd"].dtype == np.uint64 and data["rnd"].size == 6
    _, ints = read_vector_set(folder)       # the stdlib reader agrees word for word
    assert ints["y"] == [int(v) for v in data["y"].raw] and ints["rnd"] == data["rnd"].tolist()
    # element-wise inputs keep their (broadcast) shape
    folder = str(tmp_path / "e")
    m = export_vectors(folder, "add", inputs={"a": a, "b": fx_raw([1, 2, 3], QFormat(4, 0))})
    _, data = read_vectors(folder)
    assert data["a"].identical(a) and data["b"].shape == (2, 3) and m["shape"] == [2, 3]
    assert data["y"].fmt == QFormat(8, 3) and m["count"] == 6   # [-128, 119] at fl 3


def test_v_port_is_the_sign_of_v(tmp_path):
    x = fx_raw([5, 5, 5, -5, -5, -5, 6], QFormat(8, 3))
    v = np.array([0.5, -2.0, 0.0, 1e-9, -1e9, -0.0, 3.0])
    folder = str(tmp_path / "v")
    m = export_vectors(folder, "cast", inputs=x, fmt=QFormat(6, 1), rounding="signed_stochastic_eps",
                       eps=0.5, r=2, v=v, source="lfsr:4")
    assert read_mem_lines(os.path.join(folder, "v.mem")) == ["1", "3", "0", "1", "3", "0", "1"]
    assert m["formats"]["v"] == {"wl": 2, "fl": 0, "signed": True}
    _, data, want = reference_outputs(folder)
    assert data["y"] == want
    # a FixedArray v; a matmul's v has the output's shape
    folder = str(tmp_path / "mm")
    vf = fx_raw([[-3, 0, 2], [1, -1, 0]], QFormat(4, 2))
    export_vectors(folder, "matmul", in_fmt="Q(5,2)", fmt="Q(5,1)", shape=(2, 4, 3), v=vf,
                   rounding="signed_stochastic_eps", eps=0.25, r=3, source="ideal")
    assert read_mem_lines(os.path.join(folder, "v.mem")) == ["3", "0", "1", "1", "3", "0"]
    _, data, want = reference_outputs(folder)
    assert data["y"] == want
    with pytest.raises(ValueError, match="expected the output's shape"):
        export_vectors(str(tmp_path / "bad"), "cast", inputs=x, fmt=QFormat(6, 1), v=np.ones(3),
                       rounding="signed_stochastic_eps", eps=0.5, r=2, source="lfsr:4")


def test_edge_words_and_ties(tmp_path):
    fi, fo = QFormat(16, 12), QFormat(8, 4)
    folder = str(tmp_path / "c")
    m = export_vectors(folder, "cast", in_fmt=fi, fmt=fo, count=2000, seed=5)
    _, data = read_vector_set(folder)
    x = data["x"]
    for w in (fi.min_raw, fi.max_raw, 0, -1):
        assert w in x[:10]
    S = fi.fl - fo.fl
    ties = [w for w in x if w % (1 << S) == 1 << (S - 1)]
    assert len(ties) >= 10
    q = {w >> S for w in ties}
    assert any(v % 2 for v in q) and any(v % 2 == 0 for v in q) and min(q) < 0 < max(q)
    assert fo.max_raw in q                    # a tie that rounds up into saturation
    assert m["generator"]["edge_cases"] >= 4 + len(ties) // 2
    # the rest is uniform over the raw range: both halves and both signs, few repeats
    rest = x[m["generator"]["edge_cases"]:]
    assert len(set(rest)) > 0.9 * len(rest)
    assert min(rest) < fi.min_raw // 2 and max(rest) > fi.max_raw // 2
    # no edges: random words only, a different seed gives other words
    m2 = export_vectors(str(tmp_path / "c2"), "cast", in_fmt=fi, fmt=fo, count=2000, seed=6,
                        edges=False)
    assert m2["generator"]["edge_cases"] == 0
    assert read_vector_set(str(tmp_path / "c2"))[1]["x"][:50] != x[:50]
    # the same seed gives the same folder
    export_vectors(str(tmp_path / "c3"), "cast", in_fmt=fi, fmt=fo, count=2000, seed=5)
    for f in ("x.mem", "y.mem"):
        assert read_mem_lines(os.path.join(folder, f)) == read_mem_lines(str(tmp_path / "c3" / f))
    # binary ops: every pair of min/max/0/-1 comes first
    folder = str(tmp_path / "m")
    export_vectors(folder, "mul", a_fmt=QFormat(8, 4), b_fmt=QFormat(6, 2), count=100)
    _, d = read_vector_set(folder)
    pairs = set(zip(d["a"], d["b"]))
    for a in (-128, 127, 0, -1):
        for b in (-32, 31, 0, -1):
            assert (a, b) in pairs
    # dot: constant extreme rows (that saturate a narrow accumulator)
    folder = str(tmp_path / "dot")
    export_vectors(folder, "dot", in_fmt=QFormat(8, 0), acc=QFormat(12, 0), K=4, count=50)
    _, d = read_vector_set(folder)
    assert d["a"][:4] == [127] * 4 and d["b"][:4] == [127] * 4 and d["y"][0] == 2047
    assert d["a"][4:8] == [-128] * 4 and d["b"][4:8] == [-128] * 4 and d["y"][1] == 2047


def test_draws_replay_the_manifest_source(tmp_path):
    """The draws file is the manifest's source from its recorded starting state, as an
    independent LFSR reference and numpy's own bit generators compute it; the user's source is
    advanced by exactly those draws."""
    src = fx.LFSR(n=16, form="galois", rule="serial", seed=0xACE1)
    src.draws(37, 8)                                   # a source already in use
    f1, f2 = str(tmp_path / "1"), str(tmp_path / "2")
    m1 = export_vectors(f1, "cast", in_fmt="Q(16,12)", fmt="Q(8,4)", rounding="stochastic", r=8,
                        source=src, count=1000)
    assert src.count == 37 + 1000
    m2 = export_vectors(f2, "add", in_fmt="Q(9,5)", fmt="Q(6,2)", rounding="stochastic_eps",
                        eps=0.125, r=8, source=src, count=500)
    s1, s2 = m1["source"], m2["source"]
    assert s1["draw_index"] == 37 and s2["draw_index"] == 1037
    assert s1["mask"] == "0xd008" and s1["taps"] == [16, 15, 13, 4]
    assert m2["modes"]["E"] == 32
    ref_stream = ref.ref_lfsr_draws(16, s1["taps"], "galois", "serial", 8, 0xACE1, 37 + 1500)
    assert read_vector_set(f1)[1]["rnd"] == ref_stream[37:1037]
    assert read_vector_set(f2)[1]["rnd"] == ref_stream[1037:]
    # the recorded seed (state at the start) restarts the stream; seed.mem holds it
    assert ref.ref_lfsr_draws(16, s2["taps"], "galois", "serial", 8, int(s2["seed"], 16), 500) \
        == ref_stream[1037:]
    assert read_vector_set(f2)[1]["seed"] == [int(s2["seed"], 16)]
    # a 'state'-rule Fibonacci register
    f3 = str(tmp_path / "3")
    m3 = export_vectors(f3, "cast", in_fmt="Q(12,8)", fmt="Q(6,1)", rounding="stochastic", r=5,
                        source="lfsr:12:fibonacci:state", seed=77, count=700)
    s3 = m3["source"]
    assert (s3["n"], s3["form"], s3["rule"], s3["seed"]) == (12, "fibonacci", "state", hex(77))
    assert read_vector_set(f3)[1]["rnd"] == ref.ref_lfsr_draws(12, s3["taps"], "fibonacci",
                                                               "state", 5, 77, 700)
    # ideal sources: numpy's stream for the recorded state, R = w >> (64 - r)
    for bitgen, r in (("pcg64", 11), ("sfc64", 64), ("philox", 1)):
        f = str(tmp_path / bitgen)
        m = export_vectors(f, "mul", in_fmt="Q(8,4)", fmt="Q(8,3)", rounding="stochastic", r=r,
                           source="ideal:" + bitgen, source_seed=2024, count=600)
        assert m["source"]["bitgen"] == getattr(np.random, bitgen.upper() if bitgen != "philox"
                                                else "Philox")().__class__.__name__
        bg = getattr(np.random, m["source"]["bitgen"])(2024)
        w = bg.random_raw(600).astype(np.uint64)
        assert read_vector_set(f)[1]["rnd"] == [int(v) >> (64 - r) for v in w]
        bg2 = getattr(np.random, m["source"]["bitgen"])()
        bg2.state = fx.sources.from_state(m["source"]["state"]).bit_generator.state
        assert [int(v) >> (64 - r) for v in bg2.random_raw(600)] == read_vector_set(f)[1]["rnd"]


# ------------------------------------------------------------------------ (b) reference
REF_CASES = {
    # casts: every rounding mode
    **{f"cast-{mode}": dict(op="cast", in_fmt="Q(14,9)", fmt="Q(7,3)", rounding=mode, count=1500,
                            overflow=("saturate", "wrap", "saturate_symmetric")[i % 3])
       for i, mode in enumerate(ref.DETERMINISTIC)},
    "cast-sr-lfsr": dict(op="cast", in_fmt="Q(16,12)", fmt="Q(8,4)", rounding="stochastic", r=8,
                         source="lfsr:16", count=3000),
    "cast-sr-half": dict(op="cast", in_fmt="Q(20,12)", fmt="Q(9,1)", rounding="stochastic", r=3,
                         sr_rule="half", source="ideal:pcg64", count=2000),
    "cast-sr-rne-wrap": dict(op="cast", in_fmt="Q(10,10)", fmt="Q(4,3)", rounding="stochastic",
                             r=6, sr_rule="rne", overflow="wrap", source="lfsr:9:fibonacci", count=1500),
    "cast-sreps": dict(op="cast", in_fmt="Q(12,7)", fmt="Q(6,2)", rounding="stochastic_eps",
                       eps=0.3, r=5, source="lfsr:20:state", count=1500),
    "cast-ssreps": dict(op="cast", in_fmt="Q(12,7)", fmt="Q(6,2)", rounding="signed_stochastic_eps",
                        eps=0.2, r=4, source="ideal:sfc64", count=1500),
    "cast-unsigned-negfl": dict(op="cast", in_fmt=QFormat(12, 2, False), fmt=QFormat(5, -3, False),
                                rounding="nearest_away", count=1000),
    "cast-64": dict(op="cast", in_fmt="Q(64,50)", fmt="Q(40,20)", rounding="stochastic", r=64,
                    source="ideal:philox", count=1000),
    # element-wise
    "add": dict(op="add", a_fmt="Q(10,6)", b_fmt="Q(9,2)", fmt="Q(7,3)", rounding="nearest_even", count=1500),
    "add-full": dict(op="add", a_fmt=QFormat(10, 6, False), b_fmt="Q(9,2)", count=1000),
    "sub-sr": dict(op="sub", in_fmt="Q(11,8)", fmt="Q(6,3)", rounding="stochastic", r=2,
                   sr_rule="half", source="lfsr:5", count=1500),
    "sub-full-sr": dict(op="sub", in_fmt=QFormat(8, 3, False), rounding="stochastic", r=4,
                        source="ideal", count=500),
    "mul-wrap": dict(op="mul", a_fmt="Q(9,4)", b_fmt="Q(7,6)", fmt="Q(8,5)", overflow="wrap",
                     rounding="toward_zero", count=1500),
    "mul-ssreps": dict(op="mul", in_fmt="Q(8,4)", fmt="Q(6,2)", rounding="signed_stochastic_eps",
                       eps=0.4, r=6, source="lfsr:30:galois:state", count=1500),
    # MACs
    "dot-sat": dict(op="dot", in_fmt="Q(8,6)", acc="Q(12,12)", overflow="saturate", K=16, count=400),
    "dot-sr-all": dict(op="dot", a_fmt="Q(8,5)", b_fmt="Q(7,3)", prod="Q(9,5)", acc="Q(12,5)",
                       fmt="Q(7,2)", rounding="stochastic", r=6, sr_rule="half",
                       source="lfsr:18", K=6, count=400),
    "dot-sr-acc": dict(op="dot", in_fmt="Q(8,7)", acc="Q(10,6)", rounding="stochastic", r=9,
                       source="ideal", K=5, count=400),
    "dot-exact-out": dict(op="dot", in_fmt="Q(6,3)", fmt="Q(5,2)", rounding="stochastic_eps",
                          eps=0.25, r=4, source="lfsr:12", K=7, count=300),
    "dot-exact": dict(op="dot", a_fmt="Q(6,3)", b_fmt=QFormat(5, 1, False), K=9, count=300,
                      rounding="stochastic", r=4, source="lfsr:12"),
    "dot-ssreps": dict(op="dot", in_fmt="Q(7,4)", prod="Q(8,5)", acc="Q(10,5)", fmt="Q(6,2)",
                       rounding="signed_stochastic_eps", eps=0.1, r=5, source="lfsr:16",
                       overflow="saturate_symmetric", K=4, count=300),
    "matmul-sr": dict(op="matmul", a_fmt="Q(8,5)", b_fmt="Q(6,4)", prod="Q(8,6)", acc="Q(11,6)",
                      fmt="Q(6,3)", rounding="stochastic_eps", eps=0.2, r=7,
                      source="lfsr:20:fibonacci:state", shape=(9, 6, 7)),
    "matmul-wrap": dict(op="matmul", in_fmt="Q(6,2)", acc="Q(9,4)", overflow="wrap",
                        rounding="nearest_odd", shape=(5, 8, 6)),
}


@pytest.mark.parametrize("name", sorted(REF_CASES))
def test_expected_outputs_equal_reference(name, tmp_path):
    folder = str(tmp_path / name)
    kw = REF_CASES[name]
    m = export_vectors(folder, **kw)
    m2, data, want = reference_outputs(folder)
    assert m2 == m
    assert_same_words(data["y"], want, f"{name}: exported y vs tests/reference.py", m["ports"]["y"]["wl"],
                      m["ports"]["y"]["signed"])
    # the cases are not degenerate: the output cast meets inexact values
    if kw.get("fmt") is not None:
        assert m["stats"]["out"]["inexact"] > 0


_MODE_KEYS = ("rounding", "overflow", "r", "eps", "sr_rule")


@pytest.mark.parametrize("name", ["cast-sr-rne-wrap", "cast-ssreps", "mul-ssreps", "dot-sr-all",
                                  "matmul-sr", "matmul-wrap", "cast-floor"])
def test_mode_equals_reference(name, tmp_path):
    """mode= (one CastMode) in place of the separate keywords: the words are the reference's."""
    from fxsim import CastMode
    kw = {k: v for k, v in REF_CASES[name].items() if k not in _MODE_KEYS}
    fields = {k: v for k, v in REF_CASES[name].items() if k in _MODE_KEYS}
    m = export_vectors(str(tmp_path / name), mode=CastMode(**fields), **kw)
    m2, data, want = reference_outputs(str(tmp_path / name))
    assert m2 == m and m["modes"]["rounding"] == fields.get("rounding", "nearest_even")
    assert_same_words(data["y"], want, f"{name} (mode=): exported y vs tests/reference.py",
                      m["ports"]["y"]["wl"], m["ports"]["y"]["signed"])


@pytest.mark.parametrize("extra,match", [
    (dict(rounding="floor"), "either mode= or rounding="),
    (dict(r=8, sr_rule="half"), "either mode= or r=, sr_rule="),
    (dict(), "mode: cast mode must be"),
])
def test_mode_refusals(extra, match, tmp_path):
    from fxsim import CastMode
    mode = CastMode("stochastic", r=8) if extra else 3.5
    with pytest.raises(ValueError, match=match):
        export_vectors(str(tmp_path / "v"), "cast", in_fmt="Q(12,8)", fmt="Q(6,3)", count=10,
                       mode=mode, source="lfsr:16", **extra)
    assert not os.path.exists(tmp_path / "v")


def test_reference_catches_a_wrong_bit(tmp_path):
    """The reference comparison above can fail: flip one bit of one expected word."""
    folder = str(tmp_path / "c")
    export_vectors(folder, "cast", in_fmt="Q(12,8)", fmt="Q(6,3)", rounding="stochastic", r=4,
                   source="lfsr:10", count=200)
    path = os.path.join(folder, "y.mem")
    lines = read_mem_lines(path)
    lines[57] = "%02x" % (int(lines[57], 16) ^ 1)
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    _, data, want = reference_outputs(folder)
    with pytest.raises(AssertionError, match="1 of 200 words differ, first at 57"):
        assert_same_words(data["y"], want, "y", 6, True)


def test_overflow_error_mode(tmp_path):
    folder = str(tmp_path / "e")
    with pytest.raises(OverflowError, match="overflowed"):
        export_vectors(folder, "cast", in_fmt="Q(12,4)", fmt="Q(6,2)", overflow="error", count=100)
    assert not os.path.exists(os.path.join(folder, "manifest.json"))
    # in range: 'error' exports fine
    m = export_vectors(folder, "cast", in_fmt="Q(6,4)", fmt="Q(8,3)", overflow="error", count=100)
    _, data, want = reference_outputs(folder)
    assert data["y"] == want and m["modes"]["overflow"] == "error"


def test_bad_arguments(tmp_path):
    d = str(tmp_path / "x")
    bad = [
        (dict(op="conv", in_fmt="Q8.8", fmt="Q4.4"), "op must be one of"),
        (dict(op="cast", in_fmt="Q8.8"), "fmt is required"),
        (dict(op="cast", fmt="Q4.4"), "in_fmt is required"),
        (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", rounding="nearest"), "rounding must be one of"),
        (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", overflow="clip"), "overflow must be one of"),
        (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", rounding="stochastic", source="lfsr"), "needs r"),
        (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", rounding="stochastic", r=8), "needs a random bit source"),
        (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", rounding="stochastic", r=65, source="lfsr"), "needs r"),
        (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", rounding="stochastic", r=8, source="lfsr:99"), "n must be"),
        (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", rounding="stochastic", r=8, source="mt"), "kind must be"),
        (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", rounding="stochastic", r=9, source="lfsr:8:state"), r"\[1, n\]"),
        (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", rounding="stochastic_eps", r=8, eps=1.5, source="lfsr"), "eps"),
        (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", count=0), "count must be"),
        (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", K=3), "only used by op 'dot'"),
        (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", a_fmt="Q8.8"), "takes in_fmt"),
        (dict(op="cast", inputs=np.zeros(3), fmt="Q4.4"), "must be a FixedArray"),
        (dict(op="cast", inputs=fx_raw([1, 2], QFormat(8, 4)), in_fmt="Q(8,3)", fmt="Q4.4"), "differs"),
        (dict(op="cast", inputs=fx_raw([1, 2], QFormat(8, 4)), fmt="Q4.4", count=3), "count=3 differs"),
        (dict(op="add", a_fmt="Q8.8"), "b_fmt"),
        (dict(op="add", inputs=(fx_raw([1, 2], QFormat(8, 4)),)), "pair"),
        (dict(op="add", inputs=(fx_raw([1, 2], QFormat(8, 4)), fx_raw([1, 2, 3], QFormat(8, 4)))), "broadcast"),
        (dict(op="dot", in_fmt="Q8.8", acc="Q(16,8)"), "K .* is required"),
        (dict(op="dot", in_fmt="Q8.8", K=0), "K must be"),
        (dict(op="dot", in_fmt="Q8.8", K=2, shape=(2, 2, 2)), "not shape"),
        (dict(op="matmul", in_fmt="Q8.8"), "shape="),
        (dict(op="matmul", in_fmt="Q8.8", shape=(2, 3, 4), count=5), "M\\*N"),
        (dict(op="matmul", in_fmt="Q8.8", shape=(2, 3)), "shape must be"),
        (dict(op="mul", in_fmt="Q(40,0)"), "pass fmt"),          # fxsim: full precision > 64 bits
        (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", seed=-1), "seed must be"),
    ]
    for kw, msg in bad:
        with pytest.raises(ValueError, match=msg):
            export_vectors(d, **kw)
    assert not os.path.exists(os.path.join(d, "manifest.json"))
    export_vectors(d, "cast", in_fmt="Q8.8", fmt="Q4.4", count=10)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_vectors(d, "cast", in_fmt="Q8.8", fmt="Q4.4", count=10)
    # overwrite replaces the earlier export, stale files included
    export_vectors(d, "cast", in_fmt="Q8.8", fmt="Q4.4", count=10, rounding="stochastic", r=3,
                   source="lfsr", overwrite=True)
    assert os.path.exists(os.path.join(d, "rnd.mem"))
    export_vectors(d, "cast", in_fmt="Q8.8", fmt="Q4.4", count=10, overwrite=True)
    assert sorted(os.listdir(d)) == ["manifest.json", "mode.mem", "params.vh", "x.mem", "y.mem"]


# ------------------------------------------------------------------------ check_outputs
def test_check_outputs_reports_mismatches(tmp_path):
    folder = str(tmp_path / "v")
    export_vectors(folder, "cast", inputs=fx_raw(list(range(-40, 60)), QFormat(9, 4)),
                   fmt=QFormat(5, 1), rounding="nearest_even")
    want = read_mem_lines(os.path.join(folder, "y.mem"))
    prod = str(tmp_path / "y_rtl.mem")

    def write(lines):
        with open(prod, "w") as fh:
            fh.write("\n".join(lines) + "\n")

    write(want)
    rep = check_outputs(folder, prod)
    assert rep.ok and bool(rep) and rep.mismatches == 0 and "all 100 words match" in str(rep)
    got = list(want)
    got[17] = "%02x" % (int(got[17], 16) ^ 0x10)       # the sign bit of one word
    got[80] = "xx"
    write(got)
    rep = check_outputs(folder, prod)
    assert not rep and rep.mismatches == 2 and rep.first == 17
    assert rep.expected == want[17] and rep.got == got[17]
    assert [e[0] for e in rep.examples] == [17, 80]
    assert "2 of 100 words differ, first at index 17" in str(rep)
    write(want[:-3])
    rep = check_outputs(folder, prod)
    assert rep.mismatches == 3 and rep.first == 97 and rep.got is None and rep.got_words == 97
    write(want + ["00"])
    assert check_outputs(folder, prod).mismatches == 1
    write(["1" + w for w in want])                      # over-wide words
    assert check_outputs(folder, prod).mismatches == 100
    with pytest.raises(ValueError, match="not an output port"):
        check_outputs(folder, prod, port="x")


# ------------------------------------------------------------------------ (c) RTL co-simulation
RTL_N = 10_000
SR_CODES = {"stochastic": 0, "nearest_even": 1, "floor": 2}     # rtl/sr_unit.v `mode`


def sr_unit_adapter(folder, bench):
    """A folder tb_sr_unit.v reads: the export's x.mem (and rnd.mem) linked, plus the two files
    the bench also wants: mode.mem (the manifest's rounding as the unit's mode code, every
    case) and, for a deterministic mode, a rnd.mem of zeros (the unit ignores it).
    Returns the bench parameters."""
    m, _ = read_vectors(folder)
    fx_, fy = m["formats"]["x"], m["formats"]["y"]
    assert fx_["signed"] and fy["signed"] and m["modes"]["overflow"] == "saturate"
    assert m["modes"]["sr_rule"] == "trunc" and m["modes"]["E"] == 0
    os.makedirs(bench, exist_ok=True)
    os.symlink(os.path.abspath(os.path.join(folder, "x.mem")), os.path.join(bench, "x.mem"))
    code = SR_CODES[m["modes"]["rounding"]]
    if code == 0:
        os.symlink(os.path.abspath(os.path.join(folder, m["draws"]["rnd"]["file"])),
                   os.path.join(bench, "rnd.mem"))
        r = m["draws"]["rnd"]["r"]
    else:
        r = 1
        with open(os.path.join(bench, "rnd.mem"), "w") as fh:
            fh.write("0\n" * m["count"])
    with open(os.path.join(bench, "mode.mem"), "w") as fh:
        fh.write(("%d\n" % code) * m["count"])
    return {"WI": vparam(fx_["wl"]), "FI": vparam(fx_["fl"]), "WO": vparam(fy["wl"]),
            "FO": vparam(fy["fl"]), "R": vparam(r), "COUNT": vparam(m["count"])}


def assert_rtl_matches(folder, produced, port="y"):
    """Word for word, twice: check_outputs and an independent line comparison."""
    m, _ = read_vector_set(folder)
    info = m["ports"][port]
    assert_same_words(read_mem_lines(produced), read_mem_lines(os.path.join(folder, info["file"])),
                      f"{folder}: RTL {port} vs exported", info["wl"], info["signed"])
    rep = check_outputs(folder, produced, port=port)
    assert rep.ok, str(rep)
    return m


def sat_possible(wi, fi, wo, fo, mode):
    """Can some Q(wi, fi) word saturate Q(wo, fo) in this mode (every word is exported: the
    edge words min and max, and ties at the output's largest q)?"""
    s = fi - fo
    lo, hi = -(1 << (wi - 1)), (1 << (wi - 1)) - 1
    omin, omax = -(1 << (wo - 1)), (1 << (wo - 1)) - 1
    if (lo >> s) < omin or (hi >> s) > omax:
        return True
    return mode != "floor" and (hi >> s) == omax and hi % (1 << s) != 0


# (WI, FI, WO, FO, r, source)
SR_CONFIGS = [
    (16, 12, 8, 4, 8, "lfsr:16"),
    (12, 6, 5, 2, 4, "ideal:pcg64"),
    (32, 20, 16, 4, 13, "lfsr:31:fibonacci:state"),
]


@requires_iverilog
@pytest.mark.rtl
@pytest.mark.parametrize("cfg", SR_CONFIGS, ids=lambda c: "WI%d-FI%d-WO%d-FO%d-r%d-%s" % c)
def test_rtl_sr_unit_runs_exported_casts(cfg, tmp_path):
    wi, fi, wo, fo, r, source = cfg
    for mode in ("stochastic", "nearest_even", "floor"):
        folder = str(tmp_path / mode / "vec")
        kw = dict(r=r, source=source, source_seed=11) if mode == "stochastic" else {}
        export_vectors(folder, "cast", in_fmt=QFormat(wi, fi), fmt=QFormat(wo, fo), rounding=mode,
                       overflow="saturate", count=RTL_N, seed=wi * 100 + r, bench=False, **kw)
        bench, out = str(tmp_path / mode / "bench"), str(tmp_path / mode / "out")
        run_tb("tb_sr_unit", sr_unit_adapter(folder, bench), bench, out)
        m = assert_rtl_matches(folder, os.path.join(out, "y.mem"))
        # the RTL's own flags: the set rounded both ways and saturated
        up = read_mem_lines(os.path.join(out, "up.mem"))
        sat = read_mem_lines(os.path.join(out, "sat.mem"))
        assert len(up) == RTL_N
        assert ("1" in sat) == sat_possible(wi, fi, wo, fo, mode), "saturation (not) exercised"
        if mode != "floor":
            assert "1" in up and "0" in up
        _, d = read_vector_set(folder)
        assert max(d["y"]) == (1 << (wo - 1)) - 1 and min(d["y"]) == -(1 << (wo - 1))
        assert m["count"] == RTL_N


# (n, form, rule, r, WI, FI, WO, FO)
LFSR_CONFIGS = [
    (16, "galois", "serial", 8, 16, 12, 8, 4),
    (32, "fibonacci", "state", 12, 24, 16, 10, 2),
]


@requires_iverilog
@pytest.mark.rtl
@pytest.mark.parametrize("cfg", LFSR_CONFIGS, ids=lambda c: "n%d-%s-%s-r%d-WI%d-FI%d-WO%d-FO%d" % c)
def test_rtl_lfsr_bench_reproduces_manifest_source(cfg, tmp_path):
    """tb_sr_lfsr.v draws from its own LFSR: the manifest's configuration and seed.mem (the
    register at the start of the set; the source had been used before) must reproduce rnd.mem
    and y.mem. The bench reads the export's seed.mem and x.mem as they are."""
    n, form, rule, r, wi, fi, wo, fo = cfg
    src = fx.LFSR(n=n, form=form, rule=rule, seed=0x5EED)
    src.draws(1234, r)
    folder = str(tmp_path / "vec")
    m = export_vectors(folder, "cast", in_fmt=QFormat(wi, fi), fmt=QFormat(wo, fo),
                       rounding="stochastic", r=r, source=src, count=RTL_N, seed=3)
    s = m["source"]
    assert s["draw_index"] == 1234 and s["lanes"] == 1
    params = {"N": vparam(s["n"]), "MASK": vparam(int(s["mask"], 16), s["n"]),
              "FORM": vparam(s["form"]), "RULE": vparam(s["rule"]), "WI": vparam(wi),
              "FI": vparam(fi), "WO": vparam(wo), "FO": vparam(fo), "R": vparam(s["r"]),
              "COUNT": vparam(m["count"])}
    out = str(tmp_path / "out")
    run_tb("tb_sr_lfsr", params, folder, out)
    assert_same_words(read_mem_lines(os.path.join(out, "draw.mem")),
                      read_mem_lines(os.path.join(folder, "rnd.mem")), "RTL LFSR draws vs rnd.mem",
                      r, False)
    assert_rtl_matches(folder, os.path.join(out, "y.mem"))


# (WX, fa, WY, fb, WA, K)
MAC_CONFIGS = [
    (8, 4, 8, 4, 14, 16),
    (12, 3, 10, 9, 18, 4),
    (16, 15, 16, 15, 32, 8),
]


@requires_iverilog
@pytest.mark.rtl
@pytest.mark.parametrize("cfg", MAC_CONFIGS, ids=lambda c: "a%d.%d-b%d.%d-acc%d-K%d" % c)
def test_rtl_sat_mac_runs_exported_dots(cfg, tmp_path):
    """tb_sat_mac.v reads the export's a.mem and b.mem as they are (row j = dot j)."""
    wx, fa, wy, fb, wa, k = cfg
    folder = str(tmp_path / "vec")
    m = export_vectors(folder, "dot", a_fmt=QFormat(wx, fa), b_fmt=QFormat(wy, fb),
                       acc=QFormat(wa, fa + fb), overflow="saturate", K=k, count=RTL_N, seed=wa)
    assert m["formats"]["prod"] is None and m["formats"]["out"] is None
    assert m["ports"]["y"]["wl"] == wa and m["ports"]["a"]["words"] == RTL_N * k
    params = {"WX": vparam(wx), "WY": vparam(wy), "WA": vparam(wa), "K": vparam(m["K"]),
              "COUNT": vparam(m["count"])}
    out = str(tmp_path / "out")
    run_tb("tb_sat_mac", params, folder, out)
    assert_rtl_matches(folder, os.path.join(out, "y.mem"))
    # saturation was exercised, and some in-range result differs from the unsaturated sum
    _, d = read_vector_set(folder)
    amax, amin = (1 << (wa - 1)) - 1, -(1 << (wa - 1))
    assert amax in d["y"] and amin in d["y"]
    exact = [sum(x * y for x, y in zip(d["a"][j * k:(j + 1) * k], d["b"][j * k:(j + 1) * k]))
             for j in range(RTL_N)]
    assert any(e != y and amin < y < amax for e, y in zip(exact, d["y"]))


@requires_iverilog
@pytest.mark.rtl
def test_rtl_mismatch_is_reported(tmp_path):
    """A bench that does not match (the sat_mac of a narrower accumulator) is caught."""
    folder = str(tmp_path / "vec")
    export_vectors(folder, "dot", in_fmt=QFormat(8, 0), acc=QFormat(16, 0), K=8, count=500)
    out = str(tmp_path / "out")
    run_tb("tb_sat_mac", {"WX": "8", "WY": "8", "WA": "15", "K": "8", "COUNT": "500"}, folder, out)
    rep = check_outputs(folder, os.path.join(out, "y.mem"))
    assert not rep.ok and rep.mismatches > 0 and rep.first == 0    # row 0: 8 * 127 * 127 saturates
    assert main(["check-vectors", folder, os.path.join(out, "y.mem")]) == 1


# ------------------------------------------------------------------------ (d) CLI
def test_cli_export_cast_end_to_end(tmp_path, capsys):
    out = str(tmp_path / "vec")
    rc = main(["export-vectors", out, "--op", "cast", "--in-fmt", "Q(16,12)", "--fmt", "Q(8,4)",
               "--rounding", "stochastic", "--r", "8", "--source", "lfsr:16:galois:serial",
               "--seed", "1", "--count", "3000"])
    assert rc == 0
    assert "wrote 3000 cases of cast" in capsys.readouterr().out
    m, data, want = reference_outputs(out)
    assert data["y"] == want
    assert m["formats"]["x"] == {"wl": 16, "fl": 12, "signed": True}
    assert m["source"]["kind"] == "lfsr" and m["source"]["seed"] == "0x1"
    assert data["rnd"] == ref.ref_lfsr_draws(16, m["source"]["taps"], "galois", "serial", 8, 1, 3000)
    assert main(["check-vectors", out, os.path.join(out, "y.mem")]) == 0
    assert "all 3000 words match" in capsys.readouterr().out


def test_cli_export_mac_and_matmul(tmp_path):
    out = str(tmp_path / "mac")
    assert main(["export-vectors", out, "--op", "dot", "--a-fmt", "Q(8,4)", "--b-fmt", "Q(6,5)",
                 "--acc", "Q(16,8)", "--prod", "Q(10,6)", "--fmt", "Q(8,2)", "--K", "16",
                 "--rounding", "stochastic_eps", "--eps", "0.25", "--r", "6",
                 "--source", "ideal:pcg64", "--source-seed", "9", "--count", "300"]) == 0
    m, data, want = reference_outputs(out)
    assert data["y"] == want and m["K"] == 16 and m["draws"]["rnd"]["per_case"] == 33
    assert m["source"]["seed"] == 9 and m["modes"]["E"] == 16
    out = str(tmp_path / "mm")
    assert main(["export-vectors", out, "--op", "matmul", "--in-fmt", "Q(7,3)", "--acc", "Q(12,3)",
                 "--shape", "4,5,6", "--overflow", "wrap", "--rounding", "floor"]) == 0
    m, data, want = reference_outputs(out)
    assert data["y"] == want and m["shape"] == [4, 5, 6] and m["count"] == 24
    # --force replaces it
    assert main(["export-vectors", out, "--op", "add", "--in-fmt", "Q(7,3)", "--count", "20",
                 "--force", "--no-edges"]) == 0
    m, data, want = reference_outputs(out)
    assert data["y"] == want and m["generator"]["edge_cases"] == 0


@pytest.mark.parametrize("argv,msg", [
    (["--op", "cast", "--in-fmt", "Q(16,12)"], "needs --fmt"),
    (["--op", "cast", "--in-fmt", "Q(16", "--fmt", "Q(8,4)"], "argument --in-fmt: cannot parse"),
    (["--op", "cast", "--in-fmt", "Q(16,12)", "--fmt", "Q(8,4)", "--rounding", "stochastic",
      "--source", "lfsr"], "needs --r"),
    (["--op", "cast", "--in-fmt", "Q(16,12)", "--fmt", "Q(8,4)", "--rounding", "stochastic",
      "--r", "8"], "needs --source"),
    (["--op", "cast", "--in-fmt", "Q(16,12)", "--fmt", "Q(8,4)", "--r", "8"],
     "only used with stochastic"),
    (["--op", "cast", "--in-fmt", "Q(16,12)", "--fmt", "Q(8,4)", "--rounding", "stochastic",
      "--r", "8", "--source", "lfsr:16:sideways"], "cannot read 'sideways'"),
    (["--op", "cast", "--in-fmt", "Q(16,12)", "--fmt", "Q(8,4)", "--rounding", "stochastic",
      "--r", "8", "--source", "lfsr:16", "--seed", "0"], "source-seed"),
    (["--op", "cast", "--in-fmt", "Q(16,12)", "--fmt", "Q(8,4)", "--rounding", "nearest"],
     "invalid choice"),
    (["--op", "conv", "--in-fmt", "Q(16,12)", "--fmt", "Q(8,4)"], "invalid choice"),
    (["--op", "dot", "--in-fmt", "Q(8,4)", "--acc", "Q(16,8)"], "K .* is required"),
    (["--op", "cast", "--in-fmt", "Q(8,4)", "--fmt", "Q(4,2)", "--count", "0"], "positive integer"),
    (["--op", "matmul", "--in-fmt", "Q(8,4)", "--shape", "2,x"], "M,K,N"),
    (["--op", "cast", "--in-fmt", "Q(8,4)", "--fmt", "Q(4,2)", "--eps", "0.5"], "--eps is only"),
])
def test_cli_errors(argv, msg, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["export-vectors", str(tmp_path / "o")] + argv)
    assert e.value.code == 2
    assert re.search(msg, capsys.readouterr().err)
    assert not os.path.exists(str(tmp_path / "o" / "manifest.json"))


def test_cli_demo(capsys):
    assert main(["demo"]) == 0
    assert "bit-accurate fixed-point datapath" in capsys.readouterr().out


def test_cli_default_is_the_gd_study(monkeypatch):
    import fxsim.cli as cli
    seen = {}
    monkeypatch.setattr(cli, "gd_study_cmd", lambda args: seen.setdefault("args", args) and 0)
    assert cli.main([]) == 0
    assert seen["args"].cmd == "gd-study" and not seen["args"].quick
