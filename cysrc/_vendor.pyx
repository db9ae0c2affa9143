# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, overflowcheck=False
"""The random generators of accelerators' stochastic-rounding units behind ``bitsrc_t``
(``bitsrc.pxd``); the presets, their sources and seeding are in ``fxsim/vendor_sources.py``.

``VendorCore``: L lanes of one register-based generator; draw e (counted from the seeding)
comes from lane e mod L, which steps once and hands over its word w (``width`` bits); the draw
is the low r bits of w (``take`` = TAKE_LOW) or its top r bits (TAKE_HIGH).  One step of each
generator, a lane's state in ``nw`` uint64 words:

    GEN_AMD_PRNG_B32  (AMD CDNA V_PRNG_B32)     s = (s << 1) ^ (s[31] ? 197 : 0); w = new s
    GEN_TT_SFPU       (Tenstorrent SFPU PRNG)   w = s; s = (~parity(s & 0x80200003) << 31) | (s >> 1)
    GEN_XORWOW        (cuRAND curand())         v[0..4], d: Marsaglia's xorwow, d += 362437,
                                                w = v[4] + d
    GEN_XOROSHIRO_AOX (Graphcore IPU)           xoroshiro128 (24, 16, 37) engine, w = the aox
                                                scrambler of (s0, s1) before the step

The bit generator presets (cuRAND Philox4x32-10, xoroshiro128+) run through
``_sources.IdealCore`` (``width=32`` for 32-bit words).
"""
from libc.stdint cimport int64_t, uint64_t, uint32_t
from libc.stdlib cimport malloc, free

import numpy as np

from bitsrc cimport bitsrc_t, bitsrc_capsule

cdef extern from *:
    """
    static inline int fxv_parity32(unsigned int x) { return __builtin_parity(x); }
    static inline unsigned long long fxv_rotl64(unsigned long long x, int k) {
        return (x << k) | (x >> (64 - k));
    }
    """
    uint32_t parity32 "fxv_parity32"(uint32_t x) noexcept nogil
    uint64_t rotl64 "fxv_rotl64"(uint64_t x, int k) noexcept nogil

cpdef enum Generator:
    GEN_AMD_PRNG_B32 = 0
    GEN_TT_SFPU = 1
    GEN_XORWOW = 2
    GEN_XOROSHIRO_AOX = 3

cpdef enum Take:
    TAKE_LOW = 0
    TAKE_HIGH = 1

#: state words per lane and bits per output word of each generator
STATE_WORDS = {GEN_AMD_PRNG_B32: 1, GEN_TT_SFPU: 1, GEN_XORWOW: 6, GEN_XOROSHIRO_AOX: 2}
WORD_BITS = {GEN_AMD_PRNG_B32: 32, GEN_TT_SFPU: 32, GEN_XORWOW: 32, GEN_XOROSHIRO_AOX: 64}

ctypedef struct vgen_t:
    int gen
    int take
    int width           # bits of the generator's word
    int nw              # state words per lane
    int64_t L           # lanes
    uint64_t count      # draws taken since seeding (lane = count mod L)
    uint64_t* st        # L * nw state words


cdef inline uint64_t gen_word(int gen, uint64_t* s) noexcept nogil:
    """One step of the lane whose state is s[0..nw-1]; the word it hands over."""
    cdef uint32_t x, t
    cdef uint64_t a, b, sa, t64
    if gen == GEN_AMD_PRNG_B32:
        x = <uint32_t>s[0]
        x = (x << 1) ^ (<uint32_t>197 if (x >> 31) else <uint32_t>0)
        s[0] = x
        return x
    if gen == GEN_TT_SFPU:
        x = <uint32_t>s[0]
        s[0] = ((parity32(x & <uint32_t>0x80200003) ^ 1) << 31) | (x >> 1)
        return x
    if gen == GEN_XORWOW:
        x = <uint32_t>s[0]
        t = x ^ (x >> 2)
        s[0] = s[1]
        s[1] = s[2]
        s[2] = s[3]
        s[3] = s[4]
        x = <uint32_t>s[4]
        x = (x ^ (x << 4)) ^ (t ^ (t << 1))
        s[4] = x
        s[5] = <uint32_t>(<uint32_t>s[5] + <uint32_t>362437)
        return <uint32_t>(x + <uint32_t>s[5])
    a = s[0]
    b = s[1]
    sa = a & b
    t64 = (a ^ b) ^ (rotl64(sa, 1) | rotl64(sa, 2))
    b ^= a
    s[0] = rotl64(a, 24) ^ b ^ (b << 16)
    s[1] = rotl64(b, 37)
    return t64


