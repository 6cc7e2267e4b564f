"""The flow-control window of one subscriber (engines/embedded/flow.py), on its own:
admission, waiting and unsent deliveries in order, and queues that exist only while
something is in them (an idle subscriber holds none)."""

from __future__ import annotations

from typing import Any, cast

from fastport.engines.embedded.flow import Window
from fastport.engines.embedded.states import DeliveryState
from fastport.engines.embedded.tracking import Delivery


class D:
    """A stand-in delivery: the window reads only its state."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = DeliveryState.WAITING

    def __repr__(self) -> str:
        return self.name


def deliveries(*names: str) -> list[Delivery]:
    return [cast(Delivery, D(name)) for name in names]


def drain(window: Window, limit: int) -> list[tuple[Any, bool]]:
    out = []
    while (turn := window.next(limit)) is not None:
        out.append(turn)
    return out


def test_an_idle_window_holds_no_queues() -> None:
    window = Window()
    assert window.waiting is None and window.unsent is None
    (a,) = deliveries("a")
    assert window.admit(a, 2)
    window.settle(a)
    assert window.waiting is None and window.unsent is None and not window.in_flight


def test_past_the_limit_deliveries_wait_in_order_and_the_queue_goes_when_empty() -> None:
    window = Window()
    a, b, c, d = deliveries("a", "b", "c", "d")
    assert window.admit(a, 1)
    assert not window.admit(b, 1)
    assert not window.admit(c, 1)
    assert window.next(1) is None  # the window is full
    window.settle(a)
    c.state = DeliveryState.SETTLED  # given up while waiting: skipped when its turn comes
    assert not window.admit(d, 1)  # behind the waiting ones, even with room
    assert window.next(1) == (b, False)
    window.settle(b)
    assert window.next(1) == (d, False)
    assert window.waiting is None


def test_refused_deliveries_go_first_once_unblocked() -> None:
    window = Window()
    a, b, c, w = deliveries("a", "b", "c", "w")
    for x in (a, b, c):
        assert window.admit(x, 10)
    window.refused(b, oldest=False)
    window.refused(c, oldest=False)
    window.refused(a, oldest=True)
    assert not window.admit(w, 10)  # blocked: waits
    assert window.next(10) is None
    window.settle(c)  # settled while unsent: not offered again
    window.blocked = False
    assert drain(window, 10) == [(a, True), (b, True), (w, False)]
    assert window.unsent is None and window.waiting is None
