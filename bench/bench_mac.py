"""Benchmark of fxsim's MAC kernels (dot, matvec, matmul with a rounding accumulator), measured
in one run against float64 BLAS and against the bit-identical per-k numpy loop.

    python bench/bench_mac.py              # matmul 512x512, matvec 2048x2048, dot 2^16
    python bench/bench_mac.py --quick      # matmul 256x256, matvec 1024x1024, dot 2^14
    python bench/bench_mac.py --threads 1  # fxsim on one kernel thread
    python bench/bench_mac.py --markdown   # also print a markdown table (bench/README.md)

Inputs are Q(8,8) words (as in bench_datapath.py), products exact at fl 16. Every time is the
best of several repetitions, fxsim and its baselines interleaved round by round (the machine
may be shared), then both fxsim and BLAS get the best of back-to-back calls too (warm
threads). Before timing counts, fxsim's words are checked bit for bit against the per-k
numpy loop, which is the spec §4 recurrence written in int64 numpy operations:

    for k in range(K): acc = round_and_saturate((acc << sa) + a[:, k, None] * b[None, k, :])

With a stochastic accumulator the loop consumes the same draws, taken beforehand in the spec's
order (element-major, k ascending) from an independent copy of the stream (numpy's own PCG64
for the ideal source), so it is bit-identical; the source's final position is checked too.

Cases and targets (fxsim/BLAS: fxsim's time over float64 np.matmul's on arrays of the same
shapes: dgemm, dgemv, ddot)
  RN   Q(16,8) nearest_even saturating accumulator    fxsim/BLAS <= 20, loop/fxsim >= 5
  SR   Q(16,8) stochastic r=16 (lfsr32, pcg64)         fxsim/BLAS <= 40, loop/fxsim >= 5
  sat  Q(24,16) saturating accumulator (no rounding)   fxsim/BLAS <= 10 (matmul only)
"""
import argparse
import os
import sys

import numpy as np

import fxsim as fx
from bench_datapath import (best_of, environment_lines, fmt_ms, fmt_ratio, print_markdown_table,
                            print_table, race)

Q88 = fx.QFormat(8, 8, True)
R_BITS = 16


class Row:
    def __init__(self, op, size, t_fx, t_blas, t_loop, max_blas, min_loop, ok, note=""):
        self.op, self.size, self.t_fx, self.t_blas, self.t_loop = op, size, t_fx, t_blas, t_loop
        self.max_blas, self.min_loop, self.ok, self.note = max_blas, min_loop, ok, note

    def cells(self):
        vs_blas = self.t_fx / self.t_blas
        vs_loop = None if self.t_loop is None else self.t_loop / self.t_fx
        good = self.ok and vs_blas <= self.max_blas and (vs_loop is None or vs_loop >= self.min_loop)
        target = f"fx/BLAS <= {self.max_blas}" + ("" if vs_loop is None else f", loop/fx >= {self.min_loop}")
        verdict = "FAIL (wrong bits)" if not self.ok else ("PASS" if good else "FAIL")
        return [self.op, self.size, fmt_ms(self.t_fx), fmt_ms(self.t_blas), fmt_ms(self.t_loop),
                fmt_ratio(vs_blas), fmt_ratio(vs_loop), target, verdict]


HEADER = ["operation", "size", "fxsim ms", "BLAS f64 ms", "per-k loop ms", "fxsim/BLAS",
          "loop/fxsim", "target", "result"]


def warm_time(raced, fn, reps):
    """The best of the interleaved time and that of back-to-back calls (warm threads: a lone
    call after the long numpy loop can wait for its sleeping threads to be scheduled); given
    alike to fxsim and to BLAS."""
    return min(raced, best_of(fn, reps)[0])


def inputs(m, k, n, seed):
    rng = np.random.default_rng(seed)
    return (rng.integers(-128, 128, (m, k), dtype=np.int8),
            rng.integers(-128, 128, (k, n), dtype=np.int8))


def per_k_loop(a, b, sa, lo, hi, R=None, r=R_BITS):
    """The spec §4 recurrence in int64 numpy, k ascending: nearest_even (R None) or stochastic
    ('trunc' rule, R[k] the draws of step k, sa <= r) rounding by sa bits, then saturation."""
    a64, b64 = a.astype(np.int64), b.astype(np.int64)
    acc = np.zeros((a.shape[0], b.shape[1]), np.int64)
    mask, half = (1 << sa) - 1, 1 << (sa - 1)
    for k in range(a.shape[1]):
        v = (acc << sa) + a64[:, k, None] * b64[None, k, :]
        q, rem = v >> sa, v & mask
        if R is None:
            up = (rem > half) | ((rem == half) & (q & 1 == 1))
        else:
            up = (rem != 0) & ((rem << (r - sa)) + R[k] >= 1 << r)
        acc = np.clip(q + up, lo, hi)
    return acc


def by_step(draws, m, n, k):
    """Draws in spec order (element-major, k ascending) regrouped per step: [k][i, j]."""
    return np.ascontiguousarray(draws.reshape(m, n, k).transpose(2, 0, 1).astype(np.uint16))


def lfsr_source():
    return fx.make_source("lfsr32", seed=1)


def pcg_source():
    return fx.Ideal("pcg64", seed=7)


