"""The legacy JSON protocol, sans I/O: frames in, typed commands out; core events in,
frames out.

Nothing here touches a socket or the event loop, so every rule of
``shared/protocol/legacy-json.md`` that concerns bytes on the wire (field names and
types, key order, error strings, error codes, the binary file-chunk header, WebSocket
framing of what the server sends) is unit-tested on plain values.

Decoding: ``parse_text`` and ``parse_binary`` turn one client frame into a command
(``Init``, ``Subscribe``, ...), a ready-made reply (``bytes``: send it back and do
nothing else), or ``None`` (drop it silently). Decoding needs one bit of connection
state, whether the socket is initialized, because "Not initialized" is checked before
the fields are, as the old server did.

Encoding: compact JSON, keys in the documented order, undefined values left out,
``null`` kept. Every error reply carries a stable ``code``.

Leniency (§9): what deployed clients send that is merely unusual is accepted. Frames
are parsed with orjson; only a frame orjson refuses takes the slow path
(``_lenient``): a text frame that is not UTF-8 closes the socket (1007, RFC 6455
§8.1), and lone UTF-16 surrogate escapes (``"\ud800"``, which orjson cannot decode)
are relayed byte-identical when they are in ``data`` (its raw JSON text is kept) and
refused as an invalid field anywhere else. ``data`` nested deeper than orjson writes
(254 levels; it reads 1024) is kept as raw text the same way. Both only in frames up to
``LENIENT_MAX_BYTES``.
"""

from __future__ import annotations

import base64
import re
import struct
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, Final

import orjson

from ..core import deadletter
from ..core.delivery import ABSENT, Hash, Message
from ..core.errors import BrokerError, ErrorCode
from ..core.session import Limits, SessionSpec
from ..views import LIMIT_KEYS

# Codes for errors that only the HTTP door can produce (the rest are ErrorCode values).
UNKNOWN_TYPE: Final = "unknown_type"
NOT_FOUND: Final = "not_found"
INVALID_BODY: Final = "invalid_body"
BODY_TOO_LARGE: Final = "body_too_large"
RATE_LIMITED: Final = "rate_limited"

FILE_ID_LENGTH: Final = 36
CHUNK_TYPE: Final = 0x02
CHUNK_HEADER: Final = 1 + FILE_ID_LENGTH + 4  # type, fileId, uint32 chunk index
INT64_MAX: Final = 2**63 - 1  # every number the door takes must fit the store and the gRPC door
# The payload of a JSON publish without ``data``: an empty JSON text, which no JSON
# value is. Its message frame has no ``data`` key.
NO_DATA: Final = b""
# The slow paths (lone surrogates, data nested deeper than orjson writes) scan a frame
# with regular expressions, some ten times slower than orjson on hostile input: they
# are taken for frames up to this size only, so that no frame costs the event loop
# more than a few tens of ms. Larger such frames are refused (legit ones are small
# plaintext messages: E2E data is base64).
LENIENT_MAX_BYTES: Final = 256 * 1024

_dumps = orjson.dumps
_loads = orjson.loads


# ---------------------------------------------------------------------- commands
# Plain (not frozen) slotted dataclasses: a frozen one's __init__ costs a
# object.__setattr__ per field, on the path of every publish and ack.


@dataclass(slots=True)
class Init:
    session_name: str
    password: str
    user_id: str | None = None
    client_id: str | None = None


@dataclass(slots=True)
class Subscribe:
    topic: str | None  # None: missing, answered by the core's topic check
    persistent: bool = False


@dataclass(slots=True)
class Unsubscribe:
    topic: str | None


@dataclass(slots=True)
class Publish:
    topic: str | None
    payload: bytes
    json: bool
    hash: Hash = ABSENT
    timestamp_ms: int = 0
    message_id: str = ""


@dataclass(slots=True)
class Ack:
    message_id: str
    topic: str | None = None


@dataclass(slots=True)
class FileSignal:
    """``init_file`` or ``end_file``: forwarded verbatim (``raw``) to the topic's other
    subscribers."""

    kind: str
    topic: str
    file_id: str
    raw: bytes


