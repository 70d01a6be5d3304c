"""/healthz, /readyz and /metrics as a load balancer and Prometheus see them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client, override_settings

from conftest import login

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_is_up(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_checks_postgres_and_redis(client, settings):
    body = client.get("/readyz").json()
    assert body["status"] == "ok" and body["postgres"] == "ok" and body["draining"] is False
    assert body["redis"] == ("ok" if settings.REDIS_URL else "not used")


@pytest.mark.redis_only
def test_readyz_is_503_when_redis_is_unreachable(client):
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["redis"].startswith("error")


@pytest.mark.redis_only
def test_readyz_is_503_when_redis_is_a_read_only_replica(client, start_redis):
    """After a failover the old primary comes back as a replica: it answers PING but refuses every lock."""
    replica = start_redis(f"replicaof {settings.REDIS_URL.split('//')[1].split('/')[0].replace(':', ' ')}")
    with override_settings(REDIS_URL=f"redis://{replica.address}/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["redis"] == "error: slave, not the primary"


@pytest.mark.redis_only
def test_readyz_is_503_when_redis_url_names_a_sentinel_as_if_it_were_a_server(client, start_redis):
    sentinel = start_redis("sentinel monitor gavel 127.0.0.1 6379 2", sentinel=True)
    with override_settings(REDIS_URL=f"redis://{sentinel.address}/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["redis"] == "error: sentinel, not the primary"


def test_readyz_is_503_while_draining(client, monkeypatch):
    from bidding import draining

    monkeypatch.setattr(draining, "_draining", True)
    response = client.get("/readyz")
    assert (response.status_code, response.json()["draining"]) == (503, True)


@override_settings(METRICS_TOKEN="s3cret")
def test_metrics_are_for_staff_a_token_or_loopback_only(make_user):
    outside = Client(REMOTE_ADDR="203.0.113.9")
    assert outside.get("/metrics").status_code == 403
    assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
    # Through a proxy, even from loopback, the caller is someone else.
    assert Client().get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    assert Client().get("/metrics").status_code == 200
    staff = make_user("ops")
    staff.is_staff = True
    staff.save()
    assert login(staff).get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 200


def _sample(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


@pytest.mark.django_db(transaction=True)
async def test_metrics_count_sockets_bids_refusals_and_closing_lag(open_socket, make_lot, lot, bidder):
    scrape = sync_to_async(lambda: Client().get("/metrics").content.decode())
    before = await scrape()
    socket = await open_socket(lot.pk, bidder)
    await socket.send_json_to({"type": "bid", "amount": 1_000, "bid_id": "m1"})
    await socket.receive_json_from(timeout=5)
    await socket.send_json_to({"type": "bid", "amount": 1_000, "bid_id": "m2"})
    while (await socket.receive_json_from(timeout=5))["type"] != "bid_rejected":
        pass
    await sync_to_async(make_lot)(ends_in=timedelta(seconds=-30), starts_in=timedelta(seconds=-60))  # overdue
    after = await scrape()

    def grew(name, **labels):
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert grew("gavel_bids_total", outcome="accepted") == 1
    assert grew("gavel_bids_total", outcome="refused", code="too_low") == 1
    assert grew("gavel_ws_messages_in_total", socket="lot", type="bid") == 2
    assert grew("gavel_ws_connections", socket="lot") == 1
    assert grew("gavel_bid_lock_wait_seconds_count") >= 1
    assert grew("gavel_bid_to_broadcast_seconds_count") == 1
    assert _sample(after, "gavel_closing_lag_seconds") >= 29
