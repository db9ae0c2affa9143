# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, overflowcheck=False
"""nogil kernels of the fxsim datapath (spec §2-§4).

The Python wrappers in ``fxsim/ops.py`` validate everything once; these loops trust their
arguments.  Work is split into fixed chunks (never into per-thread pieces), each chunk keeping
its own counters and first error, so results and counts do not depend on the thread count.
Random draws arrive as a pre-filled uint64 array indexed by cast number (spec §4 order), so a
parallel loop consumes them exactly as a sequential one would.
"""
cimport cython
from cython.parallel cimport prange
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memcpy
from libc.math cimport floor, rint, frexp, ldexp, fabs, isnan, isinf, copysign
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from fxprims cimport *
from bitsrc cimport bitsrc_t, bitsrc_from_capsule, BITSRC_PCG64, pcg64_st
from bitsrc cimport BITSRC_PHILOX, philox_st

# Build cost: the kernels are compiled once, not once per (input, output) container pair.  Words
# travel as bytes (int8 views) with a type code; only short block loops are specialized: by
# input type (block_op, 8 types) and by output width (the stores, 4 widths).  Output words are
# stored by width only: every value stored is already in the target format's range, so a
# signed store of the low bytes gives the same bits as an unsigned one.
ctypedef fused word_t:
    int8_t
    int16_t
    int32_t
    int64_t

ctypedef fused src_t:
    int8_t
    int16_t
    int32_t
    int64_t
    uint8_t
    uint16_t
    uint32_t
    uint64_t

ctypedef fused real_t:
    float
    double

cdef enum:
    CHUNK = 32768


cdef inline counts_t zero_counts() noexcept nogil:
    cdef counts_t c
    c.n = 0; c.inexact = 0; c.up = 0; c.ovf = 0; c.draws = 0
    return c


cdef class CastSpec:
    """One cast as the kernels read it: the codes of a cast mode (``Rounding``, ``Overflow``,
    ``SRRule``), r, floor(eps * 2**r) and the target format (wl, signedness), from which the
    kept range is derived once.  Built by ``fxsim.ops`` once per cast and passed to every
    kernel call (and to the samplers' kernel) instead of a tuple.

    >>> s = CastSpec(Rounding.RM_NEAREST_EVEN, Overflow.OV_SATURATE_SYMMETRIC, SRRule.SR_TRUNC, 0, 8, True)
    >>> s.lo, s.hi
    (-127, 127)
    """

    def __init__(self, int rounding, int overflow, int sr_rule, int r, int wl, bint signed,
                 E=0):
        if not (RM_FLOOR <= rounding <= RM_SIGNED_STOCHASTIC_EPS and OV_SATURATE <= overflow <= OV_ERROR
                and SR_TRUNC <= sr_rule <= SR_TT_SFPU and 0 <= r <= 64 and 1 <= wl <= 64
                and 0 <= E < 2**64):
            raise ValueError(f"CastSpec: a code or parameter is out of range: rounding={rounding} "
                             f"(0..13), overflow={overflow} (0..3), sr_rule={sr_rule} (0..4), "
                             f"r={r} (0..64), wl={wl} (1..64), E={E} (0..2**64-1)")
        self.cs = make_cspec(rounding, overflow, sr_rule, r, wl, signed, E)

    @property
    def lo(self):
        return int(self.cs.lo64) if self.cs.wl < 64 or self.cs.is_signed else 0

    @property
    def hi(self):
        return int(self.cs.hi64) if self.cs.wl < 64 or self.cs.is_signed else 2**64 - 1

    def __repr__(self):
        return (f"CastSpec(rounding={self.cs.mode}, overflow={self.cs.ovf}, sr_rule={self.cs.rule}, "
                f"r={self.cs.r}, wl={self.cs.wl}, signed={bool(self.cs.is_signed)}, E={int(self.cs.E)})")


def n_chunks(Py_ssize_t n):
    return (n + CHUNK - 1) // CHUNK


cdef inline void add_counts(int64_t[:, ::1] cnt, Py_ssize_t row, counts_t* c) noexcept nogil:
    cnt[row, 0] += c.n
    cnt[row, 1] += c.inexact
    cnt[row, 2] += c.up
    cnt[row, 3] += c.ovf
    cnt[row, 4] += c.draws


cdef inline void note_error(int err, Py_ssize_t i, int32_t[::1] errs, int64_t[::1] errpos,
                            Py_ssize_t row) noexcept nogil:
    if err != ERR_NONE and errs[row] == ERR_NONE:
        errs[row] = err
        errpos[row] = i


cdef enum:
    BLOCK = 1024


cdef inline int block_f64_bad(const real_t* x, Py_ssize_t n, double scale) noexcept nogil:
    """1 if some element needs the exact scalar path: NaN, inf, |x * 2**fl| >= 2**62, or a
    product x * 2**fl that is not a normal double (and so may have lost bits)."""
    cdef Py_ssize_t j
    cdef double at
    cdef int bad = 0
    for j in range(n):
        at = fabs(x[j] * scale)
        bad |= (not (at < 4611686018427387904.0)) | ((at <= 1e-300) & (x[j] != 0.0))
    return bad
# In the block loops below, -1/2 < t < 0 is the one case where phi = t - floor(t) = 1 + t may
# not be a double: there phi > 1/2 is known, and the discarded bits come from t * 2**r.


cdef inline int sr_carry(int64_t A, int64_t es, int64_t E2, int64_t top, uint64_t R,
                         int inexact) noexcept nogil:
    """The SR unit's carry (spec §2): the (r+1)-bit addend A, biased by es * 2E and clipped to
    [0, 2**(r+1)], plus 2R reaches 2**(r+1); never for an exact value.  Branch-free."""
    A = A + es * E2
    A = 0 if A < 0 else (top if A > top else A)
    return inexact & (A + 2 * <int64_t>R >= top)


cdef inline int block_f64_small(const real_t* x, Py_ssize_t n, double scale) noexcept nogil:
    """1 if every x * 2**fl is a normal double (or zero) below 2**51 in magnitude."""
    cdef Py_ssize_t j
    cdef double at
    cdef int ok = 1
    for j in range(n):
        at = fabs(x[j] * scale)
        ok &= (at < 2251799813685248.0) & ((at > 1e-300) | (x[j] == 0.0))
    return ok


# AVX2 has no vector conversions between doubles and 64-bit integers, and one scalar conversion
# keeps gcc from vectorizing a whole loop.  For integers below 2**51 in magnitude these two
# conversions are exact bit operations on a double in [2**52, 2**53).
cdef inline double draw_to_d(uint64_t R) noexcept nogil:
    """R < 2**52 as a double, exactly."""
    cdef uint64_t b = R | <uint64_t>0x4330000000000000
    cdef double d
    memcpy(&d, &b, 8)
    return d - 4503599627370496.0


cdef inline int64_t d_to_i64(double v) noexcept nogil:
    """An integer-valued double |v| < 2**51 as an int64, exactly."""
    cdef double d = v + 6755399441055744.0
    cdef int64_t b
    memcpy(&b, &d, 8)
    return b - <int64_t>0x4338000000000000


cdef inline int64_t sr_carry_d(double A, double es, double E2, double top, uint64_t R,
                               int64_t inexact) noexcept nogil:
    """sr_carry with A in doubles (exact for r <= 51: every value is an integer below 2**53)."""
    A = A + es * E2
    A = 0.0 if A < 0.0 else (top if A > top else A)
    return inexact & (A + 2.0 * draw_to_d(R) >= top)


cdef inline void block_f64_sr_d(const real_t* x, int64_t* q, Py_ssize_t n, double scale,
                                const cspec* cs, const uint64_t* R, const int8_t* vs,
                                counts_t* c) noexcept nogil:
    """block_f64_sr for r <= 51 and |x * 2**fl| < 2**51 (block_f64_small), the addend in
    doubles and the flags in int64 (the lanes of doubles) so that the loop vectorizes on AVX2;
    the same carries and counts."""
    cdef Py_ssize_t j
    cdef double t, qd, A, es
    cdef int64_t small_neg, inexact, up, n_inexact = 0, n_up = 0
    cdef double two_r = ldexp(1.0, cs.r)
    cdef double top = ldexp(1.0, cs.r + 1)
    cdef double E2 = 2.0 * <double>cs.E
    cdef double k_t = 1.0 if cs.mode == RM_STOCHASTIC_EPS else 0.0
    cdef double k_v = 1.0 if cs.mode == RM_SIGNED_STOCHASTIC_EPS else 0.0
    # the few-bit rules (spec §2): A = m * (g(y) + [small_neg] * cm) + a0 with y the discarded
    # part times cm; trunc: m = 2, g = floor, cm = 2**r; half: m = 1, g = floor, cm = 2**(r+1),
    # a0 = 1; rne: m = 2, g = rint; ge: trunc with a0 = 2 and the draw complemented.  -1/2 < t < 0 (small_neg): phi = 1 + t may not be a double,
    # so y comes from t there (see block_f64_sr)
    cdef bint use_rint = cs.rule == SR_RNE
    cdef double cm = 2.0 * two_r if cs.rule == SR_HALF else two_r
    cdef double m = 1.0 if cs.rule == SR_HALF else 2.0
    cdef double a0 = 1.0 if cs.rule == SR_HALF else (2.0 if cs.rule == SR_GE else 0.0)
    # 'ge' (D >= R): as trunc with A = 2D + 2 against the complement 2**r - 1 - R of the draw
    cdef uint64_t rmask = (~(<uint64_t>0) >> (64 - cs.r)) if cs.rule == SR_GE else 0
    cdef double y
    for j in range(n):
        t = x[j] * scale
        qd = floor(t)
        small_neg = (t < 0.0) & (t > -0.5)
        inexact = (t != qd) | small_neg
        y = (t if small_neg else t - qd) * cm
        A = m * ((rint(y) if use_rint else floor(y)) + (cm if small_neg else 0.0)) + a0
        es = k_t * (-1.0 if qd < 0.0 else 1.0) - k_v * <double>vs[j]
        up = sr_carry_d(A, es, E2, top, R[j] ^ rmask, inexact)
        n_inexact += inexact
        n_up += up
        q[j] = d_to_i64(qd) + up
    c.n += n
    c.inexact += n_inexact
    c.up += n_up


cdef inline int block_f64_sr(const real_t* x, int64_t* q, Py_ssize_t n, double scale,
                             const cspec* cs, const uint64_t* R, const int8_t* vs,
                             counts_t* c) noexcept nogil:
    """Stochastic rounding of a block of floats for r <= 52, all in doubles and int64 so that it
    vectorizes: A (the (r+1)-bit addend of the few-bit rule) comes from phi * 2**r, which is
    exact.  vs: the signs of v (signed_stochastic_eps) or a block of zeros."""
    cdef Py_ssize_t j
    cdef double t, qd, phi, y
    cdef double two_r = ldexp(1.0, cs.r)
    cdef int64_t qi, A, es, n_inexact = 0, n_up = 0
    cdef int64_t top = (<int64_t>1) << (cs.r + 1)
    cdef int64_t E2 = 2 * <int64_t>cs.E
    cdef int64_t k_t = cs.mode == RM_STOCHASTIC_EPS
    cdef int64_t k_v = cs.mode == RM_SIGNED_STOCHASTIC_EPS
    cdef int rule = cs.rule
    cdef uint64_t rmask = (~(<uint64_t>0) >> (64 - cs.r)) if rule == SR_GE else 0
    cdef int64_t ge2 = 2 if rule == SR_GE else 0
    cdef int up, inexact
    if rule == SR_TT_SFPU:       # sign-magnitude, exact values move: the scalar path
        return 1
    if cs.r <= 51 and block_f64_small(x, n, scale):
        block_f64_sr_d(x, q, n, scale, cs, R, vs, c)
        return 0
    if block_f64_bad(x, n, scale):
        return 1
    cdef int small_neg
    cdef double ts
    # one loop per few-bit rule, so that each loop is branch-free and vectorizes
    if rule == SR_TRUNC or rule == SR_GE:
        # 'ge' (D >= R): A = 2D + 2 against the complement 2**r - 1 - R of the draw
        for j in range(n):
            t = x[j] * scale
            qd = floor(t)
            qi = <int64_t>qd
            small_neg = (t < 0.0) & (t > -0.5)
            inexact = ((t - qd) != 0.0) | small_neg
            A = 2 * <int64_t>(floor(t * two_r) + two_r if small_neg else floor((t - qd) * two_r)) + ge2
            up = sr_carry(A, k_t * (1 - 2 * (qi < 0)) - k_v * vs[j], E2, top, R[j] ^ rmask, inexact)
            n_inexact += inexact
            n_up += up
            q[j] = qi + up
    elif rule == SR_HALF:
        for j in range(n):
            t = x[j] * scale
            qd = floor(t)
            qi = <int64_t>qd
            small_neg = (t < 0.0) & (t > -0.5)
            inexact = ((t - qd) != 0.0) | small_neg
            A = <int64_t>(floor(2.0 * t * two_r) + 2.0 * two_r if small_neg
                          else floor(2.0 * (t - qd) * two_r)) + 1
            up = sr_carry(A, k_t * (1 - 2 * (qi < 0)) - k_v * vs[j], E2, top, R[j], inexact)
            n_inexact += inexact
            n_up += up
            q[j] = qi + up
    else:
        for j in range(n):
            t = x[j] * scale
            qd = floor(t)
            qi = <int64_t>qd
            small_neg = (t < 0.0) & (t > -0.5)
            inexact = ((t - qd) != 0.0) | small_neg
            A = 2 * <int64_t>(rint(t * two_r) + two_r if small_neg else rint((t - qd) * two_r))
            up = sr_carry(A, k_t * (1 - 2 * (qi < 0)) - k_v * vs[j], E2, top, R[j], inexact)
            n_inexact += inexact
            n_up += up
            q[j] = qi + up
    c.n += n
    c.inexact += n_inexact
    c.up += n_up
    return 0


