"""The catalogue's rules: what a visitor may search, filter and sort the lots by, read from GET parameters (so every
view of it is a link), and the one place the grid page and the JSON list API read their lots through.

Two views: `open` (open and upcoming lots, as the closing pass has not yet finished them) and `results` (lots that
are over: sold, not sold or withdrawn). Search is PostgreSQL full-text search on the title and the description where
the database is PostgreSQL, a plain case-insensitive match of every word elsewhere (the SQLite demo)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connections
from django.db.models import Q
from django.db.models.functions import Coalesce

from auctions import payloads
from auctions.models import Lot, LotQuerySet
from auctions.money import MINOR_DIGITS
from auctions.selectors import withdrawn_reasons

OPEN, RESULTS = "open", "results"
VIEWS = (OPEN, RESULTS)

# "Ending soon": open lots that end within this.
ENDING_SOON = timedelta(hours=1)
# A card's countdown turns urgent in the lot's last minutes.
URGENT = timedelta(minutes=5)
# At most this many cards at once, on the page and in the API's answer.
MAX_LOTS = 500
# A search longer than this is cut: no title or description word is longer, and the query stays cheap.
SEARCH_MAX_CHARS = 200
# The text search configuration (stemming: "clocks" finds "clock").
SEARCH_CONFIG = "english"

RELEVANCE = "relevance"
# Each sort: its name in a link, its label, and its ordering (the last columns make it stable).
SORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ending": ("Ending soonest", ("ends_at", "pk")),
    "newest": ("Newly listed", ("-created_at", "-pk")),
    "ended": ("Recently ended", ("-ends_at", "-pk")),
    "price_low": ("Price: low to high", ("price", "ends_at", "pk")),
    "price_high": ("Price: high to low", ("-price", "ends_at", "pk")),
    "bids": ("Most bids", ("-bid_count", "ends_at", "pk")),
    RELEVANCE: ("Best match", ("-rank", "ends_at", "pk")),
}
VIEW_SORTS = {
    OPEN: ("ending", "newest", "price_low", "price_high", "bids"),
    RESULTS: ("ended", "price_low", "price_high", "bids"),
}

_YES = {"1", "on", "true", "yes"}


@dataclass(frozen=True)
class Query:
    """A visitor's catalogue query, already checked: every field holds a value the rules accept. `problems` are
    sentences for what was given and ignored (a price that is not one)."""

    view: str = OPEN
    text: str = ""
    ending_soon: bool = False
    no_bids: bool = False
    buy_now: bool = False
    min_price: int | None = None  # cents
    max_price: int | None = None  # cents
    sort: str = ""  # "" = the view's default
    problems: tuple[str, ...] = ()

    @property
    def sorted_by(self) -> str:
        if self.sort:
            return self.sort
        return RELEVANCE if self.text and uses_full_text_search() else VIEW_SORTS[self.view][0]

    @property
    def sort_choices(self) -> list[tuple[str, str]]:
        names = ((RELEVANCE,) if self.text and uses_full_text_search() else ()) + VIEW_SORTS[self.view]
        return [(name, SORTS[name][0]) for name in names]

    @property
    def narrowed(self) -> bool:
        """Whether anything narrows the view (the empty grid then says nothing matched, not that nothing runs)."""
        prices = (self.min_price, self.max_price)
        return bool(self.text or self.ending_soon or self.no_bids or self.buy_now) or prices != (None, None)


def uses_full_text_search(using: str = "default") -> bool:
    return connections[using].vendor == "postgresql"


def parse(params: Mapping[str, str], *, view: str | None = None) -> Query:
    """The query in GET parameters `q`, `ending_soon`, `no_bids`, `buy_now`, `min_price`, `max_price` (in the site's
    currency, as people type them: "12", "12.50", "12,50"), `sort` and, unless the page fixes it, `view`. Anything
    unknown or malformed is left out rather than refused: a shared link still opens."""
    view = view or params.get("view") or OPEN
    if view not in VIEWS:
        view = OPEN
    problems = []
    prices = {}
    for name, label in (("min_price", "lowest"), ("max_price", "highest")):
        raw = (params.get(name) or "").strip()
        prices[name] = price_cents(raw) if raw else None
        if raw and prices[name] is None:
            problems.append(f"“{raw[:20]}” is not a price: the {label} price is ignored. Enter one like 12.50.")
    sort = params.get("sort") or ""
    # Only printable characters: PostgreSQL cannot take a NUL or a lone surrogate, and no lot has one.
    text = " ".join("".join(ch for ch in params.get("q") or "" if ch.isprintable() or ch.isspace()).split())
    text = text[:SEARCH_MAX_CHARS]
    if sort not in VIEW_SORTS[view] and not (sort == RELEVANCE and text):
        sort = ""
    is_open = view == OPEN
    return Query(
        view=view,
        text=text,
        ending_soon=is_open and (params.get("ending_soon") or "").lower() in _YES,
        no_bids=is_open and (params.get("no_bids") or "").lower() in _YES,
        buy_now=is_open and (params.get("buy_now") or "").lower() in _YES,
        min_price=prices["min_price"],
        max_price=prices["max_price"],
        sort=sort,
        problems=tuple(problems),
    )


def price_cents(raw: str) -> int | None:
    """A price as a person types it, in cents; None if it is not one. The last `.` or `,` followed by one or two
    digits is the decimal point; any other is grouping ("1,234.50", "1.234,50"); a currency sign is ignored."""
    digits = re.sub(r"[^\d.,]", "", raw)
    if not digits or not re.fullmatch(r"\d[\d.,]*", digits):
        return None
    whole, _, frac = digits.rpartition(".") if digits.rfind(".") > digits.rfind(",") else digits.rpartition(",")
    if not whole or len(frac) > MINOR_DIGITS:  # no decimal point: every separator is grouping
        whole, frac = digits, ""
    whole = re.sub(r"[.,]", "", whole)
    try:
        cents = int(Decimal(f"{whole}.{frac or '0'}").scaleb(MINOR_DIGITS))
    except InvalidOperation:
        return None
    return min(cents, settings.MAX_BID_CENTS)


def lots(query: Query, *, now: datetime, using: str = "default") -> LotQuerySet:
    """The lots the query picks, in its order, each annotated with `price` (the high bid, else the starting price:
    what a card shows) and, when searching PostgreSQL, `rank`."""
    found = Lot.objects.using(using).timed()  # live sales have their own catalogue, in sale order
    found = found.active() if query.view == OPEN else found.filter(status__in=Lot.FINAL_STATUSES)
    found = found.annotate(price=Coalesce("high_bid_amount", "starting_price"))
    if query.ending_soon:
        found = found.accepting_bids_at(now).filter(ends_at__lte=now + ENDING_SOON)
    if query.no_bids:
        found = found.filter(bid_count=0)
    if query.buy_now:  # offered until the first bid, while the lot takes bids (auctions.rules.buy_now_price)
        found = found.accepting_bids_at(now).filter(buy_now_price__isnull=False, bid_count=0)
    if query.min_price is not None:
        found = found.filter(price__gte=query.min_price)
    if query.max_price is not None:
        found = found.filter(price__lte=query.max_price)
    if query.text:
        found = search(found, query.text, full_text=uses_full_text_search(using))
    return found.order_by(*SORTS[query.sorted_by][1])


def search(found: LotQuerySet, text: str, *, full_text: bool) -> LotQuerySet:
    """The lots whose title or description has every word of `text`: full-text on PostgreSQL (annotated with
    `rank`), a case-insensitive substring match of each word otherwise."""
    if full_text:
        vector = SearchVector("title", weight="A", config=SEARCH_CONFIG) + SearchVector(
            "description", weight="B", config=SEARCH_CONFIG
        )
        # websearch: words are all required; "quoted phrases", `or` and -excluded words work as on a search engine.
        wanted = SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)
        return found.annotate(document=vector, rank=SearchRank(vector, wanted)).filter(document=wanted)
    for word in text.split():
        found = found.filter(Q(title__icontains=word) | Q(description__icontains=word))
    return found


def cards(query: Query, *, now: datetime) -> list[payloads.Payload]:
    """The catalogue grid's cards for the query (at most MAX_LOTS), each with how its lot turned out once over and
    its cover (the photos come in one more query for all the cards, never one a card)."""
    found = list(lots(query, now=now).prefetch_related("photos")[:MAX_LOTS])
    reasons = withdrawn_reasons([lot.pk for lot in found if lot.status == Lot.Status.CANCELLED])
    return [
        payloads.catalogue_card(lot, now=now, cover=cover(lot), withdrawn_reason=reasons.get(lot.pk)) for lot in found
    ]


def cover(lot: Lot) -> str | None:
    """The address of the lot's cover thumbnail (its first photo's, as stored by auctions/photos.py), or None: its
    card then shows a neutral placeholder. Only our own stored copies are ever put in the grid, never an address a
    seller typed (every visitor's browser would fetch from a host the seller chose). Prefetch `photos` when covering
    many lots."""
    photo = lot.cover_photo
    return photo.thumbnail.url if photo else None
