"""Fixtures for the client's integration tests.

The servers are the real thing: the server package's own in-process fixture (both
doors on free 127.0.0.1 ports, memory store, a manual broker clock) and its
``fastport serve`` subprocess helper. They are imported from the repository's
``tests`` package so both test suites start servers the same way.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import pytest
from fpc_support import REPO, Urls

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from fastport.app import App
from tests.support import ADMIN_TOKEN

from fastport_client import SessionCredentials, create_session, generate_key
from tests.conftest import app, clock, server_process  # noqa: F401  (fixtures)


@pytest.fixture
def urls(app: App) -> Urls:  # noqa: F811  (the fixture, by name)
    return Urls(f"grpc://127.0.0.1:{app.grpc_port}", f"ws://127.0.0.1:{app.http_port}")


@pytest.fixture(params=["grpc", "ws"])
def door(request: pytest.FixtureRequest) -> str:
    """Which front door a test runs against; tests taking it run once per door."""
    return str(request.param)


@pytest.fixture
async def session(urls: Urls, door: str) -> AsyncIterator[SessionCredentials]:
    """A fresh session, created through the admin API of the door under test."""
    yield await create_session(urls.of(door), "s1", "pw-1", admin_token=ADMIN_TOKEN)


@pytest.fixture
def key() -> str:
    return generate_key()
