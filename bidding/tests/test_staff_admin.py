"""Staff in the Django admin: live state is read-only, nothing is deleted, and what staff may do to a live lot
(cancel, extend, ban a bidder) goes through the services, under the lot's lock, with an event, a broadcast, a
personal notice giving the reason, and a clean verify_lot."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.forms.models import model_to_dict

from accounts.models import Profile
from auctions import payloads, publish
from auctions.exceptions import Forbidden
from auctions.models import Lot, LotEvent, Watch
from bidding.models import Bid
from bidding.services import place_bid
from conftest import assert_lot_verifies, login

pytestmark = pytest.mark.django_db

SECRET_MAX = 987_650  # cents; a number that appears nowhere else on the pages


def _bid(user, lot, amount, maximum=None):
    return place_bid(user=user, lot_id=lot.pk, amount=amount, bid_id=uuid.uuid4().hex, max_amount=maximum)


def _visible(lot_id: int) -> tuple:
    """What bidders can see of a lot, or what decides their bids (the hidden maximum)."""
    lot = Lot.objects.get(pk=lot_id)
    return (
        lot.status,
        lot.high_bid_amount,
        lot.high_bidder_id,
        lot.leader_max_amount,
        lot.bid_count,
        lot.seq,
        lot.ends_at,
        lot.starts_at,
        lot.starting_price,
        lot.reserve_price,
        lot.buy_now_price,
        lot.hard_end_at,
        lot.winner_id,
        lot.closed_at,
        list(Bid.objects.filter(lot_id=lot_id).values_list("seq", "amount")),
    )


def _as_admin_form(lot: Lot) -> dict:
    """Every field of the lot as a browser posts the admin change form (datetimes split into date and time)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    data = {"_save": "Save"}
    for name, value in model_to_dict(lot).items():
        if hasattr(value, "astimezone"):
            local = value.astimezone(zone)
            data[f"{name}_0"], data[f"{name}_1"] = local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")
        else:
            data[name] = "" if value is None else value
    return data


@pytest.fixture
def sent():
    """Lot events published and personal notices sent, as the registered sender receives them (after commit: run
    the code under django_capture_on_commit_callbacks(execute=True))."""
    record = {"events": [], "notices": []}

    class Recorder:
        def send_lot_events(self, lot_id, texts, notices):
            record["events"].extend(json.loads(text) for _, text in texts)
            record["notices"].extend(notices)

        def send_notices(self, notices):
            record["notices"].extend(notices)

    previous = publish.register_sender(Recorder())
    yield record
    publish.register_sender(previous)


def test_a_stale_change_form_posted_after_a_bid_changes_nothing_a_bidder_can_see(
    staff_client, make_lot, seller, make_user
):
    lot = make_lot(
        seller=seller,
        reserve_price=2_000,
        ends_in=timedelta(seconds=60),
        soft_close_window=120,
        soft_close_extension=120,
    )
    alice, bob = make_user("alice"), make_user("bob")
    page = staff_client.get(f"/admin/auctions/lot/{lot.pk}/change/")
    assert page.status_code == 200
    stale = _as_admin_form(Lot.objects.get(pk=lot.pk))  # the form as it stood when the staff user opened it

    _bid(alice, lot, 1_000, SECRET_MAX)  # a secret maximum, and a soft-close extension of the end
    before = _visible(lot.pk)
    staff_client.post(f"/admin/auctions/lot/{lot.pk}/change/", stale)
    assert _visible(lot.pk) == before

    _bid(bob, lot, 5_000)  # alice's maximum still answers: she keeps the lead
    lot.refresh_from_db()
    assert (lot.high_bidder, lot.leader_max_amount) == (alice, SECRET_MAX)
    assert_lot_verifies(lot.pk)


