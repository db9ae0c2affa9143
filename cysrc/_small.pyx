# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Small calls (issue 13.1): a deterministic cast prepared once and run in C on a small input.

``SmallCast(spec, fmt)`` holds the kernels' cast description; calling it on a C-contiguous
native float64 ndarray (or a FixedArray) of at most ``limit`` elements casts every element
with the same primitives as the big kernels (``cast_double`` / ``cast_value`` of fxprims.pxd),
records counters only inside a ``Counters`` block and returns the FixedArray.  It returns
None when it does not apply (another input type, too large) or when the cast would raise (NaN,
±inf, overflow='error'): the caller then takes the general path, which raises the usual error
-- a deterministic cast has no side effect, so running it twice changes nothing.

``SmallSRCast(spec, fmt, source)`` is the same for a stochastic mode drawing from an fxsim
source: it checks everything first (finite input, a usable ``v`` for signed-SR_ε), then takes
the source's lock, fills the call's draws in one ``bitsrc.fill`` (draw i for element i, the
stream and the draw count of the general path) and rounds them with the same primitives.
"""
cimport numpy as cnp
from libc.math cimport isfinite, isnan, ldexp
from libc.stdlib cimport free, malloc
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

from fxsim._kernels cimport (CastSpec, cspec, counts_t, i128, cast_f64_sat, RM_STOCHASTIC,
                             RM_SIGNED_STOCHASTIC_EPS, OV_SATURATE_SYMMETRIC, OV_ERROR, ERR_NONE, WORD_I8, WORD_I16, WORD_I32,
                             WORD_U8, WORD_U16, WORD_U32, WORD_U64)
from fxprims cimport cast_double, cast_small, cast_value, load_word, put
from bitsrc cimport bitsrc_t, bitsrc_from_capsule

from fxsim import counters as _counters
from fxsim.fixed import FixedArray

cnp.import_array()

cdef extern from "Python.h":
    object PyType_GenericAlloc(type t, Py_ssize_t nitems)

cdef object _thread_state = _counters.thread_state    # .stack: this thread's active Counters
cdef object _record = _counters.record


cdef inline bint plain_array(cnp.ndarray a) noexcept:
    return cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISNOTSWAPPED(a)


cdef inline int word_code(cnp.ndarray a) noexcept:
    """The WORD_* code of integer words: log2 of their bytes, + WORD_U8 if unsigned."""
    cdef int size = cnp.PyArray_ITEMSIZE(a)
    return (0 if size == 1 else (1 if size == 2 else (2 if size == 4 else 3))) + \
        (WORD_U8 if cnp.PyArray_ISUNSIGNED(a) else 0)


cdef inline int64_t word64(const char* p, int t, Py_ssize_t i) noexcept nogil:
    """Word i of an aligned array of type t (WORD_*) other than uint64: load_word with typed
    reads instead of a memcpy of t's size (a library call per word)."""
    if t == WORD_I8:
        return (<const int8_t*>p)[i]
    if t == WORD_I16:
        return (<const int16_t*>p)[i]
    if t == WORD_I32:
        return (<const int32_t*>p)[i]
    if t == WORD_U8:
        return (<const uint8_t*>p)[i]
    if t == WORD_U16:
        return (<const uint16_t*>p)[i]
    if t == WORD_U32:
        return (<const uint32_t*>p)[i]
    return (<const int64_t*>p)[i]


cdef inline object small_input(x, int fl, int* tx, int* s):
    """The array behind a small cast's input ``x``: a C-contiguous native float64 ndarray
    itself (tx = -1), a FixedArray's words (tx their WORD_* code, s = x's fraction bits - fl);
    None for any other input."""
    cdef cnp.ndarray a
    if type(x) is cnp.ndarray:
        a = <cnp.ndarray>x
        if cnp.PyArray_TYPE(a) != cnp.NPY_DOUBLE or not plain_array(a):
            return None
        tx[0] = -1
        return a
    if type(x) is FixedArray:
        a = <cnp.ndarray>x.raw
        if not plain_array(a):
            return None
        tx[0] = word_code(a)
        s[0] = x.fmt.fl - fl
        return a
    return None


