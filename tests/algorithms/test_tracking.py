"""Compressors, mixing matrices and compressed gradient tracking (issue 5, points 3-5), checked
against independent references: exact Fraction rounding, plain-numpy gradient tracking, the
closed-form least-squares optimum, eigenvalues, and statistics with stated margins."""
import math
from fractions import Fraction

import numpy as np
import pytest
from reference import ref_round

from fxsim.optim.compressors import (FixedPointQuantizer, Identity, RandK, SaturatingQuantizer,
                                     ScaledSign, TopK)
from fxsim.models import DistributedLeastSquares
from fxsim.optim.tracking import (check_mixing, fit_rate, gradient_tracking, is_connected,
                                  metropolis_weights, mixing_matrix, random_geometric, ring, slem)


def rng(seed=0):
    return np.random.default_rng(seed)


# -- compressors -------------------------------------------------------------------------------

def test_topk_keeps_the_k_largest_magnitudes():
    x = rng(1).standard_normal((50, 12)) * rng(2).uniform(0.1, 10, (50, 12))
    for k in (1, 3, 12):
        y = TopK(k, value_bits=64)(x)
        for row, out in zip(x, y):
            ref = sorted(range(12), key=lambda i: -abs(row[i]))[:k]
            assert set(np.flatnonzero(out)) == set(ref)
            assert (out[ref] == row[ref]).all()
    y32 = TopK(3)(x)          # value_bits=32: the kept values are float32
    assert (y32[y32 != 0] == x[y32 != 0].astype(np.float32)).all()


def test_topk_and_sign_relative_error_bounds():
    """Bounded relative error: top-k ‖C(x) − x‖² ≤ (1 − k/d)‖x‖², scaled sign ≤ (1 − 1/d)‖x‖²
    (the class constants in the docstring), on 2000 random vectors."""
    d = 10
    x = rng(3).standard_normal((2000, d)) * rng(4).exponential(1.0, (2000, d))
    nx = (x ** 2).sum(axis=1)
    for k in (1, 2, 5):
        e = ((TopK(k, value_bits=64)(x) - x) ** 2).sum(axis=1)
        assert (e <= (1 - k / d) * nx * (1 + 1e-12)).all()
    s = ScaledSign()
    e = ((s(x) - x) ** 2).sum(axis=1)
    assert (e <= (1 - 1 / d) * nx * (1 + 1e-6)).all()   # 1e-6: the float32 scale
    # reference value of the sign compressor: exact l1 norm / d, rounded to float32
    for row, out in zip(x[:20], s(x[:20])):
        scale = float(np.float32(float(sum(Fraction(v) for v in np.abs(row)) / d)))
        assert (out == np.where(row >= 0, scale, -scale)).all()


def test_randk_keeps_k_entries_and_scaled_is_unbiased():
    d, k, T = 10, 3, 20000
    x = np.linspace(-2.0, 3.0, d)
    c = RandK(k, seed=5, value_bits=64)
    y = c(np.tile(x, (200, 1)))
    assert ((y != 0).sum(axis=1) == k).all()
    assert (y[y != 0] == np.tile(x, (200, 1))[y != 0]).all()
    # every index equally likely: the count of each index in 200 rows ~ Binomial(200, k/d);
    # scaled: C(x)_i = (d/k) x_i w.p. k/d, else 0: mean x_i, sd |x_i| sqrt(d/k − 1); the mean of
    # T draws lies within 5 standard errors (false alarm ≈ 10 · 6e-7)
    ys = RandK(k, scaled=True, seed=6, value_bits=64)(np.tile(x, (T, 1)))
    se = np.abs(x) * math.sqrt((d / k - 1) / T)
    assert (np.abs(ys.mean(axis=0) - x) <= 5 * se + 1e-15).all()
    # the unscaled one is biased by the factor k/d (same margin)
    yu = RandK(k, seed=6, value_bits=64)(np.tile(x, (T, 1)))
    assert (np.abs(yu.mean(axis=0) - x * k / d) <= 5 * np.abs(x) * math.sqrt(k / d * (1 - k / d) / T) + 1e-15).all()
    assert RandK(k, scaled=True).scale_r(d) == d / k and RandK(k).scale_r(d) == 1.0


