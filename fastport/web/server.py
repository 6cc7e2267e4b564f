"""The HTTP door: one aiohttp server for the REST admin API, ``/health`` and the
legacy JSON WebSocket protocol, on one port (legacy-json.md §1).

One middleware sees every request first:

- a WebSocket upgrade, on any path, goes to the WebSocket endpoint;
- a CORS preflight for a configured origin is answered;
- ``/api/*`` is counted by the rate limiter (429 past the limit);
- anything that fails (no route, wrong method, body too large, a bug) is answered
  with JSON, never an HTML page;
- every answer gets the security headers (``headers.py``).
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import hdrs, web

from ..auth import AdminAuth
from ..core import Broker
from ..core.errors import ErrorCode
from . import codec
from .codec import RestError
from .headers import secure
from .logstream import LogHub
from .metrics import Metrics
from .portal import Portal
from .ratelimit import RateLimiter
from .rest import RestApi, error_response, http_error, json_response
from .websocket import WebSocketEndpoint

log = logging.getLogger("fastport.web")

MAX_BODY_BYTES = 1024 * 1024  # REST bodies; WebSocket frames have their own limit
SHUTDOWN_TIMEOUT_S = 5.0  # requests still running at stop get this long to finish
_CORS_METHODS = "GET, POST, OPTIONS"
_CORS_HEADERS = "Authorization, Content-Type"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebDoor:
    def __init__(
        self,
        broker: Broker,
        auth: AdminAuth,
        *,
        max_payload_bytes: int,
        api_rate_limit: int,
        cors_origins: tuple[str, ...] = (),
        open_admin: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        store: str = "memory",
        engine: str = "embedded",
        metrics_sessions: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._broker = broker
        self._auth = auth
        self.websockets = WebSocketEndpoint(broker, max_payload_bytes)
        self._rest = RestApi(broker, auth, open_admin)
        self.logs = LogHub(broker)
        self.portal = Portal(broker, auth, self.logs, store=store, engine=engine, clock=clock)
        self._metrics = Metrics(broker, metrics_sessions)
        self._limiter = RateLimiter(api_rate_limit, clock=clock)
        self._origins = frozenset(cors_origins)
        self._ssl = ssl_context
        self._open_admin = open_admin
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self.port = 0

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY_BYTES)
        app.add_routes(self._rest.routes())
        app.add_routes(self.portal.routes())
        app.add_routes([web.get("/health", self.health), web.get("/metrics", self._metrics.handle)])
        # Every other path and method is a real route, answered 404: aiohttp caches the
        # middleware chain per route, but builds it anew for each request that matches
        # no route and keeps it for the request's lifetime, so every WebSocket (accepted
        # on any path, by the middleware) kept a chain of its own (bench/README.md,
        # "What profiling found", 6.). A wrong method on
        # an /api/ route lands here too: 404, as the old server answered (§7), not 405.
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    async def start(self, sock: socket.socket) -> int:
        """Serve on ``sock``, bound by the caller before anything else was set up."""
        if self._open_admin:
            log.warning(
                "--open-admin is on: anyone who can reach the HTTP port can create sessions without credentials"
            )
        self._runner = web.AppRunner(
            self.make_app(), access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S
        )
        await self._runner.setup()
        site = web.SockSite(self._runner, sock, ssl_context=self._ssl)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.logs.install(logging.getLogger("fastport"))
        self.portal.rates.start()
        return self.port

    def stopping(self) -> None:
        """The server is going down: /health says so from now on."""
        self._stopping = True

    async def stop(self, grace: float) -> None:
        """Close every WebSocket with a reason (1001), then stop serving."""
        self._stopping = True
        self.portal.rates.stop()
        self.logs.uninstall(logging.getLogger("fastport"))
        await self.websockets.close_all(1001, b"Server shutting down", grace)
        if self._runner is not None:
            await self._runner.cleanup()

    # -- requests --

    @web.middleware
    def _middleware(self, request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        """Not a coroutine itself: it hands aiohttp the coroutine to await, so a
        WebSocket, which lives in its handler for as long as it is open, does not keep a
        middleware frame alive as well."""
        if request.method == "GET" and request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
            return self.websockets.handle(request)
        return self._http(request, handler)

    async def _http(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await self._answer(request, handler)
        secure(response)
        return response

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = request.headers
        cors = self._cors(request)
        if request.method == "OPTIONS" and hdrs.ACCESS_CONTROL_REQUEST_METHOD in headers:
            return web.Response(status=204, headers=self._preflight(request) if cors else None)
        extra: dict[str, str] = dict(cors) if cors else {}
        if request.path.startswith("/api/") and not self._portal_poll(request):
            decision = self._limiter.hit(request.remote or "")
            extra.update(decision.headers())
            if not decision.allowed:
                body = codec.rest_error("Too many requests, please try again later.", codec.RATE_LIMITED)
                return json_response(body, 429, extra)
        try:
            response = await handler(request)
        except RestError as err:
            response = error_response(err)
        except web.HTTPException as exc:
            response = error_response(http_error(exc))
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            response = error_response(RestError(500, "Internal server error", ErrorCode.INTERNAL))
        response.headers.update(extra)
        return response

    def _portal_poll(self, request: web.Request) -> bool:
        """The admin portal's reads (``GET /api/admin/...`` with valid admin
        credentials) are not rate limited: the dashboard polls them every few seconds.
        Everything else under /api/, wrong credentials included, counts."""
        if request.method != "GET" or not request.path.startswith("/api/admin/"):
            return False
        header = request.headers.get(hdrs.AUTHORIZATION)
        return header is not None and (self._auth.check_bearer(header) or self._auth.check_basic(header))

    def _cors(self, request: web.Request) -> dict[str, str] | None:
        origin = request.headers.get(hdrs.ORIGIN)
        if not origin or not self._origins:
            return None
        if "*" in self._origins:
            return {hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: "*"}
        if origin in self._origins:
            return {hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: origin, hdrs.VARY: "Origin"}
        return None

    def _preflight(self, request: web.Request) -> dict[str, str]:
        headers = self._cors(request) or {}
        headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = _CORS_METHODS
        headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = request.headers.get(
            hdrs.ACCESS_CONTROL_REQUEST_HEADERS, _CORS_HEADERS
        )
        headers[hdrs.ACCESS_CONTROL_MAX_AGE] = "600"
        return headers

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        """Anything but a WebSocket upgrade (the middleware takes those first)."""
        raise web.HTTPNotFound()

    async def health(self, request: web.Request) -> web.Response:
        ready = not self._stopping and self._broker.ready()
        status = "ok" if ready else "shutting_down" if self._stopping else "unavailable"
        body = {"status": status, "live": True, "ready": ready}
        return json_response(orjson.dumps(body), 200 if ready else 503)
