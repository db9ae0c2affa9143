"""Fixed-point values: raw integers in the smallest native container, paired with a format.

Operators (``+ - * @ / << >>``, ``abs``, comparisons, ``& | ^ ~``), reductions and the numpy
protocols compute exactly and cast only as the operator context says (``fxsim.context``):
each one calls the explicit function (``fxsim.add``, ``fxsim.cast``, ``fxsim.matvec``, ...).
"""
from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np

from . import bits as wordbits
from . import counters
from .context import DEFAULT, get_context
from .printing import array_repr
from .qformat import FL_MAX, FL_MIN, QFormat, qformat


def _check_range(lo: int, hi: int, fmt: QFormat) -> None:
    if lo < fmt.min_raw or hi > fmt.max_raw:
        bad = lo if lo < fmt.min_raw else hi
        raise ValueError(f"raw value {bad} is outside {fmt} raw range [{fmt.min_raw}, {fmt.max_raw}]")


class FixedArray:
    """An n-d array of fixed-point words: ``raw`` integers (container ``fmt.dtype``) and a
    ``QFormat``.  Values are ``raw * 2**-fmt.fl``.

    numpy interop: ``np.asarray(a)`` (and ``np.array(a)``) gives the values as float64 (exact for
    wl <= 53, else the nearest double), as it always has: that is the one explicit way to
    floats, with ``a.to_float()``.  numpy ufuncs and functions with an exact fixed-point meaning
    (``np.add``, ``np.sum``, ``np.concatenate``, ``np.where``, comparisons, ...) return
    FixedArrays (or bool/index arrays); every other one raises TypeError instead of silently
    computing in float64.  ``a.raw`` gives the raw integers; ``a.to_fraction()`` is always
    exact.  ``==`` compares exact values element-wise; ``identical`` compares format and bits.

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
        """``a[idx] = v``: v a FixedArray (any format) or a number (converted exactly), cast
        into ``a.fmt`` as the operator context says (default: exact, else ValueError); the
        words are written only once the cast succeeded."""
        if isinstance(value, FixedArray) and value.fmt == self._fmt:
            self._raw[idx] = value.raw
            return
        v = _scalar(value) if not isinstance(value, FixedArray) else value
        if v is None:
            raise ValueError(f"can only assign a FixedArray or a number to a FixedArray of "
                             f"format {self._fmt}, got {type(value).__name__}; cast arrays "
                             "first (fxsim.cast(x, fmt))")
        self._raw[idx] = _context_cast(v, self._fmt, "assignment").raw

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
        return wordbits.patterns(self._raw, self._fmt)

    @property
    def bits(self) -> "BitView":
        """The words' bits.  ``a.bits(i)``: the word at index ``i`` as a ``bitstring.Bits`` of
        length wl (two's complement); ``a.bits[hi:lo]``: bits hi..lo of every word (Verilog
        order, both included, bit 0 the LSB) as an unsigned integer FixedArray UQ(hi-lo+1, 0);
        ``a.bits[k]``: bit k (UQ(1, 0))."""
        return BitView(self)

    def reinterpret(self, fmt) -> "FixedArray":
        """The same bit patterns read in another format of the same word length (signedness
        and fraction length may change): no rounding, no overflow.

        >>> FixedArray([-1, 3], "Q(4,0)").reinterpret("UQ(4,2)").raw.tolist()
        [15, 3]
        """
        fmt = qformat(fmt)
        if fmt.wl != self._fmt.wl:
            raise ValueError(f"reinterpret: fmt must have wl={self._fmt.wl} (the words' width), "
                             f"got {fmt} (wl={fmt.wl})")
        return FixedArray._wrap(wordbits.from_patterns(self._unsigned_words(), fmt), fmt)

    def shift_bits(self, n: int) -> "FixedArray":
        """The raw words shifted by ``n`` bits (``n`` < 0: right) inside the same format, as a
        register does: left shifts drop the bits shifted out (wrap), right shifts floor
        (arithmetic for signed formats).  ``a << n`` instead moves the binary point (exact)."""
        n = _shift_amount(n, "shift_bits")
        return FixedArray._wrap(wordbits.shift_bits(self._raw, self._fmt, n), self._fmt)

    def shift_point(self, n: int) -> "FixedArray":
        """The value times 2**n, exactly, by moving the binary point: the same raw words in
        the format with fl - n (what ``a << n`` and ``a >> -n`` compute before the context's
        cast)."""
        n = _shift_amount(n, "shift_point")
        fl = self._fmt.fl - n
        if not FL_MIN <= fl <= FL_MAX:
            raise ValueError(f"shift by {n}: the result needs fl={fl}, outside [{FL_MIN}, "
                             f"{FL_MAX}]; cast into a format first")
        return FixedArray._wrap(self._raw.copy(), QFormat(self._fmt.wl, fl, self._fmt.signed))

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

    # -- text and exchange ----------------------------------------------------------------
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
        return array_repr(self)

    def __reduce__(self):
        # pickling goes through the checking constructor: raw words and format exactly
        return FixedArray, (self._raw, self._fmt)

    def to_columns(self) -> dict:
        """Columns for a table (pandas, pyarrow, csv), one row per word in C order: the
        index along each axis (``i0``, ``i1``, ...; none for a 0-d array), ``raw``, ``hex``
        (two's complement) and ``float``."""
        cols = {}
        if self.ndim:
            for k, ix in enumerate(np.indices(self.shape).reshape(self.ndim, -1)):
                cols[f"i{k}"] = ix
        cols["raw"] = self._raw.reshape(-1).copy()
        cols["hex"] = self.to_hex().reshape(-1)
        cols["float"] = self.to_float().reshape(-1)
        return cols

    def to_frame(self):
        """A ``pandas.DataFrame`` of ``to_columns()`` (needs pandas: ``pip install
        fxsim[frame]``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_frame needs pandas (pip install 'fxsim[frame]'); "
                              "to_columns() gives the same columns as a dict of arrays") from None
        return pd.DataFrame(self.to_columns())

    # -- comparison -----------------------------------------------------------------------
    def identical(self, other) -> bool:
        """Same format, same shape, same bits."""
        return (isinstance(other, FixedArray) and other.fmt == self._fmt
                and other.shape == self.shape and bool(np.array_equal(other.raw, self._raw)))

    def _compare(self, other, cmp):
        o = _operand(other)
        if o is None:
            return NotImplemented
        if o.shape != self.shape:
            try:
                np.broadcast_shapes(self.shape, o.shape)
            except ValueError:
                raise ValueError(f"comparison: shapes {self.shape} and {o.shape} do not "
                                 "broadcast") from None
        if o.fmt.fl == self._fmt.fl:
            a, b = self._raw, o.raw
            if a.dtype == b.dtype or np.promote_types(a.dtype, b.dtype).kind in "iu":
                return cmp(a, b)
        try:
            d = _ops().sub(self, o)          # exact difference: its sign is the answer
        except ValueError:                   # wider than 64 bits: compare the exact values
            return np.asarray(cmp(self.to_fraction(), o.to_fraction()), dtype=bool)
        return cmp(d.raw, 0)

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    __hash__ = None

    # -- arithmetic (see fxsim.context) ---------------------------------------------------
    def _binary(self, name, other, reflected=False):
        o = other if other.__class__ is FixedArray else _operand(other)
        if o is None:
            return NotImplemented
        a, b = (o, self) if reflected else (self, o)
        ctx = get_context()
        fast = _compiled(name, a, b, self, ctx)
        if fast:
            res = fast(a, b)
            if res is not None:
                return res
        fn = getattr(_OPS or _ops(), name)
        if ctx is DEFAULT:
            return _hint(fn, a, b)
        return _with_context(ctx, self, f"a {_SYMBOL[name]} b",
                             lambda fmt, **kw: _hint(fn, a, b, fmt, **kw))

    def __add__(self, other):
        return self._binary("add", other)

    def __radd__(self, other):
        return self._binary("add", other, True)

    def __sub__(self, other):
        return self._binary("sub", other)

    def __rsub__(self, other):
        return self._binary("sub", other, True)

    def __mul__(self, other):
        return self._binary("mul", other)

    def __rmul__(self, other):
        return self._binary("mul", other, True)

    def __neg__(self):
        zero = _zero(self._fmt.fl)
        ctx = get_context()
        fast = _compiled("sub", zero, self, self, ctx)
        if fast:
            res = fast(zero, self)
            if res is not None:
                return res
        sub = _ops().sub
        if ctx is DEFAULT:
            return sub(zero, self)
        return _with_context(ctx, self, "-a", lambda fmt, **kw: sub(zero, self, fmt, **kw))

    def __pos__(self):
        return self.copy()

    def __abs__(self):
        f = self._fmt
        if not f.signed:
            return _context_result(self.copy(), self, "abs(a)")
        if f.wl < 64 and not counters.active():
            # the words and format of where(a < 0, 0 - a, a) below, in one numpy call (the
            # explicit calls below record counters inside a Counters block)
            fmt = _qformat(f.wl + 1, f.fl, True)
            return _context_result(FixedArray._wrap(np.abs(self._raw, dtype=fmt.dtype), fmt),
                                   self, "abs(a)")
        neg = _ops().sub(_zero(f.fl), self)
        pos = _ops().cast(self, neg.fmt, "floor", "error")      # exact: one more bit
        res = FixedArray._wrap(np.where(self._raw < 0, neg.raw, pos.raw), neg.fmt)
        return _context_result(res, self, "abs(a)")

    def __lshift__(self, n):
        if isinstance(n, FixedArray):
            raise TypeError("a << n: n must be an integer (a shift amount), not a FixedArray")
        return _context_result(self.shift_point(n), self, "a << n")

    def __rshift__(self, n):
        if isinstance(n, FixedArray):
            raise TypeError("a >> n: n must be an integer (a shift amount), not a FixedArray")
        return _context_result(self.shift_point(-_shift_amount(n, "a >> n")), self, "a >> n")

    def __truediv__(self, other):
        o = _operand(other)
        if o is None:
            return NotImplemented
        return _divide(self, o)

    def __rtruediv__(self, other):
        o = _operand(other)
        if o is None:
            return NotImplemented
        return _divide(o, self)

    def __matmul__(self, other):
        if not isinstance(other, FixedArray):
            if _is_array_like(other) or _scalar(other) is not None:
                raise TypeError(f"a @ b needs two FixedArrays, got {type(other).__name__}: "
                                "cast it first (fxsim.cast(x, fmt)); a number scales with *")
            return NotImplemented
        return _matmul(self, other)

    def __rmatmul__(self, other):
        if _is_array_like(other):
            raise TypeError(f"a @ b needs two FixedArrays, got {type(other).__name__}: "
                            "cast it first (fxsim.cast(x, fmt))")
        return NotImplemented

    def dot(self, other) -> "FixedArray":
        """``a @ b`` (see ``fxsim.context`` for the accumulator)."""
        return self.__matmul__(other)

    def _bitwise(self, op, other):
        o = _operand(other)
        if o is None:
            return NotImplemented
        if (o.fmt.wl, o.fmt.signed) != (self._fmt.wl, self._fmt.signed):
            raise ValueError(f"a {_SYMBOL[op]} b works on raw words of one width: a is {self._fmt}, "
                             f"b is {o.fmt}; reinterpret or cast one first")
        ra, rb = np.broadcast_arrays(self._raw, o.raw)
        return FixedArray._wrap(wordbits.bitwise(op, ra, rb, self._fmt), self._fmt)

    def __and__(self, other):
        return self._bitwise("and", other)

    def __or__(self, other):
        return self._bitwise("or", other)

    def __xor__(self, other):
        return self._bitwise("xor", other)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self):
        return FixedArray._wrap(wordbits.bitwise("not", self._raw, None, self._fmt), self._fmt)

    # -- reductions -----------------------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False) -> "FixedArray":
        """The sum along ``axis`` (None: all), in index order: exact into the smallest format
        holding any sum of that many words (a dot product with ones, ``fxsim.matvec``), or
        with the context's ``acc`` format cast after every addition (spec §4)."""
        if get_context() is DEFAULT:
            res = self._exact_sum(axis, keepdims)
            if res is not None:
                return res
        A, out_shape, keep = self._rows(axis, "sum")
        ones = _ones(A.shape[1])
        res = _mac_call(_ops().matvec, A, ones, self, "sum")
        return res.reshape(keep if keepdims else out_shape)

    def _exact_sum(self, axis, keepdims):
        """``sum`` in the default context without its dot product: the words summed in int64
        (exact: the bound below) into the format matvec gives the sum of K words, None when
        that bound fails or the words are uint64 (then the dot product does it)."""
        axis = self._axis(axis, "sum")
        f, raw = self._fmt, self._raw
        K = raw.size if axis is None else raw.shape[axis]
        lo, hi = min(f.min_raw, 0), max(f.max_raw, 0)
        if raw.dtype == np.uint64 or max(K, 1) * max(-lo, hi) >= 1 << 63:
            return None
        fmt = _qformat(_bits_for(K * lo, K * hi, lo < 0), f.fl, lo < 0)
        words = np.add.reduce(raw, axis=axis, dtype=np.int64, keepdims=keepdims)
        return FixedArray._wrap(np.asarray(words).astype(fmt.dtype), fmt)

    def _axis(self, axis, op):
        """``axis`` checked: None or an axis index in [0, ndim)."""
        if axis is None:
            return None
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or \
                not -max(self.ndim, 1) <= axis < max(self.ndim, 1) or self.ndim == 0:
            raise ValueError(f"{op}: axis must be None or an integer in [-{self.ndim}, "
                             f"{self.ndim - 1}], got {axis!r}")
        return int(axis) % self.ndim

    def _rows(self, axis, op):
        """The words as a (M, K) FixedArray whose rows are the lanes along ``axis``, with the
        result shape and the keepdims shape."""
        if axis is None:
            return self.reshape(1, -1), (), (1,) * self.ndim
        axis = self._axis(axis, op)
        moved = np.moveaxis(self._raw, axis, -1)
        keep = self.shape[:axis] + (1,) + self.shape[axis + 1:]
        return (FixedArray._wrap(moved.reshape(math.prod(moved.shape[:-1]), self.shape[axis]), self._fmt),
                moved.shape[:-1], keep)

    def cumsum(self, axis=None) -> "FixedArray":
        """Running sums along ``axis`` (None: the flattened array), exact in the format of
        ``sum`` or, with the context's ``acc``, cast after every addition (one ``fxsim.add``
        per step, every lane at once; stochastic draws are taken step by step)."""
        A, _, _ = self._rows(axis, "cumsum")
        M, K = A.shape
        ctx = get_context()
        kw = _acc_kwargs(ctx, "cumsum")
        if kw:
            acc = FixedArray._wrap(np.zeros(M, ctx.acc.dtype), ctx.acc)
            cols = []
            for k in range(K):
                acc = _ops().add(acc, A[:, k], ctx.acc, **kw)
                cols.append(acc.raw)
            res = FixedArray._wrap(np.stack(cols, axis=1) if cols else
                                   np.zeros((M, 0), ctx.acc.dtype), ctx.acc)
        else:
            f = self._fmt
            fmt = QFormat(_bits_for(min(0, K * f.min_raw), max(0, K * f.max_raw), f.signed),
                          f.fl, f.signed)
            if fmt.wl > 64:
                raise ValueError(f"cumsum: the exact sums of {K} words of {f} need {fmt.wl} "
                                 "bits; set an accumulator, fxsim.context(acc=..., rounding=...)")
            # every running sum lies in fmt's range, so the 64-bit sums never wrap
            wide = np.cumsum(A.raw, axis=1, dtype=np.int64 if f.signed else np.uint64)
            res = _context_result(FixedArray._wrap(wide.astype(fmt.dtype), fmt), self, "cumsum")
        if axis is None:
            return res.reshape(-1)
        axis = int(axis) % self.ndim
        moved = np.moveaxis(self._raw, axis, -1).shape
        return FixedArray._wrap(np.moveaxis(res.raw.reshape(moved), -1, axis), res.fmt)

    def max(self, axis=None, keepdims: bool = False) -> "FixedArray":
        """The largest word along ``axis`` (exact: same format)."""
        return FixedArray._wrap(np.asarray(self._raw.max(axis=axis, keepdims=keepdims)), self._fmt)

    def min(self, axis=None, keepdims: bool = False) -> "FixedArray":
        """The smallest word along ``axis`` (exact: same format)."""
        return FixedArray._wrap(np.asarray(self._raw.min(axis=axis, keepdims=keepdims)), self._fmt)

    # -- numpy protocols ------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _array_function(func, types, args, kwargs)


class BitView:
    """``a.bits``: callable (``a.bits(i)``: one word as ``bitstring.Bits``) and sliceable
    (``a.bits[hi:lo]``: bits hi..lo of every word as an unsigned FixedArray).

    >>> a = FixedArray([0b1011_0110], "UQ(8,0)")
    >>> a.bits[7:4].raw.tolist(), a.bits[1].raw.tolist(), a.bits(0).bin
    ([11], [1], '10110110')
    """
    __slots__ = ("_a",)

    def __init__(self, a: FixedArray):
        self._a = a

    def __call__(self, index=()):
        from bitstring import Bits
        a = self._a
        m = int(a.raw[index])
        return Bits(int=m, length=a.fmt.wl) if a.fmt.signed else Bits(uint=m, length=a.fmt.wl)

    def __getitem__(self, key) -> FixedArray:
        a = self._a
        if isinstance(key, slice):
            if key.step is not None or key.start is None or key.stop is None:
                raise ValueError("bits[hi:lo] takes two bit positions (Verilog order), no step")
            hi, lo = key.start, key.stop
        else:
            hi = lo = key
        raw, fmt = wordbits.bit_slice(a.raw, a.fmt, hi, lo)
        return FixedArray._wrap(raw, fmt)

    def __len__(self) -> int:
        return self._a.fmt.wl


def bitcat(*parts) -> FixedArray:
    """Verilog ``{a, b, ...}``: the words of the FixedArrays side by side (the first one in the
    most significant bits) as an unsigned integer FixedArray of the summed width (<= 64).

    >>> bitcat(FixedArray([0b101], "UQ(3,0)"), FixedArray([-1], "Q(2,0)")).raw.tolist()
    [23]
    """
    if not parts or not all(isinstance(p, FixedArray) for p in parts):
        raise ValueError("bitcat: parts must be one or more FixedArrays")
    raw, fmt = wordbits.concat([(p.raw, p.fmt) for p in parts])
    return FixedArray._wrap(raw, fmt)


# -- helpers of the operators ---------------------------------------------------------------

_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "and": "&", "or": "|", "xor": "^"}
_OPS = None
_qformat = functools.lru_cache(maxsize=512)(QFormat)   # the formats operators build per call
_EXACT_OPS = {}             # (op, formats of a, b, result) -> ops.compiled_binop(...) or False
_CONTEXT_OPS = (None, {})   # (the last context, its table like _EXACT_OPS): one tuple, read once


