"""Nothing the app sends PostgreSQL may outlive its transaction, so PgBouncer in transaction mode can hand each
transaction another server connection: no prepared statements, no session-level advisory locks, no LISTEN, no
session-level SET. Checked on the SQL the app sends while placing bids (the HTTP path and the socket path's group
commit), closing lots and verifying them, and on the source.

One session-level setting is allowed, and only at connect time: Django sets the connection's TimeZone
(`set_config('TimeZone', …, false)`) when the server's differs from settings.TIME_ZONE. PgBouncer tracks TimeZone
for each client (it is a reported parameter) and sets it again on whichever server connection serves the client,
so it is safe; it never runs on a connection already in use, and is not captured below (it goes through psycopg
directly)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.db import connection
from django.db.backends import utils

from bidding.closing import close_due_lots
from bidding.services import buy_now, place_bid
from bidding.tests.live import receive_until
from conftest import ROOT, closing_time

pytestmark = pytest.mark.django_db(transaction=True)

SESSION_STATE = re.compile(
    r"""\bPREPARE\b|\bEXECUTE\s+\w|pg_(?:try_)?advisory_lock|\bLISTEN\b|\bUNLISTEN\b
    |\bNOTIFY\b|\bDECLARE\b.*\bWITH\s+HOLD\b|^\s*SET\s+(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b)
    |set_config\([^)]*,\s*false\s*\)""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)


@pytest.fixture
def sent_sql(monkeypatch) -> list[str]:
    """Every statement the ORM and raw cursors send, from every thread (the socket path decides in pools)."""
    sent: list[str] = []
    execute, executemany = utils.CursorWrapper.execute, utils.CursorWrapper.executemany

    def recording_execute(self, sql, params=None):
        sent.append(str(sql))
        return execute(self, sql, params)

    def recording_executemany(self, sql, param_list):
        sent.append(str(sql))
        return executemany(self, sql, param_list)

    monkeypatch.setattr(utils.CursorWrapper, "execute", recording_execute)
    monkeypatch.setattr(utils.CursorWrapper, "executemany", recording_executemany)
    return sent


def session_state(sent: list[str]) -> list[str]:
    return [sql for sql in sent if SESSION_STATE.search(sql)]


def test_the_pattern_knows_session_state_from_transaction_state():
    stateful = [
        "PREPARE bid AS SELECT 1",
        "SELECT pg_advisory_lock(7)",
        "LISTEN lots",
        "SET statement_timeout = 0",
        "SELECT set_config('TimeZone', 'UTC', false)",
        "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
    ]
    assert session_state(stateful) == stateful
    assert not session_state(
        [
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
            "SET LOCAL lock_timeout = '1s'",
            "SELECT pg_advisory_xact_lock(1)",  # released at commit
            'UPDATE "auctions_lot" SET "listened" = true',
        ]
    )


async def test_bidding_closing_and_verifying_leave_no_session_state(sent_sql, open_socket, make_lot, make_user, seller):
    hot = await sync_to_async(make_lot)(seller=seller, ends_in=timedelta(minutes=5))
    bought = await sync_to_async(make_lot)(seller=seller, buy_now_price=50_000)
    alice, bob = await sync_to_async(make_user)("alice"), await sync_to_async(make_user)("bob")

    # The HTTP path (place_bid, buy_now) and the socket path (the group commit), with an automatic answer.
    await sync_to_async(place_bid)(user=alice, lot_id=hot.pk, amount=1_000, bid_id=uuid.uuid4().hex, max_amount=3_000)
    await sync_to_async(buy_now)(user=bob, lot_id=bought.pk, bid_id=uuid.uuid4().hex)
    socket = await open_socket(hot.pk, bob)
    for n, amount in enumerate((1_500, 2_000, 4_000)):
        await socket.send_json_to({"type": "bid", "amount": amount, "bid_id": f"s-{n}"})
        await receive_until(socket, "bid_accepted")

    # The close and the audit.
    assert await sync_to_async(close_due_lots)(now=closing_time(hot.ends_at)) == [hot.pk]
    await sync_to_async(call_command)("verify_lot", "--all")

    # What was captured includes every path: the bid decisions (the HTTP path's and the socket path's, each one
    # statement), the audit's snapshot, the close's event.
    assert sum("lot_update AS" in sql for sql in sent_sql) >= 4
    assert "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ" in sent_sql
    assert sum('INSERT INTO "auctions_lotevent"' in sql for sql in sent_sql) >= 2
    assert session_state(sent_sql) == []


def test_psycopg_never_prepares_statements():
    """psycopg 3 prepares a statement run five times on a connection unless told not to; Django tells it not to
    (prepare_threshold None) unless OPTIONS asks for server-side binding."""
    connection.ensure_connection()
    assert connection.connection.prepare_threshold is None
    assert not connection.settings_dict["OPTIONS"].get("server_side_binding")


def test_the_source_asks_for_no_session_state():
    pattern = re.compile(
        r"pg_(?:try_)?advisory_lock|\bLISTEN\b|prepare\s*=\s*True|prepare_threshold|server_side_binding"
    )
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for room in ("accounts", "auctions", "bidding", "config")
        for path in (ROOT / room).rglob("*.py")
        if "tests" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
