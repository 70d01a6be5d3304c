"""HTTP API for live sales before the block: a house creates a sale, bidders register and leave absentee bids.
JSON, integer cents, session or token authentication; refusals in the one vocabulary (auctions/exceptions.py)."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from auctions import payloads, sales
from auctions.api import refusal_reply, refused
from auctions.exceptions import BidRefused, InvalidBid

_REFUSALS = {status: refusal_reply for status in (400, 401, 403, 404, 409)}
SALE_FIELDS = ("title", "starts_at", "lots", "requires_approval", "auto_accept")

sale_reply = inline_serializer(
    "Sale",
    {
        "id": serializers.IntegerField(),
        "title": serializers.CharField(),
        "starts_at": serializers.DateTimeField(),
        "status": serializers.CharField(),
        "requires_approval": serializers.BooleanField(),
        "auto_accept": serializers.BooleanField(),
        "lots": serializers.ListField(child=serializers.IntegerField(), help_text="Lot ids in catalogue order."),
    },
)


def _object(data: object, allowed: tuple[str, ...]) -> dict:
    if not isinstance(data, dict):
        raise InvalidBid("The body must be a JSON object.")
    unknown = sorted(set(data) - set(allowed))
    if unknown:  # never silently ignore a field the caller thinks it set
        raise InvalidBid(f"These fields cannot be set: {', '.join(unknown)}.", field=unknown[0])
    return data


def _flag(data: dict, name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise InvalidBid(f"{name} must be true or false.", field=name)
    return value


registration_reply = inline_serializer(
    "SaleRegistration",
    {"sale": serializers.IntegerField(), "paddle": serializers.IntegerField(), "approved": serializers.BooleanField()},
)


class SalesView(APIView):
    """POST: the house creates a live sale of its own lots (scheduled, not yet started), in the order given."""

    parser_classes = [JSONParser]

    @extend_schema(
        request=inline_serializer(
            "SaleInput",
            {
                "title": serializers.CharField(),
                "starts_at": serializers.DateTimeField(),
                "lots": serializers.ListField(child=serializers.IntegerField()),
                "requires_approval": serializers.BooleanField(required=False),
                "auto_accept": serializers.BooleanField(required=False),
            },
        ),
        responses={201: sale_reply, **_REFUSALS},
    )
    def post(self, request: Request) -> Response:
        try:
            data = _object(request.data, SALE_FIELDS)
            starts_at = parse_datetime(data["starts_at"]) if isinstance(data.get("starts_at"), str) else None
            sale = sales.create_sale(
                house=request.user,
                title=data.get("title"),
                starts_at=starts_at,
                lot_ids=data.get("lots"),
                requires_approval=_flag(data, "requires_approval", False),
                auto_accept=_flag(data, "auto_accept", True),
            )
        except BidRefused as refusal:
            return refused(refusal)
        return Response(payloads.sale_summary(sale, data["lots"]), status=201)


class SaleRegistrationView(APIView):
    """POST: register for the sale; your paddle number and whether the house has approved you (201 when new, 200
    when you were already registered)."""

    @extend_schema(
        request=None,
        responses={201: registration_reply, 200: registration_reply, **_REFUSALS},
    )
    def post(self, request: Request, sale_id: int) -> Response:
        try:
            registration, created = sales.register(user=request.user, sale_id=sale_id)
        except BidRefused as refusal:
            return refused(refusal)
        return Response(payloads.sale_registration(registration), status=201 if created else 200)


class AbsenteeBidView(APIView):
    """PUT: leave or raise your secret maximum on a lot of a live sale before it is offered (201 when new). DELETE:
    withdraw it."""

    parser_classes = [JSONParser]
    absentee_reply = inline_serializer(
        "AbsenteeBid",
        {
            "lot": serializers.IntegerField(),
            "max_amount": serializers.IntegerField(),
            "placed_at": serializers.CharField(),
        },
    )

    @extend_schema(
        request=inline_serializer("AbsenteeBidInput", {"max_amount": serializers.IntegerField(help_text="Cents.")}),
        responses={201: absentee_reply, 200: absentee_reply, **_REFUSALS},
    )
    def put(self, request: Request, lot_id: int) -> Response:
        try:
            data = _object(request.data, ("max_amount",))
            bid, created = sales.set_absentee_bid(user=request.user, lot_id=lot_id, max_amount=data.get("max_amount"))
        except BidRefused as refusal:
            return refused(refusal)
        return Response(payloads.absentee_bid(bid), status=201 if created else 200)

    @extend_schema(
        request=None,
        responses={200: inline_serializer("AbsenteeWithdrawn", {"withdrawn": serializers.BooleanField()}), **_REFUSALS},
    )
    def delete(self, request: Request, lot_id: int) -> Response:
        try:
            withdrawn = sales.withdraw_absentee_bid(user=request.user, lot_id=lot_id)
        except BidRefused as refusal:
            return refused(refusal)
        return Response({"withdrawn": withdrawn})
