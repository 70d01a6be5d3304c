"""Settings every module shares: Django's own, and what operators choose, read from the environment.

The defaults run on a laptop: SQLite, no Redis (single-process mode with Channels' in-memory layer and an
in-process lock). Tuning constants are in conf.py; environment.py lists every variable read and those read no longer.
"""

from __future__ import annotations

import warnings

import structlog
from django.core.exceptions import ImproperlyConfigured

from accounts.redis_connections import redis_target
from config.settings.conf import *  # noqa: F403
from config.settings.conf import (
    API_BID_RATE,
    CHANNEL_LAYER_HOST_OPTIONS,
    CHANNEL_LAYER_OPTIONS,
    DB_CONNECT_TIMEOUT_SECONDS,
    DB_KEEPALIVE_IDLE_SECONDS,
    DJANGO_LOG_LEVEL,
    REDIS_ASYNC_RETRY,
)
from config.settings.environment import BASE_DIR, env

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The proxies (addresses or networks) whose X-Forwarded-For and X-Forwarded-Proto are believed: the client is the
# rightmost forwarded address that is not one of them (config/client_address.py). Empty: the TCP peer is the client.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

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
    "axes",  # login failures per username and address (AXES_* below)
    "accounts",
    "auctions",
    "bidding",
    "config",  # its system checks (config/checks.py)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.static_files.static_files",  # /static/ whatever DEBUG says (WhiteNoise, kept asynchronous)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into its 429 page
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
                "auctions.context_processors.money",  # the currency and the visitor's locale, for every page
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Laptop mode: a transaction that reads and then writes (every bid decision) takes SQLite's write lock when it
    # begins, so it waits its turn behind another writer (the outbox marks) instead of failing "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
else:
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        connect_timeout=DB_CONNECT_TIMEOUT_SECONDS,
        keepalives=1,
        keepalives_idle=DB_KEEPALIVE_IDLE_SECONDS,
        keepalives_interval=5,
        keepalives_count=3,
    )
# Sockets never hold a connection: the ORM runs in a bounded thread pool and each thread keeps at most one.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)  # 0 behind PgBouncer
# No health check per use: it costs a round trip on every ORM call from a socket. A connection that died is
# found by the failing query (the bid answers `unavailable`) and replaced on the next call.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
# Behind PgBouncer in transaction mode a server-side cursor (QuerySet.iterator()) may be fetched from on another
# server connection than the one that declared it (InvalidCursorName): iterate client-side there.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool("DISABLE_SERVER_SIDE_CURSORS", default=False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes refuses a login once one username has failed AXES_FAILURE_LIMIT times from one address, for
# AXES_COOLOFF_TIME (config/settings/conf.py). Per username AND address together: a rival who fails on purpose
# locks out only their own address, never the leading bidder's own logins from anywhere else. Axes' backend only
# refuses; ModelBackend signs in (sessions, and force_login in tests, name it). The address is the one every
# per-client limit counts (accounts/throttle.py).
AUTHENTICATION_BACKENDS = ["accounts.backends.LoginThrottle", "django.contrib.auth.backends.ModelBackend"]
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "accounts.throttle.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_DISABLE_ACCESS_LOG = True  # successful logins are not stored: only failures, forgotten after the cool-off
AXES_VERBOSE = False
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
# Every amount is in this one currency (ISO 4217, two decimal places: amounts are integer cents end to end; check
# gavel.E008). Pages format it for each visitor's locale; the admin and server messages for LANGUAGE_CODE's.
CURRENCY = env.str("CURRENCY", default="EUR").strip().upper()
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Mail (password reset links): an SMTP server in EMAIL_URL (smtp+tls://user:password@host:587); unset, nothing is
# sent (local.py prints mail on the console instead).
vars().update(env.email_url("EMAIL_URL", default="dummymail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Gavel <noreply@localhost>")

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves the collected files (STATIC_ROOT, filled by collectstatic on servers) and, where collectstatic
# has not run (a laptop, the tests' servers), the same files found where they live: one way in every settings module.
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at: .*staticfiles")  # collectstatic not run here
# Uploaded lot photos go through Django's storage API (`default_storage`): files under MEDIA_ROOT here; any other
# backend through STORAGES["default"] in production (docs/operations.md, "Lot photos").
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "media"

# --- HTTP API (Django REST framework) ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",  # for scripts: Authorization: Token <key>
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],  # each view decides, per action
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"bids": API_BID_RATE},
    # REMOTE_ADDR is already the resolved client (config/client_address.py); DRF would otherwise key anonymous
    # throttles on the raw X-Forwarded-For, which the client writes.
    "NUM_PROXIES": 0,
}
SPECTACULAR_SETTINGS = {"TITLE": "Gavel API", "VERSION": "1", "SERVE_INCLUDE_SCHEMA": False}

# --- Redis: channel layer and per-lot lock --------------------------------------------------------------------
# Unset means single-process mode: Channels' in-memory layer and an in-process lock (logged at start). One server
# (redis://…) or the primary a set of sentinels names (redis+sentinel://…): accounts/redis_connections.py.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    try:
        _redis = redis_target(REDIS_URL)
    except ValueError as exc:
        raise ImproperlyConfigured(str(exc)) from None
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [_redis.channel_layer_host(**CHANNEL_LAYER_HOST_OPTIONS, retry=REDIS_ASYNC_RETRY)],
                **CHANNEL_LAYER_OPTIONS,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# Redis pub/sub channels ignore the database number that keeps deployments' keys apart, so every channel name
# carries it; deployments that share one database number also need a prefix of their own.
REDIS_CHANNEL_PREFIX = env.str("REDIS_CHANNEL_PREFIX", default="")
# Single-process mode has no cross-process broadcast, so the web process closes lots itself (see bidding.fanout).
CLOSE_LOTS_IN_WEB_PROCESS = env.bool("CLOSE_LOTS_IN_WEB_PROCESS", default=not REDIS_URL)

# --- Client limits (load tests lift them: every client comes from one address, many as one user) ----------------
# Each client address and each user may hold only so many sockets, counted across workers (Redis).
WS_MAX_SOCKETS_PER_IP = env.int("WS_MAX_SOCKETS_PER_IP", default=500)
WS_MAX_SOCKETS_PER_USER = env.int("WS_MAX_SOCKETS_PER_USER", default=20)
# Incoming messages: a token bucket per connection, and one budget shared by all of a user's sockets in every
# worker, twice the connection's, so opening more sockets buys a flooder nothing.
WS_RATE_PER_SECOND = env.float("WS_RATE_PER_SECOND", default=5.0)
WS_RATE_BURST = max(1, round(2 * WS_RATE_PER_SECOND))
WS_USER_RATE_PER_SECOND = 2 * WS_RATE_PER_SECOND
WS_USER_RATE_BURST = max(1, round(4 * WS_RATE_PER_SECOND))

# Who may read /metrics besides staff: a bearer token (empty: nobody by token).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

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
    # django-axes writes plain-text lines; accounts/signals.py logs its failures and lockouts as JSON instead.
    "loggers": {"django": {"level": DJANGO_LOG_LEVEL}, "axes": {"level": "ERROR"}},
}
