"""LFSR vs ideal bits for float stochastic rounding (``fxsim compare-rng --floats``, issue 17.3).

Three measurements, every rounding by ``fxsim.cast`` into a ``FloatFormat`` (spec §9.2):

(f1) ``float_bias``: the mean error E[cast(x)] − x, in units of the spacing u, of r-bit SR into
     bf16 and e4m3 under each rule (``trunc``, ``half``, ``rne``), r = 1..16, from ideal bits
     and LFSRs (n = 8, 16, 32; serial and state draw rules), against the closed form of §9.2
     (P(up) = ⌊φ2^r⌋/2^r, ⌊φ2^r + ½⌋/2^r, RNE(φ2^r)/2^r) averaged over the same inputs.
(f2) ``float_accumulation``: 10^6 (quick: 10^5) increments of about 10^-3 summed in bf16,
     s ← cast(s + inc_k): round-to-nearest stagnates near 256·inc; SR with r = 16 tracks the
     sum; SR with r = 8 stalls once inc < u·2^−8.  Ideal bits, LFSRs (n = 8, 16, 32; serial,
     state) and increment streams i.i.d. or periodic (period 15 divides 2^8 − 1 and 2^16 − 1,
     period 16 does not).  ``replicas`` chains run side by side, one source feeding them in
     C order (draw k·R + i for chain i at step k).
(f3) ``float_dot``: dot products of e4m3 vectors, products exact, accumulated in bf16 or fp32
     with round-to-nearest or SR in the accumulator (ideal, LFSR 16 and 8 bits): the relative
     error against the exact sum (``math.fsum``), positive and zero-mean inputs.

Speed: a float cast call costs ~0.5 ms however small, so (f2) is not run one cast per step.
Within one binade [2^e, 2^(e+1)) of the sum, s is a multiple of u = 2^(e − m) and
cast(s + inc) = s + u·cast_Q(inc/u) on the integer grid: the discarded fraction φ is inc/u's
alone, the rule and the draw are the same (§2 and §9.2 use one rule), so one fixed-point
cast of all the remaining increments (``draws=``: the same draw per step) gives every step
until the exact s + inc leaves the binade; that step is one float cast.  ``accumulate_float``
checks its trajectory against the plain per-step recurrence over the first ``check_steps``
steps (``recurrence_match``).
"""
from __future__ import annotations

import math
import os
import time
import zlib
from fractions import Fraction

import numpy as np

import fxsim
from .._report import (figure, finish, fmt_number, make_progress, markdown_table, verdict,
                       verdict_lines, write_csv)
from .measure import IDEAL, SourceSpec, increments

__all__ = ["FLOAT_PRESETS", "FLOAT_COLUMNS", "RULES", "float_sources", "predicted_float_bias",
           "float_bias", "float_increments", "stall_point", "accumulate_float", "accumulate_float_steps",
           "float_accumulation", "float_dot", "float_verdicts", "float_markdown", "plot_floats",
           "run_floats"]

RULES = ("trunc", "half", "rne")
# the increments (measure.increments) are odd multiples of 2^-24: no tie, exact sums in float64
FLOAT_PRESETS = {
    "full": dict(bias_inputs=64, bias_reps=4096, rs=(1, 2, 3, 4, 6, 8, 12, 16), acc_steps=10**6,
                 replicas=8, check_steps=2000, dot_k=(64, 256, 1024, 4096), dot_reps=64),
    "quick": dict(bias_inputs=32, bias_reps=1024, rs=(1, 2, 4, 8, 16), acc_steps=10**5,
                  replicas=4, check_steps=300, dot_k=(64, 256, 1024), dot_reps=32),
}
FLOAT_COLUMNS = ["study", "format", "source", "rule", "r", "stream", "k", "metric", "value",
                 "predicted", "stderr", "z"]


def _rng(seed: int, *key) -> np.random.Generator:
    words = [int(seed)] + [zlib.crc32(str(k).encode()) for k in key]
    return np.random.default_rng(np.random.SeedSequence(words))


