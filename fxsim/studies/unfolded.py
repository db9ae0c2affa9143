"""Unfolded networks (LISTA, ADMM-CSNet) and an FFNN trained by GD, in float64 and on the
datapath (``fxsim unfolded-study``).

Shah, Pradhan, Pu, Randhi, Rodrigues & Eldar (IEEE TSP 72, 2024, arXiv 2309.06195) prove that
finite-layer LISTA and ADMM-CSNet with a smooth soft-threshold satisfy PL* when
over-parameterized, so GD reaches near-zero training loss exponentially fast; the sample-count
threshold grows with the width and is higher for the unfolded networks than for an FFNN of the
same width.  The models (``fxsim.models.unfolded``) and the data
(``fxsim.models.sparse_data``: y = A x + noise, A Gaussian m × n with unit columns, x s-sparse)
are described there; here m = 8, s = 2, noise 0.01, K = 3 layers, λ = 0.1, δ = 0.01.

(a) float64, full-batch GD x ← x − t∇L (t = ``T_STEP``/n) for every network, width n (= the
    signal dimension = the hidden size) and training-set size T: the loss curve, the empirical
    PL* ratio ‖∇L‖²/L along it (its minimum over the run is the μ a PL* bound would use), the
    first epoch with L ≤ ``TOL`` and a fitted linear rate of log L, and the largest T at which
    the median seed still reaches ``TOL`` in the budget (the empirical sample threshold).
(b) the same LISTA trained on the datapath (``fxsim.optim.GD``, ``mode="emulated"``: the
    model's fully emulated forward/backward, σ by table + interpolation): weights = grads =
    ``FMT`` Q(16,12), activations Q(16,12), accumulator Q(32,24), fused update; the strategies of
    ``gd_rounding`` on the gradient cast and the write-back (round-to-nearest, SR, SR_ε with
    ε = 0.2, signed-SR_ε), forward/backward casts round-to-nearest; bit sources: a 16-bit LFSR
    and ideal PCG64 bits.  Recorded: the float64 loss at the fixed-point weights, its floor
    (minimum), where the weights stop moving.  Round-to-nearest and SR are also run on the T grid
    of (a), to see whether the sample threshold survives quantization.
(c) recovery error on 200 held-out pairs, ‖x̂ − x‖/‖x‖ (median over pairs), of every trained
    network: float64 weights in float64, fixed-point weights through the datapath's forward pass.

Seeds: every run seeds itself from (seed, network, n, T, seed index) through
``numpy.random.SeedSequence`` (data set, start point and accelerator streams), so rows do not
depend on the worker count.  Medians over seeds, bands min–max.
"""
from __future__ import annotations

import os
import time
import zlib

import numpy as np

from ._report import (add_study_parser, figure, finish, fmt_number, make_progress,
                      markdown_table, run_jobs, verdict, verdict_lines, write_csv)
from ..accelerator import Accelerator
from .gd_rounding import SOURCES, STRATEGIES as GD_STRATEGIES   # the strategies and bit sources of gd-study
from ..optim import GD
from ..qformat import QFormat

#: the four strategies of gd-study this study runs (gd-study has added downhill-SR_ε since)
STRATEGIES = {k: GD_STRATEGIES[k] for k in ("round-to-nearest", "SR", "SR_ε", "signed-SR_ε")}

__all__ = ["PRESETS", "STRATEGIES", "SOURCES", "NETWORKS", "FMT", "TOL", "T_STEP",
           "float_run", "fx_run", "jobs_for", "summarize", "verdicts", "markdown", "run",
           "add_cli"]

NETWORKS = {"lista": "LISTA", "admm": "ADMM-CSNet", "ffnn": "FFNN"}
FMT = QFormat(16, 12)
ACC = QFormat(32, 24)
EPS, R_BITS = 0.2, 16
#: GD step t = T_STEP / n: GD with step T_STEP in the NTK parameterization (weights scaled by
#: 1/√fan_in in the forward pass); a fixed t diverges at large n (the curvature grows with n)
T_STEP = 1.6
TOL = 1e-5
M, S, NOISE, K, LAM, DELTA, N_TEST = 8, 2, 0.01, 3, 0.1, 0.01, 200
PRESETS = {
    "full": dict(widths=(16, 32, 64), Ts=(2, 4, 6, 8, 12, 16, 24), seeds=3, epochs=3000,
                 fx_width=32, fx_T=2, fx_seeds=3, fx_epochs=800, fx_Ts=(2, 4, 8),
                 fx_T_epochs=800),
    "quick": dict(widths=(16, 32), Ts=(2, 4, 8, 16), seeds=1, epochs=600,
                  fx_width=32, fx_T=2, fx_seeds=1, fx_epochs=500, fx_Ts=(2, 8),
                  fx_T_epochs=400),
}
COLUMNS = ["part", "network", "n", "T", "params", "strategy", "source", "seed", "epochs",
           "loss0", "final_loss", "min_loss", "epochs_to_tol", "rate", "pl_min",
           "stop_moving", "test_err"]
