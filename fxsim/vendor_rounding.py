"""Vendors' stochastic-rounding instructions bit for bit where they differ from spec §2.

``sfpu_round`` is Tenstorrent's ``SFPSTOCHRND`` in its integer flavour (tt-isa-documentation,
``WormholeB0/TensixTile/TensixCoprocessor/SFPSTOCHRND_IntInt.md``, functional model):

    PRNGBits = StochasticRounding ? AdvancePRNG() & 0x7fffff : 0x400000
    Mag = (Mag << 23) >> shift
    Mag = (Mag >> 23) + ((Mag & 0x7fffff) >= PRNGBits)
    clamp Mag to 127 (INT8, sign kept unless Mag == 0) or 255 (UINT8, sign dropped)

on a 32-bit sign-magnitude integer.  Three things set it apart from ``sr_rule="ge"``, which
follows spec §2 on two's-complement values: the **magnitude** is rounded and the sign put back
(a negative value rounds towards −∞ when the magnitude goes up); an **exact** value (no
discarded bits) still goes up when the 23 random bits are all zero (probability 2^−23, the
"hardware bug" the page describes: the comparison is ``>=``); only the top 23 discarded bits
take part (a shift beyond 23 truncates the rest).  ``sfpu_round`` applies that model to
x·2^fl for any fixed-point format: a signed format clamps the magnitude to 2^(wl−1) − 1
(sign-magnitude is symmetric: INT8 gives ±127), an unsigned one takes |x| and clamps to
2^wl − 1 (the UINT8 flavour).  The float flavour (FP32 → BF16/FP16, ``SFPSTOCHRND_FloatFloat.md``)
compares ``DiscardedBits << (23 − k) >= PRNGBits`` the same way on the mantissa.
"""
from __future__ import annotations

import numpy as np

from .qformat import QFormat

__all__ = ["sfpu_round", "SFPU_R"]

#: random bits SFPSTOCHRND compares against (``AdvancePRNG() & 0x7fffff``)
SFPU_R = 23


def sfpu_round(x, fmt, *, source=None, draws=None, stochastic: bool = True):
    """Round the float64 values ``x`` onto ``fmt`` (a ``QFormat`` or its text) as SFPSTOCHRND
    rounds a sign-magnitude integer (module doc); returns a ``FixedArray``.  The 23-bit R of
    element i is draw i of ``source`` (a bit source, e.g. ``make_source("tenstorrent:sfpu", s)``:
    its lock is held while the draws are taken) or ``draws[i]`` (values below 2^23);
    ``stochastic=False`` compares against 0x400000 (round half away from zero) and takes no
    draw.  Checks everything before drawing: a refused call takes no draw.

    >>> import numpy as np
    >>> sfpu_round([2.5, -2.5, 3.0, 3.0], "Q(8,0)", draws=np.array([0x400000, 0x400000, 0, 1])).raw
    array([ 3, -3,  4,  3], dtype=int8)
    >>> sfpu_round([300.0, -300.0, -1.25], "Q(8,0)", stochastic=False).raw
    array([ 127, -127,   -1], dtype=int8)
    >>> sfpu_round([-1.75], "UQ(8,0)", stochastic=False).raw
    array([2], dtype=uint8)
    """
    from .ops import cast
    fmt = QFormat.parse(fmt) if isinstance(fmt, str) else fmt
    if not isinstance(fmt, QFormat):
        raise ValueError(f"fmt: expected a QFormat or its text such as 'Q(8,0)', got {fmt!r}")
    if fmt.wl > 32:
        raise ValueError(f"fmt: SFPSTOCHRND keeps a 32-bit sign-magnitude word; wl must be <= 32, got {fmt.wl}")
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ValueError("x: must be finite (SFPSTOCHRND's integer flavour has no NaN or inf)")
    if (draws is None) == (source is None) and stochastic:
        raise ValueError("source/draws: give exactly one of them for stochastic rounding")
    if not stochastic and (draws is not None or source is not None):
        raise ValueError("source/draws: stochastic=False takes no random bits")
    if draws is not None:
        R = np.asarray(draws)
        if R.shape != x.shape or R.dtype.kind not in "ui" or (R.size and (R.min() < 0 or R.max() >= 1 << SFPU_R)):
            raise ValueError(f"draws: expected {x.shape} integers in [0, 2^23), got shape {R.shape}, "
                             f"dtype {R.dtype}")
        R = R.astype(np.uint64)
    elif source is not None:
        R = np.asarray(source.draws(x.size, SFPU_R), dtype=np.uint64).reshape(x.shape)
    else:
        R = np.full(x.shape, 0x400000, dtype=np.uint64)
    mag = np.abs(x) * 2.0 ** fmt.fl
    top = float(2 ** (fmt.wl - 1) - 1 if fmt.signed else 2 ** fmt.wl - 1)
    q = np.floor(mag)
    discarded = np.floor((mag - q) * 2.0 ** SFPU_R).astype(np.uint64)     # the top 23 bits only
    q = np.minimum(q + (discarded >= R), top)
    value = np.where((x < 0) & fmt.signed, -q, q)
    return cast(value * 2.0 ** -fmt.fl, fmt, "nearest_even", "error")
