"""Target distributions p(θ) ∝ exp(−U(θ)/T) of the samplers, with their gradients ∇U.

* :class:`Gaussian` — N(mean, diag(var)) in d dimensions (d = 1 for the 1-D studies).
* :class:`GaussianMixture` — a 1-D mixture Σ w_k N(m_k, s²), default ½N(−1, 0.25) + ½N(1, 0.25)
  (0.25 is the *variance*, σ = 0.5: the papers' gradient 4(θ − m) has 1/s² = 4).
* ``BayesLogistic`` — Bayesian multinomial logistic regression on scikit-learn's bundled digits;
  it lives in ``fxsim.models.bayes_logistic`` (with the other models) and is re-exported here.

Every target has ``dim``, ``temperature`` and ``grad(theta)`` (theta of shape (chains, dim)).
The 1-D targets also give ``pdf``, ``cdf``, ``quantile`` (inverted to 1e-12) and the partial
moments used by the exact W2 and density-L2 metrics (``fxsim.samplers.metrics``).

Gradient unit on the accelerator: the low-precision samplers evaluate ∇U only at words of the
weights' format.  ``grad_words(raw, fmt)`` is that unit: for Gaussians the float64 affine map
a·θ + b; for the mixture a table of ∇U at every word of the format (a ROM, built once with
numpy), so the compiled kernel and the per-step path read identical values.
"""
from __future__ import annotations

import math

import numpy as np

from fxsim.models.bayes_logistic import BayesLogistic

from .. import validate as V


def _ndtr(x):
    """The standard normal CDF (scipy.special.ndtr, imported at the first call: scipy takes
    a few tenths of a second to import and every ``fxsim`` command loads this module)."""
    from scipy.special import ndtr as f
    return f(x)


def _ndtri(p):
    """The standard normal quantile (scipy.special.ndtri, imported at the first call)."""
    from scipy.special import ndtri as f
    return f(p)


__all__ = ["Gaussian", "GaussianMixture", "BayesLogistic"]

_SQRT2PI = math.sqrt(2.0 * math.pi)


def _vec(v, d, name, positive=False):
    a = np.atleast_1d(np.asarray(v, dtype=np.float64))
    if a.ndim != 1 or a.size not in (1, d):
        raise ValueError(f"{name}: must be a scalar or a vector of length {d}, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: must be finite")
    if positive and (a <= 0).any():
        raise ValueError(f"{name}: must be > 0, got {a.tolist()}")
    return np.broadcast_to(a, (d,)).copy()


