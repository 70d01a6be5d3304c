"""The lot socket's snapshot stays small whatever a seller types: it goes to every watcher on every connect and
every resync, so it carries only fields the schema bounds, never the description or the photos' addresses (the page
and the HTTP answers show those). Measured on the frame a real Daphne worker sends."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from auctions.models import Lot
from auctions.services import create_lot
from bidding.services import place_bid
from bidding.tests.live import connect
from conftest import acookie_header

pytestmark = pytest.mark.django_db(transaction=True)

# docs/protocol.md states it: a snapshot is at most 16 KiB, for a lot with every field at its longest.
SNAPSHOT_MAX_BYTES = 16 * 1024
# Each of these characters is four bytes in UTF-8 and twelve as a JSON escape: the longest a character gets.
WIDE = "\U00020000"  # a CJK ideograph: a letter that Unicode normalization keeps, so usernames may use it


def maximal_lot(make_user) -> tuple[Lot, object]:
    seller = make_user(WIDE * 150, can_bid=False)  # Django's longest username
    bidder = make_user("\U00020001" * 150)
    now = timezone.now()
    most = settings.MAX_BID_CENTS
    lot = create_lot(
        seller=seller,
        title=WIDE * Lot.TITLE_MAX_CHARS,
        description=WIDE * Lot.DESCRIPTION_MAX_CHARS,
        starting_price=most // 4,
        reserve_price=most // 2,
        buy_now_price=most,
        ends_at=now + timedelta(hours=1),
        hard_end_at=now + timedelta(days=3650),
    )
    place_bid(user=bidder, lot_id=lot.pk, amount=most // 4, bid_id="max-1", max_amount=most - 1)
    return lot, bidder


async def test_a_maximal_lots_snapshot_over_the_socket_is_small(start_daphne, make_user):
    server = await sync_to_async(start_daphne)()
    lot, bidder = await sync_to_async(maximal_lot)(make_user)
    cookie = await acookie_header(bidder)
    ws = await connect(server.url, lot.pk, cookie)
    try:
        # A sync from beyond the lot's sequence answers with a fresh snapshot: the raw frame is measured.
        await ws.send(json.dumps({"type": "sync", "since_seq": 10**9}))
        frame = await ws.recv()
    finally:
        await ws.close()
    snapshot = json.loads(frame)
    assert snapshot["type"] == "snapshot" and snapshot["you"]["max_amount"] == settings.MAX_BID_CENTS - 1
    assert snapshot["lot"]["title"] == WIDE * Lot.TITLE_MAX_CHARS
    assert (
        "description" not in snapshot["lot"] and "photos" not in snapshot["lot"] and "photo_url" not in snapshot["lot"]
    )
    size = len(frame.encode() if isinstance(frame, str) else frame)
    assert size <= SNAPSHOT_MAX_BYTES, f"a maximal lot's snapshot is {size:,} bytes"


def test_the_http_answer_carries_the_description_the_socket_leaves_out(start_daphne, make_user):
    import urllib.request

    server = start_daphne()
    lot, _ = maximal_lot(make_user)
    with urllib.request.urlopen(f"{server.http}/api/lots/{lot.pk}/", timeout=10) as response:
        answer = json.loads(response.read())
    assert answer["type"] == "snapshot" and answer["lot"]["description"] == WIDE * Lot.DESCRIPTION_MAX_CHARS
