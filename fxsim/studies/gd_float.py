"""Gradient descent in low-precision floats (``fxsim gd-study --formats e4m3,e5m2,bf16``): Xia,
Massei, Hochstenbach & Koren, "On stochastic roundoff errors in gradient descent with
low-precision computation" (JOTA 200, 2024; arXiv 2202.12276).

The paper's full text was not in the stored sources (only its abstract: RN, SR and two biased
schemes, multinomial logistic regression and a simple neural network, "an 8-bit floating-point
format"), so the format, the step sizes, the data set and what is rounded are choices, the same
as the fixed-point study's where one applies (``docs/studies/gd_float.md``):

- formats ``e4m3`` (OCP, 4-bit significand) and ``e5m2`` (3-bit), bf16 for contrast; every cast
  saturates; the data are rounded once into the format (nearest-even);
- arithmetic (``chop.FloatUnit``): each operation of the forward and backward pass (the two
  matrix products, the max-shift, exp, the row sums, the division, P − Y, the averaged products
  Xᵀ·D / n, the weight-decay term) is computed in float64 and rounded once in the strategy's
  gradient mode; the update is the fused x − t·g, rounded once in its update mode (t a power of
  two, so this is one correct rounding in every 8-bit format);
- strategies and ε: those of ``gd_rounding.STRATEGIES`` (RN; SR; SR_ε with ε = 0.2 in both roles;
  signed-SR_ε: SR in the gradient, signed-SR_ε with v = g on the update), r = 16 bits;
- models: multinomial logistic regression on scikit-learn's digits (1797 × 64, pixels / 16, a
  bias column, 10 classes, L2 λ = 1e-3, start W = 0, t = the largest power of two ≤ 1/L with
  L = ½λ_max(XᵀX/n) + λ; f* from float64 L-BFGS) and a 64-32-10 ReLU network (He init rounded
  into the format, t = 0.5, f* unknown: its loss is plotted);
- weight magnitude: the logistic regression in the coordinates x = W + c·1 (c = 0, 2, 8): the same
  problem, weights c larger.  RN loses an update x_i − t·g_i when |t·g_i| < ulp(x_i)/2, and
  ulp grows with |x_i| in a float format (in fixed point the threshold is LSB/2 at every c).

``run(out_dir, quick=False, seed=0, progress=True, formats=...)`` writes ``gd_float.csv``,
``gd_float_runs.csv``, ``gd_float.md`` and ``gd_float.png`` and returns the ``StudyResult``
with ``summary`` and ``verdicts``.
"""
from __future__ import annotations

import functools
import os
import time
import zlib

import numpy as np
from threadpoolctl import threadpool_limits

from .. import make_source
from ..floatformat import FloatFormat
from ._report import (figure, finish, fmt_number, make_progress, markdown_table, print_study,
                      run_jobs, verdict, verdict_lines, write_csv)
from .chop import FloatUnit, IdentityUnit

#: the strategies of ``gd_rounding.STRATEGIES`` (gradient rounding, update rounding); kept here
#: so that gd_rounding can dispatch float formats to this module without an import cycle
STRATEGIES = {name: dict(zip(("grad", "update"), modes)) for name, modes in (
    ("round-to-nearest", ()), ("SR", ("stochastic", "stochastic")),
    ("SR_ε", ("stochastic_eps", "stochastic_eps")), ("signed-SR_ε", ("stochastic", "signed_stochastic_eps")))}
EPS, R_BITS = 0.2, 16
SOURCES = {"lfsr16": "LFSR n=16", "pcg64": "ideal PCG64"}


def source_label(spec: str) -> str:
    return SOURCES.get(spec, spec)

__all__ = ["MODELS", "PRESETS", "OFFSETS", "is_float_format", "float_formats",
           "MultinomialLogistic", "TwoLayerNet", "build_model", "run_one", "run_job",
           "summarize", "decide", "markdown", "plot", "run", "command", "COLUMNS", "SUMMARY_COLUMNS",
           "STRATEGIES", "FloatUnit", "IdentityUnit"]

MODELS = {"logistic10": "Multinomial logistic regression, digits (10 classes, 650 weights, λ=1e-3)",
          "net": "Two-layer ReLU network 64-32-10, digits (2410 weights)"}
