"""Unfolded networks (fxsim.models.unfolded): σ_λ and its lookup table against the float σ within
the derived bound, the exact gradient against finite differences and an independent
forward-mode derivation, the emulated forward pass against an integer re-implementation (bit for
bit, one layer), float64 training (over- vs under-parameterized) and RN's stagnation above SR's
floor in fixed point."""
from types import SimpleNamespace as NS

import numpy as np
import pytest

from fxsim import QFormat
from fxsim.accelerator import Accelerator
from fxsim.models.soft_threshold import SigmoidLUT, g, g_prime, sigma, sigma_prime
from fxsim.models.sparse_data import make_sparse_recovery
from fxsim.models.unfolded import ADMMCSNet, FFNN, LISTA
from fxsim.optim import GD

LAM, DELTA = 0.1, 0.01
NETS = {"lista": LISTA, "admm": ADMMCSNet, "ffnn": FFNN}


def _data(T=5, m=4, n=8, seed=2):
    return make_sparse_recovery(m=m, n=n, s=2, n_train=T, n_test=7, seed=seed)


# -- σ_λ -------------------------------------------------------------------------------------
def test_sigma_tends_to_soft_threshold():
    z = np.linspace(-2, 2, 401)
    soft = np.sign(z) * np.maximum(np.abs(z) - LAM, 0)
    # |σ − soft| ≤ √δ: each square root is within √δ of |z ± λ|, and σ − soft is half their difference
    for d in (1e-2, 1e-4, 1e-8):
        assert np.abs(sigma(z, LAM, d) - soft).max() <= np.sqrt(d) + 1e-12


def test_sigma_derivatives_match_differences():
    z = np.linspace(-1.5, 1.5, 301)
    h = 1e-6
    np.testing.assert_allclose(sigma_prime(z, LAM, DELTA),
                               (sigma(z + h, LAM, DELTA) - sigma(z - h, LAM, DELTA)) / (2 * h),
                               atol=1e-7)
    gp = g_prime(z, LAM, DELTA)
    assert gp.min() > 0 and gp.max() < 1
    g2 = (g_prime(z + h, LAM, DELTA) - g_prime(z - h, LAM, DELTA)) / (2 * h)
    assert np.abs(g2).max() <= 1 / (2 * np.sqrt(DELTA)) + 1e-6      # the bound the LUT uses


@pytest.mark.parametrize("which", ["g", "g_prime"])
def test_lut_within_derived_bound_every_word(which):
    acts = QFormat(16, 12)
    lut = SigmoidLUT(LAM, DELTA)
    from fxsim import FixedArray
    z = FixedArray(np.arange(acts.min_raw, acts.max_raw + 1), acts)   # every word
    got = getattr(lut, which)(z, acts).to_float()
    ref = {"g": g, "g_prime": g_prime}[which](z.to_float(), LAM, DELTA)
    err = np.abs(got - ref)
    bound = lut.bound(which, acts)
    assert err.max() <= bound
    assert bound < 4 * acts.lsb       # the table is as good as a few activation LSBs
    # and the bound is not vacuous: the error inside the table's range is close to it
    inside = np.abs(z.to_float()) < lut.R - 1
    assert err[inside].max() > 0.25 * acts.lsb


# -- exact gradients ---------------------------------------------------------------------------
@pytest.mark.parametrize("net", NETS)
def test_grad_central_differences(net):
    m = NETS[net](_data(), K=3, lam=LAM, delta=DELTA)
    rng = np.random.default_rng(1)
    x = m.x0(rng)
    g_ = m.grad(x)
    coords = rng.choice(m.dim, 40, replace=False)
    h = 1e-6
    for i in coords:
        e = np.zeros(m.dim)
        e[i] = h
        fd = (m.loss(x + e) - m.loss(x - e)) / (2 * h)
        assert abs(fd - g_[i]) <= 1e-7 + 1e-6 * abs(g_[i])


