"""fxsim.plot: every helper returns its Axes, and what it draws is checked against values
computed here independently (two's complement by Python's modulo, grid counts by brute force
over Fractions, histograms by numpy on errors from numpy's own rounding functions, medians and
quantiles by sorting)."""
import re
from fractions import Fraction

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import fxsim  # noqa: E402
from fxsim import FixedArray, QFormat, cast, plot  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _by_gid(artists, prefix):
    return {a.get_gid(): a for a in artists if (a.get_gid() or "").startswith(prefix)}


# -- bitfield ----------------------------------------------------------------------------------

BIT_CASES = [
    (QFormat(8, 4), [-128, -21, -1, 0, 1, 127]),
    (QFormat(8, 4, False), [0, 1, 200, 255]),
    (QFormat(6, -2), [-32, -5, 31]),                 # binary point right of the word
    (QFormat(5, 7), [-16, 3, 15]),                   # binary point left of the word
    (QFormat(1, 0), [-1, 0]),
    (QFormat(16, 16, False), [0xBEEF]),
]


@pytest.mark.parametrize("fmt,raws", BIT_CASES, ids=lambda v: str(v))
def test_bitfield_boxes_bits_weights(fmt, raws):
    wl, fl = fmt.wl, fmt.fl
    for raw in raws:
        ax = plot.bitfield(raw, fmt)
        boxes = _by_gid(ax.patches, "box")
        assert sorted(boxes) == sorted(f"box{i}" for i in range(wl))
        # box i sits at column wl - 1 - i (MSB on the left)
        for i in range(wl):
            assert boxes[f"box{i}"].get_x() == wl - 1 - i
        pattern = raw % (1 << wl)                    # two's complement word, independently
        bits = _by_gid(ax.texts, "bit")
        assert {g: t.get_text() for g, t in bits.items()} == \
            {f"bit{i}": str((pattern >> i) & 1) for i in range(wl)}
        # the printed weights reproduce the value exactly
        total = Fraction(0)
        for i in range(wl):
            m = re.fullmatch(r"\$(-?)2\^\{(-?\d+)\}\$", _by_gid(ax.texts, f"weight{i}")[f"weight{i}"].get_text())
            w = Fraction(2) ** int(m.group(2)) * (-1 if m.group(1) else 1)
            total += w * ((pattern >> i) & 1)
        assert total == raw * Fraction(2) ** -fl
        # colours: sign / integer / fraction counts
        faces = [tuple(np.round(boxes[f"box{i}"].get_facecolor()[:3], 3)) for i in range(wl)]
        col = {k: tuple(np.round(matplotlib.colors.to_rgb(v), 3)) for k, v in plot.BIT_COLORS.items()}
        n_sign = int(fmt.signed)
        n_frac = min(max(fl, 0), wl - n_sign)        # the sign bit is coloured as the sign
        assert faces.count(col["fraction"]) == n_frac
        assert faces.count(col["sign"]) == n_sign
        assert faces.count(col["integer"]) == wl - n_frac - n_sign
        if fmt.signed:
            assert faces[wl - 1] == col["sign"]
        point = [ln for ln in ax.lines if ln.get_gid() == "binary-point"]
        if 0 <= fl <= wl:
            assert [float(v) for v in point[0].get_xdata()] == [wl - fl]
        else:
            assert not point
            assert any("binary point" in t.get_text() and "places" in t.get_text() for t in ax.texts)
        plt.close("all")


def test_bitfield_fixedarray_element_and_errors():
    a = cast(np.array([0.5, -1.3125, 7.0]), "Q(8,4)")
    ax = plot.bitfield(a[1])
    bits = _by_gid(ax.texts, "bit")
    assert "".join(bits[f"bit{i}"].get_text() for i in reversed(range(8))) == "11101011"
    assert ax.get_title().startswith("-1.3125 = -21")
    with pytest.raises(ValueError, match="word"):
        plot.bitfield(a)                                     # three elements
    with pytest.raises(ValueError, match="word"):
        plot.bitfield(128, "Q(8,4)")                         # outside the raw range
    with pytest.raises(ValueError, match="fmt"):
        plot.bitfield(5)
    with pytest.raises(ValueError, match="fmt"):
        plot.bitfield(a[0], "Q(8,3)")
    fig, ax0 = plt.subplots()
    assert plot.bitfield(3, "Q(4,2)", ax=ax0) is ax0


