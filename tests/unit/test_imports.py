"""Dependencies point inward (DESIGN.md "Layout"): the core imports no engine, store,
door, network library or database, so any engine can sit behind it and the doors
cannot tell which one does."""

from __future__ import annotations

import ast
from pathlib import Path

import fastport

CORE = Path(fastport.__file__).parent / "core"
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


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved, even under TYPE_CHECKING."""
    package = "fastport.core"
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


def forbidden(name: str) -> bool:
    return any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN)


def test_the_core_imports_no_engine_store_door_or_transport() -> None:
    files = sorted(CORE.glob("*.py"))
    assert files
    found = {f"{path.name}: {name}" for path in files for name in imported(path) if forbidden(name)}
    assert found == set()


def test_the_check_sees_relative_and_absolute_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from ..store.base import Store\nimport sqlite3\nfrom ..engines import embedded\n"
        "from .errors import BrokerError\nimport asyncio\n"
    )
    assert {name for name in imported(module) if forbidden(name)} == {
        "fastport.store.base",
        "fastport.store.base.Store",
        "sqlite3",
        "fastport.engines",
        "fastport.engines.embedded",
    }
