from django.contrib import admin

from auctions.models import Lot, LotEvent


@admin.register(Lot)
class LotAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "seller", "status", "high_bid_amount", "bid_count", "starts_at", "ends_at")
    list_filter = ("status",)
    search_fields = ("title", "seller__username")
    # The live state is written by the bid path under its locks; the admin may read it, never edit it.
    readonly_fields = ("high_bid_amount", "high_bidder", "bid_count", "bidder_count", "seq", "winner", "closed_at")


@admin.register(LotEvent)
class LotEventAdmin(admin.ModelAdmin):
    list_display = ("lot", "seq", "created_at")
    readonly_fields = ("lot", "seq", "payload", "created_at")
