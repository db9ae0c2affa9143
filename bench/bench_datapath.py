"""Benchmark of fxsim's datapath against numpy and APyTypes, measured in one run.

    python bench/bench_datapath.py             # 10^7 elements for the element-wise cases
    python bench/bench_datapath.py --quick     # 10^6 elements
    python bench/bench_datapath.py --markdown  # also print a markdown table (bench/README.md)
    python bench/bench_datapath.py --threads 1 # fxsim on one kernel thread

Every time is the best of several repetitions (time.perf_counter), fxsim and its numpy
baselines interleaved round by round (the machine may be shared); inputs and FixedArray
construction are outside the timed region, for every library alike. Before timing, each
baseline's result is checked bit for bit against fxsim's raw words (a baseline that computes
something else is reported, never silently compared).

Cases and targets
  cast    float64 -> Q(16,8) nearest_even saturate   fxsim >= 2x numpy, >= 10x APyTypes
  mul     Q(8,8)*Q(8,8) -> Q(8,8) nearest_even sat   fxsim >= 2x numpy, >=  5x APyTypes
  matmul  512x512 Q(8,8), exact accumulator          fxsim within 2x of float64 np.matmul
  matmul  the same, Q(24,16) saturating accumulator  fxsim within 10x of float64 np.matmul

"numpy" is the fastest whole-array numpy expression that gives the same words (several are
tried, the winner is named in the notes). "numpy blk" is, for information, a cache-blocked
version of that expression (a Python loop over 2^16-element blocks with reused scratch
buffers): the targets are against the "numpy" column.
"""
import argparse
import os
import platform
import sys
import time

import numpy as np

try:
    import apytypes as apy
    from apytypes import APyFixedArray, OverflowMode, QuantizationMode
except ImportError:  # pragma: no cover
    apy = None

import fxsim as fx


