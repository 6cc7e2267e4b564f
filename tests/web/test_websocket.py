"""Conformance of the JSON WebSocket protocol (shared/protocol/legacy-json.md §1–§4),
driven with a plain WebSocket client and raw JSON. Replies are compared as exact text:
key order and compactness are part of the contract."""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
import pytest
from fastport_proto.v1 import admin_pb2

from fastport.app import App
from fastport.web import codec

from ..support import ADMIN_METADATA, make_settings
from .wire import BASIC, compact, connect

NOW = 1_700_000_000_000  # the manual clock's start


def text(obj: object) -> str:
    return compact(obj)


# ---------------------------------------------------------------------- init


async def test_init_success_on_any_path(app: App, ws, session) -> None:
    for path in ("/", "/ws", "/any/path?x=1", "/api/whatever"):
        client = await ws(path)
        await client.send({"type": "init", "sessionName": "s1", "password": "pw"})
        assert await client.recv_text() == '{"type":"init_response","success":true,"sessionName":"s1"}'


@pytest.mark.parametrize("offered", [["json"], ["json", "chat"], ["v2.legacy", "json"]])
async def test_first_offered_subprotocol_is_selected(app: App, session, offered) -> None:
    """§1: browsers and the Node ws package refuse a connection whose requested
    subprotocol is not answered; the old server selected the first one offered."""
    client = await connect(app.http_port, "/", subprotocols=offered)
    try:
        assert client.conn.subprotocol == offered[0]
        await client.init("s1", "pw")
    finally:
        await client.close()


async def test_no_subprotocol_offered_none_selected(app: App) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"http://127.0.0.1:{app.http_port}/") as conn:
            assert conn.protocol is None


@pytest.mark.parametrize(
    "frame, expected",
    [
        ({"sessionName": "nope", "password": "pw"}, '"error":"Session not found","code":"session_not_found"'),
        ({"sessionName": "s1", "password": "bad"}, '"error":"Invalid password","code":"invalid_password"'),
        ({"sessionName": "s1"}, '"error":"Invalid password","code":"invalid_password"'),
        ({"sessionName": "s1", "password": ""}, '"error":"Invalid password","code":"invalid_password"'),
        ({"password": "pw"}, '"error":"Session not found","code":"session_not_found"'),
        ({"sessionName": "s1", "password": None}, '"error":"Invalid password","code":"invalid_password"'),
    ],
)
async def test_init_refused(ws, session, frame, expected) -> None:
    client = await ws()
    await client.send({"type": "init", **frame})
    assert await client.recv_text() == '{"type":"init_response","success":false,' + expected + "}"


async def test_failed_init_leaves_the_socket_open_for_a_retry(ws, session) -> None:
    client = await ws()
    await client.send({"type": "init", "sessionName": "s1", "password": "wrong"})
    assert (await client.recv())["success"] is False
    await client.init("s1", "pw")


async def test_init_into_a_suspended_session(ws, session, rest) -> None:
    status, _ = await rest.post("/api/suspendSession", {"sessionName": "s1", "suspend": True})
    assert status == 200
    client = await ws()
    await client.send({"type": "init", "sessionName": "s1", "password": "pw"})
    assert await client.recv_text() == text(
        {"type": "init_response", "success": False, "error": "Session is suspended", "code": "session_suspended"}
    )


@pytest.mark.parametrize("field, value", [("sessionName", 5), ("password", ["pw"]), ("clientId", True)])
async def test_init_wrong_field_type(ws, session, field, value) -> None:
    """Every init gets an init_response (§9), also one with a wrong-typed field."""
    client = await ws()
    frame = {"type": "init", "sessionName": "s1", "password": "pw", field: value}
    await client.send(frame)
    assert await client.recv_text() == text(
        {"type": "init_response", "success": False, "error": f"Invalid field: {field}", "code": "invalid_field"}
    )


async def test_init_with_user_id_and_client_id(app: App, ws, session) -> None:
    client = await ws()
    await client.init("s1", "pw", userId="u1", clientId="device-1")
    [conn] = app.broker.sessions["s1"].connections
    assert conn.user_id == "u1"
    assert conn.subscriber.id == "device-1"


