"""The compiled small-call path (``fxsim._small``, issue 13.1): ``fxsim.cast`` and ``Caster`` of
small deterministic casts run in C.  Words and counters are compared with the Fraction
reference (``tests/oracles/reference.py``); the tests also check that the compiled path is the
one that served the call (the general path is disabled), and that everything it does not take
(errors, large or odd inputs) still gets the general path's behaviour.
"""
import threading
from fractions import Fraction

import numpy as np
import pytest

import fxsim
from fxsim import ops
from fxsim.modes import OVERFLOW, ROUNDING, STOCHASTIC
from reference import ref_cast_info, ref_mul

DET = [m for m in ROUNDING if m not in STOCHASTIC]
FORMATS = [fxsim.QFormat(8, 4), fxsim.QFormat(16, 8, False), fxsim.QFormat(32, 30),
           fxsim.QFormat(64, 20), fxsim.QFormat(64, -3, False), fxsim.QFormat(5, 9)]


def _values(fmt, n=64, seed=0):
    """Values around the format's range: ties, exact words, beyond the range, tiny, -0.0."""
    rng = np.random.default_rng(seed)
    span = 2.0 ** (fmt.wl - fmt.fl - (1 if fmt.signed else 0))
    x = rng.uniform(-1.5 * span, 1.5 * span, n)
    lsb = 2.0 ** -fmt.fl
    x[::4] = np.round(x[::4] / lsb) * lsb + lsb / 2           # ties
    x[1::7] = np.round(x[1::7] / lsb) * lsb                    # exact
    x[2::9] = rng.normal(0, 1e-3, x[2::9].size) * lsb          # below one LSB
    x[3] = -0.0
    x[5] = 2.0 ** 70
    x[6] = -(2.0 ** 70)
    return x


def _ref(x, fmt, rounding, overflow):
    return [ref_cast_info(float(v), fmt.wl, fmt.fl, fmt.signed, rounding, overflow) for v in x]


@pytest.fixture
def compiled_only(monkeypatch):
    """Make the general cast path fail, so that a call that returns was served in C."""
    def general(*args, **kwargs):
        raise AssertionError("the general path ran")
    monkeypatch.setattr(ops, "_cast_with", general)


def _warm(x, fmt, rounding, overflow):
    """First call: fills cast()'s cache of compiled casts (through the general path)."""
    fxsim.cast(x, fmt, rounding, overflow)


@pytest.mark.parametrize("overflow", [o for o in OVERFLOW if o != "error"])
@pytest.mark.parametrize("rounding", DET)
def test_words_and_counters_match_reference(rounding, overflow, monkeypatch):
    for k, fmt in enumerate(FORMATS):
        x = _values(fmt, seed=k)
        ref = _ref(x, fmt, rounding, overflow)
        _warm(x, fmt, rounding, overflow)
        q = fxsim.Caster(fmt, fxsim.CastMode(rounding, overflow))
        with monkeypatch.context() as m:
            m.setattr(ops, "_cast_with", None)       # any general-path call fails
            with fxsim.Counters() as c:
                got = [fxsim.cast(x, fmt, rounding, overflow), q(x), q(x.reshape(8, 8))]
            few = q(x[:10])                      # the scalar loop (the others: a vectorized pass)
        assert [int(w) for w in few.raw] == [r.raw for r in ref[:10]]
        for g in got:
            assert g.fmt == fmt and g.raw.dtype == fmt.dtype
            assert [int(w) for w in g.raw.ravel()] == [r.raw for r in ref], (fmt, rounding)
        assert got[2].shape == (8, 8)
        assert len(c.records) == 3
        for rec in c.records:
            assert (rec.op, rec.role, rec.fmt, rec.cast, rec.draws) == ("cast", "out", str(fmt), 64, 0)
            assert rec.inexact == sum(r.inexact for r in ref)
            assert rec.rounded_up == sum(r.rounded_up for r in ref)
            assert rec.overflowed == sum(r.overflowed for r in ref)


@pytest.mark.parametrize("rounding, overflow", [("nearest_even", "saturate"), ("floor", "wrap"),
                                                ("nearest_away", "saturate_symmetric")])
