"""The live bid path: what happens on the block of a live sale (docs/live-sales.md).

Check, then do, like every bid: each action checks its arguments, then, under the lot's lock (bidding.locks) and
inside one transaction, re-reads the sale and the lot on the block `SELECT … FOR UPDATE` (the sale's row first,
always, so a pause and a bid are ordered too) and decides. Every change is a sequenced LotEvent of the lot on the
block, broadcast after commit (auctions.lot_events); what only the clerks may see (who leads, the paddle, a missed
bid) goes to them as personal messages, never stored with the lot's public events.

Bids are decided in the order the lot lock grants them, which is the order the server received them for one
process's socket queue; each carries its receipt time, stamped before it queued, so a bid received before the
hammer and one received after are told apart whatever the queue did (`closed` with `late_ms`).
"""

from __future__ import annotations

from datetime import datetime

import structlog
from django.db import transaction
from django.utils import timezone

from accounts.models import Profile
from auctions import lot_events
from auctions.exceptions import BidRefused, Forbidden, InvalidBid, LotClosed, LotNotOpen, NotAuthenticated, TooLow
from auctions.live_rules import absentee_answer, absentee_leader, absentee_opening
from auctions.models import AbsenteeBid, Lot, Sale, SaleRegistration
from auctions.rules import SITE_INCREMENTS, Increments, fixed_increment, increment_for
from auctions.sales import SaleNotFound, may_clerk
from auctions.services import checked_reason
from bidding import live_console, live_payloads
from bidding.live_selectors import leader_number
from bidding.locks import lot_lock
from bidding.models import Bid
from bidding.services.checks import check_bid_id

log = structlog.get_logger(__name__)

MESSAGE_MAX_CHARS = Sale.PAUSE_MESSAGE_MAX_CHARS

BIDDING_STATES = (Lot.LiveState.OPEN, Lot.LiveState.FAIR_WARNING)


# --- reading the block ------------------------------------------------------------------------------------------
def increments_of(lot: Lot) -> Increments:
    """The clerk's flat increment, kept until changed; the site table until the clerk sets one."""
    return fixed_increment(lot.live_increment) if lot.live_increment else SITE_INCREMENTS


def next_ask(lot: Lot) -> int:
    if lot.high_bid_amount is None:
        return lot.starting_price
    return lot.high_bid_amount + increment_for(lot.high_bid_amount, increments_of(lot))


def _sale_id_of_lot(lot_id: int) -> int:
    sale_id = Lot.objects.filter(pk=lot_id).values_list("sale_id", flat=True).first()
    if sale_id is None:
        raise SaleNotFound()
    return sale_id


def _current_lot_id(sale_id: int) -> int | None:
    found = Sale.objects.filter(pk=sale_id).values_list("current_lot_id", flat=True)
    if not found.exists():
        raise SaleNotFound()
    return found.first()


def _locked(sale_id: int, lot_id: int | None) -> tuple[Sale, Lot | None]:
    """The sale and the lot, row-locked in that order (inside the caller's transaction and lot lock)."""
    sale = Sale.objects.select_for_update().filter(pk=sale_id).first()
    if sale is None:
        raise SaleNotFound()
    lot = Lot.objects.select_for_update().filter(pk=lot_id, sale_id=sale_id).first() if lot_id else None
    return sale, lot


def _on_block(sale: Sale, lot: Lot | None, expected_lot_id: int | None) -> Lot:
    if lot is None or sale.current_lot_id != expected_lot_id:
        raise LotNotOpen("There is no lot on the block.", reason="no_lot")
    return lot


def _check_clerk(user, sale: Sale) -> None:
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    if not may_clerk(user, sale):
        raise Forbidden("Only the sale's clerks drive it.", reason="not_clerk")


def _check_running(sale: Sale) -> None:
    if sale.status == Sale.Status.PAUSED:
        raise LotNotOpen("The sale is paused.", reason="paused")
    if sale.status != Sale.Status.RUNNING:
        raise LotNotOpen("The sale is not running.", reason="not_running")


def _clerk_ids(sale: Sale) -> set[int]:
    """Who hears the clerk's view: the house, its clerks, and whoever drives (staff may)."""
    return {sale.house_id, *sale.clerks.values_list("pk", flat=True)} | ({sale.driver_id} - {None})


