# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, overflowcheck=False
"""Random bit sources of fxsim (spec §5): LFSR registers and numpy bit generators behind one
C interface, ``bitsrc_t`` (see ``bitsrc.pxd``).

LFSR (spec §5.1).  With M = sum of 2**(t-1) over the taps, one step of the n-bit register s is
    galois    (right shift): b = s & 1;       s = (s >> 1) ^ (M if b else 0)
    fibonacci (left shift) : b = bit n-1 of s; s = ((s << 1) | parity(s & M)) mod 2**n
and b is the output bit.  Both are linear maps over GF(2), so k steps (k <= 64) are a linear map
s -> (state after k steps, the k output bits), and that map is applied a byte of s at a time:
for every byte position j of the state a 256-entry table holds the images of the 256 byte values
(the "leap tables"); k steps cost ceil(n/8) lookups and XORs, never k single steps.  The
``serial`` rule uses a leap of k = m*r steps giving m draws at once (m = 64 // r; for r > 32 a
leap of 2r steps with two output words) and a leap of r steps for the tail, so the stream does
not depend on how it is split into calls.  The ``state`` rule steps once per draw.

Jump-ahead (lane starts, ``advance``): the step matrix A (column i = image of bit i) raised to
the k-th power by square-and-multiply on 64x64 GF(2) matrices, O(n**2 log k) word operations.

Lanes: L registers; draw e (counted from the seeding) comes from lane e mod L.  ``fill`` runs
each lane over its own strided slice of the output.
"""
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy
from cpython.pycapsule cimport PyCapsule_GetPointer
from numpy.random cimport bitgen_t

import numpy as np

from bitsrc cimport (bitsrc_t, bitsrc_fill_t, bitsrc_from_capsule, bitsrc_capsule, BITSRC_PCG64,
                     fxs_u128, pcg64_st, fxs_pcg64_next)
from bitsrc cimport (BITSRC_PHILOX, philox_st as fxs_philox_state, fxs_ctr4, fxs_key2,
                     fxs_philox_block)

cdef extern from *:
    """
    static inline int fx_parity64(unsigned long long x) { return __builtin_parityll(x); }
    static inline int fx_ctz64(unsigned long long x) { return __builtin_ctzll(x); }
    """
    int parity64 "fx_parity64"(uint64_t x) noexcept nogil
    int ctz64 "fx_ctz64"(uint64_t x) noexcept nogil

CAPSULE_NAME = "fxsim.bitsrc"

cdef enum:
    FORM_GALOIS = 0
    FORM_FIBONACCI = 1
    RULE_SERIAL = 0
    RULE_STATE = 1

ctypedef struct lentry_t:
    uint64_t s          # contribution to the state after the leap
    uint64_t o          # contribution to the leap's output bits (first bit most significant)

ctypedef struct lentry2_t:
    uint64_t s          # contribution to the state after a leap of 2r steps
    uint64_t o1         # ... to the first r output bits
    uint64_t o2         # ... to the next r output bits
    uint64_t pad

ctypedef struct lfsr_t:
    int n
    int form
    int rule
    int nb              # bytes of state: ceil(n / 8)
    int64_t L           # lanes
    uint64_t M          # feedback mask, sum of 2**(t-1)
    uint64_t nmask      # 2**n - 1
    uint64_t count      # draws taken since seeding (selects the lane: count mod L)
    uint64_t* lane      # the L register states
    int tab_r           # r the leap tables are built for (0: none yet)
    int m               # draws per long leap: 64 // tab_r
    lentry_t* T1        # leap of r steps: nb * 256 entries
    lentry_t* Tm        # leap of m * r steps (m > 1)
    lentry2_t* T2       # leap of 2r steps giving two draws (m == 1, r > 32)
    int tj_r            # r the jump table is built for (0: none yet)
    uint64_t* TJ        # state after JUMP_LEAPS long leaps: nb * 256 entries


# -- one step ----------------------------------------------------------------------------------

cdef inline uint64_t step1(const lfsr_t* st, uint64_t s) noexcept nogil:
    if st.form == FORM_GALOIS:
        return (s >> 1) ^ (st.M & (<uint64_t>0 - (s & 1)))
    return ((s << 1) | <uint64_t>parity64(s & st.M)) & st.nmask


cdef inline uint64_t outbit(const lfsr_t* st, uint64_t s) noexcept nogil:
    if st.form == FORM_GALOIS:
        return s & 1
    return (s >> (st.n - 1)) & 1


# -- leap tables -------------------------------------------------------------------------------

cdef void build_leap(const lfsr_t* st, int k, lentry_t* T) noexcept nogil:
    """Tables of the k-step map (1 <= k <= 64): T[256*j + x] = image of the state x << 8j."""
    cdef uint64_t bs[64]
    cdef uint64_t bo[64]
    cdef uint64_t s, o
    cdef int i, j, t, x
    cdef lentry_t* base
    for i in range(st.n):
        s = (<uint64_t>1) << i
        o = 0
        for t in range(k):
            o = (o << 1) | outbit(st, s)
            s = step1(st, s)
        bs[i] = s
        bo[i] = o
    for j in range(st.nb):
        base = T + 256 * j
        base[0].s = 0
        base[0].o = 0
        for x in range(1, 256):
            i = 8 * j + ctz64(<uint64_t>x)
            base[x] = base[x & (x - 1)]
            if i < st.n:
                base[x].s ^= bs[i]
                base[x].o ^= bo[i]


cdef void build_leap2(const lfsr_t* st, int r, lentry2_t* T) noexcept nogil:
    """Tables of the 2r-step map (33 <= r <= 64) with its two r-bit outputs."""
    cdef uint64_t bs[64]
    cdef uint64_t b1[64]
    cdef uint64_t b2[64]
    cdef uint64_t s, o
    cdef int i, j, t, x
    cdef lentry2_t* base
    for i in range(st.n):
        s = (<uint64_t>1) << i
        o = 0
        for t in range(r):
            o = (o << 1) | outbit(st, s)
            s = step1(st, s)
        b1[i] = o
        o = 0
        for t in range(r):
            o = (o << 1) | outbit(st, s)
            s = step1(st, s)
        b2[i] = o
        bs[i] = s
    for j in range(st.nb):
        base = T + 256 * j
        base[0].s = 0
        base[0].o1 = 0
        base[0].o2 = 0
        base[0].pad = 0
        for x in range(1, 256):
            i = 8 * j + ctz64(<uint64_t>x)
            base[x] = base[x & (x - 1)]
            if i < st.n:
                base[x].s ^= bs[i]
                base[x].o1 ^= b1[i]
                base[x].o2 ^= b2[i]


