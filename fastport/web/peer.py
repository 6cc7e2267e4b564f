"""The core's view of one WebSocket: encoded frames queued, written once per loop turn.

Every Peer method is synchronous and never blocks. A frame is appended to the socket's
outgoing list; the first append in an event-loop turn schedules one flush with
``call_soon`` (a handle, not a task), and the flush hands everything that accumulated
to the transport in a single ``writelines``. A fan-out of N messages to one socket,
or the replies to a burst of client frames, is therefore one write, not N.

A message's frame is encoded once per fan-out (``message_wire``), so a fan-out to many
sockets encodes once; re-sends (``retry`` > 0) carry ``"retry":K`` and are encoded
separately.

Slow readers: deliveries and relayed file frames are not buffered past
``max_buffer`` bytes. A refused delivery stays in flight in the broker, unsent, and the
peer calls ``on_room`` once the socket has drained, so that the broker sends it and
what waits behind it (see engines/embedded/flow.py); direct replies are never dropped — instead
the socket's own reader stops reading until its writes drain.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp.abc import AbstractStreamWriter

from ..core import Message, PublishOutcome
from . import codec

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
    frame = _last_frame = codec.text_frame(codec.message_frame(message))
    _last_message = message
    return frame


class WebPeer:
    __slots__ = ("_transport", "_writer", "_loop", "_on_close", "_max_buffer", "_out", "_out_bytes", "_scheduled",
                 "_held", "_room", "closed", "dropped", "on_room")

    def __init__(
        self,
        transport: asyncio.Transport,
        writer: AbstractStreamWriter,
        on_close: Callable[[int, bytes], None],
        max_buffer: int,
    ) -> None:
        self._transport = transport
        self._writer = writer
        self._loop = asyncio.get_running_loop()
        self._on_close = on_close
        self._max_buffer = max_buffer
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._scheduled = False
        self._held: list[bytes] | None = None
        self._room: asyncio.Task[None] | None = None  # waiting for the socket to drain
        self.closed = False
        self.dropped = 0  # deliveries and relayed frames not buffered for a slow reader
        self.on_room: Callable[[], None] | None = None  # after a refused delivery: room again

    # -- output --

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
        self.send(codec.text_frame(payload))

    def relay(self, frame: bytes) -> bool:
        """Queue a frame that may be dropped for a reader that is too far behind."""
        if self.closed:
            return False
        if self.buffered() > self._max_buffer:
            self.dropped += 1
            if self._room is None and self.on_room is not None:
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
        transport = self._transport
        if transport.is_closing():
            return
        if len(out) == 1:
            transport.write(out[0])
        else:
            transport.writelines(out)

    def abort(self) -> None:
        """Drop a connection found dead: at once, without writing what is queued (a
        graceful close would wait for a reader that is gone)."""
        if self._room is not None:
            self._room.cancel()
        self._out = []
        self._out_bytes = 0
        self.closed = True
        self._transport.abort()

    async def _await_room(self) -> None:
        await self.drained()
        self._room = None
        if not self.closed and self.on_room is not None:
            self.on_room()

    async def drained(self) -> None:
        """Return once the transport has room again (at once when it has)."""
        self.flush()
        try:
            await self._writer.drain()
        except (ConnectionError, RuntimeError):
            pass

    # -- Peer interface (called by the core) --

    def deliver(self, message: Message, retry: int) -> bool:
        if retry:
            return self.relay(codec.text_frame(codec.message_frame(message, retry)))
        return self.relay(message_wire(message))

    def publish_result(self, outcome: PublishOutcome) -> None:
        if outcome.error is None:
            self.reply(codec.publish_ok(outcome.message_id, outcome.delivered_to))
        else:
            self.reply(codec.publish_error(outcome.message_id, outcome.error))

    def ack_received(self, message: Message, remaining: int) -> None:
        self.reply(codec.ack_received(message.id, message.topic, remaining))

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
        if self.closed:
            return
        self.flush()
        self.closed = True
        self._on_close(CLOSE_CODES.get(code, DEFAULT_CLOSE_CODE), close_reason(reason))
