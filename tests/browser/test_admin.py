"""The admin dashboard in a real browser: sign in, administer sessions, watch the
server's figures and logs move, and never run what a session's name contains."""

from __future__ import annotations

import re

from fastport_client import SyncFastPort, generate_key
from playwright.sync_api import Page, expect

from ..support import ADMIN_PASS, ADMIN_TOKEN, ADMIN_USER
from .support import Portal, Watched, screenshot


def sign_in(page: Page, portal: Portal) -> None:
    page.goto(portal.base + "/admin")
    page.fill("#username", ADMIN_USER)
    page.fill("#password", ADMIN_PASS)
    page.click("#login-password button[type=submit]")
    expect(page.locator("#dashboard")).to_be_visible()


def row(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator("#sessions tbody tr").filter(has=page.get_by_text(name, exact=True))


def test_create_suspend_resume_and_drop_a_session(page: Watched, portal: Portal) -> None:
    p = page.page
    sign_in(p, portal)
    p.click("#new-session")
    p.fill("#create-name", "orders")
    p.fill("#create-password", "s3cret")
    p.fill("#create-retry", "2000")
    p.click("#create-submit")
    secret = p.locator("#secret-key")
    expect(secret).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    p.click("#secret-close")
    expect(secret).to_have_text("")  # shown once
    orders = row(p, "orders")
    expect(orders.locator(".badge")).to_have_text("active")
    assert portal.session("orders")["retryInterval"] == 2000  # type: ignore[index]
    portal.create_session("orders-archive")
    p.fill("#session-filter", "ORDERS-")  # case-insensitive, part of the name
    expect(p.locator("#sessions tbody tr")).to_have_count(1)
    expect(p.locator("#session-count")).to_have_text(re.compile(r"^showing 1 of \d+$"))
    p.fill("#session-filter", "")

    orders.get_by_role("button", name="Suspend").click()
    expect(orders.locator(".badge")).to_have_text("suspended")
    assert portal.session("orders")["suspended"] is True  # type: ignore[index]
    orders.get_by_role("button", name="Resume").click()
    expect(orders.locator(".badge")).to_have_text("active")

    orders.get_by_role("button", name="Drop").click()
    expect(p.locator("#confirm-dialog")).to_be_visible()
    expect(p.locator("#confirm-text")).to_contain_text('Drop "orders"?')
    p.click("#confirm-cancel")  # nothing happens without confirmation
    assert portal.session("orders") is not None
    orders.get_by_role("button", name="Drop").click()
    p.click("#confirm-ok")
    expect(orders).to_have_count(0)
    assert portal.session("orders") is None


def test_figures_and_logs_move_as_a_client_publishes(page: Watched, portal: Portal) -> None:
    p = page.page
    portal.create_session("telemetry")
    sign_in(p, portal)
    cards = p.locator("#cards")
    published = int(cards.get_attribute("data-published") or 0)
    delivered = int(cards.get_attribute("data-delivered") or 0)
    key = generate_key()
    subscriber = SyncFastPort(portal.ws_url, "telemetry", "pw", key, cipher="legacy-cbc")
    subscriber.get("sensors/#", lambda message: None)
    with subscriber, SyncFastPort(portal.ws_url, "telemetry", "pw", key, cipher="legacy-cbc") as publisher:
        for i in range(20):
            publisher.emit(f"sensors/{i % 3}", f"reading {i}")
        expect(cards).to_have_attribute("data-published", str(published + 20))
        expect(cards).to_have_attribute("data-delivered", str(delivered + 20))
        telemetry = row(p, "telemetry")
        expect(telemetry.locator("td").nth(2)).to_have_text("2")  # connections
        expect(telemetry.locator("td").nth(3)).to_have_text("1")  # subscriptions
        expect(p.locator("#chart polyline")).to_have_count(2)
        telemetry.get_by_role("button", name="Logs").click()
        expect(p.locator("#log-source")).to_have_value("telemetry")
        expect(p.locator("#logs")).to_contain_text("connected")
        screenshot(p, "admin-dashboard.png")
    expect(p.locator("#logs")).to_contain_text("disconnected")
    lines = p.locator("#logs > div").all_inner_texts()
    assert all("telemetry" not in line or "session 'telemetry'" in line for line in lines)


def test_sign_in_with_the_admin_token_and_out(page: Watched, portal: Portal) -> None:
    p = page.page
    p.goto(portal.base + "/admin")
    p.click("#tab-token")
    p.fill("#token", "not-the-token")
    p.click("#login-token button[type=submit]")
    expect(p.locator("#login-error")).to_have_text("That token is not the admin token.")
    page.errors = [e for e in page.errors if "status of 401" not in e]  # the refused request itself
    p.fill("#token", ADMIN_TOKEN)
    p.click("#login-token button[type=submit]")
    expect(p.locator("#dashboard")).to_be_visible()
    stored = p.evaluate("sessionStorage.getItem('fastport.admin.authorization')")
    assert stored == f"Bearer {ADMIN_TOKEN}"
    assert not any(ADMIN_TOKEN in url for url in page.urls)  # never in a URL
    p.reload()  # the tab keeps its sign-in
    expect(p.locator("#dashboard")).to_be_visible()
    p.click("#logout")
    expect(p.locator("#login")).to_be_visible()
    assert p.evaluate("sessionStorage.getItem('fastport.admin.authorization')") is None


def test_a_session_name_is_text_never_markup(page: Watched, portal: Portal) -> None:
    p = page.page
    name = "<img src=x onerror=alert(1)>"
    portal.create_session(name)
    sign_in(p, portal)
    hostile = row(p, name)
    expect(hostile.locator("td.name")).to_have_text(name)
    hostile.get_by_role("button", name="Logs").click()
    expect(p.locator("#logs")).to_contain_text(f"session '{name}' created")
    hostile.get_by_role("button", name="Drop").click()
    expect(p.locator("#confirm-text")).to_contain_text(name)
    p.click("#confirm-cancel")
    assert p.locator("img").count() == 0
    assert page.dialogs == []  # and the page fixture checks again at the end