cdef inline void ensure_tables(lfsr_t* st, int r) noexcept nogil:
    if st.tab_r == r:
        return
    st.m = 64 // r
    build_leap(st, r, st.T1)
    if st.m > 1:
        build_leap(st, st.m * r, st.Tm)
    else:
        build_leap2(st, r, st.T2)
    st.tab_r = r


cdef inline uint64_t leap(const lentry_t* T, int nb, uint64_t s, uint64_t* o) noexcept nogil:
    cdef uint64_t ns, oo
    cdef const lentry_t* e
    cdef int j
    e = T + (s & 0xFF)
    ns = e.s
    oo = e.o
    for j in range(1, nb):
        e = T + ((j << 8) | <int>((s >> (j << 3)) & 0xFF))
        ns ^= e.s
        oo ^= e.o
    o[0] = oo
    return ns


cdef inline uint64_t leap2(const lentry2_t* T, int nb, uint64_t s, uint64_t* o1,
                          uint64_t* o2) noexcept nogil:
    cdef uint64_t ns, a, b
    cdef const lentry2_t* e
    cdef int j
    e = T + (s & 0xFF)
    ns = e.s
    a = e.o1
    b = e.o2
    for j in range(1, nb):
        e = T + ((j << 8) | <int>((s >> (j << 3)) & 0xFF))
        ns ^= e.s
        a ^= e.o1
        b ^= e.o2
    o1[0] = a
    o2[0] = b
    return ns


# -- drawing -----------------------------------------------------------------------------------

cdef extern from *:
    """
    typedef struct { uint64_t s, o; } fxs_lentry;     /* lentry_t */
    #define FXS_JUMP_LEAPS 128

    static inline __attribute__((always_inline)) uint64_t fxs_leap1(
            const fxs_lentry* T, const int nb, uint64_t s, uint64_t* o) {
        const fxs_lentry* e = T + (s & 0xFF);
        uint64_t ns = e->s, oo = e->o;
        for (int j = 1; j < nb; j++) {
            e = T + (j << 8) + ((s >> (8 * j)) & 0xFF);
            ns ^= e->s;
            oo ^= e->o;
        }
        *o = oo;
        return ns;
    }

    static inline __attribute__((always_inline)) void fxs_leaps(
            const fxs_lentry* T, const uint64_t* TJ, const int nb, const int m, int r,
            uint64_t* ps, uint64_t* out, int64_t cnt) {
        /* run_serial's long leaps (stride 1) with nb and m known to the compiler: the nb
           lookups unrolled, the m draws taken out of the leap's bits without a loop.  Given
           TJ (the state JUMP_LEAPS leaps on), runs of 2 * JUMP_LEAPS leaps go as two chains
           of look-ups in flight, the second started from the jumped state (the same draws:
           each leap only waits for the one before it in its own half) */
        uint64_t s = *ps, rmask = ~0ULL >> (64 - r), o, ob;
        int k = m * r;
        int64_t i = 0, h = (int64_t)FXS_JUMP_LEAPS * m;
        if (TJ != NULL) {
            for (; i + 2 * h <= cnt; i += 2 * h) {
                uint64_t sa = s, sb = TJ[s & 0xFF];
                for (int j = 1; j < nb; j++)
                    sb ^= TJ[(j << 8) + ((s >> (8 * j)) & 0xFF)];
                for (int64_t l = 0; l < h; l += m) {
                    sa = fxs_leap1(T, nb, sa, &o);
                    sb = fxs_leap1(T, nb, sb, &ob);
                    for (int d = 0; d < m; d++) {
                        out[i + l + d] = (o >> (k - r * (d + 1))) & rmask;
                        out[i + h + l + d] = (ob >> (k - r * (d + 1))) & rmask;
                    }
                }
                s = sb;
            }
        }
        for (; i + m <= cnt; i += m) {
            s = fxs_leap1(T, nb, s, &o);
            for (int d = 0; d < m; d++)
                out[i + d] = (o >> (k - r * (d + 1))) & rmask;
        }
        *ps = s;
    }

    #define FXS_LEAPS_NB(nb) case nb: \
        if (m == 4) fxs_leaps(T, TJ, nb, 4, r, ps, out, cnt); \
        else fxs_leaps(T, TJ, nb, m, r, ps, out, cnt); \
        break;

    static int64_t fxs_serial_leaps(const void* Tm, const uint64_t* TJ, int nb, int m, int r,
                                    uint64_t* ps, uint64_t* out, int64_t cnt) {
        /* cnt // m leaps of m draws from *ps into out[0..]; the draws written.  m = 4 (13 <= r
           <= 16, the usual widths) and each state size of up to 64 bits get their own loop */
        const fxs_lentry* T = (const fxs_lentry*)Tm;
        switch (nb) {
            FXS_LEAPS_NB(1) FXS_LEAPS_NB(2) FXS_LEAPS_NB(3) FXS_LEAPS_NB(4)
            FXS_LEAPS_NB(5) FXS_LEAPS_NB(6) FXS_LEAPS_NB(7) FXS_LEAPS_NB(8)
        }
        return cnt - cnt % m;
    }
    """
    int64_t serial_leaps "fxs_serial_leaps"(const void* Tm, const uint64_t* TJ, int nb, int m,
                                            int r, uint64_t* ps, uint64_t* out,
                                            int64_t cnt) noexcept nogil
    int JUMP_LEAPS "FXS_JUMP_LEAPS"


