"""Sweeps: a grid of runs (formats × strategies × sources × step sizes × models × seeds)
described in TOML, run on Dask (this machine's cores, or a cluster), stored as tidy Parquet
tables, resumable, plotted without writing matplotlib code (``fxsim sweep``, ``fxsim plot``).

- ``config``: the sweep description (``load_config``, ``SweepConfig``) and its validation;
- ``algorithms``: the algorithms a run can be (GD/SGD, SVRG, LP-SGD, LP-SVRG, HALP, gradient
  tracking, SGLD, SGHMC), their models, parameters and recorded series;
- ``run``: one run, a pure function of (config, run key) (``run_one``);
- ``store``: the Parquet store keyed by run (``Store``, ``read_tables``);
- ``jobs``: the job runner shared with every study (``map_jobs``, ``dask_client``);
- ``runner``: ``run_sweep`` on it;
- ``plot``: median and band over replicates (``plot_sweep``);
- ``command``: the ``fxsim sweep`` and ``fxsim plot`` sub-commands.
"""
from .config import SweepConfig, dump_toml, load_config
from .runner import map_jobs, run_sweep
from .store import read_tables

__all__ = ["SweepConfig", "load_config", "dump_toml", "run_sweep", "map_jobs", "read_tables"]
