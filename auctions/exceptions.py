"""Why a bid (or any client message) was refused. Each class is one machine-readable code.

The consumer and the HTTP API both turn these into the same reply (bidding.payloads.bid_rejected), so a client
sees one vocabulary whatever the transport. docs/protocol.md lists them.
"""

from __future__ import annotations

from typing import Any


class BidRefused(Exception):
    code = "invalid"
    default_message = "The request was not understood."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)


class InvalidBid(BidRefused):
    code = "invalid"
    default_message = "The message is malformed."


class InvalidPhoto(InvalidBid):
    """An upload that is not a photo the site stores (not an image, too large, too many): `invalid`, field `photos`."""


class NotAuthenticated(BidRefused):
    code = "not_authenticated"
    default_message = "Log in to bid."


class Forbidden(BidRefused):
    """details['reason'] says which rule: not_verified, banned, own_lot."""

    code = "forbidden"
    default_message = "You may not bid on this lot."


class LotNotFound(BidRefused):
    code = "not_found"
    default_message = "There is no such lot."


class LotNotOpen(BidRefused):
    code = "not_open"
    default_message = "Bidding on this lot has not started yet."


class LotClosed(BidRefused):
    code = "closed"
    default_message = "Bidding on this lot has ended."


class LiveLot(BidRefused):
    """A timed bid (or buy now, or an end-time change) on a lot in a live sale: it is bid on on the block."""

    code = "live_lot"
    default_message = "This lot is sold in a live sale: bid on it in the sale."


class TooLow(BidRefused):
    """details['min_next_bid'] carries the lowest amount that would be accepted now."""

    code = "too_low"
    default_message = "Your bid is below the minimum next bid."


class BuyNowUnavailable(BidRefused):
    code = "buy_now_unavailable"
    default_message = "Buy now is not offered on this lot (any more): it ends with the first bid."


class RateLimited(BidRefused):
    code = "rate_limited"
    default_message = "Too many messages; slow down."


class Busy(BidRefused):
    code = "busy"
    default_message = "This lot is very busy; please try again."


class Unavailable(BidRefused):
    code = "unavailable"
    default_message = "Bidding is briefly unavailable; please try again."


# One table: the HTTP status that carries each refusal code, so the API and the socket answer alike.
HTTP_STATUS: dict[str, int] = {
    InvalidBid.code: 400,
    NotAuthenticated.code: 401,
    Forbidden.code: 403,
    LotNotFound.code: 404,
    LotNotOpen.code: 409,
    LotClosed.code: 409,
    LiveLot.code: 409,
    TooLow.code: 409,
    BuyNowUnavailable.code: 409,
    RateLimited.code: 429,
    Busy.code: 503,
    Unavailable.code: 503,
}
