"""Pure-Python reference of the float section of the spec (docs/datapath.md §9).

Test oracle only: written from the spec text, never imports fxsim.  A format is a plain tuple
``(exp_bits, man_bits, bias, subnormals, nonfinite)``; values are ``Fraction``s; a code is a
Python int with the sign bit on top.  Slow and obviously right.

ref_decode(code, fmt)                      -> Fraction, or 'nan' / 'inf' / '-inf'
ref_float_cast(x, fmt, rounding, overflow, R=, r=, eps=, v=, sr_rule=) -> code
ref_float_cast_info(...)                   -> (code, inexact, rounded_up, overflowed)
"""
from __future__ import annotations

import functools
import math
from fractions import Fraction

ROUNDINGS = ("nearest_even", "nearest_away", "toward_zero", "away_from_zero", "floor", "ceil",
             "round_to_odd", "stochastic", "stochastic_eps", "signed_stochastic_eps")
STOCHASTIC = ROUNDINGS[7:]
OVERFLOWS = ("saturate", "ieee", "error")
HALF = Fraction(1, 2)


def fmt_of(exp_bits, man_bits, nonfinite="ieee", bias=None, subnormals=True):
    return (exp_bits, man_bits, (1 << (exp_bits - 1)) - 1 if bias is None else bias,
            subnormals, nonfinite)


NAMED = {
    "bf16": fmt_of(8, 7), "fp16": fmt_of(5, 10), "fp32": fmt_of(8, 23), "tf32": fmt_of(8, 10),
    "e5m2": fmt_of(5, 2), "e4m3": fmt_of(4, 3, "fn"), "e3m2": fmt_of(3, 2, "none"),
    "e2m3": fmt_of(2, 3, "none"), "e2m1": fmt_of(2, 1, "none"),
}


def p2(e):
    """2**e as an exact Fraction."""
    return Fraction(1 << e) if e >= 0 else Fraction(1, 1 << -e)


def _fields(fmt):
    e, m, bias, sub, nf = fmt
    return e, m, bias, sub, nf


def is_nan_code(code, fmt):
    e, m, bias, sub, nf = _fields(fmt)
    mag = code & ((1 << (e + m)) - 1)
    if nf == "ieee":
        return (mag >> m) == (1 << e) - 1 and (mag & ((1 << m) - 1)) != 0
    if nf == "fn":
        return mag == (1 << (e + m)) - 1
    return False


def is_inf_code(code, fmt):
    e, m, bias, sub, nf = _fields(fmt)
    mag = code & ((1 << (e + m)) - 1)
    return nf == "ieee" and mag == ((1 << e) - 1) << m


def ref_decode(code, fmt):
    """The exact value of a code (spec §9.1)."""
    e, m, bias, sub, nf = _fields(fmt)
    sign = -1 if (code >> (e + m)) & 1 else 1
    if is_nan_code(code, fmt):
        return "nan"
    if is_inf_code(code, fmt):
        return "inf" if sign > 0 else "-inf"
    E = (code >> m) & ((1 << e) - 1)
    F = code & ((1 << m) - 1)
    if E == 0:
        v = F * p2(1 - bias - m) if sub else Fraction(0)
    else:
        v = ((1 << m) + F) * p2(E - bias - m)
    return sign * v


@functools.lru_cache(maxsize=None)
def max_finite(fmt):
    """The largest finite value: the largest code that decodes to neither inf nor NaN (the
    candidates: all ones, one below, and the largest code below the top exponent)."""
    e, m = fmt[0], fmt[1]
    top = (1 << (e + m)) - 1
    for c in (top, top - 1, (((1 << e) - 1) << m) - 1):
        v = ref_decode(c, fmt)
        if not isinstance(v, str):
            return v
    raise AssertionError(fmt)


def exponent(y):
    """floor(log2(y)) of a positive Fraction, exactly."""
    y = Fraction(y)
    ex = y.numerator.bit_length() - y.denominator.bit_length()
    while p2(ex) > y:
        ex -= 1
    while p2(ex + 1) <= y:
        ex += 1
    return ex


def encode_mag(y, fmt):
    """The magnitude code of a representable non-negative value y <= max finite."""
    e, m, bias, sub, nf = _fields(fmt)
    if y == 0:
        return 0
    ex = exponent(y)
    emin = 1 - bias
    if ex < emin:
        F = y / p2(emin - m)
        assert F.denominator == 1 and F < (1 << m)
        return int(F)
    F = y / p2(ex - m) - (1 << m)
    assert F.denominator == 1 and 0 <= F < (1 << m)
    return ((ex + bias) << m) | int(F)


def _rne(y):
    q = math.floor(y)
    f = y - q
    return q + 1 if f > HALF or (f == HALF and q % 2 == 1) else q


