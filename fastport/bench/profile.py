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
from .servers import ADMIN_TOKEN, Server
from .settings import BenchConfig

_LINE = re.compile(r":\d+\)$")


def summarize(raw: str, top: int = 25) -> str:
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
        samples += n
        self_counts[frames[-1]] += n
        for f in set(frames):
            total_counts[f] += n
    out = [f"{samples} samples"]
    for title, counts in (("self", self_counts), ("total", total_counts)):
        out.append(f"\n-- {title} --")
        for name, n in counts.most_common(top):
            out.append(f"{100 * n / samples:5.1f}%  {name}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fastport.bench.profile", description=__doc__.split("\n\n")[0])
    p.add_argument("--door", choices=("ws", "grpc"), default="ws")
    p.add_argument("--store", default="memory")
    p.add_argument("--subs", type=int, default=1)
    p.add_argument("--pubs", type=int, default=1)
    p.add_argument("--topics", type=int, default=1)
    p.add_argument("--seconds", type=float, default=8.0, help="profiled seconds")
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--native", action="store_true", help="include C frames (slower sampling)")
    p.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    p.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True, help="server on CPU 0, generator on the others")
    args = p.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    server = Server("fastport", args.store).start()
    report: dict[str, Any] = {}
    cpus = sorted(os.sched_getaffinity(0))
    if args.pin and len(cpus) > 1:
        os.sched_setaffinity(server.pid, cpus[:1])
        os.sched_setaffinity(0, cpus[1:])  # inherited by the generator processes
    try:
        cfg = BenchConfig(
            door=args.door, server=server.address(args.door), pubs=args.pubs, subs=args.subs, topics=args.topics,
            duration=args.seconds + 2, warmup=1.0, admin_token=ADMIN_TOKEN, server_pid=server.pid, progress=False,
        )
        thread = threading.Thread(target=lambda: report.update(run(cfg)), daemon=True)
        thread.start()
        time.sleep(3.0)  # processes started, warm-up done
        with tempfile.NamedTemporaryFile("r", suffix=".txt") as out:
            cmd = [spy, "record", "--pid", str(server.pid), "--duration", str(int(args.seconds)), "--rate", str(args.rate),
                   "--format", "raw", "--output", out.name]
            if args.native:
                cmd.append("--native")
            subprocess.run(cmd, check=True, capture_output=True)
            raw = Path(out.name).read_text()
        thread.join(args.seconds + 60)
    finally:
        server.stop()
    if args.raw:
        args.raw.write_text(raw)
    if report:
        print(report_text(report))
    print(summarize(raw, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
