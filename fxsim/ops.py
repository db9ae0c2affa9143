"""The public datapath (spec §2-§4): ``cast``, ``add``, ``sub``, ``mul``, ``dot``, ``matvec``,
``matmul``.

Each function validates its arguments once, picks a kernel and records counters; rounding and
overflow happen only in casts, inside the Cython kernels (``fxsim._kernels``).
"""
from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
from numbers import Integral

import numpy as np

from . import _kernels as K
from . import _mac as _mac_kernels
from .draw_prefetch import DrawPrefetch
from ._kernels import CastError, Overflow, SRRule, Word
from . import counters as _counters
from ._memory import check_memory as _check_memory
from ._small import SmallBinop, SmallCast, SmallSRCast
from .fixed import FixedArray
from .floatcast import Words, cast_float, first_error
from .floatformat import FloatFormat
from . import floatops
from .modes import (OVERFLOW, ROUNDING, SR_RULES, STOCHASTIC, CastMode, check_eps, check_name,
                    check_r, overflow_code, rounding_code, sr_rule_code)
from .sources import BitSource
from .qformat import FL_MAX, FL_MIN, QFormat, qformat

_EXACT_LIMIT = 2**127  # every exact intermediate must satisfy |v| < 2**127 (signed 128-bit kernels)
_BLOCK = 1 << 22       # elements per kernel call of a long element-wise operation
_BLOCK_MACS = 1 << 20  # multiply-accumulates per generic kernel call (Ctrl-C is seen between calls)
_BLOCK_LANE_MACS = 1 << 24  # the same for the vectorized MAC lanes (about 16x faster per MAC)
_MAC_TILE = 64         # output columns per register tile of the MAC arrays (_mac.pyx TJ)
_FEED_BLOCK = 1 << 18  # elements per super-block of draws (2 MiB) when threads share a source


def _default_threads() -> int:
    """``OMP_NUM_THREADS`` (its first value) when it is a positive integer, else the CPU count
    (at most 8)."""
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) >= 1:
        return int(env)
    return max(1, min(os.cpu_count() or 1, 8))


_threads = _default_threads()


def set_num_threads(n: int) -> None:
    """Threads used by the kernels (results never depend on it).

    >>> n = get_num_threads()
    >>> set_num_threads(1); get_num_threads()
    1
    >>> set_num_threads(n)
    """
    global _threads
    if isinstance(n, bool) or not isinstance(n, Integral) or not 1 <= n <= 1024:
        raise ValueError(f"n must be an integer in [1, 1024] (kernel threads), got {n!r}")
    _threads = int(n)


def get_num_threads() -> int:
    """Threads the kernels use (default: ``OMP_NUM_THREADS`` when set, else the CPU count, at
    most 8).

    >>> get_num_threads() >= 1
    True
    """
    return _threads


def _nthreads(work: int) -> int:
    """Threads for a call doing ``work`` element operations: small calls stay on one thread,
    where waking a team costs more than it saves."""
    return _threads if work >= 1 << 16 else 1


# -- memory ------------------------------------------------------------------------------------

def _nelem(shape) -> int:
    return math.prod(int(d) for d in shape)


# -- mode and randomness parameters ----------------------------------------------------------

def _check_modes(rounding, overflow, r, eps, sr_rule) -> None:
    """Every mode argument of a call is checked, whether or not a cast of the call uses it."""
    check_name("rounding", rounding, ROUNDING)
    check_name("overflow", overflow, OVERFLOW)
    check_name("sr_rule", sr_rule, SR_RULES)
    check_r(r)
    check_eps(eps)


class _Default:
    """A mode keyword's default value, told apart from the same value passed explicitly (so that
    ``mode=`` together with e.g. ``rounding=`` is refused even when it names the default)."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return repr(self.value)


_RND, _OVF, _R, _EPS, _RULE = (_Default("nearest_even"), _Default("saturate"), _Default(None),
                               _Default(0.0), _Default("trunc"))
_MODE_KEYS = ("rounding", "overflow", "r", "eps", "sr_rule")


def _as_mode(op: str, name: str, value) -> CastMode:
    try:
        return CastMode.of(value)
    except ValueError as e:
        raise ValueError(f"{op}: {name}: {e}") from None


def _mode_args(op: str, mode, rounding, overflow, r, eps, sr_rule) -> tuple:
    """(rounding, overflow, r, eps, sr_rule) of a call: from ``mode`` (a CastMode, or what
    ``CastMode.of`` accepts) or from the separate keywords, never both."""
    if mode is None:
        return (rounding.value if rounding.__class__ is _Default else rounding,
                overflow.value if overflow.__class__ is _Default else overflow,
                r.value if r.__class__ is _Default else r,
                eps.value if eps.__class__ is _Default else eps,
                sr_rule.value if sr_rule.__class__ is _Default else sr_rule)
    values = (rounding, overflow, r, eps, sr_rule)
    given = [k for k, v in zip(_MODE_KEYS, values) if not isinstance(v, _Default)]
    if given:
        raise ValueError(f"{op}: pass either mode= or {', '.join(f'{k}=' for k in given)}, not both")
    m = _as_mode(op, "mode", mode)
    return m.rounding, m.overflow, m.r, m.eps, m.sr_rule


def _role_args(op: str, role: str, role_mode, role_rounding, role_overflow, call: tuple) -> tuple:
    """The mode of one cast role of a dot product: ``{role}_mode`` (a whole CastMode), else the
    call's mode with ``{role}_rounding``/``{role}_overflow`` substituted."""
    if role_mode is None:
        rounding, overflow, *rest = call     # a role keyword given (even '') is checked in _mac
        return (rounding if role_rounding is None else role_rounding,
                overflow if role_overflow is None else role_overflow, *rest)
    given = [f"{role}_{k}=" for k, v in (("rounding", role_rounding), ("overflow", role_overflow))
             if v is not None]
    if given:
        raise ValueError(f"{op}: pass either {role}_mode= or {', '.join(given)}, not both")
    m = _as_mode(op, f"{role}_mode", role_mode)
    return m.rounding, m.overflow, m.r, m.eps, m.sr_rule


def _float_args(op: str, mode, rounding, overflow, r, eps, sr_rule) -> tuple:
    """The mode of a float operation (spec §9.8): as ``_mode_args``, but a default overflow is
    None (each float format's own default 'ieee', a fixed-point one's 'saturate')."""
    default_ovf = mode is None and overflow.__class__ is _Default
    call = _mode_args(op, mode, rounding, overflow, r, eps, sr_rule)
    return (call[0], None, *call[2:]) if default_ovf else call


def _no_fixed(op: str, **operands) -> None:
    for name, x in operands.items():
        if isinstance(x, FixedArray):
            raise ValueError(f"{op}: {name} is a FixedArray; FixedArrays and FloatArrays meet only "
                             f"through an explicit fxsim.cast")


def _float_binary(op, a, b, fmt, mode, rounding, overflow, r, eps, v, sr_rule, source, draws, out):
    _no_fixed(op, a=a, b=b)
    if out is not None:
        raise ValueError(f"{op}: out= is not supported for float operands")
    call = _float_args(op, mode, rounding, overflow, r, eps, sr_rule)
    return floatops.arith(op, a, b, None, fmt, call[0], call[1], r=call[2], eps=call[3], v=v,
                          sr_rule=call[4], source=source, draws=draws, threads=_threads)


def fma(a, b, c, fmt=None, rounding=_RND, overflow=_OVF, *, r=_R, eps=_EPS, v=None,
        sr_rule=_RULE, source=None, draws=None, mode=None):
    """Fused multiply-add of FloatArrays: a * b + c exact, rounded once into the float format
    ``fmt`` (spec §9.8; ``fxsim.floatops.fma``).  Fixed point needs none: ``add(mul(a, b), c,
    fmt)`` is exact until its one cast.

    >>> bf16 = FloatFormat("bf16")
    >>> fma(cast([1.5], bf16), cast([2.0], bf16), cast([0.25], bf16)).to_float()
    array([3.25])
    """
    if not floatops.is_float_call(a, b, c, fmt):
        raise ValueError("fma: operands must be FloatArrays (or fmt a FloatFormat); for fixed "
                         "point, add(mul(a, b), c, fmt) is exact until its one cast")
    _no_fixed("fma", a=a, b=b, c=c)
    call = _float_args("fma", mode, rounding, overflow, r, eps, sr_rule)
    return floatops.arith("fma", a, b, c, fmt, call[0], call[1], r=call[2], eps=call[3], v=v,
                          sr_rule=call[4], source=source, draws=draws, threads=_threads)


def _check_source(source, draws) -> None:
    if source is not None and draws is not None:
        raise ValueError("pass either source= or draws=, not both")
    if source is None:
        return
    if isinstance(source, (str, bytes)):
        raise ValueError(
            f"source must be a bit source object (fxsim.LFSR(16, seed=1), fxsim.Ideal('pcg64', "
            f"seed=0), or any object with draws(n, r)), got the string {source!r}; "
            f"fxsim.make_source({source!r}) builds one from a spec string")
    if not callable(getattr(source, "draws", None)):
        raise ValueError(f"source must be a bit source object with a draws(n, r) method "
                         f"(fxsim.LFSR, fxsim.Ideal), got {type(source).__name__}")


class _Cast:
    """One cast of an operation: target format, modes and (for stochastic modes) draws."""

    def __init__(self, fmt: QFormat, rounding: str, overflow: str, r, eps, sr_rule):
        self.fmt = fmt
        self.rounding = rounding
        self.mode = rounding_code(rounding)
        self.ovf = overflow_code(overflow)
        self.overflow = overflow
        self.stochastic = rounding in STOCHASTIC
        self.signed_v = rounding == "signed_stochastic_eps"     # needs v=, the sign of a value
        self.plain = not self.stochastic          # no draws, no v: the small-call fast path
        self.rule = sr_rule_code(sr_rule)
        self.r = 0
        self.E = 0
        self._spec = None
        if self.stochastic:
            if r is None:
                raise ValueError(f"rounding={rounding!r} needs r, the random bits per draw (1..64)")
            self.r = check_r(r)
            self.E = math.floor(check_eps(eps) * 2**self.r)

    def spec(self) -> K.CastSpec:
        """The kernels' description of this cast (built once)."""
        if self._spec is None:
            self._spec = K.CastSpec(self.mode, self.ovf, self.rule, self.r, self.fmt.wl,
                                    self.fmt.signed, self.E)
        return self._spec


def kernel_spec(fmt, mode) -> "K.CastSpec":
    """The kernels' typed description of a cast with ``mode`` (a ``CastMode`` or what
    ``CastMode.of`` takes) into ``fmt``: what nogil kernels outside this module (the samplers')
    take.

    >>> kernel_spec("Q8.8", CastMode("nearest_even", "saturate_symmetric")).lo
    -32767
    """
    m = CastMode.of(mode)
    return _Cast(qformat(fmt), m.rounding, m.overflow, m.r, m.eps, m.sr_rule).spec()


