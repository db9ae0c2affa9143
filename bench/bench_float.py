"""Benchmark of fxsim's float casts against ml_dtypes, numpy and APyTypes, measured in one run.

    python bench/bench_float.py             # 10^7 elements
    python bench/bench_float.py --quick     # 10^6 elements
    python bench/bench_float.py --threads 1 # fxsim on one kernel thread
    python bench/bench_float.py --markdown  # also print a markdown table

Every time is the best of several repetitions, fxsim and its baselines interleaved round by
round (bench_datapath.race).  Before a row is reported, fxsim's codes are checked bit for bit
against an independent computation (ml_dtypes' astype for nearest-even; for SR, a plain numpy
expression fed with the same random bits); the script exits 1 if any check fails.

Cases and targets (issue 16, point 7)
  f64 -> bf16 nearest_even             fxsim >= 1x ml_dtypes astype, >= 10x APyTypes
  f64 -> e4m3 nearest_even             fxsim >= 1x ml_dtypes astype, >= 10x APyTypes
  f64 -> bf16 SR r=16, PCG64           fxsim >= 2x the best numpy expression, >= 10x APyTypes
  f64 -> bf16 SR r=16, LFSR (32-bit)   the same targets (numpy has no LFSR: its baseline is the
                                       same numpy expression with PCG64 bits)
  bf16 matmul 512^2, fp32 accumulator  fxsim within 20x of float64 BLAS (np.matmul of the same
                                       values), rounding to fp32 nearest-even after every addition;
                                       checked against float32 numpy additions (one IEEE rounding
                                       each; bf16 products are exact float32s)

"numpy" in the SR rows draws its 16-bit numbers with Generator.integers (PCG64) or
random_raw >> 48, and rounds the float64 bits with uint64 operations (valid where bf16 is
normal: the inputs are N(0, 1)); the fastest variant that gives fxsim's codes is used.
APyTypes' SR (STOCH_WEIGHTED) uses its own random bits: its codes are not compared.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_datapath import environment_lines, print_markdown_table, print_table, race  # noqa: E402

try:
    import apytypes as apy
except ImportError:  # pragma: no cover
    apy = None
try:
    import ml_dtypes
except ImportError:  # pragma: no cover
    ml_dtypes = None

import fxsim as fx  # noqa: E402

HEADER = ["operation", "size", "fxsim ms", "baseline", "baseline ms", "APyTypes ms",
          "baseline/fxsim", "APyTypes/fxsim", "target", "result"]


class Row:
    def __init__(self, op, n, t_fx, base, t_base, t_apy, need_base, need_apy, ok, note=""):
        self.op, self.n, self.t_fx, self.base, self.t_base, self.t_apy = op, n, t_fx, base, t_base, t_apy
        self.need_base, self.need_apy, self.ok, self.note = need_base, need_apy, ok, note

    def cells(self):
        rb = self.t_base / self.t_fx if self.t_fx and self.t_base else None
        ra = self.t_apy / self.t_fx if self.t_fx and self.t_apy else None
        if not self.ok:
            verdict = "FAIL (wrong bits)"
        elif self.t_fx is None:
            verdict = "FAIL (" + self.note + ")"
        else:
            good = rb is not None and rb >= self.need_base and (ra is None or ra >= self.need_apy)
            verdict = "PASS" if good else "FAIL"
        f = lambda t: "n/a" if t is None else f"{t * 1e3:.1f}"          # noqa: E731
        g = lambda r: "n/a" if r is None else f"{r:.2f}x"               # noqa: E731
        return [self.op, str(self.n), f(self.t_fx), self.base, f(self.t_base), f(self.t_apy),
                g(rb), g(ra), f">={self.need_base:g}x base" + (f", >={self.need_apy:g}x APy" if self.need_apy else ""), verdict]


def bf16_sr_numpy(x, R):
    """SR of float64 x into bf16 codes with 16-bit draws R (trunc rule), for inputs whose bf16
    result is normal: the top 16 of the 45 discarded mantissa bits plus R carry into the kept
    bits; the exponent is re-biased from 1023 to 127."""
    u = x.view(np.uint64)
    sign = (u >> np.uint64(48)) & np.uint64(0x8000)
    mag = u & np.uint64(0x7FFFFFFFFFFFFFFF)
    up = (((mag >> np.uint64(29)) & np.uint64(0xFFFF)) + R) >> np.uint64(16)
    code = (mag >> np.uint64(45)) - np.uint64((1023 - 127) << 7) + up
    return (code | sign).astype(np.uint16)


def bf16_sr_numpy_inplace(x, R):
    u = x.view(np.uint64)
    t = u & np.uint64(0x7FFFFFFFFFFFFFFF)
    d = t >> np.uint64(29)
    d &= np.uint64(0xFFFF)
    d += R
    d >>= np.uint64(16)
    t >>= np.uint64(45)
    t += d
    t -= np.uint64((1023 - 127) << 7)
    s = u >> np.uint64(48)
    s &= np.uint64(0x8000)
    t |= s
    return t.astype(np.uint16)


def apy_rne(x, e, m):
    return apy.APyFloatArray.from_float(x, 11, 52).cast(e, m, quantization=apy.QuantizationMode.TIES_EVEN)


def case_rne(name, dt, x, reps, notes):
    f = fx.FloatFormat.parse(name)
    variants = [("fx", lambda: fx.cast(x, f, "nearest_even")),
                ("ml", lambda: x.astype(dt))]
    timed = race(variants, reps)
    t_fx, got = timed["fx"]
    t_ml, theirs = timed["ml"]
    ok = np.array_equal(got.raw, theirs.view(f.dtype))
    t_apy = None
    if apy is not None:
        ta = race([("apy", lambda: apy_rne(x, f.exp_bits, f.man_bits))], max(1, min(reps, 3)))
        t_apy, a = ta["apy"]
        same = np.array_equal(np.asarray(a.to_bits()).astype(np.uint64).ravel(),
                              got.raw.astype(np.uint64).ravel())
        notes.append(f"{name} nearest_even: APyTypes codes {'equal' if same else 'DIFFER from'} fxsim's")
        ok = ok and same
    notes.append(f"{name} nearest_even: fxsim codes {'equal' if ok else 'DIFFER from'} ml_dtypes astype")
    return Row(f"f64->{name} nearest_even", x.size, t_fx, "ml_dtypes astype", t_ml, t_apy, 1, 10, ok)


def case_sr(label, make_src, x, reps, notes, seed=3):
    f = fx.FloatFormat.parse("bf16")
    n = x.size
    src = make_src()

    def v_fx():
        return fx.cast(x, f, "stochastic", r=16, source=src)

    def v_np_integers():
        g = np.random.Generator(np.random.PCG64(seed))
        return bf16_sr_numpy(x, g.integers(0, 1 << 16, n, dtype=np.uint64))

    def v_np_raw():
        return bf16_sr_numpy_inplace(x, np.random.PCG64(seed).random_raw(n) >> np.uint64(48))

    timed = race([("fx", v_fx), ("np integers", v_np_integers), ("np raw", v_np_raw)], reps)
    t_fx = timed["fx"][0]
    # correctness: one more call from a copy of the source, against numpy with those draws
    chk = make_src()
    R = chk.copy().draws(n, 16)
    ok = np.array_equal(fx.cast(x, f, "stochastic", r=16, source=chk).raw, bf16_sr_numpy(x, R))
    pcg_R = np.random.PCG64(seed).random_raw(n) >> np.uint64(48)
    ok_np = np.array_equal(timed["np raw"][1], bf16_sr_numpy(x, pcg_R))
    best = min(("np integers", "np raw"), key=lambda k: timed[k][0])
    notes.append(f"SR bf16 {label}: fxsim codes {'equal' if ok else 'DIFFER from'} the numpy "
                 f"expression fed with the source's draws; numpy baseline = {best}"
                 + ("" if ok_np else " (numpy variants disagree!)"))
    t_apy = None
    if apy is not None:
        a = apy.APyFloatArray.from_float(x, 11, 52)
        ta = race([("apy", lambda: a.cast(8, 7, quantization=apy.QuantizationMode.STOCH_WEIGHTED))],
                  max(1, min(reps, 3)))
        t_apy = ta["apy"][0]
        notes.append("SR bf16: APyTypes time excludes from_float (its own random bits, codes not compared)")
    return Row(f"f64->bf16 SR r=16 {label}", n, t_fx, f"numpy ({best})", timed[best][0], t_apy,
               2, 10, ok and ok_np)


def case_matmul(n, reps, notes):
    f = fx.FloatFormat.parse("bf16")
    rng = np.random.default_rng(5)
    A = fx.cast(rng.standard_normal((n, n)), f)
    B = fx.cast(rng.standard_normal((n, n)), f)
    Af, Bf = A.to_float(), B.to_float()
    timed = race([("fx", lambda: fx.matmul(A, B, acc="fp32")), ("blas", lambda: Af @ Bf)], reps)
    got = timed["fx"][1]
    A32, B32 = Af.astype(np.float32), Bf.astype(np.float32)
    C = np.zeros((n, n), np.float32)
    for k in range(n):                      # acc_{k+1} = fl32(acc_k + a_ik b_kj), k ascending
        C += np.outer(A32[:, k], B32[k, :])
    ok = np.array_equal(got.raw, C.view(np.uint32))
    notes.append(f"bf16 matmul {n}^2: fxsim codes {'equal' if ok else 'DIFFER from'} float32 numpy "
                 f"additions in k order; APyTypes (APyFloatAccumulatorContext) is not timed: "
                 f"about 60 s at this size")
    return Row(f"bf16 matmul {n}^2 fp32 acc", n * n, timed["fx"][0], "float64 BLAS",
               timed["blas"][0], None, 1 / 20, 0, ok)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="10^6 elements instead of 10^7")
    ap.add_argument("--size", type=int, default=None, help="element count (overrides)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 7, quick 5)")
    ap.add_argument("--threads", type=int, default=None, help="fxsim kernel threads")
    ap.add_argument("--no-apytypes", action="store_true", help="skip the APyTypes column")
    ap.add_argument("--markdown", action="store_true", help="also print a markdown table")
    args = ap.parse_args(argv)
    global apy
    if args.no_apytypes:
        apy = None
    if args.threads is not None:
        fx.set_num_threads(args.threads)
    if ml_dtypes is None:
        print("ml_dtypes is not installed: it is the baseline of the nearest-even rows")
        return 1
    n = args.size or (10**6 if args.quick else 10**7)
    reps = args.reps or (5 if args.quick else 7)
    for line in environment_lines():
        print(line)
    print(f"best of {reps} repetitions (APyTypes: {max(1, min(reps, 3))}), times in ms\n")
    x = np.random.default_rng(1).standard_normal(n)
    x8 = x * 40.0          # e4m3 spans +-448: some values overflow to NaN, as in both libraries
    x8 = np.clip(x8, -240, 240) if apy is not None else x8   # APyFloat (4, 3) is IEEE-like: stay below its max
    notes = []
    rows = [case_rne("bf16", ml_dtypes.bfloat16, x, reps, notes),
            case_rne("e4m3", ml_dtypes.float8_e4m3fn, x8, reps, notes),
            case_sr("PCG64", lambda: fx.Ideal("pcg64", seed=3), x, reps, notes),
            case_sr("LFSR32", lambda: fx.make_source("lfsr:32", seed=3), x, reps, notes),
            case_matmul(256 if args.quick else 512, reps, notes)]
    print_table(HEADER, [r.cells() for r in rows])
    print()
    for s in notes:
        print("note: " + s)
    if args.markdown:
        print()
        print_markdown_table(HEADER, [r.cells() for r in rows])
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