cdef inline object new_fixed(cnp.ndarray words, fmt):
    """FixedArray._wrap(words, fmt), without its Python call."""
    res = PyType_GenericAlloc(FixedArray, 0)     # FixedArray.__new__ without its lookup and call
    res._raw = words
    res._fmt = fmt
    return res


cdef class SmallCast:
    """A deterministic cast into ``fmt`` for small inputs (see the module docstring)."""
    cdef cspec cs
    cdef double scale
    cdef int fl, typenum, w
    cdef readonly Py_ssize_t limit
    cdef readonly object fmt

    def __init__(self, CastSpec spec, fmt, Py_ssize_t limit=4096):
        if spec.cs.mode >= RM_STOCHASTIC:
            raise ValueError("SmallCast: spec must have a deterministic rounding mode")
        self.cs = spec.cs
        self.fmt = fmt
        self.fl = fmt.fl
        self.scale = ldexp(1.0, fmt.fl)
        self.typenum = fmt.dtype.num
        self.w = fmt.dtype.itemsize
        self.limit = limit

    def __call__(self, x):
        """The FixedArray of the cast of ``x``, or None (see the module docstring)."""
        cdef cnp.ndarray a, out
        cdef counts_t c
        cdef int err = ERR_NONE
        cdef int s = 0
        cdef int tx
        cdef Py_ssize_t i, n
        cdef const double* px
        cdef const char* pr
        cdef char* po
        cdef i128 y
        got = small_input(x, self.fl, &tx, &s)
        if got is None:
            return None
        a = <cnp.ndarray>got
        n = cnp.PyArray_SIZE(a)
        if n > self.limit:
            return None
        out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a), self.typenum, 0)
        po = <char*>cnp.PyArray_DATA(out)
        c.n = c.inexact = c.up = c.ovf = c.draws = 0
        if tx < 0:
            px = <const double*>cnp.PyArray_DATA(a)
            # below ~16 elements the scalar loop costs less than setting up the vectorized pass
            if self.cs.ovf <= OV_SATURATE_SYMMETRIC and n > 16 and \
                    cast_f64_sat(&self.cs, px, po, n, self.fl, &c) == 0:
                n = 0                   # done by the kernels' vectorized pass
            else:
                c.n = c.inexact = c.up = c.ovf = 0
            for i in range(n):
                y = cast_double(&self.cs, px[i], self.scale, self.fl, 0, 0, &c, &err)
                if err != ERR_NONE:
                    return None
                put(po, self.w, i, <int64_t>y)    # the low bytes: wrapped or unsigned words too
        else:
            pr = <const char*>cnp.PyArray_DATA(a)
            for i in range(n):
                y = cast_value(&self.cs, load_word(pr, tx, i), s, 0, 0, &c, &err)
                if err != ERR_NONE:
                    return None
                put(po, self.w, i, <int64_t>y)    # the low bytes: wrapped or unsigned words too
        if _thread_state.stack:
            _record("cast", "out", self.fmt, (c.n, c.inexact, c.up, c.ovf, 0))
        return new_fixed(out, self.fmt)