async def test_reinit_into_another_session_drops_old_subscriptions(app: App, ws, rest, session, joined) -> None:
    await rest.create_session("s2", "pw2")
    client = await joined("t")
    await client.init("s2", "pw2")
    assert app.broker.get_session("s1").subscriptions == 0
    publisher = await joined()
    await publisher.send({"type": "publish", "topic": "t", "data": "x", "messageId": "m1"})
    assert (await publisher.recv())["deliveredTo"] == 0
    assert await client.silent()


# ---------------------------------------------------------------------- subscribe / unsubscribe


async def test_subscribe_and_unsubscribe(joined) -> None:
    client = await joined()
    for topic in ("a/b", "a/+", "a/#", "#"):
        await client.send({"type": "subscribe", "topic": topic})
        assert await client.recv_text() == text({"type": "subscribe_response", "success": True, "topic": topic})
    await client.send({"type": "unsubscribe", "topic": "a/b"})
    assert await client.recv_text() == '{"type":"unsubscribe_response","success":true,"topic":"a/b"}'
    # answered even when the socket was not subscribed
    await client.send({"type": "unsubscribe", "topic": "never/subscribed"})
    assert await client.recv_text() == '{"type":"unsubscribe_response","success":true,"topic":"never/subscribed"}'


@pytest.mark.parametrize("kind", ["subscribe", "unsubscribe", "publish", "init_file", "end_file"])
async def test_not_initialized(ws, kind) -> None:
    client = await ws()
    await client.send({"type": kind, "topic": "t", "data": "x", "fileId": "f" * 36})
    assert await client.recv_text() == '{"error":"Not initialized","code":"not_initialized"}'


async def test_not_initialized_comes_before_field_checks(ws) -> None:
    client = await ws()
    await client.send({"type": "subscribe", "topic": 5})
    assert await client.recv_text() == '{"error":"Not initialized","code":"not_initialized"}'


@pytest.mark.parametrize("kind", ["subscribe", "unsubscribe"])
@pytest.mark.parametrize("topic", ["a/#/b", "a+", "", "x\u0000y", "é" * 513])
async def test_invalid_topic_is_refused(joined, kind, topic) -> None:
    client = await joined()
    await client.send({"type": kind, "topic": topic})
    reply = await client.recv_text()
    assert reply.startswith(text({"type": f"{kind}_response", "success": False, "topic": topic})[:-1] + ',"error":')
    assert reply.endswith(',"code":"invalid_topic"}')


async def test_subscribe_without_topic(joined) -> None:
    client = await joined()
    await client.send({"type": "subscribe"})
    assert await client.recv_text() == text(
        {
            "type": "subscribe_response",
            "success": False,
            "error": "Topic must be a non-empty string",
            "code": "invalid_topic",
        }
    )


@pytest.mark.parametrize("frame, field", [({"topic": 5}, "topic"), ({"topic": "t", "persistent": "yes"}, "persistent")])
async def test_subscribe_wrong_field_type(joined, frame, field) -> None:
    client = await joined()
    await client.send({"type": "subscribe", **frame})
    assert await client.recv_text() == text({"error": f"Invalid field: {field}", "code": "invalid_field"})


async def test_subscribe_refused_in_a_suspended_session(joined, rest) -> None:
    client = await joined()
    await rest.post("/api/suspendSession", {"sessionName": "s1", "suspend": True})
    await client.send({"type": "subscribe", "topic": "t"})
    assert await client.recv_text() == text(
        {
            "type": "subscribe_response",
            "success": False,
            "topic": "t",
            "error": "Session is suspended",
            "code": "session_suspended",
        }
    )


async def test_persistent_subscription_needs_a_client_id(joined) -> None:
    client = await joined()
    await client.send({"type": "subscribe", "topic": "t", "persistent": True})
    reply = await client.recv()
    assert reply["success"] is False and reply["code"] == "invalid_field"


