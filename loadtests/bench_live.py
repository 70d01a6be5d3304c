"""The benchmark's live-sale scenarios (docs/live-sales.md, the sale socket in docs/protocol.md): a clerk's action
reaching every bidder's screen, and an internet bid reaching the clerk's console. Each runs against a new sale of
its own (a sale that ran cannot run again), on workers already started."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import multiprocessing
import os
import time
import traceback
import uuid
from datetime import datetime
from multiprocessing.connection import Connection

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from loadtests.bench_clients import ORIGIN, connect, pct

# The clerk's round on each lot: every action one sequenced `live` event of the lot (`next` puts the following lot
# on the block: its `on_block` is the one measured). Asks are typed a step above the standing bid.
CLERK_ROUND = ("offer", "ask", "floor_bid", "ask", "floor_bid", "fair_warning", "sold", "next")
STEP = 100  # cents: the typed asks' and the flat increment's step
# The screens' client processes: a child silent past these fails the row rather than hang it.
SCREENS_READY_TIMEOUT = 120.0  # a child's interpreter start, imports and handshakes
SCREENS_WAIT_TIMEOUT = 30.0  # the last action's deliveries


def make_sale(bidder_names: list[str], lots: int) -> tuple[int, str]:
    """A new sale with these bidders registered (auctions.fixtures.new_sale): its id and its clerk's cookie."""
    from django.contrib.auth import get_user_model

    from auctions.fixtures import new_sale
    from loadtests.bench_stack import session_cookies

    bidders = list(get_user_model().objects.filter(username__in=bidder_names))
    sale, _lots = new_sale(prefix="bench", password="bench-house", lots=lots, bidders=bidders)
    return sale.pk, session_cookies([sale.house.username])[sale.house.username]


def live_key(raw: str):
    """(lot, seq) of a sequenced `live` event, else None."""
    if '"type": "live"' not in raw[:20]:
        return None
    event = json.loads(raw)
    return event["lot"], event["seq"]


class Console:
    """The clerk's driving console: claims the sale, sends one action at a time and reads every frame, keeping the
    arrival of each (lot, seq) it hears in the clerk's view (`clerk_block`) and the ask of the latest `live` event.
    Pings every second, as the console's heartbeat must (a silent console pauses the sale)."""

    def __init__(self, sock) -> None:
        self.sock = sock
        self.heard: dict[tuple[int, int], float] = {}
        self.stamped: dict[tuple[int, int], float] = {}  # each `live` event's server_time: when it was decided
        self.public: dict[tuple[int, int], float] = {}  # each `live` event's arrival (the fan-out, as screens hear)
        self.ask: int | None = None
        self.lot: int | None = None  # the lot on the block, as the latest `live` event says
        self.replies: asyncio.Queue = asyncio.Queue()
        self.tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._heartbeat())]

    async def _read(self) -> None:
        async for raw in self.sock:
            now = time.time()
            message = json.loads(raw)
            kind = message["type"]
            if kind == "clerk_block":
                self.heard.setdefault((message["lot"], message["seq"]), now)
            elif kind == "live":
                decided = datetime.fromisoformat(message["server_time"]).timestamp()
                self.stamped[(message["lot"], message["seq"])] = decided
                self.public.setdefault((message["lot"], message["seq"]), now)
                if message.get("ask") is not None:
                    self.ask, self.lot = message["ask"], message["lot"]
            elif kind in ("clerk_done", "clerk_refused"):
                self.replies.put_nowait(message)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(1)
            await self.sock.send(json.dumps({"type": "ping"}))

    async def act(self, action: str, **fields) -> dict:
        await self.sock.send(json.dumps({"type": "clerk", "action": action, **fields}))
        reply = await asyncio.wait_for(self.replies.get(), timeout=30)
        if reply["type"] != "clerk_done":
            raise RuntimeError(f"the clerk's {action} was refused: {reply}")
        return reply

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.sock.close()


async def open_console(port: int, sale_id: int, cookie: str) -> Console:
    sock = await connect(f"ws://127.0.0.1:{port}/ws/sales/{sale_id}/", cookie)
    snapshot = json.loads(await sock.recv())
    if not snapshot.get("is_clerk"):
        raise RuntimeError(f"the clerk's socket is not a clerk's: {snapshot.get('type')}")
    console = Console(sock)
    await console.act("claim")
    await console.act("start")
    return console


