"""A live sale end to end in a real browser against a live worker: a clerk's console and two internet bidders'
pages (three pages) through three lots: sold to the internet after an undo and with a missed bid, passed and
re-offered at the end, sold to the floor against an absentee bid. Each page is read as its user reads it."""

from __future__ import annotations

import json
import re

import pytest

from auctions import sales
from auctions.models import Lot, Sale
from bidding.tests.live import button, clerk_taps, done, euros, late_bid
from conftest import assert_lot_verifies

playwright_sync = pytest.importorskip("playwright.sync_api")  # installed by requirements.txt
expect = playwright_sync.expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_clerk_and_two_internet_bidders_run_a_sale_of_three_lots(page_for, make_sale, make_user, server, live, shot):
    house = make_user("house", can_bid=False)
    sale = make_sale(house=house, lots=3, starting_price=1_000, title="Autumn sale")
    clerk = make_user("clerk", can_bid=False)
    sale.clerks.add(clerk)
    lot1, lot2, lot3 = sale.lots.order_by("sale_position")
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    sales.register(user=bob, sale_id=sale.pk)  # paddle 5000
    sales.register(user=carol, sale_id=sale.pk)  # paddle 5001: she bids only absentee, before the sale
    sales.set_absentee_bid(user=carol, lot_id=lot3.pk, max_amount=1_250)

    console = page_for(clerk, f"/sales/{sale.pk}/clerk/")
    live(console)
    expect(console.get_by_text("Nobody drives this sale.")).to_be_visible()
    expect(button(console, "Floor bid")).to_be_disabled()  # nothing acts before this console drives
    console.get_by_role("button", name="Drive this sale").click()
    expect(console.get_by_text("You drive this sale from this console.")).to_be_visible()

    # Alice registers from the bidders' page; both bidders then watch the sale.
    a = page_for(alice, f"/sales/{sale.pk}/live/")
    live(a)
    expect(a.get_by_role("button", name=re.compile("^Bid"))).to_have_count(0)
    a.get_by_role("button", name="Register to bid").click()
    expect(a.get_by_text("Your paddle: 5002")).to_be_visible()
    live(a)
    b = page_for(bob, f"/sales/{sale.pk}/live/")
    live(b)
    expect(b.get_by_role("status")).to_have_text("The sale has not started yet.")

    # Lot 1: the two bidders compete at the ask; the clerk undoes Alice's last bid; Bob wins it.
    clerk_taps(console, "Start sale", "start")
    expect(console.get_by_role("heading", name="Lot 1: Sale lot 1")).to_be_visible()
    clerk_taps(console, "Offer lot", "offer")
    expect(console.locator("#online")).to_have_text(re.compile(r"^[1-9]\d*$"))
    for page in (a, b):
        expect(page.get_by_role("heading", name="Lot 1: Sale lot 1")).to_be_visible()
        expect(page.get_by_role("status")).to_have_text("Bidding is open: no bid yet.")
    a.get_by_role("button", name=euros("10.00")).click()
    expect(a.get_by_role("status")).to_have_text("You're the high bidder.")
    expect(a.get_by_role("button", name=re.compile("^Bid"))).to_be_disabled()  # never against yourself
    expect(console.get_by_text("Internet winning")).to_be_visible()
    expect(console.locator("#leader")).to_have_text("Internet Bidder 1 (paddle 5002)")
    expect(b.get_by_role("status")).to_have_text("Another bidder leads.")
    ask = b.get_by_role("button", name=re.compile(r"^Bid \D*1\d[.,]\d\d"))
    expect(ask).to_be_enabled()
    ask.click()
    expect(b.get_by_role("status")).to_have_text("You're the high bidder.")
    expect(a.get_by_role("status")).to_have_text("You've been outbid.")
    a.get_by_role("button", name=re.compile(r"^Bid ")).click()
    expect(a.get_by_role("status")).to_have_text("You're the high bidder.")
    high = console.locator("#amount").inner_text()
    history = console.get_by_role("region", name="Bid history").get_by_role("listitem")
    expect(history).to_have_count(3)
    expect(history.first).to_contain_text("Internet Bidder 1 (paddle 5002)")
    clerk_taps(console, "Undo", "undo")
    expect(a.locator("#feedback")).to_have_text("A bid was withdrawn.")  # (the screen reader hears it too)
    expect(b.get_by_role("status")).to_have_text("You're the high bidder.")
    expect(console.locator("#amount")).not_to_have_text(high)
    expect(history.first).to_contain_text("withdrawn")
    clerk_taps(console, "Fair warning", "fair warning")
    expect(b.get_by_role("status")).to_have_text("Fair warning! You're the high bidder.")
    expect(a.get_by_role("status")).to_have_text("Fair warning! You've been outbid.")
    clerk_taps(console, "Sold", "sold")
    expect(b.get_by_role("status")).to_have_text(re.compile(r"^Sold to you for "))
    expect(a.get_by_role("status")).to_have_text(re.compile(r"^Sold to another bidder for "))
    expect(a.get_by_role("button", name=re.compile("^Bid"))).to_be_disabled()

    # A bid arriving after the hammer: refused, and the clerk sees how late it was.
    refusal = late_bid(server, alice, sale.pk, 5_000)
    assert refusal["code"] == "closed" and refusal["late_ms"] > 0, refusal
    expect(console.get_by_role("alert").filter(has_text="Missed bid")).to_have_text(
        re.compile(rf"Missed bid: \D*50[.,]00\D* from paddle 5002, {refusal['late_ms']} ms after the hammer\.")
    )

    # Lot 2: nobody bids; passed.
    clerk_taps(console, "Next lot", "next")
    expect(console.get_by_role("alert").filter(has_text="Missed bid")).to_be_hidden()
    clerk_taps(console, "Offer lot", "offer")
    expect(b.get_by_role("heading", name="Lot 2: Sale lot 2")).to_be_visible()
    clerk_taps(console, "Pass", "pass")
    for page in (a, b):
        expect(page.get_by_role("status")).to_have_text("Passed: not sold.")

    # Lot 3: the absentee bid opens it and answers the floor until its maximum runs out; the clerk bids in 1.00s.
    clerk_taps(console, "Next lot", "next")
    console.get_by_label("Increment").fill("1.00")
    console.get_by_role("button", name="Set increment").click()
    done(console, "increment")
    expect(console.locator("#increment")).to_have_text(euros("1.00"))
    clerk_taps(console, "Offer lot", "offer")
    expect(console.locator("#leader")).to_have_text("Absentee paddle 5001")
    expect(console.locator("#amount")).to_have_text(euros("10.00"))
    expect(a.get_by_role("status")).to_have_text("Another bidder leads.")
    console.get_by_label("Paddle (optional)").fill("12")
    clerk_taps(console, "Floor bid", "floor bid")
    expect(console.locator("#amount")).to_have_text(euros("12.00"))  # the floor's 11.00, answered at once
    expect(console.locator("#leader")).to_have_text("Absentee paddle 5001")
    clerk_taps(console, "Floor bid", "floor bid")
    expect(console.locator("#amount")).to_have_text(euros("13.00"))
    expect(console.locator("#leader")).to_have_text("Floor")  # 14.00 is above the absentee's maximum
    expect(console.get_by_text("Internet winning")).to_be_hidden()
    expect(history).to_have_count(4)
    expect(history.nth(2)).to_contain_text("Floor paddle 12")
    expect(b.get_by_role("status")).to_have_text("The room leads.")
    clerk_taps(console, "Sold", "sold")
    for page in (a, b):
        expect(page.get_by_role("status")).to_have_text(re.compile(r"^Sold to the room for \D*13[.,]00"))

    # Lot 2 re-offered at the end, driven from the keyboard; a pause with a message; Bob buys it.
    console.get_by_role("button", name="Re-offer: Lot 2: Sale lot 2").click()
    done(console, "jump")
    expect(console.get_by_role("heading", name="Lot 2: Sale lot 2")).to_be_visible()
    console.get_by_label("Pause message").fill("A short break: back in a minute")
    console.get_by_label("Pause message").blur()  # out of the field: keys are shortcuts again
    console.keyboard.press(" ")
    done(console, "pause")
    for page in (a, b):
        expect(page.locator("#pause-banner")).to_have_text("Paused: A short break: back in a minute")
        expect(page.get_by_role("button", name=re.compile("^Bid"))).to_be_disabled()
    expect(console.get_by_role("button", name="Resume")).to_be_visible()
    console.keyboard.press(" ")
    done(console, "resume")
    expect(b.get_by_role("region", name="From the auctioneer")).to_contain_text("The sale has resumed.")
    console.keyboard.press("o")
    done(console, "offer")
    b.get_by_role("button", name=euros("10.00")).click()
    expect(b.get_by_role("status")).to_have_text("You're the high bidder.")
    expect(console.get_by_text("Internet winning")).to_be_visible()
    console.get_by_role("button", name="Last chance to bid.").click()
    done(console, "message")
    expect(a.get_by_role("region", name="From the auctioneer")).to_contain_text("Last chance to bid.")
    console.keyboard.press("w")
    done(console, "fair warning")
    expect(b.get_by_role("status")).to_have_text("Fair warning! You're the high bidder.")
    console.set_viewport_size({"width": 1200, "height": 1500})  # the whole console on one screen, as a clerk has it
    shot(console, "screenshot-clerk-console.png")
    shot(b, "screenshot-sale-live.png")
    console.keyboard.press("s")
    done(console, "sold")
    expect(b.get_by_role("status")).to_have_text(re.compile(r"^Sold to you for \D*10[.,]00"))
    expect(a.get_by_role("status")).to_have_text(re.compile(r"^Sold to another bidder for "))

    outcomes = {lot.pk: (lot.live_state, lot.winner_id) for lot in Lot.objects.filter(sale=sale)}
    assert outcomes == {lot1.pk: ("sold", bob.pk), lot2.pk: ("sold", bob.pk), lot3.pk: ("sold", None)}
    for lot in (lot1, lot2, lot3):
        assert_lot_verifies(lot.pk)


