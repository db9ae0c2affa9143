# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, overflowcheck=False
"""nogil kernels of the fxsim datapath (spec §2-§4).

The Python wrappers in ``fxsim/_ops.py`` validate everything once; these loops trust their
arguments.  Work is split into fixed chunks (never into per-thread pieces), each chunk keeping
its own counters and first error, so results and counts do not depend on the thread count.
Random draws arrive as a pre-filled uint64 array indexed by cast number (spec §4 order), so a
parallel loop consumes them exactly as a sequential one would.
"""
cimport cython
from cython.parallel cimport prange
from libc.math cimport floor, frexp, ldexp, fabs, isnan, isinf
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from fxprims cimport *

ctypedef fused dst_t:
    int8_t
    int16_t
    int32_t
    int64_t
    uint8_t
    uint16_t
    uint32_t
    uint64_t

ctypedef fused src_t:
    int8_t
    int16_t
    int32_t
    int64_t
    uint8_t
    uint16_t
    uint32_t
    uint64_t

ctypedef fused lane_t:
    int32_t
    int64_t

cdef enum:
    CHUNK = 32768


cdef cspec make_spec(tuple p):
    """p = (mode, ovf, rule, r, wl, signed, E) -> cspec (range derived from wl and signedness)."""
    cdef cspec cs
    cs.mode = p[0]
    cs.ovf = p[1]
    cs.rule = p[2]
    cs.r = p[3]
    cs.wl = p[4]
    cs.is_signed = p[5]
    cs.E = <u128>(<uint64_t>p[6])
    cs.mask = ((<u128>1) << cs.wl) - 1
    if cs.is_signed:
        cs.hi = ((<i128>1) << (cs.wl - 1)) - 1
        cs.lo = -cs.hi if cs.ovf == OV_SATURATE_SYMMETRIC else -cs.hi - 1
    else:
        cs.lo = 0
        cs.hi = <i128>cs.mask
    return cs


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


cdef inline i128 cast_double(const cspec* cs, double x, double scale, int fl, uint64_t R,
                             int vsign, counts_t* c, int* err) noexcept nogil:
    """Cast the exact binary rational x (a float64) into the format."""
    cdef double t, at, qd, phi, y, a, b
    cdef int64_t q
    cdef int e
    cdef u128 F
    cdef bint sticky
    cdef int up = 0
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
    # x * 2**fl is exact while the product is a normal double; |t| < 2**62 fits int64
    if at < 4611686018427387904.0 and (at > 1e-300 or x == 0.0):
        qd = floor(t)
        phi = t - qd          # exact: the fraction bits of t
        q = <int64_t>qd
        c.n += 1
        if phi != 0.0:
            c.inexact += 1
            if cs.mode < RM_STOCHASTIC:
                up = det_up(cs.mode, 1, (phi > 0.5) - (phi < 0.5), q < 0, q & 1)
            else:
                y = phi * 18446744073709551616.0   # phi * 2**64, exact
                a = floor(y)
                b = y - a
                F = ((<u128>(<uint64_t>a)) << 1) + (1 if b >= 0.5 else 0)
                sticky = b != 0.0 and b != 0.5
                up = decide(cs, F, sticky, q < 0, q & 1, R, vsign)
            if up:
                q += 1
                c.up += 1
        return apply_overflow(cs, q, 0, c, err)
    # exact decomposition x = m * 2**e with an integer m, |m| < 2**53
    y = frexp(x, &e)
    return cast_value(cs, <int64_t>ldexp(y, 53), 53 - e - fl, R, vsign, c, err)


def cast_f64(const double[::1] x, dst_t[::1] out, tuple spec, int fl,
             const uint64_t[::1] draws, bint use_draws, const int8_t[::1] vsign, bint use_v,
             int64_t[:, ::1] cnt, int32_t[::1] errs, int64_t[::1] errpos, int nthreads):
    """out[i] = cast(x[i]) for float64 x."""
    cdef cspec cs = make_spec(spec)
    cdef Py_ssize_t n = x.shape[0]
    cdef Py_ssize_t nch = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t ch, i, i0, i1
    cdef double scale = ldexp(1.0, fl)
    cdef counts_t c
    cdef int err
    cdef uint64_t R
    cdef int vs
    for ch in prange(nch, nogil=True, num_threads=nthreads, schedule="static"):
        c.n = 0; c.inexact = 0; c.up = 0; c.ovf = 0; c.draws = 0
        i0 = ch * CHUNK
        i1 = min(n, i0 + CHUNK)
        for i in range(i0, i1):
            err = ERR_NONE
            R = draws[i] if use_draws else 0
            vs = vsign[i] if use_v else 0
            out[i] = <dst_t>cast_double(&cs, x[i], scale, fl, R, vs, &c, &err)
            if err != ERR_NONE:
                note_error(err, i, errs, errpos, ch)
        if use_draws:
            c.draws = i1 - i0
        add_counts(cnt, ch, &c)


