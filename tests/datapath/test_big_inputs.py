"""Issue 11.6: big inputs fail cleanly.

* an operation whose result cannot fit is refused *before* anything is allocated, with a
  MemoryError/ValueError that names the shape and the bytes it needs (the peak RSS of the process
  does not move);
* Ctrl-C (SIGINT) during a long cast or generic matmul ends the call within a second;
* the peak memory of cast/add/stochastic cast stays within a small factor of the equivalent
  numpy code.

Everything runs in child processes that import the fxsim of this checkout (cwd and PYTHONPATH
set to the repository root of this file), under an address-space limit so that an
implementation that does allocate cannot take the machine down.  Run with ``-s`` to see the
measured figures (latencies in s, memory in MiB).
"""
import json
import os
import re
import resource
import signal
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MiB = 1 << 20
GiB = 1 << 30
AS_LIMIT = 8 * GiB          # address-space limit of every child (protects the machine)

PRELUDE = f"""
import gc, json, os, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
import numpy as np
import fxsim
_here = os.path.dirname(os.path.dirname(os.path.abspath(fxsim.__file__)))
assert _here == {ROOT!r}, ("imported the wrong fxsim", fxsim.__file__)

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)

def reset_peak():
    # Linux >= 4.0: writing 5 to clear_refs resets VmHWM to the current RSS
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
"""


def _env(**extra):
    env = dict(os.environ)
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = ROOT + (os.pathsep + old if old else "")
    env.update(extra)
    return env


def _limit_as():
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))


def _code(body):
    return PRELUDE + textwrap.dedent(body)


