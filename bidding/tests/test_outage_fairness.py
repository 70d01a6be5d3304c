"""Fairness through an outage: no lot closes while bids cannot be placed, and a lot whose end fell in the outage ends
later by its length, with an `extended` event (cause "outage") and a notice, then closes normally."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from auctions import payloads
from auctions.models import Lot, LotEvent, Notice
from bidding.closing import closing_pass, decided_within
from bidding.models import BidPathHealth
from bidding.services import place_bid
from bidding.tests.live import bid_over_http, connect
from conftest import assert_lot_verifies, closing_time, database_url, long_ended, wait_until

# What the servers of these tests leave a lot extended after an outage (the default, 30 s, would make each test wait
# that long for the close).
MIN_REMAINING = 3


def _outage_events(lot_id: int) -> list[dict]:
    return [
        e.payload for e in LotEvent.objects.filter(lot_id=lot_id).order_by("seq") if e.payload["type"] == "extended"
    ]


async def _look_at(server, lot_id: int) -> None:
    ws = await connect(server.url, lot_id)
    await ws.close()


def _bid_status(server, user, lot_id: int, amount: int, bid_id: str) -> int:
    """The HTTP status of a bid (with PostgreSQL away, authentication itself fails: not a JSON answer)."""
    try:
        return bid_over_http(server, user, lot_id, amount, bid_id)[0]
    except json.JSONDecodeError:
        return 500


def _bid_until_accepted(server, user, lot_id: int, amount: int, bid_id: str, timeout: float = 10) -> dict:
    """A client retrying one bid (same bid_id) while the workers find their way back to the database."""
    answer: dict = {}

    def accepted() -> bool:
        try:
            status, body = bid_over_http(server, user, lot_id, amount, bid_id)
        except json.JSONDecodeError:
            return False
        answer.update(body)
        return status in (200, 201)

    wait_until(accepted, timeout=timeout, interval=0.2, failure=lambda: f"the bid was never accepted: {answer}")
    return answer


def _auction_through_an_outage(server, *, make_lot, bidder, rival, cut, restore) -> None:
    """A lot ending about 3 s from now, bid on; the bid path cut before its end and restored well after it."""
    # In single-process mode the web process's clock starts with its first socket.
    asyncio.run(_look_at(server, make_lot(title="Another lot").pk))
    wait_until(
        lambda: BidPathHealth.objects.exists(), timeout=30, interval=0.1, failure="the closing worker never ran a pass"
    )
    lot = make_lot(ends_in=timedelta(seconds=3), soft_close_window=0)
    _bid_until_accepted(server, bidder, lot.pk, 1_000, "before")
    cut_at = timezone.now()
    cut()
    assert _bid_status(server, rival, lot.pk, 1_100, "locked-out") >= 500  # locked out of the lot's last moments
    # Past the moment the lot would have closed, and the outage longer than OUTAGE_MIN_SECONDS.
    time.sleep(max(0.0, (closing_time(lot.ends_at) - timezone.now()).total_seconds()) + 1.0)
    while timezone.now() - cut_at <= timedelta(seconds=settings.OUTAGE_MIN_SECONDS + 0.5):
        time.sleep(0.1)
    lot.refresh_from_db()
    assert lot.status == Lot.Status.OPEN, "the lot closed while nobody could bid"
    restored_at = timezone.now()
    restore()

    wait_until(lambda: _outage_events(lot.pk), timeout=15, interval=0.1, failure="the lot was never extended")
    [event] = _outage_events(lot.pk)
    outage = restored_at - cut_at
    assert event["cause"] == "outage"
    # From the last healthy pass (at most a couple of seconds before the cut) to the first after the restore.
    assert outage.total_seconds() <= event["outage_seconds"] <= outage.total_seconds() + 4
    lot.refresh_from_db()
    assert lot.status == Lot.Status.OPEN
    assert lot.ends_at >= restored_at + timedelta(seconds=MIN_REMAINING) - timedelta(milliseconds=1)
    # The new end is stored to the millisecond (truncated) and outage_seconds is rounded to one: up to 1.5 ms apart.
    assert event["extended_by_seconds"] >= event["outage_seconds"] - 0.002
    assert Notice.objects.filter(user=bidder, payload__type="extended", payload__lot=lot.pk).exists()

    # The rival gets the moments they lost, and wins; the lot then closes as any other.
    _bid_until_accepted(server, rival, lot.pk, 1_100, "after")
    wait_until(
        lambda: Lot.objects.get(pk=lot.pk).status == Lot.Status.CLOSED,
        timeout=MIN_REMAINING + 15,
        interval=0.1,
        failure="the extended lot never closed",
    )
    lot.refresh_from_db()
    assert lot.winner_id == rival.pk
    assert_lot_verifies(lot.pk)


@pytest.mark.redis_only
def test_no_lot_closes_while_the_lock_store_is_down_and_one_ending_then_is_extended(
    start_redis, start_daphne, start_closer, make_lot, bidder, make_user
):
    redis = start_redis()
    redis_url = f"redis://127.0.0.1:{redis.port}/0"
    server = start_daphne("worker", REDIS_URL=redis_url, CLOSE_LOTS_IN_WEB_PROCESS="false")
    start_closer(REDIS_URL=redis_url, OUTAGE_MIN_REMAINING_SECONDS=str(MIN_REMAINING))
    _auction_through_an_outage(
        server, make_lot=make_lot, bidder=bidder, rival=make_user("rival"), cut=redis.kill, restore=redis.start
    )


def test_no_lot_closes_while_postgres_is_unreachable_and_one_ending_then_is_extended(
    start_tcp_proxy, start_daphne, start_closer, make_lot, bidder, make_user
):
    """Every server reaches PostgreSQL through a path the test cuts. In single-process mode the web process is also
    the closing worker."""
    proxy = start_tcp_proxy()
    env = {"DATABASE_URL": database_url(through=proxy), "OUTAGE_MIN_REMAINING_SECONDS": str(MIN_REMAINING)}
    single = not settings.REDIS_URL
    server = start_daphne(
        "worker", CLOSE_LOTS_IN_WEB_PROCESS="true" if single else "false", CLOSE_LOTS_INTERVAL_SECONDS="0.2", **env
    )
    if not single:
        start_closer(**env)
    _auction_through_an_outage(
        server, make_lot=make_lot, bidder=bidder, rival=make_user("rival"), cut=proxy.cut, restore=proxy.restore
    )


def test_a_closing_worker_started_after_an_outage_still_extends(start_closer, make_lot, bidder):
    """The worker that saw the bid path go down is gone; the one started after the outage reads when it was last
    healthy, and that it went down, from the database."""
    now = timezone.now()
    BidPathHealth.objects.create(pk=1, last_ok_at=now - timedelta(seconds=20), down_seen_at=now - timedelta(seconds=19))
    lot = make_lot(ends_in=timedelta(seconds=60), soft_close_window=0)
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="before")
    _move_lot_in_time(lot.pk, -timedelta(seconds=70))  # it ended 10 s ago, in the outage
    start_closer(interval=0.2)
    wait_until(lambda: _outage_events(lot.pk), timeout=15, interval=0.1, failure="the lot was never extended")
    [event] = _outage_events(lot.pk)
    assert event["cause"] == "outage"
    assert event["outage_seconds"] >= 20
    lot.refresh_from_db()
    assert lot.status == Lot.Status.OPEN
    assert lot.ends_at >= now + timedelta(seconds=settings.OUTAGE_MIN_REMAINING_SECONDS)
    assert_lot_verifies(lot.pk)


def test_a_closing_worker_that_was_stopped_extends_nothing(start_closer, make_lot, bidder):
    """A gap with nothing seen down is the closing worker's own absence (a deploy): the web workers went on deciding
    bids, so a lot that ended meanwhile closes as it stands, to the bidder who led at its end."""
    BidPathHealth.objects.create(pk=1, last_ok_at=timezone.now() - timedelta(seconds=20))
    lot = make_lot(ends_in=timedelta(seconds=60), soft_close_window=0)
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="before")
    _move_lot_in_time(lot.pk, -timedelta(seconds=70))  # it ended 10 s ago, while no closing worker ran
    start_closer(interval=0.2)
    wait_until(
        lambda: Lot.objects.get(pk=lot.pk).status != Lot.Status.OPEN,
        timeout=15,
        interval=0.1,
        failure="the lot never closed",
    )
    lot.refresh_from_db()
    assert lot.status == Lot.Status.CLOSED
    assert lot.winner_id == bidder.pk
    assert not _outage_events(lot.pk)
    assert_lot_verifies(lot.pk)


def _move_lot_in_time(lot_id: int, delta: timedelta) -> None:
    """Every moment of a lot and its bids moved by `delta`: the lot replays exactly as before, earlier."""
    from django.db.models import F

    from bidding.models import Bid

    Lot.objects.filter(pk=lot_id).update(
        starts_at=F("starts_at") + delta,
        ends_at=F("ends_at") + delta,
        original_ends_at=F("original_ends_at") + delta,
    )
    Lot.objects.filter(pk=lot_id, hard_end_at__isnull=False).update(hard_end_at=F("hard_end_at") + delta)
    Bid.objects.filter(lot_id=lot_id).update(created_at=F("created_at") + delta, received_at=F("received_at") + delta)


@pytest.mark.django_db(transaction=True)
def test_only_lots_ending_in_the_outage_move_and_a_hard_end_moves_with_them(make_lot, bidder, make_user):
    now = timezone.now()
    BidPathHealth.objects.create(pk=1, last_ok_at=now - timedelta(seconds=10), down_seen_at=now - timedelta(seconds=9))
    # Ended before the outage began, its bids decided by then (a healthy pass would have closed it).
    before = make_lot(starts_in=-timedelta(hours=1), ends_in=-timedelta(seconds=11) - decided_within())
    later = make_lot(ends_in=timedelta(hours=1))
    # Soft close pushed this one to its hard end, which then fell in the outage.
    at_hard_end = make_lot(
        ends_in=timedelta(seconds=60),
        hard_end_at=timezone.now() + timedelta(seconds=70),
        soft_close_window=120,
        soft_close_extension=120,
    )
    place_bid(user=bidder, lot_id=at_hard_end.pk, amount=1_000, bid_id="before")
    at_hard_end.refresh_from_db()
    assert at_hard_end.ends_at == at_hard_end.hard_end_at
    _move_lot_in_time(at_hard_end.pk, -(at_hard_end.ends_at - now) - timedelta(seconds=5))
    at_hard_end.refresh_from_db()
    old_hard_end = at_hard_end.hard_end_at

    closing_pass()

    assert Lot.objects.get(pk=before.pk).status == Lot.Status.CLOSED  # ended before the outage: closed as usual
    assert not _outage_events(before.pk)
    assert Lot.objects.get(pk=later.pk).ends_at == later.ends_at
    assert not _outage_events(later.pk)
    [event] = _outage_events(at_hard_end.pk)
    at_hard_end.refresh_from_db()
    assert at_hard_end.status == Lot.Status.OPEN
    assert 10 <= event["outage_seconds"] < 15
    assert at_hard_end.ends_at >= now + timedelta(seconds=settings.OUTAGE_MIN_REMAINING_SECONDS)
    assert at_hard_end.hard_end_at - old_hard_end == timedelta(seconds=event["extended_by_seconds"])
    assert event["hard_end_at"] == payloads.iso(at_hard_end.hard_end_at)
    # A bid now, inside the soft-close window, stops at the moved hard end; the replay agrees.
    place_bid(user=make_user("rival"), lot_id=at_hard_end.pk, amount=1_100, bid_id="after")
    at_hard_end.refresh_from_db()
    assert at_hard_end.ends_at == at_hard_end.hard_end_at
    assert_lot_verifies(at_hard_end.pk)


@pytest.mark.django_db(transaction=True)
def test_a_blip_shorter_than_the_threshold_moves_nothing(make_lot):
    now = timezone.now()
    BidPathHealth.objects.create(
        pk=1, last_ok_at=now - timedelta(seconds=settings.OUTAGE_MIN_SECONDS - 1), down_seen_at=now
    )
    ended = make_lot()
    Lot.objects.filter(pk=ended.pk).update(**long_ended())  # its end in the blip, its bids decided
    closing_pass()
    assert Lot.objects.get(pk=ended.pk).status == Lot.Status.CLOSED
    assert not LotEvent.objects.filter(payload__type="extended").exists()
    assert BidPathHealth.objects.get(pk=1).last_ok_at >= now
    assert BidPathHealth.objects.get(pk=1).down_seen_at is None


@pytest.fixture
def server(clocked_server):
    """The worker the browser test's page talks to, with the clock running where its events reach it."""
    return clocked_server


@pytest.mark.django_db(transaction=True)
def test_the_lot_page_says_why_the_end_moved_after_an_outage(page_for, make_lot, bidder, live):
    expect = pytest.importorskip("playwright.sync_api").expect
    lot = make_lot(title="Brass lamp", hard_end_at=timezone.now() + timedelta(hours=2))
    page = page_for(bidder, f"/lots/{lot.pk}/")
    live(page)
    wait_until(lambda: BidPathHealth.objects.exists(), timeout=20, interval=0.1, failure="the clock never ran")
    # The clock last saw the bid path healthy 20 s ago, and the lot ended in between.
    BidPathHealth.objects.filter(pk=1).update(
        last_ok_at=timezone.now() - timedelta(seconds=20), down_seen_at=timezone.now() - timedelta(seconds=19)
    )
    Lot.objects.filter(pk=lot.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    expect(page.locator("#feedback")).to_contain_text(
        re.compile(r"Bids could not be placed for 2\d s, so the end moved later"), timeout=10_000
    )
    lot.refresh_from_db()
    expect(page.locator("#soft-close")).to_contain_text(lot.hard_end_at.strftime("%-I:%M:%S"))
    assert lot.status == Lot.Status.OPEN