def _compiled(name, a, b, left, ctx):
    """The compiled small call doing what operator ``name`` does on ``a``, ``b`` under ``ctx``
    (``left``: the operand whose format ``result='left'`` names), or False: for the exact
    default and for a context with a deterministic rounding, built once per formats."""
    global _CONTEXT_OPS
    fmt = None if ctx is DEFAULT else _result_format(ctx, left)
    if fmt is None:              # full growth: the exact call, as in the default context
        table, mode = _EXACT_OPS, None
    elif ctx.rounding is None or ctx.source is not None:
        return False
    else:
        memo = _CONTEXT_OPS
        if memo[0] is not ctx:
            memo = _CONTEXT_OPS = (ctx, {})
        table, mode = memo[1], ctx.mode
    key = (name, a._fmt, b._fmt, fmt)
    fast = table.get(key)
    if fast is None:
        if len(table) >= 512:
            table.clear()
        fast = table[key] = _ops().compiled_binop(name, a, b, fmt, mode) or False
    return fast


def _ops():
    """fxsim.ops (imported at the first operator call: it imports this module)."""
    global _OPS
    if _OPS is None:
        from . import ops
        _OPS = ops
    return _OPS


@functools.lru_cache(maxsize=64)
def _zero(fl: int) -> "FixedArray":
    """0 in Q(1, fl): ``-a`` is ``sub(0, a)`` (read-only: shared between calls)."""
    raw = np.zeros((), np.int8)
    raw.flags.writeable = False
    return FixedArray._wrap(raw, QFormat(1, fl, True))


