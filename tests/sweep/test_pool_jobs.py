"""``map_jobs(..., pool=True)``: this process and worker processes share the jobs without Dask
(what ``fxsim gd-study --quick`` runs on).  Every job is reported exactly once with its own
result, wherever it ran; a job that raises, or whose worker dies, is reported as its error and
the others still finish; closing the iteration early ends the workers; a script without an
``if __name__ == "__main__"`` guard is not run again in the workers."""
import os
import subprocess
import sys
import textwrap
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


def _dies_in_a_worker(job):
    x, parent = job
    if x == 0 and os.getpid() != parent:
        os._exit(7)                  # a worker process that dies in the middle of a job
    return x


def _workers():
    """This process's worker processes still running (not zombies)."""
    me, out = os.getpid(), []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                stat = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{d}/cmdline", "rb") as fh:
                cmd = fh.read()
        except OSError:
            continue
        if int(stat[1]) == me and stat[0] != "Z" and b"fxsim.sweep.jobs" in cmd:
            out.append(int(d))
    return out


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
    # 12 jobs of 0.4 s: this process alone would need 4.8 s, a worker starts in about 0.3 s
    assert os.getpid() in pids and len(pids) == 2, pids
    assert called == [1]
    assert not _workers()


def test_a_raising_job_is_its_error_the_others_finish():
    out = {i: (res, err) for i, res, err in map_jobs(_fails_on_0_and_3, range(8), workers=2,
                                                     pool=True)}
    assert sorted(out) == list(range(8))
    for k in (0, 3):
        assert isinstance(out[k][1], ValueError) and f"job {k} fails" in str(out[k][1])
    assert all(out[i] == (i, None) for i in out if i not in (0, 3))


def test_a_dead_worker_fails_its_job_only():
    # job 0 goes to the worker first (this process takes job 1 meanwhile); the rest run here
    jobs = [(x, os.getpid()) for x in range(6)]
    out = {i: (res, err) for i, res, err in map_jobs(_dies_in_a_worker, jobs, workers=2,
                                                     pool=True)}
    assert sorted(out) == list(range(6))
    assert out[0][0] is None and "worker process ended (exit 7)" in str(out[0][1])
    assert all(out[i] == (i, None) for i in range(1, 6))
    assert not _workers()


def test_stopping_early_ends_the_workers():
    it = map_jobs(_slow_pid, list(range(20)), workers=2, pool=True)
    next(it)
    assert _workers()
    t0 = time.monotonic()
    it.close()                       # what an exception in the consumer (Ctrl-C) does too
    assert not _workers()
    assert time.monotonic() - t0 < 2


@pytest.mark.parametrize("n,workers", [(0, 2), (1, 2), (3, 1)])
def test_in_this_process_when_there_is_nothing_to_share(n, workers):
    t0 = time.monotonic()
    assert [(i, r) for i, r, _ in map_jobs(abs, [-5] * n, workers=workers, pool=True)] == \
        [(i, 5) for i in range(n)]
    assert time.monotonic() - t0 < 0.5          # neither a pool nor a Dask cluster started


def test_a_script_without_a_main_guard_runs_once(tmp_path):
    """multiprocessing's spawn would import the script again in each worker (and fail there);
    the pool's workers only import the jobs' function."""
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent("""
        import os
        from fxsim.sweep.jobs import map_jobs
        print("top level ran in", os.getpid(), flush=True)
        got = sorted(r for _, r, e in map_jobs(abs, [-1, -2, -3, -4], workers=2, pool=True))
        print(got)
    """))
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.count("top level ran") == 1 and "[1, 2, 3, 4]" in p.stdout, p.stdout
