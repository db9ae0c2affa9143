# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, overflowcheck=False
"""nogil MAC kernels of the fxsim datapath (spec §4): ``dot``, ``matvec`` and ``matmul``.

Three kernels, picked by ``fxsim.ops._mac``:
- ``mac_round``: the MAC array for an accumulator cast that rounds (deterministic or
  stochastic), exact products, saturate or wrap.  Output elements are handed out in parts
  (ranges of elements in C order); a part walks its elements in register tiles of up to TJ
  columns of one row, k ascending, in int32 or int64 lanes.  A stochastic part fills the draws
  of one tile from its own stream right before using them; a plain-SR tile in int32 lanes on an
  inline PCG64 part steps one PCG64 lane per column in the rounding loop instead (no buffer).
  Tiles of int32 words in int32 lanes (deterministic or plain SR) run 4-column register strips
  (det_tile, sr_tile) with the accumulators and counts in registers.
- ``matmul_acc_lanes``: the same when the accumulator cast never rounds.
- ``dot_generic``: everything else (a product cast, overflow='error', words or intermediates
  beyond 62 bits), exactly, in 128-bit scalars.
"""
cimport cython
from cython.parallel cimport prange
from libc.stdlib cimport malloc, free
from libc.stdint cimport int8_t, int32_t, int64_t, uint32_t, uint64_t
from fxprims cimport *
from bitsrc cimport bitsrc_t, bitsrc_from_capsule, BITSRC_PCG64, pcg64_st

ctypedef fused lane_t:
    int32_t
    int64_t

ctypedef fused word_t:     # the words a dot product reads as they are stored
    int8_t
    int16_t
    int32_t

cdef enum:
    TJ = 64       # output columns per register tile of the MAC array
    TILE_DRAWS = 16384   # draws held per tile (a tile of one element walks k in such chunks)


cdef inline counts_t no_counts() noexcept nogil:
    cdef counts_t c
    c.n = 0; c.inexact = 0; c.up = 0; c.ovf = 0; c.draws = 0
    return c


cdef inline i128 load(const int64_t* p, Py_ssize_t i, bint u64) noexcept nogil:
    """A raw word; u64 marks an int64 container that really holds uint64 words."""
    cdef i128 v = <i128>p[i]
    if u64 and v < 0:
        v += (<i128>1) << 64
    return v


def dot_generic(const int64_t[:, ::1] A, const int64_t[:, ::1] B, int64_t[:, ::1] out,
                bint ua, bint ub, tuple prod, tuple acc, tuple outc,
                const uint64_t[::1] draws, bint use_draws, const int8_t[::1] vsign, bint use_v,
                int64_t[:, :, ::1] cnt, int32_t[::1] errs, int64_t[::1] errpos, int nthreads):
    """out[i, j] = dot(A[i, :], B[:, j]) in the spec §4 order, one row per task.

    prod/acc/outc = (CastSpec or None when absent, shift parameters) of the three casts:
      prod: (spec, s_p)            p = cast(a*b * 2**-s_p)
      acc:  (spec, sa, sp, s_acc)  acc = cast(((acc << sa) + (p << sp)) * 2**-s_acc);
            absent: acc += p << sp (exact)
      outc: (spec, s_o)            y = cast(acc * 2**-s_o)
    Counters are kept per row and per cast role (0 prod, 1 acc, 2 out); cnt[i, 3, 3] counts
    the output elements of row i whose dot raised an error in some cast.
    """
    cdef Py_ssize_t M = A.shape[0], K = A.shape[1], N = B.shape[1]
    cdef bint has_p = prod[0] is not None, has_a = acc[0] is not None, has_o = outc[0] is not None
    cdef cspec csp, csa, cso
    cdef int s_p = 0, sa = 0, sp = 0, s_acc = 0, s_o = 0
    if has_p:
        csp = (<CastSpec?>prod[0]).cs; s_p = prod[1]
    if has_a:
        csa = (<CastSpec?>acc[0]).cs; s_acc = acc[3]
    sa = acc[1]; sp = acc[2]
    if has_o:
        cso = (<CastSpec?>outc[0]).cs; s_o = outc[1]
    cdef bint dp = has_p and csp.mode >= RM_STOCHASTIC
    cdef bint dacc = has_a and csa.mode >= RM_STOCHASTIC
    cdef bint do = has_o and cso.mode >= RM_STOCHASTIC
    cdef Py_ssize_t per_el = K * dp + K * dacc + do
    cdef Py_ssize_t i, j, k, d
    cdef i128 p, s
    cdef counts_t cp, ca, co
    cdef int err, vs
    cdef int64_t nbad
    cdef const int64_t* pa
    cdef const int64_t* pb = &B[0, 0] if K * N > 0 else NULL
    for i in prange(M, nogil=True, num_threads=nthreads, schedule="dynamic"):
        cp = no_counts()   # assigned whole, so OpenMP makes them thread-private
        ca = no_counts()
        co = no_counts()
        err = ERR_NONE
        nbad = 0
        pa = &A[i, 0] if K > 0 else NULL
        for j in range(N):
            d = (i * N + j) * per_el
            vs = vsign[i * N + j] if use_v else 0
            s = 0
            for k in range(K):
                p = load(pa, k, ua) * load(pb, k * N + j, ub)
                if has_p:
                    p = cast_value(&csp, p, s_p, draws[d] if dp else 0, vs, &cp, &err)
                    d = d + dp
                if has_a:
                    s = cast_value(&csa, (s << sa) + (p << sp), s_acc,
                                   draws[d] if dacc else 0, vs, &ca, &err)
                    d = d + dacc
                else:
                    s = s + (p << sp)
            if has_o:
                s = cast_value(&cso, s, s_o, draws[d] if do else 0, vs, &co, &err)
            out[i, j] = <int64_t>s
            if err != ERR_NONE:
                if errs[i] == ERR_NONE:
                    errs[i] = err
                    errpos[i] = i * N + j
                err = ERR_NONE
                nbad = nbad + 1      # not +=: that would make it a prange reduction
        cnt[i, 3, 3] += nbad    # output elements with an error (spec 3 counts elements)
        cp.draws = N * K * dp
        ca.draws = N * K * dacc
        co.draws = N * do
        cnt[i, 0, 0] += cp.n; cnt[i, 0, 1] += cp.inexact; cnt[i, 0, 2] += cp.up
        cnt[i, 0, 3] += cp.ovf; cnt[i, 0, 4] += cp.draws
        cnt[i, 1, 0] += ca.n; cnt[i, 1, 1] += ca.inexact; cnt[i, 1, 2] += ca.up
        cnt[i, 1, 3] += ca.ovf; cnt[i, 1, 4] += ca.draws
        cnt[i, 2, 0] += co.n; cnt[i, 2, 1] += co.inexact; cnt[i, 2, 2] += co.up
        cnt[i, 2, 3] += co.ovf; cnt[i, 2, 4] += co.draws


