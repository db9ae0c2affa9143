"""Benchmark of stochastic rounding: fxsim (ideal and LFSR bits) against numpy and APyTypes.

    python bench/bench_sr.py            # 10^7 elements
    python bench/bench_sr.py --quick    # 10^6 elements
    python bench/bench_sr.py --threads 1  # fxsim on one kernel thread

Case: float64 -> Q(16,8) `stochastic`, r = 16, saturate. Targets (issue 3):
  (a) fxsim with the ideal PCG64 source >= 2x numpy's best vectorized SR expression and >= 10x
      APyTypes STOCH_WEIGHTED;
  (b) fxsim with an LFSR n = 32 `serial` source >= 0.5x the speed of (a).
Every fxsim time includes drawing the random bits.  numpy's expression draws its own uniform
doubles (`floor(x*2^fl + rng.random())`), so it is a different random stream: it is checked for
being an unbiased SR of the same inputs, not for identical words.  APyTypes uses its own RNG.

Draws in blocks (issues 12.3, 13.3), same run, interleaved rounds:
  (c) SR cast with Philox, SFC64, MT19937 and a 4-lane LFSR n = 32 <= 1.5x the PCG64 fast path;
  (d) SR add Q(8,8) + Q(8,12) -> Q(8,8) and SR mul Q(8,8) * Q(8,8) -> Q(8,8), r = 16, with an
      LFSR n = 32 and PCG64 <= 2x their nearest_even versions;
  (e) peak traced memory of a 10^8 (--quick: 10^7) one-thread SR cast minus its int16 words:
      O(block) (< 8 MiB), not one uint64 draw per element.
Their words are checked bit for bit: numpy's own generator's words (spec 5.2: w >> (64 - r))
through a numpy model of the SR unit (floor(t) + [floor(frac * 2^r) + R >= 2^r]); the LFSR
rows against the same model fed with the pure-Python LFSR oracle's draws on a 2^14 prefix
(tests/oracles/reference.py), the rest of the array against fxsim's explicit draws= path.
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
    ap.add_argument("--threads", type=int, default=None, help="fxsim kernel threads")
    args = ap.parse_args(argv)
    if args.threads is not None:
        fx.set_num_threads(args.threads)
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
    return 0 if draws_in_blocks(n, args.reps) else 1


# -- draws in blocks (c, d, e) ------------------------------------------------------------------

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracles"))
from reference import ref_lfsr_lane_draws  # noqa: E402

TAPS32 = (32, 22, 2, 1)      # checked below against fx.LFSR(32)'s default taps


def numpy_draws(name, seed, n, r):
    bg = getattr(np.random, name)(seed)
    if name == "MT19937":
        raw = bg.random_raw(2 * n)
        w = (raw[0::2] << np.uint64(32)) | raw[1::2]
    else:
        w = bg.random_raw(n)
    return (w >> np.uint64(64 - r)).astype(np.int64)


def sr_model(q, frac_r, inexact, R, r, lo, hi):
    """The SR unit (trunc rule): floor + carry of the r-bit fraction and the draw, saturated."""
    return np.clip(q + (inexact & (frac_r + R >= (1 << r))), lo, hi)


def sr_float_model(x, fl, R, r, lo, hi):
    t = x * 2.0**fl
    q = np.floor(t)
    return sr_model(q.astype(np.int64), np.floor((t - q) * 2.0**r).astype(np.int64), t != q, R, r, lo, hi)


def sr_int_model(v, s, R, r, lo, hi):
    q = v >> s
    frac = v - (q << s)
    return sr_model(q, (frac << r) >> s, frac != 0, R, r, lo, hi)


def lfsr_prefix_ok(words, draws_model, src_args, r, k=1 << 14):
    """words[:k] against the model fed with the LFSR oracle's first k draws."""
    n, lanes, seed = src_args
    src = fx.LFSR(n, lanes=lanes, seed=seed)
    assert tuple(src.taps) == TAPS32, src.taps
    R, _ = ref_lfsr_lane_draws(n, TAPS32, "galois", "serial", r, src.lane_states, 0, k)
    return np.array_equal(words[:k], draws_model(np.array(R, dtype=np.int64), k))


