"""A real Node.js client (tests/node/legacy_client.js: the ``ws`` package and Node's
``crypto``, written like the deployed clients) against the in-process server.

Node and npm are part of the development and CI machines: when they are missing this
test fails, it does not skip. ``npm ci`` installs the locked ``ws`` when
``node_modules`` is missing or older than the lock file (``.ci/run`` may do it first).
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest

from fastport.app import App

from ..support import ADMIN_PASS, ADMIN_USER, npm_ci, require_tool

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


@pytest.fixture(scope="module")
def node() -> str:
    node = require_tool("node", "the Node.js client test needs Node.js 18+")
    npm_ci(NODE_DIR)
    return node


@pytest.mark.parametrize("variant", ["plain", "subprotocol", "fractional"])
async def test_node_ws_client_round_trip(app: App, node: str, variant: str) -> None:
    """``subprotocol``: the client asks for ['json', 'chat'] (ws refuses a connection
    whose subprotocol is not answered); ``fractional``: its timestamps have a fraction."""
    proc = await asyncio.create_subprocess_exec(
        node,
        str(NODE_DIR / "legacy_client.js"),
        f"http://127.0.0.1:{app.http_port}",
        ADMIN_USER,
        ADMIN_PASS,
        variant,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, stderr.decode()
    summary = json.loads(stdout)
    assert summary["ok"] is True and summary["variant"] == variant
    assert summary["protocol"] == ("json" if variant == "subprotocol" else "")
    if variant == "fractional":
        assert not float(summary["timestamp"]).is_integer()
    assert summary["received"] == math.trunc(summary["timestamp"])
    assert json.loads(summary["decrypted"]) == {"value": 21.5, "unit": "°C", "note": "héllo 👋"}
    assert summary["ack"] == {
        "type": "ack_received",
        "messageId": summary["messageId"],
        "topic": "sensors/t1",
        "remaining": 0,
    }
    info = app.broker.get_session(summary["sessionName"])
    assert info.pending_messages == 0