cdef inline i128 load(src_t* p, Py_ssize_t i, bint u64) noexcept nogil:
    """A raw word; u64 marks an int64 container that really holds uint64 words."""
    cdef i128 v = <i128>p[i]
    if u64 and v < 0:
        v += (<i128>1) << 64
    return v


def cast_raw(src_t[::1] x, dst_t[::1] out, bint ux, int s, tuple spec,
             const uint64_t[::1] draws, bint use_draws, const int8_t[::1] vsign, bint use_v,
             int64_t[:, ::1] cnt, int32_t[::1] errs, int64_t[::1] errpos, int nthreads):
    """out[i] = cast(x[i] * 2**-s): re-quantization of raw words (s = fl_in - fl_out)."""
    cdef cspec cs = make_spec(spec)
    cdef Py_ssize_t n = x.shape[0]
    cdef Py_ssize_t nch = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t ch, i, i0, i1
    cdef counts_t c
    cdef int err
    cdef uint64_t R
    cdef int vs
    cdef src_t* px = &x[0] if n > 0 else NULL
    for ch in prange(nch, nogil=True, num_threads=nthreads, schedule="static"):
        c.n = 0; c.inexact = 0; c.up = 0; c.ovf = 0; c.draws = 0
        i0 = ch * CHUNK
        i1 = min(n, i0 + CHUNK)
        for i in range(i0, i1):
            err = ERR_NONE
            R = draws[i] if use_draws else 0
            vs = vsign[i] if use_v else 0
            out[i] = <dst_t>cast_value(&cs, load(px, i, ux), s, R, vs, &c, &err)
            if err != ERR_NONE:
                note_error(err, i, errs, errpos, ch)
        if use_draws:
            c.draws = i1 - i0
        add_counts(cnt, ch, &c)


def binop(int op, src_t[::1] a, src_t[::1] b, dst_t[::1] out, bint ua, bint ub,
          int da, int db, int s, tuple spec,
          const uint64_t[::1] draws, bint use_draws, const int8_t[::1] vsign, bint use_v,
          int64_t[:, ::1] cnt, int32_t[::1] errs, int64_t[::1] errpos, int nthreads):
    """Element-wise exact op (0 add, 1 sub, 2 mul) on raw words, then one cast.

    add/sub align a and b by left shifts da, db to their common fraction length; the exact
    result has s more fraction bits than the output format.
    """
    cdef cspec cs = make_spec(spec)
    cdef Py_ssize_t n = a.shape[0]
    cdef Py_ssize_t nch = (n + CHUNK - 1) // CHUNK
    cdef Py_ssize_t ch, i, i0, i1
    cdef counts_t c
    cdef int err
    cdef uint64_t R
    cdef int vs
    cdef i128 va, vb, v
    cdef src_t* pa = &a[0] if n > 0 else NULL
    cdef src_t* pb = &b[0] if n > 0 else NULL
    for ch in prange(nch, nogil=True, num_threads=nthreads, schedule="static"):
        c.n = 0; c.inexact = 0; c.up = 0; c.ovf = 0; c.draws = 0
        i0 = ch * CHUNK
        i1 = min(n, i0 + CHUNK)
        for i in range(i0, i1):
            err = ERR_NONE
            R = draws[i] if use_draws else 0
            vs = vsign[i] if use_v else 0
            va = load(pa, i, ua)
            vb = load(pb, i, ub)
            if op == 2:
                v = va * vb
            elif op == 0:
                v = (va << da) + (vb << db)
            else:
                v = (va << da) - (vb << db)
            out[i] = <dst_t>cast_value(&cs, v, s, R, vs, &c, &err)
            if err != ERR_NONE:
                note_error(err, i, errs, errpos, ch)
        if use_draws:
            c.draws = i1 - i0
        add_counts(cnt, ch, &c)


