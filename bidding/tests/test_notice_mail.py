"""Notices by email (auctions/notice_mail.py): outbid, won, closing soon on a watched lot and withdrawn reach people
who are not on the page, at most one mail per lot and kind every few minutes, each with a working unsubscribe link."""

from __future__ import annotations

import re
import socket
import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from auctions.models import Lot, Notice, Watch
from auctions.money import format_money
from auctions.notice_mail import mail_pass
from bidding.closing import close_due_lots, send_closing_soon
from bidding.lot_actions import cancel_lot
from bidding.services import place_bid
from conftest import free_port, long_ended


@pytest.fixture
def people(make_user):
    """alice and bob bid, wendy watches; each has an address."""

    def person(name: str):
        user = make_user(name)
        user.email = f"{name}@example.com"
        user.save(update_fields=["email"])
        return user

    return {name: person(name) for name in ("alice", "bob", "wendy")}


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://gavel.example"


def _bids(lot, *rounds):
    """(user, amount) rounds, each a separate bid."""
    for user, amount in rounds:
        outcome = place_bid(user=user, lot_id=lot.pk, amount=amount, bid_id=f"{user.pk}-{amount}")
        assert outcome.leading, outcome  # refusals raise


def _mails_to(user) -> list:
    return [message for message in mail.outbox if message.to == [user.email]]


def _unsubscribe_path(message) -> str:
    return re.search(r"https://gavel\.example(/accounts/unsubscribe/\S+/)", message.body).group(1)


@pytest.mark.django_db
def test_a_bidder_outbid_while_away_gets_one_mail_with_the_lot_link_and_the_new_price(make_lot, people):
    alice, bob = people["alice"], people["bob"]
    lot = make_lot(title="Brass telescope")
    _bids(lot, (alice, 1_000), (bob, 1_500))
    assert mail_pass() == 1
    assert mail_pass() == 0  # told once
    [message] = mail.outbox
    assert message.to == [alice.email]
    assert message.subject == f"Outbid on “Brass telescope”: now {format_money(1_500)}"
    assert f"The high bid is now {format_money(1_500)}" in message.body
    assert f"https://gavel.example/lots/{lot.pk}/" in message.body
    assert message.extra_headers["List-Unsubscribe"] == f"<https://gavel.example{_unsubscribe_path(message)}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.django_db
def test_three_quick_outbids_make_one_mail_with_the_latest_price(make_lot, people):
    alice, bob = people["alice"], people["bob"]
    lot = make_lot(title="Clock")
    _bids(lot, (alice, 1_000), (bob, 1_500), (alice, 2_000), (bob, 2_500), (alice, 3_000), (bob, 3_500))
    assert mail_pass() == 1
    [message] = mail.outbox
    assert message.to == [alice.email]
    assert format_money(3_500) in message.subject
    assert "3 times" in message.body
    assert format_money(2_500) not in message.body


@pytest.mark.django_db
def test_outbids_within_the_quiet_period_wait_and_then_go_as_one_mail(make_lot, people, settings):
    alice, bob = people["alice"], people["bob"]
    lot = make_lot(title="Clock")
    _bids(lot, (alice, 1_000), (bob, 1_500))
    assert mail_pass() == 1
    _bids(lot, (alice, 2_000), (bob, 2_500), (alice, 3_000), (bob, 3_500))
    assert mail_pass() == 0  # a mail about this lot went a moment ago
    later = timezone.now() + timedelta(seconds=settings.NOTICE_MAIL_QUIET_SECONDS + 1)
    assert mail_pass(now=later) == 1
    assert [format_money(3_500) in message.subject for message in _mails_to(alice)] == [False, True]


@pytest.mark.django_db
def test_an_outbid_bidder_who_leads_again_gets_no_stale_mail(make_lot, people, settings):
    alice, bob = people["alice"], people["bob"]
    lot = make_lot()
    _bids(lot, (alice, 1_000), (bob, 1_500))
    assert mail_pass() == 1
    _bids(lot, (alice, 2_000), (bob, 2_500), (alice, 3_000))  # outbid again, then leading again
    later = timezone.now() + timedelta(seconds=settings.NOTICE_MAIL_QUIET_SECONDS + 1)
    mail_pass(now=later)
    assert len(_mails_to(alice)) == 1


