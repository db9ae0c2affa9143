"""The ``fxsim sweep`` and ``fxsim plot`` sub-commands (registered by ``fxsim.cli``)."""
from __future__ import annotations

import os

from ..studies._report import arg_type, pos_int
from .config import load_config
from .plot import parse_where, plot_sweep
from .runner import default_workers, run_sweep

__all__ = ["sweep_command", "plot_command", "add_cli"]


def sweep_command(args) -> int:
    """``fxsim sweep CONFIG --out DIR``: run the sweep, print what was stored; exit 1 when a
    run failed (the others are stored all the same).

    >>> import os, tempfile
    >>> from fxsim.cli import main
    >>> from fxsim.sweep.config import dump_toml, example
    >>> d = tempfile.mkdtemp(); cfg = os.path.join(d, "s.toml")
    >>> _ = open(cfg, "w").write(dump_toml(dict(example(), axes={"strategy": ["SR"]})))
    >>> main(["sweep", cfg, "--out", os.path.join(d, "out"), "--serial", "--no-progress"])
    sweep: 3 runs (3 run, 0 skipped, 0 failed) in ... s
    tables: .../out/series.parquet (453 rows), .../out/summary.parquet (3 rows)
    0
    """
    cfg = load_config(args.config)
    res = run_sweep(cfg, args.out, workers=args.workers, scheduler=args.scheduler,
                    serial=args.serial, resume=args.resume, progress=args.progress,
                    retries=args.retries, batch=args.batch)
    print(f"sweep: {len(cfg.runs)} runs ({res['ran']} run, {res['skipped']} skipped, "
          f"{res['failed']} failed) in {res['seconds']:.1f} s")
    print(f"tables: {res['files']['series']} ({res['series'].num_rows} rows), "
          f"{res['files']['summary']} ({res['summary'].num_rows} rows)")
    if res["failed"]:
        errs = [e for s, e in zip(res["summary"]["status"].to_pylist(),
                                  res["summary"]["error"].to_pylist()) if s != "ok"]
        print(f"failed runs (status and error in summary.parquet), first: {errs[0]}")
    return 1 if res["failed"] else 0


def plot_command(args) -> int:
    """``fxsim plot DIR --x iteration --y loss --hue strategy --col format``: write the figure
    (default ``DIR/plot_<y>.png``) and print its path.

    >>> from fxsim.cli import main
    >>> main(["plot", "no/such/dir"])
    Traceback (most recent call last):
        ...
    SystemExit: 2
    """
    path = args.output or os.path.join(args.dir, f"plot_{args.y}.png")
    plot_sweep(args.dir, x=args.x, y=args.y, hue=args.hue, col=args.col, row=args.row,
               where=args.where, band=args.band, logy={"auto": None, "log": True, "linear": False}[args.yscale],
               path=path)
    print(path)
    return 0


def _band(text):
    if text in ("minmax", "none"):
        return text
    try:
        q = float(text)
    except ValueError:
        q = -1.0
    if not 0 < q < 0.5:
        raise ValueError(f"--band: minmax, none or a quantile q in (0, 0.5) (band [q, 1-q]), got {text!r}")
    return q


def add_cli(sub):
    """Register ``fxsim sweep`` and ``fxsim plot`` on the argparse sub-parsers ``sub``.

    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="fxsim").add_subparsers(dest="cmd")
    >>> add_cli(sub)
    >>> a = sub.choices["sweep"].parse_args(["s.toml", "--out", "d", "--resume"]); a.resume, a.workers >= 1
    (True, True)
    """
    p = sub.add_parser(
        "sweep", help="run a grid of runs (a TOML sweep file) on Dask into Parquet tables",
        description="Run every run of the sweep file CONFIG (formats x strategies x sources x "
                    "step sizes x models x seeds; see docs/sweeps.md) on a local Dask cluster of "
                    "--workers processes, or on an existing cluster (--scheduler ADDRESS), or in "
                    "this process (--serial). Results stream into DIR/parts as runs finish; at "
                    "the end DIR/series.parquet (one row per run x recorded iteration) and "
                    "DIR/summary.parquet (one row per run). The tables do not depend on the "
                    "number of workers. Exit 1 if a run failed (it is recorded with its error).")
    p.add_argument("config", metavar="CONFIG", help="the sweep file (.toml)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (the store)")
    p.add_argument("--workers", type=pos_int, default=default_workers(),
                   help=f"worker processes of the local cluster (default: the cores, {default_workers()})")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="an existing Dask scheduler (e.g. tcp://10.0.0.1:8786, or dask-jobqueue's "
                        "SLURMCluster's scheduler_address) instead of a local cluster")
    p.add_argument("--serial", action="store_true", help="run in this process, no Dask")
    p.add_argument("--resume", action="store_true",
                   help="complete the sweep in DIR: skip the runs already stored")
    p.add_argument("--retries", type=int, default=2, help="retries of a failing Dask task (default 2)")
    p.add_argument("--batch", type=pos_int, help="runs per Dask task (default: about 10 tasks per "
                   "worker, at most 16 runs each)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.set_defaults(run=sweep_command, _out_dirs=(("--out", "out"),))
    q = sub.add_parser(
        "plot", help="plot a sweep's tables: median and band over seeds",
        description="A figure from the tables of a sweep folder DIR: one panel per --col "
                    "(and --row) value, one line per --hue value, the median over the runs "
                    "and a band (min-max by default). --x iteration plots a recorded series "
                    "(loss, excess, gnorm, moved...); any other --x (a setting such as t) plots a "
                    "summary field (final_excess, iters_to_tol...). Runs that differ in settings "
                    "not named are pooled: filter with --where KEY=VALUE.")
    q.add_argument("dir", metavar="DIR", help="a folder written by fxsim sweep")
    q.add_argument("--x", default="iteration", help="x axis (default iteration)")
    q.add_argument("--y", default="loss", help="y axis (default loss)")
    q.add_argument("--hue", help="one line per value of this column (e.g. strategy)")
    q.add_argument("--col", help="one panel column per value (e.g. format)")
    q.add_argument("--row", help="one panel row per value (e.g. source)")
    q.add_argument("--where", action="append", metavar="KEY=VALUE", type=arg_type(lambda t: parse_where([t])),
                   help="keep only the runs with this value (repeatable)")
    q.add_argument("--band", type=arg_type(_band), default="minmax",
                   help="minmax (default), none, or q for the [q, 1-q] quantiles")
    q.add_argument("--yscale", choices=("auto", "log", "linear"), default="auto",
                   help="auto: log when the values span more than two decades")
    q.add_argument("-o", "--output", metavar="FILE", help="figure file (default DIR/plot_Y.png)")
    q.set_defaults(run=_plot_with_where)


def _plot_with_where(args):
    where = {}
    for d in args.where or ():
        where.update(d)
    args.where = where or None
    return plot_command(args)