def _row(study, **kw) -> dict:
    row = dict.fromkeys(FLOAT_COLUMNS)
    row["study"] = study
    row.update(kw)
    return row


def float_sources() -> list:
    """Ideal PCG64 and the LFSRs n = 8, 16, 32 (galois, serial and state draw rules).

    >>> [s.label for s in float_sources()][:3]
    ['ideal PCG64', 'LFSR8 gal serial x1', 'LFSR8 gal state x1']
    """
    return [IDEAL] + [SourceSpec("lfsr", n, "galois", rule) for n in (8, 16, 32)
                      for rule in ("serial", "state")]


# -- (f1) bias ---------------------------------------------------------------------------------

def _bias_inputs(fmt, n, seed):
    """n inputs in [1, 2) with 40 random bits below the format's spacing u = 2^−m."""
    m = fmt.man_bits
    k = _rng(seed, "float_bias", str(fmt)).integers(0, 1 << 40, n)
    q = _rng(seed, "float_bias_q", str(fmt)).integers(0, 1 << m, n)
    return 1.0 + q * 2.0**-m + k * 2.0**(-m - 40), k


def predicted_float_bias(k, r: int, rule: str) -> Fraction:
    """The mean of P(up) − φ over the discarded fractions φ = k/2^40 (in units of u), §9.2.

    >>> predicted_float_bias([1 << 39], 1, "trunc"), predicted_float_bias([1 << 38], 1, "half")
    (Fraction(0, 1), Fraction(1, 4))
    """
    tot = Fraction(0)
    for kk in (int(v) for v in k):
        phi = Fraction(kk, 1 << 40)
        y = phi * (1 << r)
        if rule == "trunc":
            p = Fraction(math.floor(y), 1 << r)
        elif rule == "half":
            p = Fraction(math.floor(y + Fraction(1, 2)), 1 << r)
        else:
            p = Fraction(round(y), 1 << r)          # Python's round: ties to even
        tot += p - phi
    return tot / len(k)


def float_bias(sources=None, formats=("bf16", "e4m3"), rs=(1, 2, 4, 8, 16), n_inputs=32,
               reps=1024, seed=0, progress=False):
    """(f1) Rows: measured and predicted mean SR error (units of u) and its z-score, per
    format, source, rule and r.  One cast per row: the inputs repeated ``reps`` times.

    >>> rows = float_bias([IDEAL], ("e4m3",), rs=(2,), n_inputs=4, reps=64)
    >>> [(r["rule"], r["r"]) for r in rows]
    [('trunc', 2), ('half', 2), ('rne', 2)]
    """
    sources = float_sources() if sources is None else sources
    bar = make_progress(len(formats) * len(sources) * len(RULES) * len(rs), "(f1) float bias",
                        progress)
    rows = []
    for fname in formats:
        fmt = fxsim.FloatFormat.parse(fname)
        x, k = _bias_inputs(fmt, n_inputs, seed)
        u = 2.0**-fmt.man_bits
        X = np.tile(x, reps)
        phi = k / 2.0**40
        for spec in sources:
            for rule in RULES:
                for r in rs:
                    if r > spec.max_r():
                        continue
                    src = spec.make(seed, "float_bias", fname, rule, r)
                    y = fxsim.cast(X, fmt, "stochastic", "saturate", r=r, sr_rule=rule,
                                   source=src).to_float()
                    up = ((y - X) / u + phi[np.tile(np.arange(n_inputs), reps)]).reshape(reps, n_inputs)
                    err = (y - X).reshape(reps, n_inputs) / u
                    pred = float(predicted_float_bias(k, r, rule))
                    # s.e. of the mean of Bernoulli(P(up)) draws around their exact P(up)
                    p_up = up.mean(axis=0).clip(0, 1)
                    se = math.sqrt(float(np.sum(p_up * (1 - p_up))) / reps) / n_inputs
                    val = float(err.mean())
                    z = (val - pred) / se if se > 0 else (0.0 if val == pred else math.inf)
                    rows.append(_row("float_bias", format=fname, source=spec.label, rule=rule, r=r,
                                     metric="mean_error_u", value=val, predicted=pred, stderr=se,
                                     z=z))
                    bar.update(1, f"{fname} {spec.label} {rule} r={r}")
    bar.close()
    return rows


