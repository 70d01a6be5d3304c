from __future__ import annotations

from django.conf import settings
from django.db import models


class Profile(models.Model):
    """What the platform knows about a user beyond Django's auth: may they bid, may they sell."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    can_bid = models.BooleanField(default=False, help_text="Verified bidder: may place bids.")
    # Listing is granted by staff, never by signing up: a fresh account cannot fill the catalogue.
    can_sell = models.BooleanField(default=False, help_text="Verified seller: may list lots.")
    banned = models.BooleanField(default=False, help_text="Banned users may watch but never bid.")

    def __str__(self) -> str:
        return f"profile of {self.user}"
