"""GF(2) and number-theory helpers of the LFSR sources (spec §5.1): the shipped taps table,
primitivity of a feedback polynomial, the factors of 2**n - 1, the order of a polynomial, and
Berlekamp-Massey.

Polynomials over GF(2) are Python ints, bit i = the coefficient of x**i.  Taps use the XAPP052
notation (exponents, first = n): the feedback polynomial is 1 + sum x**t, and the register's
characteristic polynomial its reciprocal x**n + sum x**(n-t).

>>> is_primitive(16, taps_table()[16])
True
>>> poly_order(0b10011)          # x**4 + x + 1 is primitive: order 2**4 - 1
15
"""
from __future__ import annotations

import csv
import io
import math
from functools import lru_cache
from importlib import resources

from . import _sources as _S

__all__ = ["taps_table", "default_taps", "galois_mask", "is_prime", "pollard_rho",
           "prime_factors", "mersenne_factors", "char_poly_low", "poly_order", "is_primitive",
           "berlekamp_massey", "seed_period", "poly_text"]


# -- the taps table ----------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _table() -> dict:
    text = resources.files("fxsim").joinpath("data").joinpath("lfsr_taps.csv").read_text()
    rows = csv.DictReader(io.StringIO("".join(l for l in text.splitlines(True) if not l.startswith("#"))))
    table = {}
    for row in rows:
        n = int(row["n"])
        taps = tuple(int(t) for t in row["taps"].split())
        if taps[0] != n or galois_mask(taps) != int(row["galois_mask"], 16):
            raise RuntimeError(f"fxsim/data/lfsr_taps.csv: row n={n} is inconsistent")
        table[n] = taps
    return table


def taps_table() -> dict:
    """{n: taps} of the shipped table of maximal-length taps (XAPP052 notation), n = 2..168.

    >>> taps_table()[16]
    (16, 15, 13, 4)
    """
    return dict(_table())


def default_taps(n: int) -> tuple:
    """The table's maximal-length taps for an n-bit register (2 <= n <= 168).

    >>> default_taps(8)
    (8, 6, 5, 4)
    """
    return _table()[n]


def galois_mask(taps) -> int:
    """The Galois feedback mask M = sum of 2**(t-1) over the taps.

    >>> hex(galois_mask((16, 15, 13, 4)))
    '0xd008'
    """
    m = 0
    for t in taps:
        m |= 1 << (t - 1)
    return m


# -- integers: factors of 2**n - 1 ---------------------------------------------------------------

def is_prime(m: int) -> bool:
    """Whether m is prime: deterministic Miller-Rabin for m < 3.3e24 (first 12 prime bases).

    >>> is_prime(2**31 - 1), is_prime(2**32 - 1)
    (True, False)
    """
    if m < 2:
        return False
    bases = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)
    for p in bases:
        if m % p == 0:
            return m == p
    d, s = m - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in bases:
        x = pow(a, d, m)
        if x in (1, m - 1):
            continue
        for _ in range(s - 1):
            x = x * x % m
            if x == m - 1:
                break
        else:
            return False
    return True


def pollard_rho(m: int) -> int:
    """A non-trivial factor of the odd composite m (Pollard-Brent).

    >>> 641 * 6700417 % pollard_rho(641 * 6700417) == 0 < pollard_rho(641 * 6700417) - 1
    True
    """
    for c in range(1, 1000):
        y, r, q, g = 2, 1, 1, 1
        x = ys = 2
        while g == 1:
            x = y
            for _ in range(r):
                y = (y * y + c) % m
            k = 0
            while k < r and g == 1:
                ys = y
                for _ in range(min(128, r - k)):
                    y = (y * y + c) % m
                    q = q * abs(x - y) % m
                g = math.gcd(q, m)
                k += 128
            r *= 2
        if g == m:
            g = 1
            while g == 1:
                ys = (ys * ys + c) % m
                g = math.gcd(abs(x - ys), m)
        if g != m:
            return g
    raise RuntimeError(f"could not factor {m}")