async def test_persistent_subscriber_gets_what_it_missed(ws, joined, session) -> None:
    sub = await ws()
    await sub.init("s1", "pw", clientId="dev-1")
    await sub.send({"type": "subscribe", "topic": "t", "persistent": True})
    assert (await sub.recv())["success"] is True
    await sub.close()
    publisher = await joined()
    await publisher.send({"type": "publish", "topic": "t", "data": "while away", "messageId": "m1"})
    assert (await publisher.recv())["deliveredTo"] == 1
    back = await ws()
    await back.init("s1", "pw", clientId="dev-1")
    message = await back.recv()
    assert message["type"] == "message" and message["data"] == "while away"


async def test_unsubscribed_socket_gets_nothing(joined) -> None:
    sub = await joined("t")
    await sub.send({"type": "unsubscribe", "topic": "t"})
    await sub.recv()
    publisher = await joined()
    await publisher.send({"type": "publish", "topic": "t", "data": "x", "messageId": "m1"})
    assert await publisher.recv_text() == '{"type":"publish_response","success":true,"messageId":"m1","deliveredTo":0}'
    assert await sub.silent()


# ---------------------------------------------------------------------- publish / message / ack


async def test_publish_and_message_exact_frames(joined) -> None:
    sub = await joined("sensors/#")
    publisher = await joined("sensors/#")  # its own socket is skipped
    await publisher.send(
        {"type": "publish", "topic": "sensors/t1", "data": "abc", "hash": "h1", "timestamp": 1234, "messageId": "m1"}
    )
    assert await publisher.recv_text() == '{"type":"publish_response","success":true,"messageId":"m1","deliveredTo":1}'
    assert await sub.recv_text() == (
        '{"type":"message","topic":"sensors/t1","data":"abc","hash":"h1","timestamp":1234,"messageId":"m1"}'
    )
    assert await publisher.silent()


async def test_publish_defaults(joined) -> None:
    """No hash: no hash key. No timestamp: the server's clock. No messageId: one is made."""
    sub = await joined("t")
    publisher = await joined()
    await publisher.send({"type": "publish", "topic": "t", "data": "x"})
    reply = await publisher.recv()
    assert reply["success"] is True and re.fullmatch(r"[0-9a-f]{32}", reply["messageId"])
    assert await sub.recv_text() == text(
        {"type": "message", "topic": "t", "data": "x", "timestamp": NOW, "messageId": reply["messageId"]}
    )


@pytest.mark.parametrize(
    "data",
    [{"value": 25.5, "unit": "°C"}, [1, "two", None], 42, -1.5, True, None, "", "héllo 👋 \"quoted\" \\ \n\t\u0001"],
    ids=["object", "array", "int", "float", "bool", "null", "empty", "unicode"],
)
async def test_any_json_data_is_relayed_as_is(joined, data) -> None:
    sub = await joined("t")
    publisher = await joined()
    await publisher.send({"type": "publish", "topic": "t", "data": data, "messageId": "m1"})
    assert (await publisher.recv())["success"] is True
    raw = await sub.recv_text()
    assert json.loads(raw)["data"] == data
    assert raw == text({"type": "message", "topic": "t", "data": data, "timestamp": NOW, "messageId": "m1"})


async def test_duplicate_message_id_is_not_delivered_again(joined) -> None:
    sub = await joined("t")
    publisher = await joined()
    frame = {"type": "publish", "topic": "t", "data": "x", "messageId": "dup"}
    await publisher.send(frame)
    assert await publisher.recv_text() == '{"type":"publish_response","success":true,"messageId":"dup","deliveredTo":1}'
    await sub.recv()
    await publisher.send(frame)
    assert await publisher.recv_text() == '{"type":"publish_response","success":true,"messageId":"dup","deliveredTo":1}'
    assert await sub.silent()
    # also after it was ACKed and settled
    await sub.send({"type": "ack", "topic": "t", "messageId": "dup"})
    await publisher.recv()  # ack_received
    await publisher.send(frame)
    assert await publisher.recv_text() == '{"type":"publish_response","success":true,"messageId":"dup","deliveredTo":1}'
    assert await sub.silent()


