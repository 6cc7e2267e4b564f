"""LegacyConnection without sockets: frames in, frames and waits out, state transitions,
every error reply. A real Broker on the other side (the embedded engine, memory store,
manual clock); a recording ``Output`` in place of the socket."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest

from fastport.core import Broker, BrokerConfig, ManualClock, SessionSpec
from fastport.engines.embedded import EmbeddedEngine
from fastport.store.memory import MemoryStore
from fastport.web import codec, legacy
from fastport.web.legacy import BINARY, PING, PONG, TEXT, LegacyConnection, State
from fastport.web.peer import LegacyPeer

FILE_ID = "0123456789abcdef0123456789abcdef0123"


class Output(LegacyPeer):
    """Records what the connection writes; ``pending`` plays the unread bytes."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.closed = False
        self.pending = 0
        self.reading = True
        self.held: list[bytes] | None = None
        self.shut_with: tuple[int, bytes] | None = None
        self.aborted = False
        self.room = asyncio.Event()
        self.room.set()

    def send(self, frame: bytes) -> None:
        if not self.closed:
            self.frames.append(frame)

    def reply(self, payload: bytes) -> None:
        self.send(codec.text_frame(payload))

    def relay(self, frame: bytes) -> bool:
        if self.held is not None:
            self.held.append(frame)
        else:
            self.send(frame)
        return True

    def buffered(self) -> int:
        return self.pending

    @property
    def paused(self) -> bool:
        return self.pending > 0

    def hold(self) -> None:
        self.held = []

    def release(self) -> None:
        held, self.held = self.held or [], None
        for frame in held:
            self.send(frame)

    async def drained(self, timeout: float | None = None) -> bool:
        await self.room.wait()
        self.pending = 0
        return True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def shut(self, code: int, reason: bytes) -> None:
        self.closed = True
        self.shut_with = (code, reason)

    def abort(self) -> None:
        self.closed = self.aborted = True

    # reading what was written
    def take(self) -> list[tuple[int, Any]]:
        """(opcode, payload) of each frame written since the last take; JSON decoded."""
        out = []
        for frame in self.frames:
            opcode, n, at = frame[0] & 0x0F, frame[1] & 0x7F, 2
            if n == 126:
                (n,), at = struct.unpack_from("!H", frame, 2), 4
            elif n == 127:
                (n,), at = struct.unpack_from("!Q", frame, 2), 10
            payload = frame[at : at + n]
            out.append((opcode, orjson.loads(payload) if opcode == TEXT else payload))
        self.frames.clear()
        return out

    def replies(self) -> list[Any]:
        return [payload for opcode, payload in self.take() if opcode == TEXT]


Open = Callable[..., Awaitable[LegacyConnection]]


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    clock = ManualClock()
    b = Broker(EmbeddedEngine(MemoryStore(), clock), clock, BrokerConfig(max_payload_bytes=1024))
    await b.start()
    await b.create_session(SessionSpec(name="s1", password="pw"))
    await b.create_session(SessionSpec(name="s2", password="pw"))
    try:
        yield b
    finally:
        await b.stop()


def text(obj: object) -> bytes:
    return orjson.dumps(obj)


async def settle() -> None:
    """Let the store commit what was published (the memory store answers on the loop)."""
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.fixture
def connection(broker: Broker) -> Open:
    """``await connection("s1", "topic", ...)``: initialized, subscribed, output cleared."""

    async def open_(session: str | None = "s1", *topics: str) -> LegacyConnection:
        conn = LegacyConnection(broker, Output(), "127.0.0.1:1")  # type: ignore[arg-type]
        if session is not None:
            assert conn.receive(TEXT, text({"type": "init", "sessionName": session, "password": "pw"}))
            await conn.work()
        for topic in topics:
            conn.receive(TEXT, text({"type": "subscribe", "topic": topic}))
        out(conn).take()
        return conn

    return open_


def out(conn: LegacyConnection) -> Output:
    return conn.output  # type: ignore[return-value]


