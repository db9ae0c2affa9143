"""Stochastic gradient Langevin dynamics on the emulated accelerator (Zhang, Wilson & De Sa,
ICML 2022), temperature T (1 for the synthetic targets, 1/N for the classifier):

    θ ← θ − η ∇Ũ(θ) + sqrt(2ηT) ξ,   ξ ~ N(0, I)

Variants (see ``core``): ``fp``; ``lpf`` θ ← θ − η Q_G(∇Ũ(Q_W(θ))) + sqrt(2ηT)ξ with θ in
float64 (SGLDLP-F); ``lpl`` θ ← Q_W(θ − η Q_G(∇Ũ(θ)) + sqrt(2ηT)ξ) (naive SGLDLP-L);
``vc`` θ ← Q^vc(θ − η Q_G(∇Ũ(θ)), 2ηT, Δ) (VC SGLDLP-L).  Q_W, Q_G: stochastic rounding into
``fmt``/``grad_fmt`` with saturation.  Bit draws per step: ``lpf`` Q_W then Q_G; ``lpl`` Q_G then
Q_W; ``vc`` Q_G then Q^vc's.  Float operations in the order written (``x - eta*g + s*xi``).
"""
from __future__ import annotations

import math

from . import quantizers as Q
from .core import Sampler

__all__ = ["SGLD"]


class SGLD(Sampler):
    """SGLD with ``variant`` in ``fp lpf lpl vc``; ``fmt`` the weights' word, ``grad_fmt`` the
    gradients' (default ``fmt``), ``r`` random bits per SR draw, ``grad_noise`` the standard
    deviation of Gaussian noise added to ∇U (stochastic gradient), ``source`` the SR bit source
    (``"ideal"``, ``"lfsr16"``, ``"lfsr32"``, any ``fxsim.make_source`` spec, or a source
    object); ``alpha=`` is the step size ``eta`` under the name the optimizers use.

    >>> from fxsim.samplers import Gaussian
    >>> s = SGLD(Gaussian(), eta=0.01, variant="lpl", fmt="Q(8,3)")
    >>> run = s.run(n_chains=4, n_steps=200, burn=100, thin=10, seed=1)
    >>> run.samples.shape, bool((run.samples * 8 == (run.samples * 8).round()).all())
    ((10, 4, 1), True)
    """

    alg = 0

    def __init__(self, target, eta=None, variant="lpl", fmt="Q(8,3)", grad_fmt=None, r=16,
                 grad_noise=0.0, *, source="ideal", alpha=None):
        super().__init__(target, eta, variant, fmt, grad_fmt, r, grad_noise, source=source,
                         alpha=alpha)
        self.var = 2.0 * self.eta * self.T
        self.sigma = math.sqrt(self.var)
        self.vc_gauss = Q.vc_branch(self.var, self.fmt) == "gaussian"

    def __repr__(self):
        return (f"SGLD({self.target!r}, eta={self.eta:g}, variant={self.variant!r}, fmt={self.fmt}, "
                f"grad_fmt={self.grad_fmt}, r={self.r}, grad_noise={self.grad_noise:g})")

    def _dyn_normals(self):
        return int(self.vc_gauss) if self.variant == "vc" else 1

    def _dyn_draws(self):
        if self.variant == "vc":
            return 1 + (1 if self.vc_gauss else 2)
        return 0 if self.variant == "fp" else 2

    def _coefficients(self):
        v0 = 0.25 * 4.0 ** -self.fmt.fl
        s_vc = math.sqrt(self.var - v0) if self.vc_gauss else 0.0
        return {"eta": self.eta, "sigma": self.sigma, "s_vc": s_vc,
                "var_lsb": self.var * 4.0 ** self.fmt.fl, "vc_gauss": float(self.vc_gauss)}

    def _update(self, x, v, g, Z, src):
        eta = self.eta
        if self.variant in ("fp", "lpf"):
            return x - eta * g + self.sigma * Z[0], v
        if self.variant == "lpl":
            return self._sr(x - eta * g + self.sigma * Z[0], self.fmt, src).to_float(), v
        return self._vc(x - eta * g, self.var, Z[0] if self.vc_gauss else None, src), v
