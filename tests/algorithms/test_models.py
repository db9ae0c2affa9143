"""fxsim.models: exact gradients (finite differences, independent closed forms), the fully
emulated gradients against their derived error bounds, data loading errors."""
from types import SimpleNamespace as NS

import numpy as np
import pytest

from fxsim import LFSR, Counters, FixedArray, QFormat, cast
from fxsim.models import (MLP, Himmelblau, LeastSquares, LogisticRegression, Quadratic,
                          Rosenbrock, load_dataset, make_least_squares, make_model)

Q = QFormat


@pytest.fixture(scope="module")
def models():
    return {
        "quad_grid": Quadratic(d=20, cond=10, center="grid", seed=1),
        "quad_off": Quadratic(d=12, cond=100, center="off", seed=2),
        "lsq": make_least_squares(m=150, d=15, seed=3),
        "rosen": Rosenbrock(),
        "himmel": Himmelblau(),
        "logreg_bc": LogisticRegression("breast_cancer", l2=1e-3),
        "logreg_dg": LogisticRegression("digits01", l2=1e-2),
        "mlp": MLP(seed=0),
    }


ALL = ["quad_grid", "quad_off", "lsq", "rosen", "himmel", "logreg_bc", "logreg_dg", "mlp"]
BOUNDED = ["quad_grid", "quad_off", "lsq", "rosen", "himmel", "logreg_bc", "logreg_dg"]


def _fd(f, x, coords, h):
    g = np.empty(len(coords))
    for n, i in enumerate(coords):
        e = np.zeros_like(x)
        e[i] = h
        g[n] = (f(x + e) - f(x - e)) / (2 * h)
    return g


# ------------------------------------------------------------------ exact gradients
@pytest.mark.parametrize("name", ALL)
def test_grad_matches_central_difference(models, name):
    m = models[name]
    rng = np.random.default_rng(7)
    for trial in range(2):
        x = m.x0(rng)
        coords = np.arange(m.dim) if m.dim <= 70 else rng.choice(m.dim, 60, replace=False)
        h = 1e-5 * max(1.0, np.abs(x).max())
        fd = _fd(m.loss, x, coords, h)
        g = m.grad(x)
        assert g.shape == (m.dim,) and g.dtype == np.float64
        scale = max(1.0, np.abs(g).max())
        np.testing.assert_allclose(g[coords], fd, rtol=1e-5, atol=1e-6 * scale)


@pytest.mark.parametrize("name", ["lsq", "logreg_bc", "mlp"])
def test_minibatch_grad_matches_central_difference(models, name):
    m = models[name]
    rng = np.random.default_rng(11)
    idx = rng.choice(m.n_samples, 32, replace=False)
    x = m.x0(rng)
    coords = rng.choice(m.dim, min(m.dim, 30), replace=False)
    fd = _fd(lambda z: m.loss(z, idx), x, coords, 1e-5)
    g = m.grad(x, idx)
    np.testing.assert_allclose(g[coords], fd, rtol=1e-5, atol=1e-7)
    # a minibatch gradient is not the full one
    assert np.abs(g - m.grad(x)).max() > 1e-3


def test_quadratic_closed_form_and_pl():
    m = Quadratic(d=16, cond=50, seed=4)
    ev = np.linalg.eigvalsh(m.A)
    np.testing.assert_allclose(ev, np.logspace(0, np.log10(50), 16), rtol=1e-10)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = m.x0(rng)
        u = m.Q.T @ (x - m.c)                  # eigen-coordinates
        np.testing.assert_allclose(m.grad(x), m.Q @ (m.eigs * u), rtol=1e-10, atol=1e-12)
        assert m.loss(x) == pytest.approx(0.5 * np.sum(m.eigs * u * u), rel=1e-12)
        # PL with mu = 1: ½‖∇f‖² ≥ mu (f − f*)
        assert 0.5 * m.grad(x) @ m.grad(x) >= (m.loss(x) - m.f_star) * (1 - 1e-12)
    assert m.loss(m.optimum) == 0.0 and np.all(m.grad(m.optimum) == 0)


