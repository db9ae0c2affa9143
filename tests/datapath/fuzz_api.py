"""Seeded random-API-call fuzzer for fxsim (issue 11 point 8).

Every call is generated from ``(seed, index)`` alone (``random.Random(f"{seed}/{index}")``), as
a few lines of Python source: named arguments built by expressions, then one call expression.
That source *is* the reproducer.  For each call the driver

1. builds the arguments (``exec`` of the expressions in a fresh namespace),
2. snapshots every input (numpy arrays: bytes, dtype, shape; FixedArrays: their ``.raw``;
   sources: ``.state``),
3. asks the oracle (``tests/reference.py``, Fractions, plus the argument rules of
   ``docs/api.md``) what the call must do: return a result (and which one, word for word, in
   which format), refuse with a clean error (``ValueError``/``TypeError``; ``OverflowError``
   under ``overflow='error'``; ``MemoryError`` for huge sizes), or either (documented grey zone:
   a refusal is fine, a result must be right),
4. runs the call and classifies it: a result checked, a clean error, or a failure (crash,
   traceback-type error escaping, invalid argument accepted, valid call refused, wrong
   word/format/shape/dtype, missing overflow error, mutated input, a source advanced by a
   refused call or by the wrong number of draws, a result aliasing an input).

Usage::

    python tests/fuzz_api.py --seed 1 --calls 5000 --out report.json --log calls.log
    python tests/fuzz_api.py --seed 1 --replay 1234        # print and run one call

The child writes each call's index to ``--log`` before the call, so a parent (tests/test_fuzz.py)
can name the call that crashed the interpreter and rebuild its source with ``describe``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
import warnings
from decimal import Decimal
from fractions import Fraction
from numbers import Integral

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "oracles"))
import reference as ref  # noqa: E402

ROUNDINGS, OVERFLOWS, SR_RULES = ref.ROUNDINGS, ref.OVERFLOWS, ref.SR_RULES
STOCHASTIC = ref.STOCHASTIC
EPS_MODES = ("stochastic_eps", "signed_stochastic_eps")
LIMIT = 2 ** 127
HUGE = 1 << 48                      # draws(n) this large must be refused (MemoryError/ValueError)

INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
FLOAT_DTYPES = ("float16", "float32", "float64")

# failure categories
CRASH = "crash"
TRACEBACK = "traceback-type error"
UNEXPECTED_EXC = "unexpected exception type"
NO_MESSAGE = "error without message"
WRONG_ERROR = "wrong error type"
REFUSED = "valid call refused"
ACCEPTED = "invalid argument accepted"
MISSING_ERROR = "missing error"
WRONG_WORD = "wrong word"
WRONG_FORMAT = "wrong format"
WRONG_SHAPE = "wrong shape"
WRONG_DTYPE = "wrong dtype"
WRONG_TYPE = "wrong type"
WRONG_VALUE = "wrong value"
MUTATED = "mutated input"
SIDE_EFFECT = "side effect on refusal"
WRONG_SOURCE = "wrong source state"
ALIAS = "result aliases input"
SETUP = "setup refused"
HARNESS = "harness error"
SILENT = (MISSING_ERROR, WRONG_WORD, WRONG_FORMAT, WRONG_SHAPE, WRONG_DTYPE, WRONG_TYPE,
          WRONG_VALUE, WRONG_SOURCE)

TRACEBACK_TYPES = (KeyError, AttributeError, IndexError, ZeroDivisionError, SystemError,
                   RuntimeError, AssertionError, NameError, RecursionError, StopIteration,
                   FloatingPointError, LookupError)
CLEAN_TYPES = (ValueError, TypeError, OverflowError, MemoryError)
ARG_ERRORS = (ValueError, TypeError)

PRELUDE = """\
import numpy as np, fxsim
from fractions import Fraction
from decimal import Decimal
from fxsim import FixedArray, QFormat, LFSR, Ideal
nan, inf = float('nan'), float('inf')
def _ro(a):
    a = np.array(a, copy=True) if not a.flags.owndata and a.base is None else a
    a.flags.writeable = False
    return a
def _obj(items, shape):
    a = np.empty(len(items), dtype=object)
    for i, v in enumerate(items):
        a[i] = v
    return a.reshape(shape)
