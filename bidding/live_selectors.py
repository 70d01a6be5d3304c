"""Reads for the sale socket: who the viewer is to the sale, and the snapshot it starts from."""

from __future__ import annotations

from auctions.models import Lot, Sale, SaleRegistration
from auctions.payloads import Payload, bidder_alias, iso
from auctions.sales import may_clerk
from bidding import live_payloads
from bidding.models import Bid


def leader_number(lot: Lot) -> int | None:
    """The leading bidder's number on the lot (their alias); None for the room or without a bid."""
    if lot.high_bid_amount is None or lot.high_bidder_id is None:
        return None
    return Bid.objects.filter(lot=lot, bidder_id=lot.high_bidder_id).values_list("bidder_number", flat=True).first()


def viewer_role(sale_id: int, user) -> tuple[bool, list[int]] | None:
    """(may clerk, the sale's lot ids) or None when there is no such sale."""
    sale = Sale.objects.filter(pk=sale_id).first()
    if sale is None:
        return None
    return may_clerk(user, sale), list(sale.lots.order_by("sale_position").values_list("pk", flat=True))


def sale_snapshot(sale_id: int, *, user, clerk: bool, now) -> Payload | None:
    """The sale and the lot on the block as everyone sees them; the clerk's view too for a clerk; the viewer's own
    registration (paddle, approval) for a bidder."""
    sale = Sale.objects.filter(pk=sale_id).first()
    if sale is None:
        return None
    lot = Lot.objects.filter(pk=sale.current_lot_id).first() if sale.current_lot_id else None
    registration = None
    if user is not None and user.is_authenticated:
        registration = SaleRegistration.objects.filter(sale=sale, user=user).first()
    lots = sale.lots.order_by("sale_position").values(
        "pk", "title", "sale_position", "live_state", "seq", "high_bid_amount"
    )
    return {
        "type": "sale_snapshot",
        "sale": {
            "id": sale.pk,
            "title": sale.title,
            "status": sale.status,
            "pause_message": sale.pause_message,
            "auto_accept": sale.auto_accept,
            "current_lot": sale.current_lot_id,
        },
        "lots": [
            {
                "id": row["pk"],
                "title": row["title"],
                "position": row["sale_position"],
                "live_state": row["live_state"],
                "seq": row["seq"],
                # A decided lot's price is public (the room heard the hammer): a page opened later lists it too.
                "amount": row["high_bid_amount"] if row["live_state"] == Lot.LiveState.SOLD else None,
            }
            for row in lots
        ],
        "block": None if lot is None else live_payloads.block_state(sale, lot, leader_number=leader_number(lot)),
        "clerk": None if not clerk or lot is None else live_payloads.clerk_view(sale, lot, now=now),
        "is_clerk": clerk,
        "driving": None if not clerk else (sale.driver.get_username() if sale.driver_id else None),
        "you": None
        if registration is None
        else {
            "paddle": registration.paddle,
            "approved": registration.approved or not sale.requires_approval,
            "leading": lot is not None and user.pk == lot.high_bidder_id,
        },
        "server_time": iso(now),
    }


def clerk_history(lot: Lot) -> list[Payload]:
    """The lot's bids for its clerks, newest first: who (source, paddle, public alias), how much, when, and whether
    the clerk undid it. Clerks see paddles and sources; bidders never do."""
    rows = Bid.objects.filter(lot=lot).order_by("-seq")[:200]
    return [
        {
            "seq": bid.seq,
            "amount": bid.amount,
            "source": bid.source or "internet",
            "paddle": bid.paddle,
            "bidder": bidder_alias(bid.bidder_number) if bid.bidder_number else None,
            "at": iso(bid.created_at),
            "withdrawn": bid.withdrawn_at is not None,
        }
        for bid in rows
    ]


def bidder_lots(sale: Sale, user) -> list[Payload]:
    """A bidder's own side of a sale, for their page alone: on each lot their absentee maximum (secret: never in a
    broadcast), their alias there (so the page reads a public leader as "you", an absentee bid included) and, once
    the lot is sold or passed, how their absentee bid fared. Lots without either are left out."""
    registration = SaleRegistration.objects.filter(sale=sale, user=user).first()
    if registration is None:
        return []
    maxima = dict(registration.absentee_bids.values_list("lot_id", "max_amount"))
    numbers = dict(Bid.objects.filter(lot__sale=sale, bidder=user).values_list("lot_id", "bidder_number").distinct())
    rows = []
    for lot in sale.lots.filter(pk__in={*maxima, *numbers}).order_by("sale_position"):
        maximum = maxima.get(lot.pk)
        rows.append(
            {
                "lot": lot.pk,
                "absentee_max": maximum,
                "alias": bidder_alias(numbers[lot.pk]) if numbers.get(lot.pk) else None,
                "absentee_result": None if maximum is None else absentee_result(sale, lot, user.pk),
            }
        )
    return rows


def absentee_result(sale: Sale, lot: Lot, user_id: int) -> Payload | None:
    """How an absentee bid was executed, once its lot is decided: `won` at the hammer price, `outbid` (sold to
    someone else, at that price), `passed` (the lot did not sell), `not_reached` (the sale ended before it)."""
    if lot.live_state == Lot.LiveState.SOLD:
        won = lot.winner_id == user_id
        return {"outcome": "won" if won else "outbid", "amount": lot.high_bid_amount}
    if lot.live_state == Lot.LiveState.PASSED:
        return {"outcome": "passed", "amount": None}
    if lot.live_state == Lot.LiveState.WAITING and sale.status == Sale.Status.FINISHED:
        return {"outcome": "not_reached", "amount": None}
    return None