@functools.lru_cache(maxsize=512, typed=True)
def _cached_cast(fmt, rounding, overflow, r, eps, sr_rule) -> _Cast:
    """The checked ``_Cast`` of one set of cast arguments, with its kernel spec built: a string
    format is parsed, the names, r and eps checked and floor(eps·2^r) derived once per distinct
    argument set (``typed``: 16 and 16.0, or 0 and False, are different keys, so a value that
    the checks refuse is never served by an equal valid one).  Errors are not cached."""
    fmt = qformat(fmt)
    _check_modes(rounding, overflow, r, eps, sr_rule)
    c = _Cast(fmt, rounding, overflow, r, eps, sr_rule)
    c.kspec = c.spec()
    return c


def _prepare_cast(op: str, fmt, rounding, overflow, r, eps, sr_rule, source, draws) -> _Cast:
    """The call's ``_Cast`` (cached) after its source arguments are checked; errors come in the
    order of the uncached checks: format, modes, source, then r of a stochastic rounding."""
    try:
        c = _cached_cast(fmt, rounding, overflow, r, eps, sr_rule)
    except (ValueError, TypeError):      # TypeError: an unhashable argument, refused below
        qformat(fmt)
        _check_modes(rounding, overflow, r, eps, sr_rule)
        _check_source(source, draws)
        raise
    if source is not None or draws is not None:
        _check_source(source, draws)
    return c


def _draw_r(casts, source, draws, op: str):
    """The r of an operation's stochastic casts (None without one), checked before any draw is
    taken: all stochastic casts of one operation share r, and they need source= or draws=."""
    sto = [c for c in casts if c is not None and c.stochastic]
    if not sto:
        return None
    rs = {c.r for c in sto}
    if len(rs) != 1:
        raise ValueError(f"{op}: all stochastic casts of one operation must use the same r, got {sorted(rs)}")
    if draws is None and source is None:
        raise ValueError(
            f"{op}: rounding={sto[0].rounding!r} needs a random bit source: pass source= "
            "(an LFSR or ideal source) or draws= (an array of r-bit integers, one per cast)"
        )
    return rs.pop()


def _draws(casts, total: int, source, draws, op: str):
    """The ``total`` uint64 draws an operation consumes, in spec §4 order (all stochastic casts
    of one operation share r).  Deterministic casts draw nothing and leave a source untouched.
    Call it last: every other check of the call comes first, so that a refused call takes no
    draw from the source."""
    r = _draw_r(casts, source, draws, op)
    if r is None:
        return _NO_DRAWS, False, None
    undo = None
    if draws is None:
        if isinstance(source, BitSource) and any(c is not None and c.overflow == "error"
                                                 for c in casts):
            got, undo = source._draws_undoable(total, r)     # overflow='error' may refuse later
        else:
            got = source.draws(total, r)
        arr = np.asarray(got)
        what = f"source.draws({total}, {r}) of {type(source).__name__}"
        if arr.dtype.kind not in "iu":
            raise ValueError(f"{op}: {what} returned dtype {arr.dtype}; a source must return integers")
        if arr.size != total:
            raise ValueError(f"{op}: {what} returned {arr.size} values; a source must return "
                             f"exactly the {total} draws asked for")
        if not isinstance(source, BitSource) or arr.dtype != np.uint64:
            arr = np.array(arr.reshape(-1), dtype=np.uint64)     # a private copy
        who = what
    else:
        arr = np.asarray(draws)
        if arr.dtype.kind not in "iu":
            raise ValueError(f"draws must be an array of integers, got dtype {arr.dtype}")
        if arr.size != total:
            raise ValueError(f"{op}: draws must hold exactly {total} values (one per stochastic cast), got {arr.size}")
        if arr.size and (int(arr.min()) < 0):
            raise ValueError("draws must be non-negative integers below 2**r")
        arr = np.ascontiguousarray(arr.reshape(-1), dtype=np.uint64)   # read only by the kernels
        who = "draws"
    if r < 64 and arr.size and int(arr.max()) >= (1 << r):
        raise ValueError(f"{op}: {who} must be below 2**r = {1 << r}; got {int(arr.max())}")
    return arr, True, undo


def _feeds(c: _Cast, source, draws) -> bool:
    """Whether the kernels draw straight from ``source`` (see ``_fed``): a stochastic cast with
    an fxsim source; a user-defined source and ``draws=`` go through an array of draws."""
    return c.stochastic and draws is None and isinstance(source, BitSource)


def _fed(run, op, call, n, out, shape, c: _Cast, vs, uv, blocks, what, source) -> None:
    """``run`` (``_run_cast``) with the draws taken from ``source`` block by block, in spec
    order (draw i for element i), the call taking one contiguous piece of the stream.
    Several threads on a long call from a source that can jump: each part of 8 chunks draws
    from a private copy jumped to its first draw (``source._substreams``, which moves the
    source past the call at once); one thread: one private copy at the source's position.
    Otherwise the source's lock is held for the whole call:
    one thread fills the draws next to their use, several threads round super-blocks of
    _FEED_BLOCK draws that a helper thread fills one super-block ahead (``DrawPrefetch``).  With overflow='error' a raising call first puts the
    source back where it was."""
    source._check_r(c.r)
    r = c.r
    if _threads > 1 and n >= 1 << 18 and c.ovf != Overflow.OV_ERROR:
        bl = list(blocks) if blocks is not None else \
            [(lo, min(n, lo + _BLOCK), None) for lo in range(0, n, _BLOCK)]
        cuts, starts = [], []
        for lo, hi, _ in bl:
            nch = K.n_chunks(hi - lo)
            pc = list(range(0, nch, 8)) + [nch]
            cuts.append(np.array(pc, dtype=np.int64))
            starts += [lo + k * _CHUNK for k in pc[:-1]]
        subs = source._substreams(starts + [n], r)
        if subs is not None:
            it = iter(subs)
            feeds = {lo: K.DrawFeed([next(it).capsule for _ in range(len(pc) - 1)], pc)
                     for (lo, hi, _), pc in zip(bl, cuts)}
            run(op, call, n, out, shape, c, None, False, vs, uv, bl, what, None,
                feeder=lambda lo, hi, th: (feeds[lo], None))
            return
    if _threads == 1 and n >= 1 << 16 and c.ovf != Overflow.OV_ERROR:
        # one private copy for the whole call (PCG64's is stepped inline, four lanes)
        subs = source._substreams([0, n], r)
        if subs is not None:
            run(op, call, n, out, shape, c, None, False, vs, uv, blocks, what, None,
                feeder=lambda lo, hi, th: (_one_feed(subs[0], hi - lo), None))
            return

    pre = None

    def feeder(lo, hi, th):
        if pre is not None:
            return None, pre.take(hi - lo)
        if th == 1:
            return _one_feed(source, hi - lo), None
        dd = np.empty(hi - lo, dtype=np.uint64)
        source._fill(dd, r)
        return None, dd

    def undo() -> bool:           # the lock is held: no other draw came in between
        source._set_position(before)
        return True
    with source.lock:
        before = source._position() if c.ovf == Overflow.OV_ERROR else None
        if before is None and _threads > 1 and n > _FEED_BLOCK:
            # a helper thread fills the next super-block while the kernels round this one
            pre = DrawPrefetch(source, r, n, _FEED_BLOCK)
        try:
            run(op, call, n, out, shape, c, None, False, vs, uv, blocks, what,
                None if before is None else undo, source, feeder)
        finally:
            if pre is not None:
                pre.close()


_NO_DRAWS = np.zeros(1, dtype=np.uint64)
_NO_V = np.zeros(1, dtype=np.int8)


def _vsign(casts, v, shape, op: str):
    if not any(c is not None and c.rounding == "signed_stochastic_eps" for c in casts):
        return _NO_V, False
    if v is None:
        raise ValueError(f"{op}: rounding='signed_stochastic_eps' needs v, an array of shape {shape}")
    if isinstance(v, FixedArray):
        va = v.to_float()
    else:
        va = np.asarray(v)
        if va.dtype.kind not in "biuf":
            raise ValueError(f"{op}: v must be real numbers (its sign is used), got dtype {va.dtype}")
        va = va.astype(np.float64)
    try:
        va = np.broadcast_to(va, shape)
    except ValueError:
        raise ValueError(f"{op}: v has shape {np.shape(va)}, expected {shape}") from None
    if np.isnan(va).any():
        raise ValueError(f"{op}: v contains NaN")
    return np.ascontiguousarray(np.sign(va).astype(np.int8).reshape(-1)), True


def _raise_errors(op, errs, errpos, n_bad, shape, cast: _Cast, what="x", undo=None):
    """Raise the first error the kernels reported; ``undo`` (from ``_draws``) first puts the
    source back where it was before the call's draws."""
    found = first_error(errs, errpos, shape)
    if found is None:
        return
    note = ""
    if undo is not None and not undo():
        note = ("; its draws stay consumed: another thread drew from the source after them, "
                "so it could not be put back")
    code, idx = found
    if code == CastError.ERR_NAN:
        raise ValueError(f"{op}: {what} contains NaN (first at index {idx}); NaN has no fixed-point value")
    if code == CastError.ERR_INF:
        raise ValueError(
            f"{op}: {what} contains ±inf (first at index {idx}); inf cannot be cast with "
            f"overflow={cast.overflow!r} (use 'saturate')"
        )
    f = cast.fmt
    raise OverflowError(
        f"{op}: {int(n_bad)} element(s) overflowed {f} (range [{f.min}, {f.max}]) with "
        f"overflow='error'; first at index {idx}{note}"
    )


def _check_finite(op, src, cast: _Cast) -> None:
    """Refuse NaN (and ±inf unless saturating) before any draw is taken; checked in blocks,
    so that Ctrl-C is seen between them."""
    if _all_finite(src):
        return
    nan = np.isnan(src)
    if nan.any():
        raise ValueError(f"{op}: x contains NaN (first at index {int(np.argmax(nan))} of the "
                         "flattened array); NaN has no fixed-point value")
    if cast.ovf not in (Overflow.OV_SATURATE, Overflow.OV_SATURATE_SYMMETRIC):
        raise ValueError(f"{op}: x contains ±inf (first at index {int(np.argmax(np.isinf(src)))} of "
                         f"the flattened array); inf cannot be cast with overflow={cast.overflow!r} "
                         "(use 'saturate')")


def _one_feed(source, n: int):
    """The kernels' feed of one thread drawing all ``n`` elements' draws from ``source``."""
    return K.DrawFeed([source.capsule], np.array([0, K.n_chunks(n)], dtype=np.int64))


