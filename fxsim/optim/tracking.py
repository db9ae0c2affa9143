"""Compressed distributed gradient tracking: graphs, mixing matrices, a distributed
least-squares problem and the algorithm, with N agents simulated in one process as (N, d) arrays.

Algorithm (``gradient_tracking``).  Row i of X, Y is agent i's iterate and gradient tracker;
H_x, H_y are the reference copies: every agent holds the reference copy of itself and of its
neighbours, and they all update it from the same compressed message, so W·H is what agent i can
compute.  One iteration, with W the mixing matrix, α the step, γ the consensus step, C the
compressor, r its relative-error scale and s_k the message scale::

    X⁺  = X + γ (W − I) H_x − α Y
    H_x = H_x + s_k · C((X⁺ − H_x) / s_k) / r          # message: the compressed difference
    Y⁺  = Y + γ (W − I) H_y + ∇F(X⁺) − ∇F(X)
    H_y = H_y + s_k · C((Y⁺ − H_y) / s_k) / r

started from X₀ (all agents equal), Y₀ = ∇F(X₀), H = 0 (uncompressed: H_x = X, H_y = Y always).  This is BEER (Zhao, Li, Richtárik,
Chi 2022: gradient tracking with compressed differences to reference points, CHOCO-style),
which Xu, Yi, Wen, Shi, Johansson and Yang (Automatica 2025) take as the base of their
algorithm for the bounded relative error class, extended by the factor 1/r to non-contractive
compressors (e.g. rand-k scaled by d/k).  For the absolute-error classes the difference is
divided by a scale s_k = s₀ ρ^k before it is compressed and multiplied back after, so the
absolute error of the message, s_k·σ, decays geometrically with the algorithm's error (with
ρ no faster than the algorithm's own rate the scaled differences stay bounded, so a fixed
word never saturates).  This decaying-scale mechanism is what we use for the globally bounded
class (``scale_decay=ρ``); the paper's exact Algorithms 2 and 3 were not available to us, so the
parameters here are ours, chosen in the study.  The locally bounded quantizer with its
per-message power-of-two scale (``SaturatingQuantizer(b)``) scales itself and needs no s_k; the
fixed-word variant (``fl`` given) uses the same s_k.  Without compression (``Identity``, γ = 1)
the recursion is exactly gradient tracking X⁺ = W X − α Y, Y⁺ = W Y + ∇F(X⁺) − ∇F(X).

Since W is doubly stochastic, 1ᵀ(W − I) = 0: the average x̄ moves by −α ȳ and ȳ_k is the average
gradient whatever the compression, so compression only perturbs the consensus part.

Messages: each agent broadcasts two messages (x and y differences) per iteration, each
``compressor.bits(d)`` bits; the uncompressed baseline sends 2·64·d.  The bit counts are per
agent and per iteration (a link-level count multiplies by the agent's degree).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import validate as V
from ..results import StepResult, either_name
from .compressors import Identity

__all__ = ["ring", "random_geometric", "is_connected", "metropolis_weights", "check_mixing",
           "slem", "mixing_matrix", "TrackingResult",
           "gradient_tracking", "fit_rate"]


# -- graphs and mixing matrices ----------------------------------------------------------------

def ring(n: int) -> np.ndarray:
    """Adjacency (bool, no self-loops) of the ring of n ≥ 3 agents (n = 2: one edge).

    >>> ring(4).astype(int).tolist()
    [[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]]
    """
    n = V.integer("n", n, 2)
    a = np.zeros((n, n), dtype=bool)
    i = np.arange(n)
    a[i, (i + 1) % n] = a[(i + 1) % n, i] = True
    np.fill_diagonal(a, False)
    return a


def is_connected(adj) -> bool:
    """True when the undirected graph of ``adj`` is connected (breadth-first search).

    >>> is_connected(ring(5)), is_connected(np.zeros((3, 3), dtype=bool))
    (True, False)
    """
    adj = np.asarray(adj, dtype=bool)
    seen = np.zeros(len(adj), dtype=bool)
    seen[0] = True
    frontier = seen.copy()
    while frontier.any():
        new = adj[frontier].any(axis=0) & ~seen
        seen |= new
        frontier = new
    return bool(seen.all())


def random_geometric(n: int, radius: float = 0.5, seed: int = 0, max_tries: int = 100) -> np.ndarray:
    """Adjacency of a connected random geometric graph: n points uniform in the unit square
    (numpy PCG64 seeded with ``seed``), an edge when two points are within ``radius``; a
    disconnected draw is redrawn (from the same generator) up to ``max_tries`` times, then
    ``ValueError``.

    >>> a = random_geometric(8, 0.5, seed=0)
    >>> is_connected(a), bool((a == a.T).all())
    (True, True)
    """
    n = V.integer("n", n, 2)
    V.in_range("radius", radius, 0, math.sqrt(2), lo_open=True)
    rng = np.random.Generator(np.random.PCG64(seed))
    for _ in range(max_tries):
        p = rng.random((n, 2))
        dist = np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1))
        a = dist <= radius
        np.fill_diagonal(a, False)
        if is_connected(a):
            return a
    raise ValueError(f"no connected random geometric graph with n = {n}, radius = {radius} in "
                     f"{max_tries} tries; use a larger radius (connectivity needs about "
                     f"sqrt(log(n)/n) = {math.sqrt(math.log(n) / n):.2f})")


def metropolis_weights(adj) -> np.ndarray:
    """Metropolis–Hastings weights: W_ij = 1/(1 + max(deg_i, deg_j)) on edges, W_ii = 1 − the
    rest of row i; symmetric and doubly stochastic.

    >>> W = metropolis_weights(ring(4))
    >>> (W * 3).round(6).tolist()[0]
    [1.0, 1.0, 0.0, 1.0]
    """
    adj = np.asarray(adj, dtype=bool)
    if adj.ndim != 2 or adj.shape[0] != adj.shape[1]:
        raise ValueError(f"adj must be a square matrix, got shape {adj.shape}")
    if not (adj == adj.T).all():
        raise ValueError("adj must be symmetric (an undirected graph)")
    adj = adj & ~np.eye(len(adj), dtype=bool)
    deg = adj.sum(axis=1)
    W = np.where(adj, 1.0 / (1.0 + np.maximum(deg[:, None], deg[None, :])), 0.0)
    W[np.diag_indices_from(W)] = 1.0 - W.sum(axis=1)
    return W


def check_mixing(W, n=None, tol: float = 1e-12) -> np.ndarray:
    """Validate a mixing matrix: square (n × n if ``n`` is given), finite, non-negative, rows and
    columns summing to 1 within ``tol``.  Returns it as float64; else ``ValueError`` naming W.

    >>> check_mixing([[0.5, 0.5], [0.5, 0.5]]).sum()
    np.float64(2.0)
    >>> check_mixing([[1.0, 0.5], [0.0, 0.5]])
    Traceback (most recent call last):
    ...
    ValueError: W must be doubly stochastic: every row must sum to 1 within 1e-12, row 0 sums to 1.5
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square matrix, got shape {W.shape}")
    if n is not None and W.shape[0] != n:
        raise ValueError(f"W must be {n} x {n} (one row per agent), got shape {W.shape}")
    if not np.isfinite(W).all():
        raise ValueError("W must be finite")
    if (W < 0).any():
        i, j = np.argwhere(W < 0)[0]
        raise ValueError(f"W must be non-negative, W[{i}, {j}] = {W[i, j]}")
    for axis, what in ((1, "row"), (0, "column")):
        s = W.sum(axis=axis)
        dev = np.abs(s - 1.0)
        if dev.max() > tol:
            i = int(np.argmax(dev))
            raise ValueError(f"W must be doubly stochastic: every {what} must sum to 1 within "
                             f"{tol:g}, {what} {i} sums to {float(s[i])!r}")
    return W