def test_another_clerk_takes_over_the_console_and_the_first_sees_it(page_for, make_sale, make_user, live):
    sale = make_sale(lots=1)
    first, second = make_user("clerk1", can_bid=False), make_user("clerk2", can_bid=False)
    sale.clerks.add(first, second)
    one = page_for(first, f"/sales/{sale.pk}/clerk/")
    live(one)
    one.get_by_role("button", name="Drive this sale").click()
    expect(one.get_by_text("You drive this sale from this console.")).to_be_visible()
    two = page_for(second, f"/sales/{sale.pk}/clerk/")
    live(two)
    expect(two.get_by_text("clerk1 drives this sale from another console.")).to_be_visible()
    expect(button(two, "Start sale")).to_be_disabled()
    two.get_by_role("button", name="Take over").click()
    expect(two.get_by_text("You drive this sale from this console.")).to_be_visible()
    expect(one.get_by_text("clerk2 drives this sale from another console.")).to_be_visible()
    expect(one.get_by_role("button", name="Take over")).to_be_visible()
    expect(button(one, "Start sale")).to_be_disabled()


def test_without_auto_accept_the_first_internet_bid_waits_for_the_clerks_accept(page_for, make_sale, make_user, live):
    sale = make_sale(lots=1, auto_accept=False)
    clerk = make_user("clerk", can_bid=False)
    sale.clerks.add(clerk)
    alice, bob = make_user("alice"), make_user("bob")
    sales.register(user=alice, sale_id=sale.pk)
    sales.register(user=bob, sale_id=sale.pk)
    console = page_for(clerk, f"/sales/{sale.pk}/clerk/")
    live(console)
    console.get_by_role("button", name="Drive this sale").click()
    expect(console.get_by_text("You drive this sale from this console.")).to_be_visible()
    a, b = page_for(alice, f"/sales/{sale.pk}/live/"), page_for(bob, f"/sales/{sale.pk}/live/")
    live(a)
    live(b)
    console.keyboard.press("b")
    done(console, "start")
    console.keyboard.press("o")
    done(console, "offer")
    expect(button(console, "Accept")).to_be_disabled()
    button(console, "Floor bid").focus()
    console.keyboard.press(" ")  # pauses: it never also presses the focused button
    done(console, "pause")
    expect(b.locator("#pause-banner")).to_have_text("Paused.")
    console.keyboard.press(" ")
    done(console, "resume")
    expect(console.locator("#bid-count")).to_have_text("0")
    a.get_by_role("button", name=euros("10.00")).click()
    expect(a.locator("#feedback")).to_have_text(re.compile(r"waiting for the auctioneer to accept it"))
    expect(console.get_by_text(re.compile(r"Internet bid of \D*10[.,]00\D* waiting \(paddle 5000\)"))).to_be_visible()
    b.get_by_role("button", name=euros("10.00")).click()  # the same ask, after Alice's: refused, and told why
    expect(b.locator("#feedback")).to_have_text(re.compile(r"another bidder's \D*10[.,]00\D* came first"))
    console.get_by_label("Paddle (optional)").fill("7")  # typing an F in a field bids nothing
    console.get_by_label("Paddle (optional)").press("f")
    expect(console.locator("#bid-count")).to_have_text("0")
    console.get_by_label("Paddle (optional)").fill("")
    console.get_by_label("Paddle (optional)").blur()
    console.keyboard.press("a")
    done(console, "accept")
    expect(a.get_by_role("status")).to_have_text("You're the high bidder.")
    expect(console.get_by_text("Internet winning")).to_be_visible()
    expect(console.locator("#leader")).to_have_text("Internet Bidder 1 (paddle 5000)")


