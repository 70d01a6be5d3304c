"""The seller dashboard socket: every event of the seller's lots, new listings, watcher counts."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from auctions import payloads as lot_payloads
from auctions import selectors
from auctions.exceptions import BidRefused, Forbidden, InvalidBid
from bidding import payloads, presence, protocol
from bidding.consumers.base import GavelSocket

log = structlog.get_logger(__name__)


_seller_dashboard = database_sync_to_async(selectors.seller_dashboard, thread_sensitive=False)
_seller_dashboard_lot_ids = database_sync_to_async(selectors.seller_dashboard_lot_ids, thread_sensitive=False)
_is_sellers_lot = database_sync_to_async(selectors.is_sellers_lot, thread_sensitive=False)


class SellerConsumer(GavelSocket):
    """ws/seller/: the seller's own lots, live: every lot event (bids, extensions, closes, cancellations) as it
    happens, plus watcher counts across all processes. Ownership is checked again on every client message."""

    client_types = frozenset({"sync", "refresh", "ping"})
    kind = "seller"

    async def connect(self) -> None:
        self.counts: dict[int, int] = {}
        if not await self.open(login_required=True, socket="seller"):
            return
        await self.on_refresh({})
        self.in_background(self._follow_presence())
        log.info("ws_open", lots=len(self.lots_followed))

    async def on_refresh(self, message: dict[str, Any]) -> None:
        """A fresh snapshot of every lot (also what a reconnecting dashboard gets first)."""
        # As on a lot socket: join the lots before reading them, so no event committed in between is missed, and
        # hold what arrives until the snapshot has gone out, so the snapshot is always first (a held event the
        # snapshot already includes has a seq the page ignores). A lot listed between the two reads is joined late;
        # the page hears of it through `seller_lot` and its next event.
        self.held = []
        try:
            for lot_id in await _seller_dashboard_lot_ids(self.user_id):
                await self.follow_lot(lot_id, watcher=False)
            rows = await _seller_dashboard(self.user_id)
            for row in rows:
                await self.follow_lot(row["id"], watcher=False)
            self.counts = await presence.watcher_counts([row["id"] for row in rows])
            for row in rows:
                row["watchers"] = self.counts.get(row["id"], 0)
            await self.send_json(payloads.seller_snapshot(rows, now=timezone.now()))
        finally:
            held, self.held = self.held, None
        for text in held:
            await self.send(text_data=text)

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
        await self.replay_lot_events(lot_id, since, viewer_id=None)

    async def user_event(self, event: dict[str, Any]) -> None:
        payload = event["payload"]
        if payload["type"] == "seller_lot":
            await self.follow_lot(payload["lot"]["id"], watcher=False)
        await self.send_json(payload)

    async def _follow_presence(self) -> None:
        while True:
            await asyncio.sleep(settings.PRESENCE_INTERVAL_SECONDS)
            try:
                counts = await presence.watcher_counts(sorted(self.lots_followed))
            except Exception:
                log.exception("presence_read_failed")
                continue
            changed = {lot_id: n for lot_id, n in counts.items() if self.counts.get(lot_id) != n}
            self.counts = counts
            if changed:
                await self.send_json(payloads.watchers(changed, now=timezone.now()))
