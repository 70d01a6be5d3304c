"""Lot broadcasts: published once per event, delivered once per process, written to every local socket.

Channels' group_send costs one channel-layer message, one consumer dispatch and one JSON encoding per socket
(about 0.4 ms of CPU each, measured in loadtests/bench.py), which caps a worker at about 2,500 deliveries a
second. Lot events take a shorter road instead:

- the service encodes the event once and publishes the text on the lot's Redis channel
  (``bidding.locks.channel_name``) after commit (in single-process mode, straight to this process's hub);
- each worker process keeps one hub per event loop with one Redis subscription per lot that has local watchers;
- the hub writes the same text to each local socket: under ``python -m config.serve`` as one WebSocket frame built
  once and written to each connection's transport (Daphne's own path would encode, frame and log per socket),
  elsewhere through the ASGI ``send`` callable.

Delivery stays at most once (Redis pub/sub keeps nothing for a subscriber that is away, and a socket whose peer
is too far behind is skipped rather than buffered for), so every event carries the lot's sequence number and
clients ``sync`` from the database on a gap. When the subscription connection is
lost, the hub reconnects and sends every local socket a ``resync`` so none waits for an event it missed.
Personal notices (``outbid``, ``won``) are rare and stay on the channel layer's user groups.
"""

from __future__ import annotations

import asyncio
import json
import struct
import time
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog
from django.conf import settings
from redis.exceptions import RedisError

from accounts.redis_connections import redis_target
from bidding import metrics, presence
from bidding.floors import committed_floor
from bidding.locks import channel_name, redis_client
from bidding.presence import PresencePublisher

log = structlog.get_logger(__name__)

Send = Callable[[dict], Awaitable[None]]
# Scope keys under which config.serve puts a socket's "is its peer too far behind?" check and its writer of
# prebuilt frames (absent under plain Daphne and in tests' communicators: then the ASGI send is used).
BACKLOG_FULL = "gavel.backlog_full"
WRITE_FRAME = "gavel.write_frame"


