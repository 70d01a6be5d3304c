"""HTTP API for bids: the same service, the same codes and payloads as the lot socket."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from auctions import payloads as lot_payloads
from auctions import rules
from auctions.exceptions import HTTP_STATUS, BidRefused, NotAuthenticated, RateLimited
from auctions.models import Lot
from bidding import payloads
from bidding.models import Bid
from bidding.selectors import top_bid_by_lot
from bidding.services import buy_now, place_bid

_bid_reply = inline_serializer(
    "BidReply",
    {
        "type": serializers.ChoiceField(["bid_accepted", "bid_rejected"]),
        "lot": serializers.IntegerField(required=False),
        "bid_id": serializers.CharField(allow_null=True),
        "amount": serializers.IntegerField(required=False),
        "seq": serializers.IntegerField(required=False),
        "leading": serializers.BooleanField(required=False),
        "automatic": serializers.BooleanField(required=False),
        "max_amount": serializers.IntegerField(required=False, allow_null=True),
        "duplicate": serializers.BooleanField(required=False),
        "code": serializers.CharField(required=False),
        "message": serializers.CharField(required=False),
    },
)
# Accepted (201), or refused with the status of its code (auctions.exceptions.HTTP_STATUS), always in the same shape.
_BID_RESPONSES = {status: _bid_reply for status in (201, 400, 401, 403, 404, 409, 429, 503)}
_bid_request = inline_serializer(
    "BidRequest",
    {
        "amount": serializers.IntegerField(help_text="Cents; at least the minimum next bid."),
        "max_amount": serializers.IntegerField(
            required=False, help_text="Cents; your hidden maximum (automatic bids)."
        ),
        "bid_id": serializers.CharField(max_length=64, help_text="Client-chosen; reuse it to retry."),
    },
)
_buy_now_request = inline_serializer(
    "BuyNowRequest",
    {
        "bid_id": serializers.CharField(max_length=64, help_text="Client-chosen; reuse it to retry."),
    },
)


class _BidWriteView(APIView):
    """What the views that place bids share: JSON only, the bids throttle, refusals in the socket's vocabulary."""

    throttle_scope = "bids"
    throttle_classes = [ScopedRateThrottle]
    parser_classes = [JSONParser]  # money is a JSON integer; form fields would arrive as strings

    def throttled(self, request, wait):
        refusal = RateLimited(retry_after=int(wait or 1))
        raise _Refused(
            payloads.bid_rejected(request.data.get("bid_id") if hasattr(request.data, "get") else None, refusal),
            HTTP_STATUS[refusal.code],
        )

    def handle_exception(self, exc):
        if isinstance(exc, _Refused):
            return _refusal_response(exc.payload, exc.status)
        return super().handle_exception(exc)


class LotBidsView(_BidWriteView):
    """GET: the lot's bid history (public aliases, yours marked). POST: place a bid."""

    def get_throttles(self):
        return [ScopedRateThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        responses=inline_serializer(
            "BidHistory",
            {
                "lot": serializers.IntegerField(),
                "bids": inline_serializer(
                    "BidRow",
                    {
                        "seq": serializers.IntegerField(),
                        "amount": serializers.IntegerField(),
                        "bidder": serializers.CharField(),
                        "at": serializers.DateTimeField(),
                        "yours": serializers.BooleanField(),
                        "kind": serializers.ChoiceField(["manual", "automatic", "buy_now"]),
                        "outbid_at_once": serializers.BooleanField(),
                        "your_max_amount": serializers.IntegerField(allow_null=True, required=False),
                    },
                    many=True,
                ),
            },
        )
    )
    def get(self, request: Request, lot_id: int) -> Response:
        if not Lot.objects.filter(pk=lot_id).exists():
            return Response({"code": "not_found", "message": "There is no such lot."}, status=404)
        viewer = request.user.pk if request.user.is_authenticated else None
        rows = (
            Bid.objects.filter(lot_id=lot_id)
            .order_by("-seq")
            .values_list(
                "seq", "amount", "bidder_number", "created_at", "bidder_id", "kind", "outbid_at_once", "max_amount"
            )[:500]
        )
        return Response(
            {
                "lot": lot_id,
                "bids": [
                    {
                        "seq": seq,
                        "amount": amount,
                        "bidder": lot_payloads.bidder_alias(number),
                        "at": lot_payloads.iso(at),
                        "yours": bidder_id == viewer,
                        "kind": kind,
                        "outbid_at_once": outbid_at_once,
                        # A maximum is shown to its owner only.
                        **({"your_max_amount": max_amount} if bidder_id == viewer else {}),
                    }
                    for seq, amount, number, at, bidder_id, kind, outbid_at_once, max_amount in rows
                ],
            }
        )

    @extend_schema(
        request=_bid_request,
        responses=_BID_RESPONSES,
    )
    def post(self, request: Request, lot_id: int) -> Response:
        received_at = timezone.now()  # first thing: on time means received before the end
        data = request.data if isinstance(request.data, dict) else {}
        bid_id = data.get("bid_id")
        try:
            outcome = place_bid(
                user=request.user,
                lot_id=lot_id,
                amount=data.get("amount"),
                bid_id=bid_id,
                max_amount=data.get("max_amount"),
                received_at=received_at,
            )
        except BidRefused as refusal:
            return _refusal_response(payloads.bid_rejected(bid_id, refusal), HTTP_STATUS[refusal.code])
        return Response(payloads.bid_accepted(outcome), status=201)