def test_quadratic_center_on_and_off_grid():
    g = Q(16, 8)
    on = Quadratic(d=30, center="grid", grid=g, seed=5)
    off = Quadratic(d=30, center="off", grid=g, seed=5)
    assert np.all(cast(on.c, g).to_float() == on.c)
    dist = np.abs(cast(off.c, g).to_float() - off.c) / g.lsb
    assert np.all(dist >= 0.25 - 1e-12) and np.all(dist <= 0.5)
    with pytest.raises(ValueError, match="center"):
        Quadratic(center="middle")


def test_least_squares_closed_form():
    m = make_least_squares(m=120, d=10, noise=0.3, seed=8)
    H = m.A.T @ m.A / m.m
    xs = np.linalg.solve(m.A.T @ m.A, m.A.T @ m.b)            # normal equations
    np.testing.assert_allclose(m.optimum, xs, rtol=1e-9, atol=1e-12)
    rng = np.random.default_rng(1)
    x = m.x0(rng)
    # f is exactly quadratic around x*: f = f* + ½ (x−x*)ᵀH(x−x*), ∇f = H(x − x*)
    np.testing.assert_allclose(m.grad(x), H @ (x - xs), rtol=1e-9, atol=1e-12)
    assert m.loss(x) == pytest.approx(m.f_star + 0.5 * (x - xs) @ H @ (x - xs), rel=1e-10)
    with pytest.raises(ValueError, match="shape"):
        LeastSquares(np.ones((5, 2)), np.ones(4))


@pytest.mark.parametrize("cls", [Rosenbrock, Himmelblau])
def test_2d_functions_vs_sympy(cls):
    sp = pytest.importorskip("sympy")
    X, Y = sp.symbols("x y")
    if cls is Rosenbrock:
        f = (1 - X) ** 2 + 100 * (Y - X ** 2) ** 2
    else:
        f = (X ** 2 + Y - 11) ** 2 + (X + Y ** 2 - 7) ** 2
    gx, gy = (sp.lambdify((X, Y), sp.diff(f, v)) for v in (X, Y))
    ff = sp.lambdify((X, Y), f)
    m = cls()
    for x in np.random.default_rng(2).uniform(-4, 4, (6, 2)):
        assert m.loss(x) == pytest.approx(ff(*x), rel=1e-12)
        np.testing.assert_allclose(m.grad(x), [gx(*x), gy(*x)], rtol=1e-12, atol=1e-9)


def test_2d_minima():
    r = Rosenbrock()
    assert r.loss(r.optimum) == 0 and np.all(r.grad(r.optimum) == 0)
    h = Himmelblau()
    for p in h.minima:
        assert h.loss(p) < 1e-9
        assert np.abs(h.grad(p)).max() < 1e-4


@pytest.mark.parametrize("ds,l2", [("breast_cancer", 1e-3), ("digits01", 1e-2)])
def test_logistic_vs_sklearn(ds, l2):
    from sklearn.linear_model import LogisticRegression as SkLR
    from sklearn.metrics import log_loss
    m = LogisticRegression(ds, l2=l2)
    x = m.x0(3)
    p = 1 / (1 + np.exp(-(m.X @ x)))
    assert m.loss(x) == pytest.approx(log_loss(m.y, p) + 0.5 * l2 * x @ x, rel=1e-10)
    # sklearn minimizes ½‖w‖² + C Σ loss_i; ours is λ/2‖w‖² + mean loss: C = 1/(λ m)
    sk = SkLR(C=1 / (l2 * m.m), fit_intercept=False, tol=1e-12, max_iter=10000).fit(m.X, m.y)
    np.testing.assert_allclose(m.optimum, sk.coef_[0], rtol=1e-4, atol=1e-5)
    assert np.abs(m.grad(m.optimum)).max() < 1e-10
    assert m.f_star == pytest.approx(m.loss(sk.coef_[0]), rel=1e-8)


