"""The random generators of real accelerators' stochastic-rounding units, as fxsim bit sources.

``make_source(name, seed)`` builds each preset (``PRESETS`` lists them); every one is a
``BitSource``: ``draws(n, r)``, ``next``, ``state``/``from_state``, ``copy``, ``spawn``, its
``lock`` held for every read and advance, and a ``bitsrc_t`` capsule the kernels draw from.
How each public description becomes a stream of r-bit draws:

``amd:prng_b32`` -- AMD CDNA3/CDNA4 ``V_PRNG_B32`` (AMD Instinct CDNA4 ISA reference guide,
    https://www.amd.com/content/dam/amd/en/documents/instinct-tech-docs/instruction-set-architectures/amd-instinct-cdna4-instruction-set-architecture.pdf):
    ``D = (S0 << 1) ^ (S0[31] ? 197 : 0)``, a 32-bit left-shifting Galois LFSR.  A draw is the
    next D (the register steps once per draw) and R = its **low r bits**: the ``V_CVT_SR_*``
    conversions take a 32-bit random operand whose bit use the guide does not spell out;
    Composable Kernel's software SR (``f8_utils.hpp``, ``mantissa += rng & drop_mask``) adds
    the low bits, which is what fxsim follows.  Seeding: lane l starts at
    ``1 + (s (l + 1) - 1) mod (2^32 - 1)`` -- CK seeds each thread with the cycle counter times
    (thread id + 1); fxsim replaces the cycle counter, which is not reproducible, by the seed s.
    ``:lanes=L`` gives L lanes, draw e from lane e mod L (default 1).  r <= 32.
``tenstorrent:sfpu`` -- Tenstorrent Wormhole/Blackhole SFPU PRNG (tt-isa-documentation,
    https://github.com/tenstorrent/tt-isa-documentation, ``WormholeB0/TensixTile/
    TensixCoprocessor/VectorUnit.md`` section "PRNG"): 32 lanes, each
    ``Result = State; State = (~popcount(Result & 0x80200003) << 31) | (Result >> 1)``,
    an XNOR right-shifting LFSR (taps 31/30/10/0 counted from the top) whose all-ones state is
    a lock state.  Read this way, its polynomial x^32 + x^31 + x^21 + x + 1 is not primitive:
    the longest cycle is 3,758,096,377 steps, not 2^32 - 1.  ``SFPSTOCHRND`` uses ``AdvancePRNG() & 0x7fffff`` (``SFPSTOCHRND_FloatFloat.md``):
    a draw is the lane's **old** state and R = its low r bits (r = 23 for SFPSTOCHRND).  Draw e
    comes from lane e mod 32.  How the hardware seeds the 32 lanes from one ``PRNG_SEED`` is not
    public; the tt-metal issues (#13904, #52014) describe "32 lane states derived from shifted
    positions in the same 32-bit XNOR-LFSR sequence", so lane l starts at the seed state
    advanced l steps, the seed state being ``s mod (2^32 - 1)`` (never the lock state).
    SFPSTOCHRND's own comparison is ``sr_rule="tt_sfpu"`` (the preset's ``sr_rule``, r = 23:
    ``fxsim.vendor_rounding.SFPU_MODE``): ``>=`` on the magnitude, exact values included.
``curand:xorwow`` -- cuRAND's default generator (``curand_kernel.h``: ``curand_init`` salts the
    seed with 0xaad26b49 / 0xf7dcefdd and the multipliers 1099087573 / 2591861531; ``curand()``
    is Marsaglia's xorwow plus the Weyl sequence d += 362437, returning v[4] + d): one stream,
    ``curand_init(s mod 2^64, 0, 0)``, one 32-bit word per draw, R = its **top r bits**
    (``curand() >> (32 - r)``).  ``:lanes=L``: L threads, lane l = ``curand_init(s, l, 0)``,
    subsequence l, whose xorshift state is 2^67 l steps ahead (cuRAND's subsequence spacing; the
    Weyl counter d is not moved), as a kernel gives thread l subsequence l.  The source does not
    jump (an arbitrary jump is a 160 x 160 GF(2) matrix power, too slow per cast), so large
    casts fill its draws in order.  r <= 32.
``curand:philox4x32_10`` -- cuRAND's Philox4_32_10 through randomgen's
    ``Philox(number=4, width=32)`` (Random123's Philox4x32-10): ``curand_init(seed, 0, 0)``
    sets key = (seed low, seed high) and counter 0, and ``curand()`` returns the four words of
    each counter block in order; one word per draw, R = its top r bits.  Jumps (counter
    arithmetic).  r <= 32.
``graphcore:xoroshiro128aox`` -- Graphcore IPU's generator (Hanlon and Felix, "A Fast Hardware
    Pseudorandom Number Generator Based on xoroshiro128", IEEE Trans. Computers 72(5), 2023,
    https://doi.org/10.1109/TC.2022.3204226, and
    https://www.jameswhanlon.com/the-hardware-pseudorandom-number-generator-of-the-graphcore-ipu.html;
    64 bits per tile per cycle): the xoroshiro128 linear engine (24, 16, 37) of Blackman and
    Vigna's reference C with the aox output ``(s0 ^ s1) ^ (rotl(s0 & s1, 1) | rotl(s0 & s1, 2))``
    of the state before the step; one 64-bit word per draw, R = its top r bits.  No published
    known-answer vector was found: the tests use a plain re-implementation of that definition.  How the IPU seeds its
    tiles is not public: (s0, s1) = ``SeedSequence(seed).generate_state(2)``, as randomgen
    seeds xoroshiro128.
``xoroshiro128plus`` -- Blackman and Vigna's xoroshiro128+ (https://prng.di.unimi.it/xoroshiro128plus.c;
    libxsmm's SR generator) through randomgen's ``Xoroshiro128``; one 64-bit word per draw,
    R = its top r bits (the low bits of + are weak).

Spawned children (every preset): child c is the preset seeded with
``SeedSequence(entropy, spawn_key=key + (c,))``; from a SeedSequence the 32-bit presets take
one 64-bit word of ``generate_state`` as s.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from . import _sources as _S
from . import _vendor as _V
from .sources import BitSource, register_state_kind

__all__ = ["PRESETS", "LANED", "VendorSource", "CounterSource", "make_vendor_source",
           "lfsr_step_matrix", "jump_word", "xorwow_subsequence_matrix"]

G, T = _V.Generator, _V.Take
M32 = (1 << 32) - 1
M64 = (1 << 64) - 1


@dataclass(frozen=True)
class Preset:
    gen: int | None          # a _vendor.Generator code, or None for a bit generator preset
    take: str                # which bits of the word make R: "low" or "high"
    width: int               # bits per generator word (the largest r)
    lanes: int               # default lanes
    jumps: bool              # cheap jump-ahead (parallel casts)
    vendor: str              # one line for tables
    sr_rule: str = "trunc"   # the SR unit's comparison as an fxsim rule (spec §5.3's table)
    sr_r: int | None = None  # the random bits it compares, where the vendor documents them


#: presets that take ``lanes=L`` (``:lanes=L`` in a spec)
LANED = ("amd:prng_b32", "curand:xorwow")

PRESETS = {
    "amd:prng_b32": Preset(G.GEN_AMD_PRNG_B32, "low", 32, 1, True,
                           "AMD CDNA V_PRNG_B32 (32-bit Galois LFSR, poly 197)"),
    "tenstorrent:sfpu": Preset(G.GEN_TT_SFPU, "low", 32, 32, True,
                               "Tenstorrent SFPU PRNG (32 lanes of one XNOR LFSR)", "tt_sfpu", 23),
    "curand:xorwow": Preset(G.GEN_XORWOW, "high", 32, 1, False, "cuRAND XORWOW"),
    "curand:philox4x32_10": Preset(None, "high", 32, 1, True, "cuRAND Philox4x32-10"),
    "graphcore:xoroshiro128aox": Preset(G.GEN_XOROSHIRO_AOX, "high", 64, 1, False,
                                        "Graphcore IPU xoroshiro128aox"),
    "xoroshiro128plus": Preset(None, "high", 64, 1, False, "xoroshiro128+ (libxsmm)"),
}


def _is_int(x) -> bool:
    return isinstance(x, Integral) and not isinstance(x, bool)


# -- GF(2) jump-ahead of the 32-bit registers ---------------------------------------------------

def _step_int(gen, s: int) -> int:
    if gen == G.GEN_AMD_PRNG_B32:
        return ((s << 1) & M32) ^ (197 if s >> 31 else 0)
    return ((1 ^ bin(s & 0x80200003).count("1") & 1) << 31) | (s >> 1)


def lfsr_step_matrix(gen) -> list:
    """One step of a 32-bit register preset as a 33 x 33 GF(2) matrix on (s, 1): column i is
    the image of bit i (bit 32 carries the constant of the XNOR register's affine step).

    >>> M = lfsr_step_matrix(G.GEN_AMD_PRNG_B32)
    >>> M[0], M[31], M[32]           # bit 0 -> bit 1; bit 31 -> the feedback 197; no constant
    (2, 197, 4294967296)
    """
    c = _step_int(gen, 0)
    return [_step_int(gen, 1 << i) ^ c for i in range(32)] + [c | (1 << 32)]


def _apply(M, v: int) -> int:
    out, i = 0, 0
    while v:
        if v & 1:
            out ^= M[i]
        v >>= 1
        i += 1
    return out


def _matpow(M, k: int) -> list:
    R = [1 << i for i in range(len(M))]
    while k:
        if k & 1:
            R = [_apply(M, c) for c in R]
        k >>= 1
        if k:
            M = [_apply(M, c) for c in M]
    return R


def jump_word(gen, s: int, k: int) -> int:
    """The 32-bit register state s of preset generator ``gen`` advanced k steps.

    >>> jump_word(G.GEN_AMD_PRNG_B32, 1, 3), jump_word(G.GEN_AMD_PRNG_B32, 1, 2**32 - 1)
    (8, 1)
    """
    return _apply(_matpow(lfsr_step_matrix(gen), k), s | (1 << 32)) & M32


def _xorwow_step(v: int) -> int:
    """One step of xorwow's xorshift part, the 160-bit state v0 | v1 << 32 | ... | v4 << 128."""
    w = [(v >> (32 * i)) & M32 for i in range(5)]
    t = w[0] ^ (w[0] >> 2)
    new = ((w[4] ^ (w[4] << 4)) ^ (t ^ (t << 1))) & M32
    return (v >> 32) | (new << 128)


_SUBSEQ = []


def xorwow_subsequence_matrix() -> list:
    """xorwow's xorshift step to the power 2^67 (cuRAND's subsequence spacing), as 160 GF(2)
    columns; built once (67 squarings, about a second).

    >>> M = xorwow_subsequence_matrix()
    >>> len(M), all(0 < c < 1 << 160 for c in M)
    (160, True)
    """
    if not _SUBSEQ:
        M = [_xorwow_step(1 << i) for i in range(160)]
        for _ in range(67):
            M = [_apply(M, c) for c in M]
        _SUBSEQ.append(M)
    return _SUBSEQ[0]


# -- seeding ------------------------------------------------------------------------------------

def _seed_parts(seed):
    """(entropy, spawn key, SeedSequence or int) of a seed: None, an int >= 0 or a SeedSequence."""
    if seed is None:
        seed = np.random.SeedSequence()
    if isinstance(seed, np.random.SeedSequence):
        return seed.entropy, tuple(seed.spawn_key), seed
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be None, a non-negative integer or a numpy.random.SeedSequence, "
                         f"got {seed!r}")
    return int(seed), (), int(seed)


