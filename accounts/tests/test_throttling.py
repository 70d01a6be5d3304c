"""Password guessing, sign-ups and reset mails are limited per client address (django-axes; accounts/throttle.py),
and a rival cannot use the login lockout to keep the leading bidder out."""

from __future__ import annotations

import http.cookiejar
import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.db.models import F
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "first-pass-phrase"
RIVAL, BIDDER, ELSEWHERE = "203.0.113.7", "198.51.100.20", "192.0.2.44"


@pytest.fixture
def alice(make_user):
    return make_user("alice", password=PASSWORD)


def log_in(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


def signed_in(client: Client) -> bool:
    return client.get("/").context["user"].is_authenticated


def test_wrong_passwords_lock_that_username_out_of_that_address_only(alice, make_user):
    make_user("rex", password=PASSWORD)
    rival = Client(REMOTE_ADDR=RIVAL)
    answers = [log_in(rival, "alice", f"guess-{n}").status_code for n in range(settings.AXES_FAILURE_LIMIT)]
    assert answers[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1) and answers[-1] == 429
    locked = log_in(rival, "alice", PASSWORD)  # even the right password, from there
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    assert not signed_in(rival)
    # The leading bidder logs in from their own address, and the rival's address is not barred for everyone.
    bidder = Client(REMOTE_ADDR=BIDDER)
    assert log_in(bidder, "alice", PASSWORD).status_code == 302 and signed_in(bidder)
    assert log_in(Client(REMOTE_ADDR=RIVAL), "rex", PASSWORD).status_code == 302


def test_a_lockout_ends_after_the_cool_off(alice):
    rival = Client(REMOTE_ADDR=RIVAL)
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(rival, "alice", f"guess-{n}")
    assert log_in(rival, "alice", PASSWORD).status_code == 429
    # Let the cool-off pass: the failures are stored with their time.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert log_in(rival, "alice", PASSWORD).status_code == 302 and signed_in(rival)


def test_a_successful_login_forgets_the_failures_before_it(alice):
    client = Client(REMOTE_ADDR=BIDDER)
    for _ in range(2):
        for n in range(settings.AXES_FAILURE_LIMIT - 1):
            assert log_in(client, "alice", f"typo-{n}").status_code == 200
        assert log_in(client, "alice", PASSWORD).status_code == 302
        client.post("/accounts/logout/")


def test_sign_out_everywhere_counts_wrong_passwords_towards_the_lockout(alice):
    thief = Client(REMOTE_ADDR=RIVAL)
    thief.force_login(alice)
    for n in range(settings.AXES_FAILURE_LIMIT):
        thief.post("/accounts/security/", {"password": f"guess-{n}"})
    assert thief.post("/accounts/security/", {"password": PASSWORD}).status_code == 429
    assert get_user_model().objects.get(pk=alice.pk).check_password(PASSWORD)


def _sign_up(client: Client, n: int):
    username = f"newcomer{n}"
    password = "a-long-pass-phrase"
    return client.post(
        "/accounts/signup/",
        {"username": username, "email": f"{username}@example.com", "password1": password, "password2": password},
    )


def test_sign_ups_are_limited_per_address():
    limit = int(settings.SIGNUP_RATE.split("/")[0])
    for n in range(limit):
        assert _sign_up(Client(REMOTE_ADDR=RIVAL), n).status_code == 302
    refused = _sign_up(Client(REMOTE_ADDR=RIVAL), limit)
    assert refused.status_code == 429 and "Too many accounts" in refused.content.decode()
    assert not get_user_model().objects.filter(username=f"newcomer{limit}").exists()
    assert _sign_up(Client(REMOTE_ADDR=ELSEWHERE), limit).status_code == 302


def test_reset_mails_are_limited_per_address(alice):
    get_user_model().objects.filter(pk=alice.pk).update(email="alice@example.com")
    limit = int(settings.PASSWORD_RESET_RATE.split("/")[0])
    for _ in range(limit):
        assert (
            Client(REMOTE_ADDR=RIVAL).post("/accounts/password/reset/", {"email": "alice@example.com"}).status_code
            == 302
        )
    refused = Client(REMOTE_ADDR=RIVAL).post("/accounts/password/reset/", {"email": "alice@example.com"})
    assert refused.status_code == 429 and len(mail.outbox) == limit


def _login_over_http(base: str, username: str, password: str, forwarded_for: str) -> int:
    """Log in on a real server as a browser would (CSRF cookie and token), claiming an address in X-Forwarded-For."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/accounts/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    request = urllib.request.Request(
        f"{base}/accounts/login/",
        data=urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token}
        ).encode(),
        headers={"Referer": f"{base}/accounts/login/", "X-Forwarded-For": forwarded_for},
    )
    opener.add_handler(_NoRedirect())
    try:
        return opener.open(request, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.django_db(transaction=True)
def test_a_forwarded_for_header_the_client_writes_does_not_dodge_the_lockout(start_daphne, alice):
    server = start_daphne()
    answers = [
        _login_over_http(server.http, "alice", "guess", forwarded_for=f"10.0.0.{n}")
        for n in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert answers[-1] == 429
    assert _login_over_http(server.http, "alice", PASSWORD, forwarded_for="10.9.9.9") == 429


def test_failures_and_lockouts_are_logged_as_json_lines_without_what_was_typed(alice, caplog):
    caplog.set_level(logging.INFO)
    rival = Client(REMOTE_ADDR=RIVAL)
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(rival, "alice", f"secret-guess-{n}")
    messages = [record.getMessage() for record in caplog.records]
    events = [json.loads(message) for message in messages if message.startswith("{")]
    failures = [event for event in events if event["event"] == "login_failed"]
    assert len(failures) == settings.AXES_FAILURE_LIMIT and {event["address"] for event in failures} == {RIVAL}
    assert [event["address"] for event in events if event["event"] == "login_locked_out"] == [RIVAL]
    assert not [record for record in caplog.records if record.name.startswith("axes")], "axes' plain-text lines"
    assert "secret-guess" not in "\n".join(messages)
