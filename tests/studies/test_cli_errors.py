"""The command line never prints a traceback for a user error (issue 11, point 7): a bad
argument exits 2 with argparse's usage and one ``fxsim <cmd>: error: ...`` line; an output
folder that cannot be created is refused before a (long) study starts; Ctrl-C exits 130 with
one line, from the main process and its worker processes alike."""
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import cli_user_error

fxsim = pytest.importorskip("fxsim")
from fxsim import cli  # noqa: E402
from fxsim.studies import amplification, compare_rng, gd_rounding, halp, samplers, tracking  # noqa: E402
from fxsim.studies import unfolded  # noqa: E402

# every study sub-command and the module whose ``run`` it calls
STUDIES = {"gd-study": gd_rounding, "compare-rng": compare_rng, "halp-study": halp,
           "amplification-study": amplification, "tracking-study": tracking,
           "sampler-study": samplers, "unfolded-study": unfolded}


@pytest.fixture
def no_study(monkeypatch):
    """Replace every study's ``run`` by one that records that it was called."""
    calls = []

    def fake(*a, **k):
        calls.append((a, k))
        raise AssertionError("the study started")
    for mod in STUDIES.values():
        monkeypatch.setattr(mod, "run", fake)
    return calls


def test_every_study_command_is_covered():
    """STUDIES must list every sub-command with --out (a new study gets the same checks)."""
    import argparse
    parser = argparse.ArgumentParser(prog="fxsim")
    sub = parser.add_subparsers(dest="cmd")
    import importlib
    for name in cli.STUDY_MODULES:
        importlib.import_module(name).add_cli(sub)
    assert set(sub.choices) == set(STUDIES)


@pytest.mark.parametrize("seed", ["-1", "-5", "x", "1.5"])
def test_demo_bad_seed(seed, capsys):
    msg = cli_user_error(["demo", "--seed", seed], capsys, "demo")
    assert "--seed" in msg and "non-negative integer" in msg


def test_demo_good_seed_still_runs(capsys):
    assert cli.main(["demo", "--seed", "0"]) == 0
    assert "saturating accumulator" in capsys.readouterr().out


@pytest.mark.parametrize("cmd", STUDIES)
def test_out_under_a_regular_file(cmd, tmp_path, capsys, no_study):
    f = tmp_path / "file"
    f.write_text("x")
    msg = cli_user_error([cmd, "--quick", "--no-progress", "--out", str(f / "out")], capsys, cmd)
    assert "--out" in msg and str(f / "out") in msg
    assert not no_study                                 # refused before the study started
    assert f.read_text() == "x"


@pytest.mark.parametrize("cmd", STUDIES)
def test_out_is_a_regular_file(cmd, tmp_path, capsys, no_study):
    f = tmp_path / "file"
    f.write_text("x")
    msg = cli_user_error([cmd, "--out", str(f)], capsys, cmd)
    assert "--out" in msg and "not a folder" in msg
    assert not no_study


@pytest.mark.parametrize("cmd", ["gd-study", "halp-study", "sampler-study"])
@pytest.mark.parametrize("where", ["/proc/fxsim-no-such-dir/out", "/proc/self/fxsim-out"])
def test_out_under_proc(cmd, where, capsys, no_study):
    msg = cli_user_error([cmd, "--out", where], capsys, cmd)
    assert "--out" in msg and where in msg
    assert not no_study


@pytest.mark.parametrize("cmd", ["gd-study", "amplification-study", "tracking-study"])
def test_copy_figures_checked_before_the_study(cmd, tmp_path, capsys, no_study):
    f = tmp_path / "file"
    f.write_text("x")
    msg = cli_user_error([cmd, "--out", str(tmp_path / "out"), "--copy-figures", str(f / "web")],
                     capsys, cmd)
    assert "--copy-figures" in msg
    assert not no_study


