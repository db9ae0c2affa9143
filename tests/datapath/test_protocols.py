"""numpy protocols of FixedArray (issue 19): every numpy ufunc either returns a FixedArray (or a
bool array) equal to the Fraction reference, or raises; none returns float64.  numpy
functions with an exact meaning map to fxsim; ``np.asarray(a)`` still gives float64 values."""
import operator
from fractions import Fraction

import numpy as np
import pytest

import fxsim
from conftest import raws_of
from reference import min_wl, value

A = fxsim.FixedArray(np.array([3, -2, 127, -128, 0, 40]), "Q(8,4)")
B = fxsim.FixedArray(np.array([1, 5, -7, 2, 9, -1]), "Q(6,2)")
VA = [value(m, 4) for m in raws_of(A)]
VB = [value(m, 2) for m in raws_of(B)]
UFUNCS = sorted((getattr(np, n) for n in dir(np) if isinstance(getattr(np, n), np.ufunc)),
                key=lambda u: u.__name__)

# the reference of every ufunc that has an exact fixed-point meaning: values (Fractions) or
# bools from the operands' exact values
REF2 = {
    "add": operator.add, "subtract": operator.sub, "multiply": operator.mul,
    "maximum": max, "minimum": min, "equal": operator.eq, "not_equal": operator.ne,
    "less": operator.lt, "less_equal": operator.le, "greater": operator.gt,
    "greater_equal": operator.ge,
}
REF1 = {"negative": operator.neg, "positive": operator.pos, "absolute": abs,
        "isfinite": lambda x: True, "isnan": lambda x: False, "isinf": lambda x: False}


def exact(res):
    """Values of a ufunc result: Fractions of a FixedArray or bools of a bool array."""
    if isinstance(res, fxsim.FixedArray):
        return [value(m, res.fmt.fl) for m in raws_of(res)]
    assert isinstance(res, np.ndarray) and res.dtype == bool, type(res)
    return res.tolist()


@pytest.mark.parametrize("uf", UFUNCS, ids=lambda u: u.__name__)
def test_every_ufunc_is_exact_or_raises(uf):
    if uf.nin == 1:
        calls = [((A,), lambda: [REF1[uf.__name__](x) for x in VA])]
    elif uf.nin == 2:
        calls = [((A, B), lambda: [REF2[uf.__name__](x, y) for x, y in zip(VA, VB)]),
                 ((A, 2), lambda: [REF2[uf.__name__](x, 2) for x in VA]),
                 ((Fraction(1, 4), A), lambda: [REF2[uf.__name__](Fraction(1, 4), x) for x in VA])]
    else:
        calls = [((A,) * uf.nin, None)]
    for args, want in calls:
        try:
            res = uf(*args)
        except (TypeError, ValueError) as e:
            assert any(w in str(e) for w in ("cast", "to_float", "format", "FixedArray")), str(e)
            continue
        outs = res if isinstance(res, tuple) else (res,)
        for r in outs:          # never floats
            assert isinstance(r, fxsim.FixedArray) or \
                (isinstance(r, np.ndarray) and r.dtype == bool), (uf.__name__, type(r))
        if uf.__name__ in ("bitwise_and", "bitwise_or", "bitwise_xor", "invert",
                           "left_shift", "right_shift", "true_divide", "divide", "matmul"):
            continue            # checked by the tests below
        assert exact(res) == want(), uf.__name__


def test_mapped_ufuncs_are_the_operators():
    assert np.add(A, B).identical(A + B) and np.multiply(A, 3).identical(A * 3)
    assert np.true_divide(A, 4).identical(A / 4) and np.left_shift(A, 2).identical(A << 2)
    assert np.right_shift(A, 1).identical(A >> 1)
    assert np.bitwise_xor(A, A).identical(A ^ A) and np.invert(A).identical(~A)
    M = A.reshape(2, 3)
    assert np.matmul(M, M.T).identical(M @ M.T)
    assert np.add.reduce(M).identical(M.sum(axis=0))
    assert np.add.accumulate(M).identical(M.cumsum(axis=0))
    assert np.maximum.reduce(A).identical(A.max(axis=0))


