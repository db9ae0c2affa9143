"""Studies built on fxsim: reproducible experiments that write tables and figures.

- ``fxsim.studies.compare_rng``: LFSR vs ideal random bits for stochastic rounding
  (``fxsim compare-rng``).
"""
__all__ = ["compare_rng"]