def chunk(file_id: str = FILE_ID, index: int = 0, body: bytes = b"\x00" * 32) -> bytes:
    return bytes([codec.CHUNK_TYPE]) + file_id.encode() + struct.pack(">I", index) + body


def init_file(topic: str = "files", file_id: str = FILE_ID) -> dict[str, Any]:
    return {"type": "init_file", "topic": topic, "fileId": file_id, "fileName": "a.bin", "fileSize": 32,
            "totalChunks": 1}


# ---------------------------------------------------------------------- init


async def test_init_keeps_later_frames_back_until_it_is_answered(connection: Open) -> None:
    conn = await connection(None)
    assert conn.state is State.AWAITING_INIT
    assert conn.receive(TEXT, text({"type": "init", "sessionName": "s1", "password": "pw"})) is True
    assert conn.state is State.INITIALIZING
    assert conn.receive(TEXT, text({"type": "subscribe", "topic": "a"})) is False
    assert conn.receive(PING, b"p") is False
    assert out(conn).reading is False and out(conn).take() == []
    await conn.work()
    assert conn.state is State.READY and out(conn).reading is True
    assert out(conn).take() == [
        (TEXT, {"type": "init_response", "success": True, "sessionName": "s1"}),
        (TEXT, {"type": "subscribe_response", "success": True, "topic": "a"}),
        (PONG, b"p"),
    ]


@pytest.mark.parametrize(
    "frame, error, code",
    [
        ({"sessionName": "nope", "password": "pw"}, "Session not found", "session_not_found"),
        ({"sessionName": "s1", "password": "bad"}, "Invalid password", "invalid_password"),
        ({"sessionName": "s1", "password": 1234}, "Invalid field: password", "invalid_field"),
    ],
)
async def test_a_refused_init_is_answered_and_leaves_the_socket_open(
    connection: Open, frame: dict[str, Any], error: str, code: str
) -> None:
    conn = await connection(None)
    if conn.receive(TEXT, text({"type": "init", **frame})):
        await conn.work()
    [reply] = out(conn).replies()
    assert reply == {"type": "init_response", "success": False, "error": error, "code": code}
    assert conn.state is State.AWAITING_INIT and not out(conn).closed


async def test_a_refused_re_init_keeps_the_session(connection: Open, broker: Broker) -> None:
    conn = await connection("s1")
    assert conn.receive(TEXT, text({"type": "init", "sessionName": "s2", "password": "bad"}))
    await conn.work()
    assert out(conn).replies()[0]["success"] is False
    assert conn.state is State.READY and conn.conn.session is not None and conn.conn.session.name == "s1"


async def test_an_init_into_a_suspended_session_is_refused(connection: Open, broker: Broker) -> None:
    await broker.set_suspended("s2", True)
    conn = await connection(None)
    assert conn.receive(TEXT, text({"type": "init", "sessionName": "s2", "password": "pw"}))
    await conn.work()
    assert out(conn).replies() == [
        {"type": "init_response", "success": False, "error": "Session is suspended", "code": "session_suspended"}
    ]


# ---------------------------------------------------------------------- frames


async def test_frames_before_init_are_not_initialized(connection: Open, broker: Broker) -> None:
    conn = await connection(None)
    for frame in ({"type": "subscribe", "topic": "a"}, {"type": "publish", "topic": "a", "data": "x"}, init_file()):
        assert conn.receive(TEXT, text(frame)) is False
    assert out(conn).replies() == [{"error": "Not initialized", "code": "not_initialized"}] * 3
    assert conn.receive(TEXT, text({"type": "ack", "messageId": "m"})) is False  # ignored before init
    assert out(conn).take() == []


