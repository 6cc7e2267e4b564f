"""The admin web portal (legacy-json.md §7, "Admin portal routes"): the dashboard at
``/admin``, the pub/sub playground at ``/test``, and the JSON routes they read.

The pages are static files shipped in the package (``static/``): hand-written HTML, CSS
and JavaScript, no build step, nothing fetched from elsewhere. They talk to the server
only through JSON routes with the admin's ``Authorization`` header (the token lives in
the page's memory or sessionStorage, never in a URL) and, for the playground, through
the legacy WebSocket protocol like any other client. The pages never insert text they
received as HTML, and a strict Content-Security-Policy (no inline script or style, no
other origin) backs that up.

Session administration (create, suspend, resume, drop) goes through the REST admin API
(``rest.py``) that scripts use; this module adds what only the portal needs:

- ``POST /api/admin/login``: the admin user and password in, the Basic credentials the
  page then sends out (the old portal's shape);
- ``GET /api/admin/stats``: the old keys (uptime, memory, connections, dbType) and
  fastport's (totals, rates, a few minutes of rate history for the chart);
- ``GET /api/admin/sessions``: the REST session list, with each session's rates;
- ``GET /api/admin/logs``: the server's recent log lines, or one session's (``logstream``).

Rates come from the core's plain counters (``core/counters.py``), sampled once a
second by ``RateSampler``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import resource
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson
from aiohttp import web

from ..auth import AdminAuth
from ..core import Broker, SessionInfo
from ..core.counters import Counters
from ..core.errors import BrokerError, ErrorCode
from ..views import session_json
from . import codec
from .codec import RestError
from .headers import PAGE_CSP
from .logstream import LogHub
from .rest import json_response, require_admin

audit = logging.getLogger("fastport.audit")

SAMPLE_INTERVAL_S = 1.0
HISTORY_SAMPLES = 300  # five minutes of server-wide rates for the chart
RATE_WINDOW = 5  # samples a session's rates are averaged over
MAX_LOG_LINES = 500  # per answer of GET /api/admin/logs

# Pages may load their own scripts and styles and talk to this server, nothing else
# (headers.py; the door adds its other security headers to every answer). The policy
# goes on the scripts and styles too.
PAGE_HEADERS = {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"}
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}

INVALID_LOGIN = orjson.dumps({"success": False, "error": "Invalid credentials", "code": ErrorCode.UNAUTHENTICATED})


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # the sampler's clock, seconds
    wall_ms: int
    counters: Counters
    connections: int


def _per_second(new: Counters, old: Counters, seconds: float) -> dict[str, float]:
    """Publishes, deliveries and ACKs per second between two readings of the counters."""
    if seconds <= 0:
        return {"publish": 0.0, "delivery": 0.0, "ack": 0.0}
    return {
        "publish": round((new.published - old.published) / seconds, 1),
        "delivery": round((new.delivered - old.delivered) / seconds, 1),
        "ack": round((new.acked - old.acked) / seconds, 1),
    }


class RateSampler:
    """Samples the broker's counters every ``SAMPLE_INTERVAL_S``: the last few minutes
    for the whole server, the last few seconds per session."""

    def __init__(self, broker: Broker, clock: Callable[[], float] = time.monotonic) -> None:
        self._broker = broker
        self._clock = clock
        self.history: deque[Sample] = deque(maxlen=HISTORY_SAMPLES)
        self._sessions: dict[str, deque[tuple[float, Counters]]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()

        def tick() -> None:
            self.sample()
            self._timer = loop.call_later(SAMPLE_INTERVAL_S, tick)

        tick()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def sample(self) -> None:
        """Once a second, over every session: it reads the counters and nothing else
        (no ``SessionInfo`` per session), so that many sessions cost little."""
        now = self._clock()
        broker = self._broker
        seen = {}
        for name, session in broker.sessions.items():
            window = self._sessions.get(name)
            if window is None:
                window = deque(maxlen=RATE_WINDOW + 1)
            window.append((now, session.counters.copy()))
            seen[name] = window
        self._sessions = seen  # dropped sessions leave with this
        self.history.append(Sample(now, int(time.time() * 1000), broker.totals(), broker.stats.connections))

    def session_rates(self, name: str) -> dict[str, float]:
        """Publishes, deliveries and ACKs per second over the last few seconds."""
        window = self._sessions.get(name)
        if not window:
            return _per_second(Counters(), Counters(), 0)
        (t0, first), (t1, last) = window[0], window[-1]
        return _per_second(last, first, t1 - t0)

    def chart(self) -> list[dict[str, Any]]:
        """Per-second rates over the kept history, oldest first."""
        points = []
        previous: Sample | None = None
        for sample in self.history:
            if previous is not None:
                rates = _per_second(sample.counters, previous.counters, sample.at - previous.at)
                points.append({"t": sample.wall_ms, **rates, "connections": sample.connections})
            previous = sample
        return points


def _memory() -> dict[str, int]:
    """Resident memory now and at its peak, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    try:
        with open("/proc/self/statm", "rb") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        rss = peak
    return {"rss": rss, "peakRss": peak}


