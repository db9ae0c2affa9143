"""cocotb tests of the units in rtl/ (the float units included) (run inside Icarus by tests/rtl/test_cocotb.py through
cocotb's runner; the configuration comes in the environment variable FXSIM_COCOTB as JSON).

Every test drives the DUT with fxsim.cocotb's drivers and scores it against fxsim word for word
(the RTL and fxsim share no code); each also checks that its scoreboard catches a wrong model."""
import json
import os
from types import SimpleNamespace

import cocotb

from fxsim import LFSR, CastMode, QFormat
from fxsim import Ideal
from fxsim.cocotb import (CastCoverage, CastModel, FloatCastModel, FloatCoverage, cast_stimulus,
                          drive_f32_cvt, drive_f32_sr_lfsr, drive_lfsr, drive_sat_mac, drive_sr_top,
                          drive_sr_unit, float_stimulus, source_from_dut_seed)

CFG = json.loads(os.environ.get("FXSIM_COCOTB", "{}"))


async def check_sr_unit(dut, c):
    """sr_unit.v in its three modes, draws from the configured source; every rounding case
    covered; a model with r one bit short is caught at a named index."""
    fi, fo = QFormat(c["WI"], c["FI"]), QFormat(c["WO"], c["FO"])
    cov = CastCoverage(fi, fo)
    x = cast_stimulus(fi, fo, c["count"], seed=c["seed"])
    for rounding in ("stochastic", "nearest_even", "floor"):
        sto = rounding == "stochastic"
        mode = CastMode(rounding, r=c["R"] if sto else None)
        model = CastModel(fi, fo, mode, source_from_dut_seed(c["source"], c["seed"]) if sto else None)
        sb = await drive_sr_unit(dut, model, x, coverage=cov)
        sb.check()
    missing = cov.missing()
    assert not missing, f"rounding cases not reached: {missing}; {cov.report()}"
    if c["R"] > 1:
        wrong = CastModel(fi, fo, CastMode("stochastic", r=c["R"] - 1),
                          source_from_dut_seed(c["source"], c["seed"]))
        dut.mode.value = 0
        sb = await drive_sr_unit(dut, wrong, x)
        assert sb.mismatches and "first at index" in sb.report() and "rnd=" in sb.report()


async def check_lfsr(dut, c):
    """lfsr.v from a seed against fxsim's LFSR of the same parameters (draws one per clock)."""
    src = LFSR(n=c["N"], form=c["FORM"], rule=c["RULE"], seed=c["seed"])
    sb = await drive_lfsr(dut, src, c["count"])
    sb.check()
    other = LFSR(n=c["N"], form={"galois": "fibonacci"}.get(c["FORM"], "galois"), rule=c["RULE"],
                 seed=c["seed"])
    sb = await drive_lfsr(dut, other, 8)
    assert sb.mismatches, "a register of the other form went unnoticed"


