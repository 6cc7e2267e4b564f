import pytest

from fastport.core.errors import BrokerError, ErrorCode
from fastport.core.topics import TopicIndex, validate_pattern, validate_topic


@pytest.mark.parametrize(
    "pattern, topic, hit",
    [
        ("a/b", "a/b", True),
        ("a/b", "a/c", False),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/+/c", "a/x/c", True),
        ("+/+", "a/b", True),
        ("+", "a/b", False),
        ("a/#", "a", True),
        ("a/#", "a/b/c", True),
        ("a/#", "b/a", False),
        ("#", "anything/at/all", True),
        ("+/#", "a", True),
        ("a/+/#", "a/b", True),
        ("a/+/#", "a", False),
        ("a//b", "a//b", True),
    ],
)
def test_wildcard_matching(pattern: str, topic: str, hit: bool) -> None:
    index: TopicIndex[str] = TopicIndex()
    index.add(pattern, "s1")
    assert (index.match(topic) == ("s1",)) is hit


def test_each_subscriber_matched_once_across_patterns() -> None:
    index: TopicIndex[str] = TopicIndex()
    for p in ("a/b", "a/+", "#"):
        index.add(p, "s1")
    index.add("a/b", "s2")
    assert sorted(index.match("a/b")) == ["s1", "s2"]
    assert index.count == 4


def test_remove_and_cache_invalidation() -> None:
    index: TopicIndex[str] = TopicIndex()
    index.add("a/+", "s1")
    assert index.match("a/b") == ("s1",)
    assert index.add("a/+", "s1") is False
    assert index.remove("a/+", "s1") is True
    assert index.match("a/b") == ()
    assert index.remove("a/+", "s1") is False
    assert index.remove("x/#", "s1") is False
    index.add("a/#", "s2")
    assert index.match("a/b") == ("s2",)
    assert index.count == 1


@pytest.mark.parametrize(
    "bad",
    ["", "a/+", "a/#", "#", None, 5, "a\x00b", "x" * 1025, "é" * 513, "\U0001f600" * 256 + "x", "/".join(["a"] * 65)],
)
def test_publish_topic_rejected(bad: object) -> None:
    with pytest.raises(BrokerError) as info:
        validate_topic(bad)
    assert info.value.code is ErrorCode.INVALID_TOPIC


@pytest.mark.parametrize("longest", ["x" * 1024, "é" * 512, "\U0001f600" * 256, "/".join(["a"] * 64)])
def test_topic_limits_are_1024_utf8_bytes_and_64_levels(longest: str) -> None:
    assert validate_topic(longest) == longest
    assert validate_pattern(longest) == longest


@pytest.mark.parametrize("bad", ["a/#/b", "a+", "a/b#", "#/a", "++"])
def test_bad_patterns_rejected(bad: str) -> None:
    with pytest.raises(BrokerError) as info:
        validate_pattern(bad)
    assert info.value.code is ErrorCode.INVALID_TOPIC


@pytest.mark.parametrize("good", ["a", "a/+/b", "+", "#", "a/#", "sensors/+/temp"])
def test_good_patterns(good: str) -> None:
    assert validate_pattern(good) == good
