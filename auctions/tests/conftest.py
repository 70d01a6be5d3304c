"""Staff in the Django admin: a logged-in staff client and its lot actions, posted as the changelist posts them."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def staff(make_user):
    user = make_user("staff", can_bid=False)
    user.is_staff = user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    return user


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def staff_action(staff_client):
    """Run a lot action from the admin changelist, its intermediate form filled in with `fields` and applied."""

    def run(action: str, lot_ids: list[int], **fields):
        return staff_client.post(
            "/admin/auctions/lot/",
            {
                "action": action,
                "_selected_action": [str(pk) for pk in lot_ids],
                "apply": "1",
                **fields,
            },
            follow=True,
        )

    return run
