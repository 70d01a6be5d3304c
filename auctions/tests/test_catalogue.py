"""The catalogue's query rules (auctions/catalogue.py) against the real database: full-text search on PostgreSQL,
each filter, each sort, the results view, and GET parameters read leniently; the JSON API answers alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from auctions import catalogue
from auctions.models import Lot

MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


def _titles(query: catalogue.Query) -> list[str]:
    return [lot.title for lot in catalogue.lots(query, now=timezone.now())]


def _q(**params) -> catalogue.Query:
    return catalogue.parse({name: str(value) for name, value in params.items()})


@pytest.fixture
def shelf(make_lot, seller, bidder):
    """Open lots of different prices, ends, bids and buy now; one scheduled, one closed, one withdrawn."""
    lots = {
        "telescope": make_lot(
            seller=seller,
            title="Brass telescope",
            description="A nautical instrument with its original leather case.",
            starting_price=5_000,
            ends_in=10 * MINUTE,
        ),
        "desk": make_lot(
            seller=seller, title="Oak writing desk", description="Three drawers, brass handles.", ends_in=3 * HOUR
        ),
        "clocks": make_lot(
            seller=seller,
            title="Two mantel clocks",
            description="Both wind and keep time.",
            starting_price=2_000,
            buy_now_price=9_000,
            ends_in=2 * HOUR,
        ),
        "vase": make_lot(
            seller=seller,
            title="Glass vase",
            starting_price=1_000,
            high_bid_amount=3_000,
            bid_count=4,
            ends_in=90 * MINUTE,
        ),
        "print": make_lot(
            seller=seller, title="Harbour print", status=Lot.Status.SCHEDULED, starts_in=HOUR, ends_in=5 * HOUR
        ),
        "chair": make_lot(
            seller=seller,
            title="Sold chair",
            status=Lot.Status.CLOSED,
            starts_in=-2 * HOUR,
            ends_in=-HOUR,
            high_bid_amount=4_000,
            bid_count=2,
            winner=bidder,
            closed_at=timezone.now(),
        ),
        "lamp": make_lot(seller=seller, title="Withdrawn lamp", status=Lot.Status.CANCELLED, closed_at=timezone.now()),
    }
    return lots


pytestmark = pytest.mark.django_db


@pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text search is PostgreSQL's")
def test_a_word_in_a_description_finds_its_lot_and_no_other(shelf):
    assert catalogue.uses_full_text_search()
    assert _titles(_q(q="nautical")) == ["Brass telescope"]
    assert _titles(_q(q="NAUTICAL leather")) == ["Brass telescope"]  # every word, any case
    assert _titles(_q(q="clock")) == ["Two mantel clocks"]  # stemmed: "clock" finds "clocks"
    assert _titles(_q(q="nautical drawers")) == []
    assert set(_titles(_q(q="nautical or drawers"))) == {"Brass telescope", "Oak writing desk"}
    assert _titles(_q(q="brass -desk")) == ["Brass telescope"]
    assert _titles(_q(q="print")) == ["Harbour print"]  # upcoming lots are in the open view too
    assert _titles(_q(q="chair")) == []  # ended lots are only in the results
    assert _titles(_q(q="chair", view="results")) == ["Sold chair"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="full-text search is PostgreSQL's")
def test_a_search_ranks_a_title_match_above_a_description_match(shelf):
    # "brass" is in the telescope's title and in the desk's description; the desk ends first.
    shelf["desk"].ends_at = timezone.now() + 5 * MINUTE
    shelf["desk"].save()
    query = _q(q="brass")
    assert query.sorted_by == catalogue.RELEVANCE
    assert _titles(query) == ["Brass telescope", "Oak writing desk"]
    assert _titles(_q(q="brass", sort="ending")) == ["Oak writing desk", "Brass telescope"]


def test_the_plain_match_used_without_postgresql_needs_every_word(shelf):
    found = catalogue.search(Lot.objects.active(), "BRASS drawers", full_text=False)
    assert [lot.title for lot in found] == ["Oak writing desk"]
    assert [lot.title for lot in catalogue.search(Lot.objects.active(), "nautic", full_text=False)] == [
        "Brass telescope"
    ]


def test_each_filter_picks_its_lots(shelf):
    assert set(_titles(_q())) == {
        "Brass telescope",
        "Oak writing desk",
        "Two mantel clocks",
        "Glass vase",
        "Harbour print",
    }
    assert _titles(_q(ending_soon=1)) == ["Brass telescope"]  # within the hour, and open
    assert set(_titles(_q(no_bids=1))) == {"Brass telescope", "Oak writing desk", "Two mantel clocks", "Harbour print"}
    assert _titles(_q(buy_now=1)) == ["Two mantel clocks"]
    # The price is the high bid, else the starting price: the vase (starting 10.00) is at 30.00.
    assert set(_titles(_q(min_price="25", max_price="50.00"))) == {"Brass telescope", "Glass vase"}
    assert set(_titles(_q(max_price="10"))) == {"Oak writing desk", "Harbour print"}
    assert _titles(_q(min_price="30,00", max_price="30")) == ["Glass vase"]
    assert _titles(_q(ending_soon=1, no_bids=1, min_price=60)) == []


def test_buy_now_is_gone_after_the_first_bid_and_before_the_start(shelf, make_lot, seller):
    shelf["clocks"].bid_count, shelf["clocks"].high_bid_amount = 1, 2_000
    shelf["clocks"].save()
    make_lot(
        seller=seller, title="Later", buy_now_price=5_000, status=Lot.Status.SCHEDULED, starts_in=HOUR, ends_in=2 * HOUR
    )
    assert _titles(_q(buy_now=1)) == []


def test_each_sort_orders_the_lots(shelf):
    assert _titles(_q(sort="ending")) == [
        "Brass telescope",
        "Glass vase",
        "Two mantel clocks",
        "Oak writing desk",
        "Harbour print",
    ]
    assert _titles(_q()) == _titles(_q(sort="ending"))  # the default
    assert _titles(_q(sort="newest")) == [
        "Harbour print",
        "Glass vase",
        "Two mantel clocks",
        "Oak writing desk",
        "Brass telescope",
    ]
    # Prices: desk 10.00 (ends 3 h), print 10.00 (ends 5 h), clocks 20.00, vase 30.00, telescope 50.00.
    assert _titles(_q(sort="price_low")) == [
        "Oak writing desk",
        "Harbour print",
        "Two mantel clocks",
        "Glass vase",
        "Brass telescope",
    ]
    assert _titles(_q(sort="price_high"))[:3] == ["Brass telescope", "Glass vase", "Two mantel clocks"]
    assert _titles(_q(sort="bids"))[0] == "Glass vase"


def test_the_results_are_the_ended_lots_with_their_outcomes(shelf, seller):
    cards = catalogue.cards(_q(view="results"), now=timezone.now())
    outcomes = {card["title"]: (card["number"], card["outcome"]["result"], card["outcome"]["amount"]) for card in cards}
    assert outcomes == {
        "Sold chair": (shelf["chair"].pk, "sold", 4_000),
        "Withdrawn lamp": (shelf["lamp"].pk, "withdrawn", None),
    }
    assert [card["outcome"] for card in catalogue.cards(_q(), now=timezone.now())] == [None] * 5
    assert catalogue.parse({"view": "results", "ending_soon": "1", "buy_now": "1"}).ending_soon is False


def test_parameters_are_read_leniently():
    query = catalogue.parse({"q": "  brass   telescope ", "sort": "nonsense", "view": "elsewhere", "no_bids": "on"})
    assert (query.view, query.text, query.sort, query.no_bids, query.ending_soon) == (
        "open",
        "brass telescope",
        "",
        True,
        False,
    )
    odd = catalogue.parse({"min_price": "abc", "max_price": "€1.234,50"})
    assert (odd.min_price, odd.max_price) == (None, 123_450)
    assert odd.problems == ("“abc” is not a price: the lowest price is ignored. Enter one like 12.50.",)
    assert len(catalogue.parse({"q": "x" * 1_000}).text) == catalogue.SEARCH_MAX_CHARS
    assert catalogue.parse({"q": "brass\x00\ud800\tclock"}).text == "brass clock"
    assert catalogue.parse({"sort": "ended"}).sort == ""  # not a sort of the open view
    assert catalogue.parse({"sort": "ended"}, view="results").sorted_by == "ended"


@pytest.mark.pure
@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("12", 1_200),
        ("12.5", 1_250),
        ("12,50", 1_250),
        ("1,000", 100_000),
        ("1.000", 100_000),
        ("1,234.50", 123_450),
        ("1.234,50", 123_450),
        ("€ 7", 700),
        ("0", 0),
        ("abc", None),
        ("", None),
        (".5", None),
    ],
)
def test_a_price_is_read_as_people_type_it(typed, cents):
    assert catalogue.price_cents(typed) == cents


def test_a_search_of_odd_characters_finds_nothing_and_does_not_fail(client, shelf):
    for odd in ["the", "(", "'\"", "a:b & !c", "x\x00y", "é" * 300]:
        assert client.get("/", {"q": odd}).status_code == 200, odd
        assert client.get("/api/lots/", {"q": odd}).json()["lots"] == [], odd


def test_the_list_api_takes_the_same_parameters(client, shelf):
    body = client.get("/api/lots/", {"q": "nautical" if catalogue.uses_full_text_search() else "telescope"}).json()
    assert [(row["title"], row["number"]) for row in body["lots"]] == [("Brass telescope", shelf["telescope"].pk)]
    body = client.get("/api/lots/", {"view": "results", "sort": "price_high"}).json()
    assert [(row["title"], row["outcome"]["result"]) for row in body["lots"]] == [
        ("Sold chair", "sold"),
        ("Withdrawn lamp", "withdrawn"),
    ]
    assert [row["title"] for row in client.get("/api/lots/", {"buy_now": "1"}).json()["lots"]] == ["Two mantel clocks"]


def test_the_page_shows_lot_numbers_and_links_its_choices(client, shelf):
    page = client.get("/", {"q": "clocks", "no_bids": "1", "sort": "price_high"}).content.decode()
    assert f"Lot {shelf['clocks'].pk}" in page and "Oak writing desk" not in page
    assert 'value="clocks"' in page and 'name="no_bids" value="1" checked' in page
    assert '<option value="price_high" selected>' in page
    assert f"Lot {shelf['clocks'].pk}" in client.get(f"/lots/{shelf['clocks'].pk}/").content.decode()
    results = client.get("/results/").content.decode()
    assert "Sold for €40.00" in results and "Withdrawn" in results and "Two mantel clocks" not in results
