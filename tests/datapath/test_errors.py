"""Bad input gets clear errors (spec 1-3, docs/api.md): the exception type the contract names,
and a message naming the offending parameter."""
import re

import numpy as np
import pytest

from conftest import fixed, qf, raws_of
from reference import DETERMINISTIC, OVERFLOWS, STOCHASTIC

F8 = (8, 4, True)


# ---------------------------------------------------------------------------- NaN / inf
@pytest.mark.parametrize("overflow", OVERFLOWS)
@pytest.mark.parametrize("x", [float("nan"), [1.0, float("nan"), 2.0]], ids=["scalar", "array"])
def test_nan_raises_value_error(fx, x, overflow):
    with pytest.raises(ValueError, match=r"(?i)nan"):
        fx.cast(x, qf(fx, F8), "nearest_even", overflow)


def test_nan_raises_under_stochastic(fx):
    with pytest.raises(ValueError, match=r"(?i)nan"):
        fx.cast(np.array([0.25, np.nan]), qf(fx, F8), "stochastic", "saturate", r=4,
                draws=np.array([1, 2], dtype=np.uint64))


@pytest.mark.parametrize("overflow", ["wrap", "error"])
@pytest.mark.parametrize("x", [float("inf"), float("-inf"), [0.0, float("-inf")]],
                         ids=["+inf", "-inf", "array"])
def test_inf_raises_under_wrap_and_error(fx, x, overflow):
    with pytest.raises(ValueError, match=r"(?i)inf"):
        fx.cast(x, qf(fx, F8), "nearest_even", overflow)


@pytest.mark.parametrize("fmt", [(8, 4, True), (8, 4, False), (64, -256, True), (64, 256, False),
                                 (1, 0, True), (1, 0, False), (33, 7, True)])
@pytest.mark.parametrize("rounding", ["floor", "ceil", "nearest_even", "jam"])
def test_inf_saturates(fx, fmt, rounding):
    wl, fl, signed = fmt
    lo, hi = (-(1 << (wl - 1)), (1 << (wl - 1)) - 1) if signed else (0, (1 << wl) - 1)
    x = np.array([np.inf, -np.inf])
    assert raws_of(fx.cast(x, qf(fx, fmt), rounding, "saturate")) == [hi, lo]
    assert raws_of(fx.cast(x, qf(fx, fmt), rounding, "saturate_symmetric")) == \
        [hi, -hi if signed else lo]


# ---------------------------------------------------------------------------- overflow error
def _has_number(msg, n):
    return re.search(rf"(?<![\d.]){n}(?![\d.])", msg) is not None


def test_overflow_error_message_count_and_first_index(fx):
    x = np.array([0.0, 0.5, 100.0, 1.0, 200.0, -300.0, 3.0])
    with pytest.raises(OverflowError) as ei:
        fx.cast(x, qf(fx, (4, 0, True)), "nearest_even", "error")
    msg = str(ei.value)
    assert _has_number(msg, 3), msg           # three elements overflow
    assert _has_number(msg, 2), msg           # the first is x[2]


def test_overflow_error_single_element(fx):
    x = np.array([0.0] * 9 + [8.0])
    with pytest.raises(OverflowError) as ei:
        fx.cast(x, qf(fx, (4, 0, True)), "floor", "error")
    msg = str(ei.value)
    assert _has_number(msg, 1) and _has_number(msg, 9), msg


def test_overflow_error_from_rounding_up(fx):
    """7.5 fits before rounding but ceil makes it 8: overflow is after rounding (spec 3)."""
    with pytest.raises(OverflowError):
        fx.cast(7.5, qf(fx, (4, 0, True)), "ceil", "error")
    assert raws_of(fx.cast(7.5, qf(fx, (4, 0, True)), "floor", "error")) == [7]


