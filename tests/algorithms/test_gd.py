"""Issue 4: accelerator description and gradient descent with rounding strategies.

The model here is a local stand-in (a quadratic written in this file), so these tests do not
depend on ``fxsim.models``. Expected values come from ``tests/reference.py`` (Fractions) or from
the analytical stagnation bound, never from the code under test.
"""
import json
from fractions import Fraction

import numpy as np
import pytest

from reference import ref_cast

fx = pytest.importorskip("fxsim")
from fxsim.accelerator import Accelerator, ROLES  # noqa: E402
from fxsim.optim import GD, SGD, stagnation_level  # noqa: E402

D, T, FL = 20, 0.05, 8
LSB = 2.0 ** -FL
TOL = 5 * D * 2.0 ** (-2 * FL)          # the notes' tolerance: 5·d·2^(−2 fl)
SEEDS = range(7)


class Quad:
    """f(x) = ½ (x − c)ᵀ A (x − c), A = diag(λ) or rotated, λ log-spaced in [lo, hi]."""

    def __init__(self, d=D, lo=1.0, hi=10.0, rotate=False, c=None, seed=0):
        self.dim = d
        self.lam = np.logspace(np.log10(lo), np.log10(hi), d)
        if rotate:
            q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
            self.A = (q * self.lam) @ q.T
        else:
            self.A = np.diag(self.lam)
        self.optimum = np.zeros(d) if c is None else np.asarray(c, float)
        self.f_star = 0.0
        self.fx_calls = 0

    def x0(self, rng):
        return rng.uniform(-1, 1, self.dim)

    def loss(self, x):
        e = np.asarray(x, float) - self.optimum
        return 0.5 * e @ self.A @ e

    def grad(self, x):
        return self.A @ (np.asarray(x, float) - self.optimum)

    def fx_grad(self, xq, acc):
        """A·x on the datapath (A's entries on the weights grid, c = 0), cast to grads with the
        accelerator's current role (grad)."""
        self.fx_calls += 1
        Aq = fx.cast(self.A, acc.weights, "nearest_even", "saturate")
        kw = dict(rounding=acc.rounding, overflow=acc.overflow)
        if acc.rounding in fx.STOCHASTIC:
            kw.update(r=acc.r, source=acc.source)
            if acc.rounding != "stochastic":
                kw["eps"] = acc.eps
        y = fx.matvec(Aq, xq, acc=acc.acc, rounding="nearest_even")   # exact if acc is wide
        return fx.cast(y, acc.grads, **kw)


STRATS = {
    "RN": {},
    "SR": {"grad": "stochastic", "step": "stochastic", "update": "stochastic"},
    "SR_eps": {"grad": "stochastic_eps", "step": "stochastic_eps", "update": "stochastic_eps"},
    "SR/signed-SR_eps": {"grad": "stochastic", "step": "stochastic",
                         "update": "signed_stochastic_eps"},
}


def accel(strategy, seed, fused=False, source="lfsr16", **kw):
    casts = {k: (v, "saturate") for k, v in STRATS[strategy].items()}
    return Accelerator("Q8.8", "Q8.8", prod=None if fused else "Q8.8", acc="Q16.16",
                       casts=casts, source=source if casts else None, seed=seed, eps=0.2, **kw)


def run(model, strategy, seed, n=400, fused=False, **kw):
    return GD(model, accel(strategy, seed, fused, **kw), T, seed=seed).run(n)


def median_iters(model, strategy, fused, n=400):
    its = [run(model, strategy, s, n, fused).iters_to_tol(TOL) for s in SEEDS]
    assert all(i is not None for i in its), (strategy, its)
    return float(np.median(its)), its


# ---------------------------------------------------------------------- stagnation bound
def test_stagnation_bound_against_fraction_simulation():
    """The derived per-component bounds hold for an exact (Fraction) 1-D RN simulation."""
    u = Fraction(1, 256)
    tq = Fraction(round(T * 2 ** 16), 2 ** 16)
    checked = 0
    for lam in (Fraction(1), Fraction(3, 2), Fraction(5, 2)):
        b = stagnation_level(float(tq), float(u), [float(lam)])
        for k in range(-300, 301, 7):
            e = k * u
            for _ in range(2000):
                g = ref_cast(lam * e, 16, 8, True, "nearest_even", "saturate")
                s = ref_cast(tq * Fraction(g, 256), 16, 8, True, "nearest_even", "saturate")
                if s == 0:
                    break
                e -= Fraction(s, 256)
            else:
                pytest.fail("1-D RN iteration did not stop")
            f = float(lam * e * e / 2)
            be = stagnation_level(float(tq), float(u), [float(lam)], e0=[float(k * u)])
            assert f <= b["upper"] * (1 + 1e-12)
            assert f >= be["lower"] * (1 - 1e-12)
            checked += be["lower"] > 0
    assert checked > 50                       # the lower bound is non-trivial for most starts