SUMMARY_COLUMNS = ["part", "network", "n", "T", "params", "strategy", "source", "n_seeds",
                   "final_loss", "min_loss", "epochs_to_tol", "reached", "rate", "pl_min",
                   "stop_moving", "test_err"]


def _seed(seed, network, n, T, k) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(seed), zlib.crc32(network.encode()), n, T, k])


def _model(network, n, T, data_seed, seed_idx):
    from fxsim.models.sparse_data import make_sparse_recovery
    from fxsim.models.unfolded import UNFOLDED
    d = make_sparse_recovery(m=M, n=n, s=S, n_train=T, n_test=N_TEST, noise=NOISE,
                             seed=data_seed + seed_idx)
    return UNFOLDED[network](d, K=K, lam=LAM, delta=DELTA)


def _rel_err(Xhat, X) -> float:
    return float(np.median(np.linalg.norm(Xhat - X, axis=1) / np.linalg.norm(X, axis=1)))


def _rate(loss, tol=TOL):
    """Fitted linear rate of log L: exp(slope) of a least-squares line through log L over the
    epochs from L ≤ 1e-2·L₀ to the first L ≤ tol (or the end); None if too short."""
    loss = np.asarray(loss)
    lo = np.flatnonzero(loss <= 1e-2 * loss[0])
    hi = np.flatnonzero(loss <= tol)
    if lo.size == 0:
        return None
    a, b = int(lo[0]), int(hi[0]) if hi.size else loss.size - 1
    if b - a < 5:
        return None
    k = np.arange(a, b + 1)
    return float(np.exp(np.polyfit(k, np.log(loss[a:b + 1]), 1)[0]))


def _curve(loss, points=200):
    idx = np.unique(np.linspace(0, len(loss) - 1, points).astype(int))
    return idx, np.asarray(loss)[idx]


def float_run(network, n, T, seed, k, epochs):
    """Float64 GD of one network; (row, (epochs, loss curve), (epochs, PL* ratio curve)).

    >>> row, loss, pl = float_run("lista", 8, 2, seed=0, k=0, epochs=20)
    >>> row["params"], bool(row["final_loss"] < row["loss0"]), len(loss[0]) == 21
    (320, True, True)
    """
    ss_data, ss_x = _seed(seed, "data", n, T, k).spawn(2)
    model = _model(network, n, T, int(ss_data.generate_state(1)[0]), 0)
    x = model.x0(np.random.default_rng(ss_x))
    loss, pl = [], []
    with np.errstate(all="ignore"):            # a diverging run is recorded, not warned about
        for _ in range(epochs + 1):
            L, gr = model.loss(x), model.grad(x)
            loss.append(L)
            pl.append(float(gr @ gr) / L if L > 0 else np.nan)
            if not np.isfinite(L):
                break
            x = x - T_STEP / n * gr
    loss = np.array(loss)
    hit = np.flatnonzero(loss <= TOL)
    row = {"part": "a", "network": network, "n": n, "T": T, "params": model.dim,
           "strategy": "float64", "source": "", "seed": k, "epochs": epochs,
           "loss0": float(loss[0]), "final_loss": float(loss[-1]),
           "min_loss": float(np.nanmin(loss)), "epochs_to_tol": int(hit[0]) if hit.size else None,
           "rate": _rate(loss), "pl_min": float(np.nanmin(pl[:hit[0] + 1] if hit.size else pl)),
           "stop_moving": None,
           "test_err": None}
    with np.errstate(all="ignore"):
        row["test_err"] = _rel_err(model.predict(x, model.data.Y_test), model.data.X_test)
    return row, _curve(loss), _curve(np.array(pl))


def make_accelerator(strategy, source, seed) -> Accelerator:
    """The datapath of part (b): Q(16,12) weights/grads/activations, Q(32,24) accumulator,
    fused update, the strategy's gradient and write-back casts.

    >>> make_accelerator("SR", "lfsr16", 1).casts["update"][0]
    'stochastic'
    """
    casts = {role: (rnd, "saturate") for role, rnd in STRATEGIES[strategy].items()}
    return Accelerator(FMT, FMT, acts=FMT, prod=None, acc=ACC, casts=casts,
                       source=source if casts else None, seed=seed, r=R_BITS, eps=EPS)


