"""A node's one connection to NATS: where it connects, whether it can serve, and how
a message is published to JetStream without ever being confirmed falsely.

The connection reconnects by itself for as long as the node runs (nats-py keeps
trying every server of the list, and the servers the cluster tells it about), so a
NATS server restarted or replaced is picked up again without touching the node. What
the node must not do meanwhile is pretend: while no server is reachable the node is
not ready (``ready``, for ``/health``), and a publish is answered with the coded error
``unavailable`` once it could not be stored within its time — never confirmed unless
JetStream said it stored it.

Start-up is different: a node that cannot reach any NATS server when it starts stops
with ``unavailable`` and the addresses it tried (a wrong URL, wrong credentials or a
cluster that is not up yet should be seen at once, not hidden behind a server that
listens but can do nothing).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from nats.aio.client import Client
from nats.errors import AuthorizationError, ConnectionClosedError, NoRespondersError, OutboundBufferLimitError
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import APIError, NoStreamResponseError, ServiceUnavailableError
from nats.protocol.parser import AUTHORIZATION_VIOLATION

from ...core.errors import BrokerError, ErrorCode
from ...urls import hide_secret

log = logging.getLogger("fastport.jetstream")
T = TypeVar("T")

# How long start-up tries to reach NATS before it gives up.
CONNECT_TIMEOUT_S = 5.0
# A publish is tried for this long in all (a JetStream leader election after a server
# died took up to about 5 s in the tests, see docs/engines/jetstream.md), each try
# waiting at most PUBLISH_TRY_S for its answer: a request sent while the client
# reconnects can be lost, and must not use up the whole budget.
PUBLISH_BUDGET_S = 8.0
PUBLISH_TRY_S = 1.0
# ... but while no NATS server is connected at all, for this long at most (nats-py
# moves to another server of a cluster at once).
AWAY_S = 2.0
RETRY_PAUSE_S = 0.1
# How long closing waits for nats-py to close the connection: while it reconnects to a
# server whose TLS certificate it refuses, nats-py's close waits on that socket for
# ever (seen with nats-py 2.16), and a node must still stop.
CLOSE_WAIT_S = 2.0
# JetStream's err_codes for a stream at its max messages / max bytes (discard new).
_STREAM_FULL = frozenset((10077, 10078))
# ... and for a durable push consumer that another subscription still listens to:
# its deliver subject cannot be moved while it is active.
_CONSUMER_IN_USE = 10013


@dataclass(frozen=True, slots=True)
class NatsOptions:
    """Where and how a node connects: ``--nats-url``, ``--nats-creds``, ``--nats-tls-ca``."""

    servers: tuple[str, ...]
    creds: Path | None = None  # a NATS credentials file (user JWT and seed)
    tls_ca: Path | None = None  # CA to check the servers' TLS certificates against
    name: str = "fastport"  # shown by the servers' monitoring
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    publish_budget_s: float = PUBLISH_BUDGET_S

    def tls_context(self) -> ssl.SSLContext | None:
        if self.tls_ca is None:
            return None
        try:
            return ssl.create_default_context(cafile=str(self.tls_ca))
        except (OSError, ssl.SSLError) as exc:
            raise BrokerError(ErrorCode.UNAVAILABLE, f"NATS TLS CA {self.tls_ca} cannot be used: {exc}") from None


def unavailable(why: str) -> BrokerError:
    return BrokerError(ErrorCode.UNAVAILABLE, why)


class ConsumerInUse(BrokerError):
    """A durable consumer could not be taken over: another node's subscription still
    listens to it (a client id's older connection there, not closed yet)."""

    def __init__(self, why: str) -> None:
        super().__init__(ErrorCode.UNAVAILABLE, why)


class NatsLink:
    """The node's NATS connection and its JetStream context."""

    def __init__(self, options: NatsOptions) -> None:
        self.options = options
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._last_error: str = ""
        # Called with True/False when the node can or cannot serve any more.
        self._listeners: list[Callable[[bool], None]] = []
        self._closing = False
        self._refusals = 0  # connections refused during start-up
        self._refusal = ""  # ... the last refusal's words: what start-up reports, not a reset after it
        self._refused = asyncio.Event()  # ... by every server, twice: give up at once

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        """Connect, or raise ``unavailable`` saying which servers could not be reached
        and why: after ``connect_timeout_s``, or as soon as every server has refused
        the connection twice (see ``refused``: no use waiting)."""
        o = self.options
        if o.creds is not None and not o.creds.is_file():
            raise unavailable(f"NATS credentials file {o.creds} does not exist")
        nc = Client()
        connecting = nc.connect(
            list(o.servers),
            name=o.name,
            user_credentials=str(o.creds) if o.creds else None,
            tls=o.tls_context(),
            allow_reconnect=True,
            max_reconnect_attempts=-1,  # never give up while the node runs
            reconnect_time_wait=1,
            connect_timeout=max(1, int(o.connect_timeout_s / 2)),
            error_cb=self._on_error,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
        )
        attempt = asyncio.ensure_future(connecting)
        refused = asyncio.ensure_future(self._refused.wait())
        try:
            await asyncio.wait((attempt, refused), timeout=o.connect_timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            refused.cancel()
        if not attempt.done() or attempt.exception() is not None:
            attempt.cancel()
            await asyncio.gather(attempt, return_exceptions=True)
            await nc.close()
            exc = attempt.exception() if attempt.done() and not attempt.cancelled() else None
            why = self._refusal or self._last_error or (str(exc) if exc else "") or "no answer"
            raise unavailable(f"cannot reach NATS at {', '.join(map(hide_secret, o.servers))}: {why}")
        self._nc = nc
        self._js = nc.jetstream(timeout=PUBLISH_TRY_S)
        log.info("connected to NATS at %s (max payload %d bytes)", self.where(), nc.max_payload)

    async def close(self) -> None:
        self._closing = True
        if self._nc is not None:
            try:
                await asyncio.wait_for(self._nc.close(), CLOSE_WAIT_S)
            except TimeoutError:  # first: it is an OSError too
                log.warning("NATS connection not closed within %.0f s: left behind", CLOSE_WAIT_S)
            except (OSError, NatsError) as exc:  # NATS gone already: nothing left to flush to
                log.warning("NATS connection closed with an error: %s", exc)

    # ------------------------------------------------------------------ state

    @property
    def nc(self) -> Client:
        assert self._nc is not None, "NatsLink.open() first"
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        assert self._js is not None, "NatsLink.open() first"
        return self._js

    @property
    def ready(self) -> bool:
        """Connected to a NATS server now: what ``/health`` reports as ready."""
        return self._nc is not None and self._nc.is_connected

    @property
    def max_payload(self) -> int:
        """The largest message (payload and headers) the servers take: from their INFO."""
        return self.nc.max_payload

    def on_ready(self, listener: Callable[[bool], None]) -> None:
        """``listener(False)`` when the connection is lost, ``listener(True)`` when back."""
        self._listeners.append(listener)

    async def _on_error(self, exc: Exception) -> None:
        if self._nc is None and refused(exc):
            self._refusal = str(exc) or type(exc).__name__
            self._refusals += 1  # at start-up: every server refusing twice is an answer
            if self._refusals >= 2 * len(self.options.servers):
                self._refused.set()
        why = str(exc) or type(exc).__name__
        if why != self._last_error:  # not once per reconnect attempt (one a second)
            log.warning("NATS: %s", why)
        self._last_error = why

    async def _on_disconnected(self) -> None:
        if self._nc is not None and not self._closing:  # start-up and close say so themselves
            log.error("NATS connection lost: not ready, publishes refused with unavailable until it is back")
            for listener in self._listeners:
                listener(False)

    def where(self) -> str:
        """The server connected to, as ``host:port`` (its URL may hold a password)."""
        url = self.nc.connected_url
        return f"{url.hostname}:{url.port}" if url is not None else "?"

    async def _on_reconnected(self) -> None:
        log.info("NATS connection back (%s): ready", self.where())
        for listener in self._listeners:
            listener(True)

    # ------------------------------------------------------------------ publishing

    def check_size(self, payload: bytes, headers: dict[str, str]) -> None:
        """Refuse with ``payload_too_large`` a message the servers would refuse: a
        message over their ``max_payload`` (headers included) makes the server close the
        connection that sent it, which is every publisher's and subscriber's here."""
        size = len(payload) + header_bytes(headers)
        limit = self.max_payload
        if size > limit:
            raise BrokerError(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"Message of {size} bytes with its headers; the NATS servers take at most {limit}"
                " (max_payload in their configuration)",
            )

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> PubAck:
        """Store one message in JetStream; the PubAck says where (and ``duplicate``).

        Tried again, with the same headers (so the same ``Nats-Msg-Id``), until
        JetStream answers (see ``call``): a try that got no answer may still have been
        stored, and the duplicate window turns the next try into a duplicate answer,
        never a second copy. Refused with ``overloaded`` when the session's stream is
        full."""
        self.check_size(payload, headers)
        return await self.call(
            lambda: self.js.publish(subject, payload, timeout=PUBLISH_TRY_S, headers=headers),
            "Message not stored",
        )

    async def call(self, request: Callable[[], Awaitable[T]], failed: str) -> T:
        """``request()`` (a JetStream API call), tried again while JetStream does not
        answer, for ``publish_budget_s`` in all, of which at most ``AWAY_S`` without
        any NATS connection; then ``unavailable``, starting with ``failed``. A try is
        made only while connected: a request written while nats-py reconnects waits
        in its buffer and can be lost.

        No stream for a subject looks the same as a server that lost its routes (no
        responders), so that is tried again too: the engine only asks about sessions
        it knows. A stream at its limits answers ``overloaded`` at once."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.publish_budget_s
        why = "no NATS server reachable"
        away_since: float | None = None
        while True:
            if not self.ready:  # reconnecting: a moment for a failover, no more
                away_since = away_since or loop.time()
                if loop.time() - away_since >= AWAY_S:
                    deadline = loop.time()
            else:
                try:
                    return await request()
                except ServiceUnavailableError as exc:  # no leader, or the stream is full
                    if exc.err_code in _STREAM_FULL:
                        raise BrokerError(
                            ErrorCode.OVERLOADED,
                            f"Session holds its maximum of unsettled messages ({exc.description}):"
                            " publish again once subscribers have caught up",
                        ) from None
                    why = exc.description or "JetStream unavailable"
                except APIError as exc:
                    if exc.err_code == _CONSUMER_IN_USE:
                        raise ConsumerInUse(f"{failed}: {exc.description} (by another node)") from None
                    raise unavailable(f"{failed}: JetStream refused it: {exc.description}") from None
                except (NatsTimeoutError, NoStreamResponseError, NoRespondersError):
                    why = "JetStream did not answer"
                except (ConnectionClosedError, OutboundBufferLimitError):
                    why = "the NATS connection was lost"
            if loop.time() + RETRY_PAUSE_S > deadline:
                raise unavailable(f"{failed}: {why} (try again)")
            await asyncio.sleep(RETRY_PAUSE_S)


def refused(exc: Exception) -> bool:
    """An answer that asking again will not change: nothing listens there, the
    server's certificate is not signed by the CA, or it refuses the credentials
    (nats-py reports that as a plain error with the server's words, or as its own
    ``AuthorizationError``)."""
    return isinstance(exc, (ConnectionRefusedError, ssl.SSLCertVerificationError, AuthorizationError)) or (
        AUTHORIZATION_VIOLATION in str(exc).lower()
    )


def header_bytes(headers: dict[str, str]) -> int:
    """Bytes ``headers`` take on the wire, as nats-py writes them: ``NATS/1.0\\r\\n``,
    ``key: value\\r\\n`` each, then ``\\r\\n``."""
    if not headers:
        return 0
    return 12 + sum(len(k) + len(v.encode("utf-8")) + 4 for k, v in headers.items())
