# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3 · The integer datapath: a dot product in hardware
#
# A multiply-accumulate (MAC) unit computes `a · b = Σ a_k b_k` one term per clock:
#
# * the product `p_k = a_k b_k` of two integer words is exact (a `wa + wb`-bit word with
#   `fa + fb` fraction bits);
# * the accumulator register has a fixed format, so each update
#   `acc ← cast(acc + p_k, ACC)` may **round** (fewer fraction bits) and may **overflow**
#   (fewer integer bits) — fxsim's `dot(a, b, acc=ACC, ...)` does exactly this, in this order
#   (spec §4).
#
# A wide accumulator keeps every partial sum exact, so the order of the terms does not matter.
# A narrow **saturating** one clips partial sums, and then it does: addition is no longer
# associative. This notebook shows that, counts what happened with `fxsim.Counters`, and
# exports the same dot products as test vectors for an RTL test bench.
#
# **Try it:** change the formats or the rounding/overflow modes in the next cell and re-run
# all cells (`OVERFLOW = "wrap"` is instructive).

# %% tags=["parameters"]
IN_FMT = "Q(8,6)"        # a_k and b_k: 8-bit words in [-2, 2), LSB 1/64
ACC_NARROW = "Q(10,6)"   # a narrow accumulator: range [-8, 8), LSB 1/64 (products have 12 fraction bits)
ACC_WIDE = "Q(32,12)"    # a wide one: every partial sum fits exactly
ROUNDING = "nearest_even"
OVERFLOW = "saturate"
K = 64                   # terms per dot product
SEED = 3

# %%
# %matplotlib inline
import os
import tempfile

import numpy as np
import matplotlib.pyplot as plt

import fxsim
from fxsim import Counters, FixedArray, QFormat, cast, dot
from fxsim.vectors import check_outputs, export_vectors, read_vectors

fin, narrow, wide = (QFormat.parse(f) for f in (IN_FMT, ACC_NARROW, ACC_WIDE))
rng = np.random.default_rng(SEED)
a = cast(rng.uniform(0.25, 1.9, K), fin)            # positive weights
b = cast(rng.uniform(-1.9, 1.9, K), fin)            # inputs of both signs
p = a * b                                           # exact products (full precision)
print(f"inputs {fin}, products {p.fmt} (exact), narrow accumulator {narrow} "
      f"(range [{narrow.min}, {narrow.max}]), wide accumulator {wide}")
print(f"sum of the positive products {p.to_float()[p.raw > 0].sum():+.4f}, "
      f"of the negative ones {p.to_float()[p.raw < 0].sum():+.4f}")
print(f"exact dot product (fxsim, a @ b: no accumulator cast): {float(a @ b):+.6f}; "
      f"float64: {float(a.to_float() @ b.to_float()):+.6f}")

# %% [markdown]
# ## Same terms, different orders
#
# Three orders of the same 64 products: as given, largest product first, smallest (most
# negative) first. The wide accumulator gives the same word every time. The narrow one hits its
# rails in the sorted orders and **forgets** everything it clipped, so its final value depends
# on the order. (With `wrap` the final word is right again whenever the *final* sum fits:
# two's-complement wrap-around is arithmetic modulo `2^wl`, which is associative — only the
# rounding of each step remains.)

# %%
orders = {"as given": np.arange(K), "largest first": np.argsort(-p.to_float(), kind="stable"),
          "smallest first": np.argsort(p.to_float(), kind="stable")}
print(f"{'order':<16}{'wide ' + str(wide):>18}{'narrow ' + str(narrow) + ' ' + OVERFLOW:>28}{'narrow, wrap':>16}")
for name, o in orders.items():
    # inside `fxsim.context(acc=...)`, `@` accumulates in that format (a cast after every
    # addition, in index order) -- the same as fxsim.dot(a, b, acc=..., rounding=..., ...)
    with fxsim.context(acc=wide, rounding=ROUNDING, overflow=OVERFLOW):
        w = float(a[o] @ b[o])
    with fxsim.context(acc=narrow, rounding=ROUNDING, overflow=OVERFLOW):
        n = float(a[o] @ b[o])
    wr = float(dot(a[o], b[o], acc=narrow, rounding=ROUNDING, overflow="wrap"))
    print(f"{name:<16}{w:>+18.6f}{n:>+28.6f}{wr:>+16.6f}")

