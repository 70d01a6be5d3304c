"""The window of encoded lot events that answers repeated replays without the database."""

from __future__ import annotations

import pytest
from django.test import override_settings

from bidding.replay_window import ReplayWindow

pytestmark = pytest.mark.pure


def events(first: int, last: int) -> list[tuple[int, str]]:
    return [(seq, f'{{"seq": {seq}}}') for seq in range(first, last + 1)]


def test_a_range_it_holds_whole_is_answered_in_order():
    window = ReplayWindow(lots=10)
    window.keep(7, events(1, 5))
    assert window.texts(7, after=2, through=5) == ['{"seq": 3}', '{"seq": 4}', '{"seq": 5}']
    assert window.texts(7, after=5, through=5) == []


def test_a_range_with_any_event_missing_goes_to_the_database():
    window = ReplayWindow(lots=10)
    window.keep(7, events(1, 5))
    assert window.texts(7, after=2, through=6) is None  # committed after the window was filled
    assert window.texts(8, after=0, through=1) is None  # another lot
    window.keep(7, events(6, 6))
    assert window.texts(7, after=0, through=6) is not None


@override_settings(SYNC_MAX_EVENTS=3)
def test_it_keeps_each_lots_latest_events_and_the_most_recently_replayed_lots():
    window = ReplayWindow(lots=2)
    window.keep(1, events(1, 5))
    assert window.texts(1, after=1, through=5) is None and window.texts(1, after=2, through=5) is not None
    window.keep(2, events(1, 1))
    window.texts(1, after=4, through=5)  # lot 1 replayed again: lot 2 is now the least recent
    window.keep(3, events(1, 1))
    assert window.texts(2, after=0, through=1) is None
    assert window.texts(1, after=4, through=5) is not None and window.texts(3, after=0, through=1) is not None
