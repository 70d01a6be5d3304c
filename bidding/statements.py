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
from functools import cache

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


_GROUP_LOCKED_READ_SQL = f"""
SELECT l.*,
       (SELECT json_object_agg(u.id, (SELECT b.bidder_number FROM {BID} b
                                      WHERE b.lot_id = l.id AND b.bidder_id = u.id LIMIT 1))
        FROM unnest(array_append(%(user_ids)s::bigint[], l.high_bidder_id::bigint)) AS u(id)
        WHERE u.id IS NOT NULL) AS numbers
FROM {LOT} l WHERE l.id = %(lot_id)s FOR UPDATE OF l
"""


def lock_lot_for_group(*, lot_id: int, user_ids: list[int]) -> tuple[Lot, dict[int | None, int | None]]:
    """lock_lot_for_decision for several bidders at once (PostgreSQL): the lot under its row lock, and the alias
    number on this lot of each bidder and of the leader (None: not bid yet)."""
    for lot in Lot.objects.raw(_GROUP_LOCKED_READ_SQL, {"lot_id": lot_id, "user_ids": list(user_ids)}):
        found = lot.numbers if isinstance(lot.numbers, dict) else json.loads(lot.numbers or "{}")
        numbers: dict[int | None, int | None] = {int(user_id): number for user_id, number in found.items()}
        return lot, numbers
    raise Lot.DoesNotExist(f"lot {lot_id}")


_BID_COLUMNS = ("lot_id", "bidder_id", "amount", "bid_id", "seq", "bidder_number", "created_at", "kind",
                "requested_amount", "max_amount", "outbid_at_once")

_LOT_STATE = ("seq", "bid_count", "bidder_count", "high_bid_amount", "high_bidder_id", "leader_max_amount", "ends_at",
              "status")


@cache
def _write_sql(bid_count: int) -> str:
    """The lot's new state, `bid_count` bids and their events, as one statement (data-modifying CTEs)."""
    bid_rows = ", ".join(
        "(" + ", ".join(f"%(b{i}_{column})s" for column in _BID_COLUMNS) + ")" for i in range(bid_count)
    )
    event_rows = ", ".join(f"(%(lot_id)s, %(b{i}_seq)s, %(e{i})s::jsonb, %(now)s)" for i in range(bid_count))
    assignments = ", ".join(f"{column} = %(lot_{column})s" for column in _LOT_STATE)
    return f"""
WITH lot_update AS (
    UPDATE {LOT} SET {assignments} WHERE id = %(lot_id)s
), new_bids AS (
    INSERT INTO {BID} ({", ".join(_BID_COLUMNS)}) VALUES {bid_rows}
)
INSERT INTO {EVENT} (lot_id, seq, payload, created_at) VALUES {event_rows}
"""


def write_decision(*, lot: Lot, bids: list[Bid], event_texts: list[str], now: datetime) -> None:
    """The lot's new state, its new bids and their events. Expects the row lock held (FOR UPDATE).

    One statement on PostgreSQL, however many bids (a decision with automatic answers writes several; so does a
    group of queued bids). The laptop default (SQLite has no data-modifying CTEs; it serves one process and no
    race) takes a few ORM statements in the caller's transaction instead.
    """
    if connection.vendor == "postgresql":
        params: dict[str, object] = {"lot_id": lot.pk, "now": now}
        params.update({f"lot_{column}": getattr(lot, column) for column in _LOT_STATE})
        for i, (bid, text) in enumerate(zip(bids, event_texts, strict=True)):
            params.update({f"b{i}_{column}": getattr(bid, column) for column in _BID_COLUMNS})
            params[f"e{i}"] = text
        with connection.cursor() as cursor:
            cursor.execute(_write_sql(len(bids)), params)
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
