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
# # 2 · Stochastic rounding and its random bits
#
# **Stochastic rounding (SR)** rounds `x` up with a probability equal to the discarded
# fraction `φ` (in LSB) and down otherwise. A single result is off by up to one LSB, but the
# **expected value is exactly `x`**: rounding errors no longer pile up in one direction.
#
# Hardware cannot flip a perfect coin. An SR unit adds `r` random bits `R` below the kept
# bits and keeps the carry, so it rounds up when `D + R ≥ 2^r`, with `D` the top `r`
# discarded bits. The random bits come from a cheap **LFSR** (linear-feedback shift
# register), not from an ideal generator. This notebook looks at what both limits do:
#
# 1. SR as an expectation: the mean of many SR casts converges to `x`;
# 2. few-bit SR: with small `r` the expectation is slightly off (and the *rule* that joins
#    `D` and `R` decides by how much);
# 3. an LFSR repeats itself (its period) and, read the cheap way (`state` rule), its
#    successive draws are correlated;
# 4. why anyone bothers: a long sum of small increments **stalls** under round-to-nearest
#    and does not under SR.
#
# **Try it:** change the parameters in the next cell and re-run all cells.

# %% tags=["parameters"]
FMT = "Q(8,4)"          # format of the single-number experiments (LSB = 1/16)
X = 0.3                 # = 4.8 LSB: SR gives 5 LSB with probability 0.8, 4 LSB with 0.2
R = 8                   # random bits per stochastic cast (1..16)
N = 4000                # casts of X for the running mean
LFSR_N = 4              # a small LFSR (period 2^4 - 1 = 15)
ACF_CASTS = 2**16       # casts for the error autocorrelation
ACC_STEPS = 100_000     # increments summed by the accumulator
SEED = 0

# %%
# %matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

import fxsim
from fxsim import LFSR, Ideal, QFormat, cast
from fxsim.studies import compare_rng as crng

fmt = QFormat.parse(FMT)
phi = X / fmt.lsb - np.floor(X / fmt.lsb)
print(f"x = {X} = {X / fmt.lsb:g} LSB of {fmt}: discarded fraction φ = {phi:.4f}")

# %% [markdown]
# ## 1. SR as an expectation
#
# Cast the same `x` `N` times with ideal random bits and follow the running mean. Each cast
# is `x + e` with `E[e] = 0` and standard deviation `LSB·√(φ(1−φ))`, so the running mean
# approaches `x` like `1/√n` (the shaded band is ±2 standard errors).

# %%
y = cast(np.full(N, X), fmt, "stochastic", "saturate", r=R, source=Ideal("pcg64", seed=SEED))
vals = y.to_float()
n = np.arange(1, N + 1)
running = np.cumsum(vals) / n
se = fmt.lsb * np.sqrt(phi * (1 - phi)) / np.sqrt(n)
print(f"rounded up {np.mean(y.raw > np.floor(X / fmt.lsb)):.4f} of the time (φ = {phi:.4f}); "
      f"mean of {N} casts = {running[-1]:.5f} (x = {X})")

fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
ax.fill_between(n, X - 2 * se, X + 2 * se, color="tab:blue", alpha=0.15, lw=0, label="x ± 2 standard errors")
ax.plot(n, running, color="tab:blue", lw=1.2, label="running mean of SR casts")
ax.axhline(X, color="k", ls="--", lw=1, label=f"x = {X}")
for k in (np.floor(X / fmt.lsb), np.ceil(X / fmt.lsb)):
    ax.axhline(k * fmt.lsb, color="0.6", lw=0.8)
