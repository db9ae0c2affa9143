"""Running many independent jobs (``map_jobs``): in this process, on a Dask ``LocalCluster`` or
on an existing Dask cluster (``scheduler=ADDRESS``).  The one runner of the sweeps
(``fxsim.sweep.runner.run_sweep``) and of every study (``fxsim.studies._report.run_jobs``, and
``gd-study``).  Jobs are pure functions of their arguments, so the results never depend on the
number of workers or on the order they finish in; a job that raises, or whose worker dies, is
retried (``retries``; a killed worker's task is re-run by the scheduler) and then reported,
never lost.  Imports nothing of fxsim, so every layer above may use it.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import uuid

__all__ = ["map_jobs", "dask_client", "default_workers", "THREAD_VARS", "PRELOAD"]

#: modules the local workers' fork server imports once (see ``dask_client``)
PRELOAD = ("distributed", "fxsim", "fxsim.models", "fxsim.sweep.run", "fxsim.studies.gd_rounding")
#: Dask's periodic bookkeeping made rarer on a local cluster: the event-loop tick (20 ms by
#: default; only the "event loop blocked" warning uses it), the system monitor (500 ms) and the
#: workers' statistical profiler (a sampling thread per worker, for the dashboard's profile
#: page).  Idle, the client's process spends half the CPU with these (0.10-0.12 s instead of
#: 0.22-0.26 s per 8 s, a 1-worker cluster kept busy 8 s at load 24, session 8); results are
#: unchanged.
QUIET = {"distributed.admin.tick.interval": "1s", "distributed.admin.system-monitor.interval": "2s",
         "distributed.worker.profile.enabled": False}
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
                          "distributed.worker.multiprocessing-method": method, **QUIET}):
        # the scheduler first, then the workers in the background (tasks wait for them), so
        # that Ctrl-C while they start finds a cluster to close; the dashboard on a free port
        # (None still means 8787, and a second cluster on the machine then prints a warning)
        cluster = c = None
        try:
            # a cluster or Client cut by Ctrl-C while they start is left half built (closed
            # only at exit, or never): their start is waited for and the interruption raised
            # right after, when there is a cluster to close
            with _no_interrupt():
                cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.CRITICAL)
                cluster.scale(workers or default_workers())
                c = Client(cluster)
            yield c
        finally:
            if c is not None:
                with _no_interrupt():
                    try:
                        # bounded (Dask's default is twice the connect timeout, 60 s): a
                        # Ctrl-C must end the command in seconds even on a loaded machine
                        c.close(timeout=10)
                    except Exception:   # noqa: BLE001 - the cluster is closed below all the same
                        pass
            if cluster is not None:
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
        if callable(old):               # the handler in place (the command's, see fxsim.cli)
            old(*got[0])
        raise KeyboardInterrupt


def _close(cluster):
    """Close a local cluster, also one interrupted while its workers start (Dask then fails
    an internal check, which is no reason to hide the interruption)."""
    try:
        cluster.close(timeout=20)
    except Exception:             # noqa: BLE001 - the workers are stopped all the same
        pass


def map_jobs(fn, jobs, *, serial=None, workers=None, scheduler=None, client=None, retries=2,
             name="job", on_workers=None, pool=False, meanwhile=None):
    """Yield ``(i, fn(jobs[i]), error)`` for every job as it finishes (``error``: None, or the
    exception of a job that failed ``retries + 1`` times or whose worker kept dying).

    ``serial`` (default: ``workers == 1`` and no ``scheduler``/``client``): in this process, in
    job order; ``pool=True`` (no ``scheduler``/``client``): this process and ``workers`` − 1
    worker processes share the jobs, without Dask (``_pool_jobs``: ready in 0.3–0.6 s instead of
    ~2 s, for a few seconds of jobs; a dead worker fails its job, not retried); else on Dask
    (``dask_client``).  ``fn`` must be picklable (a module-level function) and each job a pure
    function of its argument.  ``on_workers``: addresses of the cluster's workers the jobs may
    run on (default any).  ``meanwhile``: called once in this process while the pool's workers
    start (e.g. imports the results will need).

    >>> sorted((i, r) for i, r, _ in map_jobs(abs, [-1, 2, -3], workers=1))
    [(0, 1), (1, 2), (2, 3)]
    """
    jobs = list(jobs)
    if serial is None:
        serial = workers == 1 and scheduler is None and client is None
    if pool and not serial and scheduler is None and client is None:
        if len(jobs) > 1 and (workers or default_workers()) > 1:
            yield from _pool_jobs(fn, jobs, workers or default_workers(), meanwhile)
            return
        serial = True               # nothing to share
    if meanwhile is not None:
        meanwhile()
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


def _send(fh, obj):
    """One length-prefixed pickle frame (a frame that fails to load never desyncs the pipe);
    ``fh`` buffered or raw (a raw pipe keeps nothing to flush at exit once its reader died)."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(len(data).to_bytes(8, "little") + data)
    while view:
        view = view[fh.write(view):]
    fh.flush()


def _read(fh, n):
    out = bytearray()
    while len(out) < n:
        part = fh.read(n - len(out))
        if not part:
            raise EOFError
        out += part
    return bytes(out)


def _recv(fh):
    """The bytes of one frame (``_send``); EOFError at the end of the pipe."""
    return _read(fh, int.from_bytes(_read(fh, 8), "little"))


def _serve():
    """A pool worker (``_pool_jobs``): reads (fn, job) frames on stdin, writes (ok, result or
    exception) frames on stdout, until stdin ends.  Anything a job prints goes to stderr."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)                                # fd 1 (C code, print) -> stderr
    sys.stdout = sys.stderr
    inp = sys.stdin.buffer
    sys.path[:0] = [p for p in pickle.loads(_recv(inp)) if p not in sys.path]
    while True:
        try:
            data = _recv(inp)
        except EOFError:
            return
        try:
            fn, job = pickle.loads(data)
            res = (True, fn(job))
        except Exception as e:       # noqa: BLE001 - the job's error, reported to the parent
            res = (False, e)
        try:
            _send(out, res)
        except Exception as e:       # noqa: BLE001 - an unpicklable result or exception
            _send(out, (False, RuntimeError(f"the job's result could not be sent back: {e!r}")))


def _start_worker():
    """A worker process: a fresh interpreter running ``_serve`` (never a fork of this process,
    nor a re-import of its ``__main__`` as multiprocessing's spawn does: a script without an
    ``if __name__ == "__main__"`` guard is not run twice).  It inherits SIGINT ignored: a
    Ctrl-C is this process's alone, which ends the worker."""
    import subprocess
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        w = subprocess.Popen([sys.executable, "-c", "from fxsim.sweep.jobs import _serve; _serve()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    finally:
        if main:
            signal.signal(signal.SIGINT, old)
    try:
        _send(w.stdin, list(sys.path))
    except OSError:                 # it died at once: its first job reports it
        pass
    return w


def _pool_jobs(fn, jobs, workers, meanwhile=None):
    """``map_jobs(..., pool=True)``: the jobs in job order go to whichever is free first, this
    process or one of ``workers`` − 1 worker processes (``_start_worker``; ``fn`` and the jobs
    are pickled, so ``fn`` must be importable by its module's name).  Each worker holds one job
    at a time, so none waits behind another's queue; a job that raises is reported as its
    error; a worker that dies fails the job it held and the rest run here.  An interruption or
    an early ``close()`` ends the workers at once."""
    n_pool = max(1, min(workers - 1, len(jobs) - 1))
    lock = threading.Lock()
    ready = threading.Condition(lock)
    todo = list(range(len(jobs)))[::-1]          # popped from the end: job order
    done = []                                   # (i, result, error), filled by the drivers

    def take():
        with lock:
            return todo.pop() if todo else None

    def put(item):
        with lock:
            done.append(item)
            ready.notify()

    def drive(w):
        k = None
        try:
            while True:
                k = take()
                if k is None:
                    return
                _send(w.stdin, (fn, jobs[k]))
                ok, val = pickle.loads(_recv(w.stdout))
                put((k, val, None) if ok else (k, None, val))
                k = None
        except Exception as e:       # noqa: BLE001 - a dead worker fails the job it held
            if k is not None:
                try:
                    code = w.wait(5)
                except Exception:    # noqa: BLE001 - still running: it broke the protocol
                    w.kill()
                    code = "none"
                put((k, None, RuntimeError(f"worker process ended (exit {code}) in job {k}: "
                                           f"{e!r}")))
        finally:
            try:
                w.stdin.close()
            except OSError:
                pass

    procs = [_start_worker() for _ in range(n_pool)]
    threads = [threading.Thread(target=drive, args=(w,), daemon=True) for w in procs]
    for t in threads:
        t.start()
    ok = False
    try:
        if meanwhile is not None:
            meanwhile()
        left = len(jobs)
        while left:
            k = take()
            with lock:
                got, done[:] = list(done), []
            for item in got:
                left -= 1
                yield item
            if k is not None:
                try:
                    res = fn(jobs[k])
                except Exception as e:      # noqa: BLE001 - reported like a worker's error
                    res, err = None, e
                else:
                    err = None
                left -= 1
                yield k, res, err
            elif not got:
                with lock:
                    if not done:
                        ready.wait(0.2)
        ok = True
    finally:
        if not ok:
            with lock:
                todo.clear()
            for w in procs:
                w.kill()
        for t in threads:
            t.join(None if ok else 5)
        for w in procs:
            w.wait()
            w.stdout.close()
