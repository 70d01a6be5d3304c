"""Group commit: bids that queue for a lot while it is busy are decided together, one lock and one transaction for
the group, with exactly the answers they would have had one by one. Real PostgreSQL, and the real Redis lock where
REDIS_URL is set."""

from __future__ import annotations

import asyncio
import itertools
import random
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import IntegrityError

from auctions.exceptions import BidRefused
from auctions.models import Lot, LotEvent
from bidding import statements
from bidding.floors import committed_floor
from bidding.models import Bid, MaximumRaise
from bidding.services import decision, socket_queue
from bidding.tests.live import queued_in_this_process, until
from conftest import assert_lot_verifies

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def group_sizes(monkeypatch):
    """The size of every group the lot's queue decided."""
    sizes: list[int] = []
    original = decision.decide_group

    def recording(lot_id, queued):
        sizes.append(len(queued))
        return original(lot_id, queued)

    monkeypatch.setattr(decision, "decide_group", recording)
    return sizes


@pytest.fixture(autouse=True)
def _fresh_floors(lot):
    # The per-process floor would refuse these tests' bids before they queue; they are about the queue.
    yield
    committed_floor.forget(lot.pk)


@pytest.fixture
def send_while_held(hold_lot_lock):
    async def send(lot_id: int, *waves: list[tuple[object, int, str, int | None]]) -> list[object]:
        """Send the bids while the lot is held elsewhere, let them queue, release; each bid's answer, in the order
        given. The bids of one wave are sent at once; each wave once the one before it has queued."""

        async def one(user, amount, bid_id, max_amount):
            try:
                return await socket_queue.aplace_bid(
                    user=user, lot_id=lot_id, amount=amount, bid_id=bid_id, max_amount=max_amount
                )
            except BidRefused as refusal:
                return refusal

        with hold_lot_lock(lot_id):
            tasks = []
            for wave in waves:
                tasks += [asyncio.create_task(one(*bid)) for bid in wave]
                sent = len(tasks)  # every pre-check done, every bid sent so far queued behind the held lock:
                await until(lambda sent=sent: queued_in_this_process(lot_id) == sent, timeout=5)
        return await asyncio.gather(*tasks)

    return send


def one_by_one(*bids):
    return [[bid] for bid in bids]


async def test_a_queued_group_gets_the_answers_one_by_one_would_give(lot, make_user, group_sizes, send_while_held):
    users = await sync_to_async(lambda: [make_user() for _ in range(12)])()
    # An opener, then many at once: the same price (one can win it), some higher, one far higher with a hidden
    # maximum. The group is formed once the lock is free, so all twelve are decided together, in arrival order.
    opener = (users[0], 1_000, "opener", None)
    rest = [(user, random.choice((1_100, 1_100, 1_200, 1_500)), f"g{user.pk}", None) for user in users[1:10]]
    rest += [(users[10], 5_000, "big", 9_000), (users[11], 1_300, "late", None)]
    random.shuffle(rest)
    answers = await send_while_held(lot.pk, [opener], rest)

    assert group_sizes == [12], group_sizes
    accepted = [a for a in answers if not isinstance(a, BidRefused)]
    refused = [a for a in answers if isinstance(a, BidRefused)]
    assert accepted and {r.code for r in refused} <= {"too_low"}
    fresh = await Lot.objects.aget(pk=lot.pk)
    rows = [row async for row in Bid.objects.filter(lot_id=lot.pk).order_by("seq").values_list("seq", "amount")]
    assert [seq for seq, _ in rows] == list(range(1, fresh.seq + 1))
    assert all(a < b for (_, a), (_, b) in itertools.pairwise(rows)), rows
    # Each answer tells the truth: the accepted bid is stored at the seq and amount its bidder was told.
    assert {(a.seq, a.amount) for a in accepted} <= set(rows)
    assert await LotEvent.objects.filter(lot_id=lot.pk).acount() == fresh.seq
    # The hidden maximum leads and stays hidden.
    assert fresh.high_bid_amount < 9_000 and fresh.leader_max_amount == 9_000
    await sync_to_async(assert_lot_verifies)(lot.pk)


async def test_the_bid_received_first_is_decided_first_whenever_its_pre_check_ends(
    lot, bidder, make_user, hold_lot_lock
):
    """Two bids at the same price: the one its socket handed over first wins, even if it reaches the queue last."""
    rival = await sync_to_async(make_user)("bob")
    received = time.monotonic_ns()

    async def bid(user, bid_id, received_at):
        try:
            return await socket_queue.aplace_bid(
                user=user, lot_id=lot.pk, amount=1_000, bid_id=bid_id, received=received_at
            )
        except BidRefused as refusal:
            return refusal

    with hold_lot_lock(lot.pk):
        later = asyncio.create_task(bid(rival, "second", received + 1_000))
        await until(lambda: queued_in_this_process(lot.pk) == 1)  # bob's bid is queued before alice's pre-check starts
        earlier = asyncio.create_task(bid(bidder, "first", received))
        await until(lambda: queued_in_this_process(lot.pk) == 2)
    first, second = await asyncio.gather(earlier, later)
    assert not isinstance(first, BidRefused) and first.seq == 1
    assert isinstance(second, BidRefused) and second.code == "too_low"


