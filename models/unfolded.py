"""Unfolded networks for sparse recovery with the smooth soft-threshold σ_λ
(``soft_threshold``): K-layer LISTA, K-layer ADMM-CSNet and a fully connected network (FFNN) of
the same depth, width and nonlinearity, after Shah, Pradhan, Pu, Randhi, Rodrigues & Eldar,
"Optimization Guarantees of Unfolded ISTA and ADMM Networks With Smooth Soft-Thresholding"
(IEEE TSP 72, 2024; arXiv 2309.06195).

Layer equations (rows are samples: Y is T × m, the outputs T × n; x⁰ = z⁰ = u⁰ = 0):

LISTA        Z^l = Y W1_lᵀ + X^{l−1} W2_lᵀ,   X^l = σ_λ(Z^l),             output X^K
ADMM-CSNet   V^l = Y W1_lᵀ + (Z^{l−1} − U^{l−1}) W2_lᵀ    (the learned x-update:
             W1 ≈ (AᵀA + ρI)⁻¹Aᵀ, W2 ≈ ρ(AᵀA + ρI)⁻¹),
             Z^l = σ_λ(V^l + U^{l−1}),  U^l = U^{l−1} + V^l − Z^l,     output Z^K
             (with P^l = V^l + U^{l−1}: U^l = g(P^l), Z^l − U^l = P^l − 2g(P^l))
FFNN         Z^1 = Y W1ᵀ, Z^l = X^{l−1} W_lᵀ (l ≥ 2), X^l = σ_λ(Z^l),        output X^K

Learned: W1_l (n × m) of every layer and W2_l (n × n) of layers 2..K (layer 1's W2 multiplies
x⁰ = 0); σ_λ's λ and δ are fixed.  Parameters: K·n·m + (K − 1)·n² for LISTA and ADMM-CSNet,
n·m + (K − 1)·n² for the FFNN (width = hidden size = n).  Loss: L = (1/(2T)) Σ_i ‖x̂_i − x_i‖²
(mean squared error over the T training pairs).  Start: W1 entries N(0, 1/m), W2 entries
N(0, 1/(4n)) (spectral norm ≈ 1), seeded.

Chosen where the paper's text could not be consulted (only its abstract was available to us):
σ_λ(z) = z + ½(√((z − λ)² + δ) − √((z + λ)² + δ)) with λ = 0.1, δ = 0.01; the ADMM-CSNet layer
above (the multiplier update with unit step, no learned penalty ρ); the standard
parameterization (the start above) instead of the NTK scaling 1/√width (GD's effective step
per weight differs by the width); the FFNN's last layer
also applies σ_λ ("the same nonlinearity").

``fx_grad(xq, accel, idx=None)`` (the fully emulated forward/backward; ``kw_acc``/``kw_acts``
the casts of the accelerator's ``acc``/``acts`` roles):
  forward   Z = cast_acts(matmul(Y, W1ᵀ, acc) + matmul(X, W2ᵀ, acc)) (the sum in acc),
            G = LUT_g(Z) (``SigmoidLUT``: table + linear interpolation, one acts cast),
            X = Z − G (exact, saturated to acts); ADMM: P the pre-activation, Q = P − 2G;
  backward  R = cast_acts(X^K − X_true), S = 1 − LUT_g'(Z), D = cast_acts(R ⊙ S),
            dW1 = matmul(Dᵀ, Y, acc), dW2 = matmul(Dᵀ, X^{l−1}, acc),
            D ← cast_acts(cast_acts(matmul(D, W2, acc)) ⊙ S^{l−1})
            (ADMM: D ← cast_acts(cast_acts(matmul(D, W2, acc)) ⊙ (1 − 2Ĝ') + D ⊙ Ĝ'));
  grads     cast_grads(dW · c_T), c_T ≈ 1/T to 31 significant bits.
Data (Y, X_true) are constants quantized once to ``acts`` (round to nearest).
"""
from __future__ import annotations

import numpy as np

from fxsim import FixedArray, add, matmul, mul, sub

from ._fx import Env, accel_of, as_fixed, int_const, recip_const, vec
from .protocols import KnownOptimum
from .soft_threshold import SigmoidLUT, g, g_prime
from .unfolded_fused import FusedNet
from .sparse_data import make_sparse_recovery

