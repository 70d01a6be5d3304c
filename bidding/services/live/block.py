"""The lot on the block, read and written under the caller's lot lock and transaction: the ask, bid rows,
sequenced events and the clerk's view, absentee answers. Shared by the clerk's actions and internet bids."""

from __future__ import annotations

import copy
from datetime import datetime

from django.utils import timezone

from auctions import lot_events
from auctions.exceptions import Forbidden, InvalidBid, LotClosed, LotNotOpen, NotAuthenticated
from auctions.live_rules import absentee_answer, absentee_leader
from auctions.models import AbsenteeBid, Lot, Sale
from auctions.payloads import Payload, encode
from auctions.rules import SITE_INCREMENTS, Increments, fixed_increment, increment_for
from auctions.sales import SaleNotFound, may_clerk
from bidding import live_payloads, statements
from bidding.models import Bid
from bidding.statements.block import LockedBlock

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


class Block:
    """The sale and the lot on the block as one decision sees them: read once under their row locks, with what the
    decision reads of them (bidding/statements/block.py), changed in memory, and written once, in one statement,
    when the decision ends (`write`, inside the same transaction). Its events and notices leave after commit."""

    def __init__(self, read: LockedBlock, now: datetime) -> None:
        self.sale, self.lot, self.now = read.sale, read.lot, now
        self.clerk_ids = {read.sale.house_id, *read.clerk_ids}
        self.bidders, self.numbers, self.earlier = read.bidders, read.numbers, read.earlier
        self.absentees = read.absentees
        self.bids: list[Bid] = []
        self.events: list[tuple[int, str]] = []  # (seq, encoded event), stored and broadcast
        self.notices: list[tuple[int, Payload]] = []  # personal, stored (ws/me/ replays them)
        self.told: list[tuple[int, Payload]] = []  # personal, not stored: the clerks' views, missed bids
        self._as_read = _lot_state(self.lot)

    def record(self, payload: Payload, *, notify=()) -> None:
        """A sequenced event of the lot (stored, public) and the personal notices it causes."""
        self.events.append((payload["seq"], encode(payload)))
        self.notify(notify)

    def notify(self, notify) -> None:
        # A copy each: one payload told to many gets one stored id per user.
        self.notices.extend((user_id, dict(payload)) for user_id, payload in notify)

    def tell_clerks(self, payload: Payload) -> None:
        self.told.extend((user_id, payload) for user_id in clerk_ids(self))

    def write(self) -> None:
        """Write what the decision changed, in the caller's transaction; it is sent once that commits."""
        lot = self.lot
        if lot is None:
            if self.notices or self.told:
                lot_events.notify_on_commit(self.notices)
                lot_events.notify_on_commit(self.told, stored=False)
            return
        now_state = _lot_state(lot)
        changed = [name for name, value in now_state.items() if value != self._as_read[name]]
        statements.write_block(
            lot=lot, changed=changed, bids=self.bids, events=self.events, notices=self.notices, now=self.now
        )
        if self.events or self.notices or self.told:
            # The clerks' views first: the console is what the room waits on.
            lot_events.broadcast_all_on_commit(lot.pk, self.events, notify=[*self.told, *self.notices])
        self._as_read, self.bids, self.events, self.notices, self.told = now_state, [], [], [], []


def _lot_state(lot: Lot | None) -> dict[str, object]:
    if lot is None:
        return {}
    state = {name: getattr(lot, name) for name in _LOT_FIELDS}
    for name in _LOT_JSON:  # compared by value later, whatever changes it in place meanwhile
        state[name] = copy.deepcopy(state[name])
    return state


_LOT_FIELDS = [f.attname for f in Lot._meta.concrete_fields if not f.primary_key]
_LOT_JSON = [f.attname for f in Lot._meta.concrete_fields if f.get_internal_type() == "JSONField"]


def locked(
    sale_id: int,
    lot_id: int | None,
    *,
    finished_ok: bool = False,
    bidders: set[int] = frozenset(),
    retries: list[tuple[int, str]] = (),
) -> Block:
    """The sale and the lot, row-locked in that order (inside the caller's transaction and lot lock), with what a
    decision reads of them (`bidders`' registrations and flags, the bids `retries` retry). A finished sale takes no
    more bids and no more clerk's actions: `closed` (`reason` `sale_finished`)."""
    read = statements.lock_block(sale_id, lot_id, bidders=bidders, retries=retries)
    if read is None:
        raise SaleNotFound()
    if read.sale.status == Sale.Status.FINISHED and not finished_ok:
        raise LotClosed("The sale has finished.", reason="sale_finished")
    return Block(read, timezone.now())


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


