"""Talking to the server as a client would: lot sockets and the HTTP bid API of a real Daphne worker, and the
in-process sockets of channels.testing; and the live sale's browser tests' helpers (a clerk's taps, amounts as a page
writes them, a bid after the hammer)."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import threading
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import websocket
import websockets
from django.db import connection

from auctions.exceptions import BidRefused
from auctions.models import Lot, Sale, SaleRegistration
from bidding.services import live, socket_queue
from conftest import ORIGIN, cookie_header


def socket_to(base: str, path: str, cookie: str | None = None, **options):
    """Open a socket on a real worker as a browser would: its Origin, and `cookie` (conftest.cookie_header; None:
    anonymous). `options` go to websockets.connect; nothing is read. Await it, or use it with `async with`."""
    headers = {"Cookie": cookie} if cookie else {}
    return websockets.connect(f"{base}{path}", origin=ORIGIN, additional_headers=headers, **options)


def http_status(url: str) -> int:
    """The status a GET of `url` answers with (errors included)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


async def connect(base: str, lot_id: int, cookie: str | None = None):
    """A lot socket on a real worker, its snapshot read (kept as `.snapshot`); it buffers whatever arrives."""
    ws = await socket_to(base, f"/ws/auctions/{lot_id}/", cookie, max_queue=None)
    ws.snapshot = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert ws.snapshot["type"] == "snapshot", ws.snapshot
    return ws


async def reply_to(ws, bid_id: str, timeout: float = 10) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message.get("bid_id") == bid_id:
            return message


def bid_over_http(server, user, lot_id: int, amount: int, bid_id: str) -> tuple[int, dict]:
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=user)
    request = urllib.request.Request(
        f"{server.http}/api/lots/{lot_id}/bids/",
        method="POST",
        data=json.dumps({"amount": amount, "bid_id": bid_id}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token.key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def receive_until(communicator, message_type: str, timeout: float = 3) -> dict:
    """The next message of `message_type` on an in-process socket (channels.testing), skipping others."""
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        if message["type"] == message_type:
            return message


def in_thread(call, **kwargs) -> tuple[threading.Thread, dict]:
    """Run `call` in a thread, as a request of its own; the result (or the refusal) lands in the dict."""
    result: dict = {}

    def run():
        try:
            result["outcome"] = call(**kwargs)
        except BidRefused as refused:
            result["refusal"] = refused
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def queued_in_this_process(lot_id: int) -> int:
    """How many socket bids have passed their pre-check and wait in this process's queue for the lot (not yet
    taken into a group). The group commit has no public view of its queues: this is the one place tests look."""
    queues = [queues.get(lot_id) for queues in list(socket_queue._lot_decisions._queues.values())]
    return sum(len(queue.waiting) for queue in queues if queue is not None)


async def until(predicate, timeout: float = 10, *, interval: float = 0.01, failure="the condition never held"):
    """Call `predicate` (a plain function, or one returning an awaitable) until it gives something truthy, and
    return that; fail after `timeout` seconds with `failure` (a string, or a callable describing what was seen).
    The one wait on a condition for coroutines; conftest.wait_until is its twin for sync code."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(failure() if callable(failure) else failure)
        await asyncio.sleep(interval)


def elsewhere(action):
    """Run `action` (bids, the close, a cancel: whatever sends notices) in a thread of its own, as another request
    would. For browser tests: their thread runs Playwright's event loop, where the channel layer's synchronous sends
    refuse to run."""

    def run():
        try:
            return action()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


# --- the live sale in the browser ------------------------------------------------------------------------------
EUR = r"(€\s?{}|{}\s?€)"


def euros(amount: str) -> re.Pattern:
    """An amount as the page writes it for the visitor's locale ("€11.00")."""
    return re.compile(EUR.format(re.escape(amount), re.escape(amount)))


def button(page, name: str):
    """A button by the start of its name (the console's names end in their key: "Sold S")."""
    return page.get_by_role("button", name=re.compile(rf"^{re.escape(name)}\b"))


def done(console, action: str) -> None:
    """The console's answer to the clerk's last action: waiting on it keeps the clerk within the socket's rate."""
    from playwright.sync_api import expect

    expect(console.get_by_role("status").filter(has_text="Done:")).to_contain_text(f"Done: {action}")


def clerk_taps(console, name: str, action: str) -> None:
    """A clerk's tap on a console button once it is enabled, and the console's answer awaited."""
    from playwright.sync_api import expect

    expect(button(console, name)).to_be_enabled()
    button(console, name).click()
    done(console, action)


def late_bid(server, user, sale_id: int, amount: int) -> dict:
    """An internet bid sent over the bidder's own socket after the hammer (their page no longer offers one)."""
    ws = websocket.create_connection(
        f"{server.url}/ws/sales/{sale_id}/", cookie=cookie_header(user), origin=ORIGIN, timeout=10
    )
    try:
        assert json.loads(ws.recv())["type"] == "sale_snapshot"
        ws.send(json.dumps({"type": "live_bid", "amount": amount, "bid_id": "after-the-hammer"}))
        while (reply := json.loads(ws.recv())).get("bid_id") != "after-the-hammer":
            pass
        return reply
    finally:
        ws.close()


# --- a live sale, through its services and its socket -----------------------------------------------------------
def lots_of(sale) -> list[Lot]:
    return list(sale.lots.order_by("sale_position"))


def register(sale, user, *, approved=True) -> SaleRegistration:
    paddle = 5_000 + SaleRegistration.objects.filter(sale=sale).count()
    return SaleRegistration.objects.create(sale=sale, user=user, paddle=paddle, approved=approved)


def act(user, sale, action, **args) -> dict:
    return live.clerk_action(user=user, sale_id=sale.pk, action=action, **args)


def bid(user, sale, amount, *, received_at=None) -> dict:
    return live.live_bid(user=user, sale_id=sale.pk, amount=amount, bid_id=uuid.uuid4().hex, received_at=received_at)


def refused(call, *args, **kwargs) -> BidRefused:
    with pytest.raises(BidRefused) as caught:
        call(*args, **kwargs)
    return caught.value


def opened(clerk, sale) -> Lot:
    act(clerk, sale, "start")
    act(clerk, sale, "offer")
    return Lot.objects.get(pk=Sale.objects.get(pk=sale.pk).current_lot_id)


async def sale_socket(open_path, sale, user=None):
    socket = await open_path(f"/ws/sales/{sale.pk}/", user)
    socket.snapshot = await receive_until(socket, "sale_snapshot")
    return socket


async def until_event(socket, event: str) -> dict:
    while True:
        message = await receive_until(socket, "live")
        if message["event"] == event:
            return message
