"""Benchmark of one gradient-descent iteration of the 4-layer MLP on scikit-learn's digits,
fully emulated on the fixed-point datapath, against the same iteration in float64 numpy.

    python bench/bench_gd.py

Target (issue 4): one fully emulated iteration with Q(16,8) weights, gradients and activations
and a Q(32,16) accumulator costs <= 5x the float64 iteration (forward, backward, update).
Target (issue 13.5): the iteration with its history record (``step()``: the float64 loss and
gradient after the fxsim step) costs <= 1.2x its parts timed apart (``step(record=False)``, then
the float64 gradient and loss): fxsim's OpenMP team and numpy's BLAS threads alternate on the
same cores, and a team that spins after its work slows the other (``OMP_WAIT_POLICY=passive``,
set before Python starts, stops the spinning; see the README).
All are timed in the same run, interleaved, best of several repetitions, after a warm-up.
"""
import os
import sys
import time

import numpy as np

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
    rec = GD(model, accel, lr, mode="emulated", x0=x)
    part = GD(model, accel, lr, mode="emulated", x0=x)
    t_rec = t_parts = t_f64 = float("inf")
    for _ in range(reps):          # interleaved, so that a burst of load hits both alike
        t0 = time.perf_counter()
        rec.step()
        t_rec = min(t_rec, time.perf_counter() - t0)
        t0 = time.perf_counter()
        part.step(record=False)
        t1 = time.perf_counter()
        xp = part.x.to_float()
        model.grad(xp), model.loss(xp)
        t2 = time.perf_counter()
        t_parts = min(t_parts, t1 - t0)
        t_f64 = min(t_f64, t2 - t1)
    if not np.array_equal(rec.x.raw, part.x.raw):
        print("WRONG: the recorded and the unrecorded runs differ")
        return 1
    r_rec = t_rec / (t_parts + t_f64)
    print(f"\nMLP {model.sizes if hasattr(model, 'sizes') else ''} on digits "
          f"({model.n_samples} samples, {model.dim} parameters), best of {reps}\n")
    print(f"{'iteration':<48}{'ms':>10}")
    print(f"{'float64 numpy (forward, backward, update)':<48}{t_np * 1e3:>10.2f}")
    print(f"{'fxsim fully emulated, Q(16,8) / Q(32,16) acc':<48}{t_fx * 1e3:>10.2f}")
    print(f"{'fxsim step with history record':<48}{t_rec * 1e3:>10.2f}")
    print(f"{'its parts apart: step(record=False)':<48}{t_parts * 1e3:>10.2f}")
    print(f"{'           + float64 gradient and loss':<48}{t_f64 * 1e3:>10.2f}")
    print(f"\nfxsim / float64 = {ratio:.2f}x   target <= 5x   {'PASS' if ratio <= 5 else 'FAIL'}")
    print(f"record / parts = {r_rec:.2f}x   target <= 1.2x   {'PASS' if r_rec <= 1.2 else 'FAIL'}")
    print("load average %.2f %.2f %.2f" % os.getloadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
