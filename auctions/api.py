"""HTTP API for the catalogue: listing several lots at once, my lots, the watchlist; and the schema pieces and
refusal reply the lot API (bidding/lot_api.py) shares. Live updates come over the lot socket."""

from __future__ import annotations

import json

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from auctions import catalogue, payloads, photos, services, watchlist
from auctions.exceptions import HTTP_STATUS, BidRefused, InvalidBid, NotAuthenticated
from auctions.models import Lot

_LOT_ROW_FIELDS = {
    "id": serializers.IntegerField(),
    "title": serializers.CharField(),
    "status": serializers.CharField(),
    "high_bid": serializers.IntegerField(allow_null=True),
    "bid_count": serializers.IntegerField(),
    "min_next_bid": serializers.IntegerField(),
    "starts_at": serializers.DateTimeField(),
    "ends_at": serializers.DateTimeField(),
    "seq": serializers.IntegerField(),
    "reserve_met": serializers.BooleanField(),
    "has_reserve": serializers.BooleanField(),
    "buy_now_price": serializers.IntegerField(allow_null=True),
}
lot_rows = inline_serializer("LotRow", many=True, fields=_LOT_ROW_FIELDS)
lot_cards = inline_serializer(
    "LotCard",
    many=True,
    fields={
        **_LOT_ROW_FIELDS,
        "number": serializers.IntegerField(help_text='The public lot number ("Lot 42").'),
        "cover": serializers.CharField(allow_null=True, help_text="The cover thumbnail's address, if any."),
        "outcome": serializers.DictField(allow_null=True, help_text="How an ended lot turned out; null while it runs."),
    },
)
# The catalogue's GET parameters (auctions/catalogue.py), the same for the grid page and the list API.
catalogue_parameters = [
    OpenApiParameter("view", str, enum=catalogue.VIEWS, description="open (default) or results: ended lots."),
    OpenApiParameter("q", str, description="Words in the title or description."),
    OpenApiParameter("ending_soon", bool, description="Open lots ending within the hour."),
    OpenApiParameter("no_bids", bool, description="Lots without a bid yet."),
    OpenApiParameter("buy_now", bool, description="Lots that can be bought now."),
    OpenApiParameter("min_price", str, description="In the site's currency, e.g. 12.50."),
    OpenApiParameter("max_price", str, description="In the site's currency, e.g. 12.50."),
    OpenApiParameter("sort", str, enum=list(catalogue.SORTS), description="The view's default when left out."),
]


refusal_reply = inline_serializer(
    "Refusal", {"type": serializers.CharField(), "code": serializers.CharField(), "message": serializers.CharField()}
)
snapshot_reply = inline_serializer("LotSnapshot", {"type": serializers.CharField(), "seq": serializers.IntegerField()})
lot_input = inline_serializer(
    "LotInput",
    {
        "title": serializers.CharField(max_length=Lot.TITLE_MAX_CHARS),
        "description": serializers.CharField(required=False, max_length=Lot.DESCRIPTION_MAX_CHARS),
        "starting_price": serializers.IntegerField(help_text="Cents."),
        "reserve_price": serializers.IntegerField(required=False, allow_null=True, help_text="Cents; hidden."),
        "buy_now_price": serializers.IntegerField(
            required=False, allow_null=True, help_text="Cents; offered until the first bid."
        ),
        "starts_at": serializers.DateTimeField(),
        "ends_at": serializers.DateTimeField(),
        "soft_close_window": serializers.IntegerField(required=False),
        "soft_close_extension": serializers.IntegerField(required=False),
        "hard_end_at": serializers.DateTimeField(required=False, allow_null=True),
        "condition": serializers.ChoiceField(choices=Lot.Condition.values, required=False, allow_blank=True),
        "condition_note": serializers.CharField(required=False, max_length=Lot.CONDITION_NOTE_MAX_CHARS),
        "shipping_price": serializers.IntegerField(
            required=False, allow_null=True, help_text="Cents (0: free shipping); null: collection only."
        ),
        "ships_to": serializers.CharField(required=False, max_length=Lot.SHIPS_TO_MAX_CHARS),
        "collection_instructions": serializers.CharField(required=False, max_length=Lot.INSTRUCTIONS_MAX_CHARS),
        "buyers_premium_percent": serializers.DecimalField(
            required=False,
            max_digits=3,
            decimal_places=1,
            min_value=0,
            max_value=25,
            help_text="Percent of the hammer price, 0 to 25, to one decimal; a JSON number or a string.",
        ),
        "payment_instructions": serializers.CharField(required=False, max_length=Lot.INSTRUCTIONS_MAX_CHARS),
    },
    many=False,
)


