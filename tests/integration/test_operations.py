"""Operating a ``fastport serve`` process: ports in use, SIGHUP, log formats."""

from __future__ import annotations

import json
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from fastport_proto.v1 import admin_pb2, admin_pb2_grpc

from ..support import ADMIN_TOKEN, ServerProcess, self_signed_certificate


@pytest.mark.parametrize("door", ["grpc", "http"])
def test_a_port_in_use_names_the_setting_and_creates_nothing(tmp_path: Path, door: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        data_dir = tmp_path / "data"
        other = "http" if door == "grpc" else "grpc"
        proc = subprocess.run(
            [sys.executable, "-m", "fastport", "serve", "--host", "127.0.0.1", f"--{door}-port", str(port),
             f"--{other}-port", "0", "--data-dir", str(data_dir)],
            capture_output=True, text=True, timeout=30,
        )
    assert proc.returncode == 1
    assert f"fastport: bind_failed: {'gRPC' if door == 'grpc' else 'HTTP'} port {port}" in proc.stderr
    assert f"--{door}-port" in proc.stderr and f"FASTPORT_{door.upper()}_PORT" in proc.stderr
    assert not data_dir.exists()  # no token, no database before the ports are ours
    # Only fastport's own lines: the gRPC library's diagnostics (it logs the failed bind) are off.
    for line in proc.stderr.splitlines():
        assert line.startswith("fastport: ") or re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ fastport", line), line


def _wait_for(server: ServerProcess, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = server.read_log()
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the log:\n{server.read_log()}")


def _served_certificate(port: int, ca: Path) -> bytes:
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def test_sighup_reloads_the_certificate_and_log_level(server_process: ServerProcess, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    cert, key = self_signed_certificate(first)
    new_cert, new_key = self_signed_certificate(second)
    live_cert, live_key = tmp_path / "cert.pem", tmp_path / "key.pem"
    live_cert.write_bytes(cert.read_bytes()), live_key.write_bytes(key.read_bytes())
    settings = tmp_path / "fastport.toml"
    settings.write_text('log_level = "info"\n')
    server_process.args = ["--config", str(settings), "--tls-cert", str(live_cert), "--tls-key", str(live_key)]
    server_process.start()
    http = server_process.ports["http"]
    assert _served_certificate(http, cert) == ssl.PEM_cert_to_DER_cert(cert.read_text())

    live_cert.write_bytes(new_cert.read_bytes()), live_key.write_bytes(new_key.read_bytes())
    settings.write_text('log_level = "debug"\n')
    assert server_process.proc is not None
    server_process.proc.send_signal(signal.SIGHUP)
    log = _wait_for(server_process, "reloaded:")
    assert f"reloaded: log level debug, TLS certificate {live_cert}" in log
    assert server_process.proc.poll() is None
    assert _served_certificate(http, new_cert) == ssl.PEM_cert_to_DER_cert(new_cert.read_text())
    grpc_cli = subprocess.run(
        [sys.executable, "-m", "fastport", "session", "list", "--server", f"grpcs://localhost:{server_process.ports['grpc']}",
         "--tls-ca", str(new_cert), "--admin-token", server_process.admin_token or ""],
        capture_output=True, text=True, timeout=30,
    )
    assert grpc_cli.returncode == 0, grpc_cli.stderr

    live_key.write_text("not a key")  # a reload that cannot use the files keeps the running ones
    server_process.proc.send_signal(signal.SIGHUP)
    _wait_for(server_process, "cannot be used")
    assert _served_certificate(http, new_cert) == ssl.PEM_cert_to_DER_cert(new_cert.read_text())
    assert server_process.stop() == 0


def _fastport(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fastport", *args], capture_output=True, text=True, timeout=30)


def test_json_log_lines_and_audit(server_process: ServerProcess) -> None:
    server_process.args = ["--log-format", "json"]
    server_process.start()
    server = ["--server", server_process.grpc_address]
    assert _fastport("session", "list", *server, "--admin-token", "wrong").returncode == 1
    with grpc.insecure_channel(server_process.grpc_address) as channel:  # no token at all
        with pytest.raises(grpc.RpcError, match="Admin token required"):
            admin_pb2_grpc.AdminStub(channel).ListSessions(admin_pb2.ListSessionsRequest(), timeout=10)
    assert _fastport("session", "create", "a", "--password", "pw", *server, "--admin-token", ADMIN_TOKEN).returncode == 0
    assert _fastport("pub", *server, "--session", "a", "--password", "nope", "t", "x").returncode == 1
    sub = subprocess.Popen(
        [sys.executable, "-m", "fastport", "sub", *server, "--session", "a", "--password", "pw", "t"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert sub.stderr is not None and sub.stderr.readline().startswith("Subscribed")
        assert _fastport("session", "drop", "a", *server, "--admin-token", ADMIN_TOKEN).returncode == 0
        assert sub.wait(20) == 1
    finally:
        sub.kill()
    _wait_for(server_process, "disconnected by the server")
    assert server_process.stop() == 0
    lines = [json.loads(line) for line in server_process.read_log().splitlines()]
    for line in lines:
        assert set(line) >= {"time", "level", "logger", "message", "session", "peer"}
    assert any(line["message"].startswith("listening grpc=") for line in lines)
    audit = [(a["level"], a["message"], a["session"]) for a in lines if a["logger"] == "fastport.audit"]
    assert audit == [
        ("warning", "authentication failed: Invalid admin credentials", None),
        ("warning", "admin call refused: Admin token required", None),
        ("info", "created 'a' by the admin", None),  # the session is the target, not the subject
        ("warning", "authentication failed: Invalid password", "a"),
        ("info", "disconnected by the server: session_dropped", "a"),
        ("info", "dropped 'a' by the admin", None),
    ]
    for line in lines:
        if line["logger"] == "fastport.audit":
            assert "127.0.0.1:" in line["peer"]
            assert line.get("target") in (None, "", "a")
