"""What every page's template needs besides its own view's context."""

from __future__ import annotations

from django.conf import settings

from auctions.money import locale_from_accept_language


def money(request) -> dict:
    """The site's currency and highest amount (base.html hands both to the pages' scripts, which format and read
    amounts for the visitor's locale), and the visitor's locale for amounts the server renders (the `money` filter)."""
    return {
        "currency": settings.CURRENCY,
        "max_amount_cents": settings.MAX_BID_CENTS,
        "money_locale": locale_from_accept_language(request.META.get("HTTP_ACCEPT_LANGUAGE", "")),
    }
