"""Sweeps beyond GD/SGD: the ``algorithm`` axis covers SVRG, LP-SGD, LP-SVRG, HALP, gradient
tracking, SGLD and SGHMC, each on the models of its contract (``fxsim.sweep.algorithms``), with
errors naming the file, the key and the allowed values.

Independent references: LP-SGD with round-to-nearest is recomputed in plain numpy (``rint`` on
the grid of the run's format, saturation, minibatch indices drawn from
``SeedSequence(root, spawn_key=(run index, replicate))`` as the sweep prescribes); tracking's
first error is 1 (start at 0: ‖0 − x*‖/‖x*‖) and its bits are k·2·d·wl per agent (closed form);
the samplers' ``w2`` at a point mass is the target's σ when all chains agree, and ``mean`` is
checked against the chains of an SGLD run seeded by hand from the same rule.
"""
import numpy as np
import pytest

pytest.importorskip("pyarrow")

from fxsim.models.finite_sum import LinearRegression  # noqa: E402
from fxsim.sweep import SweepConfig, read_tables, run_sweep  # noqa: E402
from fxsim.sweep.algorithms import ALGORITHMS, models_of, record_of  # noqa: E402
from fxsim.sweep.config import ConfigError  # noqa: E402
from fxsim.sweep.run import run_one  # noqa: E402

FS = {"run": {"model": "linear_regression", "model_params": {"n": 40, "d": 3},
              "algorithm": "lp_sgd", "algorithm_params": {"alpha": 0.05, "T": 10},
              "format": "Q4.8", "source": "lfsr16", "iterations": 3},
      "sweep": {"seed": 7, "record": ["err", "loss", "overflowed"]}}


def _seeds(root, index, rep):
    a, b = np.random.SeedSequence(root, spawn_key=(index, rep)).generate_state(2, np.uint32)
    return int(a), int(b)


def _lp_sgd_rn(model, alpha, T, fl, wl, epochs, gseed):
    """Plain-numpy LP-SGD, round-to-nearest-even onto Q(wl, fl) with saturation."""
    lo, hi = -2.0 ** (wl - 1), 2.0 ** (wl - 1) - 1
    q = lambda v: np.clip(np.rint(v * 2.0 ** fl), lo, hi) / 2.0 ** fl  # noqa: E731
    rng = np.random.default_rng(np.random.SeedSequence(gseed).spawn(2)[0])
    w = q(np.zeros(model.dim))
    err = [np.linalg.norm(w - model.x_star)]
    for _ in range(epochs):
        for idx in rng.integers(0, model.n_samples, size=(T, 1)):
            X, y = model.X[idx], model.y[idx]
            w = q(w - alpha * (X.T @ (X @ w - y) / len(y)))
        err.append(np.linalg.norm(w - model.x_star))
    return np.array(err), w


def test_lp_sgd_round_to_nearest_matches_plain_numpy():
    cfg = SweepConfig(dict(FS, axes={"strategy": ["round-to-nearest"]}))
    run = cfg.runs[0]
    out = run_one(run)
    assert out["summary"]["status"] == "ok", out["summary"]["error"]
    gseed, _ = _seeds(7, run["index"], run["replicate"])
    model = LinearRegression(n=40, d=3)
    err, w = _lp_sgd_rn(model, 0.05, 10, 8, 12, 3, gseed)
    np.testing.assert_array_equal(out["series"]["err"], err)
    assert out["series"]["loss"][-1] == model.loss(w)
    assert out["series"]["overflowed"][0] == -1 and out["summary"]["final_err"] == err[-1]


def test_every_algorithm_runs_on_its_models():
    cases = [{"algorithm": "svrg", "algorithm_params": {"alpha": 0.05, "T": 10}},
             {"algorithm": "lp_svrg", "algorithm_params": {"alpha": 0.05, "T": 10}},
             {"algorithm": "halp", "algorithm_params": {"alpha": 0.05, "T": 10}}]
    cfg = SweepConfig(dict(FS, cases=cases, axes={"strategy": ["round-to-nearest", "SR"]},
                           sweep={"seed": 7, "record": ["err", "excess", "scale"]}))
    for run in cfg.runs:
        out = run_one(run)
        assert out["summary"]["status"] == "ok", out["summary"]["error"]
        err = out["series"]["err"]
        assert err.shape == (4,) and err[-1] < 0.5 * err[0], (run["labels"], err)
    scale = [run_one(r)["series"]["scale"] for r in cfg.runs if r["labels"]["algorithm"] == "halp"]
    assert all(np.isnan(s[0]) and (s[1:] > 0).all() for s in scale)


