"""The memory check sees the limits a process really runs under (ulimit -v, cgroups) and runs
before any conversion of the input, so a call too big for them is refused with fxsim's own
message naming the shape, never numpy's flat-shape MemoryError or the OOM killer."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fxsim
from fxsim import _memory

ROOM = 3 << 30     # address space left to the child after its imports

CHILD = textwrap.dedent("""
    import resource, sys
    import numpy as np
    import fxsim
    with open("/proc/self/status") as f:
        vm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + {room}, resource.RLIM_INFINITY))
    try:
        {call}
    except MemoryError as e:
        print("MemoryError:", e)
    else:
        print("no error")
""")


def _run_limited(call: str) -> str:
    code = CHILD.format(room=ROOM, call=call)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout.strip()


pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and RLIMIT_AS")


def test_address_space_limit_refuses_broadcast_add():
    # 60000 x 60000 Q8.8 words = 7.2 GB > 3 GiB of address space; the machine has more
    out = _run_limited('fxsim.add(fxsim.cast(np.ones((1, 60000)), "Q4.4"), '
                       'fxsim.cast(np.ones((60000, 1)), "Q4.4"), fmt="Q8.8")')
    assert out.startswith("MemoryError: add: a result of shape (60000, 60000) needs"), out
    assert "available" in out


def test_address_space_limit_refuses_cast_before_converting_a_broadcast_view():
    # the int8 output (0.9 GB) fits; the float64 copy of the broadcast integers (7.2 GB) does not
    out = _run_limited('fxsim.cast(np.broadcast_to(np.int8(3), (30000, 30000)), "Q4.4")')
    assert out.startswith("MemoryError: cast: a result of shape (30000, 30000) needs"), out


def test_address_space_limit_allows_what_fits():
    out = _run_limited('print(fxsim.cast(np.broadcast_to(np.int8(3), (3000, 3000)), "Q4.4").raw[0, 0])')
    assert out.splitlines() == ["48", "no error"]


def _fake_cgroup(tmp_path, monkeypatch, version, limit, usage):
    proc = tmp_path / "proc"
    proc.mkdir()
    root = tmp_path / "cg"
    if version == 2:
        (proc / "cgroup").write_text("0::/job/step\n")
        d = root / "job" / "step"
        d.mkdir(parents=True)
        (root / "cgroup.controllers").write_text("memory\n")
        (d / "memory.max").write_text(f"{limit}\n")
        (d / "memory.current").write_text(f"{usage}\n")
        (root / "job" / "memory.max").write_text("max\n")
    else:
        (proc / "cgroup").write_text("5:cpu:/\n4:memory:/job/step\n0::/\n")
        d = root / "memory" / "job"
        d.mkdir(parents=True)
        (d / "memory.limit_in_bytes").write_text(f"{limit}\n")   # the parent holds the limit
        (d / "memory.usage_in_bytes").write_text(f"{usage}\n")
        (d / "step").mkdir()
        (d / "step" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
        (d / "step" / "memory.usage_in_bytes").write_text("1\n")
    (proc / "status").write_text("VmSize:\t1000 kB\n")
    monkeypatch.setattr(_memory, "PROC_SELF", str(proc))
    monkeypatch.setattr(_memory, "CGROUP_ROOT", str(root))


@pytest.mark.parametrize("version", [1, 2])
def test_cgroup_limit_is_honoured(tmp_path, monkeypatch, version):
    _fake_cgroup(tmp_path, monkeypatch, version, limit=1 << 30, usage=300 << 20)
    assert _memory.available_bytes() == (1 << 30) - (300 << 20)
    a = fxsim.cast(np.ones((1, 30000)), "Q4.4")
    with pytest.raises(MemoryError, match=r"add: a result of shape \(30000, 30000\) needs 1,800,000,000 bytes"):
        fxsim.add(a, a.reshape(30000, 1), fmt="Q8.8")


def test_unlimited_cgroup_leaves_the_machine_figure(tmp_path, monkeypatch):
    _fake_cgroup(tmp_path, monkeypatch, 2, limit="max", usage=5)
    assert _memory.available_bytes() == min(_memory._machine_bytes(), _memory._address_space_bytes())


def test_real_figure_is_positive_and_below_the_machine():
    avail = _memory.available_bytes()
    assert 0 < avail <= _memory._machine_bytes()
