"""Optimizers on the emulated accelerator (issue 4)."""
from .gd import GD, SGD, History, MODES, stagnation_level

__all__ = ["GD", "SGD", "History", "MODES", "stagnation_level"]