def test_tracking_errors_start_at_one_and_bits_follow_the_closed_form():
    cfg = SweepConfig({"sweep": {"record": ["err", "bits", "consensus"]},
                       "run": {"model": "distributed_least_squares", "algorithm": "tracking",
                               "algorithm_params": {"alpha": 0.01}, "format": "Q8.12",
                               "source": "lfsr16", "iterations": 6},
                       "axes": {"strategy": ["round-to-nearest", "SR"]}})
    for run in cfg.runs:
        s = run_one(run)["series"]
        assert s["err"][0] == 1.0 and s["consensus"][0] == 0.0
        assert s["bits"].tolist() == [k * 2 * 10 * 20 for k in range(7)]
        assert s["err"][-1] < s["err"][0]


def test_sgld_mean_follows_the_sweep_seeds():
    from fxsim.samplers import SGLD, Gaussian
    cfg = SweepConfig({"run": {"model": "gaussian", "algorithm": "sgld",
                               "algorithm_params": {"eta": 0.05, "chains": 16, "variant": "lpl"},
                               "format": "Q(8,3)", "source": "lfsr16", "iterations": 5,
                               "accelerator": {"r": 8}},
                       "sweep": {"seed": 2, "every": 2}})
    run = cfg.runs[0]
    assert cfg.record == ["mean", "w2"]
    s = run_one(run)["series"]
    gseed, _ = _seeds(2, 0, 0)
    chains = SGLD(Gaussian(), 0.05, variant="lpl", fmt="Q(8,3)", r=8, source="lfsr16").run(
        16, 5, seed=gseed).samples
    assert s["iteration"].tolist() == [2, 4, 5]
    np.testing.assert_array_equal(s["mean"], chains[[1, 3, 4], :, 0].mean(axis=1))
    assert np.isfinite(s["w2"]).all() and (s["w2"] > 0).all()


def test_a_mixed_sweep_stores_every_family(tmp_path):
    data = {"sweep": {"seed": 1, "record": ["err"]},
            "run": {"model": "linear_regression", "model_params": {"n": 40, "d": 3},
                    "algorithm": "halp", "algorithm_params": {"alpha": 0.05, "T": 10},
                    "format": "Q4.8", "source": "lfsr16", "iterations": 2},
            "cases": [{}, {"model": "distributed_least_squares", "algorithm": "tracking",
                           "algorithm_params": {"alpha": 0.01}, "format": "Q8.12"}],
            "axes": {"strategy": ["round-to-nearest", "SR"]}}
    res = run_sweep(SweepConfig(data), tmp_path, serial=True, progress=False)
    assert res["failed"] == 0 and res["ran"] == 4
    series, summary = read_tables(tmp_path)
    assert series.num_rows == 4 * 3
    assert sorted(set(summary["algorithm"].to_pylist())) == ["halp", "tracking"]
    assert all(v is not None for v in summary["final_err"].to_pylist())


@pytest.mark.parametrize("change,key,words", [
    ({"model": "quadratic"}, "run.model", ["'quadratic' is not a model of lp_sgd (a FiniteSum)",
                                           "allowed: linear_regression, softmax_regression"]),
    ({"model": "svm"}, "run.model", ["unknown model 'svm'", "linear_regression"]),
    ({"algorithm": "adam"}, "run.algorithm", ["unknown algorithm 'adam'", "halp", "sghmc", "tracking"]),
    ({"algorithm_params": {"alpha": 0.1, "t": 0.1}}, "run.algorithm_params.t",
     ["not a parameter of lp_sgd", "allowed: alpha, T, batch"]),
    ({"algorithm_params": {"T": 10}}, "run.algorithm_params.alpha", ["positive number"]),
    ({"algorithm": "sgld", "model": "gaussian", "model_params": {}, "algorithm_params": {"eta": 0.1}},
     "sweep.record",
     ["sgld (run) does not record 'err'", "allowed: mean, w2"]),
])
def test_bad_algorithm_settings_name_the_file_key_and_allowed_values(change, key, words):
    run = dict(FS["run"], **change)
    with pytest.raises(ConfigError) as e:
        SweepConfig({"run": run, "sweep": {"record": ["err"]}}, where="s.toml")
    msg = str(e.value)
    assert msg.startswith(f"s.toml: {key}: "), msg
    for w in words:
        assert w in msg, msg


def test_the_registry_is_consistent():
    for alg in ALGORITHMS:
        assert models_of(alg) and record_of(alg)
