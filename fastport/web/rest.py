"""The REST admin API (legacy-json.md §7) and ``GET /health``.

Each route parses its body with ``codec``, checks who is asking, calls the broker and
answers JSON. Who may do what:

- createSession: the admin (HTTP Basic with the configured admin user and password, or
  ``Authorization: Bearer <admin token>``); anyone when the server runs with
  ``--open-admin``.
- dropSession, suspendSession, resumeSession: the admin, or, with no Authorization
  header at all, whoever sends the session's password and secret key in the body.
  Credentials in the body are checked whenever they are given, also for the admin: a
  wrong one is 400 "Invalid credentials" (the old server did so, and its clients'
  tests rely on it), so a typo in a drop never deletes a session.
- GET /api/sessions: the admin only.

A wrong Authorization header is refused even where none would do: a client that
sends credentials wants to know that they are wrong.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web

from ..auth import AdminAuth
from ..logs import audit_admin_action
from ..core import Broker, BrokerError, ErrorCode
from ..views import session_json
from . import codec
from .codec import RestError

JSON = "application/json"

audit = logging.getLogger("fastport.audit")

MISSING_AUTH = RestError(401, "Missing Authorization Header", ErrorCode.UNAUTHENTICATED)
BAD_AUTH = RestError(401, "Unauthorized: Invalid Admin Credentials", ErrorCode.UNAUTHENTICATED)

_STATUS: dict[ErrorCode, int] = {
    ErrorCode.STORAGE_ERROR: 503,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.SHUTTING_DOWN: 503,
    ErrorCode.TOO_MANY_ATTEMPTS: 429,
    ErrorCode.INTERNAL: 500,
}


def json_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON, headers=headers)


def error_response(err: RestError) -> web.Response:
    if err.status == 401:
        # The documented 401 bodies have no "success" key.
        return json_response(orjson.dumps({"error": err.message, "code": err.code}), 401)
    return json_response(codec.rest_error(err.message, err.code), err.status)


def http_error(exc: web.HTTPException) -> RestError:
    """The JSON error for an HTTP error aiohttp raised (no route, wrong method, ...)."""
    if exc.status == 404:
        return RestError(404, "Not found", codec.NOT_FOUND)
    if exc.status == 413:
        return RestError(413, "Request body too large", codec.BODY_TOO_LARGE)
    if exc.status == 400:
        return RestError(400, exc.reason or "Bad request", codec.INVALID_BODY)
    return RestError(exc.status, exc.reason or "HTTP error", codec.INVALID_BODY)


def is_admin(auth: AdminAuth, request: web.Request) -> bool:
    """True: the admin. False: no Authorization header. A wrong one is refused."""
    header = request.headers.get("Authorization")
    if header is None:
        return False
    try:
        if auth.admit(header, request.remote or "", basic=True):
            return True
    except BrokerError as err:  # too many wrong credentials from this address
        raise _broker_error(err) from None
    raise BAD_AUTH


def require_admin(auth: AdminAuth, request: web.Request) -> None:
    if not is_admin(auth, request):
        raise refused(request, MISSING_AUTH)


def refused(request: web.Request, err: RestError, target: str = "") -> RestError:
    """``err``, after its audit line: every refused admin request is recorded."""
    audit.warning(
        "admin request %s %s refused: %s",
        request.method,
        request.path,
        err.message,
        extra={"peer": request.remote or "", "action": "refused", "target": target},
    )
    return err


def _audit(request: web.Request, action: str, session: str, admin: bool) -> None:
    audit_admin_action(request.remote or "", action, session, admin)


def _broker_error(err: BrokerError) -> RestError:
    return RestError(_STATUS.get(err.code, 400), err.message, err.code)


class RestApi:
    def __init__(self, broker: Broker, auth: AdminAuth, open_admin: bool) -> None:
        self._broker = broker
        self._auth = auth
        self._open_admin = open_admin

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/createSession", self.create_session),
            web.post("/api/dropSession", self.drop_session),
            web.post("/api/suspendSession", self.suspend_session),
            web.post("/api/resumeSession", self.resume_session),
            web.get("/api/sessions", self.list_sessions),
        ]

    # -- who is asking --

    def _admin(self, request: web.Request) -> bool:
        return is_admin(self._auth, request)

    async def _session_of(self, request: web.Request) -> tuple[str, dict[str, Any], bool]:
        """The session a drop/suspend/resume may act on, the body, and whether the
        admin asks: the admin may act on any session, anyone else on the one whose
        password and secret key are in the body; body credentials, when given, must be
        right in either case."""
        admin = self._admin(request)
        body = await self._body(request)
        name, password, secret_key = codec.parse_credentials(body)
        if not admin and not secret_key:
            raise refused(request, MISSING_AUTH, name)
        if password or secret_key:
            try:
                await self._broker.check_owner(name, password, secret_key, request.remote or "")
            except BrokerError as err:
                raise _broker_error(err) from None  # audited by the login throttle
        return name, body, admin

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        return codec.parse_body(await request.read())

    # -- routes --

    async def create_session(self, request: web.Request) -> web.Response:
        admin = self._admin(request)
        if not admin and not self._open_admin:
            raise refused(request, MISSING_AUTH)
        spec = codec.parse_create_session(await self._body(request))
        try:
            _, secret_key = await self._broker.create_session(spec)
        except BrokerError as err:
            raise _broker_error(err) from None
        _audit(request, "created", spec.name, admin)
        return json_response(codec.create_session_ok(spec.name, spec.password, secret_key))

    async def drop_session(self, request: web.Request) -> web.Response:
        name, _, admin = await self._session_of(request)
        try:
            await self._broker.drop_session(name)
        except BrokerError as err:
            raise _broker_error(err) from None
        _audit(request, "dropped", name, admin)
        return json_response(orjson.dumps({"success": True}))

    async def suspend_session(self, request: web.Request) -> web.Response:
        name, body, admin = await self._session_of(request)
        return await self._set_suspended(request, name, codec.parse_suspend(body), admin)

    async def resume_session(self, request: web.Request) -> web.Response:
        name, _, admin = await self._session_of(request)
        return await self._set_suspended(request, name, False, admin)

    async def _set_suspended(self, request: web.Request, name: str, suspended: bool, admin: bool) -> web.Response:
        try:
            info = await self._broker.set_suspended(name, suspended)
        except BrokerError as err:
            raise _broker_error(err) from None
        _audit(request, "suspended" if suspended else "resumed", name, admin)
        return json_response(orjson.dumps({"success": True, "suspended": info.suspended}))

    async def list_sessions(self, request: web.Request) -> web.Response:
        require_admin(self._auth, request)
        sessions = [session_json(info) for info in self._broker.list_sessions()]
        return json_response(orjson.dumps({"success": True, "sessions": sessions}))
