"""The compiled small-call path of stochastic casts (``fxsim._small.SmallSRCast``, used by a
``Caster`` with an fxsim source): words against the Fraction reference with the draws of
numpy's own PCG64 and of the plain LFSR oracle, and words, counters and the source's position
against the general path (``fxsim.cast`` with the same source), call after call.
"""
from fractions import Fraction

import numpy as np
import pytest

import fxsim
from lfsr_ref import LFSRSource
from reference import ref_cast_info

N = 37
MODES = [("stochastic", 0.0), ("stochastic_eps", 0.2), ("signed_stochastic_eps", 0.2)]
FORMATS = [fxsim.QFormat(8, 4), fxsim.QFormat(8, 4, signed=False), fxsim.QFormat(32, 16)]


def _inputs(fmt, kind, rng):
    """N values around fmt's range (exact ones, out of range ones), as float64 or as words of
    a finer format (exact re-quantization)."""
    span = 2.0 ** (fmt.wl - fmt.fl - (1 if fmt.signed else 0))
    x = rng.uniform(-1.3 * span, 1.3 * span, N)
    x[:6] = [0.0, fmt.lsb, -fmt.lsb, 3 * fmt.lsb, span * 2, -span * 2]
    x[6:12] = np.round(x[6:12] / fmt.lsb) * fmt.lsb          # exact in fmt
    if kind == "float":
        return x, [Fraction(v) for v in x]
    fine = fxsim.QFormat(fmt.wl + 12, fmt.fl + 6, signed=True)
    w = fxsim.cast(x, fine, "nearest_even", "saturate")
    return w, [Fraction(int(r), 2 ** fine.fl) for r in w.raw]


def _sources(kind, seed):
    """(fxsim source, a second fxsim source with the same stream, oracle draws(n, r))."""
    if kind == "pcg64":
        bg = np.random.PCG64(seed)

        def oracle(n, r):
            return [int(b) >> (64 - r) for b in bg.random_raw(n)]   # the top r bits
        return fxsim.Ideal("pcg64", seed=seed), fxsim.Ideal("pcg64", seed=seed), oracle
    ref = {}

    def oracle(n, r):
        reg = ref.setdefault(r, LFSRSource(16, seed=seed, r=r))
        return reg.draws(n)
    return fxsim.LFSR(16, seed=seed), fxsim.LFSR(16, seed=seed), oracle


@pytest.mark.parametrize("rounding, eps", MODES)
@pytest.mark.parametrize("fmt", FORMATS, ids=str)
@pytest.mark.parametrize("overflow", ["saturate", "wrap", "saturate_symmetric"])
@pytest.mark.parametrize("kind", ["float", "words"])
@pytest.mark.parametrize("src_kind, r", [("pcg64", 16), ("pcg64", 3), ("lfsr", 8)])
def test_small_sr_cast_matches_reference_and_general_path(rounding, eps, fmt, overflow, kind,
                                                          src_kind, r):
    rng = np.random.default_rng(abs(hash((rounding, str(fmt), overflow, kind, r))) % 2**32)
    src, twin, oracle = _sources(src_kind, seed=11)
    mode = fxsim.CastMode(rounding, overflow, r=r, eps=eps)
    q = fxsim.Caster(fmt, mode, source=src)
    assert q._small_sr is not None           # the compiled path is the one under test
    for call in range(3):
        x, exact = _inputs(fmt, kind, rng)
        v = rng.normal(size=N)
        v[::7] = 0.0
        with fxsim.Counters() as c_small:
            got = q(x, v=v)
        with fxsim.Counters() as c_gen:
            gen = fxsim.cast(x, fmt, rounding, overflow, r=r, eps=eps, v=v, source=twin)
        assert got.fmt == fmt and got.raw.dtype == fmt.dtype and got.shape == (N,)
        assert got.raw.tolist() == gen.raw.tolist()
        assert c_small.records == c_gen.records
        draws = oracle(N, r)
        ref = [ref_cast_info(t, fmt.wl, fmt.fl, fmt.signed, rounding, overflow, R=R, r=r,
                             eps=eps, v=float(s)) for t, R, s in zip(exact, draws, v)]
        assert got.raw.tolist() == [i.raw for i in ref], call
        rec, = c_small.records
        assert (rec.cast, rec.draws) == (N, N)
        assert rec.inexact == sum(i.inexact for i in ref)
        assert rec.rounded_up == sum(i.rounded_up for i in ref)
        assert rec.overflowed == sum(i.overflowed for i in ref)
    assert src.draws(5, r).tolist() == twin.draws(5, r).tolist() == oracle(5, r)


