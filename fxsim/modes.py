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


def check_name(kind: str, value, names) -> int:
    """The code of ``value`` (its index in ``names``), or a ValueError naming ``kind`` and the
    allowed names.

    >>> check_name("acc_overflow", "wrap", OVERFLOW)
    2
    """
    if isinstance(value, str) and value in names:
        return names.index(value)
    raise ValueError(f"{kind} must be one of {', '.join(names)}; got {value!r}")


def check_r(r) -> int | None:
    """Random bits per draw: None or an integer in [1, 64].

    >>> check_r(16), check_r(None)
    (16, None)
    """
    if r is None:
        return None
    if isinstance(r, bool) or not isinstance(r, Integral) or not 1 <= r <= 64:
        raise ValueError(f"r must be an integer in [1, 64] (random bits per draw), got {r!r}")
    return int(r)


def check_eps(eps) -> Fraction:
    """eps as an exact Fraction in [0, 1); any real number type (float, numpy floats, Fraction,
    int).

    >>> check_eps(0.25), check_eps(Fraction(1, 3))
    (Fraction(1, 4), Fraction(1, 3))
    """
    if isinstance(eps, bool) or not isinstance(eps, Real):
        raise ValueError(f"eps must be a number in [0, 1), got {eps!r}")
    e = eps if isinstance(eps, Fraction) else Fraction(int(eps)) if isinstance(eps, Integral) \
        else float(eps)
    if e != e or not 0 <= e < 1:
        raise ValueError(f"eps must be a number in [0, 1), got {eps!r}")
    return Fraction(e)


def rounding_code(name: str) -> int:
    """The kernel code of a rounding mode (its index in ``ROUNDING``).

    >>> rounding_code("nearest_even"), rounding_code("stochastic")
    (8, 11)
    >>> rounding_code("round")
    Traceback (most recent call last):
        ...
    ValueError: rounding must be one of floor, ceil, ...; got 'round'
    """
    return check_name("rounding", name, ROUNDING)


def overflow_code(name: str) -> int:
    """The kernel code of an overflow mode (its index in ``OVERFLOW``).

    >>> [overflow_code(m) for m in OVERFLOW]
    [0, 1, 2, 3]
    """
    return check_name("overflow", name, OVERFLOW)


def sr_rule_code(name: str) -> int:
    """The kernel code of a few-bit SR rule (its index in ``SR_RULES``).

    >>> sr_rule_code("trunc"), sr_rule_code("rne")
    (0, 2)
    """
    return check_name("sr_rule", name, SR_RULES)


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
        check_name("rounding", self.rounding, ROUNDING)
        check_name("overflow", self.overflow, OVERFLOW)
        check_name("sr_rule", self.sr_rule, SR_RULES)
        object.__setattr__(self, "r", check_r(self.r))
        if self.r is None and self.rounding in STOCHASTIC:
            raise ValueError(f"rounding={self.rounding!r} needs r, the random bits per draw "
                             "(an integer in [1, 64])")
        check_eps(self.eps)

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
