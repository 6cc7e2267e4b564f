"""The /test playground in a real browser: WebCrypto against the protocol's vectors, and
a conversation with the Python client in the legacy-cbc format through the broker."""

from __future__ import annotations

import json
import queue
from pathlib import Path

import pytest
from fastport_client import AckReceived, FastPortError, SyncFastPort, generate_key
from playwright.sync_api import Page, expect

from .support import Portal, Watched, screenshot

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "vectors.json").read_text())["vectors"]


def open_playground(page: Page, portal: Portal) -> None:
    page.goto(portal.base + "/test")
    expect(page.locator("#url")).to_have_value(portal.ws_url)


@pytest.mark.parametrize("vector", [v for v in VECTORS if "plaintext" in v], ids=lambda v: v["name"])
def test_webcrypto_matches_the_vectors(page: Watched, portal: Portal, vector: dict[str, str]) -> None:
    open_playground(page.page, portal)
    key = vector.get("secretKeyHex") or vector["keyB64"]
    result = page.page.evaluate(
        """async ([key, ivHex, plaintext, data, hash]) => {
            const k = await legacyCrypto.importKey(key);
            const made = await legacyCrypto.encrypt(k, plaintext, legacyCrypto.fromHex(ivHex));
            return { made, back: await legacyCrypto.decrypt(k, data, hash) };
        }""",
        [key, vector["ivHex"], vector["plaintext"], vector["data"], vector["hash"]],
    )
    assert result == {"made": {"data": vector["data"], "hash": vector["hash"]}, "back": vector["plaintext"]}


def test_a_corrupted_message_is_refused(page: Watched, portal: Portal) -> None:
    open_playground(page.page, portal)
    v1, v3 = VECTORS[0], VECTORS[2]  # same key: V3's data is well-formed, V1's hash is not its hash
    error = page.page.evaluate(
        """async ([key, data, hash]) => {
            const k = await legacyCrypto.importKey(key);
            try { await legacyCrypto.decrypt(k, data, hash); return null; } catch (e) { return e.message; }
        }""",
        [v1["keyB64"], v3["data"], v1["hash"]],
    )
    assert error == "hash mismatch"


def test_the_playground_talks_with_the_python_client(page: Watched, portal: Portal) -> None:
    p = page.page
    portal.create_session("chat", "pw")
    key = generate_key()
    inbox: queue.Queue[str] = queue.Queue()
    acks: queue.Queue[AckReceived] = queue.Queue()
    python = SyncFastPort(portal.ws_url, "chat", "pw", key, cipher="legacy-cbc", on_ack=acks.put)
    python.get("chat/browser", lambda message: inbox.put(message.text))
    with python:
        open_playground(p, portal)
        p.fill("#session", "chat")
        p.fill("#password", "pw")
        p.fill("#key", key)
        p.click("#connect")
        expect(p.locator("#status")).to_have_text("Connected to chat")
        p.fill("#subscribe-topic", "chat/python")
        p.click("#subscribe")
        expect(p.locator("#subscriptions .chip")).to_contain_text("chat/python")

        p.fill("#publish-topic", "chat/browser")
        p.fill("#publish-data", "héllo from the browser")
        p.click("#publish")
        assert inbox.get(timeout=10) == "héllo from the browser"  # decrypted by the Python client
        expect(p.locator("[data-kind=published]")).to_contain_text("1 subscriber(s)")

        python.emit("chat/python", "hello from Python")
        expect(p.locator("[data-kind=message]")).to_contain_text("chat/python: hello from Python")
        ack = acks.get(timeout=10)  # the page ACKed what it decrypted
        assert (ack.topic, ack.remaining) == ("chat/python", 0)
        p.fill("#subscribe-topic", "sys/logs")  # the session's own log stream
        p.click("#subscribe")
        expect(p.locator("#subscriptions .chip")).to_have_count(2)
        with pytest.raises(FastPortError), SyncFastPort(portal.ws_url, "chat", "wrong", key, cipher="legacy-cbc"):
            pass
        expect(p.locator("[data-kind=log]")).to_contain_text("WARNING authentication failed: Invalid password")
        screenshot(p, "playground.png")
    assert portal.session("chat")["pendingMessages"] == 0  # type: ignore[index]
