"""The distributed least-squares problem of compressed gradient tracking
(``fxsim.optim.tracking``; protocol ``TrackingAgents``): N agents, each with its own data."""
from __future__ import annotations

import numpy as np

from fxsim import validate as V

from .protocols import KnownOptimum

__all__ = ["DistributedLeastSquares", "DistributedNonconvexLogistic"]


class DistributedLeastSquares(KnownOptimum):
    """f(x) = (1/N) Σ_i f_i(x), f_i(x) = ‖A_i x − b_i‖² / (2m) + (reg/2)‖x‖², with agent i's
    m × d data A_i ~ N(0, 1) (its columns scaled by c_j ∈ [0.7, 1.4] for a condition number above
    1) and b_i = A_i (x_true + hetero·u_i) + 0.1·noise: heterogeneous local minimizers, so
    consensus matters.  Strongly convex (P–Ł) when the stacked A has full column rank;
    ``x_star`` is the float64 solution of the normal equations.

    >>> p = DistributedLeastSquares(n_agents=4, m=10, d=3, seed=1)
    >>> g = p.grad(np.tile(p.x_star, (4, 1)))
    >>> bool(np.abs(g.mean(axis=0)).max() < 1e-12)
    True
    """

    def __init__(self, n_agents: int = 8, m: int = 40, d: int = 10, seed: int = 0,
                 reg: float = 0.0, hetero: float = 1.0):
        self.n_agents = V.integer("n_agents", n_agents, 1)
        self.m = V.integer("m", m, 1)
        self.d = V.integer("d", d, 1)
        V.non_negative("reg", reg)
        rng = np.random.Generator(np.random.PCG64(seed))
        cols = np.geomspace(0.7, 1.4, self.d)
        self.A = rng.standard_normal((self.n_agents, self.m, self.d)) * cols
        x_true = rng.standard_normal(self.d)
        u = rng.standard_normal((self.n_agents, self.d))
        self.b = (np.einsum("imd,id->im", self.A, x_true + hetero * u)
                  + 0.1 * rng.standard_normal((self.n_agents, self.m)))
        self.reg = float(reg)
        H = np.einsum("imd,ime->de", self.A, self.A) / (self.n_agents * self.m) + self.reg * np.eye(self.d)
        rhs = np.einsum("imd,im->d", self.A, self.b) / (self.n_agents * self.m)
        ev = np.linalg.eigvalsh(H)
        if ev[0] <= 1e-12 * ev[-1]:
            raise ValueError("the stacked data has rank < d: f is not strongly convex "
                             "(use more samples m per agent or reg > 0)")
        self.x_star = np.linalg.solve(H, rhs)
        self.f_star = self.loss(self.x_star)
        self.mu, self.L = float(ev[0]), float(ev[-1])
        local = [np.linalg.eigvalsh(a.T @ a / self.m)[-1] + self.reg for a in self.A]
        self.L_max = float(max(local))

    def grad(self, X) -> np.ndarray:
        """∇f_i(x_i) for every agent: (N, d) -> (N, d)."""
        r = np.einsum("imd,id->im", self.A, X) - self.b
        return np.einsum("imd,im->id", self.A, r) / self.m + self.reg * X

    def loss(self, x) -> float:
        """f(x) for one point x (d,)."""
        r = np.einsum("imd,d->im", self.A, x) - self.b
        return float((r ** 2).sum() / (2 * self.m * self.n_agents) + self.reg / 2 * x @ x)

    def __repr__(self):
        return (f"DistributedLeastSquares(n_agents={self.n_agents}, m={self.m}, d={self.d}, "
                f"L={self.L:.3g}, mu={self.mu:.3g})")


