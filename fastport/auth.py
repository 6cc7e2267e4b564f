"""Who may administer the server: the admin token, or (HTTP door) the Basic admin user.

Shared by both doors so the same credentials work on each. Comparisons are constant
time, and wrong credentials count as failed logins of the client's address in the
core's ``LoginThrottle``, as wrong session passwords do. A session's own password + secret key, accepted for drop/suspend/resume of that
session, are checked by the core (``Broker.check_owner``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import os
import secrets
from pathlib import Path

from .core.throttle import ADMIN_SCOPE, LoginThrottle

log = logging.getLogger("fastport.auth")

TOKEN_FILE = "admin-token"


class AdminAuth:
    def __init__(
        self, token: str, user: str | None = None, password: str | None = None, *, throttle: LoginThrottle
    ) -> None:
        self._token = token.encode()
        self._user = user
        self._password = password
        self._throttle = throttle

    def admit(self, header: str, address: str, *, basic: bool = False) -> bool:
        """Whether ``header`` (an ``Authorization`` value) is the admin's: the Bearer
        token, or with ``basic`` (the HTTP door) also the Basic admin user. A wrong one
        is a failed login of ``address``; while that address must wait, raises
        BrokerError ``too_many_attempts`` without checking."""
        self._throttle.check(address, ADMIN_SCOPE)
        if (basic and self.check_basic(header)) or self.check_bearer(header):
            self._throttle.succeeded(address, ADMIN_SCOPE)
            return True
        self._throttle.failed(address, ADMIN_SCOPE, "Invalid admin credentials")
        return False

    def check_token(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self._token)

    def check_bearer(self, header: str | None) -> bool:
        """``Authorization: Bearer <token>``; the scheme word is case-insensitive."""
        if not header:
            return False
        scheme, _, value = header.strip().partition(" ")
        return scheme.lower() == "bearer" and self.check_token(value.strip())

    def check_basic(self, header: str | None) -> bool:
        """``Authorization: Basic base64(user:password)``; the password may contain ':'."""
        if not header or self._user is None or self._password is None:
            return False
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        if not sep:
            return False
        user_ok = hmac.compare_digest(user.encode(), self._user.encode())
        password_ok = hmac.compare_digest(password.encode(), self._password.encode())
        return user_ok and password_ok


def token_path(data_dir: Path) -> Path:
    return data_dir / TOKEN_FILE


def load_or_create_token(data_dir: Path) -> str:
    """The admin token stored in the data directory, generated (mode 0600) on first start.

    Servers started at once on one data directory agree on one token: a new token is
    written whole to a file of this process's own and then linked into place, which
    fails if another server got there first; that one's token is then used. (Writing
    the file in place would let one server serve a token that another overwrote.)"""
    path = token_path(data_dir)
    token = read_token(data_dir)
    if token is not None:
        return token
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    mine = path.with_name(f".{TOKEN_FILE}.{os.getpid()}")
    fd = os.open(mine, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        try:
            os.link(mine, path)
        except FileExistsError:
            theirs = read_token(data_dir)
            if theirs is not None:
                return theirs
            os.replace(mine, path)  # an empty token file: replaced
    finally:
        mine.unlink(missing_ok=True)
    log.warning("generated an admin token; it is stored in %s", path.resolve())
    return token


def read_token(data_dir: Path) -> str | None:
    """The stored token for admin commands, if the data directory has one."""
    try:
        return token_path(data_dir).read_text().strip() or None
    except OSError:
        return None
