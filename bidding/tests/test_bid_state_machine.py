"""Random interleavings of bids, automatic bids, retries (over the service and over HTTP), raised maxima, buy-now
attempts, staff extensions, bans and cancellations, and closes, driven by Hypothesis against the real service
(PostgreSQL and Redis). After every step: the audit holds."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from rest_framework.test import APIClient

from accounts.models import Profile
from auctions.exceptions import BidRefused
from auctions.models import Lot
from auctions.rules import min_next_bid
from bidding import payloads
from bidding.closing import close_due_lots
from bidding.lot_actions import ban_bidder, cancel_lot, extend_lot
from bidding.models import Bid
from bidding.replay import verify_lot
from bidding.services import buy_now, place_bid
from conftest import closing_time

pytestmark = pytest.mark.django_db

OFFSETS = st.sampled_from([-100, 0, 0, 0, 100, 250, 1_000, 5_000])
MAX_EXTRAS = st.one_of(st.none(), st.sampled_from([0, 100, 500, 2_000, 10_000]))


class BiddingMachine(RuleBasedStateMachine):
    users: list = []
    seller = None
    staff = None

    @initialize(reserve=st.sampled_from([None, 3_000]), buy_now_price=st.sampled_from([None, 20_000]))
    def new_lot(self, reserve, buy_now_price):
        from django.utils import timezone

        now = timezone.now()
        self.lot = Lot.objects.create(
            seller=self.seller,
            title="Property lot",
            starting_price=1_000,
            reserve_price=reserve,
            buy_now_price=buy_now_price,
            starts_at=now,
            ends_at=now + timedelta(hours=1),
            status=Lot.Status.OPEN,
        )
        # bid_id -> (user, the request's fields, the original bid_accepted): buy-nows have no amount
        self.acked: dict[str, tuple] = {}
        self.closed = False
        Profile.objects.filter(user__in=self.users).update(banned=False)
        self.banned: set[int] = set()

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
            assert refusal.code in ("too_low", "closed", "invalid", "forbidden"), refusal.code
            assert (refusal.code == "forbidden") == (user.pk in self.banned)
            if refusal.code == "too_low":
                assert amount < minimum
            if refusal.code == "closed":
                assert self.closed
            if refusal.code == "invalid":  # only lowering one's own maximum while leading
                assert refusal.details == {"field": "max_amount"}
            return
        assert not self.closed and amount >= minimum and user.pk not in self.banned
        fields = {"amount": amount, "max_amount": maximum}
        self.acked[bid_id] = (user, fields, payloads.bid_accepted(outcome))

    @rule(data=st.data(), over_http=st.booleans())
    def retry(self, data, over_http):
        """Any accepted action, retried later on any transport, whatever happened since (a ban, the close, a
        cancel): its original answer, marked duplicate, and nothing written."""
        if not self.acked:
            return
        bid_id = data.draw(st.sampled_from(sorted(self.acked)))
        user, fields, original = self.acked[bid_id]
        seq_before = Lot.objects.get(pk=self.lot.pk).seq
        if over_http:
            api = APIClient()
            api.force_authenticate(user)
            path = "buy-now" if "amount" not in fields else "bids"
            body = {key: value for key, value in {**fields, "bid_id": bid_id}.items() if value is not None}
            response = api.post(f"/api/lots/{self.lot.pk}/{path}/", body, format="json")
            assert response.status_code == 201, response.json()
            again = response.json()
        elif "amount" in fields:
            again = payloads.bid_accepted(place_bid(user=user, lot_id=self.lot.pk, bid_id=bid_id, **fields))
        else:
            again = payloads.bid_accepted(buy_now(user=user, lot_id=self.lot.pk, bid_id=bid_id))
        assert again == {**original, "duplicate": True}
        assert Lot.objects.get(pk=self.lot.pk).seq == seq_before

    @rule(who=st.integers(0, 2))
    def try_buy_now(self, who):
        had_bids = self._minimum() != self.lot.starting_price or self.lot.bid_count
        user, bid_id = self.users[who], uuid.uuid4().hex
        try:
            outcome = buy_now(user=user, lot_id=self.lot.pk, bid_id=bid_id)
        except BidRefused as refusal:
            assert refusal.code in ("buy_now_unavailable", "closed", "forbidden")
            assert (refusal.code == "forbidden") == (user.pk in self.banned)
            return
        assert self.lot.buy_now_price is not None and not had_bids and not self.closed
        self.acked[bid_id] = (user, {}, payloads.bid_accepted(outcome))
        self.closed = True

    @rule(seconds=st.sampled_from([60, 3_600]))
    def staff_extend(self, seconds):
        try:
            extend_lot(user=self.staff, lot_id=self.lot.pk, seconds=seconds, reason="An outage")
        except BidRefused as refusal:
            assert refusal.code == "closed" and self.closed
            return
        assert not self.closed

    @rule(who=st.integers(0, 2))
    def staff_ban(self, who):
        user = self.users[who]
        if not Bid.objects.filter(lot=self.lot, bidder=user).exists():
            return
        ban_bidder(user=self.staff, bidder_id=user.pk, reason="Shill bidding", lot_id=self.lot.pk)
        self.banned.add(user.pk)

    @rule()
    def staff_cancel(self):
        try:
            cancel_lot(user=self.staff, lot_id=self.lot.pk, reason="Withdrawn by the house")
        except BidRefused as refusal:
            assert refusal.code == "closed" and self.closed
            return
        assert not self.closed
        self.closed = True

    @rule()
    def the_clock_reaches_the_end(self):
        self.lot.refresh_from_db()
        close_due_lots(now=closing_time(self.lot.ends_at))
        self.lot.refresh_from_db()
        assert self.lot.status in (Lot.Status.CLOSED, Lot.Status.CANCELLED)
        self.closed = True

    @invariant()
    def the_audit_holds(self):
        if not hasattr(self, "lot"):
            return
        self.lot.refresh_from_db()
        assert verify_lot(self.lot) == []
        stored = dict(Bid.objects.filter(lot=self.lot).exclude(bid_id=None).values_list("bid_id", "seq"))
        for bid_id, (_, _, original) in self.acked.items():
            if bid_id in stored:
                assert stored[bid_id] == original["seq"]
            else:  # only a raised maximum is acknowledged without a row; the lot's seq did not move for it
                assert original["seq"] <= self.lot.seq


def test_random_interleavings_keep_the_audit(make_user, seller, django_user_model):
    BiddingMachine.users = [make_user(f"prop{i}") for i in range(3)]
    BiddingMachine.seller = seller
    BiddingMachine.staff = django_user_model.objects.create_user("house", password="pw", is_staff=True)
    run_state_machine_as_test(
        BiddingMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
