"""What each algorithm needs of a model, declared as ``typing.Protocol``s.

One name for the minimizer and one for the optimal value across models: ``x_star`` (None when
unknown) and ``f_star`` (None when unknown); ``optimum`` and ``w_star`` are the older names,
kept as read-only aliases (``KnownOptimum``).  A model's accelerator argument is ``accel``
(``acc`` is only ever an accumulator format).

Every protocol is ``runtime_checkable``: ``isinstance(model, GDModel)`` checks that the methods
and attributes are present (not their signatures).

>>> from fxsim.models import Quadratic, DistributedLeastSquares
>>> isinstance(Quadratic(d=3), GDModel), isinstance(DistributedLeastSquares(), TrackingAgents)
(True, True)
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["GDModel", "FiniteSum", "SamplerTarget", "TrackingAgents", "KnownOptimum"]


@runtime_checkable
class GDModel(Protocol):
    """A model for ``fxsim.optim.GD``: ``dim``, ``x0(rng=None)``, ``loss(x)``, ``grad(x)``,
    ``fx_grad(xq, accel)`` (the gradient on the emulated accelerator, a ``FixedArray``),
    ``x_star``/``f_star``.  Minibatch SGD also needs ``n_samples`` and ``idx`` arguments.

    >>> from fxsim.models import Rosenbrock
    >>> isinstance(Rosenbrock(), GDModel)
    True
    """
    dim: int
    x_star: np.ndarray | None
    f_star: float | None

    def x0(self, rng=None) -> np.ndarray: ...

    def loss(self, x) -> float: ...

    def grad(self, x) -> np.ndarray: ...

    def fx_grad(self, xq, accel=None): ...


@runtime_checkable
class FiniteSum(Protocol):
    """A finite sum f = (1/n) Σ f_i for SVRG, LP-SVRG, LP-SGD and HALP: ``n_samples``, ``dim``,
    ``loss(w)``, ``grad(w, idx=None)`` (the mean gradient over the indices ``idx``; all when
    None), ``x_star``, ``f_star``, ``mu`` (strong convexity), ``L`` (smoothness of one f_i),
    ``w_range`` (a bound on the weights).

    >>> from fxsim.models.finite_sum import LinearRegression
    >>> isinstance(LinearRegression(), FiniteSum)
    True
    """
    n_samples: int
    dim: int
    x_star: np.ndarray
    f_star: float
    mu: float
    L: float
    w_range: float

    def loss(self, w) -> float: ...

    def grad(self, w, idx=None) -> np.ndarray: ...


@runtime_checkable
class SamplerTarget(Protocol):
    """A target p(θ) ∝ exp(−U(θ)/T) of SGLD/SGHMC: ``dim``, ``temperature``, ``grad(theta)``
    (∇U at θ of shape (chains, dim)) and ``grad_words(raw, fmt)`` (∇U at words of ``fmt``).

    >>> from fxsim.samplers import Gaussian
    >>> isinstance(Gaussian(), SamplerTarget)
    True
    """
    dim: int
    temperature: float

    def grad(self, theta) -> np.ndarray: ...

    def grad_words(self, raw, fmt) -> np.ndarray: ...


@runtime_checkable
class TrackingAgents(Protocol):
    """N agents of distributed gradient tracking: ``n_agents``, ``d``, ``grad(X)`` (row i:
    agent i's local gradient at its row of X, (N, d) -> (N, d)), ``loss(x)`` (the global f at
    one point), ``x_star``, ``f_star``.

    >>> from fxsim.models import DistributedLeastSquares
    >>> isinstance(DistributedLeastSquares(n_agents=2, m=10, d=3), TrackingAgents)
    True
    """
    n_agents: int
    d: int
    x_star: np.ndarray
    f_star: float

    def grad(self, X) -> np.ndarray: ...

    def loss(self, x) -> float: ...


class KnownOptimum:
    """Mixin: ``optimum`` and ``w_star``, the older names of ``x_star``.

    >>> class M(KnownOptimum):
    ...     x_star = np.zeros(2)
    >>> M().optimum is M.x_star, M().w_star is M.x_star
    (True, True)
    """

    @property
    def optimum(self):
        """Old name of ``x_star``."""
        return self.x_star

    @property
    def w_star(self):
        """Old name of ``x_star``."""
        return self.x_star
