#!/usr/bin/env python
"""Where one bid's time goes, with no contention: N bids in a row through aplace_bid, each step timed.

    .venv/bin/python loadtests/bid_path_timing.py [N]

Uses the benchmark's database (loadtests/bench.py prepares it) and Redis db 2; prints medians in ms.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from loadtests import bench


def main(count: int) -> None:
    bench.prepare_database()
    bench.django_setup()
    fixture = bench.seed(lots=1, bidders=1, prefix="timing")
    from django.contrib.auth import get_user_model

    from auctions.models import Lot
    from bidding.services import decision, precheck, socket_queue

    user = get_user_model().objects.get(username=fixture["bidders"][0])
    lot = Lot.objects.get(pk=fixture["lots"][0])
    timings: dict[str, list[float]] = {}

    def timed(name, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                timings.setdefault(name, []).append(time.perf_counter() - started)

        return wrapper

    precheck.check_before_lock = timed("pre-check read (in thread)", precheck.check_before_lock)
    decision.decide_one = timed("locked decision (in thread)", decision.decide_one)

    async def run() -> None:
        amount = (lot.high_bid_amount or 0) + 1_000_000
        for _ in range(count):
            started = time.perf_counter()
            outcome = await socket_queue.aplace_bid(user=user, lot_id=lot.pk, amount=amount, bid_id=uuid.uuid4().hex)
            timings.setdefault("whole bid (aplace_bid)", []).append(time.perf_counter() - started)
            amount = outcome.min_next_bid

    asyncio.run(run())
    print(f"{count} bids in a row on one lot, no contention (medians):")
    for name, values in timings.items():
        print(f"  {name:30} {statistics.median(values[10:] or values) * 1000:6.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
