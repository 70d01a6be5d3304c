"""`make demo` runs on SQLite with no Redis: the same bid path must work there (its write statement differs)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

SCRIPT = """
import asyncio
from django.contrib.auth.models import User
from auctions.models import Lot, LotEvent
from bidding.services import aplace_bid, place_bid
lot = Lot.objects.filter(status="open", bid_count=0).order_by("pk").first()  # one the demo has not bid on
alice, bob = User.objects.get(username="alice"), User.objects.get(username="bob")
first = asyncio.run(aplace_bid(user=alice, lot_id=lot.pk, amount=lot.starting_price, bid_id="a1"))
second = place_bid(user=bob, lot_id=lot.pk, amount=first.min_next_bid, bid_id="b1")
again = asyncio.run(aplace_bid(user=alice, lot_id=lot.pk, amount=lot.starting_price, bid_id="a1"))
lot.refresh_from_db()
print("RESULT", first.seq, second.seq, again.seq, again.duplicate, lot.seq, lot.high_bidder.username,
      LotEvent.objects.filter(lot=lot).count())
"""


def test_single_process_mode_on_sqlite_places_bids(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "REDIS_URL": "",
        "CLOSE_LOTS_IN_WEB_PROCESS": "false",
    }

    def run(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    assert run("migrate", "-v0").returncode == 0
    assert run("seed_demo").returncode == 0
    result = run("shell", "-c", SCRIPT)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT"))
    assert line.split()[1:] == ["1", "2", "1", "True", "2", "bob", "2"]
