"""The picows relay (issue 16's evaluation of picows beside aiohttp): a real relay
process serves aiohttp's HTTP and picows' WebSocket on one port, the hand-off
decided by the request head. Checks the behaviour only, never speed."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest

pytest.importorskip("picows")
websockets = pytest.importorskip("websockets")

from fastport.bench.servers import ADMIN_TOKEN, Server  # noqa: E402


@pytest.fixture(scope="module")
def relay() -> Iterator[Server]:
    s = Server("picows-relay").start()
    try:
        yield s
    finally:
        s.stop()


def test_http_requests_reach_aiohttp_on_the_websocket_port(relay: Server) -> None:
    base = f"http://{relay.address('ws')}"
    with urllib.request.urlopen(f"{base}/health", timeout=10) as resp:
        assert json.loads(resp.read()) == {"status": "ok", "door": "aiohttp"}
    req = urllib.request.Request(f"{base}/api/echo", data=b'{"a": [1, 2]}', method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:  # a body, which picows alone refuses
        assert json.loads(resp.read()) == {"echo": {"a": [1, 2]}}


async def test_websocket_upgrades_reach_picows_and_relay_messages(relay: Server) -> None:
    url = f"ws://{relay.address('ws')}/"
    async with websockets.connect(url) as pub, websockets.connect(url) as sub:
        await pub.send(json.dumps({"type": "init", "sessionName": "s", "password": "p"}))
        assert json.loads(await pub.recv()) == {"type": "init_response", "success": True, "sessionName": "s"}
        await sub.send(json.dumps({"type": "subscribe", "topic": "t"}))
        assert json.loads(await sub.recv())["type"] == "subscribe_response"
        await pub.send(json.dumps({"type": "publish", "topic": "t", "data": "x", "hash": None, "messageId": "m1"}))
        assert json.loads(await pub.recv()) == {"type": "publish_response", "success": True, "messageId": "m1", "deliveredTo": 1}
        message = json.loads(await sub.recv())
        assert (message["type"], message["topic"], message["data"], message["messageId"]) == ("message", "t", "x", "m1")


def test_the_bench_measures_the_picows_relay_without_loss(relay: Server) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "fastport", "bench", "--json", "--quiet", "--door", "ws", "--server", relay.address("ws"),
            "--admin-token", ADMIN_TOKEN, "--session", "bench", "--password", "bench",
            "--duration", "0.5", "--warmup", "0.2", "--subs", "2",
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout)["results"]
    assert r["acked"] > 0 and r["expected_deliveries"] == 2 * r["acked"]
    assert r["lost"] == 0 and r["duplicates"] == 0 and r["errors"] == []
