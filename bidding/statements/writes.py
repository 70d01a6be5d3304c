"""The decision's write by hand: the lot's new state, its new bid rows, their events and the notices they cause, in
one statement."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache

from django.db import connection
from psycopg.types.json import Jsonb

from auctions.models import Lot, LotEvent, Notice
from bidding.models import Bid
from bidding.statements.tables import BID, EVENT, LOT, NOTICE

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


# --- the live sale's block --------------------------------------------------------------------------------------
# Every column of a bid row: a live bid is built as a model instance, whose defaults fill the ones it leaves.
_LIVE_BID_FIELDS = {f.attname: f.column for f in Bid._meta.concrete_fields if not f.primary_key}
_LOT_COLUMNS = {f.attname: f.column for f in Lot._meta.concrete_fields}
_LOT_JSON = {f.attname for f in Lot._meta.concrete_fields if f.get_internal_type() == "JSONField"}


@cache
def _block_sql(lot_fields: tuple[str, ...], bid_count: int, event_count: int, notice_count: int) -> str:
    """The lot's changed fields, its new bid rows, its events and personal notices, as one statement (each part
    only if there is something to write); it returns the notices' ids, in order."""
    parts = []
    if lot_fields:
        assignments = ", ".join(f"{_LOT_COLUMNS[name]} = %(lot_{name})s" for name in lot_fields)
        parts.append(f"UPDATE {LOT} SET {assignments} WHERE id = %(lot_id)s")
    if bid_count:
        rows = ", ".join(
            "(" + ", ".join(f"%(b{i}_{name})s" for name in _LIVE_BID_FIELDS) + ")" for i in range(bid_count)
        )
        parts.append(f"INSERT INTO {BID} ({', '.join(_LIVE_BID_FIELDS.values())}) VALUES {rows}")
    if event_count:
        rows = ", ".join(f"(%(lot_id)s, %(e{i}_seq)s, %(e{i})s::jsonb, %(now)s)" for i in range(event_count))
        parts.append(f"INSERT INTO {EVENT} (lot_id, seq, payload, created_at) VALUES {rows}")
    if notice_count:
        rows = ", ".join(f"(%(n{i}_user)s, %(n{i}_payload)s::jsonb, %(now)s)" for i in range(notice_count))
        parts.append(f"INSERT INTO {NOTICE} (user_id, payload, created_at) VALUES {rows} RETURNING id")
    *before, last = parts
    if not before:
        return last
    ctes = ",\n".join(f"w{i} AS ({part})" for i, part in enumerate(before))
    return f"WITH {ctes}\n{last}"


def write_block(
    *,
    lot: Lot,
    changed: list[str],
    bids: list[Bid],
    events: list[tuple[int, str]],
    notices: list[tuple[int, dict]],
    now: datetime,
) -> None:
    """A live decision's writes: the lot's `changed` fields (attribute names), its new bids, its events (seq,
    encoded text) and the personal notices they cause (each notice's payload gets its stored `id`). Expects the row
    lock held. One statement on PostgreSQL; the laptop default (SQLite) takes a few ORM statements."""
    if not (changed or bids or events or notices):
        return
    if connection.vendor != "postgresql":
        if changed:
            Lot.objects.filter(pk=lot.pk).update(**{name: getattr(lot, name) for name in changed})
        Bid.objects.bulk_create(bids)
        LotEvent.objects.bulk_create(
            [LotEvent(lot_id=lot.pk, seq=seq, payload=json.loads(text)) for seq, text in events]
        )
        rows = Notice.objects.bulk_create([Notice(user_id=user_id, payload=dict(p)) for user_id, p in notices])
        for (_, payload), row in zip(notices, rows, strict=True):
            payload["id"] = row.pk
        return
    params: dict[str, object] = {"lot_id": lot.pk, "now": now}
    for name in changed:
        value = getattr(lot, name)
        params[f"lot_{name}"] = Jsonb(value) if name in _LOT_JSON and value is not None else value
    for i, bid in enumerate(bids):
        params.update({f"b{i}_{name}": getattr(bid, name) for name in _LIVE_BID_FIELDS})
    for i, (seq, text) in enumerate(events):
        params[f"e{i}_seq"], params[f"e{i}"] = seq, text
    for i, (user_id, payload) in enumerate(notices):
        params[f"n{i}_user"], params[f"n{i}_payload"] = user_id, json.dumps(payload)
    with connection.cursor() as cursor:
        cursor.execute(_block_sql(tuple(changed), len(bids), len(events), len(notices)), params)
        if notices:
            # One multi-row VALUES insert takes its ids from the sequence in row order.
            for (_, payload), (notice_id,) in zip(notices, sorted(cursor.fetchall()), strict=True):
                payload["id"] = notice_id
