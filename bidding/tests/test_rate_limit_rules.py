"""The token bucket behind every per-connection limit, on a clock the test moves."""

from __future__ import annotations

import pytest

from bidding.rate_limit import TokenBucket

pytestmark = pytest.mark.pure


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_the_rate_holds():
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.allow() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5
    assert bucket.allow() and not bucket.allow()


def test_a_costly_request_waits_for_its_whole_cost_and_is_told_how_long():
    clock = Clock()
    bucket = TokenBucket(rate=10, burst=100, clock=clock)
    assert bucket.take(80)
    assert not bucket.take(80)  # refused requests spend nothing
    assert bucket.seconds_until(80) == pytest.approx(6.0)
    clock.now += 6.0
    assert bucket.take(80)