"""


def _namespace():
    ns = {}
    exec(PRELUDE, ns)
    return ns


# ============================================================================ generation
def _lit(v) -> str:
    """Python source of a number (floats round-trip exactly through repr)."""
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, complex):
        return f"complex({_lit(v.real)}, {_lit(v.imag)})"
    return repr(v)


def _nested(flat, shape):
    if not shape:
        return _lit(flat[0])
    step = len(flat) // shape[0] if shape[0] else 0
    return "[" + ", ".join(_nested(flat[i * step:(i + 1) * step], shape[1:])
                           for i in range(shape[0])) + "]"


class Gen:
    """Random choices for one call plus the source lines it produces."""

    def __init__(self, seed: int, index: int):
        self.r = random.Random(f"fxsim-fuzz/{seed}/{index}")
        self.lines = []          # (name, expr, lib) - lib: the expression calls fxsim

    # -- basics ---------------------------------------------------------------------------
    def p(self, prob):
        return self.r.random() < prob

    def pick(self, seq):
        return seq[self.r.randrange(len(seq))]

    def wpick(self, table):
        items = list(table.items())
        tot = sum(w for _, w in items)
        x = self.r.random() * tot
        for k, w in items:
            x -= w
            if x < 0:
                return k
        return items[-1][0]

    def let(self, name, expr, lib=False):
        self.lines.append((name, expr, lib))
        return name

    # -- formats --------------------------------------------------------------------------
    def wl(self, lo=1, hi=64):
        edges = [w for w in (1, 2, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 53, 54, 62, 63, 64)
                 if lo <= w <= hi]
        return self.pick(edges) if self.p(0.5) and edges else self.r.randint(lo, hi)

    def fmt(self, kind="any", wl=None):
        r = self.r
        wl = wl if wl is not None else (self.wl() if kind != "small" else self.wl(1, 24))
        if kind == "any" and self.p(0.25):
            fl = self.pick([-256, 256, -255, 255, 0, 64, -64, 127, -127]) if self.p(0.5) \
                else r.randint(-256, 256)
        elif kind == "small":
            fl = r.randint(-4, 24)
        else:
            fl = r.randint(-3, wl + 3)
        return (wl, fl, self.p(0.7))

    def fmt_expr(self, t, allow_str=True):
        wl, fl, s = t
        if allow_str and self.p(0.2):
            form = self.r.randrange(4)
            if form == 0:
                return repr(f"{'' if s else 'U'}Q({wl},{fl})")
            if form == 1:
                return repr(f"{'' if s else 'U'}Q{wl - fl}.{fl}")
            if form == 2:
                return repr(f"{'s' if s else 'u'}{wl}.{fl}")
            return repr(f" {'q' if s else 'uQ'} ( {wl} , {fl} ) ")
        return f"QFormat({wl}, {fl}, {s})"

    def bad_fmt_expr(self):
        return self.pick(["'Q8'", "'bogus'", "'Q(65,0)'", "'Q(0,0)'", "8", "(16, 8)",
                          "'Q(8,300)'", "'Q0.0'", "'UQ(8,-257)'", "''", "b'Q8.8'",
                          "'Q(8,8'", "'Q8.8.8'", "3.5"])

    # -- values ---------------------------------------------------------------------------
    def raw(self, t):
        lo, hi = ref.fmt_range(t[0], t[2])
        if self.p(0.35):
            return self.pick([lo, hi, 0, min(lo + 1, hi), max(hi - 1, lo),
                              -hi if t[2] else 1, -1 if t[2] else hi // 2])
        if self.p(0.3):      # small magnitudes: ties and carries happen there
            return max(lo, min(hi, self.r.randint(-40, 40)))
        return self.r.randint(lo, hi)

    def real_for(self, t):
        """A float aimed at format t: grid points, ties, boundaries, specials."""
        wl, fl, s = t
        lo, hi = ref.fmt_range(wl, s)
        kind = self.wpick({"grid": 4, "edge": 3, "any": 2, "special": 1})
        if kind == "special":
            return self.pick([0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308,
                              1.7976931348623157e308, -1.7976931348623157e308, 0.5, -0.5,
                              1.5, -2.5, 2.0 ** 63, -2.0 ** 63, 2.0 ** 64, 2.0 ** 53 + 2,
                              float("inf"), float("-inf"), float("nan")])
        if kind == "any":
            e = self.r.randint(-fl - 8, wl - fl + 8)
            v = self.r.uniform(-1, 1) * 2.0 ** max(-1070, min(1000, e))
            return v
        if kind == "grid":
            m = self.r.randint(max(lo - 4, -(1 << 70)), hi + 4) if self.p(0.5) else \
                self.r.randint(-40, 40)
        else:
            m = self.pick([lo, hi, lo - 1, hi + 1, lo + 1, hi - 1, 0, -1, 1, -hi, -hi - 1,
                           2 * hi + 1, 2 * lo - 1])
        phi = self.pick([Fraction(0), Fraction(1, 2), Fraction(1, 4), Fraction(3, 4),
                         Fraction(1, 1 << self.r.randint(1, 70)),
                         1 - Fraction(1, 1 << self.r.randint(1, 70))])
        exact = (m + phi) * ref.pow2(-fl)
        try:
            return float(exact)
        except OverflowError:
            return math.copysign(1.7976931348623157e308, exact)

    def shape(self, maxn=64, nd=None):
        r = self.r
        if nd is None:
            nd = self.wpick({0: 1, 1: 6, 2: 2, 3: 0.5})
        if nd == 0:
            return ()
        if self.p(0.06):
            dims = [r.randint(0, 3) for _ in range(nd)]
            dims[r.randrange(nd)] = 0
            return tuple(dims)
        dims = []
        budget = maxn
        for _ in range(nd):
            d = r.randint(1, max(1, min(budget, 8 if nd > 1 else maxn)))
            dims.append(d)
            budget = max(1, budget // d)
        return tuple(dims)

    # -- arrays ---------------------------------------------------------------------------
    def layout(self, shape):
        opts = {"c": 6, "strided": 1, "ro": 1, "rev": 1, "F": 0.5}
        if len(shape) >= 2:
            opts["T"] = 1.5
        return self.wpick(opts)

    def array_expr(self, flat, shape, dtype, layout=None, be=None):
        """Source of an ndarray holding ``flat`` (C order) with the given shape and dtype, laid
        out as ``layout`` (c, strided, T, rev, F, ro), big-endian if ``be``."""
        dt = np.dtype(dtype)
        if be is None:
            be = dt.itemsize > 1 and dt.kind in "iufc" and self.p(0.15)
        if be and dt.itemsize > 1:
            dstr = repr(dt.newbyteorder(">").str)
        else:
            dstr = repr(dt.name)
        layout = layout or self.layout(shape)
        n = len(flat)
        if shape == ():
            e = f"np.array({_lit(flat[0])}, dtype={dstr})"
            return f"_ro({e})" if layout == "ro" else e
        if n == 0:
            return f"np.zeros({shape!r}, dtype={dstr})"
        obj = np.empty(n, dtype=object)
        obj[:] = flat
        obj = obj.reshape(shape)
        if layout == "T" and len(shape) >= 2:
            base = obj.T
            return f"np.array([{', '.join(map(_lit, base.ravel().tolist()))}], dtype={dstr}).reshape({base.shape!r}).T"
        if layout == "strided":
            wide = np.empty(shape[:-1] + (2 * shape[-1],), dtype=object)
            wide[..., ::2] = obj
            wide[..., 1::2] = obj   # filler: a copy of the data
            return f"np.array([{', '.join(map(_lit, wide.ravel().tolist()))}], dtype={dstr}).reshape({wide.shape!r})[..., ::2]"
        if layout == "rev":
            base = obj[::-1]
            return f"np.array([{', '.join(map(_lit, base.ravel().tolist()))}], dtype={dstr}).reshape({shape!r})[::-1]"
        e = f"np.array([{', '.join(map(_lit, flat))}], dtype={dstr}).reshape({shape!r})"
        if layout == "F":
            return f"np.asfortranarray({e})"
        if layout == "ro":
            return f"_ro({e})"
        return e

    def fixed(self, name, t, shape, how=None):
        """A valid FixedArray of format t and the given shape, bound to ``name``; its raw array
        (when an ndarray) is bound to ``name + '_raw'`` so that mutation of the caller's array
        is seen too."""
        n = math.prod(shape)
        flat = [self.raw(t) for _ in range(n)]
        how = how or self.wpick({"container": 7, "int64": 1, "list": 1, "object": 0.5, "T": 1})
        cont = ref_container(t)
        if how == "list" and shape != ():
            src = _nested(flat, shape) if n else f"np.zeros({shape!r}, dtype={cont!r})"
            raw = self.let(name + "_raw", src)
        elif how == "object" and n:
            raw = self.let(name + "_raw", f"_obj([{', '.join(map(_lit, flat))}], {shape!r})")
        elif how == "T" and len(shape) == 2:
            obj = np.empty(n, dtype=object)
            obj[:] = flat
            tflat = obj.reshape(shape).T.ravel().tolist()
            raw = self.let(name + "_raw", self.array_expr(tflat, shape[::-1], cont, layout="c"))
            return self.let(name, f"FixedArray({raw}, {self.fmt_expr(t, False)}).T", lib=True)
        else:
            dt = "int64" if (how == "int64" and cont != "uint64") else cont
            raw = self.let(name + "_raw", self.array_expr(flat, shape, dt))
        return self.let(name, f"FixedArray({raw}, {self.fmt_expr(t)})", lib=True)

    # -- modes and randomness -------------------------------------------------------------
    def mode(self, names, bad_p=0.03):
        if self.p(bad_p):
            return repr(self.pick(["nearst_even", "round", "", "FLOOR", "sat", "stochastic ",
                                   "nearest", "clip"])) if self.p(0.8) else \
                self.pick(["None", "3", "['floor']"])
        v = repr(self.pick(names))
        return f"np.str_({v})" if self.p(0.03) else v

    def r_expr(self, valid=True):
        if not valid:
            return self.pick(["0", "65", "-3", "8.0", "True", "'8'", "None", "2**64"])
        r = self.pick([1, 2, 3, 4, 8, 16, 31, 32, 53, 63, 64]) if self.p(0.5) else \
            self.r.randint(1, 64)
        return f"np.int64({r})" if self.p(0.05) else str(r)

    def eps_expr(self, valid=True):
        if not valid:
            return self.pick(["1.0", "-0.1", "1.5", "nan", "inf", "'0.1'", "None",
                              "complex(0.1, 0)", "True"])
        kind = self.wpick({"f": 6, "f32": 1, "f16": 0.5, "frac": 0.5, "zero": 1, "dec": 0.3})
        v = self.pick([0.0, 0.5, 0.25, 0.3, 0.125, 0.999, 2.0 ** -64, 2.0 ** -30, 0.1]) \
            if self.p(0.6) else self.r.random()
        if kind == "f32":
            return f"np.float32({v!r})"
        if kind == "f16":
            return f"np.float16({v!r})"
        if kind == "frac":
            return f"Fraction({self.r.randint(0, 99)}, 100)"
        if kind == "zero":
            return "0"
        if kind == "dec":
            return "Decimal('0.25')"
        return repr(v)

    def source_expr(self, r_hint=16):
        if self.p(0.5):
            n = self.pick([2, 3, 4, 5, 8, 12, 16, 24, 31, 32, 33, 48, 63, 64])
            args = [str(n)]
            seed = self.r.randint(1, (1 << n) - 1)
            args.append(f"seed={seed}")
            if self.p(0.3):
                args.append("form='fibonacci'")
            if self.p(0.25):
                args.append("rule='state'")
            if self.p(0.2):
                args.append(f"lanes={self.r.randint(1, min(4, (1 << n) - 1))}")
            return f"LFSR({', '.join(args)})"
        bg = self.pick(["pcg64", "philox", "sfc64", "mt19937", "PCG64", "pcg64dxsm"])
        return f"Ideal({bg!r}, seed={self.r.randint(0, 2**32)})"

    def bad_source_expr(self):
        return self.pick(["'lfsr16'", "'ideal'", "5", "np.random.default_rng(1)", "object()",
                          "np.random.PCG64(3)", "[1, 2, 3]"])

    def draws_expr(self, total, r, valid=True):
        top = (1 << r) - 1
        vals = [self.pick([0, top, top // 2, 1 if top else 0]) if self.p(0.3)
                else self.r.randint(0, top) for _ in range(total)]
        if valid:
            kind = self.wpick({"u64": 6, "i64": 1, "list": 1, "2d": 0.3, "be": 0.5})
            if kind == "i64" and r <= 63:
                return self.array_expr(vals, (total,), "int64", layout="c", be=False)
            if kind == "list":
                return "[" + ", ".join(map(str, vals)) + "]"
            if kind == "2d" and total and total % 2 == 0:
                return self.array_expr(vals, (2, total // 2), "uint64", layout="c", be=False)
            if kind == "be":
                return self.array_expr(vals, (total,), "uint64", layout="c", be=True)
            return self.array_expr(vals, (total,), "uint64", layout=self.pick(["c", "c", "strided", "ro"]), be=False)
        kind = self.wpick({"short": 2, "long": 2, "float": 1, "neg": 1, "big": 1})
        if kind == "short" and total:
            return self.array_expr(vals[:-1], (total - 1,), "uint64", layout="c", be=False)
        if kind == "long" or (kind == "short" and not total):
            return self.array_expr(vals + [0], (total + 1,), "uint64", layout="c", be=False)
        if kind == "float":
            return self.array_expr([float(v) for v in vals] or [0.0], (max(total, 1),), "float64", layout="c", be=False)
        if kind == "neg" and total:
            vals = [v & ((1 << 63) - 1) for v in vals]
            vals[self.r.randrange(total)] = -1
            return self.array_expr(vals, (total,), "int64", layout="c", be=False)
        if r < 64 and total:
            vals[self.r.randrange(total)] = self.r.randint(top + 1, (1 << 64) - 1)
            return self.array_expr(vals, (total,), "uint64", layout="c", be=False)
        return self.array_expr(vals + [0], (total + 1,), "uint64", layout="c", be=False)

    def v_expr(self, shape, valid=True):
        n = math.prod(shape)
        vals = [self.pick([-1.0, 0.0, -0.0, 2.5, -1e-300, 1e300, -3.0, 0.5]) for _ in range(n)]
        if valid:
            kind = self.wpick({"arr": 6, "fixed": 1, "scalar": 0.5, "list": 0.5})
            if kind == "fixed":
                return self.fixed("vfix", (8, 0, True), shape)
            if kind == "scalar":
                return repr(self.pick([-1.0, 1.0, 0.0]))
            if kind == "list" and shape:
                return _nested(vals, shape) if n else "[]"
            return self.array_expr(vals, shape, "float64")
        kind = self.wpick({"none": 1, "shape": 2, "nan": 1, "str": 0.5, "complex": 0.3})
        if kind == "none":
            return "None"
        if kind == "nan" and n:
            vals[self.r.randrange(n)] = float("nan")
            return self.array_expr(vals, shape, "float64")
        if kind == "str":
            return "'up'"
        if kind == "complex" and n:
            return self.array_expr([complex(v, 1.0) for v in vals], shape, "complex128")
        bad = tuple(d + 1 for d in shape) if shape else (2,)
        if bad == (1,):
            bad = (2,)
        return self.array_expr([1.0] * math.prod(bad), bad, "float64")


def ref_container(t):
    wl, _, signed = t
    for bits in (8, 16, 32, 64):
        if wl <= bits:
            return ("int" if signed else "uint") + str(bits)
    raise ValueError(t)


class Case:
    """One generated call: source lines, the call expression and how to judge it."""

    def __init__(self, seed, index, func, lines, call, oracle, ctx=None):
        self.seed, self.index, self.func = seed, index, func
        self.lines, self.call, self.oracle, self.ctx = lines, call, oracle, ctx or {}

    def source(self) -> str:
        body = "\n".join(f"{n} = {e}" for n, e, _ in self.lines)
        return f"{body}\nresult = {self.call}" if body else f"result = {self.call}"

    def reproducer(self) -> str:
        return PRELUDE + self.source() + "\n"


# ----------------------------------------------------------------------------- per function
def _stochastic_kwargs(g, kw, roles_sto, eps_needed, signed_needed, total, vshape, allow_bad=True):
    """Add r/eps/sr_rule/source/draws/v keyword arguments (source lines) for an operation whose
    present stochastic casts are ``roles_sto`` (a bool) drawing ``total`` draws."""
    bad = allow_bad and g.p(0.25)
    which = g.pick(["r", "eps", "rand", "v", "sr_rule"]) if bad else None
    def put(name, expr, lib=False):
        kw[name] = g.let(name, expr, lib=lib)
    if g.p(0.6) or (roles_sto and g.p(0.5)):
        put("sr_rule", g.mode(SR_RULES, bad_p=0.02))
    if which == "sr_rule":
        put("sr_rule", repr(g.pick(["round", "TRUNC", "", "srff"])))
    if not roles_sto:
        # deterministic: stochastic parameters are ignored; a source must not move
        if g.p(0.25):
            put("source", g.source_expr(), lib=True)
        if g.p(0.1):
            put("r", g.r_expr())
        return
    if which == "r":
        if g.p(0.85):
            put("r", g.r_expr(valid=False))
        r = 8
    else:
        rtxt = g.r_expr()
        put("r", rtxt)
        r = int(rtxt.replace("np.int64(", "").rstrip(")"))
    if eps_needed or g.p(0.2):
        put("eps", g.eps_expr(valid=(which != "eps")))
    mode = g.wpick({"draws": 5, "source": 4})
    if which == "rand":
        mode = g.wpick({"both": 1, "none": 1, "badsrc": 2, "baddraws": 3})
    if mode in ("source", "both"):
        put("source", g.source_expr(r), lib=True)
    if mode in ("draws", "both"):
        put("draws", g.draws_expr(total, r))
    if mode == "badsrc":
        put("source", g.bad_source_expr())
    if mode == "baddraws":
        put("draws", g.draws_expr(total, r, valid=False))
    if signed_needed:
        if which == "v" and g.p(0.5) and "source" not in kw:
            kw.pop("draws", None)
            g.lines = [l for l in g.lines if l[0] != "draws"]
            put("source", g.source_expr(r), lib=True)
        put("v", g.v_expr(vshape, valid=(which != "v")))
    elif g.p(0.05):
        put("v", g.v_expr(vshape))


def _kwtext(kw):
    return "".join(f", {k}={v}" for k, v in kw.items() if v is not None)


def gen_cast(g: Gen):
    t = g.fmt("any" if g.p(0.5) else "mid")
    shape = g.shape()
    n = math.prod(shape)
    kind = g.wpick({"f64": 8, "f32": 2, "f16": 1.5, "int": 3, "bool": 0.5, "complex": 0.5,
                    "obj_float": 0.5, "obj_frac": 0.5, "obj_int": 0.5, "obj_str": 0.3,
                    "pyfloat": 1, "pyint": 1, "pybig": 0.5, "pyfrac": 0.3, "list_float": 1,
                    "list_int": 1, "list_big": 0.5, "fixed": 4, "str": 0.2, "none": 0.2,
                    "longdouble": 0.3, "ragged": 0.2})
    if kind in ("f64", "f32", "f16", "longdouble"):
        dt = {"f64": "float64", "f32": "float32", "f16": "float16", "longdouble": "float64"}[kind]
        e = g.array_expr([g.real_for(t) for _ in range(n)], shape, dt)
        x = g.let("x", f"{e}.astype(np.longdouble)" if kind == "longdouble" else e)
    elif kind == "int":
        dt = g.pick(INT_DTYPES)
        info = np.iinfo(dt)
        vals = []
        for _ in range(n):
            v = g.pick([int(info.min), int(info.max), 0, 1, -1, 2**53 + 1, -(2**53) - 1, 2**53,
                        g.r.randint(-300, 300)]) if g.p(0.5) else g.r.randint(int(info.min), int(info.max))
            vals.append(max(int(info.min), min(int(info.max), v)))
        x = g.let("x", g.array_expr(vals, shape, dt))
    elif kind == "bool":
        x = g.let("x", g.array_expr([g.p(0.5) for _ in range(n)], shape, "bool"))
    elif kind == "complex":
        x = g.let("x", g.array_expr([complex(g.real_for(t), g.pick([0.0, 1.0])) for _ in range(n)],
                                    shape, "complex128"))
    elif kind.startswith("obj_"):
        if kind == "obj_float":
            items = [_lit(g.real_for(t)) for _ in range(n)]
        elif kind == "obj_frac":
            items = [f"Fraction({g.r.randint(-999, 999)}, {g.pick([1, 2, 3, 4, 7, 1024])})" for _ in range(n)]
        elif kind == "obj_int":
            items = [str(g.pick([g.r.randint(-99, 99), 2**64 - 1, -2**63, 2**70])) for _ in range(n)]
        else:
            items = [g.pick(["'7'", "None", "Decimal('2.5')", "1.5"]) for _ in range(n)]
        x = g.let("x", f"_obj([{', '.join(items)}], {shape!r})")
    elif kind == "pyfloat":
        x = g.let("x", _lit(g.real_for(t)))
    elif kind == "pyint":
        x = g.let("x", str(g.pick([0, 1, -1, 7, -128, 255, 2**53, 2**63 - 1, -2**63, 2**64 - 1,
                                   g.r.randint(-1000, 1000)])))
    elif kind == "pybig":
        x = g.let("x", str(g.pick([2**64, -2**63 - 1, 2**100, -2**200])))
    elif kind == "pyfrac":
        x = g.let("x", f"Fraction({g.r.randint(-99, 99)}, {g.pick([1, 2, 3, 8])})")
    elif kind in ("list_float", "list_int", "list_big"):
        shape = shape or (1,)
        n = math.prod(shape)
        if kind == "list_float":
            vals = [g.real_for(t) for _ in range(n)]
        elif kind == "list_int":
            vals = [g.r.randint(-1000, 1000) for _ in range(n)]
        else:
            vals = [g.pick([2**64 - 1, 2**63, -2**63, 2**53 + 1, 5, -1]) for _ in range(n)]
        x = g.let("x", _nested(vals, shape) if n else "[]")
        if not n:
            shape = (0,)
    elif kind == "fixed":
        t2 = (g.wl(), t[1] + g.pick([0, 1, 2, 3, -1, -2, g.r.randint(-80, 80), g.r.randint(-512, 512)]), g.p(0.7))
        t2 = (t2[0], max(-256, min(256, t2[1])), t2[2])
        x = g.fixed("x", t2, shape)
    elif kind == "ragged":
        x = g.let("x", "[[1.0, 2.0], [3.0]]")
    elif kind == "str":
        x = g.let("x", "'1.5'")
    else:
        x = g.let("x", "None")
    fmt = g.let("fmt", g.fmt_expr(t) if g.p(0.96) else g.bad_fmt_expr())
    rnd_name = g.pick(STOCHASTIC) if g.p(0.35) else g.pick(ref.DETERMINISTIC)
    rsrc = repr(rnd_name) if g.p(0.97) else g.mode(ROUNDINGS, bad_p=1.0)
    rounding = g.let("rounding", rsrc)
    overflow = g.let("overflow", g.mode(OVERFLOWS))
    kw = {}
    sto = _unq(rsrc) in STOCHASTIC
    vshape = shape if kind not in ("pyfloat", "pyint", "pybig", "pyfrac", "str", "none") else ()
    _stochastic_kwargs(g, kw, sto, rnd_name in EPS_MODES, rnd_name == "signed_stochastic_eps",
                       n if vshape == shape else 1, vshape)
    call = f"fxsim.cast({x}, {fmt}, {rounding}, {overflow}{_kwtext(kw)})"
    return "cast", call, oracle_cast


def gen_binary(g: Gen, op):
    ta = g.fmt("mid" if g.p(0.7) else "any")
    tb = g.fmt("mid" if g.p(0.7) else "any") if g.p(0.7) else (g.wl(), ta[1] + g.r.randint(-3, 3), g.p(0.7))
    tb = (tb[0], max(-256, min(256, tb[1])), tb[2])
    sa = g.shape(32)
    sb = sa if g.p(0.6) else g.pick([(), sa[-1:] if sa else (), (1,) + sa[1:] if sa else (1,),
                                     g.shape(32)])
    a = g.fixed("a", ta, sa) if g.p(0.97) else g.let("a", g.pick(["np.array([1, 2])", "1.5", "[1, 2]"]))
    b = g.fixed("b", tb, sb) if g.p(0.97) else g.let("b", g.pick(["np.array([1, 2])", "3", "None"]))
    kw = {}
    out_t = None
    if g.p(0.6):
        if op == "mul":
            fl = ta[1] + tb[1] - g.pick([0, 1, 2, 3, 5, g.r.randint(-10, 40)])
        else:
            fl = max(ta[1], tb[1]) - g.pick([0, 1, 2, 3, g.r.randint(-10, 40)])
        out_t = (g.wl(), max(-256, min(256, fl)), g.p(0.7))
        kw["fmt"] = g.let("fmt", g.fmt_expr(out_t) if g.p(0.97) else g.bad_fmt_expr())
    rnd_name = g.pick(STOCHASTIC) if g.p(0.3) else g.pick(ref.DETERMINISTIC)
    rsrc = repr(rnd_name) if g.p(0.97) else g.mode(ROUNDINGS, bad_p=1.0)
    kw["rounding"] = g.let("rounding", rsrc)
    kw["overflow"] = g.let("overflow", g.mode(OVERFLOWS))
    try:
        shape = np.broadcast_shapes(sa, sb)
    except ValueError:
        shape = sa
    n = math.prod(shape)
    sto = _unq(rsrc) in STOCHASTIC
    _stochastic_kwargs(g, kw, sto, rnd_name in EPS_MODES, rnd_name == "signed_stochastic_eps", n, shape)
    order = ["fmt", "rounding", "overflow"]
    pos = ", ".join(kw.pop(k) if k in kw else "None" for k in order)
    call = f"fxsim.{op}({a}, {b}, {pos}{_kwtext(kw)})"
    return op, call, oracle_binary


def gen_mac(g: Gen, op):
    ta = g.fmt("mid") if g.p(0.8) else g.fmt("any")
    if g.p(0.5):   # int32/int64 containers (the lane path reads them in place)
        ta = (g.r.randint(17, 64), ta[1], ta[2])
    tb = g.fmt("mid") if g.p(0.8) else g.fmt("any")
    K = g.pick([0, 1, 2, 3, 4, 5, 8, 16]) if g.p(0.5) else g.r.randint(1, 8)
    M = g.pick([1, 2, 3]) if g.p(0.9) else g.pick([0, 4])
    N = g.pick([1, 2, 3]) if g.p(0.9) else g.pick([0, 4])
    bad_shape = g.p(0.04)
    if op == "dot":
        a = g.fixed("a", ta, (K,))
        b = g.fixed("b", tb, (K + 1,) if bad_shape else (K,))
        out_shape = ()
    elif op == "matvec":
        a = g.fixed("a", ta, (M, K))
        b = g.fixed("b", tb, (K + 1,) if bad_shape else (K,))
        out_shape = (M,)
    else:
        a = g.fixed("a", ta, (M, K))
        b = g.fixed("b", tb, (K + 1, N) if bad_shape else (K, N))
        out_shape = (M, N)
    if g.p(0.03):
        b = g.let("b", g.pick(["np.array([1, 2])", "3.0"]))
    flp = ta[1] + tb[1]
    kw = {}
    acc_t = prod_t = out_t = None
    if g.p(0.65):
        acc_t = (g.wl(8, 64), max(-256, min(256, flp + g.pick([0, 1, 2, 3, 4, 6, -1, -2, g.r.randint(-20, 20)]))), g.p(0.8))
        kw["acc"] = g.let("acc", g.fmt_expr(acc_t) if g.p(0.97) else g.bad_fmt_expr())
    if g.p(0.3):
        prod_t = (g.wl(4, 64), max(-256, min(256, flp - g.pick([0, 1, 2, 4, -1, g.r.randint(-8, 20)]))), g.p(0.8))
        kw["prod"] = g.let("prod", g.fmt_expr(prod_t))
    if g.p(0.35):
        if acc_t is not None and g.p(0.2):
            out_t = acc_t
        else:
            base = acc_t[1] if acc_t else (prod_t[1] if prod_t else flp)
            out_t = (g.wl(), max(-256, min(256, base - g.pick([0, 1, 2, 4, -1, g.r.randint(-8, 16)]))), g.p(0.8))
        kw["fmt"] = g.let("fmt", g.fmt_expr(out_t))
    rnd_name = g.pick(STOCHASTIC) if g.p(0.3) else g.pick(ref.DETERMINISTIC)
    rsrc = repr(rnd_name) if g.p(0.96) else g.mode(ROUNDINGS, bad_p=1.0)
    kw["rounding"] = g.let("rounding", rsrc)
    kw["overflow"] = g.let("overflow", g.mode(OVERFLOWS) if g.p(0.9) else repr(g.pick(["saturate", "wrap"])))
    over = {}
    for role in ("prod", "acc", "out"):
        if g.p(0.15):
            over[f"{role}_rounding"] = g.mode(ROUNDINGS, bad_p=0.1) if g.p(0.5) else repr(g.pick(STOCHASTIC))
        if g.p(0.12):
            over[f"{role}_overflow"] = g.mode(OVERFLOWS, bad_p=0.1)
    plan = mac_plan(acc_t, prod_t, out_t, _unq(rsrc), {k: _unq(v) for k, v in over.items()})
    for k, v in over.items():
        kw[k] = g.let(k, v)
    per_el = K * (plan["prod_sto"] + plan["acc_sto"]) + plan["out_sto"]
    total = math.prod(out_shape) * per_el
    _stochastic_kwargs(g, kw, plan["any_sto"], plan["eps"], plan["signed"], total, out_shape)
    order = ["acc", "prod", "fmt", "rounding", "overflow"]
    pos = ", ".join(kw.pop(k) if k in kw else "None" for k in order)
    call = f"fxsim.{op}({a}, {b}, {pos}{_kwtext(kw)})"
    return op, call, oracle_mac


def _unq(src):
    """The string a mode-name source expression evaluates to (None if not a plain literal)."""
    if src is None:
        return None
    s = src
    if s.startswith("np.str_(") and s.endswith(")"):
        s = s[8:-1]
    if len(s) >= 2 and s[0] == s[-1] == "'":
        return s[1:-1]
    return "<bad>"


def mac_plan(acc, prod, out, rounding, over):
    """Which casts of a MAC are present, and stochastic (spec 4): prod when given, acc when given,
    out when given and different from acc.  ``over``: the role overrides (None = not given)."""
    def eff(role):
        v = over.get(f"{role}_rounding")
        return v if v is not None else rounding
    present = {"prod": prod is not None, "acc": acc is not None,
               "out": out is not None and (acc is None or tuple(out) != tuple(acc))}
    modes = {role: eff(role) for role in present}
    sto = {role: present[role] and modes[role] in STOCHASTIC for role in present}
    return {"present": present, "modes": modes,
            "prod_sto": int(sto["prod"]), "acc_sto": int(sto["acc"]), "out_sto": int(sto["out"]),
            "any_sto": any(sto.values()),
            "eps": any(sto[k] and modes[k] in EPS_MODES for k in sto),
            "signed": any(sto[k] and modes[k] == "signed_stochastic_eps" for k in sto)}


def gen_fixedarray(g: Gen):
    t = g.fmt("any" if g.p(0.4) else "mid")
    shape = g.shape(32)
    n = math.prod(shape)
    lo, hi = ref.fmt_range(t[0], t[2])
    kind = g.wpick({"int": 6, "bool": 0.5, "float": 1, "complex": 0.3, "obj": 2, "list": 2,
                    "pyint": 1, "pyfloat": 0.3, "ragged": 0.2, "str": 0.2})
    out_of_range = g.p(0.12)

    def val():
        if out_of_range and g.p(0.4):
            return g.pick([hi + 1, lo - 1, 2**64, -2**63 - 1, 2**70])
        return g.raw(t)
    vals = [val() for _ in range(n)]
    if kind == "int":
        dt = g.pick(INT_DTYPES) if g.p(0.4) else ref_container(t)
        info = np.iinfo(dt)
        vals = [v if info.min <= v <= info.max else int(info.max) for v in vals]
        raw = g.let("raw", g.array_expr(vals, shape, dt))
    elif kind == "bool":
        raw = g.let("raw", g.array_expr([g.p(0.5) for _ in range(n)], shape, "bool"))
    elif kind == "float":
        fv = [float(v) + (0.5 if g.p(0.3) else 0.0) for v in vals]
        raw = g.let("raw", g.array_expr(fv, shape, g.pick(FLOAT_DTYPES)))
    elif kind == "complex":
        raw = g.let("raw", g.array_expr([complex(v % 7, 0) for v in vals], shape, "complex128"))
    elif kind == "obj":
        items = [g.pick([_lit(v), _lit(v), f"np.int64({max(-2**63, min(2**63 - 1, v))})",
                         "Fraction(1, 2)", "1.5", "Decimal('2.5')", "'7'", "None", "2.0",
                         "Fraction(4, 1)", "True", "Decimal('3')", "[1]"])
                 if g.p(0.3) else _lit(v) for v in vals]
        raw = g.let("raw", f"_obj([{', '.join(items)}], {shape!r})" if n
                    else f"np.zeros({shape!r}, dtype=object)")
    elif kind == "list":
        shape = shape or (1,)
        n = math.prod(shape)
        vals = [val() for _ in range(n)]
        raw = g.let("raw", _nested(vals, shape) if n else "[]")
    elif kind == "pyint":
        raw = g.let("raw", str(val()))
    elif kind == "pyfloat":
        raw = g.let("raw", g.pick(["1.5", "2.0", "-0.5", "nan"]))
    elif kind == "ragged":
        raw = g.let("raw", "[[1, 2], [3]]")
    else:
        raw = g.let("raw", "'7'")
    fmt = g.let("fmt", g.fmt_expr(t) if g.p(0.95) else g.bad_fmt_expr())
    return "FixedArray", f"FixedArray({raw}, {fmt})", oracle_fixedarray


def gen_method(g: Gen):
    t = g.fmt("any" if g.p(0.5) else "mid")
    shape = g.shape(32)
    a = g.fixed("a", t, shape)
    m = g.wpick({"to_float": 2, "to_fraction": 1.5, "to_bin": 1.5, "to_hex": 1.5, "bits": 2,
                 "reshape": 1.5, "getitem": 3, "eq": 3, "repr": 0.5, "format": 0.5,
                 "asarray": 0.5, "neg": 0.5})
    n = math.prod(shape)
    if m == "bits":
        if shape == () or g.p(0.1):
            idx = g.pick(["", "()", "0", "(0,)"])
        else:
            idx = ", ".join(str(g.r.randint(-d - 1, d)) if g.p(0.9) else "0" for d in shape)
            idx = f"({idx},)" if (len(shape) > 1 or g.p(0.5)) else idx
        return "FixedArray.bits", f"{a}.bits({idx})", oracle_method
    if m == "reshape":
        if g.p(0.8):
            tgt = g.pick([(n,), (-1,), (1, n), (n, 1), ()]) if n != 1 else g.pick([(), (1,), (1, 1, 1)])
            if n and n % 2 == 0 and g.p(0.3):
                tgt = (2, -1)
            if tgt == () and n != 1:
                tgt = (n,)
        else:
            tgt = (n + 1,)
        args = ", ".join(map(str, tgt)) if g.p(0.5) else repr(tgt)
        return "FixedArray.reshape", f"{a}.reshape({args})", oracle_method
    if m == "getitem":
        opts = ["0", "-1", "1:", "::2", "...", "None", "()", "[0, 0]", "5", "-99", "'x'", "1.0"]
        if len(shape) >= 2:
            opts += ["(0, 1)", "(slice(None), 0)", "(-1, -1)", "(0, 0, 0, 0)"]
        if n:
            opts.append("np.array([" + ", ".join(g.pick(["True", "False"]) for _ in range(shape[0] if shape else 1)) + "])")
        idx = g.pick(opts)
        return "FixedArray[]", f"{a}[{idx}]", oracle_method
    if m == "eq":
        t2 = t if g.p(0.4) else (g.wl(), t[1] + g.pick([0, 1, -1, 3, 60]), g.p(0.5))
        t2 = (t2[0], max(-256, min(256, t2[1])), t2[2])
        s2 = shape if g.p(0.7) else g.pick([(), shape[-1:] if shape else (), g.shape(8)])
        b = g.fixed("b", t2, s2) if g.p(0.95) else g.let("b", g.pick(["5", "np.zeros(3)"]))
        return "FixedArray.==", f"({a} == {b})", oracle_method
    if m == "repr":
        return "FixedArray.repr", f"repr({a})", oracle_method
    if m == "format":
        return "FixedArray.format", f"{a}.format(bits=True)", oracle_method
    if m == "asarray":
        return "FixedArray.asarray", f"np.asarray({a})", oracle_method
    if m == "neg":
        return "FixedArray.neg", f"(-{a})", oracle_method
    return f"FixedArray.{m}", f"{a}.{m}()", oracle_method


def gen_qformat(g: Gen):
    def num(lo, hi):
        k = g.wpick({"ok": 8, "edge": 2, "np": 1, "bad": 2})
        if k == "ok":
            return str(g.r.randint(lo, hi))
        if k == "edge":
            return str(g.pick([lo, hi, lo - 1, hi + 1]))
        if k == "np":
            return f"np.{g.pick(['int8', 'int16', 'int64', 'uint8', 'int32'])}({g.r.randint(max(lo, 0), min(hi, 127))})"
        return g.pick(["2.5", "8.0", "'8'", "None", "True", "False", "2**70", "-2**70",
                       "Fraction(8, 1)", "complex(8, 0)"])
    wl, fl = num(1, 64), num(-256, 256)
    signed = g.pick(["True", "False", "True", "False", "np.bool_(True)", "0", "1", "2", "'yes'",
                     "None", "1.0"])
    form = g.r.randrange(3)
    if form == 0:
        call = f"QFormat({wl}, {fl})"
    elif form == 1:
        call = f"QFormat({wl}, {fl}, {signed})"
    else:
        call = f"QFormat(wl={wl}, fl={fl}, signed={signed})"
    return "QFormat", call, oracle_qformat


def gen_parse(g: Gen, which):
    if g.p(0.7):
        t = g.fmt("any")
        if g.p(0.1):
            t = (g.pick([0, 65, 100]), t[1], t[2])
        if g.p(0.05):
            t = (t[0], g.pick([257, -257, 1000]), t[2])
        wl, fl, s = t
        form = g.r.randrange(3)
        if form == 0:
            txt = f"{'' if s else 'U'}Q{wl - fl}.{fl}"
        elif form == 1:
            txt = f"{'s' if s else 'u'}{wl}.{fl}"
        else:
            txt = f"{'' if s else 'U'}Q({wl},{fl})"
        if g.p(0.3):
            txt = "".join(c.lower() if g.p(0.5) else c.upper() for c in txt)
        if g.p(0.2):
            i = g.r.randint(0, len(txt))
            txt = txt[:i] + " " + txt[i:]
        if g.p(0.05):
            txt = txt.replace("Q", "Q0", 1) if "Q" in txt else txt
        arg = repr(txt)
    else:
        arg = g.pick(["'Q8'", "'Q8.8.8'", "'X8.8'", "'Q(8)'", "'s16'", "'Qa.b'", "''", "'Q(8,8'",
                      "'Q+8.8'", "'Q(-8,8)'", "'q8.8x'", "'UQ-1.1'", "'s-8.2'", "'8.8'",
                      "None", "8", "b'Q8.8'", "('Q8.8',)", "'Q8..8'", "'Q(8,,8)'",
                      "'Q\\t8.8'", "'Q 8 . 8'", "QFormat(8, 4)", "QFormat(64, -256, False)"])
    if which == "parse":
        return "QFormat.parse", f"QFormat.parse({arg})", oracle_parse
    return "qformat", f"fxsim.qformat({arg})", oracle_parse


def gen_lfsr(g: Gen):
    args = []
    n = g.pick([2, 3, 4, 5, 7, 8, 11, 12, 16, 24, 31, 32, 33, 48, 63, 64]) if g.p(0.9) else \
        g.pick([1, 65, 0, "2.0", "'16'", "True", "None"])
    tk = g.wpick({"none": 5, "table": 2, "random": 2, "bad": 1})
    small = isinstance(n, int) and 2 <= n <= 64
    if tk == "none" or not small:
        if g.p(0.8) or not small:
            args.append(f"n={n}" if g.p(0.5) else str(n))
    else:
        args.append(f"n={n}" if g.p(0.5) else str(n))
    if small and tk == "table":
        from fxsim.sources import taps_table   # data, not code under test
        taps = list(taps_table()[n])
        g.r.shuffle(taps)
        args.append("taps=" + g.pick([repr(taps), repr(tuple(taps)), repr(" ".join(map(str, taps))),
                                      repr(",".join(map(str, taps)))]))
    elif small and tk == "random":
        k = g.r.randint(1, min(4, n))
        taps = [n] + g.r.sample(range(1, n), k - 1) if n > 1 else [n]
        args.append(f"taps={taps!r}")
        if g.p(0.6):
            args.append("allow_nonprimitive=True")
    elif tk == "bad":
        args.append("taps=" + g.pick(["[]", "[16, 16, 3]", "[17, 3]", "[16, 0]", "'16 x'",
                                      "[16.0, 3]", "5", "[65, 1]", "[1]"]))
    nn = n if small else 16
    if g.p(0.3):
        args.append("form=" + g.pick(["'fibonacci'", "'galois'", "'fib'", "None"]))
    if g.p(0.3):
        args.append("rule=" + g.pick(["'state'", "'serial'", "'parallel'"]))
    lanes = 1
    if g.p(0.3):
        lanes = g.pick([1, 2, 3, 4, 7]) if g.p(0.85) else g.pick([0, -1, 2**21, "2.0"])
        args.append(f"lanes={lanes}")
    if g.p(0.2) and isinstance(lanes, int) and 1 <= lanes <= 8:
        k = lanes if g.p(0.8) else lanes + 1
        seeds = [g.r.randint(1, (1 << nn) - 1) for _ in range(k)]
        if g.p(0.1):
            seeds[0] = 0
        args.append(f"lane_seeds={seeds!r}")
    if g.p(0.6):
        s = g.r.randint(1, (1 << nn) - 1) if g.p(0.85) else g.pick([0, 1 << nn, -1, "1.5", "True", "None", 2**70])
        args.append(f"seed={s}")
    r = g.pick([1, 2, 4, 8, 16, 32, 64, nn, g.r.randint(1, 64)])
    k = g.pick([0, 1, 3, 8, 17])
    return "LFSR", f"LFSR({', '.join(args)})", oracle_lfsr, {"r": r, "k": k}


def gen_ideal(g: Gen):
    kind = g.wpick({"name": 6, "inst": 1, "gen": 1, "bad": 1})
    if kind == "name":
        name = g.pick(["pcg64", "philox", "sfc64", "mt19937", "pcg64dxsm", "PCG64", "Philox"])
        seed = g.pick([str(g.r.randint(0, 2**32)), "None", "np.random.SeedSequence(5)", "2**100",
                       "np.int64(7)"]) if g.p(0.9) else g.pick(["-1", "1.5", "'seed'"])
        call = g.pick([f"Ideal({name!r}, seed={seed})", f"Ideal({name!r}, {seed})"])
    elif kind == "inst":
        bg = g.let("bg", f"np.random.{g.pick(['PCG64', 'Philox', 'SFC64', 'MT19937'])}({g.r.randint(0, 99)})")
        call = f"Ideal({bg})" if g.p(0.8) else f"Ideal({bg}, seed=3)"
    elif kind == "gen":
        bg = g.let("bg", f"np.random.default_rng({g.r.randint(0, 99)})")
        call = f"Ideal({bg})"
    else:
        call = f"Ideal({g.pick(['pcg', 'lfsr', 5, None, 'mt'])!r})"
    r = g.pick([1, 8, 16, 32, 53, 63, 64, g.r.randint(1, 64)])
    return "Ideal", call, oracle_ideal, {"r": r, "k": g.pick([0, 1, 4, 9])}


def gen_draws(g: Gen):
    src = g.let("src", g.source_expr(), lib=True)
    if g.p(0.3):   # not at draw 0
        g.let("_pre", f"{src}.draws({g.r.randint(1, 9)}, {g.pick([1, 2])})", lib=True)
    n = g.pick(["0", "1", "5", "17", "64", str(g.r.randint(0, 64)), "np.int64(3)"]) if g.p(0.85) \
        else g.pick(["-1", "2.5", "None", "True", "'3'", str(1 << 48), str(2**63), str(2**64), "2**100"])
    r = g.r_expr(valid=g.p(0.88))
    if g.p(0.2):
        return "source.next", f"{src}.next({r})", oracle_draws
    return "source.draws", f"{src}.draws({n}, {r})", oracle_draws


GENERATORS = {
    "cast": (20, gen_cast),
    "add": (6, lambda g: gen_binary(g, "add")),
    "sub": (5, lambda g: gen_binary(g, "sub")),
    "mul": (6, lambda g: gen_binary(g, "mul")),
    "dot": (8, lambda g: gen_mac(g, "dot")),
    "matvec": (5, lambda g: gen_mac(g, "matvec")),
    "matmul": (6, lambda g: gen_mac(g, "matmul")),
    "FixedArray": (9, gen_fixedarray),
    "method": (11, gen_method),
    "QFormat": (4, gen_qformat),
    "parse": (3, lambda g: gen_parse(g, "parse")),
    "qformat": (2, lambda g: gen_parse(g, "qformat")),
    "LFSR": (4, gen_lfsr),
    "Ideal": (3, gen_ideal),
    "draws": (6, gen_draws),
}


def generate(seed: int, index: int) -> Case:
    g = Gen(seed, index)
    key = g.wpick({k: w for k, (w, _) in GENERATORS.items()})
    out = GENERATORS[key][1](g)
    func, call, oracle = out[:3]
    ctx = out[3] if len(out) > 3 else {}
    return Case(seed, index, func, g.lines, call, oracle, ctx)


def describe(seed: int, index: int) -> str:
    c = generate(seed, index)
    return f"# seed={seed} index={index} function={c.func}\n{c.source()}"


# ============================================================================ the oracle
OK, GRAY, BAD = 0, 1, 2


class Expect:
    """What a call must do.  mode: 'result' (must return; ``check`` judges it), 'refuse' (must
    raise one of ``errors``; ``data`` when the refusal comes from the values, e.g. an overflow
    under overflow='error'), 'either' (may refuse with one of ``errors``; a result is checked)."""

    def __init__(self, mode, why="", errors=ARG_ERRORS, check=None, data=False, sources=None,
                 index_ok=False):
        self.mode, self.why, self.errors, self.check = mode, why, tuple(errors), check
        self.data = data
        self.sources = sources or {}   # ns name -> expected state after a successful call
        self.index_ok = index_ok       # IndexError is the protocol's error here (indexing)


class Verdict:
    """Collects the oracle's findings about the arguments: the first bad one wins."""

    def __init__(self):
        self.bad = []
        self.gray = []

    def add(self, status, why):
        if status == BAD:
            self.bad.append(why)
        elif status == GRAY:
            self.gray.append(why)


