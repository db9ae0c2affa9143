"""Benchmark of fxsim's small calls (issue 13): per-call overhead against numpy's complete
equivalent expression, the GD iteration of the main job, and ``out=`` on a large cast.

    python bench/bench_small.py              # 10^7-element out= case
    python bench/bench_small.py --big        # the issue's 10^8-element out= case (~1.2 GB)
    python bench/bench_small.py --threads 1  # fxsim on one kernel thread

Every time is the best of several rounds, fxsim and numpy interleaved round by round (the
machine may be shared); a round of the per-call table is 100 calls up to 100 elements, 10 up
to 1000 (the time shown is per call).  Every fxsim result is checked bit for bit against an independent
integer computation written out from the spec (exit 1 if one differs).

Rows and targets
  cast 10 el.    fxsim.cast(x, "Q8.8") of 10 float64, nearest_even, saturate   <= 2 us
  Caster 10 el.  the same through a prepared fxsim.Caster                      <= 2 us
  crossover      smallest size from which fxsim.cast is no slower than numpy    < 10^4
  GD iteration   the main job's iteration (logistic regression, Q8.8, round-to-nearest,
                 fused update, loss/gradient record) vs the same bit-exact iteration in numpy
                                                                                <= 1.5x
  out= cast      float64 -> Q8.8 into a reused out= buffer vs a fresh result    (information)
  SR Caster 26   a prepared stochastic Caster (Q8.8, r = 16, ideal PCG64 source) on 26
                 elements, the GD study's size, vs numpy's floor(x * 2^8 + u), u from
                 numpy's own PCG64 (same draws, checked bit for bit)            <= 2x
"""
import argparse
import os
import sys

import numpy as np

import fxsim as fx
from fxsim.optim import GD
from fxsim.studies.gd_rounding import build_model, make_accelerator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_datapath import environment_lines, race  # noqa: E402

SIZES = (1, 10, 100, 1000, 10**4, 10**5)
FMT = fx.QFormat(16, 8)


def ref_cast(x):
    """float64 -> Q(16,8) nearest_even saturate, in integers: x * 2^8 is exact, so its round
    half-even is the spec's; then clamp to the int16 range."""
    v = x * 256.0
    q = np.floor(v)
    frac = v - q
    q = q + ((frac > 0.5) | ((frac == 0.5) & (np.fmod(q, 2) != 0)))
    return np.clip(q, -32768, 32767).astype(np.int64)


def ref_mul(ra, rb):
    """Q(8,8) * Q(8,8) -> Q(8,8) nearest_even saturate in int64 (spec: exact product at 16
    fraction bits, round half-even to 8, saturate)."""
    p = ra.astype(np.int64) * rb.astype(np.int64)
    q = p >> 8
    rem = p & 255
    q += (rem > 128) | ((rem == 128) & (q & 1 == 1))
    return np.clip(q, -128, 127)


def batch(n):
    """Calls per timed round at n elements: a few-microsecond call timed alone is dominated by
    the timer and by releasing the previous round's result."""
    return 100 if n <= 100 else (10 if n <= 1000 else 1)


def batched(fn, k):
    def run():
        for _ in range(k - 1):
            fn()
        return fn()
    return run