def _run_elementwise(call, n: int, out, d, ud, vs, uv, blocks=None, feeder=None):
    """Run ``call(lo, hi, idx, out, d, vs, cnt, errs, errpos, threads, feed)`` over ``blocks``
    ((lo, hi, idx) tuples of C-order element ranges; default: flat ranges of _BLOCK elements, idx
    None), so that Ctrl-C is seen between kernel calls; returns (totals, errs, errpos) with
    positions over the whole array.  ``call`` gets its block of ``out`` as bytes (an int8 view:
    the kernels store words by width).
    ``feeder(lo, hi, threads)`` (see ``_fed``): the (feed, draws) of a block, instead of ``d``."""
    step = _FEED_BLOCK if feeder is not None and _threads > 1 else _BLOCK
    if blocks is None:
        blocks = ((lo, min(n, lo + step), None) for lo in range(0, n, step))
    totals = np.zeros(5, dtype=np.int64)
    errs_all, pos_all = [np.zeros(1, np.int32)], [np.zeros(1, np.int64)]
    for lo, hi, idx in blocks:
        if hi == lo:
            continue
        nch = max(K.n_chunks(hi - lo), 1)
        cnt = np.zeros((nch, 5), dtype=np.int64)
        errs = np.zeros(nch, dtype=np.int32)
        errpos = np.zeros(nch, dtype=np.int64)
        th, feed, dd = _nthreads(hi - lo), None, d[lo:hi] if ud else d
        if feeder is not None:
            feed, dd = feeder(lo, hi, th)
            dd = d if dd is None else dd
        call(lo, hi, idx, out[lo:hi].view(np.int8), dd, vs[lo:hi] if uv else vs, cnt, errs,
             errpos, th, feed)
        totals += cnt.sum(axis=0)
        errs_all.append(errs)
        pos_all.append(errpos + lo)
    return totals, np.concatenate(errs_all), np.concatenate(pos_all)


def _finish(op, errs, errpos, n_bad, shape, casts, culprit: _Cast, what="x", undo=None) -> None:
    """The end of every kernel call: raise the first error the kernels reported (named after
    ``culprit``), else record the counters of ``casts``, (role, _Cast, totals) triples."""
    _raise_errors(op, errs, errpos, n_bad, shape, culprit, what=what, undo=undo)
    for role, c, totals in casts:
        _counters.record(op, role, c.fmt, totals)


_CHUNK = 2**40 // K.n_chunks(2**40)      # elements per kernel chunk (one counter row each)
_scratch = threading.local()             # per thread: the counter row and error slot of small calls


def _small_buffers():
    """This thread's counter row and error slot for one-chunk calls (errs is left zero)."""
    try:
        return _scratch.bufs
    except AttributeError:
        bufs = _scratch.bufs = (np.zeros((1, 5), np.int64), np.zeros(1, np.int32),
                                np.zeros(1, np.int64))
        return bufs


def _run_cast(op, call, n: int, out, shape, c: _Cast, d=None, ud=False, vs=None, uv=False,
              blocks=None, what="x", undo=None, source=None, feeder=None) -> None:
    """An element-wise kernel with one cast ``c`` run over ``out`` (see _run_elementwise), its
    errors raised and its counters recorded.  A call of one chunk (flat, ``blocks`` None) runs
    as one kernel call on one thread with this thread's reused counter buffers.  ``source``
    (one-chunk calls) or ``feeder`` (see ``_fed``): where the draws come from instead of ``d``."""
    if n <= _CHUNK and blocks is None:
        cnt, errs, errpos = _small_buffers()
        cnt.fill(0)
        if n:
            call(0, n, None, out.view(np.int8), _NO_DRAWS if d is None else d,
                 _NO_V if vs is None else vs, cnt, errs, errpos, 1,
                 None if source is None else _one_feed(source, n))
        if errs[0]:
            errs_c, errpos_c = errs.copy(), errpos.copy()
            errs[0] = 0
            _raise_errors(op, errs_c, errpos_c, cnt[0, 3], shape, c, what=what, undo=undo)
        if _counters.active():
            _counters.record(op, "out", c.fmt, cnt[0])
        return
    totals, errs, errpos = _run_elementwise(call, n, out, _NO_DRAWS if d is None else d, ud,
                                            _NO_V if vs is None else vs, uv, blocks, feeder)
    _finish(op, errs, errpos, totals[3], shape, [("out", c, totals)], c, what, undo)


# -- cast ------------------------------------------------------------------------------------

