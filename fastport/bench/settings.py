"""What one benchmark run is asked to do (kept free of heavy imports, so that
building the ``fastport`` command's parser stays cheap)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_ADDRESS = {"ws": "127.0.0.1:3000", "grpc": "127.0.0.1:50051", "mqtt": "127.0.0.1:1883"}
# Without ACKs nothing settles: re-sends would only add load the run did not ask for.
NO_ACK_RETRY_INTERVAL_MS = 3_600_000
# ... and every message is sent at once rather than kept back by the subscriber's window
# (max_in_flight): such a run measures what unacknowledged deliveries cost.
NO_ACK_MAX_IN_FLIGHT = 2**32 - 1


class BenchError(Exception):
    pass


@dataclass
class BenchConfig:
    door: str = "ws"  # ws, grpc, or mqtt (an MQTT broker such as Mosquitto, QoS 1: the baseline)
    server: str = ""  # host:port of the door (HTTP port for ws); default per door
    path: str = "/"  # WebSocket path
    pubs: int = 1
    subs: int = 1
    topics: int = 1
    size: int = 256  # plaintext bytes per message (before encryption)
    duration: float = 5.0  # measured seconds
    warmup: float = 1.0
    window: int = 100  # unanswered publishes per publisher
    rate: float = 0.0  # total publishes/s over all publishers; 0 = as fast as the window allows
    messages: int = 0  # total publishes, then stop (instead of the duration)
    ack: bool = True
    batch: int = 1000  # most items per gRPC client frame (1 = one message per frame)
    procs: int = 0  # generator processes; 0 = automatic
    idle: int = 0  # idle initialized connections (streams for gRPC) instead of pub/sub
    # Subscribers of topic 0 that subscribe and then never read, as "DOOR=HOST:PORT"
    # (the slow-subscriber scenario): what they cost the server and the others.
    stalled: list[str] = field(default_factory=list)
    admin_token: str | None = None
    admin_user: str | None = None
    admin_pass: str | None = None
    session: str | None = None  # use this existing session instead of creating one
    password: str | None = None
    retry_interval: int = 0  # ms; 0 = 5000 with ACKs, an hour without
    # The server's processes by role (``--server-pid ROLE=PID``), e.g. a cluster's
    # {"node-a": ..., "node-b": ..., "nats": ...}: CPU and RSS are reported per role and
    # in total. Empty: the one process listening on the door's port, when local.
    server_pids: dict[str, int] = field(default_factory=dict)
    # Subscriber i connects to sub_servers[i mod N] instead of ``server`` (where the
    # publishers, and the session's creation, go): a cluster's nodes, so that messages
    # cross from one node to another.
    sub_servers: list[str] = field(default_factory=list)
    drain_timeout: float = 10.0
    max_time: float = 300.0  # bound on a --messages run
    progress: bool = True
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # carried into the report

    @property
    def address(self) -> tuple[str, int]:
        return host_port(self.server or DEFAULT_ADDRESS[self.door], "--server")

    @property
    def sub_addresses(self) -> list[tuple[str, int]]:
        """Where subscriber i connects: the i-th mod N of these."""
        return [host_port(text, "--sub-server") for text in self.sub_servers] or [self.address]


def host_port(text: str, option: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not port.isdigit():
        raise BenchError(f"{option} must be HOST:PORT, not {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)
