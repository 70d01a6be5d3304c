"""System checks: the rules between settings, enforced (`manage.py check`, every management command, and each
worker's start-up in config/serve.py) instead of written as comments."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from auctions.money import currency_problem

TAG = "gavel"
# channels-redis' blocking read on a channel (BZPOPMIN; RedisChannelLayer.brpop_timeout).
CHANNELS_REDIS_BLOCKING_READ_SECONDS = 5


def _redis_layer() -> dict | None:
    layer = settings.CHANNEL_LAYERS.get("default", {})
    return layer if layer.get("BACKEND") == "channels_redis.core.RedisChannelLayer" else None


@register(TAG, Tags.compatibility)
def channel_layer_outlives_its_blocking_read(app_configs=None, **kwargs) -> list:
    layer = _redis_layer()
    if layer is None:
        return []
    problems = []
    for host in layer["CONFIG"].get("hosts", []):
        timeout = host.get("socket_timeout") if isinstance(host, dict) else None
        if timeout is not None and timeout <= CHANNELS_REDIS_BLOCKING_READ_SECONDS:
            problems.append(
                Error(
                    f"the channel layer's socket_timeout ({timeout} s) must exceed channels-redis' blocking read"
                    f" ({CHANNELS_REDIS_BLOCKING_READ_SECONDS} s): the read would time out first and the consumer"
                    " die with 1011",
                    hint="raise CHANNEL_LAYER_HOST_OPTIONS['socket_timeout'] in config/settings/conf.py",
                    id="gavel.E001",
                )
            )
    return problems


@register(TAG)
def group_membership_outlives_sockets(app_configs=None, **kwargs) -> list:
    layer = _redis_layer()
    if layer is None:
        return []
    expiry = layer["CONFIG"].get("group_expiry", 86400)
    if expiry < settings.WS_MAX_LIFETIME_SECONDS:
        return [
            Error(
                f"the channel layer's group_expiry ({expiry} s) is shorter than a socket's lifetime"
                f" (WS_MAX_LIFETIME_SECONDS, {settings.WS_MAX_LIFETIME_SECONDS} s): long-lived sockets would"
                " silently leave their groups",
                id="gavel.E002",
            )
        ]
    return []


@register(TAG)
def bid_lock_outlives_its_wait(app_configs=None, **kwargs) -> list:
    if settings.BID_LOCK_TIMEOUT_SECONDS <= settings.BID_LOCK_WAIT_SECONDS:
        return [
            Error(
                f"BID_LOCK_TIMEOUT_SECONDS ({settings.BID_LOCK_TIMEOUT_SECONDS}) must exceed BID_LOCK_WAIT_SECONDS"
                f" ({settings.BID_LOCK_WAIT_SECONDS}): a lock that expires while bids still wait for it no longer"
                " queues them",
                id="gavel.E003",
            )
        ]
    return []


@register(TAG)
def backlog_limit_holds_a_full_replay(app_configs=None, **kwargs) -> list:
    replay = settings.SYNC_MAX_EVENTS * settings.SYNC_EVENT_BYTES
    limit = settings.WS_MAX_PENDING_BYTES
    if 4 * limit < replay:
        return [
            Error(
                f"a full sync replay (SYNC_MAX_EVENTS × SYNC_EVENT_BYTES ≈ {replay} bytes) exceeds four times"
                f" WS_MAX_PENDING_BYTES ({limit}): a client asking for one would be dropped",
                id="gavel.E004",
            )
        ]
    if limit < replay:
        return [
            Warning(
                f"a full sync replay (≈ {replay} bytes) exceeds WS_MAX_PENDING_BYTES ({limit}): broadcasts would"
                " skip a client while it reads one",
                id="gavel.W001",
            )
        ]
    return []


@register(TAG)
def presence_survives_one_late_publish(app_configs=None, **kwargs) -> list:
    if settings.PRESENCE_STALE_SECONDS < 2 * settings.PRESENCE_INTERVAL_SECONDS:
        return [
            Error(
                f"PRESENCE_STALE_SECONDS ({settings.PRESENCE_STALE_SECONDS}) must be at least twice"
                f" PRESENCE_INTERVAL_SECONDS ({settings.PRESENCE_INTERVAL_SECONDS}): one late publish would drop a"
                " live process's watchers from the counts",
                id="gavel.E005",
            )
        ]
    return []


@register(TAG)
def client_limits_admit_someone(app_configs=None, **kwargs) -> list:
    problems = []
    for name in ("WS_RATE_PER_SECOND", "WS_RATE_BURST", "WS_USER_RATE_PER_SECOND", "WS_USER_RATE_BURST"):
        if getattr(settings, name) <= 0:
            problems.append(Error(f"{name} must be positive: no message would ever be admitted", id="gavel.E006"))
    for name in ("WS_MAX_SOCKETS_PER_IP", "WS_MAX_SOCKETS_PER_USER"):
        if getattr(settings, name) < 1:
            problems.append(Error(f"{name} must be at least 1: no socket would ever open", id="gavel.E006"))
    return problems


@register(TAG)
def bid_group_is_at_least_one(app_configs=None, **kwargs) -> list:
    if settings.BID_GROUP_MAX < 1 or settings.BID_DECISION_THREADS < 1:
        return [
            Error("BID_GROUP_MAX and BID_DECISION_THREADS must be at least 1: no bid would be decided", id="gavel.E007")
        ]
    return []


@register(TAG)
def currency_has_cents(app_configs=None, **kwargs) -> list:
    problem = currency_problem(settings.CURRENCY)
    if problem:
        return [
            Error(
                f"CURRENCY: {problem}",
                hint="set CURRENCY to a two-decimal ISO 4217 code, e.g. CURRENCY=EUR (the README, 'Environment"
                " variables')",
                id="gavel.E008",
            )
        ]
    return []