# --------------------------------------------------------------------------- timing
def best_of(fn, reps):
    """Best wall time of reps calls (after one untimed warm-up call); returns (t, result)."""
    out = fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def race(variants, reps):
    """Time (name, fn) pairs interleaved: every round calls each once, in a rotating order,
    so a burst of load on a shared machine hits all of them alike. One untimed warm-up call
    each. Returns {name: (best time, last result)}."""
    out = {name: fn() for name, fn in variants}
    best = {name: float("inf") for name, _ in variants}
    for r in range(reps):
        k = r % len(variants)
        for name, fn in variants[k:] + variants[:k]:
            t0 = time.perf_counter()
            out[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return {name: (best[name], out[name]) for name, _ in variants}


def fastest(timed, names, check, notes, label):
    """The fastest of the named numpy variants whose result passes check()."""
    best_t, best_name = float("inf"), None
    for name in names:
        t, out = timed[name]
        if not check(out):
            notes.append(f"{label}: numpy variant '{name}' is NOT bit-identical, ignored")
        elif t < best_t:
            best_t, best_name = t, name
    notes.append(f"{label}: numpy baseline = {best_name}")
    return best_t


# --------------------------------------------------------------------------- environment
def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment_lines():
    lines = [f"CPU: {cpu_name()} ({platform.machine()}), os.cpu_count()={os.cpu_count()}"]
    try:
        lines[-1] += f", usable CPUs={len(os.sched_getaffinity(0))}"
    except AttributeError:
        pass
    try:
        lines[-1] += ", load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        pass
    lines.append(f"Python {platform.python_version()}, numpy {np.__version__}, "
                 f"apytypes {getattr(apy, '__version__', 'missing')}, "
                 f"fxsim {getattr(fx, '__version__', '?')}")
    env = {k: os.environ[k] for k in sorted(os.environ)
           if k.startswith(("OMP_", "OPENBLAS_", "MKL_", "FXSIM_")) or k == "NUMEXPR_NUM_THREADS"}
    lines.append("env: " + (", ".join(f"{k}={v}" for k, v in env.items()) or "(no thread vars)"))
    threads = []
    for name in ("get_num_threads", "num_threads", "n_threads"):
        obj = getattr(fx, name, None)
        if obj is not None:
            threads.append(f"fxsim.{name}={obj() if callable(obj) else obj}")
    if apy is not None:
        threads.append(f"apytypes.n_threads={apy.n_threads() if callable(apy.n_threads) else apy.n_threads}")
    lines.append("threads: " + (", ".join(threads) or "fxsim reports none"))
    try:
        from threadpoolctl import threadpool_info
        for p in threadpool_info():
            lines.append("threadpoolctl: " + ", ".join(
                f"{k}={p[k]}" for k in ("user_api", "internal_api", "version", "num_threads",
                                        "threading_layer", "architecture") if k in p))
    except ImportError:
        lines.append("threadpoolctl: not installed")
    return lines


# --------------------------------------------------------------------------- cases
class Row:
    def __init__(self, op, size, t_fx, t_np, t_blk, t_apy, target, np_min, apy_min,
                 ok=True, note=""):
        self.op, self.size = op, size
        self.t_fx, self.t_np, self.t_blk, self.t_apy = t_fx, t_np, t_blk, t_apy
        self.target, self.np_min, self.apy_min, self.ok, self.note = (
            target, np_min, apy_min, ok, note)

    def ratios(self):
        r = lambda t: (t / self.t_fx) if (t is not None and self.t_fx) else None  # noqa: E731
        return r(self.t_np), r(self.t_blk), r(self.t_apy)

    def verdict(self):
        if not self.ok:
            return "FAIL (wrong bits)"
        r_np, _, r_apy = self.ratios()
        good = r_np >= self.np_min
        if self.apy_min is not None and r_apy is not None:
            good = good and r_apy >= self.apy_min
        return "PASS" if good else "FAIL"


def case_cast(n, reps, apy_reps, notes):
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 64.0, n)  # Q(16,8) spans [-128, 128): a few % saturate
    x[::5] = np.round(x[::5] * 256) / 256 + 1 / 512  # 20% exact ties at 8 fraction bits
    fmt = fx.QFormat(16, 8, True)

    def v_fx():
        return fx.cast(x, fmt, "nearest_even", "saturate")

    def v_oneliner():
        return np.clip(np.rint(x * 256), -32768, 32767).astype(np.int16)

    def v_inplace():
        b = np.multiply(x, 256.0)
        np.rint(b, out=b)
        np.clip(b, -32768, 32767, out=b)
        return b.astype(np.int16)

    def v_minmax():
        b = np.multiply(x, 256.0)
        np.rint(b, out=b)
        np.minimum(b, 32767, out=b)
        np.maximum(b, -32768, out=b)
        return b.astype(np.int16)

    C = 1 << 16
    sb = np.empty(C)

    def v_blocked():
        out = np.empty(n, np.int16)
        for s in range(0, n, C):
            e = min(s + C, n)
            b = sb[: e - s]
            np.multiply(x[s:e], 256.0, out=b)
            np.rint(b, out=b)
            np.clip(b, -32768, 32767, out=b)
            np.copyto(out[s:e], b, casting="unsafe")
        return out

    names = ["clip(rint(x*256)).astype", "in-place rint/clip", "in-place rint/min/max"]
    timed = race([("fx", v_fx), (names[0], v_oneliner), (names[1], v_inplace),
                  (names[2], v_minmax), ("blk", v_blocked)], reps)
    t_fx, res = timed["fx"]
    got = np.asarray(res.raw)
    ref = v_oneliner()  # x * 256 is exact, rint is ties-to-even: the spec's cast
    ok = got.dtype == np.int16 and res.fmt == fmt and np.array_equal(got, ref)
    if not ok:
        bad = np.flatnonzero(got != ref)[:3]
        notes.append(f"cast: fxsim differs from numpy at {bad.tolist()}: x={x[bad].tolist()} "
                     f"expected {ref[bad].tolist()} got {got[bad].tolist()}")
    same = lambda r: np.array_equal(r, ref)  # noqa: E731
    t_np = fastest(timed, names, same, notes, "cast")
    t_blk, out = timed["blk"]
    if not same(out):
        notes.append("cast: blocked numpy NOT bit-identical")
        t_blk = None

    t_apy = None
    if apy is not None:
        # APyTypes' from_float rounds ties away and wraps: convert exactly at a wide format
        # (int_bits=64, frac_bits=64: exact for every float64 |x| < 2^63 as far as the
        # Q(16,8) rounding can tell), then cast RND_CONV + SAT.
        def v_apy():
            return APyFixedArray.from_float(x, int_bits=64, frac_bits=64).cast(
                int_bits=8, frac_bits=8, quantization=QuantizationMode.RND_CONV,
                overflow=OverflowMode.SAT)

        t_apy, r = best_of(v_apy, apy_reps)
        if not np.array_equal(r.to_bits(numpy=True).view(np.int16), ref):
            notes.append("cast: APyTypes NOT bit-identical")
    return Row("cast f64->Q(16,8) RNE sat", f"{n:.0e}", t_fx, t_np, t_blk, t_apy,
               ">=2x np, >=10x apy", 2.0, 10.0, ok)


