"""Known-answer tests (tests/data/cast.csv, a copy of shared/data/kat/cast.csv).

Every row is checked against the reference (which validates the oracle) and against
fxsim.cast, both one row at a time and vectorized per (format, rounding, overflow).
"""
import csv
import os
from collections import defaultdict

import numpy as np
import pytest

from conftest import DATA, container, qf, raws_of, sr_kwargs
from reference import STOCHASTIC, ref_cast


def _load_cast_rows():
    with open(os.path.join(DATA, "cast.csv")) as f:
        lines = [ln for ln in f if not ln.startswith("#")]
    rows = []
    for i, d in enumerate(csv.DictReader(lines)):
        row = dict(
            line=i, xhex=d["x"], x=float.fromhex(d["x"]), wl=int(d["wl"]), fl=int(d["fl"]),
            signed=d["signed"] == "1", rounding=d["rounding"], overflow=d["overflow"],
            raw=int(d["raw"]),
        )
        if d["r"]:
            row.update(r=int(d["r"]), R=int(d["R"]), eps=float(d["eps"]), v=float(d["v"]),
                       sr_rule=d["sr_rule"] or "trunc")
        rows.append(row)
    return rows


ROWS = _load_cast_rows()
GROUPS = defaultdict(list)
for _row in ROWS:
    GROUPS[(_row["wl"], _row["fl"], _row["signed"], _row["rounding"], _row["overflow"])].append(_row)
GROUP_KEYS = sorted(GROUPS, key=str)


def _gid(key):
    wl, fl, s, rnd, ovf = key
    return f"{'s' if s else 'u'}{wl}.{fl}-{rnd}-{ovf}"


def _ref(row):
    kw = {}
    if row["rounding"] in STOCHASTIC:
        kw = dict(R=row["R"], r=row["r"], eps=row["eps"], v=row["v"], sr_rule=row["sr_rule"])
    return ref_cast(row["x"], row["wl"], row["fl"], row["signed"], row["rounding"],
                    row["overflow"], **kw)


def test_kat_file_is_complete():
    assert len(ROWS) == 5544
    assert {r["rounding"] for r in ROWS} == {
        "floor", "ceil", "toward_zero", "away_from_zero", "nearest_up", "nearest_down",
        "nearest_zero", "nearest_away", "nearest_even", "nearest_odd", "jam",
        "stochastic", "stochastic_eps", "signed_stochastic_eps"}


@pytest.mark.parametrize("key", GROUP_KEYS, ids=_gid)
def test_reference_matches_kat(key):
    bad = [(r["xhex"], r.get("R"), r["raw"], _ref(r)) for r in GROUPS[key] if _ref(r) != r["raw"]]
    assert not bad, f"reference disagrees with KAT (x, R, expected, got): {bad[:10]}"


def _fx_cast_row(fx, row, vector):
    """fxsim.cast of one row: a Python float (0-d result) or a 1-element array."""
    fmt = qf(fx, (row["wl"], row["fl"], row["signed"]))
    x = np.array([row["x"]]) if vector else row["x"]
    kw = {}
    if row["rounding"] in STOCHASTIC:
        v = np.array([row["v"]]) if vector else np.array(row["v"])
        kw = sr_kwargs(row["rounding"], row["r"], row["eps"], v, row["sr_rule"], [row["R"]])
    return fx.cast(x, fmt, row["rounding"], row["overflow"], **kw)


@pytest.mark.parametrize("key", GROUP_KEYS, ids=_gid)
def test_fxsim_matches_kat_rowwise(fx, key):
    bad = []
    for row in GROUPS[key]:
        for vector in (False, True):
            res = _fx_cast_row(fx, row, vector)
            got = raws_of(res)
            if got != [row["raw"]]:
                bad.append((row["xhex"], row.get("r"), row.get("R"), row.get("eps"),
                            row.get("v"), row.get("sr_rule"), vector, row["raw"], got))
            assert res.raw.dtype == container((row["wl"], row["fl"], row["signed"]))
    assert not bad, ("fxsim.cast disagrees with KAT "
                     f"(x, r, R, eps, v, sr_rule, vector, expected, got): {bad[:10]}")


