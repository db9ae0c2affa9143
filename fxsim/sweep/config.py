"""A sweep description: what runs, read from TOML (``load_config``) or a dict (``SweepConfig``).

A sweep file has five tables::

    [sweep]        seed (root of every run's SeedSequence), replicates, record, every, name
    [run]          the settings of every run: model, model_params, algorithm, algorithm_params,
                   format (weights; grads too unless accelerator.grads), accelerator (any other
                   Accelerator field: grads acts prod acc r eps sr_rule casts), strategy,
                   source (a make_source spec), iterations, tol, replicates
    [strategies]   name -> per-role casts ({grad = "stochastic", update = ...}); default STRATEGIES
    [axes]         key -> list of values: the product of all axes; a key is a [run] key or a
                   dotted one (``algorithm_params.t``, ``model_params.d``, ``accelerator.eps``)
    [[cases]]      optional list of [run] overrides run in turn (axes that move together,
                   e.g. a model with its step size); the grid is cases × axes × replicates;
                   a case's tables merge into [run]'s, but naming another model (algorithm)
                   starts its model_params (algorithm_params) afresh

Each point of the grid has a run index (its position: cases, then the axes in file order, the
last axis varying fastest); each run is (run index, replicate) and seeds itself from
``numpy.random.SeedSequence(seed, spawn_key=(run index, replicate))``, never from the worker.
The run key is a hash of everything the run's result depends on, so a store keyed by it holds
each run once (``--resume``).  Errors name the file, the key and the allowed values.
"""
from __future__ import annotations

import copy
import hashlib
import inspect
import itertools
import json
import math
import numbers

from ..accelerator import ROLES, Accelerator
from ..qformat import QFormat
from .algorithms import ALGORITHMS as _ALGORITHMS
from .algorithms import FAMILIES, RECORDABLE, family_of, model_class, models_of, record_of

__all__ = ["SweepConfig", "load_config", "STRATEGIES", "MODEL_NAMES", "ALGORITHMS", "RECORDABLE",
           "RUN_KEYS", "dump_toml"]

#: the built-in strategies (per-role casts; every other role rounds to nearest even)
STRATEGIES = {
    "round-to-nearest": {},
    "SR": {"grad": "stochastic", "update": "stochastic"},
    "SR_eps": {"grad": "stochastic_eps", "update": "stochastic_eps"},
    "signed-SR_eps": {"grad": "stochastic", "update": "signed_stochastic_eps"},
}
#: model names of GD/SGD (``fxsim.models.make_model``'s, plus the studies' axis-aligned
#: quadratic); the other algorithms' models: ``algorithms.models_of``
MODEL_NAMES = FAMILIES["GDModel"][1]
#: algorithm -> its keyword parameters (``algorithms.ALGORITHMS``: GD/SGD, SVRG, LP-SGD,
#: LP-SVRG, HALP, gradient tracking, SGLD, SGHMC)
ALGORITHMS = {name: spec[1] for name, spec in _ALGORITHMS.items()}
RUN_KEYS = ("model", "model_params", "algorithm", "algorithm_params", "format", "accelerator",
            "strategy", "source", "iterations", "tol", "replicates")
_TABLES = ("model_params", "algorithm_params", "accelerator")
_ACCEL_KEYS = ("grads", "acts", "prod", "acc", "r", "eps", "sr_rule", "casts")
_TOP = ("sweep", "run", "strategies", "axes", "cases")
_SWEEP_KEYS = ("name", "seed", "replicates", "record", "every")
#: columns every table has (the run's identity), then these label columns
FIXED_LABELS = ("model", "algorithm", "format", "strategy", "source")


class ConfigError(ValueError):
    """A bad sweep description (a ValueError naming the file and the key)."""


def _err(where, key, msg):
    return ConfigError(f"{where}: {key}: {msg}")


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _scalar(v):
    return isinstance(v, (str, bool, numbers.Real)) and not (isinstance(v, float) and math.isnan(v))


