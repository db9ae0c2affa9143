"""LFSR vs ideal randomness for stochastic rounding (``fxsim compare-rng``).

Four measurements, each a function returning tidy rows (a list of dicts with the keys
``COLUMNS``), all rounding done by fxsim (``fxsim.cast`` / ``fxsim.add`` with
``rounding="stochastic"`` and ``source=`` an ``fxsim.LFSR`` or ``fxsim.Ideal``):

(a) ``sr_bias``: the SR bias E[cast(x)] - x in LSB for r = 2..16 random bits, measured over
    many casts of a fixed set of inputs, against the exact value of spec §2 (rule ``trunc``:
    P(up) = D / 2**r, D = the top r discarded bits), and ``sr_bias_sawtooth``: the same bias as
    a function of the discarded fraction phi at one r.
(b) ``error_acf``: lag-1..16 autocorrelation of the rounding errors of a stream of casts.
(c) ``accumulation``: 10**6 small increments summed in a narrow accumulator
    (acc <- cast(acc + inc)): nearest_even vs SR with ideal and LFSR bits, for i.i.d.
    increments and for periodic ones (period 15 shares factors with 2**8 - 1 and 2**16 - 1;
    period 16 does not).
(d) ``lanes``: L rounding units fed from one register (round-robin draws, or slices of one
    wide register's state) vs ``LFSR(lanes=L)`` vs L independent registers vs ideal bits:
    variance and lag-1 correlation of the summed rounding error.

The package: ``measure`` (sources, inputs, the measurements), ``report`` (CSV and markdown),
``figures`` (one PNG per measurement); every public name of the three is importable from here.
``run(out_dir, quick=False, seed=0, progress=True)`` runs all four and writes
``compare_rng.csv``, ``compare_rng.md`` and one PNG per measurement.  Every number depends only
on ``seed`` (sources and inputs are seeded through ``numpy.random.SeedSequence``; fxsim's
results do not depend on the thread count), so two runs with one seed give identical rows.
"""
from __future__ import annotations

import os
import time

import fxsim

from .._report import add_study_parser, finish, print_study, verdict_lines
from .figures import FIGURES, plot_acf, plot_accumulation, plot_bias, plot_lanes
from .measure import *  # noqa: F401,F403  (the measurements' public names, as before the split)
from .measure import (PRESETS, accumulation, error_acf, lanes, sr_bias, sr_bias_sawtooth)
from .measure import __all__ as _measure_all
from .report import markdown, write_csv
from .floats import run_floats
from .vendor import VENDOR_FIGURE, plot_vendor, vendor_markdown, vendor_rows
from .verdicts import study_verdicts

__all__ = _measure_all + ["FIGURES", "plot_bias", "plot_acf", "plot_accumulation", "plot_lanes",
                          "write_csv", "markdown", "run", "add_cli", "vendor_rows", "vendor_markdown",
                          "plot_vendor", "VENDOR_FIGURE", "run_floats", "study_verdicts"]


