"""Issue 12 points 4-5: one algorithm contract (validators, sources, casts from outside, one
result base, the same names) and the models in one place with declared protocols.  Seedings
are checked against sources built by hand from the documented rule, casts against hand loops."""
import ast
import pathlib

import numpy as np
import pytest

import fxsim
from fxsim import LFSR, CastMode, Ideal, QFormat, cast
from fxsim import validate as V
from fxsim.accelerator import Accelerator
from fxsim.optim import GD, HALP, LPSGD, SVRG, FixedPointQuantizer, SaturatingQuantizer
from fxsim.optim import gradient_tracking, mixing_matrix
from fxsim.optim.svrg import sr_source
from fxsim.samplers import SGHMC, SGLD, Gaussian

ROOT = pathlib.Path(__file__).resolve().parents[2]


# -- one module of validators ------------------------------------------------------------------
@pytest.mark.parametrize("call,match", [
    (lambda: V.positive("alpha", 0), r"^alpha: .*> 0.*got 0$"),
    (lambda: V.positive("alpha", float("inf")), r"^alpha: "),
    (lambda: V.positive("alpha", True), r"^alpha: "),
    (lambda: V.non_negative("gamma", -1e-9), r"^gamma: .*>= 0"),
    (lambda: V.integer("T", 0, 1), r"^T: must be an integer >= 1, got 0$"),
    (lambda: V.integer("batch", 101, 1, 100), r"^batch: .*1\.\.100"),
    (lambda: V.integer("n", 2.0, 1), r"^n: "),
    (lambda: V.in_range("gamma", 0, 0, 1, lo_open=True), r"^gamma: .*\(0, 1\]"),
    (lambda: V.probability("p", 1.5), r"^p: .*\[0, 1\]"),
    (lambda: V.bits("b", 65), r"^b: .*2\.\.64"),
    (lambda: V.seed("seed", -1), r"^seed: "),
    (lambda: V.signed_format("fmt", "UQ4.4"), r"^fmt: .*signed"),
    (lambda: V.one_of("mode", "x", ("a", "b")), r"^mode: must be one of a, b"),
])
def test_validators_name_parameter_and_range(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_validators_return_converted_values():
    assert V.positive("a", np.float32(0.5)) == 0.5 and type(V.integer("n", np.int64(3))) is int
    ss = np.random.SeedSequence(1)
    assert V.seed("seed", ss) is ss and V.seed("seed", 7) == 7


def test_no_local_validator_copies_left():
    names = {"_check_pos", "_check_int", "_pos_real", "_count", "_check_n", "_real", "_theta"}
    for d in ("fxsim/optim", "fxsim/samplers", "models"):
        for f in (ROOT / d).glob("*.py"):
            defs = {n.name for n in ast.walk(ast.parse(f.read_text())) if isinstance(n, ast.FunctionDef)}
            assert not defs & names, (f, defs & names)


def test_optim_imports_no_model_and_no_private_names():
    for f in (ROOT / "fxsim/optim").glob("*.py"):
        for n in ast.walk(ast.parse(f.read_text())):
            if isinstance(n, ast.ImportFrom):
                assert "models" not in (n.module or ""), (f, n.module)
                if n.module and n.module.lstrip(".") not in ("source_spec",):
                    assert not any(a.name.startswith("_") and a.name != "__future__"
                                   for a in n.names if n.module != "__future__"), (f, n.module)


# -- sources through make_source, each algorithm keeping its seeding ---------------------------
def test_svrg_sources_keep_their_seeding():
    ss = np.random.SeedSequence(11)
    w32 = int(np.random.SeedSequence(11).generate_state(1, np.uint32)[0])
    ref = LFSR(32, seed=1 + w32 % (2 ** 32 - 1))
    assert np.array_equal(sr_source("lfsr", ss).draws(50, 16), ref.draws(50, 16))
    w64 = int(np.random.SeedSequence(11).generate_state(1, np.uint64)[0])
    assert np.array_equal(sr_source("ideal", ss).draws(5, 64),
                          np.random.PCG64(w64).random_raw(5))
    # any make_source spec works, seeded by the canonical rule from the SeedSequence
    src = sr_source("lfsr:8:fibonacci", np.random.SeedSequence(2))
    assert src.n == 8 and src.form == "fibonacci"
    with pytest.warns(DeprecationWarning):
        from fxsim.optim.svrg import make_source
        assert np.array_equal(make_source("lfsr", np.random.SeedSequence(11)).draws(9, 8),
                              LFSR(32, seed=1 + w32 % (2 ** 32 - 1)).draws(9, 8))


@pytest.mark.parametrize("seed", [0, 3, 65535, 70000])
def test_compressor_source_keeps_its_seeding(seed):
    x = np.linspace(-3.9, 3.9, 40).reshape(2, 20) + 0.01
    q = FixedPointQuantizer(wl=8, fl=5, rounding="stochastic", source="lfsr16", seed=seed, r=16)
    ref = cast(x, QFormat(8, 5), "stochastic", "error", r=16,
               source=LFSR(16, seed=1 + seed % 65535)).to_float()
    assert np.array_equal(q(x), ref)
    q2 = FixedPointQuantizer(wl=8, fl=5, rounding="stochastic", source="ideal:philox", seed=seed)
    ref2 = cast(x, QFormat(8, 5), "stochastic", "error", r=16,
                source=Ideal("philox", seed=seed)).to_float()
    assert np.array_equal(q2(x), ref2)


def test_gd_runs_on_a_fresh_accelerator():
    from fxsim.models import Quadratic
    m = Quadratic(d=6, cond=4)
    a = Accelerator("Q8.8", "Q8.8", casts={"update": "stochastic"}, source="lfsr16", seed=9)
    twin = Accelerator("Q8.8", "Q8.8", casts={"update": "stochastic"}, source="lfsr16", seed=9)
    a.source_for("update").draws(7, 16)                   # the caller has used its stream
    twin.source_for("update").draws(7, 16)
    h1 = GD(m, a, 0.1, seed=2).run(40)
    h2 = GD(m, a, 0.1, seed=2).run(40)
    fresh = Accelerator("Q8.8", "Q8.8", casts={"update": "stochastic"}, source="lfsr16", seed=9)
    h0 = GD(m, fresh, 0.1, seed=2).run(40)                # an accelerator nobody drew from
    for h in (h1, h2):
        assert np.array_equal(h.loss, h0.loss) and np.array_equal(h.moved, h0.moved)
    assert h1.inexact.sum() > 0
    # the caller's stream went on from where it was, untouched by the runs
    assert np.array_equal(a.source_for("update").draws(20, 16), twin.source_for("update").draws(20, 16))


def test_samplers_take_source_at_construction():
    seed = 4
    new = SGLD(Gaussian(), 0.05, variant="lpl", fmt="Q(8,3)", source="lfsr16").run(3, 40, seed=seed)
    ref = SGLD(Gaussian(), 0.05, variant="lpl", fmt="Q(8,3)",
               source=LFSR(16, seed=1 + seed % 65535)).run(3, 40, seed=seed)
    with pytest.warns(DeprecationWarning, match="source"):
        old = SGLD(Gaussian(), 0.05, variant="lpl", fmt="Q(8,3)").run(3, 40, seed=seed,
                                                                     source="lfsr16")
    assert np.array_equal(new.samples, ref.samples) and np.array_equal(new.samples, old.samples)
    # any other make_source spec is seeded with the run's seed as it is
    s = SGHMC(Gaussian(), 0.05, variant="lpl", fmt="Q(8,4)", source="lfsr:12")
    ref = SGHMC(Gaussian(), 0.05, variant="lpl", fmt="Q(8,4)",
                source=fxsim.make_source("lfsr:12", 1)).run(2, 20, seed=1)
    got = s.run(2, 20, seed=1)
    assert got.samples.shape == (20, 2, 1) and np.array_equal(got.samples, ref.samples)
    with pytest.raises(ValueError, match="source"):
        SGLD(Gaussian(), 0.1, source="lfsr7")


@pytest.mark.parametrize("seed", [0, 3, 65535])
def test_compressor_and_sampler_sources_keep_their_seeding(seed):
    """Both seed "lfsr16" at state 1 + seed mod (2^16 − 1) (the samplers "lfsr32" too), the
    compressors "lfsr32" by the canonical rule, "ideal"/"pcg64" as numpy's PCG64(seed): against
    the plain LFSR of tests/oracles/lfsr_ref.py and numpy's own generator."""
    from lfsr_ref import LFSRSource
    from fxsim.optim.compressors import _source as comp_source
    from fxsim.samplers.core import _source as samp_source
    lfsr = lambda n, state: LFSRSource(n, seed=state, r=16).draws(40)
    assert comp_source("lfsr16", seed).draws(40, 16).tolist() == lfsr(16, 1 + seed % 65535)
    assert samp_source("lfsr16", seed).draws(40, 16).tolist() == lfsr(16, 1 + seed % 65535)
    full = (1 << 32) - 1
    assert samp_source("lfsr32", seed).draws(40, 16).tolist() == lfsr(32, 1 + seed % full)
    assert comp_source("lfsr32", seed).draws(40, 16).tolist() == lfsr(32, 1 + (seed - 1) % full)
    want = (np.random.PCG64(seed).random_raw(40) >> np.uint64(48)).tolist()
    assert samp_source("ideal", seed).draws(40, 16).tolist() == want
    assert comp_source("pcg64", seed).draws(40, 16).tolist() == want
    for bad in (None, 3.5, "lfsr:99"):
        for f in (comp_source, samp_source):
            with pytest.raises(ValueError, match="^source"):
                f(bad, seed)
    with pytest.raises(ValueError, match="source: must be one of ideal"):
        samp_source("lfsr8", seed)
    assert comp_source("lfsr8", seed).n == 8


def test_accelerator_on_a_source_object_refuses_to_dict():
    a = Accelerator("Q8.8", "Q8.8", casts={"update": "stochastic"}, source=LFSR(16, seed=3))
    with pytest.raises(ValueError, match="^source: an accelerator built on a source object"):
        a.to_dict()
    named = Accelerator("Q8.8", "Q8.8", casts={"update": "stochastic"}, source="lfsr16", seed=3)
    assert named.to_dict()["source"] == "lfsr16"


# -- casts from outside --------------------------------------------------------------------------
def test_lpsgd_cast_mode_matches_a_hand_loop():
    from fxsim.models.finite_sum import LinearRegression
    p = LinearRegression(n=30, d=3)
    m = LPSGD(p, 0.05, 8, cast_mode="nearest_even", seed=5, T=10)
    tr = m.run(2)
    rng = np.random.default_rng(np.random.SeedSequence(5).spawn(2)[0])
    w = cast(np.zeros(3), m.fmt, "nearest_even", "saturate").to_float()
    for _ in range(2):
        for idx in rng.integers(0, 30, size=(10, 1)):
            w = cast(w - 0.05 * p.grad(w, idx), m.fmt, "nearest_even", "saturate").to_float()
    assert np.array_equal(tr.w, w) and m.source is None


def test_halp_default_cast_is_explicit_stochastic_saturate_and_accel_role_works():
    from fxsim.models.finite_sum import LinearRegression
    p = LinearRegression(n=40, d=3)
    t0 = HALP(p, 0.02, 8, seed=1).run(3)
    t1 = HALP(p, 0.02, 8, seed=1, cast_mode=CastMode("stochastic", "saturate", r=32)).run(3)
    assert np.array_equal(t0.err, t1.err)
    acc = Accelerator("Q8.8", "Q8.8", casts={"update": ("floor", "saturate")})
    t2 = HALP(p, 0.02, 8, seed=1, accel=acc).run(3)
    t3 = HALP(p, 0.02, 8, seed=1, cast_mode=("floor", "saturate")).run(3)
    assert np.array_equal(t2.err, t3.err) and not np.array_equal(t2.err, t0.err)
    with pytest.raises(ValueError, match="cast_mode"):
        HALP(p, 0.02, 8, cast_mode="floor", accel=acc)


def test_fixed_point_quantizer_hardware_order():
    x = np.array([[0.3, -1.03, 3.2]])
    new = FixedPointQuantizer(wl=8, fl=4)
    with pytest.warns(DeprecationWarning, match="hardware order"):
        old = FixedPointQuantizer(4, 8)
    assert new.fmt == old.fmt == QFormat(8, 4)
    assert np.array_equal(new(x), old(x)) and new(x).tolist() == [[0.3125, -1.0, 3.1875]]
    with pytest.raises(ValueError, match="fl"):
        FixedPointQuantizer(wl=8)


def test_compressors_accept_a_cast_mode():
    x = np.array([[0.3, -0.7, 0.55]])
    q = SaturatingQuantizer(4, cast_mode=CastMode("floor", "saturate_symmetric"))
    assert q.rounding == "floor" and q.overflow == "saturate_symmetric"
    assert q(x).tolist() == [[0.25, -0.75, 0.5]]                 # floor on the Q(4, 3) grid
    f = FixedPointQuantizer(wl=8, fl=2, cast_mode="toward_zero")
    assert f(np.array([[0.7, -0.7]])).tolist() == [[0.5, -0.5]]


def test_same_names_for_the_step_size():
    from fxsim.models import Quadratic
    m = Quadratic(d=3)
    a = Accelerator("Q8.8", "Q8.8")
    assert np.array_equal(GD(m, a, 0.1).run(5).loss, GD(m, a, alpha=0.1).run(5).loss)
    s1 = SGLD(Gaussian(), eta=0.05, variant="fp").run(2, 10, seed=1)
    s2 = SGLD(Gaussian(), alpha=0.05, variant="fp").run(2, 10, seed=1)
    assert np.array_equal(s1.samples, s2.samples)
    with pytest.raises(ValueError, match="alpha"):
        GD(m, a, 0.1, alpha=0.1)


# -- one result base -----------------------------------------------------------------------------
def test_results_share_one_base():
    from fxsim.models import DistributedLeastSquares, Quadratic
    from fxsim.models.finite_sum import LinearRegression
    from fxsim.results import StepResult
    h = GD(Quadratic(d=3), Accelerator("Q8.8", "Q8.8"), 0.1).run(4)
    tr = SVRG(LinearRegression(n=20, d=2), 0.02).run(3)
    p = DistributedLeastSquares(n_agents=3, m=8, d=2)
    res = gradient_tracking(p, mixing_matrix("ring", 3), alpha=0.1, n_iters=5)
    run = SGLD(Gaussian(), 0.05, variant="fp").run(2, 6, seed=0)
    for r, n in ((h, 5), (tr, 4), (res, 6), (run, 6)):
        assert isinstance(r, StepResult) and len(r) == n
        rows = r.to_rows()
        assert [row["step"] for row in rows] == list(range(n))
        for name in r.step_fields:
            assert name in rows[0]
    assert rows[3]["samples"].shape == (2, 1)
    # counter names: inexact / overflowed everywhere, the old names kept as aliases
    assert h.rounded is h.inexact and [row["inexact"] for row in h.to_rows()] == [0] + list(h.inexact)
    assert tr.saturated is tr.overflowed and res.saturated == res.overflowed == 0


# -- models in one place with declared protocols -------------------------------------------------
def _shipped():
    from fxsim.models import (MLP, BayesLogistic, DistributedLeastSquares, Himmelblau,
                              LogisticRegression, Quadratic, Rosenbrock, make_least_squares)
    from fxsim.models.finite_sum import LinearRegression, SoftmaxRegression
    from fxsim.samplers import GaussianMixture
    from fxsim.models import protocols as P
    return [(Quadratic(d=3), P.GDModel), (make_least_squares(m=10, d=3), P.GDModel),
            (Rosenbrock(), P.GDModel), (Himmelblau(), P.GDModel),
            (LogisticRegression(), P.GDModel), (MLP(sizes=(64, 4, 10)), P.GDModel),
            (LinearRegression(n=20, d=2), P.FiniteSum), (SoftmaxRegression(n=20), P.FiniteSum),
            (Gaussian(), P.SamplerTarget), (GaussianMixture(), P.SamplerTarget),
            (BayesLogistic(n_train=50, batch=5), P.SamplerTarget),
            (DistributedLeastSquares(n_agents=3, m=8, d=2), P.TrackingAgents)]


def test_every_shipped_model_satisfies_its_protocol():
    import typing
    for model, proto in _shipped():
        assert isinstance(model, proto), (model, proto)
        members = set(typing.get_type_hints(proto)) | {
            k for k, v in vars(proto).items() if callable(v) and not k.startswith("_")}
        for name in members:
            assert hasattr(model, name), (type(model).__name__, name)
        for name in members:
            if callable(getattr(proto, name, None)):
                assert callable(getattr(model, name)), (type(model).__name__, name)


def test_one_name_for_minimizer_and_optimal_value():
    for model, _ in _shipped():
        if hasattr(model, "x_star"):
            xs = model.x_star
            if xs is not None and hasattr(model, "loss") and model.f_star is not None:
                assert model.f_star == pytest.approx(model.loss(xs), rel=1e-12, abs=1e-15)
            if hasattr(model, "optimum"):
                assert model.optimum is xs or np.array_equal(model.optimum, xs)
    from fxsim.models.finite_sum import LinearRegression
    p = LinearRegression(n=20, d=2)
    assert p.w_star is p.x_star


def test_moved_models_keep_their_old_paths():
    import fxsim.models as M
    from fxsim.samplers import BayesLogistic
    from fxsim.samplers.targets import BayesLogistic as B2
    assert BayesLogistic is B2 is M.BayesLogistic
    with pytest.warns(DeprecationWarning, match="fxsim.models"):
        from fxsim.optim.tracking import DistributedLeastSquares
    assert DistributedLeastSquares is M.DistributedLeastSquares
    with pytest.warns(DeprecationWarning):
        import fxsim.optim
        assert fxsim.optim.DistributedLeastSquares is M.DistributedLeastSquares


def test_models_take_accel_and_the_old_acc_keyword_warns():
    from fxsim.models import Quadratic
    m = Quadratic(d=4)
    a = Accelerator("Q16.8", "Q16.8", acc="Q32.16")
    xq = cast(m.x0(), a.weights)
    g = m.fx_grad(xq, a)
    assert np.array_equal(m.fx_grad(xq, accel=a).raw, g.raw)
    with pytest.warns(DeprecationWarning, match="accel"):
        assert np.array_equal(m.fx_grad(xq, acc=a).raw, g.raw)


def test_same_name_for_the_start_point():
    from fxsim.models.finite_sum import LinearRegression
    p = LinearRegression(n=20, d=2)
    a = SVRG(p, 0.02, x0=[0.5, -0.5], seed=1).run(2)
    with pytest.warns(DeprecationWarning, match="x0"):
        b = SVRG(p, 0.02, w0=[0.5, -0.5], seed=1).run(2)
    assert np.array_equal(a.err, b.err) and a.err[0] == pytest.approx(np.linalg.norm([0.5, -0.5] - p.x_star))