#: the weight offsets c of the magnitude experiment (logistic regression, RN and SR)
OFFSETS = (0.0, 2.0, 8.0)
NET_STEP = 0.5
L2 = 1e-3
PRESETS = {"full": dict(seeds=2, iters={"logistic10": 300, "net": 200}, n=None),
           "quick": dict(seeds=1, iters={"logistic10": 100, "net": 50}, n=600)}
COLUMNS = ["model", "format", "offset", "source", "strategy", "seed", "t", "n_iters",
           "initial_excess", "final_excess", "min_excess", "final_loss", "accuracy", "stall_iter", "moved_last"]
SUMMARY_COLUMNS = ["model", "format", "offset", "source", "strategy", "n_seeds", "n_iters",
                   "initial_excess", "final_excess", "min_excess", "accuracy", "stall_iter", "moved_last"]


def is_float_format(name) -> bool:
    """True when ``name`` is a float format name (``FloatFormat.parse`` takes it).

    >>> is_float_format("e4m3"), is_float_format("bf16"), is_float_format("Q8.8")
    (True, True, False)
    """
    try:
        FloatFormat.parse(str(name).strip())
    except (ValueError, TypeError):
        return False
    return True


def float_formats(spec) -> list:
    """The float format names of a comma-separated ``--formats`` value (others left out).

    >>> float_formats("Q8.8,e4m3, bf16")
    ['e4m3', 'bf16']
    >>> float_formats(None)
    []
    """
    if spec is None:
        return []
    names = spec.split(",") if isinstance(spec, str) else [str(s) for s in spec]
    return [n.strip() for n in names if n.strip() and is_float_format(n)]


# -- models: loss in float64, gradient through a FloatUnit ------------------------------------

@functools.lru_cache(maxsize=None)
def _digits(n):
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    if n is not None:
        X, y = X[:n], y[:n]
    X = np.hstack([X / 16.0, np.ones((len(X), 1))])
    return X, y


def _softmax_ce(Z, y):
    Z = Z - Z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(Z).sum(axis=1))
    return float(np.mean(lse - Z[np.arange(len(y)), y]))


def _probs(u, Z):
    """Softmax of the rows of Z, every operation through the unit ``u``."""
    Zm = u.sub(Z, Z.max(axis=1, keepdims=True))
    E = u.exp(Zm)
    return u.div(E, u.sum(E, axis=1, keepdims=True))


class MultinomialLogistic:
    """f(x) = mean softmax cross-entropy of X·W + λ/2·‖W‖², W = x − c (65 × 10, flat), on the
    digits rounded into ``fmt``.

    >>> m = MultinomialLogistic("e4m3", n=200)
    >>> x0 = m.x0(); g = m.grad(x0, IdentityUnit())
    >>> x0.shape, bool(np.allclose(g, m.grad64(x0)))
    ((650,), True)
    """

    def __init__(self, fmt, n=None, offset=0.0, l2=L2):
        X, y = _digits(n)
        self.X = FloatUnit(fmt).round(X) if fmt is not None else X
        self.y, self.l2, self.offset = y, l2, float(offset)
        self.Y = np.eye(10)[y]
        self.shape = (X.shape[1], 10)
        self.dim = X.shape[1] * 10
        XtX = self.X.T @ self.X / len(y)
        self.L = 0.5 * float(np.linalg.eigvalsh(XtX).max()) + l2
        self.t = float(2.0 ** np.floor(np.log2(1.0 / self.L)))

    def x0(self, rng=None):
        return np.full(self.dim, self.offset)

    def loss(self, x):
        W = (x - self.offset).reshape(self.shape)
        return _softmax_ce(self.X @ W, self.y) + 0.5 * self.l2 * float(np.sum(W * W))

    def accuracy(self, x):
        W = (x - self.offset).reshape(self.shape)
        return float(np.mean(np.argmax(self.X @ W, axis=1) == self.y))

    def grad64(self, x):
        return self.grad(x, IdentityUnit())

    def grad(self, x, u):
        W = (x - self.offset).reshape(self.shape)
        P = _probs(u, u.matmul(self.X, W))
        D = u.sub(P, self.Y)
        G = u.round(self.X.T @ D / len(self.y))
        return u.add(G, u.mul(self.l2, W)).reshape(-1)

    @functools.cached_property
    def f_star(self):
        from scipy.optimize import minimize

        def fg(w):
            return self.loss(w + self.offset), self.grad64(w + self.offset)
        res = minimize(fg, np.zeros(self.dim), jac=True, method="L-BFGS-B",
                       options=dict(maxiter=5000, gtol=1e-12, ftol=1e-15))
        return float(res.fun)