def dot_generic(const int64_t[:, ::1] A, const int64_t[:, ::1] B, int64_t[:, ::1] out,
                bint ua, bint ub, tuple prod, tuple acc, tuple outc,
                const uint64_t[::1] draws, bint use_draws, const int8_t[::1] vsign, bint use_v,
                int64_t[:, :, ::1] cnt, int32_t[::1] errs, int64_t[::1] errpos, int nthreads):
    """out[i, j] = dot(A[i, :], B[:, j]) in the spec §4 order, one row per task.

    prod/acc/outc = (present, spec tuple, shift parameters) of the three casts:
      prod: (present, spec, s_p)            p = cast(a*b * 2**-s_p)
      acc:  (present, spec, sa, sp, s_acc)  acc = cast(((acc << sa) + (p << sp)) * 2**-s_acc);
            absent: acc += p << sp (exact)
      outc: (present, spec, s_o)            y = cast(acc * 2**-s_o)
    Counters are kept per row and per cast role (0 prod, 1 acc, 2 out).
    """
    cdef Py_ssize_t M = A.shape[0], K = A.shape[1], N = B.shape[1]
    cdef bint has_p = prod[0], has_a = acc[0], has_o = outc[0]
    cdef cspec csp, csa, cso
    cdef int s_p = 0, sa = 0, sp = 0, s_acc = 0, s_o = 0
    if has_p:
        csp = make_spec(prod[1]); s_p = prod[2]
    if has_a:
        csa = make_spec(acc[1]); s_acc = acc[4]
    sa = acc[2]; sp = acc[3]
    if has_o:
        cso = make_spec(outc[1]); s_o = outc[2]
    cdef bint dp = has_p and csp.mode >= RM_STOCHASTIC
    cdef bint dacc = has_a and csa.mode >= RM_STOCHASTIC
    cdef bint do = has_o and cso.mode >= RM_STOCHASTIC
    cdef Py_ssize_t per_el = K * dp + K * dacc + do
    cdef Py_ssize_t i, j, k, d
    cdef i128 p, s
    cdef counts_t cp, ca, co
    cdef int err, vs
    cdef const int64_t* pa
    cdef const int64_t* pb = &B[0, 0] if K * N > 0 else NULL
    for i in prange(M, nogil=True, num_threads=nthreads, schedule="dynamic"):
        cp.n = 0; cp.inexact = 0; cp.up = 0; cp.ovf = 0; cp.draws = 0
        ca.n = 0; ca.inexact = 0; ca.up = 0; ca.ovf = 0; ca.draws = 0
        co.n = 0; co.inexact = 0; co.up = 0; co.ovf = 0; co.draws = 0
        err = ERR_NONE
        pa = &A[i, 0] if K > 0 else NULL
        for j in range(N):
            d = (i * N + j) * per_el
            vs = vsign[i * N + j] if use_v else 0
            s = 0
            for k in range(K):
                p = load(<int64_t*>pa, k, ua) * load(<int64_t*>pb, k * N + j, ub)
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
                note_error(err, i * N + j, errs, errpos, i)
                err = ERR_NONE
        cp.draws = N * K * dp
        ca.draws = N * K * dacc
        co.draws = N * do
        cnt[i, 0, 0] += cp.n; cnt[i, 0, 1] += cp.inexact; cnt[i, 0, 2] += cp.up
        cnt[i, 0, 3] += cp.ovf; cnt[i, 0, 4] += cp.draws
        cnt[i, 1, 0] += ca.n; cnt[i, 1, 1] += ca.inexact; cnt[i, 1, 2] += ca.up
        cnt[i, 1, 3] += ca.ovf; cnt[i, 1, 4] += ca.draws
        cnt[i, 2, 0] += co.n; cnt[i, 2, 1] += co.inexact; cnt[i, 2, 2] += co.up
        cnt[i, 2, 3] += co.ovf; cnt[i, 2, 4] += co.draws


def matmul_acc_lanes(const lane_t[:, ::1] A, const lane_t[:, ::1] B, lane_t[:, ::1] out,
                     lane_t lo, lane_t hi, int wrap, int wl, int64_t[::1] novf, int nthreads):
    """Accumulate out[i, :] += A[i, k] * B[k, :] for k ascending with overflow handled after
    every step (saturate to [lo, hi], or wrap to wl bits): a MAC array whose accumulator cast
    never rounds (A is pre-scaled so that products are already aligned to the accumulator).
    Vectorized across output columns; the caller proves |acc + a*b| fits a lane."""
    cdef Py_ssize_t M = A.shape[0], K = A.shape[1], N = B.shape[1]
    cdef Py_ssize_t i, j, k
    cdef lane_t aik, x
    cdef lane_t* row
    cdef const lane_t* brow
    cdef int64_t nov
    cdef int sh = sizeof(lane_t) * 8 - wl
    for i in prange(M, nogil=True, num_threads=nthreads, schedule="static"):
        row = &out[i, 0]
        nov = 0
        for j in range(N):
            row[j] = 0
        for k in range(K):
            aik = A[i, k]
            brow = &B[k, 0]
            if wrap:
                for j in range(N):
                    x = row[j] + aik * brow[j]
                    nov = nov + ((x > hi) | (x < lo))
                    row[j] = (<lane_t>(<uint64_t>x << sh)) >> sh
            else:
                for j in range(N):
                    x = row[j] + aik * brow[j]
                    nov = nov + ((x > hi) | (x < lo))
                    row[j] = lo if x < lo else (hi if x > hi else x)
        novf[i] = nov
