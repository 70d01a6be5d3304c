"""Selling is granted by staff, never by signing up: the admin's "Verify as sellers" and "Revoke selling" actions,
shaped like bidder verification."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.models import Profile

pytestmark = pytest.mark.django_db


def test_sign_up_grants_no_selling(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "dave", "email": "d@example.com", "password1": "a-long-pass", "password2": "a-long-pass"},
    )
    assert response.status_code == 302
    assert get_user_model().objects.get(username="dave").profile.can_sell is False


def test_staff_verify_and_revoke_sellers_with_admin_actions(client, make_user):
    staff = make_user("staff")
    get_user_model().objects.filter(pk=staff.pk).update(is_staff=True, is_superuser=True)
    fresh = make_user("fresh", can_sell=False)
    make_user("other", can_sell=False)
    client.force_login(staff)
    changelist = reverse("admin:auth_user_changelist")

    page = client.get(changelist)
    assert b"Verify as sellers" in page.content and b"Revoke selling" in page.content
    client.post(changelist, {"action": "verify_sellers", "_selected_action": [fresh.pk]})
    assert dict(Profile.objects.values_list("user__username", "can_sell")) == {
        "staff": True,
        "fresh": True,
        "other": False,
    }
    client.post(changelist, {"action": "revoke_sellers", "_selected_action": [fresh.pk]})
    assert Profile.objects.get(user=fresh).can_sell is False
