"""One fastport server: the broker core, its store, and both doors around it.

Used by ``fastport serve`` and, in-process, by the tests, so both run the same wiring.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import grpc

from .auth import AdminAuth, load_or_create_token
from .config import Settings
from .core import Broker, BrokerConfig, Clock
from .rpc import GrpcDoor
from .store.base import Store
from .web import WebDoor

log = logging.getLogger("fastport")

SHUTDOWN_GRACE_S = 5.0


def make_store(settings: Settings) -> Store:
    if settings.store == "memory":
        from .store.memory import MemoryStore

        return MemoryStore()
    if settings.store == "sqlite":
        from .store.sqlite import SqliteStore

        return SqliteStore(settings.sqlite_path or Path(settings.data_dir) / "fastport.db", fsync=settings.fsync)
    raise ValueError(f"store {settings.store!r} is not available")


class App:
    def __init__(self, settings: Settings, *, clock: Clock | None = None, store: Store | None = None) -> None:
        self.settings = settings
        self._clock = clock
        self._store = store
        self.broker: Broker | None = None
        self.grpc: GrpcDoor | None = None
        self.grpc_port = 0
        self.web: WebDoor | None = None
        self.http_port = 0
        self.admin_token = ""

    async def start(self) -> None:
        s = self.settings
        self.admin_token = s.admin_token or load_or_create_token(Path(s.data_dir))
        self.broker = Broker(
            self._store or make_store(s),
            self._clock,
            BrokerConfig(max_payload_bytes=s.max_payload, dedup_window_ms=s.dedup_window_ms),
        )
        auth = AdminAuth(self.admin_token, s.admin_user, s.admin_pass, throttle=self.broker.logins)
        await self.broker.start()
        credentials = None
        if s.tls_cert is not None and s.tls_key is not None:
            credentials = grpc.ssl_server_credentials([(s.tls_key.read_bytes(), s.tls_cert.read_bytes())])
        self.grpc = GrpcDoor(self.broker, auth, max_payload_bytes=s.max_payload, credentials=credentials)
        self.grpc_port = await self.grpc.start(s.host, s.grpc_port)
        log.info("listening grpc=%s:%d", s.host, self.grpc_port)
        ssl_context = None
        if s.tls_cert is not None and s.tls_key is not None:
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(s.tls_cert, s.tls_key)
        self.web = WebDoor(
            self.broker,
            auth,
            max_payload_bytes=s.max_payload,
            api_rate_limit=s.api_rate_limit,
            cors_origins=s.cors_origins,
            open_admin=s.open_admin,
            ssl_context=ssl_context,
            store=s.store,
        )
        self.http_port = await self.web.start(s.host, s.http_port)
        log.info("listening http=%s:%d", s.host, self.http_port)
        if s.tls_cert is not None:
            log.info("TLS on (both ports): certificate %s", s.tls_cert)
        log.info("ready (store=%s)", s.store)

    async def stop(self) -> None:
        """Graceful: refuse new work, tell connected clients, flush the store."""
        if self.web is not None:
            self.web.stopping()
        if self.broker is not None:
            await self.broker.stop()
        if self.grpc is not None:
            await self.grpc.stop(SHUTDOWN_GRACE_S)
        if self.web is not None:
            await self.web.stop(SHUTDOWN_GRACE_S)
        log.info("stopped")
