"""The load test's own options, as Locust custom arguments, and what they name: the target's socket addresses and
the fixture.

Every option is a Locust argument (shown and editable in the web UI, settable on the command line, in
`locust.conf` as `gavel-bid-wait = 1,3`, or as `LOCUST_GAVEL_BID_WAIT`); nothing is read at import. Locust sends
the parsed options to its workers; the fixture itself goes to them from the master (locustfile.py), so only the
master needs the file.
"""

from __future__ import annotations

import json
import random
import urllib.request
import zlib
from dataclasses import dataclass
from urllib.parse import urlparse

LOT_PATH_PREFIX = "/ws/auctions/"


def add_arguments(parser) -> None:
    """Listener for `events.init_command_line_parser`."""
    group = parser.add_argument_group(
        "Gavel", "the auction under load (docs/operations.md, 'Load-testing before a sale')"
    )
    group.add_argument(
        "--gavel-fixture",
        default="",
        help="JSON printed by `manage.py seed_loadtest --json` on the target: a file path or an http(s) address",
    )
    group.add_argument(
        "--gavel-scenario",
        choices=["lots", "live"],
        default="lots",
        help="lots: timed lots (bidders, watchers, sellers); live: a live sale (its bidders and watchers in the "
        "--gavel-user-weights proportions, and one clerk driving it); needs a fixture with a sale (--sale-lots)",
    )
    group.add_argument("--gavel-clerk-pace", type=float, default=2.0, help="live: seconds between the clerk's actions")
    group.add_argument(
        "--gavel-lot-turns",
        type=int,
        default=5,
        help="live: the clerk's floor bids on each lot (each a new ask) before fair warning and the hammer",
    )
    group.add_argument(
        "--gavel-live-bid-share",
        type=float,
        default=0.2,
        help="live: the odds that a bidder taps Bid at each new ask (the bursts), 0..1",
    )
    group.add_argument("--gavel-bid-wait", default="1,3", help="min,max seconds between one bidder's bids")
    group.add_argument("--gavel-user-weights", default="3,10,1", help="bidders,watchers,sellers")
    group.add_argument(
        "--gavel-max-share", type=float, default=0.3, help="share of bids carrying a hidden maximum, 0..1"
    )
    group.add_argument(
        "--gavel-shape",
        choices=["steady", "event"],
        default="steady",
        help="steady: -u/-r/-t; event: ramp up, a sniping burst before the close, ramp down (--gavel-peak-users)",
    )
    group.add_argument("--gavel-peak-users", type=int, default=400, help="users during the event shape's burst")
    group.add_argument(
        "--gavel-ws-ports",
        default="",
        help="local stacks only: comma-separated worker ports to spread sockets over, a lot's sockets on one of "
        "them as nginx routes them (empty: every socket through the host's URL, as in production)",
    )
    group.add_argument(
        "--gavel-ack-timeout", type=float, default=10.0, help="seconds after which an unanswered bid is a failure"
    )
    group.add_argument(
        "--gavel-same-clock",
        action="store_true",
        default=False,
        help="the load generators' clocks agree with the servers' (same machine, or checked NTP): also report "
        "each broadcast's lag from the server's own timestamp",
    )
    group.add_argument(
        "--gavel-ca-file",
        default="",
        help="a CA certificate to trust for https:// and wss:// (a staging deployment's own CA; empty: the system's)",
    )
    group.add_argument("--gavel-max-ack-p99-ms", type=float, default=0.0, help="fail the run above this (0: off)")
    group.add_argument(
        "--gavel-max-failure-ratio", type=float, default=-1.0, help="fail the run above this share (<0: off)"
    )


def pair(text: str) -> tuple[float, float]:
    low, high = (float(part) for part in text.split(","))
    if not 0 <= low <= high:
        raise ValueError(f"expected min,max with 0 <= min <= max, got {text!r}")
    return low, high


def weights(text: str) -> tuple[int, int, int]:
    values = tuple(int(part) for part in text.split(","))
    if len(values) != 3 or min(values) < 0 or not any(values):
        raise ValueError(f"expected bidders,watchers,sellers (non-negative, not all zero), got {text!r}")
    return values


@dataclass(frozen=True)
class Target:
    """Where the sockets go: the deployment's own address (ws:// or wss:// from the page's scheme), or, on a local
    stack without nginx, one of several worker ports chosen as nginx would."""

    scheme: str
    host: str
    port: int
    spread_ports: tuple[int, ...] = ()

    @classmethod
    def of(cls, base_url: str, ws_ports: str = "") -> Target:
        url = urlparse(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"the host must be an http:// or https:// address, got {base_url!r}")
        secure = url.scheme == "https"
        port = url.port or (443 if secure else 80)
        spread = tuple(int(p) for p in ws_ports.split(",") if p.strip())
        return cls("wss" if secure else "ws", url.hostname, port, spread)

    def socket_url(self, path: str) -> str:
        port = self.port
        if self.spread_ports:
            # Every socket of one lot on one worker (deploy/nginx.conf hashes the path), the others anywhere.
            if path.startswith(LOT_PATH_PREFIX):
                port = self.spread_ports[zlib.crc32(path.encode()) % len(self.spread_ports)]
            else:
                port = random.choice(self.spread_ports)
        default = 443 if self.scheme == "wss" else 80
        netloc = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{netloc}{'' if port == default else f':{port}'}{path}"


def load_fixture(source: str, *, live: bool = False) -> dict:
    """The seed_loadtest JSON from a path or an http(s) address; for the live scenario, with its sale."""
    if not source:
        raise ValueError("--gavel-fixture is required: the JSON of `manage.py seed_loadtest --json` on the target")
    if urlparse(source).scheme in ("http", "https"):
        with urllib.request.urlopen(source, timeout=30) as response:
            fixture = json.loads(response.read())
    else:
        with open(source) as handle:
            fixture = json.load(handle)
    missing = {"seller", "bidders", "lots", "password"} - set(fixture)
    if missing:
        raise ValueError(f"the fixture lacks {sorted(missing)}: is it the output of seed_loadtest --json?")
    if live and not fixture.get("sale"):
        raise ValueError("the live scenario needs a sale: seed the fixture with `seed_loadtest --sale-lots N`")
    return fixture


def share(fixture: dict, index: int, count: int) -> dict:
    """Worker `index` of `count`'s part of the fixture: its own bidder accounts (every lot, the seller, the
    password alike), so no account bids from two processes at once: one account's users in two processes raised
    and lowered each other's hidden maximum (`invalid`). With more workers than accounts, each still gets one."""
    bidders = fixture["bidders"][index::count] or [fixture["bidders"][index % len(fixture["bidders"])]]
    return {**fixture, "bidders": bidders}
