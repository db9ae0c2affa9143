"""Gradient descent with rounding strategies on the emulated accelerator (``fxsim gd-study``).

The main study (Xia, Massei, Hochstenbach: GD in low-precision fixed point under the
PL inequality).  For every model, Q format, bit source and strategy, GD runs in the paper's
setting (``mode="exact"``: exact gradient, every cast on fxsim's datapath) from the same start
points (one per seed) and records f(x_k) − f*.

Datapath: the fused update of a MAC, x ← cast_update(x − t·cast_grad(∇f(x))) (``prod=None``:
the product t·g is kept exact and only the write-back rounds), weights = grads = the format.
This is where the notes (``gd-rounding-first-look.md``) find that the bias of signed-SR_ε acts:
with a separate step cast on the weights' grid the write-back would be exact and signed-SR_ε
could not act at all.  Strategies (``STRATEGIES``, a public registry: ``register_strategy``
adds one; cast of the gradient / of the write-back):

=================  =====================  ==========================================
round-to-nearest   nearest_even           nearest_even
SR                 stochastic             stochastic
SR_ε               stochastic_eps         stochastic_eps        (ε = 0.2, both casts)
signed-SR_ε        stochastic             signed_stochastic_eps (ε = 0.2, v = ∇f(x))
downhill-SR_ε      stochastic_eps         signed_stochastic_eps (the bias points downhill at
                                          every cast; SR_ε also on the step t·g where the
                                          datapath has that cast)
=================  =====================  ==========================================

The decomposition (``run(decompose=True)``, ``--decompose``) puts the bias on one cast at a
time (``DECOMPOSITION``) on a three-cast datapath whose product register is
``PROD_EXTRA_BITS`` finer than the weights, over ε in ``EPS_SWEEP`` and r in ``R_SWEEP``.
``run`` returns ``verdicts`` (one line per claim: ``study_verdicts``, and for the
decomposition ``decomposition_verdicts``); ``fxsim gd-study`` prints them.

Sources: ``lfsr16`` (a 16-bit LFSR, one spawned stream per cast role) and ``pcg64`` (ideal
bits) by default; ``run(sources=...)`` / ``--sources`` take any ``fxsim.make_source`` spec;
r = 16 random bits per draw (``--r``), ε = 0.2 (``--eps``), formats ``--formats``.

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
import re
import time
import zlib

import numpy as np

from ._report import (add_study_options, arg_type, figure, finish, fmt_number, markdown_table, pos_int,
                      make_progress, preload_figures, print_study, study_scheduler, verdict, write_csv)

from . import gd_float
from ..accelerator import Accelerator
from ..modes import STOCHASTIC, CastMode
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
           "run_job", "summarize", "markdown", "run", "sweep_config", "DEFAULT_STRATEGIES",
           "DECOMPOSITION", "EPS_SWEEP", "R_SWEEP", "register_strategy", "resolve_strategies",
           "parse_formats", "parse_eps", "parse_r", "variants", "three_cast_prod", "study_verdicts"]

EPS = 0.2
R_BITS = 16
T_QUAD = 0.05
#: the public strategy registry: name -> per-role casts (roles ``grad``, ``step``, ``update`` of
#: ``fxsim.accelerator``; each a rounding name, a (rounding, overflow) pair, a dict of CastMode
#: fields or a ``fxsim.CastMode``; a role not named rounds to nearest even and saturates; r and
#: ε not fixed by the cast come from the run's ``r``/``eps``).  ``register_strategy`` adds one.
#: On the study's fused datapath (``prod=None``) the ``step`` cast does not exist; the
#: decomposition (``decomposition``) runs on a datapath that has it.
STRATEGIES = {
    "round-to-nearest": {},
    "SR": {"grad": "stochastic", "update": "stochastic"},
    "SR_ε": {"grad": "stochastic_eps", "update": "stochastic_eps"},
    "signed-SR_ε": {"grad": "stochastic", "update": "signed_stochastic_eps"},
    # the bias points downhill at every cast: away from zero on the gradient and on the product
    # t·g (a longer step), against v = ∇f on the write-back
    "downhill-SR_ε": {"grad": "stochastic_eps", "step": "stochastic_eps",
                      "update": "signed_stochastic_eps"},
}
#: the strategies of the main job (``run(strategies=None)``)
DEFAULT_STRATEGIES = ("round-to-nearest", "SR", "SR_ε", "signed-SR_ε", "downhill-SR_ε")
#: the decomposition: which cast carries the bias (cast of grad / step / update; every other
#: cast is SR), on the three-cast datapath with a product register ``PROD_EXTRA_BITS`` finer
#: than the weights (so that both the step and the write-back round)
DECOMPOSITION = {
    "none (SR)": {"grad": "stochastic", "step": "stochastic", "update": "stochastic"},
    "grad": {"grad": "stochastic_eps", "step": "stochastic", "update": "stochastic"},
    "step": {"grad": "stochastic", "step": "stochastic_eps", "update": "stochastic"},
    "update, away from 0": {"grad": "stochastic", "step": "stochastic", "update": "stochastic_eps"},
    "update, downhill": {"grad": "stochastic", "step": "stochastic",
                         "update": "signed_stochastic_eps"},
    "grad + step": {"grad": "stochastic_eps", "step": "stochastic_eps", "update": "stochastic"},
    "grad + update downhill": {"grad": "stochastic_eps", "step": "stochastic",
                               "update": "signed_stochastic_eps"},
    "all, update away from 0": {"grad": "stochastic_eps", "step": "stochastic_eps",
                                "update": "stochastic_eps"},
    "all downhill": dict(STRATEGIES["downhill-SR_ε"]),
}
PROD_EXTRA_BITS = 4
#: the decomposition's ε and r sweeps (``--eps``/``--r`` replace them)
EPS_SWEEP = (0.05, 0.1, 0.2, 0.3)
R_SWEEP = (8, 16)
_EPS_MODES = ("stochastic_eps", "signed_stochastic_eps")
#: the default bit sources (``fxsim.make_source`` specs) and their labels; ``run(sources=...)``
#: and ``fxsim gd-study --sources`` take any make_source spec (labelled by the spec itself)
SOURCES = {"lfsr16": "LFSR n=16", "pcg64": "ideal PCG64"}


def _rounding_of(spec) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, CastMode):
        return spec.rounding
    if isinstance(spec, dict):
        return spec.get("rounding", "nearest_even")
    return spec[0]


def _fixes(spec, field) -> bool:
    """Whether a cast spec fixes ``field`` (r or eps) itself."""
    return isinstance(spec, CastMode) or (isinstance(spec, dict) and field in spec)


def register_strategy(name: str, casts: dict, replace: bool = False) -> None:
    """Add a strategy to ``STRATEGIES``: ``casts`` maps the roles ``grad``, ``step`` and
    ``update`` to a rounding name, a (rounding, overflow) pair, a dict of CastMode fields or a
    ``fxsim.CastMode`` (checked now, by building an accelerator on it); then
    ``run(strategies=[name, ...])`` and ``fxsim gd-study --strategies`` (from Python: the
    registry lives in the process) run it.

    >>> register_strategy("SR on grad only", {"grad": "stochastic"})
    >>> "SR on grad only" in resolve_strategies("SR,SR on grad only")
    True
    >>> register_strategy("bad", {"acts": "stochastic"})
    Traceback (most recent call last):
        ...
    ValueError: strategy 'bad': role 'acts' is not a cast of the GD datapath; roles: grad, step, update
    >>> del STRATEGIES["SR on grad only"]
    """
    if not isinstance(name, str) or not name.strip() or "," in name:
        raise ValueError(f"strategy name: a non-empty string without commas, got {name!r}")
    if name in STRATEGIES and not replace:
        raise ValueError(f"strategy {name!r} exists already (replace=True to redefine it)")
    if not isinstance(casts, dict):
        raise ValueError(f"strategy {name!r}: casts must be a dict role -> cast, got {casts!r}")
    for role in casts:
        if role not in ("grad", "step", "update"):
            raise ValueError(f"strategy {name!r}: role {role!r} is not a cast of the GD datapath; "
                             "roles: grad, step, update")
    try:
        _accelerator(dict(casts), QFormat(16, 8), "pcg64", 0, R_BITS, EPS, prod=QFormat(20, 12))
    except ValueError as e:
        raise ValueError(f"strategy {name!r}: {e}") from None
    STRATEGIES[name] = dict(casts)


def resolve_strategies(spec) -> list:
    """Strategy names from a list or a comma-separated string (``all``: every registered one);
    a ValueError naming ``strategies`` and the allowed names otherwise.

    >>> resolve_strategies("SR, downhill-SR_ε")
    ['SR', 'downhill-SR_ε']
    >>> resolve_strategies("SR_eps")
    Traceback (most recent call last):
        ...
    ValueError: strategies: unknown strategy 'SR_eps'; choose from all, round-to-nearest, SR, SR_ε, signed-SR_ε, downhill-SR_ε
    """
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for n in (n.strip() for n in names):
        if not n:
            continue
        for k in (list(STRATEGIES) if n == "all" else [n]):
            if k not in STRATEGIES:
                raise ValueError(f"strategies: unknown strategy {k!r}; choose from "
                                 f"{', '.join(['all', *STRATEGIES])}")
            if k not in out:
                out.append(k)
    if not out:
        raise ValueError("strategies: no strategy given (e.g. SR,downhill-SR_ε)")
    return out


def parse_formats(spec) -> list:
    """Formats from a list or a comma-separated string of format names (``Q(16,8)``, ``Q8.8``,
    ``s16.8``: ``fxsim.QFormat.parse``); a ValueError naming ``formats`` otherwise.  The one
    place the option's values are read (float formats plug in here).

    >>> [str(f) for f in parse_formats("Q(16,8), Q8.12")]
    ['Q(16,8)', 'Q(20,12)']
    >>> parse_formats("Q(16,8),Q99")
    Traceback (most recent call last):
        ...
    ValueError: formats: 'Q99' is not a format name (examples: Q(16,8), Q8.8, s16.8)
    """
    if isinstance(spec, str):
        items = re.split(r",(?![^()]*\))", spec)
    else:
        items = list(spec)
    out = []
    for f in items:
        if isinstance(f, QFormat):
            q = f
        else:
            text = str(f).strip()
            if not text:
                continue
            if gd_float.is_float_format(text):     # the float study's (command() dispatches)
                if text not in out:
                    out.append(text)
                continue
            try:
                q = QFormat.parse(text)
            except ValueError:
                raise ValueError(f"formats: {text!r} is not a format name (examples: Q(16,8), "
                                 "Q8.8, s16.8)") from None
        if not q.signed:
            raise ValueError(f"formats: {q} is unsigned; the weights need a signed format")
        if q.wl + PROD_EXTRA_BITS > 64 or 2 * q.wl > 64:
            raise ValueError(f"formats: {q} is too wide; word lengths up to 32 bits (the "
                             "accumulator has twice the bits)")
        if q not in out:
            out.append(q)
    if not out:
        raise ValueError("formats: no format given (e.g. Q(16,8),Q(20,12))")
    return out


def parse_eps(spec) -> list:
    """ε values from a list or a comma-separated string, each in [0, 1).

    >>> parse_eps("0.05,0.1")
    [0.05, 0.1]
    >>> parse_eps("1.5")
    Traceback (most recent call last):
        ...
    ValueError: eps: expected numbers in [0, 1), got '1.5'
    """
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for e in items:
        if isinstance(e, str) and not e.strip():
            continue
        try:
            v = float(e)
        except (TypeError, ValueError):
            v = math.nan
        if not 0 <= v < 1:
            raise ValueError(f"eps: expected numbers in [0, 1), got {str(e).strip()!r}")
        if v not in out:
            out.append(v)
    if not out:
        raise ValueError("eps: no value given (e.g. 0.05,0.1,0.2)")
    return out


def parse_r(spec) -> list:
    """r values (random bits per draw) from a list or a comma-separated string, each in 1..32.

    >>> parse_r("8, 16")
    [8, 16]
    >>> parse_r("0")
    Traceback (most recent call last):
        ...
    ValueError: r: expected integers in [1, 32] (random bits per draw), got '0'
    """
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for x in items:
        if isinstance(x, str) and not x.strip():
            continue
        try:
            v = int(str(x).strip(), 0) if not isinstance(x, int) or isinstance(x, bool) else x
        except ValueError:
            v = 0
        if isinstance(v, bool) or not 1 <= v <= 32:
            raise ValueError(f"r: expected integers in [1, 32] (random bits per draw), got "
                             f"{str(x).strip()!r}")
        if v not in out:
            out.append(v)
    if not out:
        raise ValueError("r: no value given (e.g. 8,16)")
    return out


def variants(strategies, eps_list, r_list, registry=None) -> list:
    """The runs of one job: (label, strategy, casts, ε, r) per strategy and each ε and r it
    uses (round-to-nearest uses neither, SR only r); the label names ε/r when several are run.

    >>> [v[0] for v in variants(["round-to-nearest", "SR", "SR_ε"], [0.1, 0.2], [16])]
    ['round-to-nearest', 'SR', 'SR_ε ε=0.1', 'SR_ε ε=0.2']
    """
    registry = STRATEGIES if registry is None else registry
    out, seen = [], set()
    for name in strategies:
        casts = registry[name]
        uses_eps = any(_rounding_of(c) in _EPS_MODES and not _fixes(c, "eps") for c in casts.values())
        uses_r = any(_rounding_of(c) in STOCHASTIC and not _fixes(c, "r") for c in casts.values())
        for e in eps_list:
            for r in r_list:
                key = (name, e if uses_eps else None, r if uses_r else None)
                if key in seen:
                    continue
                seen.add(key)
                label = name
                if uses_eps and len(eps_list) > 1:
                    label += f" ε={e:g}"
                if uses_r and len(r_list) > 1:
                    label += f" r={r}"
                out.append((label, name, dict(casts), key[1], key[2]))
    return out


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
    # --quick: the main job's models in Q(16,8) only, with the iterations that format needs (SR
    # reaches the tolerance by ~60 on the quadratics, ~120 on logistic); the opt-in models and
    # the decomposition keep both formats and the iterations below ("decompose_iters")
    "quick": dict(seeds=3, iters={"quadratic": 120, "logistic": 200, "least_squares": 250,
                                  "rosenbrock": 3000, "himmelblau": 300, "mlp": 150},
                  model_seeds={"rosenbrock": 2, "mlp": 1}, formats=(QFormat(16, 8),),
                  decompose_iters={"quadratic": 250, "logistic": 600}),
}
#: worker processes of ``--quick`` unless ``--workers`` is given: its 6 jobs (about 2 s of CPU)
#: take about as long as starting a local Dask cluster's workers, so this process and one
#: worker process share them without Dask (``map_jobs(..., pool=True)``)
QUICK_WORKERS = 2
#: what ``--quick`` prints after its verdicts
QUICK_CAUTION = ("Caution: --quick runs the main job's models in Q(16,8) only (not Q(20,12)), 3 "
                 "seeds, 120 iterations on the quadratics and 200 on logistic regression; its "
                 "numbers are noisy: run without --quick for the results.")
COLUMNS = ["model", "center", "format", "fl", "source", "strategy", "label", "eps", "r", "datapath",
           "seed", "t", "n_iters", "tol",
           "final_excess", "tail_excess", "iters_to_tol", "stagnation_iter", "rn_lower",
           "rn_upper"]
SUMMARY_COLUMNS = ["model", "format", "source", "strategy", "label", "eps", "r", "n_seeds", "n_iters", "tol",
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


def make_accelerator(strategy: str, fmt: QFormat, source: str, seed: int, r: int = R_BITS,
                     eps: float = EPS) -> Accelerator:
    """The study's accelerator: fused update, weights = grads = ``fmt``, the strategy's casts.

    >>> acc = make_accelerator("signed-SR_ε", QFormat(16, 8), "lfsr16", seed=1)
    >>> acc.casts["grad"][0], acc.casts["update"][0], acc.prod, acc.acc
    ('stochastic', 'signed_stochastic_eps', None, QFormat(wl=32, fl=16, signed=True))
    """
    return _accelerator(STRATEGIES[strategy], fmt, source, seed, r, eps)


def _accelerator(casts, fmt, source, seed, r, eps, prod=None):
    """The accelerator of a strategy's ``casts`` (``prod``: the product register, None = fused)."""
    casts = {role: (c, "saturate") if isinstance(c, str) else c for role, c in casts.items()}
    stoch = any(_rounding_of(c) in STOCHASTIC for c in casts.values())
    return Accelerator(fmt, fmt, prod=prod, acc=QFormat(2 * fmt.wl, 2 * fmt.fl), casts=casts,
                       source=source if stoch else None, seed=seed, r=r, eps=eps)


