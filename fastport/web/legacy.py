"""One legacy JSON WebSocket connection, sans I/O: client frames in; broker calls, frames
and waits out.

``LegacyConnection`` knows the protocol (``shared/protocol/legacy-json.md``) and the
broker's API, and nothing of sockets, aiohttp or the event loop: the I/O layer
(``peer.py``'s ``WebPeer``) feeds it each parsed frame (``receive``), writes what it sends
through its ``Output`` (the socket's side of the core's ``Peer``), and runs the waits
it asks for (``work``). Its tests drive it with plain values and a recording output.

Theory of operation. A connection is in one ``State``; ``_set_state`` is the one place
that changes it (and logs the change):

    AWAITING_INIT --init--> INITIALIZING --the broker's answer--> READY | AWAITING_INIT
    READY --init--> INITIALIZING --> READY (a refused re-init keeps the old session)
    AWAITING_INIT | READY --a chunk for a congested receiver--> RELAYING --> (as before)
    AWAITING_INIT | READY --replies piling up unread--> DRAINING --> (as before)
    any --the socket closes, the client fails the protocol--> CLOSING (final)

"As before" is the broker's answer again: READY while the connection is in a session.
Frames are handled as they come in AWAITING_INIT and READY. In INITIALIZING, RELAYING
and DRAINING a wait is in hand: frames that arrive meanwhile are kept back, in order
(the backlog), the socket stops reading (``Output.pause_reading``), and ``work`` goes
through them once the wait is over: a flood costs the flooder, not the server or
other clients.

File relay (§2 and §5): ``init_file`` maps a fileId to a topic for this connection,
binary chunks for that fileId are relayed byte-identical to the other WebSocket
subscribers of the topic, ``end_file`` ends the mapping. Nothing of a file is stored
or ACKed. A chunk relay waits (bounded) for a congested receiver instead of dropping
its chunks.

Idle sockets (§1, fastport): the I/O layer calls ``tick`` for every connection once
per idle sweep; a connection silent for ``PING_AFTER_SWEEPS`` sweeps is pinged, and
dropped at the next sweep if nothing (its pong or any other frame) came in between.
"""

from __future__ import annotations

import enum
import logging
import re
from collections import deque
from collections.abc import Coroutine
from typing import Any, Protocol

from ..core import Broker, BrokerError, Connection, ErrorCode
from ..core.connection import Peer
from . import codec

log = logging.getLogger("fastport.web")

READ_PAUSE_BYTES = 1024 * 1024  # a socket whose replies pile up past this stops being read
MAX_OPEN_FILES = 256  # file transfers announced and not ended, per socket
FILE_STALL_S = 30.0  # longest wait for one congested receiver of a file chunk
# A socket is pinged at the idle sweep that finds it silent for PING_AFTER_SWEEPS
# sweeps, and dropped at the next one if nothing came in between.
PING_AFTER_SWEEPS = 3

# Frame opcodes (RFC 6455 §5.2), as the I/O layer passes them to ``receive``.
TEXT, BINARY, PING, PONG = 0x1, 0x2, 0x9, 0xA

# What handling a frame leaves to wait for; ``work`` awaits it.
Step = Coroutine[Any, Any, None]

_ERROR_CODE = re.compile(rb'"code":"([a-z_]+)"')


class State(enum.Enum):
    """What a connection is doing (see the module docstring for the transitions)."""

    AWAITING_INIT = "awaiting_init"  # in no session: only init is accepted
    INITIALIZING = "initializing"  # an init's credentials are being checked; frames kept back
    READY = "ready"  # in a session
    RELAYING = "relaying"  # a file chunk waits (bounded) for a congested receiver; frames kept back
    DRAINING = "draining"  # waiting for the client to read its replies; frames kept back
    CLOSING = "closing"  # the socket is closing or gone: nothing more is handled


