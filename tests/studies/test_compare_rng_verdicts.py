"""The verdicts of ``fxsim compare-rng`` (``compare_rng.verdicts``) on a small fixed-seed run: each
claim the README makes comes out as it says, and each decision agrees with numbers computed here
independently (closed forms, Fractions, numpy and scipy on the raw per-trial rows)."""
import math
from fractions import Fraction

import numpy as np
import pytest

fxsim = pytest.importorskip("fxsim")
C = pytest.importorskip("fxsim.studies.compare_rng")
V = pytest.importorskip("fxsim.studies.compare_rng.verdicts")
from scipy.stats import f as fdist, norm  # noqa: E402

SEED = 1


def _by_claim(verdicts, start):
    hits = [v for v in verdicts if v["claim"].startswith(start)]
    assert len(hits) == 1, (start, [v["claim"] for v in verdicts])
    return hits[0]


def test_z_limit_is_bonferroni_at_alpha():
    for m in (1, 7, 60):
        assert V.z_limit(m) == pytest.approx(norm.isf(1e-3 / (2 * m)))


@pytest.fixture(scope="module")
def acc_rows():
    g8 = C.SourceSpec("lfsr", 8, "galois", "serial")
    cfgs = [C.AccConfig("nearest_even"), C.AccConfig("stochastic", 8, C.IDEAL),
            C.AccConfig("stochastic", 8, g8), C.AccConfig("stochastic", 16, C.IDEAL)]
    return C.accumulation(cfgs, streams=("iid", "period15"), steps=10**5, trials=6,
                          check_steps=0, trace_points=2, seed=SEED)


def test_accumulation_verdicts_against_independent_numbers(acc_rows):
    vs = V.accumulation_verdicts(acc_rows, seed=SEED)
    # every increment is below half an LSB of the accumulator (16 discarded bits): RN adds 0
    for stream in ("iid", "period15"):
        raw = np.asarray(C.increments(stream, 10**5, SEED).raw, dtype=np.int64)
        assert (raw < 1 << 15).all()
    assert _by_claim(vs, "round-to-nearest never moves")["held"] is True
    # §2 with r = 8: each step loses its discarded bits below the top 8 of 16, exactly
    raw = [int(v) for v in C.increments("iid", 10**5, SEED).raw]
    pred = Fraction(-sum(v % 256 for v in raw), sum(raw))
    v8 = _by_claim(vs, "SR with 8 ideal bits carries")
    assert v8["held"] is True
    assert f"(§2: {100 * float(pred):+.2f}%)" in v8["figure"]
    assert _by_claim(vs, "SR with 16 ideal bits tracks")["held"] is True
    # period 15 divides 2^8 - 1: the 8-bit LFSR's spread over seeds, F test from the raw finals
    fin = {src: np.array([r["value"] for r in C.select(acc_rows, source=src, stream="period15",
                                                       metric="final_lsb")])
           for src in ("SR r=8, LFSR8 gal serial x1", "SR r=8, ideal PCG64")}
    a, b = fin["SR r=8, LFSR8 gal serial x1"], fin["SR r=8, ideal PCG64"]
    F = a.var(ddof=1) / b.var(ddof=1)
    p = fdist.sf(F, a.size - 1, b.size - 1)
    assert p < 1e-3
    assert _by_claim(vs, "with period-15 increments")["held"] is True


def test_state_rule_and_serial_rule_acf_verdicts():
    """State rule: rho(1) = 1/4 in closed form (U_k+1 = 2 U_k mod 1 plus a fresh bit); serial
    rule of a 16-bit register and ideal bits: no correlation."""
    srcs = [C.SourceSpec("lfsr", 16, "fibonacci", "state"), C.SourceSpec("lfsr", 16, "galois", "serial"),
            C.SourceSpec("lfsr", 16, "fibonacci", "state", 8), C.IDEAL]
    rows = C.error_acf(srcs, r=8, n_casts=2**15, max_lag=8, seed=SEED)
    vs = V.acf_verdicts(rows)
    rho1 = C.select(rows, source="LFSR16 fib state x1", x=1)[0]["value"]
    assert abs(rho1 - 0.25) < 5 / math.sqrt(2**15)
    assert _by_claim(vs, "the state rule correlates")["held"] is True
    assert _by_claim(vs, "with 8 lanes")["held"] is True
    assert _by_claim(vs, "the serial rule of 16- and 32-bit")["held"] is True


def test_lane_verdicts_round_robin_closed_form():
    """Round-robin state-rule draws: neighbouring units' errors correlate as the state rule's
    lags, rho_k = 2^-(k+1), so Var(S)/sum Var(e) = 1 + 2 sum_k (L - k) rho_k / L (1.53 at L = 4)."""
    rows = C.lanes(Ls=(1, 4), steps=2**15, block=64, seed=SEED)
    vs = V.lane_verdicts(rows)
    L = 4
    closed = 1 + 2 * sum((L - k) * 2.0 ** -(k + 1) for k in range(1, L)) / L
    got = C.select(rows, study="lanes", source="round-robin", rule="state", x=L, metric="var_ratio")[0]["value"]
    assert abs(got - closed) < 0.06
    assert _by_claim(vs, "within one cycle only round-robin")["held"] is True
    assert _by_claim(vs, "a state-rule register per unit")["held"] is True


def test_bias_verdicts_and_vendor_claims():
    rows = C.sr_bias([C.IDEAL, C.SourceSpec("lfsr", 8, "galois", "serial")], rs=[3, 5, 6],
                     n_casts=2**18, n_phi=64, seed=SEED)
    vs = V.bias_verdicts(rows)
    assert _by_claim(vs, "ideal bits give spec §2")["held"] is True
    # r = 3, 5, 6 share a factor with 255: the 8-bit register's draws repeat early
    assert _by_claim(vs, "an 8-bit LFSR's SR bias is off")["held"] is True
    from fxsim.studies.compare_rng.vendor import vendor_errors
    vv = V.vendor_claims(vendor_errors(["pcg64", "amd:prng_b32"], n_casts=2**14, seed=SEED))
    assert _by_claim(vv, "amd:prng_b32 bits are distinguishable")["held"] is True
    assert _by_claim(vv, "pcg64 bits are indistinguishable")["held"] is True
