"""Pure-Python references for the RTL units, written from the spec's definitions with exact
rationals (docs/datapath.md sections 2-4). They do not share code or formulation with the
RTL (which works on bit slices) and they do not need fxsim.
"""

from fractions import Fraction
from math import floor

MODES = {"stochastic": 0, "nearest_even": 1, "floor": 2}   # sr_unit.v `mode` codes


def saturate(v, wl):
    lo, hi = -(1 << (wl - 1)), (1 << (wl - 1)) - 1
    if v > hi:
        return hi, True
    if v < lo:
        return lo, True
    return v, False


def sr_cast(x_raw, fi, wo, fo, mode, r, R):
    """Cast raw x (fraction fi) to a signed wo-bit word with fraction fo (fo < fi).

    mode: "stochastic" (sr_rule trunc: up when D + R >= 2^r, D = floor(phi * 2^r)),
    "nearest_even" or "floor"; overflow saturate. Returns (y, up, saturated).
    """
    t = Fraction(x_raw) * Fraction(2) ** (fo - fi)   # x * 2^fo
    q = floor(t)
    phi = t - q
    if mode == "stochastic":
        D = floor(phi * 2 ** r)
        up = D + R >= 2 ** r
    elif mode == "nearest_even":
        up = phi > Fraction(1, 2) or (phi == Fraction(1, 2) and q % 2 == 1)
    elif mode == "floor":
        up = False
    else:
        raise ValueError(mode)
    y, sat = saturate(q + int(up), wo)
    return y, bool(up), sat


def sat_dot(a, b, wa):
    """spec section 4 with an exact product and a wa-bit saturating accumulator having the
    product's fraction: acc_0 = 0, acc_{k+1} = sat(acc_k + a_k b_k). Returns (acc_K, steps)."""
    acc = 0
    steps = []
    for x, y in zip(a, b):
        acc, _ = saturate(acc + x * y, wa)
        steps.append(acc)
    return acc, steps