def _is_int(v):
    return isinstance(v, Integral) and not isinstance(v, (bool, np.bool_))


def cl_fmt(obj):
    if type(obj).__name__ == "QFormat":
        return OK, (obj.wl, obj.fl, obj.signed), ""
    if isinstance(obj, str):
        try:
            return OK, ref.ref_parse_format(obj), ""
        except ValueError:
            return BAD, None, f"bad format string {obj!r}"
    return BAD, None, f"format of type {type(obj).__name__}: {obj!r}"


def cl_mode(obj, names, what):
    if isinstance(obj, str) and obj in names:
        return OK, str(obj), ""
    return BAD, None, f"{what}={obj!r} is not a mode name"


def cl_r(obj):
    if _is_int(obj) and 1 <= int(obj) <= 64:
        return OK, int(obj), ""
    return BAD, None, f"r={obj!r}"


def cl_eps(obj):
    if isinstance(obj, (bool, np.bool_)):
        return (GRAY, Fraction(0), "eps=False") if not obj else (BAD, None, "eps=True")
    if _is_int(obj):
        v = Fraction(int(obj))
    elif isinstance(obj, (float, np.floating)) and not isinstance(obj, np.longdouble):
        if not math.isfinite(float(obj)):
            return BAD, None, f"eps={obj!r}"
        v = Fraction(float(obj))
    elif isinstance(obj, Fraction):
        v = obj
    elif isinstance(obj, Decimal):
        if not obj.is_finite():
            return BAD, None, f"eps={obj!r}"
        v = Fraction(obj)
        return (GRAY, v, "Decimal eps") if 0 <= v < 1 else (BAD, None, f"eps={obj!r}")
    else:
        return BAD, None, f"eps of type {type(obj).__name__}"
    return (OK, v, "") if 0 <= v < 1 else (BAD, None, f"eps={obj!r} outside [0, 1)")


