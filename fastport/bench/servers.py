"""Servers under test, run as child processes on free loopback ports.

``fastport serve`` and the two relays all log ``listening <door>=HOST:PORT`` and then
``ready``; that is how the ports are learnt (as in tests/support.py). Mosquitto (the
C baseline) gets a free port and a config file written here; its log reaches a pipe
only when it exits (stdio buffering), so it counts as ready once its port accepts a
connection.
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
MOSQUITTO = "mosquitto"  # looked up on PATH, then in /usr/sbin (Debian puts it there)
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


def _mosquitto() -> str:
    found = shutil.which(MOSQUITTO) or shutil.which(MOSQUITTO, path="/usr/sbin")
    if found is None:
        raise RuntimeError("mosquitto is not installed (Debian: apt-get install mosquitto)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``kind`` is ``fastport`` (with ``store``), ``ws-relay``, ``grpc-relay`` or ``mosquitto``."""

    def __init__(self, kind: str, store: str = "memory") -> None:
        self.kind = kind
        self.store = store
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

    def command(self) -> list[str]:
        if self.kind == "fastport":
            self._tmp = tempfile.TemporaryDirectory(prefix="fastport-bench-")
            return [
                sys.executable, "-m", "fastport", "serve", "--host", "127.0.0.1", "--grpc-port", "0",
                "--http-port", "0", "--store", self.store, "--data-dir", self._tmp.name,
                "--admin-token", ADMIN_TOKEN, "--api-rate-limit", "1000000",
            ]
        if self.kind == "mosquitto":
            binary = _mosquitto()
            self._tmp = tempfile.TemporaryDirectory(prefix="fastport-bench-")
            self.ports["mqtt"] = _free_port()
            conf = os.path.join(self._tmp.name, "mosquitto.conf")
            with open(conf, "w") as f:
                f.write(MOSQUITTO_CONF.format(port=self.ports["mqtt"]))
            return [binary, "-c", conf]
        return [sys.executable, "-m", "fastport.bench.relays", self.kind.split("-")[0], "--host", "127.0.0.1"]

    def start(self, timeout: float = 30.0) -> Server:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            self.command(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
            preexec_fn=_raise_limits,
        )
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        if self.kind == "mosquitto":
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
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                time.sleep(0.1)  # let _drain read what it logged on exit
                raise RuntimeError(f"{self.name} exited during start-up:\n" + "".join(self.log))
            try:
                socket.create_connection(("127.0.0.1", self.ports["mqtt"]), timeout=1).close()
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

