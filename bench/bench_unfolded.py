"""Benchmark of one GD step of the default LISTA of ``fxsim unfolded-study`` (K = 3, m = 8,
n = 32, T = 2 training pairs, 2816 weights), fully emulated on the datapath (Q(16,12) weights,
gradients and activations, Q(32,24) accumulator, σ by table + interpolation, round-to-nearest),
against the same step in float64 numpy (forward, backward, update).  The emulated forward and
backward pass runs in one fused call (``fxsim.models.unfolded_fused``; words, counters and draws
equal to the composed fxsim calls, which ``fused=False`` runs).

    python bench/bench_unfolded.py

Target (issue 14.5): the emulated step costs <= 5x the float64 step.  Both are timed in the same
run, interleaved, best of several repetitions, after a warm-up.  Check: the words of layer 1
of the emulated forward pass (P = cast_RN(Y W1ᵀ) in Q(16,12)) against a numpy int64
re-implementation (exact products, round half to even by integer arithmetic, saturation);
exit 1 if one word differs.
"""
import os
import sys
import time

import numpy as np

from fxsim.optim import GD
from fxsim.studies.unfolded import make_accelerator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_datapath import environment_lines  # noqa: E402

N, T, STEP = 32, 2, 0.05          # the study's default LISTA and its step 1.6/n


def layer1_words(model, x, fl_w=12, fl_a=12, fl_acc=24):
    """P of layer 1 in int64: Y_q W1_qᵀ (exact at fl_w + fl_a), then to fl_a, half to even."""
    wq = np.rint(x * 2.0 ** fl_w).astype(np.int64)
    W1 = wq[:model.n * model.m].reshape(model.n, model.m)
    Yq = np.rint(model.data.Y * 2.0 ** fl_a).astype(np.int64)
    acc = Yq @ W1.T                                        # fl_w + fl_a = fl_acc: exact
    s = fl_acc - fl_a
    q, r = acc >> s, acc & ((1 << s) - 1)
    half = 1 << (s - 1)
    q = q + ((r > half) | ((r == half) & (q & 1 == 1)))
    return np.clip(q, -2 ** 15, 2 ** 15 - 1)


def best_interleaved(fns, reps):
    for f in fns:
        f()
    best = [float("inf")] * len(fns)
    for _ in range(reps):
        for i, f in enumerate(fns):
            t0 = time.perf_counter()
            f()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def one_size(n, T, reps):
    """(float64 ms, fxsim ms, layer-1 words checked) of one LISTA size; None if a word differs."""
    from fxsim.models.sparse_data import make_sparse_recovery
    from fxsim.models.unfolded import LISTA
    model = LISTA(make_sparse_recovery(m=8, n=n, s=2, n_train=T, n_test=10, seed=1), K=3)
    accel = make_accelerator("round-to-nearest", "lfsr16", 1)
    gd = GD(model, accel, STEP, mode="emulated", x0=model.x0())
    cache, _ = model.fx_forward(gd.x, accel)
    want = layer1_words(model, gd.x.to_float())
    if not np.array_equal(cache[0][0].raw.astype(np.int64), want):
        return None
    xf = gd.x.to_float()

    def float_step():
        nonlocal xf
        xf = xf - STEP * model.grad(xf)

    t_np, t_fx = best_interleaved([float_step, lambda: gd.step(record=False)], reps)
    return t_np, t_fx, want.size, model.dim


def main(reps=30):
    for line in environment_lines():
        print(line)
    print(f"\nLISTA K=3, m=8, one GD step, best of {reps}, interleaved; the target applies to the "
          f"study's default (n={N}, T={T})\n")
    print("one thread each: fxsim.set_num_threads(1), threadpool_limits(1) for numpy's BLAS\n")
    print(f"{'n':>4}{'T':>6}{'weights':>9}{'float64 ms':>12}{'fxsim ms':>10}{'ratio':>8}"
          f"{'words ok':>10}   target <= 5x")
    status = 0
    import fxsim
    from threadpoolctl import threadpool_limits
    fxsim.set_num_threads(1)
    for n, T_ in ((N, T), (64, 256)):
        with threadpool_limits(1):
            r = one_size(n, T_, reps)
        if r is None:
            print(f"WRONG: layer-1 words of n={n}, T={T_} differ from the int64 re-implementation")
            return 1
        t_np, t_fx, words, dim = r
        ratio = t_fx / t_np
        verdict = ("PASS" if ratio <= 5 else "FAIL") if (n, T_) == (N, T) else "(context)"
        print(f"{n:>4}{T_:>6}{dim:>9}{t_np * 1e3:>12.3f}{t_fx * 1e3:>10.3f}{ratio:>7.1f}x"
              f"{words:>10}   {verdict}")
    print("load average %.2f %.2f %.2f" % os.getloadavg())
    return status


if __name__ == "__main__":
    sys.exit(main())
