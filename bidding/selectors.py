"""Reads that need the lot's bids: a viewer's snapshot (their alias and their own maximum), event replay that may
fall back to one, who should hear of a lot's end, and a bidder's top bid on each lot."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from auctions import payloads
from auctions.models import Lot, LotEvent, Watch
from auctions.payloads import Payload
from auctions.photos import urls as photo_urls
from auctions.selectors import withdrawn_reasons
from bidding.models import Bid


def _bidder_number(lot_id: int, user_id: int | None) -> int | None:
    if user_id is None:
        return None
    return Bid.objects.filter(lot_id=lot_id, bidder_id=user_id).values_list("bidder_number", flat=True).first()


def lot_snapshot(lot_id: int, *, viewer_id: int | None, description: bool = False) -> Payload | None:
    """The `snapshot` message for one viewer, or None if there is no such lot; `description`: with the lot's
    description and details (HTTP answers; never the socket's), the private ones to the seller and the winner."""
    lot = Lot.objects.select_related("seller").filter(pk=lot_id).first()
    if lot is None:
        return None
    return payloads.snapshot(
        lot,
        now=timezone.now(),
        high_bidder_number=_bidder_number(lot.pk, lot.high_bidder_id),
        your_number=_bidder_number(lot.pk, viewer_id),
        your_max=lot.leader_max_amount if viewer_id is not None and viewer_id == lot.high_bidder_id else None,
        description=description,
        private_details=viewer_id is not None and viewer_id in (lot.seller_id, lot.winner_id),
        photos=photo_urls(lot) if description else None,
        withdrawn_reason=withdrawn_reasons([lot.pk]).get(lot.pk) if lot.status == Lot.Status.CANCELLED else None,
    )


def _replays_events(since_seq: int, current: int) -> bool:
    return since_seq <= current and current - since_seq <= settings.SYNC_MAX_EVENTS


def replay_cost(since_seq: int, current: int | None) -> int:
    """How many messages a `sync` from `since_seq` sends, counting a snapshot fallback as SYNC_SNAPSHOT_COST."""
    if current is None:
        return 1
    if not _replays_events(since_seq, current):
        return settings.SYNC_SNAPSHOT_COST
    return current - since_seq + 1


def replays_events(since_seq: int, current: int | None) -> bool:
    """Whether `sync` from `since_seq` is answered by a replay (else a snapshot, or nothing for a lot gone)."""
    return current is not None and _replays_events(since_seq, current)


def stored_event_texts(lot_id: int, *, after: int, through: int) -> list[tuple[int, str]]:
    """The lot's stored events after seq `after` up to `through`, as `(seq, encoded text)`, in order."""
    rows = LotEvent.objects.filter(lot_id=lot_id, seq__gt=after, seq__lte=through).order_by("seq")
    return [(seq, payloads.encode_stored(payload)) for seq, payload in rows.values_list("seq", "payload")]


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
