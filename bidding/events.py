"""Group names and one builder per message the server sends: the only place payloads are shaped.

Every lot event (high_bid, extended, closed, cancelled) carries the lot's sequence number, is stored in
auctions.LotEvent in the same transaction as the change it announces, and is broadcast only after that transaction
commits.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from auctions.exceptions import BidRefused
from auctions.rules import min_next_bid
from bidding import fanout, outbox
from config.metrics import LAYER_SEND_FAILURES

if TYPE_CHECKING:
    from auctions.models import Lot
    from bidding.services import BidOutcome

log = structlog.get_logger(__name__)

Payload = dict[str, Any]


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def bidder_alias(number: int | None) -> str | None:
    # Public name on one lot; never the username.
    return None if number is None else f"Bidder {number}"


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds")


def lot_status_at(lot: Lot, now: datetime) -> str:
    """The status a bidder would observe now, even before the closing worker has run."""
    if lot.status in (lot.Status.CLOSED, lot.Status.CANCELLED):
        return lot.status
    if now < lot.starts_at:
        return lot.Status.SCHEDULED
    if now < lot.ends_at:
        return lot.Status.OPEN
    return lot.Status.CLOSED


def lot_min_next_bid(lot: Lot) -> int:
    return min_next_bid(starting_price=lot.starting_price, high_bid=lot.high_bid_amount)


def buy_now_price(lot: Lot, now: datetime) -> int | None:
    """Buy now is offered until the first bid (docs/protocol.md), while the lot takes bids."""
    if lot.buy_now_price is None or lot.bid_count or not lot.accepts_bids_at(now):
        return None
    return lot.buy_now_price


def snapshot(
    lot: Lot, *, now: datetime, high_bidder_number: int | None, your_number: int | None, your_max: int | None = None
) -> Payload:
    return {
        "type": "snapshot",
        "lot": {
            "id": lot.pk,
            "title": lot.title,
            "description": lot.description,
            "photo_url": lot.photo_url,
            "seller": lot.seller.get_username(),
            "starting_price": lot.starting_price,
            "starts_at": iso(lot.starts_at),
            "has_reserve": lot.reserve_price is not None,
            "hard_end_at": iso(lot.hard_end_at),
        },
        "high_bid": (
            None
            if lot.high_bid_amount is None
            else {"amount": lot.high_bid_amount, "bidder": bidder_alias(high_bidder_number)}
        ),
        "seq": lot.seq,
        "bid_count": lot.bid_count,
        "ends_at": iso(lot.ends_at),
        "server_time": iso(now),
        "status": lot_status_at(lot, now),
        "min_next_bid": lot_min_next_bid(lot),
        "reserve_met": lot.reserve_met,
        "buy_now_price": buy_now_price(lot, now),
        # Your own hidden maximum, if you lead with one: this snapshot is sent to you alone.
        "you": {"alias": bidder_alias(your_number), "max_amount": your_max},
    }


def lot_summary(lot: Lot, now: datetime) -> Payload:
    """A lot's public state in a list (lots list, my lots)."""
    return {
        "id": lot.pk,
        "title": lot.title,
        "status": lot_status_at(lot, now),
        "high_bid": lot.high_bid_amount,
        "bid_count": lot.bid_count,
        "min_next_bid": lot_min_next_bid(lot),
        "starts_at": iso(lot.starts_at),
        "ends_at": iso(lot.ends_at),
        "seq": lot.seq,
        "reserve_met": lot.reserve_met,
        "has_reserve": lot.reserve_price is not None,
        "buy_now_price": buy_now_price(lot, now),
    }


def seller_lot(lot: Lot, *, now: datetime, watchers: int) -> Payload:
    """One row of the seller's live dashboard: the public state plus what only the seller may know about their own
    lot (its reserve). Never a bidder's maximum."""
    return {
        **lot_summary(lot, now),
        "reserve_price": lot.reserve_price,
        "bidder_count": lot.bidder_count,
        "hard_end_at": iso(lot.hard_end_at),
        "watchers": watchers,
        "winner_found": lot.winner_id is not None,
    }


def seller_snapshot(rows: list[Payload], *, now: datetime) -> Payload:
    return {"type": "seller_snapshot", "lots": rows, "server_time": iso(now)}


def seller_lot_changed(row: Payload, *, now: datetime) -> Payload:
    """To the seller's dashboard when they list or edit a lot (bids and closes arrive as the lot's own events)."""
    return {"type": "seller_lot", "lot": row, "server_time": iso(now)}


def watchers(counts: dict[int, int], *, now: datetime) -> Payload:
    return {
        "type": "watchers",
        "lots": {str(lot_id): count for lot_id, count in counts.items()},
        "server_time": iso(now),
    }