def _jvp(net, m, x, v):
    """dL/dx · v by forward-mode tangents through the layer equations written out here
    (independent of the model's backpropagation)."""
    d = m.data
    Y, X = d.Y, d.X
    n, mm, K = d.n, d.m, m.K

    def split(p):
        out, k = [], 0
        for l in range(K):
            W1 = W2 = None
            if net != "ffnn" or l == 0:
                W1 = p[k:k + n * mm].reshape(n, mm)
                k += n * mm
            if l > 0:
                W2 = p[k:k + n * n].reshape(n, n)
                k += n * n
            out.append((W1, W2))
        return out

    Ls, dLs = split(x), split(v)
    xs = dxs = zs = dzs = us = dus = None
    for l in range(K):
        (W1, W2), (dW1, dW2) = Ls[l], dLs[l]
        a = np.zeros((Y.shape[0], n))
        da = np.zeros_like(a)
        if W1 is not None:
            a, da = a + Y @ W1.T, da + Y @ dW1.T
        if net == "admm":
            if l > 0:
                inp, dinp = zs - us, dzs - dus
                a, da = a + inp @ W2.T + us, da + dinp @ W2.T + inp @ dW2.T + dus
            z = sigma(a, LAM, DELTA)
            dz = sigma_prime(a, LAM, DELTA) * da
            us, dus = a - z, da - dz              # u^l = u^{l-1} + v^l - z^l = a - z
            zs, dzs = z, dz
            xs, dxs = z, dz
        else:
            if l > 0:
                a, da = a + xs @ W2.T, da + dxs @ W2.T + xs @ dW2.T
            xs, dxs = sigma(a, LAM, DELTA), sigma_prime(a, LAM, DELTA) * da
    return float(np.sum((xs - X) * dxs) / Y.shape[0])


@pytest.mark.parametrize("net", NETS)
def test_grad_matches_forward_mode(net):
    m = NETS[net](_data(T=6), K=3, lam=LAM, delta=DELTA)
    rng = np.random.default_rng(4)
    for _ in range(3):
        x, v = m.x0(rng), rng.standard_normal(m.dim)
        assert m.grad(x) @ v == pytest.approx(_jvp(net, m, x, v), rel=1e-10, abs=1e-12)


def test_parameter_counts():
    for net, cls in NETS.items():
        m = cls(_data(m=4, n=8), K=3)
        want = 3 * 8 * 4 + 2 * 64 if net != "ffnn" else 8 * 4 + 2 * 64
        assert m.dim == want


# -- the datapath -------------------------------------------------------------------------------
def _round_half_even_shift(v, s):
    """v / 2^s rounded to nearest, ties to even (Python ints)."""
    q, r = divmod(v, 1 << s)
    half = 1 << (s - 1)
    return q + (1 if (r > half or (r == half and q & 1)) else 0)


def _sat(v, fmt):
    return max(fmt.min_raw, min(fmt.max_raw, v))


def test_fx_first_layer_bit_exact_against_integers():
    """A one-layer LISTA on the datapath: P = cast_RN(Y W1ᵀ), Ĝ = LUT(P), x̂ = P − Ĝ, against a
    re-implementation in Python integers (matmul exact in Q(32,24); table words rounded by
    numpy's rint)."""
    W, A = QFormat(16, 12), QFormat(16, 12)
    accel = NS(weights=W, acts=A, acc=QFormat(32, 24))
    m = LISTA(_data(T=4), K=1, lam=LAM, delta=DELTA)       # one layer: its output is x̂
    x = m.x0(np.random.default_rng(5))
    cache, out = m.fx_forward(x, accel)
    P1, G1 = cache[0]
    wq = np.rint(x * 2 ** W.fl).astype(np.int64)
    W1 = wq[:m.n * m.m].reshape(m.n, m.m)
    Yq = np.rint(m.data.Y * 2 ** A.fl).astype(np.int64)
    R, j, tfl = 4, 7, 15
    zs = -R + np.arange(2 * R * 2 ** j + 1) * 2.0 ** -j
    table = np.rint(g(zs, LAM, DELTA) * 2 ** tfl).astype(np.int64)
    shift = A.fl - j
    for t in range(Yq.shape[0]):
        for i in range(m.n):
            acc = sum(int(Yq[t, k]) * int(W1[i, k]) for k in range(m.m))     # fl 24, exact
            p = _sat(_round_half_even_shift(acc, 24 - A.fl), A)
            assert int(P1.raw[t, i]) == p
            off = min(max(p + (R << A.fl), 0), (2 * R << A.fl) - 1)
            idx, frac = off >> shift, off & ((1 << shift) - 1)
            num = int(table[idx]) * (1 << shift) + (int(table[idx + 1]) - int(table[idx])) * frac
            gw = _sat(_round_half_even_shift(num, tfl + shift - A.fl), A)
            assert int(G1.raw[t, i]) == gw
            assert int(out.raw[t, i]) == _sat(p - gw, A)