class CatalogueView(APIView):
    """List several lots at once, all or none, with staggered ends: lot i ends `stagger_seconds` after lot i-1."""

    parser_classes = [JSONParser]

    @extend_schema(
        request=inline_serializer("Catalogue", {"stagger_seconds": serializers.IntegerField(), "lots": lot_input}),
        responses={
            201: inline_serializer("CatalogueCreated", {"lots": lot_rows}),
            400: refusal_reply,
            401: refusal_reply,
            403: refusal_reply,
        },
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        items = data.get("lots")
        try:
            if not isinstance(items, list) or not items:
                raise InvalidBid("lots must be a non-empty list.", field="lots")
            lots = services.create_catalogue(
                seller=request.user,
                stagger_seconds=data.get("stagger_seconds"),
                lots=[
                    lot_fields(item, required=REQUIRED_TO_CREATE if i == 0 else REQUIRED_TO_CREATE[:2])
                    for i, item in enumerate(items)
                ],
            )
        except BidRefused as refusal:
            return refused(refusal)
        now = timezone.now()
        return Response({"lots": [payloads.lot_summary(lot, now) for lot in lots]}, status=201)


class SellerLotsView(APIView):
    """The lots I sell, every status, newest first."""

    @extend_schema(responses=inline_serializer("SellerLots", {"lots": lot_rows}))
    def get(self, request: Request) -> Response:
        if not request.user.is_authenticated:
            return refused(NotAuthenticated("Log in to see your lots."))
        now = timezone.now()
        lots = Lot.objects.of_seller(request.user.pk).order_by("-created_at")[:500]
        return Response({"lots": [payloads.lot_summary(lot, now) for lot in lots]})


class WatchlistView(APIView):
    """The lots I watch, soonest end first."""

    @extend_schema(
        responses=inline_serializer("Watchlist", {"lots": serializers.ListField(child=serializers.IntegerField())})
    )
    def get(self, request: Request) -> Response:
        if not request.user.is_authenticated:
            return refused(NotAuthenticated("Log in to keep a watchlist."))
        return Response({"lots": watchlist.watched_lot_ids(request.user)})


class WatchLotView(APIView):
    """PUT: watch the lot. DELETE: stop watching it."""

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "Watching", {"lot": serializers.IntegerField(), "watching": serializers.BooleanField()}
            )
        },
    )
    def put(self, request: Request, lot_id: int) -> Response:
        return self._change(watchlist.watch_lot, request, lot_id, watching=True)

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "NotWatching", {"lot": serializers.IntegerField(), "watching": serializers.BooleanField()}
            )
        },
    )
    def delete(self, request: Request, lot_id: int) -> Response:
        return self._change(watchlist.unwatch_lot, request, lot_id, watching=False)

    def _change(self, action, request: Request, lot_id: int, *, watching: bool) -> Response:
        try:
            action(request.user, lot_id)
        except BidRefused as refusal:
            return refused(refusal)
        return Response({"lot": lot_id, "watching": watching})


def refused(refusal: BidRefused) -> Response:
    return Response(payloads.error(refusal), status=HTTP_STATUS[refusal.code])


# A lot with photos comes as multipart/form-data: the lot's JSON object in the part `lot`, each image a part `photos`.
lot_with_photos_input = inline_serializer(
    "LotWithPhotosInput",
    {
        "lot": serializers.CharField(help_text="The lot's fields as a JSON object (LotInput)."),
        "photos": serializers.ListField(
            child=serializers.ImageField(), required=False, help_text="JPEG, PNG or WebP images, in order."
        ),
    },
    many=False,
)


def lot_request(request: Request) -> tuple[object, list[photos.PreparedPhoto]]:
    """The lot's JSON fields and its uploaded photos, checked and re-encoded (refused whole if any one is not a
    photo), from a JSON body or a multipart one."""
    if not request.content_type.startswith("multipart/"):
        return request.data, []
    if not request.user.is_authenticated:  # decode nobody's images before they log in
        raise NotAuthenticated("Log in to sell.")
    try:
        data = json.loads(request.data.get("lot") or "{}")
    except ValueError:
        raise InvalidBid("The part `lot` must be a JSON object.", field="lot") from None
    return data, photos.prepare(request.FILES.getlist("photos"))


REQUIRED_TO_CREATE = ("title", "starting_price", "ends_at")  # no starts_at: open now, by the server's clock


def lot_fields(data: object, *, required: tuple[str, ...]) -> dict:
    """The JSON body's lot fields, times parsed (they must carry an offset); the service checks the rest."""
    if not isinstance(data, dict):
        raise InvalidBid("Each lot must be a JSON object.")
    unknown = sorted(set(data) - set(services.EDITABLE_FIELDS))
    if unknown:  # never silently ignore a field the caller thinks it set (seller, status, high_bid_amount…)
        raise InvalidBid(f"These fields cannot be set: {', '.join(unknown)}.", field=unknown[0])
    fields = dict(data)
    for name in required:
        if name not in fields:
            raise InvalidBid(f"{name} is required.", field=name)
    for name in ("starts_at", "ends_at", "hard_end_at"):
        if fields.get(name) is None and name == "hard_end_at":
            continue
        if name in fields:
            moment = parse_datetime(fields[name]) if isinstance(fields[name], str) else None
            if moment is None or moment.tzinfo is None:
                raise InvalidBid(f"{name} must be an ISO-8601 time with an offset.", field=name)
            fields[name] = moment
    return fields
