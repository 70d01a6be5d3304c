"""Reads of lot state for clients that need no bid: the seller's dashboard, sequence numbers, why lots were
withdrawn, notice replay."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from auctions import payloads
from auctions.models import Lot, LotEvent, Notice

SELLER_DASHBOARD_KEEPS_ENDED = timedelta(days=7)
SELLER_DASHBOARD_MAX_LOTS = 500


def _dashboard_lots(seller_id: int, now):
    return (
        Lot.objects.of_seller(seller_id)
        .active_or_ended_since(now - SELLER_DASHBOARD_KEEPS_ENDED)
        .order_by("ends_at")[:SELLER_DASHBOARD_MAX_LOTS]
    )


def seller_dashboard(seller_id: int, *, watchers: dict[int, int] | None = None) -> list[payloads.Payload]:
    """The seller's live lots and those ended in the last week, soonest end first (watchers filled in later)."""
    now = timezone.now()
    lots = _dashboard_lots(seller_id, now)
    return [payloads.seller_lot(lot, now=now, watchers=(watchers or {}).get(lot.pk, 0)) for lot in lots]


def seller_dashboard_lot_ids(seller_id: int) -> list[int]:
    """The ids of the lots seller_dashboard would show now (one index read): joined before the dashboard is read."""
    return list(_dashboard_lots(seller_id, timezone.now()).values_list("pk", flat=True))


def is_sellers_lot(lot_id: int, seller_id: int) -> bool:
    return Lot.objects.of_seller(seller_id).filter(pk=lot_id).exists()


def lot_seq(lot_id: int) -> int | None:
    """The lot's latest sequence number (one primary-key read): told on `pong` so an idle client sees a gap."""
    return Lot.objects.filter(pk=lot_id).values_list("seq", flat=True).first()


def withdrawn_reasons(lot_ids: list[int]) -> dict[int, str]:
    """The reason each of these lots was withdrawn with, for those that were: its `cancelled` event keeps it."""
    if not lot_ids:
        return {}
    rows = LotEvent.objects.filter(lot_id__in=lot_ids, payload__type="cancelled").values_list("lot_id", "payload")
    return {lot_id: payload.get("reason", "") for lot_id, payload in rows}


NOTICE_REPLAY_MAX = 100
NOTICE_REPLAY_KEEPS = timedelta(days=7)


def latest_notice_id(user_id: int) -> int:
    return Notice.objects.filter(user_id=user_id).order_by("-id").values_list("id", flat=True).first() or 0


def notices_since(user_id: int, since_id: int) -> list[payloads.Payload]:
    """The user's personal notices after `since_id` (the last NOTICE_REPLAY_MAX of them, from the last week), in
    order, each with its `id`; then `synced` with the latest id."""
    rows = list(
        Notice.objects.filter(user_id=user_id, id__gt=since_id, created_at__gte=timezone.now() - NOTICE_REPLAY_KEEPS)
        .order_by("-id")
        .values_list("id", "payload")[:NOTICE_REPLAY_MAX]
    )
    replay = [{**payload, "id": notice_id} for notice_id, payload in reversed(rows)]
    last_id = rows[0][0] if rows else latest_notice_id(user_id)
    return [*replay, payloads.me_synced(last_id=last_id, now=timezone.now())]
