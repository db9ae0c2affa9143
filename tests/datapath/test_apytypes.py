"""Peer cross-check: fxsim against APyTypes (0.5.x), bit for bit.

Every deterministic rounding mode x every overflow mode the two simulators share is run on
edge inputs (exact ties and near-ties, range boundaries, min/max, -2^(wl-1), overflow by one
LSB and by far) and on random inputs, over many formats up to wl = 64, signed and unsigned.
Raw integers are compared, never floats.

Mode names (docs/datapath.md section 2, bracketed peer names):

    floor=TRN  ceil=TRN_INF  toward_zero=TRN_ZERO  away_from_zero=TRN_AWAY
    nearest_up=RND  nearest_down=RND_MIN_INF  nearest_zero=RND_ZERO  nearest_away=RND_INF
    nearest_even=RND_CONV  nearest_odd=RND_CONV_ODD  jam=JAM_UNBIASED
    saturate=SAT  wrap=WRAP

Where APyTypes differs from the spec, the oracle works around it (each place is marked
"APyTypes differs"):

* Float conversion. ``APyFixedArray.from_float`` rounds ties away from zero and wraps. Floats
  are therefore converted at a format wide enough to hold every input exactly (computed from
  the inputs' exponents, and checked to be exact), and only then cast with the mode under
  test, as the spec's warning says.
* Unsigned formats. APyTypes 0.5 has none (every APyFixed is two's complement). An unsigned
  Q(wl, fl) input is held exactly in a signed format one bit wider. An unsigned output under
  ``wrap`` is APyTypes' signed wl-bit WRAP cast (same low wl bits, the bit pattern is the
  unsigned raw); under ``saturate`` it is APyTypes' signed (wl+1)-bit SAT cast (the upper
  clamp, 2^wl - 1) followed by a clamp at 0 done here, since APyTypes has no unsigned lower
  bound.
* Two APyTypes 0.5.1 cast bugs (found here; test_oracle_random_formats guards the
  workaround): a cast that shifts left past a 64-bit limb saturates wrongly, and rounding up
  the source's largest word loses the carry. Every oracle cast first widens exactly (one more
  integer bit, the target's fraction if larger), then rounds and overflows.
* ``saturate_symmetric`` and ``error`` are not cross-checked: APyTypes' OverflowMode has only
  WRAP, SAT and NUMERIC_STD (no SAT_SYM), and never raises on overflow.
* ``jam`` is JAM_UNBIASED. APyTypes' plain JAM forces the LSB even when the cast is exact,
  which the spec does not.
* Stochastic modes are not compared: APyTypes' STOCH_WEIGHTED draws from its own generator,
  with as many random bits as bits are discarded; it cannot consume fxsim's draws.
* Accumulating ops (matmul/dot) are not compared with a narrow accumulator: APyTypes 0.5.1's
  APyFixedAccumulatorContext ignores the overflow mode (apytypes issue #857), while spec
  section 4 saturates/wraps at every step.

Sanity tests first check the oracle itself (APyTypes with this mapping and these
workarounds) against the spec's table, exhaustively on a small format and on random formats
up to 140-bit sources, so a disagreement in the other tests is fxsim's.
"""
import math
import operator
import random
import zlib

import numpy as np
import pytest

apy = pytest.importorskip("apytypes")
fx = pytest.importorskip("fxsim")

from apytypes import APyFixedArray, OverflowMode, QuantizationMode  # noqa: E402

ROUND_MAP = {
    "floor": QuantizationMode.TRN,
    "ceil": QuantizationMode.TRN_INF,
    "toward_zero": QuantizationMode.TRN_ZERO,
    "away_from_zero": QuantizationMode.TRN_AWAY,
    "nearest_up": QuantizationMode.RND,
    "nearest_down": QuantizationMode.RND_MIN_INF,
    "nearest_zero": QuantizationMode.RND_ZERO,
    "nearest_away": QuantizationMode.RND_INF,
    "nearest_even": QuantizationMode.RND_CONV,
    "nearest_odd": QuantizationMode.RND_CONV_ODD,
    "jam": QuantizationMode.JAM_UNBIASED,
}
OVF_MAP = {"saturate": OverflowMode.SAT, "wrap": OverflowMode.WRAP}
MODES = [(r, o) for r in ROUND_MAP for o in OVF_MAP]
MODE_IDS = [f"{r}-{o}" for r, o in MODES]

SEED = 20240607
OPER = {"add": operator.add, "sub": operator.sub, "mul": operator.mul}