def three_cast_prod(fmt: QFormat) -> QFormat:
    """The product register of the decomposition's datapath: ``PROD_EXTRA_BITS`` finer than
    the weights, so that the step cast t·g and the write-back both round.

    >>> print(three_cast_prod(QFormat(16, 8)))
    Q(20,12)
    """
    return QFormat(fmt.wl + PROD_EXTRA_BITS, fmt.fl + PROD_EXTRA_BITS)


def _seeds(seed: int, model: str, k: int):
    """(GD seed, accelerator seed) of seed index k: independent of strategy, source, format."""
    words = [int(seed), zlib.crc32(model.encode()), int(k)]
    a, b = np.random.SeedSequence(words).generate_state(2, np.uint32)
    return int(a), int(b)


# -- one job -----------------------------------------------------------------------------------

def run_job(model_key: str, fmt: QFormat, source: str, seed: int, n_seeds: int, n_iters: int,
            runs=None, three_cast: bool = False):
    """All runs × seeds of one (model, format, source): (rows, curves) with curves
    {label: (n_seeds, n_iters + 1) array of f(x_k) − f*}.  ``runs``: ``variants(...)``
    (default: every strategy of ``DEFAULT_STRATEGIES`` at ε = ``EPS``, r = ``R_BITS``);
    ``three_cast``: the datapath with a product register (``three_cast_prod``) instead of the
    fused update.

    >>> rows, curves = run_job("quadratic_grid", QFormat(16, 8), "lfsr16", seed=0, n_seeds=1,
    ...                        n_iters=20)
    >>> len(rows), list(curves) == list(DEFAULT_STRATEGIES), curves["SR"].shape
    (5, True, (1, 21))
    """
    if runs is None:
        runs = variants(DEFAULT_STRATEGIES, [EPS], [R_BITS])
    model, t, L = build_model(model_key, fmt)
    quad = model_key.startswith("quadratic")
    prod = three_cast_prod(fmt) if three_cast else None
    # f* per seed: the model's, except Rosenbrock/Himmelblau: the loss at the minimum the float64
    # run from the same (quantized) start converges to; the MLP has no f* (0 is used, a lower
    # bound) and its tolerance is 1.1 x the loss float64 GD reaches in the same budget (seed 0).
    f_stars = {}
    if model_key in F64_ITERS or model_key == "mlp":
        t_q = GD(model, _accelerator({}, fmt, None, 0, R_BITS, 0.0), t, mode="exact").t
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
    for label, strategy, casts, eps, r in runs:
        ex = []
        for k in range(n_seeds):
            gseed, aseed = _seeds(seed, model_key, k)
            if k in f_stars:
                model.f_star = f_stars[k]
            acc = _accelerator(casts, fmt, source, aseed, R_BITS if r is None else r,
                               0.0 if eps is None else eps, prod)
            g = GD(model, acc, t, mode="exact", seed=gseed)
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
                "fl": fmt.fl, "source": source, "strategy": strategy, "label": label, "eps": eps,
                "r": r, "datapath": "three-cast" if three_cast else "fused", "seed": k, "t": g.t,
                "n_iters": n_iters, "tol": tol, "final_excess": float(e[-1]),
                "tail_excess": float(e[-tail:].mean()), "iters_to_tol": h.iters_to_tol(tol),
                "stagnation_iter": h.stagnation_iter(), "rn_lower": lo, "rn_upper": hi})
        curves[label] = np.array(ex)
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


