"""Automatic bidding, the reserve and buy now through the one service, against real PostgreSQL (and Redis)."""

from __future__ import annotations

import json
import random
import threading
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from rest_framework.test import APIClient

from auctions.exceptions import BidRefused
from auctions.models import Lot, LotEvent
from auctions.rules import increment_for
from bidding.closing import close_due_lots
from bidding.models import Bid
from bidding.services import buy_now, place_bid
from bidding.tests.live import receive_until
from conftest import assert_lot_verifies, closing_time

pytestmark = pytest.mark.django_db


def refused(callable_, **kwargs) -> BidRefused:
    with pytest.raises(BidRefused) as info:
        callable_(**kwargs)
    return info.value


def history(lot) -> list[tuple]:
    return list(
        Bid.objects.filter(lot=lot)
        .order_by("seq")
        .values_list("seq", "bidder__username", "amount", "kind", "outbid_at_once")
    )


def every_broadcast(lot) -> str:
    return json.dumps(list(LotEvent.objects.filter(lot=lot).order_by("seq").values_list("payload", flat=True)))


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def carol(make_user):
    return make_user("carol")


def test_a_maximum_bids_for_you_only_as_much_as_needed(lot, bidder, bob, carol):
    first = place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="a1", max_amount=5_000)
    assert (first.amount, first.leading, first.max_amount) == (1_000, True, 5_000)

    beaten = place_bid(user=bob, lot_id=lot.pk, amount=2_000, bid_id="b1")
    assert (beaten.amount, beaten.leading, beaten.max_amount, beaten.seq) == (2_000, False, None, 2)
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.high_bidder, lot.bid_count) == (2_250, bidder, 3)

    winner = place_bid(user=carol, lot_id=lot.pk, amount=2_500, bid_id="c1", max_amount=9_000)
    assert (winner.amount, winner.leading, winner.automatic) == (5_250, True, True)
    assert history(lot) == [
        (1, "alice", 1_000, "manual", False),
        (2, "bob", 2_000, "manual", True),  # beaten at once: the history says why Bob was "instantly outbid"
        (3, "alice", 2_250, "automatic", False),
        (4, "alice", 5_000, "automatic", True),  # Alice's maximum spent, then beaten by Carol's
        (5, "carol", 5_250, "automatic", False),
    ]
    # Every row has its event, in sequence; nobody's live maximum (Carol's 90.00) is ever broadcast.
    assert list(LotEvent.objects.filter(lot=lot).values_list("seq", flat=True)) == [1, 2, 3, 4, 5]
    assert "9000" not in every_broadcast(lot) and "max" not in every_broadcast(lot)


def test_raising_your_own_maximum_keeps_the_price_and_is_told_only_to_you(lot, bidder, bob):
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="a1", max_amount=2_000)
    raised = place_bid(user=bidder, lot_id=lot.pk, amount=1_100, bid_id="a2", max_amount=8_000)
    assert (raised.amount, raised.seq, raised.leading, raised.max_amount) == (1_000, 1, True, 8_000)
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.seq, lot.leader_max_amount) == (1_000, 1, 8_000)
    # The raised maximum then defends against a bid the old one could not have.
    assert place_bid(user=bob, lot_id=lot.pk, amount=3_000, bid_id="b1").leading is False
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.high_bidder) == (3_250, bidder)


def test_lowering_your_maximum_is_refused_and_changes_nothing(lot, bidder):
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="a1", max_amount=5_000)
    refusal = refused(place_bid, user=bidder, lot_id=lot.pk, amount=1_100, bid_id="a2", max_amount=3_000)
    assert (refusal.code, refusal.details) == ("invalid", {"field": "max_amount"})
    lot.refresh_from_db()
    assert lot.leader_max_amount == 5_000


@pytest.mark.parametrize("max_amount", [999, 1.5e3, "5000", -1, True])
def test_a_maximum_below_the_amount_or_not_cents_is_invalid(lot, bidder, max_amount):
    refusal = refused(place_bid, user=bidder, lot_id=lot.pk, amount=1_000, bid_id="a1", max_amount=max_amount)
    assert (refusal.code, refusal.details) == ("invalid", {"field": "max_amount"})
    assert not Bid.objects.exists()


def test_a_retry_gets_the_original_answer_and_a_changed_maximum_is_a_different_bid(lot, bidder, bob):
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="a1", max_amount=5_000)
    first = place_bid(user=bob, lot_id=lot.pk, amount=2_000, bid_id="b1", max_amount=3_000)
    again = place_bid(user=bob, lot_id=lot.pk, amount=2_000, bid_id="b1", max_amount=3_000)
    assert (again.amount, again.seq, again.leading, again.duplicate) == (first.amount, 2, False, True)
    assert Bid.objects.filter(bidder=bob).count() == 1
    assert refused(place_bid, user=bob, lot_id=lot.pk, amount=2_000, bid_id="b1", max_amount=4_000).code == "invalid"


