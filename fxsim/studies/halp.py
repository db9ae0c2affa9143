"""HALP vs low-precision SGD/SVRG (``fxsim halp-study``): De Sa et al. 2018, "High-Accuracy
Low-Precision Training", reproduced on fxsim's datapath.

Problems (``PROBLEMS``): synthetic linear regression (100 samples × 5 features, seed 0,
μ = λ_min(XᵀX/n) ≈ 0.71, per-sample L ≈ 17.6; single-sample steps, α = 0.02, T = 100) and
multinomial logistic regression on scikit-learn's digits (1797 × 64, pooled standardisation,
λ = 0.05 so μ = 0.05; minibatches of 16 samples to keep the Python loop short, α = 0.2,
T = 112 = one pass).  For b = 8 and 16 bits each runs LP-SGD, LP-SVRG (b-bit weights
``weight_format(b, w_range)``), full-precision SVRG (float64; the same for both b) and HALP
with the power-of-two and the exact scale, all from w0 = 0 with the same minibatch indices and
SR bits from PCG64 (r = 32).  HALP's μ: the data's on linear regression; on digits the paper's
μ is a tuning parameter and μ = 4λ = 0.2 is used (a finer grid: z's range ‖g̃‖/μ is still above
‖w̃ − w*‖, no cast saturates); the run with the theory's μ = λ is shown too.  On linear regression HALP also runs with the paper's
low-precision inner loop (``inner="datapath"``: the gradient difference x_i x_iᵀ z from the
b-bit words of z and of the data, by exact integer MACs).

Per run the table gives (``summarize``): the plateau (median of ‖w − w*‖ over the last quarter
of the epochs), the per-epoch linear rate ρ (10^slope of a least-squares fit of log10 ‖w − w*‖
over epochs 1..k_end, k_end the first epoch within 10× of the plateau; "—" if that is fewer
than 3 epochs), the final ‖w − w*‖ and f − f*, and for HALP the ratio of its final error to
LP-SVRG's plateau at the same b.
"""
from __future__ import annotations

import csv
import math
import os
import time

import numpy as np

from ..optim.halp import HALP
from ..optim.svrg import LPSGD, LPSVRG, SVRG
from ._report import (add_study_parser, arg_type, figure, finish, fmt_number, make_progress, markdown_table,
                      print_study, verdict, verdict_lines, write_csv)

__all__ = ["BITS", "R_BITS", "PROBLEMS", "build_problem", "fit_rate", "summarize", "run_one",
           "verdicts", "run", "add_cli"]

BITS = (8, 16)
R_BITS = 32

PROBLEMS = {
    "linreg": dict(label="linear regression (synthetic, 100 × 5)", alpha=0.02, batch=1,
                   epochs=30, quick_epochs=20, halp_mu=None),
    "digits": dict(label="softmax regression (digits, 1797 × 64, λ = 0.05)", alpha=0.2,
                   batch=16, epochs=36, quick_epochs=8, halp_mu=0.2),
}

# method key -> (label, colour, line style)
STYLE = {
    "LP-SGD": ("LP-SGD", "0.55", "-"),
    "LP-SVRG": ("LP-SVRG", "tab:red", "-"),
    "SVRG": ("SVRG (float64)", "black", "--"),
    "HALP-pow2": ("HALP, power-of-two scale", "tab:blue", "-"),
    "HALP-exact": ("HALP, exact scale", "tab:cyan", ":"),
    "HALP-pow2-mu=lambda": ("HALP, power-of-two scale, μ = λ", "tab:purple", "-."),
    "HALP-pow2-int": ("HALP, power-of-two scale, integer inner loop (b-bit data)",
                      "tab:green", (0, (5, 2))),
}

COLUMNS = ["problem", "b", "method", "grid", "mu", "plateau", "rate_per_epoch", "fit_epochs",
           "final_err", "final_gap", "halp_final_over_lpsvrg_plateau", "saturated", "seconds"]


def build_problem(key):
    """The problem object of ``PROBLEMS[key]``.

    >>> build_problem("linreg").dim
    5
    """
    from ..models.finite_sum import LinearRegression, SoftmaxRegression
    if key == "linreg":
        return LinearRegression(n=100, d=5, seed=0)
    if key == "digits":
        return SoftmaxRegression(l2=0.05)
    raise ValueError(f"problem: must be one of {', '.join(PROBLEMS)}, got {key!r}")