def test_a_tap_at_an_ask_that_has_just_moved_is_refused_and_the_button_shows_the_new_ask(
    page_for, make_sale, make_user, live
):
    sale = make_sale(lots=1)
    clerk = make_user("clerk", can_bid=False)
    sale.clerks.add(clerk)
    alice, bob = make_user("alice"), make_user("bob")
    sales.register(user=alice, sale_id=sale.pk)
    sales.register(user=bob, sale_id=sale.pk)
    console = page_for(clerk, f"/sales/{sale.pk}/clerk/")
    live(console)
    console.get_by_role("button", name="Drive this sale").click()
    expect(console.get_by_text("You drive this sale from this console.")).to_be_visible()
    for key, action in (("b", "start"), ("o", "offer")):
        console.keyboard.press(key)
        done(console, action)
    a = page_for(alice, f"/sales/{sale.pk}/live/")
    live(a)
    # Bob's news of the lot is slow: his page's socket holds the lot's events back until released.
    b = page_for(bob, f"/sales/{sale.pk}/live/")
    held: list[str] = []
    slow = {"on": False}

    def route(page_side):
        server_side = page_side.connect_to_server()

        def from_server(message):
            if slow["on"] and json.loads(message).get("type") == "live":
                held.append(message)
            else:
                page_side.send(message)

        server_side.on_message(from_server)
        slow["page"] = page_side

    b.route_web_socket(re.compile(r"/ws/sales/"), route)
    b.reload()
    live(b)
    expect(b.get_by_role("button", name=euros("10.00"))).to_be_enabled()
    slow["on"] = True
    a.get_by_role("button", name=euros("10.00")).click()
    expect(a.get_by_role("status")).to_have_text("You're the high bidder.")
    new_ask = console.locator("#ask").inner_text()
    b.get_by_role("button", name=euros("10.00")).click()  # the ask he still sees
    expect(b.locator("#feedback")).to_have_text(f"Not taken: the ask is now {new_ask}.")
    expect(b.get_by_role("button", name=f"Bid {new_ask}")).to_be_enabled()
    slow["on"] = False
    for message in held:
        slow["page"].send(message)
    expect(b.get_by_role("status")).to_have_text("Another bidder leads.")


def test_the_driving_console_claims_the_console_back_after_its_connection_drops(page_for, make_sale, make_user, live):
    sale = make_sale(lots=1)
    clerk = make_user("clerk", can_bid=False)
    sale.clerks.add(clerk)
    console = page_for(clerk, f"/sales/{sale.pk}/clerk/")
    sockets = []

    def route(page_side):
        page_side.connect_to_server()
        sockets.append(page_side)

    console.route_web_socket(re.compile(r"/ws/sales/"), route)
    console.reload()
    live(console)
    console.get_by_role("button", name="Drive this sale").click()
    expect(console.get_by_text("You drive this sale from this console.")).to_be_visible()
    first = Sale.objects.get(pk=sale.pk).driver_channel
    sockets[-1].close(code=1012, reason="network")  # the connection drops
    expect(console.locator("#conn")).to_have_text("reconnecting…")  # for the reconnect's backoff, 250 ms or more
    expect(console.locator("#conn")).to_have_text("live")
    expect(console.get_by_text("You drive this sale from this console.")).to_be_visible()
    assert len(sockets) == 2
    again = Sale.objects.get(pk=sale.pk).driver_channel
    assert again and again != first
    expect(button(console, "Start sale")).to_be_enabled()
