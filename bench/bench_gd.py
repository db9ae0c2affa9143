"""Benchmark of one gradient-descent iteration of the 4-layer MLP on scikit-learn's digits,
fully emulated on the fixed-point datapath, against the same iteration in float64 numpy.

    python bench/bench_gd.py

Target (issue 4): one fully emulated iteration with Q(16,8) weights, gradients and activations
and a Q(32,16) accumulator costs <= 5x the float64 iteration (forward, backward, update).
Both are timed in the same run, best of several repetitions, after a warm-up.
"""
import os
import sys
import time

import numpy as np

import fxsim
from fxsim.accelerator import Accelerator
from fxsim.models import MLP
from fxsim.optim import GD

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_datapath import environment_lines  # noqa: E402


def best(fn, reps):
    fn()
    t = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def main(reps=15):
    for line in environment_lines():
        print(line)
    model = MLP()
    lr = 0.1
    x = model.x0()
    accel = Accelerator(weights="Q(16,8)", grads="Q(16,8)", acts="Q(16,8)", acc="Q(32,16)")
    gd = GD(model, accel, lr, mode="emulated", x0=x)

    xf = x.copy()

    def float_iter():
        nonlocal xf
        xf = xf - lr * model.grad(xf)

    t_np = best(float_iter, reps)
    t_fx = best(lambda: gd.step(record=False), reps)
    ratio = t_fx / t_np
    print(f"\nMLP {model.sizes if hasattr(model, 'sizes') else ''} on digits "
          f"({model.n_samples} samples, {model.dim} parameters), best of {reps}\n")
    print(f"{'iteration':<48}{'ms':>10}")
    print(f"{'float64 numpy (forward, backward, update)':<48}{t_np * 1e3:>10.2f}")
    print(f"{'fxsim fully emulated, Q(16,8) / Q(32,16) acc':<48}{t_fx * 1e3:>10.2f}")
    print(f"\nfxsim / float64 = {ratio:.2f}x   target <= 5x   {'PASS' if ratio <= 5 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
