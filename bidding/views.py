"""The bidder's page: the lots I bid on (my top bid, and where I stand: leading or outbid while a lot runs; won,
lost, not sold or withdrawn once it is over) and the lots I watch."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from auctions import payloads, rules
from auctions.models import Lot
from auctions.selectors import withdrawn_reasons
from bidding.selectors import top_bid_by_lot


@login_required
def my_bids(request):
    now = timezone.now()
    mine = top_bid_by_lot(request.user.pk)
    bid_lots = list(Lot.objects.filter(pk__in=mine).order_by("ends_at")[:200])
    watched = Lot.objects.watched_by(request.user.pk).order_by("ends_at")[:200]
    reasons = withdrawn_reasons([lot.pk for lot in bid_lots if lot.status == Lot.Status.CANCELLED])
    return render(
        request,
        "auctions/my_bids.html",
        {
            "bids": [
                {
                    **payloads.lot_summary(lot, now),
                    "mine": mine[lot.pk],
                    "standing": rules.bidder_standing(lot, user_id=request.user.pk, now=now),
                    "withdrawn_reason": reasons.get(lot.pk, ""),
                    "total": _total_owed(lot, user_id=request.user.pk),
                }
                for lot in bid_lots
            ],
            "watched": [payloads.lot_summary(lot, now) for lot in watched],
        },
    )


def _total_owed(lot: Lot, *, user_id: int) -> int | None:
    """What I owe for a lot I won (hammer + premium + shipping: auctions/rules.py winner_total); None otherwise."""
    total = rules.lot_winner_total(lot) if lot.winner_id == user_id else None
    return None if total is None else total.total
