"""Strongly convex finite sums f(w) = (1/n) Σ_i f_i(w) for the SVRG / HALP optimizers
(``fxsim.optim.svrg``, ``fxsim.optim.halp``), with their exact optimum w* in float64.

Protocol (what the optimizers use): ``n_samples``, ``dim``, ``grad(w, idx=None)`` (the mean
gradient over the sample indices ``idx``, any shape, or over all samples), ``loss(w)``,
``x_star`` (``w_star`` is its old name), ``f_star``, ``mu`` (a strong-convexity constant of f), ``L`` (the largest
smoothness constant of one f_i), ``w_range`` (the bound a designer would give the weights'
fixed-point format: 1.5·max|w*|, rounded up to a power of two).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from fxsim import validate as V

from .data import builtin_dataset
from .protocols import KnownOptimum


def _range_of(w_star) -> float:
    return float(2.0 ** math.ceil(math.log2(1.5 * float(np.max(np.abs(w_star))))))


class LinearRegression(KnownOptimum):
    """f(w) = (1/2n) ‖Xw − y‖², X (n × d) seeded standard normal, y = X w_true + 0.1·noise,
    w_true ~ N(0, 1).  Strongly convex with μ = λ_min(XᵀX/n); L = max_i ‖x_i‖²; the optimum
    w* solves the normal equations (float64 ``lstsq``).

    >>> p = LinearRegression(n=100, d=5, seed=0)
    >>> p.dim, p.n_samples, bool(p.mu > 0), p.w_range
    (5, 100, True, 4.0)
    >>> bool(np.linalg.norm(p.grad(p.x_star)) < 1e-13)
    True
    """

    def __init__(self, n: int = 100, d: int = 5, noise: float = 0.1, seed: int = 0):
        n = V.integer("n", n, 1)
        d = V.integer("d", d, 1, n)
        rng = np.random.default_rng(seed)
        self.X = rng.standard_normal((n, d))
        w_true = rng.standard_normal(d)
        self.y = self.X @ w_true + noise * rng.standard_normal(n)
        self.n_samples, self.dim = n, d
        self.x_star = np.linalg.lstsq(self.X, self.y, rcond=None)[0]
        self.f_star = self.loss(self.x_star)
        eig = np.linalg.eigvalsh(self.X.T @ self.X / n)
        self.mu, self.L_full = float(eig[0]), float(eig[-1])
        self.L = float(np.max(np.einsum("ij,ij->i", self.X, self.X)))
        self.w_range = _range_of(self.x_star)

    def __repr__(self):
        return f"LinearRegression(n={self.n_samples}, d={self.dim})"

    def data_format(self, b: int):
        """The b-bit signed format with the most fraction bits that holds every |X_ij|.

        >>> LinearRegression().data_format(8)
        QFormat(wl=8, fl=5, signed=True)
        """
        from fxsim.optim.svrg import weight_format
        return weight_format(b, float(np.max(np.abs(self.X))))

    def fx_grad_diff(self, zq, idx, b: int):
        """∇f_I(w̃ + z) − ∇f_I(w̃) = (1/B) Σ_{i∈I} x_i x_iᵀ z on the datapath: X quantized
        once to ``data_format(b)`` (nearest_even, saturate), then two exact integer MAC passes
        (``matvec``, no rounding) on the b-bit words; float64 of the exact sum, times 1/B.
        It does not depend on w̃: HALP's inner loop then runs on b-bit words only.

        >>> from fxsim import QFormat, cast
        >>> p = LinearRegression()
        >>> z = cast(np.full(5, 0.25), QFormat(8, 4))
        >>> v = p.fx_grad_diff(z, [3], 8)
        >>> x = p._xq(8).to_float()[3]
        >>> bool(np.array_equal(v, x * (x @ z.to_float())))
        True
        """
        from fxsim import matvec
        idx = np.ravel(idx)
        rows = self._xq(b)[idx]
        return matvec(rows.T, matvec(rows, zq)).to_float() / len(idx)

    def _xq(self, b):
        cache = self.__dict__.setdefault("_xq_cache", {})
        if b not in cache:
            from fxsim import cast
            cache[b] = cast(self.X, self.data_format(b), "nearest_even", "saturate")
        return cache[b]

    def loss(self, w):
        r = self.X @ w - self.y
        return float(r @ r) / (2 * self.n_samples)

    def grad(self, w, idx=None):
        if idx is None:
            X, y = self.X, self.y
        else:
            idx = np.ravel(idx)
            X, y = self.X[idx], self.y[idx]
        return X.T @ (X @ w - y) / len(y)


@functools.lru_cache(maxsize=4)
def _softmax_optimum(l2: float, n):
    X, Y = _digits_design(n)
    return _newton(X, Y, l2)


@functools.lru_cache(maxsize=2)
def _digits_design(n=None):
    X, y = builtin_dataset("digits")
    X, y = X[:n], y[:n]
    X = X - X.mean(axis=0)
    # One pooled scale for all pixels (mean per-pixel variance 1): per-pixel unit variance
    # would blow rare pixels up to ~40 and max_i ‖x_i‖² to ~2300 (L 20× worse).
    X = X / np.sqrt(np.mean(X.var(axis=0)))
    X = np.hstack([X, np.ones((X.shape[0], 1))])
    Y = np.zeros((X.shape[0], 10))
    Y[np.arange(X.shape[0]), y] = 1.0
    return X, Y


def _probs(Z):
    Z = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(axis=1, keepdims=True)


def _newton(X, Y, l2, tol=1e-12, max_iter=50):
    """Newton's method with the exact Hessian (index (a, c) ↦ a·C + c) to ‖∇f‖ ≤ tol."""
    n, p = X.shape
    C = Y.shape[1]
    W = np.zeros((p, C))
    for _ in range(max_iter):
        P = _probs(X @ W)
        G = X.T @ (P - Y) / n + l2 * W
        if np.linalg.norm(G) <= tol:
            break
        Z = (X[:, :, None] * P[:, None, :]).reshape(n, p * C)
        H = -(Z.T @ Z) / n                                    # − Σ x xᵀ ⊗ p pᵀ
        for c in range(C):
            blk = (X * P[:, c:c + 1]).T @ X / n                # Σ x xᵀ p_c
            H[c::C, c::C] += blk
        H[np.diag_indices_from(H)] += l2
        W = W - np.linalg.solve(H, G.ravel()).reshape(p, C)
    return W.ravel(), float(np.linalg.norm(G))


