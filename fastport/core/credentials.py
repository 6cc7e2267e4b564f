"""Session passwords and secret keys: stored only as salted hashes, compared in constant time.

Passwords are low-entropy, so they get scrypt. Checking scrypt on every connection
would make a reconnect storm expensive, so each session remembers a keyed digest of
the passwords it has already verified (in memory only, never stored).
Secret keys are 32 random bytes, so a salted SHA-256 is enough for them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


_NO_SALT = secrets.token_bytes(16)


def verify_nothing(password: str) -> bool:
    """What ``verify_password`` costs, spent on a login to a session that does not
    exist: its answer must take as long as a wrong password's, or timing would tell
    which session names exist. Always False."""
    try:
        hashlib.scrypt(password.encode(), salt=_NO_SALT, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    except (ValueError, TypeError):
        pass
    return False


def new_secret_key() -> str:
    """64 hex characters, as the legacy protocol hands out."""
    return secrets.token_hex(32)


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    return f"sha256${salt.hex()}${hashlib.sha256(salt + secret.encode()).hexdigest()}"


def verify_secret(stored: str, secret: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
        if scheme != "sha256":
            return False
        got = hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, digest)


class VerifiedCache:
    """Keyed digests of passwords that passed scrypt, so a re-init costs one HMAC."""

    __slots__ = ("_key", "_seen")

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._seen: set[bytes] = set()

    def digest(self, password: str) -> bytes:
        return hmac.digest(self._key, password.encode(), "sha256")

    def __contains__(self, password: str) -> bool:
        return self.digest(password) in self._seen

    def add(self, password: str) -> None:
        if len(self._seen) >= 16:
            self._seen.clear()
        self._seen.add(self.digest(password))