DET_KEYS = [k for k in GROUP_KEYS if k[3] not in STOCHASTIC]


@pytest.mark.parametrize("key", DET_KEYS, ids=_gid)
def test_fxsim_matches_kat_vectorized(fx, key):
    rows = GROUPS[key]
    wl, fl, signed, rnd, ovf = key
    x = np.array([r["x"] for r in rows], dtype=np.float64)
    res = fx.cast(x, qf(fx, (wl, fl, signed)), rnd, ovf)
    got = raws_of(res)
    want = [r["raw"] for r in rows]
    bad = [(r["xhex"], w, g) for r, w, g in zip(rows, want, got) if w != g]
    assert not bad, f"(x, expected, got): {bad[:10]}"
    # 2-D input in C order gives the same words
    if len(rows) % 2 == 0:
        res2 = fx.cast(x.reshape(2, -1), qf(fx, (wl, fl, signed)), rnd, ovf)
        assert res2.shape == (2, len(rows) // 2)
        assert raws_of(res2) == want


STOCH_GROUPS = defaultdict(list)
for _row in ROWS:
    if _row["rounding"] in STOCHASTIC:
        STOCH_GROUPS[(_row["wl"], _row["fl"], _row["signed"], _row["rounding"], _row["overflow"],
                      _row["r"], _row["eps"], _row["sr_rule"])].append(_row)


@pytest.mark.parametrize("key", sorted(STOCH_GROUPS, key=str), ids=str)
def test_fxsim_matches_kat_stochastic_vectorized(fx, key):
    """Rows sharing r, eps, sr_rule: one call, draws consumed one per element in C order."""
    rows = STOCH_GROUPS[key]
    wl, fl, signed, rnd, ovf, r, eps, rule = key
    x = np.array([row["x"] for row in rows])
    v = np.array([row["v"] for row in rows])
    kw = sr_kwargs(rnd, r, eps, v, rule, [row["R"] for row in rows])
    got = raws_of(fx.cast(x, qf(fx, (wl, fl, signed)), rnd, ovf, **kw))
    assert got == [row["raw"] for row in rows]


def test_lfsr_kat_file_present():
    """lfsr_draws.csv is kept for the source tests (spec 5.1); check it is intact."""
    with open(os.path.join(DATA, "lfsr_draws.csv")) as f:
        lines = [ln for ln in f if not ln.startswith("#")]
    rows = list(csv.DictReader(lines))
    assert len(rows) == 1800
    assert set(rows[0]) == {"n", "taps", "form", "draw", "r", "seed", "i", "R"}


def _lfsr_groups():
    with open(os.path.join(DATA, "lfsr_draws.csv")) as f:
        lines = [ln for ln in f if not ln.startswith("#")]
    groups = defaultdict(list)
    for d in csv.DictReader(lines):
        key = (int(d["n"]), tuple(int(t) for t in d["taps"].split()), d["form"], d["draw"],
               int(d["r"]), int(d["seed"], 16))
        groups[key].append((int(d["i"]), int(d["R"], 16)))
    return groups


LFSR_GROUPS = _lfsr_groups()


@pytest.mark.parametrize("key", sorted(LFSR_GROUPS), ids=lambda k: f"n{k[0]}-{k[2]}-{k[3]}-r{k[4]}")
def test_reference_lfsr_matches_kat(key):
    """The reference LFSR of spec 5.1 reproduces lfsr_draws.csv (for the source tests)."""
    from reference import ref_lfsr_draws
    rows = sorted(LFSR_GROUPS[key])
    assert [i for i, _ in rows] == list(range(len(rows)))
    n, taps, form, draw, r, seed = key
    assert ref_lfsr_draws(n, taps, form, draw, r, seed, len(rows)) == [R for _, R in rows]
