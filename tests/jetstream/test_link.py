"""The node's NATS connection (engines/jetstream/link.py) against real nats-servers: a
clear error when NATS cannot be reached at start, readiness that follows the
connection, publishes refused with ``unavailable`` while NATS is away (never
confirmed), and messages the server would refuse refused before they are sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.js.api import Header

from fastport.core import BrokerError, ErrorCode
from fastport.engines.jetstream.link import NatsLink, header_bytes
from fastport.core.session import Limits
from fastport.engines.jetstream.streams import consumer_config, stream_config, stream_name
from fastport.engines.jetstream.subjects import SessionSubjects

from ..support import self_signed_certificate
from .support import WAIT_S, link_options, record
from .servers import NatsServer, free_port, tls_options, wait_ready


options = link_options


@pytest.fixture
async def link(nats_server: NatsServer) -> AsyncIterator[NatsLink]:
    node = NatsLink(options(nats_server.url))
    await node.open()
    yield node
    await node.close()


async def add_session(link: NatsLink, name: str, **changes: object) -> SessionSubjects:
    await link.js.add_stream(stream_config(record(name, **changes), 60_000, 1))
    return SessionSubjects.of(name)


async def test_nats_down_at_start_is_a_clear_error() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    node = NatsLink(options(url, connect_timeout_s=1.0))
    with pytest.raises(BrokerError) as err:
        await node.open()
    assert err.value.code == ErrorCode.UNAVAILABLE
    assert url in err.value.message and "cannot reach NATS" in err.value.message
    assert not node.ready


async def test_a_missing_credentials_file_is_a_clear_error(nats_server: NatsServer, tmp_path: Path) -> None:
    node = NatsLink(options(nats_server.url, creds=tmp_path / "none.creds"))
    with pytest.raises(BrokerError, match="credentials file .*none.creds does not exist"):
        await node.open()


async def test_connected_it_is_ready_and_knows_the_servers_max_payload(link: NatsLink) -> None:
    assert link.ready
    assert link.max_payload == 1024 * 1024  # nats-server's default


async def test_the_largest_message_the_server_takes_is_published_and_one_byte_more_refused(link: NatsLink) -> None:
    subjects = await add_session(link, "big")
    headers = {Header.MSG_ID: "m1", "Fastport-Meta": '{"t":1}'}
    fits = b"x" * (link.max_payload - header_bytes(headers))
    ack = await link.publish(subjects.topic("t"), fits, headers)
    assert ack.seq == 1
    with pytest.raises(BrokerError) as err:
        await link.publish(subjects.topic("t"), fits + b"x", {**headers, Header.MSG_ID: "m2"})
    assert err.value.code == ErrorCode.PAYLOAD_TOO_LARGE
    assert link.ready  # the connection was never at risk
    again = await link.publish(subjects.topic("t"), b"small", {Header.MSG_ID: "m3"})
    assert again.seq == 2


async def test_a_republished_id_is_answered_as_a_duplicate(link: NatsLink) -> None:
    subjects = await add_session(link, "dup")
    await link.js.add_consumer(stream_name("dup"), consumer_config(record("dup"), "t", link.nc.new_inbox(), durable="d"))
    first = await link.publish(subjects.topic("t"), b"a", {Header.MSG_ID: "same"})
    again = await link.publish(subjects.topic("t"), b"a", {Header.MSG_ID: "same"})
    assert (bool(first.duplicate), again.duplicate, again.seq) == (False, True, first.seq)


async def test_a_full_session_refuses_with_overloaded(link: NatsLink) -> None:
    r = record("full", limits=Limits(max_pending_messages=1))
    subjects = await add_session(link, r.name, limits=r.limits)
    # Interest retention keeps a message only while a consumer wants it.
    await link.js.add_consumer(stream_name(r.name), consumer_config(r, "t", link.nc.new_inbox(), durable="d"))
    await link.publish(subjects.topic("t"), b"a", {Header.MSG_ID: "1"})
    with pytest.raises(BrokerError) as err:
        await link.publish(subjects.topic("t"), b"b", {Header.MSG_ID: "2"})
    assert err.value.code == ErrorCode.OVERLOADED


async def test_nats_lost_mid_run_makes_the_node_unready_and_refuses_publishes(nats_server: NatsServer) -> None:
    node = NatsLink(options(nats_server.url))
    await node.open()
    changes: asyncio.Queue[bool] = asyncio.Queue()
    node.on_ready(changes.put_nowait)
    try:
        subjects = await add_session(node, "lost")
        await node.publish(subjects.topic("t"), b"before", {Header.MSG_ID: "1"})
        nats_server.kill()
        assert await asyncio.wait_for(changes.get(), WAIT_S) is False
        assert not node.ready
        with pytest.raises(BrokerError) as err:
            await node.publish(subjects.topic("t"), b"while away", {Header.MSG_ID: "2"})
        assert err.value.code == ErrorCode.UNAVAILABLE and "Message not stored" in err.value.message

        nats_server.start()  # same ports, same store: the stream is still there
        wait_ready([nats_server])
        assert await asyncio.wait_for(changes.get(), WAIT_S) is True
        assert node.ready
        ack = await node.publish(subjects.topic("t"), b"while away", {Header.MSG_ID: "2"})
        assert ack.seq == 2 and not ack.duplicate  # never stored while refused
    finally:
        await node.close()


async def test_tls_servers_are_checked_against_the_given_ca(nats_binary: str, tmp_path: Path) -> None:
    (tmp_path / "tls").mkdir()
    ca, key = self_signed_certificate(tmp_path / "tls")  # its own CA
    server = NatsServer(nats_binary, "tls", tmp_path / "nats", extra=tls_options(ca, key))
    server.start()
    try:
        wait_ready([server])
        node = NatsLink(options(f"tls://127.0.0.1:{server.port}", tls_ca=ca))
        await node.open()
        try:
            assert node.ready
            subjects = await add_session(node, "tls")
            assert (await node.publish(subjects.topic("t"), b"x", {Header.MSG_ID: "1"})).seq == 1
        finally:
            await node.close()
        untrusted = NatsLink(options(f"tls://127.0.0.1:{server.port}", connect_timeout_s=1.0))
        with pytest.raises(BrokerError) as err:
            await untrusted.open()
        assert err.value.code == ErrorCode.UNAVAILABLE and "CERTIFICATE_VERIFY_FAILED" in err.value.message
    finally:
        server.stop()


def test_a_tls_ca_that_cannot_be_read_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(BrokerError, match="NATS TLS CA .*ca.pem cannot be used"):
        options("tls://127.0.0.1:1", tls_ca=bad).tls_context()
    assert options("tls://127.0.0.1:1").tls_context() is None
