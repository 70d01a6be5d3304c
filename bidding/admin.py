"""The admin's bids, and its lots with the actions staff take on a live lot (cancel, extend, ban a bidder): each
action is one call to bidding/lot_actions.py, decided under the lot's lock and row lock. Nothing here is edited or
deleted (auctions/admin.py: ViewOnlyAdmin)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from auctions.admin import ViewOnlyAdmin, money_display
from auctions.exceptions import BidRefused
from auctions.models import Lot
from bidding import lot_actions
from bidding.models import Bid


@admin.register(Bid)
class BidAdmin(ViewOnlyAdmin):
    """Bids are written only by bidding.services; the admin shows them, never a bidder's maximum."""

    list_display = ("lot", "seq", "amount_money", "bidder", "bidder_number", "kind", "received_at", "created_at")
    list_filter = ("lot",)
    fields = readonly_fields = (
        "lot",
        "seq",
        "bidder",
        "bidder_number",
        "amount_money",
        "kind",
        "outbid_at_once",
        "requested_amount_money",
        "bid_id",
        "received_at",
        "created_at",
    )
    amount_money = money_display("amount", "amount")
    requested_amount_money = money_display("requested_amount", "requested amount")


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Told to the lot's bidders and watchers (and the seller).",
    )


class ExtendForm(ReasonForm):
    minutes = forms.IntegerField(
        min_value=1,
        max_value=lot_actions.MAX_EXTENSION_SECONDS // 60,
        help_text="Added to each lot's current end (never past its hard end).",
    )


class BanForm(ReasonForm):
    bidder = forms.TypedChoiceField(coerce=int, help_text="They may still watch; they can never bid again.")

    def __init__(self, *args, lot: Lot, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = "Told to the banned user."
        bidders = (
            Bid.objects.filter(lot=lot)
            .order_by("bidder_number")
            .values_list("bidder_id", "bidder_number", "bidder__username")
            .distinct()
        )
        self.fields["bidder"].choices = [(pk, f"Bidder {number} ({username})") for pk, number, username in bidders]


@admin.register(Lot)
class LotAdmin(ViewOnlyAdmin):
    list_display = ("id", "title", "seller", "status", "high_bid_amount_money", "bid_count", "starts_at", "ends_at")
    list_filter = ("status",)
    search_fields = ("title", "seller__username")
    # Every field is shown read-only; leader_max_amount is never shown at all: it is a bidder's secret.
    fields = readonly_fields = (
        "title",
        "description",
        "seller",
        "status",
        "starting_price_money",
        "reserve_price_money",
        "buy_now_price_money",
        "starts_at",
        "ends_at",
        "original_ends_at",
        "hard_end_at",
        "soft_close_window",
        "soft_close_extension",
        "high_bid_amount_money",
        "high_bidder",
        "bid_count",
        "bidder_count",
        "seq",
        "winner",
        "closed_at",
        "closing_soon_sent_at",
        "created_at",
    )
    # Lots are listed through auctions.services.create_lot (its checks, the seller's dashboard), never added here.
    actions = ["cancel_lots", "extend_lots", "ban_bidder"]
    # Money in the site's currency, never raw cents.
    starting_price_money = money_display("starting_price", "starting price")
    reserve_price_money = money_display("reserve_price", "reserve price")
    buy_now_price_money = money_display("buy_now_price", "buy now price")
    high_bid_amount_money = money_display("high_bid_amount", "high bid")

    def has_operate_permission(self, request) -> bool:
        """Who may run the staff actions: staff allowed to change lots."""
        return request.user.is_staff and request.user.has_perm("auctions.change_lot")

    @admin.action(description="Cancel with a reason…", permissions=["operate"])
    def cancel_lots(self, request, queryset):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._ask(
                request,
                queryset,
                form,
                action="cancel_lots",
                title="Cancel lots",
                intro="Bidding stops at once; bids are void; nobody wins.",
                submit="Cancel these lots",
            )
        for lot in queryset:
            self._run(
                request,
                lot,
                f"{lot} cancelled.",
                lot_actions.cancel_lot,
                user=request.user,
                lot_id=lot.pk,
                reason=form.cleaned_data["reason"],
            )
        return None

    @admin.action(description="Extend the end…", permissions=["operate"])
    def extend_lots(self, request, queryset):
        form = ExtendForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._ask(
                request,
                queryset,
                form,
                action="extend_lots",
                title="Extend lots",
                intro="Each lot's end moves later; watchers see the new end at once.",
                submit="Extend",
            )
        for lot in queryset:
            self._run(
                request,
                lot,
                f"{lot} extended.",
                lot_actions.extend_lot,
                user=request.user,
                lot_id=lot.pk,
                seconds=form.cleaned_data["minutes"] * 60,
                reason=form.cleaned_data["reason"],
            )
        return None

    @admin.action(description="Ban a bidder of this lot…", permissions=["operate"])
    def ban_bidder(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one lot to ban one of its bidders.", messages.ERROR)
            return None
        lot = queryset.get()
        form = BanForm(request.POST if "apply" in request.POST else None, lot=lot)
        if not form.is_valid():
            return self._ask(
                request,
                queryset,
                form,
                action="ban_bidder",
                title="Ban a bidder",
                intro="Their standing bids stand (cancel the lot to void them); they cannot bid again.",
                submit="Ban",
            )
        self._run(
            request,
            lot,
            "Bidder banned.",
            lot_actions.ban_bidder,
            user=request.user,
            bidder_id=form.cleaned_data["bidder"],
            reason=form.cleaned_data["reason"],
            lot_id=lot.pk,
        )
        return None

    def _run(self, request, lot: Lot, done: str, service, **arguments) -> None:
        try:
            service(**arguments)
        except BidRefused as refusal:
            self.message_user(request, f"{lot}: {refusal.message}", messages.ERROR)
        else:
            self.message_user(request, done, messages.SUCCESS)

    def _ask(self, request, queryset, form, *, action: str, title: str, intro: str, submit: str):
        """The intermediate page: the action's form; it posts back to the changelist with the same selection."""
        return TemplateResponse(
            request,
            "admin/auctions/lot/staff_action.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": title,
                "intro": intro,
                "submit": submit,
                "form": form,
                "lots": queryset,
                "action": action,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )
