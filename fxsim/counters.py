"""Per-cast statistics (spec §6).

``with fxsim.Counters() as c:`` records every cast that fxsim performs inside the block, one
``CastRecord`` per cast role of each operation; contexts nest (every active context records).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

class _Local(threading.local):
    def __init__(self):
        self.stack = []        # every thread starts with an empty stack (no lookup miss)


_local = _Local()
thread_state = _local   # per thread: .stack, the active blocks (read in C by fxsim._small)


@dataclass(frozen=True)
class CastRecord:
    """One cast role of one operation: counts of values cast, inexact, rounded up,
    overflowed and random draws consumed.

    >>> import fxsim
    >>> with fxsim.Counters() as c:
    ...     _ = fxsim.cast([0.3, 9.0], "Q4.4", "nearest_even", "saturate")
    >>> c.records[0]
    CastRecord(op='cast', role='out', fmt='Q(8,4)', cast=2, inexact=1, rounded_up=1, overflowed=1, draws=0)
    """
    op: str            # "cast", "add", "sub", "mul", "dot", "matvec", "matmul"
    role: str          # "out", "prod" or "acc"
    fmt: str           # target format, e.g. "Q8.8"
    cast: int          # values cast
    inexact: int       # values with a non-zero discarded fraction
    rounded_up: int    # values that returned q + 1
    overflowed: int    # values outside the format's range after rounding
    draws: int         # random draws consumed


@dataclass(eq=False)
class Counters:
    """Collects ``CastRecord``s; totals are available as attributes.

    >>> import numpy as np, fxsim
    >>> with fxsim.Counters() as c:
    ...     x = fxsim.cast(np.array([0.1, 0.25, 100.0]), "Q4.4", "nearest_even", "saturate")
    >>> c.cast, c.inexact, c.overflowed, c.draws
    (3, 1, 1, 0)
    >>> print(c.summary())
    op      role  fmt                 cast     inexact          up  overflow       draws
    -------...
    cast    out   Q(8,4)                 3           1           1         1           0
    total                                3           1           1         1           0
    """

    records: list = field(default_factory=list)

    def __enter__(self) -> "Counters":
        _stack().append(self)
        return self

    def __exit__(self, *exc) -> None:
        _stack().remove(self)

    def _total(self, name: str) -> int:
        return sum(getattr(r, name) for r in self.records)

    cast = property(lambda self: self._total("cast"))
    inexact = property(lambda self: self._total("inexact"))
    rounded_up = property(lambda self: self._total("rounded_up"))
    overflowed = property(lambda self: self._total("overflowed"))
    draws = property(lambda self: self._total("draws"))

    def reset(self) -> None:
        self.records.clear()

    def summary(self) -> str:
        """A table of the records, one line per (op, role, fmt), plus the total."""
        rows: dict = {}
        for r in self.records:
            key = (r.op, r.role, r.fmt)
            acc = rows.setdefault(key, [0, 0, 0, 0, 0])
            for i, v in enumerate((r.cast, r.inexact, r.rounded_up, r.overflowed, r.draws)):
                acc[i] += v
        head = f"{'op':<8}{'role':<6}{'fmt':<12}{'cast':>12}{'inexact':>12}{'up':>12}{'overflow':>10}{'draws':>12}"
        lines = [head, "-" * len(head)]
        for (op, role, fmt), v in rows.items():
            lines.append(f"{op:<8}{role:<6}{fmt:<12}" + "".join(f"{x:>12}" if i != 3 else f"{x:>10}" for i, x in enumerate(v)))
        tot = [self.cast, self.inexact, self.rounded_up, self.overflowed, self.draws]
        lines.append(f"{'total':<26}" + "".join(f"{x:>12}" if i != 3 else f"{x:>10}" for i, x in enumerate(tot)))
        return "\n".join(lines)


def _stack() -> list:
    return _local.stack


def active() -> bool:
    """True inside at least one ``with Counters()`` block (then casts are recorded).

    >>> active()
    False
    >>> with Counters():
    ...     active()
    True
    """
    return bool(_local.stack)


def record(op: str, role: str, fmt, counts) -> None:
    """Add one record (counts = n, inexact, up, ovf, draws) to every active context.

    >>> with Counters() as c:
    ...     record("cast", "out", "Q8.8", (4, 2, 1, 0, 0))
    >>> c.cast, c.inexact, c.rounded_up
    (4, 2, 1)
    """
    st = _local.stack
    if not st:
        return
    rec = _new_record(op, role, str(fmt),
                      counts.tolist() if hasattr(counts, "tolist") else list(map(int, counts)))
    for c in st:
        c.records.append(rec)


_object_new = object.__new__


def _new_record(op: str, role: str, fmt: str, counts) -> CastRecord:
    """``CastRecord(op, role, fmt, *counts)`` written straight into its ``__dict__``, as the
    frozen dataclass's ``__init__`` does field by field at 3x the cost (a record per operation
    of a GD step inside ``Counters``)."""
    rec = _object_new(CastRecord)
    d = rec.__dict__
    d["op"], d["role"], d["fmt"] = op, role, fmt
    d["cast"], d["inexact"], d["rounded_up"], d["overflowed"], d["draws"] = counts
    return rec


def record_rows(labels, rows) -> None:
    """``record`` of every (op, role, fmt) label with its row of ``rows`` (an int array, one
    row of counts per label), in order: one list of CastRecords shared by every active context.

    >>> import numpy as np
    >>> with Counters() as c:
    ...     record_rows([("cast", "out", "Q8.8"), ("add", "out", "Q8.8")],
    ...                 np.array([[4, 2, 1, 0, 0], [3, 0, 0, 0, 0]]))
    >>> c.cast, c.inexact
    (7, 2)
    """
    st = _stack()
    if st:
        recs = [CastRecord(op, role, str(fmt), *row)
                for (op, role, fmt), row in zip(labels, rows.tolist())]
        for c in st:
            c.records.extend(recs)
