"""One subscription's consumer on the servers, and the node's subscription to what it
pushes (configurations: streams.py).

The node first subscribes to a deliver subject of its own (an inbox), then creates
the consumer pushing there: nothing the consumer pushes can arrive before the node
listens. A persistent subscriber's durable consumer is found again by name by
whichever node the subscriber comes back to; creating it there with that node's
deliver subject moves its pushes there (what it kept meanwhile included).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import NotFoundError

from ...core.session import SessionRecord
from .link import NatsLink
from .streams import EPHEMERAL_INACTIVE_S, consumer_config, stream_name

# How many pushed messages (and bytes) the node's subscription buffers before nats-py
# drops them: well above what MaxAckPending (the session's in-flight limit) lets
# through, so nothing is dropped here, only held on the server.
PENDING_MSGS = 1 << 20
PENDING_BYTES = 1 << 30


@dataclass(slots=True)
class Consumer:
    """A subscription's consumer: ``name`` on the server, ``sub`` on this node."""

    stream: str
    name: str
    durable: bool
    sub: Subscription
    closed: bool = False

    @classmethod
    async def open(
        cls,
        link: NatsLink,
        record: SessionRecord,
        pattern: str,
        on_message: Callable[[Msg], Awaitable[None]],
        durable: str | None = None,
        inactive_s: float = EPHEMERAL_INACTIVE_S,
    ) -> Consumer:
        """Listen, then create (or, for a durable, take over) the consumer. Raises
        ``unavailable`` if JetStream did not answer in time (link.py)."""
        nc = link.nc
        sub = await nc.subscribe(
            nc.new_inbox(), cb=on_message, pending_msgs_limit=PENDING_MSGS, pending_bytes_limit=PENDING_BYTES
        )
        stream = stream_name(record.name)
        config = consumer_config(record, pattern, sub.subject, durable=durable, inactive_s=inactive_s)
        try:
            info = await link.call(lambda: link.js.add_consumer(stream, config), "Subscription not made")
        except BaseException:
            await sub.unsubscribe()
            raise
        return cls(stream, info.name, durable is not None, sub)

    async def retake(self, link: NatsLink, record: SessionRecord, pattern: str) -> None:
        """Make this durable push to this node's subscription again (another node may
        have pointed it at its own since this one was made: a client id taken over
        while both nodes were making it, engine.py). An update of the same consumer:
        what it holds stays."""
        config = consumer_config(record, pattern, self.sub.subject, durable=self.name)
        await link.call(lambda: link.js.add_consumer(self.stream, config), "Subscription not made")

    async def close(self, link: NatsLink, delete: bool) -> None:
        """Stop listening; ``delete``: remove the consumer too (what only it held goes).
        A durable not deleted keeps collecting for its subscriber's return. Closing
        again deletes what is left to delete, if anything."""
        if not self.closed:
            self.closed = True
            await self.sub.unsubscribe()
        if delete:
            await link.call(self._delete(link), "Subscription not removed")

    def _delete(self, link: NatsLink) -> Callable[[], Awaitable[bool]]:
        async def delete() -> bool:
            try:
                return await link.js.delete_consumer(self.stream, self.name)
            except NotFoundError:
                return False  # gone already (an ephemeral past its inactivity threshold)

        return delete
