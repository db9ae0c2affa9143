"""Two-dimensional test functions: Rosenbrock and Himmelblau (not PL globally; non-convex)."""
from __future__ import annotations

import numpy as np

from fxsim import FixedArray, add, mul, sub

from ._fx import accel_of, Env, as_fixed, vec, int_const
from .protocols import KnownOptimum


def _xy(xq: FixedArray):
    return xq[0], xq[1]


class Rosenbrock(KnownOptimum):
    """f(x, y) = (a − x)² + b (y − x²)², integer a, b (default 1, 100); minimum (a, a²), f* = 0.
    grad = (−2(a − x) − 4b x (y − x²), 2b (y − x²)).

    ``fx_grad``: every product is cast to the accumulator format (``mul(..., fmt=acc)``), the
    integer constants are exact, sums are done in the accumulator format (exact when
    fl_acc ≥ fl_w and nothing overflows), the two components are cast to ``grads``:
        s = cast(x·x)            error ≤ ρL          (L = lsb_acc, ρ = ½ nearest, 1 otherwise)
        t = y − s                error ≤ ρL
        u = cast(x·t)            error ≤ |x|ρL + ρL
        g0 = cast(2(x − a) − 4b·u, grads)   error ≤ 4b(|x| + 1)ρL + ρ lsb_g
        g1 = cast(2b·t, grads)              error ≤ 2bρL + ρ lsb_g
    (the products by the integer constants are exact in the accumulator's fraction length).

    >>> import numpy as np
    >>> m = Rosenbrock()
    >>> m.loss(np.array([1.0, 1.0])), m.grad(np.array([0.0, 0.0])).tolist()
    (0.0, [-2.0, 0.0])
    >>> m.fx_grad(np.array([0.0, 0.0])).to_float().tolist()    # default Q(16,8) datapath
    [-2.0, 0.0]
    """

    def __init__(self, a: int = 1, b: int = 100):
        self.a, self.b = int(a), int(b)
        self.dim = 2
        self.x_star = np.array([self.a, self.a ** 2], dtype=np.float64)
        self.f_star = 0.0

    def __repr__(self):
        return f"Rosenbrock(a={self.a}, b={self.b})"

    def x0(self, rng=None):
        x = np.array([-1.2, 1.0])
        if rng is not None:
            x = x + np.random.default_rng(rng).uniform(-0.1, 0.1, 2)
        return x

    def loss(self, x):
        x, y = vec(x, self.dim)
        return float((self.a - x) ** 2 + self.b * (y - x * x) ** 2)

    def grad(self, x):
        x, y = vec(x, self.dim)
        t = y - x * x
        return np.array([-2.0 * (self.a - x) - 4.0 * self.b * x * t, 2.0 * self.b * t])

    def fx_grad(self, xq, accel=None, *, acc=None) -> FixedArray:
        env = Env(accel_of(accel, acc))
        xq = as_fixed(xq, env.weights, self.dim)
        x, y = _xy(xq)
        A, kw = env.acc, env.kw("acc")
        s = mul(x, x, fmt=A, **kw)
        t = sub(y, s, fmt=A, **kw)
        u = mul(x, t, fmt=A, **kw)
        v = mul(int_const(4 * self.b), u, fmt=A, **kw)
        w = mul(int_const(2), sub(x, int_const(self.a), fmt=A, **kw), fmt=A, **kw)
        g0 = env.cast(sub(w, v, fmt=A, **kw), "grad")
        g1 = env.cast(mul(int_const(2 * self.b), t, fmt=A, **kw), "grad")
        return _stack(g0, g1)

    def fx_bound(self, xq, accel=None, *, acc=None) -> np.ndarray:
        env = Env(accel_of(accel, acc))
        x = abs(float(as_fixed(xq, env.weights, self.dim).to_float()[0]))
        rl, rg = env.rho("acc") * env.acc.lsb, env.rho("grad") * env.grads.lsb
        return np.array([4 * abs(self.b) * (x + 1) * rl + rg, 2 * abs(self.b) * rl + rg])


class Himmelblau(KnownOptimum):
    """f(x, y) = (x² + y − 11)² + (x + y² − 7)²; four minima with f* = 0, ``x_star`` = (3, 2),
    all four in ``minima``.  grad = (4x p + 2q, 2p + 4y q), p = x² + y − 11, q = x + y² − 7.

    ``fx_grad``: as ``Rosenbrock`` (products cast to acc, integer constants exact):
        p = cast(x·x) + y − 11      error ≤ ρL
        q = x + cast(y·y) − 7       error ≤ ρL
        g0 = cast(4·cast(x·p) + 2q, grads)   error ≤ 4(|x|ρL + ρL) + 2ρL + ρ lsb_g
        g1 = cast(2p + 4·cast(y·q), grads)   error ≤ 2ρL + 4(|y|ρL + ρL) + ρ lsb_g.

    >>> import numpy as np
    >>> m = Himmelblau()
    >>> m.loss(np.array([3.0, 2.0])), m.grad(np.array([3.0, 2.0])).tolist()
    (0.0, [0.0, 0.0])
    """

    minima = np.array([[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186],
                       [3.584428, -1.848126]])

    def __init__(self):
        self.dim = 2
        self.x_star = np.array([3.0, 2.0])
        self.f_star = 0.0

    def __repr__(self):
        return "Himmelblau()"

    def x0(self, rng=None):
        x = np.array([0.0, 0.0])
        if rng is not None:
            x = x + np.random.default_rng(rng).uniform(-0.5, 0.5, 2)
        return x

    def loss(self, x):
        x, y = vec(x, self.dim)
        return float((x * x + y - 11) ** 2 + (x + y * y - 7) ** 2)

    def grad(self, x):
        x, y = vec(x, self.dim)
        p, q = x * x + y - 11, x + y * y - 7
        return np.array([4 * x * p + 2 * q, 2 * p + 4 * y * q])

    def fx_grad(self, xq, accel=None, *, acc=None) -> FixedArray:
        env = Env(accel_of(accel, acc))
        xq = as_fixed(xq, env.weights, self.dim)
        x, y = _xy(xq)
        A, kw = env.acc, env.kw("acc")
        p = add(sub(mul(x, x, fmt=A, **kw), int_const(11), fmt=A, **kw), y, fmt=A, **kw)
        q = sub(add(mul(y, y, fmt=A, **kw), x, fmt=A, **kw), int_const(7), fmt=A, **kw)
        c2, c4 = int_const(2), int_const(4)
        g0 = add(mul(c4, mul(x, p, fmt=A, **kw), fmt=A, **kw), mul(c2, q, fmt=A, **kw),
                 fmt=A, **kw)
        g1 = add(mul(c2, p, fmt=A, **kw), mul(c4, mul(y, q, fmt=A, **kw), fmt=A, **kw),
                 fmt=A, **kw)
        g0, g1 = env.cast(g0, "grad"), env.cast(g1, "grad")
        return _stack(g0, g1)

    def fx_bound(self, xq, accel=None, *, acc=None) -> np.ndarray:
        env = Env(accel_of(accel, acc))
        x, y = np.abs(as_fixed(xq, env.weights, self.dim).to_float())
        rl, rg = env.rho("acc") * env.acc.lsb, env.rho("grad") * env.grads.lsb
        return np.array([4 * (x + 1) * rl + 2 * rl + rg, 2 * rl + 4 * (y + 1) * rl + rg])


def _stack(g0: FixedArray, g1: FixedArray) -> FixedArray:
    assert g0.fmt == g1.fmt
    return FixedArray(np.array([g0.raw, g1.raw]).reshape(2), g0.fmt)
