"""The study "LFSR vs ideal randomness" (fxsim/studies/compare_rng.py, ``fxsim compare-rng``).

Statistics: every bound below is a two-sided z-test at a false-alarm probability of 1e-6 per
check (|z| <= Z = 4.8916) unless stated; the seeds are fixed, so runs are reproducible.  Expected
values come from the spec (§2: the trunc rule rounds up with probability D / 2**r, D the top r
discarded bits), computed here with Fractions, never taken from the module.
"""
import math
import os
from fractions import Fraction

import numpy as np
import pytest

fxsim = pytest.importorskip("fxsim")
C = pytest.importorskip("fxsim.studies.compare_rng")

Z = 4.891638
LFSR32 = C.SourceSpec("lfsr", 32, "galois", "serial", 1)


def _spec_bias(ks, r, frac_bits):
    """Exact §2 mean bias (LSB) and the ideal standard deviation of its estimate per cast:
    phi = k / 2**frac_bits, D = floor(phi 2**r), E[cast] - x = D / 2**r - phi."""
    mean, var = Fraction(0), Fraction(0)
    for k in ks:
        phi = Fraction(int(k), 2**frac_bits)
        D = math.floor(phi * 2**r)
        p = Fraction(D, 2**r)
        mean += p - phi
        var += p * (1 - p)
    return mean / len(ks), var / len(ks)


@pytest.mark.parametrize("spec", [C.IDEAL, LFSR32], ids=lambda s: s.label)
def test_sr_bias_equals_spec_prediction(spec):
    """Measured mean bias of 2**18 casts of 64 inputs, r = 2..6, is the §2 value within Z sigma
    (sigma: the binomial spread of ideal draws); at r = 2, 3 the bias itself is > 10 sigma, so
    the test sees the few-bit bias and not just noise."""
    n_casts, n_phi, rs = 2**18, 64, [2, 3, 4, 5, 6]
    rows = C.sr_bias([spec], rs=rs, n_casts=n_casts, n_phi=n_phi, seed=3)
    ks = C.bias_inputs(n_phi, seed=3)
    assert len(rows) == len(rs)
    for row in rows:
        mean, var = _spec_bias(ks, row["r"], C.FRAC)
        sigma = math.sqrt(float(var) / n_casts)
        assert row["predicted"] == pytest.approx(float(mean), rel=1e-12, abs=1e-18)
        assert row["stderr"] == pytest.approx(sigma, rel=1e-9)
        assert abs(row["value"] - float(mean)) <= Z * sigma, row
        if row["r"] <= 3:
            assert abs(float(mean)) > 10 * sigma


def test_sr_bias_vs_phi_sawtooth():
    """Bias as a function of phi at r = 3 with ideal bits: each point is D/8 - phi within Z sigma;
    where D = 0 the cast never rounds up, so the bias is exactly -phi."""
    cpp = 2**12
    rows = C.sr_bias_sawtooth([C.IDEAL], r=3, n_points=16, casts_per_point=cpp, seed=5)
    assert len(rows) == 16
    for row in rows:
        phi = Fraction(row["x"])
        D = math.floor(phi * 8)
        p = Fraction(D, 8)
        assert row["predicted"] == float(p - phi)
        if D == 0:
            assert row["value"] == float(-phi)
        else:
            assert abs(row["value"] - float(p - phi)) <= Z * math.sqrt(float(p * (1 - p)) / cpp)


def test_error_autocorrelation_state_strong_serial_small():
    """Lag-1 autocorrelation of the rounding errors, r = 8, N = 2**17 i.i.d. inputs.

    State rule: R_{k+1} is R_k shifted by one bit plus a new bit, so U = R / 2**r follows the
    doubling (Fibonacci) or halving (Galois) map, Cov(U_k, U_k+1) = Var(U) / 2 = 1/24; with phi
    uniform, P(up | U) = U and Var(e) = E[phi (1 - phi)] = 1/6, so rho_1 = (1/24) / (1/6) = 1/4
    (Galois taps in the low r bits lower it a little).  We require rho_1 >= 0.2: the estimate's
    standard error is 1/sqrt(N) = 0.0028, so 0.2 is > 15 sigma below 1/4.
    Serial rule, n >= 16: two consecutive 8-bit draws are 16 consecutive bits of an m-sequence,
    uniform over the non-zero patterns, so the errors are uncorrelated (up to 2**-n); ideal bits
    likewise.  We require |rho_1| <= Z / sqrt(N) = 0.0135.
    8 lanes of a state-rule register: draw k and k + 1 come from different lanes, so lag 1 is
    small and the correlation moves to lag 8 (>= 0.2)."""
    N = 2**17
    S = C.SourceSpec
    state = [S("lfsr", 16, "fibonacci", "state"), S("lfsr", 16, "galois", "state"),
             S("lfsr", 32, "galois", "state")]
    small = [S("lfsr", 16, "galois", "serial"), S("lfsr", 32, "fibonacci", "serial"), C.IDEAL]
    lanes8 = [S("lfsr", 16, "galois", "state", 8)]
    rows = C.error_acf(state + small + lanes8, r=8, n_casts=N, max_lag=8, seed=11)
    rho = {(r["source"], r["x"]): r["value"] for r in rows}
    for s in state:
        assert rho[s.label, 1] >= 0.2, (s.label, rho[s.label, 1])
        assert rho[s.label, 1] <= 0.3
    for s in small + lanes8:
        assert abs(rho[s.label, 1]) <= Z / math.sqrt(N), (s.label, rho[s.label, 1])
    assert rho[lanes8[0].label, 8] >= 0.2


