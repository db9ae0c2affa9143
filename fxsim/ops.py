"""The public datapath (spec §2-§4): ``cast``, ``add``, ``sub``, ``mul``, ``dot``, ``matvec``,
``matmul``.

Each function validates its arguments once, picks a kernel and records counters; rounding and
overflow happen only in casts, inside the Cython kernels (``fxsim._kernels``).
"""
from __future__ import annotations

import math
import os
from fractions import Fraction
from numbers import Integral, Real

import numpy as np

from . import _kernels as K
from . import counters as _counters
from .fixed import FixedArray
from .modes import OVERFLOW, ROUNDING, STOCHASTIC, overflow_code, rounding_code, sr_rule_code
from .qformat import QFormat, qformat

_EXACT_LIMIT = 2**127  # every exact intermediate must satisfy |v| < 2**127 (signed 128-bit kernels)
_threads = max(1, min(os.cpu_count() or 1, 8))


def set_num_threads(n: int) -> None:
    """Threads used by the kernels (results never depend on it).

    >>> n = get_num_threads()
    >>> set_num_threads(1); get_num_threads()
    1
    >>> set_num_threads(n)
    """
    global _threads
    if not isinstance(n, Integral) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    _threads = int(n)


def get_num_threads() -> int:
    """Threads the kernels use (default: the CPU count, at most 8).

    >>> get_num_threads() >= 1
    True
    """
    return _threads


def _nthreads(work: int) -> int:
    """Threads for a call doing ``work`` element operations: small calls stay on one thread,
    where waking a team costs more than it saves."""
    return _threads if work >= 1 << 16 else 1


# -- mode and randomness parameters ----------------------------------------------------------

class _Cast:
    """One cast of an operation: target format, modes and (for stochastic modes) draws."""

    def __init__(self, fmt: QFormat, rounding: str, overflow: str, r, eps, sr_rule):
        self.fmt = fmt
        self.rounding = rounding
        self.mode = rounding_code(rounding)
        self.ovf = overflow_code(overflow)
        self.overflow = overflow
        self.stochastic = rounding in STOCHASTIC
        self.rule = sr_rule_code(sr_rule)
        self.r = 0
        self.E = 0
        if self.stochastic:
            if r is None:
                raise ValueError(f"rounding={rounding!r} needs r, the random bits per draw (1..64)")
            if isinstance(r, bool) or not isinstance(r, Integral) or not 1 <= r <= 64:
                raise ValueError(f"r must be an integer in [1, 64], got {r!r}")
            if not isinstance(eps, Real) or not 0 <= eps < 1 or eps != eps:
                raise ValueError(f"eps must be a number in [0, 1), got {eps!r}")
            self.r = int(r)
            self.E = math.floor(Fraction(eps) * 2**self.r)

    def spec(self) -> tuple:
        return (self.mode, self.ovf, self.rule, self.r, self.fmt.wl, self.fmt.signed, self.E)


