"""Gradient descent with rounding strategies on the emulated accelerator (``fxsim gd-study``).

The main study (Xia, Massei, Hochstenbach: GD in low-precision fixed point under the
PL inequality).  For every model, Q format, bit source and strategy, GD runs in the paper's
setting (``mode="exact"``: exact gradient, every cast on fxsim's datapath) from the same start
points (one per seed) and records f(x_k) − f*.

Datapath: the fused update of a MAC, x ← cast_update(x − t·cast_grad(∇f(x))) (``prod=None``:
the product t·g is kept exact and only the write-back rounds), weights = grads = the format.
This is where the notes (``gd-rounding-first-look.md``) find that the bias of signed-SR_ε acts:
with a separate step cast on the weights' grid the write-back would be exact and signed-SR_ε
could not act at all.  Strategies (``STRATEGIES``; cast of the gradient / of the write-back):

=================  =====================  ==========================================
round-to-nearest   nearest_even           nearest_even
SR                 stochastic             stochastic
SR_ε               stochastic_eps         stochastic_eps        (ε = 0.2, both casts)
signed-SR_ε        stochastic             signed_stochastic_eps (ε = 0.2, v = ∇f(x))
=================  =====================  ==========================================

Sources: ``lfsr16`` (a 16-bit LFSR, one spawned stream per cast role) and ``pcg64`` (ideal
bits) by default; ``run(sources=...)`` / ``--source`` take any ``fxsim.make_source`` spec;
r = 16 random bits per draw.

Models (``default_models``): the quadratic f = ½(x − c)ᵀA(x − c), d = 20, eigenvalues
log-spaced in [1, 10] (μ = 1, L = 10), with its eigenbasis aligned to the axes
(``AlignedQuadratic``: A diagonal, so the round-to-nearest stagnation bounds of
``fxsim.optim.stagnation_level`` apply component by component), the minimizer c on the
format's grid and off it; and L2-regularised logistic regression on scikit-learn's breast cancer
data (d = 31, λ = 1e-3), step t = 1/λ_max(∇²f(x*)).  Quadratic step: t = 0.05.

Opt-in models (``run(models=[...])``, ``fxsim gd-study --models LIST|all``; the main job is
unchanged): least squares (``make_least_squares(m=60, d=20, seed=0)``, t = 1/L), Rosenbrock
(Q(24,12)/Q(28,16), t = 1.5e-3), Himmelblau (Q(20,12)/Q(24,16), t = 0.01) and the MLP on
digits (full-batch GD, t = 0.5, 300 iterations, 2 seeds); formats ``MODEL_FORMATS``, steps
``STEPS`` (reasons next to them), budgets and seeds in ``PRESETS``.  f*: the model's; for
Rosenbrock/Himmelblau the loss at the minimum the float64 run from the same start converges
to; the MLP (f* unknown) plots its loss and uses tol = 1.1 × the float64 loss after N steps.

Tolerance (``tolerance``): tol = 5·d·u²·min(1, L), u = 2^−fl the LSB (the notes' 5·d·2^−2fl,
scaled down by the curvature L at x* when L < 1): a few LSB of error per weight.  For the
quadratic it lies below the derived round-to-nearest lower bound, so RN cannot reach it.

Every job (model, format, source) seeds itself from ``(seed, model, seed index)`` through
``numpy.random.SeedSequence`` (the same start point and the same accelerator seed for every
strategy and source: common random numbers), so rows do not depend on the worker count or
order.  ``run(out_dir, quick=False, seed=0, progress=True)`` runs the jobs on the sweeps'
runner (``fxsim.sweep.jobs.map_jobs``: 2 local Dask workers, or ``--scheduler ADDRESS``), writes ``gd_study.csv`` (summary,
medians over seeds), ``gd_study_runs.csv`` (one row per run), ``gd_study.md`` and one PNG per
model, and returns {"rows", "summary", "markdown", "files", "seconds"}.
"""
from __future__ import annotations

import functools
import math
import os
import time
import zlib

import numpy as np

from ._report import (add_study_options, arg_type, figure, finish, fmt_number, markdown_table, pos_int,
                      make_progress, print_study, study_scheduler, write_csv)

from . import gd_float
from ..accelerator import Accelerator
from ..optim import GD, stagnation_level
from ..qformat import QFormat
from .. import cast, make_source
from ..sweep.config import dump_toml
from ..sweep.jobs import map_jobs
from fxsim.models import (MLP, AlignedQuadratic, Himmelblau, LogisticRegression, Rosenbrock,
                          make_least_squares)

__all__ = ["STRATEGIES", "SOURCES", "FORMATS", "PRESETS", "MODELS", "DEFAULT_MODELS",
           "MODEL_FORMATS", "STEPS", "resolve_models", "resolve_sources", "source_label", "float64_run", "COLUMNS", "SUMMARY_COLUMNS",
           "AlignedQuadratic", "default_models", "build_model", "make_accelerator", "tolerance",
           "run_job", "summarize", "markdown", "run", "sweep_config"]

EPS = 0.2
R_BITS = 16
T_QUAD = 0.05
#: strategy -> {cast role: rounding} (fused datapath: roles grad and update)
STRATEGIES = {
    "round-to-nearest": {},
    "SR": {"grad": "stochastic", "update": "stochastic"},
    "SR_ε": {"grad": "stochastic_eps", "update": "stochastic_eps"},
    "signed-SR_ε": {"grad": "stochastic", "update": "signed_stochastic_eps"},
}
#: the default bit sources (``fxsim.make_source`` specs) and their labels; ``run(sources=...)``
#: and ``fxsim gd-study --source`` take any make_source spec (labelled by the spec itself)
SOURCES = {"lfsr16": "LFSR n=16", "pcg64": "ideal PCG64"}


