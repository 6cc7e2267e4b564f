"""Browser tests of the admin portal and the playground: Debian's Chromium
(/usr/bin/chromium, installed by .ci/run) driven by Playwright, against a real
``fastport serve`` on free loopback ports. Playwright's own browser downloads are never
used. One browser and one server per module; each test gets a fresh page.

Screenshots go to tests/browser/screenshots/ (git-ignored), for people to look at.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, sync_playwright

from ..support import ADMIN_PASS, ADMIN_USER, ServerProcess

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
SCREENSHOTS = Path(__file__).parent / "screenshots"
BASIC = "Basic " + base64.b64encode(f"{ADMIN_USER}:{ADMIN_PASS}".encode()).decode()


@dataclass
class Portal:
    """The server under test, seen over HTTP."""

    server: ServerProcess

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.ports['http']}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.server.ports['http']}/"

    def api(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """A REST call with the admin's credentials; the parsed JSON answer."""
        request = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": BASIC, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return json.loads(err.read())

    def create_session(self, name: str, password: str = "pw") -> str:
        """Create a session; its secret key."""
        answer = self.api("/api/createSession", {"sessionName": name, "password": password})
        assert answer["success"], answer
        return str(answer["secretKey"])

    def session(self, name: str) -> dict[str, Any] | None:
        for s in self.api("/api/admin/sessions")["sessions"]:
            if s["sessionName"] == name:
                return dict(s)
        return None


@dataclass
class Watched:
    """A page, and what it did that a test may want to refuse: dialogs, console
    errors (CSP violations among them), uncaught exceptions, requests."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


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


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, full_page=True)
