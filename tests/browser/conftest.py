"""Browser tests of the admin portal and the playground: Debian's Chromium
(/usr/bin/chromium, installed by .ci/run) driven by Playwright, against a real
``fastport serve`` on free loopback ports. Playwright's own browser downloads are never
used. One browser and one server per module; each test gets a fresh page.

Helpers (the portal, a watched page, screenshots) are in ``support.py`` beside this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from ..support import ADMIN_PASS, ADMIN_USER, ServerProcess
from .support import Portal, Watched

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    server = ServerProcess(
        tmp_path_factory.mktemp("browser-server"),
        args=["--store", "memory", "--admin-user", ADMIN_USER, "--admin-pass", ADMIN_PASS],
    )
    server.start()
    try:
        yield Portal(server)
    finally:
        server.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(10_000)
    watched = Watched(context.new_page())
    watched.page.on("dialog", watched.on_dialog)
    watched.page.on("console", watched.on_console)
    watched.page.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    watched.page.on("request", lambda request: watched.urls.append(request.url))
    try:
        yield watched
        assert watched.errors == [], watched.errors  # no CSP violation, no script error
        assert watched.dialogs == []
    finally:
        context.close()
