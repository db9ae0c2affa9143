"""Float arithmetic (issue 16, point 3; spec §9.8): add/sub/mul/fma rounded once, against the
Fraction reference (tests/oracles/float_arith_reference.py) exhaustively over every pair of
small formats in every mode, random pairs of e4m3/e5m2 in every mode with SR draws, hypothesis
for bf16/fp16/fp32, APyTypes' APyFloat add/mul bit for bit, SR's P(round away) over all 2^r
draws against the closed form; dot/matvec/matmul with float and fixed-point roles against the
spec §4 reference, with draws, counters and refusals as for fixed point."""
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fxsim
from fxsim import FloatArray, FloatFormat
from float_arith_reference import code_float, ref_arith_info, ref_float_dot
from float_reference import fmt_of, ref_decode

DET = ("nearest_even", "nearest_away", "toward_zero", "away_from_zero", "floor", "ceil",
       "round_to_odd")
SR = ("stochastic", "stochastic_eps", "signed_stochastic_eps")
OVF = ("saturate", "ieee", "error")
OPS = {"add": fxsim.add, "sub": fxsim.sub, "mul": fxsim.mul}
TALLY = {}


def ref_fmt(f: FloatFormat):
    return fmt_of(f.exp_bits, f.man_bits, f.nonfinite, f.bias, f.subnormals)


def all_codes(f: FloatFormat) -> FloatArray:
    return FloatArray(np.arange(1 << f.nbits), f)


def run_op(op, a, b, c, fmt, rounding, overflow, **kw):
    """fxsim's codes and counters, or the exception type it raised."""
    try:
        with fxsim.Counters() as cnt:
            if op == "fma":
                res = fxsim.fma(a, b, c, fmt, rounding, overflow, **kw)
            else:
                res = OPS[op](a, b, fmt, rounding, overflow, **kw)
    except (ValueError, OverflowError) as e:
        return type(e), None
    return res.raw.astype(np.uint64).tolist(), (cnt.cast, cnt.inexact, cnt.rounded_up,
                                                cnt.overflowed)


def ref_batch(op, xs, ys, zs, rf, rounding, overflow, Rs=None, **kw):
    """The reference codes and counters of a batch (or the exception type of its first
    refusal: NaN results are refused before anything else, then overflow)."""
    codes, tot = [], [0, 0, 0, 0]
    first = None
    for i, (x, y) in enumerate(zip(xs, ys)):
        z = zs[i] if zs is not None else None
        try:
            info = ref_arith_info(op, x, y, z, rf, rounding, overflow,
                                  R=None if Rs is None else int(Rs[i]), **kw)
        except ValueError:
            return ValueError, None
        except OverflowError:
            first = first or OverflowError
            continue
        codes.append(info[0])
        tot[0] += 1
        for k in range(3):
            tot[k + 1] += int(bool(info[k + 1]))
    if first is not None:
        return first, None
    return codes, tuple(tot)


def check_pairs(op, f: FloatFormat, xs, ys, zs=None, modes=DET, overflows=OVF, out=None):
    """Every (x, y[, z]) through every mode and overflow, codes and counters exact."""
    out = out or f
    rf = ref_fmt(out)
    fx_x, fx_y = fxsim.cast(np.array(xs), f), fxsim.cast(np.array(ys), f)
    fx_z = fxsim.cast(np.array(zs), f) if zs is not None else None
    n = 0
    for rounding in modes:
        for overflow in overflows:
            got = run_op(op, fx_x, fx_y, fx_z, out, rounding, overflow)
            want = ref_batch(op, xs, ys, zs, rf, rounding, overflow)
            assert got[0] == want[0] if isinstance(want[0], type) else got == want, \
                (op, f, rounding, overflow, _first_diff(got, want, xs, ys))
            n += len(xs)
    TALLY[(op, str(f), str(out))] = TALLY.get((op, str(f), str(out)), 0) + n


def _first_diff(got, want, xs, ys):
    if not isinstance(got[0], list) or not isinstance(want[0], list):
        return got[0] if not isinstance(got[0], list) else "codes", want[0] if not isinstance(
            want[0], list) else "codes"
    for i, (g, w) in enumerate(zip(got[0], want[0])):
        if g != w:
            return xs[i], ys[i], hex(g), hex(w)
    return got[1], want[1]


def finite_values(f: FloatFormat):
    rf = ref_fmt(f)
    return [code_float(c, rf) for c in range(1 << f.nbits) if not isinstance(ref_decode(c, rf), str)]


