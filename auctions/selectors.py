"""Reads of lot state for clients: snapshots and event replay."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from auctions.models import Lot, LotEvent
from bidding import events
from bidding.models import Bid


def _bidder_number(lot_id: int, user_id: int | None) -> int | None:
    if user_id is None:
        return None
    return Bid.objects.filter(lot_id=lot_id, bidder_id=user_id).values_list("bidder_number", flat=True).first()


def lot_snapshot(lot_id: int, *, viewer_id: int | None) -> events.Payload | None:
    """The `snapshot` message for one viewer, or None if there is no such lot."""
    lot = Lot.objects.select_related("seller").filter(pk=lot_id).first()
    if lot is None:
        return None
    return events.snapshot(
        lot,
        now=timezone.now(),
        high_bidder_number=_bidder_number(lot.pk, lot.high_bidder_id),
        your_number=_bidder_number(lot.pk, viewer_id),
        your_max=lot.leader_max_amount if viewer_id is not None and viewer_id == lot.high_bidder_id else None,
    )


def events_since(lot_id: int, since_seq: int, *, viewer_id: int | None) -> list[events.Payload]:
    """Every event after `since_seq` then `synced`; or a fresh snapshot when replay is too long or impossible."""
    current = Lot.objects.filter(pk=lot_id).values_list("seq", flat=True).first()
    if current is None:
        return []
    if since_seq > current or current - since_seq > settings.SYNC_MAX_EVENTS:
        snap = lot_snapshot(lot_id, viewer_id=viewer_id)
        return [snap] if snap else []
    replay = list(
        LotEvent.objects.filter(lot_id=lot_id, seq__gt=since_seq, seq__lte=current)
        .order_by("seq")
        .values_list("payload", flat=True)
    )
    return [*replay, events.synced(seq=current, now=timezone.now())]


SELLER_DASHBOARD_KEEPS_ENDED = timedelta(days=7)
SELLER_DASHBOARD_MAX_LOTS = 500


def seller_dashboard(seller_id: int, *, watchers: dict[int, int] | None = None) -> list[events.Payload]:
    """The seller's live lots and those ended in the last week, soonest end first (watchers filled in later)."""
    now = timezone.now()
    lots = (
        Lot.objects.filter(seller_id=seller_id)
        .filter(Q(status__in=[Lot.Status.SCHEDULED, Lot.Status.OPEN])
                | Q(closed_at__gte=now - SELLER_DASHBOARD_KEEPS_ENDED))
        .order_by("ends_at")[:SELLER_DASHBOARD_MAX_LOTS]
    )
    return [events.seller_lot(lot, now=now, watchers=(watchers or {}).get(lot.pk, 0)) for lot in lots]


def is_sellers_lot(lot_id: int, seller_id: int) -> bool:
    return Lot.objects.filter(pk=lot_id, seller_id=seller_id).exists()