def _draws(casts, total: int, source, draws, op: str):
    """The ``total`` uint64 draws an operation consumes, in spec §4 order (all stochastic casts
    of one operation share r).  Deterministic casts draw nothing and leave a source untouched."""
    sto = [c for c in casts if c is not None and c.stochastic]
    if not sto:
        return _NO_DRAWS, False
    rs = {c.r for c in sto}
    if len(rs) != 1:
        raise ValueError(f"{op}: all stochastic casts of one operation must use the same r, got {sorted(rs)}")
    r = rs.pop()
    if draws is not None and source is not None:
        raise ValueError(f"{op}: pass either source= or draws=, not both")
    if draws is None:
        if source is None:
            raise ValueError(
                f"{op}: rounding={sto[0].rounding!r} needs a random bit source: pass source= "
                "(an LFSR or ideal source) or draws= (an array of r-bit integers, one per cast)"
            )
        arr = np.ascontiguousarray(source.draws(total, r), dtype=np.uint64)
    else:
        arr = np.asarray(draws)
        if arr.dtype.kind not in "iu":
            raise ValueError(f"draws must be an array of integers, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0):
            raise ValueError("draws must be non-negative integers below 2**r")
        arr = np.ascontiguousarray(arr.reshape(-1), dtype=np.uint64)
    if arr.size != total:
        raise ValueError(f"{op}: draws must hold exactly {total} values (one per stochastic cast), got {arr.size}")
    if r < 64 and arr.size and int(arr.max()) >= (1 << r):
        raise ValueError(f"draws must be below 2**r = {1 << r}; got {int(arr.max())}")
    return arr, True


_NO_DRAWS = np.zeros(1, dtype=np.uint64)
_NO_V = np.zeros(1, dtype=np.int8)


def _vsign(casts, v, shape, op: str):
    if not any(c is not None and c.rounding == "signed_stochastic_eps" for c in casts):
        return _NO_V, False
    if v is None:
        raise ValueError(f"{op}: rounding='signed_stochastic_eps' needs v, an array of shape {shape}")
    va = v.to_float() if isinstance(v, FixedArray) else np.asarray(v, dtype=np.float64)
    try:
        va = np.broadcast_to(va, shape)
    except ValueError:
        raise ValueError(f"{op}: v has shape {np.shape(va)}, expected {shape}") from None
    if np.isnan(va).any():
        raise ValueError(f"{op}: v contains NaN")
    return np.ascontiguousarray(np.sign(va).astype(np.int8).reshape(-1)), True


def _raise_errors(op, errs, errpos, cnt_ovf, shape, cast: _Cast, what="x"):
    bad = np.nonzero(errs)[0]
    if bad.size == 0:
        return
    pos = errpos[bad]
    first = int(np.argmin(pos))
    code, flat = int(errs[bad[first]]), int(pos[first])
    idx = tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()
    if code == 2:
        raise ValueError(f"{op}: {what} contains NaN (first at index {idx}); NaN has no fixed-point value")
    if code == 3:
        raise ValueError(
            f"{op}: {what} contains ±inf (first at index {idx}); inf cannot be cast with "
            f"overflow={cast.overflow!r} (use 'saturate')"
        )
    f = cast.fmt
    raise OverflowError(
        f"{op}: {int(cnt_ovf)} element(s) overflowed {f} (range [{f.min}, {f.max}]) with "
        f"overflow='error'; first at index {idx}"
    )


# -- cast ------------------------------------------------------------------------------------

def cast(x, fmt, rounding: str = "nearest_even", overflow: str = "saturate", *, r=None, eps=0.0,
         v=None, sr_rule: str = "trunc", source=None, draws=None) -> FixedArray:
    """Round the exact value of ``x`` into ``fmt`` (spec §2), then handle overflow (§3).

    ``x``: a Python number, an array-like of floats or integers (converted to float64, exactly
    for integers up to 2**53; larger int64/uint64 arrays are taken exactly as raw words), or a
    ``FixedArray`` (exact re-quantization).  Stochastic modes take ``r`` random bits per draw from
    ``source`` or from the explicit ``draws`` (one r-bit integer per element, C order).

    >>> import numpy as np
    >>> from fxsim import LFSR
    >>> x = cast([0.1, -2.5, 300.0], "Q8.8", "nearest_even", "saturate")
    >>> x.raw, x.to_float().tolist()
    (array([   26,  -640, 32767], dtype=int16), [0.1015625, -2.5, 127.99609375])
    >>> cast(0.40625, "Q4.4", "stochastic", r=4, draws=np.uint64(7)).raw   # 6.5 LSB: D + R = 15 < 16: down
    array(6, dtype=int8)
    >>> cast(np.full(4, 0.40625), "Q4.4", "stochastic", r=16, source=LFSR(16, seed=1)).raw
    array([7, 6, 7, 6], dtype=int8)
    """
    fmt = qformat(fmt)
    c = _Cast(fmt, rounding, overflow, r, eps, sr_rule)
    if not isinstance(x, FixedArray):
        arr = np.asarray(x)
        if arr.dtype.kind in "iu":
            if arr.size and max(abs(int(arr.min())), abs(int(arr.max()))) > 2**53:
                x = FixedArray(arr, QFormat(64, 0, arr.dtype.kind == "i"))
            else:
                arr = arr.astype(np.float64)
        elif arr.dtype.kind == "b":
            arr = arr.astype(np.float64)
        elif arr.dtype.kind == "f":
            arr = arr.astype(np.float64, copy=False)
        else:
            raise ValueError(f"cast: x must be real numbers or a FixedArray, got dtype {arr.dtype}")
    if isinstance(x, FixedArray):
        shape, src = x.shape, np.ascontiguousarray(x.raw).reshape(-1)
    else:
        shape, src = arr.shape, np.ascontiguousarray(arr).reshape(-1)
    n = src.size
    vs, uv = _vsign([c], v, shape, "cast")
    if (c.stochastic and source is not None and draws is None and not isinstance(x, FixedArray)
            and n >= 1 << 18 and _threads > 1):
        parts = 4 * _threads
        cuts = [n * k // parts for k in range(parts + 1)]
        subs = source._substreams(cuts, c.r) if hasattr(source, "_substreams") else None
        if subs is not None:
            return _cast_streams(src, shape, fmt, c, subs, cuts, vs, uv)
    d, ud = _draws([c], n, source, draws, "cast")
    out = np.empty(n, dtype=fmt.dtype)
    nch = max(K.n_chunks(n), 1)
    cnt = np.zeros((nch, 5), dtype=np.int64)
    errs = np.zeros(nch, dtype=np.int32)
    errpos = np.zeros(nch, dtype=np.int64)
    if n:
        if isinstance(x, FixedArray):
            s = x.fmt.fl - fmt.fl
            vmax = max(-x.fmt.min_raw, x.fmt.max_raw)
            K.cast_raw(src, out, False, s, _small(vmax, s), c.spec(), d, ud, vs, uv, cnt, errs, errpos, _nthreads(n))
        else:
            K.cast_f64(src, out, c.spec(), fmt.fl, d, ud, vs, uv, cnt, errs, errpos, _nthreads(n))
    totals = cnt.sum(axis=0)
    _raise_errors("cast", errs, errpos, totals[3], shape, c)
    _counters.record("cast", "out", fmt, totals)
    return FixedArray._wrap(out.reshape(shape), fmt)


def _cast_streams(src, shape, fmt, c: _Cast, subs, cuts, vs, uv) -> FixedArray:
    """Stochastic float cast from private sub-streams, one per part (see cast_f64_streams)."""
    T = len(subs)
    out = np.empty(src.size, dtype=fmt.dtype)
    cnt = np.zeros((T, 5), dtype=np.int64)
    errs = np.zeros(T, dtype=np.int32)
    errpos = np.zeros(T, dtype=np.int64)
    K.cast_f64_streams(src, out, c.spec(), fmt.fl, [s.capsule for s in subs],
                       np.asarray(cuts, dtype=np.int64), vs, uv, cnt, errs, errpos, _threads)
    totals = cnt.sum(axis=0)
    _raise_errors("cast", errs, errpos, totals[3], shape, c)
    _counters.record("cast", "out", fmt, totals)
    return FixedArray._wrap(out.reshape(shape), fmt)


# -- element-wise arithmetic -----------------------------------------------------------------

def _small(vmax: int, s: int) -> bool:
    """Whether the 64-bit kernel path is exact for values |v| <= vmax shifted by s."""
    return s <= 62 and (vmax << max(0, -s)) < 2**62


def _small_level(vmax: int, s: int, fmt: QFormat) -> int:
    """Kernel path for element-wise ops: 0 = 128-bit, 1 = 64-bit, 2 = 32-bit lanes (exact
    values, the shift and the output range all within 31 bits)."""
    if not _small(vmax, s):
        return 0
    return 2 if (vmax < 2**30 and 1 <= s <= 30 and fmt.wl <= 31) else 1


def _check_fixed(name, a):
    if not isinstance(a, FixedArray):
        raise ValueError(f"{name} must be a FixedArray (cast numbers into a format first), got {type(a).__name__}")


def _bits_for(lo: int, hi: int, signed: bool) -> int:
    """Smallest word length holding [lo, hi] with the given signedness."""
    if signed:
        return max(1, max(hi.bit_length(), (-lo - 1).bit_length() if lo < 0 else 0) + 1)
    return max(1, hi.bit_length())


def _range_format(lo: int, hi: int, fl: int, signed: bool, op: str) -> QFormat:
    wl = _bits_for(lo, hi, signed)
    if wl > 64:
        raise ValueError(
            f"{op}: the exact full-precision result needs wl={wl} > 64 bits; pass fmt= (an output format)"
        )
    return QFormat(wl, fl, signed)


def _common_container(ra: np.ndarray, rb: np.ndarray):
    """Raw arrays in one container type; uint64 words that meet signed ones travel as int64
    with a flag (the kernel re-reads them as unsigned)."""
    if ra.dtype == rb.dtype:
        return ra, rb, False, False
    ct = np.promote_types(ra.dtype, rb.dtype)
    if ct.kind in "iu":
        return ra.astype(ct), rb.astype(ct), False, False
    ua, ub = ra.dtype == np.uint64, rb.dtype == np.uint64
    return ra.astype(np.int64), rb.astype(np.int64), ua, ub  # astype keeps uint64 bits


def _binary(op: str, a, b, fmt, rounding, overflow, r, eps, v, sr_rule, source, draws):
    _check_fixed("a", a)
    _check_fixed("b", b)
    fa, fb = a.fmt, b.fmt
    if op == "mul":
        F = fa.fl + fb.fl
        da = db = 0
        ext = [x * y for x in (fa.min_raw, fa.max_raw) for y in (fb.min_raw, fb.max_raw)]
        signed = fa.signed or fb.signed
    else:
        F = max(fa.fl, fb.fl)
        da, db = F - fa.fl, F - fb.fl
        sa = (fa.min_raw << da, fa.max_raw << da)
        sb = (fb.min_raw << db, fb.max_raw << db)
        if op == "add":
            ext = [x + y for x in sa for y in sb]
            signed = fa.signed or fb.signed
        else:
            ext = [x - y for x in sa for y in sb]
            signed = True
        if max(abs(e) for e in (*sa, *sb)) >= _EXACT_LIMIT:
            raise ValueError(
                f"{op}: aligning {fa} and {fb} does not fit a signed 128-bit intermediate; "
                "cast one operand closer to the other's fraction length first"
            )
    lo, hi = min(ext), max(ext)
    if max(abs(lo), abs(hi)) >= _EXACT_LIMIT:
        raise ValueError(f"{op}: the exact result of {fa} and {fb} does not fit a signed 128-bit intermediate")
    if fmt is None and op == "mul":
        # MATLAB fi / APyTypes convention: wl = wl_a + wl_b (one bit more than the range needs
        # in a few mixed-sign or 1-bit cases)
        if fa.wl + fb.wl > 64:
            raise ValueError(f"mul: the full-precision product needs wl={fa.wl + fb.wl} > 64 bits; pass fmt=")
        fmt = QFormat(fa.wl + fb.wl, F, signed)
    fmt = _range_format(lo, hi, F, signed, op) if fmt is None else qformat(fmt)
    c = _Cast(fmt, rounding, overflow, r, eps, sr_rule)
    try:
        ra, rb = np.broadcast_arrays(a.raw, b.raw)
    except ValueError:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast") from None
    shape = ra.shape
    ra, rb, ua, ub = _common_container(ra, rb)
    ra = np.ascontiguousarray(ra).reshape(-1)
    rb = np.ascontiguousarray(rb).reshape(-1)
    n = ra.size
    d, ud = _draws([c], n, source, draws, op)
    vs, uv = _vsign([c], v, shape, op)
    out = np.empty(n, dtype=fmt.dtype)
    nch = max(K.n_chunks(n), 1)
    cnt = np.zeros((nch, 5), dtype=np.int64)
    errs = np.zeros(nch, dtype=np.int32)
    errpos = np.zeros(nch, dtype=np.int64)
    if n:
        K.binop({"add": 0, "sub": 1, "mul": 2}[op], ra, rb, out, ua, ub, da, db, F - fmt.fl,
                _small_level(max(abs(lo), abs(hi)), F - fmt.fl, fmt) if not (ua or ub) else 0, c.spec(), d, ud, vs, uv, cnt, errs, errpos, _nthreads(n))
    totals = cnt.sum(axis=0)
    _raise_errors(op, errs, errpos, totals[3], shape, c, what="the result")
    _counters.record(op, "out", fmt, totals)
    return FixedArray._wrap(out.reshape(shape), fmt)


def add(a, b, fmt=None, rounding="nearest_even", overflow="saturate", *, r=None, eps=0.0, v=None,
        sr_rule="trunc", source=None, draws=None) -> FixedArray:
    """a + b, exact at fraction length max(fl_a, fl_b), then cast to ``fmt`` (default: the exact
    full-precision format).

    >>> a, b = cast([1.5, -0.25], "Q4.4"), cast([0.125, 0.0625], "Q(8,8)")
    >>> c = add(a, b); c.fmt, c.to_float()
    (QFormat(wl=13, fl=8, signed=True), array([ 1.625 , -0.1875]))
    >>> add(a, b, fmt="Q4.2", rounding="floor").to_float()
    array([ 1.5 , -0.25])
    """
    return _binary("add", a, b, fmt, rounding, overflow, r, eps, v, sr_rule, source, draws)


def sub(a, b, fmt=None, rounding="nearest_even", overflow="saturate", *, r=None, eps=0.0, v=None,
        sr_rule="trunc", source=None, draws=None) -> FixedArray:
    """a - b, exact, then cast to ``fmt`` (default: the exact full-precision format, signed).

    >>> sub(cast(1.0, "Q4.4"), cast(0.0625, "Q4.4"), fmt="Q4.2", rounding="nearest_even").raw   # 0.9375 = 3.75 LSB
    array(4, dtype=int8)
    """
    return _binary("sub", a, b, fmt, rounding, overflow, r, eps, v, sr_rule, source, draws)


def mul(a, b, fmt=None, rounding="nearest_even", overflow="saturate", *, r=None, eps=0.0, v=None,
        sr_rule="trunc", source=None, draws=None) -> FixedArray:
    """a * b, exact (fraction length fl_a + fl_b), then cast to ``fmt`` (default: the exact
    full-precision format, wl = wl_a + wl_b).

    >>> p = mul(cast(1.5, "Q4.4"), cast(-0.75, "Q4.4")); p.fmt, float(p)
    (QFormat(wl=16, fl=8, signed=True), -1.125)
    >>> float(mul(cast(7.5, "Q4.4"), cast(7.5, "Q4.4"), fmt="Q4.4", overflow="saturate"))
    7.9375
    """
    return _binary("mul", a, b, fmt, rounding, overflow, r, eps, v, sr_rule, source, draws)


# -- dot products ----------------------------------------------------------------------------

def _mac(op, A: FixedArray, B: FixedArray, out_shape, acc, prod, fmt, rounding, overflow,
         prod_rounding, prod_overflow, acc_rounding, acc_overflow, out_rounding, out_overflow,
         r, eps, v, sr_rule, source, draws) -> FixedArray:
    """Shared driver: A is (M, K) raw, B is (K, N) raw; every output is a spec §4 dot."""
    for name, value in (("prod_rounding", prod_rounding), ("acc_rounding", acc_rounding),
                        ("out_rounding", out_rounding)):
        if value is not None and value not in ROUNDING:
            raise ValueError(f"{name} must be one of {', '.join(ROUNDING)}; got {value!r}")
    for name, value in (("prod_overflow", prod_overflow), ("acc_overflow", acc_overflow),
                        ("out_overflow", out_overflow)):
        if value is not None and value not in OVERFLOW:
            raise ValueError(f"{name} must be one of {', '.join(OVERFLOW)}; got {value!r}")
    fa, fb = A.fmt, B.fmt
    M, Kd = A.shape
    N = B.shape[1]
    prod = None if prod is None else qformat(prod)
    acc = None if acc is None else qformat(acc)
    pext = [x * y for x in (fa.min_raw, fa.max_raw) for y in (fb.min_raw, fb.max_raw)]
    if max(abs(e) for e in pext) >= _EXACT_LIMIT:
        raise ValueError(f"{op}: products of {fa} and {fb} do not fit a signed 128-bit intermediate")
    cp = ca = co = None
    if prod is not None:
        cp = _Cast(prod, prod_rounding or rounding, prod_overflow or overflow, r, eps, sr_rule)
        fl_p, p_lo, p_hi = prod.fl, prod.min_raw, prod.max_raw
    else:
        fl_p, p_lo, p_hi = fa.fl + fb.fl, min(pext), max(pext)
    if acc is not None:
        ca = _Cast(acc, acc_rounding or rounding, acc_overflow or overflow, r, eps, sr_rule)
        F = max(acc.fl, fl_p)
        sa, sp = F - acc.fl, F - fl_p
        bound = (max(abs(acc.min_raw), acc.max_raw) << sa) + (max(abs(p_lo), abs(p_hi)) << sp)
        fl_acc = acc.fl
        if bound >= _EXACT_LIMIT:
            raise ValueError(f"{op}: aligning accumulator {acc} with products at fl={fl_p} does not fit a signed 128-bit intermediate")
    else:
        sa = sp = 0
        fl_acc = fl_p
        bound = max(Kd, 1) * max(abs(p_lo), abs(p_hi))
        if bound >= _EXACT_LIMIT:
            raise ValueError(f"{op}: an exact sum of {Kd} products does not fit a signed 128-bit intermediate; give acc=")
    out_present = True
    if fmt is None:
        out_present = False
        fmt = acc if acc is not None else _range_format(
            min(0, Kd * p_lo), max(0, Kd * p_hi), fl_acc, p_lo < 0, op)
    else:
        fmt = qformat(fmt)
        out_present = fmt != acc
    if out_present:
        co = _Cast(fmt, out_rounding or rounding, out_overflow or overflow, r, eps, sr_rule)
    casts = [cp, ca, co]
    per_el = (Kd if cp is not None and cp.stochastic else 0) + (Kd if ca is not None and ca.stochastic else 0) \
        + (1 if co is not None and co.stochastic else 0)
    d, ud = _draws(casts, M * N * per_el, source, draws, op)
    vs, uv = _vsign(casts, v, out_shape, op)
    # the MAC kernels read int64 words; uint64 words travel as int64 bits with a flag
    ua, ub = A.raw.dtype == np.uint64, B.raw.dtype == np.uint64
    ra, rb = A.raw, B.raw     # converted below, once, to what the chosen kernel reads
    amax = max(abs(fa.min_raw), fa.max_raw)
    bmax = max(abs(fb.min_raw), fb.max_raw)

    res = None
    if per_el == 0 and cp is None and not ua and not ub:
        if ca is None and Kd * amax * bmax < 2**53:
            # exact in float64: BLAS computes the exact integer sums
            acc_raw = np.matmul(ra.astype(np.float64), rb.astype(np.float64)).astype(np.int64)
            res = acc_raw
        elif ca is not None and sa == 0 and ca.ovf != 3 and acc.wl <= 62:
            res = _lanes(ra, rb, sp, ca, acc, amax, bmax, op)
    if res is not None:
        if co is None:
            raw = res.astype(fmt.dtype)
        else:
            flat = np.ascontiguousarray(res.reshape(-1), dtype=np.int64)
            raw = np.empty(flat.size, dtype=fmt.dtype)
            nch = max(K.n_chunks(flat.size), 1)
            cnt = np.zeros((nch, 5), dtype=np.int64)
            errs = np.zeros(nch, dtype=np.int32)
            errpos = np.zeros(nch, dtype=np.int64)
            if flat.size:
                s_o = fl_acc - fmt.fl
                K.cast_raw(flat, raw, False, s_o, _small(int(np.abs(flat).max()), s_o), co.spec(), _NO_DRAWS, False, _NO_V, False,
                           cnt, errs, errpos, _nthreads(flat.size))
            tot = cnt.sum(axis=0)
            _raise_errors(op, errs, errpos, tot[3], out_shape, co, what="the result")
            _counters.record(op, "out", fmt, tot)
        return FixedArray._wrap(raw.reshape(out_shape), fmt)

    ra = np.ascontiguousarray(ra).astype(np.int64, copy=False)
    rb = np.ascontiguousarray(rb).astype(np.int64, copy=False)
    out = np.empty((M, N), dtype=np.int64)
    cnt = np.zeros((max(M, 1), 3, 5), dtype=np.int64)
    errs = np.zeros(max(M, 1), dtype=np.int32)
    errpos = np.zeros(max(M, 1), dtype=np.int64)
    dummy = (0, 0, 0, 1, 1, 1, 0)
    K.dot_generic(ra, rb, out, ua, ub,
                  (cp is not None, cp.spec() if cp else dummy, fa.fl + fb.fl - fl_p),
                  (ca is not None, ca.spec() if ca else dummy, sa, sp, sa),
                  (co is not None, co.spec() if co else dummy, fl_acc - fmt.fl),
                  d, ud, vs, uv, cnt, errs, errpos, _nthreads(M * N * max(Kd, 1)))
    tot = cnt.sum(axis=0)
    bad = np.nonzero(errs)[0]
    if bad.size:
        # which cast failed first is not kept per element; name the output format when it is
        # the one in 'error' mode, else the first cast in 'error' mode
        culprit = next(c for c in (co, ca, cp) if c is not None and c.ovf == 3) if any(
            c is not None and c.ovf == 3 for c in casts) else co or ca or cp
        _raise_errors(op, errs, errpos, tot[:, 3].sum(), out_shape, culprit, what="the result")
    for role, c, row in (("prod", cp, 0), ("acc", ca, 1), ("out", co, 2)):
        if c is not None:
            _counters.record(op, role, c.fmt, tot[row])
    return FixedArray._wrap(out.astype(fmt.dtype).reshape(out_shape) if fmt.dtype != np.int64
                            else out.reshape(out_shape), fmt)


def _lanes(ra, rb, sp, ca: _Cast, acc: QFormat, amax, bmax, op):
    """Vectorized MAC array for an accumulator cast that never rounds (products aligned by a
    left shift): int32 lanes where the bound allows, else int64.  Returns None if neither fits."""
    prod_max = (amax << sp) * bmax
    acc_max = max(abs(acc.min_raw), acc.max_raw)
    for lane, bits in ((np.int32, 31), (np.int64, 63)):
        if prod_max + acc_max < 2**bits and (amax << sp) < 2**bits:
            A = np.ascontiguousarray(ra, dtype=lane)
            if sp:
                A <<= sp
            B = np.ascontiguousarray(rb, dtype=lane)
            M, N = A.shape[0], B.shape[1]
            out = np.empty((M, N), dtype=lane)
            novf = np.zeros(max(M, 1), dtype=np.int64)
            lo = -acc.max_raw if (ca.ovf == 1 and acc.signed) else acc.min_raw
            K.matmul_acc_lanes(A, B, out, lane(lo), lane(acc.max_raw), ca.ovf == 2, acc.wl, acc.signed, novf,
                               _nthreads(M * N * A.shape[1]))
            n = M * N * A.shape[1]
            _counters.record(op, "acc", acc, (n, 0, 0, int(novf.sum()), 0))
            return out
    return None


def dot(a, b, acc=None, prod=None, fmt=None, rounding="nearest_even", overflow="saturate", *,
        prod_rounding=None, prod_overflow=None, acc_rounding=None, acc_overflow=None,
        out_rounding=None, out_overflow=None, r=None, eps=0.0, v=None, sr_rule="trunc",
        source=None, draws=None) -> FixedArray:
    """Dot product of two 1-D FixedArrays in the spec §4 order: p_k = cast(a_k b_k, prod),
    acc_{k+1} = cast(acc_k + p_k, acc), result cast(acc_K, fmt).  ``prod``/``acc`` None: exact;
    ``fmt`` None: the accumulator's format (no output cast) or, with an exact accumulator, the
    exact full-precision format.

    >>> a = cast([0.5, 0.25, -0.125], "Q(16,8)")
    >>> b = cast([1.0, 2.0, 4.0], "Q(8,4)")
    >>> float(dot(a, b))
    0.5
    >>> s = dot(a, b, acc="Q(8,7)", overflow="saturate"); s.fmt, float(s)   # 0.5+0.5 saturates, then -0.5
    (QFormat(wl=8, fl=7, signed=True), 0.4921875)
    """
    _check_fixed("a", a)
    _check_fixed("b", b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: a and b must be 1-D, got shapes {a.shape} and {b.shape}")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"dot: length mismatch, a has {a.shape[0]} elements and b has {b.shape[0]}")
    return _mac("dot", a.reshape(1, -1), b.reshape(-1, 1), (), acc, prod, fmt, rounding, overflow,
                prod_rounding, prod_overflow, acc_rounding, acc_overflow, out_rounding, out_overflow,
                r, eps, v, sr_rule, source, draws)


def matvec(A, x, acc=None, prod=None, fmt=None, rounding="nearest_even", overflow="saturate", *,
           prod_rounding=None, prod_overflow=None, acc_rounding=None, acc_overflow=None,
           out_rounding=None, out_overflow=None, r=None, eps=0.0, v=None, sr_rule="trunc",
           source=None, draws=None) -> FixedArray:
    """A (M, K) times x (K,): every output is a ``dot`` of a row of A with x.

    >>> import numpy as np
    >>> A = cast(np.array([[1.0, 2.0], [3.0, 4.0]]), "Q(8,4)")
    >>> x = cast([0.5, -1.0], "Q(8,4)")
    >>> matvec(A, x, acc="Q(16,8)").to_float()
    array([-1.5, -2.5])
    """
    _check_fixed("A", A)
    _check_fixed("x", x)
    if A.ndim != 2 or x.ndim != 1:
        raise ValueError(f"matvec: A must be 2-D and x 1-D, got shapes {A.shape} and {x.shape}")
    if A.shape[1] != x.shape[0]:
        raise ValueError(f"matvec: inner dimensions differ: A is {A.shape}, x is {x.shape}")
    return _mac("matvec", A, x.reshape(-1, 1), (A.shape[0],), acc, prod, fmt, rounding, overflow,
                prod_rounding, prod_overflow, acc_rounding, acc_overflow, out_rounding, out_overflow,
                r, eps, v, sr_rule, source, draws)


def matmul(A, B, acc=None, prod=None, fmt=None, rounding="nearest_even", overflow="saturate", *,
           prod_rounding=None, prod_overflow=None, acc_rounding=None, acc_overflow=None,
           out_rounding=None, out_overflow=None, r=None, eps=0.0, v=None, sr_rule="trunc",
           source=None, draws=None) -> FixedArray:
    """A (M, K) times B (K, N): every output element is a ``dot`` (spec §4).

    >>> import numpy as np
    >>> A = cast(np.eye(2) * 0.5, "Q(8,4)")
    >>> B = cast(np.array([[1.0, 2.0], [3.0, 4.0]]), "Q(8,4)")
    >>> matmul(A, B, acc="Q(16,8)", fmt="Q(8,4)").to_float()
    array([[0.5, 1. ],
           [1.5, 2. ]])
    """
    _check_fixed("A", A)
    _check_fixed("B", B)
    if A.ndim != 2 or B.ndim != 2:
        raise ValueError(f"matmul: A and B must be 2-D, got shapes {A.shape} and {B.shape}")
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"matmul: inner dimensions differ: A is {A.shape}, B is {B.shape}")
    return _mac("matmul", A, B, (A.shape[0], B.shape[1]), acc, prod, fmt, rounding, overflow,
                prod_rounding, prod_overflow, acc_rounding, acc_overflow, out_rounding, out_overflow,
                r, eps, v, sr_rule, source, draws)
