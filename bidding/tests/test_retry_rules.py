"""The retry rule as a pure function: one bid_id names one action; its answer is rebuilt from what was stored."""

from __future__ import annotations

import pytest

from auctions.exceptions import InvalidBid
from bidding.retries import Recorded, Request

pytestmark = pytest.mark.pure

# lot_id, kind, amount sent, maximum sent, amount recorded, seq, outbid_at_once, standing maximum
BEATEN_AT_ONCE = (7, "manual", 1_200, 1_500, 1_500, 3, True, None)
LEADING_WITH_A_MAXIMUM = (7, "automatic", 1_000, 5_000, 1_100, 2, False, 5_000)
RAISE = (7, "raise", 1_100, 9_000, 1_100, 2, False, 9_000)
BOUGHT = (7, "buy_now", None, None, 20_000, 1, False, None)


@pytest.mark.parametrize(
    ("row", "request_"),
    [
        (BEATEN_AT_ONCE, Request("bid", 7, 1_200, 1_500)),
        (LEADING_WITH_A_MAXIMUM, Request("bid", 7, 1_000, 5_000)),
        (RAISE, Request("bid", 7, 1_100, 9_000)),
        (BOUGHT, Request("buy_now", 7)),
    ],
)
def test_the_same_request_gets_the_recorded_answer(row, request_):
    recorded = Recorded.from_row(row)
    assert recorded.answer(request_) is recorded


def test_the_answer_says_what_the_original_said():
    beaten = Recorded.from_row(BEATEN_AT_ONCE)
    assert (beaten.amount, beaten.seq, beaten.leading, beaten.automatic, beaten.max_amount) == (
        1_500,
        3,
        False,
        False,
        None,
    )
    leading = Recorded.from_row(LEADING_WITH_A_MAXIMUM)
    assert (leading.leading, leading.automatic, leading.max_amount) == (True, True, 5_000)


@pytest.mark.parametrize(
    ("row", "request_"),
    [
        (RAISE, Request("bid", 7, 1_100, 9_500)),  # another maximum
        (RAISE, Request("bid", 7, 1_100)),  # a plain bid under a raise's id
        (LEADING_WITH_A_MAXIMUM, Request("bid", 8, 1_000, 5_000)),  # another lot
        (BOUGHT, Request("bid", 7, 20_000)),  # a bid under a buy-now's id
        (BEATEN_AT_ONCE, Request("buy_now", 7)),  # a buy now under a bid's id
    ],
)
def test_a_different_action_under_a_used_id_is_invalid(row, request_):
    with pytest.raises(InvalidBid) as refused:
        Recorded.from_row(row).answer(request_)
    assert refused.value.details == {"field": "bid_id"}
