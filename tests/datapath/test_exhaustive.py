"""Exhaustive tests on small formats (wl <= 6) against the pure-Python reference.

Every raw input of the small formats goes through every deterministic rounding x overflow
mode for casts, add, sub, mul and small dot products; the stochastic modes are swept over
every draw R in [0, 2^r) for r = 1..6. One fxsim call per (format, mode) combination: the
inputs of a combination are one vector.
"""
import re
from fractions import Fraction
from functools import lru_cache

import numpy as np
import pytest

from conftest import container, fixed, qf
from reference import (DETERMINISTIC, STOCHASTIC, RefCounters, fmt_range, pow2, ref_cast_info,
                       ref_dot,
                       ref_overflow, ref_round, stochastic_addend)

OVERFLOWS_NOERR = ("saturate", "saturate_symmetric", "wrap")


@pytest.fixture(autouse=True, scope="module")
def _one_thread(fx):
    """Thousands of small calls: run them on one thread (results never depend on the thread
    count; test_threads_large below checks the threaded path against the reference)."""
    old = fx.get_num_threads()
    fx.set_num_threads(1)
    yield
    fx.set_num_threads(old)

FORMATS6 = [(wl, fl, s) for wl in range(1, 7) for s in (True, False) for fl in (-2, 0, 3, 7)]


def fid(fmt):
    wl, fl, s = fmt
    return f"{'s' if s else 'u'}{wl}.{fl}"


def all_raws(fmt):
    lo, hi = fmt_range(fmt[0], fmt[2])
    return np.arange(lo, hi + 1, dtype=np.int64)


# ---------------------------------------------------------------------------- reference glue
@lru_cache(maxsize=None)
def _round_scaled(n, k, rounding):
    """ref_round(n * 2^k) -- memoized, the values repeat across formats."""
    return ref_round(Fraction(n) * pow2(k), rounding)


def ref_rounded(N, F, fmt, rounding):
    """Rounded integers (before overflow) of the exact values N * 2^-F cast to fmt."""
    u, inv = np.unique(N, return_inverse=True)
    k = fmt[1] - F
    ys = np.array([_round_scaled(int(n), k, rounding) for n in u], dtype=np.int64)
    return ys[inv.ravel()].reshape(N.shape)


def ref_apply_overflow(Y, fmt, overflow):
    u, inv = np.unique(Y, return_inverse=True)
    raws = np.array([ref_overflow(int(y), fmt[0], fmt[2], overflow) for y in u], dtype=np.int64)
    return raws[inv.ravel()].reshape(Y.shape)


def overflow_mask(Y, fmt):
    lo, hi = fmt_range(fmt[0], fmt[2])
    return (Y < lo) | (Y > hi)


def got_raws(res):
    return np.asarray(res.raw).astype(np.int64)


def check_error_message(exc, count, first):
    msg = str(exc)
    assert re.search(rf"(?<![\d.]){count}(?![\d.])", msg), f"count {count} not in {msg!r}"
    assert re.search(rf"(?<![\d.]){first}(?![\d.])", msg), f"first index {first} not in {msg!r}"


def run_modes(call, N, F, fmt, rounding, subset_call, label):
    """Check call(overflow) for every overflow mode against the reference.

    call(overflow) -> FixedArray over the flat inputs whose exact values are N * 2^-F.
    subset_call(mask, overflow) -> the same restricted to inputs where mask is True.
    Returns a list of mismatch descriptions.
    """
    bad = []
    Y = ref_rounded(N, F, fmt, rounding)
    for overflow in OVERFLOWS_NOERR:
        want = ref_apply_overflow(Y, fmt, overflow)
        res = call(overflow)
        got = got_raws(res)
        assert res.raw.dtype == container(fmt)
        if not np.array_equal(got, want):
            i = int(np.flatnonzero(got != want)[0])
            bad.append(f"{label} {rounding}/{overflow}: input #{i} (value {N[i]}*2^-{F}) "
                       f"expected {want[i]}, got {got[i]}")
    ovf = overflow_mask(Y, fmt)
    if ovf.any():
        with pytest.raises(OverflowError) as ei:
            call("error")
        check_error_message(ei.value, int(ovf.sum()), int(np.flatnonzero(ovf)[0]))
    if (~ovf).any():
        res = call("error") if not ovf.any() else subset_call(~ovf, "error")
        got = got_raws(res)
        if not np.array_equal(got, Y[~ovf]):
            bad.append(f"{label} {rounding}/error on the non-overflowing inputs: "
                       f"expected {Y[~ovf][:8]}, got {got[:8]}")
    return bad


