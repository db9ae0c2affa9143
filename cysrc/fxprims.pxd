# cython: language_level=3
"""Bit-level primitives of the datapath (spec §2-§3), shared by every kernel.

Vocabulary: a value in flight is a raw integer ``v`` (128-bit) with ``s`` extra fraction bits
relative to the target format, i.e. t = v * 2**-s.  Rounding splits t into q = floor(t) and the
discarded fraction phi, kept as F = floor(phi * 2**65) plus a ``sticky`` flag (phi * 2**65 not an
integer).  Every rounding rule of the spec only needs (q, F, sticky): comparisons of phi with 1/2,
and the top r or r+1 discarded bits for stochastic rounding (r <= 64).
"""
from libc.math cimport floor, frexp, ldexp, fabs, isnan, isinf
from libc.stdint cimport int64_t, uint64_t, uint32_t, int8_t, int16_t, int32_t
from libc.string cimport memcpy

from fxsim._kernels cimport *   # i128, the mode and error codes (RM_*, OV_*, SR_*, ERR_*), cspec

cdef inline int cmp_half(u128 F, bint sticky) noexcept nogil:
    """Sign of phi - 1/2 given F = floor(phi * 2**65) and the sticky flag."""
    cdef u128 h = (<u128>1) << 64
    if F > h or (F == h and sticky):
        return 1
    if F == h:
        return 0
    return -1


cdef inline int det_up(int mode, int inexact, int c, int neg, int qodd) noexcept nogil:
    """Whether a deterministic mode returns q + 1 (spec §2 table), without data-dependent
    branches (the mode test is the same for every element, so it predicts well).

    inexact: phi > 0; c: sign of phi - 1/2 (-1 when phi = 0); neg: t < 0; qodd: q is odd;
    all flags are 0 or 1.
    """
    cdef int gt = c > 0
    cdef int eq = c == 0
    if mode == RM_NEAREST_EVEN:
        return gt | (eq & qodd)
    if mode == RM_FLOOR:
        return 0
    if mode == RM_CEIL:
        return inexact
    if mode == RM_TOWARD_ZERO:
        return inexact & neg
    if mode == RM_AWAY_FROM_ZERO:
        return inexact & (neg ^ 1)
    if mode == RM_NEAREST_UP:
        return gt | eq
    if mode == RM_NEAREST_DOWN:
        return gt
    if mode == RM_NEAREST_ZERO:
        return gt | (eq & neg)
    if mode == RM_NEAREST_AWAY:
        return gt | (eq & (neg ^ 1))
    if mode == RM_NEAREST_ODD:
        return gt | (eq & (qodd ^ 1))
    # RM_JAM: q with its lowest bit forced to 1
    return inexact & (qodd ^ 1)


cdef inline uint32_t det_table(int mode) noexcept nogil:
    """det_up as a 32-entry truth table indexed by inexact | gt<<1 | eq<<2 | neg<<3 | qodd<<4,
    so that block loops can round without branches (and vectorize)."""
    cdef uint32_t tbl = 0
    cdef int k, c
    for k in range(32):
        c = 1 if (k >> 1) & 1 else (0 if (k >> 2) & 1 else -1)
        tbl |= (<uint32_t>det_up(mode, k & 1, c, (k >> 3) & 1, (k >> 4) & 1)) << k
    return tbl


cdef inline int det_up_tbl(uint32_t tbl, int inexact, int gt, int eq, int neg, int qodd) noexcept nogil:
    return (tbl >> (inexact | (gt << 1) | (eq << 2) | (neg << 3) | (qodd << 4))) & 1


cdef inline int sr_up(const cspec* cs, u128 F, bint sticky, int esign, uint64_t R) noexcept nogil:
    """Stochastic decision for phi > 0: round up when A + 2R >= 2**(r+1) (spec §2 few-bit rules).

    esign is the sign added to the eps bias (+1 away from zero, -1 toward, 0 none).
    """
    cdef int r = cs.r
    cdef int sh
    cdef u128 A, I, frac, h
    cdef u128 top = (<u128>1) << (r + 1)
    if cs.rule == SR_TRUNC:
        A = (F >> (65 - r)) << 1
    elif cs.rule == SR_HALF:
        A = (F >> (64 - r)) + 1
    elif cs.rule == SR_GE:
        # D >= R  <=>  2D + 2 + 2 (2**r - 1 - R) >= 2**(r+1)
        A = ((F >> (65 - r)) << 1) + 2
        R = R ^ (~(<uint64_t>0) >> (64 - r))
    else:
        sh = 65 - r
        I = F >> sh
        frac = F & (((<u128>1) << sh) - 1)
        h = (<u128>1) << (sh - 1)
        if frac > h or (frac == h and (sticky or (I & 1))):
            I += 1
        A = I << 1
    if esign > 0:
        A += cs.E << 1
        if A > top:
            A = top
    elif esign < 0:
        if A > (cs.E << 1):
            A -= cs.E << 1
        else:
            A = 0
    return A + ((<u128>R) << 1) >= top