def test_refused_out_leaves_nothing_behind(tmp_path, capsys, no_study):
    """The first folders of the path could be made, the last cannot: none is left."""
    out = tmp_path / "new" / "deeper" / ("x" * 300)      # name too long for the file system
    msg = cli_user_error(["halp-study", "--out", str(out)], capsys, "halp-study")
    assert "--out" in msg
    assert not (tmp_path / "new").exists()
    assert not no_study


def test_good_out_reaches_the_study(tmp_path, monkeypatch, capsys):
    seen = {}

    def fake(out, **k):
        seen["out"] = out
        os.makedirs(out, exist_ok=True)
        d = os.path.join(out, "t.md")
        open(d, "w").close()
        return {"files": {"md": d, "csv": d}, "markdown": "| t |", "seconds": 0.0}
    monkeypatch.setattr(halp, "run", fake)
    out = tmp_path / "a" / "b"
    assert cli.main(["halp-study", "--out", str(out), "--no-progress"]) == 0
    assert seen["out"] == str(out) and out.is_dir()


def test_value_error_from_library_maps_to_exit_2(monkeypatch, tmp_path, capsys):
    def fake(*a, **k):
        raise ValueError("lr must be a positive number, got -1")
    monkeypatch.setattr(halp, "run", fake)
    msg = cli_user_error(["halp-study", "--out", str(tmp_path / "o")], capsys, "halp-study")
    assert msg == "lr must be a positive number, got -1"


def test_genuine_bugs_are_not_hidden(monkeypatch, tmp_path):
    def fake(*a, **k):
        raise TypeError("unsupported operand type(s)")
    monkeypatch.setattr(halp, "run", fake)
    with pytest.raises(TypeError):
        cli.main(["halp-study", "--out", str(tmp_path / "o")])


