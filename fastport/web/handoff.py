"""Where the WebSocket door touches aiohttp's private API (written against aiohttp 3.14),
and nowhere else: ``check_aiohttp`` verifies all of it at start-up.

aiohttp does the HTTP part of a WebSocket: it parses the upgrade request, routes it,
checks the handshake and writes the 101 answer (``WebSocketResponse.prepare``). Then
``take_over`` hands the connection to the door: the transport gets the door's own
protocol (``transport.set_protocol``, public asyncio API) and aiohttp is told the
connection is gone, so that it lets go of everything it kept for it — the connection's
``RequestHandler`` and its task, the request and the handler's task, the
``WebSocketResponse`` and its writer: most of what an idle socket cost (figures in
bench/README.md, "Memory per idle WebSocket, again"). The door then writes frames
itself (``codec``) and parses them with aiohttp's frame parser, fed by the door's
``FrameSink``. What aiohttp would have done beyond that for an open WebSocket (the
close handshake, write flow control, the idle sweep instead of its heartbeat) the door
does (``peer.py``).

Private API used: ``WebSocketResponse._post_start`` (not to attach aiohttp's parser),
``RequestHandler._message_tail`` (bytes that came after the upgrade request) and
``RequestHandler.connection_lost`` with its ``transport`` cleared first (so that aiohttp
forgets the connection without closing it), ``aiohttp._websocket.reader``'s
``WebSocketReader`` and ``WebSocketDataQueue`` (the parser and the type of its sink).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import WSMessage, WSMsgType, web
from aiohttp._websocket.models import WSMessageTextBytes
from aiohttp.http_websocket import WebSocketError, WSCloseCode
from aiohttp.web_protocol import RequestHandler

try:  # private: the frame parser and the type of the queue it feeds
    from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader
except ImportError as exc:  # pragma: no cover - only with an aiohttp this door does not know
    raise ImportError(
        f"fastport's WebSocket door needs aiohttp's frame reader (aiohttp._websocket.reader, "
        f"aiohttp 3.14); aiohttp {aiohttp.__version__} has none"
    ) from exc

Parser = WebSocketReader  # what ``make_parser`` returns

CLOSE: WSMsgType = WSMsgType.CLOSE


# A frame as the parser hands it over: ``type`` (its opcode, an int enum) and ``data``.
Frame = WSMessage | WSMessageTextBytes


class FrameSink(WebSocketDataQueue):
    """What aiohttp's frame parser feeds: a subclass implements ``feed_data(frame,
    size)`` (a parsed frame, or a whole fragmented message with the opcode of its first
    frame) and ``set_exception(exc)`` (the parser refused the stream, e.g. a
    ``WebSocketError`` 1002 or 1009; nothing more is parsed).

    The parser is typed to feed a ``WebSocketDataQueue``, which queues frames in a
    deque for ``receive()``; a subclass takes its calls instead, and its base's
    ``__init__`` (the deque and its bound methods) is never run, so the base's counters
    stay 0 and the parser never stalls on them."""

    __slots__ = ()

    # Read by aiohttp's pure-Python parser (AIOHTTP_NO_EXTENSIONS), which has no C
    # fields to find them in: never above the limit, never stalled.
    _size = 0
    _limit = 0

    def feed_data(self, msg: Frame, size: int) -> None:
        raise NotImplementedError

    def set_exception(self, exc: BaseException, exc_cause: BaseException | None = None) -> None:
        raise NotImplementedError

    def feed_eof(self) -> None:
        pass  # the door's protocol sees the end of the stream itself (connection_lost)


def make_parser(sink: FrameSink, max_msg_size: int) -> Parser:
    """aiohttp's frame parser feeding ``sink``: ``parser.feed_data(bytes)``."""
    return WebSocketReader(sink, max_msg_size, compress=False, decode_text=False)


def close_code(exc: BaseException) -> int:
    """The close code for what ended a stream: the parser's verdict (1002, 1007,
    1009) for a protocol error, else 1000, as aiohttp answers."""
    return exc.code if isinstance(exc, WebSocketError) else int(WSCloseCode.OK)


