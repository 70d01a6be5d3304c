"""Money on the pages, in a real browser (Playwright driving Debian's Chromium) against a live Daphne worker: amounts
in the site's currency for the visitor's locale, amounts read the way people type them, refusals that say what is
wrong, the seller's counts live and the two kinds of watching named apart, and the admin in money, not cents."""

from __future__ import annotations

import re
import uuid

import pytest

from auctions.models import Lot, Watch
from bidding.services import place_bid
from bidding.tests.live import bid_over_http
from conftest import wait_until

playwright_sync = pytest.importorskip("playwright.sync_api")  # installed by requirements.txt
expect = playwright_sync.expect

pytestmark = pytest.mark.django_db(transaction=True)

HIGHEST = "The highest amount this site takes is €10,000,000,000.00."


def high_bid_becomes(lot_id: int, cents: int) -> None:
    wait_until(
        lambda: Lot.objects.get(pk=lot_id).high_bid_amount == cents,
        timeout=5,
        failure=lambda: f"the high bid is {Lot.objects.get(pk=lot_id).high_bid_amount}, not {cents}",
    )


def bid(page, amount: str, maximum: str = "") -> None:
    page.fill("#amount", amount)
    page.fill("#max-amount", maximum)
    page.click("#bid-button")


def test_every_page_shows_amounts_in_the_currency(page_for, live, make_lot, seller, make_user):
    lot = make_lot(seller=seller, title="Brass telescope")
    alice = make_user("alice")
    listing = page_for(alice, "/")
    expect(listing.get_by_role("article", name="Brass telescope")).to_contain_text("€10.00")

    page = page_for(alice, f"/lots/{lot.pk}/")
    live(page)
    expect(page.locator("#min-next")).to_have_text("€10.00")
    expect(page.locator("#quick button").first).to_contain_text("€10.00")
    bid(page, "12.50")
    expect(page.locator("#high")).to_have_text("€12.50")
    expect(page.locator("#history li").first).to_contain_text("€12.50")
    high_bid_becomes(lot.pk, 1_250)
    # The list follows the bid (its script, in the same format as the server's first rendering).
    expect(listing.get_by_role("article", name="Brass telescope")).to_contain_text("€12.50", timeout=5_000)

    mine = page_for(alice, "/me/")
    expect(mine.get_by_role("row", name=re.compile("Brass telescope")).first).to_contain_text("€12.50")


def test_a_german_visitor_reads_and_types_amounts_the_german_way(page_for, live, make_lot, seller, make_user):
    lot = make_lot(seller=seller, title="Taschenuhr", starting_price=3_750)
    hans = make_user("hans")
    listing = page_for(hans, "/", locale="de-DE")
    expect(listing.get_by_role("article", name="Taschenuhr")).to_contain_text("37,50 €")  # the server's

    page = page_for(hans, f"/lots/{lot.pk}/", locale="de-DE")
    live(page)
    expect(page.locator("#min-next")).to_have_text("37,50 €")  # the page's own
    bid(page, "1.234,50")
    expect(page.locator("#high")).to_have_text("1.234,50 €")
    high_bid_becomes(lot.pk, 123_450)
    expect(listing.get_by_role("article", name="Taschenuhr")).to_contain_text("1.234,50 €", timeout=5_000)


def test_an_amount_is_read_as_people_type_it(page_for, make_lot, seller):
    """The page's reader (Gavel.readAmount): a comma or a point for the decimals, grouping optional, the visitor's
    own grouping separator taken as such, the currency beside it allowed; anything else a sentence."""
    read = "raw => Gavel.readAmount(raw)"
    american = page_for(None, "/")
    for raw, cents in [
        ("12.50", 1_250),
        ("12,50", 1_250),
        ("12,5", 1_250),
        ("12", 1_200),
        (" 12.50 ", 1_250),
        ("€12.50", 1_250),
        ("12,50 €", 1_250),
        ("EUR 12.50", 1_250),
        ("1,234.50", 123_450),
        ("1.234,50", 123_450),
        ("1 234,50", 123_450),
        ("1,000", 100_000),
        ("1,000,000", 100_000_000),
        ("10000000000", 1_000_000_000_000),
    ]:
        assert american.evaluate(read, raw) == {"cents": cents}, raw
    for raw, problem in [
        ("", "Enter an amount, like 12.50."),
        ("abc", "“abc” is not an amount: enter one like 12.50."),
        ("1,2,3", "“1,2,3” is not an amount: enter one like 12.50."),
        ("12.345", "Amounts go to the cent: at most two digits after the decimal point, like 12.50."),
        ("0", "Enter an amount above zero."),
        ("-5", "Enter an amount above zero."),
        ("10000000000.01", HIGHEST),
        ("99999999999999999999999", HIGHEST),
    ]:
        assert american.evaluate(read, raw) == {"problem": problem}, raw

    german = page_for(None, "/", locale="de-DE")
    for raw, cents in [("1.000", 100_000), ("12,50", 1_250), ("12.50", 1_250), ("1.234,50", 123_450)]:
        assert german.evaluate(read, raw) == {"cents": cents}, raw
    assert german.evaluate(read, "1,000") == {
        "problem": "Amounts go to the cent: at most two digits after the decimal point, like 12,50."
    }


