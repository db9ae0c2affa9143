"""Compressed distributed gradient tracking on a P–Ł problem (``fxsim tracking-study``).

8 agents minimize distributed least squares (``DistributedLeastSquares()``: d = 10, 40 samples
per agent, heterogeneous local minimizers, μ ≈ 0.49, L ≈ 1.98) with the BEER-style compressed
gradient tracking of ``fxsim.optim.tracking`` (step α = 0.3 / max_i L_i, start x = 0), on a ring
and on a random geometric graph (radius 0.5, Metropolis–Hastings weights), with compressors of
the three classes of Xu, Yi, Wen, Shi, Johansson, Yang (Automatica 2025):

- bounded relative error: top-2, rand-3 (unscaled and scaled by d/k), scaled sign
  (values as float32);
- globally bounded absolute error: the 8-bit word Q3.5 (``FixedPointQuantizer(fl=5, wl=8)``,
  never allowed to saturate) on messages divided by the decaying scale s_k = s₀·ρ^k, ρ = 0.97
  (above the uncompressed rate ≈ 0.956), s₀ = the power of two above α·max|∇F(0)| (x messages)
  and max|∇F(0)| (y messages); also without the decay (ρ = 1), which stalls at the LSB;
- locally bounded absolute error: saturating 4-bit and 2-bit words with a per-message
  power-of-two scale (``SaturatingQuantizer(b)``), and the fixed saturating word Q(4, 2) with
  the decaying scale.
Fixed-point quantizers run with round-to-nearest-even and with stochastic rounding (r = 16)
from a 16-bit LFSR and from ideal PCG64 bits.

For each compressor the consensus step γ is the one of ``GAMMAS`` whose worst seed needs the
fewest bits to reach the tolerance (randomized compressors run ``seeds`` seeds per γ; the
table gives the median over seeds and the range of the rate; the figures show the first seed).  Each run stops when max_i ‖x_i − x*‖/‖x*‖ ≤ 1e-12
(below that float64 rounding dominates) or after ``iters`` iterations.  Table: fitted linear
rate of the max-agent error (between 1e-10 and 1e-3), iterations and bits per agent to reach
TOL = 1e-8 (relative), and the bits saved against uncompressed tracking (2·64·d bits per
iteration).  ``run(out, quick=False, seed=0, progress=True, copy_figures_to=None)`` writes
``tracking.csv``, ``tracking.md`` and three figures and returns
{"rows", "markdown", "files", "seconds"}.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np

from ._report import (add_study_parser, figure, finish, fmt_number, make_progress, markdown_table,
                      write_csv)
from ..optim.compressors import (FixedPointQuantizer, Identity, RandK, SaturatingQuantizer,
                                 ScaledSign, TopK)
from ..models import DistributedLeastSquares
from ..optim.tracking import gradient_tracking, mixing_matrix, slem

__all__ = ["CONFIGS", "GRAPHS", "GAMMAS", "TOL", "STOP", "RHO", "configs", "run_config", "run",
           "add_cli"]

TOL = 1e-8
STOP = 1e-12
RHO = 0.97
ALPHA_FACTOR = 0.3
GRAPHS = ("ring", "geometric")
GAMMAS = {"full": (1.0, 0.7, 0.5, 0.4, 0.3), "quick": (1.0, 0.5, 0.4)}
PRESETS = {"full": dict(iters=3000, seeds=5), "quick": dict(iters=1800, seeds=1)}
STALL_ITERS = 400      # the run without the decaying scale only shows its plateau
CLASS_NAMES = {"none": "—", "relative": "bounded relative", "global_abs": "globally bounded abs.",
               "local_abs": "locally bounded abs."}


def configs():
    """(label, factory(seed) -> compressor, decaying scale?, randomized?, figure group) for
    every compressor of the study.

    >>> [c[0] for c in configs()][:3]
    ['uncompressed', 'top-2', 'rand-3']
    """
    fx = lambda **kw: (lambda s: FixedPointQuantizer(fl=5, wl=8, seed=s, **kw))
    sat = lambda b, **kw: (lambda s: SaturatingQuantizer(b, seed=s, **kw))
    sr = dict(rounding="stochastic", r=16)
    return [
        ("uncompressed", lambda s: Identity(), False, False, "main"),
        ("top-2", lambda s: TopK(2), False, False, "main"),
        ("rand-3", lambda s: RandK(3, seed=s), False, True, "main"),
        ("rand-3 scaled d/k", lambda s: RandK(3, scaled=True, seed=s), False, True, ""),
        ("scaled sign", lambda s: ScaledSign(), False, False, "main"),
        ("Q3.5 RN, s_k decay", fx(), True, False, "main"),
        ("Q3.5 SR LFSR16, s_k decay", fx(source="lfsr16", **sr), True, True, "fx"),
        ("Q3.5 SR PCG64, s_k decay", fx(source="pcg64", **sr), True, True, "fx"),
        ("Q3.5 RN, no decay", fx(), None, False, "fx"),
        ("sat. 4-bit RN, pow2 scale", sat(4), False, False, "main"),
        ("sat. 4-bit SR LFSR16, pow2 scale", sat(4, source="lfsr16", **sr), False, True, "fx"),
        ("sat. 4-bit SR PCG64, pow2 scale", sat(4, source="pcg64", **sr), False, True, "fx"),
        ("sat. 2-bit RN, pow2 scale", sat(2), False, False, "main"),
        ("sat. Q(4,2) RN, s_k decay", sat(4, fl=2), True, False, "fx"),
    ]


CONFIGS = [c[0] for c in configs()]


def _pow2_above(v):
    return 2.0 ** math.ceil(math.log2(v))


def run_config(problem, W, factory, decay, gamma, seed, iters):
    """One run; ``decay`` True: s_k = s₀·RHO^k, None: s_k = s₀ (no decay), False: no scale.
    Returns the ``TrackingResult`` or None when a fixed-point word overflowed.

    >>> p = DistributedLeastSquares()
    >>> r = run_config(p, mixing_matrix("ring", 8), lambda s: TopK(5), False, 1.0, 0, 400)
    >>> r.iters_to(1e-8)
    367
    """
    alpha = ALPHA_FACTOR / problem.L_max
    kw = {}
    if decay is not False:
        g0 = np.abs(problem.grad(np.zeros((problem.n_agents, problem.d)))).max()
        kw = dict(scale0=(_pow2_above(alpha * g0), _pow2_above(g0)),
                  scale_decay=RHO if decay else None)
    try:
        return gradient_tracking(problem, W, factory(seed), alpha=alpha, gamma=gamma,
                                 n_iters=iters, tol=STOP, **kw)
    except OverflowError:
        return None


def _cost(res):
    if res is None or res.diverged:
        return math.inf
    b = res.bits_to(TOL)
    return math.inf if b is None else b


def _best_gamma(problem, W, factory, decay, gammas, seeds, iters):
    """The γ (tried in the given order, largest first) whose worst seed needs the fewest bits
    to reach TOL (ties: the earlier γ), and its runs.  Once some γ reached TOL in K iterations,
    later candidates are capped at K iterations (they cannot do better with more) and rerun in
    full only if they do."""
    best = (math.inf, None, None)
    for gm in gammas:
        cap = iters if best[1] is None else min(iters, best[2])
        runs = [run_config(problem, W, factory, decay, gm, s, cap) for s in seeds]
        cost = max(_cost(r) for r in runs)
        if cost < best[0]:
            if cap < iters:
                runs = [run_config(problem, W, factory, decay, gm, s, iters) for s in seeds]
            its = max(r.iters_to(TOL) for r in runs)
            best = (cost, gm, its, runs)
    if best[1] is None:          # nothing reached TOL: report the first γ in full
        return gammas[0], [run_config(problem, W, factory, decay, gammas[0], s, iters) for s in seeds]
    return best[1], best[3]


def _seeds(seed, n):
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]



def _median(v):
    v = [x for x in v if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.median(v)) if v else None


COLUMNS = ["graph", "slem", "compressor", "class", "bits_per_msg", "gamma", "rho", "seeds",
           "rate", "rate_min", "rate_max", "iters_to_tol", "bits_to_tol", "saving",
           "final_err", "saturated", "failed"]



def _markdown(rows, meta):
    head = ["graph", "compressor", "class", "bits/msg", "γ", "ρ", "rate", f"iters to {TOL:g}",
            f"bits/agent to {TOL:g}", "saved vs uncompr.", "final err", "saturated"]
    body = []
    for r in rows:
        rate = fmt_number(r["rate"], 4)
        if r["seeds"] > 1 and r["rate"] is not None:
            rate += f" ({fmt_number(r['rate_min'], 4)}–{fmt_number(r['rate_max'], 4)})"
        body.append([r["graph"], r["compressor"], r["class"], r["bits_per_msg"],
                     fmt_number(r["gamma"]), fmt_number(r["rho"]) if r["rho"] else "—", rate,
                     "—" if r["iters_to_tol"] is None else f"{r['iters_to_tol']:.0f}",
                     fmt_number(r["bits_to_tol"]),
                     "—" if r["saving"] is None else f"{r['saving']:.1f}×",
                     fmt_number(r["final_err"]), r["saturated"]])
    md = (f"# Compressed gradient tracking: {meta['problem']}\n\n"
          f"Preset {meta['preset']}, seed {meta['seed']}, α = {ALPHA_FACTOR}/max L_i, "
          f"tolerance {TOL:g} on max_i ‖x_i − x*‖/‖x*‖ (runs stop at {STOP:g}); rate = fitted "
          f"per-iteration rate of that error between 1e-10 and 1e-3 (median over seeds for "
          f"randomized compressors, range in brackets); bits per agent count both messages "
          f"(x and y differences) of every iteration; γ = the consensus step chosen per "
          f"compressor, ρ = the decay of the message scale s_k; saturated = message entries a "
          f"saturating word clipped over all runs (in the power-of-two-scaled mode the largest "
          f"entry saturates by design when it lies within one LSB of 2^e; its error stays "
          f"inside the bound 2^(e−b+1)).\n\n")
    return md + markdown_table(head, body) + "\n"



COLORS = ["black", "tab:blue", "tab:orange", "tab:cyan", "tab:green", "tab:red", "tab:pink",
          "tab:olive", "0.5", "tab:purple", "tab:brown", "tab:gray", "gold", "tab:green"]


def _savings_text(rows) -> str:
    """What the rows say about bits: the range of ``saving`` (bits of uncompressed tracking to
    reach TOL / the compressor's) over the compressed runs that reach TOL.

    >>> _savings_text([{"compressor": "uncompressed", "saving": 1.0},
    ...                {"compressor": "sign", "saving": 13.2}, {"compressor": "top-k", "saving": None}])
    'bits to reach 1e-08: 13× fewer than uncompressed (1 of 2 compressors reach it)'
    """
    comp = [r for r in rows if r["compressor"] != "uncompressed"]
    sv = sorted(r["saving"] for r in comp if r["saving"] is not None)
    if not sv:
        return f"no compressor reaches {TOL:g}"
    rng = f"{sv[0]:.0f}×" if f"{sv[0]:.0f}" == f"{sv[-1]:.0f}" else f"{sv[0]:.0f}–{sv[-1]:.0f}×"
    return (f"bits to reach {TOL:g}: {rng} fewer than uncompressed ({len(sv)} of {len(comp)} "
            f"compressors reach it)")


def _plot_main(curves, rows, path):
    fig = figure(16, 9)
    axs = fig.subplots(2, 3)
    labels = [c[0] for c in configs() if c[4] == "main"]
    for gi, g in enumerate(GRAPHS):
        for li, lab in enumerate(labels):
            res = curves.get((g, lab))
            if res is None:
                continue
            c = COLORS[li]
            st = dict(color=c, lw=2.2, ls="--", zorder=5) if lab == "uncompressed" else dict(color=c, lw=1.3)
            k = np.arange(len(res.err_max))
            axs[gi, 0].semilogy(k, res.err_max, label=lab, **st)
            axs[gi, 1].semilogy(k[1:], res.consensus[1:], **st)
            axs[gi, 2].semilogy(res.bits / 1e3, res.err_max, **st)
        sl = next(r["slem"] for r in rows if r["graph"] == g)
        for ax in axs[gi]:
            ax.axhline(TOL, color="0.4", ls=":", lw=1)
            ax.grid(alpha=0.3, which="both")
        axs[gi, 0].set_ylabel("max_i ‖x_i − x*‖ / ‖x*‖  (log)")
        axs[gi, 1].set_ylabel("consensus error ‖X − 1x̄‖_F / (√N‖x*‖)  (log)")
        axs[gi, 2].set_ylabel("max_i ‖x_i − x*‖ / ‖x*‖  (log)")
        for j in range(2):
            axs[gi, j].set_xlabel("iteration k")
        axs[gi, 2].set_xlabel("kbit sent per agent (x and y messages)")
        if curves.get((g, "uncompressed")) is not None:
            axs[gi, 2].set_xlim(0, 1.05 * curves[(g, "uncompressed")].bits[-1] / 1e3)
        axs[gi, 0].set_title(f"{g} graph, 8 agents (SLEM {sl:.3f}): error vs iterations", fontsize=10)
        axs[gi, 1].set_title(f"{g}: consensus error vs iterations", fontsize=10)
        axs[gi, 2].set_title(f"{g}: error vs bits sent", fontsize=10)
    axs[0, 0].legend(fontsize=8)
    fig.suptitle("Compressed gradient tracking, distributed least squares (d = 10); dashed "
                 "black: uncompressed float64\n" + _savings_text(rows), fontsize=11)
    fig.savefig(path, dpi=100)
    return path


def _plot_fx(curves, path):
    fig = figure(14, 5)
    axs = fig.subplots(1, 2)
    groups = [("Q3.5", "globally bounded abs. error: 8-bit Q3.5 (never saturates)"),
              ("sat.", "locally bounded abs. error: saturating words")]
    for ax, (key, title) in zip(axs, groups):
        labs = [c[0] for c in configs() if c[0].startswith(key)]
        for i, lab in enumerate(labs):
            res = curves.get(("ring", lab))
            if res is None:
                continue
            ls = "--" if "PCG64" in lab else ("-." if "no decay" in lab else "-")
            ax.semilogy(np.arange(len(res.err_max)), res.err_max, ls=ls, lw=1.4,
                        color=COLORS[(i + 5) % len(COLORS)], label=lab)
        ax.axhline(TOL, color="0.4", ls=":", lw=1)
        ax.set_xlabel("iteration k")
        ax.set_ylabel("max_i ‖x_i − x*‖ / ‖x*‖  (log)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("Ring: round-to-nearest vs stochastic rounding (16-bit LFSR solid, ideal PCG64 "
                 "dashed), with and without the decaying scale", fontsize=11)
    fig.savefig(path, dpi=100)
    return path


def _plot_rates(rows, path):
    fig = figure(12, 5)
    ax = fig.subplots()
    labs = CONFIGS
    x = np.arange(len(labs))
    for gi, g in enumerate(GRAPHS):
        vals = []
        for lab in labs:
            r = next((r for r in rows if r["graph"] == g and r["compressor"] == lab), None)
            vals.append(np.nan if r is None or r["bits_to_tol"] is None else r["bits_to_tol"])
        ax.bar(x + (gi - 0.5) * 0.4, vals, width=0.4, label=f"{g} graph")
    ax.set_yscale("log")
    ax.set_xticks(x, labs, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel(f"bits sent per agent to reach {TOL:g} (log)")
    ax.set_title(f"Bits to accuracy {TOL:g} (missing bar: never reached)", fontsize=10)
    ax.grid(alpha=0.3, axis="y", which="both")
    ax.legend()
    fig.savefig(path, dpi=100)
    return path


def run(out, quick=False, seed=0, progress=True, copy_figures_to=None, graphs=GRAPHS,
        labels=None) -> dict:
    """Run the study; write ``tracking.csv``, ``tracking.md`` and the figures into ``out``;
    return {"rows", "markdown", "files", "seconds"}.  ``labels`` restricts the compressors
    (default: all of ``CONFIGS``).

    >>> res = run("results/tracking", quick=True, progress=False)  # doctest: +SKIP
    >>> sorted(res["files"])                                         # doctest: +SKIP
    """
    t0 = time.perf_counter()
    preset = "quick" if quick else "full"
    p = PRESETS[preset]
    gammas = GAMMAS[preset]
    problem = DistributedLeastSquares(seed=seed)
    cfgs = [c for c in configs() if labels is None or c[0] in labels]
    seeds = _seeds(seed, p["seeds"])
    bar = make_progress(len(graphs) * len(cfgs), "tracking-study", progress)
    rows, curves = [], {}
    for g in graphs:
        W = mixing_matrix(g, problem.n_agents, seed=seed)
        sl = slem(W)
        base_bits = None
        for label, factory, decay, randomized, _ in cfgs:
            gs = (1.0,) if label == "uncompressed" else gammas
            ss = seeds if randomized else seeds[:1]
            iters = STALL_ITERS if decay is None else p["iters"]
            gamma, runs = _best_gamma(problem, W, factory, decay, gs, ss, iters)
            ok = [r for r in runs if r is not None]
            curves[(g, label)] = runs[0]
            comp = factory(0)
            rates = [r.rate for r in ok]
            its = [r.iters_to(TOL) for r in ok]
            bts = [r.bits_to(TOL) for r in ok]
            reached = len(ok) == len(runs) and all(i is not None for i in its)
            row = dict(graph=g, slem=sl, compressor=label, **{"class": CLASS_NAMES[comp.kind]},
                       bits_per_msg=comp.bits(problem.d), gamma=gamma,
                       rho=(RHO if decay else None), seeds=len(runs),
                       rate=_median(rates), rate_min=min(rates) if rates else None,
                       rate_max=max(rates) if rates else None,
                       iters_to_tol=_median(its) if reached else None,
                       bits_to_tol=_median(bts) if reached else None,
                       final_err=_median([float(r.err_max[-1]) for r in ok]),
                       saturated=sum(r.overflowed for r in ok),
                       failed=len(runs) - len(ok))
            if label == "uncompressed":
                base_bits = row["bits_to_tol"]
            row["saving"] = (base_bits / row["bits_to_tol"]) if (base_bits and row["bits_to_tol"]) else None
            rows.append(row)
            bar.update(1, f"{g} {label}")
    bar.close()
    os.makedirs(out, exist_ok=True)
    files = {"csv": os.path.join(out, "tracking.csv"), "md": os.path.join(out, "tracking.md")}
    write_csv(rows, files["csv"], COLUMNS)
    if all(g in graphs for g in GRAPHS):
        files["convergence_png"] = _plot_main(curves, rows, os.path.join(out, "tracking_convergence.png"))
    if "ring" in graphs:
        files["rounding_png"] = _plot_fx(curves, os.path.join(out, "tracking_rounding.png"))
    files["bits_png"] = _plot_rates(rows, os.path.join(out, "tracking_bits.png"))
    meta = dict(preset=preset, seed=seed, problem=repr(problem))
    md = _markdown(rows, meta)
    md += "\nFigures: " + ", ".join(f"`{os.path.basename(v)}`" for k, v in files.items()
                                   if k.endswith("_png")) + "\n"
    return finish(md, files, time.perf_counter() - t0, rows, copy_figures_to)


def add_cli(sub):
    """Register ``fxsim tracking-study``.

    >>> import argparse
    >>> sub = argparse.ArgumentParser().add_subparsers()
    >>> add_cli(sub).prog.split()[-1]
    'tracking-study'
    """
    return add_study_parser(
        sub, "tracking-study", run,
        help="study: compressed distributed gradient tracking (3 compressor classes)",
        description="Compressed gradient tracking (BEER-style, difference compression to "
                    "reference copies) of distributed least squares over 8 agents on a ring and "
                    "a random geometric graph, with top-k, rand-k, scaled sign, an unsaturated "
                    "8-bit fixed-point word with a decaying scale and saturating 4/2-bit words "
                    "(round-to-nearest or SR from a 16-bit LFSR / PCG64). Writes "
                    "OUT/tracking.csv, OUT/tracking.md and three PNGs.",
        out="results/tracking", quick_help="one seed, fewer consensus steps (~10 s)",
        seed_help="root seed (problem, graph, compressors)")
