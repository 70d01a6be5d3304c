"""The lot page's bid form and what it tells people, in a real browser (Playwright driving Debian's Chromium) against a
live Daphne worker (issue 17: items 4 to 7, phones, absolute times). Amounts are read through the page's own
`Gavel.money`, so these tests hold whatever currency and locale the page formats money in."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from auctions.models import Lot
from bidding.models import Bid
from bidding.tests.live import bid_over_http
from conftest import cookie_header, wait_until

playwright_sync = pytest.importorskip("playwright.sync_api")  # installed by requirements.txt
expect = playwright_sync.expect

pytestmark = pytest.mark.django_db(transaction=True)

LIVE_REGIONS = "[aria-live], [role=status], [role=alert], [role=log], [role=marquee], [role=timer]"


def money(page, cents: int) -> str:
    return page.evaluate("(cents) => Gavel.money(cents)", cents)


def outbid_by(server, user, lot: Lot, amount: int) -> None:
    """A bid from elsewhere, through the server under test (in single-process mode only it can broadcast)."""
    status, body = bid_over_http(server, user, lot.pk, amount, uuid.uuid4().hex)
    assert status == 201, body


def bidding_open(page) -> None:
    """The socket is live and the lot's snapshot has arrived (before it, a bid is answered "still loading")."""
    expect(page.locator("#conn")).to_have_text("live", timeout=10_000)
    expect(page.locator("#status")).to_have_text("open")


def bids_on(lot: Lot) -> int:
    return Bid.objects.filter(lot_id=lot.pk).count()


@pytest.fixture
def page_in_zone(browser, server):
    """A page in a visitor's own time zone and language, to check the times it shows against Python's."""
    contexts = []

    def open_page(user, path, *, timezone_id: str, locale: str):
        context = browser.new_context(viewport={"width": 1200, "height": 900}, timezone_id=timezone_id, locale=locale)
        contexts.append(context)
        name, value = cookie_header(user).split("=", 1)
        context.add_cookies([{"name": name, "value": value, "url": server.http}])
        context.add_init_script("try { sessionStorage.setItem('gavel.skipBidConfirm', '1'); } catch (e) {}")
        page = context.new_page()
        page.goto(server.http + path)
        return page

    yield open_page
    for context in contexts:
        context.close()


# 4. Your own first bid is yours in the history at once.
def test_your_first_bid_is_marked_as_yours_in_the_history_at_once(page_for, live, make_lot, seller, make_user):
    lot = make_lot(seller=seller)
    page = page_for(make_user("alice"), f"/lots/{lot.pk}/")
    live(page)
    page.locator("#quick button").first.click()  # the minimum next bid: the first bid, before the page knows its alias
    expect(page.locator("#feedback")).to_have_text(f"Bid of {money(page, 1000)} accepted.")
    first = page.locator("#history li").first
    expect(first).to_contain_text(money(page, 1000))
    expect(first).to_contain_text("Bidder 1 (you)")
    page.reload()  # what a reload shows is what the page showed
    live(page)
    expect(page.locator("#history li").first).to_contain_text("Bidder 1 (you)")


