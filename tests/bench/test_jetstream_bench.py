"""The jetstream engine in `make bench`: a real nats-server and two real
``fastport serve --engine jetstream`` nodes started by the bench's own ``Cluster``,
loaded by `fastport bench` for about a second with the publisher on node A and
subscribers on node B and node A. Checks the report's structure (each process's CPU
by role, and their total) and that nothing was lost or duplicated, never speed. A
machine without nats-server fails here, saying how to install it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from fastport.bench import servers
from fastport.bench.cli import server_pids
from fastport.bench.servers import ADMIN_TOKEN, Cluster, Server
from fastport.bench.settings import BenchError

from .support import cpu_figure


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster().start()
    try:
        yield c
    finally:
        c.stop()


def test_messages_crossing_nodes_are_measured_per_process(cluster: Cluster) -> None:
    pids = [f"--server-pid={role}={pid}" for role, pid in cluster.pids.items()]
    subs = [f"--sub-server={address}" for address in cluster.sub_addresses("ws")]
    done = subprocess.run(
        [
            sys.executable, "-m", "fastport", "bench", "--json", "--quiet", "--door", "ws", "--admin-token", ADMIN_TOKEN,
            "--server", cluster.address("ws"), *subs, *pids, "--subs", "2", "--duration", "1", "--warmup", "0.3",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    r = report["results"]
    assert r["acked"] > 0 and r["publish_errors"] == 0
    assert r["expected_deliveries"] == 2 * r["acked"]
    assert r["lost"] == 0 and r["duplicates"] == 0 and r["foreign"] == 0
    assert r["errors"] == []
    # one subscriber process per node: subscriber 0 on node B, subscriber 1 on node A
    assert [p["role"] for p in report["generator"]["processes"]] == ["sub", "sub", "pub"]
    s = report["server"]
    assert {role: x["pid"] for role, x in s["processes"].items()} == cluster.pids
    for x in s["processes"].values():
        assert cpu_figure(x["cpu_us_per_acked"]) and cpu_figure(x["cpu_us_per_delivery"]) and x["rss_end"] > 0
    total = sum(x["cpu"] for x in s["processes"].values())
    assert abs(s["cpu"] - total) <= 0.002  # each rounded to 0.001
    assert s["rss_end"] == sum(x["rss_end"] for x in s["processes"].values())


def test_missing_nats_server_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers, "NATS_SERVER", "fastport-no-such-nats-server")
    with pytest.raises(RuntimeError, match="apt-get install nats-server"):
        Cluster().start()
    with pytest.raises(RuntimeError, match="apt-get install nats-server"):
        Server("nats-server").start()


def test_server_pids_are_given_by_role() -> None:
    assert server_pids(["node-a=12", "nats=13"]) == {"node-a": 12, "nats": 13}
    assert server_pids(["12"]) == {"server": 12}  # as before: the one server process
    for bad in (["node-a=x"], ["a=1", "a=2"], ["12", "server=13"]):
        with pytest.raises(BenchError, match="--server-pid must be PID or ROLE=PID"):
            server_pids(bad)
