"""The smooth soft-threshold σ_λ of the unfolded networks and its fixed-point evaluation.

σ_λ(z) = z − g(z),   g(z) = ½(√((z + λ)² + δ) − √((z − λ)² + δ)),

a twice-differentiable (C^∞ for δ > 0) soft-threshold: g is odd, increasing, bounded by λ,
and δ → 0 gives the soft-threshold sign(z)·max(|z| − λ, 0).  σ'(z) = 1 − g'(z) with
g'(z) = ½((z + λ)/√((z + λ)² + δ) − (z − λ)/√((z − λ)² + δ)) in (0, 1).

On the datapath σ and σ' are a lookup table with linear interpolation (``SigmoidLUT``): g and g'
tabulated at 2^j points per unit on [−R, R] (R a power of two), words rounded to nearest in the
table format; a word z of the activation format addresses the table with its high bits (clamped
to [−R, R − 2^−fl]) and its low bits are the interpolation fraction f ∈ [0, 1):
ĝ(z) = cast_acts(T[i] + f·(T[i+1] − T[i])) — an exact integer multiply-add, then one fxsim cast
in the activation role's mode.
The error (``SigmoidLUT.bound``) is at most h²/8·max|g''| (interpolation, h = 2^−j) + half a table
LSB + one activation cast (ρ·u) + the tail λ − g(R) for clamped inputs; max|g''| ≤ 1/(2√δ),
max|g'''| ≤ 0.859/δ (the maximum of 3δu/(u² + δ)^{5/2}).
"""
from __future__ import annotations

import math

import numpy as np

from fxsim import FixedArray, QFormat, cast

__all__ = ["g", "g_prime", "sigma", "sigma_prime", "SigmoidLUT"]


def g(z, lam, delta):
    """The bounded part of σ_λ: σ_λ(z) = z − g(z).

    >>> float(g(10.0, 0.1, 0.01)) > 0.0999, float(g(0.0, 0.1, 0.01))
    (True, 0.0)
    """
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * (np.sqrt((z + lam) ** 2 + delta) - np.sqrt((z - lam) ** 2 + delta))


def g_prime(z, lam, delta):
    """g'(z) in (0, 1).

    >>> round(float(g_prime(0.0, 0.1, 0.01)), 4)      # λ/√(λ² + δ)
    0.7071
    """
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * ((z + lam) / np.sqrt((z + lam) ** 2 + delta)
                  - (z - lam) / np.sqrt((z - lam) ** 2 + delta))


def sigma(z, lam, delta):
    """σ_λ(z) = z − g(z).

    >>> round(float(sigma(1.0, 0.1, 1e-8)), 6), round(float(sigma(0.05, 0.1, 1e-8)), 6)
    (0.9, 0.0)
    """
    return np.asarray(z, dtype=np.float64) - g(z, lam, delta)


def sigma_prime(z, lam, delta):
    """σ_λ'(z) = 1 − g'(z).

    >>> round(float(sigma_prime(5.0, 0.1, 0.01)), 4)
    1.0
    """
    return 1.0 - g_prime(z, lam, delta)


class SigmoidLUT:
    """Lookup tables of g and g' with linear interpolation on the datapath (module docstring).

    ``R``: table range (a power of two); ``j``: 2^j entries per unit; ``table_fl``: fraction
    bits of the table words (16-bit words: g ∈ [−λ, λ] and g' ∈ (0, 1) need λ < 1).

    >>> lut = SigmoidLUT(0.1, 0.01)
    >>> lut.n_entries, lut.table_fmt
    (1025, QFormat(wl=16, fl=15, signed=True))
    >>> z = cast([-0.5, 0.0, 0.3], "Q(16,12)")
    >>> err = abs(lut.g(z, "Q(16,12)").to_float() - g(z.to_float(), 0.1, 0.01))
    >>> bool(err.max() <= lut.bound("g", QFormat(16, 12)))
    True
    """

    def __init__(self, lam, delta, R=4, j=7, table_fl=15):
        if not (0 < lam < 1):
            raise ValueError(f"lam: must be in (0, 1) for 16-bit table words, got {lam}")
        if not delta > 0:
            raise ValueError(f"delta: must be positive, got {delta}")
        if R <= 0 or R & (R - 1):
            raise ValueError(f"R: must be a power of two, got {R}")
        self.lam, self.delta, self.R, self.j = float(lam), float(delta), int(R), int(j)
        self.table_fmt = QFormat(16, table_fl)
        zs = -self.R + np.arange(2 * self.R * 2 ** self.j + 1) * 2.0 ** -self.j
        self.n_entries = zs.size
        self._tables = {"g": cast(g(zs, lam, delta), self.table_fmt).raw.astype(np.int64),
                        "g_prime": cast(g_prime(zs, lam, delta), self.table_fmt).raw.astype(np.int64)}

    def bound(self, which: str, acts: QFormat, rho: float = 0.5) -> float:
        """Bound on |LUT(z) − which(z)| for every word z of ``acts`` (one cast of error ρ·u)."""
        h = 2.0 ** -self.j
        if which == "g":
            curv = 1.0 / (2.0 * math.sqrt(self.delta))
            tail = self.lam - float(g(self.R - h, self.lam, self.delta))
        else:
            curv = 0.8587 / self.delta
            tail = float(g_prime(self.R - h, self.lam, self.delta))
        return h * h / 8 * curv + self.table_fmt.lsb / 2 + rho * acts.lsb + tail

    def _eval(self, which, z: FixedArray, acts, **kw) -> FixedArray:
        fl = z.fmt.fl
        if fl < self.j:
            raise ValueError(f"z: needs at least {self.j} fraction bits, got {z.fmt}")
        shift = fl - self.j
        off = z.raw.astype(np.int64) + (self.R << fl)
        off = np.clip(off, 0, (2 * self.R << fl) - 1)
        i = off >> shift
        t = self._tables[which]
        # the interpolation unit: T[i]·2^s + (T[i+1] − T[i])·f, an exact integer multiply-add
        # (|·| < 2^(17+s)), then the one rounding cast through fxsim
        num = (t[i] << shift) + (t[i + 1] - t[i]) * (off & ((1 << shift) - 1))
        return cast(FixedArray(num, QFormat(18 + shift, self.table_fmt.fl + shift)), acts, **kw)

    def words(self, which: str) -> np.ndarray:
        """The table of ``which`` ("g" or "g_prime"): int64 words of ``table_fmt`` (a copy)."""
        return self._tables[which].copy()

    def g(self, z: FixedArray, acts, **kw) -> FixedArray:
        """ĝ(z) in ``acts`` (``kw``: the cast's mode and source)."""
        return self._eval("g", z, acts, **kw)

    def g_prime(self, z: FixedArray, acts, **kw) -> FixedArray:
        """ĝ'(z) in ``acts``."""
        return self._eval("g_prime", z, acts, **kw)