def fx_run(n, T, strategy, source, seed, k, epochs):
    """LISTA trained on the datapath (part b); (row, (epochs, loss curve)).

    >>> row, loss = fx_run(8, 2, "SR", "lfsr16", seed=0, k=0, epochs=5)
    >>> row["strategy"], bool(row["final_loss"] < row["loss0"])
    ('SR', True)
    """
    ss_data, ss_x = _seed(seed, "data", n, T, k).spawn(2)
    model = _model("lista", n, T, int(ss_data.generate_state(1)[0]), 0)
    aseed = int(_seed(seed, "accel", n, T, k).generate_state(1)[0])
    accel = make_accelerator(strategy, source, aseed)
    x0 = model.x0(np.random.default_rng(ss_x))
    gd = GD(model, accel, T_STEP / n, mode="emulated", x0=x0)
    h = gd.run(epochs)
    loss = np.asarray(h.loss)
    hit = np.flatnonzero(loss <= TOL)
    Xhat = model.fx_predict(gd.x, accel, model.data.Y_test)
    row = {"part": "b", "network": "lista", "n": n, "T": T, "params": model.dim,
           "strategy": strategy, "source": source, "seed": k, "epochs": epochs,
           "loss0": float(loss[0]), "final_loss": float(loss[-1]), "min_loss": float(loss.min()),
           "epochs_to_tol": int(hit[0]) if hit.size else None, "rate": _rate(loss),
           "pl_min": None, "stop_moving": h.stagnation_iter(),
           "test_err": _rel_err(Xhat, model.data.X_test)}
    return row, _curve(loss)


def _run_spec(spec):
    return float_run(*spec[1:]) if spec[0] == "float" else fx_run(*spec[1:])


def _job(spec):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                 # optional: only pins BLAS to one thread per worker
        return _run_spec(spec)
    with threadpool_limits(1):          # 2 workers on 2 cores: one BLAS thread each
        return _run_spec(spec)


def jobs_for(p, seed) -> list:
    """The job list of a preset ``p``: float runs (a), datapath runs at the default point
    (b, every strategy and source), datapath RN/SR runs on the T grid (b, threshold).

    >>> len(jobs_for(PRESETS["quick"], 0))
    34
    """
    jobs = [("float", net, n, T, seed, k, p["epochs"]) for net in NETWORKS
            for n in p["widths"] for T in p["Ts"] for k in range(p["seeds"])]
    jobs += [("fx", p["fx_width"], p["fx_T"], st, src, seed, k, p["fx_epochs"])
             for st in STRATEGIES for src in SOURCES for k in range(p["fx_seeds"])]
    jobs += [("fx", p["fx_width"], T, st, "lfsr16", seed, k, p["fx_T_epochs"])
             for T in p["fx_Ts"] if T != p["fx_T"] for st in ("round-to-nearest", "SR")
             for k in range(p["fx_seeds"])]
    return jobs


def _median(vals):
    v = sorted(np.inf if x is None else x for x in vals)
    if not v:
        return None
    m = float(np.median(v))
    return None if not np.isfinite(m) else m


def summarize(rows) -> list:
    """One row per (part, network, n, T, strategy, source): medians over seeds (never = ∞).

    >>> rows = [float_run("ffnn", 8, 2, 0, k, 10)[0] for k in range(2)]
    >>> s = summarize(rows); len(s), s[0]["n_seeds"]
    (1, 2)
    """
    keys = list(dict.fromkeys((r["part"], r["network"], r["n"], r["T"], r["strategy"],
                               r["source"]) for r in rows))
    out = []
    for key in keys:
        rs = [r for r in rows if (r["part"], r["network"], r["n"], r["T"], r["strategy"],
                                  r["source"]) == key]
        s = dict(zip(("part", "network", "n", "T", "strategy", "source"), key))
        s.update(params=rs[0]["params"], n_seeds=len(rs),
                 reached=sum(r["epochs_to_tol"] is not None for r in rs))
        for c in ("final_loss", "min_loss", "epochs_to_tol", "rate", "pl_min", "stop_moving",
                  "test_err"):
            vals = [r[c] for r in rs]
            s[c] = None if all(v is None for v in vals) and c in ("rate", "pl_min") else _median(vals)
        out.append(s)
    return out


def thresholds(summary) -> dict:
    """(part, network, n) -> the largest T whose median seed reaches TOL with every smaller T
    reaching it too (0 if the smallest does not)."""
    out = {}
    for s in sorted(summary, key=lambda s: s["T"]):
        key = (s["part"], s["network"], s["n"])
        if s["part"] == "b" and s["strategy"] == "round-to-nearest":
            key = ("b-RN", s["network"], s["n"])
        elif s["part"] == "b" and s["strategy"] != "SR":
            continue
        if s["part"] == "b" and s["source"] != "lfsr16":
            continue
        ok = s["epochs_to_tol"] is not None
        cur = out.setdefault(key, [0, True])
        if cur[1] and ok:
            cur[0] = s["T"]
        cur[1] = cur[1] and ok
    return {k: v[0] for k, v in out.items()}


