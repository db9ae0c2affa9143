"""Benchmark of the FixedArray operators (issue 19): what an operator costs on top of the
explicit function it calls, on 10-element and 10^6-element arrays.

    python bench/bench_operators.py              # 10 and 10^6 elements
    python bench/bench_operators.py --threads 1  # fxsim on one kernel thread

Each row times the operator form (``a + b``, ``a * b`` under ``fxsim.context``, ``a @ b``,
``a.sum()``, ``-a``, ``abs(a)``) and the explicit call(s) computing it (``fxsim.add(a, b)``, ...;
``a.sum()``: ``fxsim.matvec`` with ones, which it called before it had its own reduction;
``abs(a)``: ``sub``, ``cast`` and ``np.where``, as it was written before), interleaved
round by round (the machine may be shared), best of N.  Every result of both forms is checked
bit for bit against an independent integer computation in numpy (exit 1 if one differs).

Targets
  10 el.     operator - explicit function <= 3 us (a few microseconds per call)
  10^6 el.   operator / explicit function <= 1.05 (the overhead vanishes in the work)
"""
import argparse
import contextlib
import os
import sys

import numpy as np

import fxsim as fx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_datapath import environment_lines, race  # noqa: E402
from bench_small import ref_mul  # noqa: E402   Q(8,8) * Q(8,8) -> Q(8,8), nearest_even, saturate

Q = "Q(8,8)"


def cases(n, rng):
    ra = rng.integers(-128, 128, n, dtype=np.int8)
    rb = rng.integers(-128, 128, n, dtype=np.int8)
    a, b = fx.FixedArray(ra, Q), fx.FixedArray(rb, Q)
    wa, wb = ra.astype(np.int64), rb.astype(np.int64)
    ones = fx.FixedArray(np.ones(n, np.uint8), "UQ(1,0)")
    zero = fx.FixedArray(0, "Q(1,8)")
    return [
        ("a + b", lambda: a + b, lambda: fx.add(a, b), wa + wb),
        ("a - b", lambda: a - b, lambda: fx.sub(a, b), wa - wb),
        ("a * b", lambda: a * b, lambda: fx.mul(a, b), wa * wb),
        ("a * b in context", lambda: a * b,
         lambda: fx.mul(a, b, Q, "nearest_even", "saturate"), ref_mul(ra, rb)),
        ("-a", lambda: -a, lambda: fx.sub(zero, a), -wa),
        ("abs(a)", lambda: abs(a), lambda: abs_explicit(a, zero), np.abs(wa)),
        ("a @ b", lambda: a @ b, lambda: fx.dot(a, b), np.array(int(np.dot(wa, wb)))),
        ("a.sum()", lambda: a.sum(), lambda: fx.matvec(a.reshape(1, -1), ones).reshape(()),
         np.array(int(wa.sum()))),
    ]


def abs_explicit(a, zero):
    """|a| from explicit calls: where(a < 0, 0 - a, a cast exactly into the format of 0 - a)."""
    neg = fx.sub(zero, a)
    pos = fx.cast(a, neg.fmt, "floor", "error")
    return fx.FixedArray(np.where(a.raw < 0, neg.raw, pos.raw), neg.fmt)


def words_ok(res, want):
    return res.raw.shape == want.shape and np.array_equal(res.raw.astype(object),
                                                          want.astype(object))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=None, help="fxsim kernel threads")
    ap.add_argument("--reps", type=int, default=2000, help="rounds for 10 elements")
    args = ap.parse_args(argv)
    if args.threads:
        fx.set_num_threads(args.threads)
    for line in environment_lines():
        print(line)
    f = lambda: None                                          # noqa: E731
    t_call = race([("call", f)], 20000)["call"][0]
    print(f"an empty Python call takes {t_call * 1e9:.0f} ns here (about 30-40 ns on an idle "
          "core): the overhead column scales with it")
    rng = np.random.default_rng(19)
    wrong = False
    print(f"\n{'operation':<18}{'elements':>9}{'operator':>12}{'explicit':>12}"
          f"{'overhead':>11}{'ratio':>8}  target")
    for n, reps in ((10, args.reps), (10**6, max(5, args.reps // 200))):
        for name, op, fn, want in cases(n, rng):
            # the context row: one `with` around the loop, as a user writes it (the explicit
            # function ignores it)
            with fx.context(result=Q, rounding="nearest_even", overflow="saturate") \
                    if name.endswith("context") else contextlib.nullcontext():
                r = race([("op", op), ("fn", fn)], reps)
            (t_op, res_op), (t_fn, res_fn) = r["op"], r["fn"]
            ok = words_ok(res_op, want) and words_ok(res_fn, want)
            wrong |= not ok
            if n == 10:
                good, target = t_op - t_fn <= 3e-6, "over <= 3 us"
            else:
                good, target = t_op <= 1.05 * t_fn, "ratio <= 1.05"
            unit, scale = ("us", 1e6) if n == 10 else ("ms", 1e3)
            print(f"{name:<18}{n:>9}{t_op * scale:>9.2f} {unit}{t_fn * scale:>9.2f} {unit}"
                  f"{(t_op - t_fn) * 1e6:>8.2f} us{t_op / t_fn:>8.3f}  {target} "
                  f"{'PASS' if good else 'FAIL'}{'' if ok else '  WORDS WRONG'}")
    print("\nwords checked against numpy integer arithmetic: " + ("FAILED" if wrong else "all equal"))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
