"""One fastport server: the broker core, its engine and store, and both doors around it.

Used by ``fastport serve`` and, in-process, by the tests, so both run the same wiring.
The only module that names concrete engines and stores.
"""

from __future__ import annotations

import logging
import socket
import ssl
from dataclasses import replace
from pathlib import Path

from . import logs
from .auth import AdminAuth, load_or_create_token
from .config import Settings
from .core import Broker, BrokerConfig, Clock, Engine
from .engines.embedded import EmbeddedEngine
from .rpc import GrpcDoor
from .store.base import Store
from .tls import ServerCertificate
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


def make_engine(settings: Settings, clock: Clock | None = None, store: Store | None = None) -> Engine:
    """The engine the settings ask for; ``store`` in place of the configured one."""
    if settings.engine == "jetstream":
        from .engines.jetstream import JetStreamEngine, NatsOptions

        return JetStreamEngine(
            NatsOptions(settings.nats_url, creds=settings.nats_creds, tls_ca=settings.nats_tls_ca),
            replicas=settings.nats_replicas,
            clock=clock,
            dedup_window_ms=settings.dedup_window_ms,
            slow_consumer_timeout_ms=settings.slow_consumer_timeout * 1000,
        )
    return EmbeddedEngine(
        store or make_store(settings),
        clock,
        dedup_window_ms=settings.dedup_window_ms,
        slow_consumer_timeout_ms=settings.slow_consumer_timeout * 1000,
    )


class BindError(OSError):
    """A port that cannot be had; the message names the setting that moves it."""


def _bind_tcp(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=1024, reuse_port=reuse_port)


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
        self.certificate: ServerCertificate | None = None

    async def start(self) -> None:
        """Both ports are taken first, so that a port in use stops start-up before the
        data directory, the admin token or the database are created or migrated."""
        s = self.settings
        if s.tls_cert is not None and s.tls_key is not None:
            self.certificate = ServerCertificate(s.tls_cert, s.tls_key)
        credentials = self.certificate.grpc_credentials() if self.certificate else None
        # Workers (--workers) share both ports: the kernel spreads new connections.
        shared = s.workers > 1
        grpc_door = GrpcDoor(max_payload_bytes=s.max_payload, credentials=credentials, reuse_port=shared)
        try:
            self.grpc_port = grpc_door.bind(s.host, s.grpc_port)
        except OSError as exc:
            raise BindError(f"gRPC port {s.grpc_port} on {s.host}: {exc}; choose another with --grpc-port or FASTPORT_GRPC_PORT") from None
        try:
            http_socket = _bind_tcp(s.host, s.http_port, reuse_port=shared)
        except OSError as exc:
            await grpc_door.stop(0)
            raise BindError(
                f"HTTP port {s.http_port} on {s.host}: {exc.strerror or exc}; choose another with --http-port,"
                " FASTPORT_HTTP_PORT or PORT"
            ) from None
        self.admin_token = s.admin_token or load_or_create_token(Path(s.data_dir))
        self.broker = Broker(
            make_engine(s, self._clock, self._store), self._clock, BrokerConfig(max_payload_bytes=s.max_payload)
        )
        auth = AdminAuth(self.admin_token, s.admin_user, s.admin_pass, throttle=self.broker.logins)
        self.grpc = grpc_door
        try:
            await self.broker.start()
        except BaseException:
            http_socket.close()
            raise
        await grpc_door.start(self.broker, auth)
        log.info("listening grpc=%s:%d", s.host, self.grpc_port)
        self.web = WebDoor(
            self.broker,
            auth,
            max_payload_bytes=s.max_payload,
            api_rate_limit=s.api_rate_limit,
            cors_origins=s.cors_origins,
            open_admin=s.open_admin,
            ssl_context=self.certificate.context if self.certificate else None,
            store=s.store,
            engine=s.engine,
            metrics_sessions=s.metrics_sessions,
        )
        self.http_port = await self.web.start(http_socket)
        log.info("listening http=%s:%d", s.host, self.http_port)
        if self.certificate is not None:
            log.info("TLS on (both ports): certificate %s", self.certificate.cert)
        log.info("ready (%s)", f"store={s.store}" if s.engine == "embedded" else f"engine={s.engine}")

    def reload(self, settings: Settings) -> None:
        """SIGHUP: take the TLS certificate and the log level anew, and say what changed.
        Other settings need a restart; a reload that fails keeps what was running."""
        reloaded = []
        if settings.log_level != self.settings.log_level:
            logs.set_level(settings.log_level)
            reloaded.append(f"log level {settings.log_level}")
        if self.certificate is not None:
            try:
                self.certificate.reload()
            except (OSError, ssl.SSLError) as exc:
                log.error("reload: TLS certificate %s kept, the files cannot be used: %s", self.certificate.cert, exc)
            else:
                reloaded.append(f"TLS certificate {self.certificate.cert}")
        self.settings = replace(self.settings, log_level=settings.log_level)
        log.info("reloaded: %s", ", ".join(reloaded) or "nothing changed")

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
