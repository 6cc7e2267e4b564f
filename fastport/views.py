"""The JSON shapes fastport shows of its objects, one per concept, used by every door
and by the ``fastport`` command so that the same data never travels under two names.

A session is shown with the keys a session is created with (``sessionName``,
``retryInterval``, ``maxRetryLimit``, ``messageExpiryTime`` as in
``POST /api/createSession``), numbers as JSON numbers (milliseconds and Unix
milliseconds), ``null`` for "never", and never its password or secret key::

    {"sessionName": "demo", "retryInterval": 5000, "maxRetryLimit": 100,
     "messageExpiryTime": null, "expiresAt": null, "suspended": false,
     "createdAt": 1767225600000, "connections": 1, "subscriptions": 2,
     "pendingMessages": 0, "maxRememberedIds": 1000000, "deadLetterTopic": null,
     "limits": {"maxPayloadBytes": 0, "maxConnections": 0,
                "maxSubscriptions": 0, "maxPendingMessages": 250000,
                "maxPendingBytes": 134217728, "maxInFlight": 1000}}

``deadLetterTopic`` is ``null`` when the session has none (given-up deliveries are
only reported to their publishers). ``limits`` show the values in force: 0 for "the server's maximum" (payload) or
"unlimited" (connections, subscriptions), the defaults filled in for the others.
"""

from __future__ import annotations

from typing import Any

from .core.session import SessionInfo

# Session limits by field name, as JSON names them (also the createSession body's keys).
LIMIT_KEYS: dict[str, str] = {
    "max_payload_bytes": "maxPayloadBytes",
    "max_connections": "maxConnections",
    "max_subscriptions": "maxSubscriptions",
    "max_pending_messages": "maxPendingMessages",
    "max_pending_bytes": "maxPendingBytes",
    "max_in_flight": "maxInFlight",
}


def session_json(info: SessionInfo) -> dict[str, Any]:
    """The documented shape of a session (``GET /api/sessions``, ``fastport session``)."""
    limits = info.limits
    return {
        "sessionName": info.name,
        "retryInterval": info.retry_interval_ms,
        "maxRetryLimit": info.max_retry_limit,
        "messageExpiryTime": info.message_expiry_ms or None,
        "expiresAt": info.expires_at_ms or None,
        "suspended": info.suspended,
        "createdAt": info.created_at_ms,
        "connections": info.connections,
        "subscriptions": info.subscriptions,
        "pendingMessages": info.pending_messages,
        "maxRememberedIds": info.max_remembered_ids,
        "deadLetterTopic": info.dead_letter_topic or None,
        "limits": {key: getattr(limits, name) for name, key in LIMIT_KEYS.items()},
    }
