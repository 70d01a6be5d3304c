"""The database decides: even with no effective lot lock (as when it expires mid-transaction), racing bids at one
price produce exactly one accepted bid and one sequence step."""

from __future__ import annotations

import threading
from contextlib import nullcontext

import pytest
from django.db import connection

from auctions.exceptions import BidRefused
from auctions.models import Lot, LotEvent
from bidding import locks
from bidding.models import Bid
from bidding.services import decision, placing
from conftest import assert_lot_verifies

pytestmark = pytest.mark.django_db(transaction=True)


def test_same_price_from_many_threads_with_the_lock_gone_accepts_exactly_one(lot, make_user, monkeypatch):
    monkeypatch.setattr(placing, "lot_lock", lambda lot_id, **_: nullcontext())
    users = [make_user() for _ in range(12)]
    barrier = threading.Barrier(len(users))
    outcomes: list[str] = []

    def bid(user):
        barrier.wait()
        try:
            placing.place_bid(user=user, lot_id=lot.pk, amount=1_000, bid_id=f"same-price-{user.pk}")
            outcomes.append("accepted")
        except BidRefused as refusal:
            outcomes.append(refusal.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=bid, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("accepted") == 1
    assert set(outcomes) == {"accepted", "too_low"}
    lot.refresh_from_db()
    assert (lot.seq, lot.bid_count, lot.high_bid_amount) == (1, 1, 1_000)
    assert Bid.objects.filter(lot=lot).count() == 1
    assert LotEvent.objects.filter(lot=lot).count() == 1


@pytest.mark.redis_only
def test_releasing_a_lock_that_expired_does_not_fail_the_committed_bid(lot, bidder, settings, monkeypatch):

    settings.BID_LOCK_TIMEOUT_SECONDS = 0.1
    original = decision.decide_one

    def slow_record(*args, **kwargs):
        outcome = original(*args, **kwargs)
        threading.Event().wait(0.3)  # outlive the lock
        assert not locks.redis_client().exists(locks.lock_key(lot.pk))
        return outcome

    monkeypatch.setattr(decision, "decide_one", slow_record)
    outcome = placing.place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="slow")
    assert outcome.seq == 1
    assert Lot.objects.get(pk=lot.pk).high_bid_amount == 1_000


@pytest.mark.redis_only
def test_a_lock_that_expires_while_its_holder_stalls_loses_no_update(lot, bidder, make_user, settings, monkeypatch):
    """Lock timeout 1 s; the first bidder's decision stalls 3 s before it reads the lot. The second bidder takes the
    expired lock and commits a higher bid; the first, resuming, finds it under the row lock and is refused."""
    settings.BID_LOCK_TIMEOUT_SECONDS = 1
    settings.BID_LOCK_WAIT_SECONDS = 5
    rival = make_user("bob")
    original = decision.decide_one
    first_in = threading.Event()

    def stalling_record(user, **fields):
        if user.pk == bidder.pk:
            first_in.set()
            threading.Event().wait(3)  # a GC pause, a slow disk: the lock expires meanwhile
        return original(user, **fields)

    monkeypatch.setattr(decision, "decide_one", stalling_record)
    results: dict[str, object] = {}

    def bid(user, amount, name):
        try:
            results[name] = placing.place_bid(user=user, lot_id=lot.pk, amount=amount, bid_id=name)
        except BidRefused as refusal:
            results[name] = refusal
        finally:
            connection.close()

    first = threading.Thread(target=bid, args=(bidder, 1_000, "first"))
    first.start()
    assert first_in.wait(5)
    second = threading.Thread(target=bid, args=(rival, 1_500, "second"))
    second.start()
    second.join(10)
    assert not isinstance(results["second"], BidRefused), results["second"]  # it got the expired lock in time
    first.join(10)
    assert isinstance(results["first"], BidRefused) and results["first"].code == "too_low"
    fresh = Lot.objects.get(pk=lot.pk)
    assert (fresh.high_bid_amount, fresh.high_bidder_id, fresh.seq) == (1_500, rival.pk, 1)
    assert list(Bid.objects.filter(lot=lot).values_list("amount", flat=True)) == [1_500]
    assert_lot_verifies(lot.pk)
