"""How ``FixedArray`` operators cast their results (MATLAB's ``fimath``, as a ``with`` block).

``with fxsim.context(rounding=..., overflow=..., result=..., acc=..., source=...):`` sets, for
the current thread and until the block ends, the rule of every operator (``+ - * @ / << >>``,
``abs``, ``sum``, indexing assignment, numpy ufuncs on FixedArrays).  Blocks nest: a block
changes only what it names and inherits the rest.  The explicit functions (``fxsim.add``,
``fxsim.cast``, ...) never read the context.

The default context is exact: results grow to the full-precision format (add/sub one integer
bit, mul wl_a + wl_b), and a cast that an operator has to make (indexing assignment, a result
format) must be exact and in range, else it raises.

``rounding`` (a name of ``fxsim.ROUNDING``; None: exact, an inexact result raises ValueError),
``overflow`` (a name of ``fxsim.OVERFLOW``; None: ``"error"``), ``r``, ``eps``, ``sr_rule`` (as in
``CastMode``), or ``mode=`` (a whole ``CastMode``) instead of the five; ``result``: ``"full"``
(exact growth), ``"left"`` (the left operand's format: a register that keeps its width) or a
format (every result cast into it); ``acc``: the accumulator format of ``sum``, ``cumsum``
and ``@`` (None: exact accumulation), cast after every addition (spec §4 order); ``source``:
the bit source of stochastic roundings.  (An exact context proves a cast exact by casting
twice, flooring and ceiling: ``fxsim.Counters`` records both.)

>>> import fxsim
>>> with fxsim.context(rounding="nearest_even", overflow="saturate", result="Q4.4"):
...     get_context().result, get_context().mode
(QFormat(wl=8, fl=4, signed=True), CastMode('nearest_even', 'saturate'))
>>> get_context().result, get_context().mode
('full', None)

The context is a frozen record, so it can describe any kind of operand: a float-format array
(``FloatArray``) reads the same ``mode``/``result``/``source`` (see docs/architecture.md).
"""
from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass

from .modes import OVERFLOW, ROUNDING, SR_RULES, CastMode, check_eps, check_name, check_r
from .qformat import QFormat, qformat

GROWTH_RULES = ("full", "left")


@dataclass(frozen=True)
class Context:
    """One operator context (see the module docstring); build it with ``fxsim.context``.

    >>> Context(rounding="floor", result=QFormat(8, 4)).describe()
    'rounding=floor, overflow=error, result=Q(8,4)'
    """
    rounding: str | None = None
    overflow: str | None = None
    r: int | None = None
    eps: object = 0
    sr_rule: str = "trunc"
    result: object = "full"
    acc: QFormat | None = None
    source: object = None

    #: the ``CastMode`` of an operator's cast, None in an exact context (whose casts use floor
    #: and ceil to prove exactness, with ``overflow``, ``"error"`` by default); built once
    mode: CastMode | None = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "mode", None if self.rounding is None else CastMode(
            self.rounding, self.overflow or "error", self.r, self.eps, self.sr_rule))

    @property
    def exact(self) -> bool:
        """No rounding allowed: an operator's cast must be exact (else ValueError)."""
        return self.rounding is None

    @property
    def overflow_mode(self) -> str:
        return self.overflow or "error"

    def describe(self) -> str:
        rnd = "exact" if self.rounding is None else self.rounding
        return f"rounding={rnd}, overflow={self.overflow_mode}, result={self.result}"


DEFAULT = Context()
_local = threading.local()


def get_context() -> Context:
    """The operator context of this thread (``DEFAULT`` outside every ``with`` block).

    >>> get_context() is DEFAULT
    True
    """
    return getattr(_local, "ctx", DEFAULT)


def _check_result(result):
    if isinstance(result, str) and result in GROWTH_RULES:
        return result
    try:
        return qformat(result)
    except ValueError:
        raise ValueError(f"result must be one of {', '.join(GROWTH_RULES)} or a format "
                         f"('Q8.8', QFormat(16, 8)), got {result!r}") from None


_UNSET = object()


