"""LP-SGD, SVRG, LP-SVRG and HALP (issue 5, De Sa et al. 2018) against independent references:
a Fraction-based quantizer, plain-numpy SVRG / LP-SVRG / HALP loops that replay numpy's own
PCG64 stream, and the paper's claims (LP-SVRG plateaus, HALP keeps SVRG's linear rate)."""
import math
from fractions import Fraction

import numpy as np
import pytest

from fxsim import Ideal
from reference import ref_overflow, ref_round
from fxsim.models.finite_sum import LinearRegression, SoftmaxRegression
from fxsim.optim import HALP, LPSGD, LPSVRG, SVRG, ScaledGrid, weight_format


@pytest.fixture(scope="module")
def linreg():
    return LinearRegression(n=100, d=5, seed=0)


# ----------------------------------------------------------------- (i) the quantizer Q_s
def pow2_at_least(s):
    """Smallest power of two ≥ s, as a Fraction (searched, not from frexp)."""
    s = Fraction(s)
    p = Fraction(1)
    while p < s:
        p *= 2
    while p / 2 >= s:
        p /= 2
    return p


def ref_q(x, s, b, scale, draws, r):
    """Q_s by the spec: t = x / step (pow2: exact rational; exact: the float64 quotient, the
    documented scale-multiplier input), SR with the top r discarded bits D: up iff D + R ≥ 2^r,
    then saturation to [−2^(b−1), 2^(b−1) − 1].  Returns Python ints k."""
    out = []
    for xi, R in zip(x, draws):
        if scale == "pow2":
            t = Fraction(float(xi)) / pow2_at_least(s)
        else:
            t = Fraction(float(xi) / s)
        out.append(ref_overflow(ref_round(t, "stochastic", R=int(R), r=r), b, True, "saturate"))
    return out


@pytest.mark.parametrize("scale", ["exact", "pow2"])
@pytest.mark.parametrize("b,r", [(2, 4), (8, 12), (8, 32), (16, 32)])
def test_quantizer_matches_fraction_reference(scale, b, r):
    rng = np.random.default_rng(100 * b + r)
    s = float(rng.uniform(0.01, 3.0))
    g = ScaledGrid(b, s, scale)
    lim = 2 ** (b - 1)
    span = lim * g.s
    x = rng.uniform(-1.5 * span, 1.5 * span, 3000)
    # edges: on the grid, the two limits, just beyond them, zero, half steps
    ks = np.array([0, 1, -1, lim - 1, -lim, lim, -lim - 1, lim + 5], dtype=np.float64)
    x = np.concatenate([x, ks * g.s, (ks + 0.5) * g.s, [0.0, -0.0, 1e-300, -1e-300]])
    draws = rng.integers(0, 2 ** r, size=x.size, dtype=np.uint64)
    q = g.quantize(x, r=r, draws=draws)
    k = [int(v) for v in q.raw]
    assert k == ref_q(x, s, b, scale, draws, r)
    assert min(k) == -lim and max(k) == lim - 1          # saturation reached on both sides
    # values on the grid: s·k (pow2: exactly k·2^-fl)
    if scale == "pow2":
        step = pow2_at_least(s)
        assert Fraction(g.s) == step and step >= Fraction(s) > step / 2
        assert all(Fraction(v) == step * kk for v, kk in zip(g.value(q), k))
    else:
        assert g.s == s and np.array_equal(g.value(q), s * np.array(k, dtype=np.float64))


@pytest.mark.parametrize("scale", ["exact", "pow2"])
def test_quantizer_sr_unbiased(scale):
    """E[Q_s(x)] = x: the mean of N = 40000 SR casts per value is within 5 standard errors.
    Each k is q or q+1 with P(up) = φ (r = 32: bias ≤ 2^-32, negligible), so the standard error
    of the mean is sqrt(φ(1−φ)/N) ≤ 0.0025 steps; 5 SE: a false failure has probability < 1e-6
    per value (normal approximation, 5 values)."""
    g = ScaledGrid(8, 0.37, scale)
    t = np.array([5.3, -17.75, 0.1, -0.9, 126.5])      # in grid steps, inside the range
    N = 40000
    x = np.tile(t * g.s, N)
    q = g.quantize(x, r=32, source=Ideal("pcg64", seed=7))
    k = q.raw.astype(np.float64).reshape(N, t.size)
    phi = t - np.floor(t)
    se = np.sqrt(phi * (1 - phi) / N)
    # the exact-scale cast sees the float64 quotient (x/s), whose error is ~1e-14 steps
    assert np.all(np.abs(k.mean(axis=0) - t) <= 5 * se + 1e-9)
    assert set(np.unique(k[:, 0])) == {5.0, 6.0}


