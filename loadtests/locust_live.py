"""The live-sale scenario (`--gavel-scenario live`): watchers on the sale socket (ws/sales/<id>/), registered
bidders bidding in bursts at each new ask, and one clerk driving the sale from its console. The fixture's `sale`
comes from `manage.py seed_loadtest --sale-lots N` (a sale that ran cannot run again: seed a new one per run).

Reported (request type / name):
- `WS connect` / `sale`, `sale (reconnect)`, `sale (clerk)`: handshake to the `sale_snapshot`.
- `clerk` / `<action>`: the clerk's action to its `clerk_done`; `clerk` / `refused: <code>` are failures.
- `live bid` / `accepted`, `refused: <code>`: send to the answer (`too_low`: another bid took that ask first, the
  expected fate of most of a burst); `live bid` / `live_bid` failures: never answered within --gavel-ack-timeout.
- `live event` / `lag (server clock)`: a `live` event's server time to its arrival, only with --gavel-same-clock.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import datetime

import gevent
import gevent.queue
import websocket
from locust import task
from locust_lot_sockets import LotSocketUser, NoAnswer, Run

SALE_PATH = "/ws/sales/{}/"
# Events after which the ask an internet bid must carry has moved: a bidder's page shows a new Bid button.
NEW_ASK_EVENTS = ("offered", "bid", "ask", "undone", "resumed", "reopened")


class SaleSocketUser(LotSocketUser):
    """One socket on the fixture's sale, read by a greenlet; reopened on the next turn if the server closes it."""

    abstract = True

    def on_start(self) -> None:
        super().on_start()
        self.sale_id = self.fixture["sale"]["id"]
        self.sale_sock = None

    def open_sale(self, name: str = "sale") -> websocket.WebSocket | None:
        name = f"{name} (reconnect)" if self.opened else name
        started = time.perf_counter()
        try:
            sock = self.connect(SALE_PATH.format(self.sale_id))
            snapshot = json.loads(sock.recv())
            if snapshot.get("type") != "sale_snapshot":
                raise RuntimeError(f"expected sale_snapshot, got {snapshot.get('type')}")
        except Exception as exc:
            self.fire("WS connect", name, started, exc=exc)
            return None
        self.fire("WS connect", name, started)
        self.opened += 1
        self.sockets.append(sock)
        self.sale_sock = sock
        self.on_snapshot(snapshot)
        self.readers.append(gevent.spawn(self._read_sale, sock))
        return sock

    def on_snapshot(self, snapshot: dict) -> None:
        """The state the socket starts from."""

    def on_closed(self, sock: websocket.WebSocket) -> None:
        if sock is self.sale_sock:
            self.sale_sock = None

    def _read_sale(self, sock: websocket.WebSocket) -> None:
        for raw, message in self.messages(sock):
            if message.get("type") == "live" and self.same_clock:
                lag_ms = (time.time() - datetime.fromisoformat(message["server_time"]).timestamp()) * 1000
                self.fire("live event", "lag (server clock)", 0, len(raw), elapsed_ms=lag_ms)
            self.on_message(raw, message)

    def on_message(self, raw: str, message: dict) -> None:
        """Every frame after the snapshot."""


class SaleWatcherUser(SaleSocketUser):
    """Anonymous: follows the sale (the lot on the block, every event) and only reads."""

    weight = 1  # set by the scenario (locustfile.py); Locust leaves out a class of weight 0 when it loads the file

    def wait_time(self) -> float:
        return random.uniform(5, 10)

    def on_start(self) -> None:
        super().on_start()
        self.open_sale()

    @task
    def watch(self) -> None:
        if self.sale_sock is None:
            self.open_sale()


