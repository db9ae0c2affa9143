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
        self.fs.nan_code = nan_code if nan_code is not None else 0
        self.fs.cpos = make_cspec(mp, OV_SATURATE, sr_rule, r, 64, 1, E)
        self.fs.cneg = make_cspec(mn, OV_SATURATE, sr_rule, r, 64, 1, E)
        self.fs.tpos = det_table(mp) if rounding < FR_STOCHASTIC else 0
        self.fs.tneg = det_table(mn) if rounding < FR_STOCHASTIC else 0


def n_chunks(Py_ssize_t n):
    return (n + CHUNK - 1) // CHUNK


cdef inline uint64_t round_mag(const fspec* fs, uint64_t M, int E, int neg, uint64_t R,
                               int vsign, counts_t* c, int* err) noexcept nogil:
    """The code (sign included) of the exact value (-1)**neg * M * 2**E, M >= 0: rounding on
    the magnitude (spec §9.2), then overflow (§9.3) and the flush of subnormals."""
    cdef int L, ux, te, s, up, inexact
    cdef uint64_t q, rem, code
    cdef u128 F = 0
    cdef bint sticky = 0
    cdef uint64_t sbit = (<uint64_t>neg) << (fs.nbits - 1)
    c.n += 1
    if M == 0:
        return sbit
    L = bitlen64(M)
    ux = E + L - 1
    te = ux if ux > fs.emin else fs.emin
    s = te - fs.man - E
    if s <= 0:
        q = M << (-s)
    elif s < 64:
        q = M >> s
        rem = M & (((<uint64_t>1) << s) - 1)
        F = (<u128>rem) << (65 - s)
    else:
        q = 0
        if s <= 65:
            F = (<u128>M) << (65 - s)
        elif s < 65 + 64:
            F = (<u128>M) >> (s - 65)
            sticky = ((<u128>M) & (((<u128>1) << (s - 65)) - 1)) != 0
        else:
            sticky = 1
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


cdef inline int fast_any(const uint64_t* xb, char* out, int w, Py_ssize_t n, const fspec* fs,
                         const uint64_t* R, counts_t* c) noexcept nogil:
    if 1 <= fs.man <= 51:
        if w == 1 and block_normal(xb, <uint8_t*>out, n, fs, R, c) == 0:
            return 0
        if w == 2 and block_normal(xb, <uint16_t*>out, n, fs, R, c) == 0:
            return 0
        if w == 4 and block_normal(xb, <uint32_t*>out, n, fs, R, c) == 0:
            return 0
        if w == 8 and block_normal(xb, <uint64_t*>out, n, fs, R, c) == 0:
            return 0
    if w == 1:
        return block_fast(xb, <uint8_t*>out, n, fs, R, c)
    if w == 2:
        return block_fast(xb, <uint16_t*>out, n, fs, R, c)
    if w == 4:
        return block_fast(xb, <uint32_t*>out, n, fs, R, c)
    return block_fast(xb, <uint64_t*>out, n, fs, R, c)


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
             int64_t[:, ::1] cnt, int32_t[::1] errs, int64_t[::1] errpos, int nthreads):
    """out[i] = code of cast(x[i]) (bytes of the format's container).  Draws: from the
    source's ``capsule`` (the caller holds its lock; one thread, chunks in order, draw i for
    element i) or the array ``draws``.  One counter row and error slot per chunk."""
    cdef fspec* fs = &spec.fs
    cdef Py_ssize_t n = x.shape[0]
    cdef int w = 1 if fs.nbits <= 8 else (2 if fs.nbits <= 16 else (4 if fs.nbits <= 32 else 8))
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
    if stochastic and capsule is not None:
        src = bitsrc_from_capsule(capsule)
        nthreads = 1
    for ch in prange(nch, nogil=True, num_threads=nthreads, schedule="static"):
        dbuf = <uint64_t*>malloc(BLOCK * sizeof(uint64_t))
        c.n = 0; c.inexact = 0; c.up = 0; c.ovf = 0; c.draws = 0
        run_chunk(px, po, w, ch * CHUNK, min(n, ch * CHUNK + CHUNK), fs, stochastic, pd, src,
                  dbuf, pv, &c, &errs[ch], &errpos[ch])
        note(&c, cnt, ch)
        free(dbuf)


def cast_words(const uint64_t[::1] mag, const uint8_t[::1] neg, int E, int8_t[::1] out,
               FloatSpec spec, bint stochastic, const uint64_t[::1] draws,
               const int8_t[::1] vsign, bint use_v, int64_t[:, ::1] cnt, int32_t[::1] errs,
               int64_t[::1] errpos):
    """out[i] = code of cast((-1)**neg[i] * mag[i] * 2**E): fixed-point words into a float
    format (exact inputs of up to 64 bits), one thread, draws from the array."""
    cdef fspec* fs = &spec.fs
    cdef Py_ssize_t n = mag.shape[0], i
    cdef int w = 1 if fs.nbits <= 8 else (2 if fs.nbits <= 16 else (4 if fs.nbits <= 32 else 8))
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
