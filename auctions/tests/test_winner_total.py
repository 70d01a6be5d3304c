"""What a winner owes: hammer price + buyer's premium (to the cent, half a cent up, in integer cents) + shipping as
listed, and nothing for shipping when the lot is collection only."""

from __future__ import annotations

from decimal import Decimal

import pytest

from auctions.rules import buyers_premium, winner_total

pytestmark = pytest.mark.pure


@pytest.mark.parametrize(
    ("hammer", "percent", "premium"),
    [
        (10_000, "0", 0),  # no premium
        (10_000, "15", 1_500),  # whole percent, exact
        (2_500, "12.5", 313),  # 312.5 cents: half a cent goes up
        (2_505, "12.5", 313),  # 313.125 cents: down
        (2_507, "12.5", 313),  # 313.375 cents: down
        (2_509, "12.5", 314),  # 313.625 cents: up
        (5, "10", 1),  # 0.5 cents: up
        (4, "10", 0),  # 0.4 cents: down
        (1, "25", 0),  # 0.25 cents
        (3, "0.1", 0),  # 0.003 cents
        (99_999_999_999, "25", 25_000_000_000),  # 24,999,999,999.75: no float would hold this to the cent
        (123_456_789_123, "0.1", 123_456_789),  # 123,456,789.123
    ],
)
def test_the_premium_is_rounded_to_the_nearest_cent_half_up(hammer, percent, premium):
    assert buyers_premium(hammer, Decimal(percent)) == premium


def test_the_total_adds_the_premium_and_the_listed_shipping():
    total = winner_total(hammer=2_500, premium_percent=Decimal("12.5"), shipping=750)
    assert (total.hammer, total.premium, total.shipping, total.total) == (2_500, 313, 750, 3_563)


def test_collection_only_adds_no_shipping_and_free_shipping_adds_nothing_either():
    collected = winner_total(hammer=2_500, premium_percent=Decimal("10"), shipping=None)
    assert (collected.shipping, collected.total) == (None, 2_750)
    free = winner_total(hammer=2_500, premium_percent=Decimal("0"), shipping=0)
    assert (free.shipping, free.total) == (0, 2_500)


@pytest.mark.parametrize("percent", ["25.1", "-1", "12.25", "30"])
def test_a_premium_outside_the_rule_is_never_computed(percent):
    with pytest.raises(ValueError):
        buyers_premium(1_000, Decimal(percent))