def high_bid(
    lot: Lot,
    *,
    amount: int,
    bidder_number: int,
    now: datetime,
    extended: bool,
    automatic: bool = False,
    outbid_at_once: bool = False,
    buy_now: bool = False,
) -> Payload:
    """One bid row. A client bid answered by a hidden maximum makes two or three of these, in sequence order; the
    last one is the lot's state. Never carries anyone's maximum."""
    return {
        "type": "high_bid",
        "lot": lot.pk,
        "seq": lot.seq,
        "amount": amount,
        "bidder": bidder_alias(bidder_number),
        "automatic": automatic,
        "outbid_at_once": outbid_at_once,
        "buy_now": buy_now,
        "bid_count": lot.bid_count,
        "ends_at": iso(lot.ends_at),
        "extended": extended,
        "server_time": iso(now),
        "min_next_bid": lot_min_next_bid(lot),
        "reserve_met": lot.reserve_met,
    }


def closed(lot: Lot, *, winner_number: int | None, now: datetime) -> Payload:
    return {
        "type": "closed",
        "lot": lot.pk,
        "seq": lot.seq,
        "status": lot.status,
        "winner": bidder_alias(winner_number),
        "amount": lot.high_bid_amount if lot.winner_id else None,
        "high_bid": lot.high_bid_amount,
        "reserve_met": lot.reserve_met,
        "bid_count": lot.bid_count,
        "server_time": iso(now),
    }


def lot_cancelled(lot: Lot, *, reason: str, now: datetime) -> Payload:
    """A lot event (it carries the lot's seq) and, the same payload, a notice to its bidders and watchers."""
    return {
        "type": "cancelled",
        "lot": lot.pk,
        "title": lot.title,
        "seq": lot.seq,
        "status": lot.status,
        "reason": reason,
        "server_time": iso(now),
    }


def extended(lot: Lot, *, reason: str, now: datetime) -> Payload:
    """Staff moved the end later: a lot event (it carries the lot's seq) and, the same payload, a notice to its
    bidders, watchers and seller. verify_lot replays the end from these events."""
    return {
        "type": "extended",
        "lot": lot.pk,
        "title": lot.title,
        "seq": lot.seq,
        "ends_at": iso(lot.ends_at),
        "reason": reason,
        "server_time": iso(now),
    }


def banned(*, reason: str, lot: Lot | None, now: datetime) -> Payload:
    """To the banned user alone: they may watch, never bid; `lot` is where staff acted, if anywhere."""
    return {
        "type": "banned",
        "lot": None if lot is None else lot.pk,
        "title": None if lot is None else lot.title,
        "reason": reason,
        "server_time": iso(now),
    }


def outbid(lot: Lot, *, now: datetime) -> Payload:
    return {
        "type": "outbid",
        "lot": lot.pk,
        "title": lot.title,
        "seq": lot.seq,
        "amount": lot.high_bid_amount,
        "min_next_bid": lot_min_next_bid(lot),
        "ends_at": iso(lot.ends_at),
        "server_time": iso(now),
    }


def won(lot: Lot, *, now: datetime) -> Payload:
    return {"type": "won", "lot": lot.pk, "title": lot.title, "amount": lot.high_bid_amount, "server_time": iso(now)}


def lot_closing_soon(lot: Lot, *, now: datetime) -> Payload:
    return {
        "type": "lot_closing_soon",
        "lot": lot.pk,
        "title": lot.title,
        "ends_at": iso(lot.ends_at),
        "high_bid": lot.high_bid_amount,
        "min_next_bid": lot_min_next_bid(lot),
        "server_time": iso(now),
    }


def lot_closed(lot: Lot, *, winner_number: int | None, you_won: bool, now: datetime) -> Payload:
    return {
        "type": "lot_closed",
        "lot": lot.pk,
        "title": lot.title,
        "winner": bidder_alias(winner_number),
        "amount": lot.high_bid_amount if lot.winner_id else None,
        "reserve_met": lot.reserve_met,
        "you_won": you_won,
        "server_time": iso(now),
    }


def me(*, watching: list[int], last_id: int, now: datetime) -> Payload:
    """The greeting on ws/me/: `last_id` is the user's latest notice (a client with none stored starts there)."""
    return {"type": "me", "watching": watching, "last_id": last_id, "server_time": iso(now)}


def synced(*, seq: int, now: datetime) -> Payload:
    return {"type": "synced", "seq": seq, "server_time": iso(now)}


def pong(*, now: datetime) -> Payload:
    return {"type": "pong", "server_time": iso(now)}


def me_synced(*, last_id: int, now: datetime) -> Payload:
    """After a `sync` on ws/me/: the id of the user's latest notice (remember it; sync after it next time)."""
    return {"type": "synced", "last_id": last_id, "server_time": iso(now)}


def bid_accepted(outcome: BidOutcome) -> Payload:
    """To the bidder alone: `leading` false means a hidden maximum beat the bid at once; `max_amount` is theirs.
    A retry of an accepted bid gets exactly the original fields, with `duplicate` true."""
    return {
        "type": "bid_accepted",
        "lot": outcome.lot_id,
        "bid_id": outcome.bid_id,
        "amount": outcome.amount,
        "seq": outcome.seq,
        "leading": outcome.leading,
        "automatic": outcome.automatic,
        "max_amount": outcome.max_amount,
        "duplicate": outcome.duplicate,
    }


