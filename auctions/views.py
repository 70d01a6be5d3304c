from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from auctions.models import Lot
from bidding import events


def lot_list(request):
    lots = Lot.objects.filter(status__in=[Lot.Status.SCHEDULED, Lot.Status.OPEN]).order_by("ends_at")[:200]
    now = timezone.now()
    rows = [
        {"lot": lot, "status": events.lot_status_at(lot, now), "price": lot.high_bid_amount or lot.starting_price}
        for lot in lots
    ]
    return render(request, "auctions/lot_list.html", {"rows": rows})


def lot_detail(request, lot_id: int):
    lot = get_object_or_404(Lot.objects.select_related("seller"), pk=lot_id)
    return render(request, "auctions/lot_detail.html", {"lot": lot})
