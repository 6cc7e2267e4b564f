"""Shared helpers for the client's tests (a plain module: the tests folder is not a
package, so its names cannot collide with the server's ``tests`` package)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
NODE_DIR = REPO / "clients" / "node"
NODE = shutil.which("node")


@dataclass(frozen=True)
class Urls:
    """Where the server under test listens, as client URLs of each door."""

    grpc: str
    ws: str

    def of(self, kind: str) -> str:
        return self.grpc if kind == "grpc" else self.ws


def node(script: Path, *args: str, timeout: float = 30) -> str:
    """Run a Node.js script and return its stdout (raises CalledProcessError on failure)."""
    if NODE is None:
        pytest.fail("node is not installed; the interop tests need Node.js 20 or newer")
    done = subprocess.run(
        [NODE, "--experimental-websocket", str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return done.stdout


async def settle(turns: int = 50) -> None:
    """Let every task that can run, run (the fakes below never wait on real I/O)."""
    for _ in range(turns):
        await asyncio.sleep(0)


class FakeClock:
    """Client time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []  # every delay asked for, in order
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self.now + seconds, fut)
        self._sleepers.append(entry)
        try:
            await fut
        finally:
            self._sleepers.remove(entry)

    async def advance(self, seconds: float) -> None:
        await settle()
        self.now += seconds
        for deadline, fut in list(self._sleepers):
            if deadline <= self.now and not fut.done():
                fut.set_result(None)
        await settle()


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait, boundedly, for something real (a network round trip, a process start) to
    happen; never used to wait out a retry interval."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)
