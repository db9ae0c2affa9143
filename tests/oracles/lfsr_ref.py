"""A deliberately plain LFSR reference (docs/datapath.md section 5.1), used as a test oracle.

Nothing here is clever: one bit per step, lanes advanced by plain stepping. It must stay
obviously correct, so that the package's LFSR sources and the RTL in rtl/lfsr.v can be held
against it. It has no dependency on fxsim.

    M = sum over taps t of 2**(t-1)
    galois    (right shift): b = s & 1; s >>= 1; if b: s ^= M.            output bit b
    fibonacci (left shift) : b = bit n-1 of s; f = parity(s & M);
                             s = ((s << 1) | f) mod 2**n.                 output bit b
    draw rule "serial": step r times, R = the r output bits, first one most significant
    draw rule "state" : step once, R = low r bits of the new state (r <= n)
    lanes: draw e comes from lane e mod L; lane l starts at the seed advanced by
           l * ((2**n - 1) // L) steps (unless every lane's seed is given).
"""

import csv
import os

FORMS = ("galois", "fibonacci")
RULES = ("serial", "state")

TAPS_CSV = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "lfsr_taps.csv")


def mask_from_taps(taps):
    """M = sum of 2**(t-1) over the taps (XAPP052 exponents)."""
    m = 0
    for t in taps:
        m |= 1 << (t - 1)
    return m


def parse_taps(text):
    """'16 15 13 4' -> (16, 15, 13, 4)."""
    return tuple(int(t) for t in text.split())


def load_taps_table(path=TAPS_CSV):
    """{n: (taps, galois_mask)} from the taps table (comment lines start with '#')."""
    table = {}
    with open(path, newline="") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        for row in rows:
            n = int(row["n"])
            table[n] = (parse_taps(row["taps"]), int(row["galois_mask"], 16))
    return table


def parity(x):
    return bin(x).count("1") & 1


class Register:
    """One LFSR register, one bit per step."""

    def __init__(self, n, mask, form, state):
        if form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, not {form!r}")
        if not 0 < state < (1 << n):
            raise ValueError("state must be non-zero and < 2**n")
        self.n = n
        self.mask = mask
        self.form = form
        self.state = state

    def step(self):
        """Advance one step and return the output bit."""
        s = self.state
        if self.form == "galois":
            b = s & 1
            s >>= 1
            if b:
                s ^= self.mask
        else:
            b = (s >> (self.n - 1)) & 1
            f = parity(s & self.mask)
            s = ((s << 1) | f) & ((1 << self.n) - 1)
        self.state = s
        return b

    def draw(self, r, rule):
        if rule == "serial":
            v = 0
            for _ in range(r):
                v = (v << 1) | self.step()
            return v
        if rule == "state":
            if r > self.n:
                raise ValueError("the 'state' rule needs r <= n")
            self.step()
            return self.state & ((1 << r) - 1)
        raise ValueError(f"rule must be one of {RULES}, not {rule!r}")


class LFSRSource:
    """A seeded source of r-bit draws with L lanes, as in spec section 5.1."""

    def __init__(self, n, taps=None, form="galois", seed=1, rule="serial", r=None, lanes=1,
                 lane_seeds=None):
        if taps is None:
            taps = load_taps_table()[n][0]
        if taps[0] != n:
            raise ValueError("the first tap must equal n")
        self.n = n
        self.taps = tuple(taps)
        self.mask = mask_from_taps(taps)
        self.form = form
        self.rule = rule
        self.r = n if r is None else r
        if lane_seeds is None:
            stride = ((1 << n) - 1) // lanes
            lane_seeds = []
            reg = Register(n, self.mask, form, seed)
            for lane in range(lanes):
                lane_seeds.append(reg.state)
                if lane + 1 < lanes:
                    for _ in range(stride):
                        reg.step()
        if len(lane_seeds) != lanes:
            raise ValueError("give one seed per lane")
        self.lanes = [Register(n, self.mask, form, s) for s in lane_seeds]
        self.count = 0  # draws taken so far

    def draw(self):
        reg = self.lanes[self.count % len(self.lanes)]
        self.count += 1
        return reg.draw(self.r, self.rule)

    def draws(self, k):
        return [self.draw() for _ in range(k)]


def bits(n, mask, form, seed, k):
    """The first k output bits of one register."""
    reg = Register(n, mask, form, seed)
    return [reg.step() for _ in range(k)]
