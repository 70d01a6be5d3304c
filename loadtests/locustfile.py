"""Locust scenarios for the live bid path: bidders, watchers and sellers on real lot sockets, against a deployment
(through its nginx, `-H https://staging.example.org`) or a local stack (`make loadtest`).

    locust -f loadtests/locustfile.py -H https://staging.example.org --gavel-fixture fixture.json

Options are Locust arguments (`locust -f loadtests/locustfile.py --help`, section "Gavel"; loadtests/locust_options.py).
Master/worker mode runs this file unchanged: workers get the options and the fixture from the master.

Reported (request type / name):
- `WS connect` / `lot`, `lot (reconnect)`, `seller`: handshake to first message.
- `bid ack` / `accepted`, `refused: <code>`: send to the answer. Refusals are auction outcomes, not failures;
  `bid ack` / `bid` failures are bids never answered within --gavel-ack-timeout, or that could not be sent.
- `broadcast` / `own bid → high_bid`: a bidder's send to the `high_bid` carrying its bid on its own socket, one clock.
  `broadcast` / `high_bid lag (server clock)`: the event's server timestamp to its arrival, only with
  --gavel-same-clock (the generators' clocks must agree with the servers').
- `WS event` / `closed by server <code>`: sockets the server closed (each is reopened on the user's next turn).
The socket plumbing the users share is in loadtests/locust_lot_sockets.py.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import datetime

import gevent
import locust_options as options
import locust_report as report
import websocket
from locust import LoadTestShape, events, task
from locust.runners import MasterRunner, WorkerRunner
from locust_live import SaleBidderUser, SaleClerkUser, SaleWatcherUser
from locust_lot_sockets import LotSocketUser, Run


@events.init_command_line_parser.add_listener
def _arguments(parser) -> None:
    options.add_arguments(parser)


@events.init.add_listener
def _init(environment, **_kwargs) -> None:
    parsed = environment.parsed_options
    if parsed is None:  # used as a library, without Locust's command line
        return
    if parsed.gavel_scenario == "live":
        # The sale's bidders and watchers in the proportions asked; exactly one clerk drives; no lot sockets.
        SaleBidderUser.weight, SaleWatcherUser.weight, _ = options.weights(parsed.gavel_user_weights)
        SaleClerkUser.fixed_count = 1
        BidderUser.weight = WatcherUser.weight = SellerUser.weight = 0
    else:
        BidderUser.weight, WatcherUser.weight, SellerUser.weight = options.weights(parsed.gavel_user_weights)
        SaleBidderUser.weight = SaleWatcherUser.weight = SaleClerkUser.weight = SaleClerkUser.fixed_count = 0
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        # A worker may connect before its handlers exist, so it asks for the fixture once it can take it; the
        # master also sends it to every worker as a test starts (before its spawn orders).
        runner.register_message("gavel_fixture", lambda msg, **_: Run.use(msg.data))
        runner.send_message("gavel_fixture_please")
        return
    Run.use(options.load_fixture(parsed.gavel_fixture, live=parsed.gavel_scenario == "live"))
    if isinstance(runner, MasterRunner):
        runner.register_message("gavel_fixture_please", lambda msg, **_: _send_shares(runner))

        @environment.events.test_start.add_listener
        def _send_fixture_to_all(**_kwargs) -> None:
            _send_shares(runner)


def _send_shares(runner: MasterRunner) -> None:
    """Each connected worker its own share of the bidder accounts (options.share), sent again as workers come."""
    workers = sorted(runner.clients, key=runner.get_worker_index)
    for index, client_id in enumerate(workers):
        runner.send_message("gavel_fixture", options.share(Run.fixture, index, len(workers)), client_id)


@events.quitting.add_listener
def _summary(environment, **_kwargs) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    parsed = environment.parsed_options
    print("\n".join(["", "Gavel load test summary", *report.summary_lines(environment.stats)]))
    broken = report.verdict(
        environment.stats,
        max_ack_p99_ms=parsed.gavel_max_ack_p99_ms,
        max_failure_ratio=parsed.gavel_max_failure_ratio,
    )
    for line in broken:
        print(f"FAILED threshold: {line}")
    if parsed.gavel_max_ack_p99_ms > 0 or parsed.gavel_max_failure_ratio >= 0:
        environment.process_exit_code = 1 if broken else 0  # the thresholds decide; else Locust's own rule


class BidderUser(LotSocketUser):
    """Logs in, opens one lot and bids at the minimum next bid at the --gavel-bid-wait pace."""

    weight = 3

    def wait_time(self) -> float:
        return random.uniform(*options.pair(self.environment.parsed_options.gavel_bid_wait))

    def on_start(self) -> None:
        super().on_start()
        self.login(next(Run.bidder_names))
        self.lot_id = random.choice(self.fixture["lots"])
        self.my_max = 0
        self.sock = self.open_lot(self.lot_id)

    def on_closed(self, sock: websocket.WebSocket) -> None:
        if sock is self.sock:
            self.sock = None

    @task
    def bid(self) -> None:
        self.expire_unanswered()
        if self.sock is None:
            self.sock = self.open_lot(self.lot_id)
            return
        bid_id = uuid.uuid4().hex
        message = {"type": "bid", "amount": self.min_next[self.lot_id], "bid_id": bid_id}
        if random.random() < self.environment.parsed_options.gavel_max_share:
            # A hidden maximum a few increments up: the system then answers rivals' bids automatically.
            # Never below one's own earlier maximum: lowering it while leading is refused as `invalid`.
            self.my_max = max(message["amount"], self.my_max) + random.randint(1, 10) * 500
            message["max_amount"] = self.my_max
        self.pending[bid_id] = time.perf_counter()
        try:
            self.sock.send(json.dumps(message))
        except Exception as exc:
            self.fire("bid ack", "bid", self.pending.pop(bid_id), exc=exc)
            self.sock = None

    def on_stop(self) -> None:
        self.expire_unanswered()
        super().on_stop()


class WatcherUser(LotSocketUser):
    """Anonymous: watches one lot and only reads; reopens it if the server closes it."""

    weight = 10

    def wait_time(self) -> float:
        return random.uniform(5, 10)

    def on_start(self) -> None:
        super().on_start()
        self.lot_id = random.choice(self.fixture["lots"])
        self.sock = self.open_lot(self.lot_id)

    def on_closed(self, sock: websocket.WebSocket) -> None:
        if sock is self.sock:
            self.sock = None

    @task
    def watch(self) -> None:
        if self.sock is None:
            self.sock = self.open_lot(self.lot_id)


class SellerUser(LotSocketUser):
    """Logs in as the fixture's seller and keeps the seller dashboard (ws/seller/) open: every lot live."""

    weight = 1

    def wait_time(self) -> float:
        return random.uniform(5, 10)

    def on_start(self) -> None:
        super().on_start()
        self.login(self.fixture["seller"])
        self.dashboard = None
        self.open_dashboard()

    def open_dashboard(self) -> None:
        started = time.perf_counter()
        try:
            dashboard = self.connect("/ws/seller/")
            snapshot = json.loads(dashboard.recv())
            if snapshot.get("type") != "seller_snapshot":
                raise RuntimeError(f"expected seller_snapshot, got {snapshot.get('type')}")
        except Exception as exc:
            self.fire("WS connect", "seller", started, exc=exc)
            return
        self.fire("WS connect", "seller", started, len(snapshot["lots"]))
        self.dashboard = dashboard
        self.sockets.append(dashboard)
        self.readers.append(gevent.spawn(self._read_dashboard, dashboard))

    def _read_dashboard(self, sock: websocket.WebSocket) -> None:
        for raw, message in self.messages(sock):
            if message.get("type") == "high_bid" and self.same_clock:
                lag_ms = (time.time() - datetime.fromisoformat(message["server_time"]).timestamp()) * 1000
                self.fire("broadcast", "seller high_bid lag (server clock)", 0, len(raw), elapsed_ms=lag_ms)

    def on_closed(self, sock: websocket.WebSocket) -> None:
        if sock is self.dashboard:
            self.dashboard = None

    @task
    def refresh(self) -> None:
        if self.dashboard is None:
            self.open_dashboard()
        else:
            self.dashboard.send(json.dumps({"type": "refresh"}))


class GavelShape(LoadTestShape):
    """steady: Locust's own -u/-r/-t. event: ramp up to -u, bid steadily, a sniping burst to --gavel-peak-users
    before the close, ramp down."""

    use_common_options = True

    def tick(self):
        parsed = self.runner.environment.parsed_options
        elapsed = self.get_run_time()
        if parsed.run_time and elapsed >= parsed.run_time:
            return None
        users, rate = parsed.num_users or 1, parsed.spawn_rate or 1
        if parsed.gavel_shape == "steady":
            return users, rate
        for until, stage_users, stage_rate in (
            (30, users, 10),
            (90, users, 10),
            (110, parsed.gavel_peak_users, 50),
            (130, max(1, users // 10), 50),
        ):
            if elapsed < until:
                return stage_users, stage_rate
        return None