def _word(seed) -> int:
    """The integer s a 32-bit preset is seeded from: the int itself, or one 64-bit word of a
    SeedSequence."""
    if isinstance(seed, np.random.SeedSequence):
        return int(seed.generate_state(1, np.uint64)[0])
    return seed


def _xorwow_init(seed: int) -> list:
    """curand_init(seed, 0, 0): [v0, v1, v2, v3, v4, d]."""
    s0 = (seed & M32) ^ 0xAAD26B49
    s1 = ((seed >> 32) & M32) ^ 0xF7DCEFDD
    t0 = (1099087573 * s0) & M32
    t1 = (2591861531 * s1) & M32
    return [(123456789 + t0) & M32, 362436069 ^ t0, (521288629 + t1) & M32, 88675123 ^ t1,
            (5783321 + t0) & M32, (6615241 + t1 + t0) & M32]


def _lane_states(name: str, seed, lanes: int) -> list:
    p = PRESETS[name]
    if p.gen == G.GEN_AMD_PRNG_B32:
        s = _word(seed)
        return [[1 + (s * (lane + 1) - 1) % M32] for lane in range(lanes)]
    if p.gen == G.GEN_TT_SFPU:
        s = _word(seed) % M32
        M = lfsr_step_matrix(p.gen)
        out = []
        for _ in range(lanes):
            out.append([s])
            s = _apply(M, s | (1 << 32)) & M32
        return out
    if p.gen == G.GEN_XORWOW:
        st = _xorwow_init(_word(seed) & M64)
        v = sum(w << (32 * i) for i, w in enumerate(st[:5]))
        out = []
        for _ in range(lanes):
            out.append([(v >> (32 * i)) & M32 for i in range(5)] + [st[5]])
            if lanes > 1:
                v = _apply(xorwow_subsequence_matrix(), v)
        return out
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    w = [int(x) for x in ss.generate_state(2, np.uint64)]
    return [w if any(w) else [1, 0]]


