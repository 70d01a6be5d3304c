"""The bid path's reads by hand: the pre-check before the lock, and the decision's locked read of the lot with what
it needs of its bidders (one request, or a group of queued ones)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from auctions.models import Lot
from bidding.statements.tables import BID, LOT, PROFILE, RAISE

# What a bidder already did under a bid_id, whichever table holds it: a bid's request row (or a buy-now), or a
# maximum raised without a visible bid. Columns: see bidding.retries.Recorded.from_row.
_ACTION_COLUMNS = "lot_id, kind, sent, max_amount, amount, seq, outbid_at_once, standing_max"
_BID_ACTION = f"""SELECT b.bidder_id, b.bid_id, b.lot_id, b.kind, COALESCE(b.requested_amount, b.amount) AS sent,
    b.max_amount, b.amount, b.seq, b.outbid_at_once, b.standing_max FROM {BID} b"""
_RAISE_ACTION = f"""SELECT r.bidder_id, r.bid_id, r.lot_id, 'raise' AS kind, r.requested_amount AS sent,
    r.max_amount, r.amount, r.after_seq AS seq, FALSE AS outbid_at_once,
    CASE WHEN r.max_amount > r.amount THEN r.max_amount END AS standing_max FROM {RAISE} r"""
_ONE_ACTION = f"""(
    {_BID_ACTION} WHERE b.bidder_id = %(user_id)s AND b.bid_id = %(bid_id)s
    UNION ALL
    {_RAISE_ACTION} WHERE r.bidder_id = %(user_id)s AND r.bid_id = %(bid_id)s
)"""


@dataclass(frozen=True)
class Precheck:
    """What the checks before the lock need, read in one statement."""

    lot: Lot | None  # unsaved-looking instance holding just the fields the checks read
    can_bid: bool
    banned: bool
    earlier: tuple | None  # this bid_id's earlier action, if any (bidding.retries.Recorded.from_row)


_PRECHECK_SQL = f"""
SELECT l.id, l.seller_id, l.status, l.starts_at, l.ends_at, l.starting_price, l.high_bid_amount, l.sale_id,
       p.can_bid, p.banned, {", ".join(f"e.{column}" for column in _ACTION_COLUMNS.split(", "))}
FROM (SELECT 1) AS one
LEFT JOIN {LOT} l ON l.id = %(lot_id)s
LEFT JOIN {PROFILE} p ON p.user_id = %(user_id)s
LEFT JOIN {_ONE_ACTION} e ON 1 = 1
"""


def read_precheck(*, lot_id: int, user_id: int, bid_id: str) -> Precheck:
    with connection.cursor() as cursor:
        cursor.execute(_PRECHECK_SQL, {"lot_id": lot_id, "user_id": user_id, "bid_id": bid_id})
        row = cursor.fetchone()
    (pk, seller_id, status, starts_at, ends_at, starting_price, high_bid, sale_id, can_bid, banned, *earlier_row) = row
    lot = None
    if pk is not None:
        lot = Lot(
            pk=pk,
            seller_id=seller_id,
            status=status,
            starts_at=_aware(starts_at),
            ends_at=_aware(ends_at),
            starting_price=starting_price,
            high_bid_amount=high_bid,
            sale_id=sale_id,
        )
    earlier = tuple(earlier_row) if earlier_row[0] is not None else None
    return Precheck(lot=lot, can_bid=bool(can_bid), banned=bool(banned), earlier=earlier)


def read_earlier(*, user_id: int, bid_id: str) -> tuple | None:
    """This bidder's earlier action under `bid_id`, if any (bidding.retries.Recorded.from_row)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_ACTION_COLUMNS} FROM {_ONE_ACTION} e", {"user_id": user_id, "bid_id": bid_id})
        return cursor.fetchone()


@dataclass(frozen=True)
class Locked:
    """What a decision reads under the lot's row lock, in one statement."""

    lot: Lot
    numbers: dict[int | None, int | None]  # bidder id -> alias number on this lot (None: not bid yet)
    flags: dict[int, tuple[bool, bool]]  # bidder id -> (can_bid, banned), read now: a ban counts at once
    earlier: dict[tuple[int, str], tuple]  # (bidder id, bid_id) -> their earlier action (Recorded.from_row)


_LOCK_SQL = f"SELECT 1 FROM {LOT} WHERE id = %(lot_id)s FOR UPDATE;\n"

_LOCKED_READ_SQL = f"""
SELECT l.*,
       (SELECT b.bidder_number FROM {BID} b WHERE b.lot_id = l.id AND b.bidder_id = %(user_id)s LIMIT 1)
           AS your_number,
       (SELECT b.bidder_number FROM {BID} b WHERE b.lot_id = l.id AND b.bidder_id = l.high_bidder_id LIMIT 1)
           AS leader_number,
       p.can_bid AS your_can_bid, p.banned AS your_banned,
       {", ".join(f"e.{column} AS earlier_{column}" for column in _ACTION_COLUMNS.split(", "))}
FROM {LOT} l
LEFT JOIN {PROFILE} p ON p.user_id = %(user_id)s
LEFT JOIN {_ONE_ACTION} e ON 1 = 1
WHERE l.id = %(lot_id)s
"""


