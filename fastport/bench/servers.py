"""Servers under test, run as child processes on free loopback ports.

``fastport serve`` and the two relays all log ``listening <door>=HOST:PORT`` and then
``ready``; that is how the ports are learnt (as in tests/support.py).
"""

from __future__ import annotations

import collections
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time

ADMIN_TOKEN = "bench-admin-token"
_LISTENING = re.compile(r"listening (grpc|http)=(\S+):(\d+)")


def _raise_limits() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Server:
    """``kind`` is ``fastport`` (with ``store``), ``ws-relay`` or ``grpc-relay``."""

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
        return [sys.executable, "-m", "fastport.bench.relays", self.kind.split("-")[0], "--host", "127.0.0.1"]

    def start(self, timeout: float = 30.0) -> Server:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            self.command(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
            preexec_fn=_raise_limits,
        )
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
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

    def _drain(self) -> None:
        """Keep reading the log so the server never blocks on a full pipe."""
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)

    def address(self, door: str) -> str:
        return f"127.0.0.1:{self.ports['http' if door == 'ws' else 'grpc']}"

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

