"""Low-precision SGD, full-precision SVRG and low-precision SVRG (De Sa, Leszczynski, Zhang,
Marzoev, Aberger, Olukotun, Ré, "High-Accuracy Low-Precision Training", 2018, Algorithm 1),
with the b-bit iterate on fxsim's datapath.  HALP is in ``fxsim.optim.halp``.

The problem is a finite sum f(w) = (1/n) Σ_i f_i(w) with the protocol of
``fxsim.models.finite_sum`` (``grad(w, idx)``, ``loss``, ``x_star``, ``n_samples``, ...; the protocol ``FiniteSum`` of
``fxsim.models.protocols``; a problem that has only the older ``w_star`` works too).

Low-precision datapath (LP-SGD, LP-SVRG): the iterate w is a b-bit word per weight,
``QFormat(b, fl)`` with fl chosen so the range covers ``problem.w_range`` (``weight_format``);
every update is one cast of the full-precision value onto that grid with stochastic rounding
and saturation, drawing r random bits per weight from an fxsim source (LFSR or Ideal):

    LP-SGD:   w ← Q(w − α ∇f_I(w))
    LP-SVRG:  every epoch g̃ = ∇f(w̃) (full gradient at the stored w̃ = w);
              T inner steps  w ← Q(w − α (∇f_I(w) − ∇f_I(w̃) + g̃))

Full precision (float64, the paper's "full-precision arithmetic"): the gradients ∇f_I, g̃ and
the update value w − α·v; only the write-back Q rounds.  I is a minibatch of ``batch``
indices drawn uniformly with replacement (``batch=1``: the paper's single sample).
SVRG is the same loop as LP-SVRG without Q, all in float64.

Epoch = T inner steps (default T = n/batch, one pass); LP-SGD's epoch is T steps as well.
The same ``seed`` gives every method the same minibatch indices (a numpy Generator spawned
from ``seed``) and the same start ``x0`` (the old keyword ``w0`` is deprecated); the SR source is spawned from ``seed`` too, so a run is
deterministic given the seed.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..counters import Counters
from ..modes import CastMode
from ..ops import cast
from ..qformat import QFormat
from ..results import StepResult, either_name
from .. import validate as V
from ..source_spec import make_source as _make_source

SOURCES = ("ideal", "lfsr")


def weight_format(b: int, bound: float) -> QFormat:
    """The b-bit signed format with the most fraction bits whose range covers [−bound, bound].

    >>> weight_format(8, 4.0)
    QFormat(wl=8, fl=4, signed=True)
    >>> weight_format(16, 1.0).lsb == 2.0 ** -14
    True
    """
    V.bits("b", b)
    V.positive("bound", bound)
    fl = b - 1 - math.ceil(math.log2(bound))
    while (2 ** (b - 1) - 1) * 2.0 ** -fl < bound:
        fl -= 1
    return QFormat(b, fl)


def check_bits(b):
    """``ValueError`` unless b is an integer word length in 2..64.

    >>> check_bits(8)
    >>> check_bits(1)
    Traceback (most recent call last):
    ValueError: b: word length must be an integer in 2..64, got 1
    """
    V.bits("b", b)


def sr_source(source, seed_seq: np.random.SeedSequence):
    """The stochastic-rounding source of a run: ``"ideal"`` (PCG64 seeded with one uint64 word
    of ``seed_seq``), ``"lfsr"`` (a 32-bit Galois LFSR, serial draws, state 1 + w mod (2^32 − 1)
    with w one uint32 word of ``seed_seq``), any other ``fxsim.make_source`` spec (seeded with
    ``seed_seq``), or a source object used as given.

    >>> src = sr_source("lfsr", np.random.SeedSequence(1))
    >>> type(src).__name__, src.n
    ('LFSR', 32)
    >>> sr_source("lfsr:8", np.random.SeedSequence(1)).n
    8
    """
    if isinstance(source, str):
        if source == "ideal":
            return _make_source("pcg64", int(seed_seq.generate_state(1, np.uint64)[0]))
        if source == "lfsr":
            # the canonical rule maps an int seed s to state 1 + (s − 1) mod (2^32 − 1)
            return _make_source("lfsr32", int(seed_seq.generate_state(1, np.uint32)[0]) + 1)
        try:
            return _make_source(source, seed_seq)
        except ValueError as e:
            raise ValueError(f"source: must be one of {', '.join(SOURCES)}, a make_source spec "
                             f"or an fxsim source, got {source!r} ({e})") from None
    if not hasattr(source, "draws"):
        raise ValueError(f"source: must be one of {', '.join(SOURCES)} or an fxsim source, "
                         f"got {type(source).__name__}")
    return source


def make_source(source, seed_seq: np.random.SeedSequence):
    """Deprecated: ``sr_source`` (same arguments and seeding); ``fxsim.make_source`` builds a
    source from any spec.

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     make_source("lfsr", np.random.SeedSequence(1)).n
    32
    """
    warnings.warn("fxsim.optim.svrg.make_source is deprecated; use sr_source (or "
                  "fxsim.make_source)", DeprecationWarning, stacklevel=2)
    return sr_source(source, seed_seq)


@dataclass(init=False)
class Trace(StepResult):
    """One run, per epoch k = 0..K (k = 0 is the start): ``err`` = ‖w_k − w*‖₂, ``gap`` =
    f(w_k) − f*, ``overflowed`` (casts that overflowed -- saturated -- during epoch k, k ≥ 1;
    ``saturated`` is its old name), ``scale`` (HALP: the grid step s of epoch k; NaN elsewhere),
    ``lsb`` (the fixed weight grid's step, NaN for full precision and HALP), ``indices`` (the
    minibatch indices of every epoch, (T, batch) arrays, when the run was asked to record
    them), ``w`` the final iterate.  ``len(tr)`` = K + 1, ``to_rows()`` one dict per epoch.

    >>> from fxsim.models.finite_sum import LinearRegression
    >>> tr = SVRG(LinearRegression(), alpha=0.02, seed=0, record_indices=True).run(2)
    >>> tr.method, tr.err.shape, tr.indices[0].shape, bool(tr.err[2] < tr.err[0]), len(tr)
    ('SVRG', (3,), (100, 1), True, 3)
    """
    method: str
    err: np.ndarray
    gap: np.ndarray
    overflowed: np.ndarray
    scale: np.ndarray
    lsb: float = float("nan")
    indices: list = field(default_factory=list)
    w: np.ndarray | None = None
    step_fields = ("err", "gap", "overflowed", "scale")

    def __init__(self, method, err, gap, overflowed=None, scale=None, lsb=float("nan"),
                 indices=None, w=None, *, saturated=None):
        overflowed = either_name(overflowed, saturated, "overflowed", "saturated")
        if overflowed is None or scale is None:
            raise ValueError("Trace needs the per-epoch arrays overflowed and scale")
        self.method, self.err, self.gap, self.overflowed, self.scale = (method, err, gap,
                                                                        overflowed, scale)
        self.lsb, self.indices, self.w = lsb, [] if indices is None else indices, w

    @property
    def saturated(self) -> np.ndarray:
        """Old name of ``overflowed``."""
        return self.overflowed


class FiniteSumMethod:
    """Shared set-up of the finite-sum methods: problem, step ``alpha``, T, batch, seed
    streams, start point, history, and the write-back cast (``cast_kwargs``).

    >>> from fxsim.models.finite_sum import LinearRegression
    >>> m = FiniteSumMethod(LinearRegression(), alpha=0.02, seed=3)
    >>> m.T, m.batch, m.alpha
    (100, 1, 0.02)
    """
    name = "?"

    def __init__(self, problem, alpha, *, T=None, batch=1, seed=0, x0=None, record_indices=False,
                 w0=None):
        self.problem = problem
        self.alpha = V.positive("alpha", alpha)
        n = int(problem.n_samples)
        self.batch = V.integer("batch", batch, 1, n)
        self.T = max(1, n // self.batch) if T is None else V.integer("T", T, 1)
        self.seed = seed
        ss_idx, self._ss_src = np.random.SeedSequence(seed).spawn(2)
        self._rng = np.random.default_rng(ss_idx)
        if w0 is not None:
            warnings.warn("w0= is deprecated; the start point is x0= in every algorithm",
                          DeprecationWarning, stacklevel=3)
            x0 = either_name(x0, w0, "x0", "w0")
        self.w0 = np.zeros(problem.dim) if x0 is None else np.array(x0, dtype=np.float64)
        if self.w0.shape != (problem.dim,):
            raise ValueError(f"x0: must have shape ({problem.dim},), got {self.w0.shape}")
        self.record_indices = bool(record_indices)
        self._indices = []
        self._err, self._gap, self._sat, self._scale = [], [], [], []

    def _init_cast(self, cast_mode, accel, source, r):
        """The write-back cast: from ``accel``'s ``update`` role (its own streams, spawned
        anew from its seed) or from ``cast_mode`` (default stochastic rounding with ``r`` bits
        and saturation) with ``source`` seeded from this run's seed."""
        if accel is not None:
            if cast_mode is not None:
                raise ValueError("cast_mode: give either cast_mode or accel, not both")
            twin = accel.fresh()
            self.cast_mode = twin.mode("update")
            self.cast_kwargs = twin.cast_kwargs("update")
        else:
            self.cast_mode = CastMode.of("stochastic" if cast_mode is None else cast_mode,
                                         overflow="saturate", r=r)
            self.cast_kwargs = self.cast_mode.cast_kwargs()
            if self.cast_mode.stochastic:
                self.cast_kwargs["source"] = sr_source(source, self._ss_src)
        self.source = self.cast_kwargs.get("source")

    def _epoch_indices(self):
        idx = self._rng.integers(0, self.problem.n_samples, size=(self.T, self.batch))
        if self.record_indices:
            self._indices.append(idx)
        return idx

    def _record(self, w, saturated=0, scale=float("nan")):
        p = self.problem
        x_star = getattr(p, "x_star", None)
        self._err.append(float(np.linalg.norm(w - (p.w_star if x_star is None else x_star))))
        self._gap.append(float(p.loss(w) - p.f_star))
        self._sat.append(int(saturated))
        self._scale.append(float(scale))

    def _w_float(self):
        raise NotImplementedError

    def trace(self) -> Trace:
        return Trace(self.name, np.array(self._err), np.array(self._gap),
                     np.array(self._sat, dtype=np.int64), np.array(self._scale),
                     lsb=getattr(self, "lsb", float("nan")), indices=list(self._indices),
                     w=self._w_float().copy())

    def run(self, epochs: int) -> Trace:
        """Run ``epochs`` more epochs; returns the whole ``Trace`` so far."""
        V.integer("epochs", epochs, 0)
        for _ in range(epochs):
            self.epoch()
        return self.trace()


