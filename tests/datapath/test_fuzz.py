"""The API fuzz test (issue 11 point 8): seeded random calls of every public function, each
judged against tests/reference.py (see tests/fuzz_api.py for the generator and the oracle).

Each batch runs in its own interpreter (``python tests/fuzz_api.py``), two at a time, so a
segfault or an abort is caught: the child writes every call's index to a log before the call,
and the parent rebuilds the source of the last one (``fuzz_api.describe``) and resumes the batch
after it.  The default run makes >= 10**4 calls; ``-m slow`` makes >= 10**5.

Knobs (environment): FXSIM_FUZZ_SEEDS="1,2" (the batches' seeds), FXSIM_FUZZ_CALLS (calls per
batch), FXSIM_FUZZ_REPORT (a path receiving the merged JSON report).
"""
import json
import os
import subprocess
import sys
import time
import warnings

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FUZZ = os.path.join(HERE, "fuzz_api.py")
sys.path.insert(0, HERE)

import fuzz_api  # noqa: E402

PARALLEL = 2
BATCH_TIMEOUT = 600      # seconds without finishing: reported as a hang at the last index
MAX_RESTARTS = 25        # crashes per batch before giving up on it


def _last_index(log_path):
    try:
        with open(log_path) as fh:
            lines = [l.strip() for l in fh if l.strip()]
    except OSError:
        return None
    if not lines or lines[-1] == "done":
        return None
    return int(lines[-1])


def run_batches(seeds, calls, workdir, parallel=PARALLEL, env=None):
    """Run one batch per seed, ``parallel`` subprocesses at a time; returns the merged report."""
    env = dict(os.environ, **(env or {}))
    env.setdefault("OMP_NUM_THREADS", "1")
    todo = [(s, 0, calls, 0) for s in seeds]      # (seed, start, calls left, restarts)
    running = []
    reports, crashes = [], []
    while todo or running:
        while todo and len(running) < parallel:
            seed, start, left, restarts = todo.pop(0)
            tag = f"s{seed}_{start}"
            out, log = os.path.join(workdir, tag + ".json"), os.path.join(workdir, tag + ".log")
            open(log, "w").close()
            p = subprocess.Popen([sys.executable, FUZZ, "--seed", str(seed), "--calls", str(left),
                                  "--start", str(start), "--out", out, "--log", log],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=HERE)
            running.append((p, seed, start, left, restarts, out, log, time.time()))
        time.sleep(0.05)
        for job in list(running):
            p, seed, start, left, restarts, out, log, t0 = job
            hung = p.poll() is None and time.time() - t0 > BATCH_TIMEOUT
            if p.poll() is None and not hung:
                continue
            if hung:
                p.kill()
            _, err = p.communicate()
            running.remove(job)
            if p.returncode == 0 and os.path.exists(out):
                with open(out) as fh:
                    reports.append(json.load(fh))
                continue
            idx = _last_index(log)
            if idx is None:
                idx = start
            crashes.append({
                "category": fuzz_api.CRASH, "seed": seed, "index": idx,
                "function": fuzz_api.generate(seed, idx).func,
                "detail": ("hang (killed after %ds)" % BATCH_TIMEOUT) if hung else
                          f"interpreter died, exit code {p.returncode}",
                "exception": err.decode(errors="replace")[-1500:],
                "source": fuzz_api.describe(seed, idx)})
            # the calls before the crash left no report: run them again (deterministic), and
            # carry on after the crashing call
            done = idx + 1 - start
            if restarts < MAX_RESTARTS:
                if idx > start:
                    todo.append((seed, start, idx - start, restarts + 1))
                if left - done > 0:
                    todo.append((seed, idx + 1, left - done, restarts + 1))
    return merge(reports, crashes)


def merge(reports, crashes):
    m = fuzz_api.new_stats()
    m.update(failure_counts={}, failures=[], fxsim=None, batches=len(reports))
    for r in reports:
        for k in ("calls", "results", "checked", "expected_refusals", "allowed_refusals",
                  "setup_failures"):
            m[k] += r[k]
        for k in ("clean", "errors", "failure_counts"):
            for name, n in r[k].items():
                m[k][name] = m[k].get(name, 0) + n
        m["failures"] += r["failures"]
        m["fxsim"] = r.get("fxsim")
    m["calls"] += len(crashes)
    for c in crashes:
        m["failure_counts"][fuzz_api.CRASH] = m["failure_counts"].get(fuzz_api.CRASH, 0) + 1
    m["failures"] = crashes + m["failures"]
    return m


