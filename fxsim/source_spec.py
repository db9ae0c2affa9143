"""``make_source(spec, seed=None)``: the one way to name a random bit source.

Every layer that takes a source (operations, the accelerator, algorithms, samplers, the vector
exporter, the studies) accepts what this factory accepts:

- a source object (anything with ``draws(n, r)``), returned as it is (``seed`` must be None);
- a spec string::

      lfsr[N][:N][:galois|fibonacci][:serial|state][:lanes=L]   (N = 2..64, default 16)
      ideal[:pcg64|pcg64dxsm|philox|sfc64|mt19937]              (default pcg64)
      pcg64 | pcg64dxsm | philox | sfc64 | mt19937              (short for ideal:NAME)
      amd:prng_b32[:lanes=L] | tenstorrent:sfpu | curand:xorwow[:lanes=L] | curand:philox4x32_10 |
      graphcore:xoroshiro128aox | xoroshiro128plus              (accelerators' SR generators,
                                                                 fxsim.vendor_sources)

  ``"lfsr16"`` and ``"lfsr:16"`` are the same register.

Seeding, one rule for every caller:

- ``seed=None``: the class defaults (an LFSR starts at state 1; an ideal generator takes fresh
  OS entropy, as numpy does);
- an integer ``s >= 0``: an LFSR starts at state ``1 + (s - 1) mod (2**N - 1)`` (so a seed in
  1..2**N - 1 *is* the starting state, and 0 gives the all-ones state); an ideal generator is
  numpy's ``BitGenerator(s)``;
- a ``numpy.random.SeedSequence``: an LFSR starts at ``1 + w mod (2**N - 1)`` with ``w`` one
  64-bit word of ``seed.generate_state``; an ideal generator is ``BitGenerator(seed)``.
  Derived streams come from ``SeedSequence.spawn``, never from adding offsets to seeds.
"""
from __future__ import annotations

from numbers import Integral

import numpy as np

from .sources import BITGENS, FORMS, RULES, LFSR, Ideal
from .vendor_sources import LANED, PRESETS, make_vendor_source

__all__ = ["make_source", "parse_spec", "seeded_source", "SPEC_GRAMMAR"]

SPEC_GRAMMAR = ("lfsr[N][:N][:galois|fibonacci][:serial|state][:lanes=L], "
                "ideal[:pcg64|pcg64dxsm|philox|sfc64|mt19937], or one of "
                "pcg64, pcg64dxsm, philox, sfc64, mt19937, " + ", ".join(PRESETS))


def _bad(spec, why):
    return ValueError(f"source {spec!r}: {why}; a source spec is {SPEC_GRAMMAR}")


def _check_seed(seed):
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be None, a non-negative integer or a "
                         f"numpy.random.SeedSequence, got {seed!r}")
    return int(seed)


def _lfsr_start(n: int, seed) -> int:
    full = (1 << n) - 1
    if seed is None:
        return 1
    if isinstance(seed, np.random.SeedSequence):
        return 1 + int(seed.generate_state(1, np.uint64)[0]) % full
    return 1 + (seed - 1) % full


def _parse_lfsr(spec: str, head: str, rest: list):
    n = form = rule = lanes = None
    if head != "lfsr":
        digits = head[4:]
        if not digits.isdigit():
            raise _bad(spec, f"cannot read {head!r}")
        n = int(digits)
    for p in rest:
        if p.isdigit() and n is None and form is None and rule is None and lanes is None:
            n = int(p)
        elif p in FORMS and form is None:
            form = p
        elif p in RULES and rule is None:
            rule = p
        elif p.startswith("lanes=") and lanes is None:
            v = p[len("lanes="):]
            if not v.isdigit() or int(v) < 1:
                raise _bad(spec, f"lanes must be a positive integer, got {v!r}")
            lanes = int(v)
        else:
            raise _bad(spec, f"cannot read {p!r}")
    n = 16 if n is None else n
    if not 2 <= n <= 64:
        raise _bad(spec, f"n must be an integer in [2, 64] (the register length N), got {n}")
    return n, form or "galois", rule or "serial", lanes or 1