ctypedef fused lane_t:
    int32_t
    int64_t


ctypedef struct srk_t:
    # the SR unit's constants for discarding s bits of an integer (sr_int_up)
    int r, s, lsh, rsh
    int64_t mask, top, E2, k_t, k_v, fmask, h, k_tr, k_half, k_rne, k_ge, rx


cdef inline srk_t sr_consts(const cspec* cs, int s) noexcept nogil:
    cdef srk_t k
    k.r, k.s = cs.r, s
    k.lsh = cs.r - s if cs.r > s else 0
    k.rsh = s - cs.r if s > cs.r else 0
    k.mask = ((<int64_t>1) << s) - 1
    k.top = (<int64_t>1) << (cs.r + 1)
    k.E2 = 2 * <int64_t>cs.E
    k.k_t = cs.mode == RM_STOCHASTIC_EPS
    k.k_v = cs.mode == RM_SIGNED_STOCHASTIC_EPS
    k.fmask = ((<int64_t>1) << k.rsh) - 1
    k.h = ((<int64_t>1) << (k.rsh - 1)) if k.rsh >= 1 else 1     # no tie when rsh = 0
    k.k_tr, k.k_half = cs.rule == SR_TRUNC, cs.rule == SR_HALF
    k.k_rne, k.k_ge = cs.rule == SR_RNE, cs.rule == SR_GE
    k.rx = (((<int64_t>1) << cs.r) - 1) if k.k_ge else 0            # 'ge': the complement of R
    return k


cdef inline lane_t sr_int_up(lane_t v, lane_t R, lane_t vsj, srk_t k) noexcept nogil:
    """The SR unit's carry (spec §2, as sr_carry) of v * 2**-s: the (r+1)-bit addend of the
    few-bit rule (all three computed and one selected: branch-free, so that a loop of int32
    lanes vectorizes), biased by eps, clipped to [0, 2**(r+1)], plus 2R reaching 2**(r+1);
    never for an exact value.  Every term fits lane_t when r + s <= 29 (int32) or 60 (int64)."""
    cdef lane_t qi = v >> k.s
    cdef lane_t rem = v & <lane_t>k.mask
    cdef lane_t I = (rem << k.lsh) >> k.rsh                # floor(phi * 2**r)
    cdef lane_t fr = rem & <lane_t>k.fmask
    cdef lane_t top = <lane_t>k.top
    # rne: fr > h, or a tie with I odd, is fr + (I & 1) > h (this form vectorizes)
    cdef lane_t A = (<lane_t>k.k_tr * 2 * I + <lane_t>k.k_half * (((rem << (k.r + 1)) >> k.s) + 1)
                     + <lane_t>k.k_rne * 2 * (I + (fr + (I & 1) > <lane_t>k.h))
                     + <lane_t>k.k_ge * (2 * I + 2))
    A = A + (<lane_t>k.k_t * (1 - 2 * (qi < 0)) - <lane_t>k.k_v * vsj) * <lane_t>k.E2
    A = 0 if A < 0 else (top if A > top else A)
    return (rem != 0) & (A + 2 * (R ^ <lane_t>k.rx) >= top)


cdef inline int block_int_sr(int64_t* q, Py_ssize_t n, int s, const cspec* cs, const uint64_t* R,
                             const int8_t* vs, counts_t* c) noexcept nogil:
    """In place: q[j] <- floor(q[j] * 2**-s) plus the SR unit's carry (sr_int_up in int64),
    for 1 <= s and r + s <= 60 and |q[j]| <= 2**62; else returns 1 (nothing changed) and the
    caller takes the scalar path."""
    cdef Py_ssize_t j
    cdef int64_t v, up, inexact, n_inexact = 0, n_up = 0
    cdef int64_t mask = ((<int64_t>1) << s) - 1
    cdef srk_t k
    if s < 1 or cs.r + s > 60 or cs.rule == SR_TT_SFPU:
        return 1
    k = sr_consts(cs, s)
    for j in range(n):
        v = q[j]
        up = sr_int_up(v, <int64_t>R[j], <int64_t>vs[j], k)
        inexact = (v & mask) != 0
        n_inexact += inexact
        n_up += up
        q[j] = (v >> s) + up
    c.n += n
    c.inexact += n_inexact
    c.up += n_up
    return 0


cdef inline int block_f64_det_sat(const real_t* x, word_t* out, Py_ssize_t n, double scale,
                                  uint32_t tbl, int64_t lo, int64_t hi, counts_t* c) noexcept nogil:
    """block_f64_det and block_store fused into one vectorized pass, for saturating overflow
    (lo..hi is the kept range).  Returns 1 when the block needs the scalar path; what it
    stored is then overwritten."""
    cdef Py_ssize_t j
    cdef double xj, t, at, qd, phi
    cdef int64_t qi, y, n_inexact = 0, n_up = 0, nov = 0
    cdef int up, inexact, small_neg, bad = 0
    for j in range(n):
        xj = x[j]
        t = xj * scale
        at = fabs(t)
        bad |= (not (at < 4611686018427387904.0)) | ((at <= 1e-300) & (xj != 0.0))
        qd = floor(t)
        phi = t - qd
        qi = <int64_t>qd
        small_neg = (t < 0.0) & (t > -0.5)
        inexact = (phi != 0.0) | small_neg
        up = det_up_tbl(tbl, inexact, (phi > 0.5) | small_neg, (phi == 0.5) & (small_neg ^ 1),
                        qi < 0, qi & 1)
        n_inexact += inexact
        n_up += up
        y = qi + up
        nov += (y < lo) | (y > hi)
        out[j] = <word_t>(lo if y < lo else (hi if y > hi else y))
    if bad:
        return 1
    add_block(c, n, n_inexact, n_up, nov)
    return 0


cdef extern from *:
    """
    /* y (an integral double, |y| < 2**51) as an int64: the bits of y + 1.5 * 2**52 minus those
       of 1.5 * 2**52.  AVX2 has no vector double -> int64 conversion; this add and subtract
       vectorize. */
    static inline int64_t fx_int_of_double(double y) {
        union { double d; int64_t i; } u;
        u.d = y + 6755399441055744.0;
        return u.i - (int64_t)0x4338000000000000LL;
    }
    """
    int64_t int_of_double "fx_int_of_double"(double y) noexcept nogil


cdef struct dround:
    # a deterministic mode as constants of the two branch-free block loops (see round_consts)
    bint nearest      # a nearest mode: rint(t), then the tie rule below
    double ka, kb, kc # a tie t (|t - rint(t)| = 1/2) goes to t + ka/2 + kb*sign(t)/2 + kc*(t - rint(t))
    double k_up, k_neg, k_pos, k_even  # directed: an inexact t goes up always / when t < 0 /
                                       # when t > 0 / when floor(t) is even (jam)


cdef inline dround round_consts(int mode) noexcept nogil:
    cdef dround k
    k.nearest = RM_NEAREST_UP <= mode <= RM_NEAREST_ODD
    k.ka = 1.0 if mode == RM_NEAREST_UP else (-1.0 if mode == RM_NEAREST_DOWN else 0.0)
    k.kb = -1.0 if mode == RM_NEAREST_ZERO else (1.0 if mode == RM_NEAREST_AWAY else 0.0)
    k.kc = -1.0 if mode == RM_NEAREST_EVEN else (1.0 if mode == RM_NEAREST_ODD else 0.0)
    k.k_up = mode == RM_CEIL
    k.k_neg = mode == RM_TOWARD_ZERO
    k.k_pos = mode == RM_AWAY_FROM_ZERO
    k.k_even = mode == RM_JAM
    return k


cdef inline int block_tiny(const real_t* x, Py_ssize_t n, double scale) noexcept nogil:
    """1 if some nonzero x[j] * scale (scale < 1) is not a normal double, so may have lost bits."""
    cdef Py_ssize_t j
    cdef double at
    cdef int64_t bad = 0
    for j in range(n):
        at = fabs(x[j] * scale)
        bad |= (at <= 1e-300) & (x[j] != 0.0)
    return bad != 0


cdef inline int64_t put_sat(word_t* out, Py_ssize_t j, double y, double lo, double hi) noexcept nogil:
    """out[j] = y (an integral double) saturated to [lo, hi]; 1 if it saturated."""
    cdef double yc = y if y < hi else hi      # the forms of vminpd and vmaxpd
    yc = yc if yc > lo else lo
    if word_t is int64_t:
        out[j] = int_of_double(yc)
    else:
        out[j] = <word_t>(<int32_t>yc)
    return yc != y


cdef inline int block_sr_trunc_sat(const real_t* x, word_t* out, Py_ssize_t n, double scale,
                                   int r, const uint64_t* R, double lo, double hi,
                                   counts_t* c) noexcept nogil:
    """block_f64_sr_d for plain 'stochastic' with the 'trunc' rule, fused with the saturating
    store into words of at most 31 bits: the carry is [inexact and D + R >= 2**r], D = floor(phi
    * 2**r) (from t * 2**r + 2**r when -1/2 < t < 0), every step in doubles (exact for r <= 51
    and |t| < 2**51, which block_f64_small checks: else 1, nothing counted)."""
    cdef Py_ssize_t j
    cdef double t, qd, D, two_r = ldexp(1.0, r)
    cdef int64_t small_neg, inexact, up, n_inexact = 0, n_up = 0, nov = 0
    if not block_f64_small(x, n, scale):
        return 1
    for j in range(n):
        t = x[j] * scale
        qd = floor(t)
        small_neg = (t < 0.0) & (t > -0.5)
        inexact = (t != qd) | small_neg
        D = floor((t if small_neg else t - qd) * two_r) + (two_r if small_neg else 0.0)
        up = inexact & (D + draw_to_d(R[j]) >= two_r)
        n_inexact += inexact
        n_up += up
        nov += put_sat(out, j, qd + (1.0 if up else 0.0), lo, hi)
    add_block(c, n, n_inexact, n_up, nov)
    return 0


cdef inline bint sr_fusable(const cspec* cs, int w) noexcept nogil:
    """Whether a float cast takes sr_trunc_sat: plain SR, 'trunc' rule, saturating into words
    of at most 31 bits."""
    return (cs.mode == RM_STOCHASTIC and cs.rule == SR_TRUNC and cs.r <= 51
            and cs.ovf <= OV_SATURATE_SYMMETRIC and w <= 4 and cs.hi64 < (<int64_t>1 << 31))


cdef int sr_trunc_sat(const real_t* x, char* out, int w, Py_ssize_t n, double scale, int r,
                      const uint64_t* R, int64_t lo, int64_t hi, counts_t* c) noexcept nogil:
    if w == 1:
        return block_sr_trunc_sat(x, <int8_t*>out, n, scale, r, R, <double>lo, <double>hi, c)
    if w == 2:
        return block_sr_trunc_sat(x, <int16_t*>out, n, scale, r, R, <double>lo, <double>hi, c)
    return block_sr_trunc_sat(x, <int32_t*>out, n, scale, r, R, <double>lo, <double>hi, c)


