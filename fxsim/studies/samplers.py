"""Low-precision SGLD and SGHMC on the emulated accelerator (``fxsim sampler-study``).

Reproductions of Zhang, Wilson & De Sa (ICML 2022) and Wang, Chen, Song & Zhang (TMLR), each
run with ideal PCG64 bits and with a 16-bit LFSR (serial rule, r = 16) as the SR source:

(a) SGLD on N(0, 1), weights and gradients in Q(8,3) (8-bit words, 3 fraction bits), gradient
    noise σ_g = 0.1, steps η ∈ {2e-3, 1e-3, 5e-4}: naive LP-L over-disperses, more as η shrinks
    (SR adds ≈ Δ²/6 per step against 2η of Langevin noise); LP-F and VC match the target.
(b) Q(8,4), N(0, 1) and ½N(−1, 0.25) + ½N(1, 0.25), σ_g = 0.1, η ∈ {0.1, 0.25}: SGHMC
    (γ = 2, u = 1) vs SGLD for FP/LP-F/LP-L/VC; plus SGHMC with u = 2 at η = 0.25.
(c) Bayesian softmax regression on digits (N = 1200 training images, minibatch 64) with weights
    and gradients in Q(6,4) and Q(4,2) (2 integer bits, 4 / 2 fraction bits), η = 0.5, 1000 steps, 6 chains
    from the same random start; test error and NLL of the posterior predictive over the second
    half of the chains; 5 seeds, mean ± standard error.
(d) Wang et al.'s claim, robustness to quantization: the W2 increase that quantization causes
    (LP-F, LP-L, VC minus float64, same sampler, step and seed) on N(0, 1), σ_g = 0.1, for SGLD at
    η and SGHMC at γ = u = 2 (effective step uη/γ = η, so both have the same float64 bias),
    η ∈ {0.02, 0.1}, formats Q(8,3), Q(8,4), Q(6,3), 6 seeds, mean ± standard error; bits from
    the first source only (``sources=("lfsr16",)`` runs it with the LFSR).

Each claim gets one verdict line (``verdicts_of``): held when every (format, step) cell
favours it beyond the 95 % t-interval of its per-seed differences (Bonferroni over the cells of
the claim) and beyond a floor (W2 0.002, NLL 0.005, error 0.5 points), did not hold when one
cell goes against it so, not decided otherwise (and with fewer than 3 seeds; a claim of no
change needs 5).  ``run(..., sources=, formats=, seeds=, parts=, workers=)`` is the
Python entry point (``fxsim sampler-study --sources --formats --seeds --parts --workers``).

Metrics: exact W2 from quantiles and the density L2 distance (bins = the format's grid) for
(a)/(b), ``fxsim.samplers.metrics``.  Every run is seeded by ``seed`` (normals, start points,
bit source); rows do not depend on the order of the runs.
"""
from __future__ import annotations

import math
import os
import re
import time

import numpy as np

from ..samplers import (SGHMC, SGLD, BayesLogistic, Gaussian, GaussianMixture, density_l2,
                        predictive, w2_1d)
from .. import validate as V
from ..samplers.quantizers import check_format
from ._report import (add_study_parser, figure, finish, fmt_number, make_progress, markdown_table,
                      pos_int, print_study, run_jobs, verdict, verdict_lines, write_csv)

SOURCES = ("ideal", "lfsr16")
FORMATS = ("Q(8,3)", "Q(8,4)", "Q(6,3)")
VARIANTS = ("fp", "lpf", "lpl", "vc")
LABEL = {"fp": "FP (float64)", "lpf": "LP-F", "lpl": "LP-L (naive)", "vc": "VC LP-L"}
COLORS = {"fp": "black", "lpf": "tab:blue", "lpl": "tab:red", "vc": "tab:green"}
PARTS = ("a", "b", "c", "d")
W2_FLOOR, NLL_FLOOR, ERR_FLOOR = 0.002, 0.005, 0.005    # differences smaller than these do not matter
MIN_SEEDS_UNCHANGED = 5
D_GAMMA = D_U = 2.0          # (d): SGHMC at u·η/γ = η, the SGLD step it is compared with

PRESETS = {
    "full": dict(a_etas=(2e-3, 1e-3, 5e-4), a_chains=100, a_T=30, a_burn=10,
                 b_etas=(0.1, 0.25), b_chains=100, b_steps=4000,
                 c_steps=1000, c_chains=6, c_seeds=5,
                 d_etas=(0.02, 0.1), d_chains=100, d_steps=4000, d_seeds=6),
    "quick": dict(a_etas=(2e-3, 5e-4), a_chains=40, a_T=14, a_burn=7,
                  b_etas=(0.25,), b_chains=40, b_steps=2000,
                  c_steps=240, c_chains=4, c_seeds=3,
                  d_etas=(0.1,), d_chains=60, d_steps=2000, d_seeds=3),
}
COLUMNS = ("part", "target", "sampler", "variant", "source", "fmt", "eta", "u", "steps", "chains",
           "seed", "w2", "l2", "std", "err", "nll", "seconds")


def _sources_for(variant, sources=SOURCES):
    return sources[:1] if variant == "fp" else sources


def _target(name):
    if name == "N(0,1)":
        return Gaussian()
    if name == "mixture":
        return GaussianMixture()
    return _digits()


_DIGITS = []


