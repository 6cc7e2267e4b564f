"""The subscriptions registry (engines/jetstream/subscriptions.py): what deliveredTo
counts, kept alike on every node through the KV bucket, and cleaned of a dead node's
subscriptions once the servers delete their consumers."""

from __future__ import annotations


from nats.aio.msg import Msg

from fastport.engines.jetstream.consumers import Consumer
from fastport.engines.jetstream.link import NatsLink
from fastport.engines.jetstream.mirror import Mirror
from fastport.engines.jetstream.streams import stream_config
from fastport.engines.jetstream.subscriptions import BUCKET, Entry, Registry, SubscriptionsKV, entry_key

from .support import eventually, record


def test_a_publish_counts_distinct_subscribers_less_the_publisher() -> None:
    registry = Registry()
    for entry in [
        Entry("s", "alice", True, "a/#"),
        Entry("s", "alice", True, "a/b"),  # the same subscriber twice: counted once
        Entry("s", "n1 4", False, "a/+"),
        Entry("s", "n2 9", False, "b"),
        Entry("other", "n1 5", False, "a/b"),  # another session: never counted
    ]:
        registry.add(entry)
    assert registry.count("s", "a/b") == 2
    assert registry.count("s", "a/b", skip="n1 4") == 1
    assert registry.count("s", "a") == 1  # a/# matches a
    assert registry.count("s", "b", skip="alice") == 1
    assert registry.count("nobody", "a/b") == 0
    assert registry.size("s") == 4
    assert sorted(registry.persistent_patterns("s", "alice")) == ["a/#", "a/b"]
    assert registry.persistent_patterns("s", "n1 4") == []
    registry.add(Entry("s", "n1 4", False, "a/+"))  # again: the node's own write come back
    assert registry.count("s", "a/b") == 2
    registry.remove(Entry("s", "n1 4", False, "a/+"))
    registry.remove(Entry("s", "n1 4", False, "a/+"))  # again: nothing more happens
    assert registry.count("s", "a/b") == 1
    registry.drop_session("s")
    assert registry.count("s", "a/b") == 0 and registry.count("other", "a/b") == 1


async def mirror_into(link: NatsLink, registry: Registry) -> Mirror[Entry]:
    mirror = Mirror(link.js, BUCKET, Entry.decode, registry.add, registry.remove)
    for entry in await mirror.start():
        registry.add(entry)
    return mirror


async def ignore(msg: Msg) -> None:
    pass



async def test_a_subscription_made_on_one_node_is_counted_on_the_other(links: list[NatsLink]) -> None:
    a, b = links
    on_a = await SubscriptionsKV.open(a.js, replicas=1)
    await on_a.put(entry_key("fastport_x", "c1"), Entry("s", "early", True, "t"))
    registry = Registry()
    mirror = await mirror_into(b, registry)
    try:
        assert registry.count("s", "t") == 1  # what was there before B started
        await on_a.put(entry_key("fastport_x", "c2"), Entry("s", "a 1", False, "t/#"))
        await eventually(lambda: registry.count("s", "t") == 2)
        await on_a.delete(entry_key("fastport_x", "c1"))
        await eventually(lambda: registry.count("s", "t") == 1)
    finally:
        await mirror.close()


async def test_a_dead_nodes_subscriptions_go_when_the_servers_delete_their_consumers(links: list[NatsLink]) -> None:
    a, b = links
    r = record("dead node")
    await a.js.add_stream(stream_config(r, 60_000, 1))
    kv_b = await SubscriptionsKV.open(b.js, replicas=1)
    registry = Registry()
    mirror = await mirror_into(b, registry)
    await kv_b.clean_up_after_servers(b.nc, mirror.values)
    try:
        consumer = await Consumer.open(a, r, "t", ignore, inactive_s=0.5)
        kv_a = await SubscriptionsKV.open(a.js, replicas=1)
        await kv_a.put(entry_key(consumer.stream, consumer.name), Entry(r.name, "a 1", False, "t"))
        await eventually(lambda: registry.count(r.name, "t") == 1)
        await a.close()  # node A dies: nobody deletes its consumer or its entry
        await eventually(lambda: registry.count(r.name, "t") == 0)  # the server did, then node B
    finally:
        await kv_b.close()
        await mirror.close()
