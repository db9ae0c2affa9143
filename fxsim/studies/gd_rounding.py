"""Gradient descent with rounding strategies on the emulated accelerator (``fxsim gd-study``).

The main study of issue 4 (Xia, Massei, Hochstenbach: GD in low-precision fixed point under the
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
bits); r = 16 random bits per draw.

Models (``default_models``): the quadratic f = ½(x − c)ᵀA(x − c), d = 20, eigenvalues
log-spaced in [1, 10] (μ = 1, L = 10), with its eigenbasis aligned to the axes
(``AlignedQuadratic``: A diagonal, so the round-to-nearest stagnation bounds of
``fxsim.optim.stagnation_level`` apply component by component), the minimizer c on the
format's grid and off it; and L2-regularised logistic regression on scikit-learn's breast cancer
data (d = 31, λ = 1e-3), step t = 1/λ_max(∇²f(x*)).  Quadratic step: t = 0.05.

Tolerance (``tolerance``): tol = 5·d·u²·min(1, L), u = 2^−fl the LSB (the notes' 5·d·2^−2fl,
scaled down by the curvature L at x* when L < 1): a few LSB of error per weight.  For the
quadratic it lies below the derived round-to-nearest lower bound, so RN cannot reach it.

Every job (model, format, source) seeds itself from ``(seed, model, seed index)`` through
``numpy.random.SeedSequence`` (the same start point and the same accelerator seed for every
strategy and source: common random numbers), so rows do not depend on the worker count or
order.  ``run(out_dir, quick=False, seed=0, progress=True)`` runs the jobs on a
``ProcessPoolExecutor`` (2 workers), writes ``gd_study.csv`` (summary, medians over seeds),
``gd_study_runs.csv`` (one row per run), ``gd_study.md`` and one PNG per model, and returns
{"rows", "summary", "markdown", "files", "seconds"}.
"""
from __future__ import annotations

import csv
import math
import os
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np

from ..accelerator import Accelerator
from ..optim import GD, stagnation_level
from ..qformat import QFormat
from fxsim.models import LogisticRegression, Quadratic

__all__ = ["STRATEGIES", "SOURCES", "FORMATS", "PRESETS", "COLUMNS", "SUMMARY_COLUMNS",
           "AlignedQuadratic", "default_models", "build_model", "make_accelerator", "tolerance",
           "run_job", "summarize", "markdown", "run"]

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
SOURCES = {"lfsr16": "LFSR n=16", "pcg64": "ideal PCG64"}
FORMATS = (QFormat(16, 8), QFormat(20, 12))
#: model key -> (label, constructor keyword arguments)
MODELS = {
    "quadratic_grid": ("Quadratic d=20, cond=10, minimizer on the grid", {"center": "grid"}),
    "quadratic_off": ("Quadratic d=20, cond=10, minimizer off the grid", {"center": "off"}),
    "logistic": ("Logistic regression, breast cancer (d=31, λ=1e-3)", {}),
}
PRESETS = {
    "full": dict(seeds=7, iters={"quadratic": 400, "logistic": 1500}),
    "quick": dict(seeds=3, iters={"quadratic": 250, "logistic": 600}),
}
COLUMNS = ["model", "center", "format", "fl", "source", "strategy", "seed", "t", "n_iters", "tol",
           "final_excess", "tail_excess", "iters_to_tol", "stagnation_iter", "rn_lower",
           "rn_upper"]
SUMMARY_COLUMNS = ["model", "format", "source", "strategy", "n_seeds", "n_iters", "tol",
                   "final_excess", "tail_excess", "iters_to_tol", "reached", "stagnation_iter",
                   "rn_lower", "rn_upper"]


# -- models, accelerators, tolerance -----------------------------------------------------------

