"""``make bench``: the standard matrix on both doors, both stores and both baselines.

Every configuration is run ``--runs`` times, round-robin (round 1 runs everything
once, then round 2, ...), so that the baselines and fastport meet the same moments
of a noisy machine; ratios are taken within a round and then summarised. Output:
``bench/results.md`` (medians and min–max) and ``bench/results.json`` (every raw
report). Scenarios (issue 5):

a  1 publisher -> 1 subscriber, 256 B, window 100
b  1 publisher -> 10 subscribers
c  10 publishers -> 10 subscribers on 10 topics
d  fixed 2,000 msg/s, for latency
e  10,000 idle initialized WebSocket connections, 1,000 idle gRPC streams (RSS each);
   and the WebSocket door with 1,000 and 5,000, for issue 16's marginal figure
f  100,000 unacknowledged pending messages (RSS each)

Beside fastport, in (a) and (b): Mosquitto with MQTT QoS 1 (issue 16), the C broker
whose server CPU per message fastport is measured against, loaded by the generator's
own lean QoS 1 client (``mqttclient``) so that Mosquitto is the busy process; in (a)
and (e) also the bare relay on picows, the candidate for the WebSocket door.

The jetstream engine (issue 12), in (a) and (b): two ``fastport serve --engine
jetstream`` nodes on one nats-server (``servers.Cluster``), the publisher on node A and
the subscribers on node B ((a): every message crosses nodes) or on B and A in turn
((b)); CPU per message of each node and of nats-server, and the ratio to the embedded
engine (targets ``ws``, ``grpc``) within each round.

For issue 10 (one tenant never hurts another), each on a fresh server so that
its RSS peak is its own:

g  1 WebSocket/gRPC publisher -> 1 subscriber, 64 KiB payloads, window 100
h  slow subscribers: a WebSocket publisher pushes 64 KiB messages at a fixed rate to
   one WebSocket and one gRPC subscriber that never read, while a control pair in
   another session publishes 256 B at 500 msg/s
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .runner import run
from .servers import ADMIN_TOKEN, Cluster, Server, Target
from .settings import BenchConfig, BenchError

# target name -> (server name, door, extra config)
TARGETS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "ws": ("fastport-memory", "ws", {}),
    "grpc": ("fastport-memory", "grpc", {}),
    "ws-sqlite": ("fastport-sqlite", "ws", {}),
    "grpc-sqlite": ("fastport-sqlite", "grpc", {}),
    "ws-relay": ("ws-relay", "ws", {"session": "bench", "password": "bench"}),
    "grpc-relay": ("grpc-relay", "grpc", {"session": "bench", "password": "bench", "batch": 1}),
    "ws-picows": ("picows-relay", "ws", {"session": "bench", "password": "bench"}),
    "mqtt-mosquitto": ("mosquitto", "mqtt", {"procs": 4}),  # subscribers: two processes in (b)
    "ws-jetstream": (Cluster.name, "ws", {}),
    "grpc-jetstream": (Cluster.name, "grpc", {}),
}
JETSTREAM = {"ws-jetstream": "ws", "grpc-jetstream": "grpc"}  # and the embedded engine's target beside each
SCENARIOS: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "a": ("1 pub -> 1 sub, 256 B, window 100", {}, ("ws", "grpc", "ws-sqlite", "grpc-sqlite", "ws-relay", "ws-picows", "grpc-relay", "mqtt-mosquitto", "ws-jetstream", "grpc-jetstream")),
    "b": ("1 pub -> 10 subs", {"subs": 10}, ("ws", "grpc", "ws-relay", "grpc-relay", "mqtt-mosquitto", "ws-jetstream")),
    "c": ("10 pubs -> 10 subs, 10 topics", {"pubs": 10, "subs": 10, "topics": 10}, ("ws", "grpc", "ws-relay", "grpc-relay")),
    "d": ("fixed 2,000 msg/s", {"rate": 2000}, ("ws", "grpc", "ws-sqlite", "grpc-sqlite", "ws-relay", "grpc-relay")),
}
MEMORY: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "e": ("idle initialized connections", {}, ("ws", "grpc", "ws-relay", "ws-picows")),
    "f": ("unacknowledged pending messages", {"ack": False, "window": 1000}, ("ws", "grpc")),
}
# Issue 16 defines the idle WebSocket's cost as the marginal RSS between 1,000 and
# 5,000 idle initialized connections: in (e) each round also runs the WebSocket door
# with each count on a fresh server (recorded as scenario "e-<count>").
IDLE_SPAN = (1_000, 5_000)
BIG_PAYLOAD = 64 * 1024
HEAVY: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "g": ("1 pub -> 1 sub, 64 KiB, window 100", {"size": BIG_PAYLOAD}, ("ws", "grpc")),
}
SLOW = "h"
CONTROL_RATE = 500  # msg/s of the control pair in scenario h


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _span(values: Sequence[float | None], fmt: Callable[[float], str]) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "–"
    med = statistics.median(got)
    if len(got) == 1:
        return fmt(med)
    return f"{fmt(med)} [{fmt(min(got))}–{fmt(max(got))}]"


def _num(v: float) -> str:
    return f"{v:,.0f}"


def _us(v: float) -> str:
    return f"{v:.1f}"


def _ms(v: float) -> str:
    return f"{v / 1000:.2f}"


def _ratio(v: float) -> str:
    return f"{v:.2f}×"


class Matrix:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.servers: dict[str, Target] = {}
        self.unavailable: dict[str, str] = {}
        self.reports: list[dict[str, Any]] = []

    def server(self, name: str) -> Target | None:
        if name in self.unavailable:
            return None
        if name not in self.servers:
            kind, _, store = name.partition("-")
            server: Target = Server("fastport", store) if kind == "fastport" else Cluster() if name == Cluster.name else Server(name)
            try:
                self.servers[name] = server.start()
            except Exception as exc:
                self.unavailable[name] = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
                print(f"  {name}: unavailable: {self.unavailable[name]}", flush=True)
                return None
        return self.servers[name]

    def stop_servers(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()

    def config(self, target: str, server: Target, **extra: Any) -> BenchConfig:
        _, door, options = TARGETS[target]
        a = self.args
        cfg = BenchConfig(
            door=door,
            server=server.address(door),
            sub_servers=server.sub_addresses(door),
            duration=a.duration,
            warmup=a.warmup,
            admin_token=ADMIN_TOKEN,
            server_pids=server.pids,
            progress=False,
        )
        for key, value in {**options, **extra}.items():
            setattr(cfg, key, value)
        return cfg

    def record(self, scenario: str, target: str, round_no: int, cfg: BenchConfig | None, report: dict[str, Any] | None, error: str = "") -> None:
        entry = {"scenario": scenario, "target": target, "round": round_no, "error": error, "report": report}
        self.reports.append(entry)
        if report is None:
            print(f"  {scenario} {target:12} round {round_no}: FAILED: {error}", flush=True)
            return
        if "idle" in report:
            s = report.get("server") or {}
            print(f"  {scenario} {target:12} round {round_no}: {s.get('rss_per_connection', 0) / 1024:.1f} KiB/connection", flush=True)
            return
        r = report["results"]
        s = report.get("server") or {}
        extra = ""
        if "rss_per_pending_message" in s:
            extra = f"  {s['rss_per_pending_message']:.0f} B/pending message"
        if len(s.get("processes") or ()) > 1:
            extra += "  (" + ", ".join(f"{role} {x['cpu_us_per_acked'] or 0:.1f}" for role, x in s["processes"].items()) + " µs/acked)"
        print(
            f"  {scenario} {target:12} round {round_no}: acked {r['acked_per_s']:>9,.0f}/s  deliveries {r['deliveries_per_s']:>9,.0f}/s"
            f"  {s.get('cpu_us_per_acked') or 0:6.1f} µs/acked  p50 {(r['latency_us']['p50'] or 0) / 1000:6.2f} ms"
            f"  p99 {(r['latency_us']['p99'] or 0) / 1000:7.2f} ms  lost {r['lost']} dup {r['duplicates']}"
            f"  server cpu {100 * (s.get('cpu') or 0):3.0f}%  generator max {100 * report['generator']['max_process_cpu']:3.0f}%"
            f" ({report['generator'].get('cpu_us_per_acked') or 0:.1f} µs/acked)"
            + ("  GENERATOR>80%" if report["generator"]["saturated"] else "")
            + extra,
            flush=True,
        )

    def run_one(self, scenario: str, target: str, round_no: int, **extra: Any) -> None:
        server = self.server(TARGETS[target][0])
        if server is None:
            self.record(scenario, target, round_no, None, None, f"server unavailable: {self.unavailable[TARGETS[target][0]]}")
            return
        cfg = self.config(target, server, **extra)
        self.run_recorded(scenario, target, round_no, cfg, lambda: run(cfg))

    def run_recorded(self, scenario: str, target: str, round_no: int, cfg: BenchConfig, job: Callable[[], dict[str, Any]]) -> None:
        try:
            report = job()
        except BenchError as exc:
            self.record(scenario, target, round_no, cfg, None, str(exc))
            return
        report["scenario"] = scenario
        report["target"] = target
        self.record(scenario, target, round_no, cfg, report)

    def stop_server(self, name: str) -> None:
        server = self.servers.pop(name, None)
        if server is not None:
            server.stop()

    def run_fresh(self, scenario: str, target: str, round_no: int, **extra: Any) -> None:
        """Memory scenarios: a fresh server each time, so RSS growth is this run's alone."""
        name = TARGETS[target][0]
        self.stop_server(name)
        self.run_one(scenario, target, round_no, **extra)
        self.stop_server(name)

    def run_slow(self, round_no: int) -> None:
        """Scenario h: the load (a publisher and two never-reading subscribers) and the
        control pair in another session run at the same time on one fresh server."""
        a = self.args
        name = TARGETS["ws"][0]
        self.stop_server(name)
        server = self.server(name)
        if server is None:
            self.record(SLOW, "load", round_no, None, None, f"server unavailable: {self.unavailable[name]}")
            return
        stalled = [f"{door}={server.address(door)}" for door in ("ws", "grpc")]
        load = self.config("ws", server, size=BIG_PAYLOAD, rate=a.slow_rate, subs=0, stalled=stalled,
                           duration=a.slow_duration, warmup=0)
        control = self.config("ws", server, rate=CONTROL_RATE, duration=a.slow_duration, warmup=0)
        try:
            with ThreadPoolExecutor(1) as pool:
                loading = pool.submit(run, load)
                self.run_recorded(SLOW, "control", round_no, control, lambda: run(control))
                self.run_recorded(SLOW, "load", round_no, load, loading.result)
        finally:
            self.stop_server(name)

    def run(self) -> None:
        a = self.args
        wanted = set(a.only.split(",")) if a.only else set(SCENARIOS) | set(MEMORY) | set(HEAVY) | {SLOW}
        keep = set(a.targets.split(",")) if a.targets else set(TARGETS)
        if keep - set(TARGETS):
            raise SystemExit(f"--targets: unknown {', '.join(sorted(keep - set(TARGETS)))} (known: {', '.join(TARGETS)})")
        Table = dict[str, tuple[str, dict[str, Any], tuple[str, ...]]]

        def pick(table: Table) -> Table:
            return {s: (title, extra, tuple(x for x in ts if x in keep)) for s, (title, extra, ts) in table.items()}

        scenarios, memory, heavy = pick(SCENARIOS), pick(MEMORY), pick(HEAVY)
        t0 = time.monotonic()
        try:
            for round_no in range(1, a.runs + 1):
                print(f"round {round_no}/{a.runs}", flush=True)
                for scenario, (_, extra, targets) in scenarios.items():
                    if scenario in wanted:
                        for target in targets:
                            self.run_one(scenario, target, round_no, **extra)
            self.stop_servers()
            for round_no in range(1, a.runs + 1):
                for scenario, (_, extra, targets) in memory.items():
                    if scenario not in wanted:
                        continue
                    for target in targets:
                        if scenario == "e":
                            n = a.idle_ws if TARGETS[target][1] == "ws" else a.idle_grpc
                            self.run_fresh(scenario, target, round_no, idle=n, **extra)
                            if target == "ws":
                                for count in IDLE_SPAN:
                                    self.run_fresh(f"e-{count}", target, round_no, idle=count, **extra)
                        else:
                            self.run_fresh(scenario, target, round_no, messages=a.pending, **extra)
                for scenario, (_, extra, targets) in heavy.items():
                    if scenario in wanted:
                        for target in targets:
                            self.run_fresh(scenario, target, round_no, **extra)
                if SLOW in wanted and not a.targets:
                    self.run_slow(round_no)
        finally:
            self.stop_servers()
        self.elapsed = time.monotonic() - t0