def overhead_table(reps, notes):
    rows = []
    rng = np.random.default_rng(13)
    for n in SIZES:
        x = rng.normal(0.0, 40.0, n)
        x[::3] = np.round(x[::3] * 256) / 256 + 1 / 512      # ties
        ra = rng.integers(-128, 128, n, dtype=np.int8)
        rb = rng.integers(-128, 128, n, dtype=np.int8)
        A, B = fx.FixedArray(ra, "Q(8,8)"), fx.FixedArray(rb, "Q(8,8)")
        q = fx.Caster(FMT, fx.CastMode("nearest_even", "saturate"))
        variants = [
            ("fx cast", lambda: fx.cast(x, "Q8.8", "nearest_even", "saturate")),
            ("fx Caster", lambda: q(x)),
            ("np cast", lambda: np.clip(np.rint(x * 256), -32768, 32767).astype(np.int16)),
            ("fx mul", lambda: fx.mul(A, B, "Q(8,8)", "nearest_even", "saturate")),
            ("np mul", lambda: np.clip((lambda p: (p + 127 + ((p >> 8) & 1)) >> 8)(
                ra.astype(np.int16) * rb), -128, 127).astype(np.int8)),
        ]
        k = batch(n)
        r = race([(name, batched(fn, k)) for name, fn in variants],
                 reps if n <= 10**4 else max(5, reps // 20))
        r = {name: (t / k, res) for name, (t, res) in r.items()}
        want_c, want_m = ref_cast(x), ref_mul(ra, rb)
        for name, want in (("fx cast", want_c), ("fx Caster", want_c), ("np cast", want_c),
                           ("fx mul", want_m), ("np mul", want_m)):
            got = r[name][1]
            got = got.raw if isinstance(got, fx.FixedArray) else got
            if not np.array_equal(got.astype(np.int64), want):
                notes.append(f"WRONG: {name} at n={n} differs from the integer reference")
        rows.append((n, {k: v[0] for k, v in r.items()}))
    return rows


def numpy_gd(model, x_raw, t_raw, fl, n_iters):
    """The main job's GD iteration (exact mode, round-to-nearest, fused update) written in
    numpy integers, with the same record (loss, gradient norm, moved, inexact, overflowed)."""
    lo, hi = -(1 << 15), (1 << 15) - 1
    scale = float(1 << fl)
    xf = x_raw / scale
    g_full = model.grad(xf)
    hist = []
    for _ in range(n_iters):
        v = g_full * scale                               # exact (power of two)
        gq = np.rint(v)
        inexact = int(np.count_nonzero(gq != v))
        ovf = int(np.count_nonzero((gq < lo) | (gq > hi)))
        g = np.clip(gq, lo, hi).astype(np.int64)
        d = (x_raw << 16) - t_raw * g                    # x - t_q * g at fl + 16, exact
        q = d >> 16
        rem = d & 0xFFFF
        inexact += int(np.count_nonzero(rem))
        q += (rem > 0x8000) | ((rem == 0x8000) & (q & 1 == 1))
        ovf += int(np.count_nonzero((q < lo) | (q > hi)))
        x_new = np.clip(q, lo, hi)
        moved = int(np.count_nonzero(x_new != x_raw))
        x_raw = x_new
        xf = x_raw / scale
        g_full = model.grad(xf)
        hist.append((float(model.loss(xf)), float(np.linalg.norm(g_full)), moved, inexact, ovf))
    return x_raw, hist


def gd_case(reps, notes, n_iters=50):
    model, t, _ = build_model("logistic", FMT)

    def fresh():
        return GD(model, make_accelerator("round-to-nearest", FMT, "lfsr16", 1), t,
                  mode="exact", seed=2)

    g0 = fresh()
    x0 = g0.x.raw.astype(np.int64)
    t_raw = int(g0.t_q.raw)
    assert g0.t_q.fmt.fl == 16
    state = {}

    def v_fx():
        g = fresh()
        g.run(n_iters)
        state["fx"] = g
        return g

    def v_np():
        return numpy_gd(model, x0.copy(), t_raw, FMT.fl, n_iters)

    r = race([("fx", v_fx), ("np", v_np)], reps)
    g, (x_np, hist) = state["fx"], r["np"][1]
    h = g.history
    same = (np.array_equal(g.x.raw.astype(np.int64), x_np)
            and np.array_equal(h.loss[1:], [e[0] for e in hist])
            and np.array_equal(h.gnorm[1:], [e[1] for e in hist])
            and np.array_equal(h.moved, [e[2] for e in hist])
            and np.array_equal(h.inexact, [e[3] for e in hist])
            and np.array_equal(h.overflowed, [e[4] for e in hist]))
    if not same:
        notes.append("WRONG: GD iterations of fxsim and numpy differ")
    # GD construction (the accelerator, x0, the first gradient) is in both timed regions alike
    # only for fxsim; it is timed once alone and taken off
    t_init = min(race([("init", fresh)], reps)["init"][0], r["fx"][0])
    return (r["fx"][0] - t_init) / n_iters, r["np"][0] / n_iters


def out_case(n, reps, notes):
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 40.0, n)
    buf = np.empty(n, np.int16)
    q = fx.Caster(FMT)
    r = race([("fresh", lambda: q(x)), ("out", lambda: q(x, out=buf))], reps)
    want = ref_cast(x[: 1 << 20])
    for name in ("fresh", "out"):
        if not np.array_equal(r[name][1].raw[: 1 << 20].astype(np.int64), want):
            notes.append(f"WRONG: out= case '{name}' differs from the integer reference")
    return r["fresh"][0], r["out"][0]


def sr_case(reps, notes, n=26):
    """SR cast of n elements from a source: the Caster vs numpy's floor(x * 2^8 + R / 2^16)
    with R the top 16 bits of numpy's own PCG64 (spec §2's trunc rule: up iff D + R >= 2^r)."""
    rng = np.random.default_rng(7)
    x = np.round(rng.normal(0.0, 40.0, n) * 2**24) / 2**24      # x * 2^8 + R / 2^16 is exact
    q = fx.Caster(FMT, fx.CastMode("stochastic", "saturate", r=16), source=fx.Ideal("pcg64", seed=1))
    bg = np.random.PCG64(1)

    def v_np():
        u = (bg.random_raw(n) >> np.uint64(48)) * (1.0 / 65536)
        return np.clip(np.floor(x * 256.0 + u), -32768, 32767).astype(np.int16)
    k = batch(n)
    r = race([("fx", batched(lambda: q(x), k)), ("np", batched(v_np, k))], reps)
    # the check: one call each from fresh generators at the same seed
    got = fx.Caster(FMT, fx.CastMode("stochastic", "saturate", r=16),
                    source=fx.Ideal("pcg64", seed=3))(x).raw
    bits = np.random.PCG64(3).random_raw(n) >> np.uint64(48)
    want = np.clip(np.floor(x * 256.0 + bits / 65536.0), -32768, 32767).astype(np.int64)
    if not np.array_equal(got.astype(np.int64), want):
        notes.append("WRONG: the SR Caster differs from numpy's floor(x * 2^8 + u)")
    return r["fx"][0] / k, r["np"][0] / k


def crossover(rows, op):
    """The smallest size from which fxsim is no slower than numpy at every larger size."""
    n_from = None
    for n, t in reversed(rows):
        if t[f"fx {op}"] > t[f"np {op}"]:
            break
        n_from = n
    return n_from


def verdict(ok):
    return "PASS" if ok else "FAIL"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=400, help="rounds for the small calls")
    ap.add_argument("--big", action="store_true", help="10^8-element out= case")
    ap.add_argument("--threads", type=int, default=None, help="fxsim kernel threads")
    args = ap.parse_args(argv)
    if args.threads:
        fx.set_num_threads(args.threads)
    for line in environment_lines():
        print(line)
    notes = []
    rows = overhead_table(args.reps, notes)
    print("\nper call, best of the rounds (us); ratio = fxsim / numpy")
    print(f"{'elements':>10}{'fx cast':>10}{'Caster':>10}{'np cast':>10}{'ratio':>8}"
          f"{'fx mul':>10}{'np mul':>10}{'ratio':>8}")
    for n, t in rows:
        print(f"{n:>10}{t['fx cast'] * 1e6:>10.2f}{t['fx Caster'] * 1e6:>10.2f}"
              f"{t['np cast'] * 1e6:>10.2f}{t['fx cast'] / t['np cast']:>8.2f}"
              f"{t['fx mul'] * 1e6:>10.2f}{t['np mul'] * 1e6:>10.2f}"
              f"{t['fx mul'] / t['np mul']:>8.2f}")
    t10 = dict(rows)[10]
    cross, cross_m = crossover(rows, "cast"), crossover(rows, "mul")
    t_fx, t_np = gd_case(max(3, args.reps // 40), notes)
    t_sr, t_sr_np = sr_case(args.reps, notes)
    n_out = 10**8 if args.big else 10**7
    t_fresh, t_out = out_case(n_out, 5, notes)
    print(f"\n{'case':<44}{'fxsim':>12}{'numpy':>12}{'ratio':>8}  {'target':<14}")
    print(f"{'cast 10 el. (us)':<44}{t10['fx cast'] * 1e6:>12.2f}{t10['np cast'] * 1e6:>12.2f}"
          f"{t10['fx cast'] / t10['np cast']:>8.2f}  {'<= 2 us':<10}"
          f"{verdict(t10['fx cast'] <= 2e-6)}")
    print(f"{'Caster 10 el. (us)':<44}{t10['fx Caster'] * 1e6:>12.2f}{t10['np cast'] * 1e6:>12.2f}"
          f"{t10['fx Caster'] / t10['np cast']:>8.2f}  {'<= 2 us':<10}"
          f"{verdict(t10['fx Caster'] <= 2e-6)}")
    print(f"{'crossover cast / mul (elements)':<44}{str(cross):>12}{str(cross_m):>12}{'':>8}  "
          f"{'< 10^4':<10}{verdict(cross is not None and cross < 10**4)}")
    print(f"{'GD iteration, logistic Q8.8 RN (us)':<44}{t_fx * 1e6:>12.1f}{t_np * 1e6:>12.1f}"
          f"{t_fx / t_np:>8.2f}  {'<= 1.5x':<10}{verdict(t_fx / t_np <= 1.5)}")
    print(f"{'SR Caster 26 el., PCG64 r = 16 (us)':<44}{t_sr * 1e6:>12.2f}{t_sr_np * 1e6:>12.2f}"
          f"{t_sr / t_sr_np:>8.2f}  {'<= 2x':<10}{verdict(t_sr / t_sr_np <= 2)}")
    print(f"{f'cast 10^{len(str(n_out)) - 1} fresh / out= (ms)':<44}{t_fresh * 1e3:>12.1f}"
          f"{t_out * 1e3:>12.1f}{t_out / t_fresh:>8.2f}  (out= / fresh; information)")
    for line in notes:
        print(line)
    print("load average %.2f %.2f %.2f" % os.getloadavg())
    return 1 if any(line.startswith("WRONG") for line in notes) else 0


if __name__ == "__main__":
    sys.exit(main())
