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