def _randomgen():
    try:
        import randomgen
    except ImportError:
        raise ImportError("the curand:philox4x32_10 and xoroshiro128plus sources need randomgen "
                          "(pip install 'fxsim[vendor]')") from None
    return randomgen


def _bit_generator(name: str, seed):
    randomgen = _randomgen()
    if name == "xoroshiro128plus":
        return randomgen.Xoroshiro128(seed)
    key = _word(seed) & M64
    # cuRAND's first block is counter 0; randomgen steps the counter before each block
    return randomgen.Philox(number=4, width=32, key=key, counter=(1 << 128) - 1)


# -- sources ------------------------------------------------------------------------------------

class _VendorBase(BitSource):
    name: str

    def _init_seed(self, name, seed, lanes):
        if name not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {name!r}")
        self.name, self.preset = name, PRESETS[name]
        lanes = self.preset.lanes if lanes is None else lanes
        if not _is_int(lanes) or not 1 <= lanes <= 1 << 20:
            raise ValueError(f"lanes must be an integer in [1, 1048576], got {lanes!r}")
        if lanes != self.preset.lanes and name not in LANED:
            raise ValueError(f"lanes: {name} has {self.preset.lanes} lane(s), got {lanes!r}")
        self.lanes = int(lanes)
        self._entropy, self._spawn_key, seed = _seed_parts(seed)
        self._sequence = isinstance(seed, np.random.SeedSequence)
        self._children = 0
        self.lock = threading.Lock()
        return seed

    def _max_r(self) -> int:
        return self.preset.width

    def _check_r(self, r) -> int:
        w = self.preset.width
        if w < 64 and not (_is_int(r) and 1 <= r <= w):
            raise ValueError(f"r must be an integer in [1, n] = [1, {w}] for {self.name} (a draw "
                             f"takes {w}-bit words), got {r!r}")
        return super()._check_r(r)

    def _seed_seq(self, key):
        return np.random.SeedSequence(self._entropy, spawn_key=key)

    def spawn(self, n_children) -> list:
        """``n_children`` sources of this preset seeded with SeedSequence(entropy, spawn_key =
        this source's key + (c,)), c counting every child spawned so far."""
        if not _is_int(n_children) or n_children < 0:
            raise ValueError(f"n_children must be a non-negative integer, got {n_children!r}")
        with self.lock:
            cs = range(self._children, self._children + int(n_children))
            self._children += int(n_children)
        return [type(self)(self.name, self._seed_seq(self._spawn_key + (c,)), lanes=self.lanes)
                for c in cs]

    def _spawn_dict(self):
        e = self._entropy
        return {"entropy": [int(x) for x in e] if isinstance(e, (list, tuple, np.ndarray)) else int(e),
                "key": [int(k) for k in self._spawn_key], "children": self._children,
                "sequence": self._sequence}

    def _set_spawn(self, sp):
        e = sp["entropy"]
        self._entropy = list(e) if isinstance(e, list) else e
        self._spawn_key = tuple(sp["key"])
        self._children = sp["children"]
        self._sequence = sp["sequence"]

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"


