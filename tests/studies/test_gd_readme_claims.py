"""Issue 15 point 9 for the GD study: the quick study (seed 0) is run once and every qualitative
claim of the README's GD section ("The main job") is checked against its rows, read here from
the per-run rows (medians computed with numpy), not from the study's own verdicts; then no
``--quick`` verdict may contradict the full run's (``FULL_RUN``: the verdicts printed by
``fxsim gd-study`` on its defaults, seed 0, 7 seeds, recorded below)."""
import numpy as np
import pytest

G = pytest.importorskip("fxsim.studies.gd_rounding")

#: ``fxsim gd-study --out results/gd_study`` (full preset, seed 0): held (True/False) per claim
FULL_RUN = {
    "quadratic (on grid): round-to-nearest stops moving above SR's final loss": True,
    "quadratic (on grid): downhill-SR_ε reaches tol before SR": True,
    "quadratic (on grid): signed-SR_ε reaches tol before SR": True,
    "quadratic (on grid): SR_ε reaches tol before SR": False,
    "quadratic (off grid): round-to-nearest stops moving above SR's final loss": True,
    "quadratic (off grid): downhill-SR_ε reaches tol before SR": True,
    "quadratic (off grid): signed-SR_ε reaches tol before SR": True,
    "quadratic (off grid): SR_ε reaches tol before SR": False,
    "logistic: round-to-nearest stops moving above SR's final loss": True,
    "logistic: downhill-SR_ε reaches tol before SR": True,
    "logistic: SR_ε reaches tol before SR": True,
    # within a few iterations of SR (112 vs 110-116): the sources split, so not decided
    "logistic: signed-SR_ε reaches tol before SR": None,
}


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return G.run(tmp_path_factory.mktemp("gd"), quick=True, seed=0, progress=False, workers=2)


def _median_iters(rows, model, fmt, src, label):
    v = [np.inf if r["iters_to_tol"] is None else r["iters_to_tol"] for r in rows
         if (r["model"], r["format"], r["source"], r["label"]) == (model, fmt, src, label)]
    assert v, (model, fmt, src, label)
    return float(np.median(v))


def _median(rows, model, fmt, src, label, key):
    return float(np.median([r[key] for r in rows if (r["model"], r["format"], r["source"],
                                                      r["label"]) == (model, fmt, src, label)]))


def _cells(rows, model):
    return sorted({(r["format"], r["source"]) for r in rows if r["model"] == model})


@pytest.mark.parametrize("model", ["quadratic_grid", "quadratic_off"])
def test_rn_stops_inside_its_derived_range_above_the_tolerance(quick, model):
    """README: round-to-nearest stops moving and stays on a plateau inside the derived
    stagnation range, above the tolerance; SR keeps moving, goes below and reaches it."""
    for fmt, src in _cells(quick.rows, model):
        rn = [r for r in quick.rows if (r["model"], r["format"], r["source"], r["label"]) ==
              (model, fmt, src, "round-to-nearest")]
        for r in rn:
            assert r["stagnation_iter"] is not None and r["iters_to_tol"] is None
            assert r["rn_lower"] <= r["final_excess"] <= r["rn_upper"], r
            assert r["final_excess"] > r["tol"]
        sr_final = _median(quick.rows, model, fmt, src, "SR", "final_excess")
        assert sr_final < min(r["rn_lower"] for r in rn)
        assert _median_iters(quick.rows, model, fmt, src, "SR") < np.inf


@pytest.mark.parametrize("model", ["quadratic_grid", "quadratic_off"])
def test_the_downhill_bias_beats_sr_on_the_quadratic(quick, model):
    """README: with the bias on the write-back pointing downhill (signed-SR_ε, and
    downhill-SR_ε which adds SR_ε on the gradient) the tolerance comes first; SR_ε with the
    bias away from zero on the weights does not beat SR."""
    for fmt, src in _cells(quick.rows, model):
        sr = _median_iters(quick.rows, model, fmt, src, "SR")
        assert _median_iters(quick.rows, model, fmt, src, "signed-SR_ε") < sr
        assert _median_iters(quick.rows, model, fmt, src, "downhill-SR_ε") < sr
        if model == "quadratic_grid":
            assert _median_iters(quick.rows, model, fmt, src, "SR_ε") >= sr


def test_bias_on_the_gradient_speeds_up_logistic_regression(quick):
    """README: on logistic regression round-to-nearest stops far above the tolerance; the
    strategies with SR_ε on the gradient cast (SR_ε, downhill-SR_ε) reach it before SR."""
    for fmt, src in _cells(quick.rows, "logistic"):
        rn = _median(quick.rows, "logistic", fmt, src, "round-to-nearest", "final_excess")
        assert rn > 5 * quick.rows[0]["tol"] or rn > 5 * _median(
            quick.rows, "logistic", fmt, src, "SR", "final_excess")
        sr = _median_iters(quick.rows, "logistic", fmt, src, "SR")
        assert _median_iters(quick.rows, "logistic", fmt, src, "SR_ε") < sr
        assert _median_iters(quick.rows, "logistic", fmt, src, "downhill-SR_ε") < sr


def test_lfsr_and_ideal_bits_give_the_same_verdicts(quick):
    """README: a 16-bit LFSR and ideal bits give the same verdicts (decided on each source's
    rows alone), except the one the full run leaves undecided."""
    by_src = {}
    for src in ("lfsr16", "pcg64"):
        summ = [s for s in quick.summary if s["source"] == src]
        by_src[src] = {v["claim"]: v["held"] for v in G.study_verdicts(summ)
                       if FULL_RUN.get(v["claim"], True) is not None}
    assert by_src["lfsr16"] == by_src["pcg64"] and len(by_src["pcg64"]) >= 10


def test_quick_verdicts_do_not_contradict_the_full_run(quick):
    got = {v["claim"]: v["held"] for v in quick.verdicts}
    for claim, held in FULL_RUN.items():
        assert claim in got, claim
        if held is not None:
            assert got[claim] is None or got[claim] == held, (claim, got[claim], held)
