"""The live-sale load test as an operator runs it (`--gavel-scenario live`, Locust in its own process) against a real
worker: the clerk drives a seeded sale to its end, watchers follow it, and bursts of internet bids at each new ask
are answered, one taken per ask."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from auctions.models import Lot
from bidding.models import Bid

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)


def _rows(path: Path) -> dict[tuple[str, str], dict]:
    with path.open() as handle:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(handle)}


def _count(stats: dict, kind: str, name: str) -> int:
    return int(stats.get((kind, name), {}).get("Request Count", 0))


def test_the_clerk_drives_a_seeded_sale_to_its_end_under_bursts_of_bids(start_daphne, tmp_path):
    worker = start_daphne(WS_MAX_SOCKETS_PER_IP="100000")
    seeded = io.StringIO()
    call_command("seed_loadtest", lots=1, bidders=6, minutes=30, sale_lots=2, json_only=True, stdout=seeded)
    fixture = tmp_path / "fixture.json"
    fixture.write_text(seeded.getvalue())
    sale = json.loads(seeded.getvalue())["sale"]

    run = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "-H", worker.http, "--headless",
         "-u", "16", "-r", "16", "-t", "14s", "--csv", str(tmp_path / "run"), "--only-summary",
         "--gavel-fixture", str(fixture), "--gavel-scenario", "live", "--gavel-user-weights", "1,2,0",
         "--gavel-clerk-pace", "0.4", "--gavel-lot-turns", "3", "--gavel-live-bid-share", "1",
         "--gavel-same-clock", "--gavel-max-failure-ratio", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = run.stdout + run.stderr
    stats = _rows(tmp_path / "run_stats.csv")
    assert run.returncode == 0 and stats[("", "Aggregated")]["Failure Count"] == "0", output
    assert _count(stats, "WS connect", "sale") >= 10, "watchers and bidders on the sale socket"
    for action in ("claim", "start", "offer", "floor_bid", "fair_warning", "sold", "next"):
        assert _count(stats, "clerk", action) >= 1, f"the clerk's {action}: {output}"
    assert _count(stats, "live bid", "accepted") >= 1, output
    assert _count(stats, "live bid", "refused: too_low") >= 1, "a burst at one ask: the rest are told it moved"
    assert _count(stats, "live event", "lag (server clock)") > 0
    assert "live outcomes:   accepted" in output and "clerk actions:   p50" in output, "the summary's live lines"
    lots = Lot.objects.filter(pk__in=sale["lots"]).order_by("sale_position")
    assert [lot.live_state for lot in lots] == ["sold", "sold"], "the clerk sold every lot of the sale"
    assert Bid.objects.filter(lot__in=lots, source=Bid.Source.INTERNET).exists(), "internet bids were taken"
    verified = io.StringIO()
    call_command("verify_lot", *[str(pk) for pk in sale["lots"]], stdout=verified)  # raises on any difference
    assert verified.getvalue().count(": ok") == 2, verified.getvalue()
