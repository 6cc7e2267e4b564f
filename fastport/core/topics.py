"""Topic names, subscription patterns (MQTT wildcards) and the per-session index.

Topics are ``/``-separated levels: at most 1024 bytes of UTF-8 (legacy-json.md, the
authority for wire details, counts bytes) and 64 levels. A pattern may use ``+`` for
exactly one level and ``#`` as its last level for "this level and everything below"
(``a/#`` matches ``a``, ``a/b`` and ``a/b/c``), as in MQTT. Publishing to a name with a
wildcard is refused.

The index keeps exact patterns in a dict and wildcard patterns in a trie, and caches
the result of matching each published topic until the subscriptions change, so the
publish hot path is one dict lookup.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from .errors import BrokerError, ErrorCode

MAX_TOPIC_BYTES = 1024
MAX_TOPIC_LEVELS = 64
_CACHE_LIMIT = 10_000

S = TypeVar("S")


def _check_common(topic: object) -> str:
    if not isinstance(topic, str) or not topic:
        raise BrokerError(ErrorCode.INVALID_TOPIC, "Topic must be a non-empty string")
    # A lone surrogate (no door passes one; a Python string may hold it) counts as the
    # three bytes "surrogatepass" gives it, as the jetstream engine encodes it.
    size = len(topic) if topic.isascii() else len(topic.encode("utf-8", "surrogatepass"))
    if size > MAX_TOPIC_BYTES:
        raise BrokerError(ErrorCode.INVALID_TOPIC, f"Topic longer than {MAX_TOPIC_BYTES} bytes (UTF-8)")
    if "\x00" in topic:
        raise BrokerError(ErrorCode.INVALID_TOPIC, "Topic contains a NUL character")
    if topic.count("/") >= MAX_TOPIC_LEVELS:
        raise BrokerError(ErrorCode.INVALID_TOPIC, f"Topic has more than {MAX_TOPIC_LEVELS} levels")
    return topic


def validate_topic(topic: object) -> str:
    """A topic to publish to: no wildcards."""
    name = _check_common(topic)
    if "+" in name or "#" in name:
        raise BrokerError(ErrorCode.INVALID_TOPIC, "Wildcards are not allowed in a publish topic")
    return name


def validate_pattern(pattern: object) -> str:
    """A subscription pattern: ``+`` must fill a whole level, ``#`` must be the whole last level."""
    name = _check_common(pattern)
    if "+" in name or "#" in name:
        levels = name.split("/")
        for i, level in enumerate(levels):
            if ("+" in level and level != "+") or ("#" in level and level != "#"):
                raise BrokerError(ErrorCode.INVALID_TOPIC, "A wildcard must fill a whole topic level")
            if level == "#" and i != len(levels) - 1:
                raise BrokerError(ErrorCode.INVALID_TOPIC, "'#' is allowed only as the last level")
    return name


def is_wildcard(pattern: str) -> bool:
    return "+" in pattern or "#" in pattern


class _Node(Generic[S]):
    __slots__ = ("children", "subs", "rest")

    def __init__(self) -> None:
        self.children: dict[str, _Node[S]] = {}
        self.subs: dict[S, None] = {}  # pattern ends here
        self.rest: dict[S, None] = {}  # pattern ends here with '#'


class TopicIndex(Generic[S]):
    """Which subscribers a published topic reaches."""

    def __init__(self) -> None:
        self._exact: dict[str, dict[S, None]] = {}
        self._root: _Node[S] = _Node()
        self._cache: dict[str, tuple[S, ...]] = {}
        self.count = 0

    def add(self, pattern: str, sub: S) -> bool:
        """Add ``sub`` under ``pattern``; False if it was already there."""
        if is_wildcard(pattern):
            node = self._root
            levels = pattern.split("/")
            for level in levels[:-1]:
                node = node.children.setdefault(level, _Node())
            last = levels[-1]
            if last == "#":
                bucket = node.rest
            else:
                bucket = node.children.setdefault(last, _Node()).subs
        else:
            bucket = self._exact.setdefault(pattern, {})
        if sub in bucket:
            return False
        bucket[sub] = None
        self.count += 1
        self._cache.clear()
        return True

    def remove(self, pattern: str, sub: S) -> bool:
        """Remove ``sub`` from ``pattern``; False if it was not there."""
        if not is_wildcard(pattern):
            bucket = self._exact.get(pattern)
            if bucket is None or sub not in bucket:
                return False
            del bucket[sub]
            if not bucket:
                del self._exact[pattern]
        elif not self._remove_wild(self._root, pattern.split("/"), sub):
            return False
        self.count -= 1
        self._cache.clear()
        return True

    def _remove_wild(self, node: _Node[S], levels: list[str], sub: S) -> bool:
        level = levels[0]
        if len(levels) == 1 and level == "#":
            return node.rest.pop(sub, 0) is None
        child = node.children.get(level)
        if child is None:
            return False
        if len(levels) == 1:
            found = child.subs.pop(sub, 0) is None
        else:
            found = self._remove_wild(child, levels[1:], sub)
        if found and not (child.children or child.subs or child.rest):
            del node.children[level]
        return found

    def match(self, topic: str) -> tuple[S, ...]:
        """Subscribers whose pattern matches ``topic``, each once, in a stable order."""
        hit = self._cache.get(topic)
        if hit is not None:
            return hit
        found: dict[S, None] = dict(self._exact.get(topic, {}))
        if self._root.children or self._root.rest:
            self._walk(self._root, topic.split("/"), 0, found)
        result = tuple(found)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[topic] = result
        return result

    def _walk(self, node: _Node[S], levels: list[str], i: int, found: dict[S, None]) -> None:
        found.update(node.rest)
        for key in (levels[i], "+"):
            child = node.children.get(key)
            if child is not None:
                if i + 1 == len(levels):
                    found.update(child.subs)
                    found.update(child.rest)
                else:
                    self._walk(child, levels, i + 1, found)
