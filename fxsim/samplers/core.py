"""What SGLD and SGHMC share: parameters, variants, the chain runner and its two paths.

Variants (``variant=``):

``"fp"``   float64 everywhere (the reference sampler, no quantization);
``"lpf"``  full-precision accumulator: the state stays float64, the weights are quantized with
           SR when the gradient is evaluated (Q_W(θ)), the gradient with SR into ``grad_fmt``;
``"lpl"``  low-precision accumulator: the state lives in ``fmt`` and is re-quantized with SR
           after every update (naive LP-L);
``"vc"``   low-precision accumulator with the variance-corrected quantizer (``quantizers``).

Randomness: every quantization goes through ``fxsim.cast`` (stochastic rounding with r-bit draws
from one fxsim bit source: ``"ideal"`` (PCG64), ``"lfsr16"``, ``"lfsr32"`` or any source object);
Gaussian noise comes from a numpy Generator seeded by ``seed`` (``SeedSequence(seed)`` spawns the
noise, initialization and minibatch streams).  Per step, in this order: the normals of the
gradient noise (if ``grad_noise`` > 0) then those of the dynamics; the bit draws of each cast in
the order the algorithm performs them, each cast taking one draw per element in C order of
(chains, dim).

Two paths give bit-identical chains: the per-step path (``fast=False``) calls ``fxsim.cast`` for
every quantization, vectorized across chains; the fast path (``fast=True``, targets with an
affine gradient, or a tabulated one and a quantized variant) runs blocks of steps in the compiled kernel
``fxsim._samplers`` with the same normals (drawn per block) and the same bit draws (taken from
the source per block, in the same stream order), rounding with fxsim's own primitives.  The
kernel's casts are not recorded by ``fxsim.Counters`` (the per-step path's are).
"""
from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .. import FixedArray, cast, get_num_threads
from .. import validate as V
from ..results import StepResult
from ..source_spec import seeded_source
from . import quantizers as Q

VARIANTS = ("fp", "lpf", "lpl", "vc")
SOURCES = ("ideal", "pcg64", "lfsr16", "lfsr32")


def _source(spec, seed: int):
    # "lfsr16"/"lfsr32": LFSR(N) at state 1 + seed mod (2^N − 1) (the canonical rule maps s to
    # 1 + (s − 1) mod ...); "ideal" is PCG64
    return seeded_source(spec, seed, plus_one=("lfsr16", "lfsr32"), aliases={"ideal": "pcg64"},
                         names=SOURCES)


def make_source(source, seed: int):
    """Deprecated (the samplers take ``source=`` and resolve it themselves; ``fxsim.make_source``
    builds any source): a bit source from a name (``"ideal"``/``"pcg64"``: PCG64 seeded with
    ``seed``; ``"lfsr16"``/``"lfsr32"``: an N-bit LFSR at state 1 + seed mod (2^N − 1); any other
    ``fxsim.make_source`` spec with ``seed``) or a source object (returned as is).

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     make_source("lfsr16", 0).draws(2, 16).tolist()
    [34957, 3373]
    """
    warnings.warn("fxsim.samplers.make_source is deprecated; pass source= to the sampler, or "
                  "use fxsim.make_source", DeprecationWarning, stacklevel=2)
    return _source(source, seed)


@dataclass
class Run(StepResult):
    """A finished run: ``samples`` (snapshots, chains, dim) float64, the final state ``x``
    (and ``v`` for SGHMC), wall time, which path ran, and ``info``.  ``len(run)`` is the
    number of snapshots, ``to_rows()`` one dict per snapshot (``samples``: (chains, dim)).
    The compiled path's casts are not counted, so a run has no cast counters.

    >>> r = Run(np.zeros((2, 3, 1)), np.zeros((3, 1)), None, 0.0, "fast")
    >>> r.samples.shape, len(r), r.to_rows()[1]["samples"].shape
    ((2, 3, 1), 2, (3, 1))
    """
    samples: np.ndarray
    x: np.ndarray
    v: np.ndarray | None
    seconds: float
    path: str
    info: dict = field(default_factory=dict)
    step_fields = ("samples",)


