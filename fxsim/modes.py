"""Names of the rounding, overflow and few-bit SR modes (spec §2-§3) and their kernel codes."""

ROUNDING = (
    "floor", "ceil", "toward_zero", "away_from_zero", "nearest_up", "nearest_down",
    "nearest_zero", "nearest_away", "nearest_even", "nearest_odd", "jam",
    "stochastic", "stochastic_eps", "signed_stochastic_eps",
)
DETERMINISTIC = ROUNDING[:11]
STOCHASTIC = ROUNDING[11:]
OVERFLOW = ("saturate", "saturate_symmetric", "wrap", "error")
SR_RULES = ("trunc", "half", "rne")


def _code(kind: str, value, names) -> int:
    try:
        return names.index(value)
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