cdef extern from *:
    """
    #if defined(__AVX2__)
    #include <immintrin.h>
    #endif
    #include <math.h>
    /* block_sr_trunc_sat (plain SR, 'trunc' rule, saturating into words of at most 31 bits)
       with its draws R = w >> (64 - r) stepped from numpy's Philox in the loop, one counter
       block per 4 elements, no draw buffer: the scalar 64x64->128-bit multiplies of the block
       run while the vector unit rounds the 4 elements before.  The same words, counts and
       generator state (counter, buffer, buffer_pos) as fxs_philox_fill followed by
       block_sr_trunc_sat.  Only for blocks block_f64_small accepts. cnt: inexact, up, ovf. */
    static inline void fxk_srp_store(char* out, int w, int64_t j, double yc) {
        int32_t v = (int32_t)yc;
        if (w == 1) ((int8_t*)out)[j] = (int8_t)v;
        else if (w == 2) ((int16_t*)out)[j] = (int16_t)v;
        else ((int32_t*)out)[j] = v;
    }

    static inline void fxk_srp_one(double xj, uint64_t R, double scale, double two_r, double lo,
                                   double hi, char* out, int w, int64_t j, int64_t* cnt) {
        double t = xj * scale, qd = floor(t);
        int small_neg = (t < 0.0) & (t > -0.5);
        int inexact = (t != qd) | small_neg;
        double D = floor((small_neg ? t : t - qd) * two_r) + (small_neg ? two_r : 0.0);
        int up = inexact & (D + (double)R >= two_r);
        double y = qd + (up ? 1.0 : 0.0);
        double yc = y < hi ? y : hi;
        yc = yc > lo ? yc : lo;
        cnt[0] += inexact;
        cnt[1] += up;
        cnt[2] += yc != y;
        fxk_srp_store(out, w, j, yc);
    }

    #if defined(__AVX2__)
    static inline __attribute__((always_inline)) __m256i fxk_philox4(
            uint64_t c0, uint64_t c1, uint64_t c2, uint64_t c3, uint64_t k0, uint64_t k1) {
        /* fxs_philox_block with the counter and the words in registers */
        fxs_philox_rounds(&c0, &c1, &c2, &c3, k0, k1);
        return _mm256_set_epi64x((long long)c3, (long long)c2, (long long)c1, (long long)c0);
    }

    typedef struct {
        __m256d scale, two_r, lo, hi, zero, mhalf, one, two52;
        __m256i magic, acc_in, acc_up, acc_ov;
        __m128i sh;
    } fxk_srp;

    static inline __attribute__((always_inline)) __m128i fxk_srp_vec(fxk_srp* q, const double* x,
                                                                     __m256i w) {
        /* fxk_srp_one for 4 elements and their 4 words: the int32 words */
        __m256i R = _mm256_srl_epi64(w, q->sh);
        __m256d Rd = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(R, q->magic)), q->two52);
        __m256d t = _mm256_mul_pd(_mm256_loadu_pd(x), q->scale);
        __m256d qd = _mm256_floor_pd(t);
        __m256d sn = _mm256_and_pd(_mm256_cmp_pd(t, q->zero, _CMP_LT_OQ),
                                   _mm256_cmp_pd(t, q->mhalf, _CMP_GT_OQ));
        __m256d inexact = _mm256_or_pd(_mm256_cmp_pd(t, qd, _CMP_NEQ_OQ), sn);
        __m256d base = _mm256_blendv_pd(_mm256_sub_pd(t, qd), t, sn);
        __m256d D = _mm256_add_pd(_mm256_floor_pd(_mm256_mul_pd(base, q->two_r)),
                                  _mm256_and_pd(sn, q->two_r));
        __m256d up = _mm256_and_pd(inexact, _mm256_cmp_pd(_mm256_add_pd(D, Rd), q->two_r, _CMP_GE_OQ));
        __m256d y = _mm256_add_pd(qd, _mm256_and_pd(up, q->one));
        __m256d yc = _mm256_max_pd(_mm256_min_pd(y, q->hi), q->lo);
        __m256d ov = _mm256_cmp_pd(yc, y, _CMP_NEQ_OQ);
        q->acc_in = _mm256_sub_epi64(q->acc_in, _mm256_castpd_si256(inexact));
        q->acc_up = _mm256_sub_epi64(q->acc_up, _mm256_castpd_si256(up));
        q->acc_ov = _mm256_sub_epi64(q->acc_ov, _mm256_castpd_si256(ov));
        return _mm256_cvtpd_epi32(yc);
    }

    static inline __attribute__((always_inline)) int64_t fx_hsum64(__m256i a) {
        int64_t l[4];
        _mm256_storeu_si256((__m256i*)l, a);
        return l[0] + l[1] + l[2] + l[3];
    }

    /* the counter steps as fxs_ctr_inc; one loop per word width (the store) */
    #define FXK_SRP_LOOP(STORE)                                                              \
        for (; j + 4 <= n; j += 4) {                                                         \
            if (__builtin_expect(++c0 == 0, 0) && ++c1 == 0 && ++c2 == 0)                    \
                ++c3;                                                                        \
            __m128i v = fxk_srp_vec(&q, x + j, fxk_philox4(c0, c1, c2, c3, k0, k1));         \
            STORE;                                                                           \
        }
    #endif

    static void fxk_sr_philox(const double* x, char* out, int w, int64_t n, double scale, int r,
                              double lo, double hi, fxs_philox_state* st, int64_t* cnt) {
        int sh = 64 - r, bp = st->buffer_pos;
        double two_r = ldexp(1.0, r);
        int64_t j = 0;
        uint64_t c[4], o[4];
        uint64_t k0 = st->key->v[0], k1 = st->key->v[1];
        while (j < n && bp < 4) {
            fxk_srp_one(x[j], st->buffer[bp++] >> sh, scale, two_r, lo, hi, out, w, j, cnt);
            j++;
        }
        st->buffer_pos = bp;
        if (j == n)
            return;
        for (int i = 0; i < 4; i++) c[i] = st->ctr->v[i];
    #if defined(__AVX2__)
        if (n - j >= 4) {
            fxk_srp q;
            uint64_t c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
            q.scale = _mm256_set1_pd(scale); q.two_r = _mm256_set1_pd(two_r);
            q.lo = _mm256_set1_pd(lo); q.hi = _mm256_set1_pd(hi);
            q.zero = _mm256_setzero_pd(); q.mhalf = _mm256_set1_pd(-0.5);
            q.one = _mm256_set1_pd(1.0); q.two52 = _mm256_set1_pd(4503599627370496.0);
            q.magic = _mm256_set1_epi64x(0x4330000000000000LL);
            q.sh = _mm_cvtsi32_si128(sh);
            q.acc_in = q.acc_up = q.acc_ov = _mm256_setzero_si256();
            if (w == 4) {
                FXK_SRP_LOOP(_mm_storeu_si128((__m128i*)(out + 4 * j), v))
            } else if (w == 2) {
                /* the low 2 bytes of each int32 lane */
                const __m128i pick = _mm_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1);
                FXK_SRP_LOOP(_mm_storel_epi64((__m128i*)(out + 2 * j), _mm_shuffle_epi8(v, pick)))
            } else {
                const __m128i pick = _mm_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
                FXK_SRP_LOOP(int32_t b = _mm_cvtsi128_si32(_mm_shuffle_epi8(v, pick)); memcpy(out + j, &b, 4))
            }
            c[0] = c0; c[1] = c1; c[2] = c2; c[3] = c3;
            _mm256_storeu_si256((__m256i*)o, fxk_philox4(c0, c1, c2, c3, k0, k1));
            bp = 4;
            cnt[0] += fx_hsum64(q.acc_in);
            cnt[1] += fx_hsum64(q.acc_up);
            cnt[2] += fx_hsum64(q.acc_ov);
        }
    #endif
        while (j < n) {
            fxs_ctr_inc(c);
            fxs_philox_block(c, k0, k1, o);
            for (bp = 0; bp < 4 && j < n; bp++, j++)
                fxk_srp_one(x[j], o[bp] >> sh, scale, two_r, lo, hi, out, w, j, cnt);
        }
        for (int i = 0; i < 4; i++) {
            st->ctr->v[i] = c[i];
            st->buffer[i] = o[i];
        }
        st->buffer_pos = bp;
    }
    """
    void sr_philox_sat "fxk_sr_philox"(const double* x, char* out, int w, int64_t n, double scale,
                                       int r, double lo, double hi, philox_st* st,
                                       int64_t* c3) noexcept nogil


cdef int sr_philox_block(const real_t* x, char* out, int w, Py_ssize_t n, double scale, int r,
                         int64_t lo, int64_t hi, bitsrc_t* src, counts_t* c) noexcept nogil:
    """sr_trunc_sat with the block's draws stepped from the inline Philox source src in the
    same loop (sr_philox_sat); 1: not this case (float32 input, or a block that needs the
    other paths), nothing done and no draw taken.  out is already offset."""
    cdef int64_t c3[3]
    if real_t is float:
        return 1
    else:
        if not block_f64_small(x, n, scale):
            return 1
        c3[0] = c3[1] = c3[2] = 0
        sr_philox_sat(x, out, w, n, scale, r, <double>lo, <double>hi, <philox_st*>src.state, c3)
        add_block(c, n, c3[0], c3[1], c3[2])
        return 0


