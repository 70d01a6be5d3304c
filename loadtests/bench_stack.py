"""The benchmark's stack: its own database and Redis database, the fixture, and the Daphne workers it starts on
127.0.0.1 (and stops), with their memory and CPU read from /proc.

Importing this module points the environment at that stack (SERVER_ENV): every process the benchmark starts, and
its own Django, use it. BENCH_DB_NAME, BENCH_PG and BENCH_REDIS_URL choose the database name, the PostgreSQL server
and the Redis database (defaults: gavel_bench on 127.0.0.1:5432, Redis db 2); the database is dropped and the Redis
database flushed at the start of every run.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = os.environ.get("BENCH_DB_NAME", "gavel_bench")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
LOG_DIR = ROOT / "loadtests" / "results"
SERVER_ENV = {
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "REDIS_URL": REDIS_URL,
    # Production's settings, with the soft close off (loadtests/bench_settings.py).
    "DJANGO_SETTINGS_MODULE": "loadtests.bench_settings",
    "SECRET_KEY": "benchmark-only-secret",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "LOG_LEVEL": "WARNING",
    "HTTPS": "false",  # plain http on one machine: cookies without the Secure flag
    "WS_RATE_PER_SECOND": "100000",  # and with it each connection's burst and each user's budget
    # Every benchmark client connects from 127.0.0.1, many as one user: the caps are for the open internet.
    "WS_MAX_SOCKETS_PER_IP": "1000000",
    "WS_MAX_SOCKETS_PER_USER": "1000000",
    "PYTHONUNBUFFERED": "1",
}
os.environ.update(SERVER_ENV)


def raise_open_file_limit() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def prepare_database() -> None:
    import psycopg

    # A fresh database every run: the same starting point each time, and the clock bidders' amounts (one cent per
    # nanosecond) start low: on lots kept from run to run they would pass MAX_BID_CENTS and every bid would be
    # refused `invalid` (docs/performance.md).
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True, env=os.environ)
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def django_setup() -> None:
    import django

    django.setup()


def seed(lots: int, bidders: int, prefix: str) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "seed_loadtest",
            "--lots",
            str(lots),
            "--bidders",
            str(bidders),
            "--minutes",
            "120",
            "--prefix",
            prefix,
            "--json",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env=os.environ,
    ).stdout
    return json.loads(out)


def session_cookies(usernames: list[str]) -> dict[str, str]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    cookies = {}
    for user in get_user_model().objects.filter(username__in=usernames):
        client = Client()
        client.force_login(user)
        cookies[user.username] = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return cookies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def daphne_workers(app: str, count: int):
    """Start `count` Daphne processes for `app`; yield their (port, pid) pairs."""
    procs = []
    try:
        for _ in range(count):
            port = free_port()
            LOG_DIR.mkdir(parents=True, exist_ok=True)
            with (LOG_DIR / f"daphne-{app.split('.')[0]}-{len(procs)}.log").open("wb") as log:
                # The app runs as in production (config.serve: Daphne plus its fan-out shortcut and limits); the
                # baseline on plain Daphne, the bare stack it stands for.
                runner = "config.serve" if app.startswith("config.") else "daphne"
                proc = subprocess.Popen(
                    [sys.executable, "-m", runner, "-b", "127.0.0.1", "-p", str(port), app],
                    cwd=ROOT,
                    env=os.environ,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            procs.append((port, proc))
        for port, proc in procs:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"daphne for {app} did not start") from None
                    time.sleep(0.1)
        yield [(port, proc.pid) for port, proc in procs]
    finally:
        for _, proc in procs:
            proc.terminate()
        for _, proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
