"""One pure builder per message about a lot or the catalogue: snapshots and list rows, how a finished lot turned out
(outcome, and the winner's total), the lot events that open, end or move a lot (opened, closed, cancelled, extended),
the personal notices of its end, and the refusal reply. Builders only: storing and sending are
auctions/lot_events.py's. The bid path's own messages are in bidding/payloads.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from auctions import rules

if TYPE_CHECKING:
    from auctions.exceptions import BidRefused
    from auctions.models import AbsenteeBid, Lot, Sale, SaleRegistration

Payload = dict[str, Any]


def bidder_alias(number: int | None) -> str | None:
    # Public name on one lot; never the username.
    return None if number is None else f"Bidder {number}"


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds")


def snapshot(
    lot: Lot,
    *,
    now: datetime,
    high_bidder_number: int | None,
    your_number: int | None,
    your_max: int | None = None,
    description: bool = False,
    private_details: bool = False,
    photos: list[dict[str, str]] | None = None,
    withdrawn_reason: str | None = None,
) -> Payload:
    """The lot's live state for one viewer. The socket sends it on every connect and every resync, so it carries
    only short fields, each bounded by the schema (title, username, a withdrawal's reason): the description, the
    one long field a seller types, and the photos' addresses (`photos`) are added only for the HTTP answers
    (`description=True`) and shown by the lot page; so are the lot's `details` (condition, shipping, premium), with
    the collection and payment instructions only where `private_details` (the viewer is the seller or the winner).
    A finished lot's `outcome` says how it ended, and whether this viewer won it (and if so, their itemised total)."""
    # A sold lot's winner is its high bidder.
    you_won = your_number is not None and lot.winner_id is not None and your_number == high_bidder_number
    return {
        "type": "snapshot",
        "lot": {
            "id": lot.pk,
            "title": lot.title,
            **(
                {"description": lot.description, "details": details(lot, private=private_details)}
                if description
                else {}
            ),
            **({"photos": photos} if photos is not None else {}),
            "seller": lot.seller.get_username(),
            "starting_price": lot.starting_price,
            "starts_at": iso(lot.starts_at),
            "has_reserve": lot.reserve_price is not None,
            "hard_end_at": iso(lot.hard_end_at),
            # The soft close, in seconds, so pages can state the rule: a bid in the last `soft_close_window`
            # moves the end to at least `soft_close_extension` after it (never past `hard_end_at`).
            "soft_close_window": lot.soft_close_window,
            "soft_close_extension": lot.soft_close_extension,
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
        "status": rules.lot_status_at(lot, now),
        "min_next_bid": rules.lot_min_next_bid(lot),
        "reserve_met": lot.reserve_met,
        "buy_now_price": rules.buy_now_price(lot, now),
        # The increment table, so a page's quick-bid amounts follow the server's rule instead of a copy of it.
        "increments": [[upper, step] for upper, step in rules.INCREMENTS],
        # Your own hidden maximum, if you lead with one: this snapshot is sent to you alone.
        "you": {"alias": bidder_alias(your_number), "max_amount": your_max},
        "outcome": outcome(
            lot, now=now, winner_number=high_bidder_number, withdrawn_reason=withdrawn_reason, you_won=you_won
        ),
    }


def outcome(
    lot: Lot,
    *,
    now: datetime,
    winner_number: int | None,
    withdrawn_reason: str | None = None,
    you_won: bool | None = None,
) -> Payload | None:
    """How the lot turned out (auctions.rules.lot_result_at), or None while it runs. `result`: `sold`, `not_sold`,
    `withdrawn` or `ending`; `reason`: for `not_sold` why (`reserve_not_met`, `no_bids`), for `withdrawn` the
    sentence its seller or staff gave; `winner` and `amount` (the price paid) when sold; `high_bid` in every case.
    `you_won` only where the message goes to one viewer (their snapshot, their page)."""
    found = rules.lot_result_at(lot, now)
    if found is None:
        return None
    result, not_sold_reason = found
    sold = result == rules.SOLD
    return {
        "result": result,
        "reason": withdrawn_reason if result == rules.WITHDRAWN else not_sold_reason,
        "winner": bidder_alias(winner_number) if sold else None,
        "amount": lot.high_bid_amount if sold else None,
        "high_bid": lot.high_bid_amount,
        **({} if you_won is None else {"you_won": you_won and sold}),
        **({"total": winner_total(lot)} if you_won and sold else {}),
    }


def winner_total(lot: Lot) -> Payload | None:
    """What the winner owes (auctions.rules.winner_total), itemised in cents: to the winner and the seller alone.
    `premium_percent` is a decimal string ("12.5"), exact; `shipping` is None for collection only."""
    total = rules.lot_winner_total(lot)
    if total is None:
        return None
    return {
        "hammer": total.hammer,
        "premium_percent": str(total.premium_percent),
        "premium": total.premium,
        "shipping": total.shipping,
        "collection_only": total.shipping is None,
        "total": total.total,
    }


def details(lot: Lot, *, private: bool) -> Payload:
    """The lot's details as its seller set them; collection and payment instructions only if `private`."""
    return {
        "condition": lot.condition or None,
        "condition_note": lot.condition_note,
        "shipping_price": lot.shipping_price,
        "collection_only": lot.shipping_price is None,
        "ships_to": lot.ships_to,
        "buyers_premium_percent": str(lot.buyers_premium_percent),
        **(
            {"collection_instructions": lot.collection_instructions, "payment_instructions": lot.payment_instructions}
            if private
            else {}
        ),
    }


def lot_summary(lot: Lot, now: datetime) -> Payload:
    """A lot's public state in a list (lots list, my lots)."""
    return {
        "id": lot.pk,
        "title": lot.title,
        "status": rules.lot_status_at(lot, now),
        "high_bid": lot.high_bid_amount,
        "bid_count": lot.bid_count,
        "min_next_bid": rules.lot_min_next_bid(lot),
        "starts_at": iso(lot.starts_at),
        "ends_at": iso(lot.ends_at),
        "seq": lot.seq,
        "reserve_met": lot.reserve_met,
        "has_reserve": lot.reserve_price is not None,
        "buy_now_price": rules.buy_now_price(lot, now),
    }


def catalogue_card(lot: Lot, *, now: datetime, cover: str | None, withdrawn_reason: str | None = None) -> Payload:
    """A lot's card in the catalogue grid: its list row, its public lot number, its cover thumbnail's address (None:
    a placeholder) and, once it is over, how it turned out (`outcome`, None while it runs)."""
    return {
        **lot_summary(lot, now),
        "number": lot.number,
        "cover": cover,
        "outcome": outcome(lot, now=now, winner_number=None, withdrawn_reason=withdrawn_reason),
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


def seller_lot_changed(row: Payload, *, now: datetime) -> Payload:
    """To the seller's dashboard when they list or edit a lot (bids and closes arrive as the lot's own events)."""
    return {"type": "seller_lot", "lot": row, "server_time": iso(now)}


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
        "outcome": outcome(lot, now=now, winner_number=winner_number),
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
        "outcome": outcome(lot, now=now, winner_number=None, withdrawn_reason=reason),
        "server_time": iso(now),
    }


def opened(lot: Lot, *, now: datetime) -> Payload:
    """A scheduled lot's start has come and the clock opened it: a lot event (it carries the lot's seq), so pages
    open for bidding without a reload. Bids are accepted from `starts_at` whether or not this has gone out yet."""
    return {
        "type": "opened",
        "lot": lot.pk,
        "seq": lot.seq,
        "status": lot.status,
        "starts_at": iso(lot.starts_at),
        "ends_at": iso(lot.ends_at),
        "min_next_bid": rules.lot_min_next_bid(lot),
        "buy_now_price": rules.buy_now_price(lot, now),
        "server_time": iso(now),
    }


def extended(
    lot: Lot,
    *,
    reason: str,
    now: datetime,
    cause: str = "staff",
    extended_by: timedelta,
    outage: timedelta | None = None,
) -> Payload:
    """The end moved later, by staff (`cause` "staff") or after an outage that locked bidders out ("outage"): a lot
    event (it carries the lot's seq) and, the same payload, a notice to its bidders, watchers and seller.
    verify_lot replays the end from these events, and the hard end's move (by `extended_by_seconds`, to the
    microsecond) from the outage ones."""
    payload = {
        "type": "extended",
        "lot": lot.pk,
        "title": lot.title,
        "seq": lot.seq,
        "ends_at": iso(lot.ends_at),
        "hard_end_at": iso(lot.hard_end_at),
        "reason": reason,
        "cause": cause,
        "extended_by_seconds": round(extended_by.total_seconds(), 6),
        "server_time": iso(now),
    }
    if outage is not None:
        payload["outage_seconds"] = round(outage.total_seconds(), 3)
    return payload


def banned(*, reason: str, lot: Lot | None, now: datetime) -> Payload:
    """To the banned user alone: they may watch, never bid; `lot` is where staff acted, if anywhere."""
    return {
        "type": "banned",
        "lot": None if lot is None else lot.pk,
        "title": None if lot is None else lot.title,
        "reason": reason,
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
        "min_next_bid": rules.lot_min_next_bid(lot),
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


def synced(*, seq: int, now: datetime) -> Payload:
    return {"type": "synced", "seq": seq, "server_time": iso(now)}


def me_synced(*, last_id: int, now: datetime) -> Payload:
    """After a `sync` on ws/me/: the id of the user's latest notice (remember it; sync after it next time)."""
    return {"type": "synced", "last_id": last_id, "server_time": iso(now)}


def error(refusal: BidRefused) -> Payload:
    return {"type": "error", "code": refusal.code, "message": refusal.message, **refusal.details}


def encode(payload: Payload) -> str:
    """Once per event, whatever the number of watchers."""
    return json.dumps(payload)


def encode_stored(payload: Payload) -> str:
    """A stored event as the live path encoded it: `type` first (jsonb reorders keys; the fan-out reads it)."""
    return json.dumps({"type": payload["type"], **payload})


def sale_summary(sale: Sale, lot_ids: list[int]) -> Payload:
    """A live sale as its house and bidders see it before the block: `lots` in catalogue order."""
    return {
        "id": sale.pk,
        "title": sale.title,
        "starts_at": iso(sale.starts_at),
        "status": sale.status,
        "requires_approval": sale.requires_approval,
        "auto_accept": sale.auto_accept,
        "lots": lot_ids,
    }


def sale_registration(registration: SaleRegistration) -> Payload:
    return {"sale": registration.sale_id, "paddle": registration.paddle, "approved": registration.approved}


def absentee_bid(bid: AbsenteeBid) -> Payload:
    """To its bidder only: the maximum is secret from everyone else."""
    return {"lot": bid.lot_id, "max_amount": bid.max_amount, "placed_at": iso(bid.placed_at)}