@pytest.mark.parametrize(
    "data, reply",
    [
        (b"{not json", {"error": "Invalid frame", "code": "invalid_frame"}),
        (b"[1,2]", {"error": "Invalid frame", "code": "invalid_frame"}),
        (b'{"type":""}', {"error": "Invalid frame", "code": "invalid_frame"}),
        (b'{"type":"what"}', {"error": "Unknown message type", "code": "unknown_type"}),
        (b'{"type":"subscribe","topic":5}', {"error": "Invalid field: topic", "code": "invalid_field"}),
        (b'{"type":"register_fcm_token"}', {"type": "fcm_token_response", "success": False,
                                            "error": "Push notifications are not supported", "code": "unsupported"}),
    ],
)
async def test_refused_frames_get_their_error_and_are_counted(
    connection: Open, broker: Broker, data: bytes, reply: dict[str, Any]
) -> None:
    conn = await connection("s1")
    assert conn.receive(TEXT, data) is False
    assert out(conn).replies() == [reply]
    assert conn.state is State.READY


async def test_a_control_object_in_a_binary_frame_is_control(connection: Open) -> None:
    conn = await connection("s1")
    conn.receive(BINARY, b' {"type":"subscribe","topic":"b"}')
    assert out(conn).replies() == [{"type": "subscribe_response", "success": True, "topic": "b"}]


async def test_pings_are_answered_and_pongs_are_not(connection: Open) -> None:
    conn = await connection(None)
    conn.receive(PING, b"hello")
    conn.receive(PONG, b"")
    assert out(conn).take() == [(PONG, b"hello")]


async def test_subscribe_unsubscribe_and_their_refusals(connection: Open) -> None:
    conn = await connection("s1")
    conn.receive(TEXT, text({"type": "subscribe", "topic": "a/#"}))
    conn.receive(TEXT, text({"type": "subscribe", "topic": "a/#/b"}))
    conn.receive(TEXT, text({"type": "unsubscribe", "topic": "never"}))
    conn.receive(TEXT, text({"type": "unsubscribe", "topic": "a/+/#/x"}))
    [ok, bad, unsub, unsub_bad] = out(conn).replies()
    assert ok == {"type": "subscribe_response", "success": True, "topic": "a/#"}
    assert (bad["type"], bad["success"], bad["code"]) == ("subscribe_response", False, "invalid_topic")
    assert unsub == {"type": "unsubscribe_response", "success": True, "topic": "never"}
    assert (unsub_bad["success"], unsub_bad["code"]) == (False, "invalid_topic")


async def test_a_suspended_session_refuses_subscribe(connection: Open, broker: Broker) -> None:
    conn = await connection("s1")
    await broker.set_suspended("s1", True)
    conn.receive(TEXT, text({"type": "subscribe", "topic": "a"}))
    [reply] = out(conn).replies()
    assert (reply["success"], reply["code"]) == (False, "session_suspended")


async def test_publish_ack_and_ack_received(connection: Open) -> None:
    sub = await connection("s1", "t")
    pub = await connection("s1")
    pub.receive(TEXT, text({"type": "publish", "topic": "t", "data": "x", "hash": "h", "timestamp": 7,
                            "messageId": "m1"}))
    await settle()
    assert out(pub).replies() == [{"type": "publish_response", "success": True, "messageId": "m1", "deliveredTo": 1}]
    assert out(sub).replies() == [{"type": "message", "topic": "t", "data": "x", "hash": "h", "timestamp": 7,
                                   "messageId": "m1"}]
    sub.receive(TEXT, text({"type": "ack", "topic": "t", "messageId": "m1"}))
    assert out(pub).replies() == [{"type": "ack_received", "messageId": "m1", "topic": "t", "remaining": 0}]
    assert out(sub).take() == []  # an ack has no reply


async def test_a_refused_publish_is_answered_with_its_message_id(connection: Open) -> None:
    pub = await connection("s1")
    pub.receive(TEXT, text({"type": "publish", "topic": "t/#", "data": "x", "messageId": "m2"}))
    await settle()
    [reply] = out(pub).replies()
    assert (reply["success"], reply["messageId"], reply["code"]) == (False, "m2", "invalid_topic")


async def test_invalid_utf8_fails_the_connection_with_1007(connection: Open) -> None:
    conn = await connection("s1")
    assert conn.receive(TEXT, b'{"type":"\xff"}') is False
    assert out(conn).shut_with == (1007, b"Invalid UTF-8 in a text frame")
    assert conn.state is State.CLOSING
    assert conn.receive(TEXT, text({"type": "subscribe", "topic": "a"})) is False  # nothing more is handled
    assert out(conn).take() == []


