"""A cocotb golden model: drive a DUT with the inputs of an fxsim operation and score its
outputs against fxsim, word for word.

Importable without cocotb (an optional extra, ``pip install fxsim[cocotb]``): only the
``drive_*`` coroutines import it, when they run inside a simulation.

* ``CastModel(in_fmt, out_fmt, mode, source)``: fxsim's cast of raw input words; with a
  stochastic ``mode`` it takes its draws from ``source`` (``source_from_dut_seed`` makes an
  LFSR source that starts from the DUT's seed, for a DUT with its own LFSR) and keeps them, so a
  DUT without an LFSR gets exactly the draws fxsim used.
* ``Scoreboard(name, fmt)``: compares got and expected words; the first mismatch is reported
  with its index, the inputs that produced it and the expected and got bits.
* ``CastCoverage(in_fmt, out_fmt)``: which rounding cases the inputs reached (tie φ = 1/2,
  φ = 0, rounded up, overflow up and down, and saturation on the output's rails), from the
  input words alone; ``missing()`` names the cases not reached.
* ``cast_stimulus(in_fmt, out_fmt, count, seed)``: edge words, ties, φ = 0 and words around
  the saturation points first, then uniform words.
* ``drive_sr_unit``, ``drive_lfsr``, ``drive_sat_mac``, ``drive_sr_top`` (an ``rtl-gen`` top):
  coroutines for a cocotb test of every unit in ``rtl/``.
* Float units (spec section 9): ``FloatCastModel(in_fmt, out_fmt, rounding, overflow, r,
  source)`` (fxsim's cast of codes), ``FloatCoverage`` (ties, exact values, rounded up,
  subnormal results, overflow, NaN and infinities), ``float_stimulus``, and the coroutines
  ``drive_f32_cvt`` (``rtl/f32_cvt.v``: bf16, e4m3, e5m2) and ``drive_f32_sr_lfsr``
  (``rtl/f32_sr_lfsr.v``, the float unit fed by its own LFSR).

>>> from fxsim import CastMode, QFormat
>>> m = CastModel(QFormat(8, 4), QFormat(4, 1), CastMode("nearest_even"))
>>> m.expected([0b0001_1000, 0b0001_0100, 127])    # 1.5 -> 1.5, 1.25 -> 1.0 (tie, even), 7.94 -> max
[3, 2, 7]
>>> sb = Scoreboard("y", QFormat(4, 1))
>>> sb.compare(0, 3, 3, {"x": 24}) and not sb.compare(1, 5, 2, {"x": 20})
True
>>> print(sb.report())
y: 1 of 2 words differ; first at index 1 (x=20): expected 2 (0010), got 5 (0101)
"""
from __future__ import annotations

import numpy as np

from .fixed import FixedArray
from .floatarray import FloatArray
from .floatformat import FloatFormat
from .modes import CastMode
from .ops import cast as _fx_cast, dot as _fx_dot
from .qformat import QFormat, qformat
from .sources import LFSR
from . import vectors

__all__ = ["CastModel", "Scoreboard", "CastCoverage", "cast_stimulus", "source_from_dut_seed",
           "drive_sr_unit", "drive_lfsr", "drive_sat_mac", "drive_sr_top", "SR_UNIT_MODES",
           "FloatCastModel", "FloatCoverage", "float_stimulus", "drive_f32_cvt", "drive_f32_sr_lfsr",
           "F32_UNIT_MODES"]

SR_UNIT_MODES = {"stochastic": 0, "nearest_even": 1, "floor": 2}    # rtl/sr_unit.v `mode`
F32_UNIT_MODES = {"nearest_even": 0, "stochastic": 1}                # rtl/f32_cvt.v `mode`


def _bits(word: int, wl: int) -> str:
    return format(int(word) & ((1 << wl) - 1), f"0{wl}b")


def _signed(u: int, f: QFormat) -> int:
    return u - (1 << f.wl) if f.signed and u >> (f.wl - 1) else u


def source_from_dut_seed(spec: str, seed: int):
    """An fxsim source for a DUT with its own LFSR: ``spec`` as ``fxsim.make_source`` reads it
    (``lfsr:16:galois:serial``), starting from the DUT's register state ``seed`` (1..2^n-1).

    >>> s = source_from_dut_seed("lfsr:16", 0xACE1)
    >>> hex(s.state["lane_states"][0])
    '0xace1'
    """
    return vectors.make_source(spec, seed)


