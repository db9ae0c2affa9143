"""Quantizers of the low-precision samplers, all built on ``fxsim.cast``.

* :func:`sr` — stochastic rounding into the weights' format with saturation (the LP-L write-back
  and the quantization of weights and gradients, Q_W / Q_G in the papers).
* :func:`vc_quantize` — the variance-corrected quantizer Q^vc(µ, v, Δ) of Zhang, Wilson & De Sa
  (ICML 2022, Algorithm 2): returns a word on the Δ-grid with mean µ and variance v.

Q^vc (Δ = 2^-fl, v0 = Δ²/4, the largest variance stochastic rounding can add):

* v > v0 ("Gaussian branch"): x = µ + sqrt(v − v0)·ξ (ξ ~ N(0, 1)); q = Q^d(x) (round to
  nearest even); r = x − q; θ = q + sign(r)·c with c ∈ {+Δ, −Δ, 0} drawn from Cat(|r|, v0):
  P(+Δ) = (v0 + r² + |r|Δ)/(2Δ²), P(−Δ) = (v0 + r² − |r|Δ)/(2Δ²).  Given x, E[θ] = x and
  Var[θ] = v0, so in total E = µ and Var = v.
* v ≤ v0 ("grid branch"): q = Q^s(µ) (stochastic rounding, variance v_s = φ(1 − φ)Δ² with φ the
  fraction of µ/Δ); if v > v_s, θ = q + c with c from Cat(0, v − v_s) (P(±Δ) = (v − v_s)/(2Δ²)
  each), else θ = q (the variance is then v_s > v, as in the paper).
* θ saturates to the format's range (the paper's clamp).

Hardware reading, and what is fixed here beyond the paper: the categorical sample takes one
r-bit draw R from the same fxsim bit source as the SR casts and uses u = R·2^-r in the paper's
comparisons (u < P(+Δ): +Δ; else u < P(+Δ) + P(−Δ): −Δ; else 0), so each probability is
realized to within 2^-r (as SR's own probabilities are): P(+Δ) is ⌈P·2^r⌉/2^r and P(−Δ) is off
by less than 2^-r, hence |E − µ| < 2·2^-r·Δ, and with SR's own 2^-r error on the grid branch
the variance is within about 6·2^-r·Δ² of its target (what ``tests/algorithms/test_samplers.py`` checks
by enumerating every draw).  The residual r is taken from the
rounding *before* saturation (a 62-bit word with the same fraction bits), so the probabilities
stay in [0, 1] for out-of-range µ.  Probabilities are computed in Δ units, in float64, in the
fixed order ``p₊ = ((w + ρ·ρ) + ρ)·0.5``, ``p₋ = ((w + ρ·ρ) − ρ)·0.5`` (ρ = |r|/Δ, w = variance/Δ²),
the order the compiled kernel uses too.  Draw order of one call on n elements: grid branch,
n draws for Q^s then n for the categorical; Gaussian branch, n for the categorical.
"""
from __future__ import annotations

import math

import numpy as np

from .. import FixedArray, QFormat, cast, qformat
from .. import validate as V

__all__ = ["check_format", "check_r", "sr", "vc_branch", "vc_draws_per_element", "vc_quantize",
           "cat_probs", "wide_format"]


def check_format(fmt, name="fmt") -> QFormat:
    """The signed :class:`~fxsim.QFormat` named by ``fmt`` (a QFormat or a string such as
    ``"Q(8,3)"``), or ``ValueError`` naming ``name``.

    >>> check_format("Q(8,3)")
    QFormat(wl=8, fl=3, signed=True)
    >>> check_format("UQ0.8", "grad_fmt")
    Traceback (most recent call last):
    ValueError: grad_fmt: must be a signed format (weights and gradients take both signs), got UQ(8,8)
    """
    f = V.signed_format(name, fmt, why=" (weights and gradients take both signs)")
    if f.wl > 53:
        raise ValueError(f"{name}: word length must be at most 53 bits (the sampler state is "
                         f"held exactly in float64), got wl={f.wl}")
    return f


def check_r(r, name="r") -> int:
    """Random bits per draw: an integer in 1..53 (u = R·2^-r must be an exact double).

    >>> check_r(16)
    16
    """
    return V.integer(name, r, 1, 53)


def wide_format(fmt: QFormat) -> QFormat:
    """The 62-bit word with ``fmt``'s fraction bits in which the VC quantizer rounds before
    saturating (so q ± 1 LSB still fits an int64).

    >>> wide_format(QFormat(8, 3))
    QFormat(wl=62, fl=3, signed=True)
    """
    return QFormat(62, fmt.fl)


def sr(x, fmt, r=16, *, source=None, draws=None) -> FixedArray:
    """Stochastic rounding of ``x`` into ``fmt`` with saturation: ``fxsim.cast(x, fmt,
    "stochastic", "saturate", r=r, ...)``, one r-bit draw per element (C order).

    >>> sr([0.3, -0.3], "Q(8,3)", r=4, draws=[0, 15]).to_float().tolist()
    [0.25, -0.25]
    """
    return cast(x, fmt, "stochastic", "saturate", r=r, source=source, draws=draws)


