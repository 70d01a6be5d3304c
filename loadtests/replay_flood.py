#!/usr/bin/env python
"""What a `sync` flood does to an honest bidder: their bid acknowledgement times on one worker, alone and while
anonymous sockets ask for a lot's whole history again and again, each within the production message limit.

    .venv/bin/python loadtests/replay_flood.py [--attackers 20] [--seconds 15] [--root DIR]

`--root` runs the workers from another checkout (e.g. one before the replay budget) against the same database and
settings, for a before/after comparison in one session. Uses the benchmark's database and Redis
(loadtests/bench_stack.py).
Prints one table; docs/performance.md keeps the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from loadtests import bench_clients, bench_stack

HISTORY = 500  # a full replay (SYNC_MAX_EVENTS)
HONEST_RATE = 4.0  # bids/s, under the production limit of 5 messages/s per connection
SYNC_RATE = 4.5  # each attacker's syncs/s: within the same limit


def seed_history(lot_id: int, usernames: list[str]) -> None:
    from django.contrib.auth import get_user_model

    from auctions.models import Lot
    from bidding.services import place_bid

    users = list(get_user_model().objects.filter(username__in=usernames))
    amount = Lot.objects.get(pk=lot_id).starting_price
    for n in range(HISTORY):
        amount = place_bid(user=users[n % 2], lot_id=lot_id, amount=amount, bid_id=f"history-{n}").min_next_bid


async def honest_bidder(url: str, cookie: str, seconds: float) -> list[float]:
    sock = await bench_clients.connect(url, cookie)
    min_next = json.loads(await sock.recv())["min_next_bid"]
    acks: list[float] = []
    deadline = time.monotonic() + seconds
    n = 0
    seen_seq = 0
    while time.monotonic() < deadline:
        due = time.monotonic() + 1 / HONEST_RATE
        bid_id = f"honest-{time.monotonic_ns()}-{n}"
        sent = time.perf_counter()
        await sock.send(json.dumps({"type": "bid", "amount": min_next, "bid_id": bid_id}))
        reply = None
        # Read until the answer, and for an accepted bid until its broadcast (either may come first): the
        # broadcast gives the next minimum.
        while reply is None or (reply["type"] == "bid_accepted" and seen_seq < reply["seq"]):
            message = json.loads(await sock.recv())
            if message.get("type") == "high_bid":
                seen_seq, min_next = max(seen_seq, message["seq"]), message["min_next_bid"]
            elif message.get("bid_id") == bid_id:
                acks.append((time.perf_counter() - sent) * 1000)
                reply = message
        n += 1
        await asyncio.sleep(max(0.0, due - time.monotonic()))
    await sock.close()
    return acks


async def attacker(url: str, stop: asyncio.Event, counts: dict) -> None:
    """Asks again and again for the longest replay the server gives (SYNC_MAX_EVENTS events back)."""
    sock = await bench_clients.connect(url)
    latest = {"seq": json.loads(await sock.recv())["seq"]}

    async def read() -> None:
        async for raw in sock:
            message = json.loads(raw)
            counts[message.get("type")] = counts.get(message.get("type"), 0) + 1
            if message.get("type") == "high_bid":
                latest["seq"] = max(latest["seq"], message["seq"])

    reader = asyncio.create_task(read())
    while not stop.is_set():
        await sock.send(json.dumps({"type": "sync", "since_seq": max(0, latest["seq"] - HISTORY)}))
        await asyncio.sleep(1 / SYNC_RATE)
    reader.cancel()
    await sock.close()


async def measure(port: int, lot_id: int, cookie: str, attackers: int, seconds: float) -> tuple[list[float], dict]:
    url = f"ws://127.0.0.1:{port}/ws/auctions/{lot_id}/"
    stop, counts = asyncio.Event(), {}
    tasks = [asyncio.create_task(attacker(url, stop, counts)) for _ in range(attackers)]
    await asyncio.sleep(1.0 if attackers else 0)  # the flood is under way before the bidder starts
    acks = await honest_bidder(url, cookie, seconds)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return acks, counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attackers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--root", type=Path, default=bench_stack.ROOT, help="the checkout whose workers to run")
    args = parser.parse_args()
    bench_stack.prepare_database()
    bench_stack.django_setup()
    fixture = bench_stack.seed(lots=1, bidders=3, prefix="flood")
    lot_id = fixture["lots"][0]
    print(f"seeding {HISTORY} bids of history", file=sys.stderr)
    seed_history(lot_id, fixture["bidders"][1:])
    cookie = bench_stack.session_cookies(fixture["bidders"][:1])[fixture["bidders"][0]]
    os.environ["WS_RATE_PER_SECOND"] = "5"  # the production default: attackers stay within it
    bench_stack.ROOT = args.root.resolve()  # daphne_workers starts them there
    rows = []
    with bench_stack.daphne_workers("config.asgi:application", 1) as workers:
        port = workers[0][0]
        for attackers in (0, args.attackers, 0):
            acks, counts = asyncio.run(measure(port, lot_id, cookie, attackers, args.seconds))
            rows.append((attackers, acks, counts))
    print(f"| attackers | honest acks | p50 ms | p99 ms | messages the attackers received | ({args.root}) |")
    print("|---|---|---|---|---|---|")
    for attackers, acks, counts in rows:
        received = ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items())) or "-"
        p50, p99 = bench_clients.pct(acks, 50), bench_clients.pct(acks, 99)
        print(f"| {attackers} | {len(acks)} | {p50:.1f} | {p99:.1f} | {received} | |")
    quiet = bench_clients.pct(rows[0][1] + rows[2][1], 50)
    print(f"median under the flood / quiet median: {bench_clients.pct(rows[1][1], 50) / quiet:.2f}x")


if __name__ == "__main__":
    main()
