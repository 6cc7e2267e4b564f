"""Failed logins are throttled on every door, per client address and session, with
``too_many_attempts``; other clients' correct logins are not slowed."""

from __future__ import annotations

import grpc
import pytest
from fastport_proto.v1 import admin_pb2, admin_pb2_grpc, broker_pb2_grpc
from fastport_proto.v1 import broker_pb2 as pb
from websockets.asyncio.client import connect as ws_connect

from fastport.app import App
from fastport.core import ManualClock
from fastport.core.throttle import FREE_FAILURES

from .wire import WsClient

WRONG = "Bearer wrong-token"


def code_of(error: grpc.aio.AioRpcError) -> tuple[grpc.StatusCode, str, str]:
    metadata = dict(error.trailing_metadata() or ())
    return error.code(), metadata["fastport-error-code"], metadata["fastport-error-temporary"]


async def ws_init(port: int, password: str, source: str = "127.0.0.1") -> dict:
    conn = await ws_connect(f"ws://127.0.0.1:{port}/", local_addr=(source, 0), ping_interval=None)
    client = WsClient(conn)
    try:
        await client.send({"type": "init", "sessionName": "s1", "password": password})
        return await client.recv()
    finally:
        await client.close()


async def test_websocket_inits(app: App, session, clock: ManualClock) -> None:
    for _ in range(FREE_FAILURES + 1):
        assert (await ws_init(app.http_port, "guess"))["error"] == "Invalid password"
    throttled = await ws_init(app.http_port, "pw")  # even the right password waits now
    assert (throttled["success"], throttled["code"]) == (False, "too_many_attempts")
    assert throttled["error"].startswith("Too many failed attempts")
    assert (await ws_init(app.http_port, "pw", source="127.0.0.2"))["success"]  # another client
    clock.advance(1000)
    assert (await ws_init(app.http_port, "pw"))["success"]


async def test_grpc_inits_and_unary_publish(app: App, admin, clock: ManualClock) -> None:
    await admin.CreateSession(
        admin_pb2.CreateSessionRequest(name="s", password="pw"), metadata=(("authorization", "Bearer test-admin-token"),)
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
        stub = broker_pb2_grpc.BrokerStub(channel)
        stream = stub.Connect()
        codes = []
        for i in range(FREE_FAILURES + 2):
            await stream.write(pb.ClientFrame(init=pb.Init(request_id=i, session="s", password="guess")))
            while not (frame := await stream.read()).HasField("init_result"):
                pass
            codes.append((frame.init_result.error.code, frame.init_result.error.temporary))
        assert codes == [("invalid_password", False)] * (FREE_FAILURES + 1) + [("too_many_attempts", True)]
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Publish(pb.PublishRequest(session="s", password="pw", publish=pb.Publish(topic="t")))
        assert code_of(info.value) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "too_many_attempts", "true")
        stream.cancel()
        clock.advance(1000)
        result = await stub.Publish(pb.PublishRequest(session="s", password="pw", publish=pb.Publish(topic="t")))
        assert result.message_id


async def test_admin_credentials_on_both_doors(app: App, rest, admin, clock: ManualClock) -> None:
    for _ in range(FREE_FAILURES + 1):
        status, body = await rest.post("/api/createSession", {"sessionName": "x", "password": "pw"}, auth=WRONG)
        assert status == 401 and body["code"] == "unauthenticated"
    status, body = await rest.post("/api/createSession", {"sessionName": "x", "password": "pw"})
    assert status == 429 and body["code"] == "too_many_attempts"
    with pytest.raises(grpc.aio.AioRpcError) as info:  # the same address on the other door
        await admin.ListSessions(admin_pb2.ListSessionsRequest(), metadata=(("authorization", WRONG),))
    assert code_of(info.value) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "too_many_attempts", "true")
    clock.advance(1000)
    listed = await admin.ListSessions(
        admin_pb2.ListSessionsRequest(), metadata=(("authorization", "Bearer test-admin-token"),)
    )
    assert list(listed.sessions) == []


async def test_session_owner_credentials(app: App, rest, session, clock: ManualClock) -> None:
    wrong = {"sessionName": "s1", "password": "pw", "secretKey": "0" * 64}
    for _ in range(FREE_FAILURES + 1):
        status, body = await rest.post("/api/suspendSession", wrong, auth=None)
        assert body["code"] == "invalid_credentials"
    right = {**wrong, "secretKey": session["secretKey"]}
    status, body = await rest.post("/api/suspendSession", right, auth=None)
    assert status == 429 and body["code"] == "too_many_attempts"
    clock.advance(1000)
    status, body = await rest.post("/api/suspendSession", {**right, "suspend": True}, auth=None)
    assert status == 200 and body["suspended"]