class _Mixture1D:
    """Shared 1-D machinery for Σ_k w_k N(m_k, s_k²)."""

    def _components(self):
        return self.weights, self.means, self.sds

    def pdf(self, x):
        """Density g(x).

        >>> round(float(Gaussian().pdf(0.0)), 6)
        0.398942
        """
        x = np.asarray(x, dtype=np.float64)[..., None]
        w, m, s = self._components()
        return (w * np.exp(-0.5 * ((x - m) / s) ** 2) / (s * _SQRT2PI)).sum(-1)

    def cdf(self, x):
        """G(x).

        >>> round(float(GaussianMixture().cdf(-1.0)), 6)      # ½·½ + ½·Φ(−4)
        0.250016
        """
        x = np.asarray(x, dtype=np.float64)[..., None]
        w, m, s = self._components()
        return (w * _ndtr((x - m) / s)).sum(-1)

    def quantile(self, u, tol=1e-12):
        """G⁻¹(u) for u in [0, 1] (±inf at 0 and 1): an interpolated start, then Newton steps
        kept inside a bisection bracket, |error| ≤ tol.

        >>> round(float(GaussianMixture().quantile(0.75)), 6)
        1.00004
        """
        u0 = np.asarray(u, dtype=np.float64)
        u = np.where((u0 > 0) & (u0 < 1), u0, 0.5)
        w, m, s = self._components()
        lo = np.full(u.shape, float((m - 40 * s).min()))
        hi = np.full(u.shape, float((m + 40 * s).max()))
        grid = np.linspace(lo.flat[0], hi.flat[0], 8001)
        x = np.interp(u, self.cdf(grid), grid)          # start close, then safeguarded Newton
        for _ in range(200):
            f = self.cdf(x) - u
            lo = np.where(f < 0, x, lo)
            hi = np.where(f >= 0, x, hi)
            d = self.pdf(x)
            xn = np.where(d > 0, x - f / np.where(d > 0, d, 1.0), 0.5 * (lo + hi))
            bad = (xn <= lo) | (xn >= hi) | ~np.isfinite(xn)
            xn = np.where(bad, 0.5 * (lo + hi), xn)
            done = np.abs(xn - x) <= tol * 0.25
            x = xn
            if done.all():
                break
        return np.where(u0 <= 0, -np.inf, np.where(u0 >= 1, np.inf, x))

    def partial_moments(self, a, b):
        """(∫ g, ∫ x g, ∫ x² g) over [a, b] (a, b arrays, ±inf allowed), in closed form.

        >>> [round(float(m), 6) for m in GaussianMixture().partial_moments(-np.inf, np.inf)]
        [1.0, 0.0, 1.25]
        """
        a = np.asarray(a, dtype=np.float64)[..., None]
        b = np.asarray(b, dtype=np.float64)[..., None]
        w, m, s = self._components()
        za, zb = (a - m) / s, (b - m) / s
        pa, pb = _ndtr(za), _ndtr(zb)
        with np.errstate(invalid="ignore"):
            fa = np.where(np.isfinite(za), np.exp(-0.5 * za * za) / _SQRT2PI, 0.0)
            fb = np.where(np.isfinite(zb), np.exp(-0.5 * zb * zb) / _SQRT2PI, 0.0)
            zfa = np.where(np.isfinite(za), za * fa, 0.0)
            zfb = np.where(np.isfinite(zb), zb * fb, 0.0)
        m0 = pb - pa                       # ∫ φ(z) dz
        m1z = fa - fb                      # ∫ z φ(z) dz
        m2z = m0 - (zfb - zfa)             # ∫ z² φ(z) dz
        M0 = (w * m0).sum(-1)
        M1 = (w * (m * m0 + s * m1z)).sum(-1)
        M2 = (w * (m * m * m0 + 2 * m * s * m1z + s * s * m2z)).sum(-1)
        return M0, M1, M2

    def sq_density_integral(self, a, b):
        """∫_a^b g(x)² dx in closed form (products of Gaussians are Gaussians).

        >>> round(float(Gaussian().sq_density_integral(-np.inf, np.inf)), 6)   # 1/(2√π)
        0.282095
        """
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        w, m, s = self._components()
        tot = np.zeros(np.broadcast(a, b).shape)
        for i in range(len(w)):
            for j in range(len(w)):
                v = s[i] ** 2 + s[j] ** 2
                c = math.exp(-0.5 * (m[i] - m[j]) ** 2 / v) / math.sqrt(2 * math.pi * v)
                mc = (m[i] * s[j] ** 2 + m[j] * s[i] ** 2) / v
                sc = s[i] * s[j] / math.sqrt(v)
                tot = tot + w[i] * w[j] * c * (_ndtr((b - mc) / sc) - _ndtr((a - mc) / sc))
        return tot

    def sample(self, rng, n):
        """n exact draws from the target, shape (n, 1).

        >>> GaussianMixture().sample(np.random.default_rng(0), 5).shape
        (5, 1)
        """
        w, m, s = self._components()
        k = rng.choice(len(w), size=n, p=w)
        return (m[k] + s[k] * rng.standard_normal(n))[:, None]

    @property
    def mean(self):
        """Mean of the 1-D target (``GaussianMixture().mean`` is 0.0)."""
        w, m, _ = self._components()
        return float((w * m).sum())

    @property
    def variance(self):
        """Variance of the 1-D target (``GaussianMixture().variance`` is 1.25)."""
        w, m, s = self._components()
        return float((w * (s * s + m * m)).sum() - self.mean ** 2)


