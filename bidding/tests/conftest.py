from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.test import Client

from bidding import locks


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
            lock = locks._local_lock_for(lot_id)
            acquired = threading.Event()
            release = threading.Event()

            def holder():
                with lock:
                    acquired.set()
                    release.wait(30)

            thread = threading.Thread(target=holder)
            thread.start()
            acquired.wait(5)
            try:
                yield
            finally:
                release.set()
                thread.join()

    return hold


@pytest.fixture
def new_bid_id():
    return lambda: uuid.uuid4().hex


class HeldRow:
    """A lot's row held FOR UPDATE by a connection of the test's own, as a slow decision elsewhere would."""

    def __init__(self, lot_id: int) -> None:
        import psycopg

        from auctions.models import Lot
        from conftest import database_url

        self._url = database_url()
        self.connection = psycopg.connect(self._url)
        self.connection.execute(f"SELECT 1 FROM {Lot._meta.db_table} WHERE id = %s FOR UPDATE", (lot_id,))

    def waiters(self) -> int:
        """Backends of the test database waiting for a lock (the row, here)."""
        import psycopg

        with psycopg.connect(self._url, autocommit=True) as watcher:
            return watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()[0]

    def wait_for_waiters(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.waiters() < count:
            assert time.monotonic() < deadline, f"fewer than {count} decisions queued behind the row lock"
            time.sleep(0.02)

    def release(self) -> None:
        if not self.connection.closed:
            self.connection.commit()
            self.connection.close()


@pytest.fixture
def hold_lot_row():
    """`held = hold_lot_row(lot_id)`: decisions on the lot queue behind its row until `held.release()` (or the
    test's end); `held.wait_for_waiters(n)` returns once n of them wait; `held.connection` may change things
    meanwhile, in the holding transaction."""
    held_rows: list[HeldRow] = []

    def hold(lot_id: int) -> HeldRow:
        held_rows.append(HeldRow(lot_id))
        return held_rows[-1]

    yield hold
    for held in held_rows:
        held.release()


# Staff in the Django admin: a logged-in staff client and its lot actions, posted as the changelist posts them.
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
