"""URLs as people may see them: without the secrets a URL can carry.

A NATS URL may hold a user and password or a token (``nats://user:pass@host:4222``,
``nats://token@host:4222``). Wherever a URL is shown — log lines, error messages,
``--help`` — it is shown through ``hide_secret``.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

HIDDEN = "***"


def hide_secret(url: str) -> str:
    """``url`` with its password, or its token (a user part without a password), as
    ``***``; the user name stays, to tell which credentials were used."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:{HIDDEN}" if colon else HIDDEN
    return urlunsplit(parts._replace(netloc=f"{shown}@{host}"))


def hide_secrets(urls: str) -> str:
    """A comma-separated list of URLs, each through ``hide_secret``."""
    return ",".join(hide_secret(url) for url in urls.split(","))
