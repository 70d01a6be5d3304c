"""The benchmark's scenarios, each a measurement against workers already started: fan-out to watchers (app and
bare-Channels baseline), racing and paced bidders, idle memory per socket, and the floors under them (the machine's
speed, a PostgreSQL hot-row loop, a Redis lock loop)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from auctions.rules import min_next_bid
from loadtests.bench_clients import (
    ClockBidder,
    Watchers,
    app_high_bid_amount,
    baseline_amount,
    connect,
    connect_many,
    drain,
    fanout_stats,
    pct,
)
from loadtests.bench_stack import DB_NAME, PG, REDIS_URL, cpu_seconds, rss_kib


async def fanout_app(
    ports: list[int], lot_id: int, cookie: str, watchers: int, bids: int, rate: float, pids: list[int]
) -> dict:
    urls = [f"ws://127.0.0.1:{ports[i % len(ports)]}/ws/auctions/{lot_id}/" for i in range(watchers)]
    socks = await connect_many(urls)
    for s in socks:
        await s.recv()  # snapshot
    watch = Watchers(socks, app_high_bid_amount)
    bidder = await connect(f"ws://127.0.0.1:{ports[0]}/ws/auctions/{lot_id}/", cookie)
    min_next = json.loads(await bidder.recv())["min_next_bid"]
    sent: dict[int, float] = {}
    cpu_before = sum(cpu_seconds(p) for p in pids)
    started = time.time()
    for i in range(bids):
        amount = min_next
        sent[amount] = time.time()
        await bidder.send(json.dumps({"type": "bid", "amount": amount, "bid_id": uuid.uuid4().hex}))
        while True:
            reply = json.loads(await bidder.recv())
            if reply["type"] == "high_bid":
                min_next = reply["min_next_bid"]
            if reply["type"] in ("bid_accepted", "bid_rejected"):
                if reply["type"] == "bid_rejected":
                    raise RuntimeError(f"benchmark bid refused: {reply}")
                break
        min_next = max(min_next, min_next_bid(starting_price=0, high_bid=reply["amount"]))  # broadcast may lag
        await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.time()))
    await watch.wait_for(bids * watchers, timeout=30)
    cpu = sum(cpu_seconds(p) for p in pids) - cpu_before
    stats = fanout_stats(watch, sent, started)
    stats["cpu_ms_per_delivery"] = cpu * 1000 / max(1, bids * watchers - stats["missed"])
    await watch.close()
    await bidder.close()
    return stats


async def fanout_baseline(ports: list[int], watchers: int, bids: int, rate: float, pids: list[int]) -> dict:
    urls = [f"ws://127.0.0.1:{ports[i % len(ports)]}/ws/baseline/" for i in range(watchers)]
    socks = await connect_many(urls)
    watch = Watchers(socks, baseline_amount)
    sender = await connect(f"ws://127.0.0.1:{ports[0]}/ws/baseline/")
    # The sender is in the group too; drain it so its buffer never fills.
    draining = asyncio.create_task(drain(sender))
    await asyncio.sleep(0.5)
    sent: dict[int, float] = {}
    cpu_before = sum(cpu_seconds(p) for p in pids)
    started = time.time()
    for i in range(bids):
        sent[i] = time.time()
        # A frame of about the app's high_bid size, so both pay the same bytes.
        await sender.send(json.dumps({"type": "high_bid", "amount": i, "pad": "x" * 200}))
        await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.time()))
    await watch.wait_for(bids * watchers, timeout=30)
    cpu = sum(cpu_seconds(p) for p in pids) - cpu_before
    stats = fanout_stats(watch, sent, started)
    stats["cpu_ms_per_delivery"] = cpu * 1000 / max(1, bids * watchers - stats["missed"])
    draining.cancel()
    await watch.close()
    await sender.close()
    return stats


async def racing_bidders(
    urls_and_cookies: list[tuple[str, str]], seconds: float, watcher_urls: list[str], pids: list[int]
) -> dict:
    """Each bidder bids the lot's minimum as fast as its acknowledgements allow, for `seconds`."""
    # Watchers keep each distinct high_bid frame they hear (its text is unique: seq, amount, time).
    watch = (
        Watchers(await connect_many(watcher_urls), lambda raw: raw if raw.startswith('{"type": "high_bid"') else None)
        if watcher_urls
        else None
    )
    bidders = await asyncio.gather(*(connect(url, cookie) for url, cookie in urls_and_cookies))
    acks: list[float] = []
    accepted = 0
    refusals: dict[str, int] = {}
    stop = time.monotonic() + seconds
    epoch = time.perf_counter_ns()

    clocks: list[ClockBidder] = []

    async def run(sock) -> None:
        nonlocal accepted
        bidder = ClockBidder(sock, epoch)
        clocks.append(bidder)
        await bidder.start()
        while time.monotonic() < stop:
            reply, ms = await bidder.bid()
            acks.append(ms)
            if reply["type"] == "bid_accepted":
                accepted += 1
            else:
                refusals[reply["code"]] = refusals.get(reply["code"], 0) + 1

    started = time.monotonic()
    cpu_before = sum(cpu_seconds(p) for p in pids)
    await asyncio.gather(*(run(s) for s in bidders))
    elapsed = time.monotonic() - started
    cpu = sum(cpu_seconds(p) for p in pids) - cpu_before
    await asyncio.gather(*(s.close() for s in bidders), return_exceptions=True)
    watchers_heard = float("nan")
    if watch:
        await asyncio.sleep(0.5)  # the last broadcasts land
        watchers_heard = watch.received() / max(1, accepted)
        await watch.close()
    return {
        "accepted_per_s": accepted / elapsed,
        "ack_p50_ms": pct(acks, 50),
        "ack_p99_ms": pct(acks, 99),
        "attempts": len(acks),
        "refusals": refusals,
        "cpu_ms_per_accepted": cpu * 1000 / max(1, accepted),
        # Each accepted bid is a high_bid frame to every bidder on its lot (the last few may still be on the
        # wire when the sockets close): a lower figure means broadcasts were lost.
        "heard_per_accepted": sum(clock.high_bids for clock in clocks) / max(1, accepted),
        "watchers_heard_per_accepted": watchers_heard,
        "cpu_share": cpu / elapsed,
    }


