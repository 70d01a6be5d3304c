"""Tuning constants: Django settings with fixed values, not environment variables.

Code reads them through `django.conf.settings`, so tests change them with `override_settings` (or, for a server
started in a subprocess, with a settings module of their own: conftest.service_env). The rules between them are
system checks in config/checks.py: `manage.py check` fails when one is broken. Measurements behind the values are in
docs/performance.md.
"""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

# --- Redis ------------------------------------------------------------------------------------------------------
# Both asyncio Redis pools (the channel layer's; the lock's, shared by socket caps and presence) retry a command
# once, at once, on a new connection when its pooled connection was dropped (Redis restarted): the first use after a
# restart succeeds. Connection errors only: a command that timed out may have run.
REDIS_ASYNC_RETRY = Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
# Connections per process for the bid lock and publishing; redis-py fails past its pool's size, so size it for the
# busiest burst (it waits, bounded by BID_LOCK_WAIT_SECONDS, when full).
REDIS_MAX_CONNECTIONS = 500
# The channels-redis layer, per host. redis-py fails past a pool's size (a burst of handshakes doing group_add),
# and its read timeout must exceed channels-redis' blocking read (BZPOPMIN, 5 s) or a consumer dies with 1011
# (check gavel.E001).
CHANNEL_LAYER_HOST_OPTIONS = {"max_connections": 1000, "socket_timeout": 15.0}
# capacity: messages buffered per channel before the oldest is dropped. group_expiry: never below the longest a
# socket may live (WS_MAX_LIFETIME_SECONDS), or long-lived sockets silently leave their groups (check gavel.E002).
CHANNEL_LAYER_OPTIONS = {"capacity": 1000, "group_expiry": 86400}
# The longest a socket lives: Daphne's --websocket_timeout in scripts/serve.sh and docker-compose.yml (and its default).
WS_MAX_LIFETIME_SECONDS = 86400

# --- PostgreSQL -------------------------------------------------------------------------------------------------
# A database host that accepts TCP and never answers (a failed-over address, a wedged pooler) must cost a bounded
# wait: a connection attempt gives up after DB_CONNECT_TIMEOUT_SECONDS, and TCP keepalives find an established
# connection whose host vanished within about DB_KEEPALIVE_IDLE_SECONDS + 3 probes 5 s apart (libpq parameters).
DB_CONNECT_TIMEOUT_SECONDS = 5
DB_KEEPALIVE_IDLE_SECONDS = 10

# --- The bid path -----------------------------------------------------------------------------------------------
# The Redis lock in front of the row lock throttles racing bidders; PostgreSQL still decides. It expires after
# TIMEOUT even if its holder dies, and must outlive the longest a bid waits for it (check gavel.E003).
BID_LOCK_TIMEOUT_SECONDS = 5.0
BID_LOCK_WAIT_SECONDS = 2.0
# Threads per process that run the locked part of a bid (the transaction), apart from the shared ORM pool.
BID_DECISION_THREADS = 4
# Most bids one lot's queue decides in one transaction (group commit, bidding/group_commit.py); 1 turns it off.
BID_GROUP_MAX = 20
# Anti-sniping defaults for new lots: a bid within WINDOW seconds of the end pushes the end to at least
# now + EXTENSION.
SOFT_CLOSE_WINDOW_SECONDS = 120
SOFT_CLOSE_EXTENSION_SECONDS = 120
# 10 billion in major units: above it an amount is refused as invalid before it reaches the database.
MAX_BID_CENTS = 1_000_000_000_000
# Bids per user over the HTTP API (REST framework's throttle).
API_BID_RATE = "300/min"

# --- The ASGI process (config/asgi.py) ------------------------------------------------------------------------------
# CPython's GIL switch interval (its default: 0.005): ORM threads get the GIL back soon after each round trip.
GIL_SWITCH_INTERVAL_SECONDS = 0.0005
# CPython's collector thresholds (its own: 700,10,10): full collections pause every socket, so keep them rare.
GC_THRESHOLDS = (10_000, 20, 100)

# --- WebSocket limits -------------------------------------------------------------------------------------------
WS_MAX_MESSAGE_BYTES = 4096
# A connection refused this many times in a row for flooding is closed with code 4008.
WS_FLOOD_CLOSE_AFTER = 20
# While this much waits unsent for a peer, lot broadcasts skip it (it syncs the gap when it reads again); a peer
# that stays that far behind for WS_STALL_SECONDS, or four times as far, is dropped (config/serve.py). Keep it above
# the largest reply a worker sends at once, a full `sync` replay (check gavel.W001; four times it: gavel.E004).
WS_MAX_PENDING_BYTES = 1_048_576
WS_STALL_SECONDS = 30.0
# The kernel's send buffer per socket (SO_SNDBUF; Linux doubles it). Autotuning would let it grow to
# net.ipv4.tcp_wmem's maximum (4 MiB) for every stalled peer; a bid feed never needs that much. 0: the kernel's way.
WS_SEND_BUFFER_BYTES = 262_144
# A sync asking for more events than this gets a fresh snapshot instead of a replay.
SYNC_MAX_EVENTS = 500
# A replay costs its socket one token per message it sends (a snapshot fallback costs SYNC_SNAPSHOT_COST: three
# queries); the bucket holds one full replay, so a reconnect is served at once, and refills at this rate. A sync the
# bucket cannot pay for is refused `rate_limited` with `retry_after_ms`.
SYNC_REPLAY_EVENTS_PER_SECOND = 20.0
SYNC_SNAPSHOT_COST = 25
# Replays are answered from the encoded events of this many recently replayed lots per process (at most
# SYNC_MAX_EVENTS × SYNC_EVENT_BYTES each, ~160 KiB) before the database is asked (bidding/replay_window.py).
REPLAY_WINDOW_LOTS = 100
# About the size of one lot event in a replay (~0.3 KiB): a full replay is SYNC_MAX_EVENTS of them.
SYNC_EVENT_BYTES = 320
# A logged-out or expired session's open sockets are closed (4401) within this many seconds.
WS_SESSION_REVALIDATE_SECONDS = 30.0

