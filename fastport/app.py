"""One fastport server: the broker core, its store, and both doors around it.

Used by ``fastport serve`` and, in-process, by the tests, so both run the same wiring.
"""

from __future__ import annotations

import logging
from pathlib import Path

import grpc

from .auth import AdminAuth, load_or_create_token
from .config import Settings
from .core import Broker, BrokerConfig, Clock
from .rpc import GrpcDoor
from .store.base import Store

log = logging.getLogger("fastport")

SHUTDOWN_GRACE_S = 5.0


def make_store(settings: Settings) -> Store:
    if settings.store == "memory":
        from .store.memory import MemoryStore

        return MemoryStore()
    raise ValueError(f"store {settings.store!r} is not available")


class App:
    def __init__(self, settings: Settings, *, clock: Clock | None = None, store: Store | None = None) -> None:
        self.settings = settings
        self._clock = clock
        self._store = store
        self.broker: Broker | None = None
        self.grpc: GrpcDoor | None = None
        self.grpc_port = 0
        self.admin_token = ""

    async def start(self) -> None:
        s = self.settings
        self.admin_token = s.admin_token or load_or_create_token(Path(s.data_dir))
        auth = AdminAuth(self.admin_token, s.admin_user, s.admin_pass)
        self.broker = Broker(
            self._store or make_store(s),
            self._clock,
            BrokerConfig(max_payload_bytes=s.max_payload),
        )
        await self.broker.start()
        credentials = None
        if s.tls_cert is not None and s.tls_key is not None:
            credentials = grpc.ssl_server_credentials([(s.tls_key.read_bytes(), s.tls_cert.read_bytes())])
        self.grpc = GrpcDoor(self.broker, auth, max_payload_bytes=s.max_payload, credentials=credentials)
        self.grpc_port = await self.grpc.start(s.host, s.grpc_port)
        log.info("listening grpc=%s:%d", s.host, self.grpc_port)
        log.info("ready (store=%s)", s.store)

    async def stop(self) -> None:
        """Graceful: refuse new work, tell connected clients, flush the store."""
        if self.broker is not None:
            await self.broker.stop()
        if self.grpc is not None:
            await self.grpc.stop(SHUTDOWN_GRACE_S)
        log.info("stopped")
