"""The Mosquitto baseline of `make bench`: a real mosquitto started by the bench's own
``Server`` and loaded by `fastport bench --door mqtt` (the bench's lean QoS 1 client)
for a fraction of a second. Checks the report's structure and that nothing was lost or duplicated,
never speed. A machine without mosquitto fails here, saying how to install it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from fastport.bench import servers
from fastport.bench.servers import Server

from .support import cpu_figure


@pytest.fixture(scope="module")
def mosquitto() -> Iterator[Server]:
    s = Server("mosquitto").start()
    try:
        yield s
    finally:
        s.stop()


def test_qos1_fan_out_is_measured_without_loss(mosquitto: Server) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "fastport", "bench", "--json", "--quiet", "--door", "mqtt",
            "--server", mosquitto.address("mqtt"), "--duration", "0.5", "--warmup", "0.2", "--subs", "2",
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["config"]["door"] == "mqtt"
    r = report["results"]
    assert r["acked"] > 0 and r["publish_errors"] == 0
    assert r["expected_deliveries"] == 2 * r["acked"]
    assert r["lost"] == 0 and r["duplicates"] == 0 and r["foreign"] == 0
    assert r["errors"] == []
    gen = report["generator"]
    assert {p["role"] for p in gen["processes"]} == {"pub", "sub"}
    assert cpu_figure(gen["cpu_us_per_acked"])  # beside the server's: which side was busy
    s = report["server"]  # mosquitto's own /proc, found from its port
    assert s["processes"]["server"]["pid"] == mosquitto.pid
    assert cpu_figure(s["cpu_us_per_acked"]) and cpu_figure(s["cpu_us_per_delivery"])


def test_no_ack_is_refused_on_the_mqtt_door(mosquitto: Server) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fastport", "bench", "--door", "mqtt", "--server", mosquitto.address("mqtt"), "--no-ack"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "bench_failed" in done.stderr and "QoS 1" in done.stderr


def test_missing_mosquitto_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers, "MOSQUITTO", "fastport-no-such-mosquitto")
    with pytest.raises(RuntimeError, match="apt-get install mosquitto"):
        Server("mosquitto").start()