class AlignedQuadratic(Quadratic):
    """``fxsim.models.Quadratic`` with its eigenbasis on the axes (A = diag(λ)): the same
    eigenvalues, minimizer and start points; components evolve independently, so the
    round-to-nearest stagnation bounds hold per component."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.Q = np.eye(self.dim)
        self.A = np.diag(self.eigs)
        self._cache = {}

    def __repr__(self):
        return "Aligned" + super().__repr__()


def default_models() -> list:
    return list(MODELS)


def build_model(key: str, fmt: QFormat):
    """The model of ``key`` for format ``fmt`` (the quadratic's grid is the format's) and its
    step size t and curvature L."""
    if key.startswith("quadratic"):
        m = AlignedQuadratic(d=20, cond=10.0, grid=fmt, seed=0, **MODELS[key][1])
        return m, T_QUAD, float(m.L)
    m = LogisticRegression("breast_cancer")
    L = float(np.linalg.eigvalsh(m.hess(m.optimum)).max())
    return m, 1.0 / L, L


def tolerance(dim: int, fmt: QFormat, L: float) -> float:
    """tol = 5·d·u²·min(1, L), u = the format's LSB."""
    return 5.0 * dim * fmt.lsb ** 2 * min(1.0, L)


def make_accelerator(strategy: str, fmt: QFormat, source: str, seed: int) -> Accelerator:
    """The study's accelerator: fused update, weights = grads = ``fmt``, the strategy's casts."""
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
    {strategy: (n_seeds, n_iters + 1) array of f(x_k) − f*}."""
    model, t, L = build_model(model_key, fmt)
    tol = tolerance(model.dim, fmt, L)
    quad = model_key.startswith("quadratic")
    rows, curves = [], {}
    for strategy in STRATEGIES:
        ex = []
        for k in range(n_seeds):
            gseed, aseed = _seeds(seed, model_key, k)
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
    lower bound, ``rn_upper`` the largest upper bound (quadratic only)."""
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
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if v == 0:
        return "0"
    a = abs(v)
    if 1e-2 <= a < 1e4:
        return f"{v:.{digits}g}"
    return f"{v:.{digits - 1}e}"


def _it(v):
    return "never" if v is None else f"{v:g}"


def markdown(summary, meta=None) -> str:
    """The summary as markdown: one table per model."""
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
            row = [s["format"], SOURCES.get(s["source"], s["source"]), s["strategy"],
                   _fmt(s["tol"], 2), _fmt(s["final_excess"]), _fmt(s["tail_excess"]),
                   f"{_it(s['iters_to_tol'])} ({s['reached']}/{s['n_seeds']})",
                   _fmt(s["stagnation_iter"])]
            if quad:
                row.append(f"[{_fmt(s['rn_lower'])}, {_fmt(s['rn_upper'])}]"
                           if s["strategy"] == "round-to-nearest" else "")
            body.append(row)
        parts += [_table(header, body), ""]
    return "\n".join(parts)


def _table(header, body) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(out)


def write_csv(rows, path, columns):
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if row.get(k) is None else row[k]) for k in columns})


# -- figures -----------------------------------------------------------------------------------

COLORS = {"round-to-nearest": "tab:red", "SR": "tab:blue", "SR_ε": "tab:green",
          "signed-SR_ε": "tab:purple"}
LINES = {"lfsr16": "-", "pcg64": "--"}


def _figure(w, h):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(w, h), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_model(model_keys, curves, summary, path, title):
    """Loss − f* vs iteration (log y), median over seeds with a min–max band; one panel per
    (model key, format); colour = strategy, line style = source."""
    panels = [(mk, f) for mk in model_keys for f in
              dict.fromkeys(s["format"] for s in summary if s["model"] == mk)]
    ncol = len({f for _, f in panels})
    nrow = math.ceil(len(panels) / ncol)
    fig = _figure(6.2 * ncol, 4.3 * nrow + 0.6)
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
            ax.plot(k, med, color=c, ls=LINES[src], lw=1.5 if src == "lfsr16" else 1.2,
                    label=f"{strat}, {SOURCES[src]}")
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
        ax.set_title(f"{f} = Q({q.wl},{q.fl}), LSB u = 2^−{q.fl}{ctr.get(mk, '')}", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.grid(alpha=0.1, which="minor")
    for ax in axs[len(panels):]:
        ax.set_visible(False)
    axs[0].legend(fontsize=7.5, loc="upper right", ncol=1)
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=100)
    return path


def small_png(src, dst, max_width=1400):
    """A web-sized (palette, optimized) copy of a figure; returns its size in bytes."""
    from PIL import Image
    with Image.open(src) as im:
        im = im.convert("RGB")
        if im.width > max_width:
            im = im.resize((max_width, round(im.height * max_width / im.width)), Image.LANCZOS)
        im.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
            dst, optimize=True)
    return os.path.getsize(dst)


