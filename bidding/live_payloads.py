"""One pure builder per message of the live bid path (docs/protocol.md "Live sales"). Public events say who leads
only as "room" (the floor) or a bidder's alias on the lot; the clerk's view adds the source and the paddle and goes
to the sale's clerks alone. No maximum is ever in any of them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from auctions.payloads import Payload, bidder_alias, iso

if TYPE_CHECKING:
    from auctions.models import Lot, Sale
    from bidding.models import Bid


def block_state(sale: Sale, lot: Lot, *, leader_number: int | None = None) -> Payload:
    """What everyone sees of the lot on the block. `leader_number`: the leading bidder's number on the lot (their
    public alias, "Bidder N": a bidder's page compares it with its own to say "you"); none for the room."""
    floor = lot.live_leader_source == "floor"
    return {
        "bidder": None if floor else bidder_alias(leader_number),
        "sale": sale.pk,
        "lot": lot.pk,
        "seq": lot.seq,
        "sale_status": sale.status,
        "live_state": lot.live_state,
        "amount": lot.high_bid_amount,
        "ask": lot.live_ask,
        "increment": lot.live_increment,
        "leader": None if lot.high_bid_amount is None else ("room" if floor else "bidder"),
        "bid_count": lot.bid_count,
        "reserve_met": lot.reserve_met,
        "hammer_at": iso(lot.hammer_at),
    }


def block_event(sale: Sale, lot: Lot, kind: str, *, now: datetime, leader_number: int | None = None, **more) -> Payload:
    """`live` events: offered, on_block, ask, fair_warning, sold, passed, reopened, undone, paused, resumed, message."""
    state = block_state(sale, lot, leader_number=leader_number)
    return {"type": "live", "event": kind, **state, **more, "server_time": iso(now)}


def live_bid_event(sale: Sale, lot: Lot, bid: Bid, *, now: datetime) -> Payload:
    return {
        "type": "live",
        "event": "bid",
        **block_state(sale, lot, leader_number=bid.bidder_number or None),
        "server_time": iso(now),
    }


def moved_on(lot: Lot, *, next_lot: int, now: datetime) -> Payload:
    return {
        "type": "live",
        "event": "moved_on",
        "lot": lot.pk,
        "seq": lot.seq,
        "next_lot": next_lot,
        "live_state": lot.live_state,
        "server_time": iso(now),
    }


def clerk_view(sale: Sale, lot: Lot, *, now: datetime, bid: Bid | None = None) -> Payload:
    """The sale's clerks only: who leads (source, paddle), the "internet winning" light, a waiting internet bid."""
    return {
        "type": "clerk_block",
        "sale": sale.pk,
        "lot": lot.pk,
        "seq": lot.seq,
        "live_state": lot.live_state,
        "amount": lot.high_bid_amount,
        "ask": lot.live_ask,
        "source": lot.live_leader_source or None,
        "paddle": lot.live_leader_paddle,
        "internet_winning": lot.live_leader_source == "internet",
        "waiting": _waiting(lot.live_pending),
        "bid_source": None if bid is None else bid.source,
        "server_time": iso(now),
    }


def _waiting(pending: dict | None) -> dict | None:
    return None if not pending else {"amount": pending["amount"], "paddle": pending["paddle"]}


def clerk_waiting(sale: Sale, lot: Lot, waiting: dict, *, now: datetime) -> Payload:
    return {**clerk_view(sale, lot, now=now), "waiting": _waiting(waiting)}


def missed_bid(lot: Lot, *, amount: int, late_ms: int, paddle: int, now: datetime, before_hammer: bool) -> Payload:
    """To the clerks: an internet bid received after the hammer, and how late it was (or, `before_hammer`, one
    received just before it that reached the lot after it)."""
    return {
        "type": "missed_bid",
        "before_hammer": before_hammer,
        "lot": lot.pk,
        "amount": amount,
        "late_ms": late_ms,
        "paddle": paddle,
        "hammer_at": iso(lot.hammer_at),
        "server_time": iso(now),
    }


def live_outbid(lot: Lot, *, now: datetime) -> Payload:
    return {
        "type": "live_outbid",
        "lot": lot.pk,
        "sale": lot.sale_id,
        "seq": lot.seq,
        "amount": lot.high_bid_amount,
        "server_time": iso(now),
    }


def bid_withdrawn(lot: Lot, *, now: datetime) -> Payload:
    return {
        "type": "bid_withdrawn",
        "lot": lot.pk,
        "sale": lot.sale_id,
        "seq": lot.seq,
        "message": "A bid was withdrawn.",
        "server_time": iso(now),
    }


def bid_taken_by_another(lot: Lot, *, now: datetime) -> Payload:
    """To the internet bidder whose waiting bid a floor bid beat to the ask."""
    return {**live_outbid(lot, now=now), "waiting_bid_not_taken": True}


def live_bid_accepted(bid: Bid, lot: Lot, *, duplicate: bool) -> Payload:
    return {
        "type": "live_bid_accepted",
        "bidder": bidder_alias(bid.bidder_number),  # your alias on this lot: a `live` event naming it means you
        "bid_id": bid.bid_id,
        "lot": lot.pk,
        "amount": bid.amount,
        "seq": bid.seq,
        "duplicate": duplicate,
    }


def clerk_reply(lot: Lot) -> Payload:
    return {
        "type": "clerk_done",
        "lot": lot.pk,
        "seq": lot.seq,
        "live_state": lot.live_state,
        "amount": lot.high_bid_amount,
        "ask": lot.live_ask,
    }


def live_won(sale: Sale, lot: Lot, *, now: datetime) -> Payload:
    """The buyer's stored `won` notice (mailed as a timed lot's is: auctions/notice_mail.py), sent once the result
    is final for the clerk: when the block moves on from the sold lot, or the sale finishes on it."""
    return {
        "type": "won",
        "sale": sale.pk,
        "lot": lot.pk,
        "title": lot.title,
        "amount": lot.high_bid_amount,
        "paddle": lot.live_leader_paddle,
        "server_time": iso(now),
    }


def win_withdrawn(sale: Sale, lot: Lot, *, reason: str, now: datetime) -> Payload:
    """To the buyer of a lot that staff reopened after the block moved on: their `won` no longer stands (stored,
    mailed as the `won` was)."""
    return {
        "type": "win_withdrawn",
        "sale": sale.pk,
        "lot": lot.pk,
        "title": lot.title,
        "reason": reason,
        "server_time": iso(now),
    }


def sale_finished(sale: Sale, *, summary: dict, now: datetime) -> Payload:
    """To the house and every registered bidder when the clerk finishes the sale: what it came to."""
    return {"type": "sale_finished", "sale": sale.pk, "title": sale.title, **summary, "server_time": iso(now)}
