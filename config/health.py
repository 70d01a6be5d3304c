"""Load-balancer probes: /healthz (this process answers) and /readyz (it can serve bids: PostgreSQL and Redis
reachable, not shutting down)."""

from __future__ import annotations

import structlog
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from bidding import draining
from bidding.locks import lock_store_state

log = structlog.get_logger(__name__)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"postgres": _check_postgres(), "redis": _check_redis(), "draining": draining.is_draining()}
    ready = checks["postgres"] == "ok" and checks["redis"] in ("ok", "not used") and not checks["draining"]
    if not ready:
        log.warning("not_ready", **checks)
    return JsonResponse({"status": "ok" if ready else "unavailable", **checks}, status=200 if ready else 503)


def _check_postgres() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any failure means not ready; the reason goes to the log and the body
        return f"error: {type(exc).__name__}"
    finally:
        connection.close()  # a probe every few seconds must not pin a connection


def _check_redis() -> str:
    return lock_store_state()
