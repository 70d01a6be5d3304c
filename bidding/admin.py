from django.contrib import admin

from bidding.models import Bid


@admin.register(Bid)
class BidAdmin(admin.ModelAdmin):
    """Bids are written only by bidding.services; the admin shows them, never a bidder's maximum."""

    list_display = ("lot", "seq", "amount", "bidder", "bidder_number", "kind", "created_at")
    list_filter = ("lot",)
    fields = readonly_fields = ("lot", "seq", "bidder", "bidder_number", "amount", "kind", "outbid_at_once",
                                "requested_amount", "bid_id", "created_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
