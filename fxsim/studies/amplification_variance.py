"""The amplification paper's headline metric on the datapath: does a 1-ulp perturbation change
the test accuracy of trained networks as much as the choice of SGD seed?

Sun, Lao, Sundaramoorthi & Yezzi (NeurIPS 2022) state (abstract) that an error of the order of
the smallest floating-point bit "can be amplified significantly and result in significant test
accuracy variance, comparable to the test accuracy variance due to stochasticity in SGD".  Only
the abstract of the paper was found (arXiv 2206.02001); the protocol below is ours:

- network and data: the MLP 64→16→10 of the amplification study on the first ``n_train`` = 512
  digits; test accuracy on the other 1285 digits (argmax of the float64 forward pass of the
  trained words: the accuracy of the network the datapath trained);
- training: minibatch SGD (B = 32, ``n_iters`` steps, learning rate ``lr``, no weight decay)
  from the He init of seed 0 rounded to nearest into the format, on the emulated datapath for a
  fixed-point format (``fxsim.optim.GD``, the study's accelerator) or with one rounding per
  operation for a float format (``float_training.FloatGD``);
- **perturbed** group: ``n_pairs`` runs, each with +1 ulp (1 LSB) in one of the ``n_pairs``
  words with the largest |∂f/∂w| at the start, the same SGD seed and the same random-bit stream
  as the unperturbed **base** run (so each is a pair with the base run);
- **SGD seeds** group: ``n_seeds`` unperturbed runs with other minibatch orders (same bits);
- **SR seeds** group (stochastic roundings only): ``n_seeds`` unperturbed runs with the base
  minibatch order and other seeds of the bit source;
- metric: the standard deviation of the test accuracy within each group (every group includes
  the base run).  The claim holds for a format and rounding when the perturbed group's
  variance is not significantly below the SGD-seed group's (one-sided F test at 5 %: ratio of
  variances ≥ the 5 % quantile of F(n−1, m−1)) and the perturbations changed the accuracy at all.
"""
from __future__ import annotations

import math

import numpy as np

from ..fixed import FixedArray
from ..floatformat import FloatFormat
from ..ops import cast, get_num_threads, set_num_threads
from ..optim import GD
from ..qformat import QFormat
from .float_training import R_BITS, FloatGD, ulp_away
from ._report import make_progress, run_jobs

__all__ = ["N_TRAIN", "BATCH", "FIXED_FMT", "parse_format", "format_name", "split_digits", "train_model",
           "test_accuracy", "live_words", "train", "experiment", "summarize"]

N_TRAIN = 512
BATCH = 32
FIXED_FMT = QFormat(24, 16)          #: what ``fixed`` names: the amplification study's format


def parse_format(text):
    """A format of the study from its name: ``fixed`` (the study's Q(24,16)), a fixed-point
    name (``Q(24,16)``, ``Q8.16``...) or a float name (``fp32``, ``bf16``, ``e4m3``...).

    >>> parse_format("fixed"), parse_format("bf16")
    (QFormat(wl=24, fl=16, signed=True), FloatFormat('bf16'))
    """
    t = str(text).strip()
    if t.lower() == "fixed":
        return FIXED_FMT
    errors = []
    for parse in (QFormat.parse, FloatFormat.parse):
        try:
            return parse(t)
        except ValueError as e:
            errors.append(str(e))
    raise ValueError(f"formats: {t!r} is neither 'fixed', a fixed-point format (Q(24,16), "
                     f"Q8.16) nor a float format (fp32, bf16, e4m3, E5M10...)")


def format_name(fmt) -> str:
    """How tables name a format: its float name or its fixed-point notation.

    >>> format_name(parse_format("bf16"))
    'bf16'
    """
    return fmt.name if isinstance(fmt, FloatFormat) else str(fmt)


def split_digits(n_train=N_TRAIN):
    """(X_train, y_train, X_test, y_test): the first ``n_train`` digits and the rest.

    >>> [a.shape[0] for a in split_digits(512)]
    [512, 512, 1285, 1285]
    """
    from fxsim.models import builtin_dataset
    X, y = builtin_dataset("digits")
    if isinstance(n_train, bool) or not isinstance(n_train, int) or \
            not 10 <= n_train <= len(y) - 100:
        raise ValueError(f"n_train: must be an integer in 10..{len(y) - 100}, got {n_train!r}")
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def train_model(n_train=N_TRAIN):
    """The study's MLP 64→16→10 on the first ``n_train`` digits (He init of seed 0).

    >>> train_model(64)
    MLP(sizes=(64, 16, 10), m=64, dim=1210)
    """
    from fxsim.models import MLP
    X, y, _, _ = split_digits(n_train)
    return MLP(sizes=(64, 16, 10), X=X, y=y, seed=0)


