# cython: language_level=3
"""fxsim's C-level random bit source interface (spec §5), in the style of numpy's ``bitgen_t``.

Every fxsim source (``fxsim.LFSR``, ``fxsim.Ideal``) exposes ``source.capsule``: a PyCapsule
named ``"fxsim.bitsrc"`` whose pointer is a ``bitsrc_t``.  A nogil kernel can then consume any
source without knowing which it is::

    from bitsrc cimport bitsrc_t, bitsrc_from_capsule
    cdef bitsrc_t* src = bitsrc_from_capsule(source.capsule)
    with source.lock:                  # the source's state is not thread-safe
        with nogil:
            src.fill(src.state, &out[0], n, r)     # n draws of r bits, in stream order
            R = src.next(src.state, r)             # one more draw

Contract:
- ``1 <= r <= max_r`` (64, or n for an LFSR with the ``state`` draw rule); the functions trust
  their arguments, so check r before releasing the GIL.
- ``fill`` writes exactly n draws, each < 2**r, and leaves the source exactly where n calls
  of ``next`` would: how a stream is split into calls never changes it.
- Hold the source's ``lock`` for the whole use (numpy's convention for ``bitgen_t``).
- The capsule holds a reference to the object that owns the state, so ``state`` stays valid
  while the capsule lives.
"""
from libc.stdint cimport int64_t, uint64_t
from cpython.pycapsule cimport PyCapsule_New, PyCapsule_GetPointer, PyCapsule_GetContext, PyCapsule_SetContext
from cpython.ref cimport Py_INCREF, Py_XDECREF, PyObject

ctypedef uint64_t (*bitsrc_next_t)(void* state, int r) noexcept nogil
ctypedef void (*bitsrc_fill_t)(void* state, uint64_t* out, int64_t n, int r) noexcept nogil

ctypedef struct bitsrc_t:
    void* state            # opaque, owned by the source object
    bitsrc_next_t next     # one r-bit draw
    bitsrc_fill_t fill     # n r-bit draws into out[0..n-1], in stream order
    int max_r              # largest r this source can draw (64, or n for LFSR rule 'state')
    int kind               # BITSRC_PCG64: state is a pcg64_st that a kernel may step inline;
                           # 0 (the zeroed default): reach the source through fill/next only

cdef extern from *:
    """
    #define FXSIM_BITSRC_CAPSULE_NAME "fxsim.bitsrc"
    """
    const char* BITSRC_CAPSULE_NAME "FXSIM_BITSRC_CAPSULE_NAME"


cdef enum:
    BITSRC_PCG64 = 1


cdef extern from *:
    """
    /* numpy's PCG64 (pcg64.h, XSL-RR 128/64) for sources and kernels that step it inline */
    typedef unsigned __int128 fxs_u128;
    typedef struct { fxs_u128 state; fxs_u128 inc; } fxs_pcg64_st;
    #define FXS_PCG_MULT (((fxs_u128)2549297995355413924ULL << 64) | 4865540595714422341ULL)
    static inline uint64_t fxs_xsl_rr(fxs_u128 x) {
        uint64_t v = (uint64_t)(x >> 64) ^ (uint64_t)x;
        unsigned rot = (unsigned)(x >> 122);
        return (v >> rot) | (v << ((-rot) & 63));
    }
    static inline uint64_t fxs_pcg64_next(fxs_u128* s, fxs_u128 inc) {
        /* step, then output from the new state */
        fxs_u128 x = *s * FXS_PCG_MULT + inc;
        *s = x;
        return fxs_xsl_rr(x);
    }
    """
    ctypedef unsigned long long fxs_u128      # only moved around, never computed with in Cython
    ctypedef struct pcg64_st "fxs_pcg64_st":
        fxs_u128 state
        fxs_u128 inc
    uint64_t fxs_pcg64_next(fxs_u128* s, fxs_u128 inc) noexcept nogil


cdef inline bitsrc_t* bitsrc_from_capsule(object capsule) except NULL:
    """The bitsrc_t of a source's capsule (ValueError if it is not an "fxsim.bitsrc" capsule)."""
    return <bitsrc_t*>PyCapsule_GetPointer(capsule, BITSRC_CAPSULE_NAME)


cdef inline void _bitsrc_release_owner(object cap) noexcept:
    cdef void* ctx = PyCapsule_GetContext(cap)
    if ctx != NULL:
        Py_XDECREF(<PyObject*>ctx)


cdef inline object bitsrc_capsule(bitsrc_t* src, object owner):
    """An "fxsim.bitsrc" capsule for src that keeps ``owner`` (the object holding src) alive."""
    cap = PyCapsule_New(<void*>src, BITSRC_CAPSULE_NAME, &_bitsrc_release_owner)
    Py_INCREF(owner)
    PyCapsule_SetContext(cap, <void*>owner)
    return cap
