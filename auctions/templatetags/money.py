"""`{{ cents|money:money_locale }}`: an amount in the site's currency, formatted for the visitor's locale (the
context processor's `money_locale`, from Accept-Language); without an argument, for the site's LANGUAGE_CODE."""

from __future__ import annotations

from django import template

from auctions.money import format_money

register = template.Library()


@register.filter(name="money")
def money_filter(cents: int | None, locale: str | None = None) -> str:
    if cents is None or cents == "":
        return "–"
    return format_money(int(cents), locale=locale or None)
