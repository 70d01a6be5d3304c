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


# A live sale on the laptop: its block is read and written through the ORM there (bidding/statements/block.py).
LIVE_SCRIPT = """
from datetime import timedelta
from django.contrib.auth.models import User
from django.utils import timezone
from auctions.models import AbsenteeBid, Lot, LotEvent, Sale, SaleRegistration
from bidding.models import Bid
from bidding.replay import verify_lot
from bidding.services import live
now = timezone.now()
house = User.objects.create_user("laptop_house")
sale = Sale.objects.create(house=house, title="Laptop sale", starts_at=now + timedelta(hours=1))
for position in (1, 2):
    Lot.objects.create(seller=house, title=f"Lot {position}", starting_price=1_000, starts_at=now, sale=sale,
                       sale_position=position, status=Lot.Status.SCHEDULED, live_state=Lot.LiveState.WAITING)
alice, bob, carol = (User.objects.get(username=name) for name in ("alice", "bob", "carol"))
for paddle, user in enumerate((alice, bob, carol), start=5_000):
    SaleRegistration.objects.create(sale=sale, user=user, paddle=paddle, approved=True)
first = sale.lots.get(sale_position=1)
AbsenteeBid.objects.create(registration=SaleRegistration.objects.get(user=carol), lot=first, max_amount=1_500,
                           placed_at=now)
def act(action, **args):
    return live.clerk_action(user=house, sale_id=sale.pk, action=action, **args)
act("start")
act("offer")  # carol's absentee maximum opens the lot at 1,000
taken = live.live_bid(user=alice, sale_id=sale.pk, amount=1_100, bid_id="a1", lot=first.pk)  # absentee: 1,200
again = live.live_bid(user=alice, sale_id=sale.pk, amount=1_100, bid_id="a1", lot=first.pk)
live.live_bid(user=bob, sale_id=sale.pk, amount=1_300, bid_id="b1", lot=first.pk)  # absentee: 1,400
act("floor_bid", amount=1_500)  # above carol's maximum
act("sold")
act("next")
first.refresh_from_db()
print("RESULT", taken["seq"], again["seq"], again["duplicate"], first.high_bid_amount, first.live_state,
      first.live_leader_source, list(Bid.objects.filter(lot=first).values_list("source", "amount")),
      LotEvent.objects.filter(lot=first).count() == first.seq, verify_lot(first) == [])
"""


def _laptop(tmp_path):
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
    return run


def _result(result) -> str:
    assert result.returncode == 0, result.stderr[-3000:]
    return next(line for line in result.stdout.splitlines() if line.startswith("RESULT"))


def test_single_process_mode_on_sqlite_places_bids(tmp_path):
    line = _result(_laptop(tmp_path)("shell", "-c", SCRIPT))
    assert line.split()[1:] == ["1", "2", "1", "True", "2", "bob", "2"]


def test_a_live_sale_runs_on_sqlite(tmp_path):
    line = _result(_laptop(tmp_path)("shell", "-c", LIVE_SCRIPT))
    bids = [("absentee", 1000), ("internet", 1100), ("absentee", 1200), ("internet", 1300), ("absentee", 1400)]
    bids = str([*bids, ("floor", 1500)])
    assert line == f"RESULT 4 4 True 1500 sold floor {bids} True True"
