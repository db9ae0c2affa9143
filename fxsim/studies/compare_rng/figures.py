"""The figures of the study "LFSR vs ideal randomness", one per measurement, drawn from the rows
on their own canvas (``fxsim.studies._report.figure``: the process's matplotlib backend is left
alone).  Titles say what is plotted and the numbers read from the rows; the conclusions are in
``docs/studies/compare_rng.md``."""
from __future__ import annotations

import math

import numpy as np

from .._report import figure
from .measure import ACC, ARRANGEMENTS, INC_MEAN, STREAMS, select

__all__ = ["FIGURES", "plot_bias", "plot_acf", "plot_accumulation", "plot_lanes"]

FIGURES = {"bias": "compare_rng_bias.png", "acf": "compare_rng_acf.png",
           "accumulation": "compare_rng_accumulation.png", "lanes": "compare_rng_lanes.png"}

def _save(fig, path, dpi=100):
    fig.savefig(path, dpi=dpi)
    return path


_MARK = {"ideal": ("k", "o"), 8: ("tab:red", "s"), 16: ("tab:blue", "^"), 32: ("tab:green", "D"),
         64: ("tab:purple", "v")}


def _style(row):
    if row.get("n") is None:
        return dict(color="k", marker="o")
    c, m = _MARK.get(row["n"], ("tab:gray", "x"))
    return dict(color=c, marker=m, mfc="none" if row.get("rule") == "state" else c)


def _worst_z(rows, per=3) -> str:
    """"source z" for each source of ``rows``: the largest |value − predicted| / stderr, ``per``
    sources a line."""
    out = []
    for src in dict.fromkeys(r["source"] for r in rows):
        z = max((abs(r["value"] - r["predicted"]) / r["stderr"] for r in select(rows, source=src)
                 if r["stderr"]), default=0.0)
        out.append(f"{src} {z:.1f}")
    return ",\n".join(", ".join(out[i:i + per]) for i in range(0, len(out), per))


def _wrap(text, width) -> str:
    """``text`` broken at "; " or ", " into lines of about ``width`` characters."""
    import textwrap
    return "\n".join(textwrap.wrap(text, width, break_long_words=False))


def _heatmap(ax, fig, mat, rows_lab, cols_lab, vlim, cbar_label, annotate_abs, fmt):
    import matplotlib as mpl
    cmap = mpl.colormaps["RdBu_r"].with_extremes(bad="0.85")
    im = ax.imshow(np.ma.masked_invalid(mat), cmap=cmap, vmin=-vlim, vmax=vlim, aspect="auto",
                   interpolation="nearest")
    ax.set_yticks(range(len(rows_lab)), rows_lab, fontsize=7.5)
    ax.set_xticks(range(len(cols_lab)), cols_lab)
    for i in range(mat.shape[0]):
        for j in range(mat.shape[1]):
            v = mat[i, j]
            if np.isnan(v):
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=6, color="0.45")
            elif abs(v) >= annotate_abs:
                ax.text(j, i, fmt(v), ha="center", va="center", fontsize=6,
                        color="w" if abs(v) > 0.6 * vlim else "k")
    cb = fig.colorbar(im, ax=ax, shrink=0.9, extend="both")
    cb.set_label(cbar_label)