def _f(v):
    return fmt_number(v, 3, fixed_from=1e-2)


#: thresholds from fewer seeds than this are not decided (one seed moves them by a grid point)
MIN_SEEDS = 3


def _pick(summary, **kw):
    return [s for s in summary if all(s[k] == v for k, v in kw.items())]


def _one(summary, **kw):
    rows = _pick(summary, **kw)
    return rows[0] if rows else None


def verdicts(summary, p) -> list:
    """The study's verdict, one ``verdict`` per claim of the paper and of the write-up
    (docs/studies/unfolded.md), decided from the summary of a run with preset ``p``.

    - float64, over-parameterized (the smallest T): LISTA and ADMM-CSNet reach tol at a linear
      rate in log L (fitted factor < 1) with a positive PL* floor, at every width whose runs
      did not diverge (a diverged median is the step, not PL*: it is named);
    - the sample threshold grows with the width (non-decreasing, larger at the widest);
    - the unfolded networks' threshold is above the FFNN's at every width (held), at some
      (not decided), at none (did not hold);
    - on the datapath, round-to-nearest stops moving at a loss > 10× SR's lowest;
    - an ε-biased SR (SR_ε or signed-SR_ε) ends lower than SR, with either bit source;
    - the threshold survives Q(16,12) with SR (equal to float64's) and not with
      round-to-nearest (lower);
    - the 16-bit LFSR gives the lowest loss of ideal bits within a factor 1.5, per strategy;
    - held-out recovery: every strategy's error within 10 % of float64's, and above 1 (x̂ = 0)
      where the guarantee applies: the networks memorize their few pairs.
    Thresholds from fewer than ``MIN_SEEDS`` seeds are "not decided".

    >>> rows = [float_run(net, 8, 2, 0, 0, 800)[0] for net in NETWORKS]
    >>> v = verdicts(summarize(rows), dict(widths=(8,), Ts=(2,), fx_width=8, fx_T=2, seeds=1))
    >>> v[0]["held"], v[1]["held"]
    (True, None)
    """
    out = []
    T0, n0 = min(p["Ts"]), p["fx_width"]
    few = p["seeds"] < MIN_SEEDS
    th = thresholds(summary)
    # (a) exponential convergence with a PL* floor when over-parameterized
    ok, figs = [], []
    for net in ("lista", "admm"):
        for n in p["widths"]:
            s = _one(summary, part="a", network=net, n=n, T=T0)
            if s is None:
                continue
            if s["final_loss"] is None:
                figs.append(f"{NETWORKS[net]} n={n}: diverged (step {T_STEP}/n)")
                continue
            good = (s["epochs_to_tol"] is not None and s["rate"] is not None and s["rate"] < 1
                    and (s["pl_min"] or 0) > 0)
            ok.append(good)
            figs.append(f"{NETWORKS[net]} n={n}: " + (
                f"tol at epoch {_it(s['epochs_to_tol'])}, rate {_f(s['rate'])}, "
                f"PL* min {_f(s['pl_min'])}" if good else f"L = {_f(s['final_loss'])}"))
    out.append(verdict(f"float64, T = {T0}: LISTA and ADMM-CSNet reach L ≤ {TOL:g} at a linear "
                       "rate in log L with a positive PL* floor (the paper's guarantee)",
                       (all(ok) if ok else None), "; ".join(figs)))
    # the threshold grows with the width
    rows, grows = [], []
    for net in ("lista", "admm"):
        ths = [th.get(("a", net, n)) for n in p["widths"]]
        rows.append(f"{NETWORKS[net]} " + "/".join(str(t) for t in ths))
        grows.append(all(a <= b for a, b in zip(ths, ths[1:])) and ths[-1] > ths[0])
    wid = "/".join(str(n) for n in p["widths"])
    out.append(verdict("the sample threshold grows with the width (the paper)",
                       None if few or len(p["widths"]) < 2 else all(grows),
                       f"threshold T at n = {wid}: " + ", ".join(rows)
                       + (f" ({p['seeds']} seed(s): not decided)" if few else "")))
    # unfolded above the FFNN
    above, figs = [], []
    for n in p["widths"]:
        u = min(th.get(("a", "lista", n), 0), th.get(("a", "admm", n), 0))
        f_ = th.get(("a", "ffnn", n), 0)
        above.append(u > f_)
        figs.append(f"n={n}: {th.get(('a', 'lista', n))}/{th.get(('a', 'admm', n))} vs {f_}")
    held = True if all(above) else (None if any(above) else False)
    out.append(verdict("the threshold of LISTA/ADMM-CSNet is above the FFNN's at the same width "
                       "(the paper)", None if few else held,
                       "; ".join(figs) + (f" ({p['seeds']} seed(s): not decided)" if few else "")))
    # (b) RN stagnates above SR's floor
    fx = [s for s in summary if s["part"] == "b" and s["T"] == p["fx_T"]]
    by = {(s["strategy"], s["source"]): s for s in fx}
    sources = sorted({s["source"] for s in fx})
    if fx:
        ok, figs = [], []
        for src in sources:
            rn, sr = by.get(("round-to-nearest", src)), by.get(("SR", src))
            if rn is None or sr is None:
                continue
            ok.append(rn["stop_moving"] is not None and rn["min_loss"] > 10 * sr["min_loss"])
            figs.append(f"{SOURCES.get(src, src)}: RN stops at epoch {_it(rn['stop_moving'])} "
                        f"at L = {_f(rn['min_loss'])}, SR reaches {_f(sr['min_loss'])}")
        out.append(verdict(f"Q(16,12), n = {n0}, T = {p['fx_T']}: round-to-nearest stops moving "
                           "at a loss > 10× the lowest SR reaches", all(ok) if ok else None,
                           "; ".join(figs)))
        ok, figs = [], []
        for src in sources:
            sr = by.get(("SR", src))
            eps = [by[(st, src)] for st in ("SR_ε", "signed-SR_ε") if (st, src) in by]
            if sr is None or not eps:
                continue
            best = min(eps, key=lambda s: s["min_loss"])
            ok.append(best["min_loss"] < sr["min_loss"])
            figs.append(f"{SOURCES.get(src, src)}: {best['strategy']} {_f(best['min_loss'])} vs "
                        f"SR {_f(sr['min_loss'])}")
        out.append(verdict("an ε-biased SR (SR_ε or signed-SR_ε) reaches a lower training loss "
                           "than SR", all(ok) if ok else None, "; ".join(figs)))
        ok, figs = [], []
        for st in STRATEGIES:
            if st == "round-to-nearest" or (st, "lfsr16") not in by or (st, "pcg64") not in by:
                continue
            a, b = by[(st, "lfsr16")]["min_loss"], by[(st, "pcg64")]["min_loss"]
            ok.append(max(a, b) <= 1.5 * min(a, b))
            figs.append(f"{st} {_f(a)} vs {_f(b)}")
        out.append(verdict("the 16-bit LFSR reaches the loss of ideal PCG64 bits (within 1.5×)",
                           all(ok) if ok else None, "; ".join(figs)))
    # the threshold in fixed point
    ta, tsr, trn = th.get(("a", "lista", n0)), th.get(("b", "lista", n0)), th.get(("b-RN", "lista", n0))
    if tsr is not None and trn is not None and ta is not None:
        fs = p.get("fx_seeds", p["seeds"]) < MIN_SEEDS or few
        out.append(verdict("the threshold survives Q(16,12) with SR (= float64's) and not with "
                           "round-to-nearest (lower)",
                           None if fs else (tsr == ta and trn < ta),
                           f"LISTA n = {n0}: float64 {ta}, SR {tsr}, RN {trn}"
                           + (" (too few seeds: not decided)" if fs else "")))
    # (c) held-out recovery
    fl = _one(summary, part="a", network="lista", n=n0, T=p["fx_T"])
    if fl is not None and fl["test_err"] is not None and fx:
        errs = [s["test_err"] for s in fx if s["test_err"] is not None]
        out.append(verdict("held-out recovery: fixed point within 10 % of float64, and no "
                           "recovery where the guarantee applies (error > 1, worse than x̂ = 0)",
                           bool(errs) and all(abs(e - fl["test_err"]) <= 0.1 * fl["test_err"]
                                              for e in errs) and fl["test_err"] > 1,
                           f"median ‖x̂ − x‖/‖x‖: float64 {_f(fl['test_err'])}, datapath "
                           f"{_f(min(errs))}–{_f(max(errs))}" if errs else "no datapath run"))
    return out


