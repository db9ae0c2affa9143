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

from ._report import (add_study_options, figure, finish, fmt_number, markdown_table, pos_int,
                      make_progress, print_study, run_jobs, write_csv)
from ..accelerator import Accelerator
from ..fixed import FixedArray
from ..ops import cast, get_num_threads, set_num_threads
from ..optim import GD
from fxsim.models.decayed import CONST_FMT, DecayedModel
from ..qformat import QFormat

__all__ = ["STRATEGIES", "FMT", "ACC_FMT", "CONST_FMT", "PRESETS", "DecayedModel", "make_model",
           "make_accelerator", "perturbed_word", "pair_run", "lambda_max", "sweep", "run",
           "add_cli"]

FMT = QFormat(24, 16)                #: weights, gradients, activations
ACC_FMT = QFormat(48, 32)            #: accumulator
R_BITS = 16
#: strategy -> (rounding of the acts/grad/update casts, bit source)
STRATEGIES = {
    "round-to-nearest": ("nearest_even", None),
    "SR, ideal bits (PCG64)": ("stochastic", "pcg64"),
    "SR, LFSR n=16": ("stochastic", "lfsr16"),
}
PERTURBATIONS = ("lsb", "k3", "none")
#: iterations, the two trajectory settings (lr, wd), the sweep grid
PRESETS = {
    "full": {"n_iters": 200, "n_samples": 256, "stable": (0.25, 0.1), "unstable": (1.25, 0.0),
             "lrs": (0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5), "wds": (0.0, 0.01, 0.03, 0.1)},
    "quick": {"n_iters": 100, "n_samples": 256, "stable": (0.25, 0.1), "unstable": (1.25, 0.0),
              "lrs": (0.25, 1.25), "wds": (0.0, 0.1)},
}


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


def make_accelerator(strategy, seed=0) -> Accelerator:
    """The accelerator of a strategy (``STRATEGIES`` key): Q(24,16) weights/grads/acts, a
    Q(48,32) accumulator rounding to nearest, fused update, the strategy's rounding on the
    acts/grad/update casts, r = 16, bit source seeded by ``seed``.

    >>> make_accelerator("SR, LFSR n=16").casts["update"]
    ('stochastic', 'saturate')
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy: must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    rnd, src = STRATEGIES[strategy]
    return Accelerator(FMT, FMT, acts=FMT, prod=None, acc=ACC_FMT,
                       casts={"acts": rnd, "grad": rnd, "update": rnd}, source=src, seed=seed,
                       r=R_BITS)


def perturbed_word(model, x0q: FixedArray) -> int:
    """Index of the word that gets +1 LSB: the largest |∂f/∂w| (float64) at the start.

    >>> m = make_model(64)
    >>> perturbed_word(m, cast(m.x0(), FMT, "nearest_even", "saturate"))
    1204
    """
    return int(np.argmax(np.abs(model.grad(x0q.to_float()))))


def pair_run(model, strategy, lr, wd=0.0, perturb="lsb", n_iters=300, seed=0,
             record_loss=True) -> dict:
    """Train A and B (module doc) for ``n_iters`` iterations; return the per-iteration
    distances ``l2``, ``linf`` (LSB), ``rel`` (arrays of n_iters + 1, index 0 = the starts),
    the start words ``x0_a``, ``x0_b`` (raw), the final words ``x_a``, ``x_b`` (raw), ``word``
    (the perturbed index or None), the final float64 losses ``loss_a``, ``loss_b`` (of f, without
    the decay term; NaN if ``record_loss`` is False) and the settings.  Both accelerators are
    seeded with ``seed`` (the same random stream for A and B).

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
    x0 = cast(model.x0(), FMT, "nearest_even", "saturate")
    xb0 = FixedArray(x0.raw.copy(), FMT)
    word = None
    if perturb == "lsb":
        word = perturbed_word(model, x0)
        xb0.raw[word] += 1
    k_b = 3 if perturb == "k3" else 1
    runs = [GD(DecayedModel(model, wd, k), make_accelerator(strategy, seed), lr * k, "emulated",
               x0=x)
            for k, x in ((1, x0), (k_b, xb0))]
    a, b = runs
    l2, linf, rel = [], [], []

    def measure():
        d = a.x.raw.astype(np.int64) - b.x.raw.astype(np.int64)
        l2.append(float(np.sqrt(np.dot(d.astype(np.float64), d))))
        linf.append(int(np.abs(d).max()))
        na = float(np.linalg.norm(a.x.to_float()))
        rel.append(l2[-1] * FMT.lsb / na if na > 0 else math.inf)

    measure()
    for _ in range(n_iters):
        a.step(record=False)
        b.step(record=False)
        measure()
    nan = float("nan")
    return {"strategy": strategy, "lr": lr, "wd": wd, "perturb": perturb, "n_iters": n_iters,
            "seed": seed, "word": word, "l2": np.array(l2), "linf": np.array(linf),
            "rel": np.array(rel), "x0_a": x0.raw.copy(), "x0_b": xb0.raw.copy(),
            "x_a": a.x.raw.copy(), "x_b": b.x.raw.copy(),
            "loss_a": float(model.loss(a.x.to_float())) if record_loss else nan,
            "loss_b": float(model.loss(b.x.to_float())) if record_loss else nan}


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
    strategy, lr, wd, perturb, n_iters, seed, n_samples = args
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
        return _summary(pair_run(_MODELS[n_samples], strategy, lr, wd, perturb, n_iters, seed),
                        _MODELS[n_samples])
    finally:
        set_num_threads(threads)
        if limit is not None:
            limit.restore_original_limits()


