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

# every study sub-command and the module whose ``run`` it calls
STUDIES = {"gd-study": gd_rounding, "compare-rng": compare_rng, "halp-study": halp,
           "amplification-study": amplification, "tracking-study": tracking,
           "sampler-study": samplers}


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
    cli._add_compare_rng_parser(sub)
    cli._add_gd_study_parser(sub)
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


def _interrupt(argv, out, tmp_path, after=2.5):
    """Start ``python -m fxsim.cli argv`` in its own process group and, ``after`` s after its
    output folder ``out`` appears (the study is under way), send SIGINT to the whole group
    (what Ctrl-C in a terminal does, worker processes included)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-m", "fxsim.cli"] + argv, cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
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
