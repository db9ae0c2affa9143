# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Small calls (issue 13.1): a deterministic cast prepared once and run in C on a small input.

``SmallCast(spec, fmt)`` holds the kernels' cast description; calling it on a C-contiguous
native float64 ndarray (or a FixedArray) of at most ``limit`` elements casts every element
with the same primitives as the big kernels (``cast_double`` / ``cast_value`` of fxprims.pxd),
records counters only inside a ``Counters`` block and returns the FixedArray.  It returns
None when it does not apply (another input type, too large) or when the cast would raise (NaN,
±inf, overflow='error'): the caller then takes the general path, which raises the usual error
-- a deterministic cast has no side effect, so running it twice changes nothing.
"""
cimport numpy as cnp
from libc.math cimport ldexp
from libc.stdint cimport int64_t

from fxsim._kernels cimport (CastSpec, cspec, counts_t, i128, cast_f64_sat, RM_STOCHASTIC,
                             OV_SATURATE_SYMMETRIC, ERR_NONE, WORD_U8)
from fxprims cimport cast_double, cast_value, load_word, put

from fxsim import counters as _counters
from fxsim.fixed import FixedArray

cnp.import_array()

cdef object _thread_state = _counters.thread_state    # .stack: this thread's active Counters
cdef object _record = _counters.record


cdef inline bint plain_array(cnp.ndarray a) noexcept:
    return cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISNOTSWAPPED(a)


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
        if type(x) is cnp.ndarray:
            a = <cnp.ndarray>x
            if cnp.PyArray_TYPE(a) != cnp.NPY_DOUBLE or not plain_array(a):
                return None
            tx = -1
        elif type(x) is FixedArray:
            a = <cnp.ndarray>x.raw
            if not plain_array(a):
                return None
            # the WORD_* code of the raw words: log2 of their bytes, + WORD_U8 if unsigned
            tx = cnp.PyArray_ITEMSIZE(a)
            tx = (0 if tx == 1 else (1 if tx == 2 else (2 if tx == 4 else 3))) + \
                (WORD_U8 if cnp.PyArray_ISUNSIGNED(a) else 0)
            s = x.fmt.fl - self.fl
        else:
            return None
        n = cnp.PyArray_SIZE(a)
        if n > self.limit:
            return None
        out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a), self.typenum, 0)
        po = <char*>cnp.PyArray_DATA(out)
        c.n = c.inexact = c.up = c.ovf = c.draws = 0
        if tx < 0:
            px = <const double*>cnp.PyArray_DATA(a)
            if self.cs.ovf <= OV_SATURATE_SYMMETRIC and n > 0 and \
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
        res = FixedArray.__new__(FixedArray)       # FixedArray._wrap, without its call
        res._raw = out
        res._fmt = self.fmt
        return res