def test_stagnation_level_values():
    b = stagnation_level(T, LSB, [1.0])
    u = LSB
    m = 0.95 * (u / (2 * T) - u / 2) - (u + T * u) / 2
    assert b["lower"] == pytest.approx(0.5 * m * m)
    assert b["upper"] == pytest.approx((u / (2 * T) + u / 2) ** 2 / 2)
    assert b["threshold"] == pytest.approx(u / (2 * T))
    with pytest.raises(ValueError, match="t·λ"):
        stagnation_level(0.5, LSB, [3.0])


# ---------------------------------------------------------------------- qualitative result
@pytest.fixture(scope="module")
def quad():
    return Quad()


def test_rn_stagnates_within_derived_bounds(quad):
    for seed in SEEDS:
        g = GD(quad, accel("RN", seed), T, seed=seed)
        e0 = g.x.to_float() - quad.optimum
        h = g.run(400)
        b = stagnation_level(g.t, LSB, quad.lam, e0=e0)
        k = h.stagnation_iter()
        assert k is not None and k < 200, k                  # stopped moving for good
        assert np.all(h.loss[k:] == h.loss[-1])
        assert b["lower"] <= h.loss[-1] <= b["upper"], (h.loss[-1], b)
        assert b["lower"] > TOL                              # so RN never reaches the tolerance
        assert h.iters_to_tol(TOL) is None


def test_sr_goes_below_rn_level(quad):
    for seed in SEEDS:
        g = GD(quad, accel("SR", seed), T, seed=seed)
        b = stagnation_level(g.t, LSB, quad.lam, e0=g.x.to_float())
        h = g.run(400)
        assert h.loss[-50:].max() < b["lower"], (seed, h.loss[-50:].max(), b["lower"])
        assert h.iters_to_tol(TOL) is not None


def test_sr_eps_faster_than_sr_three_casts(quad):
    """x ← cast(x − cast(t·cast(∇f))): SR_ε on every cast reaches the tolerance sooner."""
    sr, _ = median_iters(quad, "SR", fused=False)
    sre, _ = median_iters(quad, "SR_eps", fused=False)
    assert sre < sr, (sre, sr)


def test_signed_sr_eps_faster_than_sr_fused(quad):
    """Fused update x ← cast(x − t·cast(∇f)): signed-SR_ε (v = ∇f) on the write-back wins."""
    sr, _ = median_iters(quad, "SR", fused=True)
    ssr, _ = median_iters(quad, "SR/signed-SR_eps", fused=True)
    assert ssr < sr, (ssr, sr)


def test_three_cast_write_back_is_exact(quad):
    """With the step on the weights' grid the write-back never rounds, so signed-SR_ε on it
    changes nothing (the notes' observation) — the trajectories coincide with SR."""
    for seed in (0, 1):
        a = run(quad, "SR", seed, 150)
        b = run(quad, "SR/signed-SR_eps", seed, 150)
        assert np.array_equal(a.loss, b.loss)


# ---------------------------------------------------------------------- history, determinism
def test_determinism_and_history(quad):
    h1 = run(quad, "SR/signed-SR_eps", 3, 120, fused=True)
    h2 = run(quad, "SR/signed-SR_eps", 3, 120, fused=True)
    h3 = run(quad, "SR/signed-SR_eps", 4, 120, fused=True)
    for k in ("loss", "gnorm", "moved", "rounded", "overflowed"):
        assert np.array_equal(getattr(h1, k), getattr(h2, k)), k
    assert not np.array_equal(h1.loss, h3.loss)
    assert h1.loss.shape == (121,) and h1.moved.shape == (120,)
    assert h1.moved.max() <= D and h1.moved[0] > 0
    # fused, no step cast: D gradient casts + D write-back casts per iteration
    assert h1.rounded.max() <= 2 * D and h1.rounded[0] > 0
    assert h1.overflowed.sum() == 0
    assert h1.gnorm[0] == pytest.approx(np.linalg.norm(quad.grad(_x0(quad, 3))), rel=1e-2)