async def test_a_failure_while_handling_is_an_internal_error(
    connection: Open, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = await connection("s1")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(broker, "subscribe", broken)
    conn.receive(TEXT, text({"type": "subscribe", "topic": "a"}))
    assert out(conn).replies() == [{"error": "Internal server error", "code": "internal"}]
    assert conn.state is State.READY


async def test_a_failing_init_is_an_internal_error(
    connection: Open, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(broker, "init", broken)
    conn = await connection(None)
    assert conn.receive(TEXT, text({"type": "init", "sessionName": "s1", "password": "pw"}))
    await conn.work()
    assert out(conn).replies() == [{"error": "Internal server error", "code": "internal"}]
    assert conn.state is State.AWAITING_INIT and out(conn).held is None


async def test_a_connection_the_broker_closed_handles_nothing_more(connection: Open, broker: Broker) -> None:
    conn = await connection("s1")
    await broker.drop_session("s1")
    assert out(conn).shut_with is not None
    assert conn.receive(TEXT, text({"type": "subscribe", "topic": "a"})) is False
    assert conn.state is State.CLOSING and out(conn).take() == []


async def test_end_leaves_the_broker_and_drops_a_wait_not_yet_run(connection: Open, broker: Broker) -> None:
    conn = await connection(None)
    assert conn.receive(TEXT, text({"type": "init", "sessionName": "s1", "password": "pw"}))
    conn.end()
    assert conn.state is State.CLOSING and conn.conn.closed
    await conn.work()  # nothing left to do
    assert out(conn).take() == []


# ---------------------------------------------------------------------- backpressure


async def test_replies_piling_up_unread_stop_the_reading_until_drained(connection: Open) -> None:
    conn = await connection("s1")
    out(conn).pending = legacy.READ_PAUSE_BYTES + 1
    out(conn).room.clear()
    assert conn.receive(TEXT, text({"type": "subscribe", "topic": "a"})) is True
    assert conn.state is State.DRAINING
    conn.receive(TEXT, text({"type": "subscribe", "topic": "b"}))
    assert out(conn).reading is False
    work = asyncio.ensure_future(conn.work())
    await settle()
    assert not work.done() and [r["topic"] for r in out(conn).replies()] == ["a"]
    out(conn).room.set()
    await work
    assert conn.state is State.READY and out(conn).reading is True
    assert [r["topic"] for r in out(conn).replies()] == ["b"]


# ---------------------------------------------------------------------- idle sweep


async def test_a_silent_socket_is_pinged_then_dropped(connection: Open) -> None:
    conn = await connection("s1")
    for _ in range(legacy.PING_AFTER_SWEEPS - 1):
        conn.tick()
    assert out(conn).take() == []
    conn.tick()
    assert out(conn).take() == [(PING, b"")]
    conn.receive(PONG, b"")  # a sign of life
    for _ in range(legacy.PING_AFTER_SWEEPS):
        conn.tick()
    assert not out(conn).aborted
    conn.tick()
    assert out(conn).aborted


async def test_the_sweep_leaves_an_init_in_progress_alone(connection: Open) -> None:
    conn = await connection(None)
    conn.receive(TEXT, text({"type": "init", "sessionName": "s1", "password": "pw"}))
    for _ in range(legacy.PING_AFTER_SWEEPS + 2):
        conn.tick()
    assert out(conn).take() == [] and not out(conn).aborted
    conn.end()


# ---------------------------------------------------------------------- file relay


async def test_a_file_is_relayed_to_the_other_subscribers_and_nothing_else(connection: Open) -> None:
    receiver = await connection("s1", "files")
    elsewhere = await connection("s2", "files")
    sender = await connection("s1", "files")
    raw = text(init_file())
    assert sender.receive(TEXT, raw) is False
    assert sender.receive(BINARY, chunk()) is False
    sender.receive(TEXT, text({"type": "end_file", "topic": "files", "fileId": FILE_ID, "hash": ""}))
    sender.receive(BINARY, chunk(index=1))  # after end_file: dropped
    sender.receive(BINARY, chunk(file_id="f" * 36))  # never announced: dropped
    assert out(sender).take() == []  # no replies on success
    got = out(receiver).take()
    assert got[0] == (TEXT, init_file()) and receiver.output.frames == []
    assert got[1] == (BINARY, chunk())
    assert got[2][1]["type"] == "end_file" and len(got) == 3
    assert out(elsewhere).take() == []


async def test_file_signals_refused_with_their_file_errors(connection: Open, broker: Broker) -> None:
    sender = await connection("s1")
    sender.receive(TEXT, text(init_file(topic="files/#")))
    sender.receive(TEXT, text({"type": "init_file", "topic": "files"}))
    [bad_topic, missing] = out(sender).replies()
    assert (bad_topic["type"], bad_topic["code"]) == ("error", "invalid_topic")
    assert missing == {"type": "error", "error": "Missing topic or fileId", "code": "invalid_field"}
    await broker.set_suspended("s1", True)
    sender.receive(TEXT, text(init_file()))
    assert out(sender).replies() == [
        {"type": "error", "error": "Session Invalid or Suspended", "code": "session_suspended"}
    ]


async def test_a_file_signal_in_a_session_that_is_gone_is_a_session_error(connection: Open, broker: Broker) -> None:
    """Unreachable over a socket (dropping a session closes its sockets first), but the
    documented reply exists."""
    sender = await connection("s1")
    session = sender.conn.session
    await broker.drop_session("s1")
    sender.conn.session = session
    sender.output.closed = False  # type: ignore[misc]
    sender._set_state(State.READY)
    sender.receive(TEXT, text(init_file()))
    assert out(sender).replies() == [{"type": "error", "error": "Session Error", "code": "session_not_found"}]


async def test_open_file_transfers_are_limited(connection: Open, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(legacy, "MAX_OPEN_FILES", 2)
    sender = await connection("s1")
    for i in range(3):
        sender.receive(TEXT, text(init_file(file_id=f"{i}" * 36)))
    sender.receive(TEXT, text(init_file(file_id="0" * 36)))  # announced again: no new transfer
    assert out(sender).replies() == [
        {"type": "error", "error": "At most 2 open file transfers", "code": "limit_exceeded"}
    ]


async def test_a_re_init_into_another_session_forgets_the_files(connection: Open) -> None:
    receiver = await connection("s1", "files")
    sender = await connection("s1")
    sender.receive(TEXT, text(init_file()))
    assert sender.receive(TEXT, text({"type": "init", "sessionName": "s2", "password": "pw"}))
    await sender.work()
    sender.receive(BINARY, chunk())
    assert [opcode for opcode, _ in out(receiver).take()] == [TEXT]  # the init_file, no chunk


async def test_a_chunk_for_a_congested_receiver_waits_for_it(connection: Open) -> None:
    receiver = await connection("s1", "files")
    sender = await connection("s1")
    sender.receive(TEXT, text(init_file()))
    out(receiver).take()
    out(receiver).pending = legacy.READ_PAUSE_BYTES + 1
    out(receiver).room.clear()
    assert sender.receive(BINARY, chunk()) is True
    assert sender.state is State.RELAYING
    sender.receive(TEXT, text({"type": "subscribe", "topic": "later"}))  # kept back
    for _ in range(legacy.PING_AFTER_SWEEPS + 2):
        sender.tick()  # a bounded wait: the sweep leaves it alone
    assert not out(sender).aborted
    work = asyncio.ensure_future(sender.work())
    await settle()
    assert not work.done() and out(sender).take() == []
    out(receiver).room.set()
    await work
    assert sender.state is State.READY
    assert out(receiver).take() == [(BINARY, chunk())]
    assert out(sender).replies() == [{"type": "subscribe_response", "success": True, "topic": "later"}]
