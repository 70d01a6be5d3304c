"""Safe defaults: production settings pass `manage.py check --deploy` but for what docs/operations.md justifies,
mark cookies Secure and send HSTS behind TLS, and every settings module serves /static/ the same way."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import urllib.request

import pytest

from config.settings.environment import REMOVED, VARIABLES
from conftest import ROOT, database_url

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "auctions.example.com",
}


def _production(*args: str, **variables: str) -> subprocess.CompletedProcess:
    """`args` run by a fresh interpreter in production's environment: none of this one's Gavel variables."""
    clean = {k: v for k, v in os.environ.items() if k not in {*VARIABLES, *REMOVED}}
    environment = {**clean, **PRODUCTION, "DATABASE_URL": database_url(), **variables}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True)


def _justified_in_the_docs() -> dict[str, str]:
    """docs/operations.md's table of silenced deploy checks: id → why."""
    text = (ROOT / "docs" / "operations.md").read_text()
    return dict(re.findall(r"^\| `(security\.[WE]\d+)` \| [^|]*\| ([^|]*\S[^|]*) \|$", text, re.M))


def test_check_deploy_reports_nothing_the_docs_do_not_justify():
    check = _production("manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "System check identified no issues" in check.stdout, check.stdout + check.stderr

    probe = "import django; django.setup(); from django.conf import settings; print(*settings.SILENCED_SYSTEM_CHECKS)"
    silenced = set(_production("-c", probe).stdout.split())
    assert silenced == set(_justified_in_the_docs()), "each silenced check needs its row in docs/operations.md"


def test_a_plain_http_stack_keeps_cookies_it_can_send_back():
    probe = (
        "import django; django.setup(); from django.conf import settings as s;"
        " print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
    )
    assert _production("-c", probe).stdout.split() == ["True", "True", "31536000"]
    assert _production("-c", probe, HTTPS="false").stdout.split() == ["False", "False", "0"]


def _get(url: str, **headers: str):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
        return response.status, response.headers, response.read()


@pytest.mark.django_db(transaction=True)
def test_a_production_worker_serves_static_files_and_secure_cookies_behind_tls(start_daphne):
    server = start_daphne(**{**PRODUCTION, "ALLOWED_HOSTS": "127.0.0.1"}, TRUSTED_PROXIES="127.0.0.1")

    status, headers, body = _get(f"{server.http}/static/js/lot.js")
    assert status == 200 and body == (ROOT / "static" / "js" / "lot.js").read_bytes()

    _, headers, _ = _get(f"{server.http}/accounts/login/", **{"X-Forwarded-Proto": "https"})
    cookies = headers.get_all("Set-Cookie")
    assert cookies and all("; Secure" in cookie for cookie in cookies), cookies
    assert headers["Strict-Transport-Security"] == "max-age=31536000"
