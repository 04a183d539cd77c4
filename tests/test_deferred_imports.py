"""Names imported only under `if TYPE_CHECKING:` are never used at run time.

To keep start-up short, the modules on the way to the prompt import the
records, the events, the history's operations and present.py inside the
functions that use them, and under TYPE_CHECKING for annotations (README,
"Nothing slow is imported before the prompt"). mypy cannot catch a function
that uses such a name with no import of its own (it sees the TYPE_CHECKING
import), and the NameError would only come when that function first runs.
This reads every module's syntax tree and finds those uses.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "chinwag"

Scope = ast.FunctionDef | ast.AsyncFunctionDef


def _imported(nodes: list[ast.stmt]) -> set[str]:
    return {alias.asname or alias.name.split(".")[0]
            for node in nodes if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}


def _module_names(tree: ast.Module) -> set[str]:
    """What the module binds at run time at its top level."""
    names = _imported(tree.body)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _type_checking_only(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            found |= _imported(node.body)
    return found - _module_names(tree)


def _annotation_nodes(tree: ast.Module) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        for field in ("annotation", "returns"):
            annotation = getattr(node, field, None)
            if annotation is not None:
                ids |= {id(n) for n in ast.walk(annotation)}
    return ids


def _local_imports(scope: Scope) -> set[str]:
    return _imported([node for node in ast.walk(scope) if isinstance(node, (ast.Import, ast.ImportFrom))])


def uses_without_import(path: Path, root: Path = SRC) -> list[str]:
    """`file:line: name` for each run-time use of a TYPE_CHECKING-only name with no import in scope."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = _type_checking_only(tree)
    if not names:
        return []
    annotations = _annotation_nodes(tree)
    found: list[str] = []

    def visit(node: ast.AST, scopes: list[Scope]) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scopes + [child] if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else scopes
            if (isinstance(child, ast.Name) and child.id in names and id(child) not in annotations
                    and not any(child.id in _local_imports(scope) for scope in scopes)):
                found.append(f"{path.relative_to(root)}:{child.lineno}: {child.id}")
            visit(child, inner)

    visit(tree, [])
    return found


def test_no_name_imported_only_for_type_checking_is_used_at_run_time() -> None:
    modules = sorted(SRC.rglob("*.py"))
    assert len(modules) > 50
    assert [use for path in modules for use in uses_without_import(path)] == []


def test_the_check_finds_such_a_use(tmp_path: Path) -> None:
    """The check itself: a function that builds a Window it only imported for type checking."""
    module = tmp_path / "probe.py"
    source = ("from __future__ import annotations\nfrom typing import TYPE_CHECKING\n"
              "if TYPE_CHECKING:\n    from chinwag.records import Window\n\n"
              "def ok(w: Window) -> Window:\n    from chinwag.records import Window\n    return Window(1, len)\n\n"
              "def broken(size: int) -> Window:\n    return Window(size, len)\n")
    module.write_text(source, encoding="utf-8")
    assert uses_without_import(module, tmp_path) == ["probe.py:11: Window"]
