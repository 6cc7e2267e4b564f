"""The WebSocket endpoint: accepts legacy JSON WebSockets on any path and keeps them.

aiohttp answers the upgrade; ``handoff.take_over`` then gives the connection to the
door: a ``WebPeer`` (``peer.py``, the socket's I/O) with a ``LegacyConnection``
(``legacy.py``, the protocol, no I/O). aiohttp keeps nothing of it afterwards, so an
idle socket costs its transport, its frame parser and those two objects (with the
core's ``Connection``), and no task.

Dead connections are found by one sweep over all sockets every ``PING_INTERVAL_S / 2``
instead of a timer per socket (``LegacyConnection.tick`` decides): idle sockets are
what a broker has most of, and their memory is what the per-connection budget is
about. Only the frames the door handles count as signs of life: not the bytes of a
frame still arriving, nor frames kept back while the socket waits for its client to
read the replies (such a client does not see the ping either).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import hdrs, web

from ..core import Broker
from .handoff import check_aiohttp, take_over
from .legacy import LegacyConnection
from .peer import WebPeer
from .rest import error_response, http_error

log = logging.getLogger("fastport.web")

PING_INTERVAL_S = 30.0  # an idle socket is pinged after this; no pong in half of it closes it
MAX_BUFFER_BYTES = 16 * 1024 * 1024  # per socket, on top of one maximum-size frame


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
    """Accepts WebSockets and keeps the open ones, for the idle sweep and shutdown."""

    def __init__(self, broker: Broker, max_payload: int) -> None:
        check_aiohttp()
        self._broker = broker
        self._max_payload = max_payload
        self._sockets: set[WebPeer] = set()
        self._sweep: asyncio.TimerHandle | None = None
        self._all_gone: asyncio.Future[None] | None = None  # while close_all waits
        self._on_gone = self._gone  # one bound method, shared by every socket

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            response, _ = await take_over(request, _first_subprotocol(request), self._accept)
        except web.HTTPException as exc:  # a handshake that is not right
            return error_response(http_error(exc))
        return response

    def _accept(self, transport: asyncio.Transport) -> WebPeer:
        """The door's side of a connection aiohttp has upgraded."""
        peer = WebPeer(transport, self._max_payload, MAX_BUFFER_BYTES + self._max_payload, self._on_gone)
        peer.legacy = LegacyConnection(self._broker, peer, _address(transport))
        self._sockets.add(peer)
        if self._sweep is None:
            self._schedule_sweep()
        return peer

    def _gone(self, peer: WebPeer) -> None:
        self._sockets.discard(peer)
        if not self._sockets and self._all_gone is not None and not self._all_gone.done():
            self._all_gone.set_result(None)

    def _schedule_sweep(self) -> None:
        self._sweep = asyncio.get_running_loop().call_later(PING_INTERVAL_S / 2, self._sweep_idle)

    def _sweep_idle(self) -> None:
        """Ping the sockets that have been silent, drop those that did not answer the
        last ping; reschedules itself while any socket is open."""
        for peer in list(self._sockets):
            peer.legacy.tick()
        if self._sockets:
            self._schedule_sweep()
        else:
            self._sweep = None

    async def close_all(self, code: int, reason: bytes, timeout: float) -> None:
        """Close every socket still open (also those that never sent ``init``), wait at
        most ``timeout`` seconds for their clients to answer, then drop the rest."""
        for peer in list(self._sockets):
            peer.shut(code, reason)
        if self._sockets:
            self._all_gone = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._all_gone), timeout)
            except TimeoutError:
                pass
            self._all_gone = None
        for peer in list(self._sockets):
            peer.cancel()
            peer.abort()
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
