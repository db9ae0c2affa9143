"""The dot products keep a checked plan per deterministic argument set (``ops._mac``): calls
that reuse it give the reference's words and counters, and arguments equal to a cached set
but of another type (False for 0, 1.0 for 1) are still checked and refused as before."""
from fractions import Fraction

import numpy as np
import pytest

import fxsim
from conftest import fixed, raws_of
from reference import ref_dot

FA, FB = (8, 4, True), (8, 3, False)


def _tuple(f):
    return f.wl, f.fl, f.signed


def _operands(seed, M, K, N):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (M, K)).tolist()
    b = rng.integers(0, 256, (K, N)).tolist()
    return a, b


@pytest.mark.parametrize("kw", [
    dict(),                                                             # exact (BLAS path)
    dict(acc="Q(14,5)", rounding="nearest_even", overflow="saturate"),  # rounding MAC array
    dict(acc="Q(20,7)", overflow="wrap"),                               # aligned lanes
    dict(acc="Q(14,5)", fmt="Q(8,2)", rounding="floor", overflow="saturate"),
    dict(prod="Q(12,4)", acc="Q(16,4)", rounding="toward_zero", overflow="saturate"),  # generic
])
def test_repeated_calls_match_the_reference(kw):
    for seed, (M, K, N) in enumerate([(3, 5, 2), (3, 5, 2), (4, 5, 1), (2, 7, 3), (3, 5, 2)]):
        a, b = _operands(seed, M, K, N)
        A, B = fixed(fxsim, a, FA), fixed(fxsim, b, FB)
        with fxsim.Counters() as c:
            got = fxsim.matmul(A, B, **kw)
        rk = {k: (_tuple(fxsim.qformat(v)) if k in ("acc", "prod", "fmt") else v)
              for k, v in kw.items()}
        rk["out"] = rk.pop("fmt", None)
        want = [ref_dot([a[i][k] for k in range(K)], FA, [b[k][j] for k in range(K)], FB, **rk)
                for i in range(M) for j in range(N)]
        fl = got.fmt.fl
        assert [Fraction(m) / 2 ** fl if w.raw is None else m for m, w in zip(raws_of(got), want)] \
            == [w.value if w.raw is None else w.raw for w in want]
        assert got.shape == (M, N)
        assert sum(r.cast for r in c.records) >= (M * N if kw else 0)


def test_equal_arguments_of_another_type_are_still_refused():
    a, b = _operands(0, 2, 3, 2)
    A, B = fixed(fxsim, a, FA), fixed(fxsim, b, FB)
    first = fxsim.matmul(A, B, acc="Q(14,5)", eps=0)
    assert raws_of(fxsim.matmul(A, B, acc="Q(14,5)", eps=0.0)) == raws_of(first)
    with pytest.raises(ValueError, match="eps"):
        fxsim.matmul(A, B, acc="Q(14,5)", eps=False)
    fxsim.matmul(A, B, acc="Q(14,5)", r=1)
    with pytest.raises(ValueError, match="r must"):
        fxsim.matmul(A, B, acc="Q(14,5)", r=1.0)