class SaleBidderUser(SaleSocketUser):
    """A registered bidder on the sale: at each new ask, with --gavel-live-bid-share odds, taps Bid at that ask after
    a human's moment (0.1 to 1 s), so each new ask brings a burst of bids of which one is taken."""

    weight = 1

    def wait_time(self) -> float:
        return 1.0

    def on_start(self) -> None:
        super().on_start()
        self.login(next(Run.bidder_names))
        self.share = self.environment.parsed_options.gavel_live_bid_share
        self.open_sale()

    def on_snapshot(self, snapshot: dict) -> None:
        block = snapshot.get("block")
        if block and block.get("ask") and block.get("live_state") in ("open", "fair_warning"):
            self.maybe_bid(block["lot"], block["ask"])

    def on_message(self, raw: str, message: dict) -> None:
        kind = message.get("type")
        if kind == "live":
            if message.get("event") in NEW_ASK_EVENTS and message.get("live_state") in ("open", "fair_warning"):
                if message.get("ask"):
                    self.maybe_bid(message["lot"], message["ask"])
        elif kind in ("live_bid_accepted", "bid_rejected", "live_bid_waiting"):
            sent = self.pending.pop(message.get("bid_id"), None)
            if sent is not None:
                outcome = message["code"] if kind == "bid_rejected" else kind.removeprefix("live_bid_")
                self.fire("live bid", outcome if outcome == "accepted" else f"refused: {outcome}", sent, len(raw))

    def maybe_bid(self, lot: int, ask: int) -> None:
        if random.random() < self.share:
            gevent.spawn_later(random.uniform(0.1, 1.0), self.bid, lot, ask)

    def bid(self, lot: int, ask: int) -> None:
        sock = self.sale_sock
        if sock is None or self.stopping:
            return
        bid_id = uuid.uuid4().hex
        self.pending[bid_id] = time.perf_counter()
        try:
            sock.send(json.dumps({"type": "live_bid", "lot": lot, "amount": ask, "bid_id": bid_id}))
        except Exception as exc:
            self.fire("live bid", "live_bid", self.pending.pop(bid_id), exc=exc)

    @task
    def keep_socket(self) -> None:
        timeout = self.environment.parsed_options.gavel_ack_timeout
        now = time.perf_counter()
        for bid_id, sent in list(self.pending.items()):
            if now - sent > timeout:
                del self.pending[bid_id]
                self.fire("live bid", "live_bid", sent, exc=NoAnswer(f"no answer within {timeout:g} s"))
        if self.sale_sock is None:
            self.open_sale()


class SaleClerkUser(SaleSocketUser):
    """The sale's clerk (one in the whole run): claims the console, starts the sale and, one action every
    --gavel-clerk-pace seconds, offers each lot, takes a floor bid at every turn (a new ask, and a burst of internet
    bids), gives fair warning after --gavel-lot-turns turns, sells, and moves to the next lot until none waits.
    Pings every second: a silent driving console pauses the sale."""

    weight = 1
    fixed_count = 1  # one in the live scenario, none in the other (locustfile.py)

    def wait_time(self) -> float:
        return self.environment.parsed_options.gavel_clerk_pace

    def on_start(self) -> None:
        super().on_start()
        self.replies: gevent.queue.Queue = gevent.queue.Queue()
        self.state = None  # the live_state of the lot on the block, from the clerk's own replies
        self.turns = 0
        self.settled = 0  # lots sold or passed: the sale is over once every one is
        self.finished = False
        self.login(self.fixture["sale"]["clerk"])
        self.sale_status = None
        if self.open_sale("sale (clerk)") is not None:
            self.act("claim")
            if self.sale_status == "scheduled":
                self.act("start")
        self.readers.append(gevent.spawn(self._heartbeat))

    def on_snapshot(self, snapshot: dict) -> None:
        self.sale_status = snapshot["sale"]["status"]
        block = snapshot.get("block")
        self.state = block["live_state"] if block else None

    def on_message(self, raw: str, message: dict) -> None:
        if message.get("type") in ("clerk_done", "clerk_refused"):
            self.replies.put(message)

    def _heartbeat(self) -> None:
        while not self.stopping:
            gevent.sleep(1)
            if self.sale_sock is not None:
                try:
                    self.sale_sock.send(json.dumps({"type": "ping"}))
                except Exception:  # closed: the next turn reopens it
                    pass

    def act(self, action: str) -> dict | None:
        sock = self.sale_sock
        if sock is None:
            return None
        started = time.perf_counter()
        timeout = self.environment.parsed_options.gavel_ack_timeout
        try:
            sock.send(json.dumps({"type": "clerk", "action": action}))
            reply = self.replies.get(timeout=timeout)
        except gevent.queue.Empty:
            self.fire("clerk", action, started, exc=NoAnswer(f"no answer within {timeout:g} s"))
            return None
        except Exception as exc:
            self.fire("clerk", action, started, exc=exc)
            return None
        if reply["type"] == "clerk_refused":
            self.fire("clerk", f"refused: {reply.get('code')}", started, exc=RuntimeError(reply.get("message")))
            return reply
        self.fire("clerk", action, started)
        self.state = reply.get("live_state", self.state)
        return reply

    @task
    def drive(self) -> None:
        if self.finished:
            return
        if self.sale_sock is None:
            if self.open_sale("sale (clerk)") is not None:
                self.act("claim")
            return
        if self.state in (None, "waiting"):
            self.turns = 0
            self.act("offer")
        elif self.state == "open" and self.turns < self.environment.parsed_options.gavel_lot_turns:
            self.turns += 1
            self.act("floor_bid")
        elif self.state == "open":
            self.act("fair_warning")
        elif self.state == "fair_warning":
            if (reply := self.act("sold")) is not None and reply["type"] == "clerk_done":
                self.settled += 1
        elif self.settled >= len(self.fixture["sale"]["lots"]):
            self.finished = True
        else:  # sold or passed: the next lot
            self.act("next")