def _check_state(value, kind_keys):
    if not isinstance(value, dict):
        raise ValueError(f"state must be a dict (from source.state), got {type(value).__name__}")
    missing = [k for k in ("kind", "preset", "spawn") + kind_keys if k not in value]
    if missing:
        raise ValueError(f"state is missing {missing[0]!r}")
    if value["kind"] != "vendor":
        raise ValueError(f"state['kind'] must be 'vendor', got {value['kind']!r}")
    if value["preset"] not in PRESETS:
        raise ValueError(f"state['preset'] must be one of {', '.join(PRESETS)}, got {value['preset']!r}")
    sp = value["spawn"]
    if not isinstance(sp, dict) or set(sp) != {"entropy", "key", "children", "sequence"}:
        raise ValueError("state['spawn'] must be a dict with the keys 'entropy', 'key', "
                         "'children', 'sequence'")
    if not isinstance(sp["sequence"], bool):
        raise ValueError(f"state['spawn']['sequence'] must be a bool, got {sp['sequence']!r}")
    e = sp["entropy"]
    if not ((_is_int(e) and e >= 0) or (isinstance(e, list) and e and
                                         all(_is_int(x) and x >= 0 for x in e))):
        raise ValueError(f"state['spawn']['entropy'] must be a non-negative integer or a list of them, got {e!r}")
    if not isinstance(sp["key"], list) or not all(_is_int(x) and x >= 0 for x in sp["key"]):
        raise ValueError(f"state['spawn']['key'] must be a list of non-negative integers, got {sp['key']!r}")
    if not _is_int(sp["children"]) or sp["children"] < 0:
        raise ValueError(f"state['spawn']['children'] must be a non-negative integer, got {sp['children']!r}")


