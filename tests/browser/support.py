"""Helpers of the browser tests: the server under test as the portal sees it, a page
with what it did, screenshots for people to look at (tests/browser/screenshots/,
git-ignored)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, Dialog, Page

from ..support import ADMIN_PASS, ADMIN_USER, ServerProcess

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


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, full_page=True)