def test_logistic_sigmoid_and_loss_against_their_defining_formulas():
    """The sigmoid (one exp) and the loss (sum / m) give the float64 values of their textbook
    forms bit for bit: σ(z) = 1/(1+e^-z) for z >= 0, e^z/(1+e^z) below (each exp of -|z|), and
    np.mean; and σ is within 1 ulp of exact rationals at sample points."""
    from fractions import Fraction
    import math
    from models.logistic import _sigmoid
    rng = np.random.default_rng(7)
    z = np.concatenate([rng.standard_normal(10**5) * 40,
                        [0.0, -0.0, np.inf, -np.inf, 800.0, -800.0, 1e-300, -1e-300]])
    want = np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))),
                    np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z))))
    assert np.array_equal(_sigmoid(z).view(np.int64), want.view(np.int64))
    for v in (-30.0, -2.5, -0.1, 0.0, 0.3, 4.0, 25.0):
        e = Fraction(math.exp(-abs(v)))          # the exp as float64 rounds it
        exact = 1 / (1 + e) if v >= 0 else e / (1 + e)
        assert abs(Fraction(float(_sigmoid(np.array([v]))[0])) - exact) <= exact * 2**-52
    m = LogisticRegression("breast_cancer")
    for _ in range(50):
        w = rng.standard_normal(m.dim) * rng.uniform(0, 3)
        zz = m.X @ w
        ref = float(np.mean(np.logaddexp(0.0, zz) - m.y * zz) + 0.5 * m.l2 * (w @ w))
        assert m.loss(w) == ref


def test_mlp_loss_vs_loop_forward(models):
    from sklearn.metrics import log_loss
    m = models["mlp"]
    x = m.x0(5)
    idx = np.arange(0, m.n_samples, 9)
    probs = []
    for i in idx:                                     # one sample at a time, explicit loops
        h = m.X[i]
        for l, (W, b) in enumerate(m.layers(x)):
            z = np.array([sum(W[o, k] * h[k] for k in range(W.shape[1])) + b[o]
                          for o in range(W.shape[0])])
            h = np.maximum(z, 0) if l < 3 else z
        e = np.exp(h - h.max())
        probs.append(e / e.sum())
    assert m.loss(x, idx) == pytest.approx(log_loss(m.y[idx], np.array(probs), labels=range(10)),
                                           rel=1e-10)
    assert m.dim == 64 * 32 + 32 + 32 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
    np.testing.assert_array_equal(m.x0(), MLP(seed=0).x0())   # deterministic init
    assert not np.array_equal(m.x0(), MLP(seed=1).x0())


# ------------------------------------------------------------------ emulated gradients
FORMATS = {
    "q16_8": NS(weights=Q(16, 8), grads=Q(24, 8), acts=Q(16, 8), acc=Q(40, 16)),
    "fine": NS(weights=Q(20, 12), grads=Q(24, 12), acts=Q(20, 12), acc=Q(48, 24)),
    "narrow_acc_floor": NS(weights=Q(16, 8), grads=Q(24, 10), acts=Q(16, 8), acc=Q(40, 12),
                           rounding="floor"),
    "sr_lfsr": NS(weights=Q(16, 8), grads=Q(24, 8), acts=Q(16, 8), acc=Q(32, 12),
                  rounding="stochastic", r=16),
}


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("name", BOUNDED)
def test_fx_grad_within_derived_bound(models, name, fmt):
    """|fx_grad(x_q) − grad(x_q)| ≤ fx_bound (derivations in the model docstrings), no
    overflow, and the bound is not vacuous: at least 10x below the gradient's magnitude."""
    m = models[name]
    acc = NS(**vars(FORMATS[fmt]))
    if getattr(acc, "rounding", None) == "stochastic":
        acc.source = LFSR(16, seed=123)
    rng = np.random.default_rng(3)
    for _ in range(2):
        xq = cast(m.x0(rng), acc.weights)
        with Counters() as c:
            fx = m.fx_grad(xq, acc)
        assert c.overflowed == 0
        assert isinstance(fx, FixedArray) and fx.fmt == acc.grads and fx.shape == (m.dim,)
        g = m.grad(xq.to_float())
        b = m.fx_bound(xq, acc)
        err = np.abs(fx.to_float() - g)
        assert np.all(err <= b), (err - b).max()
        assert b.max() < 0.1 * np.abs(g).max()


