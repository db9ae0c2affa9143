"""Float arithmetic on the datapath (spec §9.8): ``add``, ``sub``, ``mul``, ``fma`` on
FloatArrays, and ``dot``/``matvec``/``matmul`` whose product, accumulator and output formats may
each be a FloatFormat or a fixed-point format.  Every operation rounds the exact result once
(the kernels of ``fxsim._floats`` form it in a 128-bit window with a sticky bit, never through
float64); draws, counters and errors follow the fixed-point operations (spec §4).

``fxsim.add``/``sub``/``mul``/``dot``/``matvec``/``matmul`` land here when an operand is a
FloatArray or the result format a FloatFormat; ``fxsim.fma`` is float only."""
from __future__ import annotations

import contextlib
import math
from numbers import Number

import numpy as np

from . import _floats as K
from . import counters as _counters
from ._kernels import CastSpec
from .floatarray import FloatArray
from .floatcast import FloatCast, raise_first_error, v_signs
from .floatformat import FloatFormat
from .modes import ROUNDING, STOCHASTIC, check_eps, check_name, check_r, overflow_code, \
    rounding_code, sr_rule_code
from .qformat import qformat

_OPS = {"add": 0, "sub": 1, "mul": 2, "fma": 3}
_BLOCK = 1 << 22           # elements per kernel call (Ctrl-C is seen between calls)
_BLOCK_MACS = 1 << 22      # multiply-accumulates per kernel call
_NO_DRAWS = np.zeros(1, np.uint64)
_FEED_BLOCK = 1 << 18      # draws filled at a time from a source's capsule (2 MiB)
_NO_V = np.zeros(1, np.int8)
_FIXED_R_MAX = 62          # a fixed role's SR reads r + 1 bits below its LSB from the window


def is_float_call(*args) -> bool:
    """Whether an operation's operands or result format make it a float operation.

    >>> is_float_call(1.0, FloatFormat("bf16")), is_float_call(1.0, "Q8.8")
    (True, False)
    """
    return any(isinstance(a, (FloatArray, FloatFormat)) for a in args)


def _operand(x, name: str, op: str):
    """(float64 array, FloatFormat or None): a FloatArray's exact values, or numbers that are
    exactly float64s."""
    if isinstance(x, FloatArray):
        return x.to_float(), x.fmt
    if isinstance(x, (bool, np.bool_)) or not (isinstance(x, Number) or hasattr(x, "__len__")
                                               or isinstance(x, np.ndarray)):
        raise ValueError(f"{op}: {name} must be a FloatArray or real numbers exact in float64, "
                         f"got {type(x).__name__}")
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf" or arr.dtype.itemsize > 8:
        raise ValueError(f"{op}: {name} must be a FloatArray or real numbers exact in float64, "
                         f"got dtype {arr.dtype}")
    with np.errstate(invalid="ignore"):
        f = arr.astype(np.float64)
        if arr.dtype.kind in "iu" and arr.size and not np.array_equal(
                f.astype(object), arr.astype(object)):
            raise ValueError(f"{op}: {name} holds integers that are not exact in float64")
    return f, None


def _result_format(op: str, fmt, fmts) -> FloatFormat:
    if fmt is not None:
        return FloatFormat.parse(fmt)
    given = {f for f in fmts if f is not None}
    if len(given) != 1:
        raise ValueError(f"{op}: give fmt= (a FloatFormat): the operands' formats "
                         f"{sorted(map(str, given))} do not name one result format")
    return given.pop()


def _check_source(source, draws, op: str) -> None:
    if source is not None and draws is not None:
        raise ValueError(f"{op}: pass either source= or draws=, not both")
    if source is not None and not callable(getattr(source, "draws", None)):
        raise ValueError(f"{op}: source must be a bit source object with a draws(n, r) method "
                         f"(fxsim.LFSR, fxsim.Ideal, fxsim.make_source(spec)), got "
                         f"{type(source).__name__}")


