"""The REST admin API and /health (legacy-json.md §7): every endpoint, every auth case,
rate limiting, CORS, malformed bodies and unknown routes — all answered with JSON."""

from __future__ import annotations

import base64
import logging
import re

import aiohttp
import pytest

from fastport.app import App

from ..support import ADMIN_PASS, ADMIN_USER
from .wire import BASIC, BEARER, Rest, compact, connect

CREDS_FIELDS = ("sessionName", "password", "secretKey")


def basic(user: str, password: str, scheme: str = "Basic") -> str:
    return f"{scheme} " + base64.b64encode(f"{user}:{password}".encode()).decode()


# ---------------------------------------------------------------------- createSession


@pytest.mark.parametrize("auth", [BASIC, BEARER, basic(ADMIN_USER, ADMIN_PASS, "basic")], ids=["basic", "bearer", "lower"])
async def test_create_session(rest: Rest, auth: str) -> None:
    status, body = await rest.post("/api/createSession", {"sessionName": "s1", "password": "pw"}, auth=auth)
    assert status == 200
    assert list(body) == ["success", "sessionName", "password", "secretKey"]
    assert body["success"] is True and body["sessionName"] == "s1" and body["password"] == "pw"
    assert re.fullmatch(r"[0-9a-f]{64}", body["secretKey"])


async def test_create_session_settings(app: App, rest: Rest, clock) -> None:
    status, _ = await rest.create_session(
        "s1", "pw", retryInterval=250, maxRetryLimit=3, messageExpiryTime=10_000, sessionExpiry=60_000,
        maxRememberedIds=5000, deadLetterTopic="dead/letters",
    )
    assert status == 200
    info = app.broker.get_session("s1")
    assert info.dead_letter_topic == "dead/letters"
    assert (info.retry_interval_ms, info.max_retry_limit, info.message_expiry_ms) == (250, 3, 10_000)
    assert info.max_remembered_ids == 5000
    assert info.expires_at_ms == clock.now_ms() + 60_000  # a duration from now, not a date


async def test_create_session_defaults_for_zero_null_and_digit_strings(app: App, rest: Rest) -> None:
    await rest.create_session("a", "pw", retryInterval=0, maxRetryLimit=None)
    await rest.create_session("b", "pw", retryInterval="2500", maxRetryLimit=7.0)
    a, b = app.broker.get_session("a"), app.broker.get_session("b")
    assert (a.retry_interval_ms, a.max_retry_limit, a.message_expiry_ms, a.expires_at_ms) == (5000, 100, 0, 0)
    assert (b.retry_interval_ms, b.max_retry_limit) == (2500, 7)


@pytest.mark.parametrize(
    "body",
    [{}, {"sessionName": "s1"}, {"password": "pw"}, {"sessionName": "", "password": "pw"}, {"sessionName": "s1", "password": None}],
)
async def test_create_session_requires_name_and_password(rest: Rest, body: dict) -> None:
    assert await rest.post("/api/createSession", body) == (
        400,
        {"success": False, "error": "sessionName and password are required", "code": "invalid_field"},
    )


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"sessionName": 5}, "sessionName"),
        ({"password": ["x"]}, "password"),
        ({"retryInterval": -1}, "retryInterval"),
        ({"maxRetryLimit": "lots"}, "maxRetryLimit"),
        ({"messageExpiryTime": 1.5}, "messageExpiryTime"),
        ({"sessionExpiry": True}, "sessionExpiry"),
        ({"sessionExpiry": 2**63}, "sessionExpiry"),  # past int64
        ({"messageExpiryTime": 1e19}, "messageExpiryTime"),
        ({"maxRememberedIds": -5}, "maxRememberedIds"),
        ({"deadLetterTopic": ["dead"]}, "deadLetterTopic"),
    ],
)
async def test_create_session_wrong_field(rest: Rest, extra: dict, field: str) -> None:
    status, body = await rest.post("/api/createSession", {"sessionName": "s1", "password": "pw", **extra})
    assert (status, body) == (400, {"success": False, "error": f"Invalid field: {field}", "code": "invalid_field"})


