"""A 4-layer ReLU MLP (64→32→32→16→10) with softmax cross-entropy on scikit-learn's digits."""
from __future__ import annotations

import numpy as np

from fxsim import FixedArray, QFormat, add, matmul, matvec, mul, sub

from ._fx import accel_of, Env, as_fixed, vec, recip_const, relu
from .data import builtin_dataset
from .protocols import KnownOptimum


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class MLP(KnownOptimum):
    """Mean softmax cross-entropy of a ReLU MLP, ``sizes`` = (64, 32, 32, 16, 10) by default,
    on ``load_digits`` (pixels / 16; or user ``X``, integer labels ``y`` in 0..classes−1).

    Parameters are one flat vector: for each layer l, W_l (out × in, row-major) then b_l (out),
    ``dim`` = Σ (in·out + out) = 3834 for the default sizes.  ``x0(rng)``: He-normal weights
    (std √(2/in)) and zero biases; ``x0()`` is the init of ``seed``.  ``layers(x)`` gives the
    (W, b) views.  ``loss``/``grad``/``fx_grad`` take ``idx`` (sample indices) for minibatches.

    ``fx_grad(xq, accel)``, B samples, all products exact into the ``acc`` accumulator:
      forward  Z_l = cast_acts(matmul(H_{l−1}, W_lᵀ, acc) + b_l),  H_l = ReLU(Z_l) (exact);
      softmax  P = cast_acts(softmax(Z_4))  (a function unit: correctly rounded in float64);
      backward D_4 = P − Y (exact; the 1/B is applied last),
               dW_l = matmul(D_lᵀ, H_{l−1}, acc), db_l = matvec(D_lᵀ, 1, acc),
               D_{l−1} = cast_acts(matmul(D_l, W_l, acc)) ⊙ [Z_{l−1} > 0];
      grads    cast_grads(dW_l · c_B), c_B ≈ 1/B to 31 significant bits.
    There is no rigorous error bound here (the backward pass compounds activation roundings
    through the ReLU masks); the tests check convergence to ``grad`` as formats widen.

    >>> import numpy as np
    >>> m = MLP(sizes=(64, 8, 10))
    >>> m
    MLP(sizes=(64, 8, 10), m=1797, dim=610)
    >>> x = m.x0()
    >>> g = m.fx_grad(x)                        # Q(16,8) forward/backward pass on the datapath
    >>> g.fmt, bool(np.corrcoef(g.to_float(), m.grad(x))[0, 1] > 0.9)
    (QFormat(wl=16, fl=8, signed=True), True)
    """

    def __init__(self, sizes=(64, 32, 32, 16, 10), seed: int = 0, X=None, y=None):
        if X is None:
            X, y = builtin_dataset("digits")
            self.dataset = "digits"
        else:
            self.dataset = "user"
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        self.sizes = tuple(int(s) for s in sizes)
        if len(self.sizes) < 2:
            raise ValueError("sizes needs at least an input and an output size")
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"X must be (m, {self.sizes[0]}), got {X.shape}")
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must be ({X.shape[0]},), got {y.shape}")
        k = self.sizes[-1]
        if not (np.issubdtype(y.dtype, np.integer) or np.all(y == np.round(y))) or \
                y.min() < 0 or y.max() >= k:
            raise ValueError(f"labels must be integers in 0..{k - 1}")
        self.X = np.ascontiguousarray(X)
        self.y = y.astype(np.int64)
        self.Y = np.eye(k)[self.y]
        self.n_samples = self.X.shape[0]
        self._shapes = [(o, i) for i, o in zip(self.sizes[:-1], self.sizes[1:])]
        self.dim = sum(o * i + o for o, i in self._shapes)
        self.seed = seed
        self.x_star = None
        self.f_star = None          # unknown (non-convex); 0 is a lower bound
        self._cache = {}

    def __repr__(self):
        return f"MLP(sizes={self.sizes}, m={self.n_samples}, dim={self.dim})"

    def x0(self, rng=None):
        rng = np.random.default_rng(self.seed if rng is None else rng)
        parts = []
        for o, i in self._shapes:
            parts += [rng.standard_normal(o * i) * np.sqrt(2.0 / i), np.zeros(o)]
        return np.concatenate(parts)

    def layers(self, x):
        """[(W_l, b_l)] views of the flat vector (works on ndarrays of any dtype)."""
        out, k = [], 0
        for o, i in self._shapes:
            W = x[k:k + o * i].reshape(o, i)
            k += o * i
            out.append((W, x[k:k + o]))
            k += o
        return out

    def _data(self, idx):
        return (self.X, self.Y) if idx is None else (self.X[idx], self.Y[idx])

    def _forward(self, x, X):
        Hs, Zs = [X], []
        L = self.layers(vec(x, self.dim))
        for l, (W, b) in enumerate(L):
            Z = Hs[-1] @ W.T + b
            Zs.append(Z)
            if l < len(L) - 1:
                Hs.append(np.maximum(Z, 0.0))
        return L, Hs, Zs

    def loss(self, x, idx=None):
        X, Y = self._data(idx)
        _, _, Zs = self._forward(x, X)
        Z = Zs[-1]
        zmax = Z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(Z - zmax).sum(axis=1)) + zmax[:, 0]
        return float(np.mean(lse - (Z * Y).sum(axis=1)))

    def grad(self, x, idx=None):
        X, Y = self._data(idx)
        L, Hs, Zs = self._forward(x, X)
        B = X.shape[0]
        D = (_softmax(Zs[-1]) - Y) / B
        grads = []
        for l in range(len(L) - 1, -1, -1):
            W, _ = L[l]
            grads.append((D.T @ Hs[l], D.sum(axis=0)))
            if l > 0:
                D = (D @ W) * (Zs[l - 1] > 0)
        return np.concatenate([np.concatenate([dW.ravel(), db]) for dW, db in grads[::-1]])

    def _consts(self, env: Env):
        k = env.acts
        if k not in self._cache:
            self._cache[k] = (env.const(self.X), env.const(self.Y))
        return self._cache[k]

    def fx_grad(self, xq, accel=None, idx=None, *, acc=None) -> FixedArray:
        env = Env(accel_of(accel, acc))
        xq = as_fixed(xq, env.weights, self.dim)
        Xq, Yq = self._consts(env)
        if idx is not None:
            Xq, Yq = FixedArray(Xq.raw[idx], Xq.fmt), FixedArray(Yq.raw[idx], Yq.fmt)
        B = Xq.shape[0]
        ka, kt = env.kw("acc"), env.kw("acts")
        fw = xq.fmt
        L = [(FixedArray(W, fw), FixedArray(b, fw)) for W, b in self.layers(xq.raw)]
        Hs, Zs = [Xq], []
        for l, (W, b) in enumerate(L):
            WT = FixedArray(np.ascontiguousarray(W.raw.T), fw)
            Z = env.cast(add(matmul(Hs[-1], WT, acc=env.acc, **ka), b, fmt=env.acc, **ka), "acts")
            Zs.append(Z)
            if l < len(L) - 1:
                Hs.append(relu(Z))
        P = env.cast(_softmax(Zs[-1].to_float()), "acts")
        D = sub(P, Yq, fmt=env.acts, **kt)
        ones = FixedArray(np.ones(B, dtype=np.int8), QFormat(2, 0))
        cB = recip_const(B)
        out = [None] * len(L)
        for l in range(len(L) - 1, -1, -1):
            DT = FixedArray(np.ascontiguousarray(D.raw.T), D.fmt)
            dW = matmul(DT, Hs[l], acc=env.acc, **ka)
            db = matvec(DT, ones, acc=env.acc, **ka)
            out[l] = (mul(dW, cB, fmt=env.acc, **ka), mul(db, cB, fmt=env.acc, **ka))
            if l > 0:
                Dp = env.cast(matmul(D, L[l][0], acc=env.acc, **ka), "acts")
                D = FixedArray(np.where(Zs[l - 1].raw > 0, Dp.raw, 0).astype(Dp.raw.dtype), Dp.fmt)
        raw = np.concatenate([np.concatenate([dW.raw.ravel(), db.raw]) for dW, db in out])
        return env.cast(FixedArray(raw, env.acc), "grad")
