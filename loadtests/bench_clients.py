"""The benchmark's clients: asyncio `websockets` sockets that watch (time-stamping each arrival) or bid (ClockBidder),
and the percentile and fan-out figures drawn from what they heard."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import websockets

from auctions.rules import min_next_bid

ORIGIN = "http://127.0.0.1"


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


def app_high_bid_amount(raw: str):
    if '"high_bid"' not in raw[:30]:
        return None
    return json.loads(raw)["amount"]


def baseline_amount(raw: str):
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


async def drain(sock) -> None:
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
        self.base = self.min_next  # scenarios share lots: start from where this one stands

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
