#!/usr/bin/env python
"""Capacity benchmark: prints one table, every figure measured in the same run on this machine.

    .venv/bin/python loadtests/bench.py                 # everything (a few minutes)
    .venv/bin/python loadtests/bench.py --quick         # smaller sizes, for a smoke run
    .venv/bin/python loadtests/bench.py --only fanout   # one scenario (fanout, paced, hot, many, memory,
                                                        # live-clerk, live-bid)

It creates its own database (gavel_bench, afresh each run) and uses Redis db 2, starts Daphne workers for the app and
for the bare-Channels baseline (loadtests/baseline_asgi.py) on 127.0.0.1 only, drives them with asyncio `websockets`
clients, and stops everything it started. The servers run with the per-connection rate limit raised (a benchmark
client is not a person), otherwise with production settings (DEBUG off).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The stack first: importing it points the environment at the benchmark's database and Redis before Django loads.
from loadtests.bench_stack import django_setup, prepare_database, raise_open_file_limit, seed, session_cookies
from loadtests.bench_table import (
    Row,
    fanout_rows,
    floor_rows,
    hot_rows,
    live_bid_rows,
    live_clerk_rows,
    many_rows,
    memory_rows,
    paced_rows,
    print_table,
)

SCENARIOS = ["fanout", "paced", "hot", "many", "memory", "live-clerk", "live-bid"]


async def main_async(args, fixture: dict, cookies: dict[str, str]) -> list[Row]:
    """The floors, then each scenario asked for, in a fixed order."""
    want = set(args.only or SCENARIOS)
    rows, pg_loop = floor_rows()
    names = fixture["bidders"]
    lots = fixture["lots"]
    if "fanout" in want:
        rows += await fanout_rows(args, lots, names, cookies)
    if "paced" in want:
        rows += await paced_rows(args, lots, names, cookies)
    if "hot" in want:
        rows += await hot_rows(args, lots, names, cookies, pg_loop)
    if "many" in want:
        rows += await many_rows(args, lots, names, cookies, pg_loop)
    if "memory" in want:
        rows += await memory_rows(args, lots)
    if "live-clerk" in want:
        rows += await live_clerk_rows(args, fixture, cookies)
    if "live-bid" in want:
        rows += await live_bid_rows(args, fixture, cookies)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", action="append", choices=SCENARIOS)
    parser.add_argument(
        "--watchers",
        type=int,
        action="append",
        help="watchers in a fan-out run (repeatable; default 100, 1000 and 5000)",
    )
    parser.add_argument("--rate", type=float, default=10.0, help="bids per second in the fan-out runs")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the hot, many-lots and live-bid runs")
    parser.add_argument(
        "--live-sockets", type=int, default=0, help="bidders' screens in the live-clerk run (default 2000)"
    )
    parser.add_argument(
        "--live-actions",
        type=int,
        default=0,
        help="clerk's actions in the live-clerk run (40; at most 144: a new house's sale holds 20 lots)",
    )
    parser.add_argument("--live-actions-per-s", type=float, default=1.0, help="the clerk's pace in the live-clerk run")
    parser.add_argument(
        "--live-client-procs",
        type=int,
        default=4,
        help="client processes reading the live-clerk run's screens (default 4)",
    )
    parser.add_argument(
        "--live-worker-cpu",
        type=int,
        default=None,
        help="live-clerk run: the worker alone on this CPU, the screens on the others (default: unpinned)",
    )
    parser.add_argument("--live-bid-rate", type=float, default=50.0, help="internet bids/s in the live-bid run")
    args = parser.parse_args()
    limit = raise_open_file_limit()
    prepare_database()
    django_setup()
    # The clients' process holds thousands of sockets too: the same collector settings as the servers
    # (config/asgi.py), so a client-side pause is not measured as delivery latency.
    gc.set_threshold(10_000, 20, 100)
    gc.freeze()
    started = time.time()
    fixture = seed(lots=200, bidders=400, prefix="bench")
    rows = asyncio.run(main_async(args, fixture, session_cookies(fixture["bidders"])))
    print_table(rows, limit=limit, started=started)


if __name__ == "__main__":
    main()
