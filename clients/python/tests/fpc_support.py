"""Shared helpers for the client's tests (a plain module: the tests folder is not a
package, so its names cannot collide with the server's ``tests`` package)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
NODE_DIR = REPO / "clients" / "node"
NODE = shutil.which("node")


def node(script: Path, *args: str, timeout: float = 30) -> str:
    """Run a Node.js script and return its stdout (raises CalledProcessError on failure)."""
    if NODE is None:
        pytest.fail("node is not installed; the interop tests need Node.js 20 or newer")
    done = subprocess.run(
        [NODE, "--experimental-websocket", str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return done.stdout