TITLES = {
    "quadratic": ("GD on the quadratic (d = 20, cond = 10, fused update, exact gradient, t = 0.05). "
                  "Round-to-nearest (red) stops moving and stalls inside its derived\n"
                  "stagnation range (shaded), above the tolerance. SR keeps moving below it; "
                  "signed-SR_ε (purple, bias on the write-back) reaches the tolerance first;\n"
                  "SR_ε settles higher. Median over seeds (band: min–max); solid: LFSR n = 16, "
                  "dashed: ideal PCG64; a loss of exactly 0 is drawn at the bottom edge"),
    "logistic": ("GD on logistic regression (breast cancer, d = 31, fused update, exact gradient, "
                 "t = 1/L).\nRound-to-nearest (red) stops moving early, far above the tolerance; "
                 "the stochastic strategies keep descending; SR_ε reaches the tolerance first but "
                 "settles higher.\nMedian over seeds (band: min–max); solid: LFSR n = 16, dashed: "
                 "ideal PCG64"),
}


# -- the whole study ---------------------------------------------------------------------------

def jobs_for(models, formats, seed, n_seeds, iters):
    return [(mk, f, src, seed, n_seeds, iters["quadratic" if mk.startswith("quadratic") else "logistic"])
            for mk in models for f in formats for src in SOURCES]


def _progress(total, enabled):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
        return tqdm(total=total, desc="gd-study", file=sys.stderr, dynamic_ncols=True)
    except ImportError:
        return None


def run(out_dir, quick=False, seed=0, progress=True, *, models=None, formats=FORMATS,
        n_seeds=None, iters=None, workers=2, copy_figures_to=None) -> dict:
    """Run the study, write ``gd_study.csv``/``gd_study_runs.csv``/``gd_study.md`` and the
    PNGs into ``out_dir``; return {"rows", "summary", "markdown", "files", "seconds"}.
    ``models``/``formats``/``n_seeds``/``iters`` override the preset (tests shrink it)."""
    p = PRESETS["quick" if quick else "full"]
    models = default_models() if models is None else list(models)
    n_seeds = p["seeds"] if n_seeds is None else n_seeds
    iters = dict(p["iters"], **(iters or {}))
    formats = [f if isinstance(f, QFormat) else QFormat.parse(f) for f in formats]
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    jobs = jobs_for(models, formats, seed, n_seeds, iters)
    results = [None] * len(jobs)
    bar = _progress(len(jobs), progress)
    if workers and workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            futs = {ex.submit(_job, j): i for i, j in enumerate(jobs)}
            for fut in as_completed(futs):
                results[futs[fut]] = fut.result()
                if bar is not None:
                    j = jobs[futs[fut]]
                    bar.set_postfix_str(f"{j[0]} {j[1]} {j[2]}", refresh=False)
                    bar.update(1)
    else:
        for i, j in enumerate(jobs):
            results[i] = _job(j)
            if bar is not None:
                bar.update(1)
    if bar is not None:
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
    if "logistic" in models:
        files["logistic_png"] = plot_model(["logistic"], curves, summary,
                                           os.path.join(out_dir, "gd_logistic.png"),
                                           TITLES["logistic"])
    total = time.perf_counter() - t0
    meta = {"preset": "quick" if quick else "full", "seed": seed, "seeds": n_seeds,
            "ε": EPS, "r": R_BITS, "workers": workers}
    md = markdown(summary, meta)
    md += ("\nFigures: " + ", ".join(f"`{os.path.basename(v)}`" for k, v in files.items()
                                      if k.endswith("_png")) + "\n")
    with open(files["md"], "w") as fh:
        fh.write(md)
    if copy_figures_to:
        os.makedirs(copy_figures_to, exist_ok=True)
        for k in [k for k in files if k.endswith("_png")]:
            dst = os.path.join(copy_figures_to, os.path.basename(files[k]))
            small_png(files[k], dst)
            files[k.replace("_png", "_small_png")] = dst
    return {"rows": rows, "summary": summary, "markdown": md, "files": files, "seconds": total}
