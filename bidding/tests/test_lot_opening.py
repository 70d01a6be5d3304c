"""The clock opens scheduled lots with an `opened` lot event: numbered under the row lock, stored, broadcast after
commit, replayed by `sync`, counted by verify_lot; never racing a cancel or a bid."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.utils import timezone

from auctions.models import Lot, LotEvent
from auctions.services import open_due_lots
from bidding.lot_actions import cancel_lot
from bidding.replay import verify_lot
from bidding.services import place_bid
from bidding.tests.live import connect
from conftest import assert_lot_verifies


def _scheduled(make_lot, *, starts_in=timedelta(seconds=-1), **fields):
    return make_lot(status=Lot.Status.SCHEDULED, starts_in=starts_in, **fields)


@pytest.mark.django_db
def test_opening_a_lot_stores_an_opened_event_with_the_next_seq(make_lot, bidder):
    lot = _scheduled(make_lot, buy_now_price=9_000)
    later = _scheduled(make_lot, starts_in=timedelta(minutes=5))
    assert open_due_lots() == [lot.pk]
    lot.refresh_from_db()
    assert (lot.status, lot.seq) == ("open", 1)
    event = LotEvent.objects.get(lot=lot, seq=1).payload
    assert event == {**event, "type": "opened", "lot": lot.pk, "seq": 1, "status": "open", "min_next_bid": 1_000}
    assert event["buy_now_price"] == 9_000
    assert json.loads(json.dumps(event)) == event
    assert Lot.objects.get(pk=later.pk).seq == 0
    assert open_due_lots() == []  # once
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="first")
    assert Lot.objects.get(pk=lot.pk).seq == 2
    assert_lot_verifies(lot.pk)


@pytest.mark.django_db
def test_a_lot_a_bid_opened_first_has_no_opened_event_and_verifies(make_lot, bidder):
    lot = _scheduled(make_lot)  # its start has passed, the clock has not run yet: the bid opens it
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="early")
    assert Lot.objects.get(pk=lot.pk).status == "open"
    assert open_due_lots() == []
    assert list(LotEvent.objects.filter(lot=lot).values_list("payload__type", flat=True)) == ["high_bid"]
    assert_lot_verifies(lot.pk)


@pytest.mark.django_db
def test_a_withdrawn_lot_never_opens(make_lot, seller):
    lot = _scheduled(make_lot, seller=seller, starts_in=timedelta(seconds=30))
    cancel_lot(user=seller, lot_id=lot.pk, reason="Not ready.")
    Lot.objects.filter(pk=lot.pk).update(starts_at=timezone.now() - timedelta(seconds=1))
    assert open_due_lots() == []
    assert_lot_verifies(lot.pk)


@pytest.mark.django_db(transaction=True)
def test_a_lot_whose_row_is_held_is_opened_on_a_later_pass(make_lot, hold_lot_row):
    lot = _scheduled(make_lot)
    held = hold_lot_row(lot.pk)  # a bid, an edit or a cancel deciding on it now
    assert open_due_lots() == []  # skipped, not waited for
    held.release()
    assert open_due_lots() == [lot.pk]
    assert_lot_verifies(lot.pk)


@pytest.mark.django_db(transaction=True)
def test_openers_and_cancels_racing_number_every_event_once(make_lot, seller):
    """Two closing workers and the seller cancelling, all at once: each lot opens at most once, never after its
    cancel, and its events are numbered 1, 2, … without a gap (verify_lot clean)."""
    lots = [_scheduled(make_lot, seller=seller) for _ in range(12)]
    barrier = threading.Barrier(3)
    opened: list[list[int]] = []

    def opener():
        barrier.wait()
        try:
            opened.append(open_due_lots(batch=2))
        finally:
            connection.close()

    def canceller():
        barrier.wait()
        try:
            for lot in lots[::2]:
                cancel_lot(user=seller, lot_id=lot.pk, reason="Withdrawn.")
        finally:
            connection.close()

    threads = [threading.Thread(target=opener), threading.Thread(target=opener), threading.Thread(target=canceller)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    ids = [lot_id for batch in opened for lot_id in batch]
    assert len(ids) == len(set(ids))
    assert {lot.pk for lot in lots[1::2]} <= set(ids)  # those nobody cancelled all opened
    for lot in Lot.objects.filter(pk__in=[lot.pk for lot in lots]):
        kinds = list(LotEvent.objects.filter(lot=lot).order_by("seq").values_list("payload__type", flat=True))
        assert kinds in (["opened"], ["opened", "cancelled"], ["cancelled"]), kinds
        assert (lot.pk in ids) == ("opened" in kinds)
        assert verify_lot(lot) == []


@pytest.mark.django_db
def test_verify_lot_counts_openings_and_finds_one_out_of_place(make_lot, bidder):
    lot = _scheduled(make_lot)
    open_due_lots()
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="b")
    lot.refresh_from_db()
    assert verify_lot(lot) == []
    LotEvent.objects.create(lot=lot, seq=3, payload={"type": "opened", "lot": lot.pk, "seq": 3})
    Lot.objects.filter(pk=lot.pk).update(seq=3)
    lot.refresh_from_db()
    assert verify_lot(lot) == ["seq 3: the lot opened after its first bid"]


@pytest.mark.django_db(transaction=True)
async def test_an_open_socket_hears_the_lot_open_and_sync_replays_it(start_daphne, start_closer, make_lot, bidder):
    """A real worker and the clock where its events reach that worker's sockets (its own pass in single-process
    mode, the closing worker with Redis)."""
    single = not settings.REDIS_URL
    server = start_daphne(CLOSE_LOTS_IN_WEB_PROCESS="true" if single else "false", CLOSE_LOTS_INTERVAL_SECONDS="0.2")
    if not single:
        start_closer(interval=0.2)
    lot = await sync_to_async(_scheduled)(make_lot, starts_in=timedelta(seconds=2))
    watcher = await connect(server.url, lot.pk)
    assert (watcher.snapshot["status"], watcher.snapshot["seq"], watcher.snapshot["outcome"]) == ("scheduled", 0, None)

    opened = json.loads(await asyncio.wait_for(watcher.recv(), 10))
    assert (opened["type"], opened["lot"], opened["seq"], opened["status"]) == ("opened", lot.pk, 1, "open")
    assert opened["min_next_bid"] == 1_000

    await watcher.send(json.dumps({"type": "sync", "since_seq": 0}))
    replayed = json.loads(await asyncio.wait_for(watcher.recv(), 5))
    synced = json.loads(await asyncio.wait_for(watcher.recv(), 5))
    assert replayed == opened
    assert (synced["type"], synced["seq"]) == ("synced", 1)
    await watcher.close()
    await sync_to_async(assert_lot_verifies)(lot.pk)
