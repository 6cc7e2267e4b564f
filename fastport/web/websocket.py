"""The WebSocket endpoint: frames handled as they are parsed, translated into core calls.

aiohttp does the handshake and parses the frames, but hands each parsed frame straight
to the socket's ``_Socket`` (the sink its parser feeds, see ``_Socket``) instead of
queueing it for a ``receive()`` call: the door handles it there and then, inside the
transport's ``data_received``. Every frame of one read is handled before the loop
yields, so the replies to a burst go out in one write (see ``peer.py``).

Frames of one socket are handled in order. When handling a frame has to wait (an
``init`` checking the password, a file chunk waiting for a congested receiver, or
replies piling up because the client does not read them) the socket stops reading, the
frames already parsed are kept back, and the socket's handler task works through them
once the wait is over: a flood costs the flooder, not the server or other clients.

File relay (legacy-json.md §2 and §5): ``init_file`` maps a fileId to a topic for this
socket, binary chunks for that fileId are relayed byte-identical to the other
WebSocket subscribers of the topic, ``end_file`` ends the mapping. Nothing of a file
is stored or ACKed. A chunk relay waits (bounded) for a congested receiver instead of
dropping its chunks.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import re
from collections import deque
from collections.abc import Coroutine
from typing import Any

import aiohttp
from aiohttp import WSMessage, WSMsgType, hdrs, web
from aiohttp.http_websocket import WebSocketError, WSCloseCode
from aiohttp.streams import EofStream
from aiohttp.web_protocol import RequestHandler

from ..core import Broker, BrokerError, Connection, ErrorCode
from . import codec
from .peer import WebPeer
from .rest import error_response, http_error

try:  # private: the frame parser and the queue it feeds (see _Socket and check_aiohttp)
    from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader
except ImportError as exc:  # pragma: no cover - only with an aiohttp this door does not know
    raise ImportError(
        f"fastport's WebSocket door needs aiohttp's frame reader (aiohttp._websocket.reader, "
        f"aiohttp 3.14); aiohttp {aiohttp.__version__} has none"
    ) from exc

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
# The idle count of a socket whose handling of a frame is waiting: an init checking its
# password, a file chunk waiting for a congested receiver. Its pongs are kept back
# meanwhile, so the sweep leaves it alone; these waits are bounded.
_HANDLING = -1

# What handling a frame leaves to wait for; the socket's task awaits it.
Step = Coroutine[Any, Any, None]

_TEXT, _BINARY, _PING, _CLOSE = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.PING, WSMsgType.CLOSE


_ERROR_CODE = re.compile(rb'"code":"([a-z_]+)"')


class _Socket(WebSocketDataQueue):  # type: ignore[misc]  # aiohttp's compiled class is untyped
    """One WebSocket: the sink aiohttp's frame parser feeds, and the door's state for it.

    aiohttp's own sink (``WebSocketDataQueue``) queues every parsed frame in a deque for
    ``WebSocketResponse.receive()``, which a task per socket awaits through two more
    coroutines and a future: about 1.5 KB per socket that an idle socket never uses.
    This subclass takes the parser's ``feed_data`` calls instead and has the door handle
    each frame at once; its base's ``__init__`` (the deque and its bound methods) is
    never run, so the base's counters stay 0 and the parser never stalls on them.

    ``WebSocketResponse.close()`` still reads from it while it waits for the client's
    close frame: ``read()`` serves that.
    """

    __slots__ = ("door", "ws", "protocol", "conn", "peer", "uploads", "idle", "busy", "step", "backlog", "ended",
                 "waiter")

    # Read by aiohttp's pure-Python parser (AIOHTTP_NO_EXTENSIONS), which has no C
    # fields to find them in: never above the limit, never stalled.
    _size = 0
    _limit = 0

    def __init__(self, door: WebSocketEndpoint, ws: _Response) -> None:
        self.door = door
        self.ws = ws
        self.protocol: RequestHandler  # set when the parser is attached (_Response._post_start)
        self.conn: Connection
        self.peer: WebPeer
        self.uploads: dict[str, str] | None = None  # fileId -> topic; most sockets send no files
        self.idle = 0  # idle sweeps since the last frame from the client
        # True while the handler task has work in hand (from the handshake until the
        # socket is set up, then while a step waits); frames go to the backlog meanwhile.
        self.busy = True
        self.step: Step | None = None  # the wait a frame's handling left for the task
        self.backlog: deque[WSMessage] | None = None  # frames parsed while busy; reading is paused
        # The client's close frame, the parser's error or EofStream: nothing is read after it.
        self.ended: WSMessage | BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None

    # -- the parser's side (aiohttp calls these) --

    def feed_data(self, msg: WSMessage, size: int) -> None:
        """A parsed frame (or a whole fragmented message)."""
        if self.ended is not None:
            return
        if msg.type is _CLOSE:
            self.ended = msg
            self.wake()
        elif self.busy:
            if self.backlog is None:
                self.backlog = deque()
                self.protocol.pause_reading()
            self.backlog.append(msg)
        else:
            step = self.door.frame(self, msg)
            if step is not None:
                self.busy = True
                self.step = step
                self.wake()

    def feed_eof(self) -> None:
        """The connection is gone."""
        self.set_exception(EofStream())

    def set_exception(self, exc: BaseException, exc_cause: BaseException | None = None) -> None:
        """The parser refused the stream (``WebSocketError``: 1002, 1009, ...) or the
        connection ended."""
        if self.ended is None:
            self.ended = exc
        self.wake()

    async def read(self) -> WSMessage:
        """For ``WebSocketResponse.close()``: the client's close frame, once it came."""
        while self.ended is None:
            await self.wait()
        if isinstance(self.ended, BaseException):
            raise self.ended
        return self.ended

    # -- the handler task's side --

    def wait(self) -> asyncio.Future[None]:
        """A future done at the next ``wake``."""
        if self.waiter is None:
            self.waiter = asyncio.get_running_loop().create_future()
        return self.waiter

    def wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def shut(self, code: int, reason: bytes) -> None:
        """Close on the door's behalf: what is queued goes out first, nothing after it."""
        peer = self.peer
        if not peer.closed:
            peer.flush()
            peer.closed = True
            self.close(code, reason)

    def close(self, code: int, reason: bytes) -> None:
        """Close on the broker's behalf (the peer's ``on_close``)."""
        task = asyncio.ensure_future(self.ws.close(code=code, message=reason))
        self.door.closing.add(task)
        task.add_done_callback(self.door.closing.discard)
        self.wake()  # the handler ends: the peer is closed