def test_fixedarray_requantization_matches_reference(rounding, overflow, compiled_only):
    rng = np.random.default_rng(4)
    Q = fxsim.QFormat
    for fs, fd in [(Q(16, 8), Q(8, 4)), (Q(16, 12, False), Q(8, 2, False)), (Q(8, 4), Q(16, 8)),
                   (Q(64, 40), Q(16, 3)), (Q(32, 0, False), Q(8, -20)), (Q(64, 0, False), Q(64, 2))]:
        raw = rng.integers(fs.min_raw, fs.max_raw, 50, dtype=fs.dtype, endpoint=True)
        raw[:2] = fs.min_raw, fs.max_raw
        a = fxsim.FixedArray(raw, fs)
        q = fxsim.Caster(fd, fxsim.CastMode(rounding, overflow))
        ref = [ref_cast_info(Fraction(int(w)) * Fraction(2) ** -fs.fl, fd.wl, fd.fl, fd.signed,
                             rounding, overflow) for w in raw]
        with fxsim.Counters() as c:
            got = q(a)
        assert [int(w) for w in got.raw] == [r.raw for r in ref], (fs, fd)
        assert c.inexact == sum(r.inexact for r in ref)
        assert c.rounded_up == sum(r.rounded_up for r in ref)
        assert c.overflowed == sum(r.overflowed for r in ref)
        assert np.array_equal(a.raw, raw)                # input unchanged


def test_errors_as_the_general_path():
    """NaN, inf (wrap/error) and overflow='error' go to the general path: same messages, with
    the index of the first bad element, nothing recorded."""
    x = np.array([0.5, 1.0, np.nan, 2.0])
    for _ in range(2):
        with fxsim.Counters() as c:
            with pytest.raises(ValueError, match=r"x contains NaN \(first at index \(2,\)\)"):
                fxsim.cast(x, "Q4.4")
            with pytest.raises(ValueError, match="inf cannot be cast with overflow='wrap'"):
                fxsim.cast(np.array([1.0, -np.inf]), "Q4.4", "floor", "wrap")
            with pytest.raises(OverflowError, match=r"1 element\(s\) overflowed.*first at index \(1,\)"):
                fxsim.Caster("Q4.4", fxsim.CastMode("floor", "error"))(np.array([1.0, 8.0, 7.9]))
        assert c.records == []
    got = fxsim.cast(np.array([np.inf, -np.inf]), "Q4.4", "floor", "saturate_symmetric")
    assert got.raw.tolist() == [127, -127]


def test_general_path_beyond_the_compiled_one():
    """Above the size limit, non-contiguous, float32 and lists: same words as the reference."""
    fmt = fxsim.QFormat(16, 8)
    x = _values(fmt, n=ops._SMALL_CAST_LIMIT + 1, seed=9)
    ref = [r.raw for r in _ref(x[:200], fmt, "nearest_even", "saturate")]
    q = fxsim.Caster(fmt)
    assert q(x).raw[:200].tolist() == ref
    assert q(x[:200:2]).raw.tolist() == ref[::2]
    assert fxsim.cast(x[:200].tolist(), fmt).raw.tolist() == ref
    x32 = x[:200].astype(np.float32)
    assert q(x32).raw.tolist() == [r.raw for r in _ref(x32, fmt, "nearest_even", "saturate")]


def test_cache_keys_keep_argument_checks(monkeypatch):
    """A cached compiled cast never serves arguments that the checks refuse (a mode given
    twice), and r=/eps=/sr_rule= keywords bypass the cache."""
    x = np.array([0.25, 1.0])
    fxsim.cast(x, "Q4.4", mode=("floor", "wrap"))
    fxsim.cast(x, "Q4.4", "floor", "wrap")
    with pytest.raises(ValueError, match="pass either mode= or rounding="):
        fxsim.cast(x, "Q4.4", mode=("floor", "wrap"), rounding="floor")

    def general(*args, **kwargs):
        raise AssertionError("the general path ran")
    monkeypatch.setattr(ops, "_cast_with", general)
    assert fxsim.cast(x, "Q4.4", mode=("floor", "wrap")).raw.tolist() == [4, 16]
    with pytest.raises(AssertionError, match="general path"):
        fxsim.cast(x, "Q4.4", "floor", "wrap", r=16)
    assert fxsim.cast(x, "Q4.4", "floor", "wrap").raw.tolist() == [4, 16]
    with pytest.raises(ValueError, match="pass either mode= or rounding="):
        fxsim.cast(x, "Q4.4", mode=("floor", "wrap"), rounding="floor")


def test_counters_stay_per_thread():
    """A Counters block of another thread does not see this thread's compiled calls."""
    x = np.array([0.3, 0.7])
    q = fxsim.Caster("Q4.4")
    inside, done = threading.Event(), threading.Event()
    box = {}

    def other():
        with fxsim.Counters() as c:
            inside.set()
            done.wait(10)
        box["c"] = c

    t = threading.Thread(target=other)
    t.start()
    inside.wait(10)
    for _ in range(3):
        q(x)
        fxsim.cast(x, "Q4.4")
    done.set()
    t.join()
    assert box["c"].records == []