@dataclass(slots=True)
class Chunk:
    """A binary file-chunk frame (legacy-json.md §5), relayed byte-identical."""

    file_id: str
    frame: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """Fail the connection: close the socket with ``code`` and nothing more."""

    code: int
    reason: bytes


INVALID_UTF8: Final = Close(1007, b"Invalid UTF-8 in a text frame")

Command = Init | Subscribe | Unsubscribe | Publish | Ack | FileSignal | Chunk | Close


# ---------------------------------------------------------------------- replies


def error_reply(message: str, code: str) -> bytes:
    """An error frame without ``type``: ``{"error":E,"code":C}``."""
    return _dumps({"error": message, "code": code})


def file_error(message: str, code: str) -> bytes:
    """A file-relay error: ``{"type":"error","error":E,"code":C}``."""
    return _dumps({"type": "error", "error": message, "code": code})


NOT_INITIALIZED: Final = error_reply("Not initialized", ErrorCode.NOT_INITIALIZED)
INVALID_FRAME: Final = error_reply("Invalid frame", ErrorCode.INVALID_FRAME)
UNKNOWN_MESSAGE_TYPE: Final = error_reply("Unknown message type", UNKNOWN_TYPE)
INTERNAL_ERROR: Final = error_reply("Internal server error", ErrorCode.INTERNAL)
MISSING_TOPIC_OR_FILE_ID: Final = file_error("Missing topic or fileId", ErrorCode.INVALID_FIELD)

_UNSUPPORTED_MESSAGE = "Push notifications are not supported"
UNSUPPORTED: Final[dict[str, bytes]] = {
    request: _dumps({"type": reply, "success": False, "error": _UNSUPPORTED_MESSAGE, "code": ErrorCode.UNSUPPORTED})
    for request, reply in (
        ("register_fcm_token", "fcm_token_response"),
        ("unregister_fcm_token", "fcm_unregister_response"),
        ("get_registered_devices", "registered_devices_response"),
    )
}


def invalid_field(name: str) -> bytes:
    return error_reply(f"Invalid field: {name}", ErrorCode.INVALID_FIELD)


def init_ok(session_name: str) -> bytes:
    return _dumps({"type": "init_response", "success": True, "sessionName": session_name})


def init_error(err: BrokerError) -> bytes:
    return _dumps({"type": "init_response", "success": False, "error": err.message, "code": err.code})


def _field_error(name: str) -> BrokerError:
    return BrokerError(ErrorCode.INVALID_FIELD, f"Invalid field: {name}")


def _topic_reply(kind: str, topic: str | None, err: BrokerError | None) -> bytes:
    reply: dict[str, Any] = {"type": kind, "success": err is None}
    if topic is not None:
        reply["topic"] = topic
    if err is not None:
        reply["error"] = err.message
        reply["code"] = err.code
    return _dumps(reply)


def subscribe_reply(topic: str | None, err: BrokerError | None = None) -> bytes:
    return _topic_reply("subscribe_response", topic, err)


def unsubscribe_reply(topic: str | None, err: BrokerError | None = None) -> bytes:
    return _topic_reply("unsubscribe_response", topic, err)


def publish_ok(message_id: str, delivered_to: int) -> bytes:
    return _dumps({"type": "publish_response", "success": True, "messageId": message_id, "deliveredTo": delivered_to})


def publish_error(message_id: str, err: BrokerError) -> bytes:
    reply: dict[str, Any] = {"type": "publish_response", "success": False}
    if message_id:
        reply["messageId"] = message_id
    reply["error"] = err.message
    reply["code"] = err.code
    return _dumps(reply)


def ack_received(message_id: str, topic: str, remaining: int) -> bytes:
    return _dumps({"type": "ack_received", "messageId": message_id, "topic": topic, "remaining": remaining})


def log_line(line: str, timestamp_ms: int) -> bytes:
    """A line of the session log stream (legacy-json.md §7): no messageId, never ACKed."""
    return _dumps({"type": "log", "data": line, "timestamp": timestamp_ms})


def _is_json_with_lone_surrogates(payload: bytes) -> bool:
    """Whether ``payload``, which orjson refused, is one JSON value once lone surrogate
    escapes are allowed (a ``data`` the door kept as raw text)."""
    if len(payload) > LENIENT_MAX_BYTES:
        return False
    try:
        _loads(_blank_lone_surrogates(payload))
    except orjson.JSONDecodeError:
        return False
    return True