cdef inline lane_t lane_mul(lane_t a, lane_t b, bint narrow) noexcept nogil:
    """a * b; narrow: both fit 32 bits, so int64 lanes take AVX2's 32x32 -> 64-bit multiply
    instead of a 64-bit product built from three."""
    if narrow:
        return <lane_t>(<int64_t>(<int32_t>a) * <int64_t>(<int32_t>b))
    return a * b


cdef inline int64_t mac_tile(const lane_t* arow, const lane_t* B, lane_t* orow, Py_ssize_t K,
                             Py_ssize_t N, Py_ssize_t jn, lane_t lo, lane_t hi, int wrap,
                             bint is_signed, int sh, lane_t mask, bint narrow,
                             int64_t bmax) noexcept nogil:
    """orow[0:jn] = the K-step MAC of arow with columns B[:, 0:jn] (row stride N), overflow
    handled after every step; the accumulators stay in a small local tile (registers).
    bmax > 0 bounds |B|: a chunk of steps that provably cannot leave [lo, hi] (from the
    accumulators' range and sum |a| * bmax) runs without the per-step overflow check."""
    cdef lane_t acc[TJ]
    cdef lane_t aik, x, amin, amax
    cdef const lane_t* brow
    cdef Py_ssize_t j, k, t, ke
    cdef int64_t nov = 0, room
    cdef uint64_t sa
    cdef bint fast
    for j in range(jn):
        acc[j] = 0
    k = 0
    while k < K:
        ke = min(K, k + 64)
        fast = 0
        if bmax > 0:
            amin = acc[0]
            amax = acc[0]
            for j in range(jn):
                amin = min(amin, acc[j])
                amax = max(amax, acc[j])
            room = min(<int64_t>hi - <int64_t>amax, <int64_t>amin - <int64_t>lo) // bmax
            sa = 0
            for t in range(k, ke):
                sa += <uint64_t>(arow[t] if arow[t] >= 0 else -arow[t])
            fast = room >= 0 and sa <= <uint64_t>room
        if fast:
            for t in range(k, ke):
                aik = arow[t]
                brow = B + t * N
                for j in range(jn):
                    acc[j] = acc[j] + lane_mul(aik, brow[j], narrow)
        else:
            for t in range(k, ke):
                aik = arow[t]
                brow = B + t * N
                if wrap and is_signed:
                    for j in range(jn):
                        x = acc[j] + lane_mul(aik, brow[j], narrow)
                        nov += (x > hi) | (x < lo)
                        acc[j] = (<lane_t>(<uint64_t>x << sh)) >> sh   # low wl bits, sign-extended
                elif wrap:
                    for j in range(jn):
                        x = acc[j] + lane_mul(aik, brow[j], narrow)
                        nov += (x > hi) | (x < lo)
                        acc[j] = x & mask
                else:
                    for j in range(jn):
                        x = acc[j] + lane_mul(aik, brow[j], narrow)
                        nov += (x > hi) | (x < lo)
                        acc[j] = lo if x < lo else (hi if x > hi else x)
        k = ke
    for j in range(jn):
        orow[j] = acc[j]
    return nov


def matmul_acc_lanes(const lane_t[:, ::1] A, const lane_t[:, ::1] B, lane_t[:, ::1] out,
                     lane_t lo, lane_t hi, int wrap, int wl, bint is_signed, int64_t[::1] novf,
                     int nthreads, bint narrow=False, int64_t bmax=0):
    """Accumulate out[i, :] += A[i, k] * B[k, :] for k ascending with overflow handled after
    every step (saturate to [lo, hi], or wrap to wl bits): a MAC array whose accumulator cast
    never rounds (A is pre-scaled so that products are already aligned to the accumulator).
    Vectorized across output columns in register tiles; the caller proves |acc + a*b| fits a
    lane, and, with narrow, that every word of A and B fits 32 bits."""
    cdef Py_ssize_t M = A.shape[0], K = A.shape[1], N = B.shape[1]
    cdef Py_ssize_t i, j0
    cdef int64_t nov
    cdef int sh = sizeof(lane_t) * 8 - wl
    cdef lane_t mask = <lane_t>((<uint64_t>1 << wl) - 1) if wl < 64 else -1
    if M == 0 or N == 0:
        return
    for i in prange(M, nogil=True, num_threads=nthreads, schedule="dynamic"):
        nov = 0
        j0 = 0
        while j0 < N:
            nov = nov + mac_tile(&A[i, 0] if K > 0 else NULL, &B[0, j0], &out[i, j0], K, N,
                                 min(<Py_ssize_t>TJ, N - j0), lo, hi, wrap, is_signed, sh, mask,
                                 narrow, bmax)
            j0 = j0 + TJ
        novf[i] = nov


# -- the MAC array with a rounding accumulator cast -------------------------------------------

ctypedef struct macspec:
    int sa             # acc' = cast(((acc << sa) + a*b) * 2**-sa), sa >= 1 (products at fl_acc + sa)
    int64_t base, kneg, kodd   # deterministic: q' = (v + base + kneg [q < 0] + kodd [q odd]) >> sa
    int jam            # deterministic 'jam': q' = q | inexact
    int64_t lo, hi     # kept range
    int wrap           # overflow='wrap'
    int64_t wmask      # 2**wl - 1
    int sto            # a stochastic accumulator cast
    int plain          # ... with rule 'trunc' and no eps bias: up = (D + R) >> r
    int r
    int rs, ls         # the SR addend: I = (rem >> rs) << ls, the top r (or r+1) discarded bits
    int64_t fmask, hb  # rule 'rne': I += 1 when frac + (I & 1) > hb, frac = rem & fmask
    int c2, c1         # A = (I << c2) + c1
    int64_t rx         # rule 'ge': R is used as its complement R ^ (2**r - 1)
    int64_t E2, top    # 2 floor(eps 2**r) and 2**(r+1)
    int kt, kv         # eps bias sign: kt (1 - 2 [q < 0]) - kv sign(v)


