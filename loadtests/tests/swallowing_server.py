"""A stand-in server for the load test's own tests: it logs anyone in, serves lot sockets, answers every bid
except the first, which it swallows. A plain ASGI app, served by Daphne."""

from __future__ import annotations

import json
from datetime import UTC, datetime

SWALLOWED = 1  # how many bids, counted across sockets, get no answer


class State:
    bids = 0
    seq = 0


async def _http(scope, receive, send) -> None:
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"text/plain")]
    if scope["method"] == "GET":
        headers.append((b"set-cookie", b"csrftoken=stand-in; Path=/"))
        status = 200
    else:
        headers.append((b"set-cookie", b"sessionid=stand-in; Path=/"))
        status = 200
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def _socket(scope, receive, send) -> None:
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    snapshot = {"type": "snapshot", "seq": State.seq, "min_next_bid": 1000, "server_time": _now()}
    await send({"type": "websocket.send", "text": json.dumps(snapshot)})
    while True:
        event = await receive()
        if event["type"] == "websocket.disconnect":
            return
        message = json.loads(event.get("text") or "{}")
        if message.get("type") != "bid":
            continue
        State.bids += 1
        if State.bids <= SWALLOWED:
            continue
        State.seq += 1
        amount = message["amount"]
        reply = {"type": "bid_accepted", "bid_id": message["bid_id"], "amount": amount, "seq": State.seq}
        event = {"type": "high_bid", "seq": State.seq, "amount": amount, "min_next_bid": amount + 100}
        for payload in (reply, {**event, "server_time": _now()}):
            await send({"type": "websocket.send", "text": json.dumps(payload)})


async def application(scope, receive, send) -> None:
    if scope["type"] == "http":
        await _http(scope, receive, send)
    elif scope["type"] == "websocket":
        await _socket(scope, receive, send)
    elif scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            pass
