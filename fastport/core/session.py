"""A session: one isolated virtual broker with its own credentials, policy and state."""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .counters import Counters
from .credentials import VerifiedCache, verify_password, verify_secret
from .quietlog import QuietLog

if TYPE_CHECKING:
    from .connection import Connection

DEFAULT_RETRY_INTERVAL_MS = 5000
DEFAULT_MAX_RETRY_LIMIT = 100
# Settled message ids one session remembers for de-duplication, at most (RecentIds),
# so that one session's publish storm cannot take the server's memory (what an id
# costs: bench/README.md, "What the core's and the embedded engine's structures cost"). Past it the oldest are
# forgotten first: a session publishing faster than this many ids per window gets a
# shorter window.
DEFAULT_MAX_REMEMBERED_IDS = 1_000_000


# Defaults of the limits that bound a session's memory and a subscriber's backlog
# (DESIGN.md "One tenant never hurts another"): with them, one session holds well under
# what the server has (the figures: bench/README.md, as above).
DEFAULT_MAX_PENDING_MESSAGES = 250_000
DEFAULT_MAX_PENDING_BYTES = 128 * 1024 * 1024
DEFAULT_MAX_IN_FLIGHT = 1000


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-session limits; 0 means the default: the server's maximum for the payload,
    unlimited for connections and subscriptions, the DEFAULT_* above for the others.

    ``max_pending_messages`` and ``max_pending_bytes`` bound the unsettled messages
    (and their payload bytes) the session holds: past half of either, publishers are
    slowed; at the limit, refused (the engine enforces them). ``max_in_flight`` bounds the
    unacknowledged deliveries outstanding to one subscriber (flow control)."""

    max_payload_bytes: int = 0
    max_connections: int = 0
    max_subscriptions: int = 0
    max_pending_messages: int = 0
    max_pending_bytes: int = 0
    max_in_flight: int = 0

    def resolved(self) -> Limits:
        """These limits with the defaults filled in: what the session enforces and shows."""
        return replace(
            self,
            max_pending_messages=self.max_pending_messages or DEFAULT_MAX_PENDING_MESSAGES,
            max_pending_bytes=self.max_pending_bytes or DEFAULT_MAX_PENDING_BYTES,
            max_in_flight=self.max_in_flight or DEFAULT_MAX_IN_FLIGHT,
        )


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """What a session is created with. Zero values mean the documented defaults."""

    name: str
    password: str
    retry_interval_ms: int = 0
    max_retry_limit: int = 0
    message_expiry_ms: int = 0
    session_expiry_ms: int = 0
    limits: Limits = field(default_factory=Limits)
    max_remembered_ids: int = 0
    dead_letter_topic: str = ""  # "": off


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What an administrator may see of a session: never its password or secret key."""

    name: str
    retry_interval_ms: int
    max_retry_limit: int
    message_expiry_ms: int
    expires_at_ms: int
    limits: Limits
    suspended: bool
    created_at_ms: int
    connections: int
    subscriptions: int
    pending_messages: int
    counters: Counters  # a copy, taken when the info was
    max_remembered_ids: int = DEFAULT_MAX_REMEMBERED_IDS
    dead_letter_topic: str = ""  # "": off


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A session as the store keeps it: settings and hashed credentials, no live state."""

    name: str
    password_hash: str
    secret_hash: str
    retry_interval_ms: int
    max_retry_limit: int
    message_expiry_ms: int
    expires_at_ms: int  # absolute, 0 = never
    limits: Limits
    suspended: bool
    created_at_ms: int
    max_remembered_ids: int = 0  # 0: the default
    # Where given-up deliveries are published (a topic of this session); "": nowhere.
    dead_letter_topic: str = ""


class SessionState(enum.Enum):
    """Where a session stands, as the node sees it. Changed only by the Broker."""

    ACTIVE = "active"
    SUSPENDED = "suspended"  # publishes and subscribes refused; resumed by an admin
    DROPPED = "dropped"  # removed (dropped or expired): gone for good


class Session:
    """A session as the node keeps it: settings, credentials, state, connections and
    counters. What is pending in it (subscriptions, messages, deliveries) is the
    engine's (core/engine.py), which may read the settings and adds to the counters."""

    def __init__(self, record: SessionRecord) -> None:
        self.name = record.name
        self.password_hash = record.password_hash
        self.secret_hash = record.secret_hash
        self.retry_interval_ms = record.retry_interval_ms or DEFAULT_RETRY_INTERVAL_MS
        self.max_retry_limit = record.max_retry_limit or DEFAULT_MAX_RETRY_LIMIT
        self.message_expiry_ms = record.message_expiry_ms
        self.expires_at_ms = record.expires_at_ms
        self.limits = record.limits.resolved()
        self.max_remembered_ids = record.max_remembered_ids or DEFAULT_MAX_REMEMBERED_IDS
        self.state = SessionState.SUSPENDED if record.suspended else SessionState.ACTIVE
        self.created_at_ms = record.created_at_ms
        self.dead_letter_topic = record.dead_letter_topic
        self.counters = Counters()
        # Lines a client can cause in floods: at most one a second of each kind.
        self.refusal_log = QuietLog()
        self.give_up_log = QuietLog()
        self.connections: set[Connection] = set()
        self._verified = VerifiedCache()
        # Password checks running now, by keyed digest: concurrent inits with the same
        # password share one scrypt run (each takes memory and CPU, see bench/README.md:
        # a reconnect storm would otherwise run one per connection side by side).
        self.checks: dict[bytes, asyncio.Future[bool]] = {}

    @property
    def suspended(self) -> bool:
        return self.state is SessionState.SUSPENDED

    @property
    def dropped(self) -> bool:
        return self.state is SessionState.DROPPED

    def knows_password(self, password: str) -> bool:
        """True if ``password`` was verified before: no scrypt needed."""
        return password in self._verified

    def password_digest(self, password: str) -> bytes:
        return self._verified.digest(password)

    def check_password(self, password: str) -> bool:
        if password in self._verified:
            return True
        if verify_password(self.password_hash, password):
            self._verified.add(password)
            return True
        return False

    def check_secret(self, password: str, secret_key: str) -> bool:
        # Both are checked, always, so timing does not tell which one was wrong.
        secret_ok = verify_secret(self.secret_hash, secret_key)
        return self.check_password(password) and secret_ok

    def record(self) -> SessionRecord:
        return SessionRecord(
            name=self.name,
            password_hash=self.password_hash,
            secret_hash=self.secret_hash,
            retry_interval_ms=self.retry_interval_ms,
            max_retry_limit=self.max_retry_limit,
            message_expiry_ms=self.message_expiry_ms,
            expires_at_ms=self.expires_at_ms,
            limits=self.limits,
            suspended=self.suspended,
            created_at_ms=self.created_at_ms,
            max_remembered_ids=self.max_remembered_ids,
            dead_letter_topic=self.dead_letter_topic,
        )

    def info(self, subscriptions: int, pending_messages: int) -> SessionInfo:
        """What an administrator sees; the engine counts ``subscriptions`` and ``pending_messages``."""
        return SessionInfo(
            name=self.name,
            retry_interval_ms=self.retry_interval_ms,
            max_retry_limit=self.max_retry_limit,
            message_expiry_ms=self.message_expiry_ms,
            expires_at_ms=self.expires_at_ms,
            limits=self.limits,
            suspended=self.suspended,
            created_at_ms=self.created_at_ms,
            connections=len(self.connections),
            subscriptions=subscriptions,
            pending_messages=pending_messages,
            counters=self.counters.copy(),
            max_remembered_ids=self.max_remembered_ids,
            dead_letter_topic=self.dead_letter_topic,
        )
