"""docs/operations.md's backup command, run as written against a running server: the
copy is a database another server starts on, with what the first had committed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from ..support import ADMIN_TOKEN, ServerProcess

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def _backup_command() -> str:
    text = DOC.read_text()
    section = text[text.index("\n## Backup and restore\n") :]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match
    return match.group(1)


def _fastport(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fastport", *args], capture_output=True, text=True, timeout=30)


def test_backup_of_a_running_server(tmp_path: Path) -> None:
    live = ServerProcess(tmp_path / "data")
    copy = ServerProcess(tmp_path / "restored")
    try:
        live.start()
        admin = ["--server", live.grpc_address, "--admin-token", ADMIN_TOKEN]
        for name in ("one", "two"):
            assert _fastport("session", "create", name, "--password", "pw", *admin).returncode == 0
        done = subprocess.run(["bash", "-e", "-c", _backup_command()], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert live.proc is not None and live.proc.poll() is None  # the server ran on meanwhile
        (backup,) = tmp_path.glob("backup-*.db")
        copy.args = ["--sqlite-path", str(backup)]
        copy.start()
        listed = _fastport("session", "list", "--server", copy.grpc_address, "--admin-token", ADMIN_TOKEN)
        assert [s["sessionName"] for s in json.loads(listed.stdout)] == ["one", "two"]
    finally:
        live.kill()
        copy.kill()
