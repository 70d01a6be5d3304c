"""Which notices go by email: a settings page behind the account's security page, and the mail's unsubscribe link
(which needs no login)."""

from __future__ import annotations

import pytest

from accounts import notice_mail_prefs
from conftest import login

pytestmark = pytest.mark.django_db


def test_the_security_page_leads_to_the_notice_mail_settings_where_kinds_are_turned_off(make_user):
    alice = make_user("alice")
    alice.email = "alice@example.com"
    alice.save(update_fields=["email"])
    browser = login(alice)
    assert 'href="/accounts/notice-mail/"' in browser.get("/accounts/security/").content.decode()
    page = browser.get("/accounts/notice-mail/").content.decode()
    assert "alice@example.com" in page and "Closing soon" in page
    response = browser.post("/accounts/notice-mail/", {"email_won": "on", "email_withdrawn": "on"}, follow=True)
    assert "Your notice mail settings are saved." in response.content.decode()
    alice.profile.refresh_from_db()
    assert [notice_mail_prefs.wants(alice.profile, kind) for kind in notice_mail_prefs.KINDS] == [
        False,  # outbid
        True,  # won
        False,  # closing soon
        True,  # withdrawn
    ]


def test_the_settings_page_needs_a_login_and_says_when_there_is_no_address(client, make_user):
    assert client.get("/accounts/notice-mail/").status_code == 302
    page = login(make_user("noaddress")).get("/accounts/notice-mail/").content.decode()
    assert "no email address" in page


def test_stop_every_notice_mail_from_the_link(client, make_user):
    alice = make_user("alice")
    link = f"/accounts/unsubscribe/{notice_mail_prefs.unsubscribe_token(alice.pk, 'won')}/"
    response = client.post(link, {"what": "all"})
    assert "You will get no more notice mails from us." in response.content.decode()
    alice.profile.refresh_from_db()
    assert not any(notice_mail_prefs.wants(alice.profile, kind) for kind in notice_mail_prefs.KINDS)


def test_a_token_signed_for_something_else_is_refused(client, make_user):
    from django.core import signing

    alice = make_user("alice")
    forged = signing.dumps({"u": alice.pk, "k": "won"})  # signed with the key, but not for unsubscribing
    assert client.post(f"/accounts/unsubscribe/{forged}/").status_code == 400
    alice.profile.refresh_from_db()
    assert notice_mail_prefs.wants(alice.profile, "won")