# --- writing the block ------------------------------------------------------------------------------------------
def _announce(sale: Sale, lot: Lot, kind: str, now: datetime, *, notify=(), keep_ask: bool = False, **more):
    """One sequenced event of the lot on the block (public), and its clerk view to the sale's clerks (not stored).
    The ask follows the standing bid, unless the clerk has just typed one (`keep_ask`). An internet bid waiting for
    Accept at an amount that is no longer the ask (a new ask, an undo, the hammer, a pause) is dropped and its
    bidder told: an Accept never takes a bid at an amount that is not asked."""
    lot.seq += 1
    if not keep_ask:
        lot.live_ask = next_ask(lot) if lot.live_state in (*BIDDING_STATES, Lot.LiveState.WAITING) else None
    waiting = lot.live_pending
    if waiting and (waiting["amount"] != lot.live_ask or kind == "paused"):
        lot.live_pending = None
        notify = [*notify, (waiting["user"], live_payloads.bid_taken_by_another(lot, now=now))]
    lot.save()
    payload = live_payloads.block_event(sale, lot, kind, now=now, leader_number=leader_number(lot), **more)
    lot_events.record_and_broadcast(lot, payload, notify=list(notify))
    clerk = live_payloads.clerk_view(sale, lot, now=now)
    lot_events.notify_on_commit([(uid, clerk) for uid in _clerk_ids(sale)], stored=False)
    return payload


def _write_bid(lot: Lot, *, source: str, amount: int, now: datetime, bidder_id=None, paddle=None, **fields) -> Bid:
    number = 0
    if bidder_id is not None:
        number = (Bid.objects.filter(lot=lot, bidder_id=bidder_id).values_list("bidder_number", flat=True).first()) or 0
        if not number:
            lot.bidder_count += 1
            number = lot.bidder_count
    lot.seq += 1
    lot.bid_count += 1
    lot.high_bid_amount, lot.high_bidder_id = amount, bidder_id
    lot.live_leader_source, lot.live_leader_paddle = source, paddle
    if lot.live_state == Lot.LiveState.FAIR_WARNING:
        lot.live_state = Lot.LiveState.OPEN  # a new bid ends the fair warning
    return Bid.objects.create(
        lot=lot,
        bidder_id=bidder_id,
        source=source,
        paddle=paddle,
        amount=amount,
        seq=lot.seq,
        bidder_number=number,
        created_at=now,
        **fields,
    )


def _bid_event(sale: Sale, lot: Lot, bid: Bid, now: datetime, *, notify=()) -> None:
    lot.live_ask = next_ask(lot)
    lot.save()
    payload = live_payloads.live_bid_event(sale, lot, bid, now=now)
    lot_events.record_and_broadcast(lot, payload, notify=list(notify))
    clerk = live_payloads.clerk_view(sale, lot, now=now, bid=bid)
    lot_events.notify_on_commit([(uid, clerk) for uid in _clerk_ids(sale)], stored=False)


def _absentees(lot: Lot) -> list[tuple[AbsenteeBid, int]]:
    return [(bid, bid.max_amount) for bid in AbsenteeBid.objects.filter(lot=lot).order_by("placed_at", "pk")]


def _answer_with_absentee(sale: Sale, lot: Lot, now: datetime) -> None:
    """After a competing bid, the leading absentee maximum answers one increment up while it allows."""
    leader = absentee_leader([(bid, maximum) for bid, maximum in _absentees(lot)])
    if leader is None:
        return
    absentee, maximum = leader
    if lot.high_bidder_id == absentee.registration.user_id:  # never against its own bidder, however they bid
        return
    answer = absentee_answer(lot.high_bid_amount, maximum, increments_of(lot))
    if answer is None:
        return
    registration = absentee.registration
    bid = _write_bid(
        lot,
        source=Bid.Source.ABSENTEE,
        amount=answer,
        now=now,
        bidder_id=registration.user_id,
        paddle=registration.paddle,
        kind=Bid.Kind.AUTOMATIC,
    )
    _bid_event(sale, lot, bid, now)


def _outbid_notice(lot: Lot, previous_bidder_id: int | None, now: datetime) -> list:
    if previous_bidder_id is None or previous_bidder_id == lot.high_bidder_id:
        return []
    return [(previous_bidder_id, live_payloads.live_outbid(lot, now=now))]


