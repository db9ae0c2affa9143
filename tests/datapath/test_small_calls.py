"""Small calls (issue 13): the cached argument checks, ``fxsim.Caster`` and ``out=``.

Words are compared with the Fraction reference (``tests/oracles/reference.py``), stochastic
draws with numpy's own PCG64 stream, counters with the reference's per-element CastInfo.
"""
import threading

import numpy as np
import pytest

import fxsim
from lfsr_ref import LFSRSource
from reference import ref_add, ref_cast_info, ref_mul, ref_sub

X = np.array([0.3, -2.71875, 9.0, -9.5, 0.03125, 1 / 3, -0.0, 7.96875])
MODES = [("nearest_even", "saturate"), ("floor", "wrap"), ("nearest_away", "saturate_symmetric"),
         ("ceil", "saturate"), ("toward_zero", "wrap"), ("jam", "wrap")]


def _ref(x, fmt, rounding, overflow, **sr):
    return [ref_cast_info(float(v), fmt.wl, fmt.fl, fmt.signed, rounding, overflow, **sr)
            for v in x]


@pytest.mark.parametrize("rounding, overflow", MODES)
@pytest.mark.parametrize("shape", [(8,), (2, 4), (4, 2, 1)])
def test_cast_and_caster_match_reference(rounding, overflow, shape):
    fmt = fxsim.QFormat(8, 4)
    x = X.reshape(shape)
    ref = _ref(X, fmt, rounding, overflow)
    q = fxsim.Caster("Q4.4", fxsim.CastMode(rounding, overflow))
    for _ in range(2):                      # the second call is served by the caches
        for got in (fxsim.cast(x, "Q4.4", rounding, overflow), q(x),
                    fxsim.cast(x, fmt, mode=(rounding, overflow))):
            assert got.fmt == fmt and got.shape == shape and got.raw.dtype == np.int8
            assert got.raw.ravel().tolist() == [r.raw for r in ref]


def test_counters_of_small_calls_match_reference():
    fmt = fxsim.QFormat(8, 4)
    ref = _ref(X, fmt, "nearest_even", "saturate")
    q = fxsim.Caster(fmt)
    with fxsim.Counters() as c:
        q(X)
        fxsim.cast(X, "Q4.4")
    assert len(c.records) == 2
    for rec in c.records:
        assert (rec.op, rec.role, rec.fmt, rec.cast) == ("cast", "out", "Q(8,4)", len(X))
        assert rec.inexact == sum(r.inexact for r in ref)
        assert rec.rounded_up == sum(r.rounded_up for r in ref)
        assert rec.overflowed == sum(r.overflowed for r in ref)
        assert rec.draws == 0


def test_stochastic_caster_draws_like_numpy_pcg64():
    """A Caster with an ideal source takes r-bit draws from it in C order, call after call:
    numpy's own PCG64 gives the draws, the reference the words."""
    src = fxsim.Ideal("pcg64", seed=3)
    q = fxsim.Caster("Q4.4", fxsim.CastMode("stochastic", r=16), source=src)
    got = np.concatenate([q(X[:5]).raw, q(X[5:]).raw])
    bits = np.random.PCG64(3).random_raw(len(X)) >> np.uint64(64 - 16)    # the top r bits
    want = [ref_cast_info(float(v), 8, 4, True, "stochastic", "saturate", R=int(R), r=16).raw
            for v, R in zip(X, bits)]
    assert got.tolist() == want


def test_cache_keys_are_typed():
    """r=16.0 and r=True are refused even after r=16 and r=1 were cached (equal but not ints)."""
    fxsim.cast(X, "Q4.4", "stochastic", r=16, draws=np.zeros(len(X), np.uint64))
    fxsim.cast(X, "Q4.4", "stochastic", r=1, draws=np.zeros(len(X), np.uint64))
    for bad in (16.0, True):
        with pytest.raises(ValueError, match=r"r must be an integer in \[1, 64\]"):
            fxsim.cast(X, "Q4.4", "stochastic", r=bad, draws=np.zeros(len(X), np.uint64))
    fxsim.cast(X, "Q4.4", "stochastic_eps", r=8, eps=0, draws=np.zeros(len(X), np.uint64))
    with pytest.raises(ValueError, match=r"eps must be a number in \[0, 1\)"):
        fxsim.cast(X, "Q4.4", "stochastic_eps", r=8, eps=False, draws=np.zeros(len(X), np.uint64))


@pytest.mark.parametrize("call, match", [
    (lambda: fxsim.cast(np.array([1.0, np.nan]), "Q4.4"), r"contains NaN \(first at index \(1,\)\)"),
    (lambda: fxsim.cast(np.array([np.inf]), "Q4.4", overflow="wrap"), "contains ±inf"),
    (lambda: fxsim.cast(np.array([0.0, 9.0]), "Q4.4", overflow="error"), "1 element.s. overflowed"),
    (lambda: fxsim.cast(X, "Q4.4", "round"), "rounding must be one of"),
    (lambda: fxsim.cast(X, "Q4.4", "stochastic"), "needs r"),
    (lambda: fxsim.cast(X, "Q4.4", "stochastic", source="lfsr16"), "source must be a bit source"),
    (lambda: fxsim.Caster("Q4.4", "stochastic"), "needs r"),
    (lambda: fxsim.Caster("Q99.4"), "wl must be in"),
])
def test_errors_survive_the_caches(call, match):
    for _ in range(3):
        with pytest.raises((ValueError, OverflowError), match=match):
            call()


