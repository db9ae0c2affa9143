"""Benchmark of fxsim's element-wise kernels against their baselines, measured in one run.

    python bench/bench_cast.py                 # 3*10^7 elements, fxsim on its default threads
    python bench/bench_cast.py --threads 1     # fxsim on one kernel thread
    python bench/bench_cast.py --big           # also the 10^8-element cast (1 GB of input)

Times are the best of several rounds, fxsim and its baseline interleaved round by round (see
bench_datapath.race); inputs and FixedArray construction are outside the timed region.  Every
fxsim result is checked bit for bit against an independent numpy computation of the spec
(exit 1 if one differs).

Cases and targets (this 2-core AVX2 machine)
  cast f64 -> Q(16,8) nearest_even saturate   fxsim >= 80 % of the speed of numpy's bare
                                              conversion copy np.copyto(int16 out, x, "unsafe")
                                              (outside a Counters block; the counted cast is
                                              printed too)
  cast f32 -> Q(16,8)                         no slower than the float64 cast (baseline)
  cast f64 -> Q(40,20) (int64 words)          <= 2x the time of the Q(16,8) cast (baseline)
  mul Q(32,16)*Q(32,16) -> Q(32,16)           <= 3x the time of mul Q(8,8) (baseline)
"""
import argparse
import os
import sys

import numpy as np

import fxsim as fx
from bench_datapath import environment_lines, race


def rne_sat(p, s, lo, hi):
    """floor-and-round-half-even of the int64 p * 2**-s, saturated: the spec in numpy int64."""
    q = p >> s
    rem = p & ((1 << s) - 1)
    half = 1 << (s - 1)
    q += (rem > half) | ((rem == half) & (q & 1 == 1))
    return np.clip(q, lo, hi)


def float_input(n, dtype=np.float64):
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 64.0, n)          # Q(16,8) spans [-128, 128): a few % saturate
    x[::5] = np.round(x[::5] * 256) / 256 + 1 / 512   # 20 % exact ties at 8 fraction bits
    return x.astype(dtype)


class Row:
    def __init__(self, case, size, t_fx, t_base, base, target, max_ratio, ok):
        self.case, self.size, self.t_fx, self.t_base, self.base = case, size, t_fx, t_base, base
        self.target, self.max_ratio, self.ok = target, max_ratio, ok

    def verdict(self):
        if not self.ok:
            return "FAIL (wrong bits)"
        return "PASS" if self.t_fx / self.t_base <= self.max_ratio else "FAIL"


def counted_cast(x):
    with fx.Counters():
        return fx.cast(x, "Q8.8", "nearest_even", "saturate")


def case_cast_copy(n, reps):
    """Row 5; also the same cast inside a Counters block (the kernels then count inexact,
    rounded-up and saturated words: about a third more vector work), printed for information."""
    x = float_input(n)
    out = np.empty(n, np.int16)
    timed = race([("fx", lambda: fx.cast(x, "Q8.8", "nearest_even", "saturate")),
                  ("copyto", lambda: np.copyto(out, x, casting="unsafe")),
                  ("counted", lambda: counted_cast(x))], reps)
    got = timed["fx"][1].raw
    ref = np.clip(np.rint(x * 256), -32768, 32767).astype(np.int16)   # x * 256 is exact
    ok = np.array_equal(got, ref) and np.array_equal(timed["counted"][1].raw, ref)
    print(f"(info) the row-5 cast inside a Counters block: {1e3 * timed['counted'][0]:.1f} ms, "
          f"{timed['counted'][0] / timed['copyto'][0]:.2f}x copyto")
    return Row("cast f64->Q(16,8) RNE sat", f"{n:.0e}", timed["fx"][0], timed["copyto"][0],
               "np.copyto int16", ">= 80 % of copyto speed", 1.25, ok)


def case_cast_f32(n, reps):
    x64 = float_input(n)
    x32 = x64.astype(np.float32)
    timed = race([("f32", lambda: fx.cast(x32, "Q8.8", "nearest_even", "saturate")),
                  ("f64", lambda: fx.cast(x64, "Q8.8", "nearest_even", "saturate"))], reps)
    ref = np.clip(np.rint(x32.astype(np.float64) * 256), -32768, 32767).astype(np.int16)
    return Row("cast f32->Q(16,8) RNE sat", f"{n:.0e}", timed["f32"][0], timed["f64"][0],
               "same cast of f64", "<= 1x f64 time", 1.0, np.array_equal(timed["f32"][1].raw, ref))


def case_cast_int64(n, reps):
    x = float_input(n)
    f40 = fx.QFormat(40, 20, True)
    timed = race([("q40", lambda: fx.cast(x, f40, "nearest_even", "saturate")),
                  ("q16", lambda: fx.cast(x, "Q8.8", "nearest_even", "saturate"))], reps)
    ref = np.rint(x * 2.0 ** 20).astype(np.int64)       # exact; |x| << 2^19: no saturation
    return Row("cast f64->Q(40,20) (int64 words)", f"{n:.0e}", timed["q40"][0], timed["q16"][0],
               "cast to Q(16,8)", "<= 2x Q(16,8) time", 2.0, np.array_equal(timed["q40"][1].raw, ref))


def case_mul32(n, reps):
    rng = np.random.default_rng(2)
    f8, f32 = fx.QFormat(8, 8, True), fx.QFormat(32, 16, True)
    ra = rng.integers(-2**31, 2**31, n, dtype=np.int32)
    rb = rng.integers(-2**31, 2**31, n, dtype=np.int32)
    ra[:2] = rb[:2] = -2**31                      # (-2^31)^2 = 2^62
    A, B = fx.FixedArray(ra, f32), fx.FixedArray(rb, f32)
    A8 = fx.FixedArray(rng.integers(-128, 128, n, dtype=np.int8), f8)
    B8 = fx.FixedArray(rng.integers(-128, 128, n, dtype=np.int8), f8)
    timed = race([("m32", lambda: fx.mul(A, B, f32, "nearest_even", "saturate")),
                  ("m8", lambda: fx.mul(A8, B8, f8, "nearest_even", "saturate"))], reps)
    ref = rne_sat(ra.astype(np.int64) * rb, 16, -2**31, 2**31 - 1).astype(np.int32)
    return Row("mul Q(32,16)*Q(32,16)->Q(32,16) RNE sat", f"{n:.0e}", timed["m32"][0],
               timed["m8"][0], "mul Q(8,8)", "<= 3x Q(8,8) time", 3.0,
               np.array_equal(timed["m32"][1].raw, ref))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=3 * 10**7, help="elements (default 3*10^7)")
    ap.add_argument("--big", action="store_true", help="also the 10^8-element cast")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None, help="fxsim kernel threads")
    args = ap.parse_args(argv)
    if args.threads is not None:
        fx.set_num_threads(args.threads)
    for line in environment_lines():
        print(line)
    n, reps = args.size, args.reps
    rows = [case_cast_copy(n, reps)]
    if args.big:
        rows.append(case_cast_copy(10**8, max(3, reps // 2)))
    rows += [case_cast_f32(n, reps), case_cast_int64(n, reps), case_mul32(n // 3, reps)]
    print(f"load average after the run: {os.getloadavg()[0]:.2f}")
    head = f"{'case':42} {'size':>6} {'fxsim ms':>9} {'base ms':>9} {'ratio':>6}  {'baseline':18} {'target':26} verdict"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r.case:42} {r.size:>6} {1e3 * r.t_fx:9.1f} {1e3 * r.t_base:9.1f} "
              f"{r.t_fx / r.t_base:6.2f}  {r.base:18} {r.target:26} {r.verdict()}")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
