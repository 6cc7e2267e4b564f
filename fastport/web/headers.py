"""Security headers on every HTTP answer of the door (not on WebSocket upgrades).

Every response: no MIME sniffing, no referrer, no framing. HTML pages also get a strict
Content-Security-Policy: only this origin's scripts, styles, images and connections
(the pages' WebSocket included), no inline script or style, no plugins, no forms, no
framing, no ``<base>``; a route that needs another policy sets its own.
"""

from __future__ import annotations

from aiohttp import web

COMMON: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def secure(response: web.StreamResponse) -> None:
    """Add the headers a response lacks; what a route set itself stays."""
    headers = response.headers
    for name, value in COMMON.items():
        headers.setdefault(name, value)
    if response.content_type == "text/html":
        headers.setdefault("Content-Security-Policy", PAGE_CSP)