cdef extern from *:
    """
    /* Round-to-nearest-even and saturation of a block of floats into 8-, 16-, 32- or 64-bit words
       with explicit AVX2 (block_round_sat's nearest_even loop, the same words and counts):
       t = x * scale, y = rint(t), d = t - y; inexact when d != 0, up when d < 0 (d is never
       -0.0: its sign bit is the up flag), saturated when min(max(y, lo), hi) != y.  NaN and
       inf make d a NaN, whose top exponent bit no |d| <= 1/2 has: the OR of all d's bits
       tells whether the block needs the scalar path (returns 1; what was stored is then
       overwritten).  float32 inputs into 8- or 16-bit words with scale >= 1 are computed in
       float32, eight lanes a register: x * scale is then exact (or inf), and so are rint, d
       and the compares with lo, hi (|lo|, |hi| < 2**24), so every word and count is the
       float64 computation's.  Returns -1 (nothing done) without AVX2 or when [lo, hi] does
       not fit the word's pack. */
    #if defined(__AVX2__)
    #include <immintrin.h>
    #endif
    #include <math.h>
    #include <string.h>

    #if defined(__AVX2__)
    #define FX_PREFETCH 512   /* elements ahead: a streaming block keeps the loads in flight */
    static inline __attribute__((always_inline)) void fx_store8(void* out, Py_ssize_t j, int w,
                                                                int uns, __m128i q0, __m128i q1) {
        /* eight int32 words in range, stored as w-byte words */
        if (w == 4) {
            _mm_storeu_si128((__m128i*)((int32_t*)out + j), q0);
            _mm_storeu_si128((__m128i*)((int32_t*)out + j + 4), q1);
        } else if (w == 2) {
            _mm_storeu_si128((__m128i*)((int16_t*)out + j),
                             uns ? _mm_packus_epi32(q0, q1) : _mm_packs_epi32(q0, q1));
        } else {
            __m128i h = _mm_packs_epi32(q0, q1);
            _mm_storel_epi64((__m128i*)((int8_t*)out + j),
                             uns ? _mm_packus_epi16(h, h) : _mm_packs_epi16(h, h));
        }
    }

    /* fx_hsum64: in the block of fxk_sr_philox above */
    static inline __attribute__((always_inline)) int64_t fx_hsum32(__m256i a) {
        int32_t l[8];
        _mm256_storeu_si256((__m256i*)l, a);
        return (int64_t)l[0] + l[1] + l[2] + l[3] + l[4] + l[5] + l[6] + l[7];
    }
    #endif

    static inline __attribute__((always_inline)) int fx_rne_sat_body(
            const void* xv, int f32, void* out, int w, int uns, int count, Py_ssize_t n,
            double scale, double lo, double hi, int64_t* cnt) {
        /* count = 0: the vector body keeps no counts (nobody records them: no Counters block
           is active), about a third of its operations; cnt is then not meaningful */
        Py_ssize_t j = 0;
        int64_t n_inexact = 0, n_up = 0, nov = 0;
        uint64_t badbits = 0;
    #if defined(__AVX2__)
        if (f32 && w <= 2 && scale >= 1.0) {
            const float* x = (const float*)xv;
            const __m256 vs = _mm256_set1_ps((float)scale), zero = _mm256_setzero_ps();
            const __m256 vlo = _mm256_set1_ps((float)lo), vhi = _mm256_set1_ps((float)hi);
            __m256i a_inx = _mm256_setzero_si256(), a_up = _mm256_setzero_si256();
            __m256i a_ov = _mm256_setzero_si256();
            __m256 a_bad = _mm256_setzero_ps();
            for (; j + 8 <= n; j += 8) {
                _mm_prefetch((const char*)(x + j + FX_PREFETCH), _MM_HINT_T0);
                __m256 t = _mm256_mul_ps(_mm256_loadu_ps(x + j), vs);
                __m256 y = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                __m256 d = _mm256_sub_ps(t, y);
                a_bad = _mm256_or_ps(a_bad, d);
                __m256 yc = _mm256_max_ps(_mm256_min_ps(y, vhi), vlo);
                if (count) {
                    a_inx = _mm256_sub_epi32(a_inx, _mm256_castps_si256(_mm256_cmp_ps(d, zero, _CMP_NEQ_OQ)));
                    a_up = _mm256_add_epi32(a_up, _mm256_srli_epi32(_mm256_castps_si256(d), 31));
                    a_ov = _mm256_sub_epi32(a_ov, _mm256_castps_si256(_mm256_cmp_ps(yc, y, _CMP_NEQ_OQ)));
                }
                __m256i q = _mm256_cvttps_epi32(yc);
                fx_store8(out, j, w, uns, _mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
            }
            n_inexact = fx_hsum32(a_inx);
            n_up = fx_hsum32(a_up);
            nov = fx_hsum32(a_ov);
            {
                uint32_t b[8];
                _mm256_storeu_ps((float*)b, a_bad);
                for (int k = 0; k < 8; k++)
                    badbits |= (uint64_t)((b[k] >> 30) & 1) << 62;
            }
        } else {
            /* 8- and 16-bit words are clamped as int32 lanes: y (capped at 2**31 - 1; below
               -2**31 the conversion gives INT32_MIN) converts exactly, then min/max with lo,
               hi; saturated when the clamp changed the int32.  32- and 64-bit words (|lo|, |hi|
               < 2**51): in doubles. */
            const __m256d vs = _mm256_set1_pd(scale), zero = _mm256_setzero_pd();
            const __m256d vtop = _mm256_set1_pd(2147483647.0), vmagic = _mm256_set1_pd(6755399441055744.0);
            const __m256d vlo = _mm256_set1_pd(lo), vhi = _mm256_set1_pd(hi);
            const __m128i ilo = _mm_set1_epi32((int32_t)lo), ihi = _mm_set1_epi32((int32_t)hi);
            __m256i a_inx = _mm256_setzero_si256(), a_up = _mm256_setzero_si256();
            __m256i a_ov = _mm256_setzero_si256();
            __m128i a_kept = _mm_setzero_si128();
            __m256d a_bad = _mm256_setzero_pd();
            for (; j + 8 <= n; j += 8) {
                __m128i q[2];
                _mm_prefetch((const char*)xv + (j + FX_PREFETCH) * (f32 ? 4 : 8), _MM_HINT_T0);
                for (int v = 0; v < 2; v++) {
                    __m256d t = f32 ? _mm256_cvtps_pd(_mm_loadu_ps((const float*)xv + j + 4 * v))
                                    : _mm256_loadu_pd((const double*)xv + j + 4 * v);
                    t = _mm256_mul_pd(t, vs);
                    __m256d y = _mm256_round_pd(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                    __m256d d = _mm256_sub_pd(t, y);
                    a_bad = _mm256_or_pd(a_bad, d);
                    if (count) {
                        a_inx = _mm256_sub_epi64(a_inx, _mm256_castpd_si256(_mm256_cmp_pd(d, zero, _CMP_NEQ_OQ)));
                        a_up = _mm256_add_epi64(a_up, _mm256_srli_epi64(_mm256_castpd_si256(d), 63));
                    }
                    if (w == 8) {
                        /* |yc| < 2**51: the bits of yc + 1.5 * 2**52 minus those of 1.5 * 2**52 */
                        __m256d yc = _mm256_max_pd(_mm256_min_pd(y, vhi), vlo);
                        if (count)
                            a_ov = _mm256_sub_epi64(a_ov, _mm256_castpd_si256(_mm256_cmp_pd(yc, y, _CMP_NEQ_OQ)));
                        _mm256_storeu_si256((__m256i*)((int64_t*)out + j + 4 * v),
                                            _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(yc, vmagic)),
                                                             _mm256_castpd_si256(vmagic)));
                        q[v] = _mm_setzero_si128();
                    } else if (w <= 2) {
                        __m128i qi = _mm256_cvttpd_epi32(_mm256_min_pd(y, vtop));
                        q[v] = _mm_max_epi32(_mm_min_epi32(qi, ihi), ilo);
                        if (count)
                            a_kept = _mm_sub_epi32(a_kept, _mm_cmpeq_epi32(qi, q[v]));
                    } else {
                        __m256d yc = _mm256_max_pd(_mm256_min_pd(y, vhi), vlo);
                        if (count)
                            a_ov = _mm256_sub_epi64(a_ov, _mm256_castpd_si256(_mm256_cmp_pd(yc, y, _CMP_NEQ_OQ)));
                        q[v] = _mm256_cvttpd_epi32(yc);
                    }
                }
                if (w != 8)
                    fx_store8(out, j, w, uns, q[0], q[1]);
            }
            n_inexact = fx_hsum64(a_inx);
            n_up = fx_hsum64(a_up);
            if (w <= 2) {
                int32_t k[4];
                _mm_storeu_si128((__m128i*)k, a_kept);
                nov = j - ((int64_t)k[0] + k[1] + k[2] + k[3]);
            } else {
                nov = fx_hsum64(a_ov);
            }
            {
                uint64_t b[4];
                _mm256_storeu_pd((double*)b, a_bad);
                badbits = b[0] | b[1] | b[2] | b[3];
            }
        }
    #else
        return -1;
    #endif
        for (; j < n; j++) {
            double t = (f32 ? (double)((const float*)xv)[j] : ((const double*)xv)[j]) * scale;
            double y = rint(t), d = t - y, yc;
            uint64_t db;
            memcpy(&db, &d, 8);
            badbits |= db;
            n_inexact += d != 0.0;
            n_up += d < 0.0;
            yc = y < hi ? y : hi;
            yc = yc > lo ? yc : lo;
            nov += yc != y;
            if (w == 8) ((int64_t*)out)[j] = (int64_t)yc;
            else if (w == 4) ((int32_t*)out)[j] = (int32_t)yc;
            else if (w == 2) ((int16_t*)out)[j] = (int16_t)(int32_t)yc;
            else ((int8_t*)out)[j] = (int8_t)(int32_t)yc;
        }
        cnt[0] = n_inexact;
        cnt[1] = n_up;
        cnt[2] = nov;
        return (badbits >> 62) & 1;
    }

    static inline __attribute__((always_inline)) int fx_rne_sat_disp(
            const void* x, int f32, void* out, int w, Py_ssize_t n, double scale, double lo,
            double hi, int64_t* cnt, int count) {
        /* the pack of each width: signed saturating, or unsigned when lo >= 0 (the values are
           in range, so the pack only narrows them) */
        int uns = lo >= 0.0;
        double top = w == 1 ? (uns ? 255.0 : 127.0) : w == 2 ? (uns ? 65535.0 : 32767.0)
                     : w == 4 ? 2147483647.0 : 0x1p51 - 1.0;
        double bottom = w == 1 ? -128.0 : w == 2 ? -32768.0 : w == 4 ? -2147483648.0 : -0x1p51;
        if (!(lo >= bottom && hi <= top && (w == 1 || w == 2 || w == 4 || w == 8) && scale <= 0x1p100))
            return -1;
        /* every (input type, width, pack) a constant of its own copy of the body */
        #define FX_RNE_WIDTHS(F32) \
            if (w == 1) return uns ? fx_rne_sat_body(x, F32, out, 1, 1, count, n, scale, lo, hi, cnt) \
                                   : fx_rne_sat_body(x, F32, out, 1, 0, count, n, scale, lo, hi, cnt); \
            if (w == 2) return uns ? fx_rne_sat_body(x, F32, out, 2, 1, count, n, scale, lo, hi, cnt) \
                                   : fx_rne_sat_body(x, F32, out, 2, 0, count, n, scale, lo, hi, cnt); \
            if (w == 4) return fx_rne_sat_body(x, F32, out, 4, 0, count, n, scale, lo, hi, cnt); \
            return fx_rne_sat_body(x, F32, out, 8, 0, count, n, scale, lo, hi, cnt);
        if (f32) {
            FX_RNE_WIDTHS(1)
        }
        FX_RNE_WIDTHS(0)
        #undef FX_RNE_WIDTHS
    }

    static int fx_rne_sat(const void* x, int f32, void* out, int w, Py_ssize_t n, double scale,
                          double lo, double hi, int64_t* cnt) {
        return fx_rne_sat_disp(x, f32, out, w, n, scale, lo, hi, cnt, 1);
    }

    static int fx_rne_sat_nocount(const void* x, int f32, void* out, int w, Py_ssize_t n,
                                  double scale, double lo, double hi, int64_t* cnt) {
        return fx_rne_sat_disp(x, f32, out, w, n, scale, lo, hi, cnt, 0);
    }
    """
    int rne_sat_avx2 "fx_rne_sat"(const void* x, int f32, void* out, int w, Py_ssize_t n,
                                  double scale, double lo, double hi, int64_t* cnt) noexcept nogil
    int rne_sat_avx2_nocount "fx_rne_sat_nocount"(const void* x, int f32, void* out, int w,
        Py_ssize_t n, double scale, double lo, double hi, int64_t* cnt) noexcept nogil


cdef inline int block_round_sat(const real_t* x, word_t* out, Py_ssize_t n, double scale,
                                const dround* k, double lo, double hi, counts_t* c,
                                bint count) noexcept nogil:
    """Deterministic rounding and saturation of a block of floats into words of at most 51 bits,
    every step in doubles so that the loop vectorizes (AVX2 converts doubles to int32 lanes,
    not to int64).  Exact for every finite t = x * 2**fl that is exact (a normal double or
    scale >= 1, else block_tiny refuses the block): rint(t), floor(t) and d = t - rint(t)
    (|d| <= 1/2) are exact, so are the tie candidates t +- 1/2 and the compares with the
    integral lo, hi; t beyond any range is an integer and saturates.  An element is inexact
    when t is not an integer and rounded up when the result exceeds t; NaN and inf (d is NaN)
    send the block to the scalar path.
    Returns 1 when the block needs the scalar path; what it stored is then overwritten.
    count = False: the nearest_even vector block may leave c's counts out (no Counters block
    records them)."""
    cdef Py_ssize_t j
    cdef double t, y, d, fl, u
    cdef double ka = 0.5 * k.ka, kb = 0.5 * k.kb, kc = k.kc
    cdef double k_up = k.k_up, k_neg = k.k_neg, k_pos = k.k_pos, k_even = k.k_even
    cdef int64_t bad = 0, n_inexact = 0, n_up = 0, nov = 0
    cdef int64_t cnt[3]
    cdef int fast
    if scale < 1.0 and block_tiny(x, n, scale):
        return 1
    # three loops (nearest_even, the other nearest modes, the directed modes), each
    # branch-free; they differ only in how y is found
    if k.nearest and kc == -1.0:
        if count:
            fast = rne_sat_avx2(<const void*>x, real_t is float, <void*>out, sizeof(word_t), n,
                                scale, lo, hi, cnt)
        else:
            fast = rne_sat_avx2_nocount(<const void*>x, real_t is float, <void*>out,
                                        sizeof(word_t), n, scale, lo, hi, cnt)
        if fast == 1:
            return 1
        if fast == 0:
            add_block(c, n, cnt[0], cnt[1], cnt[2])
            return 0
        for j in range(n):
            t = x[j] * scale
            y = rint(t)
            d = t - y
            bad |= d != d
            n_inexact += d != 0.0
            n_up += d < 0.0
            nov += put_sat(out, j, y, lo, hi)
    elif k.nearest:
        for j in range(n):
            t = x[j] * scale
            y = rint(t)
            d = t - y
            bad |= d != d
            y = t + (ka + kb * copysign(1.0, t) + kc * d) if fabs(d) == 0.5 else y
            n_inexact += d != 0.0
            n_up += y > t
            nov += put_sat(out, j, y, lo, hi)
    else:
        for j in range(n):
            t = x[j] * scale
            fl = floor(t)
            d = t - fl
            bad |= d != d
            u = k_up + (k_neg if t < 0.0 else k_pos) + (k_even if floor(fl * 0.5) * 2.0 == fl else 0.0)
            y = fl + (u if t != fl else 0.0)
            n_inexact += t != fl
            n_up += y > t
            nov += put_sat(out, j, y, lo, hi)
    if bad:
        return 1
    add_block(c, n, n_inexact, n_up, nov)
    return 0


cdef inline int block_f64_det(const real_t* x, int64_t* q, Py_ssize_t n, double scale,
                              uint32_t tbl, counts_t* c) noexcept nogil:
    """Deterministic rounding of a block of floats into raw q values, written so that the
    compiler vectorizes it.  Returns 1 (and counts nothing) when some element needs the scalar
    path: NaN, inf, |x * 2**fl| >= 2**62 or a product that is not a normal double."""
    cdef Py_ssize_t j
    cdef double t, qd, phi
    cdef int64_t qi, n_inexact = 0, n_up = 0
    cdef int up, inexact, small_neg
    if block_f64_bad(x, n, scale):
        return 1
    for j in range(n):
        t = x[j] * scale
        qd = floor(t)
        phi = t - qd
        qi = <int64_t>qd
        small_neg = (t < 0.0) & (t > -0.5)
        inexact = (phi != 0.0) | small_neg
        up = det_up_tbl(tbl, inexact, (phi > 0.5) | small_neg, (phi == 0.5) & (small_neg ^ 1),
                        qi < 0, qi & 1)
        n_inexact += inexact
        n_up += up
        q[j] = qi + up
    c.n += n
    c.inexact += n_inexact
    c.up += n_up
    return 0


cdef inline int block_store(const cspec* cs, const int64_t* q, word_t* out, Py_ssize_t n,
                            counts_t* c) noexcept nogil:
    """Overflow handling and store of a block of raw values |q| <= 2**62.  Returns 1 (storing
    nothing) under overflow='error' when some value overflows; the caller then takes the
    scalar path, which finds the first index."""
    cdef Py_ssize_t j
    cdef int64_t y, lo = cs.lo64, hi = cs.hi64, nov = 0
    cdef uint64_t mask = <uint64_t>cs.mask, sbit
    cdef int wl = cs.wl
    for j in range(n):
        y = q[j]
        nov += (y < lo) | (y > hi)
    if nov and cs.ovf == OV_ERROR:
        return 1
    c.ovf += nov
    if cs.ovf == OV_WRAP:
        sbit = (<uint64_t>1 << (wl - 1)) if cs.is_signed else 0
        for j in range(n):
            # keep the low wl bits, sign-extended for signed formats
            out[j] = <word_t><int64_t>((((<uint64_t>q[j]) & mask) ^ sbit) - sbit)
    else:
        for j in range(n):
            y = q[j]
            out[j] = <word_t>(lo if y < lo else (hi if y > hi else y))
    return 0


cdef inline void block_int_det(int64_t* q, Py_ssize_t n, int s, uint32_t tbl,
                               counts_t* c) noexcept nogil:
    """In place: q[j] <- deterministic cast of q[j] * 2**-s for |q[j] * 2**max(0,-s)| <= 2**62
    (vectorizable: no branches in the loop)."""
    cdef Py_ssize_t j
    cdef int64_t v, qi, rem, half, mask, n_inexact = 0, n_up = 0
    cdef int inexact, up
    c.n += n
    if s <= 0:
        for j in range(n):
            q[j] = q[j] << (-s)
        return
    mask = ((<int64_t>1) << s) - 1
    half = (<int64_t>1) << (s - 1)
    for j in range(n):
        v = q[j]
        qi = v >> s
        rem = v & mask
        inexact = rem != 0
        up = det_up_tbl(tbl, inexact, rem > half, rem == half, qi < 0, qi & 1)
        n_inexact += inexact
        n_up += up
        q[j] = qi + up
    c.inexact += n_inexact
    c.up += n_up


