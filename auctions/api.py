"""HTTP API for lot state, for a page's first paint and for scripts; live updates come over the lot socket."""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from auctions import selectors, watchlist
from auctions.models import Lot
from bidding import events
from bidding.exceptions import HTTP_STATUS, BidRefused, NotAuthenticated

_lot_row = inline_serializer("LotRow", many=True, fields={
    "id": serializers.IntegerField(), "title": serializers.CharField(), "status": serializers.CharField(),
    "high_bid": serializers.IntegerField(allow_null=True), "bid_count": serializers.IntegerField(),
    "min_next_bid": serializers.IntegerField(), "starts_at": serializers.DateTimeField(),
    "ends_at": serializers.DateTimeField(), "seq": serializers.IntegerField(), "reserve_met": serializers.BooleanField(),
})


class LotListView(APIView):
    """Open and upcoming lots with their current state, soonest end first."""

    @extend_schema(operation_id="lots_list", responses=inline_serializer("LotList", {"server_time": serializers.DateTimeField(),
                                                           "lots": _lot_row}))
    def get(self, request: Request) -> Response:
        now = timezone.now()
        lots = Lot.objects.filter(status__in=[Lot.Status.SCHEDULED, Lot.Status.OPEN]).order_by("ends_at")[:500]
        return Response({"server_time": events.iso(now), "lots": [
            {"id": lot.pk, "title": lot.title, "status": events.lot_status_at(lot, now),
             "high_bid": lot.high_bid_amount, "bid_count": lot.bid_count, "min_next_bid": events.lot_min_next_bid(lot),
             "starts_at": events.iso(lot.starts_at), "ends_at": events.iso(lot.ends_at), "seq": lot.seq,
             "reserve_met": lot.reserve_met}
            for lot in lots
        ]})


class LotDetailView(APIView):
    """The same `snapshot` the lot socket sends on connect."""

    @extend_schema(responses=inline_serializer("LotSnapshot", {"type": serializers.CharField(),
                                                               "seq": serializers.IntegerField()}))
    def get(self, request: Request, lot_id: int) -> Response:
        viewer = request.user.pk if request.user.is_authenticated else None
        snapshot = selectors.lot_snapshot(lot_id, viewer_id=viewer)
        if snapshot is None:
            return Response({"code": "not_found", "message": "There is no such lot."}, status=404)
        return Response(snapshot)


class WatchlistView(APIView):
    """The lots I watch, soonest end first."""

    @extend_schema(responses=inline_serializer("Watchlist", {"lots": serializers.ListField(
        child=serializers.IntegerField())}))
    def get(self, request: Request) -> Response:
        if not request.user.is_authenticated:
            return _refused(NotAuthenticated("Log in to keep a watchlist."))
        return Response({"lots": watchlist.watched_lot_ids(request.user)})


class WatchLotView(APIView):
    """PUT: watch the lot. DELETE: stop watching it."""

    @extend_schema(request=None, responses={200: inline_serializer("Watching", {
        "lot": serializers.IntegerField(), "watching": serializers.BooleanField()})})
    def put(self, request: Request, lot_id: int) -> Response:
        return self._change(watchlist.watch_lot, request, lot_id, watching=True)

    @extend_schema(request=None, responses={200: inline_serializer("NotWatching", {
        "lot": serializers.IntegerField(), "watching": serializers.BooleanField()})})
    def delete(self, request: Request, lot_id: int) -> Response:
        return self._change(watchlist.unwatch_lot, request, lot_id, watching=False)

    def _change(self, action, request: Request, lot_id: int, *, watching: bool) -> Response:
        try:
            action(request.user, lot_id)
        except BidRefused as refusal:
            return _refused(refusal)
        return Response({"lot": lot_id, "watching": watching})


def _refused(refusal: BidRefused) -> Response:
    return Response(events.error(refusal), status=HTTP_STATUS[refusal.code])
