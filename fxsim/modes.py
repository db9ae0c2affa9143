"""Names of the rounding, overflow and few-bit SR modes (spec §2-§3), their kernel codes, and
``CastMode``, the validated description of one cast.  The codes are declared once, as enums of
the kernels (``fxsim/_kernels.pxd``); the name tuples here are built from them."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from numbers import Integral, Real

from ._kernels import Overflow, Rounding, SRRule


def _names(codes, prefix: str) -> tuple:
    """The mode names of a kernel code enum in code order (RM_NEAREST_EVEN -> "nearest_even")."""
    return tuple(m.name[len(prefix):].lower() for m in sorted(codes.__members__.values()))


ROUNDING = _names(Rounding, "RM_")
DETERMINISTIC = ROUNDING[:Rounding.RM_STOCHASTIC]
STOCHASTIC = ROUNDING[Rounding.RM_STOCHASTIC:]
OVERFLOW = _names(Overflow, "OV_")
SR_RULES = _names(SRRule, "SR_")


def _code(kind: str, value, names) -> int:
    try:
        return names.index(value) if isinstance(value, str) else names.index(None)
    except ValueError:
        raise ValueError(f"{kind} must be one of {', '.join(names)}; got {value!r}") from None


def rounding_code(name: str) -> int:
    """The kernel code of a rounding mode (its index in ``ROUNDING``).

    >>> rounding_code("nearest_even"), rounding_code("stochastic")
    (8, 11)
    >>> rounding_code("round")
    Traceback (most recent call last):
        ...
    ValueError: rounding must be one of floor, ceil, ...; got 'round'
    """
    return _code("rounding", name, ROUNDING)


def overflow_code(name: str) -> int:
    """The kernel code of an overflow mode (its index in ``OVERFLOW``).

    >>> [overflow_code(m) for m in OVERFLOW]
    [0, 1, 2, 3]
    """
    return _code("overflow", name, OVERFLOW)


def sr_rule_code(name: str) -> int:
    """The kernel code of a few-bit SR rule (its index in ``SR_RULES``).

    >>> sr_rule_code("trunc"), sr_rule_code("rne")
    (0, 2)
    """
    return _code("sr_rule", name, SR_RULES)


@dataclass(frozen=True)
class CastMode:
    """How one cast rounds and overflows: the description every layer passes around (the
    accelerator's roles, algorithms, compressors, models, the vector exporter, plots).

    ``CastMode(rounding="nearest_even", overflow="saturate", r=None, eps=0, sr_rule="trunc")``;
    stochastic roundings need ``r`` (random bits per draw, 1..64); ``eps`` (in [0, 1)) is used by
    the ``*_eps`` roundings; ``sr_rule`` by few-bit SR.  Validated once, when built.

    >>> m = CastMode("stochastic", r=16)
    >>> m, m.stochastic, m.cast_kwargs()
    (CastMode('stochastic', 'saturate', r=16), True, {'rounding': 'stochastic', 'overflow': 'saturate', 'r': 16, 'sr_rule': 'trunc'})
    >>> CastMode.of(("nearest_even", "wrap"))
    CastMode('nearest_even', 'wrap')
    >>> CastMode("stochastic")
    Traceback (most recent call last):
        ...
    ValueError: rounding='stochastic' needs r, the random bits per draw (an integer in [1, 64])
    """
    rounding: str = "nearest_even"
    overflow: str = "saturate"
    r: int | None = None
    eps: float | Fraction = 0
    sr_rule: str = "trunc"

    def __post_init__(self):
        _code("rounding", self.rounding, ROUNDING)
        _code("overflow", self.overflow, OVERFLOW)
        _code("sr_rule", self.sr_rule, SR_RULES)
        r = self.r
        if r is not None:
            if isinstance(r, bool) or not isinstance(r, Integral) or not 1 <= r <= 64:
                raise ValueError(f"r must be an integer in [1, 64] (random bits per draw), got {r!r}")
            object.__setattr__(self, "r", int(r))
        elif self.rounding in STOCHASTIC:
            raise ValueError(f"rounding={self.rounding!r} needs r, the random bits per draw "
                             "(an integer in [1, 64])")
        e = self.eps
        if isinstance(e, bool) or not isinstance(e, Real) or e != e or not 0 <= e < 1:
            raise ValueError(f"eps must be a number in [0, 1), got {e!r}")

    @property
    def stochastic(self) -> bool:
        return self.rounding in STOCHASTIC

    def cast_kwargs(self) -> dict:
        """Keyword arguments of ``fxsim.cast`` (and the ops) for this mode, without a source."""
        kw = {"rounding": self.rounding, "overflow": self.overflow}
        if self.stochastic:
            kw.update(r=self.r, sr_rule=self.sr_rule)
            if self.rounding != "stochastic":
                kw["eps"] = self.eps
        return kw

    def replace(self, **changes) -> "CastMode":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def of(cls, value, **defaults) -> "CastMode":
        """A CastMode from a CastMode, a rounding name, a ``(rounding, overflow)`` pair or a dict
        of fields; ``defaults`` fill what ``value`` leaves out (e.g. ``r=16``)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            fields = {"rounding": value}
        elif isinstance(value, (tuple, list)) and 1 <= len(value) <= 2 \
                and all(isinstance(v, str) for v in value):
            fields = dict(zip(("rounding", "overflow"), value))
        elif isinstance(value, dict):
            unknown = sorted(set(value) - {f.name for f in dataclasses.fields(cls)})
            if unknown:
                raise ValueError(f"cast mode: unknown key(s) {unknown}; keys are rounding, "
                                 "overflow, r, eps, sr_rule")
            fields = dict(value)
        else:
            raise ValueError(f"cast mode must be a CastMode, a rounding name, a (rounding, "
                             f"overflow) pair or a dict, got {value!r}")
        stochastic = fields.get("rounding", cls.rounding) in STOCHASTIC
        for k, v in defaults.items():
            if stochastic or k not in ("r", "eps", "sr_rule"):
                fields.setdefault(k, v)
        return cls(**fields)

    def __repr__(self):
        args = [repr(self.rounding), repr(self.overflow)]
        if self.r is not None:
            args.append(f"r={self.r}")
        if self.eps:
            args.append(f"eps={self.eps!r}")
        if self.sr_rule != "trunc":
            args.append(f"sr_rule={self.sr_rule!r}")
        return f"CastMode({', '.join(args)})"
