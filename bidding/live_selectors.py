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
    lots = sale.lots.order_by("sale_position").values("pk", "title", "sale_position", "live_state", "seq")
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