def context(*, rounding=_UNSET, overflow=_UNSET, r=_UNSET, eps=_UNSET, sr_rule=_UNSET,
            mode=_UNSET, result=_UNSET, acc=_UNSET, source=_UNSET) -> "ContextBlock":
    """A ``with`` block in which FixedArray operators cast their results as told (see the
    module docstring); thread-local and nestable.  Every argument is checked at once (a
    ValueError naming it).  The block is an object that can be kept and entered again, in any
    thread and nested in itself (MATLAB's ``fimath`` kept in a variable); what it does not name
    is inherited from the context current where it is entered.

    >>> import fxsim
    >>> a = fxsim.cast([1.5, -0.75], "Q4.4")
    >>> with context(result="left", rounding="nearest_even", overflow="saturate"):
    ...     (a * a).to_float()
    array([2.25  , 0.5625])
    >>> with context(result="Q4.1"):
    ...     a * a
    Traceback (most recent call last):
    ...
    ValueError: a * b: the result is not exact in Q(5,1) (first at index (0,)); ...
    >>> floor44 = context(rounding="floor", overflow="saturate", result="Q4.4")
    >>> with floor44:
    ...     (a * a).to_float()
    array([2.25  , 0.5625])
    >>> with floor44:                   # the same block again
    ...     (a * a * a).to_float()
    array([ 3.375 , -0.4375])
    """
    changes = {}
    if mode is not _UNSET:
        given = [k for k, v in (("rounding", rounding), ("overflow", overflow), ("r", r),
                                ("eps", eps), ("sr_rule", sr_rule)) if v is not _UNSET]
        if given:
            raise ValueError(f"context: pass either mode= or {', '.join(k + '=' for k in given)}, "
                             "not both")
        m = CastMode.of(mode)
        changes.update(rounding=m.rounding, overflow=m.overflow, r=m.r, eps=m.eps,
                       sr_rule=m.sr_rule)
    else:
        if rounding is not _UNSET:
            if rounding is not None:
                check_name("rounding", rounding, ROUNDING)
            changes["rounding"] = rounding
        if overflow is not _UNSET:
            if overflow is not None:
                check_name("overflow", overflow, OVERFLOW)
            changes["overflow"] = overflow
        if r is not _UNSET:
            changes["r"] = check_r(r)
        if eps is not _UNSET:
            check_eps(eps)
            changes["eps"] = eps
        if sr_rule is not _UNSET:
            check_name("sr_rule", sr_rule, SR_RULES)
            changes["sr_rule"] = sr_rule
    if result is not _UNSET:
        changes["result"] = "full" if result is None else _check_result(result)
    if acc is not _UNSET:
        changes["acc"] = None if acc is None else qformat(acc)
    if source is not _UNSET:
        if source is not None and not callable(getattr(source, "draws", None)):
            raise ValueError(f"source must be a bit source (fxsim.LFSR, fxsim.Ideal, "
                             f"fxsim.make_source(spec)), got {type(source).__name__}")
        changes["source"] = source
    return ContextBlock(changes)


class ContextBlock:
    """A ``with`` block made by ``fxsim.context``: the changes it makes to the current context.
    Entering it again (later, nested, or in another thread) applies them to the context current
    there; leaving restores that context.

    >>> sat = context(overflow="saturate")
    >>> sat
    fxsim.context(overflow='saturate')
    >>> with context(rounding="floor"):
    ...     with sat as c:
    ...         (c.rounding, c.overflow)
    ('floor', 'saturate')
    """

    __slots__ = ("changes", "_saved")

    def __init__(self, changes):
        self.changes = dict(changes)
        self._saved = threading.local()

    def __enter__(self) -> Context:
        ctx = get_context()
        new = dataclasses.replace(ctx, **self.changes)   # builds (and so checks) its CastMode
        stack = getattr(self._saved, "stack", None)
        if stack is None:
            stack = self._saved.stack = []
        stack.append(ctx)
        _local.ctx = new
        return new

    def __exit__(self, *exc) -> None:
        _local.ctx = self._saved.stack.pop()

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.changes.items())
        return f"fxsim.context({inner})"
