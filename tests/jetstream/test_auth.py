"""Logging in to NATS and checking who it is, against real nats-servers that want it:
a user and password in the URL, a credentials file (``--nats-creds``: nats-server in
operator mode with JWTs made here, signed with nkeys), and TLS checked against
``--nats-tls-ca`` (certificates made here with cryptography). Wrong credentials or a
certificate the CA did not sign are a clear ``unavailable`` error (at start) or a node
that is not ready (``/health`` 503, when the servers change); a password in a URL is
never shown: not in log lines, errors, ``/health``, ``/api/admin/stats`` or ``--help``."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import nkeys
import orjson
import pytest

from fastport.app import App
from fastport.config import ConfigError
from fastport.core import BrokerError, ErrorCode
from fastport.engines.jetstream.link import NatsLink

from ..support import ADMIN_TOKEN, make_settings, self_signed_certificate
from .nodes import health
from .servers import NatsServer, start_server, tls_options, wait_ready
from .support import WAIT_S, eventually, link_options, settings

PASSWORD = "pw-that-must-not-show"
# A connect timeout no test waits out: a refusal must end start-up before it.
NEVER_S = 10 * WAIT_S


@pytest.fixture
def password_server(nats_binary: str, tmp_path: Path) -> Iterator[NatsServer]:
    server = start_server(nats_binary, tmp_path / "nats", extra=["--user", "fastport", "--pass", PASSWORD])
    yield server
    server.stop()


def url(server: NatsServer, password: str = PASSWORD) -> str:
    return f"nats://fastport:{password}@127.0.0.1:{server.port}"


async def test_a_password_in_the_url_logs_in_and_is_never_shown(
    password_server: NatsServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = App(make_settings(tmp_path, engine="jetstream", nats_url=(url(password_server),)))
    await app.start()
    try:
        assert app.broker is not None and app.broker.ready()
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http:
            for path in ("/health", "/api/admin/stats"):
                async with http.get(f"http://127.0.0.1:{app.http_port}{path}") as resp:
                    assert resp.status == 200
                    assert PASSWORD not in await resp.text()
    finally:
        await app.stop()
    assert f"connected to NATS at 127.0.0.1:{password_server.port}" in caplog.text
    assert PASSWORD not in caplog.text


async def test_a_wrong_password_is_a_clear_error_that_does_not_show_it(
    password_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-pw-that-must-not-show"
    node = NatsLink(link_options(url(password_server, wrong), connect_timeout_s=NEVER_S))
    with pytest.raises(BrokerError) as err:
        await asyncio.wait_for(node.open(), WAIT_S)  # refused twice: an answer, not waited out
    assert err.value.code == ErrorCode.UNAVAILABLE
    assert f"cannot reach NATS at nats://fastport:***@127.0.0.1:{password_server.port}" in err.value.message
    assert "authorization" in err.value.message.lower()  # the server's words, or nats-py's
    assert wrong not in err.value.message and wrong not in caplog.text


def test_settings_errors_and_help_do_not_show_a_password_in_a_url() -> None:
    with pytest.raises(ConfigError) as err:
        settings("--nats-url", f"nats://127.0.0.1:4222,nats://u:{PASSWORD}@h:x")
    assert "'nats://127.0.0.1:4222,nats://u:***@h:x' has a bad port in 'nats://u:***@h:x'" in str(err.value)
    assert PASSWORD not in str(err.value)
    with pytest.raises(ConfigError) as err:
        settings(FASTPORT_NATS_URL=f"http://{PASSWORD}@h:4222")  # a token, all of it secret
    assert "is not a NATS URL: 'http://***@h:4222'" in str(err.value) and PASSWORD not in str(err.value)
    env = {**os.environ, "FASTPORT_NATS_URL": f"nats://u:{PASSWORD}@h:4222"}
    shown = subprocess.run(
        [sys.executable, "-m", "fastport", "serve", "--help"], capture_output=True, text=True, env=env, timeout=60
    )
    assert shown.returncode == 0 and "--nats-url" in shown.stdout
    assert PASSWORD not in shown.stdout + shown.stderr


# ---------------------------------------------------------------- credentials files


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def keypair(prefix: int) -> nkeys.KeyPair:
    return nkeys.from_seed(nkeys.encode_seed(os.urandom(32), prefix))


def public(key: nkeys.KeyPair) -> str:
    return str(key.public_key.decode("ascii"))


def jwt(issuer: nkeys.KeyPair, subject: nkeys.KeyPair, kind: str, **nats: object) -> str:
    """A NATS JWT (v2): header and claims as base64url JSON, signed by ``issuer``."""
    header = _b64(orjson.dumps({"typ": "JWT", "alg": "ed25519-nkey"}))
    claims = {
        "jti": _b64(os.urandom(16)),
        "iat": int(time.time()),
        "iss": public(issuer),
        "sub": public(subject),
        "name": kind,
        "nats": {"type": kind, "version": 2, **nats},
    }
    signed = f"{header}.{_b64(orjson.dumps(claims))}"
    return f"{signed}.{_b64(issuer.sign(signed.encode('ascii')))}"


def creds_file(path: Path, account: nkeys.KeyPair) -> Path:
    """A user of ``account``, as the credentials file ``nsc`` would write."""
    user = keypair(nkeys.PREFIX_BYTE_USER)
    token = jwt(account, user, "user", subs=-1, data=-1, payload=-1)
    path.write_text(
        f"-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{user.seed.decode('ascii')}\n------END USER NKEY SEED------\n"
    )
    return path


@pytest.fixture
def operator_server(nats_binary: str, tmp_path: Path) -> Iterator[tuple[NatsServer, nkeys.KeyPair]]:
    """nats-server in operator mode, its accounts preloaded (memory resolver): one with
    JetStream for fastport, and the system account JetStream needs."""
    operator = keypair(nkeys.PREFIX_BYTE_OPERATOR)
    account, system = keypair(nkeys.PREFIX_BYTE_ACCOUNT), keypair(nkeys.PREFIX_BYTE_ACCOUNT)
    unlimited = dict(subs=-1, data=-1, payload=-1, imports=-1, exports=-1, wildcards=True, conn=-1, leaf=-1)
    jetstream = dict(mem_storage=-1, disk_storage=-1, streams=-1, consumer=-1)
    config = tmp_path / "operator.conf"
    config.write_text(
        f"operator: {jwt(operator, operator, 'operator')}\n"
        f"system_account: {public(system)}\n"
        "resolver: MEMORY\n"
        "resolver_preload: {\n"
        f"  {public(account)}: {jwt(operator, account, 'account', limits={**unlimited, **jetstream})}\n"
        f"  {public(system)}: {jwt(operator, system, 'account')}\n"
        "}\n"
    )
    server = start_server(nats_binary, tmp_path / "nats", extra=["--config", str(config)])
    yield server, account
    server.stop()


async def test_a_credentials_file_logs_in_and_a_stranger_is_refused(
    operator_server: tuple[NatsServer, nkeys.KeyPair], tmp_path: Path
) -> None:
    server, account = operator_server
    app = App(make_settings(tmp_path, engine="jetstream", nats_url=(server.url,), nats_creds=creds_file(tmp_path / "u.creds", account)))
    await app.start()  # sessions and subscriptions buckets made: JetStream works for this user
    try:
        assert app.broker is not None and app.broker.ready()
    finally:
        await app.stop()

    stranger = creds_file(tmp_path / "stranger.creds", keypair(nkeys.PREFIX_BYTE_ACCOUNT))
    node = NatsLink(link_options(server.url, creds=stranger, connect_timeout_s=NEVER_S))
    with pytest.raises(BrokerError) as err:
        await asyncio.wait_for(node.open(), WAIT_S)
    assert err.value.code == ErrorCode.UNAVAILABLE
    assert f"cannot reach NATS at {server.url}" in err.value.message
    assert "authorization" in err.value.message.lower()  # the server's words, or nats-py's


# ---------------------------------------------------------------- TLS


def certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA, and its key."""
    directory.mkdir()
    return self_signed_certificate(directory)