# --- the clerk --------------------------------------------------------------------------------------------------
def clerk_action(*, user, sale_id: int, action: str, console: str | None = None, **args) -> dict:
    """Run one clerk action by name (the sale socket's `clerk` message); returns the clerk's reply. From a socket
    (`console`), only the driving console may act (bidding/live_console.py); `claim` makes it the driving one."""
    if action == "claim" and console is not None:
        return live_console.claim(user=user, sale_id=sale_id, console=console)
    handler = CLERK_ACTIONS.get(action) if isinstance(action, str) else None
    if handler is None:
        raise InvalidBid("Unknown clerk action.", field="action")
    if console is not None:
        live_console.check_driving(sale_id, console)
        live_console.heartbeat(sale_id=sale_id, console=console)
    return handler(user=user, sale_id=sale_id, **args)


def start_sale(*, user, sale_id: int, **_) -> dict:
    """scheduled → running, with the first waiting lot put on the block (not yet offered)."""
    with transaction.atomic():
        sale, _lot = _locked(sale_id, None)
        _check_clerk(user, sale)
        if sale.status != Sale.Status.SCHEDULED:
            raise InvalidBid("The sale has already started.", field="action")
        first = sale.lots.filter(live_state=Lot.LiveState.WAITING).order_by("sale_position").first()
        sale.status = Sale.Status.RUNNING
        sale.save(update_fields=["status"])
    log.info("sale_started", sale_id=sale_id, user_id=user.pk)
    if first is not None:
        return jump_to_lot(user=user, sale_id=sale_id, lot_id=first.pk)
    return {"sale": sale_id, "status": sale.status}


def _block_action(user, sale_id: int, decide, *, running: bool = True, lot_id: int | None = None) -> dict:
    """The common frame of a clerk's action on the lot on the block."""
    lot_id = lot_id or _current_lot_id(sale_id)
    if lot_id is None:
        raise LotNotOpen("There is no lot on the block.", reason="no_lot")
    with lot_lock(lot_id), transaction.atomic():
        sale, lot = _locked(sale_id, lot_id)
        _check_clerk(user, sale)
        lot = _on_block(sale, lot, lot_id)
        if running:
            _check_running(sale)
        now = timezone.now()
        decide(sale, lot, now)
    return live_payloads.clerk_reply(lot)


def offer_lot(*, user, sale_id: int, **_) -> dict:
    """waiting → open: the ask starts at the start price, or where the absentee bids open the lot."""

    def decide(sale, lot, now):
        if lot.live_state != Lot.LiveState.WAITING:
            raise InvalidBid("This lot has already been offered.", field="action")
        lot.live_state, lot.status = Lot.LiveState.OPEN, Lot.Status.OPEN
        _announce(sale, lot, "offered", now)
        if lot.high_bid_amount is None:
            opening = absentee_opening(lot.starting_price, _absentees(lot), increments_of(lot))
            if opening is not None:
                amount, absentee = opening
                registration = absentee.registration
                bid = _write_bid(
                    lot,
                    source=Bid.Source.ABSENTEE,
                    amount=amount,
                    now=now,
                    bidder_id=registration.user_id,
                    paddle=registration.paddle,
                    kind=Bid.Kind.AUTOMATIC,
                )
                _bid_event(sale, lot, bid, now)

    return _block_action(user, sale_id, decide)