@pytest.mark.parametrize("name", ["lsq", "logreg_dg"])
def test_fx_grad_minibatch_within_bound(models, name):
    m = models[name]
    acc = FORMATS["q16_8"]
    idx = np.random.default_rng(0).choice(m.n_samples, 40, replace=False)
    xq = cast(m.x0(1), acc.weights)
    g = m.grad(xq.to_float(), idx)
    err = np.abs(m.fx_grad(xq, acc, idx).to_float() - g)
    b = m.fx_bound(xq, acc, idx)
    assert np.all(err <= b) and b.max() < 0.05 * np.abs(g).max()
    assert np.abs(m.grad(xq.to_float()) - g).max() > 10 * b.max()   # really the minibatch


def test_quadratic_bound_form():
    """With Q(16,8) data/weights and an accumulator holding every product exactly, the bound
    is (‖x − c_q‖₁ + ‖A_i‖₁)·2^-9 + 2^-9 (nearest: δ = lsb/2), with no accumulator term."""
    m = Quadratic(d=20, cond=10, seed=0)
    acc = NS(weights=Q(16, 8), acc=Q(32, 16))
    xq = cast(m.x0(0), acc.weights)
    d1 = np.abs(xq.to_float() - m.c).sum()
    expect = (d1 + np.abs(m.A).sum(axis=1)) * 2.0 ** -9 + 2.0 ** -9
    np.testing.assert_allclose(m.fx_bound(xq, acc), expect, rtol=1e-12)
    # an accumulator that drops product bits adds d·ρ·lsb_acc
    acc2 = NS(weights=Q(16, 8), acc=Q(32, 12))
    np.testing.assert_allclose(m.fx_bound(xq, acc2), expect + 20 * 0.5 * 2.0 ** -12, rtol=1e-12)


def test_fx_grad_exact_when_everything_is_representable():
    """Integer A and c, a wide accumulator, grads with the full fraction: fx_grad is exact."""
    m = Quadratic(d=6, cond=1, seed=0)      # A = I, c on the Q(16,8) grid
    acc = NS(weights=Q(16, 8), acts=Q(16, 8), grads=Q(24, 8), acc=Q(40, 16))
    xq = cast(m.x0(2), acc.weights)
    np.testing.assert_array_equal(np.linalg.eigvalsh(m.A).round(12), np.ones(6))
    np.testing.assert_array_equal(m.fx_grad(xq, acc).to_float(), xq.to_float() - m.c)


def test_fx_grad_stochastic_is_reproducible_and_random():
    m = make_least_squares(m=100, d=10, seed=0)
    xq = cast(m.x0(0), Q(16, 8))

    def run(seed):
        acc = NS(weights=Q(16, 8), acc=Q(32, 10), rounding="stochastic", r=16,
                 source=LFSR(16, seed=seed))
        return m.fx_grad(xq, acc).raw

    np.testing.assert_array_equal(run(5), run(5))
    assert not np.array_equal(run(5), run(6))


@pytest.mark.parametrize("rounding,fn", [("floor", np.floor), ("ceil", np.ceil),
                                         ("toward_zero", np.trunc), ("nearest_even", np.round)])
