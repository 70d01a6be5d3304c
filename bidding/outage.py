"""Fairness through an outage: while bids cannot be placed (PostgreSQL or the lock store unreachable) no lot is
closed, and once they can again, every lot whose end fell in the outage ends later by its length, so nobody wins
because everyone else was locked out.

The closing worker watches the bid path on each pass and keeps the last moment it saw it healthy in the database
(BidPathHealth), so a worker started after an outage still knows when it began. Only an outage a closing worker
saw counts: a gap in its passes with nothing seen down is the closing worker's own absence (a deploy, a restart),
while the web workers went on deciding bids, so the lots that ended meanwhile close as they stand.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from auctions import rules
from auctions.models import Lot
from bidding.locks import lock_store_state, lot_lock
from bidding.lot_actions import move_end
from bidding.models import BidPathHealth

log = structlog.get_logger(__name__)

# A healthy pass writes its time at most this often: one UPDATE a second, not one per pass.
HEALTH_WRITE_EVERY = timedelta(seconds=1)


# Whether this process saw the bid path down since its last healthy pass (PostgreSQL away: nowhere else to keep it).
_seen_down = False


def saw_bid_path_down(*, persist: bool) -> None:
    """Note that bids cannot be placed now; with `persist` (PostgreSQL answers) in the database too, for a closing
    worker that takes over after this one."""
    global _seen_down
    _seen_down = True
    if persist:
        try:
            BidPathHealth.objects.filter(pk=1, down_seen_at__isnull=True).update(down_seen_at=timezone.now())
        except DatabaseError:
            log.exception("bid_path_health_write_failed")


def lock_store_ok() -> bool:
    """Whether bids can take their lock; logs why not, and notes the outage."""
    state = lock_store_state()
    if state in ("ok", "not used"):
        return True
    log.warning("bid_path_down", lock_store=state, detail="no lot is closed until bids can be placed again")
    saw_bid_path_down(persist=True)
    return False


def extend_after_outage(*, grace: timedelta, now: datetime | None = None) -> list[int]:
    """Record that the bid path is healthy now; if a closing worker saw it down and it was last seen healthy longer
    than OUTAGE_MIN_SECONDS ago, first move the end of every lot that ended in between (rules.outage_extension).
    The lots moved.

    Call it before closing anything in the pass, with the closer's `grace` (closing.decided_within). The health
    row is locked for the whole move, so two closing workers never extend for the same outage twice; a worker that
    dies part way rolls back, and the next pass extends for the whole outage again.
    """
    global _seen_down
    now = now or timezone.now()
    health = BidPathHealth.objects.filter(pk=1).values("last_ok_at", "down_seen_at").first()
    if health is None:
        BidPathHealth.objects.get_or_create(pk=1, defaults={"last_ok_at": now})
        return []
    seen_down = _seen_down or health["down_seen_at"] is not None
    if not seen_down and now - health["last_ok_at"] < HEALTH_WRITE_EVERY:
        return []
    if not seen_down or now - health["last_ok_at"] <= timedelta(seconds=settings.OUTAGE_MIN_SECONDS):
        if seen_down:
            log.info("bid_path_blip", seconds=round((now - health["last_ok_at"]).total_seconds(), 3))
        BidPathHealth.objects.filter(pk=1, last_ok_at__lt=now).update(last_ok_at=now, down_seen_at=None)
        _seen_down = False
        return []
    moved: list[int] = []
    with transaction.atomic():
        health = BidPathHealth.objects.select_for_update().get(pk=1)
        outage_start = health.last_ok_at
        if now - outage_start > timedelta(seconds=settings.OUTAGE_MIN_SECONDS):  # not already done by another worker
            candidates = (
                Lot.objects.active().filter(ends_at__gt=outage_start - grace, ends_at__lte=now).order_by("ends_at")
            )
            for lot_id in candidates.values_list("pk", flat=True):
                if _extend(lot_id, outage_start=outage_start, now=now, grace=grace):
                    moved.append(lot_id)
            log.warning(
                "bid_path_outage",
                started_at=outage_start.isoformat(),
                seconds=round((now - outage_start).total_seconds(), 3),
                lots_extended=len(moved),
            )
        if health.last_ok_at < now:
            health.last_ok_at = now
        health.down_seen_at = None
        health.save(update_fields=["last_ok_at", "down_seen_at"])
    _seen_down = False
    return moved


def _extend(lot_id: int, *, outage_start: datetime, now: datetime, grace: timedelta) -> bool:
    """Move one lot's end, under its lock and row lock like a bid; re-checked there (a bid may have moved it)."""
    with lot_lock(lot_id), transaction.atomic():
        lot = Lot.objects.select_for_update().active().filter(pk=lot_id).first()
        if lot is None:
            return False
        new_end = rules.outage_extension(
            ends_at=lot.ends_at,
            outage_start=outage_start,
            outage_end=now,
            now=now,
            min_remaining=timedelta(seconds=settings.OUTAGE_MIN_REMAINING_SECONDS),
            grace=grace,
        )
        if new_end is None:
            return False
        outage = now - outage_start
        move_end(
            lot,
            new_end,
            now=now,
            reason=f"bids could not be placed for {round(outage.total_seconds())} s (a service outage)",
            cause="outage",
            outage=outage,
        )
    log.info("lot_extended", lot_id=lot.pk, cause="outage", seq=lot.seq, ends_at=lot.ends_at.isoformat())
    return True
