"""Float arithmetic for the float studies, simulated as Higham and Pranesh's ``chop`` does: each
operation is computed in float64 and its result rounded once into the float format by
``fxsim.cast`` (spec §9), in the unit's rounding mode and from its bit source.

Exactly one rounding (the correctly rounded result) whenever the float64 result is exact: a
product of two values of a format of p ≤ 26 significand bits; a sum or difference of two such
values whose exponents are at most 52 − p apart; the fused update x − t·g of three such values
when t·g and x are at most 52 − 2p binades apart.  For every 8-bit format all three always hold
(e4m3 spans 2^−9..2^8, e5m2 2^−16..2^15); for bf16 and fp16 they hold unless the operands are
far apart in magnitude.  A dot product, a matrix product, exp or a division is computed in float64 and rounded
once: a double rounding, which differs from the correctly rounded result only when the float64
result lands within 2^−53 (relative) of a rounding boundary of the narrow format.

When fxsim's own float arithmetic lands, ``FloatUnit`` is the one class to switch.
"""
from __future__ import annotations

import functools

import numpy as np

from .. import cast
from ..floatarray import decode
from ..floatformat import FloatFormat

__all__ = ["FloatUnit", "IdentityUnit"]


class FloatUnit:
    """Round float64 results into ``fmt`` with ``rounding`` (any of ``fxsim.cast``'s modes),
    ``r`` random bits per draw from ``source`` (stochastic modes), ``eps`` (ε modes) and
    ``overflow`` (default ``saturate``: an 8-bit ``fn`` format would give NaN under ``ieee``).
    Every method returns the rounded values as float64.

    >>> u = FloatUnit("e4m3", "nearest_even")
    >>> u.round([1.0625, 1.1875, 1000.0]).tolist()
    [1.0, 1.25, 448.0]
    >>> u.mul(np.array([1.5]), np.array([1.5])).tolist()      # 2.25 -> 2.25 (exact in e4m3)
    [2.25]
    >>> u.sub(np.array([16.0]), np.array([0.5])).tolist()     # 15.5 -> 16 (ties to even)
    [16.0]
    """

    def __init__(self, fmt, rounding="nearest_even", source=None, r=16, eps=0.0,
                 overflow="saturate"):
        self.fmt = FloatFormat.parse(fmt)
        self.rounding, self.source, self.r, self.eps = rounding, source, r, eps
        self.overflow = overflow
        self.stochastic = rounding.startswith(("stochastic", "signed_stochastic"))

    def round(self, x, v=None) -> np.ndarray:
        """cast(x) into the format, as float64 (``v``: the sign vector of signed-SR_ε)."""
        x = np.asarray(x, dtype=np.float64)
        kw = {}
        if self.stochastic:
            kw = dict(r=self.r, source=self.source)
            if self.rounding != "stochastic":
                kw["eps"] = self.eps
            if self.rounding == "signed_stochastic_eps":
                kw["v"] = v
        codes = cast(x, self.fmt, self.rounding, overflow=self.overflow, **kw).raw
        return _values(self.fmt)[codes] if self.fmt.nbits <= 16 else decode(codes, self.fmt)

    def add(self, a, b):
        return self.round(np.add(a, b))

    def sub(self, a, b):
        return self.round(np.subtract(a, b))

    def mul(self, a, b):
        return self.round(np.multiply(a, b))

    def div(self, a, b):
        return self.round(np.divide(a, b))

    def matmul(self, a, b):
        return self.round(np.matmul(a, b))

    def exp(self, a):
        return self.round(np.exp(a))

    def sum(self, a, axis=None, keepdims=False):
        return self.round(np.sum(a, axis=axis, keepdims=keepdims))

    def fused_update(self, x, t, g, v=None):
        """x − t·g rounded once (a fused multiply-add); ``v`` for signed-SR_ε."""
        return self.round(np.asarray(x) - t * np.asarray(g), v=v)


@functools.lru_cache(maxsize=None)
def _values(fmt):
    """The float64 value of every code of a format of at most 16 bits (a decode table)."""
    return decode(np.arange(1 << fmt.nbits), fmt)


class IdentityUnit:
    """No rounding: every method computes in float64 (the float64 reference run).

    >>> IdentityUnit().sub(np.array([16.0]), np.array([0.5])).tolist()
    [15.5]
    """
    fmt = None

    def round(self, x, v=None):
        return np.asarray(x, dtype=np.float64)

    add, sub, mul, div = (staticmethod(np.add), staticmethod(np.subtract),
                          staticmethod(np.multiply), staticmethod(np.divide))
    matmul, exp = staticmethod(np.matmul), staticmethod(np.exp)

    def sum(self, a, axis=None, keepdims=False):
        return np.sum(a, axis=axis, keepdims=keepdims)

    def fused_update(self, x, t, g, v=None):
        return np.asarray(x) - t * np.asarray(g)