def resolve_sources(spec) -> list:
    """Bit-source specs from a list or a comma-separated string; each must be a
    ``fxsim.make_source`` spec (ValueError naming ``source`` otherwise).

    >>> resolve_sources("lfsr16, lfsr:16:fibonacci:state")
    ['lfsr16', 'lfsr:16:fibonacci:state']
    >>> resolve_sources("lfsr99")
    Traceback (most recent call last):
        ...
    ValueError: source 'lfsr99': ...
    """
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    out = [n.strip() for n in names if n.strip()]
    if not out:
        raise ValueError("source: no bit source given (e.g. lfsr16,pcg64)")
    for n in out:
        make_source(n, seed=1)                  # refuses a bad spec, naming it
    return list(dict.fromkeys(out))


def source_label(spec: str) -> str:
    """The label of a source in tables and legends.

    >>> source_label("pcg64"), source_label("lfsr:8:fibonacci")
    ('ideal PCG64', 'lfsr:8:fibonacci')
    """
    return SOURCES.get(spec, spec)
FORMATS = (QFormat(16, 8), QFormat(20, 12))
#: model key -> (label, constructor keyword arguments)
MODELS = {
    "quadratic_grid": ("Quadratic d=20, cond=10, minimizer on the grid", {"center": "grid"}),
    "quadratic_off": ("Quadratic d=20, cond=10, minimizer off the grid", {"center": "off"}),
    "logistic": ("Logistic regression, breast cancer (d=31, λ=1e-3)", {}),
    # -- opt-in models (``run(models=...)``, ``fxsim gd-study --models ...``) --
    "least_squares": ("Least squares, synthetic (m=60, d=20, noise 0.1, seed 0), t=1/L", {}),
    "rosenbrock": ("Rosenbrock (a=1, b=100), t=1.5e-3", {}),
    "himmelblau": ("Himmelblau, t=0.01", {}),
    "mlp": ("MLP 64-32-32-16-10 on digits, full-batch GD, t=0.5", {}),
}
#: the models of the main job (``default_models``); the others run only when asked for
DEFAULT_MODELS = ("quadratic_grid", "quadratic_off", "logistic")
#: ``--models`` aliases
MODEL_ALIASES = {"quadratic": "quadratic_grid"}
#: per-model formats (``run(formats=None)``); the models not listed use ``FORMATS``.
#: Rosenbrock: the gradient reaches ~170 on the float64 path from (−1.2, 1) (the first steps,
#: −4b·x(y − x²) with b = 100), so 12 integer bits (±2048) and a 12x margin; Himmelblau:
#: |∇f| ≤ ~60 on the path from [−0.5, 0.5]², so 8 integer bits (±128) and a 2x margin.
MODEL_FORMATS = {
    "rosenbrock": (QFormat(24, 12), QFormat(28, 16)),
    "himmelblau": (QFormat(20, 12), QFormat(24, 16)),
}
#: step sizes of the opt-in models, all converging in float64 from every start point:
#: least squares (m = 60 rows, d = 20: μ ≈ 0.11, L = λ_max(AᵀA/m) ≈ 2.24, cond ≈ 20 — the
#: small eigenvalue is what makes round-to-nearest stall, as on the quadratic; with m = 200,
#: cond ≈ 3.6, it lands as low as SR) t = 1/L (linear rate 1 − μ/L: 400 iterations suffice);
#: Rosenbrock t = 1.5e-3 < 2/L, L = λ_max(∇²f(1, 1)) ≈ 1002 (float64 reaches f ≈ 1e-11 in
#: 20 000 iterations; t = 1e-3 is slower); Himmelblau t = 0.01 < 2/L, L = λ_max(∇²f(3, 2))
#: ≈ 82.3 (float64 reaches a minimum to machine precision in < 500 iterations); MLP t = 0.5
#: (float64 full-batch GD: cross-entropy 2.5 → 0.024 in 300 iterations; t = 1 diverges).
STEPS = {"rosenbrock": 1.5e-3, "himmelblau": 0.01, "mlp": 0.5}
#: float64 iterations of the reference run that fixes f* of Rosenbrock/Himmelblau
F64_ITERS = {"rosenbrock": 40000, "himmelblau": 3000}
PRESETS = {
    "full": dict(seeds=7, iters={"quadratic": 400, "logistic": 1500, "least_squares": 400,
                                 "rosenbrock": 12000, "himmelblau": 500, "mlp": 300},
                 model_seeds={"rosenbrock": 2, "mlp": 2}),
    "quick": dict(seeds=3, iters={"quadratic": 250, "logistic": 600, "least_squares": 250,
                                  "rosenbrock": 3000, "himmelblau": 300, "mlp": 150},
                  model_seeds={"rosenbrock": 2, "mlp": 1}),
}
COLUMNS = ["model", "center", "format", "fl", "source", "strategy", "seed", "t", "n_iters", "tol",
           "final_excess", "tail_excess", "iters_to_tol", "stagnation_iter", "rn_lower",
           "rn_upper"]