# -- grid_contour ------------------------------------------------------------------------------

def _count_grid(fmt, lo, hi):
    """Raw words k of fmt with lo <= k 2^-fl <= hi, by brute force over exact Fractions."""
    lo, hi = Fraction(lo), Fraction(hi)
    return [k for k in range(fmt.min_raw, fmt.max_raw + 1) if lo <= k * fmt.exact_lsb <= hi]


@pytest.mark.parametrize("fmt,xlim,ylim", [
    (QFormat(8, 4), (-1, 1), (-0.5, 0.5)),
    (QFormat(6, 2), (-10.0, 3.1), (7.0, 20.0)),          # clipped by the format's range
    (QFormat(7, 3, False), (-2, 1.3), (0.26, 0.74)),
    (QFormat(8, 0), (-3.5, 2.5), (0.1, 0.9)),            # no grid row in ylim
])
def test_grid_contour_points(fmt, xlim, ylim):
    ax = plot.grid_contour(lambda X, Y: X**2 + Y**2, fmt, xlim, ylim)
    kx, ky = _count_grid(fmt, *xlim), _count_grid(fmt, *ylim)
    grid = [c for c in ax.collections if c.get_gid() == "fxsim-grid"]
    if not kx or not ky:
        assert not grid
        return
    pts = grid[0].get_offsets()
    assert len(pts) == len(kx) * len(ky)
    want = {(Fraction(i) * fmt.exact_lsb, Fraction(j) * fmt.exact_lsb) for i in kx for j in ky}
    assert {(Fraction(float(x)), Fraction(float(y))) for x, y in pts} == want
    assert ax.get_xlim() == pytest.approx(xlim) and ax.get_ylim() == pytest.approx(ylim)
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def test_grid_contour_iterates_pointwise_and_limits():
    path = np.array([[0.75, 0.5], [0.375, 0.0], [0.1875, 0.0625]])
    fig, ax0 = plt.subplots()
    ax = plot.grid_contour(lambda v: float(v @ v), "Q(8,4)", (-1, 1), (-1, 1), vectorized=False,
                           resolution=20, iterates={"run": path, "other": path[:2]}, ax=ax0)
    assert ax is ax0
    lines = _by_gid(ax.lines, "path:")
    assert sorted(lines) == ["path:other", "path:run"]
    np.testing.assert_array_equal(np.column_stack(lines["path:run"].get_data()), path)
    # one path as a plain list of points
    ax = plot.grid_contour(lambda X, Y: X + Y, "Q(8,4)", (-1, 1), (-1, 1), iterates=path.tolist())
    assert list(_by_gid(ax.lines, "path:")) == ["path:iterates"]
    # too many grid points: none drawn, a note instead
    for fmt, lim in (("Q(16,8)", (-4, 4)), ("Q(64,40)", (-1e6, 1e6))):     # 2^80 points: not built
        ax = plot.grid_contour(lambda X, Y: X + Y, fmt, lim, lim, resolution=20)
        assert not [c for c in ax.collections if c.get_gid() == "fxsim-grid"]
        assert [t for t in ax.texts if t.get_gid() == "fxsim-grid-note"]
    with pytest.raises(ValueError, match="xlim"):
        plot.grid_contour(lambda X, Y: X, "Q(8,4)", (1, -1), (-1, 1))
    with pytest.raises(ValueError, match="f: returned shape"):
        plot.grid_contour(lambda X, Y: 1.0, "Q(8,4)", (-1, 1), (-1, 1))
    with pytest.raises(ValueError, match="iterates"):
        plot.grid_contour(lambda X, Y: X, "Q(8,4)", (-1, 1), (-1, 1), iterates={"a": np.zeros((3, 3))})


# -- rounding errors and their histogram -------------------------------------------------------

NUMPY_ROUND = {
    "floor": np.floor, "ceil": np.ceil, "toward_zero": np.trunc, "nearest_even": np.rint,
    "away_from_zero": lambda t: np.sign(t) * np.ceil(np.abs(t)),
}