async def paced_bidders(urls_and_cookies: list[tuple[str, str]], rate: float, seconds: float) -> dict:
    """Bidders spread over several lots sending `rate` bids/s in all on a fixed schedule: ack latency at that load."""
    bidders = await asyncio.gather(*(connect(url, cookie) for url, cookie in urls_and_cookies))
    interval = len(bidders) / rate
    acks: list[float] = []
    codes: dict[str, int] = {}
    epoch = time.perf_counter_ns()
    warmed = asyncio.Barrier(len(bidders))

    async def run(index: int, sock) -> None:
        bidder = ClockBidder(sock, epoch)
        await bidder.start()
        # One bid each before the clock starts: a fresh worker opens its database connections (one per thread)
        # and prepares its statements on first use; the figure is the steady state.
        await bidder.bid()
        await warmed.wait()
        start = time.monotonic() + index * interval / len(bidders)  # staggered, not in bursts
        n = 0
        while (due := start + n * interval) < start + seconds:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            reply, ms = await bidder.bid()
            acks.append(ms)
            key = "accepted" if reply["type"] == "bid_accepted" else reply["code"]
            codes[key] = codes.get(key, 0) + 1
            n += 1

    await asyncio.gather(*(run(i, s) for i, s in enumerate(bidders)))
    await asyncio.gather(*(s.close() for s in bidders), return_exceptions=True)
    return {"ack_p50_ms": pct(acks, 50), "ack_p99_ms": pct(acks, 99), "sent": len(acks), "codes": codes}


async def idle_memory(port: int, pid: int, path: str, count: int) -> float:
    before = rss_kib(pid)
    socks = await connect_many([f"ws://127.0.0.1:{port}{path}"] * count)
    await asyncio.sleep(2)
    after = rss_kib(pid)
    await asyncio.gather(*(s.close() for s in socks), return_exceptions=True)
    return (after - before) / count


def python_loop_ms() -> float:
    """The same VM type runs at different speeds on different days (noisy neighbours): a reference figure."""
    started, total = time.perf_counter(), 0
    for n in range(10_000_000):
        total += n
    return (time.perf_counter() - started) * 1000


def postgres_hot_row_loop(seconds: float = 3.0) -> float:
    """The floor under the hot lot: one connection doing lock row, update, insert, commit, as fast as it can."""
    import psycopg

    with psycopg.connect(f"{PG}/{DB_NAME}") as conn:
        conn.execute("CREATE TEMP TABLE hot (id int PRIMARY KEY, n bigint)")
        conn.execute("CREATE TEMP TABLE log (id bigserial PRIMARY KEY, n bigint)")
        conn.execute("INSERT INTO hot VALUES (1, 0)")
        conn.commit()
        count, stop = 0, time.monotonic() + seconds
        started = time.monotonic()
        while time.monotonic() < stop:
            n = conn.execute("SELECT n FROM hot WHERE id = 1 FOR UPDATE").fetchone()[0]
            conn.execute("UPDATE hot SET n = %s WHERE id = 1", (n + 1,))
            conn.execute("INSERT INTO log (n) VALUES (%s)", (n + 1,))
            conn.commit()
            count += 1
        return count / (time.monotonic() - started)


def redis_lock_loop(seconds: float = 2.0) -> float:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    count, stop = 0, time.monotonic() + seconds
    started = time.monotonic()
    while time.monotonic() < stop:
        lock = client.lock("bench-lock", timeout=5, blocking_timeout=1)
        lock.acquire()
        lock.release()
        count += 1
    return count / (time.monotonic() - started)
