"""One run of a sweep: a pure function of the run (its settings, run index, replicate and the
sweep's root seed), the same on any worker.

A run builds the model, the accelerator (``config.build_accelerator``: the format, the
strategy's per-role casts, the source) and the algorithm (``algorithms``: GD/SGD, SVRG, LP-SGD,
LP-SVRG, HALP, gradient tracking, SGLD, SGHMC), and runs it for ``iterations`` iterations.  Its seeds: ``SeedSequence(seed,
spawn_key=(run index, replicate))`` gives two 32-bit words, the first seeds the algorithm (start
point, minibatches), the second the accelerator's bit sources.  An exception inside the run is
caught and recorded (``status = "failed"`` and the error): a failed run does not stop a sweep.
"""
from __future__ import annotations

import numpy as np

from ..qformat import QFormat
from .algorithms import model_class, run_algorithm
from .config import build_accelerator

__all__ = ["run_seeds", "build_model", "run_one", "SUMMARY_FIELDS"]

#: the summary of a run (besides its identity and labels): name -> arrow type
SUMMARY_FIELDS = {"status": "string", "error": "string", "n_iters": "int64",
                  "final_loss": "float64", "final_excess": "float64", "min_excess": "float64",
                  "iters_to_tol": "int64", "stagnation_iter": "int64",
                  "inexact_total": "int64", "overflowed_total": "int64", "final_err": "float64"}


def run_seeds(seed: int, index: int, replicate: int):
    """(algorithm seed, accelerator seed) of a run, from
    ``SeedSequence(seed, spawn_key=(index, replicate))``.

    >>> run_seeds(0, 3, 1) == run_seeds(0, 3, 1) != run_seeds(0, 3, 2)
    True
    """
    ss = np.random.SeedSequence(int(seed), spawn_key=(int(index), int(replicate)))
    a, b = ss.generate_state(2, np.uint32)
    return int(a), int(b)


def build_model(p):
    """The run's model from ``model`` and ``model_params``; a ``grid`` parameter given as a
    string is a format (``"format"``: the run's weights format).

    >>> build_model({"model": "aligned_quadratic", "format": "Q8.8",
    ...              "model_params": {"d": 3, "grid": "format"}}).grid
    QFormat(wl=16, fl=8, signed=True)
    """
    kw = dict(p.get("model_params", {}))
    if isinstance(kw.get("grid"), str):
        kw["grid"] = QFormat.parse(p["format"] if kw["grid"] == "format" else kw["grid"])
    return model_class(p["model"])(**kw)


def _steps(n, every):
    k = np.arange(0, n + 1, every, dtype=np.int64)
    if k[-1] != n:
        k = np.append(k, n)
    return k


def run_one(run: dict) -> dict:
    """Run one sweep run (a dict of ``SweepConfig.runs``): {"key", "series" (column -> array,
    the recorded iterations), "summary" (``SUMMARY_FIELDS``)}; never raises for a failure
    inside the run (``status = "failed"``, ``error`` = its type and message).

    >>> from fxsim.sweep.config import SweepConfig, example
    >>> out = run_one(SweepConfig(example()).runs[0])
    >>> out["summary"]["status"], out["series"]["iteration"][:3].tolist(), len(out["series"]["loss"])
    ('ok', [0, 1, 2], 151)
    """
    p = run["params"]
    try:
        gseed, aseed = run_seeds(run["seed"], run["index"], run["replicate"])
        model = build_model(p)
        accel = build_accelerator(p, aseed)
        series, values = run_algorithm(p, model, accel, gseed, aseed)
    except Exception as e:                  # recorded, the sweep goes on
        summary = {k: None for k in SUMMARY_FIELDS}
        summary.update(status="failed", error=f"{type(e).__name__}: {e}")
        return {"key": run["key"], "series": None, "summary": summary}
    n = len(next(iter(series.values())))
    it = np.asarray(series.pop("iteration", np.arange(n)), dtype=np.int64)
    pick = np.isin(it, _steps(int(it[-1]) if it.size else 0, run["every"]))
    out = {"iteration": it[pick]}
    for name in run["record"]:
        out[name] = np.asarray(series[name])[pick]
    summary = {k: None for k in SUMMARY_FIELDS}
    summary.update(status="ok", error="", **values)
    return {"key": run["key"], "series": out, "summary": summary}