def _take_draws(n: int, r: int, source, draws, undoable: bool, op: str):
    """(uint64 draws, undo callable or None): n r-bit draws from ``draws=`` or ``source``.
    Called after every other check, so that a refused call takes no draw."""
    if source is None and draws is None:
        raise ValueError(f"{op}: a stochastic rounding needs a random bit source: pass source= "
                         "(an LFSR or ideal source) or draws= (one r-bit integer per cast)")
    undo = None
    if draws is None:
        if undoable and hasattr(source, "_draws_undoable"):
            got, undo = source._draws_undoable(n, r)
        else:
            got = source.draws(n, r)
        arr, who = np.asarray(got), f"source.draws({n}, {r})"
    else:
        arr, who = np.asarray(draws), "draws"
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{op}: {who} must be integers, got dtype {arr.dtype}")
    if arr.size != n:
        raise ValueError(f"{op}: {who} must hold exactly {n} values (one per stochastic cast), "
                         f"got {arr.size}")
    if arr.size and int(arr.min()) < 0:
        raise ValueError(f"{op}: draws must be non-negative integers below 2**r")
    if r < 64 and arr.size and int(arr.max()) >= 1 << r:
        raise ValueError(f"{op}: {who} must be below 2**r = {1 << r}; got {int(arr.max())}")
    return np.array(arr.reshape(-1), dtype=np.uint64), undo


def _raise_first(op: str, fmt, errs, errpos, ovf_count: int, shape, undo) -> None:
    raise_first_error(
        errs, errpos, shape,
        f"{op}: the result at index {{idx}} is NaN; {fmt} has no NaN",
        f"{op}: the result at index {{idx}} is infinite; {fmt} has no infinity "
        f"and overflow='error' refuses it",
        f"{op}: {ovf_count} element(s) overflowed {fmt} with overflow='error'; "
        f"first at index {{idx}}", undo)


def _invalid(op: str, a, b, c):
    """Where the exact operation has no real result (NaN operand, inf - inf, 0 * inf)."""
    with np.errstate(all="ignore"):
        if op == "add":
            return np.isnan(a + b)
        if op == "sub":
            return np.isnan(a - b)
        prod_nan = np.isnan(a * b)
        if op == "mul":
            return prod_nan
        prod_inf = (np.isinf(a) | np.isinf(b)) & ~prod_nan
        sign = np.signbit(a) ^ np.signbit(b)
        return prod_nan | np.isnan(c) | (prod_inf & np.isinf(c) & (sign != np.signbit(c)))


def arith(op: str, a, b, c, fmt, rounding="nearest_even", overflow="ieee", *, r=None, eps=0,
          v=None, sr_rule="trunc", source=None, draws=None, threads=1) -> FloatArray:
    """a op b (op 'add', 'sub', 'mul') or a * b + c ('fma'), exact, rounded once into the float
    format ``fmt`` (default: the operands' one format) by spec §9.2-§9.4; one draw per element
    in C order in the stochastic modes.

    >>> e5m2 = FloatFormat("e5m2")
    >>> arith("add", FloatArray([0x3c, 0x3d], e5m2), 2**-4, None, None).to_float().tolist()
    [1.0, 1.25]
    """
    names = ("a", "b", "c")[:3 if op == "fma" else 2]
    vals, fmts = [], []
    for name, x in zip(names, (a, b, c)):
        f, ff = _operand(x, name, op)
        vals.append(f)
        fmts.append(ff)
    fmt = _result_format(op, fmt, fmts)
    cast = FloatCast(fmt, rounding, "ieee" if overflow is None else overflow, r, eps, sr_rule)
    _check_source(source, draws, op)
    try:
        vals = np.broadcast_arrays(*vals)
    except ValueError:
        raise ValueError(f"{op}: operand shapes {[np.shape(x) for x in vals]} do not "
                         f"broadcast") from None
    shape = vals[0].shape
    flat = [np.ascontiguousarray(x, dtype=np.float64).reshape(-1) for x in vals]
    n = flat[0].size
    vs, uv = v_signs(cast.rounding, v, shape, op)
    if not fmt.has_nan:
        bad = _invalid(op, flat[0], flat[1], flat[2] if op == "fma" else None)
        if bad.any():
            idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), shape)) if shape else ()
            raise ValueError(f"{op}: the result at index {idx} is NaN (a NaN operand, inf - inf or "
                             f"0 * inf); {fmt} has no NaN")
    d, undo, capsule = _NO_DRAWS, None, None
    if cast.stochastic and draws is None and hasattr(source, "capsule") and cast.overflow != "error":
        source.draws(0, cast.r)            # checks r for this source, draws nothing
        capsule = source.capsule           # draws filled block by block below (O(block) memory)
    elif cast.stochastic:
        d, undo = _take_draws(n, cast.r, source, draws, cast.overflow == "error", op)
    out = np.empty(n, dtype=fmt.dtype)
    third = flat[2] if op == "fma" else flat[0]
    cnts, errs_all, pos_all = [], [], []
    step = _BLOCK if capsule is None else _FEED_BLOCK
    buf = np.empty(min(n, step), np.uint64) if capsule is not None else None
    # the source's lock for the whole call: its draws are one contiguous piece of the stream
    with (source.lock if capsule is not None else contextlib.nullcontext()):
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            if capsule is not None:
                K.fill_draws(capsule, buf[:hi - lo], cast.r)
                dd = buf[:hi - lo]
            else:
                dd = d[lo:hi] if cast.stochastic else d
            nch = K.n_chunks(hi - lo)
            cnt = np.zeros((nch, 5), np.int64)
            errs, errpos = np.zeros(nch, np.int32), np.zeros(nch, np.int64)
            K.arith(_OPS[op], flat[0][lo:hi], flat[1][lo:hi], third[lo:hi],
                    out[lo:hi].view(np.int8), cast.spec, cast.stochastic, dd,
                    vs[lo:hi] if uv else vs, uv, cnt, errs, errpos,
                    threads if hi - lo >= 1 << 16 else 1)
            cnts.append(cnt)
            errs_all.append(errs)
            pos_all.append(errpos + lo)
    if cnts:
        cnt = np.concatenate(cnts)
        _raise_first(op, fmt, np.concatenate(errs_all), np.concatenate(pos_all),
                     int(cnt[:, 3].sum()), shape, undo)
        _counters.record(op, "out", fmt, tuple(int(t) for t in cnt.sum(axis=0)))
    return FloatArray._wrap(out.reshape(shape), fmt)