def _static_files() -> dict[str, tuple[bytes, str]]:
    """The portal's files, read once: name -> (content, content type)."""
    files = {}
    for entry in resources.files(__package__).joinpath("static").iterdir():
        content_type = _TYPES.get(os.path.splitext(entry.name)[1])
        if entry.is_file() and content_type is not None:
            files[entry.name] = (entry.read_bytes(), content_type)
    return files


class Portal:
    def __init__(
        self,
        broker: Broker,
        auth: AdminAuth,
        logs: LogHub,
        *,
        store: str,
        engine: str = "embedded",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._broker = broker
        self._auth = auth
        self._logs = logs
        self._store = store
        self._engine = engine
        self._clock = clock
        self._started = clock()
        self.rates = RateSampler(broker, clock)
        self._files = _static_files()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/admin", self._page("admin.html")),
            web.get("/test", self._page("test.html")),
            web.get("/static/{name}", self.static),
            web.post("/api/admin/login", self.login),
            web.get("/api/admin/stats", self.stats),
            web.get("/api/admin/sessions", self.sessions),
            web.get("/api/admin/logs", self.logs),
        ]

    # -- pages --

    def _page(self, name: str) -> Callable[[web.Request], Any]:
        async def page(request: web.Request) -> web.Response:
            return self._file(name)

        return page

    async def static(self, request: web.Request) -> web.Response:
        return self._file(request.match_info["name"])

    def _file(self, name: str) -> web.Response:
        found = self._files.get(name)
        if found is None:
            raise web.HTTPNotFound()
        body, content_type = found
        return web.Response(body=body, content_type=content_type, charset="utf-8", headers=PAGE_HEADERS)

    # -- JSON --

    async def login(self, request: web.Request) -> web.Response:
        body = codec.parse_body(await request.read())
        user, password = body.get("username"), body.get("password")
        if not isinstance(user, str) or not isinstance(password, str):
            raise RestError(400, "username and password are required", ErrorCode.INVALID_FIELD)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        try:
            admitted = self._auth.admit(f"Basic {token}", request.remote or "", basic=True)
        except BrokerError as err:  # too many wrong logins from this address
            raise RestError(429, err.message, err.code) from None
        if not admitted:  # audited by the throttle, as every failed login
            return json_response(INVALID_LOGIN, 401)
        audit.info("admin logged in to the portal", extra={"peer": request.remote or "", "action": "login"})
        return json_response(orjson.dumps({"success": True, "token": token}))

    async def stats(self, request: web.Request) -> web.Response:
        require_admin(self._auth, request)
        infos = self._broker.list_sessions()
        chart = self.rates.chart()
        last = chart[-1] if chart else {"publish": 0.0, "delivery": 0.0, "ack": 0.0}
        totals = self._broker.totals()
        body = {
            "uptime": round(self._clock() - self._started, 1),
            "memory": _memory(),
            "connections": self._broker.stats.connections,  # open on either door, as /metrics
            "dbType": self._store,
            "engine": self._engine,
            "sessions": len(infos),
            "suspendedSessions": sum(1 for info in infos if info.suspended),
            "pendingMessages": sum(info.pending_messages for info in infos),
            "totals": {
                "published": totals.published,
                "delivered": totals.delivered,
                "acked": totals.acked,
                "givenUp": totals.given_up,
            },
            "rates": {"publish": last["publish"], "delivery": last["delivery"], "ack": last["ack"]},
            "history": chart,
            "sampleInterval": SAMPLE_INTERVAL_S,
        }
        return json_response(orjson.dumps(body))

    async def sessions(self, request: web.Request) -> web.Response:
        require_admin(self._auth, request)
        body = {"success": True, "sessions": [self._session(info) for info in self._broker.list_sessions()]}
        return json_response(orjson.dumps(body))

    def _session(self, info: SessionInfo) -> dict[str, Any]:
        rates = self.rates.session_rates(info.name)
        counters = info.counters
        return {
            **session_json(info),
            "state": "suspended" if info.suspended else "active",
            "published": counters.published,
            "delivered": counters.delivered,
            "acked": counters.acked,
            "givenUp": counters.given_up,
            "publishRate": rates["publish"],
            "deliveryRate": rates["delivery"],
        }

    async def logs(self, request: web.Request) -> web.Response:
        """``?after=SEQ`` (the last line the page has), ``&session=NAME`` for one session's."""
        require_admin(self._auth, request)
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            raise RestError(400, "after must be an integer", ErrorCode.INVALID_FIELD) from None
        lines = self._logs.after(after, request.query.get("session"))[-MAX_LOG_LINES:]
        body = {
            "success": True,
            "lines": [
                {
                    "seq": line.seq,
                    "timestamp": line.timestamp_ms,
                    "level": line.level,
                    "logger": line.logger,
                    "session": line.session,
                    "peer": line.peer,
                    "message": line.message,
                }
                for line in lines
            ],
        }
        return json_response(orjson.dumps(body))
