"""Failed logins throttled per (client address, session): LoginThrottle with a manual
clock, and the broker's logins through it."""

from __future__ import annotations

import hashlib
import logging

import pytest

from fastport.core import Broker, ManualClock
from fastport.core import credentials
from fastport.core.errors import ErrorCode
from fastport.core.throttle import ADMIN_SCOPE, FORGET_AFTER_MS, LoginThrottle

from .support import Client, make_session, refused


def fail(throttle: LoginThrottle, times: int, address: str = "10.0.0.1", scope: str = "s") -> None:
    for _ in range(times):
        throttle.check(address, scope)
        throttle.failed(address, scope, "Invalid password")


def test_waits_double_after_the_free_failures(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock, free=3, base_delay_ms=1000, max_delay_ms=4000)
    fail(throttle, 3)
    for wait in (1000, 2000, 4000, 4000):  # capped at max_delay_ms
        fail(throttle, 1)
        with refused(ErrorCode.TOO_MANY_ATTEMPTS):
            throttle.check("10.0.0.1", "s")
        clock.advance(wait - 1)
        with refused(ErrorCode.TOO_MANY_ATTEMPTS):
            throttle.check("10.0.0.1", "s")
        clock.advance(1)
        throttle.check("10.0.0.1", "s")
    assert throttle.refused == 8


def test_only_that_address_and_session_wait(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock, free=2)
    fail(throttle, 3)
    with refused(ErrorCode.TOO_MANY_ATTEMPTS):
        throttle.check("10.0.0.1", "s")
    throttle.check("10.0.0.2", "s")  # another client of the same session
    throttle.check("10.0.0.1", "other")  # the same client, another session
    throttle.check("10.0.0.1", ADMIN_SCOPE)


def test_a_correct_login_starts_afresh(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock, free=2)
    fail(throttle, 2)
    throttle.succeeded("10.0.0.1", "s")
    fail(throttle, 2)  # two free failures again
    throttle.check("10.0.0.1", "s")


def test_failures_are_forgotten_after_a_quiet_time(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock, free=2)
    fail(throttle, 3)
    clock.advance(FORGET_AFTER_MS + 1)
    fail(throttle, 2)
    throttle.check("10.0.0.1", "s")


def test_guessing_across_sessions_counts_per_address(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock, free=5, address_free=10)
    for i in range(11):
        fail(throttle, 1, scope=f"s{i}")
    with refused(ErrorCode.TOO_MANY_ATTEMPTS):
        throttle.check("10.0.0.1", "never-tried")
    throttle.check("10.0.0.2", "never-tried")


def test_what_is_tracked_is_bounded(clock: ManualClock) -> None:
    throttle = LoginThrottle(clock, free=1, address_free=10**9, max_tracked=100)
    for i in range(1000):
        fail(throttle, 1, address=f"10.0.{i // 250}.{i % 250}", scope="s")
    assert len(throttle._failures) == 100


def test_failures_are_audited_with_session_and_peer(clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    throttle = LoginThrottle(clock, free=1)
    caplog.set_level(logging.INFO, "fastport.audit")
    fail(throttle, 2)
    lines = [(r.getMessage(), r.session, r.peer) for r in caplog.records]  # type: ignore[attr-defined]
    assert lines[0] == ("authentication failed: Invalid password", "s", "10.0.0.1")
    assert lines[-1] == ("throttling logins from 10.0.0.1: next attempt in 1000 ms", "s", "10.0.0.1")


async def test_broker_throttles_inits_per_address(broker: Broker, clock: ManualClock) -> None:
    await make_session(broker)
    attacker = Client(broker)
    attacker.conn.address = "10.0.0.1"
    for _ in range(5):
        with refused(ErrorCode.INVALID_PASSWORD):
            await attacker.init(password="guess")
    with refused(ErrorCode.INVALID_PASSWORD):
        await attacker.init(password="guess")
    with refused(ErrorCode.TOO_MANY_ATTEMPTS):  # even the right password, while it waits
        await attacker.init()
    other = Client(broker)
    other.conn.address = "10.0.0.2"
    await other.init()  # another client's correct login is not slowed
    clock.advance(1000)
    await attacker.init()
    with refused(ErrorCode.INVALID_CREDENTIALS):
        await broker.check_owner("s", "pw", "0" * 64, "10.0.0.3")


async def test_an_unknown_session_costs_what_a_wrong_password_costs(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_session(broker)
    runs: list[bytes] = []
    scrypt = hashlib.scrypt

    def counting(password: bytes, **kw: object) -> bytes:
        runs.append(password)
        return scrypt(password, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(credentials.hashlib, "scrypt", counting)
    with refused(ErrorCode.INVALID_PASSWORD):
        await Client(broker).init(password="wrong")
    with refused(ErrorCode.SESSION_NOT_FOUND):  # the legacy error text stays
        await Client(broker).init(session="nope", password="wrong")
    with refused(ErrorCode.INVALID_CREDENTIALS):
        await broker.check_owner("s", "wrong", "0" * 64)
    with refused(ErrorCode.SESSION_NOT_FOUND):
        await broker.check_owner("nope", "wrong", "0" * 64)
    assert runs == [b"wrong"] * 4  # one scrypt run each
