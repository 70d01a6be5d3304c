"""The sale socket (ws/sales/<id>/) through the whole ASGI stack, against real PostgreSQL and the configured channel
layer: snapshots, live bids, the clerk's view, the one driving console, the missed bid, the unattended pause."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from auctions.models import Lot, Sale, SaleRegistration
from bidding import live_console
from bidding.models import Bid
from bidding.services import live
from bidding.tests.live import receive_until, sale_socket, until_event
from conftest import assert_lot_verifies

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clerk(make_user):
    return make_user("clerk", can_bid=False)


@pytest.fixture
def running_sale(make_sale, clerk, make_user):
    """A running sale with its first lot offered at 1,000, and two registered internet bidders."""
    sale = make_sale(lots=2, starting_price=1_000)
    sale.clerks.add(clerk)
    sale.alice, sale.bob = make_user("alice"), make_user("bob")
    SaleRegistration.objects.create(sale=sale, user=sale.alice, paddle=5_000, approved=True)
    SaleRegistration.objects.create(sale=sale, user=sale.bob, paddle=5_001, approved=True)
    live.clerk_action(user=clerk, sale_id=sale.pk, action="start")
    live.clerk_action(user=clerk, sale_id=sale.pk, action="offer")
    sale.refresh_from_db()
    return sale


async def test_everyone_gets_the_block_and_bids_the_clerk_alone_sees_who(open_path, running_sale, clerk):
    sale = running_sale
    watcher = await sale_socket(open_path, sale)
    alice = await sale_socket(open_path, sale, sale.alice)
    console = await sale_socket(open_path, sale, clerk)
    assert watcher.snapshot["block"]["ask"] == 1_000 and watcher.snapshot["clerk"] is None
    assert alice.snapshot["you"]["paddle"] == 5_000
    assert console.snapshot["is_clerk"] and console.snapshot["clerk"]["ask"] == 1_000

    await alice.send_json_to({"type": "live_bid", "amount": 1_000, "bid_id": "a1"})
    accepted = await receive_until(alice, "live_bid_accepted")
    assert (accepted["amount"], accepted["bidder"]) == (1_000, "Bidder 1")  # events naming it mean "you"
    seen = await until_event(watcher, "bid")
    assert (seen["amount"], seen["ask"], seen["leader"], seen["bidder"]) == (1_000, 1_100, "bidder", "Bidder 1")
    assert "paddle" not in json.dumps(seen) and "internet" not in json.dumps(seen)
    light = await receive_until(console, "clerk_block")
    assert (light["source"], light["paddle"], light["internet_winning"]) == ("internet", 5_000, True)


async def test_one_driving_console_claim_and_take_over(open_path, running_sale, clerk, make_user):
    sale = running_sale
    other = await sync_to_async(make_user)("other_clerk", can_bid=False)
    await sync_to_async(sale.clerks.add)(other)
    first = await sale_socket(open_path, sale, clerk)
    second = await sale_socket(open_path, sale, other)
    await first.send_json_to({"type": "clerk", "action": "floor_bid"})
    assert (await receive_until(first, "clerk_refused"))["reason"] == "not_driving"
    await first.send_json_to({"type": "clerk", "action": "claim"})
    assert (await receive_until(first, "clerk_done"))["driving"] is True
    await first.send_json_to({"type": "clerk", "action": "floor_bid", "paddle": 7})
    assert (await receive_until(first, "clerk_done"))["amount"] == 1_000
    await second.send_json_to({"type": "clerk", "action": "claim"})
    await receive_until(second, "clerk_done")
    await first.send_json_to({"type": "clerk", "action": "fair_warning"})
    assert (await receive_until(first, "clerk_refused"))["reason"] == "not_driving"
    alice = await sale_socket(open_path, sale, sale.alice)
    await alice.send_json_to({"type": "clerk", "action": "claim"})
    assert (await receive_until(alice, "clerk_refused"))["reason"] == "not_clerk"


async def test_a_bid_received_after_the_hammer_is_refused_closed_and_the_clerk_sees_a_missed_bid(
    open_path, running_sale, clerk
):
    sale = running_sale
    console = await sale_socket(open_path, sale, clerk)
    bob = await sale_socket(open_path, sale, sale.bob)
    await console.send_json_to({"type": "clerk", "action": "claim"})
    await receive_until(console, "clerk_done")
    await console.send_json_to({"type": "clerk", "action": "floor_bid"})
    await receive_until(console, "clerk_done")
    await console.send_json_to({"type": "clerk", "action": "sold"})
    await receive_until(console, "clerk_done")
    sold = await until_event(bob, "sold")
    assert sold["hammer_at"] and sold["live_state"] == "sold"
    await bob.send_json_to({"type": "live_bid", "amount": 1_100, "bid_id": "late"})
    refusal = await receive_until(bob, "bid_rejected")
    assert refusal["code"] == "closed" and refusal["late_ms"] >= 0
    missed = await receive_until(console, "missed_bid")
    assert (missed["paddle"], missed["amount"], missed["late_ms"]) == (5_001, 1_100, refusal["late_ms"])
    await sync_to_async(assert_lot_verifies)(sold["lot"])


async def test_the_driving_console_gone_silent_pauses_the_sale_for_everyone(open_path, running_sale, clerk):
    sale = running_sale
    bidder = await sale_socket(open_path, sale, sale.alice)
    console = await sale_socket(open_path, sale, clerk)
    await console.send_json_to({"type": "clerk", "action": "claim"})
    await receive_until(console, "clerk_done")
    await console.disconnect()
    # The closing worker's pass, as it runs DRIVER_TIMEOUT_SECONDS later (its clock passed in, not slept for).
    assert await sync_to_async(live_console.pause_unattended)() == []
    later = timezone.now() + timedelta(seconds=live_console.DRIVER_TIMEOUT_SECONDS + 0.1)
    assert await sync_to_async(live_console.pause_unattended)(now=later) == [sale.pk]
    paused = await until_event(bidder, "paused")
    assert (paused["sale_status"], paused["unattended"]) == ("paused", True)
    assert paused["message"] == live_console.UNATTENDED_MESSAGE
    assert (await Sale.objects.aget(pk=sale.pk)).status == "paused"
    await bidder.send_json_to({"type": "live_bid", "amount": 1_000, "bid_id": "p"})
    assert (await receive_until(bidder, "bid_rejected"))["reason"] == "paused"
    # Another console takes over and resumes.
    again = await sale_socket(open_path, sale, clerk)
    await again.send_json_to({"type": "clerk", "action": "claim"})
    await receive_until(again, "clerk_done")
    await again.send_json_to({"type": "clerk", "action": "resume"})
    assert (await receive_until(again, "clerk_done"))["live_state"] == "open"
    lot = await Lot.objects.aget(pk=paused["lot"])
    await sync_to_async(assert_lot_verifies)(lot.pk)


async def test_sync_replays_a_lot_of_the_sale_and_refuses_another(open_path, running_sale, make_lot):
    sale = running_sale
    watcher = await sale_socket(open_path, sale)
    lot_id = watcher.snapshot["sale"]["current_lot"]
    await watcher.send_json_to({"type": "sync", "lot": lot_id, "since_seq": 0})
    first = await receive_until(watcher, "live")
    assert (first["seq"], first["event"]) == (1, "on_block")
    await receive_until(watcher, "synced")
    other = await sync_to_async(make_lot)()
    await watcher.send_json_to({"type": "sync", "lot": other.pk, "since_seq": 0})
    assert (await receive_until(watcher, "error"))["field"] == "lot"


async def test_the_clerks_accept_tells_the_waiting_bidder_their_bid_was_taken_and_their_alias(
    open_path, running_sale, clerk
):
    sale = running_sale
    await Sale.objects.filter(pk=sale.pk).aupdate(auto_accept=False)
    console = await sale_socket(open_path, sale, clerk)
    alice = await sale_socket(open_path, sale, sale.alice)
    await console.send_json_to({"type": "clerk", "action": "claim"})
    await receive_until(console, "clerk_done")
    await alice.send_json_to({"type": "live_bid", "amount": 1_000, "bid_id": "wait-for-me"})
    assert (await receive_until(alice, "live_bid_waiting"))["bid_id"] == "wait-for-me"
    await console.send_json_to({"type": "clerk", "action": "accept"})
    await receive_until(console, "clerk_done")
    # Without it her page could not say "you" of the bid the event names: its alias reached her nowhere else.
    seen: dict = {}
    while len(seen) < 2:  # the bid's event and her notice, in either order
        message = await alice.receive_json_from(timeout=3)
        if message["type"] == "live_bid_accepted" or message.get("event") == "bid":
            seen[message["type"]] = message
    taken, bid = seen["live_bid_accepted"], seen["live"]
    assert (taken["bid_id"], taken["amount"], taken["bidder"]) == ("wait-for-me", 1_000, bid["bidder"])


@pytest.mark.parametrize(
    ("message", "answer", "code"),
    [
        ({"type": "live_bid", "amount": 1_000.0, "bid_id": "f"}, "bid_rejected", "invalid"),
        ({"type": "live_bid", "amount": -1_000, "bid_id": "n"}, "bid_rejected", "invalid"),
        ({"type": "live_bid", "amount": "1000", "bid_id": "s"}, "bid_rejected", "invalid"),
        ({"type": "live_bid", "amount": True, "bid_id": "b"}, "bid_rejected", "invalid"),
        ({"type": "live_bid", "bid_id": "m"}, "bid_rejected", "invalid"),
        ({"type": "live_bid", "lot": "1", "amount": 1_000, "bid_id": "l"}, "bid_rejected", "invalid"),
        ({"type": "live_bid", "lot": True, "amount": 1_000, "bid_id": "t"}, "bid_rejected", "invalid"),
        ({"type": "live_bid", "lot": 10**9, "amount": 1_000, "bid_id": "u"}, "bid_rejected", "not_open"),  # another lot
        ({"type": "clerk", "action": "sold"}, "clerk_refused", "forbidden"),  # a bidder is not a clerk
    ],
)
async def test_a_bad_sale_message_is_refused_with_a_code_and_changes_nothing(
    open_path, running_sale, message, answer, code
):
    sale = running_sale
    before = await Lot.objects.aget(pk=sale.current_lot_id)
    alice = await sale_socket(open_path, sale, sale.alice)
    await alice.send_json_to(message)
    assert (await receive_until(alice, answer))["code"] == code
    after = await Lot.objects.aget(pk=sale.current_lot_id)
    assert (after.seq, after.high_bid_amount, after.live_state) == (
        before.seq,
        before.high_bid_amount,
        before.live_state,
    )
    assert not await Bid.objects.filter(lot_id=before.pk).aexists()


async def test_a_bid_before_any_lot_is_on_the_block_is_refused_not_open_and_the_next_one_is_decided(
    open_path, make_sale, clerk, make_user
):
    sale = await sync_to_async(make_sale)(lots=1, starting_price=1_000)
    await sale.clerks.aadd(clerk)
    alice = await sync_to_async(make_user)("alice")
    await SaleRegistration.objects.acreate(sale=sale, user=alice, paddle=5_000, approved=True)
    socket = await sale_socket(open_path, sale, alice)
    await socket.send_json_to({"type": "live_bid", "amount": 1_000, "bid_id": "early"})
    refused = await receive_until(socket, "bid_rejected")
    assert (refused["bid_id"], refused["code"], refused["reason"]) == ("early", "not_open", "no_lot")
    await sync_to_async(live.clerk_action)(user=clerk, sale_id=sale.pk, action="start")
    await sync_to_async(live.clerk_action)(user=clerk, sale_id=sale.pk, action="offer")
    await socket.send_json_to({"type": "live_bid", "amount": 1_000, "bid_id": "on_time"})
    assert (await receive_until(socket, "live_bid_accepted"))["amount"] == 1_000
    assert await Bid.objects.filter(bid_id="early").acount() == 0


async def test_the_console_hears_each_internet_bid_in_order_and_the_outbid_bidder_is_told(
    open_path, running_sale, clerk
):
    """Internet bids' clerk views and outbid notices leave from the event loop after the decision (not from the
    decision's thread, under the lot's lock): still one per bid, in the order the bids were taken."""
    sale = running_sale
    console = await sale_socket(open_path, sale, clerk)
    bidders = [await sale_socket(open_path, sale, sale.alice), await sale_socket(open_path, sale, sale.bob)]
    ask = 1_000
    for turn in range(6):
        await bidders[turn % 2].send_json_to({"type": "live_bid", "amount": ask, "bid_id": f"t{turn}"})
        accepted = await receive_until(bidders[turn % 2], "live_bid_accepted")
        assert accepted["amount"] == ask
        if turn:
            outbid = await receive_until(bidders[(turn - 1) % 2], "live_outbid")
            assert outbid["seq"] == accepted["seq"]
        ask += 100
    heard = [await receive_until(console, "clerk_block") for _ in range(6)]
    assert [view["amount"] for view in heard] == list(range(1_000, 1_600, 100))
    assert [view["seq"] for view in heard] == sorted({view["seq"] for view in heard})
    assert [view["paddle"] for view in heard] == [5_000, 5_001] * 3


async def test_a_bid_for_the_lot_that_just_left_the_block_is_never_taken_on_the_next_one(
    open_path, running_sale, clerk
):
    """Both lots open at 1,000: a tap on lot 1's "Bid €10" that reaches the server after the clerk moved on must not
    become a bid on lot 2 at the same amount. The bid names its lot; one no longer on the block is refused."""
    sale = running_sale
    first = sale.current_lot_id
    alice = await sale_socket(open_path, sale, sale.alice)
    for action in ("pass", "next", "offer"):
        await sync_to_async(live.clerk_action)(user=clerk, sale_id=sale.pk, action=action)
    second = (await Sale.objects.aget(pk=sale.pk)).current_lot_id
    assert second != first and (await Lot.objects.aget(pk=second)).live_ask == 1_000
    await alice.send_json_to({"type": "live_bid", "lot": first, "amount": 1_000, "bid_id": "late-tap"})
    refused = await receive_until(alice, "bid_rejected")
    assert (refused["code"], refused["reason"], refused["on_block"]) == ("not_open", "not_on_block", second)
    assert not await Bid.objects.filter(lot_id=second).aexists()
    await alice.send_json_to({"type": "live_bid", "lot": second, "amount": 1_000, "bid_id": "on-lot-2"})
    assert (await receive_until(alice, "live_bid_accepted"))["lot"] == second


async def test_a_live_bid_reaching_a_restarting_worker_is_refused_unavailable_and_changes_nothing(
    open_path, running_sale, monkeypatch
):
    from bidding import draining

    sale = running_sale
    lot = await Lot.objects.aget(pk=sale.current_lot_id)
    alice = await sale_socket(open_path, sale, sale.alice)
    monkeypatch.setattr(draining, "_draining", True)
    await alice.send_json_to({"type": "live_bid", "lot": lot.pk, "amount": 1_000, "bid_id": "d1"})
    refused = await receive_until(alice, "bid_rejected")
    assert (refused["code"], refused["bid_id"]) == ("unavailable", "d1")
    after = await Lot.objects.aget(pk=lot.pk)
    assert (after.seq, after.high_bid_amount, after.bid_count) == (lot.seq, None, 0)
    assert not await Bid.objects.filter(lot=lot).aexists()