_UQ1 = QFormat(1, 0, False)


@functools.lru_cache(maxsize=16)
def _ones_cached(n: int) -> "FixedArray":
    raw = np.ones(n, np.uint8)
    raw.flags.writeable = False
    return FixedArray._wrap(raw, _UQ1)


def _ones(n: int) -> "FixedArray":
    """n ones in UQ(1, 0): ``sum`` is a dot product with them (short ones are kept)."""
    return _ones_cached(n) if n <= 1 << 16 else FixedArray._wrap(np.ones(n, np.uint8), _UQ1)


def _bits_for(lo: int, hi: int, signed: bool) -> int:
    if signed:
        return max(1, max(hi.bit_length(), (-lo - 1).bit_length() if lo < 0 else 0) + 1)
    return max(1, hi.bit_length())


def _scalar(x):
    """A number as a 0-d FixedArray of the smallest format holding it exactly (Python/numpy
    ints and floats, Fractions with a power-of-two denominator), a ValueError when it has no
    exact binary value (1/3, NaN, inf) or needs more than 64 bits, None when ``x`` is not a
    number."""
    if isinstance(x, (bool, np.bool_)):
        return None
    if isinstance(x, (int, np.integer)):
        v = Fraction(int(x))
    elif isinstance(x, (float, np.floating)):
        if not np.isfinite(x):
            raise ValueError(f"{x!r} has no fixed-point value")
        v = Fraction(*x.as_integer_ratio())
    elif isinstance(x, Fraction):
        v = x
    else:
        return None
    num, den = v.numerator, v.denominator
    if den & (den - 1):
        raise ValueError(f"{x!r} has no exact binary fixed-point value (denominator {den}): cast "
                         f"it into a format first, e.g. fxsim.cast({float(v)!r}, 'Q0.16', "
                         "rounding='nearest_even')")
    fl = den.bit_length() - 1
    if num == 0:
        return FixedArray._wrap(np.zeros((), np.uint8), QFormat(1, 0, False))
    if fl == 0:
        tz = (num & -num).bit_length() - 1
        num, fl = num >> tz, -tz
    signed = num < 0
    wl = _bits_for(min(num, 0), max(num, 0), signed)
    if wl > 64 or not FL_MIN <= fl <= FL_MAX:
        raise ValueError(f"{x!r} needs a {wl}-bit word at fl={fl} to be exact (at most 64 "
                         f"bits, fl in [{FL_MIN}, {FL_MAX}]): cast it into a format first")
    fmt = QFormat(wl, fl, signed)
    return FixedArray._wrap(np.array(num, dtype=fmt.dtype), fmt)


