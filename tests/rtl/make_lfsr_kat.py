"""Write tests/data/lfsr_kat_ref.csv: known answers for LFSR draws (spec section 5.1) made by
the plain oracle tests/lfsr_ref.py, with lanes. tests/test_lfsr_ref.py checks every row
against the independent `galois` package, so the file does not rest on the oracle alone.

    python tests/rtl/make_lfsr_kat.py
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from lfsr_ref import LFSRSource, load_taps_table  # noqa: E402

OUT = os.path.join(os.path.dirname(HERE), "data", "lfsr_kat_ref.csv")
DRAWS = 40

# (n, rule, r, lanes, seed); every one in both forms; the table's taps
CASES = [
    (8, "serial", 3, 1, 0x01), (8, "serial", 8, 4, 0xA5), (8, "state", 5, 1, 0x80),
    (8, "state", 8, 3, 0x3C),
    (16, "serial", 5, 1, 0xACE1), (16, "serial", 37, 1, 0xBEEF), (16, "serial", 16, 3, 0x1234),
    (16, "state", 16, 2, 0xFFFF), (16, "state", 1, 1, 0x0001),
    (20, "serial", 7, 2, 0x9ABCD), (20, "state", 11, 5, 0x00001),
    (32, "serial", 32, 1, 0xDEADBEEF), (32, "state", 13, 1, 0x80000000),
    (64, "serial", 64, 1, 0x0123456789ABCDEF), (64, "serial", 1, 1, 0xFFFFFFFFFFFFFFFF),
    (64, "state", 64, 1, 0x8000000000000001), (64, "state", 24, 1, 0x1),
]


def main():
    table = load_taps_table()
    rows = []
    for n, rule, r, lanes, seed in CASES:
        taps = table[n][0]
        for form in ("galois", "fibonacci"):
            src = LFSRSource(n, taps, form, seed, rule, r, lanes=lanes)
            for i in range(DRAWS):
                rows.append("%d,%s,%s,%s,%d,%#x,%d,%d,%#x" % (
                    n, " ".join(map(str, taps)), form, rule, r, seed, lanes, i, src.draw()))
    with open(OUT, "w", newline="\n") as fh:
        fh.write("# Known answers for LFSR draws (spec section 5.1) with lanes, made by "
                 "tests/lfsr_ref.py (tests/rtl/make_lfsr_kat.py)\n"
                 "# and checked against the galois package. Draw i comes from lane i mod "
                 "lanes; lane l starts at the seed\n"
                 "# advanced l * floor((2^n - 1) / lanes) steps. Taps: tests/data/lfsr_taps.csv.\n")
        fh.write("n,taps,form,draw,r,seed,lanes,i,R\n")
        fh.write("\n".join(rows) + "\n")
    print("wrote %d rows to %s" % (len(rows), OUT))


if __name__ == "__main__":
    main()
