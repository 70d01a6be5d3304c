"""Group commit: in one process, the bids that queue for a lot while it is busy are decided together.

A hot lot's bids are serial by nature (one lock, one row), so its throughput is one over the time each decision
holds the lot: the lock's round trips, the hop to the decision thread and back, the locked read and the commit.
Deciding what queued meanwhile as one group pays that once per group instead of once per bid, without waiting
for anything: a bid that finds the lot idle is decided at once, alone. Arrival order is kept.
"""

from __future__ import annotations

import asyncio
import bisect
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

Item = TypeVar("Item")


class Queue(Generic[Item]):
    """One key's waiting items, as its decider sees them: it takes some, and answers each one it took."""

    def __init__(self, max_group: int, order: Callable[[Item], object]) -> None:
        self._entries: list[tuple[Item, asyncio.Future]] = []
        self._max_group = max_group
        self._order = order
        self._taken: dict[int, asyncio.Future] = {}

    @property
    def waiting(self) -> list[Item]:
        return [item for item, _ in self._entries]

    def take(self, select: Callable[[Item], bool] | None = None) -> list[Item]:
        """Remove and return, in arrival order, the waiting items `select` accepts (all of them by default, at most
        the group size either way). Each must then be answered."""
        chosen = [(item, future) for item, future in self._entries if select is None or select(item)]
        chosen = chosen[: self._max_group]
        for item, future in chosen:
            self._taken[id(item)] = future
        gone = {id(item) for item, _ in chosen}
        self._entries = [(item, future) for item, future in self._entries if id(item) not in gone]
        return [item for item, _ in chosen]

    def answer(self, items: list[Item], results: list[object]) -> None:
        """Each item's result: a value, or the exception its submitter raises."""
        for item, result in zip(items, results, strict=True):
            future = self._taken.pop(id(item))
            if future.done():  # its submitter was cancelled; the decision stands and a retry finds it
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    def fail_taken(self, exc: BaseException) -> None:
        for future in self._taken.values():
            if not future.done():
                future.set_exception(exc)
        self._taken.clear()

    def fail_waiting(self, exc: BaseException | None) -> None:
        """Answer every waiting item with `exc`, or cancel them (None)."""
        for _, future in self._entries:
            if future.done():
                continue
            if exc is None:
                future.cancel()
            else:
                future.set_exception(exc)
        self._entries = []

    def _add(self, item: Item, future: asyncio.Future) -> None:
        # Items reach the queue after work of varying length (a bid's pre-check); an item that arrived earlier
        # still goes ahead of any later one waiting with it.
        bisect.insort(self._entries, (item, future), key=lambda entry: self._order(entry[0]))


# Takes and answers one group from the key's queue (or answers some waiting items, such as those out of time).
Decide = Callable[[Hashable, Queue], Awaitable[None]]


class GroupCommit(Generic[Item]):
    """`order`: the item's place in its queue (its arrival, say); items that tie keep the order they came in."""

    def __init__(self, decide: Decide, *, max_group: int, order: Callable[[Item], object]) -> None:
        if max_group < 1:
            raise ValueError(f"max_group must be at least 1 (BID_GROUP_MAX), not {max_group}")
        self._decide = decide
        self._max_group = max_group
        self._order = order
        # Per event loop (Daphne has one; tests make many): key -> its queue, while it has a decider.
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, Queue]] = (
            weakref.WeakKeyDictionary()
        )
        self._deciders: set[asyncio.Task] = set()

    async def submit(self, key: Hashable, item: Item) -> object:
        """Queue `item` under `key` and return its result once it is decided (or raise its refusal)."""
        loop = asyncio.get_running_loop()
        queues = self._queues.setdefault(loop, {})
        future = loop.create_future()
        queue = queues.get(key)
        if queue is None:
            queue = queues[key] = Queue(self._max_group, self._order)
            decider = loop.create_task(self._run(queues, key, queue))
            self._deciders.add(decider)  # keep a reference until it is done
            decider.add_done_callback(self._deciders.discard)
        queue._add(item, future)
        # Shielded: a bidder who disconnects does not take the group's decision away from the others.
        return await asyncio.shield(future)

    async def _run(self, queues: dict, key: Hashable, queue: Queue) -> None:
        try:
            while queue.waiting:
                try:
                    await self._decide(key, queue)
                except Exception as exc:
                    # The decider itself failed (Redis down, say): everyone waiting is told now; a bidder queued
                    # behind would only meet the same failure, after a wait.
                    queue.fail_taken(exc)
                    queue.fail_waiting(exc)
                except BaseException as exc:
                    queue.fail_taken(exc)
                    raise
                queue.fail_taken(RuntimeError("taken from the queue and never answered"))
        finally:
            queues.pop(key, None)
            queue.fail_waiting(None)  # only when cancelled (the loop is shutting down)