class BuyNowView(_BidWriteView):
    """POST: buy the lot now at its buy-now price (offered until the first bid); the lot closes at once."""

    @extend_schema(
        request=_buy_now_request,
        responses=_BID_RESPONSES,
    )
    def post(self, request: Request, lot_id: int) -> Response:
        received_at = timezone.now()
        bid_id = request.data.get("bid_id") if isinstance(request.data, dict) else None
        try:
            outcome = buy_now(user=request.user, lot_id=lot_id, bid_id=bid_id, received_at=received_at)
        except BidRefused as refusal:
            return _refusal_response(payloads.bid_rejected(bid_id, refusal), HTTP_STATUS[refusal.code])
        return Response(payloads.bid_accepted(outcome), status=201)


class _Refused(Exception):
    def __init__(self, payload: dict, status: int) -> None:
        self.payload, self.status = payload, status


def _refusal_response(payload: dict, status: int) -> Response:
    response = Response(payload, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Token realm="api"'
    if status in (429, 503):
        response["Retry-After"] = str(payload.get("retry_after", 1))
    return response


class MyBidsView(APIView):
    """The lots I bid on: my highest bid on each, where I stand (auctions.rules.bidder_standing), and the lot's
    state; soonest end first."""

    @extend_schema(
        responses=inline_serializer(
            "MyBids",
            {
                "lots": inline_serializer(
                    "MyBidRow",
                    {
                        "lot": serializers.IntegerField(),
                        "title": serializers.CharField(),
                        "status": serializers.CharField(),
                        "my_highest": serializers.IntegerField(),
                        "high_bid": serializers.IntegerField(),
                        "standing": serializers.ChoiceField(
                            ["leading", "outbid", "ending", "won", "lost", "not_sold", "withdrawn"]
                        ),
                        "leading": serializers.BooleanField(help_text="standing is leading: the lot runs, you lead"),
                        "won": serializers.BooleanField(),
                        "ends_at": serializers.DateTimeField(),
                    },
                    many=True,
                )
            },
        )
    )
    def get(self, request: Request) -> Response:
        if not request.user.is_authenticated:
            return _refusal_response(lot_payloads.error(NotAuthenticated()), HTTP_STATUS[NotAuthenticated.code])
        now = timezone.now()
        mine = top_bid_by_lot(request.user.pk)
        lots = Lot.objects.filter(pk__in=mine).order_by("ends_at")[:500]
        rows = []
        for lot in lots:
            standing = rules.bidder_standing(lot, user_id=request.user.pk, now=now)
            rows.append(
                {
                    "lot": lot.pk,
                    "title": lot.title,
                    "status": rules.lot_status_at(lot, now),
                    "my_highest": mine[lot.pk],
                    "high_bid": lot.high_bid_amount,
                    "standing": standing,
                    "leading": standing == "leading",
                    "won": standing == "won",
                    "ends_at": lot_payloads.iso(lot.ends_at),
                }
            )
        return Response({"lots": rows})
