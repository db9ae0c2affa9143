# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, overflowcheck=False
"""Fused nogil steps of the low-precision samplers (``fxsim.samplers``): SGLD and SGHMC in the
variants lpf / lpl / vc (and fp for affine gradients), on targets whose gradient per coordinate is affine (a·θ + b) or a
table indexed by the weight's word.

Every chain element is independent given its normals and draws, so the loop runs over elements
(in parallel) and, inside, over the steps of the block.  Rounding is fxsim's own: each cast is
``cast_double`` of fxprims.pxd, the same code and bits as ``fxsim.cast``.  Normals Z (B, k, n)
and draws D (B, m, n) are made by the caller in the per-step path's order; float operations
follow the Python expressions term by term (the extension is built with -ffp-contract=off so
that no fused multiply-add changes a rounding).
"""
from cython.parallel cimport prange
from libc.math cimport ldexp, floor, fabs
from libc.stdint cimport int64_t, uint64_t
from fxprims cimport *

import numpy as np


cdef inline int64_t castd(const cspec* cs, double x, int fl, uint64_t R, counts_t* cnt,
                          int* err) noexcept nogil:
    """fxsim.cast of one float64; err is set for NaN and ±inf (a chain that blew up)."""
    if not (fabs(x) <= 1.7976931348623157e308):
        err[0] = 1
        return 0
    return <int64_t>cast_double(cs, x, ldexp(1.0, fl), fl, R, 0, cnt, err)


cdef inline int cat(double u, double p1, double p2) noexcept nogil:
    if u < p1:
        return 1
    if u < p1 + p2:
        return -1
    return 0


cdef inline double vc_elem(const sampler_params* P, double mu, int gauss, double s_vc, double wv,
                           double z, uint64_t R1, uint64_t R2, counts_t* cnt, int* err) noexcept nogil:
    """Q^vc of one element (quantizers.vc_quantize): Gaussian branch uses z and R2 (R1 unused),
    grid branch R1 for Q^s and R2 for the categorical sample."""
    cdef double xx, tt, rho, s, p1, p2, u, t, phi, ws, p
    cdef int64_t kq, raw
    cdef int c = 0
    u = ldexp(<double>R2, -P.r)
    if gauss:
        xx = mu + s_vc * z
        kq = castd(&P.rnw, xx, P.fl, 0, cnt, err)
        tt = ldexp(xx, P.fl) - <double>kq
        rho = fabs(tt)
        s = 0.25 + rho * rho
        p1 = (s + rho) * 0.5
        p2 = (s - rho) * 0.5
        c = cat(u, p1, p2)
        raw = kq + ((tt > 0) - (tt < 0)) * c
    else:
        kq = castd(&P.srw, mu, P.fl, R1, cnt, err)
        t = ldexp(mu, P.fl)
        phi = t - floor(t)
        ws = phi * (1.0 - phi)
        if wv > ws:
            p = (wv - ws) * 0.5
            c = cat(u, p, p)
        raw = kq + c
    if raw < P.wmin:
        raw = P.wmin
    elif raw > P.wmax:
        raw = P.wmax
    return ldexp(<double>raw, -P.fl)