def figures(m):
    fc = m["failure_counts"]
    silent = sum(n for k, n in fc.items() if k in fuzz_api.SILENT)
    return (f"fuzz: {m['calls']} calls ({m.get('fxsim')}): {m['results']} results "
            f"({m['checked']} checked against the reference), "
            f"{sum(m['clean'].values())} clean errors {dict(sorted(m['clean'].items()))} "
            f"({m['expected_refusals']} required, {m['allowed_refusals']} allowed), "
            f"crashes {fc.get(fuzz_api.CRASH, 0)}, silent-wrong {silent}, "
            f"failures {sum(fc.values())} {dict(sorted(fc.items()))}")


def failure_summary(m, per_class=1):
    """One reproducer per failure class (category, function, exception type)."""
    seen, out = {}, []
    for f in m["failures"]:
        key = (f["category"], f["function"], (f.get("exception") or "").split(":")[0])
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > per_class:
            continue
        out.append(f"--- [{f['category']}] {f['function']} (seed {f['seed']}, index {f['index']}): "
                   f"{f['detail']}\n    {f.get('exception') or ''}\n"
                   f"    replay: python tests/fuzz_api.py --seed {f['seed']} --replay {f['index']}\n"
                   + "\n".join("    " + l for l in f["source"].splitlines()))
    return "\n".join(out)


def _seeds(default):
    s = os.environ.get("FXSIM_FUZZ_SEEDS")
    return [int(x) for x in s.split(",")] if s else default


def _check(m, min_calls):
    print("\n" + figures(m))
    path = os.environ.get("FXSIM_FUZZ_REPORT")
    if path:
        with open(path, "w") as fh:
            json.dump(m, fh, indent=1)
    assert m["calls"] >= min_calls, figures(m)
    assert m["checked"] > m["calls"] // 4, "too few results checked: " + figures(m)
    # every refusal, data errors of overflow='error' included, leaves the source where it was
    other = dict(m["failure_counts"])
    assert not other, figures(m) + "\n" + failure_summary(m)


def test_fuzz_api(tmp_path):
    calls = int(os.environ.get("FXSIM_FUZZ_CALLS", 6000))
    seeds = _seeds([1, 2])
    m = run_batches(seeds, calls, str(tmp_path))
    _check(m, min(10_000, calls * len(seeds)))


@pytest.mark.slow
def test_fuzz_api_slow(tmp_path):
    calls = int(os.environ.get("FXSIM_FUZZ_CALLS", 13000))
    seeds = _seeds(list(range(101, 109)))
    m = run_batches(seeds, calls, str(tmp_path))
    _check(m, min(100_000, calls * len(seeds)))


# ---------------------------------------------------------------------------- the harness itself
def test_harness_reports_a_crash_with_its_call(tmp_path):
    """A child that dies at call 7 is reported as a crash at index 7 with the call's source,
    and the batch resumes after it."""
    m = run_batches([5], 12, str(tmp_path), env={"FXSIM_FUZZ_CRASH_AT": "7"})
    crashes = [f for f in m["failures"] if f["category"] == fuzz_api.CRASH]
    assert [(c["seed"], c["index"]) for c in crashes] == [(5, 7)], crashes
    assert "result = " in crashes[0]["source"]
    assert m["calls"] == 12


def test_harness_oracle_sees_wrong_words(monkeypatch):
    """The oracle is not vacuous: flip the lowest bit of one word of every 5th result of the
    public operations and the fuzzer must report wrong words in cast, add/mul and the MACs."""
    fx = pytest.importorskip("fxsim")
    count = [0]

    def corrupt(fn):
        def wrapper(*args, **kwargs):
            res = fn(*args, **kwargs)
            count[0] += 1
            if count[0] % 5 == 0 and res.size:
                raw = res.raw.copy()
                raw.reshape(-1)[0] ^= 1
                res = fx.FixedArray(raw, res.fmt)
            return res
        return wrapper

    for name in ("cast", "add", "sub", "mul", "dot", "matvec", "matmul"):
        monkeypatch.setattr(fx, name, corrupt(getattr(fx, name)))
    stats, seen = fuzz_api.new_stats(), set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(1500):
            for f in fuzz_api.run_case(fuzz_api.generate(11, i), stats):
                if f["category"] == fuzz_api.WRONG_WORD:
                    seen.add(f["function"])
    assert count[0] >= 50
    assert {"cast", "add", "mul", "dot"} <= seen, seen
