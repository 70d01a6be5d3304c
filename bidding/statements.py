"""The bid path's hand-written statements: its pre-check read, its decision's locked read and its decision's writes,
one round trip each.

The ORM costs about 0.5 ms of Python per query on the target machine (docs/performance.md), and a bid made
eight of them; the hot lot is CPU-bound on exactly that. Everything else stays in the ORM. Column and table names
come from the models, so a renamed field fails loudly here rather than silently elsewhere.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Profile
from auctions.models import Lot, LotEvent
from bidding.models import Bid

LOT = Lot._meta.db_table
PROFILE = Profile._meta.db_table
BID = Bid._meta.db_table
EVENT = LotEvent._meta.db_table


@dataclass(frozen=True)
class Precheck:
    """What the checks before the lock need, read in one statement."""

    lot: Lot | None  # unsaved-looking instance holding just the fields the checks read
    can_bid: bool
    banned: bool
    earlier: tuple | None  # this bid_id's earlier row, if used: see bidding.services.EarlierRow


_PRECHECK_SQL = f"""
SELECT l.id, l.seller_id, l.status, l.starts_at, l.ends_at, l.starting_price, l.high_bid_amount,
       p.can_bid, p.banned,
       e.lot_id, COALESCE(e.requested_amount, e.amount), e.max_amount, e.amount, e.seq, el.ends_at, e.outbid_at_once
FROM (SELECT 1) AS one
LEFT JOIN {LOT} l ON l.id = %(lot_id)s
LEFT JOIN {PROFILE} p ON p.user_id = %(user_id)s
LEFT JOIN {BID} e ON e.bidder_id = %(user_id)s AND e.bid_id = %(bid_id)s
LEFT JOIN {LOT} el ON el.id = e.lot_id
"""


def read_precheck(*, lot_id: int, user_id: int, bid_id: str) -> Precheck:
    with connection.cursor() as cursor:
        cursor.execute(_PRECHECK_SQL, {"lot_id": lot_id, "user_id": user_id, "bid_id": bid_id})
        (pk, seller_id, status, starts_at, ends_at, starting_price, high_bid, can_bid, banned,
         *earlier_row) = cursor.fetchone()
    lot = None
    if pk is not None:
        lot = Lot(pk=pk, seller_id=seller_id, status=status, starts_at=_aware(starts_at), ends_at=_aware(ends_at),
                  starting_price=starting_price, high_bid_amount=high_bid)
    earlier = None
    if earlier_row[0] is not None:
        earlier_row[5] = _aware(earlier_row[5])
        earlier = tuple(earlier_row)
    return Precheck(lot=lot, can_bid=bool(can_bid), banned=bool(banned), earlier=earlier)


_LOCKED_READ_SQL = f"""
SELECT l.*,
       (SELECT b.bidder_number FROM {BID} b WHERE b.lot_id = l.id AND b.bidder_id = %(user_id)s LIMIT 1)
           AS your_number,
       (SELECT b.bidder_number FROM {BID} b WHERE b.lot_id = l.id AND b.bidder_id = l.high_bidder_id LIMIT 1)
           AS leader_number
FROM {LOT} l WHERE l.id = %(lot_id)s
"""


def lock_lot_for_decision(*, lot_id: int, user_id: int) -> Lot:
    """The lot under its row lock, with the alias numbers of this bidder and of the leader (None: not bid yet).

    The row lock, not the Redis lock, is what keeps a decision right: a Redis lock that expired mid-decision lets a
    second decider in, and this read makes it wait for the first to commit. Built by hand because the ORM's
    compilation of this query was the largest single cost in a hot lot's critical section (docs/performance.md).
    """
    sql = _LOCKED_READ_SQL + (" FOR UPDATE OF l" if connection.vendor == "postgresql" else "")
    for lot in Lot.objects.raw(sql, {"lot_id": lot_id, "user_id": user_id}):
        return lot
    raise Lot.DoesNotExist(f"lot {lot_id}")


_WRITE_SQL = f"""
WITH lot_update AS (
    UPDATE {LOT} SET seq = %(seq)s, bid_count = %(bid_count)s, bidder_count = %(bidder_count)s,
        high_bid_amount = %(high_bid)s, high_bidder_id = %(high_bidder)s, leader_max_amount = %(leader_max)s,
        ends_at = %(ends_at)s, status = %(status)s
    WHERE id = %(lot_id)s
), new_bid AS (
    INSERT INTO {BID} (lot_id, bidder_id, amount, bid_id, seq, bidder_number, created_at, kind, requested_amount,
                       max_amount, outbid_at_once)
    VALUES (%(lot_id)s, %(bidder_id)s, %(amount)s, %(bid_id)s, %(seq)s, %(bidder_number)s, %(created_at)s,
            %(kind)s, %(requested_amount)s, %(max_amount)s, %(outbid_at_once)s)
)
INSERT INTO {EVENT} (lot_id, seq, payload, created_at) VALUES (%(lot_id)s, %(seq)s, %(payload)s::jsonb, %(now)s)
"""

_LOT_STATE = ("seq", "bid_count", "bidder_count", "high_bid_amount", "high_bidder_id", "leader_max_amount", "ends_at",
              "status")


def write_decision(*, lot: Lot, bids: list[Bid], event_texts: list[str], now: datetime) -> None:
    """The lot's new state, its new bids and their events. Expects the row lock held (FOR UPDATE).

    The common case, one bid, is one statement; a decision with automatic answers, or the laptop default (SQLite
    has no data-modifying CTEs; it serves one process and no race), takes a few ORM statements in the caller's
    transaction instead.
    """
    if connection.vendor == "postgresql" and len(bids) == 1:
        bid = bids[0]
        with connection.cursor() as cursor:
            cursor.execute(_WRITE_SQL, {
                "lot_id": lot.pk, "seq": lot.seq, "bid_count": lot.bid_count, "bidder_count": lot.bidder_count,
                "high_bid": lot.high_bid_amount, "high_bidder": lot.high_bidder_id,
                "leader_max": lot.leader_max_amount, "ends_at": lot.ends_at, "status": lot.status,
                "bidder_id": bid.bidder_id, "amount": bid.amount, "bid_id": bid.bid_id,
                "bidder_number": bid.bidder_number, "created_at": bid.created_at, "kind": bid.kind,
                "requested_amount": bid.requested_amount, "max_amount": bid.max_amount,
                "outbid_at_once": bid.outbid_at_once, "payload": event_texts[0], "now": now,
            })
        return
    Lot.objects.filter(pk=lot.pk).update(**{name: getattr(lot, name) for name in _LOT_STATE})
    Bid.objects.bulk_create(bids)
    LotEvent.objects.bulk_create(
        [LotEvent(lot_id=lot.pk, seq=bid.seq, payload=json.loads(text)) for bid, text in zip(bids, event_texts)]
    )


def _aware(value: datetime | str | None) -> datetime | None:
    # A raw cursor skips the ORM's converters: SQLite hands back text and naive times (PostgreSQL aware ones).
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else timezone.make_aware(value, dt_timezone.utc)
