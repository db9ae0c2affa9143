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
# # 1 · Fixed-point formats and rounding
#
# A fixed-point number is an **integer word** (the *raw* value `k`, `wl` bits, two's complement
# when signed) read with an implied **binary point**: its value is `k · 2^-fl`. The format
# `Q(wl, fl)` fixes both numbers once, in hardware; `Qm.n` writes the same thing as
# *m integer bits (sign included) and n fraction bits*. The grid of values is therefore
# evenly spaced, one **LSB** = `2^-fl` apart, between `min` and `max`.
#
# A real number almost never lies on that grid, so every write into a register **rounds**
# (which of the two neighbouring grid points?) and sometimes **overflows** (the number is
# outside `[min, max]`: what does the register hold then?). This notebook pushes one number
# through every rounding mode and every overflow mode of fxsim, shows the words bit by bit,
# and then measures the rounding error of each mode over many inputs.
#
# **Try it:** change the format, the number or the input range in the next cell and re-run
# everything (*Run → Run All Cells*).

# %% tags=["parameters"]
FMT = "Q(8,4)"         # the format: 8-bit words (sign included), 4 of them fraction bits
X = -1.34375           # the number we round: exactly on a tie (-21.5 LSB); try -1.3 too
BIG = 9.3              # a number outside FMT's range, for the overflow modes (and -BIG)
R = 4                  # random bits per stochastic cast
EPS = 0.25             # bias of the SR_eps modes, in LSB
INPUTS = (0.0, 4.0)    # range of the random inputs of the error histograms
N_INPUTS = 100_000     # how many
SEED = 0

# %%
# %matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

import fxsim
from fxsim import Ideal, QFormat, cast
from fxsim import plot as fxplot

fmt = QFormat.parse(FMT)
print(f"{fmt} = {fmt!r}")
print(f"raw words {fmt.min_raw} .. {fmt.max_raw}, values {fmt.min} .. {fmt.max}, "
      f"LSB = 2^-{fmt.fl} = {fmt.lsb}, stored in numpy {fmt.dtype}")

# %% [markdown]
# ## One number, every rounding mode
#
# `x / LSB` has an integer part `q` and a discarded fraction `φ`; each mode picks `q` or `q + 1`:
#
# * **directed**: `floor` (towards −∞), `ceil` (towards +∞), `toward_zero` (truncate the
#   magnitude), `away_from_zero`;
# * **to nearest**: all six agree unless `φ = ½` exactly (a *tie*); the suffix says where a tie
#   goes (`nearest_even` is IEEE's default and the usual DSP choice);
# * **`jam`** (von Neumann rounding): truncate (`floor`), then force the LSB to 1 if anything
#   was discarded — no carry chain, unbiased on average, but up to 1 LSB wrong;
# * **stochastic** (SR): round up with probability `φ`, using `R` random bits per cast. One
#   cast is random; the *average* of many casts is `x` (notebook 2). The `_eps` variants add a
#   bias of `EPS` LSB (away from zero, or against the sign of a companion value `v`).
#
# The error column is `(cast(x) − x) / LSB`.

# %%
def cast_kwargs(mode, like=X):
    """The extra arguments a stochastic mode needs (a fresh seeded source each time)."""
    if mode not in fxsim.STOCHASTIC:
        return {}
    kw = dict(r=R, source=Ideal("pcg64", seed=SEED))
    if mode != "stochastic":
        kw["eps"] = EPS
    if mode == "signed_stochastic_eps":
        kw["v"] = np.ones(np.shape(like))           # v > 0: the bias points down
    return kw


results = {}
print(f"x = {X}  (= {X / fmt.lsb:+.4f} LSB)\n")
print(f"{'mode':<22}{'value':>10}{'raw':>6}  {'bits':<{fmt.wl}}  error (LSB)")
for mode in fxsim.ROUNDING:
    y = cast(X, fmt, mode, "saturate", **cast_kwargs(mode))
    results[mode] = y
    print(f"{mode:<22}{float(y):>10g}{int(y.raw):>6}  {y.bits().bin}  {(float(y) - X) / fmt.lsb:+.4f}")

# %% [markdown]
# A stochastic cast is a coin flip; repeat it many times and the mean lands on `x`
# (up to the small bias of few-bit SR, see notebook 2):

# %%
many = np.full(10_000, X)
for mode in fxsim.STOCHASTIC:
    y = cast(many, fmt, mode, "saturate", **cast_kwargs(mode, like=many))
    up = np.mean(y.raw > np.floor(X / fmt.lsb))
    print(f"{mode:<22} mean of 10^4 casts {y.to_float().mean():+.5f}   (x = {X}), rounded up {up:.3f} of the time")

# %% [markdown]
# ## Overflow: a number outside the range
#
# After rounding, a word that does not fit is **saturated** (clamped to `min`/`max`),
# **symmetrically saturated** (clamped to `±max`, so that negation can never overflow),
# **wrapped** (only the low `wl` bits are kept: what a plain adder does) or reported as an
# **error**.

