"""Accelerator description: formats, per-cast rounding/overflow, and bit sources.

An :class:`Accelerator` is what a user writes once and what optimizers and models read::

    acc = Accelerator(weights="Q8.8", grads="Q8.8", acc="Q16.16",
                      casts={"grad": ("stochastic", "saturate")}, source="lfsr16", seed=3)

Cast roles (each with its own cast mode: a ``fxsim.CastMode``, a rounding name, a ``(rounding,
overflow)`` pair or a dict of CastMode fields; r, eps and sr_rule default to the accelerator's;
default ``("nearest_even", "saturate")``):

``grad``    the gradient written into the ``grads`` format;
``step``    the product t·g written into the ``prod`` format (``prod=None``: the product is
            kept exact, i.e. a fused multiply-subtract whose only rounding is the write-back);
``update``  the write-back of x − step into the ``weights`` format. This is the only cast
            with a companion ``v`` (v = ∇f), so the only one allowing ``signed_stochastic_eps``;
``acts``    activations written into the ``acts`` format (models' forward passes);
``acc``     accumulator casts inside dot/matvec/matmul (``acc`` format).

Sources: ``source`` is None, any spec string of ``fxsim.make_source`` (``"lfsr16"``,
``"lfsr:32:fibonacci:state:lanes=4"``, ``"ideal"``, ``"pcg64"``, ``"ideal:philox"``, ...) naming
one root generator seeded by ``seed``, or a source object (an ``LFSR``/``Ideal``, copied: the
caller's object is never advanced).  One child stream per role, in the fixed order of
:data:`ROLES`, is spawned from the root (``source.spawn``: ``numpy.random.SeedSequence`` spawn
keys), so each role has its own reproducible stream.  An LFSR root starts at state
``1 + seed mod (2**N - 1)`` (so ``make_source``'s seed ``seed + 1``: the accelerator's seed 0 is
state 1, as it always was); an ideal root is numpy's ``BitGenerator(seed)``.
:meth:`Accelerator.fresh` gives a copy whose streams start again from the seed (algorithms run
on it); :meth:`Accelerator.reset_sources` re-spawns this object's own streams.

Models read the attributes ``weights grads acts acc prod rounding overflow source r eps``
with getattr; ``rounding``/``overflow``/``source`` are those of the *current role*, ``"grad"``
unless changed with ``with accel.as_role("acts"): ...``. ``accel.cast_kwargs(role)`` gives the
keyword arguments of ``fxsim.cast`` for a role.
"""
from __future__ import annotations

import contextlib
import copy
import json
import math

from .modes import OVERFLOW, ROUNDING, STOCHASTIC, SR_RULES, CastMode
from .qformat import QFormat
from .source_spec import SPEC_GRAMMAR, make_source, parse_spec
from .sources import BitSource

ROLES = ("grad", "step", "update", "acts", "acc")
#: roles whose cast has a companion value v (needed by signed_stochastic_eps)
V_ROLES = ("update",)
#: the historic source names (every ``fxsim.make_source`` spec is accepted)
SOURCES = ("lfsr16", "lfsr32", "ideal", "pcg64")
DEFAULT_CAST = ("nearest_even", "saturate")
_KEYS = ("weights", "grads", "acts", "prod", "acc", "casts", "source", "seed", "r", "eps",
         "sr_rule")


def _fmt(name, value, allow_none):
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"{name}: a format is required (e.g. 'Q8.8'), got None")
    if isinstance(value, QFormat):
        return value
    if isinstance(value, str):
        try:
            return QFormat.parse(value)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None
    if isinstance(value, (tuple, list)) and len(value) in (2, 3):
        try:
            return QFormat(*value)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None
    raise ValueError(f"{name}: expected a QFormat, a format string like 'Q8.8' or (wl, fl[, "
                     f"signed]), got {value!r}")


_MODE_KEYS = ("rounding", "overflow", "r", "eps", "sr_rule")