def case_mul(n, reps, apy_reps, notes):
    rng = np.random.default_rng(2)
    ra = rng.integers(-128, 128, n, dtype=np.int8)
    rb = rng.integers(-128, 128, n, dtype=np.int8)
    fmt = fx.QFormat(8, 8, True)
    A, B = fx.FixedArray(ra, fmt), fx.FixedArray(rb, fmt)

    # reference, written out from the spec in int64: product at 16 fraction bits, round to 8
    # (ties to even), saturate to [-128, 127]
    p = ra.astype(np.int64) * rb.astype(np.int64)
    q = p >> 8
    rem = p & 255
    q += (rem > 128) | ((rem == 128) & (q & 1 == 1))
    ref = np.clip(q, -128, 127).astype(np.int8)
    del p, q, rem

    def v_fx():
        return fx.mul(A, B, fmt, "nearest_even", "saturate")

    # int8*int8 fits int16; (p + 127 + bit8(p)) >> 8 is round-half-even; |p| <= 2^14 so the
    # result is in [-64, 64] and saturation never acts (the clip is provably a no-op).
    def v_expr():
        p = ra.astype(np.int16) * rb
        return ((p + 127 + ((p >> 8) & 1)) >> 8).astype(np.int8)

    def v_inplace():
        p = ra.astype(np.int16)
        p *= rb
        t = p >> 8
        t &= 1
        t += 127
        p += t
        p >>= 8
        return p.astype(np.int8)

    def v_clip():
        p = ra.astype(np.int16) * rb
        return np.clip((p + 127 + ((p >> 8) & 1)) >> 8, -128, 127).astype(np.int8)

    C = 1 << 16
    p16, t16 = np.empty(C, np.int16), np.empty(C, np.int16)

    def v_blocked():
        o8 = np.empty(n, np.int8)
        for s in range(0, n, C):
            e = min(s + C, n)
            pp, tt = p16[: e - s], t16[: e - s]
            np.multiply(ra[s:e], rb[s:e], out=pp, dtype=np.int16)
            np.right_shift(pp, 8, out=tt)
            np.bitwise_and(tt, 1, out=tt)
            tt += 127
            pp += tt
            pp >>= 8
            np.copyto(o8[s:e], pp, casting="unsafe")
        return o8

    names = ["(p+127+((p>>8)&1))>>8", "in-place int16", "with clip"]
    timed = race([("fx", v_fx), (names[0], v_expr), (names[1], v_inplace), (names[2], v_clip),
                  ("blk", v_blocked)], reps)
    t_fx, res = timed["fx"]
    got = np.asarray(res.raw)
    ok = got.dtype == np.int8 and res.fmt == fmt and np.array_equal(got, ref)
    if not ok:
        bad = np.flatnonzero(got != ref)[:3]
        notes.append(f"mul: fxsim differs at {bad.tolist()}: a={ra[bad].tolist()} "
                     f"b={rb[bad].tolist()} expected {ref[bad].tolist()} got {got[bad].tolist()}")
    same = lambda r: np.array_equal(r, ref)  # noqa: E731
    t_np = fastest(timed, names, same, notes, "mul")
    t_blk, out = timed["blk"]
    if not same(out):
        notes.append("mul: blocked numpy NOT bit-identical")
        t_blk = None

    t_apy = None
    if apy is not None:
        a = APyFixedArray(ra, int_bits=0, frac_bits=8)
        b = APyFixedArray(rb, int_bits=0, frac_bits=8)

        def v_apy():
            return (a * b).cast(int_bits=0, frac_bits=8,
                                quantization=QuantizationMode.RND_CONV,
                                overflow=OverflowMode.SAT)

        t_apy, r = best_of(v_apy, apy_reps)
        if not np.array_equal(r.to_bits(numpy=True).view(np.int8), ref):
            notes.append("mul: APyTypes NOT bit-identical")
    return Row("mul Q(8,8)*Q(8,8)->Q(8,8) RNE sat", f"{n:.0e}", t_fx, t_np, t_blk, t_apy,
               ">=2x np, >=5x apy", 2.0, 5.0, ok)