def test_keyboard_interrupt_in_process(monkeypatch, tmp_path, capsys):
    def fake(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(halp, "run", fake)
    try:
        rc = cli.main(["halp-study", "--out", str(tmp_path / "o")])
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped fxsim.cli.main")
    assert rc == 130
    assert capsys.readouterr().err.strip().splitlines() == ["fxsim: interrupted"]


def _interrupt(argv, out, tmp_path, after=2.5, started=None):
    """Start ``python -m fxsim.cli argv`` in its own process group and, ``after`` s after its
    output folder ``out`` appears (the study is under way), send SIGINT to the whole group
    (what Ctrl-C in a terminal does, worker processes included).  ``started``: called with the
    process group's id."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-m", "fxsim.cli"] + argv, cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    if started is not None:
        started(p.pid)
    t0 = time.monotonic()
    while not out.exists() and p.poll() is None and time.monotonic() - t0 < 120:
        time.sleep(0.05)
    time.sleep(after)
    if p.poll() is not None:
        _, err = p.communicate()
        pytest.fail(f"the study ended (exit {p.returncode}) before it could be interrupted: {err[-2000:]}")
    os.killpg(p.pid, signal.SIGINT)
    try:
        stdout, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        # the command ends itself 45 s after Ctrl-C (fxsim.cli.STOP_GRACE): still running, or
        # its output pipes held by another process, is a bug; say which processes are left
        ps = subprocess.run(["ps", "-o", "pid,ppid,pgid,stat,etime,cmd", "-g", str(p.pid)],
                            capture_output=True, text=True).stdout
        pytest.fail(f"no exit 60 s after SIGINT (main process exit code {p.poll()}); "
                    f"processes of its group:\n{ps[-3000:]}")
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    return p.returncode, stdout, err


@pytest.mark.parametrize("cmd", ["gd-study", "amplification-study"])   # both use process pools
def test_ctrl_c_exits_130_with_one_line(cmd, tmp_path):
    t0 = time.perf_counter()
    out = tmp_path / "out"
    rc, _, err = _interrupt([cmd, "--out", str(out), "--no-progress"], out, tmp_path)
    assert rc == 130, (rc, err[-2000:])
    assert "Traceback" not in err, err[-3000:]
    assert err.strip().splitlines() == ["fxsim: interrupted"], err[-3000:]
    assert time.perf_counter() - t0 < 30            # the workers are stopped, not waited for


def test_ctrl_c_stops_gd_study_quick_and_its_worker(tmp_path):
    """``gd-study --quick`` shares its jobs with a spawned worker process (no Dask): Ctrl-C
    ends both, one line, exit 130, no process of the group left behind."""
    out = tmp_path / "out"
    out_pgid = []
    rc, _, err = _interrupt(["gd-study", "--quick", "--out", str(out), "--no-progress"], out,
                            tmp_path, after=0.8, started=out_pgid.append)
    assert rc == 130, (rc, err[-2000:])
    assert err.strip().splitlines() == ["fxsim: interrupted"], err[-3000:]
    # the worker (and multiprocessing's resource tracker) end with it; zombies awaiting their
    # reaper do not count
    t0, left = time.monotonic(), ["?"]
    while left and time.monotonic() - t0 < 10:
        ps = subprocess.run(["ps", "-o", "pid=,stat=,cmd=", "-g", str(out_pgid[0])],
                            capture_output=True, text=True).stdout
        left = [ln for ln in ps.splitlines() if ln.split()[1:2] and not ln.split()[1].startswith("Z")]
        time.sleep(0.1)
    assert not left, left


def test_a_command_stuck_after_ctrl_c_is_ended_with_130(tmp_path):
    """The command line's last resort (fxsim.cli._watch_interrupts): a command whose exit is
    stuck after Ctrl-C (here on a thread that never ends) is ended STOP_GRACE s later, exit 130,
    saying why and showing the threads' stacks."""
    code = ("import os, signal, threading, time\n"
            "import fxsim.cli as cli\n"
            "cli.STOP_GRACE = 1\n"
            "cli._watch_interrupts()\n"
            "threading.Thread(target=time.sleep, args=(600,)).start()\n"
            "os.kill(os.getpid(), signal.SIGINT)\n"
            "time.sleep(600)\n")
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path)
    assert p.returncode == 130, (p.returncode, p.stderr[-2000:])
    assert "did not end within 1 s" in p.stderr and "Thread 0x" in p.stderr, p.stderr[-2000:]
    assert time.monotonic() - t0 < 60


# -- export-vectors: sizes (issue 11, point 7) --------------------------------------------------
# A huge --count/--K/--shape is refused with one line naming the option, its allowed range and
# the bytes the export would need, before OUT is created or anything is drawn; so are zero,
# negative and non-integer sizes.  The limit: fxsim.vectors.EXPORT_MAX_WORDS words in all
# .mem files of an export, EXPORT_MAX_MACS multiply-accumulates of a matmul.
from fxsim import vectors  # noqa: E402

Q88 = ["--a-fmt", "Q8.8", "--b-fmt", "Q8.8"]
HUGE = 10**14