cdef inline int tt_sfpu_step(const cspec* cs, u128 F, bint sticky, int neg, int esign,
                             uint64_t R) noexcept nogil:
    """sr_rule 'tt_sfpu' (Tenstorrent SFPSTOCHRND, spec §2): the magnitude |t| goes up when
    Dm, the top r bits of its discarded part (biased by eps towards esign, a direction of t),
    is >= R -- exact values too, Dm = 0 going up when R = 0.  Returns what is added to
    q = floor(t): 0 or 1, or -1 for an exact negative t."""
    cdef int sh = 65 - cs.r
    cdef u128 D = F >> sh
    cdef bint exact = F == 0 and not sticky
    cdef i128 Dm
    cdef int mag_up
    if not neg or exact:
        Dm = <i128>D
    else:                       # floor((1 - phi) 2**r) = 2**r - ceil(phi 2**r)
        Dm = ((<i128>1) << cs.r) - <i128>D - ((F & (((<u128>1) << sh) - 1)) != 0 or sticky)
    if esign != 0:              # the magnitude's direction is t's for t >= 0, the opposite below
        Dm += (esign if not neg else -esign) * <i128>cs.E
    mag_up = Dm >= <i128>R
    if not neg:
        return mag_up
    return -mag_up if exact else 1 - mag_up


cdef inline bint moves_exact(const cspec* cs) noexcept nogil:
    """A stochastic cast whose rule can change an exact value ('tt_sfpu')."""
    return cs.mode >= RM_STOCHASTIC and cs.rule == SR_TT_SFPU


cdef inline int decide(const cspec* cs, u128 F, bint sticky, int neg, int qodd,
                       uint64_t R, int vsign) noexcept nogil:
    """Round-up decision for any mode from the discarded fraction (F, sticky): 1 for q + 1,
    0 for q (-1, q - 1, only under 'tt_sfpu')."""
    cdef int inexact = (F != 0) | sticky
    cdef int esign = 0
    if cs.mode < RM_STOCHASTIC:
        return det_up(cs.mode, inexact, cmp_half(F, sticky), neg, qodd)
    if cs.mode == RM_STOCHASTIC_EPS:
        esign = -1 if neg else 1
    elif cs.mode == RM_SIGNED_STOCHASTIC_EPS:
        esign = -vsign
    if cs.rule == SR_TT_SFPU:
        return tt_sfpu_step(cs, F, sticky, neg, esign, R)
    if not inexact:
        return 0
    return sr_up(cs, F, sticky, esign, R)


cdef inline i128 split(i128 v, int s, u128* F, bint* sticky) noexcept nogil:
    """q = floor(v * 2**-s) for s >= 1; the discarded fraction goes to (F, sticky)."""
    cdef u128 rem
    cdef int k
    if s < 128:
        rem = (<u128>v) & ((((<u128>1) << s)) - 1)
        if s <= 65:
            F[0] = rem << (65 - s)
            sticky[0] = 0
        else:
            F[0] = rem >> (s - 65)
            sticky[0] = (rem & (((<u128>1) << (s - 65)) - 1)) != 0
        return v >> s
    # |v| < 2**127 <= 2**s: t lies in (-1, 1)
    k = s - 65
    if v >= 0:
        if k < 128:
            F[0] = (<u128>v) >> k
            sticky[0] = ((<u128>v) & ((((<u128>1) << k)) - 1)) != 0
        else:
            F[0] = 0
            sticky[0] = v != 0
        return 0
    if k < 127:
        F[0] = ((<u128>1) << 65) + <u128>(v >> k)
        sticky[0] = ((<u128>v) & ((((<u128>1) << k)) - 1)) != 0
    else:
        F[0] = ((<u128>1) << 65) - 1
        sticky[0] = 1
    return -1


cdef inline i128 apply_overflow(const cspec* cs, i128 y, int big, counts_t* c, int* err) noexcept nogil:
    """Overflow handling (spec §3).  big = +1/-1 flags a value beyond 127 bits whose low 128
    bits are in y; big = 0: y is exact."""
    cdef u128 u
    if big == 0 and y >= cs.lo and y <= cs.hi:
        return y
    c.ovf += 1
    if cs.ovf == OV_WRAP:
        u = (<u128>y) & cs.mask
        if cs.is_signed and (u >> (cs.wl - 1)) & 1:
            return <i128>u - ((<i128>1) << cs.wl)
        return <i128>u
    if cs.ovf == OV_ERROR:
        if err[0] == ERR_NONE:
            err[0] = ERR_OVERFLOW
        return 0
    if big > 0 or (big == 0 and y > cs.hi):
        return cs.hi
    return cs.lo