class _Response(web.WebSocketResponse):
    """aiohttp's WebSocket response, with the door's ``_Socket`` as its parser's sink.

    ``_post_start`` is aiohttp's (private) last step of ``prepare()``, which creates the
    frame queue and parser and attaches the parser to the connection; this is it with
    the socket in the queue's place (and without the heartbeat, unused here). It also
    lets go of what the connection keeps from its HTTP life and never uses again once
    upgraded (about 2.3 KB a socket): the HTTP request parser, the empty queue of
    parsed requests, the 101 response's headers (already written).
    ``check_aiohttp`` verifies at start-up that all of these are still there."""

    def __init__(self, door: WebSocketEndpoint, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._reader = _Socket(door, self)

    def _post_start(self, request: web.BaseRequest, protocol: str | None, writer: Any) -> None:
        self._ws_protocol = protocol
        self._writer = writer
        sock: _Socket = self._reader
        sock.protocol = handler = request.protocol
        self._parser = WebSocketReader(sock, self._max_msg_size, compress=False, decode_text=False)
        handler.set_parser(self._parser)
        handler.keep_alive(False)  # as aiohttp does: no HTTP keep-alive after an upgrade
        # aiohttp only reads these while the connection is not upgraded (``_upgraded``,
        # or a payload parser set): the HTTP parser, and the request queue, which is
        # empty now (``start()`` took the upgrade request, and a connection that
        # upgrades reads nothing else as HTTP). A tuple: anything that still appended
        # to it would fail loudly.
        handler._parser = None
        handler._messages = ()  # type: ignore[assignment]
        self.headers.clear()

    @property
    def socket(self) -> _Socket:
        return self._reader  # type: ignore[no-any-return]


class _ParserProbe:
    """A stand-in for the door in ``check_aiohttp``: records what reaches it."""

    def __init__(self) -> None:
        self.frames: list[tuple[WSMsgType, bytes]] = []

    def frame(self, sock: _Socket, msg: WSMessage) -> None:
        self.frames.append((msg.type, msg.data))


def _masked(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A client frame (masked, as clients must)."""
    mask = b"\x01\x02\x03\x04"
    head = bytes([(0x80 if fin else 0) | opcode, 0x80 | len(payload)])
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def check_aiohttp() -> None:
    """Fail at start-up, clearly, if aiohttp no longer works the way ``_Response`` and
    ``_Socket`` rely on (private API, written against aiohttp 3.14): the door would
    otherwise lose frames or hang at run time."""
    problems = []
    post_start = getattr(web.WebSocketResponse, "_post_start", None)
    params = list(inspect.signature(post_start).parameters) if callable(post_start) else None
    if params != ["self", "request", "protocol", "writer"]:
        problems.append(f"WebSocketResponse._post_start(self, request, protocol, writer) is {params}")
    probe_ws = web.WebSocketResponse(max_msg_size=8)
    for name in ("_reader", "_parser", "_writer", "_ws_protocol", "_max_msg_size"):
        if not hasattr(probe_ws, name):
            problems.append(f"WebSocketResponse has no {name}")
    for name in ("set_parser", "keep_alive", "pause_reading", "resume_reading"):
        if not callable(getattr(RequestHandler, name, None)):
            problems.append(f"RequestHandler has no {name}()")
    for name in ("_parser", "_messages", "_upgraded", "_payload_parser"):
        if not hasattr(RequestHandler, name):  # slots, all of them
            problems.append(f"RequestHandler has no {name}")
    if not problems:
        probe = _ParserProbe()
        sock = _Socket(probe, probe_ws)  # type: ignore[arg-type]
        sock.busy = False
        try:
            parser = WebSocketReader(sock, 8, compress=False, decode_text=False)
            parser.feed_data(_masked(0x1, b"ab", fin=False) + _masked(0x0, b"c") + _masked(0x9, b"p"))
            parser.feed_data(_masked(0x2, b"123456789"))  # over the limit of 8
        except Exception as exc:  # noqa: BLE001 - any failure here is the finding
            problems.append(f"parsing into the door's sink failed: {exc!r}")
        else:
            if probe.frames != [(_TEXT, b"abc"), (_PING, b"p")]:
                problems.append(f"the parser fed {probe.frames}")
            if not (isinstance(sock.ended, WebSocketError) and sock.ended.code == WSCloseCode.MESSAGE_TOO_BIG):
                problems.append(f"an oversized frame ended the stream with {sock.ended!r}")
    if problems:
        raise RuntimeError(
            f"aiohttp {aiohttp.__version__}'s WebSocket internals are not those fastport's WebSocket door "
            f"was written against (aiohttp 3.14, fastport/web/websocket.py): " + "; ".join(problems)
        )


def _first_subprotocol(request: web.Request) -> tuple[str, ...]:
    """The subprotocol to select: the first one the client offered, whatever it is, as
    the old server did (legacy-json.md §1). Browsers and the Node ``ws`` package refuse
    a connection whose requested subprotocol is not answered; the protocol is the same
    whichever name they ask for."""
    for name in request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL, "").split(","):
        if name := name.strip():
            return (name,)
    return ()


def _address(transport: asyncio.BaseTransport) -> str:
    """``host:port`` of the client (``[host]:port`` for IPv6), for log lines and
    failed-login counts."""
    peername = transport.get_extra_info("peername")
    if not isinstance(peername, tuple):
        return ""
    host = peername[0]
    return f"[{host}]:{peername[1]}" if ":" in host else f"{host}:{peername[1]}"


class WebSocketEndpoint:
    """Accepts WebSockets and handles their frames as aiohttp parses them.

    Each socket's handler task stays in ``handle`` while the socket is open (aiohttp
    ends the connection when it returns), waiting on one future; it only runs when a
    frame's handling has to wait, and at the end.

    Dead connections are found by one sweep over all sockets instead of aiohttp's
    ``heartbeat``, which keeps a timer (and, while waiting for the pong, a second one)
    per socket: idle sockets are what a broker has most of, and their memory is what
    the per-connection budget is about. Unlike aiohttp's heartbeat, only the frames
    this door handles count as signs of life: not the bytes of a frame still arriving,
    nor frames kept back while the socket waits for its client to read the replies
    (such a client does not see the ping either).
    """

    def __init__(self, broker: Broker, max_payload: int) -> None:
        check_aiohttp()
        self._broker = broker
        self._max_payload = max_payload
        self._sockets: set[_Socket] = set()
        self.closing: set[asyncio.Task[bool]] = set()  # closes in progress (server side)
        self._sweep: asyncio.TimerHandle | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = _Response(
            self,
            protocols=_first_subprotocol(request),
            max_msg_size=self._max_payload + 1,  # aiohttp refuses a message of exactly this size
            autoping=False,  # pongs are signs of life for the idle sweep, so they come here
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
        sock = ws.socket
        sock.peer = peer = WebPeer(transport, writer, sock.close, MAX_BUFFER_BYTES + self._max_payload)
        sock.conn = conn = self._broker.connect(peer, _address(transport))
        peer.on_room = functools.partial(self._broker.room, conn)
        self._sockets.add(sock)
        if self._sweep is None:
            self._schedule_sweep()
        try:
            while True:
                await self._work(sock)
                if sock.ended is not None or peer.closed:
                    break
                await sock.wait()
        finally:
            if sock.step is not None:  # the task was cancelled with a wait in hand
                sock.step.close()
                sock.step = None
            self._sockets.discard(sock)
            self._broker.disconnect(conn)
            peer.flush()
            peer.closed = True
            if not ws.closed:
                await self._close(ws, sock.ended)
        return ws

    @staticmethod
    async def _close(ws: _Response, ended: WSMessage | BaseException | None) -> None:
        """Close as aiohttp's ``receive()`` would have on what ended the stream."""
        if isinstance(ended, WebSocketError):
            await ws.close(code=ended.code)  # 1002, 1007, 1009: the parser's verdict
        elif isinstance(ended, BaseException) or ended is None:
            await ws.close()
        else:  # the client's close frame: answered at once, nothing left to drain
            await ws.close(drain=False)

    async def _work(self, sock: _Socket) -> None:
        """Finish the step in hand, then handle the frames kept back meanwhile, in
        order, then read again."""
        peer = sock.peer
        while True:
            step = sock.step
            if step is not None:
                await step
                sock.step = None
            backlog = sock.backlog
            if not backlog or peer.closed:
                break
            sock.step = self.frame(sock, backlog.popleft())
        if sock.backlog is not None:
            sock.backlog = None
            sock.protocol.resume_reading()
        sock.busy = False

    def frame(self, sock: _Socket, msg: WSMessage) -> Step | None:
        """Handle one frame from the client; what is returned is a wait the handling
        left to do (the socket's task awaits it before the next frame)."""
        sock.idle = 0
        peer = sock.peer
        if peer.closed:
            return None  # the broker ended this connection: what is still buffered is moot
        kind = msg.type
        cmd: codec.Command | bytes | None = None
        step: Step | None = None
        try:
            if kind is _TEXT:
                cmd = codec.parse_text(msg.data, sock.conn.session is not None)
            elif kind is _BINARY:
                cmd = codec.parse_binary(msg.data, sock.conn.session is not None)
            else:
                if kind is _PING:
                    peer.send(codec.pong_frame(msg.data))
                return None
            if isinstance(cmd, bytes):  # the frame was refused: this is the error reply
                code = _ERROR_CODE.search(cmd)
                self._broker.stats.frame_error("websocket", code.group(1).decode() if code else "unknown")
                peer.reply(cmd)
            elif cmd is not None:
                wait = self._dispatch(sock, cmd)
                if wait is not None:
                    step = self._handling(sock, wait, cmd)
        except Exception:
            log.exception("handling a %s frame failed", type(cmd).__name__ if cmd is not None else kind.name)
            peer.reply(codec.INTERNAL_ERROR)
        if step is None and peer.buffered() > READ_PAUSE_BYTES:
            step = peer.drained()
        return step

    async def _handling(self, sock: _Socket, wait: Step, cmd: codec.Command) -> None:
        """The waiting part of handling ``cmd``; its pongs are kept back meanwhile, so
        the idle sweep leaves the socket alone."""
        peer = sock.peer
        sock.idle = _HANDLING
        try:
            await wait
        except Exception:
            log.exception("handling a %s frame failed", type(cmd).__name__)
            peer.reply(codec.INTERNAL_ERROR)
        sock.idle = 0
        if peer.buffered() > READ_PAUSE_BYTES:
            await peer.drained()

    def _schedule_sweep(self) -> None:
        self._sweep = asyncio.get_running_loop().call_later(PING_INTERVAL_S / 2, self._sweep_idle)

    def _sweep_idle(self) -> None:
        """Ping the sockets that have been silent, drop those that did not answer the
        last ping; reschedules itself while any socket is open."""
        for sock in self._sockets:
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

    def _dispatch(self, sock: _Socket, cmd: codec.Command) -> Step | None:
        """Carry out ``cmd``; an init, or a chunk for a congested receiver, returns
        what is left to wait for."""
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
            return self._chunk(sock, cmd)
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
            return self._init(sock, cmd)
        elif isinstance(cmd, codec.FileSignal):
            self._file_signal(sock, cmd)
        elif isinstance(cmd, codec.Close):
            sock.shut(cmd.code, cmd.reason)
        return None

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
        err = self._broker.can_relay(conn, cmd.topic)
        if err is not None:
            peer.reply(self._refused(err) or codec.file_error(err.message, err.code))
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

    def _chunk(self, sock: _Socket, cmd: codec.Chunk) -> Step | None:
        uploads = sock.uploads
        topic = uploads.get(cmd.file_id) if uploads else None
        if topic is None or self._broker.can_relay(sock.conn, topic) is not None:
            return None
        frame = codec.binary_frame(cmd.frame)
        congested = []
        for target in self._targets(sock.conn, topic):
            target.relay(frame)
            if target.buffered() > READ_PAUSE_BYTES:
                congested.append(target)
        return self._stall(congested) if congested else None

    @staticmethod
    async def _stall(congested: list[WebPeer]) -> None:
        """Wait (bounded) for the receivers of a chunk that are behind."""
        for target in congested:
            try:
                await asyncio.wait_for(target.drained(), FILE_STALL_S)
            except TimeoutError:
                log.warning("a file-chunk receiver has not read for %.0f s", FILE_STALL_S)

    async def close_all(self, code: int, reason: bytes, timeout: float) -> None:
        """Close every socket still open (also those that never sent ``init``) and wait,
        at most ``timeout`` seconds, for the closes in progress to finish."""
        for sock in list(self._sockets):
            sock.shut(code, reason)
        if self.closing:
            await asyncio.wait(list(self.closing), timeout=timeout)
