"""One WebSocket's I/O: the transport's protocol once aiohttp has handed the upgraded
connection over (``handoff.take_over``), the sink of its frame parser, and the core's
view of the socket (``Peer``: encoded frames queued, written once per loop turn).

Reading: bytes from the transport go to aiohttp's frame parser, whose frames go to the
connection's ``LegacyConnection`` (``legacy.py``), which handles them there and then,
inside ``data_received``. When handling a frame leaves a wait (an init checking its
password, a chunk for a congested receiver, replies piling up unread) a task runs it
(``LegacyConnection.work``): an idle socket has no task.

Writing: every method that writes is synchronous and never blocks. A frame is
appended to the socket's outgoing list; the first append in an event-loop turn
schedules one flush with ``call_soon`` (a handle, not a task), and the flush hands
everything that accumulated to the transport in a single ``writelines``. A fan-out of N
messages to one socket, or the replies to a burst of client frames, is therefore one
write, not N. A message's frame is encoded once per fan-out (``message_wire``);
re-sends (``retry`` > 0) carry ``"retry":K`` and are encoded separately.

Slow readers: deliveries and relayed file frames are not buffered past ``max_buffer``
bytes. A refused delivery stays in flight in the broker, unsent, and the peer tells the
broker (``Broker.room``) once the socket has drained, so that it sends it and what
waits behind it (see engines/embedded/flow.py); direct replies are never dropped — instead the
socket stops reading until its writes drain (``LegacyConnection``).

Closing (RFC 6455 §5.5.1, §7): a close the server starts sends what is queued, then
the close frame, and waits at most ``CLOSE_TIMEOUT_S`` for the client's close frame
before closing the TCP connection; a client's close frame is answered with 1000 and
the connection closed at once; a protocol error the parser finds is answered with its
code (1002, 1007, 1009) and the connection closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..core import Message, PublishOutcome
from . import codec
from .handoff import CLOSE, Frame, FrameSink, Parser, close_code, make_parser

if TYPE_CHECKING:
    from .legacy import LegacyConnection

log = logging.getLogger("fastport.web")

# Close codes for why the broker ended a connection (legacy-json.md §1: a dropped
# session closes its sockets with 4000 and the reason).
CLOSE_CODES: dict[str, int] = {
    "session_dropped": 4000,
    "session_expired": 4000,
    "replaced": 4001,
    "slow_consumer": 4002,
    "shutting_down": 1001,
}
DEFAULT_CLOSE_CODE = 4000
_MAX_REASON_BYTES = 123  # a close frame's payload is at most 125 bytes, 2 of them the code
CLOSE_TIMEOUT_S = 5.0  # how long a server-side close waits for the client's close frame

# Queued bytes past which a flush happens at once rather than at the end of the loop
# turn, so a burst hands the kernel what it can take and the buffer checks see real
# backlog, not this turn's queue.
FLUSH_BYTES = 256 * 1024

# The first-send frame of the message this door delivered last. The broker hands a
# message to its subscribers one after another, so this one slot makes a fan-out encode
# once here; the gRPC door keeps its own (a door's encoded form is its own business,
# not the message's: centrifuge caches per broadcast the same way). It keeps the last
# message alive until the next one is delivered, no longer.
_last_message: Message | None = None
_last_frame = b""


_text_frame = codec.text_frame


def close_reason(reason: str) -> bytes:
    """A close reason cut to fit a close frame, on a UTF-8 character boundary."""
    data = reason.encode("utf-8")
    if len(data) <= _MAX_REASON_BYTES:
        return data
    return data[:_MAX_REASON_BYTES].decode("utf-8", "ignore").encode("utf-8")


def message_wire(message: Message) -> bytes:
    """The complete first-send frame of ``message``, encoded once per fan-out."""
    global _last_message, _last_frame
    if message is _last_message:
        return _last_frame
    frame = _last_frame = _text_frame(codec.message_frame(message))
    _last_message = message
    return frame


class LegacyPeer:
    """The core's ``Peer`` calls as legacy JSON frames (legacy-json.md §3), written
    through a subclass's ``reply``, ``relay`` and ``shut``."""

    __slots__ = ()

    def send(self, frame: bytes) -> None:
        raise NotImplementedError

    def reply(self, payload: bytes) -> None:
        raise NotImplementedError

    def relay(self, frame: bytes) -> bool:
        raise NotImplementedError

    def shut(self, code: int, reason: bytes) -> None:
        raise NotImplementedError

    def deliver(self, message: Message, retry: int) -> bool:
        if retry:
            return self.relay(codec.text_frame(codec.message_frame(message, retry)))
        return self.relay(message_wire(message))

    # The two replies of every message are framed here and sent, not passed through
    # ``reply``: a call less each.
    def publish_result(self, outcome: PublishOutcome) -> None:
        if outcome.error is None:
            self.send(_text_frame(codec.publish_ok(outcome.message_id, outcome.delivered_to)))
        else:
            self.reply(codec.publish_error(outcome.message_id, outcome.error))

    def ack_received(self, message: Message, remaining: int) -> None:
        self.send(_text_frame(codec.ack_received(message.id, message.topic, remaining)))

    def delivery_failed(self, message: Message, reason: str, remaining: int, dead_lettered: bool) -> None:
        # The legacy protocol has no frame for this; deployed clients would not know it.
        log.debug(
            "delivery of %r given up (%s), %d remaining%s",
            message.id,
            reason,
            remaining,
            ", dead-lettered" if dead_lettered else "",
        )

    def close(self, code: str, reason: str) -> None:
        self.shut(CLOSE_CODES.get(code, DEFAULT_CLOSE_CODE), close_reason(reason))


