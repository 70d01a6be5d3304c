"""LotQuerySet: each named filter picks exactly the lots its name says, at the edges of its times."""

from datetime import timedelta

import pytest
from django.utils import timezone

from auctions.models import Lot, Watch

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def _pks(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


@pytest.fixture
def lots(make_lot, seller):
    """One lot of each status, plus an open lot already past its end and a scheduled one not yet started."""
    now = timezone.now()
    return {
        "scheduled": make_lot(seller=seller, status=Lot.Status.SCHEDULED, starts_in=HOUR, ends_in=2 * HOUR),
        "due": make_lot(seller=seller, status=Lot.Status.SCHEDULED, starts_in=-HOUR, ends_in=HOUR),
        "open": make_lot(seller=seller, ends_in=HOUR),
        "overdue": make_lot(seller=seller, starts_in=-2 * HOUR, ends_in=-HOUR),
        "closed": make_lot(seller=seller, status=Lot.Status.CLOSED, starts_in=-2 * HOUR, ends_in=-HOUR, closed_at=now),
        "cancelled": make_lot(
            seller=seller, status=Lot.Status.CANCELLED, closed_at=now - timedelta(days=30), ends_in=HOUR
        ),
    }


def _named(lots, *names) -> set[int]:
    return {lots[name].pk for name in names}


def test_active_is_scheduled_or_open_whatever_the_time(lots):
    assert _pks(Lot.objects.active()) == _named(lots, "scheduled", "due", "open", "overdue")


def test_accepting_bids_at_agrees_with_the_model_rule(lots):
    now = timezone.now()
    assert _pks(Lot.objects.accepting_bids_at(now)) == _named(lots, "due", "open")
    assert _pks(Lot.objects.accepting_bids_at(now)) == {lot.pk for lot in lots.values() if lot.accepts_bids_at(now)}


def test_due_to_open_is_scheduled_lots_between_start_and_end(lots):
    now = timezone.now()
    assert _pks(Lot.objects.due_to_open(now)) == _named(lots, "due")
    assert _pks(Lot.objects.due_to_open(now + 1.5 * HOUR)) == _named(lots, "scheduled")


def test_ended_by_is_active_lots_at_or_past_their_end(lots):
    overdue = lots["overdue"]
    assert _pks(Lot.objects.ended_by(timezone.now())) == _named(lots, "overdue")
    assert _pks(Lot.objects.ended_by(overdue.ends_at)) == {overdue.pk}  # the end itself counts
    assert _pks(Lot.objects.ended_by(overdue.ends_at - timedelta(microseconds=1))) == set()
    assert _pks(Lot.objects.ended_by(timezone.now() + 3 * HOUR)) == _named(lots, "scheduled", "due", "open", "overdue")


def test_of_seller_and_watched_by(lots, make_lot, make_user):
    other = make_lot()
    watcher = make_user()
    Watch.objects.create(user=watcher, lot=lots["open"])
    Watch.objects.create(user=watcher, lot=other)
    assert _pks(Lot.objects.of_seller(lots["open"].seller_id)) == {lot.pk for lot in lots.values()}
    assert _pks(Lot.objects.of_seller(other.seller_id)) == {other.pk}
    assert _pks(Lot.objects.watched_by(watcher.pk)) == {lots["open"].pk, other.pk}


def test_active_or_ended_since_keeps_recent_endings_only(lots):
    since = timezone.now() - timedelta(days=7)
    assert _pks(Lot.objects.active_or_ended_since(since)) == _named(
        lots, "scheduled", "due", "open", "overdue", "closed"
    )


def test_filters_chain(lots):
    now = timezone.now()
    seller_id = lots["open"].seller_id
    assert _pks(Lot.objects.of_seller(seller_id).accepting_bids_at(now).filter(status=Lot.Status.OPEN)) == {
        lots["open"].pk
    }
