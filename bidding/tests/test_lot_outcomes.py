"""How a finished lot ended, from one rule (auctions.rules), told alike by the snapshot, the `closed` and
`cancelled` events, the lot page as served, `/me/` and `GET /api/me/bids/`."""

from __future__ import annotations

import json
import re

import pytest

from auctions.models import Lot, LotEvent
from bidding.closing import close_due_lots
from bidding.lot_actions import cancel_lot
from bidding.selectors import lot_snapshot
from bidding.services import buy_now, place_bid
from conftest import login, long_ended

pytestmark = pytest.mark.django_db


@pytest.fixture
def ended(make_lot, seller, make_user):
    """One of each: sold (alice won, bob lost), not sold under the reserve (alice led), not sold without bids,
    withdrawn with alice's bid on it, and one still running that bob leads and alice was outbid on."""
    alice, bob = make_user("alice"), make_user("bob")
    sold = make_lot(seller=seller, title="sold")
    under = make_lot(seller=seller, title="under", reserve_price=5_000)
    unbid = make_lot(seller=seller, title="unbid")
    withdrawn = make_lot(seller=seller, title="withdrawn")
    running = make_lot(seller=seller, title="running")
    place_bid(user=bob, lot_id=sold.pk, amount=1_000, bid_id="s1")
    place_bid(user=alice, lot_id=sold.pk, amount=2_000, bid_id="s2")
    place_bid(user=alice, lot_id=under.pk, amount=2_000, bid_id="u1")
    place_bid(user=alice, lot_id=withdrawn.pk, amount=1_000, bid_id="w1")
    place_bid(user=alice, lot_id=running.pk, amount=1_000, bid_id="r1")
    place_bid(user=bob, lot_id=running.pk, amount=1_500, bid_id="r2")
    Lot.objects.filter(pk__in=[sold.pk, under.pk, unbid.pk]).update(**long_ended())
    close_due_lots()
    staff = make_user("staff", can_bid=False)
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    cancel_lot(user=staff, lot_id=withdrawn.pk, reason="Found to be a copy.")
    return {"alice": alice, "bob": bob, **{lot.title: lot for lot in (sold, under, unbid, withdrawn, running)}}


def test_the_snapshot_carries_each_outcome_and_whether_you_won(ended):
    alice, bob = ended["alice"], ended["bob"]
    sold = lot_snapshot(ended["sold"].pk, viewer_id=alice.pk)["outcome"]
    assert sold == {
        "result": "sold",
        "reason": None,
        "winner": "Bidder 2",
        "amount": 2_000,
        "high_bid": 2_000,
        "you_won": True,
        # What the winner owes (auctions/rules.py winner_total): to the winner alone.
        "total": {
            "hammer": 2_000,
            "premium_percent": "0.0",
            "premium": 0,
            "shipping": None,
            "collection_only": True,
            "total": 2_000,
        },
    }
    for viewer in (bob, None):
        assert lot_snapshot(ended["sold"].pk, viewer_id=viewer and viewer.pk)["outcome"]["you_won"] is False
        assert "total" not in lot_snapshot(ended["sold"].pk, viewer_id=viewer and viewer.pk)["outcome"]
    under = lot_snapshot(ended["under"].pk, viewer_id=alice.pk)
    assert under["outcome"] == {
        "result": "not_sold",
        "reason": "reserve_not_met",
        "winner": None,
        "amount": None,
        "high_bid": 2_000,
        "you_won": False,
    }
    assert lot_snapshot(ended["unbid"].pk, viewer_id=alice.pk)["outcome"]["reason"] == "no_bids"
    withdrawn = lot_snapshot(ended["withdrawn"].pk, viewer_id=alice.pk)["outcome"]
    assert (withdrawn["result"], withdrawn["reason"]) == ("withdrawn", "Found to be a copy.")
    assert lot_snapshot(ended["running"].pk, viewer_id=alice.pk)["outcome"] is None
    assert json.loads(json.dumps(under)) == under


