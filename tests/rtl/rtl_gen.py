"""Random stimulus for the rounding-unit test benches."""

import numpy as np


def make_inputs(rng, wi, fi, wo, fo, r, count):
    """Raw inputs mixing uniform words, words near the output's saturation points, extremes,
    exact results (phi = 0), exact halves and their neighbours, and small values."""
    s = fi - fo
    lo, hi = -(1 << (wi - 1)), (1 << (wi - 1)) - 1

    def clip(v):
        return [min(max(int(t), lo), hi) for t in v]

    def uniform(k):
        return [int(v) for v in rng.integers(lo, hi, size=k, endpoint=True, dtype=np.int64)] \
            if wi < 64 else [int(v) - (1 << 63) for v in
                             rng.integers(0, 2**64 - 1, size=k, endpoint=True, dtype=np.uint64)]

    k = count // 10
    parts = []
    parts += uniform(count - 8 * k)
    # around the saturation points (q = 2^(wo-1) - 1 and q = -2^(wo-1)) in input raw units
    top = (1 << (wo - 1)) << s
    bot = -(1 << (wo - 1)) << s
    jit = [int(v) for v in rng.integers(-(1 << min(s + 2, 62)), 1 << min(s + 2, 62), size=2 * k)]
    parts += clip([top + j for j in jit[:k]]) + clip([bot + j for j in jit[k:]])
    parts += clip([lo, hi, lo + 1, hi - 1, 0, -1, 1] * (k // 7 + 1))[:k]
    # phi = 0
    parts += clip([(v >> s) << s if s < 64 else 0 for v in uniform(k)])
    # phi = 1/2 and neighbours
    half = 1 << (s - 1)
    base = [((v >> s) << s) if s < 64 else 0 for v in uniform(k)]
    nb = [int(v) for v in rng.integers(-1, 1, size=k, endpoint=True)]
    parts += clip([b + half + d for b, d in zip(base, nb)])
    # small magnitudes
    parts += clip([int(v) for v in rng.integers(-(1 << min(s + 3, 62)), 1 << min(s + 3, 62),
                                                size=2 * k)])
    parts += clip([int(v) for v in rng.integers(-8, 8, size=k, endpoint=True)])
    assert len(parts) == count
    return parts


def make_draws(rng, r, count):
    if r < 64:
        R = [int(v) for v in rng.integers(0, (1 << r) - 1, size=count, endpoint=True,
                                          dtype=np.uint64)]
    else:
        R = [int(v) for v in rng.integers(0, 2**64 - 1, size=count, endpoint=True,
                                          dtype=np.uint64)]
    # a few extremes
    for i in range(0, count, 97):
        R[i] = 0
    for i in range(13, count, 89):
        R[i] = (1 << r) - 1
    return R