def prime_factors(m: int) -> set:
    """The set of distinct prime factors of m >= 1.

    >>> sorted(prime_factors(2**32 - 1))
    [3, 5, 17, 257, 65537]
    """
    out = set()
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47):
        while m % p == 0:
            out.add(p)
            m //= p
    stack = [m] if m > 1 else []
    while stack:
        v = stack.pop()
        if is_prime(v):
            out.add(v)
        else:
            d = pollard_rho(v)
            stack += [d, v // d]
    return out


@lru_cache(maxsize=None)
def mersenne_factors(n: int) -> tuple:
    """The distinct prime factors of 2**n - 1, ascending (n >= 1), split along 2**d - 1, d | n.

    >>> mersenne_factors(12)
    (3, 5, 7, 13)
    """
    m = (1 << n) - 1
    primes = set()
    for d in range(n - 1, 1, -1):
        if n % d == 0:
            primes |= set(mersenne_factors(d))
            cof = m // ((1 << d) - 1)
            for p in primes:
                while cof % p == 0:
                    cof //= p
            primes |= prime_factors(cof)
            break
    else:
        primes |= prime_factors(m)
    return tuple(sorted(primes))


# -- GF(2) polynomials as Python ints (bit i = coefficient of x**i) -------------------------------

def _deg(a: int) -> int:
    return a.bit_length() - 1


def _pmul(a: int, b: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        b >>= 1
    return r


def _pdivmod(a: int, b: int):
    q, db = 0, _deg(b)
    while a and _deg(a) >= db:
        s = _deg(a) - db
        q |= 1 << s
        a ^= b << s
    return q, a


def _pgcd(a: int, b: int) -> int:
    while b:
        a, b = b, _pdivmod(a, b)[1]
    return a


def _pderiv(a: int) -> int:
    """Formal derivative: the coefficient of x**(i-1) is that of x**i for odd i."""
    return (a >> 1) & int("01" * 40, 2) if a else 0


def _psqrt(a: int) -> int:
    """The square root of a polynomial with only even powers."""
    r, i = 0, 0
    while a:
        r |= (a & 1) << i
        a >>= 2
        i += 1
    return r


def _squarefree(f: int) -> list:
    """[(g, e)]: f = prod g**e with every g square-free (Yun's algorithm for characteristic 2)."""
    out = []
    c = _pgcd(f, _pderiv(f))
    w = _pdivmod(f, c)[0]
    i = 1
    while w != 1:
        y = _pgcd(w, c)
        fac = _pdivmod(w, y)[0]
        if fac != 1:
            out.append((fac, i))
        w, c, i = y, _pdivmod(c, y)[0], i + 1
    if c != 1:
        out += [(g, 2 * e) for g, e in _squarefree(_psqrt(c))]
    return out


def _distinct_degree(f: int) -> list:
    """[(g, d)]: the square-free f split into products g of its irreducible factors of degree d."""
    out, i, fs = [], 1, f
    h = _pdivmod(2, fs)[1]
    while _deg(fs) >= 2 * i:
        h = _pdivmod(_pmul(h, h), fs)[1]          # x**(2**i) mod fs
        g = _pgcd(fs, h ^ 2)
        if g != 1:
            out.append((g, i))
            fs = _pdivmod(fs, g)[0]
            h = _pdivmod(h, fs)[1]
        i += 1
    if fs != 1:
        out.append((fs, _deg(fs)))
    return out


def _x_pow_is_one(e: int, g: int) -> bool:
    d = _deg(g)
    return _S.gf2_powmod_x(e, g ^ (1 << d), d) == 1


def poly_order(f: int) -> int:
    """The least e >= 1 with x**e = 1 mod f (f(0) = 1): the period of f's sequences.

    >>> poly_order(0b10011), poly_order(0b11111)     # x**4+x+1 (primitive), x**4+..+1 (not)
    (15, 5)
    """
    if _deg(f) <= 0:
        return 1
    order = 1
    for g, e in _squarefree(f):
        for gd, d in _distinct_degree(g):
            o = (1 << d) - 1
            for q in mersenne_factors(d):
                while o % q == 0 and _x_pow_is_one(o // q, gd):
                    o //= q
            order = math.lcm(order, o << (e - 1).bit_length())
    return order


def char_poly_low(n: int, taps) -> int:
    """x**n + sum x**(n-t) (the characteristic polynomial; the reciprocal of the feedback
    polynomial 1 + sum x**t), without its x**n term.

    >>> bin(char_poly_low(4, (4, 3)))               # x**4 + x + 1
    '0b11'
    """
    return sum(1 << (n - t) for t in taps)


def is_primitive(n: int, taps) -> bool:
    """Whether the taps give a primitive polynomial of degree n over GF(2), i.e. a register of
    period 2**n - 1: x**(2**n - 1) = 1 mod p and x**((2**n - 1)/q) != 1 for each prime q | 2**n - 1.

    >>> is_primitive(16, (16, 15, 13, 4)), is_primitive(4, (4, 2))
    (True, False)
    """
    low = char_poly_low(n, taps)
    if not low & 1:
        return False
    e = (1 << n) - 1
    if _S.gf2_powmod_x(e, low, n) != 1:
        return False
    return all(_S.gf2_powmod_x(e // q, low, n) != 1 for q in mersenne_factors(n))


def berlekamp_massey(bits) -> int:
    """Berlekamp-Massey over GF(2): the connection polynomial C (C(0) = 1) of the bit sequence.

    >>> bin(berlekamp_massey([1, 0, 1, 0, 1, 0]))   # s[i] = s[i-2]: C = 1 + x**2
    '0b101'
    """
    C, B, L, m = 1, 1, 0, 1
    for i, s in enumerate(bits):
        d = s
        for j in range(1, L + 1):
            d ^= ((C >> j) & 1) & bits[i - j]
        if d == 0:
            m += 1
        elif 2 * L <= i:
            C, B, L, m = C ^ (B << m), C, i + 1 - L, 1
        else:
            C ^= B << m
            m += 1
    return C


def _py_step(n, M, form, s):
    if form == 0:
        b = s & 1
        s >>= 1
        if b:
            s ^= M
    else:
        b = (s >> (n - 1)) & 1
        s = ((s << 1) | (bin(s & M).count("1") & 1)) & ((1 << n) - 1)
    return s, b


def seed_period(n, M, form, seed) -> int:
    """Period of the register from ``seed`` (the order of the minimal polynomial of its output
    sequence; the state is a linear bijection of the next n outputs).  ``form`` 0 is
    galois, 1 fibonacci.

    >>> seed_period(4, galois_mask((4, 3)), 0, 1), seed_period(4, galois_mask((4, 2)), 0, 1)
    (15, 6)
    """
    bits, s = [], seed
    for _ in range(2 * n):
        s, b = _py_step(n, M, form, s)
        bits.append(b)
    return poly_order(berlekamp_massey(bits))


def poly_text(n, taps) -> str:
    """The feedback polynomial of the taps, as text.

    >>> poly_text(4, (4, 3))
    'x^4 + x^3 + 1'
    """
    return " + ".join(f"x^{t}" if t > 1 else "x" for t in sorted(taps, reverse=True)) + " + 1"

