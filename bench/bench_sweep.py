"""Benchmark of ``fxsim sweep`` on Dask: a 200-run sweep in this process (the baseline), on a
1-worker and on a 2-worker ``LocalCluster``, measured in one run.

    python bench/bench_sweep.py            # 200 runs of 100 GD iterations (d = 20)
    python bench/bench_sweep.py --quick    # 200 runs of 20 iterations
    python bench/bench_sweep.py --reps 3   # best of 3 (default 2)

Every time is the best of ``--reps`` rounds; the three ways are interleaved round by round (the
machine may be shared), each writing the same store (Parquet parts + the compacted tables), so
the store's cost is in all of them.  The clusters are started before timing (their start-up
time is printed apart).  Before timing, the three tables are checked bit for bit against each
other and a round-to-nearest run against an independent plain-numpy recomputation (``rint`` on
the grid, the step constant rounded to 16 fraction bits, exact products); exit 1 if wrong.

Figures and targets
  overhead per run = (1-worker time - in-process time) / runs: Dask's scheduling, the
                     transfer of each run's description and result     target <= 5 ms
  CPU overhead     = the same in CPU seconds (this process + the workers): less sensitive
                     to a shared machine's load                          target <= 5 ms
  speed-up         = 1-worker time / 2-worker time                     target >= 1.6x
"""
import argparse
import os
import platform
import shutil
import sys
import tempfile
import time

import numpy as np

import fxsim as fx
from fxsim.models import Quadratic
from fxsim.sweep import SweepConfig, run_sweep
from fxsim.sweep.runner import dask_client

D, T, ROOT_SEED = 20, 0.05, 3


def config(iters):
    """200 runs: 4 strategies x 2 sources x 5 step sizes x 5 replicates."""
    return {"sweep": {"seed": ROOT_SEED, "replicates": 5, "record": ["loss", "excess", "moved"]},
            "run": {"model": "quadratic", "model_params": {"d": D, "cond": 10.0},
                    "algorithm_params": {"t": T}, "format": "Q8.8",
                    "accelerator": {"acc": "Q16.16", "eps": 0.2}, "source": "lfsr16",
                    "iterations": iters},
            "axes": {"strategy": ["round-to-nearest", "SR", "SR_eps", "signed-SR_eps"],
                     "source": ["lfsr16", "pcg64"],
                     "algorithm_params.t": [0.02, 0.03, 0.05, 0.07, 0.09]}}


# --------------------------------------------------------------------------- environment
def environment_lines():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    lines = [f"CPU: {cpu}, os.cpu_count()={os.cpu_count()}, usable CPUs={len(os.sched_getaffinity(0))}, "
             "load average %.2f %.2f %.2f" % os.getloadavg()]
    import distributed
    import pyarrow
    lines.append(f"Python {platform.python_version()}, numpy {np.__version__}, distributed "
                 f"{distributed.__version__}, pyarrow {pyarrow.__version__}, fxsim {fx.__version__}")
    env = {k: os.environ[k] for k in sorted(os.environ)
           if k.startswith(("OMP_", "OPENBLAS_", "MKL_", "FXSIM_"))}
    lines.append("env: " + (", ".join(f"{k}={v}" for k, v in env.items()) or "(no thread vars)"))
    lines.append("threads: one Dask thread per worker process; fxsim kernels run single-threaded "
                 "on these sizes (d = 20)")
    try:
        from threadpoolctl import threadpool_info
        for p in threadpool_info():
            lines.append("threadpoolctl: " + ", ".join(
                f"{k}={p[k]}" for k in ("user_api", "internal_api", "version", "num_threads",
                                        "architecture") if k in p))
    except ImportError:
        lines.append("threadpoolctl: not installed")
    return lines


def _process_time():
    return time.process_time()


def cpu_seconds(client=None):
    """CPU seconds used so far by this process and, with a client, by its workers."""
    t = time.process_time()
    if client is not None:
        t += sum(client.run(_process_time).values())
    return t


# --------------------------------------------------------------------------- checks
def numpy_rn_gd(model, x0, t, fl, n):
    """Independent round-to-nearest fixed-point GD on the grid 2^-fl (16-bit words)."""
    q = lambda v: np.clip(np.rint(v * 2.0 ** fl), -2.0 ** 15, 2.0 ** 15 - 1) / 2.0 ** fl  # noqa: E731
    t_q = np.rint(t * 2.0 ** 16) / 2.0 ** 16
    x = q(x0)
    loss = [model.loss(x)]
    for _ in range(n):
        x = q(x - t_q * q(model.A @ (x - model.c)))
        loss.append(model.loss(x))
    return np.array(loss)


