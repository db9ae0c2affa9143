"""The package's import graph (issue 12, point 6): no import cycle between fxsim's modules, and
no module imports another module's private (``_name``) names.

Every module of ``fxsim`` (and of ``fxsim.models``, installed from ``models/``) is parsed with
``ast``; every import counts, relative or absolute, at module level or inside a function (a
function-level import is a cycle that only waits for its first call)."""
import ast
import importlib
import importlib.util
import os
import pkgutil

import pytest

fxsim = pytest.importorskip("fxsim")

#: compiled extension modules that are private to the package by design: their names are the
#: kernels the Python modules wrap, so importing ``fxsim._kernels`` (or a name from it) is allowed
PRIVATE_EXTENSIONS = ("fxsim._kernels", "fxsim._mac", "fxsim._sources", "fxsim._samplers", "fxsim._memory",
                      "fxsim._vendor", "fxsim._floats")
#: (importer, "module:name") pairs still allowed (none: keep it that way)
KNOWN_PRIVATE_IMPORTS: set = set()
#: import cycles still allowed: FixedArray's operators (``a + b``) call ``fxsim.ops``, which
#: builds FixedArrays; fixed.py imports ops inside the operator methods (a method-level cycle by
#: design, outside the studies' scope)
KNOWN_CYCLES = [{"fxsim.fixed", "fxsim.ops"}]


def _modules() -> dict:
    """name -> source file of every pure-Python module of fxsim and fxsim.models."""
    import fxsim.models
    names = ["fxsim", "fxsim.models"]
    for pkg in (fxsim, fxsim.models):
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
    out = {}
    for name in names:
        origin = importlib.util.find_spec(name).origin
        if origin and origin.endswith(".py"):
            out[name] = origin
    return out


MODULES = _modules()
ALL = set(MODULES) | set(PRIVATE_EXTENSIONS)


def _is_package(name):
    return os.path.basename(MODULES.get(name, "")) == "__init__.py"


def _absolute(importer, module, level):
    """The absolute name of ``from <level dots><module> import ...`` inside ``importer``."""
    if not level:
        return module
    base = importer if _is_package(importer) else importer.rpartition(".")[0]
    for _ in range(level - 1):
        base = base.rpartition(".")[0]
    return f"{base}.{module}" if module else base


def imports_of(name) -> list:
    """[(imported module, imported name or None)] of module ``name``, fxsim modules only."""
    with open(MODULES[name], encoding="utf-8") as fh:
        tree = ast.parse(fh.read(), MODULES[name])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names if a.name.split(".")[0] == "fxsim"]
        elif isinstance(node, ast.ImportFrom):
            mod = _absolute(name, node.module, node.level)
            if mod.split(".")[0] != "fxsim":
                continue
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.append((sub, None) if sub in ALL else (mod, a.name))
    return out


def graph() -> dict:
    return {m: sorted({dst for dst, _ in imports_of(m) if dst in ALL and dst != m}) for m in MODULES}


def find_cycle(g):
    """A list of modules m0 -> m1 -> ... -> m0, or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in g.get(m, ()):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state:
                c = visit(n)
                if c:
                    return c
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(g):
        if m not in state:
            c = visit(m)
            if c:
                return c
    return None


def cycles(g) -> list:
    """Every strongly connected component of more than one module (Tarjan), each as a cycle
    through it (``find_cycle`` on the component)."""
    index, low, on, stack, out = {}, {}, set(), [], []

    def strong(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(g):
        if v not in index:
            strong(v)
    return [(c, find_cycle({m: [n for n in g[m] if n in c] for m in c})) for c in out]


def private_imports() -> list:
    """["importer: module:name"] for every ``_name`` imported from another fxsim module."""
    bad = []
    for m in sorted(MODULES):
        for mod, nm in imports_of(m):
            last = mod.rsplit(".", 1)[-1]
            if nm is None:                  # a module: private if its own name is
                private = last.startswith("_") and not last.startswith("__") and \
                    mod not in PRIVATE_EXTENSIONS and mod.rpartition(".")[0] != m.rpartition(".")[0] \
                    and not m.startswith(mod.rpartition(".")[0] + ".")
                what = mod
            else:
                private = nm.startswith("_") and not nm.startswith("__") and mod not in PRIVATE_EXTENSIONS
                what = f"{mod}:{nm}"
            if private and (m, what) not in KNOWN_PRIVATE_IMPORTS:
                bad.append(f"{m}: {what}")
    return bad


def test_walks_every_module():
    assert {"fxsim.cli", "fxsim.studies._report", "fxsim.studies.compare_rng",
            "fxsim.models", "fxsim.optim.gd"} <= set(MODULES)


def test_finds_a_cycle():
    """The checker itself: a two-module cycle and a function-level import are found."""
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": []}) is None
    assert cycles({"a": ["b"], "b": ["a", "c"], "c": ["d"], "d": ["c"], "e": ["a"]}) == \
        [({"c", "d"}, ["c", "d", "c"]), ({"a", "b"}, ["a", "b", "a"])]
    assert _absolute("fxsim.studies.x", "cli", 2) == "fxsim.cli"
    assert _absolute("fxsim.studies", "_report", 1) == "fxsim.studies._report"


def test_no_import_cycle():
    found = [cyc for comp, cyc in cycles(graph()) if comp not in KNOWN_CYCLES]
    assert found == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_known_cycles_still_exist():
    """An allowed cycle that is gone must leave the list (so that it cannot come back)."""
    comps = [comp for comp, _ in cycles(graph())]
    assert all(k in comps for k in KNOWN_CYCLES)


def test_the_cli_is_imported_by_no_module():
    g = graph()
    users = [m for m in MODULES if "fxsim.cli" in g[m] and m != "fxsim.__main__"]
    assert users == []


def test_no_private_names_across_modules():
    bad = private_imports()
    assert bad == [], "private names imported from another module:\n" + "\n".join(bad)


def test_every_package_is_installed():
    """pyproject's explicit package list names every package of fxsim (a wheel would miss one
    that it does not list, e.g. a study split into a subpackage)."""
    import tomllib
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "pyproject.toml"), "rb") as fh:
        listed = set(tomllib.load(fh)["tool"]["setuptools"]["packages"])
    packages = {m for m in MODULES if _is_package(m)}
    assert packages <= listed, sorted(packages - listed)