def _is_array_like(x) -> bool:
    return isinstance(x, (np.ndarray, list, tuple)) or hasattr(x, "__dlpack__")


def _operand(x):
    """The operand of an operator as a FixedArray; None (NotImplemented) for other types; a
    TypeError for arrays, which become fixed-point only through an explicit cast."""
    if isinstance(x, FixedArray):
        return x
    s = _scalar(x)
    if s is None and _is_array_like(x):
        raise TypeError(f"a FixedArray operand must be a FixedArray or a number, got "
                        f"{type(x).__name__}: an array becomes fixed-point only through an "
                        "explicit cast, fxsim.cast(x, fmt, rounding=...)")
    return s


def _shift_amount(n, what) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{what}: the shift must be an integer, got {type(n).__name__}")
    return int(n)


def _hint(fn, *args, **kw):
    """``fn(*args, **kw)``; its error asking for ``fmt=`` says how operators give one."""
    try:
        return fn(*args, **kw)
    except ValueError as e:
        if "pass fmt=" not in str(e):
            raise
        raise ValueError(f"{e}; with operators: cast an operand into a smaller format or set "
                         "a result format, with fxsim.context(result='Q8.8', rounding=...)") from None


def _result_format(ctx, left: FixedArray):
    if ctx.result == "full":
        return None
    return left.fmt if ctx.result == "left" else ctx.result


