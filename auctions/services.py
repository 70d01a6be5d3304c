"""Lot status transitions driven by the clock: opening scheduled lots and closing ended ones."""
from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from auctions.models import Lot
from auctions.watchlist import interested_user_ids
from bidding import events
from bidding.models import Bid

log = structlog.get_logger(__name__)


def closing_pass() -> tuple[int, list[int]]:
    """One pass of the closing worker: open what is due, warn of what ends soon, close what has ended."""
    opened = open_due_lots()
    warned = send_closing_soon()
    closed = close_due_lots()
    if opened or warned or closed:
        log.info("close_lots_pass", opened=opened, warned=warned, closed=closed)
    return opened, closed


def send_closing_soon(*, now: datetime | None = None) -> list[int]:
    """Tell bidders and watchers once, LOT_CLOSING_SOON_SECONDS before a lot's end (as it stands then)."""
    now = now or timezone.now()
    with transaction.atomic():
        lots = list(
            Lot.objects.select_for_update(skip_locked=True)
            .filter(status__in=[Lot.Status.SCHEDULED, Lot.Status.OPEN], closing_soon_sent_at__isnull=True,
                    starts_at__lte=now, ends_at__gt=now,
                    ends_at__lte=now + timedelta(seconds=settings.LOT_CLOSING_SOON_SECONDS))
            .order_by("ends_at")[:100]
        )
        for lot in lots:
            lot.closing_soon_sent_at = now
            lot.save(update_fields=["closing_soon_sent_at"])
            notice = events.lot_closing_soon(lot, now=now)
            events.notify_on_commit([(user_id, notice) for user_id in interested_user_ids(lot.pk)])
    return [lot.pk for lot in lots]


def open_due_lots(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return Lot.objects.filter(status=Lot.Status.SCHEDULED, starts_at__lte=now, ends_at__gt=now).update(
        status=Lot.Status.OPEN
    )


def close_due_lots(*, now: datetime | None = None, batch: int = 100) -> list[int]:
    """Close every lot whose end has passed, each exactly once even with several workers running.

    SKIP LOCKED lets workers share the work; the status filter, re-checked under the row lock, makes a second
    close of the same lot impossible. A bid holding the row lock either commits first (and may extend the end, so
    the lot is no longer due) or finds the lot closed.
    """
    closed_ids: list[int] = []
    while True:
        now_ = now or timezone.now()
        with transaction.atomic():
            due = list(
                Lot.objects.select_for_update(skip_locked=True)
                .filter(status__in=[Lot.Status.SCHEDULED, Lot.Status.OPEN], ends_at__lte=now_)
                .order_by("ends_at")[:batch]
            )
            for lot in due:
                _close(lot, now_)
        closed_ids += [lot.pk for lot in due]
        if len(due) < batch:
            return closed_ids


def _close(lot: Lot, now: datetime) -> None:
    """Expects the row lock held."""
    lot.status = Lot.Status.CLOSED
    lot.closed_at = now
    lot.seq += 1
    lot.winner_id = lot.high_bidder_id if lot.high_bidder_id and lot.reserve_met else None
    lot.save(update_fields=["status", "closed_at", "seq", "winner"])
    winner_number = (
        Bid.objects.filter(lot=lot, bidder_id=lot.winner_id).values_list("bidder_number", flat=True).first()
        if lot.winner_id
        else None
    )
    notify = [(lot.winner_id, events.won(lot, now=now))] if lot.winner_id else []
    notify += [
        (user_id, events.lot_closed(lot, winner_number=winner_number, you_won=user_id == lot.winner_id, now=now))
        for user_id in interested_user_ids(lot.pk)
    ]
    events.record_and_broadcast(lot, events.closed(lot, winner_number=winner_number, now=now), notify=notify)
    log.info("lot_closed", lot_id=lot.pk, seq=lot.seq, winner_id=lot.winner_id, amount=lot.high_bid_amount,
             reserve_met=lot.reserve_met)
