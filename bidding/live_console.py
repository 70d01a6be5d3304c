"""The one driving console of a live sale: which clerk's socket drives, when it was last heard from, and the sale
pausing itself when it falls silent (docs/live-sales.md "One driving console").

The record is the sale's row (driver, driver_channel, driver_seen_at), so every worker reads the same one: the
driving socket refreshes it when it sends anything (at most once a second), and the closing worker's pass pauses a
running sale whose console has not been heard from for DRIVER_TIMEOUT_SECONDS, telling everyone why. Another of the
sale's clerks takes over by claiming the console.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime, timedelta

import structlog
from django.db import transaction
from django.utils import timezone

from auctions import lot_events
from auctions.exceptions import Forbidden, NotAuthenticated
from auctions.models import Lot, Sale
from auctions.sales import SaleNotFound, may_clerk
from bidding import live_payloads
from bidding.live_selectors import leader_number
from bidding.locks import lot_lock

log = structlog.get_logger(__name__)

# A console not heard from for this long no longer drives: the sale pauses itself. The console pings every second
# or two, so a few seconds is a lost connection, not a slow one.
DRIVER_TIMEOUT_SECONDS = 5.0
HEARTBEAT_EVERY_SECONDS = 1.0
UNATTENDED_MESSAGE = "The auctioneer's console lost its connection; the sale is paused."


def claim(*, user, sale_id: int, console: str) -> dict:
    """This socket drives the sale from now on (taking over from any other console), if its user may clerk."""
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    with transaction.atomic():
        sale = Sale.objects.select_for_update().filter(pk=sale_id).first()
        if sale is None:
            raise SaleNotFound()
        if not may_clerk(user, sale):
            raise Forbidden("Only the sale's clerks drive it.", reason="not_clerk")
        took_over = bool(sale.driver_channel) and sale.driver_channel != console
        sale.driver, sale.driver_channel, sale.driver_seen_at = user, console, timezone.now()
        sale.save(update_fields=["driver", "driver_channel", "driver_seen_at"])
        told = {sale.house_id, *sale.clerks.values_list("pk", flat=True)}
        notice = {"type": "console", "sale": sale.pk, "driver": user.get_username(), "took_over": took_over}
        lot_events.notify_on_commit([(uid, notice) for uid in told], stored=False)
    log.info("console_claimed", sale_id=sale_id, user_id=user.pk, took_over=took_over)
    return {"type": "clerk_done", "action": "claim", "sale": sale_id, "driving": True}


def check_driving(sale_id: int, console: str) -> None:
    """A clerk's action from a socket must come from the driving console, which was heard from now (one round
    trip: the heartbeat's update finds no row when another console drives)."""
    if not heartbeat(sale_id=sale_id, console=console):
        raise Forbidden("Another console drives this sale: take over first.", reason="not_driving")


def heartbeat(*, sale_id: int, console: str) -> bool:
    """The driving console was heard from now; False if it no longer drives."""
    return bool(Sale.objects.filter(pk=sale_id, driver_channel=console).update(driver_seen_at=timezone.now()))


def pause_unattended(*, now: datetime | None = None) -> list[int]:
    """Pause every running sale whose driving console has been silent too long; the ids of the sales paused."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=DRIVER_TIMEOUT_SECONDS)
    due = Sale.objects.filter(status=Sale.Status.RUNNING, driver_seen_at__lt=cutoff).exclude(driver_channel="")
    paused = []
    for sale_id, lot_id in due.values_list("pk", "current_lot_id"):
        if _pause_one(sale_id, lot_id, cutoff, now):
            paused.append(sale_id)
    return paused


def _pause_one(sale_id: int, lot_id: int | None, cutoff: datetime, now: datetime) -> bool:
    with lot_lock(lot_id) if lot_id else nullcontext(), transaction.atomic():
        sale = Sale.objects.select_for_update().filter(pk=sale_id).first()
        # Checked again under the lock: a clerk may have taken over, or the console come back, meanwhile.
        if sale is None or sale.status != Sale.Status.RUNNING or not sale.driver_channel:
            return False
        if sale.driver_seen_at is None or sale.driver_seen_at >= cutoff:
            return False
        sale.status, sale.pause_message = Sale.Status.PAUSED, UNATTENDED_MESSAGE
        sale.driver, sale.driver_channel = None, ""
        sale.save(update_fields=["status", "pause_message", "driver", "driver_channel"])
        lot = Lot.objects.select_for_update().filter(pk=sale.current_lot_id).first()
        if lot is not None:
            lot.seq += 1
            lot.save(update_fields=["seq"])
            payload = live_payloads.block_event(
                sale,
                lot,
                "paused",
                now=now,
                leader_number=leader_number(lot),
                message=UNATTENDED_MESSAGE,
                unattended=True,
            )
            lot_events.record_and_broadcast(lot, payload)
    log.warning("sale_paused_unattended", sale_id=sale_id, lot_id=lot_id)
    return True
