"""fxsim: a bit-accurate fixed-point hardware datapath simulator.

Formats (``QFormat``) are kept apart from values (``FixedArray``: raw integers in the smallest
native container).  Every rounding and overflow happens in an explicit cast, exactly as
``docs/datapath.md`` (the spec) defines it, inside nogil Cython kernels.
"""
from .counters import CastRecord, Counters
from .fixed import FixedArray
from .modes import DETERMINISTIC, OVERFLOW, ROUNDING, SR_RULES, STOCHASTIC
from .ops import add, cast, dot, get_num_threads, matmul, matvec, mul, set_num_threads, sub
from .qformat import QFormat, qformat
from .sources import LFSR, Ideal

__version__ = "0.1.0"

__all__ = [
    "QFormat", "qformat", "FixedArray", "cast", "add", "sub", "mul", "dot", "matvec", "matmul",
    "Counters", "CastRecord", "ROUNDING", "DETERMINISTIC", "STOCHASTIC", "OVERFLOW", "SR_RULES",
    "set_num_threads", "get_num_threads", "LFSR", "Ideal",
]
