"""The tables of the study "LFSR vs ideal randomness": its CSV file and its markdown (one table
per measurement, every number taken from the rows)."""
from __future__ import annotations

from .. import _report
from .._report import fmt_number, markdown_table
from .measure import ACC, ARRANGEMENTS, COLUMNS, INC_MEAN, STREAMS, select

__all__ = ["write_csv", "markdown"]

def write_csv(rows, path):
    """Write the study's rows to ``path`` (columns ``COLUMNS``; missing values empty).

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "rows.csv")
    >>> write_csv([{"study": "bias", "source": "ideal PCG64", "r": 4, "value": -0.03}], p)
    >>> open(p).read().splitlines()[1]
    'bias,ideal PCG64,,,,,4,,,,,,-0.03,,,'
    """
    _report.write_csv(rows, path, COLUMNS)


def _fmt(v, digits=3):
    return fmt_number(v, digits, fixed_from=1e-3)


def markdown(rows, meta=None) -> str:
    """The study's tables (one per measurement) as markdown.

    >>> print(markdown([], {"seed": 0}))
    # LFSR vs ideal randomness for stochastic rounding
    <BLANKLINE>
    seed = 0
    <BLANKLINE>
    """
    meta = meta or {}
    parts = ["# LFSR vs ideal randomness for stochastic rounding", ""]
    if meta:
        parts += [", ".join(f"{k} = {v}" for k, v in meta.items()), ""]

    bias = select(rows, study="bias")
    if bias:
        rs = sorted({r["r"] for r in bias})
        show = [r for r in (2, 4, 6, 8, 10, 12, 16) if r in rs]
        n_casts = meta.get("bias_casts")
        parts += ["## (a) SR bias E[cast(x)] − x (LSB) against spec §2",
                  "",
                  "Mean bias over one fixed set of inputs (the same for every source)"
                  + (f" ({n_casts} casts per cell)" if n_casts else "")
                  + "; first row: the exact §2 value (P(up) = D/2^r). z = (measured − §2)/σ, σ = "
                    "the sampling error of ideal bits; |z| ≤ 3 is indistinguishable from ideal.",
                  ""]
        body = [["§2 prediction"] + [_fmt(select(bias, r=r)[0]["predicted"]) for r in show] + ["", ""]]
        body.append(["σ (ideal)"] + [_fmt(select(bias, r=r)[0]["stderr"]) for r in show] + ["", ""])
        for src in dict.fromkeys(r["source"] for r in bias):
            cells = []
            for r in show:
                c = select(bias, source=src, r=r)
                cells.append(_fmt(c[0]["value"]) if c else "—")
            zs = [(abs(c["z"]), c["r"]) for c in select(bias, source=src)]
            zmax, rz = max(zs)
            cells += [f"{zmax:.1f}", str(rz)]
            body.append([src] + cells)
        parts += [markdown_table(["source"] + [f"r={r}" for r in show] + ["max abs z", "at r"], body), ""]

    acf = select(rows, study="acf")
    if acf:
        se = acf[0]["stderr"]
        parts += [f"## (b) Autocorrelation of rounding errors (r = {acf[0]['r']})", "",
                  f"ρ(lag) of e_j = cast(x_j) − x_j for i.i.d. inputs; ideal bits give |ρ| ≲ "
                  f"3/√N = {3 * se:.4f}.", ""]
        body = []
        for src in dict.fromkeys(r["source"] for r in acf):
            c = {r["x"]: r["value"] for r in select(acf, source=src)}
            lag, m = max(c.items(), key=lambda kv: abs(kv[1]))
            body.append([src] + [f"{c[h]:+.4f}" for h in (1, 2, 3, 8)] + [f"{m:+.4f}", str(lag)])
        parts += [markdown_table(["source", "lag 1", "lag 2", "lag 3", "lag 8", "max abs ρ", "at lag"], body), ""]

    acc = select(rows, study="accumulation")
    if acc:
        streams = list(dict.fromkeys(r["stream"] for r in acc))
        ex = {s: select(acc, source="exact", stream=s)[0]["value"] for s in streams}
        steps = acc[0]["x"]
        parts += ["## (c) A long accumulation in a narrow accumulator", "",
                  f"{steps:,} increments of mean {INC_MEAN} (= {INC_MEAN * 2**ACC.fl:.3f} LSB) into "
                  f"Q({ACC.wl},{ACC.fl}) (lsb 2^-{ACC.fl}); exact sums: "
                  + ", ".join(f"{STREAMS.get(s, s)} {ex[s] / 2**ACC.fl:.3f}" for s in streams)
                  + ". Cells: relative error of the final value, mean ± s.d. over trials "
                    "(differently seeded sources).", ""]
        body = []
        for src in dict.fromkeys(r["source"] for r in acc if r["source"] != "exact"):
            cells = []
            for s in streams:
                m = select(acc, source=src, stream=s, metric="rel_error_mean")
                sd = select(acc, source=src, stream=s, metric="rel_error_sd")
                cells.append(f"{100 * m[0]['value']:+.3f}% ± {100 * sd[0]['value']:.3f}%" if m else "—")
            ok = select(acc, source=src, metric="recurrence_match")
            cells.append("yes" if ok and all(o["value"] == 1.0 for o in ok) else ("NO" if ok else "—"))
            body.append([src] + cells)
        parts += [markdown_table(["rounding, source"] + [STREAMS.get(s, s) for s in streams]
                         + ["= per-step recurrence"], body), ""]

    ln = select(rows, study="lanes")
    if ln:
        Lmax = max(r["x"] for r in ln)
        Ls = [L for L in sorted({r["x"] for r in ln}) if L in (8, Lmax)]
        parts += ["## (d) L rounding units: where their random bits come from", "",
                  "S = the sum of the L units' rounding errors in one cycle. Var ratio = Var(S) / Σ Var(e_l) "
                  "(1: uncorrelated units); lag 1 = corr(S_k, S_k+1); 64-cycle var ratio = Var(sum of S "
                  "over 64 cycles) / (64 Σ Var(e_l)) (1: fully independent errors).", ""]
        body = []
        for L in Ls:
            for arr in ARRANGEMENTS:
                for rule in ("state", "serial", None):
                    c = {r["metric"]: r["value"] for r in select(ln, x=L, source=arr, rule=rule)}
                    if c:
                        body.append([str(L), ARRANGEMENTS[arr].replace("L units", f"{L} units"),
                                     rule or "—", f"{c['var_ratio']:.3f}", f"{c['lag1']:+.3f}",
                                     f"{c['block_var_ratio']:.3f}"])
        parts += [markdown_table(["L", "arrangement", "rule", "var ratio", "lag 1", "64-cycle var ratio"], body), ""]
    return "\n".join(parts)
