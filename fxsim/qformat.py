"""Fixed-point formats (spec §1).

A format ``Q(wl, fl, signed)`` describes raw integers ``m`` of ``wl`` bits (word length, sign bit
included) whose value is ``m * 2**-fl`` (``fl``: fraction length, may be negative or exceed wl).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from numbers import Integral

import numpy as np

WL_MIN, WL_MAX = 1, 64
FL_MIN, FL_MAX = -256, 256

_DTYPES = {
    (True, 8): np.dtype(np.int8), (True, 16): np.dtype(np.int16),
    (True, 32): np.dtype(np.int32), (True, 64): np.dtype(np.int64),
    (False, 8): np.dtype(np.uint8), (False, 16): np.dtype(np.uint16),
    (False, 32): np.dtype(np.uint32), (False, 64): np.dtype(np.uint64),
}


def _check_int(name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


@dataclass(frozen=True, init=False)
class QFormat:
    """A fixed-point format: word length ``wl`` (1..64 bits, sign included), fraction length
    ``fl`` (-256..256) and signedness.  Immutable and hashable; ``str`` gives the one notation
    fxsim prints, ``Q(wl,fl)`` (``UQ(wl,fl)`` unsigned: word length, then fraction bits), ``repr``
    the explicit constructor.  ``QFormat.parse`` reads ``"Q8.8"``, ``"UQ0.16"``, ``"s16.8"``, ``"Q(16,8)"``.

    >>> q = QFormat(16, 8)
    >>> str(q), q.lsb, q.min, q.max, q.dtype
    ('Q(16,8)', 0.00390625, -128.0, 127.99609375, dtype('int16'))
    >>> QFormat.parse("UQ0.16"), QFormat.parse("s16.8") == q
    (QFormat(wl=16, fl=16, signed=False), True)
    """

    wl: int
    fl: int
    signed: bool

    def __init__(self, wl: int, fl: int, signed: bool = True):
        object.__setattr__(self, "wl", _check_int("wl", wl, WL_MIN, WL_MAX))
        object.__setattr__(self, "fl", _check_int("fl", fl, FL_MIN, FL_MAX))
        if not isinstance(signed, (bool, np.bool_)) and signed not in (0, 1):
            raise ValueError(f"signed must be True or False, got {signed!r}")
        object.__setattr__(self, "signed", bool(signed))
        size = 8
        while size < self.wl:
            size *= 2
        object.__setattr__(self, "_dtype", _DTYPES[(self.signed, size)])   # read on every call
        object.__setattr__(self, "_hash", hash((self.wl, self.fl, self.signed)))

    def __hash__(self):
        # the dataclass hash of (wl, fl, signed), computed once: formats key the small-call caches
        try:
            return self._hash
        except AttributeError:       # unpickled from a version without _hash
            return hash((self.wl, self.fl, self.signed))

    # -- derived properties -------------------------------------------------------------
    @property
    def min_raw(self) -> int:
        return -(1 << (self.wl - 1)) if self.signed else 0

    @property
    def max_raw(self) -> int:
        return (1 << (self.wl - 1)) - 1 if self.signed else (1 << self.wl) - 1

    @property
    def exact_lsb(self) -> Fraction:
        return Fraction(2) ** -self.fl

    @property
    def exact_min(self) -> Fraction:
        return self.min_raw * self.exact_lsb

    @property
    def exact_max(self) -> Fraction:
        return self.max_raw * self.exact_lsb

    @property
    def lsb(self) -> float:
        return float(self.exact_lsb)

    @property
    def min(self) -> float:
        return float(self.exact_min)

    @property
    def max(self) -> float:
        return float(self.exact_max)

    @property
    def int_bits(self) -> int:
        """Integer bits, the sign bit included (wl - fl; may be negative)."""
        return self.wl - self.fl

    @property
    def dtype(self) -> np.dtype:
        """The smallest numpy integer container of the same signedness holding wl bits."""
        return self._dtype

    # -- text ---------------------------------------------------------------------------
    def __str__(self) -> str:
        # the one notation fxsim prints: Q(word length, fraction bits), UQ(...) when unsigned
        return f"{'' if self.signed else 'U'}Q({self.wl},{self.fl})"

    def __repr__(self) -> str:
        return f"QFormat(wl={self.wl}, fl={self.fl}, signed={self.signed})"

    _GRAMMAR = re.compile(
        r"^(?:(?P<qu>u?)q(?P<m>-?\d+)\.(?P<n>-?\d+)"
        r"|(?P<qu2>u?)q\((?P<w2>\d+),(?P<f2>-?\d+)\)"
        r"|(?P<su>[su])(?P<w3>\d+)\.(?P<f3>-?\d+))$"
    )

    @classmethod
    def parse(cls, text: str) -> "QFormat":
        """Parse a format string (case-insensitive, spaces ignored):

        - ``Qm.n`` / ``UQm.n``: m integer bits *including* the sign bit, n fraction bits,
          so wl = m + n and fl = n (``Q8.8`` is 16 bits, ``UQ0.16`` is 16 unsigned fraction bits;
          m or n may be negative: ``Q-2.10`` is wl=8, fl=10);
        - ``sW.F`` / ``uW.F``: word length W and fraction length F, as MATLAB's
          ``numerictype(signed, W, F)`` (``s16.8`` is wl=16, fl=8);
        - ``Q(W,F)`` / ``UQ(W,F)``: the spec's notation, wl = W, fl = F.
        """
        if isinstance(text, QFormat):
            return text
        if not isinstance(text, str):
            raise ValueError(f"fmt must be a QFormat or a format string, got {text!r}")
        t = text.replace(" ", "").lower()
        m = cls._GRAMMAR.match(t)
        if not m:
            raise ValueError(
                f"cannot parse format {text!r}: expected 'Qm.n', 'UQm.n' (m integer bits incl. "
                "sign, n fraction bits), 'sW.F'/'uW.F' (word and fraction length) or 'Q(W,F)'"
            )
        if m.group("m") is not None:
            ib, fl = int(m.group("m")), int(m.group("n"))
            return cls(ib + fl, fl, signed=m.group("qu") != "u")
        if m.group("w2") is not None:
            return cls(int(m.group("w2")), int(m.group("f2")), signed=m.group("qu2") != "u")
        return cls(int(m.group("w3")), int(m.group("f3")), signed=m.group("su") == "s")


def qformat(fmt) -> QFormat:
    """Accept a QFormat or a string (see ``QFormat.parse``).

    >>> qformat("Q(12,4)")
    QFormat(wl=12, fl=4, signed=True)
    >>> qformat(QFormat(8, 8, signed=False))
    QFormat(wl=8, fl=8, signed=False)
    """
    return fmt if isinstance(fmt, QFormat) else QFormat.parse(fmt)
