"""Researchers' own variants of the GD study (issue 15 points 1, 6 and 7): the strategy registry,
``--strategies/--eps/--r/--formats``, the downhill strategy and the decomposition, the one
format notation, the printed verdict and the command line's help.

Independent references: a plain-numpy GD (``numpy.rint`` is round-half-to-even) for a
strategy registered with ``CastMode`` objects, and hand-written format names."""
import argparse
import os

import numpy as np
import pytest

fxsim = pytest.importorskip("fxsim")
G = pytest.importorskip("fxsim.studies.gd_rounding")
from conftest import cli_user_error  # noqa: E402
from fxsim import CastMode, QFormat  # noqa: E402
from fxsim.cli import main  # noqa: E402

FMT = QFormat(16, 8)


@pytest.mark.parametrize("q, text", [
    (QFormat(16, 8), "Q(16,8)"), (QFormat(20, 12), "Q(20,12)"), (QFormat(8, 10), "Q(8,10)"),
    (QFormat(16, 16, False), "UQ(16,16)"), (QFormat(4, -1, False), "UQ(4,-1)"),
    (QFormat(64, 0), "Q(64,0)")])
def test_one_notation(q, text):
    assert str(q) == text and QFormat.parse(text) == q
    assert repr(fxsim.FixedArray([1], q)).startswith(f"FixedArray({text}, ")


def _numpy_rn_gd(model, x0, t_q, fl, n):
    """x ← rint(x − t_q·rint(∇f(x)·2^fl)/2^fl) on the grid 2^−fl, in plain numpy; f − f*."""
    s = 2.0 ** fl
    x = x0.copy()
    out = [model.loss(x) - model.f_star]
    for _ in range(n):
        g = np.rint(model.A @ (x - model.c) * s) / s
        x = np.rint((x - t_q * g) * s) / s
        out.append(model.loss(x) - model.f_star)
    return np.array(out)


def test_a_registered_strategy_of_cast_modes_runs_as_numpy_says(tmp_path):
    """A user's strategy (CastMode objects per role) runs through run(strategies=...) and
    gives, bit for bit, the loss curve of a plain-numpy round-to-nearest GD."""
    name = "my RN"
    G.register_strategy(name, {"grad": CastMode("nearest_even"), "update": CastMode("nearest_even")})
    try:
        with pytest.raises(ValueError, match="exists already"):
            G.register_strategy(name, {})
        res = G.run(tmp_path, models="quadratic_off", formats="Q(16,8)", strategies=[name, "SR"],
                    sources="pcg64", n_seeds=2, iters={"quadratic": 60}, workers=1, progress=False)
    finally:
        del G.STRATEGIES[name]
    assert [s["label"] for s in res.summary] == [name, "SR"]
    model, t, _ = G.build_model("quadratic_off", FMT)
    t_q = round(t * 2**16) / 2**16
    for r in (r for r in res.rows if r["strategy"] == name):
        gseed, _ = G._seeds(0, "quadratic_off", r["seed"])
        x0 = fxsim.cast(model.x0(np.random.default_rng(np.random.SeedSequence(gseed).spawn(2)[0])),
                        FMT).to_float()
        ref = _numpy_rn_gd(model, x0, t_q, FMT.fl, 60)
        assert r["final_excess"] == max(ref[-1], 0.0)
        assert r["iters_to_tol"] == next((k for k, v in enumerate(ref) if v <= r["tol"]), None)


def test_registry_refuses_bad_strategies():
    with pytest.raises(ValueError, match="role 'acts'"):
        G.register_strategy("x", {"acts": "stochastic"})
    with pytest.raises(ValueError, match="signed_stochastic_eps"):
        G.register_strategy("x", {"grad": "signed_stochastic_eps"})
    with pytest.raises(ValueError, match="unknown rounding"):
        G.register_strategy("x", {"grad": "stochastik"})
    assert "x" not in G.STRATEGIES


