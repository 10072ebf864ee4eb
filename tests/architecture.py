"""Import graph of bot/, channels/, actions/ from their source (`ast`): cycles, direction, size.

Run `python -m tests.architecture` for a report; tests/unit/test_architecture.py asserts on it.
Every import counts, including those inside functions (a lazy import is still a dependency),
`importlib.import_module("literal")` calls, and imports under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "channels", "actions")
MAX_LINES = 400

# Adapters: the core (bot/ minus these) never imports them.
ADAPTER_PREFIXES = ("channels", "actions", "bot.console", "bot.rasa_adapters")
# Third-party frameworks only adapters may import at module top level.
FRAMEWORKS = ("rasa", "rasa_sdk")


@dataclass(frozen=True)
class Edge:
    """One import statement: `source` imports `target` (a module of ours or a third-party name)."""

    source: str
    target: str
    line: int
    top_level: bool


@dataclass
class Graph:
    modules: dict[str, Path] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def internal(self) -> dict[str, set[str]]:
        """Module -> modules of ours it imports."""
        out: dict[str, set[str]] = {m: set() for m in self.modules}
        for e in self.edges:
            if e.target in self.modules and e.target != e.source:
                out[e.source].add(e.target)
        return out


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _top_level_nodes(tree: ast.Module) -> set[int]:
    """ids of import nodes executed at import time (module body, also under if/try at top)."""
    found: set[int] = set()

    def visit(nodes: Iterable[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.add(id(node))
            elif isinstance(node, ast.If):
                test = node.test
                name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
                if name != "TYPE_CHECKING":
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(tree.body)
    return found


def _resolve(source: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = source.split(".") if is_package else source.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def build(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> Graph:
    graph = Graph()
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            graph.modules[module_name(path, root)] = path
    for source, path in graph.modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        top = _top_level_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    graph.edges.append(Edge(source, alias.name, node.lineno, id(node) in top))
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(source, path.name == "__init__.py", node)
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    # `from pkg import module` depends on the module, not on the package's __init__
                    name = sub if sub in graph.modules else target
                    graph.edges.append(Edge(source, name, node.lineno, id(node) in top))
            elif isinstance(node, ast.Call) and _is_import_module(node):
                graph.edges.append(Edge(source, node.args[0].value, node.lineno, False))  # type: ignore[attr-defined]
    graph.edges = sorted(set(graph.edges), key=lambda e: (e.source, e.line, e.target))
    return graph


def _is_import_module(node: ast.Call) -> bool:
    """`importlib.import_module("a.b")` / `import_module("a.b")` with a literal name."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return (
        name == "import_module"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


def cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    deps = graph.internal()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))

    def connect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(deps[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(deps):
        if v not in index:
            connect(v)
    return sorted(found)


def _within(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def is_core(module: str) -> bool:
    return module.split(".")[0] == "bot" and not _within(module, ADAPTER_PREFIXES)


def violations(graph: Graph) -> list[str]:
    """Core modules importing an adapter (any import), or Rasa at module top level."""
    found = []
    for e in graph.edges:
        if not is_core(e.source):
            continue
        if _within(e.target, ADAPTER_PREFIXES):
            found.append(f"{e.source}:{e.line} imports adapter {e.target}")
        elif e.top_level and _within(e.target, FRAMEWORKS):
            found.append(f"{e.source}:{e.line} imports {e.target} at top level")
    return found


def line_counts(graph: Graph) -> dict[str, int]:
    return {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in graph.modules.items()}


def too_long(graph: Graph, limit: int = MAX_LINES) -> list[str]:
    return [f"{m}: {n} lines" for m, n in sorted(line_counts(graph).items()) if n > limit]


def report(root: Path = ROOT) -> str:
    graph = build(root)
    found = cycles(graph)
    lines = [f"{len(graph.modules)} modules, {len(graph.edges)} import statements"]
    lines.append(f"cycles: {len(found)}")
    lines += [f"  [{len(c)}] " + " ".join(c) for c in found]
    bad = violations(graph)
    lines.append(f"core -> adapter imports: {len(bad)}")
    lines += [f"  {v}" for v in bad]
    counts = line_counts(graph)
    biggest = max(counts, key=lambda m: counts[m])
    lines.append(f"largest module: {biggest} ({counts[biggest]} lines); over {MAX_LINES}: {len(too_long(graph))}")
    lines += [f"  {v}" for v in too_long(graph)]
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print(report(Path(args[0]).resolve() if args else ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