def _digits():
    if not _DIGITS:                       # built once per process (the data split is fixed)
        _DIGITS.append(BayesLogistic(n_train=1200, batch=64, prior_var=1.0))
    return _DIGITS[0]


def _job(job):
    """One chain ensemble of the study: a row (and, if ``job["keep"]``, the pooled samples).
    Module level so that ``run_jobs`` can send it to worker processes."""
    tgt = _target(job["target"])
    kw = dict(eta=job["eta"], variant=job["variant"], fmt=job["fmt"], source=job["source"])
    if job["target"] != "digits":
        kw["grad_noise"] = 0.1
    if job["sampler"] == "SGLD":
        s = SGLD(tgt, **kw)
    else:
        s = SGHMC(tgt, gamma=2.0, u=job["u"], **kw)
    t = time.perf_counter()
    res = s.run(job["chains"], job["steps"], burn=job["burn"], thin=job["thin"], seed=job["seed"])
    sec = time.perf_counter() - t
    row = {k: job[k] for k in ("part", "target", "sampler", "variant", "source", "eta", "steps",
                               "chains", "seed")}
    row.update(fmt=job["fmt"], u=job["u"] if job["sampler"] == "SGHMC" else "", w2="", l2="",
               std="", err="", nll="", seconds=sec)
    if job["target"] == "digits":
        row["err"], row["nll"] = predictive(tgt, res.samples.reshape(-1, tgt.dim))
        if job["variant"] == "fp":
            row["fmt"] = "float64"
    else:
        x = res.samples.ravel()
        row.update(w2=w2_1d(x, tgt), l2=density_l2(x, tgt, 2.0 ** -s.fmt.fl), std=float(x.std()))
    return row, (res.samples.ravel() if job.get("keep") else None)


def _mk(part, target, sampler, var, src, fmt, eta, steps, chains, burn, thin, seed, u=1.0, keep=False):
    return dict(part=part, target=target, sampler=sampler, variant=var, source=src, fmt=fmt, eta=eta,
                steps=steps, chains=chains, burn=burn, thin=thin, seed=seed, u=u, keep=keep)


def _jobs_a(p, seed, sources):
    out = []
    for eta in p["a_etas"]:
        steps, burn = int(p["a_T"] / eta), int(p["a_burn"] / eta)
        for var in VARIANTS:
            for src in _sources_for(var, sources):
                out.append(_mk("a", "N(0,1)", "SGLD", var, src, "Q(8,3)", eta, steps, p["a_chains"],
                               burn, 20, seed, keep=src == sources[0]))
    return out


