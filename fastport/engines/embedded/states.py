"""The embedded engine's state enums."""

from __future__ import annotations

import enum


class DeliveryState(enum.Enum):
    """Where one delivery stands. It is in its session's retry queue exactly while
    SCHEDULED (settling takes it out at once)."""

    WAITING = "waiting"  # not sent: waiting its turn in the window, its subscriber, or room at the door
    SCHEDULED = "scheduled"  # sent; its re-send (or give-up) is due at ``due_ms``
    SETTLED = "settled"  # ACKed or given up
