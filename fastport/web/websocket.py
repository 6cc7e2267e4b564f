"""The WebSocket endpoint: one reader per socket, translating frames into core calls.

Frames of one socket are handled in order (an ``init`` that is still checking the
password holds back the frames after it). Frames that are already buffered are read
without yielding to the event loop, so the replies to a burst go out in one write (see
``peer.py``). When a client does not read its replies, its reader pauses until they
drain: a flood costs the flooder, not the server or other clients.

File relay (legacy-json.md §2 and §5): ``init_file`` maps a fileId to a topic for this
socket, binary chunks for that fileId are relayed byte-identical to the other
WebSocket subscribers of the topic, ``end_file`` ends the mapping. Nothing of a file
is stored or ACKed. A chunk relay waits (bounded) for a congested receiver instead of
dropping its chunks.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSMsgType, web

from ..core import Broker, BrokerError, Connection, ErrorCode
from ..core.topics import validate_topic
from . import codec
from .peer import WebPeer
from .rest import error_response, http_error

log = logging.getLogger("fastport.web")

PING_INTERVAL_S = 30.0  # an idle socket is pinged after this; no pong in half of it closes it
CLOSE_TIMEOUT_S = 5.0  # how long a server-side close waits for the client's close frame
MAX_BUFFER_BYTES = 16 * 1024 * 1024  # per socket, on top of one maximum-size frame
READ_PAUSE_BYTES = 1024 * 1024  # a socket whose replies pile up past this stops being read
MAX_OPEN_FILES = 256  # file transfers announced and not ended, per socket
FILE_STALL_S = 30.0  # longest wait for one congested receiver of a file chunk

# The idle sweep runs every PING_INTERVAL_S / 2. A socket is pinged at the sweep that
# finds it silent for PING_AFTER_SWEEPS sweeps (after 30-45 s of silence) and dropped
# at the next one if nothing (its pong or any other frame) came in the 15 s between.
PING_AFTER_SWEEPS = 3
# The idle count of a socket whose reader is handling a frame and not reading: an init
# checking its password, a file chunk waiting for a congested receiver. Its pongs wait
# unread meanwhile, so the sweep leaves it alone; these waits are bounded.
_HANDLING = -1
_ENDED = frozenset((WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED))  # nothing more to read


class _Socket:
    """State of one WebSocket connection."""

    __slots__ = ("ws", "conn", "peer", "uploads", "idle", "closing")

    def __init__(self, ws: web.WebSocketResponse, closing: set[asyncio.Task[bool]]) -> None:
        self.ws = ws
        self.conn: Connection
        self.peer: WebPeer
        self.uploads: dict[str, str] | None = None  # fileId -> topic; most sockets send no files
        self.idle = 0  # idle sweeps since the last frame from the client
        self.closing = closing

    def close(self, code: int, reason: bytes) -> None:
        """Close on the broker's behalf (the peer's ``on_close``)."""
        task = asyncio.ensure_future(self.ws.close(code=code, message=reason))
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)


class WebSocketEndpoint:
    """Accepts WebSockets and reads each in its handler's task.

    Dead connections are found by one sweep over all sockets instead of aiohttp's
    ``heartbeat``, which keeps a timer (and, while waiting for the pong, a second one)
    per socket: idle sockets are what a broker has most of, and their memory is what
    the per-connection budget is about. Unlike aiohttp's heartbeat, only the frames
    this door reads count as signs of life: not the bytes of a frame still arriving,
    nor frames left unread while the reader waits for its client to read the replies
    (such a client does not see the ping either).
    """

    def __init__(self, broker: Broker, max_payload: int) -> None:
        self._broker = broker
        self._max_payload = max_payload
        self._sockets: dict[web.WebSocketResponse, _Socket] = {}
        self._closing: set[asyncio.Task[bool]] = set()
        self._sweep: asyncio.TimerHandle | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            max_msg_size=self._max_payload + 1,  # aiohttp refuses a message of exactly this size
            autoping=False,  # pongs are signs of life for the idle sweep, so they are read here
            compress=False,
            decode_text=False,
            timeout=CLOSE_TIMEOUT_S,
        )
        try:
            writer = await ws.prepare(request)
        except web.HTTPException as exc:  # a handshake that is not right
            return error_response(http_error(exc))
        transport = request.transport
        if transport is None:  # the client went away during the handshake
            return ws
        # One coroutine frame per socket is kept while it lives: the reading is inline.
        sock = _Socket(ws, self._closing)
        sock.peer = peer = WebPeer(transport, writer, sock.close, MAX_BUFFER_BYTES + self._max_payload)
        sock.conn = conn = self._broker.connect(peer)
        self._sockets[ws] = sock
        if self._sweep is None:
            self._schedule_sweep()
        parse_text, parse_binary = codec.parse_text, codec.parse_binary
        text, binary, ping = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.PING
        try:
            # receive() rather than ``async for``: no __anext__ frame kept while waiting.
            while True:
                msg = await ws.receive()
                sock.idle = 0
                if peer.closed:
                    break  # the broker ended this connection: what is still buffered is moot
                kind = msg.type
                if kind is text:
                    cmd = parse_text(msg.data, conn.session is not None)
                elif kind is binary:
                    cmd = parse_binary(msg.data, conn.session is not None)
                elif kind in _ENDED:
                    break
                else:
                    if kind is ping:
                        peer.send(codec.pong_frame(msg.data))
                    cmd = None
                # This frame's locals live until the socket's next frame, for an idle
                # socket indefinitely: the frame read and its command (an init's
                # password, say) are let go once handled.
                msg = None
                if isinstance(cmd, bytes):
                    peer.reply(cmd)
                elif cmd is not None:
                    sock.idle = _HANDLING
                    try:
                        await self._dispatch(sock, cmd)
                    except Exception:
                        log.exception("handling a %s frame failed", type(cmd).__name__)
                        peer.reply(codec.INTERNAL_ERROR)
                    sock.idle = 0
                cmd = None
                if peer.buffered() > READ_PAUSE_BYTES:
                    await peer.drained()
        finally:
            del self._sockets[ws]
            self._broker.disconnect(conn)
            peer.flush()
            peer.closed = True
            if not ws.closed:
                await ws.close()
        return ws

    def _schedule_sweep(self) -> None:
        self._sweep = asyncio.get_running_loop().call_later(PING_INTERVAL_S / 2, self._sweep_idle)

    def _sweep_idle(self) -> None:
        """Ping the sockets that have been silent, drop those that did not answer the
        last ping; reschedules itself while any socket is open."""
        for sock in self._sockets.values():
            if sock.idle == _HANDLING:
                continue
            sock.idle += 1
            if sock.idle == PING_AFTER_SWEEPS:
                sock.peer.send(codec.PING_FRAME)
            elif sock.idle > PING_AFTER_SWEEPS:
                sock.peer.abort()
        if self._sockets:
            self._schedule_sweep()
        else:
            self._sweep = None

    async def _dispatch(self, sock: _Socket, cmd: codec.Command) -> None:
        broker, conn, peer = self._broker, sock.conn, sock.peer
        if isinstance(cmd, codec.Publish):
            broker.publish(
                conn,
                cmd.topic,  # type: ignore[arg-type]  # None is refused by the core's topic check
                cmd.payload,
                hash=cmd.hash,
                timestamp_ms=cmd.timestamp_ms,
                message_id=cmd.message_id,
                json=cmd.json,
            )
        elif isinstance(cmd, codec.Ack):
            broker.ack(conn, cmd.message_id)
        elif isinstance(cmd, codec.Chunk):
            await self._chunk(sock, cmd)
        elif isinstance(cmd, codec.Subscribe):
            try:
                broker.subscribe(conn, cmd.topic, cmd.persistent)  # type: ignore[arg-type]
            except BrokerError as err:
                peer.reply(self._refused(err) or codec.subscribe_reply(cmd.topic, err))
            else:
                peer.reply(codec.subscribe_reply(cmd.topic))
        elif isinstance(cmd, codec.Unsubscribe):
            try:
                broker.unsubscribe(conn, cmd.topic)  # type: ignore[arg-type]
            except BrokerError as err:
                peer.reply(self._refused(err) or codec.unsubscribe_reply(cmd.topic, err))
            else:
                peer.reply(codec.unsubscribe_reply(cmd.topic))
        elif isinstance(cmd, codec.Init):
            await self._init(sock, cmd)
        elif isinstance(cmd, codec.FileSignal):
            self._file_signal(sock, cmd)

    @staticmethod
    def _refused(err: BrokerError) -> bytes | None:
        """The bare "Not initialized" error, for a socket whose session went away."""
        return codec.NOT_INITIALIZED if err.code is ErrorCode.NOT_INITIALIZED else None

    async def _init(self, sock: _Socket, cmd: codec.Init) -> None:
        conn = sock.conn
        peer = sock.peer
        before = conn.session
        peer.hold()  # the reply goes out before anything delivered meanwhile
        try:
            await self._broker.init(conn, cmd.session_name, cmd.password, cmd.client_id)
        except BrokerError as err:
            peer.reply(codec.init_error(err))
            peer.release()
            return
        except BaseException:
            peer.release()
            raise
        conn.user_id = cmd.user_id
        if conn.session is not before:
            sock.uploads = None
        peer.reply(codec.init_ok(cmd.session_name))
        peer.release()

    def _targets(self, conn: Connection, topic: str) -> list[WebPeer]:
        """The other WebSocket subscribers of ``topic`` in ``conn``'s session (file frames
        have no gRPC form)."""
        return [
            peer for peer in self._broker.relay_peers(conn, topic) if type(peer) is WebPeer and not peer.closed
        ]

    def _file_signal(self, sock: _Socket, cmd: codec.FileSignal) -> None:
        conn, peer = sock.conn, sock.peer
        session = conn.session
        if session is None:
            peer.reply(codec.NOT_INITIALIZED)
            return
        if session.dropped:
            peer.reply(codec.FILE_SESSION_ERROR)
            return
        if session.suspended:
            peer.reply(codec.FILE_SESSION_SUSPENDED)
            return
        try:
            validate_topic(cmd.topic)
        except BrokerError as err:
            peer.reply(codec.file_error(err.message, err.code))
            return
        uploads = sock.uploads
        if uploads is None:
            uploads = sock.uploads = {}
        if cmd.kind == "init_file":
            if cmd.file_id not in uploads and len(uploads) >= MAX_OPEN_FILES:
                peer.reply(
                    codec.file_error(f"At most {MAX_OPEN_FILES} open file transfers", ErrorCode.LIMIT_EXCEEDED)
                )
                return
            uploads[cmd.file_id] = cmd.topic
        else:
            uploads.pop(cmd.file_id, None)
        frame = codec.text_frame(cmd.raw)
        for target in self._targets(conn, cmd.topic):
            target.relay(frame)

    async def _chunk(self, sock: _Socket, cmd: codec.Chunk) -> None:
        uploads = sock.uploads
        topic = uploads.get(cmd.file_id) if uploads else None
        session = sock.conn.session
        if topic is None or session is None or session.suspended or session.dropped:
            return
        frame = codec.binary_frame(cmd.frame)
        congested = []
        for target in self._targets(sock.conn, topic):
            target.relay(frame)
            if target.buffered() > READ_PAUSE_BYTES:
                congested.append(target)
        for target in congested:
            try:
                await asyncio.wait_for(target.drained(), FILE_STALL_S)
            except TimeoutError:
                log.warning("a file-chunk receiver has not read for %.0f s", FILE_STALL_S)

    async def close_all(self, code: int, reason: bytes, timeout: float) -> None:
        """Close every socket still open (also those that never sent ``init``) and wait,
        at most ``timeout`` seconds, for the closes in progress to finish."""
        for ws, sock in list(self._sockets.items()):
            peer = sock.peer
            if not peer.closed:
                peer.flush()
                peer.closed = True
                task = asyncio.ensure_future(ws.close(code=code, message=reason))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        if self._closing:
            await asyncio.wait(list(self._closing), timeout=timeout)