class Sampler:
    """Base class of :class:`~fxsim.samplers.SGLD` and :class:`~fxsim.samplers.SGHMC`: parameter
    checks, the random-number bookkeeping, the chain runner and the per-step path.

    >>> from fxsim.samplers import SGLD, Gaussian
    >>> s = SGLD(Gaussian(), eta=0.01, variant="vc", fmt="Q(8,3)")
    >>> s.normals_per_step(), s.draws_per_step()      # VC in its Gaussian branch: 1 normal, Q_G + Cat
    (1, 2)
    """

    alg = -1
    has_velocity = False

    def __init__(self, target, eta=None, variant="lpl", fmt="Q(8,3)", grad_fmt=None, r=16,
                 grad_noise=0.0, *, source="ideal", alpha=None):
        if not hasattr(target, "grad") or not hasattr(target, "dim"):
            raise ValueError(f"target: needs dim and grad(theta), got {target!r}")
        self.target = target
        if alpha is not None:
            if eta is not None:
                raise ValueError("alpha: give the step size once (eta or alpha), not both")
            eta = alpha
        self.eta = V.positive("eta" if alpha is None else "alpha", eta)
        self.alpha = self.eta
        self.variant = V.one_of("variant", variant, VARIANTS)
        self.fmt = Q.check_format(fmt, "fmt")
        self.grad_fmt = self.fmt if grad_fmt is None else Q.check_format(grad_fmt, "grad_fmt")
        self.r = Q.check_r(r)
        self.grad_noise = V.non_negative("grad_noise", grad_noise)
        _source(source, 0)                     # validates; the run seeds a name with its seed
        self.source = source
        self.T = float(getattr(target, "temperature", 1.0))
        self.wide = Q.wide_format(self.fmt)

    # -- bookkeeping of random numbers per step (per element) ---------------------------------
    def normals_per_step(self) -> int:
        """Standard normals per step and element (gradient noise, then the dynamics')."""
        return int(self.grad_noise > 0) + self._dyn_normals()

    def draws_per_step(self) -> int:
        """Bit draws per step and element (one per SR cast, one or two per Q^vc)."""
        return self._dyn_draws()

    def _needs_rng_grad(self):
        return getattr(self.target, "kernel_kind", None) is None

    # -- gradient on the accelerator --------------------------------------------------------
    def _grad_q(self, xq: FixedArray, zeta, brng):
        """Q_G(∇Ũ(θ)) at the words xq (float64 values of grad_fmt words)."""
        if self._needs_rng_grad():
            g = self.target.grad_words(xq.raw, self.fmt, brng)
        else:
            g = self.target.grad_words(xq.raw, self.fmt)
        if zeta is not None:
            g = g + self.grad_noise * zeta
        return g

    def _grad_f(self, x, zeta, brng):
        g = self.target.grad(x, brng) if self._needs_rng_grad() else self.target.grad(x)
        if zeta is not None:
            g = g + self.grad_noise * zeta
        return g

    def _sr(self, x, fmt, src):
        return Q.sr(x, fmt, self.r, source=src)

    def _vc(self, mu, var, z, src):
        return Q.vc_quantize(mu, var, self.fmt, self.r, source=src, normals=z).to_float()

    def _kernel_ok(self):
        kind = getattr(self.target, "kernel_kind", None)
        return kind == "linear" or (kind == "table" and self.variant != "fp")

    # -- running ----------------------------------------------------------------------------
    def init_state(self, n_chains, rng, x0=None):
        """Start points: ``x0`` or draws from the target (0.1·N(0, I) if it cannot sample);
        SGHMC velocities from N(0, uT); rounded to nearest into ``fmt`` for lpl/vc.

        >>> from fxsim.samplers import SGLD, Gaussian
        >>> x, v = SGLD(Gaussian(), 0.1).init_state(2, None, x0=[[0.3], [-0.3]])
        >>> x.ravel().tolist(), v
        ([0.25, -0.25], None)
        """
        d = self.target.dim
        if x0 is None:
            if hasattr(self.target, "sample"):
                x = self.target.sample(rng, n_chains)
            else:
                x = 0.1 * rng.standard_normal((n_chains, d))
        else:
            x = np.array(x0, dtype=np.float64)
            if x.ndim == 1 and d == 1:
                x = x[:, None]
            if x.shape != (n_chains, d):
                raise ValueError(f"x0: expected shape ({n_chains}, {d}), got {x.shape}")
        v = None
        if self.has_velocity:
            v = math.sqrt(self.u * self.T) * rng.standard_normal((n_chains, d))
        if self.variant in ("lpl", "vc"):
            x = cast(x, self.fmt, "nearest_even", "saturate").to_float()
            if v is not None:
                v = cast(v, self.fmt, "nearest_even", "saturate").to_float()
        return np.ascontiguousarray(x), (None if v is None else np.ascontiguousarray(v))

    def run(self, n_chains, n_steps, *, seed=0, source=None, burn=0, thin=1, x0=None,
            fast=None, block=512, progress=False) -> Run:
        """Run ``n_chains`` chains (vectorized) for ``n_steps`` steps; keep a snapshot of every
        chain after step j (0-based) when j ≥ ``burn`` and (j − burn + 1) is a multiple of
        ``thin``.  ``fast``: None = the compiled kernel when the target allows it; ``block``
        steps per kernel call (normals and draws are made per block); ``progress``: a tqdm bar.
        The bit source is the sampler's ``source`` (a name is seeded with ``seed``; a source
        object is used as it is); ``run(source=...)`` is deprecated (pass it to the sampler).

        >>> from fxsim.samplers import SGLD, Gaussian
        >>> r = SGLD(Gaussian(), 0.01, variant="lpf").run(3, 50, burn=40, thin=5, seed=2)
        >>> r.samples.shape, r.path
        ((2, 3, 1), 'fast')
        """
        if source is None:
            source = self.source
        else:
            warnings.warn("run(source=...) is deprecated; pass source= to the sampler",
                          DeprecationWarning, stacklevel=2)
        n_chains = V.integer("n_chains", n_chains, 1)
        n_steps = V.integer("n_steps", n_steps, 1)
        burn = V.integer("burn", burn, 0)
        thin = V.integer("thin", thin, 1)
        block = V.integer("block", block, 1)
        seed = V.integer("seed", seed, 0)
        if burn >= n_steps:
            raise ValueError(f"burn: must be smaller than n_steps = {n_steps}, got {burn}")
        if fast is None:
            fast = self._kernel_ok()
        elif fast and not self._kernel_ok():
            raise ValueError("fast: the compiled kernel needs a target with an affine gradient "
                             "(Gaussian) or a tabulated one (GaussianMixture, quantized variants)")
        ss = np.random.SeedSequence(int(seed))
        rng_noise, rng_init, rng_batch = (np.random.Generator(np.random.PCG64(s)) for s in ss.spawn(3))
        src = _source(source, seed)
        x, v = self.init_state(n_chains, rng_init, x0)
        j = np.arange(n_steps)
        keep = (j >= burn) & ((j - burn + 1) % thin == 0)
        rec = np.where(keep, np.cumsum(keep) - 1, -1).astype(np.int64)
        n_snap = int(keep.sum())
        out = np.empty((n_snap, n_chains, self.target.dim))
        bar = _bar(n_steps, progress, type(self).__name__)
        t0 = time.perf_counter()
        if fast:
            from .. import _samplers as KS
            params = self._kernel_params()
            k, m = params.k, params.m
            n = x.size
            vv = v if v is not None else np.zeros(1)
            for s0 in range(0, n_steps, block):
                B = min(block, n_steps - s0)
                Z = rng_noise.standard_normal((B, k, n)) if k else np.zeros((1, 1, 1))
                D = np.ascontiguousarray(src.draws(B * m * n, self.r), dtype=np.uint64) if m else np.zeros(1, np.uint64)
                KS.sampler_steps(params, x.reshape(-1), vv.reshape(-1), np.ascontiguousarray(Z).reshape(-1),
                                 D, B, rec[s0:s0 + B], out.reshape(n_snap, n), get_num_threads())
                if bar is not None:
                    bar.update(B)
        else:
            k = self.normals_per_step()
            for step in range(n_steps):
                Z = rng_noise.standard_normal((k,) + x.shape) if k else None
                x, v = self.step(x, v, Z, src, rng_batch)
                if rec[step] >= 0:
                    out[rec[step]] = x
                if bar is not None and (step + 1) % 256 == 0:
                    bar.update(256)
        if bar is not None:
            bar.close()
        return Run(out, x, v, time.perf_counter() - t0, "fast" if fast else "per-step",
                   {"sampler": repr(self)})

    def step(self, x, v, Z, src, brng=None):
        """One step of every chain on the per-step path (``fxsim.cast`` for every
        quantization).  ``Z``: the step's standard normals, shape (k, chains, dim); ``src``:
        the bit source; ``brng``: the minibatch Generator (classifier).  Returns (x, v).

        >>> from fxsim.samplers import SGLD, Gaussian
        >>> from fxsim import Ideal
        >>> s = SGLD(Gaussian(), 0.01, variant="lpl", fmt="Q(8,3)")
        >>> x, _ = s.step(np.array([[1.0]]), None, np.zeros((1, 1, 1)), Ideal("pcg64", seed=0))
        >>> float(x[0, 0]) in (0.875, 1.0)
        True
        """
        zi = 0
        zeta = None
        if self.grad_noise > 0:
            zeta, zi = Z[0], 1
        if self.variant == "fp":
            g = self._grad_f(x, zeta, brng)
        else:
            xq = self._sr(x, self.fmt, src) if self.variant == "lpf" else cast(x, self.fmt, "nearest_even", "saturate")
            g = self._sr(self._grad_q(xq, zeta, brng), self.grad_fmt, src).to_float()
        return self._update(x, v, g, Z[zi:] if Z is not None else None, src)

    def _kernel_params(self):
        """The compiled kernel's ``SamplerParams`` of this sampler (built once per run)."""
        from .. import _samplers as KS
        from ..modes import CastMode
        from ..ops import kernel_spec
        kind, a, b = self.target.kernel_grad(self.fmt)
        sr = CastMode.of("stochastic", r=self.r)
        grad = {"ga": a, "gb": b} if kind == "linear" else {"table": a}
        return KS.SamplerParams(
            alg=self.alg, variant=VARIANTS.index(self.variant),
            sw=kernel_spec(self.fmt, sr), sgr=kernel_spec(self.grad_fmt, sr),
            rnw=kernel_spec(self.wide, CastMode.of("nearest_even", r=self.r)),
            srw=kernel_spec(self.wide, sr),
            fl=self.fmt.fl, flg=self.grad_fmt.fl, wmin=self.fmt.min_raw, wmax=self.fmt.max_raw,
            r=self.r, grad_noise=self.grad_noise, coef=self._coefficients(),
            d=self.target.dim, k=self.normals_per_step(), m=self.draws_per_step(), **grad)


def _bar(total, enabled, desc):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, file=sys.stderr, dynamic_ncols=True, unit="step")
