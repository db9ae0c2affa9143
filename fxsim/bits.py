"""Raw words as bit patterns (ac_int / MATLAB ``fi`` bit operations), on numpy arrays.

A signed word of wl bits is its two's complement pattern; every function takes and returns
raw integer arrays with their ``QFormat``, and ``FixedArray`` wraps them (``a.bits[hi:lo]``,
``a.reinterpret(fmt)``, ``& | ^ ~``, ``fxsim.bitcat``).
"""
from __future__ import annotations

import numpy as np

from .qformat import QFormat


def _mask(wl: int) -> np.uint64:
    return np.uint64((1 << wl) - 1 if wl < 64 else 2**64 - 1)


def patterns(raw: np.ndarray, fmt: QFormat) -> np.ndarray:
    """The words as unsigned wl-bit patterns (uint64; two's complement for signed formats).

    >>> patterns(np.array([-1, 3], dtype=np.int8), QFormat(4, 0)).tolist()
    [15, 3]
    """
    wide = raw.astype(np.int64).view(np.uint64) if fmt.signed else raw.astype(np.uint64)
    return wide & _mask(fmt.wl)


def from_patterns(u: np.ndarray, fmt: QFormat) -> np.ndarray:
    """Raw words of ``fmt`` (its container) from unsigned wl-bit patterns (sign-extended).

    >>> from_patterns(np.array([15, 3], dtype=np.uint64), QFormat(4, 0)).tolist()
    [-1, 3]
    """
    u = np.asarray(u, dtype=np.uint64) & _mask(fmt.wl)
    if fmt.signed and fmt.wl < 64:
        sign = np.uint64(1 << (fmt.wl - 1))
        u = (u ^ sign) - sign            # sign extension, modulo 2^64
    return u.view(np.int64).astype(fmt.dtype) if fmt.signed else u.astype(fmt.dtype)


def bit_slice(raw: np.ndarray, fmt: QFormat, hi: int, lo: int) -> tuple:
    """Bits hi..lo (Verilog ``w[hi:lo]``, both included, bit 0 the LSB) as unsigned integers:
    (raw words, UQ(hi - lo + 1, 0)).

    >>> bit_slice(np.array([0b1011_0110], dtype=np.uint8), QFormat(8, 0, False), 7, 4)
    (array([11], dtype=uint8), QFormat(wl=4, fl=0, signed=False))
    """
    for name, v in (("hi", hi), ("lo", lo)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < fmt.wl:
            raise ValueError(f"bit slice: {name} must be an integer in [0, {fmt.wl - 1}] "
                             f"(bits of a {fmt.wl}-bit word), got {v!r}")
    hi, lo = int(hi), int(lo)
    if hi < lo:
        raise ValueError(f"bit slice: write bits[hi:lo] with hi >= lo (Verilog order), got "
                         f"[{hi}:{lo}]")
    out = QFormat(hi - lo + 1, 0, False)
    return (patterns(raw, fmt) >> np.uint64(lo)).astype(out.dtype) & \
        np.array(_mask(out.wl)).astype(out.dtype), out


def concat(parts) -> tuple:
    """Verilog ``{a, b, ...}``: the patterns side by side, the first part in the most
    significant bits, as unsigned integers (raw words, UQ(total, 0)); ``parts`` is a list of
    (raw, fmt) pairs whose shapes broadcast.

    >>> concat([(np.array([5]), QFormat(3, 0, False)), (np.array([-1]), QFormat(2, 0))])
    (array([23], dtype=uint8), QFormat(wl=5, fl=0, signed=False))
    """
    total = sum(f.wl for _, f in parts)
    if total > 64:
        raise ValueError(f"bitcat: the words add up to {total} bits; at most 64 fit a word")
    acc = np.zeros(np.broadcast_shapes(*(np.shape(r) for r, _ in parts)), dtype=np.uint64)
    for raw, f in parts:
        acc = (acc << np.uint64(f.wl)) if f.wl < 64 else np.zeros_like(acc)
        acc = acc | patterns(raw, f)
    out = QFormat(total, 0, False)
    return acc.astype(out.dtype), out


def bitwise(op: str, ra: np.ndarray, rb, fmt: QFormat) -> np.ndarray:
    """and/or/xor of two words' patterns, or not of one (``rb`` None), in ``fmt``.

    >>> bitwise("xor", np.array([-1], dtype=np.int8), np.array([5], dtype=np.int8), QFormat(4, 0))
    array([-6], dtype=int8)
    """
    ua = patterns(ra, fmt)
    if op == "not":
        u = ~ua
    else:
        u = {"and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}[op](
            ua, patterns(rb, fmt))
    return from_patterns(u, fmt)


def shift_bits(raw: np.ndarray, fmt: QFormat, n: int) -> np.ndarray:
    """The words shifted by ``n`` bits inside their format, as a register does: left shifts
    drop the bits shifted out (the result wraps), right shifts are arithmetic for signed
    formats (floor), logical for unsigned ones.

    >>> shift_bits(np.array([-3, 5], dtype=np.int8), QFormat(4, 0), 1).tolist()   # 1010, 1010
    [-6, -6]
    >>> shift_bits(np.array([-3, 5], dtype=np.int8), QFormat(4, 0), -1).tolist()
    [-2, 2]
    """
    if n >= 0:
        return from_patterns(patterns(raw, fmt) << np.uint64(min(n, 64)) if n < 64
                             else np.zeros(np.shape(raw), np.uint64), fmt)
    k = min(-n, 63)
    return (raw.astype(np.int64) >> k).astype(fmt.dtype) if fmt.signed else \
        (raw.astype(np.uint64) >> np.uint64(min(-n, 64)) if -n < 64
         else np.zeros(np.shape(raw), np.uint64)).astype(fmt.dtype)