def is_source(obj):
    from fxsim.sources import BitSource
    return isinstance(obj, BitSource)


def cl_draws(obj, total, r):
    try:
        a = np.asarray(obj)
    except Exception:
        return BAD, None, "draws not an array"
    status = OK
    if a.dtype.kind == "b":
        status = GRAY
    elif a.dtype.kind == "O":
        if not all(_is_int(v) for v in a.ravel().tolist()):
            return BAD, None, "draws of non-integers"
        status = GRAY
    elif a.dtype.kind not in "iu":
        return BAD, None, f"draws of dtype {a.dtype}"
    vals = [int(v) for v in a.ravel().tolist()]
    if len(vals) != total:
        return BAD, None, f"draws hold {len(vals)} values, the call needs {total}"
    if any(v < 0 or v >= (1 << r) for v in vals):
        return BAD, None, "a draw outside [0, 2**r)"
    if a.ndim != 1:
        status = max(status, GRAY)
    return status, vals, "draws not 1-D" if status == GRAY else ""


def cl_v(obj, shape):
    if obj is None:
        return BAD, None, "v missing"
    if type(obj).__name__ == "FixedArray":
        vals = np.array([(m > 0) - (m < 0) for m in obj.raw.ravel().tolist()], dtype=int).reshape(obj.shape)
        status = OK
    else:
        try:
            a = np.asarray(obj)
        except Exception:
            return BAD, None, "v not an array"
        if a.dtype.kind not in "fiu":
            if a.dtype.kind == "b":
                return GRAY, None, "bool v"
            return BAD, None, f"v of dtype {a.dtype}"
        af = a.astype(np.float64)
        if np.isnan(af).any():
            return BAD, None, "v contains NaN"
        vals = np.sign(af).astype(int)
        status = OK
    if vals.shape != tuple(shape):
        try:
            vals = np.broadcast_to(vals, shape)
        except ValueError:
            return BAD, None, f"v has shape {vals.shape}, the output {shape}"
        status = GRAY
    return status, [int(s) for s in vals.ravel().tolist()], "v broadcast" if status == GRAY else ""


