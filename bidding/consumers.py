"""The sockets: parse, authorize, call the service, send. Nothing here decides a bid."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import structlog
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from auctions import payloads as lot_payloads
from auctions import selectors, watchlist
from auctions.exceptions import BidRefused, Forbidden, InvalidBid, RateLimited, Unavailable
from bidding import admission, broadcast, draining, fanout, metrics, payloads, presence, protocol
from bidding.process import PROCESS_ID
from bidding.protocol import CLOSE_FLOODING, CLOSE_LOT_NOT_FOUND, CLOSE_NOT_AUTHENTICATED
from bidding.rate_limit import TokenBucket
from bidding.selectors import events_since, lot_snapshot
from bidding.services import abuy_now, aplace_bid

log = structlog.get_logger(__name__)


# Reads run in the shared thread pool too (see bidding.services.socket_queue.in_thread).
_lot_snapshot = database_sync_to_async(lot_snapshot, thread_sensitive=False)
_events_since = database_sync_to_async(events_since, thread_sensitive=False)
_watched_lot_ids = database_sync_to_async(watchlist.watched_lot_ids, thread_sensitive=False)
_notices_since = database_sync_to_async(selectors.notices_since, thread_sensitive=False)
_latest_notice_id = database_sync_to_async(selectors.latest_notice_id, thread_sensitive=False)
_lot_seq = database_sync_to_async(selectors.lot_seq, thread_sensitive=False)

# A lot's latest seq, read at most once a second per process however many of its sockets ping.
LOT_SEQ_FRESH_SECONDS = 1.0
_lot_seqs: dict[int, tuple[float, int | None]] = {}


async def latest_seq(lot_id: int) -> int | None:
    now = time.monotonic()
    cached = _lot_seqs.get(lot_id)
    if cached is not None and now - cached[0] < LOT_SEQ_FRESH_SECONDS:
        return cached[1]
    seq = await _lot_seq(lot_id)
    if len(_lot_seqs) > 10_000:
        _lot_seqs.clear()
    _lot_seqs[lot_id] = (now, seq)
    return seq


_seller_dashboard = database_sync_to_async(selectors.seller_dashboard, thread_sensitive=False)
_is_sellers_lot = database_sync_to_async(selectors.is_sellers_lot, thread_sensitive=False)


class GavelSocket(AsyncJsonWebsocketConsumer):
    """What every socket shares: untrusted frames parsed strictly, a token bucket, personal notices.

    Subclasses name the client messages they accept in `client_types`; a frame's `type` is looked up there and
    nowhere else, so a client can never reach a group handler such as `user.event`.
    """

    client_types: frozenset[str] = frozenset({"ping"})
    kind = "me"  # the metrics label of this socket

    async def __call__(self, scope, receive, send):
        """Channels' receive loop dies when the channel layer loses Redis; instead of Daphne's bare 1011, tell the
        client to reconnect (4503), after which it resyncs from the database on whichever worker takes it."""
        try:
            await super().__call__(scope, receive, send)
        except (RedisError, OSError) as exc:
            log.error("ws_channel_layer_lost", error=repr(exc))
            metrics.LAYER_SEND_FAILURES.labels("receive").inc()
            await self.disconnect(draining.GOING_AWAY)  # Channels will not call it: its loop is what died
            try:
                await send({"type": "websocket.close", "code": draining.GOING_AWAY})
            except Exception:  # the connection may be gone already; nothing else to tell
                log.info("ws_close_after_layer_loss_failed")

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
        self.groups_joined: list[str] = []
        self.bucket = TokenBucket(rate=settings.WS_RATE_PER_SECOND, burst=settings.WS_RATE_BURST)
        self.flood_strikes = 0
        self.backlog_full = self.scope.get(fanout.BACKLOG_FULL)  # under config.serve: is the peer too far behind?
        self.write_frame = self.scope.get(fanout.WRITE_FRAME)  # under config.serve: the fan-out's shortcut
        self.held: list[str] | None = None  # lot events the fan-out keeps back until the snapshot is sent
        structlog.contextvars.bind_contextvars(conn_id=uuid.uuid4().hex[:12], user_id=self.user_id, **log_context)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "counted", False):
            metrics.WS_CONNECTIONS.labels(PROCESS_ID, self.kind).dec()
            draining.unregister(self)
            self.counted = False
        for group in getattr(self, "groups_joined", ()):
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except (RedisError, OSError) as exc:  # the group entry expires by itself (CHANNEL_GROUP_EXPIRY)
                log.warning("ws_group_discard_failed", error=repr(exc))
        self.groups_joined = []
        log.info("ws_close", code=code)

    async def send_json(self, content, close=False):
        metrics.WS_MESSAGES_OUT.labels("direct").inc()
        await super().send_json(content, close=close)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
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


class LotConsumer(GavelSocket):
    """ws/auctions/<lot_id>/: anyone may watch; a logged-in, verified user may bid."""

    client_types = frozenset({"bid", "buy_now", "sync", "ping"})
    kind = "lot"

    async def connect(self) -> None:
        self.lot_id = int(self.scope["url_route"]["kwargs"]["lot_id"])
        if not await self.open(login_required=False, lot_id=self.lot_id):
            return
        # Join before reading the snapshot, so no event committed in between is missed; hold what arrives until the
        # snapshot has gone out, so the snapshot is always the first message (a held event the snapshot already
        # includes has a seq the client ignores).
        self.held = []
        await fanout.hub().join(self.lot_id, self, self.base_send)
        snapshot = await _lot_snapshot(self.lot_id, viewer_id=self.user_id)
        if snapshot is None:
            log.info("ws_refused", reason="lot_not_found")
            await self.close(code=CLOSE_LOT_NOT_FOUND)
            return
        log.info("ws_open")
        snapshot["watchers"] = (await presence.watcher_counts([self.lot_id]))[self.lot_id]
        await self.send_json(snapshot)
        held, self.held = self.held, None
        for text in held:
            await self.send(text_data=text)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "lot_id"):  # not when the handshake was refused before connect()
            await fanout.hub().leave(self.lot_id, self)
        await super().disconnect(code)

    async def on_ping(self, message: dict[str, Any]) -> None:
        # The page pings to keep its clock estimate fresh; the answer also refreshes its watcher count, and tells
        # the lot's latest seq, so a client whose last event was lost sees the gap even when nothing else happens.
        pong = payloads.pong(now=timezone.now())
        pong["watchers"] = (await presence.watcher_counts([self.lot_id]))[self.lot_id]
        pong["seq"] = await latest_seq(self.lot_id)
        await self.send_json(pong)

    async def on_bid(self, message: dict[str, Any]) -> None:
        await self._decide(
            message,
            aplace_bid(
                user=self.scope.get("user"),
                lot_id=self.lot_id,
                amount=message.get("amount"),
                bid_id=message.get("bid_id"),
                max_amount=message.get("max_amount"),
                received=self.received_ns,
                received_at=self.received_at,
            ),
        )

    async def on_buy_now(self, message: dict[str, Any]) -> None:
        await self._decide(
            message,
            abuy_now(
                user=self.scope.get("user"),
                lot_id=self.lot_id,
                bid_id=message.get("bid_id"),
                received_at=self.received_at,
            ),
        )

    async def _decide(self, message: dict[str, Any], decision) -> None:
        bid_id, started = message.get("bid_id"), time.perf_counter()
        async with draining.in_flight():  # a draining worker waits for this, reply included, before closing
            try:
                if draining.is_draining():
                    decision.close()  # never started: nothing was decided
                    raise Unavailable("This server is restarting: reconnect and send the bid again (same bid_id).")
                outcome = await decision
            except BidRefused as refusal:
                metrics.BIDS.labels("refused", refusal.code).inc()
                log.info(
                    "bid_refused",
                    bid_id=payloads.bid_rejected(bid_id, refusal)["bid_id"],
                    code=refusal.code,
                    latency_ms=round((time.perf_counter() - started) * 1000, 2),
                )
                await self.send_json(payloads.bid_rejected(bid_id, refusal))
                return
            metrics.BIDS.labels("accepted", "").inc()
            log.info(
                "bid_accepted",
                bid_id=outcome.bid_id,
                amount=outcome.amount,
                seq=outcome.seq,
                kind=message["type"],
                leading=outcome.leading,
                duplicate=outcome.duplicate,
                latency_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            await self.send_json(payloads.bid_accepted(outcome))

    async def on_sync(self, message: dict[str, Any]) -> None:
        try:
            since = protocol.since_seq(message)
        except BidRefused as refusal:
            await self.send_json(lot_payloads.error(refusal))
            return
        for payload in await _events_since(self.lot_id, since, viewer_id=self.user_id):
            await self.send_json(payload)


class MeConsumer(GavelSocket):
    """ws/me/: one personal socket for whichever page is open: outbid, won, lot_closing_soon, lot_closed. Every
    notice is stored with an `id`; `sync` replays those after the id the client last saw."""

    client_types = frozenset({"sync", "ping"})

    async def connect(self) -> None:
        if not await self.open(login_required=True):
            return
        log.info("ws_open", socket="me")
        await self.send_json(
            payloads.me(
                watching=await _watched_lot_ids(self.scope["user"]),
                last_id=await _latest_notice_id(self.user_id),
                now=timezone.now(),
            )
        )

    async def on_sync(self, message: dict[str, Any]) -> None:
        try:
            since = protocol.since_id(message)
        except BidRefused as refusal:
            await self.send_json(lot_payloads.error(refusal))
            return
        for payload in await _notices_since(self.user_id, since):
            await self.send_json(payload)


class SellerConsumer(GavelSocket):
    """ws/seller/: the seller's own lots, live: every lot event (bids, extensions, closes, cancellations) as it
    happens, plus watcher counts across all processes. Ownership is checked again on every client message."""

    client_types = frozenset({"sync", "refresh", "ping"})
    kind = "seller"

    async def connect(self) -> None:
        self.lot_ids: set[int] = set()
        self.counts: dict[int, int] = {}
        self.presence_task: asyncio.Task | None = None
        if not await self.open(login_required=True, socket="seller"):
            return
        await self.on_refresh({})
        self.presence_task = asyncio.get_running_loop().create_task(self._follow_presence())
        log.info("ws_open", lots=len(self.lot_ids))

    async def disconnect(self, code: int) -> None:
        if self.presence_task is not None:
            self.presence_task.cancel()
        for lot_id in self.lot_ids:
            await fanout.hub().leave(lot_id, self, watcher=False)
        await super().disconnect(code)

    async def on_refresh(self, message: dict[str, Any]) -> None:
        """A fresh snapshot of every lot (also what a reconnecting dashboard gets first)."""
        rows = await _seller_dashboard(self.user_id)
        for row in rows:
            await self._follow(row["id"])
        self.counts = await presence.watcher_counts([row["id"] for row in rows])
        for row in rows:
            row["watchers"] = self.counts.get(row["id"], 0)
        await self.send_json(payloads.seller_snapshot(rows, now=timezone.now()))

    async def on_sync(self, message: dict[str, Any]) -> None:
        try:
            since = protocol.since_seq(message)
            lot_id = message.get("lot")
            if isinstance(lot_id, bool) or not isinstance(lot_id, int):
                raise InvalidBid("lot must be the id of one of your lots.", field="lot")
            if not await _is_sellers_lot(lot_id, self.user_id):
                raise Forbidden("That is not one of your lots.", reason="not_owner")
        except BidRefused as refusal:
            await self.send_json(lot_payloads.error(refusal))
            return
        for payload in await _events_since(lot_id, since, viewer_id=None):
            await self.send_json(payload)

    async def user_event(self, event: dict[str, Any]) -> None:
        payload = event["payload"]
        if payload["type"] == "seller_lot":
            await self._follow(payload["lot"]["id"])
        await self.send_json(payload)

    async def _follow(self, lot_id: int) -> None:
        if lot_id not in self.lot_ids:
            self.lot_ids.add(lot_id)
            await fanout.hub().join(lot_id, self, self.base_send, watcher=False)

    async def _follow_presence(self) -> None:
        while True:
            await asyncio.sleep(settings.PRESENCE_INTERVAL_SECONDS)
            try:
                counts = await presence.watcher_counts(sorted(self.lot_ids))
            except Exception:
                log.exception("presence_read_failed")
                continue
            changed = {lot_id: n for lot_id, n in counts.items() if self.counts.get(lot_id) != n}
            self.counts = counts
            if changed:
                await self.send_json(payloads.watchers(changed, now=timezone.now()))