def test_reserve_met_by_a_maximum_lifts_the_price_and_the_lot_sells(make_lot, seller, bidder):
    lot = make_lot(seller=seller, reserve_price=4_000)
    outcome = place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="a1", max_amount=6_000)
    assert (outcome.amount, outcome.automatic) == (4_000, True)
    lot.refresh_from_db()
    assert lot.reserve_met
    Lot.objects.filter(pk=lot.pk).update(ends_at=lot.starts_at + timedelta(seconds=1))
    close_due_lots(now=closing_time(lot.starts_at + timedelta(seconds=1)))
    lot.refresh_from_db()
    assert (lot.winner, lot.high_bid_amount, lot.leader_max_amount) == (bidder, 4_000, None)


def test_a_lot_closing_under_its_reserve_has_no_winner(make_lot, seller, bidder):
    lot = make_lot(seller=seller, reserve_price=4_000)
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="a1", max_amount=3_000)
    Lot.objects.filter(pk=lot.pk).update(ends_at=lot.starts_at + timedelta(seconds=1))
    close_due_lots(now=closing_time(lot.starts_at + timedelta(seconds=1)))
    lot.refresh_from_db()
    assert (lot.status, lot.winner, lot.reserve_met) == ("closed", None, False)
    assert LotEvent.objects.get(lot=lot, seq=lot.seq).payload["reserve_met"] is False


def test_buy_now_ends_the_lot_at_once_for_the_buyer(make_lot, seller, bidder, bob):
    lot = make_lot(seller=seller, buy_now_price=20_000)
    outcome = buy_now(user=bidder, lot_id=lot.pk, bid_id="buy-1")
    assert (outcome.amount, outcome.seq) == (20_000, 1)
    lot.refresh_from_db()
    assert (lot.status, lot.winner, lot.high_bid_amount, lot.seq) == ("closed", bidder, 20_000, 2)
    assert [e["type"] for e in LotEvent.objects.filter(lot=lot).values_list("payload", flat=True)] == [
        "high_bid",
        "closed",
    ]
    assert buy_now(user=bidder, lot_id=lot.pk, bid_id="buy-1").duplicate  # a retry, not a second purchase
    assert refused(buy_now, user=bob, lot_id=lot.pk, bid_id="buy-2").code == "closed"
    assert refused(place_bid, user=bob, lot_id=lot.pk, amount=30_000, bid_id="b1").code == "closed"
    assert Bid.objects.filter(lot=lot).count() == 1


def test_buy_now_ends_with_the_first_bid_and_is_refused_where_bidding_is(make_lot, seller, bidder, bob, make_user):
    lot = make_lot(seller=seller, buy_now_price=20_000)
    assert refused(buy_now, user=seller, lot_id=lot.pk, bid_id="x").details == {"reason": "own_lot"}
    banned = make_user("mallory", banned=True)
    assert refused(buy_now, user=banned, lot_id=lot.pk, bid_id="x").details == {"reason": "banned"}
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="a1")
    assert refused(buy_now, user=bob, lot_id=lot.pk, bid_id="x").code == "buy_now_unavailable"
    plain = make_lot(seller=seller)
    assert refused(buy_now, user=bob, lot_id=plain.pk, bid_id="x").code == "buy_now_unavailable"
    lot.refresh_from_db()
    assert (lot.status, lot.bid_count) == ("open", 1)


def test_history_labels_automatic_bids_and_shows_a_maximum_to_its_owner_only(lot, bidder, bob):
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="a1", max_amount=5_000)
    place_bid(user=bob, lot_id=lot.pk, amount=2_000, bid_id="b1")
    api = APIClient()
    api.force_authenticate(bob)
    rows = api.get(f"/api/lots/{lot.pk}/bids/").json()["bids"]
    assert [(r["bidder"], r["amount"], r["kind"], r["yours"]) for r in rows] == [
        ("Bidder 1", 2_250, "automatic", False),
        ("Bidder 2", 2_000, "manual", True),
        ("Bidder 1", 1_000, "manual", False),
    ]
    assert "5000" not in json.dumps(rows)
    api.force_authenticate(bidder)
    mine = api.get(f"/api/lots/{lot.pk}/bids/").json()["bids"]
    assert mine[-1]["your_max_amount"] == 5_000
    assert "your_max_amount" not in mine[1]