def test_overflow_error_in_add_and_matmul(fx):
    a = fixed(fx, [1, 7, 7], (4, 0, True))
    with pytest.raises(OverflowError) as ei:
        fx.add(a, a, fmt=qf(fx, (4, 0, True)), overflow="error")
    assert _has_number(str(ei.value), 2) and _has_number(str(ei.value), 1), str(ei.value)
    A = fixed(fx, [[7, 7], [1, 1]], (4, 0, True))
    with pytest.raises(OverflowError):
        fx.matmul(A, A, acc=qf(fx, (6, 0, True)), overflow="error")


# ---------------------------------------------------------------------------- formats
@pytest.mark.parametrize("wl", [0, 65, -1, 2.5, "8", None])
def test_bad_wl(fx, wl):
    with pytest.raises(ValueError, match=r"\bwl\b"):
        fx.QFormat(wl, 0)


@pytest.mark.parametrize("fl", [257, -257, 2.5, "3", None])
def test_bad_fl(fx, fl):
    with pytest.raises(ValueError, match=r"\bfl\b"):
        fx.QFormat(8, fl)


@pytest.mark.parametrize("wl,fl", [(1, -256), (64, 256), (1, 256), (64, -256)])
def test_extreme_formats_are_legal(fx, wl, fl):
    q = fx.QFormat(wl, fl, False)
    assert (q.wl, q.fl, q.signed) == (wl, fl, False)


def test_wl_message_names_range(fx):
    with pytest.raises(ValueError, match=r"64"):
        fx.QFormat(65, 0)
    with pytest.raises(ValueError, match=r"256"):
        fx.QFormat(8, 300)


@pytest.mark.parametrize("text", ["", "Q8", "Q8.8.8", "X8.8", "Q(8)", "s16", "Qa.b"])
def test_bad_format_string(fx, text):
    with pytest.raises(ValueError):
        fx.QFormat.parse(text)


@pytest.mark.parametrize("raws,fmt", [([8], (4, 0, True)), ([-9], (4, 0, True)),
                                      ([-1], (4, 0, False)), ([16], (4, 0, False))])
def test_fixedarray_raw_out_of_range(fx, raws, fmt):
    with pytest.raises(ValueError):
        fx.FixedArray(np.array(raws, dtype=np.int64), qf(fx, fmt))


# ---------------------------------------------------------------------------- mode names
@pytest.mark.parametrize("name", ["round", "nearest", "NEAREST-EVEN", "", "stochastic_rounding"])
def test_unknown_rounding(fx, name):
    with pytest.raises(ValueError, match=r"rounding") as ei:
        fx.cast(1.0, qf(fx, F8), name, "saturate")
    for allowed in ("nearest_even", "floor", "stochastic"):
        assert allowed in str(ei.value), str(ei.value)


@pytest.mark.parametrize("name", ["sat", "clip", "wraparound", ""])
def test_unknown_overflow(fx, name):
    with pytest.raises(ValueError, match=r"overflow") as ei:
        fx.cast(1.0, qf(fx, F8), "floor", name)
    for allowed in ("saturate", "wrap", "error"):
        assert allowed in str(ei.value), str(ei.value)


def test_unknown_rounding_in_ops(fx):
    a = fixed(fx, [1, 2], F8)
    with pytest.raises(ValueError, match=r"rounding"):
        fx.add(a, a, fmt=qf(fx, F8), rounding="bogus")
    with pytest.raises(ValueError, match=r"overflow"):
        fx.mul(a, a, fmt=qf(fx, F8), overflow="bogus")
    with pytest.raises(ValueError, match=r"rounding"):
        fx.dot(a, a, acc=qf(fx, (16, 4, True)), prod=qf(fx, (12, 4, True)),
               prod_rounding="bogus")


def test_unknown_sr_rule(fx):
    with pytest.raises(ValueError, match=r"sr_rule"):
        fx.cast(0.3, qf(fx, F8), "stochastic", "saturate", r=4, sr_rule="round",
                draws=np.array([1], dtype=np.uint64))


