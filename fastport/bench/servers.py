"""Servers under test, run as child processes on free loopback ports.

``fastport serve`` and the two relays all log ``listening <door>=HOST:PORT`` and then
``ready``; that is how the ports are learnt (as in tests/support.py). Mosquitto (the
C baseline) gets a free port and a config file written here; its log reaches a pipe
only when it exits (stdio buffering), so it counts as ready once its port accepts a
connection. nats-server (JetStream on, a temporary store) likewise.

``Cluster`` is the jetstream engine on this machine: one nats-server and two
``fastport serve --engine jetstream`` nodes. Every server says which processes it is
(``pids``, by role: the bench reports CPU per role) and where subscribers connect
(``sub_addresses``: on a cluster, the nodes in turn, starting with the one the
publishers are not on).
"""

from __future__ import annotations

import collections
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ADMIN_TOKEN = "bench-admin-token"
_LISTENING = re.compile(r"listening (grpc|http)=(\S+):(\d+)")
# Binaries of the baselines and services, looked up on PATH, then in /usr/sbin (Debian
# puts these two there), and their Debian packages.
MOSQUITTO = "mosquitto"
NATS_SERVER = "nats-server"
# QoS 1 throughout; the limits sit above the bench's windows (100 publishes in flight
# per publisher) so that Mosquitto never holds a delivery back or drops one: its
# default is 20 in flight and 1,000 queued per client.
MOSQUITTO_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
log_type error
log_type warning
log_type notice
set_tcp_nodelay true
max_inflight_messages 1000
max_queued_messages 1000000
"""


def _raise_limits() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _binary(name: str, package: str) -> str:
    """A server binary; missing, the error says how to install it (the matrix lists it
    under "Not measured")."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin")
    if found is None:
        raise RuntimeError(f"{name} is not installed (Debian: apt-get install {package})")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``kind`` is ``fastport`` (with ``store``, or ``engine_args`` for a jetstream
    node), ``ws-relay``, ``grpc-relay``, ``picows-relay``, ``mosquitto`` or ``nats-server``."""

    def __init__(self, kind: str, store: str = "memory", engine_args: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.store = store
        self.engine_args = engine_args
        self.proc: subprocess.Popen[str] | None = None
        self.ports: dict[str, int] = {}
        self.log: collections.deque[str] = collections.deque(maxlen=200)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def name(self) -> str:
        return f"fastport-{self.store}" if self.kind == "fastport" else self.kind

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def pids(self) -> dict[str, int]:
        return {"server": self.pid}

    def sub_addresses(self, door: str) -> list[str]:
        """Subscribers connect where publishers do."""
        return []

    def command(self) -> list[str]:
        if self.kind == "fastport":
            self._tmp = tempfile.TemporaryDirectory(prefix="fastport-bench-")
            return [
                sys.executable, "-m", "fastport", "serve", "--host", "127.0.0.1", "--grpc-port", "0",
                "--http-port", "0", "--store", self.store, "--data-dir", self._tmp.name,
                "--admin-token", ADMIN_TOKEN, "--api-rate-limit", "1000000", *self.engine_args,
            ]
        if self.kind == "mosquitto":
            binary = _binary(MOSQUITTO, "mosquitto")
            self._tmp = tempfile.TemporaryDirectory(prefix="fastport-bench-")
            self.ports["mqtt"] = _free_port()
            conf = os.path.join(self._tmp.name, "mosquitto.conf")
            with open(conf, "w") as f:
                f.write(MOSQUITTO_CONF.format(port=self.ports["mqtt"]))
            return [binary, "-c", conf]
        if self.kind == "nats-server":
            binary = _binary(NATS_SERVER, "nats-server")
            self._tmp = tempfile.TemporaryDirectory(prefix="fastport-bench-")
            self.ports["nats"] = _free_port()
            return [binary, "--jetstream", "--store_dir", self._tmp.name, "--addr", "127.0.0.1", "--port", str(self.ports["nats"])]
        return [sys.executable, "-m", "fastport.bench.relays", self.kind.split("-")[0], "--host", "127.0.0.1"]

    def start(self, timeout: float = 30.0) -> Server:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            self.command(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
            preexec_fn=_raise_limits,
        )
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        if self.kind in ("mosquitto", "nats-server"):
            threading.Thread(target=self._drain, daemon=True).start()
            return self._await_port(deadline, timeout)
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                self.proc.wait(5)
                raise RuntimeError(f"{self.name} exited during start-up:\n" + "".join(self.log))
            self.log.append(line)
            m = _LISTENING.search(line)
            if m:
                self.ports[m.group(1)] = int(m.group(3))
            if "ready" in line and self.ports:
                threading.Thread(target=self._drain, daemon=True).start()
                return self
        self.kill()
        raise RuntimeError(f"{self.name} did not start in {timeout} s:\n" + "".join(self.log))

    def _await_port(self, deadline: float, timeout: float) -> Server:
        """Ready once its one port accepts a connection (nats-server: with JetStream
        already on, as a single server enables it before it listens)."""
        assert self.proc is not None
        (port,) = self.ports.values()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                time.sleep(0.1)  # let _drain read what it logged on exit
                raise RuntimeError(f"{self.name} exited during start-up:\n" + "".join(self.log))
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"{self.name} did not start in {timeout} s:\n" + "".join(self.log))

    def _drain(self) -> None:
        """Keep reading the log so the server never blocks on a full pipe."""
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)

    def address(self, door: str) -> str:
        return f"127.0.0.1:{self.ports[{'ws': 'http'}.get(door, door)]}"

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)



class Cluster:
    """The jetstream engine on this machine: a nats-server and two fastport nodes on
    it, each on its own free ports. Publishers connect to node A; subscribers to node B
    and node A in turn, so that in (a) every message crosses from one node to the
    other, and in (b) the ten subscribers are split between the two."""

    name = "jetstream"

    def __init__(self) -> None:
        self.nats = Server("nats-server")
        self.nodes: list[Server] = []

    def start(self, timeout: float = 30.0) -> Cluster:
        try:
            self.nats.start(timeout)
            engine = ("--engine", "jetstream", "--nats-url", f"nats://127.0.0.1:{self.nats.ports['nats']}")
            for _ in range(2):
                self.nodes.append(Server("fastport", engine_args=engine).start(timeout))
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def pids(self) -> dict[str, int]:
        a, b = self.nodes
        return {"node-a": a.pid, "node-b": b.pid, "nats": self.nats.pid}

    def address(self, door: str) -> str:
        return self.nodes[0].address(door)

    def sub_addresses(self, door: str) -> list[str]:
        a, b = self.nodes
        return [b.address(door), a.address(door)]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self.nodes.clear()
        self.nats.stop()


Target = Server | Cluster  # what the matrix measures
