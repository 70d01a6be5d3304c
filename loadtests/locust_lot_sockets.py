"""The socket side every simulated user shares: the fixture (from the file, or sent by the master), login, lot
sockets read by a greenlet each, bid answers matched to their sends, and every figure reported to Locust's stats.
Locust is gevent-based, so sockets use websocket-client, with a greenlet per socket that keeps reading."""

from __future__ import annotations

import itertools
import json
import ssl
import struct
import time
from datetime import datetime

import gevent
import gevent.event
import locust_options as options
import websocket
from locust import HttpUser


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
        if arrived is not None:  # its high_bid came first, unless it came before the bid was sent: not this bid's
            if arrived >= sent:
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