class TwoLayerNet:
    """A 64-32-10 ReLU network with softmax cross-entropy (biases as extra rows), weights
    flat; He initialisation rounded into ``fmt``.

    >>> net = TwoLayerNet("e4m3", n=100)
    >>> x = net.x0(np.random.default_rng(0)); g = net.grad(x, IdentityUnit())
    >>> x.shape, g.shape, bool(np.isfinite(net.loss(x)))
    ((2410,), (2410,), True)
    """
    f_star = 0.0
    offset = 0.0

    def __init__(self, fmt, n=None, hidden=32):
        X, y = _digits(n)
        self.fmt = fmt
        self.X = FloatUnit(fmt).round(X) if fmt is not None else X
        self.y, self.Y, self.h = y, np.eye(10)[y], hidden
        self.s1 = (X.shape[1], hidden)
        self.s2 = (hidden + 1, 10)
        self.dim = self.s1[0] * self.s1[1] + self.s2[0] * self.s2[1]
        self.t = NET_STEP

    def x0(self, rng):
        w1 = rng.normal(0, np.sqrt(2.0 / 64), self.s1)
        w2 = rng.normal(0, np.sqrt(2.0 / self.h), self.s2)
        x = np.concatenate([w1.ravel(), w2.ravel()])
        return FloatUnit(self.fmt).round(x) if self.fmt is not None else x

    def _split(self, x):
        k = self.s1[0] * self.s1[1]
        return x[:k].reshape(self.s1), x[k:].reshape(self.s2)

    def _logits(self, x):
        W1, W2 = self._split(x)
        A = np.maximum(self.X @ W1, 0.0)
        return np.hstack([A, np.ones((len(A), 1))]) @ W2

    def loss(self, x):
        return _softmax_ce(self._logits(x), self.y)

    def accuracy(self, x):
        return float(np.mean(np.argmax(self._logits(x), axis=1) == self.y))

    def grad(self, x, u):
        W1, W2 = self._split(x)
        n = len(self.y)
        H = u.matmul(self.X, W1)
        A1 = np.hstack([np.maximum(H, 0.0), np.ones((n, 1))])
        D = u.sub(_probs(u, u.matmul(A1, W2)), self.Y)
        G2 = u.round(A1.T @ D / n)
        dH = u.matmul(D, W2[:-1].T) * (H > 0)
        G1 = u.round(self.X.T @ dH / n)
        return np.concatenate([G1.ravel(), G2.ravel()])


def build_model(key, fmt, n=None, offset=0.0):
    """The model ``key`` of ``MODELS`` on the digits rounded into ``fmt`` (first ``n`` rows).

    >>> m = build_model("logistic10", "e4m3", n=100, offset=2.0)
    >>> m.dim, m.t, float(m.x0()[0])
    (650, 0.125, 2.0)
    """
    if key == "logistic10":
        return MultinomialLogistic(fmt, n=n, offset=offset)
    if key == "net":
        return TwoLayerNet(fmt, n=n)
    raise ValueError(f"model: unknown {key!r}; choose from {', '.join(MODELS)}")


# -- one run, one job --------------------------------------------------------------------------

def _seeds(seed, model, k):
    words = [int(seed), zlib.crc32(model.encode()), int(k)]
    return [int(s) for s in np.random.SeedSequence(words).generate_state(3, np.uint32)]


def _unit(fmt, rounding, source):
    return FloatUnit(fmt, rounding or "nearest_even", source=source, r=R_BITS, eps=EPS)