def test_downhill_strategy_is_registered_and_casts_downhill():
    assert G.DEFAULT_STRATEGIES[-1] == "downhill-SR_ε"
    acc = G._accelerator(G.STRATEGIES["downhill-SR_ε"], FMT, "pcg64", 0, 16, 0.2,
                         prod=G.three_cast_prod(FMT))
    assert [acc.casts[r][0] for r in ("grad", "step", "update")] == \
        ["stochastic_eps", "stochastic_eps", "signed_stochastic_eps"]
    assert str(acc.prod) == "Q(20,12)" and acc.eps == 0.2


def test_variants_and_labels():
    v = G.variants(["round-to-nearest", "SR", "downhill-SR_ε"], [0.1, 0.3], [8, 16])
    labels = [x[0] for x in v]
    assert labels == ["round-to-nearest", "SR r=8", "SR r=16",
                      "downhill-SR_ε ε=0.1 r=8", "downhill-SR_ε ε=0.1 r=16",
                      "downhill-SR_ε ε=0.3 r=8", "downhill-SR_ε ε=0.3 r=16"]
    assert [(x[3], x[4]) for x in v][:3] == [(None, None), (None, 8), (None, 16)]


def test_eps_and_r_reach_the_casts(tmp_path):
    """ε and r from the options are the accelerator's: with ε = 0 SR_ε is SR bit for bit (same
    streams), with ε = 0.3 it is not; r = 8 and r = 16 give different SR runs."""
    res = G.run(tmp_path, models="quadratic_grid", formats="Q(16,8)", strategies="SR,SR_ε",
                eps="0,0.3", r="8,16", sources="lfsr16", n_seeds=1, iters={"quadratic": 40},
                workers=1, progress=False)
    fin = {(r["label"]): r["final_excess"] for r in res.rows}
    cur = {r["label"]: (r["final_excess"], r["iters_to_tol"], r["stagnation_iter"]) for r in res.rows}
    assert set(fin) == {"SR r=8", "SR r=16", "SR_ε ε=0 r=8", "SR_ε ε=0 r=16", "SR_ε ε=0.3 r=8",
                        "SR_ε ε=0.3 r=16"}
    assert cur["SR_ε ε=0 r=16"] == cur["SR r=16"] and cur["SR_ε ε=0 r=8"] == cur["SR r=8"]
    assert cur["SR_ε ε=0.3 r=16"] != cur["SR r=16"]
    assert {r["r"] for r in res.rows} == {8, 16}


@pytest.mark.parametrize("argv, words", [
    (["--strategies", "SR,SR_eps"], ["--strategies", "'SR_eps'", "downhill-SR_ε"]),
    (["--formats", "Q(16,8),Q99"], ["--formats", "'Q99'", "Q(16,8)"]),
    (["--formats", "UQ(16,8)"], ["--formats", "unsigned"]),
    (["--eps", "0.1,1"], ["--eps", "[0, 1)"]),
    (["--r", "8,0"], ["--r", "[1, 32]"]),
    (["--models", "svm"], ["--models", "'svm'", "rosenbrock"]),
    (["--sources", "lfsr99"], ["--sources", "lfsr99"]),
])
def test_option_errors_name_the_option_and_the_allowed_values(argv, words, capsys, tmp_path):
    msg = cli_user_error(["gd-study", "--out", str(tmp_path / "o"), *argv], capsys, "gd-study")
    for w in words:
        assert w in msg, (w, msg)
    assert not (tmp_path / "o").exists()


def test_a_refused_option_leaves_no_folder(tmp_path):
    with pytest.raises(ValueError, match=r"r: expected integers in \[1, 32\]"):
        G.run(tmp_path / "o", r="40", progress=False)
    with pytest.raises(ValueError, match="strategies: unknown strategy 'nope'"):
        G.run(tmp_path / "o", strategies="SR,nope", progress=False)
    assert not (tmp_path / "o").exists()


