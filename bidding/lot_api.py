"""HTTP API for one lot and the lot list: each answer that shows a lot is the same `snapshot` the lot socket sends
on connect (the viewer's alias and own maximum included) plus the lot's description, so these views live beside the
bids."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from auctions import catalogue, payloads, services
from auctions.api import (
    REQUIRED_TO_CREATE,
    catalogue_parameters,
    lot_cards,
    lot_fields,
    lot_input,
    lot_request,
    lot_with_photos_input,
    refusal_reply,
    refused,
    snapshot_reply,
)
from auctions.exceptions import BidRefused
from bidding.lot_actions import cancel_lot
from bidding.selectors import lot_snapshot

# A lot changed: its snapshot (200), or a refusal in the socket vocabulary.
_CHANGE_RESPONSES = {200: snapshot_reply} | {status: refusal_reply for status in (400, 401, 403, 404, 409)}


class LotListView(APIView):
    """GET: open and upcoming lots with their current state, soonest end first. POST: list a new lot (JSON, or
    multipart with its photos)."""

    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        request={"application/json": lot_input, "multipart/form-data": lot_with_photos_input},
        responses={201: snapshot_reply, 400: refusal_reply, 401: refusal_reply, 403: refusal_reply},
    )
    def post(self, request: Request) -> Response:
        try:
            data, photos = lot_request(request)
            lot = services.create_lot(
                seller=request.user, photos=photos, **lot_fields(data, required=REQUIRED_TO_CREATE)
            )
        except BidRefused as refusal:
            return refused(refusal)
        return Response(lot_snapshot(lot.pk, viewer_id=request.user.pk, description=True), status=201)

    @extend_schema(
        operation_id="lots_list",
        parameters=catalogue_parameters,
        responses=inline_serializer("LotList", {"server_time": serializers.DateTimeField(), "lots": lot_cards}),
    )
    def get(self, request: Request) -> Response:
        """The catalogue's cards for the GET parameters the grid page takes (auctions/catalogue.py)."""
        now = timezone.now()
        query = catalogue.parse(request.query_params)
        return Response({"server_time": payloads.iso(now), "lots": catalogue.cards(query, now=now)})


class LotDetailView(APIView):
    """GET: the `snapshot` the lot socket sends on connect, with the description. PATCH: edit the lot (seller,
    before any bid; multipart: with photos to add)."""

    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        request={"application/json": lot_input, "multipart/form-data": lot_with_photos_input},
        responses=_CHANGE_RESPONSES,
    )
    def patch(self, request: Request, lot_id: int) -> Response:
        try:
            data, photos = lot_request(request)
            services.update_lot(user=request.user, lot_id=lot_id, changes=lot_fields(data, required=()), photos=photos)
        except BidRefused as refusal:
            return refused(refusal)
        return Response(lot_snapshot(lot_id, viewer_id=request.user.pk, description=True))

    @extend_schema(responses=snapshot_reply)
    def get(self, request: Request, lot_id: int) -> Response:
        viewer = request.user.pk if request.user.is_authenticated else None
        snapshot = lot_snapshot(lot_id, viewer_id=viewer, description=True)
        if snapshot is None:
            return Response({"code": "not_found", "message": "There is no such lot."}, status=404)
        return Response(snapshot)


class LotCancelView(APIView):
    """Withdraw a lot with a reason: its seller before the first bid, staff at any time before it closes."""

    parser_classes = [JSONParser]

    @extend_schema(
        request=inline_serializer("CancelLot", {"reason": serializers.CharField(max_length=500)}),
        responses=_CHANGE_RESPONSES,
    )
    def post(self, request: Request, lot_id: int) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        try:
            cancel_lot(user=request.user, lot_id=lot_id, reason=data.get("reason"))
        except BidRefused as refusal:
            return refused(refusal)
        return Response(lot_snapshot(lot_id, viewer_id=request.user.pk, description=True))
