"""Optimizers on the emulated accelerator."""
from .gd import GD, SGD, History, MODES, stagnation_level

__all__ = ["GD", "SGD", "History", "MODES", "stagnation_level"]
from .svrg import LPSGD, LPSVRG, SVRG, Trace, weight_format
from .halp import HALP, ScaledGrid
__all__ += ["LPSGD", "LPSVRG", "SVRG", "HALP", "ScaledGrid", "Trace", "weight_format"]
from .compressors import FixedPointQuantizer, RandK, SaturatingQuantizer, ScaledSign, TopK
from .tracking import gradient_tracking, mixing_matrix
__all__ += ["TopK", "RandK", "ScaledSign", "FixedPointQuantizer", "SaturatingQuantizer",
            "gradient_tracking", "mixing_matrix"]


def __getattr__(name):
    # the old import path of a model that moved to fxsim.models (deprecated)
    if name == "DistributedLeastSquares":
        from . import tracking
        return getattr(tracking, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