def run_one(model, fmt, strategy, x0, n_iters, src_spec="pcg64", src_seeds=(1, 2)):
    """GD x ← cast_update(x − t·g), g = the gradient through the strategy's gradient unit.
    Returns (losses (n_iters + 1,), last x, stall iteration (first k with x_{k+1} = x_k, or
    None), fraction of weights moved by the last step).

    >>> m = MultinomialLogistic("e4m3", n=100)
    >>> L, x, stall, moved = run_one(m, "e4m3", "round-to-nearest", m.x0(), 5)
    >>> L.shape, x.shape
    ((6,), (650,))
    """
    roles = STRATEGIES[strategy]
    sg = make_source(src_spec, seed=src_seeds[0]) if roles else None
    su = make_source(src_spec, seed=src_seeds[1]) if roles else None
    ug = _unit(fmt, roles.get("grad"), sg)
    uu = _unit(fmt, roles.get("update"), su)
    with threadpool_limits(1):            # small matrix products: BLAS threads only cost here
        return _descend(model, ug, uu, x0, n_iters)


def _descend(model, ug, uu, x0, n_iters):
    x = np.array(x0, dtype=np.float64)
    losses = np.empty(n_iters + 1)
    losses[0] = model.loss(x)
    stall, moved = None, 1.0
    for k in range(n_iters):
        g = ug.round(model.grad(x, ug))
        xn = uu.fused_update(x, model.t, g, v=g)
        moved = float(np.mean(xn != x))
        if stall is None and moved == 0.0:
            stall = k
        x = xn
        losses[k + 1] = model.loss(x)
    return losses, x, stall, moved


def run_job(job):
    """All strategies of one (model, format, offset, source, seed index): (rows, curves).
    ``job`` = (model, format, offset, source, seed, k, n_iters, n, strategies).

    >>> rows, curves = run_job(("logistic10", "e4m3", 0.0, "pcg64", 0, 0, 3, 60, ("SR",)))
    >>> rows[0]["strategy"], curves["SR"].shape
    ('SR', (4,))
    """
    with threadpool_limits(1):            # small matrix products: BLAS threads only cost here
        return _run_job(job)


def _run_job(job):
    mk, fmt, offset, src, seed, k, n_iters, n, strategies = job
    model = build_model(mk, fmt, n=n, offset=offset)
    s_init, s_g, s_u = _seeds(seed, mk, k)
    x0 = model.x0(np.random.default_rng(s_init))
    f_star = model.f_star
    rows, curves = [], {}
    for strat in strategies:
        L, x, stall, moved = run_one(model, fmt, strat, x0, n_iters, src, (s_g, s_u))
        ex = L - f_star
        curves[strat] = ex
        rows.append(dict(model=mk, format=fmt, offset=offset, source=src, strategy=strat, seed=k,
                         t=model.t, n_iters=n_iters, initial_excess=float(ex[0]),
                         final_excess=float(ex[-1]),
                         min_excess=float(ex.min()), final_loss=float(L[-1]),
                         accuracy=model.accuracy(x), stall_iter=stall, moved_last=moved))
    return rows, curves


# -- summary, verdicts, markdown, figure -------------------------------------------------------

def _key(r):
    return (r["model"], r["format"], r["offset"], r["source"], r["strategy"])


def summarize(rows) -> list:
    """Medians over seeds per (model, format, offset, source, strategy).

    >>> r = dict(model="m", format="e4m3", offset=0.0, source="pcg64", strategy="SR", n_iters=5,
    ...          initial_excess=2.0, final_excess=1.0, min_excess=1.0, accuracy=0.5,
    ...          stall_iter=None, moved_last=0.1)
    >>> summarize([r, dict(r, final_excess=3.0)])[0]["final_excess"]
    2.0
    """
    groups = {}
    for r in rows:
        groups.setdefault(_key(r), []).append(r)
    out = []
    for key, rs in groups.items():
        stalls = [r["stall_iter"] for r in rs if r["stall_iter"] is not None]
        out.append(dict(zip(("model", "format", "offset", "source", "strategy"), key),
                        n_seeds=len(rs), n_iters=rs[0]["n_iters"],
                        initial_excess=float(np.median([r["initial_excess"] for r in rs])),
                        final_excess=float(np.median([r["final_excess"] for r in rs])),
                        min_excess=float(np.median([r["min_excess"] for r in rs])),
                        accuracy=float(np.median([r["accuracy"] for r in rs])),
                        stall_iter=float(np.median(stalls)) if len(stalls) == len(rs) else None,
                        moved_last=float(np.median([r["moved_last"] for r in rs]))))
    return out


def _get(summary, **kw):
    for s in summary:
        if all(s[k] == v for k, v in kw.items()):
            return s
    return None