class CastModel:
    """fxsim's cast from ``in_fmt`` to ``out_fmt`` with ``mode`` (a ``CastMode`` or what
    ``CastMode.of`` takes); stochastic modes draw from ``source`` (advanced by one draw per
    word, in order).  ``draws`` holds the draws of the last ``expected`` call.

    >>> from fxsim import LFSR
    >>> m = CastModel("Q(8,4)", "Q(4,0)", CastMode("stochastic", r=4), LFSR(n=8, seed=1))
    >>> m.expected([8, 8, 8, 8]), m.draws.tolist()   # 0.5: up when the draw is >= 8
    ([1, 1, 0, 0], [8, 14, 2, 5])
    """

    def __init__(self, in_fmt, out_fmt, mode=None, source=None):
        self.in_fmt, self.out_fmt = qformat(in_fmt), qformat(out_fmt)
        self.mode = CastMode() if mode is None else CastMode.of(mode)
        if self.mode.stochastic and source is None:
            raise ValueError(f"source: {self.mode.rounding} needs a bit source (fxsim.LFSR, "
                             "fxsim.Ideal or source_from_dut_seed(spec, seed))")
        self.source = source
        self.draws = None

    def expected(self, x_raw) -> list:
        """The output words (Python ints) of the raw input words ``x_raw``."""
        raw = np.array([int(v) for v in x_raw], dtype=object).astype(self.in_fmt.dtype)
        x = FixedArray(raw, self.in_fmt)
        self.draws = None
        if self.mode.stochastic:
            self.draws = self.source.draws(raw.size, self.mode.r)
        y = _fx_cast(x, self.out_fmt, mode=self.mode, draws=self.draws)
        return [int(v) for v in y.raw.reshape(-1)]


class Scoreboard:
    """Got against expected words of one output port; ``check()`` raises AssertionError with
    ``report()`` when any differs (an undefined x/z word always differs).

    >>> sb = Scoreboard("y", "Q(4,0)")
    >>> sb.compare(0, "1111", -1), sb.compare(1, "1x11", -1)
    (True, False)
    >>> sb.check()
    Traceback (most recent call last):
    AssertionError: y: 1 of 2 words differ; first at index 1: expected -1 (1111), got undefined (1x11)
    """

    def __init__(self, name, fmt, show=5):
        """``fmt``: the port's QFormat, or a FloatFormat (its codes compared as unsigned words)."""
        if isinstance(fmt, FloatFormat):
            fmt = QFormat(fmt.nbits, 0, False)
        self.name, self.fmt, self.show = name, qformat(fmt), show
        self.count = 0
        self.mismatches = []          # (index, inputs, expected, got bits or int)

    def compare(self, index, got, expected, inputs=None) -> bool:
        """Record one word: ``got`` an int (either two's complement or the unsigned bits) or a
        bit string (x/z allowed), ``expected`` fxsim's word; returns whether they match."""
        self.count += 1
        if isinstance(got, str):
            ok = set(got) <= {"0", "1"} and _signed(int(got, 2), self.fmt) == expected
        else:
            ok = _signed(int(got) & ((1 << self.fmt.wl) - 1), self.fmt) == expected
        if not ok:
            self.mismatches.append((index, dict(inputs or {}), expected, got))
        return ok

    def _got(self, got) -> str:
        if isinstance(got, str):
            return (f"{_signed(int(got, 2), self.fmt)} ({got})" if set(got) <= {"0", "1"}
                    else f"undefined ({got})")
        g = _signed(int(got) & ((1 << self.fmt.wl) - 1), self.fmt)
        return f"{g} ({_bits(g, self.fmt.wl)})"

    def report(self) -> str:
        if not self.mismatches:
            return f"{self.name}: all {self.count} words match"
        lines = []
        for i, (idx, ins, want, got) in enumerate(self.mismatches[:self.show]):
            where = ", ".join(f"{k}={v}" for k, v in ins.items())
            text = (f"index {idx}" + (f" ({where})" if where else "")
                    + f": expected {want} ({_bits(want, self.fmt.wl)}), got {self._got(got)}")
            lines.append(f"{self.name}: {len(self.mismatches)} of {self.count} words differ; first at "
                         + text if i == 0 else "  " + text)
        return "\n".join(lines)

    def check(self):
        if self.mismatches:
            raise AssertionError(self.report())