# ---------------------------------------------------------------------------- shapes
def test_add_shapes_do_not_broadcast(fx):
    with pytest.raises(ValueError, match=r"(?i)shape|broadcast"):
        fx.add(fixed(fx, [1, 2, 3], F8), fixed(fx, [1, 2, 3, 4], F8))
    with pytest.raises(ValueError, match=r"(?i)shape|broadcast"):
        fx.mul(fixed(fx, [[1, 2, 3]] * 2, F8), fixed(fx, [[1, 2]] * 2, F8), fmt=qf(fx, F8))


def test_dot_length_mismatch(fx):
    with pytest.raises(ValueError, match=r"(?i)length|mismatch|shape"):
        fx.dot(fixed(fx, [1, 2, 3], F8), fixed(fx, [1, 2], F8), acc=qf(fx, (20, 8, True)))


def test_matmul_inner_mismatch(fx):
    A = fixed(fx, np.zeros((2, 3), dtype=np.int64), F8)
    B = fixed(fx, np.zeros((2, 3), dtype=np.int64), F8)
    with pytest.raises(ValueError, match=r"(?i)inner|shape|dimension"):
        fx.matmul(A, B, acc=qf(fx, (20, 8, True)))
    with pytest.raises(ValueError, match=r"(?i)inner|shape|dimension"):
        fx.matvec(A, fixed(fx, [1, 2], F8), acc=qf(fx, (20, 8, True)))


def test_full_precision_too_wide_asks_for_fmt(fx):
    a = fixed(fx, [1], (64, 0, True))
    with pytest.raises(ValueError, match=r"fmt"):
        fx.add(a, a)                       # 65 bits
    b = fixed(fx, [1], (40, 0, True))
    with pytest.raises(ValueError, match=r"fmt"):
        fx.mul(b, b)                       # 80 bits, exact in 128-bit but no 64-bit format


# ---------------------------------------------------------------------------- stochastic params
@pytest.mark.parametrize("rounding", STOCHASTIC)
def test_stochastic_needs_draws_or_source(fx, rounding):
    kw = dict(r=8)
    if rounding != "stochastic":
        kw["eps"] = 0.25
    if rounding == "signed_stochastic_eps":
        kw["v"] = np.array([1.0])
    with pytest.raises(ValueError, match=r"draws|source"):
        fx.cast(np.array([0.3]), qf(fx, F8), rounding, "saturate", **kw)


def test_stochastic_needs_r(fx):
    with pytest.raises(ValueError, match=r"\br\b"):
        fx.cast(np.array([0.3]), qf(fx, F8), "stochastic", "saturate",
                draws=np.array([1], dtype=np.uint64))


@pytest.mark.parametrize("r", [0, 65, -3])
def test_r_out_of_range(fx, r):
    with pytest.raises(ValueError, match=r"\br\b"):
        fx.cast(np.array([0.3]), qf(fx, F8), "stochastic", "saturate", r=r,
                draws=np.array([0], dtype=np.uint64))


@pytest.mark.parametrize("n", [0, 2, 5])
def test_draws_wrong_length(fx, n):
    with pytest.raises(ValueError, match=r"draws"):
        fx.cast(np.array([0.3, 0.4, 0.5]), qf(fx, F8), "stochastic", "saturate", r=8,
                draws=np.arange(n, dtype=np.uint64))


def test_draws_wrong_length_in_dot(fx):
    a = fixed(fx, [1, 2, 3], F8)
    # prod and acc present: 2 draws per k -> 6 (out equal to acc: absent)
    with pytest.raises(ValueError, match=r"draws"):
        fx.dot(a, a, acc=qf(fx, (20, 4, True)), prod=qf(fx, (16, 4, True)),
               rounding="stochastic", r=8, draws=np.arange(5, dtype=np.uint64))


@pytest.mark.parametrize("r,R", [(1, 2), (8, 256), (63, 1 << 63), (4, 1 << 40)])
def test_draw_not_below_2_pow_r(fx, r, R):
    with pytest.raises(ValueError, match=r"draws|\bR\b|2\*\*r|2\^r"):
        fx.cast(np.array([0.3, 0.4]), qf(fx, F8), "stochastic", "saturate", r=r,
                draws=np.array([0, R], dtype=np.uint64))


