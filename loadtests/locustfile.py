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
Locust is gevent-based, so sockets use websocket-client, with a greenlet per socket that keeps reading.
"""

from __future__ import annotations

import itertools
import json
import random
import ssl
import struct
import time
import uuid
from datetime import datetime

import gevent
import gevent.event
import locust_options as options
import locust_report as report
import websocket
from locust import HttpUser, LoadTestShape, events, task
from locust.runners import MasterRunner, WorkerRunner


class Run:
    """What every user of this process shares: the fixture (from the file, or from the master) and the bidders."""

    fixture: dict | None = None
    ready = gevent.event.Event()
    bidder_names: itertools.cycle | None = None

    @classmethod
    def use(cls, fixture: dict) -> None:
        cls.fixture, cls.bidder_names = fixture, itertools.cycle(fixture["bidders"])
        cls.ready.set()

    @classmethod
    def wait(cls) -> dict:
        if not cls.ready.wait(timeout=60):
            raise RuntimeError("no fixture: pass --gavel-fixture to the master (or to a standalone run)")
        return cls.fixture


@events.init_command_line_parser.add_listener
def _arguments(parser) -> None:
    options.add_arguments(parser)


@events.init.add_listener
def _init(environment, **_kwargs) -> None:
    parsed = environment.parsed_options
    if parsed is None:  # used as a library, without Locust's command line
        return
    BidderUser.weight, WatcherUser.weight, SellerUser.weight = options.weights(parsed.gavel_user_weights)
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        # A worker may connect before its handlers exist, so it asks for the fixture once it can take it; the
        # master also sends it to every worker as a test starts (before its spawn orders).
        runner.register_message("gavel_fixture", lambda msg, **_: Run.use(msg.data))
        runner.send_message("gavel_fixture_please")
        return
    Run.use(options.load_fixture(parsed.gavel_fixture))
    if isinstance(runner, MasterRunner):
        runner.register_message(
            "gavel_fixture_please", lambda msg, **_: runner.send_message("gavel_fixture", Run.fixture, msg.node_id)
        )

        @environment.events.test_start.add_listener
        def _send_fixture_to_all(**_kwargs) -> None:
            runner.send_message("gavel_fixture", Run.fixture)


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


class NoAnswer(Exception):
    """A bid the server never answered within --gavel-ack-timeout."""


class LotSocketUser(HttpUser):
    abstract = True

    def on_start(self) -> None:
        self.sockets: list[websocket.WebSocket] = []
        self.readers: list[gevent.Greenlet] = []
        self.stopping = False
        self.fixture = Run.wait()
        parsed = self.environment.parsed_options
        self.target = options.Target.of(self.host, parsed.gavel_ws_ports)
        self.same_clock = parsed.gavel_same_clock
        if parsed.gavel_ca_file:
            self.client.verify = parsed.gavel_ca_file
        self.cookie = ""
        self.pending: dict[str, float] = {}  # bid_id -> when sent
        self.own_seqs: dict[int, float] = {}  # seq of an accepted bid -> when it was sent
        self.seen_seqs: dict[int, float] = {}  # seq of a high_bid that came before its acceptance -> arrival
        self.min_next: dict[int, int] = {}
        self.opened = 0

    def on_stop(self) -> None:
        self.stopping = True
        for reader in self.readers:
            reader.kill(block=False)
        for sock in self.sockets:
            try:
                sock.close()
            except Exception:  # already gone: nothing to close
                pass

    def login(self, username: str) -> None:
        page = self.client.get("/accounts/login/", name="login page")
        token = page.cookies.get("csrftoken") or self.client.cookies.get("csrftoken")
        self.client.post(
            "/accounts/login/",
            {"username": username, "password": self.fixture["password"], "csrfmiddlewaretoken": token},
            headers={"Referer": f"{self.host}/accounts/login/"},
            name="login",
        )
        self.cookie = f"sessionid={self.client.cookies.get('sessionid')}"

    def connect(self, path: str) -> websocket.WebSocket:
        sslopt = {}
        if isinstance(self.client.verify, str):  # --gavel-ca-file: trusted for sockets as for pages
            sslopt = {"ca_certs": self.client.verify, "cert_reqs": ssl.CERT_REQUIRED}
        return websocket.create_connection(
            self.target.socket_url(path), cookie=self.cookie or None, origin=self.host, timeout=30, sslopt=sslopt
        )

    def open_lot(self, lot_id: int) -> websocket.WebSocket | None:
        name = "lot (reconnect)" if self.opened else "lot"
        started = time.perf_counter()
        try:
            sock = self.connect(f"/ws/auctions/{lot_id}/")
            snapshot = json.loads(sock.recv())
            self.min_next[lot_id] = snapshot["min_next_bid"]
        except Exception as exc:
            self.fire("WS connect", name, started, exc=exc)
            return None
        self.fire("WS connect", name, started)
        self.opened += 1
        self.sockets.append(sock)
        self.readers.append(gevent.spawn(self._read, sock, lot_id))
        return sock

    def messages(self, sock: websocket.WebSocket):
        """Every message until the socket ends; a close by the server is counted. Keep reading: websocket-client
        answers the server's pings only while receiving."""
        while True:
            try:
                opcode, data = sock.recv_data()
            except Exception:
                return
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                if not self.stopping:
                    code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                    self.fire("WS event", f"closed by server {code}", time.perf_counter())
                    self.on_closed(sock)
                return
            raw = data.decode() if isinstance(data, bytes) else data
            yield raw, json.loads(raw)

    def on_closed(self, sock: websocket.WebSocket) -> None:
        """A socket the server closed; subclasses reopen it on their next turn."""

    def _read(self, sock: websocket.WebSocket, lot_id: int) -> None:
        for raw, message in self.messages(sock):
            kind = message.get("type")
            if "min_next_bid" in message:
                self.min_next[lot_id] = max(self.min_next.get(lot_id, 0), message["min_next_bid"])
            if kind == "high_bid":
                self._high_bid(raw, message)
            elif kind in ("bid_accepted", "bid_rejected"):
                self._answer(raw, message)

    def _answer(self, raw: str, message: dict) -> None:
        sent = self.pending.pop(message.get("bid_id"), None)
        if sent is None:
            return
        if message["type"] == "bid_rejected":
            self.fire("bid ack", f"refused: {message['code']}", sent, len(raw))
            return
        self.fire("bid ack", "accepted", sent, len(raw))
        arrived = self.seen_seqs.pop(message["seq"], None)
        if arrived is not None:  # its high_bid came first
            self.fire("broadcast", "own bid → high_bid", sent, elapsed_ms=(arrived - sent) * 1000)
        else:
            self.own_seqs[message["seq"]] = sent

    def _high_bid(self, raw: str, message: dict) -> None:
        now = time.perf_counter()
        sent = self.own_seqs.pop(message["seq"], None)
        if sent is not None:
            self.fire("broadcast", "own bid → high_bid", sent, len(raw))
        elif self.pending:  # perhaps ours, answered later
            self.seen_seqs[message["seq"]] = now
            if len(self.seen_seqs) > 1000:
                self.seen_seqs.clear()
        if self.same_clock:
            lag_ms = (time.time() - datetime.fromisoformat(message["server_time"]).timestamp()) * 1000
            self.fire("broadcast", "high_bid lag (server clock)", now, len(raw), elapsed_ms=lag_ms)

    def expire_unanswered(self) -> None:
        timeout = self.environment.parsed_options.gavel_ack_timeout
        now = time.perf_counter()
        for bid_id, sent in list(self.pending.items()):
            if now - sent > timeout:
                del self.pending[bid_id]
                self.fire("bid ack", "bid", sent, exc=NoAnswer(f"no answer within {timeout:g} s"))

    def fire(self, request_type: str, name: str, started: float, length: int = 0, *, exc=None, elapsed_ms=None):
        self.environment.events.request.fire(
            request_type=request_type,
            name=name,
            response_time=elapsed_ms if elapsed_ms is not None else (time.perf_counter() - started) * 1000,
            response_length=length,
            exception=exc,
            context={},
        )


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