# 5. No bidding against yourself by accident; a confirm step before a bid.
def test_while_you_lead_the_page_offers_to_raise_your_maximum_and_asks_before_a_bid_against_yourself(
    page_for, live, make_lot, seller, make_user
):
    lot = make_lot(seller=seller)
    page = page_for(make_user("alice"), f"/lots/{lot.pk}/")
    live(page)
    page.get_by_role("button", name=f"Bid {money(page, 1000)}").click()
    expect(page.locator("#you")).to_have_text("You are the high bidder.")
    # While you lead there are no quick bids: one click would raise your own price.
    expect(page.locator("#quick").get_by_role("button", name=re.compile(r"^Bid "))).to_have_count(0)
    page.get_by_role("button", name="Raise your maximum").click()
    maximum = page.get_by_label("Maximum (optional, secret)")
    expect(maximum).to_be_focused()
    maximum.fill("50.00")
    page.get_by_role("button", name="Bid", exact=True).click()
    expect(page.locator("#feedback")).to_contain_text(f"Your secret maximum is now {money(page, 5000)}")
    expect(page.locator("#high")).to_have_text(money(page, 1000))  # raising a maximum moves no price
    assert bids_on(lot) == 1

    # A plain bid above your own lead is allowed (it raises the price, as documented), but asked about first.
    page.get_by_role("textbox", name="Your bid", exact=True).fill("12.00")
    page.get_by_role("button", name="Bid", exact=True).click()
    dialog = page.get_by_role("dialog", name="You are already the high bidder")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(money(page, 1200))
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # the safe answer has the focus
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#feedback")).to_contain_text("Not sent: you are still the high bidder")
    assert bids_on(lot) == 1
    page.get_by_role("button", name="Bid", exact=True).click()
    dialog.get_by_role("button", name=f"Bid {money(page, 1200)} anyway").click()
    expect(page.locator("#high")).to_have_text(money(page, 1200))
    assert Lot.objects.get(pk=lot.pk).high_bid_amount == 1_200


def test_a_bid_asks_for_confirmation_in_the_page_unless_told_not_to_for_the_session(
    page_for, live, server, make_lot, seller, make_user
):
    lot = make_lot(seller=seller)
    page = page_for(make_user("bob"), f"/lots/{lot.pk}/", confirm_bids=True)
    live(page)
    quick = page.get_by_role("button", name=f"Bid {money(page, 1000)}")
    quick.click()
    dialog = page.get_by_role("dialog", name="Confirm your bid")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(money(page, 1000))
    confirm = dialog.get_by_role("button", name=f"Confirm bid of {money(page, 1000)}")
    expect(confirm).to_be_focused()
    page.keyboard.press("Escape")  # cancels: nothing is sent, and focus goes back where it was
    expect(dialog).to_be_hidden()
    expect(quick).to_be_focused()
    expect(page.locator("#feedback")).to_have_text("Bid cancelled: nothing was sent.")
    assert bids_on(lot) == 0

    quick.click()
    dialog.get_by_label("Don't ask again this session").check()
    confirm.click()
    expect(page.locator("#feedback")).to_have_text(f"Bid of {money(page, 1000)} accepted.")
    outbid_by(server, make_user("carol"), lot, 1_100)
    page.get_by_role("button", name=f"Bid {money(page, 1200)}").click()  # not asked again this session
    expect(page.locator("#feedback")).to_have_text(f"Bid of {money(page, 1200)} accepted.")
    expect(dialog).to_be_hidden()
    assert bids_on(lot) == 3


# 6. No silent failures, no stale messages.
def test_enter_before_the_start_or_while_disconnected_says_why_nothing_was_sent(
    page_for, live, server, make_lot, seller, make_user
):
    alice = make_user("alice")
    scheduled = make_lot(seller=seller, starts_in=timedelta(hours=1), ends_in=timedelta(hours=2), status="scheduled")
    page = page_for(alice, f"/lots/{scheduled.pk}/")
    live(page)
    expect(page.locator("#status")).to_have_text("scheduled")
    page.get_by_role("textbox", name="Your bid", exact=True).fill("10.00")
    page.get_by_role("textbox", name="Your bid", exact=True).press("Enter")
    expect(page.locator("#feedback")).to_contain_text("Not sent: this lot opens for bids at")

    lot = make_lot(seller=seller)
    page = page_for(alice, f"/lots/{lot.pk}/")
    bidding_open(page)
    server.proc.kill()
    server.proc.wait(5)
    expect(page.locator("#conn")).to_have_text("reconnecting…", timeout=5_000)
    page.get_by_role("textbox", name="Your bid", exact=True).fill("10.00")
    page.get_by_role("textbox", name="Your bid", exact=True).press("Enter")
    expect(page.locator("#feedback")).to_contain_text("Not sent: the connection to the auction is down.")
    assert bids_on(lot) == 0 and bids_on(scheduled) == 0