# ---------------------------------------------------------------------------- casts
CAST_SOURCES = FORMATS6 + [(10, 7, True), (10, 7, False), (9, -1, True), (8, 12, False)]


def cast_targets(src):
    ws, fs, _ = src
    for wt in sorted({1, max(1, min(6, ws - 2)), min(6, ws)}):
        for ft in (fs - 1, fs - 3, fs + 1):
            for st in (True, False):
                yield (wt, ft, st)


@pytest.mark.parametrize("rounding", DETERMINISTIC)
@pytest.mark.parametrize("src", CAST_SOURCES, ids=fid)
def test_cast_exhaustive(fx, src, rounding):
    raws = all_raws(src)
    xa = fixed(fx, raws, src)
    xf = raws.astype(np.float64) * 2.0 ** -src[1]       # exact: wl <= 10
    bad = []
    for dst in cast_targets(src):
        q = qf(fx, dst)
        for kind, x in (("fixed", xa), ("float", xf)):
            def call(ovf, x=x):
                return fx.cast(x, q, rounding, ovf)

            def subset(mask, ovf, x=x, kind=kind):
                xs = fixed(fx, raws[mask], src) if kind == "fixed" else x[mask]
                return fx.cast(xs, q, rounding, ovf)

            bad += run_modes(call, raws, src[1], dst, rounding, subset,
                             f"cast {kind} {fid(src)}->{fid(dst)}")
    assert not bad, "\n".join(bad[:20])


@pytest.mark.parametrize("fmt", FORMATS6, ids=fid)
def test_negation_exact(fx, fmt):
    """Unary minus is full precision: -(-2^(wl-1)) and -(unsigned) are exact."""
    raws = all_raws(fmt)
    res = -fixed(fx, raws, fmt)
    assert res.fmt.fl == fmt[1]
    assert np.array_equal(got_raws(res), -raws)


def test_cast_preserves_shape_and_format(fx):
    src, dst = (6, 3, True), (4, 1, True)
    raws = all_raws(src).reshape(4, 4, 4)
    res = fx.cast(fixed(fx, raws, src), qf(fx, dst), "nearest_even", "wrap")
    assert res.shape == (4, 4, 4)
    assert res.fmt == qf(fx, dst)
    want = ref_apply_overflow(ref_rounded(raws, 3, dst, "nearest_even"), dst, "wrap")
    assert np.array_equal(got_raws(res), want)


# ---------------------------------------------------------------------------- add, sub, mul
def partner(i, a):
    """A second format for a, rotating through shapes of alignment and signedness."""
    wa, fa, sa = a
    return [(6, min(fa + 2, 7), not sa), (3, -1, True), (5, fa - 3, sa), (2, 7, False)][i % 4]


BIN_PAIRS = [p for i, a in enumerate(FORMATS6) for p in ((a, a), (a, partner(i, a)))]


def exact_numerators(op, A, fa, B, fb):
    """Exact results as integer numerators N at fraction length F (value = N 2^-F)."""
    if op == "mul":
        return A * B, fa + fb
    F = max(fa, fb)
    A2, B2 = A << (F - fa), B << (F - fb)
    return (A2 + B2 if op == "add" else A2 - B2), F


def out_formats(F, i):
    """A coarser signed output and, alternating, a coarser unsigned or a finer signed one."""
    return [(4, F - 1, True), [(3, F - 3, False), (6, F + 1, True)][i % 2]]


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
@pytest.mark.parametrize("ipair", list(enumerate(BIN_PAIRS)),
                         ids=lambda p: f"{fid(p[1][0])}x{fid(p[1][1])}")
