from django.contrib import admin

from auctions.admin import ViewOnlyAdmin
from bidding.models import Bid


@admin.register(Bid)
class BidAdmin(ViewOnlyAdmin):
    """Bids are written only by bidding.services; the admin shows them, never a bidder's maximum."""

    list_display = ("lot", "seq", "amount", "bidder", "bidder_number", "kind", "received_at", "created_at")
    list_filter = ("lot",)
    fields = readonly_fields = (
        "lot",
        "seq",
        "bidder",
        "bidder_number",
        "amount",
        "kind",
        "outbid_at_once",
        "requested_amount",
        "bid_id",
        "received_at",
        "created_at",
    )
