"""Casts into low-precision float formats (spec §9): ``fxsim.cast(x, FloatFormat, ...)`` lands
here.  Arguments are checked once, then the nogil kernels of ``fxsim._floats`` round every
element on its magnitude, drawing one r-bit number per element (C order) in the stochastic
modes, as the fixed-point casts do."""
from __future__ import annotations

import functools
import math
from collections import namedtuple
from numbers import Integral

import numpy as np

from . import _floats as K
from . import counters as _counters
from ._kernels import CastError
from .floatarray import FloatArray
from .floatformat import FloatFormat
from .modes import SR_RULES, check_eps, check_name, check_r, sr_rule_code

#: float rounding modes, in the kernels' code order (declared once: ``_floats.FloatRounding``)
FLOAT_ROUNDING = tuple(m.name[3:].lower() for m in sorted(K.FloatRounding.__members__.values()))
FLOAT_STOCHASTIC = FLOAT_ROUNDING[K.FloatRounding.FR_STOCHASTIC:]
#: float overflow modes (``_floats.FloatOverflow``)
FLOAT_OVERFLOW = tuple(m.name[3:].lower() for m in sorted(K.FloatOverflow.__members__.values()))
#: other spellings of a float rounding: the fixed-point name of the same rule
_ALIASES = {"jam": "round_to_odd"}
_BLOCK = 1 << 22       # elements per kernel call (Ctrl-C is seen between calls)
_FEED_BLOCK = 1 << 18  # draws filled at a time (2 MiB) when several threads round them


class FloatCast:
    """One checked float cast: target format, rounding and overflow codes, r, E.

    >>> c = FloatCast("e4m3", "stochastic", "saturate", 8, 0, "trunc")
    >>> c.fmt, c.stochastic, c.r
    (FloatFormat('e4m3'), True, 8)
    """

    def __init__(self, fmt, rounding, overflow, r, eps, sr_rule):
        self.fmt = FloatFormat.parse(fmt)
        rounding = _ALIASES.get(rounding, rounding) if isinstance(rounding, str) else rounding
        code = check_name("rounding", rounding, FLOAT_ROUNDING)
        ovf = check_name("overflow", overflow, FLOAT_OVERFLOW)
        check_name("sr_rule", sr_rule, SR_RULES)
        check_r(r)
        eps = check_eps(eps)
        self.rounding, self.overflow = rounding, overflow
        self.stochastic = rounding in FLOAT_STOCHASTIC
        self.r = 0
        E = 0
        if self.stochastic:
            if r is None:
                raise ValueError(f"rounding={rounding!r} needs r, the random bits per draw (1..64)")
            self.r = int(r)
            E = math.floor(eps * 2**self.r)
        f = self.fmt
        self.spec = K.FloatSpec(code, ovf, sr_rule_code(sr_rule), self.r, E, f.man_bits, f.nbits,
                                f.emin, f.emax, f.subnormals, f.max_code, f.inf_code, f.nan_code)


@functools.lru_cache(maxsize=256, typed=True)
def _cached_cast(fmt, rounding, overflow, r, eps, sr_rule) -> FloatCast:
    return FloatCast(fmt, rounding, overflow, r, eps, sr_rule)


def float_cast(fmt, rounding, overflow, r, eps, sr_rule) -> FloatCast:
    """``FloatCast(...)``, built once per distinct set of arguments (the checks and the
    kernel's spec, ~15 us, are most of a small call); a call that is refused is not cached, so
    it raises the same error every time.

    >>> float_cast("bf16", "nearest_even", "ieee", None, 0, "trunc") is \\
    ...     float_cast("bf16", "nearest_even", "ieee", None, 0, "trunc")
    True
    """
    try:
        return _cached_cast(fmt, rounding, overflow, r, eps, sr_rule)
    except TypeError:                  # an unhashable argument: checked (and refused) uncached
        return FloatCast(fmt, rounding, overflow, r, eps, sr_rule)


def _check_draws(draws, n: int, r: int) -> np.ndarray:
    arr = np.asarray(draws)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"draws must be an array of integers, got dtype {arr.dtype}")
    if arr.size != n:
        raise ValueError(f"cast: draws must hold exactly {n} values (one per element), got {arr.size}")
    if arr.size and int(arr.min()) < 0:
        raise ValueError("draws must be non-negative integers below 2**r")
    if r < 64 and arr.size and int(arr.max()) >= 1 << r:
        raise ValueError(f"cast: draws must be below 2**r = {1 << r}; got {int(arr.max())}")
    return np.ascontiguousarray(arr.reshape(-1), dtype=np.uint64)   # read only