cdef struct ibias:
    # a deterministic mode as the bias of one floor division: y = floor((v + b) / 2**s) with
    # b = b0 + b_neg * (v < 0) + b_bit * (bit s of v), then y |= 1 for inexact v under jam
    bint ok           # 1 <= s <= 61: |v| <= 2**62 and b < 2**61, so v + b fits int64
    int64_t b0, b_neg, b_bit, jam


cdef inline ibias round_bias(int mode, int s) noexcept nogil:
    cdef ibias k
    cdef int64_t one = (<int64_t>1) << s if 1 <= s <= 61 else 2, half = one >> 1
    k.ok = 1 <= s <= 61 and mode < RM_STOCHASTIC
    k.jam = mode == RM_JAM
    # (b0, b_neg, b_bit) per mode; floor and jam: no bias
    k.b0, k.b_neg, k.b_bit = 0, 0, 0
    if mode == RM_CEIL: k.b0 = one - 1
    elif mode == RM_TOWARD_ZERO: k.b_neg = one - 1
    elif mode == RM_AWAY_FROM_ZERO: k.b0, k.b_neg = one - 1, 1 - one
    elif mode == RM_NEAREST_UP: k.b0 = half
    elif mode == RM_NEAREST_DOWN: k.b0 = half - 1
    elif mode == RM_NEAREST_ZERO: k.b0, k.b_neg = half - 1, 1
    elif mode == RM_NEAREST_AWAY: k.b0, k.b_neg = half, -1
    elif mode == RM_NEAREST_EVEN: k.b0, k.b_bit = half - 1, 1
    elif mode == RM_NEAREST_ODD: k.b0, k.b_bit = half, -1
    return k


ctypedef fused prod_t:
    int64_t      # x = v[j], the exact value already formed
    int32_t      # x = a[j] * b[j], the product of two int32 words formed here


cdef inline void biased_floor_sat(const prod_t* pa, const prod_t* pb, word_t* out, Py_ssize_t n,
                                  int s, const ibias* kb, int64_t lo, int64_t hi,
                                  counts_t* c) noexcept nogil:
    """The deterministic cast (kb.ok) of x[j] * 2**-s with saturation, in one vectorized pass:
    floors by logical shifts of x + 2**63 (AVX2 has no 64-bit arithmetic shift) and the bias's
    b_bit * (q & 1) as a mask (nor a 64-bit multiply).  x[j] = pa[j], or for int32 words the
    product pa[j] * pb[j] (products up to 2**62, no int64 buffer; gcc uses vpmuldq)."""
    cdef Py_ssize_t j
    cdef int64_t x, q, y, inexact, n_inexact = 0, n_up = 0, nov = 0
    cdef uint64_t sign = (<uint64_t>1) << 63
    cdef int64_t qoff = <int64_t>((<uint64_t>1) << (63 - s)), mask = ((<int64_t>1) << s) - 1
    cdef int64_t b0 = kb.b0, b_neg = kb.b_neg, b_bit = kb.b_bit, jam = kb.jam
    for j in range(n):
        if prod_t is int64_t:
            x = pa[j]
        else:
            x = <int64_t>pa[j] * <int64_t>pb[j]
        q = <int64_t>(((<uint64_t>x) ^ sign) >> s) - qoff
        inexact = (x & mask) != 0
        y = <int64_t>(((<uint64_t>(x + b0 + (b_neg & -(<int64_t>(x < 0))) + (b_bit & -(q & 1)))) ^ sign) >> s) - qoff
        y = y | (jam & inexact)
        n_inexact += inexact
        n_up += y - q
        nov += (y < lo) | (y > hi)
        out[j] = <word_t>(lo if y < lo else (hi if y > hi else y))
    add_block(c, n, n_inexact, n_up, nov)


cdef inline void round_store_sat(int64_t* v, word_t* out, Py_ssize_t n, int s, uint32_t tbl,
                                 const ibias* kb, int64_t lo, int64_t hi, counts_t* c) noexcept nogil:
    """Deterministic cast of v[j] * 2**-s (small words, s <= 62) with saturation, stored to out
    in one vectorized pass."""
    cdef Py_ssize_t j
    cdef int64_t x, qi, rem, y, half, mask, n_inexact = 0, n_up = 0, nov = 0
    cdef int64_t inexact, up, qoff
    cdef uint64_t sign = (<uint64_t>1) << 63, tbl64 = tbl
    if kb.ok:
        biased_floor_sat(<const int64_t*>v, <const int64_t*>v, out, n, s, kb, lo, hi, c)
        return
    if s <= 0:
        for j in range(n):
            y = v[j] << (-s)
            nov += (y < lo) | (y > hi)
            out[j] = <word_t>(lo if y < lo else (hi if y > hi else y))
    else:
        mask = ((<int64_t>1) << s) - 1
        half = (<int64_t>1) << (s - 1)
        qoff = <int64_t>((<uint64_t>1) << (63 - s))
        for j in range(n):
            x = v[j]
            # floor(x / 2**s) by a logical shift of x + 2**63 (AVX2 has no 64-bit arithmetic
            # shift, so x >> s would not vectorize); all flags in 64-bit lanes
            qi = <int64_t>(((<uint64_t>x) ^ sign) >> s) - qoff
            rem = x & mask
            inexact = rem != 0
            up = (tbl64 >> (inexact | ((<int64_t>(rem > half)) << 1) | ((<int64_t>(rem == half)) << 2)
                            | ((<int64_t>(qi < 0)) << 3) | ((qi & 1) << 4))) & 1
            n_inexact += inexact
            n_up += up
            y = qi + up
            nov += (y < lo) | (y > hi)
            out[j] = <word_t>(lo if y < lo else (hi if y > hi else y))
    c.n += n
    c.inexact += n_inexact
    c.up += n_up
    c.ovf += nov


cdef inline void mul_round_sat32(const src_t* pa, const src_t* pb, word_t* out, Py_ssize_t n,
                                 int s, uint32_t tbl, int32_t lo, int32_t hi,
                                 counts_t* c) noexcept nogil:
    """Product, deterministic rounding and saturation in one pass of int32 lanes, for words
    whose exact products and results fit 31 bits (the caller proves it) and 1 <= s <= 30."""
    cdef Py_ssize_t j
    cdef int32_t v, qi, rem, y, half = (<int32_t>1) << (s - 1), mask = ((<int32_t>1) << s) - 1
    cdef int32_t inexact, up, n_inexact = 0, n_up = 0, nov = 0
    for j in range(n):
        v = <int32_t>pa[j] * <int32_t>pb[j]
        qi = v >> s
        rem = v & mask
        inexact = rem != 0
        up = (tbl >> (inexact | ((rem > half) << 1) | ((rem == half) << 2) | ((qi < 0) << 3)
                      | ((qi & 1) << 4))) & 1
        n_inexact += inexact
        n_up += up
        y = qi + up
        nov += (y < lo) | (y > hi)
        out[j] = <word_t>(lo if y < lo else (hi if y > hi else y))
    c.n += n
    c.inexact += n_inexact
    c.up += n_up
    c.ovf += nov


ctypedef fused sr_src_t:
    int32_t      # v = pa[j], the exact value already formed (pb unused)
    int16_t      # v = pa[j] * pb[j], the product of two 8/16-bit words formed here
    int8_t


cdef inline void sr_trunc_sat32(const sr_src_t* pa, const sr_src_t* pb, const uint64_t* R,
                                word_t* out, Py_ssize_t n, int s, int r, int lsh, int rsh,
                                int32_t lo, int32_t hi, counts_t* c) noexcept nogil:
    """sr_round_sat32 for plain 'stochastic' with the 'trunc' rule: the carry of
    floor(phi * 2**r) + R into bit r, the other rules' terms left out of the loop (one loop with
    a branch on the rule does not vectorize: 4x slower).  For 8/16-bit words the product is
    formed in the loop: product, carry, saturation and store in one pass over the block (no
    int32 buffer written and read back)."""
    cdef Py_ssize_t j
    cdef int32_t v, rem, y, yc, up, n_inexact = 0, n_up = 0, nov = 0
    cdef int32_t mask = ((<int32_t>1) << s) - 1
    for j in range(n):
        if sr_src_t is int32_t:
            v = pa[j]
        else:
            v = <int32_t>pa[j] * <int32_t>pb[j]
        rem = v & mask
        # an exact value has phi = 0 and R < 2**r, so no carry: no test of rem != 0 needed
        up = (((rem << lsh) >> rsh) + <int32_t>R[j]) >> r
        n_inexact += rem != 0
        n_up += up
        y = (v >> s) + up
        yc = y if y < hi else hi
        yc = yc if yc > lo else lo
        nov += yc != y
        out[j] = <word_t>yc
    add_block(c, n, n_inexact, n_up, nov)


cdef extern from *:
    """
    #if defined(__AVX2__)
    #include <immintrin.h>
    #endif
    /* sr_trunc_sat32's product case in 16-bit lanes for int8 words (products fit 15 bits), r <= 16
       (floor(phi * 2**r) and R fit 16 bits: the carry of their sum is its wrap-around),
       1 <= s <= 14 and int8 output words: 16 elements per AVX2 vector instead of 8 (gcc
       widens 16-bit shifts by a variable count to 32 bits, so the loop is written out).
       c4: inexact, up, ovf counts added. */
    #if defined(__AVX2__)
    typedef struct {
        __m256i vmask, one, zero, vlo, vhi, acc_in, acc_up, acc_ov;
        __m128i cl, cr, cs, ct;
        int k;
    } fxk_sr16;

    /* always inlined: the accumulators stay in registers across the loop */
    static inline __attribute__((always_inline)) void fxk_sr16_init(
            fxk_sr16* q, int s, int r, int lsh, int rsh, int16_t lo, int16_t hi) {
        q->vmask = _mm256_set1_epi16((short)((1 << s) - 1));
        q->one = _mm256_set1_epi16(1);
        q->zero = _mm256_setzero_si256();
        q->vlo = _mm256_set1_epi16(lo);
        q->vhi = _mm256_set1_epi16(hi);
        q->acc_in = q->acc_up = q->acc_ov = q->zero;
        q->cl = _mm_cvtsi32_si128(lsh);
        q->cr = _mm_cvtsi32_si128(rsh);
        q->cs = _mm_cvtsi32_si128(s);
        q->ct = _mm_cvtsi32_si128(16 - r);
        q->k = 0;
    }

    static inline void fxk_sr16_flush(fxk_sr16* q, int64_t* c4) {
        int16_t t[48];
        _mm256_storeu_si256((__m256i*)t, q->acc_in);
        _mm256_storeu_si256((__m256i*)(t + 16), q->acc_up);
        _mm256_storeu_si256((__m256i*)(t + 32), q->acc_ov);
        for (int i = 0; i < 16; i++) { c4[0] += t[i]; c4[1] += t[16 + i]; c4[2] += t[32 + i]; }
        q->acc_in = q->acc_up = q->acc_ov = q->zero;
        q->k = 0;
    }

    static inline __attribute__((always_inline)) void fxk_sr16_vec(
            fxk_sr16* q, const int8_t* pa, const int8_t* pb, __m256i rr, int8_t* out, int64_t* c4) {
        /* 16 elements; rr: their 16 draws R in 16-bit lanes */
        __m256i a = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)pa));
        __m256i b = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)pb));
        __m256i v = _mm256_mullo_epi16(a, b);
        __m256i rem = _mm256_and_si256(v, q->vmask);
        /* floor(phi * 2**r) and R moved to the top of 16 bits: bit r of their sum is the
           carry out of the 16-bit add */
        __m256i I = _mm256_sll_epi16(_mm256_srl_epi16(_mm256_sll_epi16(rem, q->cl), q->cr), q->ct);
        rr = _mm256_sll_epi16(rr, q->ct);
        __m256i sm = _mm256_add_epi16(I, rr);
        __m256i nocarry = _mm256_cmpeq_epi16(_mm256_max_epu16(sm, I), sm);
        __m256i up = _mm256_andnot_si256(nocarry, q->one);
        __m256i y = _mm256_add_epi16(_mm256_sra_epi16(v, q->cs), up);
        __m256i yc = _mm256_min_epi16(_mm256_max_epi16(y, q->vlo), q->vhi);
        __m256i inexact = _mm256_andnot_si256(_mm256_cmpeq_epi16(rem, q->zero), q->one);
        __m256i ovf = _mm256_andnot_si256(_mm256_cmpeq_epi16(yc, y), q->one);
        q->acc_in = _mm256_add_epi16(q->acc_in, inexact);
        q->acc_up = _mm256_add_epi16(q->acc_up, up);
        q->acc_ov = _mm256_add_epi16(q->acc_ov, ovf);
        __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi16(yc, yc), 0x08);
        _mm_storeu_si128((__m128i*)out, _mm256_castsi256_si128(p));
        if (++q->k == 2048)   /* 16-bit lane counters: flush before they could wrap */
            fxk_sr16_flush(q, c4);
    }
    #endif

    static inline void fxk_sr16_one(int8_t a, int8_t b, uint64_t R, int8_t* out, int s, int r,
                                    int lsh, int rsh, int16_t lo, int16_t hi, int64_t* c4) {
        int32_t v = (int32_t)a * (int32_t)b;
        int32_t rem = v & ((1 << s) - 1);
        int32_t up = ((int32_t)(((uint32_t)rem << lsh) >> rsh) + (int32_t)R) >> r;
        int32_t y = (v >> s) + up, yc = y < hi ? y : hi;
        yc = yc > lo ? yc : lo;
        c4[0] += rem != 0;
        c4[1] += up;
        c4[2] += yc != y;
        *out = (int8_t)yc;
    }

    static void fxk_mul_sr_trunc_sat16(const int8_t* pa, const int8_t* pb, const uint64_t* R,
                                       int8_t* out, Py_ssize_t n, int s, int r, int lsh,
                                       int rsh, int16_t lo, int16_t hi, int64_t* c4) {
        Py_ssize_t j = 0;
    #if defined(__AVX2__)
        const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        fxk_sr16 q;
        fxk_sr16_init(&q, s, r, lsh, rsh, lo, hi);
        for (; j + 16 <= n; j += 16) {
            /* the 16 draws (< 2**16 in uint64 words) to 16-bit lanes */
            __m256i r0 = _mm256_loadu_si256((const __m256i*)(R + j));
            __m256i r1 = _mm256_loadu_si256((const __m256i*)(R + j + 4));
            __m256i r2 = _mm256_loadu_si256((const __m256i*)(R + j + 8));
            __m256i r3 = _mm256_loadu_si256((const __m256i*)(R + j + 12));
            __m256i rr = _mm256_packus_epi32(_mm256_packus_epi32(r0, r1), _mm256_packus_epi32(r2, r3));
            fxk_sr16_vec(&q, pa + j, pb + j, _mm256_permutevar8x32_epi32(rr, order), out + j, c4);
        }
        fxk_sr16_flush(&q, c4);
    #endif
        for (; j < n; j++)
            fxk_sr16_one(pa[j], pb[j], R[j], out + j, s, r, lsh, rsh, lo, hi, c4);
    }

    static void fxk_mul_sr_pcg16(const int8_t* pa, const int8_t* pb, fxs_pcg64_st* g,
                                 int8_t* out, Py_ssize_t n, int s, int r, int lsh, int rsh,
                                 int16_t lo, int16_t hi, int64_t* c4) {
        /* fxk_mul_sr_trunc_sat16 with the draws R = w >> (64 - r) stepped from numpy's PCG64
           in the loop (as fxs_pcg64_fill: four lanes k + 1 steps ahead, stepping 4 at a time),
           no draw buffer: the scalar 128-bit multiplies of the next draws run while the vector
           unit rounds the last ones.  g is left after the n draws. */
        Py_ssize_t j = 0;
        fxs_u128 st = g->state, inc = g->inc;
        int sh = 64 - r;
    #if defined(__AVX2__)
        if (n >= 16) {
            fxs_u128 M = FXS_PCG_MULT, M2 = M * M, M4 = M2 * M2, C4 = inc * (M2 * M + M2 + M + 1);
            fxs_u128 x0 = st * M + inc, x1 = x0 * M + inc, x2 = x1 * M + inc, x3 = x2 * M + inc;
            uint16_t t[16];
            fxk_sr16 q;
            fxk_sr16_init(&q, s, r, lsh, rsh, lo, hi);
            for (; j + 16 <= n; j += 16) {
                for (int k = 0; k < 16; k += 4) {
                    t[k] = (uint16_t)(fxs_xsl_rr(x0) >> sh);
                    t[k + 1] = (uint16_t)(fxs_xsl_rr(x1) >> sh);
                    t[k + 2] = (uint16_t)(fxs_xsl_rr(x2) >> sh);
                    t[k + 3] = (uint16_t)(fxs_xsl_rr(x3) >> sh);
                    st = x3;
                    x0 = x0 * M4 + C4; x1 = x1 * M4 + C4; x2 = x2 * M4 + C4; x3 = x3 * M4 + C4;
                }
                __m256i rr = _mm256_loadu_si256((const __m256i*)t);
                fxk_sr16_vec(&q, pa + j, pb + j, rr, out + j, c4);
            }
            fxk_sr16_flush(&q, c4);
        }
    #endif
        for (; j < n; j++)
            fxk_sr16_one(pa[j], pb[j], fxs_pcg64_next(&st, inc) >> sh, out + j, s, r, lsh, rsh,
                         lo, hi, c4);
        g->state = st;
    }
    """
    void mul_sr_trunc_sat16 "fxk_mul_sr_trunc_sat16"(const int8_t* pa, const int8_t* pb,
        const uint64_t* R, int8_t* out, Py_ssize_t n, int s, int r, int lsh, int rsh, int16_t lo,
        int16_t hi, int64_t* c4) noexcept nogil
    void mul_sr_pcg16 "fxk_mul_sr_pcg16"(const int8_t* pa, const int8_t* pb, pcg64_st* g,
        int8_t* out, Py_ssize_t n, int s, int r, int lsh, int rsh, int16_t lo, int16_t hi,
        int64_t* c4) noexcept nogil