def markdown(summary, meta, verdicts_=()) -> str:
    """The summary as markdown: the verdict (if given), part (a), the thresholds, parts (b, c).

    >>> print(markdown(summarize([float_run("lista", 8, 2, 0, 0, 10)[0]]), {"seed": 0}))
    # Unfolded networks ...
    | LISTA | 8 | 2 | 320 | 0/1 | ...
    """
    parts = ["# Unfolded networks (LISTA, ADMM-CSNet) and an FFNN under GD, float64 and fixed point",
             "", ", ".join(f"{k} = {v}" for k, v in meta.items()), "",
             f"Medians over seeds. *reached*: seeds with L ≤ {TOL:g} within the budget; *rate*: "
             "fitted per-epoch factor of L (a line through log L from L ≤ 0.01·L₀ to L ≤ tol); "
             "*PL\\* min*: the smallest ‖∇L‖²/L along the run (before tol); *test err*: median "
             "‖x̂ − x‖/‖x‖ on 200 held-out pairs.", ""]
    if verdicts_:
        parts += ["## Verdict", "", "```", verdict_lines(verdicts_), "```", ""]
    parts += ["## (a) float64", ""]
    body = [[NETWORKS[s["network"]], s["n"], s["T"], s["params"], f"{s['reached']}/{s['n_seeds']}",
             _f(s["final_loss"]), _it(s["epochs_to_tol"]), _f(s["rate"]), _f(s["pl_min"]),
             _f(s["test_err"])] for s in summary if s["part"] == "a"]
    parts += [markdown_table(["network", "n", "T", "params", "reached", "final L",
                              "epochs to tol", "rate", "PL* min", "test err"], body), ""]
    th = thresholds(summary)
    parts += ["## Empirical sample threshold (largest T reached by the median seed, every "
              "smaller T too)", ""]
    body = [[NETWORKS.get(k[1], k[1]) + {"a": " (float64)", "b": " (SR, Q(16,12))",
                                         "b-RN": " (RN, Q(16,12))"}[k[0]], k[2], v]
            for k, v in sorted(th.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2]))]
    parts += [markdown_table(["network", "n", "threshold T"], body), ""]
    parts += ["## (b, c) LISTA on the datapath (Q(16,12) weights, fused update)", ""]
    body = [[s["T"], s["strategy"], SOURCES.get(s["source"], s["source"]),
             f"{s['reached']}/{s['n_seeds']}", _f(s["final_loss"]), _f(s["min_loss"]),
             _it(s["epochs_to_tol"]), _it(s["stop_moving"]), _f(s["test_err"])]
            for s in summary if s["part"] == "b"]
    parts += [markdown_table(["T", "strategy", "source", "reached", "final L", "min L",
                              "epochs to tol", "stops moving", "test err"], body), ""]
    return "\n".join(parts)


