"""Money crosses every boundary as a positive integer number of cents; anything else is refused. Shown to people it
is an amount in the site's one currency (settings.CURRENCY), formatted by CLDR's rules (Babel) for a locale."""

from __future__ import annotations

from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision, is_currency
from django.conf import settings
from django.utils.translation import to_locale

from auctions.exceptions import InvalidBid

# Amounts are integer cents everywhere (bids, the wire, the database): a currency must have exactly two.
MINOR_DIGITS = 2
# An Accept-Language header names the visitor's languages, best first; only so many are tried.
ACCEPT_LANGUAGE_MAX_CHARS = 500
ACCEPT_LANGUAGE_MAX_TAGS = 8


def check_cents(value: object, *, field: str) -> int:
    # bool is an int in Python; a float that happens to be whole is still a float on the wire.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidBid(f"{field} must be an integer number of cents.", field=field)
    if value <= 0:
        raise InvalidBid(f"{field} must be positive.", field=field)
    if value > settings.MAX_BID_CENTS:
        what = {"amount": "bid", "max_amount": "maximum"}.get(field, "price")
        raise InvalidBid(
            f"The highest {what} this site takes is {format_money(settings.MAX_BID_CENTS)}.",
            field=field,
            highest_amount=settings.MAX_BID_CENTS,
        )
    return value


def currency_problem(code: object) -> str | None:
    """Why `code` cannot be the site's currency, or None when it can."""
    if not isinstance(code, str) or len(code) != 3 or not code.isascii() or not code.isupper() or not is_currency(code):
        return f"{code!r} is not an ISO 4217 currency code (such as EUR, USD, GBP or CHF)"
    digits = get_currency_precision(code)
    if digits != MINOR_DIGITS:
        return (
            f"{code} has {digits} decimal places; amounts are kept in hundredths (cents), so only currencies with"
            f" {MINOR_DIGITS} can be used (such as EUR, USD, GBP or CHF)"
        )
    return None


def default_locale() -> str:
    """The locale of the admin and of server messages: the site's LANGUAGE_CODE (en-us → en_US)."""
    return to_locale(settings.LANGUAGE_CODE)


def format_money(cents: int | None, *, locale: str | None = None) -> str:
    """`3750` → "€37.50" (en_US), "37,50 €" (de_DE); None → "–"."""
    if cents is None:
        return "–"
    return format_currency(Decimal(cents).scaleb(-MINOR_DIGITS), settings.CURRENCY, locale=locale or default_locale())


def locale_from_accept_language(header: str) -> str:
    """The first locale Babel knows among a request's Accept-Language tags, by preference; else the default."""
    tags = []
    for index, part in enumerate(header[:ACCEPT_LANGUAGE_MAX_CHARS].split(",")):
        tag, _, params = part.strip().partition(";")
        try:
            quality = float(params.strip().removeprefix("q=")) if params else 1.0
        except ValueError:
            continue
        if tag and tag != "*" and quality > 0:
            tags.append((-quality, index, tag))
    for _, _, tag in sorted(tags)[:ACCEPT_LANGUAGE_MAX_TAGS]:
        try:
            return str(Locale.parse(tag, sep="-"))
        except (ValueError, TypeError, UnknownLocaleError):
            continue
    return default_locale()