def test_source_error_comes_before_r_error_as_before():
    with pytest.raises(ValueError, match="source must be a bit source"):
        fxsim.cast(X, "Q4.4", "stochastic", source="lfsr16")


def test_caster_threads_share_a_source_under_its_lock():
    """Four threads calling one stochastic Caster consume exactly 4 x 50 x 8 draws."""
    src = fxsim.LFSR(16, seed=5)
    q = fxsim.Caster("Q4.4", fxsim.CastMode("stochastic", r=8), source=src)

    def work():
        for _ in range(50):
            q(X)
    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    ref = LFSRSource(16, seed=5, r=8)         # the plain oracle register, not fxsim's LFSR
    ref.draws(4 * 50 * len(X))
    assert np.asarray(src.draws(16, 8)).tolist() == ref.draws(16)


# -- out= -----------------------------------------------------------------------------------

def _words(fmt, rng, n):
    return fxsim.FixedArray(rng.integers(fmt.min_raw, fmt.max_raw + 1, n), fmt)


@pytest.mark.parametrize("n", [7, 40000])
def test_out_receives_the_words(n):
    rng = np.random.default_rng(1)
    x = rng.normal(0, 4, n)
    buf = np.full(n, 99, np.int8)
    got = fxsim.cast(x, "Q4.4", out=buf)
    assert got.raw is buf or np.shares_memory(got.raw, buf)
    k = min(n, 200)
    assert buf[:k].tolist() == [r.raw for r in _ref(x[:k], fxsim.QFormat(8, 4), "nearest_even",
                                                     "saturate")]
    # every word: x*16 is exact, and numpy's rint rounds ties to even
    assert np.array_equal(buf, np.clip(np.rint(x * 16), -128, 127).astype(np.int8))
    fa = fxsim.cast(np.zeros(n), "Q4.4")
    assert fxsim.Caster("Q4.4")(x, out=fa) is fa and np.array_equal(fa.raw, buf)
    a, b = _words(fxsim.QFormat(8, 4), rng, n), _words(fxsim.QFormat(8, 4), rng, n)
    o = np.empty(n, np.int8)
    fxsim.mul(a, b, "Q4.4", out=o)
    assert o[:k].tolist() == [ref_mul(int(p), (8, 4, True), int(q), (8, 4, True), (8, 4, True))
                              for p, q in zip(a.raw[:k], b.raw[:k])]
    fxsim.sub(a, b, "Q4.4", "floor", "wrap", out=o)
    assert o[:k].tolist() == [ref_sub(int(p), (8, 4, True), int(q), (8, 4, True), (8, 4, True),
                                      "floor", "wrap") for p, q in zip(a.raw[:k], b.raw[:k])]
    o2 = np.empty(n, np.int8)
    fxsim.add(a, b, "Q4.4", out=o2)
    assert o2.tolist() == np.clip(a.raw.astype(np.int64) + b.raw, -128, 127).tolist()  # exact sum, saturated
    assert o2[:k].tolist() == [ref_add(int(p), (8, 4, True), int(q), (8, 4, True), (8, 4, True))
                               for p, q in zip(a.raw[:k], b.raw[:k])]


@pytest.mark.parametrize("bad, what", [
    (np.empty(8, np.int16), "dtype int16"),
    (np.empty(9, np.int8), r"shape \(9,\)"),
    (np.empty(16, np.int8)[::2], "not C-contiguous"),
    ("ro", "read-only"),
    (fxsim.cast(np.zeros(8), "Q2.6"), r"format Q\(8,6\)"),
    ([0] * 8, "got list"),
])
def test_out_refusals_take_no_draw_and_write_nothing(bad, what):
    if isinstance(bad, str):
        bad = np.zeros(8, np.int8)
        bad.flags.writeable = False
    src = fxsim.LFSR(16, seed=9)
    before = src.state
    snap = None if isinstance(bad, list) else (bad.raw if isinstance(bad, fxsim.FixedArray)
                                               else bad).copy()
    with pytest.raises(ValueError, match=rf"cast: out .*{what}|out must be .*{what}"):
        fxsim.cast(X, "Q4.4", "stochastic", r=8, source=src, out=bad)
    assert src.state == before
    if snap is not None:
        assert np.array_equal(bad.raw if isinstance(bad, fxsim.FixedArray) else bad, snap)


def test_out_overlapping_an_input_is_refused():
    fmt = fxsim.QFormat(8, 0)
    a = fxsim.FixedArray(np.arange(8), fmt)
    with pytest.raises(ValueError, match="out shares memory with a"):
        fxsim.add(a, a, "Q8.0", out=a)
    x = np.ones(8)
    with pytest.raises(ValueError, match="out shares memory with x"):
        fxsim.cast(x, "s64.0", out=x.view(np.int64))
    assert np.all(x == 1.0)


@pytest.mark.parametrize("call", [
    lambda o: fxsim.cast(np.array([1.0] * 6 + [np.nan, 2.0]), "Q4.4", out=o),
    lambda o: fxsim.cast(np.array([1.0] * 6 + [np.inf, 2.0]), "Q4.4", overflow="wrap", out=o),
    lambda o: fxsim.cast(np.array([1.0] * 7 + [99.0]), "Q4.4", overflow="error", out=o),
    lambda o: fxsim.mul(fxsim.cast(np.full(8, 7.0), "Q4.4"), fxsim.cast(np.full(8, 7.0), "Q4.4"),
                        "Q4.4", overflow="error", out=o),
])
def test_out_is_unchanged_by_a_call_that_raises(call):
    o = np.full(8, 42, np.int8)
    with pytest.raises((ValueError, OverflowError)):
        call(o)
    assert np.all(o == 42)