cdef void det_offsets(int mode, int sa, macspec* m):
    """A deterministic rounding by sa bits as one addition before the shift (spec §2 table):
    the offset is base, plus kneg when t < 0, plus kodd when q is odd; 'jam' sets bit 0."""
    cdef int64_t half = (<int64_t>1) << (sa - 1), mask = ((<int64_t>1) << sa) - 1
    m.base, m.kneg, m.kodd, m.jam = 0, 0, 0, 0
    if mode == RM_CEIL:
        m.base = mask
    elif mode == RM_TOWARD_ZERO:
        m.kneg = mask
    elif mode == RM_AWAY_FROM_ZERO:
        m.base, m.kneg = mask, -mask
    elif mode == RM_NEAREST_UP:
        m.base = half
    elif mode == RM_NEAREST_DOWN:
        m.base = half - 1
    elif mode == RM_NEAREST_ZERO:
        m.base, m.kneg = half - 1, 1
    elif mode == RM_NEAREST_AWAY:
        m.base, m.kneg = half, -1
    elif mode == RM_NEAREST_EVEN:
        m.base, m.kodd = half - 1, 1
    elif mode == RM_NEAREST_ODD:
        m.base, m.kodd = half, -1
    elif mode == RM_JAM:
        m.jam = 1


cdef macspec make_macspec(CastSpec spec, int sa, int wl):
    """The MAC array's form of the accumulator cast (spec §2 few-bit rules as shifts)."""
    cdef cspec cs = spec.cs
    cdef macspec m
    cdef int r = cs.r, rb
    m.sa = sa
    det_offsets(cs.mode, sa, &m)
    m.lo = cs.lo64
    m.hi = cs.hi64
    m.wrap = cs.ovf == OV_WRAP
    m.wmask = ((<int64_t>1) << wl) - 1
    m.sto = cs.mode >= RM_STOCHASTIC
    m.plain = m.sto and cs.rule == SR_TRUNC and cs.E == 0
    m.r = r
    rb = r + 1 if cs.rule == SR_HALF else r     # bits of I
    m.rs = sa - rb if sa > rb else 0
    m.ls = rb - sa if rb > sa else 0
    m.c2 = 0 if cs.rule == SR_HALF else 1
    m.c1 = 1 if cs.rule == SR_HALF else (2 if cs.rule == SR_GE else 0)
    m.rx = (((<int64_t>1) << r) - 1) if (cs.rule == SR_GE and r < 63) else 0
    m.fmask = ((<int64_t>1) << m.rs) - 1
    # never reached by frac <= fmask unless the rule rounds the discarded part to r bits
    m.hb = ((<int64_t>1) << (m.rs - 1)) if (cs.rule == SR_RNE and m.rs > 0) else m.fmask + 1
    m.E2 = 2 * <int64_t>cs.E
    m.top = (<int64_t>1) << (r + 1) if m.sto else 0
    m.kt = cs.mode == RM_STOCHASTIC_EPS
    m.kv = cs.mode == RM_SIGNED_STOCHASTIC_EPS
    return m


cdef inline void tile_round(const word_t* arow, const word_t* B, Py_ssize_t N,
                            Py_ssize_t k0, Py_ssize_t k1, Py_ssize_t jn, const macspec* m,
                            lane_t* acc, lane_t* cin, lane_t* cup, lane_t* cov,
                            const lane_t* R, const lane_t* bv) noexcept nogil:
    """Steps k0..k1-1 of the MAC of arow with the jn columns at B (row stride N): acc[j] is
    cast after every step (round, then saturate or wrap); cin/cup/cov count per column the
    inexact, rounded-up and overflowed steps.  Stochastic: R[(k - k0) * jn + j] is the draw of
    step k of column j and bv[j] the bias -kv sign(v) 2E of column j."""
    cdef Py_ssize_t j, k
    cdef lane_t a, v, q, rem, y, up, inexact, I, frac, A, neg, wrap = m.wrap
    cdef lane_t sa = m.sa, mask = ((<lane_t>1) << m.sa) - 1
    cdef lane_t base = <lane_t>m.base, kneg = <lane_t>m.kneg, kodd = <lane_t>m.kodd, jam = m.jam
    cdef lane_t lo = <lane_t>m.lo, hi = <lane_t>m.hi
    cdef lane_t rs = m.rs, ls = m.ls, fmask = <lane_t>m.fmask, hb = <lane_t>m.hb
    cdef lane_t c2 = m.c2, c1 = m.c1, top = <lane_t>m.top, ktE2 = <lane_t>(m.kt * m.E2)
    cdef lane_t rx = <lane_t>m.rx
    cdef lane_t wmask = <lane_t>m.wmask
    cdef int sto = m.sto, plain = m.plain
    cdef lane_t r = m.r
    cdef const word_t* brow
    cdef const lane_t* Rk
    # three forms of one step (plain SR, any SR, deterministic), so that each j loop is
    # branch-free and vectorizes; wrap keeps the low wl bits as ((y - lo) & (2**wl - 1)) + lo
    for k in range(k0, k1):
        a = arow[k]
        brow = B + k * N
        Rk = R + (k - k0) * jn
        if plain:
            # D + R < 2**(r+1), and D = 0 when the value is exact: the carry is bit r
            for j in range(jn):
                v = (acc[j] << sa) + a * <lane_t>brow[j]
                rem = v & mask
                up = (((rem >> rs) << ls) + Rk[j]) >> r
                y = (v >> sa) + up
                cin[j] += rem != 0
                cup[j] += up
                cov[j] += (y < lo) | (y > hi)
                acc[j] = (((y - lo) & wmask) + lo) if wrap else (lo if y < lo else (hi if y > hi else y))
        elif sto:
            for j in range(jn):
                v = (acc[j] << sa) + a * <lane_t>brow[j]
                q = v >> sa
                rem = v & mask
                inexact = rem != 0
                I = (rem >> rs) << ls
                frac = rem & fmask
                I = I + (frac + (I & 1) > hb)     # rne: frac > hb, or frac == hb and I odd
                neg = -(<lane_t>(q < 0))
                A = (I << c2) + c1 + (ktE2 ^ neg) - neg + bv[j]      # +-kt 2E by the sign of t
                A = 0 if A < 0 else (top if A > top else A)
                up = inexact & (A + 2 * (Rk[j] ^ rx) >= top)
                y = q + up
                cin[j] += inexact
                cup[j] += up
                cov[j] += (y < lo) | (y > hi)
                acc[j] = (((y - lo) & wmask) + lo) if wrap else (lo if y < lo else (hi if y > hi else y))
        else:
            for j in range(jn):
                v = (acc[j] << sa) + a * <lane_t>brow[j]
                q = v >> sa
                inexact = (v & mask) != 0
                y = ((v + base + (kneg & -(<lane_t>(q < 0))) + (kodd & -(q & 1))) >> sa) | (jam & inexact)
                cin[j] += inexact
                cup[j] += y - q
                cov[j] += (y < lo) | (y > hi)
                acc[j] = (((y - lo) & wmask) + lo) if wrap else (lo if y < lo else (hi if y > hi else y))


