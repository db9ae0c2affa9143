"""Benchmark of the low-precision samplers: chain-steps per second of 1-D SGHMC LP-L (Q(8,4),
SR with ideal PCG64 bits, r = 16) on three paths, measured in the same run:

* the fused kernel (``fxsim._samplers``: blocks of steps, normals and bit draws made per block),
* the per-step path (three ``fxsim.cast`` calls per step, vectorized across the chains),
* a float64 numpy SGHMC with the same integrator (no quantization, per step).

    python bench/bench_samplers.py

Target (issue 6, point 5): 100 chains × 10^5 steps of 1-D SGHMC LP-L in ≤ 3 s.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_datapath import environment_lines  # noqa: E402

from fxsim.samplers import SGHMC, Gaussian  # noqa: E402


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(chains=100, steps=100_000):
    for line in environment_lines():
        print(line)
    g = Gaussian()
    lpl = SGHMC(g, eta=0.05, gamma=2.0, u=2.0, variant="lpl", fmt="Q(8,4)", r=16)
    fp = SGHMC(g, eta=0.05, gamma=2.0, u=2.0, variant="fp")
    lpl.run(chains, 200, seed=0)                                         # warm-up
    rows = []
    t = min(timed(lambda: lpl.run(chains, steps, seed=0, fast=True, block=2048)) for _ in range(3))
    rows.append(("fused kernel (fxsim._samplers)", steps, t))
    n_ref = 2000
    t = timed(lambda: lpl.run(chains, n_ref, seed=0, fast=False))
    rows.append(("per-step fxsim.cast path", n_ref, t))
    n_fp = 20_000
    t = timed(lambda: fp.run(chains, n_fp, seed=0, fast=False))
    rows.append(("float64 numpy SGHMC (no quantization)", n_fp, t))
    print(f"\n1-D SGHMC LP-L, Q(8,4), {chains} chains (best of 3 for the kernel)\n")
    print(f"{'path':<42}{'steps':>8}{'s':>9}{'chain-steps/s':>16}")
    for name, n, t in rows:
        print(f"{name:<42}{n:>8}{t:>9.3f}{chains * n / t:>16.3e}")
    t_k = rows[0][2]
    print(f"\n{chains} chains × {steps} steps on the kernel: {t_k:.2f} s   target <= 3 s   "
          f"{'PASS' if t_k <= 3 else 'FAIL'}")
    rate = [n / t for _, n, t in rows]
    print(f"kernel vs per-step path: {rate[0] / rate[1]:.0f}x faster; vs float64 numpy: "
          f"{rate[0] / rate[2]:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