def test_buy_now_and_maxima_over_http(make_lot, seller, bidder, bob):
    lot = make_lot(seller=seller, buy_now_price=20_000)
    api = APIClient()
    api.force_authenticate(bidder)
    listed = api.get("/api/lots/").json()
    assert [row["buy_now_price"] for row in listed["lots"] if row["id"] == lot.pk] == [20_000]
    reply = api.post(
        f"/api/lots/{lot.pk}/bids/", {"amount": 1_000, "max_amount": 4_000, "bid_id": "h1"}, format="json"
    ).json()
    assert (reply["leading"], reply["max_amount"]) == (True, 4_000)
    api.force_authenticate(bob)
    response = api.post(f"/api/lots/{lot.pk}/buy-now/", {"bid_id": "h2"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "buy_now_unavailable")


def test_buy_now_below_the_reserve_cannot_be_set(seller):
    from django.utils import timezone

    from auctions.services import create_lot

    now = timezone.now()
    with pytest.raises(BidRefused) as info:
        create_lot(
            seller=seller,
            title="x",
            starting_price=1_000,
            reserve_price=5_000,
            buy_now_price=4_000,
            starts_at=now,
            ends_at=now + timedelta(hours=1),
        )
    assert info.value.details == {"field": "buy_now_price"}


@pytest.mark.django_db(transaction=True)
def test_racing_maxima_end_at_the_second_maximum_plus_one_increment(make_lot, seller, make_user):
    """Twelve bidders with distinct hidden maxima bid concurrently from threads (real lock, real row lock), each
    at the minimum next bid until they lead or their maximum is passed. The marketplace rule fixes the end."""
    lot = make_lot(seller=seller)
    # Maxima at least two increments apart, so none is passed over before its owner gets a bid in.
    maxima = random.sample(range(2_000, 95_000, 2_500), 12)
    users = [make_user(f"proxy{i}") for i in range(len(maxima))]
    failures: list[BaseException] = []
    start = threading.Barrier(len(users))

    def bidder(user, maximum):
        try:
            start.wait()
            for _ in range(40):
                current = Lot.objects.get(pk=lot.pk)
                if current.high_bidder_id == user.pk:
                    break
                minimum = (
                    current.high_bid_amount + increment_for(current.high_bid_amount)
                    if current.high_bid_amount
                    else current.starting_price
                )
                if minimum > maximum:
                    break
                try:
                    place_bid(user=user, lot_id=lot.pk, amount=minimum, bid_id=uuid.uuid4().hex, max_amount=maximum)
                except BidRefused as refusal:
                    assert refusal.code in ("too_low", "busy"), refusal.code
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=bidder, args=pair) for pair in zip(users, maxima, strict=False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures

    top, second = sorted(maxima)[-1], sorted(maxima)[-2]
    lot.refresh_from_db()
    assert lot.high_bidder == users[maxima.index(top)]
    assert lot.high_bid_amount == min(top, second + increment_for(second))
    rows = list(Bid.objects.filter(lot=lot).order_by("seq").values_list("seq", "amount", "outbid_at_once"))
    assert [seq for seq, _, _ in rows] == list(range(1, lot.seq + 1))
    standing = [amount for _, amount, beaten in rows if not beaten]
    assert standing == sorted(set(standing)) and standing[-1] == lot.high_bid_amount
    assert_lot_verifies(lot.pk)


@pytest.mark.django_db(transaction=True)
async def test_over_the_socket_a_beaten_bid_is_acknowledged_and_everyone_sees_why(open_socket, lot, bidder, bob):
    alice_socket = await open_socket(lot.pk, bidder)
    bob_socket = await open_socket(lot.pk, bob)
    watcher = await open_socket(lot.pk)
    await alice_socket.send_json_to({"type": "bid", "amount": 1_000, "max_amount": 5_000, "bid_id": "a1"})
    ack = await receive_until(alice_socket, "bid_accepted", timeout=5)
    assert (ack["leading"], ack["max_amount"]) == (True, 5_000)

    await bob_socket.send_json_to({"type": "bid", "amount": 2_000, "bid_id": "b1"})
    reply = await receive_until(bob_socket, "bid_accepted", timeout=5)
    assert (reply["amount"], reply["leading"], reply["max_amount"]) == (2_000, False, None)
    seen = [await receive_until(watcher, "high_bid", timeout=5) for _ in range(3)]
    assert [(m["seq"], m["amount"], m["automatic"], m["outbid_at_once"]) for m in seen] == [
        (1, 1_000, False, False),
        (2, 2_000, False, True),
        (3, 2_250, True, False),
    ]
    assert seen[-1]["min_next_bid"] == 2_500
    assert "5000" not in json.dumps(seen)

    # A fresh snapshot tells Alice her maximum and nobody else.
    again = await open_socket(lot.pk, bidder)
    assert again.snapshot["you"] == {"alias": "Bidder 1", "max_amount": 5_000}
    other = await open_socket(lot.pk, bob)
    assert other.snapshot["you"] == {"alias": "Bidder 2", "max_amount": None}


@pytest.mark.django_db(transaction=True)
async def test_buy_now_over_the_socket_closes_the_lot_for_every_watcher(open_socket, make_lot, seller, bidder):
    lot = await sync_to_async(make_lot)(seller=seller, buy_now_price=15_000)
    buyer = await open_socket(lot.pk, bidder)
    assert buyer.snapshot["buy_now_price"] == 15_000
    watcher = await open_socket(lot.pk)
    await buyer.send_json_to({"type": "buy_now", "bid_id": "n1"})
    ack = await receive_until(buyer, "bid_accepted", timeout=5)
    assert (ack["amount"], ack["seq"]) == (15_000, 1)
    bought = await receive_until(watcher, "high_bid", timeout=5)
    closed = await receive_until(watcher, "closed", timeout=5)
    assert (bought["buy_now"], closed["amount"], closed["winner"], closed["seq"]) == (True, 15_000, "Bidder 1", 2)