def test_an_ended_lot_not_yet_closed_is_ending_not_leading(make_lot, bidder):
    lot = make_lot()
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="b")
    Lot.objects.filter(pk=lot.pk).update(**long_ended())  # the closing pass has not run
    snapshot = lot_snapshot(lot.pk, viewer_id=bidder.pk)
    assert (snapshot["status"], snapshot["outcome"]["result"]) == ("closed", "ending")
    row = login(bidder).get("/api/me/bids/").json()["lots"][0]
    assert (row["standing"], row["leading"]) == ("ending", False)


def test_the_closed_and_cancelled_events_carry_the_public_outcome(ended):
    sold = LotEvent.objects.get(lot=ended["sold"], payload__type="closed").payload["outcome"]
    assert sold == {"result": "sold", "reason": None, "winner": "Bidder 2", "amount": 2_000, "high_bid": 2_000}
    under = LotEvent.objects.get(lot=ended["under"], payload__type="closed").payload["outcome"]
    assert (under["result"], under["reason"], under["winner"]) == ("not_sold", "reserve_not_met", None)
    withdrawn = LotEvent.objects.get(lot=ended["withdrawn"], payload__type="cancelled").payload["outcome"]
    assert (withdrawn["result"], withdrawn["reason"]) == ("withdrawn", "Found to be a copy.")


def test_my_bids_api_says_where_i_stand_on_each_lot(ended):
    def standings(user):
        rows = login(user).get("/api/me/bids/").json()["lots"]
        return {row["title"]: (row["standing"], row["leading"], row["won"]) for row in rows}

    assert standings(ended["alice"]) == {
        "sold": ("won", False, True),
        "under": ("not_sold", False, False),  # alice led when it ended: not "leading"
        "withdrawn": ("withdrawn", False, False),
        "running": ("outbid", False, False),
    }
    assert standings(ended["bob"]) == {"sold": ("lost", False, False), "running": ("leading", True, False)}


def test_my_bids_page_says_won_lost_not_sold_withdrawn_leading_outbid(ended):
    def cells(user):
        page = login(user).get("/me/").content.decode()
        return {
            lot: page.split(f">{lot}</a>", 1)[1].split('data-label="Me"', 1)[1].split("</td>", 1)[0]
            for lot in ("sold", "under", "withdrawn", "running")
            if f">{lot}</a>" in page
        }

    alice = cells(ended["alice"])
    assert "won" in alice["sold"]
    assert "not sold" in alice["under"] and "leading" not in alice["under"]
    assert "withdrawn: Found to be a copy." in alice["withdrawn"]
    assert "outbid" in alice["running"]
    bob = cells(ended["bob"])
    assert "lost" in bob["sold"] and "leading" in bob["running"]


def test_the_lot_page_is_served_with_the_outcome_and_no_bid_form_to_show(ended, make_lot, seller, make_user):
    page = login(ended["alice"]).get(f"/lots/{ended['sold'].pk}/").content.decode()
    served = json.loads(page.split('<script id="lot-outcome" type="application/json">', 1)[1].split("</script>")[0])
    assert (served["result"], served["you_won"]) == ("sold", True)
    assert re.search(r'<form id="bid-form"[^>]* hidden>', page)
    running = login(ended["alice"]).get(f"/lots/{ended['running'].pk}/").content.decode()
    assert '<script id="lot-outcome" type="application/json">null</script>' in running
    assert re.search(r'<section id="outcome"[^>]* hidden>', running)
    assert not re.search(r'<form id="bid-form"[^>]* hidden>', running)
    bought = make_lot(seller=seller, buy_now_price=3_000)
    buyer = make_user("buyer")
    buy_now(user=buyer, lot_id=bought.pk, bid_id="now")
    assert lot_snapshot(bought.pk, viewer_id=buyer.pk)["outcome"]["you_won"] is True
