"""What operators read: one JSON line per connection open and close and per bid outcome, with the ids they need,
and never a password, a session key or a bidder's hidden maximum."""

from __future__ import annotations

import json
import logging

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db(transaction=True)

SECRET_MAX = 987_654


async def test_sockets_and_bids_log_one_json_line_each_without_secrets(open_socket, lot, bidder, caplog):
    caplog.set_level(logging.INFO)
    socket = await open_socket(lot.pk, bidder)
    await socket.send_json_to({"type": "bid", "amount": 1_000, "max_amount": SECRET_MAX, "bid_id": "log-1"})
    await socket.receive_json_from(timeout=5)
    await socket.send_json_to({"type": "bid", "amount": 5, "bid_id": "log-2"})
    await socket.receive_json_from(timeout=5)
    await socket.disconnect()

    lines = [json.loads(record.getMessage()) for record in caplog.records if record.getMessage().startswith("{")]
    by_event = {}
    for line in lines:
        by_event.setdefault(line["event"], []).append(line)
    opened, accepted, refused, closed = (
        by_event[name][0] for name in ("ws_open", "bid_accepted", "bid_refused", "ws_close")
    )
    assert opened["lot_id"] == lot.pk and opened["user_id"] == bidder.pk and opened["conn_id"]
    assert (accepted["lot_id"], accepted["user_id"], accepted["bid_id"], accepted["seq"]) == (
        lot.pk,
        bidder.pk,
        "log-1",
        1,
    )
    assert isinstance(accepted["latency_ms"], float)
    assert (refused["bid_id"], refused["code"]) == ("log-2", "too_low") and "latency_ms" in refused
    assert closed["conn_id"] == opened["conn_id"] and "code" in closed

    everything = "\n".join(record.getMessage() for record in caplog.records)
    assert str(SECRET_MAX) not in everything, "a hidden maximum reached the logs"
    assert settings.SESSION_COOKIE_NAME not in everything and "cookie" not in everything.lower()
    assert "password" not in everything.lower()
