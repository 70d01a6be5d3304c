"""Locust scenarios for the live bid path: bidders, watchers and sellers on real lot sockets.

Run by `make loadtest` (see loadtests/run_loadtest.sh), or by hand against a running stack:

    GAVEL_FIXTURE=loadtests/results/fixture.json locust -f loadtests/locustfile.py -H http://127.0.0.1:8001

Environment:
    GAVEL_FIXTURE        path to the JSON printed by `manage.py seed_loadtest --json` (required)
    GAVEL_WS_PORTS       comma-separated Daphne ports to spread sockets over (default: the host's port); a lot's
                         sockets all go to one of them, as behind deploy/nginx.conf
    GAVEL_BID_WAIT       "min,max" seconds between one bidder's bids (default "1,3")
    GAVEL_USER_WEIGHTS   "bidders,watchers,sellers" (default "3,10,1")
    GAVEL_MAX_SHARE      share of bids that carry a hidden maximum (automatic bidding), 0..1 (default 0.3)
    GAVEL_SHAPE          "event" to run EventShape (ramp up, sniping burst, ramp down) instead of -u/-r/-t

Request types reported to Locust: `WS connect`, `bid ack` (send -> bid_accepted/bid_rejected; a refusal is a
failure named by its code), `broadcast` (server time of the event -> arrival here; same-machine clocks).
Locust is gevent-based, so sockets use websocket-client, with a greenlet per socket that keeps reading.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
import zlib
from datetime import datetime
from urllib.parse import urlparse

import gevent
import websocket
from locust import HttpUser, LoadTestShape, between, task

FIXTURE = json.loads(open(os.environ["GAVEL_FIXTURE"]).read())
BID_WAIT = tuple(float(x) for x in os.environ.get("GAVEL_BID_WAIT", "1,3").split(","))
WEIGHTS = [int(x) for x in os.environ.get("GAVEL_USER_WEIGHTS", "3,10,1").split(",")]
MAX_SHARE = float(os.environ.get("GAVEL_MAX_SHARE", "0.3"))
_bidder_names = itertools.cycle(FIXTURE["bidders"])


class Refused(Exception):
    """A bid_rejected, reported as a Locust failure named by its refusal code."""


def _messages(sock: websocket.WebSocket):
    """Every message until the socket ends. Keep reading: websocket-client answers server pings only in recv()."""
    while True:
        try:
            raw = sock.recv()
        except Exception:
            return
        if not raw:
            return
        yield raw, json.loads(raw)


class LotSocketUser(HttpUser):
    abstract = True

    def on_start(self) -> None:
        self.sockets: list[websocket.WebSocket] = []
        self.readers: list[gevent.Greenlet] = []
        self.cookie = ""
        self.pending: dict[str, float] = {}
        self.min_next: dict[int, int] = {}

    def on_stop(self) -> None:
        for reader in self.readers:
            reader.kill(block=False)
        for sock in self.sockets:
            try:
                sock.close()
            except Exception:
                pass

    # --- helpers ----------------------------------------------------------------------------------------------
    def login(self, username: str) -> None:
        page = self.client.get("/accounts/login/", name="login page")
        token = page.cookies.get("csrftoken") or self.client.cookies.get("csrftoken")
        self.client.post(
            "/accounts/login/",
            {"username": username, "password": FIXTURE["password"], "csrfmiddlewaretoken": token},
            headers={"Referer": f"{self.host}/accounts/login/"},
            name="login",
        )
        self.cookie = f"sessionid={self.client.cookies.get('sessionid')}"

    def ws_url(self, path: str) -> str:
        host = urlparse(self.host)
        ports = os.environ.get("GAVEL_WS_PORTS")
        if not ports:
            return f"ws://{host.hostname}:{host.port}{path}"
        choices = ports.split(",")
        # As deploy/nginx.conf routes them: every socket of one lot to one worker, other sockets anywhere.
        port = (
            choices[zlib.crc32(path.encode()) % len(choices)]
            if path.startswith("/ws/auctions/")
            else (random.choice(choices))
        )
        return f"ws://{host.hostname}:{port}{path}"

    def open_lot(self, lot_id: int) -> websocket.WebSocket | None:
        started = time.perf_counter()
        try:
            sock = websocket.create_connection(
                self.ws_url(f"/ws/auctions/{lot_id}/"), cookie=self.cookie or None, origin=self.host, timeout=30
            )
            snapshot = json.loads(sock.recv())
            self.min_next[lot_id] = snapshot["min_next_bid"]
        except Exception as exc:
            self._fire("WS connect", "lot", started, 0, exc)
            return None
        self._fire("WS connect", "lot", started, 0, None)
        self.sockets.append(sock)
        self.readers.append(gevent.spawn(self._read, sock, lot_id))
        return sock

    def _read(self, sock: websocket.WebSocket, lot_id: int) -> None:
        for raw, message in _messages(sock):
            kind = message.get("type")
            if "min_next_bid" in message:
                self.min_next[lot_id] = max(self.min_next.get(lot_id, 0), message["min_next_bid"])
            if kind == "high_bid":
                self._broadcast("high_bid", raw, message)
            elif kind in ("bid_accepted", "bid_rejected"):
                sent = self.pending.pop(message.get("bid_id"), None)
                if sent is not None:
                    error = Refused(message["code"]) if kind == "bid_rejected" else None
                    self._fire("bid ack", "bid", sent, len(raw), error)

    def _broadcast(self, name: str, raw: str, message: dict) -> None:
        """Report a broadcast's lag: the server's commit time to its arrival here."""
        lag_ms = (time.time() - datetime.fromisoformat(message["server_time"]).timestamp()) * 1000
        self.environment.events.request.fire(
            request_type="broadcast",
            name=name,
            response_time=lag_ms,
            response_length=len(raw),
            exception=None,
            context={},
        )

    def _fire(self, request_type: str, name: str, started: float, length: int, exception) -> None:
        self.environment.events.request.fire(
            request_type=request_type,
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=exception,
            context={},
        )


class BidderUser(LotSocketUser):
    """Logs in, opens one lot and bids at the minimum next bid at a steady pace."""

    weight = WEIGHTS[0]
    wait_time = between(*BID_WAIT)

    def on_start(self) -> None:
        super().on_start()
        self.login(next(_bidder_names))
        self.lot_id = random.choice(FIXTURE["lots"])
        self.sock = self.open_lot(self.lot_id)

    @task
    def bid(self) -> None:
        if self.sock is None:
            self.sock = self.open_lot(self.lot_id)
            return
        bid_id = uuid.uuid4().hex
        self.pending[bid_id] = time.perf_counter()
        try:
            message = {"type": "bid", "amount": self.min_next[self.lot_id], "bid_id": bid_id}
            if random.random() < MAX_SHARE:
                # A hidden maximum a few increments up: the system then answers rivals' bids automatically.
                # Never below one's own earlier maximum: lowering it while leading is refused as `invalid`.
                floor = max(message["amount"], getattr(self, "my_max", 0))
                message["max_amount"] = self.my_max = floor + random.randint(1, 10) * 500
            self.sock.send(json.dumps(message))
        except Exception as exc:
            self._fire("bid ack", "bid", self.pending.pop(bid_id), 0, exc)
            self.sock = None


class WatcherUser(LotSocketUser):
    """Anonymous: watches one lot and only reads."""

    weight = WEIGHTS[1]
    wait_time = between(5, 10)

    def on_start(self) -> None:
        super().on_start()
        self.open_lot(random.choice(FIXTURE["lots"]))

    @task
    def watch(self) -> None:
        pass  # the reader greenlet does the work


class SellerUser(LotSocketUser):
    """Logs in as the fixture's seller and keeps the seller dashboard (ws/seller/) open: every lot live."""

    weight = WEIGHTS[2]
    wait_time = between(5, 10)

    def on_start(self) -> None:
        super().on_start()
        self.login(FIXTURE["seller"])
        started = time.perf_counter()
        try:
            self.dashboard = websocket.create_connection(
                self.ws_url("/ws/seller/"), cookie=self.cookie, origin=self.host, timeout=30
            )
            snapshot = json.loads(self.dashboard.recv())
            assert snapshot["type"] == "seller_snapshot", snapshot["type"]
        except Exception as exc:
            self._fire("WS connect", "seller", started, 0, exc)
            self.dashboard = None
            return
        self._fire("WS connect", "seller", started, len(snapshot["lots"]), None)
        self.sockets.append(self.dashboard)
        self.readers.append(gevent.spawn(self._read_dashboard, self.dashboard))

    def _read_dashboard(self, sock: websocket.WebSocket) -> None:
        for raw, message in _messages(sock):
            if message.get("type") == "high_bid":
                self._broadcast("seller high_bid", raw, message)

    @task
    def refresh(self) -> None:
        if self.dashboard is not None:
            self.dashboard.send(json.dumps({"type": "refresh"}))


if os.environ.get("GAVEL_SHAPE") == "event":

    class EventShape(LoadTestShape):
        """An auction event: ramp up, steady bidding, a sniping burst before the close, ramp down."""

        stages = [  # (until second, users, spawn rate)
            (30, int(os.environ.get("GAVEL_USERS", "200")), 10),
            (90, int(os.environ.get("GAVEL_USERS", "200")), 10),
            (110, int(os.environ.get("GAVEL_PEAK_USERS", "400")), 50),
            (130, 20, 50),
        ]

        def tick(self):
            elapsed = self.get_run_time()
            for until, users, rate in self.stages:
                if elapsed < until:
                    return users, rate
            return None
