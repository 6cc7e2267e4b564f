"""The ``fastport bench`` subcommand: options and output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields
from pathlib import Path

from ..auth import read_token
from .settings import DEFAULT_ADDRESS, BenchConfig, BenchError


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = BenchConfig()
    p.add_argument(
        "--door",
        choices=("ws", "grpc", "mqtt"),
        default=d.door,
        help="legacy JSON WebSocket, gRPC, or mqtt: an MQTT broker (e.g. Mosquitto) with QoS 1, "
        "the baseline (default: ws)",
    )
    p.add_argument(
        "--server",
        default="",
        metavar="HOST:PORT",
        help=f"the door's address: the HTTP port for ws, the gRPC port for grpc, the MQTT port for mqtt "
        f"[env for grpc: FASTPORT_SERVER; default: {DEFAULT_ADDRESS['ws']} / {DEFAULT_ADDRESS['grpc']} / {DEFAULT_ADDRESS['mqtt']}]",
    )
    p.add_argument("--path", default=d.path, help="WebSocket path (default: /)")
    p.add_argument("--pubs", type=int, default=d.pubs, metavar="N", help="publishers (default: 1)")
    p.add_argument("--subs", type=int, default=d.subs, metavar="N", help="subscribers (default: 1)")
    p.add_argument("--topics", type=int, default=d.topics, metavar="N", help="topics; publisher/subscriber i uses topic i mod N (default: 1)")
    p.add_argument("--size", type=int, default=d.size, metavar="BYTES", help="plaintext bytes per message, encrypted before the run (default: 256)")
    p.add_argument("--duration", type=float, default=d.duration, metavar="S", help="measured seconds (default: 5)")
    p.add_argument("--warmup", type=float, default=d.warmup, metavar="S", help="seconds before measuring (default: 1)")
    p.add_argument("--window", type=int, default=d.window, metavar="N", help="unanswered publishes per publisher (default: 100)")
    p.add_argument("--rate", type=float, default=d.rate, metavar="MSG/S", help="fixed total publish rate instead of a window")
    p.add_argument("--messages", type=int, default=d.messages, metavar="N", help="publish N messages in total, then stop")
    p.add_argument("--ack", action=argparse.BooleanOptionalAction, default=d.ack, help="subscribers ACK (default: yes)")
    p.add_argument("--batch", type=int, default=d.batch, metavar="N", help="most items per gRPC client frame (default: 1000)")
    p.add_argument("--procs", type=int, default=d.procs, metavar="N", help="generator processes (default: automatic)")
    p.add_argument("--idle", type=int, default=d.idle, metavar="N", help="open N idle initialized connections and report RSS per connection")
    p.add_argument(
        "--stalled",
        action="append",
        metavar="DOOR=HOST:PORT",
        help="add a subscriber of topic 0 on that door that never reads (repeatable), e.g. grpc=127.0.0.1:50051",
    )
    p.add_argument(
        "--admin-token", help="admin token to create the session [env: FASTPORT_ADMIN_TOKEN; else DATA_DIR/admin-token]"
    )
    p.add_argument("--data-dir", help="the server's data directory, for its admin-token [env: FASTPORT_DATA_DIR; default: data]")
    p.add_argument("--admin-user", help="HTTP Basic admin user (ws door) [env: FASTPORT_ADMIN_USER]")
    p.add_argument("--admin-pass", help="HTTP Basic admin password (ws door) [env: FASTPORT_ADMIN_PASS]")
    p.add_argument("--session", help="use this existing session instead of creating one")
    p.add_argument("--password", help="password of --session")
    p.add_argument("--retry-interval", type=int, default=0, metavar="MS", help="session retry interval (default: 5000; an hour with --no-ack)")
    p.add_argument(
        "--sub-server",
        dest="sub_servers",
        action="append",
        metavar="HOST:PORT",
        help="subscribers connect here instead of --server (repeatable: subscriber i to the i-th mod N), "
        "e.g. another node of a cluster",
    )
    p.add_argument(
        "--server-pid",
        dest="server_pids",
        action="append",
        metavar="[ROLE=]PID",
        help="a server process to measure (repeatable, e.g. node-a=PID node-b=PID nats=PID: CPU per role "
        "and in total; default: the process listening on the port, when local)",
    )
    p.add_argument("--drain-timeout", type=float, default=d.drain_timeout, metavar="S", help="wait this long for outstanding deliveries")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress line")


def config_from(args: argparse.Namespace) -> BenchConfig:
    from .runner import env_admin

    names = {f.name for f in fields(BenchConfig)}
    values = {k: v for k, v in vars(args).items() if k in names and v is not None}
    values["server_pids"] = server_pids(args.server_pids or [])
    cfg = BenchConfig(**values)
    cfg.progress = not args.quiet
    if not cfg.server and cfg.door == "grpc":
        cfg.server = os.environ.get("FASTPORT_SERVER", "")
    if cfg.server.startswith("grpcs://"):
        raise BenchError("fastport bench speaks plain text only; point it at a server without TLS")
    cfg.server = cfg.server.removeprefix("grpc://")
    env_admin(cfg)
    cfg.admin_token = cfg.admin_token or read_token(
        Path(args.data_dir or os.environ.get("FASTPORT_DATA_DIR", "data"))
    )
    if cfg.session and not cfg.password:
        raise BenchError("--session needs --password")
    return cfg


def server_pids(items: list[str]) -> dict[str, int]:
    """``--server-pid [ROLE=]PID`` values by role; a bare PID is the role ``server``."""
    pids: dict[str, int] = {}
    for item in items:
        role, _, pid = item.rpartition("=")
        role = role or "server"
        if not pid.isdigit() or role in pids:
            raise BenchError(f"--server-pid must be PID or ROLE=PID, each role once, not {item!r}")
        pids[role] = int(pid)
    return pids


def main(args: argparse.Namespace) -> int:
    from .runner import report_text, run

    try:
        report = run(config_from(args))
    except BenchError as exc:
        print(f"fastport: bench_failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(report_text(report))
    return 0
