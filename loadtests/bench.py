#!/usr/bin/env python
"""Capacity benchmark: prints one table, every figure measured in the same run on this machine.

    .venv/bin/python loadtests/bench.py                 # everything (a few minutes)
    .venv/bin/python loadtests/bench.py --quick         # smaller sizes, for a smoke run
    .venv/bin/python loadtests/bench.py --only fanout   # one scenario (fanout, hot, many, memory)

It creates its own database (gavel_bench, afresh each run) and uses Redis db 2, starts Daphne workers for the app and
for the bare-Channels baseline (loadtests/baseline_asgi.py) on 127.0.0.1 only, drives them with asyncio `websockets`
clients, and stops everything it started. The servers run with the per-connection rate limit raised (a benchmark
client is not a person), otherwise with production settings (DEBUG off).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import websockets

from auctions.rules import min_next_bid

DB_NAME = os.environ.get("BENCH_DB_NAME", "gavel_bench")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
ORIGIN = "http://127.0.0.1"
LOG_DIR = ROOT / "loadtests" / "results"
SERVER_ENV = {
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "REDIS_URL": REDIS_URL,
    # Production's settings, with the soft close off (loadtests/bench_settings.py).
    "DJANGO_SETTINGS_MODULE": "loadtests.bench_settings",
    "SECRET_KEY": "benchmark-only-secret",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "HTTPS": "false",  # plain http on one machine
    "LOG_LEVEL": "WARNING",
    "WS_RATE_PER_SECOND": "100000",  # and with it each connection's burst and each user's budget
    # Every benchmark client connects from 127.0.0.1, many as one user: the caps are for the open internet.
    "WS_MAX_SOCKETS_PER_IP": "1000000",
    "WS_MAX_SOCKETS_PER_USER": "1000000",
    "PYTHONUNBUFFERED": "1",
}
os.environ.update(SERVER_ENV)


# --- set-up ------------------------------------------------------------------------------------------------------
def raise_open_file_limit() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def prepare_database() -> None:
    import psycopg

    # A fresh database every run: the same starting point each time, and the clock bidders' amounts (one cent per
    # nanosecond) never climb past MAX_BID_CENTS on lots reused run after run (they did after about a hundred runs:
    # every bid `invalid`).
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True, env=os.environ)
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def django_setup() -> None:
    import django

    django.setup()


def seed(lots: int, bidders: int, prefix: str) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "seed_loadtest",
            "--lots",
            str(lots),
            "--bidders",
            str(bidders),
            "--minutes",
            "120",
            "--prefix",
            prefix,
            "--json",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env=os.environ,
    ).stdout
    return json.loads(out)


def session_cookies(usernames: list[str]) -> dict[str, str]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    cookies = {}
    for user in get_user_model().objects.filter(username__in=usernames):
        client = Client()
        client.force_login(user)
        cookies[user.username] = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return cookies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def daphne_workers(app: str, count: int):
    """Start `count` Daphne processes for `app`; yield their (port, pid) pairs."""
    procs = []
    try:
        for _ in range(count):
            port = free_port()
            LOG_DIR.mkdir(parents=True, exist_ok=True)
            with (LOG_DIR / f"daphne-{app.split('.')[0]}-{len(procs)}.log").open("wb") as log:
                # The app runs as in production (config.serve: Daphne plus its fan-out shortcut and limits); the
                # baseline on plain Daphne, the bare stack it stands for.
                runner = "config.serve" if app.startswith("config.") else "daphne"
                proc = subprocess.Popen(
                    [sys.executable, "-m", runner, "-b", "127.0.0.1", "-p", str(port), app],
                    cwd=ROOT,
                    env=os.environ,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            procs.append((port, proc))
        for port, proc in procs:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"daphne for {app} did not start") from None
                    time.sleep(0.1)
        yield [(port, proc.pid) for port, proc in procs]
    finally:
        for _, proc in procs:
            proc.terminate()
        for _, proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- clients -----------------------------------------------------------------------------------------------------
async def connect(url: str, cookie: str | None = None):
    headers = {"Cookie": cookie} if cookie else {}
    return await websockets.connect(
        url,
        origin=ORIGIN,
        additional_headers=headers,
        compression=None,
        max_queue=None,
        open_timeout=60,
        ping_interval=None,
    )


async def connect_many(urls: list[str], batch: int = 200) -> list:
    sockets = []
    for start in range(0, len(urls), batch):
        sockets += await asyncio.gather(*(connect(url) for url in urls[start : start + batch]))
    return sockets


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Watchers:
    """Many sockets that only read; each arrival of a keyed message is time-stamped."""

    def __init__(self, sockets: list, key) -> None:
        self.sockets = sockets
        self.key = key
        self.arrivals: list[dict] = [{} for _ in sockets]
        self.tasks = [asyncio.create_task(self._read(i, s)) for i, s in enumerate(sockets)]

    async def _read(self, index: int, sock) -> None:
        seen = self.arrivals[index]
        try:
            async for raw in sock:
                k = self.key(raw)
                if k is not None:
                    seen[k] = time.time()
        except websockets.ConnectionClosed:
            pass

    def received(self) -> int:
        return sum(len(a) for a in self.arrivals)

    async def wait_for(self, expected: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.received() < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*(s.close() for s in self.sockets), return_exceptions=True)


def _app_high_bid_amount(raw: str):
    if '"high_bid"' not in raw[:30]:
        return None
    return json.loads(raw)["amount"]


def _baseline_amount(raw: str):
    return json.loads(raw)["amount"]


def fanout_stats(watchers: Watchers, sent: dict, started: float) -> dict:
    latencies = [(t - sent[k]) * 1000 for seen in watchers.arrivals for k, t in seen.items() if k in sent]
    last = max((t for seen in watchers.arrivals for t in seen.values()), default=started)
    expected = len(sent) * len(watchers.sockets)
    return {
        "p50_ms": pct(latencies, 50),
        "p99_ms": pct(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
        "deliveries_per_s": len(latencies) / max(last - started, 1e-9),
        "missed": expected - len(latencies),
        "watchers_missing": sum(1 for seen in watchers.arrivals if len(seen) < len(sent)),
    }


# --- scenarios ---------------------------------------------------------------------------------------------------
async def fanout_app(
    ports: list[int], lot_id: int, cookie: str, watchers: int, bids: int, rate: float, pids: list[int]
) -> dict:
    urls = [f"ws://127.0.0.1:{ports[i % len(ports)]}/ws/auctions/{lot_id}/" for i in range(watchers)]
    socks = await connect_many(urls)
    for s in socks:
        await s.recv()  # snapshot
    watch = Watchers(socks, _app_high_bid_amount)
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
    watch = Watchers(socks, _baseline_amount)
    sender = await connect(f"ws://127.0.0.1:{ports[0]}/ws/baseline/")
    # The sender is in the group too; drain it so its buffer never fills.
    drain = asyncio.create_task(_drain(sender))
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
    drain.cancel()
    await watch.close()
    await sender.close()
    return stats


async def _drain(sock) -> None:
    try:
        async for _ in sock:
            pass
    except (websockets.ConnectionClosed, asyncio.CancelledError):
        pass


class ClockBidder:
    """One bidding socket. Amounts rise with the clock (one cent per ns: an increment is at most 5 us), so most bids
    can win: the benchmark measures how many bids a lot accepts, not how often racers collide (tests cover that)."""

    def __init__(self, sock, epoch_ns: int) -> None:
        self.sock, self.epoch = sock, epoch_ns
        self.high_bids = 0  # lot events heard: the check that every accepted bid reached this socket too

    async def start(self) -> None:
        self.min_next = json.loads(await self.sock.recv())["min_next_bid"]
        self.base = self.min_next  # lots are reused across runs: start from where this one stands

    async def bid(self) -> tuple[dict, float]:
        """Send one bid, wait for its answer; return (answer, milliseconds)."""
        bid_id = uuid.uuid4().hex
        amount = max(self.min_next, self.base + time.perf_counter_ns() - self.epoch)
        started = time.perf_counter()
        await self.sock.send(json.dumps({"type": "bid", "amount": amount, "bid_id": bid_id}))
        while True:  # broadcasts interleave with the answer; they also keep min_next current
            reply = json.loads(await self.sock.recv())
            self.high_bids += reply["type"] == "high_bid"
            if "min_next_bid" in reply and reply["type"] in ("high_bid", "bid_rejected"):
                self.min_next = max(self.min_next, reply["min_next_bid"])
            if reply.get("bid_id") == bid_id:
                break
        if reply["type"] == "bid_accepted":
            self.min_next = max(self.min_next, min_next_bid(starting_price=0, high_bid=reply["amount"]))
        return reply, (time.perf_counter() - started) * 1000


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


# --- the run -----------------------------------------------------------------------------------------------------
def fmt(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"


def ratio(ours: float, base: float, lower_is_better: bool = False) -> str:
    if not base or ours != ours or base != base or not ours:
        return "n/a"
    return f"{(base / ours if lower_is_better else ours / base):.2f}x"


async def main_async(args, fixture: dict, cookies: dict[str, str]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    quick = args.quick
    sizes = args.watchers or ([100, 500] if quick else [100, 1000, 5000])
    rate = args.rate
    want = set(args.only or ["fanout", "paced", "hot", "many", "memory"])

    rows.append(
        (
            "machine speed: pure-Python loop of 10M additions (lower is faster)",
            f"{python_loop_ms():,.0f} ms",
            "",
            "compare figures across runs only at similar speed",
        )
    )
    pg_loop = postgres_hot_row_loop()
    lock_loop = redis_lock_loop()
    rows.append(("PostgreSQL hot-row loop (1 connection)", f"{fmt(pg_loop, 0)} tx/s", "", "floor for the hot lot"))
    rows.append(("redis-py lock acquire+release (1 connection)", f"{fmt(lock_loop, 0)} /s", "", ""))

    names = fixture["bidders"]
    lots = fixture["lots"]

    if "fanout" in want:
        # Each size at the steady pace, then one worker's capacity: 1,000 watchers at three times the pace.
        runs = [(size, rate) for size in sizes]
        if not quick and not args.watchers:
            runs.append((1000, 3 * rate))
        for run, (size, pace) in enumerate(runs):
            workers = 1 if size <= 1000 else 2
            bids = 10 if quick else max(20, int(2 * pace))  # about two seconds of bids
            with daphne_workers("loadtests.baseline_asgi:application", workers) as base_procs:
                base = await fanout_baseline([p for p, _ in base_procs], size, bids, pace, [p for _, p in base_procs])
            lot_id = lots[run]
            with daphne_workers("config.asgi:application", workers) as app_procs:
                ours = await fanout_app(
                    [p for p, _ in app_procs], lot_id, cookies[names[0]], size, bids, pace, [p for _, p in app_procs]
                )
            label = f"fan-out, {size} watchers, {workers} worker{'s' if workers > 1 else ''}, {pace:g} bids/s"
            rows.append(
                (
                    label + ": p50 / p99 / max ms",
                    f"{fmt(ours['p50_ms'])} / {fmt(ours['p99_ms'])} / {fmt(ours['max_ms'])}",
                    f"{fmt(base['p50_ms'])} / {fmt(base['p99_ms'])} / {fmt(base['max_ms'])}",
                    ratio(ours["p99_ms"], base["p99_ms"], lower_is_better=True) + " (p99)",
                )
            )
            rows.append(
                (
                    label + ": deliveries/s",
                    fmt(ours["deliveries_per_s"], 0),
                    fmt(base["deliveries_per_s"], 0),
                    ratio(ours["deliveries_per_s"], base["deliveries_per_s"]),
                )
            )
            rows.append(
                (
                    label + ": server CPU ms per delivery",
                    fmt(ours["cpu_ms_per_delivery"], 3),
                    fmt(base["cpu_ms_per_delivery"], 3),
                    ratio(ours["cpu_ms_per_delivery"], base["cpu_ms_per_delivery"], lower_is_better=True),
                )
            )
            rows.append(
                (
                    label + ": messages missed (watchers)",
                    f"{ours['missed']} ({ours['watchers_missing']})",
                    f"{base['missed']} ({base['watchers_missing']})",
                    "",
                )
            )

    if "paced" in want:
        with daphne_workers("config.asgi:application", 1) as app_procs:
            port = app_procs[0][0]
            paced = await paced_bidders(
                [
                    (f"ws://127.0.0.1:{port}/ws/auctions/{lots[40 + i % 10]}/", cookies[n])
                    for i, n in enumerate(names[100:120])
                ],
                100.0,
                args.seconds,
            )
        rows.append(
            (
                "full bid path at 100 bids/s (20 bidders, 10 lots, 1 worker): ack p50 / p99 ms",
                f"{fmt(paced['ack_p50_ms'])} / {fmt(paced['ack_p99_ms'])}",
                "",
                f"{paced['sent']} bids: {paced['codes']}",
            )
        )

    if "hot" in want:
        # 2 workers: the box's both cores, the lot's bidders split between them (no per-lot routing, unlike
        # deploy/nginx.conf): what racing across processes through the Redis lock costs.
        for workers in (1, 2):
            with daphne_workers("config.asgi:application", workers) as app_procs:
                ports = [p for p, _ in app_procs]
                hot = await racing_bidders(
                    [
                        (f"ws://127.0.0.1:{ports[n % workers]}/ws/auctions/{lots[10]}/", cookies[name])
                        for n, name in enumerate(names[:50])
                    ],
                    args.seconds,
                    [],
                    [p for _, p in app_procs],
                )
            label = "hot lot, 50 racing bidders, " + ("1 worker" if workers == 1 else "spread over 2 workers")
            rows.append(
                (
                    f"{label}: accepted bids/s",
                    fmt(hot["accepted_per_s"], 0),
                    f"{fmt(pg_loop, 0)} (PG loop)",
                    ratio(hot["accepted_per_s"], pg_loop),
                )
            )
            rows.append(
                (
                    f"{label}: ack p50 / p99 ms",
                    f"{fmt(hot['ack_p50_ms'])} / {fmt(hot['ack_p99_ms'])}",
                    "",
                    f"{hot['attempts']} attempts, refusals {hot['refusals']}",
                )
            )
            rows.append(
                (
                    f"{label}: worker CPU ms per accepted bid (CPU busy share)",
                    f"{fmt(hot['cpu_ms_per_accepted'], 2)} ({hot['cpu_share']:.0%})",
                    "",
                    "",
                )
            )
            rows.append(
                (
                    f"{label}: high_bid frames heard per accepted bid (50 bidders each hear each)",
                    fmt(hot["heard_per_accepted"], 2),
                    "",
                    "",
                )
            )

    if "many" in want:
        many_lots = lots[:50] if quick else lots[:200]
        with daphne_workers("config.asgi:application", 2) as app_procs:
            ports = [p for p, _ in app_procs]
            bidders = [
                (f"ws://127.0.0.1:{ports[i % 2]}/ws/auctions/{lot}/", cookies[names[2 * i + j]])
                for i, lot in enumerate(many_lots)
                for j in range(2)
            ]
            # Each lot's sockets on one worker, as deploy/nginx.conf routes them.
            watchers = [
                f"ws://127.0.0.1:{ports[i % 2]}/ws/auctions/{lot}/"
                for i, lot in enumerate(many_lots)
                for _ in range(10)
            ]
            many = await racing_bidders(bidders, args.seconds, watchers, [p for _, p in app_procs])
        rows.append(
            (
                f"many lots, {len(many_lots)} lots x (2 bidders + 10 watchers), 2 workers: accepted bids/s",
                fmt(many["accepted_per_s"], 0),
                f"{fmt(pg_loop, 0)} (PG loop)",
                ratio(many["accepted_per_s"], pg_loop),
            )
        )
        rows.append(
            (
                "many lots: ack p50 / p99 ms",
                f"{fmt(many['ack_p50_ms'])} / {fmt(many['ack_p99_ms'])}",
                "",
                f"refusals {many['refusals']}",
            )
        )
        rows.append(
            (
                "many lots: workers' CPU ms per accepted bid (CPU busy, both)",
                f"{fmt(many['cpu_ms_per_accepted'], 2)} ({many['cpu_share']:.0%})",
                "",
                "",
            )
        )
        rows.append(
            (
                "many lots: high_bid frames heard per accepted bid: its lot's 2 bidders / 10 watchers",
                f"{fmt(many['heard_per_accepted'], 2)} / {fmt(many['watchers_heard_per_accepted'], 2)}",
                "",
                "",
            )
        )

    if "memory" in want:
        count = 500 if quick else 2000
        with daphne_workers("loadtests.baseline_asgi:application", 1) as base_procs:
            base_kib = await idle_memory(base_procs[0][0], base_procs[0][1], "/ws/baseline/", count)
        with daphne_workers("config.asgi:application", 1) as app_procs:
            ours_kib = await idle_memory(app_procs[0][0], app_procs[0][1], f"/ws/auctions/{lots[20]}/", count)
        rows.append(
            (
                f"memory per idle watcher socket ({count} sockets), KiB",
                fmt(ours_kib),
                fmt(base_kib),
                ratio(ours_kib, base_kib, lower_is_better=True),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", action="append", choices=["fanout", "paced", "hot", "many", "memory"])
    parser.add_argument(
        "--watchers",
        type=int,
        action="append",
        help="watchers in a fan-out run (repeatable; default 100, 1000 and 5000)",
    )
    parser.add_argument("--rate", type=float, default=10.0, help="bids per second in the fan-out runs")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the hot and many-lots runs")
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
    width = max(len(r[0]) for r in rows)
    print(
        f"\nGavel benchmark — {os.cpu_count()} cores, open-file limit {limit}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {time.time() - started:.0f} s\n"
    )
    print(f"{'measure':<{width}}  {'gavel':>24}  {'bare Channels / floor':>24}  ratio")
    for name, ours, base, note in rows:
        print(f"{name:<{width}}  {ours:>24}  {base:>24}  {note}")


if __name__ == "__main__":
    main()
