"""The end-of-sale report (docs/live-sales.md "After the sale"): each lot of a live sale in catalogue order, its
result, hammer price, buyer and the channel the winning bid came through, read from the stored bids and the lots'
states (what verify_lot replays), never from the socket. The house's page and CSV, and the `sale_finished`
summary, are built from it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from auctions.models import Lot, LotEvent, Sale
from auctions.money import format_money
from auctions.payloads import bidder_alias, iso
from bidding.models import Bid

# The bid's source as the report names the channel: the floor is the room.
CHANNEL = {Bid.Source.FLOOR: "room", Bid.Source.INTERNET: "internet", Bid.Source.ABSENTEE: "absentee"}
CSV_HEADER = [
    "position",
    "title",
    "result",
    "hammer_cents",
    "hammer",
    "buyer",
    "paddle",
    "channel",
    "hammer_at",
]
# A spreadsheet runs a cell starting with one of these as a formula: such a cell is written behind a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Row:
    position: int
    lot_id: int
    title: str
    result: str  # sold, passed, not_offered; open while the sale runs
    amount: int | None
    buyer: str | None  # "floor", or the bidder's alias on the lot ("Bidder 2")
    paddle: int | None
    channel: str | None  # room, internet, absentee
    hammer_at: datetime | None


@dataclass(frozen=True)
class Report:
    sale: Sale
    rows: list[Row]

    @property
    def sold(self) -> int:
        return sum(row.result == "sold" for row in self.rows)

    @property
    def passed(self) -> int:
        return sum(row.result == "passed" for row in self.rows)

    @property
    def not_offered(self) -> int:
        return sum(row.result == "not_offered" for row in self.rows)

    @property
    def total(self) -> int:
        return sum(row.amount or 0 for row in self.rows if row.result == "sold")

    def summary(self) -> dict:
        return {"sold": self.sold, "passed": self.passed, "not_offered": self.not_offered, "total": self.total}


def sale_report(sale: Sale) -> Report:
    lots = list(sale.lots.order_by("sale_position"))
    sold_ids = [lot.pk for lot in lots if lot.live_state == Lot.LiveState.SOLD]
    winning: dict[int, Bid] = {}
    for bid in Bid.objects.filter(lot_id__in=sold_ids, withdrawn_at__isnull=True).order_by("lot_id", "seq"):
        winning[bid.lot_id] = bid  # the last standing bid: the one the hammer fell on
    # A passed lot put back on the block but not offered again is still waiting: its log says it passed.
    passed_before = set(
        LotEvent.objects.filter(lot__sale=sale, payload__event="passed").values_list("lot_id", flat=True)
    )
    return Report(sale=sale, rows=[_row(lot, winning.get(lot.pk), lot.pk in passed_before) for lot in lots])


def _row(lot: Lot, bid: Bid | None, passed_before: bool) -> Row:
    if lot.live_state == Lot.LiveState.SOLD and bid is not None:
        floor = bid.source == Bid.Source.FLOOR
        return Row(
            position=lot.sale_position,
            lot_id=lot.pk,
            title=lot.title,
            result="sold",
            amount=bid.amount,
            buyer="floor" if floor else bidder_alias(bid.bidder_number),
            paddle=bid.paddle,
            channel=CHANNEL.get(bid.source, bid.source),
            hammer_at=lot.hammer_at,
        )
    passed = lot.live_state == Lot.LiveState.PASSED or passed_before
    if lot.live_state in (Lot.LiveState.OPEN, Lot.LiveState.FAIR_WARNING):
        result = "open"  # a report read during the sale: this lot is being sold
    else:
        result = "passed" if passed else "not_offered"
    return Row(
        position=lot.sale_position,
        lot_id=lot.pk,
        title=lot.title,
        result=result,
        amount=None,
        buyer=None,
        paddle=None,
        channel=None,
        hammer_at=lot.hammer_at if result == "passed" else None,
    )


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def report_csv(report: Report) -> str:
    """One line per lot, then the totals: integer cents (`hammer_cents`) beside the formatted price."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in report.rows:
        writer.writerow(
            [
                _cell(value)
                for value in (
                    row.position,
                    row.title,
                    row.result,
                    row.amount,
                    format_money(row.amount) if row.amount is not None else "",
                    row.buyer,
                    row.paddle,
                    row.channel,
                    iso(row.hammer_at),
                )
            ]
        )
    writer.writerow([])
    writer.writerow(["sold", report.sold])
    writer.writerow(["passed", report.passed])
    writer.writerow(["not_offered", report.not_offered])
    writer.writerow(["total_cents", report.total])
    writer.writerow(["total", format_money(report.total)])
    return out.getvalue()