# --- Sellers ----------------------------------------------------------------------------------------------------
# A verified seller is new until this many of their lots have sold (closed with a winner). A new seller may have at
# most NEW_SELLER_MAX_OPEN_LOTS lots open or scheduled at once, so one fresh account cannot fill the lot list; a
# listing or catalogue past it is refused whole (`forbidden`, reason `open_lot_cap`).
NEW_SELLER_SOLD_LOTS = 10
NEW_SELLER_MAX_OPEN_LOTS = 20

# --- Accounts ---------------------------------------------------------------------------------------------------
# django-axes: a username that fails this many logins in a row from one address is refused from that address
# (429) until the cool-off has passed since its last failure. Its own logins from any other address still work.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
# Accounts created and password-reset mails asked for, per client address (accounts/throttle.py; `limits` notation).
SIGNUP_RATE = "5/hour"
PASSWORD_RESET_RATE = "5/hour"

# --- Background passes ------------------------------------------------------------------------------------------
CLOSE_LOTS_INTERVAL_SECONDS = 1.0
# Fairness through an outage (bidding/outage.py): the closing worker closes nothing while bids cannot be placed, and a
# lot whose end fell in an outage it saw ends later by its length, at least OUTAGE_MIN_REMAINING_SECONDS after it.
# A seen outage counts above OUTAGE_MIN_SECONDS between healthy passes: a healthy worker's last write is up to two
# intervals old (it writes once a second), so one failed pass alone stays under it; a failover (2-4 s) does not.
OUTAGE_MIN_SECONDS = 3.0
OUTAGE_MIN_REMAINING_SECONDS = 30
# Bidders and watchers of a lot get lot_closing_soon this many seconds before its end.
LOT_CLOSING_SOON_SECONDS = 60
# Watcher counts ("presence"): each process publishes its counts every INTERVAL; a process silent for longer than
# STALE (crashed) stops counting. STALE must leave room for a late publish (check gavel.E005).
PRESENCE_INTERVAL_SECONDS = 1.0
PRESENCE_STALE_SECONDS = 5.0

# --- Notice mail (auctions/notice_mail.py) ---------------------------------------------------------------------------
# At most one mail per user, lot and kind in this many seconds: notices of that kind arriving in between wait and are
# told together in the next mail, with the latest amount (three outbids in a row: one mail).
NOTICE_MAIL_QUIET_SECONDS = 300
# A send the mail server refused or never answered is tried again after this long, until the notice is pruned.
NOTICE_MAIL_RETRY_SECONDS = 60
# The mail pass runs this often, in its own thread of the closing worker (never on the bid path).
NOTICE_MAIL_INTERVAL_SECONDS = 5.0
NOTICE_MAIL_BATCH = 200
# Seconds the SMTP server may take to answer (Django's own default waits for ever, holding up every other mail).
EMAIL_TIMEOUT = 10
# The site's public address, for the links in mails, e.g. "https://auctions.example.com". Empty: the first of
# CSRF_TRUSTED_ORIGINS, else the first named host of ALLOWED_HOSTS over https (http unless production's HTTPS is on).
SITE_URL = ""

# --- Operations -------------------------------------------------------------------------------------------------
# A loopback caller with no proxy in between may read /metrics (staff and METRICS_TOKEN holders always may).
METRICS_ALLOW_LOOPBACK = True
# On SIGTERM, how long a worker waits for bids in flight; keep docker-compose's stop_grace_period above it.
DRAIN_TIMEOUT_SECONDS = 10.0
# Django's own loggers (the app's follow LOG_LEVEL).
DJANGO_LOG_LEVEL = "WARNING"

# --- Lot photos (auctions/photos.py) -------------------------------------------------------------------------------
# An upload is read only if it is at most PHOTO_MAX_BYTES, in one of PHOTO_FORMATS (by its content, never its name),
# and at most PHOTO_MAX_PIXELS before it is decoded: a small file that decodes to a huge bitmap (a decompression
# bomb) is refused from its header. What is stored is re-encoded (JPEG): a display copy and a thumbnail, each at most
# this many pixels on its longer side. nginx accepts PHOTOS_PER_LOT_MAX × PHOTO_MAX_BYTES on the lot API
# (deploy/nginx.conf; config/tests/test_deploy_files.py holds them together).
PHOTO_MAX_BYTES = 5 * 1024 * 1024
PHOTO_MAX_PIXELS = 40_000_000
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")
PHOTOS_PER_LOT_MAX = 8
PHOTO_DISPLAY_PX = 1600
PHOTO_THUMBNAIL_PX = 320
# Django itself serves MEDIA_URL (the uploaded photos) from MEDIA_ROOT: on a laptop and in the tests. Off in
# production, where nginx serves /media/ (or the storage backend's own URLs are used).
SERVE_MEDIA = False
