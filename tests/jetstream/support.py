"""Helpers of the jetstream engine's tests: clients of the NATS servers that
``servers.py`` starts, session records, and asking until JetStream answers."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError

from fastport.config import Settings, add_arguments, load_settings
from fastport.core.session import Limits, SessionRecord
from fastport.engines.jetstream.link import NatsOptions

from ..support import eventually as shared_eventually

WAIT_S = 10.0  # how long a test waits for an event: a guard against hanging, not a timing expectation
# JetStream API calls wait this long for an answer: a cluster on a machine busy with
# other test runs can take seconds to elect a leader, and a test must not fail for it.
API_TIMEOUT_S = 20.0


async def connect(*urls: str) -> Client:
    """A client that keeps reconnecting (a killed node must not end the test's client)."""
    return await nats.connect(list(urls), max_reconnect_attempts=-1, reconnect_time_wait=0.1)


def jetstream(nc: Client, timeout: float = API_TIMEOUT_S) -> JetStreamContext:
    return nc.jetstream(timeout=timeout)


def link_options(*urls: str, **changes: Any) -> NatsOptions:
    return dataclasses.replace(NatsOptions(servers=urls, connect_timeout_s=2.0, publish_budget_s=1.0), **changes)


def settings(*argv: str, **environ: str) -> Settings:
    """The server's settings from these flags and this environment (and nothing else)."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return load_settings(parser.parse_args(argv), environ=environ)


def record(name: str, **changes: Any) -> SessionRecord:
    """A session's record with settings of its own in every field (``changes`` wins)."""
    base = SessionRecord(
        name=name,
        password_hash="scrypt$salt$hash",
        secret_hash="sha256$hash",
        retry_interval_ms=250,
        max_retry_limit=3,
        message_expiry_ms=60_000,
        expires_at_ms=0,
        limits=Limits(max_payload_bytes=1024, max_connections=5, max_subscriptions=7, max_pending_messages=9),
        suspended=False,
        created_at_ms=1_700_000_000_000,
    )
    return dataclasses.replace(base, **changes)


T = TypeVar("T")


async def until_answered(request: Callable[[], Awaitable[T]]) -> T:
    """Ask until JetStream answers: what the engine does while a NATS node fails. A
    request sent while the client reconnects can be lost, and one sent during an
    election finds no leader, so each try should wait briefly (a JetStream context with
    a short timeout). A publish retried this way carries the same message id, so a
    stored one comes back a duplicate, not a copy."""
    deadline = time.monotonic() + 20
    while True:
        try:
            return await request()
        except (NatsTimeoutError, NoRespondersError, NoStreamResponseError, ServiceUnavailableError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def eventually(check: Callable[[], object]) -> None:
    """tests/support.py's ``eventually`` with this package's bound, WAIT_S."""
    await shared_eventually(check, WAIT_S)