def _data_value(message: Message) -> tuple[Any, bool]:
    """The ``data`` value for a payload, and whether it had to be base64-encoded.

    A payload published as a JSON value goes back as that value; any other payload is
    a string: its UTF-8 text, or (bytes that are not UTF-8, published over gRPC) its
    base64 form, flagged with ``"encoding":"base64"``."""
    payload = message.payload
    if message.json:
        try:
            _loads(payload)
        except orjson.JSONDecodeError:
            is_json = _is_json_with_lone_surrogates(payload)
        else:
            is_json = True
        if is_json:  # else a gRPC client set the flag wrongly: send it as bytes
            return orjson.Fragment(payload), False
    try:
        return payload.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(payload).decode("ascii"), True


def message_frame(message: Message, retry: int = 0) -> bytes:
    """``{"type":"message","topic":T,"data":D,"hash":H,"timestamp":TS,"messageId":M}``,
    plus ``"retry":K`` on a re-send. ``hash`` is as it was published: left out when
    the publish had none, null or a string as given (§9); so is ``data`` (``NO_DATA``).
    A message on a dead-letter topic carries ``"deadLetter":{...}`` (``dead_letter``)."""
    frame: dict[str, Any] = {"type": "message", "topic": message.topic}
    b64 = False
    if not (message.json and message.payload == NO_DATA):
        frame["data"], b64 = _data_value(message)
    if message.hash is not ABSENT:
        frame["hash"] = message.hash
    frame["timestamp"] = message.timestamp_ms
    frame["messageId"] = message.id
    if retry:
        frame["retry"] = retry
    if b64:
        frame["encoding"] = "base64"
    if message.attributes:
        dead = dead_letter(message.attributes)
        if dead is not None:
            frame["deadLetter"] = dead
    return _dumps(frame)


def dead_letter(attributes: Mapping[str, str]) -> dict[str, Any] | None:
    """The ``deadLetter`` object of a ``message`` frame (see core/deadletter.py), or
    None for a message that is no dead letter: ``topic``, ``messageId``, ``reason``,
    ``attempts``, ``subscriber`` (the client id; null without one) and ``time`` (Unix
    ms). Old clients ignore the key; the gRPC door carries the same as attributes."""
    topic = attributes.get(deadletter.TOPIC)
    if topic is None:
        return None
    return {
        "topic": topic,
        "messageId": attributes.get(deadletter.MESSAGE_ID, ""),
        "reason": attributes.get(deadletter.REASON, ""),
        "attempts": int(attributes.get(deadletter.ATTEMPTS) or 0),
        "subscriber": attributes.get(deadletter.SUBSCRIBER) or None,
        "time": int(attributes.get(deadletter.TIME_MS) or 0),
    }


# ---------------------------------------------------------------------- decoding


