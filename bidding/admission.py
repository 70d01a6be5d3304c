"""Limits that hold across every worker process: sockets per user and per address, and one message budget per user.

Behind nginx a user's sockets land on whichever workers it picks, so a cap or a budget kept per process would grow
with the number of workers. With Redis each limit is shared: a socket cap is a Redis hash per user (or address)
with a field per process, checked and raised in one Lua call, and counted only for processes stamped alive
recently (the presence heartbeat), so a SIGKILLed worker's sockets stop counting within PRESENCE_STALE_SECONDS;
every process rewrites its own fields now and then, so a Redis restarted empty heals by itself. The message budget
is a sliding-window counter from `limits` (one script call per message). Without Redis (one process), or while
Redis is unreachable, the process's own counts and buckets are the limit: a Redis outage never locks people out.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
import weakref

import structlog
from django.conf import settings
from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.exceptions import RedisError

from bidding.locks import async_redis_client
from bidding.process import ALIVE_KEY, PROCESS_ID
from bidding.rate_limit import SharedBuckets

log = structlog.get_logger(__name__)

SOCKET_KEY_TTL_SECONDS = 86_400

# KEYS: the cap's hash, the alive set. ARGV: this process, the limit, alive-since, now.
# Sums this process's field and the fields of processes seen alive; admits and counts the socket if under the limit.
_ADMIT = f"""
local total = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if fields[i] == ARGV[1] then
    total = total + tonumber(fields[i + 1])
  else
    local seen = redis.call('ZSCORE', KEYS[2], fields[i])
    if seen and tonumber(seen) >= tonumber(ARGV[3]) then
      total = total + tonumber(fields[i + 1])
    end
  end
end
if total >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], {SOCKET_KEY_TTL_SECONDS})
return 1
"""


class SocketCap:
    """Open sockets per key (a user id, an IP address) under a limit that holds across processes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: dict[object, int] = {}  # this process's sockets per key: the truth its Redis fields follow

    def redis_key(self, key: object) -> str:
        return f"gavel:sockets:{self.name}:{key}"

    async def open(self, key: object, limit: int) -> bool:
        if self.counts.get(key, 0) >= limit:
            return False
        if settings.REDIS_URL:
            try:
                client = async_redis_client()
                now = time.time()
                admitted = await client.eval(
                    _ADMIT,
                    2,
                    self.redis_key(key),
                    ALIVE_KEY,
                    PROCESS_ID,
                    limit,
                    now - settings.PRESENCE_STALE_SECONDS,
                    now,
                )
            except (RedisError, OSError) as exc:
                log.warning("socket_cap_not_shared", cap=self.name, error=repr(exc))  # this process's cap holds
                admitted = 1
            if not admitted:
                return False
        self.counts[key] = self.counts.get(key, 0) + 1
        return True

    async def close(self, key: object) -> None:
        remaining = self.counts.get(key, 0) - 1
        if remaining > 0:
            self.counts[key] = remaining
        else:
            self.counts.pop(key, None)
        if settings.REDIS_URL:
            try:
                await async_redis_client().hincrby(self.redis_key(key), PROCESS_ID, -1)
            except (RedisError, OSError) as exc:
                log.warning("socket_cap_release_not_shared", cap=self.name, error=repr(exc))  # the rewrite heals it

    def rewrite(self, pipe) -> None:
        """Queue this process's true counts (zero ones removed) on a presence flush's pipeline."""
        for key, count in self.counts.items():
            pipe.hset(self.redis_key(key), PROCESS_ID, count)
            pipe.expire(self.redis_key(key), SOCKET_KEY_TTL_SECONDS)


sockets_per_user = SocketCap("user")
sockets_per_ip = SocketCap("ip")


def rewrite_socket_counts(pipe) -> None:
    sockets_per_user.rewrite(pipe)
    sockets_per_ip.rewrite(pipe)


# --- the per-user message budget ------------------------------------------------------------------------------------
_local_budgets = SharedBuckets(rate=lambda: settings.WS_USER_RATE_PER_SECOND, burst=lambda: settings.WS_USER_RATE_BURST)
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SlidingWindowCounterRateLimiter] = (
    weakref.WeakKeyDictionary()
)


def _limiter() -> SlidingWindowCounterRateLimiter:
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        storage = RedisStorage(
            "async+redis://",  # the pool below is what it uses
            implementation="redispy",
            key_prefix="gavel:budget",
            connection_pool=async_redis_client().connection_pool,
        )
        limiter = _limiters[loop] = SlidingWindowCounterRateLimiter(storage)
    return limiter


@functools.lru_cache(maxsize=8)
def _budget_item(rate: float, burst: int) -> RateLimitItemPerSecond:
    """`burst` messages per window, the window as long as `rate` takes to earn a full burst back."""
    return RateLimitItemPerSecond(burst, max(1, math.ceil(burst / rate)))


async def user_may_send(user_id: int) -> bool:
    """One message from this user, on any socket in any process, spends from one budget."""
    if settings.REDIS_URL:
        try:
            item = _budget_item(settings.WS_USER_RATE_PER_SECOND, settings.WS_USER_RATE_BURST)
            return await _limiter().hit(item, "user", str(user_id))
        except (RedisError, OSError) as exc:
            log.warning("user_budget_not_shared", error=repr(exc))
    return _local_budgets.allow(user_id)