def clerk_ids(block: Block) -> set[int]:
    """Who hears the clerk's view: the house, its clerks, and whoever drives (staff may)."""
    return block.clerk_ids | ({block.sale.driver_id} - {None})


def leader_number(block: Block) -> int | None:
    """The leading bidder's number on the lot (their alias); None for the room or without a bid."""
    lot = block.lot
    if lot.high_bid_amount is None or lot.high_bidder_id is None:
        return None
    return block.numbers.get(lot.high_bidder_id)


# --- writing the block ------------------------------------------------------------------------------------------
def announce(block: Block, kind: str, *, notify=(), keep_ask: bool = False, **more) -> Payload:
    """One sequenced event of the lot on the block (public), and its clerk view to the sale's clerks (not stored).
    The ask follows the standing bid, unless the clerk has just typed one (`keep_ask`). An internet bid waiting for
    Accept at an amount that is no longer the ask (a new ask, an undo, the hammer, a pause) is dropped and its
    bidder told: an Accept never takes a bid at an amount that is not asked."""
    sale, lot, now = block.sale, block.lot, block.now
    lot.seq += 1
    if not keep_ask:
        lot.live_ask = next_ask(lot) if lot.live_state in (*BIDDING_STATES, Lot.LiveState.WAITING) else None
    waiting = lot.live_pending
    if waiting and (waiting["amount"] != lot.live_ask or kind == "paused"):
        lot.live_pending = None
        notify = [*notify, (waiting["user"], live_payloads.bid_taken_by_another(lot, now=now))]
    payload = live_payloads.block_event(sale, lot, kind, now=now, leader_number=leader_number(block), **more)
    block.record(payload, notify=notify)
    block.tell_clerks(live_payloads.clerk_view(sale, lot, now=now))
    return payload


def write_bid(block: Block, *, source: str, amount: int, bidder_id=None, paddle=None, **fields) -> Bid:
    lot = block.lot
    number = 0
    if bidder_id is not None:
        number = block.numbers.get(bidder_id) or 0
        if not number:
            lot.bidder_count += 1
            number = block.numbers[bidder_id] = lot.bidder_count
    lot.seq += 1
    lot.bid_count += 1
    lot.high_bid_amount, lot.high_bidder_id = amount, bidder_id
    lot.live_leader_source, lot.live_leader_paddle = source, paddle
    if lot.live_state == Lot.LiveState.FAIR_WARNING:
        lot.live_state = Lot.LiveState.OPEN  # a new bid ends the fair warning
    bid = Bid(
        lot_id=lot.pk,
        bidder_id=bidder_id,
        source=source,
        paddle=paddle,
        amount=amount,
        seq=lot.seq,
        bidder_number=number,
        created_at=block.now,
        **fields,
    )
    block.bids.append(bid)
    return bid


def bid_event(block: Block, bid: Bid, *, notify=()) -> None:
    sale, lot, now = block.sale, block.lot, block.now
    lot.live_ask = next_ask(lot)
    block.record(live_payloads.live_bid_event(sale, lot, bid, now=now), notify=notify)
    block.tell_clerks(live_payloads.clerk_view(sale, lot, now=now, bid=bid))


def answer_with_absentee(block: Block) -> None:
    """After a competing bid, the leading absentee maximum answers one increment up while it allows."""
    lot = block.lot
    leader = absentee_leader([(bid, bid.max_amount) for bid in block.absentees])
    if leader is None:
        return
    absentee, maximum = leader
    if lot.high_bidder_id == absentee.registration.user_id:  # never against its own bidder, however they bid
        return
    answer = absentee_answer(lot.high_bid_amount, maximum, increments_of(lot))
    if answer is None:
        return
    absentee_bid(block, absentee, answer)


def absentee_bid(block: Block, absentee: AbsenteeBid, amount: int) -> None:
    """An absentee maximum bids `amount` for its bidder: its own row (source absentee) and event."""
    registration = absentee.registration
    bid = write_bid(
        block,
        source=Bid.Source.ABSENTEE,
        amount=amount,
        bidder_id=registration.user_id,
        paddle=registration.paddle,
        kind=Bid.Kind.AUTOMATIC,
    )
    bid_event(block, bid)


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


def take_internet_bid(block: Block, waiting: dict) -> Bid:
    lot = block.lot
    previous = lot.high_bidder_id
    bid = write_bid(
        block,
        source=Bid.Source.INTERNET,
        amount=waiting["amount"],
        bidder_id=waiting["user"],
        paddle=waiting["paddle"],
        bid_id=waiting["bid_id"],
        requested_amount=waiting["amount"],
        received_at=datetime.fromisoformat(waiting["received_at"]),
    )
    bid_event(block, bid, notify=outbid_notice(lot, previous, block.now))
    answer_with_absentee(block)
    return bid