class VendorSource(_VendorBase):
    """A register-based preset (``amd:prng_b32``, ``tenstorrent:sfpu``, ``curand:xorwow``,
    ``graphcore:xoroshiro128aox``): L lanes, draw e from lane e mod L (see the module doc).

    >>> src = VendorSource("amd:prng_b32", seed=1)
    >>> src.words(4).tolist()              # D = (S << 1) ^ (S[31] ? 197 : 0) from S = 1
    [2, 4, 8, 16]
    """

    def __init__(self, name="amd:prng_b32", seed=None, lanes=None):
        seed = self._init_seed(name, seed, lanes)
        if self.preset.gen is None:
            raise ValueError(f"{name} is a bit generator preset: use CounterSource")
        self._starts = _lane_states(name, seed, self.lanes)
        take = T.TAKE_LOW if self.preset.take == "low" else T.TAKE_HIGH
        self._core = _V.VendorCore(self.preset.gen, take, self._starts, 0)
        self._capsule = self._core.capsule()

    @property
    def lane_states(self) -> list:
        with self.lock:
            return self._core.states.tolist()

    @property
    def count(self) -> int:
        with self.lock:
            return int(self._core.count)

    def words(self, n) -> np.ndarray:
        """The next n raw generator words (what the draws take their bits from)."""
        if not _is_int(n) or n < 0:
            raise ValueError(f"n (the number of draws) must be a non-negative integer, got {n!r}")
        with self.lock:
            return self._core.words(int(n))

    @property
    def state(self) -> dict:
        with self.lock:
            return {"kind": "vendor", "preset": self.name, "lanes": self.lanes,
                    "lane_states": self._core.states.tolist(), "count": int(self._core.count),
                    "spawn": self._spawn_dict()}

    @state.setter
    def state(self, value):
        _check_state(value, ("lanes", "lane_states", "count"))
        if value["preset"] != self.name or value["lanes"] != self.lanes:
            raise ValueError(f"state is for {value['preset']!r} with {value['lanes']!r} lanes, this "
                             f"source is {self.name!r} with {self.lanes} lanes; use "
                             "fxsim.sources.from_state")
        nw = _V.STATE_WORDS[self.preset.gen]
        top = M64 if self.preset.width == 64 else M32
        st = value["lane_states"]
        if not isinstance(st, list) or len(st) != self.lanes or not all(
                isinstance(s, list) and len(s) == nw and all(_is_int(x) and 0 <= x <= top for x in s)
                for s in st):
            raise ValueError(f"state['lane_states'] must be {self.lanes} lists of {nw} integers in "
                             f"[0, {top}]")
        if not _is_int(value["count"]) or not 0 <= value["count"] < 1 << 64:
            raise ValueError(f"state['count'] must be an integer in [0, 2**64), got {value['count']!r}")
        with self.lock:
            self._core.set_position(st, value["count"])
            self._set_spawn(value["spawn"])

    def _position(self):
        return self._core.states.tolist(), int(self._core.count)

    def _set_position(self, pos) -> None:
        self._core.set_position(pos[0], pos[1])

    def _jumped_states(self, states, count, off):
        """The lane states ``off`` draws after ``states`` (the next draw from lane count mod L)."""
        L = self.lanes
        base, extra = divmod(off, L)
        Ms = {k: _matpow(lfsr_step_matrix(self.preset.gen), k) for k in {base, base + 1}}
        out = []
        for lane, s in enumerate(states):
            k = base + (1 if (lane - count) % L < extra else 0)
            out.append([_apply(Ms[k], s[0] | (1 << 32)) & M32])
        return out

    def _substreams(self, cuts, r):
        if not self.preset.jumps:
            return None
        self._check_r(r)
        with self.lock:
            states, count = self._core.states.tolist(), int(self._core.count)
            copies = []
            for off in cuts:
                c = self._copy_at(self._jumped_states(states, count, int(off)),
                                  (count + int(off)) % (1 << 64))
                copies.append(c)
            last = copies.pop()
            self._core.set_position(last._core.states, last._core.count)
        return copies

    def _copy_at(self, states, count) -> "VendorSource":
        c = VendorSource.__new__(VendorSource)
        c.__dict__.update((k, v) for k, v in self.__dict__.items() if k not in ("_core", "lock"))
        c._core = _V.VendorCore(self.preset.gen, self._core_take(), states, count)
        c._capsule = c._core.capsule()
        c.lock = threading.Lock()
        return c

    def _core_take(self):
        return T.TAKE_LOW if self.preset.take == "low" else T.TAKE_HIGH

    def copy(self) -> "VendorSource":
        """An independent source at this one's position, with the same spawn tree."""
        with self.lock:
            return self._copy_at(self._core.states, int(self._core.count))

    def reset(self) -> "VendorSource":
        """Back to draw 0 (every lane at its seed state)."""
        with self.lock:
            self._core.set_position(self._starts, 0)
        return self


