"""Low-precision SGLD and SGHMC samplers on the emulated datapath.

``SGLD``/``SGHMC`` (variants ``fp lpf lpl vc``), the targets (``Gaussian``,
``GaussianMixture``, ``BayesLogistic``), the quantizers (``sr``, ``vc_quantize``) and the
metrics (``w2_1d``, ``density_l2``, ``predictive``).  See ``core`` for the randomness contract
and the two bit-identical paths (per-step ``fxsim.cast`` and the compiled kernel).
"""
from .core import Run, make_source
from .metrics import density_l2, predictive, w2_1d, w2_gaussians
from .quantizers import sr, vc_quantize
from .sghmc import SGHMC, integrator_coefficients
from .sgld import SGLD
from .targets import BayesLogistic, Gaussian, GaussianMixture

__all__ = ["SGLD", "SGHMC", "Run", "make_source", "integrator_coefficients", "Gaussian",
           "GaussianMixture", "BayesLogistic", "sr", "vc_quantize", "w2_1d", "w2_gaussians",
           "density_l2", "predictive"]