async def clerk_to_screens(port: int, sale_id: int, clerk_cookie: str, cookies: list[str], *, sockets: int,
                           actions: int, rate: float, procs: int = 4, worker_pid: int | None = None,
                           worker_cpu: int | None = None) -> dict:  # fmt: skip
    """`sockets` bidders' screens on the sale (registered bidders' sessions, in turn), read by `procs` client
    processes, and the clerk driving `actions` actions of CLERK_ROUND at `rate` a second: each action's send to each
    screen's receipt of its event. `worker_cpu`: the worker runs on that CPU alone and this process and the screens
    on the others, as a worker with a core of its own and bidders on their own machines would."""
    url = f"ws://127.0.0.1:{port}/ws/sales/{sale_id}/"
    # Bidders' screens are separate machines: one Python process reading 2,000 sockets took about 47 us a frame,
    # three times the server's fan-out per screen, and the row measured the client's reading more than the server.
    procs = max(1, min(procs, sockets))
    shares = [[cookies[i % len(cookies)] for i in range(sockets) if i % procs == n] for n in range(procs)]
    # Spawn, not fork: the parent holds Django, database connections and a running event loop that a forked child
    # would inherit half-made.
    context = multiprocessing.get_context("spawn")
    # Fifty handshakes at a time in all, a share per child: each reads the sale's snapshot from the database, and a
    # handshake not answered within Daphne's connect timeout (5 s) is dropped (fifty per child, 200 at once with four
    # children, failed a run: "did not receive a valid HTTP response").
    batch = max(1, 50 // procs)
    restore = pin_apart(worker_pid, worker_cpu) if worker_cpu is not None else None
    children: list[tuple[multiprocessing.Process, Connection]] = []
    console = None
    heard_all = False
    try:
        for share in shares:
            mine, theirs = context.Pipe()
            child = context.Process(target=screens_process, args=(theirs, url, share, batch), daemon=True)
            child.start()
            theirs.close()
            children.append((child, mine))
        for child, conn in children:
            await _from_child(child, conn, "ready", SCREENS_READY_TIMEOUT)
        console = await open_console(port, sale_id, clerk_cookie)
        sent: dict[tuple[int, int], float] = {}
        standing = 0
        worker_cpu = _cpu_seconds(worker_pid)
        started = time.time()
        for i in range(actions):
            action = CLERK_ROUND[i % len(CLERK_ROUND)]
            fields = {}
            if action == "ask":
                fields["ask"] = max(standing, 1_000) + STEP
            at = time.time()
            reply = await console.act(action, **fields)
            sent[(reply["lot"], reply["seq"])] = at
            standing = reply["amount"] or 0
            await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.time()))
        keys = [list(k) for k in sent]
        worker_cpu = _cpu_seconds(worker_pid) - worker_cpu
        for _child, conn in children:
            conn.send(("stop", keys, SCREENS_WAIT_TIMEOUT))
        arrivals: list[dict] = []
        screens_cpu = 0.0
        for child, conn in children:
            reading, cpu = await _from_child(child, conn, "arrivals", SCREENS_WAIT_TIMEOUT + 30)
            for seen in reading:
                arrivals.append({(lot, seq): t for lot, seq, t in seen})
            screens_cpu += cpu
        heard_all = True
    finally:
        if console is not None:
            await console.close()
        await asyncio.to_thread(_end_children, children, heard_all)
        if restore is not None:
            os.sched_setaffinity(0, restore)
    latencies = [(t - sent[k]) * 1000 for seen in arrivals for k, t in seen.items() if k in sent]
    heard = sum(1 for seen in arrivals for k in seen if k in sent)
    # Per action: its send to the event's server_time (decided, stamped inside the transaction), to the first
    # screen's receipt (committed, published, on its way), and the first screen's receipt to the last's (the
    # fan-out's spread, and the clients' own reading on the same cores).
    stamped_ms, first_ms, spread_ms = [], [], []
    for key, at in sent.items():
        if key in console.stamped:
            stamped_ms.append((console.stamped[key] - at) * 1000)
        times = [seen[key] for seen in arrivals if key in seen]
        if times:
            first_ms.append((min(times) - at) * 1000)
            spread_ms.append((max(times) - min(times)) * 1000)
    return {
        "p50_ms": pct(latencies, 50),
        "p95_ms": pct(latencies, 95),
        "p99_ms": pct(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
        "actions": len(sent),
        "missed": len(sent) * sockets - heard,
        "stamped_p50_ms": pct(stamped_ms, 50),
        "stamped_p99_ms": pct(stamped_ms, 99),
        "first_p50_ms": pct(first_ms, 50),
        "first_p99_ms": pct(first_ms, 99),
        "spread_p50_ms": pct(spread_ms, 50),
        "spread_p99_ms": pct(spread_ms, 99),
        # CPU per delivery: the worker's (all its work while the clerk acted) and the screens' processes' (reading).
        "worker_cpu_us": worker_cpu / max(heard, 1) * 1e6,
        "screens_cpu_us": screens_cpu / max(heard, 1) * 1e6,
    }


def pin_apart(worker_pid: int | None, cpu: int) -> set[int]:
    """Every thread of the worker on `cpu`; this process (and the children it starts from now on) on the other CPUs.
    Returns this process's CPUs before, to restore."""
    if worker_pid is None:
        raise ValueError("pinning needs the worker's pid")
    everything = os.sched_getaffinity(0)
    others = everything - {cpu}
    if cpu not in everything or not others:
        raise ValueError(f"CPU {cpu} must be one of this machine's {sorted(everything)}, with another left over")
    for task in os.listdir(f"/proc/{worker_pid}/task"):  # threads started later inherit their starter's CPUs
        os.sched_setaffinity(int(task), {cpu})
    os.sched_setaffinity(0, others)
    return everything


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    from loadtests.bench_stack import cpu_seconds

    return cpu_seconds(pid)


async def _from_child(child, conn: Connection, kind: str, timeout: float):
    """The child's next message, which must be `kind`; a child that reports an error, dies or stays silent past
    `timeout` fails the row (a blocking recv would hang the run on a dead child)."""
    deadline = time.monotonic() + timeout
    while not conn.poll():
        if not child.is_alive() and not conn.poll():
            raise RuntimeError(f"screens process {child.pid} exited ({child.exitcode}) before sending {kind!r}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"screens process {child.pid} sent no {kind!r} within {timeout:g} s")
        await asyncio.sleep(0.05)
    got, payload = conn.recv()
    if got != kind:
        raise RuntimeError(f"screens process {child.pid} sent {got!r}, not {kind!r}: {payload}")
    return payload


def _end_children(children: list, patient: bool) -> None:
    for child, conn in children:
        if patient and child.is_alive():
            child.join(timeout=10)  # a child that sent its arrivals is closing its sockets
        if child.is_alive():
            child.terminate()
            child.join(timeout=5)
        if child.is_alive():
            child.kill()
            child.join()
        conn.close()


def screens_process(conn: Connection, url: str, cookies: list[str], batch: int) -> None:
    """A client process's entry (spawned; needs no Django): one screen per cookie on the sale socket, opened `batch`
    at a time, reported ready once each has read its snapshot, then each `live` event's arrival time-stamped until
    the parent's stop."""
    # The same collector settings as bench.py's process and the servers (config/asgi.py): a pause of the collector
    # over thousands of sockets' objects would be measured as delivery latency.
    gc.set_threshold(10_000, 20, 100)
    gc.freeze()
    try:
        asyncio.run(_screens(conn, url, cookies, batch))
    except BaseException:
        with contextlib.suppress(OSError):  # the parent may be gone already
            conn.send(("error", traceback.format_exc()))
        raise
    finally:
        conn.close()


class Screen(WSListener):
    """One bidder's screen, read with picows (its frames parsed in C): with the `websockets` library the screens'
    processes spent about 100 us of CPU a frame, more than the worker spends per delivery, on the same two cores,
    so the row measured its clients. Time-stamps each `live` event's arrival by (lot, seq), after the snapshot."""

    def __init__(self) -> None:
        self.seen: dict[tuple[int, int], float] = {}
        self.snapshot = asyncio.get_running_loop().create_future()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()
            return
        if frame.msg_type != WSMsgType.TEXT:
            return
        if not self.snapshot.done():  # the first frame is the sale's snapshot
            self.snapshot.set_result(None)
            return
        key = live_key(frame.get_payload_as_utf8_text())
        if key is not None:
            self.seen.setdefault(key, time.time())

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.snapshot.done():
            self.snapshot.set_exception(ConnectionError("the screen's socket closed before its snapshot"))


async def open_screen(url: str, cookie: str) -> tuple[WSTransport, Screen]:
    transport, screen = await ws_connect(
        Screen, url, extra_headers={"Cookie": cookie, "Origin": ORIGIN}, websocket_handshake_timeout=60
    )
    await asyncio.wait_for(screen.snapshot, 60)
    return transport, screen


async def _screens(conn: Connection, url: str, cookies: list[str], batch: int) -> None:
    opened: list[tuple[WSTransport, Screen]] = []
    try:
        for start in range(0, len(cookies), batch):
            opened += await asyncio.gather(*(open_screen(url, cookie) for cookie in cookies[start : start + batch]))
        screens = [screen for _, screen in opened]
        conn.send(("ready", len(opened)))
        cpu = time.process_time()
        loop = asyncio.get_running_loop()
        stop = loop.create_future()

        def on_message() -> None:
            if stop.done():
                return
            try:
                stop.set_result(conn.recv())
            except Exception as error:  # the parent gone (EOF): end rather than wait for a stop that cannot come
                stop.set_exception(error)

        loop.add_reader(conn.fileno(), on_message)
        try:
            _kind, keys, timeout = await stop
            cpu = time.process_time() - cpu
        finally:
            loop.remove_reader(conn.fileno())
        expected = len({(lot, seq) for lot, seq in keys}) * len(screens)
        deadline = time.monotonic() + timeout
        while sum(len(screen.seen) for screen in screens) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        reading = [[[lot, seq, t] for (lot, seq), t in screen.seen.items()] for screen in screens]
        conn.send(("arrivals", (reading, cpu)))
    finally:
        for transport, _ in opened:
            transport.disconnect()


async def bids_to_console(port: int, sale_id: int, clerk_cookie: str, bidder_cookies: list[str], *, rate: float,
                          seconds: float) -> dict:  # fmt: skip
    """Internet bidders sending `live_bid` at `rate` a second in all, on a fixed schedule, each at the latest ask
    heard (as a bidder's page does: bids sent before the last one's event came back are refused `too_low`, the
    bursts at each new ask): each accepted bid's send to the clerk's console hearing its event."""
    console = await open_console(port, sale_id, clerk_cookie)
    await console.act("increment", increment=STEP)
    await console.act("offer")
    url = f"ws://127.0.0.1:{port}/ws/sales/{sale_id}/"
    bidders = await asyncio.gather(*(connect(url, cookie) for cookie in bidder_cookies))
    for sock in bidders:
        await sock.recv()  # sale_snapshot
    sent: dict[str, float] = {}
    accepted: dict[tuple[int, int], float] = {}  # (lot, seq) -> when its bid was sent
    codes: dict[str, int] = {}
    await _ask_of(console)

    async def answers(sock) -> None:
        async for raw in sock:
            message = json.loads(raw)
            if message.get("bid_id") not in sent:
                continue
            if message["type"] == "live_bid_accepted":
                accepted[(message["lot"], message["seq"])] = sent[message["bid_id"]]
                codes["accepted"] = codes.get("accepted", 0) + 1
            elif message["type"] == "bid_rejected":
                codes[message["code"]] = codes.get(message["code"], 0) + 1

    readers = [asyncio.create_task(answers(sock)) for sock in bidders]
    # One bid decided before the clock starts: a fresh worker opens its database connections on first use.
    warm = uuid.uuid4().hex
    sent[warm] = time.time()
    await bidders[0].send(json.dumps({"type": "live_bid", "lot": console.lot, "amount": console.ask, "bid_id": warm}))
    while not codes:
        await asyncio.sleep(0.01)
    accepted.clear()
    codes.clear()
    count = int(rate * seconds)
    started = time.monotonic() + 0.5
    for n in range(count):
        await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        bid_id = uuid.uuid4().hex
        sent[bid_id] = time.time()
        bid = {"type": "live_bid", "lot": console.lot, "amount": console.ask, "bid_id": bid_id}
        await bidders[n % len(bidders)].send(json.dumps(bid))
    deadline = time.monotonic() + 10
    while sum(codes.values()) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # the console's last frames
    latencies = [(console.heard[k] - at) * 1000 for k, at in accepted.items() if k in console.heard]
    # Where the time goes: the send to the decision's start (server_time, stamped under the lock), to the public
    # event's arrival on the console (committed, published, fanned out), to the clerk's view (the channel layer).
    stamped = [(console.stamped[k] - at) * 1000 for k, at in accepted.items() if k in console.stamped]
    public = [(console.public[k] - at) * 1000 for k, at in accepted.items() if k in console.public]
    for task in readers:
        task.cancel()
    await asyncio.gather(*(s.close() for s in bidders), return_exceptions=True)
    await console.close()
    return {
        "p50_ms": pct(latencies, 50),
        "p95_ms": pct(latencies, 95),
        "p99_ms": pct(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
        "sent": count,
        "codes": codes,
        "unheard": len(accepted) - len(latencies),
        "stamped_p50_ms": pct(stamped, 50),
        "stamped_p99_ms": pct(stamped, 99),
        "public_p50_ms": pct(public, 50),
        "public_p99_ms": pct(public, 99),
    }


async def _ask_of(console: Console, timeout: float = 5.0) -> int | None:
    deadline = time.monotonic() + timeout
    while console.ask is None and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return console.ask