class Words(namedtuple("Words", "mag neg E")):
    """Exact inputs (-1)**neg * mag * 2**E: integer words (a FixedArray's raw words with
    E = -fl, or integers beyond 2**53) as magnitudes (uint64) and signs (uint8).

    >>> w = Words.of(np.array([-3, 5], dtype=np.int16), -4)
    >>> w.mag.tolist(), w.neg.tolist(), w.E
    ([3, 5], [1, 0], -4)
    """

    @classmethod
    def of(cls, raw, E: int) -> "Words":
        raw = np.asarray(raw)
        if raw.dtype == np.uint64:
            return cls(raw, np.zeros(raw.shape, np.uint8), E)
        w = raw.astype(np.int64)
        return cls(np.abs(w).view(np.uint64), (w < 0).view(np.uint8), E)


def _input(x):
    """(kind, data, shape): ("f64", float64 array) or ("words", Words)."""
    if isinstance(x, FloatArray):
        return "f64", x.to_float(), x.shape          # exact: every code is a float64
    if isinstance(x, Words):
        return "words", x, x.mag.shape
    if isinstance(x, bool) or (isinstance(x, Integral) and not isinstance(x, np.integer)):
        x = int(x)
        if abs(x) >= 2**64:
            raise ValueError(f"x = {x} is beyond 64 bits; cast it as a float")
        return "words", Words(np.array([abs(x)], np.uint64), np.array([x < 0], np.uint8), 0), ()
    arr = np.asarray(x)
    if arr.dtype.kind in "iu" and arr.size and (
            int(arr.max()) > 2**53 or int(arr.min()) < -2**53):
        return "words", Words.of(arr, 0), arr.shape
    if arr.dtype.kind not in "biuf" or arr.dtype.itemsize > 8:
        raise ValueError(f"x must be real numbers (float64, float32, integers), a FixedArray or "
                         f"a FloatArray, got dtype {arr.dtype}")
    return "f64", arr, arr.shape


def v_signs(rounding: str, v, shape, op: str = "cast"):
    """(int8 signs of v, flattened; True) for ``signed_stochastic_eps``, else a placeholder and
    False: v (numbers, or anything with ``to_float()``) broadcast to the result's shape.

    >>> v_signs("signed_stochastic_eps", [2.0, -0.5, 0.0], (3,))[0].tolist()
    [1, -1, 0]
    """
    if rounding != "signed_stochastic_eps":
        return np.zeros(1, np.int8), False
    if v is None:
        raise ValueError(f"{op}: rounding='signed_stochastic_eps' needs v, an array of shape {shape}")
    va = np.asarray(v.to_float() if hasattr(v, "to_float") else v)
    if va.dtype.kind not in "biuf":
        raise ValueError(f"{op}: v must be real numbers (its sign is used), got dtype {va.dtype}")
    try:
        va = np.broadcast_to(va.astype(np.float64), shape)
    except ValueError:
        raise ValueError(f"{op}: v has shape {np.shape(va)}, expected {shape}") from None
    if np.isnan(va).any():
        raise ValueError(f"{op}: v contains NaN")
    return np.ascontiguousarray(np.sign(va).astype(np.int8).reshape(-1)), True


def first_error(errs, errpos, shape):
    """(error code, index in ``shape``) of the lowest-index error the kernel chunks reported, or
    None.

    >>> first_error(np.array([0, 2, 1]), np.array([0, 7, 5]), (2, 4))
    (1, (1, 1))
    """
    bad = np.nonzero(errs)[0]
    if bad.size == 0:
        return None
    k = bad[np.argmin(errpos[bad])]
    flat = int(errpos[k])
    return int(errs[k]), (tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ())


def raise_first_error(errs, errpos, shape, nan: str, inf: str, ovf: str, undo=None) -> None:
    """Raise for the first (lowest flat index) kernel error, if any: ValueError with ``nan`` or
    ``inf``, OverflowError with ``ovf``; each message's ``{idx}`` becomes the element's index.
    ``undo`` (e.g. restoring the source's state) runs first.

    >>> raise_first_error(np.array([0, 0]), np.array([0, 0]), (4,), "nan {idx}", "inf {idx}", "ovf {idx}")
    >>> raise_first_error(np.array([0, 2, 1]), np.array([0, 7, 5]), (2, 4), "nan {idx}",
    ...                   "inf {idx}", "overflow at {idx}")
    Traceback (most recent call last):
    ...
    OverflowError: overflow at (1, 1)
    """
    first = first_error(errs, errpos, shape)
    if first is None:
        return
    if undo is not None:
        undo()
    code, idx = first
    if code == CastError.ERR_NAN:
        raise ValueError(nan.replace("{idx}", str(idx)))
    if code == CastError.ERR_INF:
        raise ValueError(inf.replace("{idx}", str(idx)))
    raise OverflowError(ovf.replace("{idx}", str(idx)))


