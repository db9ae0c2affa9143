"""HALP, SVRG with bit centering (De Sa et al. 2018, "High-Accuracy Low-Precision Training",
Algorithm 2), with the b-bit offset z on fxsim's datapath.

Per epoch (T inner steps):

    g̃ = ∇f(w̃)                                  full gradient, full precision (float64)
    s = ‖g̃‖ / (μ (2^(b−1) − 1))                  the grid step: z's range 127·s (b = 8) is
                                                 ‖g̃‖/μ ≥ ‖w̃ − w*‖ for a μ-strongly convex f
    z ← 0                                         re-centre
    T times:  z ← Q_s(z − α (∇f_I(w̃ + z) − ∇f_I(w̃) + g̃))
    w̃ ← w̃ + z                                  fold (full precision)

Q_s rounds onto the b-bit grid {s·k : k ∈ [−2^(b−1), 2^(b−1) − 1]} with stochastic rounding
(r random bits per weight from any fxsim source) and saturation; ``ScaledGrid`` is that
quantizer.  Two ways to hold the scale (``scale=``):

``"pow2"``   s rounded *up* to a power of two, 2^−fl, so z is a plain ``QFormat(b, fl)`` word
             and re-centring only moves the binary point: what shift-based fixed-point
             hardware does.  Rounding up keeps the range ≥ ‖g̃‖/μ; the step is up to 2× coarser.
``"exact"``  z = s·k with k a ``QFormat(b, 0)`` integer and s any real: what hardware with a
             per-tensor scale multiplier does.  The multiplier is modelled in float64: the
             quantizer casts the float64 quotient x/s (one correctly rounded division).

Full precision (float64, as in the paper): w̃, g̃, s, the gradients ∇f_I (evaluated at the
float64 sum w̃ + z) and the update value z − α·v; only Q_s rounds.

``inner="datapath"`` (the paper's low-precision-arithmetic variant, for problems with
``fx_grad_diff(zq, idx, b)``, here least squares): the inner gradient difference
∇f_I(w̃ + z) − ∇f_I(w̃) = (1/B) Σ x_i x_iᵀ z is computed from the b-bit words of z and of the
data (quantized once) by exact integer MACs, so the inner loop touches b-bit words only; g̃
stays full precision, so the outer loop still converges to w* (the quantized data only
perturb the Hessian the inner loop sees).  ``mu`` is the paper's μ,
by default the problem's strong-convexity constant (a larger μ gives a finer grid and may
saturate z).  If g̃ = 0 exactly, w̃ is the optimum and the epoch leaves it unchanged.
"""
from __future__ import annotations

import math

import numpy as np

from ..counters import Counters
from ..fixed import FixedArray
from ..ops import cast
from ..qformat import QFormat
from .. import validate as V
from .svrg import FiniteSumMethod

SCALES = ("pow2", "exact")
INNER = ("float64", "datapath")


class ScaledGrid:
    """The b-bit grid {s·k : k ∈ [−2^(b−1), 2^(b−1) − 1]} and its quantizer Q_s.

    ``ScaledGrid(b, s, scale="exact")``: ``scale="pow2"`` replaces s by the next power of two
    ≥ s (``self.s``) and ``self.fmt`` is ``QFormat(b, fl)``, s = 2^−fl; ``"exact"`` keeps s and
    ``self.fmt`` is ``QFormat(b, 0)`` (k itself).  ``quantize(x, rounding="stochastic",
    overflow="saturate", **sr)`` returns the words k as a ``FixedArray`` (exact: the cast of the
    float64 x/s into Q(b, 0); pow2: the cast of x into Q(b, fl), same k); ``value(q)`` is s·k
    in float64.  ``sr``: ``r`` and ``source`` or ``draws``, as ``fxsim.cast``.

    >>> g = ScaledGrid(8, 0.3, "pow2")
    >>> g.s, str(g.fmt)
    (0.5, 'Q(8,1)')
    >>> g = ScaledGrid(8, 0.3)
    >>> q = g.quantize([0.9, 100.0, -100.0], "nearest_even")
    >>> q.raw.tolist(), g.value(q).round(6).tolist()
    ([3, 127, -128], [0.9, 38.1, -38.4])
    """

    def __init__(self, b: int, s: float, scale: str = "exact"):
        V.bits("b", b)
        s = V.positive("s", s)
        V.one_of("scale", scale, SCALES)
        self.b, self.scale = int(b), scale
        if scale == "pow2":
            m, e = math.frexp(s)                    # s = m·2^e, m in [0.5, 1)
            fl = -(e - 1) if m == 0.5 else -e       # smallest 2^-fl >= s
            if not -256 <= fl <= 256:
                raise ValueError(f"s: with scale='pow2' must lie in [2^-256, 2^256], got {s!r}")
            self.fmt = QFormat(self.b, fl)
            self.s = math.ldexp(1.0, -fl)
        else:
            self.fmt = QFormat(self.b, 0)
            self.s = s

    @classmethod
    def for_gradient(cls, g_norm: float, mu: float, b: int, scale: str = "exact"):
        """HALP's grid for a full gradient of norm ``g_norm``: s = g_norm / (μ(2^(b−1) − 1)).

        >>> ScaledGrid.for_gradient(127.0, 1.0, 8).s
        1.0
        """
        V.bits("b", b)
        mu = V.positive("mu", mu)
        return cls(b, V.positive("g_norm", g_norm) / (mu * (2 ** (b - 1) - 1)), scale)

    def __repr__(self):
        return f"ScaledGrid(b={self.b}, s={self.s!r}, scale={self.scale!r})"

    def quantize(self, x, rounding: str = "stochastic", overflow: str = "saturate", **sr):
        x = np.asarray(x, dtype=np.float64)
        if self.scale == "exact":
            x = x / self.s
        return cast(x, self.fmt, rounding, overflow, **sr)

    def value(self, q: FixedArray) -> np.ndarray:
        if self.scale == "pow2":
            return q.to_float()
        return self.s * q.raw.astype(np.float64)

    def zero(self, n: int) -> FixedArray:
        """n zero words."""
        return FixedArray(np.zeros(n, dtype=self.fmt.dtype), self.fmt)


