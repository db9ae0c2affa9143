"""How a ``FixedArray`` prints: numpy's layout (aligned columns, summarised long arrays) with the
format in the header, as values, raw words, binary or hex; ``fxsim.set_printoptions``.

>>> import numpy as np, fxsim
>>> a = fxsim.FixedArray(np.array([3, -2, 127]), "Q4.4")
>>> a
FixedArray(Q(8,4), [ 0.1875, -0.125 ,  7.9375])
>>> with fxsim.printoptions(view="hex"):
...     print(repr(a))
FixedArray(Q(8,4), hex=[03, fe, 7f])
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

from .bits import patterns

VIEWS = ("value", "raw", "bin", "hex")
_DEFAULTS = {"view": "value", "threshold": 1000, "edgeitems": 3, "linewidth": 88}
_local = threading.local()


def get_printoptions() -> dict:
    """The print options of this thread: ``view`` (value, raw, bin or hex), ``threshold``
    (more elements than this are summarised), ``edgeitems``, ``linewidth``.

    >>> get_printoptions()["view"]
    'value'
    """
    return dict(getattr(_local, "opts", _DEFAULTS))


def _checked(**opts) -> dict:
    new = get_printoptions()
    for k, v in opts.items():
        if v is None:
            continue
        if k == "view":
            if v not in VIEWS:
                raise ValueError(f"view must be one of {', '.join(VIEWS)}, got {v!r}")
        elif isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{k} must be a positive integer, got {v!r}")
        new[k] = v
    return new


def set_printoptions(view=None, threshold=None, edgeitems=None, linewidth=None) -> None:
    """Set how FixedArrays print in this thread (None keeps an option).

    >>> set_printoptions(view="bin"); get_printoptions()["view"]
    'bin'
    >>> set_printoptions(view="value")
    """
    _local.opts = _checked(view=view, threshold=threshold, edgeitems=edgeitems,
                           linewidth=linewidth)


@contextlib.contextmanager
def printoptions(**opts):
    """``set_printoptions`` for the duration of a ``with`` block.

    >>> import fxsim
    >>> with printoptions(view="raw"):
    ...     fxsim.FixedArray([3, -2], "Q4.4")
    FixedArray(Q(8,4), raw=[3, -2])
    """
    old = get_printoptions()
    _local.opts = _checked(**opts)
    try:
        yield get_printoptions()
    finally:
        _local.opts = old


def words_as_text(raw: np.ndarray, fmt, view: str) -> np.ndarray:
    """Every word as text: its raw integer, its wl-bit binary or its ceil(wl/4)-digit hex
    pattern (two's complement).

    >>> from fxsim import QFormat
    >>> words_as_text(np.array([3, -2], dtype=np.int8), QFormat(6, 2), "bin").tolist()
    ['000011', '111110']
    """
    if view == "raw":
        return np.array([str(int(m)) for m in raw.reshape(-1)], dtype=object).reshape(raw.shape)
    u = patterns(raw, fmt).reshape(-1)
    spec = f"0{fmt.wl}b" if view == "bin" else f"0{(fmt.wl + 3) // 4}x"
    return np.array([format(int(w), spec) for w in u], dtype=object).reshape(raw.shape)


def array_repr(a) -> str:
    """``FixedArray(<fmt>, [...])``: values as numpy prints them (the shortest decimal that
    reads back as the same double: exact for wl <= 53), or ``raw=``/``bin=``/``hex=`` words.

    >>> import fxsim
    >>> print(array_repr(fxsim.FixedArray([[1, 2], [-3, 40]], "Q(8,3)")))
    FixedArray(Q(8,3), [[ 0.125,  0.25 ],
                      [-0.375,  5.   ]])
    """
    o = get_printoptions()
    view, head = o["view"], f"FixedArray({a.fmt}, "
    kw = dict(separator=", ", threshold=o["threshold"], edgeitems=o["edgeitems"],
              max_line_width=o["linewidth"])
    if view == "value":
        f = a.fmt
        if f.fl <= 0 and f.wl - f.fl <= 63:         # integers: printed as integers
            vals = a.raw.astype(np.int64) << -f.fl
        elif f.fl <= 0:                               # wider integers: exact Python ints
            vals = np.array([int(m) << -f.fl for m in a.raw.reshape(-1).tolist()],
                            dtype=object).reshape(a.shape)
        else:
            vals = np.asarray(a.to_float())
        if a.ndim == 0:
            return f"{head}{vals.item()!r})"
        body = np.array2string(vals, floatmode="unique", suppress_small=True, prefix=head, **kw)
    else:
        label = f"{view}="
        words = words_as_text(a.raw, a.fmt, view)
        if a.ndim == 0:
            return f"{head}{label}{words.item()})"
        body = np.array2string(words, formatter={"all": str}, prefix=head + label, **kw)
        head += label
    return f"{head}{body})"