def _rne(q: Fraction) -> int:
    return ref_round(q, "nearest_even")      # the shared Fraction reference of the spec


def test_fixed_point_quantizer_matches_exact_rounding():
    fl = 5
    lsb = Fraction(1, 2 ** fl)
    ties = np.array([[(2 * i + 1) / 2 ** (fl + 1) for i in range(-6, 6)]])      # exact half-LSB ties
    x = np.vstack([ties, rng(7).uniform(-3.9, 3.9, (40, 12))])
    y = FixedPointQuantizer(fl=fl, wl=8)(x)
    for xi, yi in zip(x.ravel(), y.ravel()):
        assert Fraction(yi) == _rne(Fraction(xi) / lsb) * lsb
    # bounds: |e| ≤ lsb/2 (nearest), < lsb and on the grid neighbours (SR), many vectors
    x = rng(8).uniform(-3.9, 3.9, (3000, 10))
    e = np.abs(FixedPointQuantizer(fl=fl, wl=8)(x) - x)
    assert e.max() <= 2.0 ** -fl / 2
    for src in ("lfsr16", "pcg64"):
        q = FixedPointQuantizer(fl=fl, wl=8, rounding="stochastic", source=src, seed=3)
        ysr = q(x)
        assert (np.abs(ysr - x) < 2.0 ** -fl).all()
        assert ((ysr == np.floor(x * 2 ** fl) / 2 ** fl) | (ysr == np.ceil(x * 2 ** fl) / 2 ** fl)).all()
        assert q.abs_bound == 2.0 ** -fl
    with pytest.raises(OverflowError):
        FixedPointQuantizer(fl=fl, wl=8)(np.array([[4.0]]))        # Q3.5 holds [-4, 4)


def _sat_ref(row, b):
    """Exact reference of SaturatingQuantizer(b) (round-to-nearest-even) for one row."""
    m = max(abs(Fraction(v)) for v in row)
    e = 0
    if m:
        while Fraction(2) ** e < m:
            e += 1
        while Fraction(2) ** (e - 1) >= m:
            e -= 1
    step = Fraction(2) ** (e - b + 1)
    out = []
    for v in row:
        q = min(max(_rne(Fraction(v) / step), -2 ** (b - 1)), 2 ** (b - 1) - 1)
        out.append(q * step)
    return out, step


def test_saturating_quantizer_matches_exact_reference_and_bound():
    x = rng(9).standard_normal((30, 8)) * 10.0 ** rng(10).integers(-6, 4, (30, 1))
    x[0] = [0.5, -0.25, 1.0, 0, 0, 0, 0, 0.125]          # exact powers of two (max = 2^0)
    x[1] = 0.0
    for b in (2, 4, 8):
        y = SaturatingQuantizer(b)(x)
        for row, out in zip(x, y):
            ref, step = _sat_ref(row, b)
            assert [Fraction(v) for v in out] == ref
            assert all(abs(Fraction(o) - Fraction(v)) <= step for o, v in zip(out, row))
    # the documented bound |e| ≤ 2^(e−b+1) on many vectors, nearest and SR (LFSR, PCG64)
    x = rng(11).standard_normal((2000, 10)) * rng(12).exponential(1.0, (2000, 1))
    for q in (SaturatingQuantizer(4), SaturatingQuantizer(4, rounding="stochastic", source="lfsr16"),
              SaturatingQuantizer(3, rounding="stochastic", source="pcg64", seed=2)):
        assert (np.abs(q(x) - x) <= q.abs_bound(x)[:, None]).all()
    # fixed word Q(4, 2): range [-2, 1.75]; values outside saturate and are counted
    q = SaturatingQuantizer(4, fl=2)
    assert q(np.array([[5.0, -7.0, 0.3, 1.0]])).tolist() == [[1.75, -2.0, 0.25, 1.0]]
    assert q.saturated == 2


