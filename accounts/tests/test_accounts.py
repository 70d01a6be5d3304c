import pytest
from django.contrib.auth import get_user_model

from conftest import login

pytestmark = pytest.mark.django_db


def test_login_page_logs_a_user_in_with_username_and_password(client, make_user):
    make_user("carol", password="s3cret-pass")
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "carol", "password": "s3cret-pass"})
    assert response.status_code == 302
    assert client.get("/").context["user"].username == "carol"


def test_wrong_password_is_refused(client, make_user):
    make_user("carol", password="s3cret-pass")
    response = client.post("/accounts/login/", {"username": "carol", "password": "nope"})
    assert response.status_code == 200 and not response.context["user"].is_authenticated


def test_sign_up_creates_an_unverified_bidder_and_logs_in(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "dave",
            "email": "d@example.com",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(username="dave")
    assert (user.profile.can_bid, user.profile.banned) == (False, False)
    assert client.get("/").context["user"] == user


def test_logout_ends_the_session(make_user):
    client = login(make_user("erin"))
    client.post("/accounts/logout/")
    assert not client.get("/").context["user"].is_authenticated
