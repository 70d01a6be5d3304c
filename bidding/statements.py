"""The bid path's two hand-written statements: its pre-check read and its decision's writes, one round trip each.

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
    earlier: tuple[int, int, int, datetime] | None  # (lot_id, amount, seq, lot ends_at) of this bid_id, if used


_PRECHECK_SQL = f"""
SELECT l.id, l.seller_id, l.status, l.starts_at, l.ends_at, l.starting_price, l.high_bid_amount,
       p.can_bid, p.banned,
       e.lot_id, e.amount, e.seq, el.ends_at
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
         e_lot, e_amount, e_seq, e_ends_at) = cursor.fetchone()
    lot = None
    if pk is not None:
        lot = Lot(pk=pk, seller_id=seller_id, status=status, starts_at=_aware(starts_at), ends_at=_aware(ends_at),
                  starting_price=starting_price, high_bid_amount=high_bid)
    earlier = None if e_lot is None else (e_lot, e_amount, e_seq, _aware(e_ends_at))
    return Precheck(lot=lot, can_bid=bool(can_bid), banned=bool(banned), earlier=earlier)


_WRITE_SQL = f"""
WITH lot_update AS (
    UPDATE {LOT} SET seq = %(seq)s, bid_count = %(bid_count)s, bidder_count = %(bidder_count)s,
        high_bid_amount = %(amount)s, high_bidder_id = %(user_id)s, ends_at = %(ends_at)s, status = %(status)s
    WHERE id = %(lot_id)s
), new_bid AS (
    INSERT INTO {BID} (lot_id, bidder_id, amount, bid_id, seq, bidder_number, created_at)
    VALUES (%(lot_id)s, %(user_id)s, %(amount)s, %(bid_id)s, %(seq)s, %(number)s, %(now)s)
)
INSERT INTO {EVENT} (lot_id, seq, payload, created_at) VALUES (%(lot_id)s, %(seq)s, %(payload)s::jsonb, %(now)s)
"""


def write_bid(*, lot: Lot, user_id: int, amount: int, bid_id: str, number: int, now: datetime,
              event_text: str) -> None:
    """The lot's new state, the bid and its event, in one statement. Expects the row lock held (FOR UPDATE)."""
    if connection.vendor != "postgresql":
        # The laptop default (SQLite) has no data-modifying CTEs; it serves one process and no race, so three
        # ORM statements in the caller's transaction do the same.
        Lot.objects.filter(pk=lot.pk).update(
            seq=lot.seq, bid_count=lot.bid_count, bidder_count=lot.bidder_count, high_bid_amount=amount,
            high_bidder_id=user_id, ends_at=lot.ends_at, status=lot.status)
        Bid.objects.create(lot_id=lot.pk, bidder_id=user_id, amount=amount, bid_id=bid_id, seq=lot.seq,
                           bidder_number=number, created_at=now)
        LotEvent.objects.create(lot_id=lot.pk, seq=lot.seq, payload=json.loads(event_text))
        return
    with connection.cursor() as cursor:
        cursor.execute(_WRITE_SQL, {
            "lot_id": lot.pk, "user_id": user_id, "amount": amount, "bid_id": bid_id, "seq": lot.seq,
            "bid_count": lot.bid_count, "bidder_count": lot.bidder_count, "ends_at": lot.ends_at,
            "status": lot.status, "number": number, "now": now, "payload": event_text,
        })


def _aware(value: datetime | str | None) -> datetime | None:
    # A raw cursor skips the ORM's converters: SQLite hands back text and naive times (PostgreSQL aware ones).
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else timezone.make_aware(value, dt_timezone.utc)
