"""Dependencies point inward (DESIGN.md "Layout"): the core imports no engine, store,
door, network library or database, so any engine can sit behind it and the doors
cannot tell which one does; and only app.py (and the engines themselves) name a
concrete engine or store."""

from __future__ import annotations

import ast
from pathlib import Path

import fastport

PACKAGE = Path(fastport.__file__).parent
CORE = PACKAGE / "core"
# Modules the core must not import, with everything under them.
FORBIDDEN = (
    "fastport.store",
    "fastport.engines",
    "fastport.rpc",
    "fastport.web",
    "fastport.app",
    "grpc",
    "aiohttp",
    "sqlite3",
)
# Who may name a concrete engine or store: app.py wires them; an engine may use its own
# parts and the embedded engine its store; nothing else (the doors, the command) may, so
# which engine runs is decided in one place.
MAY_IMPORT = {
    "fastport.engines": ("app.py", "engines/"),
    "fastport.store": ("app.py", "engines/embedded/", "store/"),
}


def package_of(path: Path) -> str:
    """The dotted package ``path`` (a module under fastport/) is in."""
    return ".".join(("fastport", *path.parent.relative_to(PACKAGE).parts))


def imported(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports, relative imports resolved against ``package``,
    even under TYPE_CHECKING."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def under(name: str, modules: tuple[str, ...]) -> bool:
    return any(name == module or name.startswith(module + ".") for module in modules)


def test_the_core_imports_no_engine_store_door_or_transport() -> None:
    files = sorted(CORE.glob("*.py"))
    assert files
    found = {f"{path.name}: {name}" for path in files for name in imported(path, "fastport.core") if under(name, FORBIDDEN)}
    assert found == set()


def test_only_app_and_the_engines_name_an_engine_or_a_store() -> None:
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        for name in imported(path, package_of(path)):
            for module, allowed in MAY_IMPORT.items():
                if under(name, (module,)) and not where.startswith(allowed):
                    found.add(f"{where}: {name}")
    assert found == set()


def test_the_checks_see_relative_and_absolute_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from ..store.base import Store\nimport sqlite3\nfrom ..engines import embedded\n"
        "from .errors import BrokerError\nimport asyncio\n"
    )
    assert {name for name in imported(module, "fastport.core") if under(name, FORBIDDEN)} == {
        "fastport.store.base",
        "fastport.store.base.Store",
        "sqlite3",
        "fastport.engines",
        "fastport.engines.embedded",
    }
    assert {name for name in imported(module, "fastport.web") if under(name, ("fastport.store",))} == {
        "fastport.store.base",
        "fastport.store.base.Store",
    }
