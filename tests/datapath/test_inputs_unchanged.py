"""Issue 11.1: no public operation writes into its inputs.

Every public operation (``cast``, ``add``, ``sub``, ``mul``, ``dot``, ``matvec``, ``matmul`` and
the computing FixedArray methods and operators), on every kernel path of fxsim/ops.py, is run on
inputs in several storage variants:

  contig      C-contiguous, writeable (the FixedArray holds the caller's words as given)
  readonly    the same with ``flags.writeable = False`` (a FixedArray whose raw is read-only)
  strided     a ``[::2]`` view of a buffer that interleaves other words
  permuted    2-D: a transposed (F-ordered) view; 1-D: a ``[::-1]`` view (negative stride)
  ro_strided  strided and read-only
  wide        the words handed over in a wider container (int64/uint64, float64): as the
              FixedArray constructor's input, or as the numpy array itself

Every buffer an input owns or views (the FixedArray's raw, the parent it is a view of, the
array given to the constructor, numpy inputs, ``draws=``, ``v=``) is snapshotted before the call;
the operation is called twice, and the test asserts that every buffer is bit-identical (and keeps
its dtype, strides and writeable flag) after each call, that a source moved exactly the draws it
had to give (none for deterministic casts), that both calls give the same words, that the
variant gives the words of the contiguous writeable variant, that the result shares no memory
with an input, and that the result equals the exact reference (tests/reference.py).  A spy on
the Cython kernels checks that each case takes the kernel path it is named after.
"""
from __future__ import annotations

import functools
import zlib
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fxsim
from fxsim import FixedArray, QFormat
from fxsim import ops as fxops
from reference import (ref_add, ref_bin, ref_cast, ref_dot, ref_dot_default_fmt,
                       ref_full_precision, ref_hex, ref_lfsr_draws, ref_mul, ref_sub, value)

VARIANTS = ("contig", "readonly", "strided", "permuted", "ro_strided", "wide")
TAPS16 = (16, 15, 13, 4)          # fxsim.LFSR(16)'s default maximal-length taps
STOCHASTIC = ("stochastic", "stochastic_eps", "signed_stochastic_eps")
KERNELS = ("cast_f64", "cast_f64_streams", "cast_raw", "binop")                 # fxsim._kernels
MAC_KERNELS = ("dot_generic", "matmul_acc_lanes", "mac_round")                  # fxsim._mac
N1 = 23                           # 1-D length (odd)
M, KD, N = 5, 7, 3                # matrix shapes


def Q(fmt) -> QFormat:
    return fmt if isinstance(fmt, QFormat) else QFormat(*fmt)


def tup(q: QFormat) -> tuple:
    return (q.wl, q.fl, q.signed)


def _rng(name: str):
    return np.random.default_rng(zlib.crc32(name.encode()))


def words(fmt, shape, rng) -> np.ndarray:
    """Random raw words of ``fmt`` in its container, the extremes included."""
    q = Q(fmt)
    w = rng.integers(q.min_raw, q.max_raw, size=shape, endpoint=True, dtype=q.dtype)
    flat = w.reshape(-1)
    if flat.size >= 2:
        flat[0], flat[-1] = q.min_raw, q.max_raw
    return w


@functools.lru_cache(maxsize=None)
def lfsr_R(r: int, n: int) -> tuple:
    """The first n r-bit draws of LFSR(16, seed=1), from the pure-Python reference."""
    return tuple(ref_lfsr_draws(16, TAPS16, "galois", "serial", r, 1, n))


@functools.lru_cache(maxsize=None)
def source_state_after(r, n: int):
    s = fxsim.LFSR(16, seed=1)
    if n:
        s.draws(n, r)
    return s.state


# -- input variants and snapshots --------------------------------------------------------------

class Watch:
    """Every buffer of a call's inputs with a private copy of its bytes, its layout and flags."""

    def __init__(self):
        self.arrays, self.fixed = [], []

    def arr(self, name, a):
        self.arrays.append((name, a, np.array(a, copy=True), a.dtype, a.shape, a.strides,
                            bool(a.flags.writeable)))
        return a

    def fx(self, name, fa):
        self.fixed.append((name, fa, fa.raw, fa.fmt))
        self.arr(name + ".raw", fa.raw)
        return fa

    def check(self, when):
        for name, fa, raw, fmt in self.fixed:
            assert fa.raw is raw and fa.fmt == fmt, f"{name}: FixedArray rebound {when}"
        for name, a, snap, dt, shape, strides, w in self.arrays:
            assert (a.dtype, a.shape, a.strides) == (dt, shape, strides), f"{name}: layout changed {when}"
            assert bool(a.flags.writeable) == w, f"{name}: writeable flag changed {when}"
            assert np.ascontiguousarray(a).tobytes() == snap.tobytes(), \
                f"{name}: words changed {when}: {snap.reshape(-1)[:8]} -> {np.asarray(a).reshape(-1)[:8]}"

    def buffers(self):
        return [a for _, a, *_ in self.arrays]


def _interleave(vals, filler):
    parent = np.empty((2 * vals.shape[0],) + vals.shape[1:], dtype=vals.dtype)
    parent[::2] = vals
    parent[1::2] = filler
    return parent


def _wide(dtype):
    if dtype.kind == "f":
        return np.dtype(np.float64)
    return np.dtype(np.uint64) if dtype.kind == "u" else np.dtype(np.int64)


class Fx:
    """A FixedArray input: words (in the format's container) and a format tuple."""

    def __init__(self, w, fmt):
        self.w, self.fmt = w, tuple(fmt)

    def values(self):
        return [value(int(m), self.fmt[1]) for m in self.w.reshape(-1).tolist()]

    def build(self, variant, watch, name):
        """The FixedArray of ``variant``; every buffer is watched once the variant is complete
        (flags set), so that the snapshot holds the state the operation receives."""
        q, w = Q(self.fmt), self.w
        given = parent = None           # the array handed to the constructor, a viewed parent
        if variant == "wide":
            given = w.astype(_wide(w.dtype))
            fa = FixedArray(given, q)
        elif variant in ("strided", "ro_strided") and w.ndim:
            given = _interleave(w, q.max_raw)
            parent = FixedArray(given, q)
            if variant == "ro_strided":
                parent.raw.flags.writeable = False
            fa = parent[::2]
        elif variant == "permuted" and w.ndim:
            given = w[::-1].copy() if w.ndim == 1 else w.T.copy()
            parent = FixedArray(given, q)
            fa = parent[::-1] if w.ndim == 1 else parent.T
        else:
            given = w.copy()
            fa = FixedArray(given, q)
            if variant in ("readonly", "ro_strided"):
                fa.raw.flags.writeable = False
        _check_variant(fa.raw, variant)
        assert np.array_equal(fa.raw, w)
        watch.arr(name + ".ctor_input", given)
        if parent is not None:
            watch.fx(name + ".parent", parent)
        return watch.fx(name, fa)


