"""Lots in a live sale have no end time, and every timed path (the clock, soft close, the timed bid path, the
catalogue) leaves them alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from auctions.models import Lot, Sale

pytestmark = pytest.mark.django_db


def _sale(house) -> Sale:
    return Sale.objects.create(house=house, title="Autumn sale", starts_at=timezone.now() + timedelta(days=1))


def test_a_timed_lot_needs_an_end_and_a_live_lot_has_none(make_lot, seller):
    sale = _sale(seller)
    live = make_lot(seller=seller, ends_in=None, sale=sale, sale_position=1, live_state=Lot.LiveState.WAITING)
    assert live.ends_at is None and Lot.objects.live().get() == live
    with transaction.atomic(), pytest.raises(IntegrityError, match="lot_timed_or_live"):
        make_lot(seller=seller, ends_in=None)
    with transaction.atomic(), pytest.raises(IntegrityError, match="lot_timed_or_live"):
        make_lot(seller=seller, sale=sale, sale_position=2, live_state=Lot.LiveState.WAITING)


def test_two_lots_cannot_share_a_place_in_one_sale(make_lot, seller):
    sale = _sale(seller)
    make_lot(seller=seller, ends_in=None, sale=sale, sale_position=1, live_state=Lot.LiveState.WAITING)
    with transaction.atomic(), pytest.raises(IntegrityError, match="lot_sale_position_unique"):
        make_lot(seller=seller, ends_in=None, sale=sale, sale_position=1, live_state=Lot.LiveState.WAITING)
    other = _sale(seller)
    make_lot(seller=seller, ends_in=None, sale=other, sale_position=1, live_state=Lot.LiveState.WAITING)
