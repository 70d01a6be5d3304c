"""The clerk's actions on the block, one function each, and `clerk_action` naming them for the sale socket."""

from __future__ import annotations

import structlog
from django.db import transaction

from auctions.exceptions import Forbidden, InvalidBid, LotNotOpen, TooLow
from auctions.live_rules import absentee_opening
from auctions.models import Lot, Sale
from auctions.services import checked_reason
from bidding import live_console, live_payloads
from bidding.locks import lot_lock
from bidding.models import Bid
from bidding.services.live.block import (
    BIDDING_STATES,
    absentee_bid,
    announce,
    answer_with_absentee,
    bid_event,
    check_amount,
    check_clerk,
    check_running,
    current_lot_id,
    increments_of,
    locked,
    next_ask,
    on_block,
    outbid_notice,
    take_internet_bid,
    won_notices,
    write_bid,
)
from bidding.services.live.finish import finish_sale

log = structlog.get_logger(__name__)

MESSAGE_MAX_CHARS = Sale.PAUSE_MESSAGE_MAX_CHARS


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
    return handler(user=user, sale_id=sale_id, **args)


def start_sale(*, user, sale_id: int, **_) -> dict:
    """scheduled → running, with the first waiting lot put on the block (not yet offered)."""
    with transaction.atomic():
        sale = locked(sale_id, None).sale
        check_clerk(user, sale)
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
    lot_id = lot_id or current_lot_id(sale_id)
    if lot_id is None:
        raise LotNotOpen("There is no lot on the block.", reason="no_lot")
    with lot_lock(lot_id), transaction.atomic():
        block = locked(sale_id, lot_id)
        check_clerk(user, block.sale)
        on_block(block.sale, block.lot, lot_id)
        if running:
            check_running(block.sale)
        decide(block)
        block.write()
    return live_payloads.clerk_reply(block.lot)


def offer_lot(*, user, sale_id: int, **_) -> dict:
    """waiting → open: the ask starts at the start price, or where the absentee bids open the lot."""

    def decide(block):
        lot = block.lot
        if lot.live_state != Lot.LiveState.WAITING:
            raise InvalidBid("This lot has already been offered.", field="action")
        lot.live_state, lot.status = Lot.LiveState.OPEN, Lot.Status.OPEN
        announce(block, "offered")
        if lot.high_bid_amount is None:
            maxima = [(bid, bid.max_amount) for bid in block.absentees]
            opening = absentee_opening(lot.starting_price, maxima, increments_of(lot))
            if opening is not None:
                amount, absentee = opening
                absentee_bid(block, absentee, amount)

    return _block_action(user, sale_id, decide)


def set_increment(*, user, sale_id: int, increment: object = None, **_) -> dict:
    """A flat increment, kept until changed (None: back to the site table); the ask follows at once."""
    increment = None if increment is None else check_amount(increment, "increment")

    def decide(block):
        block.lot.live_increment = increment
        announce(block, "ask")

    return _block_action(user, sale_id, decide)


def set_ask(*, user, sale_id: int, ask: object = None, **_) -> dict:
    """The clerk types an ask: above the standing bid (or at least the start price), until the next bid."""
    ask = check_amount(ask, "ask")

    def decide(block):
        lot = block.lot
        if lot.live_state not in BIDDING_STATES:
            raise LotNotOpen("The lot is not open.", reason=lot.live_state)
        floor = lot.starting_price if lot.high_bid_amount is None else lot.high_bid_amount + 1
        if ask < floor:
            raise TooLow("The ask must be above the standing bid.", min_next_bid=floor)
        lot.live_ask = ask  # until the next bid recomputes it
        announce(block, "ask", keep_ask=True)

    return _block_action(user, sale_id, decide)


def floor_bid(*, user, sale_id: int, paddle: object = None, amount: object = None, **_) -> dict:
    """A room bid at the ask, tapped by the clerk. Before an Accept it takes the ask from a waiting internet bid.
    With `amount` (the ask the console showed), it is refused `too_low` with the new ask if the ask has moved
    meanwhile, as an internet bid would be: the room bid what the auctioneer asked, not the next step."""
    if paddle is not None:
        paddle = check_amount(paddle, "paddle")
    if amount is not None:
        amount = check_amount(amount, "amount")

    def decide(block):
        lot, now = block.lot, block.now
        if lot.live_state not in BIDDING_STATES:
            raise LotNotOpen("The lot is not open.", reason=lot.live_state)
        previous, ask = lot.high_bidder_id, lot.live_ask or next_ask(lot)
        if amount is not None and amount != ask:
            raise TooLow("The ask has moved.", min_next_bid=ask, ask=ask)
        waiting = lot.live_pending
        lot.live_pending = None
        bid = write_bid(block, source=Bid.Source.FLOOR, amount=ask, paddle=paddle)
        notices = outbid_notice(lot, previous, now)
        if waiting:
            notices.append((waiting["user"], live_payloads.bid_taken_by_another(lot, now=now)))
        bid_event(block, bid, notify=notices)
        answer_with_absentee(block)

    return _block_action(user, sale_id, decide)