class CastCoverage:
    """Rounding cases a cast's raw inputs reach, computed from the words alone (S = fl_in -
    fl_out discarded bits, q = floor(x / 2^S), phi = the discarded part): ``tie`` (phi = 1/2),
    ``phi0`` (phi = 0), ``inexact``, ``overflow_up`` / ``overflow_down`` (q or q + 1 beyond the
    output's max / min), and from the output words ``sat_max`` / ``sat_min`` (on a rail while
    the exact value is beyond it) and ``rounded_up`` (y = q + 1 with q and q + 1 in range).

    >>> c = CastCoverage("Q(8,4)", "Q(4,0)")
    >>> for x, y in ((8, 1), (16, 1), (127, 7), (-128, -8)):
    ...     c.sample(x, y)
    >>> c.missing(), c.bins["tie"], c.bins["sat_max"]
    ([], 1, 1)
    >>> c.reachable()[-2:]                              # -8.0 fits Q(4,0): no overflow down
    ('overflow_up', 'sat_max')
    """

    BINS = ("tie", "phi0", "inexact", "rounded_up", "overflow_up", "overflow_down", "sat_max", "sat_min")

    def __init__(self, in_fmt, out_fmt):
        self.in_fmt, self.out_fmt = qformat(in_fmt), qformat(out_fmt)
        self.bins = dict.fromkeys(self.BINS, 0)

    def sample(self, x_raw: int, y_raw: int | None = None):
        S = self.in_fmt.fl - self.out_fmt.fl
        x = int(x_raw)
        q, d = (x >> S, x & ((1 << S) - 1)) if S > 0 else (x << -S, 0)
        lo, hi = self.out_fmt.min_raw, self.out_fmt.max_raw
        b = self.bins
        b["phi0"] += d == 0
        b["inexact"] += d != 0
        b["tie"] += S > 0 and d == 1 << (S - 1)
        b["overflow_up"] += q + (d != 0) > hi
        b["overflow_down"] += q < lo
        if y_raw is not None:
            y = int(y_raw)
            b["rounded_up"] += d != 0 and lo <= q < hi and y == q + 1
            b["sat_max"] += y == hi and q + (d != 0) > hi
            b["sat_min"] += y == lo and q < lo

    def reachable(self) -> tuple:
        """The bins some input word of ``in_fmt`` can reach (overflow and saturation need an
        input beyond the output's range; ties and rounding up need discarded bits)."""
        S = self.in_fmt.fl - self.out_fmt.fl
        lo, hi = self.in_fmt.min_raw, self.in_fmt.max_raw
        q_hi = (hi >> S) + (S > 0 and hi & ((1 << S) - 1) != 0) if S > 0 else hi << -S
        q_lo = lo >> S if S > 0 else lo << -S
        up = q_hi > self.out_fmt.max_raw
        down = q_lo < self.out_fmt.min_raw
        ok = {"tie": S > 0, "phi0": True, "inexact": S > 0, "rounded_up": S > 0,
              "overflow_up": up, "sat_max": up, "overflow_down": down, "sat_min": down}
        return tuple(k for k in self.BINS if ok[k])

    def missing(self, wanted=None) -> list:
        """The wanted cases (default: every reachable one) no sample reached."""
        wanted = self.reachable() if wanted is None else wanted
        return [k for k in wanted if not self.bins[k]]

    def report(self) -> str:
        return "coverage: " + ", ".join(f"{k} {v}" for k, v in self.bins.items())