class _InvalidField(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


class _RawJson:
    """A ``data`` value kept as the client's JSON text (see ``_lenient``)."""

    __slots__ = ("text",)

    def __init__(self, text: bytes) -> None:
        self.text = text


# Stands in for a field whose value cannot be decoded (a lone surrogate outside
# ``data``): it is no type a field accepts, so reading that field refuses it.
_UNUSABLE: Final = object()


def _opt_str(obj: dict[str, Any], name: str) -> str | None:
    """A string field that may be missing (or null)."""
    value = obj.get(name)
    if value is None or type(value) is str:
        return value
    raise _InvalidField(name)


def _opt_int(obj: dict[str, Any], name: str) -> int:
    """A non-negative int64 field (JSON numbers with no fraction count); 0 if missing."""
    value = obj.get(name)
    if value is None:
        return 0
    if type(value) is int and 0 <= value <= INT64_MAX:
        return value
    if type(value) is float and value.is_integer() and 0 <= value <= INT64_MAX:
        return int(value)
    raise _InvalidField(name)


def _opt_bool(obj: dict[str, Any], name: str, default: bool) -> bool:
    value = obj.get(name)
    if value is None:
        return default
    if type(value) is bool:
        return value
    raise _InvalidField(name)


# The common cases (a string messageId, string data, an int timestamp) are checked
# inline by _parse_publish; these take the rest.


def _timestamp(value: Any) -> int:
    """``timestamp`` in ms (§9): a fraction is truncated (``performance.now()``- and
    ``time.time()*1000``-based clients send one); 0, null or missing is 0, which the
    core takes as "use the server's clock"; negative, not a number, or past int64 is
    refused."""
    if value is None:
        return 0
    kind = type(value)
    if (kind is int or kind is float) and 0 <= value <= INT64_MAX:
        return int(value)
    raise _InvalidField("timestamp")


def _message_id(value: Any) -> str:
    """``messageId``: a string, or an integer taken as its decimal string (§9); "" if
    missing (the core makes one)."""
    if value is None:
        return ""
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    raise _InvalidField("messageId")


_ABSENT: Final = object()


def _json_payload(data: Any, raw: bytes) -> bytes:
    """The payload of a publish whose ``data`` is not a string: its JSON text."""
    if data is _ABSENT:
        return NO_DATA
    if type(data) is _RawJson:
        return data.text
    try:
        return _dumps(data)
    except orjson.JSONEncodeError:
        # Nested deeper than orjson writes: relay the client's own text of it.
        if len(raw) > LENIENT_MAX_BYTES:
            raise _InvalidField("data") from None
        start, end = _spans(raw)["data"]
        return raw[start:end]


# -- frames orjson refuses

# Finding lone surrogate escapes takes three substitutions, each a plain C-speed scan
# for a literal (a pattern with a look-behind is tried at every byte, ten times slower
# on a large frame): escaped backslashes are masked first, so every "\u" left is a
# real escape; then valid high+low pairs; then every surrogate escape still there is
# a lone one. All keep the length, so positions stay comparable.
_ESCAPED_BACKSLASH = re.compile(rb"\\\\")
_SURROGATE_PAIR = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _blank_lone_surrogates(text: bytes) -> bytes:
    """``text`` with each lone surrogate escape replaced by ``\\u0000``, which orjson
    decodes; byte offsets are unchanged."""
    masked = _SURROGATE_PAIR.sub(b"_" * 12, _ESCAPED_BACKSLASH.sub(b"__", text))
    blanked = _SURROGATE.sub(rb"\\u0000", masked)
    if blanked == masked:
        return text
    # ``masked`` and ``blanked`` differ only at the lone escapes, where ``text`` is
    # ``masked``: carry just those differences over to ``text``.
    size = len(text)
    diff = int.from_bytes(masked, "big") ^ int.from_bytes(blanked, "big")
    return (int.from_bytes(text, "big") ^ diff).to_bytes(size, "big")


_WS = re.compile(rb"[ \t\n\r]*")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NESTED = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)  # strings skipped whole
_SCALAR = re.compile(rb"[^,\]}\s]*")
_OPEN, _CLOSE_BRACKETS = frozenset(b"[{"), frozenset(b"]}")


def _value_end(text: bytes, start: int) -> int:
    first = text[start]
    if first == 0x22:  # "
        return _STRING.match(text, start).end()  # type: ignore[union-attr]
    if first in _OPEN:
        depth = 0
        for token in _NESTED.finditer(text, start):
            char = text[token.start()]
            if char in _OPEN:
                depth += 1
            elif char in _CLOSE_BRACKETS:
                depth -= 1
                if depth == 0:
                    return token.end()
    return _SCALAR.match(text, start).end()  # type: ignore[union-attr]


def _spans(text: bytes) -> dict[str, tuple[int, int]]:
    """Where each top-level value of ``text`` starts and ends; ``text`` is one JSON
    object that orjson has accepted. Without recursion, so any depth is fine. A key
    given twice: its last value, as JSON parsers take it."""
    spans: dict[str, tuple[int, int]] = {}
    i = _WS.match(text).end() + 1  # type: ignore[union-attr]  # past "{"
    while True:
        i = _WS.match(text, i).end()  # type: ignore[union-attr]
        if text[i] == 0x7D:  # "}": the object is empty
            return spans
        key = _STRING.match(text, i)
        assert key is not None
        i = _WS.match(text, key.end()).end() + 1  # type: ignore[union-attr]  # past ":"
        start = _WS.match(text, i).end()  # type: ignore[union-attr]
        end = _value_end(text, start)
        spans[_loads(key.group())] = (start, end)
        i = _WS.match(text, end).end()  # type: ignore[union-attr]
        if text[i] == 0x7D:
            return spans
        i += 1  # past ","