def text_frame(text: str) -> bytes:
    """One unfragmented, unmasked WebSocket text frame, as a server sends it (RFC 6455, section 5.2)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 65_536:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


# A lost subscription is retried soon and often: watchers hear nothing until it is back (a Sentinel failover takes
# a few seconds), and each retry is one connection attempt.
RECONNECT_DELAYS = (0.1, 0.25, 0.5, 1.0)


def lot_channel(lot_id: int) -> str:
    return channel_name(f"lot:{lot_id}")


def _lot_id_of(channel: bytes | str) -> int:
    name = channel.decode() if isinstance(channel, bytes) else channel
    return int(name.rsplit(":", 1)[1])


class LotHub:
    """One per event loop: which local sockets watch which lot, and the one subscription that feeds them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.members: dict[int, dict[object, Send]] = {}
        self.watchers: dict[int, int] = {}  # lot sockets per lot (seller dashboards listen but are not counted)
        self.presence = PresencePublisher(self)
        self._pubsub = None
        # One subscription command at a time: redis-py's PubSub opens its connection on its first command, two first
        # commands at once open one each, and the reader reads only the last: lots subscribed on the other would
        # never hear their events (several lots' sockets opening together: bidding/tests/test_fanout_subscriptions.py).
        self._commands = asyncio.Lock()
        self._reader: asyncio.Task | None = None
        self._closer: asyncio.Task | None = None
        if settings.CLOSE_LOTS_IN_WEB_PROCESS and _closing_loop is not None:
            self._closer = loop.create_task(_closing_loop())

    async def join(self, lot_id: int, key: object, send: Send, *, watcher: bool = True) -> None:
        local = self.members.setdefault(lot_id, {})
        first = not local
        if key not in local and watcher:
            self.watchers[lot_id] = self.watchers.get(lot_id, 0) + 1
            self.presence.mark(lot_id)
        local[key] = send
        if first and settings.REDIS_URL:
            await self._subscribe(lot_id)

    async def leave(self, lot_id: int, key: object, *, watcher: bool = True) -> None:
        local = self.members.get(lot_id)
        if local is None:
            return
        if local.pop(key, None) is not None and watcher:
            remaining = self.watchers.get(lot_id, 0) - 1
            if remaining > 0:
                self.watchers[lot_id] = remaining
            else:
                self.watchers.pop(lot_id, None)
            self.presence.mark(lot_id)
        if not local:
            del self.members[lot_id]
            committed_floor.forget(lot_id)
            if settings.REDIS_URL and self._pubsub is not None:
                try:
                    async with self._commands:
                        await self._pubsub.unsubscribe(lot_channel(lot_id))
                except RedisError as exc:
                    log.warning("fanout_unsubscribe_failed", lot_id=lot_id, error=repr(exc))

    async def deliver(self, lot_id: int, text: str) -> None:
        """Write one already-encoded event to every local socket of the lot."""
        local = self.members.get(lot_id)
        if not local:
            return
        _note_bid(lot_id, text)
        message = {"type": "websocket.send", "text": text}
        frame: bytes | None = None  # built once, for every socket whose worker can take it as it is
        skipped = 0
        for key, send in list(local.items()):
            held = getattr(key, "held", None)
            if held is not None:  # the socket's snapshot has not gone out yet: it goes first
                held.append(text)
                continue
            behind = getattr(key, "backlog_full", None)
            if behind is not None and behind():
                skipped += 1  # at most once: the client sees the seq gap when it reads again, and syncs
                continue
            try:
                write_frame = getattr(key, "write_frame", None)
                if write_frame is not None:
                    frame = frame or text_frame(text)
                    if write_frame(frame):
                        continue
                await send(message)
            except Exception:
                log.exception("fanout_send_failed", lot_id=lot_id)
        metrics.WS_MESSAGES_OUT.labels("fanout").inc(len(local) - skipped)
        if skipped:
            metrics.WS_BROADCASTS_SKIPPED.inc(skipped)

    def _new_pubsub(self):
        # Its own connection with no read timeout: a quiet lot is not a dead Redis (health checks find that).
        client = redis_target(settings.REDIS_URL).async_client(socket_connect_timeout=2, health_check_interval=15)
        return client.pubsub(ignore_subscribe_messages=True)

    async def _subscribe(self, lot_id: int) -> None:
        async with self._commands:
            if self._pubsub is None:
                self._pubsub = self._new_pubsub()
            await self._pubsub.subscribe(lot_channel(lot_id))
        if self._reader is None or self._reader.done():
            self._reader = self.loop.create_task(self._read())

    async def _read(self) -> None:
        attempt = 0
        while self.members:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
                attempt = 0
                if message is not None and message["type"] == "message":
                    await self.deliver(_lot_id_of(message["channel"]), message["data"].decode())
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.error("fanout_subscription_lost", error=repr(exc))
                # Until Redis is back, keep trying with backoff; a pub/sub with no subscription would read nothing
                # forever.
                while self.members:
                    delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                    attempt += 1
                    await asyncio.sleep(delay)
                    if await self._resubscribe():
                        break
        self._reader = None

    async def _resubscribe(self) -> bool:
        async with self._commands:
            try:
                await self._pubsub.aclose()
            except (RedisError, OSError):
                pass
            self._pubsub = self._new_pubsub()
            try:
                if self.members:
                    await self._pubsub.subscribe(*(lot_channel(lot_id) for lot_id in self.members))
            except (RedisError, OSError) as exc:
                log.warning("fanout_resubscribe_failed", error=repr(exc))
                return False
        log.info("fanout_resubscribed", lots=len(self.members))
        # Anything published while we were away is gone from pub/sub but not from the database.
        for lot_id in list(self.members):
            await self.deliver(lot_id, json.dumps({"type": "resync", "lot": lot_id}))
        return True


# Started with each event loop's hub when CLOSE_LOTS_IN_WEB_PROCESS is on (single-process mode); registered at
# start-up by bidding.apps (bidding/closing.py), so the fan-out knows nothing of lots' lives.
_closing_loop: Callable[[], Awaitable[None]] | None = None


def register_closing_loop(loop: Callable[[], Awaitable[None]]) -> None:
    global _closing_loop
    _closing_loop = loop


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LotHub] = weakref.WeakKeyDictionary()


def hub() -> LotHub:
    loop = asyncio.get_running_loop()
    current = _hubs.get(loop)
    if current is None:
        current = _hubs[loop] = LotHub(loop)
    return current


def all_hubs() -> list[LotHub]:
    return list(_hubs.values())


presence.count_hubs_from(all_hubs)


def publish(lot_id: int, text: str) -> None:
    """Send an encoded lot event to every watcher in every process. Called after commit, from any thread."""
    if settings.REDIS_URL:
        redis_client().publish(lot_channel(lot_id), text)
        return
    for loop, local_hub in list(_hubs.items()):
        if not loop.is_running():
            continue
        future = asyncio.run_coroutine_threadsafe(local_hub.deliver(lot_id, text), loop)
        if not _in_loop(loop):
            future.result(timeout=5)  # keep events of a lot in order, as the Redis publish does


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _note_bid(lot_id: int, text: str) -> None:
    # Measures how long a bid took from its decision to here. Nothing read off Redis feeds a decision (anyone who
    # can reach the server can PUBLISH): the bid floor learns only from this process's own commits.
    if text.startswith('{"type": "high_bid"'):
        event = json.loads(text)
        metrics.BROADCAST_LATENCY.observe(
            max(0.0, time.time() - datetime.fromisoformat(event["server_time"]).timestamp())
        )