def test_fx_grad_mode_attribute_against_numpy(rounding, fn):
    """A description with ``mode=CastMode(...)``: A = I and c on the grid make every cast exact
    but the last one into Q(16,4) grads, so fx_grad = rounding((x − c)·2^4)/2^4 in numpy."""
    from fxsim import CastMode
    m = Quadratic(d=6, cond=1, seed=0)
    acc = NS(weights=Q(16, 8), acts=Q(16, 8), grads=Q(16, 4), acc=Q(40, 16),
             mode=CastMode(rounding, "saturate"))
    xq = cast(m.x0(2), acc.weights)
    want = fn((xq.to_float() - m.c) * 16) / 16
    assert not np.array_equal(want, xq.to_float() - m.c)          # the last cast rounds
    np.testing.assert_array_equal(m.fx_grad(xq, acc).to_float(), want)


def test_env_mode_keyword_and_stochastic_mode_within_bound():
    from fxsim import CastMode
    from fxsim.models._fx import Env
    env = Env(NS(rounding="floor", overflow="wrap"), mode=CastMode("ceil"))
    assert [env.mode(k) for k in ("acc", "acts", "grad")] == [CastMode("ceil", "saturate")] * 3
    assert env.kw("grad") == {"rounding": "ceil", "overflow": "saturate"} and env.rho("grad") == 1.0
    sse = Env(NS(mode=CastMode("signed_stochastic_eps", r=8, eps=0.25), source=LFSR(16, seed=1)))
    assert sse.mode("acc") == CastMode("stochastic_eps", r=8, eps=0.25)
    assert sse.kw("acc")["source"] is sse.kw("grad")["source"]
    m = make_least_squares(m=100, d=10, seed=0)
    xq = cast(m.x0(0), Q(16, 8))
    acc = NS(weights=Q(16, 8), acc=Q(32, 10), mode=CastMode("stochastic", r=16),
             source=LFSR(16, seed=5))
    err = np.abs(m.fx_grad(xq, acc).to_float() - m.grad(xq.to_float()))
    assert np.all(err <= m.fx_bound(xq, acc))


def test_mlp_fx_grad_converges_with_precision(models):
    m = models["mlp"]
    x = m.x0()
    errs = []
    for wl, fl, accw, accf in [(16, 8, 32, 16), (24, 14, 48, 28), (32, 22, 64, 44)]:
        acc = NS(weights=Q(wl, fl), acts=Q(wl, fl), grads=Q(wl, fl), acc=Q(accw, accf))
        xq = cast(x, acc.weights)
        with Counters() as c:
            fx = m.fx_grad(xq, acc)
        assert c.overflowed == 0 and fx.fmt == acc.grads and fx.shape == (m.dim,)
        g = m.grad(xq.to_float())
        errs.append(np.linalg.norm(fx.to_float() - g) / np.linalg.norm(g))
    assert errs[0] < 0.1
    assert errs[1] < errs[0] / 30 and errs[2] < errs[1] / 30
    assert errs[2] < 1e-5


def test_mlp_fx_grad_minibatch(models):
    m = models["mlp"]
    idx = np.arange(64)
    acc = NS(weights=Q(32, 22), acts=Q(32, 22), grads=Q(32, 22), acc=Q(64, 44))
    xq = cast(m.x0(), acc.weights)
    g = m.grad(xq.to_float(), idx)
    fx = m.fx_grad(xq, acc, idx).to_float()
    assert np.linalg.norm(fx - g) < 1e-5 * np.linalg.norm(g)


def test_defaults_and_float_input():
    """A bare namespace (or None) works; a float x is cast to the weights format first."""
    m = Quadratic(d=5, seed=0)
    x = m.x0(0)
    a = m.fx_grad(x, NS())
    b = m.fx_grad(cast(x, Q(16, 8)), None)
    assert a.fmt == Q(16, 8) and a.identical(b)


def test_with_accelerator_class():
    accel = pytest.importorskip("fxsim.accelerator")
    A = accel.Accelerator(weights="Q8.8", grads="Q8.8", acc="Q16.16",
                          casts={"grad": ("stochastic", "saturate")}, source="lfsr16", seed=3)
    m = Quadratic(d=8, seed=0)
    xq = cast(m.x0(0), A.weights)
    g = m.fx_grad(xq, A)
    assert g.fmt == A.grads
    assert np.all(np.abs(g.to_float() - m.grad(xq.to_float())) <= m.fx_bound(xq, A))


