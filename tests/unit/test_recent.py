"""The de-duplication memory of one session (fastport.engines.embedded.recent)."""

from __future__ import annotations

from fastport.engines.embedded.recent import RecentIds


def test_ids_are_forgotten_at_their_time() -> None:
    recent = RecentIds()
    recent.add("a", 100, 1)
    recent.add("b", 100, 2)
    recent.add("c", 250, 0)
    assert (len(recent), recent.get("a"), recent.get("b"), recent.get("c")) == (3, 1, 2, 0)
    assert recent.oldest() == 100
    recent.expire(99)
    assert len(recent) == 3
    recent.expire(100)
    assert "a" not in recent and "b" not in recent and recent.get("a") is None
    assert recent.get("c") == 0 and recent.oldest() == 250
    recent.expire(1000)
    assert len(recent) == 0 and recent.oldest() is None


def test_an_id_added_with_an_earlier_time_waits_for_the_ones_before_it() -> None:
    recent = RecentIds()
    recent.add("late", 500, 1)
    recent.add("early", 300, 1)  # e.g. the clock stepped back: kept longer, never shorter
    recent.expire(300)
    assert "early" in recent
    recent.expire(500)
    assert len(recent) == 0


def test_adding_a_remembered_id_again_keeps_its_place() -> None:
    recent = RecentIds()
    recent.add("m", 100, 1)
    recent.add("m", 900, 3)  # a store may hand back an id twice
    assert len(recent) == 1 and recent.get("m") == 3
    recent.expire(100)
    assert len(recent) == 0 and recent.oldest() is None


def test_many_ids_of_one_millisecond_share_one_time() -> None:
    recent = RecentIds()
    for i in range(1000):
        recent.add(f"m{i}", 10 + i // 100, i)
    assert len(recent._times) == 10 and sum(recent._counts) == 1000
    recent.expire(14)
    assert len(recent) == 500 and recent.get("m499") is None and recent.get("m500") == 500
    recent.clear()
    assert len(recent) == 0 and recent.oldest() is None


def test_past_its_limit_the_oldest_ids_are_forgotten_first() -> None:
    recent = RecentIds(limit=3)
    for i, at in enumerate((100, 100, 200, 300, 300)):
        recent.add(f"m{i}", at, i)
    assert len(recent) == 3 and recent.forgotten_early == 2
    assert [recent.get(f"m{i}") for i in range(5)] == [None, None, 2, 3, 4]
    assert recent.oldest() == 200  # the first time went with its last id
    recent.expire(299)
    assert len(recent) == 2 and recent.oldest() == 300
    recent.add("m3", 900, 7)  # already remembered: no growth, nothing forgotten
    assert len(recent) == 2 and recent.forgotten_early == 2
