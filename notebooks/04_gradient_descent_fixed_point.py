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
# # 4 · Gradient descent in fixed point
#
# Gradient descent `x ← x − t·∇f(x)` on an accelerator keeps `x` in a fixed-point register, so
# every update is rounded back onto the format's grid:
#
# `x ← cast_update(x − t · cast_grad(∇f(x)))`
#
# (the gradient is written into a register too; the product `t·g` is kept exact, as in a fused
# multiply-subtract, so only the write-back rounds). Near the minimum the step `t·∇f` becomes
# smaller than half an LSB, and **round-to-nearest (RN) rounds it away**: `x` stops moving,
# short of the minimum. Stochastic rounding (SR) still moves with a probability proportional
# to the step, so on average it keeps descending. Two biased variants (ε = bias in LSB):
#
# * **SR_ε**: the bias pushes away from zero on both casts;
# * **signed-SR_ε**: the write-back is biased against the sign of the gradient, i.e. downhill.
#
# We run all four on a 2-D quadratic `f(x) = ½ (x − c)ᵀ A (x − c)` in a coarse format, so that
# the grid is visible, and draw the iterates over the contours of `f` and the grid
# (`fxsim.optim.GD` on an `fxsim.accelerator.Accelerator`, the same code as the
# `fxsim gd-study` main job).
#
# **Try it:** change the format, the step size or the rounding modes of a strategy in the next
# cell and re-run all cells.

# %% tags=["parameters"]
FMT = "Q(8,4)"          # weights and gradients: 8-bit words, LSB 1/16
T = 0.05                # step size t
ITERS = 100             # iterations per run
EPS = 0.2               # bias of the ε modes (LSB)
R = 16                  # random bits per stochastic cast
SOURCE = "pcg64"        # random bits: "pcg64" (ideal) or "lfsr16" (a 16-bit LFSR)
COND = 4.0              # condition number of A (eigenvalues 1 .. COND)
START = (1.6, -1.2)     # start point, relative to the minimizer c
SEEDS = 8               # runs per strategy (different random bits) for the loss bands
STRATEGIES = {          # rounding of the gradient cast / of the write-back (as fxsim gd-study)
    "round-to-nearest": {"grad": "nearest_even", "update": "nearest_even"},
    "SR": {"grad": "stochastic", "update": "stochastic"},
    "SR_ε": {"grad": "stochastic_eps", "update": "stochastic_eps"},
    "signed-SR_ε": {"grad": "stochastic", "update": "signed_stochastic_eps"},
}

# %%
# %matplotlib inline
import numpy as np
import matplotlib.pyplot as plt

import fxsim
from fxsim import QFormat, cast
from fxsim import plot as fxplot
from fxsim.accelerator import Accelerator
from fxsim.models import Quadratic
from fxsim.optim import GD
from fxsim.studies.gd_rounding import COLORS

fmt = QFormat.parse(FMT)
model = Quadratic(d=2, cond=COND, center="off", grid=fmt, seed=1)    # minimizer between grid points
c = model.c
x0 = c + np.array(START)
print(f"format {fmt}: LSB {fmt.lsb}; minimizer c = {np.round(c, 4)} (not on the grid); "
      f"start {np.round(x0, 4)}")
print(f"eigenvalues of A: {model.eigs}; RN stops once |t·g| < LSB/2 in every component, "
      f"i.e. |g| < {fmt.lsb / (2 * T):.4f}")

# %% [markdown]
# ## Running GD with each strategy
#
# `GD(model, accel, t, x0=...)` keeps `x` as a `FixedArray` in the weights' format; we step it
# and record every iterate. Each seed gives the accelerator's random source a different stream.

# %%
def accelerator(casts, seed):
    stochastic = any(m in fxsim.STOCHASTIC for m in casts.values())
    return Accelerator(fmt, fmt, prod=None, casts={k: (m, "saturate") for k, m in casts.items()},
                       source=SOURCE if stochastic else None, seed=seed, r=R, eps=EPS)


paths, losses = {}, {}
for name, casts in STRATEGIES.items():
    paths[name], losses[name] = [], []
    for seed in range(SEEDS):
        gd = GD(model, accelerator(casts, seed), T, x0=x0)
        path = [gd.x.to_float()]
        for _ in range(ITERS):
            gd.step()
            path.append(gd.x.to_float())
        paths[name].append(np.array(path))
        losses[name].append(gd.history.loss)
    last = np.array([p[-1] for p in paths[name]])
    print(f"{name:<18} final loss: median {np.median([l[-1] for l in losses[name]]):.2e}; "
          f"seed 0 ends at {last[0]}, {np.mean(np.all(last == last[0], axis=1)):.0%} of the seeds end there")

