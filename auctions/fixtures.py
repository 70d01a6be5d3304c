"""Idempotent creation of users and lots for demos, load tests and benchmarks."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import Profile
from auctions.models import Lot


def ensure_user(
    username: str,
    password: str,
    *,
    can_bid: bool,
    can_sell: bool = False,
    is_staff: bool = False,
    password_hash: str | None = None,
):
    """`password_hash` lets a caller hash once for many users (hashing costs ~0.3 s each)."""
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": is_staff})
    user.password = password_hash or make_password(password)
    user.is_staff = user.is_staff or is_staff
    user.is_superuser = user.is_superuser or is_staff
    user.save()
    Profile.objects.update_or_create(user=user, defaults={"can_bid": can_bid, "can_sell": can_sell, "banned": False})
    return user


def ensure_open_lots(seller, *, titles: list[str], minutes: float, starting_price: int = 1_000) -> list[Lot]:
    """Open lots with these titles for this seller, ending `minutes` from now; an existing open one is reused."""
    now = timezone.now()
    lots = []
    for title in titles:
        lot = Lot.objects.of_seller(seller.pk).active().filter(title=title, ends_at__gt=now).first()
        if lot is None:
            lot = Lot.objects.create(
                seller=seller,
                title=title,
                description=f"{title}, listed for testing the live bid path.",
                starting_price=starting_price,
                starts_at=now - timedelta(seconds=1),
                ends_at=now + timedelta(minutes=minutes),
                status=Lot.Status.OPEN,
            )
        lots.append(lot)
    return lots
