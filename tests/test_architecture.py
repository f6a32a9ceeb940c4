"""The package's shape, as docs/architecture.md draws it: floors of packages that
import only downward (imports inside functions and modules registered lazily by
name included), no package-level or module-level import cycle, no private name
imported from another package, the generic methods free of family-specific hooks,
and small modules.

The floors are declared here, in ``LAYERS``; the map in docs/architecture.md is
drawn from them (``python tests/test_architecture.py`` rewrites it, and
``test_docs_draw_the_enforced_layers`` fails when it is stale).
"""

import ast
import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "keras_iml"


def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}
PACKAGES = {_module_name(p) for p in ROOT.rglob("__init__.py")}


#: The floors, lowest first: a package or top-level module imports only from its own
#: floor or from floors below it. Each floor: (name, what it holds, its units), a
#: unit being a subpackage or a top-level module of keras_iml.
LAYERS = [
    ("ground", "pure numpy helpers and files: no model, no attribution",
     ["version", "types", "schema", "dna", "stats", "registry", "_checks", "genome", "io",
      "plotting"]),
    ("engine", "one model as a compiled function: targets, backends, traces, seeds, memory",
     ["engine"]),
    ("methods", "attribution methods, and the Attributions they return",
     ["methods", "attributions"]),
    ("explaining", "the one engine object, and the verbs and adapters built on it",
     ["explainer", "trace_cache", "explanations", "adapters"]),
    ("motifs", "motif matrices, databases, discovery and matching (TF-MoDISco, Tomtom)",
     ["motifs"]),
    ("ground truth", "benchmarks built from motifs, and the models that know them",
     ["datasets", "models"]),
    ("metrics", "the tiered metrics, one file each, over a Context", ["metrics"]),
    ("surrogates", "distillation: libraries, surrogates, findings", ["surrogate"]),
    ("rendering", "report files from tables (HTML, figures); knows no validation code",
     ["report"]),
    ("validation", "validate(): arms, evidence, verdicts, the ValidationReport", ["validation"]),
    ("wrapper", "IMLModel and keras_iml.wrap", ["wrapper"]),
    ("zoo", "published models: sources, families, batch validation", ["zoo"]),
    ("test kit", "the common checks of every plugin, public: keras_iml.testing", ["testing"]),
    ("entry points", "the demo and the command line", ["demo", "cli", "__main__"]),
]
FLOOR = {unit: k for k, (_, _, units) in enumerate(LAYERS) for unit in units}
_DYNAMIC = re.compile(r"""(?:register_lazy\([^,]+,|import_module\()\s*["'](keras_iml[\w.]*)["']""")


def _imports(name, path):
    """``(target module, imported names, line)`` for every keras_iml import of a module,
    including ``import_module("keras_iml....")`` and ``register_lazy(name, "keras_iml....")``."""
    text = path.read_text(encoding="utf-8")
    for match in _DYNAMIC.finditer(text):
        yield match.group(1), [], text.count("\n", 0, match.start()) + 1
    tree = ast.parse(text)
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


def _unit_edges():
    """Unit (subpackage or top-level module) -> {unit it imports: [where]}."""
    edges = {}
    for name, path in MODULES.items():
        for target, _, line in _imports(name, path):
            a, b = _top(name), _top(target)
            if a and b and a != b:
                edges.setdefault(a, {}).setdefault(b, []).append(f"{name}:{line}")
    return edges


def test_every_unit_has_a_floor():
    units = {_top(name) for name in MODULES} - {""}
    assert not units - set(FLOOR), f"declare these in LAYERS: {sorted(units - set(FLOOR))}"
    assert not set(FLOOR) - units, f"LAYERS names units that do not exist: {sorted(set(FLOOR) - units)}"


def test_imports_run_only_downward():
    up = [f"{a} (floor {LAYERS[FLOOR[a]][0]}) imports {b} (floor {LAYERS[FLOOR[b]][0]}) at {where[0]}"
          for a, targets in _unit_edges().items() for b, where in targets.items()
          if FLOOR[b] > FLOOR[a]]
    assert not up, "\n".join(up)


