"""The algorithms a sweep runs (its ``algorithm`` key), one family per algorithm contract of
``fxsim.models.protocols``:

| family | algorithms | models (``model``) | one iteration | series a run can record |
|---|---|---|---|---|
| ``GDModel`` | ``gd``, ``sgd`` (``fxsim.optim.GD``) | ``MODEL_NAMES`` | a step | loss excess gnorm moved inexact overflowed |
| ``FiniteSum`` | ``svrg``, ``lp_sgd``, ``lp_svrg``, ``halp`` (``fxsim.optim``) | linear_regression, softmax_regression | an epoch | loss excess err overflowed scale |
| ``TrackingAgents`` | ``tracking`` (``fxsim.optim.gradient_tracking``) | distributed_least_squares | a step | err err_max consensus bits |
| ``SamplerTarget`` | ``sgld``, ``sghmc`` (``fxsim.samplers``) | gaussian, gaussian_mixture | a step | mean w2 |

How a run's settings reach each family: the low-precision finite-sum methods keep their
weights (LP-SGD, LP-SVRG) or offsets (HALP: b = the word length) in ``format`` and write back
with the accelerator's ``update`` role (the strategy's rounding, ``accelerator.r``, the run's
``source``); gradient tracking sends its messages through a ``FixedPointQuantizer`` of
``format`` rounding as the ``update`` role does; the samplers keep their chains in ``format``
with ``accelerator.r`` random bits from ``source`` (their rounding is
``algorithm_params.variant``; the strategy is not used).  ``svrg`` is the full-precision
reference.  Seeds: the run's first seed word seeds the algorithm (start point, minibatches,
chains), the second its bit sources (``run.run_seeds``).
"""
from __future__ import annotations

__all__ = ["FAMILIES", "ALGORITHMS", "family_of", "models_of", "record_of", "RECORDABLE"]

#: family -> (protocol, models, recordable series, default record)
FAMILIES = {
    "GDModel": ("fxsim.models.GDModel",
                ("quadratic", "aligned_quadratic", "least_squares", "rosenbrock", "himmelblau",
                 "logistic", "mlp"),
                ("loss", "excess", "gnorm", "moved", "inexact", "overflowed"), ("loss", "excess")),
    "FiniteSum": ("fxsim.models.FiniteSum", ("linear_regression", "softmax_regression"),
                  ("loss", "excess", "err", "overflowed", "scale"), ("loss", "excess")),
    "TrackingAgents": ("fxsim.models.TrackingAgents", ("distributed_least_squares",),
                       ("err", "err_max", "consensus", "bits"), ("err", "consensus")),
    "SamplerTarget": ("fxsim.models.SamplerTarget", ("gaussian", "gaussian_mixture"),
                      ("mean", "w2"), ("mean", "w2")),
}
#: algorithm -> (family, its parameters in ``algorithm_params``, required ones)
ALGORITHMS = {
    "gd": ("GDModel", ("t", "mode", "t_fmt"), ("t",)),
    "sgd": ("GDModel", ("t", "mode", "t_fmt", "batch_size"), ("t", "batch_size")),
    "svrg": ("FiniteSum", ("alpha", "T", "batch"), ("alpha",)),
    "lp_sgd": ("FiniteSum", ("alpha", "T", "batch"), ("alpha",)),
    "lp_svrg": ("FiniteSum", ("alpha", "T", "batch"), ("alpha",)),
    "halp": ("FiniteSum", ("alpha", "mu", "scale", "inner", "T", "batch"), ("alpha",)),
    "tracking": ("TrackingAgents", ("alpha", "gamma", "graph", "scale0", "scale_decay"), ("alpha",)),
    "sgld": ("SamplerTarget", ("eta", "variant", "grad_noise", "grad_fmt", "chains"), ("eta",)),
    "sghmc": ("SamplerTarget", ("eta", "gamma", "u", "variant", "grad_noise", "grad_fmt", "chains"),
              ("eta",)),
}
#: every series some algorithm records
RECORDABLE = tuple(dict.fromkeys(r for f in FAMILIES.values() for r in f[2]))
#: the per-step counters (no value at iteration 0)
COUNTERS = ("moved", "inexact", "overflowed")


def family_of(algorithm: str) -> str:
    """The family (algorithm contract) of ``algorithm``.

    >>> family_of("halp"), family_of("sgld")
    ('FiniteSum', 'SamplerTarget')
    """
    return ALGORITHMS[algorithm][0]


def models_of(algorithm: str) -> tuple:
    """The model names ``algorithm`` runs on.

    >>> models_of("tracking")
    ('distributed_least_squares',)
    """
    return FAMILIES[family_of(algorithm)][1]


def record_of(algorithm: str) -> tuple:
    """The series ``algorithm`` can record.

    >>> record_of("lp_svrg")
    ('loss', 'excess', 'err', 'overflowed', 'scale')
    """
    return FAMILIES[family_of(algorithm)][2]


def model_class(name: str):
    """The class (or factory) of a model name of any family."""
    from fxsim import models
    from fxsim.models.finite_sum import LinearRegression, SoftmaxRegression
    from fxsim.samplers import Gaussian, GaussianMixture
    extra = {"aligned_quadratic": models.AlignedQuadratic,
             "linear_regression": LinearRegression, "softmax_regression": SoftmaxRegression,
             "distributed_least_squares": models.DistributedLeastSquares,
             "gaussian": Gaussian, "gaussian_mixture": GaussianMixture}
    return extra[name] if name in extra else models.MODELS[name]


