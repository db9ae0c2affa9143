"""Message compressors for compressed distributed gradient tracking.

Every compressor maps an (N, d) float64 array -- one message vector per agent, in rows -- to the
(N, d) float64 array the receivers reconstruct, and states the size of one message in bits
(``bits(d)``).  The three classes of Xu, Yi, Wen, Shi, Johansson, Yang ("Compressed gradient
tracking algorithms for distributed nonconvex optimization", Automatica 177, 2025):

``kind == "relative"`` -- bounded relative error: E‖C(x)/r − x‖² ≤ (1 − δ)‖x‖² for constants
    r > 0 (``scale_r``) and δ ∈ (0, 1] (``delta``); the tracking algorithm divides by r.
    ``TopK`` (r = 1, δ = k/d, deterministic), ``RandK`` (unscaled: r = 1, δ = k/d in
    expectation; scaled by d/k, unbiased: r = d/k, δ = k/d), ``ScaledSign`` (‖x‖₁/d · sign(x):
    r = 1, δ = 1/d, as ‖C(x) − x‖² = ‖x‖² − ‖x‖₁²/d ≤ (1 − 1/d)‖x‖²).
``kind == "global_abs"`` -- globally bounded absolute error: ‖C(x) − x‖_∞ ≤ ``abs_bound`` for
    every x.  ``FixedPointQuantizer``: a cast to the word ``Q(wl, fl)`` that must never saturate
    (the cast runs with ``overflow="error"``; an out-of-range message raises ``OverflowError``,
    so the bound can never silently fail).
``kind == "local_abs"`` -- locally bounded absolute error: the absolute error is bounded only
    relative to a local scale.  ``SaturatingQuantizer``: a b-bit word ``Q(b, b−1)`` (range
    [−1, 1)) applied to x / 2^e, with 2^e the power of two at or above ‖x‖_∞ of the row (sent as
    an 8-bit exponent), cast with saturation: |C(x)_i − x_i| ≤ 2^e · 2^−(b−1) (the saturated top
    entry, x_i = 2^e, loses one LSB; every other entry half an LSB with round-to-nearest and
    less than one with SR).  With ``fl`` given, the word is the fixed ``Q(b, fl)`` instead: the
    error is ≤ one LSB only inside its range and entries outside saturate (counted in
    ``saturated``) -- the textbook "locally bounded" quantizer.

The fixed-point quantizers are fxsim casts: any rounding mode, and for the stochastic ones
``r`` random bits per draw from a ``source`` (``"lfsr16"``: ``LFSR(n=16)``; ``"pcg64"``:
``Ideal("pcg64")``; or any fxsim source object), seeded from ``seed``.

Message sizes (``bits(d)``, per vector): top-k k·(v + ⌈log2 d⌉) (values and indices), rand-k
k·v (the indices come from a seed shared with the receivers), scaled sign d + 32 (the signs and
a float32 scale), fixed point d·wl, saturating d·b + 8 (+ 0 when ``fl`` is fixed).  ``v``
(``value_bits``) is 32 (values sent as float32: the compressor rounds them to float32) or 64
(float64, exact).  Randomized compressors are deterministic given ``seed``; ``reset()`` rewinds
them to it.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import validate as V
from ..modes import ROUNDING, STOCHASTIC, CastMode
from ..ops import cast
from ..qformat import QFormat
from ..source_spec import seeded_source

__all__ = ["Identity", "TopK", "RandK", "ScaledSign", "FixedPointQuantizer",
           "SaturatingQuantizer", "make_source", "COMPRESSOR_KINDS"]

COMPRESSOR_KINDS = ("none", "relative", "global_abs", "local_abs")
EXP_BITS = 8          # exponent of the power-of-two scale of SaturatingQuantizer
SCALE_BITS = 32       # float32 scale of ScaledSign


def _source(spec, seed: int):
    # "lfsr16": LFSR(16) at state 1 + seed mod (2^16 − 1); the canonical rule maps s to 1 + (s − 1) mod ...
    return seeded_source(spec, seed, plus_one=("lfsr16",))


def make_source(source, seed: int):
    """Deprecated (use ``fxsim.make_source``): a random-bit source for stochastic rounding:
    ``"lfsr16"`` (``LFSR(n=16)``, state 1 + seed mod (2^16 − 1)), ``"pcg64"``
    (``Ideal("pcg64", seed)``), any other ``fxsim.make_source`` spec, or an fxsim source object
    (used as is).

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     make_source("lfsr16", 0).draws(3, 4).tolist(), type(make_source("pcg64", 1)).__name__
    ([8, 8, 8], 'Ideal')
    """
    warnings.warn("fxsim.optim.compressors.make_source is deprecated; use fxsim.make_source",
                  DeprecationWarning, stacklevel=2)
    return _source(source, seed)


def _rows(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x: must be 2-D (agents, d), got shape {x.shape}")
    return x


def _check_k(k, d=None):
    V.integer("k", k, 1, d)


def _check_value_bits(v):
    if v not in (32, 64):
        raise ValueError(f"value_bits: must be 32 (float32) or 64 (float64), got {v!r}")


def _as_values(x, value_bits):
    return x.astype(np.float32).astype(np.float64) if value_bits == 32 else x


class Identity:
    """No compression: float64 values, 64·d bits (the uncompressed baseline).

    >>> Identity().bits(10)
    640
    >>> Identity()(np.ones((2, 3))).sum()
    np.float64(6.0)
    """
    kind = "none"
    name = "uncompressed"

    def __call__(self, x):
        return _rows(x).copy()

    def bits(self, d: int) -> int:
        return 64 * d

    def reset(self):
        pass

    def delta(self, d):
        return 1.0

    def scale_r(self, d):
        return 1.0


class TopK:
    """Keep the k entries of largest magnitude of each row (ties: the lower index), zero the
    rest.  Bounded relative error with r = 1, δ = k/d: ‖C(x) − x‖² ≤ (1 − k/d)‖x‖².

    >>> c = TopK(2)
    >>> c(np.array([[0.5, -3.0, 1.0, 2.0]])).tolist()
    [[0.0, -3.0, 0.0, 2.0]]
    >>> c.bits(4)   # 2 * (32 value bits + 2 index bits)
    68
    """
    kind = "relative"

    def __init__(self, k: int, value_bits: int = 32):
        _check_k(k)
        _check_value_bits(value_bits)
        self.k, self.value_bits = int(k), value_bits
        self.name = f"top-{k}"

    def delta(self, d):
        return self.k / d

    def scale_r(self, d):
        return 1.0

    def __call__(self, x):
        x = _rows(x)
        _check_k(self.k, x.shape[1])
        idx = np.argsort(-np.abs(x), axis=1, kind="stable")[:, :self.k]
        out = np.zeros_like(x)
        np.put_along_axis(out, idx, _as_values(np.take_along_axis(x, idx, axis=1), self.value_bits), axis=1)
        return out

    def bits(self, d: int) -> int:
        _check_k(self.k, d)
        return self.k * (self.value_bits + max(1, math.ceil(math.log2(d))))

    def reset(self):
        pass


class RandK:
    """Keep k entries of each row chosen uniformly at random (a fresh k-subset per row and
    call, from a numpy PCG64 generator seeded with ``seed`` that the receivers share, so no
    indices are sent); ``scaled=True`` multiplies them by d/k (unbiased, r = d/k), else
    r = 1.  δ = k/d in expectation.

    >>> c = RandK(2, seed=1)
    >>> y = c(np.arange(1.0, 7.0).reshape(1, 6))
    >>> int((y != 0).sum()), c.bits(6)
    (2, 64)
    """
    kind = "relative"

    def __init__(self, k: int, scaled: bool = False, seed: int = 0, value_bits: int = 32):
        _check_k(k)
        _check_value_bits(value_bits)
        self.k, self.scaled, self.seed, self.value_bits = int(k), bool(scaled), int(seed), value_bits
        self.name = f"rand-{k}" + (" (scaled d/k)" if scaled else "")
        self.reset()

    def scale_r(self, d):
        """r of the class definition: d/k when scaled, else 1."""
        return d / self.k if self.scaled else 1.0

    def delta(self, d):
        return self.k / d

    def reset(self):
        self._rng = np.random.Generator(np.random.PCG64(self.seed))

    def __call__(self, x):
        x = _rows(x)
        n, d = x.shape
        _check_k(self.k, d)
        idx = np.argsort(self._rng.random((n, d)), axis=1)[:, :self.k]
        out = np.zeros_like(x)
        v = _as_values(np.take_along_axis(x, idx, axis=1), self.value_bits)
        np.put_along_axis(out, idx, v * (d / self.k) if self.scaled else v, axis=1)
        return out

    def bits(self, d: int) -> int:
        _check_k(self.k, d)
        return self.k * self.value_bits


class ScaledSign:
    """‖x‖₁/d · sign(x) per row, one bit per sign (0 goes as +) and the scale as float32:
    r = 1, δ = 1/d (at worst), as ‖C(x) − x‖² = ‖x‖² − ‖x‖₁²/d.

    >>> c = ScaledSign()
    >>> c(np.array([[1.0, -3.0]])).tolist(), c.bits(2)
    ([[2.0, -2.0]], 34)
    """
    kind = "relative"
    name = "scaled sign"

    def delta(self, d):
        return 1.0 / d

    def scale_r(self, d):
        return 1.0

    def __call__(self, x):
        x = _rows(x)
        s = (np.abs(x).sum(axis=1) / x.shape[1]).astype(np.float32).astype(np.float64)
        return s[:, None] * np.where(x >= 0, 1.0, -1.0)     # one bit per entry: 0 is sent as +

    def bits(self, d: int) -> int:
        return d + SCALE_BITS

    def reset(self):
        pass


class _CastQuantizer:
    def _init_cast(self, rounding, source, seed, r, cast_mode, overflow):
        if cast_mode is not None:
            mode = CastMode.of(cast_mode, r=r)
        else:
            V.one_of("rounding", rounding, ROUNDING)
            if rounding in STOCHASTIC:
                V.integer("r", r, 1, 64)
            mode = CastMode.of(rounding, overflow=overflow, r=r)
        self.cast_mode = mode
        self.rounding, self.seed = mode.rounding, int(seed)
        self.stochastic = mode.stochastic
        self.r = int(r) if mode.r is None else mode.r
        self._source_spec = source
        if self.stochastic:
            _source(source, seed)     # validates
        self.reset()

    def reset(self):
        self.source = _source(self._source_spec, self.seed) if self.stochastic else None
        self.saturated = 0

    def scale_r(self, d):
        return 1.0

    def _kw(self):
        kw = self.cast_mode.cast_kwargs()
        del kw["rounding"], kw["overflow"]
        if self.stochastic:
            kw["source"] = self.source
        return kw

    @property
    def source_name(self):
        if not self.stochastic:
            return "—"
        return self._source_spec if isinstance(self._source_spec, str) else type(self._source_spec).__name__


_OLD_FIXED_ORDER = ("fl", "wl", "rounding", "source", "seed", "r")


class FixedPointQuantizer(_CastQuantizer):
    """Globally bounded absolute error: cast to ``Q(wl, fl)`` with ``overflow="error"`` (it
    must never saturate; an out-of-range value raises ``OverflowError``).  Error bound
    ``abs_bound`` per entry: 2^−fl / 2 for the round-to-nearest modes, 2^−fl otherwise (SR:
    strictly less).

    ``FixedPointQuantizer(*, wl=16, fl, rounding="nearest_even", source="lfsr16", seed=0,
    r=16, cast_mode=None)``: keywords only, in hardware order (word length, then fraction
    bits).  The old positional order ``(fl, wl, rounding, source, seed, r)`` still works with a
    ``DeprecationWarning``.  ``cast_mode`` (a ``CastMode``, or what ``CastMode.of`` reads)
    replaces ``rounding``/``r`` and adds ``eps``/``sr_rule``; the overflow is always
    ``"error"`` (the class's guarantee).

    >>> q = FixedPointQuantizer(wl=16, fl=4)
    >>> q(np.array([[0.3, -1.03]])).tolist(), q.bits(2), q.abs_bound
    ([[0.3125, -1.0]], 32, 0.03125)
    """
    kind = "global_abs"

    def __init__(self, *args, wl: int = 16, fl: int | None = None, rounding: str = "nearest_even",
                 source="lfsr16", seed: int = 0, r: int = 16, cast_mode=None):
        if args:
            if len(args) > len(_OLD_FIXED_ORDER):
                raise TypeError(f"FixedPointQuantizer takes at most {len(_OLD_FIXED_ORDER)} "
                                f"positional arguments, got {len(args)}")
            warnings.warn("FixedPointQuantizer(fl, wl, ...) positional arguments are deprecated; "
                          "pass keywords in hardware order: FixedPointQuantizer(wl=..., fl=...)",
                          DeprecationWarning, stacklevel=2)
            given = dict(wl=wl, fl=fl, rounding=rounding, source=source, seed=seed, r=r)
            defaults = dict(wl=16, fl=None, rounding="nearest_even", source="lfsr16", seed=0, r=16)
            for name, v in zip(_OLD_FIXED_ORDER, args):
                if given[name] is not defaults[name] and given[name] != defaults[name]:
                    raise TypeError(f"FixedPointQuantizer got multiple values for {name!r}")
                given[name] = v
            wl, fl, rounding, source, seed, r = (given[k] for k in
                                                 ("wl", "fl", "rounding", "source", "seed", "r"))
        if fl is None:
            raise ValueError("fl: the fraction bits are required (an integer in -256..256)")
        if not isinstance(wl, (int, np.integer)) or not 2 <= wl <= 64:
            raise ValueError(f"wl: must be an integer in [2, 64], got {wl!r}")
        if not isinstance(fl, (int, np.integer)) or not -256 <= fl <= 256:
            raise ValueError(f"fl: must be an integer in [-256, 256], got {fl!r}")
        self.fmt = QFormat(int(wl), int(fl))
        self._init_cast(rounding, source, seed, r, cast_mode, "error")
        self.name = f"fixed {self.fmt} {rounding}" + (f" {self.source_name}" if self.stochastic else "")

    @property
    def abs_bound(self):
        return self.fmt.lsb / 2 if self.rounding.startswith("nearest") else self.fmt.lsb

    def delta(self, d):
        return None

    def __call__(self, x):
        x = _rows(x)
        return cast(x, self.fmt, self.rounding, "error", **self._kw()).to_float()

    def bits(self, d: int) -> int:
        return d * self.fmt.wl


class SaturatingQuantizer(_CastQuantizer):
    """Locally bounded absolute error: a saturating b-bit word.  ``fl=None`` (default): each row
    is scaled by 2^−e, 2^e the power of two ≥ ‖x‖_∞ (8-bit exponent sent), and cast to
    ``Q(b, b−1)`` with saturation, so |C(x)_i − x_i| ≤ 2^(e−b+1) = ``abs_bound(x)``.  ``fl``
    given: the fixed word ``Q(b, fl)``; entries outside its range saturate (counted in
    ``saturated``), inside them the error is ≤ one LSB.

    >>> q = SaturatingQuantizer(4)
    >>> q(np.array([[0.3, -1.0, 0.7]])).tolist(), q.bits(3)
    ([[0.25, -1.0, 0.75]], 20)
    >>> SaturatingQuantizer(4, fl=2)(np.array([[5.0, 0.3]])).tolist()
    [[1.75, 0.25]]
    """
    kind = "local_abs"

    def __init__(self, b: int, rounding: str = "nearest_even", source="lfsr16", seed: int = 0,
                 r: int = 16, fl=None, overflow: str = "saturate", cast_mode=None):
        V.bits("b", b)
        if cast_mode is not None:
            overflow = CastMode.of(cast_mode, r=r).overflow
        V.one_of("overflow", overflow, ("saturate", "saturate_symmetric"))
        if fl is not None and (not isinstance(fl, (int, np.integer)) or not -256 <= fl <= 256):
            raise ValueError(f"fl: must be None or an integer in [-256, 256], got {fl!r}")
        self.b, self.fl, self.overflow = int(b), fl, overflow
        self.fmt = QFormat(self.b, self.b - 1 if fl is None else int(fl))
        self._init_cast(rounding, source, seed, r, cast_mode, overflow)
        self.name = (f"saturating {b}-bit" + (" pow2-scaled" if fl is None else f" {self.fmt}")
                     + f" {rounding}" + (f" {self.source_name}" if self.stochastic else ""))

    def delta(self, d):
        return None

    @staticmethod
    def exponents(x):
        """e per row: the smallest integer with ‖x_row‖_∞ ≤ 2^e (0 for a zero row).

        >>> SaturatingQuantizer.exponents(np.array([[0.3, -1.0], [0.0, 0.0], [3.0, 0.1]])).tolist()
        [0, 0, 2]
        """
        m = np.abs(_rows(x)).max(axis=1)
        mant, e = np.frexp(m)                   # m = mant · 2^e, mant in [0.5, 1)
        e = np.where(mant == 0.5, e - 1, e)     # an exact power of two: 2^(e-1)
        return np.where(m == 0, 0, e).astype(np.int64)

    def abs_bound(self, x):
        """Per-row bound on |C(x)_i − x_i| (the scaled mode): 2^(e − b + 1).

        >>> SaturatingQuantizer(4).abs_bound(np.array([[0.3, -1.0]])).tolist()
        [0.125]
        """
        return np.ldexp(1.0, self.exponents(x) - self.b + 1)

    def __call__(self, x):
        x = _rows(x)
        if self.fl is not None:
            y = cast(x, self.fmt, self.rounding, self.overflow, **self._kw()).to_float()
            self.saturated += int(np.count_nonzero((x > self.fmt.max) | (x < -self.fmt.max if
                                   self.overflow == "saturate_symmetric" else x < self.fmt.min)))
            return y
        e = self.exponents(x)[:, None]
        xs = np.ldexp(x, -e)                    # exact (power-of-two scaling)
        lo = -self.fmt.max if self.overflow == "saturate_symmetric" else self.fmt.min
        self.saturated += int(np.count_nonzero((xs > self.fmt.max) | (xs < lo)))
        y = cast(xs, self.fmt, self.rounding, self.overflow, **self._kw()).to_float()
        return np.ldexp(y, e)

    def bits(self, d: int) -> int:
        return d * self.b + (EXP_BITS if self.fl is None else 0)
