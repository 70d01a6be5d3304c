"""The stored lot events are an outbox (bidding/outbox.py); personal notices are stored and replayed on ws/me/."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.utils import timezone

from auctions.models import Lot, LotEvent
from bidding import fanout, outbox
from bidding.closing import close_due_lots
from bidding.services import place_bid
from bidding.tests.live import connect, receive_until, until
from conftest import long_ended, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def worker_died(lot_id: int, text: str) -> None:
    raise ConnectionError("simulated: the worker died between its commit and its publish")


async def test_an_event_committed_but_never_published_still_reaches_watchers(
    start_daphne, start_closer, make_lot, bidder, monkeypatch
):
    """The lot's last bid, committed by a process that never published it: the relay (the closing worker's pass,
    in its own process; in single-process mode, the web process's own pass) sends it within a few seconds."""
    single = not settings.REDIS_URL
    server = start_daphne(CLOSE_LOTS_IN_WEB_PROCESS="true" if single else "false", CLOSE_LOTS_INTERVAL_SECONDS="0.2")
    if not single:
        start_closer()
    lot = await sync_to_async(make_lot)()
    watcher = await connect(server.url, lot.pk)
    with monkeypatch.context() as patch:
        patch.setattr(fanout, "publish", worker_died)
        await sync_to_async(place_bid)(user=bidder, lot_id=lot.pk, amount=1_500, bid_id="lost")
    started = time.monotonic()
    message = json.loads(await asyncio.wait_for(watcher.recv(), 5))
    assert (message["type"], message["seq"], message["amount"]) == ("high_bid", 1, 1_500)
    assert time.monotonic() - started < 4
    await watcher.close()
    # The relay marks what it sent when its transaction commits, a moment after the watcher heard it.
    await until(
        LotEvent.objects.filter(lot=lot, seq=1, published_at__isnull=False).aexists,
        timeout=2,
        failure="the relayed event was never marked published",
    )


def test_a_published_event_is_marked_so_it_is_not_sent_twice(make_lot, bidder):
    lot = make_lot()
    place_bid(user=bidder, lot_id=lot.pk, amount=1_500, bid_id="b1")
    place_bid(user=bidder, lot_id=lot.pk, amount=1_700, bid_id="b2")
    wait_until(
        lambda: not LotEvent.objects.filter(lot=lot, published_at__isnull=True).exists(),
        timeout=3,
        failure="events published but never marked",
    )
    assert outbox.relay_pass(older_than=0) == 0


def test_two_relays_at_once_publish_every_event_in_order(make_lot, bidder, monkeypatch):
    lots = [make_lot() for _ in range(3)]
    with monkeypatch.context() as patch:
        patch.setattr(fanout, "publish", worker_died)
        for lot in lots:
            for i in range(5):
                place_bid(user=bidder, lot_id=lot.pk, amount=1_000 + 100 * i, bid_id=f"{lot.pk}-{i}")
        close_due_lots(now=timezone.now() + timedelta(days=1))  # each lot's `closed`, unpublished too
    LotEvent.objects.update(created_at=timezone.now() - timedelta(seconds=10))
    expected = set(LotEvent.objects.values_list("lot_id", "seq"))
    assert len(expected) == 18

    published: list[tuple[int, int]] = []
    start = threading.Barrier(2)

    def recording(lot_id: int, text: str) -> None:
        published.append((lot_id, json.loads(text)["seq"]))
        time.sleep(0.005)  # not a wait: it stands for a real publish's round trip, so that the two relays overlap

    monkeypatch.setattr(fanout, "publish", recording)

    def relay() -> None:
        start.wait()
        try:
            outbox.relay_pass()
        finally:
            connection.close()

    relays = [threading.Thread(target=relay) for _ in range(2)]
    for thread in relays:
        thread.start()
    for thread in relays:
        thread.join(30)
    assert set(published) == expected  # none lost (a duplicate would be harmless)
    for lot in lots:
        seqs = [seq for lot_id, seq in published if lot_id == lot.pk]
        assert seqs == sorted(seqs)
    assert not LotEvent.objects.filter(published_at__isnull=True).exists()
    assert outbox.relay_pass(older_than=0) == 0


