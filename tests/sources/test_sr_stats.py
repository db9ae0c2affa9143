"""Stochastic rounding driven by fxsim's bit sources (spec §2 stochastic rows, §5).

Statistics: every check is a two-sided z-test at a false-alarm probability of 1e-6 per test
(|z| <= Z = 4.8916); this file makes about 500 of them, so a correct implementation fails one
with probability below 5e-4 for random seeds (the seeds are fixed, so a run is reproducible).
Expected values are computed here from the spec with exact fractions, never by fxsim.

Integration: a cast with ``source=LFSR(...)`` must equal the same cast with ``draws=`` the
oracle's (tests/lfsr_ref.py) draws, and ``source=Ideal(...)`` numpy's own words >> (64 - r).
"""

import math
from fractions import Fraction

import numpy as np
import pytest


from lfsr_ref import LFSRSource, load_taps_table  # noqa: E402

fxsim = pytest.importorskip("fxsim")

Z = 4.891638          # Phi^-1(1 - 0.5e-6): two-sided false-alarm probability 1e-6
TABLE = load_taps_table()
FMT = (16, 8)         # Q(16, 8) signed: t = x * 2**8
FRAC = 40             # inputs carry 40 fraction bits below the format's lsb


def _inputs(seed, count=12):
    """Exact float64 inputs x = k / 2**(8 + FRAC), |x| < 8, with fractions phi of many bits,
    plus one with an exactly representable phi of 3 bits and one exact value (phi = 0)."""
    rng = np.random.default_rng(seed)
    ks = [int(k) for k in rng.integers(-(1 << (FRAC + 10)), 1 << (FRAC + 10), size=count - 2)]
    ks += [(37 << FRAC) + (5 << (FRAC - 3)), -(21 << FRAC)]
    return ks, np.array([k / 2.0 ** (8 + FRAC) for k in ks])


def _q_phi(k):
    """t = k / 2**FRAC: q = floor(t) and phi = t - q as a Fraction (exact)."""
    q = k >> FRAC
    return q, Fraction(k - (q << FRAC), 1 << FRAC)


def _rne(v: Fraction) -> int:
    f = math.floor(v)
    d = v - f
    if d > Fraction(1, 2) or (d == Fraction(1, 2) and f % 2 == 1):
        return f + 1
    return f