__all__ = ["LISTA", "ADMMCSNet", "FFNN", "UNFOLDED"]


class _Unfolded(KnownOptimum):
    kind = ""
    #: the start's n × n matrices are N(0, W2_SCALE²/n): spectral norm ≈ 2·W2_SCALE = 1, like
    #: ISTA's I − AᵀA/L (N(0, 1/n) doubles the activations per layer and GD diverges early)
    W2_SCALE = 0.5

    def __init__(self, data=None, *, K: int = 3, lam: float = 0.1, delta: float = 0.01,
                 seed: int = 0, **data_kw):
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
            raise ValueError(f"K: must be an integer >= 1, got {K!r}")
        self.data = make_sparse_recovery(**data_kw) if data is None else data
        self.K, self.lam, self.delta, self.seed = int(K), float(lam), float(delta), seed
        self.lut = SigmoidLUT(lam, delta)
        m, n = self.data.m, self.data.n
        self.m, self.n = m, n
        self._shapes = []                     # (layer, name, rows, cols)
        for l in range(self.K):
            if self._has_w1(l):
                self._shapes.append((l, "W1", n, m))
            if l > 0:
                self._shapes.append((l, "W2", n, n))
        self.dim = sum(r * c for _, _, r, c in self._shapes)
        self.n_samples = self.data.Y.shape[0]
        self.x_star = None
        self.f_star = 0.0            # a lower bound, reached in the over-parameterized regime
        self._cache, self._consts64 = {}, {}
        self._plans = {}              # (formats, acc/acts modes) -> FusedNet or None

    def _has_w1(self, l: int) -> bool:
        return True

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_plans"] = {}          # compiled plans are rebuilt where the model runs
        return state

    def __repr__(self):
        return (f"{type(self).__name__}(K={self.K}, m={self.m}, n={self.n}, "
                f"T={self.n_samples}, dim={self.dim})")

    def x0(self, rng=None):
        rng = np.random.default_rng(self.seed if rng is None else rng)
        return np.concatenate([rng.standard_normal(r * c) * (self.W2_SCALE if name == "W2" else 1.0)
                               / np.sqrt(c) for _, name, r, c in self._shapes])

    def layers(self, x) -> list:
        """Per layer a dict {"W1": (n × m) view or None, "W2": (n × n) view or None}."""
        out = [{"W1": None, "W2": None} for _ in range(self.K)]
        k = 0
        for l, name, r, c in self._shapes:
            out[l][name] = x[k:k + r * c].reshape(r, c)
            k += r * c
        return out

    def _data(self, idx):
        d = self.data
        return (d.Y, d.X) if idx is None else (d.Y[idx], d.X[idx])

    # -- float64 ---------------------------------------------------------------------------
    def _forward(self, x, Y):
        """(layers, per-layer cache, output); cache l: (input to W2 of layer l + 1, P^l, G^l)."""
        L = self.layers(vec(x, self.dim))
        cache, prev, Gprev = [], None, None
        for l in range(self.K):
            P = np.zeros((Y.shape[0], self.n))
            if L[l]["W1"] is not None:
                P = P + Y @ L[l]["W1"].T
            if l > 0:
                P = P + prev @ L[l]["W2"].T
                if self.kind == "admm":
                    P = P + Gprev
            G = g(P, self.lam, self.delta)
            prev = P - 2 * G if self.kind == "admm" else P - G
            cache.append((P, G))
            Gprev = G
        P, G = cache[-1]
        return L, cache, P - G

    def predict(self, x, Y=None) -> np.ndarray:
        """The network's estimates x̂ (rows) of the measurements ``Y`` (default the training set)."""
        return self._forward(x, self.data.Y if Y is None else np.asarray(Y, np.float64))[2]

    def loss(self, x, idx=None) -> float:
        Y, X = self._data(idx)
        R = self.predict(x, Y) - X
        return float(0.5 * np.sum(R * R) / Y.shape[0])

    def grad(self, x, idx=None) -> np.ndarray:
        Y, X = self._data(idx)
        L, cache, out = self._forward(x, Y)
        T = Y.shape[0]
        D = (out - X) / T * (1.0 - g_prime(cache[-1][0], self.lam, self.delta))
        grads = [None] * self.K
        for l in range(self.K - 1, -1, -1):
            gl = {}
            if L[l]["W1"] is not None:
                gl["W1"] = D.T @ Y
            if l > 0:
                Pp, Gp = cache[l - 1]
                inp = Pp - 2 * Gp if self.kind == "admm" else Pp - Gp
                gl["W2"] = D.T @ inp
                gp = g_prime(Pp, self.lam, self.delta)
                DW = D @ L[l]["W2"]
                D = DW * (1 - 2 * gp) + D * gp if self.kind == "admm" else DW * (1 - gp)
            grads[l] = gl
        return np.concatenate([grads[l][name].ravel() for l, name, _, _ in self._shapes])

    # -- the datapath ----------------------------------------------------------------------
    def _consts(self, env: Env):
        k = env.acts
        if k not in self._cache:
            self._cache[k] = (env.const(self.data.Y), env.const(self.data.X))
            self._consts64[k] = tuple(np.ascontiguousarray(c.raw, dtype=np.int64)
                                      for c in self._cache[k])
        return self._cache[k]

    def _fx_layers(self, xq: FixedArray):
        fw = xq.fmt
        out = []
        for lay in self.layers(xq.raw):
            out.append({k: None if W is None else
                        (FixedArray(W, fw), FixedArray(np.ascontiguousarray(W.T), fw))
                        for k, W in lay.items()})
        return out

    def _fx_forward(self, L, Yq: FixedArray, env: Env):
        ka, kt = env.kw("acc"), env.kw("acts")
        cache, prev, Gprev = [], None, None
        for l in range(self.K):
            terms = []
            if L[l]["W1"] is not None:
                terms.append(matmul(Yq, L[l]["W1"][1], acc=env.acc, **ka))
            if l > 0:
                terms.append(matmul(prev, L[l]["W2"][1], acc=env.acc, **ka))
            acc = terms[0] if len(terms) == 1 else add(terms[0], terms[1], fmt=env.acc, **ka)
            if l > 0 and self.kind == "admm":
                acc = add(acc, Gprev, fmt=env.acc, **ka)
            P = env.cast(acc, "acts")
            G = self.lut.g(P, env.acts, **kt)
            if self.kind == "admm":
                prev = sub(P, add(G, G), fmt=env.acts, **kt)
            else:
                prev = sub(P, G, fmt=env.acts, **kt)
            cache.append((P, G))
            Gprev = G
        P, G = cache[-1]
        return cache, sub(P, G, fmt=env.acts, **kt)

    def _fused(self, env):
        """The fused pass of these formats and acc/acts modes (``FusedNet``), or None."""
        key = (env.weights, env.acts, env.acc, env.mode("acc"), env.mode("acts"))
        if key not in self._plans:
            self._plans[key] = FusedNet.for_env(self, env)
        return self._plans[key]

    def fx_forward(self, xq, accel=None, Y=None, *, fused=True) -> list:
        """The forward pass on the datapath: [(P^l, G^l)] per layer and the output x̂ in
        ``acts`` (``Y``: float measurements, quantized to ``acts``; default the training set).
        ``fused=False`` runs the composed fxsim calls (the same words and counters)."""
        env = Env.of(accel)
        xq = as_fixed(xq, env.weights, self.dim)
        Yq = self._consts(env)[0] if Y is None else env.const(Y)
        net = self._fused(env) if fused else None
        if net is None:
            return self._fx_forward(self._fx_layers(xq), Yq, env)
        P, G, out = net.forward(xq.raw.astype(np.int64), Yq.raw.astype(np.int64))
        A = env.acts
        return [(FixedArray(p, A), FixedArray(g_, A)) for p, g_ in zip(P, G)], FixedArray(out, A)

    def fx_predict(self, xq, accel=None, Y=None) -> np.ndarray:
        """x̂ of the datapath's forward pass, as floats."""
        return self.fx_forward(xq, accel, Y)[1].to_float()

    def fx_grad(self, xq, accel=None, idx=None, *, acc=None, fused=True) -> FixedArray:
        """The gradient on the datapath (module docstring), in ``grads``; ``fused=False`` runs
        the composed fxsim calls (the same words, counters and draws)."""
        env = Env.of(accel_of(accel, acc))
        xq = as_fixed(xq, env.weights, self.dim)
        Yq, Xq = self._consts(env)
        net = self._fused(env) if fused else None
        if net is not None:
            Y64, X64 = self._consts64[env.acts]
            if idx is not None:
                Y64, X64 = np.ascontiguousarray(Y64[idx]), np.ascontiguousarray(X64[idx])
            g_acc = net.grad(xq.raw.astype(np.int64), Y64, X64)
            return env.cast(FixedArray(g_acc, env.acc), "grad")
        if idx is not None:
            Yq, Xq = FixedArray(Yq.raw[idx], Yq.fmt), FixedArray(Xq.raw[idx], Xq.fmt)
        ka, kt = env.kw("acc"), env.kw("acts")
        L = self._fx_layers(xq)
        cache, out = self._fx_forward(L, Yq, env)
        one = int_const(1)
        T = Yq.shape[0]

        def slope(P):               # σ' = 1 − ĝ'(P), and ĝ'(P)
            gp = self.lut.g_prime(P, env.acts, **kt)
            return sub(one, gp, fmt=env.acts, **kt), gp

        R = sub(out, Xq, fmt=env.acts, **kt)
        S, _ = slope(cache[-1][0])
        D = env.cast(mul(R, S), "acts")
        grads = [dict() for _ in range(self.K)]
        for l in range(self.K - 1, -1, -1):
            DT = FixedArray(np.ascontiguousarray(D.raw.T), D.fmt)
            if L[l]["W1"] is not None:
                grads[l]["W1"] = matmul(DT, Yq, acc=env.acc, **ka)
            if l > 0:
                Pp, Gp = cache[l - 1]
                if self.kind == "admm":
                    inp = sub(Pp, add(Gp, Gp), fmt=env.acts, **kt)
                else:
                    inp = sub(Pp, Gp, fmt=env.acts, **kt)
                grads[l]["W2"] = matmul(DT, inp, acc=env.acc, **ka)
                DW = env.cast(matmul(D, L[l]["W2"][0], acc=env.acc, **ka), "acts")
                S, gp = slope(Pp)
                if self.kind == "admm":
                    S2 = sub(S, gp, fmt=env.acts, **kt)           # 1 − 2ĝ'
                    D = env.cast(add(mul(DW, S2), mul(D, gp)), "acts")
                else:
                    D = env.cast(mul(DW, S), "acts")
        cT = recip_const(T)
        raw = np.concatenate([mul(grads[l][name], cT, fmt=env.acc, **ka).raw.ravel()
                              for l, name, _, _ in self._shapes])
        return env.cast(FixedArray(raw, env.acc), "grad")


