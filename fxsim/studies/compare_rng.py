"""LFSR vs ideal randomness for stochastic rounding (``fxsim compare-rng``).

Four measurements, each a function returning tidy rows (a list of dicts with the keys
``COLUMNS``), all rounding done by fxsim (``fxsim.cast`` / ``fxsim.add`` with
``rounding="stochastic"`` and ``source=`` an ``fxsim.LFSR`` or ``fxsim.Ideal``):

(a) ``sr_bias``: the SR bias E[cast(x)] - x in LSB for r = 2..16 random bits, measured over
    many casts of a fixed set of inputs, against the exact value of spec §2 (rule ``trunc``:
    P(up) = D / 2**r, D = the top r discarded bits), and ``sr_bias_sawtooth``: the same bias as
    a function of the discarded fraction phi at one r.
(b) ``error_acf``: lag-1..16 autocorrelation of the rounding errors of a stream of casts.
(c) ``accumulation``: 10**6 small increments summed in a narrow accumulator
    (acc <- cast(acc + inc)): nearest_even vs SR with ideal and LFSR bits, for i.i.d.
    increments and for periodic ones (period 15 shares factors with 2**8 - 1 and 2**16 - 1;
    period 16 does not).
(d) ``lanes``: L rounding units fed from one register (round-robin draws, or slices of one
    wide register's state) vs ``LFSR(lanes=L)`` vs L independent registers vs ideal bits:
    variance and lag-1 correlation of the summed rounding error.

``run(out_dir, quick=False, seed=0, progress=True)`` runs all four and writes
``compare_rng.csv``, ``compare_rng.md`` and one PNG per measurement.  Every number depends only
on ``seed`` (sources and inputs are seeded through ``numpy.random.SeedSequence``; fxsim's
results do not depend on the thread count), so two runs with one seed give identical rows.
"""
from __future__ import annotations

import math
import os
import time
import zlib
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ._report import (add_study_parser, figure, finish, fmt_number, make_progress, markdown_table)
from ._report import write_csv as _write_rows

import fxsim
from fxsim import FixedArray, QFormat

__all__ = ["COLUMNS", "PRESETS", "SourceSpec", "default_sources", "bias_inputs", "sr_bias",
           "sr_bias_sawtooth", "error_acf", "accumulation", "accumulate_split",
           "accumulate_recurrence", "lanes", "run", "write_csv", "markdown"]

COLUMNS = ["study", "source", "n", "form", "rule", "lanes", "r", "stream", "trial", "count", "x",
           "metric", "value", "predicted", "stderr", "z"]

FMT = QFormat(16, 8)     # the format of (a), (b), (d): t = x * 2**8
FRAC = 40                # the inputs' fraction bits below the format's lsb
Q0 = 3                   # t = Q0 + k / 2**FRAC, k in [0, 2**FRAC)

ACC = QFormat(20, 8)     # (c): the narrow accumulator, lsb 2**-8, range [-2048, 2048)
INC = QFormat(16, 24)    # (c): the increments, 16 bits below the accumulator's lsb
INC_MEAN = 1e-3          # (c): mean increment (0.256 LSB of ACC): nearest_even never moves

PRESETS = {
    "full": dict(bias_casts=2**22, bias_phis=256, saw_points=64, saw_casts=2**14,
                 acf_casts=2**20, acc_steps=10**6, acc_trials=16, acc_check=4096,
                 lane_steps=2**19, lane_block=64),
    "quick": dict(bias_casts=2**18, bias_phis=256, saw_points=64, saw_casts=2**11,
                  acf_casts=2**17, acc_steps=10**6, acc_trials=8, acc_check=1024,
                  lane_steps=2**16, lane_block=64),
}
CHUNK = 1 << 21          # casts per fxsim call in the long measurements (stream order kept)


# -- sources -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceSpec:
    """A random bit source configuration; ``make(seed, *key)`` builds a fresh, seeded one
    through ``fxsim.make_source`` (its ``spec`` string, seeded by a ``SeedSequence`` of
    (seed, label, key)).

    >>> spec = SourceSpec("lfsr", 16, "galois", "serial")
    >>> spec.label, spec.spec, spec.max_r()
    ('LFSR16 gal serial x1', 'lfsr:16:galois:serial:lanes=1', 64)
    >>> a, b = spec.make(0, "demo"), spec.make(0, "demo")      # same key, same stream
    >>> bool((a.draws(4, 16) == b.draws(4, 16)).all())
    True
    """
    kind: str                     # "lfsr" or "ideal"
    n: int | None = None
    form: str | None = None       # "galois" / "fibonacci"
    rule: str | None = None       # "serial" / "state"
    lanes: int = 1
    bitgen: str = "pcg64"

    @property
    def label(self) -> str:
        if self.kind == "ideal":
            return f"ideal {self.bitgen.upper()}"
        return f"LFSR{self.n} {self.form[:3]} {self.rule} x{self.lanes}"

    def max_r(self) -> int:
        return self.n if self.kind == "lfsr" and self.rule == "state" else 64

    def fields(self) -> dict:
        return {"source": self.label, "n": self.n, "form": self.form, "rule": self.rule,
                "lanes": self.lanes if self.kind == "lfsr" else None}

    @property
    def spec(self) -> str:
        """The ``fxsim.make_source`` spec string of this configuration."""
        if self.kind == "ideal":
            return f"ideal:{self.bitgen}"
        return f"lfsr:{self.n}:{self.form}:{self.rule}:lanes={self.lanes}"

    def make(self, seed: int, *key):
        """A new source seeded from (seed, label, key): same arguments, same stream."""
        return fxsim.make_source(self.spec, _seedseq(seed, self.label, *key))


def _seedseq(seed: int, *key) -> np.random.SeedSequence:
    words = [int(seed)] + [zlib.crc32(str(k).encode()) for k in key]
    return np.random.SeedSequence(words)


def _rng(seed: int, *key) -> np.random.Generator:
    return np.random.default_rng(_seedseq(seed, *key))


def default_sources() -> list:
    """LFSR n = 8, 16, 32 x {galois, fibonacci} x {serial, state} x lanes {1, 8}, then ideal PCG64.

    >>> srcs = default_sources()
    >>> len(srcs), srcs[-1].label
    (25, 'ideal PCG64')
    """
    out = [SourceSpec("lfsr", n, form, rule, lanes)
           for n in (8, 16, 32) for rule in ("serial", "state") for form in ("galois", "fibonacci")
           for lanes in (1, 8)]
    return out + [SourceSpec("ideal")]


IDEAL = SourceSpec("ideal")


def _row(study, spec=None, **kw) -> dict:
    row = dict.fromkeys(COLUMNS)
    row["study"] = study
    if spec is not None:
        row.update(spec.fields())
    row.update(kw)
    return row


# -- (a) SR bias -------------------------------------------------------------------------------

