"""Shared helpers: read an accelerator description (any object with the attribute names of
``fxsim.models``' protocol) and do the casts of a fully emulated gradient."""
from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np

from fxsim import CastMode, FixedArray, QFormat, cast, qformat
from fxsim.accelerator import Accelerator
from fxsim.modes import STOCHASTIC

DEFAULT_WEIGHTS = QFormat(16, 8)
DEFAULT_ACC = QFormat(32, 16)


def _fmt(v, default):
    if v is None:
        return default
    return v if isinstance(v, QFormat) else qformat(v)


ROLES = ("acc", "acts", "grad")


def accel_of(accel, acc=None):
    """The accelerator a model method was given: ``accel``, or the deprecated keyword ``acc``
    (``acc`` names an accumulator format elsewhere; an accelerator is ``accel``).

    >>> import warnings
    >>> accel_of("A"), accel_of(None)
    ('A', None)
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     accel_of(None, acc="A"), w[0].category.__name__
    ('A', 'DeprecationWarning')
    """
    if acc is None:
        return accel
    if accel is not None:
        raise ValueError("accel: give the accelerator once (accel, or the old keyword acc)")
    warnings.warn("the keyword acc= of fx_grad/fx_bound is deprecated; pass accel= (acc names "
                  "an accumulator format)", DeprecationWarning, stacklevel=3)
    return acc


_MODE_FIELDS = ("rounding", "overflow", "r", "eps", "sr_rule")


def _attribute_mode(a) -> CastMode:
    """The CastMode of a description's separate attributes (stochastic: r 16, eps 0, trunc)."""
    rounding = getattr(a, "rounding", None) or "nearest_even"
    overflow = getattr(a, "overflow", None) or "saturate"
    if rounding not in STOCHASTIC:
        return CastMode(rounding, overflow)
    r, eps = getattr(a, "r", None), getattr(a, "eps", None)
    return CastMode(rounding, overflow, 16 if r is None else int(r),
                    0.0 if eps is None else float(eps), getattr(a, "sr_rule", None) or "trunc")


def _role_cast(a, role: str, mode) -> tuple:
    """(CastMode, bit source) of one cast role of the description ``a`` (see ``Env``)."""
    if mode is None and callable(getattr(a, "cast_kwargs", None)):
        k = dict(a.cast_kwargs(role))
        return CastMode.of({f: k[f] for f in _MODE_FIELDS if f in k}), k.get("source")
    if mode is None:
        mode = getattr(a, "mode", None)
        mode = None if callable(mode) else mode
    m = _attribute_mode(a) if mode is None else CastMode.of(mode)
    return m, getattr(a, "source", None) if m.stochastic else None


