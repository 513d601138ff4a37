"""The package's layers, read from its imports: core <- MoEE, core <- lab; no module imports itself round a circle.

    layer   modules                                   may import
    core    mote_lib/<module>.py, mote_lib/<package>/     the core
    moee    mote_lib/moee/                            the core, MoEE
    lab     mote_lib/lab/                             the core, MoEE, the lab

Every import counts, also those inside functions (lazy imports run too); only imports under
``if TYPE_CHECKING:`` (annotations, never executed) are left out.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import mote_lib

PACKAGE = Path(mote_lib.__file__).parent
ALLOWED = {"core": {"core"}, "moee": {"core", "moee"}, "lab": {"core", "moee", "lab"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    """``lab`` or ``moee`` for their folders; everything else (core modules and core subpackages) is the core."""
    parts = module.split(".")
    return parts[1] if len(parts) >= 2 and parts[1] in ("lab", "moee") else "core"


def imported_modules(module: str) -> set[str]:
    """The mote_lib modules ``module`` imports anywhere but under ``if TYPE_CHECKING:``."""
    tree = ast.parse(MODULES[module].read_text())
    found: set[str] = set()
    for node in _executed_nodes(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name in MODULES and name != module}


def _executed_nodes(tree: ast.AST):
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _absolute(module: str, node: ast.ImportFrom) -> str:
    assert not node.level, f"{module} line {node.lineno}: a relative import; mote_lib imports absolutely"
    return node.module or ""


GRAPH = {module: imported_modules(module) for module in MODULES}


def test_each_layer_imports_only_the_layers_below_it():
    wrong = [f"{a} ({layer(a)}) imports {b} ({layer(b)})" for a, targets in GRAPH.items() for b in targets
             if layer(b) not in ALLOWED[layer(a)]]
    assert not wrong, "\n".join(wrong)


def test_the_import_graph_has_no_circle():
    # Depth-first search; a module met again while still on the path closes a circle. A package's
    # __init__ importing its own submodules is the package's face, not a circle.
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(GRAPH[module]):
            if module == target.rsplit(".", 1)[0] and MODULES[module].name == "__init__.py":
                continue
            if state.get(target) == "open":
                raise AssertionError("import circle: " + " -> ".join(path[path.index(target):] + [target]))
            if target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in GRAPH:
        if module not in state:
            visit(module, [module])


def test_the_layers_are_folders():
    assert {layer(m) for m in MODULES} == {"core", "lab", "moee"}
    assert layer("mote_lib.model") == "core" and layer("mote_lib.lab.runs") == "lab" and layer("mote_lib.moee") == "moee"


def test_importing_the_core_loads_neither_the_lab_nor_mteb():
    code = ("import sys, mote_lib.model, mote_lib.train, mote_lib.export, mote_lib.similarity; "
            "print(sorted(m for m in sys.modules if m.startswith(('mote_lib.lab', 'mteb'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_benchmarks_use_public_names_only():
    private = []
    for path in sorted((PACKAGE.parent / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mote_lib"):
                private += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert not private, private