def run(out_dir, quick=False, seed=0, progress=True, copy_figures_to=None, vendor=False) -> dict:
    """Run (a)-(d), write ``compare_rng.csv``, ``compare_rng.md`` and the four PNGs into
    ``out_dir`` (and web-sized copies of the PNGs into ``copy_figures_to``, if given); return
    {"rows", "markdown", "files", "seconds", "timings", "verdicts", "quick"} (``verdicts``: one
    line per claim of the README, ``verdicts.study_verdicts``).  ``vendor=True`` adds (e), the
    accelerators' generators (``vendor.py``): its rows, a markdown section and
    ``compare_rng_vendor.png``.

    Takes about 20 s even with ``quick=True``, so the example is skipped by doctest:

    >>> res = run("results/compare_rng", quick=True)     # doctest: +SKIP
    >>> sorted(res["files"])                              # doctest: +SKIP
    ['accumulation_png', 'acf_png', 'bias_png', 'csv', 'lanes_png', 'md']
    """
    p = PRESETS["quick" if quick else "full"]
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    rows, secs = [], {}

    def timed(name, fn, **kw):
        t = time.perf_counter()
        out = fn(seed=seed, progress=progress, **kw)
        secs[name] = time.perf_counter() - t
        rows.extend(out)

    timed("bias_vs_phi", sr_bias_sawtooth, n_points=p["saw_points"], casts_per_point=p["saw_casts"])
    timed("bias", sr_bias, n_casts=p["bias_casts"], n_phi=p["bias_phis"])
    timed("acf", error_acf, n_casts=p["acf_casts"])
    timed("accumulation", accumulation, steps=p["acc_steps"], trials=p["acc_trials"],
          check_steps=p["acc_check"])
    timed("lanes", lanes, steps=p["lane_steps"], block=p["lane_block"])
    if vendor:
        t = time.perf_counter()
        rows.extend(vendor_rows(quick=quick, seed=seed))
        secs["vendor"] = time.perf_counter() - t
    files = {"csv": os.path.join(out_dir, "compare_rng.csv"),
             "md": os.path.join(out_dir, "compare_rng.md")}
    write_csv(rows, files["csv"])
    files["bias_png"] = plot_bias(rows, os.path.join(out_dir, FIGURES["bias"]))
    files["acf_png"] = plot_acf(rows, os.path.join(out_dir, FIGURES["acf"]))
    files["accumulation_png"] = plot_accumulation(rows, os.path.join(out_dir, FIGURES["accumulation"]))
    files["lanes_png"] = plot_lanes(rows, os.path.join(out_dir, FIGURES["lanes"]))
    total = time.perf_counter() - t0
    meta = {"preset": "quick" if quick else "full", "seed": seed,
            "bias_casts": f"{p['bias_casts']:,}", "acf_casts": f"{p['acf_casts']:,}",
            "fxsim": fxsim.__version__}
    verdicts = study_verdicts(rows, seed=seed)
    md = markdown(rows, meta)
    md += "\n## Verdicts\n\n```\n" + verdict_lines(verdicts) + "\n```\n"
    figs = ["bias_png", "acf_png", "accumulation_png", "lanes_png"]
    if vendor:
        files["vendor_png"] = plot_vendor(rows, os.path.join(out_dir, VENDOR_FIGURE))
        md += "\n" + vendor_markdown(rows)
        figs.append("vendor_png")
    md += ("\nFigures: " + ", ".join(f"`{os.path.basename(files[k])}`" for k in figs) + "\n")
    return finish(md, files, total, rows, copy_figures_to, timings=secs, verdicts=verdicts,
                  quick=quick)


def add_cli(sub):
    """Register ``fxsim compare-rng`` on the argparse sub-parsers ``sub`` (the study takes about
    20 s with ``--quick``).

    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="fxsim").add_subparsers(dest="cmd")
    >>> a = add_cli(sub).parse_args(["--quick"]); a.quick, a.out
    (True, 'results/compare_rng')
    """
    p = add_study_parser(
        sub, "compare-rng", run, help="study: LFSR vs ideal random bits for stochastic rounding",
        description="Measure SR bias against spec section 2, the autocorrelation of rounding "
                    "errors, a 10^6-step accumulation and L parallel rounding units, for LFSR "
                    "(n = 8, 16, 32; galois/fibonacci; serial/state; 1 and 8 lanes) and ideal "
                    "PCG64 bits. Writes OUT/compare_rng.csv, OUT/compare_rng.md and four PNGs.",
        out="results/compare_rng", quick_help="smaller samples (under a minute)",
        seed_help="seed of every source and input", jobs=False)
    p.add_argument("--vendor", action="store_true",
                   help="add (e): the accelerators' SR generators (AMD, Tenstorrent, cuRAND, "
                        "Graphcore, xoroshiro128+) vs ideal bits (about 1 min more with --quick)")

    p.add_argument("--floats", action="store_true",
                   help="run the float part instead (floats.py): r-bit SR bias into bf16/e4m3, "
                        "10^6 increments summed in bf16, e4m3 dot products in bf16/fp32 "
                        "accumulators; writes OUT/compare_rng_floats.*")

    def cmd(args) -> int:
        if args.floats:
            return print_study(run_floats(args.out, quick=args.quick, seed=args.seed,
                                          progress=args.progress, copy_figures_to=args.copy_figures),
                               quick=args.quick)
        return print_study(run(args.out, quick=args.quick, seed=args.seed, progress=args.progress,
                               copy_figures_to=args.copy_figures, vendor=args.vendor), quick=args.quick)
    p.set_defaults(run=cmd)
    return p