cdef void build_jump(lfsr_t* st, int r) noexcept nogil:
    """TJ: the state JUMP_LEAPS long leaps (JUMP_LEAPS * m * r steps) on, a byte at a time."""
    cdef uint64_t R[64]
    cdef int j, x, i
    cdef uint64_t* base
    mat_pow(st, <uint64_t>JUMP_LEAPS * st.m * r, R)
    for j in range(st.nb):
        base = st.TJ + 256 * j
        base[0] = 0
        for x in range(1, 256):
            i = 8 * j + ctz64(<uint64_t>x)
            base[x] = base[x & (x - 1)] ^ (R[i] if i < st.n else 0)
    st.tj_r = r


cdef uint64_t run_serial(lfsr_t* st, uint64_t s, uint64_t* out, int64_t cnt, int64_t stride,
                         int r) noexcept nogil:
    """cnt draws of the serial rule from state s into out[0], out[stride], ...; new state."""
    cdef int m = st.m
    cdef int nb = st.nb
    cdef int k = m * r
    cdef int d
    cdef uint64_t o, o2
    cdef uint64_t rmask = ~(<uint64_t>0) >> (64 - r)
    cdef int64_t i = 0
    cdef const lentry_t* Tm = st.Tm
    cdef const lentry_t* T1 = st.T1
    cdef const lentry2_t* T2 = st.T2
    if m == 1:
        while i + 2 <= cnt:
            s = leap2(T2, nb, s, &o, &o2)
            out[i * stride] = o
            out[(i + 1) * stride] = o2
            i += 2
    else:
        if stride == 1:
            if cnt >= 2 * JUMP_LEAPS * m and st.tj_r != r:
                build_jump(st, r)
            i = serial_leaps(<const void*>Tm, st.TJ if st.tj_r == r else NULL, nb, m, r, &s, out,
                             cnt)
        else:
            while i + m <= cnt:
                s = leap(Tm, nb, s, &o)
                for d in range(m):
                    out[(i + d) * stride] = (o >> (k - r * (d + 1))) & rmask
                i += m
    while i < cnt:
        s = leap(T1, nb, s, &o)
        out[i * stride] = o
        i += 1
    return s


cdef uint64_t run_state(const lfsr_t* st, uint64_t s, uint64_t* out, int64_t cnt, int64_t stride,
                        int r) noexcept nogil:
    """cnt draws of the state rule (one step, low r bits of the new state)."""
    cdef uint64_t rmask = ~(<uint64_t>0) >> (64 - r)
    cdef uint64_t M = st.M
    cdef uint64_t nmask = st.nmask
    cdef int64_t i
    if st.form == FORM_GALOIS:
        for i in range(cnt):
            s = (s >> 1) ^ (M & (<uint64_t>0 - (s & 1)))
            out[i * stride] = s & rmask
    else:
        for i in range(cnt):
            s = ((s << 1) | <uint64_t>parity64(s & M)) & nmask
            out[i * stride] = s & rmask
    return s


cdef inline uint64_t run_lane(lfsr_t* st, uint64_t s, uint64_t* out, int64_t cnt, int64_t stride,
                              int r) noexcept nogil:
    if st.rule == RULE_SERIAL:
        return run_serial(st, s, out, cnt, stride, r)
    return run_state(st, s, out, cnt, stride, r)


cdef void lfsr_fill(void* vst, uint64_t* out, int64_t n, int r) noexcept nogil:
    cdef lfsr_t* st = <lfsr_t*>vst
    cdef int64_t L = st.L
    cdef int64_t j, lane, first, c, top
    if n <= 0:
        return
    if st.rule == RULE_SERIAL:
        ensure_tables(st, r)
    if L == 1:
        st.lane[0] = run_lane(st, st.lane[0], out, n, 1, r)
    else:
        first = <int64_t>(st.count % <uint64_t>L)
        top = L if n > L else n
        for j in range(top):
            lane = first + j
            if lane >= L:
                lane -= L
            c = (n - j + L - 1) // L
            st.lane[lane] = run_lane(st, st.lane[lane], out + j, c, L, r)
    st.count += <uint64_t>n


cdef inline uint64_t one_draw(bitsrc_fill_t fill, void* vst, int r) noexcept nogil:
    """A source's next draw as a fill of one."""
    cdef uint64_t v = 0
    fill(vst, &v, 1, r)
    return v


cdef uint64_t lfsr_next(void* vst, int r) noexcept nogil:
    return one_draw(lfsr_fill, vst, r)


# -- jump-ahead: powers of the step matrix -----------------------------------------------------

cdef void step_matrix(const lfsr_t* st, uint64_t* A) noexcept nogil:
    cdef int i
    for i in range(st.n):
        A[i] = step1(st, (<uint64_t>1) << i)


cdef inline uint64_t mat_apply(const uint64_t* A, uint64_t v) noexcept nogil:
    cdef uint64_t res = 0
    while v:
        res ^= A[ctz64(v)]
        v &= v - 1
    return res


cdef void mat_mul(const uint64_t* A, const uint64_t* B, uint64_t* C, int n) noexcept nogil:
    """C = A B (apply B, then A); columns are images of the basis vectors."""
    cdef int j
    for j in range(n):
        C[j] = mat_apply(A, B[j])


cdef void mat_pow(const lfsr_t* st, uint64_t k, uint64_t* R) noexcept nogil:
    """R = A**k, A the one-step matrix."""
    cdef uint64_t P[64]
    cdef uint64_t T[64]
    cdef int n = st.n
    cdef int i
    step_matrix(st, P)
    for i in range(n):
        R[i] = (<uint64_t>1) << i
    while k:
        if k & 1:
            mat_mul(P, R, T, n)
            memcpy(R, T, n * sizeof(uint64_t))
        k >>= 1
        if k:
            mat_mul(P, P, T, n)
            memcpy(P, T, n * sizeof(uint64_t))


