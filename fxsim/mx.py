"""OCP Microscaling (MX v1.0) block formats (spec §9.6): blocks of 32 elements along the last
axis share one E8M0 scale 2**(floor(log2(amax)) - emax_elem); the elements are the block's
values divided by the scale, cast into FP8/FP6/FP4 or INT8 (two's complement with an implicit
2**-6, i.e. Q(8,6), range ±(1 + 63/64)) in any rounding mode (SR included), with saturation."""
from __future__ import annotations

import numpy as np

from .floatcast import cast_float
from .floatformat import FloatFormat
from .ops import cast
from .qformat import QFormat

#: MX names -> element format
MX_FORMATS = {"mxfp8_e4m3": "e4m3", "mxfp8_e5m2": "e5m2", "mxfp6_e3m2": "e3m2",
              "mxfp6_e2m3": "e2m3", "mxfp4_e2m1": "e2m1"}
#: MXINT8's element: 8-bit two's complement with an implicit scale 2**-6; its largest power of
#: two is 1 (emax 0) and the spec's range is ±(1 + 63/64): the code 0x80 (-2) is never produced
MXINT8 = QFormat(8, 6, True)
BLOCK = 32


class MXArray:
    """An MX-quantized array: ``scales`` (uint8 E8M0 codes, one per block of 32 along the last
    axis: 2**(code - 127)), ``elements`` (a FloatArray of x's shape; for ``mxint8`` a FixedArray) and
    the MX name.

    >>> import numpy as np
    >>> a = mx_quantize(np.arange(32.0), "mxfp8_e4m3")
    >>> int(a.scales[0]) - 127, a.to_float()[[1, 17, 31]].tolist()
    (-4, [1.0, 16.0, 28.0])
    """

    __slots__ = ("scales", "elements", "name")

    def __init__(self, scales, elements, name: str):
        """``elements``: a FloatArray, or for ``mxint8`` a FixedArray of Q(8,6)."""
        self.scales, self.elements, self.name = scales, elements, name

    @property
    def shape(self):
        return self.elements.shape

    def to_float(self) -> np.ndarray:
        """Exact values: every element times its block's scale."""
        k = np.repeat(self.scales.astype(np.int64) - 127, BLOCK, axis=-1)
        return np.ldexp(self.elements.to_float(), k.astype(np.int32))

    def __repr__(self):
        return f"MXArray({self.name}, shape={self.shape})"


def mx_quantize(x, fmt="mxfp8_e4m3", rounding="nearest_even", *, r=None, eps=0, v=None,
                sr_rule="trunc", source=None, draws=None) -> MXArray:
    """Quantize ``x`` (float64s; the last axis a multiple of 32) into the MX format ``fmt``
    (``MX_FORMATS`` or ``"mxint8"``): per block, X = 2**clip(floor(log2(amax)) - emax_elem, -127, 127) (amax = 0:
    2**-127), elements cast(x / X, element format, rounding, overflow='saturate'); stochastic
    roundings take one draw per element in C order, as ``fxsim.cast``.  ``mxint8``: emax_elem = 0
    and the elements are ``fxsim.cast(x / X, Q(8,6), rounding, 'saturate_symmetric')``, a
    FixedArray (fixed-point rounding names: ``jam``, not ``round_to_odd``).

    >>> import numpy as np
    >>> a = mx_quantize(np.linspace(-1, 1, 64), "mxfp4_e2m1")
    >>> a.scales.tolist(), a.elements.fmt
    ([125, 125], FloatFormat('e2m1'))
    """
    if fmt not in MX_FORMATS and fmt != "mxint8":
        raise ValueError(f"fmt must be one of {', '.join(MX_FORMATS)}, mxint8; got {fmt!r}")
    ef = MXINT8 if fmt == "mxint8" else FloatFormat.parse(MX_FORMATS[fmt])
    emax = 0 if fmt == "mxint8" else ef.emax
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] % BLOCK:
        raise ValueError(f"x's last axis must be a multiple of {BLOCK} (one block of {BLOCK} "
                         f"elements per scale), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("x must be finite (an MX block with NaN or inf has no finite scale)")
    blocks = arr.reshape(*arr.shape[:-1], -1, BLOCK)
    amax = np.abs(blocks).max(axis=-1)
    _, e = np.frexp(amax)                               # amax = m 2**e, m in [0.5, 1)
    shared = np.where(amax > 0, e - 1 - emax, -127).clip(-127, 127)
    scaled = np.ldexp(blocks, -shared[..., None].astype(np.int32))
    # a value pushed below float64's normal range may lose bits; it is far below every
    # element's quantum, so ±2**-1074 (same sign, non-zero) rounds exactly as it would
    lost = (np.ldexp(scaled, shared[..., None].astype(np.int32)) != blocks)
    scaled = np.where(lost, np.copysign(5e-324, blocks), scaled)
    if fmt == "mxint8":
        elems = cast(scaled.reshape(arr.shape), ef, rounding, "saturate_symmetric", r=r, eps=eps,
                     v=v, sr_rule=sr_rule, source=source, draws=draws)
    else:
        elems = cast_float(scaled.reshape(arr.shape), ef, rounding, "saturate", r=r, eps=eps, v=v,
                           sr_rule=sr_rule, source=source, draws=draws)
    return MXArray((shared + 127).astype(np.uint8), elems, fmt)