def matmul_inputs(m):
    rng = np.random.default_rng(3)
    ra = rng.integers(-128, 128, (m, m), dtype=np.int8)
    rb = rng.integers(-128, 128, (m, m), dtype=np.int8)
    # 4 rows x 4 columns of -128 make 16 outputs overflow a Q(24,16) accumulator (m = 512:
    # the sum reaches 2^23 at the last step); the rest stays in range
    ra[:4, :] = -128
    rb[:, :4] = -128
    return ra, rb


def case_matmul_exact(m, reps, apy_reps, notes):
    ra, rb = matmul_inputs(m)
    fmt = fx.QFormat(8, 8, True)
    A, B = fx.FixedArray(ra, fmt), fx.FixedArray(rb, fmt)
    Af, Bf = ra / 256.0, rb / 256.0

    timed = race([("fx", lambda: fx.matmul(A, B)), ("np", lambda: np.matmul(Af, Bf))], reps)
    t_fx, res = timed["fx"]
    t_np = timed["np"][0]
    # every exact sum is an integer below 2^53 at 16 fraction bits: float64 matmul is exact
    ref = (ra.astype(np.float64) @ rb.astype(np.float64)).astype(np.int64)
    got = np.asarray(res.raw)
    ok = res.fmt.fl == 16 and np.array_equal(got.astype(np.int64), ref)
    if not ok:
        notes.append(f"matmul exact: fxsim result {res.fmt!r} differs from the exact product")

    t_apy = None
    if apy is not None:
        a = APyFixedArray(ra, int_bits=0, frac_bits=8)
        b = APyFixedArray(rb, int_bits=0, frac_bits=8)
        t_apy, r = best_of(lambda: a @ b, apy_reps)
        bits = r.to_bits(numpy=True).astype(np.int64)
        w = r.bits
        if not np.array_equal(np.where(bits >= 1 << (w - 1), bits - (1 << w), bits), ref):
            notes.append("matmul exact: APyTypes NOT bit-identical")
    return Row(f"matmul {m}x{m} Q(8,8), exact acc", f"{m}^3", t_fx, t_np, None, t_apy,
               "<=2x np f64 time", 0.5, None, ok)


def case_matmul_sat(m, reps, apy_reps, notes):
    ra, rb = matmul_inputs(m)
    fmt = fx.QFormat(8, 8, True)
    acc = fx.QFormat(24, 16, True)
    A, B = fx.FixedArray(ra, fmt), fx.FixedArray(rb, fmt)
    Af, Bf = ra / 256.0, rb / 256.0

    timed = race([("fx", lambda: fx.matmul(A, B, acc=acc, overflow="saturate")),
                  ("np", lambda: np.matmul(Af, Bf))], reps)
    t_fx, res = timed["fx"]
    t_np = timed["np"][0]
    # spec section 4: acc_{k+1} = sat(acc_k + a_k b_k), k ascending (products exact, fl 16)
    lo, hi = -(1 << 23), (1 << 23) - 1
    s = np.zeros((m, m), np.int64)
    a64, b64 = ra.astype(np.int64), rb.astype(np.int64)
    for k in range(m):
        s += a64[:, k, None] * b64[None, k, :]
        np.clip(s, lo, hi, out=s)
    got = np.asarray(res.raw)
    ok = res.fmt == acc and np.array_equal(got.astype(np.int64), s)
    if not ok:
        bad = np.argwhere(got.astype(np.int64) != s)[:3].tolist()
        notes.append(f"matmul sat: fxsim {res.fmt!r} differs from the per-step saturating "
                     f"sum at {bad}")
    n_sat = int(np.count_nonzero((s == lo) | (s == hi)))

    t_apy = None
    note = ""
    if apy is not None:
        a = APyFixedArray(ra, int_bits=0, frac_bits=8)
        b = APyFixedArray(rb, int_bits=0, frac_bits=8)

        def v_apy():
            with apy.APyFixedAccumulatorContext(int_bits=8, frac_bits=16,
                                                quantization=QuantizationMode.TRN,
                                                overflow=OverflowMode.SAT):
                return a @ b

        t_apy, r = best_of(v_apy, apy_reps)
        bits = np.array(r.to_bits(numpy=True), dtype=np.int64)
        bits = np.where(bits >= 1 << 23, bits - (1 << 24), bits)
        n_bad = int(np.count_nonzero(bits != s))
        if n_bad:
            note = (f"APyTypes does not saturate per step ({n_bad} of {m * m} words differ; "
                    "apytypes issue #857): its time is for information only")
            notes.append("matmul sat: " + note)
    notes.append(f"matmul sat: {n_sat} of {m * m} outputs end saturated")
    row = Row(f"matmul {m}x{m} Q(8,8), Q(24,16) sat acc", f"{m}^3", t_fx, t_np, None, t_apy,
              "<=10x np f64 time", 0.1, None, ok, note)
    return row


