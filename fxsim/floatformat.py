"""Low-precision floating-point formats (spec §9): sign, ``exp_bits`` exponent bits, ``man_bits``
mantissa bits, a bias, subnormals or not, and how the top codes are used (``nonfinite``).

A code is ``s | e | f`` (sign bit on top).  With E the exponent field, F the mantissa field and
``emin = 1 - bias``: E = 0 is zero or a subnormal ``F * 2**(emin - man_bits)`` (zero when
``subnormals=False``), otherwise the value is ``(2**man_bits + F) * 2**(E - bias - man_bits)``,
except the codes ``nonfinite`` reserves:

- ``"ieee"``: E all ones is ±inf (F = 0) or NaN (F != 0) (fp16, bf16, fp32, tf32, e5m2);
- ``"fn"``: only E and F all ones is NaN, no infinities (OCP e4m3);
- ``"none"``: every code is finite (OCP e2m3, e3m2, e2m1).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from numbers import Integral

import numpy as np

NONFINITE = ("ieee", "fn", "none")
EXP_BITS_MAX, MAN_BITS_MAX = 11, 52

# short names: (exp_bits, man_bits, nonfinite)
_NAMES = {
    "fp64": (11, 52, "ieee"), "float64": (11, 52, "ieee"),
    "fp32": (8, 23, "ieee"), "float32": (8, 23, "ieee"),
    "tf32": (8, 10, "ieee"),
    "fp16": (5, 10, "ieee"), "float16": (5, 10, "ieee"), "half": (5, 10, "ieee"),
    "bf16": (8, 7, "ieee"), "bfloat16": (8, 7, "ieee"),
    "e5m2": (5, 2, "ieee"), "fp8_e5m2": (5, 2, "ieee"), "float8_e5m2": (5, 2, "ieee"),
    "e4m3": (4, 3, "fn"), "fp8_e4m3": (4, 3, "fn"), "float8_e4m3fn": (4, 3, "fn"),
    "e3m2": (3, 2, "none"), "fp6_e3m2": (3, 2, "none"), "float6_e3m2fn": (3, 2, "none"),
    "e2m3": (2, 3, "none"), "fp6_e2m3": (2, 3, "none"), "float6_e2m3fn": (2, 3, "none"),
    "e2m1": (2, 1, "none"), "fp4_e2m1": (2, 1, "none"), "float4_e2m1fn": (2, 1, "none"),
    # ml_dtypes' IEEE-like 8-bit formats (with infinities)
    "float8_e4m3": (4, 3, "ieee"), "float8_e3m4": (3, 4, "ieee"),
}
_SHORT = {(11, 52, "ieee"): "fp64", (8, 23, "ieee"): "fp32", (8, 10, "ieee"): "tf32",
          (5, 10, "ieee"): "fp16", (8, 7, "ieee"): "bf16", (5, 2, "ieee"): "e5m2",
          (4, 3, "fn"): "e4m3", (3, 2, "none"): "e3m2", (2, 3, "none"): "e2m3",
          (2, 1, "none"): "e2m1"}
_GENERIC = re.compile(r"^e(\d+)m(\d+)(fn|ieee|none)?$")


def _int_in(name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return int(value)


@dataclass(frozen=True, init=False)
class FloatFormat:
    """A floating-point format: ``FloatFormat(exp_bits, man_bits, *, bias=None, subnormals=True,
    nonfinite="ieee")``; ``bias`` defaults to ``2**(exp_bits-1) - 1``; ``FloatFormat("bf16")`` is
    ``FloatFormat.parse("bf16")``.  Immutable, hashable;
    ``FloatFormat.parse`` reads ``"bf16"``, ``"fp16"``, ``"fp32"``, ``"tf32"``, ``"e5m2"``,
    ``"e4m3"`` (OCP, ``"fn"``), ``"e2m3"``/``"e3m2"``/``"e2m1"`` (OCP, ``"none"``), ml_dtypes'
    names (``"float8_e4m3fn"``...) and ``"E5M10"``-style names (IEEE-like unless suffixed with
    ``fn``/``none``).

    >>> f = FloatFormat.parse("e4m3")
    >>> f, f.max, f.min_normal, f.min_subnormal, f.eps, f.dtype
    (FloatFormat('e4m3'), 448.0, 0.015625, 0.001953125, 0.125, dtype('uint8'))
    >>> FloatFormat(5, 10) == FloatFormat.parse("fp16"), FloatFormat.parse("E8M7").nbits
    (True, 16)
    """

    exp_bits: int
    man_bits: int
    bias: int
    subnormals: bool
    nonfinite: str

    def __init__(self, exp_bits, man_bits=None, *, bias=None, subnormals: bool = True,
                 nonfinite: str = "ieee"):
        if isinstance(exp_bits, str) and man_bits is None:      # FloatFormat("bf16")
            named = FloatFormat.parse(exp_bits)
            exp_bits, man_bits, nonfinite = named.exp_bits, named.man_bits, named.nonfinite
        e = _int_in("exp_bits", exp_bits, 1, EXP_BITS_MAX)
        m = _int_in("man_bits", man_bits, 0, MAN_BITS_MAX)
        if not isinstance(nonfinite, str) or nonfinite not in NONFINITE:
            raise ValueError(f"nonfinite must be one of {', '.join(NONFINITE)}; got {nonfinite!r}")
        if nonfinite == "ieee" and (e < 2 or m < 1):
            raise ValueError(f"nonfinite='ieee' needs exp_bits >= 2 and man_bits >= 1 (the top "
                             f"exponent holds inf and NaN), got exp_bits={e}, man_bits={m}")
        if nonfinite == "fn" and e + m < 2:
            raise ValueError(f"nonfinite='fn' needs exp_bits + man_bits >= 2, got {e + m}")
        b = (1 << (e - 1)) - 1 if bias is None else _int_in("bias", bias, -1100, 1100)
        if not isinstance(subnormals, (bool, np.bool_)):
            raise ValueError(f"subnormals must be True or False, got {subnormals!r}")
        object.__setattr__(self, "exp_bits", e)
        object.__setattr__(self, "man_bits", m)
        object.__setattr__(self, "bias", b)
        object.__setattr__(self, "subnormals", bool(subnormals))
        object.__setattr__(self, "nonfinite", nonfinite)
        # every finite value must be a float64 (exact to_float, float64 kernels)
        lo_exp = self.emin - (m if subnormals else 0)
        if self.emax >= 1024 or lo_exp < -1074:
            raise ValueError(
                f"bias={b} puts FloatFormat(exp_bits={e}, man_bits={m}) outside float64: its "
                f"values span 2**{lo_exp} .. 2**{self.emax + 1}, float64 holds 2**-1074 .. 2**1024")

    # -- names ---------------------------------------------------------------------------------
    @classmethod
    def parse(cls, text) -> "FloatFormat":
        """A format from its name (case-insensitive), or a FloatFormat itself."""
        if isinstance(text, FloatFormat):
            return text
        if not isinstance(text, str):
            raise ValueError(f"float format must be a FloatFormat or a name such as 'bf16', "
                             f"'e4m3', 'E5M10', got {text!r}")
        key = text.strip().lower()
        if key in _NAMES:
            e, m, nf = _NAMES[key]
            return cls(e, m, nonfinite=nf)
        g = _GENERIC.match(key)
        if g:
            return cls(int(g.group(1)), int(g.group(2)), nonfinite=g.group(3) or "ieee")
        raise ValueError(f"unknown float format {text!r}: use one of {', '.join(sorted(_SHORT.values()))}, "
                         "an ml_dtypes name (float8_e4m3fn, ...) or 'E<exp>M<man>' with an optional "
                         "'fn'/'none' suffix")

    @property
    def name(self) -> str:
        key = (self.exp_bits, self.man_bits, self.nonfinite)
        default = self.bias == (1 << (self.exp_bits - 1)) - 1 and self.subnormals
        if default and key in _SHORT:
            return _SHORT[key]
        suffix = "" if self.nonfinite == "ieee" else self.nonfinite
        return f"E{self.exp_bits}M{self.man_bits}{suffix}"

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        key = (self.exp_bits, self.man_bits, self.nonfinite)
        if key in _SHORT and self.bias == (1 << (self.exp_bits - 1)) - 1 and self.subnormals:
            return f"FloatFormat({self.name!r})"
        args = [f"exp_bits={self.exp_bits}", f"man_bits={self.man_bits}"]
        if self.bias != (1 << (self.exp_bits - 1)) - 1:
            args.append(f"bias={self.bias}")
        if not self.subnormals:
            args.append("subnormals=False")
        if self.nonfinite != "ieee":
            args.append(f"nonfinite={self.nonfinite!r}")
        return f"FloatFormat({', '.join(args)})"

    # -- sizes and codes -----------------------------------------------------------------------
    @property
    def nbits(self) -> int:
        """Bits of a code: 1 + exp_bits + man_bits."""
        return 1 + self.exp_bits + self.man_bits

    @property
    def dtype(self) -> np.dtype:
        """The smallest unsigned numpy container of a code."""
        for size, t in ((8, np.uint8), (16, np.uint16), (32, np.uint32)):
            if self.nbits <= size:
                return np.dtype(t)
        return np.dtype(np.uint64)

    @property
    def emin(self) -> int:
        """Unbiased exponent of the smallest normal number: 1 - bias."""
        return 1 - self.bias

    @property
    def max_code(self) -> int:
        """Magnitude code (sign bit clear) of the largest finite value."""
        top = 1 << (self.exp_bits + self.man_bits)
        if self.nonfinite == "ieee":
            return top - (1 << self.man_bits) - 1
        return top - 2 if self.nonfinite == "fn" else top - 1

    @property
    def emax(self) -> int:
        """Unbiased exponent of the largest finite value."""
        return (self.max_code >> self.man_bits) - self.bias

    @property
    def has_inf(self) -> bool:
        return self.nonfinite == "ieee"

    @property
    def has_nan(self) -> bool:
        return self.nonfinite != "none"

    @property
    def inf_code(self):
        """Magnitude code of +inf, None without infinities."""
        return ((1 << self.exp_bits) - 1) << self.man_bits if self.has_inf else None

    @property
    def nan_code(self):
        """Magnitude code of the NaN a cast produces (quiet: top mantissa bit set), None without
        NaN."""
        if self.nonfinite == "ieee":
            return (((1 << self.exp_bits) - 1) << self.man_bits) | (1 << (self.man_bits - 1))
        return (1 << (self.exp_bits + self.man_bits)) - 1 if self.nonfinite == "fn" else None

    def code_fraction(self, code: int):
        """The exact value of one code as a ``Fraction`` (its sign included), or the strings
        ``'nan'``, ``'inf'``, ``'-inf'``.  Zero codes give ``Fraction(0)`` (−0 included)."""
        m = self.man_bits
        neg = (code >> (self.exp_bits + m)) & 1
        mag = code & ((1 << (self.exp_bits + m)) - 1)
        if self.nonfinite == "ieee" and mag >= self.inf_code:
            return "nan" if mag > self.inf_code else ("-inf" if neg else "inf")
        if self.nonfinite == "fn" and mag == self.max_code + 1:
            return "nan"
        E, F = mag >> m, mag & ((1 << m) - 1)
        if E == 0:
            v = Fraction(F) * Fraction(2) ** (self.emin - m) if self.subnormals else Fraction(0)
        else:
            v = Fraction((1 << m) + F) * Fraction(2) ** (E - self.bias - m)
        return -v if neg else v

    # -- derived values ------------------------------------------------------------------------
    @property
    def max(self) -> float:
        """Largest finite value."""
        c = self.max_code
        return float(((1 << self.man_bits) + (c & ((1 << self.man_bits) - 1))) *
                     Fraction(2) ** (self.emax - self.man_bits))

    @property
    def min_normal(self) -> float:
        return float(Fraction(2) ** self.emin)

    @property
    def min_subnormal(self):
        """Smallest positive subnormal value, None without subnormals (or without mantissa
        bits)."""
        if not self.subnormals or self.man_bits == 0:
            return None
        return float(Fraction(2) ** (self.emin - self.man_bits))

    @property
    def eps(self) -> float:
        """Distance from 1 to the next larger value: 2**-man_bits."""
        return float(Fraction(1, 1 << self.man_bits))


def floatformat(fmt) -> FloatFormat:
    """``fmt`` as a FloatFormat (a FloatFormat or a name ``FloatFormat.parse`` reads).

    >>> floatformat("fp16").max
    65504.0
    """
    return FloatFormat.parse(fmt)