def progress(summary, model, fmt, offset, source, strategy) -> float:
    """1 − final/initial f − f* of a summary cell: the share of the way to f* it went."""
    s = _get(summary, model=model, format=fmt, offset=offset, source=source, strategy=strategy)
    return 1.0 - s["final_excess"] / s["initial_excess"]


def decide(summary) -> list:
    """The verdicts: RN stagnates above SR; RN's stagnation grows with the weights' magnitude
    (SR's does not); SR_ε and signed-SR_ε beat SR; LFSR and ideal bits agree.

    >>> base = dict(model="m", format="e4m3", offset=0.0, source="pcg64", initial_excess=2.0,
    ...             min_excess=0.0, accuracy=0.0, stall_iter=None, n_seeds=1, n_iters=5)
    >>> s = [dict(base, strategy="round-to-nearest", final_excess=1.5, moved_last=0.0),
    ...      dict(base, strategy="SR", final_excess=0.5, moved_last=0.1)]
    >>> [(v["claim"], v["held"]) for v in decide(s)]
    [('RN stagnates above SR (m, e4m3)', True)]
    """
    out = []
    fmts = list(dict.fromkeys(s["format"] for s in summary))
    srcs = list(dict.fromkeys(s["source"] for s in summary))
    ideal = "pcg64" if "pcg64" in srcs else srcs[-1]
    for mk in dict.fromkeys(s["model"] for s in summary):
        for f in fmts:
            rn = _get(summary, model=mk, format=f, offset=0.0, source=ideal, strategy="round-to-nearest")
            sr = _get(summary, model=mk, format=f, offset=0.0, source=ideal, strategy="SR")
            if rn is None or sr is None:
                continue
            held = rn["final_excess"] > 1.5 * sr["final_excess"] and rn["moved_last"] < 0.05
            out.append(verdict(f"RN stagnates above SR ({mk}, {f})", held,
                               f"RN {fmt_number(rn['final_excess'])} (weights moved by the last "
                               f"step {rn['moved_last']:.0%}) vs SR {fmt_number(sr['final_excess'])}"))
            for b in ("SR_ε", "signed-SR_ε"):
                s = _get(summary, model=mk, format=f, offset=0.0, source=ideal, strategy=b)
                if s is not None:
                    out.append(verdict(f"{b} beats SR ({mk}, {f})",
                                       s["final_excess"] < sr["final_excess"],
                                       f"{fmt_number(s['final_excess'])} vs {fmt_number(sr['final_excess'])}"))
            offs = sorted({s["offset"] for s in summary if s["model"] == mk and s["format"] == f})
            if len(offs) > 1:
                p_rn = [progress(summary, mk, f, c, ideal, "round-to-nearest") for c in offs]
                p_sr = [progress(summary, mk, f, c, ideal, "SR") for c in offs]
                out.append(verdict(f"RN's stagnation grows with the weights' magnitude, SR's does "
                                   f"not ({mk}, {f}, c = {', '.join(f'{c:g}' for c in offs)})",
                                   p_rn[-1] < 0.5 * p_rn[0] and p_sr[-1] > 0.5 * p_sr[0],
                                   "share of the initial f − f* removed: RN "
                                   + ", ".join(f"{v:.0%}" for v in p_rn) + "; SR "
                                   + ", ".join(f"{v:.0%}" for v in p_sr)))
    for src in (s for s in srcs if s != ideal):
        for mk in dict.fromkeys(s["model"] for s in summary):
            ratios = []
            for s in summary:
                if s["source"] != src or s["model"] != mk or s["strategy"] == "round-to-nearest":
                    continue
                t = _get(summary, model=mk, format=s["format"], offset=s["offset"], source=ideal,
                         strategy=s["strategy"])
                if t is not None and t["final_excess"] > 0 and s["final_excess"] > 0:
                    ratios.append(s["final_excess"] / t["final_excess"])
            if ratios:
                lo, hi = min(ratios), max(ratios)
                out.append(verdict(f"{source_label(src)} bits give the final loss of ideal bits "
                                   f"within 2x ({mk}, every stochastic cell)",
                                   0.5 <= lo and hi <= 2.0,
                                   f"ratio {lo:.3g}..{hi:.3g} over {len(ratios)} cells"))
    return out