def test_binary_exhaustive(fx, op, ipair):
    ip, (fa_fmt, fb_fmt) = ipair
    ra, rb = all_raws(fa_fmt), all_raws(fb_fmt)
    A = np.repeat(ra, len(rb))          # all pairs, flat, a-major
    B = np.tile(rb, len(ra))
    N, F = exact_numerators(op, A, fa_fmt[1], B, fb_fmt[1])
    xa, xb = fixed(fx, A, fa_fmt), fixed(fx, B, fb_fmt)
    fn = getattr(fx, op)
    bad = []

    # full precision (fmt=None): exact value, fl as docs/api.md says
    res = fn(xa, xb)
    got = got_raws(res)
    assert res.fmt.fl == F
    assert res.fmt.wl <= 64
    assert np.array_equal(got, N), f"{op} full precision: values differ"
    opres = {"add": lambda: xa + xb, "sub": lambda: xa - xb, "mul": lambda: xa * xb}[op]()
    assert opres.fmt.fl == F and np.array_equal(got_raws(opres), N), f"operator {op}"

    # broadcasting gives the same words as the flat pairs
    res2 = fn(fixed(fx, ra.reshape(-1, 1), fa_fmt), fixed(fx, rb.reshape(1, -1), fb_fmt))
    assert res2.shape == (len(ra), len(rb))
    assert np.array_equal(got_raws(res2).ravel(), N)

    for dst in out_formats(F, ip + {"add": 0, "sub": 1, "mul": 2}[op]):
        q = qf(fx, dst)
        for rounding in DETERMINISTIC:
            def call(ovf):
                return fn(xa, xb, fmt=q, rounding=rounding, overflow=ovf)

            def subset(mask, ovf):
                return fn(fixed(fx, A[mask], fa_fmt), fixed(fx, B[mask], fb_fmt), fmt=q,
                          rounding=rounding, overflow=ovf)

            bad += run_modes(call, N, F, dst, rounding, subset,
                             f"{op} {fid(fa_fmt)},{fid(fb_fmt)}->{fid(dst)}")
    assert not bad, "\n".join(bad[:20])


# ---------------------------------------------------------------------------- dot / matmul
@lru_cache(maxsize=None)
def _cached_cast_info(*args, **kw):
    return ref_cast_info(*args, **kw)


def _vectors(fmt, K, limit, rng):
    """All K-vectors over fmt's raws, or `limit` random ones when there are more."""
    raws = all_raws(fmt)
    n = len(raws) ** K
    if n <= limit:
        grids = np.meshgrid(*([raws] * K), indexing="ij")
        return np.stack([g.ravel() for g in grids], axis=1)
    return rng.choice(raws, size=(limit, K))


# (name, fmt_a, fmt_b, K, prod, acc, out)
DOT_CONFIGS = [
    ("k2-prod-acc-out", (3, 1, True), (3, 2, False), 2, (4, 2, True), (4, 1, True), (3, 0, True)),
    ("k3-exactprod-acc", (2, 0, True), (2, 1, True), 3, None, (3, 0, True), None),
    ("k3-prod-acc-uout", (2, -1, False), (2, 3, True), 3, (3, 1, True), (4, 1, True),
     (2, 0, False)),
    ("k2-exactacc-out", (3, 2, True), (3, 1, True), 2, (3, 1, True), None, (3, 0, True)),
    ("k3-out-eq-acc", (2, 1, True), (2, 1, False), 3, (3, 1, True), (3, 0, True), (3, 0, True)),
    ("k3-wide-sampled", (4, 2, True), (4, 3, True), 3, (5, 3, True), (5, 2, True), (4, 1, True)),
    ("k2-uacc", (3, 1, False), (3, 1, False), 2, (4, 1, False), (4, 0, False), (3, -1, False)),
    ("k3-signed-into-uacc", (2, 0, True), (2, 1, True), 3, None, (3, 0, False), None),
    ("k3-signed-into-uacc-exact", (2, 0, True), (2, 1, True), 3, None, (3, 1, False),
     (3, 0, True)),
    ("k2-signed-into-uacc-finer", (3, 0, True), (2, 0, False), 2, None, (5, 1, False), None),
    ("k3-exactprod-sacc-exact", (2, 0, True), (2, 1, True), 3, None, (3, 1, True), None),
    ("k3-exactprod-sacc-finer", (2, 1, True), (2, 0, False), 3, None, (4, 2, True), None),
    ("k2-signed-uacc-out", (3, 1, True), (3, 0, False), 2, (4, 1, True), (4, 1, False),
     (5, 0, True)),
]