def _seed(*key):
    """Deterministic seed (str hashes are salted per process)."""
    return zlib.crc32(repr((SEED,) + key).encode())


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The cross-checks use small arrays; run them on one kernel thread (results must not
    depend on the thread count, spec section 5; test_threads_give_same_bits checks that on
    arrays large enough to be split)."""
    get = getattr(fx, "get_num_threads", None)
    setn = getattr(fx, "set_num_threads", None)
    if get is None or setn is None:
        yield
        return
    old = get()
    setn(1)
    yield
    setn(old)


# --------------------------------------------------------------------------- formats
def frange(wl, signed):
    if signed:
        return -(1 << (wl - 1)), (1 << (wl - 1)) - 1
    return 0, (1 << wl) - 1


def container(wl, signed):
    for b in (8, 16, 32, 64):
        if wl <= b:
            return np.dtype(("int" if signed else "uint") + str(b))
    raise ValueError(wl)


def qf(wl, fl, signed=True):
    return fx.QFormat(wl, fl, signed)


def _flat_ints(raws):
    """Python ints of a list or ndarray, flat C order. (np.ravel on a list of big Python ints
    may go through float64 and lose the low bits of words near 2^64.)"""
    if isinstance(raws, np.ndarray):
        return [int(v) for v in raws.ravel()]
    return [int(v) for v in raws]


def fixed(raws, wl, fl, signed):
    """fxsim FixedArray from Python-int raws (list or object/int ndarray), in the spec's
    container dtype."""
    shape = raws.shape if isinstance(raws, np.ndarray) else (len(raws),)
    arr = np.array(_flat_ints(raws), dtype=container(wl, signed))
    return fx.FixedArray(arr.reshape(shape), qf(wl, fl, signed))


def _cast_formats():
    """Output formats for the cast tests: fixed edge cases plus seeded random ones."""
    rnd = random.Random(_seed('cast'))
    fmts = set()
    for wl in (1, 2, 3, 5, 8, 12, 16, 17, 24, 31, 32, 33, 40, 48, 52, 53, 54, 62, 63, 64):
        for fl in (0, wl // 2, wl, wl + 7, -5, rnd.randint(-40, 80)):
            fmts.add((wl, fl))
    fmts |= {(64, 256), (64, -256), (8, -256), (8, 256), (1, 256), (1, -256), (16, 8), (8, 8),
             (64, 63), (64, 64), (64, 1), (53, 52), (24, 16)}
    out = []
    for wl, fl in sorted(fmts):
        out.append((wl, fl, True))
        out.append((wl, fl, False))
    return out


CAST_FORMATS = _cast_formats()


# --------------------------------------------------------------------------- APyTypes oracle
def apy_from_raw(raws, wl, fl, signed):
    """Exact APyTypes array for raw words of Q(wl, fl, signed).

    APyTypes differs: no unsigned formats, so an unsigned word is held in a signed format
    one bit wider (exact). Raws are passed as Python ints: APyTypes reads numpy uint64 words
    as signed 64-bit patterns."""
    bits = wl if signed else wl + 1
    return APyFixedArray(_flat_ints(raws), bits=bits, frac_bits=fl)


def apy_from_float_exact(x):
    """Exact APyTypes array for finite float64s.

    APyTypes differs: from_float rounds ties away and wraps. Convert at a format whose
    fraction holds every input's last mantissa bit and whose integer part holds the largest
    one, so the conversion does neither; checked below."""
    x = np.asarray(x, dtype=np.float64).ravel()
    assert np.all(np.isfinite(x))
    nz = x[x != 0]
    if nz.size == 0:
        frac, ibits = 0, 2
    else:
        _, e = np.frexp(nz)  # |x| = m * 2^e, m in [0.5, 1): last bit is 2^(e - 53)
        frac = int(np.max(53 - e))
        ibits = int(np.max(e)) + 2
    a = APyFixedArray.from_float(x, int_bits=ibits, frac_bits=frac)
    back = a.to_numpy()
    assert np.array_equal(back, x), "wide APyTypes conversion was not exact"
    return a


def _signed_from_bits(bits, wl):
    return [b - (1 << wl) if b >> (wl - 1) else b for b in bits]


def apy_cast_raws(a, wl, fl, signed, rounding, overflow):
    """Raw words (Python ints, flat C order) of APyTypes' cast of a to Q(wl, fl, signed)."""
    q = ROUND_MAP[rounding]
    # APyTypes differs (0.5.1 bugs, found while writing this file; see test_oracle_*): a
    # direct cast (1) saturates wrongly when it shifts left past a 64-bit limb (e.g. Q(55,0)
    # raw 2^52 -> Q(63,14) SAT gives 0, not max), and (2) loses the carry when rounding up the
    # source's largest word (Q(64,44) raw 2^63-1 -> Q(9,1) RND_MIN_INF SAT gives min, not
    # max). So first widen exactly, one more integer bit and the target's fraction if larger
    # (no quantization, no overflow), then cast.
    a = a.cast(int_bits=a.int_bits + 1, frac_bits=max(a.frac_bits, fl))
    if signed:
        r = a.cast(bits=wl, frac_bits=fl, quantization=q, overflow=OVF_MAP[overflow])
        return _signed_from_bits(r.flatten().to_bits(), wl)
    if overflow == "wrap":
        # APyTypes differs (no unsigned): signed wl-bit WRAP keeps the same low wl bits;
        # its bit pattern read as unsigned is the unsigned raw word.
        r = a.cast(bits=wl, frac_bits=fl, quantization=q, overflow=OverflowMode.WRAP)
        return list(r.flatten().to_bits())
    # APyTypes differs (no unsigned): saturate in a signed format one bit wider (upper bound
    # 2^wl - 1 is APyTypes'), then the unsigned lower bound 0 here.
    r = a.cast(bits=wl + 1, frac_bits=fl, quantization=q, overflow=OverflowMode.SAT)
    return [max(v, 0) for v in _signed_from_bits(r.flatten().to_bits(), wl + 1)]


