"""The per-lot lock: the only place the bid path takes one.

The lock is a throttle in front of PostgreSQL, not the arbiter: place_bid re-reads the lot with
SELECT ... FOR UPDATE inside its transaction, so a lock that expires mid-transaction can delay a rival but never
let a losing bid through. Every wait is bounded, so a busy lot answers `busy` instead of hanging.

Two entries, one lock: `lot_lock` for synchronous callers (HTTP, admin, scripts) and `alot_lock` for sockets.
The socket path waits in the event loop, never in a worker thread: a hot lot must not tie up the thread pool that
every other lot's bids share. Within one process a lot's bids queue in bidding/group_commit.py, and one lock is
taken per group of them.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import cache

import redis
import redis.asyncio as aredis
import structlog
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from redis.exceptions import LockNotOwnedError, RedisError

from accounts.redis_connections import redis_target
from auctions.exceptions import Busy, Unavailable
from bidding.metrics import LOCK_WAIT

log = structlog.get_logger(__name__)

# How often a waiter retries a lock that someone else holds. redis-py's default (100 ms) caps a hot lot at about
# ten bids a second; a lot lock is held for a few milliseconds.
POLL_SECONDS = 0.002


def lock_key(lot_id: int) -> str:
    return f"gavel:lot-lock:{lot_id}"


def lock_token() -> str:
    # redis-py's default token is uuid1(), which goes through libuuid's time-safe generator (a clock file under a
    # file lock) while holding the GIL: a few percent of a hot lot's worker (py-spy, docs/performance.md). The
    # token only has to tell this holder from any other; 128 random bits do.
    return secrets.token_hex(16)


@cache
def redis_client() -> redis.Redis:
    # One pool per process; the short timeouts turn a dead Redis into `unavailable`, not a stuck bid.
    return redis_target(settings.REDIS_URL).sync_client(socket_timeout=2, socket_connect_timeout=2)


def channel_name(name: str) -> str:
    """A pub/sub channel of this deployment. PUBLISH reaches every subscriber on the server whatever database it
    selected, so the name carries the database number from REDIS_URL and REDIS_CHANNEL_PREFIX: two deployments on
    one Redis server never hear each other."""
    return f"gavel:{settings.REDIS_CHANNEL_PREFIX}:{_database_number(settings.REDIS_URL)}:{name}"


@cache
def _database_number(url: str) -> int:
    return redis_target(url).db if url else 0


_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aredis.Redis] = weakref.WeakKeyDictionary()


def async_redis_client() -> aredis.Redis:
    """One asyncio client per event loop (Daphne has one; tests make many).

    redis-py 8 caps a pool at 100 connections and raises past it; a burst of bids on many lots needs more, and a
    request waits for a free connection (bounded) rather than failing.
    """
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        pool = redis_target(settings.REDIS_URL).async_blocking_pool(
            max_connections=settings.REDIS_MAX_CONNECTIONS,
            timeout=settings.BID_LOCK_WAIT_SECONDS,
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=settings.REDIS_ASYNC_RETRY,
        )
        client = _async_clients[loop] = aredis.Redis(connection_pool=pool)
    return client


# --- single-process mode: an in-process lock per lot -----------------------------------------------------------
_local_locks: dict[int, threading.Lock] = {}
_local_locks_guard = threading.Lock()


def _local_lock_for(lot_id: int) -> threading.Lock:
    with _local_locks_guard:
        return _local_locks.setdefault(lot_id, threading.Lock())


@contextmanager
def _acquire_errors(lot_id: int) -> Iterator[None]:
    try:
        yield
    except RedisError as exc:
        log.error("bid_lock_unavailable", lot_id=lot_id, error=repr(exc))
        raise Unavailable() from exc


@contextmanager
def _release_errors(lot_id: int) -> Iterator[None]:
    try:
        yield
    except LockNotOwnedError:
        # The transaction outlived the lock. The row lock kept it correct; say so and carry on.
        log.warning("bid_lock_expired_before_release", lot_id=lot_id)
    except RedisError as exc:
        # The key expires by itself after BID_LOCK_TIMEOUT_SECONDS; the committed bid stands.
        log.error("bid_lock_release_failed", lot_id=lot_id, error=repr(exc))


# --- synchronous callers -----------------------------------------------------------------------------------------
@contextmanager
def lot_lock(lot_id: int, *, wait: float | None = None) -> Iterator[None]:
    """Hold the lot's lock for the block; raises Busy or Unavailable rather than waiting without bound (`wait`
    seconds; default BID_LOCK_WAIT_SECONDS)."""
    started = time.monotonic()
    wait = settings.BID_LOCK_WAIT_SECONDS if wait is None else wait
    if wait <= 0:
        raise Busy()
    if not settings.REDIS_URL:
        lock = _local_lock_for(lot_id)
        if not lock.acquire(timeout=wait):
            raise Busy()
        LOCK_WAIT.observe(time.monotonic() - started)
        try:
            yield
        finally:
            lock.release()
        return
    lock = redis_client().lock(
        lock_key(lot_id), timeout=settings.BID_LOCK_TIMEOUT_SECONDS, sleep=POLL_SECONDS, blocking_timeout=wait
    )
    with _acquire_errors(lot_id):
        acquired = lock.acquire(token=lock_token())
    if not acquired:
        raise Busy()
    LOCK_WAIT.observe(time.monotonic() - started)
    try:
        yield
    finally:
        with _release_errors(lot_id):
            lock.release()


# --- the socket path ---------------------------------------------------------------------------------------------
@asynccontextmanager
async def alot_lock(lot_id: int, *, deadline: float | None = None) -> AsyncIterator[None]:
    """lot_lock for coroutines: same lock, same bounds (or until `deadline`, a time.monotonic() value); waits
    without holding a thread. The socket path takes it once per group of queued bids (bidding/group_commit.py),
    so within a process only one waiter per lot polls Redis."""
    started = time.monotonic()
    if deadline is None:
        deadline = started + settings.BID_LOCK_WAIT_SECONDS
    if settings.REDIS_URL:
        async with _redis_lock(lot_id, deadline):
            LOCK_WAIT.observe(time.monotonic() - started)
            yield
        return
    lock = _local_lock_for(lot_id)  # shared with synchronous callers in this process
    while not lock.acquire(blocking=False):
        if time.monotonic() >= deadline:
            raise Busy()
        await asyncio.sleep(POLL_SECONDS)
    LOCK_WAIT.observe(time.monotonic() - started)
    try:
        yield
    finally:
        lock.release()


@asynccontextmanager
async def _redis_lock(lot_id: int, deadline: float) -> AsyncIterator[None]:
    lock = async_redis_client().lock(
        lock_key(lot_id),
        timeout=settings.BID_LOCK_TIMEOUT_SECONDS,
        sleep=POLL_SECONDS,
        blocking_timeout=max(0.001, deadline - time.monotonic()),
        thread_local=False,
    )
    with _acquire_errors(lot_id):
        acquired = await lock.acquire(token=lock_token())
    if not acquired:
        raise Busy()
    try:
        yield
    finally:
        with _release_errors(lot_id):
            await lock.release()


def lock_store_state() -> str:
    """Whether bids can take their lock now: "ok" (a writable primary answers), "not used" (single-process mode),
    or why not. A replica answers PING but refuses every lock, so this asks ROLE: after a failover the old primary
    comes back as a replica."""
    if not settings.REDIS_URL:
        return "not used"
    try:
        role = redis_client().execute_command("ROLE")
    except RedisError as exc:
        return f"error: {type(exc).__name__}"
    kind = role[0].decode() if isinstance(role[0], bytes) else str(role[0])
    return "ok" if kind == "master" else f"error: {kind}, not the primary"


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
def _forget_clients(*, setting: str, **kwargs) -> None:
    if setting == "REDIS_URL":
        redis_client.cache_clear()
        _async_clients.clear()