def _cast_mode(role, spec, r, eps, sr_rule) -> CastMode:
    """The CastMode of a role from a CastMode, a rounding name, a (rounding, overflow) pair or a
    dict of CastMode fields; r, eps and sr_rule default to the accelerator's."""
    if isinstance(spec, CastMode):
        return spec
    if isinstance(spec, str):
        spec = (spec, DEFAULT_CAST[1])
    if isinstance(spec, dict):
        extra = set(spec) - set(_MODE_KEYS)
        if extra:
            raise ValueError(f"casts.{role}: unknown keys {sorted(extra)} (allowed: "
                             f"{', '.join(_MODE_KEYS)})")
        fields = dict(spec)
    elif isinstance(spec, (tuple, list)) and len(spec) == 2:
        fields = dict(zip(("rounding", "overflow"), spec))
    else:
        raise ValueError(f"casts.{role}: expected a CastMode, (rounding, overflow), a rounding "
                         f"name or a dict of {', '.join(_MODE_KEYS)}, got {spec!r}")
    rnd = fields.setdefault("rounding", DEFAULT_CAST[0])
    ovf = fields.setdefault("overflow", DEFAULT_CAST[1])
    if not isinstance(rnd, str) or rnd not in ROUNDING:
        raise ValueError(f"casts.{role}: unknown rounding {rnd!r}; allowed: {', '.join(ROUNDING)}")
    if not isinstance(ovf, str) or ovf not in OVERFLOW:
        raise ValueError(f"casts.{role}: unknown overflow {ovf!r}; allowed: {', '.join(OVERFLOW)}")
    try:
        return CastMode.of(fields, r=r, eps=eps, sr_rule=sr_rule)
    except ValueError as e:
        raise ValueError(f"casts.{role}: {e}") from None


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs):
    """``json.loads`` object hook: a dict, refusing a key given twice in one object."""
    d = {}
    for k, v in pairs:
        if k in d:
            raise _DuplicateKey(k)
        d[k] = v
    return d