def markdown(summary, verdicts, meta) -> str:
    """The study's markdown: settings, the verdict lines and the table of medians.

    >>> print(markdown([], [], {"seed": 0}).splitlines()[2])
    Settings: seed 0
    """
    head = ["model", "format", "c", "source", "strategy", "final f−f*", "min f−f*", "accuracy",
            "first idle step", "moved last"]
    body = [[s["model"], s["format"], f"{s['offset']:g}", source_label(s["source"]), s["strategy"],
             fmt_number(s["final_excess"]), fmt_number(s["min_excess"]), f"{s['accuracy']:.3f}",
             "" if s["stall_iter"] is None else f"{s['stall_iter']:.0f}", f"{s['moved_last']:.0%}"]
            for s in summary]
    lines = ["# GD in low-precision floats (Xia, Massei, Hochstenbach & Koren, JOTA 2024)", "",
             "Settings: " + ", ".join(f"{k} {v}" for k, v in meta.items()), "",
             "## Verdicts", "", "```", verdict_lines(verdicts), "```", "",
             "## Medians over seeds", "", markdown_table(head, body), "",
             "f* of the network = 0 (unknown): its column is the loss itself. c: the weights' "
             "offset (x = W + c); 'first idle step': the first step that changed no weight (from there\n"
             "RN never moves again), for every seed; 'moved last': share of weights the last step changed.", ""]
    return "\n".join(lines)


STYLE = {"round-to-nearest": "C0", "SR": "C1", "SR_ε": "C2", "signed-SR_ε": "C3"}


def plot(curves, summary, path) -> str:
    """One panel per (model, format) at c = 0 (median over seeds, solid: the ideal source,
    dashed: the others) and one panel of RN and SR against the offset c; returns ``path``.

    >>> import os, tempfile
    >>> c = {("logistic10", "e4m3", 0.0, "pcg64", "SR"): np.array([[2.0, 1.0]])}
    >>> os.path.exists(plot(c, [], os.path.join(tempfile.mkdtemp(), "f.png")))
    True
    """
    panels = list(dict.fromkeys((k[0], k[1]) for k in curves if k[2] == 0.0))
    offs = sorted({k[2] for k in curves})
    n = len(panels) + (1 if len(offs) > 1 else 0)
    cols = min(3, n)
    rows_ = (n + cols - 1) // cols
    fig = figure(5.2 * cols, 3.9 * rows_)
    axs = fig.subplots(rows_, cols, squeeze=False).ravel()
    srcs = list(dict.fromkeys(k[3] for k in curves))
    for ax, (mk, f) in zip(axs, panels):
        for (m2, f2, c, src, strat), ex in curves.items():
            if (m2, f2, c) != (mk, f, 0.0):
                continue
            med = np.median(ex, axis=0)
            ax.semilogy(np.maximum(med, 1e-12), color=STYLE[strat],
                        ls="-" if src == srcs[-1] else "--", lw=1.2,
                        label=f"{strat} ({source_label(src)})")
        ax.set_title(f"{MODELS[mk]}\n{f}", fontsize=8.5)
        ax.set_xlabel("iteration k")
        ax.set_ylabel("loss" if mk == "net" else "f(x_k) − f*")
        ax.grid(alpha=0.3, which="both")
    if panels:
        axs[0].legend(fontsize=6.5)
    if len(offs) > 1:
        ax = axs[len(panels)]
        for (mk, f) in dict.fromkeys((s["model"], s["format"]) for s in summary
                                     if s["offset"] != 0.0):
            for strat in ("round-to-nearest", "SR"):
                ys = [progress(summary, mk, f, c, srcs[-1], strat) for c in offs]
                ax.plot(offs, ys, "o-" if f == "e4m3" else "s--", color=STYLE[strat],
                        label=f"{strat}, {f}")
        ax.set_xlabel("weight offset c (x = W + c: same problem, larger weights)")
        ax.set_ylabel("share of the initial f − f* removed")
        ax.set_title("RN's stagnation depends on the weights' magnitude\n(logistic regression)",
                     fontsize=8.5)
        ax.legend(fontsize=6.5)
        ax.grid(alpha=0.3, which="both")
    for ax in axs[n:]:
        ax.set_visible(False)
    fig.suptitle("GD in 8-bit floats: every operation rounded once (chop-style), fused update; "
                 "median over seeds", fontsize=10)
    fig.savefig(path, dpi=100)
    return path


# -- the study ---------------------------------------------------------------------------------