def _summary(r, model):
    xa = r["x_a"].astype(np.float64) * FMT.lsb
    lam_end = lambda_max(model.grad, xa, iters=30) + r["wd"]
    return {"strategy": r["strategy"], "lr": r["lr"], "wd": r["wd"], "perturb": r["perturb"],
            "n_iters": r["n_iters"], "seed": r["seed"], "word": r["word"],
            "max_l2": float(r["l2"].max()), "final_l2": float(r["l2"][-1]),
            "final_linf": int(r["linf"][-1]), "final_rel": float(r["rel"][-1]),
            "loss_a": r["loss_a"], "loss_b": r["loss_b"], "lam_end": lam_end, "l2": r["l2"]}


def _map(jobs, workers, progress, desc):
    bar = make_progress(len(jobs), desc, progress, leave=False)
    try:
        return run_jobs(_job, jobs, workers, bar)
    finally:
        bar.close()


def sweep(lrs, wds, strategies=None, n_iters=300, seed=0, n_samples=256, workers=2,
          progress=False) -> list:
    """The 1-LSB pair over the grid ``lrs`` × ``wds`` for each strategy: one summary dict per
    cell (``max_l2``, ``final_l2``, ``final_linf`` in LSB, ``final_rel``, final losses,
    ``lam_end`` = λ_max(∇²f + wd·I) at A's last iterate, the ``l2`` curve).  Results do not
    depend on ``workers``.

    >>> rows = sweep([0.5], [0.01], ["round-to-nearest"], n_iters=2, n_samples=64, workers=1)
    >>> [(r["lr"], r["wd"], r["max_l2"]) for r in rows]
    [(0.5, 0.01, 4.0)]
    """
    strategies = list(STRATEGIES) if strategies is None else list(strategies)
    jobs = [(s, float(lr), float(wd), "lsb", n_iters, seed, n_samples)
            for s in strategies for wd in wds for lr in lrs]
    return _map(jobs, workers, progress, "amplification sweep")


# -- report -----------------------------------------------------------------------------------

COLUMNS = ["experiment", "strategy", "perturb", "lr", "wd", "n_iters", "seed", "word",
           "max_l2", "final_l2", "final_linf", "final_rel", "loss_a", "loss_b", "lam_end"]


