"""fxsim: a bit-accurate fixed-point hardware datapath simulator.

Formats (``QFormat``) are kept apart from values (``FixedArray``: raw integers in the smallest
native container).  Every rounding and overflow happens in an explicit cast, exactly as
``docs/datapath.md`` (the spec) defines it, inside nogil Cython kernels.

A short tour (the README's "Tour" runs this same code; the test suite runs it as a doctest).

A first cast: three numbers into Q(16,8) (16 bits, 8 of them fraction), round to nearest even,
saturate on overflow:

>>> import numpy as np, fxsim
>>> from fxsim import QFormat, cast, LFSR
>>> q = QFormat.parse("Q8.8")
>>> x = cast(np.array([0.1, -2.5, 300.0]), q, rounding="nearest_even", overflow="saturate")
>>> x.raw, x.to_float().tolist()
(array([   26,  -640, 32767], dtype=int16), [0.1015625, -2.5, 127.99609375])
>>> x.to_hex().tolist(), x.bits(0).bin
(['001a', 'fd80', '7fff'], '0000000000011010')

Arithmetic as arithmetic: operators compute exactly (the format grows as in hardware), numbers
join exactly, and ``fxsim.context`` says how operators cast their results:

>>> w = cast([0.5, 0.25, -1.0], "Q4.4")
>>> x * w
FixedArray(Q(24,12), [   0.05078125,   -0.625     , -127.99609375])
>>> (x + 1).fmt, x < w, (x * w).sum()
(QFormat(wl=17, fl=8, signed=True), array([ True,  True, False]), FixedArray(Q(26,12), -128.5703125))
>>> with fxsim.context(result=q, rounding="nearest_even", overflow="saturate"):
...     x * w + 0.5
FixedArray(Q(16,8), [   0.55078125,   -0.125     , -127.49609375])
>>> x.bits[15:8]
FixedArray(UQ(8,0), [  0, 253, 127])

A first LFSR: a 16-bit register (maximal-length taps) as the random bits of stochastic
rounding.  0.1 is 25.6 LSB, so SR rounds up to 26 with probability 0.6:

>>> LFSR(16, seed=1).draws(4, 16).tolist()
[34957, 3373, 42078, 11486]
>>> with fxsim.Counters() as c:
...     y = cast(np.full(1000, 0.1), q, "stochastic", r=16, source=LFSR(16, seed=1))
>>> np.unique(y.raw, return_counts=True)
(array([25, 26], dtype=int16), array([389, 611]))
>>> c.cast, c.rounded_up, c.draws
(1000, 611, 1000)

The main job in a few lines: gradient descent on an emulated accelerator (``fxsim.optim``),
round-to-nearest against SR from a 16-bit LFSR on a quadratic; round-to-nearest stops moving
(stagnates) above the tolerance, SR reaches it:

>>> from fxsim.accelerator import Accelerator
>>> from fxsim.models import Quadratic
>>> from fxsim.optim import GD
>>> for casts, source in (({}, None), ({"grad": "stochastic", "update": "stochastic"}, "lfsr16")):
...     acc = Accelerator(weights="Q(16,8)", grads="Q(16,8)", acc="Q(32,16)", casts=casts,
...                       source=source, seed=0)
...     h = GD(Quadratic(d=20, cond=10), acc, t=0.05).run(300)
...     print(f"{h.loss[-1]:.2e}", h.stagnation_iter(), h.iters_to_tol(1e-3))
4.38e-03 39 None
0.00e+00 97 50
"""
import os as _os

# OpenMP threads that spin after a kernel steal the cores from numpy's BLAS threads (and from
# the next Python step) on small machines; libgomp reads this once, when the kernels load, so
# it is set before them (a value the user set is kept; OMP_WAIT_POLICY=active restores spinning)
_os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from .counters import CastRecord, Counters
from .fixed import FixedArray, bitcat
from .context import context, get_context
from .io import from_dlpack, load, save
from .printing import get_printoptions, printoptions, set_printoptions
from .floatarray import FloatArray
from .floatformat import FloatFormat
from .modes import DETERMINISTIC, OVERFLOW, ROUNDING, SR_RULES, STOCHASTIC, CastMode
from .ops import Caster, add, cast, dot, get_num_threads, matmul, matvec, mul, set_num_threads, sub
from .ops import fma
from .qformat import QFormat, qformat
from .sources import LFSR, Ideal
from .source_spec import make_source

__version__ = "0.1.0"

__all__ = [
    "QFormat", "qformat", "FixedArray", "cast", "add", "sub", "mul", "dot", "matvec", "matmul",
    "Caster", "Counters", "CastRecord", "ROUNDING", "DETERMINISTIC", "STOCHASTIC", "OVERFLOW", "SR_RULES",
    "set_num_threads", "get_num_threads", "LFSR", "Ideal", "CastMode", "make_source",
    "context", "get_context", "bitcat", "save", "load", "from_dlpack", "set_printoptions", "get_printoptions", "printoptions",
    "FloatFormat", "FloatArray",
    "fma",
]