cdef inline int run_elem(const sampler_params* P, double* x, double* v, const double* Z, const uint64_t* D,
                         Py_ssize_t i, Py_ssize_t n, int B, const int64_t* rec, double* out,
                         const double* ga, const double* gb, const double* tbl) noexcept nogil:
    cdef int j, zi, si, jd = i % P.d
    cdef double xi = x[i], vi = 0.0, xw, gval, g, z1, z2, xiv, xix, vn, xn, muv, mux, zv, zx
    cdef uint64_t R1
    cdef counts_t cnt
    cdef int err = 0
    cdef const sgld_coef* c1 = &P.sgld
    cdef const sghmc_coef* c2 = &P.sghmc
    cnt.n = 0; cnt.inexact = 0; cnt.up = 0; cnt.ovf = 0; cnt.draws = 0
    if P.alg == 1:
        vi = v[i]
    for j in range(B):
        zi = j * P.k
        si = j * P.m
        if P.variant == 1:
            xw = ldexp(<double>castd(&P.sw, xi, P.fl, D[si * n + i], &cnt, &err), -P.fl)
            si += 1
        else:
            xw = xi
        if P.gkind == 0:
            gval = ga[jd] * xw + gb[jd]
        else:
            gval = tbl[jd * P.tstride + (<int64_t>ldexp(xw, P.fl) - P.wmin)]
        if P.sg > 0:
            gval = gval + P.sg * Z[zi * n + i]
            zi += 1
        if P.variant == 0:
            g = gval
        else:
            g = ldexp(<double>castd(&P.sgr, gval, P.flg, D[si * n + i], &cnt, &err), -P.flg)
            si += 1
        if P.alg == 0:
            if P.variant <= 1:
                xi = xi - c1.eta * g + c1.sigma * Z[zi * n + i]
            elif P.variant == 2:
                xn = xi - c1.eta * g + c1.sigma * Z[zi * n + i]
                xi = ldexp(<double>castd(&P.sw, xn, P.fl, D[si * n + i], &cnt, &err), -P.fl)
            else:
                if c1.vc_gauss != 0:
                    xi = vc_elem(P, xi - c1.eta * g, 1, c1.s_vc, c1.var_lsb, Z[zi * n + i], 0, D[si * n + i], &cnt, &err)
                else:
                    xi = vc_elem(P, xi - c1.eta * g, 0, c1.s_vc, c1.var_lsb, 0.0, D[si * n + i], D[(si + 1) * n + i], &cnt, &err)
        else:
            if P.variant != 3:
                z1 = Z[zi * n + i]
                z2 = Z[(zi + 1) * n + i]
                xiv = c2.sv * z1
                xix = c2.cxv * z1 + c2.sxx * z2
                vn = c2.av * vi - c2.bv * g + xiv
                xn = xi + c2.ax * vi - c2.bx * g + xix
                if P.variant == 2:
                    vn = ldexp(<double>castd(&P.sw, vn, P.fl, D[si * n + i], &cnt, &err), -P.fl)
                    xn = ldexp(<double>castd(&P.sw, xn, P.fl, D[(si + 1) * n + i], &cnt, &err), -P.fl)
                vi = vn
                xi = xn
            else:
                muv = c2.av * vi - c2.bv * g
                mux = xi + c2.ax * vi - c2.bx * g
                if c2.vc_gauss_v != 0:
                    vn = vc_elem(P, muv, 1, c2.s_vc_v, c2.var_lsb_v, Z[zi * n + i], 0, D[si * n + i], &cnt, &err)
                    zi += 1
                    si += 1
                else:
                    vn = vc_elem(P, muv, 0, c2.s_vc_v, c2.var_lsb_v, 0.0, D[si * n + i], D[(si + 1) * n + i], &cnt, &err)
                    si += 2
                mux = mux + c2.kxv * (vn - muv)
                if c2.vc_gauss_x != 0:
                    xn = vc_elem(P, mux, 1, c2.s_vc_x, c2.var_lsb_x, Z[zi * n + i], 0, D[si * n + i], &cnt, &err)
                else:
                    xn = vc_elem(P, mux, 0, c2.s_vc_x, c2.var_lsb_x, 0.0, D[si * n + i], D[(si + 1) * n + i], &cnt, &err)
                vi = vn
                xi = xn
        if rec[j] >= 0:
            out[rec[j] * n + i] = xi
    x[i] = xi
    if P.alg == 1:
        v[i] = vi
    return err


SGLD_COEF = ("eta", "sigma", "s_vc", "var_lsb", "vc_gauss")
SGHMC_COEF = ("av", "bv", "ax", "bx", "sv", "cxv", "sxx", "s_vc_v", "var_lsb_v", "vc_gauss_v",
              "s_vc_x", "var_lsb_x", "vc_gauss_x", "kxv")


cdef CastSpec _spec(name, spec):
    if not isinstance(spec, CastSpec):
        raise ValueError(f"{name}: must be a CastSpec (fxsim.ops.kernel_spec), got {spec!r}")
    return <CastSpec>spec


