"""Synthetic sparse recovery from a seed (nothing downloaded): y = A x + noise."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SparseRecovery", "make_sparse_recovery"]


@dataclass(frozen=True)
class SparseRecovery:
    """A (m × n, columns of unit norm), training pairs ``Y`` (T × m) / ``X`` (T × n) and held-out
    pairs ``Y_test`` / ``X_test``; every row of X is s-sparse.

    >>> d = make_sparse_recovery(m=4, n=8, n_train=3, n_test=2)
    >>> d.m, d.n, d.s
    (4, 8, 2)
    """
    A: np.ndarray
    Y: np.ndarray
    X: np.ndarray
    Y_test: np.ndarray
    X_test: np.ndarray
    s: int
    noise: float
    seed: int

    @property
    def m(self) -> int:
        return self.A.shape[0]

    @property
    def n(self) -> int:
        return self.A.shape[1]


def make_sparse_recovery(m=8, n=16, s=2, n_train=32, n_test=200, noise=0.01, seed=0,
                         amplitude=1.0) -> SparseRecovery:
    """A Gaussian m × n with normalized columns, x with s nonzeros at uniform positions, values
    N(0, amplitude²), y = A x + noise·N(0, 1); the train and test sets share A.  A is drawn
    from ``seed`` alone, so data sets of different ``n_train`` share A and their first rows.

    >>> d = make_sparse_recovery(m=4, n=8, s=2, n_train=5, n_test=3, seed=1)
    >>> d.Y.shape, d.X.shape, d.Y_test.shape, bool(np.allclose(np.linalg.norm(d.A, axis=0), 1))
    ((5, 4), (5, 8), (3, 4), True)
    >>> sorted(set((d.X != 0).sum(axis=1).tolist()))
    [2]
    """
    for name, v, lo in (("m", m, 1), ("n", n, 1), ("s", s, 1), ("n_train", n_train, 1),
                        ("n_test", n_test, 0)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name}: must be an integer >= {lo}, got {v!r}")
    if s > n:
        raise ValueError(f"s: must be at most n = {n}, got {s}")
    if not noise >= 0:
        raise ValueError(f"noise: must be >= 0, got {noise}")
    ss_a, ss_train, ss_test = np.random.SeedSequence(seed).spawn(3)
    A = np.random.default_rng(ss_a).standard_normal((m, n))
    A /= np.linalg.norm(A, axis=0)

    def pairs(ss, count):
        rng = np.random.default_rng(ss)
        X, E = np.zeros((count, n)), np.zeros((count, m))
        for i in range(count):          # row by row: the first rows do not depend on count
            X[i, rng.choice(n, s, replace=False)] = amplitude * rng.standard_normal(s)
            E[i] = rng.standard_normal(m)
        return np.ascontiguousarray(X @ A.T + noise * E), X

    Y, X = pairs(ss_train, n_train)
    Yt, Xt = pairs(ss_test, n_test)
    return SparseRecovery(A, Y, X, Yt, Xt, int(s), float(noise), int(seed))
