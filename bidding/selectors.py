"""Reads that need the lot's bids: a viewer's snapshot (their alias and their own maximum), event replay that may
fall back to one, who should hear of a lot's end, and a bidder's top bid on each lot."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from auctions import payloads
from auctions.models import Lot, LotEvent, Watch
from auctions.payloads import Payload
from auctions.selectors import lot_seq
from bidding.models import Bid


def _bidder_number(lot_id: int, user_id: int | None) -> int | None:
    if user_id is None:
        return None
    return Bid.objects.filter(lot_id=lot_id, bidder_id=user_id).values_list("bidder_number", flat=True).first()


def lot_snapshot(lot_id: int, *, viewer_id: int | None) -> Payload | None:
    """The `snapshot` message for one viewer, or None if there is no such lot."""
    lot = Lot.objects.select_related("seller").filter(pk=lot_id).first()
    if lot is None:
        return None
    return payloads.snapshot(
        lot,
        now=timezone.now(),
        high_bidder_number=_bidder_number(lot.pk, lot.high_bidder_id),
        your_number=_bidder_number(lot.pk, viewer_id),
        your_max=lot.leader_max_amount if viewer_id is not None and viewer_id == lot.high_bidder_id else None,
    )


def events_since(lot_id: int, since_seq: int, *, viewer_id: int | None) -> list[Payload]:
    """Every event after `since_seq` then `synced`; or a fresh snapshot when replay is too long or impossible."""
    current = lot_seq(lot_id)
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
    return [*replay, payloads.synced(seq=current, now=timezone.now())]


def interested_user_ids(lot_id: int) -> set[int]:
    """Everyone who bid on or watches the lot."""
    bidders = Bid.objects.filter(lot_id=lot_id).values_list("bidder_id", flat=True).distinct()
    watchers = Watch.objects.filter(lot_id=lot_id).values_list("user_id", flat=True)
    return set(bidders) | set(watchers)


def top_bid_by_lot(bidder_id: int) -> dict[int, int]:
    """Each lot this user bid on, with their highest bid there (cents)."""
    return dict(
        Bid.objects.filter(bidder_id=bidder_id)
        .values("lot_id")
        .annotate(top=Max("amount"))
        .values_list("lot_id", "top")
    )