def _acc_kwargs(ctx, op) -> dict:
    if ctx.acc is None:
        return {}
    if ctx.rounding is None:
        raise ValueError(f"{op}: context(acc={ctx.acc}) casts after every addition, so it needs "
                         "a rounding: fxsim.context(acc=..., rounding='nearest_even', ...)")
    return {"mode": ctx.mode, "source": ctx.source}


def _first_difference(x, y):
    bad = np.argwhere(np.asarray(x) != np.asarray(y))
    return tuple(int(i) for i in bad[0]) if bad.size else ()


def _with_context(ctx, left, what, compute):
    """``compute(fmt, rounding=, overflow=, mode=, source=)`` under ``ctx``: ``fmt`` None (full
    growth) computes once exactly; with a rounding, once in that mode; in an exact context,
    once flooring and once ceiling, which must agree (else ValueError: the result is not
    exact in ``fmt``)."""
    fmt = _result_format(ctx, left)
    if fmt is None:
        return compute(None)
    if ctx.rounding is not None:
        return compute(fmt, mode=ctx.mode, source=ctx.source)
    return _proved_exact(compute, fmt, ctx.overflow_mode, what)


def _proved_exact(compute, fmt, ovf, what):
    """``compute(fmt, rounding=, overflow=ovf)`` flooring and ceiling: equal words prove the
    result exact (or saturated, as ``ovf`` allows); else a ValueError saying how to round."""
    lo = compute(fmt, rounding="floor", overflow=ovf)
    hi = compute(fmt, rounding="ceil", overflow=ovf)
    if not np.array_equal(lo.raw, hi.raw):
        raise ValueError(f"{what}: the result is not exact in {fmt} (first at index "
                         f"{_first_difference(lo.raw, hi.raw)}); allow rounding with "
                         "fxsim.context(rounding='nearest_even', ...) or use the explicit "
                         "functions (fxsim.cast(x, fmt, rounding=...), fxsim.add, ...)")
    return lo