def cast_stimulus(in_fmt, out_fmt, count, seed=1) -> list:
    """``count`` raw input words of ``in_fmt`` (signed or not) for a cast to ``out_fmt``: the
    extremes, ties (phi = 1/2) and their neighbours, phi = 0 and words near the output's
    saturation points first, then uniform words (numpy, seeded).

    >>> w = cast_stimulus("Q(8,4)", "Q(4,1)", 40)
    >>> len(w), -128 in w, 127 in w, 0b0100 in w       # 0b0100: a tie at 1/2 LSB of Q(4,1)
    (40, True, True, True)
    """
    fi, fo = qformat(in_fmt), qformat(out_fmt)
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    lo, hi = fi.min_raw, fi.max_raw
    S = fi.fl - fo.fl
    special = [lo, hi, 0, 1, lo + 1, hi - 1] + ([-1] if fi.signed else [])
    if S > 0:
        half = 1 << (S - 1)
        for q in (0, 1, 2, 3, -1, -2, fo.max_raw, fo.max_raw - 1, fo.min_raw, fo.min_raw - 1):
            base = q << S
            special += [base + half, base, base + half - 1, base + half + 1, base + (1 << S) - 1]
    rng = np.random.default_rng([0x636F636F, int(seed)])
    seen, out = set(), []
    for w in special:
        if lo <= w <= hi and w not in seen:
            seen.add(w)
            out.append(w)
    out = out[:max(1, count // 2)]
    n = count - len(out)
    if fi.wl < 64:
        out += [int(v) for v in rng.integers(lo, hi, size=n, endpoint=True, dtype=np.int64)]
    else:
        u = rng.integers(0, 2**64 - 1, size=n, endpoint=True, dtype=np.uint64)
        out += [int(v) - (1 << 63) * fi.signed for v in u]
    return out[:count]


class FloatCastModel:
    """fxsim's cast of ``in_fmt`` codes (a float format, e.g. ``"fp32"``) into the float format
    ``out_fmt`` with ``rounding`` and ``overflow`` (spec section 9); a stochastic rounding takes
    r-bit draws from ``source`` (one per code, in order) and keeps them in ``draws``.

    >>> m = FloatCastModel("fp32", "e5m2", "nearest_even", "ieee")
    >>> [hex(c) for c in m.expected([0x3F900000, 0x3FB00000, 0x477FFFFF])]   # 1.125, 1.375 (ties), 65535.99
    ['0x3c', '0x3e', '0x7c']
    """

    def __init__(self, in_fmt, out_fmt, rounding="nearest_even", overflow="ieee", r=None,
                 source=None, sr_rule="trunc"):
        self.in_fmt, self.out_fmt = FloatFormat.parse(in_fmt), FloatFormat.parse(out_fmt)
        self.rounding, self.overflow, self.r, self.sr_rule = rounding, overflow, r, sr_rule
        self.stochastic = rounding.startswith(("stochastic", "signed_stochastic"))
        if self.stochastic and (source is None or r is None):
            raise ValueError(f"source, r: {rounding} needs r and a bit source (fxsim.LFSR, "
                             "fxsim.Ideal or source_from_dut_seed(spec, seed))")
        self.source = source
        self.draws = None
        _fx_cast(FloatArray(np.zeros(1, self.in_fmt.dtype), self.in_fmt), self.out_fmt, rounding,
                 overflow, r=r, sr_rule=sr_rule, draws=np.zeros(1, np.uint64) if self.stochastic else None)

    def expected(self, codes) -> list:
        """The output codes (Python ints) of the input codes ``codes``."""
        x = FloatArray(np.array([int(c) for c in codes], dtype=np.uint64).astype(self.in_fmt.dtype),
                       self.in_fmt)
        self.draws = self.source.draws(x.size, self.r) if self.stochastic else None
        kw = dict(r=self.r, sr_rule=self.sr_rule, draws=self.draws) if self.stochastic else {}
        y = _fx_cast(x, self.out_fmt, self.rounding, self.overflow, **kw)
        return [int(c) for c in y.raw.reshape(-1)]


class FloatCoverage:
    """Rounding cases of a cast into the float format ``out_fmt`` reached by input codes of
    ``in_fmt``, from each value and the two neighbours fxsim's directed casts give
    (toward_zero and away_from_zero, saturating): ``phi0`` (exact), ``tie`` (half-way),
    ``inexact``, ``rounded_up`` (the magnitude went to the upper neighbour), ``subnormal`` (a
    non-zero subnormal result), ``overflow`` (|x| beyond the largest finite value), ``nan``,
    ``inf`` (an infinite input).

    >>> c = FloatCoverage("fp32", "e5m2")
    >>> m = FloatCastModel("fp32", "e5m2")
    >>> x = [0x3F900000, 0x3F800000, 0x3F880000, 0x477FFFFF, 0x7FC00000, 0x7F800000, 0x37C00000]
    >>> for xi, yi in zip(x, m.expected(x)):
    ...     c.sample(xi, yi)
    >>> c.missing()
    []
    """

    BINS = ("phi0", "tie", "inexact", "rounded_up", "subnormal", "overflow", "nan", "inf")

    def __init__(self, in_fmt, out_fmt):
        self.in_fmt, self.out_fmt = FloatFormat.parse(in_fmt), FloatFormat.parse(out_fmt)
        self.bins = dict.fromkeys(self.BINS, 0)

    def sample(self, x_code: int, y_code: int | None = None):
        fi, fo, b = self.in_fmt, self.out_fmt, self.bins
        x = FloatArray(np.array([int(x_code)], np.uint64).astype(fi.dtype), fi)
        v = float(x.to_float()[0])
        if np.isnan(v):
            b["nan"] += 1
            return
        if np.isinf(v):
            b["inf"] += 1
            return
        if abs(v) > fo.max:
            b["overflow"] += 1
            return
        lo = abs(float(_fx_cast(x, fo, "toward_zero", "saturate").to_float()[0]))
        hi = abs(float(_fx_cast(x, fo, "away_from_zero", "saturate").to_float()[0]))
        a = abs(v)
        b["phi0"] += a == lo
        b["inexact"] += a != lo
        b["tie"] += a != lo and a - lo == hi - a
        if y_code is not None:
            mag = int(y_code) & ((1 << (fo.nbits - 1)) - 1)
            y = abs(float(FloatArray(np.array([mag], np.uint64).astype(fo.dtype), fo).to_float()[0]))
            b["rounded_up"] += a != lo and y == hi
            b["subnormal"] += 0 < y < fo.min_normal

    def missing(self, wanted=None) -> list:
        """The wanted cases (default: all) no sample reached."""
        return [k for k in (self.BINS if wanted is None else wanted) if not self.bins[k]]

    def report(self) -> str:
        return "coverage: " + ", ".join(f"{k} {v}" for k, v in self.bins.items())


def float_stimulus(in_fmt, out_fmt, count, seed=1) -> list:
    """``count`` input codes (Python ints) of a cast into the float format ``out_fmt``:
    ``fxsim.vectors.float_stimulus`` (its rounding cases first, then values near its range and
    random codes).

    >>> hex(float_stimulus("fp32", "bf16", 8)[5])                  # 1 + 2^-8: a tie above 1
    '0x3f808000'
    """
    return [int(c) for c in vectors.float_stimulus(in_fmt, out_fmt, count, seed).raw.reshape(-1)]


# -- coroutines for cocotb tests (cocotb imported when they run) -------------------------------

def _timer(ns):
    from cocotb.triggers import Timer
    return Timer(ns, unit="ns")


def _read(handle):
    """A DUT signal as a bit string (x/z kept)."""
    return str(handle.value)


async def _tick(dut, ns=1):
    """Let the inputs written so far settle, then one clock period (writes are applied at the
    end of the time step, so a rising edge in the same step could see the old inputs)."""
    await _timer(ns)
    dut.clk.value = 1
    await _timer(ns)
    dut.clk.value = 0
    await _timer(ns)


async def drive_sr_unit(dut, model: CastModel, x_raw, coverage: CastCoverage | None = None,
                        settle_ns=1) -> Scoreboard:
    """Feed ``rtl/sr_unit.v`` (ports x, rnd, mode -> y) the words ``x_raw`` with the draws
    fxsim takes (``model.source``) and ``model``'s mode code; returns the scoreboard of y.
    In a cocotb test: ``(await drive_sr_unit(dut, model, cast_stimulus(fi, fo, 1000))).check()``.

    >>> import inspect
    >>> inspect.iscoroutinefunction(drive_sr_unit)
    True
    """
    code = SR_UNIT_MODES.get(model.mode.rounding)
    if code is None or model.mode.overflow != "saturate" or (code == 0 and model.mode.sr_rule != "trunc"):
        raise ValueError(f"mode: sr_unit.v does {', '.join(SR_UNIT_MODES)} (sr_rule trunc) with "
                         f"overflow saturate, not {model.mode!r}")
    want = model.expected(x_raw)
    sb = Scoreboard("y", model.out_fmt)
    mask_x = (1 << model.in_fmt.wl) - 1
    r_mask = (1 << len(dut.rnd)) - 1
    dut.mode.value = code
    for i, (x, y) in enumerate(zip(x_raw, want)):
        dut.x.value = int(x) & mask_x
        rnd = int(model.draws[i]) if model.draws is not None else 0
        dut.rnd.value = rnd & r_mask
        await _timer(settle_ns)
        ins = {"x": int(x)} | ({"rnd": rnd} if model.draws is not None else {})
        sb.compare(i, _read(dut.y), y, ins)
        if coverage is not None:
            coverage.sample(x, y)
    return sb


async def drive_lfsr(dut, source, count) -> Scoreboard:
    """Load ``rtl/lfsr.v`` with the state of ``source`` (an ``fxsim.LFSR`` of one lane, at the
    DUT's parameters) and compare ``count`` draws, one per clock, with ``source``'s.
    In a cocotb test: ``(await drive_lfsr(dut, fxsim.LFSR(n=16, seed=7), 1000)).check()``.

    >>> import inspect
    >>> inspect.iscoroutinefunction(drive_lfsr)
    True
    """
    if not isinstance(source, LFSR) or source.lanes != 1:
        raise ValueError("source: drive_lfsr needs an fxsim.LFSR of one lane (the DUT's register)")
    r = len(dut.draw)
    seed = source.state["lane_states"][0]
    want = [int(v) for v in source.draws(count, r)]
    sb = Scoreboard("draw", QFormat(r, 0, False))
    dut.en.value = 0
    dut.load.value = 1
    dut.seed.value = seed
    await _tick(dut)
    dut.load.value = 0
    dut.en.value = 1
    for i, w in enumerate(want):
        await _timer(1)
        sb.compare(i, _read(dut.draw), w, {"draw": i})
        await _tick(dut)
    return sb


async def drive_sat_mac(dut, a_raw, b_raw, a_fmt, b_fmt) -> Scoreboard:
    """Feed ``rtl/sat_mac.v`` rows of ``a_raw``/``b_raw`` (count x K words), one MAC per row,
    and compare each final accumulator with ``fxsim.dot(a, b, acc=Q(WA, fa + fb),
    overflow="saturate")`` (WA: the DUT's accumulator width).
    In a cocotb test: ``(await drive_sat_mac(dut, rows_a, rows_b, "Q(8,4)", "Q(8,4)")).check()``.

    >>> import inspect
    >>> inspect.iscoroutinefunction(drive_sat_mac)
    True
    """
    fa, fb = qformat(a_fmt), qformat(b_fmt)
    acc = QFormat(len(dut.acc), fa.fl + fb.fl)
    sb = Scoreboard("acc", acc)
    ma, mb = (1 << fa.wl) - 1, (1 << fb.wl) - 1
    for j, (ra, rb) in enumerate(zip(a_raw, b_raw)):
        a = FixedArray(np.array(list(ra), dtype=object).astype(fa.dtype), fa)
        b = FixedArray(np.array(list(rb), dtype=object).astype(fb.dtype), fb)
        want = int(_fx_dot(a, b, acc=acc, overflow="saturate").raw)
        dut.en.value = 0
        dut.clr.value = 1
        await _tick(dut)
        dut.clr.value = 0
        dut.en.value = 1
        for x, y in zip(ra, rb):
            dut.a.value = int(x) & ma
            dut.b.value = int(y) & mb
            await _tick(dut)
        dut.en.value = 0
        sb.compare(j, _read(dut.acc), want, {"row": j})
    return sb


async def drive_sr_top(dut, model: CastModel, x_raw, lanes=1, coverage=None) -> Scoreboard:
    """Feed an ``fxsim rtl-gen`` top (clk, load, en, x[lanes], y[lanes]; its LFSRs start from
    their built-in seeds on ``load``) ``lanes`` words a clock; ``model.source`` must start from
    the same seeds (``source_from_dut_seed``); element e goes to lane e mod lanes.
    In a cocotb test: ``(await drive_sr_top(dut, model, x, lanes=2)).check()``.

    >>> import inspect
    >>> inspect.iscoroutinefunction(drive_sr_top)
    True
    """
    want = model.expected(x_raw)
    fi, fo = model.in_fmt, model.out_fmt
    sb = Scoreboard("y", fo)
    dut.en.value = 0
    dut.load.value = 1
    dut.x.value = 0
    await _tick(dut)
    dut.load.value = 0
    for c in range(0, len(want), lanes):
        xs = [int(v) for v in x_raw[c:c + lanes]]
        bus = 0
        for k, x in enumerate(xs):
            bus |= (x & ((1 << fi.wl) - 1)) << (k * fi.wl)
        dut.x.value = bus
        await _timer(1)
        bits = _read(dut.y)
        for k, x in enumerate(xs):
            lane = bits[len(bits) - (k + 1) * fo.wl:len(bits) - k * fo.wl]
            sb.compare(c + k, lane, want[c + k], {"x": x, "lane": k})
            if coverage is not None:
                coverage.sample(x, want[c + k])
        dut.en.value = 1
        await _tick(dut)
        dut.en.value = 0
    return sb


async def drive_f32_cvt(dut, model: FloatCastModel, codes, coverage: FloatCoverage | None = None,
                        settle_ns=1) -> Scoreboard:
    """Feed ``rtl/f32_cvt.v`` (or ``f32_to_bf16.v``, ``f32_to_e4m3.v``, ``f32_to_e5m2.v``:
    ports x, rnd, mode -> y) the float32 ``codes`` with the draws fxsim takes
    (``model.source``) and ``model``'s mode code; returns the scoreboard of y.

    >>> import inspect
    >>> inspect.iscoroutinefunction(drive_f32_cvt)
    True
    """
    code = F32_UNIT_MODES.get(model.rounding)
    if code is None or model.overflow not in ("ieee", "saturate") or (code and model.sr_rule != "trunc"):
        raise ValueError(f"rounding, overflow: the float32 units do {', '.join(F32_UNIT_MODES)} "
                         f"(sr_rule trunc) with overflow ieee or saturate, not {model.rounding}, "
                         f"{model.overflow}")
    want = model.expected(codes)
    sb = Scoreboard("y", model.out_fmt)
    r_mask = (1 << len(dut.rnd)) - 1
    dut.mode.value = code
    for i, (x, y) in enumerate(zip(codes, want)):
        dut.x.value = int(x)
        rnd = int(model.draws[i]) if model.draws is not None else 0
        dut.rnd.value = rnd & r_mask
        await _timer(settle_ns)
        sb.compare(i, _read(dut.y), y, {"x": hex(int(x))} | ({"rnd": rnd} if code else {}))
        if coverage is not None:
            coverage.sample(x, y)
    return sb


async def drive_f32_sr_lfsr(dut, model: FloatCastModel, codes, seed: int,
                            coverage: FloatCoverage | None = None) -> Scoreboard:
    """Feed ``rtl/f32_sr_lfsr.v`` (clk, load, seed, en, x -> y, draw) the float32 ``codes``,
    one a clock, after loading its LFSR with ``seed``; ``model.source`` must start from the
    same state (``source_from_dut_seed(spec, seed)``): case i is rounded with draw i.

    >>> import inspect
    >>> inspect.iscoroutinefunction(drive_f32_sr_lfsr)
    True
    """
    if not model.stochastic:
        raise ValueError("rounding: f32_sr_lfsr.v rounds stochastically (its LFSR feeds the draws)")
    want = model.expected(codes)
    sb = Scoreboard("y", model.out_fmt)
    dut.en.value = 0
    dut.load.value = 1
    dut.seed.value = int(seed)
    dut.x.value = 0
    await _tick(dut)
    dut.load.value = 0
    for i, (x, y) in enumerate(zip(codes, want)):
        dut.x.value = int(x)
        await _timer(1)
        sb.compare(i, _read(dut.y), y, {"x": hex(int(x)), "rnd": int(model.draws[i])})
        if coverage is not None:
            coverage.sample(x, y)
        dut.en.value = 1
        await _tick(dut)
        dut.en.value = 0
    return sb
