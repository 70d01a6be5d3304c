"""The sale socket (ws/sales/<id>/): the lot on the block and its events for everyone; internet bids for
registered bidders; the clerk's actions for the driving console. Thin: parse, authorize, call the service, send."""

from __future__ import annotations

import time
from typing import Any

import structlog
from channels.db import database_sync_to_async
from django.utils import timezone

from auctions import payloads as lot_payloads
from auctions.exceptions import BidRefused, Forbidden, InvalidBid
from bidding import live_console, live_selectors, metrics, payloads, presence, protocol
from bidding.consumers.base import GavelSocket
from bidding.protocol import CLOSE_LOT_NOT_FOUND
from bidding.services import live

log = structlog.get_logger(__name__)

# What a `clerk` message may carry besides its action: the services check each value.
CLERK_FIELDS = ("paddle", "amount", "increment", "ask", "lot_id", "reason", "message", "text")

_in_thread = database_sync_to_async
_role = _in_thread(live_selectors.viewer_role, thread_sensitive=False)
_snapshot = _in_thread(live_selectors.sale_snapshot, thread_sensitive=False)
_clerk_action = _in_thread(live.clerk_action, thread_sensitive=False)
_heartbeat = _in_thread(live_console.heartbeat, thread_sensitive=False)
_current_lot = _in_thread(live.current_lot_id, thread_sensitive=False)


class SaleConsumer(GavelSocket):
    """ws/sales/<sale_id>/: anyone may watch; registered bidders bid; the sale's clerks drive (one console)."""

    client_types = frozenset({"live_bid", "clerk", "sync", "ping"})
    kind = "sale"

    async def connect(self) -> None:
        self.sale_id = int(self.scope["url_route"]["kwargs"]["sale_id"])
        if not await self.open(login_required=False, sale_id=self.sale_id):
            return
        self.user = self.scope.get("user")
        role = await _role(self.sale_id, self.user)
        if role is None:
            log.info("ws_refused", reason="sale_not_found")
            await self.close(code=CLOSE_LOT_NOT_FOUND)
            return
        self.is_clerk, self.lot_ids = role
        self.last_beat = 0.0
        # Every lot of the sale, joined before the snapshot is read (events of the lot on the block, and of a lot
        # the block left or staff reopened); what arrives meanwhile is held until the snapshot has gone out.
        self.held = []
        for lot_id in self.lot_ids:
            await self.follow_lot(lot_id)
        snapshot = await _snapshot(self.sale_id, user=self.user, clerk=self.is_clerk, now=timezone.now())
        if self.is_clerk:
            snapshot["online"] = await self._online(snapshot["sale"]["current_lot"])
        await self.send_json(snapshot)
        held, self.held = self.held, None
        for text in held:
            await self.send(text_data=text)
        log.info("ws_open", clerk=self.is_clerk)

    async def _online(self, lot_id: int | None) -> int | None:
        """Sockets watching the lot on the block (every sale socket follows it), in every process."""
        if lot_id is None:
            return None
        return (await presence.watcher_counts([lot_id]))[lot_id]

    async def on_ping(self, message: dict[str, Any]) -> None:
        pong = payloads.pong(now=timezone.now())
        if self.is_clerk:
            pong["driving"] = await _heartbeat(sale_id=self.sale_id, console=self.channel_name)
            pong["online"] = await self._online(await _current_lot(self.sale_id))
        await self.send_json(pong)

    async def on_live_bid(self, message: dict[str, Any]) -> None:
        await self.decide_bid(
            message,
            live.alive_bid(
                user=self.user,
                sale_id=self.sale_id,
                amount=message.get("amount"),
                bid_id=message.get("bid_id"),
                lot=message.get("lot"),
                # Stamped on receipt, before any queue: the queue's order, and the moment the hammer rule reads.
                received=self.received_ns,
                received_at=self.received_at,
            ),
            self._answered,
        )

    async def _answered(self, message: dict[str, Any], reply: dict, started: float) -> None:
        # `live_bid_accepted`, or `live_bid_waiting` for the clerk's Accept.
        metrics.BIDS.labels("accepted" if reply["type"] == "live_bid_accepted" else "waiting", "").inc()
        log.info(reply["type"], bid_id=reply["bid_id"], amount=reply["amount"], seq=reply.get("seq"),
                 latency_ms=round((time.perf_counter() - started) * 1000, 2))  # fmt: skip
        await self.send_json(reply)

    async def on_clerk(self, message: dict[str, Any]) -> None:
        action = message.get("action")
        try:
            if not self.is_clerk:
                raise Forbidden("Only the sale's clerks drive it.", reason="not_clerk")
            if not isinstance(action, str):
                raise InvalidBid("Which action?", field="action")
            args = {key: message[key] for key in CLERK_FIELDS if key in message}
            reply = await _clerk_action(
                user=self.user, sale_id=self.sale_id, action=action, console=self.channel_name, **args
            )
        except BidRefused as refusal:
            log.info("clerk_refused", action=action if isinstance(action, str) else None, code=refusal.code)
            await self.send_json(
                {
                    "type": "clerk_refused",
                    "action": action if isinstance(action, str) else None,
                    "code": refusal.code,
                    "message": refusal.message,
                    **refusal.details,
                }
            )
            return
        await self.send_json({**reply, "action": action})

    async def on_sync(self, message: dict[str, Any]) -> None:
        try:
            since = protocol.since_seq(message)
            lot_id = message.get("lot")
            if lot_id not in self.lot_ids or isinstance(lot_id, bool):
                raise InvalidBid("lot must be one of the sale's lots.", field="lot")
        except BidRefused as refusal:
            await self.send_json(lot_payloads.error(refusal))
            return
        await self.replay_lot_events(lot_id, since, viewer_id=self.user_id)
