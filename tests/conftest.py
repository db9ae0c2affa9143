"""Shared helpers for the oracle tests. Formats are plain (wl, fl, signed) tuples on the
reference side and fxsim.QFormat on the fxsim side; nothing here computes expected values."""
import os
import sys

import numpy as np
import pytest

import fxsim  # a hard import: a broken build fails the run instead of skipping what needs it

TESTS = os.path.dirname(os.path.abspath(__file__))
# the independent oracles, the RTL helpers and the fuzz harness are imported by name
for _sub in ("", "oracles", "rtl", "datapath"):
    if os.path.join(TESTS, _sub).rstrip(os.sep) not in sys.path:
        sys.path.insert(0, os.path.join(TESTS, _sub).rstrip(os.sep))

DATA = os.path.join(os.path.dirname(__file__), "data")


@pytest.fixture(scope="session")
def fx():
    """The fxsim package."""
    return fxsim


def qf(fx, fmt):
    wl, fl, signed = fmt
    return fx.QFormat(wl, fl, bool(signed))


def fixed(fx, raws, fmt):
    """FixedArray from Python-int raws, stored in the container dtype of spec 1."""
    obj = np.array(raws, dtype=object)
    words = np.array([int(x) for x in obj.ravel()], dtype=container(fmt)).reshape(obj.shape)
    return fx.FixedArray(words, qf(fx, fmt))


def container(fmt):
    """numpy dtype spec 1 requires for the raw words."""
    wl, _, signed = fmt
    for bits in (8, 16, 32, 64):
        if wl <= bits:
            return np.dtype(("int" if signed else "uint") + str(bits))
    raise ValueError(wl)


def raws_of(fx_array):
    """Raw words of an fxsim result as a list of Python ints (C order)."""
    return [int(x) for x in np.asarray(fx_array.raw).ravel()]


def sr_kwargs(rounding, r, eps, v, sr_rule, draws):
    """Keyword arguments for a stochastic fxsim call; eps/v only where the mode uses them."""
    kw = dict(r=r, sr_rule=sr_rule, draws=np.asarray(draws, dtype=np.uint64))
    if rounding in ("stochastic_eps", "signed_stochastic_eps"):
        kw["eps"] = eps
    if rounding == "signed_stochastic_eps":
        kw["v"] = v
    return kw


def cli_user_error(argv, capsys, prog):
    """Run ``fxsim.cli.main(argv)`` expecting a user error: exit 2, argparse's usage and one
    ``fxsim PROG: error:`` line, no traceback; returns the message after that prefix."""
    from fxsim.cli import main
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    head = f"fxsim {prog}: error: "
    assert lines[-1].startswith(head), err
    assert sum(ln.startswith("fxsim ") for ln in lines) == 1, err
    assert all(ln.startswith(("usage:", " ")) for ln in lines[:-1]), err
    return lines[-1][len(head):]