def _lenient(data: bytes) -> dict[str, Any] | bytes | Close:
    """The slow path, for a frame orjson refused: not UTF-8 (``INVALID_UTF8``), lone
    surrogate escapes (the object, with ``data`` kept as raw text and any other field
    holding one made unusable), or not a JSON object (``INVALID_FRAME``)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return INVALID_UTF8
    if len(data) > LENIENT_MAX_BYTES:
        return INVALID_FRAME
    blanked = _blank_lone_surrogates(data)
    if blanked == data:
        return INVALID_FRAME
    try:
        obj = _loads(blanked)
    except orjson.JSONDecodeError:
        return INVALID_FRAME
    if type(obj) is not dict:
        return INVALID_FRAME
    for key, (start, end) in _spans(blanked).items():
        if blanked[start:end] != data[start:end]:
            obj[key] = _RawJson(data[start:end]) if key == "data" else _UNUSABLE
    return obj


# -- decoding


def parse_text(data: bytes, initialized: bool) -> Command | bytes | None:
    """Decode one control frame (the payload of a text frame, or of a binary frame
    holding a JSON object)."""
    try:
        obj = _loads(data)
    except orjson.JSONDecodeError:
        obj = _lenient(data)
        if type(obj) is not dict:
            return obj  # type: ignore[return-value]
    if type(obj) is not dict:
        return INVALID_FRAME
    kind = obj.get("type")
    try:
        # The two frames of every message (a publish, its subscriber's ack) first, read
        # here without a call per field; the rest through _parse_object.
        if kind == "publish" and initialized:
            return _parse_publish(obj, data)
        if kind == "ack" and initialized:
            message_id = obj.get("messageId")
            if type(message_id) is not str:
                message_id = _message_id(message_id)
            if not message_id:
                raise _InvalidField("messageId")
            topic = obj.get("topic")
            if topic is not None and type(topic) is not str:
                raise _InvalidField("topic")
            return Ack(message_id, topic)
        if kind is None or kind == "":
            return INVALID_FRAME
        if type(kind) is not str:
            return invalid_field("type")
        return _parse_object(kind, obj, data, initialized)
    except _InvalidField as bad:
        return invalid_field(bad.name)


def _parse_publish(obj: dict[str, Any], raw: bytes) -> Publish | bytes:
    """A publish, or the publish_response refusing it: a refused publish is always
    answered in a form the client can match to it (§9). Fields are checked in the
    order messageId, data, timestamp, topic, hash (the first bad one is named)."""
    message_id = obj.get("messageId")
    if type(message_id) is not str:
        try:
            message_id = _message_id(message_id)
        except _InvalidField as bad:
            return publish_error("", _field_error(bad.name))
    data = obj.get("data", _ABSENT)
    try:
        if type(data) is str:
            payload, is_json = data.encode("utf-8"), False
        else:
            payload, is_json = _json_payload(data, raw), True
        timestamp = obj.get("timestamp")
        if type(timestamp) is not int or timestamp <= 0 or timestamp > INT64_MAX:
            timestamp = _timestamp(timestamp)
    except _InvalidField as bad:
        return publish_error(message_id, _field_error(bad.name))
    topic = obj.get("topic")
    if topic is not None and type(topic) is not str:
        return publish_error(message_id, _field_error("topic"))
    hash_ = obj.get("hash", ABSENT)  # missing, null, "" and any other string are each relayed as such (§9)
    if hash_ is not ABSENT and hash_ is not None and type(hash_) is not str:
        return publish_error(message_id, _field_error("hash"))
    return Publish(topic, payload, is_json, hash_, timestamp, message_id)


def _parse_init(obj: dict[str, Any]) -> Init | bytes:
    """An init, or the init_response refusing it: every init gets one (§9). A
    non-string ``userId`` is accepted and not used, as the old server never used it."""
    user_id = obj.get("userId")
    try:
        return Init(
            _opt_str(obj, "sessionName") or "",
            _opt_str(obj, "password") or "",
            user_id if type(user_id) is str else None,
            _opt_str(obj, "clientId") or None,
        )
    except _InvalidField as bad:
        return init_error(_field_error(bad.name))


def _parse_object(kind: str, obj: dict[str, Any], raw: bytes, initialized: bool) -> Command | bytes | None:
    """Any frame but a publish or an ack on an initialized socket (``parse_text``)."""
    if kind == "publish":
        return NOT_INITIALIZED
    if kind == "ack":
        return None
    if kind == "subscribe":
        if not initialized:
            return NOT_INITIALIZED
        return Subscribe(_opt_str(obj, "topic"), _opt_bool(obj, "persistent", False))
    if kind == "unsubscribe":
        if not initialized:
            return NOT_INITIALIZED
        return Unsubscribe(_opt_str(obj, "topic"))
    if kind == "init":
        return _parse_init(obj)
    if kind == "init_file" or kind == "end_file":
        if not initialized:
            return NOT_INITIALIZED
        topic = _opt_str(obj, "topic")
        file_id = _opt_str(obj, "fileId")
        if not topic or not file_id:
            return MISSING_TOPIC_OR_FILE_ID
        if len(file_id) != FILE_ID_LENGTH or not file_id.isascii():
            raise _InvalidField("fileId")
        return FileSignal(kind, topic, file_id, raw)
    unsupported = UNSUPPORTED.get(kind)
    if unsupported is not None:
        return unsupported
    return UNKNOWN_MESSAGE_TYPE


def parse_binary(data: bytes, initialized: bool) -> Command | bytes | None:
    """Decode a binary frame: a file chunk when its first byte is 0x02, else a JSON
    control object sent as binary (leading whitespace and all). Anything else is
    dropped (``None``), never answered."""
    if data[:1] != b"\x02":
        cmd = parse_text(data, initialized)
        if cmd is INVALID_FRAME or cmd is INVALID_UTF8:
            return None  # not a JSON object: binary junk
        return cmd
    if not initialized or len(data) < CHUNK_HEADER:
        return None
    file_id = data[1 : 1 + FILE_ID_LENGTH]
    if not file_id.isascii():
        return None
    return Chunk(file_id.decode("ascii"), data)


def chunk_index(frame: bytes) -> int:
    """The chunk index of a file-chunk frame (for logs and tests)."""
    return int(struct.unpack_from(">I", frame, 1 + FILE_ID_LENGTH)[0])


# ---------------------------------------------------------------------- WebSocket framing

_OP_TEXT = 0x81  # FIN + text
_OP_BINARY = 0x82  # FIN + binary
_OP_PING = 0x89  # FIN + ping
_OP_PONG = 0x8A  # FIN + pong
_OP_CLOSE = 0x88  # FIN + close
_LEN2 = struct.Struct("!BBH").pack
_LEN8 = struct.Struct("!BBQ").pack


# The two-byte head of a text frame of each length up to 125, looked up rather than
# built: most of what the door writes (results, ack_received) is that short.
_TEXT_HEADS: Final = tuple(bytes((_OP_TEXT, n)) for n in range(126))


def _frame(first: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((first, n)) + payload
    if n < 65536:
        return _LEN2(first, 126, n) + payload
    return _LEN8(first, 127, n) + payload


def text_frame(payload: bytes) -> bytes:
    """A complete unmasked server-to-client WebSocket text frame (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        return _TEXT_HEADS[n] + payload
    if n < 65536:
        return _LEN2(_OP_TEXT, 126, n) + payload
    return _LEN8(_OP_TEXT, 127, n) + payload


def binary_frame(payload: bytes) -> bytes:
    """A complete unmasked server-to-client WebSocket binary frame."""
    return _frame(_OP_BINARY, payload)


PING_FRAME = _frame(_OP_PING, b"")


def pong_frame(payload: bytes) -> bytes:
    """The answer to a client's ping: a pong echoing its payload (RFC 6455 §5.5.3)."""
    return _frame(_OP_PONG, payload)


def close_frame(code: int, reason: bytes = b"") -> bytes:
    """A close frame: the status code, then the reason (RFC 6455 §5.5.1; at most 123
    bytes of it, see ``peer.close_reason``)."""
    return _frame(_OP_CLOSE, struct.pack("!H", code) + reason)


# ---------------------------------------------------------------------- REST bodies


class RestError(Exception):
    """A REST request refused before it reached the core: status, message, code."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def rest_error(message: str, code: str) -> bytes:
    return _dumps({"success": False, "error": message, "code": code})


def parse_body(body: bytes) -> dict[str, Any]:
    """A REST body: a JSON object. An empty body counts as ``{}``."""
    if not body.strip():
        return {}
    try:
        obj = _loads(body)
    except orjson.JSONDecodeError:
        raise RestError(400, "Invalid JSON body", INVALID_BODY) from None
    if type(obj) is not dict:
        raise RestError(400, "Request body must be a JSON object", INVALID_BODY)
    return obj


def _duration(body: dict[str, Any], name: str) -> int:
    """A duration in ms; missing, null or 0 means the default. Digit strings are taken
    too: the old server passed them to setTimeout, which accepts them."""
    value = body.get(name)
    if value is None:
        return 0
    if type(value) is str and value.isascii() and value.isdigit():
        return int(value)
    try:
        return _opt_int(body, name)
    except _InvalidField:
        raise RestError(400, f"Invalid field: {name}", ErrorCode.INVALID_FIELD) from None


def parse_create_session(body: dict[str, Any]) -> SessionSpec:
    name, password = body.get("sessionName"), body.get("password")
    if not name or not password:
        raise RestError(400, "sessionName and password are required", ErrorCode.INVALID_FIELD)
    for field, value in (("sessionName", name), ("password", password)):
        if type(value) is not str:
            raise RestError(400, f"Invalid field: {field}", ErrorCode.INVALID_FIELD)
    return SessionSpec(
        name=name,
        password=password,
        retry_interval_ms=_duration(body, "retryInterval"),
        max_retry_limit=_duration(body, "maxRetryLimit"),
        message_expiry_ms=_duration(body, "messageExpiryTime"),
        session_expiry_ms=_duration(body, "sessionExpiry"),
        max_remembered_ids=_duration(body, "maxRememberedIds"),
        dead_letter_topic=_optional_string(body, "deadLetterTopic"),
        limits=Limits(**{name: _limit(body, key) for name, key in LIMIT_KEYS.items()}),
    )


def _optional_string(body: dict[str, Any], name: str) -> str:
    """A createSession string setting; missing or null is "" (off)."""
    value = body.get(name)
    if value is None:
        return ""
    if type(value) is not str:
        raise RestError(400, f"Invalid field: {name}", ErrorCode.INVALID_FIELD)
    return value


def _limit(body: dict[str, Any], name: str) -> int:
    """A createSession limit: a non-negative integer; missing, null or 0 is the default."""
    value = body.get(name)
    if value is None:
        return 0
    if type(value) is not int or value < 0:
        raise RestError(400, f"Invalid field: {name}", ErrorCode.INVALID_FIELD)
    return value


def parse_credentials(body: dict[str, Any]) -> tuple[str, str, str]:
    """``sessionName``, ``password``, ``secretKey`` of drop/suspend/resume ("" if missing)."""
    values = []
    for field in ("sessionName", "password", "secretKey"):
        value = body.get(field)
        if value is None:
            value = ""
        elif type(value) is not str:
            raise RestError(400, f"Invalid field: {field}", ErrorCode.INVALID_FIELD)
        values.append(value)
    return values[0], values[1], values[2]


def parse_suspend(body: dict[str, Any]) -> bool:
    """``suspend`` of /api/suspendSession; false when missing, as the old server took it
    (its clients that meant to suspend always sent ``true``)."""
    value = body.get("suspend", False)
    if type(value) is not bool:
        raise RestError(400, "Invalid field: suspend", ErrorCode.INVALID_FIELD)
    return value


def create_session_ok(name: str, password: str, secret_key: str) -> bytes:
    return _dumps({"success": True, "sessionName": name, "password": password, "secretKey": secret_key})