def test_r64_accepts_any_uint64_draw(fx):
    res = fx.cast(np.array([0.03125, 0.03125]), qf(fx, (8, 4, True)), "stochastic", "saturate",
                  r=64, draws=np.array([(1 << 64) - 1, (1 << 63) - 1], dtype=np.uint64))
    # t = 0.5: D = 2^63; up iff D + R >= 2^64
    assert raws_of(res) == [1, 0]


@pytest.mark.parametrize("eps", [1.0, -0.1, 1.5, float("nan")])
@pytest.mark.parametrize("rounding", ["stochastic_eps", "signed_stochastic_eps"])
def test_eps_out_of_range(fx, rounding, eps):
    kw = dict(r=8, eps=eps, draws=np.array([3], dtype=np.uint64))
    if rounding == "signed_stochastic_eps":
        kw["v"] = np.array([1.0])
    with pytest.raises(ValueError, match=r"eps"):
        fx.cast(np.array([0.3]), qf(fx, F8), rounding, "saturate", **kw)


def test_signed_stochastic_eps_needs_v(fx):
    with pytest.raises(ValueError, match=r"\bv\b"):
        fx.cast(np.array([0.3]), qf(fx, F8), "signed_stochastic_eps", "saturate", r=8,
                eps=0.25, draws=np.array([3], dtype=np.uint64))


def test_signed_stochastic_eps_v_shape(fx):
    with pytest.raises(ValueError, match=r"\bv\b|shape"):
        fx.cast(np.array([0.3, 0.2]), qf(fx, F8), "signed_stochastic_eps", "saturate", r=8,
                eps=0.25, v=np.array([1.0, 2.0, 3.0]), draws=np.array([3, 4], dtype=np.uint64))


@pytest.mark.parametrize("rounding", DETERMINISTIC[:3])
def test_deterministic_modes_need_no_draws(fx, rounding):
    assert raws_of(fx.cast(np.array([0.3]), qf(fx, F8), rounding, "saturate")) in ([4], [5])


# ---------------------------------------------------------------------------- 128-bit limit
def test_intermediate_of_127_bits_is_accepted(fx):
    """docs/api.md: ValueError only when the exact intermediate needs more than 127 bits.
    Q(64,0) x Q(63,0) signed: products in [-2^125 + 2^62, 2^125] -> 127 bits."""
    a = fixed(fx, [-(1 << 63), (1 << 63) - 1], (64, 0, True))
    b = fixed(fx, [-(1 << 62), -(1 << 62)], (63, 0, True))
    res = fx.mul(a, b, fmt=qf(fx, (64, -62, True)), rounding="floor", overflow="wrap")
    # 2^125 * 2^-62 = 2^63 wraps to -2^63; -(2^63 - 1) * 2^62 * 2^-62 = -(2^63 - 1)
    assert raws_of(res) == [-(1 << 63), -((1 << 63) - 1)]
    # add: Q(64,62) + Q(64,0) aligns b by 62 bits: sums in [-2^125 - 2^63, 2^125 + 2^63) -> 127
    c = fixed(fx, [(1 << 63) - 1], (64, 62, True))
    d = fixed(fx, [-(1 << 63)], (64, 0, True))
    res = fx.add(c, d, fmt=qf(fx, (64, 0, True)), rounding="floor", overflow="saturate")
    assert raws_of(res) == [-(1 << 63) + 1]      # floor(-2^63 + 2 - 2^-62) = -2^63 + 1


def test_intermediate_over_127_bits_refused(fx):
    a = fixed(fx, [1], (64, 0, False))
    with pytest.raises(ValueError, match=r"bit"):
        fx.mul(a, a, fmt=qf(fx, (64, 0, False)))       # products up to (2^64 - 1)^2: 128 bits
