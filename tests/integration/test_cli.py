"""The ``fastport`` command, run as real processes against a real server process."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

from ..support import ServerProcess


def fastport(*args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "fastport", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def start_sub(*args: str) -> subprocess.Popen[str]:
    """``fastport sub`` in the background; read it with ``communicate``."""
    return subprocess.Popen(
        [sys.executable, "-m", "fastport", "sub", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_admin_pub_sub_and_graceful_shutdown(server_process: ServerProcess) -> None:
    server_process.admin_token = None  # the server generates one on first start
    server_process.start()
    data_dir = server_process.data_dir
    token_file = data_dir / "admin-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert str(token_file.resolve()) in server_process.read_log()
    server = ["--server", server_process.grpc_address]
    admin = [*server, "--data-dir", str(data_dir)]

    created = json.loads(fastport("session", "create", "demo", "--password", "pw", "--retry-interval", "750", *admin).stdout)
    assert len(created["secretKey"]) == 64
    assert created["session"]["retryInterval"] == 750
    listed = json.loads(fastport("session", "list", *admin).stdout)
    assert [s["sessionName"] for s in listed] == ["demo"]

    sub = start_sub(*server, "--session", "demo", "--password", "pw", "sensors/+", "--count", "2")
    try:
        # Wait until the subscription is in place before publishing.
        for _ in range(200):
            info = json.loads(fastport("session", "get", "demo", *admin).stdout)
            if info["subscriptions"] == 1:
                break
            subprocess.run(["sleep", "0.05"])
        assert info["subscriptions"] == 1
        pub = ["pub", *server, "--session", "demo", "--password", "pw"]
        first = json.loads(fastport(*pub, "sensors/a", "21.5").stdout)
        assert first["deliveredTo"] == 1
        fastport(*pub, "sensors/b", "héllo")
        out, err = sub.communicate(timeout=20)
    finally:
        sub.kill()
    assert sub.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(m["topic"], m["data"]) for m in lines] == [("sensors/a", "21.5"), ("sensors/b", "héllo")]
    assert lines[0]["messageId"] == first["messageId"]

    bad = fastport(*pub, "--password", "nope", "sensors/a", "x", check=False)
    assert bad.returncode == 1 and "invalid_password" in bad.stderr

    secret = ["--password", "pw", "--secret-key", created["secretKey"]]
    assert json.loads(fastport("session", "suspend", "demo", *server, *secret).stdout)["suspended"] is True
    refused = fastport(*pub, "sensors/a", "x", check=False)
    assert refused.returncode == 1 and "session_suspended" in refused.stderr
    assert json.loads(fastport("session", "resume", "demo", *admin).stdout)["suspended"] is False
    fastport("session", "drop", "demo", *admin)
    missing = fastport("session", "get", "demo", *admin, check=False)
    assert missing.returncode == 1 and "session_not_found" in missing.stderr
    denied = fastport("session", "list", *server, "--admin-token", "wrong", check=False)
    assert denied.returncode == 1 and "unauthenticated" in denied.stderr

    assert server_process.stop() == 0
    log = server_process.read_log()
    assert "stopped" in log
    assert token not in log


def test_keygen_prints_a_32_byte_key() -> None:
    key = fastport("keygen").stdout.strip()
    assert len(base64.b64decode(key, validate=True)) == 32 and len(key) == 44
    assert fastport("keygen").stdout.strip() != key


def test_bad_setting_is_an_error_at_start(tmp_path: Path) -> None:
    for args, env, text in (
        (["--grpc-port", "http"], {}, "grpc_port from --grpc-port"),
        ([], {"FASTPORT_GRPC_PORT": "70000"}, "grpc_port from environment FASTPORT_GRPC_PORT"),
        (["--store", "oracle"], {}, "store from --store"),
    ):
        proc = fastport("serve", "--data-dir", str(tmp_path), *args, check=False, env=env)
        assert proc.returncode == 1 and text in proc.stderr, proc.stderr


def test_help_lists_settings_with_environment_names() -> None:
    out = fastport("serve", "--help").stdout
    for flag, env in (("--grpc-port", "FASTPORT_GRPC_PORT"), ("--http-port", "PORT"), ("--log-level", "FASTPORT_LOG_LEVEL")):
        assert flag in out and env in out


def test_pub_sub_with_end_to_end_key(server_process: ServerProcess) -> None:
    server_process.start()
    server = ["--server", server_process.grpc_address]
    fastport("session", "create", "e2e", "--password", "pw", *server, "--admin-token", server_process.admin_token or "")
    key = fastport("keygen").stdout.strip()
    common = [*server, "--session", "e2e", "--password", "pw", "--key", key]
    for cipher in ("aes-gcm", "legacy-cbc"):
        sub = start_sub(*common, "--cipher", cipher, "secret/#", "--count", "1")
        try:
            # The message waits for no one: publish until the subscriber is in place.
            for _ in range(100):
                out = json.loads(fastport("pub", *common, "--cipher", cipher, "secret/a", "top secret").stdout)
                if out["deliveredTo"] == 1:
                    break
                subprocess.run(["sleep", "0.05"])
            stdout, stderr = sub.communicate(timeout=20)
        finally:
            sub.kill()
        assert sub.returncode == 0, stderr
        (line,) = [json.loads(x) for x in stdout.splitlines()]
        assert line["data"] == "top secret" and line["messageId"] == out["messageId"]
    # What travels through the broker is ciphertext: a plain subscriber sees no plaintext.
    plain = start_sub(*server, "--session", "e2e", "--password", "pw", "secret/#", "--count", "1")
    try:
        for _ in range(100):
            if json.loads(fastport("pub", *common, "secret/b", "top secret").stdout)["deliveredTo"] == 1:
                break
            subprocess.run(["sleep", "0.05"])
        stdout, _ = plain.communicate(timeout=20)
    finally:
        plain.kill()
    data = json.loads(stdout)["data"]
    assert "top secret" not in data and data.startswith("fp.v1.")
    bad = fastport("pub", *common[:-1], "not-base64!", "t", "x", check=False)
    assert bad.returncode == 1 and "invalid_key" in bad.stderr


def test_cli_and_rest_show_a_session_in_one_shape(server_process: ServerProcess) -> None:
    server_process.start()
    admin = ["--server", server_process.grpc_address, "--admin-token", server_process.admin_token or ""]
    created = fastport(
        "session", "create", "shape", "--password", "pw", "--message-expiry", "60000", "--max-payload", "4096", *admin
    )
    shown = json.loads(created.stdout)["session"]
    assert shown["messageExpiryTime"] == 60000 and shown["expiresAt"] is None
    assert shown["limits"]["maxPayloadBytes"] == 4096  # a number, not a string
    request = urllib.request.Request(
        f"http://127.0.0.1:{server_process.ports['http']}/api/sessions",
        headers={"Authorization": f"Bearer {server_process.admin_token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        (rest,) = json.loads(response.read())["sessions"]
    assert json.loads(fastport("session", "list", *admin).stdout) == [rest] == [shown]
    assert json.loads(fastport("session", "get", "shape", *admin).stdout) == rest
