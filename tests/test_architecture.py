"""The package's shape, as docs/architecture.md describes it: no import cycle (imports
inside functions included), no private name imported from another package, the
generic methods free of family-specific hooks, and small modules."""

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "keras_iml"


def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}
PACKAGES = {_module_name(p) for p in ROOT.rglob("__init__.py")}


def _imports(name, path):
    """``(target module, imported names, line)`` for every keras_iml import of a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if name in PACKAGES else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("keras_iml"):
                    yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if not base.startswith("keras_iml"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in MODULES:
                    yield sub, [], node.lineno
                else:
                    yield base, [alias.name], node.lineno


def _edges():
    """Module -> modules it imports (a package's ``__init__`` importing its own
    submodules is how it exports them, not a dependency of theirs on it)."""
    graph = {}
    for name, path in MODULES.items():
        targets = set()
        for target, _, _ in _imports(name, path):
            if target == name or (name in PACKAGES and target.startswith(name + ".")):
                continue
            targets.add(target)
        graph[name] = targets
    return graph


def _cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle():
    cycle = _cycle(_edges())
    assert cycle is None, " -> ".join(cycle)


def _top(name):
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_private_name_imported_from_another_package():
    bad = []
    for name, path in MODULES.items():
        for target, names, line in _imports(name, path):
            if target == "keras_iml._checks":  # the package's own shared input checks
                continue
            if _top(target) == _top(name):
                continue
            private_module = any(part.startswith("_") and not part.startswith("__")
                                 for part in target.split(".")[1:])
            private_names = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private_module or private_names:
                bad.append(f"{name}:{line} imports {target} {private_names or ''}")
    assert not bad, "\n".join(bad)


def test_generic_methods_name_no_family_hook():
    """Fast paths of a model family register themselves (keras_iml.engine.fast_paths)."""
    hook = re.compile(r"(?<!\w)iml_\w+")  # e.g. iml_affine_split (not _iml_explained_model)
    offenders = [f"{p.relative_to(ROOT)}: {hook.findall(p.read_text(encoding='utf-8'))}"
                 for p in (ROOT / "methods").glob("*.py") if hook.search(p.read_text(encoding="utf-8"))]
    assert not offenders


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= 420, f"{name} has {lines} lines"