def _check_amount(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 10**12:
        raise InvalidBid("A whole number of cents above 0.", field=field)
    return value


def set_increment(*, user, sale_id: int, increment: object = None, **_) -> dict:
    """A flat increment, kept until changed (None: back to the site table); the ask follows at once."""
    increment = None if increment is None else _check_amount(increment, "increment")

    def decide(sale, lot, now):
        lot.live_increment = increment
        _announce(sale, lot, "ask", now)

    return _block_action(user, sale_id, decide)


def set_ask(*, user, sale_id: int, ask: object = None, **_) -> dict:
    """The clerk types an ask: above the standing bid (or at least the start price), until the next bid."""
    ask = _check_amount(ask, "ask")

    def decide(sale, lot, now):
        if lot.live_state not in BIDDING_STATES:
            raise LotNotOpen("The lot is not open.", reason=lot.live_state)
        floor = lot.starting_price if lot.high_bid_amount is None else lot.high_bid_amount + 1
        if ask < floor:
            raise TooLow("The ask must be above the standing bid.", min_next_bid=floor)
        lot.live_ask = ask  # until the next bid recomputes it
        _announce(sale, lot, "ask", now, keep_ask=True)

    return _block_action(user, sale_id, decide)


def floor_bid(*, user, sale_id: int, paddle: object = None, amount: object = None, **_) -> dict:
    """A room bid at the ask, tapped by the clerk. Before an Accept it takes the ask from a waiting internet bid.
    With `amount` (the ask the console showed), it is refused `too_low` with the new ask if the ask has moved
    meanwhile, as an internet bid would be: the room bid what the auctioneer asked, not the next step."""
    if paddle is not None:
        paddle = _check_amount(paddle, "paddle")
    if amount is not None:
        amount = _check_amount(amount, "amount")

    def decide(sale, lot, now):
        if lot.live_state not in BIDDING_STATES:
            raise LotNotOpen("The lot is not open.", reason=lot.live_state)
        previous, ask = lot.high_bidder_id, lot.live_ask or next_ask(lot)
        if amount is not None and amount != ask:
            raise TooLow("The ask has moved.", min_next_bid=ask, ask=ask)
        waiting = lot.live_pending
        lot.live_pending = None
        bid = _write_bid(lot, source=Bid.Source.FLOOR, amount=ask, now=now, paddle=paddle)
        notices = _outbid_notice(lot, previous, now)
        if waiting:
            notices.append((waiting["user"], live_payloads.bid_taken_by_another(lot, now=now)))
        _bid_event(sale, lot, bid, now, notify=notices)
        _answer_with_absentee(sale, lot, now)

    return _block_action(user, sale_id, decide)


def accept(*, user, sale_id: int, **_) -> dict:
    """Take the internet bid waiting at the ask (a sale without auto-accept)."""

    def decide(sale, lot, now):
        waiting = lot.live_pending
        if not waiting:
            raise InvalidBid("No internet bid is waiting.", field="action")
        if lot.live_state not in BIDDING_STATES:
            raise LotNotOpen("The lot is not open.", reason=lot.live_state)
        lot.live_pending = None
        _take_internet_bid(sale, lot, waiting, now)

    return _block_action(user, sale_id, decide)


def fair_warning(*, user, sale_id: int, **_) -> dict:
    def decide(sale, lot, now):
        if lot.live_state != Lot.LiveState.OPEN:
            raise LotNotOpen("The lot is not open.", reason=lot.live_state)
        lot.live_state = Lot.LiveState.FAIR_WARNING
        _announce(sale, lot, "fair_warning", now)

    return _block_action(user, sale_id, decide)


def sold(*, user, sale_id: int, **_) -> dict:
    """The hammer: the server's time now, stored; the leader wins at the standing bid."""

    def decide(sale, lot, now):
        if lot.live_state not in BIDDING_STATES:
            raise LotNotOpen("The lot is not open.", reason=lot.live_state)
        if lot.high_bid_amount is None:
            raise InvalidBid("Nobody has bid: pass the lot.", field="action")
        lot.live_state, lot.status = Lot.LiveState.SOLD, Lot.Status.CLOSED
        lot.hammer_at = lot.closed_at = now
        lot.winner_id = lot.high_bidder_id
        _announce(sale, lot, "sold", now)

    return _block_action(user, sale_id, decide)


def pass_lot(*, user, sale_id: int, **_) -> dict:
    def decide(sale, lot, now):
        if lot.live_state not in BIDDING_STATES:
            raise LotNotOpen("The lot is not open.", reason=lot.live_state)
        lot.live_state, lot.status = Lot.LiveState.PASSED, Lot.Status.CLOSED
        lot.hammer_at = lot.closed_at = now
        lot.winner_id = None
        _announce(sale, lot, "passed", now)

    return _block_action(user, sale_id, decide)


def reopen(*, user, sale_id: int, lot_id: object = None, reason: object = "", **_) -> dict:
    """Sold or passed → open again: the clerk's while the lot is still on the block; after the clerk moved on,
    staff's only, with a reason (logged)."""
    current = _current_lot_id(sale_id)
    target = current if lot_id is None else lot_id
    if isinstance(target, bool) or not isinstance(target, int):
        raise InvalidBid("Which lot?", field="lot_id")
    moved_on = target != current
    if moved_on:
        if user is None or not user.is_authenticated or not user.is_staff:
            raise Forbidden("After moving on, only staff may reopen a lot.", reason="moved_on")
        reason = checked_reason(reason)

    def decide(sale, lot, now):
        if lot.live_state not in (Lot.LiveState.SOLD, Lot.LiveState.PASSED):
            raise InvalidBid("Only a sold or passed lot can be reopened.", field="action")
        lot.live_state, lot.status = Lot.LiveState.OPEN, Lot.Status.OPEN
        lot.hammer_at = lot.closed_at = None
        lot.winner_id = None
        _announce(sale, lot, "reopened", now, reason=reason or None)

    if not moved_on:
        return _block_action(user, sale_id, decide, running=False)
    with lot_lock(target), transaction.atomic():
        sale, lot = _locked(sale_id, target)
        _check_clerk(user, sale)
        if lot is None:
            raise InvalidBid("That lot is not in this sale.", field="lot_id")
        decide(sale, lot, timezone.now())
    log.warning("live_lot_reopened_by_staff", sale_id=sale_id, lot_id=target, user_id=user.pk, reason=reason)
    return live_payloads.clerk_reply(lot)


def jump_to_lot(*, user, sale_id: int, lot_id: object = None, **_) -> dict:
    """Put a lot on the block: the next waiting one (no lot_id), any waiting one, or a passed one re-offered."""
    if lot_id is not None and (isinstance(lot_id, bool) or not isinstance(lot_id, int)):
        raise InvalidBid("Which lot?", field="lot_id")
    current = _current_lot_id(sale_id)
    if current is not None:  # the lot on the block must be settled first (sold or passed), or still waiting
        with lot_lock(current), transaction.atomic():
            sale, lot = _locked(sale_id, current)
            _check_clerk(user, sale)
            if lot is not None and lot.live_state in BIDDING_STATES:
                raise InvalidBid("Sell or pass the lot on the block first.", field="action")
    if lot_id is None:
        after = Lot.objects.filter(pk=current).values_list("sale_position", flat=True).first() or 0
        waiting = Lot.objects.filter(sale_id=sale_id, live_state=Lot.LiveState.WAITING)
        nxt = waiting.filter(sale_position__gt=after).order_by("sale_position").first()
        nxt = nxt or waiting.order_by("sale_position").first()
        if nxt is None:
            raise InvalidBid("No lot is waiting.", field="lot_id")
        lot_id = nxt.pk
    with lot_lock(lot_id), transaction.atomic():
        sale, lot = _locked(sale_id, lot_id)
        _check_clerk(user, sale)
        if sale.status == Sale.Status.SCHEDULED:
            raise LotNotOpen("The sale has not started.", reason="not_running")
        if lot is None:
            raise InvalidBid("That lot is not in this sale.", field="lot_id")
        if lot.live_state not in (Lot.LiveState.WAITING, Lot.LiveState.PASSED):
            raise InvalidBid("Only a waiting or passed lot can go on the block.", field="lot_id")
        now = timezone.now()
        if lot.live_state == Lot.LiveState.PASSED:
            lot.live_state, lot.status = Lot.LiveState.WAITING, Lot.Status.SCHEDULED
            lot.hammer_at = lot.closed_at = None
        sale.current_lot = lot
        sale.save(update_fields=["current_lot"])
        _announce(sale, lot, "on_block", now, previous_lot=current)
    if current is not None and current != lot_id:
        _moved_on(sale_id, current, lot_id)
    return live_payloads.clerk_reply(lot)


def _moved_on(sale_id: int, previous: int, new: int) -> None:
    """Tell whoever follows the previous lot that the block moved (their socket follows the new one)."""
    with lot_lock(previous), transaction.atomic():
        _sale, lot = _locked(sale_id, previous)
        if lot is not None:
            lot.seq += 1
            lot.save(update_fields=["seq"])
            lot_events.record_and_broadcast(lot, live_payloads.moved_on(lot, next_lot=new, now=timezone.now()))


def undo(*, user, sale_id: int, **_) -> dict:
    """Withdraw the last standing bid: the price and the leader go back to the bid before it; its bidder is told."""

    def decide(sale, lot, now):
        if lot.live_state not in BIDDING_STATES:
            raise LotNotOpen("The lot is not open.", reason=lot.live_state)
        standing = list(Bid.objects.filter(lot=lot, withdrawn_at__isnull=True).order_by("-seq")[:2])
        if not standing:
            raise InvalidBid("There is no bid to undo.", field="action")
        last = standing[0]
        last.withdrawn_at = now
        last.save(update_fields=["withdrawn_at"])
        before = standing[1] if len(standing) > 1 else None
        lot.bid_count -= 1
        lot.high_bid_amount = before.amount if before else None
        lot.high_bidder_id = before.bidder_id if before else None
        lot.live_leader_source = before.source if before else ""
        lot.live_leader_paddle = before.paddle if before else None
        told = [] if last.bidder_id is None else [(last.bidder_id, live_payloads.bid_withdrawn(lot, now=now))]
        _announce(sale, lot, "undone", now, notify=told, withdrawn_seq=last.seq)

    return _block_action(user, sale_id, decide)


def pause(*, user, sale_id: int, message: object = "", **_) -> dict:
    message = _check_message(message, required=False)

    def decide(sale, lot, now):
        sale.status, sale.pause_message = Sale.Status.PAUSED, message
        sale.save(update_fields=["status", "pause_message"])
        _announce(sale, lot, "paused", now, message=message)

    return _block_action(user, sale_id, decide)


def resume(*, user, sale_id: int, **_) -> dict:
    def decide(sale, lot, now):
        if sale.status != Sale.Status.PAUSED:
            raise InvalidBid("The sale is not paused.", field="action")
        sale.status, sale.pause_message = Sale.Status.RUNNING, ""
        sale.save(update_fields=["status", "pause_message"])
        _announce(sale, lot, "resumed", now)

    return _block_action(user, sale_id, decide, running=False)


def message(*, user, sale_id: int, text: object = "", **_) -> dict:
    text = _check_message(text, required=True)

    def decide(sale, lot, now):
        _announce(sale, lot, "message", now, message=text)

    return _block_action(user, sale_id, decide, running=False)


def _check_message(text: object, *, required: bool) -> str:
    if not isinstance(text, str) or len(text) > MESSAGE_MAX_CHARS or (required and not text.strip()):
        raise InvalidBid(f"A message of at most {MESSAGE_MAX_CHARS} characters.", field="message")
    if "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise InvalidBid("The message holds characters that cannot be stored.", field="message")
    return text.strip()


CLERK_ACTIONS = {
    "start": start_sale,
    "offer": offer_lot,
    "increment": set_increment,
    "ask": set_ask,
    "floor_bid": floor_bid,
    "accept": accept,
    "fair_warning": fair_warning,
    "sold": sold,
    "pass": pass_lot,
    "reopen": reopen,
    "next": jump_to_lot,
    "jump": jump_to_lot,
    "undo": undo,
    "pause": pause,
    "resume": resume,
    "message": message,
}


# --- the internet bidder ----------------------------------------------------------------------------------------
def _check_bidder(user, sale: Sale) -> SaleRegistration:
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    if sale.house_id == user.pk:
        raise Forbidden("The house bids on its own sale only as the floor.", reason="own_sale")
    can_bid, banned = Profile.objects.filter(user_id=user.pk).values_list("can_bid", "banned").first() or (
        False,
        False,
    )
    if banned:
        raise Forbidden("Your account may not bid.", reason="banned")
    if not can_bid:
        raise Forbidden("Your account is not yet verified for bidding.", reason="not_verified")
    registration = SaleRegistration.objects.filter(sale=sale, user=user).first()
    if registration is None:
        raise Forbidden("Register for the sale to bid.", reason="not_registered")
    if sale.requires_approval and not registration.approved:
        raise Forbidden("The house has not approved your registration yet.", reason="not_approved")
    return registration


def live_bid(*, user, sale_id: int, amount: object, bid_id: object, received_at: datetime | None = None) -> dict:
    """An internet bid at the ask it saw. Refused `too_low` with the ask when the ask has moved (never taken at a
    higher price); `closed` with `late_ms` when received after the hammer, which the clerks hear as a missed bid.
    With auto-accept it is taken at once; without, it waits for the clerk's Accept (the first one at the ask)."""
    received_at = received_at or timezone.now()
    amount = _check_amount(amount, "amount")
    bid_id = check_bid_id(bid_id)
    lot_id = _current_lot_id(sale_id)
    if lot_id is None:
        raise LotNotOpen("There is no lot on the block.", reason="no_lot")
    missed: dict | None = None
    try:
        with lot_lock(lot_id), transaction.atomic():
            sale, lot = _locked(sale_id, lot_id)
            registration = _check_bidder(user, sale)
            lot = _on_block(sale, lot, lot_id)
            now = timezone.now()
            earlier = Bid.objects.filter(bidder=user, bid_id=bid_id).first()
            if earlier is not None:  # a retry: the original answer; an id used elsewhere is not this bid
                if earlier.lot_id != lot.pk:
                    raise InvalidBid("This bid_id was used for another bid.", field="bid_id")
                return live_payloads.live_bid_accepted(earlier, lot, duplicate=True)
            if lot.hammer_at is not None and lot.live_state in (Lot.LiveState.SOLD, Lot.LiveState.PASSED):
                # Received after the hammer: late by that much. Received before it but queued behind it (the
                # hammer took the lock first): refused too, with late_ms 0 and before_hammer, so the clerk, who
                # hears of it at once, may reopen.
                late_ms = round((received_at - lot.hammer_at).total_seconds() * 1000)
                before = late_ms < 0
                late_ms = max(0, late_ms)
                missed = live_payloads.missed_bid(
                    lot, amount=amount, late_ms=late_ms, paddle=registration.paddle, now=now, before_hammer=before
                )
                clerks = _clerk_ids(sale)
                raise LotClosed("The hammer has fallen.", late_ms=late_ms, before_hammer=before)
            _check_running(sale)
            if lot.live_state not in BIDDING_STATES:
                raise LotNotOpen("The lot is not open yet.", reason=lot.live_state)
            ask = lot.live_ask or next_ask(lot)
            if amount != ask or (lot.live_pending and lot.live_pending["user"] != user.pk):
                raise TooLow("The ask has moved.", min_next_bid=ask, ask=ask, waiting=bool(lot.live_pending))
            waiting = {
                "user": user.pk,
                "amount": amount,
                "bid_id": bid_id,
                "paddle": registration.paddle,
                "received_at": received_at.isoformat(),
            }
            if not sale.auto_accept:
                if lot.live_pending:  # the same bidder again: still waiting
                    return {"type": "live_bid_waiting", "bid_id": bid_id, "amount": amount, "lot": lot.pk}
                lot.live_pending = waiting
                lot.save(update_fields=["live_pending"])
                clerk = live_payloads.clerk_waiting(sale, lot, waiting, now=now)
                lot_events.notify_on_commit([(uid, clerk) for uid in _clerk_ids(sale)], stored=False)
                return {"type": "live_bid_waiting", "bid_id": bid_id, "amount": amount, "lot": lot.pk}
            bid = _take_internet_bid(sale, lot, waiting, now)
        return live_payloads.live_bid_accepted(bid, lot, duplicate=False)
    except LotClosed:
        if missed is not None:
            lot_events.notify_on_commit([(uid, missed) for uid in clerks], stored=False)
            log.info("missed_bid", sale_id=sale_id, lot_id=lot_id, late_ms=missed["late_ms"])
        raise


def _take_internet_bid(sale: Sale, lot: Lot, waiting: dict, now: datetime) -> Bid:
    previous = lot.high_bidder_id
    bid = _write_bid(
        lot,
        source=Bid.Source.INTERNET,
        amount=waiting["amount"],
        now=now,
        bidder_id=waiting["user"],
        paddle=waiting["paddle"],
        bid_id=waiting["bid_id"],
        requested_amount=waiting["amount"],
        received_at=datetime.fromisoformat(waiting["received_at"]),
    )
    _bid_event(sale, lot, bid, now, notify=_outbid_notice(lot, previous, now))
    _answer_with_absentee(sale, lot, now)
    return bid


def refusal_of(exc: BidRefused) -> dict:
    return {"code": exc.code, "message": exc.message, **exc.details}
