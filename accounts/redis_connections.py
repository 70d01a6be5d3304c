"""Every Redis connection the site opens is made here, from one reading of REDIS_URL, plain or through Sentinel.

    redis://[user:password@]host:port/db                              one server (rediss:// for TLS)
    redis+sentinel://[user:password@]host:port[,host:port…]/name[/db]  the primary Sentinel names `name`

Through Sentinel, a connection asks the sentinels where the primary is each time it connects, and a connection that
finds the server gone or read-only (an old primary back as a replica) reconnects: clients follow a failover by
themselves. Credentials are the Redis servers'; sentinels are asked without them. Libraries that read a URL of
their own (`limits` reads a Sentinel path differently) are handed a pool made here instead.

It sits at the bottom of the house because every layer connects: the address limits here, the bid lock, fan-out,
presence and socket admission in bidding, the channel layer and /readyz in config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from urllib.parse import unquote

import redis
import redis.asyncio as aredis
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelConnectionPool
from redis.sentinel import Sentinel

SENTINEL_SCHEME = "redis+sentinel"
# How long a sentinel may take to say where the primary is: it answers from memory, and a dead one is skipped.
SENTINEL_TIMEOUT_SECONDS = 1.0


class BlockingSentinelConnectionPool(AsyncSentinelConnectionPool, aredis.BlockingConnectionPool):
    """redis-py's Sentinel pool raises when full; this one waits for a free connection (bounded by `timeout`), as
    aredis.BlockingConnectionPool does for a single server. Connections still come from the Sentinel pool's own
    class, which finds the primary and drops a connection to a demoted one."""


@dataclass(frozen=True)
class RedisTarget:
    url: str
    sentinels: tuple[tuple[str, int], ...] = ()
    master_name: str = ""
    credentials: dict = field(default_factory=dict)  # db, username, password for the Sentinel-found primary

    @property
    def through_sentinel(self) -> bool:
        return bool(self.sentinels)

    @property
    def db(self) -> int:
        if self.through_sentinel:
            return self.credentials.get("db", 0)
        return int(redis.connection.parse_url(self.url).get("db", 0))

    def _sentinel_kwargs(self) -> dict:
        return {"socket_timeout": SENTINEL_TIMEOUT_SECONDS, "socket_connect_timeout": SENTINEL_TIMEOUT_SECONDS}

    def sync_client(self, **options) -> redis.Redis:
        if not self.through_sentinel:
            return redis.Redis.from_url(self.url, **options)
        sentinel = Sentinel(list(self.sentinels), sentinel_kwargs=self._sentinel_kwargs())
        return sentinel.master_for(self.master_name, **self.credentials, **options)

    def async_client(self, **options) -> aredis.Redis:
        """A client with a pool of its own (a pub/sub reader holds its connection for ever)."""
        if not self.through_sentinel:
            return aredis.Redis.from_url(self.url, **options)
        sentinel = AsyncSentinel(list(self.sentinels), sentinel_kwargs=self._sentinel_kwargs())
        return sentinel.master_for(self.master_name, **self.credentials, **options)

    def async_blocking_pool(self, *, max_connections: int, timeout: float, **options) -> aredis.ConnectionPool:
        """A pool that waits up to `timeout` seconds for a free connection when `max_connections` are in use."""
        if not self.through_sentinel:
            return aredis.BlockingConnectionPool.from_url(
                self.url, max_connections=max_connections, timeout=timeout, **options
            )
        return BlockingSentinelConnectionPool(
            self.master_name,
            AsyncSentinel(list(self.sentinels), sentinel_kwargs=self._sentinel_kwargs()),
            max_connections=max_connections,
            timeout=timeout,
            **self.credentials,
            **options,
        )

    def channel_layer_host(self, **options) -> dict:
        """One entry of channels-redis' `hosts`."""
        if not self.through_sentinel:
            return {"address": self.url, **options}
        return {
            "sentinels": list(self.sentinels),
            "master_name": self.master_name,
            "sentinel_kwargs": self._sentinel_kwargs(),
            **self.credentials,
            **options,
        }


@cache
def redis_target(url: str) -> RedisTarget:
    """REDIS_URL read; ValueError (saying what is wrong) for a Sentinel URL without sentinels or a name."""
    scheme, _, rest = url.partition("://")
    if scheme != SENTINEL_SCHEME:
        redis.connection.parse_url(url)  # raises ValueError for a scheme redis-py cannot use
        return RedisTarget(url)
    userinfo, _, hosts_and_path = rest.rpartition("@")
    hosts, _, path = hosts_and_path.partition("/")
    sentinels = []
    for host in filter(None, hosts.split(",")):
        name, _, port = host.rpartition(":")
        if not name or not port.isdigit():
            raise ValueError(f"REDIS_URL: a sentinel is host:port, not {host!r}")
        sentinels.append((name.strip("[]"), int(port)))
    master_name, _, db = path.partition("/")
    if not sentinels or not master_name:
        raise ValueError(f"REDIS_URL: {SENTINEL_SCHEME}://host:port[,host:port…]/master_name[/db], not {url!r}")
    if db and not db.isdigit():
        raise ValueError(f"REDIS_URL: the database after the master name is a number, not {db!r}")
    credentials: dict = {"db": int(db or 0)}
    username, _, password = userinfo.partition(":")
    if username:
        credentials["username"] = unquote(username)
    if password:
        credentials["password"] = unquote(password)
    return RedisTarget(url, tuple(sentinels), master_name, credentials)