cdef class SmallBinop:
    """add (code 0), sub (1) or mul (2) of two FixedArrays of one shape (or one of them 0-d,
    broadcast: ``-a`` is ``0 - a``, ``a * 2`` a 0-d operand), exact and then cast
    with a deterministic mode, for small inputs: ``da``, ``db`` align the operands (add, sub),
    ``s_out`` = exact fraction length - fmt.fl (see ``fxsim.ops._binary_plan``); ``small``: the
    plan's 64-bit path is exact (``fxsim.ops._small``).  Calling it
    returns the FixedArray, or None as SmallCast does (another input, too large, an error)."""
    cdef cspec cs
    cdef int code, da, db, s_out, typenum, w
    cdef bint small
    cdef readonly Py_ssize_t limit
    cdef readonly object fmt, op

    def __init__(self, int code, CastSpec spec, int da, int db, int s_out, fmt, bint small,
                 Py_ssize_t limit=4096):
        if spec.cs.mode >= RM_STOCHASTIC or not 0 <= code <= 2:
            raise ValueError("SmallBinop: code must be 0..2 and the mode deterministic")
        self.cs = spec.cs
        self.code, self.da, self.db, self.s_out = code, da, db, s_out
        self.small = small     # every exact value fits the 64-bit primitive (ops._small)
        self.op = ("add", "sub", "mul")[code]
        self.fmt = fmt
        self.typenum = fmt.dtype.num
        self.w = fmt.dtype.itemsize
        self.limit = limit

    def __call__(self, a, b):
        cdef cnp.ndarray ra, rb, out, shaped
        cdef counts_t c
        cdef int err = ERR_NONE
        cdef int ta, tb, k
        cdef bint typed
        cdef Py_ssize_t i, n, sa = 1, sb = 1
        cdef const char* pa
        cdef const char* pb
        cdef char* po
        cdef i128 va, vb, v
        if type(a) is not FixedArray or type(b) is not FixedArray:
            return None
        ra = <cnp.ndarray>a.raw
        rb = <cnp.ndarray>b.raw
        if not (plain_array(ra) and plain_array(rb)):
            return None
        shaped = ra     # the operand whose shape the result has
        if cnp.PyArray_NDIM(rb) == 0:
            sb = 0      # a 0-d operand: word 0 for every element
        elif cnp.PyArray_NDIM(ra) == 0:
            sa = 0
            shaped = rb
        elif cnp.PyArray_NDIM(ra) != cnp.PyArray_NDIM(rb):
            return None
        else:
            for k in range(cnp.PyArray_NDIM(ra)):
                if cnp.PyArray_DIMS(ra)[k] != cnp.PyArray_DIMS(rb)[k]:
                    return None
        n = cnp.PyArray_SIZE(shaped)
        if n > self.limit:
            return None
        ta, tb = word_code(ra), word_code(rb)
        out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(shaped), cnp.PyArray_DIMS(shaped), self.typenum, 0)
        pa = <const char*>cnp.PyArray_DATA(ra)
        pb = <const char*>cnp.PyArray_DATA(rb)
        po = <char*>cnp.PyArray_DATA(out)
        c.n = c.inexact = c.up = c.ovf = c.draws = 0
        # typed reads when they are safe (word64), the 64-bit primitive when the plan allows it
        typed = ta != WORD_U64 and tb != WORD_U64 and cnp.PyArray_ISALIGNED(ra) and \
            cnp.PyArray_ISALIGNED(rb)
        for i in range(n):
            if typed:
                va, vb = word64(pa, ta, i * sa), word64(pb, tb, i * sb)
            else:
                va, vb = load_word(pa, ta, i * sa), load_word(pb, tb, i * sb)
            if self.code == 2:
                v = va * vb
            elif self.code == 0:
                v = (va << self.da) + (vb << self.db)
            else:
                v = (va << self.da) - (vb << self.db)
            if self.small:
                v = cast_small(&self.cs, <int64_t>v, self.s_out, 0, 0, &c, &err)
            else:
                v = cast_value(&self.cs, v, self.s_out, 0, 0, &c, &err)
            if err != ERR_NONE:
                return None
            put(po, self.w, i, <int64_t>v)
        if _thread_state.stack:
            _record(self.op, "out", self.fmt, (c.n, c.inexact, c.up, c.ovf, 0))
        return new_fixed(out, self.fmt)


