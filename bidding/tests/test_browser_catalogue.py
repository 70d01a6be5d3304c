"""The catalogue grid in a real browser (Playwright driving Debian's Chromium) against a live Daphne worker: a search
by a word of a description, each filter and a sort, the results of ended lots, prices in the currency that follow a
bid without a reload, the urgent last minutes, and one column on a phone."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from auctions.models import Lot
from bidding.lot_actions import cancel_lot
from bidding.services import place_bid

playwright_sync = pytest.importorskip("playwright.sync_api")  # installed by requirements.txt
expect = playwright_sync.expect

pytestmark = pytest.mark.django_db(transaction=True)

MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


def titles(page):
    """The cards' titles, in the order shown."""
    return page.locator("#lots article h2")


def test_a_word_in_a_description_finds_its_lot_and_not_the_others(page_for, make_lot, seller):
    make_lot(seller=seller, title="Brass telescope", description="A nautical instrument in its leather case.")
    make_lot(seller=seller, title="Oak desk", description="Three drawers and a brass key.")
    make_lot(seller=seller, title="Mantel clock", description="Keeps good time.")
    page = page_for(None, "/")
    expect(page.get_by_role("article")).to_have_count(3)

    page.get_by_role("searchbox", name="Search lots").fill("nautical")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]q=nautical"))  # a link to these results
    expect(titles(page)).to_have_text(["Brass telescope"])
    expect(page.locator("#count")).to_have_text("1 lot")
    with page.expect_response(lambda response: "/api/lots/?q=nautical" in response.url):
        pass  # the grid's next refresh from the API asks for the same search...
    expect(titles(page)).to_have_text(["Brass telescope"])  # ...and keeps to it

    page.get_by_role("searchbox", name="Search lots").fill("harpsichord")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("No lots match your search.")).to_be_visible()
    expect(page.get_by_role("article")).to_have_count(0)


def test_each_filter_and_a_sort_change_the_cards(page_for, make_lot, seller, make_user):
    make_lot(seller=seller, title="Telescope", starting_price=5_000, ends_in=10 * MINUTE)
    desk = make_lot(seller=seller, title="Desk", starting_price=1_000, ends_in=3 * HOUR)
    make_lot(seller=seller, title="Clocks", starting_price=2_000, buy_now_price=9_000, ends_in=2 * HOUR)
    place_bid(user=make_user("alice"), lot_id=desk.pk, amount=1_200, bid_id=uuid.uuid4().hex)
    page = page_for(None, "/")
    everything = ["Telescope", "Clocks", "Desk"]  # ending soonest first
    expect(titles(page)).to_have_text(everything)

    for name, shown in [
        ("Ending soon", ["Telescope"]),
        ("No bids yet", ["Telescope", "Clocks"]),
        ("Buy now available", ["Clocks"]),
    ]:
        page.get_by_role("checkbox", name=name).check()  # applies at once
        expect(titles(page)).to_have_text(shown)
        expect(page.get_by_role("checkbox", name=name)).to_be_checked()
        page.get_by_role("checkbox", name=name).uncheck()
        expect(titles(page)).to_have_text(everything)

    page.get_by_label("Lowest price (EUR)").fill("11")
    page.get_by_label("Highest price (EUR)").fill("25,00")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(titles(page)).to_have_text(["Clocks", "Desk"])  # 20.00 and the desk's bid of 12.00

    page.get_by_role("link", name="Clear search and filters").click()
    page.get_by_label("Sort by").select_option(label="Price: low to high")
    expect(titles(page)).to_have_text(["Desk", "Clocks", "Telescope"])
    expect(page).to_have_url(re.compile(r"[?&]sort=price_low"))
    page.get_by_label("Sort by").select_option(label="Most bids")
    expect(titles(page).first).to_have_text("Desk")


def test_the_results_show_how_ended_lots_turned_out(page_for, make_lot, seller, make_user):
    alice = make_user("alice")
    ended = {"starts_in": -2 * HOUR, "ends_in": -HOUR, "status": Lot.Status.CLOSED, "closed_at": timezone.now()}
    make_lot(seller=seller, title="Walnut chair", high_bid_amount=4_000, bid_count=2, winner=alice, **ended)
    make_lot(seller=seller, title="Silver spoon", high_bid_amount=500, reserve_price=2_000, bid_count=1, **ended)
    make_lot(seller=seller, title="Tin whistle", **ended)
    lamp = make_lot(seller=seller, title="Glass lamp")
    cancel_lot(user=seller, lot_id=lamp.pk, reason="Damaged in transit")
    make_lot(seller=seller, title="Still running")

    page = page_for(None, "/")
    expect(titles(page)).to_have_text(["Still running"])
    page.get_by_role("link", name="Results", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Results: ended lots")
    expect(page.get_by_role("article", name="Walnut chair")).to_contain_text("Sold for €40.00")
    expect(page.get_by_role("article", name="Silver spoon")).to_contain_text("Not sold: reserve not met")
    expect(page.get_by_role("article", name="Tin whistle")).to_contain_text("Not sold: no bids")
    expect(page.get_by_role("article", name="Glass lamp")).to_contain_text("Withdrawn: Damaged in transit")
    expect(page.get_by_role("article", name="Still running")).to_have_count(0)


def test_cards_show_the_price_in_the_currency_and_follow_a_bid_live(page_for, make_lot, seller, make_user):
    lot = make_lot(seller=seller, title="Brass telescope", ends_in=HOUR)
    make_lot(seller=seller, title="Last call", ends_in=2 * MINUTE)
    page = page_for(None, "/")
    card = page.get_by_role("article", name="Brass telescope")
    expect(card).to_contain_text(f"Lot {lot.pk}")
    expect(card).to_contain_text("Starting bid €10.00")
    expect(card).to_contain_text("0 bids")

    place_bid(user=make_user("alice"), lot_id=lot.pk, amount=1_250, bid_id=uuid.uuid4().hex)
    expect(card).to_contain_text("Current bid €12.50", timeout=5_000)  # no reload
    expect(card).to_contain_text(re.compile(r"\b1 bid\b"))
    # The last minutes stand out; a lot with an hour to go does not.
    expect(page.locator("li.lot-card", has_text="Last call")).to_have_class(re.compile(r"\burgent\b"))
    expect(page.locator("li.lot-card", has_text="Brass telescope")).not_to_have_class(re.compile(r"\burgent\b"))

    detail = page_for(None, f"/lots/{lot.pk}/")
    expect(detail.get_by_text(f"Lot {lot.pk}", exact=True)).to_be_visible()


def test_the_grid_is_one_column_on_a_phone(page_for, make_lot, seller):
    for i, title in enumerate(["Brass telescope", "Oak desk", "Mantel clock", "Glass vase"]):
        make_lot(seller=seller, title=title, starting_price=1_000 * (i + 1), ends_in=(i + 1) * HOUR)
    desktop = page_for(None, "/")
    boxes = [card.bounding_box() for card in desktop.get_by_role("article").all()]
    assert len({round(box["y"]) for box in boxes}) == 1, "on a desktop the cards sit side by side"

    phone = page_for(None, "/", width=390)
    boxes = [card.bounding_box() for card in phone.get_by_role("article").all()]
    assert len(boxes) == 4
    assert len({round(box["x"]) for box in boxes}) == 1 and all(box["width"] > 300 for box in boxes)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
