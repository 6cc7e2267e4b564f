"""The HTTP door in a real ``fastport serve`` process, and over TLS."""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import subprocess
import sys
import urllib.request

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from fastport.app import App

from ..support import ADMIN_PASS, ADMIN_USER, ServerProcess, make_settings, self_signed_certificate
from .wire import BASIC, compact


def http_json(url: str, body: object | None = None, *, context: ssl.SSLContext | None = None) -> object:
    request = urllib.request.Request(url, data=None if body is None else compact(body).encode(), method="POST" if body else "GET")
    request.add_header("Authorization", BASIC)
    with urllib.request.urlopen(request, timeout=10, context=context) as resp:
        return json.loads(resp.read())


def test_serve_logs_http_port_and_closes_sockets_on_sigterm(server_process: ServerProcess) -> None:
    server_process.args = ["--admin-user", ADMIN_USER, "--admin-pass", ADMIN_PASS]
    server_process.start()
    log = server_process.read_log()
    assert log.index("listening http=127.0.0.1:") < log.index("ready (")
    port = server_process.ports["http"]
    base = f"http://127.0.0.1:{port}"
    assert http_json(f"{base}/health") == {"status": "ok", "live": True, "ready": True}
    assert http_json(f"{base}/api/createSession", {"sessionName": "s", "password": "p"})["success"] is True

    async def session() -> tuple[int, str]:
        async with ws_connect(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send('{"type":"init","sessionName":"s","password":"p"}')
            assert json.loads(await ws.recv())["success"] is True
            assert server_process.proc is not None
            server_process.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(ws.recv(), 10)
            except ConnectionClosed as exc:
                assert exc.rcvd is not None
                return exc.rcvd.code, exc.rcvd.reason
        raise AssertionError("not closed")

    assert asyncio.run(session()) == (1001, "Server shutting down")
    assert server_process.proc.wait(10) == 0


def test_open_admin_warns_at_start_up(server_process: ServerProcess) -> None:
    server_process.args = ["--open-admin"]
    server_process.start()
    assert "--open-admin is on" in server_process.read_log()


def test_default_http_port_is_3000() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fastport", "serve", "--help"], capture_output=True, text=True, timeout=30, check=True
    )
    assert "--http-port" in done.stdout and "3000" in done.stdout


async def test_tls_on_the_http_port(tmp_path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    server = App(make_settings(tmp_path, tls_cert=cert, tls_key=key))
    await server.start()
    try:
        context = ssl.create_default_context(cafile=str(cert))
        base = f"https://127.0.0.1:{server.http_port}"
        body = await asyncio.to_thread(http_json, f"{base}/api/createSession", {"sessionName": "s", "password": "p"},
                                       context=context)
        assert body["success"] is True
        async with ws_connect(f"wss://127.0.0.1:{server.http_port}/ws", ssl=context) as ws:
            await ws.send('{"type":"init","sessionName":"s","password":"p"}')
            assert await ws.recv() == '{"type":"init_response","success":true,"sessionName":"s"}'
    finally:
        await server.stop()