cdef inline void mul_sr_store32(const sr_src_t* pa, const sr_src_t* pb, const uint64_t* R,
                                char* out, int w, Py_ssize_t n, int s, const srk_t* k,
                                int32_t lo, int32_t hi, counts_t* c) noexcept nogil:
    if w == 1:
        sr_trunc_sat32(pa, pb, R, <int8_t*>out, n, s, k.r, k.lsh, k.rsh, lo, hi, c)
    elif w == 2:
        sr_trunc_sat32(pa, pb, R, <int16_t*>out, n, s, k.r, k.lsh, k.rsh, lo, hi, c)
    else:
        sr_trunc_sat32(pa, pb, R, <int32_t*>out, n, s, k.r, k.lsh, k.rsh, lo, hi, c)


cdef int mul_sr_fused(const char* a, const char* b, int t, Py_ssize_t i0, const uint64_t* R,
                      char* out, int w, Py_ssize_t n, int s, const cspec* cs,
                      counts_t* c) noexcept nogil:
    """The SR product of binop's int32-lane case in one pass for 8/16-bit words under plain
    'stochastic' with the 'trunc' rule (sr_round_sat32's fused case); 1: not this case, nothing
    done.  out is already offset."""
    cdef srk_t k = sr_consts(cs, s)
    cdef int32_t lo = <int32_t>cs.lo64, hi = <int32_t>cs.hi64
    if not k.k_tr or k.k_t or k.k_v:
        return 1
    cdef int64_t c4[3]
    if t == WORD_I8 and w == 1 and k.r <= 16 and s <= 14:
        c4[0] = c4[1] = c4[2] = 0
        mul_sr_trunc_sat16(<const int8_t*>a + i0, <const int8_t*>b + i0, R, <int8_t*>out, n, s,
                           k.r, k.lsh, k.rsh, <int16_t>lo, <int16_t>hi, c4)
        add_block(c, n, c4[0], c4[1], c4[2])
    elif t == WORD_I16:
        mul_sr_store32(<const int16_t*>a + i0, <const int16_t*>b + i0, R, out, w, n, s, &k, lo, hi, c)
    elif t == WORD_I8:
        mul_sr_store32(<const int8_t*>a + i0, <const int8_t*>b + i0, R, out, w, n, s, &k, lo, hi, c)
    else:
        return 1
    return 0


cdef int mul_sr_pcg_fused(const char* a, const char* b, int t, Py_ssize_t i0, pcg64_st* g,
                          char* out, int w, Py_ssize_t n, int s, const cspec* cs,
                          counts_t* c) noexcept nogil:
    """mul_sr_fused's int8 case with its draws stepped from the inline PCG64 source g in the
    same loop (mul_sr_pcg16); 1: not this case, nothing done (no draw taken)."""
    cdef srk_t k = sr_consts(cs, s)
    if not k.k_tr or k.k_t or k.k_v or t != WORD_I8 or w != 1 or k.r > 16 or s > 14:
        return 1
    cdef int64_t c4[3]
    c4[0] = c4[1] = c4[2] = 0
    mul_sr_pcg16(<const int8_t*>a + i0, <const int8_t*>b + i0, g, <int8_t*>out, n, s, k.r,
                 k.lsh, k.rsh, <int16_t>cs.lo64, <int16_t>cs.hi64, c4)
    add_block(c, n, c4[0], c4[1], c4[2])
    return 0


cdef inline bint sr_lanes32(const cspec* cs, int small, int s) noexcept nogil:
    """binop's SR in int32 lanes applies (sr_store_sat32, mul_sr_fused): plain SR rules with
    saturation, products, s and the output range within 31-bit lanes."""
    return (cs.mode >= RM_STOCHASTIC and small == 2 and cs.rule != SR_TT_SFPU
            and cs.ovf <= OV_SATURATE_SYMMETRIC and s >= 1 and cs.r + s <= 29)


cdef inline void sr_round_sat32(const int32_t* q, const uint64_t* R, const int8_t* vs,
                                word_t* out, Py_ssize_t n, int s, const cspec* cs,
                                counts_t* c) noexcept nogil:
    """block_int_sr and the saturating store in one pass of int32 lanes (AVX2 has no 64-bit
    arithmetic shift, so block_int_sr's loop stays scalar): for |q[j]| < 2**30, 1 <= s,
    r + s <= 29 and an output range within int32; the same carries and counts."""
    cdef Py_ssize_t j
    cdef int32_t v, y, inexact, up, n_inexact = 0, n_up = 0, nov = 0
    cdef int32_t mask = ((<int32_t>1) << s) - 1
    cdef int32_t lo = <int32_t>cs.lo64, hi = <int32_t>cs.hi64
    cdef srk_t k = sr_consts(cs, s)
    if k.k_tr and not k.k_t and not k.k_v:
        sr_trunc_sat32(q, q, R, out, n, s, k.r, k.lsh, k.rsh, lo, hi, c)
        return
    for j in range(n):
        v = q[j]
        up = sr_int_up(v, <int32_t>R[j], <int32_t>vs[j], k)
        inexact = (v & mask) != 0
        n_inexact += inexact
        n_up += up
        y = (v >> s) + up
        nov += (y < lo) | (y > hi)
        out[j] = <word_t>(lo if y < lo else (hi if y > hi else y))
    add_block(c, n, n_inexact, n_up, nov)


cdef void sr_store_sat32(const int32_t* q, const uint64_t* R, const int8_t* vs, char* out,
                         int w, Py_ssize_t n, int s, const cspec* cs, counts_t* c) noexcept nogil:
    if w == 1:
        sr_round_sat32(q, R, vs, <int8_t*>out, n, s, cs, c)
    elif w == 2:
        sr_round_sat32(q, R, vs, <int16_t*>out, n, s, cs, c)
    else:
        sr_round_sat32(q, R, vs, <int32_t*>out, n, s, cs, c)


cdef int store_block(const cspec* cs, const int64_t* q, char* out, int w, Py_ssize_t n,
                     counts_t* c) noexcept nogil:
    """block_store into w-byte words at out."""
    if w == 1:
        return block_store(cs, q, <int8_t*>out, n, c)
    if w == 2:
        return block_store(cs, q, <int16_t*>out, n, c)
    if w == 4:
        return block_store(cs, q, <int32_t*>out, n, c)
    return block_store(cs, q, <int64_t*>out, n, c)


cdef int f64_det_sat(const real_t* x, char* out, int w, Py_ssize_t n, double scale,
                     uint32_t tbl, const dround* k, int64_t lo, int64_t hi, counts_t* c,
                     bint count) noexcept nogil:
    if w == 1:
        return block_round_sat(x, <int8_t*>out, n, scale, k, <double>lo, <double>hi, c, count)
    if w == 2:
        return block_round_sat(x, <int16_t*>out, n, scale, k, <double>lo, <double>hi, c, count)
    if w == 4 and hi < (<int64_t>1 << 31):
        return block_round_sat(x, <int32_t*>out, n, scale, k, <double>lo, <double>hi, c, count)
    if w == 4:    # uint32 words: beyond the int32 conversion
        return block_f64_det_sat(x, <int32_t*>out, n, scale, tbl, lo, hi, c)
    if lo >= -(<int64_t>1 << 51) and hi < (<int64_t>1 << 51):
        return block_round_sat(x, <int64_t*>out, n, scale, k, <double>lo, <double>hi, c, count)
    return block_f64_det_sat(x, <int64_t*>out, n, scale, tbl, lo, hi, c)



cdef int cast_f64_sat(const cspec* cs, const double* x, char* out, Py_ssize_t n, int fl,
                      counts_t* c) noexcept nogil:
    """The vectorized pass that cast_f64 tries first on a block of float64 (a deterministic
    mode with saturating overflow), for fxsim._small; 1: the block needs the scalar path
    (NaN, ±inf, huge or tiny values), and what it stored is then overwritten."""
    cdef dround kd = round_consts(cs.mode)
    return f64_det_sat(x, out, word_bytes(cs.wl), n, ldexp(1.0, fl), det_table(cs.mode), &kd,
                       cs.lo64, cs.hi64, c, True)

cdef void store_round_sat(int64_t* v, char* out, int w, Py_ssize_t n, int s, uint32_t tbl, const ibias* kb,
                          int64_t lo, int64_t hi, counts_t* c) noexcept nogil:
    if w == 1:
        round_store_sat(v, <int8_t*>out, n, s, tbl, kb, lo, hi, c)
    elif w == 2:
        round_store_sat(v, <int16_t*>out, n, s, tbl, kb, lo, hi, c)
    elif w == 4:
        round_store_sat(v, <int32_t*>out, n, s, tbl, kb, lo, hi, c)
    else:
        round_store_sat(v, <int64_t*>out, n, s, tbl, kb, lo, hi, c)


