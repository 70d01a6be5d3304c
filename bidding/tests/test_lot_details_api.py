"""The lot API takes the seller's details (condition, shipping or collection only, buyer's premium, instructions),
refuses bad ones with `invalid` and the field, and shows the instructions and the itemised total only to the winner
and the seller."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from auctions.models import Lot
from bidding.closing import close_due_lots
from bidding.services import place_bid
from conftest import long_ended

pytestmark = pytest.mark.django_db

DETAILS = {
    "condition": "like_new",
    "condition_note": "A hairline scratch on the lid.",
    "shipping_price": 750,
    "ships_to": "EU only",
    "collection_instructions": "Collect from 4 Mill Lane on a weekday.",
    "buyers_premium_percent": 12.5,
    "payment_instructions": "Bank transfer to IBAN DE00 1234 within 3 days.",
}


def lot_body(**overrides) -> dict:
    return {
        "title": "Brass telescope",
        "starting_price": 2_000,
        "ends_at": (timezone.now() + timedelta(hours=2)).isoformat(),
        **DETAILS,
        **overrides,
    }


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_a_seller_lists_a_lot_with_its_details_stored_exactly(seller):
    answer = client_for(seller).post("/api/lots/", lot_body(), format="json")
    assert answer.status_code == 201, answer.json()
    details = answer.json()["lot"]["details"]
    assert details == {
        **DETAILS,
        "buyers_premium_percent": "12.5",  # a decimal string, never a float
        "collection_only": False,
    }
    lot = Lot.objects.get(pk=answer.json()["lot"]["id"])
    assert lot.buyers_premium_percent == Decimal("12.5") and lot.condition == Lot.Condition.LIKE_NEW


@pytest.mark.parametrize(("given", "stored"), [("7", "7.0"), (0, "0.0"), ("25", "25.0"), ("0.1", "0.1"), (None, "0.0")])
def test_a_premium_is_a_whole_or_one_decimal_percent_up_to_25(seller, given, stored):
    answer = client_for(seller).post("/api/lots/", lot_body(buyers_premium_percent=given), format="json")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["lot"]["details"]["buyers_premium_percent"] == stored


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"buyers_premium_percent": 25.5}, "buyers_premium_percent"),
        ({"buyers_premium_percent": "30"}, "buyers_premium_percent"),
        ({"buyers_premium_percent": 12.25}, "buyers_premium_percent"),
        ({"buyers_premium_percent": -1}, "buyers_premium_percent"),
        ({"buyers_premium_percent": "ten"}, "buyers_premium_percent"),
        ({"buyers_premium_percent": True}, "buyers_premium_percent"),
        ({"buyers_premium_percent": 1e-05}, "buyers_premium_percent"),
        ({"condition": "mint"}, "condition"),
        ({"condition": ["new"]}, "condition"),
        ({"shipping_price": -1}, "shipping_price"),
        ({"shipping_price": 7.5}, "shipping_price"),
        ({"shipping_price": "750"}, "shipping_price"),
        ({"condition_note": "x" * (Lot.CONDITION_NOTE_MAX_CHARS + 1)}, "condition_note"),
        ({"payment_instructions": "x" * (Lot.INSTRUCTIONS_MAX_CHARS + 1)}, "payment_instructions"),
        ({"collection_instructions": 5}, "collection_instructions"),
        ({"ships_to": "x" * (Lot.SHIPS_TO_MAX_CHARS + 1)}, "ships_to"),
    ],
)
def test_bad_details_are_refused_with_the_field_and_list_nothing(seller, overrides, field):
    answer = client_for(seller).post("/api/lots/", lot_body(**overrides), format="json")
    assert answer.status_code == 400
    assert (answer.json()["code"], answer.json()["field"]) == ("invalid", field)
    assert not Lot.objects.exists()


def test_a_seller_edits_the_details_and_a_bad_premium_changes_nothing(seller):
    api = client_for(seller)
    lot_id = api.post("/api/lots/", lot_body(), format="json").json()["lot"]["id"]
    edited = api.patch(
        f"/api/lots/{lot_id}/",
        {"shipping_price": None, "buyers_premium_percent": "5", "condition": "fair"},
        format="json",
    )
    assert edited.status_code == 200, edited.json()
    details = edited.json()["lot"]["details"]
    assert details["collection_only"] and details["shipping_price"] is None
    assert (details["buyers_premium_percent"], details["condition"]) == ("5.0", "fair")
    refused = api.patch(f"/api/lots/{lot_id}/", {"buyers_premium_percent": "25.01"}, format="json")
    assert (refused.status_code, refused.json()["field"]) == (400, "buyers_premium_percent")
    assert Lot.objects.get(pk=lot_id).buyers_premium_percent == Decimal("5")


def test_only_the_winner_and_the_seller_get_the_instructions_and_the_total(seller, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    lot_id = client_for(seller).post("/api/lots/", lot_body(), format="json").json()["lot"]["id"]
    place_bid(user=bob, lot_id=lot_id, amount=2_000, bid_id="bob-1")
    place_bid(user=alice, lot_id=lot_id, amount=2_500, bid_id="alice-1")
    Lot.objects.filter(pk=lot_id).update(**long_ended())
    close_due_lots()

    won = client_for(alice).get(f"/api/lots/{lot_id}/").json()
    assert won["outcome"]["total"] == {
        "hammer": 2_500,
        "premium_percent": "12.5",
        "premium": 313,  # 312.5 cents, half a cent up
        "shipping": 750,
        "collection_only": False,
        "total": 3_563,
    }
    assert won["lot"]["details"]["payment_instructions"] == DETAILS["payment_instructions"]
    sellers = client_for(seller).get(f"/api/lots/{lot_id}/").json()
    assert sellers["lot"]["details"]["collection_instructions"] == DETAILS["collection_instructions"]
    for other in (client_for(bob), client_for()):
        seen = other.get(f"/api/lots/{lot_id}/").json()
        assert "total" not in seen["outcome"]
        assert "payment_instructions" not in seen["lot"]["details"]
        assert "collection_instructions" not in seen["lot"]["details"]
        assert seen["lot"]["details"]["shipping_price"] == 750  # the listing itself is public