class Arr:
    """A numpy array input (cast's x, draws=, v=)."""

    def __init__(self, a):
        self.a = a

    def values(self):
        out = []
        for v in self.a.reshape(-1).tolist():      # Python float/int/bool: exact values
            out.append(int(v) if isinstance(v, (bool, int)) else float(v))
        return out

    def build(self, variant, watch, name):
        a = self.a
        if variant == "wide":
            x = a.astype(_wide(a.dtype)) if a.dtype.kind != "b" else a.astype(np.int64)
        elif variant in ("strided", "ro_strided") and a.ndim:
            parent = _interleave(a, a[::-1])
            if variant == "ro_strided":
                parent.flags.writeable = False
            x = watch.arr(name + ".parent", parent)[::2]
        elif variant == "permuted" and a.ndim:
            parent = watch.arr(name + ".parent", a[::-1].copy() if a.ndim == 1 else a.T.copy())
            x = parent[::-1] if a.ndim == 1 else parent.T
        else:
            x = a.copy()
            if variant in ("readonly", "ro_strided"):
                x.flags.writeable = False
        _check_variant(x, variant)
        assert np.array_equal(x, a)
        return watch.arr(name, x)


def _check_variant(a, variant):
    """The variant really is what it is named (guards the test itself)."""
    if variant in ("readonly", "ro_strided"):
        assert not a.flags.writeable
    if variant in ("strided", "ro_strided") and a.ndim and a.shape[0] > 1:
        assert not a.flags.c_contiguous          # [::2] along an axis of length > 1
    if variant == "permuted" and a.ndim and min(a.shape) > 1 and a.size > 1:
        assert not a.flags.c_contiguous          # [::-1], or a transpose of a true matrix


# -- results -----------------------------------------------------------------------------------

def canon(x):
    """A comparable, bit-exact form of a result."""
    if isinstance(x, FixedArray):
        return ("fx", repr(x.fmt), x.shape, x.raw.dtype.str, np.ascontiguousarray(x.raw).tobytes())
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "O":
            return ("obj", x.shape, tuple(x.reshape(-1).tolist()))
        return ("nd", x.dtype.str, x.shape, np.ascontiguousarray(x).tobytes())
    if isinstance(x, (tuple, list)):
        return tuple(canon(v) for v in x)
    if hasattr(x, "bin") and type(x).__module__.startswith("bitstring"):
        return ("bits", x.bin)
    return x


def _arrays_of(x):
    if isinstance(x, FixedArray):
        return [x.raw]
    if isinstance(x, np.ndarray):
        return [x]
    if isinstance(x, (tuple, list)):
        return [a for v in x for a in _arrays_of(v)]
    return []


def raws(fa):
    return [int(m) for m in np.asarray(fa.raw).reshape(-1).tolist()]


def expect_fixed(res, fmt, want, where=None):
    """res is a FixedArray of fmt whose words (C order; at flat positions ``where``) are want."""
    assert isinstance(res, FixedArray)
    assert res.fmt == Q(fmt), (res.fmt, fmt)
    got = raws(res)
    if where is not None:
        got = [got[i] for i in where]
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert len(got) == len(want) and not bad, \
        f"{len(bad)} words differ from the reference; first at {bad[:1]}: " \
        f"{[got[i] for i in bad[:3]]} != {[want[i] for i in bad[:3]]}"


# -- kernel spy --------------------------------------------------------------------------------

class Spy:
    def __init__(self):
        self.calls = []


@pytest.fixture
def spy(monkeypatch):
    s = Spy()
    # the paths checked here are the kernels' general ones: calls that the compiled small path
    # (fxsim._small, tests/datapath/test_small_compiled.py) would serve go to them too
    monkeypatch.setattr(fxsim.ops, "_SMALL_LIMIT", -1)
    monkeypatch.setattr(fxsim.ops, "_SMALL_CAST_LIMIT", -1)
    monkeypatch.setattr(fxsim.ops, "_SMALL_CASTS", {})
    monkeypatch.setattr(fxsim.ops, "_SMALL_BINOPS", {})
    for module, names in ((fxsim._kernels, KERNELS), (fxsim._mac, MAC_KERNELS)):
        for name in names:
            real = getattr(module, name)

            def wrapper(*args, _real=real, _name=name):
                s.calls.append((_name, args))
                return _real(*args)
            monkeypatch.setattr(module, name, wrapper)
    return s


def kernel(name, pred=None, absent=(), what=""):
    def check(calls):
        names = [c[0] for c in calls]
        if not any(c[0] == name and (pred is None or pred(c[1])) for c in calls):
            return f"expected kernel {name}{what}; the call ran {names}"
        if any(n in absent for n in names):
            return f"kernel {name}{what} expected without {absent}; the call ran {names}"
        return None
    return check


def no_kernel(*names):
    def check(calls):
        ran = [c[0] for c in calls]
        return None if not any(n in names for n in ran) else f"expected none of {names}; ran {ran}"
    return check


def both(*checks):
    def check(calls):
        for c in checks:
            msg = c(calls)
            if msg:
                return msg
        return None
    return check


F64 = kernel("cast_f64", absent=("cast_f64_streams",))
STREAMS = kernel("cast_f64_streams", absent=("cast_f64",))
GENERIC = kernel("dot_generic", absent=("matmul_acc_lanes",))
BLAS = no_kernel("dot_generic", "matmul_acc_lanes")


def RAW(small):
    return kernel("cast_raw", lambda a: bool(a[4]) == small, what=f" (small={small})")


def BINOP(level):
    return kernel("binop", lambda a: int(a[9]) == level, what=f" (level {level})")


def LANES(dt):
    return kernel("matmul_acc_lanes", lambda a: np.asarray(a[0]).dtype == dt,
                  absent=("dot_generic",), what=f" ({np.dtype(dt)} lanes)")


# -- cases -------------------------------------------------------------------------------------