def _sr_up(phi, r, R, rule, bias_sign, eps):
    """Spec §2 few-bit rules on the discarded fraction phi in (0, 1) of the magnitude; the eps
    bias adds bias_sign * 2E to the addend (+1: away from zero)."""
    two_r = 1 << r
    if rule == "trunc":
        A = 2 * math.floor(phi * two_r)
    elif rule == "half":
        A = math.floor(phi * 2 * two_r) + 1
    elif rule == "rne":
        A = 2 * _rne(phi * two_r)
    elif rule == "ge":
        A = 2 * math.floor(phi * two_r) + 2       # up when D >= R: against R's complement
        R = two_r - 1 - R
    else:
        raise ValueError(f"unknown sr_rule {rule!r}")
    E = math.floor(Fraction(eps) * two_r)
    A = min(max(A + 2 * bias_sign * E, 0), 2 * two_r)
    return A + 2 * R >= 2 * two_r


def _sgn(x):
    return (x > 0) - (x < 0)


def ref_float_cast_info(x, fmt, rounding, overflow, R=None, r=None, eps=0, v=0, sr_rule="trunc"):
    """Cast x (a float, int or Fraction) into fmt on its magnitude (spec §9.2-§9.4).
    Returns (code, inexact, rounded_up, overflowed); raises ValueError for NaN or inf where the
    spec refuses them and OverflowError under overflow='error'."""
    e, m, bias, sub, nf = _fields(fmt)
    sbit_of = lambda neg: (1 << (e + m)) if neg else 0          # noqa: E731
    if isinstance(x, float) and math.isnan(x):
        if nf == "none":
            raise ValueError("NaN into a format without NaN")
        neg = math.copysign(1.0, x) < 0
        mag = (((1 << e) - 1) << m) | (1 << (m - 1)) if nf == "ieee" else (1 << (e + m)) - 1
        return sbit_of(neg) | mag, False, False, False
    top = max_finite(fmt)
    maxc = encode_mag(top, fmt)
    if isinstance(x, float) and math.isinf(x):
        neg = x < 0
        if nf == "ieee" and overflow != "saturate":
            return sbit_of(neg) | (((1 << e) - 1) << m), False, False, False
        if overflow == "error":
            raise ValueError("inf into a format without inf under overflow='error'")
        if nf == "fn" and overflow == "ieee":
            return sbit_of(neg) | ((1 << (e + m)) - 1), False, False, True
        return sbit_of(neg) | maxc, False, False, True
    neg = (math.copysign(1.0, x) < 0) if isinstance(x, float) else x < 0
    a = abs(Fraction(x))
    if a == 0:
        return sbit_of(neg), False, False, False
    ex = exponent(a)
    emin = 1 - bias
    quantum = p2(max(ex, emin) - m)
    t = a / quantum
    q = math.floor(t)
    phi = t - q
    if rounding in STOCHASTIC and sr_rule == "tt_sfpu":
        # SFPSTOCHRND_FloatFloat.md: DiscardedBits >= PRNGBits on the magnitude, exact values too
        bias_sign = {"stochastic": 0, "stochastic_eps": 1}.get(rounding, -_sgn(v) * (-1 if neg else 1))
        up = math.floor(phi * (1 << r)) + bias_sign * math.floor(Fraction(eps) * (1 << r)) >= R
    elif phi == 0:
        up = False
    elif rounding == "nearest_even":
        up = phi > HALF or (phi == HALF and q % 2 == 1)
    elif rounding == "nearest_away":
        up = phi >= HALF
    elif rounding == "toward_zero":
        up = False
    elif rounding == "away_from_zero":
        up = True
    elif rounding == "floor":
        up = neg
    elif rounding == "ceil":
        up = not neg
    elif rounding == "round_to_odd":
        up = q % 2 == 0
    elif rounding in STOCHASTIC:
        bias_sign = 0
        if rounding == "stochastic_eps":
            bias_sign = 1
        elif rounding == "signed_stochastic_eps":
            bias_sign = -_sgn(v) * (-1 if neg else 1)
        up = _sr_up(phi, r, R, sr_rule, bias_sign, eps)
    else:
        raise ValueError(rounding)
    y = (q + up) * quantum
    inexact = phi != 0
    if y > top:
        if overflow == "error":
            raise OverflowError("overflow")
        toward_zero = rounding in ("toward_zero", "round_to_odd") or \
            (rounding == "floor" and not neg) or (rounding == "ceil" and neg)
        if overflow == "saturate" or toward_zero or nf == "none":
            return sbit_of(neg) | maxc, inexact, up, True
        if nf == "ieee":
            return sbit_of(neg) | (((1 << e) - 1) << m), inexact, up, True
        return sbit_of(neg) | ((1 << (e + m)) - 1), inexact, up, True     # fn: NaN
    if not sub and 0 < y < p2(emin):
        return sbit_of(neg), True, up, False
    return sbit_of(neg) | encode_mag(y, fmt), inexact, up, False


def ref_float_cast(x, fmt, rounding, overflow, **kw):
    return ref_float_cast_info(x, fmt, rounding, overflow, **kw)[0]
