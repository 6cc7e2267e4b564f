"""Run one benchmark: set up a session, start generator processes, measure, report.

The parent does no messaging itself. It creates the session, starts the worker
processes (publishers in some, subscribers in others, so they run in parallel),
samples every worker and — when the server is on this machine — the server's /proc
once a second, and takes two exact marks: the start and the end of the measured
window (after a warm-up). Rates, CPU and latency are computed between the marks;
lost and duplicate deliveries are computed at the end from per-message bitmaps.

The server may be several processes (a cluster's nodes and its nats-server, given by
role in ``server_pids``): each is sampled, and the report has each role's figures
beside their total.
"""

from __future__ import annotations

import base64
import json
import math
import multiprocessing
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from . import proc, worker
from .hist import Histogram
from .payloads import wire_size
from .settings import DEFAULT_ADDRESS, NO_ACK_MAX_IN_FLIGHT, NO_ACK_RETRY_INTERVAL_MS, BenchConfig, BenchError

SATURATED = 0.8  # of one core: above it, the generator may be what limits the rate


# ---------------------------------------------------------------------- sessions


def _http_json(url: str, body: dict[str, Any], auth: str | None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = auth
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            answer: dict[str, Any] = json.loads(resp.read())
            return answer
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("error")
        except Exception:
            detail = exc.reason
        raise BenchError(f"{url}: HTTP {exc.code}: {detail}") from None
    except OSError as exc:
        raise BenchError(f"{url}: {exc}") from None


class _Session:
    """Creates the benchmark's own session and drops it afterwards."""

    def __init__(self, cfg: BenchConfig) -> None:
        self.cfg = cfg
        self.name = cfg.session or f"bench-{secrets.token_hex(4)}"
        self.password = cfg.password or secrets.token_urlsafe(12)
        self.secret = ""
        self.created = False

    def _auth(self) -> str | None:
        c = self.cfg
        if c.admin_token:
            return f"Bearer {c.admin_token}"
        if c.admin_user is not None and c.admin_pass is not None:
            return "Basic " + base64.b64encode(f"{c.admin_user}:{c.admin_pass}".encode()).decode()
        return None

    def create(self) -> None:
        c = self.cfg
        if c.session or c.door == "mqtt":  # MQTT: anonymous clients, no session
            return
        retry = c.retry_interval or (5000 if c.ack else NO_ACK_RETRY_INTERVAL_MS)
        in_flight = 0 if c.ack else NO_ACK_MAX_IN_FLIGHT
        host, port = c.address
        if c.door == "ws":
            reply = _http_json(
                f"http://{host}:{port}/api/createSession",
                {"sessionName": self.name, "password": self.password, "retryInterval": retry, "maxInFlight": in_flight},
                self._auth(),
            )
            if not reply.get("success"):
                raise BenchError(f"createSession: {reply.get('error')}")
            self.secret = reply.get("secretKey", "")
        else:
            import grpc
            from fastport_proto.v1 import admin_pb2, admin_pb2_grpc

            metadata = (("authorization", f"Bearer {c.admin_token}"),) if c.admin_token else ()
            with grpc.insecure_channel(f"{host}:{port}") as channel:
                try:
                    reply = admin_pb2_grpc.AdminStub(channel).CreateSession(
                        admin_pb2.CreateSessionRequest(
                            name=self.name,
                            password=self.password,
                            retry_interval_ms=retry,
                            limits=admin_pb2.Limits(max_in_flight=in_flight),
                        ),
                        metadata=metadata,
                        timeout=30,
                    )
                except grpc.RpcError as exc:
                    raise BenchError(f"CreateSession: {exc.code().name}: {exc.details()}") from None
            self.secret = reply.secret_key
        self.created = True

    def drop(self) -> None:
        """Free the server's memory for the next run; failures are only reported."""
        if not self.created:
            return
        c = self.cfg
        host, port = c.address
        try:
            if c.door == "ws":
                _http_json(
                    f"http://{host}:{port}/api/dropSession",
                    {"sessionName": self.name, "password": self.password, "secretKey": self.secret},
                    self._auth(),
                )
            else:
                import grpc
                from fastport_proto.v1 import admin_pb2, admin_pb2_grpc

                with grpc.insecure_channel(f"{host}:{port}") as channel:
                    admin_pb2_grpc.AdminStub(channel).DropSession(
                        admin_pb2.SessionCredentials(name=self.name, password=self.password, secret_key=self.secret),
                        timeout=30,
                    )
        except Exception as exc:
            print(f"fastport bench: dropping session {self.name}: {exc}", file=sys.stderr)


# ---------------------------------------------------------------------- workers


class _Workers:
    def __init__(self, specs: list[dict[str, Any]]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.roles = [s["role"] for s in specs]
        # Each subscriber's delivery count, shared: the mqtt door's publishers pace
        # themselves by it (see worker.MqttPublisher).
        delivered = ctx.RawArray("q", max(1, sum(len(s["subscribers"]) for s in specs)))
        self.pipes = []
        self.procs = []
        for spec in specs:
            parent, child = ctx.Pipe()
            p = ctx.Process(target=worker.main, args=(child, spec, delivered), daemon=True, name=f"fastport-bench-{spec['role']}")
            p.start()
            child.close()
            self.pipes.append(parent)
            self.procs.append(p)

    def recv_all(self, timeout: float, what: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        out = []
        for pipe, p in zip(self.pipes, self.procs):
            while not pipe.poll(0.1):
                if time.monotonic() > deadline:
                    raise BenchError(f"generator process timed out ({what})")
                if not p.is_alive():
                    raise BenchError(f"generator process died ({what}), exit code {p.exitcode}")
            try:
                out.append(pipe.recv())
            except EOFError:
                raise BenchError(f"generator process died ({what})") from None
        return out

    def send_all(self, cmd: dict[str, Any], only: str | None = None) -> list[int]:
        sent = []
        for i, (pipe, role) in enumerate(zip(self.pipes, self.roles)):
            if only is None or role == only:
                pipe.send(cmd)
                sent.append(i)
        return sent

    def ask(self, cmd: dict[str, Any], timeout: float, only: str | None = None) -> list[tuple[int, dict[str, Any]]]:
        return self.collect(self.send_all(cmd, only), cmd, timeout)

    def collect(self, idx: list[int], cmd: dict[str, Any], timeout: float) -> list[tuple[int, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        out = []
        for i in idx:
            pipe = self.pipes[i]
            while not pipe.poll(0.1):
                if time.monotonic() > deadline or not self.procs[i].is_alive():
                    raise BenchError(f"generator process did not answer {cmd['cmd']}")
            out.append((i, pipe.recv()))
        return out

    def close(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send({"cmd": "exit"})
            except OSError:
                pass
        deadline = time.monotonic() + 10
        for p in self.procs:
            p.join(max(0.1, deadline - time.monotonic()))
            if p.is_alive():
                p.terminate()
                p.join(5)
        for pipe in self.pipes:
            pipe.close()


def _split(items: list[Any], parts: int) -> list[list[Any]]:
    parts = max(1, min(parts, len(items)))
    return [items[i::parts] for i in range(parts)]


def _plan(cfg: BenchConfig, session: _Session) -> list[dict[str, Any]]:
    host, port = cfg.address
    run_tag = secrets.token_hex(3)
    topics = [f"bench/{run_tag}/t{k}" for k in range(max(1, cfg.topics))]
    rate_each = cfg.rate / cfg.pubs if cfg.rate and cfg.pubs else 0.0
    base = {
        "door": cfg.door,
        "host": host,
        "port": port,
        "path": cfg.path,
        "session": session.name,
        "password": session.password,
        "size": cfg.size,
        "window": cfg.window if not cfg.rate else max(cfg.window, 10_000),
        "rate": rate_each,
        "messages": math.ceil(cfg.messages / cfg.pubs) if cfg.messages and cfg.pubs else 0,
        "ack": cfg.ack,
        "batch": max(1, cfg.batch),
        "idle_timeout": 60.0 + cfg.drain_timeout + (cfg.max_time if cfg.messages else 0),
        "publishers": [],
        "subscribers": [],
        "subscribers_of": {t: [i for i in range(cfg.subs) if topics[i % len(topics)] == t] for t in topics},
    }
    specs: list[dict[str, Any]] = []
    if cfg.idle:
        per = 2500 if cfg.door == "ws" else 500
        n = cfg.procs or max(1, min(4, math.ceil(cfg.idle / per)))
        for _ in range(n):
            specs.append({**base, "role": "idle", "connect_concurrency": 50})
        return specs
    procs = cfg.procs or 2
    sub_procs = max(1, procs // 2) if cfg.subs else 0
    pub_procs = max(1, procs - sub_procs) if cfg.pubs else 0
    subs = [(i, topics[i % len(topics)]) for i in range(cfg.subs)]
    pubs = [(i, topics[i % len(topics)]) for i in range(cfg.pubs)]
    # Subscriber i connects to the i-th address mod N: a process per address at least.
    addresses = cfg.sub_addresses[: max(1, cfg.subs)]
    for k, (sub_host, sub_port) in enumerate(addresses):
        mine = subs[k :: len(addresses)]
        for group in _split(mine, max(1, sub_procs // len(addresses))) if mine else []:
            specs.append({**base, "host": sub_host, "port": sub_port, "role": "sub", "subscribers": group})
    for group in _split(pubs, pub_procs) if pubs else []:
        specs.append({**base, "role": "pub", "publishers": group})
    if cfg.stalled:
        specs.append({**base, "role": "stalled", "stalled": [_stalled_address(a) + (topics[0],) for a in cfg.stalled]})
    return specs


def _stalled_address(text: str) -> tuple[str, str, int]:
    """``DOOR=HOST:PORT`` of a never-reading subscriber."""
    door, _, address = text.partition("=")
    host, _, port = address.rpartition(":")
    if door not in ("ws", "grpc") or not port.isdigit():
        raise BenchError(f"--stalled must be ws=HOST:PORT or grpc=HOST:PORT, not {text!r}")
    return door, host.strip("[]") or "127.0.0.1", int(port)


# ---------------------------------------------------------------------- the run


def _sum(samples: list[dict[str, Any]], key: str) -> int:
    return sum(s[key] for s in samples)


def _progress(cfg: BenchConfig, text: str, final: bool = False) -> None:
    if not cfg.progress:
        return
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[2K" + text + ("\n" if final else ""))
    else:
        sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _server_pids(cfg: BenchConfig) -> dict[str, int]:
    """The server's processes by role: as given, else the local listener of the port."""
    if cfg.server_pids:
        return cfg.server_pids
    host, port = cfg.address
    pid = proc.find_listener(port) if host in proc.LOCAL_HOSTS else None
    return {"server": pid} if pid else {}


def run(cfg: BenchConfig) -> dict[str, Any]:
    """Run one benchmark and return its report (see ``report_text`` for the fields)."""
    if cfg.door not in ("ws", "grpc", "mqtt"):
        raise BenchError("door must be ws, grpc or mqtt")
    if cfg.door == "mqtt" and (cfg.idle or not cfg.ack):
        raise BenchError("the mqtt door measures QoS 1 publish/subscribe only (no --idle, no --no-ack)")
    if not cfg.idle and (cfg.pubs < 0 or cfg.subs < 0 or (cfg.pubs == 0 and cfg.subs == 0)):
        raise BenchError("need publishers or subscribers (or --idle)")
    pids = _server_pids(cfg)
    session = _Session(cfg)
    session.create()
    workers: _Workers | None = None
    try:
        specs = _plan(cfg, session)
        workers = _Workers(specs)
        ready = workers.recv_all(120, "setup")
        failed = [r["error"] for r in ready if not r.get("ready")]
        if failed:
            raise BenchError(f"set-up failed: {failed[0]}")
        if cfg.idle:
            return _idle(cfg, pids, workers)
        return _measure(cfg, pids, workers, specs)
    finally:
        if workers is not None:
            workers.close()
        session.drop()


def _idle(cfg: BenchConfig, pids: dict[str, int], workers: _Workers) -> dict[str, Any]:
    """RSS per idle initialized connection, as the marginal cost: a first batch of
    connections is opened and the RSS read before the rest are. The first ones pay
    one-time costs (the first init's password hashing in a thread pool, allocator
    arenas, caches) that are not per connection."""
    warm = max(1, min(100, cfg.idle // 10))
    rest = cfg.idle - warm
    n = len(workers.pipes)

    def open_on(counts: list[int]) -> None:
        idx = [i for i, c in enumerate(counts) if c]
        for i in idx:
            workers.pipes[i].send({"cmd": "open", "count": counts[i]})
        for _, r in workers.collect(idx, {"cmd": "open"}, 120 + cfg.idle / 50):
            if "error" in r:
                raise BenchError(f"opening idle connections: {r['error']}")

    t0 = time.monotonic()
    open_on([warm] + [0] * (n - 1))
    time.sleep(0.5)
    server0 = _with_total(proc.sample_all(pids))
    open_on([rest // n + (1 if k < rest % n else 0) for k in range(n)])
    setup_s = time.monotonic() - t0
    time.sleep(1.0)  # let the server settle after the connection storm
    samples = [s for _, s in workers.ask({"cmd": "sample"}, 30)]
    server1 = _with_total(proc.sample_all(pids))
    report = _base_report(cfg)
    report["idle"] = {
        "connections": cfg.idle,
        "warm_up_connections": warm,
        "setup_s": round(setup_s, 2),
        "closed": _sum(samples, "closed"),
        "errors": sorted({e for s in samples for e in s["errors"]}),
    }
    report["server"] = _per_role(
        pids,
        lambda x: {
            "rss_before": server0[x].rss,
            "rss_after": server1[x].rss,
            "rss_peak": server1[x].rss_peak,
            "rss_per_connection": round((server1[x].rss - server0[x].rss) / max(1, rest), 1),
        },
    )
    return report


Samples = dict[str, proc.ProcSample]
ALL = ""  # the role standing for every process together in ``_per_role``


def _per_role(pids: dict[str, int], figures: Callable[[str], dict[str, Any]]) -> dict[str, Any] | None:
    """The server's figures, all its processes together, with each role's beside them
    (``processes``). ``figures(role)`` computes them from samples keyed by role, where
    the role ``ALL`` is the processes' total (``proc.total``)."""
    if not pids:
        return None
    return {**figures(ALL), "processes": {role: {"pid": pid, **figures(role)} for role, pid in pids.items()}}


def _with_total(samples: Samples) -> Samples:
    return {**samples, ALL: proc.total(samples.values())} if samples else {}


def _base_report(cfg: BenchConfig) -> dict[str, Any]:
    conf = asdict(cfg)
    for secret in ("admin_token", "admin_pass", "password"):
        conf.pop(secret, None)
    conf.pop("progress", None)
    conf["wire_payload_bytes"] = wire_size(cfg.size)
    return {"tool": "fastport bench", "format": 1, "config": conf, "started_at": time.time()}


def _measure(cfg: BenchConfig, pids: dict[str, int], workers: _Workers, specs: list[dict[str, Any]]) -> dict[str, Any]:
    report = _base_report(cfg)
    server_ready = _with_total(proc.sample_all(pids))
    count_mode = cfg.messages > 0
    workers.send_all({"cmd": "start"})
    t0 = time.monotonic()
    warm = 0.0 if count_mode else cfg.warmup
    win_start_t = t0 + warm
    win_end_t = t0 + warm + cfg.duration if not count_mode else t0 + cfg.max_time
    marks: dict[str, tuple[float, list[dict[str, Any]], Samples]] = {}
    interval_max_gen = 0.0

    def take(reset: bool, latency: bool) -> tuple[float, list[dict[str, Any]], Samples]:
        got = workers.ask({"cmd": "sample", "reset": reset, "latency": latency}, 30)
        samples = [s for _, s in sorted(got)]
        return time.monotonic(), samples, _with_total(proc.sample_all(pids))

    if count_mode or warm == 0:
        marks["start"] = take(True, False)
        prev = marks["start"]
    else:
        prev = take(False, False)
    next_tick = t0 + 1.0
    timed_out = False
    while True:
        now = time.monotonic()
        measuring = "start" in marks
        target = min(next_tick, win_end_t if measuring else win_start_t)
        if now < target:
            time.sleep(min(target - now, 0.2))
            continue
        if "start" not in marks and now >= win_start_t:
            snap = marks["start"] = take(True, False)
            next_tick = snap[0] + 1.0
        elif now >= win_end_t:
            if count_mode:
                timed_out = True
                break
            snap = marks["end"] = take(False, True)
        else:
            snap = take(False, False)
            next_tick += 1.0
        interval_max_gen = max(interval_max_gen, _line(cfg, t0, prev, snap, measuring))
        prev = snap
        if "end" in marks:
            break
        if count_mode and not any(s["publishing"] for s in snap[1]):
            break
    # Publishers stop, then wait for their outstanding results.
    stopped = workers.ask({"cmd": "stop", "timeout": cfg.drain_timeout}, cfg.drain_timeout + 30, only="pub")
    if count_mode:
        marks["end"] = take(False, True)
    acked: dict[str, int] = {}
    for _, r in stopped:
        for index, bitmap in r["acked"].items():
            acked[index] = int.from_bytes(bitmap, "little")
    pub_topic = {str(i): t for s in specs for i, t in s["publishers"]}
    expected: dict[str, dict[str, int]] = {}
    for index, bits in acked.items():
        expected.setdefault(pub_topic[index], {})[index] = bits.bit_count()
    drained = workers.ask({"cmd": "drain", "expected": expected, "timeout": cfg.drain_timeout}, cfg.drain_timeout + 30, only="sub")
    final_t, final, server_final = take(False, False)
    lost = 0
    want = 0
    for _, r in drained:
        for sub in r["subscribers"]:
            for index in expected.get(sub["topic"], {}):
                bits = acked[index]
                got = int.from_bytes(sub["received"].get(index, b""), "little")
                want += bits.bit_count()
                lost += (bits & ~got).bit_count()
    if cfg.progress and sys.stderr.isatty():
        sys.stderr.write("\n")

    t_a, a, sa = marks["start"]
    t_b, b, sb = marks["end"]
    span = t_b - t_a
    hist = Histogram()
    for s in b:
        if "latency" in s:
            hist.merge(*s["latency"])
    gen = []
    for spec, x, y in zip(specs, a, b):
        gen.append({"role": spec["role"], "cpu": round((y["cpu"] - x["cpu"]) / span, 3)})
    acked_n = _sum(b, "acked") - _sum(a, "acked")
    delivered_n = _sum(b, "delivered") - _sum(a, "delivered")
    results: dict[str, Any] = {
        "window_s": round(span, 3),
        "acked_per_s": round(acked_n / span, 1),
        "published_per_s": round((_sum(b, "published") - _sum(a, "published")) / span, 1),
        "deliveries_per_s": round((_sum(b, "delivered") - _sum(a, "delivered")) / span, 1),
        "acks_received_per_s": round((_sum(b, "acks_received") - _sum(a, "acks_received")) / span, 1),
        "latency_us": hist.summary(),
        "published": _sum(final, "published"),
        "acked": _sum(final, "acked"),
        "publish_errors": _sum(final, "pub_errors"),
        "delivered": _sum(final, "delivered"),
        "expected_deliveries": want,
        "lost": lost,
        "duplicates": _sum(final, "duplicates"),
        "retries_seen": _sum(final, "retries"),
        "foreign": _sum(final, "foreign"),
        "connections_closed": _sum(final, "closed"),
        "errors": sorted({e for s in final for e in s["errors"]})
        + ([f"--messages run stopped after max_time {cfg.max_time} s"] if timed_out else []),
    }
    max_cpu = max(g["cpu"] for g in gen)
    report["results"] = results
    report["generator"] = {
        "processes": gen,
        "max_process_cpu": max_cpu,
        "max_interval_cpu": round(interval_max_gen, 3),
        "total_cpu": round(sum(g["cpu"] for g in gen), 3),
        # All generator processes' CPU per acked publish: beside the server's, it says
        # which side of the run was the busy one.
        "cpu_us_per_acked": round(sum(g["cpu"] for g in gen) * 1e6 / (acked_n / span), 2) if acked_n else None,
        "saturated": max_cpu > SATURATED or interval_max_gen > SATURATED,
    }
    def figures(role: str) -> dict[str, Any]:
        cpu = sb[role].cpu_s - sa[role].cpu_s
        out = {
            "cpu": round(cpu / span, 3),
            "cpu_us_per_acked": round(cpu * 1e6 / acked_n, 2) if acked_n else None,
            "cpu_us_per_delivery": round(cpu * 1e6 / delivered_n, 2) if delivered_n else None,
            "rss_ready": server_ready[role].rss,
            "rss_end": server_final[role].rss,
            "rss_peak": server_final[role].rss_peak,
        }
        if not cfg.ack and cfg.messages and results["acked"]:
            out["rss_per_pending_message"] = round((server_final[role].rss - server_ready[role].rss) / results["acked"], 1)
        return out

    report["server"] = _per_role(pids, figures)
    return report


def _line(
    cfg: BenchConfig,
    t0: float,
    a: tuple[float, list[dict[str, Any]], Samples],
    b: tuple[float, list[dict[str, Any]], Samples],
    measuring: bool,
) -> float:
    """Print one progress line for the interval a→b; returns the busiest generator process's CPU."""
    dt = b[0] - a[0]
    if dt <= 0:
        return 0.0
    gen: float = max((y["cpu"] - x["cpu"]) / dt for x, y in zip(a[1], b[1]))
    acked = (_sum(b[1], "acked") - _sum(a[1], "acked")) / dt
    deliv = (_sum(b[1], "delivered") - _sum(a[1], "delivered")) / dt
    server = ""
    if a[2] and b[2]:
        x, y = a[2][ALL], b[2][ALL]
        server = f"  server cpu {100 * (y.cpu_s - x.cpu_s) / dt:3.0f}% rss {y.rss / 2**20:.0f} MiB"
    phase = "measure" if measuring else "warm-up"
    _progress(
        cfg,
        f"[{b[0] - t0:5.1f}s {phase}] acked {acked:9,.0f}/s  deliveries {deliv:9,.0f}/s"
        f"{server}  generator cpu {100 * gen:3.0f}%",
    )
    return gen


# ---------------------------------------------------------------------- text


def report_text(report: dict[str, Any]) -> str:
    c = report["config"]
    lines = []
    what = (
        f"{c['idle']} idle connections"
        if c["idle"]
        else f"{c['pubs']} pub -> {c['subs']} sub on {c['topics']} topic(s), {c['size']} B "
        f"(wire {c['wire_payload_bytes']} B), "
        + (f"rate {c['rate']:.0f}/s" if c["rate"] else f"window {c['window']}")
        + (", acks" if c["ack"] else ", no acks")
    )
    lines.append(f"fastport bench: {c['door']} {c['server'] or DEFAULT_ADDRESS[c['door']]}: {what}")
    if "idle" in report:
        i = report["idle"]
        lines.append(f"  set up in {i['setup_s']} s, {i['closed']} closed (RSS measured after the first {i['warm_up_connections']})")
        s = report.get("server")
        for role, x in [("server", s)] + (list(s["processes"].items()) if s and len(s["processes"]) > 1 else []):
            if x:
                lines.append(
                    f"  {role} RSS {x['rss_before'] / 2**20:.1f} -> {x['rss_after'] / 2**20:.1f} MiB: "
                    f"{x['rss_per_connection'] / 1024:.1f} KiB per connection"
                )
        return "\n".join(lines)
    r = report["results"]
    lat = r["latency_us"]
    lines.append(
        f"  acked publishes {r['acked_per_s']:,.0f}/s   deliveries {r['deliveries_per_s']:,.0f}/s"
        f"   (window {r['window_s']} s)"
    )
    if lat["count"]:
        lines.append(
            f"  latency p50 {lat['p50'] / 1000:.2f} ms  p90 {lat['p90'] / 1000:.2f} ms  "
            f"p99 {lat['p99'] / 1000:.2f} ms  max {lat['max'] / 1000:.2f} ms  ({lat['count']:,} samples)"
        )
    lines.append(
        f"  published {r['published']:,}  acked {r['acked']:,}  errors {r['publish_errors']}  "
        f"delivered {r['delivered']:,}/{r['expected_deliveries']:,}  lost {r['lost']}  duplicates {r['duplicates']}"
    )
    s = report.get("server")
    if s:
        lines.append(
            f"  server: cpu {100 * s['cpu']:.0f}% of a core, {s['cpu_us_per_acked']} µs per acked message, "
            f"RSS {s['rss_end'] / 2**20:.1f} MiB (peak {s['rss_peak'] / 2**20:.1f})"
        )
        if "rss_per_pending_message" in s:
            lines.append(f"  server RSS per pending message: {s['rss_per_pending_message']:.0f} B")
        if len(s["processes"]) > 1:
            for role, x in s["processes"].items():
                per = f" ({x['cpu_us_per_delivery']} per delivery)" if c["subs"] > 1 and x["cpu_us_per_delivery"] else ""
                lines.append(
                    f"    {role} (pid {x['pid']}): cpu {100 * x['cpu']:.0f}%, {x['cpu_us_per_acked']} µs per acked message{per}, "
                    f"RSS {x['rss_end'] / 2**20:.1f} MiB"
                )
    else:
        lines.append("  server: not local (no CPU/RSS figures)")
    g = report["generator"]
    procs = ", ".join(f"{p['role']} {100 * p['cpu']:.0f}%" for p in g["processes"])
    per = f", {g['cpu_us_per_acked']} µs per acked message in all" if g.get("cpu_us_per_acked") else ""
    lines.append(f"  generator cpu: {procs}{per}" + ("   ** ABOVE 80% OF A CORE: may be the bottleneck **" if g["saturated"] else ""))
    for e in r["errors"]:
        lines.append(f"  error: {e}")
    return "\n".join(lines)


def env_admin(cfg: BenchConfig) -> None:
    """Fill admin credentials from the environment when not given."""
    cfg.admin_token = cfg.admin_token or os.environ.get("FASTPORT_ADMIN_TOKEN")
    cfg.admin_user = cfg.admin_user or os.environ.get("FASTPORT_ADMIN_USER")
    cfg.admin_pass = cfg.admin_pass or os.environ.get("FASTPORT_ADMIN_PASS")
