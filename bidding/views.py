"""The bidder's page: the lots I bid on (my top bid, leading, won) and the lots I watch."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from auctions import payloads
from auctions.models import Lot
from bidding.selectors import top_bid_by_lot


@login_required
def my_bids(request):
    now = timezone.now()
    mine = top_bid_by_lot(request.user.pk)
    bid_lots = Lot.objects.filter(pk__in=mine).order_by("ends_at")[:200]
    watched = Lot.objects.watched_by(request.user.pk).order_by("ends_at")[:200]
    return render(
        request,
        "auctions/my_bids.html",
        {
            "bids": [
                {
                    **payloads.lot_summary(lot, now),
                    "mine": mine[lot.pk],
                    "leading": lot.high_bidder_id == request.user.pk,
                    "won": lot.winner_id == request.user.pk,
                }
                for lot in bid_lots
            ],
            "watched": [payloads.lot_summary(lot, now) for lot in watched],
        },
    )
