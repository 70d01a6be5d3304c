"""manage.py verify_lot: replays a lot's log from scratch and says what differs."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from auctions.models import Lot
from bidding.closing import close_due_lots
from bidding.services import buy_now, place_bid
from conftest import assert_lot_verifies, closing_time

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("verify_lot", *args, stdout=out)
    return out.getvalue()


def bid(user, lot, amount, maximum=None):
    return place_bid(user=user, lot_id=lot.pk, amount=amount, bid_id=uuid.uuid4().hex, max_amount=maximum)


@pytest.fixture
def busy_lot(make_lot, seller, make_user):
    """Plain bids, automatic answers, a raised maximum, a reserve lift and soft-close extensions, then the close."""
    lot = make_lot(
        seller=seller, reserve_price=3_000, ends_in=timedelta(seconds=30), soft_close_window=60, soft_close_extension=90
    )
    a, b, c = make_user("a"), make_user("b"), make_user("c")
    bid(a, lot, 1_000)
    bid(b, lot, 1_100, 2_500)
    bid(a, lot, 1_500)  # answered by b's maximum
    bid(b, lot, 1_700, 6_000)  # b raises their maximum past the reserve: the price jumps to it
    bid(c, lot, 3_250, 4_000)  # answered by b's maximum
    bid(b, lot, 4_500, 7_000)  # b raises again: nothing visible changes (logged for replay only)
    bid(c, lot, 6_000, 9_000)  # b's maximum spent, c leads
    lot.refresh_from_db()
    assert (lot.high_bidder, lot.high_bid_amount, lot.leader_max_amount) == (c, 7_250, 9_000)
    return lot


def test_a_lot_with_every_kind_of_bid_verifies(busy_lot):
    assert run(str(busy_lot.pk)).startswith(f"lot {busy_lot.pk}: ok")
    assert_lot_verifies(busy_lot.pk)


def test_a_closed_lot_and_a_bought_lot_verify(make_lot, seller, make_user, busy_lot):
    bought = make_lot(seller=seller, buy_now_price=50_000)
    buy_now(user=make_user("d"), lot_id=bought.pk, bid_id="n")
    busy_lot.refresh_from_db()
    close_due_lots(now=closing_time(busy_lot.ends_at))  # the clock moves on; nothing is edited by hand
    output = run("--all")
    assert Lot.objects.get(pk=busy_lot.pk).status == "closed"
    assert "difference" not in output and output.count(": ok") == Lot.objects.count()


@pytest.mark.parametrize(
    "tamper, complaint",
    [
        ({"high_bid_amount": 99_999}, "high bid"),
        ({"seq": 42}, "sequence"),
        ({"leader_max_amount": 1}, "hidden maximum"),
        ({"bid_count": 3}, "bid count"),
    ],
)
def test_a_tampered_lot_fails_and_says_what_differs(busy_lot, tamper, complaint):
    Lot.objects.filter(pk=busy_lot.pk).update(**tamper)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_lot", str(busy_lot.pk), stdout=out)
    assert complaint in out.getvalue()


def test_a_tampered_bid_row_is_found(busy_lot):
    from bidding.models import Bid

    Bid.objects.filter(lot=busy_lot, seq=2).update(amount=1_050)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_lot", str(busy_lot.pk), stdout=out)
    assert "seq 2" in out.getvalue()


def test_unknown_lots_and_no_arguments_fail():
    with pytest.raises(CommandError):
        run("987654")
    with pytest.raises(CommandError):
        run()


@pytest.mark.django_db(transaction=True)
def test_a_bid_committed_while_a_lot_is_verified_is_no_difference(make_lot, make_user):
    """verify_lot runs in production while bidding goes on: a bid that commits between its reads of the lot, the
    bids and the events must not show up as a difference. The bid here is placed by the real service from another
    connection, at the moment the audit asks for the lot's bid rows."""
    import threading

    from django.db import connection, connections

    from bidding.models import Bid

    lot = make_lot()
    bid(make_user("early"), lot, 1_000)
    late = make_user("late")
    placed = []

    def place_from_elsewhere() -> None:
        try:
            placed.append(bid(late, lot, 1_100).seq)
        finally:
            connections.close_all()

    def bid_mid_audit(execute, sql, params, many, context):
        if not placed and f'FROM "{Bid._meta.db_table}"' in sql:
            other = threading.Thread(target=place_from_elsewhere)
            other.start()
            other.join()
        return execute(sql, params, many, context)

    out = io.StringIO()
    with connection.execute_wrapper(bid_mid_audit):
        try:
            call_command("verify_lot", str(lot.pk), stdout=out)
        except CommandError:
            pytest.fail(out.getvalue())
    assert placed == [2], "the other connection's bid was not placed"
    assert out.getvalue() == f"lot {lot.pk}: ok (seq 1, 1 bids)\n"  # the lot as it stood when the audit began
    assert Lot.objects.get(pk=lot.pk).bid_count == 2
    assert run(str(lot.pk)).startswith(f"lot {lot.pk}: ok (seq 2, 2 bids)")