cdef void mul_sat32(const src_t* pa, const src_t* pb, char* out, int w, Py_ssize_t n,
                    int s, uint32_t tbl, int32_t lo, int32_t hi, counts_t* c) noexcept nogil:
    # w <= 4: the caller proved the output fits 31 bits
    if w == 1:
        mul_round_sat32(pa, pb, <int8_t*>out, n, s, tbl, lo, hi, c)
    elif w == 2:
        mul_round_sat32(pa, pb, <int16_t*>out, n, s, tbl, lo, hi, c)
    else:
        mul_round_sat32(pa, pb, <int32_t*>out, n, s, tbl, lo, hi, c)


cdef class DrawFeed:
    """Where a kernel call's draws come from, chunk by chunk: the caller's array (draw i for
    element i), or sources' capsules (see ``bitsrc.pxd``), part p of the chunks
    [parts[p], parts[p+1]) drawing its blocks in order from caps[p] (the caller holds the
    locks; one part per thread at a time, so a shared source runs one part after the other)."""
    cdef bitsrc_t** srcs
    cdef int64_t* parts
    cdef Py_ssize_t P
    cdef object keep

    def __cinit__(self, list caps, const int64_t[::1] parts):
        cdef Py_ssize_t p
        self.P = len(caps)
        if parts.shape[0] != self.P + 1:
            raise ValueError(f"DrawFeed: parts must hold len(caps) + 1 = {self.P + 1} chunk cuts")
        self.srcs = <bitsrc_t**>malloc((self.P + 1) * sizeof(bitsrc_t*))
        self.parts = <int64_t*>malloc((self.P + 1) * sizeof(int64_t))
        for p in range(self.P):
            self.srcs[p] = bitsrc_from_capsule(caps[p])
        for p in range(self.P + 1):
            self.parts[p] = parts[p]
        self.keep = caps

    def __dealloc__(self):
        free(self.srcs)
        free(self.parts)


cdef inline Py_ssize_t feed_parts(DrawFeed feed, Py_ssize_t nch) noexcept:
    return nch if feed is None else feed.P


cdef extern from *:
    """
    static inline void fxk_prefetch(const char* p, Py_ssize_t bytes) {
        for (Py_ssize_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o, 0, 3);
    }
    static inline void fxk_prefetchw(char* p, Py_ssize_t bytes) {
        for (Py_ssize_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o, 1, 3);
    }
    """
    void prefetch "fxk_prefetch"(const char* p, Py_ssize_t bytes) noexcept nogil
    void prefetchw "fxk_prefetchw"(char* p, Py_ssize_t bytes) noexcept nogil


cdef inline const uint64_t* block_draws(bitsrc_t* src, uint64_t* dbuf, const uint64_t* draws,
                                        bint use_draws, Py_ssize_t b0, Py_ssize_t n,
                                        int r) noexcept nogil:
    """The draws of elements [b0, b0 + n): filled from src into dbuf (src given), else a
    slice of the caller's array (NULL without draws)."""
    if src != NULL:
        src.fill(src.state, dbuf, n, r)
        return dbuf
    return draws + b0 if use_draws else NULL


def cast_f64(const real_t[::1] x, int8_t[::1] out, CastSpec spec, int fl,
             const uint64_t[::1] draws, bint use_draws, const int8_t[::1] vsign, bint use_v,
             int64_t[:, ::1] cnt, int32_t[::1] errs, int64_t[::1] errpos, int nthreads,
             DrawFeed feed=None, bint count=True):
    """out[i] = cast(x[i]) for float64 x; the draws come from ``draws`` or, given, ``feed``.
    count=False: the counts of deterministic saturating blocks may be left out of ``cnt`` (for
    a call no Counters block records; errors are reported all the same)."""
    cdef cspec cs = spec.cs
    cdef int w = word_bytes(cs.wl)
    cdef char* po = <char*>&out[0] if out.shape[0] > 0 else NULL
    cdef Py_ssize_t n = x.shape[0]
    cdef Py_ssize_t nch = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t P = feed_parts(feed, nch)
    cdef bitsrc_t** srcs = NULL if feed is None else feed.srcs
    cdef int64_t* parts = NULL if feed is None else feed.parts
    cdef const uint64_t* pd = &draws[0]
    cdef Py_ssize_t p, ch, i, i0, i1
    cdef double scale = ldexp(1.0, fl)
    cdef counts_t c, cb
    cdef Py_ssize_t b0, b1
    cdef int64_t* qbuf
    cdef uint64_t* dbuf
    cdef const uint64_t* dp
    cdef int8_t* zeros
    cdef bint ok
    cdef uint32_t tbl = det_table(cs.mode)
    cdef dround kd = round_consts(cs.mode)
    cdef int err
    cdef uint64_t R
    cdef int vs
    cdef bint sr_fused = sr_fusable(&cs, w)
    if feed is not None:
        use_draws = True
    for p in prange(P, nogil=True, num_threads=nthreads, schedule="dynamic"):
        qbuf = <int64_t*>malloc(BLOCK * sizeof(int64_t))
        dbuf = <uint64_t*>malloc(BLOCK * sizeof(uint64_t))
        zeros = <int8_t*>calloc(BLOCK, 1)
        for ch in range(parts[p] if srcs != NULL else p, parts[p + 1] if srcs != NULL else p + 1):
            c = zero_counts()   # assigned whole, so OpenMP makes it thread-private
            i0 = ch * CHUNK
            i1 = min(n, i0 + CHUNK)
            b0 = i0
            while b0 < i1:
                b1 = min(i1, b0 + BLOCK)
                cb = zero_counts()
                if (sr_fused and srcs != NULL and srcs[p].kind == BITSRC_PHILOX
                        and sr_philox_block(&x[b0], po + b0 * w, w, b1 - b0, scale, cs.r,
                                            cs.lo64, cs.hi64, srcs[p], &cb) == 0):
                    c.n += cb.n; c.inexact += cb.inexact; c.up += cb.up; c.ovf += cb.ovf
                    b0 = b1
                    continue
                dp = block_draws(srcs[p] if srcs != NULL else NULL, dbuf, pd, use_draws, b0,
                                 b1 - b0, cs.r)
                if cs.mode < RM_STOCHASTIC and cs.ovf <= OV_SATURATE_SYMMETRIC:
                    if f64_det_sat(&x[b0], po + b0 * w, w, b1 - b0, scale, tbl, &kd, cs.lo64,
                                   cs.hi64, &cb, count) == 0:
                        c.n += cb.n; c.inexact += cb.inexact; c.up += cb.up; c.ovf += cb.ovf
                        b0 = b1
                        continue
                    ok = False
                elif cs.mode < RM_STOCHASTIC:
                    ok = block_f64_det(&x[b0], qbuf, b1 - b0, scale, tbl, &cb) == 0
                elif sr_fused and sr_trunc_sat(&x[b0], po + b0 * w, w, b1 - b0, scale, cs.r, dp,
                                               cs.lo64, cs.hi64, &cb) == 0:
                    c.n += cb.n; c.inexact += cb.inexact; c.up += cb.up; c.ovf += cb.ovf
                    b0 = b1
                    continue
                elif cs.r <= 52:
                    ok = block_f64_sr(&x[b0], qbuf, b1 - b0, scale, &cs, dp,
                                      &vsign[b0] if use_v else zeros, &cb) == 0
                else:
                    ok = False
                if ok and store_block(&cs, qbuf, po + b0 * w, w, b1 - b0, &cb) == 0:
                    c.n += cb.n; c.inexact += cb.inexact; c.up += cb.up; c.ovf += cb.ovf
                    b0 = b1
                    continue
                for i in range(b0, b1):
                    err = ERR_NONE
                    R = dp[i - b0] if use_draws else 0
                    vs = vsign[i] if use_v else 0
                    put(po, w, i, <int64_t>cast_double(&cs, x[i], scale, fl, R, vs, &c, &err))
                    if err != ERR_NONE:
                        note_error(err, i, errs, errpos, ch)
                b0 = b1
            if use_draws:
                c.draws = i1 - i0
            add_counts(cnt, ch, &c)
        free(qbuf)
        free(dbuf)
        free(zeros)


def cast_f64_streams(const real_t[::1] x, int8_t[::1] out, CastSpec spec, int fl, list caps,
                     const int64_t[::1] cuts, const int8_t[::1] vsign, bint use_v,
                     int64_t[:, ::1] cnt, int32_t[::1] errs, int64_t[::1] errpos, int nthreads):
    """Stochastic cast of float64 x where part k draws its own slice [cuts[k], cuts[k+1]) of
    the stream from caps[k], a private copy of the source already moved cuts[k] draws ahead.
    There are more parts than threads, handed out dynamically, so a delayed thread does not
    hold up the whole call.
    Draws are produced block by block next to their use (they never leave the cache), and the
    result is the one a single sequential stream gives."""
    cdef cspec cs = spec.cs
    cdef int w = word_bytes(cs.wl)
    cdef char* po = <char*>&out[0] if out.shape[0] > 0 else NULL
    cdef Py_ssize_t T = len(caps)
    cdef Py_ssize_t k, i, b0, b1
    cdef double scale = ldexp(1.0, fl)
    cdef counts_t c, cb
    cdef int err, vs
    cdef bint ok
    cdef int r = cs.r
    cdef bint sr_fused = sr_fusable(&cs, w)
    cdef int64_t* qbuf
    cdef uint64_t* dbuf
    cdef int8_t* zeros
    cdef bitsrc_t** srcs = <bitsrc_t**>malloc(T * sizeof(bitsrc_t*))
    for k in range(T):
        srcs[k] = bitsrc_from_capsule(caps[k])
    for k in prange(T, nogil=True, num_threads=nthreads, schedule="dynamic"):
        c = zero_counts()
        qbuf = <int64_t*>malloc(BLOCK * sizeof(int64_t))
        dbuf = <uint64_t*>malloc(BLOCK * sizeof(uint64_t))
        zeros = <int8_t*>calloc(BLOCK, 1)
        b0 = cuts[k]
        while b0 < cuts[k + 1]:
            b1 = min(cuts[k + 1], b0 + BLOCK)
            cb = zero_counts()
            if (sr_fused and srcs[k].kind == BITSRC_PHILOX
                    and sr_philox_block(&x[b0], po + b0 * w, w, b1 - b0, scale, r, cs.lo64,
                                        cs.hi64, srcs[k], &cb) == 0):
                c.n += cb.n; c.inexact += cb.inexact; c.up += cb.up; c.ovf += cb.ovf
                b0 = b1
                continue
            srcs[k].fill(srcs[k].state, dbuf, b1 - b0, r)
            ok = ((sr_fused and sr_trunc_sat(&x[b0], po + b0 * w, w, b1 - b0, scale, r, dbuf,
                                             cs.lo64, cs.hi64, &cb) == 0)
                  or (r <= 52 and block_f64_sr(&x[b0], qbuf, b1 - b0, scale, &cs, dbuf,
                                               &vsign[b0] if use_v else zeros, &cb) == 0
                      and store_block(&cs, qbuf, po + b0 * w, w, b1 - b0, &cb) == 0))
            if ok:
                c.n += cb.n; c.inexact += cb.inexact; c.up += cb.up; c.ovf += cb.ovf
            else:
                for i in range(b0, b1):
                    err = ERR_NONE
                    vs = vsign[i] if use_v else 0
                    put(po, w, i, <int64_t>cast_double(&cs, x[i], scale, fl, dbuf[i - b0], vs, &c, &err))
                    if err != ERR_NONE:
                        note_error(err, i, errs, errpos, k)
            b0 = b1
        c.draws = cuts[k + 1] - cuts[k]
        add_counts(cnt, k, &c)
        free(qbuf)
        free(dbuf)
        free(zeros)
    free(srcs)


# Input words arrive as bytes with a type code (WORD_*, in _kernels.pxd); the element-wise
# kernels are compiled once and only their short block loops are specialized per input type.


cdef enum:
    OP_ADD = 0
    OP_SUB = 1
    OP_MUL = 2
    OP_COPY = 3      # exact_block: q = a
    OP_MUL_SAT32 = 4 # mul_round_sat32 straight into the output


cdef inline void block_op(int op, const src_t* pa, const src_t* pb, int64_t* q, Py_ssize_t n,
                          int da, int db, char* out, int w, int s, uint32_t tbl, int32_t lo,
                          int32_t hi, counts_t* c) noexcept nogil:
    """q[j] = the exact a op b (add/sub aligned by da, db) for words whose results fit int64;
    OP_MUL_SAT32: the whole cast of the product into out (see mul_round_sat32)."""
    cdef Py_ssize_t j
    if op == OP_MUL_SAT32:
        mul_sat32(pa, pb, out, w, n, s, tbl, lo, hi, c)
    elif op == OP_MUL:
        for j in range(n):
            q[j] = <int64_t>pa[j] * <int64_t>pb[j]
    elif op == OP_ADD:
        for j in range(n):
            q[j] = (<int64_t>pa[j] << da) + (<int64_t>pb[j] << db)
    elif op == OP_SUB:
        for j in range(n):
            q[j] = (<int64_t>pa[j] << da) - (<int64_t>pb[j] << db)
    else:
        for j in range(n):
            q[j] = <int64_t>pa[j]