def _model_params(name):
    from fxsim import models
    cls = model_class(name)
    init = cls.__init__ if inspect.isclass(cls) else cls
    if name == "aligned_quadratic":
        init = models.Quadratic.__init__
    return [p for p in inspect.signature(init).parameters if p != "self"]


class SweepConfig:
    """A validated sweep: ``runs`` (one dict per run: ``index``, ``replicate``, ``key``,
    ``params``, ``labels``), ``seed``, ``record``, ``every``, ``labels`` (label column -> type).

    >>> cfg = SweepConfig({"run": {"model": "quadratic", "model_params": {"d": 4},
    ...                            "algorithm_params": {"t": 0.1}, "format": "Q8.8",
    ...                            "source": "lfsr16", "iterations": 5},
    ...                    "axes": {"strategy": ["round-to-nearest", "SR"]},
    ...                    "sweep": {"replicates": 2}})
    >>> len(cfg.runs), [(r["index"], r["replicate"], r["labels"]["strategy"]) for r in cfg.runs][:3]
    (4, [(0, 0, 'round-to-nearest'), (0, 1, 'round-to-nearest'), (1, 0, 'SR')])
    >>> SweepConfig({"run": {"model": "svm"}}, where="s.toml")
    Traceback (most recent call last):
        ...
    fxsim.sweep.config.ConfigError: s.toml: run.model: unknown model 'svm'; allowed: quadratic, ...
    """

    def __init__(self, data: dict, where: str = "<sweep>"):
        self.where = str(where)
        self.data = copy.deepcopy(data)
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: a sweep description is a table, got {type(data).__name__}")
        self._check_keys("", data, _TOP)
        sw = self._table(data, "sweep")
        self._check_keys("sweep.", sw, _SWEEP_KEYS)
        self.name = sw.get("name", "sweep")
        self.seed = self._int("sweep.seed", sw.get("seed", 0), 0)
        self.every = self._int("sweep.every", sw.get("every", 1), 1)
        rec = sw.get("record")
        if rec is not None and (not isinstance(rec, list) or not rec
                                or any(r not in RECORDABLE for r in rec)):
            raise _err(where, "sweep.record", f"expected a non-empty list of {', '.join(RECORDABLE)}, "
                                              f"got {rec!r}")
        # default: what the first run's algorithm records by default (``algorithms.FAMILIES``)
        self.record = None if rec is None else list(dict.fromkeys(rec))
        self.strategies = self._strategies(data.get("strategies"))
        base = self._table(data, "run")
        self._check_keys("run.", base, RUN_KEYS)
        base = dict(base)
        base.setdefault("replicates", sw.get("replicates", 1))
        axes = self._table(data, "axes")
        for k, vals in axes.items():
            self._axis_key(k)
            if not isinstance(vals, list) or not vals:
                raise _err(where, f"axes.{k}", f"expected a non-empty list of values, got {vals!r}")
        cases = data.get("cases", [{}])
        if not isinstance(cases, list) or not cases or not all(isinstance(c, dict) for c in cases):
            raise _err(where, "cases", "expected a list of tables ([[cases]])")
        points = []
        for ci, case in enumerate(cases):
            self._check_keys(f"cases[{ci}].", case, RUN_KEYS)
            for combo in itertools.product(*axes.values()):
                p = _merge(base, case)
                for k, v in zip(axes, combo):
                    _set(p, k, v)
                points.append(self._point(p, f"cases[{ci}]" if len(cases) > 1 else "run"))
        self.labels = self._label_columns(points)
        self.runs = []
        for i, p in enumerate(points):
            flat = _flatten(p)
            labels = {c: _cast_label(_fixed_label(p, c) if c in FIXED_LABELS
                                     else flat.get(self._paths[c]), kind)
                      for c, kind in self.labels.items()}
            for rep in range(p["replicates"]):
                body = {"params": p, "index": i, "replicate": rep, "seed": self.seed,
                        "record": self.record, "every": self.every}
                key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:20]
                self.runs.append(dict(body, key=key, labels=labels))

    # -- checks --------------------------------------------------------------------------------
    def _check_keys(self, prefix, d, allowed):
        if not isinstance(d, dict):
            raise _err(self.where, prefix.rstrip(".") or "top level", f"expected a table, got {d!r}")
        for k in d:
            if k not in allowed:
                raise _err(self.where, f"{prefix}{k}", f"unknown key; allowed: {', '.join(allowed)}")

    def _table(self, data, name):
        t = data.get(name, {})
        if not isinstance(t, dict):
            raise _err(self.where, name, f"expected a table, got {t!r}")
        return t

    def _int(self, key, v, lo):
        if not _is_int(v) or v < lo:
            raise _err(self.where, key, f"expected an integer >= {lo}, got {v!r}")
        return int(v)

    def _axis_key(self, k):
        head, _, leaf = k.partition(".")
        if head not in RUN_KEYS or (leaf and head not in _TABLES) or (not leaf and head in _TABLES):
            raise _err(self.where, f"axes.{k}", "unknown axis; allowed: "
                       + ", ".join([r for r in RUN_KEYS if r not in _TABLES]
                                   + [f"{t}.NAME" for t in _TABLES]))
        if head == "accelerator" and leaf not in _ACCEL_KEYS:
            raise _err(self.where, f"axes.{k}", f"unknown accelerator field; allowed: "
                                                f"{', '.join(_ACCEL_KEYS)}")

    def _strategies(self, s):
        if s is None:
            return copy.deepcopy(STRATEGIES)
        if not isinstance(s, dict) or not s:
            raise _err(self.where, "strategies", "expected a table name -> {role = rounding, ...}")
        for name, casts in s.items():
            if not isinstance(casts, dict):
                raise _err(self.where, f"strategies.{name}", f"expected a table of roles, got {casts!r}")
            for role in casts:
                if role not in ROLES:
                    raise _err(self.where, f"strategies.{name}.{role}",
                               f"unknown cast role; allowed: {', '.join(ROLES)}")
        return s

    def _point(self, p, where):
        w = self.where
        alg = p.setdefault("algorithm", "gd")
        if alg not in ALGORITHMS:
            raise _err(w, f"{where}.algorithm", f"unknown algorithm {alg!r}; allowed: {', '.join(ALGORITHMS)}")
        model, models = p.get("model"), models_of(alg)
        if model not in models:
            known = any(model in f[1] for f in FAMILIES.values())
            what = (f"{model!r} is not a model of {alg} (a {family_of(alg)})" if known
                    else f"unknown model {model!r}")
            raise _err(w, f"{where}.model", f"{what}; allowed: {', '.join(models)}")
        for t in _TABLES:
            p.setdefault(t, {})
            if not isinstance(p[t], dict):
                raise _err(w, f"{where}.{t}", f"expected a table, got {p[t]!r}")
        allowed = _model_params(model)
        for k in p["model_params"]:
            if k not in allowed:
                raise _err(w, f"{where}.model_params.{k}", f"not a parameter of {model}; allowed: "
                                                           f"{', '.join(allowed)}")
        for k in p["algorithm_params"]:
            if k not in ALGORITHMS[alg]:
                raise _err(w, f"{where}.algorithm_params.{k}", f"not a parameter of {alg}; allowed: "
                                                               f"{', '.join(ALGORITHMS[alg])}")
        step = next(k for k in ("t", "alpha", "eta") if k in ALGORITHMS[alg])
        t = p["algorithm_params"].get(step)
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not (t > 0 and math.isfinite(t)):
            raise _err(w, f"{where}.algorithm_params.{step}", f"the step size: a positive number, got {t!r}")
        if alg == "sgd" and "batch_size" not in p["algorithm_params"]:
            raise _err(w, f"{where}.algorithm_params.batch_size", "sgd needs a batch size (>= 1)")
        if self.record is None:
            self.record = list(FAMILIES[family_of(alg)][3])
        for r in self.record:
            if r not in record_of(alg):
                raise _err(w, "sweep.record", f"{alg} ({where}) does not record {r!r}; allowed: "
                                              f"{', '.join(record_of(alg))}")
        for k in p["accelerator"]:
            if k not in _ACCEL_KEYS:
                raise _err(w, f"{where}.accelerator.{k}", f"unknown field; allowed: {', '.join(_ACCEL_KEYS)}")
        fmt = p.get("format")
        try:
            QFormat.parse(fmt)
        except (ValueError, TypeError, AttributeError):
            raise _err(w, f"{where}.format", f"expected a signed format such as 'Q8.8' or 'Q(16,8)', "
                                             f"got {fmt!r}") from None
        strat = p.setdefault("strategy", next(iter(self.strategies)))
        if strat not in self.strategies:
            raise _err(w, f"{where}.strategy", f"unknown strategy {strat!r}; allowed: "
                                               f"{', '.join(self.strategies)}")
        p["casts"] = dict(p["accelerator"].get("casts", {}), **self.strategies[strat])
        p.setdefault("source", None)
        try:
            build_accelerator(p, seed=0)
        except ValueError as e:
            what = ", ".join(f"{k}={p.get(k)!r}" for k in ("format", "strategy", "source"))
            raise _err(w, f"{where} ({what})", str(e)) from None
        p["iterations"] = self._int(f"{where}.iterations", p.get("iterations"), 0)
        p["replicates"] = self._int(f"{where}.replicates", p.get("replicates"), 1)
        tol = p.setdefault("tol", None)
        if tol is not None and (isinstance(tol, bool) or not isinstance(tol, numbers.Real) or tol < 0):
            raise _err(w, f"{where}.tol", f"a tolerance on f - f*: a number >= 0, got {tol!r}")
        return p

    def _label_columns(self, points):
        """Label column -> arrow type name: the fixed labels, then every setting that differs
        between points, named by its last key (the full dotted key if two would share a name)."""
        flat = [_flatten(p) for p in points]
        varying = [k for k in dict.fromkeys(k for f in flat for k in f)
                   if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1
                   and k not in FIXED_LABELS and not k.startswith("casts")
                   and k not in ("replicates",)]
        short = {}
        for k in varying:
            leaf = k.rsplit(".", 1)[-1]
            short[k] = k if (leaf in FIXED_LABELS or sum(v.rsplit(".", 1)[-1] == leaf for v in varying) > 1) else leaf
        cols = {c: "string" for c in FIXED_LABELS}
        self._paths = {c: c for c in FIXED_LABELS}
        for k, name in short.items():
            vals = [f.get(k) for f in flat]
            kinds = {type(v) for v in vals if v is not None}
            if kinds and kinds <= {int}:
                cols[name] = "int64"
            elif kinds and kinds <= {int, float}:
                cols[name] = "float64"
            elif kinds == {bool}:
                cols[name] = "bool"
            else:
                cols[name] = "string"
            self._paths[name] = k
        return cols

    def label_path(self, column):
        """The dotted setting a label column shows.

        >>> SweepConfig(example()).label_path("t")
        'algorithm_params.t'
        """
        return self._paths[column]


