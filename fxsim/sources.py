"""Random bit sources (spec §5): ``LFSR`` registers and ``Ideal`` numpy bit generators.

A source yields a stream of draws; each stochastic cast takes the next draw R of r bits.
``source.draws(n, r)`` returns the next n draws as a uint64 array (what ``fxsim.cast`` and the
other operations call); nogil code reaches the same stream through ``source.capsule``, a
PyCapsule named ``"fxsim.bitsrc"`` holding a ``bitsrc_t`` (``cysrc/bitsrc.pxd``): an opaque state
pointer and the function pointers ``next(state, r)`` and ``fill(state, out, n, r)``.

Sources are stateful and may be shared between Python threads: every method that reads or
moves a source (``draws``, ``next``, ``state`` get and set, ``advance``, ``reset``, ``spawn``,
``count``, ``lane_states`` and the jump-ahead sub-streams a large stochastic ``fxsim.cast``
takes) holds ``source.lock`` for the whole read-and-advance, so concurrent calls each get
their own contiguous piece of the one stream.  A direct user of the capsule must hold
``source.lock`` too, and so must whoever drives the numpy bit generator an ``Ideal`` wraps
(numpy's own methods do).  A user-defined source (any object with ``draws(n, r)``) is called
once per operation and must make that call atomic itself if it is shared.

``source.state`` is a plain JSON-able dict (get and set; a malformed dict is refused with a
ValueError naming the key, and the source is left as it was), ``from_state(d)`` rebuilds a
source from one, ``spawn(k)`` gives k independent children and ``copy()`` an independent
source at the same position.  ``fxsim.make_source`` builds any of them from a spec string; the
GF(2) mathematics behind the registers (taps table, primitivity, periods) is ``fxsim.gf2``.
"""
from __future__ import annotations

import threading
import warnings
from numbers import Integral

import numpy as np

from . import _sources as _S
# taps_table, is_primitive and mersenne_factors are re-exported (public here before the split)
from .gf2 import (char_poly_low, default_taps, galois_mask, is_primitive, mersenne_factors,
                  poly_order, poly_text, seed_period, taps_table)

__all__ = ["BitSource", "LFSR", "Ideal", "from_state", "taps_table", "is_primitive", "mersenne_factors",
           "CAPSULE_NAME"]

CAPSULE_NAME = _S.CAPSULE_NAME
FORMS = ("galois", "fibonacci")
RULES = ("serial", "state")
MAX_LANES = 1 << 20


def _is_int(x) -> bool:
    return isinstance(x, Integral) and not isinstance(x, bool)


# -- sources -----------------------------------------------------------------------------------

def _check_count(n):
    if not _is_int(n) or n < 0:
        raise ValueError(f"n (the number of draws) must be a non-negative integer, got {n!r}")
    return int(n)


def _jsonable(v):
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return [int(x) for x in v.ravel()] if v.dtype.kind in "iu" else v.tolist()
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


# ranges of the integer fields of numpy bit generator states (default: a 64-bit word)
_INT_FIELDS = {"has_uint32": (0, 1), "uinteger": (0, (1 << 32) - 1), "buffer_pos": (0, 4),
               "pos": (0, 624)}
_WIDE_FIELDS = ("PCG64", "PCG64DXSM")          # state/inc are 128-bit integers


def _check_keys(value: dict, path: str, keys, optional=(), what="expected keys") -> None:
    """ValueError naming ``path`` when ``value`` lacks one of ``keys`` or has a key outside
    ``keys`` + ``optional``."""
    missing = [k for k in keys if k not in value]
    extra = [k for k in value if k not in tuple(keys) + tuple(optional)]
    if missing or extra:
        bad = f"is missing {missing[0]!r}" if missing else f"has unknown key {extra[0]!r}"
        opt = f" and optionally {', '.join(map(repr, optional))}" if optional else ""
        raise ValueError(f"{path} {bad} ({what}: {', '.join(map(repr, keys))}{opt})")


