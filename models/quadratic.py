"""Quadratic (PL, controllable conditioning) and linear least squares."""
from __future__ import annotations

import numpy as np

from fxsim import FixedArray, QFormat, matvec, mul, sub
from fxsim import validate as V

from ._fx import accel_of, Env, as_fixed, vec, recip_const
from .protocols import KnownOptimum


def _lsb_flag(env: Env, fl_a: int, fl_b: int) -> float:
    """1 if an accumulator cast of a product with fraction length fl_a + fl_b can round."""
    return 1.0 if env.acc.fl < fl_a + fl_b else 0.0


class Quadratic(KnownOptimum):
    """f(x) = ½ (x − c)ᵀ A (x − c), A = Q diag(λ) Qᵀ with λ log-spaced in [1, cond] (so f is
    μ-strongly convex, hence PL, with μ = 1 and L = cond), Q a seeded random orthogonal matrix.

    ``center``: ``"grid"`` (default) puts c on the ``grid`` format (c exactly representable),
    ``"off"`` puts every c_i between two grid points (offset drawn in [¼, ¾] lsb, so the
    minimizer is not representable), or an array gives c directly.

    ``fx_grad(xq, accel)``: A is quantized once to ``acts`` (round to nearest), c to ``weights``;
    d = xq − c_q is exact (full-precision ``sub``); g = cast(``matvec(A_q, d, acc=acc)``, grads).

    Error bound (``fx_bound``), component i, with δ_A = lsb_acts/2, δ_c = lsb_w/2, L = lsb_acc,
    ρ = ½ for round-to-nearest modes and 1 otherwise, and no overflow:
        A_q d − A(x − c) = (A_q − A) d + A (c_q − c)
        |·|_i ≤ δ_A Σ_j |d_j| + δ_c Σ_j |A_ij|                   (constant quantization)
        + d·ρ·L  if fl_acc < fl_acts + fl_w (each of the d accumulator casts may round)
        + ρ·lsb_grads                                             (output cast).
    With Q(16,8) formats and a Q(32,16) accumulator the middle term is 0 and the bound is
    about (‖d‖₁ + ‖A_i‖₁)·2^-9 + 2^-9: the form ``(d·‖A‖_max·2^-fl_w + 1)·2^-fl_g`` up to
    constants.

    >>> import numpy as np
    >>> q = Quadratic(d=3, cond=4.0)
    >>> q.eigs.tolist(), q.loss(q.c)
    ([1.0, 2.0, 4.0], 0.0)
    >>> x = q.c + 1.0
    >>> bool(np.all(np.abs(q.fx_grad(x).to_float() - q.grad(x)) <= q.fx_bound(x)))
    True
    """

    def __init__(self, d: int = 20, cond: float = 10.0, center="grid", grid=QFormat(16, 8),
                 seed: int = 0):
        V.integer("d", d, 1)
        if not (V.real("cond", cond) >= 1):
            raise ValueError(f"cond: must be >= 1, got {cond}")
        rng = np.random.default_rng(seed)
        self.dim = int(d)
        self.cond = float(cond)
        self.eigs = np.logspace(0.0, np.log10(cond), d)
        q, r = np.linalg.qr(rng.standard_normal((d, d)))
        q = q * np.sign(np.diag(r))
        self.Q = q
        A = (q * self.eigs) @ q.T
        self.A = 0.5 * (A + A.T)
        self.mu, self.L = 1.0, float(cond)
        lsb = grid.lsb
        base = np.round(rng.uniform(-1.0, 1.0, d) / lsb) * lsb
        if isinstance(center, str):
            if center == "grid":
                c = base
            elif center == "off":
                c = base + rng.uniform(0.25, 0.75, d) * lsb
            else:
                raise ValueError(f"center must be 'grid', 'off' or an array, got {center!r}")
        else:
            c = np.asarray(center, dtype=np.float64)
            if c.shape != (d,):
                raise ValueError(f"center must have shape ({d},), got {c.shape}")
        self.c = c
        self.center = center if isinstance(center, str) else "array"
        self.grid = grid
        self.x_star = c.copy()
        self.f_star = 0.0
        self._cache = {}

    def __repr__(self):
        return f"Quadratic(d={self.dim}, cond={self.cond:g}, center={self.center!r})"

    def x0(self, rng=None):
        rng = np.random.default_rng(0 if rng is None else rng)
        return self.c + rng.uniform(-1.0, 1.0, self.dim)

    def loss(self, x):
        e = vec(x, self.dim) - self.c
        return 0.5 * float(e @ self.A @ e)

    def grad(self, x):
        return self.A @ (vec(x, self.dim) - self.c)

    def _consts(self, env: Env):
        k = (env.acts, env.weights)
        if k not in self._cache:
            self._cache[k] = (env.const(self.A, env.acts), env.const(self.c, env.weights))
        return self._cache[k]

    def fx_grad(self, xq, accel=None, *, acc=None) -> FixedArray:
        env = Env(accel_of(accel, acc))
        xq = as_fixed(xq, env.weights, self.dim)
        Aq, cq = self._consts(env)
        d = sub(xq, cq)                                   # exact
        return env.cast(matvec(Aq, d, acc=env.acc, **env.kw("acc")), "grad")

    def fx_bound(self, xq, accel=None, *, acc=None) -> np.ndarray:
        env = Env(accel_of(accel, acc))
        xq = as_fixed(xq, env.weights, self.dim)
        _, cq = self._consts(env)
        d = np.abs(xq.to_float() - cq.to_float())
        dA, dc = env.acts.lsb / 2, env.weights.lsb / 2
        b = dA * d.sum() + dc * np.abs(self.A).sum(axis=1)
        b = b + self.dim * env.rho("acc") * env.acc.lsb * _lsb_flag(env, env.acts.fl, xq.fmt.fl)
        return b + env.rho("grad") * env.grads.lsb