@pytest.mark.parametrize("topic", ["a/+", "a/#", "", "é" * 513])
async def test_publish_to_an_invalid_topic(joined, topic) -> None:
    publisher = await joined()
    await publisher.send({"type": "publish", "topic": topic, "data": "x", "messageId": "m1"})
    reply = await publisher.recv_text()
    assert reply.startswith('{"type":"publish_response","success":false,"messageId":"m1","error":"')
    assert reply.endswith('","code":"invalid_topic"}')


async def test_a_topic_of_1024_utf8_bytes_is_accepted(joined) -> None:
    topic = "é" * 512  # 512 characters, 1024 bytes: the limit counts bytes
    sub = await joined(topic)
    publisher = await joined()
    await publisher.send({"type": "publish", "topic": topic, "data": "x", "messageId": "m1"})
    assert await publisher.recv_text() == '{"type":"publish_response","success":true,"messageId":"m1","deliveredTo":1}'
    assert (await sub.recv())["topic"] == topic


async def test_publish_in_a_suspended_session_and_resume(joined, rest, session) -> None:
    sub = await joined("t")
    publisher = await joined()
    await rest.post("/api/suspendSession", {"sessionName": "s1", "suspend": True})
    await publisher.send({"type": "publish", "topic": "t", "data": "x", "messageId": "m1"})
    assert await publisher.recv_text() == text(
        {
            "type": "publish_response",
            "success": False,
            "messageId": "m1",
            "error": "Session suspended or invalid",
            "code": "session_suspended",
        }
    )
    assert await sub.silent()
    await rest.post("/api/resumeSession", {"sessionName": "s1"})
    await publisher.send({"type": "publish", "topic": "t", "data": "x", "messageId": "m2"})
    assert (await publisher.recv())["deliveredTo"] == 1
    assert (await sub.recv())["messageId"] == "m2"


@pytest.mark.parametrize(
    "frame, field",
    [
        ({"topic": 1, "data": "x"}, "topic"),
        ({"topic": "t", "data": "x", "hash": 1}, "hash"),
        ({"topic": "t", "data": "x", "timestamp": "now"}, "timestamp"),
        ({"topic": "t", "data": "x", "timestamp": -5}, "timestamp"),
        ({"topic": "t", "data": "x", "timestamp": 2**63}, "timestamp"),
    ],
)
async def test_publish_wrong_field(joined, frame, field) -> None:
    """A refused publish is a publish_response the client can match (§9)."""
    publisher = await joined()
    await publisher.send({"type": "publish", **frame, "messageId": "m1"})
    assert await publisher.recv_text() == text(
        {
            "type": "publish_response",
            "success": False,
            "messageId": "m1",
            "error": f"Invalid field: {field}",
            "code": "invalid_field",
        }
    )


@pytest.mark.parametrize("depth", [254, 255, 300, 1023])
async def test_deeply_nested_data_is_relayed(joined, depth) -> None:
    """Issue #10: data nested deeper than orjson writes (254 levels) but within what it
    reads (1024, the frame's object included) went out as an internal error with a
    traceback."""
    sub = await joined("t")
    publisher = await joined()
    data = "[" * (depth - 1) + '{"k":"v"}' + "]" * (depth - 1)
    await publisher.send_raw('{"type":"publish","topic":"t","data":%s,"timestamp":5,"messageId":"m1"}' % data)
    assert await publisher.recv_text() == '{"type":"publish_response","success":true,"messageId":"m1","deliveredTo":1}'
    assert await sub.recv_text() == '{"type":"message","topic":"t","data":%s,"timestamp":5,"messageId":"m1"}' % data


async def test_slow_paths_only_for_frames_up_to_their_limit(joined) -> None:
    """Lone surrogates and data nested past 254 levels take a slower path, for frames
    up to LENIENT_MAX_BYTES only: no frame may hold the event loop for long."""
    publisher = await joined()
    pad = "x" * codec.LENIENT_MAX_BYTES
    await publisher.send_raw('{"type":"publish","topic":"t","data":"\\ud800","pad":"%s","messageId":"m1"}' % pad)
    assert await publisher.recv_text() == '{"error":"Invalid frame","code":"invalid_frame"}'
    deep = "[" * 300 + "]" * 300
    await publisher.send_raw('{"type":"publish","topic":"t","data":%s,"pad":"%s","messageId":"m1"}' % (deep, pad))
    assert await publisher.recv_text() == text(
        {
            "type": "publish_response",
            "success": False,
            "messageId": "m1",
            "error": "Invalid field: data",
            "code": "invalid_field",
        }
    )