@pytest.mark.parametrize("call", [
    lambda: np.sqrt(A), lambda: np.exp(A), lambda: np.floor_divide(A, B), lambda: np.add(A, B, out=None, dtype=float),
    lambda: np.add(A, np.ones(6)), lambda: np.ones(6) + A, lambda: np.ones(6) * A,
    lambda: np.mean(A), lambda: np.round(A), lambda: np.std(A), lambda: np.add.outer(A, B),
    lambda: np.sin(A), lambda: np.power(A, 2), lambda: np.isclose(A, B),
    lambda: np.zeros_like(A, dtype=float), lambda: np.empty_like(A),
])
def test_refused_calls_raise_a_type_error_that_says_how(call):
    with pytest.raises(TypeError, match="to_float|fxsim.cast|keyword"):
        call()


def test_np_asarray_is_unchanged():
    """np.asarray / np.array give the float64 values, as before the protocols (documented)."""
    for f in (np.asarray, np.array, np.asanyarray):
        got = f(A)
        assert got.dtype == np.float64 and got.tolist() == [float(v) for v in VA]
    assert float(A[0]) == float(VA[0])


def test_array_functions():
    M = A.reshape(2, 3)
    assert np.sum(A).identical(A.sum()) and np.cumsum(M, axis=1).identical(M.cumsum(axis=1))
    assert np.reshape(A, (3, 2)).identical(A.reshape(3, 2)) and np.transpose(M).identical(M.T)
    assert np.shape(M) == (2, 3) and np.ndim(M) == 2 and np.size(M) == 6
    assert np.argmax(A) == VA.index(max(VA)) and np.argsort(A).tolist() == sorted(
        range(6), key=lambda i: (VA[i], i))
    assert exact(np.sort(A)) == sorted(VA) and exact(np.max(A)) == [max(VA)]
    c = np.concatenate([A, B])
    # the smallest format holding both: fl 4, the union of the ranges at fl 4
    lo, hi = min(-128, -32 << 2), max(127, 31 << 2)
    assert (c.fmt.wl, c.fmt.fl) == (min_wl(lo, hi, True), 4) and exact(c) == VA + VB
    s = np.stack([A, B])
    assert s.shape == (2, 6) and exact(s) == VA + VB
    w = np.where(np.array(VA) > np.array(VB), A, B)
    assert exact(w) == [max(x, y) for x, y in zip(VA, VB)]
    assert np.array_equal(A, A.copy()) and not np.array_equal(A, B)
    assert np.dot(M, M.T).identical(M @ M.T)
    assert exact(np.zeros_like(A)) == [0] * 6 and np.zeros_like(A).fmt == A.fmt
    lo, hi = Fraction(-1, 2), Fraction(3)
    assert exact(np.clip(A, lo, hi)) == [min(max(x, lo), hi) for x in VA]
    assert exact(np.diff(A)) == [y - x for x, y in zip(VA, VA[1:])]
    assert exact(np.diff(M, n=2, axis=1)) == [VA[2] - 2 * VA[1] + VA[0], VA[5] - 2 * VA[4] + VA[3]]
    with pytest.raises(TypeError, match="fxsim.save"):
        np.save("never_written.npy", A)
    with pytest.raises(TypeError, match="FixedArray"):
        np.concatenate([A, np.ones(2)])


def test_results_are_new_words():
    """Operators and mapped functions never write into their inputs."""
    a, b = A.copy(), B.copy()
    for f in (lambda: a + b, lambda: -a, lambda: abs(a), lambda: a << 3, lambda: a.sum(),
              lambda: np.concatenate([a, b]), lambda: a & a, lambda: a.cumsum()):
        res = f()
        res.raw[...] = 0 if res.raw.flags.writeable else res.raw
    assert a.identical(A) and b.identical(B)
