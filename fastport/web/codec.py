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
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import Any, Final

import orjson

from ..core.delivery import Message
from ..core.errors import BrokerError, ErrorCode
from ..core.session import SessionSpec

# Codes for errors that only the HTTP door can produce (the rest are ErrorCode values).
UNKNOWN_TYPE: Final = "unknown_type"
NOT_FOUND: Final = "not_found"
INVALID_BODY: Final = "invalid_body"
BODY_TOO_LARGE: Final = "body_too_large"
RATE_LIMITED: Final = "rate_limited"

FILE_ID_LENGTH: Final = 36
CHUNK_TYPE: Final = 0x02
CHUNK_HEADER: Final = 1 + FILE_ID_LENGTH + 4  # type, fileId, uint32 chunk index

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
    hash: str = ""
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


Command = Init | Subscribe | Unsubscribe | Publish | Ack | FileSignal | Chunk


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
FILE_SESSION_SUSPENDED: Final = file_error("Session Invalid or Suspended", ErrorCode.SESSION_SUSPENDED)
FILE_SESSION_ERROR: Final = file_error("Session Error", ErrorCode.SESSION_NOT_FOUND)

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
            pass  # not JSON after all (a gRPC client set the flag wrongly): send it as bytes
        else:
            return orjson.Fragment(payload), False
    try:
        return payload.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(payload).decode("ascii"), True


def message_frame(message: Message, retry: int = 0) -> bytes:
    """``{"type":"message","topic":T,"data":D,"hash":H,"timestamp":TS,"messageId":M}``,
    plus ``"retry":K`` on a re-send. An empty hash (none was given) is left out."""
    data, b64 = _data_value(message)
    frame: dict[str, Any] = {"type": "message", "topic": message.topic, "data": data}
    if message.hash:
        frame["hash"] = message.hash
    frame["timestamp"] = message.timestamp_ms
    frame["messageId"] = message.id
    if retry:
        frame["retry"] = retry
    if b64:
        frame["encoding"] = "base64"
    return _dumps(frame)


# ---------------------------------------------------------------------- decoding


class _InvalidField(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


def _opt_str(obj: dict[str, Any], name: str) -> str | None:
    """A string field that may be missing (or null)."""
    value = obj.get(name)
    if value is None or type(value) is str:
        return value
    raise _InvalidField(name)


def _opt_int(obj: dict[str, Any], name: str) -> int:
    """A non-negative integer field (JSON numbers with no fraction count); 0 if missing."""
    value = obj.get(name)
    if value is None:
        return 0
    if type(value) is int and value >= 0:
        return value
    if type(value) is float and value.is_integer() and 0 <= value < 2**63:
        return int(value)
    raise _InvalidField(name)


def _opt_bool(obj: dict[str, Any], name: str, default: bool) -> bool:
    value = obj.get(name)
    if value is None:
        return default
    if type(value) is bool:
        return value
    raise _InvalidField(name)


def parse_text(data: bytes | str, initialized: bool) -> Command | bytes | None:
    """Decode one control frame (the payload of a text frame, or of a binary frame
    holding a JSON object)."""
    try:
        obj = _loads(data)
    except orjson.JSONDecodeError:
        return INVALID_FRAME
    if type(obj) is not dict:
        return INVALID_FRAME
    kind = obj.get("type")
    if kind is None or kind == "":
        return INVALID_FRAME
    if type(kind) is not str:
        return invalid_field("type")
    try:
        return _parse_object(kind, obj, data, initialized)
    except _InvalidField as bad:
        return invalid_field(bad.name)


def _parse_object(kind: str, obj: dict[str, Any], raw: bytes | str, initialized: bool) -> Command | bytes | None:
    if kind == "publish":
        if not initialized:
            return NOT_INITIALIZED
        topic = _opt_str(obj, "topic")
        if "data" not in obj:
            raise _InvalidField("data")
        data = obj["data"]
        if type(data) is str:
            payload, is_json = data.encode("utf-8"), False
        else:
            payload, is_json = _dumps(data), True
        return Publish(
            topic,
            payload,
            is_json,
            hash=_opt_str(obj, "hash") or "",
            timestamp_ms=_opt_int(obj, "timestamp"),
            message_id=_opt_str(obj, "messageId") or "",
        )
    if kind == "ack":
        if not initialized:
            return None
        message_id = _opt_str(obj, "messageId")
        if message_id is None:
            raise _InvalidField("messageId")
        return Ack(message_id, _opt_str(obj, "topic"))
    if kind == "subscribe":
        if not initialized:
            return NOT_INITIALIZED
        return Subscribe(_opt_str(obj, "topic"), _opt_bool(obj, "persistent", False))
    if kind == "unsubscribe":
        if not initialized:
            return NOT_INITIALIZED
        return Unsubscribe(_opt_str(obj, "topic"))
    if kind == "init":
        return Init(
            _opt_str(obj, "sessionName") or "",
            _opt_str(obj, "password") or "",
            _opt_str(obj, "userId"),
            _opt_str(obj, "clientId") or None,
        )
    if kind == "init_file" or kind == "end_file":
        if not initialized:
            return NOT_INITIALIZED
        topic = _opt_str(obj, "topic")
        file_id = _opt_str(obj, "fileId")
        if not topic or not file_id:
            return MISSING_TOPIC_OR_FILE_ID
        if len(file_id) != FILE_ID_LENGTH or not file_id.isascii():
            raise _InvalidField("fileId")
        return FileSignal(kind, topic, file_id, raw.encode("utf-8") if isinstance(raw, str) else raw)
    unsupported = UNSUPPORTED.get(kind)
    if unsupported is not None:
        return unsupported
    return UNKNOWN_MESSAGE_TYPE


def parse_binary(data: bytes, initialized: bool) -> Command | bytes | None:
    """Decode a binary frame: a file chunk, or a JSON control object sent as binary.
    Anything else is dropped (``None``), never answered."""
    if data[:1] == b"{":
        try:
            obj = _loads(data)
        except orjson.JSONDecodeError:
            return None
        if type(obj) is dict:
            return parse_text(data, initialized)
        return None
    if not initialized or len(data) < CHUNK_HEADER or data[0] != CHUNK_TYPE:
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
_LEN2 = struct.Struct("!BBH").pack
_LEN8 = struct.Struct("!BBQ").pack


def _frame(first: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((first, n)) + payload
    if n < 65536:
        return _LEN2(first, 126, n) + payload
    return _LEN8(first, 127, n) + payload


def text_frame(payload: bytes) -> bytes:
    """A complete unmasked server-to-client WebSocket text frame (RFC 6455 §5.2)."""
    return _frame(_OP_TEXT, payload)


def binary_frame(payload: bytes) -> bytes:
    """A complete unmasked server-to-client WebSocket binary frame."""
    return _frame(_OP_BINARY, payload)


PING_FRAME = _frame(_OP_PING, b"")


def pong_frame(payload: bytes) -> bytes:
    """The answer to a client's ping: a pong echoing its payload (RFC 6455 §5.5.3)."""
    return _frame(_OP_PONG, payload)


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
    )


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
