"""The server's logging: one line per record on stderr, as text or as JSON.

A record about a session carries ``extra={"session": name, "peer": address}``; both
formats show them, and an audit record's ``action`` and ``target`` too. Audit records
(every refused login or admin request, every admin action and every connection the
server closes) are on the ``fastport.audit`` logger, so an operator can route or keep
them apart by logger name. The level can change while the server runs (SIGHUP
re-reads it).
"""

from __future__ import annotations

import datetime
import logging
import sys
from typing import Any

import orjson

_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

audit = logging.getLogger("fastport.audit")


def audit_admin_action(peer: str, action: str, session: str, admin: bool) -> None:
    """One line per administrative act on either door: what, on which session, by whom,
    from where. The session goes in ``target``, not ``session``: the line is not for
    that session's own log readers (``web/logstream.py``)."""
    who = "the admin" if admin else "the session's owner"
    audit.info("%s %r by %s", action, session, who, extra={"peer": peer, "action": action, "target": session})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, session,
    peer, and the traceback as ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "session": getattr(record, "session", None) or None,
            "peer": getattr(record, "peer", None) or None,
        }
        for key in ("action", "target"):
            if (value := getattr(record, key, None)) is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, then ``session=… peer=…`` when the record has them."""

    def __init__(self) -> None:
        super().__init__(_TEXT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = " ".join(
            f"{key}={value}"
            for key in ("session", "peer", "target")
            if (value := getattr(record, key, None)) not in (None, "")
        )
        return f"{text} [{context}]" if context else text


def configure(level: str, fmt: str = "text") -> None:
    """Send every record to stderr in ``fmt``; replaces whatever was configured before."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    set_level(level)


def set_level(level: str) -> None:
    logging.getLogger().setLevel(level.upper())
