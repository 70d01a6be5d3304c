#!/usr/bin/env python
"""What the cross-worker per-user message budget costs: N budget checks in a row against N plain GETs.

    .venv/bin/python loadtests/budget_cost.py [N]

Uses the benchmark's Redis (db 2); prints CPU and wall time per call in ms.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from loadtests import bench


async def measure(count: int) -> None:
    from bidding import admission
    from bidding.locks import async_redis_client

    client = async_redis_client()
    await client.delete("gavel:budget-cost")
    for label, call in (
        ("budget check (limits, one script)", lambda: admission.user_may_send(1)),
        ("plain GET", lambda: client.get("gavel:budget-cost")),
    ):
        await call()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            await call()
        print(
            f"  {label:36} {(time.process_time() - cpu) / count * 1000:.3f} ms CPU, "
            f"{(time.perf_counter() - wall) / count * 1000:.3f} ms wall"
        )


def main(count: int) -> None:
    bench.django_setup()
    print(f"{count} calls in a row, per call:")
    asyncio.run(measure(count))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2_000)
