"""The operators' recipe end to end, bounded: Locust's master and one worker process drive two real workers through
the shipped nginx config over TLS (a certificate made for the test), `https://` → `wss://`, lot sockets routed by
nginx, the generators' address exempt from the edge limits as an operator's would be."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)


def _rows(path: Path) -> dict[tuple[str, str], dict]:
    with path.open() as handle:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(handle)}


def test_a_distributed_run_through_nginx_over_tls(start_daphne, start_edge, tmp_path):
    # The load generators come from one address: the workers' own per-address cap is lifted for the run.
    workers = [start_daphne(TRUSTED_PROXIES="127.0.0.1", WS_MAX_SOCKETS_PER_IP="100000") for _ in range(2)]
    edge = start_edge([w.port for w in workers], tls=True, exempt=("127.0.0.1",))
    seeded = io.StringIO()
    call_command("seed_loadtest", lots=3, bidders=12, minutes=30, json_only=True, stdout=seeded)
    fixture = tmp_path / "fixture.json"
    fixture.write_text(seeded.getvalue())

    common = [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "-H", edge.url]
    worker = subprocess.Popen(
        [*common, "--worker"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(tmp_path / "worker.log").open("wb")
    )
    try:
        master = subprocess.run(
            [*common, "--master", "--expect-workers", "1", "--headless", "-u", "20", "-r", "10", "-t", "10s",
             "--csv", str(tmp_path / "run"), "--only-summary", "--gavel-fixture", str(fixture),
             "--gavel-ca-file", str(edge.certificate), "--gavel-same-clock", "--gavel-user-weights", "2,3,1",
             "--gavel-bid-wait", "0.5,1", "--gavel-max-failure-ratio", "0"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        worker.wait(timeout=30)
    output = master.stdout + master.stderr + (tmp_path / "worker.log").read_text()
    stats = _rows(tmp_path / "run_stats.csv")
    assert master.returncode == 0 and stats[("", "Aggregated")]["Failure Count"] == "0", output
    assert int(stats[("WS connect", "lot")]["Request Count"]) >= 10, "lot sockets opened over wss through nginx"
    assert int(stats[("bid ack", "accepted")]["Request Count"]) >= 5, output
    assert int(stats[("broadcast", "own bid → high_bid")]["Request Count"]) >= 5, output
    watched = stats[("broadcast", "high_bid lag (server clock)")]
    assert int(watched["Request Count"]) > 0 and float(watched["Median Response Time"]) > 0
    assert "Gavel load test summary" in output
