"""Pure-Python reference of the fxsim datapath (docs/datapath.md, sections 2-4).

This module is the test oracle. It is written from the spec text only and must never
import fxsim: every value is a Python int or a ``fractions.Fraction``, every format a
plain tuple ``(wl, fl, signed)``. It is meant to be slow and obviously right.

Main entry points
-----------------
ref_round(t, rounding, ...)        -> int       rounding of t = x * 2^fl (spec 2)
ref_overflow(y, wl, signed, mode)  -> int       overflow handling (spec 3)
ref_cast(x, wl, fl, signed, ...)   -> int raw   cast = rounding then overflow
ref_cast_info(...)                 -> CastInfo  the same with the counter flags (spec 6)
ref_add / ref_sub / ref_mul        -> int raw   exact op, then one cast
ref_dot(...)                       -> DotResult spec 4 order, with draw consumption
"""
from __future__ import annotations

import math

import numpy as np
from collections import namedtuple
from fractions import Fraction

DETERMINISTIC = (
    "floor", "ceil", "toward_zero", "away_from_zero",
    "nearest_up", "nearest_down", "nearest_zero", "nearest_away",
    "nearest_even", "nearest_odd", "jam",
)
STOCHASTIC = ("stochastic", "stochastic_eps", "signed_stochastic_eps")
ROUNDINGS = DETERMINISTIC + STOCHASTIC
OVERFLOWS = ("saturate", "saturate_symmetric", "wrap", "error")
SR_RULES = ("trunc", "half", "rne", "ge", "tt_sfpu")

CastInfo = namedtuple("CastInfo", "raw inexact rounded_up overflowed drew")

HALF = Fraction(1, 2)


# --------------------------------------------------------------------------- formats
def fmt_range(wl, signed):
    """(min_raw, max_raw) of a format (spec 1)."""
    if signed:
        return -(1 << (wl - 1)), (1 << (wl - 1)) - 1
    return 0, (1 << wl) - 1


def check_fmt(wl, fl, signed):
    if not (isinstance(wl, int) and 1 <= wl <= 64):
        raise ValueError(f"wl must be an integer in 1..64, got {wl!r}")
    if not (isinstance(fl, int) and -256 <= fl <= 256):
        raise ValueError(f"fl must be an integer in -256..256, got {fl!r}")


def pow2(e):
    """2^e as an exact Fraction (e may be negative)."""
    return Fraction(1 << e) if e >= 0 else Fraction(1, 1 << -e)


def value(raw, fl):
    """Exact value raw * 2^-fl."""
    return Fraction(raw, 1 << fl) if fl >= 0 else Fraction(raw << -fl)


def sign(x):
    return int(x > 0) - int(x < 0)