def test_an_accepted_bid_clears_the_inputs_and_its_message_gives_way_when_you_are_outbid(
    page_for, live, server, make_lot, seller, make_user
):
    lot = make_lot(seller=seller)
    page = page_for(make_user("alice"), f"/lots/{lot.pk}/")
    bidding_open(page)
    page.get_by_role("textbox", name="Your bid", exact=True).fill("10.00")
    page.get_by_role("textbox", name="Your bid", exact=True).press("Enter")
    expect(page.locator("#feedback")).to_have_text(f"Bid of {money(page, 1000)} accepted.")
    expect(page.get_by_role("textbox", name="Your bid", exact=True)).to_have_value("")
    expect(page.get_by_label("Maximum (optional, secret)")).to_have_value("")

    outbid_by(server, make_user("bob"), lot, 1_100)
    expect(page.locator("#you")).to_have_text("You were outbid.")
    expect(page.locator("#bid-form")).not_to_contain_text("accepted")


# 7. Screen readers: only what matters is announced; the countdown is in no live region; buttons have names.
def test_screen_readers_hear_price_changes_and_outbid_but_not_the_clock(
    page_for, live, server, make_lot, seller, make_user
):
    lot = make_lot(seller=seller)
    bob = make_user("bob")
    page = page_for(make_user("alice"), f"/lots/{lot.pk}/")
    live(page)
    assert page.evaluate(f"() => document.getElementById('countdown').closest({LIVE_REGIONS!r}) === null")
    page.evaluate(
        """(selector) => {
          window.announced = [];
          for (const region of document.querySelectorAll(selector)) {
            new MutationObserver(() => window.announced.push(region.textContent)).observe(
              region, { childList: true, subtree: true, characterData: true });
          }
        }""",
        LIVE_REGIONS,
    )
    page.wait_for_timeout(5_000)  # idle: the countdown ticks, the page pings; nothing is worth announcing
    assert page.evaluate("window.announced") == []

    outbid_by(server, bob, lot, 1_000)
    polite = page.locator("[aria-live=polite]")
    expect(polite).to_have_text(f"New bid: {money(page, 1000)} by Bidder 1.")
    page.get_by_role("button", name=f"Bid {money(page, 1100)}").click()  # buttons say what they do
    expect(polite).to_have_text(f"Bid of {money(page, 1100)} accepted.")
    outbid_by(server, bob, lot, 1_200)
    expect(page.locator("[aria-live=assertive]")).to_have_text(f"You were outbid: the bid is now {money(page, 1200)}.")
    # Three changes, three sentences (a repeat of the outbid notice on this socket is not a fourth).
    wait_until(lambda: len(page.evaluate("window.announced")) >= 3, timeout=2, interval=0.1)
    page.wait_for_timeout(1_000)
    assert len(page.evaluate("window.announced")) == 3, page.evaluate("window.announced")
    # The outbid toast is shown but not read out a second time on this lot's own page.
    expect(page.locator("#toasts")).to_contain_text("You were outbid on")
    assert "outbid" not in page.locator("#toasts").aria_snapshot()


def test_an_extension_near_the_end_is_announced_assertively_and_fields_have_visible_edges(
    page_for, live, server, make_lot, seller, make_user
):
    lot = make_lot(seller=seller, ends_in=timedelta(seconds=50), soft_close_window=60, soft_close_extension=120)
    page = page_for(make_user("alice"), f"/lots/{lot.pk}/")
    live(page)
    outbid_by(server, make_user("bob"), lot, 1_000)
    urgent = page.locator("[aria-live=assertive]")
    expect(urgent).to_contain_text("The end was extended")
    expect(urgent).to_contain_text(money(page, 1000))

    # WCAG 1.4.11: a field's edge has at least 3:1 contrast against what surrounds it and against its own fill.
    colours = page.evaluate(
        """() => {
          const input = document.getElementById('amount');
          let around = input.parentElement;
          while (getComputedStyle(around).backgroundColor === 'rgba(0, 0, 0, 0)') around = around.parentElement;
          return [getComputedStyle(input).borderTopColor, getComputedStyle(input).backgroundColor,
                  getComputedStyle(around).backgroundColor];
        }"""
    )
    edge, fill, surround = (luminance(colour) for colour in colours)
    assert contrast(edge, surround) >= 3, colours
    assert contrast(edge, fill) >= 3, colours