async def test_data_nested_beyond_what_json_parsers_read_is_an_invalid_frame(joined) -> None:
    publisher = await joined()
    data = "[" * 1025 + "]" * 1025
    await publisher.send_raw('{"type":"publish","topic":"t","data":%s,"messageId":"m1"}' % data)
    assert await publisher.recv_text() == '{"error":"Invalid frame","code":"invalid_frame"}'


@pytest.mark.parametrize("initialized", [False, True])
@pytest.mark.parametrize(
    "raw", [b'{"type":"publish","topic":"t","data":"\xff"}', b"\xc3(", b'{"type":"init"}\xed\xa0\x80'],
    ids=["in-a-string", "alone", "encoded-surrogate"],
)
async def test_invalid_utf8_in_a_text_frame_closes_with_1007(ws, session, initialized, raw) -> None:
    """Issue #10: RFC 6455 §8.1 — a text frame that is not UTF-8 fails the connection
    with 1007 (it was answered with invalid_frame)."""
    client = await ws()
    if initialized:
        await client.init("s1", "pw")
    await client.conn.send(raw, text=True)
    code, _ = await client.closed()
    assert code == 1007


async def test_invalid_utf8_in_a_binary_frame_is_dropped(joined) -> None:
    client = await joined()
    await client.send_raw(b'{"type":"subscribe","topic":"\xff"}')
    assert await client.silent()
    await client.send({"type": "subscribe", "topic": "still/open"})
    assert (await client.recv())["success"] is True


async def test_ack_settles_only_the_acking_subscriber(app: App, joined) -> None:
    sub1 = await joined("t")
    sub2 = await joined("t")
    publisher = await joined()
    await publisher.send({"type": "publish", "topic": "t", "data": "x", "messageId": "m1"})
    assert (await publisher.recv())["deliveredTo"] == 2
    await sub1.recv()
    await sub2.recv()
    await sub1.send({"type": "ack", "topic": "t", "messageId": "m1"})
    assert await publisher.recv_text() == '{"type":"ack_received","messageId":"m1","topic":"t","remaining":1}'
    assert app.broker.get_session("s1").pending_messages == 1
    await sub1.send({"type": "ack", "topic": "t", "messageId": "m1"})  # twice: ignored
    assert await publisher.silent()
    await sub2.send({"type": "ack", "topic": "t", "messageId": "m1"})
    assert await publisher.recv_text() == '{"type":"ack_received","messageId":"m1","topic":"t","remaining":0}'
    assert app.broker.get_session("s1").pending_messages == 0


async def test_ack_edge_cases_get_no_reply(ws, joined) -> None:
    before_init = await ws()
    await before_init.send({"type": "ack", "topic": "t", "messageId": "m1"})
    assert await before_init.silent()
    client = await joined()
    await client.send({"type": "ack", "topic": "t", "messageId": "unknown"})
    await client.send({"type": "ack", "messageId": "unknown-without-topic"})
    assert await client.silent()


async def test_ack_wrong_field(joined) -> None:
    client = await joined()
    await client.send({"type": "ack", "topic": "t"})
    assert await client.recv_text() == '{"error":"Invalid field: messageId","code":"invalid_field"}'
    await client.send({"type": "ack", "topic": "t", "messageId": True})
    assert await client.recv_text() == '{"error":"Invalid field: messageId","code":"invalid_field"}'


# ---------------------------------------------------------------------- bad frames


@pytest.mark.parametrize(
    "raw",
    ["not json", "{", "[1,2]", "42", '"init"', "null", "{}", '{"type":""}', '{"type":null}',
     '{"type":"publish","data":"\\ud83d",}', '["\\ud800"]'],
    ids=["garbage", "truncated", "array", "number", "string", "null", "no-type", "empty-type", "null-type",
         "surrogate-and-broken", "surrogate-not-an-object"],
)
async def test_invalid_frame(joined, raw) -> None:
    client = await joined()
    await client.send_raw(raw)
    assert await client.recv_text() == '{"error":"Invalid frame","code":"invalid_frame"}'


