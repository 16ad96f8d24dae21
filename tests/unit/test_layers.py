"""The house keeps its shape: imports run one way between rooms and never in a circle.

Walks every module of the ``followup`` package with :mod:`ast` (function-level and
``TYPE_CHECKING`` imports included: a circle hidden from the interpreter is still a
circle for the reader) and checks each edge against the room map in the README
("The house").  Adding a room means adding it to ``ALLOWED``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "followup"

# Modules any room may import; they import nothing from followup but each other.
BASE = {"exceptions", "timeutil", "logfmt"}

# room -> rooms it may import (besides itself and BASE).  A room is a top-level
# module or sub-package of followup; "store.port" and "channels.base" are named where
# only the port may be used.
ALLOWED: Mapping[str, set[str]] = {
    "core": set(),
    "config": {"core"},
    "rendering": {"core", "config"},
    "intake": {"core", "config"},
    "store": {"core"},
    "channels": {"core", "rendering"},
    "engine": {"core", "config", "rendering", "intake", "store.port", "channels.base", "channels.memory"},
    "web": {"core", "config", "rendering", "intake", "engine", "store.port", "channels.base"},
    "checker": {"core", "config", "rendering"},
    "testing": {"core", "store.port", "channels.base", "channels.memory"},
    "wiring": {"core", "config", "rendering", "intake", "store", "channels", "engine", "web"},
    "cli": {
        "core",
        "config",
        "rendering",
        "intake",
        "engine",
        "store.port",
        "channels.base",
        "web",
        "checker",
        "wiring",
    },
    "__main__": {"cli"},
    "__init__": set(),
}

# Third-party and standard modules that do I/O: the pure core imports none of them.
IO_MODULES = {
    "os",
    "pathlib",
    "socket",
    "subprocess",
    "smtplib",
    "sqlite3",
    "http",
    "urllib",
    "requests",
    "httpx",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "fastapi",
    "starlette",
    "uvicorn",
    "twilio",
    "yaml",
    "tomllib",
    "dotenv",
    "pydantic_settings",
    "jinja2",
    "apscheduler",
    "typer",
    "rich",
    "logging",
}


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(["followup", *parts])


def imports_of(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports (absolute names), wherever the import stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                prefix = f"{base}.{node.module}" if node.module else base
            else:
                prefix = node.module or ""
            found.add(prefix)
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return found


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """followup module -> the followup modules it imports (names that are modules only)."""
    paths = {module_name(p, root): p for p in root.rglob("*.py") if "migrations" not in p.parts}
    edges: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        edges[name] = {i for i in imports_of(path, package) if i in paths and i != name}
    return edges


def cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def room_of(module: str) -> str:
    parts = module.split(".")[1:]
    return parts[0] if parts else "__init__"


def allowed(source: str, target: str) -> bool:
    room, target_room = room_of(source), room_of(target)
    if target_room in BASE or target_room == room:
        return room not in BASE or target_room in BASE
    rules = ALLOWED.get(room)
    if rules is None:
        return False
    sub = ".".join(target.split(".")[1:3])
    return target_room in rules or sub in rules


def wrong_edges(edges: Mapping[str, Iterable[str]]) -> list[str]:
    return sorted(f"{a} -> {b}" for a, targets in edges.items() for b in targets if not allowed(a, b))


def test_no_import_circles() -> None:
    assert cycles(graph()) == []


def test_every_edge_runs_the_allowed_way() -> None:
    assert wrong_edges(graph()) == []


def test_every_module_is_in_a_room() -> None:
    rooms = {room_of(m) for m in graph()}
    assert rooms <= set(ALLOWED) | BASE, rooms - set(ALLOWED) - BASE


def test_the_core_does_no_io() -> None:
    offenders = []
    for path in (PACKAGE / "core").rglob("*.py"):
        for name in imports_of(path, "followup.core"):
            if name.split(".")[0] in IO_MODULES:
                offenders.append(f"{module_name(path)} imports {name}")
    assert offenders == []


def test_only_wiring_names_the_concrete_store_and_channels() -> None:
    concrete = {"followup.store.sql", "followup.channels.twilio_sms", "followup.channels.smtp_email"}
    users = {a for a, targets in graph().items() for b in targets if b in concrete}
    assert users <= {"followup.wiring"} | {m for m in users if room_of(m) in ("store", "channels")}, users


# --- the checks themselves catch what they are for -------------------------------------


def test_a_circle_is_found() -> None:
    edges = {
        "followup.a": {"followup.b"},
        "followup.b": {"followup.c"},
        "followup.c": {"followup.a"},
        "followup.d": set(),
    }
    assert cycles(edges) == [["followup.a", "followup.b", "followup.c"]]


def test_a_circle_written_into_a_copy_of_the_package_is_found(tmp_path: Path) -> None:
    copy = tmp_path / "followup"
    for path in PACKAGE.rglob("*.py"):
        target = copy / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    # The web context importing the app again: the circle this layout removed.
    context = copy / "web" / "context.py"
    context.write_text(context.read_text(encoding="utf-8") + "\nfrom followup.web.app import create_app\n")
    assert cycles(graph()) == []
    found = cycles(graph(copy))
    assert any({"followup.web.app", "followup.web.context"} <= set(component) for component in found), found


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("followup.core.rules", "followup.config.settings"),  # the core reading configuration
        ("followup.config.loader", "followup.rendering.templates"),  # config <-> rendering
        ("followup.engine.dispatch", "followup.channels.twilio_sms"),  # the engine knowing a provider
        ("followup.engine.ingest", "followup.store.sql"),  # the engine typed on the concrete store
        ("followup.store.sql", "followup.engine.planning"),  # storage calling up
        ("followup.exceptions", "followup.core.domain"),  # the base importing a room
    ],
)
def test_a_wrong_way_edge_is_refused(source: str, target: str) -> None:
    assert not allowed(source, target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("followup.engine.dispatch", "followup.store.port"),
        ("followup.engine.dispatch", "followup.channels.base"),
        ("followup.rendering.context", "followup.config.settings"),
        ("followup.wiring", "followup.store.sql"),
        ("followup.core.planner", "followup.timeutil"),
    ],
)
def test_a_right_way_edge_is_allowed(source: str, target: str) -> None:
    assert allowed(source, target)
