"""The live sale's pages as served: the clerk's console to the sale's clerks, its house and staff only (with the
lot's bid history as they see it), the bidders' page to anyone, and the links to both."""

from __future__ import annotations

import pytest
from django.test import Client

from auctions import sales
from bidding.services import live
from conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def sale(make_sale, make_user):
    sale = make_sale(lots=2)
    sale.clerk = make_user("clerk", can_bid=False)
    sale.clerks.add(sale.clerk)
    return sale


def test_the_console_opens_for_the_house_its_clerks_and_staff_only(sale, make_user):
    path = f"/sales/{sale.pk}/clerk/"
    staff = make_user("staff")
    staff.is_staff = True
    staff.save()
    for who in (sale.house, sale.clerk, staff):
        page = login(who).get(path)
        assert page.status_code == 200 and "Drive this sale" in page.content.decode()
    assert login(make_user("alice")).get(path).status_code == 403
    anonymous = Client().get(path)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


def test_the_clerks_history_names_the_floor_the_absentee_and_the_paddles_to_clerks_alone(sale, make_user):
    alice = make_user("alice")
    sales.register(user=alice, sale_id=sale.pk)
    lot = sale.lots.order_by("sale_position").first()
    sales.set_absentee_bid(user=alice, lot_id=lot.pk, max_amount=1_100)
    for action in ("start", "offer"):
        live.clerk_action(user=sale.clerk, sale_id=sale.pk, action=action)
    live.clerk_action(user=sale.clerk, sale_id=sale.pk, action="floor_bid", paddle=12)
    path = f"/sales/{sale.pk}/clerk/lots/{lot.pk}/bids/"
    bids = login(sale.clerk).get(path).json()["bids"]
    assert [(b["amount"], b["source"], b["paddle"]) for b in bids] == [
        (1_100, "floor", 12),
        (1_000, "absentee", 5_000),
    ]
    assert login(alice).get(path).status_code == 403


def test_anyone_may_watch_the_sale_and_a_live_lot_links_to_it(sale, make_user):
    lot = sale.lots.first()
    assert f'href="/sales/{sale.pk}/live/"' in Client().get(f"/lots/{lot.pk}/").content.decode()
    page = Client().get(f"/sales/{sale.pk}/live/").content.decode()
    assert "Log in</a> to register and bid" in page
    assert "Register to bid" in login(make_user("alice")).get(f"/sales/{sale.pk}/live/").content.decode()
    dashboard = login(sale.house).get("/sell/").content.decode()
    assert f'href="/sales/{sale.pk}/clerk/"' in dashboard


def test_the_auctioneers_view_opens_for_clerks_alone_and_the_room_display_for_anyone(sale, make_user):
    staff = make_user("staff")
    staff.is_staff = True
    staff.save()
    auctioneer = f"/sales/{sale.pk}/auctioneer/"
    for who in (sale.house, sale.clerk, staff):
        assert "Internet winning" in login(who).get(auctioneer).content.decode()
    assert login(make_user("alice")).get(auctioneer).status_code == 403
    assert Client().get(auctioneer).status_code == 302
    # A projector in the room shows only public things: no login, and no personal socket even when one is logged in.
    room = Client().get(f"/sales/{sale.pk}/room/")
    assert room.status_code == 200 and "js/room.js" in room.content.decode()
    assert 'data-user="0"' in login(staff).get(f"/sales/{sale.pk}/room/").content.decode()
    assert Client().get("/sales/999999/room/").status_code == 404
    console = login(sale.clerk).get(f"/sales/{sale.pk}/clerk/").content.decode()
    assert f'href="{auctioneer}"' in console and f'href="/sales/{sale.pk}/room/"' in console


def test_a_bidder_reads_their_own_absentee_bids_and_how_each_fared_and_no_one_elses(sale, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    sales.register(user=alice, sale_id=sale.pk)
    sales.register(user=bob, sale_id=sale.pk)
    lot1, lot2 = sale.lots.order_by("sale_position")
    sales.set_absentee_bid(user=alice, lot_id=lot1.pk, max_amount=1_100)
    sales.set_absentee_bid(user=alice, lot_id=lot2.pk, max_amount=1_500)
    path = f"/sales/{sale.pk}/live/mine/"
    before = login(alice).get(path).json()["lots"]
    assert [(r["lot"], r["absentee_max"], r["alias"], r["absentee_result"]) for r in before] == [
        (lot1.pk, 1_100, None, None),
        (lot2.pk, 1_500, None, None),
    ]
    for action in ("start", "offer"):
        live.clerk_action(user=sale.clerk, sale_id=sale.pk, action=action)
    opened = login(alice).get(path).json()["lots"][0]
    assert opened["alias"] == "Bidder 1"  # the absentee bid opened lot 1: the page reads "Bidder 1" as "you"
    live.clerk_action(user=sale.clerk, sale_id=sale.pk, action="floor_bid", amount=1_100)  # 1_200 is past her maximum
    live.clerk_action(user=sale.clerk, sale_id=sale.pk, action="sold")
    live.clerk_action(user=sale.clerk, sale_id=sale.pk, action="next")
    live.clerk_action(user=sale.clerk, sale_id=sale.pk, action="offer")
    live.clerk_action(user=sale.clerk, sale_id=sale.pk, action="sold")
    after = {r["lot"]: r["absentee_result"] for r in login(alice).get(path).json()["lots"]}
    assert after == {lot1.pk: {"outcome": "outbid", "amount": 1_100}, lot2.pk: {"outcome": "won", "amount": 1_000}}
    assert login(bob).get(path).json()["lots"] == []  # Alice's maxima are hers alone
    assert Client().get(path).status_code == 401


def test_an_absentee_bid_on_a_lot_that_passes_was_not_reached(sale, make_user):
    alice = make_user("alice")
    sales.register(user=alice, sale_id=sale.pk)
    lot = sale.lots.order_by("sale_position").first()
    sales.set_absentee_bid(user=alice, lot_id=lot.pk, max_amount=1_000)
    for action in ("start", "offer", "pass"):  # the house passes it (below a reserve, say) at her opening bid
        live.clerk_action(user=sale.clerk, sale_id=sale.pk, action=action)
    [row] = login(alice).get(f"/sales/{sale.pk}/live/mine/").json()["lots"]
    assert row["absentee_result"] == {"outcome": "passed", "amount": None}
