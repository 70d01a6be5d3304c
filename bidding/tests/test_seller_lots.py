"""Sellers list, edit and cancel their own lots; ownership and the no-bids rule are checked on every action."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from rest_framework.test import APIClient

from auctions.models import Lot, LotEvent
from bidding.services import place_bid


def iso(delta: timedelta) -> str:
    return (timezone.now() + delta).isoformat()


def lot_body(**overrides) -> dict:
    return {
        "title": "Brass telescope",
        "description": "<b>1890s</b>",
        "starting_price": 5_000,
        "starts_at": iso(timedelta(seconds=-1)),
        "ends_at": iso(timedelta(hours=2)),
        **overrides,
    }


@pytest.fixture
def api():
    return APIClient()


@pytest.mark.django_db
def test_a_seller_lists_a_lot_open_now_or_scheduled(api, seller):
    api.force_authenticate(seller)
    now_open = api.post("/api/lots/", lot_body(), format="json")
    assert now_open.status_code == 201
    assert (now_open.json()["status"], now_open.json()["min_next_bid"]) == ("open", 5_000)
    later = api.post("/api/lots/", lot_body(starts_at=iso(timedelta(hours=1))), format="json")
    assert later.json()["status"] == "scheduled"
    assert [row["id"] for row in api.get("/api/me/lots/").json()["lots"]] == [
        later.json()["lot"]["id"],
        now_open.json()["lot"]["id"],
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"starting_price": 50.5}, "starting_price"),
        ({"starting_price": "5000"}, "starting_price"),
        ({"starting_price": 0}, "starting_price"),
        ({"reserve_price": 100}, "reserve_price"),
        ({"title": ""}, "title"),
        ({"ends_at": iso(timedelta(hours=-1))}, "ends_at"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"ends_at": "2030-01-01T10:00:00"}, "ends_at"),  # no offset: ambiguous
        ({"soft_close_window": -5}, "soft_close_window"),
    ],
)
def test_bad_lot_fields_are_invalid_and_create_nothing(api, seller, overrides, field):
    api.force_authenticate(seller)
    response = api.post("/api/lots/", lot_body(**overrides), format="json")
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (400, "invalid", field)
    assert not Lot.objects.exists()


@pytest.mark.django_db
def test_anonymous_and_banned_users_cannot_list(api, make_user):
    assert api.post("/api/lots/", lot_body(), format="json").status_code == 401
    api.force_authenticate(make_user(banned=True))
    response = api.post("/api/lots/", lot_body(), format="json")
    assert (response.status_code, response.json()["reason"]) == (403, "banned")
    assert not Lot.objects.exists()


@pytest.mark.django_db
def test_only_the_seller_edits_and_only_before_the_first_bid(api, lot, seller, bidder, make_user):
    api.force_authenticate(make_user("mallory"))
    response = api.patch(f"/api/lots/{lot.pk}/", {"title": "Mine now"}, format="json")
    assert (response.status_code, response.json()["reason"]) == (403, "not_owner")
    api.force_authenticate(seller)
    response = api.patch(f"/api/lots/{lot.pk}/", {"title": "Renamed", "starting_price": 2_000}, format="json")
    assert response.status_code == 200 and response.json()["min_next_bid"] == 2_000
    assert api.patch(f"/api/lots/{lot.pk}/", {"seller": bidder.pk}, format="json").status_code == 400
    place_bid(user=bidder, lot_id=lot.pk, amount=2_000, bid_id="b")
    response = api.patch(f"/api/lots/{lot.pk}/", {"starting_price": 1_000}, format="json")
    assert (response.status_code, response.json()["reason"]) == (403, "has_bids")
    lot.refresh_from_db()
    assert (lot.title, lot.starting_price, lot.seller) == ("Renamed", 2_000, seller)


@pytest.mark.django_db
def test_cancelling_needs_a_reason_and_after_bids_needs_staff(api, lot, seller, bidder, make_user):
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="b")
    api.force_authenticate(seller)
    assert api.post(f"/api/lots/{lot.pk}/cancel/", {"reason": ""}, format="json").status_code == 400
    response = api.post(f"/api/lots/{lot.pk}/cancel/", {"reason": "changed my mind"}, format="json")
    assert (response.status_code, response.json()["reason"]) == (403, "has_bids")
    staff = make_user("staff")
    staff.is_staff = True
    staff.save()
    api.force_authenticate(staff)
    response = api.post(f"/api/lots/{lot.pk}/cancel/", {"reason": "Item withdrawn: counterfeit"}, format="json")
    assert (response.status_code, response.json()["status"]) == (200, "cancelled")
    event = LotEvent.objects.get(lot=lot, seq=2).payload
    assert (event["type"], event["reason"]) == ("cancelled", "Item withdrawn: counterfeit")
    assert api.post(f"/api/lots/{lot.pk}/cancel/", {"reason": "again"}, format="json").status_code == 409


@pytest.mark.django_db(transaction=True)
async def test_watchers_see_the_cancellation_and_bids_stop(open_socket, lot, seller, bidder):
    watcher = await open_socket(lot.pk)
    mine = await open_socket(lot.pk, bidder)

    def cancel():
        client = APIClient()
        client.force_authenticate(seller)
        return client.post(f"/api/lots/{lot.pk}/cancel/", {"reason": "damaged in transit"}, format="json")

    assert (await sync_to_async(cancel)()).status_code == 200
    seen = await watcher.receive_json_from(timeout=3)
    assert (seen["type"], seen["seq"], seen["reason"]) == ("cancelled", 1, "damaged in transit")
    await mine.receive_json_from(timeout=3)
    await mine.send_json_to({"type": "bid", "amount": 1_000, "bid_id": "late"})
    assert (await mine.receive_json_from(timeout=3))["code"] == "closed"


@pytest.mark.django_db
def test_a_catalogue_gets_staggered_ends_all_or_nothing(api, seller):
    api.force_authenticate(seller)
    first = lot_body(title="Lot 1")
    body = {
        "stagger_seconds": 90,
        "lots": [
            first,
            {"title": "Lot 2", "starting_price": 1_000, "starts_at": first["starts_at"]},
            {"title": "Lot 3", "starting_price": 2_000, "starts_at": first["starts_at"]},
        ],
    }
    response = api.post("/api/lots/catalogue/", body, format="json")
    assert response.status_code == 201
    ends = [timezone.datetime.fromisoformat(row["ends_at"]) for row in response.json()["lots"]]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(ends)] == [90.0, 90.0]
    body["lots"].append({"title": "Bad", "starting_price": 1.5, "starts_at": first["starts_at"]})
    response = api.post("/api/lots/catalogue/", body, format="json")
    assert (response.status_code, response.json()["field"]) == (400, "starting_price")
    assert Lot.objects.count() == 3  # the bad catalogue created nothing


@pytest.mark.django_db
def test_a_hard_end_caps_soft_close_extensions(make_lot, bidder):
    hard_end = timezone.now() + timedelta(seconds=40)
    lot = make_lot(ends_in=timedelta(seconds=30), soft_close_window=60, soft_close_extension=120, hard_end_at=hard_end)
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="b")
    lot.refresh_from_db()
    assert lot.ends_at == hard_end


@pytest.mark.django_db
def test_a_hard_end_before_the_end_is_invalid(api, seller):
    api.force_authenticate(seller)
    response = api.post("/api/lots/", lot_body(hard_end_at=iso(timedelta(hours=1))), format="json")
    assert (response.status_code, response.json()["field"]) == (400, "hard_end_at")