cdef void vgen_fill(void* vst, uint64_t* out, int64_t n, int r) noexcept nogil:
    cdef vgen_t* st = <vgen_t*>vst
    cdef uint64_t rmask = ~(<uint64_t>0) >> (64 - r)
    cdef int sh = st.width - r
    cdef int gen = st.gen, nw = st.nw
    cdef bint low = st.take == TAKE_LOW
    cdef int64_t L = st.L, i, lane
    cdef uint64_t w
    if n <= 0:
        return
    lane = <int64_t>(st.count % <uint64_t>L)
    for i in range(n):
        w = gen_word(gen, st.st + lane * nw)
        out[i] = (w & rmask) if low else (w >> sh)
        lane += 1
        if lane == L:
            lane = 0
    st.count += <uint64_t>n


cdef uint64_t vgen_next(void* vst, int r) noexcept nogil:
    cdef uint64_t v = 0
    vgen_fill(vst, &v, 1, r)
    return v


cdef class VendorCore:
    """The C state of a register-based vendor source: L lanes of one generator."""
    cdef vgen_t g
    cdef bitsrc_t src

    def __cinit__(self, int gen, int take, states, uint64_t count=0):
        cdef uint64_t[:, ::1] v = np.array(states, dtype=np.uint64, ndmin=2)
        cdef int64_t i, j
        self.g.st = NULL
        if gen not in STATE_WORDS:
            raise ValueError(f"unknown generator code {gen}")
        if take != TAKE_LOW and take != TAKE_HIGH:
            raise ValueError("take must be TAKE_LOW or TAKE_HIGH")
        self.g.gen = gen
        self.g.take = take
        self.g.nw = STATE_WORDS[gen]
        self.g.width = WORD_BITS[gen]
        if v.shape[0] < 1 or v.shape[1] != self.g.nw:
            raise ValueError(f"states must be (lanes, {self.g.nw}) words, got ({v.shape[0]}, {v.shape[1]})")
        self.g.L = v.shape[0]
        self.g.st = <uint64_t*>malloc(self.g.L * self.g.nw * sizeof(uint64_t))
        if self.g.st == NULL:
            raise MemoryError()
        for i in range(self.g.L):
            for j in range(self.g.nw):
                self.g.st[i * self.g.nw + j] = v[i, j]
        self.g.count = count
        self.src.state = <void*>&self.g
        self.src.next = &vgen_next
        self.src.fill = &vgen_fill
        self.src.max_r = self.g.width

    def __dealloc__(self):
        free(self.g.st)

    @property
    def states(self):
        """The (L, nw) state words (a new uint64 array)."""
        cdef uint64_t[:, ::1] v = np.empty((self.g.L, self.g.nw), dtype=np.uint64)
        cdef int64_t i, j
        for i in range(self.g.L):
            for j in range(self.g.nw):
                v[i, j] = self.g.st[i * self.g.nw + j]
        return np.asarray(v)

    @property
    def count(self):
        return self.g.count

    def set_position(self, states, uint64_t count):
        cdef uint64_t[:, ::1] v = np.array(states, dtype=np.uint64, ndmin=2)
        cdef int64_t i, j
        if v.shape[0] != self.g.L or v.shape[1] != self.g.nw:
            raise ValueError(f"expected ({self.g.L}, {self.g.nw}) state words")
        for i in range(self.g.L):
            for j in range(self.g.nw):
                self.g.st[i * self.g.nw + j] = v[i, j]
        self.g.count = count

    def words(self, int64_t n):
        """The next n raw words of the generator (lane by lane, as the draws), as uint64."""
        cdef uint64_t[::1] out = np.empty(n, dtype=np.uint64)
        cdef int take = self.g.take
        self.g.take = TAKE_LOW
        if n > 0:
            vgen_fill(&self.g, &out[0], n, self.g.width)
        self.g.take = take
        return np.asarray(out)

    def capsule(self):
        return bitsrc_capsule(&self.src, self)
