"""The bid path's hand-written statements: its pre-check read, its decision's locked read and its decision's writes,
one round trip each.

The ORM costs about 0.5 ms of Python per query on the target machine (docs/performance.md), and a bid made
eight of them; the hot lot is CPU-bound on exactly that. Everything else stays in the ORM. Column and table names
come from the models, so a renamed field fails loudly here rather than silently elsewhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Profile
from auctions.models import Lot, LotEvent, Notice
from bidding.models import Bid, MaximumRaise

LOT = Lot._meta.db_table
PROFILE = Profile._meta.db_table
BID = Bid._meta.db_table
EVENT = LotEvent._meta.db_table
RAISE = MaximumRaise._meta.db_table
NOTICE = Notice._meta.db_table

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
SELECT l.id, l.seller_id, l.status, l.starts_at, l.ends_at, l.starting_price, l.high_bid_amount,
       p.can_bid, p.banned, {", ".join(f"e.{column}" for column in _ACTION_COLUMNS.split(", "))}
FROM (SELECT 1) AS one
LEFT JOIN {LOT} l ON l.id = %(lot_id)s
LEFT JOIN {PROFILE} p ON p.user_id = %(user_id)s
LEFT JOIN {_ONE_ACTION} e ON 1 = 1
"""


def read_precheck(*, lot_id: int, user_id: int, bid_id: str) -> Precheck:
    with connection.cursor() as cursor:
        cursor.execute(_PRECHECK_SQL, {"lot_id": lot_id, "user_id": user_id, "bid_id": bid_id})
        (pk, seller_id, status, starts_at, ends_at, starting_price, high_bid, can_bid, banned, *earlier_row) = (
            cursor.fetchone()
        )
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
    second decider in, and the locked read makes it wait for the first to commit. Built by hand because the ORM's
    compilation of this query was the largest single cost in a hot lot's critical section (docs/performance.md).
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


_BID_COLUMNS = (
    "lot_id",
    "bidder_id",
    "amount",
    "bid_id",
    "seq",
    "bidder_number",
    "created_at",
    "kind",
    "requested_amount",
    "max_amount",
    "outbid_at_once",
    "standing_max",
    "received_at",
)

_LOT_STATE = (
    "seq",
    "bid_count",
    "bidder_count",
    "high_bid_amount",
    "high_bidder_id",
    "leader_max_amount",
    "ends_at",
    "status",
)


@cache
def _write_sql(bid_count: int, notice_count: int = 0) -> str:
    """The lot's new state, `bid_count` bids and their events, and `notice_count` personal notices (the outbid
    leaders'), as one statement (data-modifying CTEs); it returns the notices' ids, in order."""
    bid_rows = ", ".join(
        "(" + ", ".join(f"%(b{i}_{column})s" for column in _BID_COLUMNS) + ")" for i in range(bid_count)
    )
    event_rows = ", ".join(f"(%(lot_id)s, %(b{i}_seq)s, %(e{i})s::jsonb, %(now)s)" for i in range(bid_count))
    assignments = ", ".join(f"{column} = %(lot_{column})s" for column in _LOT_STATE)
    events_insert = f"INSERT INTO {EVENT} (lot_id, seq, payload, created_at) VALUES {event_rows}"
    if notice_count:
        notice_rows = ", ".join(f"(%(n{i}_user)s, %(n{i}_payload)s::jsonb, %(now)s)" for i in range(notice_count))
        tail = f"""new_events AS (
    {events_insert}
)
INSERT INTO {NOTICE} (user_id, payload, created_at) VALUES {notice_rows} RETURNING id"""
    else:
        tail = events_insert
    return f"""
WITH lot_update AS (
    UPDATE {LOT} SET {assignments} WHERE id = %(lot_id)s
), new_bids AS (
    INSERT INTO {BID} ({", ".join(_BID_COLUMNS)}) VALUES {bid_rows}
){"," if notice_count else ""}
{tail}
"""


def write_decision(
    *, lot: Lot, bids: list[Bid], event_texts: list[str], now: datetime, notices: list[tuple[int, dict]] = ()
) -> None:
    """The lot's new state, its new bids and their events, and the personal notices they cause (each notice's
    payload gets its stored `id`). Expects the row lock held (FOR UPDATE).

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
        for i, (user_id, payload) in enumerate(notices):
            params[f"n{i}_user"] = user_id
            params[f"n{i}_payload"] = json.dumps(payload)
        with connection.cursor() as cursor:
            cursor.execute(_write_sql(len(bids), len(notices)), params)
            if notices:
                # One multi-row VALUES insert takes its ids from the sequence in row order.
                for (_, payload), (notice_id,) in zip(notices, sorted(cursor.fetchall()), strict=True):
                    payload["id"] = notice_id
        return
    Lot.objects.filter(pk=lot.pk).update(**{name: getattr(lot, name) for name in _LOT_STATE})
    Bid.objects.bulk_create(bids)
    LotEvent.objects.bulk_create(
        [
            LotEvent(lot_id=lot.pk, seq=bid.seq, payload=json.loads(text))
            for bid, text in zip(bids, event_texts, strict=False)
        ]
    )
    rows = Notice.objects.bulk_create([Notice(user_id=user_id, payload=dict(payload)) for user_id, payload in notices])
    for (_, payload), row in zip(notices, rows, strict=False):
        payload["id"] = row.pk


def _aware(value: datetime | str | None) -> datetime | None:
    # A raw cursor skips the ORM's converters: SQLite hands back text and naive times (PostgreSQL aware ones).
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)