def bias_inputs(n_phi: int, seed: int = 0) -> np.ndarray:
    """The discarded fractions of (a): k in [0, 2**FRAC), the inputs being
    x = (Q0 + k / 2**FRAC) * 2**-8 (exact float64), cast into Q(16, 8).

    >>> k = bias_inputs(4, seed=0)
    >>> k.shape, bool(((0 <= k) & (k < 2**FRAC)).all())
    ((4,), True)
    """
    return _rng(seed, "bias-inputs", n_phi).integers(0, 1 << FRAC, size=n_phi, dtype=np.int64)


def _x_of(k: np.ndarray) -> np.ndarray:
    return ((Q0 << FRAC) + k).astype(np.float64) / float(1 << (FRAC + FMT.fl))


def predicted_bias(k, r: int) -> Fraction:
    """Spec §2 (trunc): mean over the k of D / 2**r - phi, phi = k / 2**FRAC, D = floor(phi 2**r).

    >>> predicted_bias([2**(FRAC - 1)], r=1)     # phi = 1/2 is exactly representable with r = 1
    Fraction(0, 1)
    >>> predicted_bias([2**(FRAC - 2)], r=1)     # phi = 1/4, D = 0: bias -1/4 LSB
    Fraction(-1, 4)
    """
    tot = sum((int(v) >> (FRAC - r) << (FRAC - r)) - int(v) for v in k)
    return Fraction(tot, len(k) << FRAC)


def _ideal_stderr(k, r: int, n_casts: int) -> float:
    """Standard deviation of the mean bias for uniform R: sqrt(c sum p(1 - p)) / N."""
    p = (np.asarray(k) >> (FRAC - r)).astype(np.float64) / 2.0**r
    c = n_casts // len(k)
    return math.sqrt(c * float(np.sum(p * (1 - p)))) / n_casts