async def test_type_of_the_wrong_type(joined) -> None:
    client = await joined()
    await client.send({"type": 3})
    assert await client.recv_text() == '{"error":"Invalid field: type","code":"invalid_field"}'


@pytest.mark.parametrize("initialized", [False, True])
async def test_unknown_message_type(ws, session, initialized) -> None:
    client = await ws()
    if initialized:
        await client.init("s1", "pw")
    await client.send({"type": "file_chunk", "topic": "t"})
    assert await client.recv_text() == '{"error":"Unknown message type","code":"unknown_type"}'


async def test_json_control_in_a_binary_frame_is_handled(ws, session) -> None:
    client = await ws()
    await client.send_raw(b'{"type":"init","sessionName":"s1","password":"pw"}')
    assert await client.recv_text() == '{"type":"init_response","success":true,"sessionName":"s1"}'
    await client.send_raw(b'{"type":"subscribe","topic":"t"}')
    assert await client.recv_text() == '{"type":"subscribe_response","success":true,"topic":"t"}'
    # leading whitespace: still control (a binary frame is a file chunk only if it starts with 0x02)
    for ws_prefix in (b" ", b"\n", b"\r\n\t "):
        await client.send_raw(ws_prefix + b'{"type":"subscribe","topic":"u"}')
        assert await client.recv_text() == '{"type":"subscribe_response","success":true,"topic":"u"}'


async def test_other_binary_frames_are_dropped(joined) -> None:
    client = await joined()
    for junk in (b"", b"\x00\x01", b"[1,2]", b"{not json", b"\x02short", b"\x03" + b"x" * 80):
        await client.send_raw(junk)
    assert await client.silent()
    await client.send({"type": "subscribe", "topic": "still/works"})
    assert (await client.recv())["success"] is True


@pytest.mark.parametrize(
    "kind, reply",
    [
        ("register_fcm_token", "fcm_token_response"),
        ("unregister_fcm_token", "fcm_unregister_response"),
        ("get_registered_devices", "registered_devices_response"),
    ],
)
@pytest.mark.parametrize("initialized", [False, True])
async def test_push_notification_frames_are_unsupported(ws, session, kind, reply, initialized) -> None:
    client = await ws()
    if initialized:
        await client.init("s1", "pw")
    await client.send({"type": kind, "userId": "u1", "encryptedData": "x", "hash": "y"})
    assert await client.recv_text() == (
        '{"type":"%s","success":false,"error":"Push notifications are not supported","code":"unsupported"}' % reply
    )


async def test_internal_error_reply_keeps_the_socket(app: App, joined, monkeypatch) -> None:
    client = await joined()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(app.broker, "subscribe", broken)
    await client.send({"type": "subscribe", "topic": "t"})
    assert await client.recv_text() == '{"error":"Internal server error","code":"internal"}'
    monkeypatch.undo()
    await client.send({"type": "subscribe", "topic": "t"})
    assert (await client.recv())["success"] is True


# ---------------------------------------------------------------------- closing


async def test_dropped_session_closes_every_socket_with_4000(ws, joined, rest, session) -> None:
    subscribed = await joined("t")
    idle = await joined()
    stranger = await ws()  # never initialized: not part of the session, stays open
    status, body = await rest.post("/api/dropSession", {"sessionName": "s1"})
    assert (status, body) == (200, {"success": True})
    assert await subscribed.closed() == (4000, "Session dropped")
    assert await idle.closed() == (4000, "Session dropped")
    await stranger.send({"type": "subscribe", "topic": "t"})
    assert await stranger.recv_text() == '{"error":"Not initialized","code":"not_initialized"}'


async def test_expired_session_closes_its_sockets(app: App, joined, rest, clock) -> None:
    await rest.create_session("short", "pw", sessionExpiry=60_000)
    client = await connect(app.http_port)
    try:
        await client.init("short", "pw")
        clock.advance(60_000)
        assert await client.closed() == (4000, "Session expired")
    finally:
        await client.close()