@pytest.mark.parametrize("shape", [(), (1,), (3, 4), (2, 3, 2)])
def test_shapes_and_zero_d(shape):
    src, twin, _ = _sources("pcg64", seed=2)
    x = np.random.default_rng(0).uniform(-3, 3, shape)
    q = fxsim.Caster("Q8.4", fxsim.CastMode("stochastic", r=16), source=src)
    got = q(x)
    want = fxsim.cast(x, "Q8.4", "stochastic", r=16, source=twin)
    assert got.shape == shape and got.raw.tolist() == want.raw.tolist()


@pytest.mark.parametrize("x, v, match", [
    (np.array([0.5, np.nan, 1.0]), None, "NaN"),
    (np.array([0.5, 0.25]), None, "needs v"),
    (np.array([0.5, 0.25]), np.array([1.0, np.nan]), "v contains NaN"),
    (np.array([0.5, 0.25]), np.array([1.0, 2.0, 3.0]), "v has shape"),
])
def test_refused_calls_take_no_draw(x, v, match):
    """Refused as by the general path, and the source has not moved."""
    src, twin, _ = _sources("lfsr", seed=9)
    rounding = "signed_stochastic_eps" if "v" in match else "stochastic"
    q = fxsim.Caster("Q8.4", fxsim.CastMode(rounding, "saturate", r=8, eps=0.25), source=src)
    with pytest.raises(ValueError, match=match):
        q(x, v=v)
    assert src.draws(4, 8).tolist() == twin.draws(4, 8).tolist()


def test_other_inputs_take_the_general_path_with_the_same_stream():
    """Lists, float32, strided views, v as a list or a FixedArray: the general path, the same
    words and draws as float64 arrays on the compiled path."""
    src, twin, _ = _sources("pcg64", seed=4)
    mode = fxsim.CastMode("signed_stochastic_eps", r=16, eps=0.2)
    q = fxsim.Caster("Q8.4", mode, source=src)
    qt = fxsim.Caster("Q8.4", mode, source=twin)
    x = np.random.default_rng(1).uniform(-3, 3, 16)
    v = np.sign(np.random.default_rng(2).normal(size=16))
    for a, b in [(x.tolist(), x), (x.astype(np.float32), x.astype(np.float32).astype(np.float64)),
                 (np.repeat(x, 2)[::2], x)]:
        assert q(a, v=v.tolist()).raw.tolist() == qt(b, v=v).raw.tolist()
    vf = fxsim.cast(v, "Q8.4")
    assert q(x, v=vf).raw.tolist() == qt(x, v=v).raw.tolist()
    inf = np.array([0.5, np.inf, -np.inf])         # saturated by the general path
    assert q(inf, v=v[:3]).raw.tolist() == [8, 2047, -2048]
    assert qt(inf.tolist(), v=v[:3]).raw.tolist() == [8, 2047, -2048]
    assert q(x, v=v).raw.tolist() == fxsim.cast(x, "Q8.4", mode=mode, v=v, source=twin).raw.tolist()


def test_overflow_error_and_user_sources_stay_on_the_general_path():
    q = fxsim.Caster("Q8.4", fxsim.CastMode("stochastic", "error", r=8), source=fxsim.LFSR(16))
    assert q._small_sr is None
    with pytest.raises(OverflowError):
        q(np.array([3000.0]))

    class Zeros:                       # a user-defined source: draws through an array
        lock = None

        def draws(self, n, r):
            return np.zeros(n, dtype=np.uint64)
    q = fxsim.Caster("Q8.4", fxsim.CastMode("stochastic", r=8), source=Zeros())
    assert q._small_sr is None
    assert q(np.array([0.03, -0.03])).raw.tolist() == [0, -1]