def _like(value, template, path, name=""):
    """``value`` (from JSON) checked against, and converted to the types of, ``template`` (the
    current numpy bit generator state): the same keys, integers in range, arrays of the same
    length; ValueError naming the offending ``path`` otherwise."""
    if isinstance(template, dict):
        if not isinstance(value, dict):
            raise ValueError(f"{path} must be a dict, got {type(value).__name__}")
        _check_keys(value, path, tuple(template))
        return {k: _like(value[k], t, f"{path}[{k!r}]", name) for k, t in template.items()}
    if isinstance(template, np.ndarray):
        if isinstance(value, np.ndarray) and value.ndim == 1:
            value = value.tolist()
        if not isinstance(value, (list, tuple)) or len(value) != template.size:
            got = f"{len(value)} items" if isinstance(value, (list, tuple)) else type(value).__name__
            raise ValueError(f"{path} must be a list of {template.size} integers, got {got}")
        top = (1 << (8 * template.dtype.itemsize)) - 1
        for i, v in enumerate(value):
            if not _is_int(v) or not 0 <= v <= top:
                raise ValueError(f"{path}[{i}] must be an integer in [0, {top}], got {v!r}")
        return np.array([int(v) for v in value], dtype=template.dtype).reshape(template.shape)
    if isinstance(template, str):
        if not isinstance(value, str) or value != template:
            raise ValueError(f"{path} must be {template!r}, got {value!r}")
        return value
    if _is_int(template):
        key = path.rsplit("[", 1)[-1].strip("[]'\"")
        lo, hi = _INT_FIELDS.get(key, (0, (1 << 64) - 1))
        if name in _WIDE_FIELDS and key in ("state", "inc"):
            hi = (1 << 128) - 1
        if not _is_int(value) or not lo <= value <= hi:
            raise ValueError(f"{path} must be an integer in [{lo}, {hi}], got {value!r}")
        if name in _WIDE_FIELDS and key == "inc" and not value & 1:
            raise ValueError(f"{path} must be odd (a PCG increment), got {value!r}")
        return int(value)
    if type(value) is not type(template):
        raise ValueError(f"{path} must be a {type(template).__name__}, got {type(value).__name__}")
    return value


_LFSR_KEYS = ("kind", "n", "taps", "form", "rule", "lanes", "lane_seeds", "lane_states", "count")
_SPAWN_KEYS = ("entropy", "key", "children")


def _lfsr_config(value) -> tuple:
    """The configuration (n, taps, form, rule, lanes) of an LFSR state dict, checked."""
    if not isinstance(value, dict):
        raise ValueError(f"state must be a dict (from LFSR.state), got {type(value).__name__}")
    _check_keys(value, "state", _LFSR_KEYS, ("spawn",), "an LFSR state has the keys")
    if not isinstance(value["kind"], str) or value["kind"] != "lfsr":
        raise ValueError(f"state['kind'] must be 'lfsr', got {value['kind']!r}")
    n = value["n"]
    if not _is_int(n) or not 2 <= n <= 64:
        raise ValueError(f"state['n'] must be an integer in [2, 64] (the register length), got {n!r}")
    n = int(n)
    taps = value["taps"]
    if not isinstance(taps, (list, tuple)) or not all(_is_int(t) for t in taps):
        raise ValueError(f"state['taps'] must be a list of integers (XAPP052 exponents, first = "
                         f"n), got {taps!r}")
    try:
        taps = LFSR._parse_taps(taps, n)
    except ValueError as e:
        raise ValueError(f"state['taps']: {e}") from None
    form, rule, lanes = value["form"], value["rule"], value["lanes"]
    if not isinstance(form, str) or form not in FORMS:
        raise ValueError(f"state['form'] must be one of {', '.join(map(repr, FORMS))}, got {form!r}")
    if not isinstance(rule, str) or rule not in RULES:
        raise ValueError(f"state['rule'] must be one of {', '.join(map(repr, RULES))}, got {rule!r}")
    top = min((1 << n) - 1, MAX_LANES)
    if not _is_int(lanes) or not 1 <= lanes <= top:
        raise ValueError(f"state['lanes'] must be an integer in [1, {top}] for n = {n}, got {lanes!r}")
    return n, taps, form, rule, int(lanes)


def _lfsr_position(value, n, lanes) -> tuple:
    """(lane_seeds, lane_states, count, spawn or None) of an LFSR state dict, checked."""
    out = []
    for name in ("lane_seeds", "lane_states"):
        arr = value[name]
        if isinstance(arr, np.ndarray) and arr.ndim == 1:
            arr = arr.tolist()
        if not isinstance(arr, (list, tuple)):
            raise ValueError(f"state[{name!r}] must be a list of {lanes} register states, got "
                             f"{type(arr).__name__}")
        if len(arr) != lanes:
            raise ValueError(f"state[{name!r}] must hold {lanes} states (one per lane), got {len(arr)}")
        for i, s in enumerate(arr):
            if not _is_int(s) or not 1 <= s <= (1 << n) - 1:
                raise ValueError(f"state[{name!r}][{i}] must be an integer in [1, 2**{n} - 1] (a "
                                 f"non-zero {n}-bit register state), got {s!r}")
        out.append([int(s) for s in arr])
    count = value["count"]
    if not _is_int(count) or not 0 <= count < 1 << 64:
        raise ValueError(f"state['count'] must be an integer in [0, 2**64), got {count!r}")
    sp = value.get("spawn")
    if "spawn" in value:
        if not isinstance(sp, dict) or set(sp) != set(_SPAWN_KEYS):
            raise ValueError(f"state['spawn'] must be a dict with the keys "
                             f"{', '.join(map(repr, _SPAWN_KEYS))}, got {sp!r}")
        for k in ("entropy", "key"):
            v = sp[k]
            if not isinstance(v, (list, tuple)) or not all(_is_int(x) and x >= 0 for x in v) \
                    or (k == "entropy" and not v):
                raise ValueError(f"state['spawn'][{k!r}] must be a {'non-empty ' if k == 'entropy' else ''}"
                                 f"list of non-negative integers, got {v!r}")
        c = sp["children"]
        if not _is_int(c) or not 0 <= c < 1 << 63:
            raise ValueError(f"state['spawn']['children'] must be an integer in [0, 2**63), got {c!r}")
        sp = ([int(x) for x in sp["entropy"]], tuple(int(x) for x in sp["key"]), int(c))
    return out[0], out[1], int(count), sp


