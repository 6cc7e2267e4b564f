"""The Node.js client package (clients/node) passes its own tests, run with Node's test
runner (``node --test``) against a real ``fastport serve`` process started here on free
loopback ports. Its tests also drive the Python client (clients/node/test/peer.py, with
this interpreter) and the plain legacy JSON client, for the cross-language checks.

Node.js 20+ and npm are part of the development and CI machines: when they are missing
this test fails, it does not skip.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ..support import ADMIN_TOKEN, ServerProcess, npm_ci, require_tool

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "node"
TESTS = list((PACKAGE / "test").glob("*.test.js"))
MIN_TESTS = 19  # as many as clients/node/test/ holds today


# Nineteen tests, three server starts and a tsc run: about 25 s on an idle machine,
# several times that on a busy one (the suite's 60 s default is per test).
@pytest.mark.timeout(300)
def test_node_client_package(server_process: ServerProcess) -> None:
    node = require_tool("node", "the Node.js client package needs Node.js 20+")
    npm_ci(PACKAGE)
    server_process.start()
    env = {
        **os.environ,
        "FASTPORT_GRPC": server_process.grpc_address,
        "FASTPORT_WS": f"ws://127.0.0.1:{server_process.ports['http']}",
        "FASTPORT_ADMIN_TOKEN": ADMIN_TOKEN,
        "FASTPORT_PYTHON": sys.executable,
    }
    # Its own process group: node --test runs each file in a child process, and those
    # (with the servers and Python peers they start) must not outlive a timeout.
    proc = subprocess.Popen(
        [node, "--test", "--test-reporter=spec", *sorted(str(p.relative_to(PACKAGE)) for p in TESTS)],
        cwd=PACKAGE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=280)
    finally:
        if proc.poll() is None or proc.returncode != 0:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    assert done.returncode == 0, f"node --test failed:\n{done.stdout}\n{done.stderr}"
    # A run that found no tests also exits 0: every test file must have run.
    counts = dict(re.findall(r"^ℹ (tests|pass|fail) (\d+)$", done.stdout, re.MULTILINE))
    assert int(counts.get("fail", -1)) == 0 and int(counts.get("pass", 0)) >= MIN_TESTS, done.stdout