def plot_bias(rows, path):
    """(a) The bias against §2: vs φ at one r, vs r, and z of every source and r; returns
    ``path``.

    >>> import os, tempfile
    >>> from fxsim.studies.compare_rng.measure import IDEAL, sr_bias, sr_bias_sawtooth
    >>> rows = sr_bias_sawtooth([IDEAL], n_points=4, casts_per_point=64)
    >>> rows += sr_bias([IDEAL], rs=[2, 4], n_casts=2**10, n_phi=16)
    >>> os.path.getsize(plot_bias(rows, os.path.join(tempfile.mkdtemp(), "b.png"))) > 0
    True
    """
    bias, saw = select(rows, study="bias"), select(rows, study="bias_vs_phi")
    fig = figure(13, 11.5)
    gs = fig.add_gridspec(2, 2, height_ratios=[1, 1.45])
    ax1, ax2, ax3 = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1]), fig.add_subplot(gs[1, :])
    if saw:
        r = saw[0]["r"]
        grid = np.linspace(0, 1, 4001)[:-1]
        ax1.plot(grid, np.floor(grid * 2**r) / 2**r - grid, color="0.6", lw=1.5,
                 label=f"§2 exact: D/2^{r} − φ")
        for src in dict.fromkeys(s["source"] for s in saw):
            pts = select(saw, source=src)
            st = _style(pts[0])
            ax1.errorbar([p["x"] for p in pts], [p["value"] for p in pts],
                         yerr=[2 * p["stderr"] for p in pts], ls="none", ms=4, label=src, **st)
        ax1.set_xlabel("discarded fraction φ (LSB)")
        ax1.set_ylabel("bias E[cast(x)] − x (LSB)")
        ax1.set_title(f"(a1) Bias vs the discarded fraction φ at r = {r}, against the §2 sawtooth "
                      f"D/2^{r} − φ\nlargest |measured − §2| / σ over φ: {_worst_z(saw)}\n"
                      f"({saw[0]['count']:,} casts per point; error bars ±2σ of ideal bits)", fontsize=10)
        ax1.legend(fontsize=8, loc="lower left")
        ax1.set_xlim(0, 1)
    if bias:
        rs = sorted({b["r"] for b in bias})
        pred = [select(bias, r=r)[0]["predicted"] for r in rs]
        se = np.array([select(bias, r=r)[0]["stderr"] for r in rs])
        ax2.plot(rs, pred, color="0.4", lw=2, label="§2 exact (mean over the inputs)")
        ax2.fill_between(rs, np.array(pred) - 2 * se, np.array(pred) + 2 * se, color="0.85",
                         label="±2σ sampling band of ideal bits")
        picks = ["ideal PCG64", "LFSR8 gal serial x1", "LFSR8 gal state x1", "LFSR8 fib state x8",
                 "LFSR16 gal serial x1", "LFSR32 gal serial x1"]
        for i, src in enumerate(picks):
            pts = select(bias, source=src)
            if not pts:
                continue
            st = _style(pts[0])
            off = (i - len(picks) / 2) * 0.06
            ax2.plot([p["r"] + off for p in pts], [p["value"] for p in pts], ls=":", ms=5,
                     label=src, **st)
        ax2.set_yscale("symlog", linthresh=float(10 ** math.floor(math.log10(2 * se.max()))))
        ax2.set_xlabel("random bits per draw r")
        ax2.set_ylabel("mean bias E[cast(x)] − x (LSB, symlog)")
        ax2.set_title(f"(a2) Mean bias vs r against §2 (r = {rs[0]}: {pred[0]:+.2g} LSB, r = {rs[-1]}: "
                      f"{pred[-1]:+.2g} LSB);\nlargest |z| per source: "
                      f"{_worst_z([b for b in bias if b['source'] in picks], per=2)}", fontsize=10)
        ax2.legend(fontsize=7.5, loc="upper left")
        ax2.grid(alpha=0.3)
        srcs = list(dict.fromkeys(b["source"] for b in bias))
        mat = np.full((len(srcs), len(rs)), np.nan)
        for b in bias:
            mat[srcs.index(b["source"]), rs.index(b["r"])] = b["z"]
        _heatmap(ax3, fig, mat, srcs, [str(r) for r in rs], 10,
                 "z = (measured − §2) / σ_ideal  (clipped at ±10)", 3,
                 lambda v: f"{v:.0f}" if abs(v) >= 10 else f"{v:.1f}")
        ax3.set_xlabel("random bits per draw r")
        ax3.set_title("(a3) Is each source's bias distinguishable from ideal bits? Numbers mark "
                      "|z| ≥ 3 (white cells: consistent with §2 within sampling noise; n/a: the "
                      "state rule needs r ≤ n)", fontsize=10)
    return _save(fig, path)


