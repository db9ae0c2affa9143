"""Command line: ``fxsim demo`` (the default) shows the datapath at work."""
from __future__ import annotations

import argparse
import sys

import numpy as np


def demo(args) -> int:
    import fxsim
    from fxsim import QFormat, cast

    print(f"fxsim {fxsim.__version__}: a bit-accurate fixed-point datapath\n")
    f = QFormat.parse("Q4.4")
    print(f"Format {f} = {f!r}: raw range [{f.min_raw}, {f.max_raw}], values [{f.min}, {f.max}], "
          f"lsb {f.lsb}, container {f.dtype}\n")

    x = np.array([0.40625, -0.40625, 0.03125, -0.09375, 7.97, -9.0])
    print(f"x = {x.tolist()}")
    print(f"{'rounding':<16}" + "".join(f"{v:>10}" for v in x))
    for mode in fxsim.DETERMINISTIC:
        y = cast(x, f, mode, "saturate")
        print(f"{mode:<16}" + "".join(f"{v:>10}" for v in y.to_float()))
    print("\nOverflow of 7.97 and -9.0 into Q4.4:")
    for ovf in ("saturate", "saturate_symmetric", "wrap"):
        y = cast(x[-2:], f, "nearest_even", ovf)
        print(f"  {ovf:<20} {y.to_float().tolist()}  bits {y.to_bin().tolist()}")

    print("\nStochastic rounding of 0.40625 (= 6.5 LSB) with r = 4 bits, every draw R = 0..15:")
    draws = np.arange(16, dtype=np.uint64)
    y = cast(np.full(16, 0.40625), f, "stochastic", r=4, draws=draws)
    print(f"  raw results {y.raw.tolist()} -> mean {y.raw.mean():.4f} LSB (exact 6.5)")

    print("\nA saturating MAC: 64 products of Q(8,8) words into a Q(8,10) accumulator (range [-0.125, 0.125))")
    rng = np.random.default_rng(args.seed)
    a = cast(rng.uniform(-0.5, 0.5, 64), QFormat(8, 8))
    b = cast(rng.uniform(-0.5, 0.5, 64), QFormat(8, 8))
    with fxsim.Counters() as c:
        exact = fxsim.dot(a, b)
        sat = fxsim.dot(a, b, acc=QFormat(8, 10), rounding="nearest_even", overflow="saturate")
    print(f"  exact {float(exact):+.8f} ({exact.fmt}),  saturating accumulator {float(sat):+.8f} ({sat.fmt})")
    print("\nCounters for those operations:\n" + c.summary())
    print(f"\nBit view: {sat.format(bits=True)};  bitstring: {sat.bits().bin}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fxsim", description=__doc__)
    sub = parser.add_subparsers(dest="cmd")
    p = sub.add_parser("demo", help="show formats, every rounding and overflow mode, SR and a MAC")
    p.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.cmd in (None, "demo"):
        if args.cmd is None:
            args.seed = 1
        return demo(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