class DistributedNonconvexLogistic(KnownOptimum):
    """The nonconvex problem of Xu et al.'s line of work: logistic regression with the
    nonconvex regularizer λ Σ_j x_j²/(1 + x_j²),

        f_i(x) = (1/m) Σ_s log(1 + exp(−y_s a_sᵀx)) + λ Σ_j x_j²/(1 + x_j²),

    on scikit-learn's diabetes data (442 patients, 10 standardized features; label y = ±1:
    disease progression above / below its median, so the classes overlap and a finite minimizer
    exists), shuffled with ``seed`` and split evenly over ``n_agents`` (the remainder dropped).
    The regularizer is concave for |x_j| > 1/√3, so f is nonconvex; ``x_star`` is the minimizer
    reached from 0 (L-BFGS, then Newton steps to a gradient below 1e-15), ``mu`` the smallest
    Hessian eigenvalue there (local P–Ł constant), ``L_max`` the largest local smoothness bound
    λ_max(A_iᵀA_i)/(4m) + 2λ.

    >>> p = DistributedNonconvexLogistic()
    >>> bool(np.abs(p.grad(np.tile(p.x_star, (p.n_agents, 1))).mean(axis=0)).max() < 1e-14)
    True
    >>> bool(np.linalg.eigvalsh(p.hessian(np.ones(p.d)))[0] < 0)     # nonconvex: at x = 1
    True
    """

    def __init__(self, n_agents: int = 8, lam: float = 0.05, seed: int = 0):
        from sklearn.datasets import load_diabetes
        self.n_agents = V.integer("n_agents", n_agents, 1)
        self.lam = V.non_negative("lam", lam)
        X, t = load_diabetes(return_X_y=True)
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        y = np.where(t > np.median(t), 1.0, -1.0)
        order = np.random.Generator(np.random.PCG64(seed)).permutation(len(y))
        self.m = len(y) // self.n_agents
        if self.m < 1:
            raise ValueError(f"n_agents: at most {len(y)} (one sample each), got {n_agents}")
        idx = order[: self.m * self.n_agents].reshape(self.n_agents, self.m)
        self.A, self.y = X[idx], y[idx]
        self.d = X.shape[1]
        self.L_max = float(max(np.linalg.eigvalsh(a.T @ a)[-1] / (4 * self.m) for a in self.A)
                           + 2 * self.lam)
        self.x_star = self._solve()
        self.f_star = self.loss(self.x_star)
        ev = np.linalg.eigvalsh(self.hessian(self.x_star))
        self.mu, self.L = float(ev[0]), float(ev[-1])
        if self.mu <= 0:
            raise ValueError("lam: the point found is not a strict local minimum (try a smaller lam)")

    def _margins(self, X):
        return self.y * np.einsum("imd,id->im", self.A, X)

    def grad(self, X) -> np.ndarray:
        """∇f_i(x_i) for every agent: (N, d) -> (N, d)."""
        X = np.asarray(X, dtype=np.float64)
        s = -self.y / (1.0 + np.exp(self._margins(X)))            # d/dz log(1 + e^{−yz})
        return np.einsum("imd,im->id", self.A, s) / self.m + self.lam * 2 * X / (1 + X * X) ** 2

    def loss(self, x) -> float:
        """f(x) for one point x (d,)."""
        x = np.asarray(x, dtype=np.float64)
        z = self.y * np.einsum("imd,d->im", self.A, x)
        return float(np.logaddexp(0.0, -z).mean() + self.lam * np.sum(x * x / (1 + x * x)))

    def hessian(self, x) -> np.ndarray:
        """∇²f(x) of the average cost at one point x (d,)."""
        z = self.y * np.einsum("imd,d->im", self.A, x)
        w = 0.25 / np.cosh(z / 2) ** 2                             # σ(z)(1 − σ(z))
        H = np.einsum("imd,im,ime->de", self.A, w, self.A) / (self.m * self.n_agents)
        return H + np.diag(self.lam * (2 - 6 * x * x) / (1 + x * x) ** 3)

    def _solve(self):
        from scipy.optimize import minimize
        gbar = lambda x: self.grad(np.tile(x, (self.n_agents, 1))).mean(axis=0)
        x = minimize(self.loss, np.zeros(self.d), jac=gbar, method="L-BFGS-B",
                     options=dict(gtol=1e-12, ftol=1e-15, maxiter=2000)).x
        for _ in range(20):
            g = gbar(x)
            if np.abs(g).max() < 1e-15:
                break
            x = x - np.linalg.solve(self.hessian(x), g)
        return x

    def __repr__(self):
        return (f"DistributedNonconvexLogistic(n_agents={self.n_agents}, m={self.m}, d={self.d}, "
                f"lam={self.lam:g}, L={self.L:.3g}, mu={self.mu:.3g})")