def fit_rate(err, plateau):
    """(ρ, k_end): ρ = 10^slope of the least-squares line through log10 err_k, k = 1..k_end,
    k_end the first epoch with err ≤ 10·plateau (or the last one); ρ NaN below 3 points.

    >>> rho, k = fit_rate(np.array([1.0, 0.5, 0.25, 0.125, 0.0625, 1e-9, 1e-9]), 1e-9)
    >>> round(rho, 6), k
    (0.5, 4)
    """
    err = np.asarray(err, dtype=np.float64)
    below = np.flatnonzero(err[1:] <= 10 * plateau)
    k_end = int(below[0]) + 1 if below.size else len(err) - 1
    # the first epoch within 10x of the plateau is part of the phase only if it is still
    # on the line; a drop onto the float64 floor is not
    if below.size:
        k_end -= 1
    k = np.arange(1, k_end + 1)
    if k.size < 3 or np.any(err[k] <= 0):
        return float("nan"), k_end
    slope = np.polyfit(k, np.log10(err[k]), 1)[0]
    return float(10.0 ** slope), k_end


def summarize(trace):
    """Plateau, fitted rate and final values of one ``Trace`` (see module doc).

    >>> from fxsim.optim.svrg import Trace
    >>> e = np.array([1.0, 0.1, 0.01, 0.001, 1e-4, 2e-5, 1e-5, 1e-5, 1e-5])
    >>> s = summarize(Trace("x", e, e, np.zeros(9, int), np.zeros(9)))
    >>> fmt_number(s["plateau"]), round(s["rate_per_epoch"], 3), s["fit_epochs"]
    ('1.00e-05', 0.1, 3)
    """
    err = trace.err
    tail = max(3, len(err) // 4)
    plateau = float(np.median(err[-tail:]))
    rho, k_end = fit_rate(err, plateau)
    return {"plateau": plateau, "rate_per_epoch": rho, "fit_epochs": k_end,
            "final_err": float(err[-1]), "final_gap": float(trace.gap[-1]),
            "saturated": int(trace.overflowed.sum())}


def _methods(key, b):
    cfg = PROBLEMS[key]
    out = ["LP-SGD", "LP-SVRG", "SVRG", "HALP-pow2", "HALP-exact"]
    if cfg["halp_mu"] is not None and b == 8:
        out.append("HALP-pow2-mu=lambda")
    if key == "linreg":
        out.append("HALP-pow2-int")
    return out


def run_one(problem, key, method, b, epochs, seed, source="ideal"):
    """One run of ``method`` (a ``STYLE`` key) on problem ``key`` at b bits; returns
    (Trace, grid description, μ used or None).

    >>> tr, grid, mu = run_one(build_problem("linreg"), "linreg", "HALP-exact", 8, 2, 0)
    >>> grid, round(mu, 3), len(tr.err)
    ('8-bit z, exact scale', 0.708, 3)
    """
    cfg = PROBLEMS[key]
    kw = dict(batch=cfg["batch"], seed=seed)
    a = cfg["alpha"]
    if method == "SVRG":
        return SVRG(problem, a, **kw).run(epochs), "float64", None
    kw["source"] = source
    if method in ("LP-SGD", "LP-SVRG"):
        cls = LPSGD if method == "LP-SGD" else LPSVRG
        m = cls(problem, a, b, r=R_BITS, **kw)
        return m.run(epochs), str(m.fmt), None
    mu = problem.mu if (cfg["halp_mu"] is None or method.endswith("lambda")) else cfg["halp_mu"]
    scale = "exact" if method == "HALP-exact" else "pow2"
    inner = "datapath" if method.endswith("-int") else "float64"
    m = HALP(problem, a, b, mu, scale=scale, inner=inner, r=R_BITS, **kw)
    grid = f"{b}-bit z, {scale} scale" + (f", data {problem.data_format(b)}"
                                          if inner == "datapath" else "")
    return m.run(epochs), grid, mu



def plot(traces, rows, keys, path):
    """‖w − w*‖ vs epoch, one panel per (problem, b)."""
    fig = figure(12.4, 4.2 * len(keys) + 0.7)
    axs = fig.subplots(len(keys), len(BITS), squeeze=False)
    for i, key in enumerate(keys):
        for j, b in enumerate(BITS):
            ax = axs[i, j]
            lp = next(r for r in rows if r["problem"] == key and r["b"] == b
                      and r["method"] == "LP-SVRG")
            for method in _methods(key, b):
                tr = traces[(key, method, b if method != "SVRG" else 0)]
                lab, col, ls = STYLE[method]
                ax.plot(np.arange(len(tr.err)), tr.err, color=col, ls=ls, lw=1.6, label=lab)
            pl = lp["plateau"]
            ax.axhline(pl, color="tab:red", lw=0.8, ls=":")
            ax.axhline(pl * 1e-4, color="tab:red", lw=0.8, ls=(0, (1, 4)))
            x_txt = 0.55 * (len(tr.err) - 1)
            ax.text(x_txt, pl * 0.5, f"LP-SVRG plateau {pl:.1e}", color="tab:red", fontsize=8,
                    va="top")
            ax.text(x_txt, pl * 0.5e-4, "10⁻⁴ × plateau", color="tab:red", fontsize=8, va="top")
            ax.set_yscale("log")
            ax.set_xlabel("epoch (one full gradient + T inner steps; LP-SGD: T steps)")
            ax.set_ylabel("‖w − w*‖₂ (log scale)")
            ax.set_title(f"{PROBLEMS[key]['label']}, b = {b} bits", fontsize=10)
            ax.grid(alpha=0.3, which="both")
    for i in range(len(keys)):                      # left column: every method of the row
        axs[i, 0].legend(fontsize=8, loc="lower left")
    ratios = [r["halp_final_over_lpsvrg_plateau"] for r in rows
              if r.get("halp_final_over_lpsvrg_plateau") is not None]
    ratio = (f"; HALP's final error / LP-SVRG's plateau: {min(ratios):.1e} to {max(ratios):.1e}"
             if ratios else "")
    fig.suptitle("LP-SGD, LP-SVRG, float64 SVRG and HALP (b-bit offset re-centred every epoch)"
                 + ratio + "\n(SR with 32-bit PCG64 draws, seed-fixed minibatches)", fontsize=11)
    fig.savefig(path, dpi=100)
    return path


def _decades(rate):
    return -math.log10(rate) if rate == rate and 0 < rate < 1 else 0.0


def verdicts(rows, quick=False) -> list:
    """One ``verdict`` per claim of the write-up, per problem and b (``rows``: the study's
    rows).  The "far below the plateau" claim needs the full run's epochs: ``quick`` leaves it
    not decided.

    >>> r = lambda m, **k: dict(problem="p", b=8, key=m, lsb=2.0**-4, dim=4, **k)
    >>> rows = [r("LP-SVRG", plateau=0.1, rate_per_epoch=0.9, final_err=0.1, saturated=0),
    ...         r("SVRG", plateau=1e-15, rate_per_epoch=0.25, final_err=1e-15, saturated=0),
    ...         r("HALP-pow2", plateau=1e-15, rate_per_epoch=0.27, final_err=1e-15, saturated=0)]
    >>> [v["held"] for v in verdicts(rows)]
    [True, True, True, True]
    """
    out = []
    for key, b in dict.fromkeys((r["problem"], r["b"]) for r in rows):
        blk = {r["key"]: r for r in rows if (r["problem"], r["b"]) == (key, b)}
        if "SVRG" not in blk:
            blk["SVRG"] = next(r for r in rows if r["problem"] == key and r["key"] == "SVRG")
        lp, sv, h = blk["LP-SVRG"], blk["SVRG"], blk["HALP-pow2"]
        where = f"{key}, b = {b}"
        rms = lp["plateau"] / math.sqrt(lp["dim"]) / lp["lsb"]
        out.append(verdict(f"{where}: LP-SVRG stalls on its grid (plateau ≥ ½ LSB RMS per "
                           f"weight)", rms >= 0.5, f"plateau {lp['plateau']:.2g} = {rms:.2f} "
                           f"LSB RMS"))
        dh, ds = _decades(h["rate_per_epoch"]), _decades(sv["rate_per_epoch"])
        out.append(verdict(f"{where}: HALP (power-of-two scale) keeps float64 SVRG's linear "
                           f"rate (within 1.5× in decades per epoch)",
                           ds > 0 and dh >= ds / 1.5,
                           f"rate {h['rate_per_epoch']:.3f} vs {sv['rate_per_epoch']:.3f}"))
        ratio = h["final_err"] / lp["plateau"]
        out.append(verdict(f"{where}: HALP ends ≥ 10⁴ below LP-SVRG's plateau",
                           None if quick else ratio <= 1e-4,
                           f"ratio {ratio:.1e}" + (" (--quick: too few epochs to decide)"
                                                   if quick else "")))
        sat = sum(blk[k]["saturated"] for k in ("HALP-pow2", "HALP-exact") if k in blk)
        out.append(verdict(f"{where}: no cast of HALP's offset z saturates (μ as chosen)",
                           sat == 0, f"{sat} saturated casts"))
        if "HALP-pow2-int" in blk:
            di = _decades(blk["HALP-pow2-int"]["rate_per_epoch"])
            out.append(verdict(f"{where}: the integer inner loop (b-bit data, exact MACs) "
                               f"converges like float64 SVRG (within 1.5×)",
                               ds > 0 and di >= ds / 1.5,
                               f"rate {blk['HALP-pow2-int']['rate_per_epoch']:.3f}"))
    return out


def markdown(rows, meta) -> str:
    head = ["problem", "b", "method", "grid", "plateau ‖w−w*‖", "rate / epoch (fit epochs)",
            "final ‖w−w*‖", "final f−f*", "HALP final / LP-SVRG plateau", "saturated casts"]
    body = []
    for r in rows:
        rate = r["rate_per_epoch"]
        rate = "—" if rate != rate else f"{rate:.3f} (1..{r['fit_epochs']})"
        ratio = r.get("halp_final_over_lpsvrg_plateau")
        mu = "" if r["mu"] is None else f", μ = {r['mu']:.3g}"
        body.append([r["problem"], r["b"], r["method"], r["grid"] + mu, fmt_number(r["plateau"]),
                     rate, fmt_number(r["final_err"]), fmt_number(r["final_gap"]),
                     fmt_number(ratio), r["saturated"]])
    txt = (f"# HALP study ({meta['preset']}, seed {meta['seed']}, r = {R_BITS}, "
           f"{meta['seconds']:.1f} s)\n\n" + markdown_table(head, body) + "\n")
    return txt


def run(out_dir, quick=False, seed=0, progress=True, copy_figures_to=None, problems=None,
        epochs=None, source="ideal") -> dict:
    """Run the study; write ``halp_study.md``/``.csv`` (one row per run),
    ``halp_study_runs.csv`` (per-epoch errors) and ``halp_convergence.png`` into ``out_dir``;
    ``copy_figures_to`` gets web-size copies.  ``problems`` (subset of ``PROBLEMS``) and
    ``epochs`` ({key: n}) shrink the run for tests; ``source``: the SR bit source of every
    low-precision run ("ideal" = PCG64, "lfsr" = a 32-bit LFSR, or any ``make_source`` spec).  Returns the ``StudyResult`` (``rows``,
    ``markdown``, ``files``, ``seconds``, ``verdicts``: one per claim).  Python entry point:

    >>> res = run("results/halp_study", quick=True, progress=False)  # doctest: +SKIP
    >>> print(verdict_lines(res.verdicts))                            # doctest: +SKIP
    """
    keys = list(PROBLEMS) if problems is None else list(problems)
    for k in keys:
        if k not in PROBLEMS:
            raise ValueError(f"problems: each must be one of {', '.join(PROBLEMS)}, got {k!r}")
    n_ep = {k: PROBLEMS[k]["quick_epochs" if quick else "epochs"] for k in keys}
    n_ep.update(epochs or {})
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    jobs = [(k, "SVRG", 0) for k in keys] + [(k, m, b) for k in keys for b in BITS
                                            for m in _methods(k, b) if m != "SVRG"]
    bar = make_progress(len(jobs), "halp-study", progress)
    probs = {k: build_problem(k) for k in keys}
    traces, meta_run = {}, {}
    for key, method, b in jobs:
        t1 = time.perf_counter()
        tr, grid, mu = run_one(probs[key], key, method, b, n_ep[key], seed, source)
        traces[(key, method, b)] = tr
        meta_run[(key, method, b)] = (grid, mu, time.perf_counter() - t1)
        bar.update(1, f"{key}: float64 SVRG" if method == "SVRG" else f"{key}: {method}, {b}-bit words")
    bar.close()
    rows = []
    for key in keys:
        for b in BITS:
            block = []
            for method in _methods(key, b):
                kb = (key, method, b if method != "SVRG" else 0)
                grid, mu, sec = meta_run[kb]
                r = {"problem": key, "b": b, "method": STYLE[method][0], "key": method,
                     "grid": grid, "mu": mu, "seconds": round(sec, 3),
                     "lsb": float(traces[kb].lsb), "dim": probs[key].dim}
                r.update(summarize(traces[kb]))
                block.append(r)
            lp = next(r for r in block if r["key"] == "LP-SVRG")["plateau"]
            for r in block:
                r["halp_final_over_lpsvrg_plateau"] = (r["final_err"] / lp
                                                       if r["key"].startswith("HALP") else None)
            rows.extend(block)
    files = {"csv": os.path.join(out_dir, "halp_study.csv"),
             "runs_csv": os.path.join(out_dir, "halp_study_runs.csv"),
             "md": os.path.join(out_dir, "halp_study.md")}
    write_csv(rows, files["csv"], COLUMNS)
    with open(files["runs_csv"], "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["problem", "b", "method", "epoch", "err", "gap", "scale"])
        for (key, method, b), tr in traces.items():
            for k in range(len(tr.err)):
                w.writerow([key, b if b else "", method, k, repr(float(tr.err[k])),
                            repr(float(tr.gap[k])), repr(float(tr.scale[k]))])
    files["convergence_png"] = plot(traces, rows, keys,
                                    os.path.join(out_dir, "halp_convergence.png"))
    total = time.perf_counter() - t0
    md = markdown(rows, {"preset": "quick" if quick else "full", "seed": seed, "seconds": total})
    vs = verdicts(rows, quick)
    md = md.replace("\n\n", "\n\n" + ("**--quick: fewer epochs; the figures are noisy.**\n\n"
                                       if quick else "") + "## Verdict\n\n```\n"
                    + verdict_lines(vs) + "\n```\n\n", 1)
    return finish(md, files, total, rows, copy_figures_to, verdicts=vs)


def add_cli(sub):
    """Register ``fxsim halp-study`` on the argparse sub-parsers ``sub``.

    >>> import argparse
    >>> sub = argparse.ArgumentParser().add_subparsers()
    >>> p = add_cli(sub)
    >>> p.parse_args(["--quick"]).quick
    True
    """
    p = add_study_parser(
        sub, "halp-study", run,
        help="study: HALP (bit centering) vs LP-SGD, LP-SVRG and float64 SVRG",
        description="LP-SGD, LP-SVRG, float64 SVRG and HALP (power-of-two and exact scale) on "
                    "synthetic linear regression and softmax regression on digits, b = 8 and 16 "
                    "bits, on the emulated datapath. Writes OUT/halp_study.md, OUT/halp_study.csv, "
                    "OUT/halp_study_runs.csv and OUT/halp_convergence.png.",
        out="results/halp_study", quick_help="fewer epochs (~10 s)",
        seed_help="seed of indices and SR bits", jobs=False)
    p.add_argument("--source", type=arg_type(_source), default="ideal",
                   help="SR bit source: ideal (PCG64), lfsr (32-bit LFSR) or any fxsim.make_source "
                        "spec (philox, lfsr:16:fibonacci...) (default ideal)")
    p.add_argument("--problems", type=arg_type(_problems), default=None,
                   help=f"comma-separated problems (default all: {','.join(PROBLEMS)})")
    p.set_defaults(run=_cmd)
    return p


def _source(text):
    from ..optim.svrg import sr_source
    sr_source(text, np.random.SeedSequence(0))
    return text


def _problems(text):
    keys = [t.strip() for t in text.split(",") if t.strip()]
    for k in keys:
        build_problem(k)
    if not keys:
        raise ValueError("problems: give at least one")
    return keys


def _cmd(args) -> int:
    return print_study(run(args.out, quick=args.quick, seed=args.seed, progress=args.progress,
                           copy_figures_to=args.copy_figures, problems=args.problems,
                           source=args.source))
