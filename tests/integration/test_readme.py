"""The README's quick start, run as written: ``make run`` with settings passed through
``ARGS``, then the "Try it" block in a shell, in the server's working directory."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..support import readme_block

ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"listening (grpc|http)=\S+:(\d+)")


def test_make_run_installs_only_what_the_server_needs() -> None:
    dry = subprocess.run(
        ["make", "-n", "-B", "run", "VENV=/nonexistent/venv"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "pip install" in dry and "fastport serve" in dry
    assert "[dev" not in dry and "bench]" not in dry
    test_dry = subprocess.run(["make", "-n", "-B", "test"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "'.[dev,bench]'" in test_dry


def test_quick_start_runs_as_written(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    # The block activates the checkout's .venv from the directory the server runs in.
    (work / ".venv").symlink_to(sys.prefix)
    args = f"--grpc-port 0 --http-port 0 --data-dir {work / 'data'}"
    # `make run` with the environment the tests run in (made by `make test`), as it is.
    venv = ["-o", f"{sys.prefix}/.installed-run", f"VENV={sys.prefix}"]
    server = subprocess.Popen(
        ["make", "-s", "-C", str(ROOT), *venv, "run", f"ARGS={args}"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    ports: dict[str, int] = {}
    try:
        assert server.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = server.stderr.readline()
            assert line, "make run exited"
            if m := _LISTENING.search(line):
                ports[m.group(1)] = int(m.group(2))
            if "ready" in line:
                break
        env = {**os.environ, "FASTPORT_SERVER": f"127.0.0.1:{ports['grpc']}"}
        env.pop("FASTPORT_ADMIN_TOKEN", None)
        done = subprocess.run(
            ["bash", "-e", "-c", readme_block("Try it")],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 6, done.stdout  # created, 2 messages and 2 publish results in some order, the list
    created = json.loads(lines[0])
    messages = [json.loads(line) for line in lines[1:] if '"topic"' in line]
    assert [(m["topic"], m["data"]) for m in messages] == [("sensors/kitchen", "21.5"), ("sensors/hall", "19.0")]
    (listed,) = json.loads(lines[-1])
    assert listed["sessionName"] == created["session"]["sessionName"] == "demo"
    assert "Subscribed to sensors/+ in session demo" in (work / "sub.log").read_text()