# %% [markdown]
# ## Where round-to-nearest is stuck
#
# A grid point is a **fixed point** of RN gradient descent when the rounded update gives the
# same point back. We can find all of them exactly by doing one RN update from every grid
# point in the window with fxsim (the same casts as `GD`): these are the red points below. RN
# stops at the first one it meets; SR does not stop anywhere.

# %%
lo, hi = np.minimum(x0, c) - 0.75, np.maximum(x0, c) + 0.75     # the window of the figure
kx = np.arange(np.ceil(lo[0] / fmt.lsb), np.floor(hi[0] / fmt.lsb) + 1) * fmt.lsb
ky = np.arange(np.ceil(lo[1] / fmt.lsb), np.floor(hi[1] / fmt.lsb) + 1) * fmt.lsb
rn = STRATEGIES["round-to-nearest"]
stuck, f_best = np.empty((0, 2)), None
if kx.size * ky.size > 10**6:
    print(f"{kx.size * ky.size} grid points in the window: too many to search, take a coarser FMT")
else:
    P = np.stack(np.meshgrid(kx, ky), axis=-1).reshape(-1, 2)   # grid points, one per row
    xq = cast(P, fmt)                                            # exact: they are on the grid
    g = cast((P - c) @ model.A.T, fmt, rn["grad"])               # the gradient cast
    t_q = GD(model, accelerator(rn, 0), T, x0=x0).t_q            # t as GD quantizes it
    x_new = cast(xq - t_q * g, fmt, rn["update"])                # exact t·g, one write-back cast
    fixed = np.all(x_new.raw == xq.raw, axis=1)
    stuck = P[fixed]
    f_grid = 0.5 * np.einsum("ni,ij,nj->n", P - c, model.A, P - c)
    f_best = f_grid.min()
    print(f"{fixed.sum()} of {len(P)} grid points in the window are fixed points of '{rn['grad']}'/"
          f"'{rn['update']}' GD; their loss ranges from {f_grid[fixed].min():.2e} to {f_grid[fixed].max():.2e}; "
          f"the best grid point has loss {f_best:.2e}")
    end_rn = paths["round-to-nearest"][0][-1]
    print("the first run's end point is one of them:", bool(np.any(np.all(stuck == end_rn, axis=1))))

# %% [markdown]
# ## The picture
#
# Left: the iterates of one run (seed 0) of each strategy over the contours of `f` and the
# grid of the format (square = start, star = end, red = RN fixed points). Right: the loss
# `f(x_k) − f*` of all `SEEDS` runs (median line, min–max band).

# %%
def f_xy(X, Y):
    E = np.stack([X - c[0], Y - c[1]])
    return 0.5 * np.einsum("i...,ij,j...->...", E, model.A, E)


fig = plt.figure(figsize=(16, 8.5), layout="constrained")
gs = fig.add_gridspec(2, 3, width_ratios=[1, 1, 1.25])
for i, name in enumerate(STRATEGIES):
    ax = fig.add_subplot(gs[i // 2, i % 2])
    fxplot.grid_contour(f_xy, fmt, (lo[0], hi[0]), (lo[1], hi[1]), iterates={name: paths[name][0]},
                        levels=12, log_levels=True, colors=[COLORS.get(name, f"C{i}")], ax=ax,
                        title=f"{name}: {len(np.unique(paths[name][0], axis=0))} distinct points visited")
    ax.plot(stuck[:, 0], stuck[:, 1], "o", ms=3.5, mfc="none", mec="tab:red", mew=0.8, zorder=2.5,
            label="RN fixed points")
    ax.plot(*c, "+", color="k", ms=12, mew=2, label="minimizer c")
    ax.legend(fontsize=7, loc="lower left")
ax = fig.add_subplot(gs[:, 2])
fxplot.loss_bands(losses, band="minmax", colors=[COLORS.get(n, f"C{i}") for i, n in enumerate(STRATEGIES)],
                  ax=ax, ylabel="f(x_k) − f*  (loss units, log scale)",
                  title=f"loss over {SEEDS} runs (median, min–max band)")
if f_best is not None:
    ax.axhline(f_best, color="k", ls=":", lw=1, label="best grid point")
ax.legend(fontsize=8)
fig.suptitle(f"Gradient descent in {fmt} (t = {T}, {SOURCE} bits, r = {R}, ε = {EPS}) on a 2-D "
             f"quadratic: round-to-nearest stops on the first fixed point it meets (|t·∇f| < ½ LSB),\n"
             f"stochastic rounding and its ε variants keep moving and end near the best grid point",
             fontsize=13)
plt.show()
