"""How much memory an operation may still take, and the refusal before it allocates.

The limit is the smallest of: the machine's available memory (``MemAvailable``), the process's
address-space limit (``ulimit -v``, ``RLIMIT_AS``) less what it already maps, and the memory
cgroup's limit (v2 ``memory.max``, v1 ``memory.limit_in_bytes``, along the whole hierarchy) less
what the cgroup already uses: a container or a batch scheduler's limit kills a process with no
Python error, so the check must see it.
"""
from __future__ import annotations

import os

try:
    import resource
except ImportError:          # not on Windows
    resource = None

PROC_SELF = "/proc/self"
CGROUP_ROOT = "/sys/fs/cgroup"
MEMINFO = "/proc/meminfo"
CHECK_FROM = 1 << 26         # below this many bytes of output and working memory, no check
_UNLIMITED = 1 << 62


def _read_int(path: str):
    try:
        with open(path) as f:
            text = f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if text == "max":
        return _UNLIMITED
    try:
        return int(text)
    except ValueError:
        return None


def _machine_bytes() -> int:
    try:
        with open(MEMINFO) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return _UNLIMITED


def _address_space_bytes() -> int:
    """RLIMIT_AS less the process's current virtual size (VmSize)."""
    if resource is None:
        return _UNLIMITED
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    if soft == resource.RLIM_INFINITY or soft < 0:
        return _UNLIMITED
    used = 0
    try:
        with open(os.path.join(PROC_SELF, "status")) as f:
            for line in f:
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    return max(0, soft - used)


def _cgroup_dirs():
    """(directory, limit file, usage file) for the process's memory cgroup and its ancestors."""
    try:
        with open(os.path.join(PROC_SELF, "cgroup")) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    dirs = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hid, controllers, path = parts
        if hid == "0" and controllers == "":
            base, files = CGROUP_ROOT, ("memory.max", "memory.current")
            if os.path.isdir(os.path.join(CGROUP_ROOT, "unified")) and not os.path.exists(
                    os.path.join(CGROUP_ROOT, "cgroup.controllers")):
                base = os.path.join(CGROUP_ROOT, "unified")         # hybrid layout
        elif "memory" in controllers.split(","):
            base, files = os.path.join(CGROUP_ROOT, "memory"), ("memory.limit_in_bytes",
                                                                 "memory.usage_in_bytes")
        else:
            continue
        rel = path.strip("/")
        while True:
            d = os.path.join(base, rel) if rel else base
            dirs.append((d, *files))
            if not rel:
                break
            rel = os.path.dirname(rel)
    return dirs


def _cgroup_bytes() -> int:
    room = _UNLIMITED
    for d, limit_file, usage_file in _cgroup_dirs():
        limit = _read_int(os.path.join(d, limit_file))
        if limit is None or limit >= _UNLIMITED:
            continue
        usage = _read_int(os.path.join(d, usage_file)) or 0
        room = min(room, max(0, limit - usage))
    return room


def available_bytes() -> int:
    """Memory the process may still take (see the module docstring); 2**62 when nothing is known.

    >>> 0 < available_bytes() <= 2**62
    True
    """
    return min(_machine_bytes(), _address_space_bytes(), _cgroup_bytes())


def check_memory(op: str, shape, nbytes: int) -> None:
    """Refuse, before allocating, an operation whose result and working memory (``nbytes``)
    exceed the memory available.

    >>> check_memory("add", (10, 10), 800)              # small requests are never checked
    >>> check_memory("add", (10**6, 10**6), 2**61)
    Traceback (most recent call last):
        ...
    MemoryError: add: a result of shape (1000000, 1000000) needs 2,305,843,009,213,693,952 bytes ...
    """
    if nbytes < CHECK_FROM:
        return
    avail = available_bytes()
    if nbytes > avail:
        raise MemoryError(
            f"{op}: a result of shape {tuple(shape)} needs {nbytes:,} bytes "
            f"({nbytes / 2**30:.1f} GiB) of output and working memory; only {avail:,} bytes "
            f"({avail / 2**30:.1f} GiB) are available")
