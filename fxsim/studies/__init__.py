"""Studies built on fxsim: reproducible experiments that write tables and figures.

- ``fxsim.studies.compare_rng``: LFSR vs ideal random bits for stochastic rounding
  (``fxsim compare-rng``; measurements, with ``compare_rng_report`` and ``compare_rng_figures``).
- ``fxsim.studies.gd_rounding``: gradient descent with round-to-nearest, SR, SR_ε and
  signed-SR_ε on the emulated accelerator (``fxsim gd-study``).
- ``gd_float``: GD in 8-bit floats (Xia et al., JOTA 2024), run by ``fxsim gd-study --formats
  e4m3,e5m2``; ``compare_rng.floats``: LFSR vs ideal bits for float SR (``compare-rng --floats``);
  ``chop``: their float arithmetic (float64, one rounding per operation).
- ``halp``, ``amplification``, ``tracking``, ``samplers``: ``fxsim halp-study``,
  ``amplification-study``, ``tracking-study``, ``sampler-study``.
- ``unfolded``: LISTA, ADMM-CSNet and an FFNN under GD, float64 and fixed point
  (``fxsim unfolded-study``).

Every study is built on the kit ``fxsim.studies._report`` (result type, tables, figures,
progress bar, job runner, finish step, command-line options) and registers its own sub-command
with ``add_cli(sub)``; ``fxsim.cli`` loops over ``STUDY_MODULES``.  No study imports the CLI.
"""
from ._report import StudyResult, arg_type, jobs_on, nonneg_int, pos_int, prepare_out_dirs, print_study

__all__ = ["compare_rng", "gd_rounding", "STUDY_MODULES", "StudyResult", "arg_type", "nonneg_int", "pos_int",
           "prepare_out_dirs", "print_study", "jobs_on"]

#: the study modules, each with ``add_cli(sub)`` (one sub-parser whose default ``run`` is a
#: callable(args) -> exit code), in the order ``fxsim --help`` lists them
STUDY_MODULES: tuple = (
    "fxsim.studies.compare_rng",
    "fxsim.studies.gd_rounding",
    "fxsim.studies.halp",
    "fxsim.studies.amplification",
    "fxsim.studies.tracking",
    "fxsim.studies.samplers",
    "fxsim.studies.unfolded",
)