def _it(v):
    return "never" if v is None else f"{v:g}"


COLORS = {"lista": "tab:blue", "admm": "tab:green", "ffnn": "tab:red"}
SCOLORS = {"round-to-nearest": "tab:red", "SR": "tab:blue", "SR_ε": "tab:green",
           "signed-SR_ε": "tab:purple"}


def plot(summary, curves, p, path) -> str:
    """The headline figure: six panels (float loss curves, PL* ratio, threshold vs T, datapath
    loss curves, datapath vs float threshold, held-out error)."""
    fig = figure(16, 10, layout=None)
    axs = fig.subplots(2, 3).ravel()
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.1, top=0.9, wspace=0.25, hspace=0.45)
    n0 = p["fx_width"]
    # (1) float loss curves of the three networks at width n0, every T
    ax = axs[0]
    for net in NETWORKS:
        for T in p["Ts"]:
            c = curves.get(("a", net, n0, T))
            if c is None:
                continue
            ax.plot(c[0], np.median(c[1], axis=0), color=COLORS[net], lw=1.0,
                    alpha=0.35 + 0.65 * (T == p["fx_T"]))
    ax.axhline(TOL, color="k", ls=":", lw=0.8)
    ax.set(yscale="log", xlabel="epoch", ylabel="training loss L",
           title=f"(a) float64 GD, width n = {n0}: every T (dark: T = {p['fx_T']})\n"
                 "blue LISTA, green ADMM-CSNet, red FFNN; dotted: tol")
    # (2) PL* ratio along the runs at T = fx_T
    ax = axs[1]
    for net in NETWORKS:
        for n in p["widths"]:
            c = curves.get(("a-pl", net, n, p["fx_T"]))
            if c is not None:
                ax.plot(c[0], np.median(c[1], axis=0), color=COLORS[net],
                        lw=0.8 + 0.5 * p["widths"].index(n), label=f"{NETWORKS[net]} n={n}")
    ax.set(yscale="log", xlabel="epoch", ylabel="‖∇L‖² / L",
           title=f"(a) empirical PL* ratio along the run, T = {p['fx_T']}\n(a positive floor = "
                 "the μ of PL*; lines end where L ≤ tol)")
    ax.legend(fontsize=7, ncol=2)
    # (3) final loss vs T per network and width
    ax = axs[2]
    for net in NETWORKS:
        for n in p["widths"]:
            ss = sorted((s for s in summary if s["part"] == "a" and s["network"] == net
                         and s["n"] == n), key=lambda s: s["T"])
            ax.plot([s["T"] for s in ss], [max(s["final_loss"] or 1e-14, 1e-14) for s in ss],
                    "o-", color=COLORS[net], lw=0.8 + 0.5 * p["widths"].index(n), ms=3,
                    label=f"{NETWORKS[net]} n={n}")
    ax.axhline(TOL, color="k", ls=":", lw=0.8)
    ax.set(yscale="log", xlabel="training samples T", ylabel=f"L after {p['epochs']} epochs",
           title="(a) where near-zero loss stops: final loss vs T\n(thicker = wider)")
    ax.legend(fontsize=7, ncol=2)
    # (4) datapath loss curves at (fx_width, fx_T)
    ax = axs[3]
    fc = curves.get(("a", "lista", n0, p["fx_T"]))
    if fc is not None:
        m = fc[0] <= p["fx_epochs"]
        ax.plot(fc[0][m], np.median(fc[1], axis=0)[m], color="k", lw=1.2, label="float64")
    for st in STRATEGIES:
        for src, ls in (("lfsr16", "-"), ("pcg64", "--")):
            c = curves.get(("b", st, src, p["fx_T"]))
            if c is not None:
                med = np.median(c[1], axis=0)
                ax.plot(c[0], med, color=SCOLORS[st], ls=ls, lw=1.1, label=f"{st}, {SOURCES[src]}")
                ax.fill_between(c[0], c[1].min(axis=0), c[1].max(axis=0), color=SCOLORS[st],
                                alpha=0.08, lw=0)
    ax.axhline(TOL, color="k", ls=":", lw=0.8)
    ax.set(yscale="log", xlabel="epoch", ylabel="training loss L (float64, at the fixed-point weights)",
           title=f"(b) LISTA n = {n0}, T = {p['fx_T']} on the datapath, Q(16,12), t = {T_STEP / n0:g}")
    ax.legend(fontsize=7)
    # (5) threshold in fixed point: final loss vs T for float, RN, SR
    ax = axs[4]
    ss = sorted((s for s in summary if s["part"] == "a" and s["network"] == "lista"
                 and s["n"] == n0), key=lambda s: s["T"])
    ax.plot([s["T"] for s in ss], [max(s["min_loss"] or 1e-14, 1e-14) for s in ss], "ko-",
            ms=3, label=f"float64 ({p['epochs']} epochs)")
    for st in ("round-to-nearest", "SR"):
        ss = sorted((s for s in summary if s["part"] == "b" and s["strategy"] == st
                     and s["source"] == "lfsr16"), key=lambda s: s["T"])
        ax.plot([s["T"] for s in ss], [s["min_loss"] for s in ss], "o-", color=SCOLORS[st],
                ms=3, label=f"{st}, LFSR ({p['fx_T_epochs']} epochs)")
    ax.axhline(TOL, color="k", ls=":", lw=0.8)
    ax.set(yscale="log", xlabel="training samples T", ylabel="lowest training loss reached",
           title=f"(b) does the threshold survive Q(16,12)? LISTA n = {n0}")
    ax.legend(fontsize=7)
    # (6) held-out recovery error
    ax = axs[5]
    labels, vals, cols = [], [], []
    fs = [s for s in summary if s["part"] == "a" and s["network"] == "lista" and s["n"] == n0
          and s["T"] == p["fx_T"]]
    if fs:
        labels.append("float64")
        vals.append(fs[0]["test_err"])
        cols.append("k")
    for s in summary:
        if s["part"] == "b" and s["T"] == p["fx_T"]:
            labels.append(f"{s['strategy']}\n{'LFSR' if s['source'] == 'lfsr16' else 'PCG64'}")
            vals.append(s["test_err"])
            cols.append(SCOLORS[s["strategy"]])
    ax.bar(range(len(vals)), vals, color=cols)
    ax.set_xticks(range(len(vals)), labels, fontsize=6.5, rotation=60)
    ax.set(ylabel="median ‖x̂ − x‖ / ‖x‖ (200 held-out pairs)",
           title=f"(c) held-out recovery error, LISTA n = {n0}, T = {p['fx_T']}")
    from matplotlib.ticker import LogLocator, NullLocator
    for ax in axs:
        if ax.get_yscale() == "log":
            lo, hi = ax.get_ylim()
            ax.set_ylim(max(lo, 1e-14), hi)
            ax.yaxis.set_major_locator(LogLocator(numticks=8))
            ax.yaxis.set_minor_locator(NullLocator())
    fig.suptitle(f"Unfolded networks under GD (K = {K}, m = {M}, s = {S}, λ = {LAM}, δ = {DELTA}); "
                 "medians over seeds, bands min–max", fontsize=11)
    fig.savefig(path, dpi=90)
    return path


