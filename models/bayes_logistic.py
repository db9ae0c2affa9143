"""Bayesian multinomial logistic regression on scikit-learn's bundled digits (10 classes) with a
Gaussian prior: the samplers' target (``fxsim.samplers``; protocol ``SamplerTarget``).  U is
divided by the training-set size N and T = 1/N (the papers' "datasize" scaling), stochastic
gradients from minibatches."""
from __future__ import annotations

import numpy as np

from fxsim import validate as V

from .data import builtin_dataset

__all__ = ["BayesLogistic"]


class BayesLogistic:
    """Bayesian multinomial logistic regression (softmax, ``classes`` outputs, intercepts) on a
    train split of scikit-learn's digits (pixels/16), prior N(0, ``prior_var``·I).

    U(θ) = Σ_i −log softmax(x_i W + c)_{y_i} + ‖θ‖²/(2 prior_var); the samplers see
    f = U/N (N training samples) at temperature T = 1/N, and a minibatch gradient of f:
    mean over ``batch`` samples (drawn with replacement, per chain) + θ/(N prior_var).

    >>> m = BayesLogistic(n_train=200, batch=20)
    >>> m.dim, m.n_train, m.X_test.shape
    (650, 200, (1597, 64))
    """

    kernel_kind = None

    def __init__(self, dataset="digits", n_train=1200, batch=64, prior_var=1.0, split_seed=0):
        if dataset not in ("digits",):
            raise ValueError(f"dataset: only 'digits' (10 classes) is supported, got {dataset!r}")
        X, y = builtin_dataset(dataset)
        V.integer("n_train", n_train, 10, len(y) - 1)
        V.integer("batch", batch, 1, n_train)
        V.positive("prior_var", prior_var)
        perm = np.random.default_rng(split_seed).permutation(len(y))
        tr, te = perm[:n_train], perm[n_train:]
        self.X, self.y = X[tr], y[tr]
        self.X_test, self.y_test = X[te], y[te]
        self.classes = 10
        self.features = X.shape[1]
        self.dim = (self.features + 1) * self.classes
        self.n_train = n_train
        self.batch = batch
        self.prior_var = float(prior_var)
        self.temperature = 1.0 / n_train

    def __repr__(self):
        return f"BayesLogistic(digits, N={self.n_train}, batch={self.batch}, dim={self.dim})"

    def unpack(self, theta):
        """(W, c) of shape (chains, features, classes), (chains, classes).

        >>> m = BayesLogistic(n_train=100)
        >>> [a.shape for a in m.unpack(np.zeros((2, m.dim)))]
        [(2, 64, 10), (2, 10)]
        """
        th = np.asarray(theta, dtype=np.float64)
        W = th[:, : self.features * self.classes].reshape(-1, self.features, self.classes)
        return W, th[:, self.features * self.classes:]

    def logits(self, theta, X):
        """x W + c for every chain: shape (chains, samples, classes).

        >>> m = BayesLogistic(n_train=100)
        >>> m.logits(np.zeros((2, m.dim)), m.X_test[:3]).shape
        (2, 3, 10)
        """
        W, c = self.unpack(theta)
        return np.einsum("nf,cfk->cnk", X, W) + c[:, None, :]

    def grad(self, theta, rng=None):
        """Minibatch gradient of f = U/N at θ (chains, dim); ``rng`` picks the minibatch
        (per chain, with replacement); rng=None: the full-data gradient.

        >>> m = BayesLogistic(n_train=100, batch=10)
        >>> m.grad(np.zeros((2, m.dim)), np.random.default_rng(0)).shape
        (2, 650)
        """
        th = V.chains("theta", theta, self.dim)
        C = th.shape[0]
        W, c = self.unpack(th)
        if rng is None:
            Xb = np.broadcast_to(self.X, (C,) + self.X.shape)
            yb = np.broadcast_to(self.y, (C, len(self.y)))
        else:
            idx = rng.integers(0, self.n_train, size=(C, self.batch))
            Xb, yb = self.X[idx], self.y[idx]
        z = np.matmul(Xb, W) + c[:, None, :]          # matmul: BLAS, 5-10x einsum here
        z -= z.max(axis=2, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=2, keepdims=True)
        p[np.arange(C)[:, None], np.arange(yb.shape[1])[None, :], yb] -= 1.0
        B = Xb.shape[1]
        gW = np.matmul(Xb.transpose(0, 2, 1), p) / B
        gc = p.sum(axis=1) / B
        g = np.concatenate([gW.reshape(C, -1), gc], axis=1)
        return g + th / (self.n_train * self.prior_var)

    def grad_words(self, raw, fmt, rng=None):
        """:meth:`grad` at the words ``raw`` of ``fmt``.

        >>> from fxsim import QFormat
        >>> m = BayesLogistic(n_train=100)
        >>> m.grad_words(np.zeros((1, m.dim), dtype=np.int64), QFormat(6, 4)).shape
        (1, 650)
        """
        return self.grad(np.ldexp(np.asarray(raw, dtype=np.float64), -fmt.fl), rng)
