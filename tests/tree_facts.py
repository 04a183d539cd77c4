"""The tree's facts: modules and lines per package, import cycles, upward arrows.

    python -m tests.tree_facts            the working tree's src/
    python -m tests.tree_facts REV        src/ at a git revision (e.g. 2258ca5, main)

For issue 20's note ("the tree before and after"); the standard library only.
Arrows are `import`/`from` statements between chinwag modules, found with ast:
"import-time" ones are at module level (outside functions and outside
`if TYPE_CHECKING:`), "lazy" ones are inside functions. A cycle is a strongly
connected component of more than one module. An upward arrow goes from a lower
layer to a higher one (LAYERS below; a package's modules share its layer).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from io import BytesIO
from pathlib import Path

LAYERS = [  # lowest first
    ("core", {"chinwag", "chinwag.errors", "chinwag.events", "chinwag.records", "chinwag.paths"}),
    ("leaves", {"chinwag.render", "chinwag.context", "chinwag.conversation", "chinwag.config_schema",
                "chinwag.interrupts", "chinwag.present", "chinwag.schema_spec", "chinwag.structured"}),
    ("services", {"chinwag.providers", "chinwag.history", "chinwag.tools", "chinwag.attach", "chinwag.config",
                  "chinwag.templates", "chinwag.budget", "chinwag.prices", "chinwag.spend",
                  # flat storage modules before issue 20
                  "chinwag.store", "chinwag.store_schema", "chinwag.store_blobs", "chinwag.store_blocks",
                  "chinwag.store_check", "chinwag.recorder", "chinwag.save_queue", "chinwag.writers",
                  "chinwag.attachments"}),
    ("engine", {"chinwag.session_costs", "chinwag.session_tree", "chinwag.turn", "chinwag.session_turn", "chinwag.session", "chinwag.driver", "chinwag.toolloop",
                "chinwag.sinks", "chinwag.history_blocks", "chinwag.history_format"}),
    ("views", {"chinwag.api", "chinwag.cli", "chinwag.web", "chinwag.__main__", "chinwag.history_cli",
               "chinwag.completion"}),
]


FILE_LAYER = {}  # a module whose meaning changed with the tree: chinwag/history.py was the CLI's commands


def layer(mod):
    if mod in FILE_LAYER:
        return FILE_LAYER[mod]
    parts = mod.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        for n, (name, members) in enumerate(LAYERS):
            if prefix in members:
                return n
    return None


def modules(src):
    out = {}
    for path in sorted((src / "chinwag").rglob("*.py")):
        rel = path.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def arrows(mods):
    edges = {"import-time": defaultdict(set), "lazy": defaultdict(set)}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text())
        is_pkg = path.name == "__init__.py"

        def visit(node, kind):
            for child in ast.iter_child_nodes(node):
                k = kind
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    k = "lazy"
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    continue  # types only
                if isinstance(child, ast.Import):
                    for a in child.names:
                        add(a.name, k)
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        pkg = mod.split(".") if is_pkg else mod.split(".")[:-1]
                        pkg = pkg[: len(pkg) - child.level + 1]
                        base = ".".join(pkg + ([base] if base else []))
                    for a in child.names:
                        full = f"{base}.{a.name}"
                        add(full if full in mods else base, k)
                visit(child, k)

        def add(target, kind):
            while target and target not in mods:
                target = target.rpartition(".")[0]
            if target and target != mod:
                edges[kind][mod].add(target)

        visit(tree, "import-time")
    return edges


def sccs(graph, nodes):
    """Tarjan's strongly connected components of more than one module."""
    index, low, stack, on, out, i = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def strong(v):
        index[v] = low[v] = i[0]
        i[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in nodes:
        if v not in index:
            strong(v)
    return out


def main(src):
    src = Path(src)
    mods = modules(src)
    if mods.get("chinwag.history", Path()).name == "history.py":
        FILE_LAYER["chinwag.history"] = 4
    per = defaultdict(lambda: [0, 0, 0])
    for mod, path in mods.items():
        parts = mod.split(".")
        pkg = ".".join(parts[:2]) if (len(parts) > 2 or path.name == "__init__.py") and len(parts) > 1 else "chinwag (top level)"
        lines = len(path.read_text().splitlines())
        per[pkg][0] += 1
        per[pkg][1] += lines
        per[pkg][2] = max(per[pkg][2], lines)
    total = sum(len(p.read_text().splitlines()) for p in mods.values())
    print(f"{len(mods)} modules, {total} lines")
    print(f"{'package':28} {'modules':>7} {'lines':>6} {'largest':>7}")
    for pkg, (n, lines, big) in sorted(per.items()):
        print(f"{pkg:28} {n:7} {lines:6} {big:7}")
    over = sorted(((len(p.read_text().splitlines()), m) for m, p in mods.items()), reverse=True)
    print("modules over 400 lines:", ", ".join(f"{m} {n}" for n, m in over if n > 400) or "none")
    edges = arrows(mods)
    both = defaultdict(set)
    for kind in edges.values():
        for a, bs in kind.items():
            both[a] |= bs
    for name, graph in (("import-time", edges["import-time"]), ("all (import-time + lazy)", both)):
        cycles = sccs(graph, list(mods))
        print(f"cycles, {name}: {len(cycles)}")
        for c in cycles:
            print("  ", " <-> ".join(c))
    for name, graph in (("import-time", edges["import-time"]), ("lazy", edges["lazy"])):
        ups = sorted((a, b) for a, bs in graph.items() for b in bs
                     if layer(a) is not None and layer(b) is not None and layer(b) > layer(a))
        print(f"upward arrows, {name}: {len(ups)}")
        for a, b in ups:
            print(f"   {a} ({LAYERS[layer(a)][0]}) -> {b} ({LAYERS[layer(b)][0]})")
    unplaced = sorted(m for m in mods if layer(m) is None)
    if unplaced:
        print("modules in no layer:", ", ".join(unplaced))


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    if len(sys.argv) < 2:
        main(root / "src")
    else:
        archive = subprocess.run(["git", "archive", sys.argv[1], "src"], cwd=root, capture_output=True, check=True)
        with tempfile.TemporaryDirectory() as folder:
            tarfile.open(fileobj=BytesIO(archive.stdout)).extractall(folder, filter="data")
            main(Path(folder) / "src")