def _read_locked(sql: str, params: dict) -> tuple[Lot, dict] | None:
    """Lock the lot's row, then read: two statements in one round trip (PostgreSQL).

    Two, not one `SELECT … FOR UPDATE`: a statement that waited for the row lock sees the row as the holder left
    it but every other table as it was when the statement began (READ COMMITTED), so it would miss the bid rows,
    the retry's original and the ban that the holder's transaction committed. The read that follows the lock
    starts after all of them.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_LOCK_SQL + sql, params)
            cursor.nextset()
        else:  # SQLite: one process, one writer at a time
            cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        row = cursor.fetchone()
    if row is None:
        return None
    values = dict(zip(names, row, strict=False))
    fields = [field.attname for field in Lot._meta.concrete_fields]
    lot = Lot.from_db(connection.alias, fields, [values.pop(name) for name in fields])
    for name in (
        "starts_at",
        "ends_at",
        "original_ends_at",
        "hard_end_at",
        "closed_at",
        "closing_soon_sent_at",
        "created_at",
    ):
        setattr(lot, name, _aware(getattr(lot, name)))
    return lot, values


def lock_lot_for_decision(*, lot_id: int, user_id: int, bid_id: str) -> Locked:
    """The lot under its row lock, with the alias numbers of this bidder and of the leader, this bidder's flags and
    their earlier action under `bid_id`.

    The row lock, not the Redis lock, is what keeps a decision right: a Redis lock that expired mid-decision lets a
    second decider in, and the locked read makes it wait for the first to commit. Built by hand: the ORM's
    compilation of this query is the largest single cost in a hot lot's critical section (docs/performance.md).
    """
    found = _read_locked(_LOCKED_READ_SQL, {"lot_id": lot_id, "user_id": user_id, "bid_id": bid_id})
    if found is None:
        raise Lot.DoesNotExist(f"lot {lot_id}")
    lot, extra = found
    earlier = tuple(extra[f"earlier_{column}"] for column in _ACTION_COLUMNS.split(", "))
    return Locked(
        lot=lot,
        numbers={lot.high_bidder_id: extra["leader_number"], user_id: extra["your_number"]},
        flags={user_id: (bool(extra["your_can_bid"]), bool(extra["your_banned"]))},
        earlier={(user_id, bid_id): earlier} if earlier[0] is not None else {},
    )


_PAIRS = "unnest(%(user_ids)s::bigint[], %(bid_ids)s::text[]) AS q(user_id, bid_id)"
_GROUP_LOCKED_READ_SQL = f"""
SELECT l.*,
       (SELECT json_object_agg(u.id, (SELECT b.bidder_number FROM {BID} b
                                      WHERE b.lot_id = l.id AND b.bidder_id = u.id LIMIT 1))
        FROM unnest(array_append(%(user_ids)s::bigint[], l.high_bidder_id::bigint)) AS u(id)
        WHERE u.id IS NOT NULL) AS numbers,
       (SELECT json_object_agg(p.user_id, json_build_array(p.can_bid, p.banned))
        FROM {PROFILE} p WHERE p.user_id = ANY(%(user_ids)s::bigint[])) AS flags,
       (SELECT json_agg(json_build_array(e.bidder_id, e.bid_id, {_ACTION_COLUMNS})) FROM (
            {_BID_ACTION} JOIN {_PAIRS} ON b.bidder_id = q.user_id AND b.bid_id = q.bid_id
            UNION ALL
            {_RAISE_ACTION} JOIN {_PAIRS} ON r.bidder_id = q.user_id AND r.bid_id = q.bid_id) e) AS earlier
FROM {LOT} l WHERE l.id = %(lot_id)s
"""


def lock_lot_for_group(*, lot_id: int, requests: list[tuple[int, str]]) -> Locked:
    """lock_lot_for_decision for several (bidder id, bid_id) requests at once (PostgreSQL)."""
    params = {
        "lot_id": lot_id,
        "user_ids": [user_id for user_id, _ in requests],
        "bid_ids": [bid_id for _, bid_id in requests],
    }
    found = _read_locked(_GROUP_LOCKED_READ_SQL, params)
    if found is None:
        raise Lot.DoesNotExist(f"lot {lot_id}")
    lot, extra = found
    numbers = {int(user_id): number for user_id, number in _json(extra["numbers"]).items()}
    flags = {
        int(user_id): (bool(can_bid), bool(banned)) for user_id, (can_bid, banned) in _json(extra["flags"]).items()
    }
    earlier = {(user_id, bid_id): tuple(row) for user_id, bid_id, *row in _json(extra["earlier"], [])}
    return Locked(lot=lot, numbers=numbers, flags=flags, earlier=earlier)


def _json(value, empty=None):
    if value is None:
        return {} if empty is None else empty
    return json.loads(value) if isinstance(value, str) else value


def _aware(value: datetime | str | None) -> datetime | None:
    # A raw cursor skips the ORM's converters: SQLite hands back text and naive times (PostgreSQL aware ones).
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)