class CounterSource(_VendorBase):
    """A preset driven through a randomgen bit generator (``curand:philox4x32_10``,
    ``xoroshiro128plus``; see the module doc).

    >>> src = CounterSource("curand:philox4x32_10", seed=0)
    >>> [hex(w) for w in src.draws(4, 32).tolist()]     # Random123 kat_vectors, counter 0, key 0
    ['0x6627e8d5', '0xe169c58d', '0xbc57ac4c', '0x9b00dbd8']
    """

    def __init__(self, name="curand:philox4x32_10", seed=None, lanes=None):
        seed = self._init_seed(name, seed, lanes)
        if self.preset.gen is not None:
            raise ValueError(f"{name} is a register preset: use VendorSource")
        self._wrap(_bit_generator(name, seed))

    def _wrap(self, bg):
        self.bit_generator = bg
        self._core = _S.IdealCore(bg, self.preset.width)
        self._capsule = self._core.capsule()

    @property
    def state(self) -> dict:
        with self.lock:
            st = _plain(self.bit_generator.state)
        return {"kind": "vendor", "preset": self.name, "bitgen_state": st,
                "spawn": self._spawn_dict()}

    @state.setter
    def state(self, value):
        _check_state(value, ("bitgen_state",))
        if value["preset"] != self.name:
            raise ValueError(f"state is for {value['preset']!r}, this source is {self.name!r}; use "
                             "fxsim.sources.from_state")
        with self.lock:
            self._set_position(value["bitgen_state"])
            self._set_spawn(value["spawn"])

    def _position(self):
        return _plain(self.bit_generator.state)

    def _set_position(self, pos) -> None:
        cur = self.bit_generator.state
        try:
            new = _restore(pos, cur)
            self.bit_generator.state = new
        except (TypeError, ValueError, KeyError, OverflowError) as e:
            raise ValueError(f"state['bitgen_state']: {e}") from None

    def _substreams(self, cuts, r):
        if not self.preset.jumps:
            return None
        self._check_r(r)
        with self.lock:
            st = self.bit_generator.state
            copies = [self._fresh(self._jumped(st, int(off))) for off in cuts]
            last = copies.pop()
            self.bit_generator.state = last.bit_generator.state
        return copies

    def _jumped(self, state, off: int) -> dict:
        """randomgen Philox state ``off`` 32-bit words after ``state`` (4 words per counter
        block; the counter steps before each block)."""
        bg = _randomgen().Philox(number=4, width=32)
        bg.state = state
        left = 4 - int(state["buffer_pos"])
        if off <= left:
            bg.random_raw(off)
            return bg.state
        blocks, within = divmod(off - left - 1, 4)
        st = bg.state
        ctr = sum(int(w) << (32 * i) for i, w in enumerate(st["state"]["counter"])) + blocks
        st["state"]["counter"] = np.array([(ctr >> (32 * i)) & M32 for i in range(4)], dtype=np.uint32)
        st["buffer_pos"] = 4
        bg.state = st
        bg.random_raw(within + 1)
        return bg.state

    def _fresh(self, bg_state) -> "CounterSource":
        c = CounterSource.__new__(CounterSource)
        c.__dict__.update((k, v) for k, v in self.__dict__.items()
                          if k not in ("_core", "_capsule", "bit_generator", "lock"))
        bg = type(self.bit_generator)() if self.name == "xoroshiro128plus" else \
            _bit_generator(self.name, 0)
        bg.state = bg_state
        c.lock = threading.Lock()
        c._wrap(bg)
        return c

    def copy(self) -> "CounterSource":
        """An independent source at this one's position, with the same spawn tree."""
        with self.lock:
            return self._fresh(self.bit_generator.state)


