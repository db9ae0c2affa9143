"""Binary L2-regularized logistic regression on a scikit-learn data set or user data."""
from __future__ import annotations

import math

import numpy as np

from fxsim import FixedArray, QFormat, add, cast, matvec, mul, sub

from ._fx import accel_of, Env, as_fixed, vec, recip_const
from .data import builtin_dataset
from .protocols import KnownOptimum


def fine_const(v: float) -> FixedArray:
    """A real constant in a 32-bit signed word with 30 significant bits after its leading one.

    >>> c = fine_const(1e-3); c.fmt, abs(float(c) / 1e-3 - 1) < 2**-30
    (QFormat(wl=32, fl=40, signed=True), True)
    """
    v = float(v)
    if v == 0:
        return FixedArray(np.array(0), QFormat(32, 0))
    fl = 30 - math.floor(math.log2(abs(v)))
    return cast(v, QFormat(32, fl))


def _sigmoid(z):
    e = np.exp(-np.abs(z))          # never overflows
    d = 1.0 + e
    return np.where(z >= 0, 1.0 / d, e / d)


class LogisticRegression(KnownOptimum):
    """f(w) = (1/m) Σ_i [log(1 + e^{z_i}) − y_i z_i] + (λ/2)‖w‖²,  z = X̃ w, y ∈ {0, 1},
    X̃ = [X, 1] (the last weight is the intercept; λ applies to every weight).
    grad = X̃ᵀ(σ(z) − y)/m + λ w.  ``dataset``: ``"breast_cancer"`` (standardized) or
    ``"digits01"``; or give ``X``, ``y`` (e.g. from ``load_dataset``; labels must be 0/1).
    ``loss``/``grad``/``fx_grad`` take ``idx`` (sample indices) for minibatches (mean over idx).

    ``fx_grad``: X̃ quantized once to ``acts``; z = cast(``matvec(X̃_q, w_q, acc)``, acts);
    s = cast(σ(z), acts) — the sigmoid is a function unit returning the correctly rounded
    value of its fixed-point input (evaluated in float64, error ~1e-16, ignored); e = s − y
    (exact); S = ``matvec(X̃_qᵀ, e, acc)``; g = cast(cast(S·c_m, acc) + cast(λ_q·w, acc), grads)
    with c_m ≈ 1/m and λ_q ≈ λ to 31 significant bits.

    Error bound (``fx_bound``) per weight j, δ = lsb_acts/2, L = lsb_acc, ρ = ½ (nearest) or
    1, no overflow or saturation of z:
        Δz_i ≤ δ‖w‖₁ + K1 + ρ lsb_acts,  K1 = (d+1)ρL if fl_acc < fl_acts + fl_w
        Δe_i ≤ Δz_i/4 + ρ lsb_acts                 (σ is ¼-Lipschitz)
        ΔS_j ≤ Σ_i [δ(|e_i| + Δe_i) + |X̃_ij| Δe_i] + K2,  K2 = mρL if fl_acc < 2 fl_acts
        Δg_j ≤ ΔS_j/m + |S_j||c_m − 1/m| + ρL + |λ_q − λ||w_j| + ρL + ρ lsb_grads.

    >>> import numpy as np
    >>> m = LogisticRegression("digits01")
    >>> m.dim, round(m.loss(np.zeros(m.dim)), 6)          # log 2 at w = 0
    (65, 0.693147)
    >>> g = m.fx_grad(np.zeros(m.dim))                      # default Q(16,8) datapath
    >>> bool(np.all(np.abs(g.to_float() - m.grad(np.zeros(m.dim))) <= m.fx_bound(np.zeros(m.dim))))
    True
    """

    def __init__(self, dataset: str = "breast_cancer", l2: float = 1e-3, X=None, y=None):
        if X is None:
            X, y = builtin_dataset(dataset)
            self.dataset = dataset
        else:
            X = np.asarray(X, dtype=np.float64)
            y = np.asarray(y)
            self.dataset = "user"
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise ValueError(f"X must be (m, d) and y (m,); got {X.shape} and {y.shape}")
        if not np.isin(y, (0, 1)).all():
            raise ValueError("logistic regression labels must be 0 or 1")
        self.X = np.hstack([X, np.ones((X.shape[0], 1))])
        self.y = y.astype(np.float64)
        self.m, self.dim = self.X.shape
        self.n_samples = self.m
        self.l2 = float(l2)
        self._cache = {}
        self._opt = None

    def __repr__(self):
        return f"LogisticRegression(dataset={self.dataset!r}, m={self.m}, d={self.dim}, l2={self.l2:g})"

    def x0(self, rng=None):
        return 0.1 * np.random.default_rng(0 if rng is None else rng).standard_normal(self.dim)

    def _xy(self, idx):
        if idx is None:
            return self.X, self.y
        return self.X[idx], self.y[idx]

    def loss(self, x, idx=None):
        X, y = self._xy(idx)
        w = vec(x, self.dim)
        z = X @ w
        t = np.logaddexp(0.0, z) - y * z
        return float(t.sum() / t.size + 0.5 * self.l2 * (w @ w))     # np.mean without its overhead

    def grad(self, x, idx=None):
        X, y = self._xy(idx)
        w = vec(x, self.dim)
        return X.T @ (_sigmoid(X @ w) - y) / X.shape[0] + self.l2 * w

    def hess(self, x):
        s = _sigmoid(self.X @ vec(x, self.dim))
        return (self.X.T * (s * (1 - s))) @ self.X / self.m + self.l2 * np.eye(self.dim)

    def _solve(self):
        """x* by Newton's method (strongly convex for λ > 0)."""
        x = np.zeros(self.dim)
        for _ in range(100):
            g = self.grad(x)
            step = np.linalg.solve(self.hess(x), g)
            x = x - step
            if np.abs(step).max() < 1e-15 * max(1.0, np.abs(x).max()):
                break
        return x

    @property
    def x_star(self):
        if self.l2 <= 0:
            return None
        if self._opt is None:
            self._opt = self._solve()
        return self._opt

    @property
    def f_star(self):
        o = self.x_star
        return None if o is None else self.loss(o)

    def _consts(self, env: Env):
        k = env.acts
        if k not in self._cache:
            Xq = env.const(self.X)
            self._cache[k] = (Xq, env.const(self.y), fine_const(self.l2))
        return self._cache[k]

    def fx_grad(self, xq, accel=None, idx=None, *, acc=None) -> FixedArray:
        env = Env(accel_of(accel, acc))
        wq = as_fixed(xq, env.weights, self.dim)
        Xq, yq, lam = self._consts(env)
        if idx is not None:
            Xq, yq = FixedArray(Xq.raw[idx], Xq.fmt), FixedArray(yq.raw[idx], yq.fmt)
        XqT = FixedArray(np.ascontiguousarray(Xq.raw.T), Xq.fmt)
        kw = env.kw("acc")
        z = env.cast(matvec(Xq, wq, acc=env.acc, **kw), "acts")
        s = env.cast(_sigmoid(z.to_float()), "acts")
        e = sub(s, yq, fmt=env.acts, **env.kw("acts"))
        S = matvec(XqT, e, acc=env.acc, **kw)
        mean = mul(S, recip_const(Xq.shape[0]), fmt=env.acc, **kw)
        reg = mul(lam, wq, fmt=env.acc, **kw)
        return env.cast(add(mean, reg, fmt=env.acc, **kw), "grad")

    def fx_bound(self, xq, accel=None, idx=None, *, acc=None) -> np.ndarray:
        env = Env(accel_of(accel, acc))
        wq = as_fixed(xq, env.weights, self.dim)
        X, y = self._xy(idx)
        m, d = X.shape
        w = wq.to_float()
        dl, L = env.acts.lsb / 2, env.acc.lsb
        ra, rt, rg = env.rho("acc"), env.rho("acts"), env.rho("grad")
        k1 = d * ra * L * (env.acc.fl < env.acts.fl + wq.fmt.fl)
        dz = dl * np.abs(w).sum() + k1 + rt * env.acts.lsb
        de = dz / 4 + rt * env.acts.lsb
        e = _sigmoid(X @ w) - y
        k2 = m * ra * L * (env.acc.fl < 2 * env.acts.fl)
        dS = dl * (np.abs(e).sum() + m * de) + np.abs(X).sum(axis=0) * de + k2
        S = np.abs(X.T @ e) + dS
        cm = float(recip_const(m).to_fraction())
        lam = float(self._consts(env)[2].to_fraction())
        return (dS / m + S * abs(cm - 1 / m) + ra * L + abs(lam - self.l2) * np.abs(w) + ra * L
                + rg * env.grads.lsb)
