"""The lot on the block, read and written under the caller's lot lock and transaction: the ask, bid rows,
sequenced events and the clerk's view, absentee answers. Shared by the clerk's actions and internet bids."""

from __future__ import annotations

from datetime import datetime

from auctions import lot_events
from auctions.exceptions import Forbidden, InvalidBid, LotClosed, LotNotOpen, NotAuthenticated
from auctions.live_rules import absentee_answer, absentee_leader
from auctions.models import AbsenteeBid, Lot, Sale
from auctions.rules import SITE_INCREMENTS, Increments, fixed_increment, increment_for
from auctions.sales import SaleNotFound, may_clerk
from bidding import live_payloads
from bidding.live_selectors import leader_number
from bidding.models import Bid

BIDDING_STATES = (Lot.LiveState.OPEN, Lot.LiveState.FAIR_WARNING)


# --- reading the block ------------------------------------------------------------------------------------------
def increments_of(lot: Lot) -> Increments:
    """The clerk's flat increment, kept until changed; the site table until the clerk sets one."""
    return fixed_increment(lot.live_increment) if lot.live_increment else SITE_INCREMENTS


def next_ask(lot: Lot) -> int:
    if lot.high_bid_amount is None:
        return lot.starting_price
    return lot.high_bid_amount + increment_for(lot.high_bid_amount, increments_of(lot))


def current_lot_id(sale_id: int) -> int | None:
    found = Sale.objects.filter(pk=sale_id).values_list("pk", "current_lot_id").first()
    if found is None:
        raise SaleNotFound()
    return found[1]


def locked(sale_id: int, lot_id: int | None, *, finished_ok: bool = False) -> tuple[Sale, Lot | None]:
    """The sale and the lot, row-locked in that order (inside the caller's transaction and lot lock). A finished
    sale takes no more bids and no more clerk's actions: `closed` (`reason` `sale_finished`)."""
    sale = Sale.objects.select_for_update().filter(pk=sale_id).first()
    if sale is None:
        raise SaleNotFound()
    if sale.status == Sale.Status.FINISHED and not finished_ok:
        raise LotClosed("The sale has finished.", reason="sale_finished")
    lot = Lot.objects.select_for_update().filter(pk=lot_id, sale_id=sale_id).first() if lot_id else None
    return sale, lot


def on_block(sale: Sale, lot: Lot | None, expected_lot_id: int | None) -> Lot:
    if lot is None or sale.current_lot_id != expected_lot_id:
        raise LotNotOpen("There is no lot on the block.", reason="no_lot")
    return lot


def check_clerk(user, sale: Sale) -> None:
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    if not may_clerk(user, sale):
        raise Forbidden("Only the sale's clerks drive it.", reason="not_clerk")


def check_running(sale: Sale) -> None:
    if sale.status == Sale.Status.PAUSED:
        raise LotNotOpen("The sale is paused.", reason="paused")
    if sale.status != Sale.Status.RUNNING:
        raise LotNotOpen("The sale is not running.", reason="not_running")


def clerk_ids(sale: Sale) -> set[int]:
    """Who hears the clerk's view: the house, its clerks, and whoever drives (staff may). Read once per locked
    sale row: a group of bids decided together tells the same clerks."""
    clerks = getattr(sale, "_clerk_ids", None)
    if clerks is None:
        clerks = sale._clerk_ids = set(sale.clerks.values_list("pk", flat=True))
    return {sale.house_id, *clerks} | ({sale.driver_id} - {None})


# --- writing the block ------------------------------------------------------------------------------------------
def announce(sale: Sale, lot: Lot, kind: str, now: datetime, *, notify=(), keep_ask: bool = False, **more):
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
    lot_events.notify_on_commit([(uid, clerk) for uid in clerk_ids(sale)], stored=False)
    return payload


def write_bid(lot: Lot, *, source: str, amount: int, now: datetime, bidder_id=None, paddle=None, **fields) -> Bid:
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


def bid_event(sale: Sale, lot: Lot, bid: Bid, now: datetime, *, notify=()) -> None:
    lot.live_ask = next_ask(lot)
    lot.save()
    payload = live_payloads.live_bid_event(sale, lot, bid, now=now)
    lot_events.record_and_broadcast(lot, payload, notify=list(notify))
    clerk = live_payloads.clerk_view(sale, lot, now=now, bid=bid)
    lot_events.notify_on_commit([(uid, clerk) for uid in clerk_ids(sale)], stored=False)


def absentees(lot: Lot) -> list[tuple[AbsenteeBid, int]]:
    return [(bid, bid.max_amount) for bid in AbsenteeBid.objects.filter(lot=lot).order_by("placed_at", "pk")]


def answer_with_absentee(sale: Sale, lot: Lot, now: datetime) -> None:
    """After a competing bid, the leading absentee maximum answers one increment up while it allows."""
    leader = absentee_leader([(bid, maximum) for bid, maximum in absentees(lot)])
    if leader is None:
        return
    absentee, maximum = leader
    if lot.high_bidder_id == absentee.registration.user_id:  # never against its own bidder, however they bid
        return
    answer = absentee_answer(lot.high_bid_amount, maximum, increments_of(lot))
    if answer is None:
        return
    absentee_bid(sale, lot, absentee, answer, now)


def absentee_bid(sale: Sale, lot: Lot, absentee: AbsenteeBid, amount: int, now: datetime) -> None:
    """An absentee maximum bids `amount` for its bidder: its own row (source absentee) and event."""
    registration = absentee.registration
    bid = write_bid(
        lot,
        source=Bid.Source.ABSENTEE,
        amount=amount,
        now=now,
        bidder_id=registration.user_id,
        paddle=registration.paddle,
        kind=Bid.Kind.AUTOMATIC,
    )
    bid_event(sale, lot, bid, now)


def outbid_notice(lot: Lot, previous_bidder_id: int | None, now: datetime) -> list:
    if previous_bidder_id is None or previous_bidder_id == lot.high_bidder_id:
        return []
    return [(previous_bidder_id, live_payloads.live_outbid(lot, now=now))]


def won_notices(sale: Sale, lot: Lot, now: datetime) -> list:
    """The buyer's `won` notice for a sold lot leaving the block (a floor buyer has no user: none)."""
    if lot.live_state != Lot.LiveState.SOLD or lot.winner_id is None:
        return []
    return [(lot.winner_id, live_payloads.live_won(sale, lot, now=now))]


def check_amount(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 10**12:
        raise InvalidBid("A whole number of cents above 0.", field=field)
    return value


def take_internet_bid(sale: Sale, lot: Lot, waiting: dict, now: datetime) -> Bid:
    previous = lot.high_bidder_id
    bid = write_bid(
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
    bid_event(sale, lot, bid, now, notify=outbid_notice(lot, previous, now))
    answer_with_absentee(sale, lot, now)
    return bid
