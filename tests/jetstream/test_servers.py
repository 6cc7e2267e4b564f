"""The fixtures' promise: a machine without nats-server fails these tests, saying how to
install it, unless their owner asked to skip them."""

from __future__ import annotations

import pytest

from . import servers


@pytest.fixture
def no_nats_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(servers, "SBIN", "")
    monkeypatch.delenv("FASTPORT_SKIP_NATS", raising=False)


def test_a_missing_nats_server_fails_with_the_install_command(no_nats_server: None) -> None:
    with pytest.raises(pytest.fail.Exception, match="apt-get install nats-server"):
        servers.require_nats_server()


@pytest.mark.parametrize("value", ["0", ""])
def test_only_an_explicit_opt_out_skips(no_nats_server: None, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("FASTPORT_SKIP_NATS", value)
    with pytest.raises(pytest.fail.Exception):
        servers.require_nats_server()
    monkeypatch.setenv("FASTPORT_SKIP_NATS", "1")
    with pytest.raises(pytest.skip.Exception):
        servers.require_nats_server()


def test_an_installed_nats_server_is_found() -> None:
    assert servers.require_nats_server().endswith("nats-server")