def _x0(model, seed):
    ss = np.random.SeedSequence(seed).spawn(2)[0]
    return model.x0(np.random.default_rng(ss))


def test_same_accelerator_reused_is_deterministic(quad):
    a = accel("SR", 5)
    h1 = GD(quad, a, T, seed=1).run(60)
    h2 = GD(quad, a, T, seed=1).run(60)          # GD re-spawns the role streams
    assert np.array_equal(h1.loss, h2.loss)


def test_ideal_source_and_tol_stop(quad):
    g = GD(quad, accel("SR", 2, source="pcg64"), T, seed=2)
    h = g.run(1000, tol=TOL)
    assert h.stopped_by_tol and h.excess[-1] <= TOL < h.excess[-2]


def test_overflow_counted():
    q = Quad(d=4)
    a = Accelerator("Q2.8", "Q2.8", prod="Q2.8", acc="Q8.16")
    g = GD(q, a, 0.05, x0=[1.9, -1.9, 1.0, 0.5])
    g.model = Quad(d=4, lo=20, hi=40)         # gradients up to ~76: beyond Q2.8's ±2
    h = g.run(3)
    assert h.overflowed[0] > 0


# ---------------------------------------------------------------------- one step vs Fractions
@pytest.mark.parametrize("fused,casts", [
    (False, {}),
    (False, {"grad": "stochastic", "step": "stochastic_eps", "update": "stochastic"}),
    (True, {"grad": "stochastic_eps", "update": "signed_stochastic_eps"}),
    (True, {"grad": "nearest_even", "update": "stochastic"}),
])
def test_one_step_matches_fraction_reference(fused, casts):
    model = Quad(d=12, lo=0.5, hi=20, rotate=True, c=np.linspace(-0.3, 0.4, 12), seed=7)
    spec = {k: (v, "saturate") for k, v in casts.items()}
    mk = lambda: Accelerator("Q4.10", "Q6.10", prod=None if fused else "Q4.12",  # noqa: E731
                             casts=spec, source="lfsr32" if spec else None, seed=11, r=20,
                             eps=0.3)
    g = GD(model, mk(), 0.07, seed=9)
    x0 = g.x.to_fraction()
    g.step()
    # independent replay: the same role streams, drawn in role order
    twin = mk()
    d, r = model.dim, 20

    def R(role):
        rnd = dict(spec).get(role, ("nearest_even",))[0]
        if rnd in fx.STOCHASTIC:
            return [int(v) for v in twin.source_for(role).draws(d, r)]
        return [None] * d

    Rg, Rs, Ru = R("grad"), R("step") if not fused else [None] * d, R("update")
    rnd = {role: dict(spec).get(role, ("nearest_even",))[0] for role in ROLES}
    sr = lambda role, Ri: ({"R": Ri, "r": r, "eps": Fraction(0.3)}  # noqa: E731
                           if rnd[role] in fx.STOCHASTIC else {})
    tq = Fraction(round(0.07 * 2 ** 16), 2 ** 16)
    assert g.t_q.to_fraction()[()] == tq
    grad = model.grad(np.array([float(v) for v in x0]))
    expect = []
    for i in range(d):
        gi = Fraction(ref_cast(Fraction(grad[i]), 16, 10, True, rnd["grad"], "saturate",
                               **sr("grad", Rg[i])), 2 ** 10)
        si = tq * gi
        if not fused:
            si = Fraction(ref_cast(si, 16, 12, True, rnd["step"], "saturate", **sr("step", Rs[i])),
                          2 ** 12)
        kw = sr("update", Ru[i])
        if rnd["update"] == "signed_stochastic_eps":
            kw["v"] = Fraction(grad[i])
        expect.append(ref_cast(x0[i] - si, 14, 10, True, rnd["update"], "saturate", **kw))
    assert [int(v) for v in g.x.raw] == expect
    assert g.history.moved[0] == sum(int(a) != int(b * 1024) for a, b in zip(expect, x0))