def all_values(f: FloatFormat):
    rf = ref_fmt(f)
    return [code_float(c, rf) for c in range(1 << f.nbits)]


SLOW = pytest.mark.slow
SMALL6 = [pytest.param(FloatFormat("e2m1"), id="e2m1"),
          pytest.param(FloatFormat(2, 1), id="E2M1-ieee"),
          pytest.param(FloatFormat(2, 2, subnormals=False), id="E2M2-nosub", marks=SLOW),
          pytest.param(FloatFormat("e3m2"), id="e3m2", marks=SLOW),
          pytest.param(FloatFormat(3, 2), id="E3M2-ieee", marks=SLOW),
          pytest.param(FloatFormat(2, 3, nonfinite="fn"), id="E2M3fn", marks=SLOW),
          pytest.param(FloatFormat(3, 2, subnormals=False), id="E3M2-nosub", marks=SLOW)]


@pytest.mark.parametrize("f", SMALL6)
@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_exhaustive_small(op, f):
    """Every pair of codes of a <= 6-bit format (signed zeros, inf and NaN included), every
    deterministic mode and overflow mode: codes and counters as the reference (the 5- and
    6-bit formats are slow tests; the default run takes the two 4-bit ones)."""
    vals = all_values(f) if f.has_nan else finite_values(f)
    xs, ys = zip(*itertools.product(vals, vals))
    # NaN operands make a refused call in a 'none' format: those are finite formats here
    check_pairs(op, f, list(xs), list(ys))


@pytest.mark.parametrize("full", [False, pytest.param(True, marks=SLOW)])
def test_exhaustive_fma_e2m1_and_e3m2_into_e4m3(full):
    """fma over every triple of e2m1 codes, and add/mul of every e3m2 pair into e4m3 (a
    result format other than the operands'); the default run takes two modes."""
    f = FloatFormat("e2m1")
    vals = finite_values(f)
    xs, ys, zs = zip(*itertools.product(vals, vals, vals))
    check_pairs("fma", f, list(xs), list(ys), list(zs), modes=DET if full else DET[::6],
                overflows=OVF if full else ("saturate",))
    if not full:
        return
    g = FloatFormat("e3m2")
    vals = finite_values(g)
    xs, ys = zip(*itertools.product(vals, vals))
    for op in ("add", "mul"):
        check_pairs(op, g, list(xs), list(ys), out=FloatFormat("e4m3"), modes=DET[:3],
                    overflows=("ieee",))


def check_sr(op, f: FloatFormat, xs, ys, zs, r, rule, seed, out=None):
    """Stochastic modes with explicit draws, against the reference with the same R."""
    out = out or f
    rf = ref_fmt(out)
    rng = np.random.default_rng(seed)
    n = len(xs)
    fx = [fxsim.cast(np.array(t), f) if t is not None else None for t in (xs, ys, zs)]
    for rounding in SR:
        R = rng.integers(0, 1 << r, n, dtype=np.uint64)
        v = rng.choice([-1.0, 0.0, 1.0], n)
        kw = dict(r=r, eps=0.25, sr_rule=rule)
        got = run_op(op, *fx, out, rounding, "saturate", draws=R, v=v, **kw)
        codes = [ref_arith_info(op, x, y, zs[i] if zs else None, rf, rounding, "saturate",
                                R=int(R[i]), v=float(v[i]), **kw)[0] for i, (x, y) in enumerate(zip(xs, ys))]
        assert got[0] == codes, (op, f, rounding, rule)
        TALLY[("sr", op, str(f))] = TALLY.get(("sr", op, str(f)), 0) + n


@pytest.mark.parametrize("name", ["e4m3", "e5m2"])
@pytest.mark.parametrize("n", [90, pytest.param(3000, marks=SLOW)])
def test_random_pairs_fp8_every_mode(name, n):
    """Random pairs (and triples for fma) of e4m3/e5m2 codes, every deterministic mode and
    overflow, and the three stochastic modes under each few-bit rule."""
    f = FloatFormat(name)
    rng = np.random.default_rng(n)
    vals = np.array(finite_values(f))
    xs, ys, zs = (vals[rng.integers(0, vals.size, n)].tolist() for _ in range(3))
    for op in ("add", "sub", "mul"):
        check_pairs(op, f, xs, ys)
    m = n // 3
    check_pairs("fma", f, xs[:m], ys[:m], zs[:m])
    for k, (rule, r) in enumerate((("trunc", 5), ("half", 8), ("rne", 3))):
        for op in ("add", "mul"):
            check_sr(op, f, xs[:m], ys[:m], None, r, rule, seed=k)
        check_sr("fma", f, xs[:m], ys[:m], zs[:m], r, rule, seed=3 + k)