class Accelerator:
    """Formats, per-role casts and bit sources of an emulated accelerator (see module doc).

    >>> acc = Accelerator(weights="Q8.8", grads="Q8.8", acc="Q16.16",
    ...                   casts={"grad": "stochastic", "update": ("nearest_even", "wrap")},
    ...                   source="lfsr16", seed=3)
    >>> acc
    Accelerator(weights=Q(16,8), grads=Q(16,8), acc=Q(32,16), casts(grad=stochastic/saturate, update=nearest_even/wrap), source='lfsr16', seed=3, r=16, eps=0)
    >>> sorted(acc.cast_kwargs("grad"))
    ['overflow', 'r', 'rounding', 'source', 'sr_rule']
    >>> with acc.as_role("update"):
    ...     acc.rounding, acc.overflow
    ('nearest_even', 'wrap')
    >>> Accelerator.from_dict(acc.to_dict()) == acc
    True
    """

    def __init__(self, weights, grads, acts=None, prod=None, acc=None, casts=None, *,
                 source=None, seed=0, r=16, eps=0.0, sr_rule="trunc"):
        self.weights = _fmt("weights", weights, False)
        if not self.weights.signed:
            raise ValueError(f"weights: must be a signed format (x − step can be negative), got "
                             f"{self.weights}")
        self.grads = _fmt("grads", grads, False)
        if not self.grads.signed:
            raise ValueError(f"grads: must be a signed format, got {self.grads}")
        self.acts = _fmt("acts", acts, True)
        self.prod = _fmt("prod", prod, True)
        self.acc = _fmt("acc", acc, True)
        if casts is None:
            casts = {}
        if not isinstance(casts, dict):
            raise ValueError(f"casts: expected a dict role -> (rounding, overflow), got {casts!r}")
        unknown = [k for k in casts if k not in ROLES]
        if unknown:
            raise ValueError(f"casts: unknown role(s) {unknown}; roles are {', '.join(ROLES)}")
        if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= 64:
            raise ValueError(f"r: must be an integer in 1..64, got {r!r}")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (0 <= eps < 1) \
                or math.isnan(eps):
            raise ValueError(f"eps: must be a number in [0, 1), got {eps!r}")
        if sr_rule not in SR_RULES:
            raise ValueError(f"sr_rule: must be one of {', '.join(SR_RULES)}, got {sr_rule!r}")
        self._modes = {role: _cast_mode(role, casts.get(role, DEFAULT_CAST), r, float(eps), sr_rule)
                       for role in ROLES}
        for role, (rnd, _) in self.casts.items():
            if rnd == "signed_stochastic_eps" and role not in V_ROLES:
                raise ValueError(f"casts.{role}: signed_stochastic_eps needs a companion value v, "
                                 f"which only the {'/'.join(V_ROLES)} cast has (v = ∇f)")
        template = None
        if isinstance(source, BitSource):
            template = source.copy()           # the caller's source is never advanced
        elif source is not None and not isinstance(source, str):
            raise ValueError(f"source: must be None, a spec string of fxsim.make_source "
                             f"({SPEC_GRAMMAR}) or an fxsim source object (LFSR, Ideal), got {source!r}")
        elif source is not None:
            try:
                parse_spec(source)
            except ValueError as e:
                raise ValueError(f"source: {e} (see fxsim.make_source)") from None
        stoch = [role for role, (rnd, _) in self.casts.items() if rnd in STOCHASTIC]
        if stoch and source is None:
            raise ValueError(f"source: casts {', '.join('casts.' + s for s in stoch)} use stochastic "
                             f"rounding, which needs a bit source: a spec string of "
                             f"fxsim.make_source ({SPEC_GRAMMAR}) or a source object")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
        self.source_name = source if template is None else None
        self._template = template
        self.seed = int(seed)
        self.r = r
        self.eps = float(eps)
        self.sr_rule = sr_rule
        self._role = "grad"
        self._sources = {}
        self.reset_sources()

    # ------------------------------------------------------------------ sources
    def _root(self):
        if self._template is not None:
            return self._template.copy()
        name = self.source_name
        if name is None:
            return None
        if parse_spec(name)["kind"] == "lfsr":
            # the accelerator's historic rule: state 1 + seed mod (2**N - 1)
            return make_source(name, seed=self.seed + 1)
        return make_source(name, seed=self.seed)

    def reset_sources(self) -> "Accelerator":
        """(Re)spawn one stream per role from the seed: the same seed gives the same streams."""
        root = self._root()
        if root is None:
            self._sources = {role: None for role in ROLES}
        else:
            self._sources = dict(zip(ROLES, root.spawn(len(ROLES))))
        return self

    def fresh(self) -> "Accelerator":
        """A copy of this accelerator whose per-role streams start again from the seed; this
        object (and the streams it has handed out) is left as it is.  Algorithms run on
        ``accel.fresh()``, so a run is reproducible given the seed without touching the caller's
        accelerator."""
        twin = copy.copy(self)
        twin._role = "grad"
        return twin.reset_sources()

    def source_for(self, role: str):
        """The bit source of a cast role (None without a source)."""
        self._check_role(role)
        return self._sources[role]

    # ------------------------------------------------------------------ roles
    @staticmethod
    def _check_role(role):
        if role not in ROLES:
            raise ValueError(f"role: unknown role {role!r}; roles are {', '.join(ROLES)}")

    @property
    def role(self) -> str:
        return self._role

    @contextlib.contextmanager
    def as_role(self, role: str):
        """Within the block, ``rounding``/``overflow``/``source`` are those of ``role``."""
        self._check_role(role)
        old, self._role = self._role, role
        try:
            yield self
        finally:
            self._role = old

    @property
    def casts(self) -> dict:
        """role -> (rounding, overflow), read from the roles' cast modes."""
        return {role: (m.rounding, m.overflow) for role, m in self._modes.items()}

    rounding = property(lambda self: self._modes[self._role].rounding)
    overflow = property(lambda self: self._modes[self._role].overflow)
    source = property(lambda self: self._sources[self._role])

    def mode(self, role: str) -> CastMode:
        """The CastMode of a role's cast."""
        self._check_role(role)
        return self._modes[role]

    def cast_kwargs(self, role: str) -> dict:
        """Keyword arguments of ``fxsim.cast`` (and ops' rounding/overflow) for a role."""
        kw = self.mode(role).cast_kwargs()
        if self._modes[role].stochastic:
            kw["source"] = self._sources[role]
        return kw

    def fmt_for(self, role: str):
        """Target format of a role's cast (step: ``prod``, None = exact; update: ``weights``)."""
        self._check_role(role)
        return {"grad": self.grads, "step": self.prod, "update": self.weights,
                "acts": self.acts, "acc": self.acc}[role]

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict:
        d = {"weights": str(self.weights), "grads": str(self.grads)}
        for k in ("acts", "prod", "acc"):
            v = getattr(self, k)
            if v is not None:
                d[k] = str(v)
        if self._template is not None:
            raise ValueError("source: an accelerator built on a source object cannot be written "
                             "out; name the source with a spec string (see fxsim.make_source)")
        d["casts"] = {}
        for role, m in self._modes.items():
            plain = _cast_mode(role, [m.rounding, m.overflow], self.r, self.eps, self.sr_rule)
            d["casts"][role] = [m.rounding, m.overflow] if m == plain else {
                k: getattr(m, k) for k in _MODE_KEYS if getattr(m, k) is not None}
        if self.source_name is not None:
            d["source"] = self.source_name
        d.update(seed=self.seed, r=self.r, eps=self.eps, sr_rule=self.sr_rule)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Accelerator":
        if not isinstance(d, dict):
            raise ValueError(f"accelerator description must be a mapping, got {type(d).__name__}")
        unknown = [k for k in d if k not in _KEYS]
        if unknown:
            raise ValueError(f"unknown accelerator key(s) {unknown}; allowed: {', '.join(_KEYS)}")
        for k in ("weights", "grads"):
            if k not in d:
                raise ValueError(f"{k}: missing (required key)")
        return cls(**d)

    @classmethod
    def from_json(cls, path) -> "Accelerator":
        """From a JSON file (an object, or {"accelerator": {...}}); duplicate keys are refused.
        The format names no other files: nothing outside ``path`` is read."""
        with open(path, "rb") as f:
            text = f.read()
        try:
            d = json.loads(text, object_pairs_hook=_no_duplicates)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: not valid JSON: {e}") from None
        except _DuplicateKey as e:
            raise ValueError(f"{path}: duplicate key {e.args[0]!r}; each key may appear once") from None
        except RecursionError:
            raise ValueError(f"{path}: not an accelerator description (nested too deeply)") from None
        return cls._from_file(d, path)

    @classmethod
    def from_toml(cls, path) -> "Accelerator":
        """From a TOML file (top-level keys or an [accelerator] table); TOML itself refuses
        duplicate keys and tables."""
        import tomllib
        with open(path, "rb") as f:
            try:
                d = tomllib.load(f)
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
                raise ValueError(f"{path}: not valid TOML: {e}") from None
            except RecursionError:
                raise ValueError(f"{path}: not an accelerator description (nested too deeply)") from None
        return cls._from_file(d, path)

    @classmethod
    def from_file(cls, path) -> "Accelerator":
        """By extension: ``.toml`` or ``.json``."""
        p = str(path).lower()
        if p.endswith(".toml"):
            return cls.from_toml(path)
        if p.endswith(".json"):
            return cls.from_json(path)
        raise ValueError(f"{path}: accelerator files must end in .toml or .json")

    @classmethod
    def _from_file(cls, d, path):
        if isinstance(d, dict) and "accelerator" in d and len(d) == 1:
            d = d["accelerator"]           # allow an [accelerator] table
        try:
            return cls.from_dict(d)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    # ------------------------------------------------------------------ misc
    def __eq__(self, other):
        if not isinstance(other, Accelerator):
            return False
        if self._template is not None or other._template is not None:
            return self is other
        return self.to_dict() == other.to_dict()

    __hash__ = None

    def __repr__(self):
        fm = ", ".join(f"{k}={getattr(self, k)}" for k in ("weights", "grads", "acts", "prod", "acc")
                       if getattr(self, k) is not None)
        cs = ", ".join(f"{role}={rnd}/{ovf}" for role, (rnd, ovf) in self.casts.items()
                       if (rnd, ovf) != DEFAULT_CAST)
        cs = f"casts({cs or 'all nearest_even/saturate'})"
        src = f"source={self.source_name!r}, seed={self.seed}" if self.source_name else \
            f"source={self._template!r}" if self._template is not None else "source=None"
        sr = f", r={self.r}, eps={self.eps:g}" if any(
            rnd in STOCHASTIC for rnd, _ in self.casts.values()) else ""
        return f"Accelerator({fm}, {cs}, {src}{sr})"
