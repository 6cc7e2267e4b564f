"""Helpers for tests that run real fastport servers, in-process or as processes.

Shared by the server's and the client package's tests. Every server binds port 0 on
127.0.0.1 (a free port) and is stopped by the test that started it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from fastport_proto.v1 import admin_pb2, admin_pb2_grpc, broker_pb2_grpc
from fastport_proto.v1 import broker_pb2 as pb

from fastport.config import Settings

ADMIN_TOKEN = "test-admin-token"
ADMIN_USER = "admin"
ADMIN_PASS = "secret:with:colons"
ADMIN_METADATA = (("authorization", f"Bearer {ADMIN_TOKEN}"),)


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings of an in-process server: free loopback ports, the memory store, the
    test admin credentials; ``overrides`` as ``Settings`` fields."""
    values: dict[str, object] = dict(
        host="127.0.0.1",
        grpc_port=0,
        http_port=0,
        data_dir=data_dir,
        store="memory",
        admin_token=ADMIN_TOKEN,
        admin_user=ADMIN_USER,
        admin_pass=ADMIN_PASS,
    )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def create_session(
    admin: admin_pb2_grpc.AdminStub, name: str, password: str = "pw", **settings: object
) -> admin_pb2.CreateSessionResponse:
    """Create a session through the gRPC admin API, as the admin."""
    return await admin.CreateSession(
        admin_pb2.CreateSessionRequest(name=name, password=password, **settings), metadata=ADMIN_METADATA
    )


def require_tool(tool: str, why: str) -> str:
    """The path of ``tool``. Node.js, npm and what they install are part of the
    development and CI machines: a missing one fails the test, it never skips it."""
    import pytest

    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: {why}")
    return path


def npm_ci(directory: Path) -> None:
    """``npm ci`` in ``directory`` when its ``node_modules`` is missing or older than its
    lock file (``.ci/run`` normally did it first)."""
    import pytest

    marker = directory / "node_modules" / ".package-lock.json"
    lock = directory / "package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = require_tool("npm", f"{directory} needs its locked npm packages")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        pytest.fail(f"npm ci failed in {directory}:\n{done.stdout}\n{done.stderr}")

def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


_LISTENING = re.compile(r"listening (grpc|http)=(\S+):(\d+)")


@dataclass
class ServerProcess:
    """A ``fastport serve`` child process on free loopback ports."""

    data_dir: Path
    args: Sequence[str] = ()
    admin_token: str | None = ADMIN_TOKEN  # None: the server makes and stores its own
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    ports: dict[str, int] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.ports['grpc']}"

    def start(self, timeout: float = 20.0, ports: dict[str, int] | None = None) -> ServerProcess:
        """Start (or restart; ``ports`` reuses given ports) and wait until every door listens."""
        wanted = ports or {}
        cmd = [
            sys.executable,
            "-m",
            "fastport",
            "serve",
            "--host",
            "127.0.0.1",
            "--grpc-port",
            str(wanted.get("grpc", 0)),
            "--http-port",
            str(wanted.get("http", 0)),
            "--data-dir",
            str(self.data_dir),
            *(["--admin-token", self.admin_token] if self.admin_token else []),
            *self.args,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
        self.ports = {}
        deadline = time.monotonic() + timeout
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("server exited during start-up:\n" + "".join(self.log))
            self.log.append(line)
            m = _LISTENING.search(line)
            if m:
                self.ports[m.group(1)] = int(m.group(3))
            if "ready" in line and self.ports:
                os.set_blocking(self.proc.stderr.fileno(), False)
                return self
        self.kill()
        raise RuntimeError("server did not start in time:\n" + "".join(self.log))

    def read_log(self) -> str:
        """Everything the server has logged so far."""
        if self.proc is not None and self.proc.stderr is not None:
            try:
                while chunk := self.proc.stderr.read():
                    self.log.append(chunk)
            except (BlockingIOError, TypeError, ValueError):
                pass
        return "".join(self.log)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait: the graceful path. Returns the exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.read_log()

    def kill(self) -> None:
        """SIGKILL: a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


REPO = Path(__file__).resolve().parents[1]


def readme_block(heading: str) -> str:
    """The first ```sh block after a README heading."""
    text = (REPO / "README.md").read_text()
    section = text[text.index(f"\n## {heading}\n") :]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, f"no sh block under {heading}"
    return match.group(1)


async def eventually(check: Callable[[], object], timeout: float = 5.0) -> None:
    """Let the event loop run until ``check()`` holds (``timeout`` s at most: a guard
    against hanging, not a timing)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


_ids = iter(range(1, 1 << 30))


class Stream:
    """One Connect stream, collecting everything the server sends."""

    def __init__(self, stub: broker_pb2_grpc.BrokerStub) -> None:
        self.call = stub.Connect()
        self.frames: list[pb.ServerFrame] = []

    async def send(self, **items: object) -> None:
        await self.call.write(pb.ClientFrame(**items))  # type: ignore[arg-type]

    async def init(self, session: str, password: str = "pw", client_id: str = "") -> pb.InitResult:
        await self.send(init=pb.Init(request_id=next(_ids), session=session, password=password, client_id=client_id))
        frame = await self.until(lambda f: f.HasField("init_result"))
        return frame.init_result

    async def subscribe(self, *topics: str) -> list[pb.SubscribeResult]:
        await self.send(subscribe=[pb.Subscribe(request_id=next(_ids), topic=t) for t in topics])
        results: list[pb.SubscribeResult] = []
        while len(results) < len(topics):
            results += (await self.until(lambda f: len(f.subscribe_results) > 0)).subscribe_results
        return results

    async def publish(self, topic: str, payload: bytes = b"x", **kw: object) -> pb.PublishResult:
        request_id = next(_ids)
        await self.send(publish=[pb.Publish(request_id=request_id, topic=topic, payload=payload, **kw)])  # type: ignore[arg-type]
        frame = await self.until(lambda f: any(r.request_id == request_id for r in f.publish_results))
        return next(r for r in frame.publish_results if r.request_id == request_id)

    async def until(self, pred: Callable[[pb.ServerFrame], bool], timeout: float = 5.0) -> pb.ServerFrame:
        for frame in self.frames:
            if pred(frame):
                self.frames.remove(frame)
                return frame
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.call.read()
                assert frame is not grpc.aio.EOF, "stream ended"
                if pred(frame):
                    return frame
                self.frames.append(frame)

    async def messages(self, n: int) -> list[pb.Message]:
        got: list[pb.Message] = []
        while len(got) < n:
            got += (await self.until(lambda f: len(f.messages) > 0)).messages
        return got

    async def acks_received(self, n: int) -> list[pb.AckReceived]:
        got: list[pb.AckReceived] = []
        while len(got) < n:
            got += (await self.until(lambda f: len(f.acks_received) > 0)).acks_received
        return got

    def close(self) -> None:
        self.call.cancel()
