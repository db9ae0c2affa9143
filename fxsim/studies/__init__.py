"""Studies built on fxsim: reproducible experiments that write tables and figures.

- ``fxsim.studies.compare_rng``: LFSR vs ideal random bits for stochastic rounding
  (``fxsim compare-rng``).
- ``fxsim.studies.gd_rounding``: gradient descent with round-to-nearest, SR, SR_ε and
  signed-SR_ε on the emulated accelerator (``fxsim gd-study``).
"""
__all__ = ["compare_rng", "gd_rounding"]