def vc_branch(var, fmt) -> str:
    """``"gaussian"`` when var > Δ²/4 (Q^vc adds Gaussian noise), else ``"grid"``.

    >>> vc_branch(4e-3, "Q(8,3)"), vc_branch(1e-3, "Q(8,3)")
    ('gaussian', 'grid')
    """
    var = V.non_negative("var", var)
    f = qformat(fmt)
    return "gaussian" if var * 4.0 ** f.fl > 0.25 else "grid"


def vc_draws_per_element(var, fmt) -> int:
    """Random draws per element of one :func:`vc_quantize` call (2 in the grid branch).

    >>> vc_draws_per_element(4e-3, "Q(8,3)"), vc_draws_per_element(1e-3, "Q(8,3)")
    (1, 2)
    """
    return 1 if vc_branch(var, fmt) == "gaussian" else 2


def cat_probs(rho, w):
    """The paper's Cat(|r|, v) probabilities in Δ units: (P(+Δ), P(−Δ)) for ρ = |r|/Δ and
    w = v/Δ², evaluated in the fixed float64 order shared with the compiled kernel.

    >>> [float(p) for p in cat_probs(0.25, 0.25)]
    [0.28125, 0.03125]
    """
    rho = np.asarray(rho, dtype=np.float64)
    s = w + rho * rho
    return (s + rho) * 0.5, (s - rho) * 0.5


def _cat(u, p1, p2):
    """c = +1 if u < p1, −1 if u < p1 + p2, else 0 (int64)."""
    return np.where(u < p1, 1, np.where(u < p1 + p2, -1, 0)).astype(np.int64)


def _uniform(R, r):
    return np.ldexp(np.asarray(R, dtype=np.uint64).astype(np.float64), -r)


def vc_quantize(mu, var, fmt, r=16, *, source=None, draws=None, normals=None, rng=None) -> FixedArray:
    """Q^vc(µ, var, Δ) of Zhang et al. (Algorithm 2; see the module doc) on every element of
    ``mu``: a :class:`~fxsim.FixedArray` in ``fmt`` whose elements have mean µ and variance
    ``var`` (a scalar, in value units²).

    Randomness: bits from ``source`` (or explicit ``draws``, shape (m, *mu.shape) with
    m = :func:`vc_draws_per_element`: row 0 the Q^s draws in the grid branch, the last row the
    categorical draws), standard normals from ``normals`` (shape of ``mu``, Gaussian branch only)
    or the numpy Generator ``rng``.

    >>> q = vc_quantize([0.3, 0.3], 1e-3, "Q(8,3)", r=4, draws=[[0, 15], [0, 15]])
    >>> q.to_float().tolist()
    [0.25, 0.375]
    """
    f = check_format(fmt)
    r = check_r(r)
    var = V.non_negative("var", var)
    mu = np.asarray(mu, dtype=np.float64)
    if not np.isfinite(mu).all():
        raise ValueError("mu: contains NaN or inf")
    n = mu.size
    wide = wide_format(f)
    scale = 2.0 ** f.fl
    wv = var * scale * scale
    if draws is not None:
        draws = np.asarray(draws)
        m = vc_draws_per_element(var, f)
        if draws.size != m * n:
            raise ValueError(f"draws: need {m} rows of {n} draws (one per element), got {draws.size} values")
        draws = draws.reshape(m, n)
    if wv > 0.25:
        if normals is None:
            if rng is None:
                raise ValueError("vc_quantize: the Gaussian branch needs normals= or rng=")
            normals = rng.standard_normal(mu.shape)
        normals = np.asarray(normals, dtype=np.float64)
        if normals.shape != mu.shape:
            raise ValueError(f"normals: shape {normals.shape}, expected {mu.shape}")
        x = mu + math.sqrt(var - 0.25 / (scale * scale)) * normals
        k = cast(x, wide, "nearest_even", "saturate").raw.astype(np.int64)
        tt = np.ldexp(x, f.fl) - k
        p1, p2 = cat_probs(np.abs(tt), 0.25)
        R = draws[0] if draws is not None else source.draws(n, r)
        c = _cat(_uniform(R, r).reshape(mu.shape), p1, p2)
        raw = k + np.sign(tt).astype(np.int64) * c
    else:
        k = sr(mu, wide, r, source=source,
               draws=None if draws is None else draws[0]).raw.astype(np.int64)
        t = np.ldexp(mu, f.fl)
        phi = t - np.floor(t)
        ws = phi * (1.0 - phi)
        R = draws[1] if draws is not None else source.draws(n, r)
        p = (wv - ws) * 0.5
        c = np.where(wv > ws, _cat(_uniform(R, r).reshape(mu.shape), p, p), 0)
        raw = k + c
    return cast(FixedArray(raw, QFormat(64, f.fl)), f, "nearest_even", "saturate")