ax.set_xscale("log")
ax.set_xlabel("number of casts n")
ax.set_ylabel("mean value (real units)")
ax.set_title(f"SR of x = {X} into {fmt}: each cast gives one of the grey grid values, the mean converges to x")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 2. Few-bit SR is biased, and the rule matters
#
# With `r` random bits only the top `r` discarded bits `D` are seen, so the probability of
# rounding up is `D/2^r`, a little *less* than `φ`: the default rule `trunc` is biased towards
# −∞ by about `2^-(r+1)` LSB on average. Two other rules used in hardware (spec §2) first
# round `φ` to `r` bits (`rne`) or append half an LSB to the random word (`half`), which
# removes the average bias.
#
# We need no sampling here: feeding **every** one of the `2^r` possible draws `R` (the
# `draws=` argument of `cast`) gives the exact expectation. The inputs are 4096 values whose
# discarded fractions `φ` cover [0, 1) evenly.

# %%
k = np.arange(4096)
x_in = (3 + (k + 0.5) / 4096) * fmt.lsb             # φ = (k + ½) / 4096, 13 bits below the LSB
rs = np.arange(1, 9)
bias = {}
for rule in fxsim.SR_RULES:
    bias[rule] = []
    for r in rs:
        draws = np.tile(np.arange(2**r, dtype=np.uint64), x_in.size)   # every R for every input
        yy = cast(np.repeat(x_in, 2**r), fmt, "stochastic", "saturate", r=int(r), draws=draws,
                  sr_rule=rule)
        bias[rule].append(yy.raw.mean() - (x_in / fmt.lsb).mean())     # exact expectation - x, LSB
print("mean bias E[SR(x)] - x in LSB, exact over all draws")
print("r    " + "".join(f"{rule:>12}" for rule in fxsim.SR_RULES) + "     -2^-(r+1)")
for i, r in enumerate(rs):
    print(f"{r:<5}" + "".join(f"{bias[rule][i]:>+12.5f}" for rule in fxsim.SR_RULES) + f"  {-2.0**-(r + 1):+.5f}")

# %%
fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
for rule, m in zip(fxsim.SR_RULES, "os^"):
    ax.plot(rs, bias[rule], m + "-", label=f"sr_rule = '{rule}'")
ax.plot(rs, -(2.0 ** -(rs + 1.0)), "k:", label="−2^−(r+1)")
ax.axhline(0, color="k", lw=0.6)
ax.set_xlabel("random bits per cast r")
ax.set_ylabel("mean bias E[SR(x)] − x (LSB)")
ax.set_title("Few-bit SR: 'trunc' is biased down by ≈ 2^−(r+1) LSB; 'half' and 'rne' are not")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 3. LFSR bits: a period, and the correlation of the `state` rule
#
# An `n`-bit maximal-length LFSR visits all `2^n − 1` non-zero states and then repeats: its
# output bits have **period** `2^n − 1`. Here is the output bit stream of a small one, one
# period per line:

# %%
lfsr = LFSR(LFSR_N, seed=1)
p = lfsr.period
bits = lfsr.draws(3 * p, 1)
for i in range(3):
    print("".join(map(str, bits[i * p:(i + 1) * p])))
measured = next(q for q in range(1, 2 * p + 1) if np.array_equal(bits[q:q + p], bits[:p]))
print(f"measured period {measured}, LFSR.period = {p} = 2^{LFSR_N} - 1")

# %% [markdown]
# A draw of `r` bits can be taken two ways: `serial` steps the register `r` times and uses the
# `r` output bits (slow: `r` clocks per draw), `state` reads `r` bits of the register after
# **one** step (cheap: one clock). But one step mostly shifts the register, so consecutive
# `state` draws share most of their bits, and the rounding errors of consecutive casts become
# correlated. The autocorrelation of the rounding errors (computed by
# `fxsim.studies.compare_rng.error_acf`, `fxsim compare-rng` runs the full study):

# %%
sources = [crng.SourceSpec("lfsr", 16, "galois", "state"), crng.SourceSpec("lfsr", 16, "galois", "serial"),
           crng.IDEAL]
