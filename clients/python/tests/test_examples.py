"""The examples run as a user would run them, against a real in-process server."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from fpc_support import Urls
from tests.support import ADMIN_TOKEN

from fastport_client import create_session, generate_key

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TIMEOUT = 30


async def start(script: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / script), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def run(script: str, *args: str) -> str:
    proc = await start(script, *args)
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_create_session_sender_and_receiver(urls: Urls, door: str) -> None:
    url = urls.of(door)
    created = json.loads(await run("create_session.py", url, "demo", "pw", "--admin-token", ADMIN_TOKEN))
    assert created["session"] == "demo" and len(created["secretKey"]) == 64 and len(created["key"]) == 44
    key = created["key"]

    receiver = await start("receiver.py", url, "demo", "pw", key, "sensors/#", "--count", "2")
    assert receiver.stderr is not None
    line = await asyncio.wait_for(receiver.stderr.readline(), TIMEOUT)
    assert line.decode().strip() == "connection connecting"
    line = await asyncio.wait_for(receiver.stderr.readline(), TIMEOUT)
    assert line.decode().strip() == "connection connected"

    sent = await run("sender.py", url, "demo", "pw", key, "sensors/t1", "one", "two")
    assert sent.count("sent to 1 subscriber(s)") == 2

    out, err = await asyncio.wait_for(receiver.communicate(), TIMEOUT)
    assert receiver.returncode == 0, err.decode()
    texts = [row.rsplit(": ", 1)[1] for row in out.decode().splitlines()]
    assert texts == ["one", "two"]


async def test_cross_language_example(urls: Urls, door: str) -> None:
    s = await create_session(urls.grpc, "mixed", "pw", admin_token=ADMIN_TOKEN)
    out = await run("cross_language.py", urls.ws, s.name, s.password, generate_key(), "--via", urls.of(door))
    assert "python received on demo/node: Hello from Node.js!" in out
