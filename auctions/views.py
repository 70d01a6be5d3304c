"""The pages. Each renders what it can at once; its script keeps it live (sockets or the JSON API)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from accounts.models import Profile
from auctions import payloads
from auctions.models import Lot, Watch
from auctions.selectors import withdrawn_reasons


def lot_list(request):
    lots = Lot.objects.active().prefetch_related("photos").order_by("ends_at")[:200]
    now = timezone.now()
    rows = [{**payloads.lot_summary(lot, now), "cover_thumbnail_url": _cover_thumbnail_url(lot)} for lot in lots]
    return render(request, "auctions/lot_list.html", {"lots": rows})


def _cover_thumbnail_url(lot: Lot) -> str | None:
    cover = lot.cover_photo
    return cover.thumbnail.url if cover else None


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
    return render(
        request,
        "auctions/lot_detail.html",
        {
            "lot": lot,
            "photos": list(lot.photos.all()),
            "outcome": outcome,
            "is_seller": user.is_authenticated and lot.seller_id == user.pk,
            "watching": user.is_authenticated and Watch.objects.filter(user=user, lot=lot).exists(),
        },
    )


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
        },
    )