def accept(*, user, sale_id: int, **_) -> dict:
    """Take the internet bid waiting at the ask (a sale without auto-accept)."""

    def decide(block):
        lot = block.lot
        waiting = lot.live_pending
        if not waiting:
            raise InvalidBid("No internet bid is waiting.", field="action")
        if lot.live_state not in BIDDING_STATES:
            raise LotNotOpen("The lot is not open.", reason=lot.live_state)
        lot.live_pending = None
        bid = take_internet_bid(block, waiting)
        # Its bidder heard only "waiting": this is how their page learns the bid was taken, and their alias.
        block.notify([(waiting["user"], live_payloads.live_bid_accepted(bid, lot, duplicate=False))])

    return _block_action(user, sale_id, decide)


def fair_warning(*, user, sale_id: int, **_) -> dict:
    def decide(block):
        lot = block.lot
        if lot.live_state != Lot.LiveState.OPEN:
            raise LotNotOpen("The lot is not open.", reason=lot.live_state)
        lot.live_state = Lot.LiveState.FAIR_WARNING
        announce(block, "fair_warning")

    return _block_action(user, sale_id, decide)


def sold(*, user, sale_id: int, **_) -> dict:
    """The hammer: the server's time now, stored; the leader wins at the standing bid."""

    def decide(block):
        lot, now = block.lot, block.now
        if lot.live_state not in BIDDING_STATES:
            raise LotNotOpen("The lot is not open.", reason=lot.live_state)
        if lot.high_bid_amount is None:
            raise InvalidBid("Nobody has bid: pass the lot.", field="action")
        lot.live_state, lot.status = Lot.LiveState.SOLD, Lot.Status.CLOSED
        lot.hammer_at = lot.closed_at = now
        lot.winner_id = lot.high_bidder_id
        announce(block, "sold")

    return _block_action(user, sale_id, decide)


def pass_lot(*, user, sale_id: int, **_) -> dict:
    def decide(block):
        lot, now = block.lot, block.now
        if lot.live_state not in BIDDING_STATES:
            raise LotNotOpen("The lot is not open.", reason=lot.live_state)
        lot.live_state, lot.status = Lot.LiveState.PASSED, Lot.Status.CLOSED
        lot.hammer_at = lot.closed_at = now
        lot.winner_id = None
        announce(block, "passed")

    return _block_action(user, sale_id, decide)


def reopen(*, user, sale_id: int, lot_id: object = None, reason: object = "", **_) -> dict:
    """Sold or passed → open again: the clerk's while the lot is still on the block; after the clerk moved on,
    staff's only, with a reason (logged), and the lot goes back on the block (the lot on it must be sold, passed or
    not yet offered), its former buyer told that the win no longer stands."""
    current = current_lot_id(sale_id)
    target = current if lot_id is None else lot_id
    if isinstance(target, bool) or not isinstance(target, int):
        raise InvalidBid("Which lot?", field="lot_id")
    moved_on = target != current
    if moved_on:
        if user is None or not user.is_authenticated or not user.is_staff:
            raise Forbidden("After moving on, only staff may reopen a lot.", reason="moved_on")
        reason = checked_reason(reason)

    def decide(block):
        lot = block.lot
        if lot.live_state not in (Lot.LiveState.SOLD, Lot.LiveState.PASSED):
            raise InvalidBid("Only a sold or passed lot can be reopened.", field="action")
        lot.live_state, lot.status = Lot.LiveState.OPEN, Lot.Status.OPEN
        lot.hammer_at = lot.closed_at = None
        lot.winner_id = None
        announce(block, "reopened", reason=reason or None)

    if not moved_on:
        return _block_action(user, sale_id, decide, running=False)
    if current is not None:
        _check_settled(user, sale_id, current)
    with lot_lock(target), transaction.atomic():
        block = locked(sale_id, target)
        sale, lot = block.sale, block.lot
        check_clerk(user, sale)
        if lot is None:
            raise InvalidBid("That lot is not in this sale.", field="lot_id")
        buyer = lot.winner_id if lot.live_state == Lot.LiveState.SOLD else None
        decide(block)
        # Back on the block: a lot open anywhere else could take no bid, and the sale could never finish.
        sale.current_lot = lot
        sale.save(update_fields=["current_lot"])
        if buyer is not None:
            block.notify([(buyer, live_payloads.win_withdrawn(sale, lot, reason=reason, now=block.now))])
        announce(block, "on_block", previous_lot=current)
        block.write()
    if current is not None:
        _moved_on(sale_id, current, target)
    log.warning("live_lot_reopened_by_staff", sale_id=sale_id, lot_id=target, user_id=user.pk, reason=reason)
    return live_payloads.clerk_reply(lot)


