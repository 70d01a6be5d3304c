"""The live-sale HTTP API: a house creates a sale, bidders register for paddles and leave absentee bids, each refusal
in the one vocabulary; paddles stay unique when many register at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from auctions.models import AbsenteeBid, Lot, SaleRegistration

TOMORROW = (timezone.now() + timedelta(days=1)).isoformat()


def client(user=None) -> APIClient:
    api = APIClient()
    if user is not None:
        api.force_authenticate(user)
    return api


def _scheduled_lots(make_lot, seller, n=2) -> list[int]:
    return [
        make_lot(
            seller=seller, status=Lot.Status.SCHEDULED, starts_in=timedelta(hours=2), ends_in=timedelta(hours=3)
        ).pk
        for _ in range(n)
    ]


@pytest.mark.django_db
def test_a_house_creates_a_sale_of_its_lots_over_http_with_its_token(make_lot, make_user):
    house = make_user("house", can_bid=False)
    first, second = _scheduled_lots(make_lot, house)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=house).key}")
    body = {"title": "Autumn sale", "starts_at": TOMORROW, "lots": [second, first], "requires_approval": True}
    response = api.post("/api/sales/", body, format="json")
    assert response.status_code == 201
    sale = response.json()
    assert {key: sale[key] for key in ("title", "status", "requires_approval", "auto_accept", "lots")} == {
        "title": "Autumn sale",
        "status": "scheduled",
        "requires_approval": True,
        "auto_accept": True,
        "lots": [second, first],
    }
    assert list(Lot.objects.live().order_by("sale_position").values_list("pk", flat=True)) == [second, first]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "body", "status", "code"),
    [
        ("nobody", {}, 401, "not_authenticated"),
        ("not_a_seller", {}, 403, "forbidden"),
        ("house", {"starts_at": "tomorrow"}, 400, "invalid"),
        ("house", {"lots": []}, 400, "invalid"),
        ("house", {"lots": ["1"]}, 400, "invalid"),
        ("house", {"seller": 1}, 400, "invalid"),
        ("house", {"auto_accept": "yes"}, 400, "invalid"),
        ("house", {"lots": [987_654]}, 404, "not_found"),
        ("other_house", {}, 403, "forbidden"),
    ],
)
def test_creating_a_sale_is_refused_with_the_socket_codes(make_lot, make_user, who, body, status, code):
    house = make_user("house", can_bid=False)
    lots = _scheduled_lots(make_lot, house)
    user = {
        "nobody": None,
        "not_a_seller": make_user(can_sell=False),
        "house": house,
        "other_house": make_user("other"),
    }[who]
    response = client(user).post(
        "/api/sales/", {"title": "Sale", "starts_at": TOMORROW, "lots": lots, **body}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert not Lot.objects.live().exists()


@pytest.mark.django_db
def test_registering_returns_the_paddle_and_approval(make_sale, make_user):
    open_sale, approval_sale = make_sale(), make_sale(requires_approval=True)
    bidder = make_user()
    first = client(bidder).post(f"/api/sales/{open_sale.pk}/registration/")
    assert (first.status_code, first.json()) == (201, {"sale": open_sale.pk, "paddle": 5_000, "approved": True})
    again = client(bidder).post(f"/api/sales/{open_sale.pk}/registration/")
    assert (again.status_code, again.json()) == (200, first.json())
    pending = client(bidder).post(f"/api/sales/{approval_sale.pk}/registration/")
    assert (pending.status_code, pending.json()["approved"]) == (201, False)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "status", "code", "reason"),
    [
        ("nobody", 401, "not_authenticated", None),
        ("house", 403, "forbidden", "own_sale"),
        ("unverified", 403, "forbidden", "not_verified"),
        ("banned", 403, "forbidden", "banned"),
        ("no_sale", 404, "not_found", None),
    ],
)
def test_registration_refusals(make_sale, make_user, who, status, code, reason):
    sale = make_sale()
    user = {
        "nobody": None,
        "house": sale.house,
        "unverified": make_user(can_bid=False),
        "banned": make_user(banned=True),
        "no_sale": make_user(),
    }[who]
    response = client(user).post(f"/api/sales/{987_654 if who == 'no_sale' else sale.pk}/registration/")
    assert (response.status_code, response.json()["code"], response.json().get("reason")) == (status, code, reason)
    assert not SaleRegistration.objects.exists()


@pytest.mark.django_db
def test_an_absentee_bid_is_set_raised_and_withdrawn_over_http(make_sale, make_user):
    sale = make_sale(starting_price=2_000)
    lot = sale.lots.get(sale_position=2)
    bidder = make_user()
    api = client(bidder)
    assert api.put(f"/api/lots/{lot.pk}/absentee-bid/", {"max_amount": 5_000}, format="json").status_code == 403
    api.post(f"/api/sales/{sale.pk}/registration/")
    placed = api.put(f"/api/lots/{lot.pk}/absentee-bid/", {"max_amount": 5_000}, format="json")
    assert (placed.status_code, placed.json()["lot"], placed.json()["max_amount"]) == (201, lot.pk, 5_000)
    raised = api.put(f"/api/lots/{lot.pk}/absentee-bid/", {"max_amount": 6_000}, format="json")
    assert (raised.status_code, raised.json()["max_amount"]) == (200, 6_000)
    assert AbsenteeBid.objects.get().max_amount == 6_000
    assert api.delete(f"/api/lots/{lot.pk}/absentee-bid/").json() == {"withdrawn": True}
    assert not AbsenteeBid.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "body", "status", "code"),
    [
        ("nobody", {"max_amount": 5_000}, 401, "not_authenticated"),
        ("house", {"max_amount": 5_000}, 403, "forbidden"),
        ("pending", {"max_amount": 5_000}, 403, "forbidden"),
        ("registered", {"max_amount": 1_999}, 409, "too_low"),
        ("registered", {"max_amount": 50.5}, 400, "invalid"),
        ("registered", {"max_amount": "5000"}, 400, "invalid"),
        ("registered", {"amount": 5_000}, 400, "invalid"),
        ("offered", {"max_amount": 5_000}, 409, "closed"),
        ("timed_lot", {"max_amount": 5_000}, 400, "invalid"),
        ("no_lot", {"max_amount": 5_000}, 404, "not_found"),
    ],
)
def test_absentee_bid_refusals(make_sale, make_user, make_lot, case, body, status, code):
    sale = make_sale(starting_price=2_000, requires_approval=True)
    lot = sale.lots.get(sale_position=1)
    user = make_user()
    registration = SaleRegistration.objects.create(sale=sale, user=user, paddle=5_000, approved=case != "pending")
    user = {"nobody": None, "house": sale.house}.get(case, registration.user)
    lot_id = {"timed_lot": make_lot().pk, "no_lot": 987_654}.get(case, lot.pk)
    if case == "offered":
        Lot.objects.filter(pk=lot.pk).update(live_state=Lot.LiveState.OPEN)
    response = client(user).put(f"/api/lots/{lot_id}/absentee-bid/", body, format="json")
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert not AbsenteeBid.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_bidders_registering_at_once_each_get_their_own_paddle(make_sale, make_user):
    """Real threads, each on its own PostgreSQL connection, released together: the sale's row lock numbers them."""
    sale = make_sale()
    bidders = [make_user() for _ in range(12)]
    start = threading.Barrier(len(bidders))
    answers: list[tuple[int, int]] = []

    def register(user) -> None:
        try:
            api = client(user)
            start.wait(timeout=10)
            response = api.post(f"/api/sales/{sale.pk}/registration/")
            answers.append((response.status_code, response.json()["paddle"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(user,)) for user in bidders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers) == [(201, 5_000 + n) for n in range(len(bidders))]
    assert sorted(SaleRegistration.objects.values_list("paddle", flat=True)) == list(range(5_000, 5_012))
