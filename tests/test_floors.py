"""The house's floors (README "How it is built"): every import in bridge/ goes down a floor or
stays on its own, and no two modules import each other round a circle. Every import counts:
at the top of a file, inside a function, under TYPE_CHECKING."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

BRIDGE = Path(__file__).resolve().parents[1] / "bridge"

# Bottom to top. A room is a first-level module or folder of bridge/.
FLOORS: list[tuple[str, set[str]]] = [
    ("base", {"__init__", "errors", "money", "redact", "files", "settings_base", "netloc", "models", "synthetic"}),
    ("inputs", {"sources", "match", "emulator", "identity"}),
    ("seam", {"actions", "market", "cost", "ledger"}),
    ("panels", {"panels"}),
    ("config", {"config"}),
    ("decide", {"rules", "closing", "safety", "pictures", "pay_time"}),
    ("outputs", {"workbook", "responses"}),
    ("close-out", {"closeout"}),
    ("apply", {"apply"}),
    ("entry points", {"analysis", "serve", "cli", "__main__"}),
]
# Imports allowed to run up a floor, with why (at most two).
UPWARD: dict[tuple[str, str], str] = {}


def _modules() -> dict[str, Path]:
    out = {}
    for path in BRIDGE.rglob("*.py"):
        parts = ("bridge", *path.relative_to(BRIDGE).with_suffix("").parts)
        name = ".".join(parts[:-1]) if parts[-1] == "__init__" and len(parts) > 2 else ".".join(parts)
        out[name] = path
    return out


def _imports() -> dict[str, dict[str, str]]:
    """module -> {imported bridge module: where}."""
    mods = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, dict[str, str]] = defaultdict(dict)
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            else:
                continue
            for target in targets:
                found = resolve(target)
                if found and found.startswith("bridge") and found != mod and not found.startswith(mod + "."):
                    edges[mod].setdefault(found, f"{path.relative_to(BRIDGE.parent)}:{node.lineno}")
                    break
    return edges


def _room(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _floor(room: str) -> int:
    for i, (_, rooms) in enumerate(FLOORS):
        if room in rooms:
            return i
    raise AssertionError(f"bridge/{room} is on no floor: add it to FLOORS in tests/test_floors.py and the README")


def test_every_room_is_on_a_floor():
    for mod in _modules():
        _floor(_room(mod))


def test_imports_run_down_the_floors():
    up = []
    for mod, targets in _imports().items():
        for target, where in targets.items():
            a, b = _room(mod), _room(target)
            if _floor(b) > _floor(a) and (a, b) not in UPWARD:
                up.append(f"{where}: {mod} -> {target} ({FLOORS[_floor(a)][0]} -> {FLOORS[_floor(b)][0]})")
    assert not up, "imports running up a floor:\n" + "\n".join(up)
    assert len(UPWARD) <= 2


@pytest.mark.parametrize("scale", ["files", "rooms"])
def test_no_import_circles(scale):
    edges: dict[str, set[str]] = defaultdict(set)
    for mod, targets in _imports().items():
        for target in targets:
            a, b = (mod, target) if scale == "files" else (_room(mod), _room(target))
            if a != b:
                edges[a].add(b)
    # Tarjan's strongly connected components: any with more than one member is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
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
                circles.append(sorted(comp))

    for v in list(edges):
        if v not in index:
            visit(v)
    assert not circles, f"import circles ({scale}): {circles}"


def test_no_module_over_500_lines():
    long = {str(p.relative_to(BRIDGE.parent)): n for p in BRIDGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert not long, f"modules over 500 lines: {long}"
