"""After the sale in a real browser: the console's Finish (key E, confirmed), then the end-of-sale report it links
to, read as the house reads it."""

from __future__ import annotations

import re

import pytest

from auctions.models import Sale
from bidding.tests.live import act, elsewhere, register

playwright_sync = pytest.importorskip("playwright.sync_api")  # installed by requirements.txt
expect = playwright_sync.expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_clerk_finishes_the_sale_from_the_console_and_reads_the_report(page_for, make_sale, make_user, live):
    house = make_user("house", can_bid=False)
    sale = make_sale(house=house, lots=2, starting_price=1_000, title="Winter sale")
    register(sale, make_user("ann"))
    for action, args in (("start", {}), ("offer", {}), ("floor_bid", {"paddle": 12}), ("sold", {})):
        elsewhere(lambda action=action, args=args: act(house, sale, action, **args))

    console = page_for(house, f"/sales/{sale.pk}/clerk/", dialogs=False)
    live(console)
    console.get_by_role("button", name="Drive this sale").click()
    expect(console.get_by_text("You drive this sale from this console.")).to_be_visible()
    finish = console.get_by_role("button", name=re.compile(r"^Finish sale\b"))
    expect(finish).to_be_enabled()
    console.once("dialog", lambda dialog: dialog.dismiss())  # asked once more: dismissed, nothing happens
    console.keyboard.press("e")
    expect(console.locator("#sale-status")).to_have_text("running")
    console.once("dialog", lambda dialog: dialog.accept())
    console.keyboard.press("e")
    expect(console.locator("#sale-status")).to_have_text("finished")
    expect(finish).to_be_disabled()
    assert Sale.objects.get(pk=sale.pk).status == "finished"

    console.locator("#report-link").get_by_role("link", name="see the end-of-sale report").click()
    expect(console.get_by_role("heading", name="Winter sale: end-of-sale report")).to_be_visible()
    rows = console.locator("#report tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("sold")
    expect(rows.nth(0)).to_contain_text("floor")
    expect(rows.nth(0)).to_contain_text("12")
    expect(rows.nth(0)).to_contain_text("room")
    expect(rows.nth(1)).to_contain_text("not offered")
    expect(console.locator("#totals")).to_contain_text("1 sold · 0 passed · 1 not offered")
    expect(console.get_by_role("link", name="Download CSV")).to_have_attribute("href", f"/sales/{sale.pk}/report.csv")
