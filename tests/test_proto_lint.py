"""The contract in protos/ passes ``buf lint`` (protos/buf.yaml: the standard rules,
every element commented, the deployed names kept).

buf is pinned in protos/package-lock.json (the npm package @bufbuild/buf-linux-x64
ships the binary; see protos/package.json for why that one); it is part of the
development and CI machines, so a missing one fails, never skips.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .support import npm_ci, require_tool

PROTOS = Path(__file__).resolve().parents[1] / "protos"


def test_buf_lint_passes() -> None:
    require_tool("node", "buf lint runs the buf binary from the npm package @bufbuild/buf")
    npm_ci(PROTOS)
    buf = PROTOS / "node_modules" / "@bufbuild" / "buf-linux-x64" / "bin" / "buf"
    done = subprocess.run([str(buf), "lint"], cwd=PROTOS, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"buf lint failed:\n{done.stdout}{done.stderr}"