# ---------------------------------------------------------------------- report


def _reports(entries: list[dict[str, Any]], scenario: str, target: str) -> list[dict[str, Any]]:
    return [e["report"] for e in entries if e["scenario"] == scenario and e["target"] == target and e["report"]]


def _by_round(entries: list[dict[str, Any]], scenario: str, target: str) -> dict[int, dict[str, Any]]:
    return {e["round"]: e["report"] for e in entries if e["scenario"] == scenario and e["target"] == target and e["report"]}


def _get(report: dict[str, Any], path: str) -> Any:
    cur: Any = report
    for part in path.split("."):
        if cur is None:
            return None
        cur = cur.get(part)
    return cur


Metric = str | Callable[[dict[str, Any]], Any]  # a report's field path, or a function of the report


def _value(report: dict[str, Any], metric: Metric) -> Any:
    return _get(report, metric) if isinstance(metric, str) else metric(report)


def _nodes(field: str) -> Callable[[dict[str, Any]], float | None]:
    """A cluster's nodes together (its ``node-*`` processes): the part of the server
    that is fastport, without nats-server."""

    def get(report: dict[str, Any]) -> float | None:
        values = [x.get(field) for role, x in (_get(report, "server.processes") or {}).items() if role.startswith("node-")]
        return sum(values) if values and None not in values else None

    return get


