"""Answers that never lie: a retried action gets its original answer whatever the transport, process or timing;
one bid_id names one action; bans count under the lock; a broken decision answers, it does not crash.

Races are forced, not hoped for: the test holds the lot's row FOR UPDATE while the copies queue behind it.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import Profile
from auctions.exceptions import BidRefused
from bidding import locks, payloads
from bidding.models import Bid, MaximumRaise
from bidding.services import buy_now, place_bid
from bidding.tests.live import bid_over_http, connect, in_thread, queued_in_this_process, receive_until, reply_to, until
from conftest import acookie_header, assert_lot_verifies

pytestmark = pytest.mark.django_db(transaction=True)


def refusal(call, **kwargs) -> BidRefused:
    with pytest.raises(BidRefused) as caught:
        call(**kwargs)
    return caught.value


# --- 1. every copy of an accepted bid, from any transport or process, gets the original acceptance ---------------
@pytest.mark.redis_only
@pytest.mark.parametrize("second", ["socket", "socket_on_another_worker"])
async def test_copies_of_one_bid_racing_across_transports_and_workers_all_get_its_acceptance(
    start_daphne, lot, bidder, hold_lot_row, second
):
    first_worker = start_daphne("first")
    second_worker = start_daphne("second") if second == "socket_on_another_worker" else first_worker
    ws = await connect(second_worker.url, lot.pk, await acookie_header(bidder))
    held = await asyncio.to_thread(hold_lot_row, lot.pk)
    try:
        over_http = asyncio.create_task(asyncio.to_thread(bid_over_http, first_worker, bidder, lot.pk, 1_000, "once"))
        await asyncio.to_thread(held.wait_for_waiters, 1)
        # The lot lock is a throttle that may expire mid-decision; let the socket's copy reach the row too.
        await asyncio.to_thread(locks.redis_client().delete, locks.lock_key(lot.pk))
        await ws.send(json.dumps({"type": "bid", "amount": 1_000, "bid_id": "once"}))
        await asyncio.to_thread(held.wait_for_waiters, 2)
    finally:
        await asyncio.to_thread(held.release)
    status, http_reply = await over_http
    socket_reply = await reply_to(ws, "once")
    await ws.close()
    replies = sorted([http_reply, socket_reply], key=lambda reply: reply.get("duplicate", False))
    assert [reply["type"] for reply in replies] == ["bid_accepted", "bid_accepted"], replies
    assert replies[1] == {**replies[0], "duplicate": True}
    assert status == 201
    assert await sync_to_async(Bid.objects.filter(lot=lot).count)() == 1
    await sync_to_async(assert_lot_verifies)(lot.pk)


async def test_a_socket_copy_queued_behind_its_http_original_gets_its_acceptance(
    open_socket, lot, bidder, hold_lot_row
):
    socket = await open_socket(lot.pk, bidder)
    held = await asyncio.to_thread(hold_lot_row, lot.pk)
    try:
        thread, over_http = in_thread(place_bid, user=bidder, lot_id=lot.pk, amount=1_000, bid_id="once")
        await asyncio.to_thread(held.wait_for_waiters, 1)
        await socket.send_json_to({"type": "bid", "amount": 1_000, "bid_id": "once"})
        await until(lambda: queued_in_this_process(lot.pk))
    finally:
        await asyncio.to_thread(held.release)
    reply = await receive_until(socket, "bid_accepted", timeout=5)
    await asyncio.to_thread(thread.join)
    assert reply == {**payloads.bid_accepted(over_http["outcome"]), "duplicate": True}
    assert await sync_to_async(Bid.objects.filter(lot=lot).count)() == 1


# --- 2. a duplicate's reply is the original's, field for field ---------------------------------------------------
def _beaten_at_once(lot, bidder, make_user):
    place_bid(user=make_user(), lot_id=lot.pk, amount=1_000, bid_id="leader", max_amount=5_000)
    return {"amount": 1_200, "max_amount": 1_500}


def _plain_bid_above_own_lead(lot, bidder, make_user):
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="first", max_amount=5_000)
    return {"amount": 1_500}


def _maximum_equal_to_the_bid(lot, bidder, make_user):
    return {"amount": 1_000, "max_amount": 1_000}


@pytest.mark.parametrize("scene", [_beaten_at_once, _plain_bid_above_own_lead, _maximum_equal_to_the_bid])
def test_a_retry_answers_exactly_as_the_original(lot, bidder, make_user, scene):
    fields = scene(lot, bidder, make_user)
    original = payloads.bid_accepted(place_bid(user=bidder, lot_id=lot.pk, bid_id="b", **fields))
    retried = payloads.bid_accepted(place_bid(user=bidder, lot_id=lot.pk, bid_id="b", **fields))
    assert retried == {**original, "duplicate": True}
    assert original["duplicate"] is False


# --- 3. one bid_id names one action of one user -----------------------------------------------------------------
def test_a_retried_raise_of_your_own_maximum_writes_once_and_answers_alike(lot, bidder):
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="lead", max_amount=2_000)
    original = place_bid(user=bidder, lot_id=lot.pk, amount=1_100, bid_id="raise", max_amount=3_000)
    retried = place_bid(user=bidder, lot_id=lot.pk, amount=1_100, bid_id="raise", max_amount=3_000)
    assert payloads.bid_accepted(retried) == {**payloads.bid_accepted(original), "duplicate": True}
    assert (original.max_amount, original.leading) == (3_000, True)
    assert MaximumRaise.objects.filter(lot=lot).count() == 1
    assert_lot_verifies(lot.pk)


def test_a_bid_id_used_once_cannot_name_another_action(lot, make_lot, bidder, make_user):
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="lead", max_amount=2_000)
    place_bid(user=bidder, lot_id=lot.pk, amount=1_100, bid_id="raise", max_amount=3_000)
    shop = make_lot(buy_now_price=9_000)
    buy_now(user=bidder, lot_id=shop.pk, bid_id="bought")
    reused = [
        dict(amount=1_100, bid_id="raise", max_amount=4_000),  # the same raise with another maximum
        dict(amount=1_100, bid_id="raise"),  # a plain bid
        dict(amount=1_200, bid_id="bought"),  # a bid under a buy-now's id
    ]
    for fields in reused:
        error = refusal(place_bid, user=bidder, lot_id=lot.pk, **fields)
        assert (error.code, error.details["field"]) == ("invalid", "bid_id"), fields
    other = make_lot(buy_now_price=9_000)
    assert (
        refusal(buy_now, user=bidder, lot_id=other.pk, bid_id="raise").code == "invalid"
    )  # buy now under a raise's id
    assert buy_now(user=bidder, lot_id=shop.pk, bid_id="bought").duplicate
    lot.refresh_from_db()
    assert (lot.leader_max_amount, lot.high_bid_amount, lot.seq) == (3_000, 1_000, 1)
    assert MaximumRaise.objects.filter(lot=lot).count() == 1


# --- 5. a ban is checked again under the lock ---------------------------------------------------------------------
def test_a_ban_that_lands_while_a_bid_waits_for_the_lot_refuses_it(lot, bidder, hold_lot_row):
    held = hold_lot_row(lot.pk)
    thread, result = in_thread(place_bid, user=bidder, lot_id=lot.pk, amount=1_000, bid_id="b")
    held.wait_for_waiters(1)
    Profile.objects.filter(user=bidder).update(banned=True)
    held.release()
    thread.join()
    assert (result["refusal"].code, result["refusal"].details["reason"]) == ("forbidden", "banned")
    assert not Bid.objects.filter(lot=lot).exists()


# --- 6. a decision that breaks answers every waiting bid; nothing crashes -----------------------------------------
async def test_a_lot_deleted_while_bids_wait_answers_each_and_the_sockets_stay_open(
    open_socket, lot, make_user, hold_lot_row
):
    sockets = [await open_socket(lot.pk, await sync_to_async(make_user)()) for _ in range(2)]
    held = await asyncio.to_thread(hold_lot_row, lot.pk)
    try:
        await sockets[0].send_json_to({"type": "bid", "amount": 1_000, "bid_id": "first"})
        await asyncio.to_thread(held.wait_for_waiters, 1)
        await sockets[1].send_json_to({"type": "bid", "amount": 1_100, "bid_id": "second"})
        await until(lambda: queued_in_this_process(lot.pk))
        await asyncio.to_thread(held.connection.execute, "DELETE FROM auctions_lot WHERE id = %s", (lot.pk,))
    finally:
        await asyncio.to_thread(held.release)
    for socket in sockets:
        reply = await receive_until(socket, "bid_rejected", timeout=5)
        assert reply["code"] == "not_found"
        await socket.send_json_to({"type": "ping"})
        assert (await receive_until(socket, "pong"))["type"] == "pong"


@pytest.fixture
def bid_rows_break():
    """Every insert of a bid row fails inside PostgreSQL, as an unexpected database error would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION gavel_test_break() RETURNS trigger AS $$ BEGIN"
            " RAISE EXCEPTION 'broken on purpose'; END $$ LANGUAGE plpgsql;"
            " CREATE TRIGGER gavel_test_break BEFORE INSERT ON bidding_bid"
            " FOR EACH ROW EXECUTE FUNCTION gavel_test_break();"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER gavel_test_break ON bidding_bid; DROP FUNCTION gavel_test_break();")


async def test_an_unexpected_database_error_answers_unavailable_and_the_socket_stays_open(
    open_socket, lot, bidder, bid_rows_break
):
    socket = await open_socket(lot.pk, bidder)
    await socket.send_json_to({"type": "bid", "amount": 1_000, "bid_id": "b"})
    assert (await receive_until(socket, "bid_rejected"))["code"] == "unavailable"
    await socket.send_json_to({"type": "ping"})
    assert (await receive_until(socket, "pong"))["type"] == "pong"


def test_an_unexpected_database_error_answers_503_over_http(make_lot, bidder, bid_rows_break):
    api = APIClient()
    api.force_authenticate(bidder)
    lot = make_lot(buy_now_price=5_000)
    bid = api.post(f"/api/lots/{lot.pk}/bids/", {"amount": 1_000, "bid_id": "b"}, format="json")
    bought = api.post(f"/api/lots/{lot.pk}/buy-now/", {"bid_id": "n"}, format="json")
    assert (bid.status_code, bid.json()["code"]) == (503, "unavailable")
    assert (bought.status_code, bought.json()["code"]) == (503, "unavailable")
    lot.refresh_from_db()
    assert (lot.bid_count, lot.status, lot.seq) == (0, "open", 0)
