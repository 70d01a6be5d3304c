"""Settings, read from the environment through django-environ.

Every knob has a default that runs on a laptop: SQLite, no Redis (single-process mode with Channels' in-memory
layer and an in-process lock). Production sets DATABASE_URL, REDIS_URL, SECRET_KEY, DEBUG=false, ALLOWED_HOSTS.
"""

from __future__ import annotations

from pathlib import Path

import environ
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)
# The fallback key only exists so a laptop runs with no set-up; DEBUG=false refuses to start without a real one.
SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-key-change-me" if DEBUG else environ.Env.NOTSET)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "accounts",
    "auctions",
    "bidding",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Sockets never hold a connection: the ORM runs in a bounded thread pool and each thread keeps at most one.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
# No health check per use: it costs a round trip on every ORM call from a socket. A connection that died is
# found by the failing query (the bid answers `unavailable`) and replaced on the next call.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- HTTP API (Django REST framework) ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",  # for scripts: Authorization: Token <key>
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],  # each view decides, per action
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"bids": env.str("API_BID_RATE", default="300/min")},
}
SPECTACULAR_SETTINGS = {"TITLE": "Gavel API", "VERSION": "1", "SERVE_INCLUDE_SCHEMA": False}

# --- Redis: channel layer and per-lot lock --------------------------------------------------------------------
# Unset means single-process mode: Channels' in-memory layer and an in-process lock (logged at start).
REDIS_URL = env.str("REDIS_URL", default="")
# Both asyncio Redis pools (the channel layer's; the lock's, shared by socket caps and presence) retry a command
# once, at once, on a new connection when its pooled connection was dropped (Redis restarted): the first use after a
# restart succeeds. Connection errors only: a command that timed out may have run.
REDIS_ASYNC_RETRY = Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # redis-py 8 caps a pool at 100 connections and fails (not waits) past it: a burst of
                        # handshakes doing group_add hit that at once in the benchmark.
                        "max_connections": env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=1000),
                        # redis-py 8 also defaults to a 5 s read timeout, the same as channels-redis' blocking
                        # BZPOPMIN: under load the read lost that race and the consumer died with 1011.
                        "socket_timeout": env.float("CHANNEL_LAYER_SOCKET_TIMEOUT", default=15.0),
                        "retry": REDIS_ASYNC_RETRY,
                    }
                ],
                "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=1000),
                # Never below Daphne's --websocket_timeout, or long-lived sockets silently leave their groups.
                "group_expiry": env.int("CHANNEL_GROUP_EXPIRY", default=86400),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Connections per process for the bid lock and publishing (redis-py 8 defaults to 100 and fails past it).
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=500)

# --- The bid path -----------------------------------------------------------------------------------------------
# Redis lock in front of the row lock: it throttles racing bidders; PostgreSQL still decides.
BID_LOCK_TIMEOUT_SECONDS = env.float("BID_LOCK_TIMEOUT_SECONDS", default=5.0)
BID_LOCK_WAIT_SECONDS = env.float("BID_LOCK_WAIT_SECONDS", default=2.0)
# Threads per process that run the locked part of a bid (the transaction), apart from the shared ORM pool.
BID_DECISION_THREADS = env.int("BID_DECISION_THREADS", default=4)
# Most bids one lot's queue decides in one transaction (group commit, bidding/group_commit.py); 1 turns it off.
BID_GROUP_MAX = env.int("BID_GROUP_MAX", default=20)
# Anti-sniping: a bid within WINDOW seconds of the end pushes the end to at least now + EXTENSION.
SOFT_CLOSE_WINDOW_SECONDS = env.int("SOFT_CLOSE_WINDOW_SECONDS", default=120)
SOFT_CLOSE_EXTENSION_SECONDS = env.int("SOFT_CLOSE_EXTENSION_SECONDS", default=120)
# 10 billion in major units: above it an amount is refused as invalid before it reaches the database.
MAX_BID_CENTS = env.int("MAX_BID_CENTS", default=1_000_000_000_000)

# CPython's GIL switch interval for the ASGI process (default 0.005): see config/asgi.py.
GIL_SWITCH_INTERVAL_SECONDS = env.float("GIL_SWITCH_INTERVAL_SECONDS", default=0.0005)
# CPython's collector thresholds for the ASGI process (CPython's own: 700,10,10): see config/asgi.py.
GC_THRESHOLDS = env.list("GC_THRESHOLDS", cast=int, default=[10_000, 20, 100])

