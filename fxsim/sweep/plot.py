"""Figures from a sweep's tables: one panel per ``col`` (and ``row``) value, one line per
``hue`` value, the median over the runs of each line and a band (min–max by default).

``y`` a recorded series (``loss``, ``excess``...) with ``x = "iteration"`` reads
``series.parquet``; any other ``x`` (a label such as ``t``) with a summary field (``final_excess``,
``iters_to_tol``...) reads ``summary.parquet``.  Runs that differ in settings not named (as
``hue``, ``col``, ``row`` or in ``where``) are pooled into the same median and band: filter
with ``where={"source": "lfsr16"}``.  The y axis is logarithmic when no value is negative and
the positive ones span more than two decades (``logy=None``; a 0 is then drawn at the bottom
edge), as is the x axis of a summary plot.
The figure is drawn on its own Agg canvas: the process's matplotlib backend is never switched.
"""
from __future__ import annotations


import numpy as np

from ..plot import loss_bands
from ..studies._report import figure
from .store import read_tables

__all__ = ["plot_sweep", "parse_where"]


def parse_where(items) -> dict:
    """``["source=lfsr16", "t=0.05"]`` -> {"source": "lfsr16", "t": "0.05"} (``--where``).

    >>> parse_where(["source=lfsr16"])
    {'source': 'lfsr16'}
    >>> parse_where(["source"])
    Traceback (most recent call last):
        ...
    ValueError: --where: expected KEY=VALUE, got 'source'
    """
    out = {}
    for it in items or ():
        k, sep, v = it.partition("=")
        if not sep or not k:
            raise ValueError(f"--where: expected KEY=VALUE, got {it!r}")
        out[k.strip()] = v.strip()
    return out


def _matches(value, want):
    if isinstance(want, str) and not isinstance(value, str) and value is not None:
        try:
            return float(value) == float(want)
        except ValueError:
            return False
    return value == want


def _natural_log(values) -> bool:
    """Non-negative values whose positive ones span more than two decades."""
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    v = v[np.isfinite(v)]
    pos = v[v > 0]
    return bool(pos.size and np.all(v >= 0) and pos.max() > 100 * pos.min())


def _label(v):
    return f"{v:g}" if isinstance(v, float) else str(v)


