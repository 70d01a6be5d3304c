"""The watchlist: one entry point per action."""

from __future__ import annotations

from auctions.exceptions import LotNotFound, NotAuthenticated
from auctions.models import Lot, Watch


def watch_lot(user, lot_id: int) -> bool:
    """Add the lot to the user's watchlist; True if it was not there yet."""
    _check(user, lot_id)
    _, created = Watch.objects.get_or_create(user_id=user.pk, lot_id=lot_id)
    return created


def unwatch_lot(user, lot_id: int) -> bool:
    _check(user, lot_id)
    deleted, _ = Watch.objects.filter(user_id=user.pk, lot_id=lot_id).delete()
    return bool(deleted)


def watched_lot_ids(user) -> list[int]:
    return list(Watch.objects.filter(user_id=user.pk).order_by("lot__ends_at").values_list("lot_id", flat=True))


def _check(user, lot_id: int) -> None:
    if user is None or not user.is_authenticated:
        raise NotAuthenticated("Log in to keep a watchlist.")
    if not Lot.objects.filter(pk=lot_id).exists():
        raise LotNotFound()