def test_accumulation_nearest_even_stagnates_sr_does_not():
    """10**6 increments of mean 0.256 LSB (all below 1/2 LSB) into Q(20, 8): nearest_even never
    moves (final value exactly 0); SR with ideal bits ends within 2% of the exact sum (its spread
    is about 0.17% and the few-bit bias at r = 8 is -0.76%).  The fast trajectory equals the
    per-step recurrence acc <- fxsim.add(acc, inc) over the first 300 steps, bit for bit."""
    cfgs = [C.AccConfig("nearest_even"), C.AccConfig("stochastic", 16, C.IDEAL),
            C.AccConfig("stochastic", 8, C.IDEAL),
            C.AccConfig("stochastic", 8, C.SourceSpec("lfsr", 8, "galois", "state"))]
    rows = C.accumulation(cfgs, streams=("iid",), steps=10**6, trials=2, check_steps=300, seed=2)
    exact = C.select(rows, source="exact", metric="final_lsb")[0]["value"]
    inc = C.increments("iid", 10**6, seed=2)
    assert exact == pytest.approx(int(np.asarray(inc.raw, dtype=np.int64).sum()) / 2**16, rel=1e-12)
    assert exact / 2**8 == pytest.approx(1000, rel=0.01)
    fin = {(r["source"], r["trial"]): r["value"] for r in C.select(rows, metric="final_lsb")}
    assert fin["nearest_even", 0] == 0.0
    for cfg in cfgs[1:]:
        for t in (0, 1):
            assert abs(fin[cfg.label, t] - exact) <= 0.02 * exact, (cfg.label, t)
    matches = C.select(rows, metric="recurrence_match")
    assert len(matches) == len(cfgs) and all(m["value"] == 1.0 for m in matches)


def test_split_equals_recurrence_and_guards():
    """accumulate_split == accumulate_recurrence for an LFSR serial source and ideal bits, and
    refuses the cases where the identity would not hold (overflow, deterministic ties)."""
    inc = C.increments("period15", 500, seed=0)
    for spec in (C.SourceSpec("lfsr", 16, "fibonacci", "serial"), C.IDEAL):
        a = C.accumulate_split(inc, C.ACC, "stochastic", 4, spec.make(9, "t"))
        b = C.accumulate_recurrence(inc, C.ACC, "stochastic", 4, spec.make(9, "t"))
        assert np.array_equal(a, b)
    big = fxsim.FixedArray(np.full(300, 2**14, dtype=np.int16), C.INC)   # 2**-10 each
    with pytest.raises(ValueError, match="overflow"):
        C.accumulate_split(big, fxsim.QFormat(4, 8), "stochastic", 8, C.IDEAL.make(0))
    tie = fxsim.FixedArray(np.full(4, -2**15, dtype=np.int16), C.INC)    # phi = 1/2 exactly
    with pytest.raises(ValueError, match="1/2"):
        C.accumulate_split(tie, C.ACC, "nearest_even")


def test_lanes_round_robin_state_correlates_units():
    """L = 8 units, state rule: dealing one register's draws round-robin inflates Var(S) (the
    neighbouring draws are correlated: expected ratio ~1.65); per-unit registers keep the ratio
    at 1 but carry lag-1 correlation ~1/4; ideal bits neither.  N = 2**15 cycles: the standard
    error of a variance ratio is ~sqrt(2/N) = 0.008, of a correlation 1/sqrt(N) = 0.0055."""
    rows = C.lanes(Ls=(8,), steps=2**15, seed=4)
    v = {(r["source"], r["rule"], r["metric"]): r["value"] for r in rows}
    assert v["round-robin", "state", "var_ratio"] > 1.4
    assert abs(v["lanes", "state", "var_ratio"] - 1) < 0.05
    assert v["lanes", "state", "lag1"] > 0.2
    assert v["independent", "state", "lag1"] > 0.2
    assert abs(v["ideal", None, "var_ratio"] - 1) < 0.05
    assert abs(v["ideal", None, "lag1"]) < Z / math.sqrt(2**15)
    assert abs(v["lanes", "serial", "lag1"]) < Z / math.sqrt(2**15)


