"""Who may list lots and how many, and how long a description may be: a verified seller only, a new seller within
the open-lot cap (also when two listings race on two workers), a description within its limit. Every request goes
over HTTP to real Daphne workers on PostgreSQL, as a script with an API token would send it."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Profile
from auctions.models import Lot
from conftest import cookie_header

pytestmark = pytest.mark.django_db(transaction=True)


def call(server, user, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=user)
    request = urllib.request.Request(
        f"{server.http}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token.key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def lot_body(**overrides) -> dict:
    return {
        "title": "Brass telescope",
        "description": "A 19th-century brass telescope.",
        "starting_price": 5_000,
        "ends_at": (timezone.now() + timedelta(hours=2)).isoformat(),
        **overrides,
    }


def catalogue(size: int) -> dict:
    return {"stagger_seconds": 1, "lots": [lot_body(title=f"Lot {i}") for i in range(size)]}


def test_an_account_not_verified_to_sell_lists_nothing(start_daphne, make_user):
    server = start_daphne()
    fresh = make_user("fresh", can_bid=False, can_sell=False)

    for path, body in [("/api/lots/", lot_body()), ("/api/lots/catalogue/", catalogue(500))]:
        status, reply = call(server, fresh, "POST", path, body)
        assert (status, reply["code"], reply["reason"]) == (403, "forbidden", "not_verified_seller"), reply
        assert "verified to sell" in reply["message"]
    assert not Lot.objects.exists()

    Profile.objects.filter(user=fresh).update(can_sell=True)  # what staff's "Verify as sellers" action does
    status, reply = call(server, fresh, "POST", "/api/lots/", lot_body())
    assert status == 201, reply
    assert Lot.objects.filter(seller=fresh).count() == 1


def test_a_new_seller_may_hold_only_so_many_lots_open_until_some_have_sold(start_daphne, make_user, make_lot):
    server = start_daphne(NEW_SELLER_MAX_OPEN_LOTS="3", NEW_SELLER_SOLD_LOTS="2")
    seller, buyer = make_user("newcomer", can_bid=False), make_user("buyer")

    status, reply = call(server, seller, "POST", "/api/lots/catalogue/", catalogue(500))
    assert (status, reply["code"], reply["reason"]) == (403, "forbidden", "open_lot_cap"), reply
    assert (reply["max_open_lots"], reply["open_lots"]) == (3, 0)
    assert not Lot.objects.exists()  # refused whole: not the first three of the 500

    assert call(server, seller, "POST", "/api/lots/catalogue/", catalogue(2))[0] == 201
    status, reply = call(server, seller, "POST", "/api/lots/catalogue/", catalogue(2))
    assert (status, reply.get("reason"), reply.get("open_lots")) == (403, "open_lot_cap", 2), reply
    scheduled = lot_body(starts_at=(timezone.now() + timedelta(hours=1)).isoformat())
    assert call(server, seller, "POST", "/api/lots/", scheduled)[0] == 201  # scheduled lots count too: 3 of 3
    status, reply = call(server, seller, "POST", "/api/lots/", lot_body())
    assert (status, reply.get("reason")) == (403, "open_lot_cap"), reply
    assert Lot.objects.filter(seller=seller).count() == 3

    # A lot that has ended no longer counts.
    first = Lot.objects.filter(seller=seller).order_by("pk").first()
    assert call(server, seller, "POST", f"/api/lots/{first.pk}/cancel/", {"reason": "Listed twice."})[0] == 200
    assert call(server, seller, "POST", "/api/lots/", lot_body())[0] == 201

    # A record of sales lifts the cap.
    for _ in range(2):
        make_lot(seller=seller, status=Lot.Status.CLOSED, winner=buyer, high_bidder=buyer, high_bid_amount=2_000)
    status, reply = call(server, seller, "POST", "/api/lots/catalogue/", catalogue(10))
    assert status == 201, reply
    assert Lot.objects.filter(seller=seller, status__in=["open", "scheduled"]).count() == 13


def test_two_catalogues_at_once_on_two_workers_cannot_pass_the_cap_together(start_daphne, make_user):
    # Long catalogues: each listing's transaction lasts long enough that the two overlap.
    cap = 200
    workers = [start_daphne(name, NEW_SELLER_MAX_OPEN_LOTS=str(cap)) for name in ("one", "two")]
    seller = make_user("newcomer", can_bid=False)
    call(workers[0], seller, "GET", "/api/me/lots/")  # the API token exists before the race
    start, replies = threading.Barrier(2), [None, None]

    def post(i: int) -> None:
        start.wait()
        replies[i] = call(workers[i], seller, "POST", "/api/lots/catalogue/", catalogue(cap))

    threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert sorted(status for status, _ in replies) == [201, 403], replies
    assert next(reply for status, reply in replies if status == 403)["reason"] == "open_lot_cap"
    assert Lot.objects.filter(seller=seller).count() == cap


def test_a_description_over_the_limit_is_refused_and_changes_nothing(start_daphne, make_user):
    server = start_daphne()
    seller = make_user("seller", can_bid=False)
    limit = Lot.DESCRIPTION_MAX_CHARS

    status, reply = call(server, seller, "POST", "/api/lots/", lot_body(description="x" * 900_000))
    assert (status, reply["code"], reply["field"], reply["max_length"]) == (400, "invalid", "description", limit)
    assert f"{limit:,} characters" in reply["message"]
    status, reply = call(server, seller, "POST", "/api/lots/catalogue/", {**catalogue(3), "lots": [
        lot_body(), lot_body(description="é" * (limit + 1)), lot_body()
    ]})  # fmt: skip
    assert (status, reply["field"]) == (400, "description"), reply
    assert not Lot.objects.exists()

    status, reply = call(server, seller, "POST", "/api/lots/", lot_body(description="é" * limit))
    assert status == 201, reply
    lot_id = reply["lot"]["id"]
    status, reply = call(server, seller, "PATCH", f"/api/lots/{lot_id}/", {"description": "y" * (limit + 1)})
    assert (status, reply["field"]) == (400, "description"), reply
    assert Lot.objects.get(pk=lot_id).description == "é" * limit


def test_a_seller_whose_selling_was_revoked_may_withdraw_a_lot_but_not_edit_it(start_daphne, make_user, make_lot):
    server = start_daphne()
    seller = make_user("seller", can_bid=False)
    lot = make_lot(seller=seller, title="Brass telescope")
    Profile.objects.filter(user=seller).update(can_sell=False)  # staff's "Revoke selling" action

    status, reply = call(server, seller, "PATCH", f"/api/lots/{lot.pk}/", {"title": "Telescope, brass"})
    assert (status, reply.get("reason")) == (403, "not_verified_seller"), reply
    lot.refresh_from_db()
    assert lot.title == "Brass telescope"
    status, reply = call(server, seller, "POST", f"/api/lots/{lot.pk}/cancel/", {"reason": "No longer for sale."})
    assert (status, reply["status"]) == (200, "cancelled"), reply


def test_the_sell_page_tells_an_unverified_account_and_bounds_the_description(start_daphne, make_user):
    server = start_daphne()
    for user, told in [(make_user("fresh", can_sell=False), True), (make_user("verified"), False)]:
        cookie = cookie_header(user)
        request = urllib.request.Request(f"{server.http}/sell/", headers={"Cookie": cookie})
        with urllib.request.urlopen(request, timeout=10) as response:
            page = response.read().decode()
        assert ("not yet verified to sell" in page) is told, user
        assert f'<textarea id="f-description" rows="3" maxlength="{Lot.DESCRIPTION_MAX_CHARS}">' in page