def _failed(r):
    """Run A or B collapsed to a constant output (loss ≥ 0.9·ln 10, ln 10 = a uniform guess)."""
    return max(r["loss_a"], r["loss_b"]) >= 0.9 * math.log(10)


def _plot_trajectories(traj, p, path):
    colors = {"round-to-nearest": "tab:red", "SR, ideal bits (PCG64)": "tab:blue",
              "SR, LFSR n=16": "tab:green"}
    fig = figure(12, 4.6, layout=None)
    axes = fig.subplots(1, 2, sharey=True)
    titles = {"lsb": "B starts 1 LSB away in one word", "k3": "B updates with (3t)·(g/3)"}
    for ax, pert in zip(axes, ("lsb", "k3")):
        for r in traj:
            if r["perturb"] != pert:
                continue
            lr, wd = r["lr"], r["wd"]
            unstable = (lr, wd) == p["unstable"]
            ax.plot(np.arange(len(r["l2"])), r["l2"], color=colors[r["strategy"]],
                    ls="-" if unstable else "--", lw=1.4,
                    label=f"{r['strategy']}, t={lr:g}, wd={wd:g}")
        ax.set_yscale("symlog", linthresh=1)
        ax.set_xlabel("iteration")
        ax.set_title(titles[pert])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("‖w_A − w_B‖₂ (LSB = 2^-16; symlog)")
    axes[1].legend(fontsize=8, loc="center right")
    (tu, wu), (ts, ws) = p["unstable"], p["stable"]
    def largest(lr_wd):
        return max((float(np.max(r["l2"])) for r in traj if (r["lr"], r["wd"]) == lr_wd), default=0.0)
    fig.suptitle(f"Distance between two trainings on the datapath; largest ‖w_A − w_B‖₂ over the "
                 f"runs: {largest((tu, wu)):.3g} LSB at t = {tu:g}, wd = {wu:g} (solid),\n"
                 f"{largest((ts, ws)):.3g} LSB at t = {ts:g}, wd = {ws:g} (dashed)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    return path


def _short(v):
    """A cell label: "58", "2", "7e5"."""
    return f"{v:.0f}" if v < 999.5 else f"{v:.0e}".replace("e+0", "e").replace("e+", "e")


def _plot_heatmap(grid, lrs, wds, lam0, path):
    strategies = list(dict.fromkeys(r["strategy"] for r in grid))
    fig = figure(5.2 * len(strategies) + 1, 4.4, layout=None)
    axes = fig.subplots(1, len(strategies), sharey=True, squeeze=False)
    axes = axes[0]
    vmax = max(1.0, max(math.log10(max(r["max_l2"], 1.0)) for r in grid))
    for ax, s in zip(axes, strategies):
        z = np.zeros((len(wds), len(lrs)))
        for r in grid:
            if r["strategy"] == s:
                z[wds.index(r["wd"]), lrs.index(r["lr"])] = math.log10(max(r["max_l2"], 1.0))
        im = ax.imshow(z, origin="lower", aspect="auto", cmap="magma", vmin=0, vmax=vmax)
        for r in grid:
            if r["strategy"] != s:
                continue
            i, j = wds.index(r["wd"]), lrs.index(r["lr"])
            txt = _short(r["max_l2"]) + ("×" if _failed(r) else "")
            ax.text(j, i, txt, ha="center", va="center", fontsize=8,
                    color="white" if z[i, j] < 0.6 * vmax else "black")
        # predicted edge of stability t = 2/(λ_max + wd), in the column coordinates
        xb = np.interp([2.0 / (lam0 + wd) for wd in wds], lrs, np.arange(len(lrs)),
                       left=-0.5, right=len(lrs) - 0.5)
        ax.plot(xb, np.arange(len(wds)), "c--", lw=1.5, label="2/(λ_max(x₀) + wd)")
        ax.set_xticks(range(len(lrs)), [f"{v:g}" for v in lrs])
        ax.set_yticks(range(len(wds)), [f"{v:g}" for v in wds])
        ax.set_xlabel("learning rate t")
        ax.set_title(s, fontsize=10)
    axes[0].set_ylabel("weight decay wd")
    axes[0].legend(fontsize=7, loc="upper right")
    fig.colorbar(im, ax=list(axes), label="log10 max ‖w_A − w_B‖₂ (LSB)")
    below = [r["max_l2"] for r in grid if r["lr"] < 2.0 / (lam0 + r["wd"])]
    beyond = [r["max_l2"] for r in grid if r["lr"] >= 2.0 / (lam0 + r["wd"])]
    span = "; ".join(f"{what} the edge: {_short(min(v))}–{_short(max(v))} LSB"
                     for what, v in (("below", below), ("at or beyond", beyond)) if v)
    fig.suptitle("Largest distance between two trainings that start 1 LSB apart (" + span + ")\n"
                 "(× = run A or B collapsed to a constant output; dashed: edge of stability "
                 "t = 2/(λ_max + wd) at the start)", fontsize=10, y=1.07)
    fig.savefig(path, dpi=130, bbox_inches="tight")
    return path


def _markdown(traj, grid, p, lam0, seconds, quick, seed):
    out = ["# 1-LSB error amplification on the integer datapath", "",
           f"preset = {'quick' if quick else 'full'}, seed = {seed}, MLP 64→16→10 on "
           f"{p['n_samples']} digits, Q(24,16) weights/grads/acts, Q(48,32) accumulator, "
           f"{p['n_iters']} full-batch GD iterations; λ_max(∇²f(x₀)) = {lam0:.3f}, so the "
           f"edge of stability at the start is t = 2/λ_max = {2 / lam0:.3f} (wd = 0). "
           "SR runs A and B share one random stream (same seed).", "",
           "## Trajectories", "",
           "Distances in LSB (2^-16): ‖Δ‖₂ largest over the run and at the end, max |Δ| at the "
           "end, relative ‖Δ‖₂/‖w_A‖₂ at the end; final loss f of A and B; t·λ_max of "
           "f + wd/2‖w‖² at A's last iterate (edge of stability: 2).", ""]
    body = [[r["strategy"], {"lsb": "1 LSB", "k3": "k = 3"}[r["perturb"]], f"{r['lr']:g}",
             f"{r['wd']:g}", fmt_number(r["max_l2"]), fmt_number(r["final_l2"]),
             r["final_linf"], fmt_number(r["final_rel"]), fmt_number(r["loss_a"]),
             fmt_number(r["loss_b"]), f"{r['lr'] * r['lam_end']:.2f}"] for r in traj]
    out.append(markdown_table(["strategy", "perturbation", "t", "wd", "max ‖Δ‖₂", "final ‖Δ‖₂",
                               "final max|Δ|", "final rel", "loss A", "loss B",
                               "t·λ_max at end"], body))
    out += ["", "## Sweep: largest ‖Δ‖₂ (LSB) of the 1-LSB pair", "",
            "Rows: weight decay; columns: learning rate; × = run A or B collapsed (loss ≥ 0.9 ln 10); "
            "predicted edge 2/(λ_max + wd) in the last column.", ""]
    lrs = sorted({r["lr"] for r in grid})
    wds = sorted({r["wd"] for r in grid})
    for s in dict.fromkeys(r["strategy"] for r in grid):
        cells = {(r["wd"], r["lr"]): r for r in grid if r["strategy"] == s}
        body = [[f"{wd:g}"] + [fmt_number(cells[wd, lr]["max_l2"], 2)
                               + (" ×" if _failed(cells[wd, lr]) else "") for lr in lrs]
                + [f"{2 / (lam0 + wd):.3f}"] for wd in wds]
        out += [f"**{s}**", "", markdown_table(["wd \\ t"] + [f"{v:g}" for v in lrs] + ["2/(λ+wd)"],
                                               body), ""]
    out.append(f"Study time {seconds:.1f} s.")
    return "\n".join(out) + "\n"


def run(out_dir, quick=False, seed=0, progress=True, copy_figures_to=None, workers=2) -> dict:
    """Run the trajectories and the sweep, write ``amplification.csv``, ``amplification.md``,
    ``amplification_trajectories.png`` and ``amplification_sweep.png`` into ``out_dir``
    (web-size copies into ``copy_figures_to``); return {"rows", "markdown", "files",
    "seconds", "lambda_max"}.  About 40-60 s on 2 cores (``quick``: about 10 s); run it from
    the command line (``fxsim amplification-study``), e.g.:

    >>> res = run("results/amplification", quick=True)   # doctest: +SKIP
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
    p = PRESETS["quick" if quick else "full"]
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    n, ns = p["n_iters"], p["n_samples"]
    lrs, wds = list(p["lrs"]), list(p["wds"])
    traj_jobs = [(s, lr, wd, pert, n, seed, ns) for pert in ("lsb", "k3")
                 for s in STRATEGIES for (lr, wd) in (p["unstable"], p["stable"])]
    grid_jobs = [(s, float(lr), float(wd), "lsb", n, seed, ns)
                 for s in STRATEGIES for wd in wds for lr in lrs]
    unique = list(dict.fromkeys(traj_jobs + grid_jobs))     # a trajectory may be a grid cell
    done = dict(zip(unique, _map(unique, workers, progress, "amplification pairs")))
    traj = [dict(done[j]) for j in traj_jobs]
    grid = [dict(done[j]) for j in grid_jobs]
    model = make_model(ns)
    lam0 = lambda_max(model.grad, cast(model.x0(), FMT, "nearest_even", "saturate").to_float())
    seconds = time.perf_counter() - t0
    for r in traj:
        r["experiment"] = "trajectory"
    for r in grid:
        r["experiment"] = "sweep"
    files = {"csv": os.path.join(out_dir, "amplification.csv"),
             "md": os.path.join(out_dir, "amplification.md")}
    write_csv(traj + grid, files["csv"], COLUMNS)
    files["trajectories_png"] = _plot_trajectories(
        traj, p, os.path.join(out_dir, "amplification_trajectories.png"))
    files["sweep_png"] = _plot_heatmap(grid, lrs, wds, lam0,
                                       os.path.join(out_dir, "amplification_sweep.png"))
    md = _markdown(traj, grid, p, lam0, seconds, quick, seed)
    return finish(md, files, seconds, traj + grid, copy_figures_to, lambda_max=lam0)


def _cmd(args) -> int:
    return print_study(run(args.out, quick=args.quick, seed=args.seed, progress=args.progress,
                            copy_figures_to=args.copy_figures, workers=args.workers))


def add_cli(sub):
    """Register ``fxsim amplification-study`` on the argparse sub-parsers ``sub``.

    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="fxsim").add_subparsers(dest="cmd")
    >>> p = add_cli(sub)
    >>> a = p.parse_args(["--quick", "--seed", "2"]); a.quick, a.seed, a.out
    (True, 2, 'results/amplification')
    """
    p = sub.add_parser(
        "amplification-study", help="study: does a 1-LSB difference grow during training?",
        description="Train an MLP 64-16-10 on digits twice on the emulated datapath (Q(24,16)), "
                    "from starts 1 LSB apart in one word, or with the update computed as "
                    "(t*3)*(g/3); round-to-nearest, SR with PCG64 bits and SR with a 16-bit LFSR "
                    "(the same random stream for both runs); then sweep learning rate and "
                    "weight decay. Writes OUT/amplification.csv, OUT/amplification.md and two PNGs.")
    add_study_options(p, "results/amplification", "smaller grid and fewer iterations (~10 s)", "seed of the bit sources")
    p.add_argument("--workers", type=pos_int, default=2,
                   help="worker processes (default 2; results do not depend on it)")
    p.set_defaults(run=_cmd)
    return p