# -- (f2) accumulation ---------------------------------------------------------------------------

STREAMS = {"iid": "i.i.d. increments", "period15": "periodic, period 15",
           "period16": "periodic, period 16"}


def float_increments(stream: str, steps: int, seed: int = 0) -> np.ndarray:
    """The increments of the fixed-point part (c) (``measure.increments``: 10^-3·(1 + u_k/2),
    u_k uniform in [−1, 1] or sin(2πk/m), odd multiples of 2^−24) as float64.

    >>> inc = float_increments("period16", 32)
    >>> bool(((inc * 2**24) % 2 == 1).all()), bool((inc > 4e-4).all() and (inc < 1.6e-3).all())
    (True, True)
    """
    return increments(stream, steps, seed).to_float()


def _kw(rounding, r, rule, draws):
    return dict(r=r, sr_rule=rule, draws=draws) if rounding == "stochastic" else {}


def accumulate_float_steps(inc, fmt, rounding="nearest_even", r=None, rule="trunc", draws=None,
                           replicas=1, steps=None):
    """The reference: s ← cast(s + inc_k) for ``replicas`` chains, one float cast per step
    (draws k·R .. k·R + R − 1 at step k).  Returns the (steps, replicas) trajectory.

    >>> inc = float_increments("iid", 600)
    >>> s = accumulate_float_steps(inc, fxsim.FloatFormat.parse("bf16"))
    >>> 0.1 < float(s[-1, 0]) < 0.6            # round-to-nearest stagnates near 256·inc
    True
    """
    steps = len(inc) if steps is None else steps
    R = replicas
    s = np.zeros(R)
    out = np.empty((steps, R))
    for j in range(steps):
        d = draws[j * R:(j + 1) * R] if draws is not None else None
        s = fxsim.cast(s + inc[j], fmt, rounding, "saturate", **_kw(rounding, r, rule, d)).to_float()
        out[j] = s
    return out


def accumulate_float(inc, fmt, rounding="nearest_even", r=None, rule="trunc", draws=None,
                     replicas=1):
    """The same trajectory as ``accumulate_float_steps`` (bit for bit), binade by binade: within
    a binade one fixed-point cast of inc/u onto the integer grid gives every step (module
    doc); the step that leaves the binade is one float cast.  Increments must be positive and
    a multiple of 2^−24 with an odd numerator below u (no ties).

    >>> inc = float_increments("iid", 400)
    >>> bf = fxsim.FloatFormat.parse("bf16")
    >>> d = fxsim.make_source("pcg64", seed=1).draws(2 * 400, 16)
    >>> a = accumulate_float(inc, bf, "stochastic", 16, draws=d, replicas=2)
    >>> b = accumulate_float_steps(inc, bf, "stochastic", 16, draws=d, replicas=2)
    >>> bool(np.array_equal(a, b))
    True
    """
    steps, R, m = len(inc), replicas, fmt.man_bits
    grid = fxsim.QFormat(62, 0)
    out = np.empty((steps, R))
    for i in range(R):
        d_i = draws[i::R] if draws is not None else None
        s, j = 0.0, 0
        while j < steps:
            if s < 2.0**fmt.emin * 2:                   # start (and the lowest binades): per step
                dj = d_i[j:j + 1] if d_i is not None else None
                s = float(fxsim.cast(np.array([s + inc[j]]), fmt, rounding, "saturate",
                                     **_kw(rounding, r, rule, dj)).to_float()[0])
                out[j, i] = s
                j += 1
                continue
            e = math.floor(math.log2(s))
            u = 2.0**(e - m)
            top = 2.0**(e + 1)
            hi = min(steps, j + max(256, 4 * int(top / max(float(inc[j]), 1e-300))))
            dj = d_i[j:hi] if d_i is not None else None
            q = fxsim.cast(inc[j:hi] / u, grid, rounding, "saturate",
                           **_kw(rounding, r, rule, dj)).to_float()
            traj = s + u * np.cumsum(q)
            before = np.concatenate([[s], traj[:-1]])
            leave = np.flatnonzero(before + inc[j:hi] >= top)
            n_ok = leave[0] if leave.size else hi - j
            out[j:j + n_ok, i] = traj[:n_ok]
            if n_ok:
                s = float(traj[n_ok - 1])
            j += n_ok
            if leave.size:                              # the step that leaves the binade
                dj = d_i[j:j + 1] if d_i is not None else None
                s = float(fxsim.cast(np.array([s + inc[j]]), fmt, rounding, "saturate",
                                     **_kw(rounding, r, rule, dj)).to_float()[0])
                out[j, i] = s
                j += 1
    return out