cdef void init_lfsr(lfsr_t* st, int n, uint64_t M, int form, int rule) noexcept nogil:
    st.n = n
    st.form = form
    st.rule = rule
    st.nb = (n + 7) // 8
    st.L = 1
    st.M = M
    st.nmask = ~(<uint64_t>0) >> (64 - n)
    st.count = 0
    st.lane = NULL
    st.tab_r = 0
    st.tj_r = 0
    st.TJ = NULL
    st.m = 1
    st.T1 = NULL
    st.Tm = NULL
    st.T2 = NULL


def _check_form(int form):
    if form != FORM_GALOIS and form != FORM_FIBONACCI:
        raise ValueError("form code must be 0 (galois) or 1 (fibonacci)")


def jump_states(int n, uint64_t M, int form, states, uint64_t k):
    """The register states ``states`` (uint64 array) each advanced by k steps (jump-ahead)."""
    cdef lfsr_t st
    cdef uint64_t R[64]
    cdef uint64_t[::1] v = np.array(states, dtype=np.uint64).reshape(-1)
    cdef Py_ssize_t i
    _check_form(form)
    init_lfsr(&st, n, M, form, RULE_SERIAL)
    with nogil:
        mat_pow(&st, k, R)
        for i in range(v.shape[0]):
            v[i] = mat_apply(R, v[i])
    return np.asarray(v)


def lane_starts(int n, uint64_t M, int form, uint64_t seed, int64_t L, uint64_t stride):
    """Lane ell's start: the seed advanced by ell * stride steps, ell = 0 .. L-1."""
    cdef lfsr_t st
    cdef uint64_t J[64]
    cdef uint64_t[::1] v = np.empty(L, dtype=np.uint64)
    cdef int64_t i
    _check_form(form)
    init_lfsr(&st, n, M, form, RULE_SERIAL)
    with nogil:
        mat_pow(&st, stride, J)
        v[0] = seed
        for i in range(1, L):
            v[i] = mat_apply(J, v[i - 1])
    return np.asarray(v)


# -- GF(2) polynomials (primitivity check) ---------------------------------------------------

cdef inline uint64_t gf2_mulmod(uint64_t a, uint64_t b, uint64_t plow, int n) noexcept nogil:
    """a * b mod p, p = x**n + plow; a, b < 2**n (bit i = coefficient of x**i)."""
    cdef uint64_t res = 0
    cdef uint64_t nmask = ~(<uint64_t>0) >> (64 - n)
    cdef uint64_t top = (<uint64_t>1) << (n - 1)
    cdef uint64_t c
    cdef int i
    for i in range(n - 1, -1, -1):
        c = res & top
        res = (res << 1) & nmask
        if c:
            res ^= plow
        if (b >> i) & 1:
            res ^= a
    return res


def gf2_powmod_x(uint64_t e, uint64_t plow, int n):
    """x**e mod (x**n + plow) over GF(2), as an n-bit integer (bit i = coefficient of x**i)."""
    cdef uint64_t res = 1
    cdef uint64_t nmask, top, c
    cdef int i
    if n < 1 or n > 64:
        raise ValueError("n must be in [1, 64]")
    nmask = ~(<uint64_t>0) >> (64 - n)
    top = (<uint64_t>1) << (n - 1)
    plow &= nmask
    with nogil:
        for i in range(63, -1, -1):
            res = gf2_mulmod(res, res, plow, n)
            if (e >> i) & 1:
                c = res & top          # res * x
                res = (res << 1) & nmask
                if c:
                    res ^= plow
    return res


# -- capsules ----------------------------------------------------------------------------------

def fill_from_capsule(capsule, uint64_t[::1] out, int r):
    """Fill ``out`` with len(out) draws of r bits through any source's "fxsim.bitsrc" capsule,
    without the GIL (the caller holds the source's lock)."""
    cdef bitsrc_t* src = bitsrc_from_capsule(capsule)
    cdef int64_t n = out.shape[0]
    if r < 1 or r > src.max_r:
        raise ValueError(f"r must be an integer in [1, {src.max_r}] for this source, got {r}")
    if n == 0:
        return
    with nogil:
        src.fill(src.state, &out[0], n, r)


def next_from_capsule(capsule, int r):
    """One draw of r bits through a source's capsule (``bitsrc_t.next``)."""
    cdef bitsrc_t* src = bitsrc_from_capsule(capsule)
    cdef uint64_t v
    if r < 1 or r > src.max_r:
        raise ValueError(f"r must be an integer in [1, {src.max_r}] for this source, got {r}")
    with nogil:
        v = src.next(src.state, r)
    return v


# -- LFSR --------------------------------------------------------------------------------------