class _LowPrecision(FiniteSumMethod):
    """The b-bit weight grid and the SR write-back cast."""

    def __init__(self, problem, alpha, b, *, fmt=None, source="ideal", r=32, cast_mode=None,
                 accel=None, **kw):
        V.bits("b", b)
        super().__init__(problem, alpha, **kw)
        self.b = int(b)
        if fmt is None:
            fmt = weight_format(self.b, float(problem.w_range))
        elif isinstance(fmt, str):
            fmt = QFormat.parse(fmt)
        if fmt.wl != self.b or not fmt.signed:
            raise ValueError(f"fmt: must be a signed {self.b}-bit format, got {fmt}")
        self.fmt = fmt
        self.lsb = fmt.lsb
        self.r = V.integer("r", r, 1, 64)
        self._init_cast(cast_mode, accel, source, self.r)
        self.wq = cast(self.w0, fmt, "nearest_even", "saturate")
        self._record(self.wq.to_float())

    def _q(self, x):
        """Q(x): the datapath's write-back onto the weight grid (default SR + saturation)."""
        return cast(x, self.fmt, **self.cast_kwargs)

    def _w_float(self):
        return self.wq.to_float()


class LPSGD(_LowPrecision):
    """Low-precision SGD: w ← Q(w − α ∇f_I(w)), w a b-bit word per weight (module doc).

    ``LPSGD(problem, alpha, b, *, fmt=None, source="ideal", r=32, cast_mode=None, accel=None,
    T=None, batch=1, seed=0, x0=None, record_indices=False)``; ``fmt`` default
    ``weight_format(b, problem.w_range)``.  The write-back cast Q is ``cast_mode`` (a
    ``CastMode`` or what ``CastMode.of`` reads; default stochastic with ``r`` bits, saturate)
    drawing from ``source`` (any ``fxsim.make_source`` spec or a source object), or the
    ``update`` role of an ``Accelerator`` ``accel`` (its rounding, overflow, r and stream).

    >>> from fxsim.models.finite_sum import LinearRegression
    >>> tr = LPSGD(LinearRegression(), alpha=0.02, b=8, seed=1).run(3)
    >>> len(tr.err), tr.lsb, bool(tr.err[-1] < tr.err[0])
    (4, 0.0625, True)
    """
    name = "LP-SGD"

    def epoch(self):
        p, a = self.problem, self.alpha
        w = self.wq.to_float()
        with Counters() as c:
            for idx in self._epoch_indices():
                self.wq = self._q(w - a * p.grad(w, idx))
                w = self.wq.to_float()
        self._record(w, c.overflowed)


