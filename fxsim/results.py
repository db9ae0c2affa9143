"""What every algorithm's result shares: per-step arrays, ``len()`` and ``to_rows()``.

``History`` (GD/SGD), ``Trace`` (LP-SGD, SVRG, LP-SVRG, HALP), ``TrackingResult`` (gradient
tracking) and ``Run`` (SGLD/SGHMC) derive from ``StepResult``.  A subclass names its per-step
arrays in ``step_fields``; ``len(result)`` is the number of records (the start point included
where the algorithm records it) and ``to_rows()`` gives one dict per record, ``{"step": k,
field: value, ...}``.  A per-iteration array one entry shorter than the records (a counter of
what iteration k did, k = 1..n) gets 0 at the start record.

Counter names are the ones of ``fxsim.Counters``: ``overflowed`` (casts that overflowed, i.e.
saturated, wrapped or raised) and ``inexact`` (casts that changed the value); the older names
``saturated`` and ``rounded`` remain as aliases.
"""
from __future__ import annotations

import numpy as np

__all__ = ["StepResult", "either_name"]


def _item(v):
    return v.item() if isinstance(v, np.generic) else v


def either_name(new, old, new_name: str, old_name: str):
    """The value of a field passed under its new name or its old one (not both).

    >>> either_name(None, 3, "overflowed", "saturated")
    3
    >>> either_name(1, 3, "overflowed", "saturated")
    Traceback (most recent call last):
        ...
    ValueError: saturated: is the old name of overflowed; give one of them
    """
    if old is None:
        return new
    if new is not None:
        raise ValueError(f"{old_name}: is the old name of {new_name}; give one of them")
    return old


class StepResult:
    """Base of the algorithms' results (module doc).

    >>> class R(StepResult):
    ...     step_fields = ("loss", "moved")
    ...     def __init__(self, loss, moved):
    ...         self.loss, self.moved = np.asarray(loss), np.asarray(moved)
    >>> r = R([4.0, 1.0, 0.5], [3, 1])
    >>> len(r), r.to_rows()
    (3, [{'step': 0, 'loss': 4.0, 'moved': 0}, {'step': 1, 'loss': 1.0, 'moved': 3}, {'step': 2, 'loss': 0.5, 'moved': 1}])
    """

    step_fields: tuple = ()

    def __len__(self) -> int:
        return len(getattr(self, self.step_fields[0]))

    def steps(self) -> dict:
        """The per-step arrays by name, each ``len(self)`` long (per-iteration counters get 0
        at the start record)."""
        n = len(self)
        out = {}
        for name in self.step_fields:
            a = np.asarray(getattr(self, name))
            if len(a) == n - 1:
                a = np.concatenate([np.zeros((1,) + a.shape[1:], dtype=a.dtype), a])
            out[name] = a
        return out

    def to_rows(self) -> list:
        """One dict per record: ``{"step": k, <field>: value, ...}`` (Python scalars)."""
        cols = self.steps()
        return [{"step": k, **{name: _item(a[k]) for name, a in cols.items()}}
                for k in range(len(self))]