cdef class LFSRCore:
    """The C state of an LFSR source: L registers, the draw counter and the leap tables."""
    cdef lfsr_t st
    cdef bitsrc_t src

    def __cinit__(self, int n, uint64_t M, int form, int rule, lanes, uint64_t count=0):
        cdef uint64_t[::1] v = np.array(lanes, dtype=np.uint64).reshape(-1)
        cdef int64_t i
        init_lfsr(&self.st, n, M, form, rule)
        if n < 2 or n > 64:
            raise ValueError("n must be in [2, 64]")
        _check_form(form)
        if rule != RULE_SERIAL and rule != RULE_STATE:
            raise ValueError("rule code must be 0 (serial) or 1 (state)")
        if v.shape[0] < 1:
            raise ValueError("at least one lane")
        self.st.L = v.shape[0]
        self.st.lane = <uint64_t*>malloc(self.st.L * sizeof(uint64_t))
        self.st.T1 = <lentry_t*>malloc(self.st.nb * 256 * sizeof(lentry_t))
        self.st.Tm = <lentry_t*>malloc(self.st.nb * 256 * sizeof(lentry_t))
        self.st.T2 = <lentry2_t*>malloc(self.st.nb * 256 * sizeof(lentry2_t))
        self.st.TJ = <uint64_t*>malloc(self.st.nb * 256 * sizeof(uint64_t))
        if (self.st.lane == NULL or self.st.T1 == NULL or self.st.Tm == NULL or self.st.T2 == NULL
                or self.st.TJ == NULL):
            raise MemoryError()
        for i in range(self.st.L):
            self.st.lane[i] = v[i]
        self.st.count = count
        self.src.state = <void*>&self.st
        self.src.next = &lfsr_next
        self.src.fill = &lfsr_fill
        self.src.max_r = n if rule == RULE_STATE else 64

    def __dealloc__(self):
        free(self.st.lane)
        free(self.st.T1)
        free(self.st.Tm)
        free(self.st.T2)
        free(self.st.TJ)

    @property
    def lanes(self):
        """The L register states (a new uint64 array)."""
        cdef uint64_t[::1] v = np.empty(self.st.L, dtype=np.uint64)
        cdef int64_t i
        for i in range(self.st.L):
            v[i] = self.st.lane[i]
        return np.asarray(v)

    @property
    def count(self):
        return self.st.count

    def set_position(self, lanes, uint64_t count):
        cdef uint64_t[::1] v = np.array(lanes, dtype=np.uint64).reshape(-1)
        cdef int64_t i
        if v.shape[0] != self.st.L:
            raise ValueError(f"expected {self.st.L} lane states, got {v.shape[0]}")
        for i in range(self.st.L):
            self.st.lane[i] = v[i]
        self.st.count = count

    def advance(self, uint64_t k):
        """Advance every lane by k steps (jump-ahead); the draw counter is unchanged."""
        cdef uint64_t R[64]
        cdef int64_t i
        with nogil:
            mat_pow(&self.st, k, R)
            for i in range(self.st.L):
                self.st.lane[i] = mat_apply(R, self.st.lane[i])

    def copy_at(self, lanes, uint64_t count):
        """A new core of this configuration with its registers at ``lanes`` and the draw counter
        at ``count``; the leap tables built so far are copied, not rebuilt."""
        cdef LFSRCore c = LFSRCore.__new__(LFSRCore, self.st.n, self.st.M, self.st.form,
                                           self.st.rule, lanes, count)
        if c.st.L != self.st.L:
            raise ValueError(f"expected {self.st.L} lane states, got {c.st.L}")
        if self.st.tab_r:
            memcpy(c.st.T1, self.st.T1, self.st.nb * 256 * sizeof(lentry_t))
            if self.st.m > 1:
                memcpy(c.st.Tm, self.st.Tm, self.st.nb * 256 * sizeof(lentry_t))
            else:
                memcpy(c.st.T2, self.st.T2, self.st.nb * 256 * sizeof(lentry2_t))
            c.st.tab_r = self.st.tab_r
            c.st.m = self.st.m
        if self.st.tj_r:
            memcpy(c.st.TJ, self.st.TJ, self.st.nb * 256 * sizeof(uint64_t))
            c.st.tj_r = self.st.tj_r
        return c

    def jumped_copies(self, steps, counts, int r=0):
        """Copies of this core (``copy_at``), copy i with every lane advanced ``steps[i]``
        register steps (jump-ahead) and its draw counter at ``counts[i]``.  Given the draw
        width r (serial rule), the leap tables are built once here and copied to each.  Steps
        that grow by the same amount (evenly spaced cuts) reuse one jump matrix, each copy
        jumped on from the one before (A**k[i] = A**(k[i] - k[i-1]) A**k[i-1])."""
        cdef uint64_t[::1] k = np.array(steps, dtype=np.uint64).reshape(-1)
        cdef uint64_t[::1] cnt = np.array(counts, dtype=np.uint64).reshape(-1)
        cdef uint64_t[::1] v = np.empty(self.st.L, dtype=np.uint64)
        cdef uint64_t R[64]
        cdef uint64_t D[64]
        cdef uint64_t delta, d_have = 0
        cdef bint have_d = False
        cdef Py_ssize_t i
        cdef int64_t j
        if k.shape[0] != cnt.shape[0]:
            raise ValueError("steps and counts must have the same length")
        if 1 <= r <= 64 and self.st.rule == RULE_SERIAL:
            ensure_tables(&self.st, r)
            if self.st.m > 1:
                build_jump(&self.st, r)
        out = []
        for i in range(k.shape[0]):
            with nogil:
                if i > 0 and k[i] >= k[i - 1]:
                    delta = k[i] - k[i - 1]
                    if not have_d or delta != d_have:
                        mat_pow(&self.st, delta, D)
                        d_have = delta
                        have_d = True
                    for j in range(self.st.L):
                        v[j] = mat_apply(D, v[j])
                else:
                    mat_pow(&self.st, k[i], R)
                    for j in range(self.st.L):
                        v[j] = mat_apply(R, self.st.lane[j])
            out.append(self.copy_at(v, cnt[i]))
        return out

    def capsule(self):
        return bitsrc_capsule(&self.src, self)


# -- ideal sources: numpy bit generators ---------------------------------------------------------

cdef uint64_t ideal_next(void* vst, int r) noexcept nogil:
    cdef bitgen_t* bg = <bitgen_t*>vst
    return bg.next_uint64(bg.state) >> (64 - r)


cdef void ideal_fill(void* vst, uint64_t* out, int64_t n, int r) noexcept nogil:
    cdef bitgen_t* bg = <bitgen_t*>vst
    cdef int sh = 64 - r
    cdef int64_t i
    for i in range(n):
        out[i] = bg.next_uint64(bg.state) >> sh


cdef uint64_t word32_next(void* vst, int r) noexcept nogil:
    cdef bitgen_t* bg = <bitgen_t*>vst
    return bg.next_uint32(bg.state) >> (32 - r)


cdef void word32_fill(void* vst, uint64_t* out, int64_t n, int r) noexcept nogil:
    cdef bitgen_t* bg = <bitgen_t*>vst
    cdef int sh = 32 - r
    cdef int64_t i
    for i in range(n):
        out[i] = bg.next_uint32(bg.state) >> sh


# -- MT19937 and Philox stepped in numpy's own state: no call per word --------------------------

