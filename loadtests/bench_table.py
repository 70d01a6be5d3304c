"""The benchmark's table: each scenario run at its sizes against workers it starts, as rows of (measure, gavel,
bare Channels or floor, ratio), and the table printed."""

from __future__ import annotations

import asyncio
import os
import time

from loadtests.bench_live import CLERK_ROUND, bids_to_console, clerk_to_screens, make_sale
from loadtests.bench_scenarios import (
    fanout_app,
    fanout_baseline,
    idle_memory,
    paced_bidders,
    postgres_hot_row_loop,
    python_loop_ms,
    racing_bidders,
    redis_lock_loop,
)
from loadtests.bench_stack import daphne_workers

Row = tuple[str, str, str, str]


def fmt(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"


def ratio(ours: float, base: float, lower_is_better: bool = False) -> str:
    if not base or ours != ours or base != base or not ours:
        return "n/a"
    return f"{(base / ours if lower_is_better else ours / base):.2f}x"


def floor_rows() -> tuple[list[Row], float]:
    """The machine's speed and the floors under the bid path; also the PostgreSQL loop's rate, the hot lot's floor."""
    rows: list[Row] = []
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
    return rows, pg_loop


async def fanout_rows(args, lots: list[int], names: list[str], cookies: dict[str, str]) -> list[Row]:
    rows: list[Row] = []
    quick = args.quick
    sizes = args.watchers or ([100, 500] if quick else [100, 1000, 5000])
    rate = args.rate
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
    return rows


async def paced_rows(args, lots: list[int], names: list[str], cookies: dict[str, str]) -> list[Row]:
    rows: list[Row] = []
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
    return rows


async def hot_rows(args, lots: list[int], names: list[str], cookies: dict[str, str], pg_loop: float) -> list[Row]:
    rows: list[Row] = []
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
    return rows


async def many_rows(args, lots: list[int], names: list[str], cookies: dict[str, str], pg_loop: float) -> list[Row]:
    rows: list[Row] = []
    quick = args.quick
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
            f"ws://127.0.0.1:{ports[i % 2]}/ws/auctions/{lot}/" for i, lot in enumerate(many_lots) for _ in range(10)
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
    return rows


async def memory_rows(args, lots: list[int]) -> list[Row]:
    rows: list[Row] = []
    quick = args.quick
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


async def live_clerk_rows(args, fixture: dict, cookies: dict[str, str]) -> list[Row]:
    rows: list[Row] = []
    sockets = args.live_sockets or (500 if args.quick else 2000)
    actions = args.live_actions or (16 if args.quick else 40)
    bidders = fixture["bidders"]
    sale_id, clerk = await asyncio.to_thread(make_sale, bidders, actions // len(CLERK_ROUND) + 2)
    with daphne_workers("config.asgi:application", 1) as app_procs:
        live = await clerk_to_screens(
            app_procs[0][0],
            sale_id,
            clerk,
            [cookies[name] for name in bidders],
            sockets=sockets,
            actions=actions,
            rate=args.live_actions_per_s,
            procs=args.live_client_procs,
            worker_pid=app_procs[0][1],
            worker_cpu=args.live_worker_cpu,
        )
    rows.append(
        (
            f"live: clerk action -> {sockets:,} bidders' screens (1 worker, {args.live_actions_per_s:g} actions/s, "
            f"read by {args.live_client_procs} client process{'es' if args.live_client_procs > 1 else ''}"
            f"{'' if args.live_worker_cpu is None else f'; worker alone on CPU {args.live_worker_cpu}'}): "
            "p50 / p95 / p99 / max ms",
            f"{fmt(live['p50_ms'])} / {fmt(live['p95_ms'])} / {fmt(live['p99_ms'])} / {fmt(live['max_ms'])}",
            "target p99 < 100",
            f"{live['actions']} actions, {live['missed']} deliveries missed; action sent to its event stamped "
            f"p50 {fmt(live['stamped_p50_ms'])} / p99 {fmt(live['stamped_p99_ms'])} ms, to the first screen "
            f"p50 {fmt(live['first_p50_ms'])} / p99 {fmt(live['first_p99_ms'])} ms; first to last screen "
            f"p50 {fmt(live['spread_p50_ms'])} / p99 {fmt(live['spread_p99_ms'])} ms; CPU us per delivery: worker "
            f"{fmt(live['worker_cpu_us'])}, screens {fmt(live['screens_cpu_us'])}",
        )
    )
    return rows


async def live_bid_rows(args, fixture: dict, cookies: dict[str, str]) -> list[Row]:
    rows: list[Row] = []
    bidders = fixture["bidders"][:20]
    sale_id, clerk = await asyncio.to_thread(make_sale, bidders, 2)
    seconds = 5.0 if args.quick else args.seconds
    with daphne_workers("config.asgi:application", 1) as app_procs:
        live = await bids_to_console(
            app_procs[0][0],
            sale_id,
            clerk,
            [cookies[name] for name in bidders],
            rate=args.live_bid_rate,
            seconds=seconds,
        )
    rows.append(
        (
            f"live: internet bid -> clerk's console ({len(bidders)} bidders, {args.live_bid_rate:g} bids/s, "
            "1 worker): p50 / p95 / p99 / max ms",
            f"{fmt(live['p50_ms'])} / {fmt(live['p95_ms'])} / {fmt(live['p99_ms'])} / {fmt(live['max_ms'])}",
            "target p99 < 50",
            f"{live['sent']} bids: {live['codes']}; {live['unheard']} accepted unheard; bid sent to its decision "
            f"stamped p50 {fmt(live['stamped_p50_ms'])} / p99 {fmt(live['stamped_p99_ms'])} ms, to its public event "
            f"on the console p50 {fmt(live['public_p50_ms'])} / p99 {fmt(live['public_p99_ms'])} ms",
        )
    )
    return rows


def print_table(rows: list[Row], *, limit: int, started: float) -> None:
    width = max(len(r[0]) for r in rows)
    print(
        f"\nGavel benchmark — {os.cpu_count()} cores, open-file limit {limit}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {time.time() - started:.0f} s\n"
    )
    print(f"{'measure':<{width}}  {'gavel':>24}  {'bare Channels / floor':>24}  ratio")
    for name, ours, base, note in rows:
        print(f"{name:<{width}}  {ours:>24}  {base:>24}  {note}")