SUMMARY_COLUMNS = ["model", "format", "source", "strategy", "n_seeds", "n_iters", "tol",
                   "final_excess", "tail_excess", "iters_to_tol", "reached", "stagnation_iter",
                   "rn_lower", "rn_upper"]


# -- models, accelerators, tolerance -----------------------------------------------------------

def default_models() -> list:
    """The models of the main job (``DEFAULT_MODELS``).

    >>> default_models()
    ['quadratic_grid', 'quadratic_off', 'logistic']
    """
    return list(DEFAULT_MODELS)


def resolve_models(spec) -> list:
    """Model keys from a list or a comma-separated string (``all``: every model; ``quadratic``
    means ``quadratic_grid``); raises ValueError on an unknown name.

    >>> resolve_models("quadratic,logistic")
    ['quadratic_grid', 'logistic']
    >>> resolve_models("svm")
    Traceback (most recent call last):
        ...
    ValueError: ...
    """
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for n in (n.strip() for n in names):
        if not n:
            continue
        keys = list(MODELS) if n == "all" else [MODEL_ALIASES.get(n, n)]
        for k in keys:
            if k not in MODELS:
                raise ValueError(f"unknown model {n!r}; choose from "
                                 f"{', '.join(['all', *MODEL_ALIASES, *MODELS])}")
            if k not in out:
                out.append(k)
    if not out:
        raise ValueError("no model given")
    return out


def _iters_key(key: str) -> str:
    return "quadratic" if key.startswith("quadratic") else key


def float64_run(model, t: float, x0, n_iters: int) -> np.ndarray:
    """Plain float64 GD x ← x − t∇f(x) from ``x0``; returns the last iterate.

    >>> from fxsim.models import Quadratic
    >>> q = Quadratic(d=3, cond=2.0)
    >>> x = float64_run(q, 0.5, q.c + 1.0, 60)
    >>> bool(np.allclose(x, q.c))
    True
    """
    x = np.array(x0, dtype=np.float64)
    for _ in range(n_iters):
        x = x - t * model.grad(x)
    return x


def build_model(key: str, fmt: QFormat):
    """The model of ``key`` for format ``fmt`` (the quadratic's grid is the format's) and its
    step size t and curvature L.

    >>> m, t, L = build_model("quadratic_off", QFormat(16, 8))
    >>> m.dim, t, L
    (20, 0.05, 10.0)
    """
    if key in ("logistic", "least_squares"):
        return _shared_model(key)      # the same for every format: built once per process
    return _build_model(key, fmt)


@functools.lru_cache(maxsize=None)
def _shared_model(key: str):
    """A model that depends on neither the format nor the run (never written to by a job)."""
    return _build_model(key, None)


def _build_model(key: str, fmt):
    if key.startswith("quadratic"):
        m = AlignedQuadratic(d=20, cond=10.0, grid=fmt, seed=0, **MODELS[key][1])
        return m, T_QUAD, float(m.L)
    if key == "least_squares":
        m = make_least_squares(m=60, d=20, noise=0.1, seed=0)
        L = float(np.linalg.eigvalsh(m.A.T @ m.A / m.m).max())
        return m, 1.0 / L, L
    if key == "rosenbrock":
        m = Rosenbrock()
        x, y = m.optimum
        H = np.array([[2 - 4 * m.b * (y - 3 * x * x), -4 * m.b * x], [-4 * m.b * x, 2 * m.b]])
        return m, STEPS[key], float(np.linalg.eigvalsh(H).max())
    if key == "himmelblau":
        m = Himmelblau()
        x, y = m.optimum
        H = np.array([[12 * x * x + 4 * y - 42, 4 * x + 4 * y], [4 * x + 4 * y, 12 * y * y + 4 * x - 26]])
        return m, STEPS[key], float(np.linalg.eigvalsh(H).max())
    if key == "mlp":
        return MLP(seed=0), STEPS[key], float("nan")
    if key != "logistic":
        raise ValueError(f"unknown model {key!r}")
    m = LogisticRegression("breast_cancer")
    L = float(np.linalg.eigvalsh(m.hess(m.optimum)).max())
    return m, 1.0 / L, L


def tolerance(dim: int, fmt: QFormat, L: float) -> float:
    """tol = 5·d·u²·min(1, L), u = the format's LSB.

    >>> tolerance(20, QFormat(16, 8), L=10.0) == 5 * 20 * 2.0**-16
    True
    """
    return 5.0 * dim * fmt.lsb ** 2 * min(1.0, L)


def make_accelerator(strategy: str, fmt: QFormat, source: str, seed: int) -> Accelerator:
    """The study's accelerator: fused update, weights = grads = ``fmt``, the strategy's casts.

    >>> acc = make_accelerator("signed-SR_ε", QFormat(16, 8), "lfsr16", seed=1)
    >>> acc.casts["grad"][0], acc.casts["update"][0], acc.prod, acc.acc
    ('stochastic', 'signed_stochastic_eps', None, QFormat(wl=32, fl=16, signed=True))
    """
    casts = {role: (rnd, "saturate") for role, rnd in STRATEGIES[strategy].items()}
    return Accelerator(fmt, fmt, prod=None, acc=QFormat(2 * fmt.wl, 2 * fmt.fl), casts=casts,
                       source=source if casts else None, seed=seed, r=R_BITS, eps=EPS)


def _seeds(seed: int, model: str, k: int):
    """(GD seed, accelerator seed) of seed index k: independent of strategy, source, format."""
    words = [int(seed), zlib.crc32(model.encode()), int(k)]
    a, b = np.random.SeedSequence(words).generate_state(2, np.uint32)
    return int(a), int(b)


