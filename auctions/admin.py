"""The admin shows lots, their events and bids; it edits and deletes none of them.

Live state is written only by the services, under the lot's lock and row lock: a change form opened before a bid
and saved after it would silently undo the bid's effects. Lots and their staff actions are registered by
bidding/admin.py (each action is decided under the lot's lock); their events here.
"""

from __future__ import annotations

from django.contrib import admin

from auctions.models import LotEvent
from auctions.money import format_money


def money_display(field: str, label: str):
    """A read-only column or field showing `field` (integer cents) as money in the site's currency, not raw cents."""

    @admin.display(description=label, ordering=field)
    def show(self, obj) -> str:
        return format_money(getattr(obj, field))

    show.__name__ = f"{field}_money"
    return show


class ViewOnlyAdmin(admin.ModelAdmin):
    """Shown, never added, edited or deleted here: the services write these rows, under the lot's locks."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LotEvent)
class LotEventAdmin(ViewOnlyAdmin):
    """The lot's broadcasts, as sent: the record `sync` replays and verify_lot checks."""

    list_display = ("lot", "seq", "created_at")
    fields = readonly_fields = ("lot", "seq", "payload", "created_at")