def test_accuracy(model, w, X, y) -> float:
    """Fraction of ``X`` classified as ``y`` by the float64 forward pass of weights ``w``.

    >>> m = train_model(64); X, y = m.X, m.y
    >>> 0.0 <= test_accuracy(m, m.x0(), X, y) <= 1.0
    True
    """
    H = np.asarray(X, dtype=np.float64)
    L = model.layers(np.asarray(w, dtype=np.float64))
    for l, (W, b) in enumerate(L):
        H = H @ W.T + b
        if l < len(L) - 1:
            H = np.maximum(H, 0.0)
    return float(np.mean(H.argmax(axis=1) == np.asarray(y)))


def live_words(model, k) -> list:
    """The ``k`` words with the largest |∂f/∂w| at the start (float64 gradient of the whole
    training set at the He init), largest first.

    >>> live_words(train_model(64), 2)
    [1204, 156]
    """
    g = np.abs(np.asarray(model.grad(model.x0()), dtype=np.float64))
    return [int(i) for i in np.argsort(-g, kind="stable")[:k]]


def _accelerator(fmt, rounding, source, sr_seed):
    from ..accelerator import Accelerator
    acc = QFormat(min(2 * fmt.wl, 64), 2 * fmt.fl)
    return Accelerator(fmt, fmt, acts=fmt, prod=None, acc=acc,
                       casts={"acts": rounding, "grad": rounding, "update": rounding},
                       source=source, seed=sr_seed, r=R_BITS)


def train(model, fmt, rounding, source, lr, n_iters, sgd_seed=0, sr_seed=0, word=None,
          batch=BATCH) -> np.ndarray:
    """Train ``model`` by minibatch SGD in ``fmt`` (module doc); ``word``: the index that starts
    one ulp (LSB) away from zero, or None.  Returns the final weights (float64 values).

    >>> m = train_model(64)
    >>> w = train(m, parse_format("fixed"), "nearest_even", None, 0.5, 3)
    >>> w.shape
    (1210,)
    """
    x0 = model.x0()
    if isinstance(fmt, FloatFormat):
        w0 = ulp_away(x0, fmt, word) if word is not None else x0
        gd = FloatGD(model, fmt, rounding, lr=lr, batch_size=batch, seed=sgd_seed,
                     source=source, sr_seed=sr_seed, x0=w0)
        for _ in range(n_iters):
            gd.step()
        return gd.w
    x0q = cast(x0, fmt, "nearest_even", "saturate")
    if word is not None:
        raw = x0q.raw.copy()
        raw[word] += raw.dtype.type(1) if raw[word] >= 0 else raw.dtype.type(-1)
        x0q = FixedArray(raw, fmt)
    gd = GD(model, _accelerator(fmt, rounding, source, sr_seed), lr, "emulated",
            batch_size=batch, seed=sgd_seed, x0=x0q)
    for _ in range(n_iters):
        gd.step(record=False)
    return gd.x.to_float()


# -- the experiment on worker processes -------------------------------------------------------

_MODELS = {}


def _job(args):
    fmt_name, strategy, rounding, source, lr, n_iters, group, sgd_seed, sr_seed, word, \
        n_train = args
    if n_train not in _MODELS:
        _MODELS[n_train] = (train_model(n_train), split_digits(n_train)[2:])
    model, (Xt, yt) = _MODELS[n_train]
    threads = get_num_threads()
    set_num_threads(1)       # one kernel thread per job: the jobs run on the worker processes
    try:
        w = train(model, parse_format(fmt_name), rounding, source, lr, n_iters, sgd_seed,
                  sr_seed, word)
    finally:
        set_num_threads(threads)
    return {"format": fmt_name, "strategy": strategy, "lr": lr, "n_iters": n_iters,
            "group": group, "sgd_seed": sgd_seed, "sr_seed": sr_seed, "word": word,
            "test_acc": test_accuracy(model, w, Xt, yt), "w": w}