# --------------------------------------------------------------------------- output
def fmt_ms(t):
    return "n/a" if t is None else f"{t * 1e3:.2f}"


def fmt_ratio(r):
    return "n/a" if r is None else f"{r:.2f}x"


HEADER = ["operation", "size", "fxsim ms", "numpy ms", "numpy blk ms", "APyTypes ms",
          "numpy/fxsim", "blk/fxsim", "APyTypes/fxsim", "target", "result"]


def table_rows(rows):
    out = []
    for r in rows:
        r_np, r_blk, r_apy = r.ratios()
        out.append([r.op, r.size, fmt_ms(r.t_fx), fmt_ms(r.t_np), fmt_ms(r.t_blk),
                    fmt_ms(r.t_apy) + ("*" if r.note else ""), fmt_ratio(r_np),
                    fmt_ratio(r_blk), fmt_ratio(r_apy) + ("*" if r.note else ""), r.target,
                    r.verdict()])
    return out


def print_table(header, body):
    """A plain-text table of string cells (also used by bench_mac.py)."""
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for b in body:
        print("  ".join(c.ljust(w) for c, w in zip(b, widths)))


def print_markdown_table(header, body):
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for b in body:
        print("| " + " | ".join(b) + " |")


def print_text(rows):
    print_table(HEADER, table_rows(rows))


def print_markdown(rows):
    print_markdown_table(HEADER, table_rows(rows))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="10^6 elements instead of 10^7")
    ap.add_argument("--markdown", action="store_true", help="also print a markdown table")
    ap.add_argument("--size", type=int, default=None, help="element count (overrides)")
    ap.add_argument("--matmul", type=int, default=512, help="matmul side (default 512)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 9, quick 7)")
    ap.add_argument("--no-apytypes", action="store_true", help="skip the APyTypes column")
    ap.add_argument("--threads", type=int, default=None,
                    help="fxsim kernel threads (fxsim.set_num_threads; default: fxsim's own)")
    args = ap.parse_args(argv)
    if args.threads is not None:
        fx.set_num_threads(args.threads)

    global apy
    if args.no_apytypes:
        apy = None
    n = args.size or (10**6 if args.quick else 10**7)
    reps = args.reps or (7 if args.quick else 9)
    apy_reps = max(1, min(reps, 3))

    for line in environment_lines():
        print(line)
    print(f"best of {reps} repetitions (APyTypes: {apy_reps}), times in ms\n")

    notes = []
    rows = [case_cast(n, reps, apy_reps, notes),
            case_mul(n, reps, apy_reps, notes),
            case_matmul_exact(args.matmul, reps, apy_reps, notes),
            case_matmul_sat(args.matmul, reps, apy_reps, notes)]
    print_text(rows)
    print()
    for s in notes:
        print("note: " + s)
    if args.markdown:
        print()
        print_markdown(rows)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