def _measure_bias(src, k, r: int, n_casts: int) -> Fraction:
    """Mean of cast(x) - x in LSB over n_casts casts of the inputs tiled (exact arithmetic)."""
    m = len(k)
    if n_casts % m:
        raise ValueError(f"n_casts ({n_casts}) must be a multiple of the number of inputs ({m})")
    per = max(1, CHUNK // m)
    x = np.tile(_x_of(k), per)
    total, left = 0, n_casts // m
    while left:
        c = min(per, left)
        y = fxsim.cast(x[: c * m], FMT, "stochastic", "saturate", r=r, source=src)
        total += int(y.raw.astype(np.int64).sum())
        left -= c
    c = n_casts // m
    exact = c * sum((Q0 << FRAC) + int(v) for v in k)
    return Fraction((total << FRAC) - exact, n_casts << FRAC)


def sr_bias(sources=None, rs=range(2, 17), n_casts=2**20, n_phi=256, seed=0, progress=False):
    """(a) Rows: for every source and r, the measured mean SR bias (LSB) of ``n_casts`` casts of
    ``n_phi`` inputs (``bias_inputs``), the §2 prediction, the standard error an ideal source
    would have (``stderr``) and z = (measured - predicted) / stderr.  r > n is skipped for
    the state rule (it needs r <= n).

    >>> rows = sr_bias([IDEAL], rs=[4], n_casts=2**12, n_phi=16)
    >>> r = rows[0]; r["source"], r["r"], round(r["predicted"], 4)   # spec section 2
    ('ideal PCG64', 4, -0.0297)
    >>> abs(r["z"]) < 5
    True
    """
    sources = default_sources() if sources is None else list(sources)
    k = bias_inputs(n_phi, seed)
    n_casts = max(n_phi, n_casts // n_phi * n_phi)
    rs = list(rs)
    pred = {r: predicted_bias(k, r) for r in rs}
    se = {r: _ideal_stderr(k, r, n_casts) for r in rs}
    tasks = [(s, r) for s in sources for r in rs if r <= s.max_r()]
    bar = make_progress(len(tasks), "(a) SR bias", progress)
    rows = []
    for spec, r in tasks:
        meas = _measure_bias(spec.make(seed, "bias", r), k, r, n_casts)
        p = float(pred[r])
        rows.append(_row("bias", spec, r=r, x=r, count=n_casts, metric="bias_lsb", value=float(meas),
                         predicted=p, stderr=se[r], z=(float(meas) - p) / se[r]))
        bar.update(1, spec.label)
    bar.close()
    return rows


def sr_bias_sawtooth(sources=None, r=3, n_points=64, casts_per_point=2**14, seed=0,
                     progress=False):
    """(a) Rows: bias (LSB) as a function of the discarded fraction phi for one r: n_points
    inputs phi_j = (j + u_j) / n_points (u_j random, FRAC bits), each cast casts_per_point
    times (inputs interleaved, so every input meets the whole stream).

    >>> rows = sr_bias_sawtooth([IDEAL], r=3, n_points=4, casts_per_point=64)
    >>> len(rows), sorted({r["metric"] for r in rows})
    (4, ['bias_lsb'])
    """
    if sources is None:
        sources = [IDEAL, SourceSpec("lfsr", 8, "galois", "serial"),
                   SourceSpec("lfsr", 8, "galois", "state")]
    rng = _rng(seed, "sawtooth", n_points)
    u = rng.integers(0, (1 << FRAC) // n_points, size=n_points, dtype=np.int64)
    k = np.arange(n_points, dtype=np.int64) * ((1 << FRAC) // n_points) + u
    x = np.tile(_x_of(k), casts_per_point)
    bar = make_progress(len(sources), f"(a) bias vs phi, r={r}", progress)
    rows = []
    for spec in sources:
        y = fxsim.cast(x, FMT, "stochastic", "saturate", r=r, source=spec.make(seed, "saw", r))
        ups = y.raw.astype(np.int64).reshape(casts_per_point, n_points).sum(axis=0) - Q0 * casts_per_point
        for j in range(n_points):
            kj = int(k[j])
            phi = Fraction(kj, 1 << FRAC)
            D = kj >> (FRAC - r)
            p = D / 2**r
            meas = Fraction(int(ups[j]), casts_per_point) - phi
            rows.append(_row("bias_vs_phi", spec, r=r, x=float(phi), metric="bias_lsb", count=casts_per_point,
                             value=float(meas), predicted=float(Fraction(D, 2**r) - phi),
                             stderr=math.sqrt(p * (1 - p) / casts_per_point)))
        bar.update(1, spec.label)
    bar.close()
    return rows


# -- (b) autocorrelation of rounding errors ----------------------------------------------------

def _acf(e: np.ndarray, max_lag: int) -> list:
    e = e - e.mean()
    c0 = float(e @ e)
    return [float(e[:-h] @ e[h:]) / c0 for h in range(1, max_lag + 1)]


def error_acf(sources=None, r=8, n_casts=2**20, max_lag=16, seed=0, progress=False):
    """(b) Rows: lag-1..max_lag autocorrelation of the rounding errors e_j = cast(x_j) - x_j
    (LSB) of n_casts casts of i.i.d. inputs with FRAC-bit discarded fractions.  ``stderr`` is
    1/sqrt(N), the standard error of an autocorrelation of independent errors.

    >>> rows = error_acf([IDEAL], r=8, n_casts=2**12, max_lag=2)
    >>> [r["x"] for r in rows], all(abs(r["value"]) < 5 * r["stderr"] for r in rows)
    ([1, 2], True)
    """
    sources = default_sources() if sources is None else list(sources)
    k = _rng(seed, "acf-inputs", n_casts).integers(0, 1 << FRAC, size=n_casts, dtype=np.int64)
    x = _x_of(k)
    t = x * 2.0**FMT.fl                                  # exact (FRAC + 2 bits)
    todo = [s for s in sources if r <= s.max_r()]
    bar = make_progress(len(todo), f"(b) error ACF, r={r}", progress)
    rows = []
    for spec in todo:
        src = spec.make(seed, "acf", r)
        e = np.empty(n_casts)
        for a in range(0, n_casts, CHUNK):
            y = fxsim.cast(x[a:a + CHUNK], FMT, "stochastic", "saturate", r=r, source=src)
            e[a:a + CHUNK] = y.raw - t[a:a + CHUNK]
        for h, rho in enumerate(_acf(e, max_lag), start=1):
            rows.append(_row("acf", spec, r=r, x=h, count=n_casts, metric="acf", value=rho, predicted=0.0,
                             stderr=1 / math.sqrt(n_casts), z=rho * math.sqrt(n_casts)))
        bar.update(1, spec.label)
    bar.close()
    return rows


# -- (c) a long accumulation -------------------------------------------------------------------

def accumulate_recurrence(inc: FixedArray, acc_fmt: QFormat, rounding: str, r=None, source=None,
                          steps=None) -> np.ndarray:
    """The accumulator's raw value after each step of acc <- cast(acc + inc_k, acc_fmt), one
    ``fxsim.add`` per step (acc_0 = 0).  Slow (tens of microseconds a step): the reference.

    >>> import fxsim
    >>> inc = fxsim.cast([2**-10] * 8, INC)      # a quarter of the accumulator's LSB each
    >>> accumulate_recurrence(inc, ACC, "nearest_even").tolist()   # stagnates at 0
    [0, 0, 0, 0, 0, 0, 0, 0]
    >>> accumulate_recurrence(inc, ACC, "stochastic", r=8, source=fxsim.LFSR(16, seed=9)).tolist()
    [0, 0, 0, 0, 0, 1, 2, 2]
    """
    steps = inc.size if steps is None else steps
    acc = fxsim.cast(np.zeros(1), acc_fmt)
    kw = dict(r=r, source=source) if rounding in fxsim.STOCHASTIC else {}
    out = np.empty(steps, dtype=np.int64)
    flat = inc.ravel()
    for j in range(steps):
        acc = fxsim.add(acc, flat[j:j + 1], fmt=acc_fmt, rounding=rounding, overflow="saturate", **kw)
        out[j] = int(acc.raw[0])
    return out


def accumulate_split(inc: FixedArray, acc_fmt: QFormat, rounding: str, r=None, source=None) -> np.ndarray:
    """The same trajectory as ``accumulate_recurrence`` from one ``fxsim.cast`` of all the
    increments and a cumulative sum.  Exact, by spec §2: acc_k is on acc_fmt's grid, so
    acc_k + inc_k has q = acc_k + floor(inc_k) and the discarded fraction phi of inc_k alone;
    a stochastic cast's decision depends only on phi and its draw R, and both calls take one
    draw per step in step order.  Valid while no partial sum overflows, and for deterministic
    modes while no phi is exactly 1/2 (ties to even look at q); both are checked.

    >>> import fxsim
    >>> inc = fxsim.cast(np.linspace(0.001, 0.01, 50), INC)
    >>> a = accumulate_split(inc, ACC, "stochastic", r=8, source=fxsim.LFSR(16, seed=5))
    >>> b = accumulate_recurrence(inc, ACC, "stochastic", r=8, source=fxsim.LFSR(16, seed=5))
    >>> bool((a == b).all())
    True
    """
    s = inc.fmt.fl - acc_fmt.fl
    if s < 0:
        raise ValueError("accumulate_split needs increments at least as fine as the accumulator")
    raw = np.asarray(inc.raw, dtype=np.int64).ravel()
    if rounding not in fxsim.STOCHASTIC and s > 0 and np.any((raw & ((1 << s) - 1)) == 1 << (s - 1)):
        raise ValueError("an increment's discarded part is exactly 1/2: use accumulate_recurrence")
    kw = dict(r=r, source=source) if rounding in fxsim.STOCHASTIC else {}
    steps = fxsim.cast(inc.ravel(), acc_fmt, rounding, "saturate", **kw)
    traj = np.cumsum(steps.raw.astype(np.int64))
    if traj.size and (traj.min() < acc_fmt.min_raw or traj.max() > acc_fmt.max_raw):
        raise ValueError("a partial sum overflows the accumulator: use accumulate_recurrence")
    return traj


@dataclass(frozen=True)
class AccConfig:
    """One accumulator configuration of (c): the rounding of acc ← cast(acc + inc), r and
    the bit source (None for deterministic rounding).

    >>> AccConfig("stochastic", 8, SourceSpec("lfsr", 16, "galois", "serial")).label
    '...LFSR16 gal serial x1...'
    """
    rounding: str
    r: int | None = None
    spec: SourceSpec | None = None

    @property
    def label(self) -> str:
        if self.spec is None:
            return self.rounding
        return f"SR r={self.r}, {self.spec.label}"


def default_acc_configs() -> list:
    """The configurations of (c): round-to-nearest-even, SR with r = 8 (ideal, LFSR 8/16,
    serial/state) and SR with r = 16 (ideal, LFSR 16/32 serial).

    >>> cfgs = default_acc_configs()
    >>> len(cfgs), cfgs[0].label
    (9, 'nearest_even')
    """
    g = lambda n, rule: SourceSpec("lfsr", n, "galois", rule)   # noqa: E731
    return ([AccConfig("nearest_even")]
            + [AccConfig("stochastic", 8, s) for s in (IDEAL, g(8, "serial"), g(8, "state"),
                                                        g(16, "serial"), g(16, "state"))]
            + [AccConfig("stochastic", 16, s) for s in (IDEAL, g(16, "serial"), g(32, "serial"))])


STREAMS = {
    "iid": "i.i.d. increments",
    "period15": "periodic increments, period 15",
    "period16": "periodic increments, period 16",
}


def increments(stream: str, steps: int, seed: int = 0) -> FixedArray:
    """(c) The increments in INC: INC_MEAN * (1 + u_k / 2), u_k uniform in [-1, 1] (``iid``) or
    u_k = sin(2 pi k / m) (``period<m>``); all in [0.128, 0.384] LSB of ACC, below 1/2.

    >>> inc = increments("period16", 32)
    >>> inc.fmt == INC, bool(((inc.to_float() >= 0.128 * 2**-8) & (inc.to_float() <= 0.384 * 2**-8)).all())
    (True, True)
    """
    if stream == "iid":
        u = _rng(seed, "increments", steps).uniform(-1.0, 1.0, steps)
    elif stream.startswith("period"):
        m = int(stream[6:])
        u = np.sin(2 * np.pi * (np.arange(steps) % m) / m)
    else:
        raise ValueError(f"unknown increment stream {stream!r}")
    raw = np.floor(INC_MEAN * (1 + 0.5 * u) * 2.0**INC.fl)
    raw = raw + (raw % 2 == 0)           # odd raw words: no discarded part is ever exactly 1/2
    return FixedArray(raw.astype(INC.dtype), INC)


TRACE_STREAMS = ("iid", "period15")


def accumulation(configs=None, streams=tuple(STREAMS), steps=10**6, trials=16, check_steps=4096,
                 trace_points=200, seed=0, progress=False):
    """(c) Rows: for every config and increment stream, the final value of a Q(20, 8)
    accumulator after ``steps`` increments (``trials`` runs with differently seeded sources;
    deterministic modes run once) against the exact sum; the mean and s.d. of the relative error;
    whether the fast trajectory equals the per-step recurrence over the first ``check_steps``
    steps (``recurrence_match``); and ``trace_points`` points of trial 0's trajectory (for the
    streams of ``TRACE_STREAMS``).

    >>> rows = accumulation(streams=("iid",), steps=2**10, trials=1, check_steps=64, trace_points=4)
    >>> sorted({r["metric"] for r in rows})
    ['acc_value', 'final_lsb', 'recurrence_match', 'rel_error_mean', 'rel_error_sd']
    """
    configs = default_acc_configs() if configs is None else list(configs)
    n_runs = sum(len(streams) * (trials if c.spec else 1) for c in configs)
    bar = make_progress(n_runs, "(c) accumulation", progress)
    rows = []
    stride = max(1, steps // trace_points)
    for stream in streams:
        inc = increments(stream, steps, seed)
        cum = np.cumsum(np.asarray(inc.raw, dtype=np.int64))
        s = INC.fl - ACC.fl
        exact = Fraction(int(cum[-1]), 1 << s)              # in ACC LSB
        rows.append(_row("accumulation", source="exact", stream=stream, trial=0, x=steps, count=steps,
                         metric="final_lsb", value=float(exact), predicted=float(exact)))
        if stream in TRACE_STREAMS:
            for j in range(stride - 1, steps, stride):
                rows.append(_row("accumulation_trace", source="exact", stream=stream, trial=0,
                                 x=j + 1, metric="acc_value", value=float(cum[j]) / 2.0**INC.fl))
        for cfg in configs:
            fields = cfg.spec.fields() if cfg.spec else {}
            fields["source"] = cfg.label
            errs = []
            for trial in range(trials if cfg.spec else 1):
                src = cfg.spec.make(seed, "acc", stream, cfg.r, trial) if cfg.spec else None
                traj = accumulate_split(inc, ACC, cfg.rounding, cfg.r, src)
                rel = (float(traj[-1]) - float(exact)) / float(exact)
                errs.append(rel)
                rows.append(_row("accumulation", **fields, r=cfg.r, stream=stream, trial=trial,
                                 x=steps, count=steps, metric="final_lsb", value=float(traj[-1]),
                                 predicted=float(exact)))
                if trial == 0:
                    if check_steps:
                        src2 = cfg.spec.make(seed, "acc", stream, cfg.r, trial) if cfg.spec else None
                        ref = accumulate_recurrence(inc, ACC, cfg.rounding, cfg.r, src2, check_steps)
                        rows.append(_row("accumulation", **fields, r=cfg.r, stream=stream, trial=0,
                                         x=check_steps, metric="recurrence_match",
                                         value=float(np.array_equal(ref, traj[:check_steps]))))
                    if stream in TRACE_STREAMS:
                        for j in range(stride - 1, steps, stride):
                            rows.append(_row("accumulation_trace", **fields, r=cfg.r, stream=stream,
                                             trial=0, x=j + 1, metric="acc_value",
                                             value=float(traj[j]) / 2.0**ACC.fl))
                bar.update(1, f"{stream} {cfg.label}")
            e = np.array(errs)
            rows.append(_row("accumulation", **fields, r=cfg.r, stream=stream, x=steps,
                             metric="rel_error_mean", value=float(e.mean()), predicted=0.0,
                             stderr=float(e.std(ddof=1) / math.sqrt(e.size)) if e.size > 1 else 0.0))
            rows.append(_row("accumulation", **fields, r=cfg.r, stream=stream, x=steps,
                             metric="rel_error_sd", value=float(e.std(ddof=1)) if e.size > 1 else 0.0))
    bar.close()
    return rows


# -- (d) lanes ---------------------------------------------------------------------------------

ARRANGEMENTS = {
    "round-robin": "one register, draws dealt round-robin to the L units",
    "sliced": "one 64-bit register (state rule), unit l takes state bits [r·l, r·l + r)",
    "lanes": "LFSR(lanes=L): L jump-ahead copies of one register",
    "independent": "L independent registers (different seeds)",
    "ideal": "ideal bits (PCG64)",
}


def _lane_stats(E: np.ndarray, block: int) -> dict:
    """E: (steps, L) rounding errors.  var_ratio = Var(S)/sum Var(e_l) with S_k = sum_l e_kl
    (1 when the units are uncorrelated); lag1 = corr(S_k, S_k+1); block_var_ratio =
    Var(sum of S over ``block`` cycles) / (block * sum Var(e_l)) (1 for independent errors)."""
    S = E.sum(axis=1)
    v = float(E.var(axis=0).sum())
    Sc = S - S.mean()
    nb = S.size // block
    B = S[: nb * block].reshape(nb, block).sum(axis=1)
    return {"var_ratio": float(S.var()) / v, "lag1": float(Sc[:-1] @ Sc[1:]) / float(Sc @ Sc),
            "block_var_ratio": float(B.var()) / (block * v)}


def lanes(Ls=(1, 2, 4, 8, 16), n=16, r=8, steps=2**18, block=64, seed=0, progress=False):
    """(d) Rows: for L units each rounding one i.i.d. input per cycle (``steps`` cycles), the
    statistics of ``_lane_stats`` for every arrangement of ``ARRANGEMENTS`` (LFSR n bits, both
    draw rules; ``sliced``: state rule of a 64-bit register, for r * L <= 64).

    >>> rows = lanes(Ls=(2,), steps=2**10, block=64)
    >>> sorted({r["study"] for r in rows}), len(rows) > 0
    (['lanes'], True)
    """
    tasks = []
    for L in Ls:
        for arr in ARRANGEMENTS:
            rules = ("state",) if arr == "sliced" else (None,) if arr == "ideal" else ("state", "serial")
            for rule in rules:
                if arr == "sliced" and r * L > 64:
                    continue
                tasks.append((L, arr, rule))
    bar = make_progress(len(tasks), "(d) lanes", progress)
    rows, cache = [], {}
    for L, arr, rule in tasks:
        if L not in cache:
            k = _rng(seed, "lane-inputs", L, steps).integers(0, 1 << FRAC, size=(steps, L), dtype=np.int64)
            x = _x_of(k)
            cache = {L: (x, x * 2.0**FMT.fl)}
        x, t = cache[L]
        key = ("lanes", arr, rule, L, n, r)
        if arr == "round-robin":
            spec = SourceSpec("lfsr", n, "galois", rule, 1)
            y = fxsim.cast(x, FMT, "stochastic", "saturate", r=r, source=spec.make(seed, *key)).raw
        elif arr == "lanes":
            spec = SourceSpec("lfsr", n, "galois", rule, L)
            y = fxsim.cast(x, FMT, "stochastic", "saturate", r=r, source=spec.make(seed, *key)).raw
        elif arr == "independent":
            spec = SourceSpec("lfsr", n, "galois", rule, 1)
            y = np.stack([fxsim.cast(x[:, l], FMT, "stochastic", "saturate", r=r,
                                     source=spec.make(seed, *key, l)).raw for l in range(L)], axis=1)
        elif arr == "sliced":
            spec = SourceSpec("lfsr", 64, "galois", "state", 1)
            R = spec.make(seed, *key).draws(steps, r * L)
            mask = np.uint64((1 << r) - 1)
            D = np.stack([(R >> np.uint64(r * l)) & mask for l in range(L)], axis=1)
            y = fxsim.cast(x, FMT, "stochastic", "saturate", r=r, draws=D).raw
        else:
            spec = IDEAL
            y = fxsim.cast(x, FMT, "stochastic", "saturate", r=r, source=spec.make(seed, *key)).raw
        st = _lane_stats(y - t, block)
        f = spec.fields()
        f["lanes"] = L if arr == "lanes" else f["lanes"]
        f["source"] = arr
        for metric, val in st.items():
            rows.append(_row("lanes", **f, r=r, x=L, count=steps, metric=metric, value=val,
                             predicted=1.0 if metric != "lag1" else 0.0))
        bar.update(1, f"L={L} {arr} {rule or ''}")
    bar.close()
    return rows


# -- output ------------------------------------------------------------------------------------

def write_csv(rows, path):
    """Write the study's rows to ``path`` (columns ``COLUMNS``; missing values empty).

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "rows.csv")
    >>> write_csv([{"study": "bias", "source": "ideal PCG64", "r": 4, "value": -0.03}], p)
    >>> open(p).read().splitlines()[1]
    'bias,ideal PCG64,,,,,4,,,,,,-0.03,,,'
    """
    _write_rows(rows, path, COLUMNS)


def _sel(rows, **kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


def _fmt(v, digits=3):
    return fmt_number(v, digits, fixed_from=1e-3)


_table = markdown_table


def markdown(rows, meta=None) -> str:
    """The study's tables (one per measurement) as markdown.

    >>> print(markdown([], {"seed": 0}))
    # LFSR vs ideal randomness for stochastic rounding
    <BLANKLINE>
    seed = 0
    <BLANKLINE>
    """
    meta = meta or {}
    parts = ["# LFSR vs ideal randomness for stochastic rounding", ""]
    if meta:
        parts += [", ".join(f"{k} = {v}" for k, v in meta.items()), ""]

    bias = _sel(rows, study="bias")
    if bias:
        rs = sorted({r["r"] for r in bias})
        show = [r for r in (2, 4, 6, 8, 10, 12, 16) if r in rs]
        n_casts = meta.get("bias_casts")
        parts += ["## (a) SR bias E[cast(x)] − x (LSB) against spec §2",
                  "",
                  "Mean bias over one fixed set of inputs (the same for every source)"
                  + (f" ({n_casts} casts per cell)" if n_casts else "")
                  + "; first row: the exact §2 value (P(up) = D/2^r). z = (measured − §2)/σ, σ = "
                    "the sampling error of ideal bits; |z| ≤ 3 is indistinguishable from ideal.",
                  ""]
        body = [["§2 prediction"] + [_fmt(_sel(bias, r=r)[0]["predicted"]) for r in show] + ["", ""]]
        body.append(["σ (ideal)"] + [_fmt(_sel(bias, r=r)[0]["stderr"]) for r in show] + ["", ""])
        for src in dict.fromkeys(r["source"] for r in bias):
            cells = []
            for r in show:
                c = _sel(bias, source=src, r=r)
                cells.append(_fmt(c[0]["value"]) if c else "—")
            zs = [(abs(c["z"]), c["r"]) for c in _sel(bias, source=src)]
            zmax, rz = max(zs)
            cells += [f"{zmax:.1f}", str(rz)]
            body.append([src] + cells)
        parts += [_table(["source"] + [f"r={r}" for r in show] + ["max abs z", "at r"], body), ""]

    acf = _sel(rows, study="acf")
    if acf:
        se = acf[0]["stderr"]
        parts += [f"## (b) Autocorrelation of rounding errors (r = {acf[0]['r']})", "",
                  f"ρ(lag) of e_j = cast(x_j) − x_j for i.i.d. inputs; ideal bits give |ρ| ≲ "
                  f"3/√N = {3 * se:.4f}.", ""]
        body = []
        for src in dict.fromkeys(r["source"] for r in acf):
            c = {r["x"]: r["value"] for r in _sel(acf, source=src)}
            lag, m = max(c.items(), key=lambda kv: abs(kv[1]))
            body.append([src] + [f"{c[h]:+.4f}" for h in (1, 2, 3, 8)] + [f"{m:+.4f}", str(lag)])
        parts += [_table(["source", "lag 1", "lag 2", "lag 3", "lag 8", "max abs ρ", "at lag"], body), ""]

    acc = _sel(rows, study="accumulation")
    if acc:
        streams = list(dict.fromkeys(r["stream"] for r in acc))
        ex = {s: _sel(acc, source="exact", stream=s)[0]["value"] for s in streams}
        steps = acc[0]["x"]
        parts += ["## (c) A long accumulation in a narrow accumulator", "",
                  f"{steps:,} increments of mean {INC_MEAN} (= {INC_MEAN * 2**ACC.fl:.3f} LSB) into "
                  f"Q({ACC.wl},{ACC.fl}) (lsb 2^-{ACC.fl}); exact sums: "
                  + ", ".join(f"{STREAMS.get(s, s)} {ex[s] / 2**ACC.fl:.3f}" for s in streams)
                  + ". Cells: relative error of the final value, mean ± s.d. over trials "
                    "(differently seeded sources).", ""]
        body = []
        for src in dict.fromkeys(r["source"] for r in acc if r["source"] != "exact"):
            cells = []
            for s in streams:
                m = _sel(acc, source=src, stream=s, metric="rel_error_mean")
                sd = _sel(acc, source=src, stream=s, metric="rel_error_sd")
                cells.append(f"{100 * m[0]['value']:+.3f}% ± {100 * sd[0]['value']:.3f}%" if m else "—")
            ok = _sel(acc, source=src, metric="recurrence_match")
            cells.append("yes" if ok and all(o["value"] == 1.0 for o in ok) else ("NO" if ok else "—"))
            body.append([src] + cells)
        parts += [_table(["rounding, source"] + [STREAMS.get(s, s) for s in streams]
                         + ["= per-step recurrence"], body), ""]

    ln = _sel(rows, study="lanes")
    if ln:
        Lmax = max(r["x"] for r in ln)
        Ls = [L for L in sorted({r["x"] for r in ln}) if L in (8, Lmax)]
        parts += ["## (d) L rounding units: where their random bits come from", "",
                  "S = the sum of the L units' rounding errors in one cycle. Var ratio = Var(S) / Σ Var(e_l) "
                  "(1: uncorrelated units); lag 1 = corr(S_k, S_k+1); 64-cycle var ratio = Var(sum of S "
                  "over 64 cycles) / (64 Σ Var(e_l)) (1: fully independent errors).", ""]
        body = []
        for L in Ls:
            for arr in ARRANGEMENTS:
                for rule in ("state", "serial", None):
                    c = {r["metric"]: r["value"] for r in _sel(ln, x=L, source=arr, rule=rule)}
                    if c:
                        body.append([str(L), ARRANGEMENTS[arr].replace("L units", f"{L} units"),
                                     rule or "—", f"{c['var_ratio']:.3f}", f"{c['lag1']:+.3f}",
                                     f"{c['block_var_ratio']:.3f}"])
        parts += [_table(["L", "arrangement", "rule", "var ratio", "lag 1", "64-cycle var ratio"], body), ""]
    return "\n".join(parts)


# -- figures -----------------------------------------------------------------------------------

_figure = figure


def _save(fig, path, dpi=100):
    fig.savefig(path, dpi=dpi)
    return path


_MARK = {"ideal": ("k", "o"), 8: ("tab:red", "s"), 16: ("tab:blue", "^"), 32: ("tab:green", "D"),
         64: ("tab:purple", "v")}


def _style(row):
    if row.get("n") is None:
        return dict(color="k", marker="o")
    c, m = _MARK.get(row["n"], ("tab:gray", "x"))
    return dict(color=c, marker=m, mfc="none" if row.get("rule") == "state" else c)


def _heatmap(ax, fig, mat, rows_lab, cols_lab, vlim, cbar_label, annotate_abs, fmt):
    import matplotlib as mpl
    cmap = mpl.colormaps["RdBu_r"].with_extremes(bad="0.85")
    im = ax.imshow(np.ma.masked_invalid(mat), cmap=cmap, vmin=-vlim, vmax=vlim, aspect="auto",
                   interpolation="nearest")
    ax.set_yticks(range(len(rows_lab)), rows_lab, fontsize=7.5)
    ax.set_xticks(range(len(cols_lab)), cols_lab)
    for i in range(mat.shape[0]):
        for j in range(mat.shape[1]):
            v = mat[i, j]
            if np.isnan(v):
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=6, color="0.45")
            elif abs(v) >= annotate_abs:
                ax.text(j, i, fmt(v), ha="center", va="center", fontsize=6,
                        color="w" if abs(v) > 0.6 * vlim else "k")
    cb = fig.colorbar(im, ax=ax, shrink=0.9, extend="both")
    cb.set_label(cbar_label)


def plot_bias(rows, path):
    bias, saw = _sel(rows, study="bias"), _sel(rows, study="bias_vs_phi")
    fig = _figure(13, 11.5)
    gs = fig.add_gridspec(2, 2, height_ratios=[1, 1.45])
    ax1, ax2, ax3 = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1]), fig.add_subplot(gs[1, :])
    if saw:
        r = saw[0]["r"]
        grid = np.linspace(0, 1, 4001)[:-1]
        ax1.plot(grid, np.floor(grid * 2**r) / 2**r - grid, color="0.6", lw=1.5,
                 label=f"§2 exact: D/2^{r} − φ")
        for src in dict.fromkeys(s["source"] for s in saw):
            pts = _sel(saw, source=src)
            st = _style(pts[0])
            ax1.errorbar([p["x"] for p in pts], [p["value"] for p in pts],
                         yerr=[2 * p["stderr"] for p in pts], ls="none", ms=4, label=src, **st)
        ax1.set_xlabel("discarded fraction φ (LSB)")
        ax1.set_ylabel("bias E[cast(x)] − x (LSB)")
        ax1.set_title(f"(a1) r = {r}: ideal bits follow the §2 sawtooth D/2^{r} − φ; the 8-bit serial\n"
                      f"register does not (gcd({r}, 255) = {math.gcd(r, 255)}: its draws repeat every "
                      f"{255 // math.gcd(r, 255)})\n"
                      f"({saw[0]['count']:,} casts per point; error bars ±2σ of ideal bits)", fontsize=10)
        ax1.legend(fontsize=8, loc="lower left")
        ax1.set_xlim(0, 1)
    if bias:
        rs = sorted({b["r"] for b in bias})
        pred = [_sel(bias, r=r)[0]["predicted"] for r in rs]
        se = np.array([_sel(bias, r=r)[0]["stderr"] for r in rs])
        ax2.plot(rs, pred, color="0.4", lw=2, label="§2 exact (mean over the inputs)")
        ax2.fill_between(rs, np.array(pred) - 2 * se, np.array(pred) + 2 * se, color="0.85",
                         label="±2σ sampling band of ideal bits")
        picks = ["ideal PCG64", "LFSR8 gal serial x1", "LFSR8 gal state x1", "LFSR8 fib state x8",
                 "LFSR16 gal serial x1", "LFSR32 gal serial x1"]
        for i, src in enumerate(picks):
            pts = _sel(bias, source=src)
            if not pts:
                continue
            st = _style(pts[0])
            off = (i - len(picks) / 2) * 0.06
            ax2.plot([p["r"] + off for p in pts], [p["value"] for p in pts], ls=":", ms=5,
                     label=src, **st)
        ax2.set_yscale("symlog", linthresh=float(10 ** math.floor(math.log10(2 * se.max()))))
        ax2.set_xlabel("random bits per draw r")
        ax2.set_ylabel("mean bias E[cast(x)] − x (LSB, symlog)")
        ax2.set_title("(a2) Few-bit SR is biased by ≈ −2^−(r+1) LSB, as §2 says. An 8-bit serial LFSR\n"
                      "misses where gcd(r, 255) > 1: its draws then repeat every 255/gcd(r, 255)", fontsize=10)
        ax2.legend(fontsize=7.5, loc="lower right")
        ax2.grid(alpha=0.3)
        srcs = list(dict.fromkeys(b["source"] for b in bias))
        mat = np.full((len(srcs), len(rs)), np.nan)
        for b in bias:
            mat[srcs.index(b["source"]), rs.index(b["r"])] = b["z"]
        _heatmap(ax3, fig, mat, srcs, [str(r) for r in rs], 10,
                 "z = (measured − §2) / σ_ideal  (clipped at ±10)", 3,
                 lambda v: f"{v:.0f}" if abs(v) >= 10 else f"{v:.1f}")
        ax3.set_xlabel("random bits per draw r")
        ax3.set_title("(a3) Is each source's bias distinguishable from ideal bits? Numbers mark "
                      "|z| ≥ 3 (white cells: consistent with §2 within sampling noise; n/a: the "
                      "state rule needs r ≤ n)", fontsize=10)
    return _save(fig, path)


def plot_acf(rows, path):
    acf = _sel(rows, study="acf")
    fig = _figure(14, 7.5)
    gs = fig.add_gridspec(1, 2, width_ratios=[1, 1.15])
    ax1, ax2 = fig.add_subplot(gs[0]), fig.add_subplot(gs[1])
    se = acf[0]["stderr"]
    lags = sorted({a["x"] for a in acf})
    ax1.axhspan(-3 * se, 3 * se, color="0.85", label="±3/√N: what ideal bits allow")
    picks = ["ideal PCG64", "LFSR16 gal serial x1", "LFSR8 gal serial x1", "LFSR16 fib state x1",
             "LFSR16 gal state x1", "LFSR8 gal state x1", "LFSR16 gal state x8"]
    palette = ["k", "tab:blue", "tab:red", "tab:green", "tab:orange", "tab:purple", "tab:cyan"]
    for src, c in zip(picks, palette):
        pts = _sel(acf, source=src)
        if pts:
            state = pts[0].get("rule") == "state"
            ax1.plot([p["x"] for p in pts], [p["value"] for p in pts], color=c,
                     ls="--" if pts[0].get("lanes") == 8 else "-", marker="o" if state else "x",
                     mfc="none", ms=5, label=src)
    ax1.axhline(0, color="k", lw=0.6)
    ax1.set_xticks(lags)
    ax1.set_xlabel("lag (casts)")
    ax1.set_ylabel("autocorrelation of the rounding error ρ(lag)")
    ax1.set_title(f"(b1) The state rule correlates consecutive rounding errors (ρ1 ≈ 1/4);\n"
                  f"with 8 lanes the correlation moves to lag 8. Serial ≈ ideal, except that an 8-bit\n"
                  f"register's period (255) leaves ρ ≈ −0.006 at every lag. r = {acf[0]['r']}, "
                  f"N = {round(1 / se**2):,}", fontsize=10)
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    srcs = list(dict.fromkeys(a["source"] for a in acf))
    mat = np.full((len(srcs), len(lags)), np.nan)
    for a in acf:
        mat[srcs.index(a["source"]), lags.index(a["x"])] = a["value"]
    _heatmap(ax2, fig, mat, srcs, [str(h) for h in lags], 0.3, "ρ(lag)", max(0.02, 5 * se),
             lambda v: f"{v:.2f}")
    ax2.set_xlabel("lag (casts)")
    ax2.set_title(f"(b2) Every source; numbers mark |ρ| ≥ {max(0.02, 5 * se):.3f}", fontsize=10)
    return _save(fig, path)


def plot_accumulation(rows, path):
    tr = _sel(rows, study="accumulation_trace")
    acc = _sel(rows, study="accumulation")
    fig = _figure(15, 8.5)
    gs = fig.add_gridspec(2, 2, width_ratios=[1, 1.25])
    ax1, ax3, ax2 = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[1, 0]), fig.add_subplot(gs[:, 1])
    steps = acc[0]["x"]
    cfgs = [s for s in dict.fromkeys(a["source"] for a in acc) if s not in ("exact", "nearest_even")]
    palette = ["k", "tab:red", "tab:orange", "tab:blue", "tab:cyan", "0.45", "tab:purple", "tab:green"]
    color = dict(zip(cfgs, palette))

    def trace(src, stream):
        pts = _sel(tr, source=src, stream=stream)
        return np.array([p["x"] for p in pts]), np.array([p["value"] for p in pts])

    xs, ex = trace("exact", "iid")
    ax1.plot(xs, ex, color="k", lw=3, ls="--", label="exact sum", zorder=3)
    x0, v0 = trace("nearest_even", "iid")
    ax1.plot(x0, v0, color="tab:red", lw=3, label="nearest_even: stuck at 0 (every increment < LSB/2)")
    for src in cfgs:
        if src.startswith("SR r=8, ideal") or src.startswith("SR r=8, LFSR8 gal serial"):
            x1, v1 = trace(src, "iid")
            ax1.plot(x1, v1, color=color[src], lw=1.2, label=src)
    ax1.set_xlabel("step (increments added)")
    ax1.set_ylabel("accumulator value")
    ax1.set_title(f"(c1) {STREAMS['iid']} of mean {INC_MEAN} (= {INC_MEAN * 2**ACC.fl:.2f} LSB) into "
                  f"Q({ACC.wl},{ACC.fl}):\nnearest_even stagnates; stochastic rounding tracks the exact sum",
                  fontsize=10)
    ax1.legend(fontsize=8, loc="upper left")
    ax1.grid(alpha=0.3)
    ax1.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))

    xs, ex = trace("exact", "period15")
    for src in cfgs:
        x1, v1 = trace(src, "period15")
        if x1.size:
            ax3.plot(x1, (v1 - ex) * 2**ACC.fl, color=color[src], lw=1.2,
                     ls="-" if "r=8" in src else "--", label=src)
    ax3.axhline(0, color="k", lw=0.8)
    ax3.set_xlabel("step (increments added)")
    ax3.set_ylabel("accumulator − exact sum (LSB)")
    ax3.set_title("(c3) Error as it builds up, period-15 increments, trial 0: an 8-bit LFSR drifts\n"
                  "steadily (a systematic error) while ideal bits wander like a random walk", fontsize=10)
    ax3.legend(fontsize=7, loc="upper left", ncol=2)
    ax3.grid(alpha=0.3)
    ax3.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))

    streams = list(dict.fromkeys(a["stream"] for a in acc))
    markers = {"iid": ("o", "tab:blue"), "period15": ("s", "tab:red"), "period16": ("^", "tab:green")}
    for si, s in enumerate(streams):
        m, c = markers.get(s, ("x", "k"))
        ex = _sel(acc, source="exact", stream=s)[0]["value"]
        for ci, cfg in enumerate(cfgs):
            y = ci + (si - (len(streams) - 1) / 2) * 0.22
            vals = [100 * (f["value"] - ex) / ex for f in _sel(acc, source=cfg, stream=s, metric="final_lsb")]
            ax2.plot(vals, [y] * len(vals), ls="none", marker=m, mfc="none", color=c, ms=5, alpha=0.75,
                     label=STREAMS.get(s, s) if ci == 0 else None)
            mean = _sel(acc, source=cfg, stream=s, metric="rel_error_mean")[0]["value"]
            ax2.plot([100 * mean], [y], marker="|", color=c, ms=14, mew=2.5)
    ax2.axvline(0, color="k", lw=0.8)
    ax2.set_yticks(range(len(cfgs)), cfgs, fontsize=8.5)
    ax2.invert_yaxis()
    ax2.set_xscale("symlog", linthresh=1.0, linscale=1.0)
    lim = max([1.0] + [abs(100 * (f["value"] - _sel(acc, source="exact", stream=f["stream"])[0]["value"])
                            / _sel(acc, source="exact", stream=f["stream"])[0]["value"])
                       for f in _sel(acc, metric="final_lsb") if f["source"] not in ("exact", "nearest_even")])
    lim = next((v for v in (1, 3, 10, 30, 100) if v >= lim * 1.1), 300)
    ticks = [t for t in (-100, -30, -10, -3, -1, -0.5, 0, 0.5, 1, 3, 10, 30, 100) if abs(t) <= lim]
    ax2.set_xticks(ticks, [f"{t:g}%" for t in ticks])
    ax2.set_xlim(-lim, lim)
    ax2.set_xlabel("final error, % of the exact sum (linear within ±1%, log beyond); bars: mean over trials")
    ne = _sel(acc, source="nearest_even", metric="rel_error_mean")
    ne_txt = f" (nearest_even: {100 * ne[0]['value']:+.0f}%, off the chart)" if ne else ""
    ax2.set_title(f"(c2) Final error after {steps:,} steps, one marker per trial{ne_txt}.\n"
                  "Period-15 increments (15 divides 2^8 − 1 and 2^16 − 1) make an 8-bit LFSR err by\n"
                  "several % per seed. SR with r = 8 bits is biased by ≈ −0.75% (§2's few-bit bias);\n"
                  "an 8-bit LFSR, which never draws R = 0, shifts that to ≈ −0.4%",
                  fontsize=10)
    ax2.legend(fontsize=8.5, loc="lower right")
    ax2.grid(alpha=0.3, axis="x")
    return _save(fig, path)


