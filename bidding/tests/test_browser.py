"""The pages in a real browser (Playwright driving Debian's Chromium) against a live Daphne worker, real PostgreSQL
and Redis. Set GAVEL_SCREENSHOTS=docs to refresh the screenshots the README links."""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Profile
from auctions.models import Lot
from bidding.services import place_bid
from bidding.tests.live import bid_over_http
from conftest import wait_until

playwright_sync = pytest.importorskip("playwright.sync_api")  # installed by requirements.txt
expect = playwright_sync.expect

pytestmark = pytest.mark.django_db(transaction=True)


def countdown_seconds(text: str) -> int:
    match = re.fullmatch(r"(?:(\d+)d )?(?:(\d+)h )?(\d+)m (\d+)s", text.strip())
    assert match, f"not a countdown: {text!r}"
    d, h, m, s = (int(x or 0) for x in match.groups())
    return ((d * 24 + h) * 60 + m) * 60 + s


def countdown_gap(page, ends_at) -> float:
    """Seconds between the end as the server has it and the page's countdown."""
    return (ends_at - timezone.now()).total_seconds() - countdown_seconds(page.locator("#countdown").inner_text())


def test_a_bid_in_one_browser_reaches_the_other_within_a_second_and_outbids(
    page_for, live, shot, make_lot, seller, make_user
):
    lot = make_lot(seller=seller, title="Brass telescope", description="A 19th-century brass telescope.")
    alice, bob = make_user("alice"), make_user("bob")
    a, b = page_for(alice, f"/lots/{lot.pk}/"), page_for(bob, f"/lots/{lot.pk}/")
    live(a), live(b)
    a.locator("#quick button").first.click()  # the minimum next bid: €10.00
    expect(a.locator("#feedback")).to_have_text("Bid of €10.00 accepted.")
    started = time.monotonic()
    expect(b.locator("#high")).to_have_text("€10.00", timeout=1_000)
    assert time.monotonic() - started < 1
    expect(a.locator("#you")).to_have_text("You are the high bidder.")

    b.fill("#amount", "11.00")
    b.click("#bid-button")
    expect(b.locator("#you")).to_have_text("You are the high bidder.")
    expect(a.locator("#high")).to_have_text("€11.00", timeout=1_000)
    expect(a.locator("#you")).to_have_text("You were outbid.")
    expect(a.locator("#toasts")).to_contain_text("You were outbid on Brass telescope")
    expect(a.locator("#history li")).to_have_count(2)
    expect(a.locator("#history li").first).to_contain_text("€11.00")
    shot(a, "screenshot-lot.png")


def test_the_countdown_agrees_with_the_server_and_moves_when_a_bid_extends_the_end(
    page_for, live, make_lot, seller, make_user
):
    lot = make_lot(seller=seller, ends_in=timedelta(seconds=40), soft_close_window=60, soft_close_extension=120)
    alice, bob = make_user("alice"), make_user("bob")
    a, b = page_for(alice, f"/lots/{lot.pk}/"), page_for(bob, f"/lots/{lot.pk}/", width=390)  # a phone
    live(a), live(b)
    ends_at = Lot.objects.get(pk=lot.pk).ends_at
    for page in (a, b):  # once the page's first ping has come back, its countdown is on the server's clock
        expect(page.locator("#countdown")).to_have_text(re.compile(r"^\d+m \d\ds$"))  # the snapshot is in
        wait_until(
            lambda page=page: abs(countdown_gap(page, ends_at)) < 1,
            timeout=3,
            interval=0.1,
            failure=lambda page=page: f"the countdown is off by {countdown_gap(page, ends_at):.1f} s",
        )

    a.locator("#quick button").first.click()  # inside the soft-close window: the end moves to now + 120 s
    for page in (a, b):
        expect(page.locator("#extended")).to_be_visible(timeout=1_000)
        expect(page.locator("#countdown")).to_have_text(re.compile(r"^(1m 5\d|2m 00)s$"), timeout=1_000)
    remaining = (Lot.objects.get(pk=lot.pk).ends_at - timezone.now()).total_seconds()
    assert abs(remaining - countdown_seconds(b.locator("#countdown").inner_text())) < 1


