"""Stochastic gradient Hamiltonian Monte Carlo on the emulated accelerator: the underdamped
Langevin discretization of Cheng, Chatterji, Bartlett & Jordan (2018) used by Wang, Chen, Song &
Zhang (TMLR, "Enhancing low-precision sampling via stochastic gradient Hamiltonian Monte
Carlo").  With friction γ ≥ 0, inverse mass u, step η, h = γη and temperature T, the gradient
held at its value g = ∇Ũ(x_k) over the step and the OU part integrated exactly:

    v' = e^{−h} v − u(1 − e^{−h})/γ · g + ξ_v
    x' = x + (1 − e^{−h})/γ · v − u(γη + e^{−h} − 1)/γ² · g + ξ_x

(ξ_v, ξ_x) jointly Gaussian, zero mean, per coordinate (the Itô integrals of the OU noise):

    Var ξ_v      = uT (1 − e^{−2h})
    Var ξ_x      = uT/γ² · (2h + 4e^{−h} − e^{−2h} − 3)
    Cov(ξ_x, ξ_v) = uT/γ · (1 − e^{−h})²

drawn as ξ_v = σ_v z₁, ξ_x = (c/σ_v) z₁ + sqrt(σ_x² − c²/σ_v²) z₂ with z₁, z₂ ~ N(0, 1).
The coefficients are evaluated through h-series where the closed forms cancel (small h), and
have the right limits at γ = 0 (x' = x + ηv − uη²/2 g, no noise).

Variants (Wang et al.): ``lpf`` g = Q_G(∇Ũ(Q_W(x))), x and v float64 (SGHMCLP-F); ``lpl``
v ← Q_W(v'), x ← Q_W(x') (SGHMCLP-L); ``vc`` v ← Q^vc(E v', Var ξ_v), x ← Q^vc(E x', Var ξ_x)
(VC SGHMCLP-L) — with the noise correlation kept: v is quantized first, v_new = Q^vc(E v',
Var ξ_v); the v-noise it realized, v_new − E v', enters x's mean with the regression factor
k = Cov(ξ_x, ξ_v)/Var ξ_v, and x gets the conditional variance:
x_new = Q^vc(E x' + k (v_new − E v'), Var ξ_x − Cov²/Var ξ_v).  The pair then has exactly the
covariance above.  (Wang et al.'s code corrects v and x independently, dropping the
cross-covariance; on N(0, 1) at η = 0.25, γ = u = 2 that widens W2 from ≈0.07 to ≈0.09.)  Bit draws per step: Q_G (after Q_W for ``lpf``), then v's, then
x's.  Normals per step: gradient noise, then z₁, z₂ (``vc``: v's then x's Gaussian-branch
normals).
"""
from __future__ import annotations

import math

from . import quantizers as Q
from .. import validate as V
from .core import Sampler

__all__ = ["SGHMC", "integrator_coefficients"]


def _e1(h):
    """(1 − e^{−h})/h."""
    return 1.0 if h == 0 else -math.expm1(-h) / h


def _e2(h):
    """(h + e^{−h} − 1)/h²."""
    if h < 0.1:
        return math.fsum((-1) ** k * h ** (k - 2) / math.factorial(k) for k in range(2, 30))
    return (h + math.expm1(-h)) / (h * h)


def _f3(h):
    """(2h + 4e^{−h} − e^{−2h} − 3)/h²."""
    if h < 0.5:
        return math.fsum((-1) ** k * (4 - 2 ** k) * h ** (k - 2) / math.factorial(k) for k in range(3, 40))
    return (2 * h + 4 * math.exp(-h) - math.exp(-2 * h) - 3) / (h * h)


def integrator_coefficients(eta, gamma, u=1.0, T=1.0) -> dict:
    """The SGHMC step's coefficients and noise covariance (module doc):
    av, bv, ax, bx (v' = av·v − bv·g + ξ_v, x' = x + ax·v − bx·g + ξ_x), var_v, var_x, cov_xv.

    >>> c = integrator_coefficients(0.1, 2.0, u=2.0)
    >>> round(c["av"], 6), round(c["var_v"], 6), round(c["cov_xv"], 8)
    (0.818731, 0.65936, 0.03285854)
    """
    eta, gamma, u, T = float(eta), float(gamma), float(u), float(T)
    h = gamma * eta
    e1 = _e1(h)
    return {"av": math.exp(-h), "bv": u * eta * e1, "ax": eta * e1, "bx": u * eta * eta * _e2(h),
            "var_v": -u * T * math.expm1(-2 * h), "var_x": u * T * eta * eta * _f3(h),
            "cov_xv": u * T * eta * h * e1 * e1}