# --- WebSocket limits -------------------------------------------------------------------------------------------
WS_MAX_MESSAGE_BYTES = env.int("WS_MAX_MESSAGE_BYTES", default=4096)
WS_RATE_PER_SECOND = env.float("WS_RATE_PER_SECOND", default=5.0)
WS_RATE_BURST = env.int("WS_RATE_BURST", default=10)
# A connection refused this many times in a row for flooding is closed with code 4008.
WS_FLOOD_CLOSE_AFTER = env.int("WS_FLOOD_CLOSE_AFTER", default=20)
# One user's sockets share one budget (per process), and each user and each client address may hold only so many
# sockets (per process): opening more sockets buys a flooder nothing.
WS_USER_RATE_PER_SECOND = env.float("WS_USER_RATE_PER_SECOND", default=10.0)
WS_USER_RATE_BURST = env.int("WS_USER_RATE_BURST", default=20)
WS_MAX_SOCKETS_PER_USER = env.int("WS_MAX_SOCKETS_PER_USER", default=20)
WS_MAX_SOCKETS_PER_IP = env.int("WS_MAX_SOCKETS_PER_IP", default=500)
# While this much waits unsent for a peer, lot broadcasts skip it (it syncs the gap when it reads again); a peer
# that stays that far behind for WS_STALL_SECONDS, or four times as far, is dropped (config/serve.py). Keep it well
# above the largest reply a worker sends at once: a full `sync` replay, SYNC_MAX_EVENTS events of ~0.3 KiB.
WS_MAX_PENDING_BYTES = env.int("WS_MAX_PENDING_BYTES", default=1_048_576)
WS_STALL_SECONDS = env.float("WS_STALL_SECONDS", default=30.0)
# The kernel's send buffer per socket (SO_SNDBUF; Linux doubles it). Autotuning would let it grow to
# net.ipv4.tcp_wmem's maximum (4 MiB) for every stalled peer; a bid feed never needs that much. 0: the kernel's way.
WS_SEND_BUFFER_BYTES = env.int("WS_SEND_BUFFER_BYTES", default=262_144)
# A sync asking for more events than this gets a fresh snapshot instead of a replay.
SYNC_MAX_EVENTS = env.int("SYNC_MAX_EVENTS", default=500)

# --- Closing worker ---------------------------------------------------------------------------------------------
CLOSE_LOTS_INTERVAL_SECONDS = env.float("CLOSE_LOTS_INTERVAL_SECONDS", default=1.0)
# Watcher counts ("presence"): each process publishes its counts this often; a process silent for longer than the
# stale limit (crashed) stops counting.
PRESENCE_INTERVAL_SECONDS = env.float("PRESENCE_INTERVAL_SECONDS", default=1.0)
PRESENCE_STALE_SECONDS = env.float("PRESENCE_STALE_SECONDS", default=5.0)

# A logged-out or expired session's open sockets are closed (4401) within this many seconds.
WS_SESSION_REVALIDATE_SECONDS = env.float("WS_SESSION_REVALIDATE_SECONDS", default=30.0)

# Operations: who may read /metrics (staff always), and how long SIGTERM waits for bids in flight.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOW_LOOPBACK = env.bool("METRICS_ALLOW_LOOPBACK", default=True)
DRAIN_TIMEOUT_SECONDS = env.float("DRAIN_TIMEOUT_SECONDS", default=10.0)
# Bidders and watchers of a lot get lot_closing_soon this many seconds before its end.
LOT_CLOSING_SOON_SECONDS = env.int("LOT_CLOSING_SOON_SECONDS", default=60)
# Single-process mode has no cross-process broadcast, so the web process closes lots itself (see bidding.fanout).
CLOSE_LOTS_IN_WEB_PROCESS = env.bool("CLOSE_LOTS_IN_WEB_PROCESS", default=not REDIS_URL)

# --- Logging: one JSON object per line ----------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
structlog.configure(
    processors=[
        structlog.stdlib.filter_by_level,  # first: a dropped line costs no rendering
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(),
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"bare": {"format": "%(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "bare"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django": {"level": env.str("DJANGO_LOG_LEVEL", default="WARNING")}},
}
