import json
from io import StringIO

import pytest
from django.core.management import call_command

from auctions.models import Lot, Sale, SaleRegistration

pytestmark = pytest.mark.django_db


def test_lot_list_and_lot_page_render(client, lot):
    assert lot.title in client.get("/").content.decode()
    page = client.get(f"/lots/{lot.pk}/").content.decode()
    assert f'data-lot-id="{lot.pk}"' in page and "Log in</a> to bid" in page
    assert client.get("/lots/999999/").status_code == 404


def test_lot_title_and_description_are_escaped(client, make_lot):
    lot = make_lot(title="<script>alert(1)</script>", description="<img src=x onerror=alert(1)>")
    page = client.get(f"/lots/{lot.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "<img src=x" not in page


def _seed(*args) -> dict:
    out = StringIO()
    call_command("seed_loadtest", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_seed_loadtest_is_idempotent_and_prints_what_it_made(client):
    first = _seed("--lots", "3", "--bidders", "4", "--password", "pw-123", "--minutes", "5")
    again = _seed("--lots", "3", "--bidders", "4", "--password", "pw-123", "--minutes", "5")
    assert first == again
    assert len(first["lots"]) == 3 and len(first["bidders"]) == 4
    assert Lot.objects.filter(pk__in=first["lots"], status="open").count() == 3
    assert client.login(username=first["bidders"][0], password="pw-123")
    assert client.login(username=first["seller"], password="pw-123")


def test_seed_loadtest_makes_a_live_sale_its_bidders_may_bid_in(client):
    first = _seed("--lots", "1", "--bidders", "3", "--sale-lots", "12", "--prefix", "ls", "--password", "pw-1")
    again = _seed("--lots", "1", "--bidders", "3", "--sale-lots", "12", "--prefix", "ls", "--password", "pw-1")
    sale = Sale.objects.get(pk=first["sale"]["id"])
    assert again["sale"]["id"] != sale.pk, "a sale that ran cannot run again: each call makes a new one"
    assert sale.status == Sale.Status.SCHEDULED and sale.auto_accept
    assert sale.house.username == first["sale"]["clerk"] != again["sale"]["clerk"]
    lots = Lot.objects.filter(sale=sale).order_by("sale_position")
    assert [lot.pk for lot in lots] == first["sale"]["lots"]
    assert {lot.live_state for lot in lots} == {Lot.LiveState.WAITING}
    registered = SaleRegistration.objects.filter(sale=sale, approved=True).values_list("user__username", flat=True)
    assert sorted(registered) == sorted(first["bidders"])
    assert client.login(username=first["sale"]["clerk"], password="pw-1")