def fma(a, b, c, fmt=None, rounding="nearest_even", overflow="ieee", *, r=None, eps=0, v=None,
        sr_rule="trunc", source=None, draws=None) -> FloatArray:
    """Fused multiply-add: a * b + c computed exactly and rounded once into the float format
    ``fmt`` (default: the operands' one format), as ``fxsim.add``/``mul`` round (spec §9.8).
    (Fixed point has no separate fma: ``fxsim.add(fxsim.mul(a, b), c, fmt)`` is exact until its
    one cast.)

    >>> import fxsim
    >>> bf16 = FloatFormat("bf16")
    >>> a, m1 = fxsim.cast([1.0 + 2**-4], bf16), fxsim.cast([-1.0], bf16)
    >>> fma(a, a, m1).to_float().tolist()              # 2**-3 + 2**-8, exact
    [0.12890625]
    >>> fxsim.add(fxsim.mul(a, a), m1).to_float().tolist()   # a*a = 1.125 (a tie, to even) first
    [0.125]
    """
    return arith("fma", a, b, c, fmt, rounding, overflow, r=r, eps=eps, v=v, sr_rule=sr_rule,
                 source=source, draws=draws)


# -- dot products -----------------------------------------------------------------------------

def _is_float_format(fmt) -> bool:
    if isinstance(fmt, FloatFormat):
        return True
    if isinstance(fmt, str):
        try:
            FloatFormat.parse(fmt)
            return True
        except ValueError:
            return False
    return False