# --------------------------------------------------------------------------- comparison
def check_same(res, exp_raws, wl, fl, signed, shape, describe, what):
    """fxsim result `res` must be Q(wl, fl, signed), in the container dtype, of `shape`,
    with raw words exp_raws (flat). describe(i) -> text of the i-th input."""
    assert res.fmt == qf(wl, fl, signed), f"{what}: result format {res.fmt!r}"
    raw = np.asarray(res.raw)
    assert raw.dtype == container(wl, signed), f"{what}: container {raw.dtype}"
    assert raw.shape == tuple(shape), f"{what}: shape {raw.shape} != {shape}"
    got = [int(v) for v in raw.ravel()]
    bad = [i for i, (g, e) in enumerate(zip(got, exp_raws)) if g != e]
    assert len(got) == len(exp_raws)
    if bad:
        lines = [f"  {describe(i)}: expected raw {exp_raws[i]}, got {got[i]}" for i in bad[:6]]
        pytest.fail(f"{what}: {len(bad)}/{len(got)} raw words differ from APyTypes\n"
                    + "\n".join(lines))


# --------------------------------------------------------------------------- inputs
_OFFSETS = (0.0, 0.5, -0.5, 0.25, -0.25, 0.75, -0.75, 0.125, 2.0 ** -30, -(2.0 ** -30),
            0.5 + 2.0 ** -40, 0.5 - 2.0 ** -40, -0.5 + 2.0 ** -40, -0.5 - 2.0 ** -40,
            1.5, -1.5, 2.5, -2.5)


