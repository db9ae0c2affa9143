"""Gradient descent and minibatch SGD on an emulated accelerator.

Two modes:

``mode="exact"`` (the paper's setting, Xia–Massei–Hochstenbach):
    g = cast_grad(∇f(x))                       exact float64 gradient, cast to ``grads``
    s = cast_step(t_q · g)                     t_q: t as a fixed-point constant; the product
                                               t_q·g is exact, then cast to ``prod``
                                               (``prod=None``: kept exact = fused update)
    x ← cast_update(x − s)                     exact subtraction, cast to ``weights``;
                                               ``signed_stochastic_eps`` uses v = ∇f(x)
``mode="emulated"``:
    g = model.fx_grad(x, accel)                the model's fixed-point forward/backward pass
                                               (cast to ``grads`` if it is not already there);
    the step and update are the same; v = g.

Minibatch SGD: ``batch_size=B`` draws B distinct sample indices per iteration (numpy Generator
seeded from ``seed``) and calls ``model.grad(x, idx)`` / ``model.fx_grad(x, accel, idx)``; the
model needs an ``n_samples`` attribute. The history always records the full loss and the full
exact gradient norm.

Per iteration the history records (numpy arrays): ``loss`` (f(x_k), exact float64, k = 0..n),
``gnorm`` (‖∇f(x_k)‖₂), ``moved`` (components of x that changed in iteration k), ``inexact``
(old name ``rounded``) and ``overflowed`` (casts that were inexact / overflowed during iteration k, from
``fxsim.Counters``: the three optimizer casts plus every cast inside ``fx_grad``).
Runs are deterministic given the seed: the optimizer runs on ``accel.fresh()``, a copy whose
per-role streams start again from the accelerator's seed (the caller's accelerator and its
streams are not touched), and x0/minibatches come from ``seed``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import validate as V
from ..accelerator import Accelerator
from ..counters import Counters
from ..fixed import FixedArray
from ..modes import CastMode
from ..ops import Caster, cast, mul, sub
from ..qformat import QFormat
from ..results import StepResult, either_name

MODES = ("exact", "emulated")


@dataclass(init=False)
class History(StepResult):
    """Per-iteration record; ``loss``/``gnorm`` have one more entry than the per-step arrays
    ``moved``, ``inexact`` and ``overflowed`` (``rounded`` is the old name of ``inexact``).
    ``len(h)`` is the number of records (start included), ``to_rows()`` one dict each.

    >>> import numpy as np
    >>> h = History(loss=np.array([4.0, 1.0, 0.5, 0.5]), gnorm=np.zeros(4),
    ...             moved=np.array([3, 1, 0]), inexact=np.zeros(3), overflowed=np.zeros(3))
    >>> h.n_iters, h.iters_to_tol(0.6), h.stagnation_iter(), len(h), h.to_rows()[1]["moved"]
    (3, 2, 2, 4, 3)
    """
    loss: np.ndarray
    gnorm: np.ndarray
    moved: np.ndarray
    inexact: np.ndarray
    overflowed: np.ndarray
    f_star: float = 0.0
    stopped_by_tol: bool = False
    step_fields = ("loss", "gnorm", "moved", "inexact", "overflowed")

    def __init__(self, loss, gnorm, moved, inexact=None, overflowed=None, f_star=0.0,
                 stopped_by_tol=False, *, rounded=None):
        inexact = either_name(inexact, rounded, "inexact", "rounded")
        if inexact is None or overflowed is None:
            raise ValueError("History needs the per-step counters inexact and overflowed")
        self.loss, self.gnorm, self.moved = loss, gnorm, moved
        self.inexact, self.overflowed = inexact, overflowed
        self.f_star, self.stopped_by_tol = f_star, stopped_by_tol

    @property
    def rounded(self) -> np.ndarray:
        """Old name of ``inexact``."""
        return self.inexact

    @property
    def n_iters(self) -> int:
        return len(self.moved)

    @property
    def excess(self) -> np.ndarray:
        """f(x_k) − f*."""
        return self.loss - self.f_star

    def iters_to_tol(self, tol: float):
        """First k with f(x_k) − f* ≤ tol, or None if never reached."""
        hit = np.flatnonzero(self.excess <= tol)
        return int(hit[0]) if hit.size else None

    def stagnation_iter(self):
        """First iteration from which no component ever moved again (None if the last
        iteration still moved; 0 if nothing ever moved)."""
        mv = np.flatnonzero(self.moved)
        if mv.size == 0:
            return 0
        last = int(mv[-1]) + 1
        return last if last < self.n_iters else None


class GD:
    """Gradient descent / minibatch SGD with step size ``t`` on ``accel`` (see module doc).

    ``GD(model, accel, t, mode="exact", *, t_fmt=None, batch_size=None, seed=0, x0=None)``

    - ``t``: positive step size (``alpha=`` is the same, the name the other algorithms use), quantized once to ``t_fmt`` (default: 16 fraction bits and
      enough integer bits) with round-to-nearest-even; ``t_q`` holds the constant used.
    - ``x0``: starting point (floats or a FixedArray), else ``model.x0(rng)``; cast to
      ``accel.weights`` with round-to-nearest-even/saturate.

    >>> from fxsim.accelerator import Accelerator
    >>> from fxsim.models import Quadratic
    >>> acc = Accelerator(weights="Q(16,8)", grads="Q(16,8)", acc="Q(32,16)")
    >>> gd = GD(Quadratic(d=4, cond=2), acc, t=0.1)
    >>> h = gd.run(100)
    >>> h.n_iters, bool(h.loss[0] > h.loss[-1]), h.stagnation_iter() is not None  # RN stalls
    (100, True, True)
    """

    def __init__(self, model, accel: Accelerator, t=None, mode="exact", *, t_fmt=None,
                 batch_size=None, seed=0, x0=None, alpha=None):
        if not isinstance(accel, Accelerator):
            raise ValueError(f"accel: expected an Accelerator, got {type(accel).__name__}")
        V.one_of("mode", mode, MODES)
        if alpha is not None:
            if t is not None:
                raise ValueError("alpha: give the step size once (t or alpha), not both")
            t = V.positive("alpha", alpha)
        if isinstance(t, bool) or not (isinstance(t, (int, float)) and t > 0 and math.isfinite(t)):
            raise ValueError(f"t: must be a positive finite number, got {t!r}")
        V.seed("seed", seed)
        if mode == "emulated" and not hasattr(model, "fx_grad"):
            raise ValueError("mode='emulated' needs a model with fx_grad(xq, accel)")
        if batch_size is not None:
            n = getattr(model, "n_samples", None)
            if n is None:
                raise ValueError("batch_size: minibatch SGD needs a model with n_samples")
            V.integer("batch_size", batch_size, 1, n)
        accel = accel.fresh()
        self.model, self.accel, self.mode = model, accel, mode
        self.batch_size = batch_size
        if t_fmt is None:
            ib = max(2, math.ceil(math.log2(t)) + 2)
            t_fmt = QFormat(16 + ib, 16)
        elif isinstance(t_fmt, str):
            t_fmt = QFormat.parse(t_fmt)
        self.t_q = cast(float(t), t_fmt, "nearest_even", "saturate")
        if self.t_q.raw == 0:
            raise ValueError(f"t: {t} rounds to 0 in {t_fmt}; use a finer t_fmt")
        self.t = float(self.t_q.to_float())
        self.alpha = self.t
        self.seed = seed
        ss = np.random.SeedSequence(seed)
        x_ss, b_ss = ss.spawn(2)
        self._batch_rng = np.random.default_rng(b_ss)
        if x0 is None:
            x0 = model.x0(np.random.default_rng(x_ss))
        self.x = cast(x0, accel.weights, "nearest_even", "saturate")
        self.dim = self.x.size
        self.f_star = float(getattr(model, "f_star", 0.0) or 0.0)
        self._kw = {role: accel.cast_kwargs(role) for role in ("grad", "step", "update")}
        self._signed_update = self._kw["update"]["rounding"] == "signed_stochastic_eps"
        # the three casts of an iteration, prepared once (the same words, draws and counters
        # as cast(..., **self._kw[role])); t_q spread to x's shape (the same products)
        self._casters = {role: Caster(fmt, CastMode(**{k: v for k, v in kw.items() if k != "source"}),
                                      source=kw.get("source"))
                         for role, fmt in (("grad", accel.grads), ("step", accel.prod),
                                           ("update", accel.weights)) if fmt is not None
                         for kw in (self._kw[role],)}
        self._t_full = FixedArray(np.full(self.x.shape, self.t_q.raw), self.t_q.fmt)
        xf = self.x.to_float()
        self._g_full = np.asarray(model.grad(xf), dtype=np.float64)
        self._loss = [float(model.loss(xf))]
        self._gnorm = [float(np.linalg.norm(self._g_full))]
        self._moved, self._inexact, self._overflowed = [], [], []
        self.stopped_by_tol = False

    # ------------------------------------------------------------------ one iteration
    def _gradient(self):
        idx = None
        if self.batch_size is not None:
            idx = self._batch_rng.choice(self.model.n_samples, self.batch_size, replace=False)
        if self.mode == "exact":
            v = self._g_full if idx is None else \
                np.asarray(self.model.grad(self.x.to_float(), idx), np.float64)
            return self._casters["grad"](v), v
        with self.accel.as_role("grad"):
            g = (self.model.fx_grad(self.x, self.accel) if idx is None
                 else self.model.fx_grad(self.x, self.accel, idx))
        if not isinstance(g, FixedArray) or g.fmt != self.accel.grads:
            g = cast(g, self.accel.grads, **self._kw["grad"])
        return g, g.to_float()

    def step(self, record: bool = True):
        """One iteration; returns the number of components that moved.  ``record=False`` skips
        the float64 loss and gradient norm of the history (NaN is recorded instead): in the
        emulated mode the iteration then does only the accelerator's work (for timing)."""
        a = self.accel
        with Counters() as c:
            g, v = self._gradient()
            s = mul(self._t_full if g.shape == self._t_full.shape else self.t_q, g)   # exact
            if a.prod is not None:
                s = self._casters["step"](s)
            x_new = self._casters["update"](sub(self.x, s),        # exact difference, one cast
                                            v=v if self._signed_update else None)
        moved = int(np.count_nonzero(x_new.raw != self.x.raw))
        self.x = x_new
        xf = x_new.to_float()
        if record or self.mode == "exact":
            self._g_full = np.asarray(self.model.grad(xf), dtype=np.float64)
        if record:
            self._loss.append(float(self.model.loss(xf)))
            self._gnorm.append(float(np.linalg.norm(self._g_full)))
        else:
            self._loss.append(float("nan"))
            self._gnorm.append(float("nan"))
        self._moved.append(moved)
        self._inexact.append(c.inexact)
        self._overflowed.append(c.overflowed)
        return moved

    def run(self, n_iters: int, tol=None) -> History:
        """Run up to ``n_iters`` more iterations (stop early once f − f* ≤ tol)."""
        V.integer("n_iters", n_iters, 0)
        for _ in range(n_iters):
            if tol is not None and self._loss[-1] - self.f_star <= tol:
                self.stopped_by_tol = True
                break
            self.step()
        return self.history

    @property
    def history(self) -> History:
        return History(np.array(self._loss), np.array(self._gnorm),
                       np.array(self._moved, dtype=np.int64),
                       np.array(self._inexact, dtype=np.int64),
                       np.array(self._overflowed, dtype=np.int64),
                       f_star=self.f_star, stopped_by_tol=self.stopped_by_tol)


