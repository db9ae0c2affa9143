"""(e) The accelerators' SR generators (``fxsim.vendor_sources``) vs ideal bits: for each preset at
the r its hardware rounds with (``HARDWARE``), the SR bias against spec §2, the lag-1
autocorrelation of rounding errors, the correlation of neighbouring lanes and the spread of
1024-value tile means (the Tenstorrent field report's measure), a long accumulation of small
increments (i.i.d. and periodic), and short GD runs of the main job (quadratic, logistic
regression) with each preset feeding SR.  Every measurement returns tidy rows (``COLUMNS`` of
``measure``) with ``study="vendor"``, the value, what ideal bits give (``predicted``), the
ideal standard error and z = (value - predicted) / stderr.
"""
from __future__ import annotations

import math
import zlib

import numpy as np

import fxsim
from fxsim import QFormat

from .._report import figure, fmt_number, markdown_table
from .measure import ACC, COLUMNS, FMT, FRAC, Q0, bias_inputs, increments, predicted_bias, select

__all__ = ["HARDWARE", "VENDOR_SOURCES", "VENDOR_FIGURE", "vendor_bias", "vendor_errors",
           "vendor_uniform_means",
           "vendor_accumulation", "vendor_gd", "vendor_rows", "vendor_verdicts", "vendor_markdown",
           "plot_vendor"]

VENDOR_FIGURE = "compare_rng_vendor.png"

#: preset -> (r, sr_rule) of the conversion the hardware rounds with (fxsim.vendor_sources cites
#: the generators): AMD V_CVT_SR_BF16_F32 and libxsmm's bf16 SR drop 16 bits of an FP32
#: mantissa; Tenstorrent SFPSTOCHRND compares 23 bits with >=; cuRAND-fed cvt.rs and the IPU's
#: FP32 -> FP16 conversion drop 13 bits
HARDWARE = {
    "amd:prng_b32": (16, "trunc"),
    "tenstorrent:sfpu": (23, "tt_sfpu"),
    "curand:xorwow": (13, "trunc"),
    "curand:philox4x32_10": (13, "trunc"),
    "graphcore:xoroshiro128aox": (13, "trunc"),
    "xoroshiro128plus": (16, "trunc"),
}
VENDOR_SOURCES = tuple(HARDWARE) + ("pcg64",)
TILE = 1024


def _src(spec, seed, *key):
    """A fresh source of ``spec`` seeded by SeedSequence(seed, crc32 of the key): same key, same
    stream."""
    words = [int(seed)] + [zlib.crc32(str(k).encode()) for k in ("vendor", spec) + key]
    return fxsim.make_source(spec, np.random.SeedSequence(words))


def _hw(spec, r=None):
    return HARDWARE.get(spec, (r or 16, "trunc"))


def _rows(spec, r, rule, **kw):
    row = dict.fromkeys(COLUMNS)
    row.update(study="vendor", source=spec, r=r, rule=rule, **kw)
    return row


def vendor_bias(sources=VENDOR_SOURCES, n_casts=2**20, n_phi=256, seed=0) -> list:
    """SR bias E[cast(x)] - x in LSB of Q(16, 8) at each preset's (r, rule), over n_casts casts of
    n_phi inputs with 40-bit discarded parts, against spec §2: trunc P(up) = D / 2^r; the ``ge``
    rule (D >= R) rounds up with (D + 1) / 2^r, 2^-r LSB more.  pcg64 runs at r = 16, trunc.

    >>> row = vendor_bias(["pcg64"], n_casts=2**10, n_phi=16)[0]
    >>> row["metric"], row["r"], abs(row["z"]) < 5
    ('bias_lsb', 16, True)
    """
    k = bias_inputs(n_phi, seed)
    x = ((Q0 << FRAC) + k).astype(np.float64) / float(1 << (FRAC + FMT.fl))
    reps = n_casts // n_phi
    exact = reps * sum((Q0 << FRAC) + int(v) for v in k)
    rows = []
    for spec in sources:
        r, rule = _hw(spec)
        src = _src(spec, seed, "bias")
        total = 0
        for lo in range(0, reps, 4096):
            c = min(4096, reps - lo)
            y = fxsim.cast(np.tile(x, c), FMT, "stochastic", "saturate", r=r, sr_rule=rule, source=src)
            total += int(y.raw.astype(np.int64).sum())
        value = ((total << FRAC) - exact) / float(reps * n_phi << FRAC)
        pred = float(predicted_bias(k, r)) + (2.0**-r if rule in ("ge", "tt_sfpu") else 0.0)
        p = (np.asarray(k) >> (FRAC - r)).astype(np.float64) / 2.0**r
        se = math.sqrt(reps * float(np.sum(p * (1 - p)))) / (reps * n_phi)
        rows.append(_rows(spec, r, rule, count=reps * n_phi, metric="bias_lsb", value=value,
                          predicted=pred, stderr=se, z=(value - pred) / se))
    return rows


