"""The engine and NATS settings (config.py): parsed, checked and turned into the
engine the server runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from fastport.app import make_engine
from fastport.config import ConfigError, nats_urls
from fastport.engines.embedded import EmbeddedEngine
from fastport.engines.jetstream import JetStreamEngine

from .support import settings


def test_embedded_is_the_default_and_jetstream_is_chosen_by_flag_or_environment() -> None:
    assert isinstance(make_engine(settings("--store", "memory")), EmbeddedEngine)
    s = settings(FASTPORT_ENGINE="jetstream", FASTPORT_NATS_URL="nats://a:4222, tls://b:4223")
    assert (s.engine, s.nats_url, s.nats_replicas) == ("jetstream", ("nats://a:4222", "tls://b:4223"), 1)
    engine = make_engine(settings("--engine", "jetstream", "--nats-replicas", "3", "--nats-creds", "u.creds"))
    assert isinstance(engine, JetStreamEngine)
    assert engine.replicas == 3 and engine.link.options.creds == Path("u.creds")
    assert engine.link.options.servers == ("nats://127.0.0.1:4222",)


def test_nats_urls_are_checked() -> None:
    for bad, says in [
        ("", "names no NATS server"),
        ("http://a:4222", "is not a NATS URL"),
        ("nats://:4222", "is not a NATS URL"),
        ("nats://a:x", "bad port"),
    ]:
        with pytest.raises(ValueError, match=says):
            nats_urls(bad)
    with pytest.raises(ConfigError, match="nats_url from --nats-url: 'nats://a:x' has a bad port"):
        settings("--nats-url", "nats://a:x")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("--nats-replicas", "2"), "must be 1 or 3"),
        (("--workers", "2", "--grpc-port", "1", "--http-port", "2"), "--workers above 1 needs --engine jetstream"),
        (("--workers", "2", "--engine", "jetstream", "--grpc-port", "0"), "--workers above 1 needs fixed ports"),
        (("--workers", "0"), "must be a positive integer"),
    ],
)
def test_bad_engine_settings_stop_start_up(argv: tuple[str, ...], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        settings(*argv)