# %% [markdown]
# ## What happened inside: the counters
#
# `with fxsim.Counters() as c:` records every cast: how many values were cast, how many were
# inexact (rounded), rounded up, overflowed (here: clipped at a rail), and random draws used.
# One dot product of length `K` does `K` accumulator casts.

# %%
for name, o in orders.items():
    with Counters() as c:
        dot(a[o], b[o], acc=narrow, rounding=ROUNDING, overflow=OVERFLOW)
    print(f"{name}: {c.cast} accumulator casts, {c.inexact} rounded, {c.overflowed} overflowed")
print("\nthe full table for the last one:\n" + c.summary())

# %% [markdown]
# ## Test vectors for an RTL test bench
#
# A hardware designer wants the same experiment on the Verilog MAC. `export_vectors` writes a
# folder that a test bench reads with `$readmemh`: one `.mem` file per port (one hex word per
# line, two's complement) and a `manifest.json` with every format and mode. We export our three
# orders as three dot products (rows of `a.mem`/`b.mem`); `y.mem` holds fxsim's expected
# results. `check_outputs` compares what the RTL wrote with them (here we hand it the expected
# file itself, as a simulator that matches would).

# %%
A = FixedArray(np.stack([a.raw[o] for o in orders.values()]), fin)
B = FixedArray(np.stack([b.raw[o] for o in orders.values()]), fin)
with tempfile.TemporaryDirectory() as folder:
    man = export_vectors(folder, "dot", inputs=(A, B), acc=narrow, rounding=ROUNDING, overflow=OVERFLOW)
    for f in sorted(os.listdir(folder)):
        print(f"{f:<15}{os.path.getsize(os.path.join(folder, f)):>6} bytes")
    with open(os.path.join(folder, "a.mem")) as fh:
        print("a.mem starts:", " ".join(fh.read().split()[:8]), "...")
    print("manifest:", {k: man[k] for k in ("operation", "count", "K")}, "| acc:", man["formats"]["acc"],
          "| modes:", {k: man["modes"][k] for k in ("rounding", "overflow")})
    _, ports = read_vectors(folder)
    print("y.mem as values:", ports["y"].to_float().tolist())
    print(check_outputs(folder, os.path.join(folder, "y.mem")))

# %% [markdown]
# ## The picture: partial sums in the accumulator
#
# The value of the accumulator after each term (a `dot` of the first `k` terms), for each
# order, in the narrow accumulator (solid) and the wide one (dashed). The shaded band is the
# narrow accumulator's range.

# %%
fig, ax = plt.subplots(figsize=(10, 5.5), layout="constrained")
ks = np.arange(1, K + 1)
ax.axhspan(narrow.min, narrow.max, color="0.92", zorder=0, label=f"range of {narrow}")
for (name, o), c in zip(orders.items(), ["tab:blue", "tab:red", "tab:green"]):
    part_n = [float(dot(a[o[:k]], b[o[:k]], acc=narrow, rounding=ROUNDING, overflow=OVERFLOW)) for k in ks]
    part_w = [float(dot(a[o[:k]], b[o[:k]], acc=wide, rounding=ROUNDING, overflow=OVERFLOW)) for k in ks]
    ax.plot(ks, part_w, color=c, ls="--", lw=1, alpha=0.7)
    ax.plot(ks, part_n, color=c, lw=2, label=f"{name}: narrow ends at {part_n[-1]:+.3f}")
ax.plot([], [], "k--", lw=1, label=f"wide {wide}: always ends at {part_w[-1]:+.3f}")
ax.set_xlabel("terms accumulated k")
ax.set_ylabel("accumulator value (real units)")
ax.set_xlim(0, K + 1)
ax.set_title(f"The same {K} products in three orders: a narrow {narrow} accumulator ({OVERFLOW}) "
             f"clips partial sums and ends\nwherever the order leaves it; a wide {wide} accumulator "
             f"gives one answer", fontsize=11)
ax.legend(fontsize=9, loc="best")
ax.grid(alpha=0.3)
plt.show()