# ---------------------------------------------------------------------- emulated mode, SGD
def test_emulated_mode_matches_exact_mode_when_gradient_exact():
    """With A on the weights grid and an exact accumulator, the emulated gradient A·x is the
    exact gradient, so the two modes give the same trajectory; fx_grad is really used."""
    q = Quad(d=8, lo=1, hi=4)
    q.A = np.round(q.A * 256) / 256
    a1 = Accelerator("Q8.8", "Q8.8", prod="Q8.8", acc="Q24.24", casts={"grad": "stochastic"},
                     source="lfsr16", seed=1)
    a2 = Accelerator.from_dict(a1.to_dict())
    h1 = GD(q, a1, T, "exact", seed=0).run(80)
    h2 = GD(q, a2, T, "emulated", seed=0).run(80)
    assert q.fx_calls == 80
    assert np.array_equal(h1.loss, h2.loss)
    a3 = Accelerator("Q8.8", "Q8.8", prod="Q8.8", acc="Q8.8", casts={"grad": "stochastic"},
                     source="lfsr16", seed=1)           # rounding accumulator: differs
    h3 = GD(q, a3, T, "emulated", seed=0).run(80)
    assert not np.array_equal(h1.loss, h3.loss)


class LSQ:
    """½/n ‖Mx − y‖², per-sample gradients for minibatches."""

    def __init__(self, n=64, d=6, seed=0):
        rng = np.random.default_rng(seed)
        self.M = rng.standard_normal((n, d)) / 2
        self.optimum = rng.uniform(-1, 1, d)
        self.y = self.M @ self.optimum
        self.n_samples, self.dim, self.f_star = n, d, 0.0

    def x0(self, rng):
        return np.zeros(self.dim)

    def loss(self, x):
        r = self.M @ x - self.y
        return 0.5 * r @ r / self.n_samples

    def grad(self, x, idx=None):
        M, y = (self.M, self.y) if idx is None else (self.M[idx], self.y[idx])
        return M.T @ (M @ x - y) / len(y)


def test_minibatch_sgd():
    m = LSQ()
    mk = lambda: Accelerator("Q4.12", "Q4.12", casts={"grad": "stochastic"},  # noqa: E731
                             source="pcg64", seed=3)
    h1 = SGD(m, mk(), 0.2, batch_size=8, seed=1).run(300)
    h2 = SGD(m, mk(), 0.2, batch_size=8, seed=1).run(300)
    h3 = SGD(m, mk(), 0.2, batch_size=8, seed=2).run(300)
    assert np.array_equal(h1.loss, h2.loss) and not np.array_equal(h1.loss, h3.loss)
    assert h1.loss[-1] < 1e-2 * h1.loss[0]
    with pytest.raises(ValueError, match="batch_size"):
        SGD(m, mk(), 0.2, batch_size=65)
    with pytest.raises(ValueError, match="n_samples"):
        SGD(Quad(), mk(), 0.2, batch_size=2)


def test_gd_argument_errors(quad):
    a = accel("RN", 0)
    with pytest.raises(ValueError, match="mode"):
        GD(quad, a, T, mode="fast")
    with pytest.raises(ValueError, match="t:"):
        GD(quad, a, -1.0)
    with pytest.raises(ValueError, match="rounds to 0"):
        GD(quad, a, 1e-9)
    with pytest.raises(ValueError, match="accel"):
        GD(quad, {"weights": "Q8.8"}, T)
    with pytest.raises(ValueError, match="fx_grad"):
        GD(LSQ(), a, T, mode="emulated")


# ---------------------------------------------------------------------- accelerator
def test_accelerator_attributes_and_roles():
    a = Accelerator("Q8.8", "s16.10", acts="Q4.12", prod="Q8.8", acc="Q(32,16)",
                    casts={"grad": ("stochastic_eps", "wrap"), "acts": "stochastic"},
                    source="lfsr16", seed=4, r=12, eps=0.25)
    assert (a.weights, a.grads, a.acts, a.acc) == (fx.QFormat(16, 8), fx.QFormat(16, 10),
                                                   fx.QFormat(16, 12), fx.QFormat(32, 16))
    assert (a.rounding, a.overflow, a.r, a.eps) == ("stochastic_eps", "wrap", 12, 0.25)
    assert a.source is a.source_for("grad")
    with a.as_role("acts"):
        assert (a.rounding, a.overflow) == ("stochastic", "saturate")
        assert a.source is a.source_for("acts")
    assert a.rounding == "stochastic_eps"
    srcs = [a.source_for(r) for r in ROLES]
    assert len({id(s) for s in srcs}) == len(ROLES)
    firsts = [tuple(s.draws(4, 16)) for s in srcs]
    assert len(set(firsts)) == len(ROLES)                 # distinct streams
    a.reset_sources()
    assert tuple(a.source_for("grad").draws(4, 16)) == firsts[0]
    text = repr(a)
    for piece in ("weights=Q(16,8)", "grads=Q(16,10)", "acc=Q(32,16)", "grad=stochastic_eps/wrap",
                  "'lfsr16'", "seed=4", "eps=0.25"):
        assert piece in text, (piece, text)
    assert Accelerator.from_dict(a.to_dict()) == a
    assert a.cast_kwargs("grad")["eps"] == 0.25 and "eps" not in a.cast_kwargs("acts")
    with pytest.raises(ValueError, match="role"):
        a.source_for("bias")


