"""Idempotent creation of users and lots for demos, load tests and benchmarks."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts.models import Profile
from auctions.models import Lot, Sale
from auctions.sales import create_sale, register


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


def new_sale(
    *,
    prefix: str,
    password: str,
    lots: int,
    bidders: list,
    starting_price: int = 1_000,
    password_hash: str | None = None,
) -> tuple[Sale, list[Lot]]:
    """A new scheduled live sale of `lots` new lots, every bidder registered and approved, bids taken at the ask
    without the clerk's Accept. Each sale has a house of its own (`<prefix>-house-<n>`, its clerk), so the
    new-seller cap on scheduled lots counts one sale's lots only; a sale that ran cannot run again, so every call
    makes a new one."""
    house = ensure_user(
        f"{prefix}-house-{Sale.objects.count() + 1}",
        password,
        can_bid=False,
        can_sell=True,
        password_hash=password_hash,
    )
    title = f"{prefix} live sale"
    starts_at = timezone.now() + timedelta(hours=1)
    made = [
        Lot.objects.create(
            seller=house,
            title=f"{title}, lot {i + 1}",
            description=f"{title}, lot {i + 1}, listed for testing the live sale.",
            starting_price=starting_price,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=1),
            status=Lot.Status.SCHEDULED,
        )
        for i in range(lots)
    ]
    sale = create_sale(house=house, title=title, starts_at=starts_at, lot_ids=[lot.pk for lot in made])
    for bidder in bidders:
        register(user=bidder, sale_id=sale.pk)
    return sale, made
