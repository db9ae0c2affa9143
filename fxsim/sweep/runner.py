"""A sweep on the job runner (``run_sweep`` over ``jobs.map_jobs``: in this process, on a Dask
``LocalCluster`` or on an existing Dask cluster).  ``map_jobs``, ``dask_client`` and
``default_workers`` live in ``fxsim.sweep.jobs`` (the studies use them too) and are re-exported
here.
"""
from __future__ import annotations

import contextlib
import os
import time

from ..studies._report import make_progress
from .config import dump_toml
from .jobs import THREAD_VARS, dask_client, default_workers, map_jobs
from .run import SUMMARY_FIELDS, run_one
from .store import Store

__all__ = ["map_jobs", "dask_client", "run_sweep", "default_workers", "batch_size", "THREAD_VARS"]


def _run_batch(job):
    """One Dask task: several runs in turn (``fn`` over ``runs``)."""
    fn, runs = job
    return [fn(r) for r in runs]


def batch_size(n_runs: int, n_workers: int) -> int:
    """Runs per Dask task by default: about 10 tasks per worker, at most 16 runs each (a task
    costs the scheduler 0.2-1 ms on an idle machine, 25 ms on a loaded one).

    >>> batch_size(200, 2), batch_size(10, 2), batch_size(100000, 64)
    (10, 1, 16)
    """
    return max(1, min(16, n_runs // (10 * max(1, n_workers))))


def _failed(run, error):
    summary = {k: None for k in SUMMARY_FIELDS}
    summary.update(status="failed", error=f"{type(error).__name__}: {error}")
    return {"key": run["key"], "series": None, "summary": summary}


def run_sweep(config, out_dir, *, workers=None, scheduler=None, client=None, serial=False,
              resume=False, progress=True, retries=2, run_fn=run_one, on_workers=None,
              batch=None) -> dict:
    """Run the sweep ``config`` (a ``SweepConfig``) into the store ``out_dir`` (``Store``) and
    return {"series", "summary" (pyarrow tables), "ran", "skipped", "failed", "seconds",
    "files"}.

    Runs go to Dask (a local cluster of ``workers`` processes, ``scheduler`` ADDRESS or an open
    ``client``) or, with ``serial=True``, run in this process.  Each result is stored as it
    arrives; ``resume=True`` skips the runs already stored (failed runs run again); without
    it, ``out_dir`` must not hold a sweep yet.  ``on_workers``: the cluster's workers to use
    (``map_jobs``); ``batch``: runs per Dask task (default ``batch_size``: the result of each
    run is still stored on its own, and a task whose worker dies runs again whole); ``run_fn``
    replaces ``run_one`` (tests).

    >>> import tempfile
    >>> from fxsim.sweep.config import SweepConfig, example
    >>> cfg = SweepConfig(dict(example(), axes={"strategy": ["SR"]}))
    >>> res = run_sweep(cfg, tempfile.mkdtemp(), serial=True, progress=False)
    >>> res["ran"], res["failed"], res["summary"].num_rows
    (3, 0, 3)
    """
    out_dir = os.fspath(out_dir)
    store_dir = os.path.join(out_dir, "parts")
    if not resume and os.path.isdir(store_dir) and os.listdir(store_dir):
        raise ValueError(f"--out {out_dir}: holds a sweep already; add --resume to complete it "
                         f"(runs stored are skipped), or choose another folder")
    store = Store(out_dir, config)
    with open(os.path.join(out_dir, "sweep.toml"), "w") as fh:
        fh.write(dump_toml(config.data, f"fxsim sweep: {config.where}"))
    done = store.stored(ok_only=True) if resume else set()
    todo = [r for r in config.runs if r["key"] not in done]
    t0 = time.perf_counter()
    bar = make_progress(len(todo), "sweep", progress)
    failed = 0
    try:
        with dask_client(workers, scheduler, client) if not serial else contextlib.nullcontext() as c:
            if serial:
                groups = [[r] for r in todo]
                results = ((i, [run_fn(g[0])], None) for i, g in enumerate(groups))
            else:
                n_workers = len(on_workers) if on_workers else len(c.nthreads()) or 1
                k = batch or batch_size(len(todo), n_workers)
                groups = [todo[i:i + k] for i in range(0, len(todo), k)]
                results = map_jobs(_run_batch, [(run_fn, g) for g in groups], client=c,
                                   retries=retries, name="runs", on_workers=on_workers)
            for i, res, err in results:
                for j, run in enumerate(groups[i]):
                    out = _failed(run, err) if err is not None else res[j]
                    failed += out["summary"]["status"] != "ok"
                    store.write(run, out)
                    bar.update(1, f"failed {failed}" if failed else "")
    finally:
        bar.close()
    series, summary = store.compact()
    return {"series": series, "summary": summary, "ran": len(todo),
            "skipped": len(config.runs) - len(todo), "failed": failed,
            "seconds": time.perf_counter() - t0,
            "files": {k: os.path.join(out_dir, f"{k}.parquet") for k in ("series", "summary")}}