def experiment(formats, strategies, lr=0.5, n_iters=300, n_pairs=8, n_seeds=8, seed=0,
               n_train=N_TRAIN, workers=2, progress=False) -> list:
    """Every run of the metric (module doc) for each format name of ``formats`` and each
    strategy of ``strategies`` (name -> (rounding, source spec or None)); one dict per run
    with ``test_acc``, ``group`` (base, perturbed, sgd seed, sr seed), the seeds, ``word`` and,
    for the perturbed runs, ``dist`` = ‖w − w_base‖₂ / ‖w_base‖₂.  Independent of ``workers``.

    >>> rows = experiment(["fixed"], {"round-to-nearest": ("nearest_even", None)}, n_iters=2,
    ...                   n_pairs=2, n_seeds=2, n_train=64, workers=1)
    >>> [r["group"] for r in rows]
    ['base', 'perturbed', 'perturbed', 'sgd seed', 'sgd seed']
    """
    model = train_model(n_train)
    words = live_words(model, n_pairs)
    ss = np.random.SeedSequence(seed)
    sgd_seeds = [int(s) for s in ss.spawn(1)[0].generate_state(n_seeds + 1)]
    sr_seeds = [int(s) for s in ss.spawn(2)[1].generate_state(n_seeds + 1)]
    base_sgd, base_sr = sgd_seeds[0], sr_seeds[0]
    jobs = []
    for f in formats:
        for name, (rounding, source) in strategies.items():
            common = (f, name, rounding, source, float(lr), n_iters)
            jobs.append(common + ("base", base_sgd, base_sr, None, n_train))
            jobs += [common + ("perturbed", base_sgd, base_sr, w, n_train) for w in words]
            jobs += [common + ("sgd seed", s, base_sr, None, n_train) for s in sgd_seeds[1:]]
            if source is not None:
                jobs += [common + ("sr seed", base_sgd, s, None, n_train) for s in sr_seeds[1:]]
    bar = make_progress(len(jobs), "training runs for the test-accuracy variance", progress,
                        leave=False)
    try:
        rows = run_jobs(_job, jobs, workers, bar, label=lambda j: f"{j[0]} {j[1]} {j[6]}")
    finally:
        bar.close()
    base = {}
    for r in rows:
        if r["group"] == "base":
            base[r["format"], r["strategy"]] = r["w"]
    for r in rows:
        wb = base[r["format"], r["strategy"]]
        r["dist"] = (float(np.linalg.norm(r["w"] - wb) / np.linalg.norm(wb))
                     if r["group"] == "perturbed" else None)
        del r["w"]
    return rows


def _f_quantile(q, d1, d2):
    from scipy.stats import f
    return float(f.ppf(q, d1, d2))


def summarize(rows) -> list:
    """Per (format, strategy): the mean and standard deviation (ddof = 1, in percentage points)
    of the test accuracy of each group, the ratio of the perturbed group's variance to the
    SGD-seed group's, its one-sided 5 % F bound and ``held`` (module doc).

    >>> rows = [dict(format="f", strategy="s", group=g, test_acc=a, dist=None) for g, a in
    ...         [("base", .9), ("perturbed", .91), ("perturbed", .89), ("sgd seed", .9),
    ...          ("sgd seed", .92)]]
    >>> s = summarize(rows)[0]; round(s["std_perturbed"], 3), round(s["var_ratio"], 3)
    (1.0, 0.75)
    """
    out = []
    for key in dict.fromkeys((r["format"], r["strategy"]) for r in rows):
        mine = [r for r in rows if (r["format"], r["strategy"]) == key]
        acc = {g: np.array([100 * r["test_acc"] for r in mine
                            if r["group"] in (g, "base")])
               for g in ("perturbed", "sgd seed", "sr seed")}
        s = {"format": key[0], "strategy": key[1]}
        for g, a in acc.items():
            k = g.replace(" ", "_")
            s[f"n_{k}"] = int(a.size)
            s[f"mean_{k}"] = float(a.mean()) if a.size else math.nan
            s[f"std_{k}"] = float(a.std(ddof=1)) if a.size > 1 else math.nan
        dists = [r["dist"] for r in mine if r["group"] == "perturbed" and r["dist"] is not None]
        s["max_dist"] = max(dists) if dists else math.nan
        vp, vs = s["std_perturbed"] ** 2, s["std_sgd_seed"] ** 2
        s["var_ratio"] = vp / vs if vs > 0 else math.inf
        s["f_bound"] = _f_quantile(0.05, s["n_perturbed"] - 1, s["n_sgd_seed"] - 1)
        s["held"] = bool(vp > 0 and s["var_ratio"] >= s["f_bound"])
        out.append(s)
    return out
