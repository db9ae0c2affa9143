"""The fused datapath of the unfolded networks (``fxsim.models.unfolded_fused``, issue 14.5):
the K-layer forward pass against a numpy int64 re-implementation written here, and the whole
emulated gradient against the composed fxsim calls (``fused=False``): words, every
CastRecord, and the bit sources' positions, on random weights and several formats and modes."""
import pickle
from types import SimpleNamespace as NS

import numpy as np
import pytest

import fxsim
from fxsim import QFormat
from fxsim.accelerator import Accelerator
from fxsim.models.soft_threshold import g
from fxsim.models.sparse_data import make_sparse_recovery
from fxsim.models._fx import Env
from fxsim.models.unfolded import ADMMCSNet, FFNN, LISTA
from fxsim.optim import GD

LAM, DELTA = 0.1, 0.01


def _model(cls, n=16, T=3, K=3, seed=2):
    return cls(make_sparse_recovery(m=8, n=n, s=2, n_train=T, n_test=5, seed=seed), K=K,
               lam=LAM, delta=DELTA)


def _rne_shift(v, s):
    """v / 2^s rounded to nearest, ties to even (int64 arrays, s > 0)."""
    q, r = v >> s, v & ((1 << s) - 1)
    half = 1 << (s - 1)
    return q + ((r > half) | ((r == half) & (q & 1 == 1)))


def _forward_int64(model, x, fw, fa, wa, fc, wc):
    """LISTA/FFNN forward in numpy int64: exact products at fl fw + fa = fc (the accumulator
    never rounds; checked not to saturate), RN casts into acts, σ by the table + interpolation."""
    lo, hi = -(1 << (wa - 1)), (1 << (wa - 1)) - 1
    w = np.rint(x * 2.0 ** fw).astype(np.int64)
    Y = np.rint(model.data.Y * 2.0 ** fa).astype(np.int64)
    R, j, tfl = 4, 7, 15
    zs = -R + np.arange(2 * R * 2 ** j + 1) * 2.0 ** -j
    table = np.rint(g(zs, LAM, DELTA) * 2 ** tfl).astype(np.int64)
    n, m, shift = model.n, model.m, fa - j
    k, prev, Ps = 0, None, []
    for l in range(model.K):
        terms = []
        if model.kind != "ffnn" or l == 0:
            W1 = w[k:k + n * m].reshape(n, m)
            k += n * m
            terms.append(Y[:, None, :] * W1[None, :, :])           # T × n × m products
        if l > 0:
            W2 = w[k:k + n * n].reshape(n, n)
            k += n * n
            terms.append(prev[:, None, :] * W2[None, :, :])
        acc = 0
        for p in terms:
            part = np.cumsum(p, axis=2)                          # every partial sum of the MAC
            assert np.abs(part).max() < 1 << (wc - 1)            # no saturation in this test
            acc = acc + part[:, :, -1]
        assert np.abs(acc).max() < 1 << (wc - 1)
        P = np.clip(_rne_shift(acc, fc - fa), lo, hi)
        off = np.clip(P + (R << fa), 0, (2 * R << fa) - 1)
        i, f = off >> shift, off & ((1 << shift) - 1)
        num = table[i] * (1 << shift) + (table[i + 1] - table[i]) * f
        G = np.clip(_rne_shift(num, tfl - j), lo, hi)
        prev = np.clip(P - G, lo, hi)
        Ps.append(P)
    return Ps, prev


@pytest.mark.parametrize("cls", [LISTA, FFNN])
def test_fused_forward_equals_int64_reimplementation(cls):
    m = _model(cls, n=16, T=4)
    accel = NS(weights=QFormat(16, 12), acts=QFormat(16, 12), acc=QFormat(32, 24))
    for seed in range(3):
        x = m.x0(np.random.default_rng(seed))
        cache, out = m.fx_forward(x, accel)
        Ps, want = _forward_int64(m, x, 12, 12, 16, 24, 32)
        for (P, _), Pw in zip(cache, Ps):
            np.testing.assert_array_equal(P.raw.astype(np.int64), Pw)
        np.testing.assert_array_equal(out.raw.astype(np.int64), want)


#: (weights, acts, acc, acc/acts rounding, overflow): the accumulator exact (fl 24) or rounding
#: every step (fl 20, and a narrow Q(16,14) that saturates), directed and tie rules, wrap and
#: symmetric saturation
CASES = [
    ("Q(16,12)", "Q(16,12)", "Q(32,24)", "nearest_even", "saturate"),
    ("Q(16,10)", "Q(16,12)", "Q(32,24)", "nearest_even", "saturate"),
    ("Q(16,12)", "Q(16,12)", "Q(32,20)", "floor", "saturate"),
    ("Q(14,12)", "Q(10,8)", "Q(16,14)", "nearest_away", "saturate_symmetric"),
    ("Q(16,12)", "Q(16,12)", "Q(24,18)", "toward_zero", "wrap"),
    ("Q(20,14)", "Q(16,8)", "Q(32,22)", "jam", "saturate"),
    # exact products at the accumulator's fraction, a narrow word: the saturating MAC loop
    ("Q(12,8)", "Q(12,8)", "Q(18,16)", "nearest_even", "saturate"),
    ("Q(12,8)", "Q(12,8)", "Q(18,16)", "nearest_even", "saturate_symmetric"),
]