cdef extern from *:
    long expect "__builtin_expect" (long, long) noexcept nogil   # lays the rare branch apart


cdef enum:
    CHAIN = 256   # steps the one-element MAC prepares at a time


cdef inline void chain_steps(const lane_t* c0, const lane_t* c1, const lane_t* x,
                             Py_ssize_t n, int kind, int wrap, int64_t lo, int64_t hi,
                             int64_t wmask, int64_t* st) noexcept nogil:
    """The serial part of n steps of one MAC element: acc' = acc + c, then saturate or wrap,
    where c is c0[k], plus c1[k] when acc is odd (kind 1) or acc < x[k] (kind 2).
    st = (acc, sum of the c1 taken, overflowed).  The chain is one addition: the rare cases
    (a step whose rounding depends on acc, an overflow) are branches the CPU predicts."""
    cdef int64_t a = st[0], cs = st[1], ov = st[2], y, cp, d
    cdef uint64_t span = <uint64_t>(hi - lo)
    cdef Py_ssize_t k
    for k in range(n):
        cp = c0[k]
        if kind != 0:
            d = c1[k]
            if expect(d != 0, 0):
                d = d & (-(a & 1) if kind == 1 else (a - x[k]) >> 63)
                cp = cp + d
                cs += d
        y = a + cp
        if expect(<uint64_t>(y - lo) > span, 0):
            ov += 1
            if wrap:
                y = ((y - lo) & wmask) + lo
            else:
                y = lo if y < lo else hi
        a = y
    st[0] = a
    st[1] = cs
    st[2] = ov


cdef inline void chain_prep(const word_t* arow, const word_t* bcol, Py_ssize_t N,
                            Py_ssize_t k0, Py_ssize_t n, const macspec* m, const uint64_t* R,
                            lane_t bv, int form, lane_t* c0, lane_t* c1, lane_t* x,
                            int64_t* tot) noexcept nogil:
    """What n steps of one MAC element from step k0 need apart from the accumulator: with
    v = (acc << sa) + p, q = v >> sa = acc + (p >> sa), and the discarded bits are those of p.
    u0/u1: rounded up when q >= 0 / q < 0 (form 1: SR with an eps bias by the sign of q;
    form 4: a sign-dependent deterministic mode), or when q is even / odd (forms 2, 3: jam and
    the parity modes), taken for the parity of acc; c0 = (p >> sa) + u0, c1 = u1 - u0.
    Form 0 (plain SR) and 5 (the other deterministic modes) do not depend on q.
    tot = (inexact steps, sum of u0)."""
    cdef lane_t p, ph, rem, u0, u1, I, frac, Ab, A0, A1, Rx, nin = 0, su0 = 0
    cdef lane_t sa = m.sa, mask = ((<lane_t>1) << m.sa) - 1, top = <lane_t>m.top
    cdef lane_t ktE2 = <lane_t>(m.kt * m.E2), base = <lane_t>m.base
    cdef lane_t off1 = <lane_t>(m.base + m.kneg + m.kodd)
    cdef lane_t rs = m.rs, ls = m.ls, r = m.r, fmask = <lane_t>m.fmask, hb = <lane_t>m.hb
    cdef lane_t rx = <lane_t>m.rx, cb = m.c1 + bv, c2 = m.c2
    cdef Py_ssize_t j
    for j in range(n):
        p = <lane_t>arow[k0 + j] * <lane_t>bcol[(k0 + j) * N]
        ph = p >> sa
        rem = p & mask
        nin += rem != 0
        if form == 0:
            u0 = (((rem >> rs) << ls) + <lane_t>R[j]) >> r
            su0 += u0
            c0[j] = ph + u0
        elif form == 1:
            I = (rem >> rs) << ls
            frac = rem & fmask
            I = I + (frac + (I & 1) > hb)
            Ab = (I << c2) + cb
            A0 = Ab + ktE2
            A1 = Ab - ktE2
            A0 = 0 if A0 < 0 else (top if A0 > top else A0)
            A1 = 0 if A1 < 0 else (top if A1 > top else A1)
            Rx = 2 * (<lane_t>R[j] ^ rx)
            u0 = (rem != 0) & (A0 + Rx >= top)
            u1 = (rem != 0) & (A1 + Rx >= top)
            su0 += u0
            c0[j] = ph + u0
            c1[j] = u1 - u0
            x[j] = -ph
        elif form == 4:
            u0 = (rem + base) >> sa
            su0 += u0
            c0[j] = ph + u0
            c1[j] = ((rem + off1) >> sa) - u0
            x[j] = -ph
        elif form == 5:
            u0 = (rem + base) >> sa
            su0 += u0
            c0[j] = ph + u0
        else:
            if form == 2:
                u0 = rem != 0
                u1 = 0
            else:
                u0 = (rem + base) >> sa
                u1 = (rem + off1) >> sa
            # q even when acc has the parity of ph
            if ph & 1:
                u0, u1 = u1, u0
            su0 += u0
            c0[j] = ph + u0
            c1[j] = u1 - u0
    tot[0] += nin
    tot[1] += su0


