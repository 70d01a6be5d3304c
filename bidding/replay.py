"""Replaying a lot's bid log from scratch: the audit behind `manage.py verify_lot` and every fault test.

The bid rows (and the log of maxima raised without a visible bid) are fed, decision by decision, to the same rule
function the live path uses (bidding/proxy.py), with the increment table and soft-close extensions; the result
must reproduce every stored row and the lot's stored state: high bid, bidder, hidden maximum, sequence number,
end time (soft-close extensions, and staff and outage extensions read from their `extended` events; an outage's
also moves the hard end), events and winner.
Events that take a sequence number between bids without a bid row (`extended`, `opened`) are counted in order.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction

from auctions import rules
from auctions.exceptions import BidRefused
from auctions.models import Lot, LotEvent
from auctions.rules import min_next_bid
from bidding import proxy
from bidding.live_replay import verify_live_lot
from bidding.models import Bid, MaximumRaise


def hard_end_moved(event: dict) -> timedelta:
    """How far an `extended` event moved the lot's hard end: as far as the end after an outage, never for staff."""
    if event.get("type") != "extended" or event.get("cause") != "outage":
        return timedelta(0)
    return timedelta(microseconds=round(event["extended_by_seconds"] * 1_000_000))


def verify_lot(lot: Lot) -> list[str]:
    """Every way the stored lot differs from its replayed log (empty: consistent). `lot` is read again, and left
    as it stood when its log was read: the audit runs while bidding goes on, so the lot row, its bids, raises and
    events are read in one snapshot (a bid committed between two of the reads would be a false difference)."""
    # SET TRANSACTION must be the transaction's first statement: inside a caller's transaction (tests), the caller's
    # isolation holds. SET TRANSACTION lasts for this transaction only, so nothing stays on a pooled connection.
    snapshot = connection.vendor == "postgresql" and connection.get_autocommit()
    with transaction.atomic():
        if snapshot:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        lot.refresh_from_db()
        if lot.is_live:  # decided on the block, by the clerk and the absentee rules
            return verify_live_lot(lot)
        bids = list(Bid.objects.filter(lot=lot).order_by("seq"))
        raises = list(MaximumRaise.objects.filter(lot=lot).order_by("after_seq", "id"))
        events = list(LotEvent.objects.filter(lot=lot).order_by("seq").values_list("seq", "payload"))
    problems: list[str] = []
    # Staff extensions and openings take sequence numbers between bids. An extension before the first bid is
    # already in original_ends_at (the end as it stood at the first bid); after it, the event sets the end. An
    # opening changes nothing a bid reads, and comes before the first bid (a bid opens the lot itself).
    # An extension after an outage moves the hard end by as much as the end: the bids before it were decided
    # against the hard end as it stood then.
    extensions = [
        (
            s,
            datetime.fromisoformat(payload["ends_at"]) if payload.get("type") == "extended" else None,
            hard_end_moved(payload) if lot.hard_end_at is not None else timedelta(0),
        )
        for s, payload in events
        if payload.get("type") in ("extended", "opened")
    ]
    price = leader = leader_max = None
    ends = lot.original_ends_at
    hard = lot.hard_end_at - sum((moved for _, _, moved in extensions), timedelta(0)) if lot.hard_end_at else None
    seq = i = r = x = 0

    def apply_extensions() -> None:
        nonlocal x, seq, ends, hard
        while x < len(extensions) and extensions[x][0] == seq + 1:
            at_seq, new_end, moved = extensions[x]
            x += 1
            seq += 1
            if hard is not None:
                hard += moved
            if new_end is None:
                if bids and at_seq > bids[0].seq:
                    problems.append(f"seq {at_seq}: the lot opened after its first bid")
                continue
            if not bids or at_seq < bids[0].seq or ends is None:
                continue
            if new_end <= ends:
                problems.append(
                    f"seq {at_seq}: an extension to {new_end.isoformat()}, not after the end {ends.isoformat()}"
                )
            ends = new_end

    def apply_raises(upto: int) -> None:
        nonlocal r, leader_max
        while r < len(raises) and raises[r].after_seq <= upto:
            raise_ = raises[r]
            r += 1
            if raise_.bidder_id != leader:
                problems.append(f"maximum raised by user {raise_.bidder_id} at seq {raise_.after_seq}, not the leader")
                continue
            decision = proxy.resolve(
                price=price,
                leader_id=leader,
                leader_max=leader_max,
                bidder_id=leader,
                amount=min_next_bid(starting_price=lot.starting_price, high_bid=price),
                max_amount=raise_.max_amount,
                reserve=lot.reserve_price,
            )
            leader_max = decision.leader_max

    while i < len(bids):
        apply_extensions()
        apply_raises(seq)
        first = bids[i]
        if first.kind == Bid.Kind.BUY_NOW:
            if first.amount != lot.buy_now_price or price is not None:
                problems.append(f"seq {first.seq}: buy now at {first.amount} does not match the lot's offer")
            steps = [proxy.Step(first.bidder_id, first.amount, automatic=False, is_request=True)]
            price, leader, leader_max = first.amount, first.bidder_id, None
        else:
            request = next((b for b in bids[i : i + 2] if b.requested_amount is not None), None)
            if request is None:
                problems.append(f"seq {first.seq}: no client request among the rows of this decision")
                break
            minimum = min_next_bid(starting_price=lot.starting_price, high_bid=price)
            if request.requested_amount < minimum:
                problems.append(f"seq {request.seq}: {request.requested_amount} accepted below the minimum {minimum}")
            try:
                decision = proxy.resolve(
                    price=price,
                    leader_id=leader,
                    leader_max=leader_max,
                    bidder_id=request.bidder_id,
                    amount=request.requested_amount,
                    max_amount=request.max_amount,
                    reserve=lot.reserve_price,
                )
            except BidRefused as refusal:
                problems.append(f"seq {request.seq}: the rules refuse this bid ({refusal.code})")
                break
            steps = list(decision.steps)
            price, leader, leader_max = decision.price, decision.leader_id, decision.leader_max
        stored = bids[i : i + len(steps)]
        for offset, (step, row) in enumerate(zip(steps, stored, strict=False)):
            replayed = (
                seq + offset + 1,
                step.bidder_id,
                step.amount,
                step.outbid_at_once,
                Bid.Kind.BUY_NOW
                if first.kind == Bid.Kind.BUY_NOW
                else Bid.Kind.AUTOMATIC
                if step.automatic
                else Bid.Kind.MANUAL,
            )
            actual = (row.seq, row.bidder_id, row.amount, row.outbid_at_once, row.kind)
            if replayed != actual:
                problems.append(
                    f"seq {row.seq}: stored (seq, bidder, amount, outbid_at_once, kind) {actual}, replayed {replayed}"
                )
        if len(stored) != len(steps) or not steps:
            problems.append(f"seq {first.seq}: {len(stored)} rows stored, {len(steps)} replayed")
            break
        if ends is not None:
            # On time means received before the end; the soft close counts from when the bid was decided.
            received, at = first.received_at or first.created_at, first.created_at
            if received >= ends:
                problems.append(
                    f"seq {first.seq}: received at {received.isoformat()}, after the end {ends.isoformat()}"
                )
            # Buy now ends the lot at once: it never extends the end.
            if first.kind != Bid.Kind.BUY_NOW:
                new_end = rules.soft_close_end(
                    ends_at=ends,
                    decided_at=at,
                    window=lot.soft_close_window,
                    extension=lot.soft_close_extension,
                    hard_end=hard,
                )
                ends = new_end or ends
        seq += len(steps)
        i += len(steps)
    apply_extensions()
    apply_raises(seq)

    if lot.status in Lot.FINAL_STATUSES:
        leader_max = None  # spent at the close
    expected = {"high bid": price, "high bidder": leader, "hidden maximum": leader_max, "bid count": len(bids)}
    stored = {
        "high bid": lot.high_bid_amount,
        "high bidder": lot.high_bidder_id,
        "hidden maximum": lot.leader_max_amount,
        "bid count": lot.bid_count,
    }
    problems += [
        f"{name}: stored {stored[name]}, replayed {value}" for name, value in expected.items() if stored[name] != value
    ]
    if ends is not None and lot.ends_at != ends:
        problems.append(f"end time: stored {lot.ends_at.isoformat()}, replayed {ends.isoformat()}")

    if [s for s, _ in events] != list(range(1, lot.seq + 1)):
        problems.append(f"event sequence numbers are not 1..{lot.seq} without gaps")
    by_seq = dict(events)
    for bid in bids:
        event = by_seq.get(bid.seq) or {}
        if (event.get("type"), event.get("amount")) != ("high_bid", bid.amount):
            problems.append(f"seq {bid.seq}: the event does not announce this bid")
    endings = [payload for _, payload in events if payload.get("type") in ("closed", "cancelled")]
    if x != len(extensions):
        problems.append(f"seq {extensions[x][0]}: an extension or opening out of sequence")
    if lot.seq != len(bids) + len(extensions) + len(endings):
        problems.append(f"sequence: stored {lot.seq}, replayed {len(bids) + len(extensions) + len(endings)}")
    if len(endings) > 1:
        problems.append(f"{len(endings)} closing events (at most one)")
    if lot.status == Lot.Status.CLOSED:
        reserve_met = price is not None and (lot.reserve_price is None or price >= lot.reserve_price)
        winner = leader if reserve_met else None
        if lot.winner_id != winner:
            problems.append(f"winner: stored {lot.winner_id}, replayed {winner}")
        if not endings:
            problems.append("closed without a closing event")
    elif lot.winner_id is not None:
        problems.append("a winner on a lot that is not closed")
    return problems