@pytest.mark.django_db
def test_unsubscribing_from_outbid_mails_by_the_link_needs_no_login_and_keeps_won_mails(make_lot, people, settings):
    alice, bob = people["alice"], people["bob"]
    lot = make_lot(title="Lamp")
    _bids(lot, (alice, 1_000), (bob, 1_500))
    assert mail_pass() == 1
    link = _unsubscribe_path(mail.outbox[0])
    anonymous = Client()
    page = anonymous.get(link)  # opening the link changes nothing (mail scanners open every link)
    assert page.status_code == 200 and "Stop the “Outbid” mails?" in page.content.decode()
    done = anonymous.post(link)
    assert "You will get no more “Outbid” mails." in done.content.decode()
    assert anonymous.get(link[:-5] + "xxxx/").status_code == 400  # a link not signed here

    _bids(lot, (alice, 2_000), (bob, 2_500), (alice, 3_000))
    later = timezone.now() + timedelta(seconds=settings.NOTICE_MAIL_QUIET_SECONDS + 1)
    mail_pass(now=later)
    assert len(_mails_to(alice)) == 1  # outbid again, and no mail about it
    Lot.objects.filter(pk=lot.pk).update(**long_ended())
    assert close_due_lots() == [lot.pk]
    mail_pass()
    [won] = _mails_to(alice)[1:]
    assert won.subject == "You won “Lamp”"
    assert f"for {format_money(3_000)}" in won.body


@pytest.mark.django_db
def test_the_one_click_unsubscribe_a_mail_client_sends_needs_no_login(make_lot, people):
    alice, bob = people["alice"], people["bob"]
    lot = make_lot()
    _bids(lot, (alice, 1_000), (bob, 1_500))
    mail_pass()
    header = mail.outbox[0].extra_headers["List-Unsubscribe"].strip("<>").removeprefix("https://gavel.example")
    # RFC 8058: the client POSTs `List-Unsubscribe=One-Click` to the header's address, with no cookie and no token.
    assert Client(enforce_csrf_checks=True).post(header, {"List-Unsubscribe": "One-Click"}).status_code == 200
    alice.profile.refresh_from_db()
    assert (alice.profile.email_outbid, alice.profile.email_won) == (False, True)


@pytest.mark.django_db
def test_a_watched_lot_closing_soon_is_mailed_to_its_watchers(make_lot, people):
    alice, wendy = people["alice"], people["wendy"]
    lot = make_lot(title="Vase", ends_in=timedelta(seconds=30), soft_close_window=5, soft_close_extension=5)
    Watch.objects.create(user=wendy, lot=lot)
    _bids(lot, (alice, 1_000))  # a bidder who does not watch hears it on the site only
    assert send_closing_soon() == [lot.pk]
    assert mail_pass() == 1
    [message] = mail.outbox
    assert message.to == [wendy.email]
    assert message.subject == "“Vase” ends in a minute"
    assert f"the high bid is {format_money(1_000)}" in message.body
    assert f"https://gavel.example/lots/{lot.pk}/" in message.body


@pytest.mark.django_db
def test_a_withdrawn_lot_is_mailed_to_its_bidders_and_watchers(make_lot, make_user, people):
    alice, wendy = people["alice"], people["wendy"]
    lot = make_lot(title="Chair")
    Watch.objects.create(user=wendy, lot=lot)
    _bids(lot, (alice, 1_000))
    staff = make_user("staff")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    cancel_lot(user=staff, lot_id=lot.pk, reason="The seller found a crack.")
    assert mail_pass() == 2
    assert sorted(message.to[0] for message in mail.outbox) == [alice.email, wendy.email]
    for message in mail.outbox:
        assert message.subject == "“Chair” was withdrawn"
        assert "The seller found a crack." in message.body


