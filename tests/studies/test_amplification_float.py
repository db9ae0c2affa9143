"""Amplification in float formats and the paper's test-accuracy metric (issue 15 point 4,
issue 17 point 2): fxsim/studies/float_training.py, amplification_variance.py and the float
side of amplification.py.

Independent references: numpy's own float64 -> float32 rounding (round-half-even) and
np.nextafter for fp32; ml_dtypes' bfloat16 for bf16; numpy's std and the closed form of the
F quantile F(1, 1) (tan²(π q / 2)) for the metric's summary.
"""
import math

import numpy as np
import pytest

from fxsim import FloatFormat
from fxsim.studies import amplification as amp
from fxsim.studies import amplification_variance as av
from fxsim.studies.float_training import FloatGD, ulp_away

ml_dtypes = pytest.importorskip("ml_dtypes")


@pytest.fixture(scope="module")
def small():
    return av.train_model(64)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _oracle_step(m, w, rnd, lr, idx):
    """One SGD step with one rounding per operation, written from the module doc with
    ``rnd`` (numpy's or ml_dtypes' round-to-nearest-even)."""
    X, Y = m.X[idx], m.Y[idx]
    (W1, b1), (W2, b2) = m.layers(w)
    Z1 = rnd(X @ W1.T + b1)
    H1 = np.maximum(Z1, 0)
    Z2 = rnd(H1 @ W2.T + b2)
    D2 = rnd(rnd(_softmax(Z2)) - Y)
    B = len(idx)
    dW2, db2 = rnd((D2.T @ H1) / B), rnd(D2.sum(0) / B)
    D1 = rnd(D2 @ W2) * (Z1 > 0)
    dW1, db1 = rnd((D1.T @ X) / B), rnd(D1.sum(0) / B)
    g = np.concatenate([dW1.ravel(), db1, dW2.ravel(), db2])
    return rnd(w - lr * g)


@pytest.mark.parametrize("name, rnd", [
    ("fp32", lambda a: np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)),
    ("bf16", lambda a: np.asarray(a, dtype=np.float64).astype(ml_dtypes.bfloat16)
     .astype(np.float64))])
def test_round_to_nearest_steps_match_numpy_and_ml_dtypes(small, name, rnd):
    gd = FloatGD(small, name, "nearest_even", lr=0.5, batch_size=16, seed=3)
    w = rnd(small.x0())
    assert np.array_equal(gd.w, w)
    batches = np.random.default_rng(np.random.SeedSequence(3).spawn(2)[1])
    for _ in range(5):
        idx = batches.choice(small.n_samples, 16, replace=False)
        w = _oracle_step(small, w, rnd, 0.5, idx)
        gd.step()
        assert np.array_equal(gd.w, w)


def test_stochastic_rounding_lands_on_a_neighbour(small):
    gd = FloatGD(small, "fp32", "stochastic", lr=0.5, source="pcg64", sr_seed=1)
    w0 = gd.w.copy()
    g = gd.grad()
    gd2 = FloatGD(small, "fp32", "stochastic", lr=0.5, source="pcg64", sr_seed=2)
    exact = w0 - 0.5 * g
    up = gd2.c(exact)
    lo32 = exact.astype(np.float32)
    below = np.where(lo32 > exact, np.nextafter(lo32, np.float32(-np.inf)), lo32)
    above = np.nextafter(below, np.float32(np.inf))
    assert np.all((up == below) | (up == above) | (up == exact))
    assert np.any(up == below) and np.any(up == above)


def test_ulp_away_is_nextafter_away_from_zero():
    x = np.array([0.3, -1.7, 2.0**-20, 5.0], dtype=np.float32).astype(np.float64)
    for j in range(x.size):
        got = ulp_away(x, FloatFormat.parse("fp32"), j)
        want = x.copy()
        want[j] = float(np.nextafter(np.float32(x[j]), np.float32(np.copysign(np.inf, x[j]))))
        assert np.array_equal(got, want)
    b = ulp_away(np.array([1.0]), FloatFormat.parse("bf16"), 0)
    assert b[0] == float(np.nextafter(np.asarray(1.0, ml_dtypes.bfloat16),
                                      np.asarray(2.0, ml_dtypes.bfloat16)))


@pytest.mark.parametrize("strategy", ["round-to-nearest", "SR, LFSR n=16"])
def test_float_pair_starts_one_ulp_apart_and_identical_starts_stay_identical(small, strategy):
    r = amp.pair_run(small, strategy, 1.25, perturb="lsb", n_iters=3, fmt=FloatFormat.parse("bf16"),
                     record_loss=False)
    d = r["x0_b"].astype(np.int64) - r["x0_a"].astype(np.int64)
    assert np.count_nonzero(d) == 1 and abs(d[r["word"]]) == 1
    assert r["l2"][0] == 1.0
    same = amp.pair_run(small, strategy, 1.25, perturb="none", n_iters=10,
                        fmt=FloatFormat.parse("bf16"), record_loss=False)
    assert not same["l2"].any()


@pytest.fixture(scope="module")
def study_model():
    return amp.make_model(256)


