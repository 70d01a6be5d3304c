"""Lot events and personal notices: stored in the caller's transaction, published after it commits.

Every lot event (opened, high_bid, extended, closed, cancelled) carries the lot's sequence number and is stored in
LotEvent in the same transaction as the change it announces; every personal notice is stored in Notice for ws/me/
replay. Sending goes through auctions/publish.py.
"""

from __future__ import annotations

from auctions import publish
from auctions.models import Lot, LotEvent, Notice
from auctions.payloads import Payload, encode


def record_and_broadcast(lot: Lot, payload: Payload, *, notify: list[tuple[int, Payload]] = ()) -> None:
    """Store a lot event and its personal notices (inside the caller's transaction) and send them after commit."""
    LotEvent.objects.create(lot=lot, seq=payload["seq"], payload=payload)
    broadcast_on_commit(lot.pk, payload["seq"], encode(payload), notify=store_notices(notify))


def broadcast_on_commit(lot_id: int, seq: int, text: str, *, notify: list[tuple[int, Payload]] = ()) -> None:
    """Send a stored lot event and personal notices once the transaction commits."""
    broadcast_all_on_commit(lot_id, [(seq, text)], notify=notify)


def broadcast_all_on_commit(
    lot_id: int, texts: list[tuple[int, str]], *, notify: list[tuple[int, Payload]] = ()
) -> None:
    """Send stored lot events, (seq, encoded text) in sequence order, and personal notices once the transaction
    commits; the sender then marks the events published (the outbox).

    Called under the lot's lock and row lock, so the sends leave in sequence order.
    """
    publish.lot_events_on_commit(lot_id, texts, notices=list(notify))


def notify_on_commit(notify: list[tuple[int, Payload]], *, stored: bool = True) -> None:
    """Personal notices only (no lot event), once the transaction commits. `stored`: each is kept for ws/me/
    replay (store_notices, in the caller's transaction); a dashboard update (`seller_lot`) is not."""
    if not notify:
        return
    publish.notices_on_commit(store_notices(notify) if stored else list(notify))


def store_notices(notify: list[tuple[int, Payload]]) -> list[tuple[int, Payload]]:
    """Store each personal notice (inside the caller's transaction) and return them with their `id`, which the
    client remembers and replays after (`sync` on ws/me/). Notices already stored (they carry an `id`, e.g. the
    `outbid` notices written with their bid) are returned as they are."""
    fresh = [(user_id, payload) for user_id, payload in notify if "id" not in payload]
    if not fresh:
        return list(notify)
    rows = Notice.objects.bulk_create([Notice(user_id=user_id, payload=payload) for user_id, payload in fresh])
    ids = iter(row.pk for row in rows)
    # A copy per user: one payload object may be shared (a lot event told to many) and is stored as it is.
    return [(user_id, payload if "id" in payload else {**payload, "id": next(ids)}) for user_id, payload in notify]
