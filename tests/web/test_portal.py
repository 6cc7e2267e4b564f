"""The admin portal's routes (legacy-json.md §7, "Admin portal routes") over real HTTP:
login, stats, sessions, logs, the pages and their headers, audit lines. The pages
themselves are driven in a real browser in tests/browser."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

import aiohttp
import pytest

from fastport.app import App
from fastport.core import Broker, BrokerConfig, ManualClock, SessionSpec
from fastport.engines.embedded import EmbeddedEngine
from fastport.web.portal import PAGE_CSP, RateSampler

from ..support import ADMIN_PASS, ADMIN_USER
from .wire import BEARER, Rest, WsClient


async def test_login_answers_the_basic_credentials_the_page_sends(rest: Rest, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fastport.audit")
    status, body = await rest.post("/api/admin/login", {"username": ADMIN_USER, "password": ADMIN_PASS}, auth=None)
    assert status == 200
    assert body == {"success": True, "token": base64.b64encode(f"{ADMIN_USER}:{ADMIN_PASS}".encode()).decode()}
    status, _, _ = await rest.call("GET", "/api/admin/stats", auth=f"Basic {body['token']}")
    assert status == 200
    status, body = await rest.post("/api/admin/login", {"username": ADMIN_USER, "password": "nope"}, auth=None)
    assert status == 401
    assert body == {"success": False, "error": "Invalid credentials", "code": "unauthenticated"}
    status, body = await rest.post("/api/admin/login", {"username": ADMIN_USER}, auth=None)
    assert (status, body["code"]) == (400, "invalid_field")
    audits = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "fastport.audit"]
    assert audits == [
        ("INFO", "admin logged in to the portal"),
        ("WARNING", "authentication failed: Invalid admin credentials"),
    ]


async def test_admin_actions_are_audited(rest: Rest, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fastport.audit")
    status, created = await rest.create_session("s1", "pw")
    assert status == 200
    await rest.post("/api/suspendSession", {"sessionName": "s1", "suspend": True})
    await rest.post("/api/resumeSession", {"sessionName": "s1"}, auth=BEARER)
    owner = {"sessionName": "s1", "password": "pw", "secretKey": created["secretKey"]}
    assert (await rest.post("/api/dropSession", owner, auth=None))[0] == 200
    audits = [(r.getMessage(), r.peer, r.target) for r in caplog.records if r.name == "fastport.audit"]  # type: ignore[attr-defined]
    assert audits == [
        ("created 's1' by the admin", "127.0.0.1", "s1"),
        ("suspended 's1' by the admin", "127.0.0.1", "s1"),
        ("resumed 's1' by the admin", "127.0.0.1", "s1"),
        ("dropped 's1' by the session's owner", "127.0.0.1", "s1"),
    ]


@pytest.mark.parametrize("path", ["/api/admin/stats", "/api/admin/sessions", "/api/admin/logs"])
async def test_portal_reads_need_the_admin(rest: Rest, path: str) -> None:
    status, body, _ = await rest.call("GET", path, auth=None)
    assert (status, body) == (401, {"error": "Missing Authorization Header", "code": "unauthenticated"})
    status, body, _ = await rest.call("GET", path, auth="Bearer wrong")
    assert (status, body["error"]) == (401, "Unauthorized: Invalid Admin Credentials")


async def test_stats_have_the_old_keys_and_fastports(app: App, rest: Rest, ws, joined) -> None:
    sub = await joined("t")
    pub = await joined()
    await pub.send({"type": "publish", "topic": "t", "data": "x", "messageId": "m1"})
    assert (await pub.recv())["success"] is True
    assert (await sub.recv())["messageId"] == "m1"
    status, stats, _ = await rest.call("GET", "/api/admin/stats", auth=BEARER)
    assert status == 200
    assert stats["dbType"] == "memory" and stats["engine"] == "embedded"
    await ws()  # open, not initialized: counted too, as the old server counted sockets
    _, stats, _ = await rest.call("GET", "/api/admin/stats", auth=BEARER)
    assert stats["connections"] == 3 and stats["sessions"] == 1
    assert stats["memory"]["rss"] > 1_000_000 and stats["uptime"] >= 0
    assert stats["totals"] == {"published": 1, "delivered": 1, "acked": 0, "givenUp": 0}
    assert set(stats["rates"]) == {"publish", "delivery", "ack"}
    assert isinstance(stats["history"], list)


async def test_sessions_show_state_counts_and_rates_never_secrets(app: App, rest: Rest, session, joined) -> None:
    await joined("a", "b")
    await rest.post("/api/suspendSession", {"sessionName": "s1", "suspend": True})
    status, body, _ = await rest.call("GET", "/api/admin/sessions")
    assert status == 200 and body["success"] is True
    [s1] = body["sessions"]
    assert s1["sessionName"] == "s1" and s1["state"] == "suspended" and s1["suspended"] is True
    assert (s1["connections"], s1["subscriptions"], s1["pendingMessages"]) == (1, 2, 0)
    assert {"publishRate", "deliveryRate", "published", "delivered", "acked", "givenUp", "createdAt"} <= set(s1)
    text = str(body)
    assert "pw" not in text and session["secretKey"] not in text


async def test_rates_come_from_sampled_counters(clock: ManualClock) -> None:
    broker = Broker(EmbeddedEngine(clock=clock), clock, BrokerConfig())
    await broker.start()
    try:
        await broker.create_session(SessionSpec("a", "pw"))
        await broker.create_session(SessionSpec("b", "pw"))
        now = [100.0]
        rates = RateSampler(broker, clock=lambda: now[0])
        rates.sample()
        broker.sessions["a"].counters.published += 20
        broker.sessions["b"].counters.published += 10
        broker.sessions["b"].counters.delivered += 60
        await broker.drop_session("b")  # what a dropped session counted stays in the totals
        now[0] += 2.0
        rates.sample()
        [point] = rates.chart()
        assert (point["publish"], point["delivery"], point["ack"]) == (15.0, 30.0, 0.0)
    finally:
        await broker.stop()


async def test_session_rates_over_the_last_samples(clock: ManualClock) -> None:
    broker = Broker(EmbeddedEngine(clock=clock), clock, BrokerConfig())
    await broker.start()
    try:
        await broker.create_session(SessionSpec("s", "pw"))
        now = [0.0]
        rates = RateSampler(broker, clock=lambda: now[0])
        for _ in range(3):
            rates.sample()
            broker.sessions["s"].counters.published += 10
            now[0] += 1.0
        rates.sample()
        assert rates.session_rates("s") == {"publish": 10.0, "delivery": 0.0, "ack": 0.0}
        assert rates.session_rates("unknown") == {"publish": 0.0, "delivery": 0.0, "ack": 0.0}
        await broker.drop_session("s")
        rates.sample()
        assert rates.session_rates("s")["publish"] == 0.0
    finally:
        await broker.stop()


async def test_log_view_of_the_server_and_of_one_session(app: App, rest: Rest, joined, caplog) -> None:
    caplog.set_level(logging.INFO, logger="fastport")
    await rest.create_session("s2", "pw")
    client = await joined()
    await client.close()
    status, body, _ = await rest.call("GET", "/api/admin/logs")
    assert status == 200
    messages = [line["message"] for line in body["lines"]]
    assert "session 's2' created" in messages and "created 's2' by the admin" in messages
    seqs = [line["seq"] for line in body["lines"]]
    assert seqs == sorted(seqs)
    _, only, _ = await rest.call("GET", "/api/admin/logs?session=s1")
    assert {line["session"] for line in only["lines"]} == {"s1"}
    assert [line["message"] for line in only["lines"]][-2:] == ["connected", "disconnected"]
    _, later, _ = await rest.call("GET", f"/api/admin/logs?after={seqs[-1]}")
    assert all(line["seq"] > seqs[-1] for line in later["lines"])
    status, bad, _ = await rest.call("GET", "/api/admin/logs?after=x")
    assert (status, bad["code"]) == (400, "invalid_field")


@pytest.mark.parametrize(("path", "content_type"), [("/admin", "text/html"), ("/test", "text/html"),
                                                    ("/static/admin.js", "text/javascript"),
                                                    ("/static/portal.css", "text/css")])
async def test_pages_are_served_with_a_strict_policy(app: App, path: str, content_type: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{app.http_port}{path}") as resp:
            assert resp.status == 200 and resp.content_type == content_type
            assert resp.headers["Content-Security-Policy"] == PAGE_CSP
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            body = await resp.text()
    assert "unsafe-inline" not in PAGE_CSP and "script-src 'self'" in PAGE_CSP
    if content_type == "text/html":
        assert "<script>" not in body and " on" not in body.split("<body>")[1].split("=")[0]


async def test_unknown_static_files_are_json_404s(rest: Rest) -> None:
    for path in ("/static/nope.js", "/static/..%2Fportal.py", "/static/"):
        status, body, _ = await rest.call("GET", path, auth=None)
        assert status == 404 and body["code"] == "not_found"


async def test_the_portals_reads_are_not_rate_limited_for_the_admin(start_app) -> None:
    server = await start_app(api_rate_limit=2)
    async with aiohttp.ClientSession() as http:
        rest = Rest(http, server.http_port)
        for _ in range(5):
            assert (await rest.call("GET", "/api/admin/stats", auth=BEARER))[0] == 200
        assert (await rest.call("GET", "/api/admin/stats", auth="Bearer wrong"))[0] == 401
        assert (await rest.call("GET", "/api/admin/stats", auth=None))[0] == 401
        assert (await rest.call("GET", "/api/admin/stats", auth="Bearer wrong"))[0] == 429
        assert (await rest.call("GET", "/api/sessions", auth=BEARER))[0] == 429


# ---------------------------------------------------------------------- sys/logs


async def test_sys_logs_streams_the_sessions_lines_only(
    app: App, rest: Rest, ws, joined, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fastport")
    reader = await joined("sys/logs")
    wildcard = await joined("#")  # matches sys/logs but is not a log reader
    assert (await reader.recv())["data"].startswith("INFO connected (127.0.0.1:")
    await rest.create_session("s2", "pw")
    other = await ws()
    await other.init("s2", "pw")  # another session: nothing reaches s1's reader
    bad = await ws()
    await bad.send({"type": "init", "sessionName": "s1", "password": "wrong"})
    assert (await bad.recv())["success"] is False
    frame: dict[str, Any] = await reader.recv()
    assert set(frame) == {"type", "data", "timestamp"} and frame["type"] == "log"
    assert frame["data"].startswith("WARNING authentication failed: Invalid password (127.0.0.1:")
    assert isinstance(frame["timestamp"], int)
    late = await ws()
    await late.init("s1", "pw")
    assert (await reader.recv())["data"].startswith("INFO connected (127.0.0.1:")
    await late.close()
    assert (await reader.recv())["data"].startswith("INFO disconnected (127.0.0.1:")
    threaded = logging.getLogger("fastport.test").info
    await asyncio.to_thread(threaded, "from a store's thread", extra={"session": "s1", "peer": ""})
    assert (await reader.recv())["data"] == "INFO from a store's thread"
    await reader.send({"type": "unsubscribe", "topic": "sys/logs"})
    assert (await reader.recv())["type"] == "unsubscribe_response"
    await (await ws()).init("s1", "pw")
    assert await reader.silent() and await wildcard.silent()


async def test_a_slow_log_reader_is_dropped_from_the_stream(app: App, joined, caplog) -> None:
    caplog.set_level(logging.INFO, logger="fastport")
    reader = await joined("sys/logs")
    reader.conn.transport.pause_reading()  # a reader that stops reading
    [conn] = app.broker.sessions["s1"].connections
    noisy = logging.getLogger("fastport.test")
    for i in range(4000):  # ~20 MB of log lines: more than the kernel buffers
        noisy.info("%d %s", i, "x" * 5000, extra={"session": "s1", "peer": ""})
    assert "sys/logs" in conn.subscriber.patterns  # dropped later, not inside logging
    healthy = await joined("t")  # the broker carries on meanwhile
    assert "sys/logs" not in conn.subscriber.patterns
    assert any("a log reader was dropped from the log stream" in r.getMessage() for r in caplog.records)
    await healthy.close()
    reader.conn.transport.abort()  # it would not read its close handshake either
