"""Live sales before the block: a house makes a sale of its lots, names its clerks, bidders register for a paddle
(approved by the house where it asks to) and leave absentee bids. What happens on the block (the ask, floor and
internet bids, the hammer) is the live bid path's, still to come (docs/live-sales.md).

Check, then do: each service checks what it can from its arguments, then, inside one transaction and under the row
lock it names, re-reads what it decides on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import structlog
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from accounts.models import Profile
from auctions.exceptions import Forbidden, InvalidBid, LotClosed, LotNotFound, NotAuthenticated, TooLow
from auctions.models import AbsenteeBid, Lot, Sale, SaleRegistration
from auctions.money import check_cents
from auctions.services import check_may_list

log = structlog.get_logger(__name__)

# A sale's catalogue is read on one page and one console: a few hundred lots is a long day's selling.
MAX_SALE_LOTS = 500


class SaleNotFound(LotNotFound):
    default_message = "There is no such sale."


def _check_user(user) -> None:
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()


def may_clerk(user, sale: Sale) -> bool:
    """The house, the clerks it named, and staff may drive (and administer) a sale."""
    if user is None or not user.is_authenticated:
        return False
    return user.is_staff or sale.house_id == user.pk or sale.clerks.filter(pk=user.pk).exists()


def _sale_for_update(sale_id: int) -> Sale:
    sale = Sale.objects.select_for_update().filter(pk=sale_id).first()
    if sale is None:
        raise SaleNotFound()
    return sale


# --- the house's sale ------------------------------------------------------------------------------------------
def check_sale_fields(*, title: object, starts_at: object, lot_ids: object, now: datetime) -> list[int]:
    if not isinstance(title, str) or not title.strip() or len(title) > Sale.TITLE_MAX_CHARS:
        raise InvalidBid(f"Give the sale a title of at most {Sale.TITLE_MAX_CHARS} characters.", field="title")
    if not isinstance(starts_at, datetime) or starts_at.tzinfo is None or starts_at <= now:
        raise InvalidBid("starts_at must be a time in the future, with an offset.", field="starts_at")
    if (
        not isinstance(lot_ids, list)
        or not 0 < len(lot_ids) <= MAX_SALE_LOTS
        or any(isinstance(pk, bool) or not isinstance(pk, int) for pk in lot_ids)
    ):
        raise InvalidBid(f"lots must list 1 to {MAX_SALE_LOTS} lot ids, in catalogue order.", field="lots")
    if len(set(lot_ids)) != len(lot_ids):
        raise InvalidBid("A lot can only be offered once in a sale.", field="lots")
    return lot_ids


def create_sale(
    *,
    house,
    title: object,
    starts_at: object,
    lot_ids: object,
    requires_approval: bool = False,
    auto_accept: bool = True,
) -> Sale:
    """A scheduled sale of the house's own lots, in the order given. Each lot must be scheduled, not yet started and
    without a bid; it leaves the clock (no end time: the clerk's hammer ends it) and waits for its turn."""
    now = timezone.now()
    _check_user(house)
    lot_ids = check_sale_fields(title=title, starts_at=starts_at, lot_ids=lot_ids, now=now)
    with transaction.atomic():
        check_may_list(house, adding=0)  # a house is a seller allowed to list; its profile row stays locked
        lots = {lot.pk: lot for lot in Lot.objects.select_for_update().filter(pk__in=lot_ids)}
        if len(lots) != len(lot_ids):
            raise LotNotFound("One of the lots does not exist.")
        for lot in lots.values():
            if lot.seller_id != house.pk:
                raise Forbidden("A sale can only offer the house's own lots.", reason="not_owner", lot=lot.pk)
            if lot.is_live:
                raise InvalidBid(f"Lot {lot.pk} is already in a sale.", field="lots")
            if lot.status != Lot.Status.SCHEDULED or lot.bid_count or lot.starts_at <= now:
                raise InvalidBid(f"Lot {lot.pk} has started: only lots not yet started can join a sale.", field="lots")
        sale = Sale.objects.create(
            house=house,
            title=title.strip(),
            starts_at=starts_at,
            requires_approval=bool(requires_approval),
            auto_accept=bool(auto_accept),
        )
        for position, lot_id in enumerate(lot_ids, start=1):
            lot = lots[lot_id]
            lot.sale, lot.sale_position, lot.live_state = sale, position, Lot.LiveState.WAITING
            lot.starts_at, lot.ends_at, lot.hard_end_at = starts_at, None, None
            lot.save(update_fields=["sale", "sale_position", "live_state", "starts_at", "ends_at", "hard_end_at"])
    log.info("sale_created", sale_id=sale.pk, house_id=house.pk, lots=len(lot_ids))
    return sale


def _check_house(user, sale: Sale) -> None:
    _check_user(user)
    if sale.house_id != user.pk and not user.is_staff:
        raise Forbidden("Only the house (or staff) may name the sale's clerks.", reason="not_house")


def add_clerk(*, user, sale_id: int, clerk) -> None:
    """The house (or staff) names a clerk for the sale."""
    with transaction.atomic():
        sale = _sale_for_update(sale_id)
        _check_house(user, sale)
        sale.clerks.add(clerk)
    log.info("sale_clerk_added", sale_id=sale_id, user_id=user.pk, clerk_id=clerk.pk)


def remove_clerk(*, user, sale_id: int, clerk) -> None:
    with transaction.atomic():
        sale = _sale_for_update(sale_id)
        _check_house(user, sale)
        sale.clerks.remove(clerk)
    log.info("sale_clerk_removed", sale_id=sale_id, user_id=user.pk, clerk_id=clerk.pk)


# --- bidders ---------------------------------------------------------------------------------------------------
def _check_may_bid(user) -> None:
    """The bidder's own flags, read fresh: the same rules as a timed bid (bidding/services/checks.py)."""
    _check_user(user)
    _check_flags(Profile.objects.filter(user_id=user.pk).values_list("can_bid", "banned").first())


def _check_flags(flags: tuple[bool | None, bool | None] | None) -> None:
    can_bid, banned = flags or (False, False)  # no profile: never verified
    if banned:
        raise Forbidden("Your account may not bid.", reason="banned")
    if not can_bid:
        raise Forbidden("Your account is not yet verified for bidding.", reason="not_verified")


def check_sale_bidder(user, *, sale_id: int, house_id: int) -> SaleRegistration:
    """Who may bid in a sale by any way but the floor (an absentee maximum, an internet bid): a user verified to
    bid and not banned, registered for the sale and approved, and not its house (the house bids only as the floor).
    Their registration. One query for a registered bidder."""
    _check_user(user)
    registration = (
        SaleRegistration.objects.filter(sale_id=sale_id, user_id=user.pk)
        .annotate(can_bid=F("user__profile__can_bid"), banned=F("user__profile__banned"))
        .first()
    )
    if registration is None:
        flags = Profile.objects.filter(user_id=user.pk).values_list("can_bid", "banned").first()
    else:
        flags = (registration.can_bid, registration.banned)
    return sale_bidder(user, house_id=house_id, registration=registration, flags=flags)


def sale_bidder(
    user, *, house_id: int, registration: SaleRegistration | None, flags: tuple[bool | None, bool | None] | None
) -> SaleRegistration:
    """check_sale_bidder's rule on what is already read: the user's registration for the sale (None: not
    registered) and their profile's (can_bid, banned) (None: no profile). The live bid path reads both for a group
    of bids in one statement (bidding/statements/block.py)."""
    _check_user(user)
    if house_id == user.pk:
        raise Forbidden("The house bids on its own sale only as the floor.", reason="own_sale")
    _check_flags(flags)  # the bidder's own flags first, registered or not
    if registration is None:
        raise Forbidden("Register for the sale to bid.", reason="not_registered")
    if not registration.approved:
        raise Forbidden("The house has not approved your registration yet.", reason="not_approved")
    return registration


def register(*, user, sale_id: int) -> tuple[SaleRegistration, bool]:
    """Register `user` for the sale: (their registration, whether it is new). Internet paddles are numbered from
    SaleRegistration.PADDLE_FIRST_INTERNET up, one after another, allocated under the sale's row lock so two
    registrations at once never get the same number. Approved at once unless the sale requires approval."""
    _check_user(user)
    with transaction.atomic():
        sale = _sale_for_update(sale_id)
        if sale.house_id == user.pk:
            raise Forbidden("The house cannot register for its own sale.", reason="own_sale")
        _check_may_bid(user)
        if sale.status == Sale.Status.FINISHED:
            raise LotClosed("This sale has finished.")
        existing = SaleRegistration.objects.filter(sale=sale, user_id=user.pk).first()
        if existing is not None:
            return existing, False
        highest = SaleRegistration.objects.filter(
            sale=sale, paddle__gte=SaleRegistration.PADDLE_FIRST_INTERNET
        ).aggregate(highest=Max("paddle"))["highest"]
        approved = not sale.requires_approval
        registration = SaleRegistration.objects.create(
            sale=sale,
            user=user,
            paddle=SaleRegistration.PADDLE_FIRST_INTERNET if highest is None else highest + 1,
            approved=approved,
            approved_at=timezone.now() if approved else None,
        )
    log.info("sale_registered", sale_id=sale_id, user_id=user.pk, paddle=registration.paddle, approved=approved)
    return registration, True


def approve(*, user, registration_id: int) -> SaleRegistration:
    """The house, a clerk or staff approve a registration (once; approving again changes nothing)."""
    _check_user(user)
    with transaction.atomic():
        registration = (
            SaleRegistration.objects.select_for_update().select_related("sale").filter(pk=registration_id).first()
        )
        if registration is None:
            raise InvalidBid("There is no such registration.", field="registration")
        if not may_clerk(user, registration.sale):
            raise Forbidden("Only the sale's house, clerks or staff may approve bidders.", reason="not_clerk")
        if not registration.approved:
            registration.approved, registration.approved_at = True, timezone.now()
            registration.save(update_fields=["approved", "approved_at"])
    log.info("sale_registration_approved", registration_id=registration_id, user_id=user.pk)
    return registration


# --- absentee bids ---------------------------------------------------------------------------------------------
def _lot_before_offer(user, lot_id: int) -> tuple[Lot, SaleRegistration]:
    """The lot, row-locked (the clerk opening it takes the same lock), if it still waits for its turn and `user`
    is an approved bidder of its sale other than the house."""
    lot = Lot.objects.select_for_update().filter(pk=lot_id).first()
    if lot is None:
        raise LotNotFound()
    if not lot.is_live:
        raise InvalidBid("Absentee bids are for lots in a live sale; bid on a timed lot as usual.", field="lot")
    if lot.seller_id == user.pk:
        raise Forbidden("The house bids on its own sale only as the floor.", reason="own_sale")
    if Sale.objects.filter(pk=lot.sale_id, status=Sale.Status.FINISHED).exists():
        raise LotClosed("This sale has finished.")
    if lot.status in Lot.FINAL_STATUSES or lot.live_state != Lot.LiveState.WAITING:
        raise LotClosed("This lot has already been offered: bid in the sale.")
    return lot, check_sale_bidder(user, sale_id=lot.sale_id, house_id=lot.seller_id)


def set_absentee_bid(*, user, lot_id: int, max_amount: object) -> tuple[AbsenteeBid, bool]:
    """Leave, or raise, a secret maximum on a lot before it is offered: (the bid, whether it is new). At least the
    starting price; a maximum can be raised, not lowered (withdraw it and leave a new one, which then counts from
    its own time for ties)."""
    _check_user(user)
    max_amount = check_cents(max_amount, field="max_amount")
    with transaction.atomic():
        lot, registration = _lot_before_offer(user, lot_id)
        if max_amount < lot.starting_price:
            raise TooLow("Your maximum is below the starting price.", min_next_bid=lot.starting_price)
        now = timezone.now()
        bid = AbsenteeBid.objects.filter(lot=lot, registration=registration).first()
        created = bid is None
        if created:
            bid = AbsenteeBid.objects.create(lot=lot, registration=registration, max_amount=max_amount, placed_at=now)
        elif max_amount < bid.max_amount:
            raise InvalidBid("Your maximum can only be raised, not lowered.", field="max_amount")
        elif max_amount > bid.max_amount:
            bid.max_amount, bid.placed_at = max_amount, now
            bid.save(update_fields=["max_amount", "placed_at"])
    log.info("absentee_bid_set", lot_id=lot_id, user_id=user.pk, created=created)  # the maximum stays secret
    return bid, created


def withdraw_absentee_bid(*, user, lot_id: int) -> bool:
    """Withdraw your absentee bid on a lot before it is offered; True if there was one."""
    _check_user(user)
    with transaction.atomic():
        lot, registration = _lot_before_offer(user, lot_id)
        deleted, _ = AbsenteeBid.objects.filter(lot=lot, registration=registration).delete()
    log.info("absentee_bid_withdrawn", lot_id=lot_id, user_id=user.pk, had_one=bool(deleted))
    return bool(deleted)


def absentee_maxima(lot_id: int) -> Sequence[tuple[int, int]]:
    """(registration id, maximum) of the lot's absentee bids in the order they were placed: what
    auctions/live_rules.absentee_opening reads (ties go to the earlier)."""
    return list(
        AbsenteeBid.objects.filter(lot_id=lot_id)
        .order_by("placed_at", "pk")
        .values_list("registration_id", "max_amount")
    )