class _Handshake(web.WebSocketResponse):
    """aiohttp's WebSocket response, for the handshake only: its last step of
    ``prepare()`` (``_post_start``) attaches no parser (bytes that come meanwhile wait
    in the connection's ``_message_tail``), and its ``write_eof`` (which aiohttp calls
    once the handler returns, to close the WebSocket) does nothing: the connection is
    the door's by then."""

    def _post_start(self, request: web.BaseRequest, protocol: str | None, writer: Any) -> None:
        self._ws_protocol = protocol

    async def write_eof(self) -> None:  # type: ignore[override]
        self._eof_sent = True


async def take_over(
    request: web.Request, protocols: tuple[str, ...], make: Callable[[asyncio.Transport], asyncio.Protocol]
) -> tuple[web.StreamResponse, asyncio.Protocol | None]:
    """Answer the upgrade and take the connection from aiohttp. ``make(transport)``
    returns the door's protocol for it, which is then fed the bytes that came after
    the upgrade request. Returns the response for aiohttp's handler to return, and the
    protocol (None when the client went away during the handshake). A handshake that
    is not right raises ``web.HTTPException``."""
    ws = _Handshake(protocols=protocols, autoping=False, compress=False)
    await ws.prepare(request)
    handler = request.protocol
    transport = request.transport
    if transport is None or transport.is_closing():
        return ws, None
    tail, handler._message_tail = handler._message_tail, b""
    protocol = make(transport)
    transport.set_protocol(protocol)
    handler.transport = None  # so that aiohttp closes nothing when it lets go
    handler.connection_lost(None)  # aiohttp forgets the connection (its Server and tasks)
    if not transport.is_reading():  # aiohttp may have paused it for a big tail
        transport.resume_reading()
    if tail:
        protocol.data_received(tail)
    return ws, protocol


class _ProbeSink(FrameSink):
    """A sink that records what reaches it, for ``check_aiohttp``."""

    __slots__ = ("frames", "error")

    def __init__(self) -> None:
        self.frames: list[tuple[int, bytes]] = []
        self.error: BaseException | None = None

    def feed_data(self, msg: Frame, size: int) -> None:
        self.frames.append((msg.type, msg.data))

    def set_exception(self, exc: BaseException, exc_cause: BaseException | None = None) -> None:
        self.error = exc


def _masked(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A client frame (masked, as clients must)."""
    mask = b"\x01\x02\x03\x04"
    head = bytes([(0x80 if fin else 0) | opcode, 0x80 | len(payload)])
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def check_aiohttp() -> None:
    """Fail at start-up, clearly, if aiohttp no longer works the way this module relies
    on: the door would otherwise lose frames, hang or leak connections at run time."""
    problems = []
    post_start = getattr(web.WebSocketResponse, "_post_start", None)
    params = list(inspect.signature(post_start).parameters) if callable(post_start) else None
    if params != ["self", "request", "protocol", "writer"]:
        problems.append(f"WebSocketResponse._post_start(self, request, protocol, writer) is {params}")
    if not hasattr(web.WebSocketResponse(), "_ws_protocol"):
        problems.append("WebSocketResponse has no _ws_protocol")
    if not hasattr(RequestHandler, "_message_tail"):  # a slot
        problems.append("RequestHandler has no _message_tail")
    lost = getattr(RequestHandler, "connection_lost", None)
    if not callable(lost) or list(inspect.signature(lost).parameters) != ["self", "exc"]:
        problems.append("RequestHandler has no connection_lost(self, exc)")
    if not problems:
        probe = _ProbeSink()
        try:
            parser = make_parser(probe, 8)
            parser.feed_data(_masked(0x1, b"ab", fin=False) + _masked(0x0, b"c") + _masked(0x9, b"p"))
            parser.feed_data(_masked(0x2, b"123456789"))  # over the limit of 8
        except Exception as exc:  # noqa: BLE001 - any failure here is the finding
            problems.append(f"parsing into the door's sink failed: {exc!r}")
        else:
            if probe.frames != [(WSMsgType.TEXT, b"abc"), (WSMsgType.PING, b"p")]:
                problems.append(f"the parser fed {probe.frames}")
            if close_code(probe.error or Exception()) != WSCloseCode.MESSAGE_TOO_BIG:
                problems.append(f"an oversized frame ended the stream with {probe.error!r}")
    if problems:
        raise RuntimeError(
            f"aiohttp {aiohttp.__version__}'s WebSocket internals are not those fastport's WebSocket door "
            f"was written against (aiohttp 3.14, fastport/web/handoff.py): " + "; ".join(problems)
        )