class SoftmaxRegression(KnownOptimum):
    """Multinomial logistic regression on scikit-learn's digits (1797 × 64, bundled; features
    standardised: every pixel centred, all divided by one pooled standard deviation so the
    mean per-pixel variance is 1 — per-pixel scaling would make rare pixels ~40 and slow
    SVRG twentyfold — plus a bias column): f(W) = (1/n) Σ_i [logsumexp(x_iᵀW) − x_iᵀW_{y_i}] + (λ/2)‖W‖², W of shape 65 × 10
    flattened row-major (dim 650).  The L2 term makes f λ-strongly convex: μ = λ;
    L = max_i ‖x_i‖²/2 + λ (the softmax Hessian is ⪯ ½I).  w* by Newton's method with the
    exact Hessian to ‖∇f(w*)‖ ≤ 1e-12 (``grad_norm_star`` holds the value reached).

    ``n``: use only the first n samples (default all 1797).

    >>> p = SoftmaxRegression(l2=0.05, n=200)
    >>> p.dim, p.n_samples, p.mu
    (650, 200, 0.05)
    >>> print(round(p.loss(np.zeros(p.dim)), 4))    # log 10 at w = 0
    2.3026
    """

    def __init__(self, l2: float = 0.05, n=None):
        V.positive("l2", l2)
        if n is not None:
            V.integer("n", n, 10, 1797)
        self.X, self.Y = _digits_design(n)
        self.n_samples, p = self.X.shape
        self.classes = self.Y.shape[1]
        self.dim = p * self.classes
        self.l2 = float(l2)
        self._n = n
        self.mu = self.l2
        self.L = float(np.max(np.einsum("ij,ij->i", self.X, self.X))) / 2 + self.l2

    # w* is computed on first use (Newton on a 650 × 650 Hessian, about a second), cached per
    # (λ, n) for the process
    @functools.cached_property
    def _opt(self):
        return _softmax_optimum(self.l2, self._n)

    @property
    def x_star(self):
        return self._opt[0]

    @property
    def grad_norm_star(self):
        return self._opt[1]

    @functools.cached_property
    def f_star(self):
        return self.loss(self.x_star)

    @functools.cached_property
    def w_range(self):
        return _range_of(self.x_star)

    def __repr__(self):
        return f"SoftmaxRegression(digits, n={self.n_samples}, l2={self.l2:g})"

    def loss(self, w):
        W = np.reshape(w, (-1, self.classes))
        Z = self.X @ W
        m = Z.max(axis=1, keepdims=True)
        lse = (m[:, 0] + np.log(np.exp(Z - m).sum(axis=1)))
        return float(np.mean(lse - np.sum(Z * self.Y, axis=1)) + 0.5 * self.l2 * float(w @ w))

    def grad(self, w, idx=None):
        W = np.reshape(w, (-1, self.classes))
        if idx is None:
            X, Y = self.X, self.Y
        else:
            idx = np.ravel(idx)
            X, Y = self.X[idx], self.Y[idx]
        G = X.T @ (_probs(X @ W) - Y) / X.shape[0]
        return G.ravel() + self.l2 * np.asarray(w)
