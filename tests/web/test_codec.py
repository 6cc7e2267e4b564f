"""The legacy JSON codec and the rate limiter, without sockets."""

from __future__ import annotations

import struct

import orjson
import pytest

from fastport.core.delivery import ABSENT, Hash, Message
from fastport.core.errors import BrokerError, ErrorCode
from fastport.web import codec
from fastport.web.codec import Ack, Chunk, Close, FileSignal, Init, Publish, RestError, Subscribe, Unsubscribe
from fastport.rpc.stream import message_item
from fastport.web.peer import close_reason, message_wire
from fastport.web.ratelimit import RateLimiter

FILE_ID = "123e4567-e89b-12d3-a456-426614174000"


def parse(obj: object, initialized: bool = True) -> object:
    return codec.parse_text(orjson.dumps(obj), initialized)


def make_message(payload: bytes, *, json: bool = False, hash: Hash = "h", topic: str = "t") -> Message:
    return Message(
        id="m1", topic=topic, payload=payload, hash=hash, timestamp_ms=7, json=json,
        session="s", created_ms=0, expires_ms=0,
    )


# ---------------------------------------------------------------------- decoding


def test_parse_each_command() -> None:
    assert parse({"type": "init", "sessionName": "s", "password": "p"}, False) == Init("s", "p")
    assert parse({"type": "init", "sessionName": "s", "password": "p", "userId": "u", "clientId": "c"}) == Init(
        "s", "p", "u", "c"
    )
    assert parse({"type": "init", "sessionName": "s", "password": "p", "clientId": ""}) == Init("s", "p")
    assert parse({"type": "subscribe", "topic": "a/#"}) == Subscribe("a/#")
    assert parse({"type": "subscribe", "topic": "a", "persistent": True}) == Subscribe("a", True)
    assert parse({"type": "unsubscribe", "topic": "a"}) == Unsubscribe("a")
    assert parse({"type": "ack", "topic": "a", "messageId": "m"}) == Ack("m", "a")
    assert parse(
        {"type": "publish", "topic": "a", "data": "x", "hash": "h", "timestamp": 5, "messageId": "m"}
    ) == Publish("a", b"x", False, "h", 5, "m")


def test_publish_data_becomes_bytes() -> None:
    assert parse({"type": "publish", "topic": "a", "data": "héllo"}) == Publish("a", "héllo".encode(), False)
    assert parse({"type": "publish", "topic": "a", "data": {"k": [1, None]}}) == Publish("a", b'{"k":[1,null]}', True)
    assert parse({"type": "publish", "topic": "a", "data": None}) == Publish("a", b"null", True)
    assert parse({"type": "publish", "topic": "a", "data": "x", "timestamp": 1.7e12}).timestamp_ms == 1_700_000_000_000


def test_nulls_count_as_missing() -> None:
    assert parse({"type": "publish", "topic": "a", "data": "x", "messageId": None, "timestamp": None}) == (
        Publish("a", b"x", False)
    )
    assert parse({"type": "subscribe", "topic": None}) == Subscribe(None)


def test_hash_is_kept_as_given() -> None:
    """A null hash is not a missing one: null, "" and none are each relayed as such (§9)."""
    assert parse({"type": "publish", "topic": "a", "data": "x", "hash": None}) == Publish("a", b"x", False, None)
    assert parse({"type": "publish", "topic": "a", "data": "x", "hash": ""}) == Publish("a", b"x", False, "")
    assert parse({"type": "publish", "topic": "a", "data": "x"}) == Publish("a", b"x", False, ABSENT)


@pytest.mark.parametrize(
    "raw",
    [b"", b"nope", b"[]", b"1", b"null", b"{}", b'{"type":""}', b'{"type":null}', b'["\\ud800"]', b'{"a":"\\ud800"'],
)
def test_invalid_frames(raw: bytes) -> None:
    assert codec.parse_text(raw, True) == b'{"error":"Invalid frame","code":"invalid_frame"}'
    assert codec.parse_binary(raw, True) is None  # a binary frame that is no JSON object: dropped


