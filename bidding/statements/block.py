"""The live sale's locked read by hand: the sale and the lot on the block under their row locks, with everything a
decision on the block reads of them (the clerks, the bidders' registrations and flags, their numbers on the lot,
the retries' originals, the absentee maxima), in one round trip.

Read one by one through the ORM this was nine queries and most of an internet bid's decision time
(docs/performance.md), all of it while the lot's lock is held.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q

from accounts.models import Profile
from auctions.models import AbsenteeBid, Lot, Sale, SaleRegistration
from bidding.models import Bid
from bidding.statements.tables import BID, LOT, PROFILE

SALE = Sale._meta.db_table
CLERKS = Sale.clerks.through._meta.db_table
REGISTRATION = SaleRegistration._meta.db_table
ABSENTEE = AbsenteeBid._meta.db_table


@dataclass
class LockedBlock:
    """The sale and its lot (None: not in this sale), row-locked, and what a decision reads with them."""

    sale: Sale
    lot: Lot | None
    clerk_ids: set[int] = field(default_factory=set)
    # bidder id -> (their registration for the sale or None, their profile's (can_bid, banned) or None)
    bidders: dict[int, tuple[SaleRegistration | None, tuple[bool, bool] | None]] = field(default_factory=dict)
    numbers: dict[int, int] = field(default_factory=dict)  # bidder id -> their number on the lot, once they bid
    earlier: dict[tuple[int, str], Bid] = field(default_factory=dict)  # (bidder id, bid_id) -> their stored bid
    absentees: list[AbsenteeBid] = field(default_factory=list)  # the lot's maxima in the order they were placed


def _columns(model, alias: str) -> str:
    return ", ".join(f"{alias}.{f.column}" for f in model._meta.concrete_fields)


# The row locks first, each its own statement, sale then lot (every writer of the block locks in that order): a
# statement that waited for a lock sees the other tables as they were when it began (READ COMMITTED), so the read
# follows the locks and sees everything the previous holder committed.
_LOCKED_READ_SQL = f"""
SELECT 1 FROM {SALE} WHERE id = %(sale_id)s FOR UPDATE;
SELECT 1 FROM {LOT} WHERE id = %(lot_id)s AND sale_id = %(sale_id)s FOR UPDATE;
SELECT {_columns(Sale, "s")}, {_columns(Lot, "l")},
    (SELECT array_agg(c.user_id) FROM {CLERKS} c WHERE c.sale_id = s.id) AS clerks,
    (SELECT json_agg(json_build_array(u.id, r.id, r.paddle, r.approved, p.can_bid, p.banned))
     FROM unnest(%(user_ids)s::bigint[]) AS u(id)
     LEFT JOIN {REGISTRATION} r ON r.sale_id = s.id AND r.user_id = u.id
     LEFT JOIN {PROFILE} p ON p.user_id = u.id) AS bidders,
    (SELECT json_agg(json_build_array(a.id, a.max_amount, r.id, r.user_id, r.paddle) ORDER BY a.placed_at, a.id)
     FROM {ABSENTEE} a JOIN {REGISTRATION} r ON r.id = a.registration_id WHERE a.lot_id = l.id) AS absentees,
    (SELECT json_object_agg(n.bidder_id, n.bidder_number) FROM (
        SELECT b.bidder_id, min(b.bidder_number) AS bidder_number FROM {BID} b
        WHERE b.lot_id = l.id AND b.bidder_id IS NOT NULL GROUP BY b.bidder_id) n) AS numbers,
    (SELECT json_agg(json_build_array(b.bidder_id, b.bid_id, b.lot_id, b.amount, b.seq, b.bidder_number))
     FROM {BID} b JOIN unnest(%(user_ids_of_retries)s::bigint[], %(bid_ids)s::text[]) AS q(user_id, bid_id)
     ON b.bidder_id = q.user_id AND b.bid_id = q.bid_id) AS earlier