cdef inline i128 cast_value(const cspec* cs, i128 v, int s, uint64_t R, int vsign,
                            counts_t* c, int* err) noexcept nogil:
    """Cast the exact value v * 2**-s (|v| < 2**127) into the format: round, then overflow."""
    cdef u128 F = 0
    cdef bint sticky = 0
    cdef i128 q
    cdef int64_t v64, q64, half
    cdef int64_t rem
    cdef int up, inexact, k
    c.n += 1
    if s > 0:
        if s <= 62 and v > -(<i128>1 << 62) and v < (<i128>1 << 62):
            v64 = <int64_t>v
            q64 = v64 >> s
            rem = v64 & ((<int64_t>1 << s) - 1)
            inexact = rem != 0
            if cs.mode < RM_STOCHASTIC:
                half = <int64_t>1 << (s - 1)
                up = det_up(cs.mode, inexact, (rem > half) - (rem < half), q64 < 0, q64 & 1)
            else:
                up = decide(cs, (<u128>rem) << (65 - s), 0, q64 < 0, q64 & 1, R, vsign)
            c.inexact += inexact
            c.up += up > 0
            return apply_overflow(cs, q64 + up, 0, c, err)
        q = split(v, s, &F, &sticky)
        inexact = (F != 0) | sticky
        up = decide(cs, F, sticky, q < 0, q & 1, R, vsign)
        c.inexact += inexact
        c.up += up > 0
        return apply_overflow(cs, q + up, 0, c, err)
    up = 0
    if moves_exact(cs):         # no discarded bits, yet 'tt_sfpu' can move the value
        up = decide(cs, 0, 0, v < 0, 0, R, vsign)
        c.up += up > 0
    if s == 0 or v == 0:
        return apply_overflow(cs, v + up, 0, c, err)
    k = -s
    if k < 125 and ((v >> (125 - k)) == 0 or (v >> (125 - k)) == -1):
        return apply_overflow(cs, <i128>((<u128>v) << k) + up, 0, c, err)
    # beyond 125 bits: the low 128 bits (all wrap keeps) of v * 2**k + up
    return apply_overflow(cs, <i128>(((<u128>v) << k if k < 128 else 0) + <u128>(<i128>up)),
                          -1 if v < 0 else 1, c, err)


cdef inline int64_t overflow64_slow(const cspec* cs, int64_t y, counts_t* c, int* err) noexcept nogil:
    cdef uint64_t u
    c.ovf += 1
    if cs.ovf == OV_WRAP:
        u = (<uint64_t>y) & <uint64_t>cs.mask
        if cs.is_signed and cs.wl < 64 and (u >> (cs.wl - 1)) & 1:
            return <int64_t>(u | ~(<uint64_t>cs.mask))
        return <int64_t>u
    if cs.ovf == OV_ERROR:
        if err[0] == ERR_NONE:
            err[0] = ERR_OVERFLOW
        return 0
    return cs.hi64 if y > cs.hi64 else cs.lo64


cdef inline int64_t overflow64(const cspec* cs, int64_t y, counts_t* c, int* err) noexcept nogil:
    """apply_overflow for |y| <= 2**62 (the common, small-word case)."""
    if y >= cs.lo64 and y <= cs.hi64:
        return y
    return overflow64_slow(cs, y, c, err)


cdef inline int64_t cast_small(const cspec* cs, int64_t v, int s, uint64_t R, int vsign,
                               counts_t* c, int* err) noexcept nogil:
    """cast_value for the common case, all in 64 bits: |v * 2**max(0, -s)| <= 2**62, s <= 62."""
    cdef int64_t q, rem, half
    cdef int up = 0
    cdef int inexact
    c.n += 1
    if s > 0:
        q = v >> s
        rem = v & ((<int64_t>1 << s) - 1)
        inexact = rem != 0
        if cs.mode < RM_STOCHASTIC:
            half = <int64_t>1 << (s - 1)
            up = det_up(cs.mode, inexact, (rem > half) - (rem < half), q < 0, q & 1)
        elif inexact or cs.rule == SR_TT_SFPU:
            up = decide(cs, (<u128>rem) << (65 - s), 0, q < 0, q & 1, R, vsign)
        c.inexact += inexact
        c.up += up > 0
        q += up
    else:
        q = v << (-s)
        if moves_exact(cs):     # no discarded bits, yet 'tt_sfpu' can move the value
            up = decide(cs, 0, 0, q < 0, 0, R, vsign)
            c.up += up > 0
            q += up
    return overflow64(cs, q, c, err)


