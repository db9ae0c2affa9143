"""Plain-Python re-implementations of the accelerators' generators (fxsim.vendor_sources), written
from the public descriptions cited there, one step at a time on Python ints; no fxsim code.

``VendorRef(preset, seed).draws(n, r)`` is the stream the source must give.
"""
import numpy as np

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


def amd_prng_b32(s):
    """V_PRNG_B32: D = (S0 << 1) ^ (S0[31] ? 197 : 0)."""
    d = (s << 1) & M32
    if s & 0x80000000:
        d ^= 197
    return d


def tt_advance(state):
    """tt-isa-documentation VectorUnit.md, AdvancePRNG: (result, new state)."""
    taps = bin(state & 0x80200003).count("1")
    return state, (((~taps) & 1) << 31) | (state >> 1)


def xorwow_init(seed):
    s0 = (seed & M32) ^ 0xAAD26B49
    s1 = (seed >> 32 & M32) ^ 0xF7DCEFDD
    t0 = 1099087573 * s0 & M32
    t1 = 2591861531 * s1 & M32
    v = [(123456789 + t0) & M32, 362436069 ^ t0, (521288629 + t1) & M32, 88675123 ^ t1,
         (5783321 + t0) & M32]
    return v, (6615241 + t1 + t0) & M32


def xorwow_next(v, d):
    """curand(): (word, v, d)."""
    t = v[0] ^ (v[0] >> 2)
    v = v[1:] + [((v[4] ^ (v[4] << 4)) ^ (t ^ (t << 1))) & M32]
    d = (d + 362437) & M32
    return (v[4] + d) & M32, v, d


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


def xoroshiro128(s0, s1, scrambler):
    """(word, s0, s1): Blackman & Vigna's xoroshiro128 (24, 16, 37) with '+' or 'aox'."""
    if scrambler == "+":
        out = (s0 + s1) & M64
    else:
        sa = s0 & s1
        out = (s0 ^ s1) ^ (rotl(sa, 1) | rotl(sa, 2))
    s1 ^= s0
    return out, rotl(s0, 24) ^ s1 ^ (s1 << 16) & M64, rotl(s1, 37)


def philox4x32_10(ctr, key):
    """Random123's Philox4x32-10 block (Salmon et al., SC'11): four counter words, two key words."""
    c, k = list(ctr), list(key)
    for rnd in range(10):
        if rnd:
            k = [(k[0] + 0x9E3779B9) & M32, (k[1] + 0xBB67AE85) & M32]
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & M32, (p0 >> 32) ^ c[3] ^ k[1], p0 & M32]
    return c


def _word64(seed):
    if isinstance(seed, np.random.SeedSequence):
        return int(seed.generate_state(1, np.uint64)[0])
    return seed


class VendorRef:
    def __init__(self, preset, seed, lanes=None):
        self.preset, self.seed = preset, seed
        self.lanes = lanes or (32 if preset == "tenstorrent:sfpu" else 1)

    def words(self, n):
        """(the n generator words, their width)."""
        p, out = self.preset, []
        if p == "amd:prng_b32":
            s0 = _word64(self.seed)
            regs = [1 + (s0 * (lane + 1) - 1) % M32 for lane in range(self.lanes)]
            for e in range(n):
                lane = e % self.lanes
                regs[lane] = amd_prng_b32(regs[lane])
                out.append(regs[lane])
            return out, 32
        if p == "tenstorrent:sfpu":
            s = _word64(self.seed) % M32
            regs = []
            for _ in range(32):
                regs.append(s)
                s = tt_advance(s)[1]
            for e in range(n):
                w, regs[e % 32] = tt_advance(regs[e % 32])
                out.append(w)
            return out, 32
        if p == "curand:xorwow":
            v, d = xorwow_init(_word64(self.seed) & M64)
            for _ in range(n):
                w, v, d = xorwow_next(v, d)
                out.append(w)
            return out, 32
        if p == "curand:philox4x32_10":
            key = _word64(self.seed) & M64
            ctr = 0
            while len(out) < n:           # curand(): the 4 words of counter 0, 1, 2, ... in order
                out += philox4x32_10([(ctr >> (32 * i)) & M32 for i in range(4)],
                                     [key & M32, key >> 32])
                ctr += 1
            return out[:n], 32
        ss = self.seed if isinstance(self.seed, np.random.SeedSequence) else np.random.SeedSequence(self.seed)
        s0, s1 = (int(x) for x in ss.generate_state(2, np.uint64))
        for _ in range(n):
            w, s0, s1 = xoroshiro128(s0, s1, "+" if p == "xoroshiro128plus" else "aox")
            out.append(w)
        return out, 64

    def draws(self, n, r):
        words, width = self.words(n)
        if self.preset in ("amd:prng_b32", "tenstorrent:sfpu"):
            return [w & ((1 << r) - 1) for w in words]          # low r bits
        return [w >> (width - r) for w in words]                # top r bits


def sfpstochrnd_int(c, shift, prng, to_uint8=False, stochastic=True):
    """SFPSTOCHRND, integer flavour (tt-isa-documentation SFPSTOCHRND_IntInt.md functional
    model), on one 32-bit sign-magnitude word c: the 32-bit sign-magnitude result."""
    bits = prng & 0x7FFFFF if stochastic else 0x400000
    sign = c & 0x80000000
    mag = c & 0x7FFFFFFF
    mag = (mag << 23) >> (shift & 31)
    mag = (mag >> 23) + (1 if (mag & 0x7FFFFF) >= bits else 0)
    if to_uint8:
        mag, sign = min(mag, 255), 0
    else:
        mag = min(mag, 127)
        if mag == 0:
            sign = 0
    return sign + mag


def sfpstochrnd_fp32(x, prng, to_fp16a, stochastic=True):
    """SFPSTOCHRND, float flavour (tt-isa-documentation SFPSTOCHRND_FloatFloat.md functional
    model), on the bits x of one FP32 value: FP16A keeps 10 mantissa bits (DiscardedBits = the low
    13, compared with PRNGBits >> 10), FP16B keeps 7 (the low 16, against PRNGBits >> 7).
    Returns the FP32 bits."""
    bits = prng & 0x7FFFFF if stochastic else 0x400000
    exp = (x >> 23) & 0xFF
    if exp == 0:
        return 0
    if exp == 255:
        return x & 0xFF800000
    low, shift = (0x1FFF, 10) if to_fp16a else (0xFFFF, 7)
    discarded = x & low
    x -= discarded
    if discarded >= (bits >> shift):
        x += low + 1
    return x