def _jobs_b(p, seed, sources):
    out = []
    configs = [(eta, 1.0) for eta in p["b_etas"]] + [(max(p["b_etas"]), 2.0)]
    for tname in ("N(0,1)", "mixture"):
        for eta, u in configs:
            steps = p["b_steps"]
            for alg in ("SGLD", "SGHMC"):
                if alg == "SGLD" and u != 1.0:
                    continue
                for var in VARIANTS:
                    for src in _sources_for(var, sources):
                        out.append(_mk("b", tname, alg, var, src, "Q(8,4)", eta, steps, p["b_chains"],
                                       steps // 4, 10, seed, u=u))
    return out


def _jobs_c(p, seeds, sources):
    out = []
    steps = p["c_steps"]
    for sd in seeds:
        for alg in ("SGLD", "SGHMC"):
            for fmt in ("Q(6,4)", "Q(4,2)"):
                for var in VARIANTS:
                    if var == "fp" and fmt != "Q(6,4)":
                        continue
                    for src in _sources_for(var, sources):
                        out.append(_mk("c", "digits", alg, var, src, fmt, 0.5, steps, p["c_chains"],
                                       steps // 2, max(1, steps // 100), sd, u=2.0))
    return out


def _jobs_d(p, seeds, sources, formats):
    out = []
    for eta in p["d_etas"]:
        for sd in seeds:
            for alg in ("SGLD", "SGHMC"):
                for var in VARIANTS:
                    for fmt in (formats[:1] if var == "fp" else formats):
                        for src in sources[:1]:         # the reference source only (module doc)
                            out.append(_mk("d", "N(0,1)", alg, var, src, fmt, eta, p["d_steps"],
                                           p["d_chains"], p["d_steps"] // 4, 10, sd, u=D_U))
    return out


def _n_jobs(p):
    na = len(p["a_etas"]) * 7
    nb = 2 * (len(p["b_etas"]) * 14 + 7)
    nc = 2 * (1 + 2 * 6) * p.get("c_seeds", 1)
    nd = len(p.get("d_etas", ())) * p.get("d_seeds", 0) * 2 * (1 + 3 * len(FORMATS))
    return na + nb + nc + nd


# -- statistics over seeds ------------------------------------------------------------------

def mean_se(values):
    """Mean and standard error (sd/√n, ddof 1; nan for one value) of ``values``.

    >>> m, s = mean_se([1.0, 2.0, 3.0]); m, round(s, 6)
    (2.0, 0.57735)
    """
    v = np.asarray([x for x in values if x != "" and x is not None], dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), (float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan)


def _pm(m, s, d=3):
    if math.isnan(m):
        return "—"
    return f"{m:.{d}f}" + ("" if math.isnan(s) else f" ± {s:.{d}f}")


def _by(rows, **kw):
    return [r for r in rows if all(r[k] == v for k, v in kw.items())]


def _per_seed(rows, key, **kw):
    return {r["seed"]: r[key] for r in _by(rows, **kw)}


def _paired(a: dict, b: dict):
    """Per-seed differences a − b over the seeds both have."""
    return [a[s] - b[s] for s in sorted(a) if s in b]


def _cell(values, floor):
    """(mean, s.e., n, floor) of per-seed differences: one cell of a verdict."""
    v = [x for x in values if x != "" and x is not None]
    return mean_se(v) + (len(v), floor)


def _sign(m, s, n, floor, family=1):
    """+1 / −1 when the mean of n per-seed differences is beyond the 95 % t-interval (n − 1
    degrees of freedom; Bonferroni over ``family`` cells judged together) and beyond ``floor``
    (the smallest difference that matters), else 0."""
    from scipy.stats import t
    q = t.ppf(1 - 0.025 / family, n - 1) if n > 1 else math.inf
    if n < 3 or math.isnan(m) or math.isnan(s) or abs(m) <= max(floor, q * s):
        return 0
    return 1 if m > 0 else -1


def quantization_increase(rows, sampler, variant, fmt, source, eta):
    """Per-seed W2 increase caused by quantization in part (d): W2 of ``variant`` (in ``fmt``,
    bits from ``source``) minus W2 of the same sampler in float64 at the same step and seed.

    >>> row = lambda v, w, f="Q(8,3)": dict(part="d", sampler="SGLD", variant=v, fmt=f, source="ideal",
    ...                                     eta=0.1, seed=0, w2=w)
    >>> quantization_increase([row("fp", 0.03), row("lpl", 0.05)], "SGLD", "lpl", "Q(8,3)", "ideal", 0.1)
    {0: 0.020000000000000004}
    """
    fp_src = _sources_ref(rows)
    base = _per_seed(rows, "w2", part="d", sampler=sampler, variant="fp", eta=eta, source=fp_src)
    q = _per_seed(rows, "w2", part="d", sampler=sampler, variant=variant, fmt=fmt, source=source, eta=eta)
    return {s: q[s] - base[s] for s in q if s in base}


def _sources_ref(rows):
    fp = [r["source"] for r in rows if r["variant"] == "fp"]
    return fp[0] if fp else "ideal"


# -- figures ---------------------------------------------------------------------------------

def _plot_a(rows, hist, path, sources=SOURCES):
    fig = figure(13, 5, layout=None)
    axes = fig.subplots(1, 2)
    ax = axes[0]
    for var in VARIANTS:
        for src, ls, mk in zip(_sources_for(var, sources), ("-", "--", ":"), ("o", "s", "^")):
            pts = sorted((r["eta"], r["w2"]) for r in rows if r["variant"] == var and r["source"] == src)
            if not pts:
                continue
            xs, ys = [e for e, _ in pts], [w for _, w in pts]
            if var == "fp":      # drawn wide and pale underneath, so LP-F and VC on top leave it visible
                ax.plot(xs, ys, "-", color="0.55", lw=7, alpha=0.45, zorder=1, label=LABEL[var])
            else:
                ax.plot(xs, ys, ls, marker=mk, color=COLORS[var], zorder=3,
                        label=f"{LABEL[var]}, {_src_label(src)}")
    ax.set_xscale("log")
    ax.set_xlabel("SGLD step size η (log scale)")
    ax.set_ylabel("W2 to N(0, 1) (units of θ)")
    ax.set_title("W2 to the target vs the step size", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax = axes[1]
    eta = min(e for e, _ in hist)
    xs = np.linspace(-4.5, 4.5, 400)
    ax.plot(xs, np.exp(-xs ** 2 / 2) / math.sqrt(2 * math.pi), "k-", lw=2, label="N(0, 1)")
    bins = np.arange(-4.5 - 1 / 16, 4.5 + 1 / 8, 1 / 8)
    for var in ("lpl", "lpf", "vc"):
        ax.hist(hist[(eta, var)], bins=bins, density=True, histtype="step", lw=1.4,
                color=COLORS[var], label=LABEL[var])
    ax.set_xlabel("θ (one bin per Q(8,3) word, Δ = 1/8)")
    ax.set_ylabel("density")
    ax.set_title(f"histogram of the samples at η = {eta:g}, {_src_label(sources[0])}", fontsize=11)
    ax.legend(fontsize=8)
    fig.suptitle("(a) SGLD on N(0, 1), weights and gradients in Q(8,3), gradient noise 0.1: "
                 "naive LP-L over-disperses as η shrinks", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(path, dpi=130)
    return path


def _src_label(src):
    return {"ideal": "ideal bits (PCG64)", "lfsr16": "16-bit LFSR"}.get(src, f"bits: {src}")


def _plot_b(rows, path, sources=SOURCES):
    fig = figure(13, 5, layout=None)
    axes = fig.subplots(1, 2)
    eta = max(r["eta"] for r in rows)
    cfg = (("SGLD", "", "tab:orange"), ("SGHMC", 1.0, "tab:purple"), ("SGHMC", 2.0, "tab:gray"))
    width = 0.8 / (len(cfg) * len(sources))
    for ax, tname in zip(axes, ("N(0,1)", "mixture")):
        xs = np.arange(len(VARIANTS))
        for k, (alg, u, col) in enumerate(cfg):
            for j, src in enumerate(sources):
                vals = []
                for var in VARIANTS:
                    s = src if var != "fp" else sources[0]
                    r = [r for r in rows if r["target"] == tname and r["sampler"] == alg and r["eta"] == eta
                         and r["variant"] == var and r["source"] == s and r["u"] == u]
                    vals.append(r[0]["w2"] if r else np.nan)
                lab = f"{alg}{'' if alg == 'SGLD' else f' (u = {u:g})'}, {_src_label(src)}"
                ax.bar(xs + (k * len(sources) + j + 0.5) * width - 0.4, vals, width, color=col,
                       alpha=1.0 if j == 0 else 0.55, label=lab)
        ax.set_xticks(xs, [LABEL[v] for v in VARIANTS])
        ax.set_ylabel("W2 to the target (units of θ)")
        ax.set_title(f"target {tname}", fontsize=11)
        ax.grid(axis="y", alpha=0.3)
    h, l = axes[0].get_legend_handles_labels()
    fig.legend(h, l, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(f"(b) one step size for both samplers, Q(8,4), η = {eta:g}, friction γ = 2, u = inverse "
                 f"mass (SGHMC's effective step is uη/γ)", fontsize=11)
    fig.tight_layout(rect=(0, 0.1, 1, 0.94))
    fig.savefig(path, dpi=130)
    return path


def _plot_c(rows, path):
    fig = figure(13, 5.2, layout=None)
    axes = fig.subplots(1, 2)
    src = _sources_ref(rows)
    for ax, metric, name in ((axes[0], "err", "test error (fraction misclassified)"),
                             (axes[1], "nll", "test NLL (nats per image)")):
        for alg, ls, off in (("SGLD", "-", -0.06), ("SGHMC", "--", 0.06)):
            fp = mean_se([r[metric] for r in rows if r["sampler"] == alg and r["variant"] == "fp"])
            if not math.isnan(fp[0]):
                ax.axhspan(fp[0] - (fp[1] if not math.isnan(fp[1]) else 0), fp[0] + (fp[1] if not math.isnan(fp[1]) else 0),
                           color="0.6" if alg == "SGLD" else "0.8", alpha=0.5, zorder=0)
                ax.axhline(fp[0], color="black", ls=ls, lw=1.2, zorder=1, label=f"{alg} FP (float64)")
            for i, var in enumerate(("lpf", "lpl", "vc")):
                ms = [mean_se([r[metric] for r in rows if r["sampler"] == alg and r["variant"] == var
                               and r["fmt"] == fmt and r["source"] == src]) for fmt in ("Q(6,4)", "Q(4,2)")]
                x = np.array([4, 2]) + off + (i - 1) * 0.03
                ax.errorbar(x, [m for m, _ in ms], yerr=[0 if math.isnan(e) else e for _, e in ms], fmt=ls,
                            marker="o", color=COLORS[var], capsize=3, zorder=3, label=f"{alg} {LABEL[var]}")
        ax.set_xlabel("fraction bits of the weights and gradients (2 integer bits)")
        ax.set_xticks([4, 2], ["4 (Q2.4)", "2 (Q2.2)"])
        ax.invert_xaxis()
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    h, l = axes[0].get_legend_handles_labels()
    fig.legend(h, l, loc="lower center", ncol=4, fontsize=8, frameon=False)
    n = len({r["seed"] for r in rows}) if rows and "seed" in rows[0] else 1
    fig.suptitle(f"(c) Bayesian softmax regression on digits, {_src_label(src)}: mean ± standard error over "
                 f"{n} seed(s); solid: SGLD, dashed: SGHMC; grey band: float64 ± s.e.", fontsize=11)
    fig.tight_layout(rect=(0, 0.13, 1, 0.94))
    fig.savefig(path, dpi=130)
    return path


def _plot_d(rows, path, formats=FORMATS, sources=SOURCES):
    etas = sorted({r["eta"] for r in rows})
    fig = figure(6.5 * len(etas), 5.2, layout=None)
    axes = np.atleast_1d(fig.subplots(1, len(etas)))
    src = sources[0]
    bars = [(alg, var) for var in ("lpf", "lpl", "vc") for alg in ("SGLD", "SGHMC")]
    width = 0.8 / len(bars)
    for ax, eta in zip(axes, etas):
        xs = np.arange(len(formats))
        for k, (alg, var) in enumerate(bars):
            ms = [mean_se(list(quantization_increase(rows, alg, var, f, src, eta).values())) for f in formats]
            ax.bar(xs + (k + 0.5) * width - 0.4, [m for m, _ in ms], width,
                   yerr=[0 if math.isnan(e) else e for _, e in ms], capsize=2, color=COLORS[var],
                   alpha=1.0 if alg == "SGLD" else 0.5, hatch="" if alg == "SGLD" else "//",
                   label=f"{alg} {LABEL[var]}")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(xs, formats)
        ax.set_xlabel("format of weights, gradients (and state for LP-L)")
        ax.set_ylabel("W2 increase over float64 (units of θ)")
        ax.set_title(f"SGLD step η = {eta:g}; SGHMC at uη/γ = {eta:g}", fontsize=11)
        ax.grid(axis="y", alpha=0.3)
    h, l = axes[0].get_legend_handles_labels()
    fig.legend(h, l, loc="lower center", ncol=3, fontsize=8, frameon=False)
    n = len({r["seed"] for r in rows})
    fig.suptitle(f"(d) what quantization adds to W2 on N(0, 1) (same sampler, step and seed in float64 "
                 f"subtracted), {_src_label(src)}, mean ± s.e. over {n} seeds", fontsize=11)
    fig.tight_layout(rect=(0, 0.12, 1, 0.93))
    fig.savefig(path, dpi=130)
    return path


# -- tables ----------------------------------------------------------------------------------

def _f(v, d=3):
    return fmt_number(v, d) if v != "" else "—"


def _md_a(a, sources):
    etas = sorted({r["eta"] for r in a}, reverse=True)
    out = ["## (a) SGLD on N(0,1), Q(8,3), σ_g = 0.1 — W2 (density L2)", ""]
    body = []
    for var in VARIANTS:
        for src in _sources_for(var, sources):
            cells = []
            for eta in etas:
                r = _by(a, variant=var, source=src, eta=eta)
                cells.append(f"{_f(r[0]['w2'])} ({_f(r[0]['l2'])})" if r else "—")
            body.append([LABEL[var], src if var != "fp" else "—"] + cells)
    return out + [markdown_table(["variant", "bits"] + [f"η = {e:g}" for e in etas], body), ""]


def _md_b(b, sources):
    out = ["## (b) Q(8,4), σ_g = 0.1, γ = 2 — W2 of SGLD vs SGHMC at one step size", ""]
    body = []
    for tname in ("N(0,1)", "mixture"):
        for eta, u in sorted({(r["eta"], r["u"]) for r in b if r["sampler"] == "SGHMC"}):
            for src in sources:
                cells = []
                for var in VARIANTS:
                    s = src if var != "fp" else sources[0]
                    gl = _by(b, target=tname, sampler="SGLD", eta=eta, variant=var, source=s)
                    hm = _by(b, target=tname, sampler="SGHMC", eta=eta, u=u, variant=var, source=s)
                    cells.append(f"{_f(gl[0]['w2']) if gl else '—'} / {_f(hm[0]['w2']) if hm else '—'}")
                body.append([tname, f"{eta:g}", f"{u:g}", src] + cells)
    return out + [markdown_table(["target", "η", "SGHMC u", "bits"] +
                                 [f"{LABEL[v]}: SGLD / SGHMC" for v in VARIANTS], body), ""]


def _md_c(c, sources):
    n = len({r["seed"] for r in c})
    out = [f"## (c) digits softmax regression, η = 0.5 — test error / NLL of the posterior predictive "
           f"(mean ± s.e. over {n} seeds)", ""]
    body = []
    for alg in ("SGLD", "SGHMC"):
        for var in VARIANTS:
            for src in _sources_for(var, sources):
                cells = []
                for fmt in ("Q(6,4)", "Q(4,2)"):
                    r = [r for r in c if r["sampler"] == alg and r["variant"] == var and r["source"] == src
                         and (r["fmt"] == fmt or var == "fp")]
                    e, n_ = mean_se([x["err"] for x in r]), mean_se([x["nll"] for x in r])
                    cells.append(f"{_pm(100 * e[0], 100 * e[1], 1)} % / {_pm(*n_)}" if r else "—")
                body.append([alg, LABEL[var], src if var != "fp" else "—"] + cells)
    return out + [markdown_table(["sampler", "variant", "bits", "Q(6,4) = Q2.4", "Q(4,2) = Q2.2"], body), ""]


def _md_d(d, sources, formats):
    n = len({r["seed"] for r in d})
    out = [f"## (d) W2 increase caused by quantization, N(0,1), σ_g = 0.1 (mean ± s.e. over {n} seeds)", "",
           f"Each cell: W2 of the variant minus W2 of the same sampler in float64 at the same step and seed. "
           f"SGHMC runs at γ = {D_GAMMA:g}, u = {D_U:g}, so its effective step uη/γ equals SGLD's η "
           f"(equal float64 bias: FP row). Last column: SGLD's increase minus SGHMC's (> 0: SGHMC more robust).", ""]
    body = []
    for eta in sorted({r["eta"] for r in d}):
        fps = [mean_se(list(_per_seed(d, "w2", sampler=a, variant="fp", eta=eta).values())) for a in ("SGLD", "SGHMC")]
        body.append([f"{eta:g}", "—", "FP W2 (not an increase)", "—", _pm(*fps[0]), _pm(*fps[1]), "—"])
        for fmt in formats:
            for var in ("lpf", "lpl", "vc"):
                for src in sources[:1]:
                    gl = quantization_increase(d, "SGLD", var, fmt, src, eta)
                    hm = quantization_increase(d, "SGHMC", var, fmt, src, eta)
                    body.append([f"{eta:g}", fmt, LABEL[var], src, _pm(*mean_se(gl.values()), d=4),
                                 _pm(*mean_se(hm.values()), d=4), _pm(*mean_se(_paired(gl, hm)), d=4)])
    return out + [markdown_table(["η", "format", "variant", "bits", "SGLD ΔW2", "SGHMC ΔW2",
                                  "SGLD − SGHMC"], body), ""]


def _markdown(rows, meta, sources, formats) -> str:
    out = [f"# Low-precision SGLD / SGHMC (preset {meta['preset']}, seed {meta['seed']})", ""]
    if meta.get("verdicts"):
        out += ["## Verdict", "", "```", verdict_lines(meta["verdicts"]), "```", ""]
    for part, fn in (("a", _md_a), ("b", _md_b), ("c", _md_c)):
        sel = _by(rows, part=part)
        if sel:
            out += fn(sel, sources)
    if _by(rows, part="d"):
        out += _md_d(_by(rows, part="d"), sources, formats)
    return "\n".join(out)


# -- verdicts --------------------------------------------------------------------------------

def _verdicts_a(a, sources):
    out = []
    ref = sources[0]
    pts = sorted((r["eta"], r["w2"]) for r in _by(a, variant="lpl", source=ref))
    if len(pts) > 1:
        inc = all(w1 > w2 for (_, w1), (_, w2) in zip(pts, pts[1:]))
        out.append(verdict("(a) naive LP-L SGLD over-disperses more as the step shrinks (Q(8,3))", inc,
                           "W2 " + ", ".join(f"{w:.3f}" for _, w in reversed(pts)) + " at η = " +
                           ", ".join(f"{e:g}" for e, _ in reversed(pts))))
    dev = []
    for var in ("lpf", "vc"):
        for r in _by(a, variant=var, source=ref):
            fp = _by(a, variant="fp", eta=r["eta"])
            if fp:
                dev.append(r["w2"] - fp[0]["w2"])
    if dev:
        worst = max(dev)
        out.append(verdict("(a) LP-F and VC SGLD do not over-disperse (W2 at most 0.03 above float64's)",
                           worst <= 0.03, f"largest W2 minus FP's W2 {worst:+.3f} (one seed)"))
    if "lfsr16" in sources and ref != "lfsr16":
        eta = min(r["eta"] for r in a)
        v16 = _by(a, variant="vc", source="lfsr16", eta=eta)
        vid = _by(a, variant="vc", source=ref, eta=eta)
        if v16 and vid:
            out.append(verdict(f"(a) VC SGLD drifts with a 16-bit LFSR at η = {eta:g} (W2 > 1.5× ideal bits)",
                               v16[0]["w2"] > 1.5 * vid[0]["w2"],
                               f"W2 {v16[0]['w2']:.3f} vs {vid[0]['w2']:.3f} (one seed)"))
    return out


def _verdicts_b(b, sources):
    eta = max(r["eta"] for r in b)
    pairs = []
    for tname in ("N(0,1)", "mixture"):
        for var in VARIANTS:
            gl = _by(b, target=tname, sampler="SGLD", eta=eta, variant=var, source=sources[0])
            hm = _by(b, target=tname, sampler="SGHMC", eta=eta, u=1.0, variant=var, source=sources[0])
            if gl and hm:
                pairs.append((tname, var, gl[0]["w2"], hm[0]["w2"]))
    if not pairs:
        return []
    held = all(h < g for _, _, g, h in pairs)
    fig = "; ".join(f"{t}: SGLD {min(g for tt, _, g, _ in pairs if tt == t):.3f}–"
                    f"{max(g for tt, _, g, _ in pairs if tt == t):.3f} vs SGHMC "
                    f"{min(h for tt, _, _, h in pairs if tt == t):.3f}–{max(h for tt, _, _, h in pairs if tt == t):.3f}"
                    for t in ("N(0,1)", "mixture"))
    return [verdict(f"(b) at one step η = {eta:g}, SGHMC (u = 1) has the lower W2 for every variant "
                    f"(its smaller discretization bias, not robustness to quantization)", held, fig)]


def _cells_verdict(cells):
    """held: every cell favours the claim (``_sign`` > 0, family-wise over the cells); False:
    some cell goes against it; None otherwise (ties, or fewer than 3 seeds)."""
    signs = [_sign(*c, family=len(cells)) for c in cells]
    if signs and all(x > 0 for x in signs):
        return True
    if any(x < 0 for x in signs):
        return False
    return None


def _verdicts_c(c, sources):
    out = []
    ref = sources[0]
    n = len({r["seed"] for r in c})

    def degr(alg, var, src=ref, key="nll"):
        a = _per_seed(c, key, sampler=alg, variant=var, fmt="Q(4,2)", source=src)
        b = _per_seed(c, key, sampler=alg, variant=var, fmt="Q(6,4)", source=src)
        return {s: a[s] - b[s] for s in a if s in b}

    for var in ("lpf", "lpl", "vc"):
        cell = _cell(_paired(degr("SGLD", var), degr("SGHMC", var)), NLL_FLOOR)
        gl, hm = mean_se(degr("SGLD", var).values()), mean_se(degr("SGHMC", var).values())
        out.append(verdict(f"(c) digits, {LABEL[var]}: SGHMC's test NLL degrades less than SGLD's from Q2.4 to Q2.2",
                           _cells_verdict([cell]),
                           f"NLL increase {_pm(*gl)} (SGLD) vs {_pm(*hm)} (SGHMC), {n} seeds"))
    lpl = degr("SGLD", "lpl")
    cells = [_cell(_paired(lpl, degr("SGLD", v)), NLL_FLOOR) for v in ("lpf", "vc")]
    out.append(verdict("(c) digits: naive LP-L SGLD degrades most from Q2.4 to Q2.2 (test NLL)",
                       _cells_verdict(cells),
                       f"NLL increase LP-L {_pm(*mean_se(lpl.values()))}, LP-F "
                       f"{_pm(*mean_se(degr('SGLD', 'lpf').values()))}, VC {_pm(*mean_se(degr('SGLD', 'vc').values()))}, "
                       f"{n} seeds"))
    for src in sources[1:]:
        worst, cells = None, []
        for alg in ("SGLD", "SGHMC"):
            for var in ("lpf", "lpl", "vc"):
                for fmt in ("Q(6,4)", "Q(4,2)"):
                    d = _paired(_per_seed(c, "err", sampler=alg, variant=var, fmt=fmt, source=src),
                                _per_seed(c, "err", sampler=alg, variant=var, fmt=fmt, source=ref))
                    cells.append(_cell(d, ERR_FLOOR))
                    m, s = cells[-1][:2]
                    if worst is None or abs(m) > abs(worst[0]):
                        worst = (m, s, alg, var, fmt)
        moved = [x for x in cells if _sign(*x, family=len(cells)) != 0]
        fig = (f"largest change {100 * worst[0]:+.1f} ± {100 * worst[1]:.1f} points ({worst[2]} "
               f"{LABEL[worst[3]]}, {worst[4]}); {len(moved)} of {len(cells)} (sampler, variant, format) "
               f"cells changed beyond the family-wise 95 % interval, {n} seeds")
        # "unchanged" is a claim of no effect: decided only with enough seeds to see one
        out.append(verdict(f"(c) digits: {src} bits leave the test error of LP-F, LP-L and VC unchanged "
                           f"(vs {ref})", None if n < MIN_SEEDS_UNCHANGED else not moved, fig))
    return out


def _verdicts_d(d, sources, formats):
    out = []
    n = len({r["seed"] for r in d})
    for var in ("lpl", "vc", "lpf"):
        cells, parts = [], []
        for eta in sorted({r["eta"] for r in d}):
            for fmt in formats:
                gl = quantization_increase(d, "SGLD", var, fmt, sources[0], eta)
                hm = quantization_increase(d, "SGHMC", var, fmt, sources[0], eta)
                cells.append(_cell(_paired(gl, hm), W2_FLOOR))
                parts.append(f"{fmt} η={eta:g}: {mean_se(gl.values())[0]:+.3f} vs {mean_se(hm.values())[0]:+.3f}")
        signs = [_sign(*x) for x in cells]
        fig = (f"SGHMC smaller in {signs.count(1)}, SGLD smaller in {signs.count(-1)}, level in "
               f"{signs.count(0)} of {len(cells)} (format, η) cells, {n} seeds; ΔW2 SGLD vs SGHMC: "
               + "; ".join(parts))
        out.append(verdict(f"(d) {LABEL[var]}: quantization raises W2 less for SGHMC than for SGLD at "
                           f"matched effective step", _cells_verdict(cells), fig))
    return out


def verdicts_of(rows, sources=SOURCES, formats=FORMATS):
    """The study's verdicts (one per claim, ``_report.verdict``) from its rows (a part without
    rows gives none).

    >>> verdicts_of([])
    []
    """
    out = []
    for part, fn in (("a", _verdicts_a), ("b", _verdicts_b), ("c", _verdicts_c)):
        sel = _by(rows, part=part)
        if sel:
            out += fn(sel, sources)
    if _by(rows, part="d"):
        out += _verdicts_d(_by(rows, part="d"), sources, formats)
    return out


def split_list(text):
    """Items of a comma- or space-separated list; commas inside brackets stay (formats).

    >>> split_list("Q(8,3),Q(8,4) Q(6,3)")
    ['Q(8,3)', 'Q(8,4)', 'Q(6,3)']
    """
    return re.findall(r"[^,\s(]+(?:\([^)]*\))?", text)


def _check_source(spec):
    SGLD(Gaussian(), eta=0.1, source=spec)          # the sampler's own check (names "source")


def _names(value, what, check):
    items = split_list(value) if isinstance(value, str) else list(value)
    if not items:
        raise ValueError(f"{what}: expected a non-empty list, got {value!r}")
    for v in items:
        check(v)
    return tuple(items)


def run(out, quick=False, seed=0, progress=True, copy_figures_to=None, preset=None, *,
        sources=SOURCES, formats=FORMATS, seeds=None, parts=PARTS, workers=1) -> dict:
    """Run the parts ``parts`` of the study (a, b, c, d; module doc) and write ``samplers.csv``,
    ``samplers.md`` and one PNG per part into ``out``; return the ``StudyResult``
    (rows, markdown, files, seconds, verdicts).

    ``sources``: bit sources (``"ideal"`` = PCG64, ``"lfsr16"`` or any ``fxsim.make_source``
    spec); the first is the reference the others are compared with.  ``formats``: the formats
    of part (d).  ``seeds``: seeds of parts (c) and (d) (default: the preset's 5 / 6, quick 3 /
    3); seed i of a run is ``seed + i``.  ``workers``: processes (results do not depend on it).

    >>> import tempfile
    >>> p = dict(a_etas=(2e-3,), a_chains=4, a_T=0.4, a_burn=0.2, b_etas=(0.25,), b_chains=4,
    ...          b_steps=40, c_steps=4, c_chains=2)
    >>> res = run(tempfile.mkdtemp(), progress=False, preset=p)   # doctest: +SKIP
    >>> len(res["rows"])                                            # doctest: +SKIP
    75
    """
    p = dict(preset or PRESETS["quick" if quick else "full"])
    sources = _names(sources, "sources", _check_source)
    formats = _names(formats, "formats", lambda v: check_format(v, "formats"))
    parts = _names(parts, "parts", lambda v: V.one_of("parts", v, PARTS))
    if seeds is not None:
        seeds = V.integer("seeds", seeds, 1)
        p["c_seeds"] = p["d_seeds"] = seeds
    workers = V.integer("workers", workers, 1)
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    jobs = []
    if "a" in parts:
        jobs += _jobs_a(p, seed, sources)
    if "b" in parts:
        jobs += _jobs_b(p, seed, sources)
    if "c" in parts:
        jobs += _jobs_c(p, range(seed, seed + p.get("c_seeds", 1)), sources)
    if "d" in parts and "d_etas" in p:
        jobs += _jobs_d(p, range(seed, seed + p["d_seeds"]), sources, formats)
    pbar = make_progress(len(jobs), "sampler-study", progress)
    res = run_jobs(_job, jobs, workers=workers, bar=pbar,
                   label=lambda j: f"{j['part']} {j['sampler']} {LABEL[j['variant']]} {j['fmt']} "
                                   f"η={j['eta']:g} {j['source']} seed {j['seed']}")
    pbar.close()
    rows = [r for r, _ in res]
    hist = {(j["eta"], j["variant"]): x for j, (_, x) in zip(jobs, res) if x is not None}
    files = {"csv": os.path.join(out, "samplers.csv"), "md": os.path.join(out, "samplers.md")}
    write_csv(rows, files["csv"], COLUMNS, float_format="{:.6g}")
    if _by(rows, part="a"):
        files["samplers_sgld_png"] = _plot_a(_by(rows, part="a"), hist, os.path.join(out, "samplers_sgld.png"),
                                             sources)
    if _by(rows, part="b"):
        files["samplers_sghmc_png"] = _plot_b(_by(rows, part="b"), os.path.join(out, "samplers_sghmc.png"),
                                              sources)
    if _by(rows, part="c"):
        files["samplers_digits_png"] = _plot_c(_by(rows, part="c"), os.path.join(out, "samplers_digits.png"))
    if _by(rows, part="d"):
        files["samplers_robustness_png"] = _plot_d(_by(rows, part="d"),
                                                   os.path.join(out, "samplers_robustness.png"), formats, sources)
    seconds = time.perf_counter() - t0
    verdicts = verdicts_of(rows, sources, formats)
    md = _markdown(rows, {"preset": "quick" if quick else ("custom" if preset else "full"), "seed": seed,
                          "verdicts": verdicts}, sources, formats)
    if quick:
        md += "\n--quick: few seeds and short chains; the numbers are noisy (run without --quick to decide).\n"
    return finish(md, files, seconds, rows, copy_figures_to, verdicts=verdicts)


def _cmd(args) -> int:
    return print_study(run(args.out, quick=args.quick, seed=args.seed, progress=args.progress,
                           copy_figures_to=args.copy_figures, sources=args.sources, formats=args.formats,
                           seeds=args.seeds, parts=args.parts, workers=args.workers))


def add_cli(sub):
    """Register ``fxsim sampler-study``.

    >>> import argparse
    >>> sub = argparse.ArgumentParser().add_subparsers()
    >>> add_cli(sub).get_default("quick")
    False
    """
    p = add_study_parser(
        sub, "sampler-study", run, help="study: low-precision SGLD and SGHMC (LP-F, LP-L, VC), ideal vs LFSR bits",
        description="Reproduces Zhang et al. (ICML 2022) and Wang et al. (TMLR): (a) SGLD on N(0,1) in "
                    "Q(8,3) at small steps, (b) SGHMC vs SGLD in Q(8,4) at one step size, (c) Bayesian "
                    "softmax regression on digits in Q2.4 and Q2.2 over seeds, (d) the W2 increase "
                    "caused by quantization for both samplers at matched effective steps over formats "
                    "and seeds; each with ideal bits and a 16-bit LFSR. Writes OUT/samplers.csv, "
                    "OUT/samplers.md and one PNG per part, and prints one verdict line per claim.",
        out="results/samplers", quick_help="fewer steps, chains and seeds (about 40 s of CPU; noisy)",
        seed_help="root seed of every run (multi-seed parts use seed, seed+1, ...)")
    p.add_argument("--sources", default=",".join(SOURCES),
                   help="comma-separated bit sources: ideal (PCG64), lfsr16 or any make_source spec; the "
                        f"first is the reference (default {','.join(SOURCES)})")
    p.add_argument("--formats", default=",".join(FORMATS),
                   help=f"comma-separated formats of part (d), e.g. 'Q(8,3),Q(6,3)' "
                        f"(default {','.join(FORMATS)})")
    p.add_argument("--seeds", type=pos_int, default=None,
                   help="seeds of parts (c) and (d) (default 5 and 6; --quick 3 and 3)")
    p.add_argument("--parts", default=",".join(PARTS), help="comma-separated parts to run (default a,b,c,d)")
    p.add_argument("--workers", type=pos_int, default=1, help="worker processes (default 1)")
    p.set_defaults(run=_cmd)
    return p
