"""The layout as docs/architecture.md describes it: the packages import in one direction
(data → models → profiling → study → report → cli), and no two modules import each other,
directly or around a circle, when the code runs (an import for type annotations only, under
``TYPE_CHECKING``, is not one)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"
LAYERS = ["data", "models", "profiling", "study", "report", "cli"]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(node: ast.AST) -> Iterator[str]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            continue
        if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
            yield child.module
        elif isinstance(child, ast.Import):
            yield from (alias.name for alias in child.names)
        yield from _runtime_imports(child)


def _import_graph() -> dict[str, set[str]]:
    """Module → the workbench modules it imports when it runs (packages' __init__ left out: they
    re-export, and name their submodules lazily)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        imported = {m for m in _runtime_imports(ast.parse(path.read_text())) if m.startswith("workbench.")}
        graph[_module_name(path)] = {
            m for m in imported if (PACKAGE.parent / m.replace(".", "/")).with_suffix(".py").exists()
        }
    return graph


def _layer(module: str) -> int | None:
    part = module.split(".")[1]
    return LAYERS.index(part) if part in LAYERS else None


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = [
        f"{module} imports {target}"
        for module, targets in _import_graph().items()
        for target in targets
        if (here := _layer(module)) is not None and (there := _layer(target)) is not None and there > here
    ]
    assert not upward, upward


def test_no_modules_import_each_other_around_a_circle() -> None:
    graph = _import_graph()
    circles: list[list[str]] = []
    state: dict[str, str] = {}  # "open" while on the path, "done" after

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not circles, circles


def test_the_graph_sees_imports_inside_functions() -> None:
    """A check that cannot fail is no check: a lazy import inside a function is an edge."""
    tree = ast.parse("def f():\n    from workbench.study.status import status_frame\n")
    assert list(_runtime_imports(tree)) == ["workbench.study.status"]
    tree = ast.parse("if TYPE_CHECKING:\n    from workbench.study.experiment import Experiment\n")
    assert list(_runtime_imports(tree)) == []
