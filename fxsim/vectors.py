"""Test-vector export (spec §7): a folder an RTL test bench can read with ``$readmemh``.

``export_vectors(folder, op, ...)`` writes ``manifest.json`` and one ``.mem`` file per port
(inputs and expected outputs) and per random stream: one word per line, lower-case hex, two's
complement, zero-padded to ⌈wl/4⌉ digits (⌈r/4⌉ for draws).  The manifest is version 1 of the
layout documented in ``tests/rtl/rtl_vectors.py``::

    {
      "fxsim_vectors": 1,
      "operation": "cast" | "add" | "sub" | "mul" | "dot" | "matmul",
      "count": <cases = output words>,
      "formats": {<port>: {"wl", "fl", "signed"}, ...,
                  (dot, matmul:) "prod", "acc", "out": {...} | null (null: that cast is absent)},
      "modes":   {"rounding", "overflow", "sr_rule", "r", "eps", "E"},
      "source":  {"kind": "none"} | {"kind": "lfsr", "n", "taps", "mask", "form", "rule", "r",
                  "lanes", "seed", "lane_states", "draw_index", "state"}
                 | {"kind": "ideal", "bitgen", "r", "seed", "state"},
      "ports":   {<port>: {"file", "dir": "in" | "out", "wl", "fl", "signed", "words", "shape"}},
      "draws":   {"rnd": {"file": "rnd.mem", "r", "words", "per_case", "order"}} | {},
      "K": <dot length> | null, "shape": [...], "fxsim_version", "generator", "stats"
    }

Ports: ``cast``: x -> y; ``add``/``sub``/``mul``/``dot``/``matmul``: a, b -> y (``dot``: a and
b hold ``count`` rows of K words, row j feeds dot j; ``matmul``: A (M×K) and B (K×N) and
Y (M×N), all in C order); ``v`` (the sign of the companion array of
``signed_stochastic_eps``, words −1/0/1 in Q(2,0)); ``seed`` (LFSR sources: every lane's
register state at the start, n bits, for a bench with its own LFSR).

``read_vectors(folder)`` reads a folder back (ports as ``FixedArray``\\ s, draws as uint64
arrays); ``check_outputs(folder, produced)`` compares an RTL output file word for word.

Folders may come from outside, so reading validates them: the manifest must be a JSON object
of this layout (ValueError naming the key, e.g. ``'ports.y.wl' must be an integer in [1, 64]``;
no duplicate keys, at most 16 levels deep), every file it names a plain name of a regular file
inside the folder (no ``..``, absolute path, device, FIFO or symlink), and every file must hold
exactly its ``words`` (reading stops one word past) of hex words that fit its width.
"""
from __future__ import annotations

import json
import math
import os
import re
import secrets
import stat
from fractions import Fraction
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np

from . import ops as _ops
from .counters import Counters
from .fixed import FixedArray
from .floatarray import FloatArray
from .floatcast import FLOAT_OVERFLOW, FLOAT_ROUNDING, FLOAT_STOCHASTIC
from .floatformat import FloatFormat
from .modes import OVERFLOW, ROUNDING, SR_RULES, STOCHASTIC, CastMode
from .qformat import QFormat, qformat
from . import bench_params as _bench
from . import source_spec
from .source_spec import parse_spec
from .sources import LFSR, BitSource, Ideal

__all__ = ["export_vectors", "read_vectors", "check_outputs", "CheckReport", "make_source", "float_stimulus",
           "OPS", "MANIFEST", "VERSION", "EXPORT_MAX_WORDS", "EXPORT_MAX_MACS"]

OPS = ("cast", "add", "sub", "mul", "dot", "matmul")
MANIFEST = "manifest.json"
VERSION = 1
DRAWS = "rnd"
DEFAULT_COUNT = 1000
# Size limit of one export (checked before anything is drawn or written).  A vector set is for
# an RTL bench that loads every file with $readmemh into memory arrays, so it stays small: at
# most 2**24 = 16,777,216 words in all its .mem files together (inputs, outputs, v, seed and
# draws; the bench's mode.mem, 2 bytes and 1 byte of memory a case, is left out): up to ~272 MiB of text (17 characters a word at 64 bits), ~1.6 GiB of memory while it
# is built (~100 bytes a word, measured), about 15 s.  A matmul also does at most 2**30
# multiply-accumulates (M*K*N; about 20 s).  A fixed budget rather than the machine's free
# memory: the same call is accepted or refused on every machine.
EXPORT_MAX_WORDS = 1 << 24
EXPORT_MAX_MACS = 1 << 30
_BUILD_BYTES_PER_WORD = 100          # measured peak memory per word while an export is built
_TEXT_BYTES_PER_WORD = 17            # at most 16 hex digits and a newline
V_FMT = QFormat(2, 0, True)          # sign(v): -1, 0, 1
_INPUT_SALT = 0x66787673             # keeps input words apart from an Ideal source of the same seed
_DRAW_ORDER = ("output elements in C order; within an element k ascending, the product's cast "
               "before the accumulator's; the output cast last (spec section 4)")


def _is_int(x) -> bool:
    return isinstance(x, Integral) and not isinstance(x, bool)


def _fmt_json(f: QFormat) -> dict:
    return {"wl": f.wl, "fl": f.fl, "signed": f.signed}


# -- random bit sources ----------------------------------------------------------------------

def make_source(spec, seed=1) -> BitSource:
    """A source from a spec string of ``fxsim.make_source`` (``lfsr[:N][:galois|fibonacci]
    [:serial|state][:lanes=L]``, ``ideal[:BITGEN]``, ``pcg64``, ...) where ``seed`` keeps this
    module's meaning: for an LFSR, the register's starting state (1..2**N - 1, refused
    otherwise); for an ideal source, numpy's seed.

    >>> make_source("lfsr:8:fibonacci:state", seed=5)
    LFSR(n=8, taps=(8, 6, 5, 4), form='fibonacci', rule='state', seed=0x5)
    >>> make_source("ideal:philox", seed=1)
    Ideal(Philox)
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"source must be a spec string for fxsim.make_source, like "
                         f"'lfsr:16:galois:serial' or 'ideal:pcg64', got {spec!r}")
    fields = parse_spec(spec)                    # its errors name the spec already
    if fields["kind"] == "lfsr":
        n = fields["n"]
        if not _is_int(seed) or not 1 <= seed <= (1 << n) - 1:
            raise ValueError(f"source {spec!r}: seed must be an integer in [1, 2**{n} - 1] (a "
                             f"non-zero {n}-bit register state), got {seed!r}")
    try:
        return source_spec.make_source(spec, seed)
    except ValueError as e:                      # the spec was read above: only the seed is left
        raise ValueError(f"source {spec!r}: {e}") from None


def _source_manifest(src, r: int, seed) -> dict:
    """The source's configuration and its state at the start of the vector set."""
    state = json.loads(json.dumps(src.state))     # a deep, JSON-clean copy
    if isinstance(src, LFSR):
        return {"kind": "lfsr", "n": src.n, "taps": list(src.taps), "mask": hex(src.mask),
                "form": src.form, "rule": src.rule, "r": r, "lanes": src.lanes,
                "seed": hex(state["lane_states"][0]),
                "lane_states": [hex(s) for s in state["lane_states"]],
                "draw_index": state["count"], "state": state}
    if isinstance(src, Ideal):
        return {"kind": "ideal", "bitgen": src.name, "r": r, "seed": seed, "state": state}
    kind = state.get("kind", type(src).__name__) if isinstance(state, dict) else type(src).__name__
    return {"kind": kind, "r": r, "state": state}


def _bit_source(rounding, r, eps, source, seed, source_seed):
    """(r, source, its seed) of a stochastic export: r and eps checked, a spec string made into
    a source seeded with ``source_seed`` (default ``seed``)."""
    if r is None or not _is_int(r) or not 1 <= r <= 64:
        raise ValueError(f"rounding={rounding!r} needs r, an integer in [1, 64] (random bits per draw), got {r!r}")
    if not isinstance(eps, Real) or isinstance(eps, bool) or not 0 <= eps < 1:
        raise ValueError(f"eps must be a number in [0, 1), got {eps!r}")
    if source is None:
        raise ValueError(f"rounding={rounding!r} needs a random bit source: source=fxsim.LFSR(...) "
                         "or fxsim.Ideal(...), or a spec string of fxsim.make_source such as 'lfsr:16' "
                         "or 'ideal:pcg64'")
    if isinstance(source, str):
        src_seed = seed if source_seed is None else source_seed
        return int(r), make_source(source, src_seed), src_seed     # its errors name the spec and the seed
    if not callable(getattr(source, "draws", None)):
        raise ValueError(f"source must be a bit source (with .draws(n, r)) or a spec string of "
                         f"fxsim.make_source, got {type(source).__name__}")
    return int(r), source, source_seed


# -- stimulus ----------------------------------------------------------------------------------

def _random_words(rng, f: QFormat, size) -> np.ndarray:
    if f.signed:
        w = rng.integers(f.min_raw, f.max_raw, size=size, endpoint=True, dtype=np.int64)
    else:
        w = rng.integers(0, f.max_raw, size=size, endpoint=True, dtype=np.uint64)
    return w.astype(f.dtype)


def _unique_in(words, f: QFormat) -> list:
    out, seen = [], set()
    for w in words:
        w = int(w)
        if f.min_raw <= w <= f.max_raw and w not in seen:
            seen.add(w)
            out.append(w)
    return out


def _edge_words(f: QFormat) -> list:
    """min, max, 0, -1 (signed) / 1, and the neighbours of min and max."""
    return _unique_in([f.min_raw, f.max_raw, 0, -1, 1, f.min_raw + 1, f.max_raw - 1], f)


def _tie_words(f: QFormat, out: QFormat, fl=None) -> list:
    """Raw words of ``f`` (read at fraction length ``fl``, default f.fl) that lie exactly half-way
    between two words of ``out`` (phi = 1/2), for even and odd q, around 0 and around the
    saturation points; with their exact neighbours (phi = 0) and a word either side of the tie."""
    fl = f.fl if fl is None else fl
    S = fl - out.fl
    if S < 1:
        return []
    half = 1 << (S - 1)
    qs = [0, 1, 2, 3, -1, -2, -3, -4, out.max_raw, out.max_raw - 1, out.min_raw, out.min_raw - 1,
          out.min_raw + 1, f.max_raw >> S, (f.max_raw >> S) - 1, f.min_raw >> S, (f.min_raw >> S) + 1]
    words = []
    for q in qs:
        base = q << S
        words += [base + half, base + half - 1, base + half + 1, base]
    return _unique_in(words, f)


