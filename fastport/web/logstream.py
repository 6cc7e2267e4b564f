"""Log lines for the people who run a session, and for the server's admin.

``LogHub`` is a ``logging.Handler`` on the ``fastport`` logger while the HTTP door runs.
Log lines about a session carry ``session`` and ``peer`` attributes (the convention of
``core/broker.py``), so the hub can route them without the core knowing it exists:

- each line about session S goes to the WebSocket sockets of S that are subscribed to
  exactly ``sys/logs``, as ``{"type":"log","data":LINE,"timestamp":MS}``
  (legacy-json.md §7); never to another session's sockets;
- every line (about a session or not) is kept in a ring of the last ``KEEP_LINES``
  for the admin portal's log views (``GET /api/admin/logs``).

The stream is bounded: a log reader with more than ``MAX_READER_BYTES`` of unread
output is dropped from the stream (unsubscribed from ``sys/logs``, which it may
subscribe to again) instead of being buffered for, so a slow log reader costs the
broker nothing. What the stream carries is what the server logs at its ``--log-level``
(the default, ``info``, includes every session line).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections import deque
from dataclasses import dataclass

from ..core import Broker, BrokerError, Connection
from . import codec
from .peer import WebPeer

LOG_TOPIC = "sys/logs"
KEEP_LINES = 1000  # the ring the admin portal reads
MAX_READER_BYTES = 256 * 1024  # unread output past which a log reader is dropped from the stream

log = logging.getLogger("fastport.web")


@dataclass(frozen=True, slots=True)
class LogLine:
    seq: int  # increasing; the portal asks for the lines after the last one it has
    timestamp_ms: int
    level: str
    logger: str
    session: str | None
    peer: str
    message: str

    def text(self) -> str:
        """The line as a session's log readers get it."""
        return f"{self.level} {self.message} ({self.peer})" if self.peer else f"{self.level} {self.message}"


class LogHub(logging.Handler):
    def __init__(self, broker: Broker) -> None:
        super().__init__()
        self._broker = broker
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0
        self._seq = itertools.count(1)
        self.lines: deque[LogLine] = deque(maxlen=KEEP_LINES)

    def install(self, logger: logging.Logger) -> None:
        """Start collecting ``logger``'s lines; called on the event loop."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        logger.addHandler(self)

    def uninstall(self, logger: logging.Logger) -> None:
        logger.removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        session = getattr(record, "session", None)
        line = LogLine(
            seq=next(self._seq),
            timestamp_ms=int(record.created * 1000),
            level=record.levelname,
            logger=record.name,
            session=session if isinstance(session, str) else None,
            peer=str(getattr(record, "peer", "") or ""),
            message=record.getMessage(),
        )
        self.lines.append(line)
        loop = self._loop
        if line.session is None or loop is None:
            return
        if threading.get_ident() == self._thread:
            self._stream(line)
        else:  # a line logged on another thread (a store's writer)
            try:
                loop.call_soon_threadsafe(self._stream, line)
            except RuntimeError:  # the loop is closed: the server has stopped
                pass

    def after(self, seq: int, session: str | None = None) -> list[LogLine]:
        """The kept lines after ``seq``, only those about ``session`` if given."""
        return [line for line in self.lines if line.seq > seq and (session is None or line.session == session)]

    def _stream(self, line: LogLine) -> None:
        """Send ``line`` to its session's log readers."""
        frame: bytes | None = None
        for conn in self._broker.subscribers(line.session or "", LOG_TOPIC):
            peer = conn.peer
            if type(peer) is not WebPeer or peer.closed:
                continue
            if peer.buffered() > MAX_READER_BYTES:
                asyncio.get_running_loop().call_soon(self._drop_reader, conn)
                continue
            if frame is None:
                frame = codec.text_frame(codec.log_line(line.text(), line.timestamp_ms))
            peer.relay(frame)

    def _drop_reader(self, conn: Connection) -> None:
        """Later than the line that found it slow: not from inside whatever the core was
        doing when it logged."""
        session = conn.session
        if conn.closed or session is None or conn not in self._broker.subscribers(session.name, LOG_TOPIC):
            return  # gone, or dropped already by an earlier line
        try:
            self._broker.unsubscribe(conn, LOG_TOPIC)
        except BrokerError:
            return
        log.warning(
            "a log reader was dropped from the log stream: %d bytes unread",
            conn.peer.buffered() if isinstance(conn.peer, WebPeer) else 0,
            extra={"peer": conn.address},
        )
