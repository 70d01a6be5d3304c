"""The live sale's screens in a real browser against a live worker, through the three outcomes of a live sale (sold
to the internet, sold to the floor against an absentee bid, passed then re-offered): the clerk's console drives; two
internet bidders, the auctioneer's view and the room display follow, each read as its own user reads it."""

from __future__ import annotations

import re

import pytest
from django.core.files.base import ContentFile

from auctions import photos, sales
from auctions.models import Lot
from bidding.demo_catalogue import picture
from bidding.tests.live import clerk_taps, done, euros, late_bid
from conftest import assert_lot_verifies

playwright_sync = pytest.importorskip("playwright.sync_api")  # installed by requirements.txt
expect = playwright_sync.expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_bidders_the_auctioneer_and_the_room_follow_a_sale_of_three_lots(
    page_for, make_sale, make_user, server, live, shot
):
    house = make_user("house", can_bid=False)
    sale = make_sale(house=house, lots=3, starting_price=1_000, title="Winter sale")
    clerk = make_user("clerk", can_bid=False)
    sale.clerks.add(clerk)
    lot1, lot2, lot3 = sale.lots.order_by("sale_position")
    for index, (lot, title) in enumerate(
        zip((lot1, lot2, lot3), ("Walnut bureau", "Oil on canvas", "Silver teapot"), strict=True)
    ):
        Lot.objects.filter(pk=lot.pk).update(title=title)
        photos.attach(lot, photos.prepare([ContentFile(picture(title, index), name=f"lot-{index}.png")]))
    alice, bob = make_user("alice"), make_user("bob")
    sales.register(user=alice, sale_id=sale.pk)  # paddle 5000
    sales.register(user=bob, sale_id=sale.pk)  # paddle 5001
    sales.set_absentee_bid(user=bob, lot_id=lot3.pk, max_amount=1_250)  # left before the sale

    console = page_for(clerk, f"/sales/{sale.pk}/clerk/")
    live(console)
    console.get_by_role("button", name="Drive this sale").click()
    expect(console.get_by_text("You drive this sale from this console.")).to_be_visible()
    auctioneer = page_for(clerk, f"/sales/{sale.pk}/auctioneer/", width=1280)
    room = page_for(None, f"/sales/{sale.pk}/room/", width=1600)  # a projector: nobody logged in
    a = page_for(alice, f"/sales/{sale.pk}/live/", width=390)  # Alice bids from her phone
    b = page_for(bob, f"/sales/{sale.pk}/live/")
    for page in (auctioneer, room, a, b):
        live(page)
    expect(room.get_by_role("heading")).to_have_text("The sale begins shortly")
    # Bob's page lists the lots to come, with his absentee bid; Alice's shows none of his.
    upcoming_b = b.get_by_role("region", name="Upcoming lots")
    expect(upcoming_b.get_by_role("listitem")).to_have_count(3)
    expect(upcoming_b.get_by_role("listitem").nth(2)).to_have_text(
        re.compile(r"Lot 3: Silver teapot\s+Your absentee bid: up to \D*12[.,]50")
    )
    expect(a.get_by_role("region", name="Upcoming lots")).not_to_contain_text("absentee")
    expect(b.locator("#delay")).to_have_text(re.compile(r"^\d+ ms$"))  # the socket's measured round trip

    # Lot 1: the two bidders compete; sold to Alice over the internet.
    clerk_taps(console, "Start sale", "start")
    clerk_taps(console, "Offer lot", "offer")
    expect(room.locator("#lot-number")).to_have_text("Lot 1")
    expect(room.get_by_role("heading")).to_have_text("Walnut bureau")
    expect(room.get_by_role("img", name="Walnut bureau")).to_be_visible()
    expect(room.locator("#state")).to_have_text("Open")
    expect(room.get_by_label("Price")).to_have_text(re.compile(r"^Starting at \D*10[.,]00"))
    expect(auctioneer.get_by_role("heading", name="Lot 1: Walnut bureau")).to_be_visible()
    expect(auctioneer.locator("#ask")).to_have_text(euros("10.00"))
    expect(upcoming_b.get_by_role("listitem")).to_have_count(2)  # the lot on the block has left the list
    a.get_by_role("button", name=euros("10.00")).click()
    expect(a.get_by_role("status")).to_have_text("You're the high bidder.")
    expect(auctioneer.locator("#leader")).to_have_text("Internet · paddle 5000")
    expect(auctioneer.get_by_text("Internet winning")).to_be_visible()
    expect(room.get_by_label("Price")).to_have_text(euros("10.00"))
    expect(room.locator("#leader")).to_have_text("Online or absentee")
    b.get_by_role("button", name=re.compile(r"^Bid \D*1\d[.,]\d\d")).click()
    expect(b.get_by_role("status")).to_have_text("You're the high bidder.")
    expect(a.get_by_role("status")).to_have_text("You've been outbid.")
    expect(auctioneer.locator("#leader")).to_have_text("Internet · paddle 5001")
    a.get_by_role("button", name=re.compile(r"^Bid ")).click()
    expect(a.get_by_role("status")).to_have_text("You're the high bidder.")
    price = console.locator("#amount").inner_text()
    clerk_taps(console, "Fair warning", "fair warning")
    expect(room.locator("#state")).to_have_text("Fair warning")
    expect(auctioneer.locator("#live-state")).to_have_text("Fair warning")
    expect(a.get_by_role("status")).to_have_text("Fair warning! You're the high bidder.")
    expect(b.get_by_role("status")).to_have_text("Fair warning! You've been outbid.")
    clerk_taps(console, "Sold", "sold")
    expect(a.get_by_role("status")).to_have_text(f"Sold to you for {price}!")
    expect(b.get_by_role("status")).to_have_text(f"Sold to another bidder for {price}.")
    expect(room.locator("#state")).to_have_text("Sold")
    expect(room.get_by_label("Price")).to_have_text(price)
    expect(room.locator("#leader")).to_have_text("Sold online or absentee")
    expect(auctioneer.locator("#live-state")).to_have_text("Sold")
    # Bob's bid after the hammer: the auctioneer sees it missed, and by how many ms.
    refusal = late_bid(server, bob, sale.pk, 5_000)
    assert refusal["code"] == "closed" and refusal["late_ms"] > 0, refusal
    expect(auctioneer.get_by_role("alert", name="Missed bids")).to_have_text(
        re.compile(rf"Missed bid: \D*50[.,]00\D* from paddle 5001, {refusal['late_ms']} ms late\.")
    )

    # Lot 2: nobody bids; passed.
    clerk_taps(console, "Next lot", "next")
    expect(auctioneer.get_by_role("alert", name="Missed bids")).to_be_hidden()
    clerk_taps(console, "Offer lot", "offer")
    expect(room.get_by_role("heading")).to_have_text("Oil on canvas")
    clerk_taps(console, "Pass", "pass")
    expect(room.locator("#state")).to_have_text("Passed")
    expect(room.locator("#leader")).to_have_text("")
    for page in (a, b):
        expect(page.get_by_role("status")).to_have_text("Passed: not sold.")

    # Lot 3: Bob's absentee bid opens it and answers the floor until its maximum runs out; sold to the room.
    clerk_taps(console, "Next lot", "next")
    console.get_by_label("Increment").fill("1.00")
    console.get_by_role("button", name="Set increment").click()
    done(console, "increment")
    clerk_taps(console, "Offer lot", "offer")
    expect(auctioneer.locator("#leader")).to_have_text("Absentee · paddle 5001")
    expect(auctioneer.locator("#amount")).to_have_text(euros("10.00"))
    expect(auctioneer.get_by_text("Internet winning")).to_be_hidden()
    expect(b.get_by_role("status")).to_have_text("You're the high bidder.")  # his absentee bid leads
    expect(b.locator("#block-absentee")).to_have_text(re.compile(r"Your absentee bid: up to \D*12[.,]50"))
    expect(b.get_by_role("button", name=re.compile("^Bid"))).to_be_disabled()  # never against yourself
    expect(a.get_by_role("status")).to_have_text("Another bidder leads.")
    expect(room.locator("#leader")).to_have_text("Online or absentee")
    console.get_by_label("Paddle (optional)").fill("12")
    clerk_taps(console, "Floor bid", "floor bid")
    expect(auctioneer.locator("#amount")).to_have_text(euros("12.00"))  # the floor's 11.00, answered at once
    expect(b.get_by_role("status")).to_have_text("You're the high bidder.")
    console.get_by_label("Paddle (optional)").fill("12")
    clerk_taps(console, "Floor bid", "floor bid")
    expect(auctioneer.locator("#amount")).to_have_text(euros("13.00"))  # past the absentee's maximum
    expect(auctioneer.locator("#leader")).to_have_text("Floor · paddle 12")
    expect(room.locator("#leader")).to_have_text("In the room")
    expect(room.locator("body")).not_to_contain_text(re.compile(r"paddle|Bidder \d"))  # no one's identity
    expect(b.get_by_role("status")).to_have_text("You've been outbid.")
    expect(b.get_by_role("button", name=euros("14.00"))).to_be_enabled()
    clerk_taps(console, "Sold", "sold")
    for page in (a, b):
        expect(page.get_by_role("status")).to_have_text(re.compile(r"^Sold to the room for \D*13[.,]00"))
    expect(room.locator("#leader")).to_have_text("Sold in the room")
    outbid = re.compile(r"Your absentee bid \(up to \D*12[.,]50\) was outbid at \D*13[.,]00")
    expect(b.locator("#block-absentee")).to_have_text(outbid)

    # Lot 2 re-offered at the end, with a pause; sold to Bob over the internet.
    results_b = b.get_by_role("region", name="Results so far").get_by_role("listitem")
    expect(upcoming_b.get_by_role("listitem")).to_have_count(0)
    expect(b.get_by_text("No more lots to come.")).to_be_visible()
    console.get_by_role("button", name="Re-offer: Lot 2: Oil on canvas").click()
    done(console, "jump")
    expect(results_b).to_have_count(2)
    expect(results_b.nth(1)).to_contain_text("Lot 3: Silver teapot")
    expect(results_b.nth(1)).to_contain_text(re.compile(r"sold \D*13[.,]00"))
    expect(results_b.nth(1)).to_contain_text(outbid)
    expect(results_b.nth(0)).to_contain_text("Lot 1: Walnut bureau")
    a.reload()  # a page opened mid-sale lists the prices of the lots already sold (from the snapshot)
    live(a)
    results_a = a.get_by_role("region", name="Results so far").get_by_role("listitem")
    expect(results_a.nth(0)).to_have_text(re.compile(rf"Lot 1: Walnut bureau\s+sold {re.escape(price)}"))
    expect(results_a.nth(1)).to_have_text(re.compile(r"Lot 3: Silver teapot\s+sold \D*13[.,]00\D*$"))  # not hers
    console.get_by_label("Pause message").fill("Back in two minutes")
    console.get_by_label("Pause message").blur()
    console.keyboard.press(" ")
    done(console, "pause")
    expect(room.locator("#state")).to_have_text("Paused")
    expect(room.get_by_text("Back in two minutes")).to_be_visible()
    expect(auctioneer.locator("#pause-banner")).to_have_text("Paused: Back in two minutes")
    expect(b.get_by_role("button", name=re.compile("^Bid"))).to_be_disabled()
    console.keyboard.press(" ")
    done(console, "resume")
    console.keyboard.press("o")
    done(console, "offer")
    expect(room.locator("#state")).to_have_text("Open")
    b.get_by_role("button", name=euros("10.00")).click()
    expect(b.get_by_role("status")).to_have_text("You're the high bidder.")
    expect(a.get_by_role("status")).to_have_text("Another bidder leads.")
    expect(auctioneer.locator("#leader")).to_have_text("Internet · paddle 5001")
    console.keyboard.press("w")
    done(console, "fair warning")
    expect(room.locator("#state")).to_have_text("Fair warning")
    expect(b.get_by_role("status")).to_have_text("Fair warning! You're the high bidder.")
    shot(b, "screenshot-bidder-view.png")
    shot(a, "screenshot-bidder-view-phone.png")
    shot(room, "screenshot-room-display.png")
    shot(auctioneer, "screenshot-auctioneer-view.png")
    console.keyboard.press("s")
    done(console, "sold")
    expect(b.get_by_role("status")).to_have_text(re.compile(r"^Sold to you for \D*10[.,]00"))
    expect(a.get_by_role("status")).to_have_text(re.compile(r"^Sold to another bidder for \D*10[.,]00"))
    expect(room.locator("#state")).to_have_text("Sold")
    expect(room.get_by_label("Price")).to_have_text(euros("10.00"))
    expect(a.get_by_role("region", name="Results so far").get_by_role("listitem")).to_have_count(2)

    outcomes = {lot.pk: (lot.live_state, lot.winner_id) for lot in Lot.objects.filter(sale=sale)}
    assert outcomes == {lot1.pk: ("sold", alice.pk), lot2.pk: ("sold", bob.pk), lot3.pk: ("sold", None)}
    for lot in (lot1, lot2, lot3):
        assert_lot_verifies(lot.pk)