WIDE = {"bf16": FloatFormat("bf16"), "fp16": FloatFormat("fp16"), "fp32": FloatFormat("fp32")}


def wide_value(f: FloatFormat):
    rf = ref_fmt(f)
    return st.integers(0, (1 << f.nbits) - 1).map(lambda c: code_float(c, rf))


@pytest.mark.parametrize("name", sorted(WIDE))
def test_hypothesis_wide(name):
    f = WIDE[name]
    rf = ref_fmt(f)

    @settings(max_examples=120, deadline=None)
    @given(x=wide_value(f), y=wide_value(f), z=wide_value(f),
           op=st.sampled_from(["add", "sub", "mul", "fma"]),
           rounding=st.sampled_from(DET + ("stochastic",)),
           R=st.integers(0, (1 << 20) - 1), rule=st.sampled_from(["trunc", "half", "rne"]))
    def prop(x, y, z, op, rounding, R, rule):
        kw = dict(r=20, sr_rule=rule, draws=np.array([R], np.uint64)) if rounding == "stochastic" else {}
        got = run_op(op, *(fxsim.cast(np.array([t]), f) for t in (x, y, z)), f, rounding, "ieee", **kw)
        want = ref_arith_info(op, x, y, z, rf, rounding, "ieee", R=R if kw else None,
                              r=20, sr_rule=rule)
        assert got[0] == [want[0]], (x, y, z, op, rounding)
    prop()


def test_fp32_cancellation_and_far_operands():
    """The window's hard cases: exact cancellation, operands 2**-24 .. 2**-300 apart (sticky),
    subnormal results, fma with a product far below the addend; all modes."""
    f = WIDE["fp32"]
    tiny, one = 2.0**-149, 1.0
    xs = [one, one, 2.0**100, -one, 3.0 * 2**-126, 2.0**127, one + 2**-23, -2.0**-126]
    ys = [-one, tiny, -tiny, 2.0**-24, -2.0**-126, 2.0**127, -(one + 2**-22), 2.0**-149]
    for op in ("add", "sub", "mul"):
        check_pairs(op, f, xs, ys)
    check_pairs("fma", f, xs, ys, [-one, 2.0**-100, one, -2.0**-24, tiny, -2.0**127, one, 0.0])


apy = pytest.importorskip("apytypes")
APY_MODES = {"nearest_even": "TIES_EVEN", "nearest_away": "TIES_AWAY", "toward_zero": "TO_ZERO",
             "away_from_zero": "TO_AWAY", "floor": "TO_NEG", "ceil": "TO_POS",
             "round_to_odd": "JAM_UNBIASED"}


@pytest.mark.parametrize("name", ["bf16", "fp16", "e5m2", "E4M3ieee", "E3M4"])
@pytest.mark.parametrize("rounding", sorted(APY_MODES))
def test_apytypes_add_mul(name, rounding):
    """IEEE-like formats, overflow 'ieee': add and mul bit for bit as APyTypes' APyFloatArray
    arithmetic under its quantization context, in every mode both have."""
    f = FloatFormat(name)
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 1 << f.nbits, (2, 4000))
    x, y = (FloatArray(c, f) for c in codes)
    keep = np.isfinite(x.to_float()) & np.isfinite(y.to_float())
    x, y = FloatArray(x.raw[keep], f), FloatArray(y.raw[keep], f)
    ax, ay = (apy.APyFloatArray.from_float(t.to_float(), f.exp_bits, f.man_bits) for t in (x, y))
    mode = getattr(apy.QuantizationMode, APY_MODES[rounding])
    for op, fn, afn in (("add", fxsim.add, lambda a, b: a + b), ("mul", fxsim.mul, lambda a, b: a * b)):
        with apy.APyFloatQuantizationContext(mode):
            theirs = np.asarray(afn(ax, ay).to_bits()).astype(np.uint64).ravel()
        got = fn(x, y, None, rounding, "ieee").raw.astype(np.uint64)
        # NaN codes may differ in payload: compare NaN-ness there
        nan = np.isnan(FloatArray(theirs, f).to_float())
        bad = np.nonzero((got != theirs) & ~nan)[0]
        TALLY[("apy", op, name, rounding)] = (got.size, bad.size)
        assert bad.size == 0, [(x.to_float()[i], y.to_float()[i], hex(got[i]), hex(theirs[i]))
                               for i in bad[:4]]
        assert np.isnan(FloatArray(got[nan], f).to_float()).all()


