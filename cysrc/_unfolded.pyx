# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Fused layers of the unfolded networks (``fxsim.models.unfolded``, issue 14.5).

One call runs the whole emulated forward pass (``forward``) or forward and backward pass
(``grad``) of a LISTA or FFNN on int64 words: every layer's matmuls with the accelerator's
accumulator (spec §4: acc_{k+1} = cast(acc_k + a_k·b_k, acc), k ascending), the sum of the two
terms, the cast into the activations, σ_λ by table + interpolation (``SigmoidLUT``) and the
backward pass, each operation rounding and saturating exactly as the composed fxsim calls of
``_Unfolded._fx_forward``/``fx_grad`` do (``cast_small`` of fxprims.pxd: the kernels' own cast).

Only deterministic acc/acts casts come here (no draws: the draw order of the composed path is
untouched, its one stochastic cast, into ``grads``, stays an fxsim call).  The caller checks
once per network that every intermediate fits ``cast_small``'s 64-bit range.  ``counts`` gets
one row (n, inexact, up, overflowed, draws) per operation of the composed path, in its order;
the caller sends no ``overflow="error"`` cast here (the composed path raises that error at the
right call), so the returned error code is 0.
"""
from libc.stdint cimport int64_t

import numpy as np

from fxsim._kernels cimport cspec, counts_t, ERR_NONE, OV_SATURATE, OV_SATURATE_SYMMETRIC
from fxprims cimport cast_small, make_cspec


cdef struct mac_t:
    int da          # accumulator left shift to the common fraction max(fl_acc, fl_a + fl_b)
    int dp          # product left shift
    int s           # then the accumulator cast drops s bits


cdef struct plan_t:
    cspec acc               # the acc role's cast (mode, overflow, acc format)
    cspec acts              # the acts role's cast into the activation format
    mac_t aw                # activations × weights
    mac_t aa                # activations × activations
    int s_acc               # acc -> acts: fl_acc - fl_acts
    int fa                  # fl_acts
    int64_t one             # 1 in acts (1 << fl_acts)
    int64_t lut_off         # R << fl_acts
    int64_t lut_hi          # (2R << fl_acts) - 1
    int lut_shift           # fl_acts - j
    int64_t lut_mask
    int lut_s               # table_fl - j: the interpolated word's extra fraction bits


cdef inline void zero(counts_t* c) noexcept nogil:
    c.n = c.inexact = c.up = c.ovf = c.draws = 0


cdef inline void put_row(int64_t[:, ::1] rows, Py_ssize_t* k, counts_t* c) noexcept nogil:
    rows[k[0], 0] = c.n
    rows[k[0], 1] = c.inexact
    rows[k[0], 2] = c.up
    rows[k[0], 3] = c.ovf
    rows[k[0], 4] = c.draws
    k[0] += 1
    zero(c)


cdef inline void exact_row(int64_t[:, ::1] rows, Py_ssize_t* k, int64_t n) noexcept nogil:
    """The row of an exact full-precision operation (mul with its default format)."""
    cdef counts_t c
    zero(&c)
    c.n = n
    put_row(rows, k, &c)


cdef inline int64_t mac(const int64_t* a, Py_ssize_t sa, const int64_t* b, Py_ssize_t sb,
                        Py_ssize_t K, const mac_t* m, const cspec* cs, counts_t* c,
                        int* err) noexcept nogil:
    """One dot product in the spec §4 order (exact products, the accumulator cast each step)."""
    cdef int64_t acc = 0
    cdef Py_ssize_t k
    if m.s == 0 and m.da == 0 and m.dp == 0 and (cs.ovf == OV_SATURATE or
                                                 cs.ovf == OV_SATURATE_SYMMETRIC):
        # the accumulator never rounds: cast_small reduces to the saturation at every step
        for k in range(K):
            acc += a[k * sa] * b[k * sb]
            if acc > cs.hi64:
                acc = cs.hi64
                c.ovf += 1
            elif acc < cs.lo64:
                acc = cs.lo64
                c.ovf += 1
        c.n += K
        return acc
    for k in range(K):
        acc = cast_small(cs, (acc << m.da) + ((a[k * sa] * b[k * sb]) << m.dp), m.s, 0, 0, c, err)
    return acc


cdef inline int64_t lut(const int64_t* t, int64_t z, const plan_t* p, counts_t* c,
                        int* err) noexcept nogil:
    """SigmoidLUT._eval of one word: table address from the high bits (clamped), the low bits
    the interpolation fraction, an exact multiply-add, then the acts cast."""
    cdef int64_t off = z + p.lut_off
    cdef int64_t i, f, num
    if off < 0:
        off = 0
    elif off > p.lut_hi:
        off = p.lut_hi
    i = off >> p.lut_shift
    f = off & p.lut_mask
    num = (t[i] << p.lut_shift) + (t[i + 1] - t[i]) * f
    return cast_small(&p.acts, num, p.lut_s, 0, 0, c, err)


cdef class Plan:
    """The formats and casts of one network on one accelerator, checked once by the caller.

    Plan(acc_mode, acc_ovf, acc_wl, fl_acc, acts_mode, acts_ovf, acts_wl, fl_acts, fl_w,
         R, j, table_fl, g_table, gp_table); the formats are signed, the modes deterministic.
    """
    cdef plan_t p
    cdef object g_tab, gp_tab
    cdef const int64_t[::1] g_view
    cdef const int64_t[::1] gp_view

    def __init__(self, int acc_mode, int acc_ovf, int acc_wl, int fl_acc, int acts_mode,
                 int acts_ovf, int acts_wl, int fl_acts, int fl_w, int R, int j, int table_fl,
                 g_table, gp_table):
        cdef int F
        self.p.acc = make_cspec(acc_mode, acc_ovf, 0, 1, acc_wl, 1, 0)
        self.p.acts = make_cspec(acts_mode, acts_ovf, 0, 1, acts_wl, 1, 0)
        F = max(fl_acc, fl_acts + fl_w)
        self.p.aw.da, self.p.aw.dp, self.p.aw.s = F - fl_acc, F - fl_acts - fl_w, F - fl_acc
        F = max(fl_acc, 2 * fl_acts)
        self.p.aa.da, self.p.aa.dp, self.p.aa.s = F - fl_acc, F - 2 * fl_acts, F - fl_acc
        self.p.s_acc = fl_acc - fl_acts
        self.p.fa = fl_acts
        self.p.one = (<int64_t>1) << fl_acts
        self.p.lut_off = (<int64_t>R) << fl_acts
        self.p.lut_hi = ((<int64_t>(2 * R)) << fl_acts) - 1
        self.p.lut_shift = fl_acts - j
        self.p.lut_mask = ((<int64_t>1) << (fl_acts - j)) - 1
        self.p.lut_s = table_fl - j
        self.g_tab, self.gp_tab = g_table, gp_table       # keep the buffers alive
        self.g_view, self.gp_view = g_table, gp_table

    def forward(self, const int64_t[:, ::1] Y, const int64_t[::1] w, const int64_t[:, ::1] layout,
                int64_t[:, :, ::1] P, int64_t[:, :, ::1] G, int64_t[:, ::1] out,
                int64_t[:, ::1] rows):
        """The forward pass: P, G per layer and the output x̂; rows: its operations' counters.

        layout: per layer (offset of W1 in w or -1, offset of W2 or -1); W1 is n × m, W2 n × n.
        """
        cdef int err = ERR_NONE
        cdef Py_ssize_t k = 0
        with nogil:
            self._forward(Y, w, layout, P, G, out, rows, &k, &err)
        return err

    def grad(self, const int64_t[:, ::1] Y, const int64_t[:, ::1] Xt, const int64_t[::1] w,
             const int64_t[:, ::1] layout, int64_t[:, :, ::1] P, int64_t[:, :, ::1] G,
             int64_t[::1] gacc, int64_t[:, ::1] rows):
        """Forward and backward pass: gacc gets dL/dW·T in the accumulator format, at each
        weight's offset in w (the caller scales by 1/T); rows: the counters (module docstring)."""
        cdef int err = ERR_NONE
        cdef Py_ssize_t k = 0
        cdef Py_ssize_t T = Y.shape[0], n = P.shape[2]
        cdef int64_t[:, ::1] out = P[0].copy()        # scratch rows of T × n
        cdef int64_t[:, ::1] D = P[0].copy()
        cdef int64_t[:, ::1] Dn = P[0].copy()
        cdef int64_t[:, ::1] inp = P[0].copy()
        # transposed copies: every dot product of the backward pass reads two contiguous rows
        cdef const int64_t[:, ::1] YT = np.ascontiguousarray(np.asarray(Y).T)
        cdef int64_t[:, ::1] DT = np.empty((n, T), np.int64)
        cdef int64_t[:, ::1] inpT = np.empty((n, T), np.int64)
        cdef int64_t[:, ::1] W2T = np.empty((n, n), np.int64)
        with nogil:
            self._forward(Y, w, layout, P, G, out, rows, &k, &err)
            self._backward(YT, Xt, w, layout, P, G, out, D, Dn, inp, DT, inpT, W2T, gacc, rows,
                           &k, &err)
        return err

    cdef void _forward(self, const int64_t[:, ::1] Y, const int64_t[::1] w,
                       const int64_t[:, ::1] layout, int64_t[:, :, ::1] P, int64_t[:, :, ::1] G,
                       int64_t[:, ::1] out, int64_t[:, ::1] rows, Py_ssize_t* k,
                       int* err) noexcept nogil:
        cdef const plan_t* p = &self.p
        cdef Py_ssize_t K = P.shape[0], T = P.shape[1], n = P.shape[2], m = Y.shape[1]
        cdef Py_ssize_t l, t, i
        cdef int64_t o1, o2, a1, a2, acc
        cdef const int64_t* W1
        cdef const int64_t* W2
        cdef counts_t c1, c2, cadd, cp, cg, cx
        for l in range(K):
            o1, o2 = layout[l, 0], layout[l, 1]
            zero(&c1); zero(&c2); zero(&cadd); zero(&cp); zero(&cg); zero(&cx)
            for t in range(T):
                for i in range(n):
                    a1 = a2 = 0
                    if o1 >= 0:
                        a1 = mac(&Y[t, 0], 1, &w[o1 + i * m], 1, m, &p.aw, &p.acc, &c1, err)
                    if o2 >= 0:
                        a2 = mac(&out[t, 0], 1, &w[o2 + i * n], 1, n, &p.aw, &p.acc, &c2, err)
                    if o1 >= 0 and o2 >= 0:
                        acc = cast_small(&p.acc, a1 + a2, 0, 0, 0, &cadd, err)
                    else:
                        acc = a1 if o1 >= 0 else a2
                    P[l, t, i] = cast_small(&p.acts, acc, p.s_acc, 0, 0, &cp, err)
                    G[l, t, i] = lut(&self.g_view[0], P[l, t, i], p, &cg, err)
            # the layer's output replaces its input only after every row is done
            for t in range(T):
                for i in range(n):
                    out[t, i] = cast_small(&p.acts, P[l, t, i] - G[l, t, i], 0, 0, 0, &cx, err)
            if o1 >= 0:
                put_row(rows, k, &c1)
            if o2 >= 0:
                put_row(rows, k, &c2)
            if o1 >= 0 and o2 >= 0:
                put_row(rows, k, &cadd)
            put_row(rows, k, &cp)
            put_row(rows, k, &cg)
            put_row(rows, k, &cx)
        # the output x̂ = P^K − G^K once more (the composed path's separate sub)
        for t in range(T):
            for i in range(n):
                cast_small(&p.acts, P[K - 1, t, i] - G[K - 1, t, i], 0, 0, 0, &cx, err)
        put_row(rows, k, &cx)

    cdef void _backward(self, const int64_t[:, ::1] YT, const int64_t[:, ::1] Xt,
                        const int64_t[::1] w, const int64_t[:, ::1] layout,
                        int64_t[:, :, ::1] P, int64_t[:, :, ::1] G, int64_t[:, ::1] out,
                        int64_t[:, ::1] D, int64_t[:, ::1] Dn, int64_t[:, ::1] inp,
                        int64_t[:, ::1] DT, int64_t[:, ::1] inpT, int64_t[:, ::1] W2T,
                        int64_t[::1] gacc, int64_t[:, ::1] rows, Py_ssize_t* k,
                        int* err) noexcept nogil:
        cdef const plan_t* p = &self.p
        cdef Py_ssize_t K = P.shape[0], T = P.shape[1], n = P.shape[2], m = YT.shape[0]
        cdef Py_ssize_t l, t, i, j
        cdef int64_t o1, o2, r, gp, s
        cdef const int64_t* gpt = &self.gp_view[0]
        cdef counts_t cr, cgp, cs, cd, cm1, cm2, cdw, cdwa, cin
        zero(&cr); zero(&cgp); zero(&cs); zero(&cd)
        # the head: R = x̂ − x, S = 1 − ĝ'(P^K), D = cast(R·S)
        for t in range(T):
            for i in range(n):
                r = cast_small(&p.acts, out[t, i] - Xt[t, i], 0, 0, 0, &cr, err)
                gp = lut(gpt, P[K - 1, t, i], p, &cgp, err)
                s = cast_small(&p.acts, p.one - gp, 0, 0, 0, &cs, err)
                D[t, i] = cast_small(&p.acts, r * s, p.fa, 0, 0, &cd, err)
        put_row(rows, k, &cr)
        put_row(rows, k, &cgp)
        put_row(rows, k, &cs)
        exact_row(rows, k, T * n)
        put_row(rows, k, &cd)
        for l in range(K - 1, -1, -1):
            o1, o2 = layout[l, 0], layout[l, 1]
            zero(&cm1); zero(&cin); zero(&cm2); zero(&cdw); zero(&cdwa)
            zero(&cgp); zero(&cs); zero(&cd)
            for t in range(T):
                for i in range(n):
                    DT[i, t] = D[t, i]
            if o1 >= 0:                   # dW1 = Dᵀ Y (n × m), t ascending
                for i in range(n):
                    for j in range(m):
                        gacc[o1 + i * m + j] = mac(&DT[i, 0], 1, &YT[j, 0], 1, T, &p.aa, &p.acc,
                                                   &cm1, err)
                put_row(rows, k, &cm1)
            if o2 < 0:
                continue
            for t in range(T):            # the layer's input X^{l−1} = P − G again
                for i in range(n):
                    inp[t, i] = cast_small(&p.acts, P[l - 1, t, i] - G[l - 1, t, i], 0, 0, 0,
                                           &cin, err)
                    inpT[i, t] = inp[t, i]
            put_row(rows, k, &cin)
            for i in range(n):            # dW2 = Dᵀ X^{l−1}
                for j in range(n):
                    gacc[o2 + i * n + j] = mac(&DT[i, 0], 1, &inpT[j, 0], 1, T, &p.aa, &p.acc,
                                               &cm2, err)
            put_row(rows, k, &cm2)
            for i in range(n):
                for j in range(n):
                    W2T[j, i] = w[o2 + i * n + j]
            for t in range(T):            # D ← cast(cast(D W2) · (1 − ĝ'(P^{l−1})))
                for j in range(n):
                    Dn[t, j] = cast_small(&p.acts, mac(&D[t, 0], 1, &W2T[j, 0], 1, n, &p.aw,
                                                       &p.acc, &cdw, err),
                                          p.s_acc, 0, 0, &cdwa, err)
            for t in range(T):
                for j in range(n):
                    gp = lut(gpt, P[l - 1, t, j], p, &cgp, err)
                    s = cast_small(&p.acts, p.one - gp, 0, 0, 0, &cs, err)
                    D[t, j] = cast_small(&p.acts, Dn[t, j] * s, p.fa, 0, 0, &cd, err)
            put_row(rows, k, &cdw)
            put_row(rows, k, &cdwa)
            put_row(rows, k, &cgp)
            put_row(rows, k, &cs)
            exact_row(rows, k, T * n)
            put_row(rows, k, &cd)


def scale_grads(Plan plan, const int64_t[::1] gacc, int64_t cT, int fl_cT,
                const int64_t[::1] cuts, int64_t[::1] out, int64_t[:, ::1] rows):
    """out = cast_acc(gacc · cT) with cT at fl_cT fraction bits; one counters row per piece
    [cuts[i], cuts[i+1]) (the composed path's one mul per weight matrix)."""
    cdef int err = ERR_NONE
    cdef Py_ssize_t q, i, k = 0
    cdef counts_t c
    zero(&c)
    with nogil:
        for q in range(cuts.shape[0] - 1):
            for i in range(cuts[q], cuts[q + 1]):
                out[i] = cast_small(&plan.p.acc, gacc[i] * cT, fl_cT, 0, 0, &c, &err)
            put_row(rows, &k, &c)
    return err