@pytest.mark.parametrize("rounding", DETERMINISTIC)
@pytest.mark.parametrize("cfg", DOT_CONFIGS, ids=lambda c: c[0])
def test_matmul_exhaustive(fx, cfg, rounding):
    name, fa, fb, K, prod, acc, out = cfg
    rng = np.random.default_rng(1234)
    va = _vectors(fa, K, 64, rng)           # rows of A
    vb = _vectors(fb, K, 64, rng)           # columns of B
    A = fixed(fx, va, fa)
    B = fixed(fx, vb.T.copy(), fb)
    kw = {}
    if prod is not None:
        kw["prod"] = qf(fx, prod)
    if acc is not None:
        kw["acc"] = qf(fx, acc)
    if out is not None:
        kw["fmt"] = qf(fx, out)
    final = out if out is not None else acc
    bad = []
    for ovf in OVERFLOWS_NOERR + ("error",):
        if ovf == "error":
            # error raises iff some cast overflows; up to the first overflowing cast the
            # saturate run is identical, so its counters tell (RefCounters.overflowed).
            if sat_counters.total("overflowed"):
                with pytest.raises(OverflowError):
                    fx.matmul(A, B, rounding=rounding, overflow=ovf, **kw)
                continue
            want = sat_want
        else:
            counters = RefCounters()
            want = np.array([[ref_dot([int(x) for x in a], fa, [int(x) for x in b], fb,
                                      acc=acc, prod=prod, out=out, rounding=rounding,
                                      overflow=ovf, cast_info=_cached_cast_info,
                                      counters=counters).raw
                              for b in vb] for a in va], dtype=np.int64)
            if ovf == "saturate":
                sat_want, sat_counters = want, counters
        res = fx.matmul(A, B, rounding=rounding, overflow=ovf, **kw)
        assert res.shape == want.shape
        assert res.fmt == qf(fx, final)
        got = got_raws(res)
        if not np.array_equal(got, want):
            i, j = np.argwhere(got != want)[0]
            bad.append(f"{name} {rounding}/{ovf}: a={va[i].tolist()} b={vb[j].tolist()} "
                       f"expected {want[i, j]}, got {got[i, j]}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("cfg", DOT_CONFIGS, ids=lambda c: c[0])
def test_dot_and_matvec_exhaustive_sample(fx, cfg):
    """The 1-D dot and matvec entry points, on the same configs (nearest_even, saturate/wrap)."""
    name, fa, fb, K, prod, acc, out = cfg
    rng = np.random.default_rng(99)
    va = _vectors(fa, K, 64, rng)
    vb = _vectors(fb, K, 8, rng)
    kw = {}
    if prod is not None:
        kw["prod"] = qf(fx, prod)
    if acc is not None:
        kw["acc"] = qf(fx, acc)
    if out is not None:
        kw["fmt"] = qf(fx, out)
    for rnd, ovf in [("nearest_even", "saturate"), ("floor", "wrap"), ("ceil", "saturate")]:
        for b in vb:
            want = [ref_dot([int(x) for x in a], fa, [int(x) for x in b], fb, acc=acc,
                            prod=prod, out=out, rounding=rnd, overflow=ovf,
                            cast_info=_cached_cast_info).raw for a in va]
            res = fx.matvec(fixed(fx, va, fa), fixed(fx, b, fb), rounding=rnd, overflow=ovf, **kw)
            assert got_raws(res).tolist() == want
            for a, w in list(zip(va, want))[:8]:
                d = fx.dot(fixed(fx, a, fa), fixed(fx, b, fb), rounding=rnd, overflow=ovf, **kw)
                assert d.shape == ()
                assert int(d.raw) == w


@pytest.mark.parametrize("fa,fb", [((3, 1, True), (3, 2, False)), ((2, -1, False), (3, 3, True))])
def test_dot_exact_accumulation(fx, fa, fb):
    """acc, prod and fmt all None: the exact sum of the exact products."""
    va = _vectors(fa, 2, 64, None)
    vb = _vectors(fb, 2, 64, None)
    for b in vb[::7]:
        for a in va:
            d = fx.dot(fixed(fx, a, fa), fixed(fx, b, fb))
            want = ref_dot([int(x) for x in a], fa, [int(x) for x in b], fb)
            assert want.raw is None
            assert Fraction(int(d.raw)) * pow2(-d.fmt.fl) == want.value


def test_dot_per_role_modes(fx):
    """prod/acc/out casts each with their own rounding and overflow (spec 4, last rule)."""
    fa, fb, prod, acc, out = (3, 1, True), (3, 2, True), (4, 2, True), (4, 1, True), (3, 0, True)
    va = _vectors(fa, 2, 64, None)
    vb = _vectors(fb, 2, 64, None)
    roles = dict(prod_rounding="ceil", prod_overflow="wrap", acc_rounding="floor",
                 acc_overflow="saturate", out_rounding="nearest_odd",
                 out_overflow="saturate_symmetric")
    want = np.array([[ref_dot([int(x) for x in a], fa, [int(x) for x in b], fb, acc=acc,
                              prod=prod, out=out, rounding="nearest_even", overflow="error",
                              cast_info=_cached_cast_info, **roles).raw
                      for b in vb] for a in va])
    res = fx.matmul(fixed(fx, va, fa), fixed(fx, vb.T.copy(), fb), acc=qf(fx, acc),
                    prod=qf(fx, prod), fmt=qf(fx, out), rounding="nearest_even",
                    overflow="error", **roles)
    assert np.array_equal(got_raws(res), want)


# ---------------------------------------------------------------------------- stochastic, all R
STOCH_SOURCES = [(6, 5, True), (6, 3, False), (5, 0, True), (6, 6, True), (4, -1, False)]
STOCH_MODES = ([("stochastic", 0.0, rule) for rule in ("trunc", "half", "rne")]
               + [(m, eps, rule) for m in ("stochastic_eps", "signed_stochastic_eps")
                  for eps in (0.3, 0.75) for rule in ("trunc", "half", "rne")])


def expected_count(t, rounding, r, eps, v, rule):
    """Number of R in [0, 2^r) that round up, from the spec's probability statements:
    trunc D = floor(phi 2^r), half round-half-up(phi 2^r), rne RNE(phi 2^r); then the
    eps shift clip(C + sgn(t) E) or clip(C - sign(v) E) into [0, 2^r]; 0 when phi = 0."""
    q = t.numerator // t.denominator
    phi = t - q
    if phi == 0:
        return 0
    y = phi * (1 << r)
    fl = y.numerator // y.denominator
    frac = y - fl
    if rule == "trunc":
        c = fl
    elif rule == "half":
        c = fl + (1 if frac >= Fraction(1, 2) else 0)
    else:
        c = fl + (1 if frac > Fraction(1, 2) or (frac == Fraction(1, 2) and fl % 2) else 0)
    E = int(Fraction(eps) * (1 << r))
    s = (t > 0) - (t < 0)
    v = float(v)
    sv = (v > 0) - (v < 0)
    if rounding == "stochastic_eps":
        c += s * E
    elif rounding == "signed_stochastic_eps":
        c -= sv * E
    return min(max(c, 0), 1 << r)


@pytest.mark.parametrize("r", range(1, 7))
@pytest.mark.parametrize("mode", STOCH_MODES, ids=lambda m: f"{m[0]}-{m[1]}-{m[2]}")
def test_stochastic_all_draws(fx, mode, r):
    rounding, eps, rule = mode
    bad = []
    for src in STOCH_SOURCES:
        raws = all_raws(src)
        n, nR = len(raws), 1 << r
        vs = np.array([(-1.5, 0.0, 2.0)[i % 3] for i in range(n)])
        for d in (1, 2, 4, 7):
            dst = (8, src[1] - d, src[2])           # wide enough never to overflow
            X = fixed(fx, np.repeat(raws, nR), src)
            draws = np.tile(np.arange(nR, dtype=np.uint64), n)
            kw = dict(r=r, sr_rule=rule, draws=draws)
            if rounding != "stochastic":
                kw["eps"] = eps
            if rounding == "signed_stochastic_eps":
                kw["v"] = np.repeat(vs, nR)
            res = fx.cast(X, qf(fx, dst), rounding, "saturate", **kw)
            got = got_raws(res).reshape(n, nR)
            for i, m in enumerate(raws):
                t = Fraction(int(m)) * pow2(-d)
                q = t.numerator // t.denominator
                # reference, element by element for every R
                if r <= 3:
                    want = [ref_round(t, rounding, R=R, r=r, eps=eps, v=vs[i], sr_rule=rule)
                            for R in range(nR)]
                else:   # same rule as ref_round, vectorized over R from the reference addend
                    if t == q:
                        want = [q] * nR
                    else:
                        A = stochastic_addend(t, rounding, r, eps, vs[i], rule)
                        want = (q + (A + 2 * np.arange(nR) >= (2 << r))).tolist()
                if got[i].tolist() != want:
                    R = int(np.flatnonzero(got[i] != np.array(want))[0])
                    bad.append(f"{fid(src)}->{fid(dst)} raw {m} (t={t}) v={vs[i]} R={R}: "
                               f"expected {want[R]}, got {got[i, R]}")
                    continue
                ups = int((got[i] - q).sum())
                assert set(np.unique(got[i] - q)) <= {0, 1}
                c = expected_count(t, rounding, r, eps, vs[i], rule)
                if ups != c:
                    bad.append(f"{fid(src)}->{fid(dst)} raw {m} (t={t}): {ups} round-ups over "
                               f"all R, expected {c}")
    assert not bad, "\n".join(bad[:20])


@pytest.mark.parametrize("rounding", STOCHASTIC)
def test_stochastic_binary_ops_with_draws(fx, rounding):
    """add/mul with one draw per output element in C order (broadcast 2-D result)."""
    rng = np.random.default_rng(7)
    fa, fb, dst, r = (5, 3, True), (4, 2, False), (4, 1, True), 5
    ra, rb = all_raws(fa), all_raws(fb)
    for op in ("add", "mul"):
        draws = rng.integers(0, 1 << r, size=(len(ra), len(rb)), dtype=np.uint64)
        v = rng.choice([-1.0, 0.0, 1.0], size=(len(ra), len(rb)))
        kw = dict(r=r, draws=draws.ravel(), sr_rule="half")
        if rounding != "stochastic":
            kw["eps"] = 0.25
        if rounding == "signed_stochastic_eps":
            kw["v"] = v
        res = getattr(fx, op)(fixed(fx, ra.reshape(-1, 1), fa), fixed(fx, rb.reshape(1, -1), fb),
                              fmt=qf(fx, dst), rounding=rounding, overflow="wrap", **kw)
        got = got_raws(res)
        for i, a in enumerate(ra):
            for j, b in enumerate(rb):
                x = (Fraction(int(a)) * pow2(-fa[1]) + Fraction(int(b)) * pow2(-fb[1])
                     if op == "add" else Fraction(int(a) * int(b)) * pow2(-fa[1] - fb[1]))
                w = ref_cast_info(x, *dst, rounding, "wrap", R=int(draws[i, j]), r=r,
                                  eps=kw.get("eps", 0), v=v[i, j], sr_rule="half").raw
                assert got[i, j] == w, (op, int(a), int(b), int(draws[i, j]))


@pytest.mark.parametrize("rounding", STOCHASTIC)
def test_stochastic_matmul_draw_order(fx, rounding):
    """Draw order of spec 4: elements in C order; per element k ascending, prod before acc;
    output last. Every present cast draws, exact or not."""
    rng = np.random.default_rng(11)
    fa, fb, prod, acc, out, r, K = (4, 2, True), (4, 1, True), (5, 2, True), (5, 1, True), \
        (4, 0, True), 6, 3
    va = rng.choice(all_raws(fa), size=(4, K))
    vb = rng.choice(all_raws(fb), size=(K, 5))
    n_draws = 4 * 5 * (2 * K + 1)
    draws = rng.integers(0, 1 << r, size=n_draws, dtype=np.uint64)
    v = rng.choice([-1.0, 0.0, 1.0], size=(4, 5))
    kw = dict(r=r, draws=draws, sr_rule="trunc")
    if rounding != "stochastic":
        kw["eps"] = 0.4
    if rounding == "signed_stochastic_eps":
        kw["v"] = v
    res = fx.matmul(fixed(fx, va, fa), fixed(fx, vb, fb), acc=qf(fx, acc), prod=qf(fx, prod),
                    fmt=qf(fx, out), rounding=rounding, overflow="saturate", **kw)
    it = iter(int(d) for d in draws)
    want = np.array([[ref_dot([int(x) for x in va[i]], fa, [int(x) for x in vb[:, j]], fb,
                              acc=acc, prod=prod, out=out, rounding=rounding,
                              overflow="saturate", r=r, eps=kw.get("eps", 0), v=v[i, j],
                              sr_rule="trunc", draws=it).raw
                      for j in range(5)] for i in range(4)])
    assert next(it, None) is None
    assert np.array_equal(got_raws(res), want)


# ---------------------------------------------------------------------------- threaded path
@pytest.mark.parametrize("threads", [2, 3])
def test_threads_large(fx, threads):
    """Large inputs (many kernel chunks) on several threads: every element, every draw in its
    C-order place, checked against the reference."""
    rng = np.random.default_rng(2024)
    src, dst = (10, 6, True), (6, 2, True)
    raws = rng.integers(-512, 512, size=200_003)
    X = fixed(fx, raws, src)
    old = fx.get_num_threads()
    fx.set_num_threads(threads)
    try:
        for rounding in ("nearest_even", "floor", "jam"):
            for ovf in ("saturate", "wrap"):
                want = ref_apply_overflow(ref_rounded(raws, 6, dst, rounding), dst, ovf)
                assert np.array_equal(got_raws(fx.cast(X, qf(fx, dst), rounding, ovf)), want)
        small = (5, 2, True)
        with pytest.raises(OverflowError) as ei:
            fx.cast(X, qf(fx, small), "floor", "error")
        Y = ref_rounded(raws, 6, small, "floor")
        ovm = overflow_mask(Y, small)
        check_error_message(ei.value, int(ovm.sum()), int(np.flatnonzero(ovm)[0]))
        # stochastic: one draw per element in C order
        r = 7
        draws = rng.integers(0, 1 << r, size=raws.size, dtype=np.uint64)
        res = got_raws(fx.cast(X, qf(fx, dst), "stochastic", "wrap", r=r, draws=draws,
                               sr_rule="rne"))
        u, inv = np.unique(raws, return_inverse=True)
        qs, As = [], []
        for m in u:
            t = Fraction(int(m), 16)
            qs.append(t.numerator // t.denominator)
            As.append(stochastic_addend(t, "stochastic", r, 0, 0, "rne") if t.denominator > 1
                      else -(4 << r))
        qv, Av = np.array(qs)[inv], np.array(As)[inv]
        up = Av + 2 * draws.astype(np.int64) >= (2 << r)
        want = ref_apply_overflow(qv + up, dst, "wrap")
        assert np.array_equal(res, want)
        # add with broadcasting, big
        a = fixed(fx, raws[:1000].reshape(-1, 1), src)
        b = fixed(fx, raws[1000:1300].reshape(1, -1), src)
        got = got_raws(fx.add(a, b, fmt=qf(fx, dst), rounding="nearest_up", overflow="wrap"))
        N = raws[:1000].reshape(-1, 1) + raws[1000:1300].reshape(1, -1)
        want = ref_apply_overflow(ref_rounded(N, 6, dst, "nearest_up"), dst, "wrap")
        assert np.array_equal(got, want)
        # matmul with many rows
        fa, fb, prod, acc, out = (4, 2, True), (4, 1, True), (5, 2, True), (6, 2, True), \
            (4, 0, True)
        A = rng.integers(-8, 8, size=(300, 3))
        B = rng.integers(-8, 8, size=(3, 7))
        got = got_raws(fx.matmul(fixed(fx, A, fa), fixed(fx, B, fb), acc=qf(fx, acc),
                                 prod=qf(fx, prod), fmt=qf(fx, out), rounding="nearest_even",
                                 overflow="saturate"))
        want = np.array([[ref_dot(A[i].tolist(), fa, B[:, j].tolist(), fb, acc=acc, prod=prod,
                                  out=out, rounding="nearest_even", overflow="saturate",
                                  cast_info=_cached_cast_info).raw
                          for j in range(7)] for i in range(300)])
        assert np.array_equal(got, want)
    finally:
        fx.set_num_threads(old)