def test_decomposition_runs_every_bias_location(tmp_path):
    res = G.run(tmp_path, models="quadratic_off", formats="Q(16,8)", strategies="SR",
                sources="pcg64", n_seeds=1, iters={"quadratic": 30}, workers=1, progress=False,
                decompose=True, eps="0.1,0.2", r="16")
    d = res.decomposition
    assert {s["strategy"] for s in d} == set(G.DECOMPOSITION)
    assert {s["eps"] for s in d if s["strategy"] != "none (SR)"} == {0.1, 0.2}
    assert {r["datapath"] for r in res.decomposition_rows} == {"three-cast"}
    md = open(res.files["decomposition_md"]).read()
    for name in G.DECOMPOSITION:
        assert f"| {name} |" in md
    assert any("decomposition" in v["claim"] for v in res.verdicts)


def _parser():
    """fxsim's top-level parser, as main() builds it."""
    seen = {}

    def grab(self, argv=None, namespace=None):
        seen.setdefault("p", self)
        raise SystemExit(0)
    mp = pytest.MonkeyPatch()
    mp.setattr(argparse.ArgumentParser, "parse_args", grab)
    try:
        with pytest.raises(SystemExit):
            main(["--help"])
    finally:
        mp.undo()
    return seen["p"]


def test_help_is_plain_text_and_every_option_has_help(capsys):
    p = _parser()
    text = p.format_help()
    assert "``" not in text and "fxsim with no command runs the main job" in text
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    assert {"demo", "gd-study", "export-vectors", "sweep"} <= set(sub.choices)
    for name, sp in sub.choices.items():
        assert helps.get(name), name                      # listed in fxsim --help with a line
        assert name in text
        for a in sp._actions:
            assert a.help and a.help != argparse.SUPPRESS, (name, a.option_strings or a.dest)
        assert "``" not in sp.format_help(), name
    for a in p._actions:
        assert a.help, a.option_strings


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"fxsim {fxsim.__version__}"


def test_main_job_says_what_it_does_first(monkeypatch, capsys, tmp_path):
    seen = {}

    def fake_run(out, **kw):
        seen.update(kw, out=out)
        return fxsim.studies.StudyResult(verdicts=[], markdown="| t |", seconds=0.0,
                                         files={"md": "o/t.md"}, rows=[])
    monkeypatch.setattr(G, "run", fake_run)
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("fxsim: running the main job") and "min" in out[0]
    assert seen["out"] == os.path.join("results", "gd_study") and not seen["quick"]


@pytest.mark.parametrize("name", ["breast_cancer", "digits01", "digits"])
def test_bundled_data_read_without_sklearn_equal_sklearns_loaders(name):
    """The data files are read without importing scikit-learn (4-7 s per worker process);
    the arrays equal its own loaders' bit for bit."""
    from sklearn import datasets
    from fxsim.models.data import builtin_dataset
    X, y = builtin_dataset(name)
    if name == "breast_cancer":
        Xr, yr = datasets.load_breast_cancer(return_X_y=True)
        Xr = (Xr - Xr.mean(axis=0)) / Xr.std(axis=0)
    else:
        Xr, yr = datasets.load_digits(return_X_y=True)
        Xr = Xr / 16.0
        if name == "digits01":
            Xr, yr = Xr[yr <= 1], yr[yr <= 1]
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert np.array_equal(X, Xr) and np.array_equal(y, yr)


def test_scheduler_help_says_which_studies_send_jobs():
    """``--scheduler`` says "no effect" exactly on the studies whose code never reaches the
    job runner (``run_jobs``/``map_jobs``): an option that would do nothing says so."""
    import argparse
    import importlib
    import inspect
    import pkgutil

    from fxsim.studies import STUDY_MODULES
    sub = argparse.ArgumentParser(prog="fxsim").add_subparsers(dest="cmd")
    for name in STUDY_MODULES:
        mod = importlib.import_module(name)
        before = set(sub.choices)
        mod.add_cli(sub)
        src = inspect.getsource(mod)
        if hasattr(mod, "__path__"):            # a package: all of its modules
            src += "".join(inspect.getsource(importlib.import_module(m.name))
                           for m in pkgutil.iter_modules(mod.__path__, name + "."))
        sends = "run_jobs(" in src or "map_jobs(" in src
        for cmd in set(sub.choices) - before:
            act = next(a for a in sub.choices[cmd]._actions if a.dest == "scheduler")
            assert ("no effect" in act.help) == (not sends), (cmd, name, act.help)
