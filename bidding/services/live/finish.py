"""The end of a live sale: the clerk's explicit Finish (docs/live-sales.md "After the sale")."""

from __future__ import annotations

import structlog
from django.db import transaction

from auctions.exceptions import InvalidBid, LotNotOpen
from auctions.models import Sale
from bidding import live_payloads
from bidding.locks import lot_lock
from bidding.sale_report import sale_report
from bidding.services.live.block import BIDDING_STATES, announce, check_clerk, current_lot_id, locked, won_notices

log = structlog.get_logger(__name__)


def finish_sale(*, user, sale_id: int, **_) -> dict:
    """running or paused → finished. Never while a lot is open or at fair warning (sell or pass it first): a house
    ends a sale when the auctioneer says so, not when the catalogue runs out, for a passed lot may still be
    re-offered. A `finished` event on the lot on the block tells everyone on the sale socket; the buyer of that lot
    (if sold) gets their `won` notice, the house and every registered bidder `sale_finished` with the summary.
    Afterwards every bid and clerk's action is refused `closed` (`reason` `sale_finished`)."""
    lot_id = current_lot_id(sale_id)
    if lot_id is None:
        raise LotNotOpen("The sale has not started.", reason="not_running")
    with lot_lock(lot_id), transaction.atomic():
        block = locked(sale_id, lot_id)
        sale, lot, now = block.sale, block.lot, block.now
        check_clerk(user, sale)
        if sale.status not in (Sale.Status.RUNNING, Sale.Status.PAUSED):
            raise LotNotOpen("The sale has not started.", reason="not_running")
        selling = sale.lots.filter(live_state__in=BIDDING_STATES).order_by("sale_position").first()
        if selling is not None:
            raise InvalidBid("Sell or pass the lot on the block first.", field="action", lot=selling.pk)
        sale.status, sale.pause_message = Sale.Status.FINISHED, ""
        sale.save(update_fields=["status", "pause_message"])
        summary = sale_report(sale).summary()
        told = {sale.house_id, *sale.registrations.values_list("user_id", flat=True)}
        finished = live_payloads.sale_finished(sale, summary=summary, now=now)
        notify = [*won_notices(sale, lot, now), *[(user_id, finished) for user_id in sorted(told)]]
        announce(block, "finished", notify=notify, summary=summary)
        block.write()
    log.info("sale_finished", sale_id=sale_id, user_id=user.pk, **summary)
    return {**live_payloads.clerk_reply(lot), "sale_status": sale.status, "summary": summary}
