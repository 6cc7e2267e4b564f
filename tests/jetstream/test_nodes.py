"""Two fastport nodes (``--engine jetstream``: both doors, real sockets) on one real
nats-server: a message published on node A over WebSocket reaches subscribers on node
B (gRPC) and node A (WebSocket), ACKs and ``ack_received`` cross nodes, session admin
on one node is seen on the other, /health follows NATS, and a node that cannot reach
NATS at start says so."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import grpc
from fastport_proto.v1 import admin_pb2, admin_pb2_grpc, broker_pb2_grpc
from fastport_proto.v1 import broker_pb2 as pb

from fastport.app import App
from fastport.core import SessionSpec

from ..support import ADMIN_METADATA, Stream, readme_block
from ..web.wire import WsClient
from .nodes import health, recv_type, settled_subscriptions, until_everywhere, ws
from .support import WAIT_S
from .servers import NatsServer, free_port


async def test_publish_on_a_over_websocket_reaches_b_over_grpc_and_a_over_websocket(nodes: list[App]) -> None:
    a, b = nodes
    async with grpc.aio.insecure_channel(f"127.0.0.1:{a.grpc_port}") as admin_channel:
        await admin_pb2_grpc.AdminStub(admin_channel).CreateSession(
            admin_pb2.CreateSessionRequest(name="s", password="pw"), metadata=ADMIN_METADATA
        )
    await until_everywhere(nodes, "s")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{b.grpc_port}") as channel:
        on_b = Stream(broker_pb2_grpc.BrokerStub(channel))
        await on_b.init("s")
        assert [r.error.code for r in await on_b.subscribe("room/+")] == [""]
        on_a = await ws(a.http_port)
        await on_a.send({"type": "subscribe", "topic": "room/#"})
        assert (await recv_type(on_a, "subscribe_response"))["success"] is True
        await settled_subscriptions(nodes, 2)

        pub = await ws(a.http_port)
        await pub.send({"type": "publish", "topic": "room/1", "data": "hello", "messageId": "m1", "timestamp": 5})
        result = await recv_type(pub, "publish_response")
        assert result == {"type": "publish_response", "success": True, "messageId": "m1", "deliveredTo": 2}

        [grpc_message] = await on_b.messages(1)
        assert (grpc_message.topic, grpc_message.message_id, grpc_message.retry) == ("room/1", "m1", 0)
        ws_message = await recv_type(on_a, "message")
        assert (ws_message["topic"], ws_message["data"], ws_message["messageId"]) == ("room/1", "hello", "m1")

        await on_b.send(ack=[pb.Ack(message_id="m1")])
        first = await recv_type(pub, "ack_received")
        assert (first["messageId"], first["remaining"]) == ("m1", 1)
        await on_a.send({"type": "ack", "topic": "room/1", "messageId": "m1"})
        second = await recv_type(pub, "ack_received")
        assert (second["messageId"], second["remaining"]) == ("m1", 0)
        on_b.close()


async def test_session_admin_on_one_node_is_seen_on_the_other(nodes: list[App]) -> None:
    a, b = nodes
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {a.admin_token}"}) as http:
        async with http.post(
            f"http://127.0.0.1:{b.http_port}/api/createSession", json={"sessionName": "s", "password": "pw"}
        ) as resp:
            assert resp.status == 200, await resp.text()
        await until_everywhere(nodes, "s")
        on_a = await ws(a.http_port)
        async with http.post(f"http://127.0.0.1:{b.http_port}/api/suspendSession", json={"sessionName": "s", "suspend": True}) as resp:
            assert resp.status == 200, await resp.text()
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while not (a.broker is not None and a.broker.sessions["s"].suspended):
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
        await on_a.send({"type": "publish", "topic": "t", "data": "x", "messageId": "m1"})
        refused = await recv_type(on_a, "publish_response")
        assert refused["success"] is False and refused["code"] == "session_suspended"
        async with http.post(f"http://127.0.0.1:{b.http_port}/api/dropSession", json={"sessionName": "s"}) as resp:
            assert resp.status == 200, await resp.text()
        code, reason = await on_a.closed(WAIT_S)
        assert code == 4000 and "dropped" in reason.lower()


async def test_health_follows_nats_and_publishes_are_refused_while_it_is_away(
    nodes: list[App], nats_server: NatsServer
) -> None:
    a, _ = nodes
    assert await health(a) == (200, {"status": "ok", "live": True, "ready": True})
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {a.admin_token}"}) as http:
        async with http.get(f"http://127.0.0.1:{a.http_port}/api/admin/stats") as resp:
            assert (await resp.json())["engine"] == "jetstream"
    assert a.broker is not None
    await a.broker.create_session(SessionSpec("s", "pw"))
    pub = await ws(a.http_port)
    nats_server.kill()
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while (await health(a))[0] != 503:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    assert await health(a) == (503, {"status": "unavailable", "live": True, "ready": False})
    await pub.send({"type": "publish", "topic": "t", "data": "x", "messageId": "m1"})
    refused = await recv_type(pub, "publish_response")
    assert refused["success"] is False and refused["code"] == "unavailable" and refused["messageId"] == "m1"


def test_a_node_that_cannot_reach_nats_at_start_says_so(tmp_path: Path) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    proc = subprocess.run(
        [sys.executable, "-m", "fastport", "serve", "--engine", "jetstream", "--nats-url", url,
         "--grpc-port", "0", "--http-port", "0", "--data-dir", str(tmp_path)],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert f"fastport: unavailable: cannot reach NATS at {url}" in proc.stderr


def test_workers_serve_the_same_ports_and_stop_together(nats_server: NatsServer, tmp_path: Path) -> None:
    """``--workers 2``: two node processes bind the same two ports (SO_REUSEPORT; the
    second would fail without it), serve, and end with the command."""
    grpc_port, http_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "fastport", "serve", "--engine", "jetstream", "--nats-url", nats_server.url,
           "--workers", "2", "--grpc-port", str(grpc_port), "--http-port", str(http_port),
           "--data-dir", str(tmp_path), "--admin-token", "t"]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        lines: list[str] = []
        while sum("ready (engine=jetstream)" in line for line in lines) < 2:
            line = proc.stderr.readline()
            assert line, "".join(lines)
            lines.append(line)
        assert sum(f"listening http=127.0.0.1:{http_port}" in line for line in lines) == 2
        assert sum(f"listening grpc=127.0.0.1:{grpc_port}" in line for line in lines) == 2

        async def serve_one_message() -> None:
            async with aiohttp.ClientSession(headers={"Authorization": "Bearer t"}) as http:
                async with http.post(
                    f"http://127.0.0.1:{http_port}/api/createSession", json={"sessionName": "s", "password": "pw"}
                ) as resp:
                    assert resp.status == 200, await resp.text()
            deadline = asyncio.get_running_loop().time() + WAIT_S
            subs: list[WsClient] = []
            while len(subs) < 4:  # connections land on either worker: each must know the session
                try:
                    subs.append(await ws(http_port))
                except AssertionError:
                    assert asyncio.get_running_loop().time() < deadline
                    await asyncio.sleep(0.05)
            for sub in subs:
                await sub.send({"type": "subscribe", "topic": "t"})
                assert (await recv_type(sub, "subscribe_response"))["success"] is True
            pub = await ws(http_port)
            deadline = asyncio.get_running_loop().time() + WAIT_S
            while True:  # until every worker counts every subscription
                await pub.send({"type": "publish", "topic": "t", "data": "x"})
                if (await recv_type(pub, "publish_response"))["deliveredTo"] == 4:
                    break
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.05)
            for sub in subs:
                assert (await recv_type(sub, "message"))["topic"] == "t"

        asyncio.run(serve_one_message())
        proc.terminate()
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_readme_cluster_runs_as_written_but_on_free_ports(nats_binary: str, tmp_path: Path) -> None:
    """The README's two commands (Engines), in a directory of their own, with ports
    added so as not to meet anything else on this machine; then the admin commands
    of "Try it" against it."""
    block = readme_block("Engines: one process, or many nodes on NATS JetStream")
    nats_line, serve_line = [line for line in block.splitlines() if line.strip()]
    assert nats_line.startswith("nats-server ") and nats_line.endswith(" &")
    assert serve_line.startswith("fastport serve ")
    nats_port, grpc_port, http_port = free_port(), free_port(), free_port()
    nats = subprocess.Popen(
        [nats_binary, *nats_line.split()[1:-1], "--port", str(nats_port)],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    extra = ["--nats-url", f"nats://127.0.0.1:{nats_port}", "--grpc-port", str(grpc_port), "--http-port", str(http_port)]
    env = {**os.environ, "FASTPORT_SERVER": f"127.0.0.1:{grpc_port}"}
    serve = subprocess.Popen(
        [sys.executable, "-m", "fastport", *serve_line.split()[1:], *extra],
        cwd=tmp_path, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert serve.stderr is not None
        ready = 0
        while ready < 2:  # both nodes
            line = serve.stderr.readline()
            assert line, "fastport serve exited"
            ready += "ready (engine=jetstream)" in line
        fastport = [sys.executable, "-m", "fastport"]
        run = lambda *args: subprocess.run([*fastport, *args], cwd=tmp_path, env=env, capture_output=True, text=True)  # noqa: E731
        created = run("session", "create", "demo", "--password", "secret")
        assert created.returncode == 0, created.stderr
        for _ in range(4):  # new connections: either node answers, both know the session
            listed = run("session", "list")
            assert listed.returncode == 0 and '"sessionName": "demo"' in listed.stdout, listed.stderr
    finally:
        serve.terminate()
        serve.wait(30)
        nats.terminate()
        nats.wait(10)