class SGHMC(Sampler):
    """SGHMC with friction ``gamma`` (≥ 0) and inverse mass ``u`` (> 0); other parameters as
    :class:`~fxsim.samplers.SGLD`.

    >>> from fxsim.samplers import Gaussian
    >>> s = SGHMC(Gaussian(), eta=0.05, gamma=2.0, u=2.0, variant="lpl", fmt="Q(8,4)")
    >>> run = s.run(n_chains=4, n_steps=100, burn=50, thin=5, seed=1)
    >>> run.samples.shape, run.v.shape
    ((10, 4, 1), (4, 1))
    """

    alg = 1
    has_velocity = True

    def __init__(self, target, eta=None, gamma=2.0, u=2.0, variant="lpl", fmt="Q(8,3)",
                 grad_fmt=None, r=16, grad_noise=0.0, *, source="ideal", alpha=None):
        super().__init__(target, eta, variant, fmt, grad_fmt, r, grad_noise, source=source,
                         alpha=alpha)
        self.gamma = V.non_negative("gamma", gamma)
        self.u = V.positive("u", u)
        c = integrator_coefficients(self.eta, self.gamma, self.u, self.T)
        self.c = c
        self.sv = math.sqrt(c["var_v"])
        self.cxv = c["cov_xv"] / self.sv if self.sv > 0 else 0.0
        self.var_xc = max(c["var_x"] - self.cxv * self.cxv, 0.0)     # Var(ξ_x | ξ_v)
        self.sxx = math.sqrt(self.var_xc)
        self.kxv = c["cov_xv"] / c["var_v"] if c["var_v"] > 0 else 0.0
        self.vc_gv = Q.vc_branch(c["var_v"], self.fmt) == "gaussian"
        self.vc_gx = Q.vc_branch(self.var_xc, self.fmt) == "gaussian"

    def __repr__(self):
        return (f"SGHMC({self.target!r}, eta={self.eta:g}, gamma={self.gamma:g}, u={self.u:g}, "
                f"variant={self.variant!r}, fmt={self.fmt}, grad_fmt={self.grad_fmt}, r={self.r}, "
                f"grad_noise={self.grad_noise:g})")

    def _dyn_normals(self):
        return self.vc_gv + self.vc_gx if self.variant == "vc" else 2

    def _dyn_draws(self):
        if self.variant == "vc":
            return 1 + (1 if self.vc_gv else 2) + (1 if self.vc_gx else 2)
        return {"fp": 0, "lpf": 2, "lpl": 3}[self.variant]

    def _coefficients(self):
        c = self.c
        v0 = 0.25 * 4.0 ** -self.fmt.fl
        s2 = 4.0 ** self.fmt.fl
        return {"av": c["av"], "bv": c["bv"], "ax": c["ax"], "bx": c["bx"], "sv": self.sv,
                "cxv": self.cxv, "sxx": self.sxx,
                "s_vc_v": math.sqrt(c["var_v"] - v0) if self.vc_gv else 0.0,
                "var_lsb_v": c["var_v"] * s2, "vc_gauss_v": float(self.vc_gv),
                "s_vc_x": math.sqrt(self.var_xc - v0) if self.vc_gx else 0.0,
                "var_lsb_x": self.var_xc * s2, "vc_gauss_x": float(self.vc_gx), "kxv": self.kxv}

    def _update(self, x, v, g, Z, src):
        c = self.c
        if self.variant == "vc":
            muv = c["av"] * v - c["bv"] * g
            mux = x + c["ax"] * v - c["bx"] * g
            zv = Z[0] if self.vc_gv else None
            zx = Z[int(self.vc_gv)] if self.vc_gx else None
            vn = self._vc(muv, c["var_v"], zv, src)
            mux = mux + self.kxv * (vn - muv)
            return self._vc(mux, self.var_xc, zx, src), vn
        xi_v = self.sv * Z[0]
        xi_x = self.cxv * Z[0] + self.sxx * Z[1]
        vn = c["av"] * v - c["bv"] * g + xi_v
        xn = x + c["ax"] * v - c["bx"] * g + xi_x
        if self.variant == "lpl":
            vn = self._sr(vn, self.fmt, src).to_float()
            xn = self._sr(xn, self.fmt, src).to_float()
        return xn, vn
