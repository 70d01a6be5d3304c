"""The environment variables Gavel reads, and those it reads no longer.

An environment variable is for what an operator really chooses for a deployment: where the database and Redis are,
the secrets, the hosts, the log level, and the client limits a load test must be able to lift. Everything else is a
constant in `conf.py`. A variable that is no longer read but is still set stops start-up with an error naming what
replaced it, so a tuned value never silently reverts to a default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Every variable read (base.py and production.py); the README's configuration table describes each.
VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_CHANNEL_PREFIX",
    "SECRET_KEY",
    "DEBUG",
    "HTTPS",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "TRUSTED_PROXIES",
    "LOG_LEVEL",
    "METRICS_TOKEN",
    "EMAIL_URL",
    "DEFAULT_FROM_EMAIL",
    "DB_CONN_MAX_AGE",
    "DISABLE_SERVER_SIDE_CURSORS",
    "CLOSE_LOTS_IN_WEB_PROCESS",
    "WS_MAX_SOCKETS_PER_IP",
    "WS_MAX_SOCKETS_PER_USER",
    "WS_RATE_PER_SECOND",
    "CURRENCY",
)

_CONSTANT = "a constant in config/settings/conf.py"
_FROM_RATE = "derived from WS_RATE_PER_SECOND"
# Read no longer: name → what replaced it. The README's "Removed and renamed variables" table says the same.
REMOVED = {
    "API_BID_RATE": _CONSTANT,
    "BID_DECISION_THREADS": _CONSTANT,
    "BID_GROUP_MAX": _CONSTANT,
    "BID_LOCK_TIMEOUT_SECONDS": _CONSTANT,
    "BID_LOCK_WAIT_SECONDS": _CONSTANT,
    "CHANNEL_GROUP_EXPIRY": f"{_CONSTANT} (CHANNEL_LAYER_OPTIONS['group_expiry'])",
    "CHANNEL_LAYER_CAPACITY": f"{_CONSTANT} (CHANNEL_LAYER_OPTIONS['capacity'])",
    "CHANNEL_LAYER_MAX_CONNECTIONS": f"{_CONSTANT} (CHANNEL_LAYER_HOST_OPTIONS['max_connections'])",
    "CHANNEL_LAYER_SOCKET_TIMEOUT": f"{_CONSTANT} (CHANNEL_LAYER_HOST_OPTIONS['socket_timeout'])",
    "CLOSE_LOTS_INTERVAL_SECONDS": _CONSTANT,
    "DJANGO_LOG_LEVEL": f"{_CONSTANT} (DJANGO_LOG_LEVEL, for Django's own loggers; LOG_LEVEL still sets the rest)",
    "DRAIN_TIMEOUT_SECONDS": _CONSTANT,
    "GC_THRESHOLDS": _CONSTANT,
    "GIL_SWITCH_INTERVAL_SECONDS": _CONSTANT,
    "LOT_CLOSING_SOON_SECONDS": _CONSTANT,
    "MAX_BID_CENTS": _CONSTANT,
    "METRICS_ALLOW_LOOPBACK": _CONSTANT,
    "PRESENCE_INTERVAL_SECONDS": _CONSTANT,
    "PRESENCE_STALE_SECONDS": _CONSTANT,
    "REDIS_MAX_CONNECTIONS": _CONSTANT,
    "SOFT_CLOSE_EXTENSION_SECONDS": f"{_CONSTANT} (the default for new lots; each lot keeps its own)",
    "SOFT_CLOSE_WINDOW_SECONDS": f"{_CONSTANT} (the default for new lots; each lot keeps its own)",
    "SYNC_MAX_EVENTS": _CONSTANT,
    "WS_FLOOD_CLOSE_AFTER": _CONSTANT,
    "WS_MAX_MESSAGE_BYTES": _CONSTANT,
    "WS_MAX_PENDING_BYTES": _CONSTANT,
    "WS_RATE_BURST": f"{_FROM_RATE} (twice the rate)",
    "WS_SEND_BUFFER_BYTES": _CONSTANT,
    "WS_SESSION_REVALIDATE_SECONDS": _CONSTANT,
    "WS_STALL_SECONDS": _CONSTANT,
    "WS_USER_RATE_BURST": f"{_FROM_RATE} (four times the rate)",
    "WS_USER_RATE_PER_SECOND": f"{_FROM_RATE} (twice the rate)",
}


def refuse_removed(environment: Mapping[str, str]) -> None:
    """Raise ImproperlyConfigured naming every removed variable still set, and what replaced each."""
    found = sorted(name for name in REMOVED if name in environment)
    if found:
        raise ImproperlyConfigured(
            "environment variables no longer read are set; unset them (see the README, 'Removed and renamed"
            " variables'): " + "; ".join(f"{name} is now {REMOVED[name]}" for name in found)
        )


env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")
refuse_removed(os.environ)