class LISTA(_Unfolded):
    """K-layer LISTA with the smooth soft-threshold (module docstring: layers, loss, datapath).

    >>> m = LISTA(K=2, m=4, n=8, n_train=6, seed=0)
    >>> m
    LISTA(K=2, m=4, n=8, T=6, dim=128)
    >>> x = m.x0(); g = m.fx_grad(x)        # Q(16,8) forward/backward on the datapath
    >>> g.fmt, bool(np.corrcoef(g.to_float(), m.grad(x))[0, 1] > 0.9)
    (QFormat(wl=16, fl=8, signed=True), True)
    """
    kind = "lista"


class ADMMCSNet(_Unfolded):
    """K-layer ADMM-CSNet with the smooth soft-threshold (module docstring).

    >>> ADMMCSNet(K=3, m=4, n=8, n_train=6).dim
    224
    """
    kind = "admm"


class FFNN(_Unfolded):
    """A K-layer fully connected network of width n with σ_λ after every layer (module
    docstring); the measurements enter the first layer only.

    >>> FFNN(K=3, m=4, n=8, n_train=6).dim
    160
    """
    kind = "ffnn"

    def _has_w1(self, l: int) -> bool:
        return l == 0


#: the three networks by name
UNFOLDED = {"lista": LISTA, "admm": ADMMCSNet, "ffnn": FFNN}