def plot_lanes(rows, path):
    ln = _sel(rows, study="lanes")
    fig = _figure(15, 5.6)
    axs = [fig.add_subplot(1, 3, i + 1) for i in range(3)]
    colors = {"round-robin": "tab:red", "sliced": "tab:purple", "lanes": "tab:blue",
              "independent": "tab:green", "ideal": "k"}
    titles = {"var_ratio": ("Var(S) / Σ Var(e_l)", "(d1) Within one cycle: only dealing one register's\n"
                            "state-rule draws round-robin makes the units' errors add up"),
              "lag1": ("corr(S_k, S_k+1)", "(d2) Cycle to cycle: a state-rule register per unit\n"
                       "(or sliced) gives ≈ 1/4; round-robin fades as ~1/L"),
              "block_var_ratio": ("Var(64-cycle sum of S) / (64 Σ Var(e_l))",
                                  "(d3) Over 64 cycles: state-rule bits ≈ double the noise;\n"
                                  "slicing one state among the units: up to 8x. Serial ≈ ideal")}
    Ls = sorted({r["x"] for r in ln})
    for ax, metric in zip(axs, titles):
        for arr in ARRANGEMENTS:
            for rule in ("state", "serial", None):
                pts = sorted(_sel(ln, source=arr, rule=rule, metric=metric), key=lambda p: p["x"])
                if not pts:
                    continue
                ax.plot([p["x"] for p in pts], [p["value"] for p in pts], color=colors[arr],
                        ls="-" if rule in ("state", None) else "--",
                        marker="o" if rule in ("state", None) else "x", ms=5,
                        label=f"{arr}, {rule}" if rule else arr)
        ax.set_xscale("log", base=2)
        ax.set_xticks(Ls, [str(L) for L in Ls])
        ax.set_xlabel("rounding units L")
        ax.set_ylabel(titles[metric][0])
        ax.set_title(titles[metric][1], fontsize=10)
        ax.grid(alpha=0.3)
    n = next((r["n"] for r in ln if r["source"] == "lanes"), 16)
    axs[0].legend(fontsize=7.5, title=f"LFSR{n} galois (sliced: 64-bit)", title_fontsize=7.5)
    return _save(fig, path)


