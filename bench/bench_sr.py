"""Benchmark of stochastic rounding: fxsim (ideal and LFSR bits) against numpy and APyTypes.

    python bench/bench_sr.py            # 10^7 elements
    python bench/bench_sr.py --quick    # 10^6 elements

Case: float64 -> Q(16,8) `stochastic`, r = 16, saturate. Targets (issue 3):
  (a) fxsim with the ideal PCG64 source >= 2x numpy's best vectorized SR expression and >= 10x
      APyTypes STOCH_WEIGHTED;
  (b) fxsim with an LFSR n = 32 `serial` source >= 0.5x the speed of (a).
Every fxsim time includes drawing the random bits.  numpy's expression draws its own uniform
doubles (`floor(x*2^fl + rng.random())`), so it is a different random stream: it is checked for
being an unbiased SR of the same inputs, not for identical words.  APyTypes uses its own RNG.
"""
import argparse
import os
import sys
import time

import numpy as np

import fxsim as fx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_datapath import environment_lines, race  # noqa: E402

try:
    from apytypes import APyFixedArray, OverflowMode, QuantizationMode
except ImportError:  # pragma: no cover
    APyFixedArray = None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10^6 elements instead of 10^7")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)
    n = 10**6 if args.quick else 10**7
    for line in environment_lines():
        print(line)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n) * 20.0
    fmt = fx.QFormat(16, 8)
    ideal = fx.Ideal("pcg64", seed=1)
    lfsr = fx.LFSR(32, rule="serial", seed=0xACE1)
    np_rng = np.random.Generator(np.random.PCG64(2))
    scratch = np.empty(n)

    def v_ideal():
        return fx.cast(x, fmt, "stochastic", "saturate", r=16, source=ideal).raw

    def v_lfsr():
        return fx.cast(x, fmt, "stochastic", "saturate", r=16, source=lfsr).raw

    def v_numpy():
        # the usual SR idiom, written in place to spare allocations
        np_rng.random(out=scratch)
        t = x * 256.0
        t += scratch
        np.floor(t, out=t)
        np.clip(t, -32768, 32767, out=t)
        return t.astype(np.int16)

    res = race([("ideal", v_ideal), ("lfsr", v_lfsr), ("numpy", v_numpy)], args.reps)
    t_apy = None
    if APyFixedArray is not None:
        a = APyFixedArray.from_float(x, int_bits=40, frac_bits=30)
        def v_apy():
            return a.cast(int_bits=8, frac_bits=8, quantization=QuantizationMode.STOCH_WEIGHTED,
                          overflow=OverflowMode.SAT)
        t0 = time.perf_counter()
        v_apy()
        t_apy = time.perf_counter() - t0
        for _ in range(2):
            t0 = time.perf_counter()
            v_apy()
            t_apy = min(t_apy, time.perf_counter() - t0)

    # sanity: every result is SR of x (floor or ceil of x*256, saturated) and unbiased on average
    lo = np.clip(np.floor(x * 256), -32768, 32767)
    hi = np.clip(np.ceil(x * 256), -32768, 32767)
    for name in ("ideal", "lfsr", "numpy"):
        raw = res[name][1].astype(np.float64)
        assert np.all((raw == lo) | (raw == hi)), f"{name}: not a floor/ceil of x"
        inside = (x * 256 > -32768) & (x * 256 < 32767)
        bias = (raw[inside] - x[inside] * 256).mean()
        assert abs(bias) < 5 * 0.5 / np.sqrt(inside.sum()) + 2**-16, f"{name}: biased ({bias})"

    t_i, t_l, t_n = res["ideal"][0], res["lfsr"][0], res["numpy"][0]
    rows = [
        ("SR f64->Q(16,8) r=16, ideal PCG64", t_i, t_n / t_i, (t_apy / t_i) if t_apy else None,
         ">=2x np, >=10x apy", t_n / t_i >= 2 and (t_apy is None or t_apy / t_i >= 10)),
        ("SR f64->Q(16,8) r=16, LFSR n=32 serial", t_l, t_n / t_l, (t_apy / t_l) if t_apy else None,
         ">=0.5x ideal", t_i / t_l >= 0.5),
    ]
    head = f"{'case':<42}{'size':>7}{'fxsim ms':>10}{'numpy ms':>10}{'APy ms':>10}{'np/fx':>8}{'apy/fx':>8}  target"
    print(f"\nbest of {args.reps} (APyTypes 3), times include drawing the random bits\n")
    print(head)
    print("-" * (len(head) + 20))
    for name, t, rn, ra, target, ok in rows:
        print(f"{name:<42}{n:>7.0e}{t * 1e3:>10.2f}{t_n * 1e3:>10.2f}"
              f"{(t_apy * 1e3 if t_apy else float('nan')):>10.1f}{rn:>7.2f}x"
              f"{(ra if ra else float('nan')):>7.1f}x  {target:<20}{'PASS' if ok else 'FAIL'}")
    print(f"LFSR/ideal speed: {t_i / t_l:.2f}x")
    if args.markdown:
        print("\n| case | size | fxsim ms | numpy ms | APyTypes ms | numpy/fxsim | APyTypes/fxsim | target | result |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, t, rn, ra, target, ok in rows:
            print(f"| {name} | {n:.0e} | {t * 1e3:.1f} | {t_n * 1e3:.1f} | "
                  f"{t_apy * 1e3:.0f} | {rn:.2f}x | {ra:.1f}x | {target} | {'PASS' if ok else 'FAIL'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
