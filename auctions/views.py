"""The pages. Each renders what it can at once; its script keeps it live (sockets or the JSON API)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from accounts.models import Profile
from auctions import catalogue, payloads, rules
from auctions.models import Lot, Sale, Watch
from auctions.selectors import withdrawn_reasons


def lot_list(request):
    """The catalogue grid: open and upcoming lots, searched, filtered and sorted by the GET parameters."""
    return _catalogue(request, view=catalogue.OPEN)


def results(request):
    """The catalogue's ended lots with how each turned out, searched and sorted by the same GET parameters."""
    return _catalogue(request, view=catalogue.RESULTS)


def _catalogue(request, *, view: str):
    query = catalogue.parse(request.GET, view=view)
    return render(
        request,
        "auctions/lot_list.html",
        {
            "query": query,
            "lots": catalogue.cards(query, now=timezone.now()),
            "urgent_seconds": int(catalogue.URGENT.total_seconds()),
            "search_max": catalogue.SEARCH_MAX_CHARS,
        },
    )


def lot_detail(request, lot_id: int):
    lot = get_object_or_404(Lot.objects.select_related("seller"), pk=lot_id)
    user = request.user
    # A finished lot shows how it ended from the first paint, before its socket says so again (with the winner's
    # alias, which only the bids know).
    outcome = payloads.outcome(
        lot,
        now=timezone.now(),
        winner_number=None,
        withdrawn_reason=withdrawn_reasons([lot.pk]).get(lot.pk) if lot.status == Lot.Status.CANCELLED else None,
        you_won=user.is_authenticated and lot.winner_id == user.pk,
    )
    is_seller = user.is_authenticated and lot.seller_id == user.pk
    is_winner = user.is_authenticated and lot.winner_id == user.pk
    return render(
        request,
        "auctions/lot_detail.html",
        {
            "lot": lot,
            "photos": list(lot.photos.all()),
            "outcome": outcome,
            "is_seller": is_seller,
            "watching": user.is_authenticated and Watch.objects.filter(user=user, lot=lot).exists(),
            # What the winner owes and the seller's instructions: to the winner and the seller alone.
            "after_sale": rules.lot_winner_total(lot) if is_winner or is_seller else None,
            "is_winner": is_winner,
            "other_lots": other_lots_of_seller(lot),
        },
    )


OTHER_LOTS_SHOWN = 4


def other_lots_of_seller(lot: Lot) -> list[Lot]:
    """A few of the seller's running lots besides this one, soonest end first: "Other lots by this seller"."""
    return list(Lot.objects.active().of_seller(lot.seller_id).exclude(pk=lot.pk).order_by("ends_at")[:OTHER_LOTS_SHOWN])


@login_required
def seller_dashboard(request):
    return render(
        request,
        "auctions/seller_dashboard.html",
        {
            "can_sell": Profile.objects.filter(user=request.user, can_sell=True).exists(),
            "title_max": Lot.TITLE_MAX_CHARS,
            "description_max": Lot.DESCRIPTION_MAX_CHARS,
            "photos_max": settings.PHOTOS_PER_LOT_MAX,
            "photo_max_mb": settings.PHOTO_MAX_BYTES // (1024 * 1024),
            "conditions": Lot.Condition.choices,
            "condition_note_max": Lot.CONDITION_NOTE_MAX_CHARS,
            "ships_to_max": Lot.SHIPS_TO_MAX_CHARS,
            "instructions_max": Lot.INSTRUCTIONS_MAX_CHARS,
            # The live sales this user runs or clerks: their consoles (bidding/views.py) are linked from here.
            "sales": Sale.objects.filter(Q(house=request.user) | Q(clerks=request.user))
            .exclude(status=Sale.Status.FINISHED)
            .distinct()
            .order_by("starts_at")[:50],
        },
    )
