"""Settings precedence (flags > environment > file > defaults) and admin credentials."""

from __future__ import annotations

import argparse
import base64
import secrets
import stat
from pathlib import Path

import pytest

from fastport.app import App
from fastport.auth import AdminAuth, load_or_create_token, read_token
from fastport.config import ConfigError, Settings, add_arguments, load_settings
from fastport.core import ManualClock
from fastport.core.throttle import LoginThrottle

from ..support import make_settings


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_defaults() -> None:
    s = load_settings(parse(), environ={})
    assert s == Settings()
    assert (s.grpc_port, s.http_port, s.max_payload, s.host) == (50051, 3000, 10 * 1024 * 1024, "127.0.0.1")


def test_precedence(tmp_path: Path) -> None:
    cfg = tmp_path / "fastport.toml"
    cfg.write_text('grpc_port = 1111\nhttp-port = 2222\nlog_level = "debug"\ncors_origins = ["a", "b"]\n')
    env = {"FASTPORT_GRPC_PORT": "3333", "MAX_PAYLOAD_SIZE": "99"}
    s = load_settings(parse("--config", str(cfg), "--grpc-port", "4444"), environ=env)
    assert s.grpc_port == 4444  # flag over env over file
    assert s.http_port == 2222  # file over default
    assert s.max_payload == 99  # legacy env name
    assert s.log_level == "debug" and s.cors_origins == ("a", "b")
    s = load_settings(parse("--config", str(cfg)), environ=env)
    assert s.grpc_port == 3333


def test_first_listed_environment_name_wins() -> None:
    s = load_settings(parse(), environ={"PORT": "8080", "FASTPORT_HTTP_PORT": "9090"})
    assert s.http_port == 9090
    assert load_settings(parse(), environ={"PORT": "8080"}).http_port == 8080


async def test_the_broker_remembers_ids_for_the_configured_window(tmp_path: Path) -> None:
    assert load_settings(parse(), environ={"FASTPORT_DEDUP_WINDOW_MS": "0"}).dedup_window_ms == 0
    app = App(make_settings(tmp_path, dedup_window_ms=1234))
    await app.start()
    try:
        assert app.broker is not None and app.broker.engine.dedup_window_ms == 1234
    finally:
        await app.stop()


def test_flag_booleans() -> None:
    assert load_settings(parse("--open-admin"), environ={}).open_admin is True
    assert load_settings(parse("--no-open-admin"), environ={"FASTPORT_OPEN_ADMIN": "yes"}).open_admin is False


@pytest.mark.parametrize(
    "argv, env, text",
    [
        (("--grpc-port", "-1"),  {}, "grpc_port from --grpc-port"),
        ((), {"FASTPORT_MAX_PAYLOAD_SIZE": "big"}, "max_payload from environment"),
        ((), {"FASTPORT_OPEN_ADMIN": "maybe"}, "open_admin"),
        (("--dedup-window-ms", "-1"), {}, "dedup_window_ms from --dedup-window-ms: '-1' must be 0 or a positive"),
        (("--log-level", "loud"), {}, "log_level"),
        (("--tls-cert", "c.pem"), {}, "go together"),
    ],
)
def test_bad_values_are_errors(argv: tuple[str, ...], env: dict[str, str], text: str) -> None:
    with pytest.raises(ConfigError, match=text):
        load_settings(parse(*argv), environ=env)


def test_unknown_key_in_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("grpc_prot = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'grpc_prot'"):
        load_settings(parse("--config", str(cfg)), environ={})


def test_token_file_created_private_and_reused(tmp_path: Path) -> None:
    token = load_or_create_token(tmp_path / "data")
    path = tmp_path / "data" / "admin-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_token(tmp_path / "data") == token == read_token(tmp_path / "data")
    assert read_token(tmp_path / "elsewhere") is None


def test_servers_starting_at_once_agree_on_one_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another server writes its token between this one's look and its write: both use
    the first one written, and nothing of this one's attempt is left behind."""
    data = tmp_path / "data"
    make = secrets.token_urlsafe

    def another_server_first(n: int) -> str:
        (data / "admin-token").write_text("theirs\n")
        return make(n)

    monkeypatch.setattr(secrets, "token_urlsafe", another_server_first)
    assert load_or_create_token(data) == "theirs" == read_token(data)
    assert sorted(p.name for p in data.iterdir()) == ["admin-token"]


def test_an_empty_token_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "admin-token").write_text("")
    token = load_or_create_token(tmp_path)
    assert token and read_token(tmp_path) == token
    assert sorted(p.name for p in tmp_path.iterdir()) == ["admin-token"]


def test_admin_auth_headers() -> None:
    auth = AdminAuth("tok", "admin", "pa:ss", throttle=LoginThrottle(ManualClock()))

    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    assert auth.check_bearer("Bearer tok") and auth.check_bearer("bearer tok")
    assert not auth.check_bearer("Bearer nope") and not auth.check_bearer(None) and not auth.check_bearer("tok")
    assert auth.check_basic(basic("admin", "pa:ss"))
    assert not auth.check_basic(basic("admin", "pa"))
    assert not auth.check_basic("Bearer " + base64.b64encode(b"admin:pa:ss").decode())
    assert not auth.check_basic("Basic !!!")
    assert not AdminAuth("tok", throttle=LoginThrottle(ManualClock())).check_basic(basic("admin", "pa:ss"))