def plot_sweep(source, *, x="iteration", y="loss", hue=None, col=None, row=None, where=None,
               band="minmax", logy=None, title=None, path=None):
    """The figure (a matplotlib ``Figure``) of a sweep folder (or a (series, summary) pair of
    pyarrow tables); written to ``path`` when given (see the module doc).

    >>> import tempfile
    >>> from fxsim.sweep import SweepConfig, run_sweep
    >>> from fxsim.sweep.config import example
    >>> d = tempfile.mkdtemp()
    >>> _ = run_sweep(SweepConfig(dict(example(), axes={"strategy": ["round-to-nearest", "SR"]})),
    ...               d, serial=True, progress=False)
    >>> fig = plot_sweep(d, y="excess", hue="strategy")
    >>> ax = fig.axes[0]; sorted(l.get_gid() for l in ax.lines), ax.get_yscale()
    (['median:SR', 'median:round-to-nearest'], 'log')
    >>> plot_sweep(d, y="nope")
    Traceback (most recent call last):
        ...
    ValueError: y: 'nope' is not a column of the sweep's series table; choose one of loss, excess, moved
    """
    series, summary = read_tables(source) if not isinstance(source, tuple) else source
    per_iter = x == "iteration"
    table = series if per_iter else summary
    name = "series" if per_iter else "summary"
    ident = ("run_index", "replicate", "run_key", "iteration", "status", "error")
    numeric = [c for c in table.column_names if c not in ident
               and table.schema.field(c).type in (_float(), _int())
               and (not per_iter or c not in summary.column_names)]
    labels = [c for c in table.column_names if c not in ident and c not in numeric]
    for what, key, choices in (("y", y, numeric), ("x", None if per_iter else x, labels + numeric),
                               ("hue", hue, labels), ("col", col, labels), ("row", row, labels),
                               *(("where", k, labels) for k in (where or {}))):
        if key is not None and key not in choices:
            raise ValueError(f"{what}: {key!r} is not a column of the sweep's {name} table; choose "
                             f"one of {', '.join(choices)}")
    cols = {c: table.column(c).to_pylist() for c in
            dict.fromkeys(["run_index", "replicate", x, y] + [k for k in (hue, col, row) if k]
                          + list(where or {}))}
    keep = [i for i in range(table.num_rows)
            if all(_matches(cols[k][i], v) for k, v in (where or {}).items())]
    if not keep:
        raise ValueError(f"where: no run matches {where}")

    def levels(key):
        return list(dict.fromkeys(cols[key][i] for i in keep)) if key else [None]
    rows_, cols_, hues = levels(row), levels(col), levels(hue)
    fig = figure(4.6 * len(cols_) + 0.4, 3.6 * len(rows_) + 0.6)
    axs = fig.subplots(len(rows_), len(cols_), squeeze=False, sharey=True)
    ys = [cols[y][i] for i in keep]
    if logy is None:
        logy = _natural_log(ys)
    pos = [v for v in ys if v is not None and v > 0]
    floor = min(pos) / 10 if logy and pos else None     # a 0 is drawn at the bottom edge
    for r, rv in enumerate(rows_):
        for c, cv in enumerate(cols_):
            ax = axs[r][c]
            sel = [i for i in keep if (row is None or cols[row][i] == rv) and (col is None or cols[col][i] == cv)]
            curves = {}
            xs = None
            for hv in hues:
                idx = [i for i in sel if hue is None or cols[hue][i] == hv]
                if not idx:
                    continue
                if per_iter:
                    runs = {}
                    for i in idx:
                        runs.setdefault((cols["run_index"][i], cols["replicate"][i]), []).append(
                            (cols[x][i], cols[y][i]))
                    its = sorted({p[0] for v in runs.values() for p in v})
                    pos = {k: j for j, k in enumerate(its)}
                    C = np.full((len(runs), len(its)), np.nan)
                    for j, v in enumerate(runs.values()):
                        for k, val in v:
                            C[j, pos[k]] = np.nan if val is None else val
                    xs_h = np.asarray(its, dtype=np.float64)
                else:
                    xv = sorted({cols[x][i] for i in idx})
                    by = {v: [cols[y][i] for i in idx if cols[x][i] == v] for v in xv}
                    m = max(len(v) for v in by.values())
                    C = np.full((m, len(xv)), np.nan)
                    for j, v in enumerate(xv):
                        vals = [np.nan if q is None else q for q in by[v]]
                        C[:len(vals), j] = vals
                    xs_h = np.asarray(xv, dtype=np.float64)
                if floor is not None:
                    C = np.where(C <= 0, floor, C)
                if xs is not None and (xs.size != xs_h.size or np.any(xs != xs_h)):
                    loss_bands({_label(hv) if hue else y: C}, x=xs_h, band=band, logy=logy, ax=ax,
                               colors=[f"C{hues.index(hv) % 10}"], xlabel=x, ylabel=y)
                    continue
                xs = xs_h
                curves[_label(hv) if hue else y] = (C, f"C{hues.index(hv) % 10}")
            if curves:
                loss_bands({k: v[0] for k, v in curves.items()}, x=xs, band=band, logy=logy, ax=ax,
                           colors=[v[1] for v in curves.values()], xlabel=x, ylabel=y)
            if not per_iter:
                for line in ax.lines:
                    line.set_marker("o")
                if _natural_log([cols[x][i] for i in sel]):
                    ax.set_xscale("log")
            head = ", ".join(f"{k} = {_label(v)}" for k, v in ((row, rv), (col, cv)) if k)
            ax.set_title(head, fontsize=9)
            ax.grid(alpha=0.3, which="both")
            if hue and r == 0 and c == 0:
                ax.legend(title=hue, fontsize=8)
            elif ax.get_legend() is not None:
                ax.get_legend().remove()
    band_text = {"minmax": "min–max", "none": "none"}.get(band, f"quantiles {band}")
    fig.suptitle(title or f"{y} vs {x}: median over runs (band: {band_text})", fontsize=10)
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig


def _float():
    import pyarrow as pa
    return pa.float64()


def _int():
    import pyarrow as pa
    return pa.int64()