@pytest.mark.parametrize("raw", [b"\xff{}", b'{"type":"init","password":"\xc3("}', b"nope\xed\xa0\x80"])
def test_text_that_is_not_utf8_fails_the_connection(raw: bytes) -> None:
    assert codec.parse_text(raw, True) == Close(1007, b"Invalid UTF-8 in a text frame")
    assert codec.parse_binary(raw, True) is None


def test_lone_surrogates() -> None:
    raw = b'{"type":"publish","topic":"a","data":["\\ud800",{"k":"\\udfff\\ud83d\\ude00"}],"messageId":"m"}'
    assert codec.parse_text(raw, True) == Publish("a", b'["\\ud800",{"k":"\\udfff\\ud83d\\ude00"}]', True, message_id="m")
    # a surrogate pair is no lone surrogate: the topic is decoded as usual
    raw = b'{"type":"publish","topic":"\\ud83d\\ude00","data":"\\ud800"}'
    assert codec.parse_text(raw, True) == Publish("\U0001f600", b'"\\ud800"', True)
    raw = b'{"type":"publish","topic":"a\\udc00","data":"\\ud800","messageId":"m"}'
    assert codec.parse_text(raw, True) == (
        b'{"type":"publish_response","success":false,"messageId":"m","error":"Invalid field: topic","code":"invalid_field"}'
    )
    # an escaped backslash before "u" is no escape; one more backslash makes it one again
    assert codec.parse_text(b'{"type":"subscribe","topic":"\\\\ud800"}', True) == Subscribe("\\ud800")
    raw = b'{"type":"publish","topic":"\\\\ud800","data":"\\\\\\ud800\\\\"}'
    assert codec.parse_text(raw, True) == Publish("\\ud800", b'"\\\\\\ud800\\\\"', True)


def test_errors() -> None:
    assert parse({"type": 1}) == b'{"error":"Invalid field: type","code":"invalid_field"}'
    assert parse({"type": "nope"}) == b'{"error":"Unknown message type","code":"unknown_type"}'
    assert parse({"type": "publish", "topic": "a"}) == Publish("a", codec.NO_DATA, True)  # data missing
    assert parse({"type": "publish", "topic": "a", "data": "x", "messageId": False}) == (
        b'{"type":"publish_response","success":false,"error":"Invalid field: messageId","code":"invalid_field"}'
    )
    for kind in ("subscribe", "unsubscribe", "publish", "init_file", "end_file"):
        assert parse({"type": kind, "topic": 1}, False) == b'{"error":"Not initialized","code":"not_initialized"}'
    assert parse({"type": "ack", "messageId": "m"}, False) is None


def test_fcm_frames_are_unsupported() -> None:
    assert parse({"type": "register_fcm_token"}, False) == (
        b'{"type":"fcm_token_response","success":false,'
        b'"error":"Push notifications are not supported","code":"unsupported"}'
    )
    assert orjson.loads(parse({"type": "unregister_fcm_token"}))["type"] == "fcm_unregister_response"
    assert orjson.loads(parse({"type": "get_registered_devices"}))["type"] == "registered_devices_response"


def test_file_signals() -> None:
    raw = orjson.dumps({"type": "init_file", "topic": "t", "fileId": FILE_ID, "fileName": "a.bin", "fileSize": 3})
    assert codec.parse_text(raw, True) == FileSignal("init_file", "t", FILE_ID, raw)
    spaced = b'{ "type" : "end_file", "topic": "t", "fileId": "%s", "hash": "" }' % FILE_ID.encode()
    assert codec.parse_text(spaced, True) == FileSignal("end_file", "t", FILE_ID, spaced)  # verbatim
    missing = b'{"type":"error","error":"Missing topic or fileId","code":"invalid_field"}'
    assert parse({"type": "init_file", "topic": "t"}) == missing
    assert parse({"type": "init_file", "fileId": FILE_ID, "topic": ""}) == missing
    assert parse({"type": "init_file", "topic": "t", "fileId": "short"}) == (
        b'{"error":"Invalid field: fileId","code":"invalid_field"}'
    )


