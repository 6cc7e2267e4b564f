"""The ``fastport`` command, run as real processes against a real server process."""

from __future__ import annotations

import base64
import importlib.metadata
import json
import os
import queue
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import grpc
from fastport_proto.v1 import broker_pb2, broker_pb2_grpc

import fastport as fastport_package

from ..support import ServerProcess, self_signed_certificate


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

    created = json.loads(
        fastport(
            "session", "create", "demo", "--password", "pw", "--retry-interval", "750", "--max-in-flight", "20",
            "--max-pending", "500", "--max-pending-bytes", "65536", *admin,
        ).stdout
    )
    assert len(created["secretKey"]) == 64
    assert created["session"]["retryInterval"] == 750
    limits = created["session"]["limits"]
    assert (limits["maxInFlight"], limits["maxPendingMessages"], limits["maxPendingBytes"]) == (20, 500, 65536)
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


def test_pub_gives_up_after_its_timeout_and_names_the_refusal(server_process: ServerProcess) -> None:
    """A session holding all it may (one message a subscriber never ACKs): plain ``pub``
    says ``overloaded`` at once; with ``--key`` the client retries the temporary refusal
    until ``--timeout``, then says both."""
    server_process.start()
    server = ["--server", server_process.grpc_address]
    admin = ["--admin-token", server_process.admin_token or ""]
    fastport("session", "create", "full", "--password", "pw", "--max-pending", "1", "--retry-interval", "3600000", *server, *admin)
    frames: queue.Queue[broker_pb2.ClientFrame | None] = queue.Queue()
    frames.put(broker_pb2.ClientFrame(init=broker_pb2.Init(request_id=1, session="full", password="pw")))
    frames.put(broker_pb2.ClientFrame(subscribe=[broker_pb2.Subscribe(request_id=2, topic="t")]))
    with grpc.insecure_channel(server_process.grpc_address) as channel:
        stream = broker_pb2_grpc.BrokerStub(channel).Connect(iter(frames.get, None))  # never ACKs
        try:
            while not next(stream).subscribe_results:
                pass
            common = [*server, "--session", "full", "--password", "pw"]
            assert json.loads(fastport("pub", *common, "t", "held").stdout)["deliveredTo"] == 1
            plain = fastport("pub", *common, "t", "refused", check=False)
            assert plain.returncode == 1 and "overloaded" in plain.stderr, plain.stderr
            key = fastport("keygen").stdout.strip()
            # (fastport() allows 30 s: the default emit timeout, 300 s, would not pass)
            retried = fastport("pub", *common, "--key", key, "--timeout", "1.5", "t", "retried", check=False)
            assert retried.returncode == 1, retried.stderr
            assert "publish_timeout" in retried.stderr and "last refused: overloaded" in retried.stderr, retried.stderr
        finally:
            frames.put(None)
            stream.cancel()