@pytest.mark.parametrize("strategy", list(amp.STRATEGIES))
def test_bf16_unstable_setting_amplifies_one_ulp(study_model, strategy):
    """README: beyond the edge (t = 1.25, wd = 0) one bf16 ulp grows ≥ 10³× for every
    strategy."""
    r = amp.pair_run(study_model, strategy, 1.25, perturb="lsb", n_iters=60,
                     fmt=FloatFormat.parse("bf16"), record_loss=False)
    assert r["l2"].max() >= 1e3, r["l2"].max()


def test_bf16_round_to_nearest_does_not_merge_below_the_edge(study_model):
    """README: at t = 0.25, wd = 0.1 round-to-nearest merges the fixed-point pair but the bf16
    pair drifts apart (tens of ulps)."""
    r = amp.pair_run(study_model, "round-to-nearest", 0.25, 0.1, perturb="lsb", n_iters=100,
                     fmt=FloatFormat.parse("bf16"), record_loss=False)
    assert r["l2"][-1] > 16 and r["rel"][-1] < 0.05


def test_between_the_edge_and_t_one_the_fixed_pair_stays_within_a_thousand_lsb(study_model):
    """README: the start's edge (t ≈ 0.56) does not mark where runs separate; at t = 0.75 the
    1-LSB pair stays within ~10³ LSB."""
    r = amp.pair_run(study_model, "round-to-nearest", 0.75, 0.0, perturb="lsb", n_iters=100,
                     record_loss=False)
    assert r["l2"].max() <= 2000, r["l2"].max()


def test_fp32_one_ulp_can_vanish_under_shared_sr_bits(study_model):
    """README: in fp32 the perturbed word moves to a larger binade in the first step, where the
    two exact updates are ¼ ulp apart; SR from the shared 16-bit LFSR rounds both to the same
    word, and the pair has merged for good by the second step (round-to-nearest keeps them
    apart)."""
    f = FloatFormat.parse("fp32")
    r = amp.pair_run(study_model, "SR, LFSR n=16", 1.25, perturb="lsb", n_iters=5, fmt=f,
                     record_loss=False)
    assert r["l2"][0] == 1 and r["l2"][1] < 1 and not r["l2"][2:].any()
    rn = amp.pair_run(study_model, "round-to-nearest", 1.25, perturb="lsb", n_iters=5, fmt=f,
                      record_loss=False)
    assert rn["l2"][1:].min() > 0


def test_k3_and_bad_formats_are_refused(small):
    with pytest.raises(ValueError, match="perturb"):
        amp.pair_run(small, "round-to-nearest", 0.5, perturb="k3", fmt=FloatFormat.parse("bf16"))
    with pytest.raises(ValueError, match="formats"):
        av.parse_format("Q(3")
    with pytest.raises(ValueError, match="formats"):
        amp.run("/tmp/unused", formats=[])
    with pytest.raises(ValueError, match="source"):
        amp.strategies(["nonsense"])
    with pytest.raises(ValueError, match="pairs"):
        amp.run("/tmp/unused", pairs=1)


def test_summary_matches_numpy_and_the_closed_form_f_quantile():
    rows = [dict(format="f", strategy="s", group=g, test_acc=a, dist=0.1 if g == "perturbed"
                 else None)
            for g, a in [("base", .90), ("perturbed", .93), ("sgd seed", .80)]]
    s = av.summarize(rows)[0]
    assert math.isclose(s["std_perturbed"], np.std([90, 93], ddof=1))
    assert math.isclose(s["std_sgd_seed"], np.std([90, 80], ddof=1))
    assert math.isclose(s["var_ratio"], 9 / 100)
    assert math.isclose(s["f_bound"], math.tan(math.pi * 0.05 / 2) ** 2, rel_tol=1e-9)
    assert s["held"] is True                      # 0.09 ≥ 0.0062
    flat = [dict(r, test_acc=.9) if r["group"] == "perturbed" else r for r in rows]
    assert av.summarize(flat)[0]["held"] is False  # perturbations changed nothing


def test_metric_runs_are_deterministic_and_independent_of_workers():
    kw = dict(formats=["fixed", "bf16"], strategies={"SR, LFSR n=16": ("stochastic", "lfsr16")},
              n_iters=3, n_pairs=2, n_seeds=2, n_train=64)
    a = av.experiment(workers=1, **kw)
    b = av.experiment(workers=2, **kw)
    assert [r["test_acc"] for r in a] == [r["test_acc"] for r in b]
    assert [r["group"] for r in a].count("sr seed") == 4


def test_readme_claim_fixed_point_one_lsb_does_not_move_test_accuracy_at_t_half():
    """README: at t = 0.5 in Q(24,16) with round-to-nearest, 1-LSB perturbed trainings end with
    the base run's test accuracy, while other SGD seeds change it (so the paper's headline does
    not hold there)."""
    rows = av.experiment(["fixed"], {"round-to-nearest": ("nearest_even", None)}, lr=0.5,
                         n_iters=100, n_pairs=3, n_seeds=3, workers=2)
    s = av.summarize(rows)[0]
    assert s["std_perturbed"] == 0 and s["std_sgd_seed"] > 0 and not s["held"]