cdef class SamplerParams:
    """Everything the kernel reads for one run, by name: the algorithm (``alg`` 0 SGLD, 1 SGHMC),
    ``variant`` (0 fp, 1 lpf, 2 lpl, 3 vc), the four casts (``CastSpec``s: SR into the weights
    ``sw`` and the gradients ``sgr``, nearest-even ``rnw`` and SR ``srw`` into the wide word),
    the weights' ``fl`` and raw range ``wmin..wmax``, the gradients' ``flg``, ``r``, the
    gradient noise, the update coefficients (``coef``: a dict with the keys ``SGLD_COEF`` or
    ``SGHMC_COEF``, see fxsim/_samplers.pxd), the dimension ``d``,
    ``k`` normals and ``m`` draws per step and element, and the gradient: affine ``ga``·θ +
    ``gb`` per coordinate, or a ``table`` (d rows, one column per weight word from wmin).
    Built once per run by ``Sampler._kernel_params()``; every value is checked here.
    """

    def __init__(self, *, int alg, int variant, sw, sgr, rnw, srw, int fl, int flg,
                 int64_t wmin, int64_t wmax, int r, double grad_noise, coef, int d, int k,
                 int m, ga=None, gb=None, table=None):
        if alg not in (0, 1):
            raise ValueError(f"alg: must be 0 (SGLD) or 1 (SGHMC), got {alg}")
        if variant not in (0, 1, 2, 3):
            raise ValueError(f"variant: must be 0..3 (fp, lpf, lpl, vc), got {variant}")
        if (table is None) == (ga is None or gb is None):
            raise ValueError("ga, gb, table: give the affine gradient (ga and gb) or a table, not both")
        if table is not None and variant == 0:
            raise ValueError("table: the fp variant needs an affine gradient (ga, gb)")
        if d < 1 or k < 0 or m < 0:
            raise ValueError(f"d, k, m: need d >= 1, k >= 0, m >= 0, got {d}, {k}, {m}")
        if not (0 <= r <= 64 and wmin <= wmax and -1074 <= fl <= 1023 and -1074 <= flg <= 1023):
            raise ValueError(f"r, wmin, wmax, fl, flg: need 0 <= r <= 64 and wmin <= wmax, got "
                             f"r={r}, wmin={wmin}, wmax={wmax}, fl={fl}, flg={flg}")
        if not grad_noise >= 0:
            raise ValueError(f"grad_noise: must be >= 0, got {grad_noise}")
        names = SGLD_COEF if alg == 0 else SGHMC_COEF
        if not isinstance(coef, dict) or set(coef) != set(names):
            raise ValueError(f"coef: needs a dict with the keys {', '.join(names)}, got {coef!r}")
        self.coef = {name: float(coef[name]) for name in names}
        if alg == 0:
            self.P.sgld = self.coef
        else:
            self.P.sghmc = self.coef
        if table is None:
            self.ga = np.array(ga, dtype=np.float64).reshape(-1)
            self.gb = np.array(gb, dtype=np.float64).reshape(-1)
            self.table = np.zeros((d, 1))
            if self.ga.shape[0] != d or self.gb.shape[0] != d:
                raise ValueError(f"ga, gb: need {d} values each, got {self.ga.shape[0]}, {self.gb.shape[0]}")
        else:
            self.ga, self.gb = np.zeros(d), np.zeros(d)
            self.table = np.array(table, dtype=np.float64, ndmin=2)
            if self.table.shape[0] != d or self.table.shape[1] < wmax - wmin + 1:
                raise ValueError(f"table: needs shape ({d}, >= {wmax - wmin + 1}), got {self.table.shape}")
        self.P.alg, self.P.variant, self.P.gkind = alg, variant, 0 if table is None else 1
        self.P.sw, self.P.sgr = _spec("sw", sw).cs, _spec("sgr", sgr).cs
        self.P.rnw, self.P.srw = _spec("rnw", rnw).cs, _spec("srw", srw).cs
        self.P.fl, self.P.flg, self.P.r = fl, flg, r
        self.P.wmin, self.P.wmax = wmin, wmax
        self.P.sg = grad_noise
        self.P.d, self.P.k, self.P.m = d, k, m
        self.P.tstride = self.table.shape[1]

    @property
    def alg(self):
        return self.P.alg

    @property
    def variant(self):
        return self.P.variant

    @property
    def d(self):
        return self.P.d

    @property
    def k(self):
        return self.P.k

    @property
    def m(self):
        return self.P.m

    def __repr__(self):
        return (f"SamplerParams(alg={self.P.alg}, variant={self.P.variant}, gkind={self.P.gkind}, "
                f"fl={self.P.fl}, flg={self.P.flg}, r={self.P.r}, d={self.P.d}, k={self.P.k}, "
                f"m={self.P.m}, wmin={self.P.wmin}, wmax={self.P.wmax}, grad_noise={self.P.sg!r})")


def sampler_steps(SamplerParams params not None, double[::1] x, double[::1] v, const double[::1] Z,
                  const uint64_t[::1] D, int B, const int64_t[::1] rec, double[:, ::1] out,
                  int threads=1):
    """Advance every element of x (and v for SGHMC) by B steps in place (see module doc).
    ``params``: a ``SamplerParams`` (``Sampler._kernel_params()``); elements are independent,
    so ``threads`` never changes the result."""
    cdef sampler_params P = params.P      # a local copy: the loop's stores cannot alias it
    cdef Py_ssize_t n = x.shape[0], i
    cdef int nthreads = threads if n >= 64 else 1
    cdef const double[::1] ga = params.ga
    cdef const double[::1] gb = params.gb
    cdef const double[:, ::1] tbl = params.table
    cdef int[::1] errs = np.zeros(n, dtype=np.intc)
    cdef double* outp = &out[0, 0] if out.shape[0] > 0 else <double*>0
    if n % P.d != 0:
        raise ValueError(f"x: its length must be a multiple of d = {P.d}, got {n}")
    if rec.shape[0] < B or Z.shape[0] < <Py_ssize_t>B * P.k * n or \
            D.shape[0] < <Py_ssize_t>B * P.m * n or (P.alg == 1 and v.shape[0] != n):
        raise ValueError("sampler_steps: arrays too short for B steps")
    with nogil:
        for i in prange(n, num_threads=nthreads, schedule="static"):
            errs[i] = run_elem(&P, &x[0], &v[0], &Z[0], &D[0], i, n, B, &rec[0],
                               outp,
                               &ga[0], &gb[0], &tbl[0, 0])
    if np.asarray(errs).any():
        raise ValueError("sampler_steps: a value became NaN or infinite (step too large?)")