def _as_fixed(name, x) -> FixedArray:
    if not isinstance(x, FixedArray):
        raise ValueError(f"inputs: {name} must be a FixedArray (make one with fxsim.cast(values, "
                         f"fmt) or fxsim.FixedArray(raw, fmt)), got {type(x).__name__}")
    return x


def _pair(inputs, op):
    if isinstance(inputs, dict):
        extra = set(inputs) - {"a", "b"}
        if extra or len(inputs) != 2:
            raise ValueError(f"{op}: inputs must be (a, b) or {{'a': a, 'b': b}}, got keys {sorted(inputs)}")
        a, b = inputs["a"], inputs["b"]
    elif isinstance(inputs, (tuple, list)) and len(inputs) == 2:
        a, b = inputs
    else:
        raise ValueError(f"{op}: inputs must be a pair (a, b) of FixedArrays")
    return _as_fixed("a", a), _as_fixed("b", b)


def _given_fmt(name, given, actual: QFormat):
    if given is not None and qformat(given) != actual:
        raise ValueError(f"{name}={qformat(given)} differs from the format of the given input ({actual})")


def _need_fmt(name, f, op):
    if f is None:
        raise ValueError(f"{op}: {name} is required (a QFormat or a string such as 'Q(16,12)')")
    return qformat(f)


def _check_count(count, default=DEFAULT_COUNT):
    if count is None:
        return default
    if not _is_int(count) or count < 1:
        raise ValueError(f"count must be a positive integer in [1, {EXPORT_MAX_WORDS}] (the number "
                         f"of cases; see EXPORT_MAX_WORDS), got {count!r}")
    return int(count)


def _check_dim(name, v):
    if not _is_int(v) or v < 1:
        raise ValueError(f"{name} must be a positive integer in [1, {EXPORT_MAX_WORDS}] "
                         f"(see EXPORT_MAX_WORDS), got {v!r}")
    return int(v)


def _bytes(n) -> str:
    """``n`` bytes, readable.

    >>> _bytes(512), _bytes(3 << 20), _bytes(10**30)
    ('512 B', '3.0 MiB', '8.27e+05 YiB')
    """
    if n < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"):
        n /= 1024
        if n < 1024 or unit == "YiB":
            return f"{n:.1f} {unit}" if n < 1024 else f"{n:.3g} {unit}"


def _largest(total, name, values, limit):
    """The largest value of ``name`` (>= 0) with ``total(values) <= limit``, the others as in
    ``values``; ``total`` is linear and increasing in each value."""
    at = dict(values)
    at[name] = 0
    t0 = total(at)
    at[name] = 1
    slope = total(at) - t0
    return (limit - t0) // slope if slope > 0 else (limit if t0 <= limit else -1)


def _check_size(parts, params, shown=None, macs=None):
    """Refuse an export larger than EXPORT_MAX_WORDS words in all its files (or a matmul of
    more than EXPORT_MAX_MACS multiply-accumulates) with a ``_TooLarge`` ValueError, before
    anything is drawn or written.

    ``parts(values)``: {file: words} of the export for the sizes ``values`` ({name: value});
    ``params``: [(name, value, python label, cli label)], in the order blame goes: the first
    size that can be lowered to fit (the others as given) is named with its allowed range;
    ``shown``: (python, cli) text of the parameter as passed (default: the blamed one's);
    ``macs(values)``: matmul's M*K*N.  Given inputs: ``params`` empty, the error names them."""
    values = {n: v for n, v, _, _ in params}
    total = sum(parts(values).values())
    work = macs(values) if macs else 0
    if total <= EXPORT_MAX_WORDS and work <= EXPORT_MAX_MACS:
        return
    limits = [(lambda v: sum(parts(v).values()), EXPORT_MAX_WORDS)]
    if macs:
        limits.append((macs, EXPORT_MAX_MACS))

    def largest(name, vals):
        return min(_largest(f, name, vals, lim) for f, lim in limits)
    blame = None
    for name, v, py, cli in params:
        hi = largest(name, values)
        if 1 <= hi < v:
            blame = (v, py, cli, hi, "with the other sizes as given" if len(params) > 1 else "")
            break
    if blame is None and params:          # no one size can be lowered to fit: bound the first
        name, v, py, cli = params[0]
        ones = {n: (values[n] if n == name else 1) for n in values}
        blame = (v, py, cli, max(largest(name, ones), 1), "even with the other sizes at 1")
    detail = ", ".join(f"{f}.mem {w:,}" for f, w in parts(values).items() if w)
    need = (f"the export would write {total:,} words ({detail}), about "
            f"{_bytes(total * _TEXT_BYTES_PER_WORD)} of .mem files and "
            f"{_bytes(total * _BUILD_BYTES_PER_WORD)} of memory to build")
    if macs:
        need += f", and compute {work:,} multiply-accumulates (M*K*N)"
    rule = (f"an export holds at most {EXPORT_MAX_WORDS:,} (2**24) words in all its .mem files"
            + (f" and does at most {EXPORT_MAX_MACS:,} (2**30) multiply-accumulates" if macs else "")
            + " (a test-vector set for an RTL bench)")

    def text(cli):
        if blame is None:
            return f"inputs are too large: {need}; {rule}: pass smaller inputs"
        v, py, lab, hi, how = blame
        head = shown[cli] if shown else (f"{lab} {v}" if cli else f"{py}={v}")
        return (f"{head} is too large: {need}; {rule}: {lab if cli else py} must be in [1, {hi:,}]"
                + (f" {how}" if how else ""))
    raise _TooLarge(text)


# -- export ------------------------------------------------------------------------------------

