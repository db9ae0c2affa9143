"""Running many independent jobs: in this process, on a Dask ``LocalCluster`` or on an
existing Dask cluster (``scheduler=ADDRESS``), and a sweep on top of it (``run_sweep``).

``map_jobs`` is the one runner: the sweeps and the studies (``fxsim gd-study``) hand it their
jobs.  Jobs are pure functions of their arguments, so the results never depend on the number
of workers or on the order they finish in; a job that raises, or whose worker dies, is retried
(``retries``; a killed worker's task is re-run by the scheduler) and then reported, never lost.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
import uuid

from ..studies._report import make_progress
from .config import dump_toml
from .run import SUMMARY_FIELDS, run_one
from .store import Store

__all__ = ["map_jobs", "dask_client", "run_sweep", "default_workers", "batch_size", "THREAD_VARS"]

#: modules the local workers' fork server imports once (see ``dask_client``)
PRELOAD = ("distributed", "fxsim", "fxsim.models", "fxsim.sweep.run", "fxsim.studies.gd_rounding")
#: the thread-count variables Dask would set to 1 in its workers (see ``dask_client``)
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def default_workers() -> int:
    """Worker processes of a local cluster by default: the cores this process may use.

    >>> default_workers() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _start_fork_server():
    """Start multiprocessing's fork server (if not running) with ``PRELOAD`` and with SIGINT
    ignored, which it and the workers it forks inherit: Ctrl-C (SIGINT to the whole process
    group) is for this process, which stops the cluster; a worker never prints a traceback."""
    from multiprocessing import forkserver
    multiprocessing.set_forkserver_preload(list(PRELOAD))
    if threading.current_thread() is not threading.main_thread():
        forkserver.ensure_running()
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, old)


@contextlib.contextmanager
def dask_client(workers=None, scheduler=None, client=None):
    """A ``distributed.Client``: ``client`` itself when given (left open), one connected to
    ``scheduler`` (an address such as ``tcp://host:8786``), else one on a new ``LocalCluster`` of
    ``workers`` processes (default ``default_workers()``) with one thread each, closed at the
    end of the block.  The local workers keep this process's BLAS/OpenMP thread settings, so
    linear algebra rounds in them as it does here; a remote cluster needs the same numpy, BLAS
    and thread settings as the client for tables equal bit for bit to a serial run.

    >>> with dask_client(workers=1) as c:          # doctest: +SKIP
    ...     c.submit(abs, -2).result()
    2
    """
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster
    if scheduler is not None:
        c = Client(scheduler)
        try:
            yield c
        finally:
            c.close()
        return
    import dask
    # Dask sets OMP/MKL/OPENBLAS_NUM_THREADS=1 in its workers; keep this process's settings
    # instead (as a process pool would), so that BLAS/LAPACK results (an eigvalsh, a matmul)
    # round the same way in a worker as here and a table does not depend on where it ran
    keep = {"MALLOC_TRIM_THRESHOLD_": 65536,
            **{k: os.environ[k] for k in THREAD_VARS if k in os.environ}}
    # workers come from a fork server that has imported fxsim and distributed once (2 s instead
    # of 9 s for two workers on a busy 2-core machine); not a plain fork of this process, whose
    # threads (Dask's event loop, pyarrow's pool) may hold a lock at the moment of the fork
    method = "spawn"
    if "forkserver" in multiprocessing.get_all_start_methods():
        method = "forkserver"
        _start_fork_server()
    with dask.config.set({"distributed.nanny.pre-spawn-environ": keep,
                          "distributed.worker.multiprocessing-method": method}):
        # the scheduler first, then the workers in the background (tasks wait for them), so
        # that Ctrl-C while they start finds a cluster to close; the dashboard on a free port
        # (None still means 8787, and a second cluster on the machine then prints a warning)
        cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.CRITICAL)
        try:
            cluster.scale(workers or default_workers())
            c = Client(cluster)
            try:
                yield c
            finally:
                with _no_interrupt():
                    c.close()
        finally:
            with _no_interrupt():
                _close(cluster)


@contextlib.contextmanager
def _no_interrupt():
    """Hold a Ctrl-C back while the cluster closes (a close cut in the middle leaves Dask's
    coroutines and worker processes behind); it is raised right after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got = []
    old = signal.signal(signal.SIGINT, lambda *a: got.append(a))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
    if got:
        raise KeyboardInterrupt


def _close(cluster):
    """Close a local cluster, also one interrupted while its workers start (Dask then fails
    an internal check, which is no reason to hide the interruption)."""
    try:
        cluster.close(timeout=20)
    except Exception:             # noqa: BLE001 - the workers are stopped all the same
        pass


def map_jobs(fn, jobs, *, serial=None, workers=None, scheduler=None, client=None, retries=2,
             name="job", on_workers=None):
    """Yield ``(i, fn(jobs[i]), error)`` for every job as it finishes (``error``: None, or the
    exception of a job that failed ``retries + 1`` times or whose worker kept dying).

    ``serial`` (default: ``workers == 1`` and no ``scheduler``/``client``): in this process, in
    job order; else on Dask (``dask_client``).  ``fn`` must be picklable (a module-level
    function) and each job a pure function of its argument.  ``on_workers``: addresses of the
    cluster's workers the jobs may run on (default any).

    >>> sorted((i, r) for i, r, _ in map_jobs(abs, [-1, 2, -3], workers=1))
    [(0, 1), (1, 2), (2, 3)]
    """
    jobs = list(jobs)
    if serial is None:
        serial = workers == 1 and scheduler is None and client is None
    if serial:
        for i, j in enumerate(jobs):
            yield i, fn(j), None
        return
    from distributed import as_completed
    token = uuid.uuid4().hex[:8]
    with dask_client(workers, scheduler, client) as c:
        futs = c.map(fn, jobs, key=[f"fxsim-{name}-{i}-{token}" for i in range(len(jobs))],
                     pure=False, retries=retries, workers=on_workers, allow_other_workers=False)
        index = {f.key: i for i, f in enumerate(futs)}
        try:
            # results gathered in the background, in batches, as the runs finish
            for fut, res in as_completed(futs, with_results=True, raise_errors=False):
                i = index[fut.key]
                if fut.status == "error":
                    yield i, None, fut.exception()
                else:
                    yield i, res, None
                fut.release()
        finally:
            c.cancel([f for f in futs if not f.done()])


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
