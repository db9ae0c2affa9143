"""Fixtures shared by the MAC array tests."""
import pytest

from fxsim import _mac


@pytest.fixture
def spy(monkeypatch):
    """The arguments of every ``_mac.mac_round`` call (a module may define its own ``spy``)."""
    calls = []
    real = _mac.mac_round

    def wrapper(*args):
        calls.append(args)
        return real(*args)
    monkeypatch.setattr(_mac, "mac_round", wrapper)
    return calls