@pytest.mark.parametrize("rule", ["trunc", "half", "rne"])
def test_sr_probability_closed_form(rule):
    """Over all 2**r draws, the count of rounded-away results of an SR add equals the closed
    form of spec §9.2: floor(phi 2^r) (trunc), floor(phi 2^r + 1/2) (half), RNE(phi 2^r) (rne)."""
    f = FloatFormat("e4m3")
    r = 6
    draws = np.arange(1 << r, dtype=np.uint64)
    for x, y in ((1.0, 0.001953125 * 3), (1.5, 0.01171875), (-2.0, -0.015625 * 5),
                 (8.0, 0.0078125 * 7), (0.25, -0.001953125)):
        exact = Fraction(x) + Fraction(y)
        a = fxsim.cast(np.full(1 << r, x), f)
        b = fxsim.cast(np.full(1 << r, y), f)
        assert a.to_float()[0] == x and b.to_float()[0] == y
        res = fxsim.add(a, b, None, "stochastic", "saturate", r=r, sr_rule=rule, draws=draws)
        mags = np.abs(res.to_float())
        lo = float(np.min(mags))
        away = int(np.sum(mags > lo))
        # phi of |exact| on the format's spacing around it
        e = math.floor(math.log2(abs(exact)))
        u = Fraction(2) ** (max(e, f.emin) - f.man_bits)
        t = abs(exact) / u
        phi = t - math.floor(t)
        y2 = phi * (1 << r)
        closed = {"trunc": math.floor(y2), "half": math.floor(y2 + Fraction(1, 2)),
                  "rne": round(y2)}[rule]          # Python's round is half-to-even
        assert away == closed, (x, y, rule, away, closed)


def test_draws_counters_and_refusals():
    """SR from a source takes one draw per element in C order (the same words as draws= from a
    copy), counters count per element; a refused call (NaN result in a format without NaN,
    overflow='error') takes no draws and writes nothing."""
    f = FloatFormat("e4m3")
    rng = np.random.default_rng(2)
    vals = np.array(finite_values(f))
    x = fxsim.cast(vals[rng.integers(0, vals.size, (40, 30))], f)
    y = fxsim.cast(vals[rng.integers(0, vals.size, (40, 30))], f)
    src = fxsim.make_source("lfsr:32", seed=5)
    twin = src.copy()
    with fxsim.Counters() as c:
        got = fxsim.mul(x, y, None, "stochastic", "saturate", r=12, source=src)
    want = fxsim.mul(x, y, None, "stochastic", "saturate", r=12, draws=twin.draws(1200, 12))
    assert (got.raw == want.raw).all() and c.draws == 1200 and c.cast == 1200
    assert src.state == twin.state
    e2m1 = FloatFormat("e2m1")
    h = FloatFormat("fp16")
    inf = fxsim.cast(np.array([np.inf, 1.0]), h)
    before = src.state
    with pytest.raises(ValueError, match="NaN"):
        fxsim.sub(inf, inf, e2m1, "stochastic", r=8, source=src)
    assert src.state == before
    big = fxsim.cast(np.array([400.0, 448.0]), f)
    with pytest.raises(OverflowError, match="overflowed"):
        fxsim.add(big, big, None, "stochastic", "error", r=8, source=src)
    assert src.state == before
    with pytest.raises(ValueError, match="FixedArray"):
        fxsim.add(x, fxsim.cast([1.0], "Q4.4"))
    with pytest.raises(ValueError, match="fmt="):
        fxsim.add(x, fxsim.cast(np.ones((40, 30)), h))
    with pytest.raises(ValueError, match="out="):
        fxsim.add(x, y, out=np.empty((40, 30), np.uint8))
    # scalars exact in float64 join a FloatArray; the overflow default is 'ieee'
    assert fxsim.mul(big, 2.0).to_float()[0] != fxsim.mul(big, 2.0).to_float()[0]    # NaN (fn)
    assert fxsim.add(fxsim.cast([1.0], h), 2**-11, rounding="ceil").to_float()[0] == 1 + 2**-10
    with pytest.raises(ValueError, match="not exact"):
        fxsim.add(fxsim.cast([1.0], h), np.array([2**60 + 1]))