def _inputs(n=20_000, seed=1):
    return np.random.default_rng(seed).uniform(-6, 6, n)


def test_rounding_errors_match_numpy_rounding():
    x = _inputs()
    fmt = QFormat(8, 4)
    e = plot.rounding_errors(x, fmt, list(NUMPY_ROUND))
    t = x * 16.0                                           # exact: a power-of-two scaling
    for mode, fn in NUMPY_ROUND.items():
        np.testing.assert_array_equal(e[mode], fn(t) - t, err_msg=mode)


def test_rounding_errors_stochastic_unbiased_and_seeded():
    x = _inputs(50_000, seed=2)
    e = plot.rounding_errors(x, "Q(8,4)", ["stochastic"], r=16, seed=5)["stochastic"]
    assert np.all(np.abs(e) < 1)
    # E[e] = -(discarded bits below r) / 2^r per cast, < 2^-16 LSB: zero within 5 standard errors
    # of the mean (the error's s.d. is at most 1/2 LSB)
    assert abs(e.mean()) < 5 * 0.5 / np.sqrt(e.size)
    again = plot.rounding_errors(x, "Q(8,4)", ["stochastic"], r=16, seed=5)["stochastic"]
    np.testing.assert_array_equal(e, again)
    other = plot.rounding_errors(x, "Q(8,4)", ["stochastic"], r=16, seed=6)["stochastic"]
    assert not np.array_equal(e, other)
    e2 = plot.rounding_errors(x, "Q(8,4)", ["signed_stochastic_eps"], r=16, eps=0.25)
    # v = x by default: biased against sign(x), i.e. towards zero by ~eps LSB
    assert np.mean(e2["signed_stochastic_eps"] * np.sign(x)) < -0.2
    with pytest.raises(ValueError, match="modes"):
        plot.rounding_errors(x, "Q(8,4)", ["nearest"])
    with pytest.raises(ValueError, match="overflow"):
        plot.rounding_errors(x, "Q(8,4)", ["floor"], overflow="clip")


def test_rounding_errors_mode_matches_numpy_and_reference():
    """mode= (a CastMode): deterministic modes against numpy's rounding, a stochastic one against
    the Fraction reference fed with numpy's own PCG64 words (R = w >> (64 - r))."""
    import reference as ref
    from fxsim import CastMode
    x = _inputs(2_000, seed=3)
    t = x * 16.0
    e = plot.rounding_errors(x, "Q(8,4)", ["floor", "ceil"], mode=CastMode("nearest_even", "wrap"))
    for m in ("floor", "ceil"):
        np.testing.assert_array_equal(e[m], NUMPY_ROUND[m](t) - t, err_msg=m)
    x = x[:300]
    mode = CastMode("stochastic_eps", "saturate", r=8, eps=0.25, sr_rule="half")
    got = plot.rounding_errors(x, "Q(8,4)", mode=mode, seed=4)
    R = np.random.PCG64(4).random_raw(x.size) >> np.uint64(56)
    want = [ref.ref_cast(float(xi), 8, 4, True, "stochastic_eps", "saturate", R=int(Ri), r=8,
                         eps=Fraction(1, 4), sr_rule="half") - Fraction(float(xi)) * 16
            for xi, Ri in zip(x, R)]
    assert list(got) == ["stochastic_eps"]
    np.testing.assert_array_equal(got["stochastic_eps"], np.array([float(w) for w in want]))
    with pytest.raises(ValueError, match="either mode= or r=, overflow=|either mode= or overflow=, r="):
        plot.rounding_errors(x, "Q(8,4)", mode=mode, r=4, overflow="wrap")


