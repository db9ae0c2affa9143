"""Vendors' stochastic-rounding instructions bit for bit where they differ from spec §2.

``sfpu_round`` is Tenstorrent's ``SFPSTOCHRND`` in its integer flavour (tt-isa-documentation,
``WormholeB0/TensixTile/TensixCoprocessor/SFPSTOCHRND_IntInt.md``, functional model):

    PRNGBits = StochasticRounding ? AdvancePRNG() & 0x7fffff : 0x400000
    Mag = (Mag << 23) >> shift
    Mag = (Mag >> 23) + ((Mag & 0x7fffff) >= PRNGBits)
    clamp Mag to 127 (INT8, sign kept unless Mag == 0) or 255 (UINT8, sign dropped)

on a 32-bit sign-magnitude integer.  The kernels round that way under ``sr_rule="tt_sfpu"``
(spec §2): the **magnitude** is rounded and the sign put back (a negative value goes towards
−∞ when its magnitude goes up); an **exact** value still goes up in magnitude when the random
bits are all zero (probability 2^−r: the page's "hardware bug", the comparison being ``>=``);
only the top r discarded bits take part (a shift beyond 23 truncates the rest).
``sr_rule="ge"`` is the same comparison on spec §2's two's-complement values, with φ = 0 never
rounding: it equals the hardware only on inexact non-negative values.

``sfpu_round`` is the integer flavour as one call: ``cast(x, fmt, mode=SFPU_MODE)`` (r = 23,
``saturate_symmetric``: a signed format clamps the magnitude to 2^(wl−1) − 1, INT8 giving ±127),
of |x| for an unsigned format (the UINT8 flavour drops the sign first).  The float flavour
(``SFPSTOCHRND_FloatFloat.md``: FP32 → 7 or 10 mantissa bits, ``DiscardedBits >= (PRNGBits >>
(23 − k))`` with k = 16 or 13 discarded bits) is ``fxsim.cast(x, "bf16" / "tf32", "stochastic",
"ieee", r=k, sr_rule="tt_sfpu")`` with R = the top k of the 23 bits; the instruction also
flushes FP32 subnormals and −0 to +0 before rounding, which a cast from float64 does not do.
The FP32 → INT8/INT16 flavour (``SFPSTOCHRND_FloatInt.md``) adds two more documented bugs that
no rule models: |x| < 0.5 always gives 0, and |x| ≥ 2^16 gives the largest magnitude.
"""
from __future__ import annotations

import numpy as np

from .modes import CastMode
from .qformat import QFormat

__all__ = ["sfpu_round", "SFPU_R", "SFPU_MODE"]

#: random bits SFPSTOCHRND compares against (``AdvancePRNG() & 0x7fffff``)
SFPU_R = 23
#: the integer flavour as a cast mode: ``sr_rule="tt_sfpu"`` at 23 bits, the magnitude clamped
SFPU_MODE = CastMode("stochastic", "saturate_symmetric", r=SFPU_R, sr_rule="tt_sfpu")


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
    elif not stochastic:
        R = np.full(x.shape, 0x400000, dtype=np.uint64)     # PRNGBits = 0x400000: half away
    # UINT8 drops the sign before rounding; INT8 clamps the magnitude (saturate_symmetric)
    return cast(x if fmt.signed else np.abs(x), fmt, mode=SFPU_MODE, source=source,
                draws=None if source is not None else R)
