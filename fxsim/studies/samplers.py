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
    half of the chains.

Metrics: exact W2 from quantiles and the density L2 distance (bins = the format's grid) for
(a)/(b), ``fxsim.samplers.metrics``.  Every run is seeded by ``seed`` (normals, start points,
bit source); rows do not depend on the order of the runs.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np

from ..samplers import (SGHMC, SGLD, BayesLogistic, Gaussian, GaussianMixture, density_l2,
                        predictive, w2_1d)
from ._report import (add_study_parser, figure, finish, fmt_number, make_progress, markdown_table,
                      write_csv)

SOURCES = ("ideal", "lfsr16")
VARIANTS = ("fp", "lpf", "lpl", "vc")
LABEL = {"fp": "FP (float64)", "lpf": "LP-F", "lpl": "LP-L (naive)", "vc": "VC LP-L"}
COLORS = {"fp": "black", "lpf": "tab:blue", "lpl": "tab:red", "vc": "tab:green"}

PRESETS = {
    "full": dict(a_etas=(2e-3, 1e-3, 5e-4), a_chains=100, a_T=30, a_burn=10,
                 b_etas=(0.1, 0.25), b_chains=100, b_steps=4000,
                 c_steps=1000, c_chains=6),
    "quick": dict(a_etas=(2e-3, 5e-4), a_chains=40, a_T=14, a_burn=7,
                  b_etas=(0.25,), b_chains=40, b_steps=2000,
                  c_steps=240, c_chains=4),
}
COLUMNS = ("part", "target", "sampler", "variant", "source", "fmt", "eta", "u", "steps", "chains",
           "w2", "l2", "std", "err", "nll", "seconds")


def _run(sampler, chains, steps, burn, thin, seed):
    t = time.perf_counter()
    res = sampler.run(chains, steps, burn=burn, thin=thin, seed=seed)
    return res, time.perf_counter() - t


def _sources_for(variant):
    return ("ideal",) if variant == "fp" else SOURCES


def _part_a(p, seed, bar):
    rows, hist = [], {}
    g = Gaussian()
    for eta in p["a_etas"]:
        steps, burn = int(p["a_T"] / eta), int(p["a_burn"] / eta)
        for var in VARIANTS:
            for src in _sources_for(var):
                s = SGLD(g, eta=eta, variant=var, fmt="Q(8,3)", grad_noise=0.1, source=src)
                res, sec = _run(s, p["a_chains"], steps, burn, 20, seed)
                x = res.samples.ravel()
                rows.append(dict(part="a", target="N(0,1)", sampler="SGLD", variant=var, source=src,
                                 fmt="Q(8,3)", eta=eta, u="", steps=steps, chains=p["a_chains"],
                                 w2=w2_1d(x, g), l2=density_l2(x, g, 1 / 8), std=float(x.std()),
                                 err="", nll="", seconds=sec))
                if src == "ideal":
                    hist[(eta, var)] = x
                bar(f"a {var} η={eta:g} {src}")
    return rows, hist


def _part_b(p, seed, bar):
    rows = []
    configs = [(eta, 1.0) for eta in p["b_etas"]] + [(max(p["b_etas"]), 2.0)]
    for tname, tgt in (("N(0,1)", Gaussian()), ("mixture", GaussianMixture())):
        for eta, u in configs:
            steps = p["b_steps"]
            for alg in ("SGLD", "SGHMC"):
                if alg == "SGLD" and u != 1.0:
                    continue
                for var in VARIANTS:
                    for src in _sources_for(var):
                        if alg == "SGLD":
                            s = SGLD(tgt, eta=eta, variant=var, fmt="Q(8,4)", grad_noise=0.1, source=src)
                        else:
                            s = SGHMC(tgt, eta=eta, gamma=2.0, u=u, variant=var, fmt="Q(8,4)", grad_noise=0.1,
                                      source=src)
                        res, sec = _run(s, p["b_chains"], steps, steps // 4, 10, seed)
                        x = res.samples.ravel()
                        rows.append(dict(part="b", target=tname, sampler=alg, variant=var, source=src,
                                         fmt="Q(8,4)", eta=eta, u=u if alg == "SGHMC" else "",
                                         steps=steps, chains=p["b_chains"], w2=w2_1d(x, tgt),
                                         l2=density_l2(x, tgt, 1 / 16), std=float(x.std()), err="",
                                         nll="", seconds=sec))
                        bar(f"b {tname} {alg} {var} {src}")
    return rows


def _part_c(p, seed, bar):
    rows = []
    m = BayesLogistic(n_train=1200, batch=64, prior_var=1.0)
    steps = p["c_steps"]
    for alg in ("SGLD", "SGHMC"):
        for fmt in ("Q(6,4)", "Q(4,2)"):
            for var in VARIANTS:
                if var == "fp" and fmt != "Q(6,4)":
                    continue
                for src in _sources_for(var):
                    if alg == "SGLD":
                        s = SGLD(m, eta=0.5, variant=var, fmt=fmt, source=src)
                    else:
                        s = SGHMC(m, eta=0.5, gamma=2.0, u=2.0, variant=var, fmt=fmt, source=src)
                    res, sec = _run(s, p["c_chains"], steps, steps // 2, max(1, steps // 100), seed)
                    err, nll = predictive(m, res.samples.reshape(-1, m.dim))
                    rows.append(dict(part="c", target="digits", sampler=alg, variant=var, source=src,
                                     fmt="float64" if var == "fp" else fmt, eta=0.5,
                                     u=2.0 if alg == "SGHMC" else "", steps=steps,
                                     chains=p["c_chains"], w2="", l2="", std="", err=err, nll=nll,
                                     seconds=sec))
                    bar(f"c {alg} {fmt} {var} {src}")
    return rows


def _n_jobs(p):
    na = len(p["a_etas"]) * 7
    nb = 2 * (len(p["b_etas"]) * 14 + 7)
    nc = 2 * (1 + 2 * 6)
    return na + nb + nc


# -- figures ---------------------------------------------------------------------------------

def _plot_a(rows, hist, path):
    fig = figure(12, 4.4, layout=None)
    axes = fig.subplots(1, 2)
    ax = axes[0]
    for var in VARIANTS:
        for src, ls, mk in (("ideal", "-", "o"), ("lfsr16", "--", "s")):
            pts = sorted((r["eta"], r["w2"]) for r in rows if r["variant"] == var and r["source"] == src)
            if pts:
                ax.plot([e for e, _ in pts], [w for _, w in pts], ls, marker=mk, color=COLORS[var],
                        label=f"{LABEL[var]}, {'ideal bits' if src == 'ideal' else 'LFSR n=16'}"
                        if var != "fp" else LABEL[var])
    ax.set_xscale("log")
    ax.set_xlabel("step size η")
    ax.set_ylabel("W2 to N(0, 1)")
    ax.set_title("(a) SGLD, Q(8,3): W2 to N(0, 1) vs the step size", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax = axes[1]
    eta = min(e for e, _ in hist)
    xs = np.linspace(-4.5, 4.5, 400)
    ax.plot(xs, np.exp(-xs ** 2 / 2) / math.sqrt(2 * math.pi), "k-", lw=2, label="N(0, 1)")
    bins = np.arange(-4.5 - 1 / 16, 4.5 + 1 / 8, 1 / 8)
    for var in ("lpl", "lpf", "vc"):
        ax.hist(hist[(eta, var)], bins=bins, density=True, histtype="step", lw=1.3,
                color=COLORS[var], label=LABEL[var])
    ax.set_xlabel("θ")
    ax.set_ylabel("density")
    ax.set_title(f"(a) samples at η = {eta:g} (ideal bits) against N(0, 1)",
                 fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    return path


def _plot_b(rows, path):
    fig = figure(12, 4.2, layout=None)
    axes = fig.subplots(1, 2)
    eta = max(r["eta"] for r in rows)
    for ax, tname in zip(axes, ("N(0,1)", "mixture")):
        xs = np.arange(len(VARIANTS))
        for k, (alg, u, col) in enumerate((("SGLD", "", "tab:orange"), ("SGHMC", 1.0, "tab:purple"),
                                           ("SGHMC", 2.0, "tab:gray"))):
            for j, src in enumerate(SOURCES):
                vals = []
                for var in VARIANTS:
                    s = src if var != "fp" else "ideal"
                    r = [r for r in rows if r["target"] == tname and r["sampler"] == alg and r["eta"] == eta
                         and r["variant"] == var and r["source"] == s and r["u"] == u]
                    vals.append(r[0]["w2"] if r else np.nan)
                lab = f"{alg}{'' if alg == 'SGLD' else f' u={u:g}'}, {'ideal' if src == 'ideal' else 'LFSR16'}"
                ax.bar(xs + (k * 2 + j - 2.5) * 0.13, vals, 0.13, color=col, alpha=1.0 if j == 0 else 0.55,
                       label=lab)
        ax.set_xticks(xs, [LABEL[v] for v in VARIANTS])
        ax.set_ylabel("W2 to the target")
        ax.set_title(f"(b) {tname}, Q(8,4), η = {eta:g}: W2 per variant and sampler", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    h, l = axes[0].get_legend_handles_labels()
    fig.legend(h, l, loc="upper center", ncol=6, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=130)
    return path


def _plot_c(rows, path):
    fig = figure(12, 4.2, layout=None)
    axes = fig.subplots(1, 2)
    titles = {"err": "(c) test error vs fraction bits",
              "nll": "(c) test NLL vs fraction bits"}
    for ax, metric, name in ((axes[0], "err", "test error"), (axes[1], "nll", "test NLL (nats)")):
        for alg, ls in (("SGLD", "-"), ("SGHMC", "--")):
            fp = [r[metric] for r in rows if r["sampler"] == alg and r["variant"] == "fp"]
            for var in ("lpf", "lpl", "vc"):
                ys = []
                for fmt in ("Q(6,4)", "Q(4,2)"):
                    r = [r[metric] for r in rows if r["sampler"] == alg and r["variant"] == var
                         and r["fmt"] == fmt and r["source"] == "ideal"]
                    ys.append(r[0] if r else np.nan)
                ax.plot([4, 2], ys, ls, marker="o", color=COLORS[var], label=f"{alg} {LABEL[var]}")
            if fp:
                ax.axhline(fp[0], color="black", ls=ls, lw=0.8, label=f"{alg} FP")
        ax.set_xlabel("fraction bits (2 integer bits)")
        ax.set_xticks([4, 2])
        ax.invert_xaxis()
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.set_title(titles[metric] + " (digits, ideal bits)", fontsize=10)
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    return path


# -- tables ----------------------------------------------------------------------------------

def _f(v, d=3):
    return fmt_number(v, d) if v != "" else "—"


def _markdown(rows, meta) -> str:
    out = [f"# Low-precision SGLD / SGHMC (preset {meta['preset']}, seed {meta['seed']})", ""]
    a = [r for r in rows if r["part"] == "a"]
    etas = sorted({r["eta"] for r in a}, reverse=True)
    out += ["## (a) SGLD on N(0,1), Q(8,3), σ_g = 0.1 — W2 (density L2)", ""]
    body = []
    for var in VARIANTS:
        for src in _sources_for(var):
            cells = []
            for eta in etas:
                r = [r for r in a if r["variant"] == var and r["source"] == src and r["eta"] == eta][0]
                cells.append(f"{_f(r['w2'])} ({_f(r['l2'])})")
            body.append([LABEL[var], src if var != "fp" else "—"] + cells)
    out += [markdown_table(["variant", "bits"] + [f"η = {e:g}" for e in etas], body), ""]
    b = [r for r in rows if r["part"] == "b"]
    out += ["## (b) Q(8,4), σ_g = 0.1, γ = 2 — W2 of SGLD vs SGHMC", ""]
    body = []
    for tname in ("N(0,1)", "mixture"):
        for eta, u in sorted({(r["eta"], r["u"]) for r in b if r["sampler"] == "SGHMC"}):
            for src in SOURCES:
                cells = []
                for var in VARIANTS:
                    s = src if var != "fp" else "ideal"
                    gl = [r for r in b if r["target"] == tname and r["sampler"] == "SGLD" and r["eta"] == eta
                          and r["variant"] == var and r["source"] == s]
                    hm = [r for r in b if r["target"] == tname and r["sampler"] == "SGHMC" and r["eta"] == eta
                          and r["u"] == u and r["variant"] == var and r["source"] == s]
                    cells.append(f"{_f(gl[0]['w2']) if gl else '—'} / {_f(hm[0]['w2'])}")
                body.append([tname, f"{eta:g}", f"{u:g}", src] + cells)
    out += [markdown_table(["target", "η", "SGHMC u", "bits"] + [f"{LABEL[v]}: SGLD / SGHMC" for v in VARIANTS],
                           body), ""]
    c = [r for r in rows if r["part"] == "c"]
    out += ["## (c) digits softmax regression, η = 0.5 — test error / NLL of the posterior predictive", ""]
    body = []
    for alg in ("SGLD", "SGHMC"):
        for var in VARIANTS:
            for src in _sources_for(var):
                cells = []
                for fmt in ("Q(6,4)", "Q(4,2)"):
                    r = [r for r in c if r["sampler"] == alg and r["variant"] == var and r["source"] == src
                         and (r["fmt"] == fmt or var == "fp")]
                    cells.append(f"{r[0]['err']:.3f} / {r[0]['nll']:.3f}" if r else "—")
                body.append([alg, LABEL[var], src if var != "fp" else "—"] + cells)
    out += [markdown_table(["sampler", "variant", "bits", "Q(6,4) = Q2.4", "Q(4,2) = Q2.2"], body), ""]
    return "\n".join(out)



def run(out, quick=False, seed=0, progress=True, copy_figures_to=None, preset=None) -> dict:
    """Run (a), (b), (c) with both bit sources; write ``samplers.csv``, ``samplers.md`` and
    three PNGs into ``out``; return {"rows", "markdown", "files", "seconds"}.

    >>> import tempfile
    >>> p = dict(a_etas=(2e-3,), a_chains=4, a_T=0.4, a_burn=0.2, b_etas=(0.25,), b_chains=4,
    ...          b_steps=40, c_steps=4, c_chains=2)
    >>> res = run(tempfile.mkdtemp(), progress=False, preset=p)   # doctest: +SKIP
    >>> len(res["rows"])                                            # doctest: +SKIP
    75
    """
    p = preset or PRESETS["quick" if quick else "full"]
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    pbar = make_progress(_n_jobs(p), "sampler-study", progress)

    def bar(text):
        pbar.update(1, text)

    ra, hist = _part_a(p, seed, bar)
    rb = _part_b(p, seed, bar)
    rc = _part_c(p, seed, bar)
    pbar.close()
    rows = ra + rb + rc
    files = {"csv": os.path.join(out, "samplers.csv"), "md": os.path.join(out, "samplers.md")}
    write_csv(rows, files["csv"], COLUMNS, float_format="{:.6g}")
    files["samplers_sgld_png"] = _plot_a(ra, hist, os.path.join(out, "samplers_sgld.png"))
    files["samplers_sghmc_png"] = _plot_b(rb, os.path.join(out, "samplers_sghmc.png"))
    files["samplers_digits_png"] = _plot_c(rc, os.path.join(out, "samplers_digits.png"))
    seconds = time.perf_counter() - t0
    md = _markdown(rows, {"preset": "quick" if quick else ("custom" if preset else "full"), "seed": seed})
    md += f"\nRun time {seconds:.1f} s.\n"
    return finish(md, files, seconds, rows, copy_figures_to)


def add_cli(sub):
    """Register ``fxsim sampler-study``.

    >>> import argparse
    >>> sub = argparse.ArgumentParser().add_subparsers()
    >>> add_cli(sub).get_default("quick")
    False
    """
    return add_study_parser(
        sub, "sampler-study", run, help="study: low-precision SGLD and SGHMC (LP-F, LP-L, VC), ideal vs LFSR bits",
        description="Reproduces Zhang et al. (ICML 2022) and Wang et al. (TMLR): (a) SGLD on N(0,1) in "
                    "Q(8,3) at small steps, (b) SGHMC vs SGLD in Q(8,4) on a Gaussian and a mixture, "
                    "(c) Bayesian softmax regression on digits in Q2.4 and Q2.2; each with ideal bits "
                    "and a 16-bit LFSR. Writes OUT/samplers.csv, OUT/samplers.md and three PNGs.",
        out="results/samplers", quick_help="fewer steps and chains (~15 s)",
        seed_help="root seed of every run")

