"""The layers of docs/architecture.md, checked on the source: ``resolvers/`` never imports
``schema/`` at all (not at run time, not for type hints, not lazily), and the project's modules
import one another without a cycle.

For cycles only imports that run when a module is loaded count: module-level ``import`` /
``from`` statements, including those under ``try`` or a plain ``if``, but not those under
``if TYPE_CHECKING:`` (type hints only) nor those inside functions or classes' methods
(run when called, after every module is loaded). For ``resolvers/`` every import counts,
wherever it is written, and so does a module named to ``strawberry.lazy``,
``importlib.import_module`` or ``__import__``."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

__all__: list[str] = []

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("backend", "permissions", "audit", "resolvers", "schema", "checks")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        base = ROOT / package
        if not (base / "__init__.py").is_file():
            continue
        for path in sorted(base.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            found[_module_name(path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements run when the module is loaded (not in functions, classes'
    methods or ``if TYPE_CHECKING:`` blocks)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _top_level_imports(node.body)
            yield from _top_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _top_level_imports(block)
            for handler in node.handlers:
                yield from _top_level_imports(handler.body)
        elif isinstance(node, ast.With):
            yield from _top_level_imports(node.body)


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The full names a statement imports (``from a import b`` names ``a`` and ``a.b``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1])
        prefix = f"{base}.{node.module}" if node.module else base
    else:
        prefix = node.module or ""
    return [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]


#: Calls that import the module their first argument names.
_IMPORTING_CALLS = frozenset({"lazy", "import_module", "__import__"})


def _every_import(module: str, path: Path) -> set[str]:
    """Every module ``module`` names for import anywhere in its source: import statements in
    any block (``if TYPE_CHECKING:``, functions, methods) and the module named to an importing
    call (``strawberry.lazy("schema.tip")``, ``importlib.import_module(...)``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update(_imported(module, path, node))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            first = node.args[0]
            if (
                called in _IMPORTING_CALLS
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                names.add(first.value)
    return names


def _is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def _graph() -> dict[str, set[str]]:
    """Each project module to the project modules it imports at load time."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: set[str] = set()
        for node in _top_level_imports(tree.body):
            for name in _imported(module, path, node):
                # ``import a.b.c`` loads a, a.b and a.b.c; a module's own packages are
                # already loading when it runs, so an edge to them is no cycle.
                parts = name.split(".")
                for end in range(1, len(parts) + 1):
                    candidate = ".".join(parts[:end])
                    if candidate in modules and not _is_within(module, candidate):
                        targets.add(candidate)
        graph[module] = targets
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for target in sorted(graph[node]):
            if colour[target] == grey:
                return [*stack[stack.index(target) :], target]
            if colour[target] == white:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        colour[node] = black
        return None

    for node in sorted(graph):
        if colour[node] == white:
            found = visit(node)
            if found:
                return found
    return None


def test_every_project_module_is_read():
    # given / when
    graph = _graph()

    # then: the walk found the layers (a broken walk must not pass the checks below)
    for package in ("backend", "permissions", "audit", "resolvers", "schema"):
        assert any(_is_within(module, package) for module in graph), package
    assert "schema.account" in graph["schema"]


def test_resolvers_never_import_schema_at_run_time():
    # given
    graph = _graph()

    # when
    offending = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if _is_within(module, "resolvers")
        for target in targets
        if _is_within(target, "schema")
    )

    # then
    assert offending == [], "resolvers/ imports schema/ at run time: " + ", ".join(offending)


def test_resolvers_never_import_schema_even_for_type_hints():
    # given every module of resolvers/ and every module it names for import, anywhere
    offending = sorted(
        f"{module} -> {name}"
        for module, path in _modules().items()
        if _is_within(module, "resolvers")
        for name in _every_import(module, path)
        if _is_within(name, "schema")
    )

    # then none is in schema/: resolvers take plain values, and schema/ unpacks its inputs
    assert offending == [], "resolvers/ imports schema/: " + ", ".join(offending)


def test_the_whole_source_check_sees_an_import_under_type_checking(tmp_path):
    # given a module importing schema/ only for type hints and lazily
    path = tmp_path / "example.py"
    path.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from schema.tip import CreateTipInput\n"
        "def f():\n"
        "    return strawberry.lazy('schema.lead')\n",
        encoding="utf-8",
    )

    # when its imports are read
    names = _every_import("resolvers.example", path)

    # then both are found
    assert {"schema.tip", "schema.lead"} <= names


def test_no_import_cycle_among_project_modules():
    # given
    graph = _graph()

    # when
    cycle = _find_cycle(graph)

    # then
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
