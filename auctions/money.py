"""Money crosses every boundary as a positive integer number of cents; anything else is refused."""

from __future__ import annotations

from django.conf import settings

from auctions.exceptions import InvalidBid


def check_cents(value: object, *, field: str) -> int:
    # bool is an int in Python; a float that happens to be whole is still a float on the wire.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidBid(f"{field} must be an integer number of cents.", field=field)
    if value <= 0:
        raise InvalidBid(f"{field} must be positive.", field=field)
    if value > settings.MAX_BID_CENTS:
        raise InvalidBid(f"{field} is larger than any amount this site accepts.", field=field)
    return value