def _context_cast(x: FixedArray, fmt: QFormat, what: str) -> FixedArray:
    """``x`` cast into ``fmt`` as the context says (exact context: exact or ValueError)."""
    ctx = get_context()
    if ctx.rounding is not None:
        return _ops().cast(x, fmt, mode=ctx.mode, source=ctx.source)
    return _proved_exact(lambda f, **kw: _ops().cast(x, f, **kw), fmt, ctx.overflow_mode, what)


def _context_result(res: FixedArray, left: FixedArray, what: str) -> FixedArray:
    """An exact result put into the context's result format (full growth: as it is)."""
    fmt = _result_format(get_context(), left)
    return res if fmt is None or fmt == res.fmt else _context_cast(res, fmt, what)


def _matmul(a: FixedArray, b: FixedArray) -> FixedArray:
    ops = _ops()
    if a.ndim == 1 and b.ndim == 1:
        fn, A, B, shape = ops.dot, a, b, None
    elif a.ndim == 2 and b.ndim == 1:
        fn, A, B, shape = ops.matvec, a, b, None
    elif a.ndim == 2 and b.ndim == 2:
        fn, A, B, shape = ops.matmul, a, b, None
    elif a.ndim == 1 and b.ndim == 2:
        fn, A, B, shape = ops.matmul, a.reshape(1, -1), b, (b.shape[1],)
    else:
        raise ValueError(f"a @ b: operands must be 1-D or 2-D, got shapes {a.shape} and {b.shape}")
    res = _mac_call(fn, A, B, a, "a @ b")
    return res if shape is None else res.reshape(shape)


def _mac_call(fn, A, B, left, what):
    """``fn`` (dot, matvec or matmul) under the context: the context's ``acc`` with its mode
    for every cast (acc and result), else exact accumulation and the context's result cast."""
    ctx = get_context()
    if ctx is DEFAULT:
        return _hint(fn, A, B)
    kw = _acc_kwargs(ctx, what)
    if kw:
        return _hint(fn, A, B, acc=ctx.acc, fmt=_result_format(ctx, left), **kw)
    return _with_context(ctx, left, what, lambda fmt, **k: _hint(fn, A, B, fmt=fmt, **k))


def _pow2_exponent(b: FixedArray):
    """k when every word of ``b`` is the same value ±2**k, else None; (k, negative)."""
    if b.size != 1:
        return None
    m = int(b.raw.reshape(-1)[0])
    if m == 0 or abs(m) & (abs(m) - 1):
        return None
    return (abs(m).bit_length() - 1) - b.fmt.fl, m < 0


def _divide(a: FixedArray, b: FixedArray) -> FixedArray:
    """``a / b``: exact when b is ±2**k (the binary point moves, then the context's cast);
    otherwise the quotient rounded into the context's result format with its deterministic
    rounding (needs both: a quotient such as 1/3 has no exact fixed-point value)."""
    p = _pow2_exponent(b) if b.ndim == 0 else None
    if p is not None:
        k, negative = p
        q = a.shift_point(-k)
        if negative:
            q = _ops().sub(_zero(q.fmt.fl), q)
        return _context_result(q, a, "a / b")
    ctx = get_context()
    fmt = _result_format(ctx, a)
    if fmt is None or ctx.rounding is None or ctx.mode.stochastic:
        raise ValueError(
            "a / b: a quotient has no exact fixed-point value in general; divide by a power of "
            "two (a / 4 is a >> 2, exact), multiply by a reciprocal cast into a format "
            "(a * fxsim.cast(1/3, 'Q0.16', rounding='nearest_even')), or give a result format "
            "and a deterministic rounding: with fxsim.context(result='Q8.8', "
            "rounding='nearest_even'): a / b")
    return _quotient(a, b, fmt, ctx)


_GUARD = 2      # guard bits of a quotient; a sticky bit below them marks an inexact one


def _quotient(a: FixedArray, b: FixedArray, fmt: QFormat, ctx) -> FixedArray:
    """a / b rounded into ``fmt`` by ``fxsim.cast``: the quotient is first computed as
    floor(a/b · 2^(fl+G)) with G guard bits and a sticky bit (set when the division left a
    remainder), a value that rounds exactly like the true quotient in every deterministic
    mode (the sticky bit stands for "strictly between", never a tie)."""
    ra, rb = np.broadcast_arrays(a.raw.astype(object), b.raw.astype(object))
    if (rb == 0).any():
        raise ValueError(f"a / b: division by zero (first at index {_first_difference(rb, 0 * rb + 1)})")
    e = fmt.fl - a.fmt.fl + b.fmt.fl + _GUARD
    num = ra * (1 << e) if e >= 0 else ra
    den = rb if e >= 0 else rb * (1 << -e)
    q = num // den
    t = 2 * q + (num - q * den != 0)
    tf = QFormat(64, fmt.fl + _GUARD + 1, True)
    if not FL_MIN <= tf.fl <= FL_MAX:
        raise ValueError(f"a / b: the result format {fmt} is too fine to divide into")
    span = 1 << (fmt.wl + _GUARD + 1)
    if ctx.overflow_mode == "wrap":
        if fmt.wl > 60:
            raise ValueError("a / b with overflow='wrap' takes result formats up to 60 bits")
        t = np.where(t >= 0, t % span, t % span - span)   # the same low bits and sign
    else:
        lim = 1 << 62      # beyond the range of every result format: overflows the same way
        t = np.minimum(np.maximum(t, -lim), lim)
    x = FixedArray._wrap(np.array(t.astype(np.int64), dtype=np.int64).reshape(t.shape), tf)
    return _ops().cast(x, fmt, mode=ctx.mode)


