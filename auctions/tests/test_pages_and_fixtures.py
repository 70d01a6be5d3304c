import json
from io import StringIO

import pytest
from django.core.management import call_command

from auctions.models import Lot

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
