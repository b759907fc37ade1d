"""The import graph of ``leuknet``: no cycles, and imports run downwards only (DESIGN.md, "Layers of the code").

Every ``import`` in every ``leuknet/**/*.py`` counts, at module level and inside functions alike (a function-level
import is a deferred cycle, not an absent one). ``from leuknet.x import y`` is an edge to ``leuknet.x`` and, when
``leuknet.x.y`` is a module, to it too. Importing ``leuknet.a.b`` also runs the ``__init__`` of package
``leuknet.a``, so an import adds an edge to each parent package, except the top ``leuknet`` package (which only
imports ``leuknet.errors``) and the packages that enclose the importing module (they are already initialised, or
being initialised, when it runs); an explicit import of a package (``from leuknet.a import b``) always counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "leuknet"
TOP = "leuknet"

CORE = ("leuknet.spec", "leuknet.models", "leuknet.weights", "leuknet.layers", "leuknet.ops", "leuknet.train",
        "leuknet.engine_tf", "leuknet.engine_jax",
        "leuknet.solvers", "leuknet.data", "leuknet.config", "leuknet.metrics", "leuknet.io", "leuknet.errors",
        "leuknet.profiles", "leuknet.precision", "leuknet.colorspace", "leuknet.augment", "leuknet.stats",
        "leuknet.artefacts", "leuknet.tflog", "leuknet.console", "leuknet.figures", "leuknet.locks")
ABOVE_CORE = ("leuknet.matlab", "leuknet.run", "leuknet.study", "leuknet.comparison", "leuknet.bench", "leuknet.report", "leuknet.explain",
              "leuknet.parity", "leuknet.cli")


def module_names(root: Path = ROOT) -> dict[str, tuple[Path, bool]]:
    """{dotted module name: (file, is a package)} for every .py file under ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_pkg)
    return out


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def imports_of(module: str, path: Path, is_pkg: bool, modules) -> list[tuple[str, int]]:
    """[(imported module, line)] for every import in ``path`` of a module of ``modules``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if is_pkg else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.append((target, node.lineno))
            for alias in node.names:
                if f"{target}.{alias.name}" in modules:
                    found.append((f"{target}.{alias.name}", node.lineno))
    edges = []
    own = set(_parents(module))
    for target, line in found:
        if not _within(target, TOP):
            continue
        while target not in modules and "." in target:  # an attribute path: the nearest module that holds it
            target = target.rpartition(".")[0]
        edges.append((target, line))
        edges += [(p, line) for p in _parents(target) if p != TOP and p not in own]
    return edges


def import_graph(root: Path = ROOT) -> dict[str, dict[str, int]]:
    """{module: {imported module: first line}}, self-edges dropped."""
    modules = module_names(root)
    graph = {}
    for name, (path, is_pkg) in modules.items():
        edges = {}
        for target, line in imports_of(name, path, is_pkg, modules):
            if target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def cycles(graph: dict) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted; sorted."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    nodes = set(graph) | {w for ws in graph.values() for w in ws}
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return sorted(out)


def describe(graph: dict, comp: list[str]) -> str:
    """One cycle through the component, with the line of each import: 'a (line 3) -> b (line 7) -> a'."""
    members = set(comp)
    start = comp[0]
    # breadth-first from start back to start inside the component
    prev, frontier, seen = {}, [start], {start}
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph.get(v, ())):
                if w not in members:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    path = path[::-1] + [start]
                    return " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(path, path[1:])) + f" -> {start}"
                if w not in seen:
                    seen.add(w)
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return " <-> ".join(comp)


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_cycle_finder_reports_a_synthetic_cycle():
    g = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3, "d": 4}, "d": {}, "e": {"e": 5}}
    assert cycles(g) == [["a", "b", "c"]]
    assert describe(g, ["a", "b", "c"]) == "a (line 1) -> b (line 2) -> c (line 3) -> a"
    assert cycles({"a": {"b": 1}, "b": {}}) == []


def test_graph_rules_on_a_synthetic_package(tmp_path):
    """Function-level imports count; a parent package's __init__ counts, the top package does not."""
    pkg = tmp_path / "leuknet"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from leuknet.errors import E\n")
    (pkg / "errors.py").write_text("E = 1\n")
    (pkg / "sub" / "__init__.py").write_text("from leuknet.sub import a\n")
    (pkg / "sub" / "a.py").write_text("import leuknet.sub.b  # sibling: own package not an edge\n")
    (pkg / "sub" / "b.py").write_text("X = 1\n")
    (pkg / "low.py").write_text("def f():\n    from leuknet.sub.b import X\n    return X\n")
    (pkg / "mid.py").write_text("from leuknet import low\n")
    g = import_graph(pkg)
    assert g["leuknet.low"] == {"leuknet.sub.b": 2, "leuknet.sub": 2}
    assert g["leuknet.mid"] == {"leuknet": 1, "leuknet.low": 1}
    assert g["leuknet.sub.a"] == {"leuknet.sub.b": 1}
    assert cycles(g) == []
    (pkg / "sub" / "b.py").write_text("def g():\n    import leuknet.low\n")
    g = import_graph(pkg)
    assert cycles(g) == [["leuknet.low", "leuknet.sub", "leuknet.sub.a", "leuknet.sub.b"]]


def test_no_import_cycles(graph):
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(describe(graph, c) for c in found)


def _violations(graph, importers, forbidden):
    return [f"{m} (line {line}) imports {t}" for m, ts in sorted(graph.items()) for t, line in sorted(ts.items())
            if any(_within(m, p) for p in importers) and any(_within(t, f) for f in forbidden)]


def test_only_the_cli_imports_the_cli(graph):
    bad = [f"{m} (line {line})" for m, ts in sorted(graph.items()) for t, line in ts.items()
           if t == "leuknet.cli" and m != "leuknet.cli"]
    assert not bad, "imports of leuknet.cli: " + ", ".join(bad)


def test_the_core_imports_nothing_above_it(graph):
    bad = _violations(graph, CORE, ABOVE_CORE)
    assert not bad, "the core imports the layers above it:\n" + "\n".join(bad)



def test_reading_images_reports_and_training_options_import_no_tensorflow():
    """The backend-neutral parts stay importable where TensorFlow is absent (issue 20: the GPU machines have JAX
    only): image decoding, reports, the trainingOptions core and the statistics."""
    import subprocess
    import sys

    code = ("import sys; import leuknet.data.images, leuknet.report, leuknet.spec.options, leuknet.stats; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "[]", r.stdout