def _compare(model, make_accel, idx=None, steps=2):
    """fx_grad fused vs composed: words, CastRecords, and the sources' next draws."""
    out = []
    for fused in (True, False):
        accel = make_accel()
        x = model.x0(np.random.default_rng(7))
        model.fx_grad(x, accel, idx, fused=fused)          # the constants' one-off casts
        with fxsim.Counters() as c:
            words = [model.fx_grad(x, accel, idx, fused=fused).raw.copy() for _ in range(steps)]
        src = getattr(accel, "source_for", lambda role: None)("grad")
        nxt = None if src is None else src.draws(4, 16).tolist()
        out.append((words, c.records, nxt))
    (wf, rf, sf), (wc, rc, sc) = out
    for a, b in zip(wf, wc):
        np.testing.assert_array_equal(a, b)
    assert rf == rc and len(rf) > 20
    assert sf == sc
    return rf


@pytest.mark.parametrize("case", CASES, ids=[c[2] + "-" + c[3] + "-" + c[4] for c in CASES])
@pytest.mark.parametrize("cls", [LISTA, FFNN])
def test_fused_grad_equals_composed(cls, case):
    W, A, C, rnd, ovf = case
    m = _model(cls, n=12, T=3)
    recs = _compare(m, lambda: NS(weights=W, acts=A, acc=C, rounding=rnd, overflow=ovf))
    assert m._fused(Env(NS(weights=W, acts=A, acc=C, rounding=rnd,
                                            overflow=ovf))) is not None
    if case[2] in ("Q(32,20)",):
        assert any(r.op == "matmul" and r.inexact for r in recs)       # the acc really rounds
    if case[2] == "Q(16,14)" and cls is LISTA:
        assert any(r.overflowed for r in recs)                         # and saturates
    if case[2] == "Q(18,16)" and cls is LISTA:
        assert any(r.op == "matmul" and r.overflowed for r in recs)    # the MAC saturates


@pytest.mark.parametrize("strategy", ["round-to-nearest", "SR", "signed-SR_ε"])
def test_fused_study_step_equals_composed(strategy):
    """The study's datapath (SR gradient cast from the LFSR): same words, records, draws."""
    from fxsim.studies.unfolded import make_accelerator
    m = _model(LISTA, n=32, T=2)
    _compare(m, lambda: make_accelerator(strategy, "lfsr16", 3).fresh())
    _compare(m, lambda: make_accelerator(strategy, "pcg64", 3).fresh(), idx=np.array([1]))
    m3 = _model(LISTA, n=16, T=5)
    _compare(m3, lambda: make_accelerator(strategy, "lfsr16", 3).fresh(), idx=slice(0, 5, 2))


def test_gd_runs_equal_fused_and_composed():
    """Whole emulated GD runs (SR from PCG64): the same losses and counters either way."""
    F = QFormat(16, 10)
    runs = []
    for fused in (True, False):
        m = _model(LISTA, n=16, T=3)
        a = Accelerator(F, F, acts=QFormat(16, 12), prod=None, acc=QFormat(32, 24),
                        casts={"grad": "stochastic", "update": "stochastic"}, source="pcg64",
                        seed=1)
        if not fused:
            m._plans[(F, QFormat(16, 12), QFormat(32, 24), a.mode("acc"), a.mode("acts"))] = None
        runs.append(GD(m, a, 0.2, mode="emulated", x0=m.x0(1)).run(15))
    np.testing.assert_array_equal(runs[0].loss, runs[1].loss)
    np.testing.assert_array_equal(runs[0].inexact, runs[1].inexact)


def test_where_the_fused_pass_does_not_apply():
    F = QFormat(16, 12)
    # ADMM-CSNet, a stochastic acts cast, overflow="error": the composed calls
    assert ADMMCSNet(_model(LISTA).data, K=2)._fused(Env(NS())) is None
    m = _model(LISTA)
    sr = Accelerator(F, F, acts=F, acc=QFormat(32, 24), casts={"acts": "stochastic"},
                     source="pcg64")
    assert m._fused(Env(sr)) is None
    _compare(m, lambda: Accelerator(F, F, acts=F, acc=QFormat(32, 24),
                                    casts={"acts": "stochastic"}, source="pcg64", seed=4))
    err = NS(weights=F, acts=QFormat(8, 7), acc=QFormat(32, 24), overflow="error")
    assert m._fused(Env(err)) is None
    with pytest.raises(OverflowError):
        m.fx_grad(m.x0(), err)
    # wider than 32 bits
    assert m._fused(Env(NS(weights=F, acts=F, acc=QFormat(48, 24)))) is None


def test_model_pickles_after_a_fused_pass():
    m = _model(LISTA)
    x = m.x0()
    g1 = m.fx_grad(x)
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m2.fx_grad(x).raw, g1.raw)


def test_env_of_keeps_one_env_per_accelerator_state():
    from fxsim.models._fx import Env
    a = Accelerator("Q(16,12)", "Q(16,12)", casts={"grad": "stochastic"}, source="lfsr16")
    e = Env.of(a)
    assert Env.of(a) is e
    assert Env.of(a.fresh()) is not e                         # new sources: a new Env
    assert Env.of(a).kw("grad")["source"] is a.source_for("grad")
    a.acts = QFormat(16, 10)
    assert Env.of(a).acts == QFormat(16, 10)