_AWAITING_INIT, _READY, _CLOSING = State.AWAITING_INIT, State.READY, State.CLOSING
_Publish, _Ack = codec.Publish, codec.Ack  # the commands of every message, looked up once
# States whose wait is bounded and keeps the client's pongs back: the idle sweep leaves
# them alone. A DRAINING client is not reading, so it does not see the ping either.
_EXEMPT_FROM_SWEEP = frozenset({State.INITIALIZING, State.RELAYING})


class Output(Peer, Protocol):
    """The socket as the connection sees it: the core's ``Peer`` (deliveries, results)
    and what the protocol itself writes and waits for. Never blocks."""

    @property
    def closed(self) -> bool:
        """True once the socket is closing: nothing more is written."""

    def send(self, frame: bytes) -> None:
        """Queue a complete WebSocket frame."""

    def reply(self, payload: bytes) -> None:
        """Queue a JSON reply as a text frame."""

    def relay(self, frame: bytes) -> bool:
        """Queue a frame that may be dropped for a reader too far behind."""

    def buffered(self) -> int:
        """Bytes written or queued but not yet taken by the kernel."""

    @property
    def paused(self) -> bool:
        """True while the transport's buffer is over its high-water mark (tens of KiB).
        ``buffered()`` can exceed ``READ_PAUSE_BYTES`` only then (the queue of a loop
        turn is handed over past a few hundred KiB), so the check after each frame
        asks for it only then: two calls less per frame."""

    def hold(self) -> None:
        """Keep deliveries back until ``release`` (replies still go out)."""

    def release(self) -> None:
        """Send what ``hold`` kept back."""

    async def drained(self, timeout: float | None = None) -> bool:
        """Wait until the socket has room again; False if ``timeout`` s passed first."""

    def pause_reading(self) -> None:
        """Stop reading from the socket (frames are being kept back)."""

    def resume_reading(self) -> None:
        """Read again."""

    def shut(self, code: int, reason: bytes) -> None:
        """Close the socket on the protocol's behalf: what is queued goes out first."""

    def abort(self) -> None:
        """Drop the socket at once: its client is gone."""