def SGD(model, accel, t, batch_size, mode="exact", **kw) -> GD:
    """Minibatch SGD: ``GD`` with ``batch_size`` samples per iteration.

    >>> from fxsim.accelerator import Accelerator
    >>> from fxsim.models import make_least_squares
    >>> acc = Accelerator("Q(16,8)", "Q(16,8)", casts={"update": "stochastic"}, source="pcg64")
    >>> h = SGD(make_least_squares(m=40, d=4), acc, t=0.05, batch_size=8).run(50)
    >>> h.loss.shape, bool(h.loss[-1] < h.loss[0])
    ((51,), True)
    """
    return GD(model, accel, t, mode, batch_size=batch_size, **kw)


# ---------------------------------------------------------------------- stagnation bounds
def stagnation_level(t, lsb, eigvals, e0=None, lsb_grad=None):
    """Bounds on the loss f − f* at which round-to-nearest GD stops moving on a quadratic.

    Setting: f(x) = ½ (x − c)ᵀ A (x − c), A = diag(λ) (``eigvals``), t·λ_i < 1; mode "exact"
    with round-to-nearest casts, weights on the grid ``lsb`` = u, gradients on the grid
    ``lsb_grad`` = u_g (default u), the step either cast to the weights' grid or kept exact
    (fused: only the write-back rounds), no overflow; ``t`` is the quantized constant t_q.

    Derivation (per component, e = x_i − c_i, g = rn(λe) so |g − λe| ≤ u_g/2):
      * x_i moves only if the rounded step is non-zero, which needs |t·g| ≥ u/2, i.e.
        |λe| ≥ u/(2t) − u_g/2; it stays put if |t·g| < u/2, guaranteed by
        |λe| < u/(2t) − u_g/2 ... and conversely a fixed point has |t·g| ≤ u/2, so
        |λe| ≤ u/(2t) + u_g/2 and ½λe² ≤ (u/(2t) + u_g/2)² / (2λ)          (upper bound).
      * one move is e' = e − s with s = tλe + δ, |δ| ≤ u/2 + t·u_g/2 (step rounding plus the
        gradient rounding scaled by t), so |e'| ≥ (1 − tλ)|e| − (u + t·u_g)/2.
      * the last move starts from |λe| ≥ u/(2t) − u_g/2, hence the fixed point it lands on has
            |e*| ≥ m := (1 − tλ)(u/(2tλ) − u_g/(2λ)) − (u + t·u_g)/2,
        and ½λe*² ≥ ½λ·max(m, 0)²                                         (lower bound).
      The lower bound needs the component to move at all: we count it only when
      |λ e0_i| > u/(2t) + u_g/2 (then the first rounded step is certainly non-zero). ``e0``
      None assumes every component starts that far.
    A diagonal A makes the components independent, so the loss bounds are the sums.
    For a rotated A, a fixed point still has ‖∇f‖_∞ ≤ u/(2t) + u_g/2, and the PL inequality
    f − f* ≤ ‖∇f‖₂²/(2λ_min) gives the general upper bound d·(u/(2t) + u_g/2)²/(2λ_min)
    (returned as ``upper_any``).

    Returns a dict: ``lower``, ``upper`` (diagonal A), ``upper_any`` (any A with these
    eigenvalues), ``threshold`` = u/(2t) (the gradient magnitude below which RN stalls).

    >>> b = stagnation_level(t=0.25, lsb=2**-8, eigvals=[1.0, 2.0])
    >>> b["threshold"], round(b["upper"], 8)     # (u/2t + u/2)^2 (1/2 + 1/4)
    (0.0078125, 7.153e-05)
    """
    lam = np.asarray(eigvals, dtype=np.float64)
    u = float(lsb)
    ug = u if lsb_grad is None else float(lsb_grad)
    t = float(t)
    if np.any(t * lam >= 1) or np.any(lam <= 0):
        raise ValueError("stagnation_level: needs 0 < t·λ_i < 1 for every eigenvalue")
    m = (1 - t * lam) * (u / (2 * t * lam) - ug / (2 * lam)) - (u + t * ug) / 2
    lb = 0.5 * lam * np.maximum(m, 0.0) ** 2
    if e0 is not None:
        moves = np.abs(lam * np.asarray(e0, dtype=np.float64)) > u / (2 * t) + ug / 2
        lb = np.where(moves, lb, 0.0)
    gmax = u / (2 * t) + ug / 2
    ub = gmax ** 2 / (2 * lam)
    return {"lower": float(lb.sum()), "upper": float(ub.sum()),
            "upper_any": float(lam.size * gmax ** 2 / (2 * lam.min())),
            "threshold": u / (2 * t)}