def run(out_dir, quick=False, seed=0, progress=True, *, workers=2, copy_figures_to=None,
        preset=None):
    """Run the study; write ``unfolded_study.csv`` (summary), ``unfolded_study_runs.csv``,
    ``unfolded_study.md`` and ``unfolded_study.png`` into ``out_dir``.  ``preset``: a dict
    overriding entries of the preset (tests shrink it).

    ``quick=True`` takes about 20 s on 2 cores (18.6 s wall under ``chrt -f 50`` at load
    average 24, 2026-12-06; ``chrt -f 50 /usr/bin/time fxsim unfolded-study --quick``), so
    skipped by doctest:

    >>> res = run("results/unfolded_study", quick=True)     # doctest: +SKIP
    >>> sorted(res["files"])                                # doctest: +SKIP
    ['csv', 'md', 'runs_csv', 'unfolded_png']
    """
    p = dict(PRESETS["quick" if quick else "full"], **(preset or {}))
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    jobs = jobs_for(p, seed)
    bar = make_progress(len(jobs), "unfolded-study", progress)
    try:
        results = run_jobs(_job, jobs, workers, bar, label=lambda j: f"{j[0]} {j[1]} {j[2]} {j[3]}")
    finally:
        bar.close()
    rows, acc = [], {}
    for j, res in zip(jobs, results):
        rows.append(res[0])
        r = res[0]
        if j[0] == "float":
            acc.setdefault(("a", r["network"], r["n"], r["T"]), []).append(res[1])
            acc.setdefault(("a-pl", r["network"], r["n"], r["T"]), []).append(res[2])
        else:
            acc.setdefault(("b", r["strategy"], r["source"], r["T"]), []).append(res[1])
    curves = {}
    for key, cs in acc.items():
        L = max(len(c[0]) for c in cs)
        ys = [np.pad(c[1], (0, L - len(c[1])), constant_values=np.nan) for c in cs]
        xs = max(cs, key=lambda c: len(c[0]))[0]
        curves[key] = (xs, np.array(ys))
    summary = summarize(rows)
    files = {"csv": os.path.join(out_dir, "unfolded_study.csv"),
             "runs_csv": os.path.join(out_dir, "unfolded_study_runs.csv"),
             "md": os.path.join(out_dir, "unfolded_study.md")}
    write_csv(summary, files["csv"], SUMMARY_COLUMNS, float_format="{:.6g}")
    write_csv(rows, files["runs_csv"], COLUMNS, float_format="{:.6g}")
    files["unfolded_png"] = plot(summary, curves, p, os.path.join(out_dir, "unfolded_study.png"))
    total = time.perf_counter() - t0
    meta = {"preset": "quick" if quick else "full", "seed": seed, "t": f"{T_STEP}/n", "tol": TOL,
            "workers": workers, "seconds": round(total, 1)}
    vs = verdicts(summary, p)
    md = markdown(summary, meta, vs)
    if quick:
        md = ("> **--quick**: one seed, short budgets: the numbers are noisy and the thresholds "
              "coarse; run without --quick for the study's figures.\n\n" + md)
    return finish(md, files, total, rows, copy_figures_to, summary=summary,
                  thresholds=thresholds(summary), verdicts=vs, quick=quick)