class BitSource:
    """Common interface of the random bit sources.

    >>> src = LFSR(8, seed=1)
    >>> isinstance(src, BitSource), src.draws(4, 8).tolist(), src.next(8)
    (True, [142, 37, 192, 201], 55)
    """

    lock: threading.Lock
    _capsule: object

    @property
    def capsule(self):
        """PyCapsule "fxsim.bitsrc" -> ``bitsrc_t`` (see cysrc/bitsrc.pxd); hold ``lock``."""
        return self._capsule

    def _max_r(self) -> int:
        return 64

    def _check_r(self, r) -> int:
        if not _is_int(r) or not 1 <= r <= 64:
            raise ValueError(f"r must be an integer in [1, 64] (random bits per draw), got {r!r}")
        return int(r)

    def draws(self, n, r) -> np.ndarray:
        """The next n draws of r bits (a C-contiguous uint64 array, stream order)."""
        return self._take(n, r, False)[0]

    def _take(self, n, r, undoable: bool):
        """The next n draws of r bits, and (``undoable``) a callable that puts the source back
        where it was before them if no other draw was taken since; it returns whether it did."""
        n = _check_count(n)
        r = self._check_r(r)
        out = np.empty(n, dtype=np.uint64)
        with self.lock:           # the draws and the positions around them in one step
            before = self._position() if undoable else None
            self._fill(out, r)
            after = self._position() if undoable else None
        if not undoable:
            return out, None

        def undo() -> bool:
            with self.lock:
                if self._position() != after:
                    return False
                self._set_position(before)
                return True
        return out, undo

    _FILL_BLOCK = 1 << 22

    def _fill(self, out, r) -> None:
        """Fill ``out`` in blocks (call with ``lock`` held): Ctrl-C is seen between blocks."""
        for lo in range(0, out.size, self._FILL_BLOCK):
            _S.fill_from_capsule(self._capsule, out[lo:lo + self._FILL_BLOCK], r)

    def _position(self):
        """Where the stream stands (call with ``lock`` held); comparable with ``==``."""
        raise NotImplementedError

    def _set_position(self, pos) -> None:
        """Move the stream to a ``_position()`` (call with ``lock`` held)."""
        raise NotImplementedError

    def _draws_undoable(self, n, r):
        """``draws(n, r)`` and its undo callable (see ``_take``)."""
        return self._take(n, r, True)

    def _substreams(self, cuts, r):
        """Private copies of this source positioned ``cuts[k]`` draws ahead (k = 0..T-1), and
        this source moved ``cuts[-1]`` draws ahead, so that T threads can draw disjoint slices of
        exactly this stream in parallel; None when the source cannot jump ahead cheaply."""
        return None

    def copy(self) -> "BitSource":
        """An independent source at this source's position, with the same spawn tree (its
        draws and children are this source's, and neither moves the other)."""
        raise NotImplementedError

    def next(self, r) -> int:
        """The next draw of r bits, through the capsule's ``next``."""
        r = self._check_r(r)
        with self.lock:
            return int(_S.next_from_capsule(self._capsule, r))

    def __reduce__(self):
        return from_state, (self.state,)


