"""`fastport bench` against a real server process for about a second per door.

Checks the JSON report's structure and that nothing was lost or duplicated. It never
checks speed: benchmarks are not timed tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("orjson")
pytest.importorskip("cryptography")

from fastport.bench.servers import ADMIN_TOKEN, Server  # noqa: E402

from .support import cpu_figure  # noqa: E402


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server("fastport", "memory").start()
    try:
        yield s
    finally:
        s.stop()


def _bench(*args: str, env: dict[str, str] | None = None) -> dict:
    """A run; given ``env``, the server and the admin token come from it, not from flags."""
    flags = ["--admin-token", ADMIN_TOKEN] if env is None else []
    done = subprocess.run(
        [sys.executable, "-m", "fastport", "bench", "--json", "--quiet", *flags, *args],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("door", ["grpc", "ws"])
def test_bench_reports_a_clean_run(server: Server, door: str) -> None:
    if door == "ws" and "http" not in server.ports:
        pytest.skip("this server has no HTTP door")
    report = _bench(
        "--door", door, "--server", server.address(door), "--duration", "1", "--warmup", "0.2", "--subs", "2"
    )
    assert report["tool"] == "fastport bench"
    assert report["config"]["door"] == door
    r = report["results"]
    for key in ("acked_per_s", "deliveries_per_s", "latency_us", "lost", "duplicates", "expected_deliveries"):
        assert key in r
    assert r["acked"] > 0 and r["publish_errors"] == 0
    assert r["expected_deliveries"] == 2 * r["acked"]
    assert r["lost"] == 0 and r["duplicates"] == 0
    assert r["errors"] == []
    assert set(r["latency_us"]) == {"count", "p50", "p90", "p99", "max"}
    gen = report["generator"]
    assert {p["role"] for p in gen["processes"]} == {"pub", "sub"}
    assert isinstance(gen["saturated"], bool)
    s = report["server"]  # local: found from the port
    assert s["processes"] == {"server": {"pid": server.pid, **{k: v for k, v in s.items() if k != "processes"}}}
    assert cpu_figure(s["cpu_us_per_acked"]) and s["rss_end"] > 0


def test_bench_counts_pending_messages_without_acks(server: Server) -> None:
    report = _bench("--door", "grpc", "--server", server.address("grpc"), "--messages", "2000", "--no-ack")
    r = report["results"]
    assert r["acked"] == 2000 and r["lost"] == 0
    assert "rss_per_pending_message" in report["server"]


def test_bench_idle_connections(server: Server) -> None:
    report = _bench("--door", "grpc", "--server", server.address("grpc"), "--idle", "20")
    assert report["idle"]["connections"] == 20 and report["idle"]["closed"] == 0
    assert "rss_per_connection" in report["server"]


def test_bench_takes_the_server_and_token_file_as_other_commands_do(server: Server, tmp_path: Path) -> None:
    (tmp_path / "admin-token").write_text(ADMIN_TOKEN + "\n")
    env = {"FASTPORT_SERVER": f"grpc://{server.address('grpc')}", "FASTPORT_DATA_DIR": str(tmp_path)}
    # An empty FASTPORT_ADMIN_TOKEN (in case the caller's environment has one) is no token.
    report = _bench("--door", "grpc", "--messages", "200", env={**env, "FASTPORT_ADMIN_TOKEN": ""})
    assert report["results"]["acked"] == 200 and report["results"]["lost"] == 0
