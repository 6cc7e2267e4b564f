"""legacy-json.md §9, row by row: what deployed clients send that is merely unusual is
accepted; what fastport refuses is refused with a reply the client can match.

Raw JSON over a real socket, replies compared as exact text, against both stores (the
sqlite store keeps timestamps, message ids and payloads in typed columns)."""

from __future__ import annotations

import pytest

from fastport.app import App

from .wire import compact

NOW = 1_700_000_000_000  # the manual clock's start
INT64_MAX = 2**63 - 1


@pytest.fixture(params=["memory", "sqlite"])
async def app(request: pytest.FixtureRequest, start_app) -> App:  # type: ignore[no-untyped-def]
    return await start_app(store=request.param)  # type: ignore[no-any-return]


def publish(**fields: object) -> dict[str, object]:
    return {"type": "publish", "topic": "t", **fields}


async def relayed(joined, frame: dict[str, object] | str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Publish ``frame`` (a dict, or raw JSON text) from one socket to a subscriber of
    "t"; the publish_response and the delivered message, as text."""
    sub = await joined("t")
    publisher = await joined()
    await publisher.send_raw(frame if isinstance(frame, str) else compact(frame))
    reply = await publisher.recv_text()
    return reply, await sub.recv_text()


def refused(message_id: str | None, field: str) -> str:
    reply: dict[str, object] = {"type": "publish_response", "success": False}
    if message_id is not None:
        reply["messageId"] = message_id
    reply.update(error=f"Invalid field: {field}", code="invalid_field")
    return compact(reply)


def ok(message_id: str, delivered_to: int = 1) -> str:
    return compact({"type": "publish_response", "success": True, "messageId": message_id, "deliveredTo": delivered_to})


# -- timestamp with a fraction: accepted, truncated to integer ms


@pytest.mark.parametrize(
    "sent, kept", [(1796149711999.123, 1796149711999), (1796149711999.999, 1796149711999), (12.5, 12)]
)
async def test_fractional_timestamp_is_truncated(joined, sent: float, kept: int) -> None:
    reply, message = await relayed(joined, publish(data="x", timestamp=sent, messageId="m1"))
    assert reply == ok("m1")
    assert message == compact({"type": "message", "topic": "t", "data": "x", "timestamp": kept, "messageId": "m1"})


async def test_largest_timestamp_is_kept(joined) -> None:
    reply, message = await relayed(joined, publish(data="x", timestamp=INT64_MAX, messageId="m1"))
    assert reply == ok("m1")
    assert f'"timestamp":{INT64_MAX},' in message


# -- timestamp 0, null or missing: the server's clock


@pytest.mark.parametrize("timestamp", [0, None, "missing", 0.0, 0.4])
async def test_zero_null_or_missing_timestamp_is_the_servers_clock(joined, timestamp: object) -> None:
    frame = publish(data="x", messageId="m1")
    if timestamp != "missing":
        frame["timestamp"] = timestamp
    reply, message = await relayed(joined, frame)
    assert reply == ok("m1")
    assert message == compact({"type": "message", "topic": "t", "data": "x", "timestamp": NOW, "messageId": "m1"})


# -- timestamp negative, not a number, or beyond 2^63-1 ms: that publish is refused


@pytest.mark.parametrize(
    "timestamp",
    [-1, -0.5, "1796149711999", "now", True, [1], {"ms": 1}, 2**63, 2**64 - 1, 1e19, 2.0**63],
    ids=["negative", "negative-fraction", "digit-string", "string", "bool", "array", "object",
         "2^63", "2^64-1", "1e19", "2.0^63"],
)
async def test_bad_timestamp_refuses_that_publish(joined, timestamp: object) -> None:
    sub = await joined("t")
    publisher = await joined()
    await publisher.send(publish(data="x", timestamp=timestamp, messageId="m1"))
    assert await publisher.recv_text() == refused("m1", "timestamp")
    await publisher.send(publish(data="x", timestamp=timestamp))
    assert await publisher.recv_text() == refused(None, "timestamp")
    assert await sub.silent()
    # the socket and the session go on
    await publisher.send(publish(data="y", messageId="m2"))
    assert await publisher.recv_text() == ok("m2")
    assert '"messageId":"m2"' in await sub.recv_text()


# -- messageId an integer: its decimal string


@pytest.mark.parametrize("message_id, text", [(12345, "12345"), (0, "0"), (-7, "-7"), (INT64_MAX, str(INT64_MAX))])
async def test_integer_message_id_is_its_decimal_string(app: App, joined, message_id: int, text: str) -> None:
    sub = await joined("t")
    publisher = await joined()
    await publisher.send(publish(data="x", timestamp=5, messageId=message_id))
    assert await publisher.recv_text() == ok(text)
    assert await sub.recv_text() == compact(
        {"type": "message", "topic": "t", "data": "x", "timestamp": 5, "messageId": text}
    )
    await sub.send({"type": "ack", "topic": "t", "messageId": message_id})  # an integer ACK settles it too
    assert await publisher.recv_text() == compact(
        {"type": "ack_received", "messageId": text, "topic": "t", "remaining": 0}
    )
    await publisher.send(publish(data="x", messageId=text))  # the same id: a duplicate
    assert await publisher.recv_text() == ok(text)
    assert await sub.silent()


# -- data missing: the message has no data key


async def test_missing_data_is_relayed_without_a_data_key(joined) -> None:
    reply, message = await relayed(joined, publish(hash="h", timestamp=5, messageId="m1"))
    assert reply == ok("m1")
    assert message == '{"type":"message","topic":"t","hash":"h","timestamp":5,"messageId":"m1"}'


# -- hash null or "": relayed as given (and no hash stays none)


@pytest.mark.parametrize(
    "given", [{}, {"hash": None}, {"hash": ""}, {"hash": "h"}], ids=["missing", "null", "empty", "string"]
)
async def test_hash_is_relayed_as_given(joined, given: dict[str, object]) -> None:
    reply, message = await relayed(joined, publish(data="x", **given, timestamp=5, messageId="m1"))
    assert reply == ok("m1")
    assert message == compact({"type": "message", "topic": "t", "data": "x", **given, "timestamp": 5, "messageId": "m1"})


# -- lone UTF-16 surrogate escapes in data: relayed byte-identical


@pytest.mark.parametrize(
    "data",
    [r'"ab\ud800cd"', r'"\udc00"', r'"\uDBFF\\ud800"', r'{"k":["x\ud83d",1.5e3,"é \"q\""],"n":null}', r'["\ud800"]'],
    ids=["high", "low", "upper-case-and-escaped-backslash", "nested", "array"],
)
async def test_lone_surrogates_in_data_are_relayed_byte_identical(joined, data: str) -> None:
    frame = '{"type":"publish","topic":"t","data":%s,"timestamp":5,"messageId":"m1"}' % data
    reply, message = await relayed(joined, frame)
    assert reply == ok("m1")
    assert message == '{"type":"message","topic":"t","data":%s,"timestamp":5,"messageId":"m1"}' % data


@pytest.mark.parametrize("field", ["topic", "messageId", "hash"])
async def test_lone_surrogates_outside_data_are_refused(joined, field: str) -> None:
    values = {"topic": '"t"', "messageId": '"m1"', "hash": '"h"'}
    values[field] = r'"x\ud800"'
    frame = '{"type":"publish","topic":%(topic)s,"data":"x","hash":%(hash)s,"messageId":%(messageId)s}' % values
    sub = await joined("t")
    publisher = await joined()
    await publisher.send_raw(frame)
    assert await publisher.recv_text() == refused(None if field == "messageId" else "m1", field)
    assert await sub.silent()


# -- extra unknown keys: ignored


async def test_extra_unknown_keys_are_ignored(ws, session, joined) -> None:
    client = await ws()
    await client.send({"type": "init", "sessionName": "s1", "password": "pw", "deviceInfo": {"os": "x"}, "v": 2})
    assert await client.recv_text() == '{"type":"init_response","success":true,"sessionName":"s1"}'
    await client.send({"type": "subscribe", "topic": "t", "qos": 1})
    assert await client.recv_text() == '{"type":"subscribe_response","success":true,"topic":"t"}'
    reply, message = await relayed(joined, publish(data="x", timestamp=5, messageId="m1", priority="high", ttl=3))
    assert reply == ok("m1", 2)
    assert message == '{"type":"message","topic":"t","data":"x","timestamp":5,"messageId":"m1"}'
    assert await client.recv_text() == message


# -- init with a non-string optional field: accepted (the value is not used)


@pytest.mark.parametrize("user_id", [42, 4.5, True, {"id": 1}, ["u"]])
async def test_init_with_non_string_user_id_is_accepted(app: App, ws, session, user_id: object) -> None:
    client = await ws()
    await client.send({"type": "init", "sessionName": "s1", "password": "pw", "userId": user_id})
    assert await client.recv_text() == '{"type":"init_response","success":true,"sessionName":"s1"}'
    [conn] = app.broker.sessions["s1"].connections
    assert conn.user_id is None


# -- init with a wrong-typed required field: init_response with success false


@pytest.mark.parametrize(
    "fields, name",
    [
        ({"sessionName": "s1", "password": 1234}, "password"),
        ({"sessionName": "s1", "password": ["pw"]}, "password"),
        ({"sessionName": 5, "password": "pw"}, "sessionName"),
        ({"sessionName": {"n": "s1"}, "password": "pw"}, "sessionName"),
        ({"sessionName": "s1", "password": "pw", "clientId": 7}, "clientId"),  # fastport's: it is used
    ],
)
async def test_init_with_wrong_typed_field_gets_an_init_response(ws, session, fields: dict, name: str) -> None:
    client = await ws()
    await client.send({"type": "init", **fields})
    assert await client.recv_text() == compact(
        {"type": "init_response", "success": False, "error": f"Invalid field: {name}", "code": "invalid_field"}
    )
    await client.init("s1", "pw")  # the socket stays open for a retry


# -- any publish that is refused: publish_response with success false and its messageId


@pytest.mark.parametrize(
    "fields, error, code",
    [
        ({"topic": 5, "data": "x"}, "Invalid field: topic", "invalid_field"),
        ({"topic": "t", "data": "x", "hash": 1}, "Invalid field: hash", "invalid_field"),
        ({"topic": "a/+", "data": "x"}, None, "invalid_topic"),
        ({"topic": "", "data": "x"}, None, "invalid_topic"),
        ({"data": "x"}, None, "invalid_topic"),
        ({"topic": "t", "data": "x", "timestamp": "now"}, "Invalid field: timestamp", "invalid_field"),
    ],
)
async def test_every_refused_publish_answers_with_its_message_id(joined, fields: dict, error, code: str) -> None:
    publisher = await joined()
    await publisher.send({"type": "publish", **fields, "messageId": "m1"})
    reply = await publisher.recv()
    assert list(reply) == ["type", "success", "messageId", "error", "code"]
    assert (reply["type"], reply["success"], reply["messageId"], reply["code"]) == (
        "publish_response", False, "m1", code
    )
    assert error is None or reply["error"] == error


@pytest.mark.parametrize("message_id", [True, 1.5, ["m1"], {"id": "m1"}, 2**64 - 1 + 1])
async def test_publish_with_an_unusable_message_id_is_refused_without_one(joined, message_id: object) -> None:
    publisher = await joined()
    await publisher.send(publish(data="x", messageId=message_id))
    assert await publisher.recv_text() == refused(None, "messageId")


async def test_refused_publish_in_a_suspended_session_keeps_its_message_id(joined, rest) -> None:
    publisher = await joined()
    await rest.post("/api/suspendSession", {"sessionName": "s1", "suspend": True})
    await publisher.send(publish(data="x", messageId=77))
    assert await publisher.recv_text() == compact(
        {
            "type": "publish_response",
            "success": False,
            "messageId": "77",
            "error": "Session suspended or invalid",
            "code": "session_suspended",
        }
    )
