"""Docs (issue 7 point 4): every module of the fxsim package runs its doctests, and every public
function/class has a docstring with a runnable example (``>>>``).

Modules: ``fxsim`` and every submodule found by ``pkgutil.walk_packages`` (fxsim.optim,
fxsim.samplers, fxsim.studies, ...), plus ``fxsim.models`` (installed from ``models/``) and its
submodules.  Skipped: ``fxsim.__main__`` (importing it runs the main job) and compiled
extension modules (``_kernels``, ``_sources``, ...: no Python docstrings to edit; their API is
reached through the Python modules).  Public names: ``__all__`` when the module defines it,
else every name not starting with ``_``; only functions and classes defined in that module
count (re-exports are checked where they are defined).  The tour in ``fxsim/__init__.py``'s
docstring is the README's tour, so it runs here too.
"""
import doctest
import importlib
import importlib.machinery
import inspect
import io
import pkgutil

import pytest

import fxsim
import fxsim.models

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _is_extension(mod) -> bool:
    f = getattr(mod, "__file__", "") or ""
    return f.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def _module_names():
    names = ["fxsim"]
    for pkg, prefix in ((fxsim, "fxsim."), (fxsim.models, "fxsim.models.")):
        if pkg is fxsim.models:
            names.append("fxsim.models")
        # a package that fails to import is still listed: its own test then fails, not collection
        for info in pkgutil.walk_packages(pkg.__path__, prefix, onerror=lambda name: None):
            if info.name.endswith("__main__"):
                continue
            names.append(info.name)
    return sorted(dict.fromkeys(names))


MODULES = _module_names()


def _import(name):
    mod = importlib.import_module(name)
    if _is_extension(mod):
        pytest.skip(f"{name} is a compiled extension module")
    return mod


def _public(mod):
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in vars(mod) if not n.startswith("_")]
    out = []
    for n in names:
        obj = getattr(mod, n, None)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and \
                getattr(obj, "__module__", None) == mod.__name__:
            out.append(n)
    return out


def test_walk_finds_the_subpackages():
    for name in ("fxsim.ops", "fxsim.optim.gd", "fxsim.studies.gd_rounding", "fxsim.models.mlp",
                 "fxsim.samplers", "fxsim.studies.amplification", "fxsim.cli"):
        assert name in MODULES
    assert "fxsim.__main__" not in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name):
    mod = _import(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out = io.StringIO()
    for test in finder.find(mod, name):
        runner.run(test, out=out.write)
    res = runner.summarize(verbose=False)
    assert res.failed == 0, out.getvalue()


@pytest.mark.parametrize("name", MODULES)
def test_public_names_have_runnable_examples(name):
    mod = _import(name)
    missing = [n for n in _public(mod) if ">>>" not in (inspect.getdoc(getattr(mod, n)) or "")]
    assert not missing, f"{name}: public functions/classes without a '>>>' example: {missing}"


def test_the_checker_catches_a_missing_example():
    # the rule above must be able to fail: a module-like object with one bare function
    import types
    m = types.ModuleType("fake_mod")

    def f():
        """No example here."""
    f.__module__ = "fake_mod"
    m.f = f
    assert _public(m) == ["f"] and ">>>" not in inspect.getdoc(m.f)
