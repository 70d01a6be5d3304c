"""Lot events already read and encoded, kept for the next `sync` that asks for them.

A committed event never changes, so its encoded text, once read from the database, can answer every later replay
that covers it: a burst of reconnects after a worker restart, or a client syncing the same history again, costs
no query and no encoding. The window is filled from the database only, never from pub/sub (anyone who can reach
Redis can publish), and the lot's current seq is still read from the database for every replay, so a replay is
never behind what was committed. Used from the event loop only.
"""

from __future__ import annotations

from collections import OrderedDict

from django.conf import settings


class ReplayWindow:
    def __init__(self, *, lots: int) -> None:
        self._lots: OrderedDict[int, dict[int, str]] = OrderedDict()
        self._max_lots = lots

    def texts(self, lot_id: int, *, after: int, through: int) -> list[str] | None:
        """The encoded events after seq `after` up to `through`, in order, or None unless the window holds all."""
        held = self._lots.get(lot_id)
        if held is None:
            return None
        try:
            texts = [held[seq] for seq in range(after + 1, through + 1)]
        except KeyError:
            return None
        self._lots.move_to_end(lot_id)
        return texts

    def keep(self, lot_id: int, events: list[tuple[int, str]]) -> None:
        """Remember `(seq, text)` pairs read from the database; only the lot's latest SYNC_MAX_EVENTS are kept."""
        held = self._lots.setdefault(lot_id, {})
        held.update(events)
        if len(held) > settings.SYNC_MAX_EVENTS:
            for seq in sorted(held)[: len(held) - settings.SYNC_MAX_EVENTS]:
                del held[seq]
        self._lots.move_to_end(lot_id)
        while len(self._lots) > self._max_lots:
            self._lots.popitem(last=False)