@pytest.mark.parametrize("kw,field", [
    ({"casts": {"bias": "nearest_even"}}, "unknown role"),
    ({"casts": {"grad": "stochastic"}}, "source"),
    ({"casts": {"grad": "sometimes"}}, "casts.grad"),
    ({"casts": {"step": ("nearest_even", "clip")}}, "casts.step"),
    ({"casts": {"grad": "signed_stochastic_eps"}, "source": "lfsr16"}, "casts.grad"),
    ({"casts": {"step": "signed_stochastic_eps"}, "source": "lfsr16"}, "companion"),
    ({"r": 0}, "r:"),
    ({"r": 65}, "r:"),
    ({"eps": 1.0}, "eps:"),
    ({"eps": -0.1}, "eps:"),
    ({"source": "lfsr70"}, "source:"),     # "lfsr8" is a valid spec since issue 12.3
    ({"source": "xorshift"}, "source:"),
    ({"weights": "UQ8.8"}, "weights"),
    ({"weights": "Q8.8.8"}, "weights"),
    ({"acc": "Z32"}, "acc"),
    ({"grads": None}, "grads"),
    ({"seed": -1}, "seed"),
    ({"sr_rule": "banker"}, "sr_rule"),
])
def test_accelerator_invalid(kw, field):
    base = {"weights": "Q8.8", "grads": "Q8.8"}
    base.update(kw)
    with pytest.raises(ValueError, match=field):
        Accelerator(**base)


GOOD_TOML = """
weights = "Q8.8"
grads = "Q8.8"
prod = "Q8.8"
acc = "Q16.16"
source = "lfsr16"
seed = 7
eps = 0.2

[casts]
grad = ["stochastic", "saturate"]
update = { rounding = "signed_stochastic_eps" }
"""


def test_accelerator_files(tmp_path):
    p = tmp_path / "acc.toml"
    p.write_text(GOOD_TOML)
    a = Accelerator.from_toml(p)
    assert a.casts["update"] == ("signed_stochastic_eps", "saturate")
    assert a.casts["grad"] == ("stochastic", "saturate") and a.seed == 7 and a.eps == 0.2
    j = tmp_path / "acc.json"
    j.write_text(json.dumps(a.to_dict()))
    assert Accelerator.from_json(j) == a
    assert Accelerator.from_file(j) == a == Accelerator.from_file(p)
    t2 = tmp_path / "wrapped.toml"
    t2.write_text("[accelerator]\n" + GOOD_TOML.replace("[casts]", "[accelerator.casts]"))
    assert Accelerator.from_toml(t2) == a


@pytest.mark.parametrize("name,text,match", [
    ("bad.json", '{"weights": "Q8.8", "grads": ', "not valid JSON"),
    ("bad.toml", 'weights = "Q8.8\ngrads = 1', "not valid TOML"),
    ("keys.json", '{"weights": "Q8.8", "grads": "Q8.8", "wieghts": "Q4.4"}', "wieghts"),
    ("keys.toml", 'weights = "Q8.8"\ngrads = "Q8.8"\nclock = 100', "clock"),
    ("miss.toml", 'weights = "Q8.8"', "grads: missing"),
    ("list.json", '["Q8.8"]', "mapping"),
    ("role.toml", 'weights = "Q8.8"\ngrads = "Q8.8"\n[casts]\nbias = ["floor", "wrap"]', "bias"),
    ("castkey.toml", 'weights = "Q8.8"\ngrads = "Q8.8"\n[casts]\ngrad = {mode = "floor"}', "mode"),
    ("fmt.json", '{"weights": "Q8.8", "grads": "P8.8"}', "grads"),
    ("acc.yaml", "weights: Q8.8", "toml or .json"),
])
def test_accelerator_file_errors(tmp_path, name, text, match):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(ValueError, match=match) as ei:
        Accelerator.from_file(p)
    if not name.endswith(".yaml"):
        assert name in str(ei.value)                          # the message names the file