def test_bits_formulas():
    assert Identity().bits(10) == 640
    assert TopK(3).bits(10) == 3 * (32 + 4)
    assert TopK(3).bits(16) == 3 * (32 + 4) and TopK(3).bits(17) == 3 * (32 + 5)
    assert TopK(3, value_bits=64).bits(10) == 3 * (64 + 4)
    assert RandK(3).bits(10) == 96
    assert ScaledSign().bits(10) == 42
    assert FixedPointQuantizer(fl=5, wl=8).bits(10) == 80
    assert SaturatingQuantizer(4).bits(10) == 48 and SaturatingQuantizer(4, fl=2).bits(10) == 40


# -- graphs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("graph", ["ring", "geometric"])
def test_mixing_matrices_doubly_stochastic_connected(graph):
    for seed in range(5):
        W = mixing_matrix(graph, 8, seed=seed)
        assert (W >= 0).all() and np.allclose(W, W.T, atol=0)
        assert np.abs(W.sum(axis=0) - 1).max() <= 1e-12 and np.abs(W.sum(axis=1) - 1).max() <= 1e-12
        # connectivity, independently: the Laplacian of the support has one zero eigenvalue
        A = (W > 0) & ~np.eye(8, dtype=bool)
        lap = np.diag(A.sum(axis=1)) - A.astype(float)
        assert np.sort(np.linalg.eigvalsh(lap))[1] > 1e-9
        assert slem(W) < 1 - 1e-3
    assert abs(slem(mixing_matrix("ring", 8)) - (1 / 3 + 2 / 3 * math.cos(2 * math.pi / 8))) < 1e-12


def test_graph_helpers():
    assert not is_connected(np.zeros((4, 4), dtype=bool))
    a = random_geometric(8, 0.5, seed=3)
    assert is_connected(a) and np.array_equal(a, random_geometric(8, 0.5, seed=3))
    with pytest.raises(ValueError, match="radius"):
        random_geometric(30, 0.01, seed=0, max_tries=3)
    W = metropolis_weights(ring(5))
    assert W[0, 1] == 1 / 3 and W[0, 0] == pytest.approx(1 / 3)


@pytest.mark.parametrize("W,msg", [
    (np.ones((3, 2)) / 2, "square"),
    (np.eye(3), "4 x 4"),
    (np.array([[1.5, -0.5], [-0.5, 1.5]]), "non-negative"),
    (np.array([[0.5, 0.5], [0.2, 0.8]]), "column"),            # row-stochastic only
    (np.array([[0.5, 0.6], [0.5, 0.4]]), "row"),
])
def test_bad_mixing_matrix(W, msg):
    with pytest.raises(ValueError, match="W") as e:
        check_mixing(W, n=4 if msg == "4 x 4" else None)
    assert msg in str(e.value)


# -- the algorithm -------------------------------------------------------------------------------

P = DistributedLeastSquares()
ALPHA = 0.3 / P.L_max


def test_x_star_and_gradients_independent():
    A = P.A.reshape(-1, P.d)
    b = P.b.reshape(-1)
    x_ls = np.linalg.lstsq(A, b, rcond=None)[0]
    assert np.abs(x_ls - P.x_star).max() <= 1e-10
    X = rng(13).standard_normal((P.n_agents, P.d))
    G = np.stack([P.A[i].T @ (P.A[i] @ X[i] - P.b[i]) / P.m for i in range(P.n_agents)])
    assert np.abs(G - P.grad(X)).max() <= 1e-12


