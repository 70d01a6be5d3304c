from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager

import pytest
from django.conf import settings

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