class LPSVRG(_LowPrecision):
    """Low-precision SVRG (the paper's Algorithm 1): per epoch g̃ = ∇f(w̃) in full precision
    at the stored b-bit w̃, then T steps w ← Q(w − α(∇f_I(w) − ∇f_I(w̃) + g̃)); w̃ ← w.

    Same arguments as ``LPSGD``.

    >>> from fxsim.models.finite_sum import LinearRegression
    >>> tr = LPSVRG(LinearRegression(), alpha=0.02, b=8, seed=1).run(3)
    >>> len(tr.err), bool(tr.err[-1] < 0.1 * tr.err[0])
    (4, True)
    """
    name = "LP-SVRG"

    def epoch(self):
        p, a = self.problem, self.alpha
        wt = self.wq.to_float()
        g = p.grad(wt)
        w = wt
        with Counters() as c:
            for idx in self._epoch_indices():
                self.wq = self._q(w - a * (p.grad(w, idx) - p.grad(wt, idx) + g))
                w = self.wq.to_float()
        self._record(w, c.overflowed)


class SVRG(FiniteSumMethod):
    """Full-precision SVRG (float64): per epoch g̃ = ∇f(w̃), T steps
    w ← w − α(∇f_I(w) − ∇f_I(w̃) + g̃), then w̃ ← w (the last iterate, as Algorithm 1).

    ``SVRG(problem, alpha, *, T=None, batch=1, seed=0, x0=None, record_indices=False)``.

    >>> from fxsim.models.finite_sum import LinearRegression
    >>> tr = SVRG(LinearRegression(), alpha=0.02, seed=1).run(20)
    >>> bool(tr.err[-1] < 1e-10)
    True
    """
    name = "SVRG"

    def __init__(self, problem, alpha, **kw):
        super().__init__(problem, alpha, **kw)
        self.w = self.w0.copy()
        self._record(self.w)

    def epoch(self):
        p, a = self.problem, self.alpha
        wt = self.w
        g = p.grad(wt)
        w = wt
        for idx in self._epoch_indices():
            w = w - a * (p.grad(w, idx) - p.grad(wt, idx) + g)
        self.w = w
        self._record(w)

    def _w_float(self):
        return self.w