def _ratios(entries: list[dict[str, Any]], a: tuple[str, str, Metric], b: tuple[str, str, Metric]) -> list[float]:
    """Per round: metric a / metric b, each (scenario, target, metric)."""
    ra = _by_round(entries, a[0], a[1])
    rb = _by_round(entries, b[0], b[1])
    out = []
    for rnd in sorted(set(ra) & set(rb)):
        x, y = _value(ra[rnd], a[2]), _value(rb[rnd], b[2])
        if x is not None and y:
            out.append(x / y)
    return out


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _row(*cells: str) -> str:
    """One Markdown table row."""
    return "| " + " | ".join(cells) + " |"


def _mib(v: float) -> str:
    return f"{v / 2**20:,.0f}"


def _bounded_rows(e: list[dict[str, Any]]) -> list[str]:
    """Scenarios g and h (issue 10): RSS, duplicates, confirmed vs delivered."""
    lines = [
        "",
        "## One tenant never hurts another (issue 10)",
        "",
        "| scenario | target | acked/s | deliveries/s | deliveries ÷ acked | dup | lost | p99 ms | server RSS peak, MiB | closed by server |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [("g", HEAVY["g"][0], t) for t in HEAVY["g"][2]]
    rows += [(SLOW, "64 KiB to 2 never-reading subscribers", "load"), (SLOW, f"control pair, {CONTROL_RATE} msg/s, other session", "control")]
    for scenario, title, target in rows:
        rs = _reports(e, scenario, target)
        if not rs:
            continue
        ratios = [d / x for r in rs if (x := _get(r, "results.acked_per_s")) and (d := _get(r, "results.deliveries_per_s")) is not None]
        lines.append(
            _row(
                f"{scenario}: {title}",
                target,
                _span([_get(r, "results.acked_per_s") for r in rs], _num),
                _span([_get(r, "results.deliveries_per_s") for r in rs], _num),
                _span(ratios, lambda v: f"{v:.2f}"),
                str(sum(_get(r, "results.duplicates") or 0 for r in rs)),
                str(sum(_get(r, "results.lost") or 0 for r in rs)),
                _span([_get(r, "results.latency_us.p99") for r in rs], _ms),
                _span([_get(r, "server.rss_peak") for r in rs], _mib),
                str(sum(_get(r, "results.connections_closed") or 0 for r in rs)),
            )
        )
    return lines


def _jetstream_rows(e: list[dict[str, Any]]) -> list[str]:
    """Issue 12: each process's CPU per message on the jetstream engine, and the
    engine against the embedded one in the same rounds."""
    runs = [(scenario, target) for scenario, (_, _, targets) in SCENARIOS.items() for target in targets if target in JETSTREAM]
    runs = [(scenario, target) for scenario, target in runs if _reports(e, scenario, target)]
    if not runs:
        return []
    lines = [
        "",
        "## The jetstream engine (issue 12): two nodes on one nats-server, same sitting",
        "",
        "The publisher on node A; the subscriber on node B in (a), the ten on B and A in turn in (b). "
        "Server CPU per acked message of each process (in (b), per delivery after the slash); "
        "the throughput table's server figures for these targets are the three processes together.",
        "",
        "| scenario | target | acked/s | node A µs | node B µs | nats-server µs | all three µs | lost | dup |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario, target in runs:
        rs = _reports(e, scenario, target)

        def cell(prefix: str, rs: list[dict[str, Any]] = rs, scenario: str = scenario) -> str:
            text = _span([_get(r, f"{prefix}.cpu_us_per_acked") for r in rs], _us)
            if scenario != "a":
                text += " / " + _span([_get(r, f"{prefix}.cpu_us_per_delivery") for r in rs], _us)
            return text

        lines.append(
            _row(
                f"{scenario}: {SCENARIOS[scenario][0]}",
                target,
                _span([_get(r, "results.acked_per_s") for r in rs], _num),
                cell("server.processes.node-a"),
                cell("server.processes.node-b"),
                cell("server.processes.nats"),
                cell("server"),
                str(sum(_get(r, "results.lost") or 0 for r in rs)),
                str(sum(_get(r, "results.duplicates") or 0 for r in rs)),
            )
        )
    us, acked = "server.cpu_us_per_acked", "results.acked_per_s"
    lines += [
        "",
        "### jetstream ÷ embedded, same sitting",
        "",
        "Within each round, against the embedded engine (memory store) on the same door and shape.",
        "",
        "| scenario | jetstream ÷ embedded | both nodes' CPU per acked msg | nodes + nats-server CPU per acked msg | acked/s |",
        "|---|---|---|---|---|",
    ]
    for scenario, target in runs:
        embedded = JETSTREAM[target]
        lines.append(
            _row(
                scenario,
                f"{target} ÷ {embedded}",
                _span(_ratios(e, (scenario, target, _nodes("cpu_us_per_acked")), (scenario, embedded, us)), _ratio),
                _span(_ratios(e, (scenario, target, us), (scenario, embedded, us)), _ratio),
                _span(_ratios(e, (scenario, target, acked), (scenario, embedded, acked)), _ratio),
            )
        )
    return lines


def write_markdown(document: dict[str, Any], path: Path) -> None:
    """``results.md`` from ``results.json``'s document: the run's reports, its options
    and when, where and on which commit it was measured (``--render`` writes it anew
    from the file, e.g. after a table was added)."""
    a = argparse.Namespace(**{k: float(document["args"][k]) for k in ("runs", "warmup", "duration", "pending")})
    e = document["runs"]
    unavailable: dict[str, str] = document["unavailable"]
    w = document["written"]
    rendered = _git_commit()
    lines = [
        "# fastport benchmark results",
        "",
        f"Written by `make bench` (`python -m fastport.bench.matrix`) on {w['date']}, "
        f"commit {w['commit']}" + ("" if rendered == w["commit"] else f" (tables rendered by commit {rendered})")
        + f", {w['machine']}, Python {w['python']}. "
        f"{a.runs:g} rounds, each configuration {a.warmup:g} s warm-up + {a.duration:g} s measured; "
        f"matrix took {w['minutes']:.1f} min. Values are medians with [min–max] over the rounds; ratios are taken "
        "within a round (fastport and the baseline measured minutes apart at most) and then summarised the same way. "
        "Payloads: 256 B plaintext, AES-256-CBC pre-encrypted, 389 B on the wire. "
        "Raw reports: `results.json`. How to read this and where the time goes: `README.md`.",
        "",
        "## Throughput and latency",
        "",
        "| scenario | target | acked publishes/s | deliveries/s | server µs per acked msg | server CPU | p50 ms | p99 ms | lost | dup | generator max CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario, (title, _, targets) in SCENARIOS.items():
        for target in targets:
            rs = _reports(e, scenario, target)
            failed = [x["error"] for x in e if x["scenario"] == scenario and x["target"] == target and not x["report"]]
            if not rs:
                if failed:
                    lines.append(f"| {scenario}: {title} | {target} | not run: {failed[0][:80]} | | | | | | | | |")
                continue
            gen = [_get(r, "generator.max_process_cpu") for r in rs]
            sat = sum(1 for r in rs if _get(r, "generator.saturated"))
            lines.append(
                _row(
                    f"{scenario}: {title}",
                    target,
                    _span([_get(r, "results.acked_per_s") for r in rs], _num),
                    _span([_get(r, "results.deliveries_per_s") for r in rs], _num),
                    _span([_get(r, "server.cpu_us_per_acked") for r in rs], _us),
                    _span([100 * (_get(r, "server.cpu") or 0) for r in rs], lambda v: f"{v:.0f}%"),
                    _span([_get(r, "results.latency_us.p50") for r in rs], _ms),
                    _span([_get(r, "results.latency_us.p99") for r in rs], _ms),
                    str(sum(_get(r, "results.lost") or 0 for r in rs)),
                    str(sum(_get(r, "results.duplicates") or 0 for r in rs)),
                    _span([100 * g for g in gen if g is not None], lambda v: f"{v:.0f}%")
                    + (f" (>80% in {sat}/{len(rs)})" if sat else ""),
                )
            )
    lines += ["", "## Memory", "", "| scenario | target | figure | median [min–max] |", "|---|---|---|---|"]
    for target in MEMORY["e"][2]:
        rs = _reports(e, "e", target)
        if rs:
            n = _get(rs[0], "config.idle")
            lines.append(
                f"| e: {n:,} idle initialized {'WebSocket connections' if TARGETS[target][1] == 'ws' else 'gRPC streams'} | {target} "
                f"| server RSS per connection, KiB | {_span([(_get(r, 'server.rss_per_connection') or 0) / 1024 for r in rs], lambda v: f'{v:.1f}')} |"
            )
    for target in MEMORY["f"][2]:
        rs = _reports(e, "f", target)
        if rs:
            lines.append(
                f"| f: {a.pending:,.0f} unacknowledged pending messages | {target} "
                f"| server RSS per pending message, B | {_span([_get(r, 'server.rss_per_pending_message') for r in rs], _num)} |"
            )
    lines += _bounded_rows(e)
    lines += _jetstream_rows(e)
    lines += ["", "## Targets (issue 5)", "", "| target | measured | goal | met |", "|---|---|---|---|"]

    def target_row(text: str, values: list[float], fmt: Callable[[float], str], goal: str, ok: Callable[[float], bool] | None) -> None:
        """One row; ``ok`` None: an informative figure, no goal to meet."""
        if not values:
            lines.append(f"| {text} | not measured | {goal} | – |")
            return
        med = statistics.median(values)
        met = "–" if ok is None else "yes" if ok(med) else "**no**"
        lines.append(f"| {text} | {_span(values, fmt)} | {goal} | {met} |")

    us = "server.cpu_us_per_acked"
    acked = "results.acked_per_s"
    deliv = "results.deliveries_per_s"
    target_row("WS, memory, (a): server CPU per acked msg ÷ bare aiohttp relay's", _ratios(e, ("a", "ws", us), ("a", "ws-relay", us)), _ratio, "≤ 1.1×", lambda v: v <= 1.1)
    target_row("WS, memory, (a): server CPU per acked msg, µs", [_get(r, us) for r in _reports(e, "a", "ws") if _get(r, us)], _us, "≤ 46 µs (old Node.js broker: ~16; Mosquitto QoS 1: ~8.5)", lambda v: v <= 46)
    for door in ("ws", "grpc"):
        target_row(f"{door}, (a): sqlite acked/s ÷ memory acked/s", _ratios(e, ("a", f"{door}-sqlite", acked), ("a", door, acked)), _ratio, "≥ 0.7×", lambda v: v >= 0.7)
    target_row("gRPC ÷ WS acked/s, memory, (a)", _ratios(e, ("a", "grpc", acked), ("a", "ws", acked)), _ratio, "≥ 1.0×", lambda v: v >= 1.0)
    target_row("gRPC ÷ bare one-message-per-frame grpc.aio relay, acked/s, (a)", _ratios(e, ("a", "grpc", acked), ("a", "grpc-relay", acked)), _ratio, "≥ 3×", lambda v: v >= 3)
    for door in ("ws", "grpc"):
        target_row(f"{door}: deliveries/s (b) ÷ (a)", _ratios(e, ("b", door, deliv), ("a", door, deliv)), _ratio, "≥ 2.5×", lambda v: v >= 2.5)
    for door in ("ws", "grpc"):
        rs = _reports(e, "d", door)
        target_row(f"{door}, (d) 2,000 msg/s: p50 latency, ms", [_get(r, "results.latency_us.p50") for r in rs], _ms, "≤ 1 ms", lambda v: v <= 1000)
        target_row(f"{door}, (d) 2,000 msg/s: p99 latency, ms", [_get(r, "results.latency_us.p99") for r in rs], _ms, "≤ 5 ms", lambda v: v <= 5000)
    target_row("(e) RSS per idle WebSocket connection, KB", [(_get(r, "server.rss_per_connection") or 0) / 1000 for r in _reports(e, "e", "ws")], lambda v: f"{v:.1f}", "≤ 14 KB (old Node.js broker: ~9.0 KB, 8.8 KiB)", lambda v: v <= 14)
    acked_runs = [x["report"] for x in e if x["report"] and "results" in x["report"] and x["report"]["config"]["ack"]]
    bad = sum((_get(r, "results.lost") or 0) + (_get(r, "results.duplicates") or 0) for r in acked_runs)
    lines.append(f"| lost + duplicate deliveries, all {len(acked_runs)} runs with ACKs | {bad} | 0 | {'yes' if bad == 0 else '**no**'} |")
    lines += ["", "## Targets (issue 16): Mosquitto QoS 1, same sitting", "", "| target | measured | goal | met |", "|---|---|---|---|"]
    per_delivery = "server.cpu_us_per_delivery"
    for scenario, field, what in (("a", us, "per acked msg"), ("b", per_delivery, "per delivery")):
        anchor = _span([_get(r, field) for r in _reports(e, scenario, "mqtt-mosquitto")], _us)
        lines.append(f"| Mosquitto QoS 1, ({scenario}): server CPU {what}, µs | {anchor} | the anchor | – |")
    target_row("WS, memory, (a): server CPU per acked msg ÷ Mosquitto's", _ratios(e, ("a", "ws", us), ("a", "mqtt-mosquitto", us)), _ratio, "≤ 1.0×", lambda v: v <= 1.0)
    for door in ("ws", "grpc"):
        target_row(
            f"{door}, (b): server CPU per delivery ÷ Mosquitto's",
            _ratios(e, ("b", door, per_delivery), ("b", "mqtt-mosquitto", per_delivery)),
            _ratio,
            "≤ 1.0×",
            lambda v: v <= 1.0,
        )
    low, high = (_by_round(e, f"e-{count}", "ws") for count in IDLE_SPAN)
    target_row(
        f"(e) RSS per idle WebSocket connection between {IDLE_SPAN[0]:,} and {IDLE_SPAN[1]:,}, KiB",
        [
            ((_get(high[r], "server.rss_after") or 0) - (_get(low[r], "server.rss_after") or 0)) / (IDLE_SPAN[1] - IDLE_SPAN[0]) / 1024
            for r in sorted(set(low) & set(high))
        ],
        lambda v: f"{v:.1f}",
        "≤ 8 KiB",
        lambda v: v <= 8,
    )
    target_row("gRPC ÷ WS server CPU per acked msg, memory, (a)", _ratios(e, ("a", "grpc", us), ("a", "ws", us)), _ratio, "≤ 1.0×", lambda v: v <= 1.0)
    for door in ("ws", "grpc"):
        target_row(f"{door}, (a): sqlite acked/s ÷ memory acked/s", _ratios(e, ("a", f"{door}-sqlite", acked), ("a", door, acked)), _ratio, "≥ 0.9×", lambda v: v >= 0.9)
        rs = _reports(e, "d", f"{door}-sqlite")
        target_row(f"{door}-sqlite, (d) 2,000 msg/s: p99 latency, ms", [_get(r, "results.latency_us.p99") for r in rs], _ms, "≤ 1 ms", lambda v: v <= 1000)
    gen_us = "generator.cpu_us_per_acked"
    for scenario in ("a", "b"):
        target_row(
            f"Mosquitto, ({scenario}): busiest generator process's CPU ÷ Mosquitto's",
            _ratios(e, (scenario, "mqtt-mosquitto", "generator.max_process_cpu"), (scenario, "mqtt-mosquitto", "server.cpu")),
            _ratio,
            "< 1.0× (Mosquitto is the busy process)",
            lambda v: v < 1.0,
        )
        target_row(
            f"Mosquitto, ({scenario}): all generator CPU per acked msg ÷ Mosquitto's",
            _ratios(e, (scenario, "mqtt-mosquitto", gen_us), (scenario, "mqtt-mosquitto", us)),
            _ratio,
            "–",
            None,
        )
    lines += ["", "A target not met: its measured reason and the next step are in `README.md`, \"Issue 16: where things stand\"."]
    lines += ["", "## picows beside aiohttp (issue 16): bare relays, same logic", "", "| figure | measured | note |", "|---|---|---|"]
    for text, values, fmt in (
        ("(a): server CPU per acked msg, picows relay ÷ aiohttp relay", _ratios(e, ("a", "ws-picows", us), ("a", "ws-relay", us)), _ratio),
        ("(a): server CPU per acked msg, picows relay, µs", [_get(r, us) for r in _reports(e, "a", "ws-picows")], _us),
        ("(e): RSS per idle connection, picows relay, KiB", [(_get(r, "server.rss_per_connection") or 0) / 1024 for r in _reports(e, "e", "ws-picows")], lambda v: f"{v:.1f}"),
        ("(e): RSS per idle connection, aiohttp relay, KiB", [(_get(r, "server.rss_per_connection") or 0) / 1024 for r in _reports(e, "e", "ws-relay")], lambda v: f"{v:.1f}"),
    ):
        lines.append(f"| {text} | {_span(values, fmt) if values else 'not measured'} | bench/README.md, picows |")
    failed = [x for x in e if not x["report"]]
    if failed or unavailable:
        lines += ["", "## Not measured", ""]
        for name, why in unavailable.items():
            lines.append(f"- server {name}: {why}")
        for x in failed:
            lines.append(f"- {x['scenario']} {x['target']} round {x['round']}: {x['error']}")
    sat_runs = [x for x in e if x["report"] and _get(x["report"], "generator.saturated")]
    lines += [
        "",
        f"Generator: {len(sat_runs)} of {len(e)} runs had a generator process above 80% of a core "
        "(listed per row above); in those the acked/s figure may be the generator's limit, while the server's "
        "µs per acked message still holds.",
        "",
    ]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fastport.bench.matrix", description="Run the standard benchmark matrix.")
    p.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 3)), help="rounds (default 3; env BENCH_RUNS)")
    p.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_DURATION", 4)), help="measured seconds per run (default 4; env BENCH_DURATION)")
    p.add_argument("--warmup", type=float, default=float(os.environ.get("BENCH_WARMUP", 1)), help="warm-up seconds per run (default 1)")
    p.add_argument("--idle-ws", type=int, default=10_000, help="idle WebSocket connections in (e)")
    p.add_argument("--idle-grpc", type=int, default=1_000, help="idle gRPC streams in (e)")
    p.add_argument("--pending", type=int, default=100_000, help="pending messages in (f)")
    p.add_argument("--slow-duration", type=float, default=40.0, help="seconds of scenario h (default 40: past the slow-consumer timeout)")
    p.add_argument("--slow-rate", type=float, default=440.0, help="64 KiB publishes/s in scenario h (default 440: ~28 MiB/s)")
    p.add_argument("--only", help="comma-separated scenarios, e.g. a,d (default: all)")
    p.add_argument("--targets", help=f"comma-separated targets, e.g. ws,mqtt-mosquitto (default: all; scenario h needs none): {', '.join(TARGETS)}")
    p.add_argument("--out", type=Path, default=Path("bench"), help="directory for results.md and results.json")
    p.add_argument("--render", action="store_true", help="run nothing: write results.md anew from the results.json in --out")
    args = p.parse_args(argv)
    if args.render:
        write_markdown(json.loads((args.out / "results.json").read_text()), args.out / "results.md")
        print(f"wrote {args.out / 'results.md'} from {args.out / 'results.json'}")
        return 0
    m = Matrix(args)
    m.run()
    document = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "written": {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "commit": _git_commit(),
            "minutes": round(m.elapsed / 60, 1),
            "machine": f"{os.cpu_count()} × {_cpu_model()}",
            "python": platform.python_version(),
        },
        "unavailable": m.unavailable,
        "runs": m.reports,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(document, indent=1))
    write_markdown(document, args.out / "results.md")
    print(f"wrote {args.out / 'results.md'} and {args.out / 'results.json'} ({m.elapsed / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
