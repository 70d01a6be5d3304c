"""Limits per client address on what creates things or sends email: sign-ups and password-reset requests.

Password guesses are django-axes' concern (config/settings/base.py, AXES_*). These counters are sliding windows
from `limits`, kept in Redis when there is one so every worker shares them, and in this process otherwise. While
Redis is unreachable each process keeps its own count: an outage loosens the limit, it never locks people out.
"""

from __future__ import annotations

import functools

import structlog
from django.conf import settings
from limits import parse
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from redis.exceptions import RedisError

from accounts.redis_connections import redis_target

log = structlog.get_logger(__name__)


def client_address(request) -> str | None:
    """The address every per-client limit here and django-axes (AXES_CLIENT_IP_CALLABLE) count: REMOTE_ADDR, which
    the ASGI server sets from the connection (behind a proxy, from the address the proxy vouches for). Never a
    forwarding header the client could write."""
    return request.META.get("REMOTE_ADDR") or None


@functools.cache
def _local() -> SlidingWindowCounterRateLimiter:
    return SlidingWindowCounterRateLimiter(MemoryStorage())


@functools.cache
def _shared(url: str) -> SlidingWindowCounterRateLimiter:
    pool = redis_target(url).sync_client(socket_timeout=2, socket_connect_timeout=2).connection_pool
    return SlidingWindowCounterRateLimiter(RedisStorage("redis://", connection_pool=pool))


class PerAddress:
    """At most `rate` (in `limits` notation, "5/hour") actions of one kind per client address."""

    def __init__(self, name: str, rate_setting: str) -> None:
        self.name = name
        self.rate_setting = rate_setting

    def take(self, address: str | None) -> bool:
        """Count one action from `address`; False, counting nothing, once its budget is spent."""
        item = parse(getattr(settings, self.rate_setting))
        key, address = f"gavel:{self.name}", address or "unknown"
        if settings.REDIS_URL:
            try:
                return _shared(settings.REDIS_URL).hit(item, key, address)
            except (RedisError, OSError) as exc:
                log.warning("address_limit_not_shared", limit=self.name, error=repr(exc))
        return _local().hit(item, key, address)


sign_ups = PerAddress("signups", "SIGNUP_RATE")
password_resets = PerAddress("password_resets", "PASSWORD_RESET_RATE")
