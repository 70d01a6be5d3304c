"""The lot socket: a snapshot, the lot's events in order, bids and buy now."""

from __future__ import annotations

import time
from typing import Any

import structlog
from django.utils import timezone

from auctions import payloads as lot_payloads
from auctions.exceptions import BidRefused
from bidding import metrics, payloads, presence, protocol
from bidding.consumers.base import GavelSocket, read_lot_seq, read_lot_snapshot
from bidding.protocol import CLOSE_LOT_NOT_FOUND
from bidding.services import abuy_now, aplace_bid

log = structlog.get_logger(__name__)


# A lot's latest seq, read at most once a second per process however many of its sockets ping.
LOT_SEQ_FRESH_SECONDS = 1.0
_lot_seqs: dict[int, tuple[float, int | None]] = {}


async def latest_seq(lot_id: int) -> int | None:
    now = time.monotonic()
    cached = _lot_seqs.get(lot_id)
    if cached is not None and now - cached[0] < LOT_SEQ_FRESH_SECONDS:
        return cached[1]
    seq = await read_lot_seq(lot_id)
    if len(_lot_seqs) > 10_000:
        _lot_seqs.clear()
    _lot_seqs[lot_id] = (now, seq)
    return seq


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
        await self.follow_lot(self.lot_id)
        snapshot = await read_lot_snapshot(self.lot_id, viewer_id=self.user_id)
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

    async def on_ping(self, message: dict[str, Any]) -> None:
        # The page pings to keep its clock estimate fresh; the answer also refreshes its watcher count, and tells
        # the lot's latest seq, so a client whose last event was lost sees the gap even when nothing else happens.
        pong = payloads.pong(now=timezone.now())
        pong["watchers"] = (await presence.watcher_counts([self.lot_id]))[self.lot_id]
        pong["seq"] = await latest_seq(self.lot_id)
        await self.send_json(pong)

    async def on_bid(self, message: dict[str, Any]) -> None:
        await self.decide_bid(
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
            self._accepted,
        )

    async def on_buy_now(self, message: dict[str, Any]) -> None:
        await self.decide_bid(
            message,
            abuy_now(
                user=self.scope.get("user"),
                lot_id=self.lot_id,
                bid_id=message.get("bid_id"),
                received_at=self.received_at,
            ),
            self._accepted,
        )

    async def _accepted(self, message: dict[str, Any], outcome, started: float) -> None:
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
        await self.replay_lot_events(self.lot_id, since, viewer_id=self.user_id)
