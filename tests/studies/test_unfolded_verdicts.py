"""The verdicts of ``fxsim unfolded-study`` on a small fixed-seed run, checked against numbers
computed here: a float64 LISTA trained by a numpy forward/backward pass written in this file
(not the model's), its loss curve, fitted rate and held-out error."""
import re

import numpy as np
import pytest

U = pytest.importorskip("fxsim.studies.unfolded")

SMALL = dict(widths=(16,), Ts=(2, 4), seeds=1, epochs=450, fx_width=16, fx_T=2, fx_seeds=1,
             fx_epochs=300, fx_Ts=(2,), fx_T_epochs=300)


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    return U.run(str(tmp_path_factory.mktemp("unfv")), progress=False, workers=1, preset=SMALL)


def _sigma(z, lam, d):
    return z + 0.5 * (np.sqrt((z - lam) ** 2 + d) - np.sqrt((z + lam) ** 2 + d))


def _dsigma(z, lam, d):
    return 1 + 0.5 * ((z - lam) / np.sqrt((z - lam) ** 2 + d) - (z + lam) / np.sqrt((z + lam) ** 2 + d))


def _numpy_lista(w, Y, n, m, K):
    """Per layer (W1, W2 or None) views of the flat weights (W1 of each layer, then its W2)."""
    out, k = [], 0
    for l in range(K):
        W1 = w[k:k + n * m].reshape(n, m)
        k += n * m
        W2 = None
        if l > 0:
            W2 = w[k:k + n * n].reshape(n, n)
            k += n * n
        out.append((W1, W2))
    return out


def _train(Y, X, w, n, m, K, lam, d, t, epochs, Ytest):
    """Full-batch GD of LISTA, backpropagation written out; (losses, held-out estimates)."""
    T = Y.shape[0]
    losses = []

    def forward(w, Y):
        Zs, Xs, prev = [], [], None
        for W1, W2 in _numpy_lista(w, Y, n, m, K):
            Z = Y @ W1.T + (prev @ W2.T if W2 is not None else 0.0)
            prev = _sigma(Z, lam, d)
            Zs.append(Z)
            Xs.append(prev)
        return Zs, Xs

    for _ in range(epochs + 1):
        Zs, Xs = forward(w, Y)
        R = Xs[-1] - X
        losses.append(0.5 * np.sum(R * R) / T)
        grads, dX = [], R / T
        layers = _numpy_lista(w, Y, n, m, K)
        for l in range(K - 1, -1, -1):
            dZ = dX * _dsigma(Zs[l], lam, d)
            W1, W2 = layers[l]
            g = [(dZ.T @ Y).ravel()]
            if W2 is not None:
                g.append((dZ.T @ Xs[l - 1]).ravel())
                dX = dZ @ W2
            grads = g + grads
        w = w - t * np.concatenate(grads)
    return np.array(losses), forward(w, Ytest)[1][-1]


def test_verdicts_against_a_numpy_training_run(res):
    v = {x["claim"]: x for x in res.verdicts}
    n, T = 16, 2
    # the study's float64 LISTA run at (n, T), trained again here by numpy
    ss_data, ss_x = U._seed(0, "data", n, T, 0).spawn(2)
    model = U._model("lista", n, T, int(ss_data.generate_state(1)[0]), 0)
    w0 = model.x0(np.random.default_rng(ss_x))
    d = model.data
    loss, Xhat = _train(d.Y, d.X, w0, n, d.m, U.K, U.LAM, U.DELTA, U.T_STEP / n, SMALL["epochs"],
                        d.Y_test)
    hit = int(np.flatnonzero(loss <= U.TOL)[0])
    k = np.arange(hit // 2, hit + 1)
    slope = np.polyfit(k, np.log(loss[hit // 2:hit + 1]), 1)[0]
    assert slope < 0                                         # linear in log L
    conv = next(x for c, x in v.items() if c.startswith("float64, T = 2"))
    assert conv["held"] is True
    got = int(re.search(r"LISTA n=16: tol at epoch (\d+)", conv["figure"]).group(1))
    assert abs(got - hit) <= 1
    # one seed: the threshold claims are not decided
    assert [x["held"] for c, x in v.items() if "threshold" in c] == [None, None, None]
    # round-to-nearest stalls where float64 keeps falling: its floor is far above numpy's loss
    rn = next(x for c, x in v.items() if "round-to-nearest stops moving" in c)
    assert rn["held"] is True
    floors = [float(f) for f in re.findall(r"RN stops at epoch \d+ at L = ([0-9.e+-]+)", rn["figure"])]
    assert floors and min(floors) > 10 * loss[SMALL["fx_epochs"]]
    # held-out recovery: numpy's float64 weights recover no better than x̂ = 0
    err = np.median(np.linalg.norm(Xhat - d.X_test, axis=1) / np.linalg.norm(d.X_test, axis=1))
    rec = next(x for c, x in v.items() if c.startswith("held-out recovery"))
    assert rec["held"] is bool(err > 1)
    assert float(re.search(r"float64 ([0-9.]+)", rec["figure"]).group(1)) == pytest.approx(err, abs=0.01)


def test_verdicts_are_printed_and_in_the_tables(res, capsys):
    from fxsim.studies._report import print_study
    print_study(res, quick=True)
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("held")
    assert "Caution: --quick" in out
    md = open(res.files["md"]).read()
    assert "## Verdict" in md and "round-to-nearest stops moving" in md
