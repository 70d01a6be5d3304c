"""Token buckets for message limits within one process (per connection; per user when Redis is away)."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Allows `rate` events per second on average and bursts of up to `burst`."""

    def __init__(self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.clock = clock
        self.updated = clock()

    def allow(self) -> bool:
        return self.take(1)

    def take(self, cost: float) -> bool:
        """Spend `cost` tokens if the bucket holds them; a cost above the burst is never allowed."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    def seconds_until(self, cost: float) -> float:
        """How long until `take(cost)` would succeed, if nothing else is spent."""
        return max(0.0, (min(cost, self.capacity) - self.tokens) / self.rate)


class SharedBuckets:
    """One bucket per key (a user), shared by all of that key's sockets in this process, so opening more sockets
    buys no more messages. Buckets idle long enough to be full again are dropped."""

    def __init__(self, *, rate: Callable[[], float], burst: Callable[[], int]) -> None:
        self._rate, self._burst = rate, burst
        self._buckets: dict[object, TokenBucket] = {}

    def allow(self, key: object) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > 10_000:
                self._forget_idle()
            bucket = self._buckets[key] = TokenBucket(rate=self._rate(), burst=self._burst())
        return bucket.allow()

    def _forget_idle(self) -> None:
        now = time.monotonic()
        for key, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.updated) * bucket.rate >= bucket.capacity:
                del self._buckets[key]
