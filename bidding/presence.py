"""Who is watching each lot right now, counted across every worker process.

Each process knows its own lot sockets (the fan-out hub holds them). Once a second it writes the counts that
changed into one Redis hash per lot, a field per process, and stamps itself alive in a sorted set; every ten
seconds it rewrites all of them, so a Redis restarted empty heals by itself. A reader sums the fields of the
processes seen alive recently, so a worker that died (SIGKILL, no goodbye) drops out of the count within
PRESENCE_STALE_SECONDS. The same heartbeat and rewrite serve the cross-process socket caps (bidding.admission).
Without Redis (one process) the hub's own counts are the answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

import structlog
from django.conf import settings
from redis.exceptions import RedisError

from bidding.admission import rewrite_socket_counts
from bidding.locks import async_redis_client
from bidding.process import ALIVE_KEY, PROCESS_ID

log = structlog.get_logger(__name__)

FULL_REWRITE_EVERY = 10  # flushes


class Hub(Protocol):
    """What presence reads of a fan-out hub (bidding.fanout.LotHub): its loop and its lot sockets per lot."""

    loop: asyncio.AbstractEventLoop
    watchers: dict[int, int]


# This process's hubs, one per live event loop; the fan-out registers the function that lists them.
_local_hubs: Callable[[], list[Hub]] = list


def count_hubs_from(local_hubs: Callable[[], list[Hub]]) -> None:
    global _local_hubs
    _local_hubs = local_hubs


def lot_key(lot_id: int) -> str:
    return f"gavel:presence:lot:{lot_id}"


class PresencePublisher:
    """One per hub (per event loop): publishes this process's watcher counts."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.changed: set[int] = set()
        self._flushes = 0
        self._task = hub.loop.create_task(self._run()) if settings.REDIS_URL else None

    def mark(self, lot_id: int) -> None:
        self.changed.add(lot_id)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(settings.PRESENCE_INTERVAL_SECONDS)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("presence_flush_failed", error=repr(exc))  # counts catch up at the next full rewrite

    async def flush(self) -> None:
        self._flushes += 1
        full = self._flushes % FULL_REWRITE_EVERY == 1
        lot_ids = (set(self.hub.watchers) if full else set()) | self.changed
        self.changed = set()
        pipe = async_redis_client().pipeline(transaction=False)
        pipe.zadd(ALIVE_KEY, {PROCESS_ID: time.time()})
        if full:
            rewrite_socket_counts(pipe)  # the socket caps' fields heal on the same schedule
        for lot_id in lot_ids:
            count = self.hub.watchers.get(lot_id, 0)
            if count:
                pipe.hset(lot_key(lot_id), PROCESS_ID, count)
                pipe.expire(lot_key(lot_id), 86_400)
            else:
                pipe.hdel(lot_key(lot_id), PROCESS_ID)
        await pipe.execute()


async def watcher_counts(lot_ids: list[int]) -> dict[int, int]:
    """Sockets watching each lot now, in every process (a second or so behind)."""
    if not lot_ids:
        return {}
    if not settings.REDIS_URL:
        return {lot_id: sum(hub.watchers.get(lot_id, 0) for hub in _local_hubs()) for lot_id in lot_ids}
    pipe = async_redis_client().pipeline(transaction=False)
    pipe.zrangebyscore(ALIVE_KEY, time.time() - settings.PRESENCE_STALE_SECONDS, "+inf")
    for lot_id in lot_ids:
        pipe.hgetall(lot_key(lot_id))
    alive, *per_lot = await pipe.execute()
    alive = set(alive)
    return {
        lot_id: sum(int(count) for process, count in fields.items() if process in alive)
        for lot_id, fields in zip(lot_ids, per_lot, strict=False)
    }