def test_the_admin_shows_no_maximum_and_edits_no_live_state(staff_client, make_lot, seller, bidder):
    lot = make_lot(seller=seller)
    _bid(bidder, lot, 1_000, SECRET_MAX)
    bid = Bid.objects.get(lot=lot)
    for path in (
        f"/admin/auctions/lot/{lot.pk}/change/",
        f"/admin/bidding/bid/{bid.pk}/change/",
        "/admin/auctions/lot/",
        "/admin/bidding/bid/",
    ):
        page = staff_client.get(path)
        assert page.status_code == 200
        assert str(SECRET_MAX) not in page.content.decode(), path
    lot_form = staff_client.get(f"/admin/auctions/lot/{lot.pk}/change/").context["adminform"].form
    assert not set(lot_form.fields)  # nothing on a lot is edited in the admin: staff act through actions
    bid_form = staff_client.get(f"/admin/bidding/bid/{bid.pk}/change/").context["adminform"].form
    assert not set(bid_form.fields)
    before = _visible(lot.pk)
    staff_client.post(
        f"/admin/bidding/bid/{bid.pk}/change/",
        {"amount": 1, "max_amount": "", "kind": "manual", "outbid_at_once": "on", "_save": "Save"},
    )
    assert staff_client.get("/admin/auctions/lot/add/").status_code == 403
    assert staff_client.get("/admin/bidding/bid/add/").status_code == 403
    assert staff_client.get("/admin/auctions/lotevent/add/").status_code == 403
    assert _visible(lot.pk) == before
    assert Bid.objects.get(pk=bid.pk).max_amount == SECRET_MAX


def test_lots_bids_and_events_cannot_be_deleted_from_the_admin(staff_client, make_lot, seller, bidder):
    lot = make_lot(seller=seller)
    _bid(bidder, lot, 1_000)
    bid, event = Bid.objects.get(lot=lot), LotEvent.objects.get(lot=lot)
    for path in (
        f"/admin/auctions/lot/{lot.pk}/delete/",
        f"/admin/bidding/bid/{bid.pk}/delete/",
        f"/admin/auctions/lotevent/{event.pk}/delete/",
    ):
        assert staff_client.post(path, {"post": "yes"}).status_code == 403, path
    for changelist, pk in (("auctions/lot", lot.pk), ("bidding/bid", bid.pk), ("auctions/lotevent", event.pk)):
        staff_client.post(
            f"/admin/{changelist}/", {"action": "delete_selected", "_selected_action": [pk], "post": "yes"}
        )
    assert (Lot.objects.count(), Bid.objects.count(), LotEvent.objects.count()) == (1, 1, 1)


def test_staff_cancel_with_a_reason_tells_bidders_and_watchers_and_verifies(
    staff_action, make_lot, seller, make_user, sent, django_capture_on_commit_callbacks
):
    lot = make_lot(seller=seller)
    alice, bob, wendy = make_user("alice"), make_user("bob"), make_user("wendy")
    Watch.objects.create(user=wendy, lot=lot)
    _bid(alice, lot, 1_000, SECRET_MAX)
    _bid(bob, lot, 1_200)
    with django_capture_on_commit_callbacks(execute=True):
        page = staff_action("cancel_lots", [lot.pk], reason="Counterfeit item")
    assert page.status_code == 200
    lot.refresh_from_db()
    assert (lot.status, lot.leader_max_amount, lot.seq) == ("cancelled", None, 4)
    event = LotEvent.objects.get(lot=lot, seq=4).payload
    assert (event["type"], event["reason"]) == ("cancelled", "Counterfeit item")
    assert sent["events"][-1] == event
    told = {user_id: notice for user_id, notice in sent["notices"] if notice["type"] == "cancelled"}
    assert set(told) == {alice.pk, bob.pk, wendy.pk, seller.pk}
    assert all(notice["reason"] == "Counterfeit item" for notice in told.values())
    assert str(SECRET_MAX) not in str(sent)
    assert_lot_verifies(lot.pk)


def test_staff_cancel_needs_a_reason(staff_action, make_lot, seller):
    lot = make_lot(seller=seller)
    page = staff_action("cancel_lots", [lot.pk], reason="  ")
    assert page.status_code == 200
    assert Lot.objects.get(pk=lot.pk).status == "open"