cdef extern from *:
    """
    /* numpy's mt19937_state (numpy/random/src/mt19937; philox_state is in bitsrc.pxd); the
       layout is checked against BitGenerator.state before use (numpy_layouts_ok) */
    typedef struct { uint32_t key[624]; int pos; } fxs_mt_state;

    static void fxs_mt_gen(fxs_mt_state* st) {
        /* the twist of all 624 words (mt19937_gen) */
        uint32_t* k = st->key, y;
        int i;
        for (i = 0; i < 624 - 397; i++) {
            y = (k[i] & 0x80000000U) | (k[i + 1] & 0x7fffffffU);
            k[i] = k[i + 397] ^ (y >> 1) ^ ((0U - (y & 1U)) & 0x9908b0dfU);
        }
        for (; i < 623; i++) {
            y = (k[i] & 0x80000000U) | (k[i + 1] & 0x7fffffffU);
            k[i] = k[i - 227] ^ (y >> 1) ^ ((0U - (y & 1U)) & 0x9908b0dfU);
        }
        y = (k[623] & 0x80000000U) | (k[0] & 0x7fffffffU);
        k[623] = k[396] ^ (y >> 1) ^ ((0U - (y & 1U)) & 0x9908b0dfU);
        st->pos = 0;
    }

    static inline void fxs_mt_temper(const uint32_t* __restrict s, uint32_t* __restrict d, int n) {
        for (int j = 0; j < n; j++) {
            uint32_t y = s[j];
            y ^= y >> 11;
            y ^= (y << 7) & 0x9d2c5680U;
            y ^= (y << 15) & 0xefc60000U;
            d[j] = y ^ (y >> 18);
        }
    }

    static void fxs_mt_fill(fxs_mt_state* st, uint64_t* out, int64_t n, int sh) {
        /* n of numpy's 64-bit words (two tempered outputs, the first high) >> sh: the outputs
           are tempered a run at a time into buf (a loop that vectorizes), then paired */
        uint32_t buf[512];
        int64_t i = 0;
        while (i < n) {
            int64_t m = n - i < 256 ? n - i : 256;
            int k = 0;
            while (k < 2 * m) {
                int take;
                if (st->pos >= 624)
                    fxs_mt_gen(st);
                take = 624 - st->pos;
                if (take > 2 * m - k)
                    take = (int)(2 * m - k);
                fxs_mt_temper(st->key + st->pos, buf + k, take);
                st->pos += take;
                k += take;
            }
            for (int64_t j = 0; j < m; j++)
                out[i + j] = (((uint64_t)buf[2 * j] << 32) | buf[2 * j + 1]) >> sh;
            i += m;
        }
    }

    static void fxs_philox_fill(fxs_philox_state* st, uint64_t* out, int64_t n, int sh) {
        /* numpy's philox_next n times: the buffered words first, then whole counter blocks
           (two side by side), the last block generated left in the buffer as numpy leaves it */
        uint64_t c[4], o[8];
        uint64_t k0 = st->key->v[0], k1 = st->key->v[1];
        int64_t i = 0;
        int j, bp = st->buffer_pos, fresh = 0;
        while (i < n && bp < 4)
            out[i++] = st->buffer[bp++] >> sh;
        if (i == n) { st->buffer_pos = bp; return; }
        for (j = 0; j < 4; j++) c[j] = st->ctr->v[j];
        while (n - i >= 8) {
            uint64_t c2[4];
            fxs_ctr_inc(c);
            c2[0] = c[0]; c2[1] = c[1]; c2[2] = c[2]; c2[3] = c[3];
            fxs_ctr_inc(c2);
            fxs_philox_block(c, k0, k1, o);
            fxs_philox_block(c2, k0, k1, o + 4);
            for (j = 0; j < 8; j++) out[i + j] = o[j] >> sh;
            c[0] = c2[0]; c[1] = c2[1]; c[2] = c2[2]; c[3] = c2[3];
            i += 8;
            fresh = 2;
        }
        while (i < n) {
            fxs_ctr_inc(c);
            fxs_philox_block(c, k0, k1, o);
            fresh = 1;
            for (bp = 0; bp < 4 && i < n; bp++)
                out[i++] = o[bp] >> sh;
        }
        if (fresh == 2) bp = 4;
        for (j = 0; j < 4; j++) {
            st->ctr->v[j] = c[j];
            st->buffer[j] = o[(fresh == 2 ? 4 : 0) + j];
        }
        st->buffer_pos = bp;
    }
    """
    ctypedef struct fxs_mt_state:
        uint32_t key[624]
        int pos
    void fxs_mt_fill(fxs_mt_state* st, uint64_t* out, int64_t n, int sh) noexcept nogil
    void fxs_philox_fill(fxs_philox_state* st, uint64_t* out, int64_t n, int sh) noexcept nogil


cdef void mt_fill(void* vst, uint64_t* out, int64_t n, int r) noexcept nogil:
    fxs_mt_fill(<fxs_mt_state*>(<bitgen_t*>vst).state, out, n, 64 - r)


cdef uint64_t mt_next(void* vst, int r) noexcept nogil:
    return one_draw(mt_fill, vst, r)


cdef void core_philox_fill(void* vst, uint64_t* out, int64_t n, int r) noexcept nogil:
    fxs_philox_fill(<fxs_philox_state*>vst, out, n, 64 - r)


cdef uint64_t core_philox_next(void* vst, int r) noexcept nogil:
    return one_draw(core_philox_fill, vst, r)


cdef inline void* numpy_state(bg) except NULL:
    return (<bitgen_t*>PyCapsule_GetPointer(bg.capsule, "BitGenerator")).state


cdef bint mt_layout_ok():
    cdef fxs_mt_state* m
    cdef int i
    bg = np.random.MT19937(20261206)
    bg.random_raw(5)
    st = bg.state["state"]
    m = <fxs_mt_state*>numpy_state(bg)
    if m.pos != st["pos"]:
        return False
    for i in range(624):
        if m.key[i] != st["key"][i]:
            return False
    return True