def case(op, a, b, mode, reps, notes, fx_op, shape_name):
    """One row: fxsim's op on (a, b) with a Q(16,8) accumulator (mode 'rn', 'lfsr', 'pcg')."""
    m, k = a.shape
    n = b.shape[1]
    acc = fx.QFormat(16, 8, True)
    sa, lo, hi = 8, acc.min_raw, acc.max_raw
    A = fx.FixedArray(a if op != "dot" else a[0], Q88)
    Bx = fx.FixedArray(b if op == "matmul" else b[:, 0], Q88)
    # BLAS on float64 arrays of the shapes fxsim gets (dgemm, dgemv, ddot)
    af, bf = np.asarray(A.to_float()), np.asarray(Bx.to_float())
    R = None
    state_ok = True
    if mode == "rn":
        def run():
            return fx_op(A, Bx, acc=acc, rounding="nearest_even", overflow="saturate")
    else:
        make = lfsr_source if mode == "lfsr" else pcg_source

        def run():
            return fx_op(A, Bx, acc=acc, rounding="stochastic", r=R_BITS, overflow="saturate",
                         source=make())
        total = m * n * k
        if mode == "lfsr":
            ref_src = lfsr_source()
            R = by_step(ref_src.draws(total, R_BITS), m, n, k)
            want_state = ref_src.state
        else:
            bg = np.random.PCG64(7)                       # numpy's own stream, not fxsim's
            R = by_step(bg.random_raw(total) >> np.uint64(64 - R_BITS), m, n, k)
            want_state = bg.state
        src = make()
        fx_op(A, Bx, acc=acc, rounding="stochastic", r=R_BITS, overflow="saturate", source=src)
        got_state = src.state if mode == "lfsr" else src.bit_generator.state
        state_ok = got_state == want_state
        if not state_ok:
            notes.append(f"{op} {mode}: the source's final position differs from {total} draws")
    timed = race([("fx", run), ("blas", lambda: np.matmul(af, bf)),
                  ("loop", lambda: per_k_loop(a, b, sa, lo, hi, R))], reps)
    res = timed["fx"][1]
    want = timed["loop"][1]
    ok = state_ok and res.fmt == acc and np.array_equal(
        np.asarray(res.raw).reshape(-1).astype(np.int64), want.reshape(-1))
    if not ok:
        notes.append(f"{op} {mode}: fxsim's words differ from the per-k numpy loop")
    name = {"rn": "RN", "lfsr": "SR lfsr32 r=16", "pcg": "SR pcg64 r=16"}[mode]
    return Row(f"{op} Q(8,8), Q(16,8) {name}", shape_name, warm_time(timed["fx"][0], run, reps),
               warm_time(timed["blas"][0], lambda: np.matmul(af, bf), 10 * reps),
               timed["loop"][0], 20 if mode == "rn" else 40, 5, ok)


def case_sat(m, reps, notes):
    a, b = inputs(m, m, m, 3)
    a[:4, :], b[:, :4] = -128, -128        # 16 outputs saturate (m = 512), as bench_datapath
    acc = fx.QFormat(24, 16, True)
    A, B = fx.FixedArray(a, Q88), fx.FixedArray(b, Q88)
    af, bf = a / 256.0, b / 256.0
    timed = race([("fx", lambda: fx.matmul(A, B, acc=acc, overflow="saturate")),
                  ("blas", lambda: np.matmul(af, bf))], reps)
    s = np.zeros((m, m), np.int64)
    a64, b64 = a.astype(np.int64), b.astype(np.int64)
    for k in range(m):
        s += a64[:, k, None] * b64[None, k, :]
        np.clip(s, acc.min_raw, acc.max_raw, out=s)
    ok = np.array_equal(np.asarray(timed["fx"][1].raw).astype(np.int64), s)
    if not ok:
        notes.append("matmul sat: fxsim's words differ from the per-step saturating sum")
    return Row("matmul Q(8,8), Q(24,16) sat acc", f"{m}^3",
               warm_time(timed["fx"][0], lambda: fx.matmul(A, B, acc=acc, overflow="saturate"), reps),
               warm_time(timed["blas"][0], lambda: np.matmul(af, bf), 10 * reps), None, 10, None, ok)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller shapes")
    ap.add_argument("--markdown", action="store_true", help="also print a markdown table")
    ap.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    ap.add_argument("--threads", type=int, default=None,
                    help="fxsim kernel threads (fxsim.set_num_threads; default: fxsim's own)")
    ap.add_argument("--only", default=None, help="run only the rows whose name contains this")
    args = ap.parse_args(argv)
    if args.threads is not None:
        fx.set_num_threads(args.threads)
    mm, mv, nd = (256, 1024, 1 << 14) if args.quick else (512, 2048, 1 << 16)

    for line in environment_lines():
        print(line)
    print(f"best of {args.reps} repetitions, times in ms\n")

    notes = []
    a, b = inputs(mm, mm, mm, 3)
    av, xv = inputs(mv, mv, 1, 4)
    ad, bd = inputs(1, nd, 1, 5)
    plan = [(f"matmul {mode}", lambda mode=mode: case("matmul", a, b, mode, args.reps, notes,
                                                      fx.matmul, f"{mm}^3"))
            for mode in ("rn", "lfsr", "pcg")]
    plan.append(("matmul sat", lambda: case_sat(mm, args.reps, notes)))
    plan += [(f"matvec {mode}", lambda mode=mode: case("matvec", av, xv, mode, args.reps, notes,
                                                       fx.matvec, f"{mv}^2"))
             for mode in ("rn", "pcg")]
    plan += [(f"dot {mode}", lambda mode=mode: case("dot", ad, bd, mode, args.reps, notes,
                                                    fx.dot, f"2^{nd.bit_length() - 1}"))
             for mode in ("rn", "pcg")]
    rows = [run() for name, run in plan if args.only is None or args.only in name]

    body = [r.cells() for r in rows]
    print_table(HEADER, body)
    print("\nload average after the run: %.2f %.2f %.2f" % os.getloadavg())
    for s in notes:
        print("note: " + s)
    if args.markdown:
        print()
        print_markdown_table(HEADER, body)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