def test_staff_extend_moves_the_end_broadcasts_it_and_verifies(
    staff_action, make_lot, seller, make_user, sent, django_capture_on_commit_callbacks
):
    lot = make_lot(seller=seller, ends_in=timedelta(seconds=60), soft_close_window=120, soft_close_extension=120)
    alice, bob = make_user("alice"), make_user("bob")
    _bid(alice, lot, 1_000, SECRET_MAX)  # extends the end by soft close
    before = Lot.objects.get(pk=lot.pk).ends_at
    with django_capture_on_commit_callbacks(execute=True):
        staff_action("extend_lots", [lot.pk], minutes="45", reason="Payment provider outage")
    lot.refresh_from_db()
    assert before + timedelta(minutes=45) - timedelta(milliseconds=1) < lot.ends_at <= before + timedelta(minutes=45)
    assert (lot.seq, lot.leader_max_amount, lot.high_bidder) == (2, SECRET_MAX, alice)  # nothing else moved
    event = LotEvent.objects.get(lot=lot, seq=2).payload
    assert event == {
        **event,
        "type": "extended",
        "lot": lot.pk,
        "seq": 2,
        "ends_at": payloads.iso(lot.ends_at),
        "reason": "Payment provider outage",
    }
    assert sent["events"][-1] == event
    told = {user_id: notice for user_id, notice in sent["notices"] if notice["type"] == "extended"}
    assert set(told) == {alice.pk, seller.pk}
    assert told[alice.pk]["reason"] == "Payment provider outage"
    _bid(bob, lot, 2_000)  # bidding goes on, sequence numbers follow the event
    assert_lot_verifies(lot.pk)


def test_staff_extend_refuses_a_lot_that_has_ended(staff_action, make_lot, seller, sent):
    lot = make_lot(seller=seller, status=Lot.Status.CLOSED)
    staff_action("extend_lots", [lot.pk], minutes="10", reason="Too late")
    assert not LotEvent.objects.filter(lot=lot).exists()
    assert Lot.objects.get(pk=lot.pk).seq == 0


def test_staff_ban_a_bidder_of_a_lot_with_a_reason(
    staff_action, make_lot, seller, make_user, sent, django_capture_on_commit_callbacks
):
    lot = make_lot(seller=seller)
    alice, bob = make_user("alice"), make_user("bob")
    _bid(alice, lot, 1_000)
    _bid(bob, lot, 1_200)
    form = staff_action("ban_bidder", [lot.pk])  # the intermediate page lists the lot's bidders
    assert "Bidder 1" in form.content.decode() and "alice" in form.content.decode()
    before = _visible(lot.pk)
    with django_capture_on_commit_callbacks(execute=True):
        staff_action("ban_bidder", [lot.pk], bidder=str(alice.pk), reason="Shill bidding for the seller")
    assert Profile.objects.get(user=alice).banned
    assert not Profile.objects.get(user=bob).banned
    told = [(user_id, notice) for user_id, notice in sent["notices"] if notice["type"] == "banned"]
    assert told == [(alice.pk, {**told[0][1], "lot": lot.pk, "reason": "Shill bidding for the seller"})]
    with pytest.raises(Forbidden) as refused:
        _bid(alice, lot, 5_000)
    assert (refused.value.code, refused.value.details) == ("forbidden", {"reason": "banned"})
    assert _visible(lot.pk) == before
    assert_lot_verifies(lot.pk)


def test_a_user_who_is_not_staff_cannot_run_the_actions(make_lot, seller, bidder):
    lot = make_lot(seller=seller)
    login(bidder).post(
        "/admin/auctions/lot/",
        {"action": "cancel_lots", "_selected_action": [lot.pk], "apply": "1", "reason": "mine now"},
    )
    assert Lot.objects.get(pk=lot.pk).status == "open"


@pytest.mark.django_db(transaction=True)
async def test_watchers_see_a_staff_extension_live_and_again_on_sync(open_socket, make_lot, seller, staff):
    from asgiref.sync import sync_to_async

    from bidding.lot_actions import extend_lot

    lot = await sync_to_async(make_lot)(seller=seller)
    socket = await open_socket(lot.pk)
    extended = await sync_to_async(extend_lot)(user=staff, lot_id=lot.pk, seconds=600, reason="Outage")
    seen = await socket.receive_json_from(timeout=5)
    assert (seen["type"], seen["seq"], seen["ends_at"], seen["reason"]) == (
        "extended",
        1,
        payloads.iso(extended.ends_at),
        "Outage",
    )
    await socket.send_json_to({"type": "sync", "since_seq": 0})
    assert (await socket.receive_json_from(timeout=5)) == seen
    assert (await socket.receive_json_from(timeout=5))["type"] == "synced"
    await sync_to_async(assert_lot_verifies)(lot.pk)
