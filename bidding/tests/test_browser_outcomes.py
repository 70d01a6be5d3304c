"""A finished lot tells its true outcome (reloaded, or live), buy now reads "You won", and a scheduled lot opens on
an open page: in a real browser against a live worker that also runs the clock (opening and closing lots)."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import timedelta

import pytest

from auctions.models import Lot
from bidding.closing import close_due_lots
from bidding.lot_actions import cancel_lot
from bidding.services import place_bid
from bidding.tests.live import elsewhere
from conftest import assert_lot_verifies, long_ended

playwright_sync = pytest.importorskip("playwright.sync_api")  # installed by requirements.txt
expect = playwright_sync.expect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(clocked_server):
    return clocked_server


def outcome_panel(page):
    return page.locator("#outcome")


def outcome_heading(page, name):
    """The outcome panel's heading, found as a screen reader finds it: a region of the page named by that heading."""
    return page.get_by_role("region", name=name).get_by_role("heading", name=name)


def cancel_over_http(server, user, lot_id: int, reason: str) -> int:
    """Withdraw a lot through the server under test (in single-process mode only it can tell its sockets)."""
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=user)
    request = urllib.request.Request(
        f"{server.http}/api/lots/{lot_id}/cancel/",
        method="POST",
        data=json.dumps({"reason": reason}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token.key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_a_lot_that_ended_under_its_reserve_reads_not_sold_on_reload_and_on_my_bids(
    page_for, make_lot, seller, make_user, live, shot
):
    lot = make_lot(seller=seller, title="Oak chest", reserve_price=5_000)
    alice = make_user("alice")

    def bid_then_end():
        place_bid(user=alice, lot_id=lot.pk, amount=2_000, bid_id="under-the-reserve")
        Lot.objects.filter(pk=lot.pk).update(**long_ended())
        close_due_lots()

    elsewhere(bid_then_end)

    page = page_for(alice, f"/lots/{lot.pk}/")
    expect(outcome_heading(page, "Not sold: the reserve was not met")).to_be_visible()  # as served, before the socket
    live(page)
    expect(outcome_heading(page, "Not sold: the reserve was not met")).to_be_visible()
    expect(outcome_panel(page)).to_contain_text(re.compile(r"highest bid, \D*20[.,]00\D*, was below"))
    expect(page.get_by_text("You are the high bidder")).to_be_hidden()
    # No bid form, not even a greyed one.
    expect(page.get_by_role("heading", name="Place a bid")).to_have_count(0)
    expect(page.get_by_role("button", name="Bid", exact=True)).to_have_count(0)
    shot(page, "screenshot-lot-not-sold.png")
    phone = page_for(alice, f"/lots/{lot.pk}/", width=390)
    phone.set_viewport_size({"width": 390, "height": 844})
    live(phone)
    expect(outcome_heading(phone, "Not sold: the reserve was not met")).to_be_in_viewport()  # on the first screen
    shot(phone, "screenshot-lot-not-sold-phone.png")

    mine = page_for(alice, "/me/")
    row = mine.get_by_role("row").filter(has=mine.get_by_role("link", name="Oak chest"))
    expect(row).to_contain_text("not sold")
    expect(row).not_to_contain_text("leading")


def test_a_finished_lot_reloaded_says_who_won_what_and_why_it_was_withdrawn(
    page_for, make_lot, seller, make_user, live, shot
):
    won = make_lot(seller=seller, title="Walnut clock")
    withdrawn = make_lot(seller=seller, title="Silver jug")
    unbid = make_lot(seller=seller, title="Tin box")
    alice, bob = make_user("alice"), make_user("bob")
    staff = make_user("staff", can_bid=False)
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])

    def bid_end_and_withdraw():
        place_bid(user=bob, lot_id=won.pk, amount=1_000, bid_id="bob-1")
        place_bid(user=alice, lot_id=won.pk, amount=2_500, bid_id="alice-1")
        place_bid(user=alice, lot_id=withdrawn.pk, amount=1_000, bid_id="alice-2")
        Lot.objects.filter(pk__in=[won.pk, unbid.pk]).update(**long_ended())
        close_due_lots()
        cancel_lot(user=staff, lot_id=withdrawn.pk, reason="The seller found it was damaged.")

    elsewhere(bid_end_and_withdraw)

    winner = page_for(alice, f"/lots/{won.pk}/")
    live(winner)
    expect(outcome_heading(winner, "You won this lot")).to_be_visible()
    expect(outcome_panel(winner)).to_contain_text(re.compile(r"Your price: \D*25[.,]00"))
    expect(winner.get_by_text("You are the high bidder")).to_be_hidden()
    shot(winner, "screenshot-lot-won.png")
    phone = page_for(alice, f"/lots/{won.pk}/", width=390)
    phone.set_viewport_size({"width": 390, "height": 844})
    live(phone)
    expect(outcome_heading(phone, "You won this lot")).to_be_in_viewport()  # on the first screen
    shot(phone, "screenshot-lot-won-phone.png")

    loser = page_for(bob, f"/lots/{won.pk}/")
    live(loser)
    expect(outcome_heading(loser, re.compile(r"^Sold for \D*25[.,]00\D*$"))).to_be_visible()
    expect(outcome_panel(loser)).to_contain_text("Won by Bidder 2. You did not win this lot.")

    visitor = page_for(None, f"/lots/{won.pk}/")
    live(visitor)
    expect(outcome_heading(visitor, re.compile(r"^Sold for"))).to_be_visible()
    expect(visitor.get_by_text("Log in to bid")).to_be_hidden()

    gone = page_for(alice, f"/lots/{withdrawn.pk}/")
    live(gone)
    expect(outcome_heading(gone, "Withdrawn: The seller found it was damaged.")).to_be_visible()

    nobody = page_for(alice, f"/lots/{unbid.pk}/")
    live(nobody)
    expect(outcome_heading(nobody, "Not sold: there were no bids")).to_be_visible()

    mine = page_for(alice, "/me/")
    expect(mine.get_by_role("row").filter(has=mine.get_by_role("link", name="Walnut clock"))).to_contain_text("won")
    expect(mine.get_by_role("row").filter(has=mine.get_by_role("link", name="Silver jug"))).to_contain_text(
        "withdrawn: The seller found it was damaged."
    )
    theirs = page_for(bob, "/me/")
    expect(theirs.get_by_role("row").filter(has=theirs.get_by_role("link", name="Walnut clock"))).to_contain_text(
        "lost"
    )


