"""compare-rng (e): the accelerators' generators vs ideal bits, on small samples.  The checks are
against closed forms (spec §2's bias, i.i.d. statistics) and the Tenstorrent field report's
signature (tile means spread far beyond i.i.d.), not against the study's own numbers."""
import os

import numpy as np
import pytest

from fxsim.studies.compare_rng import vendor as v


@pytest.fixture(scope="module")
def rows():
    r = v.vendor_bias(n_casts=2**15, n_phi=64, seed=1)
    r += v.vendor_errors(n_casts=2**15, seed=1)
    r += v.vendor_accumulation(steps=20000, seed=1)
    r += v.vendor_uniform_means(tensors=8, size=2**14, seed=1)
    return r


def test_ideal_bits_match_spec_section_2(rows):
    for r in rows:
        if r["source"] in ("pcg64", "curand:philox4x32_10") and r["z"] is not None:
            assert abs(r["z"]) < 5, r


def test_bias_prediction_is_the_rule(rows):
    """The §2 prediction of the trunc rule is the mean of D/2^r − φ (negative), and ge adds 2^-r."""
    b = {r["source"]: r for r in rows if r["metric"] == "bias_lsb"}
    assert b["tenstorrent:sfpu"]["rule"] == "tt_sfpu" and b["tenstorrent:sfpu"]["r"] == 23
    assert -2.0**-13 < b["curand:xorwow"]["predicted"] < 0
    assert b["tenstorrent:sfpu"]["predicted"] > 0


def test_tenstorrent_signature_and_amd_correlation(rows):
    e = {(r["source"], r["metric"]): r["value"] for r in rows}
    assert e[("tenstorrent:sfpu", "tile_mean_spread")] > 3          # the field report's excess
    assert e[("tenstorrent:sfpu", "uniform_mean_spread")] > 3
    assert e[("amd:prng_b32", "acf1")] > 0.1                        # low bits of a shift register
    assert abs(e[("pcg64", "lane_corr")]) < 0.05


def test_markdown_figure_and_verdicts(rows, tmp_path):
    md = v.vendor_markdown(rows)
    assert "## (e)" in md and "tenstorrent:sfpu" in md
    verdict = v.vendor_verdicts(rows)
    assert verdict["tenstorrent:sfpu"][2] == "NOT ideal"
    assert verdict["pcg64"][2] == "indistinguishable from ideal"
    p = v.plot_vendor(rows, os.path.join(tmp_path, "f.png"))
    assert os.path.getsize(p) > 10000


def test_gd_part_runs_with_presets():
    rows = v.vendor_gd(sources=("amd:prng_b32",), models=("quadratic_off",), n_seeds=1, iters=15)
    assert [r["source"] for r in rows] == ["pcg64", "amd:prng_b32"]
    assert all(np.isfinite(r["value"]) and r["value"] >= 0 for r in rows)


def test_gd_part_uses_each_presets_rule_and_r_and_the_main_jobs_seeds():
    from fxsim import QFormat
    from fxsim.studies.gd_rounding import run_job
    rows = v.vendor_gd(sources=("tenstorrent:sfpu",), models=("quadratic_off",), n_seeds=2, iters=12)
    assert [(r["source"], r["r"], r["rule"]) for r in rows] == [("pcg64", 16, "trunc"),
                                                                 ("tenstorrent:sfpu", 23, "tt_sfpu")]
    # pcg64 at r = 16, trunc is the main job's SR run (gd_rounding.run_job) with the same seeds
    _, curves = run_job("quadratic_off", QFormat(16, 8), "pcg64", 0, 2, 12)
    assert rows[0]["value"] == float(np.median(curves["SR"][:, -1]))