def slem(W) -> float:
    """Second-largest eigenvalue modulus of a symmetric mixing matrix (< 1 iff the graph is
    connected and W is aperiodic; 1 − slem is the spectral gap).

    >>> round(slem(metropolis_weights(ring(8))), 4)
    0.8047
    """
    ev = np.sort(np.abs(np.linalg.eigvalsh(np.asarray(W, dtype=np.float64))))
    return float(ev[-2])


def mixing_matrix(graph: str, n: int, seed: int = 0, radius: float = 0.5) -> np.ndarray:
    """Metropolis–Hastings W of ``graph``: ``"ring"`` or ``"geometric"`` (random geometric,
    ``radius``, ``seed``).

    >>> mixing_matrix("ring", 8).shape
    (8, 8)
    """
    if graph == "ring":
        return metropolis_weights(ring(n))
    if graph == "geometric":
        return metropolis_weights(random_geometric(n, radius, seed))
    raise ValueError(f"graph must be 'ring' or 'geometric', got {graph!r}")


def __getattr__(name):
    # DistributedLeastSquares moved to fxsim.models.distributed (the algorithms import no model)
    if name == "DistributedLeastSquares":
        import importlib
        import warnings
        warnings.warn("fxsim.optim.tracking.DistributedLeastSquares moved to "
                      "fxsim.models.DistributedLeastSquares", DeprecationWarning, stacklevel=2)
        return importlib.import_module("fxsim.models.distributed").DistributedLeastSquares
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- the algorithm ---------------------------------------------------------------------------------