def test_the_close_and_a_withdrawal_switch_open_pages_to_their_outcome_without_a_reload(
    page_for, server, make_lot, seller, make_user, live
):
    ending = make_lot(seller=seller, title="Copper kettle", ends_in=timedelta(seconds=8), soft_close_window=0)
    other = make_lot(seller=seller, title="Glass vase")
    alice, bob = make_user("alice"), make_user("bob")
    elsewhere(lambda: place_bid(user=bob, lot_id=ending.pk, amount=1_000, bid_id="bob-1"))
    elsewhere(lambda: place_bid(user=alice, lot_id=ending.pk, amount=1_500, bid_id="alice-1"))
    winner, loser = page_for(alice, f"/lots/{ending.pk}/"), page_for(bob, f"/lots/{ending.pk}/")
    watching = page_for(alice, f"/lots/{other.pk}/")
    live(winner), live(loser), live(watching)
    expect(winner.locator("#bid-form")).to_be_visible()  # still running

    # The end passes: the clock closes the lot (a few seconds later, once every on-time bid is decided).
    expect(outcome_heading(winner, "You won this lot")).to_be_visible(timeout=15_000)
    expect(winner.locator("#bid-form")).to_be_hidden()
    expect(outcome_heading(loser, re.compile(r"^Sold for \D*15[.,]00"))).to_be_visible(timeout=5_000)

    assert cancel_over_http(server, seller, other.pk, "Listed twice by mistake.") == 200
    expect(outcome_heading(watching, "Withdrawn: Listed twice by mistake.")).to_be_visible(timeout=2_000)
    expect(watching.locator("#bid-form")).to_be_hidden()
    assert_lot_verifies(ending.pk)


def test_after_buy_now_the_buyers_page_says_they_won(page_for, make_lot, seller, make_user, live):
    lot = make_lot(seller=seller, title="Brass lamp", buy_now_price=5_000)
    alice = make_user("alice")
    page = page_for(alice, f"/lots/{lot.pk}/")
    live(page)
    page.get_by_role("button", name=re.compile(r"^Buy now for")).click()  # the confirm dialog is accepted
    expect(outcome_heading(page, "You won this lot")).to_be_visible(timeout=3_000)
    expect(outcome_panel(page)).to_contain_text(re.compile(r"Your price: \D*50[.,]00"))
    expect(page.get_by_text("You are the high bidder")).to_be_hidden()
    expect(page.get_by_text(re.compile("accepted"))).to_be_hidden()
    expect(page.locator("#bid-form")).to_be_hidden()
    page.reload()
    live(page)
    expect(outcome_heading(page, "You won this lot")).to_be_visible()
    assert_lot_verifies(lot.pk)


def test_a_scheduled_lot_shows_its_start_and_opens_for_bidding_without_a_reload(
    page_for, make_lot, seller, make_user, live
):
    lot = make_lot(seller=seller, title="Pewter tankard", status=Lot.Status.SCHEDULED, starts_in=timedelta(seconds=8))
    alice = make_user("alice")
    page = page_for(alice, f"/lots/{lot.pk}/")
    live(page)
    expect(page.get_by_text("Opens at")).to_be_visible()
    expect(page.locator("#starts-at")).to_have_text(re.compile(r"\d"))  # an absolute time, in the visitor's locale
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^opens in 0m 0\ds$"))
    expect(page.locator("#bid-button")).to_be_disabled()

    expect(page.locator("#status")).to_have_text("open", timeout=10_000)  # the server's `opened` event
    expect(page.locator("#bid-button")).to_be_enabled()
    expect(page.get_by_text("Opens at")).to_be_hidden()
    page.get_by_role("textbox", name="Your bid").fill("10.00")
    page.locator("#bid-button").click()
    expect(page.locator("#high")).to_have_text(re.compile(r"10[.,]00"))
    assert Lot.objects.get(pk=lot.pk).seq == 2  # opened, then the bid
    assert_lot_verifies(lot.pk)