def _merge(base, over):
    """``base`` with the case ``over``: tables merged key by key, except that a case naming
    another model (algorithm) replaces ``model_params`` (``algorithm_params``)."""
    out = copy.deepcopy(base)
    for name in ("model", "algorithm"):
        if name in over and over[name] != base.get(name):
            out[f"{name}_params"] = {}
    for k, v in over.items():
        if k in _TABLES and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = dict(out[k], **copy.deepcopy(v))
        else:
            out[k] = copy.deepcopy(v)
    return out


def _set(p, key, v):
    head, _, leaf = key.partition(".")
    if leaf:
        p[head] = dict(p.get(head) or {}, **{leaf: v})
    else:
        p[head] = v


def _flatten(p, prefix=""):
    out = {}
    for k, v in p.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _fixed_label(p, column):
    """The value of a fixed label column for the point ``p`` (formats printed as ``Q(16,8)``)."""
    if column == "format":
        return str(QFormat.parse(p["format"]))
    v = p.get(column)
    return "none" if v is None else str(v)


def _cast_label(v, kind):
    if v is None:
        return None
    if kind == "string":
        return v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    if kind == "float64":
        return float(v)
    return v


def build_accelerator(p, seed):
    """The run's ``fxsim.Accelerator`` from its settings (``format``, ``accelerator``,
    ``casts``, ``source``) and its seed.

    >>> build_accelerator({"format": "Q8.8", "accelerator": {"acc": "Q16.16"},
    ...                    "casts": {"grad": "stochastic"}, "source": "lfsr16"}, seed=3)
    Accelerator(weights=Q(16,8), grads=Q(16,8), acc=Q(32,16), casts(grad=stochastic/saturate), source='lfsr16', seed=3, r=16, eps=0)
    """
    a = dict(p["accelerator"])
    a.pop("casts", None)
    grads = a.pop("grads", p["format"])
    casts = {role: (spec if isinstance(spec, (dict, list)) else (spec, "saturate"))
             for role, spec in p.get("casts", {}).items()}
    return Accelerator(p["format"], grads, casts=casts, source=p.get("source"), seed=seed, **a)