def test_rounding_error_hist_counts_match_numpy():
    x = _inputs()
    t = x * 16.0
    errs = {m: NUMPY_ROUND[m](t) - t for m in ("floor", "nearest_even")}
    got = plot.rounding_errors(x, "Q(8,4)", list(errs))
    ax = plot.rounding_error_hist(got)
    edges = np.linspace(-1.0, 1.0, 65)                     # default: 64 bins over [-1, 1] here
    hists = _by_gid(ax.patches, "hist:")
    assert sorted(hists) == ["hist:floor", "hist:nearest_even"]
    for m, e in errs.items():
        d = hists[f"hist:{m}"].get_data()
        np.testing.assert_allclose(d.edges, edges)
        np.testing.assert_array_equal(d.values, np.histogram(e, edges)[0])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == f"floor (mean {errs['floor'].mean():+.3f} LSB)"
    # density: integrates to 1; explicit edges; single array
    ax = plot.rounding_error_hist(errs["floor"], bins=[-1, -0.5, 0, 0.5], density=True)
    d = ax.patches[0].get_data()
    assert float(np.sum(d.values * np.diff(d.edges))) == pytest.approx(1.0)
    assert ax.get_ylabel() == "density (1/LSB)"
    fig, ax0 = plt.subplots()
    assert plot.rounding_error_hist(errs, bins=10, ax=ax0) is ax0
    with pytest.raises(ValueError, match="bins"):
        plot.rounding_error_hist(errs, bins=[0, 0])
    with pytest.raises(ValueError, match="errors"):
        plot.rounding_error_hist({"a": [np.nan]})


# -- number line -------------------------------------------------------------------------------

def test_number_line_rows_and_grid():
    fmt = QFormat(8, 4)
    vals = {"floor": cast(0.3, fmt, "floor"), "ceil": 0.3125, "far": -0.5}
    ax = plot.number_line(0.3, vals, fmt)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["floor", "ceil", "far"]
    pts = ax.collections[0].get_offsets()
    np.testing.assert_array_equal(np.asarray(pts)[:, 0], [0.25, 0.3125, -0.5])
    lo, hi = ax.get_xlim()
    assert (lo, hi) == (-0.5 - 1.5 / 16, 0.3125 + 1.5 / 16)
    vlines = [ln for ln in ax.lines if ln.get_color() == "0.8"]
    assert len(vlines) == len(_count_grid(fmt, lo, hi))
    with pytest.raises(ValueError, match="values"):
        plot.number_line(0.3, {}, fmt)


# -- loss bands --------------------------------------------------------------------------------

def _band_at(coll, x):
    v = coll.get_paths()[0].vertices
    ys = v[np.isclose(v[:, 0], x), 1]
    return float(ys.min()), float(ys.max())


def test_loss_bands_median_and_band():
    rng = np.random.default_rng(0)
    runs = rng.lognormal(size=(5, 30))
    srt = np.sort(runs, axis=0)
    ax = plot.loss_bands({"SR": runs, "RN": runs[:1]})
    med = _by_gid(ax.lines, "median:")
    np.testing.assert_array_equal(med["median:SR"].get_ydata(), srt[2])      # middle of 5
    np.testing.assert_array_equal(med["median:RN"].get_ydata(), runs[0])
    band = _by_gid(ax.collections, "band:")
    assert list(band) == ["band:SR"]                                          # one run: no band
    for j in (0, 7, 29):
        assert _band_at(band["band:SR"], j) == (srt[0, j], srt[4, j])
    assert ax.get_yscale() == "log"
    # quantile band q = 0.25 over 5 runs: positions 1 and 3 of the sorted values (exact)
    ax = plot.loss_bands(runs, band=0.25, logy=False, x=np.arange(30) * 10)
    assert ax.get_yscale() == "linear"
    coll = _by_gid(ax.collections, "band:")["band:loss"]
    for j in (0, 13):
        assert _band_at(coll, 10 * j) == pytest.approx((srt[1, j], srt[3, j]))


def test_loss_bands_ragged_and_errors():
    a, b, c = [4.0, 2.0, 1.0, 0.5], [8.0, 4.0], [2.0, 1.0, 0.5]
    ax = plot.loss_bands([a, b, c])
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [4.0, 2.0, 0.75, 0.5])
    fig, ax0 = plt.subplots()
    assert plot.loss_bands({"x": [a]}, ax=ax0) is ax0
    with pytest.raises(ValueError, match="band"):
        plot.loss_bands([a], band=0.7)
    with pytest.raises(ValueError, match="x"):
        plot.loss_bands([a], x=[0, 1])
    with pytest.raises(ValueError, match="curves"):
        plot.loss_bands({"empty": [[]]})
