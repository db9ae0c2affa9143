"""Fixed-point values: raw integers in the smallest native container, paired with a format."""
from __future__ import annotations

import numpy as np

from .qformat import QFormat, qformat


def _check_range(lo: int, hi: int, fmt: QFormat) -> None:
    if lo < fmt.min_raw or hi > fmt.max_raw:
        bad = lo if lo < fmt.min_raw else hi
        raise ValueError(f"raw value {bad} is outside {fmt} raw range [{fmt.min_raw}, {fmt.max_raw}]")


class FixedArray:
    """An n-d array of fixed-point words: ``raw`` integers (container ``fmt.dtype``) and a
    ``QFormat``.  Values are ``raw * 2**-fmt.fl``.

    numpy interop: ``np.asarray(a)`` gives the values as float64 (exact for wl <= 53, else the
    nearest double); ``a.raw`` gives the raw integers; ``a.to_fraction()`` is always exact.
    ``==`` compares exact values element-wise; ``identical`` compares format and bits.

    >>> import numpy as np
    >>> from fxsim import QFormat
    >>> a = FixedArray(np.array([3, -2, 127]), QFormat(8, 4))
    >>> a.raw, a.to_float()
    (array([  3,  -2, 127], dtype=int8), array([ 0.1875, -0.125 ,  7.9375]))
    >>> a.to_bin().tolist(), a.to_hex().tolist()
    (['00000011', '11111110', '01111111'], ['03', 'fe', '7f'])
    >>> a.to_fraction()[1]
    Fraction(-1, 8)
    """

    __slots__ = ("_raw", "_fmt")
    __array_priority__ = 100  # numpy defers binary operators to us

    def __init__(self, raw, fmt):
        """``raw``: integers (a numpy integer or bool array, a Python int, a list, or an object
        array of Python/numpy integers, big ints up to 2**64 - 1 included) inside ``fmt``'s raw
        range.  The words are always copied into a new array of ``fmt.dtype``: the FixedArray
        never shares (and so never writes into) the caller's buffer."""
        fmt = qformat(fmt)
        arr = raw if isinstance(raw, np.ndarray) else None
        if arr is None:
            try:
                arr = np.asarray(raw)
            except (ValueError, TypeError, OverflowError) as e:
                raise ValueError(f"raw must be integers, got {type(raw).__name__} ({e})") from None
            if arr.dtype.kind == "f" and not isinstance(raw, float):
                # a list of Python ints beyond int64 and uint64 (or mixing both) comes back as
                # float64 (lossy) or object: read the ints themselves
                try:
                    arr = np.array(raw, dtype=object)
                except (ValueError, TypeError):
                    pass
        if arr.dtype.kind == "O":
            flat = arr.ravel()
            for i, v in enumerate(flat):
                if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                    where = np.unravel_index(i, arr.shape) if arr.ndim else ()
                    raise ValueError(
                        f"raw must hold integers only; element {tuple(int(k) for k in where)} is "
                        f"{v!r} ({type(v).__name__}); use fxsim.cast(x, fmt) for real values")
            vals = [int(v) for v in flat]
            if vals:
                _check_range(min(vals), max(vals), fmt)
            words = np.array(vals, dtype=fmt.dtype).reshape(arr.shape)
        elif arr.dtype.kind in "iub" or (arr.dtype.kind == "f" and arr.size == 0):
            if arr.size:
                _check_range(int(arr.min()), int(arr.max()), fmt)
            words = np.array(arr, dtype=fmt.dtype, copy=True)
        else:
            raise ValueError(
                f"raw must be integers (got dtype {arr.dtype}); use fxsim.cast(x, fmt) for real values"
            )
        self._raw = np.ascontiguousarray(words) if words.ndim else words
        self._fmt = fmt

    @classmethod
    def _wrap(cls, raw: np.ndarray, fmt: QFormat) -> "FixedArray":
        """Trusted constructor for kernel results (no range check, no copy)."""
        obj = cls.__new__(cls)
        obj._raw = raw
        obj._fmt = fmt
        return obj

    @classmethod
    def from_float(cls, x, fmt, **kwargs) -> "FixedArray":
        from .ops import cast
        return cast(x, fmt, **kwargs)

    # -- basic attributes ---------------------------------------------------------------
    raw = property(lambda self: self._raw, doc="The raw integers (numpy array, fmt.dtype).")
    fmt = property(lambda self: self._fmt, doc="The QFormat.")
    shape = property(lambda self: self._raw.shape)
    ndim = property(lambda self: self._raw.ndim)
    size = property(lambda self: self._raw.size)

    def __len__(self) -> int:
        return len(self._raw)

    def __getitem__(self, idx) -> "FixedArray":
        return FixedArray._wrap(np.asarray(self._raw[idx]), self._fmt)

    def __setitem__(self, idx, value) -> None:
        if not isinstance(value, FixedArray) or value.fmt != self._fmt:
            raise ValueError(f"can only assign a FixedArray of format {self._fmt}; cast it first")
        self._raw[idx] = value.raw

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def reshape(self, *shape) -> "FixedArray":
        return FixedArray._wrap(self._raw.reshape(*shape), self._fmt)

    def ravel(self) -> "FixedArray":
        return FixedArray._wrap(self._raw.ravel(), self._fmt)

    @property
    def T(self) -> "FixedArray":
        return FixedArray._wrap(self._raw.T, self._fmt)

    def copy(self) -> "FixedArray":
        return FixedArray._wrap(self._raw.copy(), self._fmt)

    # -- values -------------------------------------------------------------------------
    def to_float(self) -> np.ndarray:
        """Values as float64 (exact when wl <= 53)."""
        return np.ldexp(self._raw.astype(np.float64), -self._fmt.fl)

    def to_fraction(self) -> np.ndarray:
        """Exact values as an object array of ``fractions.Fraction``."""
        lsb = self._fmt.exact_lsb
        out = np.empty(self._raw.shape, dtype=object)
        flat = out.reshape(-1)
        for i, m in enumerate(self._raw.reshape(-1).tolist()):
            flat[i] = m * lsb
        return out

    def __array__(self, dtype=None, copy=None):
        vals = np.asarray(self.to_float())          # an ndarray also for 0-d values
        return vals if dtype is None else vals.astype(dtype)

    def __float__(self) -> float:
        return float(self.to_float())

    # -- bits ---------------------------------------------------------------------------
    def _unsigned_words(self) -> np.ndarray:
        """The words as unsigned wl-bit patterns (two's complement for signed formats)."""
        wl = self._fmt.wl
        mask = np.uint64(2**64 - 1 if wl == 64 else (1 << wl) - 1)
        wide = self._raw.astype(np.int64).view(np.uint64) if self._fmt.signed else self._raw.astype(np.uint64)
        return wide & mask

    def bits(self, index=()) -> "Bits":
        """The word at ``index`` as a ``bitstring.Bits`` of length wl (two's complement)."""
        from bitstring import Bits
        m = int(self._raw[index])
        if self._fmt.signed:
            return Bits(int=m, length=self._fmt.wl)
        return Bits(uint=m, length=self._fmt.wl)

    def to_bin(self) -> np.ndarray:
        """Every word as a wl-character binary string (two's complement)."""
        w = self._fmt.wl
        words = self._unsigned_words()
        return np.array([format(int(u), f"0{w}b") for u in words.reshape(-1)], dtype=f"<U{w}").reshape(self.shape)

    def to_hex(self) -> np.ndarray:
        """Every word as lower-case hex, zero-padded to ceil(wl/4) digits (``$readmemh`` form)."""
        d = (self._fmt.wl + 3) // 4
        words = self._unsigned_words()
        return np.array([format(int(u), f"0{d}x") for u in words.reshape(-1)], dtype=f"<U{d}").reshape(self.shape)

    # -- text ---------------------------------------------------------------------------
    def format(self, bits: bool = False, max_items: int = 32) -> str:
        """A readable view; with ``bits=True`` each value is followed by its word in binary."""
        vals = self.to_float().reshape(-1)
        n = vals.size
        shown = range(min(n, max_items))
        if bits:
            bins = self[...].reshape(-1).to_bin() if n else []
            items = [f"{float(vals[i])!r} ({bins[i]})" for i in shown]
        else:
            items = [repr(float(vals[i])) for i in shown]
        more = ", ..." if n > max_items else ""
        return f"FixedArray([{', '.join(items)}{more}], {self._fmt}, shape={self.shape})"

    def __repr__(self) -> str:
        if self.ndim == 0:
            return f"FixedArray({float(self.to_float())!r}, {self._fmt})"
        return self.format()

    # -- comparison and arithmetic ------------------------------------------------------
    def identical(self, other) -> bool:
        """Same format, same shape, same bits."""
        return (isinstance(other, FixedArray) and other.fmt == self._fmt
                and other.shape == self.shape and bool(np.array_equal(other.raw, self._raw)))

    def __eq__(self, other):
        if not isinstance(other, FixedArray):
            return NotImplemented
        if other.fmt.fl == self._fmt.fl:
            a, b = np.broadcast_arrays(self._raw, other.raw)
            if a.dtype == b.dtype or np.promote_types(a.dtype, b.dtype).kind in "iu":
                return a == b
        return self.to_fraction() == other.to_fraction()

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else ~np.asarray(eq, dtype=bool)

    __hash__ = None

    def _other(self, other):
        if not isinstance(other, FixedArray):
            raise TypeError(
                f"fixed-point arithmetic needs FixedArray operands, got {type(other).__name__}: "
                "cast it into a format first (fxsim.cast)"
            )
        return other

    def __add__(self, other):
        from .ops import add
        return add(self, self._other(other))

    def __sub__(self, other):
        from .ops import sub
        return sub(self, self._other(other))

    def __mul__(self, other):
        from .ops import mul
        return mul(self, self._other(other))

    def __neg__(self):
        from .ops import sub
        zero = FixedArray._wrap(np.zeros((), dtype=np.int8), QFormat(1, self._fmt.fl, True))
        return sub(zero, self)

    def __matmul__(self, other):
        from .ops import matmul, matvec, dot
        other = self._other(other)
        if self.ndim == 1 and other.ndim == 1:
            return dot(self, other)
        if self.ndim == 2 and other.ndim == 1:
            return matvec(self, other)
        return matmul(self, other)