def stall_point(fmt, inc_max: float, r: int) -> float:
    """The sum at which r-bit SR (trunc) of s + inc stops moving: the first binade 2^e whose
    spacing u = 2^(e − m) has inc_max < u·2^−r (then ⌊φ·2^r⌋ = 0 for every increment).

    >>> stall_point(fxsim.FloatFormat.parse("bf16"), 1.5e-3, 8)
    64.0
    """
    e = math.floor(math.log2(inc_max * 2.0**r)) + 1 + fmt.man_bits
    return 2.0**e


def acc_configs() -> list:
    """(rounding, r, SourceSpec or None) of (f2): RN; SR r = 16 from ideal bits and the LFSRs
    16 and 32 (serial, state); SR r = 8 from ideal bits and LFSR 8 (serial, state)."""
    g = lambda n, rule: SourceSpec("lfsr", n, "galois", rule)     # noqa: E731
    return ([("nearest_even", None, None)]
            + [("stochastic", 16, s) for s in (IDEAL, g(16, "serial"), g(16, "state"),
                                               g(32, "serial"), g(32, "state"))]
            + [("stochastic", 8, s) for s in (IDEAL, g(8, "serial"), g(8, "state"))])


def float_accumulation(steps=10**5, replicas=4, check_steps=300, streams=tuple(STREAMS),
                       configs=None, fmt="bf16", trace_points=100, seed=0, progress=False):
    """(f2) Rows: final sum / exact sum (mean and s.d. over the replicas) per stream and
    configuration, ``recurrence_match`` over the first ``check_steps`` steps, and a trace.

    >>> rows = float_accumulation(steps=500, replicas=1, check_steps=10, streams=("iid",),
    ...                           configs=[("nearest_even", None, None)], trace_points=2)
    >>> sorted({r["metric"] for r in rows})
    ['final_over_exact', 'final_over_exact_sd', 'final_sum', 'recurrence_match', 'sum']
    """
    configs = acc_configs() if configs is None else configs
    F = fxsim.FloatFormat.parse(fmt)
    bar = make_progress(len(streams) * len(configs), "(f2) float accumulation", progress)
    rows = []
    stride = max(1, steps // trace_points)
    for stream in streams:
        inc = float_increments(stream, steps, seed)
        exact = math.fsum(inc)
        cum = np.cumsum(inc)
        for j in range(stride - 1, steps, stride):
            rows.append(_row("float_acc_trace", format=fmt, source="exact", stream=stream, k=j + 1,
                             metric="sum", value=float(cum[j])))
        for rounding, r, spec in configs:
            label = "round-to-nearest" if spec is None else f"SR r={r}, {spec.label}"
            d = (spec.make(seed, "float_acc", stream, r).draws(steps * replicas, r)
                 if spec is not None else None)
            traj = accumulate_float(inc, F, rounding, r, "trunc", d, replicas)
            ratio = traj[-1] / exact
            common = dict(format=fmt, source=label, rule="trunc" if spec else None, r=r, stream=stream,
                          k=steps)
            rows.append(_row("float_accumulation", **common, metric="final_over_exact",
                             value=float(ratio.mean()), predicted=1.0,
                             stderr=float(ratio.std(ddof=1) / math.sqrt(replicas)) if replicas > 1 else 0.0))
            rows.append(_row("float_accumulation", **common, metric="final_sum",
                             value=float(traj[-1].max()),
                             predicted=stall_point(F, float(inc.max()), r) if r else None))
            rows.append(_row("float_accumulation", **common, metric="final_over_exact_sd",
                             value=float(ratio.std(ddof=1)) if replicas > 1 else 0.0))
            if check_steps:
                ref = accumulate_float_steps(inc, F, rounding, r, "trunc", d, replicas, check_steps)
                rows.append(_row("float_accumulation", **common, metric="recurrence_match",
                                 value=float(np.array_equal(ref, traj[:check_steps]))))
            if stream == "iid":
                for j in range(stride - 1, steps, stride):
                    rows.append(_row("float_acc_trace", format=fmt, source=label, stream=stream,
                                     r=r, k=j + 1, metric="sum", value=float(traj[j, 0])))
            bar.update(1, f"{stream} {label}")
    bar.close()
    return rows


# -- (f3) dot products ---------------------------------------------------------------------------

def dot_configs() -> list:
    g = lambda n: SourceSpec("lfsr", n, "galois", "serial")     # noqa: E731
    return [("nearest_even", None, None), ("stochastic", 16, IDEAL), ("stochastic", 16, g(16)),
            ("stochastic", 8, g(8))]


def float_dot(ks=(64, 256, 1024), reps=32, accs=("bf16", "fp32"), dists=("positive", "zero-mean"),
              configs=None, seed=0, progress=False):
    """(f3) Rows: RMS relative error of ``reps`` dot products of length k of e4m3 vectors
    (products exact in float64), accumulated s ← cast(s + a_i·b_i) in ``accs``.

    >>> rows = float_dot(ks=(8,), reps=2, accs=("fp32",), dists=("positive",),
    ...                  configs=[("nearest_even", None, None)])
    >>> rows[0]["metric"], rows[0]["k"]
    ('rms_rel_error', 8)
    """
    configs = dot_configs() if configs is None else configs
    e4m3 = fxsim.FloatFormat.parse("e4m3")
    K = max(ks)
    bar = make_progress(len(accs) * len(dists) * len(configs), "(f3) float dot", progress)
    rows = []
    for dist in dists:
        rng = _rng(seed, "float_dot", dist)
        if dist == "positive":
            a, b = rng.uniform(0, 1, (2, reps, K))
        else:
            a, b = rng.normal(0, 1, (2, reps, K))
        a = fxsim.cast(a, e4m3).to_float()
        b = fxsim.cast(b, e4m3).to_float()
        p = a * b
        for acc in accs:
            F = fxsim.FloatFormat.parse(acc)
            for rounding, r, spec in configs:
                src = spec.make(seed, "float_dot", dist, acc, r) if spec is not None else None
                kw = dict(r=r, source=src) if spec is not None else {}
                s = np.zeros(reps)
                label = "round-to-nearest" if spec is None else f"SR r={r}, {spec.label}"
                for j in range(K):
                    s = fxsim.cast(s + p[:, j], F, rounding, "saturate", **kw).to_float()
                    if j + 1 in ks:
                        exact = np.array([math.fsum(row[:j + 1]) for row in p])
                        scale = np.array([math.fsum(np.abs(row[:j + 1])) for row in p])
                        rel = (s - exact) / scale
                        rows.append(_row("float_dot", format=acc, source=label, r=r, stream=dist,
                                         k=j + 1, metric="rms_rel_error",
                                         value=float(np.sqrt(np.mean(rel**2))),
                                         predicted=float(np.mean(rel))))
                bar.update(1, f"{dist} {acc} {label}")
    bar.close()
    return rows


# -- verdicts, markdown, figure, run -----------------------------------------------------------

def _sel(rows, **kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


def float_verdicts(rows) -> list:
    """The verdicts of (f1)-(f3) from their rows (a part without rows gives none).

    >>> float_verdicts([])
    []
    """
    out = []
    b = _sel(rows, study="float_bias")
    if b:
        worst = max(b, key=lambda r: abs(r["z"]))
        ideal = [r for r in b if r["source"] == IDEAL.label]
        wi = max(ideal, key=lambda r: abs(r["z"])) if ideal else worst
        out.append(verdict("the bias of r-bit SR from ideal bits into bf16/e4m3 is the closed "
                           "form of §9.2 for every rule and r", abs(wi["z"]) < 4.5,
                           f"worst |z| {abs(wi['z']):.2f} ({wi['format']}, {wi['rule']}, r={wi['r']})"))
        lf = [r for r in b if r["source"] != IDEAL.label]
        if lf:
            bad = [r for r in lf if abs(r["z"]) >= 4.5]
            wl = max(lf, key=lambda r: abs(r["z"]))
            out.append(verdict("LFSR bits give the same SR bias as ideal bits (|z| < 4.5)", not bad,
                               f"{len(bad)} of {len(lf)} cells off; worst |z| {abs(wl['z']):.3g} "
                               f"({wl['source']}, {wl['format']}, {wl['rule']}, r={wl['r']})"))
    a = _sel(rows, study="float_accumulation", metric="final_over_exact", stream="iid")
    if a:
        rn = _sel(a, source="round-to-nearest")[0]
        ideal = _sel(a, source=f"SR r=16, {IDEAL.label}")[0]
        out.append(verdict("round-to-nearest stagnates in the bf16 accumulation; SR with 16 ideal "
                           "random bits tracks the sum (within 5 %)",
                           rn["value"] < 0.01 and abs(ideal["value"] - 1) < 0.05,
                           f"RN ends at {rn['value']:.2%} of the sum, SR at {ideal['value']:.4f}"))
        sr8 = _sel(rows, study="float_accumulation", metric="final_sum", r=8)
        if sr8:
            stall = sr8[0]["predicted"]
            hi = max(r["value"] for r in sr8)
            out.append(verdict(f"SR with 8 random bits (trunc) stalls where inc < u·2^−8: at "
                               f"{stall:g} (every source and stream)", hi <= stall,
                               f"largest final sum {hi:g}, exact {sr8[0]['k'] * 1e-3:g}"))
    allacc = _sel(rows, study="float_accumulation", metric="final_over_exact")
    zs = []
    for r in allacc:
        if r["r"] is None or IDEAL.label in r["source"]:
            continue
        ts = _sel(allacc, stream=r["stream"], r=r["r"], source=f"SR r={r['r']}, {IDEAL.label}")
        if not ts:
            continue
        t = ts[0]
        se = math.hypot(r["stderr"] or 0.0, t["stderr"] or 0.0)
        zs.append(((r["value"] - t["value"]) / se if se > 0 else 0.0, r))
    if zs:
        z, w = max(zs, key=lambda p: abs(p[0]))
        out.append(verdict("LFSR bits give the final sum of ideal bits in the bf16 accumulation "
                           "(|z| < 4; every source, r and stream incl. the periodic ones)",
                           abs(z) < 4, f"worst z {z:+.2f}: {w['source']}, {w['stream']}, "
                           f"{w['value']:.4f} vs ideal"))
    for dist in ("positive", "zero-mean"):
        d = _sel(rows, study="float_dot", stream=dist, format="bf16")
        if d:
            K = max(r["k"] for r in d)
            rn = _sel(d, k=K, source="round-to-nearest")[0]
            sr = [r for r in _sel(d, k=K) if r["r"] == 16]
            worst = max(r["value"] for r in sr)
            out.append(verdict(f"SR in a bf16 accumulator beats round-to-nearest on {dist} e4m3 "
                               f"dot products (k = {K})", worst < rn["value"],
                               f"RMS relative error RN {fmt_number(rn['value'])}, SR r=16 "
                               f"≤ {fmt_number(worst)} (ideal and LFSR16)"))
    return out


def float_markdown(rows, verdicts, meta) -> str:
    """Settings, verdict lines and one table per measurement.

    >>> float_markdown([], [], {"seed": 0}).splitlines()[0]
    '# LFSR vs ideal bits for float stochastic rounding'
    """
    lines = ["# LFSR vs ideal bits for float stochastic rounding", "",
             "Settings: " + ", ".join(f"{k} {v}" for k, v in meta.items()), "",
             "## Verdicts", "", "```", verdict_lines(verdicts), "```", ""]
    b = _sel(rows, study="float_bias")
    if b:
        lines += ["## (f1) Mean SR error (units of u) against §9.2's closed form", "",
                  markdown_table(["format", "source", "rule", "r", "measured", "predicted", "z"],
                                 [[r["format"], r["source"], r["rule"], r["r"], f"{r['value']:+.5f}",
                                   f"{r['predicted']:+.5f}", f"{r['z']:+.2f}"] for r in b]), ""]
    a = _sel(rows, study="float_accumulation", metric="final_over_exact")
    if a:
        match = {(r["source"], r["stream"]): r["value"] for r in
                 _sel(rows, study="float_accumulation", metric="recurrence_match")}
        lines += ["## (f2) bf16 accumulation: final sum / exact sum (mean ± s.e. over replicas)", "",
                  markdown_table(["stream", "configuration", "final / exact", "± s.e.", "per-step check"],
                                 [[r["stream"], r["source"], f"{r['value']:.4f}", f"{r['stderr']:.4f}",
                                   {1.0: "equal", 0.0: "DIFFERS", None: ""}[match.get((r["source"], r["stream"]))]]
                                  for r in a]), ""]
    d = _sel(rows, study="float_dot")
    if d:
        lines += ["## (f3) e4m3 dot products: RMS relative error (|s − exact| / Σ|a_i b_i|)", "",
                  markdown_table(["inputs", "accumulator", "configuration", "k", "RMS rel. error"],
                                 [[r["stream"], r["format"], r["source"], r["k"], fmt_number(r["value"])]
                                  for r in d]), ""]
    return "\n".join(lines)


def plot_floats(rows, path) -> str:
    """The three panels (bias against r, accumulation traces, dot-product errors); returns ``path``.

    >>> import tempfile
    >>> os.path.exists(plot_floats([], os.path.join(tempfile.mkdtemp(), "f.png")))
    True
    """
    fig = figure(16, 4.4)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for (fname, rule), ls in zip([(f, ru) for f in ("bf16", "e4m3") for ru in RULES],
                                 ["-", "--", ":"] * 2):
        for src, col in ((IDEAL.label, "C0"), ("LFSR16 gal serial x1", "C1"), ("LFSR8 gal state x1", "C3")):
            rs = _sel(rows, study="float_bias", format=fname, rule=rule, source=src)
            if rs and fname == "bf16":
                ax1.plot([r["r"] for r in rs], [r["value"] for r in rs], ls, color=col, marker=".",
                         label=f"{rule}, {src}")
        pr = _sel(rows, study="float_bias", format=fname, rule=rule, source=IDEAL.label)
        if pr and fname == "bf16":
            ax1.plot([r["r"] for r in pr], [r["predicted"] for r in pr], ls, color="k", lw=0.6)
    _dress(ax1, "random bits r", "mean error E[cast(x)] − x  (units of u)",
           "(f1) bias of r-bit SR into bf16; u = the bf16 spacing at x\n(black: §9.2's closed form)",
           "major", title="rule, source", title_fontsize=7)
    tr = _sel(rows, study="float_acc_trace")
    for src in dict.fromkeys(r["source"] for r in tr):
        pts = [r for r in tr if r["source"] == src]
        # the exact sum dashed on top: the SR curves that follow it stay visible under it
        ax2.loglog([r["k"] for r in pts], _positive(pts),
                   "k--" if src == "exact" else "-", lw=1.2 if src == "exact" else 2,
                   zorder=3 if src == "exact" else 2, label=src)
    _dress(ax2, "step k", "accumulator value (sum so far)",
           "(f2) 10^-3 increments summed in bf16 (i.i.d. stream, replica 0)")
    d = _sel(rows, study="float_dot", stream="positive")
    for (acc, src) in dict.fromkeys((r["format"], r["source"]) for r in d):
        pts = _sel(d, format=acc, source=src)
        ax3.loglog([r["k"] for r in pts], _positive(pts),
                   "o-" if acc == "bf16" else "s--", label=f"{acc}: {src}")
    _dress(ax3, "dot-product length k", "RMS relative error",
           "(f3) e4m3 products accumulated in bf16 / fp32 (positive inputs)")
    fig.savefig(path, dpi=100)
    return path


def _positive(pts):
    """The rows' values for a log axis: non-positive ones as NaN (a gap)."""
    return [r["value"] if r["value"] > 0 else np.nan for r in pts]


def _dress(ax, xlabel, ylabel, heading, grid="both", **legend):
    """Labels, title, legend (none for a part that did not run) and grid of one panel."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(heading, fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, **legend)
    ax.grid(alpha=0.3, which=grid)


def run_floats(out_dir, quick=False, seed=0, progress=True, copy_figures_to=None):
    """Run (f1)-(f3), write ``compare_rng_floats.csv``, ``compare_rng_floats.md`` and
    ``compare_rng_floats.png`` into ``out_dir``; returns the ``StudyResult`` (with ``verdicts``).
    ``quick=True`` takes ~12 s CPU, so the example is skipped:

    >>> res = run_floats("results/compare_rng", quick=True)     # doctest: +SKIP
    >>> sorted(res.files)                                        # doctest: +SKIP
    ['csv', 'floats_png', 'md']
    """
    p = FLOAT_PRESETS["quick" if quick else "full"]
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    secs = {}
    rows = []
    for name, fn, kw in (
            ("bias", float_bias, dict(rs=p["rs"], n_inputs=p["bias_inputs"], reps=p["bias_reps"])),
            ("accumulation", float_accumulation, dict(steps=p["acc_steps"], replicas=p["replicas"],
                                                      check_steps=p["check_steps"])),
            ("dot", float_dot, dict(ks=p["dot_k"], reps=p["dot_reps"]))):
        t = time.perf_counter()
        rows += fn(seed=seed, progress=progress, **kw)
        secs[name] = time.perf_counter() - t
    verdicts = float_verdicts(rows)
    files = {"csv": os.path.join(out_dir, "compare_rng_floats.csv"),
             "md": os.path.join(out_dir, "compare_rng_floats.md")}
    write_csv(rows, files["csv"], FLOAT_COLUMNS, float_format="{:.8g}")
    files["floats_png"] = plot_floats(rows, os.path.join(out_dir, "compare_rng_floats.png"))
    meta = {"preset": "quick" if quick else "full", "seed": seed, "increment steps": f"{p['acc_steps']:,}",
            "replicas": p["replicas"], "seconds per part": {k: round(v, 1) for k, v in secs.items()}}
    md = float_markdown(rows, verdicts, meta)
    return finish(md, files, time.perf_counter() - t0, rows, copy_figures_to, timings=secs,
                  verdicts=verdicts)
