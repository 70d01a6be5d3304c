"""Changing, resetting and checking passwords, and signing out everywhere, over HTTP (Django's test client on the
real database). What each does to open sockets is bidding/tests/test_session_revalidation.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db

PASSWORD = "first-pass-phrase"
NEW_PASSWORD = "second-pass-phrase"


@pytest.fixture
def olivia(make_user):
    user = make_user("olivia", password=PASSWORD)
    get_user_model().objects.filter(pk=user.pk).update(email="olivia@example.com")
    return user


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def who(client: Client):
    return client.get("/").context["user"]


def password_is(user, password: str) -> bool:
    return get_user_model().objects.get(pk=user.pk).check_password(password)


def test_a_password_change_needs_the_old_password_and_keeps_only_the_changers_session(olivia):
    mine, other = signed_in(olivia), signed_in(olivia)
    assert Client().get("/accounts/password/change/").status_code == 302  # to the login page
    wrong = mine.post(
        "/accounts/password/change/",
        {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 200 and "old_password" in wrong.context["form"].errors
    assert password_is(olivia, PASSWORD) and who(other) == olivia
    response = mine.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and password_is(olivia, NEW_PASSWORD)
    assert who(mine) == olivia
    assert not who(other).is_authenticated


def test_a_reset_link_by_email_sets_a_new_password_and_ends_every_session(olivia):
    old_session = signed_in(olivia)
    browser = Client()
    assert browser.get("/accounts/login/").content.decode().count("/accounts/password/reset/") == 1
    assert browser.post("/accounts/password/reset/", {"email": "olivia@example.com"}).status_code == 302
    (message,) = mail.outbox
    assert message.to == ["olivia@example.com"] and "olivia" in message.body
    link = re.search(r"http://testserver(/accounts/password/reset/\S+)", message.body).group(1)
    form_page = browser.get(link, follow=True)
    assert form_page.context["validlink"]
    weak = browser.post(form_page.redirect_chain[-1][0], {"new_password1": "password", "new_password2": "password"})
    assert weak.status_code == 200 and password_is(olivia, PASSWORD)
    done = browser.post(form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and password_is(olivia, NEW_PASSWORD)
    assert not who(old_session).is_authenticated
    assert browser.get(link, follow=True).context["validlink"] is False  # a link works once


def test_a_reset_for_an_unknown_address_answers_alike_and_sends_nothing(olivia):
    response = Client().post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302 and response.url == "/accounts/password/reset/sent/"
    assert mail.outbox == []


def test_sign_out_everywhere_needs_the_password_and_changes_nothing_without_it(olivia):
    mine, other = signed_in(olivia), signed_in(olivia)
    assert Client().get("/accounts/security/").status_code == 302
    assert mine.get("/accounts/security/").status_code == 200
    wrong = mine.post("/accounts/security/", {"password": "not-it", "stay_signed_in_here": "on"})
    assert wrong.status_code == 200 and wrong.context["form"].errors["password"]
    assert who(mine) == olivia and who(other) == olivia


@pytest.mark.parametrize("stay", [True, False])
def test_sign_out_everywhere_ends_every_other_session_and_this_one_unless_kept(olivia, stay):
    mine, other = signed_in(olivia), signed_in(olivia)
    Token.objects.create(user=olivia)  # a script's key to the HTTP API
    form = {"password": PASSWORD, **({"stay_signed_in_here": "on"} if stay else {})}
    response = mine.post("/accounts/security/", form)
    assert response.status_code == 302
    assert not who(other).is_authenticated
    assert who(mine).is_authenticated == stay
    assert password_is(olivia, PASSWORD)
    assert not Token.objects.filter(user=olivia).exists()


@pytest.mark.parametrize(
    "password",
    ["password", "12345678", "qwertyuiop", "olivia-olivia", "short1"],
    ids=["common", "numeric", "common-keyboard", "like-the-username", "short"],
)
def test_sign_up_refuses_weak_passwords(password):
    response = Client().post(
        "/accounts/signup/",
        {"username": "olivia-olivia", "email": "o@example.com", "password1": password, "password2": password},
    )
    assert response.status_code == 200 and response.context["form"].errors["password2"]
    assert not get_user_model().objects.filter(username="olivia-olivia").exists()


def test_the_demo_prints_mail_on_the_console_and_email_url_names_an_smtp_server():
    def backend(module: str, **env: str) -> str:
        code = (
            "import django; django.setup(); from django.conf import settings as s; print(s.EMAIL_BACKEND, s.EMAIL_HOST)"
        )
        environment = {name: value for name, value in os.environ.items() if name != "EMAIL_URL"}
        environment.update(DJANGO_SETTINGS_MODULE=module, **env)
        result = subprocess.run(
            [sys.executable, "-c", code], env=environment, cwd=settings.BASE_DIR, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert backend("config.settings.local").startswith("django.core.mail.backends.console.EmailBackend ")
    smtp = backend("config.settings.local", EMAIL_URL="smtp+tls://gavel:secret@mail.example.com:587")
    assert smtp == "django.core.mail.backends.smtp.EmailBackend mail.example.com"
    assert backend("config.settings.test").startswith("django.core.mail.backends.dummy.EmailBackend ")  # sends nothing