cdef inline void one_round(const word_t* arow, const word_t* bcol, Py_ssize_t N,
                           Py_ssize_t k0, Py_ssize_t k1, const macspec* m, lane_t* acc,
                           lane_t* cin, lane_t* cup, lane_t* cov, const uint64_t* R,
                           lane_t bv) noexcept nogil:
    """tile_round for a tile of one column (a dot product): a serial chain, so all that does
    not depend on the accumulator is computed first (chain_prep), a chunk of steps at a time,
    and the chain (chain_steps) keeps only an addition, a select and the overflow."""
    cdef lane_t c0[CHAIN]
    cdef lane_t c1[CHAIN]
    cdef lane_t x[CHAIN]
    cdef int64_t st[3]
    cdef int64_t tot[2]
    cdef int form, kind
    cdef Py_ssize_t n
    if m.sto:
        form = 0 if m.plain else 1
        kind = 2 if (m.kt * m.E2 != 0 and not m.plain) else 0
    elif m.kneg != 0:
        form, kind = 4, 2
    elif m.jam:
        form, kind = 2, 1
    elif m.kodd != 0:
        form, kind = 3, 1
    else:
        form, kind = 5, 0
    st[0] = acc[0]
    st[1] = 0
    st[2] = 0
    tot[0] = 0
    tot[1] = 0
    while k0 < k1:
        n = min(<Py_ssize_t>CHAIN, k1 - k0)
        # literal forms and kinds, so that each loop is compiled for its case alone
        if form == 0:
            chain_prep(arow, bcol, N, k0, n, m, R, bv, 0, c0, c1, x, tot)
        elif form == 1:
            chain_prep(arow, bcol, N, k0, n, m, R, bv, 1, c0, c1, x, tot)
        elif form == 2:
            chain_prep(arow, bcol, N, k0, n, m, R, bv, 2, c0, c1, x, tot)
        elif form == 3:
            chain_prep(arow, bcol, N, k0, n, m, R, bv, 3, c0, c1, x, tot)
        elif form == 4:
            chain_prep(arow, bcol, N, k0, n, m, R, bv, 4, c0, c1, x, tot)
        else:
            chain_prep(arow, bcol, N, k0, n, m, R, bv, 5, c0, c1, x, tot)
        if kind == 0:
            chain_steps(c0, c1, x, n, 0, m.wrap, m.lo, m.hi, m.wmask, st)
        elif kind == 1:
            chain_steps(c0, c1, x, n, 1, m.wrap, m.lo, m.hi, m.wmask, st)
        else:
            chain_steps(c0, c1, x, n, 2, m.wrap, m.lo, m.hi, m.wmask, st)
        R += n
        k0 += n
    acc[0] = <lane_t>st[0]
    cin[0] += <lane_t>tot[0]
    cup[0] += <lane_t>(st[1] + tot[1])
    cov[0] += <lane_t>st[2]


