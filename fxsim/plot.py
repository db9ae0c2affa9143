"""Teaching figures (matplotlib only): the fixed-point grid over a function, rounding-error
histograms, a word's bit field, a number on the real line, loss curves with bands over seeds.

Every function draws into ``ax`` (a new figure's Axes when ``ax`` is None, made with pyplot
so notebooks show it) and returns the Axes, so users can restyle it.  Artists that tests and
users may want to find again carry a ``gid``: ``"fxsim-grid"`` (grid points), ``"hist:<label>"``
(one histogram), ``"box<i>"``/``"bit<i>"`` (bit i of a word, i = 0 the LSB),
``"median:<label>"``/``"band:<label>"`` (loss curves).
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .fixed import FixedArray
from .modes import OVERFLOW, ROUNDING, STOCHASTIC, CastMode
from .ops import cast
from .qformat import QFormat, qformat

__all__ = ["grid_contour", "rounding_errors", "rounding_error_hist", "bitfield", "number_line",
           "loss_bands", "BIT_COLORS"]

#: face colours of the bit field: sign, integer and fraction bits
BIT_COLORS = {"sign": "#f4a6a6", "integer": "#a6c8f4", "fraction": "#b8e6b0"}


def _axes(ax, figsize):
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _window(name, lim):
    try:
        lo, hi = (float(v) for v in lim)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a pair (low, high) of numbers, got {lim!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{name}: needs finite low < high, got ({lo}, {hi})")
    return lo, hi


def _grid_span(fmt: QFormat, lo: float, hi: float):
    """First and last raw word k of ``fmt`` with lo <= k * lsb <= hi (exact: lsb is a power of
    two) and their count (0 when none)."""
    k0 = max(math.ceil(lo / fmt.lsb), fmt.min_raw)
    k1 = min(math.floor(hi / fmt.lsb), fmt.max_raw)
    return k0, k1, max(0, k1 - k0 + 1)


def _grid_raws(fmt: QFormat, lo: float, hi: float) -> np.ndarray:
    k0, k1, _ = _grid_span(fmt, lo, hi)
    return np.arange(k0, k1 + 1, dtype=np.float64)


def _as_paths(iterates):
    if iterates is None:
        return {}
    if isinstance(iterates, dict):
        items = iterates.items()
    else:
        try:
            arr = np.asarray(iterates, dtype=np.float64)
        except ValueError:                    # ragged: a list of paths of different lengths
            arr = None
        if arr is not None and arr.ndim == 2:
            items = [("iterates", arr)]
        else:
            items = [(f"run {i}", p) for i, p in enumerate(iterates)]
    out = {}
    for label, p in items:
        p = np.asarray(p, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"iterates: each path must have shape (n, 2), got {p.shape} for {label!r}")
        out[str(label)] = p
    return out


def grid_contour(f, fmt, xlim, ylim, *, iterates=None, levels=15, log_levels=False,
                 vectorized=True, resolution=200, max_points=10_000, colors=None, ax=None,
                 title=None):
    """Contours of a 2-D function with every grid point of ``fmt`` in the window on top, and
    optional iterates (paths of points) drawn over them.

    ``f(X, Y)`` takes meshgrid arrays (``vectorized=False``: ``f(np.array([x, y]))`` is called
    per point instead, e.g. a model's ``loss``).  ``fmt``: a QFormat or a string such as
    ``"Q(8,4)"``; both coordinates are on its grid.  ``iterates``: an (n, 2) array, a list of
    them or a dict label -> (n, 2) array; a path starts at a square and ends at a star.
    ``levels``: number of contour levels or the levels themselves; ``log_levels``: geometric
    levels (for losses spanning decades).  With more than ``max_points`` grid points in the
    window the points are not drawn (they would fill the plot); a note on the Axes (gid
    ``"fxsim-grid-note"``) says so: zoom in or take a coarser format to see them.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> ax = grid_contour(lambda X, Y: X**2 + 2 * Y**2, "Q(8,4)", (-1, 1), (-0.5, 0.5),
    ...                   iterates=[[0.75, 0.5], [0.375, 0.0], [0.1875, 0.0]])
    >>> type(ax).__name__, ax.get_title()
    ('Axes', 'Q(8,4) grid (LSB 2^-4 = 0.0625) over the contours of f')
    >>> [len(c.get_offsets()) for c in ax.collections if c.get_gid() == "fxsim-grid"]
    [561]
    >>> plt.close("all")
    """
    fmt = qformat(fmt)
    x0, x1 = _window("xlim", xlim)
    y0, y1 = _window("ylim", ylim)
    if not (isinstance(resolution, int) and 2 <= resolution <= 2000):
        raise ValueError(f"resolution: must be an integer in 2..2000, got {resolution!r}")
    n_grid = _grid_span(fmt, x0, x1)[2] * _grid_span(fmt, y0, y1)[2]
    paths = _as_paths(iterates)
    ax = _axes(ax, (6, 5))
    X, Y = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    if vectorized:
        Z = np.asarray(f(X, Y), dtype=np.float64)
    else:
        Z = np.array([f(np.array([a, b])) for a, b in zip(X.ravel(), Y.ravel())],
                     dtype=np.float64).reshape(X.shape)
    if Z.shape != X.shape:
        raise ValueError(f"f: returned shape {Z.shape}, expected {X.shape} (f(X, Y) on meshgrid "
                         f"arrays; pass vectorized=False for a function of one point)")
    if log_levels and isinstance(levels, int):
        zmax = float(np.nanmax(Z))
        pos = Z[Z > 0]
        zmin = max(float(pos.min()) if pos.size else zmax * 1e-6, zmax * 1e-6)
        levels = np.geomspace(zmin, zmax, levels)
    ax.contour(X, Y, Z, levels=levels, cmap="viridis", linewidths=0.9, alpha=0.8)
    if n_grid > max_points:
        ax.text(0.01, 0.01, f"{n_grid} grid points of {fmt} in the window: too many to draw",
                transform=ax.transAxes, fontsize=8, color="0.3", gid="fxsim-grid-note")
    elif n_grid:
        GX, GY = np.meshgrid(_grid_raws(fmt, x0, x1) * fmt.lsb, _grid_raws(fmt, y0, y1) * fmt.lsb)
        size = float(np.clip(2500.0 / n_grid, 1.0, 16.0))
        ax.scatter(GX.ravel(), GY.ravel(), s=size, color="0.45", lw=0, zorder=2, gid="fxsim-grid",
                   label=f"{fmt} grid points")
    for i, (label, p) in enumerate(paths.items()):
        c = colors[i] if colors is not None else f"C{i % 10}"
        ax.plot(p[:, 0], p[:, 1], "-o", color=c, ms=3, lw=1.2, zorder=3, label=label,
                gid=f"path:{label}")
        ax.plot(p[0, 0], p[0, 1], "s", color=c, ms=6, zorder=4)
        ax.plot(p[-1, 0], p[-1, 1], "*", color=c, mec="k", mew=0.5, ms=12, zorder=4)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("x₁ (real value)")
    ax.set_ylabel("x₂ (real value)")
    ax.set_title(title if title is not None else
                 f"{fmt} grid (LSB 2^{-fmt.fl} = {fmt.lsb:g}) over the contours of f")
    return ax


def rounding_errors(x, fmt, modes=None, *, overflow="saturate", r=16, source=None, seed=0,
                    eps=0.25, v=None, sr_rule="trunc", mode=None) -> dict:
    """Rounding errors (cast(x) − x) / LSB of each rounding mode, as float64 arrays.

    ``x``: floats; ``fmt``: QFormat or string; ``modes``: rounding names (default None: all 14).
    Stochastic modes use ``r`` random bits per cast from ``source`` (default: a fresh
    ``fxsim.Ideal("pcg64", seed=seed)`` per mode, so each mode's errors are reproducible),
    ``eps`` for the ε modes and ``v`` for ``signed_stochastic_eps`` (default ``v = x``: the bias
    points towards zero).  ``mode``: a ``CastMode`` in place of ``overflow``, ``r``, ``eps`` and
    ``sr_rule`` (not both), applied to every rounding of ``modes`` (default: its own rounding).
    The differences are taken in float64 (exact for inputs well inside the format's range).
    Returns {mode: errors}.

    >>> e = rounding_errors([0.3, -0.3], "Q(8,4)", ["floor", "nearest_even"])
    >>> {m: [round(float(v), 2) for v in e[m]] for m in e}
    {'floor': [-0.8, -0.2], 'nearest_even': [0.2, -0.2]}
    >>> from fxsim import CastMode
    >>> list(rounding_errors([0.3], "Q(8,4)", mode=CastMode("stochastic", r=8)))
    ['stochastic']
    """
    fmt = qformat(fmt)
    x = np.asarray(x, dtype=np.float64)
    if mode is not None:
        given = [k for k, val, default in (("overflow", overflow, "saturate"), ("r", r, 16),
                                           ("eps", eps, 0.25), ("sr_rule", sr_rule, "trunc"))
                 if val != default]
        if given:
            raise ValueError(f"mode: pass either mode= or {', '.join(k + '=' for k in given)}, not both")
        mode = CastMode.of(mode)
        if modes is None:
            modes = [mode.rounding]
        overflow, r, eps, sr_rule = mode.overflow, mode.r, mode.eps, mode.sr_rule
    if modes is None:
        modes = ROUNDING
    if isinstance(modes, str):
        modes = [modes]
    bad = [m for m in modes if m not in ROUNDING]
    if bad:
        raise ValueError(f"modes: unknown rounding {bad[0]!r}; allowed: {', '.join(ROUNDING)}")
    if overflow not in OVERFLOW:
        raise ValueError(f"overflow: must be one of {', '.join(OVERFLOW)}, got {overflow!r}")
    out = {}
    for m in modes:
        kw = {}
        if m in STOCHASTIC:
            from .sources import Ideal
            kw = dict(source=source if source is not None else Ideal("pcg64", seed=seed))
            if m == "signed_stochastic_eps":
                kw["v"] = x if v is None else v
            cm = CastMode(m, overflow, r, eps if m != "stochastic" else 0, sr_rule)
        else:
            cm = CastMode(m, overflow)
        y = cast(x, fmt, mode=cm, **kw).to_float()
        out[m] = (y - x) / fmt.lsb
    return out


def rounding_error_hist(errors, *, bins=None, density=False, show_mean=True, colors=None,
                        ax=None, title=None):
    """Histograms (step lines on common bin edges) of rounding errors in LSB.

    ``errors``: one array, or a dict label -> array (e.g. from ``rounding_errors``).  ``bins``:
    None (64 bins), a number of bins, or the edges; the default range covers every error and at
    least [−1, 1] LSB.  Each histogram is an ``ax.stairs`` artist with gid ``"hist:<label>"``
    whose values are ``numpy.histogram``'s counts (``density=True``: per LSB); the legend shows
    each mean error (the bias) when ``show_mean``.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> x = np.linspace(-3, 3, 1001)
    >>> ax = rounding_error_hist(rounding_errors(x, "Q(8,4)", ["floor", "nearest_even"]), bins=8)
    >>> [int(a.get_data().values.sum()) for a in ax.patches]
    [1001, 1001]
    >>> ax.get_xlabel()
    'rounding error (LSB)'
    >>> plt.close("all")
    """
    if not isinstance(errors, dict):
        errors = {"errors": errors}
    errs = {str(k): np.asarray(v, dtype=np.float64).ravel() for k, v in errors.items()}
    if not errs:
        raise ValueError("errors: nothing to plot (empty dict)")
    for k, e in errs.items():
        if e.size == 0 or not np.all(np.isfinite(e)):
            raise ValueError(f"errors: {k!r} must be a non-empty array of finite numbers")
    if bins is None or isinstance(bins, (int, np.integer)):
        n = 64 if bins is None else int(bins)
        if n < 1:
            raise ValueError(f"bins: must be >= 1, got {n}")
        lo = min(-1.0, min(float(e.min()) for e in errs.values()))
        hi = max(1.0, max(float(e.max()) for e in errs.values()))
        edges = np.linspace(lo, hi, n + 1)
    else:
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise ValueError("bins: edges must be an increasing 1-D sequence of >= 2 numbers")
    ax = _axes(ax, (6, 4))
    for i, (k, e) in enumerate(errs.items()):
        counts, _ = np.histogram(e, edges, density=density)
        label = f"{k} (mean {e.mean():+.3f} LSB)" if show_mean else k
        c = colors[i] if colors is not None else f"C{i % 10}"
        ax.stairs(counts, edges, label=label, color=c, lw=1.5, gid=f"hist:{k}")
    ax.set_xlabel("rounding error (LSB)")
    ax.set_ylabel("density (1/LSB)" if density else "count")
    if len(errs) > 1 or show_mean:
        ax.legend(fontsize=8)
    ax.set_title(title if title is not None else "rounding error distribution")
    return ax


def _word(word, fmt):
    if isinstance(word, FixedArray):
        if fmt is not None and qformat(fmt) != word.fmt:
            raise ValueError(f"fmt: {fmt} differs from the FixedArray's format {word.fmt}")
        if word.size != 1:
            raise ValueError(f"word: pass one element (e.g. a[i]), got a FixedArray of shape {word.shape}")
        return int(word.raw.reshape(-1)[0]), word.fmt
    if fmt is None:
        raise ValueError("fmt: required when word is a raw integer")
    fmt = qformat(fmt)
    if isinstance(word, bool) or not isinstance(word, (int, np.integer)):
        raise ValueError(f"word: expected a FixedArray element or a raw integer, got {word!r}")
    raw = int(word)
    if not fmt.min_raw <= raw <= fmt.max_raw:
        raise ValueError(f"word: raw value {raw} outside {fmt}'s range [{fmt.min_raw}, {fmt.max_raw}]")
    return raw, fmt


def bitfield(word, fmt=None, *, show_weights=True, ax=None, title=None):
    """A word drawn as wl coloured boxes, MSB on the left: the sign bit (signed formats), the
    integer bits and the fraction bits, each box with its bit (two's complement) and, below,
    its weight (the sign bit weighs −2^(wl−1−fl)); a dot marks the binary point (or a note says
    how far outside the word it lies when fl < 0 or fl > wl).

    ``word``: a one-element FixedArray (e.g. ``a[3]``), or a raw integer with ``fmt``.
    Box i (bit i, i = 0 the LSB) is a Rectangle with gid ``"box<i>"``, its bit a Text with gid
    ``"bit<i>"``.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from fxsim import cast
    >>> ax = bitfield(cast(-1.3125, "Q(8,4)"))
    >>> "".join(t.get_text() for t in sorted((t for t in ax.texts if (t.get_gid() or "").startswith("bit")),
    ...                                     key=lambda t: t.get_position()[0]))
    '11101011'
    >>> ax.get_title()
    '-1.3125 = -21 · 2^-4 in Q(8,4): 0b11101011'
    >>> plt.close("all")
    """
    import matplotlib.patches as mpatches

    raw, fmt = _word(word, fmt)
    wl, fl = fmt.wl, fmt.fl
    pattern = raw & ((1 << wl) - 1)
    ax = _axes(ax, (max(4.0, 0.55 * wl + 1.5), 2.2))
    for p in range(wl):
        i = wl - 1 - p                       # bit index, 0 = LSB
        kind = ("sign" if fmt.signed and i == wl - 1 else
                "integer" if i - fl >= 0 else "fraction")
        ax.add_patch(mpatches.Rectangle((p, 0), 1, 1, facecolor=BIT_COLORS[kind], edgecolor="k",
                                        lw=1, gid=f"box{i}"))
        ax.text(p + 0.5, 0.5, str((pattern >> i) & 1), ha="center", va="center", fontsize=14,
                family="monospace", gid=f"bit{i}")
        if show_weights:
            w = f"$-2^{{{i - fl}}}$" if kind == "sign" else f"$2^{{{i - fl}}}$"
            ax.text(p + 0.5, -0.25, w, ha="center", va="top", fontsize=7 if wl <= 24 else 5,
                    gid=f"weight{i}")
    if 0 <= fl <= wl:
        ax.plot([wl - fl], [0], "o", color="k", ms=7, clip_on=False, gid="binary-point")
        ax.text(wl - fl, 1.12, "binary point", ha="center", va="bottom", fontsize=8)
    else:
        where = f"{fl - wl} places left of the MSB" if fl > wl else f"{-fl} places right of the LSB"
        ax.text(wl / 2, 1.12, f"binary point {where}", ha="center", va="bottom", fontsize=8)
    handles = [mpatches.Patch(facecolor=BIT_COLORS[k], edgecolor="k",
                              label="sign bit" if k == "sign" else f"{k} bits")
               for k in ("sign", "integer", "fraction")
               if (k != "sign" or fmt.signed)
               and (k != "integer" or wl - fl - int(fmt.signed) > 0)
               and (k != "fraction" or fl > 0)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
              frameon=False)
    ax.set_xlim(-0.2, wl + 0.2)
    ax.set_ylim(-1.0, 1.5)
    ax.set_aspect("equal")
    ax.axis("off")
    if title is None:
        value = Fraction(raw) * fmt.exact_lsb
        vtxt = f"{float(value):.10g}" if float(value) == value else str(value)
        title = f"{vtxt} = {raw} · 2^{-fl} in {fmt}: 0b{pattern:0{wl}b}"
    ax.set_title(title)
    return ax


def number_line(x, values, fmt, *, span=None, max_ticks=200, ax=None, title=None):
    """Where ``x`` and each candidate value lie on the real line, between ``fmt``'s grid points:
    one row per label of ``values`` (dict label -> float or one-element FixedArray), the grid
    points as thin vertical lines, ``x`` as a dashed red line.  ``span``: the window (default:
    every value and x with 1.5 LSB to spare); grid lines are drawn while there are at most
    ``max_ticks`` of them.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> ax = number_line(0.3, {"floor": 0.25, "ceil": 0.3125}, "Q(8,4)")
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['floor', 'ceil']
    >>> plt.close("all")
    """
    fmt = qformat(fmt)
    if not isinstance(values, dict) or not values:
        raise ValueError("values: expected a non-empty dict label -> value")
    vals = {str(k): float(v.to_float().reshape(-1)[0]) if isinstance(v, FixedArray) else float(v)
            for k, v in values.items()}
    x = float(x)
    if span is None:
        pts = list(vals.values()) + [x]
        span = (min(pts) - 1.5 * fmt.lsb, max(pts) + 1.5 * fmt.lsb)
    lo, hi = _window("span", span)
    ax = _axes(ax, (7, 0.45 * len(vals) + 1.5))
    if _grid_span(fmt, lo, hi)[2] <= max_ticks:
        for k in _grid_raws(fmt, lo, hi):
            ax.axvline(k * fmt.lsb, color="0.8", lw=0.8, zorder=0)
    ax.axvline(x, color="tab:red", ls="--", lw=1.2, label=f"x = {x:g}")
    rows = np.arange(len(vals))
    ax.scatter(list(vals.values()), rows, color="k", s=30, zorder=3)
    ax.set_yticks(rows, list(vals))
    ax.set_ylim(len(vals) - 0.5, -0.5)
    ax.set_xlim(lo, hi)
    ax.set_xlabel(f"real value (grey lines: the grid of {fmt}, LSB {fmt.lsb:g})")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title if title is not None else f"x = {x:g} rounded into {fmt}")
    return ax


def _stack(curves) -> np.ndarray:
    if isinstance(curves, np.ndarray) and curves.ndim == 2:
        return curves.astype(np.float64)
    if isinstance(curves, np.ndarray) and curves.ndim == 1:
        return curves.astype(np.float64)[None, :]
    rows = [np.asarray(c, dtype=np.float64).ravel() for c in curves]
    if not rows or any(r.size == 0 for r in rows):
        raise ValueError("curves: needs at least one non-empty curve per label")
    out = np.full((len(rows), max(r.size for r in rows)), np.nan)
    for i, r in enumerate(rows):
        out[i, :r.size] = r
    return out


def _band_q(band):
    if band in ("minmax", None, "none"):
        return (0.0, 1.0) if band == "minmax" else None
    if isinstance(band, (int, float)) and not isinstance(band, bool) and 0 < band < 0.5:
        return (float(band), 1.0 - float(band))
    if isinstance(band, tuple) and len(band) == 2 and 0 <= band[0] < band[1] <= 1:
        return (float(band[0]), float(band[1]))
    raise ValueError(f"band: must be 'minmax', 'none', a quantile q in (0, 0.5) or a pair "
                     f"(lo, hi) of quantiles in [0, 1], got {band!r}")


def loss_bands(curves, *, x=None, band="minmax", logy=True, colors=None, ax=None, title=None,
               xlabel="iteration k", ylabel="loss"):
    """Loss curves over seeds: for each label the median line and a band (min–max by
    default; ``band=q`` the [q, 1−q] quantiles; ``band=(lo, hi)``; ``"none"``).

    ``curves``: a 2-D array (seeds × iterations), a list of 1-D curves (ragged ones are padded
    with NaN: a curve that stopped early no longer counts), or a dict label -> one of those.
    ``x``: the abscissae (default 0, 1, ...); ``logy``: log-scaled y axis.  The median is a
    Line2D with gid ``"median:<label>"``, the band a PolyCollection with gid ``"band:<label>"``.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> runs = np.array([[1.0, 0.5, 0.25], [2.0, 1.0, 0.5], [4.0, 2.0, 1.0]])
    >>> ax = loss_bands({"SR": runs})
    >>> [float(v) for v in ax.lines[0].get_ydata()]
    [2.0, 1.0, 0.5]
    >>> ax.get_yscale()
    'log'
    >>> plt.close("all")
    """
    q = _band_q(band)
    if not isinstance(curves, dict):
        curves = {"loss": curves}
    ax = _axes(ax, (6, 4))
    for i, (label, c) in enumerate(curves.items()):
        C = _stack(c)
        n = C.shape[1]
        xs = np.arange(n) if x is None else np.asarray(x, dtype=np.float64)[:n]
        if xs.size != n:
            raise ValueError(f"x: has {xs.size} points, the curves of {label!r} have {n}")
        ok = np.any(np.isfinite(C), axis=0)
        med = np.full(n, np.nan)
        med[ok] = np.nanmedian(C[:, ok], axis=0)
        col = colors[i] if colors is not None else f"C{i % 10}"
        ax.plot(xs, med, color=col, lw=1.6, label=str(label), gid=f"median:{label}")
        if q is not None and C.shape[0] > 1:
            lo = np.full(n, np.nan)
            hi = np.full(n, np.nan)
            lo[ok] = np.nanquantile(C[:, ok], q[0], axis=0)
            hi[ok] = np.nanquantile(C[:, ok], q[1], axis=0)
            ax.fill_between(xs, lo, hi, where=ok, color=col, alpha=0.18, lw=0, gid=f"band:{label}")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if title is not None:
        ax.set_title(title)
    return ax
