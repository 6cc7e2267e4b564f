"""Real nats-server processes for the jetstream engine's tests: one server, or a cluster.

Each server listens on free loopback ports (client, monitoring, cluster), stores
JetStream data in its own directory and logs to a file there. Readiness is asked of the
server itself over its monitoring port: ``/healthz`` for JetStream being up and, in a
cluster, ``/routez`` and ``/jsz`` until it is routed to every peer and a JetStream
meta leader is elected — before that every JetStream API call fails with "JetStream
system temporarily unavailable".

A node can be killed with SIGKILL (a crash: nothing flushed, no goodbye to its peers)
and started again on the same ports and store, as a machine coming back would.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

INSTALL_HINT = "install it with `apt-get install nats-server` (or set FASTPORT_SKIP_NATS=1 to skip these tests)"
START_TIMEOUT_S = 20.0
SBIN = "/usr/sbin:/usr/local/sbin"


def require_nats_server() -> str:
    """The nats-server to run: on PATH, or where Debian puts it (not on every PATH).

    Without one the calling test fails, saying how to install it: a machine that cannot
    run these tests must not pass them by skipping. FASTPORT_SKIP_NATS=1 skips instead,
    for a laptop whose owner asked for it.
    """
    binary = shutil.which("nats-server") or shutil.which("nats-server", path=SBIN)
    if binary is None:
        if os.environ.get("FASTPORT_SKIP_NATS", "") not in ("", "0"):
            pytest.skip("nats-server not found and FASTPORT_SKIP_NATS is set")
        pytest.fail(f"nats-server not found: {INSTALL_HINT}", pytrace=False)
    return binary


def free_port() -> int:
    """A port nothing listens on now. nats-server's own ``-1`` (random port) is not used
    because a restarted node must come back on the ports its peers know."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get_json(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            body: dict[str, object] = json.load(resp)
            return body
    except (OSError, ValueError, urllib.error.URLError):
        return None


@dataclass
class NatsServer:
    """One nats-server with JetStream on; ``routes`` and ``cluster_port`` make it a cluster node."""

    binary: str
    name: str
    store_dir: Path
    port: int = field(default_factory=lambda: free_port())  # looked up when called: tests replace it
    monitor_port: int = field(default_factory=lambda: free_port())
    cluster_port: int | None = None
    routes: list[int] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # more command-line options (TLS...)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.store_dir / "server.log"

    def command(self) -> list[str]:
        cmd = [
            self.binary,
            "--jetstream",
            "--store_dir", str(self.store_dir),
            "--server_name", self.name,
            "--addr", "127.0.0.1",
            "--port", str(self.port),
            "--http_port", str(self.monitor_port),
        ]
        if self.cluster_port is not None:
            routes = ",".join(f"nats://127.0.0.1:{p}" for p in self.routes)
            cmd += [
                "--cluster_name", "fastport-test",
                "--cluster", f"nats://127.0.0.1:{self.cluster_port}",
                "--routes", routes,
            ]
        return cmd + self.extra

    def start(self) -> None:
        """Start the process (not waiting: a cluster node is ready only with its peers)."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)

    def monitor(self, path: str) -> dict[str, object] | None:
        return _get_json(f"http://127.0.0.1:{self.monitor_port}{path}")

    def ready(self) -> bool:
        """JetStream up and, in a cluster, routes to every peer and a meta leader known.

        Only the server itself is asked about (``js-server-only``), not every stream
        and consumer it holds a replica of: on 2.9 a restarted node can report an idle
        consumer "not current" for longer than any test waits, while the cluster
        serves it from the other replicas.
        """
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"nats-server {self.name} exited:\n{self.log_tail()}")
        health = self.monitor("/healthz?js-server-only=true")
        if not health or health.get("status") != "ok":
            return False
        if self.cluster_port is None:
            return True
        routez, jsz = self.monitor("/routez"), self.monitor("/jsz")
        meta = jsz.get("meta_cluster") if jsz else None
        routed = routez is not None and routez.get("num_routes") == len(self.routes) - 1
        return routed and isinstance(meta, dict) and bool(meta.get("leader"))

    def kill(self) -> None:
        """SIGKILL: a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def tls_options(cert: Path, key: Path) -> list[str]:
    """``NatsServer.extra`` for a server that speaks TLS only, with this certificate."""
    return ["--tls", "--tlscert", str(cert), "--tlskey", str(key)]


def wait_ready(servers: list[NatsServer], timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not all(s.ready() for s in servers):
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {s.name}\n{s.log_tail()}" for s in servers)
            raise RuntimeError(f"nats-server not ready in {timeout} s:\n{tails}")
        time.sleep(0.05)


def start_server(binary: str, store_dir: Path, tries: int = 3, extra: list[str] | None = None) -> NatsServer:
    """One server, ready (``extra``: more options, as ``NatsServer.extra``). Another
    process on this busy machine can take a port between ``free_port()`` and the
    server's bind: then the server exits saying so, and is started again on other ports."""
    while True:
        tries -= 1
        server = NatsServer(binary, "solo", store_dir, extra=list(extra or ()))
        server.start()
        try:
            wait_ready([server])
            return server
        except BaseException:
            server.stop()
            if tries == 0 or "address already in use" not in server.log_tail():
                raise


@dataclass
class NatsCluster:
    """Three JetStream nodes routed to each other, each with its own store."""

    nodes: list[NatsServer]

    @classmethod
    def start(cls, binary: str, base_dir: Path, size: int = 3) -> NatsCluster:
        cluster_ports = [free_port() for _ in range(size)]
        nodes = [
            NatsServer(binary, f"n{i}", base_dir / f"n{i}", cluster_port=port, routes=cluster_ports)
            for i, port in enumerate(cluster_ports)
        ]
        cluster = cls(nodes)
        for node in nodes:
            node.start()
        try:
            wait_ready(nodes)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def kill(self, index: int) -> NatsServer:
        """SIGKILL one node; the other two keep a Raft majority."""
        node = self.nodes[index]
        node.kill()
        return node

    def restart(self, index: int) -> None:
        """Start a killed node again on its ports and store, and wait until it has rejoined."""
        node = self.nodes[index]
        node.start()
        wait_ready([node])

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