FROM {SALE} s LEFT JOIN {LOT} l ON l.id = %(lot_id)s AND l.sale_id = s.id
WHERE s.id = %(sale_id)s
"""

_SALE_FIELDS = [f.attname for f in Sale._meta.concrete_fields]
_LOT_FIELDS = [f.attname for f in Lot._meta.concrete_fields]
_JSON_FIELDS = {
    model: [f.attname for f in model._meta.concrete_fields if f.get_internal_type() == "JSONField"]
    for model in (Sale, Lot)
}


def lock_block(
    sale_id: int, lot_id: int | None, *, bidders: set[int] = frozenset(), retries: list[tuple[int, str]] = ()
) -> LockedBlock | None:
    """The sale and the lot row-locked, sale first, inside the caller's transaction, with the sale's clerks, the
    lot's bidders' numbers and absentee maxima, `bidders`' registrations and flags (read now: a ban counts at once)
    and the stored bids that `retries` (bidder id, bid_id) retry. None when there is no such sale. One round trip
    on PostgreSQL; the laptop default (SQLite: one process, one writer) reads through the ORM."""
    if connection.vendor != "postgresql":
        return _lock_block_orm(sale_id, lot_id, bidders=bidders, retries=retries)
    params = {
        "sale_id": sale_id,
        "lot_id": lot_id,
        "user_ids": sorted(bidders),
        "user_ids_of_retries": [user_id for user_id, _ in retries],
        "bid_ids": [bid_id for _, bid_id in retries],
    }
    with connection.cursor() as cursor:
        cursor.execute(_LOCKED_READ_SQL, params)
        cursor.nextset()
        cursor.nextset()
        row = cursor.fetchone()
    if row is None:
        return None
    sale = _instance(Sale, _SALE_FIELDS, row[: len(_SALE_FIELDS)])
    lot_values = row[len(_SALE_FIELDS) : len(_SALE_FIELDS) + len(_LOT_FIELDS)]
    clerks, bidder_rows, absentee_rows, numbers, earlier_rows = row[len(_SALE_FIELDS) + len(_LOT_FIELDS) :]
    lot = None if lot_values[0] is None else _instance(Lot, _LOT_FIELDS, lot_values)
    return LockedBlock(
        sale=sale,
        lot=lot,
        clerk_ids=set(clerks or ()),
        bidders={
            user_id: (
                None
                if registration_id is None
                else SaleRegistration(
                    pk=registration_id, sale_id=sale_id, user_id=user_id, paddle=paddle, approved=approved
                ),
                None if can_bid is None else (bool(can_bid), bool(banned)),
            )
            for user_id, registration_id, paddle, approved, can_bid, banned in _json(bidder_rows)
        },
        numbers={int(user_id): number for user_id, number in (_json(numbers) or {}).items()},
        earlier={
            (user_id, bid_id): Bid(
                bidder_id=user_id, bid_id=bid_id, lot_id=lot_id_, amount=amount, seq=seq, bidder_number=number
            )
            for user_id, bid_id, lot_id_, amount, seq, number in _json(earlier_rows)
        },
        absentees=[
            _absentee(absentee_id, lot_id, maximum, registration_id, user_id, paddle, sale_id)
            for absentee_id, maximum, registration_id, user_id, paddle in _json(absentee_rows)
        ],
    )


def _lock_block_orm(sale_id, lot_id, *, bidders, retries) -> LockedBlock | None:
    sale = Sale.objects.select_for_update().filter(pk=sale_id).first()
    if sale is None:
        return None
    lot = Lot.objects.select_for_update().filter(pk=lot_id, sale_id=sale_id).first() if lot_id else None
    registrations = {r.user_id: r for r in SaleRegistration.objects.filter(sale_id=sale_id, user_id__in=bidders)}
    flags = {
        user_id: (can_bid, banned)
        for user_id, can_bid, banned in Profile.objects.filter(user_id__in=bidders).values_list(
            "user_id", "can_bid", "banned"
        )
    }
    wanted = Q(pk__in=[])
    for user_id, bid_id in retries:
        wanted |= Q(bidder_id=user_id, bid_id=bid_id)
    block = LockedBlock(
        sale=sale,
        lot=lot,
        clerk_ids=set(sale.clerks.values_list("pk", flat=True)),
        bidders={user_id: (registrations.get(user_id), flags.get(user_id)) for user_id in bidders},
        earlier={(bid.bidder_id, bid.bid_id): bid for bid in Bid.objects.filter(wanted)} if retries else {},
    )
    if lot is not None:
        block.numbers = dict(
            Bid.objects.filter(lot=lot, bidder_id__isnull=False).values_list("bidder_id", "bidder_number")
        )
        block.absentees = list(
            AbsenteeBid.objects.filter(lot=lot).select_related("registration").order_by("placed_at", "pk")
        )
    return block


def _instance(model, names: list[str], values) -> object:
    instance = model.from_db(connection.alias, names, values)
    for name in _JSON_FIELDS[model]:  # a raw cursor skips the ORM's converters: jsonb comes back as text
        setattr(instance, name, _json(getattr(instance, name), None))
    return instance


def _absentee(absentee_id, lot_id, maximum, registration_id, user_id, paddle, sale_id) -> AbsenteeBid:
    registration = SaleRegistration(pk=registration_id, sale_id=sale_id, user_id=user_id, paddle=paddle)
    return AbsenteeBid(pk=absentee_id, lot_id=lot_id, max_amount=maximum, registration=registration)


def _json(value, empty=()):
    if value is None:
        return empty
    return json.loads(value) if isinstance(value, str) else value