# %%
for ovf in fxsim.OVERFLOW:
    try:
        y = cast([BIG, -BIG], fmt, "nearest_even", ovf)
        print(f"{ovf:<20} {y.to_float().tolist()}   bits {y.to_bin().tolist()}")
    except OverflowError as e:
        print(f"{ovf:<20} OverflowError: {e}")

# %% [markdown]
# ## The words, bit by bit
#
# The sign bit weighs **−2^(wl−1−fl)** (two's complement), every other bit `+2^(i−fl)`. The
# wrapped word keeps the low `wl` bits of `BIG / LSB`, so its top bit — the sign — is whatever
# bit landed there.

# %%
wrapped = cast(BIG, fmt, "nearest_even", "wrap")
fig, axs = plt.subplots(2, 1, figsize=(8, 4), layout="constrained")
fxplot.bitfield(results["nearest_even"], ax=axs[0])
fxplot.bitfield(wrapped, ax=axs[1], title=f"{BIG} wrapped into {fmt}: {float(wrapped):g} = 0b{wrapped.bits().bin}")
plt.show()

# %% [markdown]
# ## On the real line
#
# The grey lines are the grid of the format; the dashed red line is `x`. Every deterministic
# mode lands on one of the two neighbours (or, for `jam`, on the odd one of them); the
# stochastic modes show one draw each.

# %%
ax = fxplot.number_line(X, results, fmt)
ax.figure.set_size_inches(8, 5)
plt.show()

# %% [markdown]
# ## The error of each mode over many inputs
#
# `N_INPUTS` random inputs, uniform over `INPUTS`, through every mode. Things to see:
#
# * the directed modes are **biased** by ±½ LSB (`toward_zero` = `floor` for positive inputs);
# * the nearest modes have errors in [−½, ½] LSB and are **identical** on these inputs:
#   random floats are never exactly on a tie;
# * SR spreads its errors over (−1, 1) LSB (a triangle), but its mean is ≈ 0 (minus the
#   few-bit bias `≈ −2^-(R+1)` LSB); the `_eps` modes shift it by ±`EPS`.
#
# To see the tie rules differ, the second set of inputs has only **two extra fraction bits**,
# so one input in four is exactly on a tie. The right panel compares each mode's mean error
# (its **bias**) on both sets.

# %%
rng = np.random.default_rng(SEED)
x_cont = rng.uniform(*INPUTS, N_INPUTS)
x_ties = np.round(x_cont / fmt.lsb * 4) * fmt.lsb / 4       # on the grid of 2 extra bits
err_cont = fxplot.rounding_errors(x_cont, fmt, fxsim.ROUNDING, r=R, eps=EPS, seed=SEED)
err_ties = fxplot.rounding_errors(x_ties, fmt, fxsim.ROUNDING, r=R, eps=EPS, seed=SEED)
print(f"{'mode':<22}{'bias, random inputs':>22}{'bias, 1/4 ties':>17}   (LSB)")
for m in fxsim.ROUNDING:
    print(f"{m:<22}{err_cont[m].mean():>+22.4f}{err_ties[m].mean():>+17.4f}")

# %%
groups = {
    "directed": ["floor", "ceil", "toward_zero", "away_from_zero"],
    "to nearest (tie rules differ only on ties)": [m for m in fxsim.ROUNDING if m.startswith("nearest")],
    f"jam and stochastic (R = {R} bits, ε = {EPS})": ["jam", *fxsim.STOCHASTIC],
}
fig = plt.figure(figsize=(18, 5.8), layout="constrained")
axs = fig.subplots(1, 4, width_ratios=[1, 1, 1, 1.05])
edges = np.linspace(-1.5, 1.5, 97)
for ax, (name, modes) in zip(axs, groups.items()):
    fxplot.rounding_error_hist({m: err_cont[m] for m in modes}, bins=edges, density=True, ax=ax,
                               title=name)
    ax.set_ylim(0, 1.75)                                    # room for the legend
    ax.legend(fontsize=7.5, loc="upper left")
ax = axs[3]
pos = np.arange(len(fxsim.ROUNDING))
ax.barh(pos - 0.2, [err_cont[m].mean() for m in fxsim.ROUNDING], 0.4, label="random inputs")
ax.barh(pos + 0.2, [err_ties[m].mean() for m in fxsim.ROUNDING], 0.4, label="1 input in 4 on a tie")
ax.set_yticks(pos, fxsim.ROUNDING)
ax.invert_yaxis()
ax.axvline(0, color="k", lw=0.8)
ax.set_xlabel("mean rounding error = bias (LSB)")
ax.set_title("bias of each mode")
ax.legend(fontsize=8, loc="lower right")
ax.grid(axis="x", alpha=0.3)
fig.suptitle(f"Rounding {N_INPUTS:,} inputs from [{INPUTS[0]:g}, {INPUTS[1]:g}) into {fmt}: directed modes are "
             f"biased by ½ LSB, round-to-nearest errs by at most ½ LSB,\nstochastic rounding errs by up to "
             f"1 LSB but is unbiased on average; the tie rules only matter on ties", fontsize=13)
plt.show()
