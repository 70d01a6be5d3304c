"""The live bid path (bidding/services/live/) against PostgreSQL (and Redis for the lot lock): the clerk's
actions, internet, floor and absentee bids, the hammer, undo and reopen, permissions; verify_lot on every lot."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from auctions.exceptions import BidRefused
from auctions.models import AbsenteeBid, Lot, Notice, Sale
from bidding.models import Bid
from bidding.services import live
from bidding.tests.live import act, bid, lots_of, opened, refused, register
from conftest import assert_lot_verifies

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clerk(make_user):
    return make_user("clerk", can_bid=False)


@pytest.fixture
def sale(make_sale, clerk):
    sale = make_sale(lots=3, starting_price=1_000)
    sale.clerks.add(clerk)
    return sale


def test_racing_internet_bids_at_one_ask_exactly_one_is_taken_the_others_told_the_new_ask(sale, clerk, make_user):
    lot = opened(clerk, sale)
    bidders = [make_user(f"net{i}") for i in range(8)]
    for user in bidders:
        register(sale, user)
    start, results = threading.Barrier(len(bidders)), []

    def run(user):
        try:
            start.wait()
            results.append(("ok", bid(user, sale, 1_000)))
        except BidRefused as refusal:
            results.append((refusal.code, refusal.details))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(user,)) for user in bidders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [r for r in results if r[0] == "ok"]
    assert len(taken) == 1
    assert sorted({(code, details["ask"]) for code, details in results if code != "ok"}) == [("too_low", 1_100)]
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.live_ask, lot.bid_count) == (1_000, 1_100, 1)
    assert_lot_verifies(lot.pk)


def test_an_amount_other_than_the_ask_is_refused_with_the_ask_never_taken_higher(sale, clerk, make_user):
    opened(clerk, sale)
    bidder = make_user()
    register(sale, bidder)
    refusal = refused(bid, bidder, sale, 1_500)
    assert (refusal.code, refusal.details["ask"]) == ("too_low", 1_000)
    assert not Bid.objects.exists()


def test_without_auto_accept_a_floor_bid_before_accept_takes_the_ask(make_sale, clerk, make_user):
    sale = make_sale(lots=1, auto_accept=False)
    sale.clerks.add(clerk)
    lot = opened(clerk, sale)
    net = make_user()
    register(sale, net)
    assert bid(net, sale, 1_000)["type"] == "live_bid_waiting"
    act(clerk, sale, "floor_bid", paddle=12)
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.live_leader_source, lot.live_leader_paddle, lot.live_pending) == (
        1_000,
        "floor",
        12,
        None,
    )
    refusal = refused(act, clerk, sale, "accept")
    assert refusal.code == "invalid"  # nothing waits any more
    # At the new ask the internet bid waits again, and the clerk's Accept takes it.
    assert bid(net, sale, 1_100)["type"] == "live_bid_waiting"
    act(clerk, sale, "accept")
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.high_bidder_id, lot.live_leader_source) == (1_100, net.pk, "internet")
    assert_lot_verifies(lot.pk)


def test_absentee_bids_open_above_the_second_highest_and_answer_the_floor_up_to_their_maximum(sale, clerk, make_user):
    lot = lots_of(sale)[0]
    high, low = make_user("high"), make_user("low")
    now = timezone.now()
    AbsenteeBid.objects.create(registration=register(sale, high), lot=lot, max_amount=1_500, placed_at=now)
    AbsenteeBid.objects.create(registration=register(sale, low), lot=lot, max_amount=1_100, placed_at=now)
    opened(clerk, sale)
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.high_bidder_id, lot.live_leader_source) == (1_200, high.pk, "absentee")
    act(clerk, sale, "floor_bid")  # 1,300: answered at 1,400
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.high_bidder_id) == (1_400, high.pk)
    act(clerk, sale, "floor_bid")  # 1,500: the absentee's next step would pass its maximum
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.high_bidder_id, lot.live_leader_source) == (1_500, None, "floor")
    sources = list(Bid.objects.filter(lot=lot).values_list("source", "amount"))
    assert sources == [("absentee", 1_200), ("floor", 1_300), ("absentee", 1_400), ("floor", 1_500)]
    act(clerk, sale, "sold")
    lot.refresh_from_db()
    assert (lot.live_state, lot.winner_id, lot.live_leader_source) == ("sold", None, "floor")
    assert_lot_verifies(lot.pk)


def test_sold_records_the_hammer_and_winner_and_a_later_internet_bid_is_refused_closed_with_late_ms(
    sale, clerk, make_user
):
    lot = opened(clerk, sale)
    winner, late = make_user(), make_user()
    register(sale, winner)
    register(sale, late)
    bid(winner, sale, 1_000)
    act(clerk, sale, "fair_warning")
    act(clerk, sale, "sold")
    lot.refresh_from_db()
    assert (lot.live_state, lot.status, lot.winner_id, lot.high_bid_amount) == ("sold", "closed", winner.pk, 1_000)
    assert lot.hammer_at is not None
    refusal = refused(bid, late, sale, 1_100, received_at=lot.hammer_at + timedelta(milliseconds=250))
    assert (refusal.code, refusal.details["late_ms"]) == ("closed", 250)
    assert lot.events.filter(payload__event="sold", payload__hammer_at__isnull=False).exists()
    assert_lot_verifies(lot.pk)


def test_undo_takes_the_price_and_leader_back_and_tells_the_bidder(sale, clerk, make_user):
    from auctions.models import Notice

    lot = opened(clerk, sale)
    a, b = make_user(), make_user()
    register(sale, a)
    register(sale, b)
    bid(a, sale, 1_000)
    bid(b, sale, 1_100)
    act(clerk, sale, "undo")
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.high_bidder_id, lot.live_ask, lot.bid_count) == (1_000, a.pk, 1_100, 1)
    assert Notice.objects.filter(user=b, payload__type="bid_withdrawn").exists()
    undone = lot.events.get(payload__event="undone").payload
    assert (undone["amount"], undone["bidder"], undone["ask"]) == (1_000, "Bidder 1", 1_100)  # a leads again
    bid(b, sale, 1_100)  # the withdrawn price may be bid again
    act(clerk, sale, "sold")
    assert_lot_verifies(lot.pk)


def test_reopen_before_next_is_the_clerks_after_next_only_staffs_with_a_reason(sale, clerk, make_user, staff):
    lot = opened(clerk, sale)
    act(clerk, sale, "pass")
    act(clerk, sale, "reopen")
    bidder = make_user()
    register(sale, bidder)
    bid(bidder, sale, 1_000)
    act(clerk, sale, "sold")
    act(clerk, sale, "next")
    assert refused(act, clerk, sale, "reopen", lot_id=lot.pk).details["reason"] == "moved_on"
    assert refused(act, staff, sale, "reopen", lot_id=lot.pk).details["field"] == "reason"
    act(staff, sale, "reopen", lot_id=lot.pk, reason="the clerk hit sold by mistake")
    lot.refresh_from_db()
    assert (lot.live_state, lot.winner_id, lot.hammer_at) == ("open", None, None)
    assert lot.events.filter(payload__event="reopened", payload__reason="the clerk hit sold by mistake").exists()
    assert_lot_verifies(lot.pk)


def test_a_lot_staff_reopen_after_the_block_moved_on_goes_back_on_the_block_and_its_buyer_is_told(
    sale, clerk, make_user, staff
):
    """Left open off the block, the lot could take no bid and the sale could never finish."""
    first = opened(clerk, sale)
    buyer, rival = make_user("buyer"), make_user("rival")
    for user in (buyer, rival):
        register(sale, user)
    bid(buyer, sale, 1_000)
    act(clerk, sale, "sold")
    act(clerk, sale, "next")
    second = Lot.objects.get(pk=Sale.objects.get(pk=sale.pk).current_lot_id)
    act(clerk, sale, "offer")
    assert refused(act, staff, sale, "reopen", lot_id=first.pk, reason="sold by mistake").details["field"] == "action"
    act(clerk, sale, "pass")

    act(staff, sale, "reopen", lot_id=first.pk, reason="sold by mistake")
    assert Sale.objects.get(pk=sale.pk).current_lot_id == first.pk
    events = [event["event"] for event in first.events.order_by("seq").values_list("payload", flat=True)]
    assert events[-2:] == ["reopened", "on_block"]
    assert second.events.order_by("-seq").first().payload["event"] == "moved_on"
    notices = [n["type"] for n in Notice.objects.filter(user=buyer).order_by("pk").values_list("payload", flat=True)]
    assert notices[-2:] == ["won", "win_withdrawn"]

    taken = bid(rival, sale, 1_100)  # the lot takes bids again, at its ask
    assert (taken["type"], taken["lot"], taken["amount"]) == ("live_bid_accepted", first.pk, 1_100)
    act(clerk, sale, "sold")
    act(clerk, sale, "finish")
    first.refresh_from_db()
    assert (first.live_state, first.winner_id, first.high_bid_amount) == ("sold", rival.pk, 1_100)
    assert Sale.objects.get(pk=sale.pk).status == "finished"
    assert_lot_verifies(first.pk)
    assert_lot_verifies(second.pk)


def test_pause_refuses_bids_until_resume(sale, clerk, make_user):
    lot = opened(clerk, sale)
    bidder = make_user()
    register(sale, bidder)
    act(clerk, sale, "pause", message="Back in five minutes")
    assert refused(bid, bidder, sale, 1_000).details["reason"] == "paused"
    assert refused(act, clerk, sale, "floor_bid").details["reason"] == "paused"
    act(clerk, sale, "resume")
    bid(bidder, sale, 1_000)
    assert lot.events.filter(payload__event="paused", payload__message="Back in five minutes").exists()
    assert_lot_verifies(lot.pk)


def test_passed_lot_re_offered_at_the_end(sale, clerk, make_user):
    first = opened(clerk, sale)
    act(clerk, sale, "pass")
    act(clerk, sale, "next")
    act(clerk, sale, "offer")
    act(clerk, sale, "pass")
    act(clerk, sale, "jump", lot_id=first.pk)
    act(clerk, sale, "offer")
    bidder = make_user()
    register(sale, bidder)
    bid(bidder, sale, 1_000)
    act(clerk, sale, "sold")
    first.refresh_from_db()
    assert (first.live_state, first.winner_id) == ("sold", bidder.pk)
    for lot in lots_of(sale):
        assert_lot_verifies(lot.pk)
    out = io.StringIO()
    call_command("verify_lot", *[str(lot.pk) for lot in lots_of(sale)], stdout=out)
    assert out.getvalue().count(": ok") == 3, out.getvalue()


def test_the_clerks_increment_and_typed_ask(sale, clerk, make_user):
    lot = opened(clerk, sale)
    bidder = make_user()
    register(sale, bidder)
    act(clerk, sale, "increment", increment=500)
    bid(bidder, sale, 1_000)
    lot.refresh_from_db()
    assert lot.live_ask == 1_500
    act(clerk, sale, "ask", ask=2_000)
    assert refused(bid, bidder, sale, 1_500).details["ask"] == 2_000
    act(clerk, sale, "floor_bid")
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.live_ask) == (2_000, 2_500)
    assert_lot_verifies(lot.pk)


def test_permissions(make_sale, clerk, make_user):
    sale = make_sale(lots=1, requires_approval=True)
    sale.clerks.add(clerk)
    opened(clerk, sale)
    stranger, unapproved, banned = make_user(), make_user(), make_user(banned=True)
    register(sale, unapproved, approved=False)
    register(sale, banned)
    assert refused(act, stranger, sale, "floor_bid").details["reason"] == "not_clerk"
    assert refused(bid, stranger, sale, 1_000).details["reason"] == "not_registered"
    assert refused(bid, unapproved, sale, 1_000).details["reason"] == "not_approved"
    assert refused(bid, banned, sale, 1_000).details["reason"] == "banned"
    assert refused(bid, sale.house, sale, 1_000).details["reason"] == "own_sale"
    act(sale.house, sale, "floor_bid")  # the house bids as the floor
    assert not Bid.objects.filter(source="internet").exists()


def test_a_bid_received_before_the_hammer_but_reaching_the_lot_after_it_is_refused_for_the_clerk_to_reopen(
    sale, clerk, make_user
):
    lot = opened(clerk, sale)
    a = make_user()
    register(sale, a)
    act(clerk, sale, "floor_bid")
    act(clerk, sale, "sold")
    lot.refresh_from_db()
    refusal = refused(bid, a, sale, 1_100, received_at=lot.hammer_at - timedelta(milliseconds=40))
    assert (refusal.code, refusal.details["late_ms"], refusal.details["before_hammer"]) == ("closed", 0, True)
    act(clerk, sale, "reopen")
    bid(a, sale, 1_100)
    act(clerk, sale, "sold")
    lot.refresh_from_db()
    assert (lot.winner_id, lot.high_bid_amount) == (a.pk, 1_100)
    assert_lot_verifies(lot.pk)


def test_verify_lot_reports_a_live_lot_that_differs_from_its_log(sale, clerk, make_user):
    from bidding.replay import verify_lot

    lot = lots_of(sale)[0]
    absent = make_user()
    AbsenteeBid.objects.create(registration=register(sale, absent), lot=lot, max_amount=1_300, placed_at=timezone.now())
    opened(clerk, sale)
    act(clerk, sale, "floor_bid")  # 1,100, answered 1,200
    act(clerk, sale, "floor_bid")  # 1,300, answered: no (the next step would pass 1,300)
    act(clerk, sale, "undo")
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.live_leader_source) == (1_200, "absentee")
    assert verify_lot(lot) == []
    Lot.objects.filter(pk=lot.pk).update(high_bid_amount=1_250)
    assert verify_lot(Lot.objects.get(pk=lot.pk)) == ["high_bid_amount: stored 1250, replay gives 1200"]
    Lot.objects.filter(pk=lot.pk).update(high_bid_amount=1_200)
    Bid.objects.filter(lot=lot, source="absentee", amount=1_200).update(amount=1_250)
    problems = verify_lot(Lot.objects.get(pk=lot.pk))
    assert any("absentee answer 1250, replay gives 1200" in problem for problem in problems), problems
    Bid.objects.filter(lot=lot, withdrawn_at__isnull=False).update(withdrawn_at=None)
    assert any("not marked withdrawn" in problem for problem in verify_lot(Lot.objects.get(pk=lot.pk)))


def test_an_absentee_never_answers_its_own_bidder_and_a_retry_gets_its_first_answer(sale, clerk, make_user):
    lot = lots_of(sale)[0]
    both = make_user()
    AbsenteeBid.objects.create(registration=register(sale, both), lot=lot, max_amount=5_000, placed_at=timezone.now())
    opened(clerk, sale)  # opens at 1,000 for their absentee bid
    act(clerk, sale, "floor_bid")  # 1,100, answered 1,200 for them
    first = live.live_bid(user=both, sale_id=sale.pk, amount=1_300, bid_id="mine")  # they bid over themselves
    again = live.live_bid(user=both, sale_id=sale.pk, amount=1_300, bid_id="mine")
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.high_bidder_id, lot.live_leader_source) == (1_300, both.pk, "internet")
    assert (first["seq"], again["duplicate"]) == (again["seq"], True)
    assert_lot_verifies(lot.pk)


def test_a_floor_bid_and_an_internet_bid_racing_at_one_ask_one_is_taken_the_other_told_the_new_ask(
    sale, clerk, make_user
):
    lot = opened(clerk, sale)
    net = make_user()
    register(sale, net)
    start, results = threading.Barrier(2), {}

    def run(name, call):
        try:
            start.wait()
            call()
            results[name] = "taken"
        except BidRefused as refusal:
            results[name] = (refusal.code, refusal.details["ask"])
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("net", lambda: bid(net, sale, 1_000))),
        threading.Thread(target=run, args=("floor", lambda: act(clerk, sale, "floor_bid", amount=1_000))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values(), key=str) == [("too_low", 1_100), "taken"]
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.bid_count) == (1_000, 1)
    assert_lot_verifies(lot.pk)


def test_a_waiting_internet_bid_is_dropped_and_its_bidder_told_when_the_ask_moves(make_sale, clerk, make_user):
    from auctions.models import Notice

    sale = make_sale(lots=1, auto_accept=False)
    sale.clerks.add(clerk)
    lot = opened(clerk, sale)
    net = make_user()
    register(sale, net)
    assert bid(net, sale, 1_000)["type"] == "live_bid_waiting"
    act(clerk, sale, "ask", ask=1_500)
    assert refused(act, clerk, sale, "accept").details["field"] == "action"  # nothing waits: never taken at 1,500
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.live_pending, lot.live_ask) == (None, None, 1_500)
    assert Notice.objects.filter(user=net, payload__waiting_bid_not_taken=True).exists()
    assert_lot_verifies(lot.pk)


def test_bids_queued_together_are_decided_in_turn_each_with_its_own_answer(sale, clerk, make_user):
    """The sale socket decides the bids that queued meanwhile as one group (live.socket_queue): the first at the
    ask is taken, a retry of it gets the same answer, a later bid at that ask is told the new one, and a bidder who
    may not bid is refused without costing the others anything."""
    lot = opened(clerk, sale)
    first, second = make_user("first"), make_user("second")
    for user in (first, second):
        register(sale, user)
    stranger = make_user("stranger")
    now = timezone.now()
    group = [
        live.LiveBid(user=first, amount=1_000, bid_id="a", received_at=now),
        live.LiveBid(user=stranger, amount=1_100, bid_id="s", received_at=now),  # at the new ask: not registered
        live.LiveBid(user=second, amount=1_000, bid_id="b", received_at=now),
        live.LiveBid(user=first, amount=1_000, bid_id="a", received_at=now),
        live.LiveBid(user=second, amount=1_100, bid_id="c", received_at=now),
    ]
    taken, outsider, late, retry, next_one = live.decide_live_bids(sale.pk, lot.pk, group)
    assert (taken["type"], taken["amount"], taken["duplicate"]) == ("live_bid_accepted", 1_000, False)
    assert isinstance(outsider, BidRefused) and outsider.code == "forbidden"
    assert isinstance(late, BidRefused) and (late.code, late.details["ask"]) == ("too_low", 1_100)
    assert (retry["type"], retry["seq"], retry["duplicate"]) == ("live_bid_accepted", taken["seq"], True)
    assert (next_one["type"], next_one["amount"]) == ("live_bid_accepted", 1_100)
    lot.refresh_from_db()
    assert (lot.high_bid_amount, lot.high_bidder_id, lot.bid_count, lot.live_ask) == (1_100, second.pk, 2, 1_200)
    assert Bid.objects.filter(lot=lot).count() == 2
    assert_lot_verifies(lot.pk)
