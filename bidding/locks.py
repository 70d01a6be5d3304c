"""The per-lot lock: the only place the bid path takes one.

The lock is a throttle in front of PostgreSQL, not the arbiter: place_bid re-reads the lot with
SELECT ... FOR UPDATE inside its transaction, so a lock that expires mid-transaction can delay a rival but never
let a losing bid through. Both backends bound the wait, so a busy lot answers `busy` instead of hanging.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import redis
import structlog
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.exceptions import LockNotOwnedError, RedisError

from bidding.exceptions import Busy, Unavailable

log = structlog.get_logger(__name__)


@cache
def redis_client() -> redis.Redis:
    # One pool per process; the short timeouts turn a dead Redis into `unavailable`, not a stuck bid.
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


_local_locks: dict[int, threading.Lock] = {}
_local_locks_guard = threading.Lock()


def _local_lock_for(lot_id: int) -> threading.Lock:
    with _local_locks_guard:
        return _local_locks.setdefault(lot_id, threading.Lock())


@contextmanager
def _local_lot_lock(lot_id: int) -> Iterator[None]:
    lock = _local_lock_for(lot_id)
    if not lock.acquire(timeout=settings.BID_LOCK_WAIT_SECONDS):
        raise Busy()
    try:
        yield
    finally:
        lock.release()


def lock_key(lot_id: int) -> str:
    return f"gavel:lot-lock:{lot_id}"


@contextmanager
def _redis_lot_lock(lot_id: int) -> Iterator[None]:
    lock = redis_client().lock(
        lock_key(lot_id),
        timeout=settings.BID_LOCK_TIMEOUT_SECONDS,
        blocking_timeout=settings.BID_LOCK_WAIT_SECONDS,
    )
    try:
        acquired = lock.acquire()
    except RedisError as exc:
        log.error("bid_lock_unavailable", lot_id=lot_id, error=repr(exc))
        raise Unavailable() from exc
    if not acquired:
        raise Busy()
    try:
        yield
    finally:
        try:
            lock.release()
        except LockNotOwnedError:
            # The transaction outlived the lock. The row lock kept it correct; say so and carry on.
            log.warning("bid_lock_expired_before_release", lot_id=lot_id)
        except RedisError as exc:
            # The key expires by itself after BID_LOCK_TIMEOUT_SECONDS; the committed bid stands.
            log.error("bid_lock_release_failed", lot_id=lot_id, error=repr(exc))


@contextmanager
def lot_lock(lot_id: int) -> Iterator[None]:
    """Hold the lot's lock for the duration of the block; raises Busy or Unavailable instead of waiting forever."""
    backend = _redis_lot_lock if settings.REDIS_URL else _local_lot_lock
    with backend(lot_id):
        yield


def log_mode() -> None:
    if settings.REDIS_URL:
        log.info("bid_path_mode", mode="redis", channel_layer=settings.CHANNEL_LAYERS["default"]["BACKEND"])
    else:
        log.warning(
            "bid_path_mode",
            mode="single-process",
            detail="REDIS_URL is unset: in-memory channel layer and in-process lock; run exactly one process",
        )


@receiver(setting_changed)
def _forget_client(*, setting: str, **kwargs) -> None:
    if setting == "REDIS_URL":
        redis_client.cache_clear()