def jobs_for(formats, seed, quick, sources, models=tuple(MODELS), offsets=OFFSETS):
    p = PRESETS["quick" if quick else "full"]
    jobs = []
    for mk in models:
        for f in formats:
            for src in sources:
                for k in range(p["seeds"]):
                    jobs.append((mk, f, 0.0, src, seed, k, p["iters"][mk], p["n"], tuple(STRATEGIES)))
                    if mk == "logistic10" and f != "bf16":
                        for c in offsets[1:]:
                            jobs.append((mk, f, c, src, seed, k, p["iters"][mk], p["n"],
                                         ("round-to-nearest", "SR")))
    return jobs


def run(out_dir, quick=False, seed=0, progress=True, *, formats=("e4m3", "e5m2"), sources=None,
        models=None, workers=2, copy_figures_to=None, jobs=None):
    """Run the float GD study (``formats``: float format names; ``sources``: make_source specs,
    default lfsr16 and pcg64) and write its files into ``out_dir``.  ``jobs`` (tests) replaces
    the preset's job list.  The quick preset takes ~35 s CPU, so the example is skipped:

    >>> res = run("results/gd_float", quick=True)     # doctest: +SKIP
    >>> sorted(res.files)                             # doctest: +SKIP
    ['csv', 'gd_float_png', 'md', 'runs_csv']
    """
    fmts = [str(FloatFormat.parse(f)) if not isinstance(f, str) else f for f in formats]
    for f in fmts:
        FloatFormat.parse(f)
    sources = list(SOURCES) if sources is None else list(sources)
    models = tuple(MODELS) if models is None else tuple(models)
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    jobs = jobs or jobs_for(fmts, seed, quick, sources, models)
    bar = make_progress(len(jobs), "gd-study floats", progress)
    try:
        results = run_jobs(run_job, jobs, workers=workers, bar=bar,
                           label=lambda j: f"{j[0]} {j[1]} c={j[2]:g} {j[3]}")
    finally:
        bar.close()
    rows = [r for rs, _ in results for r in rs]
    curves = {}
    for j, (_, cv) in zip(jobs, results):      # (model, format, offset, source, strategy)
        for strat, ex in cv.items():
            curves.setdefault(j[:4] + (strat,), []).append(ex)
    curves = {k: np.array(v) for k, v in curves.items()}
    summary = summarize(rows)
    verdicts = decide(summary)
    files = {k: os.path.join(out_dir, name) for k, name in
             (("csv", "gd_float.csv"), ("runs_csv", "gd_float_runs.csv"), ("md", "gd_float.md"))}
    write_csv(summary, files["csv"], SUMMARY_COLUMNS, float_format="{:.6g}")
    write_csv(rows, files["runs_csv"], COLUMNS, float_format="{:.6g}")
    files["gd_float_png"] = plot(curves, summary, os.path.join(out_dir, "gd_float.png"))
    p = PRESETS["quick" if quick else "full"]
    meta = {"preset": "quick" if quick else "full", "seed": seed, "seeds": p["seeds"],
            "samples": p["n"] or 1797, "ε": EPS, "r": R_BITS, "offsets c": list(OFFSETS)}
    md = markdown(summary, verdicts, meta)
    return finish(md, files, time.perf_counter() - t0, rows, copy_figures_to, summary=summary,
                  verdicts=verdicts)


def command(args, formats) -> int:
    """``fxsim gd-study --formats e4m3,...`` with float formats: run this study, print its
    verdicts, table and files (a fixed-point name among them is refused).

    >>> from fxsim.cli import main
    >>> main(["gd-study", "--formats", "e4m3", "--quick"])     # doctest: +SKIP
    """
    names = (args.formats if isinstance(args.formats, (list, tuple))
             else str(args.formats).split(","))
    bad = [str(f) for f in names if str(f).strip() and not is_float_format(str(f))]
    if bad:
        raise ValueError(f"--formats: {', '.join(bad)} mixed with float formats; run fixed-point "
                         f"and float formats in two calls")
    res = run(args.out, quick=args.quick, seed=args.seed, progress=args.progress,
              formats=formats, sources=getattr(args, "source", None),
              workers=2 if args.workers is None else args.workers,     # gd-study's default
              copy_figures_to=args.copy_figures)
    return print_study(res)