def plot_acf(rows, path):
    """(b) The autocorrelation of the rounding errors; returns ``path``.

    >>> import os, tempfile
    >>> from fxsim.studies.compare_rng.measure import IDEAL, error_acf
    >>> rows = error_acf([IDEAL], r=8, n_casts=2**10, max_lag=2)
    >>> os.path.getsize(plot_acf(rows, os.path.join(tempfile.mkdtemp(), "a.png"))) > 0
    True
    """
    acf = select(rows, study="acf")
    fig = figure(14, 7.5)
    gs = fig.add_gridspec(1, 2, width_ratios=[1, 1.15])
    ax1, ax2 = fig.add_subplot(gs[0]), fig.add_subplot(gs[1])
    se = acf[0]["stderr"]
    lags = sorted({a["x"] for a in acf})
    ax1.axhspan(-3 * se, 3 * se, color="0.85", label="±3/√N: what ideal bits allow")
    picks = ["ideal PCG64", "LFSR16 gal serial x1", "LFSR8 gal serial x1", "LFSR16 fib state x1",
             "LFSR16 gal state x1", "LFSR8 gal state x1", "LFSR16 gal state x8"]
    palette = ["k", "tab:blue", "tab:red", "tab:green", "tab:orange", "tab:purple", "tab:cyan"]
    for src, c in zip(picks, palette):
        pts = select(acf, source=src)
        if pts:
            state = pts[0].get("rule") == "state"
            ax1.plot([p["x"] for p in pts], [p["value"] for p in pts], color=c,
                     ls="--" if pts[0].get("lanes") == 8 else "-", marker="o" if state else "x",
                     mfc="none", ms=5, label=src)
    ax1.axhline(0, color="k", lw=0.6)
    ax1.set_xticks(lags)
    ax1.set_xlabel("lag (casts)")
    ax1.set_ylabel("autocorrelation of the rounding error ρ(lag)")
    rho1 = {src: select(acf, source=src, x=1) for src in picks}
    rho1 = ", ".join(f"{src} {v[0]['value']:+.3f}" for src, v in rho1.items() if v)
    ax1.set_title(f"(b1) Autocorrelation of the rounding errors, r = {acf[0]['r']}, "
                  f"N = {round(1 / se**2):,};\nρ(1): " + _wrap(rho1, 95), fontsize=10)
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    srcs = list(dict.fromkeys(a["source"] for a in acf))
    mat = np.full((len(srcs), len(lags)), np.nan)
    for a in acf:
        mat[srcs.index(a["source"]), lags.index(a["x"])] = a["value"]
    _heatmap(ax2, fig, mat, srcs, [str(h) for h in lags], 0.3, "ρ(lag)", max(0.02, 5 * se),
             lambda v: f"{v:.2f}")
    ax2.set_xlabel("lag (casts)")
    ax2.set_title(f"(b2) Every source; numbers mark |ρ| ≥ {max(0.02, 5 * se):.3f}", fontsize=10)
    return _save(fig, path)


