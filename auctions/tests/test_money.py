"""Money as people read it: the site's currency, formatted for a locale (Babel's CLDR data), and the refusals that
name the highest amount. Pure: no database."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.template import Context, Template
from django.test import override_settings

from auctions.exceptions import InvalidBid
from auctions.money import check_cents, currency_problem, format_money, locale_from_accept_language

pytestmark = pytest.mark.pure


@pytest.mark.parametrize(
    ("cents", "locale", "shown"),
    [
        (3_750, None, "€37.50"),  # the site's LANGUAGE_CODE, en-us
        (3_750, "en_US", "€37.50"),
        (3_750, "de_DE", "37,50\xa0€"),
        (123_450, "de_DE", "1.234,50\xa0€"),
        (123_450, "fr_FR", "1\u202f234,50\xa0€"),
        (1, "en_US", "€0.01"),
        (1_000_000_000_000, "en_US", "€10,000,000,000.00"),
        (None, "en_US", "–"),
    ],
)
def test_amounts_are_shown_in_the_currency_for_a_locale(cents, locale, shown):
    assert format_money(cents, locale=locale) == shown


def test_the_currency_is_the_sites():
    with override_settings(CURRENCY="USD"):
        assert format_money(3_750) == "$37.50"
    with override_settings(CURRENCY="CHF"):
        assert format_money(3_750, locale="de_CH") == "CHF\xa037.50"


@pytest.mark.parametrize("code", ["EUR", "USD", "GBP", "CHF", "SEK", "CAD"])
def test_two_decimal_currencies_can_be_the_sites(code):
    assert currency_problem(code) is None


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("JPY", "JPY has 0 decimal places"),
        ("KWD", "KWD has 3 decimal places"),
        ("XYZ", "'XYZ' is not an ISO 4217 currency code"),
        ("eur", "'eur' is not an ISO 4217 currency code"),
        ("", "'' is not an ISO 4217 currency code"),
        ("EURO", "'EURO' is not an ISO 4217 currency code"),
    ],
)
def test_other_currencies_are_refused_with_the_reason(code, problem):
    assert currency_problem(code).startswith(problem)


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de_DE"),
        ("en-GB,en;q=0.9", "en_GB"),
        ("fr;q=0.5, de-CH", "de_CH"),
        ("xx-YY, nl", "nl"),
        ("*", "en_US"),
        ("", "en_US"),
        ("de;q=oops, it", "it"),
        ("de;q=0", "en_US"),
    ],
)
def test_the_visitors_locale_comes_from_accept_language(header, locale):
    assert locale_from_accept_language(header) == locale


def test_the_template_filter_formats_for_the_visitors_locale():
    template = Template("{% load money %}{{ cents|money:money_locale }}|{{ cents|money }}|{{ none|money }}")
    shown = template.render(Context({"cents": 3_750, "money_locale": "de_DE", "none": None}))
    assert shown == "37,50\xa0€|€37.50|–"


@pytest.mark.parametrize(
    ("field", "sentence"),
    [
        ("amount", "The highest bid this site takes is €10,000,000,000.00."),
        ("max_amount", "The highest maximum this site takes is €10,000,000,000.00."),
        ("starting_price", "The highest price this site takes is €10,000,000,000.00."),
    ],
)
def test_an_amount_over_the_highest_says_so(field, sentence):
    with pytest.raises(InvalidBid) as refused:
        check_cents(settings.MAX_BID_CENTS + 1, field=field)
    assert refused.value.message == sentence
    assert refused.value.details == {"field": field, "highest_amount": settings.MAX_BID_CENTS}
    assert check_cents(settings.MAX_BID_CENTS, field=field) == settings.MAX_BID_CENTS
