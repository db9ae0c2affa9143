"""Models for the optimizers: loss, exact gradient and a fully emulated fixed-point
gradient on fxsim's integer datapath.

Protocol — every model has:

``dim``            number of parameters (the optimizer's x is a flat vector of this length).
``x0(rng=None)``   a float64 start point; ``rng`` is a seed or ``numpy.random.Generator``
                   (None: the model's default start).
``loss(x)``        f(x), float64 (numerically stable; exact up to float64 rounding).
``grad(x)``        ∇f(x), float64 ndarray of shape (dim,), closed form / backprop.
``fx_grad(xq, accel)``  the gradient computed on the emulated accelerator: ``xq`` is a
                   ``FixedArray`` in the ``weights`` format (a float array is cast to it
                   first), every multiply-accumulate is fxsim's ``matvec``/``matmul``/``mul``/
                   ``add`` with the accelerator's accumulator, intermediate values are cast to
                   ``acts``, the result is a ``FixedArray`` in ``grads``.  ``accel`` is any object
                   with the attributes ``weights grads acts acc`` (QFormat or str) and
                   ``rounding overflow`` (str), ``source`` (bit source or None), ``r``, ``eps``;
                   missing ones take defaults (Q(16,8) weights, grads = acts = weights, a
                   Q(32,16) accumulator, nearest_even, saturate), so a ``SimpleNamespace``
                   works; an ``fxsim.Accelerator`` is read per cast role (see ``_fx.Env``).
``x_star``         x* if known (else None), ``f_star`` f(x*) if known (else None); ``optimum``
                   is the older name of ``x_star``.  (The keyword ``acc=`` of ``fx_grad`` and
                   ``fx_bound`` is deprecated: ``acc`` only ever names an accumulator format.)

Optional: ``fx_bound(xq, accel)`` — a per-component bound on |fx_grad(xq) − grad(xq)| derived
in the class docstring (valid when no cast overflows); data models (``LeastSquares``,
``LogisticRegression``, ``MLP``) also have ``n_samples`` and take ``idx`` (an index array of
samples, for minibatches) in ``loss``, ``grad``, ``fx_grad``.

Models: ``Quadratic``, ``LeastSquares`` (+ ``make_least_squares``), ``Rosenbrock``,
``Himmelblau``, ``LogisticRegression``, ``MLP``; for the other algorithms the finite sums
``finite_sum.LinearRegression``/``SoftmaxRegression`` (SVRG, HALP), ``DistributedLeastSquares``,
``DistributedNonconvexLogistic``
(gradient tracking) and ``BayesLogistic`` (samplers).  ``protocols`` declares what each
algorithm needs (``GDModel``, ``FiniteSum``, ``SamplerTarget``, ``TrackingAgents``).  Data: ``builtin_dataset(name)`` (scikit-learn's
bundled breast cancer / digits, nothing downloaded) and ``load_dataset(path)`` for user
``.npz`` (keys X, y) / CSV (last column y).  ``make_model(name, **kw)`` builds one by name.
"""
from .classic import Himmelblau, Rosenbrock
from .data import BUILTIN, builtin_dataset, load_dataset
from .logistic import LogisticRegression
from .mlp import MLP
from .quadratic import LeastSquares, Quadratic, make_least_squares
# -- models of the other algorithms and their protocols
from .bayes_logistic import BayesLogistic
from .distributed import DistributedLeastSquares, DistributedNonconvexLogistic
from .protocols import FiniteSum, GDModel, SamplerTarget, TrackingAgents

MODELS = {
    "quadratic": Quadratic,
    "least_squares": make_least_squares,
    "rosenbrock": Rosenbrock,
    "himmelblau": Himmelblau,
    "logistic": LogisticRegression,
    "mlp": MLP,
}


def make_model(name: str, **kwargs):
    """A model by name (``MODELS`` keys), keyword arguments passed to its constructor.

    >>> make_model("quadratic", d=3, cond=4.0).dim
    3
    >>> make_model("svm")
    Traceback (most recent call last):
        ...
    ValueError: unknown model 'svm'; choose one of quadratic, ...
    """
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None
    return cls(**kwargs)


__all__ = ["Quadratic", "LeastSquares", "make_least_squares", "Rosenbrock", "Himmelblau",
           "LogisticRegression", "MLP", "load_dataset", "builtin_dataset", "BUILTIN", "MODELS",
           "make_model"]
__all__ += ["DistributedLeastSquares", "DistributedNonconvexLogistic", "BayesLogistic", "GDModel", "FiniteSum", "SamplerTarget",
            "TrackingAgents"]

# Models of the studies: the GD study's axis-aligned quadratic, the amplification study's decay
from .aligned import AlignedQuadratic  # noqa: E402
from .decayed import DecayedModel  # noqa: E402

__all__ += ["AlignedQuadratic", "DecayedModel"]

# Unfolded networks of the unfolded-study (LISTA, ADMM-CSNet, FFNN with a smooth soft-threshold)
from .unfolded import ADMMCSNet, FFNN, LISTA  # noqa: E402

__all__ += ["LISTA", "ADMMCSNet", "FFNN"]