cdef bint philox_layout_ok():
    # the plain fields first (distinct probe values), the pointed-to counter and key only then
    cdef fxs_philox_state* p
    cdef int i
    bg = np.random.Philox(20261206)
    st = bg.state
    st["state"]["counter"] = np.array([11, 12, 13, 14], dtype=np.uint64)
    st["state"]["key"] = np.array([21, 22], dtype=np.uint64)
    st["buffer"] = np.array([31, 32, 33, 34], dtype=np.uint64)
    st["buffer_pos"] = 2
    st["has_uint32"] = 1
    st["uinteger"] = 41
    bg.state = st
    p = <fxs_philox_state*>numpy_state(bg)
    if p.buffer_pos != 2 or p.has_uint32 != 1 or p.uinteger != 41:
        return False
    for i in range(4):
        if p.buffer[i] != 31 + i:
            return False
    if p.ctr == NULL or p.key == NULL:
        return False
    return (p.ctr.v[0] == 11 and p.ctr.v[1] == 12 and p.ctr.v[2] == 13 and p.ctr.v[3] == 14
            and p.key.v[0] == 21 and p.key.v[1] == 22)


_LAYOUTS = {}


def inline_kind(bit_generator):
    """"MT19937" or "Philox" when ``bit_generator`` is that numpy class and its C state has
    the layout the inline fills step (checked once per class against ``.state``); else None."""
    name = type(bit_generator).__name__
    if type(bit_generator) is not getattr(np.random, name, None) or name not in ("MT19937", "Philox"):
        return None
    if name not in _LAYOUTS:
        _LAYOUTS[name] = bool(mt_layout_ok() if name == "MT19937" else philox_layout_ok())
    return name if _LAYOUTS[name] else None


cdef class IdealCore:
    """A numpy BitGenerator behind the bitsrc_t interface: one 64-bit word w per draw,
    R = w >> (64 - r) (spec §5.2); with ``width=32`` one 32-bit word (``next_uint32``) per draw,
    R = w >> (32 - r) (cuRAND's Philox4x32-10 words, fxsim.vendor_sources).  numpy's MT19937
    and Philox are stepped inline in their own state (``inline_kind``): the same words, no
    call per word."""
    cdef bitsrc_t src
    cdef readonly object bit_generator
    cdef object _np_capsule

    def __cinit__(self, bit_generator, int width=64):
        cap = bit_generator.capsule
        cdef bitgen_t* bg = <bitgen_t*>PyCapsule_GetPointer(cap, "BitGenerator")
        if width != 32 and width != 64:
            raise ValueError(f"width must be 32 or 64, got {width}")
        self.bit_generator = bit_generator
        self._np_capsule = cap
        self.src.state = <void*>bg
        self.src.next = &ideal_next if width == 64 else &word32_next
        self.src.fill = &ideal_fill if width == 64 else &word32_fill
        self.src.max_r = width
        kind = inline_kind(bit_generator) if width == 64 else None
        if kind == "MT19937":
            self.src.next = &mt_next
            self.src.fill = &mt_fill
        elif kind == "Philox":
            # numpy's own philox_state, stepped where it lies (a fused kernel may step it too)
            self.src.state = bg.state
            self.src.next = &core_philox_next
            self.src.fill = &core_philox_fill
            self.src.kind = BITSRC_PHILOX

    def capsule(self):
        return bitsrc_capsule(&self.src, self)


cdef class PhiloxCore:
    """numpy's Philox (4x64-10) in a private state, ``skip`` words past the state given by
    the fields of ``Philox.state`` (counter and key words, the buffered block, buffer_pos),
    stepped inline: the same words as numpy's ``next_uint64`` from there.  For the private
    copies of a long cast: no generator is built (numpy would seed a new one from the OS).
    ``counter``, ``buffer``, ``buffer_pos`` and ``state`` read the state back, as numpy would
    hold it (``has_uint32`` and ``uinteger``, numpy's 32-bit cache, are carried unchanged)."""
    cdef bitsrc_t src
    cdef fxs_philox_state st
    cdef fxs_ctr4 ctr
    cdef fxs_key2 key

    def __cinit__(self, counter, key, buffer, int buffer_pos, skip=0, int has_uint32=0,
                  uint32_t uinteger=0):
        cdef int i
        if len(counter) != 4 or len(key) != 2 or len(buffer) != 4 or not 0 <= buffer_pos <= 4 \
                or skip < 0:
            raise ValueError("PhiloxCore: need 4 counter words, 2 key words, 4 buffer words, "
                             "0 <= buffer_pos <= 4 and skip >= 0")
        ctr = sum(int(w) << (64 * i) for i, w in enumerate(counter))
        bp, fresh = buffer_pos, False
        if skip > 4 - bp:
            # numpy hands out a block's 4 words (buffer_pos taken), then steps the counter and
            # fills the buffer: word skip - 1 lies in the block counter + blocks + 1
            blocks, within = divmod(skip - (4 - bp) - 1, 4)
            ctr = (ctr + blocks + 1) % (1 << 256)
            bp, fresh = within + 1, True
        else:
            bp += skip
        for i in range(4):
            self.ctr.v[i] = (ctr >> (64 * i)) & 0xFFFFFFFFFFFFFFFF
        self.key.v[0], self.key.v[1] = int(key[0]), int(key[1])
        self.st.ctr, self.st.key = &self.ctr, &self.key
        if fresh:
            fxs_philox_block(self.ctr.v, self.key.v[0], self.key.v[1], self.st.buffer)
        else:
            for i in range(4):
                self.st.buffer[i] = int(buffer[i])
        self.st.buffer_pos = bp
        self.st.has_uint32, self.st.uinteger = has_uint32, uinteger     # numpy's, carried along
        self.src.state = <void*>&self.st
        self.src.next = &core_philox_next
        self.src.fill = &core_philox_fill
        self.src.max_r = 64
        self.src.kind = BITSRC_PHILOX

    @property
    def capsule(self):
        return bitsrc_capsule(&self.src, self)

    @property
    def counter(self):
        return [int(self.ctr.v[i]) for i in range(4)]

    @property
    def buffer(self):
        return [int(self.st.buffer[i]) for i in range(4)]

    @property
    def buffer_pos(self):
        return self.st.buffer_pos

    @property
    def state(self):
        """As ``Ideal.state`` of a numpy Philox at this position."""
        return {"kind": "ideal", "bitgen": "Philox", "state": {
            "bit_generator": "Philox",
            "state": {"counter": self.counter, "key": [int(self.key.v[0]), int(self.key.v[1])]},
            "buffer": self.buffer, "buffer_pos": self.st.buffer_pos,
            "has_uint32": self.st.has_uint32, "uinteger": int(self.st.uinteger)}}

    def draws(self, Py_ssize_t n, int r):
        """n draws of 1 <= r <= 64 bits (w >> (64 - r), as Ideal)."""
        return core_draws(&self.src, n, r, "PhiloxCore")


