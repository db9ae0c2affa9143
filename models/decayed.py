"""Weight decay and a 1/k rescaling of the gradient on the datapath, around any model (the
amplification study's model, ``fxsim.studies.amplification``)."""
from __future__ import annotations

import math

import numpy as np

from fxsim import QFormat, add, cast, mul

__all__ = ["CONST_FMT", "DecayedModel"]

CONST_FMT = QFormat(18, 16)          #: the constants wd and 1/k


class DecayedModel:
    """``model`` with weight decay and the 1/k rescaling of the gradient on the datapath.

    Float64 side: ``loss(x)`` = f(x) + wd/2·‖x‖², ``grad(x)`` = ∇f(x) + wd·x (wd = the
    quantized ``wd_q``).  Datapath side: ``fx_grad(xq, accel)`` =
    cast_grad(cast_grad(g + wd_q·x) · (1/k)_q), g = ``model.fx_grad(xq, accel)``; both casts
    use the accelerator's ``grad`` role (its rounding and bit stream) and are always made.

    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from fxsim.models import Quadratic
    >>> m = DecayedModel(Quadratic(d=2, cond=1), wd=0.5, k=3)
    >>> m.wd, int(m.inv_k.raw), m.dim
    (0.5, 21845, 2)
    >>> x = np.array([1.0, -2.0])
    >>> bool(np.allclose(m.grad(x), Quadratic(d=2, cond=1).grad(x) + 0.5 * x))
    True
    """

    def __init__(self, model, wd=0.0, k=1):
        if not (isinstance(wd, (int, float)) and 0 <= wd < 1 and math.isfinite(wd)):
            raise ValueError(f"wd: must be a number in [0, 1), got {wd!r}")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 255:
            raise ValueError(f"k: must be an integer in 1..255, got {k!r}")
        self.model, self.k = model, k
        self.wd_q = cast(float(wd), CONST_FMT, "nearest_even", "saturate")
        self.wd = float(self.wd_q.to_float())
        self.inv_k = cast(1.0 / k, CONST_FMT, "nearest_even", "saturate")
        self.dim = model.dim
        self.f_star = None

    def loss(self, x):
        x = np.asarray(x, dtype=np.float64)
        return float(self.model.loss(x)) + 0.5 * self.wd * float(x @ x)

    def grad(self, x):
        x = np.asarray(x, dtype=np.float64)
        return np.asarray(self.model.grad(x), dtype=np.float64) + self.wd * x

    def fx_grad(self, xq, accel):
        g = self.model.fx_grad(xq, accel)
        kw = accel.cast_kwargs("grad")
        g = cast(add(g, mul(self.wd_q, xq)), accel.grads, **kw)
        return cast(mul(g, self.inv_k), accel.grads, **kw)