def add_cli(sub):
    """Register ``fxsim unfolded-study`` on the argparse sub-parsers ``sub`` (2 worker processes).

    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="fxsim").add_subparsers(dest="cmd")
    >>> a = add_cli(sub).parse_args(["--quick"]); a.quick, a.out
    (True, 'results/unfolded_study')
    """
    return add_study_parser(
        sub, "unfolded-study", lambda *a, **k: run(*a, **k),     # looked up when called
        help="study: LISTA, ADMM-CSNet and an FFNN under GD (PL*), float64 and fixed point",
        description="Trains K-layer LISTA, ADMM-CSNet and an FFNN with a smooth soft-threshold "
                    "on synthetic sparse recovery by full-batch GD in float64 (loss curves, PL* "
                    "ratio, sample threshold vs width), then LISTA on the datapath (Q(16,12), "
                    "round-to-nearest, SR, SR_ε, signed-SR_ε; LFSR and ideal bits) and the "
                    "held-out recovery error, on 2 worker processes. Writes "
                    "OUT/unfolded_study.csv, OUT/unfolded_study_runs.csv, OUT/unfolded_study.md "
                    "and OUT/unfolded_study.png.",
        out="results/unfolded_study", quick_help="one seed, short budgets (noisy; about a minute)",
        seed_help="root seed of every run")
