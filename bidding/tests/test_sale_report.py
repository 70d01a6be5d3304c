"""After the sale (docs/live-sales.md "After the sale"): the clerk's Finish, the buyers' `won` and everyone's
`sale_finished` notices, and the end-of-sale report (page and CSV) checked against the bids of a sale run through
the live bid path's services."""

from __future__ import annotations

import csv
import io

import pytest
from asgiref.sync import sync_to_async
from django.core import mail
from django.test import Client

from auctions.models import AbsenteeBid, Lot, Notice, Sale
from auctions.money import format_money
from auctions.notice_mail import mail_pass
from auctions.payloads import iso
from auctions.sales import set_absentee_bid
from bidding.models import Bid
from bidding.tests.live import act, bid, lots_of, opened, receive_until, refused, register, sale_socket
from conftest import assert_lot_verifies

pytestmark = pytest.mark.django_db(transaction=True)

EVIL = '=HYPERLINK("http://evil.example","Vase")'  # a title a spreadsheet would run as a formula


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://gavel.example"


@pytest.fixture
def clerk(make_user):
    return make_user("clerk", can_bid=False)


@pytest.fixture
def people(make_user):
    """ann bids on the internet; bea leaves an absentee bid; both have an address."""

    def person(name):
        user = make_user(name)
        user.email = f"{name}@example.com"
        user.save(update_fields=["email"])
        return user

    return person("ann"), person("bea")


def notices(user, kind: str) -> list[dict]:
    return [n.payload for n in Notice.objects.filter(user=user).order_by("id") if n.payload.get("type") == kind]


