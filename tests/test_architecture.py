"""The code's shape: no module imports itself back, and imports are declared where they are seen.

The layers themselves (nothing imports upward) are import-linter's contracts in
``pyproject.toml``, which ``make test`` runs first (``lint-imports``). These tests add what a
contract cannot say: that no two modules import each other (through any number of others), and
that no import hides inside a function body, where it would dodge a loop instead of removing it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

from conftest import REPO

LAYERS = ("platform", "tenants", "federation", "admin", "app")


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph(*(f"livc.{layer}" for layer in LAYERS), cache_dir=None)


def _loops(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected groups of modules (Tarjan), each a loop of imports."""
    modules = sorted(graph.modules)
    edges = {module: sorted(graph.find_modules_directly_imported_by(module)) for module in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in edges[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                loops.append(sorted(group))

    for module in modules:
        if module not in index:
            visit(module)
    return loops


def _function_imports(path: Path) -> list[str]:
    found = []

    class Visitor(ast.NodeVisitor):
        depth = 0

        def visit_FunctionDef(self, node) -> None:
            self.depth += 1
            self.generic_visit(node)
            self.depth -= 1

        visit_AsyncFunctionDef = visit_FunctionDef

        def visit_Import(self, node) -> None:
            if self.depth:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")

        visit_ImportFrom = visit_Import

    Visitor().visit(ast.parse(path.read_text()))
    return found


def test_no_module_imports_itself_back_through_others():
    graph = _graph()
    assert len(graph.modules) > 100, "the graph must hold the whole application"
    assert _loops(graph) == []


def test_the_loop_finder_finds_a_loop():
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c", "d"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    graph.add_import(importer="c", imported="a")
    graph.add_import(importer="c", imported="d")
    assert _loops(graph) == [["a", "b", "c"]]


# What the federation may import of a cell's work: the cell blueprint and its guard, the cases'
# events, the narrow reading interfaces and the intake's door for an accepted hand-over.
# pyproject.toml forbids the rest by name; this allow-list also catches a module added to
# tenants/ later.
FEDERATION_READS = {
    "livc.tenants.web", "livc.tenants.access", "livc.tenants.cases.events", "livc.tenants.cases.reading",
    "livc.tenants.members.reading", "livc.tenants.meetings.agenda", "livc.tenants.panels",
    "livc.tenants.signals.intake", "livc.tenants.signals.events",
}


def test_the_federation_reads_a_cell_only_through_its_narrow_interfaces():
    graph = _graph()
    federation = {module for module in graph.modules if module.startswith("livc.federation.")}
    reached = {
        imported
        for module in federation
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith("livc.tenants.")
    }
    assert "livc.tenants.cases.reading" in reached, "the federation reads cases (through the interface)"
    assert reached - {"livc.tenants.cases", "livc.tenants.members", "livc.tenants.meetings"} <= FEDERATION_READS


def test_no_import_hides_inside_a_function_body():
    files = [path for layer in (*LAYERS, "migrations") for path in (REPO / layer).rglob("*.py")]
    assert len(files) > 100
    assert [place for path in sorted(files) for place in _function_imports(path)] == []