@pytest.mark.django_db
def test_a_live_win_that_staff_reopened_is_mailed_as_no_longer_standing(make_lot, people):
    """The buyer heard `won` when the block moved on; staff then reopened the lot (bidding/services/live/clerk.py):
    one mail, telling the newest."""
    alice = people["alice"]
    lot = make_lot(title="Clock")
    won = {"type": "won", "lot": lot.pk, "title": "Clock", "amount": 5_000}
    withdrawn = {"type": "win_withdrawn", "lot": lot.pk, "title": "Clock", "reason": "sold by mistake"}
    Notice.objects.create(user=alice, payload=won)
    Notice.objects.create(user=alice, payload=withdrawn)
    assert mail_pass() == 1
    [message] = _mails_to(alice)
    assert message.subject == "“Clock” was reopened: your win no longer stands"
    assert "(sold by mistake)" in message.body


@pytest.mark.django_db
def test_users_without_an_address_get_none(make_lot, make_user):
    silent, quiet = make_user("silent"), make_user("quiet")  # no address
    lot = make_lot()
    _bids(lot, (silent, 1_000), (quiet, 1_500), (silent, 2_000), (quiet, 2_500))
    assert mail_pass() == 0
    assert not mail.outbox
    assert not Notice.objects.filter(mail_state=Notice.Mail.PENDING).exists()


@pytest.mark.django_db
def test_a_failing_mail_server_is_logged_and_its_mails_sent_later_never_lost(make_lot, people, settings, caplog):
    alice, bob = people["alice"], people["bob"]
    lot = make_lot(title="Clock")
    _bids(lot, (alice, 1_000), (bob, 1_500))
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens there
    assert mail_pass() == 0
    assert "notice_mail_failed" in caplog.text
    assert Notice.objects.filter(user=alice, mail_state=Notice.Mail.PENDING).exists()
    _bids(lot, (alice, 2_000), (bob, 2_500))  # bids go on while the mail server is away

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the server is back
    assert mail_pass() == 1  # the new outbid is due at once, and carries the older one
    [message] = mail.outbox
    assert format_money(2_500) in message.subject and "2 times" in message.body
    assert not Notice.objects.filter(user=alice, mail_state=Notice.Mail.PENDING).exists()


@pytest.mark.django_db
def test_a_failed_mail_is_retried_after_a_while(make_lot, people, settings):
    alice, bob = people["alice"], people["bob"]
    lot = make_lot()
    _bids(lot, (alice, 1_000), (bob, 1_500))
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    assert mail_pass() == 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert mail_pass() == 0  # not before its retry time
    later = timezone.now() + timedelta(seconds=settings.NOTICE_MAIL_RETRY_SECONDS + 1)
    assert mail_pass(now=later) == 1
    assert _mails_to(alice)


@pytest.fixture
def silent_smtp_server():
    """A mail server that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_that_hangs_never_holds_up_bids(make_lot, people, settings, silent_smtp_server):
    alice, bob = people["alice"], people["bob"]
    lot = make_lot()
    _bids(lot, (alice, 1_000), (bob, 1_500))
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", silent_smtp_server, 3
    passes: list[int] = []

    def run_pass() -> None:
        try:
            passes.append(mail_pass())
        finally:
            connection.close()

    sender = threading.Thread(target=run_pass)
    sender.start()
    time.sleep(0.5)  # the pass now holds alice's notice and waits on the server
    assert sender.is_alive()
    started = time.monotonic()
    assert place_bid(user=alice, lot_id=lot.pk, amount=2_000, bid_id="during").leading
    assert place_bid(user=bob, lot_id=lot.pk, amount=2_500, bid_id="during-b").leading  # alice outbid again
    assert time.monotonic() - started < 1.0
    sender.join(timeout=10)
    assert passes == [0]
    assert Notice.objects.filter(user=alice, mail_state=Notice.Mail.PENDING).count() == 2