async def test_an_idle_socket_learns_the_lots_latest_seq_on_pong(open_socket, make_lot, bidder, monkeypatch):
    lot = await sync_to_async(make_lot)()
    watcher = await open_socket(lot.pk)
    with monkeypatch.context() as patch:
        patch.setattr(fanout, "publish", worker_died)
        await sync_to_async(place_bid)(user=bidder, lot_id=lot.pk, amount=1_500, bid_id="lost")
    await watcher.send_json_to({"type": "ping"})
    pong = await receive_until(watcher, "pong")
    assert pong["seq"] == 1  # above the snapshot's 0: the page syncs


async def test_a_bidder_away_when_outbid_gets_the_notice_on_sync(open_path, make_lot, make_user):
    alice, bob = await sync_to_async(make_user)("alice"), await sync_to_async(make_user)("bob")
    lot = await sync_to_async(make_lot)()
    await sync_to_async(place_bid)(user=alice, lot_id=lot.pk, amount=1_500, bid_id="a")
    await sync_to_async(place_bid)(user=bob, lot_id=lot.pk, amount=2_000, bid_id="b")
    await Lot.objects.filter(pk=lot.pk).aupdate(**long_ended())
    await sync_to_async(close_due_lots)()

    me = await open_path("/ws/me/", alice)
    greeting = await me.receive_json_from(timeout=3)
    assert greeting["type"] == "me" and greeting["last_id"] > 0
    await me.send_json_to({"type": "sync", "since_id": 0})
    outbid = await me.receive_json_from(timeout=3)
    assert (outbid["type"], outbid["lot"], outbid["amount"]) == ("outbid", lot.pk, 2_000)
    closed = await me.receive_json_from(timeout=3)
    assert (closed["type"], closed["you_won"]) == ("lot_closed", False)
    assert 0 < outbid["id"] < closed["id"]
    synced = await me.receive_json_from(timeout=3)
    assert synced == {"type": "synced", "last_id": closed["id"], "server_time": synced["server_time"]}
    assert greeting["last_id"] == closed["id"]

    await me.send_json_to({"type": "sync", "since_id": outbid["id"]})  # only what came after
    assert (await me.receive_json_from(timeout=3))["id"] == closed["id"]
    assert (await me.receive_json_from(timeout=3))["type"] == "synced"

    winner = await open_path("/ws/me/", bob)
    await winner.receive_json_from(timeout=3)
    await winner.send_json_to({"type": "sync", "since_id": 0})
    assert {(await winner.receive_json_from(timeout=3))["type"] for _ in range(3)} == {"won", "lot_closed", "synced"}


async def test_a_live_notice_carries_its_id(open_path, make_lot, make_user):
    alice, bob = await sync_to_async(make_user)("alice"), await sync_to_async(make_user)("bob")
    lot = await sync_to_async(make_lot)()
    await sync_to_async(place_bid)(user=alice, lot_id=lot.pk, amount=1_500, bid_id="a")
    me = await open_path("/ws/me/", alice)
    await me.receive_json_from(timeout=3)
    await sync_to_async(place_bid)(user=bob, lot_id=lot.pk, amount=2_000, bid_id="b")
    live = await receive_until(me, "outbid")
    await me.send_json_to({"type": "sync", "since_id": live["id"] - 1})
    assert await me.receive_json_from(timeout=3) == live  # the replay is the notice as it was sent


async def test_sync_on_the_personal_socket_refuses_a_bad_since_id(open_path, make_user):
    me = await open_path("/ws/me/", await sync_to_async(make_user)("alice"))
    await me.receive_json_from(timeout=3)
    await me.send_json_to({"type": "sync", "since_id": "1"})
    answer = await me.receive_json_from(timeout=3)
    assert (answer["type"], answer["code"], answer["field"]) == ("error", "invalid", "since_id")


def test_old_notices_are_pruned(make_user):
    from auctions.models import Notice

    user = make_user("alice")
    old = Notice.objects.create(user=user, payload={"type": "won"})
    Notice.objects.filter(pk=old.pk).update(created_at=timezone.now() - outbox.NOTICE_RETENTION - timedelta(hours=1))
    recent = Notice.objects.create(user=user, payload={"type": "won"})
    assert outbox.prune_notices(force=True) == 1
    assert list(Notice.objects.values_list("pk", flat=True)) == [recent.pk]
