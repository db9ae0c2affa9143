# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, overflowcheck=False
"""nogil kernels of the float casts (spec §9): an exact value M * 2**E (M a 64-bit integer)
rounded on its magnitude into a FloatFormat, as sign-magnitude hardware does.

The rounding decision reuses the fixed-point primitives of ``fxprims.pxd``: the magnitude is
t = M * 2**E / quantum >= 0, q = floor(t), and a float mode maps to the fixed-point mode that
acts the same on a non-negative t (toward_zero -> floor, nearest_away -> nearest_up,
round_to_odd -> jam, floor/ceil by the sign of x).  Results never depend on the thread count:
work is split into fixed chunks, each with its own counters and first error.
"""
cimport cython
from cython.parallel cimport prange
from libc.stdlib cimport malloc, free
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from fxprims cimport *
from bitsrc cimport bitsrc_t, bitsrc_from_capsule

cdef extern from *:
    """
    static inline int fx_bitlen64(unsigned long long m) { return m ? 64 - __builtin_clzll(m) : 0; }
    """
    int bitlen64 "fx_bitlen64"(unsigned long long m) noexcept nogil

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    /* Block loops of the common case, one straight-line body per output width, mode and
       counting, without branches, so that gcc vectorizes them in AVX2 registers.  They return
       1 (nothing counted) when the block holds NaN, inf, or an overflow under
       overflow='error'; the caller then redoes it element by element.  Formats with subnormals
       only (no flush), man <= 48.  cnt: n, inexact, rounded up, overflowed.

       Nearest-even (FX_FLT_RNE): for a result in the normal binades the code is the float64
       magnitude pattern rounded at bit s = 52 - man (guard AND (sticky OR lsb), a carry out of
       the fraction moves to the next binade by itself), re-biased.  Below 2**emin the result is
       a multiple of the subnormal spacing 2**(emin - man): the float64 sum |x| + C with
       C = 2**(emin - man + 52) rounds |x| to that spacing, nearest-even, exactly once (|x| < C,
       so the sum lies in [C, 2C) whose ulp is the spacing), and its pattern minus C's is the
       code (float64 subnormal inputs included).

       Stochastic, trunc rule (FX_FLT_SR): the kept bits and the top r discarded ones, t, plus
       the draw, shifted right by r: in the normal binades t is the magnitude pattern shifted
       right by 52 - man - r (re-biased after the carry); below 2**emin it is
       floor(|x| * 2**(man - emin + r)), exact in float64 (a power-of-two scaling, < 2**52),
       read as an integer through the 2**52 sum. */
    /* the end of both loop bodies (overflow, sign, store) and of both functions */
    #define FX_FLT_STORE(CT)                                                                    \\
            n_ovf += ovf;                                                                       \\
            code = ovf ? ovc : code;                                                            \\
            out[j] = (CT)((uint64_t)code | ((u >> 63) << sh));                                  \\
        }
    #define FX_FLT_END                                                                          \\
        bad |= (uint64_t)(n_ovf != 0) & err_ovf;                                                \\
        if (bad) return 1;                                                                      \\
        cnt[0] += n; cnt[1] += n_in; cnt[2] += n_up; cnt[3] += n_ovf;                           \\
        return 0;
    #define FX_FLT_RNE(NAME, CT, COUNT)                                                         \\
    static int NAME(const uint64_t* restrict xb, CT* restrict out, Py_ssize_t n,                \\
                    int64_t man, int64_t emin, int64_t max_code, int64_t ovc, uint64_t sh,      \\
                    int64_t r, uint64_t err_ovf, const uint64_t* restrict R,                    \\
                    int64_t* restrict cnt) {                                                    \\
        const uint64_t ABS = 0x7FFFFFFFFFFFFFFFULL, nonfin = 0x7FFULL << 52;                    \\
        const uint64_t s = 52 - man, half1 = (1ULL << (s - 1)) - 1, lowm = (1ULL << s) - 1;     \\
        const int64_t rebias = (1022 + emin) << man;                                            \\
        const uint64_t lo_pat = (uint64_t)(1023 + emin) << 52;                                  \\
        const uint64_t cbits = (uint64_t)(1023 + emin - man + 52) << 52;                        \\
        double C;                                                                               \\
        uint64_t n_in = 0, n_up = 0, n_ovf = 0, bad = 0;                                        \\
        (void)r; (void)R;                                                                       \\
        memcpy(&C, &cbits, 8);                                                                  \\
        for (Py_ssize_t j = 0; j < n; j++) {                                                    \\
            uint64_t u = xb[j], mag = u & ABS, yb;                                              \\
            double a, y;                                                                        \\
            memcpy(&a, &mag, 8);                                                                \\
            bad |= (uint64_t)(mag >= nonfin);                                                   \\
            uint64_t tq = mag >> s, rn = (mag + half1 + (tq & 1)) >> s;                         \\
            y = a + C;                                                                          \\
            memcpy(&yb, &y, 8);                                                                 \\
            int64_t sub = -(int64_t)(mag < lo_pat);                                             \\
            int64_t code = ((int64_t)(yb - cbits) & sub) | (((int64_t)rn - rebias) & ~sub);     \\
            uint64_t ovf = (uint64_t)(code > max_code);                                         \\
            if (COUNT) {  /* ys, a >= 0: their patterns compare as their values */          \\
                double ys = y - C;                                                              \\
                int64_t ysb;                                                                    \\
                memcpy(&ysb, &ys, 8);                                                           \\
                int64_t in_s = (int64_t)(ysb != (int64_t)mag), up_s = (int64_t)(ysb > (int64_t)mag); \\
                int64_t in_n = (int64_t)((mag & lowm) != 0), up_n = (int64_t)(rn != tq);        \\
                n_in += (uint64_t)((in_s & sub) | (in_n & ~sub));                               \\
                n_up += (uint64_t)((up_s & sub) | (up_n & ~sub));                               \\
            }                                                                                   \\
            FX_FLT_STORE(CT)                                                                    \\
        FX_FLT_END                                                                              \\
    }
    #define FX_FLT_SR(NAME, CT, COUNT)                                                          \\
    static int NAME(const uint64_t* restrict xb, CT* restrict out, Py_ssize_t n,                \\
                    int64_t man, int64_t emin, int64_t max_code, int64_t ovc, uint64_t sh,      \\
                    int64_t r, uint64_t err_ovf, const uint64_t* restrict R,                    \\
                    int64_t* restrict cnt) {                                                    \\
        const uint64_t ABS = 0x7FFFFFFFFFFFFFFFULL, nonfin = 0x7FFULL << 52;                    \\
        const uint64_t sr_sh = 52 - man - r, lowm = (1ULL << (52 - man)) - 1;                   \\
        const int64_t rebias = (1022 + emin) << man;                                            \\
        const uint64_t lo_pat = (uint64_t)(1023 + emin) << 52, two52 = 0x4330000000000000ULL;   \\
        const uint64_t sbits = (uint64_t)(1023 + man - emin + r) << 52;                         \\
        const uint64_t s1bits = (uint64_t)(1023 + man - emin) << 52;                            \\
        double S, S1, T52;                                                                      \\
        uint64_t n_in = 0, n_up = 0, n_ovf = 0, bad = 0;                                        \\
        memcpy(&S, &sbits, 8);                                                                  \\
        memcpy(&S1, &s1bits, 8);                                                                \\
        memcpy(&T52, &two52, 8);                                                                \\
        for (Py_ssize_t j = 0; j < n; j++) {                                                    \\
            uint64_t u = xb[j], mag = u & ABS, vb;                                              \\
            double a, v;                                                                        \\
            memcpy(&a, &mag, 8);                                                                \\
            bad |= (uint64_t)(mag >= nonfin);                                                   \\
            int64_t sub = -(int64_t)(mag < lo_pat);                                             \\
            v = __builtin_floor(a * S) + T52;                                                   \\
            memcpy(&vb, &v, 8);                                                                 \\
            uint64_t tt = ((vb - two52) & (uint64_t)sub) | ((mag >> sr_sh) & ~(uint64_t)sub);   \\
            uint64_t rq = (tt + R[j]) >> r;                                                     \\
            int64_t code = (int64_t)rq - (rebias & ~sub);                                       \\
            uint64_t ovf = (uint64_t)(code > max_code);                                         \\
            if (COUNT) {                                                                        \\
                double t = a * S1;                                                              \\
                int64_t in_s = (int64_t)(__builtin_floor(t) != t);                              \\
                int64_t in_n = (int64_t)((mag & lowm) != 0);                                    \\
                n_in += (uint64_t)((in_s & sub) | (in_n & ~sub));                               \\
                n_up += rq - (tt >> r);                                                         \\
            }                                                                                   \\
            FX_FLT_STORE(CT)                                                                    \\
        FX_FLT_END                                                                              \\
    }
    #define FX_FLT_ALL(W, CT)                                                                   \\
        FX_FLT_RNE(fx_flt_rne_c##W, CT, 1) FX_FLT_RNE(fx_flt_rne_n##W, CT, 0)                   \\
        FX_FLT_SR(fx_flt_sr_c##W, CT, 1) FX_FLT_SR(fx_flt_sr_n##W, CT, 0)
    FX_FLT_ALL(8, uint8_t)
    FX_FLT_ALL(16, uint16_t)
    FX_FLT_ALL(32, uint32_t)
    FX_FLT_ALL(64, uint64_t)
    typedef int (*fx_flt_block_t)(const uint64_t*, void*, Py_ssize_t, int64_t, int64_t, int64_t,
                                  int64_t, uint64_t, int64_t, uint64_t, const uint64_t*,
                                  int64_t*);
    /* the loop for an output of w bytes, SR (sr) or nearest-even, counting or not */
    static fx_flt_block_t fx_flt_block_of(int w, int sr, int count) {
        static const fx_flt_block_t table[16] = {
            (fx_flt_block_t)fx_flt_rne_n8, (fx_flt_block_t)fx_flt_rne_c8,
            (fx_flt_block_t)fx_flt_sr_n8, (fx_flt_block_t)fx_flt_sr_c8,
            (fx_flt_block_t)fx_flt_rne_n16, (fx_flt_block_t)fx_flt_rne_c16,
            (fx_flt_block_t)fx_flt_sr_n16, (fx_flt_block_t)fx_flt_sr_c16,
            (fx_flt_block_t)fx_flt_rne_n32, (fx_flt_block_t)fx_flt_rne_c32,
            (fx_flt_block_t)fx_flt_sr_n32, (fx_flt_block_t)fx_flt_sr_c32,
            (fx_flt_block_t)fx_flt_rne_n64, (fx_flt_block_t)fx_flt_rne_c64,
            (fx_flt_block_t)fx_flt_sr_n64, (fx_flt_block_t)fx_flt_sr_c64};
        int k = w == 1 ? 0 : (w == 2 ? 1 : (w == 4 ? 2 : 3));
        return table[4 * k + 2 * (sr != 0) + (count != 0)];
    }
    """
    ctypedef int (*flt_block_t)(const uint64_t*, void*, Py_ssize_t, int64_t, int64_t, int64_t,
                                int64_t, uint64_t, int64_t, uint64_t, const uint64_t*,
                                int64_t*) noexcept nogil
    flt_block_t flt_block_of "fx_flt_block_of"(int w, int sr, int count) noexcept nogil


ctypedef fused code_t:
    uint8_t
    uint16_t
    uint32_t
    uint64_t

cdef enum:
    CHUNK = 32768
    BLOCK = 1024

# float rounding codes (the order of fxsim.floatcast.FLOAT_ROUNDING)
cpdef enum FloatRounding:
    FR_NEAREST_EVEN = 0
    FR_NEAREST_AWAY = 1
    FR_TOWARD_ZERO = 2
    FR_AWAY_FROM_ZERO = 3
    FR_FLOOR = 4
    FR_CEIL = 5
    FR_ROUND_TO_ODD = 6
    FR_STOCHASTIC = 7
    FR_STOCHASTIC_EPS = 8
    FR_SIGNED_STOCHASTIC_EPS = 9

cpdef enum FloatOverflow:
    FO_SATURATE = 0
    FO_IEEE = 1
    FO_ERROR = 2

ctypedef struct fspec:
    int man
    int nbits
    int emin          # 1 - bias
    int emax          # unbiased exponent of the largest finite value
    int subnormals
    int ovf           # FO_*
    int fast_sr       # plain SR, trunc rule: the block loop's SR
    uint64_t max_code
    uint64_t ovc_pos  # magnitude code of an overflowed positive / negative value (FO_SATURATE, FO_IEEE)
    uint64_t ovc_neg
    uint64_t inf_pos  # magnitude code of an infinite input, per sign (FO_ERROR: 0 and err_inf)
    uint64_t inf_neg
    int inf_err       # an infinite input raises (FO_ERROR without infinities)
    int inf_ovf       # an infinite input counts as an overflow (it does not stay infinite)
    int has_nan
    uint64_t nan_code
    int rne           # rounding 'nearest_even' (block_rne)
    int floor_mode    # rounding 'floor': an exact zero sum of opposite signs is -0 (IEEE 754 §6.3)
    int kind          # 0 ieee, 1 fn, 2 none (the format's nonfinite convention, for decoding)
    uint64_t fmt_inf  # magnitude code of +inf (kind 0)
    int count         # the block loops count inexact and rounded-up elements (cast_f64's count)
    cspec cpos        # the fixed-point mode acting on the magnitude of a positive / negative x
    cspec cneg
    uint32_t tpos
    uint32_t tneg


cdef int fixed_mode(int fr, int neg) noexcept:
    if fr == FR_NEAREST_EVEN:
        return RM_NEAREST_EVEN
    if fr == FR_NEAREST_AWAY:
        return RM_NEAREST_UP
    if fr == FR_TOWARD_ZERO:
        return RM_FLOOR
    if fr == FR_AWAY_FROM_ZERO:
        return RM_CEIL
    if fr == FR_FLOOR:
        return RM_CEIL if neg else RM_FLOOR
    if fr == FR_CEIL:
        return RM_FLOOR if neg else RM_CEIL
    if fr == FR_ROUND_TO_ODD:
        return RM_JAM
    if fr == FR_STOCHASTIC:
        return RM_STOCHASTIC
    if fr == FR_STOCHASTIC_EPS:
        return RM_STOCHASTIC_EPS
    return RM_SIGNED_STOCHASTIC_EPS


cdef class FloatSpec:
    """One float cast as the kernels read it: the rounding and overflow codes, r, the few-bit
    rule, floor(eps * 2**r), and the target format's constants."""
    cdef fspec fs

    def __init__(self, int rounding, int overflow, int sr_rule, int r, uint64_t E, int man,
                 int nbits, int emin, int emax, bint subnormals, uint64_t max_code, inf_code,
                 nan_code):
        cdef int mp = fixed_mode(rounding, 0), mn = fixed_mode(rounding, 1)
        # modes whose magnitude never rounds up past max (IEEE: overflow gives max finite)
        cdef bint tz_pos = mp == RM_FLOOR or mp == RM_JAM
        cdef bint tz_neg = mn == RM_FLOOR or mn == RM_JAM
        cdef uint64_t away = max_code
        if not (0 <= rounding <= FR_SIGNED_STOCHASTIC_EPS and 0 <= overflow <= FO_ERROR
                and 0 <= r <= 64 and 2 <= nbits <= 64):
            raise ValueError("FloatSpec: a code or parameter is out of range")
        if overflow == FO_IEEE:
            away = inf_code if inf_code is not None else (nan_code if nan_code is not None else max_code)
        self.fs.man = man
        self.fs.nbits = nbits
        self.fs.emin = emin
        self.fs.emax = emax
        self.fs.subnormals = subnormals
        self.fs.ovf = overflow
        self.fs.fast_sr = rounding == FR_STOCHASTIC and sr_rule == SR_TRUNC and 1 <= r <= 63
        self.fs.max_code = max_code
        self.fs.ovc_pos = max_code if tz_pos else away
        self.fs.ovc_neg = max_code if tz_neg else away
        self.fs.inf_err = 0
        self.fs.inf_ovf = not (inf_code is not None and overflow != FO_SATURATE)
        if inf_code is not None and overflow != FO_SATURATE:
            self.fs.inf_pos = self.fs.inf_neg = inf_code
        elif overflow == FO_IEEE and nan_code is not None:
            self.fs.inf_pos = self.fs.inf_neg = nan_code
        elif overflow == FO_ERROR:
            self.fs.inf_pos = self.fs.inf_neg = 0
            self.fs.inf_err = 1
        else:
            self.fs.inf_pos = self.fs.inf_neg = max_code
        self.fs.has_nan = nan_code is not None
        self.fs.floor_mode = rounding == FR_FLOOR
        self.fs.rne = rounding == FR_NEAREST_EVEN
        self.fs.count = 1
        self.fs.kind = 0 if inf_code is not None else (1 if nan_code is not None else 2)
        self.fs.fmt_inf = inf_code if inf_code is not None else 0
        self.fs.nan_code = nan_code if nan_code is not None else 0
        self.fs.cpos = make_cspec(mp, OV_SATURATE, sr_rule, r, 64, 1, E)
        self.fs.cneg = make_cspec(mn, OV_SATURATE, sr_rule, r, 64, 1, E)
        self.fs.tpos = det_table(mp) if rounding < FR_STOCHASTIC else 0
        self.fs.tneg = det_table(mn) if rounding < FR_STOCHASTIC else 0


def n_chunks(Py_ssize_t n):
    return (n + CHUNK - 1) // CHUNK


cdef inline int bitlen128(u128 m) noexcept nogil:
    cdef uint64_t hi = <uint64_t>(m >> 64)
    return 64 + bitlen64(hi) if hi else bitlen64(<uint64_t>m)


cdef inline u128 split_mag(u128 M, int s, u128* F, bint* sticky) noexcept nogil:
    """q = floor(M * 2**-s) (the low 128 bits when s < 0); the discarded fraction phi goes to
    F = floor(phi * 2**65), its lower bits OR-ed into ``sticky``."""
    cdef u128 rem
    F[0] = 0
    if s <= 0:
        return M << (-s) if -s < 128 else 0
    if s < 128:
        rem = M & (((<u128>1) << s) - 1)
        if s <= 65:
            F[0] = rem << (65 - s)
        else:
            F[0] = rem >> (s - 65)
            sticky[0] = sticky[0] | ((rem & (((<u128>1) << (s - 65)) - 1)) != 0)
        return M >> s
    if s - 65 < 128:
        F[0] = M >> (s - 65)
        sticky[0] = sticky[0] | ((M & (((<u128>1) << (s - 65)) - 1)) != 0)
    else:
        sticky[0] = 1
    return 0


cdef inline uint64_t round_exact(const fspec* fs, u128 M, int E, bint sticky0, int neg,
                                 uint64_t R, int vsign, counts_t* c, int* err) noexcept nogil:
    """The code (sign included) of (-1)**neg * (M + d) * 2**E with d = 0 (sticky0 = 0) or some
    0 < d < 1 (sticky0 = 1): rounding on the magnitude (spec §9.2), then
    overflow (§9.3) and the flush of subnormals."""
    cdef int L, ux, te, s, up, inexact
    cdef uint64_t q, code
    cdef u128 F = 0
    cdef bint sticky = sticky0
    cdef uint64_t sbit = (<uint64_t>neg) << (fs.nbits - 1)
    c.n += 1
    if M == 0:
        return sbit
    L = bitlen128(M)
    ux = E + L - 1
    te = ux if ux > fs.emin else fs.emin
    s = te - fs.man - E
    q = <uint64_t>split_mag(M, s, &F, &sticky)
    inexact = (F != 0) | sticky
    up = decide(&fs.cneg if neg else &fs.cpos, F, sticky, 0, <int>(q & 1), R,
                -vsign if neg else vsign)
    if te > fs.emax + 2:
        te = fs.emax + 2
    code = ((<uint64_t>(te - fs.emin)) << fs.man) + q + up
    c.inexact += inexact
    c.up += up
    if code > fs.max_code:
        c.ovf += 1
        if fs.ovf == FO_ERROR:
            if err[0] == ERR_NONE:
                err[0] = ERR_OVERFLOW
            return 0
        return (fs.ovc_neg if neg else fs.ovc_pos) | sbit
    if not fs.subnormals and code < ((<uint64_t>1) << fs.man):
        c.inexact += (code != 0) & (inexact == 0)
        code = 0
    return code | sbit


cdef inline uint64_t round_mag(const fspec* fs, uint64_t M, int E, int neg, uint64_t R,
                               int vsign, counts_t* c, int* err) noexcept nogil:
    """The code (sign included) of the exact value (-1)**neg * M * 2**E, M >= 0."""
    return round_exact(fs, M, E, 0, neg, R, vsign, c, err)


cdef inline uint64_t cast_one(const fspec* fs, double x, uint64_t R, int vsign, counts_t* c,
                              int* err) noexcept nogil:
    """The code of one float64 (NaN and inf by the format's convention, spec §9.4)."""
    cdef uint64_t u = (<uint64_t*>&x)[0]
    cdef int neg = <int>(u >> 63)
    cdef int ex = <int>((u >> 52) & 0x7FF)
    cdef uint64_t f = u & ((<uint64_t>1 << 52) - 1)
    cdef uint64_t sbit = (<uint64_t>neg) << (fs.nbits - 1)
    if ex == 0x7FF:
        c.n += 1
        if f != 0:
            if not fs.has_nan:
                err[0] = ERR_NAN
                return 0
            return fs.nan_code | sbit
        if fs.inf_err:
            err[0] = ERR_INF
            return 0
        c.ovf += fs.inf_ovf
        return (fs.inf_neg if neg else fs.inf_pos) | sbit
    if ex == 0:
        return round_mag(fs, f, -1074, neg, R, vsign, c, err)
    return round_mag(fs, f | ((<uint64_t>1) << 52), ex - 1075, neg, R, vsign, c, err)


cdef inline int block_fast(const uint64_t* xb, code_t* out, Py_ssize_t n, const fspec* fs,
                           const uint64_t* R, counts_t* c) noexcept nogil:
    """round_mag for a block of normal float64s (and zeros), deterministic modes or plain SR
    (trunc rule), branch-free so that it vectorizes; 1 (nothing stored) when some element needs
    the scalar path: NaN, inf, a float64 subnormal, an SR value more than 63 bits below the
    kept ones, an overflow under FO_ERROR."""
    cdef Py_ssize_t j
    cdef uint64_t u, M, q, rt, neg, ovf, fl
    cdef uint64_t top = (<uint64_t>1) << 63, mant = ((<uint64_t>1) << 52) - 1
    cdef int64_t ex, ux, te, tec, s, sc, code, nzm
    cdef int64_t man = fs.man, emin = fs.emin, emax2 = fs.emax + 2
    cdef int64_t max_code = fs.max_code, ovc_pos = fs.ovc_pos, ovc_neg = fs.ovc_neg
    cdef int64_t sub_lim = ((<int64_t>1) << fs.man) if not fs.subnormals else 0
    cdef uint64_t tpos = fs.tpos, tneg = fs.tneg
    cdef uint64_t sr = R != NULL
    cdef int64_t r = fs.cpos.r
    cdef uint64_t two_r = (<uint64_t>1) << r if sr else 0
    cdef uint64_t sh = fs.nbits - 1
    cdef uint64_t n_inexact = 0, n_up = 0, n_ovf = 0, bad = 0, inexact, gt, eq, up
    cdef uint64_t err_ovf = fs.ovf == FO_ERROR
    for j in range(n):
        u = xb[j]
        neg = u >> 63
        ex = <int64_t>((u >> 52) & 0x7FF)
        nzm = <int64_t>0 - <int64_t>((u << 1) != 0)     # all ones unless x is ±0
        bad |= <uint64_t>((ex == 0x7FF) | ((ex == 0) & (nzm != 0)))
        M = (u & mant) | (<uint64_t>(nzm & 1) << 52)
        ux = ex - 1023
        te = ux if ux > emin else emin
        s = te - man - ux + 52
        bad |= <uint64_t>(s > 63) & sr
        sc = s if s < 63 else 63
        q = M >> sc
        rt = (M << (63 - sc)) << 1          # the discarded bits, at the top of the word
        inexact = <uint64_t>(rt != 0)
        # deterministic: the mode's truth table; SR (trunc): the top r discarded bits + R carry
        gt = (rt >> 63) & <uint64_t>((rt << 1) != 0)
        eq = <uint64_t>(rt == top)
        up = ((tneg if neg else tpos) >> (inexact | (gt << 1) | (eq << 2) | ((q & 1) << 4))) & 1
        if sr:
            up = inexact & <uint64_t>(((rt >> (64 - r)) + R[j]) >= two_r)
        tec = te if te < emax2 else emax2
        code = ((((tec - emin)) << man) + <int64_t>(q + up)) & nzm
        ovf = <uint64_t>(code > max_code)
        bad |= ovf & err_ovf
        n_ovf += ovf
        code = ((ovc_neg if neg else ovc_pos) if ovf else code)
        fl = <uint64_t>((code < sub_lim) & (code != 0))
        n_inexact += inexact | fl
        n_up += up
        code = 0 if fl else code
        out[j] = <code_t>(<uint64_t>code | (neg << sh))
    if bad:
        return 1
    add_block(c, n, n_inexact, n_up, n_ovf)
    return 0


cdef inline int block_normal(const uint64_t* xb, code_t* out, Py_ssize_t n, const fspec* fs,
                             const uint64_t* R, counts_t* c) noexcept nogil:
    """block_fast for a block whose non-zero inputs all lie in the target's normal binades
    (1 <= man <= 51): every shift is by the constant 52 - man, the code is the input's top bits
    re-biased plus the rounding carry; 1 (nothing stored) otherwise."""
    cdef Py_ssize_t j
    cdef uint64_t u, mag, ex, q, rt, neg, ovf, inexact, gt, eq, up, nz
    cdef uint64_t top = (<uint64_t>1) << 63, absm = top - 1
    cdef int64_t code, nzm
    cdef uint64_t s = 52 - fs.man, ls = 12 + fs.man
    cdef int64_t rebias = (<int64_t>(1023 - (1 - fs.emin))) << fs.man
    cdef uint64_t lo_ex = <uint64_t>max(fs.emin + 1023, 1), hi_ex = <uint64_t>min(fs.emax + 1023, 2046)
    cdef int64_t max_code = fs.max_code, ovc_pos = fs.ovc_pos, ovc_neg = fs.ovc_neg
    cdef uint64_t tpos = fs.tpos, tneg = fs.tneg
    cdef uint64_t sr = R != NULL
    cdef uint64_t rs = 64 - fs.cpos.r if sr else 0
    cdef uint64_t two_r = (<uint64_t>1) << fs.cpos.r if sr else 0
    cdef uint64_t sh = fs.nbits - 1
    cdef uint64_t n_inexact = 0, n_up = 0, n_ovf = 0, bad = 0
    cdef uint64_t err_ovf = fs.ovf == FO_ERROR
    for j in range(n):
        u = xb[j]
        neg = u >> 63
        mag = u & absm
        ex = mag >> 52
        nz = <uint64_t>(mag != 0)
        nzm = <int64_t>0 - <int64_t>nz
        bad |= nz & <uint64_t>((ex < lo_ex) | (ex > hi_ex))
        q = mag >> s
        rt = mag << ls
        inexact = <uint64_t>(rt != 0)
        gt = (rt >> 63) & <uint64_t>((rt << 1) != 0)
        eq = <uint64_t>(rt == top)
        up = ((tneg if neg else tpos) >> (inexact | (gt << 1) | (eq << 2) | ((q & 1) << 4))) & 1
        if sr:
            up = inexact & <uint64_t>(((rt >> rs) + R[j]) >= two_r)
        code = (<int64_t>(q + up) - rebias) & nzm
        ovf = <uint64_t>(code > max_code)
        bad |= ovf & err_ovf
        n_ovf += ovf
        code = ((ovc_neg if neg else ovc_pos) if ovf else code)
        n_inexact += inexact
        n_up += up
        out[j] = <code_t>(<uint64_t>code | (neg << sh))
    if bad:
        return 1
    add_block(c, n, n_inexact, n_up, n_ovf)
    return 0


cdef inline int block_rne(const uint64_t* xb, code_t* out, Py_ssize_t n, const fspec* fs,
                          const uint64_t* R, counts_t* c) noexcept nogil:
    """block_fast for nearest_even, or (R given) plain SR with the trunc rule: with the 53-bit
    significand M and the shift s to the target's spacing, the rounded magnitude is
    q + carry, carry = (rem + 2**(s-1) - 1 + q_lsb) >> s, or for SR ((rem >> (s - r)) + R) >> r,
    and the code ((te - emin) << man) + q + carry (a carry out of the mantissa moves to the next
    binade by itself); fewer operations than the truth table, so the loop stays in registers.
    1 (nothing stored) for NaN, inf, float64 subnormals, SR with s > 63, an overflow under
    'error'.  Needs man <= 51 (s >= 1)."""
    cdef Py_ssize_t j
    cdef uint64_t u, M, q, rq, ovf, nz, low, fl
    cdef uint64_t mant = ((<uint64_t>1) << 52) - 1
    cdef int64_t ex, te, sc, code, s
    cdef int64_t man = fs.man, emin = fs.emin, emax2 = fs.emax + 2
    cdef int64_t max_code = fs.max_code, ovc = fs.ovc_pos
    cdef int64_t sub_lim = ((<int64_t>1) << fs.man) if not fs.subnormals else 0
    cdef uint64_t sh = fs.nbits - 1
    cdef uint64_t n_inexact = 0, n_up = 0, n_ovf = 0, bad = 0
    cdef uint64_t err_ovf = fs.ovf == FO_ERROR
    cdef uint64_t sr = R != NULL
    cdef int64_t r = fs.cpos.r if sr else 0
    for j in range(n):
        u = xb[j]
        ex = <int64_t>((u >> 52) & 0x7FF)
        nz = <uint64_t>((u << 1) != 0)
        bad |= nz & <uint64_t>((ex == 0) | (ex == 0x7FF))
        M = (u & mant) | (nz << 52)
        te = ex - 1023 if ex - 1023 > emin else emin
        s = te - man - (ex - 1023) + 52
        bad |= <uint64_t>(s > 63) & sr     # nearest: M < 2**53 rounds to 0 as it does at s = 63
        sc = s if s < 63 else 63
        q = M >> sc
        low = M & ((((<uint64_t>1) << sc) - 1))
        if sr:
            rq = q + (((low >> (sc - r)) + R[j]) >> r)
        else:
            rq = q + ((low + (((<uint64_t>1) << sc) >> 1) - 1 + (q & 1)) >> sc)
        n_inexact += <uint64_t>(low != 0)
        n_up += rq - q
        te = te if te < emax2 else emax2
        code = (((te - emin) << man) + <int64_t>rq) & (<int64_t>0 - <int64_t>nz)
        ovf = <uint64_t>(code > max_code)
        n_ovf += ovf
        code = ovc if ovf else code
        fl = <uint64_t>((code < sub_lim) & (code != 0))
        n_inexact += fl & <uint64_t>(low == 0)
        code = 0 if fl else code
        out[j] = <code_t>(<uint64_t>code | ((u >> 63) << sh))
    bad |= <uint64_t>(n_ovf != 0) & err_ovf
    if bad:
        return 1
    add_block(c, n, n_inexact, n_up, n_ovf)
    return 0


cdef inline int block_chain(const uint64_t* xb, code_t* out, Py_ssize_t n, const fspec* fs,
                            const uint64_t* R, counts_t* c) noexcept nogil:
    """The generic block loops for one code width, the most specialised that applies first: nearest-even
    (or SR with the draw below bit 52), then normal-range, then ``block_fast``."""
    if fs.man <= 51 and ((fs.rne and R == NULL) or (R != NULL and fs.cpos.r <= 52 - fs.man)):
        if block_rne(xb, out, n, fs, R, c) == 0:
            return 0
    if 1 <= fs.man <= 51 and block_normal(xb, out, n, fs, R, c) == 0:
        return 0
    return block_fast(xb, out, n, fs, R, c)


cdef inline int fast_any(const uint64_t* xb, char* out, int w, Py_ssize_t n, const fspec* fs,
                         const uint64_t* R, counts_t* c) noexcept nogil:
    cdef int64_t cnt[4]
    if fs.subnormals and 1 <= fs.man <= 48 and fs.emin >= -1022 and (
            (fs.rne and R == NULL) or (R != NULL and fs.cpos.r <= 52 - fs.man
                                       and fs.man - fs.emin + fs.cpos.r <= 1000)):
        cnt[0] = 0; cnt[1] = 0; cnt[2] = 0; cnt[3] = 0
        if flt_block_of(w, R != NULL, fs.count)(xb, out, n, fs.man, fs.emin, fs.max_code,
                                                fs.ovc_pos, fs.nbits - 1,
                                                fs.cpos.r if R != NULL else 0,
                                                fs.ovf == FO_ERROR, R, cnt) == 0:
            add_block(c, cnt[0], cnt[1], cnt[2], cnt[3])
            return 0
    if w == 1:
        return block_chain(xb, <uint8_t*>out, n, fs, R, c)
    if w == 2:
        return block_chain(xb, <uint16_t*>out, n, fs, R, c)
    if w == 4:
        return block_chain(xb, <uint32_t*>out, n, fs, R, c)
    return block_chain(xb, <uint64_t*>out, n, fs, R, c)


cdef inline void note(counts_t* c, int64_t[:, ::1] cnt, Py_ssize_t row) noexcept nogil:
    cnt[row, 0] += c.n
    cnt[row, 1] += c.inexact
    cnt[row, 2] += c.up
    cnt[row, 3] += c.ovf
    cnt[row, 4] += c.draws


cdef inline void run_chunk(const double* x, char* po, int w, Py_ssize_t i0, Py_ssize_t i1,
                           const fspec* fs, int stochastic, const uint64_t* pd, bitsrc_t* src,
                           uint64_t* dbuf, const int8_t* vsign, counts_t* c, int32_t* err,
                           int64_t* errpos) noexcept nogil:
    """Elements [i0, i1) of one chunk: the block loop where it applies, else element by element.
    Draws: from ``src`` (filled next to their use) or the caller's array ``pd`` (draw i for
    element i), none for a deterministic cast."""
    cdef Py_ssize_t b0 = i0, b1, i
    cdef const uint64_t* dp = NULL
    cdef counts_t cb
    cdef int e
    cdef int fast = fs.fast_sr if stochastic else 1
    while b0 < i1:
        b1 = min(i1, b0 + BLOCK)
        if stochastic:
            if src != NULL:
                src.fill(src.state, dbuf, b1 - b0, fs.cpos.r)
                dp = dbuf
            else:
                dp = pd + b0
        cb.n = 0; cb.inexact = 0; cb.up = 0; cb.ovf = 0; cb.draws = 0
        if fast and fast_any(<const uint64_t*>(x + b0), po + b0 * w, w, b1 - b0, fs, dp, &cb) == 0:
            c.n += cb.n; c.inexact += cb.inexact; c.up += cb.up; c.ovf += cb.ovf
        else:
            for i in range(b0, b1):
                e = ERR_NONE
                put(po, w, i, <int64_t>cast_one(fs, x[i], dp[i - b0] if stochastic else 0,
                                       vsign[i] if vsign != NULL else 0, c, &e))
                if e != ERR_NONE and err[0] == ERR_NONE:
                    err[0] = e
                    errpos[0] = i
        b0 = b1
    if stochastic:
        c.draws += i1 - i0


def cast_f64(const double[::1] x, int8_t[::1] out, FloatSpec spec, bint stochastic,
             const uint64_t[::1] draws, object capsule, const int8_t[::1] vsign, bint use_v,
             int64_t[:, ::1] cnt, int32_t[::1] errs, int64_t[::1] errpos, int nthreads,
             bint count=True):
    """out[i] = code of cast(x[i]) (bytes of the format's container).  Draws: from the
    source's ``capsule`` (the caller holds its lock; one thread, chunks in order, draw i for
    element i) or the array ``draws``.  One counter row and error slot per chunk.  ``count``
    False: the vectorized loops skip the inexact and rounded-up counts (no Counters context
    is listening); n, overflows and errors are always kept."""
    cdef fspec fsl = spec.fs
    cdef fspec* fs = &fsl
    cdef Py_ssize_t n = x.shape[0]
    cdef int w = word_bytes(fs.nbits)
    cdef Py_ssize_t nch = (n + CHUNK - 1) // CHUNK
    cdef char* po = <char*>&out[0] if n > 0 else NULL
    cdef const double* px = &x[0] if n > 0 else NULL
    cdef const uint64_t* pd = &draws[0] if stochastic and capsule is None else NULL
    cdef const int8_t* pv = &vsign[0] if use_v else NULL
    cdef bitsrc_t* src = NULL
    cdef Py_ssize_t ch
    cdef counts_t c
    cdef uint64_t* dbuf
    if n == 0:
        return
    fsl.count = count
    if stochastic and capsule is not None:
        src = bitsrc_from_capsule(capsule)
        nthreads = 1
    for ch in prange(nch, nogil=True, num_threads=nthreads, schedule="static"):
        dbuf = <uint64_t*>malloc(BLOCK * sizeof(uint64_t))
        c = zero_counts()          # assigned whole: private to each thread of the prange
        run_chunk(px, po, w, ch * CHUNK, min(n, ch * CHUNK + CHUNK), fs, stochastic, pd, src,
                  dbuf, pv, &c, &errs[ch], &errpos[ch])
        note(&c, cnt, ch)
        free(dbuf)


def cast_f64_streams(const double[::1] x, int8_t[::1] out, FloatSpec spec, list caps,
                     const int64_t[::1] cuts, const int8_t[::1] vsign, bint use_v,
                     int64_t[:, ::1] cnt, int32_t[::1] errs, int64_t[::1] errpos, int nthreads,
                     bint count=True):
    """Stochastic cast where part k rounds elements [cuts[k], cuts[k+1]) with the draws of
    caps[k], a private copy of the source already moved cuts[k] draws ahead: 1024 draws are
    filled at a time right before they are used, and the words are those of one sequential
    stream.  Parts are handed out dynamically; one counter row and error slot per part."""
    cdef fspec fsl = spec.fs
    cdef Py_ssize_t T = len(caps), k
    cdef int w = word_bytes(fsl.nbits)
    cdef char* po = <char*>&out[0] if out.shape[0] > 0 else NULL
    cdef const double* px = &x[0] if x.shape[0] > 0 else NULL
    cdef const int8_t* pv = &vsign[0] if use_v else NULL
    cdef counts_t c
    cdef uint64_t* dbuf
    cdef bitsrc_t** srcs
    if T == 0 or x.shape[0] == 0:
        return
    fsl.count = count
    srcs = <bitsrc_t**>malloc(T * sizeof(bitsrc_t*))
    for k in range(T):
        srcs[k] = bitsrc_from_capsule(caps[k])
    for k in prange(T, nogil=True, num_threads=nthreads, schedule="dynamic"):
        dbuf = <uint64_t*>malloc(BLOCK * sizeof(uint64_t))
        c = zero_counts()          # assigned whole: private to each thread of the prange
        run_chunk(px, po, w, cuts[k], cuts[k + 1], &fsl, 1, NULL, srcs[k], dbuf, pv, &c,
                  &errs[k], &errpos[k])
        note(&c, cnt, k)
        free(dbuf)
    free(srcs)


def cast_words(const uint64_t[::1] mag, const uint8_t[::1] neg, int E, int8_t[::1] out,
               FloatSpec spec, bint stochastic, const uint64_t[::1] draws,
               const int8_t[::1] vsign, bint use_v, int64_t[:, ::1] cnt, int32_t[::1] errs,
               int64_t[::1] errpos):
    """out[i] = code of cast((-1)**neg[i] * mag[i] * 2**E): fixed-point words into a float
    format (exact inputs of up to 64 bits), one thread, draws from the array."""
    cdef fspec* fs = &spec.fs
    cdef Py_ssize_t n = mag.shape[0], i
    cdef int w = word_bytes(fs.nbits)
    cdef char* po = <char*>&out[0] if n > 0 else NULL
    cdef counts_t c
    cdef int e
    c.n = 0; c.inexact = 0; c.up = 0; c.ovf = 0; c.draws = 0
    with nogil:
        for i in range(n):
            e = ERR_NONE
            put(po, w, i, <int64_t>round_mag(fs, mag[i], E, neg[i], draws[i] if stochastic else 0,
                                    vsign[i] if use_v else 0, &c, &e))
            if e != ERR_NONE and errs[0] == ERR_NONE:
                errs[0] = e
                errpos[0] = i
        if stochastic:
            c.draws = n
    note(&c, cnt, 0)


def fill_draws(object capsule, uint64_t[::1] out, int r):
    """out[i] = the source's next r-bit draws, in stream order (the caller holds its lock and
    has checked r)."""
    cdef bitsrc_t* src = bitsrc_from_capsule(capsule)
    cdef Py_ssize_t n = out.shape[0]
    if n == 0:
        return
    with nogil:
        src.fill(src.state, &out[0], n, r)


# -- arithmetic (spec §9.8): the exact result of each operation, rounded once -----------------

cdef extern from *:
    """
    #include <string.h>
    #include <math.h>
    /* One MAC row into an fp32 accumulator, nearest-even, every step rounded once: the product
       of two float64s is exact (checked by the caller), s + e = acc + p exactly (TwoSum), s
       rounded to odd at 53 bits, then to fp32 by the conversion (Boldo & Melquiond: rounding
       to odd at p + 2 or more bits, then to nearest at p bits, is the correct rounding).
       Returns 1 when a value is not finite or overflows fp32 (the caller redoes the row). */
    #define FX_TJ 32
    static inline unsigned long long fx_f32_bits(double x) {
        float f = (float)x; unsigned int u; memcpy(&u, &f, 4); return u;
    }
    static inline __attribute__((always_inline)) void fx_mac_step(
            double aik, const double* brow, double* acc, long long* cin, long long* cup,
            Py_ssize_t jn, int count) {
        for (Py_ssize_t j = 0; j < jn; j++) {
            double p = aik * brow[j], x = acc[j];
            double s = x + p, bb = s - x;
            double e = (x - (s - bb)) + (p - bb);
            long long u, v;
            memcpy(&u, &s, 8); memcpy(&v, &e, 8);
            /* inexact and s even: one step toward e (branch-free: it vectorizes) */
            long long m = -(long long)(e != 0.0) & ~(-(u & 1));
            u += m & (((u ^ v) >> 63) | 1);
            double ro; memcpy(&ro, &u, 8);
            double fd = (double)(float)ro;
            if (count) {
                cin[j] += fd != ro;
                cup[j] += fabs(fd) > fabs(ro);
            }
            acc[j] = fd;
        }
    }
    static int fx_mac_row_f32(const double* a, const double* B, double* o, Py_ssize_t K,
                              Py_ssize_t N, long long* inexact, long long* up, int count) {
        double acc[FX_TJ];
        long long cin[FX_TJ], cup[FX_TJ];
        int bad = 0;
        for (Py_ssize_t j0 = 0; j0 < N; j0 += FX_TJ) {
            Py_ssize_t jn = N - j0 < FX_TJ ? N - j0 : FX_TJ;
            for (Py_ssize_t j = 0; j < FX_TJ; j++) { acc[j] = 0.0; cin[j] = 0; cup[j] = 0; }
            for (Py_ssize_t k = 0; k < K; k++) {
                /* a constant trip count for whole tiles: gcc vectorizes it fully */
                if (jn == FX_TJ && count)
                    fx_mac_step(a[k], B + k * N + j0, acc, cin, cup, FX_TJ, 1);
                else if (jn == FX_TJ)
                    fx_mac_step(a[k], B + k * N + j0, acc, cin, cup, FX_TJ, 0);
                else
                    fx_mac_step(a[k], B + k * N + j0, acc, cin, cup, jn, 1);
            }
            for (Py_ssize_t j = 0; j < jn; j++) {
                bad |= !(fabs(acc[j]) <= 3.4028234663852886e38);
                o[j0 + j] = acc[j];
                *inexact += cin[j];
                *up += cup[j];
            }
        }
        return bad;
    }
    """
    int mac_row_f32 "fx_mac_row_f32"(const double* a, const double* B, double* o, Py_ssize_t K,
                                     Py_ssize_t N, long long* inexact, long long* up,
                                     int count) noexcept nogil
    uint64_t f32_bits "fx_f32_bits"(double x) noexcept nogil
    bint c_isfinite "isfinite"(double x) noexcept nogil
    bint c_isnan "isnan"(double x) noexcept nogil
    double c_ldexp "ldexp"(double x, int e) noexcept nogil


cdef inline counts_t zero_counts() noexcept nogil:
    cdef counts_t c
    c.n = 0
    c.inexact = 0
    c.up = 0
    c.ovf = 0
    c.draws = 0
    return c


ctypedef struct term_t:      # (-1)**neg * M * 2**E, exactly (M < 2**107)
    u128 M
    int E
    int neg

ctypedef struct exact_t:     # (-1)**neg * (M + d) * 2**E, with 0 < d < 1 when sticky
    u128 M
    int E
    int neg
    int sticky


cdef inline term_t term_double(double x) noexcept nogil:
    """A finite float64 as an exact term."""
    cdef uint64_t u = (<uint64_t*>&x)[0]
    cdef int ex = <int>((u >> 52) & 0x7FF)
    cdef term_t t
    t.neg = <int>(u >> 63)
    t.M = u & (((<uint64_t>1) << 52) - 1)
    t.E = -1074
    if ex != 0:
        t.M = t.M | ((<u128>1) << 52)
        t.E = ex - 1075
    return t


cdef inline term_t term_word(int64_t w, int fl) noexcept nogil:
    """A fixed-point word w * 2**-fl as an exact term."""
    cdef term_t t
    t.neg = w < 0
    t.M = (~(<uint64_t>w)) + 1 if w < 0 else <uint64_t>w
    t.E = -fl
    return t


cdef inline term_t term_mul(term_t a, term_t b) noexcept nogil:
    """The exact product of two terms of at most 53 bits."""
    cdef term_t t
    t.neg = a.neg ^ b.neg
    t.M = a.M * b.M
    t.E = a.E + b.E
    return t


cdef inline exact_t exact_of(term_t a) noexcept nogil:
    cdef exact_t x
    x.M = a.M
    x.E = a.E
    x.neg = a.neg
    x.sticky = 0
    return x


cdef inline exact_t exact_sum(term_t a, term_t b, int floor_mode) noexcept nogil:
    """a + b in a 128-bit window with a sticky bit: the larger term's top bit goes to bit 126,
    the other is aligned to it.  Bits fall below the window (sticky) only when the smaller term
    is below 2**-20 of the larger (both under 2**107), so the result's top bit is at 125 or
    126 and the 72 bits below its 53rd bit are exact.  An exact zero sum of opposite signs is +0
    (-0 when rounding 'floor'); two zeros of one sign keep it (IEEE 754 §6.3)."""
    cdef exact_t x
    cdef term_t t
    cdef int La, Lb, Ew, d
    cdef u128 MA, MB
    cdef int sticky = 0
    if a.M == 0 and b.M == 0:
        x.M = 0
        x.E = 0
        x.sticky = 0
        x.neg = (a.neg | b.neg) if floor_mode else (a.neg & b.neg)
        return x
    if a.M == 0:
        return exact_of(b)
    if b.M == 0:
        return exact_of(a)
    La = bitlen128(a.M)
    Lb = bitlen128(b.M)
    if b.E + Lb > a.E + La:
        t = a
        a = b
        b = t
        d = La
        La = Lb
        Lb = d
    Ew = a.E + La - 127
    MA = a.M << (a.E - Ew)
    d = Ew - b.E
    if d <= 0:
        MB = b.M << (-d)
    elif d < 128:
        MB = b.M >> d
        sticky = (b.M & (((<u128>1) << d) - 1)) != 0
    else:
        MB = 0
        sticky = 1
    x.E = Ew
    x.sticky = sticky
    if a.neg == b.neg:
        x.M = MA + MB
        x.neg = a.neg
    elif MA >= MB:
        x.M = MA - MB - sticky
        x.neg = a.neg if (x.M != 0 or sticky) else floor_mode
    else:                          # sticky is 0 here: b was aligned exactly
        x.M = MB - MA
        x.neg = b.neg
    return x


cdef inline int64_t round_fixed(const cspec* cs, int fl, exact_t x, uint64_t R, int vsign,
                                counts_t* c, int* err) noexcept nogil:
    """The word of cast(x, Q(wl, fl)) (spec §2-§3, rounding on the signed value) for an exact_t;
    exact when the window holds r + 1 bits below the word's LSB, which it does for every
    result inside a 64-bit word with r <= 62."""
    cdef int s = -(x.E + fl), L, up, inexact, big
    cdef u128 q, qs, F = 0
    cdef bint sticky = x.sticky
    c.n += 1
    if x.M == 0 and not sticky:
        up = decide(cs, 0, 0, 0, 0, R, vsign) if moves_exact(cs) else 0    # 'tt_sfpu': 0 -> 1 when R = 0
        c.up += up
        return <int64_t>apply_overflow(cs, up, 0, c, err)
    L = bitlen128(x.M)
    big = L - s > 125
    q = split_mag(x.M, s, &F, &sticky)
    inexact = (F != 0) | sticky
    if x.neg and inexact:          # t = -(q + phi) = -(q + 1) + (1 - phi)
        qs = (<u128>0) - q - 1
        F = ((<u128>1) << 65) - F - (1 if sticky else 0)
    elif x.neg:
        qs = (<u128>0) - q
    else:
        qs = q
    up = decide(cs, F, sticky, x.neg, <int>(qs & 1), R, vsign)
    c.inexact += inexact
    c.up += up > 0
    return <int64_t>apply_overflow(cs, <i128>(qs + up), ((-1 if x.neg else 1) if big else 0), c, err)


cdef inline double code_value(const fspec* fs, uint64_t code) noexcept nogil:
    """The float64 value of a code of the format (exact)."""
    cdef uint64_t mag = code & (((<uint64_t>1) << (fs.nbits - 1)) - 1)
    cdef uint64_t Ef = mag >> fs.man, F = mag & (((<uint64_t>1) << fs.man) - 1)
    cdef double v
    if fs.kind == 0 and mag >= fs.fmt_inf:
        v = (1e308 * 10.0) if mag == fs.fmt_inf else (0.0 * (1e308 * 10.0))
    elif fs.kind == 1 and mag == fs.max_code + 1:
        v = 0.0 * (1e308 * 10.0)
    elif Ef == 0:
        v = c_ldexp(<double>F, fs.emin - fs.man) if fs.subnormals else 0.0
    else:
        v = c_ldexp(<double>(F | ((<uint64_t>1) << fs.man)), <int>Ef - 1 + fs.emin - fs.man)
    return -v if (code >> (fs.nbits - 1)) & 1 else v


cdef inline uint64_t nonfinite_code(const fspec* fs, double y, counts_t* c, int* err) noexcept nogil:
    """The code of an infinite or NaN result: a NaN result is the format's NaN, sign clear."""
    if c_isnan(y):
        c.n += 1
        if not fs.has_nan:
            if err[0] == ERR_NONE:
                err[0] = ERR_NAN
            return 0
        return fs.nan_code
    return cast_one(fs, y, 0, 0, c, err)


cdef inline uint64_t arith_one(const fspec* fs, int op, double a, double b, double cc,
                               uint64_t R, int vsign, counts_t* c, int* err) noexcept nogil:
    """The code of a + b (op 0), a - b (1), a * b (2) or a * b + cc (3), rounded once."""
    cdef exact_t x
    cdef double y
    if op == 1:
        b = -b
    if not (c_isfinite(a) and c_isfinite(b) and (op != 3 or c_isfinite(cc))):
        if op <= 1:
            y = a + b
        elif op == 2:
            y = a * b
        elif c_isfinite(a) and c_isfinite(b):
            y = cc                 # a finite product plus an infinite or NaN addend
        else:
            y = a * b + cc
        return nonfinite_code(fs, y, c, err)
    if op <= 1:
        x = exact_sum(term_double(a), term_double(b), fs.floor_mode)
    elif op == 2:
        x = exact_of(term_mul(term_double(a), term_double(b)))
    else:
        x = exact_sum(term_mul(term_double(a), term_double(b)), term_double(cc), fs.floor_mode)
    return round_exact(fs, x.M, x.E, x.sticky, x.neg, R, vsign, c, err)


def arith(int op, const double[::1] a, const double[::1] b, const double[::1] cc,
          int8_t[::1] out, FloatSpec spec, bint stochastic, const uint64_t[::1] draws,
          const int8_t[::1] vsign, bint use_v, int64_t[:, ::1] cnt, int32_t[::1] errs,
          int64_t[::1] errpos, int nthreads):
    """out[i] = code of a[i] op b[i] (op 0 add, 1 sub, 2 mul, 3 fma with cc[i]), one rounding;
    draw i for element i.  One counter row and error slot per chunk."""
    cdef fspec* fs = &spec.fs
    cdef Py_ssize_t n = a.shape[0], ch, i
    cdef int w = word_bytes(fs.nbits)
    cdef Py_ssize_t nch = (n + CHUNK - 1) // CHUNK
    cdef char* po = <char*>&out[0] if n > 0 else NULL
    cdef counts_t c
    cdef int e
    if n == 0:
        return
    for ch in prange(nch, nogil=True, num_threads=nthreads, schedule="static"):
        c = zero_counts()
        for i in range(ch * CHUNK, min(n, ch * CHUNK + CHUNK)):
            e = ERR_NONE
            put(po, w, i, <int64_t>arith_one(fs, op, a[i], b[i], cc[i] if op == 3 else 0.0,
                                             draws[i] if stochastic else 0,
                                             vsign[i] if use_v else 0, &c, &e))
            if e != ERR_NONE and errs[ch] == ERR_NONE:
                errs[ch] = e
                errpos[ch] = i
        if stochastic:
            c.draws = min(n, ch * CHUNK + CHUNK) - ch * CHUNK
        note(&c, cnt, ch)


# -- dot products with float and fixed-point roles (spec §4 order) ----------------------------

ctypedef struct role_t:
    int kind          # 0 absent (exact), 1 a float format, 2 a fixed-point format
    int sto           # stochastic: one draw per cast
    int fl            # kind 2: fraction length
    fspec fs          # kind 1
    cspec cs          # kind 2

ctypedef struct val_t:  # a value in flight: a float role's value and code, a fixed role's word
    double d
    uint64_t code
    int64_t w
    int fin           # finite (a fixed word always is)


cdef role_t role_of(tuple spec):
    """(kind, FloatSpec or CastSpec or None, fl, stochastic) -> role_t."""
    cdef role_t ro
    ro.kind = spec[0]
    ro.fl = spec[2]
    ro.sto = spec[3]
    if ro.kind == 1:
        ro.fs = (<FloatSpec?>spec[1]).fs
    elif ro.kind == 2:
        ro.cs = (<CastSpec?>spec[1]).cs
    return ro


cdef inline val_t zero_val() noexcept nogil:
    cdef val_t v
    v.d = 0.0
    v.code = 0
    v.w = 0
    v.fin = 1
    return v


cdef inline val_t put_exact(const role_t* ro, exact_t x, uint64_t R, int vsign, counts_t* c,
                            int* err) noexcept nogil:
    """Round an exact value into a role's format."""
    cdef val_t v = zero_val()
    if ro.kind == 1:
        v.code = round_exact(&ro.fs, x.M, x.E, x.sticky, x.neg, R, vsign, c, err)
        v.d = code_value(&ro.fs, v.code)
        v.fin = c_isfinite(v.d)
    else:
        v.w = round_fixed(&ro.cs, ro.fl, x, R, vsign, c, err)
    return v


cdef inline val_t put_nonfinite(const role_t* ro, double y, counts_t* c, int* err) noexcept nogil:
    cdef val_t v = zero_val()
    if ro.kind == 1:
        v.code = nonfinite_code(&ro.fs, y, c, err)
        v.d = code_value(&ro.fs, v.code)
        v.fin = c_isfinite(v.d)
    else:
        c.n += 1
        if err[0] == ERR_NONE:
            err[0] = ERR_NAN if c_isnan(y) else ERR_INF
    return v


cdef inline term_t term_of(const role_t* ro, val_t v) noexcept nogil:
    if ro.kind == 1:
        return term_double(v.d)
    return term_word(v.w, ro.fl)


cdef inline val_t mac_one(const double* arow, const double* B, Py_ssize_t K, Py_ssize_t N,
                          Py_ssize_t j, const role_t* rp, const role_t* ra,
                          const uint64_t* dr, int vs, counts_t* cp, counts_t* ca,
                          int* err) noexcept nogil:
    """acc_K of one output element (spec §4): p_k = cast(a_k b_k, prod), acc = cast(acc + p_k,
    acc), k ascending; the product's draw before the accumulator's."""
    cdef val_t acc, pv
    cdef term_t tp
    cdef exact_t x
    cdef double a, b, pd
    cdef Py_ssize_t k
    cdef int pfin
    acc = zero_val()
    for k in range(K):
        a = arow[k]
        b = B[k * N + j]
        pfin = c_isfinite(a) and c_isfinite(b)
        if pfin:
            tp = term_mul(term_double(a), term_double(b))
        else:
            pd = a * b
        if rp.kind != 0:
            if pfin:
                pv = put_exact(rp, exact_of(tp), dr[0] if rp.sto else 0, vs, cp, err)
            else:
                pv = put_nonfinite(rp, pd, cp, err)
            dr = dr + rp.sto
            pfin = pv.fin
            if pfin:
                tp = term_of(rp, pv)
            else:
                pd = pv.d
        if acc.fin and pfin:
            x = exact_sum(term_of(ra, acc), tp, ra.fs.floor_mode if ra.kind == 1 else 0)
            acc = put_exact(ra, x, dr[0] if ra.sto else 0, vs, ca, err)
        else:
            acc = put_nonfinite(ra, (0.0 if acc.fin else acc.d) + (0.0 if pfin else pd), ca, err)
        dr = dr + ra.sto
    return acc


cdef inline int64_t out_one(const role_t* ro, const role_t* ra, val_t acc, uint64_t R, int vs,
                            counts_t* co, int* err) noexcept nogil:
    """The output word or code: cast(acc_K, out), or the accumulator's own code/word."""
    cdef val_t v
    if ro.kind == 0:
        return <int64_t>acc.code if ra.kind == 1 else acc.w
    if acc.fin:
        v = put_exact(ro, exact_of(term_of(ra, acc)), R, vs, co, err)
    else:
        v = put_nonfinite(ro, acc.d, co, err)
    return <int64_t>v.code if ro.kind == 1 else v.w


cdef void mac_row(const double* pa, const double* pb, Py_ssize_t K, Py_ssize_t N,
                  const role_t* rp, const role_t* ra, const role_t* ro, bint fast,
                  const uint64_t* drow, Py_ssize_t per_el, const int8_t* vrow, int64_t* orow,
                  int64_t* crow, int32_t* err_row, int64_t* pos_row, Py_ssize_t pos0,
                  int count) noexcept nogil:
    """One output row: orow[j] = the §4 dot of row pa with column j of pb; its draws drow[j *
    per_el ...]; counters per role in crow (roles x 5), output elements with an error in crow[18];
    the first error and its flat index (pos0 + j) in err_row/pos_row."""
    cdef counts_t c[3]
    cdef double* rowv = NULL
    cdef long long fin = 0, fup = 0
    cdef int redo = 1, err = ERR_NONE, vs, k
    cdef int64_t nbad = 0
    cdef Py_ssize_t j
    cdef const uint64_t* dj = NULL
    cdef val_t av
    for k in range(3):
        c[k] = zero_counts()
    if fast and N > 0:
        rowv = <double*>malloc(N * sizeof(double))
        redo = mac_row_f32(pa, pb, rowv, K, N, &fin, &fup, count)
        if not redo:
            c[1].n = N * K
            c[1].inexact = fin
            c[1].up = fup
    for j in range(N):
        if drow != NULL:
            dj = drow + j * per_el
        vs = vrow[j] if vrow != NULL else 0
        if redo:
            av = mac_one(pa, pb, K, N, j, rp, ra, dj, vs, &c[0], &c[1], &err)
        else:
            av = zero_val()
            av.d = rowv[j]
            av.code = f32_bits(rowv[j])
        orow[j] = out_one(ro, ra, av, dj[per_el - 1] if ro.sto else 0, vs, &c[2], &err)
        if err != ERR_NONE:
            if err_row[0] == ERR_NONE:
                err_row[0] = err
                pos_row[0] = pos0 + j
            err = ERR_NONE
            nbad += 1
    free(rowv)
    c[0].draws = N * K * rp.sto
    c[1].draws = N * K * ra.sto
    c[2].draws = N * ro.sto
    for k in range(3):
        crow[5 * k] += c[k].n
        crow[5 * k + 1] += c[k].inexact
        crow[5 * k + 2] += c[k].up
        crow[5 * k + 3] += c[k].ovf
        crow[5 * k + 4] += c[k].draws
    crow[18] += nbad


def float_mac(const double[:, ::1] A, const double[:, ::1] B, int64_t[:, ::1] out,
              tuple prod, tuple acc, tuple outc, bint fast, int r, const uint64_t[::1] draws,
              bint use_draws, object capsule, const int8_t[::1] vsign, bint use_v,
              int64_t[:, :, ::1] cnt, int32_t[::1] errs, int64_t[::1] errpos, int nthreads,
              bint count=True):
    """out[i, j] = dot(A[i, :], B[:, j]) in the spec §4 order (codes of a float output, words of
    a fixed one), one row per task (``mac_row``).  ``count`` False: the fast rows skip the
    accumulator's inexact/rounded-up counts (no Counters context is listening).  prod/acc/outc = (kind, spec, fl,
    stochastic): kind 0 absent, 1 FloatSpec, 2 CastSpec (fl its fraction length).  ``fast``:
    the accumulator is fp32 nearest-even with exact float64 products (``mac_row_f32``; a row
    holding a value that is not finite or overflows is redone by the general loop).  Draws: per
    output element K (product) + K (accumulator) + 1 (output) as present, from ``draws`` or,
    filled row by row, from the source's ``capsule`` (r bits each; the caller holds its lock;
    one thread).  cnt: (M, 4, 5), counters per row and role; cnt[i, 3, 3] the row's output
    elements with an error."""
    cdef Py_ssize_t M = A.shape[0], K = A.shape[1], N = B.shape[1], i
    cdef role_t rp = role_of(prod), ra = role_of(acc), ro = role_of(outc)
    cdef Py_ssize_t per_el = K * rp.sto + K * ra.sto + ro.sto
    cdef bitsrc_t* src = NULL
    cdef uint64_t* rowd = NULL
    cdef const uint64_t* pd = &draws[0] if use_draws and draws.shape[0] > 0 else NULL
    cdef const double* pb = &B[0, 0] if K * N > 0 else NULL
    cdef const uint64_t* drow
    if M == 0:
        return
    if capsule is not None and per_el > 0:
        src = bitsrc_from_capsule(capsule)
        nthreads = 1
        rowd = <uint64_t*>malloc(max(1, N * per_el) * sizeof(uint64_t))
    for i in prange(M, nogil=True, num_threads=nthreads, schedule="dynamic"):
        drow = NULL
        if src != NULL:
            src.fill(src.state, rowd, N * per_el, r)
            drow = rowd
        elif pd != NULL:
            drow = pd + i * N * per_el
        mac_row(&A[i, 0] if K > 0 else NULL, pb, K, N, &rp, &ra, &ro, fast, drow, per_el,
                &vsign[i * N] if use_v else NULL, &out[i, 0] if N > 0 else NULL, &cnt[i, 0, 0],
                &errs[i], &errpos[i], i * N, count)
    free(rowd)


def float_mac_streams(const double[:, ::1] A, const double[:, ::1] B, int64_t[:, ::1] out,
                      tuple prod, tuple acc, tuple outc, bint fast, int r, list caps,
                      const int64_t[::1] rcuts, const int8_t[::1] vsign, bint use_v,
                      int64_t[:, :, ::1] cnt, int32_t[::1] errs, int64_t[::1] errpos,
                      int nthreads, bint count=True):
    """float_mac with its draws from private sources: part k computes rows [rcuts[k],
    rcuts[k+1]) drawing from caps[k], a copy of the source already moved to the first draw of
    row rcuts[k] (N * per-element draws a row, rows in order), so that the words are those of
    one sequential stream whatever the thread count.  Parts are handed out dynamically."""
    cdef Py_ssize_t K = A.shape[1], N = B.shape[1], T = len(caps), k, i
    cdef role_t rp = role_of(prod), ra = role_of(acc), ro = role_of(outc)
    cdef Py_ssize_t per_el = K * rp.sto + K * ra.sto + ro.sto
    cdef const double* pb = &B[0, 0] if K * N > 0 else NULL
    cdef bitsrc_t** srcs
    cdef uint64_t* rowd
    if T == 0 or per_el == 0 or A.shape[0] == 0:
        return
    srcs = <bitsrc_t**>malloc(T * sizeof(bitsrc_t*))
    for k in range(T):
        srcs[k] = bitsrc_from_capsule(caps[k])
    for k in prange(T, nogil=True, num_threads=nthreads, schedule="dynamic"):
        rowd = <uint64_t*>malloc(max(1, N * per_el) * sizeof(uint64_t))
        for i in range(rcuts[k], rcuts[k + 1]):
            srcs[k].fill(srcs[k].state, rowd, N * per_el, r)
            mac_row(&A[i, 0] if K > 0 else NULL, pb, K, N, &rp, &ra, &ro, fast, rowd, per_el,
                    &vsign[i * N] if use_v else NULL, &out[i, 0] if N > 0 else NULL,
                    &cnt[i, 0, 0], &errs[i], &errpos[i], i * N, count)
        free(rowd)
    free(srcs)