def luminance(css: str) -> float:
    red, green, blue = (int(float(v)) / 255 for v in re.findall(r"[\d.]+", css)[:3])

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast(a: float, b: float) -> float:
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


# Phones: a compact price block and a bid bar, so a bid button is on the first screen.
def test_on_a_phone_a_bid_button_is_on_the_first_screen_and_stays_there(
    page_for, live, shot, make_lot, seller, make_user
):
    lot = make_lot(seller=seller, title="Brass telescope", description="A 19th-century brass telescope. " * 20)
    page = page_for(make_user("alice"), f"/lots/{lot.pk}/", width=390)
    page.set_viewport_size({"width": 390, "height": 844})
    live(page)
    assert page.evaluate("window.scrollY") == 0
    for what in (page.locator("#high"), page.locator("#countdown")):
        expect(what).to_be_in_viewport(ratio=1)
    bid = page.locator("#quick button").first
    expect(bid).to_be_in_viewport(ratio=1)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    expect(bid).to_be_in_viewport(ratio=1)
    bid.click()
    expect(page.locator("#feedback")).to_have_text(f"Bid of {money(page, 1000)} accepted.")
    expect(page.locator("#feedback")).to_be_in_viewport()
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "screenshot-lot-phone.png")


# Absolute times: start and end in the visitor's zone, the soft-close rule, times in the history.
def test_start_end_and_bid_times_show_in_the_visitors_zone_with_the_soft_close_rule(
    page_in_zone, live, server, make_lot, seller, make_user
):
    zone = ZoneInfo("Pacific/Auckland")
    lot = make_lot(seller=seller, ends_in=timedelta(seconds=100), soft_close_window=120, soft_close_extension=120)
    page = page_in_zone(make_user("alice"), f"/lots/{lot.pk}/", timezone_id="Pacific/Auckland", locale="en-GB")
    live(page)

    def shown(element_id: str) -> tuple[datetime, str]:
        element = page.locator(f"time#{element_id}")
        return datetime.fromisoformat(element.get_attribute("datetime").replace("Z", "+00:00")), element.inner_text()

    def on_the_clock(moment: datetime, text: str) -> bool:  # "04:05:06" or "4:05:06", in the visitor's zone
        local = moment.astimezone(zone)
        return re.search(rf"(?<!\d)0?{local.hour}:{local:%M:%S}(?!\d)", text) is not None

    starts, starts_text = shown("starts-at")
    assert abs((starts - lot.starts_at).total_seconds()) < 0.001
    assert on_the_clock(starts, starts_text), starts_text
    expect(page.get_by_text("Started", exact=True)).to_be_visible()
    ends, ends_text = shown("ends-at")
    assert abs((ends - lot.ends_at).total_seconds()) < 0.001
    assert on_the_clock(ends, ends_text), ends_text
    expect(
        page.get_by_text("A bid in the last 2 minutes extends the end to at least 2 minutes after that bid.")
    ).to_be_visible()

    outbid_by(server, make_user("bob"), lot, 1_000)  # inside the soft-close window: the end moves
    extended_end = Lot.objects.get(pk=lot.pk).ends_at
    expect(page.locator("time#ends-at")).to_have_attribute(
        "datetime", extended_end.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
    row_time = page.locator("#history li").first.locator("time")
    bid_at = Bid.objects.get(lot_id=lot.pk).created_at
    row_at = datetime.fromisoformat(row_time.get_attribute("datetime").replace("Z", "+00:00"))
    assert abs((row_at - bid_at).total_seconds()) < 2
    assert on_the_clock(row_at, row_time.inner_text())
    expect(row_time).to_have_text(re.compile(r"^\d{1,2}:\d\d:\d\d$"))  # today: the clock alone
