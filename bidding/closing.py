"""The clock's side of a lot's life: the closing worker's pass opens what is due, warns of what ends soon and
closes what has ended, each lot exactly once; buy now closes its lot through close_lot too."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connection, transaction
from django.utils import timezone

from auctions import lot_events, notice_mail, payloads
from auctions.models import Lot
from auctions.services import open_due_lots
from bidding import live_console, outage, outbox
from bidding.models import Bid
from bidding.selectors import interested_user_ids

log = structlog.get_logger(__name__)


def closing_pass() -> tuple[list[int], list[int]]:
    """One pass of the closing worker: open what is due, warn of what ends soon, close what has ended; then
    republish any lot event a worker committed but never published (the outbox relay).

    Only while bids can be placed: while the lock store is down it does nothing, and while PostgreSQL is, its own
    first query fails. Before anything else, the lots whose end fell in an outage just over end later
    (bidding/outage.py), so none is won because everyone else was locked out."""
    if not outage.lock_store_ok():
        return [], []
    extended = outage.extend_after_outage(grace=decided_within())
    if extended:
        log.warning("lots_extended_after_outage", lots=extended)
    opened = open_due_lots()
    warned = send_closing_soon()
    closed = close_due_lots()
    live_console.pause_unattended()  # a live sale whose driving console fell silent
    outbox.outbox_pass()
    if opened or warned or closed:
        log.info("close_lots_pass", opened=opened, warned=warned, closed=closed)
    return opened, closed


def closing_pass_in_loop() -> None:
    """One pass of a long-running closing loop (the closing worker, or the web process in single-process mode).

    Django replaces connections only around requests, so a loop does it itself: before each pass, one that has
    failed or outlived CONN_MAX_AGE is dropped; after a failed pass (a PostgreSQL restart or failover ends the
    connection), the connection is dropped, logged, and the next pass opens a new one.
    """
    close_old_connections()
    try:
        closing_pass()
    except DatabaseError as failure:
        log.exception("close_lots_pass_failed")
        if isinstance(failure, OperationalError | InterfaceError):  # PostgreSQL unreachable, not a bad statement
            outage.saw_bid_path_down(persist=False)
        connection.close()
    except Exception:  # e.g. the lock store went away mid-pass (a lot's lock): the next pass tries again
        log.exception("close_lots_pass_failed")


def send_closing_soon(*, now: datetime | None = None) -> list[int]:
    """Tell bidders and watchers once, LOT_CLOSING_SOON_SECONDS before a lot's end (as it stands then)."""
    now = now or timezone.now()
    with transaction.atomic():
        lots = list(
            Lot.objects.select_for_update(skip_locked=True)
            .accepting_bids_at(now)
            .filter(
                closing_soon_sent_at__isnull=True,
                ends_at__lte=now + timedelta(seconds=settings.LOT_CLOSING_SOON_SECONDS),
            )
            .order_by("ends_at")[:100]
        )
        for lot in lots:
            lot.closing_soon_sent_at = now
            lot.save(update_fields=["closing_soon_sent_at"])
            notice = payloads.lot_closing_soon(lot, now=now)
            lot_events.notify_on_commit([(user_id, notice) for user_id in interested_user_ids(lot.pk)])
    return [lot.pk for lot in lots]


def decided_within() -> timedelta:
    """Every bid received before a lot's end is decided within BID_LOCK_WAIT_SECONDS of its receipt, or answered
    `busy` (bidding.services.checks.check_in_time); a lot closes once that has passed, plus a second for the clocks of
    other hosts. Pages show it ended at its end all the same."""
    return timedelta(seconds=settings.BID_LOCK_WAIT_SECONDS + 1)


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
                .ended_by(now_ - decided_within())
                .order_by("ends_at")[:batch]
            )
            for lot in due:
                close_lot(lot, now_)
        closed_ids += [lot.pk for lot in due]
        if len(due) < batch:
            return closed_ids


def close_lot(lot: Lot, now: datetime) -> None:
    """End a lot: winner (if the reserve is met), final price, broadcast and notices. Expects the row lock held."""
    lot.status = Lot.Status.CLOSED
    lot.closed_at = now
    lot.seq += 1
    lot.winner_id = lot.high_bidder_id if lot.high_bidder_id and lot.reserve_met else None
    lot.leader_max_amount = None  # the maximum is spent; it stays secret forever
    lot.save(update_fields=["status", "closed_at", "seq", "winner", "leader_max_amount"])
    winner_number = (
        Bid.objects.filter(lot=lot, bidder_id=lot.winner_id).values_list("bidder_number", flat=True).first()
        if lot.winner_id
        else None
    )
    notify = [(lot.winner_id, payloads.won(lot, now=now))] if lot.winner_id else []
    notify += [
        (user_id, payloads.lot_closed(lot, winner_number=winner_number, you_won=user_id == lot.winner_id, now=now))
        for user_id in interested_user_ids(lot.pk) | {lot.seller_id}  # the seller hears the result wherever they are
    ]
    lot_events.record_and_broadcast(lot, payloads.closed(lot, winner_number=winner_number, now=now), notify=notify)
    log.info(
        "lot_closed",
        lot_id=lot.pk,
        seq=lot.seq,
        winner_id=lot.winner_id,
        amount=lot.high_bid_amount,
        reserve_met=lot.reserve_met,
    )


async def closing_loop() -> None:
    """Single-process mode: the closing worker runs inside the web process, so its broadcasts reach the sockets;
    the notice mail loop runs beside it (a slow mail server never delays a close)."""
    run_pass = database_sync_to_async(closing_pass_in_loop, thread_sensitive=False)
    mailer = asyncio.create_task(notice_mail.mail_loop())
    try:
        while True:
            try:
                await run_pass()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("close_lots_pass_failed")
            await asyncio.sleep(settings.CLOSE_LOTS_INTERVAL_SECONDS)
    finally:
        mailer.cancel()
