"""Topic <-> subject encoding: it round-trips every topic fastport accepts, and a real
nats-server matching the encoded filters delivers exactly what fastport's matcher says."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client
from nats.aio.msg import Msg

from fastport.core import BrokerError, ErrorCode
from fastport.core.topics import MAX_TOPIC_BYTES, MAX_TOPIC_LEVELS, TopicIndex, validate_pattern, validate_topic
from fastport.engines.jetstream.subjects import END, MAX_SUBJECT_BYTES, SessionSubjects, name_token

# Characters that mean something to NATS or to the encoding, mixed with any others.
TRICKY = [".", "*", ">", "%", "%%", "%2E", " ", "\t", "\r\n", "\x7f", "$", "é", "日本", "\U0001f600", "\ud800"]

level_text = st.lists(
    st.one_of(st.sampled_from(TRICKY), st.characters(exclude_characters="\x00/+#")), max_size=4
).map("".join)
topics = st.lists(level_text, min_size=1, max_size=6).map("/".join).filter(lambda t: bool(t))

SERVER_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def subjects() -> SessionSubjects:
    """A fresh session's subjects: examples sharing one server never see each other."""
    return SessionSubjects.of(uuid.uuid4().hex)


@given(topics)
def test_every_topic_round_trips(topic: str) -> None:
    validate_topic(topic)
    subs = subjects()
    subject = subs.topic(topic)
    assert subs.topic_of(subject) == topic
    tokens = subject.split(".")
    assert all(tokens), "NATS tokens are never empty"
    assert not any(ch in subject for ch in " \t\r\n")
    assert "*" not in tokens and ">" not in tokens


@st.composite
def patterns_and_topics(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """Patterns and topics over one small vocabulary of levels, so that they meet."""
    vocabulary = draw(st.lists(level_text, min_size=1, max_size=3, unique=True))
    level = st.sampled_from(vocabulary)
    topic_list = draw(st.lists(st.lists(level, min_size=1, max_size=4).map("/".join), min_size=1, max_size=8))
    pattern_levels = st.lists(st.one_of(level, st.just("+")), min_size=0, max_size=4)
    pattern_list = draw(
        st.lists(
            st.tuples(pattern_levels, st.booleans()).map(lambda p: "/".join(p[0] + ["#"] if p[1] else p[0])),
            min_size=1,
            max_size=5,
        )
    )
    return [p for p in pattern_list if p], [t for t in topic_list if t]


@SERVER_SETTINGS
@given(patterns_and_topics())
async def test_nats_matches_encoded_filters_as_fastport_matches_topics(
    nc: Client, case: tuple[list[str], list[str]]
) -> None:
    patterns, topic_list = case
    subs = subjects()
    index: TopicIndex[int] = TopicIndex()
    delivered: set[tuple[int, str]] = set()
    nats_subs = []
    for i, pattern in enumerate(patterns):
        index.add(validate_pattern(pattern), i)

        async def on_msg(msg: Msg, i: int = i) -> None:
            delivered.add((i, subs.topic_of(msg.subject)))

        nats_subs.append(await nc.subscribe(subs.filter(pattern), cb=on_msg))
    for topic in topic_list:
        await nc.publish(subs.topic(validate_topic(topic)))
    # The server answers the flush's PING after it has sent this connection every
    # message published before it, and the client hands those to the callbacks in order.
    await nc.flush()
    for sub in nats_subs:
        await sub.drain()
    expected = {(i, topic) for topic in topic_list for i in index.match(topic)}
    assert delivered == expected


def test_hash_alone_matches_every_topic_and_level_hash_matches_its_parent() -> None:
    subs = subjects()
    assert subs.filter("#") == subs.stream_subject
    assert subs.filter("a/#") == f"{subs.prefix}.a.>"
    assert subs.topic("a") == f"{subs.prefix}.a.{END}"
    assert subs.filter("a/+") == f"{subs.prefix}.a.*.{END}"


def test_session_tokens_are_short_nats_names() -> None:
    names = ["demo", "demo ", "a.b", "日本 / *>", "x" * 256]
    tokens = {name_token(n) for n in names}
    assert len(tokens) == len(names)
    assert all(len(t) == 26 and t.isalnum() and t.islower() for t in tokens)


def test_every_topic_fits_a_subject() -> None:
    """The longest topic, every level empty or escaped (three subject bytes per topic
    byte, the most any topic takes), stays under the limit: 3110 bytes."""
    worst = "/".join(["" for _ in range(MAX_TOPIC_LEVELS - 1)] + ["." * (MAX_TOPIC_BYTES - MAX_TOPIC_LEVELS + 1)])
    assert len(validate_topic(worst)) == MAX_TOPIC_BYTES
    subs = subjects()
    subject = subs.topic(worst)
    assert len(subject) == 3110 <= MAX_SUBJECT_BYTES
    assert subs.topic_of(subject) == worst
    longest_multibyte = validate_topic("\U0001f600" * (MAX_TOPIC_BYTES // 4))  # 4 bytes each, kept as they are
    assert subs.topic_of(subs.topic(longest_multibyte)) == longest_multibyte


def test_a_topic_too_long_as_a_subject_is_refused_with_a_code() -> None:
    topic = "\U0001f600" * 1024  # 4 bytes each: past the core's limit, which keeps subjects short
    with pytest.raises(BrokerError) as err:
        subjects().topic(topic)
    assert err.value.code == ErrorCode.INVALID_TOPIC
    assert str(MAX_SUBJECT_BYTES) in str(err.value)
    with pytest.raises(BrokerError):
        subjects().filter(topic)
