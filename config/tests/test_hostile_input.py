"""A table of hostile and malformed input against the lot socket, through the full ASGI stack (origin check,
session auth, router) on real PostgreSQL and Redis. Every case asserts the machine-readable answer AND that the
database is unchanged (or, for the cases that are accepted, changed only as the session's user may)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client, override_settings
from django.utils import timezone

from auctions.models import Lot, LotEvent
from bidding.models import Bid
from bidding.protocol import CLOSE_NOT_AUTHENTICATED
from config.asgi import application
from conftest import ORIGIN, cookie_header, login

pytestmark = pytest.mark.django_db(transaction=True)

OK_BID = '{"type": "bid", "amount": 1000, "bid_id": "h"}'


@dataclass(frozen=True)
class Case:
    name: str
    frame: str | bytes = OK_BID
    who: str = "bidder"  # bidder, seller, banned, unverified, anonymous, expired, logged_out
    lot: str = "open"  # open, closed, cancelled, scheduled, buy_now
    origin: str | None = ORIGIN
    reply: tuple = ("error", "invalid")  # (type, code) or ("refused",) for a refused handshake
    details: dict = field(default_factory=dict)
    accepted: bool = False  # the only cases that write: the session's user, on this socket's lot


FRAMES = [
    Case("not JSON", "not json"),
    Case("JSON array", '["bid", 1000]'),
    Case("JSON string", '"bid"'),
    Case("JSON number", "1000"),
    Case("JSON null", "null"),
    Case("empty object", "{}"),
    Case("unknown type", '{"type": "dance"}'),
    Case("type null", '{"type": null, "amount": 1000, "bid_id": "h"}'),
    Case("type a number", '{"type": 7}'),
    Case("group handler (dotted)", '{"type": "lot.event", "payload": {"type": "high_bid", "seq": 99, "amount": 1}}'),
    Case("group handler (underscored)", '{"type": "user_event", "payload": {"type": "won"}}'),
    Case("personal handler", '{"type": "user.event", "payload": {"type": "won"}}'),
    Case("consumer method", '{"type": "on_bid", "amount": 1000, "bid_id": "h"}'),
    Case("ASGI event name", '{"type": "websocket.disconnect", "code": 1000}'),
    Case("dunder", '{"type": "__init__"}'),
    Case("binary frame", OK_BID.encode()),
    Case("deeply nested", '{"type": "bid", "amount": ' + "[" * 1500 + "]" * 1500 + ', "bid_id": "h"}'),
    Case("missing amount", '{"type": "bid", "bid_id": "h"}', reply=("bid_rejected", "invalid")),
    Case("missing bid_id", '{"type": "bid", "amount": 1000}', reply=("bid_rejected", "invalid")),
    Case("amount as string", '{"type": "bid", "amount": "1000", "bid_id": "h"}', reply=("bid_rejected", "invalid")),
    Case("amount float", '{"type": "bid", "amount": 1000.5, "bid_id": "h"}', reply=("bid_rejected", "invalid")),
    Case("amount whole float", '{"type": "bid", "amount": 1000.0, "bid_id": "h"}', reply=("bid_rejected", "invalid")),
    Case("amount exponent", '{"type": "bid", "amount": 1e3, "bid_id": "h"}', reply=("bid_rejected", "invalid")),
    Case("amount negative", '{"type": "bid", "amount": -1000, "bid_id": "h"}', reply=("bid_rejected", "invalid")),
    Case("amount zero", '{"type": "bid", "amount": 0, "bid_id": "h"}', reply=("bid_rejected", "invalid")),
    Case("amount NaN", '{"type": "bid", "amount": NaN, "bid_id": "h"}'),
    Case("amount Infinity", '{"type": "bid", "amount": Infinity, "bid_id": "h"}'),
    Case("amount -Infinity", '{"type": "bid", "amount": -Infinity, "bid_id": "h"}'),
    Case(
        "40-digit amount",
        '{"type": "bid", "amount": ' + "9" * 40 + ', "bid_id": "h"}',
        reply=("bid_rejected", "invalid"),
    ),
    Case("amount boolean", '{"type": "bid", "amount": true, "bid_id": "h"}', reply=("bid_rejected", "invalid")),
    Case(
        "amount object", '{"type": "bid", "amount": {"cents": 1000}, "bid_id": "h"}', reply=("bid_rejected", "invalid")
    ),
    Case(
        "amount below minimum",
        '{"type": "bid", "amount": 999, "bid_id": "h"}',
        reply=("bid_rejected", "too_low"),
        details={"min_next_bid": 1000},
    ),
    Case(
        "max_amount below amount",
        '{"type": "bid", "amount": 1000, "max_amount": 999, "bid_id": "h"}',
        reply=("bid_rejected", "invalid"),
        details={"field": "max_amount"},
    ),
    Case(
        "max_amount float",
        '{"type": "bid", "amount": 1000, "max_amount": 2000.5, "bid_id": "h"}',
        reply=("bid_rejected", "invalid"),
        details={"field": "max_amount"},
    ),
    Case(
        "max_amount string",
        '{"type": "bid", "amount": 1000, "max_amount": "9999", "bid_id": "h"}',
        reply=("bid_rejected", "invalid"),
        details={"field": "max_amount"},
    ),
    Case("bid_id a number", '{"type": "bid", "amount": 1000, "bid_id": 12}', reply=("bid_rejected", "invalid")),
    Case("bid_id empty", '{"type": "bid", "amount": 1000, "bid_id": ""}', reply=("bid_rejected", "invalid")),
    Case(
        "bid_id too long",
        '{"type": "bid", "amount": 1000, "bid_id": "' + "x" * 65 + '"}',
        reply=("bid_rejected", "invalid"),
    ),
    Case("oversized frame", '{"type": "bid", "amount": 1000, "bid_id": "h", "pad": "' + "x" * 4_100 + '"}'),
    Case("oversized in UTF-8 only", '{"type": "bid", "amount": 1000, "bid_id": "h", "pad": "' + "é" * 2_100 + '"}'),
    Case("sync negative", '{"type": "sync", "since_seq": -1}'),
    Case("sync string", '{"type": "sync", "since_seq": "0"}'),
    Case("sync float", '{"type": "sync", "since_seq": 1.5}'),
    Case("buy_now without bid_id", '{"type": "buy_now"}', lot="buy_now", reply=("bid_rejected", "invalid")),
    Case(
        "buy_now where none is offered",
        '{"type": "buy_now", "bid_id": "n"}',
        reply=("bid_rejected", "buy_now_unavailable"),
    ),
    Case(
        "forged bidder field",
        '{"type": "bid", "amount": 1000, "bid_id": "h", "bidder": 1, "user_id": 1}',
        accepted=True,
    ),
    Case("another lot's id", '{"type": "bid", "amount": 1000, "bid_id": "h", "lot": 1, "lot_id": 1}', accepted=True),
]

PERMISSIONS = [
    Case("closed lot", lot="closed", reply=("bid_rejected", "closed")),
    Case("cancelled lot", lot="cancelled", reply=("bid_rejected", "closed")),
    Case("lot not yet open", lot="scheduled", reply=("bid_rejected", "not_open")),
    Case("the seller bidding", who="seller", reply=("bid_rejected", "forbidden"), details={"reason": "own_lot"}),
    Case("banned user", who="banned", reply=("bid_rejected", "forbidden"), details={"reason": "banned"}),
    Case("unverified user", who="unverified", reply=("bid_rejected", "forbidden"), details={"reason": "not_verified"}),
    Case("anonymous bid", who="anonymous", reply=("bid_rejected", "not_authenticated")),
    Case("expired session", who="expired", reply=("bid_rejected", "not_authenticated")),
    Case("logged-out session", who="logged_out", reply=("bid_rejected", "not_authenticated")),
    Case(
        "anonymous buy now",
        '{"type": "buy_now", "bid_id": "n"}',
        who="anonymous",
        lot="buy_now",
        reply=("bid_rejected", "not_authenticated"),
    ),
]

HANDSHAKES = [
    Case("foreign Origin", origin="http://evil.example", reply=("refused",)),
    Case("missing Origin", origin=None, reply=("refused",)),
    Case("look-alike host", origin="http://127.0.0.1.evil.com", reply=("refused",)),
    Case("look-alike subdomain", origin="http://app.example.com.evil.com", reply=("refused",)),
    Case("null Origin", origin="null", reply=("refused",)),
    Case("Origin with credentials", origin="http://127.0.0.1@evil.com", reply=("refused",)),
]

CORPUS = FRAMES + PERMISSIONS + HANDSHAKES


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 40 and len({case.name for case in CORPUS}) == len(CORPUS)


def _world(case: Case, make_lot, make_user, seller):
    now = timezone.now()
    kinds = {
        "open": {},
        "buy_now": {"buy_now_price": 50_000},
        "closed": {"status": Lot.Status.CLOSED},
        "cancelled": {"status": Lot.Status.CANCELLED},
        "scheduled": {"status": Lot.Status.SCHEDULED, "starts_in": timedelta(hours=1), "ends_in": timedelta(hours=2)},
    }
    other_lot = make_lot(seller=seller, title="Another lot")
    lot = make_lot(seller=seller, **kinds[case.lot])
    users = {
        "bidder": lambda: make_user("alice"),
        "seller": lambda: seller,
        "banned": lambda: make_user("mallory", banned=True),
        "unverified": lambda: make_user("newbie", can_bid=False),
        "anonymous": lambda: None,
        "expired": lambda: make_user("sleepy"),
        "logged_out": lambda: make_user("gone"),
    }
    user = users[case.who]()
    headers = [(b"origin", case.origin.encode())] if case.origin is not None else []
    if user is not None:
        client = login(user)
        if case.who == "expired":
            Session.objects.filter(session_key=client.session.session_key).update(
                expire_date=now - timedelta(seconds=1)
            )
        headers.append((b"cookie", cookie_header(client).encode()))
        if case.who == "logged_out":
            client.post("/accounts/logout/")
    return lot, other_lot, user, headers


def _database():
    return (
        sorted(
            Lot.objects.values_list(
                "pk", "high_bid_amount", "high_bidder_id", "bid_count", "seq", "status", "ends_at", "leader_max_amount"
            )
        ),
        Bid.objects.count(),
        LotEvent.objects.count(),
    )


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
async def test_hostile_input(case, make_lot, make_user, seller):
    lot, other_lot, user, headers = await sync_to_async(_world)(case, make_lot, make_user, seller)
    before = await sync_to_async(_database)()
    socket = WebsocketCommunicator(application, f"/ws/auctions/{lot.pk}/", headers=headers)
    watcher = WebsocketCommunicator(application, f"/ws/auctions/{lot.pk}/", headers=[(b"origin", ORIGIN.encode())])
    try:
        connected, _ = await socket.connect()
        if case.reply == ("refused",):
            assert not connected
            assert await sync_to_async(_database)() == before
            return
        assert connected
        assert (await socket.receive_json_from(timeout=5))["type"] == "snapshot"
        assert (await watcher.connect())[0]
        await watcher.receive_json_from(timeout=5)
        if isinstance(case.frame, bytes):
            await socket.send_to(bytes_data=case.frame)
        else:
            await socket.send_to(text_data=case.frame)
        reply = await socket.receive_json_from(timeout=5)
        while case.accepted and reply["type"] == "high_bid":  # the broadcast may overtake the reply
            reply = await socket.receive_json_from(timeout=5)
        if case.accepted:
            assert reply["type"] == "bid_accepted", reply
            fresh, other = await Lot.objects.aget(pk=lot.pk), await Lot.objects.aget(pk=other_lot.pk)
            assert (fresh.high_bidder_id, fresh.high_bid_amount) == (user.pk, 1_000)  # only the session counts
            assert (other.bid_count, other.seq) == (0, 0)  # the socket's lot, never the one named in the frame
            return
        assert (reply["type"], reply["code"]) == case.reply, reply
        assert reply["message"]
        for key, value in case.details.items():
            assert reply[key] == value
        assert await sync_to_async(_database)() == before, "a refused message changed the database"
        assert await watcher.receive_nothing(timeout=0.2), "other watchers heard something"
    finally:
        await socket.disconnect()
        await watcher.disconnect()


@override_settings(WS_SESSION_REVALIDATE_SECONDS=0.2)
async def test_sockets_of_a_user_who_logs_out_close_within_the_revalidation_interval(lot, bidder):
    client = await sync_to_async(login)(bidder)
    headers = [(b"origin", ORIGIN.encode()), (b"cookie", cookie_header(client).encode())]
    socket = WebsocketCommunicator(application, f"/ws/auctions/{lot.pk}/", headers=headers)
    anonymous = WebsocketCommunicator(application, f"/ws/auctions/{lot.pk}/", headers=[(b"origin", ORIGIN.encode())])
    assert (await socket.connect())[0] and (await anonymous.connect())[0]
    await socket.receive_json_from(timeout=5)
    await anonymous.receive_json_from(timeout=5)
    await sync_to_async(client.post)("/accounts/logout/")
    closing = await socket.receive_output(timeout=3)
    assert (closing["type"], closing["code"]) == ("websocket.close", CLOSE_NOT_AUTHENTICATED)
    assert await anonymous.receive_nothing(timeout=0.5)  # watchers without a session are left alone
    await socket.disconnect()
    await anonymous.disconnect()


@pytest.mark.django_db
def test_html_in_titles_descriptions_and_names_is_shown_escaped(make_lot, make_user):
    evil = make_user('<img src=x onerror="alert(1)">')
    lot = make_lot(seller=evil, title="<script>alert('t')</script>", description="<b onclick=alert(2)>desc</b>")
    for path in ("/", f"/lots/{lot.pk}/"):
        html = Client().get(path).content.decode()
        assert "<script>alert(" not in html and "&lt;script&gt;alert(" in html
        assert "<b onclick" not in html and "<img src=x" not in html
    # The socket carries text, not markup: every script writes names with textContent or escapes them.
    # Markup assigned with innerHTML is a template whose every `${…}` is a number, escaped text or a helper that
    # escapes, or markup a helper built that way (toast's `html`, a card's cover).
    safe = ("Number(", "esc(", "coverHtml(", "href}")
    for script in ("lot.js", "lots.js", "seller.js", "common.js", "clerk.js", "live.js", "auctioneer.js", "room.js"):
        source = (settings.BASE_DIR / "static" / "js" / script).read_text()
        for assigned in re.findall(r"innerHTML = (`[^`]*`|[^;]+);", source):
            if assigned.startswith("`"):
                for part in re.findall(r"\$\{(.*?)\}", assigned):
                    assert part.startswith(safe) or part + "}" in safe or part.startswith("lot.id"), f"{script}: {part}"
            else:
                assert assigned in ("html", "coverHtml(lot.cover)"), f"{script}: {assigned}"
