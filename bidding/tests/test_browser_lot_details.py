"""A seller lists a lot with its details on the sell page; bidders see the condition, shipping and premium; once it
is won, the winner's page (live, and as served) and /me/ show the itemised total and the seller's instructions,
which another bidder's page never shows. In a real browser against a live worker that also runs the clock."""

from __future__ import annotations

import re

import pytest

from auctions.models import Lot
from bidding.services import place_bid
from bidding.tests.live import elsewhere
from conftest import long_ended

playwright_sync = pytest.importorskip("playwright.sync_api")  # installed by requirements.txt
expect = playwright_sync.expect

pytestmark = pytest.mark.django_db(transaction=True)

PAYMENT = "Bank transfer to IBAN DE00 1234 within three days."
COLLECTION = "Collect from 4 Mill Lane, weekdays 9 to 5."


@pytest.fixture
def server(clocked_server):
    return clocked_server


def list_through_the_sell_page(page) -> None:
    page.get_by_label("Title", exact=True).fill("Brass telescope")
    page.get_by_label(re.compile(r"^Starting price")).fill("20.00")
    in_an_hour = page.evaluate(
        "() => { const d = new Date(Date.now() + 3600e3); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
        " return d.toISOString().slice(0, 16); }"
    )
    page.get_by_label("Ends", exact=True).fill(in_an_hour)
    page.get_by_role("combobox", name=re.compile(r"^Condition")).select_option(label="Like new")
    page.get_by_label(re.compile(r"^Condition note")).fill("A hairline scratch on the tube.")
    page.get_by_label(re.compile(r"^Shipping price")).fill("7.50")
    page.get_by_label(re.compile(r"^Ships to")).fill("EU only")
    page.get_by_label(re.compile(r"^Buyer's premium")).fill("12,5")
    page.get_by_label(re.compile(r"^Collection instructions")).fill(COLLECTION)
    page.get_by_label(re.compile(r"^Payment instructions")).fill(PAYMENT)
    page.get_by_role("button", name="List lot").click()
    expect(page.get_by_text("Listed “Brass telescope”.")).to_be_visible()


def test_the_winner_sees_the_itemised_total_and_the_instructions_and_nobody_else_does(
    page_for, server, make_lot, seller, make_user, live
):
    other = make_lot(seller=seller, title="Pewter tankard")
    alice, bob = make_user("alice"), make_user("bob")
    list_through_the_sell_page(page_for(seller, "/sell/"))
    lot = Lot.objects.get(title="Brass telescope")
    assert (str(lot.buyers_premium_percent), lot.shipping_price, lot.condition) == ("12.5", 750, "like_new")

    elsewhere(lambda: place_bid(user=bob, lot_id=lot.pk, amount=2_000, bid_id="bob-1"))
    elsewhere(lambda: place_bid(user=alice, lot_id=lot.pk, amount=2_500, bid_id="alice-1"))
    winner, loser = page_for(alice, f"/lots/{lot.pk}/"), page_for(bob, f"/lots/{lot.pk}/")
    live(winner), live(loser)
    # What every bidder sees while it runs: the condition, shipping and premium; the seller and their other lots.
    expect(loser.get_by_text("Condition: Like new — A hairline scratch on the tube.")).to_be_visible()
    shipping = loser.get_by_role("region", name="Shipping and collection")
    expect(shipping).to_contain_text(re.compile(r"Shipping\s*\D*7[.,]50"))
    expect(shipping).to_contain_text("Ships to")
    expect(shipping).to_contain_text("12.5% of the hammer price")
    expect(loser.get_by_text("Sold by seller")).to_be_visible()
    others = loser.get_by_role("region", name="Other lots by this seller")
    expect(others.get_by_role("link", name="Pewter tankard")).to_have_attribute("href", f"/lots/{other.pk}/")

    Lot.objects.filter(pk=lot.pk).update(**long_ended())  # the clock closes it; the open pages hear of it
    next_steps = winner.get_by_role("region", name="What happens next")
    expect(winner.get_by_role("heading", name="You won this lot")).to_be_visible(timeout=15_000)
    expect(next_steps).to_be_visible()  # fetched live, no reload
    for line in (r"Hammer price\s*\D*25[.,]00", r"Buyer's premium \(12\.5%\)\s*\D*3[.,]13", r"Shipping\s*\D*7[.,]50"):
        expect(next_steps).to_contain_text(re.compile(line))
    expect(next_steps).to_contain_text(re.compile(r"Total\s*\D*35[.,]63"))
    expect(next_steps).to_contain_text(PAYMENT)
    expect(next_steps).to_contain_text(COLLECTION)

    expect(loser.get_by_role("heading", name=re.compile(r"^Sold for"))).to_be_visible()
    for page in (loser, page_for(bob, f"/lots/{lot.pk}/"), page_for(None, f"/lots/{lot.pk}/")):
        expect(page.get_by_role("region", name="What happens next")).to_have_count(0)
        expect(page.get_by_text(PAYMENT)).to_have_count(0)
        expect(page.get_by_text(COLLECTION)).to_have_count(0)
        expect(page.get_by_text(re.compile(r"35[.,]63"))).to_have_count(0)

    served = page_for(alice, f"/lots/{lot.pk}/")  # the page as served says the same
    expect(served.get_by_role("region", name="What happens next")).to_contain_text(re.compile(r"Total\s*\D*35[.,]63"))
    expect(served.locator("#outcome")).to_contain_text(re.compile(r"Total to pay: \D*35[.,]63"))
    sellers = page_for(seller, f"/lots/{lot.pk}/")
    expect(sellers.get_by_role("region", name="What happens next")).to_contain_text(PAYMENT)

    mine = page_for(alice, "/me/")
    row = mine.get_by_role("row").filter(has=mine.get_by_role("link", name="Brass telescope"))
    expect(row).to_contain_text(re.compile(r"won · total to pay \D*35[.,]63"))