class HALP(FiniteSumMethod):
    """HALP (module doc): full-precision w̃, b-bit offset z re-centred every T steps.

    ``HALP(problem, alpha, b, mu=None, *, scale="pow2", inner="float64", source="ideal", r=32,
    cast_mode=None, accel=None, T=None, batch=1, seed=0, x0=None, record_indices=False)``;
    ``mu`` default ``problem.mu``; ``inner``: ``"float64"`` or ``"datapath"`` (module doc).
    Q_s is ``cast_mode`` (default: stochastic rounding with ``r`` bits, saturate) drawing from
    ``source``, or the ``update`` role of the ``Accelerator`` ``accel`` (as ``LPSGD``).
    ``Trace.scale`` holds each epoch's s, ``Trace.overflowed`` the saturated casts of z.

    >>> from fxsim.models.finite_sum import LinearRegression
    >>> tr = HALP(LinearRegression(), alpha=0.02, b=8, seed=1).run(12)
    >>> bool(tr.err[-1] < 1e-7), int(tr.overflowed.sum())
    (True, 0)
    """
    name = "HALP"

    def __init__(self, problem, alpha, b, mu=None, *, scale="pow2", inner="float64",
                 source="ideal", r=32, cast_mode=None, accel=None, **kw):
        V.bits("b", b)
        V.one_of("inner", inner, INNER)
        if inner == "datapath" and not hasattr(problem, "fx_grad_diff"):
            raise ValueError("inner: 'datapath' needs a problem with fx_grad_diff(zq, idx, b) "
                             f"(e.g. LinearRegression); {type(problem).__name__} has none")
        self.inner = inner
        mu = problem.mu if mu is None else mu
        self.mu = V.positive("mu", mu)
        V.one_of("scale", scale, SCALES)
        super().__init__(problem, alpha, **kw)
        self.b, self.scale = int(b), scale
        self.r = V.integer("r", r, 1, 64)
        self._init_cast(cast_mode, accel, source, self.r)
        self.wt = self.w0.copy()
        self._record(self.wt)

    def epoch(self):
        p, a = self.problem, self.alpha
        wt = self.wt
        idxs = self._epoch_indices()
        g = p.grad(wt)
        gn = float(np.linalg.norm(g))
        if gn == 0.0:
            self._record(wt, 0, 0.0)
            return
        grid = ScaledGrid.for_gradient(gn, self.mu, self.b, self.scale)
        z = np.zeros_like(wt)
        zq = grid.zero(wt.size)
        unit = grid.s if grid.scale == "exact" else 1.0      # exact: zq holds k, z = s·k
        with Counters() as c:
            for idx in idxs:
                if self.inner == "datapath":
                    d = unit * p.fx_grad_diff(zq, idx, self.b)
                else:
                    d = p.grad(wt + z, idx) - p.grad(wt, idx)
                zq = grid.quantize(z - a * (d + g), **self.cast_kwargs)
                z = grid.value(zq)
        self.wt = wt + z
        self._record(self.wt, c.overflowed, grid.s)

    def _w_float(self):
        return self.wt
