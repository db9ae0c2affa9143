"""How close a sample is to its target: exact 1-D W2, density L2, and the posterior-predictive
test error and NLL of the classifier.

W2 (:func:`w2_1d`): with the sorted sample x_(1) ≤ … ≤ x_(n) (empirical quantile function
x_(i) on ((i−1)/n, i/n]) and the target's exact quantile G⁻¹,

    W2² = ∫₀¹ (F_n⁻¹(u) − G⁻¹(u))² du = Σ_i [x_(i)²/n − 2 x_(i) M1_i + M2_i],

where M1_i, M2_i = ∫ x g(x) dx, ∫ x² g(x) dx over [G⁻¹((i−1)/n), G⁻¹(i/n)] (closed form for
Gaussian mixtures; G⁻¹ is inverted to 1e-12).  No binning, no sampling of the target.

Density L2 (:func:`density_l2`): ‖h − g‖₂ for the histogram density h of the sample (bins of
width ``width`` centred on the multiples of ``width``: the grid of the format for quantized
chains) and the exact density g; ∫ over each bin of (h − g)² = h²w − 2h∫g + ∫g² in closed form,
plus ∫ g² outside the bins.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["w2_1d", "w2_gaussians", "density_l2", "predictive"]


def w2_1d(samples, target) -> float:
    """Exact 2-Wasserstein distance between the empirical distribution of ``samples`` (1-D,
    any shape, flattened) and a 1-D target with ``quantile`` and ``partial_moments``.

    >>> from fxsim.samplers.targets import Gaussian
    >>> round(w2_1d([0.0], Gaussian()), 12)        # a point mass at the mean: W2 = σ
    1.0
    """
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    n = x.size
    if n == 0:
        raise ValueError("samples: empty")
    if not np.isfinite(x).all():
        raise ValueError("samples: contains NaN or inf")
    q = target.quantile(np.arange(n + 1) / n)
    _, M1, M2 = target.partial_moments(q[:-1], q[1:])
    terms = x * x / n - 2.0 * x * M1 + M2
    return math.sqrt(max(float(math.fsum(terms)), 0.0))


def w2_gaussians(m1, s1, m2, s2) -> float:
    """W2 between N(m1, s1²) and N(m2, s2²): sqrt((m1 − m2)² + (s1 − s2)²).

    >>> w2_gaussians(0, 1, 3, 5)
    5.0
    """
    return math.hypot(m1 - m2, s1 - s2)


def density_l2(samples, target, width) -> float:
    """L2 distance between the histogram density of ``samples`` (bins [kw − w/2, kw + w/2)) and
    the target's density.

    >>> from fxsim.samplers.targets import Gaussian
    >>> round(density_l2(np.zeros(10), Gaussian(), 1.0), 4)    # all mass in [-0.5, 0.5)
    0.7185
    """
    if not (isinstance(width, (int, float)) and width > 0 and math.isfinite(width)):
        raise ValueError(f"width: must be a positive number, got {width!r}")
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size == 0 or not np.isfinite(x).all():
        raise ValueError("samples: empty or not finite")
    k = np.floor(x / width + 0.5).astype(np.int64)
    ks, counts = np.unique(k, return_counts=True)
    h = counts / (x.size * width)
    a, b = (ks - 0.5) * width, (ks + 0.5) * width
    M0, _, _ = target.partial_moments(a, b)
    inside = h * h * width - 2.0 * h * M0 + target.sq_density_integral(a, b)
    outside = float(target.sq_density_integral(-np.inf, np.inf)) - float(np.sum(target.sq_density_integral(a, b)))
    return math.sqrt(max(math.fsum(inside) + outside, 0.0))


def predictive(model, samples, X=None, y=None):
    """Test error and mean negative log-likelihood of the posterior predictive
    p(y | x) = mean over samples of softmax(x W + c) (``model``: a ``BayesLogistic``;
    ``samples``: θ of shape (S, dim)).  Returns (error, nll).

    >>> from fxsim.samplers.targets import BayesLogistic
    >>> m = BayesLogistic(n_train=200)
    >>> err, nll = predictive(m, np.zeros((1, m.dim)))
    >>> round(nll, 4) == round(math.log(10), 4)
    True
    """
    X = model.X_test if X is None else X
    y = model.y_test if y is None else y
    th = np.asarray(samples, dtype=np.float64).reshape(-1, model.dim)
    prob = np.zeros((len(y), model.classes))
    for s in range(0, th.shape[0], 64):
        z = model.logits(th[s:s + 64], X)
        z -= z.max(axis=2, keepdims=True)
        p = np.exp(z)
        prob += (p / p.sum(axis=2, keepdims=True)).sum(axis=0)
    prob /= th.shape[0]
    err = float(np.mean(prob.argmax(axis=1) != y))
    nll = float(-np.mean(np.log(np.maximum(prob[np.arange(len(y)), y], 1e-300))))
    return err, nll