# -- one job -----------------------------------------------------------------------------------

def run_job(model_key: str, fmt: QFormat, source: str, seed: int, n_seeds: int, n_iters: int):
    """All strategies × seeds of one (model, format, source): (rows, curves) with curves
    {strategy: (n_seeds, n_iters + 1) array of f(x_k) − f*}.

    >>> rows, curves = run_job("quadratic_grid", QFormat(16, 8), "lfsr16", seed=0, n_seeds=1,
    ...                        n_iters=20)
    >>> len(rows), sorted(curves) == sorted(STRATEGIES), curves["SR"].shape
    (4, True, (1, 21))
    """
    model, t, L = build_model(model_key, fmt)
    quad = model_key.startswith("quadratic")
    # f* per seed: the model's, except Rosenbrock/Himmelblau: the loss at the minimum the float64
    # run from the same (quantized) start converges to; the MLP has no f* (0 is used, a lower
    # bound) and its tolerance is 1.1 x the loss float64 GD reaches in the same budget (seed 0).
    f_stars = {}
    if model_key in F64_ITERS or model_key == "mlp":
        t_q = GD(model, make_accelerator("round-to-nearest", fmt, source, 0), t, mode="exact").t
        for k in range(n_seeds if model_key in F64_ITERS else 1):
            x_ss = np.random.SeedSequence(_seeds(seed, model_key, k)[0]).spawn(2)[0]
            x0 = cast(model.x0(np.random.default_rng(x_ss)), fmt, "nearest_even", "saturate")
            xf = float64_run(model, t_q, x0.to_float(), F64_ITERS.get(model_key, n_iters))
            f_stars[k] = float(model.loss(xf))
    if model_key == "mlp":
        tol = 1.1 * f_stars.pop(0)
    else:
        tol = tolerance(model.dim, fmt, L)
    rows, curves = [], {}
    for strategy in STRATEGIES:
        ex = []
        for k in range(n_seeds):
            gseed, aseed = _seeds(seed, model_key, k)
            if k in f_stars:
                model.f_star = f_stars[k]
            g = GD(model, make_accelerator(strategy, fmt, source, aseed), t, mode="exact",
                   seed=gseed)
            lo = hi = None
            if quad:
                b = stagnation_level(g.t, fmt.lsb, model.eigs, e0=g.x.to_float() - model.c,
                                     lsb_grad=fmt.lsb)
                lo, hi = b["lower"], b["upper"]
            h = g.run(n_iters)
            e = np.maximum(h.excess, 0.0)
            ex.append(e)
            tail = max(1, n_iters // 10)
            rows.append({
                "model": model_key, "center": getattr(model, "center", None), "format": str(fmt),
                "fl": fmt.fl, "source": source, "strategy": strategy, "seed": k, "t": g.t,
                "n_iters": n_iters, "tol": tol, "final_excess": float(e[-1]),
                "tail_excess": float(e[-tail:].mean()), "iters_to_tol": h.iters_to_tol(tol),
                "stagnation_iter": h.stagnation_iter(), "rn_lower": lo, "rn_upper": hi})
        curves[strategy] = np.array(ex)
    return rows, curves


def _job(args):
    if args[0] == "mlp":        # BLAS-heavy: one thread per worker (2 workers on 2 cores)
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return run_job(*args)
        with threadpool_limits(1):
            return run_job(*args)
    return run_job(*args)


# -- summary -----------------------------------------------------------------------------------

def _median(vals):
    """Median of a list where None means "never" (counted as +inf); None if the median is."""
    v = sorted(math.inf if x is None else x for x in vals)
    if not v:
        return None
    m = float(np.median(v))
    return None if math.isinf(m) else m


def summarize(rows) -> list:
    """One row per (model, format, source, strategy): medians over seeds (iterations "never"
    count as infinite), ``reached`` = seeds reaching tol; ``rn_lower`` the smallest per-seed
    lower bound, ``rn_upper`` the largest upper bound (quadratic only).

    >>> rows, _ = run_job("quadratic_grid", QFormat(16, 8), "pcg64", 0, 2, 20)
    >>> s = summarize(rows)
    >>> len(s), s[0]["strategy"], s[0]["n_seeds"]
    (4, 'round-to-nearest', 2)
    """
    keys = list(dict.fromkeys((r["model"], r["format"], r["source"], r["strategy"]) for r in rows))
    out = []
    for key in keys:
        rs = [r for r in rows if (r["model"], r["format"], r["source"], r["strategy"]) == key]
        lo = [r["rn_lower"] for r in rs if r["rn_lower"] is not None]
        hi = [r["rn_upper"] for r in rs if r["rn_upper"] is not None]
        out.append({
            "model": key[0], "format": key[1], "source": key[2], "strategy": key[3],
            "n_seeds": len(rs), "n_iters": rs[0]["n_iters"], "tol": rs[0]["tol"],
            "final_excess": _median([r["final_excess"] for r in rs]),
            "tail_excess": _median([r["tail_excess"] for r in rs]),
            "iters_to_tol": _median([r["iters_to_tol"] for r in rs]),
            "reached": sum(r["iters_to_tol"] is not None for r in rs),
            "stagnation_iter": _median([r["stagnation_iter"] for r in rs]),
            "rn_lower": min(lo) if lo else None, "rn_upper": max(hi) if hi else None})
    return out


def _fmt(v, digits=3):
    return fmt_number(v, digits, fixed_from=1e-2)


def _it(v):
    return "never" if v is None else f"{v:g}"


def markdown(summary, meta=None) -> str:
    """The summary as markdown: one table per model.

    >>> rows, _ = run_job("quadratic_grid", QFormat(16, 8), "pcg64", 0, 1, 20)
    >>> print(markdown(summarize(rows)))
    # Gradient descent with rounding strategies (fused update, exact gradient)
    ...
    | Q8.8 | ideal PCG64 | round-to-nearest | ...
    """
    meta = meta or {}
    parts = ["# Gradient descent with rounding strategies (fused update, exact gradient)", ""]
    if meta:
        parts += [", ".join(f"{k} = {v}" for k, v in meta.items()), ""]
    parts += ["Medians over seeds. *final*: f(x_N) − f* after N iterations; *tail*: mean over the "
              "last 10 %; *iters to tol*: first k with f − f* ≤ tol (*never* if the median seed "
              "does not reach it), with the number of seeds that do; *stops moving*: the "
              "iteration from which no weight ever changes again (— : still moving at N; for "
              "round-to-nearest this is where it stagnates, for SR on the quadratic with the "
              "minimizer on the grid where it lands exactly on it). For the quadratic, *RN bound* "
              "is the derived range [lower, upper] of the loss at which round-to-nearest "
              "stagnates (`fxsim.optim.stagnation_level`, lower: smallest over the seeds' start "
              "points), next to RN's measured plateau (*final*).", ""]
    for model in dict.fromkeys(s["model"] for s in summary):
        ss = [s for s in summary if s["model"] == model]
        quad = ss[0]["rn_lower"] is not None
        parts += [f"## {MODELS.get(model, (model,))[0]} (N = {ss[0]['n_iters']} iterations)", ""]
        header = ["format", "source", "strategy", "tol", "final", "tail", "iters to tol",
                  "stops moving"]
        if quad:
            header.append("RN bound [lower, upper]")
        body = []
        for s in ss:
            row = [s["format"], source_label(s["source"]), s["strategy"],
                   _fmt(s["tol"], 2), _fmt(s["final_excess"]), _fmt(s["tail_excess"]),
                   f"{_it(s['iters_to_tol'])} ({s['reached']}/{s['n_seeds']})",
                   _fmt(s["stagnation_iter"])]
            if quad:
                row.append(f"[{_fmt(s['rn_lower'])}, {_fmt(s['rn_upper'])}]"
                           if s["strategy"] == "round-to-nearest" else "")
            body.append(row)
        parts += [markdown_table(header, body), ""]
    return "\n".join(parts)


# -- figures -----------------------------------------------------------------------------------

COLORS = {"round-to-nearest": "tab:red", "SR": "tab:blue", "SR_ε": "tab:green",
          "signed-SR_ε": "tab:purple"}
LINES = {"lfsr16": "-", "pcg64": "--"}
OTHER_LINES = (":", "-.", (0, (5, 2)), (0, (1, 3)), (0, (3, 1, 1, 1)))


def plot_model(model_keys, curves, summary, path, title):
    """Loss − f* vs iteration (log y), median over seeds with a min–max band; one panel per
    (model key, format); colour = strategy, line style = source."""
    panels = [(mk, f) for mk in model_keys for f in
              dict.fromkeys(s["format"] for s in summary if s["model"] == mk)]
    ncol = len({f for _, f in panels})
    nrow = math.ceil(len(panels) / ncol)
    fig = figure(6.2 * ncol, 4.3 * nrow + 0.6)
    others = [src for src in dict.fromkeys(key[2] for key in curves) if src not in LINES]
    styles = dict(LINES, **{src: OTHER_LINES[i % len(OTHER_LINES)] for i, src in enumerate(others)})
    axs = fig.subplots(nrow, ncol, squeeze=False).ravel()
    for ax, (mk, f) in zip(axs, panels):
        ss = [s for s in summary if s["model"] == mk and s["format"] == f]
        tol = ss[0]["tol"]
        floor = tol / 30
        n = ss[0]["n_iters"]
        k = np.arange(n + 1)
        rn = next((s for s in ss if s["strategy"] == "round-to-nearest"), None)
        if rn is not None and rn["rn_lower"] is not None:
            ax.axhspan(rn["rn_lower"], rn["rn_upper"], color="tab:red", alpha=0.10, lw=0,
                       label="derived RN stagnation range")
        ax.axhline(tol, color="0.3", ls=":", lw=1.2, label=f"tolerance {tol:.1e}")
        for (mk2, f2, src, strat), ex in curves.items():
            if (mk2, f2) != (mk, f):
                continue
            ex = np.maximum(ex, floor)
            med = np.median(ex, axis=0)
            c = COLORS[strat]
            if src == "pcg64" or strat != "round-to-nearest":
                ax.fill_between(k, ex.min(axis=0), ex.max(axis=0), color=c, alpha=0.08, lw=0)
            ax.plot(k, med, color=c, ls=styles[src], lw=1.5 if src == "lfsr16" else 1.2,
                    label=f"{strat}, {source_label(src)}")
        if rn is not None and rn["stagnation_iter"] is not None:
            si = int(rn["stagnation_iter"])
            ax.axvline(si, color="tab:red", lw=0.8, ls="-.", alpha=0.7)
            ax.text(si, tol * 300, f" RN stops\n moving (k={si})",
                    color="tab:red", fontsize=8, va="center")
        ax.set_yscale("log")
        ax.set_ylim(floor * 0.8, None)
        ax.set_xlim(0, n)
        ax.set_xlabel("iteration k")
        ax.set_ylabel("f(x_k) − f*  (loss units, log scale)")
        ctr = {"quadratic_grid": ", minimizer on the grid", "quadratic_off": ", minimizer off the grid"}
        q = QFormat.parse(f)
        ax.set_title(f"{f} = Q({q.wl},{q.fl}), LSB u = 2^−{q.fl}{ctr.get(mk, '')}\n"
                     + _wrap(_reached(ss), 80), fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.grid(alpha=0.1, which="minor")
    for ax in axs[len(panels):]:
        ax.set_visible(False)
    axs[0].legend(fontsize=7.5, loc="upper right", ncol=1)
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=100)
    return path


#: figure titles: the setting only; what the runs show is printed per panel from the summary
#: (``_reached``) and discussed in ``docs/studies/gd_rounding.md``
_BANDS = "Median over seeds (band: min–max); line style: bit source"
TITLES = {
    "quadratic": ("GD on the quadratic (d = 20, cond = 10, fused update, exact gradient, t = 0.05); "
                  "shaded: the derived round-to-nearest stagnation range.\n" + _BANDS
                  + "; a loss of exactly 0 is drawn at the bottom edge"),
    "logistic": ("GD on logistic regression (breast cancer, d = 31, fused update, exact gradient, "
                 "t = 1/L).\n" + _BANDS),
    "least_squares": ("GD on least squares (synthetic, m = 60, d = 20, seed 0, fused update, exact "
                      "gradient, t = 1/L).\n" + _BANDS),
    "rosenbrock": ("GD on Rosenbrock (a = 1, b = 100, t = 1.5e-3, fused update, exact gradient); "
                   "f* = the loss at the minimum the float64 run from the same start reaches.\n"
                   + _BANDS),
    "himmelblau": ("GD on Himmelblau (t = 0.01, fused update, exact gradient); f* = the loss at "
                   "the minimum the float64 run from the same start reaches.\n" + _BANDS),
    "mlp": ("Full-batch GD on the MLP 64-32-32-16-10 (digits, 3834 weights, t = 0.5, fused update, "
            "exact gradient); f* unknown: the loss itself (f* = 0)\nis plotted, tolerance = 1.1 x "
            "the float64 loss after the same budget. " + _BANDS),
}


def _wrap(text, width):
    import textwrap
    return "\n".join(textwrap.wrap(text, width, break_long_words=False))


def _reached(ss) -> str:
    """One panel's summary rows as "median iterations to tol" per strategy and source.

    >>> _reached([{"strategy": "SR", "source": "pcg64", "iters_to_tol": 12.0, "reached": 3,
    ...            "n_seeds": 3}])
    'iterations to tol: SR 12 (ideal PCG64)'
    """
    parts = []
    for src in dict.fromkeys(s["source"] for s in ss):
        cells = ", ".join(f"{s['strategy']} {_it(s['iters_to_tol'])}" for s in ss if s["source"] == src)
        parts.append(f"{cells} ({source_label(src)})")
    return "iterations to tol: " + "; ".join(parts)


# -- the grid as a sweep file (fxsim sweep) ---------------------------------------------------

#: study model key -> (sweep model name, its parameters): the same models as ``build_model``
SWEEP_MODELS = {
    "quadratic_grid": ("aligned_quadratic", {"d": 20, "cond": 10.0, "center": "grid", "grid": "format", "seed": 0}),
    "quadratic_off": ("aligned_quadratic", {"d": 20, "cond": 10.0, "center": "off", "grid": "format", "seed": 0}),
    "logistic": ("logistic", {"dataset": "breast_cancer", "l2": 1e-3}),
    "least_squares": ("least_squares", {"m": 60, "d": 20, "noise": 0.1, "seed": 0}),
    "rosenbrock": ("rosenbrock", {}),
    "himmelblau": ("himmelblau", {}),
    "mlp": ("mlp", {"seed": 0}),
}
SWEEP_NOTE = """The grid of fxsim gd-study as a sweep file (fxsim gd-study --export-sweep): the same
models, formats, step sizes, accelerators, strategies, sources, iterations and tolerances.
Differences from the study: each run seeds itself from SeedSequence(seed, spawn_key=(run index,
replicate)) (the study gives every strategy and source the same start point), excess is
f - f* with the model's f* (the study uses the float64 run's loss for Rosenbrock/Himmelblau and
no tolerance for the MLP), and no figure or markdown is written (fxsim plot DIR ...)."""


def sweep_config(quick=False, seed=0, models=None, sources=None) -> dict:
    """The study's grid as a sweep description (``fxsim.sweep.SweepConfig`` input; the file
    ``fxsim gd-study --export-sweep FILE`` writes): one case per (model, format), the
    strategies and sources as axes, the preset's iterations and seeds as replicates.

    >>> from fxsim.sweep import SweepConfig
    >>> cfg = SweepConfig(sweep_config(quick=True, models=["quadratic_grid"]))
    >>> len(cfg.runs), sorted(cfg.strategies) == sorted(STRATEGIES)
    (48, True)
    """
    p = PRESETS["quick" if quick else "full"]
    models = default_models() if models is None else resolve_models(models)
    sources = list(SOURCES) if sources is None else resolve_sources(sources)
    cases = []
    for mk in models:
        name, params = SWEEP_MODELS[mk]
        for fmt in MODEL_FORMATS.get(mk, FORMATS):
            model, t, L = build_model(mk, fmt)
            case = {"model": name, "model_params": dict(params), "format": str(fmt),
                    "algorithm_params": {"t": t, "mode": "exact"},
                    "accelerator": {"acc": str(QFormat(2 * fmt.wl, 2 * fmt.fl)), "r": R_BITS, "eps": EPS},
                    "iterations": p["iters"].get(_iters_key(mk), PRESETS["full"]["iters"][_iters_key(mk)]),
                    "replicates": p.get("model_seeds", {}).get(mk, p["seeds"])}
            if mk != "mlp":
                case["tol"] = tolerance(model.dim, fmt, L)
            cases.append(case)
    return {"sweep": {"name": "gd-study", "seed": int(seed), "record": ["loss", "excess", "moved"]},
            "run": {"algorithm": "gd"},
            "strategies": {k: dict(v) for k, v in STRATEGIES.items()},
            "axes": {"strategy": list(STRATEGIES), "source": sources},
            "cases": cases}


# -- the whole study ---------------------------------------------------------------------------

def jobs_for(models, formats, seed, n_seeds, iters, sources=tuple(SOURCES)):
    """One job per (model, format, source). ``formats``: a list for every model, or a dict
    model -> list; ``n_seeds``: an int or a dict model -> int; ``iters``: dict keyed by
    ``quadratic`` or the model key.

    >>> jobs = jobs_for(["quadratic_grid"], [QFormat(16, 8)], seed=0, n_seeds=2, iters={"quadratic": 50})
    >>> [(j[0], str(j[1]), j[2]) for j in jobs]
    [('quadratic_grid', 'Q8.8', 'lfsr16'), ('quadratic_grid', 'Q8.8', 'pcg64')]
    """
    def fmts(mk):
        return formats[mk] if isinstance(formats, dict) else formats

    def ns(mk):
        return n_seeds[mk] if isinstance(n_seeds, dict) else n_seeds
    return [(mk, f, src, seed, ns(mk), iters[_iters_key(mk)])
            for mk in models for f in fmts(mk) for src in sources]


def run(out_dir, quick=False, seed=0, progress=True, *, models=None, formats=None,
        n_seeds=None, iters=None, workers=2, copy_figures_to=None, sources=None,
        scheduler=None) -> dict:
    """Run the study, write ``gd_study.csv``/``gd_study_runs.csv``/``gd_study.md`` and the
    PNGs into ``out_dir``; return {"rows", "summary", "markdown", "files", "seconds"}.
    ``models`` (keys of ``MODELS``, a comma-separated string, ``"all"``; default the main job's
    ``DEFAULT_MODELS``)/``formats`` (default: ``MODEL_FORMATS`` per model, else ``FORMATS``;
    given: used for every model)/``n_seeds``/``iters`` override the preset (tests shrink it);
    ``sources``: ``fxsim.make_source`` specs (a list or a comma-separated string; default
    ``SOURCES``, lfsr16 and pcg64).  The jobs run through ``fxsim.sweep.map_jobs``: in this
    process with ``workers=1``, else on a Dask ``LocalCluster`` of ``workers`` processes, or on
    the Dask cluster at ``scheduler`` (an address); the results do not depend on which.

    Takes about 20 s with ``quick=True`` on a 2-core machine (20.7–25.8 s at load 1.5–1.6; 42 s when shared with
    other jobs, load average 4), so the example is skipped by doctest:

    >>> res = run("results/gd_study", quick=True)     # doctest: +SKIP
    >>> sorted(res["files"])                          # doctest: +SKIP
    ['csv', 'logistic_png', 'md', 'quadratic_png', 'runs_csv']
    """
    p = PRESETS["quick" if quick else "full"]
    models = default_models() if models is None else resolve_models(models)
    sources = list(SOURCES) if sources is None else resolve_sources(sources)
    if n_seeds is None:
        n_seeds = {mk: p.get("model_seeds", {}).get(mk, p["seeds"]) for mk in models}
    iters = dict(p["iters"], **(iters or {}))
    for mk in models:
        if _iters_key(mk) not in iters:
            iters[_iters_key(mk)] = PRESETS["full"]["iters"][_iters_key(mk)]
    if formats is None:
        formats = {mk: list(MODEL_FORMATS.get(mk, FORMATS)) for mk in models}
    else:
        formats = [f if isinstance(f, QFormat) else QFormat.parse(f) for f in formats]
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    jobs = jobs_for(models, formats, seed, n_seeds, iters, sources)
    bar = make_progress(len(jobs), "gd-study", progress)
    results = [None] * len(jobs)
    scheduler = scheduler or study_scheduler()
    serial = scheduler is None and (workers == 1 or len(jobs) <= 1)
    try:
        for i, res, err in map_jobs(_job, jobs, serial=serial, workers=workers,
                                    scheduler=scheduler, retries=0, name="gd-study"):
            if err is not None:
                raise err
            results[i] = res
            bar.update(1, f"{jobs[i][0]} {jobs[i][1]} {jobs[i][2]}")
    finally:
        bar.close()
    rows, curves = [], {}
    for j, (rs, cv) in zip(jobs, results):
        rows.extend(rs)
        for strat, ex in cv.items():
            curves[(j[0], str(j[1]), j[2], strat)] = ex
    summary = summarize(rows)
    files = {"csv": os.path.join(out_dir, "gd_study.csv"),
             "runs_csv": os.path.join(out_dir, "gd_study_runs.csv"),
             "md": os.path.join(out_dir, "gd_study.md")}
    write_csv(summary, files["csv"], SUMMARY_COLUMNS)
    write_csv(rows, files["runs_csv"], COLUMNS)
    quads = [m for m in models if m.startswith("quadratic")]
    if quads:
        files["quadratic_png"] = plot_model(quads, curves, summary,
                                            os.path.join(out_dir, "gd_quadratic.png"),
                                            TITLES["quadratic"])
    for mk in models:
        if mk.startswith("quadratic"):
            continue
        files[f"{mk}_png"] = plot_model([mk], curves, summary,
                                        os.path.join(out_dir, f"gd_{mk}.png"), TITLES[mk])
    total = time.perf_counter() - t0
    ns = set(n_seeds.values()) if isinstance(n_seeds, dict) else {n_seeds}
    if len(ns) > 1:
        ns = ", ".join(f"{mk}: {n}" for mk, n in n_seeds.items())
    else:
        ns = next(iter(ns))
    meta = {"preset": "quick" if quick else "full", "seed": seed, "seeds": ns,
            "ε": EPS, "r": R_BITS, "workers": workers}
    md = markdown(summary, meta)
    md += ("\nFigures: " + ", ".join(f"`{os.path.basename(v)}`" for k, v in files.items()
                                      if k.endswith("_png")) + "\n")
    return finish(md, files, total, rows, copy_figures_to, summary=summary)


def command(args) -> int:
    """``fxsim gd-study``: run the study with the parsed options and print its table.

    About 20 s with ``--quick`` (20.7–25.8 s on a 2-core machine at load 1.5–1.6), so skipped by
    doctest:

    >>> from fxsim.cli import main
    >>> main(["gd-study", "--quick"])     # doctest: +SKIP
    """
    floats = gd_float.float_formats(getattr(args, "formats", None))
    if floats:      # float formats: GD in low-precision floats (Xia et al., JOTA 2024)
        return gd_float.command(args, floats)
    if getattr(args, "export_sweep", None):
        with open(args.export_sweep, "w") as fh:
            fh.write(dump_toml(sweep_config(quick=args.quick, seed=args.seed, models=args.models,
                                            sources=args.source), SWEEP_NOTE))
        print(f"wrote the gd-study grid as a sweep file: {args.export_sweep} "
              f"(run it with: fxsim sweep {args.export_sweep} --out DIR)")
        return 0
    return print_study(run(args.out, quick=args.quick, seed=args.seed, progress=args.progress,
                           workers=args.workers, copy_figures_to=args.copy_figures,
                           models=getattr(args, "models", None),
                           sources=getattr(args, "source", None),
                           scheduler=getattr(args, "scheduler", None)))


def add_cli(sub):
    """Register ``fxsim gd-study`` on the argparse sub-parsers ``sub``.

    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="fxsim").add_subparsers(dest="cmd")
    >>> a = add_cli(sub).parse_args(["--quick", "--models", "quadratic"]); a.quick, a.models, a.out
    (True, ['quadratic_grid'], 'results/gd_study')
    """
    p = sub.add_parser(
        "gd-study", help="study: gradient descent with round-to-nearest, SR, SR_ε, signed-SR_ε",
        description="Gradient descent (exact gradient, fused update on the emulated datapath) on "
                    "a quadratic (minimizer on and off the grid) and logistic regression "
                    "(breast cancer), in Q8.8 and Q8.12, with four rounding strategies and LFSR "
                    "(n = 16) or ideal PCG64 bits, several seeds, on 2 worker processes; --models adds "
                    "least squares, Rosenbrock, Himmelblau and the MLP on digits. Writes "
                    "OUT/gd_study.csv, OUT/gd_study_runs.csv, OUT/gd_study.md and one PNG per model.")
    add_study_options(p, "results/gd_study", "fewer seeds and iterations (~20 s on 2 idle cores)", "root seed of every run")
    p.add_argument("--workers", type=pos_int, default=2, help="worker processes (default 2; "
                   "results do not depend on it)")
    p.add_argument("--export-sweep", metavar="FILE",
                   help="write the study's grid (with --quick, --seed, --models, --source) as a "
                        "sweep file for fxsim sweep, and stop")
    p.add_argument("--models", type=arg_type(resolve_models), metavar="LIST",
                   help="comma-separated models: quadratic (minimizer on the grid), quadratic_off, "
                        "logistic, least_squares, rosenbrock, himmelblau, mlp, or all (default: "
                        "quadratic,quadratic_off,logistic)")
    p.add_argument("--source", type=arg_type(resolve_sources), metavar="LIST",
                   help="comma-separated bit sources, each a make_source spec: "
                        "lfsr[N][:N][:galois|fibonacci][:serial|state][:lanes=L] or "
                        "ideal[:pcg64|philox|...] (default: lfsr16,pcg64)")
    p.add_argument("--formats", metavar="LIST",
                   help="float formats (e4m3, e5m2, bf16, fp16, E<e>M<m>...): run GD in those "
                        "floats instead (fxsim.studies.gd_float: multinomial logistic regression "
                        "and a two-layer network on digits, Xia et al. JOTA 2024)")
    p.set_defaults(run=command)
    return p
