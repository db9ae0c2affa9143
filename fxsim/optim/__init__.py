"""Optimizers on the emulated accelerator (issue 4)."""
from .gd import GD, SGD, History, MODES, stagnation_level

__all__ = ["GD", "SGD", "History", "MODES", "stagnation_level"]
from .svrg import LPSGD, LPSVRG, SVRG, Trace, weight_format
from .halp import HALP, ScaledGrid
__all__ += ["LPSGD", "LPSVRG", "SVRG", "HALP", "ScaledGrid", "Trace", "weight_format"]
from .compressors import FixedPointQuantizer, RandK, SaturatingQuantizer, ScaledSign, TopK
from .tracking import DistributedLeastSquares, gradient_tracking, mixing_matrix
__all__ += ["TopK", "RandK", "ScaledSign", "FixedPointQuantizer", "SaturatingQuantizer",
            "DistributedLeastSquares", "gradient_tracking", "mixing_matrix"]