@pytest.mark.parametrize("graph", ["ring", "geometric"])
def test_uncompressed_matches_plain_gradient_tracking(graph):
    W = mixing_matrix(graph, 8)
    n = 250
    X = np.zeros((8, P.d))
    grad = lambda X: np.stack([P.A[i].T @ (P.A[i] @ X[i] - P.b[i]) / P.m for i in range(8)])
    G = grad(X)
    Y = G.copy()
    errs = [np.linalg.norm(X - P.x_star, axis=1).max()]
    for _ in range(n):
        Xn = W @ X - ALPHA * Y
        Gn = grad(Xn)
        Y = W @ Y + Gn - G
        X, G = Xn, Gn
        errs.append(np.linalg.norm(X - P.x_star, axis=1).max())
    res = gradient_tracking(P, W, None, alpha=ALPHA, n_iters=n)
    assert np.abs(res.X - X).max() <= 1e-12 * max(1.0, np.abs(X).max())
    assert np.allclose(res.err_max, np.array(errs) / np.linalg.norm(P.x_star), rtol=1e-9, atol=1e-14)
    assert res.bits_per_iter == 2 * 64 * P.d and res.bits[n] == n * 2 * 64 * P.d


def _scales():
    g0 = np.abs(P.grad(np.zeros((8, P.d)))).max()
    return (2.0 ** math.ceil(math.log2(ALPHA * g0)), 2.0 ** math.ceil(math.log2(g0)))


CASES = [  # (compressor, gamma, decaying scale?, iteration cap ≈ 1.25 x the iterations to 1e-10)
    (lambda: TopK(2), 0.5, False, 1000),
    (lambda: RandK(3, seed=11), 0.4, False, 1400),
    (lambda: RandK(3, scaled=True, seed=12), 0.4, False, 1400),
    (lambda: ScaledSign(), 1.0, False, 600),
    (lambda: FixedPointQuantizer(fl=5, wl=8), 1.0, True, 800),
    (lambda: FixedPointQuantizer(fl=5, wl=8, rounding="stochastic", source="lfsr16", seed=1), 1.0, True, 800),
    (lambda: SaturatingQuantizer(4, rounding="stochastic", source="pcg64", seed=2), 1.0, False, 600),
    (lambda: SaturatingQuantizer(2), 1.0, False, 600),
    (lambda: SaturatingQuantizer(4, fl=2), 1.0, True, 900),
]


@pytest.mark.parametrize("make,gamma,decay,iters", CASES)
def test_linear_convergence_each_class(make, gamma, decay, iters):
    c = make()
    kw = dict(scale0=_scales(), scale_decay=0.97) if decay else {}
    res = gradient_tracking(P, mixing_matrix("ring", 8), c, alpha=ALPHA, gamma=gamma,
                            n_iters=iters, tol=1e-10, **kw)
    assert not res.diverged
    assert res.err_max[-1] <= 1e-10            # max_i ‖x_i − x*‖/‖x*‖, well below 1e-8
    assert res.rate < 0.99                     # fitted per-iteration linear rate
    k = res.iters_to(1e-8)
    assert k is not None and res.bits_to(1e-8) == k * 2 * c.bits(P.d)
    assert np.array_equal(res.bits, np.arange(len(res.err_max)) * 2 * c.bits(P.d))


def test_absolute_error_quantizer_needs_the_decaying_scale():
    res = gradient_tracking(P, mixing_matrix("ring", 8), FixedPointQuantizer(fl=5, wl=8),
                            alpha=ALPHA, n_iters=400, scale0=_scales())
    assert res.err_max[-100:].min() > 1e-3     # stalls at the word's LSB
    with pytest.raises(OverflowError, match="iteration"):   # decaying faster than it converges
        gradient_tracking(P, mixing_matrix("ring", 8), FixedPointQuantizer(fl=5, wl=8),
                          alpha=ALPHA, n_iters=600, scale0=_scales(), scale_decay=0.9)


def test_average_follows_average_gradient_under_compression():
    """1ᵀ(W − I) = 0: with any compressor x̄_{k+1} = x̄_k − α ȳ_k and ȳ_k = mean ∇f_i(x_{i,k})."""
    W = mixing_matrix("geometric", 8)
    r1 = gradient_tracking(P, W, SaturatingQuantizer(2), alpha=ALPHA, n_iters=1)
    r2 = gradient_tracking(P, W, SaturatingQuantizer(2), alpha=ALPHA, n_iters=2)
    X1, X2 = r1.X, r2.X
    ybar1 = P.grad(X1).mean(axis=0)
    assert np.abs(X2.mean(axis=0) - (X1.mean(axis=0) - ALPHA * ybar1)).max() <= 1e-13


