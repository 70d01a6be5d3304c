"""What every socket shares: strict parsing of untrusted frames, the token buckets, personal notices."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from auctions import payloads as lot_payloads
from auctions.exceptions import BidRefused, RateLimited, Unavailable
from auctions.selectors import lot_seq
from bidding import admission, broadcast, draining, fanout, metrics, payloads, protocol
from bidding.process import PROCESS_ID
from bidding.protocol import CLOSE_FLOODING, CLOSE_NOT_AUTHENTICATED
from bidding.rate_limit import TokenBucket
from bidding.replay_window import ReplayWindow
from bidding.selectors import lot_snapshot, replay_cost, replays_events, stored_event_texts

log = structlog.get_logger(__name__)

# Reads run in the shared thread pool, as the bid path's do (bidding.services.socket_queue.in_thread).
read_lot_snapshot = database_sync_to_async(lot_snapshot, thread_sensitive=False)
read_lot_seq = database_sync_to_async(lot_seq, thread_sensitive=False)
_read_event_texts = database_sync_to_async(stored_event_texts, thread_sensitive=False)
_replay_window = ReplayWindow(lots=settings.REPLAY_WINDOW_LOTS)


class GavelSocket(AsyncJsonWebsocketConsumer):
    """What every socket shares: untrusted frames parsed strictly, a token bucket, personal notices.

    Subclasses name the client messages they accept in `client_types`; a frame's `type` is looked up there and
    nowhere else, so a client can never reach a group handler such as `user.event`.
    """

    client_types: frozenset[str] = frozenset({"ping"})
    kind = "me"  # the metrics label of this socket

    async def __call__(self, scope, receive, send):
        """Run the socket; whatever ends it (a close from either side, a flood close, a peer gone, an exception in
        a handler, cancellation at shutdown), `release` gives back everything it holds, in this one `finally`.

        Channels' receive loop dies when the channel layer loses Redis; instead of Daphne's bare 1011, tell the
        client to reconnect (4503), after which it resyncs from the database on whichever worker takes it."""
        self.closing = False
        self.lots_followed: dict[int, bool] = {}  # lot id: counted as a watcher
        self.groups_joined: list[str] = []
        self.tasks: list[asyncio.Task] = []
        self.counted = self.released = False
        try:
            await super().__call__(scope, receive, send)
        except (RedisError, OSError) as exc:
            log.error("ws_channel_layer_lost", error=repr(exc))
            metrics.LAYER_SEND_FAILURES.labels("receive").inc()
            await self.release()
            try:
                await send({"type": "websocket.close", "code": draining.GOING_AWAY})
            except Exception:  # the connection may be gone already; nothing else to tell
                log.info("ws_close_after_layer_loss_failed")
        finally:
            await self.release()

    async def open(self, *, login_required: bool, **log_context: Any) -> bool:
        """Accept, apply the login rule, join the user's notice group; False: closed. (The socket caps and session
        revalidation are middleware around every socket: bidding/socket_middleware.py.)"""
        self.start(**log_context)
        await self.accept()
        if login_required and self.user_id is None:
            log.info("ws_refused", reason="not_authenticated")
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return False
        if self.user_id is not None:
            await self.join_user_group()
        return True

    def start(self, **log_context: Any) -> None:
        metrics.WS_CONNECTIONS.labels(PROCESS_ID, self.kind).inc()
        draining.register(self)
        self.counted = True
        user = self.scope.get("user")
        self.user_id = user.pk if user is not None and user.is_authenticated else None
        self.bucket = TokenBucket(rate=settings.WS_RATE_PER_SECOND, burst=settings.WS_RATE_BURST)
        self.flood_strikes = 0
        # A 30-byte `sync` can ask for hundreds of stored events: replays are paid for per message sent.
        self.replay_budget = TokenBucket(
            rate=settings.SYNC_REPLAY_EVENTS_PER_SECOND,
            burst=max(settings.SYNC_MAX_EVENTS + 1, settings.SYNC_SNAPSHOT_COST),
        )
        self.backlog_full = self.scope.get(fanout.BACKLOG_FULL)  # under config.serve: is the peer too far behind?
        self.write_frame = self.scope.get(fanout.WRITE_FRAME)  # under config.serve: the fan-out's shortcut
        self.held: list[str] | None = None  # lot events the fan-out keeps back until the snapshot is sent
        structlog.contextvars.bind_contextvars(conn_id=uuid.uuid4().hex[:12], user_id=self.user_id, **log_context)

    async def follow_lot(self, lot_id: int, *, watcher: bool = True) -> None:
        """Receive the lot's events (and, as a `watcher`, count in its watcher count) until this socket ends."""
        if lot_id not in self.lots_followed and not self.released:
            self.lots_followed[lot_id] = watcher
            await fanout.hub().join(lot_id, self, self.base_send, watcher=watcher)

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` for as long as this socket lives."""
        self.tasks.append(asyncio.get_running_loop().create_task(work))

    async def disconnect(self, code: int) -> None:
        await self.release()
        log.info("ws_close", code=code)

    async def release(self) -> None:
        """Give back everything this socket holds: its place in the metrics and the drain, its background tasks,
        its lots (fan-out membership and watcher count), its channel-layer groups. Runs once, however the socket
        ended; each step runs even when another fails, the ones that cannot fail first. (Its socket-cap slots are
        the middleware's: SocketCaps.)"""
        if self.released:
            return
        self.released = True
        if self.counted:
            metrics.WS_CONNECTIONS.labels(PROCESS_ID, self.kind).dec()
            draining.unregister(self)
        for task in self.tasks:
            task.cancel()
        for lot_id, watcher in self.lots_followed.items():
            try:
                await fanout.hub().leave(lot_id, self, watcher=watcher)
            except Exception:
                log.exception("ws_release_failed", step="leave_lot", lot_id=lot_id)
        for group in self.groups_joined:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception as exc:  # the group entry expires by itself (CHANNEL_GROUP_EXPIRY)
                log.warning("ws_group_discard_failed", error=repr(exc))

    async def close(self, code=None, reason=None) -> None:
        """Once this socket has said goodbye it handles no further frames: those still queued from the client
        (a flood, typically) are dropped unread."""
        self.closing = True
        await super().close(code=code, reason=reason)

    async def send_json(self, content, close=False):
        metrics.WS_MESSAGES_OUT.labels("direct").inc()
        await super().send_json(content, close=close)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:  # it has said goodbye: frames still queued (a flood, typically) are dropped unread
            metrics.WS_MESSAGES_IN.labels(self.kind, "after_close").inc()
            return
        # First thing: a bid's place in its lot's queue (bidding/group_commit.py), and the moment that decides
        # whether it came before the lot's end.
        self.received_ns, self.received_at = time.monotonic_ns(), timezone.now()
        try:
            message: dict[str, Any] | None = protocol.parse_frame(
                text_data, bytes_data, max_bytes=settings.WS_MAX_MESSAGE_BYTES, allowed_types=self.client_types
            )
            refusal: BidRefused | None = None
        except BidRefused as exc:
            message, refusal = None, exc
        metrics.WS_MESSAGES_IN.labels(self.kind, message["type"] if message else "invalid").inc()
        # The connection's own bucket, then its user's, shared by all of that user's sockets here.
        if not self.bucket.allow() or (self.user_id is not None and not await admission.user_may_send(self.user_id)):
            await self._refuse_flood(message)
            return
        self.flood_strikes = 0
        if message is None:
            log.info("ws_invalid_frame", code=refusal.code, detail=refusal.message)
            await self.send_json(lot_payloads.error(refusal))
            return
        await getattr(self, f"on_{message['type']}")(message)

    async def on_ping(self, message: dict[str, Any]) -> None:
        await self.send_json(payloads.pong(now=timezone.now()))

    async def replay_lot_events(self, lot_id: int, since_seq: int, *, viewer_id: int | None) -> None:
        """Answer a `sync`: the lot's events after `since_seq`, if this socket's replay budget covers them."""
        current = await read_lot_seq(lot_id)
        cost = replay_cost(since_seq, current)
        if not self.replay_budget.take(cost):
            wait_ms = max(1, round(self.replay_budget.seconds_until(cost) * 1000))
            log.info("ws_replay_throttled", lot_id=lot_id, since_seq=since_seq, cost=cost, retry_after_ms=wait_ms)
            refusal = RateLimited("Too many replays; sync again later.", retry_after_ms=wait_ms)
            await self.send_json(lot_payloads.error(refusal))
            return
        if current is None:  # the lot is gone
            return
        if not replays_events(since_seq, current):  # too far back, or ahead of the lot: the state now instead
            if (snapshot := await read_lot_snapshot(lot_id, viewer_id=viewer_id)) is not None:
                await self.send_json(snapshot)
            return
        texts = _replay_window.texts(lot_id, after=since_seq, through=current)
        if texts is None:
            events = await _read_event_texts(lot_id, after=since_seq, through=current)
            _replay_window.keep(lot_id, events)
            texts = [text for _, text in events]
        for text in texts:
            await self.send(text_data=text)
        await self.send_json(lot_payloads.synced(seq=current, now=timezone.now()))

    async def decide_bid(
        self, message: dict[str, Any], decision: Coroutine, reply: Callable[[dict, Any, float], Awaitable[None]]
    ) -> None:
        """Await a bid's `decision` (a coroutine, not yet started) and answer it: a refusal as `bid_rejected` with
        its code, anything else by `reply(message, outcome, started)`. A draining worker decides nothing new
        (`unavailable`: send it again, same bid_id, to the worker that takes the reconnect) and waits for every
        decision already started, its reply included, before it closes."""
        bid_id, started = message.get("bid_id"), time.perf_counter()
        async with draining.in_flight():
            try:
                if draining.is_draining():
                    decision.close()  # never started: nothing was decided
                    raise Unavailable("This server is restarting: reconnect and send the bid again (same bid_id).")
                outcome = await decision
            except BidRefused as refusal:
                metrics.BIDS.labels("refused", refusal.code).inc()
                rejected = payloads.bid_rejected(bid_id, refusal)
                log.info(
                    "bid_refused",
                    bid_id=rejected["bid_id"],
                    code=refusal.code,
                    kind=message["type"],
                    latency_ms=round((time.perf_counter() - started) * 1000, 2),
                )
                await self.send_json(rejected)
                return
            await reply(message, outcome, started)

    # Channel-layer handler for personal notices (outbid, won, lot_closing_soon, lot_closed): only sends.
    async def user_event(self, event: dict[str, Any]) -> None:
        await self.send_json(event["payload"])

    async def join_user_group(self) -> None:
        group = broadcast.user_group(self.user_id)
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.append(group)

    async def _refuse_flood(self, message: dict[str, Any] | None) -> None:
        self.flood_strikes += 1
        if self.flood_strikes >= settings.WS_FLOOD_CLOSE_AFTER:
            log.warning("ws_flood_closed", strikes=self.flood_strikes)
            await self.close(code=CLOSE_FLOODING)
            return
        refusal = RateLimited()
        if message is not None and message["type"] == "bid":
            await self.send_json(payloads.bid_rejected(message.get("bid_id"), refusal))
        else:
            await self.send_json(lot_payloads.error(refusal))
