"""1-LSB error amplification in training on the integer datapath (``fxsim amplification-study``).

Sun, Lao, Sundaramoorthi & Yezzi (NeurIPS 2022, "Surprising instabilities in training deep
networks and a theoretical analysis") found that a 1-ulp floating-point difference grows into a
visible difference of trained networks, and linked it to the learning rate crossing the edge
of stability, t·λ_max(∇²f) > 2.  This study reproduces the experiment on fxsim's datapath.

Setting.  The network is a ReLU MLP 64→16→10 (``MLP(sizes=(64, 16, 10))``, 1210 weights) on the
first ``n_samples`` = 256 images of scikit-learn's digits, trained by full-batch GD in the fully
emulated mode (``GD(mode="emulated")``: forward and backward pass in ``matmul``/``matvec``):
weights, gradients and activations in Q(24,16) (LSB 2^-16), accumulator Q(48,32), fused update
(``prod=None``).  Two runs A and B start from the He init of seed 0 and differ in one thing:

- ``perturb="lsb"``: B's start has +1 LSB in one word (raw integer + 1), the word with the
  largest |∂f/∂w| at the start (``perturbed_word``) so that the word is live; same k = 1;
- ``perturb="k3"``: identical starts; A updates with t·g, B with (t·k)·(g/k), k = 3, where
  g/k = cast_grad(g · (1/k)_q) and t·k is quantized like t, so B differs only by rounding;
- ``perturb="none"``: identical runs (a sanity check: the distance must stay exactly 0).

Weight decay ``wd`` is an extra step on the datapath after the gradient unit:
g' = cast_grad(g + wd_q·x) (wd_q: wd with 16 fraction bits, exact product and sum, one cast),
i.e. GD on f(x) + wd/2·‖x‖².  Every run applies both extra casts (decay and 1/k, exact when
wd = 0 or k = 1), so A and B make the same casts in the same order.

Strategies (``STRATEGIES``): round-to-nearest-even on every cast (activations, gradient,
write-back); stochastic rounding (r = 16) on those casts with ideal bits (PCG64) or a 16-bit
LFSR.  For SR both runs use the SAME random stream (the accelerators have the same seed, and
the runs take the same number of draws in the same order: every stochastic cast draws, even
when its value is exact, spec §2 and §4), so only the perturbation differs between them; the
accumulator is wide and rounds to nearest in every strategy.

Distances per iteration k (``pair_run``): ``l2`` = ‖raw_A − raw_B‖₂ (in LSB), ``linf`` =
max |raw_A − raw_B| (LSB), ``rel`` = ‖x_A − x_B‖₂ / ‖x_A‖₂.  The sweep (``sweep``) runs the
1-LSB pair over a grid of learning rates and weight decays and reports the largest ``l2`` over
the run; the edge of stability predicted at the start is t = 2/(λ_max + wd), λ_max the largest
eigenvalue of the float64 Hessian of f at the start (``lambda_max``: power iteration on
Hessian-vector products by central differences of the exact gradient).

``run(out, quick=False, seed=0, progress=True, copy_figures_to=None, workers=2)`` writes
``amplification.csv`` (every pair), ``amplification.md`` and two figures and returns
{"rows", "markdown", "files", "seconds"}.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np

from ._report import (add_study_options, arg_type, figure, finish, fmt_number, markdown_table,
                      pos_int, make_progress, print_study, run_jobs, verdict, write_csv)
from ..accelerator import Accelerator
from ..fixed import FixedArray
from ..floatformat import FloatFormat
from ..ops import cast, get_num_threads, set_num_threads
from ..optim import GD
from ..source_spec import make_source
from fxsim.models.decayed import CONST_FMT, DecayedModel
from ..qformat import QFormat
from . import amplification_variance as variance
from .float_training import FloatGD, ulp_away

__all__ = ["STRATEGIES", "FMT", "ACC_FMT", "CONST_FMT", "PRESETS", "FORMATS", "SOURCES",
           "DecayedModel", "make_model", "strategies", "strategy_of", "make_accelerator",
           "perturbed_word", "pair_run", "lambda_max", "sweep", "run", "add_cli"]

FMT = variance.FIXED_FMT             #: weights, gradients, activations: Q(24,16)
ACC_FMT = QFormat(48, 32)            #: accumulator
R_BITS = 16
#: strategy -> (rounding of the acts/grad/update casts, bit source)
STRATEGIES = {
    "round-to-nearest": ("nearest_even", None),
    "SR, ideal bits (PCG64)": ("stochastic", "pcg64"),
    "SR, LFSR n=16": ("stochastic", "lfsr16"),
}
PERTURBATIONS = ("lsb", "k3", "none")
#: the default formats (``--formats``) and SR bit sources (``--sources``)
FORMATS = ("fixed", "fp32", "bf16")
SOURCES = ("pcg64", "lfsr16")
_SR_NAMES = {"pcg64": "SR, ideal bits (PCG64)", "lfsr16": "SR, LFSR n=16"}
#: iterations, the two trajectory settings (lr, wd), the sweep grid
PRESETS = {
    "full": {"n_iters": 200, "n_samples": 256, "stable": (0.25, 0.1), "unstable": (1.25, 0.0),
             "lrs": (0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5), "wds": (0.0, 0.01, 0.03, 0.1),
             "var_lrs": (0.5, 0.9), "var_iters": 200, "pairs": 8, "seeds": 8},
    "quick": {"n_iters": 100, "n_samples": 256, "stable": (0.25, 0.1), "unstable": (1.25, 0.0),
              "lrs": (0.25, 0.75, 1.25), "wds": (0.0, 0.1),
              "var_lrs": (0.5,), "var_iters": 100, "pairs": 3, "seeds": 3},
}


def strategies(sources=SOURCES) -> dict:
    """The strategies of a run: round-to-nearest and SR (r = 16) from each bit source of
    ``sources`` (any ``fxsim.make_source`` spec); name -> (rounding, source spec).

    >>> list(strategies(["pcg64", "philox"]))
    ['round-to-nearest', 'SR, ideal bits (PCG64)', 'SR, philox']
    """
    out = {"round-to-nearest": ("nearest_even", None)}
    for spec in sources:
        make_source(spec, 0)            # a bad spec raises its ValueError here
        out[_SR_NAMES.get(spec, f"SR, {spec}")] = ("stochastic", spec)
    return out


def strategy_of(name) -> tuple:
    """(rounding, source spec) of a strategy name (``STRATEGIES`` or ``"SR, <spec>"``).

    >>> strategy_of("SR, lfsr:24")
    ('stochastic', 'lfsr:24')
    """
    if name in STRATEGIES:
        return STRATEGIES[name]
    if isinstance(name, str) and name.startswith("SR, "):
        spec = name[4:]
        make_source(spec, 0)
        return ("stochastic", spec)
    raise ValueError(f"strategy: must be one of {', '.join(STRATEGIES)} or 'SR, <source spec>', "
                     f"got {name!r}")


def make_model(n_samples=256):
    """The study's network: ``MLP(sizes=(64, 16, 10))`` on the first ``n_samples`` digits.

    >>> make_model(64)
    MLP(sizes=(64, 16, 10), m=64, dim=1210)
    """
    from fxsim.models import MLP, builtin_dataset
    X, y = builtin_dataset("digits")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or \
            not 10 <= n_samples <= len(y):
        raise ValueError(f"n_samples: must be an integer in 10..{len(y)}, got {n_samples!r}")
    return MLP(sizes=(64, 16, 10), X=X[:n_samples], y=y[:n_samples], seed=0)


def make_accelerator(strategy, seed=0, fmt=FMT) -> Accelerator:
    """The accelerator of a strategy (``strategy_of``): ``fmt`` (Q(24,16)) weights/grads/acts,
    an accumulator of twice the word (Q(48,32)) rounding to nearest, fused update, the
    strategy's rounding on the acts/grad/update casts, r = 16, bit source seeded by ``seed``.

    >>> make_accelerator("SR, LFSR n=16").casts["update"]
    ('stochastic', 'saturate')
    """
    rnd, src = strategy_of(strategy)
    acc = ACC_FMT if fmt == FMT else QFormat(min(2 * fmt.wl, 64), 2 * fmt.fl)
    return Accelerator(fmt, fmt, acts=fmt, prod=None, acc=acc,
                       casts={"acts": rnd, "grad": rnd, "update": rnd}, source=src, seed=seed,
                       r=R_BITS)


def perturbed_word(model, x0q) -> int:
    """Index of the word that gets +1 LSB: the largest |∂f/∂w| (float64) at the start
    ``x0q`` (a FixedArray or float64 values).

    >>> m = make_model(64)
    >>> perturbed_word(m, cast(m.x0(), FMT, "nearest_even", "saturate"))
    1204
    """
    x = x0q.to_float() if isinstance(x0q, FixedArray) else np.asarray(x0q, dtype=np.float64)
    return int(np.argmax(np.abs(model.grad(x))))


def pair_run(model, strategy, lr, wd=0.0, perturb="lsb", n_iters=300, seed=0,
             record_loss=True, fmt=FMT) -> dict:
    """Train A and B (module doc) for ``n_iters`` iterations; return the per-iteration
    distances ``l2``, ``linf`` (in units of the start difference: LSB in fixed point, ulps of
    the perturbed word in a float format), ``rel`` (arrays of n_iters + 1, index 0 = the
    starts), the start words ``x0_a``, ``x0_b`` (raw integers or float codes), the final words
    ``x_a``, ``x_b``, their values ``w_a``, ``w_b``, ``word`` (the perturbed index or None),
    the final float64 losses ``loss_a``, ``loss_b`` (of f, without the decay term; NaN if
    ``record_loss`` is False) and the settings.  Both runs are seeded with ``seed`` (the same
    random stream for A and B).  ``fmt``: a ``QFormat`` (the datapath) or a ``FloatFormat``
    (``float_training.FloatGD``, one rounding per operation; ``perturb`` "lsb" is then one ulp
    away from zero, and "k3" is not available).

    >>> m = make_model(64)
    >>> r = pair_run(m, "round-to-nearest", 0.5, n_iters=3)
    >>> float(r["l2"][0]), int(np.count_nonzero(r["x0_a"] != r["x0_b"]))
    (1.0, 1)
    """
    if perturb not in PERTURBATIONS:
        raise ValueError(f"perturb: must be one of {', '.join(PERTURBATIONS)}, got {perturb!r}")
    if isinstance(n_iters, bool) or not isinstance(n_iters, int) or n_iters < 0:
        raise ValueError(f"n_iters: must be a non-negative integer, got {n_iters!r}")
    if not (isinstance(lr, (int, float)) and 0 < lr <= 16 and math.isfinite(lr)):
        raise ValueError(f"lr: must be a number in (0, 16], got {lr!r}")
    rounding, source = strategy_of(strategy)
    if isinstance(fmt, FloatFormat):
        if perturb == "k3":
            raise ValueError("perturb: 'k3' needs a fixed-point format")
        runs, word, unit = _float_runs(model, fmt, rounding, source, lr, wd, perturb, seed)
        a, b = runs

        def words(run):
            return run.codes, run.w
    else:
        x0 = cast(model.x0(), fmt, "nearest_even", "saturate")
        xb0 = FixedArray(x0.raw.copy(), fmt)
        word = None
        if perturb == "lsb":
            word = perturbed_word(model, x0)
            xb0.raw[word] += 1
        k_b = 3 if perturb == "k3" else 1
        runs = [GD(DecayedModel(model, wd, k), make_accelerator(strategy, seed, fmt), lr * k,
                   "emulated", x0=x)
                for k, x in ((1, x0), (k_b, xb0))]
        a, b = runs
        unit = fmt.lsb

        def words(run):
            return run.x.raw, run.x.to_float()
    x0_a, x0_b = (words(run)[0].copy() for run in runs)
    l2, linf, rel = [], [], []

    def measure():
        wa, wb = words(a)[1], words(b)[1]
        d = (wa - wb) / unit
        l2.append(float(np.sqrt(np.dot(d, d))))
        linf.append(float(np.abs(d).max()))
        na = float(np.linalg.norm(wa))
        rel.append(l2[-1] * unit / na if na > 0 else math.inf)

    measure()
    for _ in range(n_iters):
        for run in runs:
            if isinstance(run, GD):
                run.step(record=False)
            else:
                run.step()
        measure()
    nan = float("nan")
    (x_a, w_a), (x_b, w_b) = words(a), words(b)
    return {"strategy": strategy, "format": variance.format_name(fmt), "lr": lr, "wd": wd,
            "perturb": perturb, "n_iters": n_iters, "seed": seed, "word": word,
            "l2": np.array(l2), "linf": np.array(linf), "rel": np.array(rel),
            "x0_a": x0_a, "x0_b": x0_b, "x_a": x_a.copy(), "x_b": x_b.copy(),
            "w_a": w_a.copy(), "w_b": w_b.copy(),
            "loss_a": float(model.loss(w_a)) if record_loss else nan,
            "loss_b": float(model.loss(w_b)) if record_loss else nan}


def _float_runs(model, fmt, rounding, source, lr, wd, perturb, seed):
    """The two full-batch ``FloatGD`` runs of a float pair, the perturbed word and the ulp
    of that word at the start (the distance unit)."""
    x0 = cast(model.x0(), fmt, "nearest_even", "saturate").to_float()
    word, xb0, unit = None, x0, 1.0
    if perturb == "lsb":
        word = perturbed_word(model, x0)
        xb0 = ulp_away(x0, fmt, word)
        unit = abs(float(xb0[word] - x0[word]))
    runs = [FloatGD(model, fmt, rounding, lr=lr, wd=wd, source=source, sr_seed=seed, x0=x)
            for x in (x0, xb0)]
    return runs, word, unit


def lambda_max(grad, x, iters=50, h=1e-7, seed=0) -> float:
    """Largest eigenvalue of the Hessian of f at ``x`` by power iteration on Hessian-vector
    products H·v ≈ (∇f(x + hv) − ∇f(x − hv)) / 2h (``grad`` = ∇f, float64, ‖v‖ = 1).
    Power iteration finds the eigenvalue of largest magnitude; for the networks here that is
    the top one (the Hessian's negative eigenvalues are much smaller).  h is small because a
    ReLU network's gradient jumps where a pre-activation crosses 0: on the fixed-point grid
    many pre-activations sit within 1e-5 of a kink (h = 1e-5 gave λ ≈ 126 instead of 2.8 at a
    round-to-nearest end point), while float64 round-off only adds ~1e-16/h to H·v.

    >>> A = np.diag([1.0, 4.0, 10.0])
    >>> round(lambda_max(lambda z: A @ z, np.zeros(3)), 6)
    10.0
    """
    x = np.asarray(x, dtype=np.float64)
    v = np.random.default_rng(seed).standard_normal(x.size)
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(iters):
        hv = (np.asarray(grad(x + h * v)) - np.asarray(grad(x - h * v))) / (2 * h)
        lam = float(v @ hv)
        nrm = float(np.linalg.norm(hv))
        if nrm == 0:
            return 0.0
        v = hv / nrm
    return lam


# -- jobs on worker processes -----------------------------------------------------------------

_MODELS = {}


def _job(args):
    strategy, lr, wd, perturb, n_iters, seed, n_samples = args[:7]
    fmt = variance.parse_format(args[7]) if len(args) > 7 else FMT
    if n_samples not in _MODELS:
        _MODELS[n_samples] = make_model(n_samples)
    try:
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(1)
    except ImportError:          # pragma: no cover
        limit = None
    # one kernel thread per job: the jobs themselves run on the worker processes, and OpenMP
    # threads competing for the same cores are several times slower than one
    threads = get_num_threads()
    set_num_threads(1)
    try:
        return _summary(pair_run(_MODELS[n_samples], strategy, lr, wd, perturb, n_iters, seed,
                                 fmt=fmt), _MODELS[n_samples])
    finally:
        set_num_threads(threads)
        if limit is not None:
            limit.restore_original_limits()


def _summary(r, model):
    lam_end = lambda_max(model.grad, r["w_a"], iters=30) + r["wd"]
    return {"strategy": r["strategy"], "format": r["format"], "lr": r["lr"], "wd": r["wd"], "perturb": r["perturb"],
            "n_iters": r["n_iters"], "seed": r["seed"], "word": r["word"],
            "max_l2": float(r["l2"].max()), "final_l2": float(r["l2"][-1]),
            "final_linf": float(r["linf"][-1]), "final_rel": float(r["rel"][-1]),
            "loss_a": r["loss_a"], "loss_b": r["loss_b"], "lam_end": lam_end, "l2": r["l2"]}


def _map(jobs, workers, progress, desc):
    bar = make_progress(len(jobs), desc, progress, leave=False)
    try:
        return run_jobs(_job, jobs, workers, bar)
    finally:
        bar.close()


def sweep(lrs, wds, strategies=None, n_iters=300, seed=0, n_samples=256, workers=2,
          progress=False, formats=("fixed",)) -> list:
    """The 1-LSB (1-ulp) pair over the grid ``lrs`` × ``wds`` for each format name of
    ``formats`` and each strategy name of ``strategies``: one summary dict per cell
    (``max_l2``, ``final_l2``, ``final_linf`` in LSB or ulps, ``final_rel``, final losses,
    ``lam_end`` = λ_max(∇²f + wd·I) at A's last iterate, the ``l2`` curve).  Results do not
    depend on ``workers``.

    >>> rows = sweep([0.5], [0.01], ["round-to-nearest"], n_iters=2, n_samples=64, workers=1)
    >>> [(r["lr"], r["wd"], r["max_l2"]) for r in rows]
    [(0.5, 0.01, 4.0)]
    """
    names = list(STRATEGIES) if strategies is None else list(strategies)
    jobs = [(s, float(lr), float(wd), "lsb", n_iters, seed, n_samples, f)
            for f in formats for s in names for wd in wds for lr in lrs]
    return _map(jobs, workers, progress, "amplification sweep")


# -- report -----------------------------------------------------------------------------------

COLUMNS = ["experiment", "format", "strategy", "perturb", "lr", "wd", "n_iters", "seed", "word",
           "max_l2", "final_l2", "final_linf", "final_rel", "loss_a", "loss_b", "lam_end"]
VAR_COLUMNS = ["format", "strategy", "lr", "n_iters", "group", "sgd_seed", "sr_seed", "word",
               "test_acc", "dist"]
SEPARATED = 1e4          #: a pair this far apart (in start units) has become two networks
_FIXED = str(FMT)


def _failed(r):
    """Run A or B collapsed to a constant output (loss ≥ 0.9·ln 10, ln 10 = a uniform guess)."""
    return max(r["loss_a"], r["loss_b"]) >= 0.9 * math.log(10)


def _unit(fmt_name):
    return "LSB" if fmt_name == _FIXED or fmt_name.startswith("Q") else "ulp"


def _colors(names):
    """A colour per strategy: round-to-nearest red, the SR sources blue, green, then tab10."""
    palette = ["tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown", "tab:pink"]
    out, k = {}, 0
    for n in names:
        if n == "round-to-nearest":
            out[n] = "tab:red"
        else:
            out[n] = palette[k % len(palette)]
            k += 1
    return out


def _plot_trajectories(traj, p, path):
    panels = list(dict.fromkeys((r.get("format", _FIXED), r["perturb"]) for r in traj))
    colors = _colors(dict.fromkeys(r["strategy"] for r in traj))
    ncols = 2 if len(panels) > 1 else 1
    nrows = math.ceil(len(panels) / ncols)
    fig = figure(7 * ncols, 4.6 * nrows, layout=None)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    (tu, wu), (ts, ws) = p["unstable"], p["stable"]
    for ax, (f, pert) in zip(axes, panels):
        unit = _unit(f)
        for r in traj:
            if (r.get("format", _FIXED), r["perturb"]) != (f, pert):
                continue
            lr, wd = r["lr"], r["wd"]
            ax.plot(np.arange(len(r["l2"])), r["l2"], color=colors[r["strategy"]],
                    ls="-" if (lr, wd) == p["unstable"] else "--", lw=1.8,
                    label=f"{r['strategy']}, t={lr:g}, wd={wd:g}")
        ax.set_yscale("symlog", linthresh=1)
        ax.set_xlabel("iteration", fontsize=12)
        ax.set_ylabel(f"‖w_A − w_B‖₂ ({unit})", fontsize=12)
        what = (f"B starts 1 {unit} away in one word" if pert == "lsb"
                else "B updates with (3t)·(g/3)")
        ax.set_title(f"{f}: {what}", fontsize=12)
        ax.tick_params(labelsize=11)
        ax.grid(alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=11, frameon=False)
    fig.suptitle(f"Distance between two trainings that differ by one unit at the start "
                 f"(symlog scale)\nsolid: t = {tu:g}, wd = {wu:g} (beyond the edge of "
                 f"stability); dashed: t = {ts:g}, wd = {ws:g}", fontsize=13)
    rows_legend = math.ceil(len(labels) / 2)
    fig.tight_layout(rect=(0, 0.045 * rows_legend / nrows + 0.02, 1, 0.95))
    fig.savefig(path, dpi=110)
    return path


def _short(v):
    """A cell label: "58", "2", "7e5"."""
    return f"{v:.0f}" if v < 999.5 else f"{v:.0e}".replace("e+0", "e").replace("e+", "e")


def _plot_heatmap(grid, lrs, wds, lam0, path):
    strategies_ = list(dict.fromkeys(r["strategy"] for r in grid))
    formats = list(dict.fromkeys(r.get("format", _FIXED) for r in grid))
    fig = figure(5.0 * len(strategies_) + 1.5, 4.2 * len(formats) + 1.2)
    axes = fig.subplots(len(formats), len(strategies_), sharey=True, squeeze=False)
    vmax = max(1.0, max(math.log10(max(r["max_l2"], 1.0)) for r in grid))
    for row, f in zip(axes, formats):
        for ax, s in zip(row, strategies_):
            z = np.zeros((len(wds), len(lrs)))
            cells = [r for r in grid if r["strategy"] == s and r.get("format", _FIXED) == f]
            for r in cells:
                z[wds.index(r["wd"]), lrs.index(r["lr"])] = math.log10(max(r["max_l2"], 1.0))
            im = ax.imshow(z, origin="lower", aspect="auto", cmap="magma", vmin=0, vmax=vmax)
            for r in cells:
                i, j = wds.index(r["wd"]), lrs.index(r["lr"])
                txt = _short(r["max_l2"]) + ("×" if _failed(r) else "")
                ax.text(j, i, txt, ha="center", va="center", fontsize=11,
                        color="white" if z[i, j] < 0.6 * vmax else "black")
            # predicted edge of stability t = 2/(λ_max + wd), in the column coordinates
            xb = np.interp([2.0 / (lam0 + wd) for wd in wds], lrs, np.arange(len(lrs)),
                           left=-0.5, right=len(lrs) - 0.5)
            ax.plot(xb, np.arange(len(wds)), "c--", lw=2, label="edge 2/(λ_max(w₀) + wd)")
            ax.set_xticks(range(len(lrs)), [f"{v:g}" for v in lrs], fontsize=11)
            ax.set_yticks(range(len(wds)), [f"{v:g}" for v in wds], fontsize=11)
            ax.set_xlabel("learning rate t", fontsize=12)
            ax.set_title(f"{f}, {s}", fontsize=12)
        row[0].set_ylabel("weight decay wd", fontsize=12)
    axes[0][0].legend(fontsize=10, loc="upper right")
    cb = fig.colorbar(im, ax=list(axes.ravel()), shrink=0.8)
    cb.set_label("log10 max ‖w_A − w_B‖₂ (LSB or ulp)", fontsize=12)
    below = [r["max_l2"] for r in grid if r["lr"] < 2.0 / (lam0 + r["wd"])]
    beyond = [r["max_l2"] for r in grid if r["lr"] >= 2.0 / (lam0 + r["wd"])]
    span = "; ".join(f"{what} the edge: {_short(min(v))}–{_short(max(v))}"
                     for what, v in (("below", below), ("at or beyond", beyond)) if v)
    fig.suptitle("Largest distance between two trainings that start one LSB (ulp) apart\n("
                 + span + "; × = run A or B collapsed to a constant output)", fontsize=13)
    fig.savefig(path, dpi=110)
    return path


def _plot_variance(var_rows, path):
    """Test accuracy of every run of the metric: perturbed, SGD seeds, SR seeds, per lr."""
    lrs = sorted({r["lr"] for r in var_rows})
    keys = list(dict.fromkeys((r["format"], r["strategy"]) for r in var_rows))
    groups = {"perturbed": ("tab:red", "o", -0.22), "sgd seed": ("0.35", "s", 0.0),
              "sr seed": ("tab:blue", "^", 0.22)}
    fig = figure(max(7.0, 1.25 * len(keys) + 2), 4.8 * len(lrs) + 0.6)
    axes = fig.subplots(len(lrs), 1, squeeze=False)[:, 0]
    for ax, lr in zip(axes, lrs):
        for g, (col, mk, dx) in groups.items():
            xs, ys = [], []
            for k, key in enumerate(keys):
                acc = [100 * r["test_acc"] for r in var_rows if r["lr"] == lr and
                       (r["format"], r["strategy"]) == key and r["group"] in (g, "base")]
                if len(acc) > 1:
                    xs += [k + dx] * len(acc)
                    ys += acc
            ax.scatter(xs, ys, s=36, color=col, marker=mk, alpha=0.75,
                       label={"perturbed": "1-ulp (1-LSB) perturbed starts",
                              "sgd seed": "other SGD seeds",
                              "sr seed": "other SR bit-source seeds"}[g])
        ax.set_xticks(range(len(keys)), [f"{f}\n{s.replace(', ', chr(10))}" for f, s in keys],
                      fontsize=10)
        ax.set_ylabel("test accuracy (%)", fontsize=12)
        ax.set_title(f"learning rate t = {lr:g}: each point is one trained network "
                     f"(the unperturbed base run is in every group)", fontsize=12)
        ax.tick_params(axis="y", labelsize=11)
        ax.grid(alpha=0.3, axis="y")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=11, frameon=False)
    fig.savefig(path, dpi=110)
    return path


def _cells(grid, f, s):
    return {(r["wd"], r["lr"]): r for r in grid if r["strategy"] == s and r["format"] == f}


def _verdicts(traj, grid, summary, p, lam0, formats, names):
    out = []
    (tu, wu), (ts, ws) = p["unstable"], p["stable"]
    for f in formats:
        unit = _unit(f)
        big = {r["strategy"]: r["max_l2"] for r in traj
               if r["format"] == f and r["perturb"] == "lsb" and (r["lr"], r["wd"]) == (tu, wu)}
        out.append(verdict(f"{f}: beyond the edge of stability (t = {tu:g}, wd = {wu:g}) one "
                           f"{unit} grows ≥ 10³× for every strategy", min(big.values()) >= 1e3,
                           ", ".join(f"{s} {_short(v)}" for s, v in big.items())))
        small = [r["max_l2"] for r in traj if r["format"] == f and r["perturb"] == "lsb"
                 and (r["lr"], r["wd"]) == (ts, ws) and r["strategy"] == "round-to-nearest"]
        if small:
            out.append(verdict(f"{f}: at t = {ts:g}, wd = {ws:g} round-to-nearest keeps the "
                               f"pair within 16 {unit}", small[0] <= 16,
                               f"largest {_short(small[0])} {unit}"))
        beyond = [r for r in grid if r["format"] == f and r["lr"] >= 2.0 / (lam0 + r["wd"])]
        if beyond:
            sep = sum(r["max_l2"] >= SEPARATED for r in beyond)
            out.append(verdict(f"{f}: the pair separates (≥ 10⁴ {unit}) wherever t is beyond "
                               f"the start's edge of stability 2/(λ_max + wd) (the paper's "
                               f"condition on t and wd)", sep == len(beyond),
                               f"{sep} of {len(beyond)} cells beyond the edge"))
        ref = names[1] if len(names) > 1 else None
        for other in names[2:]:
            a, b = _cells(grid, f, ref), _cells(grid, f, other)
            common = [k for k in a if k in b]
            if not common:
                continue
            na = sum(a[k]["max_l2"] >= SEPARATED for k in common)
            nb = sum(b[k]["max_l2"] >= SEPARATED for k in common)
            gm = 10 ** float(np.mean([math.log10(max(b[k]["max_l2"], 1.0) /
                                                 max(a[k]["max_l2"], 1.0)) for k in common]))
            out.append(verdict(f"{f}: {other} behaves like {ref} (the same sweep cells "
                               f"separate by ≥ 10⁴ {_unit(f)})", na == nb,
                               f"separated cells {nb} vs {na} of {len(common)}, "
                               f"geometric-mean ratio {gm:.2f}"))
    for f in formats:
        for lr in sorted({s["lr"] for s in summary}):
            mine = [s for s in summary if s["format"] == f and s["lr"] == lr]
            if not mine:
                continue
            held = [s["held"] for s in mine]
            fig_ = "; ".join(f"{s['strategy']} {s['std_perturbed']:.2f} vs {s['std_sgd_seed']:.2f}"
                             for s in mine)
            out.append(verdict(f"{f}, t = {lr:g}: a 1-{_unit(f)} perturbation gives a test-"
                               f"accuracy variance comparable to SGD seeds (the paper's headline)",
                               True if all(held) else (False if not any(held) else None),
                               f"std of test accuracy, perturbed vs SGD seeds (pp): {fig_}"))
    return out


def _markdown(traj, grid, summary, p, lam0, seconds, quick, seed, verdicts):
    from ._report import verdict_lines
    out = ["# 1-LSB / 1-ulp error amplification on the datapath", ""]
    if quick:
        out += ["**--quick: fewer iterations, pairs and seeds; the figures are noisy.**", ""]
    out += [f"preset = {'quick' if quick else 'full'}, seed = {seed}, MLP 64→16→10. "
            f"Pairs: {p['n_samples']} digits, {p['n_iters']} full-batch GD iterations; "
            f"{_FIXED} weights/grads/acts with a {ACC_FMT} accumulator on the datapath, float "
            "formats with one rounding per operation (float64, then cast). "
            f"λ_max(∇²f(w₀)) = {lam0:.3f}, so the edge of stability at the start is "
            f"t = 2/λ_max = {2 / lam0:.3f} (wd = 0). SR runs A and B share one random stream "
            "(same seed).", "", "## Verdict", "", "```", verdict_lines(verdicts), "```", "",
            "## Test-accuracy variance: 1-ulp perturbations vs SGD seeds", "",
            f"Minibatch SGD (B = {variance.BATCH}) on the first {variance.N_TRAIN} digits, "
            f"{p['var_iters']} steps, test accuracy on the other {1797 - variance.N_TRAIN}; "
            f"{p['pairs']} perturbed starts (+1 ulp/LSB in one of the {p['pairs']} words with "
            f"the largest |∂f/∂w|), {p['seeds']} other SGD seeds, {p['seeds']} other SR seeds; "
            "every group includes the base run. Std in percentage points; held: the "
            "perturbed variance is not significantly below the SGD-seed variance (one-sided F "
            "test, 5 %).", ""]
    body = [[s["format"], s["strategy"], f"{s['lr']:g}", f"{s['mean_perturbed']:.2f}",
             f"{s['std_perturbed']:.3f}", f"{s['std_sgd_seed']:.3f}",
             "—" if math.isnan(s["std_sr_seed"]) else f"{s['std_sr_seed']:.3f}",
             fmt_number(s["var_ratio"]), f"{s['f_bound']:.3f}", fmt_number(s["max_dist"]),
             "held" if s["held"] else "did not hold"] for s in summary]
    out.append(markdown_table(["format", "strategy", "t", "mean acc (%)", "std perturbed",
                               "std SGD seeds", "std SR seeds", "var ratio", "F bound",
                               "max rel. distance", "claim"], body))
    out += ["", "## Trajectories", "",
            "Distances in start units (LSB in fixed point, ulps of the perturbed word in "
            "float): ‖Δ‖₂ largest over the run and at the end, max |Δ| at the end, relative "
            "‖Δ‖₂/‖w_A‖₂ at the end; final loss f of A and B; t·λ_max of f + wd/2‖w‖² at A's "
            "last iterate (edge of stability: 2).", ""]
    body = [[r["format"], r["strategy"], {"lsb": "1 unit", "k3": "k = 3"}[r["perturb"]],
             f"{r['lr']:g}", f"{r['wd']:g}", fmt_number(r["max_l2"]), fmt_number(r["final_l2"]),
             fmt_number(r["final_linf"]), fmt_number(r["final_rel"]), fmt_number(r["loss_a"]),
             fmt_number(r["loss_b"]), f"{r['lr'] * r['lam_end']:.2f}"] for r in traj]
    out.append(markdown_table(["format", "strategy", "perturbation", "t", "wd", "max ‖Δ‖₂",
                               "final ‖Δ‖₂", "final max|Δ|", "final rel", "loss A", "loss B",
                               "t·λ_max at end"], body))
    out += ["", "## Sweep: largest ‖Δ‖₂ of the 1-unit pair", "",
            "Rows: weight decay; columns: learning rate; × = run A or B collapsed (loss ≥ 0.9 ln "
            "10); predicted edge 2/(λ_max + wd) in the last column.", ""]
    lrs = sorted({r["lr"] for r in grid})
    wds = sorted({r["wd"] for r in grid})
    for f, s in dict.fromkeys((r["format"], r["strategy"]) for r in grid):
        cells = _cells(grid, f, s)
        body = [[f"{wd:g}"] + [fmt_number(cells[wd, lr]["max_l2"], 2)
                               + (" ×" if _failed(cells[wd, lr]) else "") for lr in lrs]
                + [f"{2 / (lam0 + wd):.3f}"] for wd in wds]
        out += [f"**{f}, {s}** ({_unit(f)})", "",
                markdown_table(["wd \\ t"] + [f"{v:g}" for v in lrs] + ["2/(λ+wd)"], body), ""]
    out.append(f"Study time {seconds:.1f} s.")
    return "\n".join(out) + "\n"


def run(out_dir, quick=False, seed=0, progress=True, copy_figures_to=None, workers=2,
        formats=FORMATS, sources=SOURCES, pairs=None, seeds=None) -> dict:
    """Run the trajectories, the sweep and the test-accuracy metric for each format of
    ``formats`` (``"fixed"`` = Q(24,16), fixed-point names, float names such as ``fp32``,
    ``bf16``) with round-to-nearest and SR from each bit source of ``sources`` (any
    ``fxsim.make_source`` spec); ``pairs``/``seeds``: perturbed starts and seeds of the metric
    (default 8 and 8; quick 3 and 3).  Writes ``amplification.csv``,
    ``amplification_variance.csv``, ``amplification.md`` and three figures into ``out_dir``
    (web-size copies into ``copy_figures_to``); returns the ``StudyResult`` with ``rows``,
    ``variance`` (every run of the metric), ``summary``, ``verdicts`` (one per claim),
    ``lambda_max``.  Python entry point, e.g.:

    >>> res = run("results/amp", quick=True, formats=["fixed", "bf16"],
    ...           sources=["pcg64", "lfsr:24"])                          # doctest: +SKIP
    >>> print(verdict_lines(res.verdicts))                                # doctest: +SKIP
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
    fmts = [variance.format_name(variance.parse_format(f)) for f in formats]
    if not fmts:
        raise ValueError("formats: give at least one format")
    names = strategies(sources)
    p = dict(PRESETS["quick" if quick else "full"])
    for key, v in (("pairs", pairs), ("seeds", seeds)):
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, int) or not 2 <= v <= 64:
                raise ValueError(f"{key}: must be an integer in 2..64, got {v!r}")
            p[key] = v
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    n, ns = p["n_iters"], p["n_samples"]
    lrs, wds = list(p["lrs"]), list(p["wds"])
    traj_jobs = [(s, lr, wd, pert, n, seed, ns, f) for f in fmts
                 for pert in (("lsb", "k3") if f.startswith("Q") else ("lsb",))
                 for s in names for (lr, wd) in (p["unstable"], p["stable"])]
    grid_jobs = [(s, float(lr), float(wd), "lsb", n, seed, ns, f)
                 for f in fmts for s in names for wd in wds for lr in lrs]
    unique = list(dict.fromkeys(traj_jobs + grid_jobs))     # a trajectory may be a grid cell
    done = dict(zip(unique, _map(unique, workers, progress, "amplification pairs")))
    traj = [dict(done[j], experiment="trajectory") for j in traj_jobs]
    grid = [dict(done[j], experiment="sweep") for j in grid_jobs]
    var_rows = []
    for lr in p["var_lrs"]:
        var_rows += variance.experiment(fmts, names, lr=lr, n_iters=p["var_iters"],
                                        n_pairs=p["pairs"], n_seeds=p["seeds"], seed=seed,
                                        workers=workers, progress=progress)
    summary = []
    for lr in p["var_lrs"]:
        for srow in variance.summarize([r for r in var_rows if r["lr"] == lr]):
            summary.append(dict(srow, lr=lr))
    model = make_model(ns)
    lam0 = lambda_max(model.grad, cast(model.x0(), FMT, "nearest_even", "saturate").to_float())
    seconds = time.perf_counter() - t0
    verdicts = _verdicts(traj, grid, summary, p, lam0, fmts, list(names))
    files = {"csv": os.path.join(out_dir, "amplification.csv"),
             "variance_csv": os.path.join(out_dir, "amplification_variance.csv"),
             "md": os.path.join(out_dir, "amplification.md")}
    write_csv(traj + grid, files["csv"], COLUMNS)
    write_csv(var_rows, files["variance_csv"], VAR_COLUMNS)
    files["trajectories_png"] = _plot_trajectories(
        traj, p, os.path.join(out_dir, "amplification_trajectories.png"))
    files["sweep_png"] = _plot_heatmap(grid, lrs, wds, lam0,
                                       os.path.join(out_dir, "amplification_sweep.png"))
    files["variance_png"] = _plot_variance(var_rows,
                                           os.path.join(out_dir, "amplification_variance.png"))
    md = _markdown(traj, grid, summary, p, lam0, seconds, quick, seed, verdicts)
    return finish(md, files, seconds, traj + grid, copy_figures_to, lambda_max=lam0,
                  variance=var_rows, summary=summary, verdicts=verdicts)


def _names(text):
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ValueError("expected a comma-separated list, got an empty one")
    return items


def _format_list(text):
    items = _names(text)
    for t in items:
        variance.parse_format(t)
    return items


def _source_list(text):
    items = _names(text)
    for t in items:
        make_source(t, 0)
    return items


def _cmd(args) -> int:
    return print_study(run(args.out, quick=args.quick, seed=args.seed, progress=args.progress,
                            copy_figures_to=args.copy_figures, workers=args.workers,
                            formats=args.formats, sources=args.sources, pairs=args.pairs,
                            seeds=args.seeds))


def add_cli(sub):
    """Register ``fxsim amplification-study`` on the argparse sub-parsers ``sub``.

    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="fxsim").add_subparsers(dest="cmd")
    >>> p = add_cli(sub)
    >>> a = p.parse_args(["--quick", "--seed", "2", "--formats", "fixed,bf16"])
    >>> a.quick, a.seed, a.out, a.formats, a.sources
    (True, 2, 'results/amplification', ['fixed', 'bf16'], ('pcg64', 'lfsr16'))
    """
    p = sub.add_parser(
        "amplification-study", help="study: does a 1-LSB (1-ulp) difference grow during training?",
        description="Train an MLP 64-16-10 on digits twice, from starts one LSB (one ulp) apart "
                    "in one word, or with the update computed as (t*3)*(g/3), in fixed point on "
                    "the emulated datapath (Q(24,16)) and in float formats (one rounding per "
                    "operation); round-to-nearest and SR from each bit source (the same random "
                    "stream for both runs); sweep learning rate and weight decay; and measure "
                    "the paper's metric: the test-accuracy spread of 1-ulp perturbed trainings "
                    "against that of SGD seeds. Writes OUT/amplification.md, two CSV files and "
                    "three PNGs.")
    add_study_options(p, "results/amplification",
                      "smaller grid, fewer iterations, 3 pairs and 3 seeds, one learning rate (noisy)",
                      "seed of the bit sources and of the SGD seeds")
    p.add_argument("--workers", type=pos_int, default=2,
                   help="worker processes (default 2; results do not depend on it)")
    p.add_argument("--formats", type=arg_type(_format_list), default=FORMATS,
                   help="comma-separated formats: fixed (= Q(24,16)), a fixed-point format "
                        "(Q(16,10)), float names (fp32, bf16, fp16, e4m3...) "
                        f"(default {','.join(FORMATS)})")
    p.add_argument("--sources", type=arg_type(_source_list), default=SOURCES,
                   help="comma-separated SR bit sources, any fxsim.make_source spec (pcg64, "
                        f"philox, lfsr16, lfsr:24:fibonacci...) (default {','.join(SOURCES)})")
    p.add_argument("--pairs", type=pos_int, default=None,
                   help="perturbed starts of the test-accuracy metric (default 8; quick 3)")
    p.add_argument("--seeds", type=pos_int, default=None,
                   help="SGD seeds and SR seeds of the test-accuracy metric (default 8; quick 3)")
    p.set_defaults(run=_cmd)
    return p
