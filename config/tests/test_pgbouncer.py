"""The app through a real PgBouncer in transaction mode (pool size 5), as production runs it behind one: a Daphne
worker and the closing worker on PgBouncer's address with server-side cursors off; racing bidders on one lot, a
group of bids decided together, a lot ending and closing once, and `manage.py verify_lot --all` while bidding goes
on. PostgreSQL itself never sees more server connections than the pool holds, with 200 sockets open or not."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from datetime import timedelta

import psycopg
import pytest
from asgiref.sync import sync_to_async

from auctions.models import Lot, LotEvent
from bidding.models import Bid
from bidding.tests.live import connect, reply_to, until
from conftest import ROOT, acookie_header, assert_lot_verifies, database_url, service_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis_only]

POOL_SIZE = 5
SOCKETS = 200
BEHIND_PGBOUNCER = {"DISABLE_SERVER_SIDE_CURSORS": "true"}


class Bidder:
    """A lot page on a real socket whose bidder bids the minimum next bid they last heard, three times a second
    (under the per-connection rate): several of them race on one lot."""

    PACE_SECONDS = 0.3

    def __init__(self, base: str, lot_id: int, cookie: str, name: str) -> None:
        self.base, self.lot_id, self.cookie, self.name = base, lot_id, cookie, name
        self.accepted: list[tuple[str, int]] = []
        self.refused: dict[str, int] = {}
        self.min_next = 1_000
        self._replies: dict[str, asyncio.Future] = {}

    async def start(self) -> None:
        self.ws = await connect(self.base, self.lot_id, self.cookie)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for text in self.ws:
            message = json.loads(text)
            self.min_next = max(self.min_next, message.get("min_next_bid") or 0)
            if message.get("bid_id") in self._replies:
                self._replies.pop(message["bid_id"]).set_result(message)

    async def send_bid(self, amount: int, bid_id: str) -> asyncio.Future:
        """Send a bid; the future of its answer."""
        answer = self._replies[bid_id] = asyncio.get_running_loop().create_future()
        await self.ws.send(json.dumps({"type": "bid", "amount": amount, "bid_id": bid_id}))
        return answer

    async def bid(self, amount: int, bid_id: str) -> dict:
        return await asyncio.wait_for(await self.send_bid(amount, bid_id), 10)

    async def bid_until(self, stop: asyncio.Event) -> None:
        for n in itertools.count():
            if stop.is_set():
                return
            await asyncio.sleep(self.PACE_SECONDS)  # a person's pace, not a wait
            bid_id = f"{self.name}-{n}"
            reply = await self.bid(self.min_next, bid_id)
            if reply["type"] == "bid_accepted":
                self.accepted.append((bid_id, reply["amount"]))
            else:
                self.refused[reply["code"]] = self.refused.get(reply["code"], 0) + 1

    async def stop(self) -> None:
        await self.ws.close()
        await asyncio.gather(self._reader, return_exceptions=True)


class ServerConnections:
    """Samples, on a connection of its own straight to PostgreSQL, how many backends serve the test database, less
    the test's own: those open when it is made (before any server process starts), this one, and any added to
    `excluded`. What is left is what the worker, the closing worker and verify_lot hold. The test opens no other
    connection of its own while it samples."""

    def __init__(self) -> None:
        self.connection = psycopg.connect(database_url(), autocommit=True)
        self.excluded = [
            pid
            for (pid,) in self.connection.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ]
        self.most = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    def count(self) -> int:
        return self.connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND pid <> ALL(%s)",
            (self.excluded,),
        ).fetchone()[0]

    def lock_waiters(self) -> int:
        return self.connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()[0]

    def quiet(self) -> bool:
        """Nothing runs in the database but what waits on a lock."""
        return not self.connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> ALL(%s)"
            " AND state = 'active' AND wait_event_type IS DISTINCT FROM 'Lock'",
            (self.excluded,),
        ).fetchone()[0]

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while not self._stop.is_set():
            self.most = max(self.most, await asyncio.to_thread(self.count))
            await asyncio.sleep(0.005)  # a sampling period, not a wait

    async def stop(self) -> int:
        self._stop.set()
        await self._task
        self.connection.close()
        return self.most


async def verify_all(database: str) -> tuple[int, str]:
    """`manage.py verify_lot --all` in a process of its own on `database`, as an operator runs it."""
    env = service_env(DATABASE_URL=database, **BEHIND_PGBOUNCER)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "verify_lot",
        "--all",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, output.decode()


async def open_sockets(base: str, lot_id: int, count: int) -> list:
    sockets = []
    for start in range(0, count, 50):
        sockets += await asyncio.gather(*(connect(base, lot_id) for _ in range(start, min(count, start + 50))))
    return sockets


async def logged_in(count: int, make_user) -> list[str]:
    """Cookies of `count` bidders, logged in before any server process starts."""
    return [await acookie_header(await sync_to_async(make_user)(f"bidder{i}")) for i in range(count)]


async def racing_bidders(base: str, lot_id: int, cookies: list[str]) -> list[Bidder]:
    bidders = [Bidder(base, lot_id, cookie, f"lot{lot_id}-b{i}") for i, cookie in enumerate(cookies)]
    for bidder in bidders:
        await bidder.start()
    return bidders


async def race_verify_and_watch(server: ServerConnections, bidders: list[Bidder], database: str, lot_ids: list[int]):
    """The bidders race on their lot while `manage.py verify_lot --all` runs twice on `database` (each lot must
    verify); then SOCKETS more sockets open on the lot, each reading its snapshot, and bidding goes on. Returns the
    bidders, the most server connections seen before the sockets opened, and the sockets."""
    stop = asyncio.Event()
    bidding = [asyncio.create_task(b.bid_until(stop)) for b in bidders]
    await until(lambda: sum(len(b.accepted) for b in bidders) >= 15, timeout=30, failure="no bidding")
    for _ in range(2):
        returncode, output = await verify_all(database)
        assert returncode == 0, output
        assert all(f"lot {lot_id}: ok" in output for lot_id in lot_ids), output
    during_bidding = server.most
    # Each socket reads its snapshot through the pool, then holds no connection.
    watchers = await open_sockets(bidders[0].base, bidders[0].lot_id, SOCKETS)
    more = sum(len(b.accepted) for b in bidders) + 10
    await until(lambda: sum(len(b.accepted) for b in bidders) >= more, timeout=30, failure="bidding stalled")
    stop.set()
    await asyncio.gather(*bidding)
    return bidders, during_bidding, watchers


async def test_the_app_through_pgbouncer_holds_at_most_the_pool_on_the_server(
    start_pgbouncer, start_daphne, start_closer, hold_lot_row, make_lot, make_user, seller
):
    hot = await sync_to_async(make_lot)(seller=seller, starting_price=1_000)
    ending = await sync_to_async(make_lot)(
        seller=seller, starting_price=1_000, ends_in=timedelta(seconds=10), soft_close_window=0
    )
    cookies = await logged_in(6, make_user)
    server = ServerConnections()
    bouncer = start_pgbouncer(pool_size=POOL_SIZE)
    worker = start_daphne("worker", DATABASE_URL=bouncer.url, **BEHIND_PGBOUNCER)
    closer = start_closer(DATABASE_URL=bouncer.url, **BEHIND_PGBOUNCER)
    server.start()
    bidders = await racing_bidders(worker.url, hot.pk, cookies)
    on_ending = await connect(worker.url, ending.pk, bidders[0].cookie)

    # A group: a bid waits on the lot's row, held elsewhere; five more sent meanwhile queue in the worker behind it,
    # and are decided together once the row is free, in one transaction (the bid rows share its id).
    held = hold_lot_row(hot.pk)
    server.excluded.append(held.connection.info.backend_pid)
    answers = [await bidders[0].send_bid(1_000, "group-0")]
    await until(lambda: server.lock_waiters() >= 1, failure="the first bid never reached the held row")
    for n, bidder in enumerate(bidders[1:], 1):
        answers.append(await bidder.send_bid(1_000 + 500 * n, f"group-{n}"))
    calm_samples = 0

    def pre_checks_done() -> bool:
        """The worker runs nothing but the decision waiting on the row, and nothing waits for a connection, on
        several samples in a row (its pre-checks read the lot without waiting for the row)."""
        nonlocal calm_samples
        (pool,) = [p for p in bouncer.show("POOLS") if p["database"] != "pgbouncer"]
        calm = server.quiet() and pool["sv_active"] == 1 and pool["cl_waiting"] == 0
        calm_samples = calm_samples + 1 if calm else 0
        return calm_samples >= 5

    await until(pre_checks_done, failure="the worker's pre-checks never ended")
    held.release()
    group = {answer["bid_id"]: answer for answer in await asyncio.wait_for(asyncio.gather(*answers), 10)}
    group = {answer["bid_id"]: answer for answer in await asyncio.gather(*answers)}
    accepted_in_group = {bid_id: r["amount"] for bid_id, r in group.items() if r["type"] == "bid_accepted"}
    # Sockets race each other to the worker: a bid that arrives after a higher one is too low, nothing else.
    assert {r.get("code") for r in group.values() if r["type"] != "bid_accepted"} <= {"too_low"}, group

    await on_ending.send(json.dumps({"type": "bid", "amount": 1_000, "bid_id": "ending-1"}))
    assert (await reply_to(on_ending, "ending-1"))["type"] == "bid_accepted"
    await on_ending.close()

    # Racing bidders, with the audit run twice meanwhile; then 200 more sockets.
    bidders, during_bidding, watchers = await race_verify_and_watch(server, bidders, bouncer.url, [hot.pk, ending.pk])
    most = await server.stop()
    print(
        f"\nthrough PgBouncer (pool {POOL_SIZE}): at most {during_bidding} server connections while bidding and"
        f" verifying, {most} with {SOCKETS} more sockets open; bids accepted {sum(len(b.accepted) for b in bidders)},"
        f" refused {[b.refused for b in bidders]}"
    )
    assert most <= POOL_SIZE
    for ws in watchers:
        await ws.close()
    for bidder in bidders:
        await bidder.stop()

    # Every acknowledged bid is stored at its amount; the group went in one transaction.
    acknowledged = accepted_in_group | {bid_id: amount for b in bidders for bid_id, amount in b.accepted}
    stored = {
        bid_id: amount
        async for bid_id, amount in Bid.objects.filter(lot=hot, bid_id__in=acknowledged).values_list("bid_id", "amount")
    }
    assert stored == acknowledged
    assert (await Lot.objects.aget(pk=hot.pk)).high_bid_amount == max(acknowledged.values())
    largest = await sync_to_async(largest_transaction)(hot.pk, list(accepted_in_group))
    assert largest >= 2, f"the queued bids were not decided together: {group}"
    print(f"the queued group: {largest} of {len(group)} bids written by one transaction")

    # The lot that ended closes, once.
    await until(
        lambda: Lot.objects.filter(pk=ending.pk, status=Lot.Status.CLOSED).aexists(),
        timeout=20,
        failure="the lot that ended never closed",
    )
    assert await LotEvent.objects.filter(lot=ending, payload__type="closed").acount() == 1
    await sync_to_async(assert_lot_verifies)(hot.pk)
    await sync_to_async(assert_lot_verifies)(ending.pk)

    # For contrast, the same load straight at PostgreSQL (printed, not asserted: the count follows the worker's
    # thread pools). PgBouncer's idle server connections are counted as the test's own from here on.
    worker.stop()
    closer.terminate()
    closer.wait(10)
    direct_lot = await sync_to_async(make_lot)(seller=seller, starting_price=1_000)
    direct = ServerConnections()
    direct_worker = start_daphne("direct")
    start_closer()
    direct.start()
    bidders = await racing_bidders(direct_worker.url, direct_lot.pk, cookies)
    bidders, direct_during, watchers = await race_verify_and_watch(direct, bidders, database_url(), [direct_lot.pk])
    print(
        f"straight at PostgreSQL: at most {direct_during} server connections while bidding and verifying,"
        f" {await direct.stop()} with {SOCKETS} more sockets open"
    )
    for ws in watchers:
        await ws.close()
    for bidder in bidders:
        await bidder.stop()


def largest_transaction(lot_id: int, bid_ids: list[str]) -> int:
    """The most of these bids one transaction wrote (rows written by one transaction share its xmin)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {Bid._meta.db_table} WHERE lot_id = %s AND bid_id = ANY(%s)"
            " GROUP BY xmin::text ORDER BY 1 DESC LIMIT 1",
            [lot_id, bid_ids],
        )
        return cursor.fetchone()[0]