def _small_runs(seed):
    S = C.SourceSpec
    srcs = [S("lfsr", 8, "galois", "state", 8), S("lfsr", 16, "fibonacci", "serial"), C.IDEAL]
    return (C.sr_bias(srcs, rs=[2, 9], n_casts=2**12, n_phi=32, seed=seed)
            + C.error_acf(srcs, n_casts=2**12, seed=seed)
            + C.accumulation([C.AccConfig("stochastic", 8, srcs[0]), C.AccConfig("stochastic", 8, C.IDEAL)],
                             steps=3000, trials=2, check_steps=50, seed=seed)
            + C.lanes(Ls=(1, 4), steps=2**10, block=8, seed=seed))


def test_deterministic_given_seed():
    a, b, c = _small_runs(7), _small_runs(7), _small_runs(8)
    assert a == b
    assert a != c
    assert all(set(r) == set(C.COLUMNS) for r in a)


TINY = dict(bias_casts=2**12, bias_phis=64, saw_points=16, saw_casts=2**8, acf_casts=2**12,
            acc_steps=4000, acc_trials=2, acc_check=100, lane_steps=2**11, lane_block=16)


def test_cli_writes_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(C.PRESETS, "quick", TINY)
    from fxsim.cli import main
    out = tmp_path / "res"
    assert main(["compare-rng", "--out", str(out), "--quick", "--seed", "1", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    names = ["compare_rng.csv", "compare_rng.md"] + list(C.FIGURES.values())
    for name in names:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
        assert name in printed
    for name in C.FIGURES.values():
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "compare_rng.md").read_text()
    # the verdict (one line per claim, issue 15 point 7) is printed and ends the markdown
    block = md.split("## Verdicts")[1].split("```")[1].strip()
    assert block and block in printed and "Caution: --quick" in printed
    for head in ("## (a)", "## (b)", "## (c)", "## (d)"):
        assert head in md
    with open(out / "compare_rng.csv") as fh:
        header = fh.readline().strip().split(",")
    assert header == C.COLUMNS


@pytest.mark.slow
def test_quick_run_under_a_minute(tmp_path):
    res = C.run(str(tmp_path), quick=True, seed=0, progress=False)
    assert res["seconds"] < 60
    assert all(os.path.getsize(f) > 0 for f in res["files"].values())


def test_sources_come_from_make_source_with_the_old_seeding():
    """``SourceSpec.make`` builds through ``fxsim.make_source`` and gives the streams the study's
    own factory gave (so the rows do not change): an LFSR started directly at 1 + w mod (2**n - 1)
    (w: one 64-bit word of the SeedSequence of (seed, label, key)), an ideal source seeded with
    that SeedSequence (numpy's own PCG64)."""
    import zlib
    for spec in C.default_sources():
        words = [5] + [zlib.crc32(str(k).encode()) for k in (spec.label, "acf", 8)]
        ss = np.random.SeedSequence(words)
        if spec.kind == "ideal":
            old = fxsim.Ideal(np.random.PCG64(ss))
        else:
            s = 1 + int(ss.generate_state(1, np.uint64)[0]) % ((1 << spec.n) - 1)
            old = fxsim.LFSR(spec.n, form=spec.form, seed=s, rule=spec.rule, lanes=spec.lanes)
        r = min(spec.max_r(), 16)
        assert np.array_equal(spec.make(5, "acf", 8).draws(512, r), old.draws(512, r)), spec.label
        assert fxsim.make_source(spec.spec) is not None          # a valid make_source spec


def test_figures_take_their_numbers_from_the_rows(tmp_path):
    """Small runs of (a)-(d) draw all four figures; the titles carry numbers read from the rows
    (not conclusions written in advance): here ρ(1) of the ideal source in (b1)."""
    S = C.SourceSpec
    srcs = [C.IDEAL, S("lfsr", 16, "galois", "serial"), S("lfsr", 8, "galois", "state")]
    rows = (C.sr_bias_sawtooth(srcs, r=3, n_points=8, casts_per_point=64)
            + C.sr_bias(srcs, rs=[2, 4], n_casts=2**10, n_phi=16)
            + C.error_acf(srcs, r=8, n_casts=2**12, max_lag=8)
            + C.accumulation(streams=("iid", "period15"), steps=2**10, trials=2, check_steps=0,
                             trace_points=8)
            + C.lanes(Ls=(1, 2), steps=2**10, block=64))
    from fxsim.studies.compare_rng import figures
    for name, plot in (("bias", C.plot_bias), ("acf", C.plot_acf),
                       ("accumulation", C.plot_accumulation), ("lanes", C.plot_lanes)):
        path = plot(rows, str(tmp_path / C.FIGURES[name]))
        assert os.path.getsize(path) > 10_000
    rho1 = C.select(rows, study="acf", source="ideal PCG64", x=1)[0]["value"]
    fig = figures.figure(14, 7.5)
    orig = figures.figure
    try:
        figures.figure = lambda *a, **k: fig
        C.plot_acf(rows, str(tmp_path / "again.png"))
    finally:
        figures.figure = orig
    titles = [ax.get_title() for ax in fig.axes]
    assert any(f"ideal PCG64 {rho1:+.3f}" in t for t in titles), titles
