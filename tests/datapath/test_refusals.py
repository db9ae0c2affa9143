"""A refused call has no side effect, and its message names the parameter (issue 11.3, 11.7).

Each case was a defect: accepted bad input, a misleading message, or draws consumed by a call
that then refused.  Positions are compared through the sources' public ``state``.
"""
import os
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

import fxsim
from reference import ref_cast

SOURCES = {
    "lfsr": lambda: fxsim.LFSR(16, seed=1),
    "lfsr-lanes": lambda: fxsim.LFSR(16, seed=1, lanes=4),
    "pcg64": lambda: fxsim.Ideal("pcg64", seed=0),
    "mt19937": lambda: fxsim.Ideal("mt19937", seed=0),
}

A = fxsim.cast(np.full(4, 100.0), "Q8.4")


def _overflowing_calls(src):
    """Stochastic calls with overflow='error' whose result overflows, one per op family."""
    kw = dict(rounding="stochastic", overflow="error", r=8, source=src)
    return {
        "cast": lambda: fxsim.cast([0.1, 200.0, 0.3], "Q8.8", **kw),
        "add": lambda: fxsim.add(A, A, "Q8.4", **kw),
        "mul": lambda: fxsim.mul(A, A, "Q8.4", **kw),
        "dot": lambda: fxsim.dot(A, A, fmt="Q8.4", **kw),
        "matmul-prod-acc": lambda: fxsim.matmul(A.reshape(2, 2), A.reshape(2, 2), acc="Q12.4",
                                                prod="Q8.4", **kw),
    }


@pytest.mark.parametrize("op", list(_overflowing_calls(None)))
@pytest.mark.parametrize("kind", list(SOURCES))
def test_overflow_error_leaves_the_source_where_it_was(kind, op):
    src = SOURCES[kind]()
    src.draws(3, 8)
    before = src.state
    with pytest.raises(OverflowError, match="overflow='error'"):
        _overflowing_calls(src)[op]()
    assert src.state == before
    # the next call sees the stream the refused call would have used
    fresh = SOURCES[kind]()
    fresh.draws(3, 8)
    got = fxsim.cast(np.full(5, 0.3), "Q8.8", "stochastic", r=8, source=src).raw
    want = fxsim.cast(np.full(5, 0.3), "Q8.8", "stochastic", r=8, source=fresh).raw
    np.testing.assert_array_equal(got, want)


def test_a_successful_overflow_error_call_consumes_its_draws():
    src, ref = fxsim.LFSR(16, seed=1), fxsim.LFSR(16, seed=1)
    got = fxsim.cast(np.full(6, 0.3), "Q8.8", "stochastic", "error", r=8, source=src).raw
    want = fxsim.cast(np.full(6, 0.3), "Q8.8", "stochastic", r=8, draws=ref.draws(6, 8)).raw
    np.testing.assert_array_equal(got, want)
    assert src.state == ref.state


def test_large_overflow_error_cast_rewinds_and_keeps_the_stream(monkeypatch):
    """The parallel sub-stream path is skipped for overflow='error': same words, rewindable."""
    monkeypatch.setattr(fxsim.ops, "_threads", 2)
    n = (1 << 18) + 5
    x = np.random.default_rng(0).uniform(-100, 100, n)
    sat, err = fxsim.LFSR(16, seed=3), fxsim.LFSR(16, seed=3)
    a = fxsim.cast(x, "Q8.8", "stochastic", "saturate", r=12, source=sat)
    b = fxsim.cast(x, "Q8.8", "stochastic", "error", r=12, source=err)
    np.testing.assert_array_equal(a.raw, b.raw)
    assert sat.state == err.state
    x[-1] = 1000.0
    before = err.state
    with pytest.raises(OverflowError, match=rf"first at index \({n - 1},\)"):
        fxsim.cast(x, "Q8.8", "stochastic", "error", r=12, source=err)
    assert err.state == before


@pytest.mark.parametrize("kind", list(SOURCES))
def test_undo_is_refused_once_another_draw_came_between(kind):
    src = SOURCES[kind]()
    got, undo = src._draws_undoable(4, 8)
    np.testing.assert_array_equal(got, SOURCES[kind]().draws(4, 8))
    src.draws(1, 8)                       # another thread's draw, after ours
    after = src.state
    assert undo() is False
    assert src.state == after             # left alone: those draws are someone else's
    got, undo = src._draws_undoable(4, 8)
    before_second = after
    assert undo() is True and src.state == before_second


# -- validation before any draw ----------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: fxsim.dot(A, A, rounding="nearst_even"),
    lambda: fxsim.dot(A, A, overflow="saturate_sym"),
    lambda: fxsim.matmul(A.reshape(2, 2), A.reshape(2, 2), sr_rule="round"),
    lambda: fxsim.add(A, A, rounding="nearst_even"),
    lambda: fxsim.mul(A, A, overflow="wrapp"),
    lambda: fxsim.dot(A, A, acc="Q12.4", acc_rounding="nearst"),
], ids=["dot-rounding", "dot-overflow", "matmul-sr_rule", "add-rounding", "mul-overflow",
        "dot-acc_rounding"])
def test_unused_mode_names_are_still_checked(call):
    with pytest.raises(ValueError, match="must be one of"):
        call()


