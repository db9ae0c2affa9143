"""The distributed least-squares problem of compressed gradient tracking
(``fxsim.optim.tracking``; protocol ``TrackingAgents``): N agents, each with its own data."""
from __future__ import annotations

import numpy as np

from fxsim import validate as V

from .protocols import KnownOptimum

__all__ = ["DistributedLeastSquares"]


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