def test_cli_and_rest_show_a_session_in_one_shape(server_process: ServerProcess) -> None:
    server_process.start()
    admin = ["--server", server_process.grpc_address, "--admin-token", server_process.admin_token or ""]
    created = fastport(
        "session", "create", "shape", "--password", "pw", "--message-expiry", "60000", "--max-payload", "4096",
        "--max-remembered-ids", "500", "--dead-letter-topic", "dead/letters", *admin,
    )
    shown = json.loads(created.stdout)["session"]
    assert shown["deadLetterTopic"] == "dead/letters"
    assert shown["messageExpiryTime"] == 60000 and shown["expiresAt"] is None
    assert shown["maxRememberedIds"] == 500
    assert shown["limits"]["maxPayloadBytes"] == 4096  # a number, not a string
    request = urllib.request.Request(
        f"http://127.0.0.1:{server_process.ports['http']}/api/sessions",
        headers={"Authorization": f"Bearer {server_process.admin_token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        (rest,) = json.loads(response.read())["sessions"]
    assert json.loads(fastport("session", "list", *admin).stdout) == [rest] == [shown]
    assert json.loads(fastport("session", "get", "shape", *admin).stdout) == rest


def test_version_is_the_installed_package_version() -> None:
    version = importlib.metadata.version("fastport")
    assert fastport_package.__version__ == version
    assert fastport("--version").stdout.strip() == f"fastport {version}"


def test_bad_numbers_are_clear_usage_errors(tmp_path: Path) -> None:
    sub = fastport("sub", "--session", "s", "--password", "p", "--count", "two", "t", check=False)
    assert sub.returncode == 2 and "--count: 'two' is not a whole number" in sub.stderr
    serve = fastport("serve", "--data-dir", str(tmp_path), "--http-port", "web", check=False)
    assert serve.returncode == 1 and "'web' is not a whole number" in serve.stderr
    assert "invalid literal" not in sub.stderr + serve.stderr


def test_help_shows_choices_and_one_default() -> None:
    out = " ".join(fastport("serve", "--help").stdout.split())
    assert "--store {memory,sqlite}" in out and "--fsync {normal,full}" in out
    assert "default: DATA_DIR/fastport.db]" in out and "default: None" not in out
    pub = " ".join(fastport("pub", "--help").stdout.split())
    assert "--session SESSION the session" in pub and "FASTPORT_PASSWORD" in pub and "--password-file" in pub


def test_admin_token_missing_or_wrong_is_said(server_process: ServerProcess, tmp_path: Path) -> None:
    server_process.start()
    server = ["--server", server_process.grpc_address]
    nowhere = tmp_path / "nowhere"
    missing = fastport("session", "list", *server, "--data-dir", str(nowhere), check=False, env={"FASTPORT_ADMIN_TOKEN": ""})
    assert missing.returncode == 1 and "no admin token" in missing.stderr
    assert str(nowhere / "admin-token") in missing.stderr
    wrong = fastport("session", "list", *server, "--admin-token", "wrong", check=False)
    assert wrong.returncode == 1 and "unauthenticated: Invalid admin token" in wrong.stderr


def test_passwords_from_environment_file_or_stdin(server_process: ServerProcess, tmp_path: Path) -> None:
    server_process.start()
    server = ["--server", server_process.grpc_address]
    password_file = tmp_path / "password"
    password_file.write_text("from a file\n")
    admin = [*server, "--admin-token", server_process.admin_token or ""]
    fastport("session", "create", "pw", "--password-file", str(password_file), *admin)
    pub = ["pub", *server, "--session", "pw", "t", "x"]
    assert fastport(*pub, env={"FASTPORT_PASSWORD": "from a file"}).returncode == 0
    stdin = subprocess.run(
        [sys.executable, "-m", "fastport", *pub, "--password-file", "-"],
        input="from a file\n", capture_output=True, text=True, timeout=30,
    )
    assert stdin.returncode == 0, stdin.stderr
    none = fastport(*pub, check=False, env={"FASTPORT_PASSWORD": ""})
    assert none.returncode == 1 and "password_required" in none.stderr


def test_client_commands_speak_tls(server_process: ServerProcess, tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    server_process.args = ["--tls-cert", str(cert), "--tls-key", str(key)]
    server_process.start()
    assert "TLS on" in server_process.read_log()
    tls = ["--server", f"grpcs://localhost:{server_process.ports['grpc']}", "--tls-ca", str(cert)]
    fastport("session", "create", "tls", "--password", "pw", *tls, "--admin-token", server_process.admin_token or "")
    key_b64 = fastport("keygen").stdout.strip()
    for extra in ([], ["--key", key_b64]):
        out = fastport("pub", "--session", "tls", "--password", "pw", *extra, "t", "x", env={"FASTPORT_TLS_CA": str(cert), "FASTPORT_SERVER": tls[1]})
        assert json.loads(out.stdout)["deliveredTo"] == 0
    plain = fastport("pub", "--session", "tls", "--password", "pw", "--server", server_process.grpc_address, "t", "x", check=False)
    assert plain.returncode == 1
    untrusted = fastport("pub", "--session", "tls", "--password", "pw", tls[0], tls[1], "t", "x", check=False, env={"FASTPORT_TLS_CA": ""})
    assert untrusted.returncode == 1 and "unavailable" in untrusted.stderr
    ca_without_tls = fastport("pub", "--session", "tls", "--password", "pw", "--server", server_process.grpc_address, "--tls-ca", str(cert), "t", "x", check=False)
    assert ca_without_tls.returncode == 1 and "invalid_server" in ca_without_tls.stderr