class _Role:
    """One cast role of a float MAC: kind 0 absent, 1 float, 2 fixed; its kernel tuple."""

    def __init__(self, role: str, fmt, mode: tuple, op: str):
        self.role, self.fmt, self.kind = role, None, 0
        self.stochastic, self.r, self.overflow = False, 0, None
        if fmt is None:
            self.spec = (0, None, 0, 0)
            return
        rounding, overflow, r, eps, sr_rule = mode
        if _is_float_format(fmt):
            c = FloatCast(fmt, rounding, "ieee" if overflow is None else overflow, r, eps, sr_rule)
            self.fmt, self.kind, self.stochastic, self.r = c.fmt, 1, c.stochastic, c.r
            self.overflow, self.rounding = c.overflow, c.rounding
            self.spec = (1, c.spec, 0, int(c.stochastic))
            return
        q = qformat(fmt)
        overflow = "saturate" if overflow is None else overflow
        check_name(f"{role}_rounding", rounding, ROUNDING)
        check_r(r)
        sto = rounding in STOCHASTIC
        E = 0
        if sto:
            if r is None:
                raise ValueError(f"{op}: rounding={rounding!r} needs r, the random bits per draw")
            if r > _FIXED_R_MAX:
                raise ValueError(f"{op}: a stochastic fixed-point {role} of a float MAC takes "
                                 f"r <= {_FIXED_R_MAX}, got r={r}")
            E = math.floor(check_eps(eps) * 2**r)
        spec = CastSpec(rounding_code(rounding), overflow_code(overflow), sr_rule_code(sr_rule),
                        r if sto else 0, q.wl, q.signed, E)
        self.fmt, self.kind, self.stochastic, self.r = q, 2, sto, (r if sto else 0)
        self.overflow, self.rounding = overflow, rounding
        self.spec = (2, spec, q.fl, int(sto))


def _products_exact(fa: FloatFormat, fb: FloatFormat) -> bool:
    """Every product of the two formats' values is a float64 (normal or zero)."""
    lo = (fa.emin - fa.man_bits) + (fb.emin - fb.man_bits)
    return (fa.man_bits + fb.man_bits + 2 <= 53 and lo >= -1022
            and fa.emax + fb.emax + 2 <= 1023)