class Case:
    def __init__(self, id, inputs, call, check, path=None, src=None, threads=None, blocks=None,
                 fresh=True):
        self.id, self.inputs, self.call, self.check, self.path = id, inputs, call, check, path
        self.src = src              # None, or (r, draws expected): a fresh LFSR(16, seed=1)
        self.threads, self.blocks, self.fresh = threads, blocks, fresh


CASES = []


def _kw(n_in, has_draws, has_v):
    """Indices of draws= and v= among a call's inputs (after the n_in operands)."""
    i = n_in
    di = vi = None
    if has_draws:
        di, i = i, i + 1
    if has_v:
        vi = i
    return di, vi


def cast_case(id, x, fmt, rounding="nearest_even", overflow="saturate", *, r=None, eps=0.0,
              sr_rule="trunc", draws=None, v=None, source=False, path=None, threads=None,
              sample=None):
    """x: an Fx (FixedArray input) or Arr (numpy input); draws: an integer array; v: an Arr or Fx;
    source: True passes LFSR(16, seed=1) (draws expected only for a stochastic rounding)."""
    inputs = [x] + ([Arr(draws)] if draws is not None else []) + ([v] if v is not None else [])
    di, vi = _kw(1, draws is not None, v is not None)
    n = int(np.prod(x.w.shape if isinstance(x, Fx) else x.a.shape))
    sto = rounding in STOCHASTIC

    def call(*ins, src=None):
        return fxsim.cast(ins[0], Q(fmt), rounding, overflow, r=r, eps=eps, sr_rule=sr_rule,
                          draws=None if di is None else ins[di], v=None if vi is None else ins[vi],
                          source=src)

    def check(res):
        xs = x.values()
        R = (list(draws.reshape(-1).tolist()) if draws is not None
             else list(lfsr_R(r, n)) if (source and sto) else None)
        vs = v.values() if v is not None else None
        idx = range(n) if sample is None else sample
        want = [ref_cast(xs[i], *fmt, rounding, overflow, R=None if R is None else int(R[i]), r=r,
                         eps=eps, v=0 if vs is None else vs[i], sr_rule=sr_rule) for i in idx]
        expect_fixed(res, fmt, want, None if sample is None else list(sample))
    CASES.append(Case(id, inputs, call, check, path,
                      src=((r if sto else None), n if sto else 0) if source else None,
                      threads=threads))


def bin_case(id, op, a, b, fmt=None, rounding="nearest_even", overflow="saturate", *, r=None,
             eps=0.0, sr_rule="trunc", draws=False, v=False, source=False, path=None, blocks=None,
             method=False):
    """a, b: (format tuple, shape); draws/v: True adds a draws=/v= input of the broadcast shape."""
    rng = _rng(id)
    A, B = Fx(words(a[0], a[1], rng), a[0]), Fx(words(b[0], b[1], rng), b[0])
    shape = np.broadcast_shapes(a[1], b[1])
    n = int(np.prod(shape))
    sto = rounding in STOCHASTIC
    D = rng.integers(0, 1 << r, n, dtype=np.uint16 if r <= 16 else np.uint64) if draws else None
    V = Arr(rng.standard_normal(shape)) if v else None
    inputs = [A, B] + ([Arr(D)] if draws else []) + ([V] if v else [])
    di, vi = _kw(2, draws, v)
    fn = {"add": fxsim.add, "sub": fxsim.sub, "mul": fxsim.mul}[op]
    ref = {"add": ref_add, "sub": ref_sub, "mul": ref_mul}[op]

    def call(*ins, src=None):
        if method:
            return {"add": ins[0].__add__, "sub": ins[0].__sub__, "mul": ins[0].__mul__}[op](ins[1])
        return fn(ins[0], ins[1], None if fmt is None else Q(fmt), rounding, overflow, r=r, eps=eps,
                  sr_rule=sr_rule, draws=None if di is None else ins[di],
                  v=None if vi is None else ins[vi], source=src)

    def check(res):
        out = fmt if fmt is not None else ref_full_precision(op, a[0], b[0])
        wa, wb = np.broadcast_arrays(A.w.astype(object), B.w.astype(object))
        R = list(D.tolist()) if draws else list(lfsr_R(r, n)) if (source and sto) else None
        vs = np.broadcast_to(V.a, shape).reshape(-1).tolist() if v else None
        want = [ref(int(x), a[0], int(y), b[0], out, rounding, overflow,
                    R=None if R is None else int(R[i]), r=r, eps=eps, v=0 if vs is None else vs[i],
                    sr_rule=sr_rule)
                for i, (x, y) in enumerate(zip(wa.reshape(-1).tolist(), wb.reshape(-1).tolist()))]
        expect_fixed(res, out, want)
    CASES.append(Case(id, inputs, call, check, path,
                      src=((r if sto else None), n if sto else 0) if source else None,
                      blocks=blocks))