def test_after_the_server_restarts_the_page_reconnects_resyncs_and_shows_what_it_missed(
    start_daphne, page_for, live, server, make_lot, seller, make_user
):
    lot = make_lot(seller=seller)
    alice, bob = make_user("alice"), make_user("bob")
    page = page_for(alice, f"/lots/{lot.pk}/")
    live(page)
    server.proc.kill()
    server.proc.wait(5)
    expect(page.locator("#conn")).to_have_text("reconnecting…", timeout=5_000)
    expect(page.locator("#bid-button")).to_be_disabled()
    place_bid(user=bob, lot_id=lot.pk, amount=2_500, bid_id="while-away")  # nobody's socket is there to hear it
    start_daphne("web-again", port=server.port)
    live(page)
    expect(page.locator("#high")).to_have_text("€25.00", timeout=10_000)
    expect(page.locator("#history li").first).to_contain_text("€25.00")
    expect(page.locator("#bid-button")).to_be_enabled()


def test_refusals_read_as_sentences_and_visitors_are_asked_to_log_in(
    page_for, live, server, make_lot, seller, make_user
):
    lot = make_lot(seller=seller)
    alice = make_user("alice")
    page = page_for(alice, f"/lots/{lot.pk}/")
    live(page)
    page.fill("#amount", "1.00")
    page.click("#bid-button")
    expect(page.locator("#feedback")).to_have_text("Your bid is below the minimum next bid. Bid at least €10.00.")
    page.fill("#amount", "12.345")
    page.click("#bid-button")
    expect(page.locator("#feedback")).to_have_text(
        "Amounts go to the cent: at most two digits after the decimal point, like 12.50."
    )
    Profile.objects.filter(user=alice).update(banned=True)  # banned while the page is open: the next bid says so
    page.fill("#amount", "10.00")
    page.click("#bid-button")
    expect(page.locator("#feedback")).to_have_text("Your account may not bid.")

    own = page_for(seller, f"/lots/{lot.pk}/")
    expect(own.locator("#bid-form")).to_have_count(0)
    expect(own.get_by_text("This is your lot.")).to_be_visible()

    visitor = page_for(None, f"/lots/{lot.pk}/")
    live(visitor)
    expect(visitor.locator("#login-to-bid")).to_contain_text("Log in to bid.")
    # A bid from elsewhere goes through the server under test: in single-process mode only it can broadcast.
    assert bid_over_http(server, make_user("bob"), lot.pk, 1_000, uuid.uuid4().hex)[0] == 201
    expect(visitor.locator("#high")).to_have_text("€10.00", timeout=1_000)  # watching needs no account
    make_user("carol", password="carol-pass-1")  # the server runs the test settings too: the same hasher
    visitor.click("#login-to-bid a")
    visitor.fill("#id_username", "carol")
    visitor.fill("#id_password", "carol-pass-1")
    visitor.click("button[type=submit]")
    expect(visitor).to_have_url(re.compile(rf"/lots/{lot.pk}/$"))
    expect(visitor.locator("#bid-form")).to_be_visible()


def test_the_seller_dashboard_is_live_and_lists_new_lots(page_for, live, shot, server, make_lot, seller, make_user):
    lot = make_lot(seller=seller, title="Oak desk", reserve_price=5_000)
    dashboard = page_for(seller, "/sell/")
    live(dashboard)
    row = dashboard.locator(f'tr[data-lot="{lot.pk}"]')
    expect(row).to_contain_text("Oak desk")
    expect(row).to_contain_text("€50.00 · not met")
    watcher = page_for(None, f"/lots/{lot.pk}/")
    live(watcher)
    expect(row.locator(".watchers")).to_have_text("1", timeout=5_000)

    assert bid_over_http(server, make_user("alice"), lot.pk, 6_000, uuid.uuid4().hex)[0] == 201
    expect(row.locator("td.money")).to_have_text("€60.00", timeout=1_000)
    expect(row).to_contain_text("€50.00 · met")
    expect(row.locator("td.num").first).to_contain_text("1")

    dashboard.fill("#f-title", "Walnut chair")
    dashboard.fill("#f-starting", "15.00")
    dashboard.fill("#f-ends", (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    dashboard.click("#save")
    expect(dashboard.locator("#form-feedback")).to_have_text("Listed “Walnut chair”.")
    expect(dashboard.locator("#seller-lots")).to_contain_text("Walnut chair", timeout=2_000)
    walnut = dashboard.locator("#seller-lots tr", has_text="Walnut chair")
    expect(walnut.locator(".pill")).to_have_text("open")  # no start given: open now, by the server's clock
    assert Lot.objects.filter(seller=seller, title="Walnut chair", starting_price=1_500, status="open").exists()
    shot(dashboard, "screenshot-seller-dashboard.png")