def _key(r):
    return (r["model"], r["format"], r["source"], r.get("label", r["strategy"]))


def summarize(rows) -> list:
    """One row per (model, format, source, run label): medians over seeds (iterations "never"
    count as infinite), ``reached`` = seeds reaching tol; ``rn_lower`` the smallest per-seed
    lower bound, ``rn_upper`` the largest upper bound (quadratic only).

    >>> rows, _ = run_job("quadratic_grid", QFormat(16, 8), "pcg64", 0, 2, 20)
    >>> s = summarize(rows)
    >>> len(s), s[0]["strategy"], s[0]["n_seeds"]
    (5, 'round-to-nearest', 2)
    """
    groups = {}
    for r in rows:
        groups.setdefault(_key(r), []).append(r)
    out = []
    for key, rs in groups.items():
        lo = [r["rn_lower"] for r in rs if r["rn_lower"] is not None]
        hi = [r["rn_upper"] for r in rs if r["rn_upper"] is not None]
        out.append({
            "model": key[0], "format": key[1], "source": key[2], "strategy": rs[0]["strategy"],
            "label": key[3], "eps": rs[0].get("eps"), "r": rs[0].get("r"),
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
    | Q(16,8) | ideal PCG64 | round-to-nearest | ...
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
            row = [s["format"], source_label(s["source"]), s["label"],
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
          "signed-SR_ε": "tab:purple", "downhill-SR_ε": "tab:orange"}
OTHER_COLORS = ("tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")
LINES = {"lfsr16": "-", "pcg64": "--"}
OTHER_LINES = (":", "-.", (0, (5, 2)), (0, (1, 3)), (0, (3, 1, 1, 1)))


def _color(strategy, label, palette):
    """A strategy's colour; a variant (ε, r in its label) or a user's strategy gets its own."""
    if label == strategy and strategy in COLORS:
        return COLORS[strategy]
    if label not in palette:
        palette[label] = OTHER_COLORS[len(palette) % len(OTHER_COLORS)]
    return palette[label]


def _x_end(curves, n):
    """The x range of a panel: up to 1.5x the last iteration at which any seed's curve still
    changes (every run of Himmelblau ends within the first 50 of 300 iterations), at most n."""
    last = 0
    for ex in curves:
        moved = np.flatnonzero(np.any(ex != ex[:, -1:], axis=0))
        last = max(last, int(moved[-1]) + 1 if moved.size else 0)
    return min(n, max(int(1.5 * last) + 10, n // 10))


def plot_model(model_keys, curves, summary, path, title):
    """Loss − f* vs iteration (log y), median over seeds with a min–max band; one panel per
    (model key, format); colour = strategy, line style = source; one legend under the panels
    (it never covers a curve), the RN stagnation iteration in the legend, not on the data."""
    panels = [(mk, f) for mk in model_keys for f in
              dict.fromkeys(s["format"] for s in summary if s["model"] == mk)]
    from matplotlib.ticker import FuncFormatter, NullLocator
    ncol = len({f for _, f in panels})
    nrow = math.ceil(len(panels) / ncol)
    w = 6.4 * ncol
    fig = figure(w, 4.4 * nrow + 1.9, layout=None)     # its height set with the margins below
    others = [src for src in dict.fromkeys(key[2] for key in curves) if src not in LINES]
    styles = dict(LINES, **{src: OTHER_LINES[i % len(OTHER_LINES)] for i, src in enumerate(others)})
    strategy_of = {s["label"]: s["strategy"] for s in summary}
    palette = {}
    axs = fig.subplots(nrow, ncol, squeeze=False).ravel()
    handles = {}
    title_lines = 1
    for ax, (mk, f) in zip(axs, panels):
        ss = [s for s in summary if s["model"] == mk and s["format"] == f]
        tol = ss[0]["tol"]
        n = ss[0]["n_iters"]
        k = np.arange(n + 1)
        mine = {key[2:]: ex for key, ex in curves.items() if key[:2] == (mk, f)}
        lowest = min((float(np.min(ex[ex > 0])) for ex in mine.values() if np.any(ex > 0)),
                     default=tol)
        floor = min(tol, lowest) / 30
        rn = next((s for s in ss if s["strategy"] == "round-to-nearest"), None)
        if rn is not None and rn["rn_lower"] is not None:
            h = ax.axhspan(rn["rn_lower"], rn["rn_upper"], color="tab:red", alpha=0.10, lw=0)
            handles.setdefault("derived RN stagnation range", h)
        h = ax.axhline(tol, color="0.3", ls=":", lw=1.4)
        handles.setdefault("tolerance", h)
        # round-to-nearest thick and underneath, the others thin on top: where curves coincide
        # (Rosenbrock before RN stops) both stay visible
        order = sorted(mine, key=lambda kl: strategy_of.get(kl[1]) != "round-to-nearest")
        for src, label in order:
            ex = np.maximum(mine[(src, label)], floor)
            med = np.median(ex, axis=0)
            strat = strategy_of.get(label, label)
            c = _color(strat, label, palette)
            if ex.shape[0] > 1:
                ax.fill_between(k, ex.min(axis=0), ex.max(axis=0), color=c, alpha=0.08, lw=0)
            rn_line = strat == "round-to-nearest"
            h, = ax.plot(k, med, color=c, ls=styles[src], lw=3.2 if rn_line else 1.5,
                         alpha=0.75 if rn_line else 1.0, zorder=1.8 if rn_line else 2)
            handles.setdefault(f"{label}, {source_label(src)}", h)
        if rn is not None and rn["stagnation_iter"] is not None:
            si = int(rn["stagnation_iter"])
            h = ax.axvline(si, color="tab:red", lw=1.0, ls="-.", alpha=0.7)
            handles.setdefault("round-to-nearest stops moving (median k)", h)
        ax.set_yscale("log")
        ax.yaxis.set_minor_locator(NullLocator())     # 8 unlabelled ticks a decade: half the drawing
        ax.yaxis.set_major_formatter(FuncFormatter(_decade))
        ax.set_ylim(floor * 0.8, None)
        ax.set_xlim(0, _x_end(mine.values(), n))
        ax.set_xlabel("iteration k", fontsize=11)
        ax.set_ylabel("f(x_k) − f*  (log scale)", fontsize=11)
        ax.tick_params(labelsize=10)
        ctr = {"quadratic_grid": ", minimizer on the grid", "quadratic_off": ", minimizer off the grid"}
        q = QFormat.parse(f)
        head = f"{q} (LSB 2^−{q.fl}){ctr.get(mk, '')}, tolerance {tol:.1e}\n" + _wrap(_reached(ss), 70)
        ax.set_title(head, fontsize=10, y=1.0)     # y given: not placed by measuring the ticks
        title_lines = max(title_lines, head.count("\n") + 1)
        ax.grid(alpha=0.3, which="major")
    for ax in axs[len(panels):]:
        ax.set_visible(False)
    suptitle = "\n".join(_wrap(line, int(w * 72 / (11.5 * 0.6))) for line in title.split("\n"))
    legend_cols = max(1, min(len(handles), int(w // 3.2)))
    _fixed_margins(fig, w, nrow, ncol, suptitle.count("\n") + 1, title_lines,
                   math.ceil(len(handles) / legend_cols))
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=legend_cols,
               fontsize=9.5, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(suptitle, fontsize=11.5, y=1 - 0.06 / fig.get_figheight(), va="top")
    fig.savefig(path, dpi=100)
    return path


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _decade(y, _pos=None) -> str:
    """A log axis' tick label 10^k in Unicode superscripts (matplotlib's own label is
    mathtext, parsed at a few tenths of a second per figure).

    >>> _decade(1e-3), _decade(100.0)
    ('10⁻³', '10²')
    """
    if y <= 0:
        return ""
    k = math.log10(y)
    if abs(k - round(k)) > 1e-9:
        return f"{y:g}"
    return "10" + str(round(k)).translate(_SUPERSCRIPT)


def _fixed_margins(fig, w, nrow, ncol, suptitle_lines, title_lines, legend_rows):
    """Size ``fig`` (``w`` inches wide) and place its ``nrow`` x ``ncol`` panels with margins
    worked out from the line counts of the texts around them (figure title, panel titles,
    legend rows under the panels): the constrained layout measured every tick label to find the
    same margins and took about two thirds of the figure's time."""
    axes_h, left, right, gap = 3.3, 0.95, 0.3, 1.1          # inches
    top = 0.18 + 0.21 * suptitle_lines
    head = 0.12 + 0.175 * title_lines                        # a panel's title above it
    foot = 0.62                                              # tick labels and x label under it
    bottom = 0.1 + 0.21 * legend_rows
    h = top + nrow * (head + axes_h + foot) + bottom
    panel_w = (w - left - right - (ncol - 1) * gap) / ncol
    fig.set_size_inches(w, h)
    fig.subplots_adjust(left=left / w, right=1 - right / w, top=1 - (top + head) / h,
                        bottom=(bottom + foot) / h, hspace=(head + foot) / axes_h,
                        wspace=gap / panel_w)


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

    >>> _reached([{"strategy": "SR", "label": "SR", "source": "pcg64", "iters_to_tol": 12.0,
    ...            "reached": 3, "n_seeds": 3}])
    'iterations to tol: SR 12 (ideal PCG64)'
    """
    parts = []
    for src in dict.fromkeys(s["source"] for s in ss):
        cells = ", ".join(f"{s['label']} {_it(s['iters_to_tol'])}" for s in ss if s["source"] == src)
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


def _plain_cast(c):
    """A strategy's cast as a sweep file writes it (a rounding name or a table of fields)."""
    if isinstance(c, str):
        return c
    if isinstance(c, CastMode):
        c = {k: getattr(c, k) for k in ("rounding", "overflow", "r", "eps", "sr_rule")}
    elif not isinstance(c, dict):
        c = dict(zip(("rounding", "overflow"), c))
    return {k: (float(v) if k == "eps" else v) for k, v in c.items() if v is not None}


def sweep_config(quick=False, seed=0, models=None, sources=None, strategies=None) -> dict:
    """The study's grid as a sweep description (``fxsim.sweep.SweepConfig`` input; the file
    ``fxsim gd-study --export-sweep FILE`` writes): one case per (model, format), the
    strategies and sources as axes, the preset's iterations and seeds as replicates.

    >>> from fxsim.sweep import SweepConfig
    >>> cfg = SweepConfig(sweep_config(quick=True, models=["quadratic_grid"]))
    >>> len(cfg.runs), list(cfg.strategies) == list(DEFAULT_STRATEGIES)
    (60, True)
    """
    p = PRESETS["quick" if quick else "full"]
    models = default_models() if models is None else resolve_models(models)
    sources = list(SOURCES) if sources is None else resolve_sources(sources)
    strategies = list(DEFAULT_STRATEGIES) if strategies is None else resolve_strategies(strategies)
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
            "strategies": {k: {role: _plain_cast(c) for role, c in STRATEGIES[k].items()}
                           for k in strategies},
            "axes": {"strategy": strategies, "source": sources},
            "cases": cases}


# -- verdicts ----------------------------------------------------------------------------------

def _iters(v):
    return math.inf if v is None else v


def _cells(summary, model, label):
    """{(format, source): summary row} of one model and run label."""
    return {(s["format"], s["source"]): s for s in summary
            if s["model"] == model and s["label"] == label}


def _short(fmt, src):
    return f"{fmt} {'LFSR' if src == 'lfsr16' else source_label(src)}"


def _held(flags):
    """True if every cell agrees, False if none does, None (not decided) when they split."""
    flags = list(flags)
    if not flags:
        return None
    return True if all(flags) else (False if not any(flags) else None)


def compare_verdict(summary, model, a, b, claim=None):
    """"``a`` reaches the tolerance in fewer iterations than ``b``" on ``model``, per (format,
    source) cell (median iterations; "never" counts as infinite)."""
    ca, cb = _cells(summary, model, a), _cells(summary, model, b)
    keys = [k for k in ca if k in cb]
    flags = [_iters(ca[k]["iters_to_tol"]) < _iters(cb[k]["iters_to_tol"]) for k in keys]
    fig = "; ".join(f"{_it(ca[k]['iters_to_tol'])} vs {_it(cb[k]['iters_to_tol'])} ({_short(*k)})"
                    for k in keys)
    claim = claim or f"{MODEL_SHORT.get(model, model)}: {a} reaches tol before {b}"
    return verdict(claim, _held(flags), f"iterations {fig}")


def stall_verdict(summary, model):
    """"round-to-nearest stops moving above where SR ends" on ``model``: RN's run ends
    (``stagnation_iter`` set) and its final loss is above SR's, per cell."""
    rn, sr = _cells(summary, model, "round-to-nearest"), _cells(summary, model, "SR")
    keys = [k for k in rn if k in sr]
    flags = [rn[k]["stagnation_iter"] is not None and
             _orzero(rn[k]["final_excess"]) > _orzero(sr[k]["final_excess"]) for k in keys]
    fig = "; ".join(f"{_fmt(rn[k]['final_excess'])}"
                    + (f" stops at {_it(rn[k]['stagnation_iter'])}" if rn[k]['stagnation_iter']
                       is not None else " still moving")
                    + f" vs SR {_fmt(sr[k]['final_excess'])} ({_short(*k)})" for k in keys)
    return verdict(f"{MODEL_SHORT.get(model, model)}: round-to-nearest stops moving above SR's "
                   "final loss", _held(flags), f"RN {fig}")


def _orzero(v):
    return 0.0 if v is None else v


#: short model names for verdict lines
MODEL_SHORT = {"quadratic_grid": "quadratic (on grid)", "quadratic_off": "quadratic (off grid)",
               "logistic": "logistic", "least_squares": "least squares",
               "rosenbrock": "Rosenbrock", "himmelblau": "Himmelblau", "mlp": "MLP"}


def study_verdicts(summary) -> list:
    """The main table's verdicts, per model: does round-to-nearest stop moving above SR, and
    does biased SR (downhill-SR_ε: the bias pointing downhill at every cast) reach the
    tolerance before SR (with SR_ε and signed-SR_ε alongside).

    >>> from fxsim.studies._report import verdict_lines
    >>> rows, _ = run_job("quadratic_grid", QFormat(16, 8), "pcg64", 0, 1, 80)
    >>> print(verdict_lines(study_verdicts(summarize(rows))[:2]))
    held          quadratic (on grid): round-to-nearest stops moving above SR's final loss: RN ...
    held          quadratic (on grid): downhill-SR_ε reaches tol before SR: iterations ...
    """
    out = []
    labels = {s["label"] for s in summary}
    for model in dict.fromkeys(s["model"] for s in summary):
        if {"round-to-nearest", "SR"} <= labels:
            out.append(stall_verdict(summary, model))
        for biased in ("downhill-SR_ε", "signed-SR_ε", "SR_ε"):
            if {biased, "SR"} <= labels:
                out.append(compare_verdict(summary, model, biased, "SR"))
    return out


# -- the decomposition: which cast carries the bias ------------------------------------------

def decomposition_markdown(summary) -> str:
    """The decomposition as markdown: per model and format, one row per bias location, one
    column per (ε, r): median iterations to tol (seeds reaching it) and the final loss."""
    parts = ["# Which cast carries the bias: SR_ε / signed-SR_ε on one cast at a time", "",
             f"Three-cast datapath x ← cast_update(x − cast_step(t·cast_grad(∇f))), product "
             f"register {PROD_EXTRA_BITS} bits finer than the weights; every cast not named is "
             "SR. *away from 0*: SR_ε on the write-back (bias away from zero on the weights); "
             "*downhill*: signed-SR_ε with v = ∇f. Cells: median iterations to tol (seeds "
             "reaching it) / median final f − f*.", ""]
    for (model, fmt, src) in dict.fromkeys((s["model"], s["format"], s["source"]) for s in summary):
        ss = [s for s in summary if (s["model"], s["format"], s["source"]) == (model, fmt, src)]
        cols = list(dict.fromkeys((s["eps"], s["r"]) for s in ss if s["eps"] is not None))
        base = {s["r"]: s for s in ss if s["strategy"] == "none (SR)"}
        parts += [f"## {MODELS.get(model, (model,))[0]}, {fmt}, {source_label(src)} "
                  f"(N = {ss[0]['n_iters']})", ""]
        header = ["bias on"] + [f"ε={e:g} r={r}" for e, r in cols]
        body = [["none (SR)"] + [_cell_text(base.get(r)) for _, r in cols]]
        for name in dict.fromkeys(s["strategy"] for s in ss):
            if name == "none (SR)":
                continue
            by = {(s["eps"], s["r"]): s for s in ss if s["strategy"] == name}
            body.append([name] + [_cell_text(by.get(c)) for c in cols])
        parts += [markdown_table(header, body), ""]
    return "\n".join(parts)


def _cell_text(s):
    if s is None:
        return "—"
    return f"{_it(s['iters_to_tol'])} ({s['reached']}/{s['n_seeds']}) / {_fmt(s['final_excess'])}"


def decomposition_verdicts(summary) -> list:
    """Per model: does the bias pointing downhill at every cast beat SR at every (ε, r), and
    which single cast carries the gain (the bias location with the fewest iterations)."""
    out = []
    for model in dict.fromkeys(s["model"] for s in summary):
        ss = [s for s in summary if s["model"] == model]
        base = {(s["format"], s["source"], s["r"]): s for s in ss if s["strategy"] == "none (SR)"}
        flags, figs = [], []
        for s in ss:
            if s["strategy"] != "all downhill":
                continue
            b = base.get((s["format"], s["source"], s["r"]))
            if b is None:
                continue
            flags.append(_iters(s["iters_to_tol"]) < _iters(b["iters_to_tol"]))
            figs.append(f"ε={s['eps']:g} r={s['r']} {s['format']}: {_it(s['iters_to_tol'])} vs "
                        f"{_it(b['iters_to_tol'])}")
        name = MODEL_SHORT.get(model, model)
        out.append(verdict(f"{name}: bias downhill at every cast beats SR (decomposition)",
                           _held(flags), "iterations " + "; ".join(figs)))
        single = ("grad", "step", "update, away from 0", "update, downhill")
        best = {}
        for s in ss:
            if s["strategy"] in single:
                best.setdefault(s["strategy"], []).append(_iters(s["iters_to_tol"]))
        if best:
            med = {k: float(np.median(v)) for k, v in best.items()}
            sr = float(np.median([_iters(b["iters_to_tol"]) for b in base.values()]))
            order = ", ".join(f"{k} {_it(None if math.isinf(v) else v)}"
                              for k, v in sorted(med.items(), key=lambda kv: kv[1]))
            out.append(verdict(f"{name}: a single biased cast beats SR (median over ε, r, formats)",
                               min(med.values()) < sr,
                               f"SR {_it(None if math.isinf(sr) else sr)}; {order}"))
    return out


# -- the whole study ---------------------------------------------------------------------------

def jobs_for(models, formats, seed, n_seeds, iters, sources=tuple(SOURCES), runs=None,
             three_cast=False):
    """One job per (model, format, source). ``formats``: a list for every model, or a dict
    model -> list; ``n_seeds``: an int or a dict model -> int; ``iters``: dict keyed by
    ``quadratic`` or the model key; ``runs``: ``variants(...)`` (None: the default strategies).

    >>> jobs = jobs_for(["quadratic_grid"], [QFormat(16, 8)], seed=0, n_seeds=2, iters={"quadratic": 50})
    >>> [(j[0], str(j[1]), j[2]) for j in jobs]
    [('quadratic_grid', 'Q(16,8)', 'lfsr16'), ('quadratic_grid', 'Q(16,8)', 'pcg64')]
    """
    def fmts(mk):
        return formats[mk] if isinstance(formats, dict) else formats

    def ns(mk):
        return n_seeds[mk] if isinstance(n_seeds, dict) else n_seeds
    return [(mk, f, src, seed, ns(mk), iters[_iters_key(mk)], runs, three_cast)
            for mk in models for f in fmts(mk) for src in sources]


def _run_jobs(jobs, progress, workers, scheduler, what, pool=False, meanwhile=None):
    """Run the jobs (``map_jobs``; ``pool``, ``meanwhile``: see there), a progress bar labelled
    ``what``; (rows, curves)."""
    bar = make_progress(len(jobs), what, progress)
    results = [None] * len(jobs)
    serial = scheduler is None and (workers == 1 or len(jobs) <= 1)
    try:
        for i, res, err in map_jobs(_job, jobs, serial=serial, workers=workers,
                                    scheduler=scheduler, retries=0, name="gd-study",
                                    pool=pool, meanwhile=meanwhile):
            if err is not None:
                raise err
            results[i] = res
            bar.update(1, f"{MODEL_SHORT.get(jobs[i][0], jobs[i][0])} {jobs[i][1]} "
                          f"{source_label(jobs[i][2])}")
    finally:
        bar.close()
    rows, curves = [], {}
    for j, (rs, cv) in zip(jobs, results):
        rows.extend(rs)
        for label, ex in cv.items():
            curves[(j[0], str(j[1]), j[2], label)] = ex
    return rows, curves


def run(out_dir, quick=False, seed=0, progress=True, *, models=None, formats=None,
        n_seeds=None, iters=None, workers=None, copy_figures_to=None, sources=None,
        scheduler=None, strategies=None, eps=None, r=None, decompose=False) -> dict:
    """Run the study, write ``gd_study.csv``/``gd_study_runs.csv``/``gd_study.md`` and the
    PNGs into ``out_dir``; return a ``StudyResult`` {"rows", "summary", "markdown", "files",
    "seconds", "verdicts"}.  The Python entry point of ``fxsim gd-study``, taking the same:

    - ``models``: keys of ``MODELS``, a comma-separated string or ``"all"`` (default the main
      job's ``DEFAULT_MODELS``);
    - ``formats``: format names or ``QFormat``s, a list or a comma-separated string
      (``parse_formats``; default ``MODEL_FORMATS`` per model, else ``FORMATS``; given: used
      for every model);
    - ``strategies``: names in ``STRATEGIES`` (``register_strategy`` adds one; default
      ``DEFAULT_STRATEGIES``);
    - ``eps``, ``r``: lists (or comma-separated strings) of ε and of random bits per draw; every
      strategy runs at each value it uses (default ε = ``EPS``, r = ``R_BITS``);
    - ``sources``: ``fxsim.make_source`` specs (default ``SOURCES``: lfsr16 and pcg64);
    - ``decompose``: also run the decomposition (``DECOMPOSITION``: the bias on one cast at a
      time, the three-cast datapath, ε over ``EPS_SWEEP`` and r over ``R_SWEEP`` unless ``eps``/
      ``r`` are given; first source only) into ``gd_decomposition.md``/``.csv``;
    - ``n_seeds``/``iters`` override the preset (tests shrink it).

    The jobs run through ``fxsim.sweep.map_jobs``: in this process with ``workers=1``, else on
    a Dask ``LocalCluster`` of ``workers`` processes, or on the Dask cluster at ``scheduler``
    (an address); the results do not depend on which.  ``workers=None``: 2; with
    ``quick=True``, this process and one worker process it starts itself, without Dask
    (``QUICK_WORKERS``, ``map_jobs(..., pool=True)``: ready in 0.3–0.6 s instead of 2 s).
    Takes a few seconds with ``quick=True`` on a 2-core machine, so the example is skipped by
    doctest:

    >>> res = run("results/gd_study", quick=True, strategies="SR,downhill-SR_ε",
    ...           formats="Q(16,8)", eps="0.1,0.2")     # doctest: +SKIP
    >>> print(res.verdicts[0]["claim"])                # doctest: +SKIP
    """
    p = PRESETS["quick" if quick else "full"]
    pool = quick and workers is None
    if workers is None:
        workers = QUICK_WORKERS if quick else 2
    models = default_models() if models is None else resolve_models(models)
    sources = list(SOURCES) if sources is None else resolve_sources(sources)
    strategies = list(DEFAULT_STRATEGIES) if strategies is None else resolve_strategies(strategies)
    eps_list = [EPS] if eps is None else parse_eps(eps)
    r_list = [R_BITS] if r is None else parse_r(r)
    if n_seeds is None:
        n_seeds = {mk: p.get("model_seeds", {}).get(mk, p["seeds"]) for mk in models}
    user_iters = dict(iters or {})
    iters = dict(p["iters"], **user_iters)
    for mk in models:
        if _iters_key(mk) not in iters:
            iters[_iters_key(mk)] = PRESETS["full"]["iters"][_iters_key(mk)]
    given_formats = formats is not None
    if formats is None:
        formats = {mk: list(MODEL_FORMATS.get(mk, p.get("formats", FORMATS) if mk in DEFAULT_MODELS
                                              else FORMATS)) for mk in models}
    else:
        formats = parse_formats(formats)
        floats = [f for f in formats if isinstance(f, str)]
        if floats:
            raise ValueError(f"formats: {', '.join(floats)} are float formats; GD in floats is "
                             "fxsim.studies.gd_float.run (fxsim gd-study --formats e4m3,...)")
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    runs = variants(strategies, eps_list, r_list)
    jobs = jobs_for(models, formats, seed, n_seeds, iters, sources, runs)
    rows, curves = _run_jobs(jobs, progress, workers, scheduler or study_scheduler(),
                             "gd-study: " + ", ".join(MODEL_SHORT.get(m, m) for m in models),
                             pool=pool, meanwhile=preload_figures)
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
    verdicts = study_verdicts(summary)
    extra = {}
    if decompose:
        d_runs = variants(list(DECOMPOSITION), EPS_SWEEP if eps is None else eps_list,
                          R_SWEEP if r is None else r_list, registry=DECOMPOSITION)
        d_formats = formats if given_formats else {mk: list(MODEL_FORMATS.get(mk, FORMATS))
                                                   for mk in models}
        d_iters = {**iters, **p.get("decompose_iters", {}), **user_iters}
        d_jobs = jobs_for(models, d_formats, seed, n_seeds, d_iters, sources[:1], d_runs, True)
        d_rows, _ = _run_jobs(d_jobs, progress, workers, scheduler,
                              "gd-study decomposition (bias on one cast at a time)")
        d_summary = summarize(d_rows)
        files["decomposition_csv"] = os.path.join(out_dir, "gd_decomposition.csv")
        files["decomposition_md"] = os.path.join(out_dir, "gd_decomposition.md")
        write_csv(d_summary, files["decomposition_csv"], SUMMARY_COLUMNS)
        with open(files["decomposition_md"], "w") as fh:
            fh.write(decomposition_markdown(d_summary))
        verdicts += decomposition_verdicts(d_summary)
        extra = {"decomposition": d_summary, "decomposition_rows": d_rows}
    total = time.perf_counter() - t0
    ns = set(n_seeds.values()) if isinstance(n_seeds, dict) else {n_seeds}
    if len(ns) > 1:
        ns = ", ".join(f"{mk}: {n}" for mk, n in n_seeds.items())
    else:
        ns = next(iter(ns))
    meta = {"preset": "quick" if quick else "full", "seed": seed, "seeds": ns,
            "ε": ", ".join(f"{e:g}" for e in eps_list), "r": ", ".join(map(str, r_list)),
            "workers": workers}
    md = markdown(summary, meta)
    md += "\n## Verdicts\n\n" + "\n".join(
        f"- {'held' if v['held'] else ('did not hold' if v['held'] is False else 'not decided')}: "
        f"{v['claim']} ({v['figure']})" for v in verdicts) + "\n"
    return finish(md, files, total, rows, copy_figures_to, summary=summary, verdicts=verdicts,
                  quick=quick, caution=QUICK_CAUTION if quick else None, **extra)


def command(args) -> int:
    """``fxsim gd-study``: run the study with the parsed options and print its verdicts.

    A few seconds with ``--quick`` on a 2-core machine, so skipped by doctest:

    >>> from fxsim.cli import main
    >>> main(["gd-study", "--quick"])     # doctest: +SKIP
    """
    floats = gd_float.float_formats(getattr(args, "formats", None))
    if floats:      # float formats: GD in low-precision floats (Xia et al., JOTA 2024)
        return gd_float.command(args, floats)
    if getattr(args, "export_sweep", None):
        with open(args.export_sweep, "w") as fh:
            fh.write(dump_toml(sweep_config(quick=args.quick, seed=args.seed, models=args.models,
                                            sources=args.source, strategies=args.strategies),
                               SWEEP_NOTE))
        print(f"wrote the gd-study grid as a sweep file: {args.export_sweep} "
              f"(run it with: fxsim sweep {args.export_sweep} --out DIR)")
        return 0
    return print_study(run(args.out, quick=args.quick, seed=args.seed, progress=args.progress,
                           workers=args.workers, copy_figures_to=args.copy_figures,
                           models=args.models, sources=args.source, formats=args.formats,
                           strategies=args.strategies, eps=args.eps, r=args.r,
                           decompose=args.decompose, scheduler=args.scheduler))


def add_cli(sub):
    """Register ``fxsim gd-study`` on the argparse sub-parsers ``sub``.

    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="fxsim").add_subparsers(dest="cmd")
    >>> a = add_cli(sub).parse_args(["--quick", "--models", "quadratic"]); a.quick, a.models, a.out
    (True, ['quadratic_grid'], 'results/gd_study')
    """
    p = sub.add_parser(
        "gd-study", help="study: gradient descent with round-to-nearest and biased/unbiased SR "
                         "(the main job)",
        description="Gradient descent (exact gradient, fused update on the emulated datapath) on "
                    "a quadratic (minimizer on and off the grid) and logistic regression "
                    "(breast cancer), in Q(16,8) and Q(20,12), with five rounding strategies "
                    "(round-to-nearest, SR, SR_ε, signed-SR_ε, downhill-SR_ε) and LFSR (n = 16) "
                    "or ideal PCG64 bits, several seeds, on 2 worker processes. Prints one "
                    "verdict line per claim; writes OUT/gd_study.csv, OUT/gd_study_runs.csv, "
                    "OUT/gd_study.md and one PNG per model. Every option below varies the grid "
                    "without editing fxsim; from Python: fxsim.studies.gd_rounding.run(...).")
    add_study_options(p, "results/gd_study", "Q(16,8) only, 3 seeds, fewer iterations (a few "
                      "seconds; noisy: a check, not a result)", "root seed of every run")
    p.add_argument("--workers", type=pos_int, default=None, help="worker processes of a local Dask "
                   "cluster (default 2; with --quick, default: this process and one more "
                   "without Dask, faster to start; 1: in this process); results do not "
                   "depend on it")
    p.add_argument("--export-sweep", metavar="FILE",
                   help="write the study's grid (with --quick, --seed, --models, --sources, "
                        "--strategies) as a sweep file for fxsim sweep, and stop")
    p.add_argument("--models", type=arg_type(resolve_models), metavar="LIST",
                   help="comma-separated models: quadratic (minimizer on the grid), quadratic_off, "
                        "logistic, least_squares, rosenbrock, himmelblau, mlp, or all (default: "
                        "quadratic,quadratic_off,logistic)")
    p.add_argument("--sources", "--source", dest="source", type=arg_type(resolve_sources),
                   metavar="LIST",
                   help="comma-separated bit sources, each a make_source spec: "
                        "lfsr[N][:N][:galois|fibonacci][:serial|state][:lanes=L] or "
                        "ideal[:pcg64|philox|...] (default: lfsr16,pcg64)")
    p.add_argument("--strategies", type=arg_type(resolve_strategies), metavar="LIST",
                   help="comma-separated strategies: " + ", ".join(STRATEGIES) + ", or all "
                        "(default: all five); your own: register_strategy() from Python")
    p.add_argument("--formats", type=arg_type(parse_formats), metavar="LIST",
                   help="comma-separated signed formats for every model, e.g. "
                        "'Q(16,8),Q(20,12)' (default: Q(16,8),Q(20,12); Rosenbrock and "
                        "Himmelblau their own wider ones); or float formats (e4m3, e5m2, "
                        "bf16, fp16, E<e>M<m>...): GD in those floats instead "
                        "(fxsim.studies.gd_float: multinomial logistic regression and a "
                        "two-layer network on digits, Xia et al. JOTA 2024)")
    p.add_argument("--eps", type=arg_type(parse_eps), metavar="LIST",
                   help="comma-separated ε of SR_ε/signed-SR_ε, each in [0, 1) (default 0.2; "
                        "with --decompose: 0.05,0.1,0.2,0.3)")
    p.add_argument("--r", type=arg_type(parse_r), metavar="LIST",
                   help="comma-separated random bits per draw, each in 1..32 (default 16; with "
                        "--decompose: 8,16)")
    p.add_argument("--decompose", action="store_true",
                   help="also run the decomposition: the bias on one cast at a time (grad, "
                        "step, update) and combinations, over ε and r; writes "
                        "OUT/gd_decomposition.md and .csv (several minutes)")
    p.set_defaults(run=command)
    return p