cdef inline cspec make_cspec(int mode, int ovf, int rule, int r, int wl, int is_signed,
                             uint64_t E) noexcept nogil:
    """The cspec of a cast (range derived from wl and signedness)."""
    cdef cspec cs
    cs.mode = mode
    cs.ovf = ovf
    cs.rule = rule
    cs.r = r
    cs.wl = wl
    cs.is_signed = is_signed
    cs.E = <u128>E
    cs.mask = ((<u128>1) << cs.wl) - 1
    if cs.is_signed:
        cs.hi = ((<i128>1) << (cs.wl - 1)) - 1
        cs.lo = -cs.hi if cs.ovf == OV_SATURATE_SYMMETRIC else -cs.hi - 1
    else:
        cs.lo = 0
        cs.hi = <i128>cs.mask
    cs.lo64 = <int64_t>cs.lo
    cs.hi64 = <int64_t>cs.hi if cs.hi < ((<i128>1) << 63) else 0x7FFFFFFFFFFFFFFF
    return cs


cdef inline i128 cast_double(const cspec* cs, double x, double scale, int fl, uint64_t R,
                             int vsign, counts_t* c, int* err) noexcept nogil:
    """Cast the exact binary rational x (a float64; scale = 2**fl) into the format: the one
    float64 cast of fxsim (``fxsim.cast``, the samplers)."""
    cdef double t, at, qd, phi, y, a, b
    cdef int64_t q
    cdef int e
    cdef u128 F
    cdef bint sticky
    cdef int up = 0
    cdef int inexact
    if isnan(x):
        c.n += 1
        err[0] = ERR_NAN
        return 0
    if isinf(x):
        c.n += 1
        if cs.ovf == OV_SATURATE or cs.ovf == OV_SATURATE_SYMMETRIC:
            c.ovf += 1
            return cs.hi if x > 0 else cs.lo
        err[0] = ERR_INF
        return 0
    t = x * scale
    at = fabs(t)
    # x * 2**fl is exact while the product is a normal double; |t| < 2**62 fits int64; and
    # phi = t - floor(t) is exact unless -1/2 < t < 0 (then 1 + t may need more than 53 bits)
    if at < 4611686018427387904.0 and (t > 1e-300 or t <= -0.5 or x == 0.0):
        qd = floor(t)
        phi = t - qd          # exact: the fraction bits of t
        q = <int64_t>qd
        inexact = phi != 0.0
        if cs.mode < RM_STOCHASTIC:
            up = det_up(cs.mode, inexact, (phi > 0.5) - (phi < 0.5), q < 0, q & 1)
        elif inexact or cs.rule == SR_TT_SFPU:
            y = phi * 18446744073709551616.0   # phi * 2**64, exact
            a = floor(y)
            b = y - a
            F = ((<u128>(<uint64_t>a)) << 1) + (1 if b >= 0.5 else 0)
            sticky = b != 0.0 and b != 0.5
            up = decide(cs, F, sticky, q < 0, q & 1, R, vsign)
        c.n += 1
        c.inexact += inexact
        c.up += up > 0
        return overflow64(cs, q + up, c, err)
    # exact decomposition x = m * 2**e with an integer m, |m| < 2**53
    y = frexp(x, &e)
    return cast_value(cs, <int64_t>ldexp(y, 53), 53 - e - fl, R, vsign, c, err)


# -- words in memory ---------------------------------------------------------------------------

cdef inline int word_bytes(int wl) noexcept nogil:
    """Bytes of the container of a wl-bit word (as ``QFormat.dtype``)."""
    return 1 if wl <= 8 else (2 if wl <= 16 else (4 if wl <= 32 else 8))


cdef inline void add_block(counts_t* c, int64_t n, int64_t inexact, int64_t up,
                           int64_t ovf) noexcept nogil:
    c.n += n
    c.inexact += inexact
    c.up += up
    c.ovf += ovf


cdef inline void put(char* out, int w, Py_ssize_t i, int64_t y) noexcept nogil:
    """out[i] = y in a w-byte word (y already in the format's range)."""
    if w == 1:
        (<int8_t*>out)[i] = <int8_t>y
    elif w == 2:
        (<int16_t*>out)[i] = <int16_t>y
    elif w == 4:
        (<int32_t*>out)[i] = <int32_t>y
    else:
        (<int64_t*>out)[i] = y


cdef inline i128 load_word(const char* p, int t, Py_ssize_t i) noexcept nogil:
    """Word i of an array of type t (WORD_*), exactly (native little-endian words)."""
    cdef int size = 1 << (t & 3)
    cdef int sh = 64 - 8 * size
    cdef uint64_t u = 0
    memcpy(&u, p + i * size, size)
    if t <= WORD_I64:
        return <int64_t>(u << sh) >> sh
    return u