class WebPeer(FrameSink, LegacyPeer, asyncio.Protocol):
    """One upgraded WebSocket connection: the transport's protocol, the parser's sink,
    the core's ``Peer`` and the ``Output`` of its ``LegacyConnection``."""

    __slots__ = ("_transport", "_loop", "_parser", "legacy", "_on_gone", "_max_buffer", "_out", "_out_bytes",
                 "_scheduled", "_held", "_room", "paused", "_drain", "_task", "_closer", "closed", "ended",
                 "dropped")

    def __init__(
        self, transport: asyncio.Transport, max_payload: int, max_buffer: int, on_gone: Callable[[WebPeer], None]
    ) -> None:
        self._transport = transport
        self._loop = asyncio.get_running_loop()
        self._parser: Parser | None = make_parser(self, max_payload + 1)  # aiohttp refuses a message of this size
        self.legacy: LegacyConnection  # set by the endpoint right after
        self._on_gone = on_gone  # the endpoint forgets the socket
        self._max_buffer = max_buffer
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._scheduled = False
        self._held: list[bytes] | None = None
        self._room: asyncio.Task[None] | None = None  # waiting to tell the broker there is room
        self.paused = False  # the transport's buffer is over its high-water mark (see Output.paused)
        self._drain: asyncio.Future[None] | None = None  # done when it is not any more
        self._task: asyncio.Task[None] | None = None  # running the connection's wait in hand
        self._closer: asyncio.TimerHandle | None = None  # a server close's wait for the client's
        self.closed = False  # nothing more is written (a close frame went out, or the socket is gone)
        self.ended = False  # nothing more is read (the client's close, a protocol error, EOF)
        self.dropped = 0  # deliveries and relayed frames not buffered for a slow reader

    # -- reading (the transport and the parser call these) --

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is not None:
            parser.feed_data(data)

    def feed_data(self, msg: Frame, size: int) -> None:
        """A frame from the parser."""
        if self.ended:
            return
        opcode = msg.type
        if opcode is CLOSE:  # the client's close: answered at once (RFC 6455 §5.5.1)
            self._end(1000)
        elif self.legacy.receive(opcode, msg.data) and self._task is None:
            self._task = self._loop.create_task(self._work())

    def set_exception(self, exc: BaseException, exc_cause: BaseException | None = None) -> None:
        """The parser refused the stream."""
        if not self.ended:
            self._end(close_code(exc))

    def eof_received(self) -> None:
        return None  # the transport closes itself; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._parser = None
        self.ended = True
        self.closed = True
        self._out = []
        self._out_bytes = 0
        if self._closer is not None:
            self._closer.cancel()
            self._closer = None
        if self._room is not None:
            self._room.cancel()
        self.resume_writing()
        self._leave()
        self._on_gone(self)

    def _end(self, code: int) -> None:
        """Nothing more is read: answer with a close frame (unless one went out
        already) and close the connection."""
        self.ended = True
        self._parser = None
        if not self.closed:
            self.flush()
            self.closed = True
            self._write(codec.close_frame(code))
        self._transport.close()
        self._leave()

    async def _work(self) -> None:
        try:
            await self.legacy.work()
        except Exception:
            log.exception("handling a frame failed")
        finally:
            self._task = None
            if self.closed or self.ended:
                self._leave()

    def _leave(self) -> None:
        """The socket is closing: the connection leaves the broker, once the wait in
        hand (if any) is over (an init completing after it left would join a
        connection that is gone)."""
        if self._task is None:
            self.legacy.end()

    def cancel(self) -> None:
        """Stop the wait in hand (the server is going down)."""
        if self._task is not None:
            self._task.cancel()

    # -- writing --

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def buffered(self) -> int:
        """Bytes written or queued but not yet taken by the kernel."""
        return self._transport.get_write_buffer_size() + self._out_bytes

    def send(self, frame: bytes) -> None:
        """Queue a complete WebSocket frame; written at the end of this loop turn."""
        if self.closed:
            return
        self._out.append(frame)
        self._out_bytes += len(frame)
        if self._out_bytes >= FLUSH_BYTES:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._end_of_turn)

    def reply(self, payload: bytes) -> None:
        """Queue a JSON reply as a text frame."""
        self.send(_text_frame(payload))

    def relay(self, frame: bytes) -> bool:
        """Queue a frame that may be dropped for a reader that is too far behind."""
        if self.closed:
            return False
        if self.paused and self.buffered() > self._max_buffer:  # see Output.paused
            self.dropped += 1
            if self._room is None:
                self._room = self._loop.create_task(self._await_room())
            return False
        if self._held is not None:
            self._held.append(frame)
        else:
            self.send(frame)
        return True

    def hold(self) -> None:
        """Keep deliveries back until ``release``: the core re-sends a named
        subscriber's pending messages inside ``init``, and the client must see its
        ``init_response`` first."""
        self._held = []

    def release(self) -> None:
        held, self._held = self._held, None
        for frame in held or ():
            self.send(frame)

    def _end_of_turn(self) -> None:
        self._scheduled = False
        self.flush()

    def flush(self) -> None:
        """Hand everything queued to the transport in one write."""
        out = self._out
        if not out:
            return
        self._out = []
        self._out_bytes = 0
        if len(out) == 1:
            self._write(out[0])
        else:
            transport = self._transport
            if not transport.is_closing():
                transport.writelines(out)

    def _write(self, data: bytes) -> None:
        transport = self._transport
        if not transport.is_closing():
            transport.write(data)

    async def _await_room(self) -> None:
        await self.drained()
        self._room = None
        if not self.closed:
            self.legacy.room()

    async def drained(self, timeout: float | None = None) -> bool:
        """Return once the transport has room again (at once when it has); False if
        ``timeout`` seconds passed first."""
        self.flush()
        if not self.paused:
            return True
        if self._drain is None:
            self._drain = self._loop.create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._drain), timeout)
        except TimeoutError:
            return False
        return True

    def pause_reading(self) -> None:
        if not self._transport.is_closing():
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if not self._transport.is_closing():
            self._transport.resume_reading()

    def shut(self, code: int, reason: bytes) -> None:
        """Close on the server's behalf: what is queued goes out first, then the close
        frame; the connection closes when the client answers, or after
        ``CLOSE_TIMEOUT_S``."""
        if self.closed:
            return
        self.flush()
        self.closed = True
        self._write(codec.close_frame(code, reason))
        if self.ended:
            self._transport.close()
        else:
            self._closer = self._loop.call_later(CLOSE_TIMEOUT_S, self._transport.close)
        self._loop.call_soon(self._leave)  # not inside the broker, which may be the caller

    def abort(self) -> None:
        """Drop a connection found dead: at once, without writing what is queued (a
        graceful close would wait for a reader that is gone)."""
        if self._room is not None:
            self._room.cancel()
        self._out = []
        self._out_bytes = 0
        self.closed = True
        self._transport.abort()
