from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.test import Client

from bidding import locks
from conftest import login


@pytest.fixture
def hold_lot_lock():
    """Hold a lot's lock as another process (Redis) or another thread (single-process) would."""

    @contextmanager
    def hold(lot_id: int):
        if settings.REDIS_URL:
            key = locks.lock_key(lot_id)
            locks.redis_client().set(key, "someone-else", px=30_000)
            try:
                yield
            finally:
                locks.redis_client().delete(key)
        else:
            acquired = threading.Event()
            release = threading.Event()

            def holder():
                with locks.lot_lock(lot_id):
                    acquired.set()
                    release.wait(30)

            thread = threading.Thread(target=holder)
            thread.start()
            assert acquired.wait(5), "the lot's lock was not free"
            try:
                yield
            finally:
                release.set()
                thread.join()

    return hold


@pytest.fixture
def new_bid_id():
    return lambda: uuid.uuid4().hex


# Staff in the Django admin: a logged-in staff client and its lot actions, posted as the changelist posts them.
@pytest.fixture
def staff(make_user):
    user = make_user("staff", can_bid=False)
    user.is_staff = user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    return user


@pytest.fixture
def staff_client(staff) -> Client:
    return login(staff)


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