def test_binary_frames() -> None:
    frame = b"\x02" + FILE_ID.encode() + struct.pack(">I", 9) + b"iv-and-ciphertext"
    assert codec.parse_binary(frame, True) == Chunk(FILE_ID, frame)
    assert codec.chunk_index(frame) == 9
    assert codec.parse_binary(frame, False) is None  # before init
    assert codec.parse_binary(b"\x01" + frame[1:], True) is None  # wrong type
    assert codec.parse_binary(frame[:40], True) is None  # too short
    assert codec.parse_binary(b"\x02" + "é".encode() * 18 + frame[37:], True) is None  # fileId not ASCII
    assert codec.parse_binary(b'{"type":"subscribe","topic":"t"}', True) == Subscribe("t")
    assert codec.parse_binary(b"{broken", True) is None
    assert codec.parse_binary(b"", True) is None


# ---------------------------------------------------------------------- encoding


def test_replies_in_documented_key_order() -> None:
    err = BrokerError(ErrorCode.SESSION_SUSPENDED, "Session suspended or invalid")
    assert codec.init_ok("s") == b'{"type":"init_response","success":true,"sessionName":"s"}'
    assert codec.init_error(BrokerError(ErrorCode.INVALID_PASSWORD, "Invalid password")) == (
        b'{"type":"init_response","success":false,"error":"Invalid password","code":"invalid_password"}'
    )
    assert codec.subscribe_reply("t") == b'{"type":"subscribe_response","success":true,"topic":"t"}'
    assert codec.unsubscribe_reply("t") == b'{"type":"unsubscribe_response","success":true,"topic":"t"}'
    assert codec.subscribe_reply("t", err) == (
        b'{"type":"subscribe_response","success":false,"topic":"t",'
        b'"error":"Session suspended or invalid","code":"session_suspended"}'
    )
    assert codec.publish_ok("m", 3) == b'{"type":"publish_response","success":true,"messageId":"m","deliveredTo":3}'
    assert codec.publish_error("m", err) == (
        b'{"type":"publish_response","success":false,"messageId":"m",'
        b'"error":"Session suspended or invalid","code":"session_suspended"}'
    )
    assert codec.publish_error("", err) == (
        b'{"type":"publish_response","success":false,"error":"Session suspended or invalid","code":"session_suspended"}'
    )
    assert codec.ack_received("m", "t", 0) == b'{"type":"ack_received","messageId":"m","topic":"t","remaining":0}'


def test_message_frames() -> None:
    assert codec.message_frame(make_message(b"abc")) == (
        b'{"type":"message","topic":"t","data":"abc","hash":"h","timestamp":7,"messageId":"m1"}'
    )
    assert codec.message_frame(make_message(b"abc", hash=ABSENT), 2) == (
        b'{"type":"message","topic":"t","data":"abc","timestamp":7,"messageId":"m1","retry":2}'
    )
    assert codec.message_frame(make_message(b"abc", hash=None)) == (
        b'{"type":"message","topic":"t","data":"abc","hash":null,"timestamp":7,"messageId":"m1"}'
    )
    assert codec.message_frame(make_message(b"abc", hash="")) == (
        b'{"type":"message","topic":"t","data":"abc","hash":"","timestamp":7,"messageId":"m1"}'
    )
    assert codec.message_frame(make_message(b'{"a":[1,2]}', json=True)) == (
        b'{"type":"message","topic":"t","data":{"a":[1,2]},"hash":"h","timestamp":7,"messageId":"m1"}'
    )
    # bytes that are not UTF-8 (published over gRPC) go as base64, flagged
    assert codec.message_frame(make_message(b"\xff\x00\x01")) == (
        b'{"type":"message","topic":"t","data":"/wAB","hash":"h","timestamp":7,"messageId":"m1","encoding":"base64"}'
    )
    # a "json" payload that is not JSON is not spliced into the frame
    assert orjson.loads(codec.message_frame(make_message(b"{oops", json=True)))["data"] == "{oops"


def test_message_wire_is_encoded_once_per_fan_out_by_each_door() -> None:
    """Each door keeps its own encoded form of the message being fanned out, so
    deliveries through both doors, interleaved, still encode once per door."""
    message = make_message(b"abc")
    first, item = message_wire(message), message_item(message, 0)
    assert message_wire(message) is first and message_item(message, 0) is item
    assert first == codec.text_frame(codec.message_frame(message))
    assert message_item(message, 1) != item  # a re-send carries its retry count
    assert message_item(message, 0) is item
    other = make_message(b"def")
    assert message_wire(other) == codec.text_frame(codec.message_frame(other))