def plot_accumulation(rows, path):
    """(c) The long accumulation: trajectories, final errors, error build-up; returns ``path``.

    >>> import os, tempfile
    >>> from fxsim.studies.compare_rng.measure import accumulation
    >>> rows = accumulation(steps=2**8, trials=2, check_steps=0, trace_points=4)
    >>> os.path.getsize(plot_accumulation(rows, os.path.join(tempfile.mkdtemp(), "c.png"))) > 0
    True
    """
    tr = select(rows, study="accumulation_trace")
    acc = select(rows, study="accumulation")
    fig = figure(15, 8.5)
    gs = fig.add_gridspec(2, 2, width_ratios=[1, 1.25])
    ax1, ax3, ax2 = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[1, 0]), fig.add_subplot(gs[:, 1])
    steps = acc[0]["x"]
    cfgs = [s for s in dict.fromkeys(a["source"] for a in acc) if s not in ("exact", "nearest_even")]
    palette = ["k", "tab:red", "tab:orange", "tab:blue", "tab:cyan", "0.45", "tab:purple", "tab:green"]
    color = dict(zip(cfgs, palette))

    def trace(src, stream):
        pts = select(tr, source=src, stream=stream)
        return np.array([p["x"] for p in pts]), np.array([p["value"] for p in pts])

    xs, ex = trace("exact", "iid")
    ax1.plot(xs, ex, color="gold", lw=1.5, ls="--", label="exact sum (dashed, on top)", zorder=3)
    x0, v0 = trace("nearest_even", "iid")
    ax1.plot(x0, v0, color="tab:gray", lw=3, label="nearest_even")
    for src in cfgs:
        if src.startswith("SR r=8, ideal") or src.startswith("SR r=8, LFSR8 gal serial"):
            x1, v1 = trace(src, "iid")
            ax1.plot(x1, v1, color=color[src], lw=4 if "ideal" in src else 2, label=src)
    ax1.set_xlabel("step (increments added)")
    ax1.set_ylabel("accumulator value")
    ax1.set_title(f"(c1) {STREAMS['iid']} of mean {INC_MEAN} (= {INC_MEAN * 2**ACC.fl:.2f} LSB) into "
                  f"Q({ACC.wl},{ACC.fl}), trial 0;\nfinal values: exact {ex[-1]:.3f}, nearest_even "
                  f"{v0[-1]:.3f}" + "".join(f", {src} {trace(src, 'iid')[1][-1]:.3f}" for src in cfgs
                                            if src.startswith("SR r=8, ideal")),
                  fontsize=10)
    ax1.legend(fontsize=8, loc="upper left")
    ax1.grid(alpha=0.3)
    ax1.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))

    xs, ex = trace("exact", "period15")
    for src in cfgs:
        x1, v1 = trace(src, "period15")
        if x1.size:
            ax3.plot(x1, (v1 - ex) * 2**ACC.fl, color=color[src], lw=1.2,
                     ls="-" if "r=8" in src else "--", label=src)
    ax3.axhline(0, color="k", lw=0.8)
    ax3.set_xlabel("step (increments added)")
    ax3.set_ylabel("accumulator − exact sum (LSB)")
    ax3.set_title("(c2) Accumulator − exact sum as it builds up, period-15 increments, trial 0",
                  fontsize=10)
    ax3.legend(fontsize=7, loc="upper left", ncol=2)
    ax3.grid(alpha=0.3)
    ax3.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))

    streams = list(dict.fromkeys(a["stream"] for a in acc))
    markers = {"iid": ("o", "tab:blue"), "period15": ("s", "tab:red"), "period16": ("^", "tab:green")}
    for si, s in enumerate(streams):
        m, c = markers.get(s, ("x", "k"))
        ex = select(acc, source="exact", stream=s)[0]["value"]
        for ci, cfg in enumerate(cfgs):
            y = ci + (si - (len(streams) - 1) / 2) * 0.22
            vals = [100 * (f["value"] - ex) / ex for f in select(acc, source=cfg, stream=s, metric="final_lsb")]
            ax2.plot(vals, [y] * len(vals), ls="none", marker=m, mfc="none", color=c, ms=5, alpha=0.75,
                     label=STREAMS.get(s, s) if ci == 0 else None)
            mean = select(acc, source=cfg, stream=s, metric="rel_error_mean")[0]["value"]
            ax2.plot([100 * mean], [y], marker="|", color=c, ms=14, mew=2.5)
    ax2.axvline(0, color="k", lw=0.8)
    ax2.set_yticks(range(len(cfgs)), cfgs, fontsize=8.5)
    ax2.invert_yaxis()
    ax2.set_xscale("symlog", linthresh=1.0, linscale=1.0)
    lim = max([1.0] + [abs(100 * (f["value"] - select(acc, source="exact", stream=f["stream"])[0]["value"])
                            / select(acc, source="exact", stream=f["stream"])[0]["value"])
                       for f in select(acc, metric="final_lsb") if f["source"] not in ("exact", "nearest_even")])
    lim = next((v for v in (1, 3, 10, 30, 100) if v >= lim * 1.1), 300)
    ticks = [t for t in (-100, -30, -10, -3, -1, -0.5, 0, 0.5, 1, 3, 10, 30, 100) if abs(t) <= lim]
    ax2.set_xticks(ticks, [f"{t:g}%" for t in ticks])
    ax2.set_xlim(-lim, lim)
    ax2.set_xlabel("final error, % of the exact sum (linear within ±1%, log beyond); bars: mean over trials")
    ne = select(acc, source="nearest_even", metric="rel_error_mean")
    ne_txt = f" (nearest_even: {100 * ne[0]['value']:+.0f}%, off the chart)" if ne else ""
    means = []
    for cfg in cfgs:
        if cfg.startswith(("SR r=8, ideal", "SR r=8, LFSR8 gal serial")):
            m = [(s, select(acc, source=cfg, stream=s, metric="rel_error_mean")) for s in streams]
            means.append(f"{cfg}: " + ", ".join(f"{s} {100 * v[0]['value']:+.2f}%" for s, v in m if v))
    ax2.set_title(f"(c3) Final error after {steps:,} steps, one marker per trial{ne_txt}.\n"
                  "Mean over trials: " + "\n".join(means), fontsize=10)
    ax2.legend(fontsize=8.5, loc="lower right")
    ax2.grid(alpha=0.3, axis="x")
    return _save(fig, path)


