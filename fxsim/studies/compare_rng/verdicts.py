"""The verdicts of the study "LFSR vs ideal randomness": one line per claim that the README and
``docs/studies/compare_rng.md`` make, decided from the study's rows by a stated test.

Tests: a claim that sources are indistinguishable from ideal bits holds when every one of its m
checks has |z| <= ``z_limit(m)`` (two-sided z-test, Bonferroni over the m checks, family-wise
false-alarm probability ``ALPHA``); it does not hold when one exceeds it.  A claim that a
source differs holds when every check it names has |z| > ``z_limit(m)``; when some do not, the
sample was too small to resolve the effect and the claim is "not decided" (None), never "did
not hold".  Spreads over seeds are compared with a one-sided F test at ``ALPHA``.
"""
from __future__ import annotations

import math

import numpy as np

from .._report import verdict
from .measure import ACC, INC, increments, select
from .vendor import Z_LIMIT, vendor_verdicts

__all__ = ["ALPHA", "z_limit", "bias_verdicts", "acf_verdicts", "accumulation_verdicts",
           "lane_verdicts", "vendor_claims", "study_verdicts"]

#: family-wise false-alarm probability of every claim's test
ALPHA = 1e-3


def z_limit(m: int) -> float:
    """The two-sided z bound of m checks at family-wise false-alarm probability ``ALPHA``.

    >>> round(z_limit(1), 2), round(z_limit(15), 2)
    (3.29, 3.99)
    """
    from scipy.stats import norm
    return float(norm.isf(ALPHA / (2 * max(1, m))))


def _differs(zs) -> tuple:
    """(held, limit) of "every z differs from 0": True when all |z| exceed the bound, None when
    some do not (too few samples to tell), for a non-empty ``zs``."""
    lim = z_limit(len(zs))
    return (True if all(abs(z) > lim for z in zs) else None), lim


def _saw_z(row) -> float:
    if row["stderr"]:
        return (row["value"] - row["predicted"]) / row["stderr"]
    return 0.0 if row["value"] == row["predicted"] else math.inf


def bias_verdicts(rows) -> list:
    """(a): ideal bits follow §2 at every r; an 8-bit LFSR misses it (never R = 0); the 8-bit
    serial rule misses the §2 sawtooth at r = 3 (gcd(3, 255) > 1) where ideal bits follow it.

    >>> from fxsim.studies.compare_rng.measure import IDEAL, sr_bias
    >>> [v["held"] for v in bias_verdicts(sr_bias([IDEAL], rs=[2, 3], n_casts=2**12, n_phi=16))]
    [True]
    """
    out = []
    bias = select(rows, study="bias")
    ideal = select(bias, source="ideal PCG64")
    if ideal:
        lim = z_limit(len(ideal))
        z, r = max((abs(b["z"]), b["r"]) for b in ideal)
        out.append(verdict(f"ideal bits give spec §2's SR bias at every r = {ideal[0]['r']}..{ideal[-1]['r']}",
                           z <= lim, f"worst |z| {z:.1f} at r = {r} (limit {lim:.1f})"))
    lfsr8 = [b for b in bias if b["n"] == 8]
    if lfsr8:
        held, lim = _differs([b["z"] for b in lfsr8])
        off = sum(abs(b["z"]) > lim for b in lfsr8)
        out.append(verdict("an 8-bit LFSR's SR bias is off §2 at every r (it never draws R = 0)", held,
                           f"{off} of {len(lfsr8)} (source, r) cells beyond |z| {lim:.1f}; "
                           f"smallest |z| {min(abs(b['z']) for b in lfsr8):.1f}"))
    saw = select(rows, study="bias_vs_phi")
    s8 = select(saw, source="LFSR8 gal serial x1")
    si = select(saw, source="ideal PCG64")
    if s8 and si:
        lim = z_limit(len(si))
        zi = max(abs(_saw_z(p)) for p in si)
        z8 = max(abs(_saw_z(p)) for p in s8)
        held = False if zi > lim else (True if z8 > lim else None)
        out.append(verdict(f"at r = {s8[0]['r']} ideal bits follow the §2 sawtooth and an 8-bit "
                           "serial LFSR does not", held,
                           f"worst |z| ideal {zi:.1f}, LFSR8 {z8:.1f} (limit {lim:.1f})"))
    return out