def parse_spec(spec: str) -> dict:
    """The fields of a spec string, checked (ValueError naming the spec otherwise):
    ``{"kind": "lfsr", "n", "form", "rule", "lanes"}`` or ``{"kind": "ideal", "bitgen"}``.

    >>> parse_spec("lfsr32")
    {'kind': 'lfsr', 'n': 32, 'form': 'galois', 'rule': 'serial', 'lanes': 1}
    >>> parse_spec("philox")
    {'kind': 'ideal', 'bitgen': 'philox'}
    """
    if not isinstance(spec, str):
        raise ValueError(f"source must be a spec string ({SPEC_GRAMMAR}), got {spec!r}")
    parts = [p.strip().lower() for p in spec.strip().split(":")]
    head, rest = parts[0], parts[1:]
    if head.startswith("lfsr"):
        n, form, rule, lanes = _parse_lfsr(spec, head, rest)
        return {"kind": "lfsr", "n": n, "form": form, "rule": rule, "lanes": lanes}
    vendor = ":".join(parts)
    if vendor in PRESETS or (":".join(parts[:2]) in LANED and len(parts) == 3
                             and parts[2].startswith("lanes=")):
        lanes = None
        if vendor not in PRESETS:
            v = parts[2][len("lanes="):]
            if not v.isdigit() or int(v) < 1:
                raise _bad(spec, f"lanes must be a positive integer, got {v!r}")
            lanes = int(v)
        return {"kind": "vendor", "preset": ":".join(parts[:2]) if lanes else vendor, "lanes": lanes}
    if head in BITGENS and not rest:
        head, rest = "ideal", [head]
    if head == "ideal":
        if len(rest) > 1 or (rest and rest[0] not in BITGENS):
            raise _bad(spec, f"cannot read {':'.join(rest)!r}")
        return {"kind": "ideal", "bitgen": rest[0] if rest else "pcg64"}
    raise _bad(spec, f"the kind must be 'lfsr', 'ideal', a bit generator name or a vendor preset, "
                     f"got {head!r}")


def make_source(spec, seed=None):
    """A bit source from a spec string (see the module doc), or ``spec`` itself when it is
    already a source object.

    >>> make_source("lfsr16", seed=5)
    LFSR(n=16, taps=(16, 15, 13, 4), form='galois', rule='serial', seed=0x5)
    >>> make_source("lfsr:8:fibonacci:state", seed=5)
    LFSR(n=8, taps=(8, 6, 5, 4), form='fibonacci', rule='state', seed=0x5)
    >>> make_source("lfsr:32:galois:serial:lanes=4", seed=1).lanes
    4
    >>> make_source("ideal:philox", seed=1), make_source("pcg64", seed=1)
    (Ideal(Philox), Ideal(PCG64))
    >>> import numpy as np
    >>> a = make_source("pcg64", seed=np.random.SeedSequence(3)).draws(2, 64)
    >>> bool((a == np.random.PCG64(np.random.SeedSequence(3)).random_raw(2)).all())
    True
    >>> make_source("lfsr:70")
    Traceback (most recent call last):
        ...
    ValueError: source 'lfsr:70': n must be an integer in [2, 64] (the register length N), got 70; ...
    """
    if not isinstance(spec, str):
        if spec is None or not callable(getattr(spec, "draws", None)):
            raise ValueError(f"source must be a spec string ({SPEC_GRAMMAR}) or a bit source "
                             f"object with draws(n, r), got {spec!r}")
        if seed is not None:
            raise ValueError("seed must be None when source is already a source object "
                             "(it carries its own state)")
        return spec
    seed = _check_seed(seed)
    f = parse_spec(spec)
    if f["kind"] == "vendor":
        return make_vendor_source(f["preset"], seed, lanes=f["lanes"])
    if f["kind"] == "lfsr":
        return LFSR(f["n"], form=f["form"], seed=_lfsr_start(f["n"], seed), rule=f["rule"],
                    lanes=f["lanes"])
    return Ideal(f["bitgen"], seed=seed)


def seeded_source(spec, seed: int, *, plus_one=(), aliases=None, names=None):
    """The bit source of an algorithm's ``source=``: a source object (with ``draws(n, r)``) as
    it is, or a ``make_source`` spec seeded with ``seed``.  Each caller keeps its own seed
    mapping, so that its numbers never change: the specs in ``plus_one`` are seeded with
    ``seed + 1`` (an LFSR at state 1 + seed mod (2^N − 1), the rule of earlier releases);
    ``aliases`` maps the caller's own names to specs (``{"ideal": "pcg64"}``).  ``names``: the
    caller's short names, listed in the error; with them, a short ``lfsrN`` outside ``names``
    is refused (it would be seeded unlike the listed ones).  Errors name ``source``.

    >>> seeded_source("lfsr16", 0, plus_one=("lfsr16",)).draws(2, 16).tolist()
    [34957, 3373]
    >>> seeded_source("lfsr8", 0, names=("lfsr16",))
    Traceback (most recent call last):
        ...
    ValueError: source: must be one of lfsr16, a make_source spec such as 'lfsr:8' or 'philox', or a bit source object with draws(n, r), got 'lfsr8'
    """
    names = tuple(names or ())
    short_lfsr = isinstance(spec, str) and spec.startswith("lfsr") and spec[4:].isdigit()
    if spec is None or (not isinstance(spec, str) and not hasattr(spec, "draws")) or \
            (names and short_lfsr and spec not in names):
        listed = f"one of {', '.join(names)}, " if names else ""
        raise ValueError(f"source: must be {listed}a make_source spec such as 'lfsr:8' or "
                         f"'philox', or a bit source object with draws(n, r), got {spec!r}")
    if not isinstance(spec, str):
        return spec
    if spec in plus_one:
        return make_source(spec, int(seed) + 1)
    spec = (aliases or {}).get(spec, spec)
    try:
        return make_source(spec, int(seed))
    except ValueError as e:
        raise ValueError(f"source: {e}") from None
