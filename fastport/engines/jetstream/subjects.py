"""Topics and subscription patterns as NATS subjects, inside one prefix per session.

A fastport topic is ``/``-separated levels of any characters but NUL; a NATS subject
is ``.``-separated tokens that must be non-empty, must not contain whitespace (the
protocol line splits on it), and are wildcards when they are exactly ``*`` or ``>``.
So each level becomes one token:

- characters NATS cannot carry in a token — ``.``, ``*``, ``>``, ASCII whitespace and
  control characters, DEL — and ``%`` itself are written ``%XX`` per UTF-8 byte (lone
  surrogates, which a Python string may hold, as their ``surrogatepass`` bytes), so a
  level never becomes a wildcard or splits in two; every other character, non-ASCII
  included, stays as it is (the subject stays readable and short);
- an empty level (``a//b``, ``/a``) becomes ``%%``, never produced by the rule above
  because an escape ``%`` is always followed by two hex digits;
- every topic subject ends with the token ``%`` (END), produced by neither rule.

The END token is what gives MQTT's ``#`` its meaning with ONE filter subject, as
nats-server 2.9 allows only one per consumer: ``a/#`` must match ``a`` itself, which
NATS ``a.>`` does not (``>`` needs at least one token) — but with END, topic ``a`` is
``a.%`` and ``a.>`` matches it. ``+`` becomes ``*`` (exactly one level, empty ones
included, as in fastport's matcher), ``#`` becomes ``>``, and a pattern without ``#``
ends with END so that it matches no longer topic.

Length: nats-server refuses a protocol line over its ``max_control_line`` (4096 bytes
by default) and CLOSES THE CONNECTION that sent it, so the node's one NATS connection
must never send one. A publish line is ``HPUB <subject> <reply inbox> <sizes>``;
subjects are therefore capped at ``MAX_SUBJECT_BYTES``, leaving room for the rest.
Every topic fastport accepts (at most 1024 bytes of UTF-8) fits, even one made only of
escaped characters (three subject bytes per topic byte: 3110 bytes in all); a longer
subject is refused with ``invalid_topic`` (docs/engines/jetstream.md).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from dataclasses import dataclass
from urllib.parse import unquote

from ...core.errors import BrokerError, ErrorCode

ROOT = "fastport"
END = "%"
EMPTY = "%%"
# 4096 (nats-server's default max_control_line) less room for "HPUB ", the reply inbox
# and the header and total sizes.
MAX_SUBJECT_BYTES = 3840

_UNSAFE = re.compile(r"[\x00-\x20\x7f.*>%\ud800-\udfff]")


def _quote(match: re.Match[str]) -> str:
    return "".join(f"%{b:02X}" for b in match.group().encode("utf-8", "surrogatepass"))


def escape(text: str, unsafe: re.Pattern[str] = _UNSAFE) -> str:
    """``text`` with the characters ``unsafe`` matches written ``%XX`` per UTF-8 byte
    (by default ``.``, ``*``, ``>``, ``%``, ASCII whitespace, control characters and
    lone surrogates: one NATS token). One-to-one as long as ``unsafe`` matches ``%``:
    ``unescape`` reverses it."""
    return unsafe.sub(_quote, text)


def unescape(text: str) -> str:
    return unquote(text, errors="surrogatepass")


def _token(level: str) -> str:
    return escape(level) if level else EMPTY


def _level(token: str) -> str:
    return "" if token == EMPTY else unescape(token)


@functools.lru_cache(maxsize=1 << 16)  # asked for every message: the session's prefix
def name_token(name: str) -> str:
    """A name as one short NATS token: 26 base32 characters of its SHA-256.

    Session names and client ids are up to 256 printable characters of any script,
    too long and too free for stream and consumer names and KV keys (no ``.``, spaces,
    ``/``...), so every NATS name built from them is built from this digest; the name
    itself travels in the session's KV record. 130 bits: no two names meet.
    """
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()[:17]
    return base64.b32encode(digest).decode("ascii")[:26].lower()


def _check_length(subject: str, what: str) -> str:
    size = len(subject) if subject.isascii() else len(subject.encode("utf-8"))
    if size > MAX_SUBJECT_BYTES:
        raise BrokerError(
            ErrorCode.INVALID_TOPIC,
            f"{what} is {size} bytes as a NATS subject; the jetstream engine carries at most {MAX_SUBJECT_BYTES}",
        )
    return subject


@dataclass(frozen=True, slots=True)
class SessionSubjects:
    """The subjects of one session's messages: ``fastport.<session token>.<levels>.%``."""

    prefix: str

    @classmethod
    def of(cls, session_name: str) -> SessionSubjects:
        return cls(f"{ROOT}.{name_token(session_name)}")

    @property
    def stream_subject(self) -> str:
        """The filter of every message of the session: what its stream captures."""
        return f"{self.prefix}.>"

    def topic(self, topic: str) -> str:
        """The subject a (validated) topic is published on."""
        tokens = ".".join(_token(level) for level in topic.split("/"))
        return _check_length(f"{self.prefix}.{tokens}.{END}", "Topic")

    def filter(self, pattern: str) -> str:
        """The one filter subject matching exactly the topics a (validated) pattern matches."""
        levels = pattern.split("/")
        tail = ">" if levels[-1] == "#" else END
        if tail == ">":
            levels.pop()
        tokens = [("*" if level == "+" else _token(level)) for level in levels]
        return _check_length(".".join([self.prefix, *tokens, tail]), "Pattern")

    def topic_of(self, subject: str) -> str:
        """The topic a subject of this session was published on (inverse of ``topic``)."""
        body = subject[len(self.prefix) + 1 : -len(END) - 1]
        if not subject.startswith(self.prefix + ".") or not subject.endswith("." + END) or not body:
            raise ValueError(f"not a topic subject of {self.prefix}: {subject!r}")
        return "/".join(_level(token) for token in body.split("."))
