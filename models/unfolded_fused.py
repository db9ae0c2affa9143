"""The fused datapath of the unfolded networks: the whole emulated forward/backward pass of a
LISTA or FFNN in one Cython call (``fxsim._unfolded``) instead of about sixty fxsim calls.

Words, counters (one ``CastRecord`` per operation of the composed path, same order, same
counts) and draws equal the composed path of ``fxsim.models.unfolded`` (the tests check both
against it and against an integer re-implementation).  ``FusedNet.for_env`` checks the formats
and modes once per (network, accelerator formats and modes) and returns None where the fused
kernel does not apply, so the caller runs the composed fxsim calls:
- ADMM-CSNet (its extra multiplier terms stay composed);
- a stochastic acc or acts cast (its draws must come from the role's source in the composed
  order; the study's strategies round only the gradient and the write-back stochastically);
- an unsigned format or one wider than 32 bits, or alignments whose intermediates could pass
  2^62 (the kernel works in int64);
- activations with fewer fraction bits than the table's address (the composed path raises).
- ``overflow="error"`` on the acc or acts cast (the composed path raises at the right call).
"""
from __future__ import annotations

import numpy as np

from fxsim import QFormat, counters
from fxsim._unfolded import Plan, scale_grads
from fxsim.modes import overflow_code, rounding_code

from ._fx import recip_const

__all__ = ["FusedNet"]

_LIMIT = 1 << 62


def _fits(*terms) -> bool:
    return sum(terms) <= _LIMIT


class FusedNet:
    """One network's fused pass on one set of formats and acc/acts modes (module docstring).

    >>> from fxsim.models.unfolded import ADMMCSNet, LISTA
    >>> from fxsim.models._fx import Env
    >>> m = LISTA(K=2, m=4, n=8, n_train=3)
    >>> FusedNet.for_env(m, Env()) is not None, FusedNet.for_env(ADMMCSNet(K=2), Env())
    (True, None)
    >>> x = m.x0()
    >>> bool(np.array_equal(m.fx_grad(x).raw, m.fx_grad(x, fused=False).raw))
    True
    """

    def __init__(self, net, env):
        self.net, self.env = net, env
        A, W, C = env.acts, env.weights, env.acc
        lut = net.lut
        ma, mt = env.mode("acc"), env.mode("acts")
        self.plan = Plan(rounding_code(ma.rounding), overflow_code(ma.overflow), C.wl, C.fl,
                         rounding_code(mt.rounding), overflow_code(mt.overflow), A.wl, A.fl, W.fl,
                         lut.R, lut.j, lut.table_fmt.fl, lut.words("g"), lut.words("g_prime"))
        self.layout = np.full((net.K, 2), -1, dtype=np.int64)
        cuts, k = [0], 0
        for l, name, r, c in net._shapes:
            self.layout[l, 0 if name == "W1" else 1] = k
            k += r * c
            cuts.append(k)
        self.cuts = np.array(cuts, dtype=np.int64)
        sA, sC = str(A), str(C)
        prod = str(QFormat(2 * A.wl, 2 * A.fl, A.signed))   # mul's exact default format
        fwd = []
        for l in range(net.K):
            has1, has2 = self.layout[l, 0] >= 0, self.layout[l, 1] >= 0
            fwd += [("matmul", "acc", sC)] * (int(has1) + int(has2))
            fwd += [("add", "out", sC)] if has1 and has2 else []
            fwd += [("cast", "out", sA), ("cast", "out", sA), ("sub", "out", sA)]
        fwd.append(("sub", "out", sA))
        bwd = [("sub", "out", sA), ("cast", "out", sA), ("sub", "out", sA), ("mul", "out", prod),
               ("cast", "out", sA)]
        for l in range(net.K - 1, -1, -1):
            if self.layout[l, 0] >= 0:
                bwd.append(("matmul", "acc", sC))
            if self.layout[l, 1] >= 0:
                bwd += [("sub", "out", sA), ("matmul", "acc", sC), ("matmul", "acc", sC),
                        ("cast", "out", sA), ("cast", "out", sA), ("sub", "out", sA),
                        ("mul", "out", prod), ("cast", "out", sA)]
        self.fwd_labels, self.grad_labels = fwd, fwd + bwd
        self.tail_labels = [("mul", "out", sC)] * (len(cuts) - 1)

    @classmethod
    def for_env(cls, net, env):
        """A FusedNet, or None where the fused kernel does not apply (module docstring)."""
        A, W, C = env.acts, env.weights, env.acc
        if net.kind not in ("lista", "ffnn"):
            return None
        ma, mt = env.mode("acc"), env.mode("acts")
        if ma.stochastic or mt.stochastic or "error" in (ma.overflow, mt.overflow):
            return None
        if not (A.signed and W.signed and C.signed) or max(A.wl, W.wl, C.wl) > 32:
            return None
        lut = net.lut
        if A.fl < lut.j:
            return None
        acc_max, a_max, w_max = 1 << (C.wl - 1), 1 << (A.wl - 1), 1 << (W.wl - 1)
        for fb, b_max in ((W.fl, w_max), (A.fl, a_max)):      # the two kinds of matmul
            F = max(C.fl, A.fl + fb)
            if not _fits(acc_max << (F - C.fl), (a_max * b_max) << (F - A.fl - fb)):
                return None
        if not _fits(acc_max << max(0, A.fl - C.fl)):          # acc -> acts
            return None
        shift, lut_s = A.fl - lut.j, lut.table_fmt.fl - lut.j
        if not _fits((1 << (18 + shift)) << max(0, -lut_s)):   # the interpolation word
            return None
        return cls(net, env)

    # ------------------------------------------------------------------ the passes
    def _buffers(self, T):
        K, n = self.net.K, self.net.n
        return (np.empty((K, T, n), np.int64), np.empty((K, T, n), np.int64))

    def forward(self, w, Y):
        """(P, G (K × T × n), x̂ (T × n)) as int64 words of acts."""
        P, G = self._buffers(Y.shape[0])
        out = np.empty((Y.shape[0], self.net.n), np.int64)
        rows = np.empty((len(self.fwd_labels), 5), np.int64)
        self.plan.forward(Y, w, self.layout, P, G, out, rows)
        counters.record_rows(self.fwd_labels, rows)
        return P, G, out

    def grad(self, w, Y, X):
        """dL/dw in the accumulator format (before the grads cast): int64 words."""
        P, G = self._buffers(Y.shape[0])
        gacc = np.empty(w.size, np.int64)
        rows = np.empty((len(self.grad_labels), 5), np.int64)
        self.plan.grad(Y, X, w, self.layout, P, G, gacc, rows)
        counters.record_rows(self.grad_labels, rows)
        cT = recip_const(Y.shape[0])             # an fxsim cast, recorded here as in the composed path
        g = np.empty(w.size, np.int64)
        tail = np.empty((len(self.tail_labels), 5), np.int64)
        scale_grads(self.plan, gacc, int(cT.raw), cT.fmt.fl, self.cuts, g, tail)
        counters.record_rows(self.tail_labels, tail)
        return g