async def test_a_node_checks_the_servers_certificate_against_its_ca(
    nats_binary: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cert, key = certificate(tmp_path / "ca")
    stranger, stranger_key = certificate(tmp_path / "other-ca")
    server = start_server(nats_binary, tmp_path / "nats", extra=tls_options(cert, key))
    tls_url = f"tls://127.0.0.1:{server.port}"
    try:
        wrong = App(make_settings(tmp_path / "wrong", engine="jetstream", nats_url=(tls_url,), nats_tls_ca=stranger))
        with pytest.raises(BrokerError) as err:
            await wrong.start()
        await wrong.stop()
        assert err.value.code == ErrorCode.UNAVAILABLE
        assert f"cannot reach NATS at {tls_url}" in err.value.message and "CERTIFICATE_VERIFY_FAILED" in err.value.message

        app = App(make_settings(tmp_path / "node", engine="jetstream", nats_url=(tls_url,), nats_tls_ca=cert))
        await app.start()
        try:
            assert await health(app) == (200, {"status": "ok", "live": True, "ready": True})
            # The server comes back with a certificate the node's CA did not sign.
            caplog.clear()
            server.stop()
            server.extra = tls_options(stranger, stranger_key)
            server.start()
            wait_ready([server])
            await eventually(lambda: "CERTIFICATE_VERIFY_FAILED" in caplog.text)
            assert await health(app) == (503, {"status": "unavailable", "live": True, "ready": False})
        finally:
            await app.stop()  # bounded: nats-py's own close waits for ever here (link.CLOSE_WAIT_S)
    finally:
        server.stop()
