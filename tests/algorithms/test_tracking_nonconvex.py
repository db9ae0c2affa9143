"""Issue 15 point 3: the nonconvex logistic problem of compressed gradient tracking (checked
against finite differences and its own definition), the fixed saturating word that really
clips, and the tracking study's verdicts (the whole --quick study only under ``-m slow``)."""
import numpy as np
import pytest

from fxsim.models import DistributedLeastSquares, DistributedNonconvexLogistic
from fxsim.optim.compressors import SaturatingQuantizer
from fxsim.optim.tracking import gradient_tracking, mixing_matrix


@pytest.fixture(scope="module")
def P():
    return DistributedNonconvexLogistic()


def _f_i(P, i, x):
    z = P.y[i] * (P.A[i] @ x)
    return np.mean(np.log1p(np.exp(-z))) + P.lam * np.sum(x * x / (1 + x * x))


def test_gradient_and_hessian_against_finite_differences(P):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(P.n_agents, P.d))
    G = P.grad(X)
    h = 1e-6
    for i in (0, 5):
        fd = [(_f_i(P, i, X[i] + h * e) - _f_i(P, i, X[i] - h * e)) / (2 * h) for e in np.eye(P.d)]
        assert np.allclose(G[i], fd, atol=1e-8)
    x = rng.normal(size=P.d)
    gbar = lambda v: P.grad(np.tile(v, (P.n_agents, 1))).mean(axis=0)
    Hfd = np.array([(gbar(x + h * e) - gbar(x - h * e)) / (2 * h) for e in np.eye(P.d)])
    assert np.allclose(P.hessian(x), Hfd, atol=1e-7)
    assert P.loss(x) == pytest.approx(np.mean([_f_i(P, i, x) for i in range(P.n_agents)]))


def test_minimizer_is_stationary_strict_and_the_cost_nonconvex(P):
    gbar = P.grad(np.tile(P.x_star, (P.n_agents, 1))).mean(axis=0)
    assert np.abs(gbar).max() < 1e-14
    assert P.mu > 0 and P.L_max >= P.L
    assert np.linalg.eigvalsh(P.hessian(np.ones(P.d)))[0] < 0        # the regularizer's concave part
    local = [np.linalg.norm(P.grad(np.tile(P.x_star, (P.n_agents, 1)))[i]) for i in range(P.n_agents)]
    assert min(local) > 1e-3                  # heterogeneous agents: consensus matters
    assert P.m * P.n_agents == 440 and P.d == 10


def test_uncompressed_tracking_converges_linearly_on_the_nonconvex_problem(P):
    res = gradient_tracking(P, mixing_matrix("ring", 8), None, alpha=0.3 / P.L_max, n_iters=2500, tol=1e-12)
    assert res.iters_to(1e-8) is not None and 0.97 < res.rate < 0.995
    # the rate of gradient descent near x*: 1 − αμ bounds it from below
    assert res.rate > 1 - 0.3 / P.L_max * P.mu - 1e-3


@pytest.mark.parametrize("rho,ok", [(0.93, False), (0.97, True)])
def test_clipping_word_needs_a_scale_decaying_slower_than_the_iterates(rho, ok):
    """Least squares (uncompressed rate 0.956): the fixed saturating Q(4,2) word on messages /
    s_k clips most entries and stalls when ρ = 0.93 < 0.956; with ρ = 0.97 it converges at ≈ ρ."""
    from fxsim.studies.tracking import run_config
    P = DistributedLeastSquares()
    res = run_config(P, mixing_matrix("ring", 8), lambda s: SaturatingQuantizer(4, fl=2), True, 1.0, 0,
                     900, rho=rho)
    entries = 2 * 8 * 10 * (len(res.err_max) - 1)
    if ok:
        assert res.iters_to(1e-8) is not None and res.rate == pytest.approx(rho, abs=2e-3)
        assert res.overflowed == 0
    else:
        assert res.iters_to(1e-8) is None and res.err_max[-1] > 1e-4
        assert res.overflowed > 0.5 * entries


def test_saturation_count_is_the_clipped_entries():
    q = SaturatingQuantizer(4, fl=2)                      # Q(4,2): [−2, 1.75]
    x = np.array([[1.75, 1.8, -2.0, -2.1, 0.3], [5.0, -7.0, 0.0, 1.0, -1.9]])
    q(x)
    assert q.saturated == int(np.sum((x > 1.75) | (x < -2.0))) == 4


def test_duplicate_scaled_rand_row_dropped_and_sources_option():
    from fxsim.studies import tracking as T
    assert "rand-3 scaled d/k" not in T.CONFIGS
    labs = [c[0] for c in T.configs(sources=("philox",))]
    assert "Q3.5 SR philox, s_k decay" in labs and not any("LFSR16" in x for x in labs)


@pytest.mark.slow
def test_quick_tracking_study_verdicts(tmp_path):
    from fxsim.studies import tracking as T
    res = T.run(str(tmp_path), quick=True, progress=False)
    v = {x["claim"]: x["held"] for x in res.verdicts}
    for pn in ("least_squares", "logistic"):
        assert [h for c, h in v.items() if c.startswith(f"{pn}: every compressor class")] == [True]
        assert [h for c, h in v.items() if c.startswith(f"{pn}: a clipping")] == [True]
    assert (tmp_path / "tracking_logistic.csv").exists() and (tmp_path / "tracking_saturation.csv").exists()
    # README: without the decaying scale the unsaturated word stalls at its LSB
    stall = [r for r in res.rows if r["problem"] == "least_squares" and "no decay" in r["compressor"]]
    assert stall and all(r["iters_to_tol"] is None and r["final_err"] > 1e-3 for r in stall)
    # README: ρ = 0.93 clips most entries and stalls, ρ = 0.99 clips nothing and converges at ≈ ρ
    for r in res.saturation:
        if r["rho"] == 0.93:
            assert r["clipped_fraction"] > 0.8 and r["iters_to_tol"] is None
        if r["rho"] == 0.99 and r["scale"] == 1.0:
            assert r["clipped"] == 0 and r["rate"] == pytest.approx(0.99, abs=2e-3)


def test_satisfies_the_tracking_protocol(P):
    import typing
    from fxsim.models import protocols as PR
    assert isinstance(P, PR.TrackingAgents)
    for name in set(typing.get_type_hints(PR.TrackingAgents)):
        assert hasattr(P, name), name
    assert P.f_star == pytest.approx(P.loss(P.x_star), rel=1e-12)