cdef core_draws(bitsrc_t* src, Py_ssize_t n, int r, str name):
    """n draws of 1 <= r <= 64 bits from a private core's fill."""
    if not 1 <= r <= 64 or n < 0:
        raise ValueError(f"{name}.draws: need n >= 0 and 1 <= r <= 64")
    out = np.empty(n, dtype=np.uint64)
    cdef uint64_t[::1] o = out
    if n:
        with nogil:
            src.fill(src.state, &o[0], n, r)
    return out


# -- PCG64 stepped in place: numpy's generator without a call per word ----------------------------

cdef extern from *:
    """
    static void fxs_pcg64_fill(fxs_u128* s, fxs_u128 inc, uint64_t* out, int64_t n, int sh) {
        /* n words >> sh in stream order from four lanes of the same stream: lane k holds the
           state k + 1 steps ahead and steps 4 at a time (x -> M^4 x + inc (M^3 + M^2 + M + 1)),
           so the four 128-bit multiply chains run side by side instead of one after another */
        fxs_u128 st = *s, M = FXS_PCG_MULT;
        int64_t i = 0;
        if (n >= 8) {
            fxs_u128 M2 = M * M, M4 = M2 * M2, C4 = inc * (M2 * M + M2 + M + 1);
            fxs_u128 x0 = st * M + inc, x1 = x0 * M + inc, x2 = x1 * M + inc, x3 = x2 * M + inc;
            for (;;) {
                out[i] = fxs_xsl_rr(x0) >> sh;
                out[i + 1] = fxs_xsl_rr(x1) >> sh;
                out[i + 2] = fxs_xsl_rr(x2) >> sh;
                out[i + 3] = fxs_xsl_rr(x3) >> sh;
                st = x3;
                i += 4;
                if (i + 4 > n)
                    break;
                x0 = x0 * M4 + C4; x1 = x1 * M4 + C4; x2 = x2 * M4 + C4; x3 = x3 * M4 + C4;
            }
        }
        for (; i < n; i++)
            out[i] = fxs_pcg64_next(&st, inc) >> sh;
        *s = st;
    }
    """
    void fxs_pcg64_fill(fxs_u128* s, fxs_u128 inc, uint64_t* out, int64_t n, int sh) noexcept nogil


cdef extern from *:
    """
    static void fxs_sfc64_fill(uint64_t* s, uint64_t* out, int64_t n, int sh) {
        /* numpy's SFC64 (sfc64.h) stepped inline; s: its state words a, b, c and counter w */
        uint64_t a = s[0], b = s[1], c = s[2], w = s[3];
        for (int64_t i = 0; i < n; i++) {
            uint64_t tmp = a + b + w++;
            a = b ^ (b >> 11);
            b = c + (c << 3);
            c = ((c << 24) | (c >> 40)) + tmp;
            out[i] = tmp >> sh;
        }
        s[0] = a; s[1] = b; s[2] = c; s[3] = w;
    }
    """
    void fxs_sfc64_fill(uint64_t* s, uint64_t* out, int64_t n, int sh) noexcept nogil


def sfc64_fill(uint64_t[::1] state, uint64_t[::1] out, int r):
    """out[i] = the next words of numpy's SFC64 whose state words (a, b, c, counter) are
    ``state`` (moved past them in place), >> (64 - r), 1 <= r <= 64."""
    if state.shape[0] != 4 or not 1 <= r <= 64:
        raise ValueError("sfc64_fill: state must hold 4 words and 1 <= r <= 64")
    if out.shape[0]:
        with nogil:
            fxs_sfc64_fill(&state[0], &out[0], out.shape[0], 64 - r)


cdef uint64_t pcg64_next(void* vst, int r) noexcept nogil:
    cdef pcg64_st* st = <pcg64_st*>vst
    return fxs_pcg64_next(&st.state, st.inc) >> (64 - r)


cdef void pcg64_fill(void* vst, uint64_t* out, int64_t n, int r) noexcept nogil:
    cdef pcg64_st* st = <pcg64_st*>vst
    fxs_pcg64_fill(&st.state, st.inc, out, n, 64 - r)


cdef class PCG64Core:
    """numpy's PCG64 stepped inline (no function pointer per word), from the ``state`` and
    ``inc`` of ``PCG64.state["state"]``: the same words as numpy's ``next_uint64``.  For the
    private copies of a long cast."""
    cdef bitsrc_t src
    cdef pcg64_st st

    def __cinit__(self, state, inc):
        if not (0 <= state < 1 << 128 and 0 <= inc < 1 << 128):
            raise ValueError("PCG64Core: state and inc must be 128-bit unsigned integers")
        self.st.state = ((<fxs_u128><uint64_t>(state >> 64)) << 64) | <uint64_t>(state & 0xFFFFFFFFFFFFFFFF)
        self.st.inc = ((<fxs_u128><uint64_t>(inc >> 64)) << 64) | <uint64_t>(inc & 0xFFFFFFFFFFFFFFFF)
        self.src.state = <void*>&self.st
        self.src.next = &pcg64_next
        self.src.fill = &pcg64_fill
        self.src.max_r = 64
        self.src.kind = BITSRC_PCG64

    @property
    def capsule(self):
        return bitsrc_capsule(&self.src, self)

    def draws(self, Py_ssize_t n, int r):
        """n draws of 1 <= r <= 64 bits (w >> (64 - r), as Ideal)."""
        return core_draws(&self.src, n, r, "PCG64Core")