def acf_verdicts(rows) -> list:
    """(b): the state rule's lag-1 correlation (1/4), moved to lag 8 by 8 lanes; the serial rule
    of n >= 16 bits like ideal bits; the 8-bit serial register's small negative ρ at every lag.

    >>> from fxsim.studies.compare_rng.measure import IDEAL, error_acf
    >>> [(v["claim"][:40], v["held"]) for v in acf_verdicts(error_acf([IDEAL], n_casts=2**12, max_lag=4))]
    [('the serial rule of 16- and 32-bit regist', True)]
    """
    out = []
    acf = select(rows, study="acf")
    if not acf:
        return out
    n = round(1 / acf[0]["stderr"] ** 2)
    r1 = [a for a in acf if a["rule"] == "state" and a["lanes"] == 1 and a["x"] == 1]
    if r1:
        held, lim = _differs([a["z"] for a in r1])
        vals = [a["value"] for a in r1]
        out.append(verdict("the state rule correlates consecutive rounding errors (ρ(1) ≈ 1/4)", held,
                           f"ρ(1) {min(vals):.3f}..{max(vals):.3f} over {len(r1)} one-lane registers, "
                           f"every z > {lim:.1f}" if held else
                           f"ρ(1) {min(vals):.3f}..{max(vals):.3f}, smallest z "
                           f"{min(abs(a['z']) for a in r1):.1f} (limit {lim:.1f})"))
    # 8-bit registers keep their period's small negative ρ at every lag (the last claim)
    st8 = [a for a in acf if a["rule"] == "state" and a["lanes"] == 8 and a["n"] >= 16]
    at8 = [a for a in st8 if a["x"] == 8]
    at1 = [a for a in st8 if a["x"] == 1]
    if at8 and at1:
        lim = z_limit(len(at8) + len(at1))
        moved = all(abs(a["z"]) > lim for a in at8)
        held = False if any(abs(a["z"]) > lim for a in at1) else (True if moved else None)
        out.append(verdict("with 8 lanes the state rule's correlation moves from lag 1 to lag 8 "
                           "(16- and 32-bit registers)", held,
                           f"ρ(8) {min(a['value'] for a in at8):.3f}..{max(a['value'] for a in at8):.3f}, "
                           f"worst |ρ(1)| {max(abs(a['value']) for a in at1):.4f} "
                           f"(|z| limit {lim:.1f})"))
    ser = [a for a in acf if (a["rule"] == "serial" and a["n"] >= 16) or a["n"] is None]
    if ser:
        lim = z_limit(len(ser))
        w = max(ser, key=lambda a: abs(a["z"]))
        out.append(verdict("the serial rule of 16- and 32-bit registers is indistinguishable from "
                           "ideal bits at every lag", abs(w["z"]) <= lim,
                           f"worst |z| {abs(w['z']):.1f} ({w['source']}, lag {w['x']}; limit {lim:.1f})"))
    s8 = [s for s in dict.fromkeys(a["source"] for a in acf)
          if s.startswith("LFSR8") and "serial" in s]
    if s8:
        # the mean of ρ over lags 1..H of independent errors has standard error 1/sqrt(H N)
        means, zs = [], []
        for s in s8:
            v = [a["value"] for a in select(acf, source=s)]
            means.append(float(np.mean(v)))
            zs.append(means[-1] * math.sqrt(len(v) * n))
        held, lim = _differs(zs)
        held = held if all(m < 0 for m in means) else (None if held is None else False)
        out.append(verdict("an 8-bit serial register (period 255) leaves a small negative ρ at every "
                           "lag (mean over lags)", held,
                           f"mean ρ {min(means):+.4f}..{max(means):+.4f}, |z| ≥ "
                           f"{min(abs(z) for z in zs):.1f} (limit {lim:.1f})"))
    return out


def _acc(rows, source, stream, metric):
    c = select(rows, study="accumulation", source=source, stream=stream, metric=metric)
    return c[0] if c else None


def _few_bit_bias(stream, steps, seed, r) -> float:
    """§2's expected relative error of the SR sum of ``increments(stream)`` with r bits
    (trunc): each step loses its discarded bits below the top r, in exact integers."""
    raw = np.asarray(increments(stream, steps, seed).raw, dtype=np.int64)
    s = INC.fl - ACC.fl
    lost = int((raw & ((1 << (s - r)) - 1)).sum())
    return -lost / int(raw.sum())


