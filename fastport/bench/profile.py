"""Profile a fastport server under load: ``python -m fastport.bench.profile``.

Starts ``fastport serve`` (or uses ``--pid``), drives it with ``fastport bench`` and
samples it with py-spy meanwhile, then prints where the server's time goes: the
functions that were on the CPU themselves ("self") and those with the most time
under them ("total"), as shares of all samples. ``--raw FILE`` keeps py-spy's
collapsed stacks (for a flame graph: ``py-spy record --format flamegraph``).

py-spy samples wall-clock stacks: a server that is preempted (on a loaded 2-core
machine, typically right after a socket write wakes the generator up) is counted in
whatever it was doing, which inflates the share of writes. So by default the server
is pinned to CPU 0 and the generator to the others (``--no-pin`` to turn it off):
then the server's samples are its own CPU time.

Each share is also given in µs per acked message (share × the run's server CPU per
acked message), and self time is summed per layer (the broker core, each door, the
libraries under them), which is what bench/README.md's "where the time goes" quotes.
``--out DIR`` writes ``DIR/<door>-<shape>.txt`` (the run's report and the summary)
and ``.collapsed`` (py-spy's raw stacks); ``make profile`` does so for both doors
under shape (a). py-spy needs ptrace rights on the server (root, or
CAP_SYS_PTRACE, or kernel.yama.ptrace_scope 0).

``--engine jetstream`` profiles the jetstream engine instead (``servers.Cluster``: two
nodes on a nats-server, the publisher on node A, subscribers on node B, then A...):
both nodes are sampled at once, each summarised on its own with its own CPU per acked
message; pinned, the nodes share CPU 0 and nats-server runs with the generator.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .runner import report_text, run
from .proc import CLOCK_TICKS
from .servers import ADMIN_TOKEN, Cluster, Server, Target
from .settings import BenchConfig

_LINE = re.compile(r":\d+\)$")


# Layers, by the path in a frame's name (first match wins).
LAYERS: tuple[tuple[str, str], ...] = (
    ("fastport/core/", "broker core (fastport/core)"),
    ("fastport/engines/", "engine (fastport/engines)"),
    ("fastport/store/", "store (fastport/store)"),
    ("fastport/web/", "WebSocket door (fastport/web)"),
    ("fastport/rpc/", "gRPC door (fastport/rpc)"),
    ("fastport/", "fastport, other"),
    ("nats/", "nats-py"),
    ("aiohttp/", "aiohttp"),
    ("grpc/", "grpc.aio (Python and Cython)"),
    ("google/protobuf", "protobuf"),
    ("asyncio/", "asyncio / uvloop"),
    ("uvloop", "asyncio / uvloop"),
)


def layer(frame: str) -> str:
    for marker, name in LAYERS:
        if marker in frame:
            return name
    return "other (stdlib, C)"


def summarize(raw: str, top: int = 25, us_per_msg: float | None = None) -> str:
    """Self and total shares of the samples, per function and (self) per layer;
    with ``us_per_msg`` (the sampled threads' CPU per acked message), each share also
    as µs per acked message."""
    layers: collections.Counter[str] = collections.Counter()
    self_counts: collections.Counter[str] = collections.Counter()
    total_counts: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_LINE.sub(")", f) for f in stack.split(";")]
        if frames and frames[0].startswith("process "):
            frames = frames[1:]
        if frames and frames[0].startswith("thread "):
            frames = frames[1:]
        if not frames or any("_bootstrap (threading.py)" in f for f in frames):
            continue  # idle pool threads (py-spy counts a thread waiting on a lock as busy)
        if frames[-1].startswith(("epoll_wait ", "epoll_pwait ")):
            continue  # the event loop waiting: with --native, py-spy counts it as busy
        samples += n
        self_counts[frames[-1]] += n
        layers[layer(frames[-1])] += n
        for f in set(frames):
            total_counts[f] += n
    out = [f"{samples} samples" + (f"; sampled threads' CPU {us_per_msg:.1f} µs per acked message" if us_per_msg else "")]
    if not samples:
        return out[0]

    def share(n: int) -> str:
        text = f"{100 * n / samples:5.1f}%"
        return text + (f" {us_per_msg * n / samples:5.2f} µs" if us_per_msg else "")

    for title, counts, limit in (("self, per layer", layers, len(layers)), ("self", self_counts, top), ("total", total_counts, top)):
        out.append(f"\n-- {title} --")
        for name, n in counts.most_common(limit):
            out.append(f"{share(n)}  {name}")
    return "\n".join(out)


def thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    """Each of a process's threads: its name and CPU seconds (utime+stime). py-spy sees
    only the threads that run Python, while grpc's C-core threads are in the server's
    CPU figure too."""
    out: dict[int, tuple[str, float]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(task.name)] = (stat[stat.index("(") + 1 : stat.rindex(")")], (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return out


def thread_shares(pid: int, before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """Each thread name's share of the process's CPU between two ``thread_cpu`` reads;
    the main thread (whose id is the process's) as ``main (event loop)``."""
    spent = {tid: (name, cpu - before.get(tid, (name, 0.0))[1]) for tid, (name, cpu) in after.items()}
    total = sum(cpu for _, cpu in spent.values()) or 1.0
    shares: dict[str, float] = {}
    for tid, (name, cpu) in spent.items():
        key = "main (event loop)" if tid == pid else name
        shares[key] = shares.get(key, 0.0) + cpu / total
    return shares


def _summary(us: float | None, shares: dict[str, float], raw: str, top: int) -> str:
    """One process's CPU by thread and its samples' summary, with ``us`` its CPU per
    acked message."""
    threads = "server CPU by thread (py-spy samples the main thread's Python; shares below are of it):\n" + "\n".join(
        f"{100 * s:5.1f}%" + (f" {us * s:5.2f} µs" if us else "") + f"  {name}"
        for name, s in sorted(shares.items(), key=lambda kv: -kv[1])
        if s >= 0.005
    )
    main_us = us * shares.get("main (event loop)", 0.0) if us else None
    return threads + "\n" + summarize(raw, top, main_us)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fastport.bench.profile", description=__doc__.split("\n\n")[0])
    p.add_argument("--door", choices=("ws", "grpc"), default="ws")
    p.add_argument("--engine", choices=("embedded", "jetstream"), default="embedded",
                   help="jetstream: two nodes on a nats-server, both profiled (publisher on node A, subscribers on B)")
    p.add_argument("--store", default="memory")
    p.add_argument("--subs", type=int, default=1)
    p.add_argument("--pubs", type=int, default=1)
    p.add_argument("--topics", type=int, default=1)
    p.add_argument("--seconds", type=float, default=8.0, help="profiled seconds")
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--native", action="store_true", help="include C frames (slower sampling)")
    p.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    p.add_argument("--out", type=Path, help="write <door>-<shape>.txt and .collapsed into this directory")
    p.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True, help="server on CPU 0, generator on the others")
    args = p.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    server: Target = Cluster().start() if args.engine == "jetstream" else Server("fastport", args.store).start()
    sampled = {role: pid for role, pid in server.pids.items() if role != "nats"}  # the Python processes
    report: dict[str, Any] = {}
    cpus = sorted(os.sched_getaffinity(0))
    if args.pin and len(cpus) > 1:
        for role, pid in server.pids.items():
            os.sched_setaffinity(pid, cpus[:1] if role in sampled else cpus[1:])
        os.sched_setaffinity(0, cpus[1:])  # inherited by the generator processes
    raw: dict[str, str] = {}
    try:
        cfg = BenchConfig(
            door=args.door, server=server.address(args.door), sub_servers=server.sub_addresses(args.door),
            pubs=args.pubs, subs=args.subs, topics=args.topics, duration=args.seconds + 3, warmup=1.0,
            admin_token=ADMIN_TOKEN, server_pids=server.pids, progress=False,
        )
        thread = threading.Thread(target=lambda: report.update(run(cfg)), daemon=True)
        thread.start()
        time.sleep(2.0)  # processes started, warm-up done
        # The split by thread is read over a second without py-spy: each of its stops
        # wakes grpc's sleeping threads, which then look busy (3% of the server, against
        # 0 unprofiled, under a WebSocket load).
        before = {role: thread_cpu(pid) for role, pid in sampled.items()}
        time.sleep(1.0)
        shares = {role: thread_shares(pid, before[role], thread_cpu(pid)) for role, pid in sampled.items()}
        with tempfile.TemporaryDirectory() as tmp:
            spies = {}
            for role, pid in sampled.items():
                cmd = [spy, "record", "--pid", str(pid), "--duration", str(int(args.seconds)), "--rate", str(args.rate),
                       "--format", "raw", "--output", f"{tmp}/{role}.txt"]
                if args.native:
                    cmd.append("--native")
                spies[role] = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for role, spying in spies.items():
                _, err = spying.communicate()
                if spying.returncode:
                    raise SystemExit(f"py-spy failed on {role}: {err.decode(errors='replace')}")
                raw[role] = Path(f"{tmp}/{role}.txt").read_text()
        thread.join(args.seconds + 60)
    finally:
        server.stop()
    alone = len(sampled) == 1
    if args.raw:
        args.raw.write_text("".join(raw.values()))
    parts = [report_text(report)] if report else []
    processes = (report.get("server") or {}).get("processes", {})
    for role, pid in sampled.items():
        us = (processes.get(role) or {}).get("cpu_us_per_acked")
        parts.append(("" if alone else f"\n== {role} (pid {pid}) ==\n") + _summary(us, shares[role], raw[role], args.top))
    text = "\n".join(parts)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        shape = "a" if args.pubs == args.subs == args.topics == 1 else f"{args.pubs}x{args.subs}x{args.topics}"
        stem = f"{args.door}-{shape}" + ("" if args.store == "memory" else f"-{args.store}")
        stem += "" if args.engine == "embedded" else f"-{args.engine}"
        (args.out / f"{stem}.txt").write_text(text + "\n")
        for role in sampled:
            (args.out / (f"{stem}.collapsed" if alone else f"{stem}-{role}.collapsed")).write_text(raw[role])
        print(f"wrote {args.out / stem}.txt and .collapsed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