def draws_in_blocks(n, reps) -> bool:
    import tracemalloc
    r, fmt = 16, fx.QFormat(16, 8)
    x = np.random.default_rng(5).standard_normal(n) * 20.0
    ideals = ["PCG64", "Philox", "SFC64", "MT19937"]
    lf4 = (32, 4, 0xACE1)
    srcs = {nm: fx.Ideal(nm.lower(), 7) for nm in ideals}
    srcs["LFSR32x4"] = fx.LFSR(32, lanes=4, seed=0xACE1)

    def caster(src):
        return lambda: fx.cast(x, fmt, "stochastic", "saturate", r=r, source=src).raw

    # words: a fresh source each, against the independent model
    ok = {}
    for nm in ideals:
        got = fx.cast(x, fmt, "stochastic", "saturate", r=r, source=fx.Ideal(nm.lower(), 7)).raw
        ok[nm] = np.array_equal(got, sr_float_model(x, 8, numpy_draws(nm, 7, n, r), r, -32768, 32767))
    src = fx.LFSR(32, lanes=4, seed=0xACE1)
    got = fx.cast(x, fmt, "stochastic", "saturate", r=r, source=src).raw
    again = fx.cast(x, fmt, "stochastic", "saturate", r=r,
                    draws=fx.LFSR(32, lanes=4, seed=0xACE1).draws(n, r)).raw
    ok["LFSR32x4"] = (np.array_equal(got, again) and lfsr_prefix_ok(
        got, lambda R, k: sr_float_model(x[:k], 8, R, r, -32768, 32767), lf4, r))
    res = race([(nm, caster(s)) for nm, s in srcs.items()], reps)
    t_p = res["PCG64"][0]
    rows = [(f"SR cast f64->Q(16,8) r=16, {nm}", n, res[nm][0], t_p, "PCG64", 1.5, ok[nm])
            for nm in srcs if nm != "PCG64"]

    # (d) SR add / mul against their nearest_even versions
    rng = np.random.default_rng(6)
    q88, q812 = fx.QFormat(8, 8), fx.QFormat(8, 12)
    a = fx.FixedArray(rng.integers(-128, 128, n), q88)
    b = fx.FixedArray(rng.integers(-128, 128, n), q812)
    c = fx.FixedArray(rng.integers(-128, 128, n), q88)
    ra, rb, rc = (w.raw.astype(np.int64) for w in (a, b, c))
    exact = {"add": ((ra << 4) + rb, 4, (a, b)), "mul": (ra * rc, 8, (a, c))}
    lf1 = (32, 1, 0xACE1)
    for op, (v, s, (p, q)) in exact.items():
        fn = getattr(fx, op)
        variants = [("rn", lambda fn=fn, p=p, q=q: fn(p, q, q88, "nearest_even", "saturate").raw)]
        for tag, src in (("LFSR32", fx.LFSR(32, seed=0xACE1)), ("PCG64", fx.Ideal("pcg64", 7))):
            variants.append((tag, lambda fn=fn, p=p, q=q, src=src:
                             fn(p, q, q88, "stochastic", "saturate", r=r, source=src).raw))
        res = race(variants, reps)
        # nearest_even: floor of (v + half - 1 + the odd bit) by numpy
        half = 1 << (s - 1)
        rn_ok = np.array_equal(res["rn"][1], np.clip((v + half - 1 + ((v >> s) & 1)) >> s, -128, 127))
        got = fn(p, q, q88, "stochastic", "saturate", r=r, source=fx.Ideal("pcg64", 7)).raw
        pcg_ok = rn_ok and np.array_equal(got, sr_int_model(v, s, numpy_draws("PCG64", 7, n, r), r, -128, 127))
        got = fn(p, q, q88, "stochastic", "saturate", r=r, source=fx.LFSR(32, seed=0xACE1)).raw
        again = fn(p, q, q88, "stochastic", "saturate", r=r, draws=fx.LFSR(32, seed=0xACE1).draws(n, r)).raw
        lf_ok = rn_ok and np.array_equal(got, again) and lfsr_prefix_ok(
            got, lambda R, k, v=v, s=s: sr_int_model(v[:k], s, R, r, -128, 127), lf1, r)
        for tag, good in (("LFSR32", lf_ok), ("PCG64", pcg_ok)):
            rows.append((f"SR {op} Q(8,8) r=16, {tag}", n, res[tag][0], res["rn"][0], "nearest_even",
                         2.0, good))

    # (e) draw memory of a long one-thread SR cast
    m = 10 * n
    big = np.random.default_rng(8).standard_normal(m)
    threads = fx.get_num_threads()
    fx.set_num_threads(1)
    tracemalloc.start()
    fx.cast(big, fmt, "stochastic", "saturate", r=r, source=fx.Ideal("pcg64", 7))
    peak = tracemalloc.get_traced_memory()[1] - 2 * m
    tracemalloc.stop()
    fx.set_num_threads(threads)

    print(f"\ndraws in blocks: best of {reps}, interleaved rounds; fxsim.get_num_threads()={threads}, "
          "load average %.2f %.2f %.2f" % os.getloadavg())
    head = f"{'case':<42}{'size':>7}{'fxsim ms':>10}{'base ms':>10}{'fx/base':>9}  {'baseline':<14}target"
    print(head)
    print("-" * (len(head) + 16))
    good = True
    for name, size, t, tb, base, target, words_ok in rows:
        passed = words_ok and t / tb <= target
        good &= words_ok
        print(f"{name:<42}{size:>7.0e}{t * 1e3:>10.2f}{tb * 1e3:>10.2f}{t / tb:>8.2f}x  {base:<14}"
              f"<={target}x {'PASS' if passed else 'FAIL'}{'' if words_ok else ' (WORDS WRONG)'}")
    mem_ok = peak < 8 << 20
    print(f"peak traced memory of a {m:.0e} one-thread SR cast beyond its words: "
          f"{peak / 2**20:.2f} MiB (a draws array would be {8 * m / 2**20:.0f} MiB)  "
          f"<8 MiB {'PASS' if mem_ok else 'FAIL'}")
    if not good:
        print("WORDS WRONG: fxsim differs from the independent computation")
    return good


if __name__ == "__main__":
    sys.exit(main())
