"""Random interleavings of bids, automatic bids, retries, raised maxima, buy-now attempts and closes, driven by
Hypothesis against the real service (PostgreSQL and Redis). After every step: the audit holds."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from auctions.models import Lot
from auctions.services import close_due_lots
from conftest import closing_time
from bidding.exceptions import BidRefused
from bidding.increments import min_next_bid
from bidding.models import Bid
from bidding.replay import verify_lot
from bidding.services import buy_now, place_bid

pytestmark = pytest.mark.django_db

OFFSETS = st.sampled_from([-100, 0, 0, 0, 100, 250, 1_000, 5_000])
MAX_EXTRAS = st.one_of(st.none(), st.sampled_from([0, 100, 500, 2_000, 10_000]))


class BiddingMachine(RuleBasedStateMachine):
    users: list = []
    seller = None

    @initialize(reserve=st.sampled_from([None, 3_000]), buy_now_price=st.sampled_from([None, 20_000]))
    def new_lot(self, reserve, buy_now_price):
        from django.utils import timezone

        now = timezone.now()
        self.lot = Lot.objects.create(seller=self.seller, title="Property lot", starting_price=1_000,
                                      reserve_price=reserve, buy_now_price=buy_now_price, starts_at=now,
                                      ends_at=now + timedelta(hours=1), status=Lot.Status.OPEN)
        self.acked: dict[str, tuple] = {}  # bid_id -> (user, amount sent, max sent, seq, amount recorded)
        self.closed = False

    def _minimum(self) -> int:
        self.lot.refresh_from_db()
        return min_next_bid(starting_price=self.lot.starting_price, high_bid=self.lot.high_bid_amount)

    @rule(who=st.integers(0, 2), offset=OFFSETS, extra=MAX_EXTRAS)
    def bid(self, who, offset, extra):
        user, minimum = self.users[who], self._minimum()
        amount = max(1, minimum + offset)
        maximum = None if extra is None else amount + extra
        bid_id = uuid.uuid4().hex
        try:
            outcome = place_bid(user=user, lot_id=self.lot.pk, amount=amount, bid_id=bid_id, max_amount=maximum)
        except BidRefused as refusal:
            assert refusal.code in ("too_low", "closed", "invalid"), refusal.code
            if refusal.code == "too_low":
                assert amount < minimum
            if refusal.code == "closed":
                assert self.closed
            if refusal.code == "invalid":  # only lowering one's own maximum while leading
                assert refusal.details == {"field": "max_amount"}
            return
        assert not self.closed and amount >= minimum
        self.acked[bid_id] = (user, amount, maximum, outcome.seq, outcome.amount)

    @rule(data=st.data())
    def retry(self, data):
        if not self.acked:
            return
        bid_id = data.draw(st.sampled_from(sorted(self.acked)))
        user, amount, maximum, seq, recorded = self.acked[bid_id]
        try:
            again = place_bid(user=user, lot_id=self.lot.pk, amount=amount, bid_id=bid_id, max_amount=maximum)
        except BidRefused as refusal:
            # A raise of one's own maximum writes no bid row; its retry is judged afresh, like a new request.
            assert refusal.code in ("closed", "too_low", "invalid"), refusal.code
            assert not Bid.objects.filter(bidder=user, bid_id=bid_id).exists()
            return
        if Bid.objects.filter(bidder=user, bid_id=bid_id).exists():
            assert (again.duplicate, again.seq, again.amount) == (True, seq, recorded)

    @rule(who=st.integers(0, 2))
    def try_buy_now(self, who):
        had_bids = self._minimum() != self.lot.starting_price or self.lot.bid_count
        try:
            buy_now(user=self.users[who], lot_id=self.lot.pk, bid_id=uuid.uuid4().hex)
        except BidRefused as refusal:
            assert refusal.code in ("buy_now_unavailable", "closed")
            return
        assert self.lot.buy_now_price is not None and not had_bids and not self.closed
        self.closed = True

    @rule()
    def the_clock_reaches_the_end(self):
        self.lot.refresh_from_db()
        close_due_lots(now=closing_time(self.lot.ends_at))
        self.lot.refresh_from_db()
        assert self.lot.status == Lot.Status.CLOSED
        self.closed = True

    @invariant()
    def the_audit_holds(self):
        if not hasattr(self, "lot"):
            return
        self.lot.refresh_from_db()
        assert verify_lot(self.lot) == []
        stored = dict(Bid.objects.filter(lot=self.lot).exclude(bid_id=None).values_list("bid_id", "seq"))
        for bid_id, (_, _, _, seq, _) in self.acked.items():
            if bid_id in stored:
                assert stored[bid_id] == seq
            else:  # only a raised maximum is acknowledged without a row; the lot's seq did not move for it
                assert seq <= self.lot.seq


def test_random_interleavings_keep_the_audit(make_user, seller):
    BiddingMachine.users = [make_user(f"prop{i}") for i in range(3)]
    BiddingMachine.seller = seller
    run_state_machine_as_test(BiddingMachine, settings=settings(
        max_examples=30, stateful_step_count=20, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
