"""The bidder's pages: the lots I bid on (my top bid, and where I stand: leading or outbid while a lot runs; won,
lost, not sold or withdrawn once it is over) and the lots I watch; a live sale's screens — the clerk's console, the
internet bidder's page, the auctioneer's view and the room display — each opening the one sale socket,
ws/sales/<id>/, and computing its own status from the shared broadcast (docs/live-sales.md)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from auctions import payloads, rules
from auctions.models import Lot, Sale, SaleRegistration
from auctions.sales import may_clerk
from auctions.selectors import withdrawn_reasons
from bidding import live_console, live_selectors, sale_report
from bidding.selectors import top_bid_by_lot


@login_required
def my_bids(request):
    now = timezone.now()
    mine = top_bid_by_lot(request.user.pk)
    bid_lots = list(Lot.objects.filter(pk__in=mine).order_by("ends_at")[:200])
    watched = Lot.objects.watched_by(request.user.pk).order_by("ends_at")[:200]
    reasons = withdrawn_reasons([lot.pk for lot in bid_lots if lot.status == Lot.Status.CANCELLED])
    return render(
        request,
        "auctions/my_bids.html",
        {
            "bids": [
                {
                    **payloads.lot_summary(lot, now),
                    "mine": mine[lot.pk],
                    "standing": rules.bidder_standing(lot, user_id=request.user.pk, now=now),
                    "withdrawn_reason": reasons.get(lot.pk, ""),
                    "total": _total_owed(lot, user_id=request.user.pk),
                }
                for lot in bid_lots
            ],
            "watched": [payloads.lot_summary(lot, now) for lot in watched],
        },
    )


def _total_owed(lot: Lot, *, user_id: int) -> int | None:
    """What I owe for a lot I won (hammer + premium + shipping: auctions/rules.py winner_total); None otherwise."""
    total = rules.lot_winner_total(lot) if lot.winner_id == user_id else None
    return None if total is None else total.total


def _sale_lots(sale: Sale) -> dict[str, dict]:
    """What the sale's pages show of each lot beside the socket's state: its title, first photo and prices."""
    lots = sale.lots.order_by("sale_position").prefetch_related("photos")
    return {
        str(lot.pk): {
            "title": lot.title,
            "position": lot.sale_position,
            "starting_price": lot.starting_price,
            "has_reserve": lot.reserve_price is not None,
            "photo": next((photo.image.url for photo in lot.photos.all()), None),
        }
        for lot in lots
    }


@login_required
def clerk_console(request, sale_id: int):
    """The clerk's console: the sale's clerks, its house and staff only."""
    sale = get_object_or_404(Sale, pk=sale_id)
    if not may_clerk(request.user, sale):
        raise PermissionDenied("Only the sale's clerks drive it.")
    return render(
        request,
        "bidding/clerk_console.html",
        {
            "sale": sale,
            "sale_lots": _sale_lots(sale),
            "heartbeat_ms": round(live_console.HEARTBEAT_EVERY_SECONDS * 1000),
            "message_max": Sale.PAUSE_MESSAGE_MAX_CHARS,
        },
    )


@login_required
def clerk_bids(request, sale_id: int, lot_id: int):
    """A lot's bid history as its clerks see it (sources and paddles): the console reloads it on each bid."""
    sale = get_object_or_404(Sale, pk=sale_id)
    if not may_clerk(request.user, sale):
        raise PermissionDenied("Only the sale's clerks see the paddles.")
    lot = get_object_or_404(Lot, pk=lot_id, sale=sale)
    return JsonResponse({"lot": lot.pk, "bids": live_selectors.clerk_history(lot)})


def sale_live(request, sale_id: int):
    """The internet bidder's page: anyone may watch; registered bidders bid."""
    sale = get_object_or_404(Sale, pk=sale_id)
    user = request.user
    registration = SaleRegistration.objects.filter(sale=sale, user=user).first() if user.is_authenticated else None
    return render(
        request,
        "bidding/sale_live.html",
        {
            "sale": sale,
            "sale_lots": _sale_lots(sale),
            "is_house": user.is_authenticated and sale.house_id == user.pk,
            "is_clerk": may_clerk(user, sale),
            "registration": registration,
        },
    )


def sale_live_mine(request, sale_id: int):
    """The bidder's own side of the sale for their page (absentee maxima, aliases, how each absentee bid fared):
    read over HTTP by that bidder alone, so the broadcast stays one message for everyone."""
    sale = get_object_or_404(Sale, pk=sale_id)
    if not request.user.is_authenticated:
        return JsonResponse({"code": "not_authenticated", "message": "Log in to see your bids."}, status=401)
    return JsonResponse({"sale": sale.pk, "lots": live_selectors.bidder_lots(sale, request.user)})


@login_required
def auctioneer_view(request, sale_id: int):
    """The auctioneer's view: the console's state, large and read-only (the sale's clerks, its house and staff)."""
    sale = get_object_or_404(Sale, pk=sale_id)
    if not may_clerk(request.user, sale):
        raise PermissionDenied("Only the sale's clerks see who bids.")
    return render(request, "bidding/auctioneer.html", {"sale": sale, "sale_lots": _sale_lots(sale)})


def room_display(request, sale_id: int):
    """The room display, for a projector in the saleroom: public (it shows what the auctioneer calls aloud anyway:
    the lot, its price, its state, and whether the room or the internet leads), so no login is needed."""
    sale = get_object_or_404(Sale, pk=sale_id)
    return render(request, "bidding/room_display.html", {"sale": sale, "sale_lots": _sale_lots(sale)})


def _report_of(request, sale_id: int) -> sale_report.Report:
    sale = get_object_or_404(Sale, pk=sale_id)
    if not may_clerk(request.user, sale):
        raise PermissionDenied("Only the sale's house, its clerks and staff see its report.")
    return sale_report.sale_report(sale)


@login_required
def sale_report_page(request, sale_id: int):
    """The end-of-sale report: each lot's result, price, buyer and channel (the house, its clerks, staff)."""
    return render(request, "bidding/sale_report.html", {"report": _report_of(request, sale_id)})


@login_required
def sale_report_csv(request, sale_id: int):
    report = _report_of(request, sale_id)
    response = HttpResponse(sale_report.report_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sale-{report.sale.pk}-report.csv"'
    return response