def accumulation_verdicts(rows, seed=0) -> list:
    """(c): nearest_even never moves; SR with 16 ideal bits tracks the sum; with 8 bits it carries
    §2's few-bit bias; an 8-bit LFSR's r = 8 sum differs from ideal bits'; a period-15 workload
    makes an 8-bit LFSR's result depend on its seed far more than ideal bits'.

    >>> from fxsim.studies.compare_rng.measure import AccConfig, accumulation
    >>> rows = accumulation([AccConfig("nearest_even")], streams=("iid",), steps=1000, trials=1,
    ...                     check_steps=0, trace_points=2)
    >>> [v["held"] for v in accumulation_verdicts(rows)]
    [True]
    """
    from scipy.stats import f as fdist
    out = []
    acc = select(rows, study="accumulation")
    if not acc:
        return out
    streams = list(dict.fromkeys(a["stream"] for a in acc))
    steps = acc[0]["x"]
    ne = [a for a in acc if a["source"] == "nearest_even" and a["metric"] == "final_lsb"]
    if ne:
        out.append(verdict("round-to-nearest never moves from 0 (every increment is below half an LSB)",
                           all(a["value"] == 0 for a in ne),
                           "final values " + ", ".join(f"{a['value']:g}" for a in ne) + " LSB"))
    m16 = [_acc(rows, "SR r=16, ideal PCG64", s, "rel_error_mean") for s in streams]
    m16 = [m for m in m16 if m and m["stderr"]]
    if m16:
        lim = z_limit(len(m16))
        zs = [m["value"] / m["stderr"] for m in m16]
        out.append(verdict("SR with 16 ideal bits tracks the exact sum (mean error 0)",
                           all(abs(z) <= lim for z in zs),
                           ", ".join(f"{m['stream']} {100 * m['value']:+.3f}% ± {100 * m['stderr']:.3f}%"
                                     for m in m16) + f" (worst |z| {max(map(abs, zs)):.1f}, limit {lim:.1f})"))
    m8 = [m for m in (_acc(rows, "SR r=8, ideal PCG64", s, "rel_error_mean") for s in streams)
          if m and m["stderr"]]
    if m8:
        lim = z_limit(len(m8))
        pred = {m["stream"]: _few_bit_bias(m["stream"], steps, seed, 8) for m in m8}
        zs = [(m["value"] - pred[m["stream"]]) / m["stderr"] for m in m8]
        out.append(verdict("SR with 8 ideal bits carries §2's few-bit bias", all(abs(z) <= lim for z in zs),
                           ", ".join(f"{m['stream']} {100 * m['value']:+.2f}% (§2: {100 * pred[m['stream']]:+.2f}%)"
                                     for m in m8) + f"; worst |z| {max(map(abs, zs)):.1f} (limit {lim:.1f})"))
    a = _acc(rows, "SR r=8, LFSR8 gal serial x1", "iid", "rel_error_mean")
    b = _acc(rows, "SR r=8, ideal PCG64", "iid", "rel_error_mean")
    if a and b and (a["stderr"] or b["stderr"]):
        z = (a["value"] - b["value"]) / math.hypot(a["stderr"], b["stderr"])
        held, lim = _differs([z])
        out.append(verdict("an 8-bit LFSR (never R = 0) shifts the r = 8 sum's bias (i.i.d. increments)",
                           held, f"{100 * a['value']:+.2f}% vs ideal {100 * b['value']:+.2f}% (z {z:.1f}, "
                                 f"limit {lim:.1f})"))
    if "period15" in streams:
        sa = _acc(rows, "SR r=8, LFSR8 gal serial x1", "period15", "rel_error_sd")
        sb = _acc(rows, "SR r=8, ideal PCG64", "period15", "rel_error_sd")
        n = len(select(acc, source="SR r=8, ideal PCG64", stream="period15", metric="final_lsb"))
        if sa and sb and n > 1 and sb["value"] > 0:
            F = (sa["value"] / sb["value"]) ** 2
            p = float(fdist.sf(F, n - 1, n - 1))
            out.append(verdict("with period-15 increments an 8-bit LFSR's sum depends on its seed far "
                               "more than ideal bits' (F test of the spread over seeds)",
                               True if p < ALPHA else None,
                               f"s.d. ±{100 * sa['value']:.2f}% vs ±{100 * sb['value']:.2f}% over {n} "
                               f"seeds (F {F:.0f}, p {p:.1g}, limit {ALPHA:g})"))
    return out