def cast(x, fmt, rounding: str = _RND, overflow: str = _OVF, *, r=_R, eps=_EPS, v=None,
         sr_rule: str = _RULE, source=None, draws=None, mode=None, out=None) -> FixedArray:
    """Round the exact value of ``x`` into ``fmt`` (spec §2), then handle overflow (§3).

    ``x``: a Python number, an array-like of floats or integers (converted to float64, exactly
    for integers up to 2**53; larger int64/uint64 arrays are taken exactly as raw words), or a
    ``FixedArray`` (exact re-quantization).  Stochastic modes take ``r`` random bits per draw from
    ``source`` or from the explicit ``draws`` (one r-bit integer per element, C order).
    ``mode``: a ``CastMode`` (or what ``CastMode.of`` accepts) instead of rounding/overflow/r/
    eps/sr_rule.  ``out``: where the words go (see ``_check_out``): a FixedArray of ``fmt`` or a
    C-contiguous writable numpy array of ``fmt.dtype`` and x's shape, returned wrapped; a call
    that raises leaves it unchanged.  ``Caster(fmt, mode)`` prepares the arguments once for loops.

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
    if isinstance(fmt, FloatFormat):      # a float target (spec §9): default overflow 'ieee'
        if overflow.__class__ is _Default and mode is None:
            overflow = "ieee"
        rounding, overflow, r, eps, sr_rule = _mode_args("cast", mode, rounding, overflow, r, eps, sr_rule)
        if out is not None:
            raise ValueError("cast: out= is not supported for a FloatFormat target")
        if isinstance(x, FixedArray):
            x = Words.of(x.raw, -x.fmt.fl)      # exact words
        return cast_float(x, fmt, rounding, overflow, r=r, eps=eps, v=v, sr_rule=sr_rule,
                          source=source, draws=draws, threads=_threads)
    key = None
    if out is None and v is None and source is None and draws is None:
        key = (fmt, rounding, overflow, r, eps, sr_rule, mode)
        try:
            fast = _SMALL_CASTS.get(key)
        except TypeError:                  # an unhashable argument: refused below
            fast = key = None
        if fast is not None:
            res = fast(x)
            if res is not None:
                return res
    rounding, overflow, r, eps, sr_rule = _mode_args("cast", mode, rounding, overflow, r, eps, sr_rule)
    c = _prepare_cast("cast", fmt, rounding, overflow, r, eps, sr_rule, source, draws)
    if key is not None and c.plain and _small_key(key):
        if len(_SMALL_CASTS) >= 512:
            _SMALL_CASTS.clear()
        _SMALL_CASTS[key] = SmallCast(c.kspec, c.fmt, _SMALL_CAST_LIMIT)
    return _cast_with(c, x, v, source, draws, out)


# -- the compiled small-call path (fxsim._small) ---------------------------------------------

_SMALL_LIMIT = 4096    # elements up to which add/sub/mul run in fxsim._small (one scalar loop)
# and a float64 cast (the kernels' vectorized pass, ~1.4 ns an element: faster than the
# threaded general path up to about 6*10^4 elements; bench/bench_small.py)
_SMALL_CAST_LIMIT = 1 << 15
_SMALL_CASTS = {}      # (fmt, rounding, overflow, r, eps, sr_rule, mode) of a cast() -> SmallCast
_SMALL_BINOPS = {}     # (op, formats of a and b, the cast arguments) of add/sub/mul -> SmallBinop


def _small_key(key) -> bool:
    """Whether cast() arguments ``key`` may serve later calls from ``_SMALL_CASTS``: only types
    whose equal values are equally valid (not 16 and 16.0, 0 and False, which the checks tell
    apart), since a dict lookup matches by equality; r, eps and sr_rule only when not given."""
    fmt, rounding, overflow, r, eps, sr_rule, mode = key
    if not (r is _R and eps is _EPS and sr_rule is _RULE):
        return False
    if mode.__class__ is tuple:
        ok_mode = all(m.__class__ is str for m in mode)
    else:
        ok_mode = mode is None or mode.__class__ in (str, CastMode)
    return (ok_mode and fmt.__class__ in (str, QFormat) and rounding.__class__ in (str, _Default)
            and overflow.__class__ in (str, _Default))


class Caster:
    """A cast prepared once for a loop: ``Caster(fmt, mode=None, *, source=None)``; calling it,
    ``q(x, v=None, draws=None, out=None)``, does only the per-call work of
    ``cast(x, fmt, mode=mode, source=source, ...)``, with the same words, counters, draws and
    errors.  ``mode``: a ``CastMode`` or what ``CastMode.of`` takes (default: nearest_even,
    saturate).  ``source``: the bit source of a stochastic mode, shared by every call (each call
    draws under ``source.lock``); a call's ``draws=`` replaces it for that call.

    >>> q = Caster("Q4.4", CastMode("nearest_even", "saturate"))
    >>> q([0.3, 9.0]).raw, q.fmt
    (array([  5, 127], dtype=int8), QFormat(wl=8, fl=4, signed=True))
    """
    __slots__ = ("fmt", "mode", "source", "_cast", "_small", "_small_sr")

    def __init__(self, fmt, mode=None, *, source=None):
        m = CastMode() if mode is None else _as_mode("Caster", "mode", mode)
        c = self._cast = _prepare_cast("Caster", fmt, m.rounding, m.overflow, m.r, m.eps,
                                       m.sr_rule, source, None)
        self.fmt, self.mode, self.source = c.fmt, m, source
        self._small = SmallCast(c.kspec, self.fmt, _SMALL_CAST_LIMIT) \
            if c.plain and source is None else None
        self._small_sr = _small_sr_cast(c, source)

    def __call__(self, x, *, v=None, draws=None, out=None) -> FixedArray:
        if draws is None and out is None:
            if self._small is not None and v is None:
                res = self._small(x)
                if res is not None:
                    return res
            elif self._small_sr is not None:
                res = self._small_sr(x, v)
                if res is not None:
                    return res
        if draws is not None:
            return _cast_with(self._cast, x, v, None, draws, out)
        return _cast_with(self._cast, x, v, self.source, None, out)

    def __repr__(self):
        return f"Caster({str(self.fmt)!r}, {self.mode!r}" + \
            ("" if self.source is None else f", source={self.source!r}") + ")"


def _small_sr_cast(c: _Cast, source):
    """The compiled small-call path of a stochastic cast ``c`` drawing from ``source``
    (``SmallSRCast``), or None where the general path must run every call: a user-defined
    source, overflow='error' (a raising call puts the source back), an r the source refuses."""
    if not (_feeds(c, source, None) and c.ovf != Overflow.OV_ERROR):
        return None
    try:
        source._check_r(c.r)
    except ValueError:
        return None                 # the general path raises it on every call
    return SmallSRCast(c.spec(), c.fmt, source, _SMALL_CAST_LIMIT)


_F64 = np.dtype(np.float64)
_I8 = np.dtype(np.int8)


def _cast_with(c: _Cast, x, v, source, draws, out) -> FixedArray:
    """The work of one ``cast`` call once its arguments are checked (see ``_prepare_cast``)."""
    fmt = c.fmt
    if (x.__class__ is np.ndarray and x.dtype is _F64 and c.plain and out is None
            and x.size <= _CHUNK and x.flags.c_contiguous):
        # the common small call: deterministic float64 cast of one chunk, done here in full
        words = np.empty(x.shape, fmt.dtype)
        cnt, errs, errpos = _small_buffers()
        cnt.fill(0)
        if x.size:
            if x.ndim == 1:
                K.cast_f64(x, words.view(_I8), c.kspec, fmt.fl, _NO_DRAWS, False, _NO_V, False,
                           cnt, errs, errpos, 1)
            else:
                K.cast_f64(x.reshape(-1), words.reshape(-1).view(_I8), c.kspec, fmt.fl, _NO_DRAWS,
                           False, _NO_V, False, cnt, errs, errpos, 1)
        if errs[0]:
            errs_c, errpos_c = errs.copy(), errpos.copy()
            errs[0] = 0
            _raise_errors("cast", errs_c, errpos_c, cnt[0, 3], x.shape, c)
        if _counters.active():
            _counters.record("cast", "out", fmt, cnt[0])
        return FixedArray._wrap(words, fmt)
    # refuse before any conversion: a broadcast view or an integer array becomes a full copy
    per = fmt.dtype.itemsize + (8 if c.stochastic else 0)
    if x.__class__ is np.ndarray and x.dtype is _F64 and x.flags.c_contiguous:
        shape = x.shape                # the common case: native contiguous float64, read only
        _check_memory("cast", shape, x.size * per)
        src = x.reshape(-1) if x.ndim != 1 else x
    elif isinstance(x, FixedArray):
        shape = x.shape
        copy = 0 if x.raw.flags.c_contiguous else x.raw.dtype.itemsize
        _check_memory("cast", shape, x.raw.size * (per + copy))
        src = np.ascontiguousarray(x.raw).reshape(-1)          # read only
    else:
        arr = _real_array(x)
        native = arr.dtype in _KERNEL_FLOATS and arr.dtype.isnative and arr.flags.c_contiguous
        _check_memory("cast", arr.shape, arr.size * (per + (0 if native else 8)))
        if arr.dtype.kind in "iu":
            if arr.size and max(abs(int(arr.min())), abs(int(arr.max()))) > 2**53:
                x = FixedArray._wrap(arr, QFormat(64, 0, arr.dtype.kind == "i"))
                shape, src = arr.shape, np.ascontiguousarray(arr, dtype=x.fmt.dtype).reshape(-1)
            else:
                arr = arr.astype(np.float64)
        elif arr.dtype.kind == "b":
            arr = arr.astype(np.float64)
        if not isinstance(x, FixedArray):
            # native-endian contiguous float32 or float64; read only by the kernels
            shape = arr.shape
            ftype = arr.dtype if arr.dtype in _KERNEL_FLOATS else np.float64
            src = np.ascontiguousarray(arr, dtype=ftype).reshape(-1)
    n = src.size
    words = isinstance(x, FixedArray)
    vs, uv = _vsign([c], v, shape, "cast") if c.signed_v else (_NO_V, False)
    target = None
    if out is not None:
        target = _check_out("cast", out, fmt, shape, (("x", x), ("v", v), ("draws", draws)))
    if c.stochastic:
        if source is None and draws is None:
            _draw_r([c], source, draws, "cast")      # refuses: before the finite check
        if draws is None and not words:
            _check_finite("cast", src, c)      # before a source is touched
    if (c.stochastic and source is not None and draws is None and not words and out is None
            and n >= 1 << 18 and _threads > 1 and c.overflow != "error"):
        subs = None
        if hasattr(source, "_substreams"):
            parts = max(4 * _threads, -(-n // (_BLOCK >> 2)))   # calls of ~2^20 per thread
            cuts = [n * k // parts for k in range(parts + 1)]
            subs = source._substreams(cuts, c.r)
        if subs is not None:
            return _cast_streams(src, shape, fmt, c, subs, cuts, vs, uv)
    fed = _feeds(c, source, draws)
    d, ud, undo = _draws([c], n, source, draws, "cast") if c.stochastic and not fed else (_NO_DRAWS, False, None)
    if out is None:
        res = np.empty(n, dtype=fmt.dtype)
    else:
        res = target if (c.ovf != Overflow.OV_ERROR and (words or _all_finite(src))) \
            else np.empty(n, dtype=fmt.dtype)       # a call that raises leaves out unchanged
    if words:
        s = x.fmt.fl - fmt.fl
        small = _small(max(-x.fmt.min_raw, x.fmt.max_raw), s)
        tx = _word_code(src.dtype)

        def call(lo, hi, idx, o, dd, vv, cnt, errs, errpos, th, feed=None):
            K.cast_raw(src[lo:hi].view(np.int8), tx, o, s, small, c.spec(), dd, ud or fed,
                       vv, uv, cnt, errs, errpos, th, feed)
    else:
        counted = _counters.active()      # else the kernels may skip the counts nobody records

        def call(lo, hi, idx, o, dd, vv, cnt, errs, errpos, th, feed=None):
            K.cast_f64(src[lo:hi], o, c.spec(), fmt.fl, dd, ud or fed, vv, uv, cnt, errs,
                       errpos, th, feed, counted)
    if fed:
        _fed(_run_cast, "cast", call, n, res, shape, c, vs, uv, None, "x", source)
    else:
        _run_cast("cast", call, n, res, shape, c, d, ud, vs, uv, undo=undo)
    return _result(res, shape, fmt, out, target)


def _check_out(op: str, out, fmt: QFormat, shape, inputs) -> np.ndarray:
    """The flat array that the words of a call with ``out=`` go to: ``out`` is a FixedArray of
    the result format ``fmt`` or a numpy array of exactly ``fmt.dtype`` and ``shape``,
    C-contiguous and writable, sharing no memory with ``inputs`` ((name, value) pairs); else a
    ValueError naming ``out`` and what is allowed (before anything is drawn or written)."""
    allowed = (f"a FixedArray of format {fmt} or a C-contiguous writable numpy array of dtype "
               f"{fmt.dtype} and shape {tuple(shape)}")
    if isinstance(out, FixedArray):
        if out.fmt != fmt:
            raise ValueError(f"{op}: out has format {out.fmt}; out must be {allowed}")
        arr = out.raw
    elif isinstance(out, np.ndarray):
        arr = out
    else:
        raise ValueError(f"{op}: out must be {allowed}, got {type(out).__name__}")
    if arr.dtype != fmt.dtype:
        raise ValueError(f"{op}: out has dtype {arr.dtype}; out must be {allowed}")
    if arr.shape != tuple(shape):
        raise ValueError(f"{op}: out has shape {arr.shape}; out must be {allowed}")
    if not arr.flags.c_contiguous:
        raise ValueError(f"{op}: out is not C-contiguous; out must be {allowed}")
    if not arr.flags.writeable:
        raise ValueError(f"{op}: out is read-only; out must be {allowed}")
    for name, value in inputs:
        if isinstance(value, FixedArray):
            value = value.raw
        if isinstance(value, np.ndarray) and np.shares_memory(arr, value):
            raise ValueError(f"{op}: out shares memory with {name}; out must be {allowed} "
                             "apart from the inputs")
    return arr.reshape(-1)


def _all_finite(src: np.ndarray) -> bool:
    """No NaN or inf in the float64 ``src`` (checked in blocks, so that Ctrl-C is seen)."""
    if src.size < 1 << 16 or _threads == 1 or src.dtype not in _KERNEL_FLOATS \
            or not src.flags.c_contiguous:
        if src.size <= _BLOCK:
            return bool(np.isfinite(src).all())
        return all(np.isfinite(src[lo:lo + _BLOCK]).all() for lo in range(0, src.size, _BLOCK))
    flat = src.reshape(-1)
    step = 4 * _BLOCK
    return all(K.all_finite(flat[lo:lo + step], _threads) for lo in range(0, flat.size, step))


def _result(words: np.ndarray, shape, fmt: QFormat, out, target) -> FixedArray:
    """The FixedArray of a call's flat ``words``: with ``out=``, ``out`` itself (a FixedArray) or
    wrapping it, after copying the words into ``target`` unless they were written there."""
    if out is None:
        return FixedArray._wrap(words if len(shape) == 1 else words.reshape(shape), fmt)
    if words is not target:
        np.copyto(target, words)
    return out if isinstance(out, FixedArray) else FixedArray._wrap(out, fmt)


_KERNEL_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))   # what cast_f64 reads (exactly)


def _real_array(x) -> np.ndarray:
    """``x`` as a numpy array of real numbers (bool, integers or floats), never a copy that
    fxsim writes into; refuses complex, object, string and other dtypes with a clear error."""
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as e:
        raise ValueError(f"cast: x must be real numbers or a FixedArray ({e})") from None
    if arr.dtype.kind == "O":
        kinds = {type(v).__name__ for v in arr.ravel()[:8]}
        raise ValueError(f"cast: x must be real numbers (bool, integer or float arrays) or a "
                         f"FixedArray, got an object array (holding {', '.join(sorted(kinds))}); "
                         "for exact values build a FixedArray from raw integers")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"cast: x must be real numbers or a FixedArray, got dtype {arr.dtype}")
    return arr


def _cast_streams(src, shape, fmt, c: _Cast, subs, cuts, vs, uv) -> FixedArray:
    """Stochastic float cast from private sub-streams, one per part (see cast_f64_streams),
    one part per thread and kernel call, so that Ctrl-C is seen between calls."""
    T = len(subs)
    out = np.empty(src.size, dtype=fmt.dtype)
    cnt = np.zeros((T, 5), dtype=np.int64)
    errs = np.zeros(T, dtype=np.int32)
    errpos = np.zeros(T, dtype=np.int64)
    step = _threads
    cuts = np.asarray(cuts, dtype=np.int64)
    for k0 in range(0, T, step):
        k1 = min(T, k0 + step)
        lo, hi = int(cuts[k0]), int(cuts[k1])
        K.cast_f64_streams(src[lo:hi], out[lo:hi].view(np.int8), c.spec(), fmt.fl, [s.capsule for s in subs[k0:k1]],
                           cuts[k0:k1 + 1] - lo, vs[lo:hi] if uv else vs, uv, cnt[k0:k1],
                           errs[k0:k1], errpos[k0:k1], _threads)
        errpos[k0:k1] += lo
    totals = cnt.sum(axis=0)
    _finish("cast", errs, errpos, totals[3], shape, [("out", c, totals)], c)
    return FixedArray._wrap(out.reshape(shape), fmt)


# -- element-wise arithmetic -----------------------------------------------------------------

def _small(vmax: int, s: int) -> bool:
    """Whether the 64-bit kernel path is exact for values |v| <= vmax shifted by s.

    That path needs |v * 2**max(0, -s)| <= 2**62: then v and its left shift are int64 values
    (< 2**63), q = v >> s is exact, q + 1 only happens for s >= 1 (|q| <= 2**61), and every
    compare with the int64 range is exact.  The bound includes 2**62 = (-2**31)**2, so products
    of words up to 32 bits take this path."""
    return s <= 62 and (vmax << max(0, -s)) <= 2**62


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


def _default_format(wl: int, fl: int, signed: bool, op: str) -> QFormat:
    """The exact full-precision result format, or a ValueError asking for ``fmt=``."""
    if wl > 64:
        raise ValueError(
            f"{op}: the exact full-precision result needs wl={wl} > 64 bits; pass fmt= (an output format)"
        )
    if not FL_MIN <= fl <= FL_MAX:
        raise ValueError(
            f"{op}: the exact full-precision result needs fl={fl}, outside [{FL_MIN}, {FL_MAX}]; "
            "pass fmt= (an output format)"
        )
    return QFormat(wl, fl, signed)


def _range_format(lo: int, hi: int, fl: int, signed: bool, op: str) -> QFormat:
    return _default_format(_bits_for(lo, hi, signed), fl, signed, op)


def _container(da: np.dtype, db: np.dtype):
    """One kernel container type for two raw dtypes; uint64 words that meet signed ones travel
    as int64 bits with a flag (the kernel re-reads them as unsigned)."""
    if da == db:
        return da, False, False
    ct = np.promote_types(da, db)
    if ct.kind in "iu":
        return ct, False, False
    return np.dtype(np.int64), da == np.uint64, db == np.uint64


def _flat_block(raw: np.ndarray, shape, idx, dtype) -> np.ndarray:
    """The C-order block ``idx`` of ``raw`` broadcast to ``shape``, as a new contiguous array of
    ``dtype`` (a copy: the kernels never see a caller's buffer)."""
    view = np.broadcast_to(raw, shape)[idx] if shape else np.broadcast_to(raw, shape)
    return np.array(view, dtype=dtype, order="C", copy=True).reshape(-1)


def _row_blocks(shape, target: int):
    """C-order blocks of ``shape`` of at most ``target`` elements (more only when one row of
    the last axis is longer): yields (start, stop, index) with ``index`` selecting the block."""
    n = _nelem(shape)
    if n <= target or not shape:
        yield 0, n, tuple(slice(None) for _ in shape)
        return
    k, inner = len(shape) - 1, 1
    while k > 0 and inner * shape[k] <= target:
        inner *= shape[k]
        k -= 1
    step = max(1, target // inner)
    for outer in np.ndindex(*shape[:k]):
        base = (int(np.ravel_multi_index(outer, shape[:k])) if k else 0) * shape[k] * inner
        for j0 in range(0, shape[k], step):
            j1 = min(shape[k], j0 + step)
            yield (base + j0 * inner, base + j1 * inner,
                   outer + (slice(j0, j1),) + tuple(slice(None) for _ in shape[k + 1:]))


class _BinaryPlan:
    """What an element-wise operation derives from its formats and modes alone (cached by
    ``_binary_plan``): exact fraction length F, alignment shifts, the result format and cast,
    the kernel's word types and path."""
    __slots__ = ("code", "fmt", "c", "da", "db", "s_out", "small", "ct", "ua", "ub", "ta", "tb")


@functools.lru_cache(maxsize=512, typed=True)
def _binary_plan(op: str, fa: QFormat, fb: QFormat, fmt, rounding, overflow, r, eps, sr_rule,
                 dta: np.dtype, dtb: np.dtype) -> _BinaryPlan:
    _check_modes(rounding, overflow, r, eps, sr_rule)
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
        fmt = _default_format(fa.wl + fb.wl, F, signed, op)
    fmt = _range_format(lo, hi, F, signed, op) if fmt is None else qformat(fmt)
    p = _BinaryPlan()
    p.code = {"add": 0, "sub": 1, "mul": 2}[op]
    p.fmt, p.c = fmt, _Cast(fmt, rounding, overflow, r, eps, sr_rule)
    p.c.kspec = p.c.spec()
    p.da, p.db, p.s_out = da, db, F - fmt.fl
    p.ct, p.ua, p.ub = _container(dta, dtb)
    p.small = _small_level(max(abs(lo), abs(hi)), p.s_out, fmt) if not (p.ua or p.ub) else 0
    p.ta, p.tb = _word_code(p.ct, p.ua), _word_code(p.ct, p.ub)
    return p


def _binary(op: str, a, b, fmt, rounding, overflow, r, eps, v, sr_rule, source, draws, out=None):
    key = None
    if (out is None and v is None and source is None and draws is None
            and a.__class__ is FixedArray and b.__class__ is FixedArray):
        # eps's type in the key: 0, 0.0 and False are equal keys but not equally valid
        key = (op, a.fmt, b.fmt, fmt, rounding, overflow, r, eps, eps.__class__, sr_rule)
        try:
            fast = _SMALL_BINOPS.get(key)
        except TypeError:                  # an unhashable argument: refused below
            fast = key = None
        if fast is not None:
            res = fast(a, b)
            if res is not None:
                return res
    _check_fixed("a", a)
    _check_fixed("b", b)
    try:
        p = _binary_plan(op, a.fmt, b.fmt, fmt, rounding, overflow, r, eps, sr_rule, a.raw.dtype,
                         b.raw.dtype)
    except (ValueError, TypeError):      # the checks' order: modes, source, then the rest
        _check_modes(rounding, overflow, r, eps, sr_rule)
        _check_source(source, draws)
        raise
    if source is not None or draws is not None:
        _check_source(source, draws)
    if (key is not None and p.c.plain and r is None and fmt.__class__ in (str, QFormat, type(None))
            and rounding.__class__ is str and overflow.__class__ is str):
        if len(_SMALL_BINOPS) >= 512:
            _SMALL_BINOPS.clear()
        _SMALL_BINOPS[key] = SmallBinop(p.code, p.c.kspec, p.da, p.db, p.s_out, p.fmt, p.small > 0,
                                        _SMALL_LIMIT)
    fmt, c, ct = p.fmt, p.c, p.ct
    ash, bsh = a.shape, b.shape
    if ash == bsh:
        shape = ash
    else:
        try:
            shape = np.broadcast_shapes(ash, bsh)
        except ValueError:
            raise ValueError(f"{op}: shapes {ash} and {bsh} do not broadcast") from None
    n = _nelem(shape)
    direct = ash == shape and bsh == shape
    if n <= _CHUNK and c.plain and out is None:
        # the common small call: one kernel call on one thread, operands made flat here
        ra = _flat_words(a.raw, ct) if ash == shape else _flat_block(a.raw, shape, (), ct)
        rb = _flat_words(b.raw, ct) if bsh == shape else _flat_block(b.raw, shape, (), ct)
        res = np.empty(shape, fmt.dtype)
        cnt, errs, errpos = _small_buffers()
        cnt.fill(0)
        if n:
            K.binop(p.code, ra.view(_I8), p.ta, rb.view(_I8), p.tb, res.reshape(-1).view(_I8),
                    p.da, p.db, p.s_out, p.small, c.kspec, _NO_DRAWS, False, _NO_V, False, cnt,
                    errs, errpos, 1)
        if errs[0]:
            errs_c, errpos_c = errs.copy(), errpos.copy()
            errs[0] = 0
            _raise_errors(op, errs_c, errpos_c, cnt[0, 3], shape, c, what="the result")
        if _counters.active():
            _counters.record(op, "out", fmt, cnt[0])
        return FixedArray._wrap(res, fmt)
    copies = sum(w.size * np.dtype(ct).itemsize for w in (a.raw, b.raw)
                 if direct and not _is_flat(w, ct))
    fed = _feeds(c, source, draws)
    _check_memory(op, shape, n * (fmt.dtype.itemsize + (8 if c.stochastic else 0)) + copies)
    vs, uv = _vsign([c], v, shape, op) if c.signed_v else (_NO_V, False)
    target = None
    if out is not None:
        target = _check_out(op, out, fmt, shape, (("a", a), ("b", b), ("v", v), ("draws", draws)))
    d, ud, undo = _draws([c], n, source, draws, op) if c.stochastic and not fed else (_NO_DRAWS, False, None)
    if out is None or c.ovf == Overflow.OV_ERROR:
        res = np.empty(n, dtype=fmt.dtype)       # a call that raises leaves out unchanged
    else:
        res = target
    code, ta, tb, da, db, s_out, small = p.code, p.ta, p.tb, p.da, p.db, p.s_out, p.small
    if direct:     # same shapes: flat slices, converted (copied) only where the type differs
        fa_words, fb_words = _flat_words(a.raw, ct), _flat_words(b.raw, ct)

    def call(lo, hi, idx, o, dd, vv, cnt, errs, errpos, th, feed=None):
        if direct:
            ra, rb = fa_words[lo:hi], fb_words[lo:hi]
        else:      # broadcast operands: only this block is materialized
            ra, rb = _flat_block(a.raw, shape, idx, ct), _flat_block(b.raw, shape, idx, ct)
        K.binop(code, ra.view(np.int8), ta, rb.view(np.int8), tb, o, da, db, s_out, small, c.spec(),
                dd, ud or fed, vv, uv, cnt, errs, errpos, th, feed)
    blocks = None if direct else _row_blocks(shape, _FEED_BLOCK if fed and _threads > 1 else _BLOCK)
    if fed:
        _fed(_run_cast, op, call, n, res, shape, c, vs, uv, blocks, "the result", source)
    else:
        _run_cast(op, call, n, res, shape, c, d, ud, vs, uv, blocks, "the result", undo)
    return _result(res, shape, fmt, out, target)


def compiled_binop(op: str, a: FixedArray, b: FixedArray, fmt=None, mode=None):
    """The compiled small-call form of ``op(a, b, fmt, mode=mode)`` (op: add, sub or mul) for
    operands of ``a``'s and ``b``'s formats, or None (a stochastic mode, arguments the call
    refuses): a ``SmallBinop``, whose call returns the FixedArray (words and counters of the
    explicit call) or None when it does not apply (the caller then makes the explicit call).
    The operators keep one per formats and context.

    >>> a, b = cast([1.5, -0.25], "Q4.4"), cast([0.5, 2.0], "Q4.4")
    >>> f = compiled_binop("mul", a, b, "Q4.4", CastMode("nearest_even", "saturate"))
    >>> f(a, b).to_float(), mul(a, b, "Q4.4", "nearest_even", "saturate").to_float()
    (array([ 0.75, -0.5 ]), array([ 0.75, -0.5 ]))
    >>> compiled_binop("mul", a, b, "Q4.4", CastMode("stochastic", "saturate", r=8)) is None
    True
    """
    try:
        rounding, overflow, r, eps, sr_rule = _mode_args(op, mode, _RND, _OVF, _R, _EPS, _RULE)
        p = _binary_plan(op, a.fmt, b.fmt, fmt, rounding, overflow, r, eps, sr_rule, a.raw.dtype,
                         b.raw.dtype)
    except (ValueError, TypeError):
        return None
    if not p.c.plain or r is not None:
        return None
    return SmallBinop(p.code, p.c.kspec, p.da, p.db, p.s_out, p.fmt, p.small > 0, _SMALL_LIMIT)


_WORD_CODES = {np.dtype(f"{k}{size}"): Word[f"WORD_{k.upper()}{8 * size}"]
               for k in "iu" for size in (1, 2, 4, 8)}


def _word_code(dtype, u64: bool = False) -> int:
    """The kernels' code of a word container (``Word``); u64: an int64 container
    that holds uint64 words."""
    return int(Word.WORD_U64 if u64 else _WORD_CODES[np.dtype(dtype)])


def _is_flat(raw: np.ndarray, dtype) -> bool:
    return raw.dtype == dtype and raw.flags.c_contiguous and raw.flags.writeable


def _flat_words(raw: np.ndarray, dtype) -> np.ndarray:
    """``raw`` flattened in C order as a writable-typed contiguous array of ``dtype`` that the
    kernels only read: the caller's own buffer only when it already is exactly that."""
    if _is_flat(raw, dtype):
        return raw.reshape(-1)
    return np.array(raw, dtype=dtype, order="C", copy=True).reshape(-1)


def add(a, b, fmt=None, rounding=_RND, overflow=_OVF, *, r=_R, eps=_EPS, v=None, sr_rule=_RULE,
        source=None, draws=None, mode=None, out=None) -> FixedArray:
    """a + b, exact at fraction length max(fl_a, fl_b), then cast to ``fmt`` (default: the exact
    full-precision format).  ``mode``: a ``CastMode`` for the cast, as in ``cast``; ``out``: where
    the words go, as in ``cast`` (add, sub and mul take both).

    >>> a, b = cast([1.5, -0.25], "Q4.4"), cast([0.125, 0.0625], "Q(8,8)")
    >>> c = add(a, b); c.fmt, c.to_float()
    (QFormat(wl=13, fl=8, signed=True), array([ 1.625 , -0.1875]))
    >>> add(a, b, fmt="Q4.2", rounding="floor").to_float()
    array([ 1.5 , -0.25])
    """
    if floatops.is_float_call(a, b, fmt):
        return _float_binary("add", a, b, fmt, mode, rounding, overflow, r, eps, v, sr_rule,
                             source, draws, out)
    rounding, overflow, r, eps, sr_rule = _mode_args("add", mode, rounding, overflow, r, eps, sr_rule)
    return _binary("add", a, b, fmt, rounding, overflow, r, eps, v, sr_rule, source, draws, out)


def sub(a, b, fmt=None, rounding=_RND, overflow=_OVF, *, r=_R, eps=_EPS, v=None, sr_rule=_RULE,
        source=None, draws=None, mode=None, out=None) -> FixedArray:
    """a - b, exact, then cast to ``fmt`` (default: the exact full-precision format, signed).

    >>> sub(cast(1.0, "Q4.4"), cast(0.0625, "Q4.4"), fmt="Q4.2", rounding="nearest_even").raw   # 0.9375 = 3.75 LSB
    array(4, dtype=int8)
    """
    if floatops.is_float_call(a, b, fmt):
        return _float_binary("sub", a, b, fmt, mode, rounding, overflow, r, eps, v, sr_rule,
                             source, draws, out)
    rounding, overflow, r, eps, sr_rule = _mode_args("sub", mode, rounding, overflow, r, eps, sr_rule)
    return _binary("sub", a, b, fmt, rounding, overflow, r, eps, v, sr_rule, source, draws, out)


def mul(a, b, fmt=None, rounding=_RND, overflow=_OVF, *, r=_R, eps=_EPS, v=None, sr_rule=_RULE,
        source=None, draws=None, mode=None, out=None) -> FixedArray:
    """a * b, exact (fraction length fl_a + fl_b), then cast to ``fmt`` (default: the exact
    full-precision format, wl = wl_a + wl_b).

    >>> p = mul(cast(1.5, "Q4.4"), cast(-0.75, "Q4.4")); p.fmt, float(p)
    (QFormat(wl=16, fl=8, signed=True), -1.125)
    >>> float(mul(cast(7.5, "Q4.4"), cast(7.5, "Q4.4"), fmt="Q4.4", overflow="saturate"))
    7.9375
    """
    if floatops.is_float_call(a, b, fmt):
        return _float_binary("mul", a, b, fmt, mode, rounding, overflow, r, eps, v, sr_rule,
                             source, draws, out)
    rounding, overflow, r, eps, sr_rule = _mode_args("mul", mode, rounding, overflow, r, eps, sr_rule)
    return _binary("mul", a, b, fmt, rounding, overflow, r, eps, v, sr_rule, source, draws, out)


# -- dot products ----------------------------------------------------------------------------

class _MacPlan:
    """What a dot product derives from its formats, inner length and modes alone (``_mac``)."""
    __slots__ = ("fa", "fb", "acc", "fmt", "cp", "ca", "co", "casts", "per_el", "sa", "sp",
                 "fl_p", "fl_acc", "ua", "ub", "amax", "bmax", "lane")


_MAC_PLANS = {}    # calls without v/draws: (op, formats, K, dtypes, modes and their types) -> plan


def _mac(op, A: FixedArray, B: FixedArray, out_shape, acc, prod, fmt, call: tuple, roles: tuple,
         v, source, draws) -> FixedArray:
    """Shared driver: A is (M, K) raw, B is (K, N) raw; every output is a spec §4 dot.  call:
    the call's (rounding, overflow, r, eps, sr_rule); roles: the same for prod, acc, out.
    A call without v and draws keeps its checked plan (``_MacPlan``) for the next call with
    equal arguments of the same types (a source is checked on every call)."""
    key = None
    if v is None and draws is None:
        key = (op, A.fmt, B.fmt, A.shape[1], A.raw.dtype, B.raw.dtype, acc, prod, fmt,
               acc.__class__, prod.__class__, fmt.__class__, call, roles,
               tuple(x.__class__ for x in call), tuple(x.__class__ for t in roles for x in t))
        try:
            plan = _MAC_PLANS.get(key)
        except TypeError:                  # an unhashable argument: refused below
            plan = key = None
        if plan is not None:
            _check_source(source, draws)
            return _mac_run(plan, op, A, B, out_shape, v, source, draws)
    plan = _mac_plan(op, A, B, acc, prod, fmt, call, roles, source, draws)
    if key is not None:
        if len(_MAC_PLANS) >= 512:
            _MAC_PLANS.clear()
        _MAC_PLANS[key] = plan
    return _mac_run(plan, op, A, B, out_shape, v, source, draws)


def _mac_plan(op, A: FixedArray, B: FixedArray, acc, prod, fmt, call: tuple, roles: tuple,
              source, draws) -> _MacPlan:
    """The checks and formats of ``_mac`` (ValueError on a refused call)."""
    _check_modes(*call)
    for role, (rounding, overflow, *_) in zip(("prod", "acc", "out"), roles):
        check_name(f"{role}_rounding", rounding, ROUNDING)
        check_name(f"{role}_overflow", overflow, OVERFLOW)
    _check_source(source, draws)
    fa, fb = A.fmt, B.fmt
    Kd = A.shape[1]
    prod = None if prod is None else qformat(prod)
    acc = None if acc is None else qformat(acc)
    pext = [x * y for x in (fa.min_raw, fa.max_raw) for y in (fb.min_raw, fb.max_raw)]
    if max(abs(e) for e in pext) >= _EXACT_LIMIT:
        raise ValueError(f"{op}: products of {fa} and {fb} do not fit a signed 128-bit intermediate")
    cp = ca = co = None
    if prod is not None:
        cp = _Cast(prod, *roles[0])
        fl_p, p_lo, p_hi = prod.fl, prod.min_raw, prod.max_raw
    else:
        fl_p, p_lo, p_hi = fa.fl + fb.fl, min(pext), max(pext)
    if acc is not None:
        ca = _Cast(acc, *roles[1])
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
        co = _Cast(fmt, *roles[2])
    casts = [cp, ca, co]
    per_el = (Kd if cp is not None and cp.stochastic else 0) + (Kd if ca is not None and ca.stochastic else 0) \
        + (1 if co is not None and co.stochastic else 0)
    # the MAC kernels read int64 words; uint64 words travel as int64 bits with a flag
    ua, ub = A.raw.dtype == np.uint64, B.raw.dtype == np.uint64
    amax = max(abs(fa.min_raw), fa.max_raw)
    bmax = max(abs(fb.min_raw), fb.max_raw)
    lane = None
    if (cp is None and ca is not None and sa >= 1 and ca.ovf != Overflow.OV_ERROR and not ua
            and not ub and (co is None or not co.stochastic)):
        lane = _round_lane(ca, acc, sa, amax, bmax)
    p = _MacPlan()
    p.fa, p.fb, p.acc, p.fmt, p.cp, p.ca, p.co = fa, fb, acc, fmt, cp, ca, co
    p.casts, p.per_el, p.sa, p.sp, p.fl_p, p.fl_acc = casts, per_el, sa, sp, fl_p, fl_acc
    p.ua, p.ub, p.amax, p.bmax, p.lane = ua, ub, amax, bmax, lane
    return p


def _mac_run(p: _MacPlan, op, A: FixedArray, B: FixedArray, out_shape, v, source,
             draws) -> FixedArray:
    """The dot products of a checked plan: the kernel, the output cast, the counters."""
    fa, fb, acc, fmt, cp, ca, co = p.fa, p.fb, p.acc, p.fmt, p.cp, p.ca, p.co
    casts, per_el, sa, sp, fl_p, fl_acc = p.casts, p.per_el, p.sa, p.sp, p.fl_p, p.fl_acc
    ua, ub, amax, bmax, lane = p.ua, p.ub, p.amax, p.bmax, p.lane
    M, Kd = A.shape
    N = B.shape[1]
    ra, rb = A.raw, B.raw     # converted below, once, to what the chosen kernel reads
    # a rounding MAC array fed by a BitSource draws tile by tile: no draws array
    streamed = lane is not None and ca.stochastic and draws is None and isinstance(source, BitSource)
    work = M * N * (8 + 8 * (0 if streamed else per_el)) + 8 * (A.size + B.size)
    _check_memory(op, out_shape, work)
    vs, uv = _vsign(casts, v, out_shape, op)
    if streamed:
        source._check_r(_draw_r(casts, source, draws, op))
        d, ud, undo = _NO_DRAWS, False, None
    else:
        d, ud, undo = _draws(casts, M * N * per_el, source, draws, op)

    res = None
    if lane is not None:
        res = _round_lanes(op, ra, rb, ca, acc, sa, lane, d, ud, vs, uv,
                           source if streamed else None)
    elif per_el == 0 and cp is None and not ua and not ub:
        if ca is None and Kd * amax * bmax < 2**53:
            # exact in float64: BLAS computes the exact integer sums
            acc_raw = np.matmul(ra.astype(np.float64), rb.astype(np.float64)).astype(np.int64)
            res = acc_raw
        elif ca is not None and sa == 0 and ca.ovf != Overflow.OV_ERROR and acc.wl <= 62:
            res = _lanes(ra, rb, sp, ca, acc, amax, bmax, op)
    if res is not None:
        if co is None:
            raw = res.astype(fmt.dtype)
        else:
            flat = res.reshape(-1).astype(np.int64)
            raw = np.empty(flat.size, dtype=fmt.dtype)
            s_o = fl_acc - fmt.fl
            small = _small(int(np.abs(flat).max()), s_o) if flat.size else True

            def call(lo, hi, idx, o, dd, vv, cnt, errs, errpos, th, feed=None):
                K.cast_raw(flat[lo:hi].view(np.int8), _word_code(flat.dtype), o, s_o, small, co.spec(),
                           _NO_DRAWS, False, _NO_V, False, cnt, errs, errpos, th)
            _run_cast(op, call, flat.size, raw, out_shape, co, what="the result", undo=undo)
        return FixedArray._wrap(raw.reshape(out_shape), fmt)

    ra = np.ascontiguousarray(ra, dtype=np.int64)     # const in the kernel: only read
    rb = np.ascontiguousarray(rb, dtype=np.int64)
    out = np.empty((M, N), dtype=np.int64)
    cnt = np.zeros((max(M, 1), 4, 5), dtype=np.int64)
    errs = np.zeros(max(M, 1), dtype=np.int32)
    errpos = np.zeros(max(M, 1), dtype=np.int64)
    pspec = (cp.spec() if cp else None, fa.fl + fb.fl - fl_p)
    aspec = (ca.spec() if ca else None, sa, sp, sa)
    ospec = (co.spec() if co else None, fl_acc - fmt.fl)
    rows = max(1, _BLOCK_MACS // max(1, N * Kd))      # rows per kernel call (Ctrl-C between)
    for i0 in range(0, M, rows):
        i1 = min(M, i0 + rows)
        _mac_kernels.dot_generic(ra[i0:i1], rb, out[i0:i1], ua, ub, pspec, aspec, ospec,
                      d[i0 * N * per_el:i1 * N * per_el] if ud else d, ud,
                      vs[i0 * N:i1 * N] if uv else vs, uv, cnt[i0:i1], errs[i0:i1], errpos[i0:i1],
                      _mac_threads(i1 - i0, (i1 - i0) * N * max(Kd, 1)))
        errpos[i0:i1] += i0 * N
    tot = cnt.sum(axis=0)
    # which cast failed first is not kept per element; name the output format when it is the
    # one in 'error' mode, else the first cast in 'error' mode
    culprit = next((c for c in (co, ca, cp) if c is not None and c.ovf == Overflow.OV_ERROR),
                   co or ca or cp)
    _finish(op, errs, errpos, tot[3, 3], out_shape,
            [(role, c, tot[row]) for role, c, row in (("prod", cp, 0), ("acc", ca, 1), ("out", co, 2))
             if c is not None], culprit, "the result", undo)
    return FixedArray._wrap(out.astype(fmt.dtype).reshape(out_shape) if fmt.dtype != np.int64
                            else out.reshape(out_shape), fmt)


def _lanes(ra, rb, sp, ca: _Cast, acc: QFormat, amax, bmax, op):
    """Vectorized MAC array for an accumulator cast that never rounds (products aligned by a
    left shift): int32 lanes where the bound allows, else int64 (or float64 BLAS when the sums
    provably stay in range: ``_unsaturated_sums``).  Returns None if neither fits.
    The lane copies of A and B are fxsim's own (A is shifted in place)."""
    prod_max = (amax << sp) * bmax
    acc_max = max(abs(acc.min_raw), acc.max_raw)
    lo = -acc.max_raw if (ca.ovf == Overflow.OV_SATURATE_SYMMETRIC and acc.signed) else acc.min_raw
    for lane, bits in ((np.int32, 31), (np.int64, 63)):
        if prod_max + acc_max < 2**bits and (amax << sp) < 2**bits:
            sums = _unsaturated_sums(ra, rb, sp, min(acc.max_raw, -lo))
            if sums is not None:           # integers in the accumulator's range, as float64
                _counters.record(op, "acc", acc, (sums.size * ra.shape[1], 0, 0, 0, 0))
                return sums
            A = np.array(ra, dtype=lane, order="C", copy=True)
            if sp:
                A <<= sp
            B = np.ascontiguousarray(rb, dtype=lane)       # only read
            M, N, Kd = A.shape[0], B.shape[1], A.shape[1]
            out = np.empty((M, N), dtype=lane)
            novf = np.zeros(max(M, 1), dtype=np.int64)
            bmax_data = int(np.abs(B).max()) if B.size else 0     # chunks that cannot overflow
            rows = max(1, _BLOCK_LANE_MACS // max(1, N * Kd))
            for i0 in range(0, M, rows):
                i1 = min(M, i0 + rows)
                _mac_kernels.matmul_acc_lanes(A[i0:i1], B, out[i0:i1], lane(lo), lane(acc.max_raw), ca.ovf == Overflow.OV_WRAP,
                                   acc.wl, acc.signed, novf[i0:i1], _mac_threads(i1 - i0, (i1 - i0) * N * Kd),
                                   (amax << sp) < 2**31 and bmax < 2**31, bmax_data)
            _counters.record(op, "acc", acc, (M * N * Kd, 0, 0, int(novf.sum()), 0))
            return out
    return None


_BLAS_MIN_MACS = 1 << 14   # below this the MAC lanes are cheaper than the float64 copies
_PROOF_ROWS = 64           # rows the row-sum bound leaves unproven that are checked one by one


def _unsaturated_sums(ra, rb, sp, limit):
    """(ra << sp) @ rb by float64 BLAS when no partial sum of any of its dot products can
    exceed ``limit`` in magnitude: the accumulator then never saturates or wraps, so the
    per-step cast is the identity and the exact sums are its words (every partial sum is an
    integer below 2**53, which float64 holds exactly, in any summation order).  The proof:
    K * max|a| * max|b| <= limit (from the words), else max_i sum_k |a_ik| * max|b| <= limit,
    else, for the at most _PROOF_ROWS rows that bound leaves, the exact max of their row of
    |A| @ |B| (in int64).  None when the proof fails or the call is small; rows go in blocks
    (Ctrl-C between).  limit < 2**52 keeps the float64 row sums
    honest: one that rounds is far above it."""
    M, Kd = ra.shape
    N = rb.shape[1]
    if M * N * Kd < _BLAS_MIN_MACS or limit >= 2**52:
        return None
    amax = max(int(ra.max()), -int(ra.min())) << sp
    bmax = max(int(rb.max()), -int(rb.min()))
    rows = max(1, _BLOCK_LANE_MACS // (N * Kd))
    scale = 2.0**sp                                    # exact: a power of two
    # the proof reads |A| a block of rows at a time: at most one float64 copy of B (|B|) is
    # held besides them, freed before the copies of A and B that the sums read, so the
    # peak stays within _mac_run's estimate (output plus one 8-byte copy of A and of B)
    if Kd * amax * bmax > limit:
        row_sums = np.concatenate([np.abs(ra[i0:i0 + rows], dtype=np.float64).sum(axis=1)
                                   for i0 in range(0, M, rows)])
        # only the rows the row-sum bound does not clear need |A| @ |B|, the largest first:
        # an accumulator that does saturate is found after a few rows, not a whole product
        unproven = np.nonzero(row_sums * (scale * bmax) > limit)[0]
        if unproven.size:
            if Kd * amax * bmax >= 2**52:
                return None                            # |A| @ |B| itself might not be exact
            if unproven.size > _PROOF_ROWS:
                return None
            # exact int64 products summed by numpy, not BLAS (BLAS threads left spinning after
            # a call slow the MAC lanes' OpenMP threads that follow when the proof fails, on 2
            # cores) and not numpy's integer matmul (a slow loop)
            ab = np.abs(rb.astype(np.int64))
            for k in unproven[np.argsort(-row_sums[unproven], kind="stable")]:
                col = np.abs(ra[k].astype(np.int64))[:, None]
                if int((ab * col).sum(axis=0).max()) << sp > limit:
                    return None
            del ab
    a = ra.astype(np.float64)
    if sp:
        a *= scale
    b = rb.astype(np.float64)
    out = np.empty((M, N))
    for i0 in range(0, M, rows):
        np.matmul(a[i0:i0 + rows], b, out=out[i0:i0 + rows])
    return out


def _mac_threads(tasks: int, work: int, threads=None) -> int:
    """Threads for a MAC kernel call of ``tasks`` parallel tasks (rows or parts): never more
    than the tasks, since an idle team member still costs a barrier wait, which on a loaded
    machine is a scheduler time slice (milliseconds)."""
    return max(1, min(_threads if threads is None else threads, tasks, _nthreads(work)))


def _round_lane(ca: _Cast, acc: QFormat, sa: int, amax: int, bmax: int):
    """The lane type of the rounding MAC array (``_round_lanes``) for words |a| <= amax,
    |b| <= bmax: int32 when every intermediate (acc << sa) + a*b, and the SR unit's sum
    A + 2R < 2**(r+2), fit 31 bits; else int64 when they fit 62 bits; else None."""
    if amax >= 2**31 or bmax >= 2**31 or acc.wl > 62:
        return None
    if ca.stochastic and ca.rule == SRRule.SR_TT_SFPU:
        return None          # sign-magnitude and moving exact sums: the scalar dot (dot_generic)
    vmax = (max(abs(acc.min_raw), acc.max_raw) << sa) + amax * bmax + (1 << sa)
    r = ca.r if ca.stochastic else 0
    if vmax < 2**31 and acc.wl <= 31 and r <= 28:
        return np.int32
    if vmax < 2**62 and r <= 60:
        return np.int64
    return None


_MAC_WORDS = {np.dtype(t): t.__name__ + "_t" for t in (np.int8, np.int16, np.int32)}
_ONE_PART = np.array([0, 1], dtype=np.int64)


def _mac_kernel(words, lane):
    """mac_round's compiled version for these word and lane types: the fused-type dispatch
    costs more than the chain of a short dot product."""
    k = _mac_kernels.mac_round
    sigs = getattr(k, "__signatures__", None)
    return k if sigs is None else sigs.get(f"{_MAC_WORDS[words]}|{lane.__name__}_t", k)


_UNLOCKED = contextlib.nullcontext()       # reusable: it holds nothing


def _mac_caps(source, starts, r):
    """(capsules, lock) of the MAC parts that start at draws ``starts[:-1]`` (``starts[-1]``:
    the end): private copies of ``source`` jumped to each start, or, for a source that cannot
    jump, the source itself once per part, read in turn with its lock held; none without one."""
    if source is None:
        return [], _UNLOCKED
    subs = source._substreams(starts, r)
    if subs is not None:
        return [s.capsule for s in subs], _UNLOCKED
    return [source.capsule] * (len(starts) - 1), source.lock


def _round_dot(op, ra, rb, ca: _Cast, acc: QFormat, sa, lane, d, ud, vs, uv, source):
    """``_round_lanes`` for one output element (a dot product): the words read as stored
    when both have one type of at most 32 bits (a copy would cost more than the chain), one
    kernel call on one thread."""
    if ra.dtype == rb.dtype and ra.dtype in _MAC_WORDS:
        A, B = np.ascontiguousarray(ra), np.ascontiguousarray(rb)     # only read
    else:
        A, B = np.ascontiguousarray(ra, dtype=np.int32), np.ascontiguousarray(rb, dtype=np.int32)
    out = np.empty((1, 1), dtype=lane)
    cnt = np.zeros((1, 5), dtype=np.int64)
    caps, lock = _mac_caps(source, [0, A.shape[1]], ca.r)
    with lock:
        _mac_kernel(A.dtype, lane)(A, B, out, ca.spec(), sa, _ONE_PART, caps, d, ud, vs, uv,
                                   cnt, 1)
    _counters.record(op, "acc", acc, tuple(cnt[0].tolist()))
    return out


def _round_lanes(op, ra, rb, ca: _Cast, acc: QFormat, sa, lane, d, ud, vs, uv, source):
    """The MAC array whose accumulator cast rounds (``_mac.mac_round``): exact products at
    fl_acc + sa.  The output elements (C order) are cut into parts, a kernel call running one
    part per thread (Ctrl-C is seen between calls).  A stochastic cast reads ``d`` (``ud``),
    or, given ``source``, draws from private copies of it jumped to each part's first draw
    (``source._substreams``), or, for a source that cannot jump, from the source itself, one
    part after the other with its lock held."""
    M, Kd = ra.shape
    shape = (M, rb.shape[1])
    if shape[1] == 1 and M > 1:
        # a matrix-vector product runs the array across the rows of A, as out^T = x^T A^T:
        # the same elements in the same order, so the same draws
        A = np.ascontiguousarray(rb.T, dtype=np.int32)
        B = np.empty((Kd, M), dtype=np.int32)          # A^T, copied in panels of 64 rows of A
        for i0 in range(0, M, _MAC_TILE):               # (1.6x faster than one strided copy)
            B[:, i0:i0 + _MAC_TILE] = ra[i0:i0 + _MAC_TILE].T
    elif shape == (1, 1):
        return _round_dot(op, ra, rb, ca, acc, sa, lane, d, ud, vs, uv, source)
    else:
        A = np.ascontiguousarray(ra, dtype=np.int32)     # only read
        B = np.ascontiguousarray(rb, dtype=np.int32)
    N = B.shape[1]
    n = A.shape[0] * N
    out = np.empty((A.shape[0], N), dtype=lane)
    per = max(Kd, 1)
    part = max(1, min(-(-n // (4 * _threads)), _BLOCK_LANE_MACS // (per * _threads)))
    if part > _MAC_TILE:
        part = -(-part // _MAC_TILE) * _MAC_TILE       # whole tiles
    cuts = np.array(list(range(0, n, part)) + [n], dtype=np.int64)
    P = len(cuts) - 1
    caps, lock = _mac_caps(source, [int(c) * Kd for c in cuts], ca.r)
    threads = _threads if lock is _UNLOCKED else 1      # the source's own state: one reader
    cnt = np.zeros((max(P, 1), 5), dtype=np.int64)
    step = max(1, _BLOCK_LANE_MACS // (part * per)) * threads
    with lock:
        for p0 in range(0, P, step):
            p1 = min(P, p0 + step)
            _mac_kernels.mac_round(A, B, out, ca.spec(), sa, cuts[p0:p1 + 1], caps[p0:p1], d, ud,
                                   vs, uv, cnt[p0:p1], _mac_threads(p1 - p0, (p1 - p0) * part * per, threads))
    _counters.record(op, "acc", acc, tuple(int(t) for t in cnt.sum(axis=0)))
    return out.reshape(shape)


def _float_mac(op, x, y, acc, prod, fmt, mode, rounding, overflow, r, eps, sr_rule, role_kw,
               v, source, draws):
    """dot/matvec/matmul with FloatArray operands (``floatops.mac``): shapes checked as for
    fixed point, the roles' modes resolved as ``_role_args`` does."""
    nd = {"dot": (1, 1), "matvec": (2, 1), "matmul": (2, 2)}[op]
    if (getattr(x, "ndim", None), getattr(y, "ndim", None)) != nd:
        raise ValueError(f"{op}: operands must be {nd[0]}-D and {nd[1]}-D, got shapes "
                         f"{np.shape(x)} and {np.shape(y)}")
    inner = x.shape[-1]
    if y.shape[0] != inner:
        raise ValueError(f"{op}: inner dimensions differ: {x.shape} and {y.shape}")
    call = _float_args(op, mode, rounding, overflow, r, eps, sr_rule)
    roles = tuple(_role_args(op, role, *role_kw[3 * k:3 * k + 3], call)
                  for k, role in enumerate(("prod", "acc", "out")))
    shape = {"dot": (), "matvec": (x.shape[0],), "matmul": (x.shape[0], y.shape[-1])}[op]
    res = floatops.mac(op, x, y, shape, acc, prod, fmt, roles, v, source, draws, _threads)
    return FixedArray._wrap(*res) if isinstance(res, tuple) else res


def dot(a, b, acc=None, prod=None, fmt=None, rounding=_RND, overflow=_OVF, *,
        prod_rounding=None, prod_overflow=None, acc_rounding=None, acc_overflow=None,
        out_rounding=None, out_overflow=None, r=_R, eps=_EPS, v=None, sr_rule=_RULE,
        source=None, draws=None, mode=None, prod_mode=None, acc_mode=None,
        out_mode=None) -> FixedArray:
    """Dot product of two 1-D FixedArrays in the spec §4 order: p_k = cast(a_k b_k, prod),
    acc_{k+1} = cast(acc_k + p_k, acc), result cast(acc_K, fmt).  ``prod``/``acc`` None: exact;
    ``fmt`` None: the accumulator's format (no output cast) or, with an exact accumulator, the
    exact full-precision format.  ``mode``: a ``CastMode`` for every cast instead of
    rounding/overflow/r/eps/sr_rule; ``prod_mode``/``acc_mode``/``out_mode``: a whole
    ``CastMode`` for one role (instead of its ``*_rounding``/``*_overflow``).

    >>> a = cast([0.5, 0.25, -0.125], "Q(16,8)")
    >>> b = cast([1.0, 2.0, 4.0], "Q(8,4)")
    >>> float(dot(a, b))
    0.5
    >>> s = dot(a, b, acc="Q(8,7)", overflow="saturate"); s.fmt, float(s)   # 0.5+0.5 saturates, then -0.5
    (QFormat(wl=8, fl=7, signed=True), 0.4921875)
    >>> float(dot(a, b, acc="Q(8,7)", mode=CastMode("nearest_even", "wrap")))   # 1.0 wraps to -1.0, -1.5 to 0.5
    0.5
    """
    if floatops.is_float_call(a, b):
        return _float_mac("dot", a, b, acc, prod, fmt, mode, rounding, overflow, r, eps,
                          sr_rule, (prod_mode, prod_rounding, prod_overflow, acc_mode,
                                    acc_rounding, acc_overflow, out_mode, out_rounding,
                                    out_overflow), v, source, draws)
    _check_fixed("a", a)
    _check_fixed("b", b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: a and b must be 1-D, got shapes {a.shape} and {b.shape}")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"dot: length mismatch, a has {a.shape[0]} elements and b has {b.shape[0]}")
    call = _mode_args("dot", mode, rounding, overflow, r, eps, sr_rule)
    roles = (_role_args("dot", "prod", prod_mode, prod_rounding, prod_overflow, call),
             _role_args("dot", "acc", acc_mode, acc_rounding, acc_overflow, call),
             _role_args("dot", "out", out_mode, out_rounding, out_overflow, call))
    return _mac("dot", a.reshape(1, -1), b.reshape(-1, 1), (), acc, prod, fmt, call, roles, v, source, draws)


def matvec(A, x, acc=None, prod=None, fmt=None, rounding=_RND, overflow=_OVF, *,
           prod_rounding=None, prod_overflow=None, acc_rounding=None, acc_overflow=None,
           out_rounding=None, out_overflow=None, r=_R, eps=_EPS, v=None, sr_rule=_RULE,
           source=None, draws=None, mode=None, prod_mode=None, acc_mode=None,
           out_mode=None) -> FixedArray:
    """A (M, K) times x (K,): every output is a ``dot`` of a row of A with x.

    >>> import numpy as np
    >>> A = cast(np.array([[1.0, 2.0], [3.0, 4.0]]), "Q(8,4)")
    >>> x = cast([0.5, -1.0], "Q(8,4)")
    >>> matvec(A, x, acc="Q(16,8)").to_float()
    array([-1.5, -2.5])
    """
    if floatops.is_float_call(A, x):
        return _float_mac("matvec", A, x, acc, prod, fmt, mode, rounding, overflow, r, eps,
                          sr_rule, (prod_mode, prod_rounding, prod_overflow, acc_mode,
                                    acc_rounding, acc_overflow, out_mode, out_rounding,
                                    out_overflow), v, source, draws)
    _check_fixed("A", A)
    _check_fixed("x", x)
    if A.ndim != 2 or x.ndim != 1:
        raise ValueError(f"matvec: A must be 2-D and x 1-D, got shapes {A.shape} and {x.shape}")
    if A.shape[1] != x.shape[0]:
        raise ValueError(f"matvec: inner dimensions differ: A is {A.shape}, x is {x.shape}")
    call = _mode_args("matvec", mode, rounding, overflow, r, eps, sr_rule)
    roles = (_role_args("matvec", "prod", prod_mode, prod_rounding, prod_overflow, call),
             _role_args("matvec", "acc", acc_mode, acc_rounding, acc_overflow, call),
             _role_args("matvec", "out", out_mode, out_rounding, out_overflow, call))
    return _mac("matvec", A, x.reshape(-1, 1), (A.shape[0],), acc, prod, fmt, call, roles, v, source, draws)


def matmul(A, B, acc=None, prod=None, fmt=None, rounding=_RND, overflow=_OVF, *,
           prod_rounding=None, prod_overflow=None, acc_rounding=None, acc_overflow=None,
           out_rounding=None, out_overflow=None, r=_R, eps=_EPS, v=None, sr_rule=_RULE,
           source=None, draws=None, mode=None, prod_mode=None, acc_mode=None,
           out_mode=None) -> FixedArray:
    """A (M, K) times B (K, N): every output element is a ``dot`` (spec §4).

    >>> import numpy as np
    >>> A = cast(np.eye(2) * 0.5, "Q(8,4)")
    >>> B = cast(np.array([[1.0, 2.0], [3.0, 4.0]]), "Q(8,4)")
    >>> matmul(A, B, acc="Q(16,8)", fmt="Q(8,4)").to_float()
    array([[0.5, 1. ],
           [1.5, 2. ]])
    """
    if floatops.is_float_call(A, B):
        return _float_mac("matmul", A, B, acc, prod, fmt, mode, rounding, overflow, r, eps,
                          sr_rule, (prod_mode, prod_rounding, prod_overflow, acc_mode,
                                    acc_rounding, acc_overflow, out_mode, out_rounding,
                                    out_overflow), v, source, draws)
    _check_fixed("A", A)
    _check_fixed("B", B)
    if A.ndim != 2 or B.ndim != 2:
        raise ValueError(f"matmul: A and B must be 2-D, got shapes {A.shape} and {B.shape}")
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"matmul: inner dimensions differ: A is {A.shape}, B is {B.shape}")
    call = _mode_args("matmul", mode, rounding, overflow, r, eps, sr_rule)
    roles = (_role_args("matmul", "prod", prod_mode, prod_rounding, prod_overflow, call),
             _role_args("matmul", "acc", acc_mode, acc_rounding, acc_overflow, call),
             _role_args("matmul", "out", out_mode, out_rounding, out_overflow, call))
    return _mac("matmul", A, B, (A.shape[0], B.shape[1]), acc, prod, fmt, call, roles, v, source, draws)