def to_fraction(x):
    """Exact value of an int, float or Fraction (floats are exact binary rationals)."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, bool):
        return Fraction(int(x))
    if isinstance(x, int):
        return Fraction(x)
    x = float(x)
    if math.isnan(x):
        raise ValueError("x is NaN")
    return Fraction(x)  # raises OverflowError for inf; callers handle inf first


def _rne(y):
    """Round a non-negative Fraction to the nearest integer, ties to even."""
    q = math.floor(y)
    f = y - q
    if f > HALF or (f == HALF and q % 2 == 1):
        return q + 1
    return q


# --------------------------------------------------------------------------- rounding (spec 2)
def stochastic_addend(t, rounding, r, eps=0, v=0, sr_rule="trunc"):
    """The (r+1)-bit addend A' of spec 2 (after the eps adjustment), for phi > 0.

    Rounding goes up iff A' + 2R >= 2^(r+1).
    """
    q = math.floor(t)
    phi = t - q
    two_r = 1 << r
    if sr_rule == "trunc":
        A = 2 * math.floor(phi * two_r)             # 2D
    elif sr_rule == "half":
        A = math.floor(phi * (2 * two_r)) + 1
    elif sr_rule == "rne":
        A = 2 * _rne(phi * two_r)
    elif sr_rule == "ge":
        A = 2 * math.floor(phi * two_r) + 2     # against the complement of R: see ref_round
    else:
        raise ValueError(f"sr_rule must be one of {SR_RULES}, got {sr_rule!r}")
    E = math.floor(Fraction(eps) * two_r)
    if rounding == "stochastic_eps":
        A = min(max(A + 2 * sign(t) * E, 0), 2 * two_r)
    elif rounding == "signed_stochastic_eps":
        A = min(max(A - 2 * sign(v) * E, 0), 2 * two_r)
    return A


def tt_sfpu_round(t, rounding, R, r, eps=0, v=0):
    """sr_rule 'tt_sfpu': Tenstorrent SFPSTOCHRND's functional model (tt-isa-documentation,
    SFPSTOCHRND_IntInt.md: ``Mag = (Mag >> 23) + ((Mag & 0x7fffff) >= PRNGBits)`` on the
    magnitude of a sign-magnitude word, the sign put back) with r bits in place of 23: the
    magnitude goes up when the top r bits of its discarded part are >= R, exact values
    included.  The eps modes bias those bits by E (stochastic_eps: away from zero;
    signed_stochastic_eps: against v, i.e. towards -sign(v) in value)."""
    neg = t < 0
    m = -t if neg else t
    Q = math.floor(m)
    Dm = math.floor((m - Q) * (1 << r))
    E = math.floor(Fraction(eps) * (1 << r))
    if rounding == "stochastic_eps":
        Dm += E
    elif rounding == "signed_stochastic_eps":
        Dm += -sign(v) * E * (-1 if neg else 1)
    mag = Q + (1 if Dm >= R else 0)
    return -mag if neg else mag


def ref_round(t, rounding, R=None, r=None, eps=0, v=0, sr_rule="trunc"):
    """Round the exact value t (= x * 2^fl) to an integer: q or q + 1 (jam: q | 1;
    sr_rule 'tt_sfpu': q - 1, q, q + 1, see tt_sfpu_round)."""
    t = Fraction(t)
    q = math.floor(t)
    phi = t - q
    if rounding in STOCHASTIC and sr_rule == "tt_sfpu":
        return tt_sfpu_round(t, rounding, R, r, eps, v)
    if phi == 0:
        return q                      # every mode, stochastic ones included
    if rounding == "floor":
        up = False
    elif rounding == "ceil":
        up = True
    elif rounding == "toward_zero":
        up = t < 0
    elif rounding == "away_from_zero":
        up = t > 0
    elif rounding == "nearest_up":
        up = phi >= HALF
    elif rounding == "nearest_down":
        up = phi > HALF
    elif rounding == "nearest_zero":
        up = phi > HALF or (phi == HALF and t < 0)
    elif rounding == "nearest_away":
        up = phi > HALF or (phi == HALF and t > 0)
    elif rounding == "nearest_even":
        up = phi > HALF or (phi == HALF and q % 2 == 1)
    elif rounding == "nearest_odd":
        up = phi > HALF or (phi == HALF and q % 2 == 0)
    elif rounding == "jam":
        return q | 1                  # lowest bit forced to 1 (two's complement)
    elif rounding in STOCHASTIC:
        A = stochastic_addend(t, rounding, r, eps, v, sr_rule)
        if sr_rule == "ge":
            R = (1 << r) - 1 - R      # Tenstorrent SFPSTOCHRND: up when D >= R
        up = A + 2 * R >= (2 << r)
    else:
        raise ValueError(f"unknown rounding {rounding!r}")
    return q + 1 if up else q


# --------------------------------------------------------------------------- overflow (spec 3)
def ref_overflow(y, wl, signed, overflow):
    """Apply the overflow mode to the rounded integer y. Returns the raw word."""
    lo, hi = fmt_range(wl, signed)
    if overflow == "saturate":
        return min(max(y, lo), hi)
    if overflow == "saturate_symmetric":
        if signed:
            return min(max(y, -hi), hi)
        return min(max(y, lo), hi)
    if overflow == "wrap":
        m = y % (1 << wl)
        if signed and m >= (1 << (wl - 1)):
            m -= 1 << wl
        return m
    if overflow == "error":
        if not (lo <= y <= hi):
            raise OverflowError(f"{y} out of range of a {wl}-bit word")
        return y
    raise ValueError(f"unknown overflow {overflow!r}")


# --------------------------------------------------------------------------- cast
def _check_sr(rounding, R, r, eps, sr_rule):
    if rounding not in STOCHASTIC:
        return
    if not (isinstance(r, int) and 1 <= r <= 64):
        raise ValueError(f"r must be in 1..64, got {r!r}")
    if R is None or not (0 <= R < (1 << r)):
        raise ValueError(f"R must be in [0, 2^r), got {R!r}")
    if not (0 <= eps < 1):
        raise ValueError(f"eps must be in [0, 1), got {eps!r}")
    if sr_rule not in SR_RULES:
        raise ValueError(f"unknown sr_rule {sr_rule!r}")


def ref_cast_info(x, wl, fl, signed, rounding, overflow, R=None, r=None, eps=0, v=0,
                  sr_rule="trunc"):
    """Cast the exact value x (int, float or Fraction) to Q(wl, fl, signed).

    Returns CastInfo(raw, inexact, rounded_up, overflowed, drew). Raises ValueError for NaN
    and for +-inf under wrap/error, OverflowError under `error` overflow.
    """
    check_fmt(wl, fl, signed)
    if rounding not in ROUNDINGS:
        raise ValueError(f"unknown rounding {rounding!r}")
    if overflow not in OVERFLOWS:
        raise ValueError(f"unknown overflow {overflow!r}")
    if sr_rule is None:
        sr_rule = "trunc"
    _check_sr(rounding, R, r, eps, sr_rule)
    drew = rounding in STOCHASTIC
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        if math.isnan(x):
            raise ValueError("NaN input")
        if overflow in ("wrap", "error"):
            raise ValueError("infinite input under wrap/error overflow")
        lo, hi = fmt_range(wl, signed)
        if x < 0 and overflow == "saturate_symmetric" and signed:
            lo = -hi
        return CastInfo(hi if x > 0 else lo, True, False, True, drew)
    x = to_fraction(x)
    t = x * pow2(fl)
    q = math.floor(t)
    y = ref_round(t, rounding, R=R, r=r, eps=eps, v=v, sr_rule=sr_rule)
    raw = ref_overflow(y, wl, signed, overflow)
    return CastInfo(raw, t != q, y > q, raw != y, drew)


def ref_cast(x, wl, fl, signed, rounding, overflow, R=None, r=None, eps=0, v=0,
             sr_rule="trunc"):
    """Raw integer of cast(x, Q(wl, fl, signed)); see ref_cast_info."""
    return ref_cast_info(x, wl, fl, signed, rounding, overflow, R=R, r=r, eps=eps, v=v,
                         sr_rule=sr_rule).raw


def sr_trunc_sat_model(x, fmt, r, words):
    """Vectorised SR (trunc rule, saturate) of float64 ``x`` into ``fmt`` = (wl, fl, signed) with
    the top ``r`` bits of the 64-bit ``words``: floor(t) + [floor(frac(t)·2^r) + R ≥ 2^r],
    t = x·2^fl (exact), then clipped; ±inf saturate.  For |t| < 2^52 every step is exact in
    float64 (frac(t) = t − floor(t) is); tests check it against ``ref_cast_info`` on samples.
    Returns int64 raws."""
    wl, fl, signed = fmt
    lo, hi = fmt_range(wl, signed)
    t = np.asarray(x, dtype=np.float64) * 2.0**fl
    q = np.floor(t)
    R = (np.asarray(words, dtype=np.uint64) >> np.uint64(64 - r)).astype(np.float64)
    with np.errstate(invalid="ignore"):
        frac = np.floor((t - q) * 2.0**r)
        up = (t != q) & (frac + R >= 2.0**r)
    return np.clip(q + up, lo, hi).astype(np.int64)


def ref_cast_fmt(x, fmt, rounding, overflow, **sr):
    wl, fl, signed = fmt
    return ref_cast(x, wl, fl, signed, rounding, overflow, **sr)


# --------------------------------------------------------------------------- operations (spec 4)
def exact_add(raw_a, fmt_a, raw_b, fmt_b):
    return value(raw_a, fmt_a[1]) + value(raw_b, fmt_b[1])


def exact_sub(raw_a, fmt_a, raw_b, fmt_b):
    return value(raw_a, fmt_a[1]) - value(raw_b, fmt_b[1])


def exact_mul(raw_a, fmt_a, raw_b, fmt_b):
    return value(raw_a * raw_b, fmt_a[1] + fmt_b[1])


def ref_add(raw_a, fmt_a, raw_b, fmt_b, out, rounding="nearest_even", overflow="saturate", **sr):
    return ref_cast_fmt(exact_add(raw_a, fmt_a, raw_b, fmt_b), out, rounding, overflow, **sr)


def ref_sub(raw_a, fmt_a, raw_b, fmt_b, out, rounding="nearest_even", overflow="saturate", **sr):
    return ref_cast_fmt(exact_sub(raw_a, fmt_a, raw_b, fmt_b), out, rounding, overflow, **sr)


def ref_mul(raw_a, fmt_a, raw_b, fmt_b, out, rounding="nearest_even", overflow="saturate", **sr):
    return ref_cast_fmt(exact_mul(raw_a, fmt_a, raw_b, fmt_b), out, rounding, overflow, **sr)


DotResult = namedtuple("DotResult", "value raw fmt")


class RefCounters:
    """Per-role totals, as spec 6 describes (cast, inexact, rounded_up, overflowed, draws)."""

    FIELDS = ("cast", "inexact", "rounded_up", "overflowed", "draws")

    def __init__(self):
        self.by_role = {}

    def add(self, role, info):
        d = self.by_role.setdefault(role, dict.fromkeys(self.FIELDS, 0))
        d["cast"] += 1
        d["inexact"] += int(info.inexact)
        d["rounded_up"] += int(info.rounded_up)
        d["overflowed"] += int(info.overflowed)
        d["draws"] += int(info.drew)

    def total(self, field):
        return sum(d[field] for d in self.by_role.values())

    def role(self, role, field):
        return self.by_role.get(role, dict.fromkeys(self.FIELDS, 0))[field]


def ref_dot(a_raws, fmt_a, b_raws, fmt_b, acc=None, prod=None, out=None,
            rounding="nearest_even", overflow="saturate",
            prod_rounding=None, prod_overflow=None, acc_rounding=None, acc_overflow=None,
            out_rounding=None, out_overflow=None,
            r=None, eps=0, v=0, sr_rule="trunc", draws=None, counters=None,
            cast_info=None):
    """Dot product in the order of spec 4.

    acc_0 = 0; for k ascending: p_k = cast(a_k b_k, prod) (absent if prod is None),
    acc_{k+1} = cast(acc_k + p_k, acc) (absent if acc is None: exact); result
    cast(acc_K, out) (absent if out is None or out == acc).
    `draws` is an iterator of R values; each present stochastic cast takes the next one
    (product before accumulator for each k, output last). `v` is the companion value of this
    output element, used by every signed_stochastic_eps cast of the element.
    Returns DotResult(value: Fraction, raw: int or None, fmt: tuple or None); raw/fmt are
    None when the result is the exact (uncast) sum. `cast_info` may replace ref_cast_info by a
    memoized copy of it (tests use that for speed).
    """
    cast_info = cast_info or ref_cast_info
    if len(a_raws) != len(b_raws):
        raise ValueError("length mismatch")
    draws = iter(draws) if draws is not None else iter(())

    def do_cast(x, fmt, rnd, ovf, role):
        rnd = rnd or rounding
        ovf = ovf or overflow
        R = next(draws) if rnd in STOCHASTIC else None
        wl, fl, signed = fmt
        info = cast_info(x, wl, fl, signed, rnd, ovf, R=R, r=r, eps=eps, v=v,
                         sr_rule=sr_rule)
        if counters is not None:
            counters.add(role, info)
        return info.raw, value(info.raw, fl)

    acc_val = Fraction(0)
    acc_raw = 0
    for ak, bk in zip(a_raws, b_raws):
        p = exact_mul(ak, fmt_a, bk, fmt_b)
        if prod is not None:
            _, p = do_cast(p, prod, prod_rounding, prod_overflow, "prod")
        s = acc_val + p
        if acc is not None:
            acc_raw, acc_val = do_cast(s, acc, acc_rounding, acc_overflow, "acc")
        else:
            acc_val = s
    if out is not None and (acc is None or tuple(out) != tuple(acc)):
        raw, val = do_cast(acc_val, out, out_rounding, out_overflow, "out")
        return DotResult(val, raw, tuple(out))
    if acc is not None:
        return DotResult(acc_val, acc_raw, tuple(acc))
    return DotResult(acc_val, None, None)


# --------------------------------------------------------------------------- LFSR (spec 5.1)
def ref_lfsr_draws(n, taps, form, draw, r, seed, count):
    """First `count` draws of one LFSR lane (spec 5.1), as a list of ints."""
    M = sum(1 << (t - 1) for t in taps)
    s = seed
    mask = (1 << n) - 1

    def step():
        nonlocal s
        if form == "galois":
            b = s & 1
            s >>= 1
            if b:
                s ^= M
        elif form == "fibonacci":
            b = (s >> (n - 1)) & 1
            f = bin(s & M).count("1") & 1
            s = ((s << 1) | f) & mask
        else:
            raise ValueError(f"unknown form {form!r}")
        return b

    out = []
    for _ in range(count):
        if draw == "serial":
            R = 0
            for _ in range(r):
                R = (R << 1) | step()
        elif draw == "state":
            if r > n:
                raise ValueError("state draws need r <= n")
            step()
            R = s & ((1 << r) - 1)
        else:
            raise ValueError(f"unknown draw rule {draw!r}")
        out.append(R)
    return out


# --------------------------------------------------------------------------- format strings (docs/api.md)
_DIGITS = "0123456789"


def _ref_uint(s):
    if not s or any(c not in _DIGITS for c in s):
        raise ValueError(f"not an unsigned decimal integer: {s!r}")
    return int(s)


def _ref_int(s):
    return -_ref_uint(s[1:]) if s.startswith("-") else _ref_uint(s)


def ref_parse_format(text):
    """(wl, fl, signed) of a format string, by the grammar of docs/api.md (case-insensitive,
    spaces ignored): ``Qm.n`` / ``UQm.n`` (wl = m + n, fl = n; m, n may be negative),
    ``sW.F`` / ``uW.F`` and ``Q(W,F)`` / ``UQ(W,F)`` (W unsigned). ValueError for anything else
    or for a format outside spec 1 (wl 1..64, fl -256..256)."""
    if not isinstance(text, str):
        raise ValueError(f"not a format string: {text!r}")
    t = text.replace(" ", "").lower()
    if t.startswith("uq"):
        signed, body, grammar = False, t[2:], "q"
    elif t.startswith("q"):
        signed, body, grammar = True, t[1:], "q"
    elif t[:1] in ("s", "u"):
        signed, body, grammar = t[0] == "s", t[1:], "w"
    else:
        raise ValueError(f"cannot parse {text!r}")
    if grammar == "q" and body.startswith("(") and body.endswith(")"):
        parts = body[1:-1].split(",")
        if len(parts) != 2:
            raise ValueError(f"cannot parse {text!r}")
        wl, fl = _ref_uint(parts[0]), _ref_int(parts[1])
    else:
        parts = body.split(".")
        if len(parts) != 2:
            raise ValueError(f"cannot parse {text!r}")
        if grammar == "q":
            m, fl = _ref_int(parts[0]), _ref_int(parts[1])
            wl = m + fl
        else:
            wl, fl = _ref_uint(parts[0]), _ref_int(parts[1])
    check_fmt(wl, fl, signed)
    return wl, fl, signed


def ref_format_str(wl, fl, signed):
    """``Q(wl,fl)`` / ``UQ(wl,fl)``: the notation fxsim prints (docs/api.md)."""
    return f"{'' if signed else 'U'}Q({wl},{fl})"


# --------------------------------------------------------------------------- default formats (docs/api.md)
def min_wl(lo, hi, signed):
    """Smallest word length whose raw range holds every integer of [lo, hi]."""
    for wl in range(1, 4096):
        a, b = fmt_range(wl, signed)
        if a <= lo and hi <= b:
            return wl
    raise ValueError("range too wide")


def ref_full_precision(op, fmt_a, fmt_b):
    """The exact full-precision format of add/sub/mul with fmt=None (docs/api.md): add/sub at
    fl = max(fl_a, fl_b), the smallest wl holding every possible exact result, signed if either
    operand is (sub: always signed); mul: wl = wl_a + wl_b, fl = fl_a + fl_b, signed if either is.
    ValueError when that format needs more than 64 bits."""
    (wa, fa, sa), (wb, fb, sb) = fmt_a, fmt_b
    if op == "mul":
        wl, fl, signed = wa + wb, fa + fb, sa or sb
    else:
        fl = max(fa, fb)
        la, ha = (m << (fl - fa) for m in fmt_range(wa, sa))
        lb, hb = (m << (fl - fb) for m in fmt_range(wb, sb))
        if op == "add":
            lo, hi, signed = la + lb, ha + hb, sa or sb
        elif op == "sub":
            lo, hi, signed = la - hb, ha - lb, True
        else:
            raise ValueError(f"unknown op {op!r}")
        wl = min_wl(lo, hi, signed)
    if wl > 64 or not -256 <= fl <= 256:
        raise ValueError(f"full-precision format Q({wl},{fl}) is outside spec 1")
    return wl, fl, signed


def ref_dot_default_fmt(fmt_a, fmt_b, K, prod=None):
    """The result format of dot/matvec/matmul with acc=None and fmt=None (exact accumulation):
    fraction fl of the products (prod's, or fl_a + fl_b), the smallest wl holding every sum of
    K products, signed iff a product can be negative. ValueError beyond 64 bits."""
    if prod is not None:
        fl = prod[1]
        p_lo, p_hi = fmt_range(prod[0], prod[2])
    else:
        fl = fmt_a[1] + fmt_b[1]
        ea, eb = fmt_range(fmt_a[0], fmt_a[2]), fmt_range(fmt_b[0], fmt_b[2])
        ext = [x * y for x in ea for y in eb]
        p_lo, p_hi = min(ext), max(ext)
    signed = p_lo < 0
    wl = min_wl(min(0, K * p_lo), max(0, K * p_hi), signed)
    if wl > 64 or not -256 <= fl <= 256:
        raise ValueError(f"exact dot format Q({wl},{fl}) is outside spec 1")
    return wl, fl, signed


# --------------------------------------------------------------------------- words as text (spec 7)
def ref_bin(raw, wl):
    """wl-character two's complement binary string of a raw word."""
    return format(raw % (1 << wl), f"0{wl}b")


def ref_hex(raw, wl):
    """Lower-case hex of a raw word, two's complement, zero-padded to ceil(wl/4) digits."""
    return format(raw % (1 << wl), f"0{(wl + 3) // 4}x")


# --------------------------------------------------------------------------- sources (spec 5)
def ref_lfsr_step(n, M, form, s):
    """One register step (spec 5.1): (new state, output bit)."""
    if form == "galois":
        b = s & 1
        s >>= 1
        if b:
            s ^= M
        return s, b
    if form == "fibonacci":
        b = (s >> (n - 1)) & 1
        f = bin(s & M).count("1") & 1
        return ((s << 1) | f) & ((1 << n) - 1), b
    raise ValueError(f"unknown form {form!r}")


def ref_lfsr_jump(n, taps, form, seed, steps):
    """The register state after ``steps`` steps from ``seed`` (plain stepping: small n only)."""
    M = sum(1 << (t - 1) for t in taps)
    s = seed
    for _ in range(steps):
        s, _ = ref_lfsr_step(n, M, form, s)
    return s


def ref_lfsr_lane_draws(n, taps, form, rule, r, lane_states, count, k):
    """The next k draws of an L-lane LFSR whose lanes are at ``lane_states`` after ``count``
    draws (spec 5.1: draw e comes from lane e mod L). Returns (draws, new lane states)."""
    L = len(lane_states)
    M = sum(1 << (t - 1) for t in taps)
    states = list(lane_states)
    out = []
    for e in range(count, count + k):
        lane = e % L
        s = states[lane]
        if rule == "serial":
            R = 0
            for _ in range(r):
                s, b = ref_lfsr_step(n, M, form, s)
                R = (R << 1) | b
        elif rule == "state":
            if not 1 <= r <= n:
                raise ValueError("state draws need r <= n")
            s, _ = ref_lfsr_step(n, M, form, s)
            R = s & ((1 << r) - 1)
        else:
            raise ValueError(f"unknown draw rule {rule!r}")
        states[lane] = s
        out.append(R)
    return out, states


def ref_ideal_draws(words64, r):
    """Spec 5.2: R = w >> (64 - r) for each 64-bit word w."""
    return [int(w) >> (64 - r) for w in words64]
