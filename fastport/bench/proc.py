"""CPU time and memory of a local process, read from /proc (Linux).

``server CPU µs per acked message`` is the figure that does not depend on how fast
the generator is, so it is measured from the server's own accounting: utime+stime of
all its threads in /proc/PID/stat, and VmRSS/VmHWM from /proc/PID/status.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass(frozen=True, slots=True)
class ProcSample:
    cpu_s: float  # user + system seconds, all threads
    rss: int  # bytes resident now
    rss_peak: int  # bytes, high-water mark


def sample(pid: int) -> ProcSample:
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may contain spaces; fields after it are space-separated.
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    rss = peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
    return ProcSample(cpu, rss, peak)


def sample_all(pids: Mapping[str, int]) -> dict[str, ProcSample]:
    """Each of several processes (a cluster's nodes and its NATS server), by role."""
    return {role: sample(pid) for role, pid in pids.items()}


def total(samples: Iterable[ProcSample]) -> ProcSample:
    """Several processes as one: CPU and RSS summed; the peak is the sum of each one's
    peak (they need not peak at once: an upper bound)."""
    got = list(samples)
    return ProcSample(sum(x.cpu_s for x in got), sum(x.rss for x in got), sum(x.rss_peak for x in got))


def self_cpu() -> float:
    """CPU seconds of this process, all threads (grpc has its own)."""
    t = os.times()
    return t.user + t.system


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{inode}]")
    return inodes


def find_listener(port: int) -> int | None:
    """The pid of the local process listening on TCP ``port``, if it can be seen."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            for fd in (entry / "fd").iterdir():
                try:
                    if os.readlink(fd) in inodes:
                        return int(entry.name)
                except OSError:
                    continue
        except OSError:
            continue
    return None


def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one (thousands of sockets)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard
