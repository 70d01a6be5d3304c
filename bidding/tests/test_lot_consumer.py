"""The lot socket through the whole ASGI stack, against real PostgreSQL and the configured channel layer."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings

from auctions.models import Lot, LotEvent
from bidding.models import Bid
from bidding.protocol import CLOSE_FLOODING, CLOSE_LOT_NOT_FOUND
from bidding.services import place_bid
from bidding.tests.live import receive_until

pytestmark = pytest.mark.django_db(transaction=True)


async def bids_on(lot) -> list[tuple[int, int]]:
    return await sync_to_async(lambda: list(Bid.objects.filter(lot=lot).values_list("seq", "amount")))()


async def lot_state(lot) -> tuple:
    fresh = await Lot.objects.aget(pk=lot.pk)
    return fresh.high_bid_amount, fresh.bid_count, fresh.seq


async def test_connect_sends_a_snapshot_with_server_time(open_socket, lot):
    socket = await open_socket(lot.pk)
    snap = socket.snapshot
    assert snap["type"] == "snapshot"
    assert (snap["lot"]["id"], snap["high_bid"], snap["seq"], snap["status"]) == (lot.pk, None, 0, "open")
    assert snap["min_next_bid"] == 1_000 and snap["bid_count"] == 0
    assert snap["server_time"] and snap["ends_at"]


async def test_the_snapshot_comes_first_even_when_a_bid_commits_while_it_is_read(open_socket, lot, bidder, monkeypatch):
    from bidding import fanout
    from bidding.consumers import lot as consumers

    read_snapshot = consumers.read_lot_snapshot

    async def snapshot_while_a_bid_commits(lot_id, viewer_id):
        snap = await read_snapshot(lot_id, viewer_id=viewer_id)
        outcome = await sync_to_async(place_bid)(user=bidder, lot_id=lot_id, amount=1_000, bid_id="meanwhile")
        event = await LotEvent.objects.aget(lot_id=lot_id, seq=outcome.seq)
        await fanout.hub().deliver(lot_id, json.dumps(event.payload))  # as the commit's broadcast would, now
        return snap

    monkeypatch.setattr(consumers, "read_lot_snapshot", snapshot_while_a_bid_commits)
    socket = await open_socket(lot.pk)
    assert (socket.snapshot["type"], socket.snapshot["seq"]) == ("snapshot", 0), "the snapshot is the first message"
    held = await socket.receive_json_from(timeout=3)
    assert (held["type"], held["seq"]) == ("high_bid", 1), "the event from meanwhile follows the snapshot"


async def test_bid_is_acknowledged_and_broadcast_to_every_watcher(open_socket, lot, bidder):
    mine = await open_socket(lot.pk, bidder)
    watcher = await open_socket(lot.pk)
    await mine.send_json_to({"type": "bid", "amount": 1_000, "bid_id": "b-1"})
    ack = await receive_until(mine, "bid_accepted")
    assert ack == {
        "type": "bid_accepted",
        "lot": lot.pk,
        "bid_id": "b-1",
        "amount": 1_000,
        "seq": 1,
        "leading": True,
        "automatic": False,
        "max_amount": None,
        "duplicate": False,
    }
    seen = await watcher.receive_json_from(timeout=3)
    assert (seen["type"], seen["seq"], seen["amount"], seen["bidder"]) == ("high_bid", 1, 1_000, "Bidder 1")
    assert seen["min_next_bid"] == 1_100 and seen["bid_count"] == 1
    assert "alice" not in json.dumps(seen)
    assert await bids_on(lot) == [(1, 1_000)]


async def test_previous_high_bidder_is_told_they_were_outbid(open_socket, lot, bidder, make_user):
    rival = await sync_to_async(make_user)("bob")
    mine = await open_socket(lot.pk, bidder)
    theirs = await open_socket(lot.pk, rival)
    await mine.send_json_to({"type": "bid", "amount": 1_000, "bid_id": "a"})
    await receive_until(mine, "bid_accepted")
    await theirs.send_json_to({"type": "bid", "amount": 1_100, "bid_id": "b"})
    notice = await receive_until(mine, "outbid")
    assert (notice["lot"], notice["amount"], notice["min_next_bid"]) == (lot.pk, 1_100, 1_200)


async def test_anonymous_visitor_watches_but_cannot_bid(open_socket, lot):
    anonymous = await open_socket(lot.pk)
    await anonymous.send_json_to({"type": "bid", "amount": 5_000, "bid_id": "x"})
    reply = await anonymous.receive_json_from(timeout=3)
    assert (reply["type"], reply["code"], reply["bid_id"]) == ("bid_rejected", "not_authenticated", "x")
    assert await bids_on(lot) == []


async def test_refusal_codes_reach_the_bidder_with_what_they_need(open_socket, make_lot, seller, bidder):
    own = await open_socket((await sync_to_async(make_lot)(seller=seller)).pk, seller)
    await own.send_json_to({"type": "bid", "amount": 5_000, "bid_id": "s"})
    reply = await own.receive_json_from(timeout=3)
    assert (reply["code"], reply["reason"]) == ("forbidden", "own_lot")
    lot = await sync_to_async(make_lot)(seller=seller, starting_price=2_500)
    mine = await open_socket(lot.pk, bidder)
    await mine.send_json_to({"type": "bid", "amount": 2_000, "bid_id": "low"})
    reply = await mine.receive_json_from(timeout=3)
    assert (reply["code"], reply["min_next_bid"], reply["bid_id"]) == ("too_low", 2_500, "low")
    assert reply["message"]


async def test_unknown_lot_closes_the_socket(open_socket):
    socket = await open_socket(987_654, expect_snapshot=False)
    closing = await socket.receive_output(timeout=3)
    assert (
        closing == {"type": "websocket.close", "code": CLOSE_LOT_NOT_FOUND, "reason": None}
        or closing.get("code") == CLOSE_LOT_NOT_FOUND
    )


@override_settings(WS_RATE_PER_SECOND=0.01, WS_RATE_BURST=3, WS_FLOOD_CLOSE_AFTER=100)
async def test_messages_past_the_burst_are_rate_limited(open_socket, lot, bidder):
    mine = await open_socket(lot.pk, bidder)
    for _ in range(3):
        await mine.send_json_to({"type": "ping"})
        assert (await mine.receive_json_from(timeout=3))["type"] == "pong"
    await mine.send_json_to({"type": "ping"})
    assert (await mine.receive_json_from(timeout=3))["code"] == "rate_limited"
    await mine.send_json_to({"type": "bid", "amount": 1_000, "bid_id": "late"})
    reply = await mine.receive_json_from(timeout=3)
    assert (reply["type"], reply["code"], reply["bid_id"]) == ("bid_rejected", "rate_limited", "late")
    assert await bids_on(lot) == []


@override_settings(WS_RATE_PER_SECOND=0.01, WS_RATE_BURST=2, WS_FLOOD_CLOSE_AFTER=5)
async def test_a_connection_that_keeps_flooding_is_closed(open_socket, lot, bidder):
    mine = await open_socket(lot.pk, bidder)
    for _ in range(10):
        await mine.send_json_to({"type": "ping"})
    outputs = []
    while True:
        output = await mine.receive_output(timeout=3)
        outputs.append(output)
        if output["type"] == "websocket.close":
            break
    assert outputs[-1]["code"] == CLOSE_FLOODING
    assert sum(1 for o in outputs if '"rate_limited"' in o.get("text", "")) == 4


async def test_sync_replays_every_missed_event_in_order(open_socket, lot, bidder, make_user):
    rival = await sync_to_async(make_user)("bob")
    for n, (user, amount) in enumerate([(bidder, 1_000), (rival, 1_100), (bidder, 1_200)], start=1):
        await sync_to_async(place_bid)(user=user, lot_id=lot.pk, amount=amount, bid_id=f"b{n}")
    late = await open_socket(lot.pk)
    assert late.snapshot["seq"] == 3 and late.snapshot["high_bid"]["amount"] == 1_200
    await late.send_json_to({"type": "sync", "since_seq": 1})
    replay = [await late.receive_json_from(timeout=3) for _ in range(3)]
    assert [(m["type"], m.get("seq"), m.get("amount")) for m in replay] == [
        ("high_bid", 2, 1_100),
        ("high_bid", 3, 1_200),
        ("synced", 3, None),
    ]
    assert replay[0]["bidder"] == "Bidder 2" and replay[1]["bidder"] == "Bidder 1"


@override_settings(SYNC_MAX_EVENTS=2)
async def test_sync_from_too_far_back_sends_a_fresh_snapshot(open_socket, lot, bidder):
    for n, amount in enumerate([1_000, 1_100, 1_200]):
        await sync_to_async(place_bid)(user=bidder, lot_id=lot.pk, amount=amount, bid_id=f"b{n}")
    late = await open_socket(lot.pk)
    await late.send_json_to({"type": "sync", "since_seq": 0})
    reply = await late.receive_json_from(timeout=3)
    assert (reply["type"], reply["seq"]) == ("snapshot", 3)


async def test_snapshot_tells_a_returning_bidder_their_alias(open_socket, lot, bidder):
    await sync_to_async(place_bid)(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="b")
    mine = await open_socket(lot.pk, bidder)
    assert mine.snapshot["you"] == {"alias": "Bidder 1", "max_amount": None}
    assert mine.snapshot["high_bid"] == {"amount": 1_000, "bidder": "Bidder 1"}


async def test_bid_after_the_end_is_refused_as_closed(open_socket, make_lot, seller, bidder):
    ended = await sync_to_async(make_lot)(seller=seller, starts_in=timedelta(hours=-2), ends_in=timedelta(seconds=-1))
    mine = await open_socket(ended.pk, bidder)
    assert mine.snapshot["status"] == "closed"
    await mine.send_json_to({"type": "bid", "amount": 5_000, "bid_id": "late"})
    assert (await mine.receive_json_from(timeout=3))["code"] == "closed"
    assert await bids_on(ended) == []


async def test_a_lot_id_beyond_any_integer_column_closes_cleanly(open_socket):
    socket = await open_socket(10**30, expect_snapshot=False)
    assert (await socket.receive_output(timeout=3)).get("code") == CLOSE_LOT_NOT_FOUND


async def test_a_retried_bid_id_gets_the_identical_reply_and_no_second_broadcast(open_socket, lot, bidder):
    mine = await open_socket(lot.pk, bidder)
    watcher = await open_socket(lot.pk)
    frame = {"type": "bid", "amount": 1_000, "bid_id": "retry-me"}
    await mine.send_json_to(frame)
    first = await receive_until(mine, "bid_accepted")
    await watcher.receive_json_from(timeout=3)
    await mine.send_json_to(frame)
    assert await receive_until(mine, "bid_accepted") == {**first, "duplicate": True}
    assert await watcher.receive_nothing(timeout=0.3)
    assert await bids_on(lot) == [(1, 1_000)]


@override_settings(BID_LOCK_WAIT_SECONDS=0.2)
async def test_a_lot_locked_elsewhere_answers_busy_and_the_socket_stays_usable(open_socket, lot, bidder, hold_lot_lock):
    mine = await open_socket(lot.pk, bidder)
    with hold_lot_lock(lot.pk):
        await mine.send_json_to({"type": "bid", "amount": 1_000, "bid_id": "blocked"})
        reply = await mine.receive_json_from(timeout=3)
    assert (reply["type"], reply["code"], reply["bid_id"]) == ("bid_rejected", "busy", "blocked")
    assert await bids_on(lot) == []
    await mine.send_json_to({"type": "bid", "amount": 1_000, "bid_id": "blocked"})
    assert (await receive_until(mine, "bid_accepted"))["seq"] == 1


async def test_a_bid_reaching_a_restarting_worker_is_refused_unavailable_and_changes_nothing(
    open_socket, lot, bidder, monkeypatch
):
    from bidding import draining

    mine = await open_socket(lot.pk, bidder)
    monkeypatch.setattr(draining, "_draining", True)
    for message in (
        {"type": "bid", "amount": lot.starting_price, "bid_id": "d1"},
        {"type": "buy_now", "bid_id": "d2"},
    ):
        await mine.send_json_to(message)
        refused = await receive_until(mine, "bid_rejected")
        assert (refused["code"], refused["bid_id"]) == ("unavailable", message["bid_id"])
    assert await bids_on(lot) == []
    assert await lot_state(lot) == (None, 0, 0)