cdef extern from *:
    """
    #if defined(__SSE4_1__)
    #include <immintrin.h>
    #endif
    static void fxm_pcg_jump(fxs_u128 inc, uint64_t d, fxs_u128* Md, fxs_u128* Cd) {
        /* numpy's PCG64 advanced d steps is x -> Md x + Cd (pcg_advance_lcg_128) */
        fxs_u128 M = FXS_PCG_MULT, C = inc, am = 1, ac = 0;
        while (d) {
            if (d & 1) { am = am * M; ac = ac * M + C; }
            C = (M + 1) * C;
            M = M * M;
            d >>= 1;
        }
        *Md = am;
        *Cd = ac;
    }

    static inline uint32_t fxm_draw(fxs_u128* x, fxs_u128 inc, int sh) {
        return (uint32_t)(fxs_pcg64_next(x, inc) >> sh);     /* bitsrc.pxd's PCG64 step */
    }

    #if defined(__SSE4_1__)
    static inline __attribute__((always_inline)) __m128i fxm_keep(__m128i y, __m128i vlo,
            __m128i vhi, __m128i vw, const int wrap, __m128i* co) {
        /* the kept accumulators (saturated, or wrapped to wl bits); co counts the overflows */
        *co = _mm_sub_epi32(*co, _mm_or_si128(_mm_cmpgt_epi32(y, vhi), _mm_cmpgt_epi32(vlo, y)));
        if (wrap)
            return _mm_add_epi32(_mm_and_si128(_mm_sub_epi32(y, vlo), vw), vlo);
        return _mm_min_epi32(_mm_max_epi32(y, vlo), vhi);
    }

    static inline void fxm_strip_out(__m128i acc, __m128i cz, __m128i cu, __m128i co,
                                     Py_ssize_t K, int32_t* out, int64_t* c3) {
        /* a strip's 4 words, and its counts (cz: exact steps) added to c3 */
        int32_t z[4], u[4], o[4];
        _mm_storeu_si128((__m128i*)out, acc);
        _mm_storeu_si128((__m128i*)z, cz);
        _mm_storeu_si128((__m128i*)u, cu);
        _mm_storeu_si128((__m128i*)o, co);
        for (int c = 0; c < 4; c++) {
            c3[0] += K - z[c];
            c3[1] += u[c];
            c3[2] += o[c];
        }
    }
    #endif

    #if defined(__SSE4_1__)
    static inline __attribute__((always_inline)) void fxm_sr_strip(
            const int32_t* arow, const int32_t* bp, Py_ssize_t N, Py_ssize_t K, const int fed,
            const int32_t* Rb, Py_ssize_t jn, fxs_u128* xs, fxs_u128 inc, int sh, int sa,
            int rs, int ls, int r, int32_t lo, int32_t hi, const int wrap, int32_t wmask,
            int32_t* out, int64_t* c3) {
        /* four columns of the plain-SR MAC tile in one SSE register, the accumulators and
           counts kept in registers; the draws of step k are Rb[k*jn .. k*jn + 3] (fed), or
           each column's PCG64 lane xs[c] is stepped in the loop */
        fxs_u128 x0 = xs[0], x1 = xs[1], x2 = xs[2], x3 = xs[3];
        const __m128i vmask = _mm_set1_epi32((int32_t)((1u << sa) - 1)), zero = _mm_setzero_si128();
        const __m128i vlo = _mm_set1_epi32(lo), vhi = _mm_set1_epi32(hi), vw = _mm_set1_epi32(wmask);
        const __m128i csa = _mm_cvtsi32_si128(sa), crs = _mm_cvtsi32_si128(rs);
        const __m128i cls = _mm_cvtsi32_si128(ls), cr = _mm_cvtsi32_si128(r);
        __m128i acc = zero, cz = zero, cu = zero, co = zero, R;
        uint32_t t[4];
        for (Py_ssize_t k = 0; k < K; k++) {
            if (fed) {
                R = _mm_loadu_si128((const __m128i*)(Rb + k * jn));
            } else {
                t[0] = fxm_draw(&x0, inc, sh);
                t[1] = fxm_draw(&x1, inc, sh);
                t[2] = fxm_draw(&x2, inc, sh);
                t[3] = fxm_draw(&x3, inc, sh);
                R = _mm_loadu_si128((const __m128i*)t);
            }
            __m128i b = _mm_loadu_si128((const __m128i*)(bp + k * N));
            __m128i v = _mm_add_epi32(_mm_sll_epi32(acc, csa), _mm_mullo_epi32(_mm_set1_epi32(arow[k]), b));
            __m128i rem = _mm_and_si128(v, vmask);
            __m128i up = _mm_srl_epi32(_mm_add_epi32(_mm_sll_epi32(_mm_srl_epi32(rem, crs), cls), R), cr);
            __m128i y = _mm_add_epi32(_mm_sra_epi32(v, csa), up);
            cz = _mm_sub_epi32(cz, _mm_cmpeq_epi32(rem, zero));
            cu = _mm_add_epi32(cu, up);
            acc = fxm_keep(y, vlo, vhi, vw, wrap, &co);
        }
        fxm_strip_out(acc, cz, cu, co, K, out, c3);
    }
    #endif

    /* noinline: inlined into mac_round's parallel loop, the tiles slowed each other 7 % */
    static __attribute__((noinline)) void fxm_sr_tile(
                            const int32_t* arow, const int32_t* B, Py_ssize_t N, Py_ssize_t K,
                            Py_ssize_t jn, fxs_pcg64_st* g, const int32_t* Rb, int sa, int rs,
                            int ls, int r, int32_t lo, int32_t hi, int wrap, int32_t wmask,
                            int32_t* out, int64_t* c3) {
        /* out[0:jn] = the K-step plain-SR MAC of arow with the jn columns at B (row stride N),
           the accumulator rounded (rule 'trunc', no eps) and saturated or wrapped after every
           step; c3 += (inexact, rounded up, overflowed) steps.  The draw of step k of column c
           is Rb[k*jn + c] when g is NULL; else g's draw c*K + k (element-major order), from a
           PCG64 lane per column jumped there, and g is left after the jn*K draws. */
        fxs_u128 cur = 0, inc = 0, xs[4], MK = 0, CK = 0;
        int sh = 64 - r;
        int32_t mask = (int32_t)((1u << sa) - 1);
        Py_ssize_t j = 0;
        if (g != NULL) {
            cur = g->state;
            inc = g->inc;
            fxm_pcg_jump(inc, (uint64_t)K, &MK, &CK);
        }
    #if defined(__SSE4_1__)
        for (; j + 4 <= jn; j += 4) {
            if (g == NULL) {
                if (wrap)
                    fxm_sr_strip(arow, B + j, N, K, 1, Rb + j, jn, xs, inc, sh, sa, rs, ls, r, lo, hi, 1, wmask, out + j, c3);
                else
                    fxm_sr_strip(arow, B + j, N, K, 1, Rb + j, jn, xs, inc, sh, sa, rs, ls, r, lo, hi, 0, wmask, out + j, c3);
                continue;
            }
            for (int c = 0; c < 4; c++) {
                xs[c] = cur;
                cur = cur * MK + CK;
            }
            if (wrap)
                fxm_sr_strip(arow, B + j, N, K, 0, Rb, jn, xs, inc, sh, sa, rs, ls, r, lo, hi, 1, wmask, out + j, c3);
            else
                fxm_sr_strip(arow, B + j, N, K, 0, Rb, jn, xs, inc, sh, sa, rs, ls, r, lo, hi, 0, wmask, out + j, c3);
        }
    #endif
        for (; j < jn; j++) {
            fxs_u128 x = cur;
            int32_t acc = 0;
            cur = cur * MK + CK;
            for (Py_ssize_t k = 0; k < K; k++) {
                int32_t v = (int32_t)((uint32_t)acc << sa) + arow[k] * B[k * N + j];
                int32_t rem = v & mask;
                uint32_t R = g == NULL ? (uint32_t)Rb[k * jn + j] : fxm_draw(&x, inc, sh);
                int32_t up = (int32_t)((((uint32_t)(rem >> rs) << ls) + R) >> r);
                int32_t y = (v >> sa) + up;
                c3[0] += rem != 0;
                c3[1] += up;
                c3[2] += (y < lo) | (y > hi);
                acc = wrap ? (int32_t)(((uint32_t)(y - lo) & (uint32_t)wmask) + (uint32_t)lo)
                           : (y < lo ? lo : (y > hi ? hi : y));
            }
            out[j] = acc;
        }
        if (g != NULL)
            g->state = cur;
    }

    #if defined(__SSE4_1__)
    static inline __attribute__((always_inline)) void fxm_det_strip(
            const int32_t* arow, const int32_t* bp, Py_ssize_t N, Py_ssize_t K, int sa,
            int32_t base, int32_t kneg, int32_t kodd, int32_t jam, int32_t lo, int32_t hi,
            const int wrap, int32_t wmask, int32_t* out, int64_t* c3) {
        /* tile_round's deterministic step for four columns in one SSE register, the
           accumulators and counts kept in registers */
        const __m128i vmask = _mm_set1_epi32((int32_t)((1u << sa) - 1)), zero = _mm_setzero_si128();
        const __m128i vlo = _mm_set1_epi32(lo), vhi = _mm_set1_epi32(hi), vw = _mm_set1_epi32(wmask);
        const __m128i vbase = _mm_set1_epi32(base), vkneg = _mm_set1_epi32(kneg);
        const __m128i vkodd = _mm_set1_epi32(kodd), one = _mm_set1_epi32(1);
        const __m128i vjam = _mm_set1_epi32(jam ? 1 : 0), csa = _mm_cvtsi32_si128(sa);
        __m128i acc = zero, cz = zero, cu = zero, co = zero;
        for (Py_ssize_t k = 0; k < K; k++) {
            __m128i b = _mm_loadu_si128((const __m128i*)(bp + k * N));
            __m128i v = _mm_add_epi32(_mm_sll_epi32(acc, csa), _mm_mullo_epi32(_mm_set1_epi32(arow[k]), b));
            __m128i q = _mm_sra_epi32(v, csa);
            __m128i exact = _mm_cmpeq_epi32(_mm_and_si128(v, vmask), zero);
            __m128i off = _mm_add_epi32(_mm_add_epi32(vbase, _mm_and_si128(vkneg, _mm_cmpgt_epi32(zero, q))),
                                        _mm_and_si128(vkodd, _mm_sub_epi32(zero, _mm_and_si128(q, one))));
            __m128i y = _mm_or_si128(_mm_sra_epi32(_mm_add_epi32(v, off), csa), _mm_andnot_si128(exact, vjam));
            cz = _mm_sub_epi32(cz, exact);
            cu = _mm_add_epi32(cu, _mm_sub_epi32(y, q));
            acc = fxm_keep(y, vlo, vhi, vw, wrap, &co);
        }
        fxm_strip_out(acc, cz, cu, co, K, out, c3);
    }
    #endif

    static __attribute__((noinline)) void fxm_det_tile(
                             const int32_t* arow, const int32_t* B, Py_ssize_t N, Py_ssize_t K,
                             Py_ssize_t jn, int sa, int32_t base, int32_t kneg, int32_t kodd,
                             int32_t jam, int32_t lo, int32_t hi, int wrap, int32_t wmask,
                             int32_t* out, int64_t* c3) {
        /* out[0:jn] = the K-step MAC of arow with the jn columns at B (row stride N), the
           accumulator rounded by a deterministic mode (det_offsets) and saturated or wrapped
           after every step; c3 += (inexact, rounded up, overflowed) steps */
        int32_t mask = (int32_t)((1u << sa) - 1);
        Py_ssize_t j = 0;
    #if defined(__SSE4_1__)
        for (; j + 4 <= jn; j += 4) {
            if (wrap)
                fxm_det_strip(arow, B + j, N, K, sa, base, kneg, kodd, jam, lo, hi, 1, wmask, out + j, c3);
            else
                fxm_det_strip(arow, B + j, N, K, sa, base, kneg, kodd, jam, lo, hi, 0, wmask, out + j, c3);
        }
    #endif
        for (; j < jn; j++) {
            int32_t acc = 0;
            for (Py_ssize_t k = 0; k < K; k++) {
                int32_t v = (int32_t)((uint32_t)acc << sa) + arow[k] * B[k * N + j];
                int32_t q = v >> sa, inexact = (v & mask) != 0;
                int32_t y = ((v + base + (kneg & -(int32_t)(q < 0)) + (kodd & -(q & 1))) >> sa)
                            | (jam & inexact);
                c3[0] += inexact;
                c3[1] += y - q;
                c3[2] += (y < lo) | (y > hi);
                acc = wrap ? (int32_t)(((uint32_t)(y - lo) & (uint32_t)wmask) + (uint32_t)lo)
                           : (y < lo ? lo : (y > hi ? hi : y));
            }
            out[j] = acc;
        }
    }
    """
    void det_tile "fxm_det_tile"(const int32_t* arow, const int32_t* B, Py_ssize_t N,
        Py_ssize_t K, Py_ssize_t jn, int sa, int32_t base, int32_t kneg, int32_t kodd,
        int32_t jam, int32_t lo, int32_t hi, int wrap, int32_t wmask, int32_t* out,
        int64_t* c3) noexcept nogil
    void sr_tile "fxm_sr_tile"(const int32_t* arow, const int32_t* B, Py_ssize_t N,
        Py_ssize_t K, Py_ssize_t jn, pcg64_st* g, const int32_t* Rb, int sa, int rs, int ls,
        int r, int32_t lo, int32_t hi, int wrap, int32_t wmask, int32_t* out,
        int64_t* c3) noexcept nogil