def _run(body, timeout=120, **env):
    """Run a child to completion; returns its last stdout line parsed as JSON."""
    p = subprocess.run([sys.executable, "-c", _code(body)], cwd=ROOT, env=_env(**env),
                       preexec_fn=_limit_as, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"child failed (rc={p.returncode}):\n{p.stdout}\n{p.stderr}"
    return json.loads(p.stdout.strip().splitlines()[-1])


def _mem_available():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


# -- 1. refused before allocating ----------------------------------------------------------

_AB = ("a = fxsim.cast(np.zeros((10**5, 1)), 'Q8.8')\n"
       "b = fxsim.cast(np.zeros((1, 10**5)), 'Q8.8')\n")
_SRC = "src = fxsim.Ideal('pcg64', seed=0)\n"
N2 = 10**10

# name: (setup, call, bytes the result alone needs (lower bound), shape named)
REFUSED = {
    "add": (_AB, "fxsim.add(a, b)", 4 * N2, (10**5, 10**5)),                # exact Q(17,8): int32
    "sub_stochastic": (_AB + _SRC, "fxsim.sub(a, b, fmt='Q8.8', rounding='stochastic', r=16, "
                       "source=src)", 2 * N2 + 8 * N2, (10**5, 10**5)),    # out + one draw each
    "mul_generic_fmt": (_AB, "fxsim.mul(a, b, fmt='Q(32,16)')", 4 * N2, (10**5, 10**5)),
    "matmul": (_AB, "fxsim.matmul(a, b)", 8 * N2, (10**5, 10**5)),
    "matmul_generic": (_AB, "fxsim.matmul(a, b, prod='Q8.8', overflow='error')", 8 * N2,
                       (10**5, 10**5)),
}


def _refusal_child(setup, call):
    return f"""
{setup}
gc.collect()
reset_peak()
rss0, hwm0 = status("VmRSS"), status("VmHWM")
t = time.perf_counter()
try:
    {call}
    err = None
except Exception as e:
    err = (type(e).__name__, str(e))
dt = time.perf_counter() - t
out = dict(err=err, rss0=rss0, hwm0=hwm0, hwm1=status("VmHWM"), dt=dt)
if "src" in globals():   # a refused call takes no draw from the source
    out["src_untouched"] = (src.draws(8, 16).tolist()
                            == fxsim.Ideal("pcg64", seed=0).draws(8, 16).tolist())
print(json.dumps(out))
"""


def _check_refused(name, r, shape, need, exact_bytes=True):
    print(f"\n[big] {name}: {r['err']}; peak RSS {r['hwm0'] / MiB:.0f} -> {r['hwm1'] / MiB:.0f} "
          f"MiB, {r['dt']:.3f} s")
    assert r["err"] is not None, f"{name}: no error raised"
    kind, msg = r["err"]
    assert kind in ("MemoryError", "ValueError"), (kind, msg)
    assert str(tuple(shape)) in msg, f"{name}: the message does not name the shape {shape}: {msg}"
    if exact_bytes:
        # the operation's own check, with the byte count it needs (not numpy's refusal of one
        # of its buffers)
        nums = [int(m.replace(",", "").replace("_", ""))
                for m in re.findall(r"(\d[\d,_]*)\s*bytes", msg)]
        assert nums and max(nums) >= need, f"{name}: the message does not name the {need:,} " \
                                           f"bytes or more needed: {msg}"
    else:
        assert re.search(r"\d\s*(bytes|[KMGT]i?B)", msg), f"{name}: no size in the message: {msg}"
    assert r["hwm1"] - r["hwm0"] < 64 * MiB, f"{name}: peak RSS grew by " \
                                             f"{(r['hwm1'] - r['hwm0']) / MiB:.0f} MiB"
    assert r["dt"] < 5.0, f"{name}: the refusal took {r['dt']:.1f} s"
    if "src_untouched" in r:
        assert r["src_untouched"], f"{name}: the refused call advanced the source"


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_before_allocating(name):
    setup, call, need, shape = REFUSED[name]
    avail = _mem_available()
    if avail is not None and avail >= need:
        pytest.skip(f"{avail:,} bytes available: {need:,} may legitimately fit here")
    _check_refused(name, _run(_refusal_child(setup, call)), shape, need)


def test_cast_of_broadcast_view_fails_cleanly():
    """A (10**5, 10**5) broadcast view of one float: refused with a MemoryError naming the
    shape and the size, nothing allocated (the size may be numpy's figure: the float64 input
    copy is the first buffer that cannot exist)."""
    r = _run(_refusal_child("x = np.broadcast_to(np.float64(0.5), (10**5, 10**5))",
                            "fxsim.cast(x, 'Q8.8')"))
    _check_refused("cast_broadcast_view", r, (10**5, 10**5), 2 * N2, exact_bytes=False)


@pytest.mark.slow
def test_stochastic_cast_refused_before_drawing():
    """A stochastic cast of 2e9 int8 words into Q(64,32) needs 16 bytes per element (output and
    draws): refused by cast's own check before a draw is taken.  Slow: building the 2 GB input
    takes several seconds."""
    need = 16 * 2 * 10**9
    avail = _mem_available()
    if avail is not None and avail >= need:
        pytest.skip(f"{avail:,} bytes available: {need:,} may legitimately fit here")
    setup = ("z = np.zeros((100000, 20000), np.int8)\n"
             "A = fxsim.FixedArray(z, 'Q(8,0)')\n"
             "del z\n" + _SRC)
    call = "fxsim.cast(A, 'Q(64,32)', 'stochastic', r=16, source=src)"
    _check_refused("cast_stochastic_2e9", _run(_refusal_child(setup, call), timeout=300),
                   (100000, 20000), need)


# -- 2. Ctrl-C -------------------------------------------------------------------------------

SLEEP = 0.5       # after "go", before SIGINT
LATENCY = 1.0     # the child must be gone this long after SIGINT

# name: (setup, op(k) doing 1/k of the work, env); OMP_NUM_THREADS pins the work per thread so
# that the durations do not depend on the core count
INTERRUPT = {
    # 10**8 floats into Q(64,63): the exact 128-bit path (Q8.8 takes only ~0.15 s here)
    "cast_nearest_even": (
        "x = np.random.default_rng(0).uniform(-1, 1, 10**8)",
        "fxsim.cast(x[:x.size // k], 'Q(64,63)', 'nearest_even')",
        {"OMP_NUM_THREADS": "1"}),
    # one thread: the draws are taken at once from the source, then the blocked kernel
    "cast_stochastic": (
        "x = np.random.default_rng(0).uniform(-1, 1, 10**8)",
        "fxsim.cast(x[:x.size // k], 'Q(64,63)', 'stochastic', r=64, "
        "source=fxsim.Ideal('pcg64', seed=0))",
        {"OMP_NUM_THREADS": "1"}),
    # two threads: private sub-streams per part (_cast_streams)
    "cast_stochastic_streams": (
        "x = np.random.default_rng(0).uniform(-200, 200, 2 * 10**8)",
        "fxsim.cast(x[:x.size // k], 'Q8.8', 'stochastic', r=64, "
        "source=fxsim.Ideal('pcg64', seed=0))",
        {"OMP_NUM_THREADS": "2"}),
    # one thread, Philox stepped inside the SR rounding loop (private PhiloxCore copy)
    "cast_stochastic_philox": (
        "x = np.full(35 * 10**7, 1.3)",
        "fxsim.cast(x[:x.size // k], 'Q8.8', 'stochastic', r=16, "
        "source=fxsim.Ideal('philox', seed=0))",
        {"OMP_NUM_THREADS": "1"}),
    # prod= given: the generic kernel (dot_generic), 700**3 MACs
    "matmul_generic": (
        "rng = np.random.default_rng(0)\n"
        "A = fxsim.cast(rng.uniform(-1, 1, (700, 700)), 'Q8.8')\n"
        "B = fxsim.cast(rng.uniform(-1, 1, (700, 700)), 'Q8.8')",
        "fxsim.matmul(A[:max(1, A.shape[0] // k)], B, prod='Q8.8')",
        {"OMP_NUM_THREADS": "2"}),
}


def _interrupt_child(setup, op, full):
    """The child times 1/10 of the work (to show the whole call would outlast the wait), prints
    "go <estimate>" and starts the whole call; with ``full`` it also times the whole call."""
    return f"""
{setup}
def op(k):
    return {op}
op(1000)                        # warm up
t = time.perf_counter(); op(10); est = 10 * (time.perf_counter() - t)
if {full!r}:
    t = time.perf_counter(); op(1); print(json.dumps(dict(est=est, full=time.perf_counter() - t)))
    sys.exit(0)
print("go", est, flush=True)
op(1)
print("done", flush=True)
"""


@pytest.mark.parametrize("name", list(INTERRUPT))
def test_ctrl_c_ends_a_long_call(name):
    setup, op, env = INTERRUPT[name]
    p = subprocess.Popen([sys.executable, "-c", _code(_interrupt_child(setup, op, False))],
                         cwd=ROOT, env=_env(**env), preexec_fn=_limit_as,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        if not line.startswith("go"):
            p.wait(60)
            pytest.fail(f"child did not start: {line!r}\n{p.stderr.read()}")
        est = float(line.split()[1])
        time.sleep(SLEEP)
        assert p.poll() is None, f"{name}: the call ended before the signal (estimate {est:.2f} s)"
        p.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        out, err = p.communicate(timeout=120)
        latency = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    frames = [ln.strip() for ln in err.splitlines() if ln.strip().startswith("File ")]
    where = frames[-1] if frames else "?"
    print(f"\n[interrupt] {name}: uninterrupted ~{est:.2f} s (10 x a tenth); exit "
          f"{latency:.3f} s after SIGINT; rc={p.returncode}; raised at {where}")
    # the test is meaningful only if a call that ignored Ctrl-C would miss the deadline
    assert est >= SLEEP + LATENCY + 0.5, f"{name}: the whole call takes only ~{est:.2f} s"
    assert "done" not in out, f"{name}: the call completed despite SIGINT"
    assert p.returncode != 0 and "KeyboardInterrupt" in err, (p.returncode, err[-2000:])
    assert latency <= LATENCY, (f"{name}: exited {latency:.2f} s after SIGINT (limit {LATENCY} s); "
                                f"KeyboardInterrupt raised at {where}")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(INTERRUPT))
def test_long_calls_take_long_uninterrupted(name):
    """The whole call, uninterrupted, does take >= 2 s (checks the 10 x estimate above)."""
    setup, op, env = INTERRUPT[name]
    r = _run(_interrupt_child(setup, op, True), timeout=300, **env)
    print(f"\n[interrupt] {name}: uninterrupted {r['full']:.2f} s (estimate {r['est']:.2f} s)")
    assert r["full"] >= SLEEP + LATENCY + 0.5


# -- 3. peak memory vs numpy -----------------------------------------------------------------

# fxsim extra peak <= FACTOR * numpy extra peak + SLACK.  A sound implementation needs its
# result (up to twice numpy's: the exact add is Q(17,8), int32) plus a few blocks of scratch
# (2**22 elements per kernel call); materializing broadcast operands or the whole input again
# does not fit.
FACTOR, SLACK = 2, 48 * MiB

_Q88 = ("rng = np.random.default_rng(0)\n"
        "ra = rng.integers(-2**15, 2**15, {shape}, dtype=np.int16)\n"
        "rb = rng.integers(-2**15, 2**15, {shape2}, dtype=np.int16)\n"
        "a, b = fxsim.FixedArray(ra, 'Q8.8'), fxsim.FixedArray(rb, 'Q8.8')\n")

# name: (setup, fxsim call, numpy call[, child env]); the calls read x / a, b / ra, rb
MEMORY = {
    "cast_2e7": (
        "x = np.random.default_rng(0).uniform(-200, 200, 2 * 10**7)",
        "fxsim.cast(x, 'Q8.8')",
        "np.round(x * 256).clip(-32768, 32767).astype(np.int16)"),
    "add_1e7": (
        _Q88.format(shape=10**7, shape2=10**7),
        "fxsim.add(a, b)",
        "ra + rb"),
    "broadcast_add_4000": (
        _Q88.format(shape=(4000, 1), shape2=(1, 4000)),
        "fxsim.add(a, b)",
        "ra + rb"),
    "stochastic_cast_1e7": (
        "x = np.random.default_rng(0).uniform(-200, 200, 10**7)",
        "fxsim.cast(x, 'Q8.8', 'stochastic', r=16, source=fxsim.Ideal('pcg64', seed=0))",
        "np.floor(x * 256 + np.random.default_rng(1).random(x.size))"
        ".clip(-32768, 32767).astype(np.int16)"),
    # one thread: no sub-streams, the draws are taken from the source as one array
    "stochastic_cast_1e7_1thread": (
        "x = np.random.default_rng(0).uniform(-200, 200, 10**7)",
        "fxsim.cast(x, 'Q8.8', 'stochastic', r=16, source=fxsim.Ideal('pcg64', seed=0))",
        "np.floor(x * 256 + np.random.default_rng(1).random(x.size))"
        ".clip(-32768, 32767).astype(np.int16)",
        {"OMP_NUM_THREADS": "1"}),
}


def _peak_child(setup, call):
    return f"""
{setup}
CALL = {call!r}
_inputs = {{k: v for k, v in dict(globals()).items() if k in ("x", "a", "b", "ra", "rb")}}
_ctx = dict(np=np, fxsim=fxsim)
# warm up on 4-element slices of the same inputs (lazy initialisation, thread pool)
eval(CALL, {{**_ctx, **{{k: v[(slice(0, 4),) * v.ndim] for k, v in _inputs.items()}}}})
gc.collect()
ok = reset_peak()
base = status("VmRSS") if ok else status("VmHWM")
res = eval(CALL, {{**_ctx, **_inputs}})
peak = status("VmHWM")
out = res.raw.nbytes if isinstance(res, fxsim.FixedArray) else res.nbytes
print(json.dumps(dict(extra=peak - base, base=base, reset=ok, out=int(out))))
"""


@pytest.mark.parametrize("name", list(MEMORY))
def test_peak_memory_vs_numpy(name):
    setup, fx_call, np_call, *env = MEMORY[name]
    env = env[0] if env else {}
    f = _run(_peak_child(setup, fx_call), **env)
    n = _run(_peak_child(setup, np_call), **env)
    limit = FACTOR * n["extra"] + SLACK
    print(f"\n[memory] {name}: fxsim extra peak {f['extra'] / MiB:.1f} MiB "
          f"(result {f['out'] / MiB:.1f} MiB), numpy {n['extra'] / MiB:.1f} MiB "
          f"(result {n['out'] / MiB:.1f} MiB); limit {limit / MiB:.1f} MiB"
          + ("" if f["reset"] else " [VmHWM not resettable: baseline = peak before]"))
    assert f["extra"] <= limit, (f"{name}: fxsim's extra peak {f['extra'] / MiB:.1f} MiB > "
                                 f"{FACTOR} x numpy's {n['extra'] / MiB:.1f} MiB + "
                                 f"{SLACK / MiB:.0f} MiB")
