from django.contrib import admin

from bidding.models import Bid


@admin.register(Bid)
class BidAdmin(admin.ModelAdmin):
    list_display = ("lot", "seq", "amount", "bidder", "bidder_number", "created_at")
    list_filter = ("lot",)
    # Bids are written only by bidding.services.place_bid; the admin shows them.
    readonly_fields = ("lot", "bidder", "amount", "bid_id", "seq", "bidder_number", "created_at")

    def has_add_permission(self, request) -> bool:
        return False
