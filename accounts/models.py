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
    # Which notices also go by email (accounts/notice_mail_prefs.py); each mail's unsubscribe link turns its off.
    email_outbid = models.BooleanField("Outbid", default=True, help_text="Someone bid more than you.")
    email_won = models.BooleanField("Won", default=True, help_text="A lot you bid on closed and is yours.")
    email_closing_soon = models.BooleanField(
        "Closing soon", default=True, help_text="A lot on your watchlist ends in a minute."
    )
    email_withdrawn = models.BooleanField(
        "Withdrawn", default=True, help_text="A lot you bid on or watch was withdrawn."
    )

    def __str__(self) -> str:
        return f"profile of {self.user}"