def test_a_refused_amount_says_what_is_wrong_and_a_comma_bid_goes_through(
    page_for, live, server, make_lot, seller, make_user
):
    lot = make_lot(seller=seller)
    alice = make_user("alice")
    page = page_for(alice, f"/lots/{lot.pk}/")
    live(page)
    feedback = page.locator("#feedback")
    bid(page, "20000000000")
    expect(feedback).to_have_text(HIGHEST)
    bid(page, "12.00", maximum="99999999999")
    expect(feedback).to_have_text(f"Maximum: {HIGHEST}")
    bid(page, "twelve")
    expect(feedback).to_have_text("“twelve” is not an amount: enter one like 12.50.")
    bid(page, "12,50")
    expect(page.locator("#high")).to_have_text("€12.50")
    high_bid_becomes(lot.pk, 1_250)

    # A client that skips the page's reader hears the same from the server, with the highest amount in cents.
    status, body = bid_over_http(server, make_user("bob"), lot.pk, 1_000_000_000_001, uuid.uuid4().hex)
    assert (status, body["code"]) == (400, "invalid")
    assert body["message"] == "The highest bid this site takes is €10,000,000,000.00."
    assert body["highest_amount"] == 1_000_000_000_000


def test_the_seller_sees_bids_and_bidders_live_and_the_people_watching_now(
    page_for, live, server, make_lot, seller, make_user
):
    lot = make_lot(seller=seller, title="Oak desk")
    dashboard = page_for(seller, "/sell/")
    live(dashboard)
    expect(dashboard.get_by_role("columnheader", name="Watching now")).to_be_visible()
    row = dashboard.get_by_role("row", name=re.compile("Oak desk"))
    bids = row.locator("td.bids")
    expect(bids).to_have_text("no bids")
    alice, bob = make_user("alice"), make_user("bob")
    assert bid_over_http(server, alice, lot.pk, 1_000, uuid.uuid4().hex)[0] == 201
    expect(bids).to_have_text("1 bid · 1 bidder", timeout=2_000)
    assert bid_over_http(server, bob, lot.pk, 1_100, uuid.uuid4().hex)[0] == 201
    expect(bids).to_have_text("2 bids · 2 bidders", timeout=2_000)
    assert bid_over_http(server, alice, lot.pk, 1_200, uuid.uuid4().hex)[0] == 201
    expect(bids).to_have_text("3 bids · 2 bidders", timeout=2_000)
    expect(row.locator("td.money")).to_have_text("€12.00")
    page_for(None, f"/lots/{lot.pk}/")
    expect(row.locator(".watchers")).to_have_text("1", timeout=5_000)

    dashboard.reload()  # a fresh snapshot says the same
    live(dashboard)
    again = dashboard.get_by_role("row", name=re.compile("Oak desk"))
    expect(again.locator("td.bids")).to_have_text("3 bids · 2 bidders")


def test_the_lot_page_tells_people_watching_now_from_the_watchlist(page_for, live, make_lot, seller, make_user):
    lot = make_lot(seller=seller, title="Brass telescope")
    alice = make_user("alice")
    page = page_for(alice, f"/lots/{lot.pk}/")
    live(page)
    expect(page.get_by_text("Watching now", exact=True)).to_be_visible()
    expect(page.locator("#watchers")).to_have_text("1", timeout=5_000)  # this page: a person here now
    expect(page.get_by_text("Watching ✓")).to_have_count(0)
    page.get_by_role("button", name="Add to watchlist").click()
    expect(page.get_by_role("button", name="On your watchlist ✓")).to_be_visible()
    assert Watch.objects.filter(user=alice, lot=lot).exists()
    page.reload()
    expect(page.get_by_role("button", name="On your watchlist ✓")).to_be_visible()
    mine = page_for(alice, "/me/")
    expect(mine.get_by_role("heading", name="Watchlist")).to_be_visible()
    expect(mine.locator("#watchlist")).to_contain_text("Brass telescope")


def test_the_admin_shows_money_not_cents(page_for, server, make_lot, seller, make_user, staff):
    lot = make_lot(seller=seller, title="Oak desk", reserve_price=5_000, buy_now_price=90_000)
    place_bid(user=make_user("alice"), lot_id=lot.pk, amount=1_250, bid_id="admin-money")
    admin = page_for(staff, "/admin/auctions/lot/")
    row = admin.get_by_role("row", name=re.compile("Oak desk"))
    expect(row).to_contain_text("€12.50")
    expect(row).not_to_contain_text("1250")

    admin.goto(f"{server.http}/admin/auctions/lot/{lot.pk}/change/")
    for field, shown in [
        ("starting_price", "€10.00"),
        ("reserve_price", "€50.00"),
        ("buy_now_price", "€900.00"),
        ("high_bid_amount", "€12.50"),
    ]:
        expect(admin.locator(f".field-{field}_money .readonly")).to_have_text(shown)

    admin.goto(f"{server.http}/admin/bidding/bid/")
    expect(admin.get_by_role("row", name=re.compile("Oak desk"))).to_contain_text("€12.50")


def test_a_site_in_dollars_shows_dollars(start_daphne, page_for, make_lot, seller, make_user):
    lot = make_lot(seller=seller, title="Pocket watch", starting_price=3_750)
    dollars = start_daphne("dollars", CURRENCY="USD")
    page = page_for(make_user("alice"), "/", on=dollars)
    expect(page.get_by_role("article", name="Pocket watch")).to_contain_text("$37.50")
    page.goto(f"{dollars.http}/lots/{lot.pk}/")
    expect(page.locator("#min-next")).to_have_text("$37.50", timeout=10_000)
    bid(page, "$40")
    expect(page.locator("#high")).to_have_text("$40.00")