@pytest.mark.parametrize("name", ALL)
def test_wrong_shape_is_a_clear_error(models, name):
    m = models[name]
    x = np.zeros(m.dim + 1)
    for call in (lambda: m.loss(x), lambda: m.grad(x), lambda: m.fx_grad(x, NS())):
        with pytest.raises(ValueError, match=rf"shape \({m.dim},\)"):
            call()


@pytest.mark.parametrize("name", ALL)
def test_x0_default_is_deterministic(models, name):
    m = models[name]
    np.testing.assert_array_equal(m.x0(), m.x0())
    np.testing.assert_array_equal(m.x0(4), m.x0(np.random.default_rng(4)))
    assert m.x0().shape == (m.dim,) and m.x0().dtype == np.float64


def test_make_model():
    assert isinstance(make_model("rosenbrock"), Rosenbrock)
    assert make_model("quadratic", d=4).dim == 4
    with pytest.raises(ValueError, match="unknown model"):
        make_model("resnet")


def test_logistic_rejects_bad_labels():
    with pytest.raises(ValueError, match="0 or 1"):
        LogisticRegression(X=np.ones((3, 2)), y=np.array([0, 1, 2]))
    m = LogisticRegression(X=np.array([[0.0], [1.0], [2.0]]), y=np.array([0, 1, 1]))
    assert m.dim == 2 and m.dataset == "user"


# ------------------------------------------------------------------ data loading
def test_load_npz_and_csv_roundtrip(tmp_path):
    X = np.arange(12.0).reshape(4, 3)
    y = np.array([0, 1, 1, 0])
    np.savez(tmp_path / "d.npz", X=X, y=y)
    X2, y2 = load_dataset(tmp_path / "d.npz")
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    (tmp_path / "d.csv").write_text("a,b,c,label\n" + "\n".join(
        ",".join(str(v) for v in list(X[i]) + [y[i]]) for i in range(4)) + "\n")
    X3, y3 = load_dataset(str(tmp_path / "d.csv"))
    np.testing.assert_array_equal(X3, X)
    np.testing.assert_array_equal(y3, y)


@pytest.mark.parametrize("arrays,match", [
    ({"X": np.ones((3, 2))}, r"missing key\(s\) y"),
    ({"features": np.ones((3, 2)), "labels": np.ones(3)}, r"missing key\(s\) X, y"),
    ({"X": np.array([["a", "b"], ["c", "d"]]), "y": np.ones(2)}, "X must be numeric"),
    ({"X": np.ones((3, 2)), "y": np.array([0.0, np.nan, 1.0])}, r"y has 1 NaN/inf.*index \(1,\)"),
    ({"X": np.ones((3, 2)), "y": np.ones(4)}, "shape mismatch.*3 samples.*4"),
    ({"X": np.ones((3, 2, 2)), "y": np.ones(3)}, "X must be 2-D"),
])
def test_load_npz_errors(tmp_path, arrays, match):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(ValueError, match=match):
        load_dataset(p)


@pytest.mark.parametrize("text,match", [
    ("1,2,0\n3,x,1\n", "line 2, column 2: non-numeric value 'x'"),
    ("1,2,0\n3,4\n", "line 2 has 2 columns, expected 3"),
    ("1,2,0\n3,nan,1\n", r"X has 1 NaN/inf value\(s\), the first at index \(1, 1\)"),
    ("h1,h2\n", "no numeric rows"),
    ("1\n2\n", "at least 2 columns"),
])
def test_load_csv_errors(tmp_path, text, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_dataset(p)


def test_load_unknown_extension(tmp_path):
    p = tmp_path / "data.json"
    p.write_text("{}")
    with pytest.raises(ValueError, match="unknown data file extension '.json'"):
        load_dataset(p)