def report_rows(client: Client, sale: Sale) -> tuple[list[list[str]], list[list[str]]]:
    response = client.get(f"/sales/{sale.pk}/report.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    blank = rows.index([])
    return rows[:blank], rows[blank + 1 :]


def test_a_sale_run_through_the_services_finishes_and_its_report_matches_the_bids(make_sale, make_user, clerk, people):
    ann, bea = people
    sale = make_sale(lots=4, starting_price=1_000)
    sale.clerks.add(clerk)
    first, second, third, fourth = lots_of(sale)
    Lot.objects.filter(pk=second.pk).update(title=EVIL)
    register(sale, ann)
    register(sale, bea)
    set_absentee_bid(user=bea, lot_id=second.pk, max_amount=1_500)

    # Lot 1: sold to the internet. The `won` notice waits until the clerk moves on (a reopen could still undo it).
    opened(clerk, sale)
    bid(ann, sale, 1_000)
    act(clerk, sale, "fair_warning")
    act(clerk, sale, "sold")
    assert notices(ann, "won") == []
    act(clerk, sale, "next")
    [won] = notices(ann, "won")
    assert (won["lot"], won["amount"], won["paddle"], won["sale"]) == (first.pk, 1_000, 5_000, sale.pk)

    # Lot 2: the absentee opens at the start price and answers the floor up to its maximum; paddle 12 buys it.
    act(clerk, sale, "offer")
    for _ in range(3):
        act(clerk, sale, "floor_bid", paddle=12)
    second.refresh_from_db()
    assert (second.high_bid_amount, second.live_leader_source) == (1_500, "floor")
    finish_open = refused(act, clerk, sale, "finish")
    assert (finish_open.code, finish_open.details["field"], finish_open.details["lot"]) == (
        "invalid",
        "action",
        second.pk,
    )
    act(clerk, sale, "sold")
    act(clerk, sale, "next")

    # Lot 3: passed, re-offered at the end; bea's bid undone; sold to ann on the internet.
    act(clerk, sale, "offer")
    act(clerk, sale, "pass")
    act(clerk, sale, "jump", lot_id=third.pk)
    act(clerk, sale, "offer")
    bid(ann, sale, 1_000)
    bid(bea, sale, 1_100)
    act(clerk, sale, "undo")
    act(clerk, sale, "sold")
    assert len(notices(ann, "won")) == 1  # still on the block

    reply = act(clerk, sale, "finish")
    assert reply["sale_status"] == "finished"
    summary = {"sold": 3, "passed": 0, "not_offered": 1, "total": 3_500}
    assert reply["summary"] == summary
    sale.refresh_from_db()
    assert sale.status == "finished"
    third.refresh_from_db()
    finished = third.events.get(payload__event="finished").payload
    assert (finished["sale_status"], finished["summary"]) == ("finished", summary)

    # The buyers' notices: ann won lots 1 and 3; the floor buyer has no user; bea (outbid by the room) none.
    assert [(n["lot"], n["amount"]) for n in notices(ann, "won")] == [(first.pk, 1_000), (third.pk, 1_000)]
    assert notices(bea, "won") == []
    for user in (sale.house, ann, bea):
        [told] = notices(user, "sale_finished")
        assert {key: told[key] for key in summary} == summary
        assert told["sale"] == sale.pk
    assert notices(clerk, "sale_finished") == []
    # Mailed as a timed lot's `won` is: one mail per lot won.
    mail.outbox.clear()
    mail_pass()
    assert sorted(m.subject for m in mail.outbox if m.to == [ann.email]) == [
        "You won “Sale lot 1”",
        "You won “Sale lot 3”",
    ]

    # Nothing more is bid or clerked.
    for action in ("reopen", "next", "message", "pause", "finish"):
        refusal = refused(act, clerk, sale, action, text="hello")
        assert (refusal.code, refusal.details.get("reason")) == ("closed", "sale_finished"), action
    refusal = refused(bid, ann, sale, 1_100)
    assert (refusal.code, refusal.details.get("reason")) == ("closed", "sale_finished")
    assert refused(set_absentee_bid, user=ann, lot_id=fourth.pk, max_amount=2_000).code == "closed"
    for lot in lots_of(sale):
        assert_lot_verifies(lot.pk)

    # The report, from the bids: page and CSV alike.
    client = Client()
    client.force_login(sale.house)
    lines, totals = report_rows(client, sale)
    for lot in (first, second, third):
        lot.refresh_from_db()
    ann_alias = "Bidder 1"
    assert lines[0] == [
        "position",
        "title",
        "result",
        "hammer_cents",
        "hammer",
        "buyer",
        "paddle",
        "channel",
        "hammer_at",
    ]
    assert [row[:8] for row in lines[1:]] == [
        ["1", "Sale lot 1", "sold", "1000", format_money(1_000), ann_alias, "5000", "internet"],
        ["2", "'" + EVIL, "sold", "1500", format_money(1_500), "floor", "12", "room"],
        ["3", "Sale lot 3", "sold", "1000", format_money(1_000), ann_alias, "5000", "internet"],
        ["4", "Sale lot 4", "not_offered", "", "", "", "", ""],
    ]
    assert [row[8] for row in lines[1:]] == [iso(first.hammer_at), iso(second.hammer_at), iso(third.hammer_at), ""]
    assert totals[:4] == [["sold", "3"], ["passed", "0"], ["not_offered", "1"], ["total_cents", "3500"]]
    # The absentee bid that lost to the room is in the bids, not the result.
    assert Bid.objects.filter(lot=second, source="absentee").count() == 3
    assert AbsenteeBid.objects.filter(lot=second).exists()

    page = client.get(f"/sales/{sale.pk}/report/").content.decode()
    assert "&quot;http://evil.example&quot;" in page and "not offered" in page
    assert format_money(3_500) in page and "3 sold · 0 passed · 1 not offered" in page


def test_finish_is_refused_while_a_lot_is_open_and_a_passed_lot_reports_passed(make_sale, clerk, people):
    ann, _ = people
    sale = make_sale(lots=3)
    sale.clerks.add(clerk)
    register(sale, ann)
    scheduled = refused(act, clerk, sale, "finish")
    assert (scheduled.code, scheduled.details["reason"]) == ("not_open", "not_running")
    first = opened(clerk, sale)
    assert refused(act, clerk, sale, "finish").details["field"] == "action"
    client = Client()
    client.force_login(clerk)
    lines, _ = report_rows(client, sale)  # read during the sale
    assert [row[2] for row in lines[1:]] == ["open", "not_offered", "not_offered"]
    act(clerk, sale, "fair_warning")
    assert refused(act, clerk, sale, "finish").code == "invalid"
    act(clerk, sale, "pass")
    act(clerk, sale, "pause", message="tea")
    act(clerk, sale, "finish")  # a paused sale may finish
    sale.refresh_from_db()
    assert (sale.status, sale.pause_message) == ("finished", "")
    [told] = notices(ann, "sale_finished")
    assert (told["sold"], told["passed"], told["not_offered"], told["total"]) == (0, 1, 2, 0)
    assert notices(ann, "won") == []

    lines, totals = report_rows(client, sale)
    assert [row[2] for row in lines[1:]] == ["passed", "not_offered", "not_offered"]
    first.refresh_from_db()
    assert lines[1][8] and lines[1][3] == "" and totals[-2] == ["total_cents", "0"]


def test_only_the_house_its_clerks_and_staff_see_the_report(make_sale, make_user, clerk, django_user_model):
    sale = make_sale(lots=1)
    sale.clerks.add(clerk)
    staff = make_user("staffer")
    django_user_model.objects.filter(pk=staff.pk).update(is_staff=True)
    client, nosy = Client(), make_user("nosy")
    for path in (f"/sales/{sale.pk}/report/", f"/sales/{sale.pk}/report.csv"):
        assert client.get(path).status_code == 302  # to the login page
        for user, status in ((nosy, 403), (sale.house, 200), (clerk, 200), (staff, 200)):
            client.force_login(user)
            assert client.get(path).status_code == status, (user, path)
            client.logout()
    assert Client().get("/sales/999999/report/").status_code == 302
    client.force_login(sale.house)
    assert client.get("/sales/999999/report/").status_code == 404


@pytest.mark.parametrize("title", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tTAB"])
def test_a_title_a_spreadsheet_would_run_is_written_behind_a_quote(make_sale, clerk, title):
    sale = make_sale(lots=1)
    Lot.objects.filter(sale=sale).update(title=title)
    client = Client()
    client.force_login(sale.house)
    lines, _ = report_rows(client, sale)
    assert lines[1][1] == "'" + title


async def hear(socket, wanted: set[str]) -> dict[str, dict]:
    """The `live` events and personal notices named in `wanted` (by event or type), in whichever order they come."""
    heard: dict[str, dict] = {}
    while set(heard) != wanted:
        message = await socket.receive_json_from(timeout=10)
        name = message.get("event") if message["type"] == "live" else message["type"]
        if name in wanted:
            heard[name] = message
    return heard


async def test_everyone_on_the_sale_socket_is_told_the_sale_finished_and_bidders_get_the_summary(
    open_path, make_sale, clerk, people
):
    ann, _ = people
    sale = await sync_to_async(make_sale)(lots=1)
    await sync_to_async(sale.clerks.add)(clerk)
    await sync_to_async(register)(sale, ann)
    await sync_to_async(opened)(clerk, sale)
    watcher = await sale_socket(open_path, sale)
    bidder = await sale_socket(open_path, sale, ann)
    console = await sale_socket(open_path, sale, clerk)
    await console.send_json_to({"type": "clerk", "action": "claim"})
    await receive_until(console, "clerk_done", 10)
    await console.send_json_to({"type": "clerk", "action": "finish"})
    refusal = await receive_until(console, "clerk_refused", 10)
    assert (refusal["code"], refusal["field"]) == ("invalid", "action")  # the lot is open
    await bidder.send_json_to({"type": "live_bid", "amount": 1_000, "bid_id": "b1"})
    await receive_until(bidder, "live_bid_accepted", 10)
    for action in ("sold", "finish"):
        await console.send_json_to({"type": "clerk", "action": action})
        done = await receive_until(console, "clerk_done", 10)
    assert done["summary"] == {"sold": 1, "passed": 0, "not_offered": 0, "total": 1_000}
    assert done["sale_status"] == "finished"  # the console heard the event too, before its reply
    for socket, wanted in (
        (watcher, {"finished"}),
        (bidder, {"finished", "won", "sale_finished"}),
    ):
        heard = await hear(socket, wanted)
        assert (heard["finished"]["sale_status"], heard["finished"]["summary"]["total"]) == ("finished", 1_000)
    assert (heard["won"]["amount"], heard["won"]["paddle"]) == (1_000, 5_000)
    assert (heard["sale_finished"]["sold"], heard["sale_finished"]["total"]) == (1, 1_000)
    await bidder.send_json_to({"type": "live_bid", "amount": 1_100, "bid_id": "b2"})
    late = await receive_until(bidder, "bid_rejected", 10)
    assert (late["code"], late["reason"]) == ("closed", "sale_finished")
    await console.send_json_to({"type": "clerk", "action": "reopen"})
    refusal = await receive_until(console, "clerk_refused", 10)
    assert (refusal["code"], refusal["reason"]) == ("closed", "sale_finished")