def mac(op: str, A, B, out_shape, acc, prod, fmt, roles, v, source, draws,
        threads=1):
    """The float MAC driver of ``fxsim.dot``/``matvec``/``matmul``: A (M, K) and B (K, N)
    FloatArrays; every output element is a spec §4 dot with the product cast into ``prod``, the
    accumulator into ``acc`` after every addition and the result into ``fmt`` (each a FloatFormat
    or a fixed-point format; ``prod``/``fmt`` None: exact product / the accumulator's format).
    roles: the (rounding, overflow, r, eps, sr_rule) of prod, acc, out (overflow None: 'ieee'
    for a float format, 'saturate' for a fixed one).  Returns a FloatArray, or (raw words,
    QFormat) of a fixed-point result (``fxsim.ops`` makes it a FixedArray).

    >>> A = FloatArray([[0x38, 0x40]], "e4m3")                   # [[1, 2]]
    >>> B = FloatArray([[0x30], [0x44]], "e4m3")                 # [[0.5], [3]]
    >>> mode = ("nearest_even", None, None, 0, "trunc")
    >>> mac("matmul", A, B, (1, 1), "fp32", None, None, (mode,) * 3, None, None, None).to_float()
    array([[6.5]])
    """
    for name, x in (("A" if op != "dot" else "a", A), ("B" if op == "matmul" else
                                                         ("x" if op == "matvec" else "b"), B)):
        if not isinstance(x, FloatArray):
            raise ValueError(f"{op}: {name} must be a FloatArray like the other operand "
                             f"(FixedArrays and FloatArrays meet only through fxsim.cast), got "
                             f"{type(x).__name__}")
    if acc is None:
        raise ValueError(f"{op}: FloatArray operands need acc= (a FloatFormat such as 'fp32' or "
                         f"a fixed-point format): a float sum has no exact accumulator")
    _check_source(source, draws, op)
    rp = _Role("prod", prod, roles[0], op)
    ra = _Role("acc", acc, roles[1], op)
    same_out = fmt is None or (_is_float_format(fmt) == (ra.kind == 1) and (
        (FloatFormat.parse(fmt) if ra.kind == 1 else qformat(fmt)) == ra.fmt))
    ro = _Role("out", None if same_out else fmt, roles[2], op)
    Am = A.to_float().reshape(A.shape[0], -1) if A.ndim == 2 else A.to_float().reshape(1, -1)
    Bm = B.to_float().reshape(-1, 1) if B.ndim == 1 else B.to_float()
    Am, Bm = np.ascontiguousarray(Am), np.ascontiguousarray(Bm)
    M, Kd = Am.shape
    N = Bm.shape[1]
    n_out = M * N
    sto = [x for x in (rp, ra, ro) if x.stochastic]
    rs = {x.r for x in sto}
    if len(rs) > 1:
        raise ValueError(f"{op}: all stochastic casts of one operation must use the same r, got {sorted(rs)}")
    r = rs.pop() if rs else 0
    rounding = next((x.rounding for x in (rp, ra, ro) if x.kind and x.rounding == "signed_stochastic_eps"), "")
    vs, uv = v_signs(rounding, v, out_shape, op)
    strict = [x for x in (rp, ra, ro) if x.kind == 2 or (x.kind == 1 and not x.fmt.has_nan)]
    if strict and not (np.isfinite(Am).all() and np.isfinite(Bm).all()):
        raise ValueError(f"{op}: NaN or inf operands need every format of the MAC to hold NaN; "
                         f"{strict[0].fmt} ({strict[0].role}) does not")
    per_el = Kd * rp.stochastic + Kd * ra.stochastic + ro.stochastic
    undoable = any(x.overflow == "error" for x in (rp, ra, ro) if x.kind)
    capsule, d, ud, undo = None, _NO_DRAWS, False, None
    if per_el and draws is None and hasattr(source, "capsule") and not undoable:
        source.draws(0, r)                 # checks r for this source, draws nothing
        capsule = source.capsule
    elif per_el:
        d, undo = _take_draws(n_out * per_el, r, source, draws, undoable, op)
        ud = True
    fast = (rp.kind == 0 and ra.kind == 1 and ra.fmt == FloatFormat.parse("fp32")
            and ra.rounding == "nearest_even" and _products_exact(A.fmt, B.fmt))
    out = np.empty((M, N), np.int64)
    cnt = np.zeros((max(M, 1), 4, 5), np.int64)
    errs = np.zeros(max(M, 1), np.int32)
    errpos = np.zeros(max(M, 1), np.int64)
    rows = max(1, _BLOCK_MACS // max(1, N * Kd))

    def run(nthreads):
        for i0 in range(0, M, rows):
            i1 = min(M, i0 + rows)
            K.float_mac(Am[i0:i1], Bm, out[i0:i1], rp.spec, ra.spec, ro.spec, fast, r,
                        d[i0 * N * per_el:i1 * N * per_el] if ud else d, ud, capsule,
                        vs[i0 * N:i1 * N] if uv else vs, uv, cnt[i0:i1], errs[i0:i1],
                        errpos[i0:i1], nthreads if (i1 - i0) * N * Kd >= 1 << 14 else 1,
                        _counters.active())
            errpos[i0:i1] += i0 * N

    subs = None
    if capsule is not None and threads > 1 and M >= 2 and M * N * Kd >= 1 << 14:
        parts = min(M, max(4 * threads, -(-M // rows)))
        rcuts = [M * k // parts for k in range(parts + 1)]
        subs = source._substreams([int(c) * N * per_el for c in rcuts], r)
    if subs is not None:
        rcuts = np.asarray(rcuts, np.int64)
        for k0 in range(0, len(subs), threads):    # Ctrl-C is seen between calls
            k1 = min(len(subs), k0 + threads)
            K.float_mac_streams(Am, Bm, out, rp.spec, ra.spec, ro.spec, fast, r,
                                [s.capsule for s in subs[k0:k1]], rcuts[k0:k1 + 1], vs, uv, cnt,
                                errs, errpos, threads, _counters.active())
    elif capsule is not None:
        with source.lock:
            run(1)
    else:
        run(threads)
    tot = cnt.sum(axis=0)
    final = ro if ro.kind else ra
    _raise_first(op, final.fmt, errs, errpos, int(tot[:3, 3].sum()), out_shape, undo)
    for role, x, row in (("prod", rp, 0), ("acc", ra, 1), ("out", ro, 2)):
        if x.kind:
            _counters.record(op, role, x.fmt, tot[row])
    if final.kind == 1:
        return FloatArray._wrap(out.astype(final.fmt.dtype).reshape(out_shape), final.fmt)
    raw = out.view(np.uint64) if final.fmt.dtype == np.uint64 else out
    return raw.astype(final.fmt.dtype).reshape(out_shape), final.fmt     # the caller wraps it


__all__ = ["arith", "fma", "mac", "is_float_call"]
