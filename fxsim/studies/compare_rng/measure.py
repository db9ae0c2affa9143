"""The measurements of the study "LFSR vs ideal randomness" (``fxsim.studies.compare_rng``):
sources, inputs and the four measurements (a)-(d), each returning tidy rows (dicts with the
keys ``COLUMNS``); ``select`` picks rows."""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

import fxsim
from fxsim import FixedArray, QFormat

from .._report import make_progress

__all__ = ["COLUMNS", "FMT", "FRAC", "Q0", "ACC", "INC", "INC_MEAN", "PRESETS", "CHUNK", "SourceSpec",
           "IDEAL", "default_sources", "select", "bias_inputs", "predicted_bias", "sr_bias",
           "sr_bias_sawtooth", "error_acf", "accumulate_recurrence", "accumulate_split",
           "AccConfig", "default_acc_configs", "STREAMS", "TRACE_STREAMS", "increments",
           "accumulation", "ARRANGEMENTS", "lanes"]

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


def select(rows, **kw) -> list:
    """The rows whose fields equal every keyword.

    >>> select([{"study": "acf", "x": 1}, {"study": "bias", "x": 1}], study="acf")
    [{'study': 'acf', 'x': 1}]
    """
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]