async def test_create_session_with_a_wildcard_dead_letter_topic(rest: Rest) -> None:
    status, body = await rest.post("/api/createSession", {"sessionName": "s1", "password": "pw", "deadLetterTopic": "dead/#"})
    assert (status, body["code"]) == (400, "invalid_topic")


async def test_create_session_twice(rest: Rest) -> None:
    await rest.create_session("s1", "pw")
    assert await rest.create_session("s1", "other") == (
        400,
        {"success": False, "error": "Session already exists", "code": "session_exists"},
    )


async def test_create_session_rejects_core_limits(rest: Rest) -> None:
    status, body = await rest.create_session("s1", "pw", retryInterval=10**12)
    assert status == 400 and body["code"] == "invalid_field" and "retryInterval" in body["error"]


@pytest.mark.parametrize(
    "field, value", [("maxInFlight", -1), ("maxInFlight", "10"), ("maxPendingBytes", 1.5), ("maxInFlight", 2**32)]
)
async def test_create_session_rejects_bad_limits(rest: Rest, field: str, value: object) -> None:
    status, body = await rest.create_session("s1", "pw", **{field: value})
    assert status == 400 and body["code"] == "invalid_field", body


# ---------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/api/createSession"),
        ("POST", "/api/dropSession"),
        ("POST", "/api/suspendSession"),
        ("POST", "/api/resumeSession"),
        ("GET", "/api/sessions"),
    ],
)
async def test_missing_authorization(rest: Rest, method: str, path: str) -> None:
    status, body, _ = await rest.call(method, path, {"sessionName": "s1", "password": "pw"}, auth=None)
    assert (status, body) == (401, {"error": "Missing Authorization Header", "code": "unauthenticated"})


@pytest.mark.parametrize(
    "auth",
    [
        basic(ADMIN_USER, "wrong"),
        basic("root", ADMIN_PASS),
        basic(ADMIN_USER, ADMIN_PASS.split(":")[0]),  # a password cut at its first ':'
        basic(ADMIN_USER, ADMIN_PASS, "Bearer"),  # right credentials, wrong scheme word
        basic(ADMIN_USER, ADMIN_PASS, "Digest"),
        "Basic !!!not-base64",
        "Bearer wrong-token",
        "Bearer",
        "",
    ],
)
@pytest.mark.parametrize("path", ["/api/createSession", "/api/dropSession", "/api/suspendSession", "/api/resumeSession"])
async def test_invalid_admin_credentials(rest: Rest, auth: str, path: str) -> None:
    status, body = await rest.post(path, {"sessionName": "s1", "password": "pw"}, auth=auth)
    assert (status, body) == (401, {"error": "Unauthorized: Invalid Admin Credentials", "code": "unauthenticated"})


async def test_wrong_header_is_refused_even_with_good_session_credentials(rest: Rest, session: dict) -> None:
    creds = {k: session[k] for k in CREDS_FIELDS}
    status, _ = await rest.post("/api/dropSession", creds, auth="Bearer nope")
    assert status == 401


async def test_open_admin_creates_without_credentials_and_warns(start_app, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="fastport.web"):
        server = await start_app(open_admin=True)
    assert any("open-admin" in r.getMessage() for r in caplog.records)
    async with aiohttp.ClientSession() as http:
        rest = Rest(http, server.http_port)
        status, body = await rest.post("/api/createSession", {"sessionName": "s1", "password": "pw"}, auth=None)
        assert status == 200 and body["success"] is True
        # listing sessions still needs the admin
        status, _, _ = await rest.call("GET", "/api/sessions", auth=None)
        assert status == 401
        # a wrong header is still wrong
        status, _ = await rest.post("/api/createSession", {"sessionName": "s2", "password": "pw"}, auth="Bearer x")
        assert status == 401


