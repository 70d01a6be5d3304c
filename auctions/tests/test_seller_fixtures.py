"""The demo and load-test fixtures make verified sellers, so demos, load tests and benchmarks list lots unchanged."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from auctions.services import create_lot

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("command", "args"),
    [("seed_demo", ()), ("seed_loadtest", ("--lots", "3", "--bidders", "2", "--prefix", "fx", "--json"))],
)
def test_the_seeded_seller_is_verified_and_may_list_more(command, args):
    out = io.StringIO()
    call_command(command, *args, stdout=out)
    username = json.loads(out.getvalue())["seller"] if command == "seed_loadtest" else "seller"
    seller = get_user_model().objects.get(username=username)
    assert seller.profile.can_sell and not seller.profile.can_bid
    lot = create_lot(seller=seller, title="One more", starting_price=1_000, ends_at=timezone.now() + timedelta(hours=1))
    assert lot.status == "open"
