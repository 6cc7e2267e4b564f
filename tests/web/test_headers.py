"""Security headers on the HTTP door's answers, whatever the route or the outcome."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from fastport.web.headers import PAGE_CSP, secure

from .wire import BEARER


async def test_every_answer_has_the_security_headers(start_app, clock) -> None:
    app = await start_app(api_rate_limit=1)
    base = f"http://127.0.0.1:{app.http_port}"
    async with aiohttp.ClientSession() as http:
        answers = []
        for method, path, headers in (
            ("GET", "/health", {}),
            ("GET", "/metrics", {}),
            ("GET", "/nowhere", {}),
            ("GET", "/api/sessions", {"Authorization": BEARER}),
            ("GET", "/api/sessions", {"Authorization": BEARER}),  # over the limit: 429
        ):
            async with http.request(method, base + path, headers=headers) as resp:
                answers.append((resp.status, resp.headers))
    assert [status for status, _ in answers] == [200, 200, 404, 200, 429]
    for _, headers in answers:
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY"
        assert "Content-Security-Policy" not in headers  # JSON and text, not pages


def test_pages_get_a_strict_content_security_policy() -> None:
    page = web.Response(text="<!doctype html>", content_type="text/html")
    secure(page)
    assert page.headers["Content-Security-Policy"] == PAGE_CSP
    assert "'unsafe-inline'" not in PAGE_CSP and "default-src 'none'" in PAGE_CSP and "form-action 'none'" in PAGE_CSP
    own = web.Response(text="<!doctype html>", content_type="text/html", headers={"Content-Security-Policy": "x"})
    secure(own)
    assert own.headers["Content-Security-Policy"] == "x"  # a route's own policy stays
