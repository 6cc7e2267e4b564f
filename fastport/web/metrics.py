"""``GET /metrics``: the broker's figures in Prometheus' text format, read at scrape time.

A custom collector (prometheus_client's ``Collector`` protocol) turns the core's plain
counters (``core/stats.py``) and its live state into metric families when Prometheus
asks, so the hot path pays integer increments and nothing else. Per-session series are
off by default (session names are the tenants' business); ``--metrics-sessions N``
shows the N sessions with the most pending messages, so the label set stays bounded.

Pending messages and bytes are each session's running totals, as its engine keeps
them (``Broker.load``): a scrape costs one lookup per session, whatever the backlog.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ..core import Broker
from ..core.engine import SessionLoad
from ..core.session import Session
from ..core.stats import COMMIT_BUCKETS


def _by_reason(name: str, documentation: str, counts: Counter[str]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=["reason"])
    for reason, count in sorted(counts.items()):
        family.add_metric([reason], count)
    return family


class BrokerCollector(Collector):
    def __init__(self, broker: Broker, top_sessions: int) -> None:
        self._broker = broker
        self._top = top_sessions

    def collect(self) -> Iterator[Metric]:
        broker, stats = self._broker, self._broker.stats
        sessions = list(broker.sessions.values())
        yield GaugeMetricFamily("fastport_connections", "Open client connections, both doors", stats.connections)
        yield GaugeMetricFamily("fastport_sessions", "Sessions", len(sessions))
        totals = broker.totals()
        yield CounterMetricFamily("fastport_publishes", "Messages published and stored", totals.published)
        yield CounterMetricFamily(
            "fastport_deliveries", "Messages handed to a subscriber's connection, re-sends included", totals.delivered
        )
        yield CounterMetricFamily("fastport_retries", "Re-sends of unacknowledged deliveries", stats.resent)
        yield CounterMetricFamily("fastport_acks", "Deliveries acknowledged by their subscriber", totals.acked)
        yield _by_reason("fastport_give_ups", "Deliveries given up, by reason", stats.gave_up)
        yield _by_reason(
            "fastport_dead_letters", "Given-up deliveries published to a dead-letter topic, by reason", stats.dead_lettered
        )
        loads = {s.name: broker.load(s.name) for s in sessions}
        pending = sum(load.pending_messages for load in loads.values())
        pending_bytes = sum(load.pending_bytes for load in loads.values())
        yield GaugeMetricFamily("fastport_pending_messages", "Messages not yet settled by every subscriber", pending)
        yield GaugeMetricFamily("fastport_pending_bytes", "Payload bytes of the pending messages", pending_bytes)
        buckets, total = [], 0
        for bound, count in zip((*COMMIT_BUCKETS, float("inf")), stats.commit_buckets, strict=True):
            total += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), total))
        yield HistogramMetricFamily(
            "fastport_store_commit_seconds",
            "Time from handing publishes to the store until they are committed",
            buckets=buckets,
            sum_value=stats.commit_seconds,
        )
        errors = CounterMetricFamily(
            "fastport_frame_errors", "Client frames a door could not take, by door and code", labels=["door", "code"]
        )
        for (door, code), count in sorted(stats.frame_errors.items()):
            errors.add_metric([door, code], count)
        yield errors
        if self._top:
            yield from self._per_session(sessions, loads)

    def _per_session(self, sessions: list[Session], loads: dict[str, SessionLoad]) -> Iterator[Metric]:
        top = heapq.nlargest(self._top, sessions, key=lambda s: loads[s.name].pending_messages)
        labels = ["session"]
        families = (
            GaugeMetricFamily("fastport_session_pending_messages", "Pending messages of a session", labels=labels),
            GaugeMetricFamily("fastport_session_connections", "Connections of a session", labels=labels),
            GaugeMetricFamily("fastport_session_subscriptions", "Subscriptions of a session", labels=labels),
        )
        for s in top:
            families[0].add_metric([s.name], loads[s.name].pending_messages)
            families[1].add_metric([s.name], len(s.connections))
            families[2].add_metric([s.name], loads[s.name].subscriptions)
        yield from families


class Metrics:
    """The ``/metrics`` route, with its own registry (not prometheus_client's global one,
    so that servers in one process, as in the tests, do not mix)."""

    def __init__(self, broker: Broker, top_sessions: int) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(BrokerCollector(broker, top_sessions))
        ProcessCollector(registry=self.registry)

    async def handle(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
