"""The locustfile run as an operator runs it (Locust in its own process): a bid the server never answers is a
failure, answered bids are acknowledgements and broadcasts, and the thresholds set the exit code."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import free_port, reachable, wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def swallowing_server(tmp_path):
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "loadtests.tests.swallowing_server:application"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    wait_until(lambda: reachable("127.0.0.1", port) or server.poll() is not None, timeout=30)
    assert server.poll() is None, "the stand-in server did not start"
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(10)
    log.close()


def _rows(path: Path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_a_bid_never_answered_is_a_failure_and_answered_ones_are_measured(swallowing_server, tmp_path):
    fixture = tmp_path / "fixture.json"
    fixture.write_text(json.dumps({"seller": "s", "bidders": ["b1"], "lots": [1], "password": "p"}))
    run = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "-H", swallowing_server, "--headless",
         "-u", "1", "-r", "1", "-t", "6s", "--csv", str(tmp_path / "run"), "--only-summary",
         "--gavel-fixture", str(fixture), "--gavel-user-weights", "1,0,0", "--gavel-bid-wait", "0.2,0.3",
         "--gavel-ack-timeout", "1", "--gavel-max-failure-ratio", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = run.stdout + run.stderr
    failures = _rows(tmp_path / "run_failures.csv")
    assert [(row["Method"], row["Name"], row["Occurrences"]) for row in failures] == [("bid ack", "bid", "1")], output
    assert "no answer within 1 s" in failures[0]["Error"]
    stats = {(row["Type"], row["Name"]): row for row in _rows(tmp_path / "run_stats.csv")}
    assert int(stats[("bid ack", "accepted")]["Request Count"]) >= 5, output
    assert int(stats[("broadcast", "own bid → high_bid")]["Request Count"]) >= 5, output
    assert "Gavel load test summary" in output and "FAILED threshold: failure ratio" in output
    assert run.returncode == 1, "a broken threshold fails the run"
