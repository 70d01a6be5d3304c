"""Lot status transitions: the clock opening and closing lots; sellers listing, editing and cancelling them; staff
cancelling, extending and banning bidders (the admin's actions)."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone

from accounts.models import Profile
from auctions import lot_events, payloads
from auctions.exceptions import Forbidden, InvalidBid, LotClosed, LotNotFound, NotAuthenticated
from auctions.models import Lot
from auctions.money import check_cents
from auctions.watchlist import interested_user_ids
from bidding import outbox
from bidding.locks import lot_lock
from bidding.models import Bid

log = structlog.get_logger(__name__)


def closing_pass() -> tuple[int, list[int]]:
    """One pass of the closing worker: open what is due, warn of what ends soon, close what has ended; then
    republish any lot event a worker committed but never published (the outbox relay)."""
    opened = open_due_lots()
    warned = send_closing_soon()
    closed = close_due_lots()
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
    except DatabaseError:
        log.exception("close_lots_pass_failed")
        connection.close()


def send_closing_soon(*, now: datetime | None = None) -> list[int]:
    """Tell bidders and watchers once, LOT_CLOSING_SOON_SECONDS before a lot's end (as it stands then)."""
    now = now or timezone.now()
    with transaction.atomic():
        lots = list(
            Lot.objects.select_for_update(skip_locked=True)
            .filter(
                status__in=[Lot.Status.SCHEDULED, Lot.Status.OPEN],
                closing_soon_sent_at__isnull=True,
                starts_at__lte=now,
                ends_at__gt=now,
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


def open_due_lots(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return Lot.objects.filter(status=Lot.Status.SCHEDULED, starts_at__lte=now, ends_at__gt=now).update(
        status=Lot.Status.OPEN
    )


def decided_within() -> timedelta:
    """Every bid received before a lot's end is decided within BID_LOCK_WAIT_SECONDS of its receipt, or answered
    `busy` (bidding.services.check_in_time); a lot closes once that has passed, plus a second for the clocks of
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
                .filter(status__in=[Lot.Status.SCHEDULED, Lot.Status.OPEN], ends_at__lte=now_ - decided_within())
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


# --- what sellers do with their lots ----------------------------------------------------------------------------
EDITABLE_FIELDS = (
    "title",
    "description",
    "photo_url",
    "starting_price",
    "reserve_price",
    "buy_now_price",
    "starts_at",
    "ends_at",
    "soft_close_window",
    "soft_close_extension",
    "hard_end_at",
)


def create_lot(
    *,
    seller,
    title: str,
    starting_price: object,
    ends_at: datetime,
    starts_at: datetime | None = None,
    description: str = "",
    photo_url: str = "",
    reserve_price: object = None,
    soft_close_window: int | None = None,
    soft_close_extension: int | None = None,
    hard_end_at: datetime | None = None,
    buy_now_price: object = None,
) -> Lot:
    """List a lot: open at once if it starts now or earlier (or no start is given), else scheduled."""
    _check_seller(seller)
    starts_at = starts_at or timezone.now()
    fields = _checked_fields(
        {
            "title": title,
            "description": description,
            "photo_url": photo_url,
            "starting_price": starting_price,
            "reserve_price": reserve_price,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "soft_close_window": soft_close_window,
            "soft_close_extension": soft_close_extension,
            "hard_end_at": hard_end_at,
            "buy_now_price": buy_now_price,
        },
        now=timezone.now(),
    )
    # Unset soft-close knobs take the site's defaults; unset reserve and hard end stay unset.
    fields = {name: value for name, value in fields.items() if value is not None or name in NULLABLE_FIELDS}
    status = Lot.Status.OPEN if fields["starts_at"] <= timezone.now() else Lot.Status.SCHEDULED
    lot = Lot.objects.create(seller=seller, status=status, **fields)
    _tell_seller(lot, watchers=0)
    log.info("lot_created", lot_id=lot.pk, seller_id=seller.pk, status=status)
    return lot


def _tell_seller(lot: Lot, *, watchers: int | None) -> None:
    """The seller's dashboard, wherever it is open, picks the lot up (after commit)."""
    now = timezone.now()
    lot_events.notify_on_commit(
        [(lot.seller_id, payloads.seller_lot_changed(payloads.seller_lot(lot, now=now, watchers=watchers), now=now))],
        stored=False,
    )


NULLABLE_FIELDS = ("reserve_price", "hard_end_at", "buy_now_price")


def create_catalogue(*, seller, lots: list[dict], stagger_seconds: object) -> list[Lot]:
    """List several lots at once, all or none; lot i ends `stagger_seconds` after lot i-1 (the first's end)."""
    if isinstance(stagger_seconds, bool) or not isinstance(stagger_seconds, int) or not 0 <= stagger_seconds <= 86400:
        raise InvalidBid("stagger_seconds must be a whole number of seconds from 0 to 86400.", field="stagger_seconds")
    if not isinstance(lots, list) or not 1 <= len(lots) <= 500:
        raise InvalidBid("A catalogue holds 1 to 500 lots.", field="lots")
    first_end = lots[0].get("ends_at") if isinstance(lots[0], dict) else None
    if not isinstance(first_end, datetime):
        raise InvalidBid("The first lot needs ends_at.", field="ends_at")
    with transaction.atomic():
        return [
            create_lot(seller=seller, **{**fields, "ends_at": first_end + timedelta(seconds=i * stagger_seconds)})
            for i, fields in enumerate(lots)
        ]


def update_lot(*, user, lot_id: int, changes: dict) -> Lot:
    """Edit a lot: its seller (or staff) only, and only before the first bid, so no bidder's terms change."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidBid(f"These fields cannot be edited: {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
    with transaction.atomic():
        lot = _lot_for_change(user, lot_id)
        if lot.bid_count:
            raise Forbidden("A lot cannot be edited once it has bids.", reason="has_bids")
        merged = {name: changes.get(name, getattr(lot, name)) for name in EDITABLE_FIELDS}
        now = timezone.now()
        for name, value in _checked_fields(merged, now=now).items():
            setattr(lot, name, value)
        if lot.status == Lot.Status.OPEN and lot.starts_at > now:
            lot.status = Lot.Status.SCHEDULED
        lot.save()
        _tell_seller(lot, watchers=None)  # None: the dashboard keeps the count it has
    log.info("lot_updated", lot_id=lot.pk, user_id=user.pk, fields=sorted(changes))
    return lot


def cancel_lot(*, user, lot_id: int, reason: str) -> Lot:
    """Withdraw a lot with a reason: its seller before the first bid; staff at any time before it closes.

    Under the lot's lock and row lock, like a bid: the cancel and the lot's bids are decided one at a time.
    """
    reason = _checked_reason(reason)
    with lot_lock(lot_id), transaction.atomic():
        lot = _lot_for_change(user, lot_id)
        if lot.bid_count and not user.is_staff:
            raise Forbidden("Only staff can cancel a lot that has bids.", reason="has_bids")
        now = timezone.now()
        lot.status = Lot.Status.CANCELLED
        lot.closed_at = now
        lot.seq += 1
        lot.leader_max_amount = None  # the maximum is spent; it stays secret forever
        lot.save(update_fields=["status", "closed_at", "seq", "leader_max_amount"])
        notice = payloads.lot_cancelled(lot, reason=reason, now=now)
        told = interested_user_ids(lot.pk) | ({lot.seller_id} - {user.pk})  # the seller, unless it was them
        lot_events.record_and_broadcast(lot, notice, notify=[(uid, notice) for uid in told])
    log.info("lot_cancelled", lot_id=lot.pk, user_id=user.pk, had_bids=bool(lot.bid_count))
    return lot


# --- what staff do to a live lot (the admin's actions) ------------------------------------------------------------
MAX_EXTENSION_SECONDS = 7 * 24 * 3600


def extend_lot(*, user, lot_id: int, seconds: object, reason: str) -> Lot:
    """Staff move a running lot's end later by `seconds`, with a reason told to its bidders, watchers and seller.

    Under the lot's lock and row lock, like a bid. The `extended` event carries the new end, to the millisecond it
    is stored at, so verify_lot replays it exactly. Never past the lot's hard end.
    """
    _check_staff(user)
    reason = _checked_reason(reason)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= MAX_EXTENSION_SECONDS:
        raise InvalidBid(f"Extend by 1 to {MAX_EXTENSION_SECONDS} seconds.", field="seconds")
    with lot_lock(lot_id), transaction.atomic():
        lot = _lot_for_change(user, lot_id)
        now = timezone.now()
        if lot.is_over_at(now):
            raise LotClosed("This lot has already ended.")
        new_end = lot.ends_at + timedelta(seconds=seconds)
        new_end = new_end.replace(microsecond=new_end.microsecond // 1000 * 1000)
        if lot.hard_end_at is not None and new_end > lot.hard_end_at:
            raise InvalidBid("An extension cannot pass the lot's hard end.", field="seconds")
        lot.ends_at = new_end
        lot.seq += 1
        lot.closing_soon_sent_at = None  # bidders hear "closing soon" again before the new end
        lot.save(update_fields=["ends_at", "seq", "closing_soon_sent_at"])
        notice = payloads.extended(lot, reason=reason, now=now)
        told = interested_user_ids(lot.pk) | {lot.seller_id}
        lot_events.record_and_broadcast(lot, notice, notify=[(uid, notice) for uid in told])
    log.info("lot_extended", lot_id=lot.pk, user_id=user.pk, seq=lot.seq, ends_at=payloads.iso(lot.ends_at))
    return lot


def ban_bidder(*, user, bidder_id: int, reason: str, lot_id: int | None = None) -> bool:
    """Staff ban a user from bidding (they may still watch), telling them why; True if they were not banned yet.

    With `lot_id` (the lot where staff saw the abuse: the user must have bid on it) the ban is decided under that
    lot's lock, so no bid of theirs on it is decided after this returns. Their standing bids stand: a ban changes
    nothing on the lot, so it is no lot event; staff cancel the lot to void its bids.
    """
    _check_staff(user)
    reason = _checked_reason(reason)
    with lot_lock(lot_id) if lot_id is not None else nullcontext(), transaction.atomic():
        lot = None
        if lot_id is not None:
            lot = Lot.objects.filter(pk=lot_id).first()
            if lot is None:
                raise LotNotFound()
            if not Bid.objects.filter(lot_id=lot_id, bidder_id=bidder_id).exists():
                raise InvalidBid("That user has not bid on this lot.", field="bidder")
        profile = Profile.objects.select_for_update().filter(user_id=bidder_id).first()
        if profile is None:
            raise InvalidBid("There is no such user.", field="bidder")
        if profile.banned:
            return False
        profile.banned = True
        profile.save(update_fields=["banned"])
        lot_events.notify_on_commit([(bidder_id, payloads.banned(reason=reason, lot=lot, now=timezone.now()))])
    log.info("bidder_banned", bidder_id=bidder_id, user_id=user.pk, lot_id=lot_id)
    return True


def _checked_reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise InvalidBid("Give a reason of at most 500 characters.", field="reason")
    return reason.strip()


def _check_staff(user) -> None:
    if user is None or not user.is_authenticated:
        raise NotAuthenticated("Log in as staff.")
    if not user.is_staff:
        raise Forbidden("Only staff may do this.", reason="not_staff")


def _check_seller(user) -> None:
    if user is None or not user.is_authenticated:
        raise NotAuthenticated("Log in to sell.")
    if Profile.objects.filter(user_id=user.pk, banned=True).exists():
        raise Forbidden("Your account may not sell.", reason="banned")


def _lot_for_change(user, lot_id: int) -> Lot:
    """The lot, row-locked, if this user may change it and it is still running; ownership checked every time."""
    _check_seller(user)
    lot = Lot.objects.select_for_update().filter(pk=lot_id).first()
    if lot is None:
        raise LotNotFound()
    if lot.seller_id != user.pk and not user.is_staff:
        raise Forbidden("Only the lot's seller can change it.", reason="not_owner")
    if lot.status in (Lot.Status.CLOSED, Lot.Status.CANCELLED):
        raise LotClosed("This lot has already ended.")
    return lot


def _checked_fields(fields: dict, *, now: datetime) -> dict:
    title = fields["title"]
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise InvalidBid("A title of 1 to 200 characters is needed.", field="title")
    if not isinstance(fields.get("description") or "", str):
        raise InvalidBid("description must be text.", field="description")
    photo = fields.get("photo_url") or ""
    if not isinstance(photo, str) or len(photo) > 500 or (photo and not _is_web_address(photo)):
        raise InvalidBid("photo_url must be an http(s) address of at most 500 characters.", field="photo_url")
    starting = check_cents(fields["starting_price"], field="starting_price")
    reserve = fields.get("reserve_price")
    if reserve is not None and check_cents(reserve, field="reserve_price") < starting:
        raise InvalidBid("The reserve cannot be below the starting price.", field="reserve_price")
    buy_now = fields.get("buy_now_price")
    if buy_now is not None and check_cents(buy_now, field="buy_now_price") < max(starting, reserve or 0):
        raise InvalidBid("Buy now cannot be below the starting price or the reserve.", field="buy_now_price")
    starts_at, ends_at = fields["starts_at"], fields["ends_at"]
    if not isinstance(starts_at, datetime) or not isinstance(ends_at, datetime):
        raise InvalidBid("starts_at and ends_at must be ISO-8601 times.", field="ends_at")
    if ends_at <= starts_at or ends_at <= now:
        raise InvalidBid("The end must be after the start and in the future.", field="ends_at")
    hard_end = fields.get("hard_end_at")
    if hard_end is not None and (not isinstance(hard_end, datetime) or hard_end < ends_at):
        raise InvalidBid("The hard end, if any, cannot be before the end.", field="hard_end_at")
    for name in ("soft_close_window", "soft_close_extension"):
        value = fields.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3600):
            raise InvalidBid(f"{name} must be a whole number of seconds from 0 to 3600.", field=name)
    return {**fields, "title": title.strip(), "description": fields.get("description") or "", "photo_url": photo}


def _is_web_address(value: str) -> bool:
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        return False
    return True