def common_format(fmts, what: str = "combine") -> QFormat:
    """The smallest format holding every value of every format in ``fmts`` exactly.

    >>> common_format([QFormat(8, 4), QFormat(6, 2, False)])
    QFormat(wl=9, fl=4, signed=True)
    """
    fmts = list(fmts)
    fl = max(f.fl for f in fmts)
    lo = min(f.min_raw << (fl - f.fl) for f in fmts)
    hi = max(f.max_raw << (fl - f.fl) for f in fmts)
    signed = any(f.signed for f in fmts)
    wl = _bits_for(lo, hi, signed)
    if wl > 64:
        raise ValueError(f"{what}: a format holding {', '.join(map(str, fmts))} exactly needs "
                         f"{wl} bits (at most 64); cast the arrays into one format first")
    return QFormat(wl, fl, signed)


def _in_format(x: FixedArray, fmt: QFormat) -> np.ndarray:
    return x.raw if x.fmt == fmt else _ops().cast(x, fmt, "floor", "error").raw


def _fixed_list(seq, what):
    items = [_operand(x) for x in seq]
    if not items or any(x is None for x in items):
        raise TypeError(f"{what}: every array must be a FixedArray (cast arrays with fxsim.cast)")
    fmt = common_format([x.fmt for x in items], what)
    return [_in_format(x, fmt) for x in items], fmt


# -- numpy protocols --------------------------------------------------------------------------

def _refuse(name: str):
    raise TypeError(
        f"numpy.{name} has no exact fixed-point meaning for a FixedArray; take floats "
        f"explicitly, numpy.{name}(a.to_float()), and cast back with fxsim.cast(x, fmt) if "
        "needed (np.asarray(a) also gives the float64 values)")


def _reflect(name, rname):
    def run(a, b):
        if isinstance(a, FixedArray):
            return getattr(a, name)(b)
        return getattr(b, rname)(a)
    return run


def _extreme(pick):
    def run(a, b):
        a, b = _operand(a), _operand(b)
        (ra, rb), fmt = _fixed_list([a, b], pick.__name__)
        return FixedArray._wrap(np.asarray(pick(ra, rb)), fmt)
    return run


def _constant_bool(value):
    def run(a):
        return np.full(a.shape, value, dtype=bool)
    return run


_UFUNCS = {
    np.add: _reflect("__add__", "__radd__"),
    np.subtract: _reflect("__sub__", "__rsub__"),
    np.multiply: _reflect("__mul__", "__rmul__"),
    np.true_divide: _reflect("__truediv__", "__rtruediv__"),
    np.matmul: lambda a, b: _matmul(*_fixed_pair(a, b, "matmul")),
    np.negative: lambda a: -a,
    np.positive: lambda a: +a,
    np.absolute: abs,
    np.equal: _reflect("__eq__", "__eq__"),
    np.not_equal: _reflect("__ne__", "__ne__"),
    np.less: _reflect("__lt__", "__gt__"),
    np.less_equal: _reflect("__le__", "__ge__"),
    np.greater: _reflect("__gt__", "__lt__"),
    np.greater_equal: _reflect("__ge__", "__le__"),
    np.maximum: _extreme(np.maximum),
    np.minimum: _extreme(np.minimum),
    np.left_shift: lambda a, n: a << n if isinstance(a, FixedArray) else _refuse("left_shift"),
    np.right_shift: lambda a, n: a >> n if isinstance(a, FixedArray) else _refuse("right_shift"),
    np.bitwise_and: _reflect("__and__", "__rand__"),
    np.bitwise_or: _reflect("__or__", "__ror__"),
    np.bitwise_xor: _reflect("__xor__", "__rxor__"),
    np.invert: lambda a: ~a,
    np.isfinite: _constant_bool(True),
    np.isnan: _constant_bool(False),
    np.isinf: _constant_bool(False),
}
_REDUCE = {np.add: "sum", np.maximum: "max", np.minimum: "min"}


def _fixed_pair(a, b, what):
    if not (isinstance(a, FixedArray) and isinstance(b, FixedArray)):
        raise TypeError(f"{what} needs two FixedArrays: cast arrays first (fxsim.cast(x, fmt))")
    return a, b


def _array_ufunc(ufunc, method, inputs, kwargs):
    kwargs = {k: v for k, v in kwargs.items() if not (k == "out" and v in (None, (None,)))}
    if kwargs:
        raise TypeError(f"numpy.{ufunc.__name__} on a FixedArray takes no keyword arguments "
                        f"({', '.join(kwargs)}); results are new FixedArrays")
    for x in inputs:
        if isinstance(x, np.ndarray):
            raise TypeError(f"numpy.{ufunc.__name__}: a numpy array operand becomes fixed-point "
                            "only through an explicit cast, fxsim.cast(x, fmt, rounding=...)")
    if method == "__call__" and ufunc in _UFUNCS:
        res = _UFUNCS[ufunc](*inputs)
        if res is NotImplemented:
            raise TypeError(f"numpy.{ufunc.__name__}: unsupported operand types "
                            f"{', '.join(type(x).__name__ for x in inputs)}")
        return res
    if method == "reduce" and ufunc in _REDUCE and isinstance(inputs[0], FixedArray):
        return getattr(inputs[0], _REDUCE[ufunc])(axis=0)
    if method == "accumulate" and ufunc is np.add and isinstance(inputs[0], FixedArray):
        return inputs[0].cumsum(axis=0)
    _refuse(ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}")