# -- the whole study ---------------------------------------------------------------------------

FIGURES = {"bias": "compare_rng_bias.png", "acf": "compare_rng_acf.png",
           "accumulation": "compare_rng_accumulation.png", "lanes": "compare_rng_lanes.png"}


def run(out_dir, quick=False, seed=0, progress=True, copy_figures_to=None) -> dict:
    """Run (a)-(d), write ``compare_rng.csv``, ``compare_rng.md`` and the four PNGs into
    ``out_dir`` (and web-sized copies of the PNGs into ``copy_figures_to``, if given); return
    {"rows", "markdown", "files", "seconds", "timings"}.

    Takes about 20 s even with ``quick=True``, so the example is skipped by doctest:

    >>> res = run("results/compare_rng", quick=True)     # doctest: +SKIP
    >>> sorted(res["files"])                              # doctest: +SKIP
    ['acc_png', 'acf_png', 'bias_png', 'csv', 'lanes_png', 'md']
    """
    p = PRESETS["quick" if quick else "full"]
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    rows, secs = [], {}

    def timed(name, fn, **kw):
        t = time.perf_counter()
        out = fn(seed=seed, progress=progress, **kw)
        secs[name] = time.perf_counter() - t
        rows.extend(out)

    timed("bias_vs_phi", sr_bias_sawtooth, n_points=p["saw_points"], casts_per_point=p["saw_casts"])
    timed("bias", sr_bias, n_casts=p["bias_casts"], n_phi=p["bias_phis"])
    timed("acf", error_acf, n_casts=p["acf_casts"])
    timed("accumulation", accumulation, steps=p["acc_steps"], trials=p["acc_trials"],
          check_steps=p["acc_check"])
    timed("lanes", lanes, steps=p["lane_steps"], block=p["lane_block"])
    files = {"csv": os.path.join(out_dir, "compare_rng.csv"),
             "md": os.path.join(out_dir, "compare_rng.md")}
    write_csv(rows, files["csv"])
    files["bias_png"] = plot_bias(rows, os.path.join(out_dir, FIGURES["bias"]))
    files["acf_png"] = plot_acf(rows, os.path.join(out_dir, FIGURES["acf"]))
    files["accumulation_png"] = plot_accumulation(rows, os.path.join(out_dir, FIGURES["accumulation"]))
    files["lanes_png"] = plot_lanes(rows, os.path.join(out_dir, FIGURES["lanes"]))
    total = time.perf_counter() - t0
    meta = {"preset": "quick" if quick else "full", "seed": seed,
            "bias_casts": f"{p['bias_casts']:,}", "acf_casts": f"{p['acf_casts']:,}",
            "fxsim": fxsim.__version__}
    md = markdown(rows, meta)
    md += ("\nFigures: " + ", ".join(f"`{os.path.basename(files[k])}`" for k in
                                      ("bias_png", "acf_png", "accumulation_png", "lanes_png")) + "\n")
    return finish(md, files, total, rows, copy_figures_to, timings=secs)


def add_cli(sub):
    """Register ``fxsim compare-rng`` on the argparse sub-parsers ``sub`` (the study takes about
    20 s with ``--quick``).

    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="fxsim").add_subparsers(dest="cmd")
    >>> a = add_cli(sub).parse_args(["--quick"]); a.quick, a.out
    (True, 'results/compare_rng')
    """
    return add_study_parser(
        sub, "compare-rng", run, help="study: LFSR vs ideal random bits for stochastic rounding",
        description="Measure SR bias against spec section 2, the autocorrelation of rounding "
                    "errors, a 10^6-step accumulation and L parallel rounding units, for LFSR "
                    "(n = 8, 16, 32; galois/fibonacci; serial/state; 1 and 8 lanes) and ideal "
                    "PCG64 bits. Writes OUT/compare_rng.csv, OUT/compare_rng.md and four PNGs.",
        out="results/compare_rng", quick_help="smaller samples (under a minute)",
        seed_help="seed of every source and input")