@pytest.mark.parametrize("argv,opt", [
    (["--op", "dot", *Q88, "--K", "10000000000000"], "--K"),
    (["--op", "dot", *Q88, "--K", "16", "--count", str(HUGE)], "--count"),
    (["--op", "dot", *Q88, "--count", str(HUGE), "--K", str(HUGE)], "--K"),
    (["--op", "matmul", *Q88, "--shape", "100000,100000,100000"], "M of --shape"),
    (["--op", "matmul", *Q88, "--shape", "2000,2000,2000"], "M of --shape"),   # 12e6 words, 8e9 MACs
    (["--op", "matmul", *Q88, "--shape", "1,1,20000000"], "N of --shape"),
    (["--op", "matmul", *Q88, "--shape", "100,100", "--K", "1000000"], "--K"),
    (["--op", "cast", "--in-fmt", "Q8.8", "--fmt", "Q4.4", "--count", str(HUGE)], "--count"),
    (["--op", "add", *Q88, "--count", str(HUGE)], "--count"),
    (["--op", "sub", *Q88, "--count", str(HUGE)], "--count"),
    (["--op", "mul", *Q88, "--count", str(HUGE)], "--count"),
    (["--op", "mul", *Q88, "--count", str(2**64)], "--count"),
    # under the limit alone, over it with the draws (x, y and rnd: 3 words a case)
    (["--op", "cast", "--in-fmt", "Q8.8", "--fmt", "Q4.4", "--count", "6000000",
      "--rounding", "stochastic", "--r", "8", "--source", "lfsr:16"], "--count"),
])
def test_export_vectors_too_large(argv, opt, tmp_path, capsys):
    out = tmp_path / "new" / "out"
    msg = cli_user_error(["export-vectors", str(out)] + argv, capsys, "export-vectors")
    head, _, rest = msg.partition(" is too large: ")
    assert rest and head.startswith("--") and head in " ".join(argv), msg     # the option as given
    assert f"{opt} must be in [1, " in msg and "iB of memory" in msg and "16,777,216" in msg, msg
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("argv,opt", [
    (["--op", "cast", "--in-fmt", "Q8.8", "--fmt", "Q4.4", "--count", "0"], "--count"),
    (["--op", "cast", "--in-fmt", "Q8.8", "--fmt", "Q4.4", "--count", "-5"], "--count"),
    (["--op", "add", *Q88, "--count", "1.5"], "--count"),
    (["--op", "add", *Q88, "--count", "many"], "--count"),
    (["--op", "dot", *Q88, "--K", "1.5"], "--K"),
    (["--op", "dot", *Q88, "--K", "0"], "--K"),
    (["--op", "dot", *Q88, "--K", "-3"], "--K"),
    (["--op", "matmul", *Q88, "--shape", "3,0,2"], "--shape"),
    (["--op", "matmul", *Q88, "--shape", "3,-1,2"], "--shape"),
    (["--op", "matmul", *Q88, "--shape", "3,4"], "--shape"),                 # M,N needs --K
    (["--op", "matmul", *Q88, "--shape", "a,b,c"], "--shape"),
    (["--op", "matmul", *Q88, "--shape", "3,4,5,6"], "--shape"),
    (["--op", "matmul", *Q88, "--shape", "3,1.5,2"], "--shape"),
])
def test_export_vectors_bad_size(argv, opt, tmp_path, capsys):
    out = tmp_path / "new" / "out"
    msg = cli_user_error(["export-vectors", str(out)] + argv, capsys, "export-vectors")
    assert opt in msg and "positive integer" in msg, msg
    assert f"[1, {vectors.EXPORT_MAX_WORDS}]" in msg, msg
    assert not (tmp_path / "new").exists()