def plot_lanes(rows, path):
    """(d) L rounding units: the three statistics vs L per arrangement; returns ``path``.

    >>> import os, tempfile
    >>> from fxsim.studies.compare_rng.measure import lanes
    >>> rows = lanes(Ls=(1, 2), steps=2**8, block=64)
    >>> os.path.getsize(plot_lanes(rows, os.path.join(tempfile.mkdtemp(), "d.png"))) > 0
    True
    """
    ln = select(rows, study="lanes")
    fig = figure(15, 6.2)
    axs = [fig.add_subplot(1, 3, i + 1) for i in range(3)]
    colors = {"round-robin": "tab:red", "sliced": "tab:purple", "lanes": "tab:blue",
              "independent": "tab:green", "ideal": "k"}
    titles = {"var_ratio": ("Var(S) / Σ Var(e_l)", "(d1) Within one cycle"),
              "lag1": ("corr(S_k, S_k+1)", "(d2) Cycle to cycle"),
              "block_var_ratio": ("Var(64-cycle sum of S) / (64 Σ Var(e_l))", "(d3) Over 64 cycles")}
    Ls = sorted({r["x"] for r in ln})
    for metric, (ylab, head) in titles.items():
        at = {arr: select(ln, source=arr, rule=rule, metric=metric, x=Ls[-1])
              for arr, rule in (("round-robin", "state"), ("lanes", "state"), ("ideal", None))}
        vals = ", ".join(f"{arr} {v[0]['value']:.2f}" for arr, v in at.items() if v)
        titles[metric] = (ylab, f"{head}; at L = {Ls[-1]}:\n{vals}")
    for ax, metric in zip(axs, titles):
        for arr in ARRANGEMENTS:
            for rule in ("state", "serial", None):
                pts = sorted(select(ln, source=arr, rule=rule, metric=metric), key=lambda p: p["x"])
                if not pts:
                    continue
                ax.plot([p["x"] for p in pts], [p["value"] for p in pts], color=colors[arr],
                        ls="-" if rule in ("state", None) else "--",
                        marker="o" if rule in ("state", None) else "x", ms=5,
                        label=f"{arr}, {rule}" if rule else arr)
        ax.set_xscale("log", base=2)
        ax.set_xticks(Ls, [str(L) for L in Ls])
        ax.set_xlabel("rounding units L")
        ax.set_ylabel(titles[metric][0])
        ax.set_title(titles[metric][1], fontsize=10)
        ax.grid(alpha=0.3)
    n = next((r["n"] for r in ln if r["source"] == "lanes"), 16)
    axs[0].legend(fontsize=7.5, title=f"LFSR{n} galois (sliced: 64-bit); solid: state rule, "
                  "dashed: serial", title_fontsize=7.5)
    fig.text(0.5, 0.005, _wrap(
        "L units each round one i.i.d. input per cycle (r = 8 random bits, Q(16,8)); e_l = unit l's "
        "rounding error (LSB), S = Σ_l e_l, the cycle's summed error; 1 (d1, d3) and 0 (d2) are "
        "what independent bits give. Where the units' bits come from: "
        + "; ".join(f"{k}: {v}" for k, v in ARRANGEMENTS.items()) + ".", 200),
        ha="center", va="bottom", fontsize=8.5)
    fig.get_layout_engine().set(rect=(0, 0.1, 1, 0.9))
    return _save(fig, path)
