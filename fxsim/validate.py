"""Argument validators shared by the algorithms, samplers and models.

Each takes the parameter's name first and the value second, returns the value converted
(``float``/``int``/``QFormat``), and raises ``ValueError`` with a message that names the
parameter and the allowed range: ``"<name>: must be ..., got <value>"``.

>>> positive("alpha", 0.5), integer("T", 3, 1), probability("p", 1)
(0.5, 3, 1.0)
>>> integer("batch", 0, 1, 100)
Traceback (most recent call last):
    ...
ValueError: batch: must be an integer in 1..100, got 0
"""
from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

__all__ = ["real", "positive", "non_negative", "in_range", "probability", "integer", "one_of",
           "bits", "seed", "signed_format", "chains"]


def _is_real(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)


def real(name: str, v) -> float:
    """A finite real number.

    >>> real("var", float("nan"))
    Traceback (most recent call last):
        ...
    ValueError: var: must be a finite real number, got nan
    """
    if not _is_real(v):
        raise ValueError(f"{name}: must be a finite real number, got {v!r}")
    return float(v)


def positive(name: str, v) -> float:
    """A finite number > 0.

    >>> positive("mu", 0.0)
    Traceback (most recent call last):
        ...
    ValueError: mu: must be a positive finite number (> 0), got 0.0
    """
    if not (_is_real(v) and v > 0):
        raise ValueError(f"{name}: must be a positive finite number (> 0), got {v!r}")
    return float(v)


def non_negative(name: str, v) -> float:
    """A finite number >= 0.

    >>> non_negative("grad_noise", -1)
    Traceback (most recent call last):
        ...
    ValueError: grad_noise: must be a non-negative finite number (>= 0), got -1
    """
    if not (_is_real(v) and v >= 0):
        raise ValueError(f"{name}: must be a non-negative finite number (>= 0), got {v!r}")
    return float(v)


def in_range(name: str, v, lo: float, hi: float, *, lo_open=False, hi_open=False) -> float:
    """A finite number in the interval lo..hi (each end closed unless ``*_open``).

    >>> in_range("gamma", 1.5, 0, 1, lo_open=True)
    Traceback (most recent call last):
        ...
    ValueError: gamma: must be a number in (0, 1], got 1.5
    """
    ok = _is_real(v) and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise ValueError(f"{name}: must be a number in {interval}, got {v!r}")
    return float(v)


def probability(name: str, v) -> float:
    """A number in [0, 1].

    >>> probability("p", 0.25)
    0.25
    """
    return in_range(name, v, 0, 1)


def integer(name: str, v, lo: int | None = None, hi: int | None = None) -> int:
    """An integer (not a bool) in lo..hi (either bound may be None).

    >>> integer("epochs", -1, 0)
    Traceback (most recent call last):
        ...
    ValueError: epochs: must be an integer >= 0, got -1
    """
    ok = isinstance(v, Integral) and not isinstance(v, bool)
    ok = ok and (lo is None or v >= lo) and (hi is None or v <= hi)
    if not ok:
        if lo is not None and hi is not None:
            rng = f" in {lo}..{hi}"
        elif lo is not None:
            rng = f" >= {lo}"
        elif hi is not None:
            rng = f" <= {hi}"
        else:
            rng = ""
        raise ValueError(f"{name}: must be an integer{rng}, got {v!r}")
    return int(v)


def one_of(name: str, v, choices):
    """``v`` if it is one of ``choices``.

    >>> one_of("scale", "log", ("pow2", "exact"))
    Traceback (most recent call last):
        ...
    ValueError: scale: must be one of pow2, exact, got 'log'
    """
    if not isinstance(v, str) or v not in choices:
        raise ValueError(f"{name}: must be one of {', '.join(map(str, choices))}, got {v!r}")
    return v


def bits(name: str, v, lo: int = 2, hi: int = 64) -> int:
    """A word length in lo..hi bits.

    >>> bits("b", 1)
    Traceback (most recent call last):
        ...
    ValueError: b: word length must be an integer in 2..64, got 1
    """
    if not (isinstance(v, (Integral, np.integer)) and not isinstance(v, bool) and lo <= v <= hi):
        raise ValueError(f"{name}: word length must be an integer in {lo}..{hi}, got {v!r}")
    return int(v)


def seed(name: str, v):
    """A seed: a non-negative integer or a ``numpy.random.SeedSequence`` (returned as is).

    >>> seed("seed", -1)
    Traceback (most recent call last):
        ...
    ValueError: seed: must be a non-negative integer or a numpy.random.SeedSequence, got -1
    """
    if isinstance(v, np.random.SeedSequence):
        return v
    if isinstance(v, bool) or not isinstance(v, Integral) or v < 0:
        raise ValueError(f"{name}: must be a non-negative integer or a "
                         f"numpy.random.SeedSequence, got {v!r}")
    return int(v)


def signed_format(name: str, fmt, max_wl: int | None = None, why: str = ""):
    """The signed ``QFormat`` named by ``fmt`` (a QFormat or a string such as ``"Q(8,3)"``),
    at most ``max_wl`` bits wide.

    >>> signed_format("fmt", "Q(8,3)")
    QFormat(wl=8, fl=3, signed=True)
    >>> signed_format("grad_fmt", "UQ0.8")
    Traceback (most recent call last):
        ...
    ValueError: grad_fmt: must be a signed format, got UQ(8,8)
    """
    from .qformat import qformat
    try:
        f = qformat(fmt)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{name}: {e}") from None
    if not f.signed:
        raise ValueError(f"{name}: must be a signed format{why}, got {f}")
    if max_wl is not None and f.wl > max_wl:
        raise ValueError(f"{name}: word length must be at most {max_wl} bits, got wl={f.wl}")
    return f


def chains(name: str, v, dim: int) -> np.ndarray:
    """A float64 array of shape (chains, dim), one row per chain (with dim = 1 a vector is
    read as one value per chain).

    >>> chains("theta", [0.5, 1.0], 1).shape
    (2, 1)
    >>> chains("theta", np.zeros((3, 2)), 1)
    Traceback (most recent call last):
        ...
    ValueError: theta: expected shape (chains, 1), got (3, 2)
    """
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 1 and dim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] != dim:
        raise ValueError(f"{name}: expected shape (chains, {dim}), got {a.shape}")
    return a