cdef void block_words(int op, const char* a, const char* b, int t, Py_ssize_t i0, int64_t* q,
                      Py_ssize_t n, int da, int db, char* out, int w, int s, uint32_t tbl,
                      int32_t lo, int32_t hi, counts_t* c) noexcept nogil:
    """block_op on elements [i0, i0 + n) of two arrays of type t (WORD_*); out (OP_MUL_SAT32
    only) is already offset."""
    if t == WORD_I8:
        block_op(op, <const int8_t*>a + i0, <const int8_t*>b + i0, q, n, da, db, out, w, s, tbl, lo, hi, c)
    elif t == WORD_I16:
        block_op(op, <const int16_t*>a + i0, <const int16_t*>b + i0, q, n, da, db, out, w, s, tbl, lo, hi, c)
    elif t == WORD_I32:
        block_op(op, <const int32_t*>a + i0, <const int32_t*>b + i0, q, n, da, db, out, w, s, tbl, lo, hi, c)
    elif t == WORD_I64:
        block_op(op, <const int64_t*>a + i0, <const int64_t*>b + i0, q, n, da, db, out, w, s, tbl, lo, hi, c)
    elif t == WORD_U8:
        block_op(op, <const uint8_t*>a + i0, <const uint8_t*>b + i0, q, n, da, db, out, w, s, tbl, lo, hi, c)
    elif t == WORD_U16:
        block_op(op, <const uint16_t*>a + i0, <const uint16_t*>b + i0, q, n, da, db, out, w, s, tbl, lo, hi, c)
    elif t == WORD_U32:
        block_op(op, <const uint32_t*>a + i0, <const uint32_t*>b + i0, q, n, da, db, out, w, s, tbl, lo, hi, c)
    else:
        block_op(op, <const uint64_t*>a + i0, <const uint64_t*>b + i0, q, n, da, db, out, w, s, tbl, lo, hi, c)


cdef inline void op_words32(int op, const src_t* pa, const src_t* pb, int32_t* q, Py_ssize_t n,
                            int da, int db) noexcept nogil:
    """q[j] = the exact a op b (add, sub, mul) in int32 lanes, for binop's small == 2 (every
    exact result below 2**30, so every aligned operand too: 0 is in every range)."""
    cdef Py_ssize_t j
    if op == OP_MUL:
        for j in range(n):
            q[j] = <int32_t>pa[j] * <int32_t>pb[j]
    elif op == OP_ADD:
        for j in range(n):
            q[j] = (<int32_t>pa[j] << da) + (<int32_t>pb[j] << db)
    else:
        for j in range(n):
            q[j] = (<int32_t>pa[j] << da) - (<int32_t>pb[j] << db)


cdef void words32(int op, const char* a, const char* b, int t, Py_ssize_t i0, int32_t* q,
                  Py_ssize_t n, int da, int db) noexcept nogil:
    """op_words32 on elements [i0, i0 + n) of two arrays of type t (WORD_*)."""
    if t == WORD_I8:
        op_words32(op, <const int8_t*>a + i0, <const int8_t*>b + i0, q, n, da, db)
    elif t == WORD_I16:
        op_words32(op, <const int16_t*>a + i0, <const int16_t*>b + i0, q, n, da, db)
    elif t == WORD_I32:
        op_words32(op, <const int32_t*>a + i0, <const int32_t*>b + i0, q, n, da, db)
    elif t == WORD_I64:
        op_words32(op, <const int64_t*>a + i0, <const int64_t*>b + i0, q, n, da, db)
    elif t == WORD_U8:
        op_words32(op, <const uint8_t*>a + i0, <const uint8_t*>b + i0, q, n, da, db)
    elif t == WORD_U16:
        op_words32(op, <const uint16_t*>a + i0, <const uint16_t*>b + i0, q, n, da, db)
    elif t == WORD_U32:
        op_words32(op, <const uint32_t*>a + i0, <const uint32_t*>b + i0, q, n, da, db)
    else:
        op_words32(op, <const uint64_t*>a + i0, <const uint64_t*>b + i0, q, n, da, db)


cdef inline void exact_words(int op, const char* a, const char* b, int t, Py_ssize_t i0,
                             int64_t* q, Py_ssize_t n, int da, int db) noexcept nogil:
    block_words(op, a, b, t, i0, q, n, da, db, NULL, 0, 0, 0, 0, 0, NULL)


def cast_raw(const int8_t[::1] x, int tx, int8_t[::1] out, int s, bint small, CastSpec spec,
             const uint64_t[::1] draws, bint use_draws, const int8_t[::1] vsign, bint use_v,
             int64_t[:, ::1] cnt, int32_t[::1] errs, int64_t[::1] errpos, int nthreads,
             DrawFeed feed=None):
    """out[i] = cast(x[i] * 2**-s): re-quantization of raw words (s = fl_in - fl_out); x and
    out are the bytes of the words, x of type tx (WORD_*).
    small: the caller proved the 64-bit path exact (see cast_small).  The draws come from
    ``draws`` or, given, ``feed``."""
    return binop(OP_COPY, x, tx, x, tx, out, 0, 0, s, small, spec, draws, use_draws, vsign,
                 use_v, cnt, errs, errpos, nthreads, feed)


def binop(int op, const int8_t[::1] a, int ta, const int8_t[::1] b, int tb, int8_t[::1] out,
          int da, int db, int s, int small, CastSpec spec,
          const uint64_t[::1] draws, bint use_draws, const int8_t[::1] vsign, bint use_v,
          int64_t[:, ::1] cnt, int32_t[::1] errs, int64_t[::1] errpos, int nthreads,
          DrawFeed feed=None):
    """Element-wise exact op (0 add, 1 sub, 2 mul, 3 copy a) on raw words, then one cast; a,
    b and out are the bytes of the words, a of type ta and b of type tb (WORD_*).

    add/sub align a and b by left shifts da, db to their common fraction length; the exact
    result has s more fraction bits than the output format.  small: 1 when the caller proved
    that every exact result and the 64-bit cast path fit (|v * 2**max(0, -s)| <= 2**62) and
    ta == tb, 2 when moreover products, s and the output range fit 31-bit lanes (see
    mul_round_sat32).  The draws come from ``draws`` or, given, ``feed`` (block by block,
    next to their use).
    """
    cdef cspec cs = spec.cs
    cdef int w = word_bytes(cs.wl)
    cdef Py_ssize_t n = out.shape[0] // w
    cdef char* po = <char*>&out[0] if n > 0 else NULL
    cdef const char* pa = <const char*>&a[0] if n > 0 else NULL
    cdef const char* pb = <const char*>&b[0] if n > 0 else NULL
    cdef Py_ssize_t nch = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t P = feed_parts(feed, nch)
    cdef bitsrc_t** srcs = NULL if feed is None else feed.srcs
    cdef int64_t* parts = NULL if feed is None else feed.parts
    cdef const uint64_t* pd = &draws[0]
    cdef Py_ssize_t p, ch, i, i0, i1
    cdef counts_t c
    cdef int err
    cdef uint64_t R
    cdef int vs
    cdef i128 va, vb, v
    cdef counts_t cb
    cdef Py_ssize_t b0, b1
    cdef int64_t* qbuf
    cdef uint64_t* dbuf
    cdef const uint64_t* dp
    cdef int8_t* zeros
    cdef uint32_t tbl = det_table(cs.mode)
    cdef ibias kbias = round_bias(cs.mode, s)
    if feed is not None:
        use_draws = True
    for p in prange(P, nogil=True, num_threads=nthreads, schedule="dynamic"):
        qbuf = <int64_t*>malloc(BLOCK * sizeof(int64_t))
        dbuf = <uint64_t*>malloc(BLOCK * sizeof(uint64_t))
        zeros = <int8_t*>calloc(BLOCK, 1)
        for ch in range(parts[p] if srcs != NULL else p, parts[p + 1] if srcs != NULL else p + 1):
            c = zero_counts()   # assigned whole, so OpenMP makes it thread-private
            i0 = ch * CHUNK
            i1 = min(n, i0 + CHUNK)
            b0 = i0
            while b0 < i1:
                b1 = min(i1, b0 + BLOCK)
                if srcs != NULL:
                    # the block's words start coming from memory while the source fills its
                    # draws (compute-bound): the pass that follows finds them in cache
                    prefetch(pa + (b0 << (ta & 3)), (b1 - b0) << (ta & 3))
                    if op != OP_COPY:
                        prefetch(pb + (b0 << (tb & 3)), (b1 - b0) << (tb & 3))
                    prefetchw(po + b0 * w, (b1 - b0) * w)
                if (srcs != NULL and srcs[p].kind == BITSRC_PCG64 and op == OP_MUL
                        and sr_lanes32(&cs, small, s)
                        and mul_sr_pcg_fused(pa, pb, ta, b0, <pcg64_st*>srcs[p].state, po + b0 * w,
                                             w, b1 - b0, s, &cs, &c) == 0):
                    b0 = b1
                    continue
                dp = block_draws(srcs[p] if srcs != NULL else NULL, dbuf, pd, use_draws, b0,
                                 b1 - b0, cs.r)
                if not small:
                    for i in range(b0, b1):
                        err = ERR_NONE
                        R = dp[i - b0] if use_draws else 0
                        vs = vsign[i] if use_v else 0
                        va = load_word(pa, ta, i)
                        vb = load_word(pb, tb, i)
                        if op == OP_MUL:
                            v = va * vb
                        elif op == OP_ADD:
                            v = (va << da) + (vb << db)
                        elif op == OP_SUB:
                            v = (va << da) - (vb << db)
                        else:
                            v = va
                        put(po, w, i, <int64_t>cast_value(&cs, v, s, R, vs, &c, &err))
                        if err != ERR_NONE:
                            note_error(err, i, errs, errpos, ch)
                    b0 = b1
                    continue
                if cs.mode < RM_STOCHASTIC:
                    if small == 2 and op == OP_MUL and cs.ovf <= OV_SATURATE_SYMMETRIC:
                        block_words(OP_MUL_SAT32, pa, pb, ta, b0, NULL, b1 - b0, 0, 0,
                                    po + b0 * w, w, s, tbl, <int32_t>cs.lo64, <int32_t>cs.hi64, &c)
                        b0 = b1
                        continue
                    if (op == OP_MUL and ta == WORD_I32 and w == 4 and kbias.ok
                            and cs.ovf <= OV_SATURATE_SYMMETRIC):
                        biased_floor_sat(<const int32_t*>pa + b0, <const int32_t*>pb + b0,
                                         <int32_t*>po + b0, b1 - b0, s, &kbias, cs.lo64, cs.hi64, &c)
                        b0 = b1
                        continue
                    exact_words(op, pa, pb, ta, b0, qbuf, b1 - b0, da, db)
                    if cs.ovf <= OV_SATURATE_SYMMETRIC and op != OP_COPY:
                        store_round_sat(qbuf, po + b0 * w, w, b1 - b0, s, tbl, &kbias, cs.lo64, cs.hi64, &c)
                        b0 = b1
                        continue
                    cb = zero_counts()
                    block_int_det(qbuf, b1 - b0, s, tbl, &cb)
                    if store_block(&cs, qbuf, po + b0 * w, w, b1 - b0, &cb) == 0:
                        c.n += cb.n; c.inexact += cb.inexact; c.up += cb.up; c.ovf += cb.ovf
                        b0 = b1
                        continue
                if op != OP_COPY and sr_lanes32(&cs, small, s):
                    if op == OP_MUL and mul_sr_fused(pa, pb, ta, b0, dp, po + b0 * w, w, b1 - b0,
                                                     s, &cs, &c) == 0:
                        b0 = b1
                        continue
                    # SR in int32 lanes: the exact words, then carry, saturation and store
                    words32(op, pa, pb, ta, b0, <int32_t*>qbuf, b1 - b0, da, db)
                    sr_store_sat32(<int32_t*>qbuf, dp, &vsign[b0] if use_v else zeros,
                                   po + b0 * w, w, b1 - b0, s, &cs, &c)
                    b0 = b1
                    continue
                exact_words(op, pa, pb, ta, b0, qbuf, b1 - b0, da, db)
                if cs.mode >= RM_STOCHASTIC:
                    cb = zero_counts()
                    if (block_int_sr(qbuf, b1 - b0, s, &cs, dp, &vsign[b0] if use_v else zeros, &cb) == 0
                            and store_block(&cs, qbuf, po + b0 * w, w, b1 - b0, &cb) == 0):
                        c.n += cb.n; c.inexact += cb.inexact; c.up += cb.up; c.ovf += cb.ovf
                        b0 = b1
                        continue
                    exact_words(op, pa, pb, ta, b0, qbuf, b1 - b0, da, db)   # rounded in place
                for i in range(b0, b1):
                    err = ERR_NONE
                    R = dp[i - b0] if use_draws else 0
                    vs = vsign[i] if use_v else 0
                    put(po, w, i, cast_small(&cs, qbuf[i - b0], s, R, vs, &c, &err))
                    if err != ERR_NONE:
                        note_error(err, i, errs, errpos, ch)
                b0 = b1
            if use_draws:
                c.draws = i1 - i0
            add_counts(cnt, ch, &c)
        free(qbuf)
        free(dbuf)
        free(zeros)


def all_finite(const real_t[::1] x, int nthreads):
    """True when x holds no NaN and no inf: chunks of CHUNK elements checked on nthreads
    threads (a memory-bound pass; numpy's isfinite(x).all() runs on one thread and writes a
    bool array)."""
    cdef Py_ssize_t n = x.shape[0]
    cdef Py_ssize_t nch = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t k, j, j1
    cdef int bad = 0
    cdef int b
    for k in prange(nch, nogil=True, num_threads=nthreads, schedule="static"):
        b = 0
        j1 = min(n, (k + 1) * CHUNK)
        for j in range(k * CHUNK, j1):
            b = b | (not (fabs(x[j]) <= 1.7976931348623157e308))
        bad |= b
    return not bad
