"""Failed logins, throttled per client address and session (DESIGN.md "One tenant
never hurts another").

One place for every door: session inits (WebSocket and gRPC, the unary Publish's too),
a session owner's password + secret key, and the admin credentials. A client may get a
login wrong ``free`` times in a row for one session; after that each further attempt
must wait, twice as long each time (1 s, 2 s, 4 s, ... up to ``max_delay_ms``), and an
attempt that comes sooner is refused with ``too_many_attempts`` without being checked:
guessing a password costs an attacker exponentially more time, a refused attempt costs
the server no scrypt run, and only that (address, session) pair is held back, so a
correct login from any other address is never slowed. A correct login clears the
pair's count.

Guessing across many sessions (or session names) from one address counts too, under
the address alone, with a larger allowance. Counts are forgotten after
``FORGET_AFTER_MS`` without a failure, and at most ``MAX_TRACKED`` pairs are kept (the
least recently failed are forgotten first), so a flood of made-up names is bounded.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict

from .clock import Clock
from .errors import BrokerError, ErrorCode

audit = logging.getLogger("fastport.audit")

FREE_FAILURES = 5  # failures in a row for one (address, session) before the waits begin
ADDRESS_FREE_FAILURES = 50  # failures from one address over every session
BASE_DELAY_MS = 1000
MAX_DELAY_MS = 5 * 60 * 1000
FORGET_AFTER_MS = 15 * 60 * 1000
MAX_TRACKED = 100_000
# What admin credentials are counted under: not a session name (those are printable).
ADMIN_SCOPE = "\x00admin"
_ANY = ""  # the address-wide count (session names are never empty)


def client_host(address: str) -> str:
    """The host of a client address, with or without its port (``10.0.0.1:5000``,
    ``[::1]:5000``, ``::1``): attempts count per host, whatever port each comes from."""
    if address.startswith("["):
        return address[1:].partition("]")[0]
    host, sep, _ = address.partition(":")
    return host if sep and ":" not in address[len(host) + 1 :] else address


class _Failures:
    __slots__ = ("count", "last_ms", "until_ms")

    def __init__(self) -> None:
        self.count = 0  # failures in a row
        self.last_ms = 0  # time of the last one
        self.until_ms = 0  # no attempt is checked before this


class LoginThrottle:
    """Failures per (client address, scope); scope is a session name or ADMIN_SCOPE."""

    def __init__(
        self,
        clock: Clock,
        *,
        free: int = FREE_FAILURES,
        address_free: int = ADDRESS_FREE_FAILURES,
        base_delay_ms: int = BASE_DELAY_MS,
        max_delay_ms: int = MAX_DELAY_MS,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        self._clock = clock
        self._free = free
        self._address_free = address_free
        self._base_delay_ms = base_delay_ms
        self._max_delay_ms = max_delay_ms
        self._max_tracked = max_tracked
        self._failures: OrderedDict[tuple[str, str], _Failures] = OrderedDict()  # least recently failed first
        self.refused = 0  # attempts refused unchecked

    def check(self, address: str, scope: str) -> None:
        """Raise ``too_many_attempts`` if ``address`` must wait before trying ``scope``."""
        address = client_host(address)
        now = self._clock.now_ms()
        until = 0
        for key in ((address, scope), (address, _ANY)):
            entry = self._failures.get(key)
            if entry is not None and entry.until_ms > now:
                until = max(until, entry.until_ms)
        if until:
            self.refused += 1
            wait_s = math.ceil((until - now) / 1000)
            raise BrokerError(ErrorCode.TOO_MANY_ATTEMPTS, f"Too many failed attempts; try again in {wait_s} s")

    def failed(self, address: str, scope: str, reason: str) -> None:
        """Count a failed attempt, and audit it: ``reason`` is what the client was told."""
        host = client_host(address)
        now = self._clock.now_ms()
        failures = self._failures
        delay = 0
        for key, free in (((host, scope), self._free), ((host, _ANY), self._address_free)):
            entry = failures.pop(key, None)
            if entry is None or now - entry.last_ms > FORGET_AFTER_MS:
                entry = _Failures()
            entry.count += 1
            entry.last_ms = now
            over = entry.count - free
            wait = min(self._base_delay_ms << min(over - 1, 32), self._max_delay_ms) if over > 0 else 0
            entry.until_ms = now + wait
            failures[key] = entry
            delay = max(delay, wait)
        while len(failures) > self._max_tracked:
            failures.popitem(last=False)
        extra = {"session": None if scope == ADMIN_SCOPE else scope, "peer": address}
        audit.warning("authentication failed: %s", reason, extra=extra)
        if delay:
            audit.warning("throttling logins from %s: next attempt in %d ms", host, delay, extra=extra)

    def succeeded(self, address: str, scope: str) -> None:
        """A correct login: the pair starts afresh (the address-wide count stays, so
        logging into one's own session does not reset guessing at others)."""
        self._failures.pop((client_host(address), scope), None)
