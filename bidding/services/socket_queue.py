"""The socket path: the same checks and decision as place_bid, with the lot lock awaited in the event loop and the
bids that queue for a lot in this process decided in groups (bidding/group_commit.py)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import structlog
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from auctions.exceptions import BidRefused, Busy, NotAuthenticated, TooLow, Unavailable
from bidding import broadcast
from bidding.floors import committed_floor
from bidding.group_commit import GroupCommit, Queue
from bidding.locks import alot_lock
from bidding.retries import BidOutcome
from bidding.services import decision, precheck
from bidding.services.checks import check_bid_fields
from bidding.services.decision import QueuedBid

log = structlog.get_logger(__name__)


async def aplace_bid(
    *,
    user,
    lot_id: int,
    amount: object,
    bid_id: object,
    max_amount: object = None,
    received: int | None = None,
    received_at: datetime | None = None,
) -> BidOutcome:
    """place_bid for the socket path: the same checks and the same decision; the ORM runs in the shared thread
    pool and the lock is awaited in the event loop, so a hot lot never ties up the pool. Bids queued for a lot
    in this process are decided in groups (bidding/group_commit.py), in the order they were `received`
    (time.monotonic_ns(); default: now), not the order their pre-checks ended; `received_at` is the same moment
    on the wall clock, which decides whether the bid is on time (place_bid)."""
    received = time.monotonic_ns() if received is None else received
    received_at = received_at or timezone.now()
    amount, bid_id, max_amount = check_bid_fields(amount, bid_id, max_amount)
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    fields = {"lot_id": lot_id, "amount": amount, "bid_id": bid_id, "max_amount": max_amount}
    earlier = await _below_floor(user, **fields) or await in_thread(precheck.guarded)(
        precheck.check_before_lock, user, **fields, received_at=received_at
    )
    if earlier:
        return earlier
    queued = QueuedBid(
        user=user,
        lot_id=lot_id,
        amount=amount,
        bid_id=bid_id,
        max_amount=max_amount,
        received=received,
        received_at=received_at,
        deadline=deadline_of(received),
    )
    result = await submit_decision(_lot_decisions, lot_id, queued, lot_id=lot_id, bid_id=bid_id)
    if result is _BEATEN:
        return await _below_floor(user, **fields)
    outcome: BidOutcome = result
    broadcast.send_notices_soon(list(outcome.notices))  # the bidder's answer does not wait for them
    return outcome


def deadline_of(received: int) -> float:
    """When a bid received at `received` (time.monotonic_ns()) stops waiting for its lot and is answered `busy`."""
    return received / 1e9 + settings.BID_LOCK_WAIT_SECONDS


async def submit_decision(decisions: GroupCommit, key, item, **log_context) -> object:
    """`item`'s result from its queue, or its refusal raised; a decider that itself broke is `unavailable` to every
    bid it held (logged), and the socket stays open."""
    try:
        return await decisions.submit(key, item)
    except BidRefused:
        raise
    except Exception:
        log.exception("bid_decision_failed", **log_context)
        raise Unavailable() from None


_BEATEN = object()  # a queued bid that a bid committed meanwhile has already beaten


async def decide_under_lot_lock(lot_id: int, queue: Queue, decide: Callable[[list], Awaitable[list]]) -> None:
    """Take the lot lock, then `decide` every item queued by then as one group (each item has a `deadline`, a
    time.monotonic() value; one past it is answered `busy`). The group is formed once the lock is held, so it
    includes whatever arrived while the lock was awaited: formed earlier, a group waiting on another process would
    hold bids computed before that process's latest, all of them beaten."""
    while True:
        now = time.monotonic()
        expired = queue.take(lambda item, now=now: item.deadline <= now)
        queue.answer(expired, [Busy() for _ in expired])
        if not queue.waiting:
            return
        try:
            async with alot_lock(lot_id, deadline=min(item.deadline for item in queue.waiting)):
                group = queue.take()
                results = await decide(group)
            queue.answer(group, results)
            return
        except Busy:
            continue  # the earliest deadline passed: those items are answered busy, the rest try again


async def _decide_queued(lot_id: int, queue: Queue[QueuedBid]) -> None:
    async def decide(group: list[QueuedBid]) -> list[object]:
        # Checked again in the queue: in a sniping burst most waiting bids have been beaten by the time their turn
        # comes. Such a bid gives its turn up at once; its refusal happens outside the lock.
        results: dict[int, object] = {}
        for index, bid in enumerate(group):
            if _beaten(lot_id, bid.amount):
                results[index] = _BEATEN
        deciding = [index for index in range(len(group)) if index not in results]
        if deciding:
            decided = await decide_in_thread(decision.decide_group, lot_id, [group[index] for index in deciding])
            results.update(zip(deciding, decided, strict=False))
            # Before the next group is decided, so that a retry queued behind its own bid is seen as one.
            for result in decided:
                if isinstance(result, BidOutcome) and result.min_next_bid is not None:
                    committed_floor.raise_to(lot_id, result.min_next_bid)
        return [results[index] for index in range(len(group))]

    await decide_under_lot_lock(lot_id, queue, decide)


_lot_decisions: GroupCommit[QueuedBid] = GroupCommit(
    _decide_queued, max_group=settings.BID_GROUP_MAX, order=lambda bid: bid.received
)


def _beaten(lot_id: int, amount: int) -> bool:
    floor = committed_floor.get(lot_id)
    return floor is not None and amount < floor


async def _below_floor(user, *, lot_id: int, amount: int, bid_id: str, max_amount: int | None) -> BidOutcome | None:
    """Refuse a bid already beaten by one this process saw commit (exact: the floor only rises, and only with
    committed bids). Only a retry of a bid accepted earlier can still succeed, with its original outcome."""
    if not _beaten(lot_id, amount):
        return None
    earlier = await in_thread(precheck.guarded)(
        precheck.earlier_answer, user, lot_id=lot_id, amount=amount, bid_id=bid_id, max_amount=max_amount
    )
    if earlier:
        return earlier
    floor = committed_floor.get(lot_id)
    raise TooLow(min_next_bid=floor)


# Not one thread per socket, nor Django's single "sync" thread: a shared pool, bounded, so database connections
# are bounded by threads, never by open sockets.
def in_thread(function):
    return database_sync_to_async(function, thread_sensitive=False)


# The decision runs while the lot's lock is held; on its own small pool it never queues behind other sockets'
# pre-checks and reads, which keeps the lock's critical section to the transaction itself.
_decision_pool = ThreadPoolExecutor(max_workers=settings.BID_DECISION_THREADS, thread_name_prefix="bid-decision")


async def decide_in_thread(step, *args):
    return await database_sync_to_async(step, thread_sensitive=False, executor=_decision_pool)(*args)