cdef class SmallSRCast:
    """A stochastic cast into ``fmt`` drawing from the fxsim source ``source`` (``r`` already
    checked against it), for small inputs (see the module docstring).  Calling it,
    ``q(x, v=None)``, returns the FixedArray, or None before anything is drawn when it does not
    apply (another input type, too large, empty, a non-finite input, a signed-SR_ε ``v`` that is
    not a finite float64 array of x's shape): the general path then runs the call."""
    cdef cspec cs
    cdef double scale
    cdef int fl, typenum, w
    cdef bint signed_v
    cdef readonly Py_ssize_t limit
    cdef readonly object fmt, source

    def __init__(self, CastSpec spec, fmt, source, Py_ssize_t limit=4096):
        if spec.cs.mode < RM_STOCHASTIC or spec.cs.ovf == OV_ERROR:
            raise ValueError("SmallSRCast: spec must have a stochastic mode and no overflow='error'")
        bitsrc_from_capsule(source.capsule)      # an fxsim source, or a ValueError here
        self.cs = spec.cs
        self.fmt = fmt
        self.source = source
        self.fl = fmt.fl
        self.scale = ldexp(1.0, fmt.fl)
        self.typenum = fmt.dtype.num
        self.w = fmt.dtype.itemsize
        self.signed_v = spec.cs.mode == RM_SIGNED_STOCHASTIC_EPS
        self.limit = limit

    def __call__(self, x, v=None):
        """The FixedArray of the cast of ``x`` (``v``: signed-SR_ε's sign reference), or None."""
        cdef uint64_t* dd                 # the call's draws
        cdef bitsrc_t* src
        cdef cnp.ndarray a, out, va
        cdef counts_t c
        cdef int err = ERR_NONE
        cdef int s = 0, vs = 0
        cdef int tx
        cdef i128 y
        cdef char* po
        cdef Py_ssize_t i, n
        cdef const double* px = NULL
        cdef const double* pv = NULL
        cdef const char* pr = NULL
        got = small_input(x, self.fl, &tx, &s)
        if got is None:
            return None
        a = <cnp.ndarray>got
        n = cnp.PyArray_SIZE(a)
        if n > self.limit or n == 0:
            return None
        if tx < 0:
            px = <const double*>cnp.PyArray_DATA(a)
            for i in range(n):
                if not isfinite(px[i]):
                    return None           # refused by the general path, before any draw
        else:
            pr = <const char*>cnp.PyArray_DATA(a)
        if self.signed_v:
            if type(v) is not cnp.ndarray:
                return None
            va = <cnp.ndarray>v
            if cnp.PyArray_TYPE(va) != cnp.NPY_DOUBLE or not plain_array(va) or \
                    cnp.PyArray_NDIM(va) != cnp.PyArray_NDIM(a):
                return None
            for i in range(cnp.PyArray_NDIM(a)):
                if cnp.PyArray_DIMS(va)[i] != cnp.PyArray_DIMS(a)[i]:
                    return None
            pv = <const double*>cnp.PyArray_DATA(va)
            for i in range(n):
                if isnan(pv[i]):
                    return None
        out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a), self.typenum, 0)
        po = <char*>cnp.PyArray_DATA(out)
        dd = <uint64_t*>malloc(n * sizeof(uint64_t))
        if dd == NULL:
            raise MemoryError()
        try:
            with self.source.lock:        # this call's piece of the stream, in one step
                src = bitsrc_from_capsule(self.source.capsule)
                with nogil:
                    src.fill(src.state, dd, n, self.cs.r)
            c.n = c.inexact = c.up = c.ovf = 0
            for i in range(n):
                if pv != NULL:
                    vs = (pv[i] > 0) - (pv[i] < 0)
                if tx < 0:
                    y = cast_double(&self.cs, px[i], self.scale, self.fl, dd[i], vs, &c, &err)
                else:
                    y = cast_value(&self.cs, load_word(pr, tx, i), s, dd[i], vs, &c, &err)
                put(po, self.w, i, <int64_t>y)    # the low bytes: wrapped or unsigned words too
        finally:
            free(dd)
        if _thread_state.stack:
            _record("cast", "out", self.fmt, (c.n, c.inexact, c.up, c.ovf, n))
        return new_fixed(out, self.fmt)