@pytest.mark.parametrize("rounding, overflow", [("nearest_even", "saturate"),
                                                ("floor", "saturate_symmetric"),
                                                ("nearest_odd", "saturate")])
def test_large_compiled_call_matches_reference(rounding, overflow, monkeypatch):
    """1000 elements (the vectorized pass of the kernels, and with ±inf the scalar one)."""
    fmt = fxsim.QFormat(16, 8)
    x = _values(fmt, n=1000, seed=11)
    ref = _ref(x, fmt, rounding, overflow)
    q = fxsim.Caster(fmt, fxsim.CastMode(rounding, overflow))
    xi = x.copy()
    xi[[7, 100]] = np.inf, -np.inf
    ref_i = _ref(xi, fmt, rounding, overflow)
    monkeypatch.setattr(ops, "_cast_with", None)
    with fxsim.Counters() as c:
        got = q(x)
    assert [int(w) for w in got.raw] == [r.raw for r in ref]
    assert (c.cast, c.inexact, c.rounded_up, c.overflowed) == (
        len(x), sum(r.inexact for r in ref), sum(r.rounded_up for r in ref),
        sum(r.overflowed for r in ref))
    assert [int(w) for w in q(xi).raw] == [r.raw for r in ref_i]


Q = fxsim.QFormat
BINOP_CASES = [   # (fa, fb, result format or None: the full-precision default)
    (Q(8, 4), Q(8, 4), Q(8, 4)), (Q(32, 16), Q(32, 16), Q(16, 8)), (Q(16, 8, False), Q(8, 2, False), None),
    (Q(64, 10), Q(64, 20), Q(64, 12)), (Q(8, 4), Q(16, 12, False), Q(8, 1)), (Q(12, 3), Q(5, 0), None)]


def _exact(op, wa, fa, wb, fb):
    a, b = Fraction(int(wa)) * Fraction(2) ** -fa.fl, Fraction(int(wb)) * Fraction(2) ** -fb.fl
    return a + b if op == "add" else (a - b if op == "sub" else a * b)


@pytest.mark.parametrize("rounding, overflow", [("nearest_even", "saturate"), ("floor", "wrap"),
                                                ("jam", "saturate_symmetric"),
                                                ("nearest_away", "wrap")])
@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_binops_match_reference(op, rounding, overflow, monkeypatch):
    fn = getattr(fxsim, op)
    rng = np.random.default_rng(21)
    for fa, fb, fo in BINOP_CASES:
        if op == "mul" and fa.wl + fb.wl > 126:
            continue
        ra = rng.integers(fa.min_raw, fa.max_raw, 40, dtype=fa.dtype, endpoint=True)
        rb = rng.integers(fb.min_raw, fb.max_raw, 40, dtype=fb.dtype, endpoint=True)
        ra[:2], rb[:2] = (fa.min_raw, fa.max_raw), (fb.max_raw, fb.min_raw)
        a, b = fxsim.FixedArray(ra, fa), fxsim.FixedArray(rb, fb)
        first = fn(a, b, fo, rounding, overflow)              # fills the cache
        out = first.fmt
        ref = [ref_cast_info(_exact(op, x, fa, y, fb), out.wl, out.fl, out.signed, rounding, overflow)
               for x, y in zip(ra, rb)]
        with monkeypatch.context() as m:
            m.setattr(ops.K, "binop", None)                 # the general kernel call fails
            with fxsim.Counters() as c:
                got = fn(a, b, fo, rounding, overflow)
        for g in (first, got):
            assert g.fmt == out and [int(w) for w in g.raw] == [r.raw for r in ref], (op, fa, fb)
        assert (c.records[0].op, c.cast, c.inexact, c.rounded_up, c.overflowed) == (
            op, 40, sum(r.inexact for r in ref), sum(r.rounded_up for r in ref),
            sum(r.overflowed for r in ref))
        assert np.array_equal(a.raw, ra) and np.array_equal(b.raw, rb)


def test_binop_errors_and_broadcasts_as_the_general_path():
    a = fxsim.FixedArray(np.array([100, 20, 120], np.int8), Q(8, 4))
    for _ in range(2):
        with fxsim.Counters() as c:
            with pytest.raises(OverflowError, match=r"add: 2 element\(s\) overflowed.*first at index \(0,\)"):
                fxsim.add(a, a, Q(8, 4), "floor", "error")
        assert c.records == []
    col = fxsim.FixedArray(np.array([[1], [2]], np.int8), Q(8, 4))
    f = (8, 4, True)
    assert fxsim.mul(a, col, Q(8, 4)).raw.tolist() == [[ref_mul(int(x), f, int(y), f, f)
                                                       for x in a.raw] for y in (1, 2)]