def mac_case(id, op, fa, fb, acc=None, prod=None, fmt=None, rounding="nearest_even",
             overflow="saturate", *, r=None, eps=0.0, sr_rule="trunc", draws=False, v=False,
             source=False, path=None, blocks=None, m=M, method=False):
    rng = _rng(id)
    if op == "dot":
        sa, sb, mm, nn, out_shape = (KD,), (KD,), 1, 1, ()
    elif op == "matvec":
        sa, sb, mm, nn, out_shape = (m, KD), (KD,), m, 1, (m,)
    else:
        sa, sb, mm, nn, out_shape = (m, KD), (KD, N), m, N, (m, N)
    A, B = Fx(words(fa, sa, rng), fa), Fx(words(fb, sb, rng), fb)
    sto = rounding in STOCHASTIC
    out_present = fmt is not None and (acc is None or tuple(fmt) != tuple(acc))
    per_el = (KD * (prod is not None) + KD * (acc is not None) + out_present) if sto else 0
    total = mm * nn * per_el
    D = rng.integers(0, 1 << r, total, dtype=np.uint16 if r <= 16 else np.uint64) if draws else None
    V = Arr(rng.standard_normal(out_shape)) if v else None
    inputs = [A, B] + ([Arr(D)] if draws else []) + ([V] if v else [])
    di, vi = _kw(2, draws, v)
    fn = {"dot": fxsim.dot, "matvec": fxsim.matvec, "matmul": fxsim.matmul}[op]
    kw = dict(acc=None if acc is None else Q(acc), prod=None if prod is None else Q(prod),
              fmt=None if fmt is None else Q(fmt), rounding=rounding, overflow=overflow, r=r,
              eps=eps, sr_rule=sr_rule)

    def call(*ins, src=None):
        if method:
            return ins[0] @ ins[1]
        return fn(ins[0], ins[1], draws=None if di is None else ins[di],
                  v=None if vi is None else ins[vi], source=src, **kw)

    def check(res):
        a2 = A.w.reshape(mm, KD).astype(object)
        b2 = B.w.reshape(KD, nn).astype(object)
        R = list(D.tolist()) if draws else list(lfsr_R(r, total)) if (source and sto) else None
        vs = V.a.reshape(-1).tolist() if v else None
        out = fmt if fmt is not None else acc if acc is not None else \
            ref_dot_default_fmt(fa, fb, KD, prod)
        want = []
        for i in range(mm):
            for j in range(nn):
                e = i * nn + j
                d = None if R is None else R[e * per_el:(e + 1) * per_el]
                got = ref_dot([int(t) for t in a2[i]], fa, [int(t) for t in b2[:, j]], fb, acc=acc,
                              prod=prod, out=fmt, rounding=rounding, overflow=overflow, r=r,
                              eps=eps, v=0 if vs is None else vs[e], sr_rule=sr_rule, draws=d)
                if got.raw is None:          # exact sum: its raw at the default format's fl
                    t = got.value * Fraction(2) ** out[1]
                    assert t.denominator == 1
                    want.append(int(t))
                else:
                    assert got.fmt == tuple(out)
                    want.append(got.raw)
        expect_fixed(res, out, want)
        assert res.shape == out_shape
    CASES.append(Case(id, inputs, call, check, path,
                      src=((r if sto else None), total) if source else None, blocks=blocks))


def method_case(id, inputs, call, check, fresh=True):
    CASES.append(Case(id, inputs, lambda *ins, src=None: call(*ins), check, None, fresh=fresh))


# cast: float64 (and every container dtype) through cast_f64 ----------------------------------
_r = _rng("cast-x")
X64 = np.concatenate([_r.standard_normal(N1 - 4) * 60, [300.0, -300.0, 0.1, -2.5]])
D16 = _r.integers(0, 1 << 16, N1, dtype=np.uint16)
D8 = _r.integers(0, 1 << 8, N1, dtype=np.uint8)
V64 = _r.standard_normal(N1)
cast_case("cast.f64_det_saturate", Arr(X64), (16, 8, True), path=F64)
cast_case("cast.f64_det_wrap_floor", Arr(X64), (12, 4, True), "floor", "wrap", path=F64)
cast_case("cast.f64_det_unsigned_satsym", Arr(X64), (10, 3, False), "nearest_away",
          "saturate_symmetric", path=F64)
cast_case("cast.f64_2d_det", Arr(X64[:21].reshape(3, 7)), (16, 8, True), "jam", path=F64)
cast_case("cast.f64_det_with_source_untouched", Arr(X64), (16, 8, True), source=True, path=F64)
cast_case("cast.f64_sr_draws", Arr(X64 / 20), (8, 4, True), "stochastic", r=16, draws=D16,
          path=F64)
cast_case("cast.f64_sr_source", Arr(X64 / 20), (8, 4, True), "stochastic", r=16, source=True,
          path=F64)
cast_case("cast.f64_sr_eps_source", Arr(X64 / 20), (8, 4, True), "stochastic_eps", r=16, eps=0.1,
          sr_rule="half", source=True, path=F64)
cast_case("cast.f64_signed_sr_eps_v_draws", Arr(X64 / 20), (8, 4, True), "signed_stochastic_eps",
          r=8, eps=0.25, sr_rule="rne", draws=D8, v=Arr(V64), path=F64)
for _dt in (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8,
            np.uint16, np.uint32, np.uint64, np.bool_):
    _d = np.dtype(_dt)
    if _d.kind == "f":
        _x = (X64 * 2).astype(_d)
    elif _d.kind == "b":
        _x = _r.integers(0, 2, N1).astype(bool)
    else:
        _hi = min(np.iinfo(_d).max, 2**53)
        _lo = max(np.iinfo(_d).min, -2**53)
        _x = _r.integers(_lo, _hi, N1, endpoint=True, dtype=_d)
    cast_case(f"cast.from_{_d.name}", Arr(_x), (16, 4, True), "nearest_even", "saturate", path=F64)
# beyond 2**53, int64/uint64 arrays are taken exactly as raw words (cast_raw)
_big = _r.integers(-2**62, 2**62, N1, dtype=np.int64)
_big[:2] = [np.iinfo(np.int64).min, np.iinfo(np.int64).max]
cast_case("cast.from_int64_beyond_2p53", Arr(_big), (24, -40, True), path=RAW(False))
_ubig = _r.integers(0, 2**64 - 1, N1, endpoint=True, dtype=np.uint64)
cast_case("cast.from_uint64_beyond_2p53", Arr(_ubig), (16, -48, False), "floor", path=RAW(False))
cast_case("cast.from_int64_beyond_2p53_sr_draws", Arr(_big), (24, -40, True), "stochastic", r=16,
          draws=D16, path=RAW(False))

# cast: FixedArray re-quantization (cast_raw), small and big shifts ---------------------------
def _fx(fmt, shape, name):
    return Fx(words(fmt, shape, _rng(name)), fmt)


cast_case("cast.raw_small_right_shift", _fx((16, 8, True), N1, "r1"), (8, 4, True), path=RAW(True))
cast_case("cast.raw_left_shift", _fx((8, 2, True), N1, "r2"), (32, 20, True), "floor",
          path=RAW(True))
cast_case("cast.raw_big_shift_s76", _fx((16, 80, True), N1, "r3"), (16, 4, True), path=RAW(False))
cast_case("cast.raw_64bit_words", _fx((64, 8, True), N1, "r4"), (16, 0, True), "nearest_odd",
          "saturate_symmetric", path=RAW(False))
cast_case("cast.raw_uint64_words", _fx((64, 10, False), N1, "r5"), (12, 2, True), "floor", "wrap",
          path=RAW(False))
cast_case("cast.raw_unsigned_small", _fx((8, 4, False), N1, "r6"), (8, 2, True), "ceil",
          path=RAW(True))
cast_case("cast.raw_2d", _fx((16, 8, True), (3, 7), "r7"), (8, 3, True), "toward_zero",
          path=RAW(True))
cast_case("cast.raw_det_with_source_untouched", _fx((16, 8, True), N1, "r8"), (8, 4, True),
          source=True, path=RAW(True))