rows = crng.error_acf(sources, r=R, n_casts=ACF_CASTS, max_lag=8, seed=SEED)
fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
width = 0.8 / len(sources)
for i, spec in enumerate(sources):
    rr = [row for row in rows if row["source"] == spec.label]
    ax.bar(np.array([row["x"] for row in rr]) + (i - 1) * width, [row["value"] for row in rr], width,
           label=spec.label)
ax.axhspan(-2 / np.sqrt(ACF_CASTS), 2 / np.sqrt(ACF_CASTS), color="0.8", label="±2/√N (independent errors)")
ax.set_xlabel("lag (casts)")
ax.set_ylabel("autocorrelation of rounding errors")
ax.set_title(f"SR, r = {R}: the 'state' rule correlates consecutive rounding errors;\n"
             "'serial' and ideal bits do not")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 4. The stagnating accumulator
#
# Sum `ACC_STEPS` small positive increments (about 0.26 LSB each) in a narrow accumulator,
# `acc ← cast(acc + inc)`. With round-to-nearest every single sum rounds back to the old
# value: **the accumulator never moves**. With SR each step moves up by one LSB with
# probability ≈ 0.26, so the sum tracks the exact one. Increments and the fast exact
# simulation come from `fxsim.studies.compare_rng` (`increments`, `accumulate_split`).
#
# In the lower panel, watch SR with `r = R` ideal bits: besides its random walk it drifts down
# by the few-bit bias of section 2, about `2^-(R+1)` LSB per step.

# %%
inc = crng.increments("iid", ACC_STEPS, SEED)
exact = np.cumsum(inc.raw.astype(np.int64)) * inc.fmt.lsb
runs = {"round-to-nearest (nearest_even)": ("nearest_even", None, None),
        "SR, r = 16, ideal bits": ("stochastic", 16, Ideal("pcg64", seed=SEED)),
        f"SR, r = {R}, ideal bits": ("stochastic", R, Ideal("pcg64", seed=SEED + 1)),
        "SR, r = 16, 16-bit LFSR (serial)": ("stochastic", 16, LFSR(16, seed=SEED + 1)),
        f"SR, r = {R}, {max(8, R)}-bit LFSR (state)":
            ("stochastic", R, LFSR(max(8, R), seed=SEED + 1, rule="state"))}
traj = {}
for label, (mode, r, src) in runs.items():
    traj[label] = crng.accumulate_split(inc, crng.ACC, mode, r, src) * crng.ACC.lsb
    print(f"{label:<36} final {traj[label][-1]:9.4f}   exact {exact[-1]:9.4f}   "
          f"relative error {(traj[label][-1] - exact[-1]) / exact[-1]:+.3%}")

# %%
steps = np.arange(1, ACC_STEPS + 1)
colors = ["tab:red", "tab:blue", "tab:cyan", "tab:green", "tab:orange"]
fig, (ax, ax2) = plt.subplots(2, 1, figsize=(10, 7), height_ratios=[2, 1], sharex=True, layout="constrained")
ax.plot(steps, exact, color="k", lw=3, alpha=0.35, label="exact sum")
for (label, t), c in zip(traj.items(), colors):
    ls = "--" if "LFSR" in label else "-"
    ax.plot(steps, t, color=c, lw=1.3, ls=ls, label=label)
    if not label.startswith("round"):
        ax2.plot(steps, (t - exact) / crng.ACC.lsb, color=c, lw=1, ls=ls)
ax2.axhline(0, color="k", lw=0.8)
ax.set_ylabel(f"accumulator value (real units)")
ax2.set_ylabel("SR minus exact (LSB)")
ax2.set_xlabel("step (increments added)")
ax.set_title(f"Adding {ACC_STEPS:,} increments of ≈ 0.26 LSB into {crng.ACC} (LSB = {crng.ACC.lsb:g}): "
             "round-to-nearest never leaves 0,\nstochastic rounding tracks the exact sum, with ideal or LFSR bits "
             "(below: its random walk around it, in LSB)")
ax.legend(fontsize=9, loc="upper left")
for a in (ax, ax2):
    a.grid(alpha=0.3)
plt.show()
