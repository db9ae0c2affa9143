"""Pure-Python reference of float arithmetic (docs/datapath.md §9.8).

Test oracle only: written from the spec text, never imports fxsim.  Operands are Python floats
(every value of a format is one: signed zeros, ±inf and NaN included); the exact result is a
Fraction, rounded once by ``float_reference.ref_float_cast_info``.  Fixed-point roles of a dot
product round by ``reference.ref_cast_info``.

ref_arith_info(op, x, y, z, fmt, rounding, overflow, R=, r=, eps=, v=, sr_rule=)
    -> (code, inexact, rounded_up, overflowed)     op in add, sub, mul, fma (x * y + z)
ref_float_dot(a, b, roles, draws)                  -> (code or raw word, counts per role)
"""
from __future__ import annotations

import math
from fractions import Fraction

from float_reference import ref_decode, ref_float_cast_info
from reference import ref_cast_info

NAN = float("nan")


def _neg(x: float) -> bool:
    return math.copysign(1.0, x) < 0


def _special(op, x, y, z):
    """The IEEE 754 result of an operation with a NaN or infinite operand, as a float (NaN with
    its sign cleared: spec §9.8), or None when every operand is finite."""
    if op == "sub":
        op, y = "add", -y
    vals = (x, y) if op != "fma" else (x, y, z)
    if all(math.isfinite(t) for t in vals):
        return None
    if any(math.isnan(t) for t in vals):
        return NAN
    if op == "add":
        if math.isinf(x) and math.isinf(y) and _neg(x) != _neg(y):
            return NAN
        return x if math.isinf(x) else y
    if (math.isinf(x) and y == 0) or (math.isinf(y) and x == 0):
        return NAN
    if op == "mul":
        return -math.inf if _neg(x) != _neg(y) else math.inf
    if math.isinf(x) or math.isinf(y):            # fma: an infinite product
        p = -math.inf if _neg(x) != _neg(y) else math.inf
        if math.isinf(z) and _neg(z) != _neg(p):
            return NAN
        return p
    return z                                      # finite product + infinite addend


def zero_sign(terms_neg, floor_mode: bool) -> bool:
    """Sign of an exact zero sum (IEEE 754 §6.3): the terms' common sign when all are zeros of
    one sign, else + (- when rounding 'floor')."""
    if len(set(terms_neg)) == 1 and terms_neg[0] is not None:
        return terms_neg[0]
    return floor_mode


def exact(op, x, y, z):
    """(Fraction value, sign of a zero result) of a finite operation."""
    fx, fy = Fraction(x), Fraction(y)
    if op == "mul":
        return fx * fy, _neg(x) != _neg(y)
    if op == "fma":
        p = fx * fy
        pneg = _neg(x) != _neg(y)
        s = p + Fraction(z)
        if s == 0:
            both_zero = p == 0 and z == 0
            return s, (pneg if (both_zero and pneg == _neg(z)) else None)
        return s, None
    if op == "sub":
        fy, y = -fy, -y
    s = fx + fy
    if s == 0:
        both_zero = x == 0 and y == 0
        return s, (_neg(x) if (both_zero and _neg(x) == _neg(y)) else None)
    return s, None


def ref_arith_info(op, x, y, z, fmt, rounding, overflow, R=None, r=None, eps=0, v=0,
                   sr_rule="trunc"):
    """Spec §9.8: the exact result of x op y (x * y + z for 'fma') rounded once into fmt (a
    float_reference format tuple).  Raises ValueError for a NaN result in a format without NaN
    and OverflowError under overflow='error'."""
    sp = _special(op, x, y, z)
    if sp is not None:
        return ref_float_cast_info(sp, fmt, rounding, overflow, R=R, r=r, eps=eps, v=v,
                                   sr_rule=sr_rule)
    val, zneg = exact(op, x, y, z)
    if val == 0:
        if zneg is None:
            zneg = rounding == "floor"
        e, m = fmt[0], fmt[1]
        return ((1 << (e + m)) if zneg else 0), False, False, False
    return ref_float_cast_info(val, fmt, rounding, overflow, R=R, r=r, eps=eps, v=v,
                               sr_rule=sr_rule)


def ref_arith(op, x, y, z, fmt, rounding, overflow, **kw):
    return ref_arith_info(op, x, y, z, fmt, rounding, overflow, **kw)[0]


def code_float(code, fmt) -> float:
    """The float of a code (NaN, ±inf and -0 kept)."""
    v = ref_decode(code, fmt)
    if v == "nan":
        return NAN
    if isinstance(v, str):
        return float(v)
    neg = (code >> (fmt[0] + fmt[1])) & 1
    return -0.0 if (v == 0 and neg) else float(v)


def ref_float_dot(a, b, roles, draws=(), v=0):
    """Spec §4 with float roles: acc = +0; for k ascending p_k = cast(a_k b_k, prod) (exact
    when prod is None), acc = cast(acc + p_k, acc); the result cast(acc, out) (or acc's code
    when out is None).  roles: dict prod/acc/out -> None or (kind, fmt, rounding, overflow, r,
    eps, sr_rule) with kind 'float' (fmt a float_reference tuple) or 'fixed' (fmt (wl, fl,
    signed)).  draws: an iterator of R values, taken in spec §4 order.  Finite operands only.
    Returns (code or raw word, {role: [n, inexact, up, ovf]})."""
    draws = iter(draws)
    counts = {k: [0, 0, 0, 0] for k in ("prod", "acc", "out")}

    def cast(val, role, neg_zero):
        kind, fmt, rounding, overflow, r, eps, sr_rule = roles[role]
        R = next(draws) if rounding.startswith(("stochastic", "signed_stochastic")) else None
        if kind == "float":
            if val == 0:
                info = (((1 << (fmt[0] + fmt[1])) if neg_zero else 0), False, False, False)
            else:
                info = ref_float_cast_info(val, fmt, rounding, overflow, R=R, r=r, eps=eps, v=v,
                                           sr_rule=sr_rule)
            code = info[0]
            dec = ref_decode(code, fmt)
            if isinstance(dec, str):
                raise ValueError("a non-finite intermediate: not covered by this reference")
            neg = bool((code >> (fmt[0] + fmt[1])) & 1)
            res = (code, dec, neg)
        else:
            wl, fl, signed = fmt
            info = ref_cast_info(val, wl, fl, signed, rounding, overflow, R=R, r=r, eps=eps,
                                 v=v, sr_rule=sr_rule)
            word = info[0]
            res = (word, Fraction(word, 1) / Fraction(2) ** fl if fl >= 0 else
                   Fraction(word * 2 ** -fl), False)
        c = counts[role]
        for i, flag in enumerate((True, *info[1:4])):
            c[i] += int(bool(flag))
        return res

    acc_kind = roles["acc"][0]
    floor_acc = roles["acc"][2] == "floor" and acc_kind == "float"
    acc_code, acc_val, acc_neg = 0, Fraction(0), False
    for x, y in zip(a, b):
        p = Fraction(x) * Fraction(y)
        pneg = _neg(x) != _neg(y)
        if roles.get("prod") is not None:
            _, p, pneg = cast(p, "prod", pneg)
        s = acc_val + p
        zneg = False
        if s == 0:
            zneg = (acc_neg if (acc_val == 0 and p == 0 and acc_neg == pneg) else floor_acc)
        acc_code, acc_val, acc_neg = cast(s, "acc", zneg)
    if roles.get("out") is None:
        return acc_code, counts
    out_code, _, _ = cast(acc_val, "out", acc_neg)
    return out_code, counts
