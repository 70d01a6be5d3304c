"""The /metrics view of one worker process, and the closing lag read at scrape time (the bid path's own metrics
are defined in bidding/metrics.py).

Each Daphne process keeps its own registry; Prometheus scrapes every worker directly (nginx refuses /metrics from
outside, docs/operations.md). Labels are bounded sets (socket kind, message type, refusal code): never a lot or
user id.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily

from auctions.models import Lot


class ClosingLag:
    """Collected at scrape time from the database: how long the most overdue lot has waited to be closed.

    Above a couple of CLOSE_LOTS_INTERVAL_SECONDS means no closing worker is keeping up (or none runs)."""

    def describe(self):
        # Without this, registering would call collect() at import time, before any database is there.
        yield GaugeMetricFamily("gavel_closing_lag_seconds", "Age of the oldest lot past its end and not yet closed.")

    def collect(self):
        oldest = Lot.objects.ended_by(timezone.now()).order_by("ends_at").values_list("ends_at", flat=True).first()
        lag = 0.0 if oldest is None else (timezone.now() - oldest).total_seconds()
        yield GaugeMetricFamily(
            "gavel_closing_lag_seconds", "Age of the oldest lot past its end and not yet closed.", value=lag
        )


REGISTRY.register(ClosingLag())


def _allowed(request: HttpRequest) -> bool:
    """Staff, a bearer token (METRICS_TOKEN), or a loopback caller with no proxy in between."""
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
        return True
    local = request.META.get("REMOTE_ADDR") in ("127.0.0.1", "::1")
    return settings.METRICS_ALLOW_LOOPBACK and local and "HTTP_X_FORWARDED_FOR" not in request.META


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponse(
            "Forbidden: staff, a METRICS_TOKEN bearer, or loopback only.\n", status=403, content_type="text/plain"
        )
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
