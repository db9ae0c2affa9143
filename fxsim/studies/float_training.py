"""Gradient descent / minibatch SGD on an MLP whose weights, gradients and activations are in a
float format (bf16, fp32, ...), each operation computed in float64 and its result rounded once
with ``fxsim.cast`` to the format ("chop"-style simulation, as Higham & Pranesh's ``chop`` and
the float experiments of the amplification paper do).

One iteration on B samples (X_B, Y_B), ``c`` = cast to the format with the run's rounding:
  forward   Z_l = c(H_{l−1} W_lᵀ + b_l),  H_l = ReLU(Z_l) (exact),  P = c(softmax(Z_L));
  backward  D_L = c(P − Y),  dW_l = c(D_lᵀ H_{l−1} · (1/B)),  db_l = c(Σ D_l · (1/B)),
            D_{l−1} = c(D_l W_l) ⊙ [Z_{l−1} > 0];
  decay     g = c(g + wd·w)  (only when wd > 0);
  update    w = c(w − t·g)   (fused: one rounding, as the fixed-point study's update).
When is this exactly one rounding of the exact result?  Products of two bf16 values are exact
in float64 (8 + 8 significant bits), and so are sums of such products unless their exponents
differ by more than about 53 − 2·8 − log2(terms) ≈ 29 bits; then float64 rounds first and the
cast rounds again (a double rounding, off by at most 2^-53 relative).  For fp32 (24-bit
significands) the float64 dot products are not exact: each result carries an error of about
2^-53·‖terms‖ before its one cast to fp32 (2^-24), so a round-to-nearest result can differ from
a correctly rounded one only at near-ties, and an SR draw's probability is off by ~2^-29.
t·g and wd·w use the float64 value of t and wd (not rounded to the format).  Overflow saturates.

The weights are kept as float64 values (each exactly a value of the format); ``codes`` gives
their bit patterns.  The float datapath's own add/mul/matmul (being written) can replace the
float64-then-cast steps later; the per-operation rounding points stay the same.

>>> import numpy as np
>>> from fxsim.models import MLP
>>> m = MLP(sizes=(64, 8, 10))
>>> gd = FloatGD(m, "bf16", "nearest_even", lr=0.5, batch_size=32, seed=0)
>>> l0 = m.loss(gd.w); _ = [gd.step() for _ in range(20)]
>>> bool(m.loss(gd.w) < l0), bool(np.array_equal(gd.w, cast(gd.w, gd.fmt).to_float()))
(True, True)
"""
from __future__ import annotations

import math

import numpy as np

from ..floatarray import FloatArray
from ..floatformat import FloatFormat
from ..ops import cast
from ..source_spec import make_source

__all__ = ["FloatGD", "ulp_away", "R_BITS"]

R_BITS = 16          #: random bits per SR draw (as the fixed-point study)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def ulp_away(w, fmt, word: int) -> np.ndarray:
    """A copy of ``w`` (values of ``fmt``) with word ``word`` moved one ulp away from zero
    (its magnitude code + 1; a zero becomes the smallest subnormal).

    >>> ulp_away(np.array([1.0, -2.0]), FloatFormat.parse("bf16"), 1).tolist()
    [1.0, -2.015625]
    """
    fmt = FloatFormat.parse(fmt) if isinstance(fmt, str) else fmt
    a = cast(np.asarray(w, dtype=np.float64), fmt, "nearest_even", "saturate")
    raw = a.raw.copy()
    raw[word] += raw.dtype.type(1)
    return FloatArray(raw, fmt).to_float()