def test_export_vectors_size_limit_is_documented(capsys):
    with pytest.raises(SystemExit):
        cli.main(["export-vectors", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "at most 2**24 = 16777216 words" in out and "2**30" in out
    assert vectors.EXPORT_MAX_WORDS == 2**24 and vectors.EXPORT_MAX_MACS == 2**30
    assert "2**24" in vectors.export_vectors.__doc__


@pytest.mark.parametrize("kw,param,allowed", [
    # stochastic: cast x, y, rnd (3 words a case) and seed (1); mul a, b, y, rnd; dot and matmul
    # with exact products and accumulators draw nothing
    (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", count=HUGE), "count", "[1, 5,592,405]"),
    (dict(op="mul", in_fmt="Q8.8", count=HUGE), "count", "[1, 4,194,303]"),
    (dict(op="dot", in_fmt="Q8.8", K=10**13), "K", "[1, 8,388]"),          # count 1000
    (dict(op="dot", in_fmt="Q8.8", K=16, count=HUGE), "count", "[1, 508,400]"),
    (dict(op="matmul", in_fmt="Q8.8", shape=(10**5, 10**5, 10**5)), "shape", "M of shape must be in [1, "),
    (dict(op="matmul", in_fmt="Q8.8", shape=(100, 100), K=10**6), "shape", "K must be in [1, 83,836]"),
])
def test_export_vectors_too_large_python(kw, param, allowed, tmp_path):
    """The library refuses before drawing (the source is not advanced) and before the folder
    exists, with a ValueError naming the parameter, its allowed range and the bytes needed."""
    src = fxsim.LFSR(n=16, seed=7)
    state = src.state
    d = tmp_path / "new" / "vec"
    with pytest.raises(ValueError) as e:
        vectors.export_vectors(d, rounding="stochastic", r=4, source=src, **kw)
    msg = str(e.value)
    assert msg.startswith(param + "=") and "is too large" in msg, msg
    assert allowed in msg and "iB of .mem files" in msg and "iB of memory" in msg, msg
    assert src.state == state
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("kw,param", [
    (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", count=0), "count"),
    (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", count=-5), "count"),
    (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", count=1.5), "count"),
    (dict(op="cast", in_fmt="Q8.8", fmt="Q4.4", count=True), "count"),
    (dict(op="dot", in_fmt="Q8.8", K=1.5), "K"),
    (dict(op="dot", in_fmt="Q8.8", K=0), "K"),
    (dict(op="matmul", in_fmt="Q8.8", shape=(3, 0, 2)), "shape K"),
    (dict(op="matmul", in_fmt="Q8.8", shape=("a", "b", "c")), "shape M"),
    (dict(op="matmul", in_fmt="Q8.8", shape=(3, 4)), "shape must be"),
    (dict(op="matmul", in_fmt="Q8.8", shape=5), "shape must be"),
])
def test_export_vectors_bad_size_python(kw, param, tmp_path):
    with pytest.raises(ValueError, match=param) as e:
        vectors.export_vectors(tmp_path / "vec", **kw)
    assert "positive integer" in str(e.value) or "shape must be" in str(e.value)
    assert not (tmp_path / "vec").exists()


def test_export_vectors_limit_boundary(tmp_path, monkeypatch):
    """Exactly the budget is accepted, one word more refused (a small budget stands in)."""
    monkeypatch.setattr(vectors, "EXPORT_MAX_WORDS", 100)
    monkeypatch.setattr(vectors, "EXPORT_MAX_MACS", 1000)
    m = vectors.export_vectors(tmp_path / "c", "cast", in_fmt="Q8.8", fmt="Q4.4", count=50)
    assert m["count"] == 50                                  # x 50 + y 50 words
    with pytest.raises(ValueError, match=r"count=51 is too large.*count must be in \[1, 50\]"):
        vectors.export_vectors(tmp_path / "c1", "cast", in_fmt="Q8.8", fmt="Q4.4", count=51)
    vectors.export_vectors(tmp_path / "d", "dot", in_fmt="Q8.8", K=4, count=11)   # 88 + 11 words
    with pytest.raises(ValueError, match=r"K=5 is too large.*K must be in \[1, 4\]"):
        vectors.export_vectors(tmp_path / "d1", "dot", in_fmt="Q8.8", K=5, count=11)
    monkeypatch.setattr(vectors, "EXPORT_MAX_WORDS", 1000)
    m = vectors.export_vectors(tmp_path / "m", "matmul", in_fmt="Q8.8", shape=(10, 10, 10))
    assert m["shape"] == [10, 10, 10]                        # 300 words, 1000 MACs
    with pytest.raises(ValueError, match=r"shape=\(10, 11, 10\) is too large.*1,100 multiply-acc"
                                         r".*M of shape must be in \[1, 9\]"):
        vectors.export_vectors(tmp_path / "m1", "matmul", in_fmt="Q8.8", shape=(10, 11, 10))
    assert sorted(os.listdir(tmp_path)) == ["c", "d", "m"]