def test_signed_zero_and_nan_results():
    f = FloatFormat("fp16")
    z = fxsim.cast(np.array([0.0, -0.0, 1.0, -1.0]), f)
    p, n = FloatArray([0x0000], f), FloatArray([0x8000], f)
    assert fxsim.add(n, n).raw[0] == 0x8000 and fxsim.add(p, n).raw[0] == 0
    assert fxsim.add(p, n, rounding="floor").raw[0] == 0x8000
    assert fxsim.sub(z[2:3], z[2:3]).raw[0] == 0 and fxsim.sub(z[2:3], z[2:3], rounding="floor").raw[0] == 0x8000
    assert fxsim.mul(z[1:2], z[2:3]).raw[0] == 0x8000
    nan = fxsim.mul(fxsim.cast(np.array([np.inf]), f), p)
    assert nan.raw[0] == f.nan_code    # NaN results: the format's NaN, sign clear


# -- dot products -----------------------------------------------------------------------------

def role(kind, fmt, rounding="nearest_even", overflow=None, r=None, eps=0, rule="trunc"):
    if kind == "float":
        f = FloatFormat.parse(fmt)
        return ("float", ref_fmt(f), rounding, overflow or "ieee", r, eps, rule), f
    q = fxsim.QFormat.parse(fmt)
    return ("fixed", (q.wl, q.fl, q.signed), rounding, overflow or "saturate", r, eps, rule), q


MAC_CASES = [
    # (A format, B format, prod, acc, out, rounding)
    ("e4m3", "e4m3", None, ("float", "fp32"), None, "nearest_even"),         # the fast path
    ("bf16", "bf16", None, ("float", "fp32"), ("float", "bf16"), "nearest_even"),
    ("e4m3", "e5m2", ("float", "fp16"), ("float", "bf16"), None, "toward_zero"),
    ("e4m3", "e4m3", None, ("fixed", "Q(24,12)"), None, "nearest_even"),
    ("e5m2", "e4m3", None, ("fixed", "Q(32,20)"), ("float", "e4m3"), "floor"),
    ("e4m3", "e4m3", ("fixed", "Q(16,10)"), ("float", "fp16"), ("fixed", "Q(12,4)"), "ceil"),
    ("bf16", "e4m3", None, ("float", "E5M6"), None, "round_to_odd"),
    ("fp16", "fp16", None, ("float", "fp16"), None, "nearest_away"),
]


@pytest.mark.parametrize("case", MAC_CASES, ids=lambda c: f"{c[0]}x{c[1]}-{c[3][1]}-{c[5]}")
@pytest.mark.parametrize("stochastic", [False, True])
def test_matmul_against_reference(case, stochastic):
    fa, fb, prod, acc, out, rounding = case
    Fa, Fb = FloatFormat(fa), FloatFormat(fb)
    rng = np.random.default_rng(11)
    M, Kd, N = 4, 9, 5
    A = fxsim.cast(rng.standard_normal((M, Kd)) * 4, Fa, overflow="saturate")
    B = fxsim.cast(rng.standard_normal((Kd, N)) * 2, Fb, overflow="saturate")
    kw = dict(r=10, sr_rule="half") if stochastic else {}
    rnd = "stochastic" if stochastic else rounding
    roles, fm = {}, {}
    for name, spec in (("prod", prod), ("acc", acc), ("out", out)):
        if spec is None:
            roles[name], fm[name] = None, None
        else:
            roles[name], fm[name] = role(spec[0], spec[1], rnd, None, kw.get("r"), 0,
                                         kw.get("sr_rule", "trunc"))
    per = Kd * (prod is not None) * stochastic + Kd * stochastic + (out is not None) * stochastic
    src = fxsim.make_source("pcg64", seed=3)
    twin = src.copy()
    with fxsim.Counters() as cnt:
        got = fxsim.matmul(A, B, acc=fm["acc"], prod=fm["prod"], fmt=fm["out"], rounding=rnd,
                           source=src if stochastic else None, **kw)
    draws = twin.draws(M * N * per, 10) if stochastic else np.zeros(0, np.uint64)
    want = np.zeros((M, N), np.int64)
    tot = {k: np.zeros(4, np.int64) for k in ("prod", "acc", "out")}
    Af, Bf = A.to_float(), B.to_float()
    for i in range(M):
        for j in range(N):
            d = draws[(i * N + j) * per:(i * N + j + 1) * per].tolist()
            w, c = ref_float_dot(Af[i].tolist(), Bf[:, j].tolist(), roles, d)
            want[i, j] = w
            for k in tot:
                tot[k] += c[k]
    final = fm["out"] or fm["acc"]
    raw = got.raw.astype(np.int64) if not isinstance(final, FloatFormat) else got.raw.astype(np.int64)
    assert isinstance(got, FloatArray) == isinstance(final, FloatFormat)
    assert got.fmt == final
    assert (raw == want).all(), (raw, want)
    assert src.state == twin.state
    recs = {rec.role: rec for rec in cnt.records}
    for k in ("prod", "acc", "out"):
        if fm[k] is not None:
            assert (recs[k].cast, recs[k].inexact, recs[k].rounded_up, recs[k].overflowed) == \
                tuple(tot[k]), k
            assert recs[k].draws == M * N * (Kd if k != "out" else 1) * stochastic