class LeastSquares(KnownOptimum):
    """f(x) = (1/2m) ‖A x − b‖², A (m, d); grad = Aᵀ(Ax − b)/m.

    ``fx_grad``: A, b quantized once to ``acts``; z = ``matvec(A_q, x_q, acc)`` kept in the
    accumulator format; residual e = cast(z − b_q, acts); s = ``matvec(A_qᵀ, e, acc)``;
    g = cast(s · c_m, grads) with c_m = 1/m to 31 significant bits.

    Error bound (``fx_bound``), δ = lsb_acts/2, L = lsb_acc, ρ as in ``Quadratic``, r the exact
    residual, no overflow:
        Δe_i ≤ δ Σ_j |x_j| + δ + K1 + ρ·lsb_acts,   K1 = d·ρ·L if fl_acc < fl_acts + fl_w
        Δs_j ≤ Σ_i (δ (|r_i| + Δe_i) + (|A_ij| + δ) Δe_i) + K2,   K2 = m·ρ·L if fl_acc < 2 fl_acts
        Δg_j ≤ Δs_j/m + |s_j| |c_m − 1/m| + ρ·lsb_grads.

    >>> import numpy as np
    >>> ls = LeastSquares(np.eye(2), np.array([1.0, -1.0]))
    >>> ls.loss(np.zeros(2)), ls.grad(np.zeros(2)).tolist()
    (0.5, [-0.5, 0.5])
    """

    def __init__(self, A, b, l2: float = 0.0):
        A = np.asarray(A, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if A.ndim != 2:
            raise ValueError(f"A must be 2-D, got shape {A.shape}")
        if b.shape != (A.shape[0],):
            raise ValueError(f"b must have shape ({A.shape[0]},) to match A {A.shape}, got {b.shape}")
        if not (np.isfinite(A).all() and np.isfinite(b).all()):
            raise ValueError("A and b must be finite (no NaN/inf)")
        self.A, self.b = A, b
        self.m, self.dim = A.shape
        self.n_samples = self.m
        sol, *_ = np.linalg.lstsq(A, b, rcond=None)
        self.x_star = sol
        self.f_star = self.loss(sol)
        self._cache = {}

    def __repr__(self):
        return f"LeastSquares(m={self.m}, d={self.dim})"

    def x0(self, rng=None):
        return np.random.default_rng(0 if rng is None else rng).uniform(-1.0, 1.0, self.dim)

    def _rows(self, idx):
        return (self.A, self.b) if idx is None else (self.A[idx], self.b[idx])

    def loss(self, x, idx=None):
        A, b = self._rows(idx)
        r = A @ vec(x, self.dim) - b
        return 0.5 * float(r @ r) / A.shape[0]

    def grad(self, x, idx=None):
        A, b = self._rows(idx)
        return A.T @ (A @ vec(x, self.dim) - b) / A.shape[0]

    def _consts(self, env: Env):
        k = env.acts
        if k not in self._cache:
            Aq = env.const(self.A)
            self._cache[k] = (Aq, FixedArray(np.ascontiguousarray(Aq.raw.T), Aq.fmt),
                              env.const(self.b), recip_const(self.m))
        return self._cache[k]

    def fx_grad(self, xq, accel=None, idx=None, *, acc=None) -> FixedArray:
        env = Env(accel_of(accel, acc))
        xq = as_fixed(xq, env.weights, self.dim)
        Aq, AqT, bq, cm = self._consts(env)
        if idx is not None:
            Aq, bq = FixedArray(Aq.raw[idx], Aq.fmt), FixedArray(bq.raw[idx], bq.fmt)
            AqT, cm = FixedArray(np.ascontiguousarray(Aq.raw.T), Aq.fmt), recip_const(len(bq))
        ka = env.kw("acc")
        z = matvec(Aq, xq, acc=env.acc, **ka)
        e = sub(z, bq, fmt=env.acts, **env.kw("acts"))
        s = matvec(AqT, e, acc=env.acc, **ka)
        return mul(s, cm, fmt=env.grads, **env.kw("grad"))

    def fx_bound(self, xq, accel=None, idx=None, *, acc=None) -> np.ndarray:
        env = Env(accel_of(accel, acc))
        xq = as_fixed(xq, env.weights, self.dim)
        A, b = self._rows(idx)
        m = A.shape[0]
        cm = recip_const(m)
        x = xq.to_float()
        dl, L = env.acts.lsb / 2, env.acc.lsb
        ra, rt, rg = env.rho("acc"), env.rho("acts"), env.rho("grad")
        r = A @ x - b
        k1 = self.dim * ra * L * _lsb_flag(env, env.acts.fl, xq.fmt.fl)
        de = dl * np.abs(x).sum() + dl + k1 + rt * env.acts.lsb
        k2 = m * ra * L * _lsb_flag(env, env.acts.fl, env.acts.fl)
        absA = np.abs(A)
        ds = dl * (np.abs(r).sum() + m * de) + (absA.sum(axis=0) + m * dl) * de + k2
        s = np.abs(A.T @ r) + ds
        return ds / m + s * abs(float(cm.to_fraction()) - 1.0 / m) + rg * env.grads.lsb


def make_least_squares(m: int = 200, d: int = 20, noise: float = 0.1, seed: int = 0) -> LeastSquares:
    """Seeded synthetic problem: A ~ N(0,1) (m, d), x_true ~ N(0, 1/4), b = A x_true + noise·N(0,1).

    >>> ls = make_least_squares(m=30, d=4, seed=1)
    >>> ls.dim, ls.n_samples
    (4, 30)
    """
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, d))
    xt = 0.5 * rng.standard_normal(d)
    b = A @ xt + noise * rng.standard_normal(m)
    ls = LeastSquares(A, b)
    ls.x_true = xt
    return ls
