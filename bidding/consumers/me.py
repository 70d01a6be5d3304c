"""The personal socket: notices for whichever page is open, and what was missed while away."""

from __future__ import annotations

from typing import Any

import structlog
from channels.db import database_sync_to_async
from django.utils import timezone

from auctions import payloads as lot_payloads
from auctions import selectors, watchlist
from auctions.exceptions import BidRefused
from bidding import payloads, protocol
from bidding.consumers.base import GavelSocket

log = structlog.get_logger(__name__)


_watched_lot_ids = database_sync_to_async(watchlist.watched_lot_ids, thread_sensitive=False)
_notices_since = database_sync_to_async(selectors.notices_since, thread_sensitive=False)
_latest_notice_id = database_sync_to_async(selectors.latest_notice_id, thread_sensitive=False)


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