def test_deterministic_given_seed():
    W = mixing_matrix("ring", 8)
    for make in (lambda s: RandK(3, seed=s),
                 lambda s: FixedPointQuantizer(fl=5, wl=8, rounding="stochastic", source="lfsr16", seed=s)):
        kw = dict(alpha=ALPHA, gamma=0.5, n_iters=150, scale0=_scales(), scale_decay=0.97)
        a = gradient_tracking(P, W, make(1), **kw)
        c = make(1)
        b = gradient_tracking(P, W, c, **kw)
        b2 = gradient_tracking(P, W, c, **kw)            # reset() rewinds the same object
        o = gradient_tracking(P, W, make(2), **kw)
        assert np.array_equal(a.X, b.X) and np.array_equal(a.err_max, b.err_max)
        assert np.array_equal(b.X, b2.X)
        assert not np.array_equal(a.X, o.X)


def test_fit_rate():
    assert fit_rate(0.8 ** np.arange(200)) == pytest.approx(0.8, rel=1e-12)
    assert math.isnan(fit_rate(np.ones(50)))


@pytest.mark.parametrize("call,name", [
    (lambda: SaturatingQuantizer(1), "b"),
    (lambda: TopK(0), "k"),
    (lambda: TopK(11)(np.ones((2, 10))), "k"),
    (lambda: RandK(11)(np.ones((2, 10))), "k"),
    (lambda: TopK(2, value_bits=16), "value_bits"),
    (lambda: FixedPointQuantizer(fl=5, wl=1), "wl"),
    (lambda: FixedPointQuantizer(fl=5, rounding="round"), "rounding"),
    (lambda: SaturatingQuantizer(4, rounding="stochastic", r=0), "r"),
    (lambda: SaturatingQuantizer(4, rounding="stochastic", source="mt"), "source"),
    (lambda: TopK(2)(np.ones(5)), "x"),
    (lambda: gradient_tracking(P, mixing_matrix("ring", 8), alpha=0.0), "alpha"),
    (lambda: gradient_tracking(P, mixing_matrix("ring", 8), alpha=-1.0), "alpha"),
    (lambda: gradient_tracking(P, mixing_matrix("ring", 8), alpha=0.1, gamma=1.5), "gamma"),
    (lambda: gradient_tracking(P, mixing_matrix("ring", 8), alpha=0.1, scale_decay=1.2), "scale_decay"),
    (lambda: gradient_tracking(P, mixing_matrix("ring", 8), alpha=0.1, scale0=0), "scale0"),
    (lambda: gradient_tracking(P, mixing_matrix("ring", 8), alpha=0.1, n_iters=0), "n_iters"),
    (lambda: gradient_tracking(P, mixing_matrix("ring", 8), alpha=0.1, x0=np.zeros(3)), "x0"),
    (lambda: gradient_tracking(P, mixing_matrix("ring", 6), alpha=0.1), "W"),
    (lambda: gradient_tracking(P, np.full((8, 8), 0.2), alpha=0.1), "W"),
    (lambda: mixing_matrix("star", 8), "graph"),
    (lambda: ring(1), "n"),
])
def test_bad_parameters(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_cli_quick_writes_files(tmp_path):
    from fxsim.cli import main
    out = tmp_path / "trk"
    assert main(["tracking-study", "--quick", "--no-progress", "--out", str(out)]) == 0
    for f in ("tracking.csv", "tracking.md", "tracking_convergence.png", "tracking_rounding.png",
              "tracking_bits.png"):
        assert (out / f).stat().st_size > 0
    md = (out / "tracking.md").read_text()
    assert "scaled sign" in md and "sat. 2-bit" in md
    import csv
    rows = list(csv.DictReader(open(out / "tracking.csv")))
    conv = [r for r in rows if "no decay" not in r["compressor"]]
    assert all(r["bits_to_tol"] and float(r["rate"]) < 1 for r in conv)