@pytest.mark.parametrize("size, header", [(0, b"\x81\x00"), (125, b"\x81\x7d"), (126, b"\x81\x7e\x00\x7e"),
                                          (65535, b"\x81\x7e\xff\xff"), (65536, b"\x81\x7f" + (65536).to_bytes(8, "big"))])
def test_text_frame_header(size: int, header: bytes) -> None:
    payload = b"x" * size
    assert codec.text_frame(payload) == header + payload
    assert codec.binary_frame(payload)[0] == 0x82


def test_close_reason_fits_a_close_frame() -> None:
    assert close_reason("Session dropped") == b"Session dropped"
    long = close_reason("é" * 100)
    assert len(long) <= 123 and long.decode("utf-8") == "é" * 61


# ---------------------------------------------------------------------- REST bodies


def test_rest_bodies() -> None:
    assert codec.parse_body(b"") == {}
    assert codec.parse_body(b' {"a":1} ') == {"a": 1}
    for bad in (b"{", b"[]", b"3"):
        with pytest.raises(RestError) as info:
            codec.parse_body(bad)
        assert (info.value.status, info.value.code) == (400, "invalid_body")
    spec = codec.parse_create_session({"sessionName": "s", "password": "p", "retryInterval": "100", "sessionExpiry": 5})
    assert (spec.name, spec.password, spec.retry_interval_ms, spec.session_expiry_ms) == ("s", "p", 100, 5)
    assert codec.parse_credentials({"sessionName": "s"}) == ("s", "", "")
    assert codec.parse_suspend({}) is False and codec.parse_suspend({"suspend": True}) is True
    assert codec.create_session_ok("s", "p", "k") == b'{"success":true,"sessionName":"s","password":"p","secretKey":"k"}'


# ---------------------------------------------------------------------- rate limiting


def test_rate_limiter_fixed_window() -> None:
    now = [1000.0]
    limiter = RateLimiter(2, window_s=900, clock=lambda: now[0])
    first = limiter.hit("a")
    assert (first.allowed, first.remaining, first.reset_s) == (True, 1, 900)
    now[0] += 100
    second = limiter.hit("a")
    assert (second.allowed, second.remaining, second.reset_s) == (True, 0, 800)
    third = limiter.hit("a")
    assert not third.allowed and third.headers() == {
        "RateLimit-Policy": "2;w=900",
        "RateLimit-Limit": "2",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "800",
        "Retry-After": "800",
    }
    assert limiter.hit("b").allowed  # per address
    now[0] += 800
    assert limiter.hit("a").allowed  # a new window


def test_rate_limiter_forgets_old_windows() -> None:
    now = [0.0]
    limiter = RateLimiter(1, window_s=10, clock=lambda: now[0])
    for i in range(100):
        limiter.hit(f"10.0.0.{i}")
    now[0] = 25
    limiter.hit("late")
    assert list(limiter._windows) == ["late"]



def test_a_dead_letter_s_metadata_is_one_extra_key_of_its_message_frame() -> None:
    message = make_message(b"abc", topic="dead")
    message.attributes = {
        "trace": "t1",  # the original's own attributes stay out, as for any message
        "fastport-dl-topic": "orders/new",
        "fastport-dl-message-id": "m0",
        "fastport-dl-reason": "retry_limit",
        "fastport-dl-attempts": "4",
        "fastport-dl-subscriber": "",
        "fastport-dl-time-ms": "1767225600000",
    }
    assert orjson.loads(codec.message_frame(message)) == {
        "type": "message", "topic": "dead", "data": "abc", "hash": "h", "timestamp": 7, "messageId": "m1",
        "deadLetter": {
            "topic": "orders/new", "messageId": "m0", "reason": "retry_limit", "attempts": 4, "subscriber": None,
            "time": 1767225600000,
        },
    }
    message.attributes = {"trace": "t1"}
    assert "deadLetter" not in orjson.loads(codec.message_frame(message))
