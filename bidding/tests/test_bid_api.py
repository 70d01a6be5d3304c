"""Bids over HTTP: the same service, the same codes and payloads as the socket, and the same broadcast."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from auctions.models import Lot
from bidding.models import Bid


@pytest.fixture
def api():
    return APIClient()


def post_bid(api, lot_id, **body):
    return api.post(f"/api/lots/{lot_id}/bids/", body, format="json")


@pytest.mark.django_db
def test_a_bid_over_http_is_accepted_like_one_over_the_socket(api, lot, bidder):
    api.force_authenticate(bidder)
    response = post_bid(api, lot.pk, amount=1_000, bid_id="h1")
    assert response.status_code == 201
    assert response.json() == {
        "type": "bid_accepted",
        "lot": lot.pk,
        "bid_id": "h1",
        "amount": 1_000,
        "seq": 1,
        "leading": True,
        "automatic": False,
        "max_amount": None,
        "duplicate": False,
    }
    # A retry: the same answer, marked as a duplicate.
    assert post_bid(api, lot.pk, amount=1_000, bid_id="h1").json() == {**response.json(), "duplicate": True}
    assert Bid.objects.filter(lot=lot).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"amount": 10.5, "bid_id": "x"}, 400, "invalid"),
        ({"amount": "1000", "bid_id": "x"}, 400, "invalid"),
        ({"amount": 1_000}, 400, "invalid"),
        ({"amount": 999, "bid_id": "x"}, 409, "too_low"),
    ],
)
def test_refusals_over_http_carry_the_socket_codes_and_change_nothing(api, lot, bidder, body, status, code):
    api.force_authenticate(bidder)
    response = post_bid(api, lot.pk, **body)
    assert (response.status_code, response.json()["type"], response.json()["code"]) == (status, "bid_rejected", code)
    if code == "too_low":
        assert response.json()["min_next_bid"] == 1_000
    lot.refresh_from_db()
    assert (lot.seq, lot.bid_count) == (0, 0) and not Bid.objects.exists()


@pytest.mark.django_db
def test_non_json_body_is_refused(api, lot, bidder):
    api.force_authenticate(bidder)
    response = api.post(f"/api/lots/{lot.pk}/bids/", "not json", content_type="application/json")
    assert response.status_code == 400 and not Bid.objects.exists()


@pytest.mark.django_db
def test_anonymous_own_lot_unknown_and_closed_lots(api, make_lot, seller, bidder):
    lot = make_lot(seller=seller)
    response = post_bid(api, lot.pk, amount=1_000, bid_id="a")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")
    api.force_authenticate(seller)
    response = post_bid(api, lot.pk, amount=1_000, bid_id="s")
    assert (response.status_code, response.json()["code"], response.json()["reason"]) == (403, "forbidden", "own_lot")
    api.force_authenticate(bidder)
    assert post_bid(api, 987_654, amount=1_000, bid_id="n").status_code == 404
    ended = make_lot(seller=seller, starts_in=timedelta(hours=-2), ends_in=timedelta(seconds=-1))
    response = post_bid(api, ended.pk, amount=1_000, bid_id="c")
    assert (response.status_code, response.json()["code"]) == (409, "closed")
    assert not Bid.objects.exists()


@pytest.mark.django_db
def test_scripts_authenticate_with_a_token(api, lot, bidder):
    token = Token.objects.create(user=bidder)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert post_bid(api, lot.pk, amount=1_000, bid_id="t").status_code == 201


@pytest.mark.django_db
def test_bid_history_shows_aliases_and_marks_your_own(api, lot, bidder, make_user):
    from bidding.services import place_bid

    rival = make_user("bob")
    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="a")
    place_bid(user=rival, lot_id=lot.pk, amount=1_100, bid_id="b")
    api.force_authenticate(bidder)
    body = api.get(f"/api/lots/{lot.pk}/bids/").json()
    assert [(b["seq"], b["amount"], b["bidder"], b["yours"]) for b in body["bids"]] == [
        (2, 1_100, "Bidder 2", False),
        (1, 1_000, "Bidder 1", True),
    ]
    assert "alice" not in str(body) and "bob" not in str(body)


@pytest.mark.django_db
def test_lot_list_and_detail_give_the_current_state(api, lot, bidder):
    from bidding.services import place_bid

    place_bid(user=bidder, lot_id=lot.pk, amount=1_000, bid_id="a")
    listed = {row["id"]: row for row in api.get("/api/lots/").json()["lots"]}
    assert (listed[lot.pk]["high_bid"], listed[lot.pk]["min_next_bid"], listed[lot.pk]["seq"]) == (1_000, 1_100, 1)
    detail = api.get(f"/api/lots/{lot.pk}/").json()
    assert (detail["type"], detail["seq"], detail["high_bid"]["bidder"]) == ("snapshot", 1, "Bidder 1")
    assert api.get("/api/lots/987654/").status_code == 404


@pytest.mark.django_db
def test_the_openapi_schema_is_served(api):
    response = api.get("/api/schema/")
    assert response.status_code == 200 and b"/api/lots/{lot_id}/bids/" in response.content


@pytest.mark.django_db(transaction=True)
async def test_a_bid_over_http_reaches_socket_watchers(open_socket, lot, bidder):
    watcher = await open_socket(lot.pk)

    def bid_over_http():
        client = APIClient()
        client.force_authenticate(bidder)
        return post_bid(client, lot.pk, amount=1_000, bid_id="h").status_code

    assert await sync_to_async(bid_over_http)() == 201
    seen = await watcher.receive_json_from(timeout=3)
    assert (seen["type"], seen["seq"], seen["amount"]) == ("high_bid", 1, 1_000)
    assert (await Lot.objects.aget(pk=lot.pk)).high_bid_amount == 1_000


@pytest.mark.django_db
def test_too_many_bids_over_http_are_rate_limited(api, lot, bidder, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import ScopedRateThrottle

    cache.clear()
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"bids": "2/min"})
    api.force_authenticate(bidder)
    assert post_bid(api, lot.pk, amount=1_000, bid_id="1").status_code == 201
    assert post_bid(api, lot.pk, amount=1_100, bid_id="2").status_code == 201
    response = post_bid(api, lot.pk, amount=1_200, bid_id="3")
    assert (response.status_code, response.json()["code"], response.json()["bid_id"]) == (429, "rate_limited", "3")
    assert int(response["Retry-After"]) >= 1
    assert Bid.objects.count() == 2


@pytest.mark.django_db
def test_my_bids_lists_each_lot_once_with_whether_i_lead(api, make_lot, bidder, make_user):
    from bidding.services import place_bid

    rival = make_user("bob")
    first, second = make_lot(title="First"), make_lot(title="Second", ends_in=timedelta(hours=3))
    place_bid(user=bidder, lot_id=first.pk, amount=1_000, bid_id="a1")
    place_bid(user=bidder, lot_id=first.pk, amount=1_100, bid_id="a2")
    place_bid(user=bidder, lot_id=second.pk, amount=1_000, bid_id="a3")
    place_bid(user=rival, lot_id=second.pk, amount=1_100, bid_id="b1")
    assert api.get("/api/me/bids/").status_code == 401
    api.force_authenticate(bidder)
    rows = [(r["lot"], r["my_highest"], r["high_bid"], r["leading"]) for r in api.get("/api/me/bids/").json()["lots"]]
    assert rows == [(first.pk, 1_100, 1_100, True), (second.pk, 1_000, 1_100, False)]