class LegacyConnection:
    """One WebSocket's protocol state: its ``State``, the broker connection, the file
    transfers it announced, the frames kept back while a wait is in hand."""

    __slots__ = ("_broker", "output", "conn", "_state", "_uploads", "idle", "_step", "_backlog")

    def __init__(self, broker: Broker, output: Output, address: str = "") -> None:
        self._broker = broker
        self.output = output
        self.conn: Connection = broker.connect(output, address)
        self._state = _AWAITING_INIT
        self._uploads: dict[str, str] | None = None  # fileId -> topic; most sockets send no files
        self.idle = 0  # idle sweeps since the last frame from the client
        self._step: Step | None = None  # the wait in hand, for ``work``
        self._backlog: deque[tuple[int, bytes]] | None = None  # frames kept back meanwhile

    @property
    def state(self) -> State:
        return self._state

    def _set_state(self, state: State) -> None:
        if state is not self._state:
            log.debug("connection %s: %s -> %s", self.conn.address, self._state.value, state.value)
            self._state = state

    def _settle(self) -> None:
        """Back to handling frames as they come, in or out of a session (the broker's
        answer)."""
        self._set_state(_READY if self.conn.session is not None else _AWAITING_INIT)

    # -- from the I/O layer --

    def receive(self, opcode: int, data: bytes) -> bool:
        """One frame from the client (a whole message, reassembled; pings and pongs
        too). True when its handling left a wait in hand: the I/O layer then runs
        ``work`` (once; frames received meanwhile are kept back)."""
        state = self._state
        if state is _READY or state is _AWAITING_INIT:
            step = self._handle(opcode, data)
            if step is None:
                return False
            self._step = step
            return True
        if state is not _CLOSING:
            backlog = self._backlog
            if backlog is None:
                backlog = self._backlog = deque()
                self.output.pause_reading()
            backlog.append((opcode, data))
        return False

    async def work(self) -> None:
        """Finish the wait in hand, then handle the frames kept back meanwhile, in
        order (waiting again where one leaves a wait), then read again."""
        while True:
            step, self._step = self._step, None
            if step is not None:
                await step
            if self._state is _CLOSING or self.output.closed:
                return
            self._settle()
            backlog = self._backlog
            if not backlog:
                break
            self._step = self._handle(*backlog.popleft())
        if self._backlog is not None:
            self._backlog = None
            self.output.resume_reading()

    def room(self) -> None:
        """The socket has room again after refusing a delivery: the broker sends what
        it kept back."""
        self._broker.room(self.conn)

    def tick(self) -> None:
        """One idle sweep: ping a socket silent for a while, drop one that did not
        answer the last ping."""
        if self._state in _EXEMPT_FROM_SWEEP:
            return
        self.idle += 1
        if self.idle == PING_AFTER_SWEEPS:
            self.output.send(codec.PING_FRAME)
        elif self.idle > PING_AFTER_SWEEPS:
            self.output.abort()

    def end(self) -> None:
        """The socket is gone or closing: leave the broker; a wait still in hand (its
        task was cancelled) is dropped."""
        self._set_state(_CLOSING)
        if self._step is not None:
            self._step.close()
            self._step = None
        self._backlog = None
        self._broker.disconnect(self.conn)

    # -- handling --

    def _handle(self, opcode: int, data: bytes) -> Step | None:
        """Handle one frame; what is returned is a wait the handling left to do."""
        self.idle = 0
        output = self.output
        if output.closed:  # the broker ended this connection: what is still buffered is moot
            self._set_state(_CLOSING)
            return None
        cmd: codec.Command | bytes | None = None
        step: Step | None = None
        try:
            if opcode == TEXT:
                cmd = codec.parse_text(data, self._state is _READY)
            elif opcode == BINARY:
                cmd = codec.parse_binary(data, self._state is _READY)
            else:
                if opcode == PING:
                    output.send(codec.pong_frame(data))
                return None
            # The frames of every message are carried out here, the rest by _dispatch.
            if type(cmd) is _Publish:
                self._broker.publish(
                    self.conn,
                    cmd.topic,  # type: ignore[arg-type]  # None is refused by the core's topic check
                    cmd.payload,
                    hash=cmd.hash,
                    timestamp_ms=cmd.timestamp_ms,
                    message_id=cmd.message_id,
                    json=cmd.json,
                )
            elif type(cmd) is _Ack:
                self._broker.ack(self.conn, cmd.message_id)
            elif isinstance(cmd, bytes):  # the frame was refused: this is the error reply
                code = _ERROR_CODE.search(cmd)
                self._broker.stats.frame_error("websocket", code.group(1).decode() if code else "unknown")
                output.reply(cmd)
            elif cmd is not None:
                step = self._dispatch(cmd)
        except Exception:
            log.exception("handling a %s frame failed", type(cmd).__name__ if cmd is not None else opcode)
            output.reply(codec.INTERNAL_ERROR)
        if step is None and output.paused and output.buffered() > READ_PAUSE_BYTES:
            self._set_state(State.DRAINING)
            step = self._drain()
        return step

    async def _drain(self) -> None:
        await self.output.drained()

    async def _caught_up(self) -> None:
        """After a wait: if the replies have piled up meanwhile, until the client reads
        them."""
        self.idle = 0
        if self.output.buffered() > READ_PAUSE_BYTES and self._state is not _CLOSING:
            self._set_state(State.DRAINING)
            await self.output.drained()

    def _dispatch(self, cmd: codec.Command) -> Step | None:
        """Carry out ``cmd`` (not a publish or an ack: ``_handle`` does those); an
        init, or a chunk for a congested receiver, returns what is left to wait for."""
        broker, conn, output = self._broker, self.conn, self.output
        if isinstance(cmd, codec.Chunk):
            return self._chunk(cmd)
        elif isinstance(cmd, codec.Subscribe):
            try:
                broker.subscribe(conn, cmd.topic, cmd.persistent)  # type: ignore[arg-type]
            except BrokerError as err:
                output.reply(_refused(err) or codec.subscribe_reply(cmd.topic, err))
            else:
                output.reply(codec.subscribe_reply(cmd.topic))
        elif isinstance(cmd, codec.Unsubscribe):
            try:
                broker.unsubscribe(conn, cmd.topic)  # type: ignore[arg-type]
            except BrokerError as err:
                output.reply(_refused(err) or codec.unsubscribe_reply(cmd.topic, err))
            else:
                output.reply(codec.unsubscribe_reply(cmd.topic))
        elif isinstance(cmd, codec.Init):
            self._set_state(State.INITIALIZING)
            return self._init(cmd)
        elif isinstance(cmd, codec.FileSignal):
            self._file_signal(cmd)
        elif isinstance(cmd, codec.Close):
            self._set_state(_CLOSING)
            output.shut(cmd.code, cmd.reason)
        return None

    async def _init(self, cmd: codec.Init) -> None:
        conn, output = self.conn, self.output
        before = conn.session
        output.hold()  # the reply goes out before anything delivered meanwhile
        try:
            await self._broker.init(conn, cmd.session_name, cmd.password, cmd.client_id)
        except BrokerError as err:
            output.reply(codec.init_error(err))
        except Exception:
            log.exception("handling an init frame failed")
            output.reply(codec.INTERNAL_ERROR)
        else:
            conn.user_id = cmd.user_id
            if conn.session is not before:
                self._uploads = None
            output.reply(codec.init_ok(cmd.session_name))
        finally:
            output.release()
        await self._caught_up()

    # -- file relay --

    def _targets(self, topic: str) -> list[Output]:
        """The other subscribers of ``topic`` on this door (file frames have no gRPC
        form) that are still open."""
        door = type(self.output)
        return [
            peer for peer in self._broker.relay_peers(self.conn, topic) if type(peer) is door and not peer.closed
        ]

    def _file_signal(self, cmd: codec.FileSignal) -> None:
        output = self.output
        err = self._broker.can_relay(self.conn, cmd.topic)
        if err is not None:
            output.reply(_refused(err) or codec.file_error(err.message, err.code))
            return
        uploads = self._uploads
        if uploads is None:
            uploads = self._uploads = {}
        if cmd.kind == "init_file":
            if cmd.file_id not in uploads and len(uploads) >= MAX_OPEN_FILES:
                output.reply(
                    codec.file_error(f"At most {MAX_OPEN_FILES} open file transfers", ErrorCode.LIMIT_EXCEEDED)
                )
                return
            uploads[cmd.file_id] = cmd.topic
        else:
            uploads.pop(cmd.file_id, None)
        frame = codec.text_frame(cmd.raw)
        for target in self._targets(cmd.topic):
            target.relay(frame)

    def _chunk(self, cmd: codec.Chunk) -> Step | None:
        uploads = self._uploads
        topic = uploads.get(cmd.file_id) if uploads else None
        if topic is None or self._broker.can_relay(self.conn, topic) is not None:
            return None  # not announced, or not relayable any more: dropped (§5)
        frame = codec.binary_frame(cmd.frame)
        congested = []
        for target in self._targets(topic):
            target.relay(frame)
            if target.buffered() > READ_PAUSE_BYTES:
                congested.append(target)
        if not congested:
            return None
        self._set_state(State.RELAYING)
        return self._stall(congested)

    async def _stall(self, congested: list[Output]) -> None:
        """Wait (bounded) for the receivers of a chunk that are behind."""
        for target in congested:
            if not await target.drained(FILE_STALL_S):
                log.warning("a file-chunk receiver has not read for %.0f s", FILE_STALL_S)
        await self._caught_up()


def _refused(err: BrokerError) -> bytes | None:
    """The bare "Not initialized" error, for a socket whose session went away."""
    return codec.NOT_INITIALIZED if err.code is ErrorCode.NOT_INITIALIZED else None
