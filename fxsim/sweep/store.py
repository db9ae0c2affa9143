"""The results of a sweep on disk, keyed by run: Parquet (pyarrow).

``OUT/parts/<run key>.series.parquet`` and ``<run key>.summary.parquet`` are written as each
run finishes (to a temporary name, then renamed: a file that exists is whole; the summary last,
so its presence means the run is stored).  A run written twice (a retried task) replaces its
own files: the store holds each run once.  ``compact`` gathers the parts of the sweep's runs, in
run order, into the tidy tables ``OUT/series.parquet`` (one row per run × recorded iteration)
and ``OUT/summary.parquet`` (one row per run), which therefore do not depend on the order in
which the runs finished.  ``OUT/sweep.toml`` is the sweep's description.
"""
from __future__ import annotations

import os

import numpy as np

from .algorithms import COUNTERS
from .run import SUMMARY_FIELDS

__all__ = ["Store", "read_tables", "ID_FIELDS", "SERIES_TYPES"]

ID_FIELDS = {"run_index": "int64", "replicate": "int64", "run_key": "string"}
#: recorded series -> arrow type (the counters are null at iteration 0: no step yet)
SERIES_TYPES = {"iteration": "int64", "loss": "float64", "excess": "float64", "gnorm": "float64",
                "moved": "int64", "inexact": "int64", "overflowed": "int64",
                "err": "float64", "scale": "float64", "err_max": "float64", "consensus": "float64",
                "bits": "int64", "mean": "float64", "w2": "float64"}


def _pa():
    import pyarrow as pa
    return pa


def _schema(fields: dict):
    pa = _pa()
    return pa.schema([(name, getattr(pa, kind)()) for name, kind in fields.items()])


class Store:
    """The store of the sweep ``config`` in ``out_dir`` (see the module doc).

    >>> import tempfile
    >>> from fxsim.sweep.config import SweepConfig, example
    >>> from fxsim.sweep.run import run_one
    >>> cfg = SweepConfig(dict(example(), axes={"strategy": ["SR"]}))
    >>> st = Store(tempfile.mkdtemp(), cfg)
    >>> st.write(cfg.runs[0], run_one(cfg.runs[0])); sorted(st.stored()) == [cfg.runs[0]["key"]]
    True
    >>> series, summary = st.compact(); series.num_rows, summary.num_rows
    (151, 1)
    """

    def __init__(self, out_dir, config):
        self.out_dir = os.fspath(out_dir)
        self.parts = os.path.join(self.out_dir, "parts")
        os.makedirs(self.parts, exist_ok=True)
        self.config = config
        ident = dict(ID_FIELDS, **config.labels)
        self.series_schema = _schema(dict(ident, **{k: SERIES_TYPES[k] for k in ["iteration", *config.record]}))
        self.summary_schema = _schema(dict(ident, **SUMMARY_FIELDS))
        # the tables this process wrote, so that ``compact`` reads back only runs stored
        # earlier (``--resume``): reading a part costs more than writing it
        self._written = {}

    def _path(self, key, kind):
        return os.path.join(self.parts, f"{key}.{kind}.parquet")

    def stored(self, ok_only=False) -> set:
        """Keys of the runs in the store (``ok_only``: not the failed ones)."""
        keys = {f[:-len(".summary.parquet")] for f in os.listdir(self.parts)
                if f.endswith(".summary.parquet")}
        if not ok_only:
            return keys
        import pyarrow.parquet as pq
        return {k for k in keys
                if pq.read_table(self._path(k, "summary"), columns=["status"])["status"][0].as_py() == "ok"}

    def _write(self, table, key, kind):
        import pyarrow.parquet as pq
        path = self._path(key, kind)
        tmp = f"{path}.tmp{os.getpid()}"
        pq.write_table(table, tmp)
        os.replace(tmp, path)
        self._written[(key, kind)] = table

    def write(self, run, result):
        """Store one run's result (``run_one``'s dict): series first, then the summary."""
        pa = _pa()
        ident = {"run_index": run["index"], "replicate": run["replicate"], "run_key": run["key"]}
        ident.update(run["labels"])
        s = result["series"]
        n = 0 if s is None else len(s["iteration"])
        cols = {}
        for f in self.series_schema:
            if f.name in ident:
                cols[f.name] = pa.array([ident[f.name]] * n, type=f.type)
            elif s is None:
                cols[f.name] = pa.array([], type=f.type)
            else:
                v = np.asarray(s[f.name])
                mask = (np.asarray(s["iteration"]) == 0) if f.name in COUNTERS else None
                cols[f.name] = pa.array(v, type=f.type, mask=mask)
        self._write(pa.table(cols, schema=self.series_schema), run["key"], "series")
        row = dict(ident, **result["summary"])
        self._write(pa.table({f.name: pa.array([row[f.name]], type=f.type) for f in self.summary_schema},
                             schema=self.summary_schema), run["key"], "summary")

    def compact(self):
        """Write ``series.parquet`` and ``summary.parquet`` from the stored runs of the config, in
        run order (runs not stored yet are left out); returns the two pyarrow tables."""
        import pyarrow.parquet as pq
        pa = _pa()
        have = self.stored()
        runs = [r for r in self.config.runs if r["key"] in have]
        out = []
        for kind, schema in (("series", self.series_schema), ("summary", self.summary_schema)):
            parts = [self._written.get((r["key"], kind)) for r in runs]
            parts = [t if t is not None else pq.read_table(self._path(r["key"], kind), schema=schema)
                     for t, r in zip(parts, runs)]
            t = pa.concat_tables(parts).combine_chunks() if parts else schema.empty_table()
            t = t.replace_schema_metadata(None)
            tmp = os.path.join(self.out_dir, f".{kind}.parquet.tmp")
            pq.write_table(t, tmp)
            os.replace(tmp, os.path.join(self.out_dir, f"{kind}.parquet"))
            out.append(t)
        return tuple(out)


def read_tables(out_dir):
    """(series, summary) pyarrow tables of a finished sweep folder.

    >>> read_tables("no/such/folder")
    Traceback (most recent call last):
        ...
    ValueError: no/such/folder: no sweep results here (series.parquet, summary.parquet); run fxsim sweep CONFIG --out no/such/folder
    """
    import pyarrow.parquet as pq
    out_dir = os.fspath(out_dir)
    paths = [os.path.join(out_dir, f"{k}.parquet") for k in ("series", "summary")]
    if not all(os.path.exists(p) for p in paths):
        raise ValueError(f"{out_dir}: no sweep results here (series.parquet, summary.parquet); "
                         f"run fxsim sweep CONFIG --out {out_dir}")
    return tuple(pq.read_table(p) for p in paths)