class FloatGD:
    """GD (``batch_size=None``) or minibatch SGD on ``model`` (an ``fxsim.models.MLP``) in the
    float format ``fmt`` (see module doc).

    ``rounding``: a rounding of ``fxsim.cast`` (``"nearest_even"``, ``"stochastic"``...);
    ``source``: any ``make_source`` spec or object for the stochastic roundings, seeded by
    ``sr_seed`` (every cast of the run draws from this one stream, in order); ``seed``: the
    minibatch order (the same batches as ``fxsim.optim.GD`` with this seed); ``x0``: the start (float64 values,
    rounded to nearest-even into ``fmt``), default ``model.x0()``.

    >>> from fxsim.models import MLP
    >>> gd = FloatGD(MLP(sizes=(64, 4, 10)), "e4m3", "stochastic", lr=0.5, source="lfsr16")
    >>> gd.step(); gd.codes.dtype, gd.fmt.name
    (dtype('uint8'), 'e4m3')
    """

    def __init__(self, model, fmt, rounding="nearest_even", lr=0.1, wd=0.0, batch_size=None,
                 seed=0, source=None, sr_seed=0, x0=None, r=R_BITS):
        self.fmt = FloatFormat.parse(fmt) if isinstance(fmt, str) else fmt
        if not isinstance(self.fmt, FloatFormat):
            raise ValueError(f"fmt: must be a FloatFormat or its name, got {fmt!r}")
        if not (isinstance(lr, (int, float)) and 0 < lr <= 16 and math.isfinite(lr)):
            raise ValueError(f"lr: must be a number in (0, 16], got {lr!r}")
        if not (isinstance(wd, (int, float)) and 0 <= wd < 1 and math.isfinite(wd)):
            raise ValueError(f"wd: must be a number in [0, 1), got {wd!r}")
        if batch_size is not None and not 1 <= batch_size <= model.n_samples:
            raise ValueError(f"batch_size: must be None or an integer in 1..{model.n_samples}, "
                             f"got {batch_size!r}")
        stochastic = "stochastic" in rounding
        if stochastic and source is None:
            raise ValueError("source: a stochastic rounding needs a bit source")
        self.model, self.lr, self.wd, self.batch_size = model, float(lr), float(wd), batch_size
        self.source = make_source(source, sr_seed) if stochastic else None
        self._kw = {"rounding": rounding, "overflow": "saturate"}
        if stochastic:
            self._kw.update(r=r, source=self.source)
        # the minibatch stream of fxsim.optim.GD with the same seed: the same batches
        self._rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
        x0 = model.x0() if x0 is None else x0
        self.w = cast(np.asarray(x0, dtype=np.float64), self.fmt, "nearest_even",
                      "saturate").to_float()

    def c(self, x):
        """One rounding into the format with the run's rounding (float64 in, float64 out)."""
        return cast(np.ascontiguousarray(x, dtype=np.float64), self.fmt, **self._kw).to_float()

    @property
    def codes(self) -> np.ndarray:
        return cast(self.w, self.fmt, "nearest_even", "saturate").raw

    def grad(self, idx=None) -> np.ndarray:
        """The rounded gradient at the current weights on the samples ``idx`` (all if None)."""
        m, c = self.model, self.c
        X = m.X if idx is None else m.X[idx]
        Y = m.Y if idx is None else m.Y[idx]
        inv_b = 1.0 / X.shape[0]
        L = m.layers(self.w)
        Hs, Zs = [X], []
        for l, (W, b) in enumerate(L):
            Zs.append(c(Hs[-1] @ W.T + b))
            if l < len(L) - 1:
                Hs.append(np.maximum(Zs[-1], 0.0))
        D = c(c(_softmax(Zs[-1])) - Y)
        out = [None] * len(L)
        for l in range(len(L) - 1, -1, -1):
            out[l] = (c((D.T @ Hs[l]) * inv_b), c(D.sum(axis=0) * inv_b))
            if l > 0:
                D = c(D @ L[l][0]) * (Zs[l - 1] > 0)
        return np.concatenate([np.concatenate([dW.ravel(), db]) for dW, db in out])

    def step(self):
        idx = None
        if self.batch_size is not None:
            idx = self._rng.choice(self.model.n_samples, self.batch_size, replace=False)
        g = self.grad(idx)
        if self.wd > 0:
            g = self.c(g + self.wd * self.w)
        self.w = self.c(self.w - self.lr * g)
