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
from libc.stdint cimport uint32_t
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
                           # BITSRC_PHILOX: state is a philox_st (numpy's philox_state layout);
                           # 0 (the zeroed default): reach the source through fill/next only

cdef extern from *:
    """
    #define FXSIM_BITSRC_CAPSULE_NAME "fxsim.bitsrc"
    """
    const char* BITSRC_CAPSULE_NAME "FXSIM_BITSRC_CAPSULE_NAME"


cdef enum:
    BITSRC_PCG64 = 1
    BITSRC_PHILOX = 2


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


cdef extern from *:
    """
    /* numpy's philox_state (numpy/random/src/philox; the layout is checked against
       Philox.state before an inline source uses numpy's own state) and its counter block */
    typedef struct { uint64_t v[4]; } fxs_ctr4;
    typedef struct { uint64_t v[2]; } fxs_key2;
    typedef struct {
        fxs_ctr4* ctr; fxs_key2* key; int buffer_pos; uint64_t buffer[4];
        int has_uint32; uint32_t uinteger;
    } fxs_philox_state;

    static inline void fxs_ctr_inc(uint64_t* c) {
        if (++c[0] == 0 && ++c[1] == 0 && ++c[2] == 0)
            ++c[3];
    }

    static inline __attribute__((always_inline)) void fxs_philox_rounds(
            uint64_t* w0, uint64_t* w1, uint64_t* w2, uint64_t* w3, uint64_t k0, uint64_t k1) {
        /* Random123's philox4x64 with 10 rounds (numpy's philox4x64_R) on the counter words,
           in place.  mulx by hand: gcc's own 128-bit products go through rdx:rax and spill to
           the stack in a loop that holds more than the block; one xor after each product */
        uint64_t c0 = *w0, c1 = *w1, c2 = *w2, c3 = *w3;
        for (int i = 0; i < 10; i++) {
            uint64_t h0, l0, h1, l1;
            if (i) { k0 += 0x9E3779B97F4A7C15ULL; k1 += 0xBB67AE8584CAA73BULL; }
    #if defined(__BMI2__)
            __asm__("mulx %3, %0, %1" : "=r"(l0), "=r"(h0) : "d"(c0), "r"(0xD2E7470EE14C6C93ULL));
            __asm__("mulx %3, %0, %1" : "=r"(l1), "=r"(h1) : "d"(c2), "r"(0xCA5A826395121157ULL));
    #else
            unsigned __int128 p0 = (unsigned __int128)0xD2E7470EE14C6C93ULL * c0;
            unsigned __int128 p1 = (unsigned __int128)0xCA5A826395121157ULL * c2;
            l0 = (uint64_t)p0; h0 = (uint64_t)(p0 >> 64); l1 = (uint64_t)p1; h1 = (uint64_t)(p1 >> 64);
    #endif
            c0 = h1 ^ (c1 ^ k0);
            c1 = l1;
            c2 = h0 ^ (c3 ^ k1);
            c3 = l0;
        }
        *w0 = c0; *w1 = c1; *w2 = c2; *w3 = c3;
    }

    static inline void fxs_philox_block(const uint64_t* c, uint64_t k0, uint64_t k1, uint64_t* o) {
        /* the 4 words of counter block c */
        o[0] = c[0]; o[1] = c[1]; o[2] = c[2]; o[3] = c[3];
        fxs_philox_rounds(o, o + 1, o + 2, o + 3, k0, k1);
    }
    """
    ctypedef struct fxs_ctr4:
        uint64_t v[4]
    ctypedef struct fxs_key2:
        uint64_t v[2]
    ctypedef struct philox_st "fxs_philox_state":
        fxs_ctr4* ctr
        fxs_key2* key
        int buffer_pos
        uint64_t buffer[4]
        int has_uint32
        uint32_t uinteger
    void fxs_ctr_inc(uint64_t* c) noexcept nogil
    void fxs_philox_block(const uint64_t* c, uint64_t k0, uint64_t k1, uint64_t* o) noexcept nogil


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
