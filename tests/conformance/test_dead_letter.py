"""Dead-letter topics (issue #17): the session setting, and the broker's own attributes."""

from __future__ import annotations

import pytest

from fastport.core import Broker
from fastport.core.errors import ErrorCode

from .support import make_session, refused


async def test_the_setting_is_kept_and_shown(broker: Broker) -> None:
    await make_session(broker, "on", dead_letter_topic="dead/letters")
    await make_session(broker, "off")
    assert broker.get_session("on").dead_letter_topic == "dead/letters"
    assert broker.get_session("off").dead_letter_topic == ""  # empty: off


@pytest.mark.parametrize("topic", ["dead/#", "dead/+/x", "a" * 1025, "a\x00b"])
async def test_a_dead_letter_topic_must_be_a_topic_to_publish_to(broker: Broker, topic: str) -> None:
    with refused(ErrorCode.INVALID_TOPIC):
        await make_session(broker, dead_letter_topic=topic)
    assert broker.list_sessions() == []


async def test_a_dead_letter_topic_must_be_a_string(broker: Broker) -> None:
    with refused(ErrorCode.INVALID_FIELD):
        await make_session(broker, dead_letter_topic=7)


async def test_publishers_cannot_set_the_broker_s_attributes(broker: Broker, client) -> None:
    await make_session(broker, dead_letter_topic="dead")
    pub = await client()
    for key in ("fastport-dl-reason", "fastport-anything"):
        outcome = await pub.publish("t", attributes={key: "retry_limit"})
        assert outcome.error is not None and outcome.error.code is ErrorCode.INVALID_FIELD
    assert (await pub.publish("t", attributes={"x-fastport-dl-reason": "mine"})).error is None