def _real(v):
    """Exact value of a scalar element, or nan/inf floats, or None if not a real number."""
    if isinstance(v, (bool, np.bool_)):
        return Fraction(int(v))
    if isinstance(v, (int, np.integer)):
        return Fraction(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return Fraction(f) if math.isfinite(f) else f
    if isinstance(v, Fraction):
        return v
    if isinstance(v, Decimal):
        return Fraction(v) if v.is_finite() else float(v)
    return None


def _f64(v):
    """What float64 conversion makes of an exact value (the documented path for array-likes)."""
    if isinstance(v, float):
        return v
    try:
        f = float(v)
    except OverflowError:
        f = math.copysign(math.inf, v)
    return Fraction(f) if math.isfinite(f) else f


def _list_shape(obj):
    """Shape and flat elements of a nested list/tuple, None if ragged."""
    if not isinstance(obj, (list, tuple)):
        return (), [obj]
    if not obj:
        return (0,), []
    subs = [_list_shape(x) for x in obj]
    if any(s is None for s in subs) or len({s[0] for s in subs}) != 1:
        return None
    return (len(obj),) + subs[0][0], [e for s in subs for e in s[1]]


def cl_x(obj):
    """cast's x: (status, values, alt values or None, shape, why)."""
    if type(obj).__name__ == "FixedArray":
        fl = obj.fmt.fl
        return OK, [ref.value(int(m), fl) for m in obj.raw.ravel().tolist()], None, obj.shape, ""
    if isinstance(obj, np.ndarray):
        k = obj.dtype.kind
        flat = obj.ravel().tolist() if k != "f" or obj.dtype != np.longdouble else [float(v) for v in obj.ravel()]
        if k in "fiu":
            return OK, [_real(v) for v in flat], None, obj.shape, ""
        if k == "b":
            return GRAY, [_real(v) for v in flat], None, obj.shape, "bool x"
        if k == "O":
            vals = [_real(v) for v in flat]
            if any(v is None for v in vals):
                return BAD, None, None, obj.shape, "x holds non-numbers"
            return GRAY, vals, [_f64(v) for v in vals], obj.shape, "object x"
        return BAD, None, None, obj.shape, f"x of dtype {obj.dtype}"
    if isinstance(obj, (list, tuple)):
        ls = _list_shape(obj)
        if ls is None:
            return BAD, None, None, (), "ragged x"
        shape, flat = ls
        if any(isinstance(v, (bool, np.bool_)) for v in flat):
            st = GRAY
        else:
            st = OK
        vals = [_real(v) for v in flat]
        if any(v is None for v in vals):
            return BAD, None, None, shape, "x holds non-numbers"
        if any(isinstance(v, (Fraction, Decimal)) for v in flat):
            st = GRAY
        if any(isinstance(v, int) and abs(v) > 2**53 for v in flat):
            return GRAY, vals, [_f64(v) for v in vals], shape, "list of ints beyond 2**53"
        return st, vals, None, shape, "bool/Fraction in list" if st == GRAY else ""
    v = _real(obj)
    if v is None or isinstance(obj, np.longdouble):
        if isinstance(obj, np.longdouble):
            return OK, [_real(float(obj))], None, (), ""
        return BAD, None, None, (), f"x of type {type(obj).__name__}"
    if isinstance(obj, (bool, np.bool_, Fraction, Decimal)):
        return GRAY, [v], None, (), f"x of type {type(obj).__name__}"
    if isinstance(obj, int) and not -2**63 <= obj < 2**64:
        return GRAY, [v], None, (), "Python int beyond 64 bits"
    return OK, [v], None, (), ""


def _ns_get(ns, kw, name, default):
    return ns[kw[name]] if name in kw else default


# -- result checks ---------------------------------------------------------------------------
def _fx_check(res, fmt, shape, words, alt=None, inputs=()):
    """Judge a FixedArray result: type, format, container, shape, every word."""
    out = []
    if type(res).__name__ != "FixedArray":
        return [(WRONG_TYPE, f"returned {type(res).__name__}, expected a FixedArray")]
    got_fmt = (res.fmt.wl, res.fmt.fl, res.fmt.signed)
    if got_fmt != tuple(fmt):
        out.append((WRONG_FORMAT, f"format {got_fmt}, expected {tuple(fmt)}"))
    raw = res.raw
    if not isinstance(raw, np.ndarray):
        return out + [(WRONG_TYPE, f".raw is {type(raw).__name__}")]
    if raw.dtype != np.dtype(ref_container(fmt)):
        out.append((WRONG_DTYPE, f"raw dtype {raw.dtype}, expected {ref_container(fmt)}"))
    if tuple(raw.shape) != tuple(shape):
        return out + [(WRONG_SHAPE, f"shape {raw.shape}, expected {tuple(shape)}")]
    got = [int(v) for v in raw.ravel().tolist()]
    if got != list(words) and not (alt is not None and got == list(alt)):
        bad = [i for i, (x, y) in enumerate(zip(got, words)) if x != y]
        i = bad[0]
        out.append((WRONG_WORD, f"{len(bad)} of {len(got)} words wrong; first at flat index {i}: "
                                f"got {got[i]}, expected {words[i]}"))
    for name, arr in inputs:
        if isinstance(arr, np.ndarray) and arr.size and np.shares_memory(raw, arr):
            out.append((ALIAS, f"result.raw shares memory with {name}"))
    return out


def _source_plan(ns, kw, n, r):
    """Draws of a valid stochastic call from a source: (status, draws, expected post-state)."""
    from fxsim.sources import from_state, LFSR
    src = ns[kw["source"]]
    if not is_source(src):
        return BAD, None, None, f"source={src!r} is not a bit source"
    if isinstance(src, LFSR) and src.rule == "state" and r > src.n:
        return BAD, None, None, f"r={r} > n={src.n} for a rule='state' LFSR"
    cp = from_state(src.state)
    d = [int(v) for v in cp.draws(n, r).tolist()]
    return OK, d, cp.state, ""


def _randomness(ns, kw, v, need_sto, eps_modes, signed, total, vshape, r_default=None):
    """Validate r/eps/source/draws/v of an operation; returns (Verdict additions, r, eps,
    draws list, signs list, source expectations)."""
    ver = Verdict()
    st_r = st_e = None
    r = eps = draws = signs = None
    sources = {}
    if not need_sto:
        return ver, None, Fraction(0), None, None, sources
    r_obj = _ns_get(ns, kw, "r", None)
    if r_obj is None:
        ver.add(BAD, "stochastic rounding without r")
    else:
        st_r, r, why = cl_r(r_obj)
        ver.add(st_r, why)
    eps_obj = _ns_get(ns, kw, "eps", 0.0)
    st_e, eps, why = cl_eps(eps_obj)
    if eps_modes:
        ver.add(st_e, why)
    elif st_e != OK:
        ver.add(GRAY, "unused " + why)
        eps = Fraction(0)
    has_src, has_draws = "source" in kw and ns[kw["source"]] is not None, "draws" in kw and ns[kw["draws"]] is not None
    if has_src and has_draws:
        ver.add(BAD, "both source= and draws=")
    elif not has_src and not has_draws:
        ver.add(BAD, "stochastic rounding without source or draws")
    if signed:
        st_v, signs, why = cl_v(_ns_get(ns, kw, "v", None), vshape)
        ver.add(st_v, why)
    if ver.bad or r is None:
        return ver, r, eps, None, signs, sources
    if has_draws and not has_src:
        st_d, draws, why = cl_draws(ns[kw["draws"]], total, r)
        ver.add(st_d, why)
    elif has_src and not has_draws:
        st_s, draws, post, why = _source_plan(ns, kw, total, r)
        ver.add(st_s, why)
        if st_s == OK:
            sources[kw["source"]] = post
    return ver, r, eps, draws, signs, sources


def _run_casts(values, fmt, rounding, overflow, r, eps, draws, signs, sr_rule):
    words, errs = [], set()
    wl, fl, signed = fmt
    for i, x in enumerate(values):
        R = draws[i] if draws is not None else None
        vv = signs[i] if signs is not None else 0
        try:
            words.append(ref.ref_cast_info(x, wl, fl, signed, rounding, overflow, R=R, r=r,
                                           eps=eps or 0, v=vv, sr_rule=sr_rule).raw)
        except OverflowError:
            errs.add(OverflowError)
            words.append(None)
        except ValueError:
            errs.add(ValueError)
            words.append(None)
    return words, errs


def _finish(ver, words, errs, check, sources, limits=None, data_why=""):
    if ver.bad:
        return Expect("refuse", "; ".join(ver.bad))
    allowed = set()
    if limits:
        allowed.add(ValueError)
    if errs:
        return Expect("refuse", data_why or ("data: " + ", ".join(sorted(e.__name__ for e in errs))),
                      errors=tuple(errs | allowed | (set(ARG_ERRORS) if ver.gray else set())), data=True)
    if ver.gray or limits:
        errs2 = tuple((set(ARG_ERRORS) if ver.gray else set()) | allowed)
        return Expect("either", "; ".join(ver.gray + ([limits] if limits else [])), errors=errs2,
                      check=check, sources=sources)
    return Expect("result", check=check, sources=sources)


def _modes(ns, kw, ver, names=("rounding", "overflow", "sr_rule"), defaults=None):
    defaults = defaults or {"rounding": "nearest_even", "overflow": "saturate", "sr_rule": "trunc"}
    out = {}
    for name in names:
        obj = _ns_get(ns, kw, name, defaults[name])
        table = {"rounding": ROUNDINGS, "overflow": OVERFLOWS, "sr_rule": SR_RULES}[name]
        st, val, why = cl_mode(obj, table, name)
        ver.add(st, why)
        out[name] = val
    return out


def oracle_cast(ns, kw):
    ver = Verdict()
    st, fmt, why = cl_fmt(ns[kw["fmt"]])
    ver.add(st, why)
    m = _modes(ns, kw, ver)
    stx, values, alt, shape, why = cl_x(ns[kw["x"]])
    ver.add(stx, why)
    rounding = m["rounding"]
    sto = rounding in STOCHASTIC
    n = math.prod(shape)
    if ver.bad:
        return Expect("refuse", "; ".join(ver.bad))
    v2, r, eps, draws, signs, sources = _randomness(
        ns, kw, None, sto, rounding in EPS_MODES, rounding == "signed_stochastic_eps", n, shape)
    ver.bad += v2.bad
    ver.gray += v2.gray
    if ver.bad:
        return Expect("refuse", "; ".join(ver.bad))
    limits = None
    x = ns[kw["x"]]
    if type(x).__name__ == "FixedArray":
        s = x.fmt.fl - fmt[1]
        bound = max(-x.fmt.min_raw, x.fmt.max_raw)
        if s < 0 and bound << -s >= LIMIT:
            limits = "x aligned to the output needs more than 127 bits"
    words, errs = _run_casts(values, fmt, rounding, m["overflow"], r, eps, draws, signs, m["sr_rule"])
    alt_words = None
    if alt is not None and not errs:
        alt_words, e2 = _run_casts(alt, fmt, rounding, m["overflow"], r, eps, draws, signs, m["sr_rule"])
        if e2:
            alt_words = None
    inputs = [(k, ns[k]) for k in kw.values() if isinstance(ns.get(k), np.ndarray)]
    return _finish(ver, words, errs,
                   lambda res: _fx_check(res, fmt, shape, words, alt_words, inputs), sources, limits)


def _fixed_operand(ns, kw, name, ver):
    obj = ns[kw[name]]
    if type(obj).__name__ != "FixedArray":
        ver.add(BAD, f"{name} is a {type(obj).__name__}, not a FixedArray")
        return None, None, None
    f = (obj.fmt.wl, obj.fmt.fl, obj.fmt.signed)
    raws = np.empty(obj.size, dtype=object)
    raws[:] = [int(v) for v in obj.raw.ravel().tolist()]
    return obj, f, raws.reshape(obj.shape)


def _out_fmt(ns, kw, name, ver):
    if name not in kw or ns[kw[name]] is None:
        return None
    st, f, why = cl_fmt(ns[kw[name]])
    ver.add(st, why)
    return f


def oracle_binary(ns, kw, op):
    ver = Verdict()
    a, fa, ra = _fixed_operand(ns, kw, "a", ver)
    b, fb, rb = _fixed_operand(ns, kw, "b", ver)
    fmt = _out_fmt(ns, kw, "fmt", ver)
    m = _modes(ns, kw, ver)
    if ver.bad:
        return Expect("refuse", "; ".join(ver.bad))
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        return Expect("refuse", f"shapes {a.shape} and {b.shape} do not broadcast")
    limits = None
    if op == "mul":
        F = fa[1] + fb[1]
        ext = [x * y for x in ref.fmt_range(fa[0], fa[2]) for y in ref.fmt_range(fb[0], fb[2])]
    else:
        F = max(fa[1], fb[1])
        sa = [x << (F - fa[1]) for x in ref.fmt_range(fa[0], fa[2])]
        sb = [x << (F - fb[1]) for x in ref.fmt_range(fb[0], fb[2])]
        ext = [x + y if op == "add" else x - y for x in sa for y in sb]
        if max(abs(e) for e in sa + sb) >= LIMIT:
            limits = "aligned operands need more than 127 bits"
    bound = max(abs(e) for e in ext)
    if bound >= LIMIT:
        limits = "exact result needs more than 127 bits"
    if fmt is None:
        try:
            fmt = ref.ref_full_precision(op, fa, fb)
        except ValueError as e:
            if limits:
                return Expect("refuse", str(e) + "; " + limits)
            return Expect("refuse", str(e))
    elif fmt[1] > F and bound << (fmt[1] - F) >= LIMIT:
        limits = "result aligned to the output needs more than 127 bits"
    rounding = m["rounding"]
    n = math.prod(shape)
    v2, r, eps, draws, signs, sources = _randomness(
        ns, kw, None, rounding in STOCHASTIC, rounding in EPS_MODES,
        rounding == "signed_stochastic_eps", n, shape)
    ver.bad += v2.bad
    ver.gray += v2.gray
    if ver.bad:
        return Expect("refuse", "; ".join(ver.bad))
    xa, xb = np.broadcast_arrays(ra, rb)
    exact = {"add": ref.exact_add, "sub": ref.exact_sub, "mul": ref.exact_mul}[op]
    values = [exact(int(p), fa, int(q), fb) for p, q in zip(xa.ravel().tolist(), xb.ravel().tolist())]
    words, errs = _run_casts(values, fmt, rounding, m["overflow"], r, eps, draws, signs, m["sr_rule"])
    inputs = [(k, ns[k]) for k in kw.values() if isinstance(ns.get(k), np.ndarray)]
    inputs += [(kw[k], ns[kw[k]].raw) for k in ("a", "b")]
    return _finish(ver, words, errs, lambda res: _fx_check(res, fmt, shape, words, None, inputs),
                   sources, limits)


def oracle_mac(ns, kw, op):
    ver = Verdict()
    a, fa, ra = _fixed_operand(ns, kw, "a", ver)
    b, fb, rb = _fixed_operand(ns, kw, "b", ver)
    acc = _out_fmt(ns, kw, "acc", ver)
    prod = _out_fmt(ns, kw, "prod", ver)
    fmt = _out_fmt(ns, kw, "fmt", ver)
    m = _modes(ns, kw, ver)
    over = {}
    for role in ("prod", "acc", "out"):
        for what, table in (("rounding", ROUNDINGS), ("overflow", OVERFLOWS)):
            name = f"{role}_{what}"
            obj = _ns_get(ns, kw, name, None)
            if obj is not None:
                st, val, why = cl_mode(obj, table, name)
                ver.add(st, why)
                over[name] = val
    if ver.bad:
        return Expect("refuse", "; ".join(ver.bad))
    want_nd = {"dot": (1, 1), "matvec": (2, 1), "matmul": (2, 2)}[op]
    if (a.ndim, b.ndim) != want_nd:
        return Expect("refuse", f"operands of {a.ndim}-D and {b.ndim}-D")
    K = a.shape[-1]
    if b.shape[0] != K:
        return Expect("refuse", f"inner dimensions {a.shape} and {b.shape}")
    A = ra.reshape(1, K) if op == "dot" else ra
    B = rb.reshape(K, 1) if b.ndim == 1 else rb
    M, N = A.shape[0], B.shape[1]
    out_shape = {"dot": (), "matvec": (M,), "matmul": (M, N)}[op]
    # formats and the 127-bit limits of docs/api.md
    limits = None
    pext = [x * y for x in ref.fmt_range(fa[0], fa[2]) for y in ref.fmt_range(fb[0], fb[2])]
    pmax = max(abs(e) for e in pext)
    if pmax >= LIMIT:
        limits = "products need more than 127 bits"
    if prod is not None:
        s = fa[1] + fb[1] - prod[1]
        if s < 0 and pmax << -s >= LIMIT:
            limits = "products aligned to prod need more than 127 bits"
        fl_p, pb = prod[1], max(-ref.fmt_range(prod[0], prod[2])[0], ref.fmt_range(prod[0], prod[2])[1])
    else:
        fl_p, pb = fa[1] + fb[1], pmax
    if acc is not None:
        F = max(acc[1], fl_p)
        amax = max(-ref.fmt_range(acc[0], acc[2])[0], ref.fmt_range(acc[0], acc[2])[1])
        if (amax << (F - acc[1])) + (pb << (F - fl_p)) >= LIMIT:
            limits = "accumulator alignment needs more than 127 bits"
        fl_acc, accb = acc[1], amax
    else:
        fl_acc, accb = fl_p, max(K, 1) * pb
        if accb >= LIMIT:
            limits = "exact sum needs more than 127 bits"
    if fmt is None:
        if acc is not None:
            res_fmt = acc
        else:
            try:
                res_fmt = ref.ref_dot_default_fmt(fa, fb, K, prod)
            except ValueError as e:
                return Expect("refuse", str(e) + (("; " + limits) if limits else ""))
    else:
        res_fmt = fmt
        if fmt[1] > fl_acc and accb << (fmt[1] - fl_acc) >= LIMIT:
            limits = "accumulator aligned to the output needs more than 127 bits"
    plan = mac_plan(acc, prod, fmt, m["rounding"], over)
    per_el = K * (plan["prod_sto"] + plan["acc_sto"]) + plan["out_sto"]
    total = M * N * per_el
    v2, r, eps, draws, signs, sources = _randomness(
        ns, kw, None, plan["any_sto"], plan["eps"], plan["signed"], total, out_shape)
    ver.bad += v2.bad
    ver.gray += v2.gray
    if ver.bad:
        return Expect("refuse", "; ".join(ver.bad))
    it = iter(draws) if draws is not None else None
    words, errs = [], set()
    out_for_ref = fmt if (fmt is not None and plan["present"]["out"]) else None
    for i in range(M):
        for j in range(N):
            e = i * N + j
            try:
                d = ref.ref_dot([int(x) for x in A[i].tolist()], fa, [int(x) for x in B[:, j].tolist()], fb,
                                acc=acc, prod=prod, out=out_for_ref, rounding=m["rounding"],
                                overflow=m["overflow"],
                                prod_rounding=over.get("prod_rounding"), prod_overflow=over.get("prod_overflow"),
                                acc_rounding=over.get("acc_rounding"), acc_overflow=over.get("acc_overflow"),
                                out_rounding=over.get("out_rounding"), out_overflow=over.get("out_overflow"),
                                r=r, eps=eps or 0, v=signs[e] if signs else 0, sr_rule=m["sr_rule"],
                                draws=it if it is not None else None)
                if d.raw is None:
                    raw = d.value * ref.pow2(res_fmt[1])
                    assert raw.denominator == 1
                    words.append(int(raw))
                else:
                    words.append(d.raw)
            except OverflowError:
                errs.add(OverflowError)   # the whole call must refuse: stop here
                break
            except ValueError:
                errs.add(ValueError)
                break
        if errs:
            break
    inputs = [(k, ns[k]) for k in kw.values() if isinstance(ns.get(k), np.ndarray)]
    inputs += [(kw[k], ns[kw[k]].raw) for k in ("a", "b")]
    return _finish(ver, words, errs,
                   lambda res: _fx_check(res, res_fmt, out_shape, words, None, inputs),
                   sources, limits)


def oracle_fixedarray(ns, kw):
    ver = Verdict()
    st, fmt, why = cl_fmt(ns[kw["fmt"]])
    ver.add(st, why)
    raw = ns[kw["raw"]]
    if isinstance(raw, np.ndarray):
        shape, flat, kind = raw.shape, raw.ravel().tolist(), raw.dtype.kind
        if kind in "US" or kind == "c" or kind == "V":
            ver.add(BAD, f"raw of dtype {raw.dtype}")
            flat = []
    else:
        ls = _list_shape(raw) if isinstance(raw, (list, tuple)) else ((), [raw])
        if ls is None:
            return Expect("refuse", "ragged raw")
        shape, flat = ls
        kind = "py"
    words = []
    for v in flat:
        if _is_int(v):
            words.append(int(v))
        elif isinstance(v, (bool, np.bool_)):
            ver.add(GRAY, "bool raw")
            words.append(int(v))
        elif isinstance(v, (float, np.floating, Fraction, Decimal)):
            try:
                iv = int(v)
                integral = (Fraction(v) == iv) if not isinstance(v, (float, np.floating)) else (float(v) == iv)
            except (ValueError, OverflowError, TypeError):
                integral = False
            if not integral:
                ver.add(BAD, f"raw element {v!r} is not an integer")
                break
            ver.add(GRAY if kind != "f" else GRAY, f"integral non-int raw element {v!r}")
            words.append(iv)
        else:
            ver.add(BAD, f"raw element {v!r} of type {type(v).__name__}")
            break
    if ver.bad:
        return Expect("refuse", "; ".join(ver.bad))
    lo, hi = ref.fmt_range(fmt[0], fmt[2])
    if any(not lo <= w <= hi for w in words):
        return Expect("refuse", "raw outside the format's range")
    inputs = []
    return _finish(ver, words, set(), lambda res: _fx_check(res, fmt, shape, words, None, inputs), {})


def _self_state(ns):
    a = ns["a"]
    f = (a.fmt.wl, a.fmt.fl, a.fmt.signed)
    raws = np.empty(a.size, dtype=object)
    raws[:] = [int(v) for v in a.raw.ravel().tolist()]
    return a, f, raws.reshape(a.shape)


def oracle_method(ns, kw, func, call):
    a, f, raws = _self_state(ns)
    wl, fl, signed = f
    shape = a.shape
    vals = [ref.value(m, fl) for m in raws.ravel().tolist()]

    def arr_check(res, want, dtype_kind):
        if shape == () and isinstance(res, np.generic):
            res = np.asarray(res)       # a numpy scalar for a 0-d array is fine
        if not isinstance(res, np.ndarray):
            return [(WRONG_TYPE, f"returned {type(res).__name__}")]
        if res.shape != shape:
            return [(WRONG_SHAPE, f"shape {res.shape}, expected {shape}")]
        if res.dtype.kind != dtype_kind:
            return [(WRONG_DTYPE, f"dtype {res.dtype}")]
        got = res.ravel().tolist()
        bad = [i for i, (x, y) in enumerate(zip(got, want)) if x != y]
        if bad:
            i = bad[0]
            return [(WRONG_VALUE, f"{len(bad)} wrong; first at {i}: got {got[i]!r}, expected {want[i]!r}")]
        return []

    if func == "FixedArray.to_float":
        want = [float(v) for v in vals]
        return Expect("result", check=lambda res: arr_check(res, want, "f")
                      + ([(WRONG_DTYPE, f"dtype {res.dtype}")] if isinstance(res, (np.ndarray, np.generic)) and res.dtype != np.float64 else []))
    if func == "FixedArray.asarray":
        want = [float(v) for v in vals]
        return Expect("result", check=lambda res: arr_check(res, want, "f"))
    if func == "FixedArray.to_fraction":
        def chk(res):
            out = arr_check(res, vals, "O")
            if not out and not all(isinstance(x, Fraction) for x in np.asarray(res).ravel().tolist()):
                out.append((WRONG_TYPE, "elements are not Fractions"))
            return out
        return Expect("result", check=chk)
    if func in ("FixedArray.to_bin", "FixedArray.to_hex"):
        fn = ref.ref_bin if func.endswith("bin") else ref.ref_hex
        want = [fn(m, wl) for m in raws.ravel().tolist()]
        return Expect("result", check=lambda res: arr_check(res, want, "U"))
    if func == "FixedArray.bits":
        idx_src = call[call.index(".bits(") + 6:-1]
        idx = eval(idx_src) if idx_src.strip() else ()
        try:
            m = raws[idx]
        except (IndexError, TypeError) as e:
            return Expect("refuse", f"index {idx!r}: {e}", errors=(IndexError, TypeError, ValueError), index_ok=True)
        if isinstance(m, np.ndarray):
            if m.size != 1:
                return Expect("refuse", "index selects several words", errors=(IndexError, TypeError, ValueError), index_ok=True)
            return Expect("either", "one-word sub-array", errors=(TypeError, ValueError, IndexError),
                          index_ok=True, check=lambda res: _bits_check(res, int(m.ravel()[0]), wl, signed))
        return Expect("result", check=lambda res: _bits_check(res, int(m), wl, signed))
    if func == "FixedArray.reshape":
        args = eval(f"(lambda *s: s)({call[call.index('.reshape(') + 9:-1]})")
        try:
            want = raws.reshape(*args)
        except (ValueError, TypeError) as e:
            return Expect("refuse", f"reshape {args}: {e}")
        words = [int(v) for v in want.ravel().tolist()]
        return Expect("result", check=lambda res: _fx_check(res, f, want.shape, words))
    if func == "FixedArray[]":
        idx_src = call[call.index("[", len("a")) + 1:-1]
        idx = eval(f"np.s_[{idx_src}]", _namespace())
        try:
            want = np.asarray(raws[idx])
        except (IndexError, TypeError, ValueError) as e:
            return Expect("refuse", f"index {idx_src}: {type(e).__name__}", errors=(IndexError, TypeError, ValueError),
                          index_ok=True)
        words = [int(v) for v in want.ravel().tolist()]
        return Expect("result", check=lambda res: _fx_check(res, f, want.shape, words))
    if func == "FixedArray.==":
        b = ns["b"]
        if type(b).__name__ != "FixedArray":
            return Expect("either", "== with a non-FixedArray", check=None)
        fb = b.fmt.fl
        vb = np.empty(b.size, dtype=object)
        vb[:] = [ref.value(int(m), fb) for m in b.raw.ravel().tolist()]
        va = np.empty(a.size, dtype=object)
        va[:] = vals
        try:
            xa, xb = np.broadcast_arrays(va.reshape(shape), vb.reshape(b.shape))
        except ValueError:
            return Expect("refuse", "shapes do not broadcast")
        want = [bool(x == y) for x, y in zip(xa.ravel().tolist(), xb.ravel().tolist())]
        wshape = xa.shape

        def chk(res):
            r = np.asarray(res)
            if r.dtype != np.bool_:
                return [(WRONG_DTYPE, f"== gave dtype {r.dtype}")]
            if r.shape != wshape:
                return [(WRONG_SHAPE, f"== gave shape {r.shape}, expected {wshape}")]
            got = r.ravel().tolist()
            if got != want:
                i = [k for k in range(len(got)) if got[k] != want[k]][0]
                return [(WRONG_VALUE, f"== wrong at flat {i}: got {got[i]}, expected {want[i]}")]
            return []
        return Expect("result", check=chk)
    if func in ("FixedArray.repr", "FixedArray.format"):
        return Expect("result", check=lambda res: [] if isinstance(res, str) else [(WRONG_TYPE, type(res).__name__)])
    if func == "FixedArray.neg":
        words = [-m for m in raws.ravel().tolist()]
        return Expect("either", "unary minus (full-precision sub)", errors=(ValueError,),
                      check=lambda res: _neg_check(res, words, fl, shape))
    raise AssertionError(func)


def _neg_check(res, words, fl, shape):
    if type(res).__name__ != "FixedArray":
        return [(WRONG_TYPE, type(res).__name__)]
    if res.shape != shape:
        return [(WRONG_SHAPE, f"{res.shape} != {shape}")]
    got = [ref.value(int(m), res.fmt.fl) for m in res.raw.ravel().tolist()]
    want = [ref.value(m, fl) for m in words]
    if got != want:
        return [(WRONG_WORD, f"-a gave {got[:4]}, expected {want[:4]}")]
    return []


def _bits_check(res, m, wl, signed):
    try:
        got_len = len(res)
        got = res.int if signed else res.uint
    except Exception as e:      # not a Bits
        return [(WRONG_TYPE, f"bits() returned {type(res).__name__}: {e!r}")]
    if got_len != wl or got != m:
        return [(WRONG_VALUE, f"bits: length {got_len} value {got}, expected {wl} bits of {m}")]
    return []


def oracle_qformat(ns, kw, call):
    inner = call[call.index("(") + 1:-1]
    args, kws = eval(f"(lambda *a, **k: (a, k))({inner})", _namespace())
    wl = args[0] if args else kws["wl"]
    fl = args[1] if len(args) > 1 else kws["fl"]
    signed = args[2] if len(args) > 2 else kws.get("signed", True)
    ver = Verdict()
    for name, v, lo, hi in (("wl", wl, 1, 64), ("fl", fl, -256, 256)):
        if not (_is_int(v) and lo <= int(v) <= hi):
            ver.add(BAD, f"{name}={v!r}")
    if isinstance(signed, (bool, np.bool_)):
        pass
    elif _is_int(signed) and int(signed) in (0, 1):
        ver.add(GRAY, f"signed={signed!r}")
    elif isinstance(signed, float) and signed in (0.0, 1.0):
        ver.add(GRAY, f"signed={signed!r}")
    else:
        ver.add(BAD, f"signed={signed!r}")
    if ver.bad:
        return Expect("refuse", "; ".join(ver.bad), errors=(ValueError,))
    t = (int(wl), int(fl), bool(signed))

    def chk(q):
        out = []
        if type(q).__name__ != "QFormat":
            return [(WRONG_TYPE, type(q).__name__)]
        got = (q.wl, q.fl, q.signed)
        if got != t or type(q.wl) is not int or type(q.fl) is not int or type(q.signed) is not bool:
            out.append((WRONG_VALUE, f"fields {got!r} ({type(q.wl).__name__}, {type(q.fl).__name__}, {type(q.signed).__name__}), expected {t}"))
        lo, hi = ref.fmt_range(t[0], t[2])
        if (q.min_raw, q.max_raw) != (lo, hi):
            out.append((WRONG_VALUE, f"min_raw/max_raw {(q.min_raw, q.max_raw)}"))
        if q.dtype != np.dtype(ref_container(t)):
            out.append((WRONG_DTYPE, f"dtype {q.dtype}"))
        if str(q) != ref.ref_format_str(*t):
            out.append((WRONG_VALUE, f"str {str(q)!r}, expected {ref.ref_format_str(*t)!r}"))
        if repr(q) != f"QFormat(wl={t[0]}, fl={t[1]}, signed={t[2]})":
            out.append((WRONG_VALUE, f"repr {repr(q)!r}"))
        if q.exact_lsb != ref.pow2(-t[1]) or q.exact_max != hi * ref.pow2(-t[1]):
            out.append((WRONG_VALUE, "exact_lsb/exact_max"))
        q2 = type(q).parse(str(q))
        if q2 != q or hash(q2) != hash(q):
            out.append((WRONG_VALUE, f"parse(str(q)) = {q2!r} != q"))
        return out
    if ver.gray:
        return Expect("either", "; ".join(ver.gray), errors=(ValueError,), check=chk)
    return Expect("result", check=chk)


def oracle_parse(ns, kw, call):
    inner = call[call.index("(") + 1:-1]
    arg = eval(inner, _namespace())
    if type(arg).__name__ == "QFormat":
        t = (arg.wl, arg.fl, arg.signed)
    elif not isinstance(arg, str):
        return Expect("refuse", f"not a string: {arg!r}", errors=(ValueError, TypeError))
    else:
        try:
            t = ref.ref_parse_format(arg)
        except ValueError as e:
            return Expect("refuse", f"{arg!r}: {e}", errors=(ValueError,))

    def chk(q):
        if type(q).__name__ != "QFormat":
            return [(WRONG_TYPE, type(q).__name__)]
        got = (q.wl, q.fl, q.signed)
        return [] if got == t else [(WRONG_VALUE, f"parsed {got}, expected {t}")]
    if isinstance(arg, str) and "\t" in arg:
        return Expect("either", "tab in a format string", errors=(ValueError,), check=chk)
    return Expect("result", check=chk)


def _ref_primitive_small(n, taps):
    """Independent primitivity test for n <= 12: the Galois register from state 1 has period
    2**n - 1 exactly when the polynomial is primitive."""
    M = sum(1 << (t - 1) for t in taps)
    s, k = 1, 0
    while True:
        s, _ = ref.ref_lfsr_step(n, M, "galois", s)
        k += 1
        if s == 1 or k > (1 << n):
            return k == (1 << n) - 1


def oracle_lfsr(ns, kw, call, ctx):
    from fxsim.sources import taps_table
    inner = call[call.index("(") + 1:-1]
    args, kws = eval(f"(lambda *a, **k: (a, k))({inner})", _namespace())
    names = ["n", "taps", "form", "seed", "rule", "lanes", "lane_seeds", "allow_nonprimitive"]
    p = dict(zip(names, args))
    p.update(kws)
    n, taps = p.get("n"), p.get("taps")
    form, seed, rule = p.get("form", "galois"), p.get("seed", 1), p.get("rule", "serial")
    lanes, lane_seeds, allow = p.get("lanes", 1), p.get("lane_seeds"), p.get("allow_nonprimitive", False)
    bad = []
    if n is not None and not (_is_int(n) and 2 <= n <= 64):
        return Expect("refuse", f"n={n!r}")
    user = taps is not None
    if taps is None:
        n = 16 if n is None else int(n)
        taps = tuple(taps_table()[n])
    else:
        if isinstance(taps, str):
            parts = taps.replace(",", " ").split()
            if not all(q.lstrip("-").isdigit() for q in parts):
                return Expect("refuse", f"taps={taps!r}")
            taps = [int(q) for q in parts]
        if not isinstance(taps, (list, tuple)) or not taps or not all(_is_int(t) for t in taps):
            return Expect("refuse", f"taps={taps!r}")
        taps = tuple(sorted((int(t) for t in taps), reverse=True))
        if len(set(taps)) != len(taps) or taps[-1] < 1:
            return Expect("refuse", f"taps={taps!r}")
        if n is None:
            n = taps[0]
            if not 2 <= n <= 64:
                return Expect("refuse", f"taps give n={n}")
        if taps[0] != n:
            return Expect("refuse", f"taps {taps} do not start at n={n}")
    n = int(n)
    if form not in ("galois", "fibonacci"):
        bad.append(f"form={form!r}")
    if rule not in ("serial", "state"):
        bad.append(f"rule={rule!r}")
    if not (_is_int(lanes) and 1 <= lanes <= min((1 << n) - 1, 1 << 20)):
        bad.append(f"lanes={lanes!r}")
    if lane_seeds is None:
        if not (_is_int(seed) and 1 <= seed < (1 << n)):
            bad.append(f"seed={seed!r}")
    elif not isinstance(lane_seeds, (list, tuple)) or (not bad and len(lane_seeds) != lanes) or \
            not all(_is_int(s) and 1 <= s < (1 << n) for s in lane_seeds):
        bad.append(f"lane_seeds={lane_seeds!r}")
    if bad:
        return Expect("refuse", "; ".join(bad))
    gray = None
    if user:
        if n <= 12:
            if not _ref_primitive_small(n, taps) and not allow:
                return Expect("refuse", f"non-primitive taps {taps} without allow_nonprimitive")
        elif not allow:
            gray = "user taps (primitivity not checked independently for n > 12)"
    r, k = ctx["r"], ctx["k"]
    if rule == "state":
        r = min(r, n)

    def chk(src):
        out = []
        if type(src).__name__ != "LFSR":
            return [(WRONG_TYPE, type(src).__name__)]
        if (src.n, tuple(src.taps), src.form, src.rule, src.lanes) != (n, taps, form, rule, lanes):
            out.append((WRONG_VALUE, f"attributes {(src.n, tuple(src.taps), src.form, src.rule, src.lanes)}, expected {(n, taps, form, rule, lanes)}"))
            return out
        starts = list(src.lane_seeds)
        if lane_seeds is not None:
            if starts != [int(s) for s in lane_seeds]:
                out.append((WRONG_VALUE, f"lane_seeds {starts} != given {list(lane_seeds)}"))
        else:
            if starts[0] != seed:
                out.append((WRONG_VALUE, f"lane 0 starts at {starts[0]}, seed {seed}"))
            if n <= 12:
                gap = ((1 << n) - 1) // lanes
                want = [ref.ref_lfsr_jump(n, taps, form, int(seed), l * gap) for l in range(lanes)]
                if starts != want:
                    out.append((WRONG_VALUE, f"lane starts {starts}, expected {want}"))
        want, _ = ref.ref_lfsr_lane_draws(n, taps, form, rule, r, starts, 0, k)
        got = [int(v) for v in src.draws(k, r).tolist()]
        if got != want:
            i = [j for j in range(k) if got[j] != want[j]][0]
            out.append((WRONG_WORD, f"draws(k={k}, r={r}) differ at {i}: got {got[i]}, expected {want[i]}"))
        return out
    if gray:
        return Expect("either", gray, check=chk)
    return Expect("result", check=chk)


_BITGENS = {"pcg64": "PCG64", "pcg64dxsm": "PCG64DXSM", "philox": "Philox", "sfc64": "SFC64",
            "mt19937": "MT19937"}


def _words64(bg, k):
    """k 64-bit words of a numpy bit generator (MT19937: two 32-bit outputs, first high)."""
    if type(bg).__name__ == "MT19937":
        raw = [int(v) for v in bg.random_raw(2 * k).tolist()]
        return [(raw[2 * i] << 32) | raw[2 * i + 1] for i in range(k)]
    return [int(v) for v in bg.random_raw(k).tolist()]


def oracle_ideal(ns, kw, call, ctx):
    inner = call[call.index("(") + 1:-1]
    env = _namespace()
    env.update(ns)
    args, kws = eval(f"(lambda *a, **k: (a, k))({inner})", env)
    bitgen = args[0] if args else kws.get("bitgen", "pcg64")
    seed = args[1] if len(args) > 1 else kws.get("seed")
    r, k = ctx["r"], ctx["k"]
    ref_bg = None
    if isinstance(bitgen, np.random.Generator):
        bitgen = bitgen.bit_generator
    if isinstance(bitgen, np.random.BitGenerator):
        if seed is not None:
            return Expect("refuse", "seed with a BitGenerator instance")
        ref_bg = type(bitgen)()
        ref_bg.state = bitgen.state
    elif isinstance(bitgen, str) and bitgen.lower() in _BITGENS:
        cls = getattr(np.random, _BITGENS[bitgen.lower()])
        if seed is not None and not (_is_int(seed) and seed >= 0) and not isinstance(seed, np.random.SeedSequence):
            return Expect("refuse", f"seed={seed!r}")
        if seed is not None:
            ref_bg = cls(seed)
    else:
        return Expect("refuse", f"bitgen={bitgen!r}")

    def chk(src):
        if type(src).__name__ != "Ideal":
            return [(WRONG_TYPE, type(src).__name__)]
        bg = ref_bg
        if bg is None:   # seed=None: the stream is whatever numpy made; check the mapping
            bg = type(src.bit_generator)()
            bg.state = src.bit_generator.state
        want = ref.ref_ideal_draws(_words64(bg, k), r)
        got = [int(v) for v in src.draws(k, r).tolist()]
        if got != want:
            i = [j for j in range(k) if got[j] != want[j]][0]
            return [(WRONG_WORD, f"draws(k={k}, r={r}) differ at {i}: got {got[i]}, expected {want[i]}")]
        return []
    return Expect("result", check=chk)


def oracle_draws(ns, kw, call):
    src = ns["src"]
    inner = call[call.index("(", call.index(".")) + 1:-1]
    args = eval(f"(lambda *a: a)({inner})", _namespace())
    nxt = ".next(" in call
    n, r = (None, args[0]) if nxt else args
    lfsr = type(src).__name__ == "LFSR"
    if not nxt and not (_is_int(n) and n >= 0):
        return Expect("refuse", f"n={n!r}")
    rmax = src.n if (lfsr and src.rule == "state") else 64
    if not (_is_int(r) and 1 <= r <= rmax):
        return Expect("refuse", f"r={r!r} (max {rmax})")
    r = int(r)
    if not nxt and n >= HUGE:
        return Expect("refuse", f"n={n} draws", errors=(MemoryError, ValueError), data=True)
    k = 1 if nxt else int(n)
    if lfsr:
        want, states = ref.ref_lfsr_lane_draws(src.n, tuple(src.taps), src.form, src.rule, r,
                                               list(src.lane_states), src.count, k)
        post_count = src.count + k
    else:
        bg = type(src.bit_generator)()
        bg.state = src.bit_generator.state
        want = ref.ref_ideal_draws(_words64(bg, k), r)
        post = bg.state

    def chk(res):
        out = []
        if nxt:
            if not _is_int(res) or int(res) != want[0]:
                out.append((WRONG_WORD, f"next({r}) = {res!r}, expected {want[0]}"))
        else:
            if not isinstance(res, np.ndarray) or res.dtype != np.uint64 or res.shape != (k,):
                return [(WRONG_DTYPE, f"draws returned {type(res).__name__} {getattr(res, 'dtype', '')} {getattr(res, 'shape', '')}")]
            got = [int(v) for v in res.tolist()]
            if got != want:
                i = [j for j in range(k) if got[j] != want[j]][0]
                out.append((WRONG_WORD, f"draw {i}: got {got[i]}, expected {want[i]}"))
        if lfsr:
            if list(src.lane_states) != states or src.count != post_count:
                out.append((WRONG_SOURCE, f"after the call: lane_states/count {list(src.lane_states)}/{src.count}, expected {states}/{post_count}"))
        elif _jsonish(src.bit_generator.state) != _jsonish(post):
            out.append((WRONG_SOURCE, "bit generator state after the call differs from k words consumed"))
        return out
    return Expect("result", check=chk)


def _jsonish(v):
    if isinstance(v, dict):
        return {k: _jsonish(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.integer):
        return int(v)
    return v


def run_oracle(case: Case, ns):
    """Dispatch: the oracles read the built arguments by their names in the call source."""
    f = case.func
    kw = {n: n for n, _, _ in case.lines}
    if f == "cast":
        return oracle_cast(ns, kw)
    if f in ("add", "sub", "mul"):
        return oracle_binary(ns, kw, f)
    if f in ("dot", "matvec", "matmul"):
        return oracle_mac(ns, kw, f)
    if f == "FixedArray":
        return oracle_fixedarray(ns, kw)
    if f.startswith("FixedArray"):
        return oracle_method(ns, kw, f, case.call)
    if f == "QFormat":
        return oracle_qformat(ns, kw, case.call)
    if f in ("QFormat.parse", "qformat"):
        return oracle_parse(ns, kw, case.call)
    if f == "LFSR":
        return oracle_lfsr(ns, kw, case.call, case.ctx)
    if f == "Ideal":
        return oracle_ideal(ns, kw, case.call, case.ctx)
    if f in ("source.draws", "source.next"):
        return oracle_draws(ns, kw, case.call)
    raise AssertionError(f)


# ============================================================================ the driver
_PRELUDE_NAMES = set(_namespace())


def _snapshot(ns):
    snap = {}
    for name, obj in ns.items():
        if name.startswith("_") or name in _PRELUDE_NAMES:
            continue
        if isinstance(obj, np.ndarray):
            snap[name] = ("nd", obj.dtype.str, obj.shape, obj.tobytes() if obj.dtype != object else repr(obj.tolist()))
        elif type(obj).__name__ == "FixedArray":
            r = obj.raw
            snap[name] = ("fx", (obj.fmt.wl, obj.fmt.fl, obj.fmt.signed), r.dtype.str, r.shape, r.tobytes())
        elif is_source(obj):
            snap[name] = ("src", json.dumps(obj.state, sort_keys=True, default=str))
    return snap


def _failure(case, cat, detail, exc=None):
    return {"category": cat, "function": case.func, "seed": case.seed, "index": case.index,
            "detail": detail, "exception": None if exc is None else f"{type(exc).__name__}: {exc}"[:400],
            "source": case.source()}


def run_case(case: Case, stats: dict):
    """Run one call; returns a list of failure dicts and updates stats."""
    import fxsim  # noqa: F401
    fails = []
    ns = _namespace()
    # build the arguments
    for name, expr, lib in case.lines:
        try:
            ns[name] = eval(expr, ns)
        except Exception as e:
            cat = SETUP if lib else HARNESS
            stats["setup_failures"] += 1
            return [_failure(case, cat, f"building {name} = {expr[:200]}", e)]
    before = _snapshot(ns)
    try:
        expect = run_oracle(case, ns)
    except Exception as e:
        import traceback
        return [_failure(case, HARNESS, "oracle raised: " + traceback.format_exc()[-800:], e)]
    ns_call = dict(ns)
    try:
        res = eval(case.call, ns_call)
        exc = None
    except BaseException as e:   # noqa: BLE001 - classified below
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        exc, res = e, None
    after = _snapshot(ns)
    for name, s in before.items():
        if s[0] in ("nd", "fx") and after.get(name) != s:
            fails.append(_failure(case, MUTATED, f"{name} changed by the call"))
    if exc is not None:
        t = type(exc)
        if isinstance(exc, IndexError) and expect.index_ok:
            pass
        elif isinstance(exc, TRACEBACK_TYPES) or not isinstance(exc, CLEAN_TYPES):
            cat = TRACEBACK if isinstance(exc, TRACEBACK_TYPES) else UNEXPECTED_EXC
            fails.append(_failure(case, cat, f"{t.__name__} escaped (expected: {expect.mode} {expect.why})", exc))
            stats["errors"][t.__name__] = stats["errors"].get(t.__name__, 0) + 1
            _side_effects(case, before, after, fails, exc)
            return fails
        if not str(exc).strip():
            fails.append(_failure(case, NO_MESSAGE, f"{t.__name__} without a message", exc))
        if expect.mode == "result":
            fails.append(_failure(case, REFUSED, "a valid call was refused", exc))
        elif not isinstance(exc, expect.errors) and not (isinstance(exc, IndexError) and expect.index_ok):
            fails.append(_failure(case, WRONG_ERROR, f"expected one of {[e.__name__ for e in expect.errors]} ({expect.why})", exc))
        else:
            stats["clean"][t.__name__] = stats["clean"].get(t.__name__, 0) + 1
            stats["expected_refusals" if expect.mode == "refuse" else "allowed_refusals"] += 1
        _side_effects(case, before, after, fails, exc)
        return fails
    # a result
    if expect.mode == "refuse":
        cat = MISSING_ERROR if expect.data else ACCEPTED
        fails.append(_failure(case, cat, f"returned a result; expected a refusal: {expect.why}"))
        return fails
    stats["results"] += 1
    bf = stats["by_function"].setdefault(case.func, {"calls": 0, "failures": 0})
    bf["results"] = bf.get("results", 0) + 1
    if expect.check is not None:
        try:
            for cat, detail in expect.check(res):
                fails.append(_failure(case, cat, detail))
            stats["checked"] += 1
        except Exception as e:
            fails.append(_failure(case, TRACEBACK if isinstance(e, TRACEBACK_TYPES) else UNEXPECTED_EXC,
                                  "checking the result raised (result unusable)", e))
    for name, s in before.items():
        if s[0] != "src":
            continue
        obj = ns[name]
        if name in expect.sources:
            want = json.dumps(expect.sources[name], sort_keys=True, default=str)
            if after[name][1] != want:
                fails.append(_failure(case, WRONG_SOURCE, f"{name} not advanced by exactly the draws the call needs"))
        elif after[name] != s and case.func not in ("source.draws", "source.next") and \
                not (case.func in ("LFSR", "Ideal")):
            fails.append(_failure(case, WRONG_SOURCE, f"{name} advanced by a call that draws nothing"))
    return fails


def _side_effects(case, before, after, fails, exc):
    for name, s in before.items():
        if s[0] == "src" and after.get(name) != s:
            kind = "data error" if isinstance(exc, OverflowError) or "NaN" in str(exc) or "inf" in str(exc) \
                else "argument error"
            fails.append(_failure(case, SIDE_EFFECT, f"{name} advanced by a refused call ({kind})", exc))


def new_stats():
    return {"calls": 0, "results": 0, "checked": 0, "expected_refusals": 0, "allowed_refusals": 0,
            "clean": {}, "errors": {}, "setup_failures": 0, "by_function": {}}


def run_batch(seed: int, calls: int, start: int = 0, log_path=None, max_failures_kept=400):
    warnings.simplefilter("ignore")
    stats = new_stats()
    failures = []
    counts = {}
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND) if log_path else None
    t0 = time.time()
    crash_at = int(os.environ.get("FXSIM_FUZZ_CRASH_AT", "-1"))   # harness self-test only
    for i in range(start, start + calls):
        if fd is not None:
            os.write(fd, f"{i}\n".encode())
        if i == crash_at:
            os.abort()
        case = generate(seed, i)
        stats["calls"] += 1
        bf = stats["by_function"].setdefault(case.func, {"calls": 0, "failures": 0})
        bf["calls"] += 1
        fl = run_case(case, stats)
        if fl:
            bf["failures"] += 1
        for f in fl:
            counts[f["category"]] = counts.get(f["category"], 0) + 1
            if len(failures) < max_failures_kept:
                failures.append(f)
    if fd is not None:
        os.write(fd, b"done\n")
        os.close(fd)
    import fxsim
    stats.update(fxsim=os.path.dirname(fxsim.__file__), seed=seed, start=start, failure_counts=counts, failures=failures,
                 elapsed=round(time.time() - t0, 2))
    return stats


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--out", default=None, help="JSON report path (default: stdout summary only)")
    ap.add_argument("--log", default=None, help="file receiving each call's index before the call")
    ap.add_argument("--replay", type=int, default=None, help="print and run one call")
    a = ap.parse_args(argv)
    if a.replay is not None:
        case = generate(a.seed, a.replay)
        print(case.reproducer())
        stats = new_stats()
        warnings.simplefilter("ignore")
        fails = run_case(case, stats)
        print(json.dumps({k: v for k, v in stats.items() if k != "by_function"}, indent=1))
        for f in fails:
            print(f"FAIL [{f['category']}] {f['detail']} {f['exception'] or ''}")
        return 1 if fails else 0
    rep = run_batch(a.seed, a.calls, a.start, a.log)
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(rep, fh, indent=1)
    print(json.dumps({k: rep[k] for k in ("seed", "calls", "results", "checked", "expected_refusals",
                                          "allowed_refusals", "clean", "failure_counts", "elapsed")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