def vendor_errors(sources=VENDOR_SOURCES, n_casts=2**18, phi=0.3, seed=0) -> list:
    """Rounding errors e_i = up_i - p of n_casts casts of one value (discarded part phi, so
    p = P(up)): lag-1 autocorrelation, the correlation of neighbouring lanes of a 32-lane unit
    (element i and i + 1 of one 32-wide instruction), and the spread of the mean over tiles of
    1024 casts relative to i.i.d. bits (ttnn.rand's tile means, tt-metal #50487).

    >>> rows = vendor_errors(["tenstorrent:sfpu"], n_casts=2**14)
    >>> [r["metric"] for r in rows], rows[2]["value"] > 3
    (['acf1', 'lane_corr', 'tile_mean_spread'], True)
    """
    rows = []
    for spec in sources:
        r, rule = _hw(spec)
        src = _src(spec, seed, "errors")
        t = Q0 + phi
        x = np.full(n_casts, t / 2.0**FMT.fl)
        up = fxsim.cast(x, FMT, "stochastic", "saturate", r=r, sr_rule=rule, source=src).raw.astype(np.float64) - Q0
        D = math.floor(phi * 2**r)
        p = (D + (1 if rule in ("ge", "tt_sfpu") else 0)) / 2**r
        e = up - p
        var = p * (1 - p)
        acf1 = float(np.mean(e[1:] * e[:-1]) / var)
        lanes = e[: n_casts // 32 * 32].reshape(-1, 32)
        lane = float(np.mean(lanes[:, 1:] * lanes[:, :-1]) / var)
        tiles = e[: n_casts // TILE * TILE].reshape(-1, TILE).mean(axis=1)
        spread = float(tiles.std() / math.sqrt(var / TILE))
        se = 1 / math.sqrt(n_casts)
        rows.append(_rows(spec, r, rule, count=n_casts, metric="acf1", value=acf1, predicted=0.0,
                          stderr=se, z=acf1 / se))
        se_l = 1 / math.sqrt(lanes.size)
        rows.append(_rows(spec, r, rule, count=n_casts, metric="lane_corr", value=lane,
                          predicted=0.0, stderr=se_l, z=lane / se_l))
        se_s = 1 / math.sqrt(2 * tiles.size)
        rows.append(_rows(spec, r, rule, count=n_casts, metric="tile_mean_spread", value=spread,
                          predicted=1.0, stderr=se_s, z=(spread - 1) / se_s))
    return rows


def vendor_uniform_means(sources=VENDOR_SOURCES, tensors=50, size=65536, seed=0) -> list:
    """The field report's own measurement (tt-metal #50487: 50 draws of ttnn.rand((256, 256)),
    uniforms from a 23-bit slice of the PRNG): ``tensors`` tensors of ``size`` values
    U = R / 2^23 (r = 23 draws), the standard deviation of their means relative to i.i.d. bits'
    sqrt(1/12/size), and the worst |mean − 1/2| in % of 1/2.

    >>> spread, worst = vendor_uniform_means(["tenstorrent:sfpu"], tensors=8, size=2**12)
    >>> spread["value"] > 3, worst["metric"]
    (True, 'uniform_worst_mean_pct')
    """
    rows = []
    for spec in sources:
        means = np.array([_src(spec, seed, "uniform", k).draws(size, 23).mean() / 2.0**23
                          for k in range(tensors)])
        iid = math.sqrt(1 / 12 / size)
        ratio = float(means.std() / iid)
        se = 1 / math.sqrt(2 * tensors)
        rows.append(_rows(spec, 23, None, count=tensors * size, metric="uniform_mean_spread",
                          value=ratio, predicted=1.0, stderr=se, z=(ratio - 1) / se))
        rows.append(_rows(spec, 23, None, count=tensors * size, metric="uniform_worst_mean_pct",
                          value=float(100 * np.abs(means - 0.5).max() / 0.5), predicted=None,
                          stderr=None, z=None))
    return rows


def vendor_accumulation(sources=VENDOR_SOURCES, steps=10**6, streams=("iid", "period16"),
                        seed=0) -> list:
    """10^6 increments of about 0.26 LSB summed into the narrow accumulator ACC with SR from each
    preset (acc <- cast(acc + inc), computed as one cast of the increments: exact, see
    ``accumulate_split``): the error of the final sum in LSB, against 0 with the standard
    deviation of ideal bits, sqrt(sum p (1 - p)).

    >>> row = vendor_accumulation(["pcg64"], steps=1000, streams=("iid",))[0]
    >>> row["metric"], row["stream"], abs(row["z"]) < 5
    ('acc_error_lsb', 'iid', True)
    """
    rows = []
    for stream in streams:
        inc = increments(stream, steps, seed)
        raw = np.asarray(inc.raw, dtype=np.int64)
        s = inc.fmt.fl - ACC.fl
        exact = raw.sum() / 2.0**s
        for spec in sources:
            r, rule = _hw(spec)
            src = _src(spec, seed, "accumulation", stream)
            got = fxsim.cast(inc, ACC, "stochastic", "saturate", r=r, sr_rule=rule, source=src)
            total = float(got.raw.astype(np.int64).sum())
            frac = raw & ((1 << s) - 1)
            D = frac >> (s - r) if s >= r else frac << (r - s)
            p = (D + (1 if rule in ("ge", "tt_sfpu") else 0)) / 2.0**r
            pred = float(np.sum((raw >> s) + p) - exact)
            se = math.sqrt(float(np.sum(p * (1 - p))))
            rows.append(_rows(spec, r, rule, stream=stream, count=steps, metric="acc_error_lsb",
                              value=float(total - exact), predicted=pred, stderr=se,
                              z=float((total - exact - pred) / se)))
    return rows


def _gd_gaps(model_key, fmt, spec, seed, n_seeds, n_iters, r, rule):
    """Final f(x) - f* of the main job's SR runs (``gd_rounding``: fused update, the SR
    strategy's casts, its step size and seeds per seed index) with ``spec`` feeding SR at ``r``
    bits and rule ``rule``."""
    from ..gd_rounding import EPS, STRATEGIES, build_model
    from ...accelerator import Accelerator
    from ...optim import GD
    model, t, _ = build_model(model_key, fmt)
    casts = {role: (rnd, "saturate") for role, rnd in STRATEGIES["SR"].items()}
    gaps = []
    for k in range(n_seeds):
        # the main job's seeds of seed index k (gd_rounding: SeedSequence([seed, crc32(model), k]))
        gseed, aseed = np.random.SeedSequence([int(seed), zlib.crc32(model_key.encode()), k]
                                              ).generate_state(2, np.uint32)
        acc = Accelerator(fmt, fmt, prod=None, acc=QFormat(2 * fmt.wl, 2 * fmt.fl), casts=casts,
                          source=spec, seed=int(aseed), r=r, eps=EPS, sr_rule=rule)
        h = GD(model, acc, t, mode="exact", seed=int(gseed)).run(n_iters)
        gaps.append(max(float(h.excess[-1]), 0.0))
    return np.array(gaps)


def vendor_gd(sources=VENDOR_SOURCES, models=("quadratic_off", "logistic"), n_seeds=3,
              iters=None, seed=0, fmt=QFormat(16, 8)) -> list:
    """The main job's GD (``fxsim.studies.gd_rounding``: fused update, SR on the grad and update
    casts, its seeds) with SR fed by each preset at its own hardware r and rule (``HARDWARE``;
    pcg64 at r = 16, trunc): the median over seeds of the final f(x) - f*, against pcg64 at the
    same r and rule (the ``predicted`` column), so that z measures the generator, not the rule.

    >>> rows = vendor_gd(["amd:prng_b32"], models=("quadratic_off",), n_seeds=1, iters=5)
    >>> [(r["source"], r["r"], r["rule"], r["metric"]) for r in rows]
    [('pcg64', 16, 'trunc', 'gd_final_gap'), ('amd:prng_b32', 16, 'trunc', 'gd_final_gap')]
    """
    from ..gd_rounding import PRESETS as GD_PRESETS
    rows = []
    for model in models:
        n_iters = iters or GD_PRESETS["quick"]["iters"]["quadratic" if model.startswith("quadratic")
                                                         else model]
        ideal = {}                      # (r, rule) -> pcg64's gaps
        for spec in ("pcg64",) + tuple(s for s in sources if s != "pcg64"):
            r, rule = _hw(spec)
            if (r, rule) not in ideal:
                ideal[(r, rule)] = _gd_gaps(model, fmt, "pcg64", seed, n_seeds, n_iters, r, rule)
            g = ideal[(r, rule)] if spec == "pcg64" else _gd_gaps(model, fmt, spec, seed, n_seeds,
                                                                  n_iters, r, rule)
            gap, base = float(np.median(g)), float(np.median(ideal[(r, rule)]))
            se, z = _welch_z(g, ideal[(r, rule)])
            rows.append(_rows(spec, r, rule, stream=model, count=n_iters, metric="gd_final_gap",
                              value=gap, predicted=base, stderr=se, z=z))
    return rows


def _welch_z(a, b):
    """(standard error, z) of mean(a) - mean(b) over seeds: Welch's t test turned into the
    normal z of the same two-sided p value, so that ``Z_LIMIT`` means the same as for the
    measurements with many samples (a t from 2 seeds against a normal limit would call a
    generator "not ideal" on noise); z None with fewer than 2 seeds on a side.

    >>> _welch_z([1.0, 1.2, 0.9], [1.0, 1.1, 1.0])[1]
    0.0
    >>> round(_welch_z([1.0, 1.1], [2.0, 2.1])[1], 1)      # t = -14 on 2 degrees of freedom
    -2.8
    """
    from scipy import stats
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if min(a.size, b.size) < 2:
        return None, None
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    d = float(a.mean() - b.mean())
    if se == 0:
        return 0.0, 0.0 if d == 0 else math.copysign(math.inf, d)
    dof = (va + vb) ** 2 / ((va ** 2 / (a.size - 1) if va else 0) + (vb ** 2 / (b.size - 1) if vb else 0))
    p = 2 * stats.t.sf(abs(d) / se, dof)
    return se, math.copysign(float(stats.norm.isf(p / 2)), d) if p > 0 else math.copysign(math.inf, d)


def vendor_rows(quick=True, seed=0) -> list:
    """(e) all of it: the rows of every measurement above (about a minute with ``quick``, most of
    it the GD runs), so the example is skipped by doctest:

    >>> rows = vendor_rows(quick=True)                  # doctest: +SKIP
    >>> sorted({r["metric"] for r in rows})[:2]         # doctest: +SKIP
    ['acc_error_lsb', 'acf1']
    """
    n = 2**18 if quick else 2**22
    rows = vendor_bias(n_casts=n, seed=seed)
    rows += vendor_errors(n_casts=n, seed=seed)
    rows += vendor_uniform_means(tensors=16 if quick else 50, seed=seed)
    rows += vendor_accumulation(steps=10**5 if quick else 10**6, seed=seed)
    rows += vendor_gd(n_seeds=2 if quick else 5, seed=seed)
    return rows


#: the figure's names of the measurements and streams
METRIC_NAMES = {"bias_lsb": "SR bias vs §2", "acf1": "lag-1 error autocorrelation",
                "lane_corr": "neighbouring-lane correlation", "tile_mean_spread": "1024-cast tile-mean spread",
                "uniform_mean_spread": "65,536-uniform mean spread", "acc_error_lsb": "sum of increments",
                "gd_final_gap": "GD final gap"}
STREAM_NAMES = {"iid": "i.i.d.", "period16": "period 16", "quadratic_off": "quadratic",
                "logistic": "logistic regression"}

#: |z| above this is "distinguishable from ideal bits"
Z_LIMIT = 4.0


def vendor_verdicts(rows) -> dict:
    """preset -> (worst |z| over its rows, the metric where it is reached, verdict).

    >>> vendor_verdicts(vendor_errors(["pcg64"], n_casts=2**12))["pcg64"][2]
    'indistinguishable from ideal'
    """
    out = {}
    for spec in dict.fromkeys(r["source"] for r in select(rows, study="vendor")):
        zs = [(abs(r["z"]), r["metric"] + (f" {r['stream']}" if r["stream"] else ""))
              for r in select(rows, study="vendor", source=spec) if r["z"] is not None]
        z, where = max(zs)
        out[spec] = (z, where, "indistinguishable from ideal" if z <= Z_LIMIT else "NOT ideal")
    return out


def _f(v):
    return fmt_number(v, 3, fixed_from=1e-3)


def vendor_markdown(rows) -> str:
    """Section (e) of the study's markdown: one table, a column per measurement (value, and z
    against ideal bits), and the verdict per preset.

    >>> vendor_markdown(vendor_errors(["pcg64"], n_casts=2**12)).splitlines()[0]
    "## (e) Accelerators' SR generators vs ideal bits"
    """
    v = select(rows, study="vendor")
    if not v:
        return ""
    cols = [("bias_lsb", None, "bias (LSB)"), ("acf1", None, "lag-1 acf"),
            ("lane_corr", None, "lane corr"), ("tile_mean_spread", None, "tile-mean spread (x iid)"),
            ("uniform_mean_spread", None, "65536-uniform mean spread (x iid)"),
            ("uniform_worst_mean_pct", None, "worst mean (%)"),
            ("acc_error_lsb", "iid", "sum error, iid (LSB)"),
            ("acc_error_lsb", "period16", "sum error, period 16 (LSB)"),
            ("gd_final_gap", "quadratic_off", "GD quadratic f−f*"),
            ("gd_final_gap", "logistic", "GD logistic f−f*")]
    verdicts = vendor_verdicts(rows)
    body = []
    for spec in dict.fromkeys(r["source"] for r in v):
        r0 = select(v, source=spec)[0]
        cells = [spec, f"{r0['r']} {r0['rule']}"]
        for metric, stream, _ in cols:
            c = [r for r in select(v, source=spec, metric=metric) if stream is None or r["stream"] == stream]
            z = f" (z {c[0]['z']:.1f})" if c and c[0]["z"] is not None else ""
            cells.append(f"{_f(c[0]['value'])}{z}" if c else "—")
        z, where, verdict = verdicts[spec]
        cells.append(f"{verdict} (|z| {z:.1f}, {where})")
        body.append(cells)
    head = ["preset", "r rule"] + [c[2] for c in cols] + ["verdict"]
    return "\n".join([
        "## (e) Accelerators' SR generators vs ideal bits",
        "",
        "Each preset at the r and rule of its hardware conversion (GD too). z = (value − what "
        f"ideal bits give) / σ of ideal bits; a preset is indistinguishable from ideal when every "
        f"|z| ≤ {Z_LIMIT:g}. The bias column's ideal value is spec §2's (rule ge: 2^-r LSB above "
        "trunc); acf, lane correlation: 0; tile-mean spread: 1; GD: pcg64's gap at the same r and rule "
        "(medians over seeds shown; z from Welch's t over the seeds, as the normal z of the same p).",
        "",
        markdown_table(head, body), ""])


def plot_vendor(rows, path):
    """(e) One figure: |z| of every measurement per preset (log scale, the |z| = 4 line), and the
    tile-mean spread and GD gaps as values; returns ``path``.

    >>> import os, tempfile
    >>> p = plot_vendor(vendor_errors(["pcg64"], n_casts=2**12), os.path.join(tempfile.mkdtemp(), "v.png"))
    >>> os.path.getsize(p) > 0
    True
    """
    v = select(rows, study="vendor")
    specs = list(dict.fromkeys(r["source"] for r in v))
    metrics = list(dict.fromkeys((r["metric"], r["stream"]) for r in v if r["z"] is not None))
    fig = figure(13, 5.8)
    ax1, ax2, ax3 = fig.subplots(1, 3, width_ratios=[2.2, 1, 1])
    y = np.arange(len(specs))
    h = 0.8 / max(1, len(metrics))
    for i, (m, st) in enumerate(metrics):
        zs = [next((abs(r["z"]) for r in v if r["source"] == s and r["metric"] == m
                    and r["stream"] == st and r["z"] is not None), 0)
              for s in specs]
        ax1.barh(y + i * h - 0.4 + h / 2, np.maximum(zs, 1e-2), h,
                 label=METRIC_NAMES.get(m, m) + (f", {STREAM_NAMES.get(st, st)}" if st else ""))
    ax1.axvline(Z_LIMIT, color="k", ls="--", lw=1, label=f"|z| = {Z_LIMIT:g}: beyond it, not ideal")
    ax1.set_xscale("log")
    ax1.set_yticks(y, specs, fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xlabel("|z| against ideal bits (log)")
    ax1.set_title("Distance from ideal bits, every measurement", fontsize=10)
    fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=8,
               frameon=False)
    sp = [next((r["value"] for r in v if r["source"] == s and r["metric"] == "tile_mean_spread"), np.nan)
          for s in specs]
    ax2.barh(y, sp, color="tab:orange")
    ax2.axvline(1.0, color="k", ls="--", lw=1)
    ax2.set_yticks(y, [])
    ax2.invert_yaxis()
    ax2.set_xlabel("std of 1024-cast tile means\n(× what i.i.d. bits give)")
    ax2.set_title("Tile-mean spread\n(tt-metal #50487)", fontsize=10)
    for j, model in enumerate(("quadratic_off", "logistic")):
        g = [next((r["value"] for r in v if r["source"] == s and r["stream"] == model
                   and r["metric"] == "gd_final_gap"), np.nan) for s in specs]
        ax3.barh(y + (j - 0.5) * 0.4, g, 0.4, label=model)
    ax3.set_xscale("log")
    ax3.set_yticks(y, [])
    ax3.invert_yaxis()
    ax3.set_xlabel("median final f(x) − f*\n(SR at each preset's r and rule)")
    ax3.set_title("Main-job GD, SR fed\nby each preset", fontsize=10)
    from matplotlib.ticker import NullFormatter
    gaps = [r["value"] for r in v if r["metric"] == "gd_final_gap" and r["value"] > 0]
    if gaps:
        ticks = [t for t in (1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
                 if min(gaps) / 3 <= t <= max(gaps) * 3]
        ax3.set_xticks(ticks, [f"{t:.0e}" for t in ticks], fontsize=8)
        ax3.xaxis.set_minor_formatter(NullFormatter())
    ax3.legend(fontsize=7, labels=[STREAM_NAMES[m] for m in ("quadratic_off", "logistic")])
    fig.savefig(path, dpi=100)
    return path
