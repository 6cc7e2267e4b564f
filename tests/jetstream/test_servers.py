"""The fixtures' promise: a machine without nats-server fails these tests, saying how to
install it, unless their owner asked to skip them."""

from __future__ import annotations

import socket
from pathlib import Path

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


def test_a_port_taken_before_the_server_binds_it_is_left_for_another(
    nats_binary: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        first = [int(taken.getsockname()[1])]
        free_port = servers.free_port
        monkeypatch.setattr(servers, "free_port", lambda: first.pop() if first else free_port())
        server = servers.start_server(nats_binary, tmp_path)
        try:
            assert server.port != taken.getsockname()[1]
            assert "address already in use" in server.log_tail()
        finally:
            server.stop()