class Env:
    """Formats and per-role casts (a ``CastMode`` and a bit source each) read from an
    accelerator description ``accel``.

    Formats (``getattr`` with defaults): ``weights`` (Q(16,8)), ``grads`` (= weights), ``acts``
    (= weights), ``acc`` (Q(32,16)); an ``acc`` attribute that is present but ``None`` (exact
    accumulation) becomes a 64-bit word with fl = 2·max(fl_weights, fl_acts, fl_grads) + 8,
    exact for every product of two operands and wide enough in practice.

    Casts have three roles: ``acc`` (accumulator casts and intermediate products/sums),
    ``acts`` (activations, residuals, nonlinearity outputs) and ``grad`` (the final write into
    ``grads``).  The cast of every role is, first found: ``mode=`` (a ``CastMode``, or what
    ``CastMode.of`` takes); ``accel.cast_kwargs(role)`` (``fxsim.Accelerator``: each role its own
    mode and bit source); an attribute ``mode`` (a ``CastMode``); else the attributes
    ``rounding`` (default nearest_even), ``overflow`` (saturate), ``r`` (16), ``eps`` (0.0),
    ``sr_rule`` (trunc).  Outside ``cast_kwargs`` the bit source is the attribute ``source``.
    ``signed_stochastic_eps`` needs a direction ``v`` intermediate values do not have; inside a
    gradient it is replaced by ``stochastic_eps``.  Model constants (matrices, data) are
    quantized once to ``acts`` with round-to-nearest-even (offline loading, no random draws).

    >>> from types import SimpleNamespace
    >>> env = Env(SimpleNamespace(weights="Q(16,8)", acc="Q(32,16)", rounding="floor"))
    >>> env.weights, env.acts, env.acc
    (QFormat(wl=16, fl=8, signed=True), QFormat(wl=16, fl=8, signed=True), QFormat(wl=32, fl=16, signed=True))
    >>> env.mode("grad"), env.kw("grad"), env.rho("grad")
    (CastMode('floor', 'saturate'), {'rounding': 'floor', 'overflow': 'saturate'}, 1.0)
    >>> env.cast(0.3, "acts").raw      # 76.8 LSB, floor
    array(76, dtype=int16)
    >>> Env(mode=CastMode("toward_zero", "wrap")).mode("acc")
    CastMode('toward_zero', 'wrap')
    """

    def __init__(self, accel=None, *, mode=None):
        a = accel if accel is not None else SimpleNamespace()
        self.weights = _fmt(getattr(a, "weights", None), DEFAULT_WEIGHTS)
        self.grads = _fmt(getattr(a, "grads", None), self.weights)
        self.acts = _fmt(getattr(a, "acts", None), self.weights)
        if hasattr(a, "acc") and getattr(a, "acc") is None:
            fl = 2 * max(self.weights.fl, self.acts.fl, self.grads.fl) + 8
            self.acc = QFormat(64, fl)
        else:
            self.acc = _fmt(getattr(a, "acc", None), DEFAULT_ACC)
        self._modes, self._kw = {}, {}
        for role in ROLES:
            m, source = _role_cast(a, role, mode)
            if m.rounding == "signed_stochastic_eps":
                m = m.replace(rounding="stochastic_eps")
            self._modes[role] = m
            self._kw[role] = dict(m.cast_kwargs(), **({"source": source} if m.stochastic else {}))

    @classmethod
    def of(cls, accel):
        """``Env(accel)``, kept for the next call with an ``Accelerator`` of the same formats,
        modes and bit sources (building one validates every role's mode: about 0.1 ms)."""
        if type(accel) is not Accelerator:
            return cls(accel)
        key = (accel.weights, accel.grads, accel.acts, accel.acc,
               *(accel.mode(role) for role in ROLES),
               *(id(accel.source_for(role)) for role in ROLES))
        env = _ENVS.get(key)
        if env is None:
            if len(_ENVS) >= 16:
                _ENVS.clear()
            env = _ENVS[key] = cls(accel)     # holds the sources: their ids stay theirs
        return env

    def mode(self, role: str) -> CastMode:
        """The CastMode of a cast role (acc, acts, grad)."""
        return self._modes[role]

    def kw(self, role: str) -> dict:
        """Keyword arguments of ``cast``/ops for a cast role (acc, acts, grad)."""
        return self._kw[role]

    def rho(self, role: str) -> float:
        """Bound on one cast's error in units of the target lsb: 1/2 for round-to-nearest
        rules, 1 for every other rule (directed, jam, stochastic: |error| < lsb)."""
        return 0.5 if self._modes[role].rounding.startswith("nearest") else 1.0

    def cast(self, x, role: str):
        fmt = {"acc": self.acc, "acts": self.acts, "grad": self.grads}[role]
        return cast(x, fmt, **self._kw[role])

    def const(self, x, fmt=None):
        """Quantize a model constant (data) once, round-to-nearest-even, saturating."""
        return cast(np.asarray(x, dtype=np.float64), fmt or self.acts)


_ENVS: dict = {}      # Env.of: (formats, modes, source ids) -> Env


def int_const(v: int) -> FixedArray:
    """An integer constant as a FixedArray with fl = 0 (exact).

    >>> c = int_const(-400); c.fmt, int(c.raw)
    (QFormat(wl=10, fl=0, signed=True), -400)
    """
    v = int(v)
    wl = max(2, abs(v).bit_length() + 1)
    return FixedArray(np.array(v), QFormat(wl, 0))


def recip_const(m: int) -> FixedArray:
    """1/m to 31 significant bits in a 32-bit signed word (relative error < 2^-30).

    >>> c = recip_const(3); c.fmt, abs(float(c) * 3 - 1) < 2**-30
    (QFormat(wl=32, fl=32, signed=True), True)
    """
    fl = 30 + math.ceil(math.log2(m)) if m > 1 else 30
    fmt = QFormat(32, fl)
    return cast(1.0 / m, fmt)


def relu(a: FixedArray) -> FixedArray:
    """max(a, 0) word by word (exact, same format).

    >>> relu(cast([-1.5, 0.25], "Q4.4")).to_float()
    array([0.  , 0.25])
    """
    return FixedArray(np.maximum(a.raw, 0), a.fmt)


def vec(x, dim: int) -> np.ndarray:
    """x as a float64 vector of length dim, else a ValueError naming the shapes.

    >>> vec([1, 2], 2)
    array([1., 2.])
    >>> vec([1, 2], 3)
    Traceback (most recent call last):
        ...
    ValueError: x must have shape (3,) (the model's dim), got (2,)
    """
    a = np.asarray(x, dtype=np.float64)
    if a.shape != (dim,):
        raise ValueError(f"x must have shape ({dim},) (the model's dim), got {a.shape}")
    return a


def as_fixed(xq, fmt, dim: int | None = None) -> FixedArray:
    """xq as a FixedArray (a float array is cast to ``fmt``, round to nearest even).

    >>> as_fixed([0.5, 0.3], QFormat(8, 4)).raw
    array([8, 5], dtype=int8)
    """
    if not isinstance(xq, FixedArray):
        xq = cast(np.asarray(xq, dtype=np.float64), fmt)
    if dim is not None and xq.shape != (dim,):
        raise ValueError(f"xq must have shape ({dim},) (the model's dim), got {xq.shape}")
    return xq