def example() -> dict:
    """A small sweep (the README's, ``examples/sweep_gd.toml``, as a dict): 2 formats × 3
    strategies × 2 step sizes, 3 replicates, 150 iterations of GD on a 20-d quadratic.

    >>> len(SweepConfig(example()).runs)
    36
    """
    return {
        "sweep": {"name": "gd-quadratic", "seed": 0, "replicates": 3, "record": ["loss", "excess", "moved"]},
        "run": {"model": "quadratic", "model_params": {"d": 20, "cond": 10.0},
                "algorithm": "gd", "algorithm_params": {"t": 0.05},
                "format": "Q8.8", "accelerator": {"acc": "Q16.16", "eps": 0.2},
                "source": "lfsr16", "iterations": 150},
        "axes": {"format": ["Q8.8", "Q8.10"],
                 "strategy": ["round-to-nearest", "SR", "signed-SR_eps"],
                 "algorithm_params.t": [0.05, 0.1]},
    }


def load_config(path) -> SweepConfig:
    """Read and validate a sweep file (TOML); errors name the file and the key.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "s.toml")
    >>> _ = open(p, "w").write(dump_toml(example()))
    >>> len(load_config(p).runs)
    36
    >>> _ = open(p, "w").write('[run]\\nmodel = "quadratic"\\n[axes]\\nstrategy = "SR"\\n')
    >>> load_config(p)
    Traceback (most recent call last):
        ...
    fxsim.sweep.config.ConfigError: .../s.toml: axes.strategy: expected a non-empty list of values, got 'SR'
    """
    import tomllib
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the sweep file ({e.strerror or e})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return SweepConfig(data, where=str(path))


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        v = float(v)
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise ValueError(f"cannot write {v!r} to TOML")


def _toml_key(k):
    k = str(k)
    return k if k.replace("_", "").replace("-", "").isalnum() and k.isascii() else json.dumps(k, ensure_ascii=False)


def dump_toml(data: dict, comments: str = "") -> str:
    """A sweep description as TOML text (tables of scalars, lists and inline tables; ``cases``
    as an array of tables); ``comments`` goes first, each line prefixed with ``#``.

    >>> import tomllib
    >>> tomllib.loads(dump_toml(example())) == example()
    True
    """
    out = [f"# {line}".rstrip() for line in comments.splitlines()]
    for name, table in data.items():
        rows = table if isinstance(table, list) else [table]
        for row in rows:
            out.append("")
            out.append(f"[[{name}]]" if isinstance(table, list) else f"[{name}]")
            out += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in row.items()]
    return "\n".join(out).lstrip("\n") + "\n"
