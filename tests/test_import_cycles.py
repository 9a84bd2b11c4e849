"""No import cycles among the modules of cnnc and cnnc_runtime, read statically with `ast`.

An edge A -> B is an import of B by A. At load time (module level, `if TYPE_CHECKING:` blocks
included: a type that needs its user's module is a circle in the design too) neither package has
a cycle. cnnc has none even through imports inside functions (which `cnnc compile` uses to stay
free of NumPy); the runtime still has two such (jit.set_threads -> blas, and winograd_transforms
reading G from winograd), harmless at load time. Importing a module does not count as importing
its parent package's __init__.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = {"cnnc": ROOT / "cnnc", "cnnc_runtime": ROOT / "runtime"}


def modules() -> dict[str, Path]:
    """Module name -> file, for every module of our packages."""
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = (package, *path.relative_to(folder).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_statements(tree: ast.Module, lazy: bool) -> list[ast.Import | ast.ImportFrom]:
    """The module's import statements; those inside functions only when `lazy`."""
    found = []
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif lazy or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return found


def import_graph(lazy: bool = False) -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in import_statements(ast.parse(path.read_text(), str(path)), lazy):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                # `from a import b` imports the module a.b where there is one, else a's name b
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                           for a in node.names]
            graph[name] |= {t for t in targets if t in known and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None; depth-first, in sorted order (a stable report)."""
    state: dict[str, str] = {}  # "open" while on the path, "done" once fully explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for succ in sorted(graph[node]):
            if state.get(succ) == "open":
                return path[path.index(succ):] + [succ]
            if succ not in state and (cycle := visit(succ)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_finder_sees_a_cycle_and_the_graph_sees_our_imports():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    graph = import_graph()
    assert "cnnc.ir.keys" in graph["cnnc.passes.params"]      # from cnnc.ir import keys
    assert "cnnc.compiler" in graph["cnnc"]                    # the package's __init__
    assert "cnnc_runtime.plan" in graph["cnnc_runtime.executor"]
    assert "cnnc.build" not in graph["cnnc"]                   # imported inside a function
    assert "cnnc.build" in import_graph(lazy=True)["cnnc"]
    assert "cnnc.report.table" in graph["cnnc.report.html"]   # from cnnc.report.table import ..


def test_no_import_cycles_at_load_time():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_import_cycles_in_cnnc_even_through_imports_in_functions():
    graph = {m: {t for t in targets if t.split(".")[0] == "cnnc"}
             for m, targets in import_graph(lazy=True).items() if m.split(".")[0] == "cnnc"}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
