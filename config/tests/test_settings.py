"""The settings package: which variables are read, the error for removed ones, and what each module requires."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.settings.environment import REMOVED, VARIABLES, refuse_removed
from conftest import ROOT, service_env

README = (ROOT / "README.md").read_text()

pytestmark = pytest.mark.pure


def _start(module: str, probe: str = "", *, env: dict[str, str] | None = None, **variables: str):
    """Load the settings and the apps in a fresh interpreter, as any process of ours does first, then run `probe`.
    The environment is this one's less every variable Gavel reads or refuses, plus `variables`."""
    clean = {k: v for k, v in os.environ.items() if k not in {*VARIABLES, *REMOVED}}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {probe}"],
        cwd=ROOT,
        env=env or {**clean, "DJANGO_SETTINGS_MODULE": module, **variables},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_removed_variable_is_named_with_what_replaced_it():
    refuse_removed({"DATABASE_URL": "x", "WS_RATE_PER_SECOND": "5"})  # variables still read: fine
    with pytest.raises(ImproperlyConfigured) as refused:
        refuse_removed({"BID_LOCK_WAIT_SECONDS": "3", "WS_USER_RATE_BURST": "40", "DEBUG": "true"})
    message = str(refused.value)
    assert "BID_LOCK_WAIT_SECONDS is now a constant in config/settings/conf.py" in message
    assert "WS_USER_RATE_BURST is now derived from WS_RATE_PER_SECOND" in message
    assert "DEBUG is" not in message


def test_a_process_does_not_start_with_a_removed_variable_set():
    started = _start("config.settings.local", CHANNEL_LAYER_SOCKET_TIMEOUT="20")
    assert started.returncode != 0
    assert "CHANNEL_LAYER_SOCKET_TIMEOUT is now a constant" in started.stderr


def test_an_empty_removed_variable_still_counts_as_set():
    with pytest.raises(ImproperlyConfigured):
        refuse_removed({"GC_THRESHOLDS": ""})


def test_production_requires_the_secret_key_and_the_database():
    assert "Set the SECRET_KEY environment variable" in _start("config.settings.production").stderr
    no_db = _start("config.settings.production", SECRET_KEY="s")
    assert "Set the DATABASE_URL environment variable" in no_db.stderr
    assert _start("config.settings.production", SECRET_KEY="s", DATABASE_URL="sqlite:///:memory:").returncode == 0


def test_a_sentinel_redis_url_builds_the_channel_layer_and_a_broken_one_stops_start_up():
    probe = "from django.conf import settings; print(settings.CHANNEL_LAYERS['default']['CONFIG']['hosts'])"
    sentinel = "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379/gavel/1"
    hosts = _start("config.settings.local", probe, REDIS_URL=sentinel).stdout
    assert "'master_name': 'gavel'" in hosts and "('10.0.0.3', 26379)" in hosts and "'db': 1" in hosts
    broken = _start("config.settings.local", REDIS_URL="redis+sentinel://10.0.0.1:26379")
    assert broken.returncode != 0
    assert "redis+sentinel://host:port[,host:port…]/master_name[/db]" in broken.stderr


def test_debug_is_off_unless_asked_even_on_a_laptop():
    probe = "from django.conf import settings; print(settings.DEBUG)"
    assert _start("config.settings.local", probe).stdout.split() == ["False"]
    assert _start("config.settings.local", probe, DEBUG="true").stdout.split() == ["True"]
    assert settings.DEBUG is False


def test_the_package_itself_is_not_a_settings_module():
    started = _start("config.settings")
    assert "config.settings.production" in started.stderr and started.returncode != 0


def test_every_variable_is_either_read_or_removed_never_both():
    assert not set(VARIABLES) & set(REMOVED)
    assert len(VARIABLES) <= 20


def test_the_readme_documents_every_variable_read_and_every_one_removed():
    for name in (*VARIABLES, *REMOVED):
        assert f"`{name}`" in README, name


def test_the_rate_knob_sets_both_budgets():
    assert settings.WS_RATE_BURST == round(2 * settings.WS_RATE_PER_SECOND)
    assert settings.WS_USER_RATE_PER_SECOND == 2 * settings.WS_RATE_PER_SECOND
    assert settings.WS_USER_RATE_BURST == round(4 * settings.WS_RATE_PER_SECOND)


def test_a_test_server_gets_constants_through_a_settings_module_and_variables_through_the_environment():
    env = service_env(WS_STALL_SECONDS="0.5", PRESENCE_STALE_SECONDS="2", WS_MAX_SOCKETS_PER_IP="7")
    assert env["WS_MAX_SOCKETS_PER_IP"] == "7" and "WS_STALL_SECONDS" not in env
    probe = "from django.conf import settings as s; print(s.WS_STALL_SECONDS, s.PRESENCE_STALE_SECONDS, s.DEBUG)"
    started = _start("", probe, env=env)
    assert started.stdout.split() == ["0.5", "2.0", "False"], started.stderr[-2000:]


def test_server_side_cursors_are_on_unless_turned_off_for_pgbouncer():
    probe = "from django.db import connection; print(connection.settings_dict['DISABLE_SERVER_SIDE_CURSORS'])"
    url = "postgres://u@db.invalid:6432/gavel"
    assert _start("config.settings.local", probe, DATABASE_URL=url).stdout.split() == ["False"]
    off = _start("config.settings.local", probe, DATABASE_URL=url, DISABLE_SERVER_SIDE_CURSORS="true")
    assert off.stdout.split() == ["True"], off.stderr