async def test_a_retry_queued_behind_its_own_bid_gets_the_same_answer(
    lot, bidder, make_user, group_sizes, send_while_held
):
    rival = await sync_to_async(make_user)("bob")
    answers = await send_while_held(
        lot.pk,
        *one_by_one(
            (rival, 1_000, "bob-0", None),
            (bidder, 1_100, "twice", None),
            (rival, 1_200, "bob-1", None),
            (bidder, 1_100, "twice", None),
        ),
    )
    _, first, _, retry = answers
    assert not isinstance(first, BidRefused) and not isinstance(retry, BidRefused), answers
    assert (retry.seq, retry.amount, retry.duplicate) == (first.seq, first.amount, True)
    assert group_sizes == [4]
    assert await Bid.objects.filter(bidder=bidder).acount() == 1
    await sync_to_async(assert_lot_verifies)(lot.pk)


async def test_a_reused_bid_id_for_another_amount_in_the_same_group_is_invalid(lot, bidder, make_user, send_while_held):
    rival = await sync_to_async(make_user)("bob")
    answers = await send_while_held(
        lot.pk,
        *one_by_one(
            (rival, 1_000, "bob-0", None),
            (bidder, 1_100, "same-id", None),
            (bidder, 2_000, "same-id", None),
        ),
    )
    assert not isinstance(answers[1], BidRefused)
    assert isinstance(answers[2], BidRefused) and answers[2].code == "invalid"
    assert [b async for b in Bid.objects.filter(lot_id=lot.pk).values_list("amount", flat=True)] == [1_000, 1_100]


async def test_a_leader_raising_their_maximum_inside_a_group_is_logged_for_replay(
    lot, bidder, make_user, group_sizes, send_while_held
):
    rival = await sync_to_async(make_user)("bob")
    first = await socket_queue.aplace_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="open", max_amount=2_000)
    assert first.leading
    answers = await send_while_held(
        lot.pk,
        *one_by_one(
            (rival, 1_100, "bob-0", None),  # alice's maximum answers it
            (bidder, 1_300, "raise", 5_000),  # alice raises her maximum: nothing visible changes
            (rival, 3_000, "bob-1", None),  # the raised maximum holds bob off
        ),
    )
    assert not any(isinstance(a, BidRefused) for a in answers), answers
    assert group_sizes == [1, 3]
    assert not answers[2].leading
    fresh = await Lot.objects.aget(pk=lot.pk)
    assert (fresh.high_bidder_id, fresh.leader_max_amount) == (bidder.pk, 5_000)
    assert await MaximumRaise.objects.filter(lot_id=lot.pk).acount() == 1
    await sync_to_async(assert_lot_verifies)(lot.pk)


async def test_a_group_whose_write_fails_is_decided_bid_by_bid(
    lot, make_user, group_sizes, monkeypatch, send_while_held
):
    users = await sync_to_async(lambda: [make_user() for _ in range(4)])()
    original = statements.write_decision
    failed: list[int] = []

    def fails_once_for_a_group(*, lot, bids, event_texts, now, **more):
        if len(bids) > 1 and not failed:
            failed.append(len(bids))
            raise IntegrityError("simulated: a twin committed meanwhile")
        return original(lot=lot, bids=bids, event_texts=event_texts, now=now, **more)

    monkeypatch.setattr(statements, "write_decision", fails_once_for_a_group)
    answers = await send_while_held(
        lot.pk, *one_by_one(*[(user, 1_000 + 100 * i, f"s{i}", None) for i, user in enumerate(users)])
    )
    assert failed, f"no group reached the write: {group_sizes}"
    assert not any(isinstance(a, BidRefused) for a in answers), answers
    assert sorted(a.seq for a in answers) == [1, 2, 3, 4]
    await sync_to_async(assert_lot_verifies)(lot.pk)


async def test_bids_still_queued_when_the_wait_runs_out_are_answered_busy(lot, make_user, settings, hold_lot_lock):
    settings.BID_LOCK_WAIT_SECONDS = 0.3
    users = await sync_to_async(lambda: [make_user() for _ in range(3)])()

    async def one(user, amount):
        try:
            return await socket_queue.aplace_bid(user=user, lot_id=lot.pk, amount=amount, bid_id=f"w{user.pk}")
        except BidRefused as refusal:
            return refusal

    with hold_lot_lock(lot.pk):
        answers = await asyncio.gather(*(one(user, 1_000 + i) for i, user in enumerate(users)))
    assert [a.code for a in answers] == ["busy"] * 3
    assert await Bid.objects.filter(lot_id=lot.pk).acount() == 0


@pytest.mark.redis_only
async def test_bids_queued_when_redis_is_down_are_all_answered_unavailable_at_once(lot, make_user, settings):
    users = await sync_to_async(lambda: [make_user() for _ in range(4)])()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    started = time.monotonic()
    answers = await asyncio.gather(
        *(
            socket_queue.aplace_bid(user=user, lot_id=lot.pk, amount=1_000 + 100 * i, bid_id=f"down{i}")
            for i, user in enumerate(users)
        ),
        return_exceptions=True,
    )
    assert [getattr(a, "code", a) for a in answers] == ["unavailable"] * 4
    assert time.monotonic() - started < settings.BID_LOCK_WAIT_SECONDS  # told at once, not after the wait
    assert await Bid.objects.filter(lot_id=lot.pk).acount() == 0