@pytest.mark.parametrize("net", NETS)
def test_fx_grad_tends_to_grad_with_wide_formats(net):
    # δ = 0.25: the table's own error (< 3e-5) lies below the activation LSBs compared here
    m = NETS[net](_data(T=6), K=3, lam=LAM, delta=0.25)
    x = m.x0(np.random.default_rng(6))
    g_ = m.grad(x)
    errs = []
    for fl in (10, 14, 18):
        F = QFormat(fl + 8, fl)
        accel = NS(weights=F, acts=F, acc=QFormat(2 * fl + 16, 2 * fl))
        errs.append(np.abs(m.fx_grad(x, accel).to_float() - g_).max())
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 2e-4


# -- training -------------------------------------------------------------------------------
def _train(m, t, epochs):
    x, loss = m.x0(), []
    for _ in range(epochs):
        loss.append(m.loss(x))
        x = x - t * m.grad(x)
    return np.array(loss)


def test_float_training_over_vs_under_parameterized():
    """512 weights: T = 3 pairs (48 outputs) reach L < 1e-9 in 600 epochs with a linear rate in
    log L (a line fits log L over the last 400 epochs, slope < 0); T = 48 (768 outputs > 512
    weights) stays above 0.1."""
    over = LISTA(make_sparse_recovery(m=8, n=16, s=2, n_train=3, n_test=1, seed=3), K=2)
    loss = _train(over, 0.2, 600)
    assert loss[-1] < 1e-9
    k = np.arange(200, 600)
    slope, icpt = np.polyfit(k, np.log(loss[200:]), 1)
    resid = np.log(loss[200:]) - (slope * k + icpt)
    assert slope < -0.02 and np.abs(resid).max() < 1.5     # linear convergence, rate e^slope
    under = LISTA(make_sparse_recovery(m=8, n=16, s=2, n_train=48, n_test=1, seed=3), K=2)
    assert _train(under, 0.2, 600)[-1] > 0.1


def test_rn_stagnates_above_sr_floor():
    """Fixed point (weights Q(16,10), acts Q(16,12)), emulated GD: round-to-nearest stops moving
    and stays above the loss SR reaches with the same start, data and step."""
    m = LISTA(make_sparse_recovery(m=8, n=16, s=2, n_train=3, n_test=1, seed=3), K=2)
    F = QFormat(16, 10)
    out = {}
    for name, casts in (("RN", {}), ("SR", {"grad": "stochastic", "update": "stochastic"})):
        a = Accelerator(F, F, acts=QFormat(16, 12), prod=None, acc=QFormat(32, 24), casts=casts,
                        source="pcg64" if casts else None, seed=1)
        out[name] = GD(m, a, 0.2, mode="emulated", x0=m.x0(1)).run(150)
    rn, sr = out["RN"], out["SR"]
    assert rn.stagnation_iter() is not None and rn.stagnation_iter() < 120
    assert sr.stagnation_iter() is None
    assert rn.loss[-1] > 20 * sr.loss[-1]
    assert rn.loss[-1] > 10 * sr.loss.min()


# -- arguments and minibatches ---------------------------------------------------------------
def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="^s: must be at most n"):
        make_sparse_recovery(m=4, n=3, s=4)
    with pytest.raises(ValueError, match="^n_train: must be an integer >= 1"):
        make_sparse_recovery(n_train=0)
    with pytest.raises(ValueError, match="^noise: must be >= 0"):
        make_sparse_recovery(noise=-1.0)
    with pytest.raises(ValueError, match="^K: must be an integer >= 1"):
        LISTA(_data(), K=0)
    with pytest.raises(ValueError, match=r"^lam: must be in \(0, 1\)"):
        SigmoidLUT(1.5, 0.01)
    with pytest.raises(ValueError, match="^delta: must be positive"):
        SigmoidLUT(0.1, 0.0)


def test_minibatch_gradients_and_unchanged_inputs():
    m = ADMMCSNet(_data(T=8), K=2)
    x = m.x0(np.random.default_rng(3))
    idx = np.array([1, 4, 6])
    # the minibatch gradient is the gradient of the model built on those rows only
    from fxsim.models.sparse_data import SparseRecovery
    d = m.data
    part = ADMMCSNet(SparseRecovery(d.A, d.Y[idx], d.X[idx], d.Y_test, d.X_test, 2, d.noise, 2), K=2)
    np.testing.assert_allclose(m.grad(x, idx), part.grad(x), rtol=1e-12, atol=1e-15)
    F = QFormat(20, 14)
    accel = NS(weights=F, acts=F, acc=QFormat(44, 28))
    xq_before = x.copy()
    g = m.fx_grad(x, accel, idx)
    np.testing.assert_array_equal(x, xq_before)
    assert np.abs(g.to_float() - part.grad(x)).max() < 2e-3