def run_algorithm(p, model, accel, gseed, aseed):
    """Run ``p["iterations"]`` iterations of the run's algorithm; returns (series, summary):
    every recordable series of its family as an array over iterations 0..N (``COUNTERS``
    hold -1 at 0) and the summary values it has (``final_loss``, ``final_excess``,
    ``min_excess``, ``final_err``, ``inexact_total``, ``overflowed_total``, ...)."""
    import numpy as np
    alg, ap, n = p["algorithm"], dict(p["algorithm_params"]), p["iterations"]
    fam = family_of(alg)
    if fam == "GDModel":
        from ..optim import GD
        h = GD(model, accel, seed=gseed, **ap).run(n)
        ex = np.asarray(h.excess, dtype=np.float64)
        series = {"loss": np.asarray(h.loss, dtype=np.float64), "excess": ex,
                  "gnorm": np.asarray(h.gnorm, dtype=np.float64)}
        for c in ("moved", "inexact", "overflowed"):
            v = np.asarray(getattr(h, c), dtype=np.int64)
            series[c] = np.concatenate([[-1], v]) if v.size else np.full(h.n_iters + 1, -1)
        tol = p.get("tol")
        summary = {"n_iters": h.n_iters, "final_loss": float(h.loss[-1]), "final_excess": float(ex[-1]),
                   "min_excess": float(ex.min()),
                   "iters_to_tol": h.iters_to_tol(tol) if tol is not None else None,
                   "stagnation_iter": h.stagnation_iter(),
                   "inexact_total": int(np.sum(h.inexact)), "overflowed_total": int(np.sum(h.overflowed))}
        return series, summary
    if fam == "FiniteSum":
        from .. import optim
        from ..qformat import QFormat
        fmt = QFormat.parse(p["format"])
        kw = {k: ap[k] for k in ("T", "batch") if k in ap}
        if alg == "svrg":
            m = optim.SVRG(model, ap["alpha"], seed=gseed, **kw)
        elif alg == "halp":
            kw.update({k: ap[k] for k in ("mu", "scale", "inner") if k in ap})
            m = optim.HALP(model, ap["alpha"], fmt.wl, accel=accel, seed=gseed, **kw)
        else:
            cls = optim.LPSGD if alg == "lp_sgd" else optim.LPSVRG
            m = cls(model, ap["alpha"], fmt.wl, fmt=fmt, accel=accel, seed=gseed, **kw)
        tr = m.run(n)
        gap = np.asarray(tr.gap, dtype=np.float64)
        ov = np.asarray(tr.overflowed, dtype=np.int64).copy()
        ov[0] = -1
        series = {"loss": gap + float(model.f_star), "excess": gap,
                  "err": np.asarray(tr.err, dtype=np.float64), "overflowed": ov,
                  "scale": np.asarray(tr.scale, dtype=np.float64)}
        summary = {"n_iters": n, "final_loss": float(series["loss"][-1]), "final_excess": float(gap[-1]),
                   "min_excess": float(gap.min()), "final_err": float(tr.err[-1]),
                   "overflowed_total": int(ov[1:].sum())}
        return series, summary
    if fam == "TrackingAgents":
        from ..optim import gradient_tracking, mixing_matrix
        from ..optim.compressors import FixedPointQuantizer
        from ..qformat import QFormat
        fmt = QFormat.parse(p["format"])
        mode = accel.mode("update")
        comp = FixedPointQuantizer(wl=fmt.wl, fl=fmt.fl, source=p.get("source") or "lfsr16",
                                   seed=aseed, r=accel.r, cast_mode=mode)
        W = mixing_matrix(ap.get("graph", "ring"), model.n_agents, seed=gseed)
        res = gradient_tracking(model, W, comp, alpha=ap["alpha"], gamma=ap.get("gamma", 1.0),
                                scale0=ap.get("scale0", 1.0), scale_decay=ap.get("scale_decay"),
                                n_iters=max(n, 1))
        steps = res.steps()
        series = {k: np.asarray(steps[k], dtype=np.float64) for k in ("err", "err_max", "consensus")}
        series["bits"] = np.asarray(steps["bits"], dtype=np.int64)      # sent so far, per agent
        series = {k: v[:n + 1] for k, v in series.items()}
        summary = {"n_iters": n, "final_err": float(series["err"][-1])}
        return series, summary
    from .. import samplers
    cls = samplers.SGLD if alg == "sgld" else samplers.SGHMC
    kw = {k: ap[k] for k in ap if k != "chains"}
    s = cls(model, fmt=p["format"], r=accel.r, source=p.get("source") or "ideal", **kw)
    chains = int(ap.get("chains", 64))
    snaps = np.asarray(s.run(chains, max(n, 1), seed=gseed).samples, dtype=np.float64)[:n]
    # a sampler records the chains after steps 1..n (iteration 0 has no record)
    mean = snaps[:, :, 0].mean(axis=1)
    w2 = np.array([samplers.w2_1d(x[:, 0], model) if model.dim == 1 else np.nan for x in snaps])
    return ({"iteration": np.arange(1, n + 1, dtype=np.int64), "mean": mean, "w2": w2},
            {"n_iters": n, "final_err": float(w2[-1]) if n else None})