class LFSR(BitSource):
    """Linear-feedback shift register source (spec §5.1).

    ``LFSR(n=16, taps=None, form="galois", seed=1, rule="serial", lanes=1, lane_seeds=None,
    allow_nonprimitive=False)``

    - ``n``: register length, 2..64 (default 16, or the first tap when taps are given).
    - ``taps``: XAPP052 exponents (first = n), a sequence or a string like "16 14 13 11";
      default: the row n of ``fxsim/data/lfsr_taps.csv``.  User taps must give a primitive
      polynomial (ValueError otherwise) unless ``allow_nonprimitive=True``, which warns with
      the actual period.
    - ``form``: "galois" (right shift, output bit 0) or "fibonacci" (left shift, output bit n-1).
    - ``seed``: the register's starting state, 1..2**n - 1.
    - ``rule``: "serial" (r steps per draw, first output bit most significant) or "state" (one
      step per draw, R = low r bits of the new state; needs r <= n).
    - ``lanes``: L registers; draw e comes from lane e mod L; lane l starts at the seed advanced
      by l * ((2**n - 1) // L) steps (jump-ahead), unless ``lane_seeds`` gives every lane's seed.

    >>> src = LFSR(16, seed=0xACE1)
    >>> src.draws(3, 16).tolist()
    [36812, 11514, 47438]
    >>> LFSR(4, seed=1, rule="state").draws(15, 4).tolist()   # one step per draw: the states
    [12, 6, 3, 13, 10, 5, 14, 7, 15, 11, 9, 8, 4, 2, 1]
    >>> sorted(LFSR(4, seed=1, rule="state").draws(15, 4).tolist()) == list(range(1, 16))
    True
    """

    def __init__(self, n=None, taps=None, form="galois", seed=1, rule="serial", lanes=1,
                 lane_seeds=None, allow_nonprimitive=False):
        if n is None:
            n = 16 if taps is None else None
        if n is not None and (not _is_int(n) or not 2 <= n <= 64):
            raise ValueError(f"n must be an integer in [2, 64] (the register length), got {n!r}")
        user_taps = taps is not None
        if taps is None:
            taps = default_taps(n)
        else:
            taps = self._parse_taps(taps, n)
            if n is None:
                n = taps[0]
                if not 2 <= n <= 64:
                    raise ValueError(f"n must be an integer in [2, 64] (the register length); "
                                     f"taps {taps} give n = {n}")
        if form not in FORMS:
            raise ValueError(f"form must be one of {', '.join(map(repr, FORMS))}, got {form!r}")
        if rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(map(repr, RULES))}, got {rule!r}")
        if not _is_int(lanes) or not 1 <= lanes <= min((1 << n) - 1, MAX_LANES):
            raise ValueError(f"lanes must be an integer in [1, {min((1 << n) - 1, MAX_LANES)}] "
                             f"for n = {n}, got {lanes!r}")
        self.n, self.taps, self.form, self.rule = int(n), taps, form, rule
        self.mask = galois_mask(taps)
        self._fc, self._rc = FORMS.index(form), RULES.index(rule)
        lanes = int(lanes)
        if lane_seeds is None:
            self._check_seed(seed, "seed")
            starts = _S.lane_starts(self.n, self.mask, self._fc, int(seed), lanes,
                                    ((1 << self.n) - 1) // lanes)
        else:
            if isinstance(lane_seeds, (str, bytes)) or not hasattr(lane_seeds, "__len__"):
                raise ValueError("lane_seeds must be a sequence of lane seeds")
            if len(lane_seeds) != lanes:
                raise ValueError(f"lane_seeds must hold exactly lanes = {lanes} seeds, got {len(lane_seeds)}")
            for i, s in enumerate(lane_seeds):
                self._check_seed(s, f"lane_seeds[{i}]")
            starts = np.array([int(s) for s in lane_seeds], dtype=np.uint64)
        self._starts = tuple(int(s) for s in starts)
        self.primitive = (not user_taps) or is_primitive(self.n, taps)
        if self.primitive:
            self._order = self.period = (1 << self.n) - 1
        else:
            self._order = poly_order((1 << self.n) | char_poly_low(self.n, taps))
            self.period = seed_period(self.n, self.mask, self._fc, self._starts[0])
            full = (1 << self.n) - 1
            msg = (f"taps {taps} give a non-primitive polynomial {poly_text(self.n, taps)} over GF(2): "
                   f"the period from seed {self._starts[0]:#x} is {self.period}, not 2**{self.n} - 1 = {full}")
            if not allow_nonprimitive:
                raise ValueError(msg + "; pass allow_nonprimitive=True to use these taps anyway")
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
        self._core = _S.LFSRCore(self.n, self.mask, self._fc, self._rc, starts, 0)
        self._capsule = self._core.capsule()
        self.lock = threading.Lock()
        self._entropy = [self._starts[0], self.mask, self.n, self._fc, lanes]
        self._spawn_key = ()
        self._children = 0

    # -- validation ----------------------------------------------------------------------------

    @staticmethod
    def _parse_taps(taps, n):
        if isinstance(taps, str):
            parts = taps.replace(",", " ").split()
            try:
                taps = [int(p) for p in parts]
            except ValueError:
                raise ValueError(f"taps must be integers (XAPP052 exponents), got {taps!r}") from None
        try:
            taps = list(taps)
        except TypeError:
            raise ValueError(f"taps must be a sequence of integers, got {taps!r}") from None
        if not taps or not all(_is_int(t) for t in taps):
            raise ValueError(f"taps must be a non-empty sequence of integers, got {taps!r}")
        taps = tuple(sorted((int(t) for t in taps), reverse=True))
        if len(set(taps)) != len(taps):
            raise ValueError(f"taps must be distinct, got {taps}")
        top = taps[0] if n is None else n
        if taps[0] != top or taps[-1] < 1:
            raise ValueError(f"taps must be exponents in [1, n] = [1, {top}] including n = {top} "
                             f"(XAPP052 notation, first = n), got {taps}")
        return taps

    def _check_seed(self, s, name):
        if not _is_int(s) or not 1 <= s <= (1 << self.n) - 1:
            raise ValueError(f"{name} must be an integer in [1, 2**{self.n} - 1] (a non-zero "
                             f"{self.n}-bit register state), got {s!r}")

    def _max_r(self) -> int:
        return self.n if self.rule == "state" else 64

    def _check_r(self, r) -> int:
        if self.rule == "state" and not (_is_int(r) and 1 <= r <= self.n):
            raise ValueError(f"r must be an integer in [1, n] = [1, {self.n}] for rule='state' "
                             f"(a draw is the low r bits of the {self.n}-bit state), got {r!r}")
        return super()._check_r(r)

    # -- properties ----------------------------------------------------------------------------

    @property
    def lanes(self) -> int:
        return len(self._starts)

    @property
    def seed(self) -> int:
        """Lane 0's starting state."""
        return self._starts[0]

    @property
    def lane_seeds(self) -> tuple:
        """Every lane's starting state (draw 0)."""
        return self._starts

    @property
    def lane_states(self) -> tuple:
        """Every lane's current register state."""
        with self.lock:
            return tuple(int(s) for s in self._core.lanes)

    @property
    def count(self) -> int:
        """Draws taken since seeding (the next draw comes from lane count mod L)."""
        with self.lock:
            return int(self._core.count)

    @property
    def state(self) -> dict:
        with self.lock:           # one consistent snapshot (the setter and spawn hold the lock)
            cur = [int(s) for s in self._core.lanes]
            count = int(self._core.count)
            seeds, entropy = list(self._starts), list(self._entropy)
            key, children = list(self._spawn_key), self._children
        return {"kind": "lfsr", "n": self.n, "taps": list(self.taps), "form": self.form,
                "rule": self.rule, "lanes": len(seeds), "lane_seeds": seeds,
                "lane_states": cur, "count": count,
                "spawn": {"entropy": entropy, "key": key, "children": children}}

    @state.setter
    def state(self, value):
        n, taps, form, rule, lanes = _lfsr_config(value)
        got = {"n": n, "taps": taps, "form": form, "rule": rule, "lanes": lanes}
        for k, v in (("n", self.n), ("taps", self.taps), ("form", self.form),
                     ("rule", self.rule), ("lanes", self.lanes)):
            if got[k] != v:
                raise ValueError(f"state[{k!r}] = {value[k]!r} does not match this source "
                                 f"({list(v) if k == 'taps' else v!r}); use "
                                 "fxsim.sources.from_state to build a new source")
        seeds, cur, count, sp = _lfsr_position(value, n, lanes)
        with self.lock:           # everything checked: nothing changes on a refused state
            if sp is None:
                sp = (self._entropy, (), 0)
            self._core.set_position(np.array(cur, dtype=np.uint64), count)
            self._starts = tuple(seeds)
            self._entropy = list(sp[0])
            self._spawn_key = tuple(sp[1])
            self._children = sp[2]

    # -- moving along the stream -----------------------------------------------------------------

    def _position(self):
        return tuple(int(v) for v in self._core.lanes), int(self._core.count)

    def _set_position(self, pos) -> None:
        self._core.set_position(np.array(pos[0], dtype=np.uint64), pos[1])

    def _substreams(self, cuts, r):
        r = self._check_r(r)
        spd = r if self.rule == "serial" else 1
        offs = [int(c) for c in cuts]
        L = self.lanes
        with self.lock:           # read, copy and advance in one step: no other thread in between
            count = int(self._core.count)
            # off draws from count on: lane l takes off // L of them, one more when its first
            # draw, (l - count) mod L draws ahead, comes before off mod L; the copy's counter is
            # count + off, which picks the lane of its first draw
            cores = self._core.jumped_copies([(off // L) * spd % self._order for off in offs],
                                             [(count + off) % (1 << 64) for off in offs], r)
            if L > 1:
                for core, off in zip(cores, offs):
                    more = (np.arange(L) - count) % L < off % L
                    if more.any():
                        lanes = core.lanes
                        lanes[more] = _S.jump_states(self.n, self.mask, self._fc, lanes[more], spd)
                        core.set_position(lanes, core.count)
            self._core.set_position(cores[-1].lanes, cores[-1].count)
        return [self._around(core) for core in cores[:-1]]

    def _copy_at(self, lanes, count) -> "LFSR":
        """A private LFSR of this configuration with its registers at ``lanes``."""
        return self._around(self._core.copy_at(np.array(lanes, dtype=np.uint64), int(count)))

    def _around(self, core) -> "LFSR":
        """A new LFSR object with this one's configuration, seeds and spawn tree around ``core``
        (a copy of this source's ``LFSRCore``: no constructor, no primitivity check)."""
        c = LFSR.__new__(LFSR)
        c.__dict__.update(self.__dict__)     # _core, _capsule and lock replaced below
        c._entropy = list(self._entropy)
        c._core = core
        c._capsule = core.capsule()
        c.lock = threading.Lock()
        return c

    def copy(self) -> "LFSR":
        """An independent LFSR at this one's position (same seeds, draw count and spawn tree).

        >>> a = LFSR(16, seed=9); _ = a.draws(3, 16); b = a.copy()
        >>> b.draws(4, 16).tolist() == a.draws(4, 16).tolist(), b.spawn(1)[0].state == a.spawn(1)[0].state
        (True, True)
        """
        with self.lock:
            return self._copy_at(self._core.lanes, int(self._core.count))

    def advance(self, steps) -> "LFSR":
        """Advance every lane by ``steps`` register steps (jump-ahead, any integer; negative
        steps go back); the draw counter is unchanged."""
        if not _is_int(steps):
            raise ValueError(f"steps must be an integer, got {steps!r}")
        k = int(steps) % self._order
        with self.lock:
            self._core.advance(k)
        return self

    def reset(self) -> "LFSR":
        """Back to draw 0 (every lane at its seed)."""
        with self.lock:
            self._core.set_position(np.array(self._starts, dtype=np.uint64), 0)
        return self

    def spawn(self, n_children) -> list:
        """``n_children`` new LFSRs of the same configuration.  Child c starts where this
        source's stream from draw 0 would be after d_c steps (every lane shifted by d_c), d_c in
        [1, period - 1] drawn from ``numpy.random.SeedSequence`` (this source's spawn key + (c,)),
        so children are deterministic, never start on this source's start, and for n >= 32 are
        far apart in the period with overwhelming probability."""
        if not _is_int(n_children) or n_children < 0:
            raise ValueError(f"n_children must be a non-negative integer, got {n_children!r}")
        out = []
        with self.lock:           # children numbers are taken once, even from many threads
            for c in range(self._children, self._children + int(n_children)):
                key = self._spawn_key + (c,)
                ss = np.random.SeedSequence(self._entropy, spawn_key=key)
                w = ss.generate_state(2, np.uint64)
                v = (int(w[0]) << 64) | int(w[1])
                off = 1 + v % (self.period - 1) if self.period > 1 else 0
                starts = _S.jump_states(self.n, self.mask, self._fc,
                                        np.array(self._starts, dtype=np.uint64), off % self._order)
                child = LFSR.__new__(LFSR)
                child._init_like(self, starts)
                child._spawn_key = key
                out.append(child)
            self._children += int(n_children)
        return out

    def _init_like(self, other, starts):
        for k in ("n", "taps", "form", "rule", "mask", "_fc", "_rc", "primitive", "_order"):
            setattr(self, k, getattr(other, k))
        self._starts = tuple(int(s) for s in starts)
        self.period = other.period if other.primitive else seed_period(
            self.n, self.mask, self._fc, self._starts[0])
        self._core = other._core.copy_at(np.array(self._starts, dtype=np.uint64), 0)
        self._capsule = self._core.capsule()
        self.lock = threading.Lock()
        self._entropy = list(other._entropy)
        self._spawn_key = ()
        self._children = 0

    def __repr__(self):
        seeds = f"seed={self.seed:#x}" if self.lanes == 1 else f"lanes={self.lanes}, seed={self.seed:#x}"
        return (f"LFSR(n={self.n}, taps={self.taps}, form={self.form!r}, rule={self.rule!r}, {seeds})")


BITGENS = {"pcg64": "PCG64", "pcg64dxsm": "PCG64DXSM", "philox": "Philox", "sfc64": "SFC64",
            "mt19937": "MT19937"}


class Ideal(BitSource):
    """An ideal source (spec §5.2): a numpy bit generator driven through its C capsule; each
    draw takes one 64-bit word w (``bitgen_t.next_uint64``) and R = w >> (64 - r).

    ``Ideal(bitgen="pcg64", seed=None)``: bitgen one of "pcg64", "philox", "sfc64", "mt19937"
    ("pcg64dxsm" too), seeded with ``seed`` (None, an int, a SeedSequence: as numpy), or a
    ``numpy.random.BitGenerator`` (or ``Generator``) instance, whose stream is then shared.
    For MT19937, numpy's 64-bit word is two 32-bit outputs, the first one high.

    >>> import numpy as np
    >>> a = Ideal("pcg64", seed=7).draws(3, 16)
    >>> b = np.random.PCG64(7).random_raw(3) >> np.uint64(48)     # R = w >> (64 - r)
    >>> bool((a == b).all())
    True
    """

    def __init__(self, bitgen="pcg64", seed=None):
        if isinstance(bitgen, np.random.Generator):
            bitgen = bitgen.bit_generator
        if isinstance(bitgen, np.random.BitGenerator):
            if seed is not None:
                raise ValueError("seed must be None when bitgen is a BitGenerator instance "
                                 "(it carries its own seed)")
            bg = bitgen
        elif isinstance(bitgen, str) and bitgen.lower() in BITGENS:
            bg = getattr(np.random, BITGENS[bitgen.lower()])(seed)
        else:
            raise ValueError(f"bitgen must be one of {', '.join(map(repr, BITGENS))} or a "
                             f"numpy.random.BitGenerator instance, got {bitgen!r}")
        self.bit_generator = bg
        self.name = type(bg).__name__
        self._core = _S.IdealCore(bg)
        self._capsule = self._core.capsule()
        self.lock = bg.lock

    @property
    def state(self) -> dict:
        with self.lock:
            st = self.bit_generator.state
        return {"kind": "ideal", "bitgen": self.name, "state": _jsonable(st)}

    @state.setter
    def state(self, value):
        _ideal_keys(value)
        if not isinstance(value["bitgen"], str) or value["bitgen"] != self.name:
            raise ValueError(f"state['bitgen'] = {value['bitgen']!r} does not match this "
                             f"source ({self.name!r}); use fxsim.sources.from_state")
        with self.lock:
            new = _like(value["state"], self.bit_generator.state, "state['state']", self.name)
            try:
                self.bit_generator.state = new
            except (TypeError, ValueError, OverflowError) as e:    # numpy's own checks
                raise ValueError(f"state['state']: {e}") from None

    def _fill(self, out, r) -> None:
        """SFC64: stepped inline from its state words (the same words as numpy's
        ``next_uint64``, no call per word), which go back into the generator after each
        block; the others through the capsule."""
        if self.name != "SFC64":
            return super()._fill(out, r)
        st = self.bit_generator.state
        words = np.array(st["state"]["state"], dtype=np.uint64)
        for lo in range(0, out.size, self._FILL_BLOCK):
            _S.sfc64_fill(words, out[lo:lo + self._FILL_BLOCK], r)
            st["state"]["state"] = words
            self.bit_generator.state = st

    def _position(self):
        return _jsonable(self.bit_generator.state)

    def _set_position(self, pos) -> None:
        self.bit_generator.state = _like(pos, self.bit_generator.state, "state", self.name)

    def _substreams(self, cuts, r):
        if self.name not in ("PCG64", "PCG64DXSM", "Philox"):
            return None
        self._check_r(r)
        cuts = [int(c) for c in cuts]
        if self.name == "PCG64" and all(a <= b for a, b in zip(cuts, cuts[1:])):
            # the source itself advanced in place from cut to cut: no new generator (each
            # would be seeded from OS entropy first), the same states as _jumped
            bg, at, copies = self.bit_generator, 0, []
            with self.lock:
                for off in cuts:
                    bg.advance(off - at)
                    at = off
                    if len(copies) < len(cuts) - 1:
                        st = bg.state["state"]
                        copies.append(_S.PCG64Core(int(st["state"]), int(st["inc"])))
            return copies
        if self.name == "Philox":
            # private cores at each cut, from the state's fields: no generator per copy
            with self.lock:
                st = self.bit_generator.state
                fields = (st["state"]["counter"].tolist(), st["state"]["key"].tolist(),
                          st["buffer"].tolist(), int(st["buffer_pos"]))
                cache = (int(st["has_uint32"]), int(st["uinteger"]))
                copies = [_S.PhiloxCore(*fields, off, *cache) for off in cuts[:-1]]
                end = _S.PhiloxCore(*fields, cuts[-1])
                st["state"]["counter"] = np.array(end.counter, dtype=np.uint64)
                st["buffer"] = np.array(end.buffer, dtype=np.uint64)
                st["buffer_pos"] = end.buffer_pos
                self.bit_generator.state = st
            return copies
        with self.lock:
            st = self.bit_generator.state
            copies = [self._private(self._jumped(st, int(off))) for off in cuts[:-1]]
            self.bit_generator.state = self._jumped(st, int(cuts[-1])).state
        return copies

    def _private(self, bg):
        """A private stream at ``bg``'s position for one cast: PCG64 stepped inline by
        ``PCG64Core`` (the same words, no call per word), other generators as an Ideal."""
        if self.name != "PCG64":
            return Ideal(bg)
        st = bg.state["state"]
        return _S.PCG64Core(int(st["state"]), int(st["inc"]))

    def _jumped(self, state, off: int):
        """A new bit generator at ``state`` moved ``off`` 64-bit words ahead."""
        bg = type(self.bit_generator)()
        bg.state = state
        if self.name != "Philox":
            bg.advance(off)
            return bg
        # Philox hands out the 4 words of one counter block at a time (buffer_pos of them
        # taken); its advance() moves whole blocks and drops the buffer, so go to the block
        # before the one holding word off - 1 and draw up to it: the state (buffer included)
        # is then the one a sequential run leaves
        left = 4 - int(state["buffer_pos"])
        if off <= left:
            bg.random_raw(off)
            return bg
        blocks, within = divmod(off - left - 1, 4)
        st = bg.state
        ctr = sum(int(w) << (64 * i) for i, w in enumerate(st["state"]["counter"])) + blocks
        st["state"]["counter"] = np.array([(ctr >> (64 * i)) & (2**64 - 1) for i in range(4)],
                                          dtype=np.uint64)
        st["buffer_pos"] = 4
        bg.state = st
        bg.random_raw(within + 1)
        return bg

    def copy(self) -> "Ideal":
        """An independent Ideal at this one's position, on a new bit generator of the same kind
        with a copy of its SeedSequence (so ``spawn`` gives the same children).

        >>> a = Ideal("philox", seed=4); _ = a.draws(3, 8); b = a.copy()
        >>> b.draws(4, 64).tolist() == a.draws(4, 64).tolist()
        True
        """
        cls = type(self.bit_generator)
        with self.lock:
            ss = getattr(self.bit_generator, "seed_seq", None)
            if isinstance(ss, np.random.SeedSequence):
                ss = np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key,
                                            pool_size=ss.pool_size,
                                            n_children_spawned=ss.n_children_spawned)
                bg = cls(ss)
            else:
                bg = cls()
            bg.state = self.bit_generator.state
        return Ideal(bg)

    def spawn(self, n_children) -> list:
        """Children with independent streams (``BitGenerator.spawn``, via SeedSequence)."""
        if not _is_int(n_children) or n_children < 0:
            raise ValueError(f"n_children must be a non-negative integer, got {n_children!r}")
        try:
            with self.lock:       # SeedSequence.spawn counts its children: one thread at a time
                kids = self.bit_generator.spawn(int(n_children))
        except TypeError as e:
            raise ValueError(f"spawn: {e}") from None
        return [Ideal(bg) for bg in kids]

    def __repr__(self):
        return f"Ideal({self.name})"


#: builders of the source kinds defined outside this module (``state["kind"]`` -> builder)
STATE_KINDS: dict = {}


def register_state_kind(kind: str, builder) -> None:
    """Let ``from_state`` rebuild sources whose ``state["kind"]`` is ``kind`` with
    ``builder(state)`` (the vendor presets of ``fxsim.vendor_sources`` register "vendor")."""
    STATE_KINDS[kind] = builder


def from_state(state: dict) -> BitSource:
    """A new source at the position saved in ``state`` (from ``source.state``, or its JSON).

    >>> src = LFSR(16, seed=3); _ = src.draws(5, 16)
    >>> copy = from_state(src.state)
    >>> bool((copy.draws(4, 16) == src.draws(4, 16)).all())
    True
    """
    if not isinstance(state, dict):
        raise ValueError(f"state must be a dict, got {type(state).__name__}")
    kind = state.get("kind")
    kind = kind if isinstance(kind, str) else None
    if kind == "lfsr":
        n, taps, form, rule, lanes = _lfsr_config(state)
        seeds, _, _, _ = _lfsr_position(state, n, lanes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # already warned at creation
            src = LFSR(n, taps, form, rule=rule, lanes=lanes, lane_seeds=seeds,
                       allow_nonprimitive=True)
        src.state = state
        return src
    if kind == "ideal":
        _ideal_keys(state)
        name = state["bitgen"]
        if not isinstance(name, str) or name not in BITGENS.values():
            raise ValueError(f"state['bitgen'] must be one of {', '.join(map(repr, BITGENS.values()))}, "
                             f"got {name!r}")
        src = Ideal(getattr(np.random, name)())
        src.state = state
        return src
    if kind in STATE_KINDS:
        return STATE_KINDS[kind](state)
    more = f" (or {', '.join(map(repr, STATE_KINDS))})" if STATE_KINDS else ""
    raise ValueError(f"state['kind'] must be 'lfsr' or 'ideal'{more}, got {state.get('kind')!r}")


def _ideal_keys(value):
    keys = ("kind", "bitgen", "state")
    if not isinstance(value, dict):
        raise ValueError(f"state must be a dict (from Ideal.state), got {type(value).__name__}")
    if not isinstance(value.get("kind"), str) or value["kind"] != "ideal":
        raise ValueError(f"state['kind'] must be 'ideal' for an Ideal source, got {value.get('kind')!r}")
    _check_keys(value, "state", keys, (), "an Ideal state has the keys")
