"""Floating-point values: raw codes in the smallest unsigned container, paired with a
``FloatFormat`` (the float counterpart of ``FixedArray``)."""
from __future__ import annotations

import numpy as np

from .floatformat import FloatFormat, floatformat


def decode(codes: np.ndarray, fmt: FloatFormat) -> np.ndarray:
    """The float64 values of ``codes`` (integers < 2**nbits) in ``fmt``: exact, since every
    value of a FloatFormat is a float64 (spec §9.1).

    >>> decode([0x38, 0xb8, 0x7f, 0x01], FloatFormat.parse("e4m3")).tolist()
    [1.0, -1.0, nan, 0.001953125]
    """
    m, e = fmt.man_bits, fmt.exp_bits
    c = np.asarray(codes).astype(np.uint64)
    mag = c & np.uint64((1 << (e + m)) - 1)
    E = (mag >> np.uint64(m)).astype(np.int64)
    F = (mag & np.uint64((1 << m) - 1)).astype(np.float64)
    normal = E != 0
    sig = np.where(normal, F + float(1 << m), F if fmt.subnormals else 0.0)
    expo = np.where(normal, E - fmt.bias - m, fmt.emin - m)
    v = np.ldexp(sig, expo.astype(np.int32) if expo.size else expo)
    if fmt.nonfinite == "ieee":
        v = np.where(mag >= fmt.inf_code, np.where(mag == fmt.inf_code, np.inf, np.nan), v)
    elif fmt.nonfinite == "fn":
        v = np.where(mag == fmt.max_code + 1, np.nan, v)
    neg = (c >> np.uint64(e + m)) & np.uint64(1)
    return np.where(neg == 1, -v, v)


class FloatArray:
    """An n-d array of floating-point codes: ``raw`` (unsigned integers, container
    ``fmt.dtype``, sign bit on top) and a ``FloatFormat``.

    >>> import numpy as np
    >>> a = FloatArray([0x3f80, 0xc040, 0x7f80], "bf16")
    >>> a.to_float(), a.to_hex().tolist()
    (array([ 1., -3., inf]), ['3f80', 'c040', '7f80'])
    >>> a.sign.tolist(), a.exponent.tolist(), a.mantissa.tolist()
    ([0, 1, 0], [127, 128, 255], [0, 64, 0])
    """

    __slots__ = ("_raw", "_fmt")

    def __init__(self, raw, fmt):
        """``raw``: integer codes in [0, 2**fmt.nbits); always copied into ``fmt.dtype``."""
        fmt = floatformat(fmt)
        arr = np.asarray(raw)
        if arr.dtype.kind == "O":
            try:
                vals = [int(v) for v in arr.reshape(-1)]
            except (TypeError, ValueError):
                raise ValueError("raw must hold integer codes; use fxsim.cast(x, fmt) for real "
                                 "values") from None
            arr = np.array(vals, dtype=object).reshape(arr.shape)
            lo, hi = (min(vals), max(vals)) if vals else (0, 0)
        elif arr.dtype.kind in "iub" or (arr.dtype.kind == "f" and arr.size == 0):
            lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        else:
            raise ValueError(f"raw must be integer codes (got dtype {arr.dtype}); use "
                             "fxsim.cast(x, fmt) for real values")
        if lo < 0 or hi >= 1 << fmt.nbits:
            bad = lo if lo < 0 else hi
            raise ValueError(f"raw code {bad} is outside {fmt}'s codes [0, 2**{fmt.nbits})")
        self._raw = np.array(arr.astype(np.uint64) if arr.dtype.kind == "O" else arr,
                             dtype=fmt.dtype, copy=True)
        self._fmt = fmt

    @classmethod
    def _wrap(cls, raw: np.ndarray, fmt: FloatFormat) -> "FloatArray":
        """Trusted constructor for kernel results (no check, no copy)."""
        obj = cls.__new__(cls)
        obj._raw = raw
        obj._fmt = fmt
        return obj

    raw = property(lambda self: self._raw, doc="The codes (numpy array, fmt.dtype).")
    fmt = property(lambda self: self._fmt, doc="The FloatFormat.")
    shape = property(lambda self: self._raw.shape)
    ndim = property(lambda self: self._raw.ndim)
    size = property(lambda self: self._raw.size)

    def __len__(self) -> int:
        return len(self._raw)

    def __getitem__(self, idx) -> "FloatArray":
        return FloatArray._wrap(np.asarray(self._raw[idx]), self._fmt)

    def reshape(self, *shape) -> "FloatArray":
        return FloatArray._wrap(self._raw.reshape(*shape), self._fmt)

    def ravel(self) -> "FloatArray":
        return FloatArray._wrap(self._raw.ravel(), self._fmt)

    def copy(self) -> "FloatArray":
        return FloatArray._wrap(self._raw.copy(), self._fmt)

    # -- values --------------------------------------------------------------------------------
    def to_float(self) -> np.ndarray:
        """Values as float64 (always exact; NaN and ±inf where the format has them)."""
        return decode(self._raw, self._fmt)

    def __array__(self, dtype=None, copy=None):
        vals = np.asarray(self.to_float())
        return vals if dtype is None else vals.astype(dtype)

    def __float__(self) -> float:
        return float(self.to_float())

    # -- bit fields ----------------------------------------------------------------------------
    @property
    def sign(self) -> np.ndarray:
        return (self._raw >> (self._fmt.nbits - 1)) & 1

    @property
    def exponent(self) -> np.ndarray:
        """The biased exponent fields."""
        return (self._raw >> self._fmt.man_bits) & ((1 << self._fmt.exp_bits) - 1)

    @property
    def mantissa(self) -> np.ndarray:
        """The mantissa (trailing significand) fields."""
        return self._raw & ((1 << self._fmt.man_bits) - 1)

    def to_bin(self) -> np.ndarray:
        """Every code as an nbits-character binary string."""
        w = self._fmt.nbits
        return np.array([format(int(u), f"0{w}b") for u in self._raw.reshape(-1)],
                        dtype=f"<U{w}").reshape(self.shape)

    def to_hex(self) -> np.ndarray:
        """Every code as lower-case hex, zero-padded to ceil(nbits/4) digits (``$readmemh``)."""
        d = (self._fmt.nbits + 3) // 4
        return np.array([format(int(u), f"0{d}x") for u in self._raw.reshape(-1)],
                        dtype=f"<U{d}").reshape(self.shape)

    # -- comparison and text -------------------------------------------------------------------
    def identical(self, other) -> bool:
        """Same format, same shape, same bits."""
        return (isinstance(other, FloatArray) and other.fmt == self._fmt
                and other.shape == self.shape and bool(np.array_equal(other.raw, self._raw)))

    __hash__ = None

    def __repr__(self) -> str:
        vals = self.to_float().reshape(-1)
        items = [repr(float(v)) for v in vals[:32]] + (["..."] if vals.size > 32 else [])
        if self.ndim == 0:
            return f"FloatArray({items[0]}, {self._fmt})"
        return f"FloatArray([{', '.join(items)}], {self._fmt}, shape={self.shape})"