async def test_same_client_id_replaces_the_older_socket(ws, session) -> None:
    first = await ws()
    await first.init("s1", "pw", clientId="dev")
    second = await ws()
    await second.init("s1", "pw", clientId="dev")
    code, reason = await first.closed()
    assert code == 4001 and "client id" in reason


async def test_shutdown_closes_sockets_with_1001(tmp_path, clock) -> None:
    server = App(make_settings(tmp_path), clock=clock)
    await server.start()
    async with aiohttp.ClientSession() as http:
        await http.post(
            f"http://127.0.0.1:{server.http_port}/api/createSession",
            json={"sessionName": "s", "password": "p"},
            headers={"Authorization": BASIC},
        )
    joined_client = await connect(server.http_port)
    await joined_client.init("s", "p")
    stranger = await connect(server.http_port)
    stop = asyncio.ensure_future(server.stop())
    assert await joined_client.closed() == (1001, "Server shutting down")
    assert await stranger.closed() == (1001, "Server shutting down")
    await stop


async def test_client_disconnect_cleans_up(app: App, joined) -> None:
    client = await joined("t")
    assert app.broker.get_session("s1").connections == 1
    await client.close()
    for _ in range(100):
        if app.broker.get_session("s1").connections == 0:
            break
        await asyncio.sleep(0.01)
    info = app.broker.get_session("s1")
    assert (info.connections, info.subscriptions) == (0, 0)


# ---------------------------------------------------------------------- session limits, storage failure


async def test_session_limits_are_reported_with_codes(app: App, admin, ws) -> None:
    await admin.CreateSession(
        admin_pb2.CreateSessionRequest(
            name="lim",
            password="pw",
            limits=admin_pb2.Limits(max_payload_bytes=8, max_connections=2, max_subscriptions=1, max_pending_messages=2),
        ),
        metadata=ADMIN_METADATA,
    )
    a, b, c = await ws(), await ws(), await ws()
    await a.init("lim", "pw")
    await b.init("lim", "pw")
    await c.send({"type": "init", "sessionName": "lim", "password": "pw"})
    reply = await c.recv()
    assert (reply["type"], reply["success"], reply["code"]) == ("init_response", False, "limit_exceeded")
    await a.send({"type": "subscribe", "topic": "t"})
    assert (await a.recv())["success"] is True
    await a.send({"type": "subscribe", "topic": "u"})
    reply = await a.recv()
    assert (reply["type"], reply["success"], reply["topic"], reply["code"]) == (
        "subscribe_response", False, "u", "limit_exceeded"
    )
    await b.send({"type": "publish", "topic": "t", "data": "123456789", "messageId": "big"})
    reply = await b.recv()
    assert (reply["success"], reply["messageId"], reply["code"]) == (False, "big", "payload_too_large")
    await b.send({"type": "publish", "topic": "t", "data": "1", "messageId": "p1"})
    assert (await b.recv())["success"] is True
    await b.send({"type": "publish", "topic": "t", "data": "2", "messageId": "p2"})  # its result waits
    await b.send({"type": "publish", "topic": "t", "data": "3", "messageId": "p3"})
    reply = await b.recv()
    assert (reply["success"], reply["messageId"], reply["code"]) == (False, "p3", "overloaded")
    await a.recv()
    await a.send({"type": "ack", "topic": "t", "messageId": "p1"})
    assert [(r["type"], r["messageId"], r.get("success")) for r in (await b.recv(), await b.recv())] == [
        ("ack_received", "p1", None),
        ("publish_response", "p2", True),  # kept back while the session was congested
    ]


async def test_storage_failure_is_never_a_false_success(app: App, joined, monkeypatch) -> None:
    sub = await joined("t")
    publisher = await joined()

    def failing(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(app.broker.engine.store, "add_message", failing)
    await publisher.send({"type": "publish", "topic": "t", "data": "x", "messageId": "m1"})
    assert await publisher.recv_text() == text(
        {
            "type": "publish_response",
            "success": False,
            "messageId": "m1",
            "error": "Message could not be stored",
            "code": "storage_error",
        }
    )
    assert await sub.silent()