def _raise(c: FloatCast, errs, errpos, cnt, shape):
    raise_first_error(
        errs, errpos, shape,
        f"cast: x contains NaN (first at index {{idx}}); {c.fmt} has no NaN",
        f"cast: x contains ±inf (first at index {{idx}}); {c.fmt} has no "
        f"infinity and overflow='error' refuses it (use 'saturate' or 'ieee')",
        f"cast: {int(cnt[:, 3].sum())} element(s) overflowed {c.fmt} (largest "
        f"finite {c.fmt.max}) with overflow='error'; first at index {{idx}}")


def _run(c: FloatCast, kind, data, n, out, d, capsule, vs, uv, threads, count=True):
    """The kernel over blocks of _BLOCK elements; (counts per chunk, errs, errpos).  ``count``
    False: the inexact/rounded-up counts may be skipped (nobody records them)."""
    if kind == "words":
        mag = np.ascontiguousarray(data.mag.reshape(-1))
        neg = np.ascontiguousarray(data.neg.reshape(-1))
    cnts, errs_all, pos_all = [], [], []
    for lo in range(0, n, _BLOCK):
        hi = min(n, lo + _BLOCK)
        if kind == "words":
            cnt = np.zeros((1, 5), np.int64)
            errs, errpos = np.zeros(1, np.int32), np.zeros(1, np.int64)
            K.cast_words(mag[lo:hi], neg[lo:hi], data.E, out[lo:hi].view(np.int8), c.spec,
                         c.stochastic, d[lo:hi] if c.stochastic else d, vs[lo:hi] if uv else vs,
                         uv, cnt, errs, errpos)
            cnts.append(cnt)
            errs_all.append(errs)
            pos_all.append(errpos + lo)
            continue
        nch = K.n_chunks(hi - lo)
        cnt = np.zeros((nch, 5), np.int64)
        errs, errpos = np.zeros(nch, np.int32), np.zeros(nch, np.int64)
        K.cast_f64(data[lo:hi], out[lo:hi].view(np.int8), c.spec, c.stochastic,
                   d[lo:hi] if capsule is None and c.stochastic else d, capsule,
                   vs[lo:hi] if uv else vs, uv, cnt, errs, errpos,
                   threads if hi - lo >= 1 << 16 else 1, count)
        cnts.append(cnt)
        errs_all.append(errs)
        pos_all.append(errpos + lo)
    if not cnts:
        return np.zeros((1, 5), np.int64), np.zeros(1, np.int32), np.zeros(1, np.int64)
    return np.concatenate(cnts), np.concatenate(errs_all), np.concatenate(pos_all)


def _run_streams(c: FloatCast, data, out, subs, cuts, vs, uv, threads, count):
    """The stochastic cast from private sub-streams, part k drawing from subs[k] (jumped to
    draw cuts[k]); ``threads`` parts per kernel call, so that Ctrl-C is seen between calls."""
    T = len(subs)
    cnt = np.zeros((T, 5), np.int64)
    errs, errpos = np.zeros(T, np.int32), np.zeros(T, np.int64)
    cuts = np.asarray(cuts, dtype=np.int64)
    for k0 in range(0, T, threads):
        k1 = min(T, k0 + threads)
        lo, hi = int(cuts[k0]), int(cuts[k1])
        K.cast_f64_streams(data[lo:hi], out[lo:hi].view(np.int8), c.spec,
                           [s.capsule for s in subs[k0:k1]], cuts[k0:k1 + 1] - lo,
                           vs[lo:hi] if uv else vs, uv, cnt[k0:k1], errs[k0:k1], errpos[k0:k1],
                           threads, count)
        errpos[k0:k1] += lo
    return cnt, errs, errpos