def fit_rate(err, lo: float = 1e-10, hi: float = 1e-3) -> float:
    """Per-iteration linear rate: exp of the least-squares slope of log(err_k) over the
    iterations with lo ≤ err_k ≤ hi (NaN with fewer than 5 such points).

    >>> round(fit_rate(0.9 ** np.arange(300)), 6)
    0.9
    """
    err = np.asarray(err, dtype=np.float64)
    k = np.flatnonzero((err >= lo) & (err <= hi))
    if len(k) < 5:
        return float("nan")
    slope = np.polyfit(k.astype(np.float64), np.log(err[k]), 1)[0]
    return float(np.exp(slope))


@dataclass(init=False)
class TrackingResult(StepResult):
    """Per-iteration record (k = 0..n): ``err`` = ‖x̄_k − x*‖/‖x*‖, ``err_max`` =
    max_i ‖x_{i,k} − x*‖/‖x*‖, ``consensus`` = ‖X_k − 1x̄_kᵀ‖_F/(√N‖x*‖), ``bits`` = bits sent
    per agent up to iteration k; ``bits_per_iter`` = 2·compressor.bits(d); ``overflowed``:
    entries a saturating quantizer clipped (``saturated`` is its old name); ``X``: the final
    iterates; ``diverged``: stopped because the error became non-finite or above 1e100.
    ``len(res)`` = n + 1, ``to_rows()`` one dict per iteration.

    >>> from fxsim.models import DistributedLeastSquares
    >>> p = DistributedLeastSquares()
    >>> res = gradient_tracking(p, mixing_matrix("ring", 8), None, alpha=0.5 / p.L_max, n_iters=50)
    >>> len(res.err), res.bits_per_iter, bool(res.err[-1] < res.err[0]), len(res)
    (51, 1280, True, 51)
    """
    err: np.ndarray
    err_max: np.ndarray
    consensus: np.ndarray
    bits: np.ndarray
    bits_per_iter: int
    overflowed: int
    X: np.ndarray = field(repr=False)
    name: str = ""
    diverged: bool = False
    step_fields = ("err", "err_max", "consensus", "bits")

    def __init__(self, err, err_max, consensus, bits, bits_per_iter, overflowed=None, X=None,
                 name="", diverged=False, *, saturated=None):
        overflowed = either_name(overflowed, saturated, "overflowed", "saturated")
        self.err, self.err_max, self.consensus, self.bits = err, err_max, consensus, bits
        self.bits_per_iter = bits_per_iter
        self.overflowed = 0 if overflowed is None else overflowed
        self.X, self.name, self.diverged = X, name, diverged

    @property
    def saturated(self) -> int:
        """Old name of ``overflowed``."""
        return self.overflowed

    @property
    def rate(self) -> float:
        """Fitted linear rate of ``err_max`` between 1e-10 and 1e-3."""
        return fit_rate(self.err_max)

    def iters_to(self, tol: float):
        """First k with err_max ≤ tol and staying there (None if never; a diverged run never
        reaches it)."""
        if self.diverged:
            return None
        bad = np.flatnonzero(~(self.err_max <= tol))
        k = 0 if len(bad) == 0 else int(bad[-1]) + 1
        return None if k >= len(self.err_max) else k

    def bits_to(self, tol: float):
        """Bits per agent sent until ``iters_to(tol)`` (None if never)."""
        k = self.iters_to(tol)
        return None if k is None else int(self.bits[k])


