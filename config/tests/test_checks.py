"""The system checks that hold settings to their rules (config/checks.py): pure, no database."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
from django.conf import settings
from django.core import checks
from django.test import override_settings

from config import checks as gavel_checks
from conftest import ROOT, service_env

REDIS_LAYER = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": "redis://127.0.0.1:6379/0", "socket_timeout": 15.0}], "group_expiry": 86400},
    }
}

pytestmark = pytest.mark.pure


def _layer(*, socket_timeout=15.0, group_expiry=86400) -> dict:
    layer = copy.deepcopy(REDIS_LAYER)
    layer["default"]["CONFIG"]["hosts"][0]["socket_timeout"] = socket_timeout
    layer["default"]["CONFIG"]["group_expiry"] = group_expiry
    return layer


def _ids(check) -> list[str]:
    return [message.id for message in check()]


def test_the_shipped_settings_break_no_rule():
    assert checks.run_checks(tags=[gavel_checks.TAG]) == []


def test_the_checks_run_with_manage_py_check():
    assert gavel_checks.channel_layer_outlives_its_blocking_read in checks.registry.registry.get_checks()


def test_the_channel_layer_read_must_outlast_channels_redis_blocking_read():
    with override_settings(CHANNEL_LAYERS=_layer(socket_timeout=5.0)):
        assert _ids(gavel_checks.channel_layer_outlives_its_blocking_read) == ["gavel.E001"]
    with override_settings(CHANNEL_LAYERS=_layer(socket_timeout=5.5)):
        assert _ids(gavel_checks.channel_layer_outlives_its_blocking_read) == []


def test_group_membership_must_outlive_the_longest_socket():
    with override_settings(CHANNEL_LAYERS=_layer(group_expiry=3600), WS_MAX_LIFETIME_SECONDS=86400):
        assert _ids(gavel_checks.group_membership_outlives_sockets) == ["gavel.E002"]
    with override_settings(CHANNEL_LAYERS=_layer(group_expiry=3600), WS_MAX_LIFETIME_SECONDS=3600):
        assert _ids(gavel_checks.group_membership_outlives_sockets) == []


def test_layer_rules_do_not_apply_to_the_in_memory_layer():
    in_memory = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    with override_settings(CHANNEL_LAYERS=in_memory, WS_MAX_LIFETIME_SECONDS=10**9):
        assert _ids(gavel_checks.channel_layer_outlives_its_blocking_read) == []
        assert _ids(gavel_checks.group_membership_outlives_sockets) == []


@pytest.mark.parametrize(
    ("timeout", "wait", "ids"), [(5.0, 2.0, []), (2.0, 2.0, ["gavel.E003"]), (1, 2, ["gavel.E003"])]
)
def test_the_bid_lock_must_outlive_its_wait(timeout, wait, ids):
    with override_settings(BID_LOCK_TIMEOUT_SECONDS=timeout, BID_LOCK_WAIT_SECONDS=wait):
        assert _ids(gavel_checks.bid_lock_outlives_its_wait) == ids


@pytest.mark.parametrize(("pending", "ids"), [(1_048_576, []), (100_000, ["gavel.W001"]), (39_999, ["gavel.E004"])])
def test_the_backlog_limit_holds_a_full_sync_replay(pending, ids):
    # A full replay here: 500 events of 320 bytes = 160,000 bytes.
    with override_settings(WS_MAX_PENDING_BYTES=pending, SYNC_MAX_EVENTS=500, SYNC_EVENT_BYTES=320):
        assert _ids(gavel_checks.backlog_limit_holds_a_full_replay) == ids


def test_a_warning_alone_does_not_stop_a_worker():
    with override_settings(WS_MAX_PENDING_BYTES=100_000, SYNC_MAX_EVENTS=500, SYNC_EVENT_BYTES=320):
        (message,) = gavel_checks.backlog_limit_holds_a_full_replay()
    assert not message.is_serious()


@pytest.mark.parametrize(("stale", "interval", "ids"), [(5.0, 1.0, []), (2.0, 1.0, []), (1.5, 1.0, ["gavel.E005"])])
def test_presence_survives_one_late_publish(stale, interval, ids):
    with override_settings(PRESENCE_STALE_SECONDS=stale, PRESENCE_INTERVAL_SECONDS=interval):
        assert _ids(gavel_checks.presence_survives_one_late_publish) == ids


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WS_RATE_PER_SECOND", 0),
        ("WS_RATE_BURST", 0),
        ("WS_USER_RATE_PER_SECOND", -1),
        ("WS_USER_RATE_BURST", 0),
        ("WS_MAX_SOCKETS_PER_IP", 0),
        ("WS_MAX_SOCKETS_PER_USER", 0),
    ],
)
def test_client_limits_must_admit_someone(name, value):
    with override_settings(**{name: value}):
        assert _ids(gavel_checks.client_limits_admit_someone) == ["gavel.E006"]


@pytest.mark.parametrize("name", ["BID_GROUP_MAX", "BID_DECISION_THREADS"])
def test_bids_must_be_decided_somewhere(name):
    with override_settings(**{name: 0}):
        assert _ids(gavel_checks.bid_group_is_at_least_one) == ["gavel.E007"]


def test_the_shipped_layer_options_are_the_ones_checked():
    from config.settings import conf

    assert conf.CHANNEL_LAYER_HOST_OPTIONS["socket_timeout"] > gavel_checks.CHANNELS_REDIS_BLOCKING_READ_SECONDS
    assert conf.CHANNEL_LAYER_OPTIONS["group_expiry"] >= settings.WS_MAX_LIFETIME_SECONDS


def test_the_blocking_read_is_channels_redis_own():
    from channels_redis.core import RedisChannelLayer

    assert RedisChannelLayer.brpop_timeout == gavel_checks.CHANNELS_REDIS_BLOCKING_READ_SECONDS


def test_a_worker_refuses_to_start_on_settings_that_break_a_rule():
    started = subprocess.run(
        [sys.executable, "-m", "config.serve", "-b", "127.0.0.1", "-p", "0", "config.asgi:application"],
        cwd=ROOT,
        env=service_env(BID_LOCK_TIMEOUT_SECONDS="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert "gavel.E003" in started.stdout + started.stderr


@pytest.mark.parametrize(
    ("currency", "ids"), [("EUR", []), ("USD", []), ("JPY", ["gavel.E008"]), ("XYZ", ["gavel.E008"])]
)
def test_the_currency_must_have_cents(currency, ids):
    with override_settings(CURRENCY=currency):
        assert _ids(gavel_checks.currency_has_cents) == ids


@pytest.mark.parametrize(
    "command",
    [
        ["manage.py", "check"],
        ["-m", "config.serve", "-b", "127.0.0.1", "-p", "0", "config.asgi:application"],
    ],
    ids=["manage.py check", "worker"],
)
def test_nothing_starts_with_a_currency_without_cents(command):
    started = subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env=service_env(CURRENCY="KWD"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    output = started.stdout + started.stderr
    assert "gavel.E008" in output and "KWD has 3 decimal places" in output