def float_inputs(wl, fl, signed, seed):
    """float64 inputs around Q(wl, fl, signed): t = x * 2^fl covers exact values, ties and
    near-ties at 0, +-1, the range ends (-2^(wl-1), max, one past them), mid-range, random
    values with random fractions, and far out of range."""
    rng = np.random.default_rng(seed)
    lo, hi = frange(wl, signed)
    bases = {0, 1, -1, 2, -2, 3, -3, lo, lo + 1, lo - 1, lo - 2, hi, hi - 1, hi + 1, hi + 2,
             (lo + hi) // 2, -hi, -hi - 1, 2 * hi + 1, -2 * hi - 2}
    ts = [float(b) + off for b in sorted(bases) for off in _OFFSETS]
    span = hi - lo + 1
    n = 160
    # random integers across (and a little past) the range, with tie/zero/random fractions
    k = rng.uniform(lo - span / 8, hi + span / 8, n)
    frac = rng.choice([0.0, 0.5, -0.5], n)
    frac = np.where(rng.random(n) < 0.5, frac, rng.uniform(-1, 1, n))
    ts += list(np.floor(k) + frac)
    # random 53-bit mantissas with random exponents: |t| from 2^-12 to 2^(wl+4)
    m = rng.integers(1 << 52, 1 << 53, n).astype(np.float64)
    e = rng.integers(-12 - 53, wl + 4 - 53, n, endpoint=True)
    s = rng.choice([-1.0, 1.0], n)
    ts += list(s * np.ldexp(m, e))
    # short mantissas make ties at every scale
    m = rng.integers(1, 1 << 8, n).astype(np.float64)
    e = rng.integers(-9, wl + 2, n, endpoint=True)
    ts += list(rng.choice([-1.0, 1.0], n) * np.ldexp(m, e))
    x = np.ldexp(np.array(ts, dtype=np.float64), -fl)
    x = np.unique(x[np.isfinite(x)])
    return np.concatenate([x, [-0.0]])


def raw_inputs(wl, signed, rnd, n=120, tie_shift=0):
    """Python-int raw words of a (wl, signed) format: the range ends, 0, +-1, values whose low
    `tie_shift` bits are exactly a half (ties), exact, and one off a half, and random words."""
    lo, hi = frange(wl, signed)
    vals = {lo, lo + 1, lo + 2, hi, hi - 1, hi - 2, 0, 1, -1, 2, -2, (lo + hi) // 2}
    if tie_shift > 0:
        h = 1 << (tie_shift - 1)
        for _ in range(24):
            k = rnd.randint(lo >> tie_shift, hi >> tie_shift)
            for off in (h, h - 1, h + 1, 0, (1 << tie_shift) - 1):
                vals.add((k << tie_shift) + off)
            for off in (h, -h):
                vals.add(off)
    vals |= {rnd.randint(lo, hi) for _ in range(n)}
    return sorted(v for v in vals if lo <= v <= hi)


# --------------------------------------------------------------------------- oracle sanity
def _spec_round_int(v, s, rounding):
    """Spec section 2 on an integer v at s extra fraction bits (t = v / 2^s), s > 0."""
    q = v >> s
    rem = v - (q << s)
    if rem == 0:
        return q
    half, neg = 1 << (s - 1), v < 0
    if rounding == "jam":
        return q | 1
    up = {
        "floor": False, "ceil": True, "toward_zero": neg, "away_from_zero": not neg,
        "nearest_up": rem >= half, "nearest_down": rem > half,
        "nearest_zero": rem > half or (rem == half and neg),
        "nearest_away": rem > half or (rem == half and not neg),
        "nearest_even": rem > half or (rem == half and q & 1 == 1),
        "nearest_odd": rem > half or (rem == half and q & 1 == 0),
    }[rounding]
    return q + up


def _spec_overflow(y, wl, signed, overflow):
    lo, hi = frange(wl, signed)
    if overflow == "saturate":
        return min(max(y, lo), hi)
    y &= (1 << wl) - 1
    return y - (1 << wl) if signed and y >> (wl - 1) else y


@pytest.mark.parametrize("rounding,overflow", MODES, ids=MODE_IDS)
def test_oracle_matches_spec_table(rounding, overflow):
    """The APyTypes side with this mapping obeys the spec's table (every Q(10,5) word, cast
    to 3 fraction bits fewer, signed and unsigned outputs): a later mismatch is fxsim's."""
    src = list(range(-512, 512))
    a = apy_from_raw(src, 10, 5, True)
    for wl, signed in ((4, True), (4, False), (8, True), (7, False), (1, True), (1, False)):
        exp = [_spec_overflow(_spec_round_int(v, 3, rounding), wl, signed, overflow)
               for v in src]
        assert apy_cast_raws(a, wl, 2, signed, rounding, overflow) == exp


def test_oracle_random_formats():
    """The same on random formats up to 140-bit sources, shifts of -70..70 bits (left shifts
    past 64 bits, carries out of the source's top word): the oracle, with its workarounds,
    is the spec."""
    rnd = random.Random(_seed("oracle"))
    for _ in range(2500):
        swl, sfl, ssg = rnd.randint(1, 140), rnd.randint(-60, 60), rnd.random() < 0.7
        wl, signed = rnd.randint(1, 64), rnd.random() < 0.7
        d = rnd.choice([rnd.randint(-70, 0), rnd.randint(1, 4), rnd.randint(1, 70)])
        fl = sfl - d
        raws = raw_inputs(swl, ssg, rnd, n=4, tie_shift=min(max(d, 0), swl))
        rounding, overflow = rnd.choice(MODES)
        a = apy_from_raw(raws, swl, sfl, ssg)
        exp = [_spec_overflow(_spec_round_int(v, d, rounding) if d > 0 else v << -d,
                              wl, signed, overflow) for v in raws]
        got = apy_cast_raws(a, wl, fl, signed, rounding, overflow)
        assert got == exp, (f"oracle: Q({swl},{sfl},{ssg}) -> Q({wl},{fl},{signed}) "
                            f"{rounding} {overflow}")


# --------------------------------------------------------------------------- cast from float64
_FLOAT_CACHE = {}


def _float_case(wl, fl, signed):
    key = (wl, fl, signed)
    if key not in _FLOAT_CACHE:
        x = float_inputs(wl, fl, signed, seed=_seed(*key))
        _FLOAT_CACHE[key] = (x, apy_from_float_exact(x))
    return _FLOAT_CACHE[key]


@pytest.mark.parametrize("rounding,overflow", MODES, ids=MODE_IDS)
def test_cast_from_float64(rounding, overflow):
    for wl, fl, signed in CAST_FORMATS:
        x, a = _float_case(wl, fl, signed)
        exp = apy_cast_raws(a, wl, fl, signed, rounding, overflow)
        res = fx.cast(x, qf(wl, fl, signed), rounding, overflow)
        check_same(res, exp, wl, fl, signed, x.shape,
                   lambda i: f"x={x[i]!r} ({float(x[i]).hex()})",
                   f"cast(float64 -> Q({wl},{fl},{'s' if signed else 'u'}), {rounding}, {overflow})")


@pytest.mark.parametrize("rounding", list(ROUND_MAP))
def test_cast_from_float64_2d_and_format_string(rounding):
    """Shape is kept and a format given as a string means the same format."""
    rng = np.random.default_rng(7)
    x = rng.normal(0, 40, (13, 17))
    x[::3, ::2] = np.round(x[::3, ::2] * 512) / 512 + 1 / 512  # ties at 8 fraction bits
    a = apy_from_float_exact(x)
    exp = apy_cast_raws(a, 16, 8, True, rounding, "saturate")
    res = fx.cast(x, "Q(16,8)", rounding, "saturate")
    check_same(res, exp, 16, 8, True, x.shape, lambda i: f"x={x.ravel()[i]!r}",
               f"cast(2-D float64 -> 'Q(16,8)', {rounding})")


@pytest.mark.parametrize("rounding", list(ROUND_MAP))
def test_cast_infinity_saturates(rounding):
    """+-inf under saturate gives the same words as APyTypes saturating a huge finite value."""
    for wl, fl, signed in CAST_FORMATS[::3]:
        x = np.array([np.inf, -np.inf])
        big = math.ldexp(1.0, wl - fl + 4)
        a = apy_from_float_exact(np.array([big, -big]))
        exp = apy_cast_raws(a, wl, fl, signed, rounding, "saturate")
        res = fx.cast(x, qf(wl, fl, signed), rounding, "saturate")
        check_same(res, exp, wl, fl, signed, (2,), lambda i: f"x={x[i]}",
                   f"cast(inf -> Q({wl},{fl},{'s' if signed else 'u'}), {rounding})")


# --------------------------------------------------------------------------- cast from FixedArray
def _fixed_cast_cases():
    """(src fmt, dst fmt) pairs: the source up to 64 bits, its fraction from 6 below the
    destination's (exact left shifts, overflow) to 40 above (rounding), both signednesses."""
    rnd = random.Random(_seed('fixed'))
    cases = []
    for wl, fl, signed in CAST_FORMATS:
        for _ in range(2):
            d = rnd.choice([rnd.randint(-6, 0), rnd.randint(1, 4), rnd.randint(5, 40)])
            sfl = max(-256, min(256, fl + d))
            ssigned = rnd.random() < 0.6
            swl = rnd.choice([64, 63, rnd.randint(1, 64), min(64, wl + max(d, 0) + 1)])
            cases.append(((swl, sfl, ssigned), (wl, fl, signed)))
    cases.append(((64, 64, True), (1, 0, True)))
    cases.append(((64, 0, False), (64, 0, True)))
    cases.append(((64, 0, True), (64, 0, False)))
    cases.append(((64, 63, True), (64, 0, True)))
    cases.append(((64, 1, True), (64, 0, True)))
    cases.append(((64, 1, False), (64, 0, False)))
    return cases


FIXED_CASES = _fixed_cast_cases()
_FIXED_CACHE = {}


def _fixed_case(src):
    if src not in _FIXED_CACHE:
        swl, sfl, ssigned = src
        rnd = random.Random(_seed(*src))
        raws = []
        for sh in (1, 2, 3, rnd.randint(4, 20), rnd.randint(20, 63)):
            raws += raw_inputs(swl, ssigned, rnd, n=30, tie_shift=min(sh, swl))
        raws = sorted(set(raws))
        _FIXED_CACHE[src] = (raws, fixed(raws, *src), apy_from_raw(raws, *src))
    return _FIXED_CACHE[src]


@pytest.mark.parametrize("rounding,overflow", MODES, ids=MODE_IDS)
def test_cast_from_fixed(rounding, overflow):
    for src, (wl, fl, signed) in FIXED_CASES:
        raws, xa, a = _fixed_case(src)
        exp = apy_cast_raws(a, wl, fl, signed, rounding, overflow)
        res = fx.cast(xa, qf(wl, fl, signed), rounding, overflow)
        check_same(res, exp, wl, fl, signed, (len(raws),),
                   lambda i: f"raw {raws[i]} of Q{src}",
                   f"cast(Q{src} -> Q({wl},{fl},{'s' if signed else 'u'}), {rounding}, {overflow})")


# --------------------------------------------------------------------------- add / sub / mul
def _exact_fl(op, fa, fb):
    return fa + fb if op == "mul" else max(fa, fb)


def _exact_bits(op, a_fmt, b_fmt):
    """Bits of the exact signed intermediate (one more for an unsigned operand)."""
    (wa, fa, sa), (wb, fb, sb) = a_fmt, b_fmt
    ua, ub = wa + (not sa), wb + (not sb)  # as signed
    if op == "mul":
        return ua + ub
    F = max(fa, fb)
    return max(ua + F - fa, ub + F - fb) + 1


def _arith_cases(op):
    rnd = random.Random(_seed(op))
    cases = []
    while len(cases) < 34:
        wa = rnd.choice([1, 2, 8, 16, 32, 63, 64, rnd.randint(1, 64)])
        wb = rnd.choice([1, 3, 8, 24, 64, rnd.randint(1, 64)])
        fa = rnd.choice([0, wa // 2, wa, rnd.randint(-20, 70)])
        fb = rnd.choice([fa, 0, wb // 2, rnd.randint(-20, 70)])
        a_fmt = (wa, fa, rnd.random() < 0.7)
        b_fmt = (wb, fb, rnd.random() < 0.7)
        if _exact_bits(op, a_fmt, b_fmt) > 126:  # widest: test_mul_widest_exact_product
            continue
        F = _exact_fl(op, fa, fb)
        d = rnd.choice([1, 1, 2, 3, rnd.randint(-4, 0), rnd.randint(4, 40)])
        fo = max(-256, min(256, F - d))
        wo = rnd.choice([64, rnd.randint(1, 64), max(1, min(64, max(wa, wb) - d + 1))])
        cases.append((a_fmt, b_fmt, (wo, fo, rnd.random() < 0.75)))
    # fixed ones: the benchmark's datapath, full-width words
    cases.append(((8, 8, True), (8, 8, True), (8, 8, True)))
    cases.append(((16, 8, True), (16, 8, True), (16, 8, True)))
    cases.append(((64, 32, True), (62, 30, True), (64, 32, True)))
    cases.append(((64, 0, False), (61, 0, False), (64, 0, False)))
    cases.append(((64, 10, True), (62, 60, True), (64, 40, True)) if op == "mul" else
                 ((64, 10, True), (40, 60, True), (64, 40, True)))
    return cases


_ARITH_CACHE = {}


def _arith_case(op, idx):
    key = (op, idx)
    if key not in _ARITH_CACHE:
        a_fmt, b_fmt, o_fmt = _arith_cases(op)[idx]
        rnd = random.Random(_seed(*key))
        F = _exact_fl(op, a_fmt[1], b_fmt[1])
        d = F - o_fmt[1]
        ra = raw_inputs(a_fmt[0], a_fmt[2], rnd, n=40, tie_shift=min(max(d, 0), a_fmt[0]))
        rb = raw_inputs(b_fmt[0], b_fmt[2], rnd, n=40, tie_shift=min(max(d, 0), b_fmt[0]))
        # every pair of the edge words, plus random pairs
        ea, eb = ra[:8] + ra[-8:], rb[:8] + rb[-8:]
        pa = [x for x in ea for _ in eb] + [rnd.choice(ra) for _ in range(300)]
        pb = [y for _ in ea for y in eb] + [rnd.choice(rb) for _ in range(300)]
        A, B = apy_from_raw(pa, *a_fmt), apy_from_raw(pb, *b_fmt)
        exact = OPER[op](A, B)
        _ARITH_CACHE[key] = (pa, pb, fixed(pa, *a_fmt), fixed(pb, *b_fmt), exact)
    return _ARITH_CACHE[key]


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
@pytest.mark.parametrize("rounding,overflow", MODES, ids=MODE_IDS)
def test_arith(op, rounding, overflow):
    for idx, (a_fmt, b_fmt, o_fmt) in enumerate(_arith_cases(op)):
        pa, pb, fa, fb, exact = _arith_case(op, idx)
        wl, fl, signed = o_fmt
        exp = apy_cast_raws(exact, wl, fl, signed, rounding, overflow)
        res = getattr(fx, op)(fa, fb, qf(wl, fl, signed), rounding, overflow)
        check_same(res, exp, wl, fl, signed, (len(pa),),
                   lambda i: f"a=raw {pa[i]} of Q{a_fmt}, b=raw {pb[i]} of Q{b_fmt}",
                   f"{op}(Q{a_fmt}, Q{b_fmt}) -> Q{o_fmt} {rounding} {overflow}")


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_arith_broadcast(op):
    """numpy broadcasting (n,1) with (1,m) gives APyTypes' words on the broadcast pairs."""
    rnd = random.Random(11)
    ra = raw_inputs(12, True, rnd, n=10, tie_shift=3)
    rb = raw_inputs(10, False, rnd, n=10, tie_shift=3)
    fa = fixed(np.array(ra, dtype=object).reshape(-1, 1), 12, 6, True)
    fb = fixed(np.array(rb, dtype=object).reshape(1, -1), 10, 7, False)
    pa = [x for x in ra for _ in rb]
    pb = [y for _ in ra for y in rb]
    A, B = apy_from_raw(pa, 12, 6, True), apy_from_raw(pb, 10, 7, False)
    exact = OPER[op](A, B)
    out = (9, 4, True)
    for rounding in ROUND_MAP:
        exp = apy_cast_raws(exact, *out, rounding, "saturate")
        res = getattr(fx, op)(fa, fb, qf(*out), rounding=rounding, overflow="saturate")
        check_same(res, exp, *out, (len(ra), len(rb)),
                   lambda i: f"a={pa[i]}, b={pb[i]}", f"broadcast {op} {rounding}")


def _min_exact_bits(op, a_fmt, b_fmt):
    """Fewest bits (either signedness) that hold every exact result of op at its fraction."""
    (wa, fa, sa), (wb, fb, sb) = a_fmt, b_fmt
    alo, ahi = frange(wa, sa)
    blo, bhi = frange(wb, sb)
    if op == "mul":
        c = [x * y for x in (alo, ahi) for y in (blo, bhi)]
        lo, hi = min(c), max(c)
    else:
        F = max(fa, fb)
        alo, ahi, blo, bhi = alo << (F - fa), ahi << (F - fa), blo << (F - fb), bhi << (F - fb)
        lo, hi = (alo + blo, ahi + bhi) if op == "add" else (alo - bhi, ahi - blo)
    if lo >= 0:
        return max(1, hi.bit_length())
    return max((-lo - 1).bit_length(), hi.bit_length()) + 1


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_arith_full_precision(op):
    """fmt=None (and the operators + - *) is exact: the same value as APyTypes' full-precision
    result, compared as integers at a common fraction length."""
    for idx, (a_fmt, b_fmt, _) in enumerate(_arith_cases(op)):
        pa, pb, fa, fb, exact = _arith_case(op, idx)
        need = _min_exact_bits(op, a_fmt, b_fmt)
        if op == "mul":  # docs/api.md: wl = wa + wb, fl = fa + fb, signed if either is
            wl = a_fmt[0] + b_fmt[0]
            if wl > 64:
                with pytest.raises(ValueError):
                    fx.mul(fa, fb)
                continue
        try:
            res = getattr(fx, op)(fa, fb)
        except ValueError:
            # a full-precision format wider than 64 bits asks for fmt; docs/api.md allows
            # one bit more than the minimum ("enough integer bits + 1")
            assert need >= 64, (f"{op}(Q{a_fmt}, Q{b_fmt}) without fmt raised ValueError but "
                                f"the exact result fits {need} bits")
            continue
        assert res.fmt.fl == _exact_fl(op, a_fmt[1], b_fmt[1]), res.fmt
        oper = OPER[op](fa, fb)
        assert oper.identical(res), f"operator {op} differs from fx.{op}"
        F = exact.frac_bits
        ebits = _signed_from_bits(exact.flatten().to_bits(), exact.bits)
        fl = res.fmt.fl
        got = [int(v) for v in np.asarray(res.raw).ravel()]
        G = max(fl, F)  # compare got * 2^-fl == exp * 2^-F as integers at fraction G
        bad = [i for i, (g, e) in enumerate(zip(got, ebits)) if g << (G - fl) != e << (G - F)]
        assert not bad, (f"{op}(Q{a_fmt}, Q{b_fmt}) full precision: {len(bad)} differ; first "
                         f"a={pa[bad[0]]} b={pb[bad[0]]}: expected {ebits[bad[0]]}*2^-{F}, "
                         f"got {got[bad[0]]}*2^-{fl} in {res.fmt!r}")


def test_mul_full_precision_format():
    """docs/api.md: mul without fmt gives wl = wa + wb, fl = fa + fb, signed if either is."""
    bad = []
    for idx, (a_fmt, b_fmt, _) in enumerate(_arith_cases("mul")):
        if a_fmt[0] + b_fmt[0] > 64:
            continue
        _, _, fa, fb, _ = _arith_case("mul", idx)
        res = fx.mul(fa, fb)
        want = qf(a_fmt[0] + b_fmt[0], a_fmt[1] + b_fmt[1], a_fmt[2] or b_fmt[2])
        if res.fmt != want:
            bad.append(f"Q{a_fmt} * Q{b_fmt}: {res.fmt!r}, docs say {want!r}")
    assert not bad, "\n".join(bad)


WIDEST_MUL = [((64, 0, False), (62, 0, False), (64, 0, False)),
              ((64, 0, False), (62, 0, False), (64, -62, False)),
              ((64, 10, True), (63, 60, True), (64, 40, True)),
              ((64, 63, True), (63, 62, True), (64, 63, True)),
              ((64, 0, True), (62, 0, False), (64, -60, True))]


@pytest.mark.parametrize("a_fmt,b_fmt,o_fmt", WIDEST_MUL,
                         ids=[f"Q{a}xQ{b}" for a, b, _ in WIDEST_MUL])
def test_mul_widest_exact_product(a_fmt, b_fmt, o_fmt):
    """The widest products docs/api.md allows (exact in 128-bit, ValueError only for an exact
    intermediate of more than 127 bits): UQ(64,0)*UQ(62,0) < 2^126, Q(64)*Q(63) with
    |p| <= 2^125, Q(64)*UQ(62) with |p| < 2^125."""
    rnd = random.Random(_seed("widest", a_fmt, b_fmt, o_fmt))
    ra = raw_inputs(a_fmt[0], a_fmt[2], rnd, n=30, tie_shift=8)
    rb = raw_inputs(b_fmt[0], b_fmt[2], rnd, n=30, tie_shift=8)
    pa = [x for x in ra for _ in rb]
    pb = [y for _ in ra for y in rb]
    exact = apy_from_raw(pa, *a_fmt) * apy_from_raw(pb, *b_fmt)
    fa, fb = fixed(pa, *a_fmt), fixed(pb, *b_fmt)
    for rounding, overflow in MODES:
        exp = apy_cast_raws(exact, *o_fmt, rounding, overflow)
        try:
            res = fx.mul(fa, fb, qf(*o_fmt), rounding, overflow)
        except ValueError as e:
            pytest.fail(f"mul(Q{a_fmt}, Q{b_fmt}, Q{o_fmt}) refused ({e}); the exact products "
                        f"need {_min_exact_bits('mul', a_fmt, b_fmt)} bits")
        check_same(res, exp, *o_fmt, (len(pa),),
                   lambda i: f"a=raw {pa[i]} of Q{a_fmt}, b=raw {pb[i]} of Q{b_fmt}",
                   f"mul(Q{a_fmt}, Q{b_fmt}) -> Q{o_fmt} {rounding} {overflow}")


@pytest.mark.parametrize("rounding", ["nearest_even", "floor", "jam"])
def test_threads_give_same_bits(rounding):
    """Arrays large enough to be split over threads: same words as APyTypes with every
    thread count fxsim accepts here (1, 2, 3)."""
    setn = getattr(fx, "set_num_threads", None)
    get = getattr(fx, "get_num_threads", None)
    rng = np.random.default_rng(_seed("threads", rounding))
    n = 300_000
    x = rng.normal(0, 300, n)
    x[::4] = np.round(x[::4] * 64) / 64 + 1 / 128  # ties at 6 fraction bits
    ra = rng.integers(-(1 << 15), 1 << 15, n)
    rb = rng.integers(-(1 << 15), 1 << 15, n)
    exp_cast = apy_cast_raws(apy_from_float_exact(x), 16, 6, True, rounding, "saturate")
    exact = apy_from_raw(ra.tolist(), 16, 8, True) * apy_from_raw(rb.tolist(), 16, 10, True)
    exp_mul = apy_cast_raws(exact, 16, 9, True, rounding, "wrap")
    fa, fb = fixed(ra, 16, 8, True), fixed(rb, 16, 10, True)
    old = get() if get else None
    try:
        for th in ((1, 2, 3) if setn else (None,)):
            if th is not None:
                setn(th)
            res = fx.cast(x, qf(16, 6), rounding, "saturate")
            check_same(res, exp_cast, 16, 6, True, (n,), lambda i: f"x={x[i]!r}",
                       f"cast float64 -> Q(16,6) {rounding}, {th} threads")
            res = fx.mul(fa, fb, qf(16, 9), rounding, "wrap")
            check_same(res, exp_mul, 16, 9, True, (n,), lambda i: f"a={ra[i]}, b={rb[i]}",
                       f"mul Q(16,8)*Q(16,10) -> Q(16,9) {rounding} wrap, {th} threads")
    finally:
        if setn and old is not None:
            setn(old)