def export_vectors(folder, op, *, inputs=None, count=None, seed=1,
                   fmt=None, in_fmt=None, a_fmt=None, b_fmt=None,
                   acc=None, prod=None, K=None, shape=None,
                   rounding="nearest_even", overflow="saturate",
                   r=None, eps=0.0, v=None, sr_rule="trunc", mode=None,
                   source=None, source_seed=None, edges=True, overwrite=False,
                   bench=True) -> dict:
    """Write a test-vector folder for one fxsim operation; returns the manifest (a dict).

    op: ``cast`` (x -> y), ``add``, ``sub``, ``mul`` (a, b -> y, element-wise), ``dot`` (``count``
    independent MACs of length ``K``: a, b of shape (count, K) -> y of shape (count,)), or
    ``matmul`` (A (M, K) @ B (K, N) -> Y (M, N); ``shape=(M, K, N)``).

    Inputs: ``inputs`` (cast: a FixedArray; the others: a pair ``(a, b)`` or ``{"a": a, "b": b}``
    of FixedArrays), or else ``count`` random words per port (default 1000; matmul: from
    ``shape``) drawn uniformly over each input format's raw range from a generator seeded by
    ``seed``.  With ``edges=True`` (the default) the first cases are edge words: min, max, 0, −1
    (and pairs/rows of them), and for casts words exactly on ties of the output format.

    Formats: ``fmt`` the output format (required for cast; the others: None = fxsim's default,
    the exact full-precision format or, for dot/matmul, the accumulator's); ``in_fmt`` the input
    format of a cast, and the default of ``a_fmt``/``b_fmt``; ``acc``/``prod`` the accumulator and
    product formats of dot/matmul (None: exact).

    Float casts (spec sections 7.2, 9): ``op="cast"`` with ``fmt`` a float format (a
    ``FloatFormat`` or a name such as ``"bf16"``, ``"e4m3"``, ``"e5m2"``) and ``in_fmt`` a float
    format (``"fp32"``) or a QFormat, or ``inputs`` a ``FloatArray``: x and y hold codes, their
    port entries a ``float`` object; ``rounding`` and ``overflow`` take the float names
    (``fxsim.floatcast.FLOAT_ROUNDING``, ``FLOAT_OVERFLOW``; default overflow still
    ``"saturate"``); ``mode.mem`` and ``MODE`` when ``rtl/f32_cvt.v`` can do the cast.

    Modes as ``fxsim.cast``: ``mode`` (a ``CastMode``, or what ``CastMode.of`` takes) or the
    separate ``rounding``, ``overflow``, and for stochastic rounding ``r``, ``eps``, ``sr_rule``
    (not both); ``v`` (signed_stochastic_eps: an array of the output's shape; None:
    random signs) and ``source``: a bit source (``fxsim.LFSR``/``fxsim.Ideal``, used and advanced
    by exactly the operation's draws) or a spec string for ``make_source`` seeded with
    ``source_seed`` (default: ``seed``).  The source's configuration and starting state go to
    the manifest, its draws (spec §4 order) to ``rnd.mem``, and the expected outputs are fxsim's
    results with exactly those draws.  Deterministic modes ignore r, source and v.

    Size limit (``EXPORT_MAX_WORDS``, ``EXPORT_MAX_MACS``): the export's .mem files together
    (inputs, outputs, ``v``, ``seed`` and draws; not the bench's ``mode.mem``, one 2-bit code a
    case) hold at most 2**24 = 16,777,216 words, and a
    matmul does at most 2**30 multiply-accumulates (M*K*N).  A vector set is for an RTL bench
    that loads every file into a memory array; 2**24 words are at most ~272 MiB of text and
    ~1.6 GiB of memory while the export is built (~100 bytes a word), and a fixed budget, unlike
    the machine's free memory, accepts or refuses a call alike on every machine.  ``count``,
    ``K`` and each of ``shape`` must be integers >= 1; a larger export is a ValueError naming
    the parameter, its allowed range (the others as given) and the words and bytes it would
    need, raised before anything is drawn or the folder is created.

    ``bench`` (default True): also write what an RTL bench reads besides the ports:
    ``params.vh`` (every parameter as a ```define FXSIM_<NAME>``, see ``fxsim.bench_params``;
    the manifest's ``bench`` entry lists them) and, for a cast the unit ``rtl/sr_unit.v`` can
    do, ``mode.mem`` (its mode code for every case, port ``mode``), so ``iverilog -I rtl -I
    FOLDER`` needs no ``-P``.  ``bench=False``: the manifest and the ports' files only (a bench
    compiled with ``-DTB_DEFAULTS`` and ``-P`` overrides reads such a folder).

    ``overwrite``: replace the files of an earlier export in ``folder`` (else FileExistsError).
    Only files fxsim wrote are replaced or removed: those the folder's old ``manifest.json``
    lists, which must be fxsim's own (else FileExistsError, nothing touched); other files in
    the folder are left alone.  ``folder`` must not be a symlink, and no file is written
    through one (an existing link or non-regular file where a file goes is refused): each file
    is written to a new temporary name and renamed into place, the manifest last, so a refused
    or failed export changes nothing.

    >>> import os, tempfile
    >>> d = os.path.join(tempfile.mkdtemp(), "vec")
    >>> m = export_vectors(d, "cast", count=8, in_fmt="Q(16,12)", fmt="Q(8,4)")
    >>> m["count"], sorted(os.listdir(d))
    (8, ['manifest.json', 'mode.mem', 'params.vh', 'x.mem', 'y.mem'])
    """
    try:
        folder = os.fspath(folder)
    except TypeError:
        raise ValueError(f"folder must be a path (a str or os.PathLike), got {type(folder).__name__}") from None
    if not isinstance(folder, str) or not folder or "\0" in folder:
        raise ValueError(f"folder must be a non-empty path (a str), got {folder!r}")
    folder = folder.rstrip(os.sep + (os.altsep or "")) or folder    # 'vec/' is the folder vec itself
    if op not in OPS:
        raise ValueError(f"op must be one of {', '.join(OPS)}; got {op!r}")
    if mode is not None:
        rounding, overflow, r, eps, sr_rule = _mode_fields(mode, rounding=rounding, overflow=overflow,
                                                           r=r, eps=eps, sr_rule=sr_rule)
    if op == "cast" and _is_float_cast(inputs, in_fmt, fmt):
        for name, val in (("a_fmt", a_fmt), ("b_fmt", b_fmt), ("acc", acc), ("prod", prod),
                          ("K", K), ("shape", shape)):
            if val is not None:
                raise ValueError(f"a float cast takes in_fmt and fmt, not {name}")
        return _export_float(folder, inputs, count, seed, in_fmt, fmt, rounding, overflow, r, eps,
                             v, sr_rule, source, source_seed, edges, overwrite, bench)
    _check_names(rounding, overflow, sr_rule, seed, ROUNDING, OVERFLOW)
    mac = op in ("dot", "matmul")
    if not mac:
        for name, val in (("acc", acc), ("prod", prod), ("K", K), ("shape", shape)):
            if val is not None:
                raise ValueError(f"{name} is only used by op 'dot' and 'matmul', not {op!r}")
    if op == "cast":
        for name, val in (("a_fmt", a_fmt), ("b_fmt", b_fmt)):
            if val is not None:
                raise ValueError(f"cast takes in_fmt (its one input), not {name}")
    if op == "dot" and shape is not None:
        raise ValueError("dot takes count and K, not shape (shape is for matmul: (M, K, N))")
    stochastic = rounding in STOCHASTIC
    if stochastic:
        r, source, src_seed = _bit_source(rounding, r, eps, source, seed, source_seed)
    # the one description of the export's casts (deterministic modes ignore r and eps)
    cast_mode = CastMode(rounding, overflow, r if stochastic else None, eps if stochastic else 0,
                         sr_rule)
    fmt = None if fmt is None else qformat(fmt)
    acc = None if acc is None else qformat(acc)
    prod = None if prod is None else qformat(prod)
    rng = np.random.default_rng([_INPUT_SALT, int(seed)])
    n_edge = 0

    def per_case_of(Kd):
        """Draws per output element (spec section 4)."""
        if not stochastic:
            return 0
        if mac:
            out_cast = fmt is not None and fmt != acc
            return (Kd if prod is not None else 0) + (Kd if acc is not None else 0) + int(out_cast)
        return 1
    lanes = int(source.lanes) if stochastic and isinstance(source, LFSR) else 0

    def files_of(ins, n_out, Kd=1):
        """{file stem: words} of an export: inputs, y, and v, seed and rnd when present."""
        pc = per_case_of(Kd)
        return dict(ins, y=n_out, v=n_out if rounding == "signed_stochastic_eps" else 0,
                    seed=lanes if pc else 0, rnd=n_out * pc)

    def sized(name, v, py=None, cli=None):
        return (name, v, py or name, cli or "--" + name)

    # -- inputs ------------------------------------------------------------------------------
    if op == "cast":
        fmt = _need_fmt("fmt", fmt, op)
        if inputs is not None:
            x = _as_fixed("x", inputs["x"] if isinstance(inputs, dict) else inputs)
            _given_fmt("in_fmt", in_fmt, x.fmt)
            if x.size == 0:
                raise ValueError("inputs: x is empty")
            if count is not None and _check_count(count) != x.size:
                raise ValueError(f"count={count} differs from the number of given inputs ({x.size})")
            _check_size(lambda _: files_of({"x": x.size}, x.size), [])
            fi = x.fmt
        else:
            fi = _need_fmt("in_fmt", in_fmt, op)
            n = _check_count(count)
            _check_size(lambda s: files_of({"x": s["count"]}, s["count"]), [sized("count", n)])
            raw = _random_words(rng, fi, n)
            if edges:
                ew = _edge_words(fi)
                ties = [w for w in _tie_words(fi, fmt) if w not in ew]
                e = (ew + ties[:max(0, n // 2 - len(ew))])[:n]
                raw[:len(e)] = np.array(e, dtype=object).astype(fi.dtype)
                n_edge = len(e)
            x = FixedArray(raw, fi)
        out_shape = x.shape
        in_ports = {"x": x}
    elif op in ("add", "sub", "mul"):
        if inputs is not None:
            a, b = _pair(inputs, op)
            _given_fmt("a_fmt", a_fmt if a_fmt is not None else in_fmt, a.fmt)
            _given_fmt("b_fmt", b_fmt if b_fmt is not None else in_fmt, b.fmt)
            try:
                ra, rb = np.broadcast_arrays(a.raw, b.raw)
            except ValueError:
                raise ValueError(f"{op}: input shapes {a.shape} and {b.shape} do not broadcast") from None
            if ra.size == 0:
                raise ValueError("inputs are empty")
            if count is not None and _check_count(count) != ra.size:
                raise ValueError(f"count={count} differs from the number of given inputs ({ra.size})")
            _check_size(lambda _: files_of({"a": ra.size, "b": ra.size}, ra.size), [])
            a, b = FixedArray(ra.copy(), a.fmt), FixedArray(rb.copy(), b.fmt)
        else:
            fa = _need_fmt("a_fmt (or in_fmt)", a_fmt if a_fmt is not None else in_fmt, op)
            fb = _need_fmt("b_fmt (or in_fmt)", b_fmt if b_fmt is not None else in_fmt, op)
            n = _check_count(count)
            _check_size(lambda s: files_of({"a": s["count"], "b": s["count"]}, s["count"]),
                        [sized("count", n)])
            ra, rb = _random_words(rng, fa, n), _random_words(rng, fb, n)
            if edges:
                ea, eb = _edge_words(fa)[:4], _edge_words(fb)[:4]
                pairs = [(x, y) for x in ea for y in eb]
                if fmt is not None:       # ties of the output cast, the other operand neutral
                    if op == "mul":
                        one_b = 1 if fb.max_raw >= 1 else -1
                        one_a = 1 if fa.max_raw >= 1 else -1
                        pairs += [(t, one_b) for t in _tie_words(fa, fmt, fa.fl + fb.fl)]
                        pairs += [(one_a, t) for t in _tie_words(fb, fmt, fa.fl + fb.fl)]
                    else:
                        pairs += [(t, 0) for t in _tie_words(fa, fmt)]
                        pairs += [(0, t) for t in _tie_words(fb, fmt)]
                pairs = pairs[:max(len(ea) * len(eb), n // 2)][:n]
                ra[:len(pairs)] = np.array([p[0] for p in pairs], dtype=object).astype(fa.dtype)
                rb[:len(pairs)] = np.array([p[1] for p in pairs], dtype=object).astype(fb.dtype)
                n_edge = len(pairs)
            a, b = FixedArray(ra, fa), FixedArray(rb, fb)
        out_shape = a.shape
        in_ports = {"a": a, "b": b}
    elif op == "dot":
        if inputs is not None:
            a, b = _pair(inputs, op)
            _given_fmt("a_fmt", a_fmt if a_fmt is not None else in_fmt, a.fmt)
            _given_fmt("b_fmt", b_fmt if b_fmt is not None else in_fmt, b.fmt)
            if a.ndim == 1:
                a = a.reshape(1, -1)
            if b.ndim == 1:
                b = b.reshape(1, -1)
            if a.ndim != 2 or a.shape != b.shape:
                raise ValueError(f"dot: inputs must be two (count, K) arrays of the same shape, "
                                 f"got {a.shape} and {b.shape}")
            if K is not None and _check_dim("K", K) != a.shape[1]:
                raise ValueError(f"K={K} differs from the length of the given rows ({a.shape[1]})")
            if count is not None and _check_count(count) != a.shape[0]:
                raise ValueError(f"count={count} differs from the number of given rows ({a.shape[0]})")
            if a.size == 0:
                raise ValueError("inputs are empty")
            Kd = a.shape[1]
            _check_size(lambda _: files_of({"a": a.size, "b": b.size}, a.shape[0], Kd), [])
        else:
            fa = _need_fmt("a_fmt (or in_fmt)", a_fmt if a_fmt is not None else in_fmt, op)
            fb = _need_fmt("b_fmt (or in_fmt)", b_fmt if b_fmt is not None else in_fmt, op)
            if K is None:
                raise ValueError("dot: K (the length of each dot product) is required")
            Kd = _check_dim("K", K)
            n = _check_count(count)
            _check_size(lambda s: files_of({"a": s["count"] * s["K"], "b": s["count"] * s["K"]},
                                           s["count"], s["K"]),
                        [sized("K", Kd), sized("count", n)])
            ra, rb = _random_words(rng, fa, (n, Kd)), _random_words(rng, fb, (n, Kd))
            if edges:
                rows = _edge_rows(fa, fb, Kd, rng)[:max(4, n // 2)][:n]
                for j, (x, y) in enumerate(rows):
                    ra[j] = np.array(x, dtype=object).astype(fa.dtype)
                    rb[j] = np.array(y, dtype=object).astype(fb.dtype)
                n_edge = len(rows)
            a, b = FixedArray(ra, fa), FixedArray(rb, fb)
        out_shape = (a.shape[0],)
        in_ports = {"a": a, "b": b}
    else:  # matmul
        if inputs is not None:
            a, b = _pair(inputs, op)
            _given_fmt("a_fmt", a_fmt if a_fmt is not None else in_fmt, a.fmt)
            _given_fmt("b_fmt", b_fmt if b_fmt is not None else in_fmt, b.fmt)
            if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0] or a.size == 0 or b.size == 0:
                raise ValueError(f"matmul: inputs must be A (M, K) and B (K, N), got {a.shape} and {b.shape}")
            M, Kd, N = a.shape[0], a.shape[1], b.shape[1]
            if shape is not None and tuple(shape) not in ((M, Kd, N), (M, N)):
                raise ValueError(f"shape={tuple(shape)} differs from the given inputs ({M}, {Kd}, {N})")
            if K is not None and K != Kd:
                raise ValueError(f"K={K} differs from the given inputs (K = {Kd})")
            _check_size(lambda _: files_of({"a": a.size, "b": b.size}, M * N, Kd), [],
                        macs=lambda _: M * Kd * N)
        else:
            fa = _need_fmt("a_fmt (or in_fmt)", a_fmt if a_fmt is not None else in_fmt, op)
            fb = _need_fmt("b_fmt (or in_fmt)", b_fmt if b_fmt is not None else in_fmt, op)
            if shape is None:
                raise ValueError("matmul: shape=(M, K, N) is required (A is M×K, B is K×N)")
            try:
                shape = tuple(shape)
            except TypeError:
                shape = (shape,)
            if len(shape) == 3:
                M, Kd, N = (_check_dim(f"shape {nm} (shape[{i}])", s)
                            for i, (nm, s) in enumerate(zip("MKN", shape)))
                if K is not None and K != Kd:
                    raise ValueError(f"K={K} differs from shape {shape}")
                dims = [sized("M", M, "M of shape", "M of --shape"), sized("N", N, "N of shape", "N of --shape"),
                        sized("K", Kd, "K of shape", "K of --shape")]
                shown = (f"shape={shape}", f"--shape {','.join(map(str, shape))}")
            elif len(shape) == 2 and K is not None:
                M, N = (_check_dim(f"shape {nm} (shape[{i}])", s) for i, (nm, s) in enumerate(zip("MN", shape)))
                Kd = _check_dim("K", K)
                dims = [sized("M", M, "M of shape", "M of --shape"), sized("N", N, "N of shape", "N of --shape"),
                        sized("K", Kd)]
                shown = (f"shape={shape} with K={Kd}", f"--shape {','.join(map(str, shape))} --K {Kd}")
            else:
                given = ",".join(map(str, shape))
                raise _ShapeError(lambda cli: (
                    f"--shape must be M,K,N (or M,N with --K), positive integers each in "
                    f"[1, {EXPORT_MAX_WORDS}]; got {given}" if cli
                    else f"matmul: shape must be (M, K, N) (or (M, N) with K=), positive integers "
                    f"each in [1, {EXPORT_MAX_WORDS}], got {shape}"))
            _check_size(lambda s: files_of({"a": s["M"] * s["K"], "b": s["K"] * s["N"]},
                                           s["M"] * s["N"], s["K"]),
                        dims, shown, macs=lambda s: s["M"] * s["K"] * s["N"])
            ra, rb = _random_words(rng, fa, (M, Kd)), _random_words(rng, fb, (Kd, N))
            if edges:
                # extreme rows of A and columns of B: every output (i < 2 or j < 2) meets them
                for i, (x, y) in enumerate(_edge_rows(fa, fb, Kd, rng)[:min(M, N, 4)]):
                    ra[i] = np.array(x, dtype=object).astype(fa.dtype)
                    rb[:, i] = np.array(y, dtype=object).astype(fb.dtype)
                    n_edge += 1
            a, b = FixedArray(ra, fa), FixedArray(rb, fb)
        if count is not None and _check_count(count) != M * N:
            raise ValueError(f"count={count} differs from M*N = {M * N} (matmul exports one product)")
        out_shape = (M, N)
        in_ports = {"a": a, "b": b}

    n_out = int(np.prod(out_shape, dtype=np.int64))

    # -- draws -------------------------------------------------------------------------------
    per_case = per_case_of(Kd if mac else 1)
    vsign = None
    if stochastic and rounding == "signed_stochastic_eps":
        if v is None:
            vsign = rng.integers(-1, 1, size=out_shape, endpoint=True).astype(np.int8)
        else:
            va = v.to_float() if isinstance(v, FixedArray) else np.asarray(v, dtype=np.float64)
            if va.shape != tuple(out_shape):
                try:
                    va = np.broadcast_to(va, out_shape)
                except ValueError:
                    raise ValueError(f"v has shape {va.shape}, expected the output's shape {tuple(out_shape)}") from None
            if np.isnan(va).any():
                raise ValueError("v contains NaN")
            vsign = np.sign(va).astype(np.int8)
    src_info = {"kind": "none"}
    draws = None
    if stochastic and per_case:
        src_info = _source_manifest(source, r, src_seed)
        draws = np.ascontiguousarray(source.draws(n_out * per_case, r), dtype=np.uint64)
    elif stochastic:
        src_info = {"kind": "none", "note": "no cast of this operation rounds (prod and acc exact, "
                    "no output cast): nothing is drawn"}

    # -- the operation (fxsim, with exactly the recorded draws) ------------------------------
    kw = {"mode": cast_mode}
    if vsign is not None:
        kw["v"] = vsign
    with Counters() as cnt:
        if op == "cast":
            y = _ops.cast(in_ports["x"], fmt, draws=draws, **kw)
        elif op in ("add", "sub", "mul"):
            y = getattr(_ops, op)(a, b, fmt, draws=draws, **kw)
        elif op == "matmul":
            y = _ops.matmul(a, b, acc=acc, prod=prod, fmt=fmt, draws=draws, **kw)
        else:
            y = _dot_rows(a, b, acc, prod, fmt, draws, per_case, vsign, kw)
    stats = _stats(cnt)
    total_draws = sum(s["draws"] for s in stats.values())
    if total_draws != (0 if draws is None else draws.size):
        raise RuntimeError(f"fxsim consumed {total_draws} draws, the exporter wrote "
                           f"{0 if draws is None else draws.size}; please report this")

    # -- files -------------------------------------------------------------------------------
    code = _bench.sr_unit_mode(_modes_json(cast_mode)) if bench and op == "cast" else None
    ports = _all_ports(in_ports, vsign, src_info, code, 2, y)
    head = {"operation": op, "count": n_out,
            "formats": {p: _fmt_json(arr.fmt) for p, arr in ports.items() if p not in ("seed", "mode")},
            "modes": _modes_json(cast_mode), "source": src_info}
    if mac:   # the casts of spec section 4; null = absent (exact product / accumulator, no output cast)
        head["formats"]["prod"] = None if prod is None else _fmt_json(prod)
        head["formats"]["acc"] = None if acc is None else _fmt_json(acc)
        head["formats"]["out"] = _fmt_json(fmt) if fmt is not None and fmt != acc else None
    tail = {"K": Kd if mac else None,
            "shape": [int(s) for s in out_shape] if not mac
            else ([n_out, Kd] if op == "dot" else [int(out_shape[0]), Kd, int(out_shape[1])]),
            "generator": {"inputs": "given" if inputs is not None else "random", "seed": int(seed),
                          "edge_cases": n_edge},
            "stats": stats}
    manifest = _write_export(folder, head, ports, draws, r, per_case, _DRAW_ORDER, tail, bench, overwrite)
    return manifest


def _check_names(rounding, overflow, sr_rule, seed, roundings, overflows, what=""):
    for name, val, allowed in (("rounding", rounding, roundings), ("overflow", overflow, overflows),
                               ("sr_rule", sr_rule, SR_RULES)):
        if val not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}{what if name != 'sr_rule' else ''}; "
                             f"got {val!r}")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _stats(cnt) -> dict:
    """The manifest's ``stats``: the counters of the export's casts, per role."""
    stats = {}
    for rec in cnt.records:
        st = stats.setdefault(rec.role, {"cast": 0, "inexact": 0, "rounded_up": 0, "overflowed": 0, "draws": 0})
        for k in st:
            st[k] += getattr(rec, k)
    return stats


def _all_ports(in_ports, vsign, src_info, code, mode_bits, y) -> dict:
    """The export's ports: the inputs, v (signed_stochastic_eps), seed (an LFSR source's lane
    states), mode (the RTL unit's mode code, ``code`` not None) and y."""
    ports = dict(in_ports)
    n_out = int(y.size)
    if vsign is not None:
        ports["v"] = FixedArray(vsign, V_FMT)
    if src_info.get("kind") == "lfsr":
        ports["seed"] = FixedArray(np.array([int(t, 16) for t in src_info["lane_states"]], dtype=np.uint64),
                                   QFormat(src_info["n"], 0, False))
    if code is not None:
        ports["mode"] = FixedArray(np.full(n_out, code, dtype=np.uint8), QFormat(mode_bits, 0, False))
    ports["y"] = y
    return ports


def _write_export(folder, head, ports, draws, r, per_case, order, tail, bench, overwrite) -> dict:
    """Write an export: every port's .mem file, rnd.mem (draws), params.vh (bench) and the
    manifest (``head``, the ports and draws, ``tail``), the manifest last; returns it."""
    files = {p + ".mem" for p in ports} | ({DRAWS + ".mem"} if draws is not None else set())
    if bench:
        files.add(_bench.HEADER)
    stale = _plan_folder(folder, files | {MANIFEST}, overwrite)   # refusals: before any write
    contents = {}
    manifest = dict({"fxsim_vectors": VERSION}, **head, ports={}, draws={})
    for p, arr in ports.items():
        contents[p + ".mem"] = _mem_text(arr.to_hex())
        manifest["ports"][p] = dict(_any_json(arr.fmt), file=p + ".mem", dir="out" if p == "y" else "in",
                                    words=int(arr.size), shape=list(arr.shape))
    if draws is not None:
        contents[DRAWS + ".mem"] = _mem_text(FixedArray(draws, QFormat(r, 0, False)).to_hex())
        manifest["draws"][DRAWS] = {"file": DRAWS + ".mem", "r": r, "words": int(draws.size),
                                    "per_case": per_case, "order": order}
    from . import __version__
    manifest.update(tail, fxsim_version=__version__)
    if bench:
        params = _bench.params_of(manifest)
        manifest["bench"] = {"header": _bench.HEADER, "params": params}
        contents[_bench.HEADER] = _bench.header_text(params, os.path.basename(folder))
    contents[MANIFEST] = json.dumps(manifest, indent=2, sort_keys=True) + "\n"     # written last
    _write_files(folder, contents, stale)
    return manifest


_CAST_KEYWORDS = {"rounding": "nearest_even", "overflow": "saturate", "r": None, "eps": 0.0,
                  "sr_rule": "trunc"}


def _mode_fields(mode, **keywords) -> tuple:
    """(rounding, overflow, r, eps, sr_rule) of ``mode=``; a separate keyword that is not at
    its default as well is refused (the call says the cast twice)."""
    given = [k for k, v in keywords.items() if v != _CAST_KEYWORDS[k]]
    if given:
        raise ValueError(f"pass either mode= or {', '.join(k + '=' for k in given)}, not both")
    try:
        m = CastMode.of(mode)
    except ValueError as e:
        raise ValueError(f"mode: {e}") from None
    return m.rounding, m.overflow, m.r, m.eps, m.sr_rule


def _modes_json(m: CastMode) -> dict:
    """The manifest's ``modes`` object: E = floor(eps·2^r) for the *_eps roundings."""
    eps_mode = m.rounding in ("stochastic_eps", "signed_stochastic_eps")
    return {"rounding": m.rounding, "overflow": m.overflow, "sr_rule": m.sr_rule, "r": m.r,
            "eps": float(m.eps) if eps_mode else 0.0,
            "E": math.floor(Fraction(m.eps) * 2**m.r) if eps_mode else 0}


def _edge_rows(fa: QFormat, fb: QFormat, K: int, rng) -> list:
    """Rows (a, b) of length K with extreme operands: constant extremes, and runs that push a
    saturating accumulator one way and then pull it back (so the order of saturation shows)."""
    def full(v):
        return [v] * K
    am, aM, bm, bM = fa.min_raw, fa.max_raw, fb.min_raw, fb.max_raw
    a1 = -1 if fa.signed else 1
    b1 = -1 if fb.signed else 1
    h = max(1, K // 2)
    rows = [(full(aM), full(bM)), (full(am), full(bm)), (full(aM), full(bm)), (full(am), full(bM)),
            (full(0), full(0)), (full(a1), full(b1)),
            (full(aM), [bM] * h + [bm] * (K - h)), (full(aM), [bm] * h + [bM] * (K - h)),
            (full(am), [bm] * h + [int(w) for w in _random_words(rng, fb, K - h)])]
    return rows


def _dot_rows(a, b, acc, prod, fmt, draws, per_case, vsign, kw):
    """count independent dots, row j of a with row j of b, each taking its own slice of the
    draws (dot j's draws follow dot j-1's: the output elements in C order)."""
    n = a.shape[0]
    outs = []
    out_fmt = None
    for j in range(n):
        d = None if draws is None else draws[j * per_case:(j + 1) * per_case]
        kwj = dict(kw)
        if vsign is not None:
            kwj["v"] = vsign[j]
        y = _ops.dot(a[j], b[j], acc=acc, prod=prod, fmt=fmt, draws=d, **kwj)
        out_fmt = y.fmt
        outs.append(y.raw)
    return FixedArray(np.array(outs, dtype=out_fmt.dtype), out_fmt)


# -- float casts (spec section 9) --------------------------------------------------------------

def _float_fmt(f):
    """``f`` as a FloatFormat when it names one (a FloatFormat, or a name such as 'bf16',
    'e4m3', 'E5M10' that is not a QFormat string), else None."""
    if isinstance(f, FloatFormat):
        return f
    if isinstance(f, str):
        try:
            qformat(f)
            return None
        except ValueError:
            pass
        try:
            return FloatFormat.parse(f)
        except ValueError:
            return None
    return None


def _is_float_cast(inputs, in_fmt, fmt) -> bool:
    x = inputs["x"] if isinstance(inputs, dict) and "x" in inputs else inputs
    return isinstance(x, FloatArray) or _float_fmt(in_fmt) is not None or _float_fmt(fmt) is not None


def _float_json(f: FloatFormat) -> dict:
    return {"wl": f.nbits, "fl": 0, "signed": False,
            "float": {"name": f.name, "exp_bits": f.exp_bits, "man_bits": f.man_bits, "bias": f.bias,
                      "subnormals": f.subnormals, "nonfinite": f.nonfinite}}


def _any_json(f) -> dict:
    return _float_json(f) if isinstance(f, FloatFormat) else _fmt_json(f)


def _float_edges(fo: FloatFormat) -> np.ndarray:
    """Values of the rounding cases of ``fo``: ±0, the smallest subnormal, half of it and 1.5
    times it (ties), ties above 1 with even and odd q, the largest value, the overflow
    boundary (max + half an ulp) and a bit above it, ±inf and NaN; as float64."""
    ulp_max = 2.0 ** (fo.emax - fo.man_bits)
    e = fo.eps
    v = [0.0, fo.min_subnormal, fo.min_subnormal / 2, 1.5 * fo.min_subnormal, fo.min_normal,
         1 + e / 2, 1 + 1.5 * e, 1 + e / 4, 1 + 0.75 * e, fo.max, fo.max + ulp_max / 2,
         fo.max + ulp_max / 4, fo.max + 0.75 * ulp_max, 2 * fo.max]
    v = v + [-a for a in v] + [np.inf, -np.inf, np.nan]
    return np.array(v, dtype=np.float64)


def _float_inputs(rng, fi, fo: FloatFormat, n, edges):
    """n input codes of the float format ``fi`` (or words of the QFormat ``fi``): edge cases
    first, then half random bit patterns, half values near ``fo``'s range; with the number of
    edge cases."""
    if isinstance(fi, QFormat):
        raw = _random_words(rng, fi, n)
        ew = _edge_words(fi)[:n] if edges else []
        raw[:len(ew)] = np.array(ew, dtype=object).astype(fi.dtype)
        return FixedArray(raw, fi), len(ew)
    from .floatcast import cast_float
    half = n // 2
    codes = rng.integers(0, 1 << fi.nbits, size=n - half, dtype=np.uint64)
    near = rng.standard_normal(half) * 2.0 ** rng.integers(fo.emin - fo.man_bits - 2, fo.emax + 3, half)
    near = cast_float(near, fi, "nearest_even", "saturate").raw
    raw = np.concatenate([near.astype(np.uint64), codes])
    n_edge = 0
    if edges:
        ev = _float_edges(fo)
        if not fi.has_nan:
            ev = ev[~np.isnan(ev)]
        ec = cast_float(ev, fi, "nearest_even", "ieee" if fi.has_inf else "saturate").raw.astype(np.uint64)[:n]
        raw[:ec.size] = ec
        n_edge = int(ec.size)
    if not fo.has_nan and fi.has_nan:      # a NaN has no code in fo: refused by the cast
        nan = np.isnan(FloatArray(raw.astype(fi.dtype), fi).to_float())
        raw[nan] = 0
    return FloatArray(raw.astype(fi.dtype), fi), n_edge


def float_stimulus(in_fmt, out_fmt, count, seed=1):
    """``count`` inputs of a cast into the float format ``out_fmt``, as export_vectors draws
    them (a FloatArray of ``in_fmt`` codes, or a FixedArray of a QFormat ``in_fmt``): the
    rounding cases of ``out_fmt`` first (±0, subnormal ties, ties above 1 with q even and odd,
    max, the overflow boundary, ±inf, NaN), then half values near its range, half random codes.

    >>> x = float_stimulus("fp32", "e5m2", 100)
    >>> x.fmt, x.to_float()[:4].tolist()
    (FloatFormat('fp32'), [0.0, 1.52587890625e-05, 7.62939453125e-06, 2.288818359375e-05])
    """
    fo = _float_fmt(out_fmt)
    if fo is None:
        raise ValueError(f"out_fmt must be a float format (a FloatFormat or a name such as 'bf16'), got {out_fmt!r}")
    fi = _float_fmt(in_fmt) or qformat(in_fmt)
    n = _check_count(count)
    return _float_inputs(np.random.default_rng([_INPUT_SALT, int(seed)]), fi, fo, n, True)[0]


def _export_float(folder, inputs, count, seed, in_fmt, fmt, rounding, overflow, r, eps, v,
                  sr_rule, source, source_seed, edges, overwrite, bench):
    """export_vectors for a cast into or out of a float format (spec section 9)."""
    rounding = {"jam": "round_to_odd"}.get(rounding, rounding)
    _check_names(rounding, overflow, sr_rule, seed, FLOAT_ROUNDING, FLOAT_OVERFLOW, " for a float cast")
    fo = _float_fmt(fmt)
    if fo is None:
        raise ValueError(f"fmt must be a float format (a FloatFormat or a name such as 'bf16', 'e4m3', "
                         f"'e5m2', 'E5M10') for a cast from a float input; got {fmt!r} (casts from "
                         "float formats into fixed point are not exported)")
    stochastic = rounding in FLOAT_STOCHASTIC
    src_seed = None
    if stochastic:
        r, source, src_seed = _bit_source(rounding, r, eps, source, seed, source_seed)
    rng = np.random.default_rng([_INPUT_SALT, int(seed)])
    lanes = int(source.lanes) if stochastic and isinstance(source, LFSR) else 0
    eps_mode = rounding in ("stochastic_eps", "signed_stochastic_eps")

    def files_of(n):
        return {"x": n, "y": n, "v": n if rounding == "signed_stochastic_eps" else 0,
                "seed": lanes, "rnd": n if stochastic else 0}
    if inputs is not None:
        x = inputs["x"] if isinstance(inputs, dict) else inputs
        if not isinstance(x, (FloatArray, FixedArray)):
            raise ValueError(f"inputs: x must be a FloatArray or a FixedArray, got {type(x).__name__}")
        if in_fmt is not None and (_float_fmt(in_fmt) or qformat(in_fmt)) != x.fmt:
            raise ValueError(f"in_fmt={in_fmt} differs from the format of the given input ({x.fmt})")
        if x.size == 0:
            raise ValueError("inputs: x is empty")
        if count is not None and _check_count(count) != x.size:
            raise ValueError(f"count={count} differs from the number of given inputs ({x.size})")
        _check_size(lambda _: files_of(x.size), [])
        n_edge = 0
    else:
        if in_fmt is None:
            raise ValueError("cast: in_fmt is required (a float format such as 'fp32', or a QFormat)")
        fi = _float_fmt(in_fmt) or qformat(in_fmt)
        n = _check_count(count)
        _check_size(lambda s_: files_of(s_["count"]), [("count", n, "count", "--count")])
        x, n_edge = _float_inputs(rng, fi, fo, n, edges)
    n_out = int(x.size)
    vsign = None
    if rounding == "signed_stochastic_eps":
        if v is None:
            vsign = rng.integers(-1, 1, size=x.shape, endpoint=True).astype(np.int8)
        else:
            vsign = np.sign(np.broadcast_to(np.asarray(v.to_float() if hasattr(v, "to_float") else v,
                                                       dtype=np.float64), x.shape)).astype(np.int8)
    src_info, draws = {"kind": "none"}, None
    if stochastic:
        src_info = _source_manifest(source, r, src_seed)
        draws = np.ascontiguousarray(source.draws(n_out, r), dtype=np.uint64)
    kw = dict(r=r, eps=eps, sr_rule=sr_rule, draws=draws) if stochastic else {}
    if vsign is not None:
        kw["v"] = vsign
    with Counters() as cnt:
        y = _ops.cast(x, fo, rounding, overflow, **kw)
    stats = _stats(cnt)
    modes = {"rounding": rounding, "overflow": overflow, "sr_rule": sr_rule,
             "r": r if stochastic else None, "eps": float(eps) if eps_mode else 0.0,
             "E": math.floor(Fraction(eps) * 2**r) if eps_mode else 0}
    code = _bench.f32_unit_mode(modes, _any_json(x.fmt), _float_json(fo)) if bench else None
    ports = _all_ports({"x": x}, vsign, src_info, code, 1, y)
    head = {"operation": "cast", "count": n_out,
            "formats": {p: _any_json(a.fmt) for p, a in ports.items() if p not in ("seed", "mode")},
            "modes": modes, "source": src_info}
    tail = {"K": None, "shape": [int(t) for t in x.shape],
            "generator": {"inputs": "given" if inputs is not None else "random", "seed": int(seed),
                          "edge_cases": n_edge},
            "stats": stats}
    manifest = _write_export(folder, head, ports, draws, r, 1, "output elements in C order", tail,
                             bench, overwrite)
    return manifest


# -- folders from outside: names, files, errors ------------------------------------------------

MAX_WORDS = 1 << 32                  # words of one port or draw stream (and count)
_MAX_MANIFEST_BYTES = 16 << 20
_MAX_DEPTH = 16                      # nesting of the manifest's objects and lists
_MAX_LINE = 1 << 16                  # characters of one .mem line
_FXSIM_PORTS = ("x", "a", "b", "y", "v", "seed", "mode")   # the only ports fxsim writes (+ draws "rnd")
_FXSIM_FILES = frozenset([p + ".mem" for p in _FXSIM_PORTS] + [DRAWS + ".mem", MANIFEST, _bench.HEADER])
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,254}$")
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_MISSING = object()


class _Hinted:
    """An error whose text names an option the way its caller spells it: ``str(e)`` for Python
    (``overwrite=True``, ``port=``), ``e.cli_message`` for the command line (``--force``,
    ``--port``).  ``text(cli)`` builds either."""

    def __init__(self, text):
        self._text = text
        super().__init__(text(False))

    def __str__(self):
        return self._text(False)

    @property
    def cli_message(self):
        return self._text(True)


class _FolderInUse(_Hinted, FileExistsError):
    pass


class _PortUnknown(_Hinted, ValueError):
    pass


class _TooLarge(_Hinted, ValueError):
    """An export over the size limit (EXPORT_MAX_WORDS, EXPORT_MAX_MACS); names ``count=`` /
    ``--count`` and so on."""


class _ShapeError(_Hinted, ValueError):
    pass


def cli_text(e) -> str:
    """The one-line CLI text of a user error raised here.

    >>> cli_text(ValueError("count: must be   in [1, 16777216]"))
    'count: must be in [1, 16777216]'
    """
    msg = getattr(e, "cli_message", None) or str(e)
    return " ".join(msg.split())


def _short(v) -> str:
    s = repr(v)
    return s if len(s) <= 40 else s[:37] + "..."


def _kind(v) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null", int: "a number", float: "a number"}.get(type(v), type(v).__name__)


def _keypath(path) -> str:
    out = ""
    for k in path:
        out += f"[{k}]" if isinstance(k, int) else (("." if out else "") + str(k))
    return out


class _Obj(dict):
    """A JSON object as decoded, with the keys it held more than once."""
    __slots__ = ("dups",)


def _pairs(pairs):
    d = _Obj()
    d.dups = []
    for k, v in pairs:
        if k in d:
            d.dups.append(k)
        d[k] = v
    return d


def _plain(v, path, where):
    """Plain dicts and lists of the decoded JSON; refuses duplicate keys and deep nesting."""
    if isinstance(v, (dict, list)):
        if len(path) >= _MAX_DEPTH:
            raise ValueError(f"{where}: nested too deeply (more than {_MAX_DEPTH} levels at "
                             f"'{_keypath(path)}')")
        if isinstance(v, dict):
            if getattr(v, "dups", None):
                raise ValueError(f"{where}: duplicate key '{_keypath(path + [v.dups[0]])}'")
            return {k: _plain(x, path + [k], where) for k, x in v.items()}
        return [_plain(x, path + [i], where) for i, x in enumerate(v)]
    return v


def _no_constant(c):
    raise ValueError(f"{c} is not a JSON number")


def _open_inside(folder, name, what):
    """A binary file object of ``name`` in ``folder``: a plain name, a regular file inside the
    folder (not a symlink, device or FIFO); ``what`` leads every error message."""
    real = os.path.realpath(folder)
    path = os.path.join(real, name)
    shown = os.path.join(os.fspath(folder), name)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise ValueError(f"{what} names {name!r}, which is not in {folder}") from None
    except OSError as e:
        raise ValueError(f"{what}: cannot read {shown} ({e.strerror})") from None
    if stat.S_ISLNK(st.st_mode):
        raise ValueError(f"{what} names {name!r}, which is a symlink: a vector folder's files are "
                         f"read only inside it, never through a link ({shown})")
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{what} names {name!r}, which is not a regular file ({shown})")
    if os.path.commonpath([real, os.path.realpath(path)]) != real:   # pragma: no cover (a plain name)
        raise ValueError(f"{what} names {name!r}, which is outside {folder}")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
                     | _O_CLOEXEC)
    except OSError as e:
        raise ValueError(f"{what}: cannot read {shown} ({e.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):                     # swapped in since the lstat
        os.close(fd)
        raise ValueError(f"{what} names {name!r}, which is not a regular file ({shown})")
    return os.fdopen(fd, "rb")


class _Schema:
    """Checks of one manifest's keys; every error names the manifest and the key path."""

    def __init__(self, where):
        self.where = where

    def err(self, msg):
        return ValueError(f"{self.where}: {msg}")

    def obj(self, parent, key, path, optional=False):
        v = parent.get(key, _MISSING)
        if v is _MISSING:
            if optional:
                return {}
            raise self.err(f"'{path}' is missing (an object)")
        if not isinstance(v, dict):
            raise self.err(f"'{path}' must be an object, got {_kind(v)} {_short(v)}")
        return v

    def int_(self, parent, key, path, lo, hi, optional=False):
        v = parent.get(key, _MISSING)
        if v is _MISSING:
            if optional:
                return None
            raise self.err(f"'{path}' is missing (an integer in [{lo}, {hi}])")
        if not _is_int(v) or not lo <= v <= hi:
            raise self.err(f"'{path}' must be an integer in [{lo}, {hi}], got {_short(v)}")
        return v

    def bool_(self, parent, key, path):
        v = parent.get(key, _MISSING)
        if v is _MISSING:
            raise self.err(f"'{path}' is missing (true or false)")
        if not isinstance(v, bool):
            raise self.err(f"'{path}' must be true or false, got {_short(v)}")
        return v

    def file(self, parent, path):
        v = parent.get("file", _MISSING)
        if v is _MISSING:
            raise self.err(f"'{path}' is missing (the entry's file name)")
        if (not isinstance(v, str) or not _FILE.match(v) or ".." in v or v == MANIFEST):
            raise self.err(f"'{path}' must be a plain file name inside the folder (letters, digits, "
                           f"'_', '.', '-', '+'; no '/', '\\', '..' or device), got {_short(v)}")
        return v

    def names(self, group, path):
        for k in group:
            if not _NAME.match(k):
                raise self.err(f"'{path}' has an entry named {_short(k)}; names are identifiers "
                               "(letters, digits, '_'; at most 64)")


def _float_of_entry(f: dict) -> FloatFormat:
    return FloatFormat(f["exp_bits"], f["man_bits"], bias=f["bias"], subnormals=f["subnormals"],
                       nonfinite=f["nonfinite"])


def _check_float_entry(S, info, p):
    """A port's ``float`` entry (a folder from outside): the format's fields, a format fxsim
    can make, whose codes are the port's ``wl`` bits, unsigned."""
    fl = S.obj(info, "float", p + ".float")
    e = S.int_(fl, "exp_bits", p + ".float.exp_bits", 1, 11)
    m = S.int_(fl, "man_bits", p + ".float.man_bits", 0, 52)
    S.int_(fl, "bias", p + ".float.bias", -1100, 1100)
    S.bool_(fl, "subnormals", p + ".float.subnormals")
    if fl.get("nonfinite") not in ("ieee", "fn", "none"):
        raise S.err(f"'{p}.float.nonfinite' must be 'ieee', 'fn' or 'none', got {_short(fl.get('nonfinite'))}")
    try:
        _float_of_entry(fl)
    except ValueError as err:
        raise S.err(f"'{p}.float': {err}") from None
    if info["wl"] != 1 + e + m or info["signed"] or info.get("fl", 0) != 0:
        raise S.err(f"'{p}' holds codes of a float format of {1 + e + m} bits: 'wl' must be {1 + e + m}, "
                    f"'signed' false and 'fl' 0, got {info['wl']}, {info['signed']}, {info.get('fl', 0)}")


def _load_manifest(folder, check_files=True, fxsim_only=False) -> dict:
    """The manifest of a vector folder, validated: a JSON object (no duplicate keys, at most
    16 levels deep) of version 1 with well-typed ``count``, ``ports`` and ``draws`` entries
    whose files are plain names of regular files inside the folder (``check_files``: and
    exist).  ``fxsim_only``: also refuse a manifest fxsim did not write (the check before
    ``overwrite=True`` removes anything).  Raises ValueError naming the key."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ValueError(f"{folder} is not a folder (a test-vector folder holds {MANIFEST} and .mem files)")
    where = os.path.join(folder, MANIFEST)
    if not os.path.lexists(where):
        raise ValueError(f"{folder} has no {MANIFEST}: not an fxsim test-vector folder")
    with _open_inside(folder, MANIFEST, where) as fh:
        raw = fh.read(_MAX_MANIFEST_BYTES + 1)
    if len(raw) > _MAX_MANIFEST_BYTES:
        raise ValueError(f"{where}: larger than {_MAX_MANIFEST_BYTES >> 20} MiB: not a vector manifest")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{where}: not UTF-8 text (byte {e.start})") from None
    try:
        m = json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"{where}: nested too deeply (more than {_MAX_DEPTH} levels)") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not valid JSON ({e.msg}, line {e.lineno} column {e.colno})") from None
    except ValueError as e:
        raise ValueError(f"{where}: not valid JSON ({e})") from None
    if not isinstance(m, dict):
        raise ValueError(f"{where}: the manifest must be a JSON object (keys such as "
                         f"'fxsim_vectors', 'count', 'ports'), got {_kind(m)}")
    m = _plain(m, [], where)
    S = _Schema(where)
    v = m.get("fxsim_vectors", _MISSING)
    if v is _MISSING:
        raise S.err("'fxsim_vectors' is missing: not an fxsim test-vector manifest")
    if not _is_int(v) or v != VERSION:
        raise S.err(f"'fxsim_vectors' must be {VERSION} (the layout version this fxsim reads), got {_short(v)}")
    if not isinstance(m.get("operation", _MISSING), str):
        raise S.err("'operation' is missing" if "operation" not in m else
                    f"'operation' must be a string, got {_kind(m['operation'])} {_short(m['operation'])}")
    S.int_(m, "count", "count", 1, MAX_WORDS)
    for key in ("formats", "modes", "source"):
        S.obj(m, key, key, optional=True)
    ports = S.obj(m, "ports", "ports")
    if not ports:
        raise S.err("'ports' names no port")
    draws = S.obj(m, "draws", "draws", optional=True)
    S.names(ports, "ports")
    S.names(draws, "draws")
    for name, info in ports.items():
        p = f"ports.{name}"
        info = S.obj(ports, name, p)
        S.file(info, p + ".file")
        if info.get("dir", _MISSING) not in ("in", "out"):
            raise S.err(f"'{p}.dir' is missing ('in' or 'out')" if "dir" not in info else
                        f"'{p}.dir' must be 'in' or 'out', got {_short(info['dir'])}")
        S.int_(info, "wl", p + ".wl", 1, 64)
        S.int_(info, "fl", p + ".fl", -256, 256, optional=True)
        S.bool_(info, "signed", p + ".signed")
        if "float" in info:
            _check_float_entry(S, info, p)
        words = S.int_(info, "words", p + ".words", 1, MAX_WORDS)
        if "shape" in info:
            shape = info["shape"]
            if (not isinstance(shape, list) or len(shape) > 8
                    or not all(_is_int(d) and 1 <= d <= MAX_WORDS for d in shape)):
                raise S.err(f"'{p}.shape' must be a list of at most 8 positive integers, got {_short(shape)}")
            if math.prod(shape) != words:
                raise S.err(f"'{p}.shape' {shape} holds {math.prod(shape)} words, '{p}.words' says {words}")
    for name, info in draws.items():
        p = f"draws.{name}"
        info = S.obj(draws, name, p)
        S.file(info, p + ".file")
        S.int_(info, "r", p + ".r", 1, 64)
        S.int_(info, "words", p + ".words", 1, MAX_WORDS)
        S.int_(info, "per_case", p + ".per_case", 0, MAX_WORDS, optional=True)
        if name in ports:
            raise S.err(f"'{p}' has the name of a port (ports and draws are read into one dict)")
    bench = S.obj(m, "bench", "bench", optional=True)
    if bench:
        S.file({"file": bench.get("header", _MISSING)} if "header" in bench else {}, "bench.header")
        _bench.check_params(bench.get("params", {}), where)
    if fxsim_only:
        if bench and bench["header"] != _bench.HEADER:
            raise S.err(f"'bench.header' is {bench['header']!r}; fxsim writes {_bench.HEADER}")
        for key in ("fxsim_version", "generator"):
            if key not in m:
                raise S.err(f"'{key}' is missing (fxsim writes it)")
        for group, allowed in (("ports", _FXSIM_PORTS), ("draws", (DRAWS,))):
            for name, info in m[group].items():
                if name not in allowed:
                    raise S.err(f"'{group}.{name}': fxsim writes no such {group[:-1]}")
                if info["file"] != name + ".mem":
                    raise S.err(f"'{group}.{name}.file' is {info['file']!r}; fxsim writes {name}.mem")
    if check_files:
        for group in ("ports", "draws"):
            for name, info in m[group].items():
                _open_inside(folder, info["file"], f"{where}: '{group}.{name}.file'").close()
        if bench:
            _open_inside(folder, bench["header"], f"{where}: 'bench.header'").close()
    return m


# -- writing -----------------------------------------------------------------------------------

def _plan_folder(folder, files, overwrite):
    """Check, with no side effect, that ``folder`` may take ``files`` (plain names); returns the
    files of an earlier fxsim export to remove (``overwrite``).  Refused: ``folder`` a symlink
    or not a folder; a file to write that exists as a symlink or non-regular file; without
    ``overwrite``, any file to write that exists; with it, an old manifest that is not
    fxsim's, or an existing file it does not list."""
    shown = folder
    if os.path.islink(folder):
        raise FileExistsError(f"{shown} is a symlink (to {os.readlink(folder)}); fxsim writes only into "
                              "a real folder, never through a link: pass the folder itself")
    if not os.path.lexists(folder):
        up = os.path.dirname(os.path.abspath(folder))
        while not os.path.lexists(up):
            up = os.path.dirname(up)
        if not os.path.isdir(up):
            raise FileExistsError(f"cannot create {shown}: {up} is not a folder")
        return []
    if not os.path.isdir(folder):
        raise FileExistsError(f"{shown} exists and is not a folder")

    def kind(name):
        try:
            st = os.lstat(os.path.join(folder, name))
        except FileNotFoundError:
            return None
        return "a symlink" if stat.S_ISLNK(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) \
            else "not a regular file"

    present = {f: k for f in set(files) | (_FXSIM_FILES if overwrite else set())
               if (k := kind(f)) is not None}
    for f in sorted(files):
        if present.get(f, "file") != "file":
            raise FileExistsError(f"{os.path.join(shown, f)} is {present[f]}; fxsim never writes "
                                  "through one: remove it yourself or choose another folder")
    clash = sorted(f for f in files if f in present)
    if not clash:
        return []
    if not overwrite:
        raise _FolderInUse(lambda cli: f"{shown} already holds {', '.join(clash)}; "
                           f"{'use --force' if cli else 'pass overwrite=True'} to replace an earlier export")
    opt = {False: "overwrite=True", True: "--force"}
    old = set()
    if MANIFEST in present:
        try:
            m = _load_manifest(folder, check_files=False, fxsim_only=True)
        except ValueError as e:
            reason = str(e)
            raise _FolderInUse(lambda cli: f"refusing to replace files in {shown}: it is not an earlier "
                               f"fxsim export ({reason}); {opt[cli]} replaces only files fxsim wrote: remove "
                               "them yourself or choose another folder") from None
        old = {i["file"] for i in list(m["ports"].values()) + list(m["draws"].values())} | {MANIFEST}
        if m.get("bench"):
            old.add(m["bench"]["header"])
    for f in clash:
        if f not in old:
            raise _FolderInUse(lambda cli: f"{os.path.join(shown, f)} was not written by fxsim (no "
                               f"{MANIFEST} of an earlier export lists it); {opt[cli]} replaces only "
                               "files fxsim wrote: remove it yourself or choose another folder")
    stale = sorted(f for f in old - set(files) if f in present)
    for f in stale:
        if present[f] != "file":
            raise FileExistsError(f"{os.path.join(shown, f)} is {present[f]}, not a file fxsim wrote: "
                                  "remove it yourself or choose another folder")
    return stale


def _write_temp(folder, name, data: bytes):
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | _O_CLOEXEC
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.fxsim-tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:        # pragma: no cover (a 48-bit random name taken)
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        _remove_quiet(tmp)
        raise
    return tmp


def _remove_quiet(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _write_files(folder, contents: dict, stale):
    """Write ``contents`` ({name: text}, the manifest last) into ``folder`` (created if
    missing): each to a new temporary file, then renamed into place (a rename replaces a
    name, it never writes through a link); on an error nothing is replaced.  Then
    ``stale`` (an earlier export's files the new one lacks) are removed."""
    created = not os.path.lexists(folder)
    os.makedirs(folder, exist_ok=True)
    if os.path.islink(folder) or not os.path.isdir(folder):     # pragma: no cover (a race)
        raise FileExistsError(f"{folder} changed while fxsim was writing it")
    tmps = []
    try:
        for name, text in contents.items():
            tmps.append((_write_temp(folder, name, text.encode("ascii")), name))
    except BaseException:
        for t, _ in tmps:
            _remove_quiet(t)
        if created:
            try:
                os.rmdir(folder)
            except OSError:
                pass
        raise
    for f in stale:
        _remove_quiet(os.path.join(folder, f))
    for t, name in tmps:
        os.replace(t, os.path.join(folder, name))


def _mem_text(words) -> str:
    return "\n".join(np.asarray(words).reshape(-1).tolist()) + "\n"


# -- reading -----------------------------------------------------------------------------------

def _tokens(fh, shown, limit):
    """At most ``limit`` words of an open (binary) .mem file, as (line number, text); blank
    lines and // comments dropped; reading stops at the limit."""
    out = []
    no = 0
    while len(out) < limit:
        line = fh.readline(_MAX_LINE + 1)
        if not line:
            break
        no += 1
        if len(line) > _MAX_LINE and not line.endswith(b"\n"):
            raise ValueError(f"{shown}:{no}: a line longer than {_MAX_LINE} characters")
        try:
            t = line.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{shown}:{no}: not text (UTF-8)") from None
        t = t.split("//", 1)[0].strip()
        if t:
            out.append((no, t))
    return out


_HEX = re.compile(r"^[0-9a-fA-F]+$")


def _read_words(folder, name, what, wl, signed, words) -> list:
    """[(text, value)] of a manifest's file: exactly ``words`` hex words of at most ``wl``
    bits (reading stops one word past), else ValueError naming the file and the counts."""
    shown = os.path.join(os.fspath(folder), name)
    with _open_inside(folder, name, what) as fh:
        toks = _tokens(fh, shown, words + 1)
    if len(toks) > words:
        raise ValueError(f"{shown}: more than {words} words, the manifest says {words}")
    if len(toks) < words:
        raise ValueError(f"{shown}: {len(toks)} words, the manifest says {words} "
                         "(a truncated or empty file?)")
    out = []
    for no, t in toks:
        if not _HEX.match(t):
            raise ValueError(f"{shown}:{no}: {_short(t)} is not a hex word")
        u = int(t, 16)
        if u >> wl:
            raise ValueError(f"{shown}:{no}: {_short(t)} is wider than {wl} bits")
        if signed and u >> (wl - 1):
            u -= 1 << wl
        out.append((t, u))
    return out


def read_vectors(folder):
    """(manifest, data) of an exported folder: ``data[port]`` is a ``FixedArray`` in the port's
    format and shape (inputs and expected outputs alike), ``data["rnd"]`` the draws as a uint64
    array (stochastic exports).  The manifest is validated (ValueError naming the key) and
    every file must hold exactly the manifest's word count of words that fit its width; files
    are read only inside the folder (plain names, regular files, no symlinks).

    >>> import os, tempfile
    >>> d = os.path.join(tempfile.mkdtemp(), "vec")
    >>> _ = export_vectors(d, "mul", count=4, a_fmt="Q(8,4)", b_fmt="Q(8,4)", fmt="Q(8,4)")
    >>> m, data = read_vectors(d)
    >>> sorted(data), data["y"].fmt
    (['a', 'b', 'y'], QFormat(wl=8, fl=4, signed=True))
    """
    m = _load_manifest(folder)
    where = os.path.join(os.fspath(folder), MANIFEST)
    data = {}
    for port, info in m["ports"].items():
        f = QFormat(info["wl"], info.get("fl", 0), info["signed"])
        words = [u for _, u in _read_words(folder, info["file"], f"{where}: 'ports.{port}.file'",
                                           f.wl, f.signed, info["words"])]
        shape = info.get("shape", [len(words)])
        if "float" in info:                  # codes of a float format (validated with the manifest)
            ff = _float_of_entry(info["float"])
            data[port] = FloatArray(np.array(words, dtype=np.uint64).astype(ff.dtype).reshape(shape), ff)
            continue
        raw = np.array(words, dtype=object).astype(f.dtype)
        data[port] = FixedArray(raw.reshape(shape), f)
    for name, info in m["draws"].items():
        words = [u for _, u in _read_words(folder, info["file"], f"{where}: 'draws.{name}.file'",
                                           info["r"], False, info["words"])]
        data[name] = np.array(words, dtype=np.uint64)
    return m, data


# -- checking ----------------------------------------------------------------------------------

@dataclass
class CheckReport:
    """Result of ``check_outputs``: true when every word matches.

    >>> import os, tempfile
    >>> d = os.path.join(tempfile.mkdtemp(), "vec")
    >>> _ = export_vectors(d, "cast", count=4, in_fmt="Q(16,12)", fmt="Q(8,4)", edges=False)
    >>> rep = check_outputs(d, os.path.join(d, "y.mem"))
    >>> rep.ok, rep.words, rep.mismatches
    (True, 4, 0)
    """
    port: str
    file: str
    wl: int
    signed: bool
    words: int                   # expected words (the manifest's count of the port)
    got_words: int               # words read from the produced file (reading stops at words + 1)
    mismatches: int              # differing positions + missing words (+ 1 for extra words)
    first: int | None = None     # index of the first mismatch
    expected: str | None = None  # expected word at `first` (hex; None past the end)
    got: str | None = None       # produced word at `first` (as written; None if missing)
    examples: list = field(default_factory=list)   # [(index, expected hex, got text)], first few
    params: list = field(default_factory=list)     # [(name, the bench's, the folder's)] that differ
    echo: str | None = None                        # the bench's parameter echo that was compared
    params_from: str = "params.vh"                 # what the folder's values are read from

    @property
    def ok(self) -> bool:
        return self.mismatches == 0 and not self.params

    def __bool__(self) -> bool:
        return self.ok

    def _val(self, text, none="missing"):
        if text is None:
            return none
        try:
            u = int(text, 16)
        except ValueError:
            return text
        if u >> self.wl:
            return f"{text} (wider than {self.wl} bits)"
        if self.signed and u >> (self.wl - 1):
            u -= 1 << self.wl
        return f"{text} ({u})"

    def __str__(self) -> str:
        lines = [f"the bench was compiled for {k} = {b}, the folder's {self.params_from} says "
                 + ("nothing of it" if f is None else f"{k} = {f}") + f" ({self.echo}); "
                 "recompile it with -I <folder> and no -P for this parameter"
                 for k, b, f in self.params]
        if self.mismatches == 0:
            return "\n".join(lines + [f"{self.port}: all {self.words} words match ({self.file})"])
        head = f"{self.port}: {self.mismatches} of {self.words} words differ"
        if self.got_words > self.words:
            head += f" (the produced file has more than {self.words} words)"
        elif self.got_words < self.words:
            head += f" (the produced file has {self.got_words} words)"
        lines += [head + f", first at index {self.first}: expected "
                 f"{self._val(self.expected, 'the end of the file')}, got {self._val(self.got)}"]
        for i, e, g in self.examples[1:]:
            lines.append(f"  [{i}] expected {self._val(e, 'the end of the file')}, got {self._val(g)}")
        return "\n".join(lines)

    __repr__ = __str__


def _port_of(folder, produced, ports, outs):
    """The output port a produced file is named after: its stem is the port's name or holds it
    between separators (``y.mem``, ``y_rtl.mem``, ``rtl_y.hex``)."""
    base = os.path.basename(produced)
    stem = os.path.splitext(base)[0]

    def named(p):
        return p == stem or re.search(rf"(?:^|[^A-Za-z0-9]){re.escape(p)}(?:$|[^A-Za-z0-9])", stem)
    cands = [p for p in outs if named(p)]
    if len(cands) == 1:
        return cands[0]
    names = ", ".join(repr(p) for p in sorted(outs))
    first = sorted(outs)[0]
    how = (lambda cli: f"name the file after the port ({first}.mem, {first}_rtl.mem) or pass "
           + (f"--port {first}" if cli else f"port={first!r}"))
    if cands:
        raise _PortUnknown(lambda cli: f"{base} is named after several output ports of {folder} "
                           f"({', '.join(map(repr, cands))}); " + how(cli))
    ins = [p for p in ports if p not in outs and named(p)]
    if ins:
        raise _PortUnknown(lambda cli: f"{base} is named after {ins[0]!r}, an input port of {folder}, "
                           f"not an output (outputs: {names}); " + how(cli))
    raise _PortUnknown(lambda cli: f"{base} is not named after an output port of {folder} "
                       f"(outputs: {names}); " + how(cli))


def check_outputs(folder, produced, port=None, show=5, echo=None) -> CheckReport:
    """Compare an RTL output file (``$readmemh`` form, e.g. written with ``$fwrite("%h\\n")``)
    with the expected output port of an exported folder, word for word.  ``port`` defaults to
    the output port the file is named after (``y.mem``, ``y_rtl.mem``, ``rtl_y.mem``; any
    other name is a ValueError listing the ports).  Returns a ``CheckReport`` (true when all
    match; ``str()`` names the count, the first index, expected vs got).  The produced file
    must hold exactly the manifest's count of words (missing or extra words are mismatches;
    reading stops one word past the count); undefined (x/z) or over-wide words count as
    mismatches.  The folder is validated as by ``read_vectors``: a malformed manifest, or an
    expected file that is truncated, empty, too long or over-wide, is a ValueError.

    ``echo``: the bench's parameter echo (``NAME VALUE`` lines, see ``fxsim.bench_params``;
    default: ``tb_params.txt`` next to ``produced`` when the bench wrote one; False: none).  A
    parameter that differs from the folder's (``bench.params``, written by default; without
    it the formats, count and r its ports and draws fix) fails the check and is named first:
    the bench was compiled for another folder.

    >>> import os, tempfile
    >>> d = os.path.join(tempfile.mkdtemp(), "vec")
    >>> _ = export_vectors(d, "cast", count=4, in_fmt="Q(16,12)", fmt="Q(8,4)", edges=False)
    >>> words = open(os.path.join(d, "y.mem")).read().split()
    >>> rtl = os.path.join(d, "rtl_y.mem")
    >>> with open(rtl, "w") as f:
    ...     for w in ["00"] + words[1:]:       # the RTL got word 0 wrong
    ...         print(w, file=f)
    >>> rep = check_outputs(d, rtl, port="y")
    >>> bool(rep), rep.first, rep.mismatches <= 1
    (False, 0, True)
    """
    folder = os.fspath(folder)
    produced = os.fspath(produced)
    m = _load_manifest(folder)
    where = os.path.join(folder, MANIFEST)
    outs = {p: i for p, i in m["ports"].items() if i["dir"] == "out"}
    if not outs:
        raise ValueError(f"{where}: no output port (no entry of 'ports' has \"dir\": \"out\")")
    if port is None:
        port = _port_of(folder, produced, m["ports"], outs)
    if port not in outs:
        raise ValueError(f"{port!r} is not an output port of {folder} (outputs: {sorted(outs)})")
    info = outs[port]
    wl, signed, n = info["wl"], info["signed"], info["words"]
    want = _read_words(folder, info["file"], f"{where}: 'ports.{port}.file'", wl, signed, n)
    try:
        with open(produced, "rb") as fh:
            got = [t for _, t in _tokens(fh, produced, n + 1)]
    except OSError as e:
        raise ValueError(f"cannot read the produced file {produced} ({e.strerror or e})") from None
    bad = []
    for i, (w, _) in enumerate(want):
        g = got[i] if i < len(got) else None
        if g is None or not _HEX.match(g) or int(g, 16) >> wl or int(g, 16) != int(w, 16):
            bad.append((i, w, g))
    if len(got) > n:
        bad.append((n, None, got[n]))
    rep = CheckReport(port=port, file=produced, wl=wl, signed=signed, words=n,
                      got_words=len(got), mismatches=len(bad))
    if echo is None:
        echo = _bench.echo_next_to(produced)
    if echo:
        rep.echo = os.fspath(echo)
        bench = m.get("bench")
        try:          # without a bench entry: the parameters the ports and draws fix
            got = _bench.read_echo(rep.echo)
            rep.params = (_bench.compare(got, bench.get("params", {})) if bench
                          else _bench.compare(got, _bench.derived(m), known_only=True))
            rep.params_from = _bench.HEADER if bench else "manifest.json (its ports)"
        except OSError as e:
            raise ValueError(f"cannot read the bench's parameter echo {rep.echo} ({e.strerror or e})") from None
    if bad:
        rep.first, rep.expected, rep.got = bad[0]
        rep.examples = bad[:show]
    return rep