def _check_settled(user, sale_id: int, lot_id: int) -> None:
    """The block moves only once the lot on it is settled (sold or passed) or was never offered."""
    with lot_lock(lot_id), transaction.atomic():
        block = locked(sale_id, lot_id)
        check_clerk(user, block.sale)
        if block.lot is not None and block.lot.live_state in BIDDING_STATES:
            raise InvalidBid("Sell or pass the lot on the block first.", field="action")


def jump_to_lot(*, user, sale_id: int, lot_id: object = None, **_) -> dict:
    """Put a lot on the block: the next waiting one (no lot_id), any waiting one, or a passed one re-offered."""
    if lot_id is not None and (isinstance(lot_id, bool) or not isinstance(lot_id, int)):
        raise InvalidBid("Which lot?", field="lot_id")
    current = current_lot_id(sale_id)
    if current is not None:
        _check_settled(user, sale_id, current)
    if lot_id is None:
        after = Lot.objects.filter(pk=current).values_list("sale_position", flat=True).first() or 0
        waiting = Lot.objects.filter(sale_id=sale_id, live_state=Lot.LiveState.WAITING)
        nxt = waiting.filter(sale_position__gt=after).order_by("sale_position").first()
        nxt = nxt or waiting.order_by("sale_position").first()
        if nxt is None:
            raise InvalidBid("No lot is waiting.", field="lot_id")
        lot_id = nxt.pk
    with lot_lock(lot_id), transaction.atomic():
        block = locked(sale_id, lot_id)
        sale, lot = block.sale, block.lot
        check_clerk(user, sale)
        if sale.status == Sale.Status.SCHEDULED:
            raise LotNotOpen("The sale has not started.", reason="not_running")
        if lot is None:
            raise InvalidBid("That lot is not in this sale.", field="lot_id")
        if lot.live_state not in (Lot.LiveState.WAITING, Lot.LiveState.PASSED):
            raise InvalidBid("Only a waiting or passed lot can go on the block.", field="lot_id")
        if lot.live_state == Lot.LiveState.PASSED:
            lot.live_state, lot.status = Lot.LiveState.WAITING, Lot.Status.SCHEDULED
            lot.hammer_at = lot.closed_at = None
        sale.current_lot = lot
        sale.save(update_fields=["current_lot"])
        announce(block, "on_block", previous_lot=current)
        block.write()
    if current is not None and current != lot_id:
        _moved_on(sale_id, current, lot_id)
    return live_payloads.clerk_reply(lot)


def _moved_on(sale_id: int, previous: int, new: int) -> None:
    """Tell whoever follows the previous lot that the block moved (their socket follows the new one)."""
    with lot_lock(previous), transaction.atomic():
        block = locked(sale_id, previous, finished_ok=True)
        sale, lot, now = block.sale, block.lot, block.now
        if lot is not None:
            lot.seq += 1
            block.record(live_payloads.moved_on(lot, next_lot=new, now=now), notify=won_notices(sale, lot, now))
            block.write()


def undo(*, user, sale_id: int, **_) -> dict:
    """Withdraw the last standing bid: the price and the leader go back to the bid before it; its bidder is told."""

    def decide(block):
        lot, now = block.lot, block.now
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
        announce(block, "undone", notify=told, withdrawn_seq=last.seq)

    return _block_action(user, sale_id, decide)


def pause(*, user, sale_id: int, message: object = "", **_) -> dict:
    message = _check_message(message, required=False)

    def decide(block):
        sale = block.sale
        sale.status, sale.pause_message = Sale.Status.PAUSED, message
        sale.save(update_fields=["status", "pause_message"])
        announce(block, "paused", message=message)

    return _block_action(user, sale_id, decide)


def resume(*, user, sale_id: int, **_) -> dict:
    def decide(block):
        sale = block.sale
        if sale.status != Sale.Status.PAUSED:
            raise InvalidBid("The sale is not paused.", field="action")
        sale.status, sale.pause_message = Sale.Status.RUNNING, ""
        sale.save(update_fields=["status", "pause_message"])
        announce(block, "resumed")

    return _block_action(user, sale_id, decide, running=False)


def message(*, user, sale_id: int, text: object = "", **_) -> dict:
    text = _check_message(text, required=True)

    def decide(block):
        announce(block, "message", message=text)

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
    "finish": finish_sale,
}