def p_up(phi: Fraction, r: int, rule: str) -> Fraction:
    """P(q + 1) under spec §2 for R uniform on [0, 2**r): round up iff A + 2R >= 2**(r+1)."""
    if phi == 0:
        return Fraction(0)
    if rule == "trunc":
        A = 2 * math.floor(phi * 2**r)
    elif rule == "half":
        A = math.floor(phi * 2 ** (r + 1)) + 1
    else:
        A = 2 * _rne(phi * 2**r)
    rmin = max(0, -((A - 2 ** (r + 1)) // 2))          # least R with 2R >= 2**(r+1) - A
    return Fraction(max(0, 2**r - rmin), 2**r)


def test_p_up_trunc_is_D_over_2r():
    """The trunc rule's P(up) is D / 2**r, D = floor(phi * 2**r) (spec §2), on a grid."""
    for r in (1, 2, 3, 5, 8):
        for num in range(0, 257):
            phi = Fraction(num, 257)
            assert p_up(phi, r, "trunc") == Fraction(math.floor(phi * 2**r), 2**r)


def _z(count, n, p):
    p = float(p)
    if p in (0.0, 1.0):
        return 0.0 if count == n * p else math.inf
    return (count - n * p) / math.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("rule", ["trunc", "half", "rne"])
@pytest.mark.parametrize("r", [1, 2, 3, 4, 6, 8, 12, 16, 24])
@pytest.mark.parametrize("bitgen", ["pcg64", "philox"])
def test_sr_frequency_equals_spec(r, rule, bitgen):
    """With an ideal source, the fraction of round-ups per input equals the spec's exact P(up)
    (z-test at 1e-6), results are only q or q + 1, and for the inputs where P(up) differs
    visibly from phi, the unbiased hypothesis P = phi is rejected: the test sees the few-bit bias."""
    N = 100_000
    ks, xs = _inputs(1000 + r)
    src = fxsim.Ideal(bitgen, seed=7 * r + len(rule))
    x = np.repeat(xs, N)
    y = fxsim.cast(x, fxsim.QFormat(*FMT), "stochastic", "saturate", r=r, sr_rule=rule, source=src)
    raw = y.raw.astype(np.int64).reshape(len(xs), N)
    rejected_phi = 0
    for k, row in zip(ks, raw):
        q, phi = _q_phi(k)
        assert set(np.unique(row).tolist()) <= {q, q + 1}
        ups = int((row == q + 1).sum())
        p = p_up(phi, r, rule)
        assert abs(_z(ups, N, p)) <= Z, (k, r, rule, ups, float(p))
        if abs(float(p - phi)) > 3 * Z * math.sqrt(0.25 / N):
            assert abs(_z(ups, N, phi)) > Z
            rejected_phi += 1
    if r <= 4 and rule == "trunc":
        assert rejected_phi >= 3, "inputs should include visibly biased cases at small r"


@pytest.mark.parametrize("r", [2, 5, 8, 16])
def test_sr_mean_within_bias_bound(r):
    """E[cast(x)] - x for SR (trunc) with an ideal source: the mean of N casts lies within the
    few-bit bias bound [-2**-r lsb, 0] (spec §2: biased towards -inf by < 2**-r) widened by
    Z standard errors, and within Z standard errors of the exact bias -(phi - D/2**r) lsb."""
    N = 200_000
    ks, xs = _inputs(77 + r)
    src = fxsim.Ideal("sfc64", seed=r)
    y = fxsim.cast(np.repeat(xs, N), "Q8.8", "stochastic", r=r, source=src)
    means = y.to_float().reshape(len(xs), N).mean(axis=1)
    lsb = 2.0**-8
    for k, x, m in zip(ks, xs, means):
        q, phi = _q_phi(k)
        p = p_up(phi, r, "trunc")
        se = lsb * math.sqrt(float(p * (1 - p)) / N)
        err = m - x
        assert -(2.0**-r) * lsb - Z * se - 1e-12 <= err <= Z * se + 1e-12, (x, r, err)
        exact_bias = -float(phi - p) * lsb
        assert abs(err - exact_bias) <= Z * se + 1e-12, (x, r, err, exact_bias)


def test_sr_unbiased_when_phi_has_at_most_r_bits():
    """phi of <= r bits: P(up) = phi exactly, so E[cast(x)] = x (z-test)."""
    N = 400_000
    r = 8
    phis = [Fraction(1, 256), Fraction(3, 8), Fraction(1, 2), Fraction(201, 256), Fraction(255, 256)]
    xs = np.array([float(-3 + ph) / 256 for ph in phis] + [float(40 + ph) / 256 for ph in phis])
    y = fxsim.cast(np.repeat(xs, N), "Q8.8", "stochastic", r=r, source=fxsim.Ideal("pcg64", 3))
    raw = y.raw.astype(np.int64).reshape(len(xs), N)
    for x, row in zip(xs, raw):
        t = Fraction(x) * 256
        q = math.floor(t)
        assert abs(_z(int((row == q + 1).sum()), N, t - q)) <= Z


# --- the sources drive the casts exactly as explicit draws do ----------------------------------

LFSR_CASES = [
    # n, form, rule, r, lanes, seed
    (16, "galois", "serial", 16, 1, 0xACE1),
    (16, "fibonacci", "serial", 5, 1, 0x1234),
    (16, "galois", "state", 9, 1, 0xBEEF),
    (20, "fibonacci", "state", 20, 3, 0x9ABCD),
    (12, "galois", "serial", 7, 4, 0x5A5),
    (32, "galois", "serial", 32, 1, 0xDEADBEEF),
    (64, "fibonacci", "serial", 64, 1, 0x0123456789ABCDEF),
    (64, "galois", "state", 40, 1, 0x8000000000000001),
]


@pytest.mark.parametrize("case", LFSR_CASES, ids=lambda c: "n%d-%s-%s-r%d-L%d" % c[:5])
@pytest.mark.parametrize("rounding", ["stochastic", "stochastic_eps"])
def test_cast_with_lfsr_equals_oracle_draws(case, rounding):
    n, form, rule, r, lanes, seed = case
    taps = TABLE[n][0]
    rng = np.random.default_rng(n + r)
    x = rng.normal(0, 30, size=(37, 11))
    src = fxsim.LFSR(n, taps, form, seed, rule, lanes=lanes)
    ref = LFSRSource(n, taps, form, seed, rule, r, lanes=lanes)
    kw = dict(r=r, sr_rule="half" if rule == "state" else "trunc")
    if rounding == "stochastic_eps":
        kw["eps"] = 0.1
    for _ in range(2):          # two casts in a row: the second continues the stream
        got = fxsim.cast(x, "Q8.8", rounding, "saturate", source=src, **kw)
        want = fxsim.cast(x, "Q8.8", rounding, "saturate",
                          draws=np.array(ref.draws(x.size), dtype=np.uint64).reshape(x.shape), **kw)
        assert got.identical(want)
    assert src.count == 2 * x.size
    assert src.lane_states == tuple(reg.state for reg in ref.lanes)


def test_dot_with_lfsr_equals_oracle_draws():
    """A dot product with stochastic product and accumulator casts takes 2K draws (spec §4
    order); the source path and the explicit-draws path must agree bit for bit."""
    n, taps, seed, r = 18, TABLE[18][0], 0x2BCDE, 10
    rng = np.random.default_rng(5)
    fmt = fxsim.QFormat(16, 12)
    a = fxsim.cast(rng.uniform(-4, 4, 50), fmt)
    b = fxsim.cast(rng.uniform(-4, 4, 50), fmt)
    kw = dict(acc=fxsim.QFormat(24, 12), prod=fxsim.QFormat(20, 12), rounding="stochastic", r=r)
    src = fxsim.LFSR(n, taps, "fibonacci", seed, lanes=2)
    ref = LFSRSource(n, taps, "fibonacci", seed, "serial", r, lanes=2)
    got = fxsim.dot(a, b, source=src, **kw)
    want = fxsim.dot(a, b, draws=np.array(ref.draws(100), dtype=np.uint64), **kw)
    assert got.identical(want) and src.count == 100


@pytest.mark.parametrize("name", ["PCG64", "Philox", "SFC64", "MT19937"])
def test_cast_with_ideal_equals_numpy_draws(name):
    r, seed = 11, 31337
    x = np.random.default_rng(1).normal(0, 10, 5000)
    got = fxsim.cast(x, "Q8.8", "stochastic", r=r, source=fxsim.Ideal(name.lower(), seed))
    bg = getattr(np.random, name)(seed)
    if name == "MT19937":
        raw = bg.random_raw(2 * x.size)
        w = (raw[0::2] << np.uint64(32)) | raw[1::2]
    else:
        w = bg.random_raw(x.size)
    want = fxsim.cast(x, "Q8.8", "stochastic", r=r, draws=w >> np.uint64(64 - r))
    assert got.identical(want)


def test_deterministic_cast_leaves_the_source_alone():
    src = fxsim.LFSR(16, seed=0xACE1)
    fxsim.cast(np.linspace(-1, 1, 100), "Q4.4", "nearest_even", source=src)
    assert src.count == 0 and src.lane_states == (0xACE1,)