def cast_float(x, fmt, rounding="nearest_even", overflow="ieee", *, r=None, eps=0, v=None,
               sr_rule="trunc", source=None, draws=None, threads=1) -> FloatArray:
    """Round the exact value of ``x`` into the float format ``fmt`` (spec §9); what
    ``fxsim.cast`` does for a ``FloatFormat`` target.  ``x``: numbers, an array-like, a
    ``FloatArray`` or ``Words`` (``fxsim.cast`` passes a FixedArray's words so).

    >>> cast_float([1.0, 1.0625, 1.125, 1e6, -3e-10], "bf16").to_hex().tolist()
    ['3f80', '3f88', '3f90', '4974', 'afa5']
    >>> cast_float([1.0625, 300.0], "e4m3", "round_to_odd", overflow="saturate").to_float()
    array([  1.125, 288.   ])
    """
    c = float_cast(fmt, rounding, overflow, r, eps, sr_rule)
    if source is not None and draws is not None:
        raise ValueError("pass either source= or draws=, not both")
    if source is not None and not callable(getattr(source, "draws", None)):
        raise ValueError(f"source must be a bit source object with a draws(n, r) method "
                         f"(fxsim.LFSR, fxsim.Ideal), got {type(source).__name__}")
    kind, data, shape = _input(x)
    if kind == "f64":
        with np.errstate(invalid="ignore"):         # a float32 signalling NaN stays NaN
            data = np.ascontiguousarray(data, dtype=np.float64).reshape(-1)   # read only
        n = data.size
    else:
        n = data[0].size
    vs, uv = v_signs(c.rounding, v, shape)
    out = np.empty(n, dtype=c.fmt.dtype)
    d, capsule, restore = np.zeros(1, np.uint64), None, None
    if c.stochastic:
        if source is None and draws is None:
            raise ValueError(f"cast: rounding={c.rounding!r} needs a random bit source: pass "
                             "source= (an LFSR or ideal source) or draws= (one r-bit integer "
                             "per element)")
        if kind == "f64" and not c.fmt.has_nan and np.isnan(data).any():
            raise ValueError(f"cast: x contains NaN (first at index "
                             f"{int(np.argmax(np.isnan(data)))} of the flattened array); "
                             f"{c.fmt} has no NaN")
        if draws is not None:
            d = _check_draws(draws, n, c.r)
        elif hasattr(source, "capsule") and kind == "f64" and c.overflow != "error":
            source.draws(0, c.r)                   # checks r for this source, draws nothing
            capsule = source.capsule
        else:
            if c.overflow == "error" and hasattr(source, "capsule"):
                restore = source.state             # a refused call puts the source back
            d = _check_draws(source.draws(n, c.r), n, c.r)
    count = _counters.active()
    subs = None
    if capsule is not None and threads > 1 and n >= 1 << 18 and hasattr(source, "_substreams"):
        parts = max(4 * threads, -(-n // (_BLOCK >> 2)))      # calls of ~2^20 per thread
        cuts = [n * k // parts for k in range(parts + 1)]
        subs = source._substreams(cuts, c.r)
    if subs is not None:
        cnt, errs, errpos = _run_streams(c, data, out, subs, cuts, vs, uv, threads, count)
    elif capsule is not None and threads > 1 and n >= 1 << 18:
        # several threads: the draws of each super-block are filled first (one thread, the
        # source's lock held for the whole call: one contiguous piece of its stream), then
        # the threads round them
        buf = np.empty(min(n, _FEED_BLOCK), np.uint64)
        parts = []
        with source.lock:
            for lo in range(0, n, _FEED_BLOCK):
                hi = min(n, lo + _FEED_BLOCK)
                K.fill_draws(capsule, buf[:hi - lo], c.r)
                cnt, errs, errpos = _run(c, kind, data[lo:hi], hi - lo, out[lo:hi], buf[:hi - lo],
                                         None, vs[lo:hi] if uv else vs, uv, threads, count)
                parts.append((cnt, errs, errpos + lo))
        cnt, errs, errpos = (np.concatenate([p[k] for p in parts]) for k in range(3))
    elif capsule is not None:
        with source.lock:
            cnt, errs, errpos = _run(c, kind, data, n, out, d, capsule, vs, uv, 1, count)
    else:
        cnt, errs, errpos = _run(c, kind, data, n, out, d, None, vs, uv, threads, count)
    if errs.any():
        if restore is not None:
            source.state = restore
        _raise(c, errs, errpos, cnt, shape)
    if _counters.active():
        _counters.record("cast", "out", c.fmt, tuple(int(t) for t in cnt.sum(axis=0)))
    return FloatArray._wrap(out.reshape(shape), c.fmt)

