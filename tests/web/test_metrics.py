"""``GET /metrics`` scraped from a real server and read with prometheus_client's own
parser: counters follow what clients did, the give-up reasons and frame error codes are
labelled, and per-session series appear only when asked for, for at most N sessions."""

from __future__ import annotations

import aiohttp

from fastport.app import App

from .wire import Rest, connect, make_session, open_joined, scrape, tick





async def test_metrics_follow_the_traffic(app: App, ws, rest, clock) -> None:
    before = await scrape(app)
    assert before[("fastport_sessions", ())] == 0 and before[("fastport_connections", ())] == 0
    assert ("process_cpu_seconds_total", ()) in before
    await make_session(rest, retryInterval=1000, maxRetryLimit=1)
    acker = await open_joined(ws, "t")
    silent = await open_joined(ws, "t")
    publisher = await open_joined(ws)
    await publisher.send({"type": "publish", "topic": "t", "data": "12345", "messageId": "m1"})
    assert (await publisher.recv())["deliveredTo"] == 2
    await acker.recv_text(), await silent.recv_text()
    await acker.send({"type": "ack", "topic": "t", "messageId": "m1"})
    assert (await publisher.recv())["remaining"] == 1
    await publisher.send_raw("{not json")
    await publisher.send({"type": "teleport"})
    await publisher.recv(), await publisher.recv()

    during = await scrape(app)
    assert during[("fastport_sessions", ())] == 1
    assert during[("fastport_connections", ())] == 3
    assert during[("fastport_publishes_total", ())] == 1
    assert during[("fastport_deliveries_total", ())] == 2
    assert during[("fastport_acks_total", ())] == 1
    assert during[("fastport_pending_messages", ())] == 1
    assert during[("fastport_pending_bytes", ())] == 5
    errors = {labels: v for (name, labels), v in during.items() if name == "fastport_frame_errors_total"}
    assert errors == {
        (("code", "invalid_frame"), ("door", "websocket")): 1,
        (("code", "unknown_type"), ("door", "websocket")): 1,
    }
    assert not [name for name, _ in during if name.startswith("fastport_session_")]  # off by default

    await tick(clock, 1000)  # the re-send
    await silent.recv_text()
    await tick(clock, 1000)  # the retry limit: given up
    after = await scrape(app)
    assert after[("fastport_retries_total", ())] == 1
    assert after[("fastport_give_ups_total", (("reason", "retry_limit"),))] == 1
    assert after[("fastport_pending_messages", ())] == 0


async def test_store_commit_latency_and_bounded_session_series(start_app, clock) -> None:
    app = await start_app(store="sqlite", metrics_sessions=2)
    async with aiohttp.ClientSession() as http:
        rest = Rest(http, app.http_port)
        for name in ("a", "b", "c"):
            assert (await rest.create_session(name, "pw"))[0] == 200
        subscribers = []
        for name, backlog in (("a", 1), ("b", 3), ("c", 2)):
            sub = await connect(app.http_port)
            subscribers.append(sub)
            await sub.init(name, "pw")
            await sub.send({"type": "subscribe", "topic": "t"})
            await sub.recv()
            pub = await connect(app.http_port)
            subscribers.append(pub)
            await pub.init(name, "pw")
            for i in range(backlog):
                await pub.send({"type": "publish", "topic": "t", "data": "x", "messageId": f"m{i}"})
                assert (await pub.recv())["deliveredTo"] == 1
        metrics = await scrape(app)
        for client in subscribers:
            await client.close()
    assert metrics[("fastport_store_commit_seconds_count", ())] >= 1
    assert metrics[("fastport_store_commit_seconds_bucket", (("le", "+Inf"),))] == metrics[
        ("fastport_store_commit_seconds_count", ())
    ]
    pending = {labels: v for (name, labels), v in metrics.items() if name == "fastport_session_pending_messages"}
    assert pending == {(("session", "b"),): 3, (("session", "c"),): 2}  # the top 2 only
