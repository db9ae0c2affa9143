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
# # 5 · Low-precision samplers: SGLD vs SGHMC
#
# A sampler does not look for the minimum of `U(θ) = −log p(θ)`; it wanders so that its
# iterates are *distributed* like `p`. **SGLD** (Langevin dynamics) takes a gradient step plus
# Gaussian noise of variance `2η`:
#
# `θ ← θ − η ∇U(θ) + √(2η) ξ`.
#
# **SGHMC** adds a velocity with friction (underdamped Langevin dynamics); its steps are smoother
# and it can use larger step sizes.
#
# On a low-precision accelerator the state `θ` itself lives in a fixed-point register. The
# variants of `fxsim.samplers` (Zhang, Wilson & De Sa 2022; Wang, Chen, Song & Zhang):
#
# * **LP-F**: a full-precision accumulator (θ in float64), only the weights and gradients used in
#   the gradient are quantized;
# * **LP-L**: a low-precision accumulator: θ is re-quantized with stochastic rounding after every
#   step. SR adds its own variance (up to LSB²/4) on top of the Langevin noise, so with a small
#   step the samples come out **too wide**;
# * **VC**: LP-L with the variance-corrected quantizer, which takes the SR variance out of the
#   Gaussian noise.
#
# Below: histograms of many chains against the target density, with the exact 1-D
# 2-Wasserstein distance `W2` to the target (`fxsim.samplers.w2_1d`).
#
# **Try it:** change the target, the format or the step sizes in the next cell and re-run.

# %% tags=["parameters"]
TARGET = "gaussian"     # "gaussian": N(0, 1); "mixture": ½ N(−1, 0.25) + ½ N(1, 0.25)
FMT = "Q(8,3)"          # the weights' word: 8 bits, 3 fraction bits (LSB 1/8)
ETA_SGLD = 2e-3         # SGLD step size
ETA_SGHMC = 2e-2        # SGHMC step size (friction GAMMA, inverse mass U)
GAMMA, U = 2.0, 2.0
SOURCE = "ideal"        # random bits of the SR casts: "ideal" (PCG64), "lfsr16", "lfsr32"
CHAINS = 200            # chains, run side by side
STEPS = 1500            # steps per chain
BURN, THIN = 300, 10    # discard the first BURN steps, keep every THIN-th
SEED = 0

# %%
# %matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

from fxsim import QFormat
from fxsim.samplers import SGHMC, SGLD, Gaussian, GaussianMixture, w2_1d

fmt = QFormat.parse(FMT)
target = Gaussian() if TARGET == "gaussian" else GaussianMixture()
print(f"target {target!r}; weights in {fmt} (LSB {fmt.lsb}); SGLD noise s.d. per step "
      f"{np.sqrt(2 * ETA_SGLD):.3f} vs LSB/2 = {fmt.lsb / 2}")

# %% [markdown]
# ## Running the chains
#
# Each run vectorizes `CHAINS` chains; `run.samples` has shape (snapshots, chains, dim).

# %%
samplers = {
    "SGLD": lambda v: SGLD(target, ETA_SGLD, variant=v, fmt=fmt, source=SOURCE),
    "SGHMC": lambda v: SGHMC(target, ETA_SGHMC, gamma=GAMMA, u=U, variant=v, fmt=fmt, source=SOURCE),
}
variants = {"lpf": "LP-F (float accumulator)", "lpl": "LP-L (naive, SR every step)",
             "vc": "VC (variance-corrected LP-L)"}
samples, w2 = {}, {}
for alg, make in samplers.items():
    for v in variants:
        run = make(v).run(CHAINS, STEPS, burn=BURN, thin=THIN, seed=SEED)
        samples[alg, v] = run.samples.ravel()
        w2[alg, v] = w2_1d(samples[alg, v], target)
        print(f"{alg:<6} {v:<4} W2 = {w2[alg, v]:.4f}   sample s.d. {samples[alg, v].std():.3f} "
              f"(target {np.sqrt(target.variance):.3f})   {run.seconds:.2f} s")

# %%
xs = np.linspace(-4, 4, 400)
edges = (np.arange(np.floor(-4 / fmt.lsb), np.ceil(4 / fmt.lsb) + 2) - 0.5) * fmt.lsb   # one bin per grid point
fig, axs = plt.subplots(2, 3, figsize=(15, 7.5), sharex=True, sharey=True, layout="constrained")
for i, alg in enumerate(samplers):
    for j, (v, vname) in enumerate(variants.items()):
        ax = axs[i, j]
        ax.hist(samples[alg, v], bins=edges, density=True, color="tab:blue" if i == 0 else "tab:orange",
                alpha=0.6, label=f"{alg} samples")
        ax.plot(xs, target.pdf(xs), "k", lw=1.5, label="target density")
        ax.set_title(f"{alg}, {vname}: W2 = {w2[alg, v]:.3f}", fontsize=10)
        ax.set_xlim(-4, 4)
        if i == 1:
            ax.set_xlabel("θ (real value)")
        if j == 0:
            ax.set_ylabel("density (1/unit of θ)")
        ax.legend(fontsize=8, loc="upper right")
if w2["SGLD", "lpl"] > 2 * max(w2["SGHMC", "lpl"], w2["SGLD", "vc"]):
    verdict = ("naive low-precision SGLD (LP-L) comes out too wide; SGHMC with the same word, "
               "and the variance-corrected quantizer, stay close to the target")
else:
    verdict = "with these settings the naive low-precision accumulator costs SGLD little"
fig.suptitle(f"Sampling {target!r} with θ in {fmt} ({CHAINS} chains, {SOURCE} bits for SR):\n{verdict}",
             fontsize=12)
plt.show()