@pytest.mark.parametrize("call", [
    lambda s: fxsim.add(A, A, "Q8.2", "signed_stochastic_eps", r=8, eps=0.1, source=s),
    lambda s: fxsim.add(A, A, "Q8.2", "signed_stochastic_eps", r=8, eps=0.1, v=np.ones(3), source=s),
    lambda s: fxsim.mul(A, A, "Q8.2", "signed_stochastic_eps", r=8, eps=0.1, source=s),
    lambda s: fxsim.dot(A, A, fmt="Q8.2", rounding="signed_stochastic_eps", r=8, eps=0.1, source=s),
    lambda s: fxsim.cast([0.5, 1.0], "Q8.2", "signed_stochastic_eps", r=8, eps=0.1,
                         v=[1, 2, 3], source=s),
    lambda s: fxsim.cast([0.5, np.nan], "Q8.2", "stochastic", r=8, source=s),
    lambda s: fxsim.cast([0.5, np.inf], "Q8.2", "stochastic", "wrap", r=8, source=s),
], ids=["add-no-v", "add-v-shape", "mul-no-v", "dot-no-v", "cast-v-shape", "cast-nan",
        "cast-inf-wrap"])
@pytest.mark.parametrize("kind", ["lfsr", "pcg64"])
def test_refused_stochastic_calls_take_no_draw(kind, call):
    src = SOURCES[kind]()
    before = src.state
    with pytest.raises(ValueError):
        call(src)
    assert src.state == before


# -- messages ----------------------------------------------------------------------------------

def test_string_source_points_at_make_source():
    with pytest.raises(ValueError, match=r"source must be a bit source object.*make_source"):
        fxsim.cast([0.5], "Q4.4", "stochastic", r=4, source="lfsr16")


class _Short:
    def draws(self, n, r):
        return np.zeros(n - 1, dtype=np.uint64)


class _Floats:
    def draws(self, n, r):
        return np.zeros(n)


@pytest.mark.parametrize("src, match", [
    (_Short(), r"source\.draws\(3, 4\) of _Short returned 2 values"),
    (_Floats(), r"source\.draws\(3, 4\) of _Floats returned dtype float64"),
])
def test_a_custom_source_is_blamed_not_draws(src, match):
    with pytest.raises(ValueError, match=match):
        fxsim.cast([0.5, 0.25, 0.125], "Q4.2", "stochastic", r=4, source=src)


@pytest.mark.parametrize("eps", [np.float32(0.125), np.float64(0.125), Fraction(1, 8), 0.125])
def test_eps_accepts_numpy_floats_and_fractions(eps):
    R = [0, 60, 120, 180]
    got = fxsim.cast([0.3] * 4, "Q4.2", "stochastic_eps", r=8, eps=eps, draws=R).raw
    want = [ref_cast(0.3, 4, 2, True, "stochastic_eps", "saturate", R=d, r=8, eps=Fraction(1, 8))
            for d in R]
    assert got.tolist() == want


@pytest.mark.parametrize("eps", ["0.1", np.nan, 1.5, -0.1, True])
def test_bad_eps_named(eps):
    with pytest.raises(ValueError, match=r"eps must be a number in \[0, 1\)"):
        fxsim.cast([0.3], "Q4.2", "stochastic_eps", r=8, eps=eps, draws=[1])


@pytest.mark.parametrize("call, what", [
    (lambda: fxsim.mul(fxsim.FixedArray([1], "Q-190.200"), fxsim.FixedArray([1], "Q-90.100")),
     "fl=300"),
    (lambda: fxsim.dot(fxsim.FixedArray([1], "Q-190.200"), fxsim.FixedArray([1], "Q-90.100")),
     "fl=300"),
    (lambda: fxsim.mul(fxsim.FixedArray([1], "Q40.0"), fxsim.FixedArray([1], "Q40.0")), "wl=80"),
])
def test_exact_default_format_out_of_range_asks_for_fmt(call, what):
    with pytest.raises(ValueError, match=rf"needs {what}.*pass fmt="):
        call()


def test_mac_overflow_error_counts_elements_not_casts():
    """Spec §3: an element whose products, sums and output overflow counts once."""
    a = fxsim.cast(np.full((2, 8), 7.0), "Q4.2")
    b = fxsim.cast(np.full((8, 3), 7.0), "Q4.2")
    with pytest.raises(OverflowError, match=r"^matmul: 6 element\(s\) overflowed"):
        fxsim.matmul(a, b, acc="Q8.2", prod="Q4.2", overflow="error")


@pytest.mark.parametrize("value, want", [("1", 1), ("2", 2), ("3", 3)])
def test_omp_num_threads_is_the_default(value, want):
    env = dict(os.environ, OMP_NUM_THREADS=value)
    out = subprocess.run([sys.executable, "-c", "import fxsim; print(fxsim.get_num_threads())"],
                         env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout) == want


@pytest.mark.parametrize("n", [0, -1, 1025, 1.5, "2"])
def test_set_num_threads_range(n):
    with pytest.raises(ValueError, match=r"\[1, 1024\]"):
        fxsim.set_num_threads(n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("at", [0, 32767, 32768, (1 << 17) - 1])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_long_inputs_with_a_nonfinite_value_are_refused_before_any_draw(dtype, at, bad):
    """Long inputs are checked for NaN/inf on the kernel threads in chunks of 2**15: a value at
    either side of a chunk edge or at the end is found, the call takes no draw, and a
    saturating cast of inf goes through (to the rail)."""
    x = np.linspace(-3, 3, 1 << 17).astype(dtype)
    x[at] = bad
    src = fxsim.Ideal("pcg64", seed=5)
    before = src.state
    kinds = ["wrap"] if np.isnan(bad) else ["wrap", "saturate"]
    for overflow in kinds:
        call = lambda: fxsim.cast(x, "Q8.4", "stochastic", overflow, r=8, source=src)  # noqa: E731
        if overflow == "saturate":
            got = call()
            assert got.raw[at] == (2047 if bad > 0 else -2048)     # Q8.4: a 12-bit word
            continue
        with pytest.raises(ValueError, match="NaN" if np.isnan(bad) else "inf"):
            call()
        assert src.state == before