def test_fast_path_large_and_overflow_rows():
    """The fp32 nearest-even MAC (vectorized rows) equals the reference on a bigger product,
    and rows that overflow fp32 or meet inf are redone by the general loop (same words)."""
    bf = FloatFormat("bf16")
    rng = np.random.default_rng(4)
    A = fxsim.cast(rng.standard_normal((6, 40)) * 2.0 ** rng.integers(-40, 40, (6, 40)), bf)
    B = fxsim.cast(rng.standard_normal((40, 37)), bf)
    Araw = A.raw.copy()
    Araw[2, 5] = 0x7f00          # 2**127: the row overflows fp32
    Araw[4, 0] = 0x7f80          # +inf
    A = FloatArray(Araw, bf)
    got = fxsim.matmul(A, B, acc="fp32")
    roles = {"prod": None, "acc": role("float", "fp32")[0], "out": None}
    Af, Bf = A.to_float(), B.to_float()
    for i in (0, 1, 3, 5):
        for j in range(0, 37, 3):
            w, _ = ref_float_dot(Af[i].tolist(), Bf[:, j].tolist(), roles)
            assert got.raw[i, j] == w, (i, j)
    assert np.isinf(got.to_float()[2]).any()     # 2**127 * |b| > fp32 max
    checked = 0
    for j in range(37):                          # row 2's columns that stay finite
        try:
            w, _ = ref_float_dot(Af[2].tolist(), Bf[:, j].tolist(), roles)
        except ValueError:
            continue
        assert got.raw[2, j] == w
        checked += 1
    assert checked > 10
    row4 = got.to_float()[4]
    assert (np.isnan(row4) | np.isinf(row4)).all()
    ref64 = (Af[[0, 1, 3, 5]] @ Bf)
    assert np.allclose(got.to_float()[[0, 1, 3, 5]], ref64, rtol=1e-5, atol=1e-30)


def test_dot_matvec_shapes_and_refusals():
    e4 = FloatFormat("e4m3")
    a = fxsim.cast(np.array([1.0, 2.0, -0.5]), e4)
    b = fxsim.cast(np.array([0.25, 4.0, 2.0]), e4)
    s = fxsim.dot(a, b, acc="fp32")
    assert s.shape == () and float(s.to_float()) == 7.25
    A = fxsim.cast(np.arange(6.0).reshape(2, 3), e4)
    assert fxsim.matvec(A, b, acc="Q(16,8)").to_float().tolist() == [8.0, 26.75]
    with pytest.raises(ValueError, match="acc="):
        fxsim.dot(a, b)
    with pytest.raises(ValueError, match="FloatArray"):
        fxsim.dot(a, fxsim.cast([1.0, 1.0, 1.0], "Q4.4"), acc="fp32")
    with pytest.raises(ValueError, match="NaN or inf"):
        fxsim.dot(fxsim.cast(np.array([np.inf, 1.0, 1.0]), FloatFormat("fp16")),
                  fxsim.cast(np.ones(3), FloatFormat("fp16")), acc="Q(16,8)")
    with pytest.raises(ValueError, match="r <= 62"):
        fxsim.dot(a, b, acc="Q(16,8)", rounding="stochastic", r=63, draws=np.zeros(3, np.uint64))
    src = fxsim.make_source("pcg64", seed=1)
    before = src.state
    with pytest.raises(OverflowError):
        fxsim.dot(fxsim.cast(np.full(3, 448.0), e4), fxsim.cast(np.full(3, 448.0), e4),
                  acc="fp16", rounding="stochastic", overflow="error", r=8, source=src)
    assert src.state == before