def _plain(v):
    """A randomgen state as JSON-able values."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return [int(x) for x in v.ravel()]
    if isinstance(v, np.integer):
        return int(v)
    return v


def _restore(v, template):
    """``v`` (from ``_plain``) with the array and integer types of ``template``."""
    if isinstance(template, dict):
        if not isinstance(v, dict) or set(v) != set(template):
            raise ValueError(f"expected the keys {sorted(template)}")
        return {k: _restore(v[k], t) for k, t in template.items()}
    if isinstance(template, np.ndarray):
        if not isinstance(v, list) or len(v) != template.size:
            raise ValueError(f"expected a list of {template.size} integers")
        top = (1 << (8 * template.dtype.itemsize)) - 1
        if not all(_is_int(x) and 0 <= x <= top for x in v):
            raise ValueError(f"expected integers in [0, {top}]")
        return np.array(v, dtype=template.dtype)
    if isinstance(template, str):
        if v != template:
            raise ValueError(f"expected {template!r}, got {v!r}")
        return v
    if _is_int(template) and not _is_int(v):
        raise ValueError(f"expected an integer, got {v!r}")
    return v


def make_vendor_source(name: str, seed=None, lanes=None) -> BitSource:
    """The source of preset ``name`` (a key of ``PRESETS``); ``make_source(name, seed)`` calls it.

    >>> make_vendor_source("tenstorrent:sfpu", seed=3).lanes
    32
    >>> make_vendor_source("curand:xorwow", seed=0).draws(2, 32).tolist()
    [3179217846, 1883133293]
    """
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {name!r}")
    cls = CounterSource if PRESETS[name].gen is None else VendorSource
    return cls(name, seed, lanes=lanes)


def _from_state(state: dict) -> BitSource:
    _check_state(state, ())
    sp = state["spawn"]
    e = sp["entropy"]
    seed = np.random.SeedSequence(e, spawn_key=tuple(sp["key"])) if sp["sequence"] else int(e)
    lanes = state.get("lanes")
    src = make_vendor_source(state["preset"], seed, lanes=lanes)
    src.state = state
    return src


register_state_kind("vendor", _from_state)