def test_grid_scale_rule():
    g = ScaledGrid.for_gradient(3.0, 0.5, 8, "exact")
    assert g.s == 3.0 / (0.5 * 127)
    g2 = ScaledGrid.for_gradient(3.0, 0.5, 8, "pow2")
    assert g2.s == 0.0625 and str(g2.fmt) == "Q(8,4)"    # 3/63.5 = 0.047 -> 2^-4
    assert ScaledGrid(8, 0.25, "pow2").s == 0.25           # a power of two stays


# ----------------------------------------------------------------- (ii) the paper's claims
def _fit(err, k0, k1):
    k = np.arange(k0, k1 + 1)
    return 10.0 ** np.polyfit(k, np.log10(err[k]), 1)[0]


def test_lpsvrg_plateau_and_halp_linear_rate(linreg):
    """b = 8, linear regression (μ ≈ 0.71, L ≈ 17.6), α = 0.02, T = 100, 30 epochs, seed 0.
    LP-SVRG: its error over the second half stays ≥ ½ LSB (w lives on the grid) and does not
    decrease (fitted per-epoch factor ≥ 0.9; SVRG's is ≈ 0.25).  HALP ends ≥ 10^4 below that
    plateau, and its per-epoch rate over its linear phase (errors above 1e-11) is < 1 and
    within a factor 1.5 of SVRG's in log scale (decades per epoch)."""
    E = 30
    lp = LPSVRG(linreg, 0.02, 8, seed=0).run(E)
    sv = SVRG(linreg, 0.02, seed=0).run(E)
    lsb = lp.lsb
    assert lsb == 2.0 ** -4
    tail = lp.err[E // 2:]
    plateau = float(np.median(tail))
    assert tail.min() >= 0.5 * lsb
    assert _fit(lp.err, E // 2, E) >= 0.9
    rho_s = _fit(sv.err, 1, int(np.flatnonzero(sv.err > 1e-11)[-1]))
    assert rho_s < 0.3
    for scale in ("pow2", "exact"):
        h = HALP(linreg, 0.02, 8, scale=scale, seed=0).run(E)
        assert h.err[-1] <= 1e-4 * plateau
        assert h.saturated.sum() == 0
        k1 = int(np.flatnonzero(h.err > 1e-11)[-1])
        rho_h = _fit(h.err, 1, k1)
        assert rho_h < 1
        ratio = math.log(rho_h) / math.log(rho_s)
        assert 1 / 1.5 <= ratio <= 1.5, (scale, rho_h, rho_s)


def test_lpsgd_plateaus(linreg):
    tr = LPSGD(linreg, 0.02, 8, seed=0).run(12)
    assert tr.err[6:].min() >= 0.5 * tr.lsb and tr.err[-1] < tr.err[0]


def test_fx_grad_diff_exact_integer_mac(linreg):
    """The datapath gradient difference equals Σ x̂ x̂ᵀ z / B computed in Fractions from the
    raw words (x̂ = X rounded to nearest-even on the Q(8,5) grid, z the words of zq)."""
    from fxsim import QFormat, cast
    zq = cast(np.array([0.5, -1.25, 3.0, -2.0, 0.0625]), QFormat(8, 4))
    idx = np.array([7, 7, 42, 99])
    v = linreg.fx_grad_diff(zq, idx, 8)
    xf = linreg.data_format(8)
    assert xf == QFormat(8, 5)
    z = [Fraction(int(k), 16) for k in zq.raw]
    ref = [Fraction(0)] * 5
    for i in idx:
        x = [Fraction(round(Fraction(float(u)) * 32), 32) for u in linreg.X[i]]   # |x| < 4
        h = sum(a * b for a, b in zip(x, z))
        ref = [r + a * h for r, a in zip(ref, x)]
    assert [Fraction(float(u)) for u in v] == [r / 4 for r in ref]


@pytest.mark.parametrize("scale", ["pow2", "exact"])
def test_halp_integer_inner_loop_converges(linreg, scale):
    """HALP whose inner loop only sees b-bit words (z, data) still reaches w* to ≥ 10^4 below
    the LP-SVRG plateau: g̃ is exact, so quantized data only perturb the inner Hessian.
    (SVRG's rate here is ≈ 0.25/epoch; 0.4 allows the 8-bit noise.)"""
    lp = LPSVRG(linreg, 0.02, 8, seed=0).run(24)
    h = HALP(linreg, 0.02, 8, inner="datapath", scale=scale, seed=0).run(24)
    assert h.err[-1] <= 1e-4 * np.median(lp.err[12:])
    assert _fit(h.err, 1, 15) < 0.4


# ----------------------------------------------------------------- (iii) independent loops
def _ref_grad_linreg(X, y, w, idx):
    g = np.zeros_like(w)
    for i in idx:
        g += X[i] * (float(np.dot(X[i], w)) - y[i])
    return g / len(idx)


def _ref_grad_softmax(X, Y, l2, w, idx):
    W = w.reshape(X.shape[1], Y.shape[1])
    G = np.zeros_like(W)
    for i in idx:
        z = X[i] @ W
        p = np.exp(z - z.max())
        p /= p.sum()
        G += np.outer(X[i], p - Y[i])
    return (G / len(idx)).ravel() + l2 * w


def test_svrg_matches_numpy_svrg(linreg):
    E, a = 6, 0.02
    tr = SVRG(linreg, a, seed=3, record_indices=True).run(E)
    X, y, n = linreg.X, linreg.y, linreg.n_samples
    wt = np.zeros(5)
    for k in range(E):
        g = _ref_grad_linreg(X, y, wt, range(n))
        w = wt.copy()
        for idx in tr.indices[k]:
            w = w - a * (_ref_grad_linreg(X, y, w, idx) - _ref_grad_linreg(X, y, wt, idx) + g)
        wt = w
        assert abs(np.linalg.norm(wt - linreg.w_star) - tr.err[k + 1]) <= 1e-12
    assert np.max(np.abs(wt - tr.w)) <= 1e-12


def test_svrg_softmax_matches_numpy_svrg():
    p = SoftmaxRegression(l2=0.05, n=300)
    E, a, T, B = 2, 0.2, 6, 4
    tr = SVRG(p, a, T=T, batch=B, seed=5, record_indices=True).run(E)
    assert [i.shape for i in tr.indices] == [(T, B)] * E
    wt = np.zeros(p.dim)
    for k in range(E):
        Wt = wt.reshape(65, 10)
        E_ = np.exp(p.X @ Wt - (p.X @ Wt).max(axis=1, keepdims=True))
        g = np.einsum("ia,ic->ac", p.X, E_ / E_.sum(axis=1, keepdims=True) - p.Y).ravel()
        g = g / p.n_samples + p.l2 * wt
        w = wt.copy()
        for idx in tr.indices[k]:
            w = w - a * (_ref_grad_softmax(p.X, p.Y, p.l2, w, idx)
                         - _ref_grad_softmax(p.X, p.Y, p.l2, wt, idx) + g)
        wt = w
    assert np.max(np.abs(wt - tr.w)) <= 1e-12


def _sr_pcg(t, bitgen, r):
    """SR of float64 values t (in LSB units) with numpy's PCG64 words: R = w >> (64 − r)."""
    R = bitgen.random_raw(t.size) >> np.uint64(64 - r)
    return np.array([ref_round(Fraction(float(ti)), "stochastic", R=int(Ri), r=r)
                     for ti, Ri in zip(np.ravel(t), R.tolist())], dtype=np.float64).reshape(np.shape(t))


@pytest.mark.parametrize("scale", ["pow2", "exact"])
def test_halp_bit_exact_against_numpy_loop(linreg, scale):
    """HALP with an Ideal PCG64 source equals a plain loop that draws numpy's PCG64 words
    itself and applies the paper's rule (same gradient oracle, same update expression)."""
    E, a, b, r, seed = 5, 0.02, 8, 32, 11
    tr = HALP(linreg, a, b, scale=scale, r=r, source=Ideal("pcg64", seed=seed), seed=2,
              record_indices=True).run(E)
    bg = np.random.PCG64(seed)
    lo, hi = -2.0 ** (b - 1), 2.0 ** (b - 1) - 1
    wt = np.zeros(5)
    for k in range(E):
        g = linreg.grad(wt)
        s = float(np.linalg.norm(g)) / (linreg.mu * (2 ** (b - 1) - 1))
        if scale == "pow2":
            s = 2.0 ** math.ceil(math.log2(s))
        z = np.zeros(5)
        for idx in tr.indices[k]:
            x = z - a * (linreg.grad(wt + z, idx) - linreg.grad(wt, idx) + g)
            kq = np.clip(_sr_pcg(x / s, bg, r), lo, hi)
            z = s * kq
        wt = wt + z
        assert tr.scale[k + 1] == s
    assert np.array_equal(wt, tr.w)


def test_lpsvrg_bit_exact_against_numpy_loop(linreg):
    E, a, b, r, seed = 4, 0.02, 8, 20, 4
    tr = LPSVRG(linreg, a, b, r=r, source=Ideal("pcg64", seed=seed), seed=1,
                record_indices=True).run(E)
    bg = np.random.PCG64(seed)
    fl = 4                                            # w_range 4 -> Q4.4
    lo, hi = -128, 127
    w = np.zeros(5)
    for k in range(E):
        wt = w
        g = linreg.grad(wt)
        for idx in tr.indices[k]:
            x = w - a * (linreg.grad(w, idx) - linreg.grad(wt, idx) + g)
            w = np.clip(_sr_pcg(x * 2.0 ** fl, bg, r), lo, hi) * 2.0 ** -fl
    assert np.array_equal(w, tr.w)


# ----------------------------------------------------------------- (iv) bad parameters
@pytest.mark.parametrize("make,match", [
    (lambda p: HALP(p, 0.02, 1), r"b: .*2\.\.64"),
    (lambda p: HALP(p, 0.02, 65), r"b: .*2\.\.64"),
    (lambda p: HALP(p, 0.02, 8.0), r"b: .*2\.\.64"),
    (lambda p: LPSVRG(p, 0.02, 1), r"b: .*2\.\.64"),
    (lambda p: LPSGD(p, 0.02, 0), r"b: .*2\.\.64"),
    (lambda p: HALP(p, 0.02, 8, mu=0.0), r"mu: .*> 0"),
    (lambda p: HALP(p, 0.02, 8, mu=-1.0), r"mu: .*> 0"),
    (lambda p: HALP(p, 0.02, 8, T=0), r"T: .*>= 1"),
    (lambda p: SVRG(p, 0.02, T=0), r"T: .*>= 1"),
    (lambda p: LPSVRG(p, 0.02, 8, T=-3), r"T: .*>= 1"),
    (lambda p: HALP(p, 0.0, 8), r"alpha: .*> 0"),
    (lambda p: SVRG(p, -0.1), r"alpha: .*> 0"),
    (lambda p: HALP(p, 0.02, 8, scale="log"), r"scale: .*pow2, exact"),
    (lambda p: ScaledGrid(8, 1.0, "float"), r"scale: .*pow2, exact"),
    (lambda p: ScaledGrid(8, 0.0), r"s: .*> 0"),
    (lambda p: ScaledGrid.for_gradient(1.0, 0.0, 8), r"mu: .*> 0"),
    (lambda p: HALP(p, 0.02, 8, r=0), r"r: .*1\.\.64"),
    (lambda p: HALP(p, 0.02, 8, inner="int4"), r"inner: .*float64, datapath"),
    (lambda p: HALP(SoftmaxRegression(n=20), 0.2, 8, inner="datapath"), r"inner: .*fx_grad_diff"),
    (lambda p: HALP(p, 0.02, 8, batch=101), r"batch: .*1\.\.100"),
    (lambda p: HALP(p, 0.02, 8, source="xorshift"), r"source: .*ideal, lfsr"),
    (lambda p: LPSVRG(p, 0.02, 8, fmt="Q4.12"), r"fmt: .*8-bit"),
    (lambda p: SVRG(p, 0.02).run(-1), r"epochs: .*>= 0"),
    (lambda p: weight_format(8, -1.0), r"bound: .*positive"),
])
def test_bad_parameters(linreg, make, match):
    with pytest.raises(ValueError, match=match):
        make(linreg)


# ----------------------------------------------------------------- (v) determinism
@pytest.mark.parametrize("source", ["ideal", "lfsr"])
def test_deterministic_given_seed(linreg, source):
    for cls in (HALP, LPSVRG, LPSGD):
        a = cls(linreg, 0.02, 8, source=source, seed=9).run(3)
        b = cls(linreg, 0.02, 8, source=source, seed=9).run(3)
        c = cls(linreg, 0.02, 8, source=source, seed=10).run(3)
        assert np.array_equal(a.err, b.err) and np.array_equal(a.w, b.w)
        assert not np.array_equal(a.err, c.err)


# ----------------------------------------------------------------- (vi) the CLI
def test_cli_quick_writes_files(tmp_path, monkeypatch):
    from fxsim.cli import main
    from fxsim.studies import halp as study
    # shrink the quick preset further: the test checks the plumbing, not the numbers
    monkeypatch.setitem(study.PROBLEMS, "linreg", dict(study.PROBLEMS["linreg"], quick_epochs=6))
    monkeypatch.setitem(study.PROBLEMS, "digits", dict(study.PROBLEMS["digits"], quick_epochs=2))
    out = tmp_path / "h"
    figs = tmp_path / "figs"
    assert main(["halp-study", "--quick", "--out", str(out), "--no-progress",
                 "--copy-figures", str(figs)]) == 0
    for f in ("halp_study.md", "halp_study.csv", "halp_study_runs.csv", "halp_convergence.png"):
        assert (out / f).stat().st_size > 100
    assert (figs / "halp_convergence.png").stat().st_size < 400_000
    rows = (out / "halp_study.csv").read_text().splitlines()
    # 5 methods per (problem, b), + the integer inner loop on linreg, + μ = λ on digits b = 8
    assert len(rows) == 1 + 2 * (6 + 5) + 1
    assert "HALP final / LP-SVRG plateau" in (out / "halp_study.md").read_text()
