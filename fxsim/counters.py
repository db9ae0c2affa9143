"""Per-cast statistics (spec §6).

``with fxsim.Counters() as c:`` records every cast that fxsim performs inside the block, one
``CastRecord`` per cast role of each operation; contexts nest (every active context records).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

_local = threading.local()


@dataclass(frozen=True)
class CastRecord:
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
    """Collects ``CastRecord``s; totals are available as attributes."""

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
    st = getattr(_local, "stack", None)
    if st is None:
        st = _local.stack = []
    return st


def active() -> bool:
    return bool(_stack())


def record(op: str, role: str, fmt, counts) -> None:
    """Add one record (counts = n, inexact, up, ovf, draws) to every active context."""
    st = _stack()
    if not st:
        return
    rec = CastRecord(op, role, str(fmt), *(int(c) for c in counts))
    for c in st:
        c.records.append(rec)
