"""What the bench's smoke tests share."""

from __future__ import annotations


def cpu_figure(value: object) -> bool:
    """A CPU figure of a report: a number, never absent. It may be 0: /proc counts CPU
    time in 10 ms ticks, and a process starved on a loaded machine can run less than a
    tick within a smoke test's half-second window."""
    return isinstance(value, (int, float)) and value >= 0
