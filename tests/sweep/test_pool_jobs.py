"""``map_jobs(..., pool=True)``: this process and spawned worker processes share the jobs
without Dask (what ``fxsim gd-study --quick`` runs on).  Every job is reported exactly once with
its own result, wherever it ran; a job that raises, or whose worker dies, is reported as its
error and the others still finish; closing the iteration early ends the workers."""
import multiprocessing
import os
import time

import pytest

from fxsim.sweep.jobs import map_jobs


def _slow_pid(x):
    """x², and the process it ran in; slow enough that a worker starts before the end."""
    time.sleep(0.4)
    return x * x, os.getpid()


def _fails_on_0_and_3(x):
    if x in (0, 3):                  # job 0 goes to the worker first, 3 is likely run here
        raise ValueError(f"job {x} fails")
    return x


def _dies_in_a_worker(x):
    if x == 0 and multiprocessing.parent_process() is not None:
        os._exit(7)                  # a worker process that dies in the middle of a job
    return x


def test_each_job_once_with_its_result_on_two_processes():
    jobs = list(range(12))
    got = {}
    called = []
    for i, res, err in map_jobs(_slow_pid, jobs, workers=2, pool=True,
                                meanwhile=lambda: called.append(1)):
        assert err is None and i not in got
        got[i] = res
    assert sorted(got) == jobs
    assert [got[i][0] for i in jobs] == [x * x for x in jobs]
    pids = {p for _, p in got.values()}
    # 12 jobs of 0.4 s: this process alone would need 4.8 s, a worker starts in about 0.5 s
    assert os.getpid() in pids and len(pids) == 2, pids
    assert called == [1]


def test_a_raising_job_is_its_error_the_others_finish():
    out = {i: (res, err) for i, res, err in map_jobs(_fails_on_0_and_3, range(8), workers=2,
                                                     pool=True)}
    assert sorted(out) == list(range(8))
    for k in (0, 3):
        assert isinstance(out[k][1], ValueError) and f"job {k} fails" in str(out[k][1])
    assert all(out[i] == (i, None) for i in out if i not in (0, 3))


def test_a_dead_worker_fails_its_job_only():
    # job 0 goes to the worker first (the parent takes job 1 meanwhile); the rest run here
    out = {i: (res, err) for i, res, err in map_jobs(_dies_in_a_worker, range(6), workers=2,
                                                     pool=True)}
    assert sorted(out) == list(range(6))
    assert out[0][0] is None and out[0][1] is not None
    assert all(out[i] == (i, None) for i in range(1, 6))


def test_stopping_early_ends_the_workers():
    it = map_jobs(_slow_pid, list(range(20)), workers=2, pool=True)
    next(it)
    it.close()                       # what an exception in the consumer (Ctrl-C) does too
    t0 = time.monotonic()
    while multiprocessing.active_children() and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    assert not multiprocessing.active_children()
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("n,workers", [(0, 2), (1, 2), (3, 1)])
def test_in_this_process_when_there_is_nothing_to_share(n, workers):
    t0 = time.monotonic()
    assert [(i, r) for i, r, _ in map_jobs(abs, [-5] * n, workers=workers, pool=True)] == \
        [(i, 5) for i in range(n)]
    assert not multiprocessing.active_children()
    assert time.monotonic() - t0 < 0.5          # neither a pool nor a Dask cluster started