cast_case("cast.raw_sr_draws", _fx((16, 8, True), N1, "r9"), (8, 2, True), "stochastic", r=16,
          draws=D16, path=RAW(True))
cast_case("cast.raw_sr_source", _fx((32, 20, True), N1, "r10"), (16, 8, True), "stochastic_eps",
          r=16, eps=0.1, source=True, path=RAW(True))
cast_case("cast.raw_signed_sr_eps_v_fixed", _fx((16, 8, True), N1, "r11"), (8, 4, True),
          "signed_stochastic_eps", r=8, eps=0.3, draws=D8, v=_fx((8, 4, True), N1, "r11v"),
          path=RAW(True))
cast_case("cast.raw_big_shift_sr_draws", _fx((64, 70, True), N1, "r12"), (16, 4, True),
          "stochastic", r=16, draws=D16, path=RAW(False))

# cast: the multi-stream stochastic path (n >= 2**18, 2 threads, a source with sub-streams) ---
NS = (1 << 18) + 13
_rs = _rng("streams")
XS = _rs.standard_normal(NS) * 20.0
VS = _rs.standard_normal(NS)
SAMPLE = sorted(set(_rs.choice(NS, 300, replace=False).tolist()) | {0, NS // 2 - 1, NS // 2, NS - 1})


@functools.lru_cache(maxsize=None)
def _stream_draws(r, n):
    """The sequential stream of LFSR(16, seed=1): fxsim's compiled source, its first 256 draws
    checked against the pure-Python reference LFSR."""
    d = fxsim.LFSR(16, seed=1).draws(n, r)
    assert d[:256].tolist() == list(lfsr_R(r, 256))
    return tuple(d.tolist())


def _stream_case(id, rounding, eps, v):
    inputs = [Arr(XS)] + ([Arr(VS)] if v else [])
    fmt = (16, 8, True)

    def call(*ins, src=None):
        return fxsim.cast(ins[0], Q(fmt), rounding, "saturate", r=16, eps=eps,
                          v=ins[1] if v else None, source=src)

    def check(res):
        R = _stream_draws(16, NS)
        want = [ref_cast(float(XS[i]), *fmt, rounding, "saturate", R=R[i], r=16, eps=eps,
                         v=float(VS[i]) if v else 0) for i in SAMPLE]
        expect_fixed(res, fmt, want, SAMPLE)
        # every element equals the single-stream cast (explicit draws, cast_f64 path)
        seq = fxsim.cast(XS, Q(fmt), rounding, "saturate", r=16, eps=eps, v=VS if v else None,
                         draws=np.array(R, dtype=np.uint64))
        assert np.array_equal(res.raw, seq.raw)
    CASES.append(Case(id, inputs, call, check, STREAMS, src=(16, NS), threads=2))


_stream_case("cast.f64_streams_sr", "stochastic", 0.0, False)
_stream_case("cast.f64_streams_signed_sr_eps_v", "signed_stochastic_eps", 0.125, True)

# add / sub / mul (binop): same and differing containers, broadcasting, fmt given or not -------
S1 = (N1,)
bin_case("add.same_int8_default", "add", ((8, 4, True), S1), ((8, 4, True), S1), path=BINOP(1))
bin_case("sub.same_int16_default", "sub", ((16, 8, True), S1), ((16, 8, True), S1), path=BINOP(1))
bin_case("mul.same_int8_default", "mul", ((8, 4, True), S1), ((8, 3, True), S1), path=BINOP(1))
bin_case("add.int8_int32_fmt_32bit_lanes", "add", ((8, 4, True), S1), ((24, 10, True), S1),
         (12, 6, True), path=BINOP(2))
bin_case("mul.uint16_int8_fmt_wrap", "mul", ((16, 8, False), S1), ((8, 4, True), S1),
         (16, 6, True), "floor", "wrap", path=BINOP(2))
bin_case("sub.int32_uint8_default", "sub", ((32, 4, True), S1), ((8, 0, False), S1), path=BINOP(1))
bin_case("mul.int64_int64_fmt_128bit", "mul", ((64, 30, True), S1), ((64, 30, True), S1),
         (32, 40, True), path=BINOP(0))
bin_case("add.uint64_int8_fmt_flagged", "add", ((64, 4, False), S1), ((8, 4, True), S1),
         (64, 4, True), path=BINOP(0))
bin_case("sub.uint64_uint64_fmt", "sub", ((64, 0, False), S1), ((64, 0, False), S1),
         (64, 0, True), "nearest_even", "saturate_symmetric")
bin_case("add.broadcast_col_row_default", "add", ((8, 4, True), (5, 1)), ((16, 6, True), (1, 7)),
         path=BINOP(1))
bin_case("mul.broadcast_2d_1d_fmt", "mul", ((12, 4, True), (5, 7)), ((8, 4, True), (7,)),
         (10, 4, True), path=BINOP(2))
bin_case("sub.broadcast_0d_fmt", "sub", ((16, 8, True), S1), ((8, 2, True), ()), (8, 4, True),
         "nearest_zero", path=BINOP(2))
bin_case("mul.broadcast_row_blocks", "mul", ((12, 4, True), (6, 9)), ((8, 4, True), (9,)),
         (10, 4, True), blocks={"_BLOCK": 16}, path=BINOP(2))
bin_case("add.same_shape_blocks", "add", ((16, 4, True), (6, 9)), ((8, 2, False), (6, 9)),
         (12, 2, True), "floor", blocks={"_BLOCK": 16})
bin_case("add.fmt_error_no_overflow", "add", ((8, 4, True), S1), ((8, 4, True), S1),
         (12, 2, True), "floor", "error")
bin_case("add.det_with_source_untouched", "add", ((8, 4, True), S1), ((12, 6, True), S1),
         (8, 2, True), source=True)
bin_case("add.sr_draws", "add", ((16, 8, True), S1), ((12, 6, True), S1), (8, 2, True),
         "stochastic", r=16, draws=True)
bin_case("mul.sr_source", "mul", ((8, 4, True), S1), ((8, 4, True), S1), (8, 2, True),
         "stochastic", r=16, source=True)
bin_case("sub.signed_sr_eps_v_draws", "sub", ((16, 8, True), (5, 7)), ((16, 6, True), (7,)),
         (8, 2, True), "signed_stochastic_eps", r=10, eps=0.3, draws=True, v=True)
bin_case("mul.sr_eps_draws_int64", "mul", ((40, 20, True), S1), ((30, 10, True), S1),
         (24, 10, True), "stochastic_eps", r=40, eps=0.05, draws=True)
# the FixedArray operators (full-precision default format)
bin_case("op.__add__", "add", ((8, 4, True), S1), ((12, 6, True), S1), method=True)
bin_case("op.__sub__", "sub", ((8, 4, False), S1), ((12, 6, True), S1), method=True)
bin_case("op.__mul__", "mul", ((8, 4, True), (5, 7)), ((12, 6, True), (7,)), method=True)

# dot / matvec / matmul -------------------------------------------------------------------------
# vectorized MAC lanes: acc fl > fl_a + fl_b (products shifted left), no prod, deterministic,
# saturate or wrap, acc <= 62 bits; A stored as int32/int64 (the lane type itself)
I32, I64 = np.dtype(np.int32), np.dtype(np.int64)
mac_case("matmul.lanes_int32_saturate", "matmul", (20, 2, True), (8, 4, True), acc=(28, 8, True),
         path=LANES(I32))
mac_case("matmul.lanes_int64_wrap", "matmul", (40, 2, True), (16, 4, True), acc=(60, 8, True),
         overflow="wrap", path=LANES(I64))
mac_case("matvec.lanes_int32_satsym", "matvec", (24, 3, True), (6, 2, True), acc=(30, 7, True),
         overflow="saturate_symmetric", path=LANES(I32))
mac_case("dot.lanes_int64_saturate", "dot", (33, 1, True), (12, 3, True), acc=(50, 6, True),
         path=LANES(I64))
mac_case("matvec.lanes_int64_unsigned_acc", "matvec", (40, 0, True), (8, 2, False),
         acc=(60, 4, False), path=LANES(I64))
mac_case("matmul.lanes_int32_out_fmt", "matmul", (20, 2, True), (8, 4, True), acc=(28, 8, True),
         fmt=(12, 3, True), path=both(LANES(I32), RAW(True)))
mac_case("matmul.lanes_int32_row_blocks", "matmul", (20, 2, True), (8, 4, True),
         acc=(28, 8, True), m=6, blocks={"_BLOCK_LANE_MACS": 16}, path=LANES(I32))
mac_case("matmul.lanes_int64_det_with_source_untouched", "matmul", (40, 2, True), (16, 4, True),
         acc=(60, 8, True), source=True, path=LANES(I64))
mac_case("matmul.lanes_int16_words_sp0", "matmul", (12, 2, True), (8, 4, True), acc=(24, 6, True),
         path=LANES(I32))
# the rounding MAC array (mac_round): acc fl < fl_a + fl_b, no prod, saturate or wrap, draws from
# draws=, from jumped copies of the source (an LFSR(16) jumps) or, with several parts, per tile
ROUND = kernel("mac_round", absent=("dot_generic", "matmul_acc_lanes"))
mac_case("matvec.round_sr_acc_draws", "matvec", (20, 2, True), (8, 4, True), acc=(16, 4, True),
         rounding="stochastic", r=8, draws=True, path=ROUND)
mac_case("matmul.round_acc", "matmul", (20, 2, True), (8, 4, True), acc=(16, 3, True),
         path=ROUND)
mac_case("matmul.round_acc_wrap_int64", "matmul", (20, 2, True), (16, 4, True), acc=(40, 3, True),
         rounding="nearest_odd", overflow="wrap", path=ROUND)
mac_case("matmul.round_sr_acc_source_parts", "matmul", (20, 2, True), (8, 4, True),
         acc=(16, 4, True), rounding="stochastic_eps", r=8, eps=0.25, source=True, m=6,
         blocks={"_BLOCK_LANE_MACS": 16}, path=ROUND)
mac_case("dot.round_signed_sr_eps_v_source", "dot", (16, 4, True), (8, 4, True),
         acc=(20, 4, True), rounding="signed_stochastic_eps", r=16, eps=0.1, v=True,
         source=True, path=ROUND)
# the generic kernel (dot_generic): prod given, overflow='error', stochastic, rounding acc, ...
mac_case("matmul.generic_prod", "matmul", (20, 2, True), (8, 4, True), prod=(16, 6, True),
         acc=(24, 8, True), path=GENERIC)
mac_case("matmul.generic_overflow_error", "matmul", (20, 2, True), (8, 4, True),
         acc=(40, 8, True), overflow="error", path=GENERIC)
mac_case("dot.generic_sr_prod_acc_source", "dot", (16, 4, True), (8, 4, True), prod=(12, 4, True),
         acc=(20, 4, True), rounding="stochastic", r=16, source=True, path=GENERIC)
mac_case("matmul.generic_signed_sr_eps_v_draws", "matmul", (20, 2, True), (8, 4, True),
         acc=(20, 5, True), fmt=(10, 3, True), rounding="signed_stochastic_eps", r=8, eps=0.2,
         draws=True, v=True, path=GENERIC)
mac_case("matvec.generic_rounding_acc_int64", "matvec", (40, 10, True), (16, 8, True),
         acc=(32, 6, True), rounding="nearest_odd", path=GENERIC)
mac_case("matmul.generic_acc_wl63", "matmul", (40, 2, True), (16, 4, True), acc=(63, 8, True),
         path=GENERIC)
mac_case("matmul.generic_uint64_words", "matmul", (64, 2, False), (8, 4, True),
         acc=(64, 6, True), path=GENERIC)
mac_case("matmul.generic_exact_beyond_2p53", "matmul", (30, 4, True), (24, 4, True),
         path=GENERIC)
mac_case("matmul.generic_row_blocks", "matmul", (20, 2, True), (8, 4, True), prod=(16, 6, True),
         acc=(24, 8, True), m=6, blocks={"_BLOCK_MACS": 16}, path=GENERIC)
# exact default (float64 BLAS: exact integer sums), with and without an output cast
mac_case("matmul.exact_default", "matmul", (8, 4, True), (8, 4, True), path=BLAS)
mac_case("dot.exact_default", "dot", (16, 8, True), (8, 4, False), path=BLAS)
mac_case("matvec.exact_fmt", "matvec", (8, 4, True), (8, 4, True), fmt=(8, 3, True),
         path=both(BLAS, RAW(True)))
mac_case("matmul.exact_int64_words", "matmul", (34, 2, True), (4, 1, True), path=BLAS)
# the @ operator
mac_case("op.__matmul__dot", "dot", (8, 4, True), (12, 6, True), method=True, path=BLAS)
mac_case("op.__matmul__matvec", "matvec", (8, 4, True), (12, 6, True), method=True, path=BLAS)
mac_case("op.__matmul__matmul", "matmul", (20, 2, True), (8, 4, True), method=True)

# FixedArray methods that compute ---------------------------------------------------------------
FA = _fx((12, 5, True), S1, "fa")
FB = _fx((16, 7, True), S1, "fb")            # another fl: == compares exact values
FC = _fx((16, 5, True), S1, "fc")            # same fl, wider container
FU = _fx((64, 5, False), S1, "fu")           # same fl, uint64 against int16
FA2 = _fx((12, 5, True), (5, 7), "fa2")
F0 = Fx(np.array(-1234, dtype=np.int16), (12, 5, True))


def _floats(fx):
    return np.array([float(t) for t in fx.values()]).reshape(fx.w.shape)


def _neg_check(res):
    fz = (1, FA.fmt[1], True)
    out = ref_full_precision("sub", fz, FA.fmt)
    expect_fixed(res, out, [ref_sub(0, fz, int(m), FA.fmt, out) for m in FA.w.tolist()])


def _eq_check(x, y, ne=False):
    def check(res):
        want = [(p != q) if ne else (p == q) for p, q in zip(x.values(), y.values())]
        assert [bool(t) for t in np.asarray(res).reshape(-1)] == want
    return check


method_case("op.__neg__", [FA], lambda a: -a, _neg_check)
method_case("fx.to_float", [FA2], lambda a: a.to_float(),
            lambda res: np.testing.assert_array_equal(res, _floats(FA2)))
method_case("fx.__array__", [FA2], lambda a: np.asarray(a),
            lambda res: np.testing.assert_array_equal(res, _floats(FA2)))
method_case("fx.to_fraction", [FA2], lambda a: a.to_fraction(),
            lambda res: assert_list(res.reshape(-1).tolist(), FA2.values()))
method_case("fx.__float__", [F0], lambda a: float(a),
            lambda res: assert_list([res], [float(F0.values()[0])]))
method_case("fx.bits", [FA], lambda a: (a.bits(3), a.bits(-1)),
            lambda res: assert_list([res[0].bin, res[1].bin],
                                    [ref_bin(int(FA.w[3]), 12), ref_bin(int(FA.w[-1]), 12)]))
method_case("fx.to_bin", [FA2], lambda a: a.to_bin(),
            lambda res: assert_list(res.reshape(-1).tolist(),
                                    [ref_bin(int(m), 12) for m in FA2.w.reshape(-1).tolist()]))
method_case("fx.to_hex_uint64", [FU], lambda a: a.to_hex(),
            lambda res: assert_list(res.tolist(), [ref_hex(int(m), 64) for m in FU.w.tolist()]))
method_case("fx.format_and_repr", [FA], lambda a: (a.format(bits=True, max_items=40), repr(a)),
            lambda res: assert_list([all(f"{float(t)!r} ({ref_bin(int(m), 12)})" in res[0]
                                         for t, m in zip(FA.values(), FA.w.tolist()))], [True]))
method_case("fx.identical", [FA, FA], lambda a, b: (a.identical(b), b.identical(a)),
            lambda res: assert_list(list(res), [True, True]))
method_case("fx.__eq__other_fl", [FA, FB], lambda a, b: a == b, _eq_check(FA, FB))
method_case("fx.__eq__same_fl_wider", [FA, FC], lambda a, b: a == b, _eq_check(FA, FC))
method_case("fx.__ne__uint64_vs_int16", [FU, FC], lambda a, b: a != b, _eq_check(FU, FC, ne=True))
method_case("fx.from_float", [Arr(X64)], lambda x: FixedArray.from_float(x, "Q(12,6)",
                                                                         rounding="floor"),
            lambda res: expect_fixed(res, (12, 6, True), [ref_cast(float(t), 12, 6, True, "floor",
                                                                   "saturate") for t in X64]))
method_case("fx.__setitem__value", [FA, Fx(FA.w[:8].copy() * 0 + 7, FA.fmt)],
            lambda a, b: _setitem(a, b),
            lambda res: expect_fixed(res, FA.fmt, _setitem_want()))
method_case("fx.views_and_copy", [FA2],
            lambda a: (a.reshape(-1), a.ravel(), a.T, a.copy(), a[1:4], list(a), len(a)),
            lambda res: (assert_list(raws(res[3]), [int(m) for m in FA2.w.reshape(-1).tolist()]),
                         assert_list([np.may_share_memory(res[3].raw, res[0].raw)], [False])),
            fresh=False)


def _setitem(a, b):
    t = a.copy()
    t[::3] = b
    return t


def _setitem_want():
    w = FA.w.copy()
    w[::3] = 7
    return [int(m) for m in w.tolist()]


def assert_list(got, want):
    assert list(got) == list(want), (list(got)[:5], list(want)[:5])


# -- the property test -------------------------------------------------------------------------

@pytest.fixture
def setup_case(monkeypatch):
    old = fxsim.get_num_threads()

    def apply(case):
        if case.threads:
            fxsim.set_num_threads(case.threads)
        for name, val in (case.blocks or {}).items():
            monkeypatch.setattr(fxops, name, val, raising=False)
    yield apply
    fxsim.set_num_threads(old)


def _fresh_source(case):
    return None if case.src is None else fxsim.LFSR(16, seed=1)


def run_case(case, variant, spy):
    """Build the variant's inputs, call twice, check every input after each call; returns the
    first result and the kernels it ran."""
    watch = Watch()
    ins = [spec.build(variant, watch, f"input{i}") for i, spec in enumerate(case.inputs)]
    src = _fresh_source(case)
    state0 = src.state if src is not None else None
    results = []
    for k in ("first", "second"):
        if src is not None:
            src.state = state0
        del spy.calls[:]
        results.append(case.call(*ins, src=src))
        if k == "first":
            calls = list(spy.calls)
        watch.check(f"after the {k} call")
        if src is not None:
            r, n = case.src
            assert src.state == source_state_after(r, n), \
                f"the source moved {src.state['count']} draws, expected {n}"
    assert canon(results[0]) == canon(results[1]), "a second call on the same inputs differs"
    if case.fresh:
        for out in _arrays_of(results[0]):
            for buf in watch.buffers():
                assert not np.may_share_memory(out, buf), "the result shares an input's memory"
    return results[0], calls


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_inputs_unchanged(case, variant, spy, setup_case):
    setup_case(case)
    res, calls = run_case(case, variant, spy)
    if case.path is not None:
        msg = case.path(calls)
        assert msg is None, msg
    case.check(res)
    if variant != "contig":
        # the same words as the contiguous writeable variant (built and called without checks)
        base = case.call(*[s.build("contig", Watch(), "b") for s in case.inputs],
                         src=_fresh_source(case))
        assert canon(res) == canon(base), f"the {variant} variant gives other words"


def test_case_ids_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


# -- random formats and values (hypothesis) ----------------------------------------------------

def fmts(max_wl=64):
    return st.tuples(st.integers(1, max_wl), st.integers(-8, 40), st.booleans())


@st.composite
def binop_examples(draw):
    op = draw(st.sampled_from(["add", "sub", "mul"]))
    fa, fb = draw(fmts()), draw(fmts())
    sa = draw(st.sampled_from([(), (1,), (4,), (3, 4), (3, 1)]))
    sb = draw(st.sampled_from([(), (4,), (3, 4), (1, 4)]))
    out = draw(st.one_of(st.none(), fmts()))
    if op == "mul" and fa[0] + fb[0] > 64 and out is None:
        out = draw(fmts())
    rounding = draw(st.sampled_from(["nearest_even", "floor", "jam", "stochastic"]))
    overflow = draw(st.sampled_from(["saturate", "saturate_symmetric", "wrap"]))
    va, vb = draw(st.sampled_from(VARIANTS)), draw(st.sampled_from(VARIANTS))
    seed = draw(st.integers(0, 2**32 - 1))
    return op, fa, fb, sa, sb, out, rounding, overflow, va, vb, seed


def _contiguous_then_variant(A, B, va, vb, call):
    """Run ``call(a, b, watch, variant)`` on contiguous inputs, then on the drawn variants;
    inputs must stay unchanged and both runs give the same words.  A refusal (beyond 64/128
    bits) is decided by the contiguous run and must change nothing."""
    results = []
    for second, (va_, vb_) in enumerate((("contig", "contig"), (va, vb))):
        watch = Watch()
        a, b = A.build(va_, watch, "a"), B.build(vb_, watch, "b")
        try:
            res = call(a, b, watch, va_)
        except ValueError:
            watch.check("after a refused call")
            if second:
                raise
            assume(False)
        watch.check("after the call")
        results.append(canon(res))
    assert results[0] == results[1]
    return res


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(binop_examples())
def test_random_binops_leave_inputs_unchanged(ex):
    op, fa, fb, sa, sb, out, rounding, overflow, va, vb, seed = ex
    rng = np.random.default_rng(seed)
    A, B = Fx(words(fa, sa, rng), fa), Fx(words(fb, sb, rng), fb)
    shape = np.broadcast_shapes(sa, sb)
    n = int(np.prod(shape))
    D = Arr(rng.integers(0, 1 << 12, n, dtype=np.uint16)) if rounding == "stochastic" else None
    fn = {"add": fxsim.add, "sub": fxsim.sub, "mul": fxsim.mul}[op]
    ref = {"add": ref_add, "sub": ref_sub, "mul": ref_mul}[op]
    def call(a, b, watch, variant):
        d = None if D is None else D.build(variant, watch, "draws")
        kw = dict(r=12, draws=d) if D is not None else {}
        return fn(a, b, None if out is None else Q(out), rounding, overflow, **kw)

    res = _contiguous_then_variant(A, B, va, vb, call)
    want_fmt = out if out is not None else ref_full_precision(op, fa, fb)
    wa, wb = np.broadcast_arrays(A.w.astype(object), B.w.astype(object))
    R = D.a.tolist() if D is not None else [None] * n
    want = [ref(int(x), fa, int(y), fb, want_fmt, rounding, overflow, R=R[i],
                r=12 if D is not None else None)
            for i, (x, y) in enumerate(zip(wa.reshape(-1).tolist(), wb.reshape(-1).tolist()))]
    expect_fixed(res, want_fmt, want)


@st.composite
def lane_examples(draw):
    """Formats of the MAC-lane condition (acc fl >= fl_a + fl_b, acc <= 62 bits, deterministic,
    saturate or wrap); the bounds decide int32 lanes, int64 lanes or the generic kernel."""
    op = draw(st.sampled_from(["dot", "matvec", "matmul"]))
    fa, fb = draw(fmts(48)), draw(fmts(16))
    sp = draw(st.integers(0, 4))
    acc = (draw(st.integers(1, 62)), fa[1] + fb[1] + sp, draw(st.booleans()))
    out = draw(st.one_of(st.none(), fmts()))
    overflow = draw(st.sampled_from(["saturate", "saturate_symmetric", "wrap"]))
    m, k, n = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    va, vb = draw(st.sampled_from(VARIANTS)), draw(st.sampled_from(VARIANTS))
    seed = draw(st.integers(0, 2**32 - 1))
    return op, fa, fb, acc, out, overflow, m, k, n, va, vb, seed


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(lane_examples())
def test_random_mac_lanes_leave_inputs_unchanged(ex):
    op, fa, fb, acc, out, overflow, m, k, n, va, vb, seed = ex
    assume(-256 <= acc[1] <= 256)
    rng = np.random.default_rng(seed)
    shape_a = {"dot": (k,), "matvec": (m, k), "matmul": (m, k)}[op]
    shape_b = {"dot": (k,), "matvec": (k,), "matmul": (k, n)}[op]
    mm = 1 if op == "dot" else m
    nn = n if op == "matmul" else 1
    A, B = Fx(words(fa, shape_a, rng), fa), Fx(words(fb, shape_b, rng), fb)
    fn = {"dot": fxsim.dot, "matvec": fxsim.matvec, "matmul": fxsim.matmul}[op]
    res = _contiguous_then_variant(
        A, B, va, vb,
        lambda a, b, watch, variant: fn(a, b, acc=Q(acc), fmt=None if out is None else Q(out),
                                        overflow=overflow))
    a2, b2 = A.w.reshape(mm, k), B.w.reshape(k, nn)
    want = [ref_dot([int(t) for t in a2[i]], fa, [int(t) for t in b2[:, j]], fb, acc=acc, out=out,
                    overflow=overflow).raw for i in range(mm) for j in range(nn)]
    expect_fixed(res, out if out is not None else acc, want)