def mac_round(const word_t[:, ::1] A, const word_t[:, ::1] B, lane_t[:, ::1] out,
              CastSpec spec, int sa, const int64_t[::1] cuts, list caps,
              const uint64_t[::1] draws, bint use_draws, const int8_t[::1] vsign, bint use_v,
              int64_t[:, ::1] cnt, int nthreads):
    """out = A @ B in the spec §4 order with the accumulator cast ``spec`` after every step:
    acc' = cast(((acc << sa) + a*b) * 2**-sa) (exact products at fl_acc + sa, sa >= 1), over
    'saturate*' or 'wrap'.  Part p computes the output elements [cuts[p], cuts[p+1]) (flat, C
    order) and adds its (n, inexact, up, ovf, draws) to cnt[p].

    Stochastic: the draws of element e are e*K .. e*K + K - 1 of the call's stream.  With caps
    (one ``bitsrc`` capsule per part, positioned at the part's first draw; parts that share one
    capsule must run on one thread), a part fills the draws of each tile right before using
    them (plain SR in int32 lanes from an inline PCG64 part: sr_tile steps them in the
    rounding loop, one lane per column); else they are read from ``draws`` (indexed by e*K + k).  The caller proves that
    |acc << sa| + |a*b| fits a lane (< 2**62 for int64) and r <= 29 (int32) or 61."""
    cdef Py_ssize_t M = A.shape[0], K = A.shape[1], N = B.shape[1]
    cdef Py_ssize_t P = cuts.shape[0] - 1
    cdef macspec m = make_macspec(spec, sa, spec.cs.wl)
    cdef int r = spec.cs.r
    cdef bint streams = len(caps) > 0
    cdef Py_ssize_t p, e, e1, i, j, j0, jn, k0, k1, kc, t, nt, tb, te
    cdef lane_t* acc
    cdef lane_t* rt
    cdef uint64_t* dbuf
    cdef const uint64_t* dsrc
    cdef bitsrc_t** srcs = NULL
    cdef int64_t n_in, n_up, n_ov
    cdef int64_t* c3
    # plain SR from inline PCG64 parts: tile_round's 'plain' step with the draws stepped in it
    cdef bint inline_pcg = streams and m.plain and K > 0
    # a strip walks all K rows of B for 4 columns: with long rows (a matrix-vector product's
    # A^T) every step is a new page; tile_round walks B row by row (matvec 2048^2: 23 vs 28 ms)
    cdef bint strips = K <= 1024 and K * N <= (1 << 20)
    if streams:
        srcs = <bitsrc_t**>malloc(P * sizeof(bitsrc_t*))
        for p in range(P):
            srcs[p] = bitsrc_from_capsule(caps[p])
    for p in prange(P, nogil=True, num_threads=nthreads, schedule="dynamic"):
        acc = <lane_t*>malloc(5 * TJ * sizeof(lane_t))     # acc, cin, cup, cov, bv
        rt = <lane_t*>malloc(TILE_DRAWS * sizeof(lane_t))
        c3 = <int64_t*>malloc(3 * sizeof(int64_t))
        dbuf = NULL
        if streams:
            dbuf = <uint64_t*>malloc(TILE_DRAWS * sizeof(uint64_t))
        n_in = 0
        n_up = 0
        n_ov = 0
        e = cuts[p]
        e1 = cuts[p + 1]
        while e < e1:
            i = e // N
            j0 = e - i * N
            jn = min(min(<Py_ssize_t>TJ, N - j0), e1 - e)
            if word_t is int32_t and lane_t is int32_t:
                if inline_pcg and jn > 1 and srcs[p].kind == BITSRC_PCG64:
                    # the draws stepped in the rounding loop: no draw buffer, whole tiles
                    c3[0] = 0
                    c3[1] = 0
                    c3[2] = 0
                    sr_tile(&A[i, 0], &B[0, j0], N, K, jn, <pcg64_st*>srcs[p].state, NULL, m.sa,
                            m.rs, m.ls, m.r, <int32_t>m.lo, <int32_t>m.hi, m.wrap,
                            <int32_t>m.wmask, &out[i, j0], c3)
                    n_in = n_in + c3[0]
                    n_up = n_up + c3[1]
                    n_ov = n_ov + c3[2]
                    e = e + jn
                    continue
            if m.sto:
                jn = min(jn, max(<Py_ssize_t>1, TILE_DRAWS // max(K, <Py_ssize_t>1)))
            kc = K if jn > 1 else min(K, <Py_ssize_t>TILE_DRAWS)
            for j in range(4 * TJ):
                acc[j] = 0
            for j in range(jn):
                acc[4 * TJ + j] = -m.kv * m.E2 * vsign[e + j] if use_v else 0
            k0 = 0
            dsrc = NULL
            while k0 < K:
                k1 = min(K, k0 + kc)
                if m.sto:
                    nt = k1 - k0
                    if streams:
                        srcs[p].fill(srcs[p].state, dbuf, jn * nt, r)
                        dsrc = dbuf
                    else:
                        dsrc = &draws[e * K + k0]
                    if jn > 1:
                        # to step-major order, 16 steps at a time (the rows written stay in L1)
                        tb = 0
                        while tb < nt:
                            te = min(nt, tb + 16)
                            for j in range(jn):
                                for t in range(tb, te):
                                    rt[t * jn + j] = <lane_t>dsrc[j * nt + t]
                            tb = te
                if jn == 1:
                    one_round(&A[i, 0], &B[0, j0], N, k0, k1, &m, acc, acc + TJ,
                              acc + 2 * TJ, acc + 3 * TJ, dsrc, acc[4 * TJ])
                elif (word_t is int32_t and lane_t is int32_t) and m.plain and strips:
                    # the whole tile (jn > 1: k0 = 0, k1 = K), the draws from rt
                    c3[0] = 0
                    c3[1] = 0
                    c3[2] = 0
                    sr_tile(&A[i, 0], &B[0, j0], N, K, jn, NULL, rt, m.sa, m.rs, m.ls, m.r,
                            <int32_t>m.lo, <int32_t>m.hi, m.wrap, <int32_t>m.wmask, acc, c3)
                    n_in = n_in + c3[0]
                    n_up = n_up + c3[1]
                    n_ov = n_ov + c3[2]
                elif (word_t is int32_t and lane_t is int32_t) and not m.sto and strips:
                    c3[0] = 0
                    c3[1] = 0
                    c3[2] = 0
                    det_tile(&A[i, 0], &B[0, j0], N, K, jn, m.sa, <int32_t>m.base,
                             <int32_t>m.kneg, <int32_t>m.kodd, m.jam, <int32_t>m.lo,
                             <int32_t>m.hi, m.wrap, <int32_t>m.wmask, acc, c3)
                    n_in = n_in + c3[0]
                    n_up = n_up + c3[1]
                    n_ov = n_ov + c3[2]
                else:
                    tile_round(&A[i, 0], &B[0, j0], N, k0, k1, jn, &m, acc, acc + TJ,
                               acc + 2 * TJ, acc + 3 * TJ, rt, acc + 4 * TJ)
                k0 = k1
            for j in range(jn):
                out[i, j0 + j] = acc[j]
                n_in = n_in + acc[TJ + j]
                n_up = n_up + acc[2 * TJ + j]
                n_ov = n_ov + acc[3 * TJ + j]
            e = e + jn
        cnt[p, 0] += (e1 - cuts[p]) * K
        cnt[p, 1] += n_in
        cnt[p, 2] += n_up
        cnt[p, 3] += n_ov
        cnt[p, 4] += (e1 - cuts[p]) * K * m.sto
        free(acc)
        free(rt)
        free(dbuf)
        free(c3)
    free(srcs)