def test_no_package_level_cycle():
    graph = {a: set(targets) for a, targets in _unit_edges().items()}
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_the_checks_see_lazy_and_dynamic_imports(tmp_path):
    """The layer checks would catch an upward import hidden in a function or a string."""
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    from keras_iml.cli import main\n"
                    "R.register_lazy('x', 'keras_iml.zoo.catalogue')\n", encoding="utf-8")
    found = {target for target, _, _ in _imports("keras_iml.stats", path)}
    assert {"keras_iml.cli", "keras_iml.zoo.catalogue"} <= found


def render_layers():
    """The map of docs/architecture.md, drawn from ``LAYERS`` (highest floor first)."""
    def label(unit):
        return f"{unit}/" if f"keras_iml.{unit}" in PACKAGES else f"{unit}.py"

    lines = ["```"]
    for name, what, units in reversed(LAYERS):
        lines.append(f"{name:<13} {' · '.join(label(u) for u in units)}")
        lines.append(f"{'':<13}   {what}")
    lines.append("```")
    return "\n".join(lines)


DOCS = ROOT.parent / "docs" / "architecture.md"
BEGIN, END = "<!-- layers: drawn from tests/test_architecture.py -->", "<!-- /layers -->"


def _docs_block(text):
    start, stop = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:stop].strip()


def test_docs_draw_the_enforced_layers():
    assert _docs_block(DOCS.read_text(encoding="utf-8")) == render_layers(), (
        "docs/architecture.md's map is stale: run python tests/test_architecture.py")


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


def test_no_two_modules_share_a_name_unless_parallel():
    """A basename means one idea: two modules share one only as the same idea in
    parallel places (``base.py``: a plugin family's base class; ``cli/<verb>.py``:
    the command of the verb ``<verb>``)."""
    seen = {}
    for name in MODULES:
        leaf = name.rsplit(".", 1)[-1]
        if name in PACKAGES or leaf == "base" or name.startswith("keras_iml.cli."):
            continue
        seen.setdefault(leaf, []).append(name)
    shared = {leaf: names for leaf, names in seen.items() if len(names) > 1}
    assert not shared, shared


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= 420, f"{name} has {lines} lines"


PUBLIC_API = [
    ("keras_iml.wrapper", "wrap"), ("keras_iml.explanations", "explain"),
    ("keras_iml.explanations", "iter_explain"), ("keras_iml.validation.run", "validate"),
    ("keras_iml.surrogate.distill", "distill"), ("keras_iml.explainer", "Explainer.__init__"),
    ("keras_iml.explainer", "Explainer.run"), ("keras_iml.explainer", "Explainer.predict"),
    ("keras_iml.attributions", "Attributions.__init__"), ("keras_iml.attributions", "Attributions.to_npz"),
    ("keras_iml.attributions", "Attributions.from_npz"), ("keras_iml.validation.report", "ValidationReport.to_json"),
    ("keras_iml.validation.report", "ValidationReport.to_html"), ("keras_iml.registry", "Registry.get"),
    ("keras_iml.registry", "Registry.register"),
]


@pytest.mark.parametrize("module, name", PUBLIC_API, ids=[n for _, n in PUBLIC_API])
def test_the_public_api_has_type_hints_that_resolve(module, name):
    import importlib
    import typing

    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    hints = typing.get_type_hints(obj)  # raises if a hint names something undefined
    if not name.endswith("__init__"):
        assert "return" in hints, f"{name} has no return type"
    assert len(hints) > 1 or name.endswith(("from_npz", "to_html", "to_json", "predict")), hints


if __name__ == "__main__":  # rewrite the map in docs/architecture.md
    text = DOCS.read_text(encoding="utf-8")
    start, stop = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOCS.write_text(text[:start] + "\n" + render_layers() + "\n" + text[stop:], encoding="utf-8")
    sys.exit(0)
