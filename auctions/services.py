"""The catalogue's writes that need no bid: the clock opening scheduled lots, sellers listing and editing lots, and
the checks every lot change shares. Actions decided under a lot's lock (closing, cancelling, staff extending and
banning) are bidding's: bidding/closing.py and bidding/lot_actions.py."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Profile
from auctions import lot_events, payloads
from auctions import photos as lot_photos
from auctions.exceptions import (
    Forbidden,
    InvalidBid,
    InvalidPhoto,
    LiveLot,
    LotClosed,
    LotNotFound,
    NotAuthenticated,
)
from auctions.models import Lot
from auctions.money import check_cents

if TYPE_CHECKING:
    from auctions.photos import PreparedPhoto

log = structlog.get_logger(__name__)


def open_due_lots(*, now: datetime | None = None, batch: int = 100) -> list[int]:
    """Open every scheduled lot whose start has come, each with an `opened` lot event, even with several closing
    workers running; the ids opened.

    Under each lot's row lock, as a close is: SKIP LOCKED lets workers share the work and passes over a lot a bid,
    an edit or a cancel holds (a bid opens the lot itself; a cancel leaves nothing to open), and the status filter,
    applied to the row as it stands once locked, makes a second opening, or one after a cancel, impossible. The
    event's `seq` is taken from the locked row, so it and the lot's bids and actions are numbered one at a time.
    """
    opened: list[int] = []
    while True:
        now_ = now or timezone.now()
        with transaction.atomic():
            due = list(Lot.objects.select_for_update(skip_locked=True).due_to_open(now_).order_by("starts_at")[:batch])
            for lot in due:
                lot.status = Lot.Status.OPEN
                lot.seq += 1
                lot.save(update_fields=["status", "seq"])
                lot_events.record_and_broadcast(lot, payloads.opened(lot, now=now_))
        opened += [lot.pk for lot in due]
        if len(due) < batch:
            return opened


# --- what sellers do with their lots ----------------------------------------------------------------------------
EDITABLE_FIELDS = (
    "title",
    "description",
    "starting_price",
    "reserve_price",
    "buy_now_price",
    "starts_at",
    "ends_at",
    "soft_close_window",
    "soft_close_extension",
    "hard_end_at",
    # The lot's details (auctions/models.py): condition, shipping and collection, buyer's premium, payment.
    "condition",
    "condition_note",
    "shipping_price",
    "ships_to",
    "collection_instructions",
    "buyers_premium_percent",
    "payment_instructions",
)
DETAIL_FIELDS = EDITABLE_FIELDS[EDITABLE_FIELDS.index("condition") :]


def create_lot(
    *,
    seller,
    title: str,
    starting_price: object,
    ends_at: datetime,
    starts_at: datetime | None = None,
    description: str = "",
    photos: Sequence[PreparedPhoto] = (),
    reserve_price: object = None,
    soft_close_window: int | None = None,
    soft_close_extension: int | None = None,
    hard_end_at: datetime | None = None,
    buy_now_price: object = None,
    **details: object,
) -> Lot:
    """List a lot: open at once if it starts now or earlier (or no start is given), else scheduled; with its photos
    (auctions/photos.prepare has checked them). `details`: any of DETAIL_FIELDS (condition, shipping, premium,
    instructions), checked with the rest."""
    unknown = sorted(set(details) - set(DETAIL_FIELDS))
    if unknown:
        raise InvalidBid(f"These fields cannot be set: {', '.join(unknown)}.", field=unknown[0])
    fields = {
        "title": title,
        "description": description,
        "starting_price": starting_price,
        "reserve_price": reserve_price,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "soft_close_window": soft_close_window,
        "soft_close_extension": soft_close_extension,
        "hard_end_at": hard_end_at,
        "buy_now_price": buy_now_price,
        **details,
    }
    with transaction.atomic():
        check_may_list(seller, adding=1)
        lot = _create_lot(seller=seller, fields=fields)
        _add_photos(lot, photos)
        return lot


def _create_lot(*, seller, fields: dict) -> Lot:
    """Check the fields and write the lot; the caller has checked, in this transaction, that the seller may list it."""
    if "title" not in fields or "starting_price" not in fields:
        raise InvalidBid("Each lot needs a title and a starting_price.", field="title")
    fields = _checked_fields({**fields, "starts_at": fields.get("starts_at") or timezone.now()}, now=timezone.now())
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


NULLABLE_FIELDS = ("reserve_price", "hard_end_at", "buy_now_price", "shipping_price")


def create_catalogue(*, seller, lots: list[dict], stagger_seconds: object) -> list[Lot]:
    """List several lots at once, all or none; lot i ends `stagger_seconds` after lot i-1 (the first's end)."""
    if isinstance(stagger_seconds, bool) or not isinstance(stagger_seconds, int) or not 0 <= stagger_seconds <= 86400:
        raise InvalidBid("stagger_seconds must be a whole number of seconds from 0 to 86400.", field="stagger_seconds")
    if not isinstance(lots, list) or not 1 <= len(lots) <= 500:
        raise InvalidBid("A catalogue holds 1 to 500 lots.", field="lots")
    first_end = lots[0].get("ends_at") if isinstance(lots[0], dict) else None
    if not isinstance(first_end, datetime):
        raise InvalidBid("The first lot needs ends_at.", field="ends_at")
    for fields in lots:
        unknown = sorted(set(fields) - set(EDITABLE_FIELDS)) if isinstance(fields, dict) else ["lots"]
        if unknown:
            raise InvalidBid(f"These fields cannot be set: {', '.join(unknown)}.", field=unknown[0])
    with transaction.atomic():
        check_may_list(seller, adding=len(lots))
        return [
            _create_lot(seller=seller, fields={**fields, "ends_at": first_end + timedelta(seconds=i * stagger_seconds)})
            for i, fields in enumerate(lots)
        ]


def update_lot(*, user, lot_id: int, changes: dict, photos: Sequence[PreparedPhoto] = ()) -> Lot:
    """Edit a lot, adding any `photos` after its own: its seller (or staff) only, and only before the first bid, so
    no bidder's terms change."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidBid(f"These fields cannot be edited: {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
    with transaction.atomic():
        lot = lot_for_change(user, lot_id)
        check_may_edit(user, lot)
        if lot.is_live:  # its times are the sale's; the clock's checks below are a timed lot's
            raise LiveLot("A lot in a live sale cannot be edited here: it has no end time.")
        if lot.bid_count:
            raise Forbidden("A lot cannot be edited once it has bids.", reason="has_bids")
        merged = {name: changes.get(name, getattr(lot, name)) for name in EDITABLE_FIELDS}
        now = timezone.now()
        for name, value in _checked_fields(merged, now=now).items():
            setattr(lot, name, value)
        if lot.status == Lot.Status.OPEN and lot.starts_at > now:
            lot.status = Lot.Status.SCHEDULED
        lot.save()
        _add_photos(lot, photos)
        _tell_seller(lot, watchers=None)  # None: the dashboard keeps the count it has
    log.info("lot_updated", lot_id=lot.pk, user_id=user.pk, fields=sorted(changes))
    return lot


def _add_photos(lot: Lot, prepared: Sequence[PreparedPhoto]) -> None:
    """Store prepared photos on a lot whose row this transaction holds, within PHOTOS_PER_LOT_MAX."""
    if not prepared:
        return
    if lot.photos.count() + len(prepared) > settings.PHOTOS_PER_LOT_MAX:
        raise InvalidPhoto(f"A lot has at most {settings.PHOTOS_PER_LOT_MAX} photos.", field="photos")
    lot_photos.attach(lot, list(prepared))


def checked_reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise InvalidBid("Give a reason of at most 500 characters.", field="reason")
    return reason.strip()


def check_staff(user) -> None:
    if user is None or not user.is_authenticated:
        raise NotAuthenticated("Log in as staff.")
    if not user.is_staff:
        raise Forbidden("Only staff may do this.", reason="not_staff")


def check_seller(user) -> None:
    if user is None or not user.is_authenticated:
        raise NotAuthenticated("Log in to sell.")
    if Profile.objects.filter(user_id=user.pk, banned=True).exists():
        raise Forbidden("Your account may not sell.", reason="banned")


def check_may_list(seller, *, adding: int) -> None:
    """May this user list `adding` more lots: logged in, not banned, a verified seller, and within the new-seller
    cap. Call inside the transaction that lists them: the seller's profile row stays locked until it commits, so two
    listings at once cannot both pass the cap."""
    if seller is None or not seller.is_authenticated:
        raise NotAuthenticated("Log in to sell.")
    profile = Profile.objects.select_for_update().filter(user_id=seller.pk).first()
    if profile is None or profile.banned:
        raise Forbidden("Your account may not sell.", reason="banned")
    if not profile.can_sell:
        raise Forbidden(
            "Your account is not yet verified to sell: staff verify sellers before their first listing.",
            reason="not_verified_seller",
        )
    cap = settings.NEW_SELLER_MAX_OPEN_LOTS
    running = Lot.objects.filter(seller_id=seller.pk, status__in=[Lot.Status.SCHEDULED, Lot.Status.OPEN]).count()
    if running + adding <= cap:
        return
    sold = Lot.objects.filter(seller_id=seller.pk, status=Lot.Status.CLOSED, winner__isnull=False).count()
    if sold >= settings.NEW_SELLER_SOLD_LOTS:
        return
    log.info("listing_over_cap", seller_id=seller.pk, running=running, adding=adding, cap=cap)
    raise Forbidden(
        f"New sellers may have at most {cap} lots open or scheduled at once; you have {running} and asked to list"
        f" {adding} more. The limit lifts once {settings.NEW_SELLER_SOLD_LOTS} of your lots have sold.",
        reason="open_lot_cap",
        max_open_lots=cap,
        open_lots=running,
    )


def check_may_edit(user, lot: Lot) -> None:
    """A seller edits a listing only while they may sell (a revoked seller may still cancel); staff always may."""
    if user.is_staff:
        return
    if not Profile.objects.filter(user_id=user.pk, can_sell=True).exists():
        raise Forbidden(
            "Your account is not verified to sell: you may withdraw this lot, not edit it.",
            reason="not_verified_seller",
        )


def lot_for_change(user, lot_id: int) -> Lot:
    """The lot, row-locked, if this user may change it and it is still running; ownership checked every time."""
    check_seller(user)
    lot = Lot.objects.select_for_update().filter(pk=lot_id).first()
    if lot is None:
        raise LotNotFound()
    if lot.seller_id != user.pk and not user.is_staff:
        raise Forbidden("Only the lot's seller can change it.", reason="not_owner")
    if lot.status in Lot.FINAL_STATUSES:
        raise LotClosed("This lot has already ended.")
    return lot


def _checked_fields(fields: dict, *, now: datetime) -> dict:
    title = fields["title"]
    if not isinstance(title, str) or not title.strip() or len(title) > Lot.TITLE_MAX_CHARS:
        raise InvalidBid(f"A title of 1 to {Lot.TITLE_MAX_CHARS} characters is needed.", field="title")
    description = fields.get("description") or ""
    if not isinstance(description, str) or len(description) > Lot.DESCRIPTION_MAX_CHARS:
        raise InvalidBid(
            f"A description is text of at most {Lot.DESCRIPTION_MAX_CHARS:,} characters.",
            field="description",
            max_length=Lot.DESCRIPTION_MAX_CHARS,
        )
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
    return {
        **fields,
        "title": title.strip(),
        "description": description,
        **_checked_details(fields),
    }


def _checked_details(fields: dict) -> dict:
    """The lot's details, checked; unset ones take their defaults (no condition, collection only, no premium)."""
    condition = fields.get("condition") or ""
    if not isinstance(condition, str) or condition not in {"", *Lot.Condition.values}:
        raise InvalidBid(
            f"condition must be one of: {', '.join(Lot.Condition.values)}.",
            field="condition",
            choices=list(Lot.Condition.values),
        )
    texts = {
        name: _checked_text(fields.get(name), field=name, limit=limit)
        for name, limit in (
            ("condition_note", Lot.CONDITION_NOTE_MAX_CHARS),
            ("ships_to", Lot.SHIPS_TO_MAX_CHARS),
            ("collection_instructions", Lot.INSTRUCTIONS_MAX_CHARS),
            ("payment_instructions", Lot.INSTRUCTIONS_MAX_CHARS),
        )
    }
    shipping = fields.get("shipping_price")
    if shipping is not None and (
        isinstance(shipping, bool) or not isinstance(shipping, int) or not 0 <= shipping <= settings.MAX_BID_CENTS
    ):
        raise InvalidBid(
            "shipping_price must be a whole number of cents (0: free), or null for collection only.",
            field="shipping_price",
        )
    return {
        "condition": condition,
        **texts,
        "shipping_price": shipping,
        "buyers_premium_percent": checked_premium(fields.get("buyers_premium_percent")),
    }


_PERCENT = re.compile(r"\d{1,2}(\.\d)?")


def checked_premium(value: object) -> Decimal:
    """A buyer's premium as an exact Decimal: 0 to 25 percent, whole or to one decimal, given as a JSON number or a
    string ("12.5"). A JSON number arrives as a float; its shortest form ("12.5") is read, never its binary value."""
    if value is None:
        return Decimal("0")
    text = repr(value) if isinstance(value, float) else str(value).strip()
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal) or not _PERCENT.fullmatch(text):
        raise InvalidBid(
            "buyers_premium_percent must be a percentage from 0 to 25, whole or to one decimal (like 12.5).",
            field="buyers_premium_percent",
        )
    percent = Decimal(text)
    if percent > Lot.BUYERS_PREMIUM_MAX:
        raise InvalidBid(
            f"A buyer's premium is at most {Lot.BUYERS_PREMIUM_MAX} percent.",
            field="buyers_premium_percent",
            max_percent=str(Lot.BUYERS_PREMIUM_MAX),
        )
    return percent


def _checked_text(value: object, *, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise InvalidBid(f"{field} is text of at most {limit:,} characters.", field=field, max_length=limit)
    return value.strip()