def _lane(rows, arr, rule, L, metric):
    c = select(rows, study="lanes", source=arr, rule=rule, x=L, metric=metric)
    return c[0]["value"] if c else None


def lane_verdicts(rows) -> list:
    """(d): only round-robin state-rule draws add up within a cycle; a state-rule register per
    unit gives lag 1 ≈ 1/4 and about doubles the 64-cycle noise, slicing one state multiplies it
    further; serial bits behave like ideal bits.  Standard errors under independence: a variance
    ratio sqrt(2 (1 + 2 ρ²/(1 − ρ²)) / N) (ρ the lag-1 correlation), a correlation 1/sqrt(N), a
    64-cycle variance ratio sqrt(2 / (N / 64)).

    >>> lane_verdicts([])
    []
    """
    out = []
    ln = select(rows, study="lanes")
    if not ln:
        return out
    N = ln[0]["count"]
    Ls = sorted({r["x"] for r in ln})
    combos = list(dict.fromkeys((r["source"], r["rule"]) for r in ln))

    def z_var(arr, rule, L):
        v, rho = _lane(ln, arr, rule, L, "var_ratio"), _lane(ln, arr, rule, L, "lag1")
        return (v - 1) / math.sqrt(2 * (1 + 2 * rho**2 / (1 - rho**2)) / N)

    def z_block(arr, rule, L, v=None):
        v = _lane(ln, arr, rule, L, "block_var_ratio") if v is None else v
        return (v - 1) / math.sqrt(2 / (N // 64))

    rr = [z_var("round-robin", "state", L) for L in Ls if L > 1 and _lane(ln, "round-robin", "state", L, "var_ratio")]
    others = [z_var(a, ru, L) for a, ru in combos if (a, ru) != ("round-robin", "state") for L in Ls
              if L > 1 and _lane(ln, a, ru, L, "var_ratio") is not None]
    if rr and others:
        lim = z_limit(len(rr) + len(others))
        held = False if any(abs(z) > lim for z in others) else (True if all(z > lim for z in rr) else None)
        out.append(verdict("within one cycle only round-robin state-rule draws make the units' errors "
                           "add up (Var(S)/ΣVar(e_l) > 1)", held,
                           f"round-robin state at L = {Ls[-1]}: {_lane(ln, 'round-robin', 'state', Ls[-1], 'var_ratio'):.2f}; "
                           f"every other arrangement within |z| {max(map(abs, others)):.1f} of 1 (limit {lim:.1f})"))
    per_unit = [(a, L, _lane(ln, a, "state", L, "lag1")) for a in ("independent", "lanes", "sliced") for L in Ls]
    per_unit = [p for p in per_unit if p[2] is not None]
    if per_unit:
        held, lim = _differs([v * math.sqrt(N) for _, _, v in per_unit])
        vals = [v for _, _, v in per_unit]
        out.append(verdict("a state-rule register per unit (or one sliced) gives a cycle-to-cycle "
                           "correlation of about 1/4", held,
                           f"lag 1 {min(vals):.3f}..{max(vals):.3f} (z > {lim:.1f} needed)"))
    blk = [(a, L, z_block(a, "state", L)) for a in ("independent", "lanes") for L in Ls
           if _lane(ln, a, "state", L, "block_var_ratio") is not None]
    if blk:
        held, lim = _differs([z for *_, z in blk])
        vals = [_lane(ln, a, "state", L, "block_var_ratio") for a, L, _ in blk]
        out.append(verdict("over 64 cycles a state-rule register per unit about doubles the rounding "
                           "noise", held, f"64-cycle var ratio {min(vals):.2f}..{max(vals):.2f} "
                                          f"(smallest z {min(z for *_, z in blk):.1f}, limit {lim:.1f})"))
    Ls_s = [L for L in Ls if _lane(ln, "sliced", "state", L, "block_var_ratio") is not None]
    if Ls_s:
        L = Ls_s[-1]
        a = _lane(ln, "sliced", "state", L, "block_var_ratio")
        b = _lane(ln, "independent", "state", L, "block_var_ratio")
        if b is not None:
            se = math.sqrt(2 / (N // 64))
            z = (a - b) / (se * math.hypot(a, b))
            held, lim = _differs([z])
            out.append(verdict(f"slicing one 64-bit state among {L} units multiplies the 64-cycle noise "
                               "more than a register per unit", held,
                               f"{a:.2f} vs {b:.2f} (z {z:.1f}, limit {lim:.1f})"))
    ser = [(a, ru, L) for a, ru in combos if ru in ("serial", None) for L in Ls
           if _lane(ln, a, ru, L, "var_ratio") is not None]
    if ser:
        pair, block = [], []
        for a, ru, L in ser:
            pair += [(z_var(a, ru, L), a, ru, L, "var_ratio"),
                     (_lane(ln, a, ru, L, "lag1") * math.sqrt(N), a, ru, L, "lag1")]
            block.append((z_block(a, ru, L), a, ru, L, "block_var_ratio"))
        for zs, what in ((pair, "within a cycle and from cycle to cycle"), (block, "over 64 cycles")):
            lim = z_limit(len(zs))
            z, a, ru, L, metric = max(zs, key=lambda t: abs(t[0]))
            out.append(verdict(f"serial-rule bits behave like ideal bits {what}, in every arrangement "
                               "and L", abs(z) <= lim,
                               f"worst |z| {abs(z):.1f} over {len(zs)} statistics: {metric} "
                               f"{_lane(ln, a, ru, L, metric):.3f}, {a} {ru or ''} L = {L} "
                               f"(limit {lim:.1f})"))
    return out


#: what the README says of each preset: True = indistinguishable from ideal bits
VENDOR_EXPECTED = {"curand:philox4x32_10": True, "curand:xorwow": True,
                   "graphcore:xoroshiro128aox": True, "xoroshiro128plus": True, "pcg64": True,
                   "amd:prng_b32": False, "tenstorrent:sfpu": False}


def vendor_claims(rows) -> list:
    """(e): per preset, the README's word (indistinguishable from ideal bits, or not: every |z| <=
    ``vendor.Z_LIMIT`` over its measurements); Tenstorrent's field-report bias in the spread of
    uniform means; the GD runs within noise of PCG64's at the same r and rule.

    >>> from fxsim.studies.compare_rng.vendor import vendor_errors
    >>> [v["held"] for v in vendor_claims(vendor_errors(["pcg64"], n_casts=2**12))]
    [True]
    """
    out = []
    v = select(rows, study="vendor")
    if not v:
        return out
    for spec, (z, where, _) in vendor_verdicts(rows).items():
        same = VENDOR_EXPECTED.get(spec, True)
        if same:
            out.append(verdict(f"{spec} bits are indistinguishable from ideal bits (every |z| ≤ {Z_LIMIT:g})",
                               z <= Z_LIMIT, f"worst |z| {z:.1f} ({where})"))
        else:
            out.append(verdict(f"{spec} bits are distinguishable from ideal bits", True if z > Z_LIMIT else None,
                               f"worst |z| {z:.1f} ({where}; limit {Z_LIMIT:g})"))
    tt = select(v, source="tenstorrent:sfpu", metric="uniform_mean_spread")
    worst = select(v, source="tenstorrent:sfpu", metric="uniform_worst_mean_pct")
    if tt:
        out.append(verdict("Tenstorrent's reported lane bias reappears: means of its uniforms spread "
                           "more than i.i.d. bits'", True if tt[0]["z"] > Z_LIMIT else None,
                           f"{tt[0]['value']:.1f}× the i.i.d. σ (z {tt[0]['z']:.0f})"
                           + (f", worst mean {worst[0]['value']:.1f}% off 1/2" if worst else "")))
    gd = [r for r in v if r["metric"] == "gd_final_gap" and r["source"] != "pcg64"
          and r["z"] is not None]
    if gd:
        w = max(gd, key=lambda r: abs(r["z"]))
        out.append(verdict(f"GD with SR fed by every preset ends within noise of PCG64 at the same r and rule "
                           f"(|z| ≤ {Z_LIMIT:g})", abs(w["z"]) <= Z_LIMIT,
                           f"worst z {w['z']:.1f} ({w['source']}, {w['stream']}: {w['value']:.2g} vs "
                           f"{w['predicted']:.2g})"))
    return out


def study_verdicts(rows, seed=0) -> list:
    """Every verdict of (a)-(e) that the rows support, in order.

    >>> study_verdicts([])
    []
    """
    return (bias_verdicts(rows) + acf_verdicts(rows) + accumulation_verdicts(rows, seed)
            + lane_verdicts(rows) + vendor_claims(rows))