def check(tables, iters):
    """The three stores are equal bit for bit, every run is stored once and ok, and one
    round-to-nearest run equals the numpy recomputation; returns a list of problems."""
    bad = []
    files = {name: {k: open(os.path.join(d, f"{k}.parquet"), "rb").read() for k in ("series", "summary")}
             for name, d in tables.items()}
    ref = files["in-process"]
    for name, f in files.items():
        if f != ref:
            bad.append(f"{name}: tables differ from the in-process run")
    import pyarrow.parquet as pq
    summary = pq.read_table(os.path.join(tables["in-process"], "summary.parquet")).to_pylist()
    if len(summary) != 200 or len({r["run_key"] for r in summary}) != 200:
        bad.append(f"expected 200 distinct runs, got {len(summary)}")
    if any(r["status"] != "ok" for r in summary):
        bad.append("a run failed")
    row = next(r for r in summary if r["strategy"] == "round-to-nearest" and r["replicate"] == 2)
    series = pq.read_table(os.path.join(tables["in-process"], "series.parquet"),
                           filters=[("run_key", "=", row["run_key"])])
    model = Quadratic(d=D, cond=10.0)
    gseed = int(np.random.SeedSequence(ROOT_SEED, spawn_key=(row["run_index"], row["replicate"]))
                .generate_state(2, np.uint32)[0])
    x0 = model.x0(np.random.default_rng(np.random.SeedSequence(gseed).spawn(2)[0]))
    if not np.array_equal(np.array(series["loss"].to_pylist()), numpy_rn_gd(model, x0, row["t"], 8, iters)):
        bad.append("a round-to-nearest run differs from the plain-numpy recomputation")
    return bad


# --------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 iterations per run instead of 100")
    ap.add_argument("--reps", type=int, default=2, help="rounds (best of; default 2)")
    args = ap.parse_args(argv)
    iters = 20 if args.quick else 100
    cfg = SweepConfig(config(iters))
    print("\n".join(environment_lines()))
    work = tempfile.mkdtemp(prefix="bench-sweep-")
    t0 = time.perf_counter()
    with dask_client(workers=1) as one:
        one.wait_for_workers(1)
        t_start1 = time.perf_counter() - t0
        t0 = time.perf_counter()
        with dask_client(workers=2) as two:
            two.wait_for_workers(2)
            t_start2 = time.perf_counter() - t0
            ways = [("in-process", dict(serial=True)), ("1 worker", dict(client=one)),
                    ("2 workers", dict(client=two))]
            best = {name: float("inf") for name, _ in ways}
            cpu = {name: float("inf") for name, _ in ways}
            dirs = {}
            for r in range(args.reps):
                k = r % len(ways)
                for name, kw in ways[k:] + ways[:k]:
                    d = os.path.join(work, f"{name.replace(' ', '_')}-{r}")
                    c0 = cpu_seconds(kw.get("client"))
                    t = time.perf_counter()
                    run_sweep(cfg, d, progress=False, **kw)
                    best[name] = min(best[name], time.perf_counter() - t)
                    cpu[name] = min(cpu[name], cpu_seconds(kw.get("client")) - c0)
                    dirs[name] = d
            bad = check(dirs, iters)
    load = "%.2f %.2f %.2f" % os.getloadavg()
    shutil.rmtree(work, ignore_errors=True)
    n = len(cfg.runs)
    overhead = (best["1 worker"] - best["in-process"]) / n
    cpu_overhead = (cpu["1 worker"] - cpu["in-process"]) / n
    speedup = best["1 worker"] / best["2 workers"]
    print(f"\n{n} runs of {iters} GD iterations (quadratic d = {D}, Q8.8, 4 strategies x 2 sources x "
          f"5 step sizes x 5 replicates); best of {args.reps}; cluster start-up: 1 worker "
          f"{t_start1:.1f} s, 2 workers {t_start2:.1f} s (not in the times)")
    print(f"{'way':<12}{'time s':>9}{'ms/run':>9}{'CPU s':>9}{'CPU ms/run':>12}")
    for name, _ in ways:
        print(f"{name:<12}{best[name]:>9.2f}{1e3 * best[name] / n:>9.2f}{cpu[name]:>9.2f}"
              f"{1e3 * cpu[name] / n:>12.2f}")
    rows = [("overhead per run (1 worker - in-process)", f"{1e3 * overhead:.2f} ms",
             "<= 5 ms", overhead <= 5e-3),
            ("CPU overhead per run (client + workers)", f"{1e3 * cpu_overhead:.2f} ms",
             "<= 5 ms", cpu_overhead <= 5e-3),
            ("speed-up 1 -> 2 workers", f"{speedup:.2f}x", ">= 1.6x", speedup >= 1.6)]
    print(f"\n{'figure':<44}{'fxsim':>10}{'target':>10}  result")
    for what, v, target, ok in rows:
        print(f"{what:<44}{v:>10}{target:>10}  {'PASS' if ok else 'FAIL'}")
    print(f"baseline: the same sweep in this process ({best['in-process']:.2f} s); "
          f"ratio 1 worker / in-process = {best['1 worker'] / best['in-process']:.2f}; "
          f"load average at the end {load}")
    if bad:
        print("WRONG RESULTS:\n  " + "\n  ".join(bad))
        return 1
    print("check: the three stores are equal bit for bit; 200 runs stored once; a round-to-nearest "
          "run equals the plain-numpy recomputation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