def gradient_tracking(problem, W, compressor=None, *, alpha: float, gamma: float = 1.0,
                      n_iters: int = 1000, x0=None, scale0=1.0, scale_decay=None,
                      tol=None) -> TrackingResult:
    """Run (compressed) gradient tracking; see the module docstring for the recursion.

    ``problem``: has ``grad(X)`` ((N, d) -> (N, d)), ``x_star``, ``n_agents``, ``d``.
    ``W``: N × N doubly stochastic mixing matrix (checked).  ``compressor``: None/``Identity()``
    (uncompressed) or one of ``fxsim.optim.compressors``; it is ``reset()`` first, so a run is
    a function of the compressor's seed.  ``alpha`` > 0 step, ``gamma`` in (0, 1] consensus
    step, ``scale0`` > 0 (a number, or a pair for the x and y channels) and ``scale_decay`` ρ
    in (0, 1] (None: s_k = scale0 for ever) give the message scale s_k = scale0·ρ^k.  ``x0``: the
    common start (default 0).  ``tol``: stop once err_max ≤ tol.  A fixed-point quantizer
    whose word overflows raises ``OverflowError`` naming the iteration.

    >>> from fxsim.models import DistributedLeastSquares
    >>> p = DistributedLeastSquares()         # 8 agents, d = 10
    >>> res = gradient_tracking(p, mixing_matrix("ring", 8), alpha=0.3 / p.L_max, n_iters=500)
    >>> res.iters_to(1e-8), res.bits_per_iter, round(res.rate, 3)
    (367, 1280, 0.956)
    """
    n, d = problem.n_agents, problem.d
    W = check_mixing(W, n)
    alpha = V.positive("alpha", alpha)
    gamma = V.in_range("gamma", gamma, 0, 1, lo_open=True)
    n_iters = V.integer("n_iters", n_iters, 1)
    s0 = np.broadcast_to(np.asarray(scale0, dtype=np.float64), (2,)).copy() \
        if np.ndim(scale0) <= 1 and np.size(scale0) in (1, 2) else None
    if s0 is None or not np.isfinite(s0).all() or (s0 <= 0).any():
        raise ValueError(f"scale0 must be a number > 0 or a pair of them, got {scale0!r}")
    rho = 1.0 if scale_decay is None else V.in_range("scale_decay", scale_decay, 0, 1,
                                                      lo_open=True)
    comp = Identity() if compressor is None else compressor
    comp.reset()
    exact = comp.kind == "none"
    inv_r = 1.0 / comp.scale_r(d)
    x0 = np.zeros(d) if x0 is None else np.asarray(x0, dtype=np.float64)
    if x0.shape != (d,):
        raise ValueError(f"x0 must have shape ({d},), got {x0.shape}")

    X = np.tile(x0, (n, 1))
    G = problem.grad(X)
    Y = G.copy()
    # reference copies start at 0 (nothing sent yet); uncompressed, they are the values themselves
    Hx = X.copy() if exact else np.zeros_like(X)
    Hy = Y.copy() if exact else np.zeros_like(X)
    M = W - np.eye(n)
    xs = problem.x_star
    nx = max(np.linalg.norm(xs), np.finfo(float).tiny)
    per_iter = 2 * comp.bits(d)
    err, err_max, cons = [], [], []

    def record(X):
        xbar = X.mean(axis=0)
        err.append(np.linalg.norm(xbar - xs) / nx)
        err_max.append(np.linalg.norm(X - xs, axis=1).max() / nx)
        cons.append(np.linalg.norm(X - xbar) / (math.sqrt(n) * nx))

    with np.errstate(over="ignore", invalid="ignore"):
        return _loop(problem, comp, exact, inv_r, X, Y, G, Hx, Hy, M, alpha, gamma, n_iters,
                     s0, rho, tol, record, err, err_max, cons, per_iter)


def _loop(problem, comp, exact, inv_r, X, Y, G, Hx, Hy, M, alpha, gamma, n_iters, s0, rho, tol,
          record, err, err_max, cons, per_iter):
    diverged = False

    def send(V, H, s):
        if exact:
            return V.copy()
        return H + (s * comp((V - H) / s)) * inv_r

    record(X)
    s = s0.copy()
    for k in range(n_iters):
        Xn = X + gamma * (M @ Hx) - alpha * Y
        try:
            Hx = send(Xn, Hx, s[0])
            Gn = problem.grad(Xn)
            Yn = Y + gamma * (M @ Hy) + Gn - G
            Hy = send(Yn, Hy, s[1])
        except OverflowError as e:
            raise OverflowError(f"iteration {k}: the message overflowed the quantizer's word "
                                f"({e}); use a wider word, fewer fraction bits or a slower "
                                f"scale_decay") from None
        X, Y, G = Xn, Yn, Gn
        s *= rho
        record(X)
        if tol is not None and err_max[-1] <= tol:
            break
        if not np.isfinite(err_max[-1]) or err_max[-1] > 1e100:
            diverged = True
            break
    k = np.arange(len(err))
    return TrackingResult(err=np.array(err), err_max=np.array(err_max), consensus=np.array(cons),
                          bits=k * per_iter, bits_per_iter=per_iter,
                          overflowed=int(getattr(comp, "saturated", 0)), X=X,
                          name=getattr(comp, "name", type(comp).__name__), diverged=diverged)