async def test_no_warning_without_open_admin(start_app, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="fastport.web"):
        await start_app()
    assert not any("open-admin" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------- drop / suspend / resume


@pytest.mark.parametrize("auth", ["admin", "owner"])
async def test_drop_session(app: App, rest: Rest, session: dict, auth: str) -> None:
    if auth == "admin":
        status, body = await rest.post("/api/dropSession", {"sessionName": "s1"}, auth=BEARER)
    else:
        creds = {k: session[k] for k in CREDS_FIELDS}
        status, body = await rest.post("/api/dropSession", creds, auth=None)
    assert (status, body) == (200, {"success": True})
    assert "s1" not in app.broker.sessions


@pytest.mark.parametrize("auth", ["admin", "owner"])
async def test_suspend_and_resume_session(app: App, rest: Rest, session: dict, auth: str) -> None:
    creds = {k: session[k] for k in CREDS_FIELDS}
    header = BASIC if auth == "admin" else None
    assert await rest.post("/api/suspendSession", {**creds, "suspend": True}, auth=header) == (
        200,
        {"success": True, "suspended": True},
    )
    assert app.broker.get_session("s1").suspended
    assert await rest.post("/api/suspendSession", {**creds, "suspend": False}, auth=header) == (
        200,
        {"success": True, "suspended": False},
    )
    await rest.post("/api/suspendSession", {**creds, "suspend": True}, auth=header)
    assert await rest.post("/api/resumeSession", creds, auth=header) == (200, {"success": True, "suspended": False})
    assert not app.broker.get_session("s1").suspended


@pytest.mark.parametrize("suspended_before", [False, True])
async def test_suspend_without_suspend_field_means_false(app: App, rest: Rest, session: dict, suspended_before) -> None:
    """§7: `suspend` missing is false, as the old server took it: the session is left
    running (or set running)."""
    await rest.post("/api/suspendSession", {"sessionName": "s1", "suspend": suspended_before})
    creds = {k: session[k] for k in CREDS_FIELDS}
    assert await rest.post("/api/suspendSession", creds, auth=None) == (200, {"success": True, "suspended": False})
    assert not app.broker.get_session("s1").suspended


@pytest.mark.parametrize("path", ["/api/dropSession", "/api/suspendSession", "/api/resumeSession"])
async def test_session_credentials_errors(rest: Rest, session: dict, path: str) -> None:
    creds = {k: session[k] for k in CREDS_FIELDS}
    not_found = (400, {"success": False, "error": "Session not found", "code": "session_not_found"})
    invalid = (400, {"success": False, "error": "Invalid credentials", "code": "invalid_credentials"})
    assert await rest.post(path, {**creds, "sessionName": "nope"}, auth=None) == not_found
    assert await rest.post(path, {**creds, "password": "wrong"}, auth=None) == invalid
    assert await rest.post(path, {**creds, "secretKey": "0" * 64}, auth=None) == invalid
    assert await rest.post(path, {"sessionName": "s1", "secretKey": creds["secretKey"]}, auth=None) == invalid
    # the admin needs no session credentials, but the session must exist
    assert await rest.post(path, {"sessionName": "nope"}, auth=BASIC) == not_found


@pytest.mark.parametrize("auth", [BASIC, BEARER], ids=["basic", "bearer"])
@pytest.mark.parametrize("path", ["/api/dropSession", "/api/suspendSession", "/api/resumeSession"])
async def test_body_credentials_are_checked_even_with_admin_auth(
    app: App, rest: Rest, session: dict, path: str, auth: str
) -> None:
    """§7: credentials in the body are always checked when given (the old server's
    "Invalid Secret Key" test): a typo in a drop never deletes a session."""
    creds = {k: session[k] for k in CREDS_FIELDS}
    invalid = (400, {"success": False, "error": "Invalid credentials", "code": "invalid_credentials"})
    await rest.post("/api/suspendSession", {"sessionName": "s1", "suspend": True})
    for wrong in ({"secretKey": "wrong"}, {"password": "wrong"}, {"secretKey": None}, {"password": None}):
        body = {**creds, **wrong, "suspend": False}
        assert await rest.post(path, body, auth=auth) == invalid, wrong
    assert app.broker.get_session("s1").suspended  # nothing was done
    # right body credentials with admin auth: done
    status, _ = await rest.post(path, {**creds, "suspend": False}, auth=auth)
    assert status == 200
    assert ("s1" not in app.broker.sessions) if path == "/api/dropSession" else not app.broker.get_session("s1").suspended


async def test_suspend_wrong_field(rest: Rest, session: dict) -> None:
    assert await rest.post("/api/suspendSession", {"sessionName": "s1", "suspend": "yes"}) == (
        400,
        {"success": False, "error": "Invalid field: suspend", "code": "invalid_field"},
    )
    assert await rest.post("/api/dropSession", {"sessionName": 12}) == (
        400,
        {"success": False, "error": "Invalid field: sessionName", "code": "invalid_field"},
    )


# ---------------------------------------------------------------------- listing, health


async def test_list_sessions(rest: Rest, session: dict, app: App) -> None:
    await rest.create_session(
        "s2", "pw2", messageExpiryTime=30_000, maxInFlight=3, maxPendingMessages=10, maxPendingBytes=2048
    )
    client = await connect(app.http_port)
    try:
        await client.init("s1", "pw")
        await client.send({"type": "subscribe", "topic": "t"})
        await client.recv()
        status, body, _ = await rest.call("GET", "/api/sessions", auth=BEARER)
    finally:
        await client.close()
    assert status == 200 and body["success"] is True
    by_name = {s["sessionName"]: s for s in body["sessions"]}
    assert set(by_name) == {"s1", "s2"}
    s1 = by_name["s1"]
    assert s1 == {
        "sessionName": "s1",
        "retryInterval": 5000,
        "maxRetryLimit": 100,
        "messageExpiryTime": None,
        "expiresAt": None,
        "suspended": False,
        "createdAt": s1["createdAt"],
        "connections": 1,
        "subscriptions": 1,
        "pendingMessages": 0,
        "maxRememberedIds": 1_000_000,
        "deadLetterTopic": None,
        "limits": {
            "maxPayloadBytes": 0,
            "maxConnections": 0,
            "maxSubscriptions": 0,
            "maxPendingMessages": 250_000,
            "maxPendingBytes": 128 * 1024 * 1024,
            "maxInFlight": 1000,
        },
    }
    assert by_name["s2"]["messageExpiryTime"] == 30_000
    assert by_name["s2"]["limits"] | {"maxPayloadBytes": 0} == {
        "maxPayloadBytes": 0,
        "maxConnections": 0,
        "maxSubscriptions": 0,
        "maxPendingMessages": 10,
        "maxPendingBytes": 2048,
        "maxInFlight": 3,
    }
    text = compact(body)
    assert "pw" not in text and session["secretKey"] not in text


async def test_health(rest: Rest) -> None:
    status, body, resp = await rest.call("GET", "/health", auth=None)
    assert (status, body) == (200, {"status": "ok", "live": True, "ready": True})
    assert "RateLimit-Limit" not in resp.headers and "RateLimit-Policy" not in resp.headers


# ---------------------------------------------------------------------- errors as JSON


@pytest.mark.parametrize(
    "method, path, status, code",
    [
        ("GET", "/nope", 404, "not_found"),
        ("POST", "/api/nope", 404, "not_found"),
        ("GET", "/", 404, "not_found"),
        ("GET", "/api/createSession", 404, "not_found"),  # a wrong method: 404, as the old server
        ("DELETE", "/api/sessions", 404, "not_found"),
        ("PUT", "/api/dropSession", 404, "not_found"),
    ],
)
async def test_unknown_routes_answer_json(rest: Rest, method: str, path: str, status: int, code: str) -> None:
    got, body, _ = await rest.call(method, path)
    assert got == status
    assert body["success"] is False and body["code"] == code


@pytest.mark.parametrize("raw", [b"{not json", b"[1,2]", b'"text"', b"\xff\xfe"])
async def test_malformed_body(rest: Rest, raw: bytes) -> None:
    status, body, _ = await rest.call("POST", "/api/createSession", data=raw, headers={"Content-Type": "application/json"})
    assert status == 400 and body["success"] is False and body["code"] == "invalid_body"


async def test_body_too_large(rest: Rest) -> None:
    raw = compact({"sessionName": "s", "password": "p" * (2 * 1024 * 1024)}).encode()
    status, body, _ = await rest.call("POST", "/api/createSession", data=raw)
    assert status == 413 and body["code"] == "body_too_large"


async def test_body_without_content_type_is_still_json(rest: Rest) -> None:
    raw = compact({"sessionName": "s1", "password": "pw"}).encode()
    status, body, _ = await rest.call("POST", "/api/createSession", data=raw)
    assert status == 200 and body["success"] is True


async def test_bad_websocket_handshake_answers_json(rest: Rest) -> None:
    status, body, _ = await rest.call("GET", "/", auth=None, headers={"Upgrade": "websocket", "Connection": "Upgrade"})
    assert status == 400 and body["success"] is False


# ---------------------------------------------------------------------- rate limiting


async def test_rate_limit(start_app) -> None:
    server = await start_app(api_rate_limit=3)
    async with aiohttp.ClientSession() as http:
        rest = Rest(http, server.http_port)
        remaining = []
        for _ in range(3):
            status, _, resp = await rest.call("GET", "/api/sessions")
            assert status == 200
            assert resp.headers["RateLimit-Limit"] == "3"
            assert resp.headers["RateLimit-Policy"] == "3;w=900"
            assert 0 < int(resp.headers["RateLimit-Reset"]) <= 900
            remaining.append(resp.headers["RateLimit-Remaining"])
        assert remaining == ["2", "1", "0"]
        status, body, resp = await rest.call("POST", "/api/createSession", {"sessionName": "x", "password": "y"})
        assert status == 429
        assert body == {"success": False, "error": "Too many requests, please try again later.", "code": "rate_limited"}
        assert resp.headers["RateLimit-Limit"] == "3"
        assert resp.headers["RateLimit-Policy"] == "3;w=900"
        assert resp.headers["RateLimit-Remaining"] == "0"
        assert 0 < int(resp.headers["RateLimit-Reset"]) <= 900
        assert "x" not in server.broker.sessions
        # unauthenticated requests count too, and /health and WebSockets are not limited
        status, _, _ = await rest.call("GET", "/api/sessions", auth=None)
        assert status == 429
        status, _, _ = await rest.call("GET", "/health")
        assert status == 200
        client = await connect(server.http_port)
        await client.send({"type": "subscribe", "topic": "t"})
        assert (await client.recv())["code"] == "not_initialized"
        await client.close()


# ---------------------------------------------------------------------- CORS


async def test_cors_for_configured_origins(start_app) -> None:
    server = await start_app(cors_origins=("https://app.example", "http://localhost:8080"))
    async with aiohttp.ClientSession() as http:
        rest = Rest(http, server.http_port)
        _, _, resp = await rest.call("GET", "/api/sessions", headers={"Origin": "https://app.example"})
        assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert "Origin" in resp.headers["Vary"]
        _, _, resp = await rest.call("GET", "/api/sessions", headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in resp.headers
        async with http.options(
            rest.base + "/api/createSession",
            headers={
                "Origin": "http://localhost:8080",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        ) as pre:
            assert pre.status == 204
            assert pre.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
            assert "POST" in pre.headers["Access-Control-Allow-Methods"]
            assert pre.headers["Access-Control-Allow-Headers"] == "authorization,content-type"


async def test_no_cors_headers_without_configuration(rest: Rest) -> None:
    _, _, resp = await rest.call("GET", "/api/sessions", headers={"Origin": "https://app.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers


async def test_cors_wildcard(start_app) -> None:
    server = await start_app(cors_origins=("*",))
    async with aiohttp.ClientSession() as http:
        _, _, resp = await Rest(http, server.http_port).call("GET", "/health", headers={"Origin": "https://any.example"})
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
