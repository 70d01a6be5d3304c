"""What this process knows for certain about each lot's minimum next bid: the highest one a committed bid set.

High bids only ever rise on a timed lot (a live lot's fall on an undo, and its bids never come this way: they are
refused `live_lot` before any floor is read or raised, and decided in bidding/services/live/), so a bid below a
committed floor is too low now and forever; refusing it needs no lock and no query. The database still decides
every bid that clears the floor.
"""

from __future__ import annotations

import threading


class CommittedFloors:
    def __init__(self) -> None:
        self._floors: dict[int, int] = {}
        self._guard = threading.Lock()

    def get(self, lot_id: int) -> int | None:
        return self._floors.get(lot_id)

    def raise_to(self, lot_id: int, min_next_bid: int) -> None:
        with self._guard:
            if min_next_bid > self._floors.get(lot_id, 0):
                self._floors[lot_id] = min_next_bid

    def forget(self, lot_id: int) -> None:
        self._floors.pop(lot_id, None)


committed_floor = CommittedFloors()