async def check_sat_mac(dut, c):
    """sat_mac.v: rows of extremes (saturation both ways, then pulled back) and random rows
    against fxsim.dot with a saturating accumulator."""
    import numpy as np
    fa, fb = QFormat(c["WX"], c["FA"]), QFormat(c["WY"], c["FB"])
    K, n = c["K"], c["count"]
    rng = np.random.default_rng(c["seed"])
    a = rng.integers(fa.min_raw, fa.max_raw, size=(n, K), endpoint=True).tolist()
    b = rng.integers(fb.min_raw, fb.max_raw, size=(n, K), endpoint=True).tolist()
    a[0], b[0] = [fa.max_raw] * K, [fb.max_raw] * K
    a[1], b[1] = [fa.max_raw] * K, [fb.min_raw] * K
    a[2], b[2] = [fa.min_raw] * K, [fb.min_raw] * (K // 2) + [fb.max_raw] * (K - K // 2)
    sb = await drive_sat_mac(dut, a, b, fa, fb)
    sb.check()
    assert sb.count == n


async def check_sr_top(dut, c):
    """An fxsim rtl-gen top in its LFSR-seeded mode: fxsim's source starts from the DUT's
    seed (the generated top's built-in lane states)."""
    fi, fo = QFormat(c["WI"], c["FI"]), QFormat(c["WO"], c["FO"])
    mode = CastMode.of(c["mode"])
    src = source_from_dut_seed(c["source"], c["seed"]) if mode.stochastic else None
    cov = CastCoverage(fi, fo)
    model = CastModel(fi, fo, mode, src)
    x = cast_stimulus(fi, fo, c["count"], seed=c["seed"])
    sb = await drive_sr_top(dut, model, x, lanes=c["lanes"], coverage=cov)
    sb.check()
    assert not cov.missing([k for k in ("tie", "phi0", "overflow_up", "overflow_down")
                            if k in cov.reachable()]), cov.report()
    if mode.stochastic:        # one seed off: the scoreboard names the first differing word
        wrong = CastModel(fi, fo, mode, source_from_dut_seed(c["source"], c["seed"] + 1))
        sb = await drive_sr_top(dut, wrong, x[:200], lanes=c["lanes"])
        assert sb.mismatches and "first at index" in sb.report()


async def check_f32_cvt(dut, c):
    """A float32 conversion unit (f32_cvt.v as bf16, e4m3 or e5m2) in both modes, SR draws from
    an ideal source; every rounding case covered; a model with the other overflow rule is caught."""
    fmt, ovf, R = c["fmt"], c["overflow"], c["R"]
    x = float_stimulus("fp32", fmt, c["count"], seed=c["seed"])
    cov = FloatCoverage("fp32", fmt)
    for rounding in ("nearest_even", "stochastic"):
        sto = rounding == "stochastic"
        model = FloatCastModel("fp32", fmt, rounding, ovf, r=R if sto else None,
                               source=Ideal("pcg64", seed=c["seed"]) if sto else None)
        (await drive_f32_cvt(dut, model, x, coverage=cov)).check()
    assert not cov.missing(), f"rounding cases not reached: {cov.missing()}; {cov.report()}"
    other = {"ieee": "saturate", "saturate": "ieee"}[ovf]
    sb = await drive_f32_cvt(dut, FloatCastModel("fp32", fmt, "nearest_even", other), x[:100])
    assert sb.mismatches and "first at index" in sb.report(), "the other overflow rule went unnoticed"


async def check_f32_sr_lfsr(dut, c):
    """f32_sr_lfsr.v (the float unit fed by its own LFSR): fxsim's source starts from the
    DUT's seed; one seed off is caught at a named index."""
    fmt, seed = c["fmt"], c["seed"]
    x = float_stimulus("fp32", fmt, c["count"], seed=seed)
    cov = FloatCoverage("fp32", fmt)
    model = FloatCastModel("fp32", fmt, "stochastic", c["overflow"], r=c["R"],
                           source=source_from_dut_seed(c["source"], seed))
    (await drive_f32_sr_lfsr(dut, model, x, seed, coverage=cov)).check()
    assert not cov.missing(), cov.report()
    wrong = FloatCastModel("fp32", fmt, "stochastic", c["overflow"], r=c["R"],
                           source=source_from_dut_seed(c["source"], seed + 1))
    sb = await drive_f32_sr_lfsr(dut, wrong, x[:100], seed)
    assert sb.mismatches and "first at index" in sb.report() and "rnd=" in sb.report()


def _single(check):
    """A cocotb test of one unit as the DUT, configured by FXSIM_COCOTB."""
    async def run(dut):
        await check(dut, CFG)
    run.__name__ = run.__qualname__ = check.__name__[len("check_"):]
    run.__doc__ = check.__doc__
    return cocotb.test()(run)


sr_unit, lfsr, sat_mac, sr_top, f32_cvt, f32_sr_lfsr = map(
    _single, (check_sr_unit, check_lfsr, check_sat_mac, check_sr_top, check_f32_cvt, check_f32_sr_lfsr))


def _ports(dut, prefix, names):
    return SimpleNamespace(**{n: getattr(dut, f"{prefix}_{n}") for n in names})


@cocotb.test()
async def all_units(dut):
    """One simulation of the wrapper tests/rtl/test_cocotb.py writes (every unit side by side,
    its ports named <unit>_<port>): one start-up for the default run."""
    await check_sr_unit(_ports(dut, "sr", ("x", "rnd", "mode", "y")), CFG["sr_unit"])
    await check_lfsr(_ports(dut, "lf", ("clk", "load", "seed", "en", "draw")), CFG["lfsr"])
    await check_sat_mac(_ports(dut, "mac", ("clk", "clr", "en", "a", "b", "acc")), CFG["sat_mac"])
    await check_sr_top(_ports(dut, "top", ("clk", "load", "en", "x", "y")), CFG["sr_top"])
    for prefix in ("fb", "f4", "f5"):            # bf16, e4m3, e5m2
        await check_f32_cvt(_ports(dut, prefix, ("x", "rnd", "mode", "y")), CFG[prefix])
    await check_f32_sr_lfsr(_ports(dut, "fl", ("clk", "load", "seed", "en", "x", "y")), CFG["fl"])
