"""Replaying a live lot's log from scratch (verify_lot): its sequenced events and bid rows, in order, must
reproduce every stored bid and the lot's stored state (docs/live-sales.md "verify_lot").

The events say what the clerk did (offered, the ask typed or the increment set, fair warning, sold, passed,
reopened, undone, moved on); the bid rows say who bid. The replay checks each room or internet bid was taken at the
ask then standing, each absentee bid is the opening or the answer the absentee rules give (auctions/live_rules.py),
each undo withdrew the last standing bid, and the sold lot went to the leader at the hammer.
"""

from __future__ import annotations

from datetime import datetime

from auctions.live_rules import absentee_answer, absentee_opening
from auctions.models import AbsenteeBid, Lot, LotEvent
from auctions.rules import SITE_INCREMENTS, fixed_increment
from bidding.models import Bid


def verify_live_lot(lot: Lot) -> list[str]:
    problems: list[str] = []
    bids = {bid.seq: bid for bid in Bid.objects.filter(lot=lot)}
    events = list(LotEvent.objects.filter(lot=lot).order_by("seq").values_list("seq", "payload"))
    maxima = [
        (absentee.registration.user_id, absentee.max_amount)
        for absentee in AbsenteeBid.objects.filter(lot=lot).select_related("registration").order_by("placed_at", "pk")
    ]
    standing: list[Bid] = []
    ask, increment = lot.starting_price, None
    state, winner, hammer = "waiting", None, None
    bidders: set[int] = set()
    expected_seq = 0
    for seq, payload in events:
        expected_seq += 1
        if seq != expected_seq:
            problems.append(f"event seq {seq}: expected {expected_seq}")
            expected_seq = seq
        event = payload.get("event")
        schedule = fixed_increment(increment) if increment else SITE_INCREMENTS
        if event == "bid":
            bid = bids.pop(seq, None)
            if bid is None:
                problems.append(f"seq {seq}: a bid event without its bid row")
                continue
            if bid.source == Bid.Source.ABSENTEE:
                if not standing:
                    opening = absentee_opening(lot.starting_price, maxima, schedule)
                    if opening != (bid.amount, bid.bidder_id):
                        problems.append(f"seq {seq}: absentee opening {bid.amount}, replay gives {opening}")
                else:
                    leader_max = dict(maxima).get(bid.bidder_id)
                    answer = None if leader_max is None else absentee_answer(standing[-1].amount, leader_max, schedule)
                    if answer != bid.amount:
                        problems.append(f"seq {seq}: absentee answer {bid.amount}, replay gives {answer}")
            elif bid.amount != ask:
                problems.append(f"seq {seq}: {bid.source} bid of {bid.amount} taken while the ask was {ask}")
            if state not in ("open", "fair_warning"):
                problems.append(f"seq {seq}: a bid while the lot was {state}")
            state = "open"
            standing.append(bid)
            if bid.bidder_id is not None:
                bidders.add(bid.bidder_id)
        elif event == "undone":
            if not standing or standing[-1].seq != payload.get("withdrawn_seq"):
                problems.append(f"seq {seq}: undo of seq {payload.get('withdrawn_seq')}, not the last standing bid")
            else:
                withdrawn = standing.pop()
                if withdrawn.withdrawn_at is None:
                    problems.append(f"seq {seq}: the undone bid (seq {withdrawn.seq}) is not marked withdrawn")
        elif event in ("offered", "reopened"):
            state, winner, hammer = "open", None, None
        elif event == "fair_warning":
            state = "fair_warning"
        elif event == "sold":
            if not standing:
                problems.append(f"seq {seq}: sold without a bid")
            state, winner = "sold", standing[-1].bidder_id if standing else None
            hammer = datetime.fromisoformat(payload["hammer_at"]) if payload.get("hammer_at") else None
        elif event == "passed":
            state, winner = "passed", None
            hammer = datetime.fromisoformat(payload["hammer_at"]) if payload.get("hammer_at") else None
        elif event == "on_block":
            if state == "passed":  # re-offered: waiting for the clerk again
                state, hammer = "waiting", None
        if event == "ask":
            increment = payload.get("increment")
        if "increment" in payload:
            increment = payload["increment"]
        if payload.get("ask") is not None:
            ask = payload["ask"]
        if event in ("bid", "undone"):  # the replay's own ask, checked against the event's
            schedule = fixed_increment(increment) if increment else SITE_INCREMENTS
            own = standing[-1].amount + schedule.at(standing[-1].amount) if standing else lot.starting_price
            if payload.get("ask") != own:
                problems.append(f"seq {seq}: the event's ask {payload.get('ask')}, replay gives {own}")
    for seq in sorted(bids):
        problems.append(f"bid seq {seq}: no bid event")
    for bid in Bid.objects.filter(lot=lot, withdrawn_at__isnull=False):
        if bid in standing:
            problems.append(f"bid seq {bid.seq}: withdrawn but never undone")
    leader = standing[-1] if standing else None
    replayed = {
        "seq": expected_seq,
        "high_bid_amount": leader.amount if leader else None,
        "high_bidder_id": leader.bidder_id if leader else None,
        "live_leader_source": leader.source if leader else "",
        "live_leader_paddle": leader.paddle if leader else None,
        "bid_count": len(standing),
        "live_state": state,
        "winner_id": winner,
        "hammer_at": hammer,
    }
    for field, value in replayed.items():
        stored = getattr(lot, field)
        if field == "hammer_at" and stored is not None:
            stored = stored.replace(microsecond=stored.microsecond // 1000 * 1000)
        if stored != value:
            problems.append(f"{field}: stored {stored!r}, replay gives {value!r}")
    return problems