class Gaussian(_Mixture1D):
    """N(mean, diag(var)) in ``dim`` dimensions; U(θ) = Σ_j (θ_j − m_j)²/(2 v_j), T = 1.

    ∇U = a·θ + b with a = 1/v, b = −m/v (evaluated as ``a*theta + b`` in float64).

    >>> g = Gaussian()
    >>> g.grad([[0.5], [-2.0]]).ravel().tolist()
    [0.5, -2.0]
    >>> round(float(g.quantile(0.975)), 6)
    1.959964
    """

    temperature = 1.0
    kernel_kind = "linear"

    def __init__(self, mean=0.0, var=1.0, dim=None):
        if dim is None:
            dim = max(np.size(mean), np.size(var))
        V.integer("dim", dim, 1)
        self.dim = dim
        self.mu = _vec(mean, dim, "mean")
        self.var = _vec(var, dim, "var", positive=True)
        self.a = 1.0 / self.var
        self.b = -self.mu / self.var

    def __repr__(self):
        if self.dim == 1:
            return f"Gaussian(mean={self.mu[0]:g}, var={self.var[0]:g})"
        return f"Gaussian(dim={self.dim})"

    def _components(self):
        if self.dim != 1:
            raise ValueError("the 1-D distribution functions need dim = 1")
        return np.ones(1), self.mu, np.sqrt(self.var)

    def grad(self, theta):
        """∇U at float θ of shape (chains, dim).

        >>> Gaussian(mean=1.0, var=0.5).grad([[2.0]]).tolist()
        [[2.0]]
        """
        th = V.chains("theta", theta, self.dim)
        return self.a * th + self.b

    def grad_words(self, raw, fmt):
        """∇U at the words ``raw`` (shape (chains, dim)) of ``fmt``.

        >>> from fxsim import QFormat
        >>> Gaussian().grad_words(np.array([[12]]), QFormat(8, 3)).tolist()
        [[1.5]]
        """
        return self.a * np.ldexp(np.asarray(raw, dtype=np.float64), -fmt.fl) + self.b

    def kernel_grad(self, fmt):
        """("linear", a, b) for the compiled kernel (∇U = a·θ + b per coordinate).

        >>> Gaussian(var=4.0).kernel_grad(None)[1].tolist()
        [0.25]
        """
        return "linear", self.a, self.b

    def sample(self, rng, n):
        return self.mu + np.sqrt(self.var) * rng.standard_normal((n, self.dim))

    def quantile(self, u, tol=None):
        """G⁻¹(u) = m + s·Φ⁻¹(u) (1-D)."""
        _, m, s = self._components()
        return m[0] + s[0] * _ndtri(np.asarray(u, dtype=np.float64))


class GaussianMixture(_Mixture1D):
    """1-D mixture Σ_k w_k N(m_k, s²) (common variance s² = ``var``), T = 1;
    ∇U(θ) = Σ_k ρ_k(θ)(θ − m_k)/s² with the responsibilities ρ_k.

    >>> g = GaussianMixture()
    >>> round(float(g.grad([[1.0]])[0, 0]), 6), round(float(g.cdf(0.0)), 12)
    (0.002683, 0.5)
    """

    temperature = 1.0
    kernel_kind = "table"
    dim = 1

    def __init__(self, means=(-1.0, 1.0), var=0.25, weights=None):
        self.means = np.asarray(means, dtype=np.float64).ravel()
        k = self.means.size
        if k < 1 or not np.isfinite(self.means).all():
            raise ValueError(f"means: must be finite numbers, got {means!r}")
        V.positive("var", var)
        self.s2 = float(var)
        self.sds = np.full(k, math.sqrt(self.s2))
        w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
        if w.size != k or (w <= 0).any() or abs(w.sum() - 1) > 1e-12:
            raise ValueError(f"weights: must be {k} positive numbers summing to 1, got {weights!r}")
        self.weights = w
        self._tables = {}

    def __repr__(self):
        return f"GaussianMixture(means={self.means.tolist()}, var={self.s2:g})"

    def grad(self, theta):
        """∇U at float θ of shape (chains, 1) (responsibility-weighted, overflow-safe).

        >>> GaussianMixture().grad([[0.0]]).tolist()
        [[0.0]]
        """
        th = V.chains("theta", theta, 1)
        z = -0.5 * (th - self.means) ** 2 / self.s2 + np.log(self.weights)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return ((p * (th - self.means)).sum(axis=1, keepdims=True)) / self.s2

    def table(self, fmt):
        """∇U at every word of ``fmt`` (index raw − min_raw), shape (1, 2^wl).

        >>> from fxsim import QFormat
        >>> GaussianMixture().table(QFormat(8, 4)).shape
        (1, 256)
        """
        key = (fmt.wl, fmt.fl)
        if key not in self._tables:
            if fmt.wl > 20:
                raise ValueError(f"fmt: the mixture's gradient table needs wl <= 20, got {fmt.wl}")
            raw = np.arange(fmt.min_raw, fmt.max_raw + 1, dtype=np.int64)
            self._tables[key] = np.ascontiguousarray(self.grad(np.ldexp(raw.astype(np.float64), -fmt.fl)[:, None]).T)
        return self._tables[key]

    def grad_words(self, raw, fmt):
        """∇U at the words ``raw`` of ``fmt``: a lookup in :meth:`table`.

        >>> from fxsim import QFormat
        >>> GaussianMixture().grad_words(np.array([[0]]), QFormat(8, 4)).tolist()
        [[0.0]]
        """
        return self.table(fmt)[0][np.asarray(raw, dtype=np.int64) - fmt.min_raw]

    def kernel_grad(self, fmt):
        """("table", table, None) for the compiled kernel.

        >>> from fxsim import QFormat
        >>> GaussianMixture().kernel_grad(QFormat(8, 4))[0]
        'table'
        """
        return "table", self.table(fmt), None