def _structural(func):
    """A numpy function that only moves words: applied to the raw words, same format."""
    def run(a, *args, **kwargs):
        if not isinstance(a, FixedArray) or "dtype" in kwargs or \
                any(isinstance(x, FixedArray) for x in (*args, *kwargs.values())):
            _refuse(func.__name__)
        return FixedArray._wrap(np.asarray(func(a.raw, *args, **kwargs)), a.fmt)
    return run


def _on_raw(func):
    """A numpy function whose answer (indices, shapes, counts) is the same on the raw words."""
    def run(a, *args, **kwargs):
        if not isinstance(a, FixedArray):
            _refuse(func.__name__)
        return func(a.raw, *args, **kwargs)
    return run


def _joined(func):
    def run(seq, *args, **kwargs):
        raws, fmt = _fixed_list(seq, func.__name__)
        return FixedArray._wrap(np.asarray(func(raws, *args, **kwargs)), fmt)
    return run


def _where(cond, *xy):
    if len(xy) != 2 or isinstance(cond, FixedArray):
        _refuse("where")
    (ra, rb), fmt = _fixed_list(xy, "where")
    return FixedArray._wrap(np.where(np.asarray(cond, dtype=bool), ra, rb), fmt)


def _array_equal(a, b, equal_nan=False):
    a, b = _operand(a), _operand(b)
    if a is None or b is None:
        _refuse("array_equal")
    return a.shape == b.shape and bool(np.all(a == b))


def _clip(a, lo=None, hi=None, **kw):
    """np.clip: exact, in the smallest format holding a and the bounds."""
    lo, hi = kw.pop("min", lo), kw.pop("max", hi)
    if kw or not isinstance(a, FixedArray):
        _refuse("clip")
    parts = [a] + [b for b in (lo, hi) if b is not None]
    raws, fmt = _fixed_list(parts, "clip")
    out = raws[0]
    if lo is not None:
        out = np.maximum(out, raws[1])
    if hi is not None:
        out = np.minimum(out, raws[-1])
    return FixedArray._wrap(np.asarray(out), fmt)


def _diff(a, n=1, axis=-1, **kw):
    """np.diff: exact differences (``sub``'s full-precision growth)."""
    if kw or not isinstance(a, FixedArray) or isinstance(n, bool) or \
            not isinstance(n, (int, np.integer)) or n < 0:
        _refuse("diff")
    for _ in range(int(n)):
        hi = [slice(None)] * a.ndim
        lo = [slice(None)] * a.ndim
        hi[axis], lo[axis] = slice(1, None), slice(None, -1)
        a = _ops().sub(a[tuple(hi)], a[tuple(lo)])
    return a


def _save(*args, **kwargs):
    raise TypeError("numpy.save/savez would store float64 values; fxsim.save(path, name=a) "
                    "keeps the raw words and formats (np.save(path, a.raw) stores raw words only)")


_FUNCTIONS = {
    **{f: _structural(f) for f in (
        np.reshape, np.transpose, np.ravel, np.squeeze, np.expand_dims, np.moveaxis,
        np.swapaxes, np.broadcast_to, np.flip, np.fliplr, np.flipud, np.roll, np.take,
        np.repeat, np.tile, np.diagonal, np.copy, np.sort, np.rot90, np.atleast_1d,
        np.atleast_2d, np.atleast_3d, np.amax, np.amin, np.max, np.min, np.zeros_like,
        np.take_along_axis, np.triu, np.tril, np.diag, np.resize)},
    **{f: _on_raw(f) for f in (
        np.shape, np.ndim, np.size, np.argmax, np.argmin, np.argsort, np.nonzero,
        np.count_nonzero, np.argwhere, np.flatnonzero)},
    **{f: _joined(f) for f in (np.concatenate, np.stack, np.vstack, np.hstack, np.dstack,
                               np.column_stack)},
    np.where: _where,
    np.clip: _clip,
    np.diff: _diff,
    np.array_equal: _array_equal,
    np.sum: lambda a, axis=None, keepdims=False, **kw: (
        a.sum(axis, keepdims) if not kw and isinstance(a, FixedArray) else _refuse("sum")),
    np.cumsum: lambda a, axis=None, **kw: (
        a.cumsum(axis) if not kw and isinstance(a, FixedArray) else _refuse("cumsum")),
    np.dot: lambda a, b, out=None: _matmul(*_fixed_pair(a, b, "dot"))
    if out is None else _refuse("dot with out="),
    np.save: _save,
    np.savez: _save,
    np.savez_compressed: _save,
}


def _array_function(func, types, args, kwargs):
    handler = _FUNCTIONS.get(func)
    if handler is None:
        _refuse(func.__name__)
    if "out" in kwargs and kwargs["out"] is not None:
        raise TypeError(f"numpy.{func.__name__} on a FixedArray takes no out=; results are new "
                        "FixedArrays")
    kwargs = {k: v for k, v in kwargs.items() if k != "out"}
    return handler(*args, **kwargs)