def bid_rejected(bid_id: object, refusal: BidRefused) -> Payload:
    # Echo the client's id only when it is one we could have accepted, so the reply stays small and plain.
    echo = bid_id if isinstance(bid_id, str) and 0 < len(bid_id) <= 64 else None
    return {"type": "bid_rejected", "bid_id": echo, "code": refusal.code, "message": refusal.message, **refusal.details}


def error(refusal: BidRefused) -> Payload:
    return {"type": "error", "code": refusal.code, "message": refusal.message, **refusal.details}


def encode(payload: Payload) -> str:
    """Once per event, whatever the number of watchers."""
    return json.dumps(payload)


def record_and_broadcast(lot: Lot, payload: Payload, *, notify: list[tuple[int, Payload]] = ()) -> None:
    """Store a lot event and its personal notices (inside the caller's transaction) and send them after commit."""
    from auctions.models import LotEvent

    LotEvent.objects.create(lot=lot, seq=payload["seq"], payload=payload)
    broadcast_on_commit(lot.pk, payload["seq"], encode(payload), notify=store_notices(notify))


def broadcast_on_commit(lot_id: int, seq: int, text: str, *, notify: list[tuple[int, Payload]] = ()) -> None:
    """Send a stored lot event and personal notices once the transaction commits."""
    broadcast_all_on_commit(lot_id, [(seq, text)], notify=notify)


def broadcast_all_on_commit(
    lot_id: int, texts: list[tuple[int, str]], *, notify: list[tuple[int, Payload]] = ()
) -> None:
    """Send stored lot events, (seq, encoded text) in sequence order, and personal notices once the transaction
    commits; then mark the events published, all of them in one write (bidding/outbox.py).

    Called under the lot's lock and row lock, so the sends leave in sequence order.
    """
    notices = _notices(notify)
    transaction.on_commit(lambda: _send_all(lot_id, texts, notices))


def notify_on_commit(notify: list[tuple[int, Payload]], *, stored: bool = True) -> None:
    """Personal notices only (no lot event), once the transaction commits. `stored`: each is kept for ws/me/
    replay (store_notices, in the caller's transaction); a dashboard update (`seller_lot`) is not."""
    if not notify:
        return
    notices = _notices(store_notices(notify) if stored else notify)
    transaction.on_commit(lambda: _send_notices(notices))


def store_notices(notify: list[tuple[int, Payload]]) -> list[tuple[int, Payload]]:
    """Store each personal notice (inside the caller's transaction) and return them with their `id`, which the
    client remembers and replays after (`sync` on ws/me/). Notices already stored (they carry an `id`, e.g. the
    `outbid` notices written with their bid) are returned as they are."""
    from auctions.models import Notice

    fresh = [(user_id, payload) for user_id, payload in notify if "id" not in payload]
    if not fresh:
        return list(notify)
    rows = Notice.objects.bulk_create([Notice(user_id=user_id, payload=payload) for user_id, payload in fresh])
    ids = iter(row.pk for row in rows)
    # A copy per user: one payload object may be shared (a lot event told to many) and is stored as it is.
    return [(user_id, payload if "id" in payload else {**payload, "id": next(ids)}) for user_id, payload in notify]


def _notices(notify: list[tuple[int, Payload]]) -> list[tuple[str, dict]]:
    return [(user_group(user_id), {"type": "user.event", "payload": notice}) for user_id, notice in notify]


def _send_all(lot_id: int, texts: list[tuple[int, str]], notices: list[tuple[str, dict]]) -> None:
    first = None  # the run of events published in a row, marked as one range
    for seq, text in texts:
        try:
            fanout.publish(lot_id, text)
        except Exception:
            # The event is committed and replayable via `sync`; a failed send must not undo or hide it. Left
            # unmarked, the relay publishes it again.
            LAYER_SEND_FAILURES.labels("broadcast").inc()
            log.exception("broadcast_failed", lot_id=lot_id, seq=seq)
            if first is not None:
                outbox.marks.add(lot_id, first, seq - 1)
            first = None
            continue
        first = seq if first is None else first
    if first is not None:
        outbox.marks.add(lot_id, first, texts[-1][0])
    _send_notices(notices)


def _send_notices(notices: list[tuple[str, dict]]) -> None:
    if notices:
        async_to_sync(_asend_notices)(notices)


async def _asend_notices(notices: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    for group, message in notices:
        try:
            await layer.group_send(group, message)
        except Exception:
            LAYER_SEND_FAILURES.labels("notice").inc()
            log.exception("notice_failed", group=group, notice=message["payload"].get("type"))


_notice_tasks: set[asyncio.Task] = set()


def send_notices_soon(notify: list[tuple[int, Payload]]) -> None:
    """From a coroutine: send personal notices in the background (they carry no ordering promise)."""
    if not notify:
        return
    task = asyncio.get_running_loop().create_task(_asend_notices(_notices(notify)))
    _notice_tasks.add(task)  # keep a reference until it is done
    task.add_done_callback(_notice_tasks.discard)
