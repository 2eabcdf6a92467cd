"""The shape of ui/: page rooms over a core, arrows page -> core -> engine only, no circle, imports at the top.

Read from the source with ``ast`` (nothing is imported), so a hidden edge inside a function counts too.
"""
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UI = ROOT / "ui"
CORE = "ui.core"
SCRIPTS = ("app.py", "views")  # the entrypoint and the page scripts st.navigation runs


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module(p): p for p in sorted(UI.rglob("*.py"))}


def _imports(path: Path) -> list[tuple[str, ast.AST, bool]]:
    """(imported module, node, at module level) for every ui import in the file; ``from ui.x import y`` names
    ``ui.x.y`` when that is a module, else ``ui.x``."""
    tree = ast.parse(path.read_text(), str(path))
    top = set(map(id, tree.body))
    known = _modules()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                     for a in node.names]
        else:
            continue
        out += [(name, node, id(node) in top) for name in names if name == "ui" or name.startswith("ui.")]
    return out


def _room(module: str) -> str:
    """The room a ui module is in: "ui.core", or the page package / page module (ui.train, ui.classroom)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _graph() -> dict[str, set[str]]:
    return {name: {m for m, _, _ in _imports(path) if m in _modules() and m != name}
            for name, path in _modules().items()}


def test_core_and_at_least_the_pages_exist():
    rooms = {_room(m) for m in _modules()} - {"ui"}
    assert CORE in rooms
    assert {"ui.build", "ui.convolution", "ui.train", "ui.inspect", "ui.gradients", "ui.classroom"} <= rooms


def test_ui_import_graph_has_no_cycle():
    graph, done, path = _graph(), set(), []

    def visit(node):
        if node in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(node):] + [node]))
        if node in done:
            return
        path.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        path.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)


def test_core_imports_no_page():
    bad = [(m, dep) for m, deps in _graph().items() if _room(m) == CORE for dep in deps if _room(dep) != CORE]
    assert not bad, f"core modules importing page modules: {bad}"


def test_no_page_imports_another_page():
    bad = [(m, dep) for m, deps in _graph().items() if _room(m) not in (CORE, "ui")
           for dep in deps if _room(dep) not in (CORE, _room(m))]
    assert not bad, f"page modules importing another page's modules: {bad}"


def _nested_imports(path: Path) -> list[str]:
    """Imports of any kind inside a function or class body, except a lazy load marked so on its line."""
    tree = ast.parse(path.read_text(), str(path))
    lines = path.read_text().splitlines()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)) and "lazy" not in lines[inner.lineno - 1]:
                    out.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    return out


def test_no_function_level_imports_in_ui_and_page_scripts():
    files = list(UI.rglob("*.py")) + [ROOT / "app.py"] + list((ROOT / SCRIPTS[1]).glob("*.py"))
    bad = sorted({hit for f in files for hit in _nested_imports(f)})
    assert not bad, f"function-level imports (move them to the top): {bad}"


def test_page_scripts_are_thin_and_pages_folder_is_gone():
    scripts = list((ROOT / SCRIPTS[1]).glob("*.py"))
    assert scripts, "the page scripts live in views/"
    assert not (ROOT / "pages").exists(), "a pages/ folder switches Streamlit back to its folder scan"
    long = [(p.name, n) for p in scripts if (n := len(p.read_text().splitlines())) > 70]
    assert not long, f"page scripts over 70 lines: {long}"


def _files() -> list[Path]:
    return sorted(UI.rglob("*.py")) + [ROOT / "app.py"] + sorted((ROOT / "views").glob("*.py"))


def _order(module: str) -> int:
    """Where an import belongs: __future__, standard library, third party, engine, ui.core, the page's own room."""
    top = module.split(".")[0]
    if top == "__future__":
        return 0
    if top in sys.stdlib_module_names:
        return 1
    if top == "engine":
        return 3
    if module == "ui" or module == CORE or module.startswith(CORE + "."):
        return 4
    return 5 if top == "ui" else 2


def test_imports_are_in_order_and_lines_fit():
    """The leading imports go __future__, standard library, third party, engine, ui.core, the room (``import x``
    before ``from x import``, each kind by module name); no line is over 120 characters."""
    for path in _files():
        tree = ast.parse(path.read_text(), str(path))
        nodes = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        keys = [(_order(n.names[0].name if isinstance(n, ast.Import) else n.module or ""),
                 isinstance(n, ast.ImportFrom),
                 (n.names[0].name if isinstance(n, ast.Import) else n.module or "").lower()) for n in nodes]
        assert keys == sorted(keys), f"{path.relative_to(ROOT)}: imports out of order"
        long = [i for i, line in enumerate(path.read_text().splitlines(), 1) if len(line) > 120]
        assert not long, f"{path.relative_to(ROOT)}: lines {long} are over 120 characters"
